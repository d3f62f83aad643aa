/* Settings: every limit has a name, a flag, an environment variable and a default. */
#ifndef PYEXECD_CONFIG_H
#define PYEXECD_CONFIG_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct config {
    int64_t port;
    const char *bind;
    const char *rootfs;
    const char *scratch;
    int64_t wall_ms;         /* wall-clock limit, enforced by the supervisor */
    int64_t cpu_s;           /* RLIMIT_CPU */
    int64_t memory_mb;       /* cgroup memory limit and RLIMIT_AS */
    int64_t pids;            /* cgroup pids.max and RLIMIT_NPROC */
    int64_t fsize_mb;        /* RLIMIT_FSIZE */
    int64_t tmp_mb;          /* size of the sandbox's /tmp */
    int64_t nofile;          /* RLIMIT_NOFILE */
    int64_t stdout_bytes;    /* cap on captured stdout */
    int64_t stderr_bytes;    /* cap on captured stderr */
    int64_t script_bytes;    /* cap on the decoded script */
    int64_t result_bytes;    /* cap on main()'s serialised result */
    int64_t max_sandboxes;   /* sandboxes running at once */
    int64_t queue_length;    /* requests waiting for a sandbox */
    int64_t queue_wait_ms;   /* longest wait for a sandbox before 503 */
    int64_t request_ms;      /* deadline for a client to send its whole request */
    int64_t header_ms;       /* deadline for its headers (at most request_ms) */
    int64_t idle_ms;         /* keep-alive: longest wait for the next request */
    int64_t max_connections; /* 0: derived from the open-file limit */
    int64_t drain_ms;        /* on SIGTERM, how long running requests may finish */
    int64_t sandbox_uid;     /* first host uid/gid used for sandboxes (one per slot) */
    int64_t warm_start;      /* 1: sandboxes are forked from a warm zygote */
    const char *preload;     /* modules the zygote imports, comma-separated */
};

/* Fills cfg from defaults, then the environment, then argv. Returns 0, 1 when --help was printed,
 * or -1 with a message in err. */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* The request-body cap derived from the script cap: every script byte may take 6 bytes as a JSON
 * \u escape, plus room for the envelope. */
size_t config_body_limit(const struct config *cfg);

#endif
