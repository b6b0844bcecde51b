/* int8 convolution on AMX with no A packing: the input is quantised once into a u8 copy
 * padded with the zero point, and the GEMM runs over every position of that padded grid
 * (images stacked), so the 16 rows of an A tile are 16 consecutive positions: one tile load
 * with a stride of cin bytes reads a kernel row's 64-byte chunk for all of them. Positions in
 * the padding columns and rows give outputs that are dropped (2 of w + 2 columns for a 3x3
 * "same" layer). Stride 1, no dilation, groups 1 and kw * cin a multiple of 64 (every VGG16
 * layer after the first); sums are exact, so the bits equal the packed path's. */
#if defined(__x86_64__)
#include "ck_int8.h"
#include "ck_gemm_driver.h"
#include "ck_internal.h"
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))), \
                             apply_to = function)

#define TILES_PER_TASK 4   /* 128 positions per task block: a B panel is reused four times */

int ck_conv2d_int8_amx_applies(const ck_conv2d_desc *d) {
    return d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 && d->groups == 1 &&
           ((size_t)d->kw * d->cin) % 64 == 0;
}

typedef struct {
    size_t hp, wp, oh, ow, positions, tiles;   /* padded grid, output, GEMM rows in 32-row tiles */
    size_t bytes;                              /* the padded copy with its slack */
} grid;

static grid grid_of(const ck_conv2d_desc *d) {
    grid g;
    g.hp = (size_t)d->h + d->pad_top + d->pad_bottom;
    g.wp = (size_t)d->w + d->pad_left + d->pad_right;
    g.oh = (size_t)ck_conv2d_out_h(d);
    g.ow = (size_t)ck_conv2d_out_w(d);
    /* the last output position, plus one */
    g.positions = ((size_t)(d->n - 1) * g.hp + g.oh - 1) * g.wp + g.ow;
    g.tiles = (g.positions + 31) / 32;
    /* the last tile's rows read (kh - 1) grid rows further and kw * cin bytes on */
    g.bytes = (g.tiles * 32 + (size_t)(d->kh - 1) * g.wp + (size_t)d->kw) * (size_t)d->cin + 64;
    return g;
}

size_t ck_conv2d_int8_amx_workspace(const ck_conv2d_desc *d) {
    return d->n > 0 && ck_conv2d_out_h(d) > 0 && ck_conv2d_out_w(d) > 0 ? (grid_of(d).bytes + 3) / 4 : 0;
}

typedef struct {
    const ck_conv2d_desc *d;
    grid g;
    const float *in, *bias;
    float *out;
    uint8_t *q;
    ck_int8_b b;
    size_t kqs, steps, steps_per_row, nchunks, panels_per_chunk;
} job;

/* One padded grid row of one image: the zero point in the padding, the input quantised. */
static void quant_task(size_t t, int thread, void *arg) {
    (void)thread;
    const job *j = arg;
    const ck_conv2d_desc *d = j->d;
    size_t img = t / j->g.hp, r = t % j->g.hp, c = (size_t)d->cin;
    uint8_t *row = j->q + (img * j->g.hp + r) * j->g.wp * c;
    long ih = (long)r - d->pad_top;
    if (ih < 0 || ih >= d->h) {
        memset(row, j->b.zero, j->g.wp * c);
        return;
    }
    memset(row, j->b.zero, (size_t)d->pad_left * c);
    ck_quant_row64_avx512(j->in + (img * (size_t)d->h + (size_t)ih) * d->w * c, (size_t)d->w * c, j->b.inv_scale,
                          j->b.zero, row + (size_t)d->pad_left * c);
    memset(row + ((size_t)d->pad_left + d->w) * c, j->b.zero, (size_t)d->pad_right * c);
}

/* 32 positions from p0 x one 32-column panel, all of K, then the output step for the
 * positions that are output pixels. */
