/* Reference bf16 GEMMs: A and B rounded to bf16 (nearest, ties to even), each C element
 * accumulated by the exact steps of one kernel family (internal/ck_bf16.h), then bias and
 * act: what every bf16 kernel of that family must give, bit for bit. */
#include "ck_bf16.h"
#include "ck_kernels.h"

static uint32_t pair(const float *x, size_t stride, size_t k, size_t K) {
    uint32_t lo = k < K ? ck_bf16_from_f32(x[k * stride]) : 0;
    uint32_t hi = k + 1 < K ? ck_bf16_from_f32(x[(k + 1) * stride]) : 0;
    return lo | hi << 16;
}

static float finish(float acc, const float *bias, size_t j, ck_activation act) {
    if (bias) acc += bias[j];
    if (act == CK_ACT_RELU && !(acc > 0.0f)) acc = 0.0f;
    return acc;
}

/* VDPBF16PS: one step per k pair */
void ck_gemm_bf16_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                      const float *bias, ck_activation act, float *C, size_t ldc) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k += 2) acc = ck_dpbf16(acc, pair(A + i * lda, 1, k, K), pair(B + j, ldb, k, K));
            C[i * ldc + j] = finish(acc, bias, j, act);
        }
}

/* TDPBF16PS: one step per 16 k pairs, K padded with zeros */
void ck_gemm_bf16_amx_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                          const float *bias, ck_activation act, float *C, size_t ldc) {
    size_t steps = (K + 31) / 32;
    uint32_t a[CK_AMX_PAIRS], b[CK_AMX_PAIRS];
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (size_t s = 0; s < steps; s++) {
                for (size_t q = 0; q < CK_AMX_PAIRS; q++) {
                    a[q] = pair(A + i * lda, 1, 32 * s + 2 * q, K);
                    b[q] = pair(B + j, ldb, 32 * s + 2 * q, K);
                }
                acc = ck_amx_bf16_step(acc, a, b);
            }
            C[i * ldc + j] = finish(acc, bias, j, act);
        }
}
