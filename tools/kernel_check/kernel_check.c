/* C-only check of every kernel path against the scalar references (ref/), for each ISA this
 * CPU (or emulator) runs: convolution per algorithm and the algorithm resolution, GEMM,
 * element-wise ops and pooling bit-exact, the LSTM against the independent reference and
 * its recurrence bit-exact against the scalar table. Built natively and for aarch64 (run
 * under qemu-aarch64) by tools/kernel_check/run.sh; the Swift tests cover the same ground on
 * the host.
 * Prints "kernel_check: N passed, M failed" and exits non-zero on any failure. */
#include "ck_kernels.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static uint64_t rng_state = 12345;

static float urand(void) {
    rng_state += 0x9E3779B97F4A7C15ull;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * 0x1p-24f * 2.0f - 1.0f;
}

static float *rnd(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = urand();
    return p;
}

static double rel_err(const float *a, const float *b, size_t n) {
    double md = 0, mr = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d != d) return INFINITY;
        if (d > md) md = d;
        if (fabs(b[i]) > mr) mr = fabs(b[i]);
    }
    return md / mr;
}

static int verbose;   /* KERNEL_CHECK_VERBOSE=1: print passing checks too */

static void check(int ok, const char *isa, const char *what) {
    if (ok) { passed++; if (verbose) printf("ok   [%s] %s\n", isa, what); }
    else { failed++; printf("FAIL [%s] %s\n", isa, what); }
}

static const char *algo_name(ck_conv_algo a) {
    static const char *names[] = {"auto", "im2col", "depthwise", "implicit", "winograd2x2", "winograd4x4",
                                  "winograd6x6"};
    return (int)a >= 0 && (int)a <= 6 ? names[a] : "?";
}

/* What ck_conv2d_resolve must return for an explicit request (the fallback rules of the
 * header, restated independently). */
static ck_conv_algo expected_resolve(const ck_conv2d_desc *d, ck_conv_algo a) {
    int depthwise = d->cin / d->groups == 1 && d->cout == d->cin;
    int implicit = d->dw == 1 && d->groups == 1;
    int winograd = d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 && d->groups == 1;
    if ((a == CK_CONV_DEPTHWISE && !depthwise) || (a == CK_CONV_IMPLICIT_GEMM && !implicit) ||
        ((a == CK_CONV_WINOGRAD_2X2 || a == CK_CONV_WINOGRAD_4X4 || a == CK_CONV_WINOGRAD_6X6) && !winograd))
        return CK_CONV_IM2COL_GEMM;
    if (a == CK_CONV_WINOGRAD_6X6 && d->bf16) return CK_CONV_WINOGRAD_2X2;
    return a;
}

/* F(4x4, 3x3)'s transforms have entries up to 8 and 1/24: about 6x F(2x2)'s rounding error;
 * F(6x6)'s, up to 32 and 1/90, up to 1.8e-5 on these layers (per VGG16 layer:
 * painface-bench --only conv) */
static double conv_tolerance(ck_conv_algo a) {
    return a == CK_CONV_WINOGRAD_6X6 ? 6e-5 : a == CK_CONV_WINOGRAD_4X4 ? 3e-5 : 1e-5;
}

/* Every algorithm against the reference; resolve(AUTO) must be `want` (the choice for this
 * shape), and each explicit request must resolve to itself or its documented fallback. */
static void conv_case(ck_ctx *ctx, const char *isa, ck_conv2d_desc d, ck_conv_algo want) {
    char msg[160];
    ck_conv_algo got = ck_conv2d_resolve(ctx, &d, CK_CONV_AUTO);
    snprintf(msg, sizeof msg, "conv %dx%dx%d->%d k%dx%d s%d d%dx%d g%d: resolve(auto) = %s, want %s", d.h, d.w, d.cin,
             d.cout, d.kh, d.kw, d.sh, d.dh, d.dw, d.groups, algo_name(got), algo_name(want));
    check(got == want && ck_conv2d_choose(ctx, &d) == want, isa, msg);
    for (int a = 1; a <= 6; a++) {
        ck_conv_algo r = ck_conv2d_resolve(ctx, &d, (ck_conv_algo)a), e = expected_resolve(&d, (ck_conv_algo)a);
        snprintf(msg, sizeof msg, "conv %dx%dx%d->%d g%d: resolve(%s) = %s, want %s", d.h, d.w, d.cin, d.cout, d.groups,
                 algo_name((ck_conv_algo)a), algo_name(r), algo_name(e));
        check(r == e, isa, msg);
    }
    int oh = ck_conv2d_out_h(&d), ow = ck_conv2d_out_w(&d);
    size_t in_n = (size_t)d.n * d.h * d.w * d.cin, w_n = (size_t)d.kh * d.kw * (d.cin / d.groups) * d.cout;
    size_t out_n = (size_t)d.n * oh * ow * d.cout;
    float *x = rnd(in_n), *w = rnd(w_n), *b = rnd((size_t)d.cout);
    float *ref = malloc(out_n * sizeof(float)), *y = malloc(out_n * sizeof(float));
    ck_conv2d_ref(&d, x, w, b, ref);
    for (int algo = 0; algo <= 6; algo++) {
        size_t ps = ck_conv2d_packed_size(ctx, &d, (ck_conv_algo)algo);
        size_t ws = ck_conv2d_workspace_size(ctx, &d, (ck_conv_algo)algo);
        float *packed = malloc(ps * sizeof(float)), *work = malloc((ws ? ws : 1) * sizeof(float));
        ck_conv2d_pack(ctx, &d, (ck_conv_algo)algo, w, packed);
        ck_conv2d(ctx, &d, (ck_conv_algo)algo, x, packed, b, y, work);
        char what[160];
        snprintf(what, sizeof what, "conv %dx%dx%d->%d k%dx%d s%d d%dx%d g%d algo %s: rel err %.2e", d.h, d.w, d.cin,
                 d.cout, d.kh, d.kw, d.sh, d.dh, d.dw, d.groups, algo_name((ck_conv_algo)algo), rel_err(y, ref, out_n));
        check(rel_err(y, ref, out_n) < conv_tolerance(ck_conv2d_resolve(ctx, &d, (ck_conv_algo)algo)), isa, what);
        free(packed);
        free(work);
    }
    free(x); free(w); free(b); free(ref); free(y);
}

static const char *bf16_kind_name(ck_bf16_kind k);

/* im2col of `d` (groups 1) as a plain matrix [n * oh * ow, kh * kw * cin], for the bf16
 * convolution's bit-exact check against the bf16 reference GEMMs. */
static float *im2col_matrix(const ck_conv2d_desc *d, const float *x) {
    int oh = ck_conv2d_out_h(d), ow = ck_conv2d_out_w(d);
    size_t K = (size_t)d->kh * d->kw * d->cin, rows = (size_t)d->n * oh * ow, r = 0;
    float *a = malloc((rows * K ? rows * K : 1) * sizeof(float));
    for (int n = 0; n < d->n; n++)
        for (int y = 0; y < oh; y++)
            for (int xo = 0; xo < ow; xo++, r++)
                for (int ky = 0; ky < d->kh; ky++)
                    for (int kx = 0; kx < d->kw; kx++)
                        for (int c = 0; c < d->cin; c++) {
                            int ih = y * d->sh - d->pad_top + ky * d->dh, iw = xo * d->sw - d->pad_left + kx * d->dw;
                            float v = ih >= 0 && ih < d->h && iw >= 0 && iw < d->w
                                          ? x[(((size_t)n * d->h + ih) * d->w + iw) * d->cin + c] : 0.0f;
                            a[r * K + ((size_t)ky * d->kw + kx) * d->cin + c] = v;
                        }
    return a;
}

/* A bf16 convolution with each kernel family this context can run, at 2 threads and 1:
 * im2col and implicit GEMM bit-exact against the family's reference GEMM over the im2col
 * matrix; Winograd (position GEMMs in the VDPBF16PS family) bit-exact against the scalar
 * context; all within bf16's rounding of the fp32 reference convolution. */
