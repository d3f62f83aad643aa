/* Settings table: one row per setting, so --help, the environment and flags cannot disagree. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { NUM, STR };

struct setting {
    const char *flag; /* --flag */
    const char *env;  /* environment variable */
    enum kind kind;
    size_t offset;
    int64_t min, max;
    const char *def;
    const char *help;
};

#define N(field, flag, env, min, max, def, help)                                                   \
    {                                                                                              \
        flag, env, NUM, offsetof(struct config, field), min, max, def, help                        \
    }
#define S(field, flag, env, def, help)                                                             \
    {                                                                                              \
        flag, env, STR, offsetof(struct config, field), 0, 0, def, help                            \
    }

static const struct setting settings[] = {
    N(port, "port", "PORT", 1, 65535, "8080", "TCP port to listen on"),
    S(bind, "bind", "PYEXECD_BIND", "0.0.0.0", "address to listen on"),
    S(rootfs, "rootfs", "PYEXECD_ROOTFS", "build/rootfs", "the read-only Python rootfs"),
    S(scratch, "scratch", "PYEXECD_SCRATCH", "/var/tmp/pyexecd",
      "where per-request scratch directories live (cloud mode)"),
    N(wall_ms, "wall-ms", "PYEXECD_WALL_MS", 100, 600000, "10000", "wall-clock limit per run (ms)"),
    N(cpu_s, "cpu-s", "PYEXECD_CPU_S", 1, 3600, "10", "CPU time limit per run (s)"),
    N(memory_mb, "memory-mb", "PYEXECD_MEMORY_MB", 64, 65536, "512",
      "memory limit per sandbox (MiB): cgroup limit and address-space rlimit"),
    N(pids, "pids", "PYEXECD_PIDS", 1, 4096, "32", "processes and threads per sandbox"),
    N(fsize_mb, "fsize-mb", "PYEXECD_FSIZE_MB", 1, 4096, "16",
      "largest file a sandbox may write (MiB)"),
    N(tmp_mb, "tmp-mb", "PYEXECD_TMP_MB", 1, 4096, "32", "size of the sandbox's /tmp (MiB)"),
    N(nofile, "nofile", "PYEXECD_NOFILE", 16, 65536, "256", "open files per sandbox"),
    N(stdout_bytes, "stdout-bytes", "PYEXECD_STDOUT_BYTES", 0, 1 << 30, "1048576",
      "cap on captured stdout (bytes)"),
    N(stderr_bytes, "stderr-bytes", "PYEXECD_STDERR_BYTES", 0, 1 << 30, "1048576",
      "cap on captured stderr (bytes)"),
    N(script_bytes, "script-bytes", "PYEXECD_SCRIPT_BYTES", 1, 64 << 20, "1048576",
      "cap on the script (bytes of UTF-8); the body cap is 6x this + 1024"),
    N(result_bytes, "result-bytes", "PYEXECD_RESULT_BYTES", 16, 1 << 30, "1048576",
      "cap on main()'s result as JSON (bytes)"),
    N(max_sandboxes, "max-sandboxes", "PYEXECD_MAX_SANDBOXES", 1, 64, "2",
      "sandboxes running at once"),
    N(queue_length, "queue-length", "PYEXECD_QUEUE_LENGTH", 0, 100000, "16",
      "requests that may wait for a sandbox"),
    N(queue_wait_ms, "queue-wait-ms", "PYEXECD_QUEUE_WAIT_MS", 0, 600000, "10000",
      "longest wait for a sandbox before 503 (ms)"),
    N(request_ms, "request-ms", "PYEXECD_REQUEST_MS", 100, 600000, "10000",
      "deadline for a client to send its whole request, body included, from its first byte (ms)"),
    N(header_ms, "header-ms", "PYEXECD_HEADER_MS", 100, 600000, "5000",
      "deadline for a request's headers, from its first byte; at most --request-ms (ms)"),
    N(idle_ms, "idle-ms", "PYEXECD_IDLE_MS", 100, 3600000, "15000",
      "how long a connection may wait for its next request (keep-alive) (ms)"),
    N(max_connections, "max-connections", "PYEXECD_MAX_CONNECTIONS", 0, 1000000, "0",
      "client connections open at once; 0: what the open-file limit leaves after the sandboxes"),
    N(drain_ms, "drain-ms", "PYEXECD_DRAIN_MS", 0, 600000, "15000",
      "on SIGTERM, how long running requests may finish (ms)"),
    N(sandbox_uid, "sandbox-uid", "PYEXECD_SANDBOX_UID", 1000, 2000000000, "100000",
      "first host uid/gid for sandboxes; slot n runs as this + n"),
    N(warm_start, "warm-start", "PYEXECD_WARM_START", 0, 1, "1",
      "1: fork sandboxes from a zygote with --preload imported; 0: a cold python3 per request"),
    S(preload, "preload", "PYEXECD_PRELOAD", "numpy,pandas",
      "modules the zygote imports ahead of requests (comma-separated)"),
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static int apply(struct config *cfg, const struct setting *s, const char *val, const char *from,
                 char *err, size_t errlen)
{
    char *p = (char *)cfg + s->offset;
    if (s->kind == STR) {
        *(const char **)(void *)p = val;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0' || v < s->min || v > s->max) {
        snprintf(err, errlen, "%s: %s=%s is not a whole number in [%lld, %lld]", from, s->flag, val,
                 (long long)s->min, (long long)s->max);
        return -1;
    }
    *(int64_t *)(void *)p = v;
    return 0;
}

static const struct setting *find(const char *flag, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].flag) == len && strncmp(settings[i].flag, flag, len) == 0)
            return &settings[i];
    return NULL;
}

static void print_help(const struct config *cfg)
{
    printf("usage: pyexecd [--setting=value | --setting value]...\n\n"
           "Runs untrusted Python over HTTP. Settings (flag, environment, current value):\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *p = (const char *)cfg + s->offset;
        printf("  --%-15s %-22s ", s->flag, s->env);
        if (s->kind == STR)
            printf("%-12s", *(const char *const *)(const void *)p);
        else
            printf("%-12lld", (long long)*(const int64_t *)(const void *)p);
        printf(" %s\n", s->help);
    }
}

static int load_args(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct setting *s = find(a, len);
        if (s == NULL) {
            snprintf(err, errlen, "unknown setting '--%.*s' (see --help)", (int)len, a);
            return -1;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (val == NULL) {
            snprintf(err, errlen, "--%s needs a value", s->flag);
            return -1;
        }
        if (apply(cfg, s, val, "flag", err, errlen) != 0)
            return -1;
    }
    return 0;
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    bool help = false;
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *env = getenv(settings[i].env);
        if (apply(cfg, &settings[i], settings[i].def, "default", err, errlen) != 0)
            return -1;
        if (env != NULL && *env != '\0' &&
            apply(cfg, &settings[i], env, settings[i].env, err, errlen) != 0)
            return -1;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            help = true;
    if (!help && load_args(cfg, argc, argv, err, errlen) != 0)
        return -1;
    if (help) {
        print_help(cfg);
        return 1;
    }
    return 0;
}

size_t config_body_limit(const struct config *cfg)
{
    return (size_t)cfg->script_bytes * 6 + 1024;
}
