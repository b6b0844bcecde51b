/* Reference convolution: direct loops from unpacked HWIO weights, float accumulation in
 * (ky, kx, ci) order. in [n, h, w, cin], w [kh, kw, cin/groups, cout], out [n, oh, ow, cout]. */
#include "ck_kernels.h"
#include <stddef.h>

void ck_conv2d_ref(const ck_conv2d_desc *d, const float *in, const float *w, const float *bias,
                   float *out) {
    int oh_n = ck_conv2d_out_h(d), ow_n = ck_conv2d_out_w(d);
    int cg = d->cin / d->groups, og = d->cout / d->groups;
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++)
                for (int o = 0; o < d->cout; o++) {
                    int g = o / og;
                    float acc = 0.0f;
                    for (int ky = 0; ky < d->kh; ky++) {
                        int ih = oh * d->sh - d->pad_top + ky * d->dh;
                        if (ih < 0 || ih >= d->h) continue;
                        for (int kx = 0; kx < d->kw; kx++) {
                            int iw = ow * d->sw - d->pad_left + kx * d->dw;
                            if (iw < 0 || iw >= d->w) continue;
                            const float *px = in + (((size_t)n * d->h + ih) * d->w + iw) * d->cin + (size_t)g * cg;
                            const float *wk = w + ((size_t)ky * d->kw + kx) * cg * d->cout + o;
                            for (int c = 0; c < cg; c++) acc += px[c] * wk[(size_t)c * d->cout];
                        }
                    }
                    if (bias) acc += bias[o];
                    if (d->act == CK_ACT_RELU && !(acc > 0.0f)) acc = 0.0f;
                    out[(((size_t)n * oh_n + oh) * ow_n + ow) * d->cout + o] = acc;
                }
}
