/* Scalar references: direct convolution, pooling, GEMM. Readable, obviously right. */
#include "ck_internal.h"
#include <float.h>
#include <math.h>

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

void ck_gemm_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B,
                 size_t ldb, const float *bias, ck_activation act, float *C, size_t ldc) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc += A[i * lda + k] * B[k * ldb + j];
            if (bias) acc += bias[j];
            if (act == CK_ACT_RELU && !(acc > 0.0f)) acc = 0.0f;
            C[i * ldc + j] = acc;
        }
}

/* ---- pooling ---- */

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

/* Output rows [row0, row1) of the n * oh_n rows. */
void ck_pool2d_rows_ref(const ck_pool2d_desc *d, const float *in, float *out, int is_max,
                        int row0, int row1) {
    int oh_n = ck_pool2d_out_h(d), ow_n = ck_pool2d_out_w(d);
    for (int row = row0; row < row1; row++) {
        int n = row / oh_n, oh = row % oh_n;
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
}

void ck_maxpool2d_ref(const ck_pool2d_desc *d, const float *in, float *out) {
    ck_pool2d_rows_ref(d, in, out, 1, 0, d->n * ck_pool2d_out_h(d));
}
void ck_avgpool2d_ref(const ck_pool2d_desc *d, const float *in, float *out) {
    ck_pool2d_rows_ref(d, in, out, 0, 0, d->n * ck_pool2d_out_h(d));
}

/* ---- element-wise references ---- */

void ck_relu_ref(size_t count, const float *in, float *out) {
    for (size_t i = 0; i < count; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void ck_prelu_ref(size_t rows, size_t c, const float *in, const float *alpha, float *out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            float v = in[r * c + j];
            out[r * c + j] = v >= 0.0f ? v : alpha[j] * v;
        }
}

void ck_add_ref(size_t count, const float *a, const float *b, float *out) {
    for (size_t i = 0; i < count; i++) out[i] = a[i] + b[i];
}

void ck_affine_channels_ref(size_t rows, size_t c, const float *in, const float *scale,
                            const float *shift, float *out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) out[r * c + j] = in[r * c + j] * scale[j] + shift[j];
}
