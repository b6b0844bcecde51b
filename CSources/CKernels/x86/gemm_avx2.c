/* AVX2 GEMM microkernel: 6 x 16 register tile (12 ymm accumulators). */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#define MR CK_MR_AVX2
#define NR CK_NR_AVX2

static inline __m256i tail_mask(size_t n) {
    static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(lanes + 8 - (n > 8 ? 8 : n)));
}

/* A element (i, k): A[k * MR + i] or rows[i][k] (see gemm_avx512.c). */
static inline __attribute__((always_inline)) void
uk(size_t kc, const float *A, const float *const *rows, const float *B, float *C, size_t ldc, size_t m,
   size_t n, int first, int last, const float *bias, ck_activation act) {
    __m256i m0 = tail_mask(n), m1 = tail_mask(n > 8 ? n - 8 : 0);
    __m256 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if (!first && (size_t)i < m) {
            c0[i] = _mm256_maskload_ps(C + i * ldc, m0);
            c1[i] = _mm256_maskload_ps(C + i * ldc + 8, m1);
        } else {
            c0[i] = _mm256_setzero_ps();
            c1[i] = _mm256_setzero_ps();
        }
    }
    const float *r[MR];
    for (int i = 0; i < MR; i++) r[i] = rows ? rows[i] : NULL;
    for (size_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(B), b1 = _mm256_loadu_ps(B + 8);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_broadcast_ss(rows ? r[i] + k : A + i);
            c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
        }
        A += MR;
        B += NR;
    }
    if (last) {
        if (bias) {
            __m256 bb0 = _mm256_maskload_ps(bias, m0), bb1 = _mm256_maskload_ps(bias + 8, m1);
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                c0[i] = _mm256_add_ps(c0[i], bb0);
                c1[i] = _mm256_add_ps(c1[i], bb1);
            }
        }
        if (act == CK_ACT_RELU) {
            __m256 z = _mm256_setzero_ps();
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                c0[i] = _mm256_max_ps(c0[i], z);
                c1[i] = _mm256_max_ps(c1[i], z);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if ((size_t)i < m) {
            _mm256_maskstore_ps(C + i * ldc, m0, c0[i]);
            _mm256_maskstore_ps(C + i * ldc + 8, m1, c1[i]);
        }
    }
}

void ck_gemm_uk_avx2(size_t kc, const float *A, const float *B, float *C, size_t ldc, size_t m,
                     size_t n, int first, int last, const float *bias, ck_activation act) {
    uk(kc, A, NULL, B, C, ldc, m, n, first, last, bias, act);
}

void ck_gemm_uk_indirect_avx2(size_t kc, const float *const *rows, const float *B, float *C,
                              size_t ldc, size_t m, size_t n, int first, int last, const float *bias,
                              ck_activation act) {
    uk(kc, NULL, rows, B, C, ldc, m, n, first, last, bias, act);
}

#pragma clang attribute pop
#endif
