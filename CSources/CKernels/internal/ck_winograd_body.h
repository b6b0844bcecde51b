/* Winograd tile transforms, written once and compiled per ISA: each file that includes this
 * defines CK_WINO_SUFFIX (and a target attribute) first. Every loop runs over channels with
 * one fixed sequence of adds and constant multiplies per element and no FMA contraction
 * (-ffp-contract=off), so each ISA's vectorised code gives the scalar table's bits.
 *
 * Input: px[r * a + c] points at the cin channels of tile pixel (r, c) (a = 4, 6 or 8);
 * writes V = B^T d B into planes v + xi * xs, xi = r * a + c.
 * Output: m + xi * xs holds the GEMM result for position xi; writes Y = A^T M A (+ bias,
 * activation) to o[r * t + c] for the rows x cols of the t x t tile inside the image. */
#include "ck_internal.h"

#define CK_WINO_CAT2(a, b) a##_##b
#define CK_WINO_CAT(a, b) CK_WINO_CAT2(a, b)
#define CK_WINO_FN(name) CK_WINO_CAT(name, CK_WINO_SUFFIX)

#define CK_WINO_CH 64   /* channels per step of the output transforms' stack buffers */

/* F(2x2, 3x3): B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]. Each index is read before it
 * is written, so o may alias a. */
static inline __attribute__((always_inline)) void
CK_WINO_FN(bt4)(const float *a0, const float *a1, const float *a2, const float *a3, float *o0, float *o1, float *o2,
                float *o3, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x0 = a0[i], x1 = a1[i], x2 = a2[i], x3 = a3[i];
        o0[i] = x0 - x2;
        o1[i] = x1 + x2;
        o2[i] = x2 - x1;
        o3[i] = x1 - x3;
    }
}

/* The input transforms run per chunk of CK_WINO_CH channels: down each column into a stack
 * buffer, then along each row into v. A pass in place (its inputs and outputs the same arrays)
 * failed the compiler's overlap checks and ran scalar (F(6x6)'s input transform: 41% of a
 * 224 x 224 x 64 layer). The arithmetic per element is the same either way. */
void CK_WINO_FN(ck_wino_in4)(const float *const *px, float *v, size_t xs, size_t n) {
    for (size_t c0 = 0; c0 < n; c0 += CK_WINO_CH) {
        size_t cn = n - c0 < CK_WINO_CH ? n - c0 : CK_WINO_CH;
        float t[4][4][CK_WINO_CH];
        for (int c = 0; c < 4; c++)
            CK_WINO_FN(bt4)(px[c] + c0, px[4 + c] + c0, px[8 + c] + c0, px[12 + c] + c0, t[0][c], t[1][c], t[2][c],
                            t[3][c], cn);
        for (int r = 0; r < 4; r++) {
            float *q = v + (size_t)(r * 4) * xs + c0;
            CK_WINO_FN(bt4)(t[r][0], t[r][1], t[r][2], t[r][3], q, q + xs, q + 2 * xs, q + 3 * xs, cn);
        }
    }
}

/* F(4x4, 3x3), interpolation points 0, 1, -1, 2, -2 (and infinity):
 * B^T = [[4,0,-5,0,1,0],[0,-4,-4,1,1,0],[0,4,-4,-1,1,0],[0,-2,-1,2,1,0],[0,2,-1,-2,1,0],
 *        [0,4,0,-5,0,1]]. */
static inline __attribute__((always_inline)) void
CK_WINO_FN(bt6)(const float *a0, const float *a1, const float *a2, const float *a3, const float *a4,
                const float *a5, float *o0, float *o1, float *o2, float *o3, float *o4, float *o5, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float d0 = a0[i], d1 = a1[i], d2 = a2[i], d3 = a3[i], d4 = a4[i], d5 = a5[i];
        float p = d4 - 4.0f * d2, q = d3 - 4.0f * d1;   /* shared by rows 1 and 2 */
        float s = d4 - d2, t = 2.0f * (d3 - d1);        /* shared by rows 3 and 4 */
        o0[i] = (4.0f * d0 - 5.0f * d2) + d4;
        o1[i] = p + q;
        o2[i] = p - q;
        o3[i] = s + t;
        o4[i] = s - t;
        o5[i] = (4.0f * d1 - 5.0f * d3) + d5;
    }
}

void CK_WINO_FN(ck_wino_in6)(const float *const *px, float *v, size_t xs, size_t n) {
    for (size_t c0 = 0; c0 < n; c0 += CK_WINO_CH) {
        size_t cn = n - c0 < CK_WINO_CH ? n - c0 : CK_WINO_CH;
        float t[6][6][CK_WINO_CH];
        for (int c = 0; c < 6; c++)
            CK_WINO_FN(bt6)(px[c] + c0, px[6 + c] + c0, px[12 + c] + c0, px[18 + c] + c0, px[24 + c] + c0,
                            px[30 + c] + c0, t[0][c], t[1][c], t[2][c], t[3][c], t[4][c], t[5][c], cn);
        for (int r = 0; r < 6; r++) {
            float *q = v + (size_t)(r * 6) * xs + c0;
            CK_WINO_FN(bt6)(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5], q, q + xs, q + 2 * xs, q + 3 * xs,
                            q + 4 * xs, q + 5 * xs, cn);
        }
    }
}

