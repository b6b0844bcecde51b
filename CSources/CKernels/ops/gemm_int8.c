/* int8 GEMM driver: C [M, N] = the int8 product of A's rows (quantised to u8 as they are
 * packed per task) and B (quantised to s8 and packed once into 32-column panels of k quads,
 * valid for every kernel), by one of three kernels with exact int32 sums (internal/ck_int8.h):
 * portable C, AVX512-VNNI (VPDPBUSD, 12 x 32) or AMX (TDPBUSD, 32 x 32). Blocks over K keep
 * int32 partial sums in C's memory until the last one writes floats. */
#include "ck_int8.h"
#include "ck_gemm_driver.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
/* CPUID.(EAX=7, ECX=0):ECX bit 11; the avx512 ISA check has already seen the OS save zmm */
static int cpu_has_avx512vnni(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (c >> 11) & 1;
}
/* CPUID.(EAX=7, ECX=1):EAX bit 4; the avx2 ISA check has already seen the OS save ymm */
static int cpu_has_avxvnni(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 4) & 1;
}
/* CPUID.(EAX=7, ECX=0):EDX bits 24 (AMX-TILE) and 25 (AMX-INT8) */
static int cpu_has_amx_int8(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return ((d >> 24) & 1) && ((d >> 25) & 1);
}
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
static int cpu_has_dotprod(void) { return (getauxval(AT_HWCAP) >> 20) & 1; /* HWCAP_ASIMDDP */ }
#endif

static int kind_available(ck_isa isa, ck_int8_kind kind) {
    if (kind == CK_INT8_SCALAR) return 1;
#if defined(__aarch64__) && defined(__linux__)
    if (kind == CK_INT8_NEON_SDOT) return isa == CK_ISA_NEON && cpu_has_dotprod();
#endif
#if defined(__x86_64__)
    if (kind == CK_INT8_AVXVNNI) return isa == CK_ISA_AVX2 && cpu_has_avxvnni();
    if (isa != CK_ISA_AVX512 || !cpu_has_avx512vnni()) return 0;
    if (kind == CK_INT8_AVX512VNNI) return 1;
    if (kind == CK_INT8_AMX) return cpu_has_amx_int8() && ck_amx_usable();
#endif
    return 0;
}

ck_int8_kind ck_int8_kind_best(ck_isa isa) {
    const char *amx = getenv("CK_INT8_AMX");
    if (!(amx && strcmp(amx, "0") == 0) && kind_available(isa, CK_INT8_AMX)) return CK_INT8_AMX;
    if (kind_available(isa, CK_INT8_NEON_SDOT)) return CK_INT8_NEON_SDOT;
    if (kind_available(isa, CK_INT8_AVXVNNI)) return CK_INT8_AVXVNNI;
    return kind_available(isa, CK_INT8_AVX512VNNI) ? CK_INT8_AVX512VNNI : CK_INT8_SCALAR;
}

ck_int8_kind ck_gemm_int8_kind(const ck_ctx *ctx) { return ctx->int8; }

int ck_ctx_set_int8_kind(ck_ctx *ctx, ck_int8_kind kind) {
    if (!kind_available(ctx->k->isa, kind)) return 0;
    ctx->int8 = kind;
    return 1;
}

static ck_gemm_int8_uk_fn dp_kernel(const ck_ctx *ctx) {
#if defined(__aarch64__)
    if (ctx->int8 == CK_INT8_NEON_SDOT) return ck_gemm_int8_uk_neon_sdot;
#endif
#if defined(__x86_64__)
    if (ctx->int8 == CK_INT8_AVXVNNI) return ck_gemm_int8_uk_avxvnni;
    /* AMX implies VNNI here (kind_available) */
    if (ctx->int8 != CK_INT8_SCALAR) return ck_gemm_int8_uk_avx512vnni;
#endif
    return ck_gemm_int8_uk_scalar;
}

void ck_int8_range(float lo, float hi, float *scale, int *zero) {
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;
    float s = (hi - lo) / 255.0f;
    if (!(s > 0.0f) || !isfinite(s)) s = 1.0f;
    int z = (int)nearbyintf(-lo / s);
    *scale = s;
    *zero = z < 0 ? 0 : z > 255 ? 255 : z;
}

uint8_t ck_int8_quantize(float x, float inv_scale, int zero) { return ck_quant_u8(x, inv_scale, zero); }

static size_t npanels(size_t n) { return ck_npanels(n, CK_INT8_NR); }
static size_t npad(size_t n) { return npanels(n) * CK_INT8_NR; }

