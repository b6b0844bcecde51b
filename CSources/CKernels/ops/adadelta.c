/* Adadelta driver: fixed chunks of variables, each updated by the table's kernel. */
#include "ck_internal.h"

typedef struct {
    const ck_kernel_table *k;
    size_t n;
    float *w, *Eg, *Ed;
    const float *g;
    float lr, rho, eps;
} adadelta_job;

#define ADADELTA_CHUNK 16384

static void adadelta_task(size_t task, int thread, void *arg) {
    adadelta_job *j = arg;
    size_t i = task * ADADELTA_CHUNK, n = j->n - i < ADADELTA_CHUNK ? j->n - i : ADADELTA_CHUNK;
    j->k->adadelta(n, j->w + i, j->g + i, j->Eg + i, j->Ed + i, j->lr, j->rho, j->eps);
}

void ck_adadelta(ck_ctx *ctx, size_t n, float *w, const float *g, float *Eg, float *Ed, float lr, float rho, float eps) {
    adadelta_job j = {ctx->k, n, w, Eg, Ed, g, lr, rho, eps};
    if (n <= ADADELTA_CHUNK) { adadelta_task(0, 0, &j); return; }
    ck_pool_run(ctx->pool, (n + ADADELTA_CHUNK - 1) / ADADELTA_CHUNK, adadelta_task, &j);
}