/* F(6x6, 3x3), interpolation points 0, 1, -1, 1/2, -1/2, 2, -2 (and infinity):
 * B^T = [[1,0,-21/4,0,21/4,0,-1,0],[0,1,1,-17/4,-17/4,1,1,0],[0,-1,1,17/4,-17/4,-1,1,0],
 *        [0,1/2,1/4,-5/2,-5/4,2,1,0],[0,-1/2,1/4,5/2,-5/4,-2,1,0],[0,2,4,-5/2,-5,1/2,1,0],
 *        [0,-2,4,5/2,-5,-1/2,1,0],[0,-1,0,21/4,0,-21/4,0,1]]; the pairs of rows share their
 * even and odd halves. */
static inline __attribute__((always_inline)) void
CK_WINO_FN(bt8)(const float *const *a, float *const *o, size_t n) {
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7];
    float *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3], *o4 = o[4], *o5 = o[5], *o6 = o[6], *o7 = o[7];
    for (size_t i = 0; i < n; i++) {
        float d0 = a0[i], d1 = a1[i], d2 = a2[i], d3 = a3[i], d4 = a4[i], d5 = a5[i], d6 = a6[i], d7 = a7[i];
        float e1 = (d2 + d6) - 4.25f * d4, f1 = (d1 + d5) - 4.25f * d3;
        float e3 = (d6 + 0.25f * d2) - 1.25f * d4, f3 = (0.5f * d1 - 2.5f * d3) + 2.0f * d5;
        float e5 = d6 + 4.0f * (d2 - 1.25f * d4), f5 = (2.0f * d1 - 2.5f * d3) + 0.5f * d5;
        o0[i] = (d0 - d6) + 5.25f * (d4 - d2);
        o1[i] = e1 + f1;
        o2[i] = e1 - f1;
        o3[i] = e3 + f3;
        o4[i] = e3 - f3;
        o5[i] = e5 + f5;
        o6[i] = e5 - f5;
        o7[i] = (d7 - d1) + 5.25f * (d3 - d5);
    }
}

void CK_WINO_FN(ck_wino_in8)(const float *const *px, float *v, size_t xs, size_t n) {
    for (size_t c0 = 0; c0 < n; c0 += CK_WINO_CH) {
        size_t cn = n - c0 < CK_WINO_CH ? n - c0 : CK_WINO_CH;
        float t[8][8][CK_WINO_CH];
        const float *a[8];
        float *o[8];
        for (int c = 0; c < 8; c++) {
            for (int r = 0; r < 8; r++) {
                a[r] = px[r * 8 + c] + c0;
                o[r] = t[r][c];
            }
            CK_WINO_FN(bt8)(a, o, cn);
        }
        for (int r = 0; r < 8; r++) {
            for (int c = 0; c < 8; c++) {
                a[c] = t[r][c];
                o[c] = v + (size_t)(r * 8 + c) * xs + c0;
            }
            CK_WINO_FN(bt8)(a, o, cn);
        }
    }
}

static inline __attribute__((always_inline)) float CK_WINO_FN(act)(float y, ck_activation act) {
    return act == CK_ACT_RELU ? (y > 0.0f ? y : 0.0f) : y;
}

/* F(2x2, 3x3): A^T = [[1,1,1,0],[0,1,-1,-1]]. */
void CK_WINO_FN(ck_wino_out2)(const float *m, size_t xs, float *const *o, int rows, int cols, const float *bias,
                              ck_activation act, size_t n) {
    for (size_t c0 = 0; c0 < n; c0 += CK_WINO_CH) {
        size_t cn = n - c0 < CK_WINO_CH ? n - c0 : CK_WINO_CH;
        float s[2][4][CK_WINO_CH];
        for (int c = 0; c < 4; c++) {
            const float *a0 = m + (size_t)c * xs + c0, *a1 = a0 + 4 * xs, *a2 = a1 + 4 * xs, *a3 = a2 + 4 * xs;
            for (size_t i = 0; i < cn; i++) {
                s[0][c][i] = a0[i] + a1[i] + a2[i];
                s[1][c][i] = a1[i] - a2[i] - a3[i];
            }
        }
        for (int r = 0; r < rows; r++) {
            float *y0 = o[r * 2] + c0, *y1 = cols == 2 ? o[r * 2 + 1] + c0 : NULL;
            const float *t0 = s[r][0], *t1 = s[r][1], *t2 = s[r][2], *t3 = s[r][3];
            for (size_t i = 0; i < cn; i++) {
                float b = bias ? bias[c0 + i] : 0.0f;
                float v0 = t0[i] + t1[i] + t2[i], v1 = t1[i] - t2[i] - t3[i];
                if (bias) { v0 += b; v1 += b; }
                y0[i] = CK_WINO_FN(act)(v0, act);
                if (y1) y1[i] = CK_WINO_FN(act)(v1, act);
            }
        }
    }
}

