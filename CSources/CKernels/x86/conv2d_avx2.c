/* AVX2 depthwise convolution, one output row: taps in (ky, kx) order, vectorised over
 * channels with masked tails; mul then add (never FMA), so results equal the scalar table.
 * in [h, w, c] (one image), w [kh, kw, c], out [ow_n, c]. */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)

static inline __m256i tail8(size_t n) {
    static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(lanes + 8 - (n > 8 ? 8 : n)));
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

/* the Winograd tile transforms, vectorised by the compiler */
#define CK_WINO_SUFFIX avx2
#include "ck_winograd_body.h"

#pragma clang attribute pop
#endif
