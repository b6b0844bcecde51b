/* Winograd F(2x2, 3x3) convolution, NHWC, stride 1, no dilation, groups 1.
 * Each 2x2 output tile comes from a 4x4 input tile: V = B^T d B per channel, then for each
 * of the 16 positions xi a GEMM M[xi] = V[xi] (tiles x cin) U[xi] (cin x cout) with the
 * transformed weights U = G g G^T packed once, then Y = A^T M A + bias. 16 multiplies per
 * output tile and channel pair instead of 36. Tiles are processed in blocks; every output
 * element is computed by one fixed sequence, whatever the thread split. */
#include "ck_gemm_driver.h"
#include "ck_winograd.h"
#include <string.h>

#define WINO_PANELS 4   /* tile block = MR x WINO_PANELS tiles */

int ck_winograd_applies(const ck_conv2d_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 &&
           d->groups == 1;
}

size_t ck_winograd_packed_size(const ck_ctx *ctx, const ck_conv2d_desc *d) {
    return 16 * ck_packed_b_size(ctx, (size_t)d->cin, (size_t)d->cout);
}

/* U = G g G^T for every (ci, co), G = [[1,0,0],[1/2,1/2,1/2],[1/2,-1/2,1/2],[0,0,1]],
 * computed in double and written straight into the 16 GEMM right-hand sides in
 * ck_pack_b's layout (panel co / nr, column co % nr), so no [cin, cout] scratch is needed. */
void ck_winograd_pack(const ck_ctx *ctx, const ck_conv2d_desc *d, const float *w, float *packed) {
    size_t cin = (size_t)d->cin, cout = (size_t)d->cout, nr = (size_t)ctx->k->nr;
    size_t per = ck_packed_b_size(ctx, cin, cout), ncols = ck_npanels(cout, ctx->k->nr) * nr;
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            float *dst = packed + (size_t)(r * 4 + c) * per;
            for (size_t ci = 0; ci < cin; ci++) {
                for (size_t co = 0; co < cout; co++) {
                    double acc = 0.0;
                    for (int y = 0; y < 3; y++) {
                        const float *g = w + ((size_t)(y * 3) * cin + ci) * cout + co;
                        double row = G[c][0] * g[0] + G[c][1] * g[cin * cout] + G[c][2] * g[2 * cin * cout];
                        acc += G[r][y] * row;
                    }
                    dst[((co / nr) * cin + ci) * nr + co % nr] = (float)acc;
                }
                /* the last panel's columns past cout are zero, as ck_pack_b leaves them */
                for (size_t co = cout; co < ncols; co++) dst[((co / nr) * cin + ci) * nr + co % nr] = 0.0f;
            }
        }
}

static size_t block_tiles(const ck_ctx *ctx) { return (size_t)ctx->k->mr * WINO_PANELS; }

size_t ck_winograd_workspace_size(const ck_ctx *ctx, const ck_conv2d_desc *d) {
    size_t tb = block_tiles(ctx);
    /* per thread: V [16][tb][cin], M [16][tb][cout], tb row pointers, cin zeros */
    return (size_t)ctx->threads * (16 * tb * ((size_t)d->cin + (size_t)d->cout) + 2 * tb + (size_t)d->cin);
}

typedef struct {
    const ck_conv2d_desc *d;
    const ck_kernel_table *k;
    const float *in, *packed, *bias;
    float *out, *workspace;
    int oh_n, ow_n, th, tw;
    size_t tiles, blocks, per, ws_per_thread, tb;
} wino_job;

/* B^T applied across four vectors of n channels: o = (a0-a2, a1+a2, a2-a1, a1-a3).
 * Each index is read before it is written, so o may alias a. */
static inline void bt(const float *a0, const float *a1, const float *a2, const float *a3, float *o0,
                      float *o1, float *o2, float *o3, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x0 = a0[i], x1 = a1[i], x2 = a2[i], x3 = a3[i];
        o0[i] = x0 - x2;
        o1[i] = x1 + x2;
        o2[i] = x2 - x1;
        o3[i] = x1 - x3;
    }
}

