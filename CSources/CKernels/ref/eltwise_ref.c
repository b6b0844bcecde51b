/* Reference element-wise ops: what every table's kernels must equal bit for bit. */
#include "ck_kernels.h"

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
