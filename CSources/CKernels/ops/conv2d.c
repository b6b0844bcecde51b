/* Convolution driver: the algorithm choice, im2col packed straight into GEMM panels,
 * implicit GEMM over input rows in place, depthwise rows, and the dispatch to Winograd.
 * in [n, h, w, cin] (NHWC), weights [kh, kw, cin/groups, cout] (HWIO), out [n, oh, ow, cout]. */
#include "ck_bf16.h"
#include "ck_int8.h"
#include "ck_gemm_driver.h"
#include "ck_winograd.h"
#include <string.h>

typedef struct {
    const ck_conv2d_desc *d;
    const float *img;   /* one batch item */
    int group, oh_n, ow_n;
} conv_src;

/* im2col straight into MR-row panels: row = output pixel, k = (ky, kx, ci). */
static void pack_im2col(const void *src, size_t m0, size_t m, size_t k0, size_t kc, int mr, float *Ap) {
    const conv_src *s = src;
    const ck_conv2d_desc *d = s->d;
    size_t cg = (size_t)(d->cin / d->groups);
    size_t mp = (m + (size_t)mr - 1) / (size_t)mr * (size_t)mr;
    for (size_t r = 0; r < mp; r++) {
        float *dst = Ap + (r / (size_t)mr) * kc * (size_t)mr + r % (size_t)mr;
        if (r >= m) {
            for (size_t k = 0; k < kc; k++) dst[k * (size_t)mr] = 0.0f;
            continue;
        }
        size_t p = m0 + r;
        int oh = (int)(p / (size_t)s->ow_n), ow = (int)(p % (size_t)s->ow_n);
        size_t k = k0, kend = k0 + kc;
        /* divide once, then walk the taps (small-channel layers have many short runs) */
        size_t tap = k / cg, ci = k % cg;
        int ky = (int)(tap / (size_t)d->kw), kx = (int)(tap % (size_t)d->kw);
        const int ih0 = oh * d->sh - d->pad_top, iw0 = ow * d->sw - d->pad_left;
        const float *base = s->img + (size_t)s->group * cg;
        while (k < kend) {
            size_t len = ck_min(cg - ci, kend - k);
            int ih = ih0 + ky * d->dh, iw = iw0 + kx * d->dw;
            float *o = dst + (k - k0) * (size_t)mr;
            if (ih >= 0 && ih < d->h && iw >= 0 && iw < d->w) {
                const float *px = base + ((size_t)ih * d->w + iw) * d->cin + ci;
                for (size_t t = 0; t < len; t++) o[t * (size_t)mr] = px[t];
            } else {
                for (size_t t = 0; t < len; t++) o[t * (size_t)mr] = 0.0f;
            }
            ci = 0;
            if (++kx == d->kw) { kx = 0; ky++; }
            k += len;
        }
    }
}

/* The output tile side of a Winograd algorithm, 0 for the others. */
static int wino_m(ck_conv_algo a) {
    return a == CK_CONV_WINOGRAD_2X2 ? 2 : a == CK_CONV_WINOGRAD_4X4 ? 4 : a == CK_CONV_WINOGRAD_6X6 ? 6 : 0;
}

/* A bf16 layer by GEMM (ops/conv2d_bf16.c): every algorithm but depthwise and Winograd. */
static int bf16_gemm(const ck_conv2d_desc *d, ck_conv_algo a) {
    return d->bf16 && !d->int8 && (a == CK_CONV_IM2COL_GEMM || a == CK_CONV_IMPLICIT_GEMM);
}

/* An int8 layer (ops/conv2d_int8.c): every algorithm but depthwise. */
static int int8_gemm(const ck_conv2d_desc *d, ck_conv_algo a) {
    return d->int8 && (a == CK_CONV_IM2COL_GEMM || a == CK_CONV_IMPLICIT_GEMM);
}

