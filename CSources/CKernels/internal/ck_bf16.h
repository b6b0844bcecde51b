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

/* AMX: tiles of 16 rows x 16 k pairs; the kernel covers 32 rows (two A tiles) x 32 columns */
#define CK_AMX_PAIRS 16
#define CK_AMX_MR 32
#define CK_AMX_MC 128    /* rows per task block: four kernel tiles */
#define CK_AMX_KC 1024   /* k values per block (32 tile steps) */

/* Packed B's k pairs per panel: rounded up to whole AMX steps (zero pairs), so one layout
 * serves both kernel families. */
static inline size_t ck_bf16_kp_stride(size_t K) {
    size_t kp = (K + 1) / 2;
    return kp == 0 ? CK_AMX_PAIRS : (kp + CK_AMX_PAIRS - 1) / CK_AMX_PAIRS * CK_AMX_PAIRS;
}

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

/* A row's n values (n <= CK_BF16_KC) rounded to bf16 pairs at dst[0], dst[stride], ...:
 * (n + 1) / 2 of them, an odd n's last with a zero high half. `round_row` is the kernel
 * table's vectorised rounding (ck_bf16_row_body.h); the strided stores are plain copies. */
typedef void (*ck_bf16_round_row_fn)(const float *x, size_t n, uint16_t *out);
static inline void ck_bf16_pairs_strided(ck_bf16_round_row_fn round_row, const float *row, size_t n, uint32_t *dst,
                                         size_t stride) {
    uint16_t h[CK_BF16_KC + 2];
    h[n] = 0;
    round_row(row, n, h);
    for (size_t q = 0; 2 * q < n; q++) {
        uint32_t v;
        memcpy(&v, h + 2 * q, 4);
        dst[q * stride] = v;
    }
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

/* One TDPBF16PS step for one output, as the SDM's pseudocode gives it (and as measured on
 * this CPU: bit for bit on 3e5 outputs): the step's 16 pairs as two fp32 chains of fused
 * multiply-adds from zero, one of the even products and one of the odd, then
 * acc + (even + odd); inputs denormal -> zero, each result's denormals -> zero. a, b: 16 pairs. */
static inline float ck_amx_bf16_step(float acc, const uint32_t *a, const uint32_t *b) {
    float e = 0.0f, o = 0.0f;
    for (int q = 0; q < CK_AMX_PAIRS; q++) {
        uint32_t x = a[q], y = b[q];
        float a0 = ck_ftz(ck_bf16_to_f32((uint16_t)x)), a1 = ck_ftz(ck_bf16_to_f32((uint16_t)(x >> 16)));
        float b0 = ck_ftz(ck_bf16_to_f32((uint16_t)y)), b1 = ck_ftz(ck_bf16_to_f32((uint16_t)(y >> 16)));
        e = ck_ftz(fmaf(a0, b0, e));
        o = ck_ftz(fmaf(a1, b1, o));
    }
    return ck_ftz(ck_ftz(acc) + ck_ftz(e + o));
}

/* The microkernel: kp k pairs of an MR-row A panel and an NR-column B panel into an m x n
 * tile of C (first: from zero, else from C; last: + bias, then act). */
typedef void (*ck_gemm_bf16_uk_fn)(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                                   size_t n, int first, int last, const float *bias, ck_activation act);
void ck_gemm_bf16_uk_emulated(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                              size_t n, int first, int last, const float *bias, ck_activation act);
#if defined(__x86_64__)
void ck_gemm_bf16_uk_avx512fma(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                               size_t n, int first, int last, const float *bias, ck_activation act);
void ck_gemm_bf16_uk_avx512bf16(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                                size_t n, int first, int last, const float *bias, ck_activation act);
#endif
/* The VDPBF16PS-family kernel a context runs: AVX512_BF16 when its ISA is avx512 and the CPU
 * has it, else the emulation (Winograd's position GEMMs always use this family). */
ck_gemm_bf16_uk_fn ck_gemm_bf16_kernel(const ck_ctx *ctx);

#if defined(__x86_64__)
/* AMX kernel: `steps` steps of 16 k pairs for rows [0, m) (m <= 32) x columns [0, n) (n <= 32).
 * A: two row tiles of 16 rows, each `steps` x [16 rows][16 pairs], the second `a_next` uint32
 * after the first; B: a packed panel at the block's first pair (rows of 32 pairs). */
void ck_gemm_bf16_uk_amx(size_t steps, const uint32_t *A, size_t a_next, const uint32_t *B, float *C, size_t ldc,
                         size_t m, size_t n, int first, int last, const float *bias, ck_activation act);
/* Converts n fp32 values (n <= 32) to bf16 at dst (VCVTNE2PS2BF16), zeros up to 32. */
void ck_bf16_row32_amx(const float *src, size_t n, uint32_t *dst);
/* 1 once the OS has granted this process the AMX tile state (asked once). */
int ck_amx_usable(void);
#endif

/* A's rows for the bf16 drivers: row `row`'s k values [k0, k0 + kc) as fp32, returned in place
 * or written into tmp (kc floats). */
typedef const float *(*ck_bf16_row_fn)(const void *src, size_t row, size_t k0, size_t kc, float *tmp);
/* C [M, N] = act(bf16(A) Bp + bias) with A's rows from `rows`, the context's bf16 kind.
 * row_seg: the rows' natural segment (a convolution's kernel row, read in place), 0 for none;
 * rows are fetched in divisors of it that suit the kernel. */
void ck_gemm_bf16_rows(ck_ctx *ctx, size_t M, size_t N, size_t K, ck_bf16_row_fn rows, const void *src,
                       const uint32_t *Bp, const float *bias, ck_activation act, float *C, size_t ldc,
                       uint32_t *workspace, size_t row_seg);

/* A plain matrix's rows for the reduced-precision drivers (in place). */
typedef struct {
    const float *A;
    size_t lda;
} ck_matrix_rows;
const float *ck_matrix_row(const void *src, size_t row, size_t k0, size_t kc, float *tmp);
/* Values per row fetch: the largest divisor of the rows' natural segment that is a whole
 * number of `unit` (the kernel's step) and at most `cap` (its block), so a convolution's
 * kernel rows are read in place; else `cap`. */
size_t ck_row_segment(size_t unit, size_t cap, size_t row_seg);

/* A convolution's im2col rows for the reduced-precision drivers (ops/conv2d_bf16.c): row =
 * output pixel over all images, in place when the block lies in one in-image kernel row. */
typedef struct {
    const ck_conv2d_desc *d;
    const float *in;
    int group, oh_n, ow_n;
} ck_conv_rows;
const float *ck_conv_row(const void *src, size_t row, size_t k0, size_t kc, float *tmp);

/* bf16 convolution by GEMM (ops/conv2d_bf16.c): what ck_conv2d runs for a bf16 description
 * whose algorithm resolves to im2col or implicit GEMM. Workspace: ck_gemm_bf16_workspace_size. */
size_t ck_conv2d_bf16_packed_size(const ck_conv2d_desc *d);
void ck_conv2d_bf16_pack(const ck_conv2d_desc *d, const float *w_hwio, uint32_t *packed);
void ck_conv2d_bf16_run(ck_ctx *ctx, const ck_conv2d_desc *d, const float *in, const uint32_t *packed,
                        const float *bias, float *out, uint32_t *workspace);

#endif
