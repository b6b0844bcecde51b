/* Reference LSTM, one plain loop per formula (Keras: gate order i, f, g, o along 4u;
 * h0 = c0 = 0; libm expf and tanhf). Independent of internal/ck_lstm_cell.h, which the
 * kernels use. x [b, t, f], kernel [f, 4u], recurrent [u, 4u], bias [4u];
 * h, cells [b, t, u]; gates [b, t, 4u]. */
#include "ck_kernels.h"
#include <math.h>

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

void ck_lstm_forward_ref(size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                         const float *recurrent, const float *bias, float *h, float *gates, float *cells) {
    size_t g4 = 4 * u;
    for (size_t n = 0; n < b; n++)
        for (size_t s = 0; s < t; s++) {
            size_t row = n * t + s;
            const float *xs = x + row * f;
            const float *hp = s > 0 ? h + (row - 1) * u : NULL, *cp = s > 0 ? cells + (row - 1) * u : NULL;
            float *z = gates + row * g4, *hs = h + row * u, *cs = cells + row * u;
            /* z = x_s W + h_{s-1} U + bias */
            for (size_t j = 0; j < g4; j++) {
                float acc = bias[j];
                for (size_t q = 0; q < f; q++) acc += xs[q] * kernel[q * g4 + j];
                if (hp)
                    for (size_t k = 0; k < u; k++) acc += hp[k] * recurrent[k * g4 + j];
                z[j] = acc;
            }
            for (size_t k = 0; k < u; k++) {
                float i = sigmoid(z[k]), fg = sigmoid(z[u + k]), g = tanhf(z[2 * u + k]), o = sigmoid(z[3 * u + k]);
                z[k] = i;
                z[u + k] = fg;
                z[2 * u + k] = g;
                z[3 * u + k] = o;
                cs[k] = fg * (cp ? cp[k] : 0.0f) + i * g;
                hs[k] = o * tanhf(cs[k]);
            }
        }
}

void ck_lstm_backward_ref(size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                          const float *recurrent, const float *h, const float *gates, const float *cells,
                          const float *dh, float *dz, float *dx, float *dkernel, float *drecurrent, float *dbias,
                          float *scratch) {
    size_t g4 = 4 * u, rows = b * t;
    float *dh_next = scratch, *dc_next = scratch + u;   /* from step s + 1 */
    for (size_t n = 0; n < b; n++) {
        for (size_t k = 0; k < 2 * u; k++) scratch[k] = 0.0f;
        for (size_t s = t; s-- > 0;) {
            size_t row = n * t + s;
            const float *gt = gates + row * g4, *cs = cells + row * u, *dhs = dh + row * u;
            const float *cp = s > 0 ? cells + (row - 1) * u : NULL;
            float *d = dz + row * g4;
            for (size_t k = 0; k < u; k++) {
                float i = gt[k], fg = gt[u + k], g = gt[2 * u + k], o = gt[3 * u + k];
                float tc = tanhf(cs[k]);
                float dhk = dhs[k] + dh_next[k];
                float dc = dhk * o * (1.0f - tc * tc) + dc_next[k];
                d[k] = dc * g * i * (1.0f - i);                            /* input gate */
                d[u + k] = dc * (cp ? cp[k] : 0.0f) * fg * (1.0f - fg);    /* forget gate */
                d[2 * u + k] = dc * i * (1.0f - g * g);                    /* candidate */
                d[3 * u + k] = dhk * tc * o * (1.0f - o);                  /* output gate */
                dc_next[k] = dc * fg;
            }
            /* dh_{s-1} = dz_s U^T */
            for (size_t k = 0; k < u; k++) {
                float acc = 0.0f;
                for (size_t j = 0; j < g4; j++) acc += d[j] * recurrent[k * g4 + j];
                dh_next[k] = acc;
            }
        }
    }
    for (size_t j = 0; j < g4; j++) {
        float acc = 0.0f;
        for (size_t r = 0; r < rows; r++) acc += dz[r * g4 + j];
        dbias[j] += acc;
    }
    for (size_t q = 0; q < f; q++)
        for (size_t j = 0; j < g4; j++) {
            float acc = 0.0f;
            for (size_t r = 0; r < rows; r++) acc += x[r * f + q] * dz[r * g4 + j];
            dkernel[q * g4 + j] += acc;
        }
    for (size_t k = 0; k < u; k++)
        for (size_t j = 0; j < g4; j++) {
            float acc = 0.0f;
            for (size_t n = 0; n < b; n++)
                for (size_t s = 1; s < t; s++) acc += h[(n * t + s - 1) * u + k] * dz[(n * t + s) * g4 + j];
            drecurrent[k * g4 + j] += acc;
        }
    if (dx)
        for (size_t r = 0; r < rows; r++)
            for (size_t q = 0; q < f; q++) {
                float acc = 0.0f;
                for (size_t j = 0; j < g4; j++) acc += dz[r * g4 + j] * kernel[q * g4 + j];
                dx[r * f + q] = acc;
            }
}