ck_conv_algo ck_conv2d_choose(const ck_ctx *ctx, const ck_conv2d_desc *d) {
    if (d->cin / d->groups == 1 && d->cout == d->cin) return CK_CONV_DEPTHWISE;
    if (d->int8) return d->dw == 1 && d->groups == 1 ? CK_CONV_IMPLICIT_GEMM : CK_CONV_IM2COL_GEMM;
    /* 2.25x (F(2x2)) or 4x (F(4x4)) fewer multiplies; the transforms pay for themselves from 16
     * channels. F(4x4) wins once both output sides are 16 or more (painface-bench --only conv:
     * every VGG16 layer from 28x28 up); below that its 4x4 tiles waste too much at the edges. */
    if (ck_winograd_applies(d) && d->cout >= 16) {
        /* bf16 inputs through F(4x4)'s transforms lose too much: 7% of the largest output on
         * the kernel check's layers, against 0.4% through F(2x2) */
        if (d->bf16 && d->cin >= 3)
            /* with AMX the direct sums cost less than F(2x2): VGG16 at batch 8 runs 13-17 img/s
             * against 3.4-4.2 (painface-bench --precision bf16 [--conv-algo winograd2x2]) */
            return ck_gemm_bf16_kind(ctx) == CK_BF16_AMX ? CK_CONV_IMPLICIT_GEMM : CK_CONV_WINOGRAD_2X2;
        int f4_sides = ck_conv2d_out_h(d) >= 16 && ck_conv2d_out_w(d) >= 16;
        if (d->cin >= 16) return f4_sides ? CK_CONV_WINOGRAD_4X4 : CK_CONV_WINOGRAD_2X2;
        /* an RGB input layer (VGG16's first): F(4x4) took 2.3 ms where im2col took 3.5 and the
         * implicit GEMM 5.8 (Intel). Since the implicit GEMM gathers short kernel rows it takes
         * 1.20 ms against F(4x4)'s 1.35-1.40 (Zen 4, batch 1); the rule keeps F(4x4) so that
         * the default's bits (and feature caches keyed by the rule) stay as they were:
         * --conv-algo tuned picks the faster one */
        if (d->cin >= 3 && f4_sides) return CK_CONV_WINOGRAD_4X4;
    }
    /* reading input rows in place pays once a kernel row holds enough channels */
    if (d->dw == 1 && d->groups == 1) return CK_CONV_IMPLICIT_GEMM;
    return CK_CONV_IM2COL_GEMM;
}

ck_conv_algo ck_conv2d_resolve(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo a) {
    if (a == CK_CONV_AUTO) return ck_conv2d_choose(ctx, d);
    if (a == CK_CONV_DEPTHWISE && !(d->cin / d->groups == 1 && d->cout == d->cin))
        return CK_CONV_IM2COL_GEMM;
    /* the taps of a kernel row are contiguous only without dilation and groups */
    if (a == CK_CONV_IMPLICIT_GEMM && (d->dw != 1 || d->groups != 1)) return CK_CONV_IM2COL_GEMM;
    if (wino_m(a)) {
        /* no int8 Winograd: its transforms would need wider integers than the products */
        if (d->int8) return ck_conv2d_resolve(ctx, d, CK_CONV_IMPLICIT_GEMM);
        if (!ck_winograd_applies(d)) return CK_CONV_IM2COL_GEMM;
        /* F(6x6)'s transforms (entries up to 32 and 1/90) would amplify bf16's rounding further
         * than F(4x4)'s */
        if (a == CK_CONV_WINOGRAD_6X6 && d->bf16) return CK_CONV_WINOGRAD_2X2;
    }
    return a;
}

/* AVX-512's 12x32 register tile leaves most lanes idle when a layer has 16 or fewer output
 * channels (per group): such layers run the AVX2 6x16 kernels instead (same pool). */
