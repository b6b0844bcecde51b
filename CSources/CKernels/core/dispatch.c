/* The kernel tables: one per ISA compiled for this architecture, each under its #if. */
#include "ck_isa_symbols.h"

#define CK_TABLE(ISA, sfx, MR, NR, IN_PLACE)                                                \
    {                                                                                       \
        .isa = ISA, .mr = MR, .nr = NR, .a_in_place = IN_PLACE, .gemm_ukernel = ck_gemm_uk_##sfx, \
        .gemm_ukernel_indirect = ck_gemm_uk_indirect_##sfx, .relu = ck_relu_##sfx,          \
        .add = ck_add_##sfx, .affine = ck_affine_##sfx, .prelu = ck_prelu_##sfx,            \
        .dw_row = ck_dw_row_##sfx, .wino_in4 = ck_wino_in4_##sfx, .wino_in6 = ck_wino_in6_##sfx,          \
        .wino_in8 = ck_wino_in8_##sfx, .wino_out2 = ck_wino_out2_##sfx, .wino_out4 = ck_wino_out4_##sfx, \
        .wino_out6 = ck_wino_out6_##sfx,                                                    \
        .lstm_fwd_seq = ck_lstm_fwd_seq_##sfx,                                              \
        .lstm_bwd_seq = ck_lstm_bwd_seq_##sfx, .adadelta = ck_adadelta_##sfx,               \
        .bf16_row = ck_bf16_row_##sfx, .peak_loop = ck_peak_loop_##sfx,                     \
    }

/* The portable fallback on every CPU. A in place: on x86 the indirect kernel broadcasts from
 * MR pointers as the packed one does from one; NEON's packed kernel loads 4 A values per
 * instruction, its indirect one 1 (tools/neon_model/run.sh: 20 against 41 instructions per k). */
static const ck_kernel_table table_scalar = CK_TABLE(CK_ISA_SCALAR, scalar, CK_MR_SCALAR, CK_NR_SCALAR, 0);
#if defined(__x86_64__)
static const ck_kernel_table table_avx2 = CK_TABLE(CK_ISA_AVX2, avx2, CK_MR_AVX2, CK_NR_AVX2, 1);
static const ck_kernel_table table_avx512 = CK_TABLE(CK_ISA_AVX512, avx512, CK_MR_AVX512, CK_NR_AVX512, 1);
#endif
#if defined(__aarch64__)
static const ck_kernel_table table_neon = CK_TABLE(CK_ISA_NEON, neon, CK_MR_NEON, CK_NR_NEON, 0);
#endif

const ck_kernel_table *ck_table_for(ck_isa isa) {
    switch (isa) {
    case CK_ISA_SCALAR: return &table_scalar;
#if defined(__x86_64__)
    case CK_ISA_AVX2: return &table_avx2;
    case CK_ISA_AVX512: return &table_avx512;
#endif
#if defined(__aarch64__)
    case CK_ISA_NEON: return &table_neon;
#endif
    default: return NULL;
    }
}
