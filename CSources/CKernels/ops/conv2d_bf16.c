/* bf16 convolution by GEMM (im2col and implicit GEMM with d->bf16): weights packed once in
 * the bf16 GEMM's layout, each output pixel's receptive field read as one row of A (in place
 * when a block of K lies within one in-image kernel row, else gathered with zeros), rounded
 * to bf16 as the driver packs it. Rows run over all images, so small layers still give the
 * threads enough tiles. The int8 convolution reads its rows here too (ck_conv_row). */
#include "ck_bf16.h"
#include "ck_internal.h"
#include <string.h>

const float *ck_conv_row(const void *src, size_t row, size_t k0, size_t kc, float *tmp) {
    const ck_conv_rows *s = src;
    const ck_conv2d_desc *d = s->d;
    size_t hw = (size_t)s->oh_n * s->ow_n, img = row / hw, p = row % hw;
    size_t cg = (size_t)(d->cin / d->groups), rowK = (size_t)d->kw * cg;
    int oh = (int)(p / (size_t)s->ow_n), ow = (int)(p % (size_t)s->ow_n);
    const int ih0 = oh * d->sh - d->pad_top, iw0 = ow * d->sw - d->pad_left;
    const float *base = s->in + img * (size_t)d->h * d->w * d->cin + (size_t)s->group * cg;
    size_t ky0 = k0 / rowK;
    if (d->groups == 1 && d->dw == 1 && k0 + kc <= (ky0 + 1) * rowK) {
        int ih = ih0 + (int)ky0 * d->dh;
        if (ih >= 0 && ih < d->h && iw0 >= 0 && iw0 + d->kw <= d->w)
            return base + ((size_t)ih * d->w + iw0) * d->cin + (k0 - ky0 * rowK);
    }
    size_t k = k0, kend = k0 + kc, tap = k / cg, ci = k % cg;
    int ky = (int)(tap / (size_t)d->kw), kx = (int)(tap % (size_t)d->kw);
    while (k < kend) {
        size_t len = ck_min(cg - ci, kend - k);
        int ih = ih0 + ky * d->dh, iw = iw0 + kx * d->dw;
        float *o = tmp + (k - k0);
        if (ih >= 0 && ih < d->h && iw >= 0 && iw < d->w)
            memcpy(o, base + ((size_t)ih * d->w + iw) * d->cin + ci, len * sizeof(float));
        else
            memset(o, 0, len * sizeof(float));
        ci = 0;
        if (++kx == d->kw) { kx = 0; ky++; }
        k += len;
    }
    return tmp;
}

static size_t conv_k(const ck_conv2d_desc *d) { return (size_t)d->kh * d->kw * (size_t)(d->cin / d->groups); }

size_t ck_conv2d_bf16_packed_size(const ck_conv2d_desc *d) {
    return (size_t)d->groups * ck_packed_b_bf16_size(conv_k(d), (size_t)(d->cout / d->groups));
}

void ck_conv2d_bf16_pack(const ck_conv2d_desc *d, const float *w, uint32_t *packed) {
    size_t K = conv_k(d), og = (size_t)(d->cout / d->groups), per = ck_packed_b_bf16_size(K, og);
    for (int g = 0; g < d->groups; g++) ck_pack_b_bf16(K, og, w + (size_t)g * og, (size_t)d->cout, packed + g * per);
}

void ck_conv2d_bf16_run(ck_ctx *ctx, const ck_conv2d_desc *d, const float *in, const uint32_t *packed,
                        const float *bias, float *out, uint32_t *workspace) {
    size_t K = conv_k(d), og = (size_t)(d->cout / d->groups), per = ck_packed_b_bf16_size(K, og);
    ck_conv_rows s = {d, in, 0, ck_conv2d_out_h(d), ck_conv2d_out_w(d)};
    /* a kernel row of taps x channels is contiguous in NHWC without groups or dilation in w */
    size_t M = (size_t)d->n * s.oh_n * s.ow_n, row_seg = d->groups == 1 && d->dw == 1 ? (size_t)d->kw * d->cin : 0;
    for (int g = 0; g < d->groups; g++) {
        s.group = g;
        ck_gemm_bf16_rows(ctx, M, og, K, ck_conv_row, &s, packed + g * per, bias ? bias + (size_t)g * og : NULL, d->act,
                          out + (size_t)g * og, (size_t)d->cout, workspace, row_seg);
    }
}