static const ck_ctx *conv_ctx(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo, ck_ctx *tmp) {
#if defined(__x86_64__)
    /* bf16 and int8 keep their own kernels: AVX512_BF16, VNNI and AMX need the avx512 context */
    if (ctx->k->isa == CK_ISA_AVX512 && algo != CK_CONV_DEPTHWISE && d->cout / d->groups <= 16 && !d->bf16 &&
        !d->int8) {
        *tmp = *ctx;
        tmp->k = ck_table_for(CK_ISA_AVX2);
        return tmp;
    }
#endif
    return ctx;
}

size_t ck_conv2d_packed_size(const ck_ctx *ctx0, const ck_conv2d_desc *d, ck_conv_algo algo) {
    algo = ck_conv2d_resolve(ctx0, d, algo);
    ck_ctx tmp;
    const ck_ctx *ctx = conv_ctx(ctx0, d, algo, &tmp);
    size_t K = (size_t)d->kh * d->kw * (size_t)(d->cin / d->groups);
    if (algo == CK_CONV_DEPTHWISE) return K * (size_t)d->cout;
    if (bf16_gemm(d, algo)) return ck_conv2d_bf16_packed_size(d);
    if (int8_gemm(d, algo)) return ck_conv2d_int8_packed_size(d);
    if (wino_m(algo)) return ck_winograd_packed_size(ctx, d, wino_m(algo));
    return (size_t)d->groups * ck_packed_b_size(ctx, K, (size_t)(d->cout / d->groups));
}

void ck_conv2d_pack(const ck_ctx *ctx0, const ck_conv2d_desc *d, ck_conv_algo algo,
                    const float *w, float *packed) {
    algo = ck_conv2d_resolve(ctx0, d, algo);
    ck_ctx tmp;
    const ck_ctx *ctx = conv_ctx(ctx0, d, algo, &tmp);
    size_t K = (size_t)d->kh * d->kw * (size_t)(d->cin / d->groups);
    if (algo == CK_CONV_DEPTHWISE) {
        memcpy(packed, w, K * (size_t)d->cout * sizeof(float));
        return;
    }
    if (bf16_gemm(d, algo)) {
        ck_conv2d_bf16_pack(d, w, (uint32_t *)(void *)packed);
        return;
    }
    if (int8_gemm(d, algo)) {
        ck_conv2d_int8_pack(d, w, (uint32_t *)(void *)packed);
        return;
    }
    if (wino_m(algo)) {
        ck_winograd_pack(ctx, d, wino_m(algo), w, packed);
        return;
    }
    size_t og = (size_t)(d->cout / d->groups), per = ck_packed_b_size(ctx, K, og);
    for (int g = 0; g < d->groups; g++)
        ck_pack_b(ctx, K, og, w + (size_t)g * og, (size_t)d->cout, packed + (size_t)g * per);
}

int ck_conv2d_pack_int8_codes(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo,
                              const int8_t *codes, const float *step, float *packed) {
    if (!int8_gemm(d, ck_conv2d_resolve(ctx, d, algo))) return 0;
    ck_conv2d_int8_pack_codes(d, codes, step, (uint32_t *)(void *)packed);
    return 1;
}

size_t ck_conv2d_workspace_size(const ck_ctx *ctx0, const ck_conv2d_desc *d, ck_conv_algo algo) {
    algo = ck_conv2d_resolve(ctx0, d, algo);
    ck_ctx tmp;
    const ck_ctx *ctx = conv_ctx(ctx0, d, algo, &tmp);
    if (wino_m(algo)) return ck_winograd_workspace_size(ctx, d, wino_m(algo));
    if (bf16_gemm(d, algo)) return ck_gemm_bf16_workspace_size(ctx);
    if (int8_gemm(d, algo)) return ck_conv2d_int8_workspace_size(ctx, d, algo);
    return algo == CK_CONV_DEPTHWISE ? 0 : ck_gemm_workspace_size(ctx);
}

typedef struct {
    const ck_conv2d_desc *d;
    const ck_kernel_table *k;
    const float *in, *packed, *bias;
    float *out, *workspace;
    int oh_n, ow_n;
    size_t per_group, tasks_per_image;
    int implicit;
    ck_gemm_job proto;
} conv_job;

