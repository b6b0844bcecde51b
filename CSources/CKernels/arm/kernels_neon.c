/* NEON kernels: an 8 x 8 GEMM microkernel (16 q accumulators) and the element-wise
 * ops. Element-wise ops use mul then add (never FMA) to equal the scalar reference. */
#if defined(__aarch64__)
#include "ck_internal.h"
#include <arm_neon.h>

#define MR 8
#define NR 8

/* A element (i, k): A[k * MR + i], or rows[i][k] when rows is not NULL. */
static inline __attribute__((always_inline)) void
uk(size_t kc, const float *A, const float *const *rows, const float *B, float *C, size_t ldc, size_t m,
   size_t n, int first, int last, const float *bias, ck_activation act) {
    float32x4_t c0[MR], c1[MR];
    float tile[MR * NR];
    int full = (m == MR && n == NR);
    for (int i = 0; i < MR; i++) {
        if (!first && (size_t)i < m) {
            if (full) {
                c0[i] = vld1q_f32(C + i * ldc);
                c1[i] = vld1q_f32(C + i * ldc + 4);
            } else {
                for (int j = 0; j < NR; j++) tile[j] = (size_t)j < n ? C[i * ldc + j] : 0.0f;
                c0[i] = vld1q_f32(tile);
                c1[i] = vld1q_f32(tile + 4);
            }
        } else {
            c0[i] = vdupq_n_f32(0.0f);
            c1[i] = vdupq_n_f32(0.0f);
        }
    }
    for (size_t k = 0; k < kc; k++) {
        float32x4_t b0 = vld1q_f32(B), b1 = vld1q_f32(B + 4);
        float32x4_t a0, a1;
        if (!rows) {
            a0 = vld1q_f32(A);
            a1 = vld1q_f32(A + 4);
        } else {
            float g[MR];
            for (int i = 0; i < MR; i++) g[i] = rows[i][k];
            a0 = vld1q_f32(g);
            a1 = vld1q_f32(g + 4);
        }
        c0[0] = vfmaq_laneq_f32(c0[0], b0, a0, 0); c1[0] = vfmaq_laneq_f32(c1[0], b1, a0, 0);
        c0[1] = vfmaq_laneq_f32(c0[1], b0, a0, 1); c1[1] = vfmaq_laneq_f32(c1[1], b1, a0, 1);
        c0[2] = vfmaq_laneq_f32(c0[2], b0, a0, 2); c1[2] = vfmaq_laneq_f32(c1[2], b1, a0, 2);
        c0[3] = vfmaq_laneq_f32(c0[3], b0, a0, 3); c1[3] = vfmaq_laneq_f32(c1[3], b1, a0, 3);
        c0[4] = vfmaq_laneq_f32(c0[4], b0, a1, 0); c1[4] = vfmaq_laneq_f32(c1[4], b1, a1, 0);
        c0[5] = vfmaq_laneq_f32(c0[5], b0, a1, 1); c1[5] = vfmaq_laneq_f32(c1[5], b1, a1, 1);
        c0[6] = vfmaq_laneq_f32(c0[6], b0, a1, 2); c1[6] = vfmaq_laneq_f32(c1[6], b1, a1, 2);
        c0[7] = vfmaq_laneq_f32(c0[7], b0, a1, 3); c1[7] = vfmaq_laneq_f32(c1[7], b1, a1, 3);
        A += MR;
        B += NR;
    }
    if (last) {
        if (bias) {
            float bb[NR];
            for (int j = 0; j < NR; j++) bb[j] = (size_t)j < n ? bias[j] : 0.0f;
            float32x4_t b0 = vld1q_f32(bb), b1 = vld1q_f32(bb + 4);
            for (int i = 0; i < MR; i++) { c0[i] = vaddq_f32(c0[i], b0); c1[i] = vaddq_f32(c1[i], b1); }
        }
        if (act == CK_ACT_RELU) {
            /* select, not vmaxq: vmaxq propagates NaN where the reference gives 0 */
            float32x4_t z = vdupq_n_f32(0.0f);
            for (int i = 0; i < MR; i++) {
                c0[i] = vbslq_f32(vcgtq_f32(c0[i], z), c0[i], z);
                c1[i] = vbslq_f32(vcgtq_f32(c1[i], z), c1[i], z);
            }
        }
    }
    for (int i = 0; i < MR && (size_t)i < m; i++) {
        if (n == NR) {
            vst1q_f32(C + i * ldc, c0[i]);
            vst1q_f32(C + i * ldc + 4, c1[i]);
        } else {
            vst1q_f32(tile, c0[i]);
            vst1q_f32(tile + 4, c1[i]);
            for (size_t j = 0; j < n; j++) C[i * ldc + j] = tile[j];
        }
    }
}

static void gemm_uk_neon(size_t kc, const float *A, const float *B, float *C, size_t ldc, size_t m,
                         size_t n, int first, int last, const float *bias, ck_activation act) {
    uk(kc, A, NULL, B, C, ldc, m, n, first, last, bias, act);
}

static void gemm_uk_indirect_neon(size_t kc, const float *const *rows, const float *B, float *C,
                                  size_t ldc, size_t m, size_t n, int first, int last,
                                  const float *bias, ck_activation act) {
    uk(kc, NULL, rows, B, C, ldc, m, n, first, last, bias, act);
}

