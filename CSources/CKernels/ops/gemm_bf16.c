/* bf16 GEMM driver: C [M, N] = act(bf16(A) [M, K] x bf16(B) [K, N] + bias), fp32 sums by
 * one of two kernel families (internal/ck_bf16.h): VDPBF16PS steps (AVX512_BF16's 12 x 32
 * kernel or its exact emulation) or TDPBF16PS steps (AMX, 32 x 32). B is packed once into
 * 32-column panels of k pairs, valid for both; A's rows come from a callback (a matrix, or a
 * convolution's im2col) and are rounded to bf16 while they are packed per task. Each C
 * element is accumulated by one kernel in k order, so every split over M and N and every
 * thread count give the same bits within a family. */
#include "ck_bf16.h"
#include "ck_gemm_driver.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
/* CPUID.(EAX=7, ECX=1):EAX bit 5; the avx512 ISA check has already seen the OS save zmm */
static int cpu_has_avx512bf16(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 5) & 1;
}
/* CPUID.(EAX=7, ECX=0):EDX bits 22 (AMX-BF16) and 24 (AMX-TILE) */
static int cpu_has_amx_bf16(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return ((d >> 22) & 1) && ((d >> 24) & 1);
}
#endif

static int kind_available(ck_isa isa, ck_bf16_kind kind) {
    if (kind == CK_BF16_EMULATED) return 1;
#if defined(__x86_64__)
    if (isa != CK_ISA_AVX512 || !cpu_has_avx512bf16()) return 0;
    if (kind == CK_BF16_AVX512BF16) return 1;
    if (kind == CK_BF16_AMX) return cpu_has_amx_bf16() && ck_amx_usable();
#endif
    return 0;
}

#if defined(__x86_64__)
/* Seconds (thread CPU time) of the best of 3 rounds of 256 calls on one L1-resident tile. */
static double uk_seconds(ck_gemm_bf16_uk_fn uk, const uint32_t *A, const uint32_t *B, float *C, size_t kp) {
    double best = 1e9;
    for (int round = 0; round < 3; round++) {
        double t0 = ck_thread_cpu_seconds();
        for (int r = 0; r < 256; r++) uk(kp, A, B, C, CK_BF16_NR, CK_BF16_MR, CK_BF16_NR, r == 0, 0, NULL, CK_ACT_NONE);
        double t = ck_thread_cpu_seconds() - t0;
        best = t < best ? t : best;
    }
    return best;
}
#endif

/* VDPBF16PS or its emulation by FMAs (the same bits): the instruction's rate differs by CPU
 * (a quarter of the FMA rate on one Intel Xeon, about twice the emulation's speed on Zen 5,
 * whose latency is long enough that a 12-chain timing of the instruction alone misjudged it),
 * so both GEMM kernels are timed on one tile (under 1 ms, once: ck_bf16_kind_best keeps the
 * answer); CK_BF16_VDPBF16PS=0 or 1 decides instead. */
static int native_dp_faster(void) {
#if defined(__x86_64__)
    const char *e = getenv("CK_BF16_VDPBF16PS");
    if (e && (strcmp(e, "0") == 0 || strcmp(e, "1") == 0)) return e[0] == '1';
    enum { KP = 128 };   /* on the stack: two threads may decide at once */
    uint32_t A[KP * CK_BF16_MR], B[KP * CK_BF16_NR];
    float C[CK_BF16_MR * CK_BF16_NR];
    for (size_t i = 0; i < KP * CK_BF16_MR; i++) A[i] = 0x3F803F80u;   /* 1.0, 1.0 */
    for (size_t i = 0; i < KP * CK_BF16_NR; i++) B[i] = 0x35803580u;   /* 2^-20: C stays small */
    double dp = uk_seconds(ck_gemm_bf16_uk_avx512bf16, A, B, C, KP);
    double fma = uk_seconds(ck_gemm_bf16_uk_avx512fma, A, B, C, KP);
    return dp <= fma;
#else
    return 1;
#endif
}

