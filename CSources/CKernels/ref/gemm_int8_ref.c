/* Reference int8 GEMM: A and B quantised as the packing does (internal/ck_int8.h), exact
 * int32 sums in k order, then the shared output step: what every int8 kernel must give,
 * bit for bit. */
#include "ck_int8.h"
#include "ck_kernels.h"
#include <stdlib.h>

void ck_gemm_int8_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                      float a_scale, int a_zero, const float *bias, ck_activation act, float *C, size_t ldc) {
    float inv = 1.0f / a_scale;
    for (size_t j = 0; j < N; j++) {
        float mx = 0.0f;
        for (size_t k = 0; k < K; k++) mx = fmaxf(mx, fabsf(B[k * ldb + j]));
        float s = mx / 127.0f, winv = mx > 0.0f ? 127.0f / mx : 0.0f;
        int32_t colsum = 0;
        int8_t *w = malloc(K ? K : 1);
        for (size_t k = 0; k < K; k++) {
            w[k] = (int8_t)ck_round_clamped(B[k * ldb + j] * winv, 127.0f);
            colsum += w[k];
        }
        for (size_t i = 0; i < M; i++) {
            int32_t acc = 0;
            for (size_t k = 0; k < K; k++) acc += (int32_t)ck_quant_u8(A[i * lda + k], inv, a_zero) * w[k];
            C[i * ldc + j] = ck_int8_finish(acc, a_zero * colsum, a_scale * s, bias ? bias[j] : 0.0f, act);
        }
        free(w);
    }
}
