/* bf16 rounding of a row, written once and compiled per ISA (each includer defines
 * CK_BF16_ROW_SUFFIX and its target attribute first): ck_bf16_from_f32 without branches, so
 * the compiler vectorises it. out[i] = bf16(x[i]); as uint16 on a little-endian machine, pairs
 * (out[2q], out[2q + 1]) read as one uint32 are the GEMM's k pairs, lo | hi << 16. */
#include "ck_bf16.h"

#define CK_BF16_ROW_CAT2(a, b) a##_##b
#define CK_BF16_ROW_CAT(a, b) CK_BF16_ROW_CAT2(a, b)

void CK_BF16_ROW_CAT(ck_bf16_row, CK_BF16_ROW_SUFFIX)(const float *x, size_t n, uint16_t *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t v = ck_f32_bits(x[i]), e = v & 0x7F800000u;
        uint32_t zero = (v >> 16) & 0x8000u, nan = (v >> 16) | 0x0040u;
        uint32_t rounded = (v + 0x7FFFu + ((v >> 16) & 1u)) >> 16;
        uint32_t r = e == 0 ? zero : (e == 0x7F800000u && (v & 0x007FFFFFu)) ? nan : rounded;
        out[i] = (uint16_t)r;
    }
}
