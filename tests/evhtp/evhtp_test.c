/* Tests of the libevhtp that pyexecd links (built by patches/evhtp.mk from Debian's libevhtp
 * 1.2.18 source plus patches/libevhtp/): a request must parse the same whether its bytes reach
 * the parser in one read or in several, and the parser must never read past the bytes it is
 * given. Debian's 1.2.18 fails both (see patches/libevhtp/0001-*.patch).
 *
 * Two levels:
 * - the parser alone (htparser_run), fed one request cut in two at every offset, each piece in a
 *   buffer of its own: once followed by a sentinel byte, which a parser reading past the end
 *   takes into the request (seen without any tool), once in a heap block of exactly the piece's
 *   size, where a read past the end is an invalid read (seen under valgrind);
 * - a real evhtp server on 127.0.0.1, set up as pyexecd sets its own, fed long URIs (which
 *   libevent hands over in 4096-byte reads) and requests written in pieces: the handler must see
 *   the path, query and header byte for byte. Under valgrind the 20000-byte URI of pyexecd's API
 *   test (long_uri_does_not_crash_the_daemon) must cause no error.
 *
 * tests/evhtp/run.sh runs this natively and under valgrind. `evhtp_test NAME_PART` runs only
 * the tests whose names contain NAME_PART. The last line printed is `N passed, N failed`; the
 * exit status is 1 when anything failed. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <evhtp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEADER "X-Pyexecd-Test"
#define SENTINEL 'Z' /* a byte the URI parser would take as part of a path or query */

static int passed, failed;
static const char *only; /* argv[1]: run only the tests whose names contain it */

static bool selected(const char *name)
{
    return only == NULL || strstr(name, only) != NULL;
}

static void result(bool ok, const char *name, const char *detail)
{
    if (ok) {
        passed++;
        printf("PASS %s\n", name);
    } else {
        failed++;
        printf("FAIL %s: %s\n", name, detail);
    }
    fflush(stdout);
}

/* A growable byte string; tests allocate a few and free them. */
struct bytes {
    char *p;
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            perror("realloc");
            exit(2);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void bytes_str(struct bytes *b, const char *s)
{
    bytes_add(b, s, strlen(s));
}

/* n bytes of URI characters that need no escaping, varied so that a lost, doubled or foreign
 * byte shows as a difference (seed picks the pattern). */
static void bytes_pattern(struct bytes *b, size_t n, unsigned seed)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~";
    for (size_t i = 0; i < n; i++)
        bytes_add(b, &chars[(i * 7 + seed) % (sizeof(chars) - 1)], 1);
}

static void bytes_free(struct bytes *b)
{
    free(b->p);
    *b = (struct bytes){0};
}

/* NULL when the byte strings are equal, else where they first differ (written into buf). */
static const char *differ(char *buf, size_t size, const char *what, const char *got, size_t got_len,
                          const char *want, size_t want_len)
{
    size_t i = 0;
    while (i < got_len && i < want_len && got[i] == want[i])
        i++;
    if (i == got_len && i == want_len)
        return NULL;
    snprintf(buf, size,
             "%s: %zu bytes instead of %zu, first difference at byte %zu (0x%02x, want 0x%02x)",
             what, got_len, want_len, i, i < got_len ? (unsigned char)got[i] : 0,
             i < want_len ? (unsigned char)want[i] : 0);
    return buf;
}

/* ---- the parser alone ---------------------------------------------------------------------- */

struct capture {
    struct bytes method, path, args, key, val;
    int complete;
};

static int grab(htparser *p, struct bytes *b, const char *s, size_t n)
{
    (void)p;
    b->len = 0;
    bytes_add(b, s, n);
    return 0;
}

static struct capture *cap_of(htparser *p)
{
    return htparser_get_userdata(p);
}

static int on_method(htparser *p, const char *s, size_t n)
{
    return grab(p, &cap_of(p)->method, s, n);
}

static int on_path(htparser *p, const char *s, size_t n)
{
    return grab(p, &cap_of(p)->path, s, n);
}

static int on_args(htparser *p, const char *s, size_t n)
{
    return grab(p, &cap_of(p)->args, s, n);
}

static int on_hdr_key(htparser *p, const char *s, size_t n)
{
    return grab(p, &cap_of(p)->key, s, n);
}

static int on_hdr_val(htparser *p, const char *s, size_t n)
{
    return grab(p, &cap_of(p)->val, s, n);
}

static int on_complete(htparser *p)
{
    cap_of(p)->complete++;
    return 0;
}

