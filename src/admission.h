/* Admission: at most max_sandboxes scripts run at once (one worker thread per jail slot), at
 * most queue_length wait; beyond that the caller answers 503. */
#ifndef PYEXECD_ADMISSION_H
#define PYEXECD_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "result.h"

struct config;
struct event;

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_CANCELLED };

struct job {
    char *script;
    size_t len;
    struct event *done_ev; /* activated from the worker when res is filled in */
    struct exec_result res;
    enum job_state state;
    TAILQ_ENTRY(job) link;
};

int admission_init(const struct config *cfg);
/* Queues the job, or returns -1 when every sandbox is busy and the queue is full. */
int admission_submit(struct job *j);
/* Takes a job that is still waiting off the queue; false if a worker already has it. */
bool admission_cancel(struct job *j);
/* From now on, waiting jobs are answered ServerBusy without running. */
void admission_drain(void);
void admission_stats(int *running, int *queued);
/* Stops and joins the workers (the queue must be empty). */
void admission_shutdown(void);

#endif
