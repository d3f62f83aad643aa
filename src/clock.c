#include "clock.h"

#include <stdlib.h>
#include <time.h>

long long now_ms(void)
{
    struct timespec ts;
    /* Cannot fail for CLOCK_MONOTONIC on Linux; a deadline without a clock is no deadline. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
