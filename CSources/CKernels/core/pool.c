/* A small thread pool. Workers wait for a job by polling briefly and then sleeping on a
 * condition variable, so back-to-back jobs start without a wake-up through the kernel (40 us
 * -> 0.3 us per job on this 2-vCPU Zen 5 VM) and a process idle between jobs uses no CPU
 * after CK_SPIN polls. The caller's thread works too, and waits for the others the same
 * way. Which thread runs a task never changes its result. */
#include "ck_internal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Polls before sleeping, about 100 us here, by workers waiting for a job and by the caller
 * waiting for the workers: the model's layers leave gaps of 20-100 us between jobs
 * (mini-Xception at b32 on this Zen 5 VM: 24 -> 9 ms; a 20 us spin gave 22). The price: a job
 * after the workers fell asleep starts in about 50 us instead of 10, once per idle period.
 * Plain load loops: with PAUSE in them, waits here grew from 10 to 95 us (a hypervisor's
 * pause-loop exits, presumably); a caller that polled for only 5 us slept through the end of
 * most layers, and VGG16 at b1 varied from 28 to 35 ms. */
#define CK_SPIN 100000
#define CK_RELAX() __asm__ __volatile__("" ::: "memory")

struct ck_pool {
    int threads;                 /* including the caller */
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    _Atomic unsigned long generation;   /* bumped per job, after the job's fields are set */
    _Atomic int running;                /* workers still busy with the current job */
    _Atomic int stop;
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
    for (;;) {
        for (int i = 0; i < CK_SPIN && atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
                        !atomic_load_explicit(&p->stop, memory_order_relaxed);
             i++)
            CK_RELAX();
        if (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            /* the caller bumps the generation before it takes the lock to broadcast, so a
             * check under the lock cannot miss the wake-up */
            pthread_mutex_lock(&p->mu);
            while (!atomic_load(&p->stop) && atomic_load(&p->generation) == seen) pthread_cond_wait(&p->start_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        run_tasks(p, id);
        if (atomic_fetch_sub_explicit(&p->running, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
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
    atomic_store(&p->stop, 1);
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
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->running, p->threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    for (int i = 0; i < CK_SPIN && atomic_load_explicit(&p->running, memory_order_acquire) > 0; i++) CK_RELAX();
    if (atomic_load_explicit(&p->running, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->running) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
