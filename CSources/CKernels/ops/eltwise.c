/* Drivers of the element-wise ops and softmax. Work is split into fixed chunks; each chunk
 * runs the table's kernel. */
#include "ck_internal.h"
#include <math.h>

#define CHUNK 16384

typedef struct {
    const ck_kernel_table *k;
    size_t count, rows, c;
    const float *a, *b, *p0, *p1;
    float *out;
    int op;
} elt_job;

enum { OP_RELU, OP_ADD, OP_AFFINE, OP_PRELU };

static void elt_task(size_t t, int thread, void *arg) {
    const elt_job *j = arg;
    if (j->op == OP_RELU || j->op == OP_ADD) {
        size_t i0 = t * CHUNK, n = ck_min(CHUNK, j->count - i0);
        if (j->op == OP_RELU) j->k->relu(n, j->a + i0, j->out + i0);
        else j->k->add(n, j->a + i0, j->b + i0, j->out + i0);
        return;
    }
    size_t rows_per = CHUNK / j->c ? CHUNK / j->c : 1;
    size_t r0 = t * rows_per, n = ck_min(rows_per, j->rows - r0);
    const float *in = j->a + r0 * j->c;
    float *out = j->out + r0 * j->c;
    if (j->op == OP_AFFINE) j->k->affine(n, j->c, in, j->p0, j->p1, out);
    else j->k->prelu(n, j->c, in, j->p0, NULL, out);
}

static void run_flat(ck_ctx *ctx, elt_job *j) {
    ck_pool_run(ctx->pool, (j->count + CHUNK - 1) / CHUNK, elt_task, j);
}

static void run_rows(ck_ctx *ctx, elt_job *j) {
    if (j->c == 0) return;
    size_t rows_per = CHUNK / j->c ? CHUNK / j->c : 1;
    ck_pool_run(ctx->pool, (j->rows + rows_per - 1) / rows_per, elt_task, j);
}

void ck_relu(ck_ctx *ctx, size_t count, const float *in, float *out) {
    elt_job j = {.k = ctx->k, .count = count, .a = in, .out = out, .op = OP_RELU};
    run_flat(ctx, &j);
}

void ck_add(ck_ctx *ctx, size_t count, const float *a, const float *b, float *out) {
    elt_job j = {.k = ctx->k, .count = count, .a = a, .b = b, .out = out, .op = OP_ADD};
    run_flat(ctx, &j);
}

void ck_affine_channels(ck_ctx *ctx, size_t rows, size_t c, const float *in, const float *scale,
                        const float *shift, float *out) {
    elt_job j = {.k = ctx->k, .rows = rows, .c = c, .a = in, .p0 = scale, .p1 = shift, .out = out,
                 .op = OP_AFFINE};
    run_rows(ctx, &j);
}

void ck_prelu(ck_ctx *ctx, size_t rows, size_t c, const float *in, const float *alpha, float *out) {
    elt_job j = {.k = ctx->k, .rows = rows, .c = c, .a = in, .p0 = alpha, .out = out, .op = OP_PRELU};
    run_rows(ctx, &j);
}

void ck_softmax(ck_ctx *ctx, size_t rows, size_t c, const float *in, float *out) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = in + r * c;
        float *y = out + r * c;
        float mx = -INFINITY;
        for (size_t j = 0; j < c; j++) mx = x[j] > mx ? x[j] : mx;
        double sum = 0.0;
        for (size_t j = 0; j < c; j++) {
            y[j] = expf(x[j] - mx);
            sum += y[j];
        }
        float inv = (float)(1.0 / sum);
        for (size_t j = 0; j < c; j++) y[j] *= inv;
    }
}
