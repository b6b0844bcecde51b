/* Winograd convolution, NHWC, stride 1, no dilation, groups 1: F(m x m, 3x3) with m = 2
 * (4x4 input tiles), m = 4 (6x6 input tiles, interpolation points 0, 1, -1, 2, -2) or m = 6
 * (8x8 input tiles, points 0, 1, -1, 1/2, -1/2, 2, -2).
 * Each m x m output tile comes from an a x a input tile (a = m + 2): V = B^T d B per
 * channel, then for each of the a^2 positions xi a GEMM M[xi] = V[xi] (tiles x cin)
 * U[xi] (cin x cout) with the transformed weights U = G g G^T packed once, then
 * Y = A^T M A + bias. Multiplies per output and channel pair: 16/4 = 4 (m = 2), 36/16 = 2.25
 * (m = 4) or 64/36 = 1.78 (m = 6) instead of 9. The tile transforms are per ISA
 * (ck_winograd_body.h).
 * Tiles are processed in blocks; every output element is computed by one fixed sequence,
 * whatever the thread split. */
#include "ck_bf16.h"
#include "ck_gemm_driver.h"
#include "ck_winograd.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINO_PANELS 4   /* tile block = MR x WINO_PANELS tiles */

int ck_winograd_applies(const ck_conv2d_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 &&
           d->groups == 1;
}

static int positions(int m) { return (m + 2) * (m + 2); }

/* Floats (or, with bf16, uint32 bf16 pairs: also 4 bytes) of one position's packed U. */
static size_t per_position(const ck_ctx *ctx, const ck_conv2d_desc *d) {
    return d->bf16 ? ck_packed_b_bf16_size((size_t)d->cin, (size_t)d->cout)
                   : ck_packed_b_size(ctx, (size_t)d->cin, (size_t)d->cout);
}

size_t ck_winograd_packed_size(const ck_ctx *ctx, const ck_conv2d_desc *d, int m) {
    return (size_t)positions(m) * per_position(ctx, d);
}

/* G of F(2x2, 3x3) and of F(4x4, 3x3) (rows: the a transformed taps). */
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double G4[6][3] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
static const double G6[8][3] = {{1, 0, 0},
                                {-2.0 / 9, -2.0 / 9, -2.0 / 9},
                                {-2.0 / 9, 2.0 / 9, -2.0 / 9},
                                {1.0 / 90, 1.0 / 45, 2.0 / 45},
                                {1.0 / 90, -1.0 / 45, 2.0 / 45},
                                {32.0 / 45, 16.0 / 45, 8.0 / 45},
                                {32.0 / 45, -16.0 / 45, 8.0 / 45},
                                {0, 0, 1}};

/* U = G g G^T for every (ci, co), computed in double and written straight into the a^2 GEMM
 * right-hand sides in ck_pack_b's layout (panel co / nr, column co % nr), so no
 * [cin, cout] scratch is needed. */
