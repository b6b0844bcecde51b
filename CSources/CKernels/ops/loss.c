/* Softmax cross-entropy (Keras semantics): the loss and its gradient on the logits.
 * P and dZ [M, C]. */
#include "ck_kernels.h"
#include <math.h>
#include <stddef.h>

double ck_softmax_xent(size_t M, size_t C, const float *P, const int32_t *labels,
                       const float *class_weights, float eps, float *dZ) {
    double loss = 0.0;
    for (size_t i = 0; i < M; i++) {
        int y = labels[i];
        float w = class_weights ? class_weights[y] : 1.0f;
        float p = P[i * C + (size_t)y];
        float pc = p < eps ? eps : (p > 1.0f - eps ? 1.0f - eps : p);
        loss += (double)w * -log((double)pc);
        int clipped = p < eps || p > 1.0f - eps;
        for (size_t c = 0; c < C; c++) {
            float g = clipped ? 0.0f : P[i * C + c] - (c == (size_t)y ? 1.0f : 0.0f);
            dZ[i * C + c] = w * g / (float)M;
        }
    }
    return loss / (double)M;
}
