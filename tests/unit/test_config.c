/* Settings: defaults, environment, flags, and their order of precedence. */
#include <stdlib.h>

#include "check.h"
#include "config.h"

int main(void)
{
    struct config c;
    char err[256];
    char *none[] = {"pyexecd", NULL};
    unsetenv("PORT");
    CHECK(config_load(&c, 1, none, err, sizeof(err)) == 0);
    CHECK(c.port == 8080 && c.wall_ms == 10000 && c.max_sandboxes == 2);
    CHECK(config_body_limit(&c) == (size_t)c.script_bytes * 6 + 1024);
    setenv("PORT", "9000", 1);
    CHECK(config_load(&c, 1, none, err, sizeof(err)) == 0 && c.port == 9000);
    char *flags[] = {"pyexecd", "--port", "9100", "--wall-ms=2500", NULL};
    CHECK(config_load(&c, 4, flags, err, sizeof(err)) == 0);
    CHECK(c.port == 9100 && c.wall_ms == 2500); /* flags win over the environment */
    char *bad[] = {"pyexecd", "--wall-ms", "ten", NULL};
    CHECK(config_load(&c, 3, bad, err, sizeof(err)) == -1 && strstr(err, "wall-ms") != NULL);
    char *unknown[] = {"pyexecd", "--nope=1", NULL};
    CHECK(config_load(&c, 2, unknown, err, sizeof(err)) == -1 && strstr(err, "nope") != NULL);
    setenv("PYEXECD_PIDS", "0", 1);
    CHECK(config_load(&c, 1, none, err, sizeof(err)) == -1 && strstr(err, "PYEXECD_PIDS") != NULL);
    unsetenv("PYEXECD_PIDS");
    unsetenv("PORT");
    return check_report("config");
}