static void conv_bf16_case(ck_ctx *ctx, const char *isa, ck_conv2d_desc d, ck_conv_algo algo) {
    d.bf16 = 1;
    ck_conv_algo got = ck_conv2d_resolve(ctx, &d, algo);
    int oh = ck_conv2d_out_h(&d), ow = ck_conv2d_out_w(&d), gemm = algo == CK_CONV_IM2COL_GEMM || algo == CK_CONV_IMPLICIT_GEMM;
    size_t K = (size_t)d.kh * d.kw * d.cin, rows = (size_t)d.n * oh * ow;
    size_t in_n = (size_t)d.n * d.h * d.w * d.cin, w_n = K * d.cout, out_n = rows * d.cout;
    float *x = rnd(in_n), *w = rnd(w_n), *b = rnd((size_t)d.cout);
    float *ref = malloc(out_n * sizeof(float)), *want = malloc(out_n * sizeof(float)), *y[2];
    ck_conv2d_ref(&d, x, w, b, ref);
    float *a = gemm ? im2col_matrix(&d, x) : NULL;
    ck_ctx *one = ck_ctx_create(ck_ctx_isa(ctx), 1), *scalar = ck_ctx_create(CK_ISA_SCALAR, 2);
    ck_bf16_kind best = ck_gemm_bf16_kind(ctx);
    for (int kind = CK_BF16_EMULATED; kind <= CK_BF16_AMX; kind++) {
        if (!ck_ctx_set_bf16_kind(ctx, (ck_bf16_kind)kind)) continue;
        ck_ctx_set_bf16_kind(one, (ck_bf16_kind)kind);
        ck_ctx *ctxs[2] = {ctx, one};
        for (int c = 0; c < 2; c++) {
            y[c] = malloc(out_n * sizeof(float));
            float *packed = malloc(ck_conv2d_packed_size(ctxs[c], &d, algo) * sizeof(float));
            size_t ws = ck_conv2d_workspace_size(ctxs[c], &d, algo);
            float *work = malloc((ws ? ws : 1) * sizeof(float));
            ck_conv2d_pack(ctxs[c], &d, algo, w, packed);
            ck_conv2d(ctxs[c], &d, algo, x, packed, b, y[c], work);
            free(packed); free(work);
        }
        if (gemm) {
            (kind == CK_BF16_AMX ? ck_gemm_bf16_amx_ref : ck_gemm_bf16_ref)(rows, (size_t)d.cout, K, a, K, w,
                                                                          (size_t)d.cout, b, d.act, want, (size_t)d.cout);
        } else {
            float *packed = malloc(ck_conv2d_packed_size(scalar, &d, algo) * sizeof(float));
            size_t ws = ck_conv2d_workspace_size(scalar, &d, algo);
            float *work = malloc((ws ? ws : 1) * sizeof(float));
            ck_conv2d_pack(scalar, &d, algo, w, packed);
            ck_conv2d(scalar, &d, algo, x, packed, b, want, work);
            free(packed); free(work);
        }
        char what[220];
        snprintf(what, sizeof what, "conv bf16 %dx%dx%d->%d %s (%s kernel): bit-exact with 1 thread and %s, "
                 "rel err %.2e vs fp32", d.h, d.w, d.cin, d.cout, algo_name(got), bf16_kind_name((ck_bf16_kind)kind),
                 gemm ? "the reference GEMM" : "the scalar context", rel_err(y[0], ref, out_n));
        check(got == algo && memcmp(y[0], want, out_n * sizeof(float)) == 0 &&
                  memcmp(y[1], want, out_n * sizeof(float)) == 0 && rel_err(y[0], ref, out_n) < 2e-2 &&
                  rel_err(y[0], ref, out_n) > 1e-5, isa, what);
        free(y[0]); free(y[1]);
    }
    ck_ctx_set_bf16_kind(ctx, best);
    ck_ctx_destroy(one); ck_ctx_destroy(scalar);
    free(x); free(w); free(b); free(ref); free(want); free(a);
}

/* Winograd with the 2x2 max pool fused into its output pass: the bits of the convolution
 * followed by ck_maxpool2d, for both tile sizes (odd output sides drop their last row and
 * column), fp32 and bf16; every other algorithm declines and writes nothing. */
static void conv_pool_case(ck_ctx *ctx, const char *isa, ck_conv2d_desc d) {
    int oh = ck_conv2d_out_h(&d), ow = ck_conv2d_out_w(&d);
    ck_pool2d_desc p = {.n = d.n, .h = oh, .w = ow, .c = d.cout, .kh = 2, .kw = 2, .sh = 2, .sw = 2};
    size_t in_n = (size_t)d.n * d.h * d.w * d.cin, w_n = (size_t)9 * d.cin * d.cout;
    size_t out_n = (size_t)d.n * oh * ow * d.cout, pool_n = (size_t)d.n * (oh / 2) * (ow / 2) * d.cout;
    float *x = rnd(in_n), *w = rnd(w_n), *b = rnd((size_t)d.cout);
    float *full = malloc(out_n * sizeof(float)), *want = malloc(pool_n * sizeof(float));
    float *got = malloc(pool_n * sizeof(float));
    for (int bf = 0; bf <= 1; bf++)
        for (int algo = 0; algo <= 6; algo++) {
            d.bf16 = bf;
            ck_conv_algo r = ck_conv2d_resolve(ctx, &d, (ck_conv_algo)algo);
            size_t ps = ck_conv2d_packed_size(ctx, &d, (ck_conv_algo)algo);
            size_t ws = ck_conv2d_workspace_size(ctx, &d, (ck_conv_algo)algo);
            float *packed = malloc(ps * sizeof(float)), *work = malloc((ws ? ws : 1) * sizeof(float));
            ck_conv2d_pack(ctx, &d, (ck_conv_algo)algo, w, packed);
            ck_conv2d(ctx, &d, (ck_conv_algo)algo, x, packed, b, full, work);
            ck_maxpool2d(ctx, &p, full, want);
            for (size_t i = 0; i < pool_n; i++) got[i] = 1234.5f;
            int fused = ck_conv2d_maxpool2(ctx, &d, (ck_conv_algo)algo, x, packed, b, got, work);
            int wino = r == CK_CONV_WINOGRAD_2X2 || r == CK_CONV_WINOGRAD_4X4 || r == CK_CONV_WINOGRAD_6X6;
            int untouched = 1;
            for (size_t i = 0; i < pool_n; i++) untouched &= got[i] == 1234.5f;
            char what[160];
            snprintf(what, sizeof what, "conv %dx%dx%d->%d n%d %s%s + 2x2 max pool fused: %s", d.h, d.w, d.cin, d.cout,
                     d.n, bf ? "bf16 " : "", algo_name(r), wino ? "same bits" : "declined, nothing written");
            check(wino ? fused && !memcmp(got, want, pool_n * sizeof(float)) : !fused && untouched, isa, what);
            free(packed);
            free(work);
        }
    free(x); free(w); free(b); free(full); free(want); free(got);
}

/* The algorithm a bf16 3x3 layer gets: implicit GEMM with AMX, else Winograd F(2x2). */
static void conv_bf16_choice_case(ck_ctx *ctx, const char *isa) {
    ck_conv2d_desc d = {.n = 1, .h = 20, .w = 20, .cin = 32, .cout = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1,
                        .dw = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .groups = 1, .bf16 = 1};
    ck_conv_algo want = ck_gemm_bf16_kind(ctx) == CK_BF16_AMX ? CK_CONV_IMPLICIT_GEMM : CK_CONV_WINOGRAD_2X2;
    char what[120];
    snprintf(what, sizeof what, "bf16 3x3 layer chooses %s (%s kernel)", algo_name(want),
             bf16_kind_name(ck_gemm_bf16_kind(ctx)));
    check(ck_conv2d_choose(ctx, &d) == want, isa, what);
}

static void gemm_case(ck_ctx *ctx, const char *isa, size_t M, size_t N, size_t K) {
    float *a = rnd(M * K), *b = rnd(K * N), *bias = rnd(N);
    float *ref = malloc((M * N ? M * N : 1) * sizeof(float)), *y = malloc((M * N ? M * N : 1) * sizeof(float));
    float *packed = malloc(ck_packed_b_size(ctx, K, N) * sizeof(float));
    float *work = malloc(ck_gemm_workspace_size(ctx) * sizeof(float));
    ck_pack_b(ctx, K, N, b, N, packed);
    ck_gemm_ref(M, N, K, a, K, b, N, bias, CK_ACT_RELU, ref, N);
    ck_gemm_packed(ctx, M, N, K, a, K, packed, bias, CK_ACT_RELU, y, N, work);
    char what[96];
    snprintf(what, sizeof what, "gemm %zux%zux%zu", M, N, K);
    check(rel_err(y, ref, M * N) < 1e-5, isa, what);
    free(a); free(b); free(bias); free(ref); free(y); free(packed); free(work);
}

/* The blocking never changes a bit: default blocking against K blocks of 64 and one-panel M
 * tiles (CK_KC, CK_MC_PANELS), A read in place against A packed (ck_gemm_ex with A^T). */
