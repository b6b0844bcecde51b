/* Reference GEMM: C [M, N] = act(A [M, K] B [K, N] + bias), a plain triple loop. */
#include "ck_kernels.h"

void ck_gemm_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B,
                 size_t ldb, const float *bias, ck_activation act, float *C, size_t ldc) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc += A[i * lda + k] * B[k * ldb + j];
            if (bias) acc += bias[j];
            if (act == CK_ACT_RELU && !(acc > 0.0f)) acc = 0.0f;
            C[i * ldc + j] = acc;
        }
}