static void tile(const job *j, size_t p0, size_t panel) {
    const ck_conv2d_desc *d = j->d;
    size_t c = (size_t)d->cin, rowb = (size_t)d->kw * c;
    const uint32_t *B = j->b.panels + panel * j->kqs * CK_INT8_NR;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t s = 0, ky = 0, chunk = 0; s < j->steps; s++) {
        const uint8_t *a = j->q + (p0 + ky * j->g.wp) * c + chunk * 64;
        _tile_loadd(4, a, c);
        _tile_loadd(6, B + s * CK_AMX8_QUADS * CK_INT8_NR, CK_INT8_NR * 4);
        _tile_loadd(7, B + s * CK_AMX8_QUADS * CK_INT8_NR + 16, CK_INT8_NR * 4);
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_loadd(5, a + 16 * c, c);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
        if (++chunk * 64 == rowb) { chunk = 0; ky++; }
    }
    int32_t acc[32 * 32] __attribute__((aligned(64)));
    _tile_stored(0, acc, 128);
    _tile_stored(1, acc + 16, 128);
    _tile_stored(2, acc + 16 * 32, 128);
    _tile_stored(3, acc + 16 * 32 + 16, 128);
    size_t col0 = panel * CK_INT8_NR, n = ck_min(CK_INT8_NR, (size_t)d->cout - col0);
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512i z0 = _mm512_maskz_loadu_epi32(m0, j->b.zc + col0), z1 = _mm512_maskz_loadu_epi32(m1, j->b.zc + col0 + 16);
    __m512 s0 = _mm512_maskz_loadu_ps(m0, j->b.scale + col0), s1 = _mm512_maskz_loadu_ps(m1, j->b.scale + col0 + 16);
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), zero = _mm512_setzero_ps();
    if (j->bias) {
        b0 = _mm512_maskz_loadu_ps(m0, j->bias + col0);
        b1 = _mm512_maskz_loadu_ps(m1, j->bias + col0 + 16);
    }
    /* the first position's pixel, then stepped: no division per row */
    size_t plane = j->g.hp * j->g.wp, img = p0 / plane, oy = p0 % plane / j->g.wp, ox = p0 % j->g.wp;
    for (size_t r = 0; r < 32; r++, ox++) {
        if (ox == j->g.wp) { ox = 0; if (++oy == j->g.hp) { oy = 0; img++; } }
        if (img >= (size_t)d->n || oy >= j->g.oh || ox >= j->g.ow) continue;
        float *o = j->out + ((img * j->g.oh + oy) * j->g.ow + ox) * (size_t)d->cout + col0;
        __m512 y0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(acc + r * 32), z0)), s0, b0);
        __m512 y1 =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(acc + r * 32 + 16), z1)), s1, b1);
        if (d->act == CK_ACT_RELU) {
            y0 = _mm512_max_ps(y0, zero);
            y1 = _mm512_max_ps(y1, zero);
        }
        _mm512_mask_storeu_ps(o, m0, y0);
        _mm512_mask_storeu_ps(o + 16, m1, y1);
    }
}

static void gemm_task(size_t t, int thread, void *arg) {
    (void)thread;
    const job *j = arg;
    ck_amx_configure();
    size_t blk = t / j->nchunks, nc = t % j->nchunks, np = ck_npanels((size_t)j->d->cout, CK_INT8_NR);
    size_t t0 = blk * TILES_PER_TASK, t1 = ck_min(j->g.tiles, t0 + TILES_PER_TASK);
    size_t p0 = nc * j->panels_per_chunk, p1 = ck_min(np, p0 + j->panels_per_chunk);
    for (size_t p = p0; p < p1; p++)
        for (size_t ti = t0; ti < t1; ti++) tile(j, ti * 32, p);
}

void ck_conv2d_int8_amx_run(ck_ctx *ctx, const ck_conv2d_desc *d, const float *in, const uint32_t *packed,
                            const float *bias, float *out, uint32_t *workspace) {
    if (d->n == 0 || d->cout == 0 || ck_conv2d_out_h(d) == 0 || ck_conv2d_out_w(d) == 0) return;
    size_t K = (size_t)d->kh * d->kw * d->cin;
    job j = {.d = d, .g = grid_of(d), .in = in, .bias = bias, .out = out, .q = (uint8_t *)(void *)workspace,
             .b = ck_int8_b_view(packed, (size_t)d->cout), .kqs = ck_int8_kq_stride(K), .steps = K / 64};
    size_t used = (size_t)d->n * j.g.hp * j.g.wp * (size_t)d->cin;
    memset(j.q + used, j.b.zero, j.g.bytes - used);
    ck_pool_run(ctx->pool, (size_t)d->n * j.g.hp, quant_task, &j);
    size_t blocks = (j.g.tiles + TILES_PER_TASK - 1) / TILES_PER_TASK, np = ck_npanels((size_t)d->cout, CK_INT8_NR);
    j.panels_per_chunk = ck_gemm_panels_per_chunk(blocks, np, ctx->threads);
    j.nchunks = (np + j.panels_per_chunk - 1) / j.panels_per_chunk;
    ck_pool_run(ctx->pool, blocks * j.nchunks, gemm_task, &j);
}

#pragma clang attribute pop
#endif
