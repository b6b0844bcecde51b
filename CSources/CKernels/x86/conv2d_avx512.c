/* AVX-512 depthwise convolution, one output row: taps in (ky, kx) order, vectorised over
 * channels with masked tails; mul then add (never FMA), so results equal the scalar table.
 * in [h, w, c] (one image), w [kh, kw, c], out [ow_n, c]. */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)

static inline __mmask16 tail16(size_t n) { return n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1); }

void ck_dw_row_avx512(const ck_conv2d_desc *d, const float *in, const float *w, const float *bias,
                      int oh, int ow_n, float *out) {
    int C = d->cin;
    __m512 z = _mm512_setzero_ps();
    for (int ow = 0; ow < ow_n; ow++) {
        float *o = out + (size_t)ow * C;
        for (int c = 0; c < C; c += 16) {
            __mmask16 m = tail16((size_t)(C - c));
            __m512 acc = _mm512_setzero_ps();
            for (int ky = 0; ky < d->kh; ky++) {
                int ih = oh * d->sh - d->pad_top + ky * d->dh;
                if (ih < 0 || ih >= d->h) continue;
                for (int kx = 0; kx < d->kw; kx++) {
                    int iw = ow * d->sw - d->pad_left + kx * d->dw;
                    if (iw < 0 || iw >= d->w) continue;
                    const float *px = in + ((size_t)ih * d->w + iw) * C + c;
                    const float *wk = w + ((size_t)ky * d->kw + kx) * C + c;
                    acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, px),
                                                           _mm512_maskz_loadu_ps(m, wk)));
                }
            }
            if (bias) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, bias + c));
            if (d->act == CK_ACT_RELU) acc = _mm512_max_ps(acc, z);
            _mm512_mask_storeu_ps(o + c, m, acc);
        }
    }
}

/* the Winograd tile transforms, vectorised by the compiler */
#define CK_WINO_SUFFIX avx512
#include "ck_winograd_body.h"

#pragma clang attribute pop
#endif
