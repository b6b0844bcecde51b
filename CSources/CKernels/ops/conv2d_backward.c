/* Convolution backward with respect to the input, written as a forward convolution (the
 * transposed-convolution identity): dx = conv(dilate_s(dy), W'), stride 1, the forward
 * dilation, leading pads (extent - 1 - pad), with W' the kernel flipped in space and with
 * input and output channels swapped per group. It runs on every ck_conv2d algorithm and ISA
 * (Winograd for 3x3), so it has no ISA files of its own; ref/conv2d_backward_ref.c is the
 * direct scatter it must equal. */
#include "ck_internal.h"
#include <string.h>

int ck_conv2d_backward_data_desc(const ck_conv2d_desc *d, ck_conv2d_desc *b) {
    if (!ck_conv2d_valid(d)) return 0;
    int oh = ck_conv2d_out_h(d), ow = ck_conv2d_out_w(d);
    int eh = (d->kh - 1) * d->dh + 1, ew = (d->kw - 1) * d->dw + 1;
    ck_conv2d_desc r = *d;
    r.h = (oh - 1) * d->sh + 1;
    r.w = (ow - 1) * d->sw + 1;
    r.cin = d->cout;
    r.cout = d->cin;
    r.sh = r.sw = 1;
    r.pad_top = eh - 1 - d->pad_top;
    r.pad_left = ew - 1 - d->pad_left;
    /* rows the forward pass never read (stride remainder) get a zero gradient */
    r.pad_bottom = d->h - 1 - (oh - 1) * d->sh + d->pad_top;
    r.pad_right = d->w - 1 - (ow - 1) * d->sw + d->pad_left;
    r.act = CK_ACT_NONE;
    r.bf16 = 0;
    if (r.pad_top < 0 || r.pad_left < 0 || r.pad_bottom < 0 || r.pad_right < 0) return 0;
    if (!ck_conv2d_valid(&r) || ck_conv2d_out_h(&r) != d->h || ck_conv2d_out_w(&r) != d->w) return 0;
    *b = r;
    return 1;
}

void ck_conv2d_backward_data_weights(const ck_conv2d_desc *d, const float *w, float *wt) {
    int cg = d->cin / d->groups, og = d->cout / d->groups;
    for (int ky = 0; ky < d->kh; ky++)
        for (int kx = 0; kx < d->kw; kx++) {
            const float *src = w + ((size_t)(d->kh - 1 - ky) * d->kw + (d->kw - 1 - kx)) * cg * d->cout;
            float *dst = wt + ((size_t)ky * d->kw + kx) * og * d->cin;
            for (int c = 0; c < d->cin; c++) {
                int g = c / cg, ci = c % cg;
                for (int j = 0; j < og; j++) dst[(size_t)j * d->cin + c] = src[(size_t)ci * d->cout + g * og + j];
            }
        }
}

size_t ck_conv2d_backward_data_dilated_size(const ck_conv2d_desc *d) {
    if (d->sh == 1 && d->sw == 1) return 0;
    size_t hd = (size_t)(ck_conv2d_out_h(d) - 1) * d->sh + 1, wd = (size_t)(ck_conv2d_out_w(d) - 1) * d->sw + 1;
    return (size_t)d->n * hd * wd * d->cout;
}

void ck_conv2d_backward_data_dilate(const ck_conv2d_desc *d, const float *dy, float *dyd) {
    int oh = ck_conv2d_out_h(d), ow = ck_conv2d_out_w(d);
    size_t hd = (size_t)(oh - 1) * d->sh + 1, wd = (size_t)(ow - 1) * d->sw + 1, C = (size_t)d->cout;
    memset(dyd, 0, (size_t)d->n * hd * wd * C * sizeof(float));
    for (int n = 0; n < d->n; n++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                memcpy(dyd + (((size_t)n * hd + (size_t)y * d->sh) * wd + (size_t)x * d->sw) * C,
                       dy + (((size_t)n * oh + y) * ow + x) * C, C * sizeof(float));
}
