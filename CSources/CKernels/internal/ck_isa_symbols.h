/* Private: the per-ISA microkernels that core/dispatch.c puts in the tables, declared once
 * so every ISA file is checked against the table's signatures. Named ck_<op>_<isa>. */
#ifndef CK_ISA_SYMBOLS_H
#define CK_ISA_SYMBOLS_H

#include "ck_internal.h"

/* GEMM register tiles (mr x nr) of each ISA's microkernel. */
#define CK_MR_SCALAR 4
#define CK_NR_SCALAR 8
#define CK_MR_AVX2 6
#define CK_NR_AVX2 16
#define CK_MR_AVX512 12
#define CK_NR_AVX512 32
#define CK_MR_NEON 8
#define CK_NR_NEON 8

#define CK_ISA_DECLARE(sfx)                                                                              \
    void ck_gemm_uk_##sfx(size_t kc, const float *A, const float *B, float *C, size_t ldc, size_t m,     \
                          size_t n, int first, int last, const float *bias, ck_activation act);          \
    void ck_gemm_uk_indirect_##sfx(size_t kc, const float *const *rows, const float *B, float *C,        \
                                   size_t ldc, size_t m, size_t n, int first, int last,                  \
                                   const float *bias, ck_activation act);                                \
    void ck_relu_##sfx(size_t count, const float *in, float *out);                                       \
    void ck_add_##sfx(size_t count, const float *a, const float *b, float *out);                         \
    void ck_affine_##sfx(size_t rows, size_t c, const float *in, const float *scale, const float *shift, \
                         float *out);                                                                    \
    void ck_prelu_##sfx(size_t rows, size_t c, const float *in, const float *alpha, const float *unused, \
                        float *out);                                                                     \
    void ck_dw_row_##sfx(const ck_conv2d_desc *d, const float *in, const float *w, const float *bias,    \
                         int oh, int ow_n, float *out);                                                  \
    void ck_wino_in4_##sfx(const float *const *px, float *v, size_t xs, size_t n);                       \
    void ck_wino_in6_##sfx(const float *const *px, float *v, size_t xs, size_t n);                       \
    void ck_wino_in8_##sfx(const float *const *px, float *v, size_t xs, size_t n);                       \
    void ck_wino_out2_##sfx(const float *m, size_t xs, float *const *o, int rows, int cols,              \
                            const float *bias, ck_activation act, size_t n);                             \
    void ck_wino_out4_##sfx(const float *m, size_t xs, float *const *o, int rows, int cols,              \
                            const float *bias, ck_activation act, size_t n);                             \
    void ck_wino_out6_##sfx(const float *m, size_t xs, float *const *o, int rows, int cols,              \
                            const float *bias, ck_activation act, size_t n);                             \
    void ck_lstm_fwd_seq_##sfx(size_t t, size_t u, const float *U, float *gates, float *h, float *c);    \
    void ck_lstm_bwd_seq_##sfx(size_t t, size_t u, const float *UT, const float *gates, const float *c,  \
                               const float *dh, float *dz, float *scratch);                              \
    void ck_adadelta_##sfx(size_t n, float *w, const float *g, float *Eg, float *Ed, float lr, float rho, \
                           float eps);                                                                   \
    void ck_bf16_row_##sfx(const float *x, size_t n, uint16_t *out);                                   \
    uint64_t ck_peak_loop_##sfx(uint64_t iters);

CK_ISA_DECLARE(scalar)
#if defined(__x86_64__)
CK_ISA_DECLARE(avx2)
CK_ISA_DECLARE(avx512)
#endif
#if defined(__aarch64__)
CK_ISA_DECLARE(neon)
#endif

#endif
