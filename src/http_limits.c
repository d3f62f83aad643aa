/* What a request may be, checked as evhtp parses it; the parser itself (patched, see
 * patches/libevhtp/0002-*) refuses what RFC 9112 calls malformed. A hook refuses by returning
 * the HTTP status to answer with; evhtp then stops parsing and hands the connection to
 * http_reject(). */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "http_internal.h"

#define MAX_HEADERS 64
#define MAX_HEADER_BYTES (32 * 1024) /* names and values together */

static evhtp_res refuse(struct conn_state *cs, evhtp_res status, const char *why)
{
    cs->why = why;
    return status;
}

/* RFC 9110 7.2: Host = uri-host [ ":" port ], uri-host a reg-name, IPv4 or IP-literal. */
static bool host_ok(const char *v)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "-._~!$&'()*+,;=%:[]";
    return strspn(v, chars) == strlen(v);
}

static evhtp_res on_headers_start(evhtp_request_t *req, void *arg)
{
    struct conn_state *cs = arg;
    (void)req;
    cs->headers = cs->hosts = 0;
    cs->header_bytes = cs->body = 0;
    cs->why = NULL;
    http_conn_begin(cs); /* a pipelined request, already read */
    return EVHTP_RES_OK;
}

static evhtp_res on_header(evhtp_request_t *req, evhtp_header_t *hdr, void *arg)
{
    struct conn_state *cs = arg;
    (void)req;
    cs->header_bytes += hdr->klen + hdr->vlen;
    if (++cs->headers > MAX_HEADERS)
        return refuse(cs, 431, "more than 64 header lines");
    if (cs->header_bytes > MAX_HEADER_BYTES)
        return refuse(cs, 431, "more than 32 KiB of header names and values");
    if (strcasecmp(hdr->key, "Host") != 0)
        return EVHTP_RES_OK;
    if (++cs->hosts > 1)
        return refuse(cs, EVHTP_RES_BADREQ, "more than one Host header");
    if (!host_ok(hdr->val))
        return refuse(cs, EVHTP_RES_BADREQ, "the Host header is not a host[:port]");
    return EVHTP_RES_OK;
}

static evhtp_res on_headers(evhtp_request_t *req, evhtp_headers_t *hdrs, void *arg)
{
    struct conn_state *cs = arg;
    /* The parser took exactly one Content-Length of digits, if any. */
    const char *cl = evhtp_kv_find(hdrs, "Content-Length");
    if (req->proto == EVHTP_PROTO_11 && cs->hosts == 0)
        return refuse(cs, EVHTP_RES_BADREQ, "an HTTP/1.1 request needs a Host header");
    if (cl != NULL && (strlen(cl) > 19 || strtoull(cl, NULL, 10) > cs->srv->body_limit))
        return refuse(cs, EVHTP_RES_ENTOOLARGE, "the request body is larger than the limit");
    http_conn_headers_read(cs);
    return EVHTP_RES_OK;
}

static evhtp_res on_read(evhtp_request_t *req, struct evbuffer *buf, void *arg)
{
    struct conn_state *cs = arg;
    (void)req;
    cs->body += evbuffer_get_length(buf);
    if (cs->body > cs->srv->body_limit)
        return refuse(cs, EVHTP_RES_ENTOOLARGE, "the request body is larger than the limit");
    return EVHTP_RES_OK;
}

void http_limits_hook(evhtp_connection_t *conn, struct conn_state *cs)
{
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers_start, (evhtp_hook)on_headers_start, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_header, (evhtp_hook)on_header, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers, (evhtp_hook)on_headers, cs);
    evhtp_connection_set_hook(conn, evhtp_hook_on_read, (evhtp_hook)on_read, cs);
}
