/* Every client connection and its deadline. evhtp has only idle timeouts, which a client that
 * sends a byte now and then never trips; here each phase has its own clock, started again for
 * every request on a keep-alive connection:
 *   idle     no request in progress: closed after --idle-ms, without an answer (RFC 9112 9.8);
 *   headers  from a request's first byte: its head within --header-ms, else 408;
 *   body     the whole request within --request-ms of its first byte, else 408;
 *   busy     read whole: the sandbox's wall time bounds it, evhtp's write timeout the reply. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "clock.h"
#include "config.h"
#include "http_internal.h"

static TAILQ_HEAD(, conn_state) conns = TAILQ_HEAD_INITIALIZER(conns);
static int nconns;

void http_conn_arm(struct conn_state *cs, long long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (ms < 0)
        tv = (struct timeval){0, 0};
    if (evtimer_add(cs->timer, &tv) != 0)
        shutdown(bufferevent_getfd(cs->bev), SHUT_RDWR); /* no deadline, no service */
}

void http_conn_begin(struct conn_state *cs)
{
    const struct config *cfg = cs->srv->cfg;
    if (cs->phase != PHASE_IDLE)
        return;
    cs->phase = PHASE_HEADERS;
    cs->started_ms = now_ms();
    http_conn_arm(cs, cfg->header_ms < cfg->request_ms ? cfg->header_ms : cfg->request_ms);
}

void http_conn_headers_read(struct conn_state *cs)
{
    cs->phase = PHASE_BODY;
    http_conn_arm(cs, cs->started_ms + cs->srv->cfg->request_ms - now_ms());
}

void http_conn_request_read(struct conn_state *cs)
{
    cs->phase = PHASE_BUSY;
    evtimer_del(cs->timer);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn_state *cs = arg;
    (void)fd;
    (void)what;
    switch (cs->phase) {
    case PHASE_IDLE:
        /* evhtp sees the end of the stream and frees the connection */
        shutdown(bufferevent_getfd(cs->bev), SHUT_RDWR);
        break;
    case PHASE_HEADERS:
    case PHASE_BODY:
        if (cs->conn->flags & EVHTP_CONN_FLAG_PAUSED)
            break; /* being answered: not ours to cut */
        cs->why = cs->phase == PHASE_HEADERS ? "the request's headers did not arrive in time"
                                             : "the request did not arrive in time";
        evhtp_connection_reject(cs->conn, EVHTP_RES_TIMEOUT);
        break;
    case PHASE_BUSY:
        break;
    case PHASE_LINGER:
        http_linger_expired(cs);
        break;
    }
}

/* New bytes on an idle connection start a request (evhtp's hooks come only after the request
 * line, which a slow client can drip for as long as it likes). */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    if (info->n_added > 0)
        http_conn_begin(arg);
}

/* A reply went out and evhtp keeps the connection for the next request. */
static evhtp_res on_request_fini(evhtp_request_t *req, void *arg)
{
    struct conn_state *cs = arg;
    (void)req;
    cs->phase = PHASE_IDLE;
    http_conn_arm(cs, cs->srv->cfg->idle_ms);
    return EVHTP_RES_OK;
}

static evhtp_res on_fini(evhtp_connection_t *conn, void *arg)
{
    struct conn_state *cs = arg;
    /* evhtp frees the connection's request after this hook: it must not find us */
    evhtp_connection_unset_hook(conn, evhtp_hook_on_request_fini);
    http_conn_free(cs);
    return EVHTP_RES_OK;
}

void http_conn_free(struct conn_state *cs)
{
    if (cs->input_cb != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_input(cs->bev), cs->input_cb);
    TAILQ_REMOVE(&conns, cs, link);
    nconns--;
    event_free(cs->timer);
    http_listen_closed(cs->srv, nconns);
    free(cs);
}

evhtp_res http_conn_accept(evhtp_connection_t *conn, void *arg)
{
    struct conn_state *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return EVHTP_RES_ERROR;
    cs->srv = arg;
    cs->conn = conn;
    cs->bev = conn->bev;
    cs->timer = evtimer_new(conn->evbase, on_timer, cs);
    if (cs->timer != NULL && cs->bev != NULL)
        cs->input_cb = evbuffer_add_cb(bufferevent_get_input(cs->bev), on_input, cs);
    if (cs->input_cb == NULL) {
        if (cs->timer != NULL)
            event_free(cs->timer);
        free(cs);
        return EVHTP_RES_ERROR;
    }
    TAILQ_INSERT_TAIL(&conns, cs, link);
    nconns++;
    http_limits_hook(conn, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_request_fini, (evhtp_hook)on_request_fini, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_connection_fini, (evhtp_hook)on_fini, cs);
    http_conn_arm(cs, cs->srv->cfg->idle_ms);
    http_listen_opened(cs->srv, nconns);
    return EVHTP_RES_OK;
}

/* The state http_conn_accept hung on the connection (the argument of its hooks). */
struct conn_state *http_conn_of(evhtp_connection_t *conn)
{
    return conn->hooks ? conn->hooks->on_connection_fini_arg : NULL;
}

int http_open_connections(void)
{
    return nconns;
}

/* A drain closes the connections that wait for a request; the others close after their reply
 * (replies turn keep-alive off while draining), refused ones when their lingering ends. */
void http_close_idle_connections(void)
{
    struct conn_state *cs;
    TAILQ_FOREACH(cs, &conns, link)
    {
        if (cs->phase == PHASE_IDLE)
            shutdown(bufferevent_getfd(cs->bev), SHUT_RDWR);
    }
}
