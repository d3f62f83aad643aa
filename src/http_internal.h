/* Shared by the HTTP layer's files: the server, its connections, and the ways to answer. */
#ifndef PYEXECD_HTTP_INTERNAL_H
#define PYEXECD_HTTP_INTERNAL_H

#include <evhtp.h>
#include <stdbool.h>
#include <sys/queue.h>

#include "errors.h"
#include "ratelog.h"

struct config;
struct jail_probe;

struct server {
    const struct config *cfg;
    const struct jail_probe *probe;
    struct event_base *base;
    evhtp_t *htp;
    struct event *sigterm, *sigint, *drain_tick;
    long long drain_deadline;
    bool draining;
    long inflight; /* /execute requests accepted and not yet answered */
    unsigned long next_id;
    size_t body_limit;
    /* http_listen.c: the connection cap and the listener's state */
    long max_connections;
    bool listening;           /* the listener exists (not yet unbound by a drain) */
    bool full, accept_failed; /* why accepting is paused */
    struct event *accept_retry;
    struct ratelog full_log, accept_log, reject_log;
};

/* Where a connection is in its life (http_conn.c). */
enum conn_phase {
    PHASE_IDLE,    /* waiting for a request: idle timeout, closed without an answer */
    PHASE_HEADERS, /* reading a request's head: header deadline, then 408 */
    PHASE_BODY,    /* reading its body: request deadline, then 408 */
    PHASE_BUSY,    /* read whole: being answered */
    PHASE_LINGER,  /* refused: the answer goes out, the rest of the input is dropped */
};

struct conn_state {
    TAILQ_ENTRY(conn_state) link;
    struct server *srv;
    evhtp_connection_t *conn; /* NULL once refused: bev is then ours alone */
    struct bufferevent *bev;
    struct event *timer; /* the deadline of the current phase */
    struct evbuffer_cb_entry *input_cb;
    enum conn_phase phase;
    long long started_ms; /* the request's first byte */
    int headers, hosts;
    size_t header_bytes, body, lingered;
    const char *why; /* the message of a refusal decided here (hooks, deadlines) */
};

/* http.c: the event loop and evhtp with every hook, listening on cfg's address (what
 * http_serve() runs; the fuzzer drives it too). */
int http_build(struct server *srv);
/* Answers. Sends a JSON body with status. */
void http_send_json(evhtp_request_t *req, int status, struct evbuffer *body);
/* An immediate error answer from a handler (pause -> send -> resume). */
void http_answer(evhtp_request_t *req, enum err_type t, const char *msg);

/* http_conn.c: every open connection, its phase and its deadline. */
evhtp_res http_conn_accept(evhtp_connection_t *conn, void *arg);
struct conn_state *http_conn_of(evhtp_connection_t *conn);
void http_conn_begin(struct conn_state *cs);        /* a request's first bytes */
void http_conn_headers_read(struct conn_state *cs); /* its headers are in */
void http_conn_request_read(struct conn_state *cs); /* all of it: no deadline while answered */
void http_conn_arm(struct conn_state *cs, long long ms);
void http_conn_free(struct conn_state *cs);
int http_open_connections(void);
void http_close_idle_connections(void);

/* http_limits.c: what a request may be (header count and size, Host, body size). */
void http_limits_hook(evhtp_connection_t *conn, struct conn_state *cs);

/* http_reject.c: the answer to a request refused before its route (evhtp's reject callback),
 * and the end of its connection. */
void http_reject(evhtp_connection_t *conn, evhtp_res status, void *arg);
void http_linger_expired(struct conn_state *cs);

/* http_listen.c: the listener, paused at the connection cap or when accept() fails. */
int http_listen_init(struct server *srv);
void http_listen_opened(struct server *srv, int open);
void http_listen_closed(struct server *srv, int open);
void http_listen_free(struct server *srv);

/* execute.c and health.c: the two routes. */
void execute_handle(struct server *srv, evhtp_request_t *req);
void health_handle(struct server *srv, evhtp_request_t *req);

#endif
