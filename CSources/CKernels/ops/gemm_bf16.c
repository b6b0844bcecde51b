/* bf16 GEMM driver: C [M, N] = act(bf16(A) [M, K] x bf16(B) [K, N] + bias), fp32
 * accumulation by VDPBF16PS steps (internal/ck_bf16.h). B is packed once into 32-column
 * panels of k pairs; A is rounded to bf16 while it is packed per task. Each C element is
 * accumulated by one kernel in k order, so every split over M and N, every thread count and
 * both kernels (AVX512_BF16 and the exact emulation) give the same bits. */
#include "ck_bf16.h"
#include "ck_gemm_driver.h"

#if defined(__x86_64__)
#include <cpuid.h>
/* CPUID.(EAX=7, ECX=1):EAX bit 5; the avx512 ISA check has already seen the OS save zmm */
static int cpu_has_avx512bf16(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 5) & 1;
}
#endif

ck_gemm_bf16_uk_fn ck_gemm_bf16_kernel(const ck_ctx *ctx) {
#if defined(__x86_64__)
    if (ctx->k->isa == CK_ISA_AVX512 && cpu_has_avx512bf16()) return ck_gemm_bf16_uk_avx512bf16;
#endif
    return ck_gemm_bf16_uk_emulated;
}

int ck_gemm_bf16_native(const ck_ctx *ctx) { return ck_gemm_bf16_kernel(ctx) != ck_gemm_bf16_uk_emulated; }

uint16_t ck_bf16_round(float x) { return ck_bf16_from_f32(x); }

static size_t npanels(size_t n) { return ck_npanels(n, CK_BF16_NR); }
static size_t pairs(size_t k) { return (k + 1) / 2; }

size_t ck_packed_b_bf16_size(size_t K, size_t N) { return npanels(N) * (pairs(K) ? pairs(K) : 1) * CK_BF16_NR; }

void ck_pack_b_bf16(size_t K, size_t N, const float *B, size_t ldb, uint32_t *packed) {
    size_t kp = pairs(K);
    for (size_t p = 0; p < npanels(N); p++)
        for (size_t q = 0; q < kp; q++)
            for (size_t j = 0; j < CK_BF16_NR; j++) {
                size_t col = p * CK_BF16_NR + j, k0 = 2 * q, k1 = 2 * q + 1;
                uint32_t lo = col < N ? ck_bf16_from_f32(B[k0 * ldb + col]) : 0;
                uint32_t hi = col < N && k1 < K ? ck_bf16_from_f32(B[k1 * ldb + col]) : 0;
                packed[(p * kp + q) * CK_BF16_NR + j] = lo | hi << 16;
            }
}

size_t ck_gemm_bf16_workspace_size(const ck_ctx *ctx) {
    return (size_t)ctx->threads * CK_BF16_MR * CK_MC_PANELS * (CK_BF16_KC / 2);
}

/* Rows [0, m) x k pairs [q0, q0 + qn) of A, rounded to bf16, into MR-row panels. */
static void pack_a(size_t m, size_t K, size_t q0, size_t qn, const float *A, size_t lda, uint32_t *Ap) {
    size_t mp = (m + CK_BF16_MR - 1) / CK_BF16_MR * CK_BF16_MR;
    for (size_t r = 0; r < mp; r++) {
        uint32_t *dst = Ap + (r / CK_BF16_MR) * qn * CK_BF16_MR + r % CK_BF16_MR;
        for (size_t q = 0; q < qn; q++) {
            size_t k0 = 2 * (q0 + q), k1 = k0 + 1;
            uint32_t lo = r < m ? ck_bf16_from_f32(A[r * lda + k0]) : 0;
            uint32_t hi = r < m && k1 < K ? ck_bf16_from_f32(A[r * lda + k1]) : 0;
            dst[q * CK_BF16_MR] = lo | hi << 16;
        }
    }
}

typedef struct {
    ck_gemm_bf16_uk_fn uk;
    size_t M, N, K;
    const float *A;
    size_t lda;
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
    size_t tile = CK_BF16_MR * CK_MC_PANELS, mt = t / j->nchunks, nc = t % j->nchunks;
    size_t m0 = mt * tile, m = ck_min(tile, j->M - m0);
    size_t p0 = nc * j->panels_per_chunk, p1 = ck_min(npanels(j->N), p0 + j->panels_per_chunk);
    if (p0 >= p1) return;
    uint32_t *Ap = j->workspace + (size_t)thread * tile * (CK_BF16_KC / 2);
    size_t kp = pairs(j->K), q0 = 0;
    do {
        size_t qn = ck_min(CK_BF16_KC / 2, kp - q0);
        pack_a(m, j->K, q0, qn, j->A + m0 * j->lda, j->lda, Ap);
        int first = q0 == 0, last = q0 + qn >= kp;
        for (size_t p = p0; p < p1; p++) {
            const uint32_t *Bpp = j->Bp + (p * kp + q0) * CK_BF16_NR;
            size_t n = ck_min(CK_BF16_NR, j->N - p * CK_BF16_NR);
            const float *bias = j->bias ? j->bias + p * CK_BF16_NR : NULL;
            for (size_t r = 0; r < m; r += CK_BF16_MR)
                j->uk(qn, Ap + (r / CK_BF16_MR) * qn * CK_BF16_MR, Bpp, j->C + (m0 + r) * j->ldc + p * CK_BF16_NR,
                      j->ldc, ck_min(CK_BF16_MR, m - r), n, first, last, bias, j->act);
        }
        q0 += qn;
    } while (q0 < kp);
}

void ck_gemm_bf16_packed(ck_ctx *ctx, size_t M, size_t N, size_t K, const float *A, size_t lda, const uint32_t *Bp,
                         const float *bias, ck_activation act, float *C, size_t ldc, uint32_t *workspace) {
    if (M == 0 || N == 0) return;
    job j = {.uk = ck_gemm_bf16_kernel(ctx), .M = M, .N = N, .K = K, .A = A, .lda = lda, .Bp = Bp, .bias = bias,
             .act = act, .C = C, .ldc = ldc, .workspace = workspace};
    size_t tile = CK_BF16_MR * CK_MC_PANELS, mtiles = (M + tile - 1) / tile, np = npanels(N);
    j.panels_per_chunk = ck_gemm_panels_per_chunk(mtiles, np, ctx->threads);
    j.nchunks = (np + j.panels_per_chunk - 1) / j.panels_per_chunk;
    /* K = 0 runs one empty block: the kernel starts from zero, adds the bias and applies act */
    ck_pool_run(ctx->pool, mtiles * j.nchunks, task, &j);
}
