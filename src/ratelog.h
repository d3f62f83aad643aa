/* Log lines for events that can come by the million (refused connections, failed accepts): at
 * most one line per interval, saying how many there were. */
#ifndef PYEXECD_RATELOG_H
#define PYEXECD_RATELOG_H

#include <stdbool.h>

struct ratelog {
    long long next_ms;     /* no line before this */
    unsigned long pending; /* events since the last line */
};

/* Counts one event. True when a line is due now; *count is then the number of events it
 * covers (this one included), and the count starts again. */
bool ratelog_due(struct ratelog *r, long long interval_ms, unsigned long *count);

#endif
