/* AVX2 element-wise ops and the depthwise row kernel. Masked tails; mul then add
 * (never FMA), so results equal the scalar reference bit for bit. */
#if defined(__x86_64__)
#include "ck_internal.h"
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

void ck_dw_row_avx2(const ck_conv2d_desc *d, const float *in, const float *w, const float *bias,
                    int oh, int ow_n, float *out) {
    int C = d->cin;
    __m256 z = _mm256_setzero_ps();
    for (int ow = 0; ow < ow_n; ow++) {
        float *o = out + (size_t)ow * C;
        for (int c = 0; c < C; c += 8) {
            __m256i m = tail8((size_t)(C - c));
            __m256 acc = _mm256_setzero_ps();
            for (int ky = 0; ky < d->kh; ky++) {
                int ih = oh * d->sh - d->pad_top + ky * d->dh;
                if (ih < 0 || ih >= d->h) continue;
                for (int kx = 0; kx < d->kw; kx++) {
                    int iw = ow * d->sw - d->pad_left + kx * d->dw;
                    if (iw < 0 || iw >= d->w) continue;
                    const float *px = in + ((size_t)ih * d->w + iw) * C + c;
                    const float *wk = w + ((size_t)ky * d->kw + kx) * C + c;
                    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_maskload_ps(px, m),
                                                           _mm256_maskload_ps(wk, m)));
                }
            }
            if (bias) acc = _mm256_add_ps(acc, _mm256_maskload_ps(bias + c, m));
            if (d->act == CK_ACT_RELU) acc = _mm256_max_ps(acc, z);
            _mm256_maskstore_ps(o + c, m, acc);
        }
    }
}

#pragma clang attribute pop
#endif
