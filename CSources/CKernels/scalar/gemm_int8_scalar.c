/* The int8 GEMM microkernel in portable C (CPUs without VNNI, and --isa scalar, avx2, neon):
 * exact int32 sums, so it gives the SIMD kernels' bits. A panel: kq x MR quads, B panel:
 * kq x NR quads; C tile m x n (int32 partial sums until the last block). */
#include "ck_int8.h"
#include "ck_internal.h"
#include <string.h>

static int32_t dot4(uint32_t a, uint32_t b) {
    int32_t s = 0;
    for (int t = 0; t < 4; t++) s += (int32_t)(uint8_t)(a >> 8 * t) * (int32_t)(int8_t)(uint8_t)(b >> 8 * t);
    return s;
}

void ck_gemm_int8_uk_scalar(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m, size_t n,
                            int first, int last, const int32_t *zc, const int32_t *colsum, const float *scale,
                            const float *bias, ck_activation act) {
    (void)colsum;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int32_t acc = 0;
            if (!first) memcpy(&acc, C + i * ldc + j, 4);
            for (size_t q = 0; q < kq; q++) acc += dot4(A[q * CK_INT8_MR + i], B[q * CK_INT8_NR + j]);
            if (last)
                C[i * ldc + j] = ck_int8_finish(acc, zc[j], scale[j], bias ? bias[j] : 0.0f, act);
            else
                memcpy(C + i * ldc + j, &acc, 4);
        }
}