static htparse_hooks hooks = {
    .method = on_method,
    .path = on_path,
    .args = on_args,
    .hdr_key = on_hdr_key,
    .hdr_val = on_hdr_val,
    .on_msg_complete = on_complete,
};

/* Feeds data[0, n) to the parser in a buffer of its own; returns what htparser_run returned. */
static size_t feed(htparser *p, const char *data, size_t n, bool exact)
{
    static char sentinel_buf[65536];
    char *buf = sentinel_buf;
    if (exact) {
        buf = malloc(n); /* exactly n bytes: the next one is outside the block */
        if (buf == NULL) {
            perror("malloc");
            exit(2);
        }
    } else if (n + 1 > sizeof(sentinel_buf)) {
        fprintf(stderr, "piece too large\n");
        exit(2);
    } else {
        buf[n] = SENTINEL;
    }
    memcpy(buf, data, n);
    size_t used = htparser_run(p, &hooks, buf, n);
    if (exact)
        free(buf);
    return used;
}

/* Which part of the request the byte at offset at is in, for the messages. */
static const char *region(const struct bytes *req, size_t at)
{
    const char *q = memchr(req->p, '?', req->len);
    const char *eol = strstr(req->p, "\r\n");
    const char *colon = strchr(eol, ':');
    const char *s = req->p + at;
    if (s < strchr(req->p, ' '))
        return "method";
    if (s < q)
        return "path";
    if (s < strstr(req->p, " HTTP/"))
        return "query";
    if (s < eol + 2)
        return "version";
    if (s < colon)
        return "header name";
    return "header value";
}

/* The request the parser tests cut, and its parts as the hooks must see them. */
struct request {
    struct bytes raw, path, query, val;
};

/* Parses r->raw cut in two at cut. Returns NULL when the hooks saw exactly the request, else
 * what went wrong (in why). */
static const char *parse_cut(htparser *p, const struct request *r, size_t cut, bool exact,
                             char *why, size_t size)
{
    struct capture cap = {0};
    const char *err = NULL;
    htparser_init(p, htp_type_request);
    htparser_set_userdata(p, &cap);
    size_t a = feed(p, r->raw.p, cut, exact);
    htpparse_error e1 = htparser_get_error(p);
    size_t b = feed(p, r->raw.p + cut, r->raw.len - cut, exact);
    htpparse_error e2 = htparser_get_error(p);
    /* What the hooks saw first (a wrong byte tells most), then the counts. */
    if (e1 != htparse_error_none || e2 != htparse_error_none) {
        snprintf(why, size, "parser errors %d and %d", (int)e1, (int)e2);
        err = why;
    }
    if (err == NULL)
        err = differ(why, size, "method", cap.method.p, cap.method.len, "POST", 4);
    if (err == NULL)
        err = differ(why, size, "path", cap.path.p, cap.path.len, r->path.p, r->path.len);
    if (err == NULL)
        err = differ(why, size, "query", cap.args.p, cap.args.len, r->query.p, r->query.len);
    if (err == NULL)
        err = differ(why, size, "header name", cap.key.p, cap.key.len, HEADER, strlen(HEADER));
    if (err == NULL)
        err = differ(why, size, "header value", cap.val.p, cap.val.len, r->val.p, r->val.len);
    if (err == NULL && cap.complete != 1) {
        snprintf(why, size, "%d complete messages instead of 1", cap.complete);
        err = why;
    }
    if (err == NULL && (a != cut || b != r->raw.len - cut)) {
        /* htparser_run returns how many bytes it used: never more than it was given */
        snprintf(why, size, "htparser_run used %zu and %zu bytes of pieces of %zu and %zu", a, b,
                 cut, r->raw.len - cut);
        err = why;
    }
    bytes_free(&cap.method);
    bytes_free(&cap.path);
    bytes_free(&cap.args);
    bytes_free(&cap.key);
    bytes_free(&cap.val);
    return err;
}

/* The request cut in two at every offset: each cut must parse as the whole does. One message
 * per part of the request (method, path, ...), for the first cut that fails there. */