void ck_winograd_pack(const ck_ctx *ctx, const ck_conv2d_desc *d, int m, const float *w, float *packed) {
    if (d->bf16) {
        /* U per position in fp32 (as below, through a one-panel layout), then rounded and
         * packed in the bf16 GEMM's layout */
        ck_conv2d_desc f = *d;
        f.bf16 = 0;
        size_t cin = (size_t)d->cin, cout = (size_t)d->cout, P = (size_t)positions(m);
        float *u = malloc(P * cin * cout * sizeof(float));
        ck_ctx *one = ck_ctx_create(CK_ISA_SCALAR, 1);
        float *tmp = one ? malloc(ck_winograd_packed_size(one, &f, m) * sizeof(float)) : NULL;
        if (!u || !one || !tmp) {   /* no way to return an error from packing: never wrong weights */
            fprintf(stderr, "ck_winograd_pack: out of memory\n");
            abort();
        }
        ck_winograd_pack(one, &f, m, w, tmp);
        size_t nr = (size_t)ck_gemm_nr(one), per = ck_packed_b_size(one, cin, cout);
        for (size_t xi = 0; xi < P; xi++)
            for (size_t ci = 0; ci < cin; ci++)
                for (size_t co = 0; co < cout; co++)
                    u[(xi * cin + ci) * cout + co] = tmp[xi * per + ((co / nr) * cin + ci) * nr + co % nr];
        for (size_t xi = 0; xi < P; xi++)
            ck_pack_b_bf16(cin, cout, u + xi * cin * cout, cout, (uint32_t *)(void *)packed + xi * per_position(ctx, d));
        free(u);
        free(tmp);
        ck_ctx_destroy(one);
        return;
    }
    size_t cin = (size_t)d->cin, cout = (size_t)d->cout, nr = (size_t)ctx->k->nr;
    size_t per = ck_packed_b_size(ctx, cin, cout), ncols = ck_npanels(cout, ctx->k->nr) * nr;
    int a = m + 2;
    const double(*G)[3] = m == 6 ? G6 : m == 4 ? G4 : G2;
    for (int r = 0; r < a; r++)
        for (int c = 0; c < a; c++) {
            float *dst = packed + (size_t)(r * a + c) * per;
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

/* Two schedules:
 * - blocks: each thread transforms a block of tiles, runs all P GEMMs on it and writes its
 *   outputs; U is read once per block. Blocks are as large as keeps their V and M within 3/4
 *   of L2 (1 to WINO_PANELS micro-panels), so the GEMMs and transforms read them from L2.
 * - chunks: up to CHUNK_FLOATS of V and M for many tiles (in L3); the threads transform the
 *   chunk's input, then split the P GEMMs between them (each U[xi] read once per chunk), then
 *   transform its output.
 * While U takes under a third of L3, reading it once per block costs less than the chunks'
 * trips of V and M through L3 (Zen 5, 56 x 56 x 256: 2.75 ms by L2-sized blocks, 3.1 by blocks of 48
 * tiles, 3.5 by chunks); beyond that it is evicted, and the schedule moving fewer floats wins
 * (28 x 28 x 512: chunks 3.1 ms, blocks 5.3; 14 x 14 x 512, F(2x2), U 16 MiB: 1.4 against 1.7). */
#define CHUNK_FLOATS ((size_t)3 << 20)   /* 12 MB of V and M */

typedef struct {
    int chunked;
    size_t tb;      /* tiles per block (blocks) or per chunk (chunks) */
} wino_plan;

static size_t tiles_of(const ck_conv2d_desc *d, int m) {
    size_t th = (size_t)((ck_conv2d_out_h(d) + m - 1) / m), tw = (size_t)((ck_conv2d_out_w(d) + m - 1) / m);
    return th * tw;
}

/* Tiles are numbered across the batch (image-major), so blocks and chunks may span images: a
 * 14 x 14 layer's 49 tiles per image no longer leave a block of one tile reading all of U. */
static wino_plan plan_for(const ck_ctx *ctx, const ck_conv2d_desc *d, int m) {
    size_t P = (size_t)positions(m), tiles = (size_t)d->n * tiles_of(d, m), mr = (size_t)ctx->k->mr;
    size_t cin = (size_t)d->cin, cout = (size_t)d->cout, threads = (size_t)ctx->threads;
    wino_plan p = {0, 0};
    size_t per_tile = P * (cin + cout), qmax = ctx->l2 * 3 / 4 / (per_tile * sizeof(float) * mr);
    qmax = qmax < 1 ? 1 : qmax > WINO_PANELS ? WINO_PANELS : qmax;
    /* the largest block size up to qmax unless a smaller one cuts the busiest thread's tiles by
     * more than 1/16 */
    size_t best = 0;
    for (size_t q = qmax; q >= 1; q--) {
        size_t tb = mr * q, tasks = (tiles + tb - 1) / tb;
        size_t load = (tasks + threads - 1) / threads * tb;
        if (best == 0 || load * 16 < best * 15) { best = load; p.tb = tb; }
    }
    double u = (double)P * (double)cin * (double)cout;
    if (u * sizeof(float) < (double)ctx->l3 / 3) return p;
    size_t blocks = (tiles + p.tb - 1) / p.tb;
    /* chunks: tiles per chunk within the budget, rounded to whole micro-panels */
    size_t ct = CHUNK_FLOATS / per_tile / mr * mr;
    if (ct == 0) return p;
    if (ct > tiles) ct = (tiles + mr - 1) / mr * mr;
    size_t chunks = (tiles + ct - 1) / ct;
    /* floats moved: U once per block, or U once per chunk plus V and M written and read back
     * through L3 */
    double by_blocks = u * (double)blocks, by_chunks = u * (double)chunks + 2.0 * (double)per_tile * (double)tiles;
    if (by_chunks < by_blocks) { p.chunked = 1; p.tb = ct; }
    return p;
}

/* uint32 bf16 pairs of `tb` tiles' rows, in bf16 GEMM panels, for one K block. */
static size_t bf16_rows(size_t tb, size_t cin) {
    size_t pairs = (cin + 1) / 2;
    return (tb + CK_BF16_MR - 1) / CK_BF16_MR * CK_BF16_MR * ck_min(CK_BF16_KC / 2, pairs);
}

/* Per-thread scratch beyond V and M: 2 tb row pointers, cin zeros, the block's rows as bf16
 * pairs (bf16) and one output tile (m x m x cout, for a fused pool). */
static size_t thread_scratch(const ck_conv2d_desc *d, int m, size_t tb) {
    size_t extra = d->bf16 ? bf16_rows(tb, (size_t)d->cin) : 0;
    return 2 * tb + (size_t)d->cin + extra + (size_t)(m * m) * (size_t)d->cout;
}

/* The output tile (for a fused pool) at the end of a thread's scratch, which starts at `s`. */
static float *scratch_tile(const ck_conv2d_desc *d, int m, size_t tb, float *s) {
    return s + thread_scratch(d, m, tb) - (size_t)(m * m) * (size_t)d->cout;
}

size_t ck_winograd_workspace_size(const ck_ctx *ctx, const ck_conv2d_desc *d, int m) {
    size_t P = (size_t)positions(m), threads = (size_t)ctx->threads;
    wino_plan p = plan_for(ctx, d, m);
    size_t cin = (size_t)d->cin, cout = (size_t)d->cout;
    /* blocks, per thread: V [P][tb][cin], M [P][tb][cout], then the thread's scratch;
     * chunks: V and M of one chunk, then each thread's scratch */
    if (!p.chunked) return threads * (P * p.tb * (cin + cout) + thread_scratch(d, m, p.tb));
    return P * p.tb * (cin + cout) + threads * thread_scratch(d, m, p.tb);
}

typedef struct {
    const ck_conv2d_desc *d;
    const ck_kernel_table *k;
    const float *in, *packed, *bias;
    float *out, *workspace;
    int m, a, oh_n, ow_n, tw;   /* tw: tiles per row */
    int pool;                   /* a 2x2 stride-2 max pool follows (ck_winograd_conv) */
    size_t tiles, blocks, per, ws_per_thread, tb;
    size_t kc;   /* the context's fp32 K block */
    /* chunks: the batch tile range in progress, V and M of the chunk, per-thread scratch */
    size_t c0, cn, group;
    float *V, *M, *scratch;
    ck_gemm_bf16_uk_fn uk_bf16;   /* set when d->bf16 */
} wino_job;

/* V[xi][i][c] for batch tiles [t0, t0+nt) into planes of stride xs. Pixels outside the image
 * read from `zeros` (cin floats), so the channel loop vectorises. */
static void input_transform(const wino_job *j, size_t t0, size_t nt, size_t xs, const float *zeros, float *V) {
    const ck_conv2d_desc *d = j->d;
    size_t cin = (size_t)d->cin;
    int a = j->a;
    for (size_t i = 0; i < nt; i++) {
        size_t t = (t0 + i) % j->tiles;
        const float *img = j->in + (t0 + i) / j->tiles * (size_t)d->h * d->w * cin;
        int ty = (int)(t / (size_t)j->tw), tx = (int)(t % (size_t)j->tw);
        int h0 = j->m * ty - d->pad_top, w0 = j->m * tx - d->pad_left;
        const float *px[64];
        for (int r = 0; r < a; r++)
            for (int c = 0; c < a; c++) {
                int ih = h0 + r, iw = w0 + c;
                px[r * a + c] = (ih >= 0 && ih < d->h && iw >= 0 && iw < d->w)
                    ? img + ((size_t)ih * d->w + (size_t)iw) * cin : zeros;
            }
        (j->m == 6 ? j->k->wino_in8 : j->m == 4 ? j->k->wino_in6 : j->k->wino_in4)(px, V + i * cin, xs, cin);
    }
}

/* Zero rows [from, to) of every plane of V (tiles a micro-panel reads past the last). */
static void zero_rows(const wino_job *j, float *V, size_t from, size_t to, size_t xs) {
    size_t cin = (size_t)j->d->cin;
    for (int xi = 0; xi < j->a * j->a; xi++)
        if (to > from) memset(V + (size_t)xi * xs + from * cin, 0, (to - from) * cin * sizeof(float));
}

/* The 2x2 max pools of one m x m output tile (in `tile`, pixel (r, c) at (r m + c) cout) into
 * the pooled image: ck_maxpool2d's comparisons in its order, so the same bits. */
static void pool_tile(const wino_job *j, const float *tile, float *pooled_img, int ty, int tx) {
    size_t cout = (size_t)j->d->cout;
    int m = j->m, h = m / 2, ph = j->oh_n / 2, pw = j->ow_n / 2;
    for (int pr = 0; pr < h && ty * h + pr < ph; pr++)
        for (int pc = 0; pc < h && tx * h + pc < pw; pc++) {
            const float *v[4];
            for (int q = 0; q < 4; q++) v[q] = tile + (size_t)((2 * pr + q / 2) * m + 2 * pc + q % 2) * cout;
            float *dst = pooled_img + ((size_t)(ty * h + pr) * (size_t)pw + (size_t)(tx * h + pc)) * cout;
            for (size_t c = 0; c < cout; c++) {
                float mx = -INFINITY;
                for (int q = 0; q < 4; q++) {
                    float x = v[q][c];
                    mx = (x > mx || x != x) ? x : mx;
                }
                dst[c] = mx;
            }
        }
}

/* Y = A^T M A (+ bias, activation) for batch tiles [t0, t0+nt), cropped to the image; with
 * j->pool, each tile goes to `tile` (m x m x cout) and is pooled from there. */
static void output_transform(const wino_job *j, size_t t0, size_t nt, size_t xs, const float *M, float *tile) {
    const ck_conv2d_desc *d = j->d;
    size_t cout = (size_t)d->cout;
    int m = j->m;
    size_t img_out = j->pool ? (size_t)(j->oh_n / 2) * (size_t)(j->ow_n / 2) : (size_t)j->oh_n * j->ow_n;
    for (size_t i = 0; i < nt; i++) {
        size_t t = (t0 + i) % j->tiles;
        float *out_img = j->out + (t0 + i) / j->tiles * img_out * cout;
        int ty = (int)(t / (size_t)j->tw), tx = (int)(t % (size_t)j->tw);
        int rows = j->oh_n - m * ty < m ? j->oh_n - m * ty : m;
        int cols = j->ow_n - m * tx < m ? j->ow_n - m * tx : m;
        float *o[36];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                o[r * m + c] = j->pool ? tile + (size_t)(r * m + c) * cout
                                       : out_img + ((size_t)(m * ty + r) * j->ow_n + (size_t)(m * tx + c)) * cout;
        (m == 6 ? j->k->wino_out6 : m == 4 ? j->k->wino_out4 : j->k->wino_out2)(M + i * cout, xs, o, rows, cols,
                                                                                j->bias, d->act, cout);
        if (j->pool) pool_tile(j, tile, out_img, ty, tx);
    }
}

/* M[xi] = V[xi] U[xi] for nt tiles (rows of V: stride cin, planes tb rows apart). */
static void position_gemm(const wino_job *j, size_t xi, size_t nt, size_t tb, const float *V, float *M,
                          const float **rows) {
    const ck_kernel_table *k = j->k;
    size_t mr = (size_t)k->mr, nr = (size_t)k->nr, cin = (size_t)j->d->cin, cout = (size_t)j->d->cout;
    size_t np = (cout + nr - 1) / nr, npan = (nt + mr - 1) / mr;
    const float *Vx = V + xi * tb * cin;
    float *Mx = M + xi * tb * cout;
    const float *U = j->packed + xi * j->per;
    for (size_t k0 = 0, kb = ck_kc_for(cin, j->kc); k0 < cin; k0 += kb) {
        size_t kc = ck_min(kb, cin - k0);
        for (size_t i = 0; i < npan * mr; i++) rows[i] = Vx + i * cin + k0;
        for (size_t p = 0; p < np; p++)
            for (size_t r = 0; r < npan; r++)
                k->gemm_ukernel_indirect(kc, rows + r * mr, U + p * cin * nr + k0 * nr, Mx + r * mr * cout + p * nr,
                                         cout, ck_min(mr, nt - r * mr), ck_min(nr, cout - p * nr), k0 == 0, 0, NULL,
                                         CK_ACT_NONE);
    }
}

/* position_gemm in bfloat16: V's rows rounded into bf16 GEMM panels (A, `buf`) per K block,
 * against U[xi] packed in bf16; the bf16 kernel has its own 12 x 32 tile. */
static void position_gemm_bf16(const wino_job *j, size_t xi, size_t nt, size_t tb, const float *V, float *M,
                               uint32_t *buf) {
    size_t cin = (size_t)j->d->cin, cout = (size_t)j->d->cout, kp = (cin + 1) / 2, kps = ck_bf16_kp_stride(cin);
    size_t np = (cout + CK_BF16_NR - 1) / CK_BF16_NR, npan = (nt + CK_BF16_MR - 1) / CK_BF16_MR;
    const float *Vx = V + xi * tb * cin;
    float *Mx = M + xi * tb * cout;
    const uint32_t *U = (const uint32_t *)(const void *)j->packed + xi * j->per;
    for (size_t q0 = 0; q0 < kp; q0 += CK_BF16_KC / 2) {
        size_t qn = ck_min(CK_BF16_KC / 2, kp - q0);
        size_t k0 = 2 * q0, kn = ck_min(2 * qn, cin - k0);
        for (size_t r = 0; r < npan * CK_BF16_MR; r++) {
            uint32_t *dst = buf + (r / CK_BF16_MR) * qn * CK_BF16_MR + r % CK_BF16_MR;
            if (r < nt) {
                ck_bf16_pairs_strided(j->k->bf16_row, Vx + r * cin + k0, kn, dst, CK_BF16_MR);
            } else {
                for (size_t q = 0; q < qn; q++) dst[q * CK_BF16_MR] = 0;
            }
        }
        for (size_t p = 0; p < np; p++)
            for (size_t r = 0; r < npan; r++)
                j->uk_bf16(qn, buf + r * qn * CK_BF16_MR, U + (p * kps + q0) * CK_BF16_NR,
                           Mx + r * CK_BF16_MR * cout + p * CK_BF16_NR, cout, ck_min(CK_BF16_MR, nt - r * CK_BF16_MR),
                           ck_min(CK_BF16_NR, cout - p * CK_BF16_NR), q0 == 0, 0, NULL, CK_ACT_NONE);
    }
}

static void block_task(size_t task, int thread, void *arg) {
    const wino_job *j = arg;
    const ck_conv2d_desc *d = j->d;
    size_t tb = j->tb, P = (size_t)(j->a * j->a), total = (size_t)d->n * j->tiles;
    size_t cin = (size_t)d->cin, cout = (size_t)d->cout, mr = (size_t)j->k->mr;
    size_t t0 = task * tb, nt = ck_min(tb, total - t0);
    float *V = j->workspace + (size_t)thread * j->ws_per_thread;
    float *M = V + P * tb * cin;
    const float **rows = (const float **)(void *)(M + P * tb * cout);
    float *zeros = M + P * tb * cout + 2 * tb;
    float *tile = scratch_tile(d, j->m, tb, M + P * tb * cout);
    memset(zeros, 0, cin * sizeof(float));
    input_transform(j, t0, nt, tb * cin, zeros, V);
    zero_rows(j, V, nt, ck_min(tb, (nt + mr - 1) / mr * mr), tb * cin);
    if (d->bf16) {
        uint32_t *buf = (uint32_t *)(void *)(zeros + cin);
        for (size_t xi = 0; xi < P; xi++) position_gemm_bf16(j, xi, nt, tb, V, M, buf);
    } else {
        for (size_t xi = 0; xi < P; xi++) position_gemm(j, xi, nt, tb, V, M, rows);
    }
    output_transform(j, t0, nt, tb * cout, M, tile);
}

/* chunks: groups of tiles through the input transform, positions through the GEMMs, groups
 * through the output transform; three pool runs per chunk */
static float *chunk_scratch(const wino_job *j, int thread) {
    return j->scratch + (size_t)thread * thread_scratch(j->d, j->m, j->tb);
}

static void chunk_in_task(size_t task, int thread, void *arg) {
    const wino_job *j = arg;
    const ck_conv2d_desc *d = j->d;
    size_t cin = (size_t)d->cin, g0 = task * j->group, gn = ck_min(j->group, j->cn - g0);
    float *zeros = chunk_scratch(j, thread) + 2 * j->tb;
    memset(zeros, 0, cin * sizeof(float));
    input_transform(j, j->c0 + g0, gn, j->tb * cin, zeros, j->V + g0 * cin);
}

static void chunk_gemm_task(size_t xi, int thread, void *arg) {
    const wino_job *j = arg;
    float *s = chunk_scratch(j, thread);
    if (j->d->bf16) {
        position_gemm_bf16(j, xi, j->cn, j->tb, j->V, j->M, (uint32_t *)(void *)(s + 2 * j->tb + (size_t)j->d->cin));
    } else {
        position_gemm(j, xi, j->cn, j->tb, j->V, j->M, (const float **)(void *)s);
    }
}

static void chunk_out_task(size_t task, int thread, void *arg) {
    const wino_job *j = arg;
    size_t cout = (size_t)j->d->cout, g0 = task * j->group, gn = ck_min(j->group, j->cn - g0);
    output_transform(j, j->c0 + g0, gn, j->tb * cout, j->M + g0 * cout,
                     scratch_tile(j->d, j->m, j->tb, chunk_scratch(j, thread)));
}

void ck_winograd_conv(ck_ctx *ctx, const ck_conv2d_desc *d, int m, const float *in, const float *packed,
                      const float *bias, float *out, float *workspace, int pool) {
    wino_job j = {.d = d, .k = ctx->k, .kc = ctx->kc, .in = in, .packed = packed, .bias = bias, .out = out,
                  .workspace = workspace, .m = m, .a = m + 2, .oh_n = ck_conv2d_out_h(d),
                  .ow_n = ck_conv2d_out_w(d), .pool = pool};
    j.tw = (j.ow_n + m - 1) / m;
    j.tiles = tiles_of(d, m);
    j.per = per_position(ctx, d);
    if (d->bf16) j.uk_bf16 = ck_gemm_bf16_kernel(ctx);
    wino_plan p = plan_for(ctx, d, m);
    j.tb = p.tb;
    if (!p.chunked) {
        j.blocks = ((size_t)d->n * j.tiles + j.tb - 1) / j.tb;
        j.ws_per_thread = ck_winograd_workspace_size(ctx, d, m) / (size_t)ctx->threads;
        ck_pool_run(ctx->pool, j.blocks, block_task, &j);
        return;
    }
    size_t P = (size_t)positions(m), mr = (size_t)ctx->k->mr;
    j.V = workspace;
    j.M = workspace + P * j.tb * (size_t)d->cin;
    j.scratch = j.M + P * j.tb * (size_t)d->cout;
    size_t total = (size_t)d->n * j.tiles;
    for (j.c0 = 0; j.c0 < total; j.c0 += j.tb) {
        j.cn = ck_min(j.tb, total - j.c0);
        j.group = (j.cn + 4 * (size_t)ctx->threads - 1) / (4 * (size_t)ctx->threads);
        size_t groups = (j.cn + j.group - 1) / j.group;
        ck_pool_run(ctx->pool, groups, chunk_in_task, &j);
        zero_rows(&j, j.V, j.cn, ck_min(j.tb, (j.cn + mr - 1) / mr * mr), j.tb * (size_t)d->cin);
        ck_pool_run(ctx->pool, P, chunk_gemm_task, &j);
        ck_pool_run(ctx->pool, groups, chunk_out_task, &j);
    }
}
