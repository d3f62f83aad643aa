/* Limits evhtp does not enforce by itself: a cap on the number of headers, a real 413 for bodies
 * over the limit (evhtp alone just closes), and a deadline for the whole request (evhtp has
 * only idle timeouts, which a client sending a byte now and then never trips). */
#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "http_internal.h"

#define MAX_HEADERS 64

/* Every open connection, so a drain can close the idle ones and wait for the rest. */
static TAILQ_HEAD(, conn_state) conns = TAILQ_HEAD_INITIALIZER(conns);
static int nconns;

struct conn_state {
    TAILQ_ENTRY(conn_state) link;
    struct server *srv;
    evhtp_connection_t *conn;
    struct event *deadline;
    struct evbuffer_cb_entry *input_cb;
    int headers;
    size_t body;
};

#define TIMEOUT_BODY                                                                               \
    "{\"error\":{\"type\":\"RequestTimeout\",\"message\":\"the request was not received within "   \
    "the request deadline\"}}"
#define TIMEOUT_BODY_LEN "104"
_Static_assert(sizeof(TIMEOUT_BODY) - 1 == 104, "TIMEOUT_BODY_LEN must match TIMEOUT_BODY");
static const char timeout_reply[] =
    "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\n"
    "Content-Length: " TIMEOUT_BODY_LEN "\r\n\r\n" TIMEOUT_BODY;

/* The request is still being read when its deadline passes: answer 408 on the socket and shut
 * it down; evhtp sees the end of the stream and frees the connection itself. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct conn_state *cs = arg;
    evhtp_connection_t *c = cs->conn;
    (void)fd;
    (void)what;
    if (c->request == NULL || http_finished(c->request) || (c->flags & EVHTP_CONN_FLAG_PAUSED))
        return; /* answered or being answered: not ours to cut */
    if (send(c->sock, timeout_reply, sizeof(timeout_reply) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ||
        shutdown(c->sock, SHUT_RDWR) != 0)
        shutdown(c->sock, SHUT_RDWR);
}

/* The first bytes of a request start its deadline (evhtp's hooks come only after the request
 * line, which a slow client can drip for as long as it likes). */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn_state *cs = arg;
    const struct config *cfg = cs->srv->cfg;
    struct timeval tv = {cfg->request_ms / 1000, (cfg->request_ms % 1000) * 1000};
    (void)buf;
    if (info->n_added > 0 && !evtimer_pending(cs->deadline, NULL) && evtimer_add(cs->deadline, &tv))
        shutdown(cs->conn->sock, SHUT_RDWR); /* no deadline, no service */
}

static evhtp_res on_headers_start(evhtp_request_t *req, void *arg)
{
    struct conn_state *cs = arg;
    (void)req;
    cs->headers = 0;
    cs->body = 0;
    return EVHTP_RES_OK;
}

static evhtp_res on_header(evhtp_request_t *req, evhtp_header_t *hdr, void *arg)
{
    struct conn_state *cs = arg;
    (void)req;
    (void)hdr;
    /* Closing is all evhtp allows mid-headers. */
    return ++cs->headers > MAX_HEADERS ? EVHTP_RES_ERROR : EVHTP_RES_OK;
}

static evhtp_res on_headers(evhtp_request_t *req, evhtp_headers_t *hdrs, void *arg)
{
    struct conn_state *cs = arg;
    const char *cl = evhtp_kv_find(hdrs, "Content-Length");
    if (cl != NULL && strtoull(cl, NULL, 10) > cs->srv->body_limit)
        http_answer_early(req, ERR_TOO_LARGE, "the request body is larger than the limit");
    return EVHTP_RES_OK;
}

static evhtp_res on_read(evhtp_request_t *req, struct evbuffer *buf, void *arg)
{
    struct conn_state *cs = arg;
    cs->body += evbuffer_get_length(buf);
    if (!http_finished(req) && cs->body > cs->srv->body_limit)
        http_answer_early(req, ERR_TOO_LARGE, "the request body is larger than the limit");
    /* Once answered, the rest of the body is dropped as it comes. */
    if (http_finished(req))
        evbuffer_drain(buf, evbuffer_get_length(buf));
    return EVHTP_RES_OK;
}

static evhtp_res on_fini(evhtp_connection_t *conn, void *arg)
{
    struct conn_state *cs = arg;
    if (cs->input_cb != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_input(conn->bev), cs->input_cb);
    TAILQ_REMOVE(&conns, cs, link);
    nconns--;
    event_free(cs->deadline);
    free(cs);
    return EVHTP_RES_OK;
}

evhtp_res http_limits_on_accept(evhtp_connection_t *conn, void *arg)
{
    struct conn_state *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return EVHTP_RES_ERROR;
    cs->srv = arg;
    cs->conn = conn;
    cs->deadline = evtimer_new(conn->evbase, on_deadline, cs);
    if (cs->deadline != NULL && conn->bev != NULL)
        cs->input_cb = evbuffer_add_cb(bufferevent_get_input(conn->bev), on_input, cs);
    if (cs->input_cb == NULL) {
        if (cs->deadline != NULL)
            event_free(cs->deadline);
        free(cs);
        return EVHTP_RES_ERROR;
    }
    TAILQ_INSERT_TAIL(&conns, cs, link);
    nconns++;
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers_start, (evhtp_hook)on_headers_start, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_header, (evhtp_hook)on_header, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers, (evhtp_hook)on_headers, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_read, (evhtp_hook)on_read, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_connection_fini, (evhtp_hook)on_fini, cs);
    return EVHTP_RES_OK;
}

int http_open_connections(void)
{
    return nconns;
}

/* A connection between requests, with its last reply written out, is shut down; evhtp then
 * frees it. The others close after their reply (replies turn keep-alive off while draining). */
void http_close_idle_connections(void)
{
    struct conn_state *cs;
    TAILQ_FOREACH(cs, &conns, link)
    {
        evhtp_connection_t *c = cs->conn;
        bool idle = c->request == NULL ||
                    (http_finished(c->request) && !(c->flags & EVHTP_CONN_FLAG_PAUSED) &&
                     evbuffer_get_length(bufferevent_get_output(c->bev)) == 0);
        if (idle)
            shutdown(c->sock, SHUT_RDWR);
    }
}
