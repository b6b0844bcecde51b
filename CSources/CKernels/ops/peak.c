/* Peak-FLOPS measurement: each thread runs the table's FMA loop for a fixed time and divides
 * its FLOPs by its own CPU time (CLOCK_THREAD_CPUTIME_ID, as ../shared/anchors/peak_flops.c):
 * time the thread spent preempted by other tenants does not lower the peak, so every
 * "% of peak" has the same denominator on a busy machine. */
#include "ck_internal.h"
#include <time.h>

typedef struct { const ck_kernel_table *k; double seconds; double flops[256]; } peak_job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ck_thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void peak_task(size_t t, int thread, void *arg) {
    peak_job *j = arg;
    double t0 = now_s(), c0 = ck_thread_cpu_seconds(), flops = 0.0;
    while (now_s() - t0 < j->seconds) flops += (double)j->k->peak_loop(1u << 20);
    double c = ck_thread_cpu_seconds() - c0;
    j->flops[t] = flops / (c > 0.0 ? c : now_s() - t0);
}

double ck_measure_peak_gflops(const ck_ctx *ctx, int threads, double seconds) {
    if (threads < 1) threads = 1;
    if (threads > ctx->threads) threads = ctx->threads;
    peak_job j = {.k = ctx->k, .seconds = seconds};
    /* one task per thread: the pool hands each thread one task when all are free */
    ck_pool_run(ctx->pool, (size_t)threads, peak_task, &j);
    double total = 0.0;
    for (int i = 0; i < threads; i++) total += j.flops[i];
    return total * 1e-9;
}
