/* Private, x86: the int8 output step on 32 columns in AVX-512, shared by every x86 int8 kernel
 * that writes floats (VNNI and AMX, GEMM and direct convolution):
 * act(fma((float)(sum - zc_j), scale_j, bias_j)) as ck_int8_finish. */
#ifndef CK_INT8_X86_H
#define CK_INT8_X86_H
#if defined(__x86_64__)
#include "ck_int8.h"
#include <immintrin.h>

#define CK_INT8_X86_TARGET __attribute__((target("avx512f,avx512bw,avx512vl"), always_inline))

typedef struct {
    __mmask16 m0, m1;   /* columns [0, 16) and [16, 32) that exist */
    __m512i z0, z1;
    __m512 s0, s1, b0, b1;
    int relu;
} ck_int8_out32;

/* The step for columns [0, n) (n <= 32) of zc, scale and bias (NULL: none). */
static inline CK_INT8_X86_TARGET ck_int8_out32 ck_int8_out32_init(const int32_t *zc, const float *scale,
                                                                  const float *bias, size_t n, ck_activation act) {
    ck_int8_out32 o;
    o.m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    o.m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    o.z0 = _mm512_maskz_loadu_epi32(o.m0, zc);
    o.z1 = _mm512_maskz_loadu_epi32(o.m1, zc + 16);
    o.s0 = _mm512_maskz_loadu_ps(o.m0, scale);
    o.s1 = _mm512_maskz_loadu_ps(o.m1, scale + 16);
    o.b0 = bias ? _mm512_maskz_loadu_ps(o.m0, bias) : _mm512_setzero_ps();
    o.b1 = bias ? _mm512_maskz_loadu_ps(o.m1, bias + 16) : _mm512_setzero_ps();
    o.relu = act == CK_ACT_RELU;
    return o;
}

/* One row: the int32 sums a0 (columns 0-15) and a1 (16-31) into floats at dst. */
static inline CK_INT8_X86_TARGET void ck_int8_out32_row(const ck_int8_out32 *o, __m512i a0, __m512i a1, float *dst) {
    __m512 y0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a0, o->z0)), o->s0, o->b0);
    __m512 y1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a1, o->z1)), o->s1, o->b1);
    if (o->relu) {
        /* max(y, 0) gives 0 for NaN, as the C step's !(y > 0) */
        y0 = _mm512_max_ps(y0, _mm512_setzero_ps());
        y1 = _mm512_max_ps(y1, _mm512_setzero_ps());
    }
    _mm512_mask_storeu_ps(dst, o->m0, y0);
    _mm512_mask_storeu_ps(dst + 16, o->m1, y1);
}

#endif
#endif
