/* A request refused before its route (the parser's verdict, a hook's, a deadline): it gets a
 * JSON error with Connection: close, and its connection ends. Nothing after the refused request
 * is parsed, so nothing smuggled in it is served. The end is a lingering close: the answer goes
 * out, the write side is shut (the client reads the answer to its end), and what the client
 * still sends is read and dropped for a while. Closing at once, with its input unread, would make
 * the kernel reset the connection, and a reset can destroy the answer before it is read. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "log.h"
#include "response.h"

#define LINGER_MS 2000            /* longest wait for the client to read and close */
#define LINGER_BYTES (256 * 1024) /* most input dropped before closing anyway */
#define LOG_INTERVAL_MS 10000

/* Why the parser refused: htparse_error_* (patches/libevhtp/0002-*). */
static const char *parse_error_message(htpparse_error e)
{
    switch (e) {
    case htparse_error_uri_too_big:
        return "the request-target is longer than 8191 bytes";
    case htparse_error_hdr_too_big:
        return "a header name or value is longer than 8191 bytes";
    case htparse_error_body_too_big:
        return "the request body is larger than the limit";
    case htparse_error_unsupported_ver:
        return "only HTTP/1.1 and HTTP/1.0 are served";
    case htparse_error_unsupported_te:
        return "chunked is the only transfer coding served";
    case htparse_error_inval_hdr:
        return "a header line is malformed, or the message's framing is ambiguous (RFC 9112)";
    case htparse_error_inval_chunk_sz:
    case htparse_error_inval_chunk:
        return "the chunked body is malformed";
    case htparse_error_inval_method:
        return "the method is not a method";
    case htparse_error_inval_ver:
    case htparse_error_inval_proto:
        return "the request line does not end in HTTP/1.1 or HTTP/1.0";
    default:
        return "the request line is malformed (RFC 9112)";
    }
}

static void linger_end(struct conn_state *cs)
{
    bufferevent_free(cs->bev);
    http_conn_free(cs);
}

void http_linger_expired(struct conn_state *cs)
{
    linger_end(cs);
}

static void linger_read(struct bufferevent *bev, void *arg)
{
    struct conn_state *cs = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    cs->lingered += evbuffer_get_length(in);
    if (evbuffer_drain(in, evbuffer_get_length(in)) != 0 || cs->lingered > LINGER_BYTES)
        linger_end(cs);
}

/* The answer is out: the client sees its end. */
static void linger_written(struct bufferevent *bev, void *arg)
{
    (void)arg;
    shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void linger_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what; /* the client's end, or an error: either way, done */
    linger_end(arg);
}

static int write_answer(struct bufferevent *bev, int status, enum err_type t, const char *msg)
{
    struct evbuffer *body = evbuffer_new();
    struct evbuffer *out = bufferevent_get_output(bev);
    int rc = -1;
    if (body != NULL && response_error(t, msg, body) == 0 &&
        evbuffer_add_printf(out,
                            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                            "Cache-Control: no-store\r\nConnection: close\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            status, evhtp_status_reason((evhtp_res)status),
                            evbuffer_get_length(body)) > 0 &&
        evbuffer_add_buffer(out, body) == 0)
        rc = 0;
    if (body != NULL)
        evbuffer_free(body);
    return rc;
}

static void log_refusal(struct server *srv, int status, const char *msg)
{
    unsigned long n;
    if (ratelog_due(&srv->reject_log, LOG_INTERVAL_MS, &n))
        log_info("refused %lu request(s) before their route in the last %d s; the latest: %d %s", n,
                 LOG_INTERVAL_MS / 1000, status, msg);
}

/* evhtp's reject callback: evhtp frees its connection when this returns; the bufferevent, taken
 * here, lives on until the lingering ends. */
void http_reject(evhtp_connection_t *conn, evhtp_res status, void *arg)
{
    struct conn_state *cs = http_conn_of(conn);
    const char *msg =
        cs && cs->why ? cs->why : parse_error_message(htparser_get_error(conn->parser));
    log_refusal(arg, (int)status, msg);
    if (cs == NULL)
        return; /* not set up (no memory): evhtp just closes */
    evbuffer_remove_cb_entry(bufferevent_get_input(cs->bev), cs->input_cb);
    cs->input_cb = NULL;
    cs->bev = evhtp_connection_take_ownership(conn);
    cs->conn = NULL;
    cs->phase = PHASE_LINGER;
    bufferevent_setcb(cs->bev, linger_read, linger_written, linger_event, cs);
    if (write_answer(cs->bev, (int)status, err_from_status((int)status), msg) != 0 ||
        bufferevent_enable(cs->bev, EV_READ | EV_WRITE) != 0) {
        linger_end(cs);
        return;
    }
    http_conn_arm(cs, LINGER_MS);
}
