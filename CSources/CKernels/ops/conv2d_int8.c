/* int8 convolution by GEMM (im2col and implicit GEMM with d->int8): weights quantised and
 * packed once in the int8 GEMM's layout with the layer's input scale and zero point (d), each
 * output pixel's receptive field read as one row of A as for bf16 (ck_conv_row: zeros outside
 * the image, which quantise to the zero point), quantised as the driver packs it; where it
 * applies, the implicit GEMM skips the packing (ops/conv2d_int8_direct.c). */
#include "ck_int8.h"
#include "ck_internal.h"

static size_t conv_k(const ck_conv2d_desc *d) { return (size_t)d->kh * d->kw * (size_t)(d->cin / d->groups); }

size_t ck_conv2d_int8_packed_size(const ck_conv2d_desc *d) {
    return (size_t)d->groups * ck_packed_b_int8_size(conv_k(d), (size_t)(d->cout / d->groups));
}

void ck_conv2d_int8_pack(const ck_conv2d_desc *d, const float *w, uint32_t *packed) {
    size_t K = conv_k(d), og = (size_t)(d->cout / d->groups), per = ck_packed_b_int8_size(K, og);
    for (int g = 0; g < d->groups; g++)
        ck_pack_b_int8(K, og, w + (size_t)g * og, (size_t)d->cout, d->in_scale, d->in_zero, packed + g * per);
}

void ck_conv2d_int8_pack_codes(const ck_conv2d_desc *d, const int8_t *codes, const float *step, uint32_t *packed) {
    size_t K = conv_k(d), og = (size_t)(d->cout / d->groups), per = ck_packed_b_int8_size(K, og);
    for (int g = 0; g < d->groups; g++)
        ck_pack_b_int8_codes(K, og, codes + (size_t)g * og, (size_t)d->cout, step + (size_t)g * og, d->in_scale,
                             d->in_zero, packed + g * per);
}

/* the implicit GEMM reading its rows from a once-quantised copy of the input, where it applies */
static int direct(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo) {
    return algo == CK_CONV_IMPLICIT_GEMM && ck_conv2d_int8_direct_applies(ctx, d);
}

size_t ck_conv2d_int8_workspace_size(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo) {
    return direct(ctx, d, algo) ? ck_conv2d_int8_direct_workspace(d) : ck_gemm_int8_workspace_size(ctx);
}

void ck_conv2d_int8_run(ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo, const float *in,
                        const uint32_t *packed, const float *bias, float *out, uint32_t *workspace) {
    if (direct(ctx, d, algo)) {
        ck_conv2d_int8_direct_run(ctx, d, in, packed, bias, out, workspace);
        return;
    }
    size_t K = conv_k(d), og = (size_t)(d->cout / d->groups), per = ck_packed_b_int8_size(K, og);
    ck_conv_rows s = {d, in, 0, ck_conv2d_out_h(d), ck_conv2d_out_w(d)};
    size_t M = (size_t)d->n * s.oh_n * s.ow_n, row_seg = d->groups == 1 && d->dw == 1 ? (size_t)d->kw * d->cin : 0;
    for (int g = 0; g < d->groups; g++) {
        s.group = g;
        ck_gemm_int8_rows(ctx, M, og, K, ck_conv_row, &s, packed + g * per, bias ? bias + (size_t)g * og : NULL,
                          d->act, out + (size_t)g * og, (size_t)d->cout, workspace, row_seg);
    }
}
