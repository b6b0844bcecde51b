/* int8 convolution with no A packing (ck_int8.h): the input quantised once into a u8 copy
 * padded with the zero point, then tiles of consecutive grid positions x 32-column panels,
 * each kernel reading its rows in place (x86/conv2d_int8_direct_*.c). Sums are exact, so the
 * bits equal the packed path's. */
#include "ck_gemm_driver.h"
#include "ck_int8.h"
#include "ck_internal.h"
#include <string.h>

#define TASK_ROWS 128   /* grid positions per task (whole tiles): a B panel is reused across them */

/* The kernel and its tile height for this context, or 0 when the direct path does not apply. */
static size_t tile_rows(const ck_ctx *ctx, const ck_conv2d_desc *d) {
    if (!(d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 && d->groups == 1)) return 0;
    size_t rowb = (size_t)d->kw * d->cin;
#if defined(__x86_64__)
    if (ctx->int8 == CK_INT8_AMX && rowb % 64 == 0) return CK_INT8_DIRECT_AMX_ROWS;
    /* VNNI packs A cheaply enough that the grid's padding positions cost more once they pass
     * 10% of a side: 14x14x512 at batch 8 runs 1.37 ms per image in place, 1.21 packed; 28x28x512
     * 4.79 against 5.05 (Zen 4) */
    size_t oh = (size_t)ck_conv2d_out_h(d), ow = (size_t)ck_conv2d_out_w(d);
    size_t pw = (size_t)d->pad_left + d->pad_right, ph = (size_t)d->pad_top + d->pad_bottom;
    int slim = (pw + (size_t)d->w - ow) * 10 <= ow && (d->n == 1 || (ph + (size_t)d->h - oh) * 10 <= oh);
    if (ctx->int8 == CK_INT8_AVX512VNNI && rowb % 4 == 0 && slim) return CK_INT8_MR;
#else
    (void)ctx, (void)rowb;
#endif
    return 0;
}

int ck_conv2d_int8_direct_applies(const ck_ctx *ctx, const ck_conv2d_desc *d) { return tile_rows(ctx, d) != 0; }

static ck_int8_grid grid_of(const ck_conv2d_desc *d) {
    ck_int8_grid g;
    g.hp = (size_t)d->h + d->pad_top + d->pad_bottom;
    g.wp = (size_t)d->w + d->pad_left + d->pad_right;
    g.oh = (size_t)ck_conv2d_out_h(d);
    g.ow = (size_t)ck_conv2d_out_w(d);
    g.positions = ((size_t)(d->n - 1) * g.hp + g.oh - 1) * g.wp + g.ow;
    /* the last tile (at most 32 rows past the last position) reads (kh - 1) grid rows further
     * and kw * cin bytes on */
    g.bytes = (g.positions + 32 + (size_t)(d->kh - 1) * g.wp + (size_t)d->kw) * (size_t)d->cin + 64;
    return g;
}

size_t ck_conv2d_int8_direct_workspace(const ck_conv2d_desc *d) {
    return d->n > 0 && ck_conv2d_out_h(d) > 0 && ck_conv2d_out_w(d) > 0 ? (grid_of(d).bytes + 3) / 4 : 0;
}

typedef struct {
    ck_int8_direct j;
    const float *in;
    uint8_t *q;
    size_t rows, per_task, tiles, nchunks, panels_per_chunk;   /* per_task: tiles */
    void (*tile)(const ck_int8_direct *j, size_t p0, size_t panel, float *const *o);
} job;

static void quant_row(const float *src, size_t n, float inv, int zero, uint8_t *dst) {
#if defined(__x86_64__)
    for (size_t t = 0; t < n; t += 64) ck_quant_row64_avx512(src + t, ck_min(64, n - t), inv, zero, dst + t);
#else
    for (size_t t = 0; t < n; t++) dst[t] = ck_quant_u8(src[t], inv, zero);
#endif
}

