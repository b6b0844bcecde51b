/* AVX-512 GEMM microkernel: 12 x 32 register tile (24 zmm accumulators).
 * A panel: kc x 12 (broadcast per row), B panel: kc x 32 (two zmm loads per k). */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))), apply_to = function)

#define MR CK_MR_AVX512
#define NR CK_NR_AVX512

/* A element (i, k): A[k * MR + i] (packed panel) or, when rows is not NULL, rows[i][k]
 * (indirect: each row points into the input, for implicit convolution). */
static inline __attribute__((always_inline)) void
uk(size_t kc, const float *A, const float *const *rows, const float *B, float *C, size_t ldc, size_t m,
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
    const float *r[MR];
    for (int i = 0; i < MR; i++) r[i] = rows ? rows[i] : NULL;
    for (size_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(B), b1 = _mm512_loadu_ps(B + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(rows ? r[i][k] : A[i]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
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

void ck_gemm_uk_avx512(size_t kc, const float *A, const float *B, float *C, size_t ldc, size_t m,
                       size_t n, int first, int last, const float *bias, ck_activation act) {
    uk(kc, A, NULL, B, C, ldc, m, n, first, last, bias, act);
}

void ck_gemm_uk_indirect_avx512(size_t kc, const float *const *rows, const float *B, float *C,
                                size_t ldc, size_t m, size_t n, int first, int last,
                                const float *bias, ck_activation act) {
    uk(kc, NULL, rows, B, C, ldc, m, n, first, last, bias, act);
}

#pragma clang attribute pop
#endif
