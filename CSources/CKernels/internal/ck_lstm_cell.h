/* The LSTM recurrence of one sequence, forward and backward (Keras gate order i, f, g, o).
 * Included once per ISA file with CK_LSTM_SUFFIX set, under that file's target attribute,
 * and once plainly for the scalar table. The loops are element-wise over gates or units,
 * every reduction keeps its order, and there is no FMA (-ffp-contract=off), so the
 * compiler's vectorisation gives the same bits on every ISA (checked by the kernel check).
 * exp is a branch-free polynomial (below) so that it vectorises; sigmoid and tanh build on
 * it. */
#ifndef CK_LSTM_SUFFIX
#error "define CK_LSTM_SUFFIX before including ck_lstm_cell.h"
#endif
#include <stdint.h>
#include <string.h>
#include <math.h>

#define CK_LSTM_CAT2(a, b) a##_##b
#define CK_LSTM_CAT(a, b) CK_LSTM_CAT2(a, b)
#define CK_LSTM_FN(name) CK_LSTM_CAT(name, CK_LSTM_SUFFIX)

/* exp(x) for x in [-86, 88]: x = k ln2 + r with |r| <= ln2/2 (ln2 split in two parts so
 * k ln2 is exact), a degree-6 polynomial for exp(r), then 2^k through the exponent bits.
 * Within 2 ulp of the true value; inputs outside the range are clamped (sigmoid and tanh
 * only need the clamped values). */
static inline float CK_LSTM_FN(ck_exp)(float x) {
    x = x < -86.0f ? -86.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round to nearest through the float mantissa: 1.5 * 2^23 */
    float kf = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t bits;
    memcpy(&bits, &p, sizeof bits);
    bits += (int32_t)kf * (1 << 23);
    memcpy(&p, &bits, sizeof p);
    return p;
}

static inline float CK_LSTM_FN(ck_sigmoid)(float x) { return 1.0f / (1.0f + CK_LSTM_FN(ck_exp)(-x)); }

/* tanh through e = exp(-2|x|): (1 - e) / (1 + e) with x's sign. Absolute error ~1e-7. */
static inline float CK_LSTM_FN(ck_tanh)(float x) {
    float e = CK_LSTM_FN(ck_exp)(-2.0f * fabsf(x));
    return copysignf((1.0f - e) / (1.0f + e), x);
}

/* gates [t, 4u]: x W + b on entry, the activations i, f, g, o on return; h, c [t, u]. */
void CK_LSTM_FN(ck_lstm_fwd_seq)(size_t t, size_t u, const float *U, float *gates, float *h, float *c) {
    size_t g4 = 4 * u;
    for (size_t s = 0; s < t; s++) {
        float *z = gates + s * g4;
        if (s > 0) {
            const float *hp = h + (s - 1) * u;
            for (size_t k = 0; k < u; k++) {
                const float hk = hp[k], *r = U + k * g4;
                for (size_t j = 0; j < g4; j++) z[j] += hk * r[j];
            }
        }
        for (size_t j = 0; j < 2 * u; j++) z[j] = CK_LSTM_FN(ck_sigmoid)(z[j]);
        for (size_t j = 2 * u; j < 3 * u; j++) z[j] = CK_LSTM_FN(ck_tanh)(z[j]);
        for (size_t j = 3 * u; j < g4; j++) z[j] = CK_LSTM_FN(ck_sigmoid)(z[j]);
        float *cs = c + s * u, *hs = h + s * u;
        const float *cp = s ? c + (s - 1) * u : NULL;
        for (size_t k = 0; k < u; k++) {
            float prev = cp ? cp[k] : 0.0f;
            cs[k] = z[u + k] * prev + z[k] * z[2 * u + k];
            hs[k] = z[3 * u + k] * CK_LSTM_FN(ck_tanh)(cs[k]);
        }
    }
}

/* Backpropagation through time of one sequence: dh [t, u] (the loss's gradient on the
 * outputs) -> dz [t, 4u] (on the gate pre-activations). UT is the recurrent kernel
 * transposed [4u, u]; scratch holds 2u floats. */
void CK_LSTM_FN(ck_lstm_bwd_seq)(size_t t, size_t u, const float *UT, const float *gates, const float *c,
                                 const float *dh, float *dz, float *scratch) {
    size_t g4 = 4 * u;
    float *dhn = scratch, *dcn = scratch + u;
    for (size_t k = 0; k < 2 * u; k++) scratch[k] = 0.0f;
    for (size_t s = t; s-- > 0;) {
        const float *gt = gates + s * g4, *cs = c + s * u, *dhs = dh + s * u;
        const float *cp = s ? c + (s - 1) * u : NULL;
        float *d = dz + s * g4;
        for (size_t k = 0; k < u; k++) {
            float i = gt[k], fg = gt[u + k], g = gt[2 * u + k], o = gt[3 * u + k];
            float tc = CK_LSTM_FN(ck_tanh)(cs[k]);
            float dhk = dhs[k] + dhn[k];
            float dc = dhk * o * (1.0f - tc * tc) + dcn[k];
            d[k] = dc * g * i * (1.0f - i);
            d[u + k] = dc * (cp ? cp[k] : 0.0f) * fg * (1.0f - fg);
            d[2 * u + k] = dc * i * (1.0f - g * g);
            d[3 * u + k] = dhk * tc * o * (1.0f - o);
            dcn[k] = dc * fg;
        }
        /* dh_{s-1} = U dz_s, summed over gates in order */
        for (size_t k = 0; k < u; k++) dhn[k] = 0.0f;
        for (size_t j = 0; j < g4; j++) {
            const float dj = d[j], *r = UT + j * u;
            for (size_t k = 0; k < u; k++) dhn[k] += dj * r[k];
        }
    }
}

#undef CK_LSTM_FN
#undef CK_LSTM_CAT
#undef CK_LSTM_CAT2
