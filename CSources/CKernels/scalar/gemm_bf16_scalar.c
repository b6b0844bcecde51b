/* The bf16 GEMM microkernel for CPUs without AVX512_BF16 (and --isa scalar, avx2, neon):
 * VDPBF16PS emulated exactly (internal/ck_bf16.h), so it gives the native kernel's bits.
 * A panel: kp x MR pairs, B panel: kp x NR pairs; C tile m x n. */
#include "ck_bf16.h"
#include "ck_internal.h"

void ck_gemm_bf16_uk_emulated(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                              size_t n, int first, int last, const float *bias, ck_activation act) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float acc = first ? 0.0f : C[i * ldc + j];
            for (size_t q = 0; q < kp; q++) acc = ck_dpbf16(acc, A[q * CK_BF16_MR + i], B[q * CK_BF16_NR + j]);
            if (last) {
                if (bias) acc += bias[j];
                if (act == CK_ACT_RELU && !(acc > 0.0f)) acc = 0.0f;
            }
            C[i * ldc + j] = acc;
        }
}
