/* AVX512_BF16 GEMM microkernel: 12 x 32 tile (24 zmm accumulators), one VDPBF16PS per
 * 16 outputs and k pair. A panel: kp x 12 pairs (broadcast), B panel: kp x 32 pairs. */
#if defined(__x86_64__)
#include "ck_bf16.h"
#include "ck_internal.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))), apply_to = function)

#define MR CK_BF16_MR
#define NR CK_BF16_NR

void ck_gemm_bf16_uk_avx512bf16(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                                size_t n, int first, int last, const float *bias, ck_activation act) {
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if (!first && (size_t)i < m) {
            c0[i] = _mm512_maskz_loadu_ps(m0, C + i * ldc);
            c1[i] = _mm512_maskz_loadu_ps(m1, C + i * ldc + 16);
        } else {
            c0[i] = _mm512_setzero_ps();
            c1[i] = _mm512_setzero_ps();
        }
    }
    for (size_t q = 0; q < kp; q++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(B), b1 = (__m512bh)_mm512_loadu_si512(B + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)A[i]);
            c0[i] = _mm512_dpbf16_ps(c0[i], a, b0);
            c1[i] = _mm512_dpbf16_ps(c1[i], a, b1);
        }
        A += MR;
        B += NR;
    }
    if (last) {
        if (bias) {
            __m512 bb0 = _mm512_maskz_loadu_ps(m0, bias), bb1 = _mm512_maskz_loadu_ps(m1, bias + 16);
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                c0[i] = _mm512_add_ps(c0[i], bb0);
                c1[i] = _mm512_add_ps(c1[i], bb1);
            }
        }
        if (act == CK_ACT_RELU) {
            __m512 z = _mm512_setzero_ps();
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                c0[i] = _mm512_max_ps(c0[i], z);
                c1[i] = _mm512_max_ps(c1[i], z);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if ((size_t)i < m) {
            _mm512_mask_storeu_ps(C + i * ldc, m0, c0[i]);
            _mm512_mask_storeu_ps(C + i * ldc + 16, m1, c1[i]);
        }
    }
}

#pragma clang attribute pop
#endif
