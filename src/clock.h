/* The monotonic clock every deadline in src/ is measured on. */
#ifndef PYEXECD_CLOCK_H
#define PYEXECD_CLOCK_H

/* Milliseconds since an arbitrary start (CLOCK_MONOTONIC). */
long long now_ms(void);

#endif
