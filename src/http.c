/* Requests arrive on one libevent loop; scripts run on the admission workers. Every reply goes
 * through pause -> send -> resume (a synchronous reply stalls pipelined requests in evhtp
 * 1.2.18), and every call on a request happens on this thread. */
#include "http.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "clock.h"
#include "config.h"
#include "http_internal.h"
#include "log.h"
#include "response.h"
#include "supervisor.h"

#define BACKLOG 1024
#define DRAIN_TICK_MS 50
#define DRAIN_CLOSE_MS 1000 /* after the drain time, how long replies may take to go out */

static bool draining; /* replies close their connection */

static void add_header(evhtp_request_t *req, const char *k, const char *v)
{
    evhtp_headers_add_header(req->headers_out, evhtp_header_new(k, v, 0, 0));
}

void http_send_json(evhtp_request_t *req, int status, struct evbuffer *body)
{
    char length[24];
    if (draining)
        evhtp_request_set_keepalive(req, 0);
    add_header(req, "Content-Type", "application/json");
    add_header(req, "Cache-Control", "no-store");
    if (evhtp_request_get_method(req) == htp_method_HEAD) {
        /* RFC 9110 9.3.2: the header of the answer to GET, without its body (evhtp would send
         * the body, and a keep-alive client would read it as the next answer) */
        snprintf(length, sizeof(length), "%zu", evbuffer_get_length(body));
        evhtp_headers_add_header(req->headers_out,
                                 evhtp_header_new("Content-Length", length, 0, 1));
    } else {
        evbuffer_add_buffer(req->buffer_out, body);
    }
    evhtp_send_reply(req, (evhtp_res)status);
}

static void send_error(evhtp_request_t *req, enum err_type t, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    if (b == NULL || response_error(t, msg, b) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        evhtp_request_set_keepalive(req, 0);
        evhtp_send_reply(req, 500);
        return;
    }
    if (t == ERR_BUSY)
        add_header(req, "Retry-After", "1");
    http_send_json(req, err_status(t), b);
    evbuffer_free(b);
}

void http_answer(evhtp_request_t *req, enum err_type t, const char *msg)
{
    evhtp_request_pause(req);
    send_error(req, t, msg);
    evhtp_request_resume(req);
}

/* evhtp matches callbacks by prefix and lets any method through: route by exact path here. */
static void route(evhtp_request_t *req, void *arg)
{
    struct server *srv = arg;
    http_conn_request_read(http_conn_of(req->conn));
    const char *path = req->uri && req->uri->path ? req->uri->path->full : "";
    htp_method m = evhtp_request_get_method(req);
    if (strcmp(path, "/execute") == 0) {
        if (m == htp_method_POST)
            return execute_handle(srv, req);
        add_header(req, "Allow", "POST");
        return http_answer(req, ERR_METHOD, "use POST for /execute");
    }
    if (strcmp(path, "/health") == 0) {
        if (m == htp_method_GET)
            return health_handle(srv, req);
        add_header(req, "Allow", "GET");
        return http_answer(req, ERR_METHOD, "use GET for /health");
    }
    http_answer(req, ERR_NOT_FOUND, "no such endpoint: use POST /execute or GET /health");
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    /* Done when every reply has gone out and its connection closed. */
    http_close_idle_connections();
    if (srv->inflight == 0 &&
        (http_open_connections() == 0 || now_ms() >= srv->drain_deadline + DRAIN_CLOSE_MS)) {
        event_base_loopexit(srv->base, NULL);
        return;
    }
    if (now_ms() >= srv->drain_deadline && !atomic_load(&supervisor_abort)) {
        log_warn("drain time is up: stopping %ld running request(s)", srv->inflight);
        atomic_store(&supervisor_abort, true);
    }
}

/* SIGTERM (Cloud Run's stop): no new connections, 503 for new requests, running ones get up
 * to drain_ms, then they are stopped. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    struct timeval tick = {0, DRAIN_TICK_MS * 1000};
    (void)what;
    if (srv->draining)
        return;
    log_info("signal %d: draining %ld request(s), up to %lld ms", (int)sig, srv->inflight,
             (long long)srv->cfg->drain_ms);
    srv->draining = true;
    draining = true;
    srv->drain_deadline = now_ms() + srv->cfg->drain_ms;
    admission_drain();
    http_listen_free(srv);
    evhtp_unbind_socket(srv->htp);
    if (srv->drain_tick == NULL)
        srv->drain_tick = event_new(srv->base, -1, EV_PERSIST, drain_tick, srv);
    if (srv->drain_tick == NULL || event_add(srv->drain_tick, &tick) != 0)
        event_base_loopexit(srv->base, NULL);
}

int http_build(struct server *srv)
{
    const struct config *cfg = srv->cfg;
    /* evhtp's only timeout left: a reply the client does not read (reads have our deadlines) */
    struct timeval write_timeout = {cfg->idle_ms / 1000, (cfg->idle_ms % 1000) * 1000};
    if (evthread_use_pthreads() != 0 || (srv->base = event_base_new()) == NULL ||
        (srv->htp = evhtp_new(srv->base, srv)) == NULL) {
        log_error("could not create the event loop");
        return -1;
    }
    srv->body_limit = config_body_limit(cfg);
    /* Our hooks answer 413 for bodies over the limit; evhtp's own cap is the backstop. */
    evhtp_set_max_body_size(srv->htp, srv->body_limit * 2 + 1);
    evhtp_set_timeouts(srv->htp, NULL, &write_timeout);
    evhtp_set_post_accept_cb(srv->htp, http_conn_accept, srv);
    evhtp_set_reject_cb(srv->htp, http_reject, srv);
    evhtp_set_gencb(srv->htp, route, srv);
    if (evhtp_bind_socket(srv->htp, cfg->bind, (uint16_t)cfg->port, BACKLOG) != 0) {
        log_error("could not listen on %s:%lld: %s", cfg->bind, (long long)cfg->port,
                  strerror(errno));
        return -1;
    }
    if (http_listen_init(srv) != 0) {
        log_error("could not set up the listener's events");
        return -1;
    }
    return 0;
}

static int setup(struct server *srv)
{
    if (http_build(srv) != 0)
        return -1;
    srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    if (srv->sigterm == NULL || srv->sigint == NULL || event_add(srv->sigterm, NULL) != 0 ||
        event_add(srv->sigint, NULL) != 0) {
        log_error("could not install signal handlers");
        return -1;
    }
    return 0;
}

static void teardown(struct server *srv)
{
    http_listen_free(srv);
    if (srv->drain_tick)
        event_free(srv->drain_tick);
    if (srv->sigterm)
        event_free(srv->sigterm);
    if (srv->sigint)
        event_free(srv->sigint);
    if (srv->htp)
        evhtp_free(srv->htp);
    if (srv->base)
        event_base_free(srv->base);
    libevent_global_shutdown();
}

int http_serve(const struct config *cfg, const struct jail_probe *probe)
{
    struct server srv = {.cfg = cfg, .probe = probe};
    int rc = -1;
    if (setup(&srv) == 0 && admission_init(cfg) == 0) {
        log_info("listening on %s:%lld", cfg->bind, (long long)cfg->port);
        rc = event_base_dispatch(srv.base) < 0 ? -1 : 0;
        admission_shutdown();
        log_info("stopped");
    }
    teardown(&srv);
    return rc;
}