/* The cols pixels of one output row, y[c] (CK_WINO_CH apart) into o[c] + c0, with bias and act. */
static inline __attribute__((always_inline)) void
CK_WINO_FN(store_row)(const float *y, int cols, float *const *o, size_t c0, size_t cn, const float *bias,
                      ck_activation act) {
    for (int c = 0; c < cols; c++) {
        float *dst = o[c] + c0;
        for (size_t i = 0; i < cn; i++) {
            float v = y[(size_t)c * CK_WINO_CH + i];
            if (bias) v += bias[c0 + i];
            dst[i] = CK_WINO_FN(act)(v, act);
        }
    }
}

/* F(4x4, 3x3): A^T = [[1,1,1,1,1,0],[0,1,-1,2,-2,0],[0,1,1,4,4,0],[0,1,-1,8,-8,1]]. */
static inline __attribute__((always_inline)) void
CK_WINO_FN(at6)(const float *a0, const float *a1, const float *a2, const float *a3, const float *a4,
                const float *a5, float *y0, float *y1, float *y2, float *y3, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float p = a1[i] + a2[i], q = a1[i] - a2[i], u = a3[i] + a4[i], w = a3[i] - a4[i];
        y0[i] = (a0[i] + p) + u;
        y1[i] = q + 2.0f * w;
        y2[i] = p + 4.0f * u;
        y3[i] = (q + 8.0f * w) + a5[i];
    }
}

void CK_WINO_FN(ck_wino_out4)(const float *m, size_t xs, float *const *o, int rows, int cols, const float *bias,
                              ck_activation act, size_t n) {
    for (size_t c0 = 0; c0 < n; c0 += CK_WINO_CH) {
        size_t cn = n - c0 < CK_WINO_CH ? n - c0 : CK_WINO_CH;
        float s[4][6][CK_WINO_CH], y[4][CK_WINO_CH];
        for (int c = 0; c < 6; c++) {
            const float *a = m + (size_t)c * xs + c0;
            CK_WINO_FN(at6)(a, a + 6 * xs, a + 12 * xs, a + 18 * xs, a + 24 * xs, a + 30 * xs, s[0][c], s[1][c],
                            s[2][c], s[3][c], cn);
        }
        for (int r = 0; r < rows; r++) {
            CK_WINO_FN(at6)(s[r][0], s[r][1], s[r][2], s[r][3], s[r][4], s[r][5], y[0], y[1], y[2], y[3], cn);
            CK_WINO_FN(store_row)(y[0], cols, o + r * 4, c0, cn, bias, act);
        }
    }
}

/* F(6x6, 3x3): A^T = [[1,1,1,1,1,1,1,0],[0,1,-1,2,-2,1/2,-1/2,0],[0,1,1,4,4,1/4,1/4,0],
 *                     [0,1,-1,8,-8,1/8,-1/8,0],[0,1,1,16,16,1/16,1/16,0],[0,1,-1,32,-32,1/32,-1/32,1]]. */
static inline __attribute__((always_inline)) void
CK_WINO_FN(at8)(const float *const *a, float *const *y, size_t n) {
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7];
    float *y0 = y[0], *y1 = y[1], *y2 = y[2], *y3 = y[3], *y4 = y[4], *y5 = y[5];
    for (size_t i = 0; i < n; i++) {
        float p1 = a1[i] + a2[i], q1 = a1[i] - a2[i], p2 = a3[i] + a4[i], q2 = a3[i] - a4[i];
        float p3 = a5[i] + a6[i], q3 = a5[i] - a6[i];
        y0[i] = ((a0[i] + p1) + p2) + p3;
        y1[i] = (q1 + 2.0f * q2) + 0.5f * q3;
        y2[i] = (p1 + 4.0f * p2) + 0.25f * p3;
        y3[i] = (q1 + 8.0f * q2) + 0.125f * q3;
        y4[i] = (p1 + 16.0f * p2) + 0.0625f * p3;
        y5[i] = ((q1 + 32.0f * q2) + 0.03125f * q3) + a7[i];
    }
}

void CK_WINO_FN(ck_wino_out6)(const float *m, size_t xs, float *const *o, int rows, int cols, const float *bias,
                              ck_activation act, size_t n) {
    for (size_t c0 = 0; c0 < n; c0 += CK_WINO_CH) {
        size_t cn = n - c0 < CK_WINO_CH ? n - c0 : CK_WINO_CH;
        float s[6][8][CK_WINO_CH], y[6][CK_WINO_CH];
        const float *a[8];
        float *t[6];
        for (int c = 0; c < 8; c++) {
            for (int r = 0; r < 8; r++) a[r] = m + (size_t)(r * 8 + c) * xs + c0;
            for (int r = 0; r < 6; r++) t[r] = s[r][c];
            CK_WINO_FN(at8)(a, t, cn);
        }
        for (int r = 0; r < 6; r++) t[r] = y[r];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < 8; c++) a[c] = s[r][c];
            CK_WINO_FN(at8)(a, t, cn);
            CK_WINO_FN(store_row)(y[0], cols, o + r * 6, c0, cn, bias, act);
        }
    }
}
