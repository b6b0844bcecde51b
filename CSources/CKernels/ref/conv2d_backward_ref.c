/* Reference convolution backward-data: the direct scatter of every output gradient onto
 * the inputs it read, in (n, oh, ow, o, ky, kx, c) order. dy [n, oh, ow, cout] is the
 * gradient at the convolution's output before any activation; dx [n, h, w, cin]. */
#include "ck_kernels.h"
#include <string.h>

void ck_conv2d_backward_data_ref(const ck_conv2d_desc *d, const float *dy, const float *w, float *dx) {
    int oh_n = ck_conv2d_out_h(d), ow_n = ck_conv2d_out_w(d);
    int cg = d->cin / d->groups, og = d->cout / d->groups;
    memset(dx, 0, (size_t)d->n * d->h * d->w * d->cin * sizeof(float));
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++)
                for (int o = 0; o < d->cout; o++) {
                    float g = dy[(((size_t)n * oh_n + oh) * ow_n + ow) * d->cout + o];
                    int grp = o / og;
                    for (int ky = 0; ky < d->kh; ky++) {
                        int ih = oh * d->sh - d->pad_top + ky * d->dh;
                        if (ih < 0 || ih >= d->h) continue;
                        for (int kx = 0; kx < d->kw; kx++) {
                            int iw = ow * d->sw - d->pad_left + kx * d->dw;
                            if (iw < 0 || iw >= d->w) continue;
                            float *px = dx + (((size_t)n * d->h + ih) * d->w + iw) * d->cin + (size_t)grp * cg;
                            const float *wk = w + ((size_t)ky * d->kw + kx) * cg * d->cout + o;
                            for (int c = 0; c < cg; c++) px[c] += g * wk[(size_t)c * d->cout];
                        }
                    }
                }
}
