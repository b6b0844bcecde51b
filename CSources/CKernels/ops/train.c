/* Training kernels: dense forward/backward on unpacked weights, ReLU and dropout
 * backward, softmax cross-entropy, Adadelta. Work is split over fixed row blocks, so results
 * do not depend on the thread count. */
#include "ck_internal.h"
#include <math.h>
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

void ck_dense_backward_set(ck_ctx *ctx, size_t M, size_t K, size_t N, const float *X, const float *W,
                           const float *dY, float *dX, float *dW, float *db, float *workspace) {
    dense_backward(ctx, M, K, N, X, W, dY, dX, dW, db, workspace, 0);
}

void ck_relu_backward(size_t count, const float *Y, const float *dY, float *dX) {
    for (size_t i = 0; i < count; i++) dX[i] = Y[i] > 0.0f ? dY[i] : 0.0f;
}

void ck_dropout_apply(size_t count, const float *in, const uint8_t *mask, float rate, float *out) {
    float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < count; i++) out[i] = mask[i] ? in[i] * scale : 0.0f;
}

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

typedef struct {
    const ck_kernel_table *k;
    size_t n;
    float *w, *Eg, *Ed;
    const float *g;
    float lr, rho, eps;
} adadelta_job;

#define ADADELTA_CHUNK 16384

static void adadelta_task(size_t task, int thread, void *arg) {
    adadelta_job *j = arg;
    size_t i = task * ADADELTA_CHUNK, n = j->n - i < ADADELTA_CHUNK ? j->n - i : ADADELTA_CHUNK;
    j->k->adadelta(n, j->w + i, j->g + i, j->Eg + i, j->Ed + i, j->lr, j->rho, j->eps);
}

void ck_adadelta(ck_ctx *ctx, size_t n, float *w, const float *g, float *Eg, float *Ed, float lr, float rho, float eps) {
    adadelta_job j = {ctx->k, n, w, Eg, Ed, g, lr, rho, eps};
    if (n <= ADADELTA_CHUNK) { adadelta_task(0, 0, &j); return; }
    ck_pool_run(ctx->pool, (n + ADADELTA_CHUNK - 1) / ADADELTA_CHUNK, adadelta_task, &j);
}
