/* libFuzzer: the request path as a client drives it. The input is what a client writes on one
 * connection to the real HTTP layer (src/http*.c on the patched evhtp, with its hooks, routes,
 * JSON validation and answers) listening on 127.0.0.1; sandboxes are a stub that answers every
 * script at once (stub_admission.c). The first byte says how the rest is cut into writes, so
 * the parser sees requests split at every place.
 *
 * Whatever the bytes, every answer must be well formed: a status line with the status's RFC 9110
 * reason phrase, a Content-Length and that many bytes of body, a JSON error for an error status;
 * nothing may follow an answer that says Connection: close (what a smuggled request would be);
 * and once the client has shut its side the daemon must end the connection, leaving no state
 * behind (LeakSanitizer checks the memory). */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../modes/jail.h"
#include "config.h"
#include "http_internal.h"
#include "json_in.h"

#define MAX_ROUNDS 20000 /* event-loop rounds before a connection that will not end is a hang */

static struct server srv;
static struct config cfg;
static struct jail_probe probe = {.mode = "fuzz"};
static struct sockaddr_in addr;

static void setup(void)
{
    char err[256];
    char *argv[] = {"fuzz_http", "--bind",         "127.0.0.1", "--port",
                    "1",         "--script-bytes", "2048",      NULL};
    if (config_load(&cfg, 7, argv, err, sizeof(err)) != 0)
        abort();
    cfg.port = 0; /* any free port (the settings table wants 1-65535) */
    srv.cfg = &cfg;
    srv.probe = &probe;
    socklen_t len = sizeof(addr);
    if (http_build(&srv) != 0 ||
        getsockname(evconnlistener_get_fd(srv.htp->server), (struct sockaddr *)&addr, &len) != 0)
        abort();
}

/* Runs the loop once without blocking; reads what the daemon sent. False at its end of stream. */
static bool pump(int fd, char **resp, size_t *len, size_t *cap)
{
    if (event_base_loop(srv.base, EVLOOP_NONBLOCK) < 0)
        abort();
    for (;;) {
        if (*cap - *len < 4096) {
            *cap = *cap * 2 + 8192;
            if ((*resp = realloc(*resp, *cap)) == NULL)
                abort();
        }
        ssize_t n = recv(fd, *resp + *len, *cap - *len - 1, MSG_DONTWAIT);
        if (n > 0) {
            *len += (size_t)n;
            continue;
        }
        return !(n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR));
    }
}

/* The value of header name in [h, end), or NULL. */
static const char *header(const char *h, const char *end, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = h; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
        p += *p == '\n';
        if ((size_t)(end - p) > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':')
            return p + n + 2;
    }
    return NULL;
}

/* Checks one answer at r; returns its length, or aborts. */
static size_t check_answer(const char *r, size_t len, bool *closes)
{
    const char *end = memmem(r, len, "\r\n\r\n", 4);
    if (len < 13 || end == NULL || memcmp(r, "HTTP/1.", 7) != 0 || r[12] != ' ')
        abort();
    int status = atoi(r + 9);
    const char *reason = evhtp_status_reason((evhtp_res)status);
    const char *eol = memchr(r, '\r', len);
    if (status == 100) /* evhtp's interim answer to Expect: no headers, no body */
        return (size_t)(end - r) + 4;
    if (strcmp(reason, "UNKNOWN") == 0 || (size_t)(eol - r - 13) != strlen(reason) ||
        memcmp(r + 13, reason, strlen(reason)) != 0)
        abort();
    const char *cl = header(r, end, "Content-Length");
    const char *conn = header(r, end, "Connection");
    if (cl == NULL)
        abort();
    size_t body = strtoul(cl, NULL, 10), head = (size_t)(end - r) + 4;
    /* The answer to HEAD has the header of GET's and no body: the next answer or the end
     * follows its header at once (a body, JSON, never starts like a status line). */
    if (head == len || (len - head >= 7 && memcmp(r + head, "HTTP/1.", 7) == 0))
        body = 0;
    if (head + body > len)
        abort(); /* the daemon ended the stream inside an answer */
    if (status >= 400 && body > 0 && !json_is_value(r + head, body))
        abort();
    *closes = conn != NULL && strncasecmp(conn, "close", 5) == 0;
    return head + body;
}

static void check_answers(const char *r, size_t len)
{
    bool closes = false;
    for (size_t at = 0; at < len; at += check_answer(r + at, len - at, &closes))
        if (closes)
            abort(); /* bytes after Connection: close */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (srv.base == NULL)
        setup();
    if (size == 0)
        return 0;
    size_t step = data[0] ? data[0] * 7u : size, sent = 0, len = 0, cap = 0;
    char *resp = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("fuzz_http: client socket");
        abort();
    }
    data++, size--;
    int rounds = 0;
    while (sent < size && rounds++ < MAX_ROUNDS) {
        size_t n = size - sent < step ? size - sent : step;
        ssize_t w = send(fd, data + sent, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            break; /* the daemon closed: it refused the request */
        sent += w > 0 ? (size_t)w : 0;
        if (!pump(fd, &resp, &len, &cap))
            break;
    }
    shutdown(fd, SHUT_WR);
    while (pump(fd, &resp, &len, &cap) && rounds++ < MAX_ROUNDS)
        poll(NULL, 0, rounds > 100); /* let a sandbox stub's event and the kernel move on */
    while (http_open_connections() > 0 && rounds++ < MAX_ROUNDS)
        pump(fd, &resp, &len, &cap);
    if (rounds >= MAX_ROUNDS || http_open_connections() != 0)
        abort(); /* the connection did not end */
    check_answers(resp, len);
    /* A reset, not a FIN: thousands of connections a second would otherwise leave the client's
     * ephemeral ports in TIME_WAIT (its FIN came first) until connect() finds none. */
    struct linger abort_close = {1, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close)) != 0)
        abort();
    close(fd);
    free(resp);
    return 0;
}
