#include "ratelog.h"

#include "clock.h"

bool ratelog_due(struct ratelog *r, long long interval_ms, unsigned long *count)
{
    long long now = now_ms();
    r->pending++;
    if (now < r->next_ms)
        return false;
    *count = r->pending;
    r->pending = 0;
    r->next_ms = now + interval_ms;
    return true;
}
