/* Scalar GEMM microkernel: 4 x 8 register tile in plain C, the portable fallback. */
#include "ck_isa_symbols.h"

#define MR CK_MR_SCALAR
#define NR CK_NR_SCALAR

/* A element (i, k): A[k * MR + i], or rows[i][k] when rows is not NULL. */
static void gemm_uk_scalar_any(size_t kc, const float *A, const float *const *rows, const float *B,
                               float *C, size_t ldc, size_t m, size_t n, int first, int last,
                               const float *bias, ck_activation act) {
    float acc[MR][NR];
    for (size_t i = 0; i < MR; i++)
        for (size_t j = 0; j < NR; j++)
            acc[i][j] = (!first && i < m && j < n) ? C[i * ldc + j] : 0.0f;
    for (size_t k = 0; k < kc; k++) {
        const float *b = B + k * NR;
        for (size_t i = 0; i < MR; i++) {
            float ai = rows ? rows[i][k] : A[k * MR + i];
            for (size_t j = 0; j < NR; j++) acc[i][j] += ai * b[j];
        }
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float v = acc[i][j];
            if (last) {
                if (bias) v += bias[j];
                if (act == CK_ACT_RELU && !(v > 0.0f)) v = 0.0f;
            }
            C[i * ldc + j] = v;
        }
}

void ck_gemm_uk_scalar(size_t kc, const float *A, const float *B, float *C, size_t ldc,
                       size_t m, size_t n, int first, int last, const float *bias,
                       ck_activation act) {
    gemm_uk_scalar_any(kc, A, NULL, B, C, ldc, m, n, first, last, bias, act);
}

void ck_gemm_uk_indirect_scalar(size_t kc, const float *const *rows, const float *B, float *C,
                                size_t ldc, size_t m, size_t n, int first, int last,
                                const float *bias, ck_activation act) {
    gemm_uk_scalar_any(kc, NULL, rows, B, C, ldc, m, n, first, last, bias, act);
}