static void gemm_blocking_case(ck_ctx *ctx, const char *isa, size_t M, size_t N, size_t K) {
    setenv("CK_KC", "64", 1);
    setenv("CK_MC_PANELS", "1", 1);
    ck_ctx *small = ck_ctx_create(ck_ctx_isa(ctx), 2);
    unsetenv("CK_KC");
    unsetenv("CK_MC_PANELS");
    float *a = rnd(M * K), *at = malloc(M * K * sizeof(float)), *b = rnd(K * N), *bt = malloc(K * N * sizeof(float));
    for (size_t i = 0; i < M; i++)
        for (size_t k = 0; k < K; k++) at[k * M + i] = a[i * K + k];
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < N; j++) bt[j * K + k] = b[k * N + j];
    float *y[4];
    for (int i = 0; i < 4; i++) y[i] = malloc(M * N * sizeof(float));
    float *packed = malloc(ck_packed_b_size(ctx, K, N) * sizeof(float));
    size_t ws = ck_gemm_ex_workspace_size(ctx, K, N), ws2 = ck_gemm_ex_workspace_size(small, K, N);
    float *work = malloc((ws > ws2 ? ws : ws2) * sizeof(float));
    ck_pack_b(ctx, K, N, b, N, packed);
    ck_gemm_packed(ctx, M, N, K, a, K, packed, NULL, CK_ACT_NONE, y[0], N, work);
    ck_gemm_packed(small, M, N, K, a, K, packed, NULL, CK_ACT_NONE, y[1], N, work);
    ck_gemm_ex(ctx, 1, 0, M, N, K, at, M, b, N, 0, y[2], N, work);
    ck_gemm_ex(small, 0, 1, M, N, K, a, K, bt, K, 0, y[3], N, work);
    char what[120];
    snprintf(what, sizeof what, "gemm %zux%zux%zu: kc %zu / 64, M tile %zu / %d rows, A in place / packed: same bits", M,
             N, K, ck_gemm_kc(ctx), ck_gemm_mc(ctx), ck_gemm_mr(ctx));
    check(small && ck_gemm_kc(small) == 64 && !memcmp(y[0], y[1], M * N * sizeof(float)) &&
              !memcmp(y[0], y[2], M * N * sizeof(float)) && !memcmp(y[0], y[3], M * N * sizeof(float)),
          isa, what);
    for (int i = 0; i < 4; i++) free(y[i]);
    free(a); free(at); free(b); free(bt); free(packed); free(work);
    ck_ctx_destroy(small);
}

static const char *bf16_kind_name(ck_bf16_kind k) {
    return k == CK_BF16_AMX ? "AMX" : k == CK_BF16_AVX512BF16 ? "AVX512_BF16" : "emulated";
}

/* bf16 GEMM with one kernel family: bit-exact against its reference (VDPBF16PS or TDPBF16PS
 * steps), at 2 threads and 1, with denormals, a rounding tie and an overflow among the
 * inputs; within bf16's error of fp32. */
static void gemm_bf16_kind_case(ck_ctx *ctx, const char *isa, ck_bf16_kind kind, size_t M, size_t N, size_t K) {
    float *a = rnd(M * K), *b = rnd(K * N), *bias = rnd(N);
    if (M * K > 4 && K * N > 4) {
        a[0] = 3e-39f;          /* a denormal: flushed by the instruction */
        b[1] = -2e-39f;
        a[2] = 1.00390625f;     /* halfway between two bf16 values: ties to even */
        a[3] = 3e19f; b[3 * N > K * N - 1 ? 0 : 3 * N] = 3e19f;   /* a product that overflows */
    }
    if (M >= 2 && K >= 4 && N >= 2) {
        /* row 1, column 1: a normal sum, then a product below fp32's normal range, then an
         * overflowing product that a huge negative sum cancels: only a fused step keeps both */
        for (size_t k = 0; k < K; k++) { a[K + k] = 0; b[k * N + 1] = 0; }
        a[K + 1] = 0x1p-60f; b[1 * N + 1] = 0x1p-60f;     /* k 0, 1: 2^-120 */
        a[K + 3] = 0x1p-70f; b[3 * N + 1] = 0x1p-70f;     /* k 2, 3: + 2^-140 */
        if (K >= 8) {
            a[K + 5] = -0x1p64f; b[5 * N + 1] = 0x1p63f;  /* k 4, 5: - 2^127 */
            a[K + 7] = 0x1p64f; b[7 * N + 1] = 0x1p64f;   /* k 6, 7: + 2^128 (overflows alone) */
        }
    }
    size_t mn = M * N ? M * N : 1;
    float *ref = malloc(mn * sizeof(float)), *y = malloc(mn * sizeof(float)), *y1 = malloc(mn * sizeof(float));
    float *f32 = malloc(mn * sizeof(float));
    uint32_t *packed = malloc(ck_packed_b_bf16_size(K, N) * sizeof(uint32_t));
    uint32_t *work = malloc(ck_gemm_bf16_workspace_size(ctx) * sizeof(uint32_t));
    ck_pack_b_bf16(K, N, b, N, packed);
    (kind == CK_BF16_AMX ? ck_gemm_bf16_amx_ref : ck_gemm_bf16_ref)(M, N, K, a, K, b, N, bias, CK_ACT_RELU, ref, N);
    ck_gemm_bf16_packed(ctx, M, N, K, a, K, packed, bias, CK_ACT_RELU, y, N, work);
    ck_ctx *one = ck_ctx_create(ck_ctx_isa(ctx), 1);
    ck_ctx_set_bf16_kind(one, kind);
    uint32_t *work1 = malloc(ck_gemm_bf16_workspace_size(one) * sizeof(uint32_t));
    ck_gemm_bf16_packed(one, M, N, K, a, K, packed, bias, CK_ACT_RELU, y1, N, work1);
    char what[128];
    snprintf(what, sizeof what, "gemm bf16 %zux%zux%zu (%s kernel) bit-exact, 2 threads and 1", M, N, K,
             bf16_kind_name(kind));
    check(memcmp(y, ref, M * N * sizeof(float)) == 0 && memcmp(y1, ref, M * N * sizeof(float)) == 0, isa, what);
    /* without the special values: bf16's rounding moves the result by ~2^-8 relative */
    float *a2 = rnd(M * K), *b2 = rnd(K * N);
    ck_pack_b_bf16(K, N, b2, N, packed);
    ck_gemm_bf16_packed(ctx, M, N, K, a2, K, packed, bias, CK_ACT_NONE, y, N, work);
    ck_gemm_ref(M, N, K, a2, K, b2, N, bias, CK_ACT_NONE, f32, N);
    snprintf(what, sizeof what, "gemm bf16 %zux%zux%zu vs fp32: rel err %.2e", M, N, K, rel_err(y, f32, M * N));
    check(rel_err(y, f32, M * N) < 2e-2, isa, what);
    free(a); free(b); free(bias); free(ref); free(y); free(y1); free(f32); free(packed); free(work); free(work1);
    free(a2); free(b2);
    ck_ctx_destroy(one);
}

static const char *int8_kind_name(ck_int8_kind k) {
    return k == CK_INT8_AMX           ? "AMX"
           : k == CK_INT8_AVX512VNNI  ? "AVX512-VNNI"
           : k == CK_INT8_NEON_SDOT   ? "NEON SDOT"
           : k == CK_INT8_AVXVNNI     ? "AVX-VNNI"
                                      : "portable";
}

/* The quantisation of a's values in [lo, hi] scaled by `narrow` (< 1 clips the tails). */
static void int8_range_of(const float *a, size_t n, float narrow, float *scale, int *zero) {
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] < lo) lo = a[i];
        if (a[i] > hi) hi = a[i];
    }
    ck_int8_range(lo * narrow, hi * narrow, scale, zero);
}

/* int8 GEMM with one kernel: bit-exact against the reference at 2 threads and 1, with
 * clipped values, NaN, infinities, a rounding tie and an all-zero weight column among the
 * inputs; within int8's error of fp32 (and visibly not fp32). */
