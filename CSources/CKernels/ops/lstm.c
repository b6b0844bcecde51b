/* LSTM drivers (Keras semantics): the input projection through the GEMM, the recurrence per
 * sequence through the table's cell, backpropagation through time, and the first layer of
 * the paper's network with batch normalisation fused into the input products.
 * x [b, t, f], kernel [f, 4u], recurrent [u, 4u], bias [4u], h and cells [b, t, u],
 * gates [b, t, 4u]. */
#include "ck_gemm_driver.h"
#include "ck_batchnorm.h"
#include <math.h>
#include <string.h>

size_t ck_lstm_workspace_size(const ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u) {
    size_t g4 = 4 * u, gemm = ck_dense_workspace_size(ctx, b * t, f, g4), du = ck_gemm_ex_workspace_size(ctx, b * t, g4);
    /* dz, the shifted outputs, U transposed, per-sequence scratch, then the GEMMs' packing */
    return b * t * g4 + b * t * u + g4 * u + b * 2 * u + (gemm > du ? gemm : du);
}

typedef struct {
    const ck_kernel_table *k;
    size_t t, u;
    const float *U, *gates_c, *c_c, *dh;
    float *gates, *h, *c, *dz, *scratch;
} lstm_job;

static void lstm_fwd_task(size_t n, int thread, void *arg) {
    lstm_job *j = arg;
    size_t t = j->t, u = j->u;
    j->k->lstm_fwd_seq(t, u, j->U, j->gates + n * t * 4 * u, j->h + n * t * u, j->c + n * t * u);
}

static void lstm_bwd_task(size_t n, int thread, void *arg) {
    lstm_job *j = arg;
    size_t t = j->t, u = j->u;
    j->k->lstm_bwd_seq(t, u, j->U, j->gates_c + n * t * 4 * u, j->c_c + n * t * u, j->dh + n * t * u,
                       j->dz + n * t * 4 * u, j->scratch + n * 2 * u);
}

void ck_lstm_recurrence(ck_ctx *ctx, size_t b, size_t t, size_t u, const float *recurrent, float *gates,
                        float *h, float *cells) {
    lstm_job j = {.k = ctx->k, .t = t, .u = u, .U = recurrent, .gates = gates, .h = h, .c = cells};
    ck_pool_run(ctx->pool, b, lstm_fwd_task, &j);   /* sequences are independent: one task each */
}

void ck_lstm_forward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                     const float *recurrent, const float *bias, float *h, float *gates, float *cells, float *workspace) {
    /* input projection for every step at once, then the recurrence per sequence */
    ck_dense_forward(ctx, b * t, f, 4 * u, x, kernel, bias, CK_ACT_NONE, gates, workspace);
    ck_lstm_recurrence(ctx, b, t, u, recurrent, gates, h, cells);
}

void ck_lstm_bptt(ck_ctx *ctx, size_t b, size_t t, size_t u, const float *recurrent, const float *h,
                  const float *gates, const float *cells, const float *dh, float *dz, float *drecurrent,
                  float *workspace) {
    size_t g4 = 4 * u;
    float *hprev = workspace, *ut = hprev + b * t * u, *scratch = ut + g4 * u, *gemm_ws = scratch + b * 2 * u;
    for (size_t k = 0; k < u; k++)
        for (size_t j = 0; j < g4; j++) ut[j * u + k] = recurrent[k * g4 + j];
    lstm_job job = {.k = ctx->k, .t = t, .u = u, .U = ut, .gates_c = gates, .c_c = cells, .dh = dh, .dz = dz,
                    .scratch = scratch};
    ck_pool_run(ctx->pool, b, lstm_bwd_task, &job);
    /* dU += sum over sequences and steps of h_{s-1}^T dz_s: one product over all rows, with
     * the outputs shifted by one step (zero before the first) */
    for (size_t n = 0; n < b; n++) {
        memset(hprev + n * t * u, 0, u * sizeof(float));
        if (t > 1) memcpy(hprev + (n * t + 1) * u, h + n * t * u, (t - 1) * u * sizeof(float));
    }
    ck_gemm_ex(ctx, 1, 0, u, g4, b * t, hprev, u, dz, g4, 1, drecurrent, g4, gemm_ws);
}

