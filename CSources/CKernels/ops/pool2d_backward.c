/* Pooling backward: each window's gradient goes to the position the forward pass picked
 * (max: the first maximum in (ky, kx) order, or the last NaN, by the forward's own
 * compare) or is shared by its divisor (average). Windows overlap, so gradients are summed:
 * one task per image keeps the order of the sums fixed at any thread count. Cheap next to
 * the convolutions, so plain C for every ISA; kernel_check checks it by finite differences. */
#include "ck_internal.h"
#include <math.h>
#include <string.h>

typedef struct { const ck_pool2d_desc *d; const float *in, *dy; float *dx; int is_max; } pool_bwd_job;

static void pool_bwd_image(size_t n, int thread, void *arg) {
    const pool_bwd_job *j = arg;
    const ck_pool2d_desc *d = j->d;
    int oh_n = ck_pool2d_out_h(d), ow_n = ck_pool2d_out_w(d);
    size_t C = (size_t)d->c, plane = (size_t)d->h * d->w * C;
    const float *in = j->in + n * plane;
    float *dx = j->dx + n * plane;
    memset(dx, 0, plane * sizeof(float));
    for (int oh = 0; oh < oh_n; oh++) {
        int h0 = oh * d->sh - d->pad_top;
        int ky0 = h0 < 0 ? -h0 : 0, ky1 = h0 + d->kh > d->h ? d->h - h0 : d->kh;
        int hs = h0 < -d->pad_top ? -d->pad_top : h0, he = h0 + d->kh;
        if (he > d->h + d->pad_bottom) he = d->h + d->pad_bottom;
        for (int ow = 0; ow < ow_n; ow++) {
            const float *g = j->dy + (((size_t)n * oh_n + oh) * ow_n + ow) * C;
            int w0 = ow * d->sw - d->pad_left;
            int kx0 = w0 < 0 ? -w0 : 0, kx1 = w0 + d->kw > d->w ? d->w - w0 : d->kw;
            if (ky0 >= ky1 || kx0 >= kx1) continue;
            if (j->is_max) {
                for (size_t c = 0; c < C; c++) {
                    float m = -INFINITY;
                    size_t at = 0;
                    for (int ky = ky0; ky < ky1; ky++)
                        for (int kx = kx0; kx < kx1; kx++) {
                            size_t p = ((size_t)(h0 + ky) * d->w + w0 + kx) * C + c;
                            float v = in[p];
                            if (v > m || v != v || (ky == ky0 && kx == kx0)) { m = v; at = p; }
                        }
                    dx[at] += g[c];
                }
            } else {
                int ws = w0 < -d->pad_left ? -d->pad_left : w0, we = w0 + d->kw;
                if (we > d->w + d->pad_right) we = d->w + d->pad_right;
                int count = (ky1 - ky0) * (kx1 - kx0);
                int div = d->count_include_pad ? (he - hs) * (we - ws) : count;
                if (div <= 0) continue;
                float fdiv = (float)div;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        float *px = dx + ((size_t)(h0 + ky) * d->w + w0 + kx) * C;
                        for (size_t c = 0; c < C; c++) px[c] += g[c] / fdiv;
                    }
            }
        }
    }
}

static void pool_bwd(ck_ctx *ctx, const ck_pool2d_desc *d, const float *in, const float *dy, float *dx, int is_max) {
    pool_bwd_job j = {d, in, dy, dx, is_max};
    ck_pool_run(ctx->pool, (size_t)d->n, pool_bwd_image, &j);
}

void ck_maxpool2d_backward(ck_ctx *ctx, const ck_pool2d_desc *d, const float *in, const float *dy, float *dx) {
    pool_bwd(ctx, d, in, dy, dx, 1);
}
void ck_avgpool2d_backward(ck_ctx *ctx, const ck_pool2d_desc *d, const float *dy, float *dx) {
    pool_bwd(ctx, d, NULL, dy, dx, 0);
}