/* Implicit GEMM for rows [m0, m0+m) of one image: K is walked one kernel row (ky) at a
 * time, where a pixel's KW taps x cin channels are contiguous in NHWC, so the microkernel
 * reads each output pixel's inputs in place through a row pointer. Only pixels whose taps
 * cross the left or right border are copied (with zeros); rows above or below the image
 * and rows past m point at zeros. */
/* n < 64 floats, copied inline (overlapping 8-float moves): libc's memcpy call cost more than
 * the copy at 9 floats, 17% of an RGB first layer's time. */
static inline void copy_short(float *dst, const float *src, size_t n) {
    if (n < 8) {
        for (size_t t = 0; t < n; t++) __builtin_memcpy_inline(dst + t, src + t, sizeof(float));
        return;
    }
    for (size_t t = 0; t + 8 < n; t += 8) __builtin_memcpy_inline(dst + t, src + t, 8 * sizeof(float));
    __builtin_memcpy_inline(dst + n - 8, src + n - 8, 8 * sizeof(float));
}

/* Kernel rows too short to read in place (fewer than 64 values: C would be loaded and stored
 * kh times per tile for a handful of products), and all of K fits in one block. The sums keep
 * their k order, so the bits are the same either way. */
static int gather_rows(const ck_conv2d_desc *d, size_t kc) {
    size_t rowK = (size_t)d->kw * d->cin, K = (size_t)d->kh * rowK;
    return d->kh > 1 && rowK < 64 && K <= kc;
}