static ck_bf16_kind kind_best(ck_isa isa) {
    const char *amx = getenv("CK_BF16_AMX");
    if (!(amx && strcmp(amx, "0") == 0) && kind_available(isa, CK_BF16_AMX)) return CK_BF16_AMX;
    return kind_available(isa, CK_BF16_AVX512BF16) && native_dp_faster() ? CK_BF16_AVX512BF16 : CK_BF16_EMULATED;
}

/* once per ISA and process: every bf16 GEMM reads it */
ck_bf16_kind ck_bf16_kind_best(ck_isa isa) {
    static int best[CK_ISA_COUNT] = {-1, -1, -1, -1};
    int k = __atomic_load_n(&best[isa], __ATOMIC_ACQUIRE);
    if (k < 0) {
        k = (int)kind_best(isa);
        __atomic_store_n(&best[isa], k, __ATOMIC_RELEASE);
    }
    return (ck_bf16_kind)k;
}

ck_bf16_kind ck_gemm_bf16_kind(const ck_ctx *ctx) {
    return ctx->bf16 == CK_BF16_BEST ? ck_bf16_kind_best(ctx->k->isa) : ctx->bf16;
}

int ck_ctx_set_bf16_kind(ck_ctx *ctx, ck_bf16_kind kind) {
    if (!kind_available(ctx->k->isa, kind)) return 0;
    ctx->bf16 = kind;
    return 1;
}

ck_gemm_bf16_uk_fn ck_gemm_bf16_kernel(const ck_ctx *ctx) {
#if defined(__x86_64__)
    /* both native kinds imply AVX512_BF16 (kind_available) */
    if (ck_gemm_bf16_kind(ctx) != CK_BF16_EMULATED) return ck_gemm_bf16_uk_avx512bf16;
    if (ctx->k->isa == CK_ISA_AVX512) return ck_gemm_bf16_uk_avx512fma;
#endif
    return ck_gemm_bf16_uk_emulated;
}

int ck_gemm_bf16_native(const ck_ctx *ctx) { return ck_gemm_bf16_kind(ctx) != CK_BF16_EMULATED; }

uint16_t ck_bf16_round(float x) { return ck_bf16_from_f32(x); }
void ck_bf16_round_row(const ck_ctx *ctx, const float *x, size_t n, uint16_t *out) { ctx->k->bf16_row(x, n, out); }

static size_t npanels(size_t n) { return ck_npanels(n, CK_BF16_NR); }

size_t ck_packed_b_bf16_size(size_t K, size_t N) { return npanels(N) * ck_bf16_kp_stride(K) * CK_BF16_NR; }

void ck_pack_b_bf16(size_t K, size_t N, const float *B, size_t ldb, uint32_t *packed) {
    size_t kp = ck_bf16_kp_stride(K);
    for (size_t p = 0; p < npanels(N); p++)
        for (size_t q = 0; q < kp; q++)
            for (size_t j = 0; j < CK_BF16_NR; j++) {
                size_t col = p * CK_BF16_NR + j, k0 = 2 * q, k1 = 2 * q + 1;
                uint32_t lo = col < N && k0 < K ? ck_bf16_from_f32(B[k0 * ldb + col]) : 0;
                uint32_t hi = col < N && k1 < K ? ck_bf16_from_f32(B[k1 * ldb + col]) : 0;
                packed[(p * kp + q) * CK_BF16_NR + j] = lo | hi << 16;
            }
}

/* Per thread: the A block (pairs) and one row of fp32 for the row callback. */
static size_t a_block(void) {
    size_t dp = (size_t)CK_BF16_MR * CK_MC_PANELS * (CK_BF16_KC / 2), amx = (size_t)CK_AMX_MC * (CK_AMX_KC / 2);
    return dp > amx ? dp : amx;
}
static size_t per_thread(void) { return a_block() + CK_AMX_KC; }

size_t ck_gemm_bf16_workspace_size(const ck_ctx *ctx) { return (size_t)ctx->threads * per_thread(); }

