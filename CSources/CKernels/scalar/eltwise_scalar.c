/* Scalar element-wise ops (relu, add, per-channel affine, prelu), the portable fallback.
 * Own loops, the references' arithmetic per element, so the bits equal ref/eltwise_ref.c. */
#include "ck_isa_symbols.h"

void ck_relu_scalar(size_t count, const float *in, float *out) {
    for (const float *end = in + count; in < end; in++, out++) {
        float v = *in;
        *out = v > 0.0f ? v : 0.0f;   /* NaN gives 0, as the reference */
    }
}

void ck_add_scalar(size_t count, const float *a, const float *b, float *out) {
    for (const float *end = a + count; a < end; a++, b++, out++) *out = *a + *b;
}

void ck_affine_scalar(size_t rows, size_t c, const float *in, const float *scale, const float *shift,
                      float *out) {
    for (size_t r = 0; r < rows; r++, in += c, out += c)
        for (size_t j = 0; j < c; j++) {
            float v = in[j] * scale[j];
            out[j] = v + shift[j];
        }
}

void ck_prelu_scalar(size_t rows, size_t c, const float *in, const float *alpha, const float *unused,
                     float *out) {
    for (size_t r = 0; r < rows; r++, in += c, out += c)
        for (size_t j = 0; j < c; j++) {
            float v = in[j];
            out[j] = v >= 0.0f ? v : alpha[j] * v;
        }
}

/* bf16 rounding of a row (the bf16 GEMMs' A packing), vectorised by the compiler */
#define CK_BF16_ROW_SUFFIX scalar
#include "ck_bf16_row_body.h"
