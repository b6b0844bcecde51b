/* Batch normalisation: training forward and backward over [rows, c] (rows = batch, and time
 * for sequences), the inference fold, and the statistics of the fused BN + LSTM input. */
#include "ck_batchnorm.h"
#include <math.h>
#include <stdint.h>

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

void ck_batchnorm_fold(size_t c, const float *gamma, const float *beta, const float *mean,
                       const float *var, float eps, float *scale, float *shift) {
    for (size_t i = 0; i < c; i++) {
        float s = (gamma ? gamma[i] : 1.0f) / sqrtf(var[i] + eps);
        scale[i] = s;
        shift[i] = (beta ? beta[i] : 0.0f) - mean[i] * s;
    }
}

/* Statistics of the fused layer's input in one streaming pass: fixed blocks of rows
 * (independent of the thread count) sum x and x^2 per column in double; the blocks' sums
 * are added in block order. */
#define BN_ROWS 128

typedef struct {
    const ck_row_src *s;
    size_t rows;
    double *partial;   /* [blocks][2][f] */
} bn_job;

static size_t bn_blocks(size_t rows) { return (rows + BN_ROWS - 1) / BN_ROWS; }

size_t ck_bn_statistics_scratch(size_t rows, size_t f) {
    return bn_blocks(rows) * 2 * f * (sizeof(double) / sizeof(float)) + 1;
}

static void bn_sum_task(size_t blk, int thread, void *arg) {
    bn_job *j = arg;
    size_t r0 = blk * BN_ROWS, r1 = r0 + BN_ROWS < j->rows ? r0 + BN_ROWS : j->rows, c = j->s->f;
    double *s = j->partial + blk * 2 * c, *q = s + c;
    for (size_t k = 0; k < 2 * c; k++) s[k] = 0.0;
    for (size_t r = r0; r < r1; r++) {
        const float *xr = ck_src_row(j->s, r);
        for (size_t k = 0; k < c; k++) {
            double v = xr[k];
            s[k] += v;
            q[k] += v * v;
        }
    }
}

void ck_bn_statistics(ck_ctx *ctx, const ck_row_src *src, size_t rows, float eps, float momentum,
                      float *moving_mean, float *moving_var, float *mean, float *inv_std, float *scratch) {
    size_t blocks = bn_blocks(rows), c = src->f;
    /* the caller's float workspace may be only 4-byte aligned */
    double *partial = (double *)(void *)(((uintptr_t)scratch + sizeof(double) - 1) & ~(uintptr_t)(sizeof(double) - 1));
    bn_job j = {src, rows, partial};
    ck_pool_run(ctx->pool, blocks, bn_sum_task, &j);
    for (size_t k = 0; k < c; k++) {
        double s = 0.0, q = 0.0;
        for (size_t b = 0; b < blocks; b++) { s += partial[b * 2 * c + k]; q += partial[b * 2 * c + c + k]; }
        double m = s / (double)rows, v = q / (double)rows - m * m;
        if (v < 0.0) v = 0.0;
        mean[k] = (float)m;
        inv_std[k] = (float)(1.0 / sqrt(v + eps));
        moving_mean[k] = momentum * moving_mean[k] + (1.0f - momentum) * (float)m;
        moving_var[k] = momentum * moving_var[k] + (1.0f - momentum) * (float)v;
    }
}