static void conv_implicit_block(const conv_job *cj, const float *img, size_t n_img, size_t m0,
                                size_t m, size_t p0, size_t p1, float *Ap) {
    const ck_conv2d_desc *d = cj->d;
    const ck_kernel_table *k = cj->k;
    size_t mr = (size_t)k->mr, nr = (size_t)k->nr, cin = (size_t)d->cin, cout = (size_t)d->cout;
    size_t rowK = (size_t)d->kw * cin, K = (size_t)d->kh * rowK;
    size_t npan = (m + mr - 1) / mr, KC = cj->proto.kc;
    float *zeros = Ap + mr * cj->proto.mcp * KC;
    memset(zeros, 0, KC * sizeof(float));
    size_t hw = (size_t)cj->oh_n * cj->ow_n;
    float *C = cj->out + (n_img * hw + m0) * cout;
    const float *rows[CK_MAX_MC_PANELS * CK_MAX_MR];
    if (gather_rows(d, KC)) {
        /* short kernel rows (an RGB or gray first layer): each pixel's whole K gathered into one
         * contiguous row, so the sums run in one pass instead of kh passes through C. The rows
         * sit K floats apart (rounded to 16), not a block's kc: the tile's rows stay in L1 */
        size_t stride = (K + 15) / 16 * 16;
        int oh = (int)(m0 / (size_t)cj->ow_n), ow = (int)(m0 % (size_t)cj->ow_n);
        for (size_t i = 0; i < npan * mr; i++) {
            rows[i] = zeros;
            if (i >= m) continue;
            float *buf = Ap + i * stride;
            int iw0 = ow * d->sw - d->pad_left;
            for (int ky = 0; ky < d->kh; ky++) {
                float *dst = buf + (size_t)ky * rowK;
                int ih = oh * d->sh - d->pad_top + ky * d->dh;
                if (ih < 0 || ih >= d->h) {
                    memset(dst, 0, rowK * sizeof(float));
                    continue;
                }
                const float *src = img + ((size_t)ih * d->w) * cin;
                if (iw0 >= 0 && iw0 + d->kw <= d->w) {
                    copy_short(dst, src + (size_t)iw0 * cin, rowK);
                    continue;
                }
                for (int kx = 0; kx < d->kw; kx++) {
                    int iw = iw0 + kx;
                    if (iw >= 0 && iw < d->w) copy_short(dst + (size_t)kx * cin, src + (size_t)iw * cin, cin);
                    else memset(dst + (size_t)kx * cin, 0, cin * sizeof(float));
                }
            }
            rows[i] = buf;
            if (++ow == cj->ow_n) { ow = 0; oh++; }
        }
        for (size_t pn = p0; pn < p1; pn++) {
            const float *b = cj->bias ? cj->bias + pn * nr : NULL;
            for (size_t r = 0; r < npan; r++)
                k->gemm_ukernel_indirect(K, rows + r * mr, cj->packed + pn * K * nr, C + r * mr * cout + pn * nr, cout,
                                         ck_min(mr, m - r * mr), ck_min(nr, cout - pn * nr), 1, 1, b, d->act);
        }
        return;
    }
    int first = 1;
    for (int ky = 0; ky < d->kh; ky++) {
        for (size_t c0 = 0, kb = ck_kc_for(rowK, KC); c0 < rowK; c0 += kb) {
            size_t kc = ck_min(kb, rowK - c0), kglob = (size_t)ky * rowK + c0;
            int last = ky == d->kh - 1 && c0 + kc >= rowK;
            for (size_t i = 0; i < npan * mr; i++) {
                rows[i] = zeros;
                if (i >= m) continue;
                size_t q = m0 + i;
                int oh = (int)(q / (size_t)cj->ow_n), ow = (int)(q % (size_t)cj->ow_n);
                int ih = oh * d->sh - d->pad_top + ky * d->dh;
                if (ih < 0 || ih >= d->h) continue;
                int iw0 = ow * d->sw - d->pad_left;
                const float *src = img + ((size_t)ih * d->w) * cin;
                if (iw0 >= 0 && iw0 + d->kw <= d->w) {
                    rows[i] = src + (size_t)iw0 * cin + c0;
                    continue;
                }
                float *buf = Ap + i * KC;
                size_t kx = c0 / cin, ci = c0 % cin;
                for (size_t t = 0; t < kc; t++) {
                    int iw = iw0 + (int)kx;
                    buf[t] = (iw >= 0 && iw < d->w) ? src[(size_t)iw * cin + ci] : 0.0f;
                    if (++ci == cin) { ci = 0; kx++; }
                }
                rows[i] = buf;
            }
            for (size_t pn = p0; pn < p1; pn++) {
                const float *Bpp = cj->packed + pn * K * nr + kglob * nr;
                size_t n = ck_min(nr, cout - pn * nr);
                const float *b = cj->bias ? cj->bias + pn * nr : NULL;
                for (size_t r = 0; r < npan; r++)
                    k->gemm_ukernel_indirect(kc, rows + r * mr, Bpp, C + r * mr * cout + pn * nr, cout,
                                             ck_min(mr, m - r * mr), n, first, last, b, d->act);
            }
            first = 0;
        }
    }
}

static void conv_gemm_task(size_t t, int thread, void *arg) {
    const conv_job *cj = arg;
    const ck_conv2d_desc *d = cj->d;
    size_t n = t / cj->tasks_per_image, rest = t % cj->tasks_per_image;
    size_t per_group_tasks = cj->proto.mtiles * cj->proto.nchunks;
    int g = (int)(rest / per_group_tasks);
    size_t gt = rest % per_group_tasks;
    size_t og = (size_t)(d->cout / d->groups);
    size_t hw = (size_t)cj->oh_n * cj->ow_n;
    conv_src s = {d, cj->in + n * (size_t)d->h * d->w * d->cin, g, cj->oh_n, cj->ow_n};
    ck_gemm_job j = cj->proto;
    j.src = &s;
    j.Bp = cj->packed + (size_t)g * cj->per_group;
    j.bias = cj->bias ? cj->bias + (size_t)g * og : NULL;
    j.C = cj->out + n * hw * d->cout + (size_t)g * og;
    size_t mt = gt / j.nchunks, nc = gt % j.nchunks;
    size_t m0, m;
    ck_gemm_tile(&j, mt, &m0, &m);
    size_t np = ck_npanels(og, cj->k->nr);
    size_t p0 = nc * j.panels_per_chunk, p1 = ck_min(np, p0 + j.panels_per_chunk);
    if (p0 >= p1) return;
    float *Ap = ck_gemm_thread_block(&j, cj->workspace, thread);
    if (cj->implicit)
        conv_implicit_block(cj, s.img, n, m0, m, p0, p1, Ap);
    else
        ck_gemm_block(&j, m0, m, p0, p1, Ap);
}