size_t ck_packed_b_int8_size(size_t K, size_t N) {
    return CK_INT8_HEADER + 3 * npad(N) + npanels(N) * ck_int8_kq_stride(K) * CK_INT8_NR;
}

ck_int8_b ck_int8_b_view(const uint32_t *packed, size_t N) {
    ck_int8_b v;
    memcpy(&v.inv_scale, packed, 4);
    memcpy(&v.zero, packed + 1, 4);
    v.scale = (const float *)(const void *)(packed + CK_INT8_HEADER);
    v.zc = (const int32_t *)(const void *)(packed + CK_INT8_HEADER + npad(N));
    v.colsum = (const int32_t *)(const void *)(packed + CK_INT8_HEADER + 2 * npad(N));
    v.panels = packed + CK_INT8_HEADER + 3 * npad(N);
    return v;
}

void ck_int8_weights(size_t K, size_t N, const float *B, size_t ldb, int8_t *codes, size_t ldc, float *step) {
    for (size_t j = 0; j < N; j++) {
        float mx = 0.0f;
        for (size_t k = 0; k < K; k++) mx = fmaxf(mx, fabsf(B[k * ldb + j]));
        float winv = mx > 0.0f ? 127.0f / mx : 0.0f;
        for (size_t k = 0; k < K; k++) codes[k * ldc + j] = (int8_t)ck_round_clamped(B[k * ldb + j] * winv, 127.0f);
        step[j] = mx / 127.0f;
    }
}

void ck_pack_b_int8_codes(size_t K, size_t N, const int8_t *codes, size_t ldc, const float *step, float a_scale,
                          int a_zero, uint32_t *packed) {
    size_t kq = ck_int8_kq_stride(K), np = npad(N);
    memset(packed, 0, ck_packed_b_int8_size(K, N) * sizeof(uint32_t));
    float inv = 1.0f / a_scale;
    int32_t zero = a_zero;
    memcpy(packed, &inv, 4);
    memcpy(packed + 1, &zero, 4);
    float *scale = (float *)(void *)(packed + CK_INT8_HEADER);
    int32_t *zc = (int32_t *)(void *)(packed + CK_INT8_HEADER + np);
    int32_t *colsums = (int32_t *)(void *)(packed + CK_INT8_HEADER + 2 * np);
    uint32_t *panels = packed + CK_INT8_HEADER + 3 * np;
    for (size_t j = 0; j < N; j++) {
        int32_t colsum = 0;
        uint32_t *col = panels + (j / CK_INT8_NR) * kq * CK_INT8_NR + j % CK_INT8_NR;
        for (size_t k = 0; k < K; k++) {
            int w = codes[k * ldc + j];
            colsum += w;
            col[(k / 4) * CK_INT8_NR] |= (uint32_t)(uint8_t)(int8_t)w << 8 * (k % 4);
        }
        scale[j] = a_scale * step[j];
        zc[j] = zero * colsum;
        colsums[j] = colsum;
    }
}

/* quantised first, then packed from the codes: a model stored as codes (ck_int8_weights)
 * packs to the same bits as its fp32 original */
void ck_pack_b_int8(size_t K, size_t N, const float *B, size_t ldb, float a_scale, int a_zero, uint32_t *packed) {
    int8_t *codes = malloc(K * N > 0 ? K * N : 1);
    float *step = malloc((N > 0 ? N : 1) * sizeof(float));
    if (!codes || !step) abort();
    ck_int8_weights(K, N, B, ldb, codes, N, step);
    ck_pack_b_int8_codes(K, N, codes, N, step, a_scale, a_zero, packed);
    free(codes);
    free(step);
}

/* Per thread: the A block (quads) and one row of fp32 for the row callback. */
static size_t a_block(void) {
    size_t dp = (size_t)CK_INT8_MR * CK_MC_PANELS * (CK_INT8_KC / 4), amx = (size_t)CK_AMX_MC * (CK_AMX8_KC / 4);
    return dp > amx ? dp : amx;
}
static size_t per_thread(void) { return a_block() + CK_AMX8_KC; }

size_t ck_gemm_int8_workspace_size(const ck_ctx *ctx) { return (size_t)ctx->threads * per_thread(); }

