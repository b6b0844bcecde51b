/* AVX-512 element-wise ops (relu, add, per-channel affine, prelu). Masked tails; mul then add
 * (never FMA), so results equal the scalar reference bit for bit. */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)

static inline __mmask16 tail16(size_t n) { return n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1); }

void ck_relu_avx512(size_t count, const float *in, float *out) {
    __m512 z = _mm512_setzero_ps();
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 m = tail16(count - i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_max_ps(_mm512_maskz_loadu_ps(m, in + i), z));
    }
}

void ck_add_avx512(size_t count, const float *a, const float *b, float *out) {
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 m = tail16(count - i);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        _mm512_mask_storeu_ps(out + i, m, v);
    }
}

void ck_affine_avx512(size_t rows, size_t c, const float *in, const float *scale,
                      const float *shift, float *out) {
    for (size_t r = 0; r < rows; r++, in += c, out += c)
        for (size_t j = 0; j < c; j += 16) {
            __mmask16 m = tail16(c - j);
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, in + j), _mm512_maskz_loadu_ps(m, scale + j));
            _mm512_mask_storeu_ps(out + j, m, _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, shift + j)));
        }
}

void ck_prelu_avx512(size_t rows, size_t c, const float *in, const float *alpha,
                     const float *unused, float *out) {
    __m512 z = _mm512_setzero_ps();
    for (size_t r = 0; r < rows; r++, in += c, out += c)
        for (size_t j = 0; j < c; j += 16) {
            __mmask16 m = tail16(c - j);
            __m512 v = _mm512_maskz_loadu_ps(m, in + j);
            __m512 neg = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, alpha + j));
            __mmask16 ge = _mm512_cmp_ps_mask(v, z, _CMP_GE_OQ);
            _mm512_mask_storeu_ps(out + j, m, _mm512_mask_blend_ps(ge, neg, v));
        }
}

/* bf16 rounding of a row (the bf16 GEMMs' A packing), vectorised by the compiler */
#define CK_BF16_ROW_SUFFIX avx512
#include "ck_bf16_row_body.h"

#pragma clang attribute pop
#endif