/* One padded grid row of one image: the zero point in the padding, the input quantised. */
static void quant_task(size_t t, int thread, void *arg) {
    (void)thread;
    const job *jb = arg;
    const ck_conv2d_desc *d = jb->j.d;
    const ck_int8_grid *g = &jb->j.g;
    size_t img = t / g->hp, r = t % g->hp, c = (size_t)d->cin;
    int zero = jb->j.b.zero;
    uint8_t *row = jb->q + (img * g->hp + r) * g->wp * c;
    long ih = (long)r - d->pad_top;
    if (ih < 0 || ih >= d->h) {
        memset(row, zero, g->wp * c);
        return;
    }
    memset(row, zero, (size_t)d->pad_left * c);
    quant_row(jb->in + (img * (size_t)d->h + (size_t)ih) * d->w * c, (size_t)d->w * c, jb->j.b.inv_scale, zero,
              row + (size_t)d->pad_left * c);
    memset(row + ((size_t)d->pad_left + d->w) * c, zero, (size_t)d->pad_right * c);
}

static void gemm_task(size_t t, int thread, void *arg) {
    (void)thread;
    const job *jb = arg;
    const ck_conv2d_desc *d = jb->j.d;
    const ck_int8_grid *g = &jb->j.g;
    size_t blk = t / jb->nchunks, nc = t % jb->nchunks, np = ck_npanels((size_t)d->cout, CK_INT8_NR);
    size_t t0 = blk * jb->per_task, t1 = ck_min(jb->tiles, t0 + jb->per_task);
    size_t p0 = nc * jb->panels_per_chunk, p1 = ck_min(np, p0 + jb->panels_per_chunk);
    /* each position's output pixel (NULL in the padding), stepped from the first: no division per row */
    float *o[TASK_ROWS];
    size_t first = t0 * jb->rows, n = (t1 - t0) * jb->rows, plane = g->hp * g->wp;
    size_t img = first / plane, oy = first % plane / g->wp, ox = first % g->wp;
    for (size_t r = 0; r < n; r++, ox++) {
        if (ox == g->wp) { ox = 0; if (++oy == g->hp) { oy = 0; img++; } }
        int out = img < (size_t)d->n && oy < g->oh && ox < g->ow;
        o[r] = out ? jb->j.out + ((img * g->oh + oy) * g->ow + ox) * (size_t)d->cout : NULL;
    }
    for (size_t p = p0; p < p1; p++)
        for (size_t ti = t0; ti < t1; ti++) jb->tile(&jb->j, ti * jb->rows, p, o + (ti - t0) * jb->rows);
}

void ck_conv2d_int8_direct_run(ck_ctx *ctx, const ck_conv2d_desc *d, const float *in, const uint32_t *packed,
                               const float *bias, float *out, uint32_t *workspace) {
    if (d->n == 0 || d->cout == 0 || ck_conv2d_out_h(d) == 0 || ck_conv2d_out_w(d) == 0) return;
    size_t K = (size_t)d->kh * d->kw * d->cin;
    job jb = {.j = {.d = d, .g = grid_of(d), .bias = bias, .out = out, .b = ck_int8_b_view(packed, (size_t)d->cout),
                    .kqs = ck_int8_kq_stride(K)},
              .in = in, .q = (uint8_t *)(void *)workspace, .rows = tile_rows(ctx, d)};
    jb.j.q = jb.q;
#if defined(__x86_64__)
    jb.tile = ctx->int8 == CK_INT8_AMX ? ck_conv2d_int8_direct_amx : ck_conv2d_int8_direct_avx512vnni;
#endif
    size_t used = (size_t)d->n * jb.j.g.hp * jb.j.g.wp * (size_t)d->cin;
    memset(jb.q + used, jb.j.b.zero, jb.j.g.bytes - used);
    ck_pool_run(ctx->pool, (size_t)d->n * jb.j.g.hp, quant_task, &jb);
    jb.tiles = (jb.j.g.positions + jb.rows - 1) / jb.rows;
    jb.per_task = TASK_ROWS / jb.rows;
    size_t blocks = (jb.tiles + jb.per_task - 1) / jb.per_task, np = ck_npanels((size_t)d->cout, CK_INT8_NR);
    jb.panels_per_chunk = ck_gemm_panels_per_chunk(blocks, np, ctx->threads);
    jb.nchunks = (np + jb.panels_per_chunk - 1) / jb.panels_per_chunk;
    ck_pool_run(ctx->pool, blocks * jb.nchunks, gemm_task, &jb);
}