static inline float32x4_t relu4(float32x4_t v) {
    float32x4_t z = vdupq_n_f32(0.0f);
    return vbslq_f32(vcgtq_f32(v, z), v, z);
}

static void relu_neon(size_t count, const float *in, float *out) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) vst1q_f32(out + i, relu4(vld1q_f32(in + i)));
    for (; i < count; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

static void add_neon(size_t count, const float *a, const float *b, float *out) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) vst1q_f32(out + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < count; i++) out[i] = a[i] + b[i];
}

static void affine_neon(size_t rows, size_t c, const float *in, const float *scale,
                        const float *shift, float *out) {
    for (size_t r = 0; r < rows; r++, in += c, out += c) {
        size_t j = 0;
        for (; j + 4 <= c; j += 4)
            vst1q_f32(out + j, vaddq_f32(vmulq_f32(vld1q_f32(in + j), vld1q_f32(scale + j)),
                                         vld1q_f32(shift + j)));
        for (; j < c; j++) out[j] = in[j] * scale[j] + shift[j];
    }
}

static void prelu_neon(size_t rows, size_t c, const float *in, const float *alpha,
                       const float *unused, float *out) {
    float32x4_t z = vdupq_n_f32(0.0f);
    for (size_t r = 0; r < rows; r++, in += c, out += c) {
        size_t j = 0;
        for (; j + 4 <= c; j += 4) {
            float32x4_t v = vld1q_f32(in + j);
            float32x4_t neg = vmulq_f32(v, vld1q_f32(alpha + j));
            vst1q_f32(out + j, vbslq_f32(vcgeq_f32(v, z), v, neg));
        }
        for (; j < c; j++) out[j] = in[j] >= 0.0f ? in[j] : alpha[j] * in[j];
    }
}

static void dw_row_neon(const ck_conv2d_desc *d, const float *in, const float *w,
                        const float *bias, int oh, int ow_n, float *out) {
    int C = d->cin;
    for (int ow = 0; ow < ow_n; ow++) {
        float *o = out + (size_t)ow * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
            float32x4_t acc = vdupq_n_f32(0.0f);
            for (int ky = 0; ky < d->kh; ky++) {
                int ih = oh * d->sh - d->pad_top + ky * d->dh;
                if (ih < 0 || ih >= d->h) continue;
                for (int kx = 0; kx < d->kw; kx++) {
                    int iw = ow * d->sw - d->pad_left + kx * d->dw;
                    if (iw < 0 || iw >= d->w) continue;
                    acc = vaddq_f32(acc, vmulq_f32(vld1q_f32(in + ((size_t)ih * d->w + iw) * C + c),
                                                   vld1q_f32(w + ((size_t)ky * d->kw + kx) * C + c)));
                }
            }
            if (bias) acc = vaddq_f32(acc, vld1q_f32(bias + c));
            if (d->act == CK_ACT_RELU) acc = relu4(acc);
            vst1q_f32(o + c, acc);
        }
        for (; c < C; c++) {
            float acc = 0.0f;
            for (int ky = 0; ky < d->kh; ky++) {
                int ih = oh * d->sh - d->pad_top + ky * d->dh;
                if (ih < 0 || ih >= d->h) continue;
                for (int kx = 0; kx < d->kw; kx++) {
                    int iw = ow * d->sw - d->pad_left + kx * d->dw;
                    if (iw < 0 || iw >= d->w) continue;
                    acc += in[((size_t)ih * d->w + iw) * C + c] * w[((size_t)ky * d->kw + kx) * C + c];
                }
            }
            if (bias) acc += bias[c];
            if (d->act == CK_ACT_RELU && !(acc > 0.0f)) acc = 0.0f;
            o[c] = acc;
        }
    }
}

CK_LSTM_DECLARE(neon)

const ck_kernel_table ck_table_neon = {
    .lstm_fwd_seq = ck_lstm_fwd_seq_neon, .lstm_bwd_seq = ck_lstm_bwd_seq_neon, .adadelta = ck_adadelta_seq_neon,
    .isa = CK_ISA_NEON, .mr = MR, .nr = NR,
    .gemm_ukernel = gemm_uk_neon, .gemm_ukernel_indirect = gemm_uk_indirect_neon, .relu = relu_neon, .add = add_neon,
    .affine = affine_neon, .prelu = prelu_neon, .dw_row = dw_row_neon,
};
#endif

#if defined(__aarch64__)
/* 16 independent q FMA chains: 16 x 4 lanes x 2 FLOPs per iteration. */
uint64_t ck_peak_loop_neon(uint64_t iters) {
    float32x4_t a[16], m = vdupq_n_f32(0.999999f), c = vdupq_n_f32(1e-7f);
    for (int i = 0; i < 16; i++) a[i] = vdupq_n_f32((float)i);
    for (uint64_t it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) a[i] = vfmaq_f32(c, a[i], m);
    float32x4_t s = a[0];
    for (int i = 1; i < 16; i++) s = vaddq_f32(s, a[i]);
    volatile float sink = vgetq_lane_f32(s, 0);
    (void)sink;
    return iters * 16 * 4 * 2;
}
#endif
