/* The scalar kernel table: the portable fallback on every CPU. */
#include "ck_internal.h"

#define MR 4
#define NR 8

/* A element (i, k): A[k * MR + i], or rows[i][k] when rows is not NULL. */
static void gemm_uk_scalar_any(size_t kc, const float *A, const float *const *rows, const float *B,
                               float *C, size_t ldc, size_t m, size_t n, int first, int last,
                               const float *bias, ck_activation act) {
    float acc[MR][NR];
    for (size_t i = 0; i < MR; i++)
        for (size_t j = 0; j < NR; j++)
            acc[i][j] = (!first && i < m && j < n) ? C[i * ldc + j] : 0.0f;
    for (size_t k = 0; k < kc; k++) {
        const float *b = B + k * NR;
        for (size_t i = 0; i < MR; i++) {
            float ai = rows ? rows[i][k] : A[k * MR + i];
            for (size_t j = 0; j < NR; j++) acc[i][j] += ai * b[j];
        }
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float v = acc[i][j];
            if (last) {
                if (bias) v += bias[j];
                if (act == CK_ACT_RELU && !(v > 0.0f)) v = 0.0f;
            }
            C[i * ldc + j] = v;
        }
}

static void gemm_uk_scalar(size_t kc, const float *A, const float *B, float *C, size_t ldc,
                           size_t m, size_t n, int first, int last, const float *bias,
                           ck_activation act) {
    gemm_uk_scalar_any(kc, A, NULL, B, C, ldc, m, n, first, last, bias, act);
}

static void gemm_uk_indirect_scalar(size_t kc, const float *const *rows, const float *B, float *C,
                                    size_t ldc, size_t m, size_t n, int first, int last,
                                    const float *bias, ck_activation act) {
    gemm_uk_scalar_any(kc, NULL, rows, B, C, ldc, m, n, first, last, bias, act);
}

static void affine_scalar(size_t rows, size_t c, const float *in, const float *scale,
                          const float *shift, float *out) {
    ck_affine_channels_ref(rows, c, in, scale, shift, out);
}

static void prelu_scalar(size_t rows, size_t c, const float *in, const float *alpha,
                         const float *unused, float *out) {
    ck_prelu_ref(rows, c, in, alpha, out);
}

/* Depthwise, multiplier 1: one output row, taps in (ky, kx) order. */
static void dw_row_scalar(const ck_conv2d_desc *d, const float *in, const float *w,
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

CK_LSTM_DECLARE(ref)

const ck_kernel_table ck_table_scalar = {
    .lstm_fwd_seq = ck_lstm_fwd_seq_ref, .lstm_bwd_seq = ck_lstm_bwd_seq_ref, .adadelta = ck_adadelta_seq_ref,
    .isa = CK_ISA_SCALAR, .mr = MR, .nr = NR,
    .gemm_ukernel = gemm_uk_scalar,
    .gemm_ukernel_indirect = gemm_uk_indirect_scalar,
    .relu = ck_relu_ref,
    .add = ck_add_ref,
    .affine = affine_scalar,
    .prelu = prelu_scalar,
    .dw_row = dw_row_scalar,
};

/* 8 independent multiply-add chains; 2 FLOPs each. */
uint64_t ck_peak_loop_scalar(uint64_t iters) {
    volatile float seed = 1.0f;
    float a[8], m = 0.999999f, c = 1e-7f;
    for (int i = 0; i < 8; i++) a[i] = seed + (float)i;
    for (uint64_t it = 0; it < iters; it++)
        for (int i = 0; i < 8; i++) a[i] = a[i] * m + c;
    seed = a[0] + a[7];
    return iters * 8 * 2;
}