/* V[xi][i][c] for tiles [t0, t0+nt) of image `img`; rows past nt are zero. Pixels
 * outside the image read from `zeros` (cin floats), so the channel loop vectorises. */
static void input_transform(const wino_job *j, const float *img, size_t t0, size_t nt, size_t tb,
                            const float *zeros, float *V) {
    const ck_conv2d_desc *d = j->d;
    size_t cin = (size_t)d->cin, xs = tb * cin;   /* xs: stride between xi planes */
    for (size_t i = 0; i < tb; i++) {
        float *v = V + i * cin;
        if (i >= nt) {
            for (int xi = 0; xi < 16; xi++) memset(v + (size_t)xi * xs, 0, cin * sizeof(float));
            continue;
        }
        size_t t = t0 + i;
        int ty = (int)(t / (size_t)j->tw), tx = (int)(t % (size_t)j->tw);
        int h0 = 2 * ty - d->pad_top, w0 = 2 * tx - d->pad_left;
        const float *px[16];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) {
                int ih = h0 + r, iw = w0 + c;
                px[r * 4 + c] = (ih >= 0 && ih < d->h && iw >= 0 && iw < d->w)
                    ? img + ((size_t)ih * d->w + (size_t)iw) * cin : zeros;
            }
        /* B^T d down each column c, then (B^T d) B along each row r, in place */
        for (int c = 0; c < 4; c++)
            bt(px[c], px[4 + c], px[8 + c], px[12 + c], v + (size_t)c * xs, v + (size_t)(4 + c) * xs,
               v + (size_t)(8 + c) * xs, v + (size_t)(12 + c) * xs, cin);
        for (int r = 0; r < 4; r++) {
            float *q = v + (size_t)(r * 4) * xs;
            bt(q, q + xs, q + 2 * xs, q + 3 * xs, q, q + xs, q + 2 * xs, q + 3 * xs, cin);
        }
    }
}

/* Y = A^T M A (+ bias, activation), A^T = [[1,1,1,0],[0,1,-1,-1]], cropped to the image. */
static void output_transform(const wino_job *j, float *out_img, size_t t0, size_t nt, size_t tb, const float *M) {
    const ck_conv2d_desc *d = j->d;
    size_t cout = (size_t)d->cout, xs = tb * cout;
    for (size_t i = 0; i < nt; i++) {
        size_t t = t0 + i;
        int ty = (int)(t / (size_t)j->tw), tx = (int)(t % (size_t)j->tw);
        const float *m = M + i * cout;
        int rows = 2 * ty + 1 < j->oh_n ? 2 : 1, cols = 2 * tx + 1 < j->ow_n ? 2 : 1;
        float *o00 = out_img + ((size_t)(2 * ty) * j->ow_n + (size_t)(2 * tx)) * cout;
        float *o01 = o00 + cout, *o10 = o00 + (size_t)j->ow_n * cout, *o11 = o10 + cout;
        for (size_t co = 0; co < cout; co++) {
            float a[16];
            for (int q = 0; q < 16; q++) a[q] = m[(size_t)q * xs + co];
            float s0[4], s1[4];
            for (int c = 0; c < 4; c++) {
                s0[c] = a[0 * 4 + c] + a[1 * 4 + c] + a[2 * 4 + c];
                s1[c] = a[1 * 4 + c] - a[2 * 4 + c] - a[3 * 4 + c];
            }
            float y00 = s0[0] + s0[1] + s0[2], y01 = s0[1] - s0[2] - s0[3];
            float y10 = s1[0] + s1[1] + s1[2], y11 = s1[1] - s1[2] - s1[3];
            if (j->bias) {
                float b = j->bias[co];
                y00 += b; y01 += b; y10 += b; y11 += b;
            }
            if (d->act == CK_ACT_RELU) {
                y00 = y00 > 0.0f ? y00 : 0.0f; y01 = y01 > 0.0f ? y01 : 0.0f;
                y10 = y10 > 0.0f ? y10 : 0.0f; y11 = y11 > 0.0f ? y11 : 0.0f;
            }
            o00[co] = y00;
            if (cols == 2) o01[co] = y01;
            if (rows == 2) {
                o10[co] = y10;
                if (cols == 2) o11[co] = y11;
            }
        }
    }
}

