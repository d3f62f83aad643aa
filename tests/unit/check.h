/* A minimal test harness: CHECK records a failure and goes on; main prints the totals. */
#ifndef PYEXECD_CHECK_H
#define PYEXECD_CHECK_H

#include <stdio.h>
#include <string.h>

static int checks_passed, checks_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            checks_passed++;                                                                       \
        } else {                                                                                   \
            checks_failed++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want) CHECK((got) != NULL && strcmp((got), (want)) == 0)

static inline int check_report(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif
