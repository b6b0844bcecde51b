/* Dense layer training kernels on unpacked weights (the products through ck_gemm_ex, so
 * thread-count independent), ReLU backward and inverted dropout.
 * X [M, K], W [K, N], b [N], Y and dY [M, N]. */
#include "ck_internal.h"
#include <string.h>

size_t ck_dense_workspace_size(const ck_ctx *ctx, size_t M, size_t K, size_t N) {
    size_t a = ck_gemm_ex_workspace_size(ctx, K, N), b = ck_gemm_ex_workspace_size(ctx, N, K),
           c = ck_gemm_ex_workspace_size(ctx, M, N);
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

void ck_dense_forward(ck_ctx *ctx, size_t M, size_t K, size_t N, const float *X, const float *W,
                      const float *b, ck_activation act, float *Y, float *workspace) {
    ck_gemm_ex(ctx, 0, 0, M, N, K, X, K, W, N, 0, Y, N, workspace);
    if (!b && act == CK_ACT_NONE) return;
    for (size_t i = 0; i < M; i++)
        for (size_t n = 0; n < N; n++) {
            float v = b ? Y[i * N + n] + b[n] : Y[i * N + n];
            Y[i * N + n] = (act == CK_ACT_RELU && !(v > 0.0f)) ? 0.0f : v;
        }
}

static void dense_backward(ck_ctx *ctx, size_t M, size_t K, size_t N, const float *X, const float *W,
                           const float *dY, float *dX, float *dW, float *db, float *workspace, int accumulate) {
    if (dX) ck_gemm_ex(ctx, 0, 1, M, K, N, dY, N, W, N, 0, dX, K, workspace);               /* dY W^T */
    if (dW) ck_gemm_ex(ctx, 1, 0, K, N, M, X, K, dY, N, accumulate, dW, N, workspace);      /* (+)= X^T dY */
    if (db) {
        if (!accumulate) memset(db, 0, N * sizeof(float));
        for (size_t i = 0; i < M; i++)
            for (size_t n = 0; n < N; n++) db[n] += dY[i * N + n];
    }
}

void ck_dense_backward(ck_ctx *ctx, size_t M, size_t K, size_t N, const float *X, const float *W,
                       const float *dY, float *dX, float *dW, float *db, float *workspace) {
    dense_backward(ctx, M, K, N, X, W, dY, dX, dW, db, workspace, 1);
}

void ck_relu_backward(size_t count, const float *Y, const float *dY, float *dX) {
    for (size_t i = 0; i < count; i++) dX[i] = Y[i] > 0.0f ? dY[i] : 0.0f;
}

void ck_dropout_apply(size_t count, const float *in, const uint8_t *mask, float rate, float *out) {
    float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < count; i++) out[i] = mask[i] ? in[i] * scale : 0.0f;
}
