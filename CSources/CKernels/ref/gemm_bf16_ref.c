/* Reference bf16 GEMM: A and B rounded to bf16 (nearest, ties to even), each C element
 * accumulated over k pairs by the exact VDPBF16PS step (internal/ck_bf16.h), then bias and
 * act: what every bf16 kernel must give, bit for bit. */
#include "ck_bf16.h"
#include "ck_kernels.h"

void ck_gemm_bf16_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                      const float *bias, ck_activation act, float *C, size_t ldc) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k += 2) {
                uint32_t a = ck_bf16_from_f32(A[i * lda + k]), b = ck_bf16_from_f32(B[k * ldb + j]);
                if (k + 1 < K) {
                    a |= (uint32_t)ck_bf16_from_f32(A[i * lda + k + 1]) << 16;
                    b |= (uint32_t)ck_bf16_from_f32(B[(k + 1) * ldb + j]) << 16;
                }
                acc = ck_dpbf16(acc, a, b);
            }
            if (bias) acc += bias[j];
            if (act == CK_ACT_RELU && !(acc > 0.0f)) acc = 0.0f;
            C[i * ldc + j] = acc;
        }
}
