/* Shared by the HTTP layer's files: the server, and the ways to answer a request. */
#ifndef PYEXECD_HTTP_INTERNAL_H
#define PYEXECD_HTTP_INTERNAL_H

#include <evhtp.h>
#include <stdbool.h>

#include "errors.h"

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
};

/* Sends a JSON body with status. */
void http_send_json(evhtp_request_t *req, int status, struct evbuffer *body);
/* An immediate error answer from a handler (pause -> send -> resume). */
void http_answer(evhtp_request_t *req, enum err_type t, const char *msg);
/* An error answer from a hook, before the body is read: the connection closes after it. */
void http_answer_early(evhtp_request_t *req, enum err_type t, const char *msg);
bool http_finished(const evhtp_request_t *req);

/* http_limits.c: per-connection hooks (header count, body cap, request deadline), and the
 * list of open connections a drain waits for. */
evhtp_res http_limits_on_accept(evhtp_connection_t *conn, void *arg);
int http_open_connections(void);
void http_close_idle_connections(void);

/* execute.c and health.c: the two routes. */
void execute_handle(struct server *srv, evhtp_request_t *req);
void health_handle(struct server *srv, evhtp_request_t *req);

#endif
