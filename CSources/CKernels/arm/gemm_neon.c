/* NEON GEMM microkernel: 8 x 8 register tile (16 q accumulators). */
#if defined(__aarch64__)
#include "ck_isa_symbols.h"
#include <arm_neon.h>

#define MR CK_MR_NEON
#define NR CK_NR_NEON

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

void ck_gemm_uk_neon(size_t kc, const float *A, const float *B, float *C, size_t ldc, size_t m,
                     size_t n, int first, int last, const float *bias, ck_activation act) {
    uk(kc, A, NULL, B, C, ldc, m, n, first, last, bias, act);
}

void ck_gemm_uk_indirect_neon(size_t kc, const float *const *rows, const float *B, float *C,
                              size_t ldc, size_t m, size_t n, int first, int last,
                              const float *bias, ck_activation act) {
    uk(kc, NULL, rows, B, C, ldc, m, n, first, last, bias, act);
}
#endif
