/* Scalar depthwise convolution, one output row (channel multiplier 1), the portable fallback.
 * in [h, w, c] (one image), w [kh, kw, c], out [ow_n, c]. */
#include "ck_isa_symbols.h"

/* Depthwise, multiplier 1: one output row, taps in (ky, kx) order. */
void ck_dw_row_scalar(const ck_conv2d_desc *d, const float *in, const float *w,
                      const float *bias, int oh, int ow_n, float *out) {
    int C = d->cin;
    for (int ow = 0; ow < ow_n; ow++) {
        float *o = out + (size_t)ow * C;
        for (int c = 0; c < C; c++) o[c] = 0.0f;
        for (int ky = 0; ky < d->kh; ky++) {
            int ih = oh * d->sh - d->pad_top + ky * d->dh;
            if (ih < 0 || ih >= d->h) continue;
            for (int kx = 0; kx < d->kw; kx++) {
                int iw = ow * d->sw - d->pad_left + kx * d->dw;
                if (iw < 0 || iw >= d->w) continue;
                const float *px = in + ((size_t)ih * d->w + iw) * C;
                const float *wk = w + ((size_t)ky * d->kw + kx) * C;
                for (int c = 0; c < C; c++) o[c] += px[c] * wk[c];
            }
        }
        for (int c = 0; c < C; c++) {
            float v = o[c];
            if (bias) v += bias[c];
            if (d->act == CK_ACT_RELU && !(v > 0.0f)) v = 0.0f;
            o[c] = v;
        }
    }
}

/* the Winograd tile transforms, vectorised by the compiler */
#define CK_WINO_SUFFIX scalar
#include "ck_winograd_body.h"