static void parser_splits(bool exact)
{
    struct request r = {0};
    char name[128], detail[1024] = "", why[400];
    bytes_str(&r.path, "/");
    bytes_pattern(&r.path, 1500, 1);
    bytes_str(&r.path, "/x.y");
    bytes_pattern(&r.query, 700, 2);
    bytes_pattern(&r.val, 300, 3);
    bytes_str(&r.raw, "POST ");
    bytes_add(&r.raw, r.path.p, r.path.len);
    bytes_str(&r.raw, "?");
    bytes_add(&r.raw, r.query.p, r.query.len);
    bytes_str(&r.raw, " HTTP/1.1\r\n" HEADER ": ");
    bytes_add(&r.raw, r.val.p, r.val.len);
    bytes_str(&r.raw, "\r\n\r\n");
    snprintf(name, sizeof(name), "parser_request_cut_in_two_at_each_of_%zu_offsets_%s",
             r.raw.len - 1, exact ? "in_exact_size_blocks" : "followed_by_a_sentinel_byte");

    htparser *p = selected(name) ? htparser_new() : NULL;
    const char *seen[8];
    int nseen = 0;
    for (size_t cut = 1; p != NULL && cut < r.raw.len; cut++) {
        const char *err = parse_cut(p, &r, cut, exact, why, sizeof(why));
        const char *where = region(&r.raw, cut - 1);
        bool known = false;
        for (int i = 0; i < nseen; i++)
            known = known || seen[i] == where;
        if (err == NULL || known || nseen == 8)
            continue;
        seen[nseen++] = where;
        size_t used = strlen(detail);
        snprintf(detail + used, sizeof(detail) - used, "%scut after %zu bytes (in the %s): %s",
                 used ? "; " : "", cut, where, err);
    }
    if (p != NULL)
        result(detail[0] == '\0', name, detail);
    free(p); /* htparser_new is a plain malloc */
    bytes_free(&r.raw);
    bytes_free(&r.path);
    bytes_free(&r.query);
    bytes_free(&r.val);
}

/* ---- a real evhtp server ------------------------------------------------------------------- */

struct server {
    struct event_base *base;
    evhtp_t *htp;
    uint16_t port;
    /* what the handler saw for the current case */
    int requests;
    struct bytes path, query, header;
};

static void handler(evhtp_request_t *req, void *arg)
{
    struct server *s = arg;
    const char *h = evhtp_kv_find(req->headers_in, HEADER);
    s->requests++;
    s->path.len = s->query.len = s->header.len = 0;
    if (req->uri && req->uri->path && req->uri->path->full)
        bytes_str(&s->path, req->uri->path->full);
    if (req->uri && req->uri->query_raw)
        bytes_str(&s->query, (const char *)req->uri->query_raw);
    if (h != NULL)
        bytes_str(&s->header, h);
    evhtp_send_reply(req, EVHTP_RES_OK);
}

struct client {
    struct server *srv;
    int fd;
    const struct bytes *req;
    const size_t *cuts; /* offsets where a new write starts, ending with 0 */
    size_t sent;
    struct event *timer, *readable;
    struct bytes response;
    bool closed, timed_out;
};

/* Writes the next piece; the next one follows 20 ms later, when the server, on this same loop,
 * has read this one. */