void ck_lstm_backward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                      const float *recurrent, const float *h, const float *gates, const float *cells,
                      const float *dh, float *dx, float *dkernel, float *drecurrent, float *dbias, float *workspace) {
    size_t g4 = 4 * u;
    float *dz = workspace, *rest = workspace + b * t * g4;
    ck_lstm_bptt(ctx, b, t, u, recurrent, h, gates, cells, dh, dz, drecurrent, rest);
    ck_dense_backward(ctx, b * t, f, g4, x, kernel, dz, dx, dkernel, dbias, rest + b * t * u + g4 * u + b * 2 * u);
}

/* ---- the first layer of the paper's network: batch normalisation fused into the LSTM ---- */

/* The first layer's input is read through a ck_ck_row_src (internal/ck_batchnorm.h): the
 * products pack it normalised, computing the values as they pack, so the normalised input
 * is never stored. */

/* op(A) = the normalised input [rows, f]: rows m0.., features k0.. */
static void pack_rows(const void *src, size_t m0, size_t m, size_t k0, size_t kc, int mr, float *Ap) {
    const ck_row_src *s = src;
    const float *p0 = s->p0 + k0, *p1 = s->p1 + k0;
    size_t mp = (m + (size_t)mr - 1) / (size_t)mr * (size_t)mr;
    for (size_t r = 0; r < mp; r++) {
        float *dst = Ap + (r / (size_t)mr) * kc * (size_t)mr + r % (size_t)mr;
        if (r >= m) { for (size_t k = 0; k < kc; k++) dst[k * (size_t)mr] = 0.0f; continue; }
        const float *x = ck_src_row(s, m0 + r) + k0;
        if (s->affine)
            for (size_t k = 0; k < kc; k++) dst[k * (size_t)mr] = x[k] * p0[k] + p1[k];
        else
            for (size_t k = 0; k < kc; k++) dst[k * (size_t)mr] = (x[k] - p0[k]) * p1[k];
    }
}

/* op(A) = the normalised input transposed [f, rows] (training): features m0.., rows k0..
 * Each row's features are normalised in one vectorisable pass, then dealt into the
 * MR-wide panels. */
static void pack_cols(const void *src, size_t m0, size_t m, size_t k0, size_t kc, int mr, float *Ap) {
    const ck_row_src *s = src;
    const float *mu = s->p0 + m0, *is = s->p1 + m0;
    float row[CK_MAX_MR * CK_MAX_MC_PANELS];
    size_t mp = (m + (size_t)mr - 1) / (size_t)mr * (size_t)mr;
    for (size_t i = m; i < mp; i++) row[i] = 0.0f;
    for (size_t k = 0; k < kc; k++) {
        const float *x = ck_src_row(s, k0 + k) + m0;
        for (size_t i = 0; i < m; i++) row[i] = (x[i] - mu[i]) * is[i];
        for (size_t p0 = 0; p0 < mp; p0 += (size_t)mr) memcpy(Ap + p0 * kc + k * (size_t)mr, row + p0, (size_t)mr * sizeof(float));
    }
}

size_t ck_bn_lstm_workspace_size(const ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u) {
    size_t g4 = 4 * u, pf = ck_packed_b_size(ctx, f, g4), pr = ck_packed_b_size(ctx, b * t, g4);
    /* forward: gamma W, its bias, packed; backward, after the BPTT's part: M, cs, dz packed */
    size_t main = ck_lstm_workspace_size(ctx, b, t, f, u) + f * g4 + g4 + (pf > pr ? pf : pr) + ck_gemm_workspace_size(ctx);
    /* the input statistics use the start of the workspace before anything else does */
    size_t stats = ck_bn_statistics_scratch(b * t, f);
    return main > stats ? main : stats;
}

/* BN(x) W + bias = xhat (gamma W) + (bias + beta W): the normalised input is projected
 * with folded weights, so gamma * xhat + beta is never written. */
