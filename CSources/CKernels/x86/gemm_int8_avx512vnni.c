/* AVX512-VNNI int8 GEMM microkernel: 12 x 32 tile of int32 sums (24 zmm), one VPDPBUSD per
 * 16 outputs and k quad (u8 A broadcast, s8 B). A panel: kq x 12 quads, B panel: kq x 32.
 * Also the AVX-512 row quantiser every int8 kind on this ISA packs A with. */
#if defined(__x86_64__)
#include "ck_int8_x86.h"
#include "ck_internal.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

#define MR CK_INT8_MR
#define NR CK_INT8_NR

void ck_quant_row64_avx512(const float *src, size_t n, float inv_scale, int zero, uint8_t *dst) {
    const __m512 inv = _mm512_set1_ps(inv_scale), lo = _mm512_set1_ps(-256.0f), hi = _mm512_set1_ps(256.0f);
    const __m512i z = _mm512_set1_epi32(zero), q0 = _mm512_setzero_si512(), q1 = _mm512_set1_epi32(255);
    for (size_t t = 0; t < n; t += 16) {
        size_t len = ck_min(16, n - t);
        __mmask16 mk = len == 16 ? 0xFFFF : (__mmask16)((1u << len) - 1);
        /* max(v, lo) and min(v, hi) keep v only when the comparison holds: NaN -> lo, as in C */
        __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, src + t), inv), lo), hi);
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), z);
        q = _mm512_min_epi32(_mm512_max_epi32(q, q0), q1);
        _mm_mask_storeu_epi8(dst + t, mk, _mm512_cvtepi32_epi8(q));
    }
}

void ck_gemm_int8_uk_avx512vnni(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                                size_t n, int first, int last, const int32_t *zc, const int32_t *colsum,
                                const float *scale, const float *bias, ck_activation act) {
    (void)colsum;
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512i c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if (!first && (size_t)i < m) {
            c0[i] = _mm512_maskz_loadu_epi32(m0, C + i * ldc);
            c1[i] = _mm512_maskz_loadu_epi32(m1, C + i * ldc + 16);
        } else {
            c0[i] = _mm512_setzero_si512();
            c1[i] = _mm512_setzero_si512();
        }
    }
    for (size_t q = 0; q < kq; q++) {
        __m512i b0 = _mm512_loadu_si512(B), b1 = _mm512_loadu_si512(B + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m512i a = _mm512_set1_epi32((int)A[i]);
            c0[i] = _mm512_dpbusd_epi32(c0[i], a, b0);
            c1[i] = _mm512_dpbusd_epi32(c1[i], a, b1);
        }
        A += MR;
        B += NR;
    }
    if (!last) {
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            if ((size_t)i < m) {
                _mm512_mask_storeu_epi32(C + i * ldc, m0, c0[i]);
                _mm512_mask_storeu_epi32(C + i * ldc + 16, m1, c1[i]);
            }
        }
        return;
    }
    ck_int8_out32 o = ck_int8_out32_init(zc, scale, bias, n, act);
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++)
        if ((size_t)i < m) ck_int8_out32_row(&o, c0[i], c1[i], C + i * ldc);
}

#pragma clang attribute pop
#endif
