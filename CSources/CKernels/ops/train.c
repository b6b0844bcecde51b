/* Training kernels: dense forward/backward on unpacked weights, ReLU and dropout
 * backward, softmax cross-entropy, Adadelta. Work is split over fixed row blocks, so results
 * do not depend on the thread count. */
#include "ck_internal.h"
#include <math.h>
#include <string.h>

typedef struct {
    size_t M, K, N;
    const float *X, *W, *b, *dY;
    float *Y, *dX, *dW, *db;
    ck_activation act;
} dense_job;

#define ROWS 16

/* Y rows [r0, r1): each element accumulated over k in order (vectorised over n). */
static void dense_fwd_task(size_t t, int thread, void *arg) {
    const dense_job *j = arg;
    size_t r0 = t * ROWS, r1 = ck_min(j->M, r0 + ROWS);
    for (size_t i = r0; i < r1; i++) {
        float *y = j->Y + i * j->N;
        for (size_t n = 0; n < j->N; n++) y[n] = 0.0f;
        for (size_t k = 0; k < j->K; k++) {
            float x = j->X[i * j->K + k];
            const float *w = j->W + k * j->N;
            for (size_t n = 0; n < j->N; n++) y[n] += x * w[n];
        }
        for (size_t n = 0; n < j->N; n++) {
            float v = j->b ? y[n] + j->b[n] : y[n];
            y[n] = (j->act == CK_ACT_RELU && !(v > 0.0f)) ? 0.0f : v;
        }
    }
}

void ck_dense_forward(ck_ctx *ctx, size_t M, size_t K, size_t N, const float *X, const float *W,
                      const float *b, ck_activation act, float *Y) {
    dense_job j = {.M = M, .K = K, .N = N, .X = X, .W = W, .b = b, .Y = Y, .act = act};
    ck_pool_run(ctx->pool, (M + ROWS - 1) / ROWS, dense_fwd_task, &j);
}

/* dX rows: dX[i, k] = sum_n dY[i, n] W[k, n] (n in order). */
static void dense_dx_task(size_t t, int thread, void *arg) {
    const dense_job *j = arg;
    size_t r0 = t * ROWS, r1 = ck_min(j->M, r0 + ROWS);
    for (size_t i = r0; i < r1; i++)
        for (size_t k = 0; k < j->K; k++) {
            const float *w = j->W + k * j->N, *dy = j->dY + i * j->N;
            float acc = 0.0f;
            for (size_t n = 0; n < j->N; n++) acc += dy[n] * w[n];
            j->dX[i * j->K + k] = acc;
        }
}

/* dW rows [k0, k1): dW[k, :] += sum_i X[i, k] dY[i, :] (i in order). */
static void dense_dw_task(size_t t, int thread, void *arg) {
    const dense_job *j = arg;
    size_t k0 = t * ROWS, k1 = ck_min(j->K, k0 + ROWS);
    for (size_t k = k0; k < k1; k++) {
        float *dw = j->dW + k * j->N;
        for (size_t i = 0; i < j->M; i++) {
            float x = j->X[i * j->K + k];
            const float *dy = j->dY + i * j->N;
            for (size_t n = 0; n < j->N; n++) dw[n] += x * dy[n];
        }
    }
}

void ck_dense_backward(ck_ctx *ctx, size_t M, size_t K, size_t N, const float *X, const float *W,
                       const float *dY, float *dX, float *dW, float *db) {
    dense_job j = {.M = M, .K = K, .N = N, .X = X, .W = W, .dY = dY, .dX = dX, .dW = dW, .db = db};
    if (dX) ck_pool_run(ctx->pool, (M + ROWS - 1) / ROWS, dense_dx_task, &j);
    if (dW) ck_pool_run(ctx->pool, (K + ROWS - 1) / ROWS, dense_dw_task, &j);
    if (db)
        for (size_t i = 0; i < M; i++)
            for (size_t n = 0; n < N; n++) db[n] += dY[i * N + n];
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

void ck_adadelta(size_t n, float *w, const float *g, float *Eg, float *Ed, float lr, float rho, float eps) {
    for (size_t i = 0; i < n; i++) {
        float eg = rho * Eg[i] + (1.0f - rho) * g[i] * g[i];
        float d = -sqrtf(Ed[i] + eps) / sqrtf(eg + eps) * g[i];
        Ed[i] = rho * Ed[i] + (1.0f - rho) * d * d;
        Eg[i] = eg;
        w[i] += lr * d;
    }
}