void ck_bn_lstm_forward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *const *x, const float *gamma,
                        const float *beta, float eps, float momentum, float *moving_mean, float *moving_var,
                        const float *kernel, const float *recurrent, const float *bias, float *mean, float *inv_std,
                        float *h, float *gates, float *cells, float *workspace) {
    size_t g4 = 4 * u;
    float *wf = workspace, *bf = wf + f * g4, *bp = bf + g4, *gw = bp + ck_packed_b_size(ctx, f, g4);
    ck_row_src src = {NULL, x, t, f, mean, inv_std, 0};
    ck_bn_statistics(ctx, &src, b * t, eps, momentum, moving_mean, moving_var, mean, inv_std, workspace);
    for (size_t g = 0; g < g4; g++) bf[g] = bias[g];
    for (size_t q = 0; q < f; q++)
        for (size_t g = 0; g < g4; g++) {
            wf[q * g4 + g] = gamma[q] * kernel[q * g4 + g];
            bf[g] += beta[q] * kernel[q * g4 + g];
        }
    ck_pack_b(ctx, f, g4, wf, g4, bp);
    ck_gemm_custom_a(ctx, b * t, g4, f, pack_rows, &src, bp, bf, CK_ACT_NONE, 0, gates, g4, gw);
    ck_lstm_recurrence(ctx, b, t, u, recurrent, gates, h, cells);
}

/* With dz the gates' gradient and M = xhat^T dz, cs = column sums of dz:
 * dkernel = gamma M + beta cs, dgamma = sum_g kernel M, dbeta = sum_g kernel cs, dbias = cs.
 * No gradient for x (the input is data), so the f-wide dz W^T product is never formed. */
void ck_bn_lstm_backward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *const *x, const float *mean,
                         const float *inv_std, const float *gamma, const float *beta, const float *kernel,
                         const float *recurrent, const float *h, const float *gates, const float *cells, const float *dh,
                         float *dgamma, float *dbeta, float *dkernel, float *drecurrent, float *dbias, float *workspace) {
    size_t g4 = 4 * u, rows = b * t;
    float *dz = workspace, *rest = dz + rows * g4;
    float *mm = workspace + ck_lstm_workspace_size(ctx, b, t, f, u), *cs = mm + f * g4, *bp = cs + g4;
    float *gw = bp + ck_packed_b_size(ctx, rows, g4);
    ck_lstm_bptt(ctx, b, t, u, recurrent, h, gates, cells, dh, dz, drecurrent, rest);
    ck_pack_b(ctx, rows, g4, dz, g4, bp);
    ck_row_src src = {NULL, x, t, f, mean, inv_std, 0};
    ck_gemm_custom_a(ctx, f, g4, rows, pack_cols, &src, bp, NULL, CK_ACT_NONE, 0, mm, g4, gw);
    for (size_t g = 0; g < g4; g++) cs[g] = 0.0f;
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < g4; g++) cs[g] += dz[r * g4 + g];
    for (size_t q = 0; q < f; q++) {
        float sg = 0.0f, sb = 0.0f;
        for (size_t g = 0; g < g4; g++) {
            float k = kernel[q * g4 + g], m = mm[q * g4 + g];
            dkernel[q * g4 + g] += gamma[q] * m + beta[q] * cs[g];
            sg += k * m;
            sb += k * cs[g];
        }
        dgamma[q] += sg;
        dbeta[q] += sb;
    }
    for (size_t g = 0; g < g4; g++) dbias[g] += cs[g];
}

/* ---- inference: the input's batch normalisation (moving statistics) applied while packing ---- */

size_t ck_affine_lstm_workspace_size(const ck_ctx *ctx, size_t f, size_t u) {
    return ck_packed_b_size(ctx, f, 4 * u) + ck_gemm_workspace_size(ctx);
}

void ck_affine_lstm_forward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *scale,
                            const float *shift, const float *kernel, const float *recurrent, const float *bias, float *h,
                            float *gates, float *cells, float *workspace) {
    size_t g4 = 4 * u;
    float *bp = workspace, *gw = bp + ck_packed_b_size(ctx, f, g4);
    ck_pack_b(ctx, f, g4, kernel, g4, bp);
    ck_row_src src = {x, NULL, 1, f, scale, shift, 1};   /* the expression of ck_affine_channels: same bits */
    ck_gemm_custom_a(ctx, b * t, g4, f, pack_rows, &src, bp, bias, CK_ACT_NONE, 0, gates, g4, gw);
    ck_lstm_recurrence(ctx, b, t, u, recurrent, gates, h, cells);
}