/* Rows [m0, m0 + m) x k values [k0, k0 + kc) rounded to bf16 into MR-row panels of pairs;
 * each row fetched in segments of `seg` values (a multiple of 2). */
static void pack_a_dp(ck_bf16_round_row_fn round_row, ck_bf16_row_fn rows, const void *src, size_t m0, size_t m,
                      size_t k0, size_t kc, size_t seg, uint32_t *Ap, float *tmp) {
    size_t mp = (m + CK_BF16_MR - 1) / CK_BF16_MR * CK_BF16_MR, qn = (kc + 1) / 2;
    for (size_t r = 0; r < mp; r++) {
        uint32_t *dst = Ap + (r / CK_BF16_MR) * qn * CK_BF16_MR + r % CK_BF16_MR;
        if (r >= m) {
            for (size_t q = 0; q < qn; q++) dst[q * CK_BF16_MR] = 0;
            continue;
        }
        for (size_t s0 = 0; s0 < kc; s0 += seg) {
            size_t sn = ck_min(seg, kc - s0);
            ck_bf16_pairs_strided(round_row, rows(src, m0 + r, k0 + s0, sn, tmp), sn, dst + s0 / 2 * CK_BF16_MR,
                                  CK_BF16_MR);
        }
    }
}

#if defined(__x86_64__)
/* The same rows into AMX A tiles: per 16 rows, `steps` tiles of [16 rows][16 pairs];
 * segments of `seg` values (a multiple of 32). */
static void pack_a_amx(ck_bf16_row_fn rows, const void *src, size_t m0, size_t m, size_t k0, size_t kc, size_t seg,
                       uint32_t *Ap, float *tmp) {
    size_t steps = (kc + 31) / 32, mp = (m + CK_AMX_MR - 1) / CK_AMX_MR * CK_AMX_MR;
    for (size_t r = 0; r < mp; r++) {
        uint32_t *dst = Ap + (r / 16) * steps * 256 + (r % 16) * 16;
        if (r >= m) {
            for (size_t s = 0; s < steps; s++) memset(dst + s * 256, 0, 64);
            continue;
        }
        for (size_t s0 = 0; s0 < kc; s0 += seg) {
            size_t sn = ck_min(seg, kc - s0);
            const float *row = rows(src, m0 + r, k0 + s0, sn, tmp);
            for (size_t t = 0; 32 * t < sn; t++)
                ck_bf16_row32_amx(row + 32 * t, ck_min(32, sn - 32 * t), dst + (s0 / 32 + t) * 256);
        }
    }
}
#endif

typedef struct {
    ck_bf16_kind kind;
    ck_gemm_bf16_uk_fn uk;
    size_t M, N, K, kcb, seg, tile;
    ck_bf16_row_fn rows;
    ck_bf16_round_row_fn round_row;
    const void *src;
    const uint32_t *Bp;
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
    size_t kps = ck_bf16_kp_stride(j->K), k0 = 0;
    do {
        size_t kc = ck_min(j->kcb, j->K - k0), q0 = k0 / 2;
        int first = k0 == 0, last = k0 + kc >= j->K;
#if defined(__x86_64__)
        if (j->kind == CK_BF16_AMX) {
            /* K = 0: one step of zero pairs, so the kernel still adds the bias and applies act */
            size_t steps = kc ? (kc + 31) / 32 : 1;
            pack_a_amx(j->rows, j->src, m0, m, k0, kc, j->seg, Ap, tmp);
            if (!kc) memset(Ap, 0, (m + CK_AMX_MR - 1) / CK_AMX_MR * 2 * 256 * sizeof(uint32_t));
            for (size_t p = p0; p < p1; p++) {
                const uint32_t *Bpp = j->Bp + (p * kps + q0) * CK_BF16_NR;
                size_t n = ck_min(CK_BF16_NR, j->N - p * CK_BF16_NR);
                const float *bias = j->bias ? j->bias + p * CK_BF16_NR : NULL;
                for (size_t r = 0; r < m; r += CK_AMX_MR)
                    ck_gemm_bf16_uk_amx(steps, Ap + (r / 16) * steps * 256, steps * 256, Bpp,
                                        j->C + (m0 + r) * j->ldc + p * CK_BF16_NR, j->ldc, ck_min(CK_AMX_MR, m - r), n,
                                        first, last, bias, j->act);
            }
            k0 += kc;
            continue;
        }
#endif
        size_t qn = (kc + 1) / 2;
        pack_a_dp(j->round_row, j->rows, j->src, m0, m, k0, kc, j->seg, Ap, tmp);
        for (size_t p = p0; p < p1; p++) {
            const uint32_t *Bpp = j->Bp + (p * kps + q0) * CK_BF16_NR;
            size_t n = ck_min(CK_BF16_NR, j->N - p * CK_BF16_NR);
            const float *bias = j->bias ? j->bias + p * CK_BF16_NR : NULL;
            for (size_t r = 0; r < m; r += CK_BF16_MR)
                j->uk(qn, Ap + (r / CK_BF16_MR) * qn * CK_BF16_MR, Bpp, j->C + (m0 + r) * j->ldc + p * CK_BF16_NR,
                      j->ldc, ck_min(CK_BF16_MR, m - r), n, first, last, bias, j->act);
        }
        k0 += kc;
    } while (k0 < j->K);
}

