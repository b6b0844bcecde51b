/* Batch normalisation (training) and the LSTM layer with backpropagation through time,
 * Keras semantics. Scalar loops in fixed order: reproducible; SIMD comes later. */
#include "ck_internal.h"
#include <math.h>
#include <string.h>

/* Statistics are accumulated row by row (the memory order) in double, per channel, in
 * chunks of channels so the accumulators stay on the stack. */
#define BN_CHUNK 512

static void bn_stats(size_t rows, size_t c, size_t j0, size_t cn, const float *x, double *sum, double *sq) {
    for (size_t j = 0; j < cn; j++) sum[j] = 0.0;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cn; j++) sum[j] += x[r * c + j0 + j];
    for (size_t j = 0; j < cn; j++) { sum[j] /= (double)rows; sq[j] = 0.0; }
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cn; j++) { double d = x[r * c + j0 + j] - sum[j]; sq[j] += d * d; }
}

void ck_batchnorm_train(size_t rows, size_t c, const float *x, const float *gamma, const float *beta,
                        float eps, float momentum, float *moving_mean, float *moving_var, float *mean,
                        float *inv_std, float *y) {
    double sum[BN_CHUNK], sq[BN_CHUNK];
    for (size_t j0 = 0; j0 < c; j0 += BN_CHUNK) {
        size_t cn = c - j0 < BN_CHUNK ? c - j0 : BN_CHUNK;
        bn_stats(rows, c, j0, cn, x, sum, sq);
        for (size_t j = 0; j < cn; j++) {
            double m = sum[j], v = sq[j] / (double)rows;
            mean[j0 + j] = (float)m;
            inv_std[j0 + j] = (float)(1.0 / sqrt(v + eps));
            moving_mean[j0 + j] = momentum * moving_mean[j0 + j] + (1.0f - momentum) * (float)m;
            moving_var[j0 + j] = momentum * moving_var[j0 + j] + (1.0f - momentum) * (float)v;
        }
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            float xh = (x[r * c + j] - mean[j]) * inv_std[j];
            y[r * c + j] = (gamma ? gamma[j] : 1.0f) * xh + (beta ? beta[j] : 0.0f);
        }
}

void ck_batchnorm_backward(size_t rows, size_t c, const float *x, const float *gamma, const float *mean,
                           const float *inv_std, const float *dy, float *dx, float *dgamma, float *dbeta) {
    double sdy[BN_CHUNK], sdyx[BN_CHUNK], n = (double)rows;
    for (size_t j0 = 0; j0 < c; j0 += BN_CHUNK) {
        size_t cn = c - j0 < BN_CHUNK ? c - j0 : BN_CHUNK;
        for (size_t j = 0; j < cn; j++) { sdy[j] = 0.0; sdyx[j] = 0.0; }
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < cn; j++) {
                size_t q = r * c + j0 + j;
                double xh = (x[q] - mean[j0 + j]) * inv_std[j0 + j];
                sdy[j] += dy[q];
                sdyx[j] += dy[q] * xh;
            }
        for (size_t j = 0; j < cn; j++) {
            if (dgamma) dgamma[j0 + j] += (float)sdyx[j];
            if (dbeta) dbeta[j0 + j] += (float)sdy[j];
        }
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < cn; j++) {
                size_t q = r * c + j0 + j;
                double xh = (x[q] - mean[j0 + j]) * inv_std[j0 + j], g = gamma ? gamma[j0 + j] : 1.0;
                dx[q] = (float)(g * inv_std[j0 + j] / n * (n * dy[q] - sdy[j] - xh * sdyx[j]));
            }
    }
}

static inline float sigm(float z) { return 1.0f / (1.0f + expf(-z)); }

size_t ck_lstm_workspace_size(const ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u) {
    return b * t * 4 * u + ck_dense_workspace_size(ctx, b * t, f, 4 * u);
}

void ck_lstm_forward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                     const float *recurrent, const float *bias, float *h, float *gates, float *cells, float *workspace) {
    size_t g4 = 4 * u;
    /* input projection for every step at once: gates = x W (+ recurrence and bias per step) */
    ck_dense_forward(ctx, b * t, f, g4, x, kernel, NULL, CK_ACT_NONE, gates, workspace);
    for (size_t n = 0; n < b; n++)
        for (size_t s = 0; s < t; s++) {
            float *z = gates + (n * t + s) * g4;
            const float *hp = s ? h + (n * t + s - 1) * u : NULL;
            const float *cp = s ? cells + (n * t + s - 1) * u : NULL;
            if (hp)
                for (size_t k = 0; k < u; k++) {
                    const float *r = recurrent + k * g4;
                    for (size_t j = 0; j < g4; j++) z[j] += hp[k] * r[j];
                }
            for (size_t j = 0; j < g4; j++) z[j] += bias[j];
            float *c = cells + (n * t + s) * u, *ho = h + (n * t + s) * u;
            for (size_t k = 0; k < u; k++) {
                float i = sigm(z[k]), fg = sigm(z[u + k]), g = tanhf(z[2 * u + k]), o = sigm(z[3 * u + k]);
                z[k] = i; z[u + k] = fg; z[2 * u + k] = g; z[3 * u + k] = o;
                c[k] = fg * (cp ? cp[k] : 0.0f) + i * g;
                ho[k] = o * tanhf(c[k]);
            }
        }
}

void ck_lstm_backward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                      const float *recurrent, const float *h, const float *gates, const float *cells,
                      const float *dh, float *dx, float *dkernel, float *drecurrent, float *dbias, float *workspace) {
    size_t g4 = 4 * u;
    float *dz = workspace;                 /* [b, t, 4u] */
    float dhn[1024], dcn[1024];            /* carried h and c gradients, u <= 1024 */
    if (u > 1024) return;
    for (size_t n = 0; n < b; n++) {
        memset(dhn, 0, u * sizeof(float));
        memset(dcn, 0, u * sizeof(float));
        for (size_t s = t; s-- > 0;) {
            const float *gt = gates + (n * t + s) * g4, *c = cells + (n * t + s) * u;
            const float *cp = s ? cells + (n * t + s - 1) * u : NULL;
            float *d = dz + (n * t + s) * g4;
            for (size_t k = 0; k < u; k++) {
                float i = gt[k], fg = gt[u + k], g = gt[2 * u + k], o = gt[3 * u + k];
                float tc = tanhf(c[k]);
                float dhk = dh[(n * t + s) * u + k] + dhn[k];
                float dc = dhk * o * (1.0f - tc * tc) + dcn[k];
                d[k] = dc * g * i * (1.0f - i);
                d[u + k] = dc * (cp ? cp[k] : 0.0f) * fg * (1.0f - fg);
                d[2 * u + k] = dc * i * (1.0f - g * g);
                d[3 * u + k] = dhk * tc * o * (1.0f - o);
                dcn[k] = dc * fg;
            }
            /* dh_{s-1} = dz U^T; dU += h_{s-1}^T dz */
            const float *hp = s ? h + (n * t + s - 1) * u : NULL;
            for (size_t k = 0; k < u; k++) {
                const float *r = recurrent + k * g4;
                float acc = 0.0f;
                for (size_t j = 0; j < g4; j++) acc += d[j] * r[j];
                dhn[k] = acc;
                if (hp) {
                    float *dr = drecurrent + k * g4;
                    for (size_t j = 0; j < g4; j++) dr[j] += hp[k] * d[j];
                }
            }
        }
    }
    ck_dense_backward(ctx, b * t, f, g4, x, kernel, dz, dx, dkernel, dbias, workspace + b * t * g4);
}
