/* GET /health: the mode, what the start-up probe found, and how busy the sandboxes are. */
#include <string.h>
#include <yajl_gen.h>

#include "../modes/jail.h"
#include "admission.h"
#include "config.h"
#include "http_internal.h"

#define STR(g, s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))

static int gen(yajl_gen g, struct server *srv)
{
    int running, queued;
    const struct jail_probe *p = srv->probe;
    admission_stats(&running, &queued);
    yajl_gen_map_open(g);
    STR(g, "status");
    STR(g, srv->draining ? "draining" : "ok");
    STR(g, "mode");
    STR(g, p->mode);
    STR(g, "probe");
    yajl_gen_map_open(g);
    for (int i = 0; i < p->n; i++) {
        STR(g, p->items[i].name);
        yajl_gen_map_open(g);
        STR(g, "ok");
        yajl_gen_bool(g, p->items[i].ok);
        STR(g, "detail");
        STR(g, p->items[i].detail);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    STR(g, "sandboxes");
    yajl_gen_map_open(g);
    STR(g, "running");
    yajl_gen_integer(g, running);
    STR(g, "queued");
    yajl_gen_integer(g, queued);
    STR(g, "max");
    yajl_gen_integer(g, srv->cfg->max_sandboxes);
    STR(g, "queue_length");
    yajl_gen_integer(g, srv->cfg->queue_length);
    yajl_gen_map_close(g);
    /* The last call's status tells whether the generator stayed in a valid state throughout. */
    return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

void health_handle(struct server *srv, evhtp_request_t *req)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *body;
    size_t len;
    struct evbuffer *b = evbuffer_new();
    if (g == NULL || b == NULL || gen(g, srv) != 0 ||
        yajl_gen_get_buf(g, &body, &len) != yajl_gen_status_ok || evbuffer_add(b, body, len) != 0) {
        http_answer(req, ERR_INTERNAL, "could not build the health report");
    } else {
        evhtp_request_pause(req);
        http_send_json(req, srv->draining ? 503 : 200, b);
        evhtp_request_resume(req);
    }
    if (b != NULL)
        evbuffer_free(b);
    if (g != NULL)
        yajl_gen_free(g);
}
