/* Drivers of the element-wise ops, pooling, softmax and the peak measurement.
 * Work is split into fixed chunks; each chunk runs the table's kernel. */
#include "ck_internal.h"
#include <math.h>
#include <time.h>

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

void ck_batchnorm_fold(size_t c, const float *gamma, const float *beta, const float *mean,
                       const float *var, float eps, float *scale, float *shift) {
    for (size_t i = 0; i < c; i++) {
        float s = (gamma ? gamma[i] : 1.0f) / sqrtf(var[i] + eps);
        scale[i] = s;
        shift[i] = (beta ? beta[i] : 0.0f) - mean[i] * s;
    }
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

void ck_global_avgpool(ck_ctx *ctx, int n, int hw, int c, const float *in, float *out) {
    for (int b = 0; b < n; b++)
        for (int c0 = 0; c0 < c; c0 += 256) {
            int cn = c - c0 < 256 ? c - c0 : 256;
            double acc[256] = {0};
            const float *base = in + (size_t)b * hw * c + c0;
            for (int p = 0; p < hw; p++)
                for (int j = 0; j < cn; j++) acc[j] += base[(size_t)p * c + j];
            for (int j = 0; j < cn; j++) out[(size_t)b * c + c0 + j] = (float)(acc[j] / hw);
        }
}

/* ---- pooling: rows of (n, oh) split over threads ---- */


typedef struct { const ck_pool2d_desc *d; const float *in; float *out; int is_max, rows_per; } pool_job;

/* Max pooling of output rows [r0, r1): channels innermost so the compiler vectorises the
 * compare-select; the same result as the reference (NaN propagates). */
static void maxpool_rows(const ck_pool2d_desc *d, const float *in, float *out, int r0, int r1) {
    int oh_n = ck_pool2d_out_h(d), ow_n = ck_pool2d_out_w(d);
    size_t C = (size_t)d->c;
    for (int row = r0; row < r1; row++) {
        int n = row / oh_n, oh = row % oh_n;
        int h0 = oh * d->sh - d->pad_top;
        int ky0 = h0 < 0 ? -h0 : 0, ky1 = h0 + d->kh > d->h ? d->h - h0 : d->kh;
        for (int ow = 0; ow < ow_n; ow++) {
            float *o = out + (((size_t)n * oh_n + oh) * ow_n + ow) * C;
            int w0 = ow * d->sw - d->pad_left;
            int kx0 = w0 < 0 ? -w0 : 0, kx1 = w0 + d->kw > d->w ? d->w - w0 : d->kw;
            if (ky0 >= ky1 || kx0 >= kx1) {
                for (size_t c = 0; c < C; c++) o[c] = 0.0f;
                continue;
            }
            for (size_t c = 0; c < C; c++) o[c] = -INFINITY;
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++) {
                    const float *px = in + (((size_t)n * d->h + h0 + ky) * d->w + w0 + kx) * C;
                    for (size_t c = 0; c < C; c++) {
                        float v = px[c], m = o[c];
                        o[c] = (v > m || v != v) ? v : m;
                    }
                }
        }
    }
}

static void pool_task(size_t t, int thread, void *arg) {
    const pool_job *j = arg;
    int total = j->d->n * ck_pool2d_out_h(j->d);
    int r0 = (int)t * j->rows_per, r1 = r0 + j->rows_per > total ? total : r0 + j->rows_per;
    if (j->is_max) maxpool_rows(j->d, j->in, j->out, r0, r1);
    else ck_pool2d_rows_ref(j->d, j->in, j->out, 0, r0, r1);
}

static void pool_run(ck_ctx *ctx, const ck_pool2d_desc *d, const float *in, float *out, int is_max) {
    int total = d->n * ck_pool2d_out_h(d);
    pool_job j = {d, in, out, is_max, 4};
    ck_pool_run(ctx->pool, (size_t)(total + j.rows_per - 1) / (size_t)j.rows_per, pool_task, &j);
}

void ck_maxpool2d(ck_ctx *ctx, const ck_pool2d_desc *d, const float *in, float *out) {
    pool_run(ctx, d, in, out, 1);
}
void ck_avgpool2d(ck_ctx *ctx, const ck_pool2d_desc *d, const float *in, float *out) {
    pool_run(ctx, d, in, out, 0);
}

/* ---- peak FLOPS ---- */

typedef struct { const ck_kernel_table *k; double seconds; double flops[256]; } peak_job;

static uint64_t peak_loop(ck_isa isa, uint64_t iters) {
    switch (isa) {
#if defined(__x86_64__)
    case CK_ISA_AVX2: return ck_peak_loop_avx2(iters);
    case CK_ISA_AVX512: return ck_peak_loop_avx512(iters);
#endif
#if defined(__aarch64__)
    case CK_ISA_NEON: return ck_peak_loop_neon(iters);
#endif
    default: return ck_peak_loop_scalar(iters);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void peak_task(size_t t, int thread, void *arg) {
    peak_job *j = arg;
    double t0 = now_s(), flops = 0.0;
    while (now_s() - t0 < j->seconds) flops += (double)peak_loop(j->k->isa, 1u << 20);
    j->flops[t] = flops / (now_s() - t0);
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
