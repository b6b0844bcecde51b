/* Private: bfloat16 for the bf16 GEMM. Rounding fp32 -> bf16 (nearest, ties to even,
 * denormals to zero, as VCVTNEPS2BF16) and one step of VDPBF16PS, emulated exactly: per fp32
 * lane acc = fma(a0, b0, fma(a1, b1, acc)), rounded to nearest even, denormal inputs and
 * results flushed to zero (DAZ, FTZ), as the instruction does. */
#ifndef CK_BF16_H
#define CK_BF16_H

#include "ck_kernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CK_BF16_MR 12
#define CK_BF16_NR 32
#define CK_BF16_KC 256   /* k values per block (128 pairs) */

static inline uint32_t ck_f32_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float ck_bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* Denormal inputs become zeros of their sign, as VCVTNEPS2BF16 treats them (DAZ). */
static inline uint16_t ck_bf16_from_f32(float x) {
    uint32_t u = ck_f32_bits(x);
    if ((u & 0x7F800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float ck_bf16_to_f32(uint16_t h) { return ck_bits_f32((uint32_t)h << 16); }

/* Denormals to zero of the same sign. */
static inline float ck_ftz(float x) {
    uint32_t u = ck_f32_bits(x);
    return (u & 0x7F800000u) == 0 ? ck_bits_f32(u & 0x80000000u) : x;
}

/* One VDPBF16PS lane: acc + a.hi * b.hi, then + a.lo * b.lo (pairs packed lo | hi << 16),
 * each a fused multiply-add (the product is not rounded on its own: measured on this CPU, a
 * tiny product still moves a normal sum and an overflowing one can cancel), inputs denormal
 * -> zero, each result's denormals -> zero. */
static inline float ck_dpbf16(float acc, uint32_t a, uint32_t b) {
    float a0 = ck_ftz(ck_bf16_to_f32((uint16_t)a)), a1 = ck_ftz(ck_bf16_to_f32((uint16_t)(a >> 16)));
    float b0 = ck_ftz(ck_bf16_to_f32((uint16_t)b)), b1 = ck_ftz(ck_bf16_to_f32((uint16_t)(b >> 16)));
    float t = ck_ftz(fmaf(a1, b1, ck_ftz(acc)));
    return ck_ftz(fmaf(a0, b0, t));
}

/* The microkernel: kp k pairs of an MR-row A panel and an NR-column B panel into an m x n
 * tile of C (first: from zero, else from C; last: + bias, then act). */
typedef void (*ck_gemm_bf16_uk_fn)(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                                   size_t n, int first, int last, const float *bias, ck_activation act);
void ck_gemm_bf16_uk_emulated(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                              size_t n, int first, int last, const float *bias, ck_activation act);
#if defined(__x86_64__)
void ck_gemm_bf16_uk_avx512bf16(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                                size_t n, int first, int last, const float *bias, ck_activation act);
#endif
/* The kernel a context runs: AVX512_BF16 when its ISA is avx512 and the CPU has it. */
ck_gemm_bf16_uk_fn ck_gemm_bf16_kernel(const ck_ctx *ctx);

#endif
