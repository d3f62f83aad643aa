/* The listener. Each connection costs a descriptor, and so does each sandbox: past
 * --max-connections (by default what the open-file limit leaves once the sandboxes have theirs)
 * the listener is paused, and new clients wait in the kernel's backlog until a connection
 * closes. A failing accept() (out of descriptors all the same, or of memory) pauses it briefly:
 * libevent alone retries at once, spinning a core and logging every failure. Both are logged at
 * most once per interval, with a count. */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "http_internal.h"
#include "log.h"

#define FD_RESERVE 64       /* the daemon's own: listener, event loop, zygote, cgroups, log */
#define FD_PER_SANDBOX 16   /* a running and a ready sandbox: pipes, control socket */
#define ACCEPT_RETRY_MS 100 /* pause after a failed accept() */
#define LOG_INTERVAL_MS 10000

static void update(struct server *srv)
{
    if (!srv->listening)
        return;
    if (srv->full || srv->accept_failed)
        evconnlistener_disable(srv->htp->server);
    else
        evconnlistener_enable(srv->htp->server);
}

void http_listen_opened(struct server *srv, int open)
{
    unsigned long n;
    if (open < srv->max_connections || srv->full)
        return;
    srv->full = true;
    update(srv);
    if (ratelog_due(&srv->full_log, LOG_INTERVAL_MS, &n))
        log_warn("%d connections open, the limit (--max-connections): not accepting until one "
                 "closes (%lu time(s) in the last %d s)",
                 open, n, LOG_INTERVAL_MS / 1000);
}

void http_listen_closed(struct server *srv, int open)
{
    if (!srv->full || open >= srv->max_connections)
        return;
    srv->full = false;
    update(srv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    srv->accept_failed = false;
    update(srv);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct server *srv = ((evhtp_t *)arg)->arg; /* the listener's argument is evhtp's */
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
    unsigned long n;
    (void)l;
    srv->accept_failed = true;
    update(srv);
    if (event_add(srv->accept_retry, &tv) != 0)
        on_retry(-1, 0, srv); /* no pause possible: back to libevent's own retrying */
    if (ratelog_due(&srv->accept_log, LOG_INTERVAL_MS, &n))
        log_warn("accept() failed: %s (%lu time(s) in the last %d s); pausing %d ms each time",
                 strerror(err), n, LOG_INTERVAL_MS / 1000, ACCEPT_RETRY_MS);
}

/* The cap: the setting, but never more than the open-file limit leaves. */
static long cap(const struct config *cfg)
{
    struct rlimit rl;
    long room = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        room = (long)rl.rlim_cur - FD_RESERVE - FD_PER_SANDBOX * (long)cfg->max_sandboxes;
    if (room < 1)
        room = 1;
    if (cfg->max_connections == 0)
        return room;
    if (cfg->max_connections > room)
        log_warn("--max-connections %lld leaves too few open files for the sandboxes: using %ld",
                 (long long)cfg->max_connections, room);
    return cfg->max_connections < room ? (long)cfg->max_connections : room;
}

int http_listen_init(struct server *srv)
{
    srv->max_connections = cap(srv->cfg);
    srv->accept_retry = evtimer_new(srv->base, on_retry, srv);
    if (srv->accept_retry == NULL)
        return -1;
    srv->listening = true;
    evconnlistener_set_error_cb(srv->htp->server, on_accept_error);
    log_info("connections: at most %ld open at once", srv->max_connections);
    return 0;
}

/* Before evhtp_unbind_socket(), which frees the listener. */
void http_listen_free(struct server *srv)
{
    srv->listening = false;
    if (srv->accept_retry != NULL)
        event_free(srv->accept_retry);
    srv->accept_retry = NULL;
}
