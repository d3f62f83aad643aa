#include "admission.h"

#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../modes/jail.h"
#include "config.h"
#include "log.h"
#include "supervisor.h"

static const struct config *cfg;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static TAILQ_HEAD(, job) queue = TAILQ_HEAD_INITIALIZER(queue);
static int queued, running, nworkers;
static bool draining, stopping;
static pthread_t *workers;

static struct job *take(void)
{
    struct job *j;
    pthread_mutex_lock(&lock);
    while ((j = TAILQ_FIRST(&queue)) == NULL && !stopping)
        pthread_cond_wait(&wake, &lock);
    if (j != NULL) {
        TAILQ_REMOVE(&queue, j, link);
        queued--;
        running++;
        j->state = JOB_RUNNING;
        if (draining)
            result_fail(&j->res, ERR_BUSY, "the server is shutting down");
    }
    pthread_mutex_unlock(&lock);
    return j;
}

/* A sandbox made ahead of time serves a later request; a waiting request is served at once
 * instead, with one made on demand (the same work, sooner for it). */
static bool should_prepare(void)
{
    pthread_mutex_lock(&lock);
    bool yes = !draining && !stopping && queued == 0;
    pthread_mutex_unlock(&lock);
    return yes;
}

static void *worker(void *arg)
{
    struct jail_slot *slot = jail_slot_get((int)(intptr_t)arg);
    struct job *j;
    jail_slot_prepare(slot);
    while ((j = take()) != NULL) {
        if (j->res.err == ERR_NONE)
            supervisor_run(cfg, slot, j->script, j->len, &j->res);
        pthread_mutex_lock(&lock);
        running--;
        j->state = JOB_DONE;
        pthread_mutex_unlock(&lock);
        /* Hand the job back to the HTTP thread; it owns (and frees) it from here on. */
        event_active(j->done_ev, EV_READ, 0);
        if (should_prepare())
            jail_slot_prepare(slot);
    }
    return NULL;
}

int admission_init(const struct config *c)
{
    sigset_t all, old;
    cfg = c;
    workers = calloc((size_t)c->max_sandboxes, sizeof(*workers));
    if (workers == NULL)
        return -1;
    /* Workers take no signals: the HTTP thread handles SIGTERM/SIGINT. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (nworkers = 0; nworkers < c->max_sandboxes; nworkers++) {
        if (pthread_create(&workers[nworkers], NULL, worker, (void *)(intptr_t)nworkers) != 0) {
            log_error("could not start sandbox worker %d", nworkers);
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (nworkers < c->max_sandboxes) {
        admission_shutdown();
        return -1;
    }
    return 0;
}

int admission_submit(struct job *j)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (draining || queued + running >= cfg->max_sandboxes + cfg->queue_length) {
        rc = -1;
    } else {
        j->state = JOB_QUEUED;
        TAILQ_INSERT_TAIL(&queue, j, link);
        queued++;
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

bool admission_cancel(struct job *j)
{
    bool was_queued;
    pthread_mutex_lock(&lock);
    was_queued = j->state == JOB_QUEUED;
    if (was_queued) {
        TAILQ_REMOVE(&queue, j, link);
        queued--;
        j->state = JOB_CANCELLED;
    }
    pthread_mutex_unlock(&lock);
    return was_queued;
}

void admission_drain(void)
{
    pthread_mutex_lock(&lock);
    draining = true;
    pthread_mutex_unlock(&lock);
}

void admission_stats(int *r, int *q)
{
    pthread_mutex_lock(&lock);
    *r = running;
    *q = queued;
    pthread_mutex_unlock(&lock);
}

void admission_shutdown(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    free(workers);
    workers = NULL;
    nworkers = 0;
}
