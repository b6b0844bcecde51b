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

/* Scratch: dz [b, t, 4u], the shifted h [b * t, u], the carried dh and dc [b, u] each, then
 * GEMM scratch for the largest product. */
static size_t gemm_scratch(const ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u) {
    size_t g4 = 4 * u, m = ck_dense_workspace_size(ctx, b * t, f, g4);
    size_t r1 = ck_gemm_ex_workspace_size(ctx, u, g4), r2 = ck_gemm_ex_workspace_size(ctx, g4, u),
           r3 = ck_gemm_ex_workspace_size(ctx, b * t, g4);
    if (r1 > m) m = r1;
    if (r2 > m) m = r2;
    if (r3 > m) m = r3;
    return m;
}

size_t ck_lstm_workspace_size(const ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u) {
    return b * t * 4 * u + b * t * u + 2 * b * u + gemm_scratch(ctx, b, t, f, u);
}

/* One step's gate activations, cell and output for every sequence (z holds x W + h U). */
static void lstm_cells(size_t b, size_t t, size_t s, size_t u, const float *bias, float *gates, float *cells, float *h) {
    size_t g4 = 4 * u;
    for (size_t n = 0; n < b; n++) {
        float *z = gates + (n * t + s) * g4;
        const float *cp = s ? cells + (n * t + s - 1) * u : NULL;
        float *c = cells + (n * t + s) * u, *ho = h + (n * t + s) * u;
        for (size_t j = 0; j < g4; j++) z[j] += bias[j];
        for (size_t k = 0; k < u; k++) {
            float i = sigm(z[k]), fg = sigm(z[u + k]), g = tanhf(z[2 * u + k]), o = sigm(z[3 * u + k]);
            z[k] = i; z[u + k] = fg; z[2 * u + k] = g; z[3 * u + k] = o;
            c[k] = fg * (cp ? cp[k] : 0.0f) + i * g;
            ho[k] = o * tanhf(c[k]);
        }
    }
}

void ck_lstm_forward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                     const float *recurrent, const float *bias, float *h, float *gates, float *cells, float *workspace) {
    size_t g4 = 4 * u;
    float *scratch = workspace + b * t * g4 + b * t * u + 2 * b * u;
    /* the input projection of every step at once, then per step the recurrence of all
     * sequences as one product: rows n of h_{s-1} (stride t u) times U into z_s (stride t 4u) */
    ck_dense_forward(ctx, b * t, f, g4, x, kernel, NULL, CK_ACT_NONE, gates, scratch);
    for (size_t s = 0; s < t; s++) {
        if (s) ck_gemm_ex(ctx, 0, 0, b, g4, u, h + (s - 1) * u, t * u, recurrent, g4, 1, gates + s * g4, t * g4, scratch);
        lstm_cells(b, t, s, u, bias, gates, cells, h);
    }
}

void ck_lstm_backward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                      const float *recurrent, const float *h, const float *gates, const float *cells,
                      const float *dh, float *dx, float *dkernel, float *drecurrent, float *dbias, float *workspace) {
    size_t g4 = 4 * u;
    float *dz = workspace;                        /* [b, t, 4u] */
    float *hprev = dz + b * t * g4;               /* [b * t, u]: h_{s-1}, zero at s = 0 */
    float *dhn = hprev + b * t * u, *dcn = dhn + b * u;
    float *scratch = dcn + b * u;
    memset(dhn, 0, 2 * b * u * sizeof(float));
    for (size_t s = t; s-- > 0;) {
        for (size_t n = 0; n < b; n++) {
            const float *gt = gates + (n * t + s) * g4, *c = cells + (n * t + s) * u;
            const float *cp = s ? cells + (n * t + s - 1) * u : NULL;
            float *d = dz + (n * t + s) * g4, *dhc = dhn + n * u, *dcc = dcn + n * u;
            for (size_t k = 0; k < u; k++) {
                float i = gt[k], fg = gt[u + k], g = gt[2 * u + k], o = gt[3 * u + k];
                float tc = tanhf(c[k]);
                float dhk = dh[(n * t + s) * u + k] + dhc[k];
                float dc = dhk * o * (1.0f - tc * tc) + dcc[k];
                d[k] = dc * g * i * (1.0f - i);
                d[u + k] = dc * (cp ? cp[k] : 0.0f) * fg * (1.0f - fg);
                d[2 * u + k] = dc * i * (1.0f - g * g);
                d[3 * u + k] = dhk * tc * o * (1.0f - o);
                dcc[k] = dc * fg;
            }
        }
        /* dh_{s-1} = dz_s U^T for every sequence at once */
        if (s) ck_gemm_ex(ctx, 0, 1, b, u, g4, dz + s * g4, t * g4, recurrent, g4, 0, dhn, u, scratch);
    }
    /* dU += sum over all steps of h_{s-1}^T dz_s: one product over b * t rows */
    for (size_t n = 0; n < b; n++) {
        memset(hprev + n * t * u, 0, u * sizeof(float));
        if (t > 1) memcpy(hprev + (n * t + 1) * u, h + n * t * u, (t - 1) * u * sizeof(float));
    }
    ck_gemm_ex(ctx, 1, 0, u, g4, b * t, hprev, u, dz, g4, 1, drecurrent, g4, scratch);
    ck_dense_backward(ctx, b * t, f, g4, x, kernel, dz, dx, dkernel, dbias, scratch);
}
