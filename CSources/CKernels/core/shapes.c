/* Shape arithmetic of convolution and pooling: output sizes and validity. */
#include "ck_kernels.h"

int ck_conv2d_valid(const ck_conv2d_desc *d) {
    if (d->n <= 0 || d->h <= 0 || d->w <= 0 || d->cin <= 0 || d->cout <= 0) return 0;
    if (d->kh <= 0 || d->kw <= 0 || d->sh <= 0 || d->sw <= 0 || d->dh <= 0 || d->dw <= 0) return 0;
    if (d->pad_top < 0 || d->pad_left < 0 || d->pad_bottom < 0 || d->pad_right < 0) return 0;
    if (d->groups <= 0 || d->cin % d->groups || d->cout % d->groups) return 0;
    return ck_conv2d_out_h(d) > 0 && ck_conv2d_out_w(d) > 0;
}

int ck_conv2d_out_h(const ck_conv2d_desc *d) {
    long span = (long)(d->kh - 1) * d->dh + 1;
    long h = (long)d->h + d->pad_top + d->pad_bottom - span;
    return (h < 0 || d->sh <= 0) ? 0 : (int)(h / d->sh + 1);
}

int ck_conv2d_out_w(const ck_conv2d_desc *d) {
    long span = (long)(d->kw - 1) * d->dw + 1;
    long w = (long)d->w + d->pad_left + d->pad_right - span;
    return (w < 0 || d->sw <= 0) ? 0 : (int)(w / d->sw + 1);
}

static int pool_out(int in, int k, int s, int lo, int hi, int ceil_mode) {
    if (in <= 0 || k <= 0 || s <= 0 || lo < 0 || hi < 0) return 0;
    long span = (long)in + lo + hi - k;
    if (span < 0) return 0;
    long out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    /* PyTorch: the last window must start inside the image or the left padding. */
    if (ceil_mode && (out - 1) * s >= (long)in + lo) out--;
    return (int)out;
}

int ck_pool2d_out_h(const ck_pool2d_desc *d) {
    return pool_out(d->h, d->kh, d->sh, d->pad_top, d->pad_bottom, d->ceil_mode);
}
int ck_pool2d_out_w(const ck_pool2d_desc *d) {
    return pool_out(d->w, d->kw, d->sw, d->pad_left, d->pad_right, d->ceil_mode);
}
int ck_pool2d_valid(const ck_pool2d_desc *d) {
    return d->n > 0 && d->c > 0 && ck_pool2d_out_h(d) > 0 && ck_pool2d_out_w(d) > 0;
}