static void write_next(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    (void)fd;
    (void)what;
    size_t end = c->req->len;
    for (const size_t *cut = c->cuts; *cut; cut++)
        if (*cut > c->sent) {
            end = *cut;
            break;
        }
    while (c->sent < end) {
        ssize_t n = write(c->fd, c->req->p + c->sent, end - c->sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the server closed: the reading side sees it */
        c->sent += (size_t)n;
    }
    struct timeval tv = {0, 20000};
    if (c->sent < c->req->len && c->sent == end && evtimer_add(c->timer, &tv) != 0) {
        fprintf(stderr, "evtimer_add failed\n");
        exit(2);
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    char buf[4096];
    if (what & EV_TIMEOUT) {
        c->timed_out = true;
        event_base_loopexit(c->srv->base, NULL);
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
        bytes_add(&c->response, buf, (size_t)n);
        return;
    }
    if (n < 0 && errno == EINTR)
        return;
    c->closed = true; /* EOF, or a reset by a server that closed with unread input */
    event_base_loopexit(c->srv->base, NULL);
}

/* Sends req (cut at cuts) on a new connection and runs the loop until the server closes it
 * (every request says Connection: close). Returns the response in *response. */
static bool exchange(struct server *s, const struct bytes *req, const size_t *cuts,
                     struct bytes *response, char *why, size_t why_size)
{
    struct client c = {.srv = s, .req = req, .cuts = cuts};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    struct timeval limit = {30, 0}; /* valgrind is slow */
    bool ok = false;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        snprintf(why, why_size, "client socket: %s", strerror(errno));
        goto out;
    }
    c.timer = evtimer_new(s->base, write_next, &c);
    c.readable = event_new(s->base, c.fd, EV_READ | EV_PERSIST, on_readable, &c);
    if (c.timer == NULL || c.readable == NULL || event_add(c.readable, &limit) != 0) {
        snprintf(why, why_size, "client events could not be set up");
        goto out;
    }
    write_next(c.fd, 0, &c);
    if (event_base_dispatch(s->base) < 0) {
        snprintf(why, why_size, "event_base_dispatch failed");
        goto out;
    }
    if (c.timed_out) {
        snprintf(why, why_size, "no answer and no close within %ld s", (long)limit.tv_sec);
        goto out;
    }
    ok = true;
out:
    if (c.timer)
        event_free(c.timer);
    if (c.readable)
        event_free(c.readable);
    if (c.fd >= 0)
        close(c.fd);
    *response = c.response;
    return ok;
}

static void server_case(struct server *s, const char *name, const struct bytes *req,
                        const size_t *cuts, const struct bytes *path, const struct bytes *query)
{
    struct bytes response = {0};
    char why[600];
    const char *err = NULL;
    if (!selected(name))
        return;
    s->requests = 0;
    if (!exchange(s, req, cuts, &response, why, sizeof(why))) {
        err = why;
    } else if (s->requests != 1 || response.len < 12 ||
               memcmp(response.p, "HTTP/1.1 200", 12) != 0) {
        snprintf(why, sizeof(why), "%d request(s) handled, response %.40s", s->requests,
                 response.len ? response.p : "(none: the connection was closed)");
        err = why;
    }
    if (err == NULL)
        err = differ(why, sizeof(why), "path", s->path.p, s->path.len, path->p, path->len);
    if (err == NULL && query != NULL)
        err = differ(why, sizeof(why), "query", s->query.p, s->query.len, query->p, query->len);
    if (err == NULL)
        err = differ(why, sizeof(why), "header", s->header.p, s->header.len, "v", 1);
    result(err == NULL, name, err ? err : "");
    bytes_free(&response);
}

static int status_lines(const struct bytes *r);

static void server_tests(void)
{
    struct server s = {0};
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    s.base = event_base_new();
    s.htp = s.base ? evhtp_new(s.base, NULL) : NULL;
    if (s.htp == NULL) {
        fprintf(stderr, "could not create the server\n");
        exit(2);
    }
    /* As pyexecd's own server (src/http.c): a general callback, a body cap, idle timeouts. */
    struct timeval idle = {30, 0};
    evhtp_set_max_body_size(s.htp, 1 << 20);
    evhtp_set_timeouts(s.htp, &idle, &idle);
    evhtp_set_gencb(s.htp, handler, &s);
    if (evhtp_bind_socket(s.htp, "127.0.0.1", 0, 16) != 0 ||
        getsockname(evconnlistener_get_fd(s.htp->server), (struct sockaddr *)&sa, &sl) != 0) {
        fprintf(stderr, "could not listen on 127.0.0.1: %s\n", strerror(errno));
        exit(2);
    }
    s.port = ntohs(sa.sin_port);

    static const size_t one_write[] = {0};
    struct bytes path = {0}, query = {0}, req = {0};

    /* 1. A 6000-byte path in one write: libevent reads at most 4096 bytes at a time, so the
     * parser gets it in two pieces. */
    bytes_str(&path, "/");
    bytes_pattern(&path, 6000, 4);
    bytes_str(&req, "GET ");
    bytes_add(&req, path.p, path.len);
    bytes_str(&req, " HTTP/1.1\r\nHost: t\r\n" HEADER ": v\r\nConnection: close\r\n\r\n");
    server_case(&s, "server_6000_byte_path_in_one_write", &req, one_write, &path, NULL);

    /* 2. The same for a query. */
    path.len = req.len = 0;
    bytes_str(&path, "/q");
    bytes_pattern(&query, 6000, 5);
    bytes_str(&req, "GET /q?");
    bytes_add(&req, query.p, query.len);
    bytes_str(&req, " HTTP/1.1\r\nHost: t\r\n" HEADER ": v\r\nConnection: close\r\n\r\n");
    server_case(&s, "server_6000_byte_query_in_one_write", &req, one_write, &path, &query);

    /* 3. A request written in pieces cut in the method, the path, the query, a header name and
     * a header value. */
    path.len = query.len = req.len = 0;
    bytes_str(&path, "/execute/");
    bytes_pattern(&path, 40, 6);
    bytes_pattern(&query, 40, 7);
    bytes_str(&req, "GET ");
    bytes_add(&req, path.p, path.len);
    bytes_str(&req, "?");
    bytes_add(&req, query.p, query.len);
    bytes_str(&req, " HTTP/1.1\r\nHost: t\r\n" HEADER ": v\r\nConnection: close\r\n\r\n");
    size_t in_query = 4 + path.len + 1 + 20, header = (size_t)(strstr(req.p, HEADER) - req.p);
    const size_t pieces[] = {2, 8, 30, in_query, header + 5, header + strlen(HEADER) + 2, 0};
    server_case(&s, "server_request_written_in_7_pieces", &req, pieces, &path, &query);

    /* 4. pyexecd's API test long_uri_does_not_crash_the_daemon: a 20000-byte URI, over the
     * parser's 8 KiB limit. The server closes the connection (the parser reports "too big");
     * what counts here is that nothing reads past the data, which valgrind checks. */
    const char *long_uri = "server_20000_byte_uri_closes_the_connection";
    req.len = 0;
    bytes_str(&req, "GET /");
    for (int i = 0; i < 20000; i++)
        bytes_str(&req, "u");
    bytes_str(&req, " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    struct bytes response = {0};
    char why[600];
    s.requests = 0;
    if (selected(long_uri)) {
        bool ok = exchange(&s, &req, one_write, &response, why, sizeof(why));
        if (ok && (s.requests != 0 || response.len != 0)) {
            snprintf(why, sizeof(why), "%d request(s) handled, response %.40s", s.requests,
                     response.len ? response.p : "");
            ok = false;
        }
        result(ok, long_uri, why);
        bytes_free(&response);
    }

    /* 5. And the server still answers afterwards. */
    path.len = req.len = 0;
    bytes_str(&path, "/health");
    bytes_str(&req,
              "GET /health HTTP/1.1\r\nHost: t\r\n" HEADER ": v\r\nConnection: close\r\n\r\n");
    server_case(&s, "server_still_answers_afterwards", &req, one_write, &path, NULL);

    /* 6. Pipelined requests after synchronous replies (patch 0006): all three answered. */
    const char *pipelined = "pipelined_requests_after_synchronous_replies_are_all_answered";
    req.len = 0;
    for (int i = 0; i < 3; i++)
        bytes_str(&req, i < 2 ? "GET /p HTTP/1.1\r\nHost: t\r\n\r\n"
                              : "GET /p HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.requests = 0;
    if (selected(pipelined)) {
        bool ok = exchange(&s, &req, one_write, &response, why, sizeof(why));
        if (ok && (s.requests != 3 || status_lines(&response) != 3)) {
            snprintf(why, sizeof(why), "%d request(s) handled, %d answered", s.requests,
                     status_lines(&response));
            ok = false;
        }
        result(ok, pipelined, why);
        bytes_free(&response);
    }

    bytes_free(&path);
    bytes_free(&query);
    bytes_free(&req);
    bytes_free(&s.path);
    bytes_free(&s.query);
    bytes_free(&s.header);
    evhtp_unbind_socket(s.htp);
    evhtp_free(s.htp);
    event_base_free(s.base);
}

/* ---- strictness, answers instead of closes, reason phrases (patches 0002-0004) --------------- */

/* What the reject callback answered (patch 0003); 0 when the connection was closed unanswered. */
static int rejected_status;

#ifdef EVHTP_HAS_REJECT
static void reject_flushed(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_free(bev);
}

static void reject_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

/* As pyexecd's reject callback does, minus the lingering: answer, then close once written. */
static void reject(evhtp_connection_t *c, evhtp_res status, void *arg)
{
    struct bufferevent *bev = evhtp_connection_take_ownership(c);
    (void)arg;
    rejected_status = (int)status;
    bufferevent_setcb(bev, NULL, reject_flushed, reject_event, NULL);
    if (bufferevent_enable(bev, EV_WRITE) != 0 ||
        evbuffer_add_printf(
            bufferevent_get_output(bev),
            "HTTP/1.1 %d Rejected\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            (int)status) < 0)
        bufferevent_free(bev);
}
#endif

/* Replies with the status its path names (/status/NNN), else 200. */
static void status_handler(evhtp_request_t *req, void *arg)
{
    struct server *s = arg;
    const char *path = req->uri && req->uri->path ? req->uri->path->full : "";
    int status = strncmp(path, "/status/", 8) == 0 ? atoi(path + 8) : 200;
    s->requests++;
    evhtp_send_reply(req, (evhtp_res)status);
}

/* Counts the status lines in a response stream. */
static int status_lines(const struct bytes *r)
{
    int n = 0;
    for (size_t i = 0; i + 7 <= r->len; i++)
        if ((i == 0 || r->p[i - 1] == '\n') && memcmp(r->p + i, "HTTP/1.", 7) == 0)
            n++;
    return n;
}

/* One request on its own connection: want_status 200 means the handler serves it once, any other
 * status that it is refused with that status before the handler sees it, and that nothing after
 * it on the connection is served (pipelined or smuggled requests). */
static void strict_case(struct server *s, const char *name, const char *req, size_t len,
                        int want_status)
{
    static const size_t one_write[] = {0};
    struct bytes raw = {0}, response = {0};
    char why[600];
    if (!selected(name))
        return;
    bytes_add(&raw, req, len);
    s->requests = 0;
    rejected_status = 0;
    if (!exchange(s, &raw, one_write, &response, why, sizeof(why))) {
        result(false, name, why);
        bytes_free(&raw);
        bytes_free(&response);
        return;
    }
    int got = response.len >= 12 ? atoi(response.p + 9) : 0;
    bool ok = want_status == 200 ? s->requests == 1 && got == 200
                                 : s->requests == 0 && rejected_status == want_status &&
                                       got == want_status && status_lines(&response) == 1;
    snprintf(
        why, sizeof(why),
        "want %d; %d request(s) handled, reject callback %d, %d status line(s), response %.60s",
        want_status, s->requests, rejected_status, status_lines(&response),
        response.len ? response.p : "(none: closed)");
    result(ok, name, ok ? "" : why);
    bytes_free(&raw);
    bytes_free(&response);
}

#define H "Host: t\r\nConnection: close\r\n"
#define STRICT(name, req, status) strict_case(s, name, req, sizeof(req) - 1, status)

static void strict_request_cases(struct server *s)
{
    STRICT("parser_accepts_a_plain_get", "GET /x HTTP/1.1\r\n" H "\r\n", 200);
    STRICT("parser_accepts_http_1_0", "GET /x HTTP/1.0\r\nHost: t\r\n\r\n", 200);
    STRICT("parser_accepts_ows_around_values", "GET /x HTTP/1.1\r\nX-A: \t v \t\r\n" H "\r\n", 200);
    STRICT("parser_accepts_a_chunked_body",
           "POST /x HTTP/1.1\r\n" H "Transfer-Encoding: Chunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n",
           200);
    STRICT("parser_accepts_obs_text_in_a_value", "GET /x HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n" H "\r\n",
           200);
    STRICT("reject_content_length_with_transfer_encoding_hides_no_request",
           "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
           400);
    STRICT("parser_refuses_two_content_lengths",
           "POST /x HTTP/1.1\r\n" H "Content-Length: 1\r\nContent-Length: 1\r\n\r\nab", 400);
    STRICT("parser_refuses_an_empty_content_length",
           "POST /x HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 400);
    STRICT("parser_refuses_a_signed_content_length",
           "POST /x HTTP/1.1\r\n" H "Content-Length: +1\r\n\r\na", 400);
    STRICT("parser_refuses_a_content_length_list",
           "POST /x HTTP/1.1\r\n" H "Content-Length: 1, 1\r\n\r\na", 400);
    STRICT("parser_refuses_a_64_bit_overflowing_content_length_with_413",
           "POST /x HTTP/1.1\r\n" H "Content-Length: 99999999999999999999999\r\n\r\n", 413);
    STRICT("parser_refuses_gzip_chunked_with_501",
           "POST /x HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
    STRICT("parser_refuses_two_transfer_encodings",
           "POST /x HTTP/1.1\r\n" H
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\n",
           400);
    STRICT("parser_refuses_transfer_encoding_in_http_1_0",
           "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    STRICT("parser_refuses_trailer_fields",
           "POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n", 400);
    STRICT("parser_refuses_a_wrapping_chunk_size",
           "POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n10000000000000001\r\na\r\n",
           413);
    STRICT("parser_refuses_a_high_byte_as_chunk_size",
           "POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n\x80\r\n\r\n", 400);
    STRICT("parser_refuses_a_chunk_extension",
           "POST /x HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n1;x=y\r\na\r\n0\r\n\r\n",
           400);
    STRICT("parser_refuses_obs_fold_with_htab", "GET /x HTTP/1.1\r\nX-A: a\r\n\tb\r\n" H "\r\n",
           400);
    STRICT("parser_refuses_obs_fold_with_sp", "GET /x HTTP/1.1\r\nX-A: a\r\n b\r\n" H "\r\n", 400);
    STRICT("parser_refuses_a_bare_lf_line_end", "GET /x HTTP/1.1\r\nX-A: a\n" H "\r\n", 400);
    STRICT("parser_refuses_a_bare_lf_after_the_request_line", "GET /x HTTP/1.1\r\n\n", 400);
    STRICT("parser_refuses_a_bare_cr_in_a_value", "GET /x HTTP/1.1\r\nX-A: a\rb\r\n" H "\r\n", 400);
    STRICT("parser_refuses_nul_in_a_value", "GET /x HTTP/1.1\r\nX-A: a\0b\r\n" H "\r\n", 400);
    STRICT("parser_refuses_a_control_in_a_value", "GET /x HTTP/1.1\r\nX-A: a\x01\r\n" H "\r\n",
           400);
    STRICT("parser_refuses_space_before_the_colon", "GET /x HTTP/1.1\r\nX-A : a\r\n" H "\r\n", 400);
    STRICT("parser_refuses_a_line_without_a_colon", "GET /x HTTP/1.1\r\nX-A\r\n" H "\r\n", 400);
    STRICT("parser_refuses_whitespace_before_the_first_header",
           "GET /x HTTP/1.1\r\n X-A: a\r\n" H "\r\n", 400);
    STRICT("parser_refuses_two_spaces_after_the_method", "GET  /x HTTP/1.1\r\n" H "\r\n", 400);
    STRICT("parser_refuses_two_spaces_before_the_version", "GET /x  HTTP/1.1\r\n" H "\r\n", 400);
    STRICT("parser_refuses_a_space_after_the_version", "GET /x HTTP/1.1 \r\n" H "\r\n", 400);
    STRICT("parser_refuses_nul_in_the_target", "GET /x\0y HTTP/1.1\r\n" H "\r\n", 400);
    STRICT("parser_refuses_a_control_in_the_target", "GET /x\x7fy HTTP/1.1\r\n" H "\r\n", 400);
    STRICT("parser_refuses_a_high_byte_in_the_target", "GET /x\xc3\xa9 HTTP/1.1\r\n" H "\r\n", 400);
    STRICT("parser_refuses_http_0_9", "GET /x\r\n\r\n", 400);
    STRICT("parser_refuses_http_9_9_with_505", "GET /x HTTP/9.9\r\n" H "\r\n", 505);
    STRICT("parser_refuses_http_2_0_with_505", "GET /x HTTP/2.0\r\n" H "\r\n", 505);
    STRICT("parser_refuses_http_1_2_with_505", "GET /x HTTP/1.2\r\n" H "\r\n", 505);
    STRICT("parser_refuses_http_0_9_spelt_out_with_505", "GET /x HTTP/0.9\r\n" H "\r\n", 505);
    STRICT("parser_refuses_a_wrapping_minor_version", "GET /x HTTP/1.257\r\n" H "\r\n", 400);
    STRICT("parser_refuses_a_two_digit_major_version", "GET /x HTTP/11.1\r\n" H "\r\n", 400);
    STRICT("reject_garbage_gets_400", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400);
}

static void strict_long_cases(struct server *s)
{
    struct bytes req = {0};
    bytes_str(&req, "GET /");
    bytes_pattern(&req, 9000, 1);
    bytes_str(&req, " HTTP/1.1\r\n" H "\r\n");
    strict_case(s, "parser_refuses_a_9000_byte_target_with_414", req.p, req.len, 414);
    req.len = 0;
    bytes_str(&req, "GET /x HTTP/1.1\r\n" H "X-Big: ");
    bytes_pattern(&req, 9000, 2);
    bytes_str(&req, "\r\n\r\n");
    strict_case(s, "parser_refuses_a_9000_byte_value_with_431", req.p, req.len, 431);
    req.len = 0;
    bytes_str(&req, "GET /x HTTP/1.1\r\n" H "X-");
    bytes_pattern(&req, 9000, 3);
    bytes_str(&req, ": v\r\n\r\n");
    strict_case(s, "parser_refuses_a_9000_byte_name_with_431", req.p, req.len, 431);
    bytes_free(&req);
}

/* A hook's own status is the answer, and the body size limit answers 413. */
static evhtp_res refuse_header(evhtp_request_t *req, evhtp_header_t *hdr, void *arg)
{
    (void)req;
    (void)arg;
    return strcmp(hdr->key, "X-Refuse") == 0 ? (evhtp_res)atoi(hdr->val) : EVHTP_RES_OK;
}

static evhtp_res set_hooks(evhtp_connection_t *c, void *arg)
{
    (void)arg;
    evhtp_connection_set_hook(c, evhtp_hook_on_header, (evhtp_hook)refuse_header, NULL);
    return EVHTP_RES_OK;
}

static void strict_hook_cases(struct server *s)
{
    STRICT("reject_a_hooks_431_is_the_answer", "GET /x HTTP/1.1\r\nX-Refuse: 431\r\n" H "\r\n",
           431);
    evhtp_set_max_body_size(s->htp, 10);
    STRICT("reject_the_body_size_limit_answers_413",
           "POST /x HTTP/1.1\r\nContent-Length: 20\r\n" H "\r\n01234567890123456789", 413);
    evhtp_set_max_body_size(s->htp, 1 << 20);
}

static void reason_case(struct server *s, int status, const char *reason)
{
    static const size_t one_write[] = {0};
    struct bytes req = {0}, response = {0}, want = {0};
    char name[80], why[600], line[120];
    snprintf(name, sizeof(name), "reason_phrase_%d", status);
    if (!selected(name))
        return;
    snprintf(line, sizeof(line), "GET /status/%d HTTP/1.1\r\n" H "\r\n", status);
    bytes_str(&req, line);
    snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, reason);
    bytes_str(&want, line);
    bool ok = exchange(s, &req, one_write, &response, why, sizeof(why));
    if (ok && (response.len < want.len || memcmp(response.p, want.p, want.len) != 0)) {
        ok = false;
        snprintf(why, sizeof(why), "status line %.*s, want %.*s",
                 (int)(strcspn(response.p ? response.p : "", "\r")), response.p ? response.p : "",
                 (int)want.len - 2, want.p);
    }
#ifdef EVHTP_HAS_STATUS_REASON
    if (ok && strcmp(evhtp_status_reason((evhtp_res)status), reason) != 0) {
        ok = false;
        snprintf(why, sizeof(why), "evhtp_status_reason says %s",
                 evhtp_status_reason((evhtp_res)status));
    }
#endif
    result(ok, name, why);
    bytes_free(&req);
    bytes_free(&want);
    bytes_free(&response);
}

static void strict_tests(void)
{
    struct server s = {0};
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    s.base = event_base_new();
    s.htp = s.base ? evhtp_new(s.base, NULL) : NULL;
    if (s.htp == NULL) {
        fprintf(stderr, "could not create the server\n");
        exit(2);
    }
    evhtp_set_max_body_size(s.htp, 1 << 20);
    evhtp_set_gencb(s.htp, status_handler, &s);
    evhtp_set_post_accept_cb(s.htp, set_hooks, NULL);
#ifdef EVHTP_HAS_REJECT
    evhtp_set_reject_cb(s.htp, reject, NULL);
#endif
    if (evhtp_bind_socket(s.htp, "127.0.0.1", 0, 16) != 0 ||
        getsockname(evconnlistener_get_fd(s.htp->server), (struct sockaddr *)&sa, &sl) != 0) {
        fprintf(stderr, "could not listen on 127.0.0.1: %s\n", strerror(errno));
        exit(2);
    }
    s.port = ntohs(sa.sin_port);
    strict_request_cases(&s);
    strict_long_cases(&s);
    strict_hook_cases(&s);
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {{200, "OK"},
                   {400, "Bad Request"},
                   {403, "Forbidden"},
                   {404, "Not Found"},
                   {405, "Method Not Allowed"},
                   {408, "Request Timeout"},
                   {413, "Content Too Large"},
                   {414, "URI Too Long"},
                   {415, "Unsupported Media Type"},
                   {422, "Unprocessable Content"},
                   {431, "Request Header Fields Too Large"},
                   {500, "Internal Server Error"},
                   {501, "Not Implemented"},
                   {503, "Service Unavailable"},
                   {504, "Gateway Timeout"},
                   {505, "HTTP Version Not Supported"}};
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        reason_case(&s, reasons[i].status, reasons[i].reason);
    evhtp_unbind_socket(s.htp);
    evhtp_free(s.htp);
    event_base_free(s.base);
}

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: %s [NAME_PART]\n", argv[0]);
        return 2;
    }
    only = argc == 2 ? argv[1] : NULL;
    parser_splits(false);
    parser_splits(true);
    server_tests();
    strict_tests();
    libevent_global_shutdown();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
