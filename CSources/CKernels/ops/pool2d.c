/* Pooling drivers: max and average pooling over rows of (n, oh) split over threads,
 * channels innermost so the compiler vectorises; global average pooling.
 * in [n, h, w, c], out [n, oh, ow, c]. */
#include "ck_internal.h"
#include <math.h>

typedef struct { const ck_pool2d_desc *d; const float *in; float *out; int is_max, rows_per; } pool_job;

/* Max pooling of output rows [r0, r1): compare-select per channel; the same result as the
 * reference (NaN propagates). */
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

/* Average pooling of output rows [r0, r1): the reference's arithmetic per channel (a float
 * sum over the in-image taps in (ky, kx) order, then one division by the same divisor). */
static void avgpool_rows(const ck_pool2d_desc *d, const float *in, float *out, int r0, int r1) {
    int oh_n = ck_pool2d_out_h(d), ow_n = ck_pool2d_out_w(d);
    size_t C = (size_t)d->c;
    for (int row = r0; row < r1; row++) {
        int n = row / oh_n, oh = row % oh_n;
        int h0 = oh * d->sh - d->pad_top;
        int ky0 = h0 < 0 ? -h0 : 0, ky1 = h0 + d->kh > d->h ? d->h - h0 : d->kh;
        /* the full window clipped to the padded extent, as PyTorch */
        int hs = h0 < -d->pad_top ? -d->pad_top : h0, he = h0 + d->kh;
        if (he > d->h + d->pad_bottom) he = d->h + d->pad_bottom;
        for (int ow = 0; ow < ow_n; ow++) {
            float *o = out + (((size_t)n * oh_n + oh) * ow_n + ow) * C;
            int w0 = ow * d->sw - d->pad_left;
            int kx0 = w0 < 0 ? -w0 : 0, kx1 = w0 + d->kw > d->w ? d->w - w0 : d->kw;
            int ws = w0 < -d->pad_left ? -d->pad_left : w0, we = w0 + d->kw;
            if (we > d->w + d->pad_right) we = d->w + d->pad_right;
            int count = (ky0 < ky1 && kx0 < kx1) ? (ky1 - ky0) * (kx1 - kx0) : 0;
            int div = d->count_include_pad ? (he - hs) * (we - ws) : count;
            if (div <= 0) {
                for (size_t c = 0; c < C; c++) o[c] = 0.0f;
                continue;
            }
            for (size_t c = 0; c < C; c++) o[c] = 0.0f;
            for (int ky = ky0; ky < ky1 && count; ky++)
                for (int kx = kx0; kx < kx1; kx++) {
                    const float *px = in + (((size_t)n * d->h + h0 + ky) * d->w + w0 + kx) * C;
                    for (size_t c = 0; c < C; c++) o[c] += px[c];
                }
            float fdiv = (float)div;
            for (size_t c = 0; c < C; c++) o[c] = o[c] / fdiv;
        }
    }
}

static void pool_task(size_t t, int thread, void *arg) {
    const pool_job *j = arg;
    int total = j->d->n * ck_pool2d_out_h(j->d);
    int r0 = (int)t * j->rows_per, r1 = r0 + j->rows_per > total ? total : r0 + j->rows_per;
    if (j->is_max) maxpool_rows(j->d, j->in, j->out, r0, r1);
    else avgpool_rows(j->d, j->in, j->out, r0, r1);
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