static void gemm_int8_kind_case(ck_ctx *ctx, const char *isa, ck_int8_kind kind, size_t M, size_t N, size_t K,
                                float shift) {
    float *a = rnd(M * K), *b = rnd(K * N), *bias = rnd(N);
    for (size_t i = 0; i < M * K; i++) a[i] += shift;   /* shift 1: non-negative, as after ReLU */
    float scale;
    int zero;
    int8_range_of(a, M * K, 0.9f, &scale, &zero);
    if (M * K > 4 && K * N > 4) {
        a[0] = NAN;
        a[1] = INFINITY;
        a[2] = -INFINITY;
        a[3] = 2.5f * scale;      /* ties to even: 2 steps above the zero point */
        for (size_t k = 0; k < K; k++) b[k * N] = 0.0f;
    }
    size_t mn = M * N ? M * N : 1;
    float *ref = malloc(mn * sizeof(float)), *y = malloc(mn * sizeof(float)), *y1 = malloc(mn * sizeof(float));
    float *f32 = malloc(mn * sizeof(float));
    uint32_t *packed = malloc(ck_packed_b_int8_size(K, N) * sizeof(uint32_t));
    uint32_t *work = malloc(ck_gemm_int8_workspace_size(ctx) * sizeof(uint32_t));
    ck_pack_b_int8(K, N, b, N, scale, zero, packed);
    ck_gemm_int8_ref(M, N, K, a, K, b, N, scale, zero, bias, CK_ACT_RELU, ref, N);
    ck_gemm_int8_packed(ctx, M, N, K, a, K, packed, bias, CK_ACT_RELU, y, N, work);
    ck_ctx *one = ck_ctx_create(ck_ctx_isa(ctx), 1);
    ck_ctx_set_int8_kind(one, kind);
    uint32_t *work1 = malloc(ck_gemm_int8_workspace_size(one) * sizeof(uint32_t));
    ck_gemm_int8_packed(one, M, N, K, a, K, packed, bias, CK_ACT_RELU, y1, N, work1);
    char what[160];
    snprintf(what, sizeof what, "gemm int8 %zux%zux%zu zero point %d (%s kernel) bit-exact, 2 threads and 1", M, N, K,
             zero, int8_kind_name(kind));
    check(memcmp(y, ref, M * N * sizeof(float)) == 0 && memcmp(y1, ref, M * N * sizeof(float)) == 0, isa, what);
    /* ordinary values, the full range: int8's rounding moves the result by ~1e-2 */
    float *a2 = rnd(M * K), *b2 = rnd(K * N);
    for (size_t i = 0; i < M * K; i++) a2[i] += shift;
    int8_range_of(a2, M * K, 1.0f, &scale, &zero);
    ck_pack_b_int8(K, N, b2, N, scale, zero, packed);
    ck_gemm_int8_packed(ctx, M, N, K, a2, K, packed, bias, CK_ACT_NONE, y, N, work);
    ck_gemm_ref(M, N, K, a2, K, b2, N, bias, CK_ACT_NONE, f32, N);
    double e = rel_err(y, f32, M * N);
    snprintf(what, sizeof what, "gemm int8 %zux%zux%zu vs fp32: rel err %.2e", M, N, K, e);
    check(e < 3e-2 && (K < 8 || e > 1e-5), isa, what);
    free(a); free(b); free(bias); free(ref); free(y); free(y1); free(f32); free(packed); free(work); free(work1);
    free(a2); free(b2);
    ck_ctx_destroy(one);
}

/* Every int8 kernel this CPU and context can run. */
static void gemm_int8_case(ck_ctx *ctx, const char *isa, size_t M, size_t N, size_t K, float shift) {
    ck_int8_kind best = ck_gemm_int8_kind(ctx);
    for (int k = CK_INT8_SCALAR; k < CK_INT8_KINDS; k++)
        if (ck_ctx_set_int8_kind(ctx, (ck_int8_kind)k)) gemm_int8_kind_case(ctx, isa, (ck_int8_kind)k, M, N, K, shift);
    ck_ctx_set_int8_kind(ctx, best);
}

/* An int8 convolution with each kernel this context can run, at 2 threads and 1: bit-exact
 * against the reference GEMM over the im2col matrix (padding is 0.0, so the zero point);
 * within int8's error of the fp32 reference convolution. Winograd requests resolve to the
 * implicit GEMM. */
static void conv_int8_case(ck_ctx *ctx, const char *isa, ck_conv2d_desc d, ck_conv_algo algo, float shift) {
    d.int8 = 1;
    int oh = ck_conv2d_out_h(&d), ow = ck_conv2d_out_w(&d);
    size_t K = (size_t)d.kh * d.kw * d.cin, rows = (size_t)d.n * oh * ow;
    size_t in_n = (size_t)d.n * d.h * d.w * d.cin, w_n = K * d.cout, out_n = rows * d.cout;
    float *x = rnd(in_n), *w = rnd(w_n), *b = rnd((size_t)d.cout);
    for (size_t i = 0; i < in_n; i++) x[i] += shift;
    int8_range_of(x, in_n, 1.0f, &d.in_scale, &d.in_zero);
    ck_conv_algo got = ck_conv2d_resolve(ctx, &d, algo), expect = algo;
    if (algo == CK_CONV_WINOGRAD_2X2 || algo == CK_CONV_WINOGRAD_4X4 || algo == CK_CONV_WINOGRAD_6X6)
        expect = CK_CONV_IMPLICIT_GEMM;
    float *ref = malloc(out_n * sizeof(float)), *want = malloc(out_n * sizeof(float)), *y[2];
    ck_conv2d_ref(&d, x, w, b, ref);
    float *a = im2col_matrix(&d, x);
    ck_gemm_int8_ref(rows, (size_t)d.cout, K, a, K, w, (size_t)d.cout, d.in_scale, d.in_zero, b, d.act, want,
                     (size_t)d.cout);
    ck_ctx *one = ck_ctx_create(ck_ctx_isa(ctx), 1);
    ck_int8_kind best = ck_gemm_int8_kind(ctx);
    for (int kind = CK_INT8_SCALAR; kind < CK_INT8_KINDS; kind++) {
        if (!ck_ctx_set_int8_kind(ctx, (ck_int8_kind)kind)) continue;
        ck_ctx_set_int8_kind(one, (ck_int8_kind)kind);
        ck_ctx *ctxs[2] = {ctx, one};
        for (int c = 0; c < 2; c++) {
            y[c] = malloc(out_n * sizeof(float));
            float *packed = malloc(ck_conv2d_packed_size(ctxs[c], &d, algo) * sizeof(float));
            size_t ws = ck_conv2d_workspace_size(ctxs[c], &d, algo);
            float *work = malloc((ws ? ws : 1) * sizeof(float));
            ck_conv2d_pack(ctxs[c], &d, algo, w, packed);
            ck_conv2d(ctxs[c], &d, algo, x, packed, b, y[c], work);
            free(packed); free(work);
        }
        double e = rel_err(y[0], ref, out_n);
        char what[220];
        snprintf(what, sizeof what, "conv int8 %dx%dx%d->%d k%dx%d %s zero point %d (%s kernel): bit-exact with "
                 "1 thread and the reference GEMM, rel err %.2e vs fp32", d.h, d.w, d.cin, d.cout, d.kh, d.kw,
                 algo_name(got), d.in_zero, int8_kind_name((ck_int8_kind)kind), e);
        check(got == expect && memcmp(y[0], want, out_n * sizeof(float)) == 0 &&
                  memcmp(y[1], want, out_n * sizeof(float)) == 0 && e < 3e-2 && e > 1e-5, isa, what);
        free(y[0]); free(y[1]);
    }
    ck_ctx_set_int8_kind(ctx, best);
    ck_ctx_destroy(one);
    free(x); free(w); free(b); free(ref); free(want); free(a);
}

/* The quantiser's rounding and saturation: ties to even, clamping at 0 and 255, NaN and
 * infinities (VCVTPS2DQ would turn those into INT_MIN), against values worked by hand. */
static void int8_quantize_case(const char *isa) {
    const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300.0f, -300.0f, NAN, INFINITY, -INFINITY, 127.49f, 1e-30f};
    const int want[] = {10, 12, 12, 10, 8, 255, 0, 0, 255, 0, 137, 10};
    int bad = 0;
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) bad += ck_int8_quantize(x[i], 1.0f, 10) != want[i];
    float s;
    int z;
    ck_int8_range(-1.0f, 3.0f, &s, &z);       /* 4 / 255 per step; -1 -> 63.75 -> 64 */
    bad += !(s == 4.0f / 255.0f && z == 64);
    ck_int8_range(0.5f, 2.0f, &s, &z);        /* widened to hold 0 */
    bad += !(s == 2.0f / 255.0f && z == 0);
    ck_int8_range(0.0f, 0.0f, &s, &z);        /* empty: any scale, zero 0 */
    bad += !(s == 1.0f && z == 0);
    check(bad == 0, isa, "int8 quantisation: ties to even, saturation, NaN and infinities, ranges");
}

/* Every bf16 kernel family this CPU and context can run. */
static void gemm_bf16_case(ck_ctx *ctx, const char *isa, size_t M, size_t N, size_t K) {
    ck_bf16_kind best = ck_gemm_bf16_kind(ctx);
    for (int k = CK_BF16_EMULATED; k <= CK_BF16_AMX; k++)
        if (ck_ctx_set_bf16_kind(ctx, (ck_bf16_kind)k)) gemm_bf16_kind_case(ctx, isa, (ck_bf16_kind)k, M, N, K);
    ck_ctx_set_bf16_kind(ctx, best);
}

