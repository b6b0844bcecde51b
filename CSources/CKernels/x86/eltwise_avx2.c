/* AVX2 element-wise ops (relu, add, per-channel affine, prelu). Masked tails; mul then add
 * (never FMA), so results equal the scalar reference bit for bit. */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)

static inline __m256i tail8(size_t n) {
    static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(lanes + 8 - (n > 8 ? 8 : n)));
}

void ck_relu_avx2(size_t count, const float *in, float *out) {
    __m256 z = _mm256_setzero_ps();
    for (size_t i = 0; i < count; i += 8) {
        __m256i m = tail8(count - i);
        _mm256_maskstore_ps(out + i, m, _mm256_max_ps(_mm256_maskload_ps(in + i, m), z));
    }
}

void ck_add_avx2(size_t count, const float *a, const float *b, float *out) {
    for (size_t i = 0; i < count; i += 8) {
        __m256i m = tail8(count - i);
        __m256 v = _mm256_add_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
        _mm256_maskstore_ps(out + i, m, v);
    }
}

void ck_affine_avx2(size_t rows, size_t c, const float *in, const float *scale, const float *shift,
                    float *out) {
    for (size_t r = 0; r < rows; r++, in += c, out += c)
        for (size_t j = 0; j < c; j += 8) {
            __m256i m = tail8(c - j);
            __m256 v = _mm256_mul_ps(_mm256_maskload_ps(in + j, m), _mm256_maskload_ps(scale + j, m));
            _mm256_maskstore_ps(out + j, m, _mm256_add_ps(v, _mm256_maskload_ps(shift + j, m)));
        }
}

void ck_prelu_avx2(size_t rows, size_t c, const float *in, const float *alpha, const float *unused,
                   float *out) {
    __m256 z = _mm256_setzero_ps();
    for (size_t r = 0; r < rows; r++, in += c, out += c)
        for (size_t j = 0; j < c; j += 8) {
            __m256i m = tail8(c - j);
            __m256 v = _mm256_maskload_ps(in + j, m);
            __m256 neg = _mm256_mul_ps(v, _mm256_maskload_ps(alpha + j, m));
            __m256 ge = _mm256_cmp_ps(v, z, _CMP_GE_OQ);
            _mm256_maskstore_ps(out + j, m, _mm256_blendv_ps(neg, v, ge));
        }
}

/* bf16 rounding of a row (the bf16 GEMMs' A packing), vectorised by the compiler */
#define CK_BF16_ROW_SUFFIX avx2
#include "ck_bf16_row_body.h"

#pragma clang attribute pop
#endif
