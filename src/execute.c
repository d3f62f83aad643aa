/* POST /execute: validate the request, queue it for a sandbox, answer when the run is done. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admission.h"
#include "clock.h"
#include "config.h"
#include "http_internal.h"
#include "json_in.h"
#include "log.h"
#include "response.h"
#include "utf8.h"

struct pending {
    struct job job; /* first: the worker hands back &job */
    struct server *srv;
    evhtp_request_t *req;
    struct event *expire_ev;
    unsigned long id;
    long long started_ms;
};

static bool json_content_type(evhtp_request_t *req)
{
    const char *ct = evhtp_kv_find(req->headers_in, "Content-Type");
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (strchr(" \t\r\n\f\v", s[i]) == NULL)
            return false;
    return true;
}

/* Checks the request; on success *script is the malloc'd script. Otherwise answers. */
static bool validate(struct server *srv, evhtp_request_t *req, char **script, size_t *len)
{
    char err[256];
    struct json_field f = {"script", JF_STRING, false, NULL, 0, 0};
    size_t blen = evbuffer_get_length(req->buffer_in);
    const char *body = blen ? (const char *)evbuffer_pullup(req->buffer_in, -1) : "";
    if (!json_content_type(req))
        return http_answer(req, ERR_MEDIA_TYPE, "Content-Type must be application/json"), false;
    if (blen > srv->body_limit)
        return http_answer(req, ERR_TOO_LARGE, "the request body is larger than the limit"), false;
    if (!utf8_valid(body, blen))
        return http_answer(req, ERR_VALIDATION, "the body is not valid UTF-8"), false;
    if (!json_escapes_ok(body, blen))
        return http_answer(req, ERR_VALIDATION, "the body has an unpaired UTF-16 surrogate escape"),
               false;
    if (json_parse_fields(body, blen, &f, 1, true, err, sizeof(err)) != 0)
        return http_answer(req, ERR_VALIDATION, err), false;
    const char *why = !f.seen                                  ? "'script' is required"
                      : blank(f.str, f.len)                    ? "'script' is empty"
                      : memchr(f.str, '\0', f.len)             ? "'script' contains a NUL character"
                      : f.len > (size_t)srv->cfg->script_bytes ? ""
                                                               : NULL;
    if (why != NULL) {
        json_fields_free(&f, 1);
        if (*why == '\0')
            return http_answer(req, ERR_TOO_LARGE, "'script' is larger than the script limit"),
                   false;
        return http_answer(req, ERR_VALIDATION, why), false;
    }
    *script = f.str;
    *len = f.len;
    return true;
}

static const char build_failed[] =
    "{\"error\":{\"type\":\"InternalError\",\"message\":\"could not build the response\"}}";

static void finish(struct pending *p)
{
    struct server *srv = p->srv;
    struct exec_result *r = &p->job.res;
    evhtp_request_t *req = p->req;
    struct evbuffer *b = evbuffer_new();
    int status = err_status(r->err);
    if (b != NULL && response_build(r, b) != 0) {
        status = 500;
        evbuffer_drain(b, evbuffer_get_length(b));
        evbuffer_add(b, build_failed, sizeof(build_failed) - 1);
    }
    if (b == NULL) {
        evhtp_send_reply(req, 500);
    } else {
        if (err_status(r->err) == 503)
            evhtp_headers_add_header(req->headers_out, evhtp_header_new("Retry-After", "1", 0, 0));
        http_send_json(req, status, b);
    }
    evhtp_request_resume(req);
    log_info("request id=%lu status=%d type=%s ms=%lld run_ms=%lld cpu_ms=%lld exit=\"%s\"", p->id,
             err_status(r->err), r->err ? err_name(r->err) : "ok", now_ms() - p->started_ms,
             r->wall_ms, r->cpu_ms, r->exit_desc);
    if (b != NULL)
        evbuffer_free(b);
    if (p->expire_ev)
        event_free(p->expire_ev);
    event_free(p->job.done_ev);
    result_free(r);
    free(p->job.script);
    free(p);
    srv->inflight--;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg);
}

/* The wait for a sandbox ran out while the job was still queued. */
static void on_expire(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    (void)fd;
    (void)what;
    if (!admission_cancel(&p->job))
        return; /* a worker has it: it will be answered when done */
    result_fail(&p->job.res, ERR_BUSY, "no sandbox became free within %lld ms",
                (long long)p->srv->cfg->queue_wait_ms);
    finish(p);
}

void execute_handle(struct server *srv, evhtp_request_t *req)
{
    struct timeval wait = {srv->cfg->queue_wait_ms / 1000, (srv->cfg->queue_wait_ms % 1000) * 1000};
    char *script;
    size_t len;
    if (srv->draining)
        return http_answer(req, ERR_BUSY, "the server is shutting down");
    if (!validate(srv, req, &script, &len))
        return;
    struct pending *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        free(script);
        return http_answer(req, ERR_INTERNAL, "out of memory");
    }
    p->srv = srv;
    p->req = req;
    p->id = ++srv->next_id;
    p->started_ms = now_ms();
    p->job.script = script;
    p->job.len = len;
    result_init(&p->job.res, (size_t)srv->cfg->stdout_bytes, (size_t)srv->cfg->stderr_bytes);
    p->job.done_ev = event_new(srv->base, -1, 0, on_done, p);
    p->expire_ev = evtimer_new(srv->base, on_expire, p);
    if (p->job.done_ev == NULL || p->expire_ev == NULL || evtimer_add(p->expire_ev, &wait) != 0) {
        srv->inflight++;
        result_fail(&p->job.res, ERR_INTERNAL, "could not set up the request's events");
        evhtp_request_pause(req);
        return finish(p);
    }
    srv->inflight++;
    evhtp_request_pause(req);
    if (admission_submit(&p->job) != 0) {
        result_fail(&p->job.res, ERR_BUSY, "all %lld sandboxes are busy and the queue is full",
                    (long long)srv->cfg->max_sandboxes);
        finish(p);
    }
}