#if defined(__x86_64__)
#include <immintrin.h>
/* ck_bf16_round against the instruction VCVTNEPS2BF16 on this CPU (when it has AVX512_BF16). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static size_t bf16_round_hw_mismatches(
    const float *x, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i + 16 <= n; i += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
        uint16_t out[16];
        memcpy(out, &h, sizeof out);
        for (int j = 0; j < 16; j++) bad += out[j] != ck_bf16_round(x[i + j]);
    }
    return bad;
}

static void bf16_round_case(ck_ctx *ctx, const char *isa) {
    /* the CPU has the instruction whether or not the context's GEMM uses it */
    ck_bf16_kind best = ck_gemm_bf16_kind(ctx);
    int has = ck_ctx_set_bf16_kind(ctx, CK_BF16_AVX512BF16);
    ck_ctx_set_bf16_kind(ctx, best);
    if (!has) return;
    size_t n = 1 << 20;
    float *x = malloc(n * sizeof(float));
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {   /* every exponent, ties, denormals, infinities */
        s = s * 1664525u + 1013904223u;
        uint32_t u = i % 4 == 0 ? (s & 0xFFFF8000u) | 0x8000u : s;
        if (i % 97 == 0) u &= 0x807FFFFFu;          /* denormal */
        if (i % 101 == 0) u = (u & 0x80000000u) | 0x7F800000u;   /* infinity */
        memcpy(&x[i], &u, 4);
        if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu)) x[i] = 1.0f;   /* NaN payloads aside */
    }
    char what[96];
    size_t bad = bf16_round_hw_mismatches(x, n);
    snprintf(what, sizeof what, "bf16 rounding equals VCVTNEPS2BF16 on %zu values (%zu differ)", n, bad);
    check(bad == 0, isa, what);
    free(x);
}
#else
static void bf16_round_case(ck_ctx *ctx, const char *isa) { (void)ctx; (void)isa; }
#endif

/* The table's vectorised bf16 rounding against ck_bf16_round, value by value: ties, denormals,
 * infinities and NaN payloads, an odd count (a masked or scalar tail). */
static void bf16_row_case(ck_ctx *ctx, const char *isa) {
    size_t n = 100003;
    float *x = malloc(n * sizeof(float));
    uint16_t *h = malloc(n * sizeof(uint16_t));
    uint32_t s = 777;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        uint32_t u = i % 4 == 0 ? (s & 0xFFFF8000u) | (i % 8 == 0 ? 0x8000u : 0x18000u) : s;
        if (i % 97 == 0) u &= 0x807FFFFFu;                           /* denormal */
        if (i % 101 == 0) u = (u & 0x80000000u) | 0x7F800000u;      /* infinity */
        if (i % 103 == 0) u = (u & 0x80000000u) | 0x7F800000u | (s >> 9 | 1u);   /* NaN, any payload */
        memcpy(&x[i], &u, 4);
    }
    ck_bf16_round_row(ctx, x, n, h);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += h[i] != ck_bf16_round(x[i]);
    char what[96];
    snprintf(what, sizeof what, "bf16 row rounding equals ck_bf16_round on %zu values (%zu differ)", n, bad);
    check(bad == 0, isa, what);
    free(x); free(h);
}

static void eltwise_case(ck_ctx *ctx, const char *isa, size_t rows, size_t c) {
    size_t n = rows * c;
    float *x = rnd(n), *y = rnd(n), *p0 = rnd(c), *p1 = rnd(c);
    float *r = malloc(n * sizeof(float)), *o = malloc(n * sizeof(float));
    x[0] = NAN;
    ck_relu_ref(n, x, r); ck_relu(ctx, n, x, o);
    check(memcmp(r, o, n * sizeof(float)) == 0, isa, "relu bit-exact");
    ck_add_ref(n, x, y, r); ck_add(ctx, n, x, y, o);
    check(memcmp(r, o, n * sizeof(float)) == 0, isa, "add bit-exact");
    ck_affine_channels_ref(rows, c, x, p0, p1, r); ck_affine_channels(ctx, rows, c, x, p0, p1, o);
    check(memcmp(r, o, n * sizeof(float)) == 0, isa, "affine bit-exact");
    ck_prelu_ref(rows, c, x, p0, r); ck_prelu(ctx, rows, c, x, p0, o);
    check(memcmp(r, o, n * sizeof(float)) == 0, isa, "prelu bit-exact");
    free(x); free(y); free(p0); free(p1); free(r); free(o);
}

/* Max and average pooling against the reference, bit-exact (the drivers have their own
 * channels-innermost row kernels). */
static void pool_case(ck_ctx *ctx, const char *isa, ck_pool2d_desc d) {
    size_t in_n = (size_t)d.n * d.h * d.w * d.c, out_n = (size_t)d.n * ck_pool2d_out_h(&d) * ck_pool2d_out_w(&d) * d.c;
    float *x = rnd(in_n), *r = malloc(out_n * sizeof(float)), *o = malloc(out_n * sizeof(float));
    char what[160], shape[120];
    snprintf(shape, sizeof shape, "%dx%dx%d k%dx%d s%dx%d pad %d,%d,%d,%d ceil %d include_pad %d", d.h, d.w, d.c, d.kh,
             d.kw, d.sh, d.sw, d.pad_top, d.pad_left, d.pad_bottom, d.pad_right, d.ceil_mode, d.count_include_pad);
    ck_maxpool2d_ref(&d, x, r); ck_maxpool2d(ctx, &d, x, o);
    snprintf(what, sizeof what, "maxpool %s bit-exact", shape);
    check(memcmp(r, o, out_n * sizeof(float)) == 0, isa, what);
    ck_avgpool2d_ref(&d, x, r); ck_avgpool2d(ctx, &d, x, o);
    snprintf(what, sizeof what, "avgpool %s bit-exact", shape);
    check(memcmp(r, o, out_n * sizeof(float)) == 0, isa, what);
    free(x); free(r); free(o);
}

/* ck_lstm_forward and ck_lstm_backward against the independent plain-loop reference (libm
 * exp and tanh; the kernels' own exp is within 2 ulp): relative error under 1e-5. Both
 * backward passes read the caches of their own forward pass. */
static void lstm_ref_case(ck_ctx *ctx, const char *isa, size_t b, size_t t, size_t f, size_t u) {
    size_t g4 = 4 * u, xs = b * t * f, hs = b * t * u, gs = b * t * g4;
    float *x = rnd(xs), *W = rnd(f * g4), *U = rnd(u * g4), *bias = rnd(g4), *dh = rnd(hs);
    float *h[2], *gates[2], *cells[2], *dx[2], *dW[2], *dU[2], *db[2];
    for (int k = 0; k < 2; k++) {
        h[k] = malloc(hs * sizeof(float)); gates[k] = malloc(gs * sizeof(float)); cells[k] = malloc(hs * sizeof(float));
        dx[k] = malloc(xs * sizeof(float));
        dW[k] = calloc(f * g4, sizeof(float)); dU[k] = calloc(u * g4, sizeof(float)); db[k] = calloc(g4, sizeof(float));
    }
    float *dz = malloc(gs * sizeof(float)), *scratch = malloc(2 * u * sizeof(float));
    ck_lstm_forward_ref(b, t, f, u, x, W, U, bias, h[0], gates[0], cells[0]);
    ck_lstm_backward_ref(b, t, f, u, x, W, U, h[0], gates[0], cells[0], dh, dz, dx[0], dW[0], dU[0], db[0], scratch);
    float *ws = malloc(ck_lstm_workspace_size(ctx, b, t, f, u) * sizeof(float));
    ck_lstm_forward(ctx, b, t, f, u, x, W, U, bias, h[1], gates[1], cells[1], ws);
    ck_lstm_backward(ctx, b, t, f, u, x, W, U, h[1], gates[1], cells[1], dh, dx[1], dW[1], dU[1], db[1], ws);
    struct { const char *name; float **v; size_t n; } outs[] = {
        {"h", h, hs}, {"gates", gates, gs}, {"cells", cells, hs}, {"dx", dx, xs},
        {"dkernel", dW, f * g4}, {"drecurrent", dU, u * g4}, {"dbias", db, g4}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        double e = rel_err(outs[i].v[1], outs[i].v[0], outs[i].n);
        char what[128];
        snprintf(what, sizeof what, "lstm %zux%zux%zu->%zu %s vs reference: rel err %.2e", b, t, f, u, outs[i].name, e);
        check(e < 1e-5, isa, what);
    }
    for (int k = 0; k < 2; k++) { free(h[k]); free(gates[k]); free(cells[k]); free(dx[k]); free(dW[k]); free(dU[k]); free(db[k]); }
    free(x); free(W); free(U); free(bias); free(dh); free(dz); free(scratch); free(ws);
}

/* The LSTM recurrence forward and backward (sigmoid, tanh, exp of ck_lstm_cell.h) against
 * a scalar-ISA context: bit-exact. */
