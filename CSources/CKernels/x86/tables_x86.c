/* The x86 kernel tables. */
#if defined(__x86_64__)
#include "ck_internal.h"

void ck_gemm_uk_avx2(size_t, const float *, const float *, float *, size_t, size_t, size_t, int, int,
                     const float *, ck_activation);
void ck_gemm_uk_indirect_avx2(size_t, const float *const *, const float *, float *, size_t, size_t,
                              size_t, int, int, const float *, ck_activation);
void ck_gemm_uk_avx512(size_t, const float *, const float *, float *, size_t, size_t, size_t, int,
                       int, const float *, ck_activation);
void ck_gemm_uk_indirect_avx512(size_t, const float *const *, const float *, float *, size_t, size_t,
                                size_t, int, int, const float *, ck_activation);
void ck_relu_avx2(size_t, const float *, float *);
void ck_relu_avx512(size_t, const float *, float *);
void ck_add_avx2(size_t, const float *, const float *, float *);
void ck_add_avx512(size_t, const float *, const float *, float *);
void ck_affine_avx2(size_t, size_t, const float *, const float *, const float *, float *);
void ck_affine_avx512(size_t, size_t, const float *, const float *, const float *, float *);
void ck_prelu_avx2(size_t, size_t, const float *, const float *, const float *, float *);
void ck_prelu_avx512(size_t, size_t, const float *, const float *, const float *, float *);
void ck_dw_row_avx2(const ck_conv2d_desc *, const float *, const float *, const float *, int, int, float *);
void ck_dw_row_avx512(const ck_conv2d_desc *, const float *, const float *, const float *, int, int, float *);

CK_LSTM_DECLARE(avx2)
CK_LSTM_DECLARE(avx512)

const ck_kernel_table ck_table_avx2 = {
    .lstm_fwd_seq = ck_lstm_fwd_seq_avx2, .lstm_bwd_seq = ck_lstm_bwd_seq_avx2, .adadelta = ck_adadelta_seq_avx2,
    .isa = CK_ISA_AVX2, .mr = 6, .nr = 16,
    .gemm_ukernel = ck_gemm_uk_avx2, .gemm_ukernel_indirect = ck_gemm_uk_indirect_avx2, .relu = ck_relu_avx2, .add = ck_add_avx2,
    .affine = ck_affine_avx2, .prelu = ck_prelu_avx2, .dw_row = ck_dw_row_avx2,
};

const ck_kernel_table ck_table_avx512 = {
    .lstm_fwd_seq = ck_lstm_fwd_seq_avx512, .lstm_bwd_seq = ck_lstm_bwd_seq_avx512, .adadelta = ck_adadelta_seq_avx512,
    .isa = CK_ISA_AVX512, .mr = 12, .nr = 32,
    .gemm_ukernel = ck_gemm_uk_avx512, .gemm_ukernel_indirect = ck_gemm_uk_indirect_avx512, .relu = ck_relu_avx512, .add = ck_add_avx512,
    .affine = ck_affine_avx512, .prelu = ck_prelu_avx512, .dw_row = ck_dw_row_avx512,
};
#endif