static void wino_task(size_t task, int thread, void *arg) {
    const wino_job *j = arg;
    const ck_conv2d_desc *d = j->d;
    const ck_kernel_table *k = j->k;
    size_t n = task / j->blocks, blk = task % j->blocks;
    size_t mr = (size_t)k->mr, nr = (size_t)k->nr, tb = mr * WINO_PANELS;
    size_t cin = (size_t)d->cin, cout = (size_t)d->cout;
    tb = j->tb;
    size_t t0 = blk * tb, nt = ck_min(tb, j->tiles - t0);
    float *V = j->workspace + (size_t)thread * j->ws_per_thread;
    float *M = V + 16 * tb * cin;
    const float **rows = (const float **)(void *)(M + 16 * tb * cout);
    float *zeros = M + 16 * tb * cout + 2 * tb;
    memset(zeros, 0, cin * sizeof(float));
    const float *img = j->in + n * (size_t)d->h * d->w * cin;
    input_transform(j, img, t0, nt, tb, zeros, V);
    size_t np = (cout + nr - 1) / nr, npan = (nt + mr - 1) / mr;
    for (int xi = 0; xi < 16; xi++) {
        const float *Vx = V + (size_t)xi * tb * cin;
        float *Mx = M + (size_t)xi * tb * cout;
        const float *U = j->packed + (size_t)xi * j->per;
        for (size_t k0 = 0; k0 < cin; k0 += CK_KC) {
            size_t kc = ck_min(CK_KC, cin - k0);
            for (size_t i = 0; i < npan * mr; i++) rows[i] = Vx + i * cin + k0;
            for (size_t p = 0; p < np; p++)
                for (size_t r = 0; r < npan; r++)
                    k->gemm_ukernel_indirect(kc, rows + r * mr, U + p * cin * nr + k0 * nr,
                                             Mx + r * mr * cout + p * nr, cout, ck_min(mr, nt - r * mr),
                                             ck_min(nr, cout - p * nr), k0 == 0, 0, NULL, CK_ACT_NONE);
        }
    }
    output_transform(j, j->out + n * (size_t)j->oh_n * j->ow_n * cout, t0, nt, tb, M);
}

void ck_winograd_conv(ck_ctx *ctx, const ck_conv2d_desc *d, const float *in, const float *packed,
                      const float *bias, float *out, float *workspace) {
    wino_job j = {.d = d, .k = ctx->k, .in = in, .packed = packed, .bias = bias, .out = out,
                  .workspace = workspace, .oh_n = ck_conv2d_out_h(d), .ow_n = ck_conv2d_out_w(d)};
    j.th = (j.oh_n + 1) / 2;
    j.tw = (j.ow_n + 1) / 2;
    j.tiles = (size_t)j.th * j.tw;
    /* the block size (1 to WINO_PANELS micro-panels) that minimises the busiest thread's
     * tiles, preferring larger blocks on ties */
    size_t mr = (size_t)ctx->k->mr, best = 0;
    for (size_t p = WINO_PANELS; p >= 1; p--) {
        size_t tb = mr * p, tasks = (size_t)d->n * ((j.tiles + tb - 1) / tb);
        size_t load = (tasks + (size_t)ctx->threads - 1) / (size_t)ctx->threads * tb;
        if (best == 0 || load < best) { best = load; j.tb = tb; }
    }
    j.blocks = (j.tiles + j.tb - 1) / j.tb;
    j.per = ck_packed_b_size(ctx, (size_t)d->cin, (size_t)d->cout);
    j.ws_per_thread = ck_winograd_workspace_size(ctx, d) / (size_t)ctx->threads;
    ck_pool_run(ctx->pool, (size_t)d->n * j.blocks, wino_task, &j);
}
