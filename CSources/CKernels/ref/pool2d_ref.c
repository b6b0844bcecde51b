/* Reference max and average pooling, one output value at a time (PyTorch semantics).
 * in [n, h, w, c], out [n, oh, ow, c]. */
#include "ck_kernels.h"
#include <math.h>
#include <stddef.h>

static void pool2d_ref(const ck_pool2d_desc *d, const float *in, float *out, int is_max) {
    int oh_n = ck_pool2d_out_h(d), ow_n = ck_pool2d_out_w(d);
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++)
                for (int c = 0; c < d->c; c++) {
                    float mx = -INFINITY, sum = 0.0f;
                    int count = 0;
                    int h0 = oh * d->sh - d->pad_top, w0 = ow * d->sw - d->pad_left;
                    for (int ky = 0; ky < d->kh; ky++)
                        for (int kx = 0; kx < d->kw; kx++) {
                            int ih = h0 + ky, iw = w0 + kx;
                            if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) continue;
                            float v = in[(((size_t)n * d->h + ih) * d->w + iw) * d->c + c];
                            if (v > mx || isnan(v)) mx = v; /* NaN propagates, as PyTorch */
                            sum += v;
                            count++;
                        }
                    float r;
                    if (is_max) r = count ? mx : 0.0f;
                    else {
                        /* the full window clipped to the padded extent, as PyTorch */
                        int hs = h0 < -d->pad_top ? -d->pad_top : h0, ws = w0 < -d->pad_left ? -d->pad_left : w0;
                        int he = h0 + d->kh, we = w0 + d->kw;
                        if (he > d->h + d->pad_bottom) he = d->h + d->pad_bottom;
                        if (we > d->w + d->pad_right) we = d->w + d->pad_right;
                        int div = d->count_include_pad ? (he - hs) * (we - ws) : count;
                        r = div > 0 ? sum / (float)div : 0.0f;
                    }
                    out[(((size_t)n * oh_n + oh) * ow_n + ow) * d->c + c] = r;
                }
}

void ck_maxpool2d_ref(const ck_pool2d_desc *d, const float *in, float *out) { pool2d_ref(d, in, out, 1); }
void ck_avgpool2d_ref(const ck_pool2d_desc *d, const float *in, float *out) { pool2d_ref(d, in, out, 0); }