static void lstm_case(ck_ctx *ctx, const char *isa, size_t b, size_t t, size_t u) {
    ck_ctx *ref = ck_ctx_create(CK_ISA_SCALAR, 1);
    size_t g = b * t * 4 * u, hc = b * t * u;
    float *pre = rnd(g), *U = rnd(u * 4 * u), *dh = rnd(hc);
    for (size_t i = 0; i < g; i++) pre[i] *= 6.0f;   /* reach the saturated ends */
    float *out[2];
    for (int k = 0; k < 2; k++) {
        ck_ctx *c = k ? ctx : ref;
        float *o = calloc(2 * g + 2 * hc, sizeof(float)), *dr = calloc(u * 4 * u, sizeof(float));
        float *ws = malloc(ck_lstm_workspace_size(c, b, t, 0, u) * sizeof(float));
        memcpy(o, pre, g * sizeof(float));
        ck_lstm_recurrence(c, b, t, u, U, o, o + g, o + g + hc);
        ck_lstm_bptt(c, b, t, u, U, o + g, o, o + g + hc, dh, o + g + 2 * hc, dr, ws);
        out[k] = o;
        free(dr); free(ws);
    }
    char what[96];
    snprintf(what, sizeof what, "lstm recurrence %zux%zux%zu bit-exact", b, t, u);
    check(memcmp(out[0], out[1], (2 * g + 2 * hc) * sizeof(float)) == 0, isa, what);
    free(out[0]); free(out[1]); free(pre); free(U); free(dh);
    ck_ctx_destroy(ref);
}

/* Convolution backward-data: the reference scatter against the adjoint identity
 * <conv(x), dy> = <x, dx> in double and central finite differences of that sum; the
 * driver (a forward convolution on the flipped kernel, every algorithm that applies)
 * against the reference. */
static void conv_bwd_case(ck_ctx *ctx, const char *isa, ck_conv2d_desc d) {
    d.act = CK_ACT_NONE;
    int oh = ck_conv2d_out_h(&d), ow = ck_conv2d_out_w(&d);
    size_t xs = (size_t)d.n * d.h * d.w * d.cin, ys = (size_t)d.n * oh * ow * d.cout;
    size_t wsz = (size_t)d.kh * d.kw * (d.cin / d.groups) * d.cout;
    float *x = rnd(xs), *w = rnd(wsz), *dy = rnd(ys), *y = malloc(ys * sizeof(float));
    float *ref = malloc(xs * sizeof(float)), *dx = malloc(xs * sizeof(float));
    char shape[160], what[256];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d->%d k%dx%d s%d,%d d%d,%d g%d p%d,%d,%d,%d", d.n, d.h, d.w, d.cin,
             d.cout, d.kh, d.kw, d.sh, d.sw, d.dh, d.dw, d.groups, d.pad_top, d.pad_left, d.pad_bottom, d.pad_right);
    ck_conv2d_backward_data_ref(&d, dy, w, ref);
    ck_conv2d_ref(&d, x, w, NULL, y);
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t i = 0; i < ys; i++) { lhs += (double)y[i] * dy[i]; scale += fabs((double)y[i] * dy[i]); }
    for (size_t i = 0; i < xs; i++) rhs += (double)x[i] * ref[i];
    snprintf(what, sizeof what, "conv backward-data %s reference: adjoint identity (%.2e)", shape,
             fabs(lhs - rhs) / scale);
    check(fabs(lhs - rhs) <= 1e-5 * scale, isa, what);
    double worst = 0, gmax = 1e-30;
    for (size_t i = 0; i < xs; i++) gmax = fmax(gmax, fabs(ref[i]));
    for (size_t i = 0; i < xs; i += xs / 23 + 1) {
        double l[2];
        float keep = x[i];
        for (int k = 0; k < 2; k++) {
            x[i] = keep + (k ? -0.0625f : 0.0625f);
            ck_conv2d_ref(&d, x, w, NULL, y);
            l[k] = 0;
            for (size_t j = 0; j < ys; j++) l[k] += (double)y[j] * dy[j];
        }
        x[i] = keep;
        worst = fmax(worst, fabs((l[0] - l[1]) / 0.125 - ref[i]) / gmax);
    }
    snprintf(what, sizeof what, "conv backward-data %s reference: finite differences (%.2e)", shape, worst);
    check(worst < 1e-4, isa, what);
    ck_conv2d_desc b;
    check(ck_conv2d_backward_data_desc(&d, &b), isa, "conv backward-data has a forward form");
    float *wt = malloc(wsz * sizeof(float));
    ck_conv2d_backward_data_weights(&d, w, wt);
    size_t ds = ck_conv2d_backward_data_dilated_size(&d);
    float *dyd = ds ? malloc(ds * sizeof(float)) : NULL;
    if (dyd) ck_conv2d_backward_data_dilate(&d, dy, dyd);
    for (int algo = CK_CONV_AUTO; algo <= CK_CONV_WINOGRAD_6X6; algo++) {
        ck_conv_algo a = ck_conv2d_resolve(ctx, &b, (ck_conv_algo)algo);
        if (algo != CK_CONV_AUTO && a != (ck_conv_algo)algo) continue;
        float *packed = malloc(ck_conv2d_packed_size(ctx, &b, a) * sizeof(float));
        float *work = malloc((ck_conv2d_workspace_size(ctx, &b, a) + 1) * sizeof(float));
        ck_conv2d_pack(ctx, &b, a, wt, packed);
        ck_conv2d(ctx, &b, a, dyd ? dyd : dy, packed, NULL, dx, work);
        double e = rel_err(dx, ref, xs);
        snprintf(what, sizeof what, "conv backward-data %s %s vs reference: rel err %.2e", shape, algo_name(a), e);
        check(e < conv_tolerance(a), isa, what);
        free(packed); free(work);
    }
    free(x); free(w); free(dy); free(y); free(ref); free(dx); free(wt); free(dyd);
}

/* Pooling backward: max pooling by central finite differences of <pool(x), dy> (inputs
 * apart by more than the step, so no window's maximum changes hands), average pooling by
 * the adjoint identity; the tie rule (the first maximum, as PyTorch) on an all-zero image. */
static void pool_bwd_case(ck_ctx *ctx, const char *isa, ck_pool2d_desc d) {
    size_t xs = (size_t)d.n * d.h * d.w * d.c, ys = (size_t)d.n * ck_pool2d_out_h(&d) * ck_pool2d_out_w(&d) * d.c;
    float *x = malloc(xs * sizeof(float)), *dy = rnd(ys), *y = malloc(ys * sizeof(float));
    float *dx = malloc(xs * sizeof(float));
    for (size_t i = 0; i < xs; i++) x[i] = (float)((i * 7919) % xs) / (float)xs * 8.0f - 4.0f;
    char shape[128], what[200];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d k%dx%d s%d,%d p%d,%d,%d,%d ceil%d pad%d", d.n, d.h, d.w, d.c, d.kh,
             d.kw, d.sh, d.sw, d.pad_top, d.pad_left, d.pad_bottom, d.pad_right, d.ceil_mode, d.count_include_pad);
    ck_maxpool2d_backward(ctx, &d, x, dy, dx);
    double worst = 0, gmax = 1e-30;
    for (size_t i = 0; i < xs; i++) gmax = fmax(gmax, fabs(dx[i]));
    float step = 1.0f / (float)(4 * xs);
    for (size_t i = 0; i < xs; i++) {
        double l[2];
        float keep = x[i];
        for (int k = 0; k < 2; k++) {
            x[i] = keep + (k ? -step : step);
            ck_maxpool2d_ref(&d, x, y);
            l[k] = 0;
            for (size_t j = 0; j < ys; j++) l[k] += (double)y[j] * dy[j];
        }
        x[i] = keep;
        worst = fmax(worst, fabs((l[0] - l[1]) / (2.0 * step) - dx[i]) / gmax);
    }
    snprintf(what, sizeof what, "maxpool backward %s: finite differences (%.2e)", shape, worst);
    check(worst < 1e-2, isa, what);
    ck_avgpool2d_backward(ctx, &d, dy, dx);
    ck_avgpool2d_ref(&d, x, y);
    double lhs = 0, rhs = 0, scale = 1e-30;
    for (size_t j = 0; j < ys; j++) { lhs += (double)y[j] * dy[j]; scale += fabs((double)y[j] * dy[j]); }
    for (size_t i = 0; i < xs; i++) rhs += (double)x[i] * dx[i];
    snprintf(what, sizeof what, "avgpool backward %s: adjoint identity (%.2e)", shape, fabs(lhs - rhs) / scale);
    check(fabs(lhs - rhs) <= 1e-5 * scale, isa, what);
    memset(x, 0, xs * sizeof(float));
    for (size_t j = 0; j < ys; j++) dy[j] = 1.0f;
    ck_maxpool2d_backward(ctx, &d, x, dy, dx);
    /* every window starts at its first in-image position: only those receive gradient */
    int first_only = 1;
    for (int n = 0; n < d.n; n++)
        for (int ih = 0; ih < d.h; ih++)
            for (int iw = 0; iw < d.w; iw++) {
                int starts = 0;
                for (int oh = 0; oh < ck_pool2d_out_h(&d); oh++)
                    for (int ow = 0; ow < ck_pool2d_out_w(&d); ow++) {
                        int h0 = oh * d.sh - d.pad_top, w0 = ow * d.sw - d.pad_left;
                        int fh = h0 < 0 ? 0 : h0, fw = w0 < 0 ? 0 : w0;
                        if (fh == ih && fw == iw && fh < d.h && fw < d.w && h0 + d.kh > 0 && w0 + d.kw > 0) starts++;
                    }
                float got = dx[(((size_t)n * d.h + ih) * d.w + iw) * d.c];
                if (got != (float)starts) first_only = 0;
            }
    snprintf(what, sizeof what, "maxpool backward %s: ties go to the first position", shape);
    check(first_only, isa, what);
    free(x); free(dy); free(y); free(dx);
}