size_t ck_row_segment(size_t unit, size_t cap, size_t row_seg) {
    if (row_seg && row_seg % unit == 0)
        for (size_t s = cap; s >= unit; s -= unit)
            if (row_seg % s == 0) return s;
    return cap;
}

void ck_gemm_bf16_rows(ck_ctx *ctx, size_t M, size_t N, size_t K, ck_bf16_row_fn rows, const void *src,
                       const uint32_t *Bp, const float *bias, ck_activation act, float *C, size_t ldc,
                       uint32_t *workspace, size_t row_seg) {
    if (M == 0 || N == 0) return;
    job j = {.kind = ck_gemm_bf16_kind(ctx), .uk = ck_gemm_bf16_kernel(ctx), .M = M, .N = N, .K = K, .rows = rows,
             .round_row = ctx->k->bf16_row, .src = src,
             .Bp = Bp, .bias = bias, .act = act, .C = C, .ldc = ldc, .workspace = workspace};
    /* blocks are whole segments */
    size_t cap = j.kind == CK_BF16_AMX ? CK_AMX_KC : CK_BF16_KC;
    j.seg = ck_row_segment(j.kind == CK_BF16_AMX ? 32 : 2, cap, row_seg);
    j.kcb = cap / j.seg * j.seg;
    j.tile = j.kind == CK_BF16_AMX ? CK_AMX_MC : (size_t)CK_BF16_MR * CK_MC_PANELS;
    size_t mtiles = (M + j.tile - 1) / j.tile, np = npanels(N);
    j.panels_per_chunk = ck_gemm_panels_per_chunk(mtiles, np, ctx->threads);
    j.nchunks = (np + j.panels_per_chunk - 1) / j.panels_per_chunk;
    /* K = 0 runs one empty block: the kernel starts from zero, adds the bias and applies act */
    ck_pool_run(ctx->pool, mtiles * j.nchunks, task, &j);
}

const float *ck_matrix_row(const void *src, size_t row, size_t k0, size_t kc, float *tmp) {
    const ck_matrix_rows *s = src;
    (void)kc;
    (void)tmp;
    return s->A + row * s->lda + k0;
}

void ck_gemm_bf16_packed(ck_ctx *ctx, size_t M, size_t N, size_t K, const float *A, size_t lda, const uint32_t *Bp,
                         const float *bias, ck_activation act, float *C, size_t ldc, uint32_t *workspace) {
    ck_matrix_rows s = {A, lda};
    ck_gemm_bf16_rows(ctx, M, N, K, ck_matrix_row, &s, Bp, bias, act, C, ldc, workspace, 0);
}