static void quant_run(const float *row, size_t n, float inv, int zero, uint8_t *dst, int simd) {
#if defined(__x86_64__)
    if (simd) {
        for (size_t t = 0; t < n; t += 64) ck_quant_row64_avx512(row + t, ck_min(64, n - t), inv, zero, dst + t);
        return;
    }
#endif
    (void)simd;
    for (size_t t = 0; t < n; t++) dst[t] = ck_quant_u8(row[t], inv, zero);
}

/* Rows [m0, m0 + m) x k values [k0, k0 + kc) quantised into MR-row panels of quads; each
 * row fetched in segments of `seg` values (a multiple of 4). Padding rows and k values are
 * zero bytes (B is zero there). */
static void pack_a_dp(ck_bf16_row_fn rows, const void *src, size_t m0, size_t m, size_t k0, size_t kc, size_t seg,
                      const ck_int8_b *b, int simd, uint32_t *Ap, float *tmp) {
    size_t mp = (m + CK_INT8_MR - 1) / CK_INT8_MR * CK_INT8_MR, qn = (kc + 3) / 4;
    uint8_t bytes[CK_INT8_KC];
    for (size_t r = 0; r < mp; r++) {
        uint32_t *dst = Ap + (r / CK_INT8_MR) * qn * CK_INT8_MR + r % CK_INT8_MR;
        if (r >= m) {
            for (size_t q = 0; q < qn; q++) dst[q * CK_INT8_MR] = 0;
            continue;
        }
        memset(bytes, 0, qn * 4);
        for (size_t s0 = 0; s0 < kc; s0 += seg) {
            size_t sn = ck_min(seg, kc - s0);
            quant_run(rows(src, m0 + r, k0 + s0, sn, tmp), sn, b->inv_scale, b->zero, bytes + s0, simd);
        }
        for (size_t q = 0; q < qn; q++) memcpy(dst + q * CK_INT8_MR, bytes + 4 * q, 4);
    }
}

#if defined(__x86_64__)
/* The same rows into AMX A tiles: per 16 rows, `steps` tiles of [16 rows][64 bytes];
 * segments of `seg` values (a multiple of 64). */
static void pack_a_amx(ck_bf16_row_fn rows, const void *src, size_t m0, size_t m, size_t k0, size_t kc, size_t seg,
                       const ck_int8_b *b, int simd, uint32_t *Ap, float *tmp) {
    size_t steps = (kc + 63) / 64, mp = (m + CK_AMX_MR - 1) / CK_AMX_MR * CK_AMX_MR;
    for (size_t r = 0; r < mp; r++) {
        uint8_t *dst = (uint8_t *)(void *)(Ap + (r / 16) * steps * 256 + (r % 16) * 16);
        if (r >= m) {
            for (size_t s = 0; s < steps; s++) memset(dst + s * 1024, 0, 64);
            continue;
        }
        for (size_t s0 = 0; s0 < kc; s0 += seg) {
            size_t sn = ck_min(seg, kc - s0);
            const float *row = rows(src, m0 + r, k0 + s0, sn, tmp);
            for (size_t t = 0; 64 * t < sn; t++) {
                uint8_t *d = dst + (s0 / 64 + t) * 1024;
                size_t len = ck_min(64, sn - 64 * t);
                quant_run(row + 64 * t, len, b->inv_scale, b->zero, d, simd);
                if (len < 64) memset(d + len, 0, 64 - len);
            }
        }
    }
}
#endif

typedef struct {
    ck_int8_kind kind;
    ck_gemm_int8_uk_fn uk;
    int simd;
    size_t M, N, K, kcb, seg, tile;
    ck_bf16_row_fn rows;
    const void *src;
    ck_int8_b b;
    const float *bias;
    ck_activation act;
    float *C;
    size_t ldc;
    uint32_t *workspace;
    size_t nchunks, panels_per_chunk;
} job;