int main(void) {
    verbose = getenv("KERNEL_CHECK_VERBOSE") && *getenv("KERNEL_CHECK_VERBOSE") == '1';
    printf("kernel_check: fast-math %s\n", ck_built_with_fast_math() ? "ON (wrong)" : "off");
    check(!ck_built_with_fast_math(), "build", "no fast-math");
    for (int i = 0; i < CK_ISA_COUNT; i++) {
        ck_isa isa = (ck_isa)i;
        if (!ck_isa_supported(isa)) continue;
        const char *name = ck_isa_name(isa);
        ck_ctx *ctx = ck_ctx_create(isa, 2);
        if (!ctx) { check(0, name, "context"); continue; }
        printf("kernel_check: %s (gemm tile %dx%d)\n", name, ck_gemm_mr(ctx), ck_gemm_nr(ctx));
        ck_conv2d_desc base = {.n = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1};
        ck_conv2d_desc d = base;
        d.h = 7; d.w = 9; d.cin = 3; d.cout = 5; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM);   /* too few channels for Winograd */
        d = base; d.h = 20; d.w = 18; d.cin = 3; d.cout = 40; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_case(ctx, name, d, CK_CONV_WINOGRAD_4X4);    /* an RGB input layer with outputs >= 16 */
        d = base; d.n = 2; d.h = 13; d.w = 11; d.cin = 20; d.cout = 33; d.act = CK_ACT_RELU;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_case(ctx, name, d, CK_CONV_WINOGRAD_2X2);
        d = base; d.n = 2; d.h = 9; d.w = 10; d.cin = 16; d.cout = 16; d.pad_top = 1; d.pad_right = 2;
        conv_case(ctx, name, d, CK_CONV_WINOGRAD_2X2);    /* 16 -> 16: the AVX-512 context runs AVX2 tiles */
        d = base; d.h = 30; d.w = 30; d.cin = 300; d.cout = 40; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_case(ctx, name, d, CK_CONV_WINOGRAD_4X4);    /* both output sides >= 16 */
        /* few tiles and large weights: Winograd's chunk schedule (positions split over threads),
         * which a U of over a third of L3 gets: L3 set to 1 MiB */
        setenv("CK_L3_BYTES", "1048576", 1);
        ck_ctx *small_l3 = ck_ctx_create(isa, 2);
        unsetenv("CK_L3_BYTES");
        d = base; d.n = 2; d.h = 17; d.w = 15; d.cin = 128; d.cout = 130; d.act = CK_ACT_RELU;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_case(small_l3, name, d, CK_CONV_WINOGRAD_2X2);
        conv_case(ctx, name, d, CK_CONV_WINOGRAD_2X2);   /* and by blocks */
        d = base; d.h = 11; d.w = 7; d.cin = 12; d.cout = 12; d.groups = 12; d.sh = d.sw = 2; d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_case(ctx, name, d, CK_CONV_DEPTHWISE);
        d = base; d.h = 10; d.w = 10; d.cin = 16; d.cout = 24; d.kh = d.kw = 1; d.sh = d.sw = 2;
        conv_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM);
        d = base; d.h = 12; d.w = 13; d.cin = 16; d.cout = 20; d.dw = 2; d.pad_left = d.pad_right = 2;
        conv_case(ctx, name, d, CK_CONV_IM2COL_GEMM);     /* dilation in w */
        d = base; d.h = 9; d.w = 8; d.cin = 16; d.cout = 32; d.dh = 2; d.pad_top = 2;
        conv_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM);   /* dilation in h only */
        d = base; d.h = 8; d.w = 9; d.cin = 8; d.cout = 12; d.groups = 2; d.kw = 5; d.sw = 2; d.pad_left = 2;
        conv_case(ctx, name, d, CK_CONV_IM2COL_GEMM);     /* groups */
        gemm_case(ctx, name, 1, 1024, 512);
        gemm_case(ctx, name, 37, 65, 300);
        gemm_case(ctx, name, 5, 3, 7);
        gemm_blocking_case(ctx, name, 50, 70, 1300);
        {
            ck_conv2d_desc pd = {.n = 2, .h = 13, .w = 11, .cin = 20, .cout = 33, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                                 .dh = 1, .dw = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1,
                                 .groups = 1, .act = CK_ACT_RELU};
            conv_pool_case(ctx, name, pd);   /* odd sides, blocks spanning images */
            pd.h = 16; pd.w = 18; pd.act = CK_ACT_NONE;
            conv_pool_case(ctx, name, pd);   /* even sides, signed outputs */
            pd = (ck_conv2d_desc){.n = 2, .h = 17, .w = 15, .cin = 128, .cout = 130, .kh = 3, .kw = 3, .sh = 1,
                                  .sw = 1, .dh = 1, .dw = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
                                  .pad_right = 1, .groups = 1, .act = CK_ACT_RELU};
            conv_pool_case(small_l3, name, pd);   /* the chunk schedule */
            conv_pool_case(ctx, name, pd);
        }
        ck_ctx_destroy(small_l3);
        d = base; d.h = 20; d.w = 18; d.cin = 3; d.cout = 40; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bf16_case(ctx, name, d, CK_CONV_WINOGRAD_2X2);   /* RGB first layer: F(4x4) in fp32 */
        d = base; d.n = 2; d.h = 13; d.w = 11; d.cin = 21; d.cout = 33; d.act = CK_ACT_RELU;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bf16_case(ctx, name, d, CK_CONV_WINOGRAD_2X2);
        d = base; d.h = 30; d.w = 30; d.cin = 300; d.cout = 40; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bf16_case(ctx, name, d, CK_CONV_WINOGRAD_2X2);   /* two K blocks; F(4x4) in fp32 */
        d = base; d.n = 2; d.h = 17; d.w = 15; d.cin = 128; d.cout = 130; d.act = CK_ACT_RELU;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bf16_case(ctx, name, d, CK_CONV_WINOGRAD_2X2);   /* the chunk schedule */
        conv_bf16_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM);
        d = base; d.n = 3; d.h = 15; d.w = 14; d.cin = 64; d.cout = 70; d.act = CK_ACT_RELU;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bf16_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM);   /* rows in place (a kernel row of 192) */
        conv_bf16_case(ctx, name, d, CK_CONV_IM2COL_GEMM);
        d = base; d.h = 20; d.w = 18; d.cin = 3; d.cout = 40; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bf16_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM);   /* RGB: K = 27, one padded step */
        d = base; d.h = 12; d.w = 13; d.cin = 16; d.cout = 20; d.kw = 5; d.dw = 2; d.sh = 2; d.pad_left = d.pad_right = 4;
        conv_bf16_case(ctx, name, d, CK_CONV_IM2COL_GEMM);     /* dilation in w, stride in h */
        d = base; d.h = 9; d.w = 9; d.cin = 40; d.cout = 24; d.kh = d.kw = 1; d.sh = d.sw = 2;
        conv_bf16_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM);   /* 1x1 stride 2 */
        conv_bf16_choice_case(ctx, name);
        gemm_bf16_case(ctx, name, 1, 1024, 512);
        gemm_bf16_case(ctx, name, 37, 65, 300);
        gemm_bf16_case(ctx, name, 100, 70, 777);   /* two K blocks, an odd K */
        gemm_bf16_case(ctx, name, 5, 3, 7);
        gemm_bf16_case(ctx, name, 3, 5, 0);      /* no products: bias and act */
        gemm_bf16_case(ctx, name, 33, 65, 2100);   /* AMX: a partial row tile, three K blocks */
        gemm_bf16_case(ctx, name, 300, 32, 64);    /* AMX: three M tiles, whole tiles */
        gemm_bf16_case(ctx, name, 64, 96, 1024);   /* AMX: C stored in place between no blocks */
        int8_quantize_case(name);
        gemm_int8_case(ctx, name, 1, 1024, 512, 0.0f);
        gemm_int8_case(ctx, name, 37, 65, 300, 1.0f);
        gemm_int8_case(ctx, name, 100, 70, 777, 0.0f);   /* two K blocks, K not a multiple of 4 */
        gemm_int8_case(ctx, name, 5, 3, 7, 1.0f);
        gemm_int8_case(ctx, name, 3, 5, 0, 0.0f);        /* no products: bias and act */
        gemm_int8_case(ctx, name, 33, 65, 4200, 0.0f);   /* AMX: a partial row tile, three K blocks */
        gemm_int8_case(ctx, name, 300, 32, 128, 1.0f);   /* AMX: three M tiles, whole tiles */
        gemm_int8_case(ctx, name, 64, 96, 4096, 1.0f);   /* AMX: int32 sums in C between K blocks */
        d = base; d.n = 2; d.h = 13; d.w = 11; d.cin = 21; d.cout = 33; d.act = CK_ACT_RELU;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_int8_case(ctx, name, d, CK_CONV_WINOGRAD_4X4, 0.0f);   /* resolves to implicit GEMM */
        d = base; d.n = 3; d.h = 15; d.w = 14; d.cin = 64; d.cout = 70; d.act = CK_ACT_RELU;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_int8_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM, 1.0f);   /* rows in place (a kernel row of 192) */
        conv_int8_case(ctx, name, d, CK_CONV_IM2COL_GEMM, 0.0f);
        d = base; d.h = 20; d.w = 20; d.cin = 256; d.cout = 40; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_int8_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM, 1.0f);   /* K 2304: two AMX blocks */
        d = base; d.h = 12; d.w = 13; d.cin = 16; d.cout = 20; d.kw = 5; d.dw = 2; d.sh = 2; d.pad_left = d.pad_right = 4;
        conv_int8_case(ctx, name, d, CK_CONV_IM2COL_GEMM, 0.0f);     /* dilation in w, stride in h */
        d = base; d.h = 9; d.w = 9; d.cin = 40; d.cout = 24; d.kh = d.kw = 1; d.sh = d.sw = 2;
        conv_int8_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM, 1.0f);   /* 1x1 stride 2 */
        /* tiles read from the quantised input: no padding, asymmetric padding, 1x1, 2 images */
        d = base; d.n = 2; d.h = 9; d.w = 10; d.cin = 128; d.cout = 33; d.act = CK_ACT_RELU;
        conv_int8_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM, 0.0f);
        d = base; d.n = 2; d.h = 7; d.w = 19; d.cin = 64; d.cout = 64; d.kh = 2; d.pad_top = 1; d.pad_right = 2;
        conv_int8_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM, 1.0f);
        d = base; d.n = 2; d.h = 5; d.w = 6; d.cin = 64; d.cout = 40; d.kh = d.kw = 1;
        conv_int8_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM, 1.0f);
        /* VNNI reads in place when a kernel row is whole quads (60 bytes) and the padding is at
         * most 10% of a side; columns ragged; one image with asymmetric padding */
        d = base; d.n = 2; d.h = 21; d.w = 22; d.cin = 20; d.cout = 45; d.act = CK_ACT_RELU;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_int8_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM, 1.0f);
        d = base; d.h = 5; d.w = 30; d.cin = 64; d.cout = 33; d.kh = 2; d.pad_top = 1; d.pad_right = 2;
        conv_int8_case(ctx, name, d, CK_CONV_IMPLICIT_GEMM, 0.0f);
        bf16_round_case(ctx, name);
        bf16_row_case(ctx, name);
        eltwise_case(ctx, name, 1000, 7);
        eltwise_case(ctx, name, 33, 1);
        eltwise_case(ctx, name, 5, 37);
        lstm_case(ctx, name, 3, 17, 32);
        lstm_case(ctx, name, 2, 9, 7);
        lstm_ref_case(ctx, name, 3, 13, 21, 9);
        lstm_ref_case(ctx, name, 2, 7, 40, 32);
        ck_pool2d_desc p = {.n = 2, .h = 12, .w = 11, .c = 5, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                            .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
        pool_case(ctx, name, p);
        p.ceil_mode = 1; p.count_include_pad = 1;
        pool_case(ctx, name, p);
        /* odd shapes: vector tails in c, asymmetric windows and pads, both divisor rules */
        for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++)
            for (int include_pad = 0; include_pad < 2; include_pad++) {
                ck_pool2d_desc q = {.n = 2, .h = 13, .w = 10, .c = 19, .kh = 3, .kw = 2, .sh = 2, .sw = 3,
                                    .pad_top = 1, .pad_left = 1, .pad_bottom = 0, .pad_right = 1,
                                    .ceil_mode = ceil_mode, .count_include_pad = include_pad};
                pool_case(ctx, name, q);
                q = (ck_pool2d_desc){.n = 1, .h = 7, .w = 9, .c = 33, .kh = 4, .kw = 3, .sh = 3, .sw = 2,
                                     .pad_top = 2, .pad_left = 0, .pad_bottom = 1, .pad_right = 1,
                                     .ceil_mode = ceil_mode, .count_include_pad = include_pad};
                pool_case(ctx, name, q);
                q = (ck_pool2d_desc){.n = 3, .h = 5, .w = 6, .c = 1, .kh = 2, .kw = 2, .sh = 1, .sw = 1,
                                     .ceil_mode = ceil_mode, .count_include_pad = include_pad};
                pool_case(ctx, name, q);
                /* pads as large as the window: windows wholly in the padding */
                q = (ck_pool2d_desc){.n = 1, .h = 4, .w = 5, .c = 7, .kh = 2, .kw = 2, .sh = 2, .sw = 2,
                                     .pad_top = 2, .pad_left = 2, .pad_bottom = 2, .pad_right = 2,
                                     .ceil_mode = ceil_mode, .count_include_pad = include_pad};
                pool_case(ctx, name, q);
            }
        /* backward passes for saliency maps */
        d = base; d.n = 2; d.h = 9; d.w = 11; d.cin = 20; d.cout = 24;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bwd_case(ctx, name, d);                      /* 3x3 same: Winograd in the backward form */
        d = base; d.h = 20; d.w = 18; d.cin = 17; d.cout = 32; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bwd_case(ctx, name, d);
        d = base; d.h = 10; d.w = 9; d.cin = 8; d.cout = 12;   /* valid */
        conv_bwd_case(ctx, name, d);
        d = base; d.h = 11; d.w = 10; d.cin = 8; d.cout = 16; d.sh = d.sw = 2; d.pad_bottom = d.pad_right = 1;
        conv_bwd_case(ctx, name, d);                      /* stride 2, TF "same" (pads after) */
        d = base; d.h = 9; d.w = 8; d.cin = 16; d.cout = 24; d.kh = d.kw = 1; d.sh = d.sw = 2;
        conv_bwd_case(ctx, name, d);                      /* the residual 1x1 stride 2; odd side */
        d = base; d.h = 11; d.w = 7; d.cin = 12; d.cout = 12; d.groups = 12; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        conv_bwd_case(ctx, name, d);                      /* depthwise */
        d = base; d.h = 8; d.w = 9; d.cin = 6; d.cout = 12; d.groups = 6; d.sh = 2; d.pad_bottom = 1; d.pad_left = d.pad_right = 1;
        conv_bwd_case(ctx, name, d);                      /* depth multiplier 2, stride 2 in h */
        d = base; d.h = 12; d.w = 13; d.cin = 8; d.cout = 12; d.groups = 2; d.kw = 5; d.dh = 2; d.dw = 2;
        d.pad_top = d.pad_bottom = 2; d.pad_left = d.pad_right = 4;
        conv_bwd_case(ctx, name, d);                      /* groups, dilation */
        ck_pool2d_desc pb = {.n = 2, .h = 8, .w = 7, .c = 5, .kh = 2, .kw = 2, .sh = 2, .sw = 2};
        pool_bwd_case(ctx, name, pb);                     /* VGG's 2x2 */
        pb = (ck_pool2d_desc){.n = 1, .h = 9, .w = 8, .c = 3, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                              .pad_bottom = 1, .pad_right = 1};
        pool_bwd_case(ctx, name, pb);                     /* mini-Xception's overlapping 3x3 stride 2 "same" */
        pb = (ck_pool2d_desc){.n = 1, .h = 7, .w = 9, .c = 4, .kh = 4, .kw = 3, .sh = 3, .sw = 2,
                              .pad_top = 2, .pad_left = 0, .pad_bottom = 1, .pad_right = 1, .ceil_mode = 1,
                              .count_include_pad = 1};
        pool_bwd_case(ctx, name, pb);
        check(ck_measure_peak_gflops(ctx, 1, 0.01) > 0.0, name, "peak measurement runs");
        ck_ctx_destroy(ctx);
    }
    printf("kernel_check: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
