/* NEON int8 GEMM microkernel with SDOT (ARMv8.2 dot product): the A panel's u8 codes are
 * made s8 by flipping the top bit (a - 128), so sum (a - 128) w + 128 colsum_j = sum a w,
 * exactly. The 12 x 32 tile runs as four 12 x 8 passes (24 q accumulators): per k quad one
 * A load of four rows and one SDOT-by-lane per row and 4 columns. */
#if defined(__aarch64__)
#include "ck_int8.h"
#include "ck_internal.h"
#include <arm_neon.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)

#define MR CK_INT8_MR
#define NR CK_INT8_NR

void ck_gemm_int8_uk_neon_sdot(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                               size_t n, int first, int last, const int32_t *zc, const int32_t *colsum,
                               const float *scale, const float *bias, ck_activation act) {
    const uint8x16_t flip = vdupq_n_u8(0x80);
    for (size_t c0 = 0; c0 < n; c0 += 8) {
        int32x4_t acc[MR][2];
        for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = vdupq_n_s32(0);
        const uint32_t *a = A, *b = B + c0;
        for (size_t q = 0; q < kq; q++, a += MR, b += NR) {
            int8x16_t b0 = vld1q_s8((const int8_t *)(b)), b1 = vld1q_s8((const int8_t *)(b + 4));
            for (int r = 0; r < MR; r += 4) {
                int8x16_t av = vreinterpretq_s8_u8(veorq_u8(vld1q_u8((const uint8_t *)(a + r)), flip));
                acc[r][0] = vdotq_laneq_s32(acc[r][0], b0, av, 0);
                acc[r][1] = vdotq_laneq_s32(acc[r][1], b1, av, 0);
                acc[r + 1][0] = vdotq_laneq_s32(acc[r + 1][0], b0, av, 1);
                acc[r + 1][1] = vdotq_laneq_s32(acc[r + 1][1], b1, av, 1);
                acc[r + 2][0] = vdotq_laneq_s32(acc[r + 2][0], b0, av, 2);
                acc[r + 2][1] = vdotq_laneq_s32(acc[r + 2][1], b1, av, 2);
                acc[r + 3][0] = vdotq_laneq_s32(acc[r + 3][0], b0, av, 3);
                acc[r + 3][1] = vdotq_laneq_s32(acc[r + 3][1], b1, av, 3);
            }
        }
        /* back to u8 sums: + 128 colsum, once (with the first block) */
        int32_t cs[8] = {0};
        for (size_t j = 0; j < 8 && c0 + j < n && first; j++) cs[j] = 128 * colsum[c0 + j];
        int32x4_t k0 = vld1q_s32(cs), k1 = vld1q_s32(cs + 4);
        for (size_t i = 0; i < m; i++) {
            int32_t s[8];
            vst1q_s32(s, vaddq_s32(acc[i][0], k0));
            vst1q_s32(s + 4, vaddq_s32(acc[i][1], k1));
            for (size_t j = 0; j < 8 && c0 + j < n; j++) {
                float *o = C + i * ldc + c0 + j;
                int32_t prev = 0;
                if (!first) memcpy(&prev, o, 4);
                int32_t v = prev + s[j];
                if (last)
                    *o = ck_int8_finish(v, zc[c0 + j], scale[c0 + j], bias ? bias[c0 + j] : 0.0f, act);
                else
                    memcpy(o, &v, 4);
            }
        }
    }
}

#pragma clang attribute pop
#endif