static void task(size_t t, int thread, void *arg) {
    const job *j = arg;
    size_t mt = t / j->nchunks, nc = t % j->nchunks;
    size_t m0 = mt * j->tile, m = ck_min(j->tile, j->M - m0);
    size_t p0 = nc * j->panels_per_chunk, p1 = ck_min(npanels(j->N), p0 + j->panels_per_chunk);
    if (p0 >= p1) return;
    uint32_t *Ap = j->workspace + (size_t)thread * per_thread();
    float *tmp = (float *)(void *)(Ap + a_block());
    size_t kqs = ck_int8_kq_stride(j->K), k0 = 0;
    do {
        size_t kc = ck_min(j->kcb, j->K - k0), q0 = k0 / 4;
        int first = k0 == 0, last = k0 + kc >= j->K;
#if defined(__x86_64__)
        if (j->kind == CK_INT8_AMX) {
            /* K = 0: one step of zero quads, so the kernel still writes bias and act */
            size_t steps = kc ? (kc + 63) / 64 : 1;
            pack_a_amx(j->rows, j->src, m0, m, k0, kc, j->seg, &j->b, 1, Ap, tmp);
            if (!kc) memset(Ap, 0, (m + CK_AMX_MR - 1) / CK_AMX_MR * 2 * 256 * sizeof(uint32_t));
            for (size_t p = p0; p < p1; p++) {
                const uint32_t *Bpp = j->b.panels + (p * kqs + q0) * CK_INT8_NR;
                size_t n = ck_min(CK_INT8_NR, j->N - p * CK_INT8_NR), c0 = p * CK_INT8_NR;
                for (size_t r = 0; r < m; r += CK_AMX_MR)
                    ck_gemm_int8_uk_amx(steps, Ap + (r / 16) * steps * 256, steps * 256, Bpp,
                                        j->C + (m0 + r) * j->ldc + c0, j->ldc, ck_min(CK_AMX_MR, m - r), n, first,
                                        last, j->b.zc + c0, j->b.scale + c0, j->bias ? j->bias + c0 : NULL, j->act);
            }
            k0 += kc;
            continue;
        }
#endif
        size_t qn = (kc + 3) / 4;
        pack_a_dp(j->rows, j->src, m0, m, k0, kc, j->seg, &j->b, j->simd, Ap, tmp);
        for (size_t p = p0; p < p1; p++) {
            const uint32_t *Bpp = j->b.panels + (p * kqs + q0) * CK_INT8_NR;
            size_t n = ck_min(CK_INT8_NR, j->N - p * CK_INT8_NR), c0 = p * CK_INT8_NR;
            for (size_t r = 0; r < m; r += CK_INT8_MR)
                j->uk(qn, Ap + (r / CK_INT8_MR) * qn * CK_INT8_MR, Bpp, j->C + (m0 + r) * j->ldc + c0, j->ldc,
                      ck_min(CK_INT8_MR, m - r), n, first, last, j->b.zc + c0, j->b.colsum + c0, j->b.scale + c0,
                      j->bias ? j->bias + c0 : NULL, j->act);
        }
        k0 += kc;
    } while (k0 < j->K);
}

void ck_gemm_int8_rows(ck_ctx *ctx, size_t M, size_t N, size_t K, ck_bf16_row_fn rows, const void *src,
                       const uint32_t *Bp, const float *bias, ck_activation act, float *C, size_t ldc,
                       uint32_t *workspace, size_t row_seg) {
    if (M == 0 || N == 0 || K > CK_INT8_MAX_K) return;
    /* the vector quantiser is AVX-512's */
    int simd = ctx->int8 == CK_INT8_AVX512VNNI || ctx->int8 == CK_INT8_AMX;
    job j = {.kind = ctx->int8, .uk = dp_kernel(ctx), .simd = simd, .M = M, .N = N, .K = K,
             .rows = rows, .src = src, .b = ck_int8_b_view(Bp, N), .bias = bias, .act = act, .C = C, .ldc = ldc,
             .workspace = workspace};
    size_t cap = j.kind == CK_INT8_AMX ? CK_AMX8_KC : CK_INT8_KC;
    j.seg = ck_row_segment(j.kind == CK_INT8_AMX ? 64 : 4, cap, row_seg);
    j.kcb = cap / j.seg * j.seg;
    j.tile = j.kind == CK_INT8_AMX ? CK_AMX_MC : (size_t)CK_INT8_MR * CK_MC_PANELS;
    size_t mtiles = (M + j.tile - 1) / j.tile, np = npanels(N);
    j.panels_per_chunk = ck_gemm_panels_per_chunk(mtiles, np, ctx->threads);
    j.nchunks = (np + j.panels_per_chunk - 1) / j.panels_per_chunk;
    ck_pool_run(ctx->pool, mtiles * j.nchunks, task, &j);
}

void ck_gemm_int8_packed(ck_ctx *ctx, size_t M, size_t N, size_t K, const float *A, size_t lda, const uint32_t *Bp,
                         const float *bias, ck_activation act, float *C, size_t ldc, uint32_t *workspace) {
    ck_matrix_rows s = {A, lda};
    ck_gemm_int8_rows(ctx, M, N, K, ck_matrix_row, &s, Bp, bias, act, C, ldc, workspace, 0);
}
