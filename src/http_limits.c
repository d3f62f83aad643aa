/* Limits evhtp does not enforce by itself: a cap on the number of headers, a real 413 for bodies
 * over the limit (evhtp alone just closes), and a deadline for the whole request (evhtp has
 * only idle timeouts, which a client sending a byte now and then never trips). */
#include <stdlib.h>

#include "config.h"
#include "http_internal.h"

#define MAX_HEADERS 64

struct conn_state {
    struct server *srv;
    long long started_ms;
    int headers;
    size_t body;
};

static bool late(const struct conn_state *cs)
{
    return now_ms() - cs->started_ms > cs->srv->cfg->request_ms;
}

static evhtp_res on_headers_start(evhtp_request_t *req, void *arg)
{
    struct conn_state *cs = arg;
    (void)req;
    cs->started_ms = now_ms();
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
    return ++cs->headers > MAX_HEADERS || late(cs) ? EVHTP_RES_ERROR : EVHTP_RES_OK;
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
    if (!http_finished(req)) {
        if (cs->body > cs->srv->body_limit)
            http_answer_early(req, ERR_TOO_LARGE, "the request body is larger than the limit");
        else if (late(cs))
            http_answer_early(req, ERR_REQUEST_TIMEOUT,
                              "the request was not received within the request deadline");
    }
    /* Once answered, the rest of the body is dropped as it comes. */
    if (http_finished(req))
        evbuffer_drain(buf, evbuffer_get_length(buf));
    return EVHTP_RES_OK;
}

static evhtp_res on_fini(evhtp_connection_t *conn, void *arg)
{
    (void)conn;
    free(arg);
    return EVHTP_RES_OK;
}

evhtp_res http_limits_on_accept(evhtp_connection_t *conn, void *arg)
{
    struct conn_state *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return EVHTP_RES_ERROR;
    cs->srv = arg;
    cs->started_ms = now_ms();
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers_start, (evhtp_hook)on_headers_start, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_header, (evhtp_hook)on_header, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers, (evhtp_hook)on_headers, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_read, (evhtp_hook)on_read, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_connection_fini, (evhtp_hook)on_fini, cs);
    return EVHTP_RES_OK;
}
