/* NEON depthwise convolution, one output row: taps in (ky, kx) order, 4 channels per
 * vector, then a scalar tail; mul then add (never FMA), so results equal the scalar table.
 * in [h, w, c] (one image), w [kh, kw, c], out [ow_n, c]. */
#if defined(__aarch64__)
#include "ck_isa_symbols.h"
#include <arm_neon.h>

static inline float32x4_t relu4(float32x4_t v) {
    float32x4_t z = vdupq_n_f32(0.0f);
    return vbslq_f32(vcgtq_f32(v, z), v, z);
}

void ck_dw_row_neon(const ck_conv2d_desc *d, const float *in, const float *w,
                    const float *bias, int oh, int ow_n, float *out) {
    int C = d->cin;
    for (int ow = 0; ow < ow_n; ow++) {
        float *o = out + (size_t)ow * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
            float32x4_t acc = vdupq_n_f32(0.0f);
            for (int ky = 0; ky < d->kh; ky++) {
                int ih = oh * d->sh - d->pad_top + ky * d->dh;
                if (ih < 0 || ih >= d->h) continue;
                for (int kx = 0; kx < d->kw; kx++) {
                    int iw = ow * d->sw - d->pad_left + kx * d->dw;
                    if (iw < 0 || iw >= d->w) continue;
                    acc = vaddq_f32(acc, vmulq_f32(vld1q_f32(in + ((size_t)ih * d->w + iw) * C + c),
                                                   vld1q_f32(w + ((size_t)ky * d->kw + kx) * C + c)));
                }
            }
            if (bias) acc = vaddq_f32(acc, vld1q_f32(bias + c));
            if (d->act == CK_ACT_RELU) acc = relu4(acc);
            vst1q_f32(o + c, acc);
        }
        for (; c < C; c++) {
            float acc = 0.0f;
            for (int ky = 0; ky < d->kh; ky++) {
                int ih = oh * d->sh - d->pad_top + ky * d->dh;
                if (ih < 0 || ih >= d->h) continue;
                for (int kx = 0; kx < d->kw; kx++) {
                    int iw = ow * d->sw - d->pad_left + kx * d->dw;
                    if (iw < 0 || iw >= d->w) continue;
                    acc += in[((size_t)ih * d->w + iw) * C + c] * w[((size_t)ky * d->kw + kx) * C + c];
                }
            }
            if (bias) acc += bias[c];
            if (d->act == CK_ACT_RELU && !(acc > 0.0f)) acc = 0.0f;
            o[c] = acc;
        }
    }
}

/* the Winograd tile transforms, vectorised by the compiler */
#define CK_WINO_SUFFIX neon
#include "ck_winograd_body.h"
#endif
