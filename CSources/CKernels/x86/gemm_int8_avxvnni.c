/* AVX-VNNI int8 GEMM microkernel for AVX2 CPUs that have it (Intel's Alder Lake and later
 * cores, the N100-class boards among them): VPDPBUSD on ymm. AVX2's 16 registers hold a
 * 6 x 16 tile (12 accumulators), so a 12 x 32 panel pair runs as four passes. */
#if defined(__x86_64__)
#include "ck_int8.h"
#include "ck_internal.h"
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,avxvnni"))), apply_to = function)

#define MR CK_INT8_MR
#define NR CK_INT8_NR

static __m256i lane_mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void ck_gemm_int8_uk_avxvnni(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                             size_t n, int first, int last, const int32_t *zc, const int32_t *colsum,
                             const float *scale, const float *bias, ck_activation act) {
    (void)colsum;
    for (size_t r0 = 0; r0 < m; r0 += 6)
        for (size_t c0 = 0; c0 < n; c0 += 16) {
            size_t rows = ck_min(6, m - r0), cols = ck_min(16, n - c0);
            __m256i k0 = lane_mask(cols), k1 = lane_mask(cols > 8 ? cols - 8 : 0);
            __m256i acc[6][2];
            for (size_t i = 0; i < 6; i++) {
                if (!first && i < rows) {
                    acc[i][0] = _mm256_maskload_epi32((const int *)(C + (r0 + i) * ldc + c0), k0);
                    acc[i][1] = _mm256_maskload_epi32((const int *)(C + (r0 + i) * ldc + c0 + 8), k1);
                } else {
                    acc[i][0] = acc[i][1] = _mm256_setzero_si256();
                }
            }
            const uint32_t *a = A + r0, *b = B + c0;
            for (size_t q = 0; q < kq; q++, a += MR, b += NR) {
                __m256i b0 = _mm256_loadu_si256((const __m256i *)b), b1 = _mm256_loadu_si256((const __m256i *)(b + 8));
#pragma clang loop unroll(full)
                for (int i = 0; i < 6; i++) {
                    __m256i av = _mm256_set1_epi32((int)a[i]);
                    acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], av, b0);
                    acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], av, b1);
                }
            }
            if (!last) {
                for (size_t i = 0; i < rows; i++) {
                    _mm256_maskstore_epi32((int *)(C + (r0 + i) * ldc + c0), k0, acc[i][0]);
                    _mm256_maskstore_epi32((int *)(C + (r0 + i) * ldc + c0 + 8), k1, acc[i][1]);
                }
                continue;
            }
            __m256i z0 = _mm256_maskload_epi32(zc + c0, k0), z1 = _mm256_maskload_epi32(zc + c0 + 8, k1);
            __m256 s0 = _mm256_maskload_ps(scale + c0, k0), s1 = _mm256_maskload_ps(scale + c0 + 8, k1);
            __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), zero = _mm256_setzero_ps();
            if (bias) {
                b0 = _mm256_maskload_ps(bias + c0, k0);
                b1 = _mm256_maskload_ps(bias + c0 + 8, k1);
            }
            for (size_t i = 0; i < rows; i++) {
                __m256 y0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][0], z0)), s0, b0);
                __m256 y1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][1], z1)), s1, b1);
                if (act == CK_ACT_RELU) {
                    /* max(y, 0) gives 0 for NaN, as the C step's !(y > 0) */
                    y0 = _mm256_max_ps(y0, zero);
                    y1 = _mm256_max_ps(y1, zero);
                }
                _mm256_maskstore_ps(C + (r0 + i) * ldc + c0, k0, y0);
                _mm256_maskstore_ps(C + (r0 + i) * ldc + c0 + 8, k1, y1);
            }
        }
}

#pragma clang attribute pop
#endif
