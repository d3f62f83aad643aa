/* pyexecd: runs untrusted Python over HTTP, one fresh jail per request. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../modes/jail.h"
#include "config.h"
#include "fdlimit.h"
#include "http.h"
#include "log.h"
#include "result.h"
#include "supervisor.h"

/* Sandboxes inherit nothing by accident if fds 0-2 are always something harmless. */
static int open_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int n = open("/dev/null", O_RDWR);
        if (n != fd)
            return -1;
    }
    return 0;
}

/* Before serving, run one real script through the whole jail: a host that cannot give every
 * guarantee is found now, not on the first request. */
static int self_test(const struct config *cfg)
{
    static const char script[] = "def main():\n    return 6 * 7\n";
    struct exec_result r;
    int rc = -1;
    result_init(&r, 4096, 4096);
    supervisor_run(cfg, jail_slot_get(0), script, sizeof(script) - 1, &r);
    if (r.err == ERR_NONE && r.result_len == 2 && memcmp(r.result, "42", 2) == 0) {
        log_info("self-test passed: a sandbox ran a script in %lld ms", r.wall_ms);
        rc = 0;
    } else {
        log_error("self-test failed: %s: %s; stderr: %.*s", err_name(r.err),
                  r.message ? r.message : "no result", (int)r.errout.len,
                  r.errout.data ? r.errout.data : "");
    }
    result_free(&r);
    return rc;
}

static void log_probe(const struct jail_probe *p)
{
    for (int i = 0; i < p->n; i++)
        log_info("probe %s: %s (%s)", p->items[i].name, p->items[i].ok ? "ok" : "degraded",
                 p->items[i].detail);
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct jail_probe probe = {0};
    char err[512];
    if (open_std_fds() != 0)
        return 1;
    int rc = config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "pyexecd: %s\n", err);
        return rc < 0 ? 2 : 0;
    }
    if (geteuid() != 0) {
        log_error("pyexecd must start as root: it builds a jail per request and runs each one as "
                  "an unprivileged uid");
        return 1;
    }
    /* A broken client connection must not kill the daemon; and no supplementary groups. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || setgroups(0, NULL) != 0) {
        log_error("start-up: %s", strerror(errno));
        return 1;
    }
    /* Every client connection is a descriptor (sandboxes set their own limit). */
    if (fdlimit_raise() < 0)
        return 1;
    if (jail_init(&cfg, &probe, err, sizeof(err)) != 0) {
        log_error("refusing to start: %s", err);
        return 1;
    }
    log_probe(&probe);
    if (self_test(&cfg) != 0) {
        log_error("refusing to start: the jail could not run a script%s%s", probe.hint ? "; " : "",
                  probe.hint ? probe.hint : "");
        jail_shutdown();
        return 1;
    }
    rc = http_serve(&cfg, &probe) == 0 ? 0 : 1;
    jail_shutdown();
    return rc;
}
