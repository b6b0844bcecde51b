/* NEON element-wise ops (relu, add, per-channel affine, prelu): 4 lanes, then a scalar tail;
 * mul then add (never FMA), so results equal the scalar reference bit for bit. */
#if defined(__aarch64__)
#include "ck_isa_symbols.h"
#include <arm_neon.h>

/* select, not vmaxq: vmaxq propagates NaN where the reference gives 0 */
static inline float32x4_t relu4(float32x4_t v) {
    float32x4_t z = vdupq_n_f32(0.0f);
    return vbslq_f32(vcgtq_f32(v, z), v, z);
}

void ck_relu_neon(size_t count, const float *in, float *out) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) vst1q_f32(out + i, relu4(vld1q_f32(in + i)));
    for (; i < count; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void ck_add_neon(size_t count, const float *a, const float *b, float *out) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) vst1q_f32(out + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < count; i++) out[i] = a[i] + b[i];
}

void ck_affine_neon(size_t rows, size_t c, const float *in, const float *scale,
                    const float *shift, float *out) {
    for (size_t r = 0; r < rows; r++, in += c, out += c) {
        size_t j = 0;
        for (; j + 4 <= c; j += 4)
            vst1q_f32(out + j, vaddq_f32(vmulq_f32(vld1q_f32(in + j), vld1q_f32(scale + j)),
                                         vld1q_f32(shift + j)));
        for (; j < c; j++) out[j] = in[j] * scale[j] + shift[j];
    }
}

void ck_prelu_neon(size_t rows, size_t c, const float *in, const float *alpha,
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
/* bf16 rounding of a row (the bf16 GEMMs' A packing), vectorised by the compiler */
#define CK_BF16_ROW_SUFFIX neon
#include "ck_bf16_row_body.h"
#endif