static void conv_dw_task(size_t t, int thread, void *arg) {
    const conv_job *cj = arg;
    const ck_conv2d_desc *d = cj->d;
    size_t n = t / (size_t)cj->oh_n;
    int oh = (int)(t % (size_t)cj->oh_n);
    cj->k->dw_row(d, cj->in + n * (size_t)d->h * d->w * d->cin, cj->packed, cj->bias, oh, cj->ow_n,
                  cj->out + (n * (size_t)cj->oh_n + (size_t)oh) * cj->ow_n * d->cout);
}

int ck_conv2d_maxpool2(ck_ctx *ctx0, const ck_conv2d_desc *d, ck_conv_algo algo, const float *in,
                       const float *packed, const float *bias, float *out, float *workspace) {
    algo = ck_conv2d_resolve(ctx0, d, algo);
    if (!wino_m(algo)) return 0;
    ck_ctx tmp;
    ck_ctx *ctx = (ck_ctx *)conv_ctx(ctx0, d, algo, &tmp);
    ck_winograd_conv(ctx, d, wino_m(algo), in, packed, bias, out, workspace, 1);
    return 1;
}

void ck_conv2d(ck_ctx *ctx0, const ck_conv2d_desc *d, ck_conv_algo algo, const float *in,
               const float *packed, const float *bias, float *out, float *workspace) {
    algo = ck_conv2d_resolve(ctx0, d, algo);
    ck_ctx tmp;
    ck_ctx *ctx = (ck_ctx *)conv_ctx(ctx0, d, algo, &tmp);
    conv_job cj = {.d = d, .k = ctx->k, .in = in, .packed = packed, .bias = bias, .out = out,
                   .workspace = workspace, .oh_n = ck_conv2d_out_h(d), .ow_n = ck_conv2d_out_w(d)};
    if (algo == CK_CONV_DEPTHWISE) {
        ck_pool_run(ctx->pool, (size_t)d->n * cj.oh_n, conv_dw_task, &cj);
        return;
    }
    if (wino_m(algo)) {
        ck_winograd_conv(ctx, d, wino_m(algo), in, packed, bias, out, workspace, 0);
        return;
    }
    if (bf16_gemm(d, algo)) {
        ck_conv2d_bf16_run(ctx, d, in, (const uint32_t *)(const void *)packed, bias, out, (uint32_t *)(void *)workspace);
        return;
    }
    if (int8_gemm(d, algo)) {
        ck_conv2d_int8_run(ctx, d, algo, in, (const uint32_t *)(const void *)packed, bias, out,
                           (uint32_t *)(void *)workspace);
        return;
    }
    size_t K = (size_t)d->kh * d->kw * (size_t)(d->cin / d->groups);
    size_t og = (size_t)(d->cout / d->groups);
    cj.per_group = ck_packed_b_size(ctx, K, og);
    cj.implicit = algo == CK_CONV_IMPLICIT_GEMM;
    ck_gemm_job *j = &cj.proto;
    *j = (ck_gemm_job){.k = ctx->k, .M = (size_t)cj.oh_n * cj.ow_n, .N = og, .K = K,
                    .pack = pack_im2col, .act = d->act, .ldc = (size_t)d->cout};
    ck_gemm_plan(j, ctx, (size_t)d->n * d->groups);
    cj.tasks_per_image = (size_t)d->groups * j->mtiles * j->nchunks;
    ck_pool_run(ctx->pool, (size_t)d->n * cj.tasks_per_image, conv_gemm_task, &cj);
}
