/* A small blocking thread pool: idle workers sleep on a condition variable, so
 * a process waiting between jobs uses no CPU. The caller's thread works too. */
#include "ck_internal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct ck_pool {
    int threads;                 /* including the caller */
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    unsigned long generation;    /* bumped per job */
    int running;                 /* workers still busy with the current job */
    int stop;
    size_t ntasks;
    ck_task_fn fn;
    void *arg;
    _Atomic size_t next;
};

typedef struct { ck_pool *p; int id; } worker_arg;

static void run_tasks(ck_pool *p, int id) {
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->ntasks) break;
        p->fn(t, id, p->arg);
    }
}

static void *worker(void *varg) {
    worker_arg *wa = varg;
    ck_pool *p = wa->p;
    int id = wa->id;
    free(wa);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->start_cv, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, id);
        pthread_mutex_lock(&p->mu);
        if (--p->running == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ck_pool *ck_pool_create(int threads) {
    ck_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (threads > 1) {
        p->tids = calloc((size_t)threads - 1, sizeof(pthread_t));
        if (!p->tids) { free(p); return NULL; }
        for (int i = 1; i < threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa) { p->threads = i; break; }
            wa->p = p;
            wa->id = i;
            if (pthread_create(&p->tids[i - 1], NULL, worker, wa) != 0) {
                free(wa);
                p->threads = i;
                break;
            }
        }
    }
    return p;
}

void ck_pool_destroy(ck_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++) pthread_join(p->tids[i - 1], NULL);
    free(p->tids);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p);
}

void ck_pool_run(ck_pool *p, size_t ntasks, ck_task_fn fn, void *arg) {
    if (ntasks == 0) return;
    if (p->threads <= 1 || ntasks == 1) {
        for (size_t t = 0; t < ntasks; t++) fn(t, 0, arg);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->running = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->running > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
