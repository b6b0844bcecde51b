/* Private: int8 for the int8 GEMM. Activations are quantised per tensor, asymmetric:
 * q = clamp(round_even(x / scale) + zero, 0, 255) as u8; weights per output column,
 * symmetric: w = clamp(round_even(w / s_j), -127, 127) as s8 with s_j = max|w[:, j]| / 127.
 * Sums of u8 x s8 products are exact in int32 (|sum| < 2^31 while K <= CK_INT8_MAX_K), so
 * every kernel (scalar, AVX512-VNNI, AMX) gives the same bits; the output is
 * act(fma((float)(sum - zero * colsum_j), scale * s_j, bias_j)). */
#ifndef CK_INT8_H
#define CK_INT8_H

#include "ck_bf16.h"
#include <math.h>
#include <stdint.h>

#define CK_INT8_MR 12
#define CK_INT8_NR 32
#define CK_INT8_KC 512      /* k values per block, VNNI (128 quads) */
#define CK_AMX8_QUADS 16    /* k quads per AMX step (64 values) */
#define CK_AMX8_KC 2048     /* k values per block, AMX (32 steps) */

/* Packed B: a header (the activation's 1/scale and zero point), N padded to panels of
 * per-column output scales (float), zero-point corrections zero * colsum and the column sums
 * of the quantised weights (int32), then
 * 32-column panels of k quads (4 s8 in a uint32), quads padded to whole AMX steps. */
#define CK_INT8_HEADER 16   /* uint32 values */

typedef struct {
    float inv_scale;
    int32_t zero;
    const float *scale;     /* [N]: activation scale x column scale */
    const int32_t *zc;      /* [N]: zero x column sum of quantised weights */
    const int32_t *colsum;  /* [N]: the column sums */
    const uint32_t *panels;
} ck_int8_b;

static inline size_t ck_int8_kq_stride(size_t K) {
    size_t kq = (K + 3) / 4;
    return kq == 0 ? CK_AMX8_QUADS : (kq + CK_AMX8_QUADS - 1) / CK_AMX8_QUADS * CK_AMX8_QUADS;
}

/* Saturating before the conversion, so NaN and infinities give the same byte on every path
 * (VCVTPS2DQ turns them into INT_MIN): NaN -> -256, +-inf -> +-256. */
static inline int ck_round_clamped(float v, float lim) {
    v = v > -lim ? v : -lim;
    v = v < lim ? v : lim;
    return (int)nearbyintf(v);
}

static inline uint8_t ck_quant_u8(float x, float inv_scale, int zero) {
    int q = ck_round_clamped(x * inv_scale, 256.0f) + zero;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

static inline float ck_int8_finish(int32_t acc, int32_t zc, float scale, float bias, ck_activation act) {
    float y = fmaf((float)(acc - zc), scale, bias);
    return act == CK_ACT_RELU && !(y > 0.0f) ? 0.0f : y;
}

/* The microkernel: kq k quads of an MR-row A panel (uint32: 4 u8) and a 32-column B panel
 * into an m x n tile of C. Before the last block C holds int32 partial sums (first: from
 * zero, else from C); the last block writes floats: ck_int8_finish per element. */
typedef void (*ck_gemm_int8_uk_fn)(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                                   size_t n, int first, int last, const int32_t *zc, const int32_t *colsum,
                                   const float *scale, const float *bias, ck_activation act);
void ck_gemm_int8_uk_scalar(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m, size_t n,
                            int first, int last, const int32_t *zc, const int32_t *colsum, const float *scale,
                            const float *bias, ck_activation act);
#if defined(__aarch64__)
/* SDOT (ARMv8.2 dot product); colsum restores the u8 sums from the s8 ones. */
void ck_gemm_int8_uk_neon_sdot(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                               size_t n, int first, int last, const int32_t *zc, const int32_t *colsum,
                               const float *scale, const float *bias, ck_activation act);
#endif
#if defined(__x86_64__)
void ck_gemm_int8_uk_avxvnni(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                             size_t n, int first, int last, const int32_t *zc, const int32_t *colsum,
                             const float *scale, const float *bias, ck_activation act);
void ck_gemm_int8_uk_avx512vnni(size_t kq, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                                size_t n, int first, int last, const int32_t *zc, const int32_t *colsum,
                                const float *scale, const float *bias, ck_activation act);
/* AMX (TDPBUSD): `steps` steps of 16 quads for rows [0, m) (m <= 32) x columns [0, n) (n <= 32);
 * A: two row tiles of 16 rows, each `steps` x [16 rows][16 quads], the second `a_next`
 * uint32 after the first; B: a packed panel at the block's first quad. */
void ck_gemm_int8_uk_amx(size_t steps, const uint32_t *A, size_t a_next, const uint32_t *B, float *C, size_t ldc,
                         size_t m, size_t n, int first, int last, const int32_t *zc, const float *scale,
                         const float *bias, ck_activation act);
/* n fp32 values (n <= 64) quantised to u8 at dst[0, n) (AVX-512). */
void ck_quant_row64_avx512(const float *src, size_t n, float inv_scale, int zero, uint8_t *dst);
/* The tile configuration every AMX kernel here uses (16 rows x 64 bytes), loaded once per thread. */
void ck_amx_configure(void);
#endif

/* C [M, N] = the int8 GEMM of A's rows (from `rows`, quantised as they are packed) and
 * packed B, the context's int8 kind; row_seg as ck_gemm_bf16_rows. */
void ck_gemm_int8_rows(ck_ctx *ctx, size_t M, size_t N, size_t K, ck_bf16_row_fn rows, const void *src,
                       const uint32_t *Bp, const float *bias, ck_activation act, float *C, size_t ldc,
                       uint32_t *workspace, size_t row_seg);
ck_int8_b ck_int8_b_view(const uint32_t *packed, size_t N);

/* int8 convolution by GEMM (ops/conv2d_int8.c), as its bf16 counterpart; the implicit GEMM
 * on AMX reads its tiles from a quantised copy of the input where it applies (below). */
size_t ck_conv2d_int8_packed_size(const ck_conv2d_desc *d);
void ck_conv2d_int8_pack(const ck_conv2d_desc *d, const float *w_hwio, uint32_t *packed);
void ck_conv2d_int8_pack_codes(const ck_conv2d_desc *d, const int8_t *codes_hwio, const float *step, uint32_t *packed);
size_t ck_conv2d_int8_workspace_size(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo);
void ck_conv2d_int8_run(ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo, const float *in,
                        const uint32_t *packed, const float *bias, float *out, uint32_t *workspace);
/* int8 convolution reading A in place (ops/conv2d_int8_direct.c): the input quantised once
 * into a u8 copy padded with the zero point, and the GEMM run over every position of that
 * padded grid (images stacked), so consecutive rows of a tile are consecutive positions, cin
 * bytes apart, and a kernel row's kw * cin bytes of a position are contiguous. Positions in
 * the padding give outputs that are dropped. Stride 1, no dilation, groups 1, and kw * cin a
 * multiple of the kernel's k step (AMX: 64 bytes; AVX512-VNNI: 4). */
typedef struct {
    size_t hp, wp, oh, ow;   /* padded grid and output sides */
    size_t positions;        /* the last output position, plus one */
    size_t bytes;            /* the padded copy with the slack the last tile reads */
} ck_int8_grid;

typedef struct {
    const ck_conv2d_desc *d;
    ck_int8_grid g;
    const float *bias;
    float *out;
    const uint8_t *q;        /* the quantised, padded input */
    ck_int8_b b;
    size_t kqs;              /* quads per B panel */
} ck_int8_direct;

int ck_conv2d_int8_direct_applies(const ck_ctx *ctx, const ck_conv2d_desc *d);
size_t ck_conv2d_int8_direct_workspace(const ck_conv2d_desc *d);
void ck_conv2d_int8_direct_run(ck_ctx *ctx, const ck_conv2d_desc *d, const float *in, const uint32_t *packed,
                               const float *bias, float *out, uint32_t *workspace);
/* Grid positions [p0, p0 + rows) x one 32-column panel, all of K, then the output step for
 * the positions that are output pixels: output position `p` (rows from p0) goes to `o[p]`, or
 * nowhere when NULL. */
#if defined(__x86_64__)
#define CK_INT8_DIRECT_AMX_ROWS 32
void ck_conv2d_int8_direct_amx(const ck_int8_direct *j, size_t p0, size_t panel, float *const *o);
void ck_conv2d_int8_direct_avx512vnni(const ck_int8_direct *j, size_t p0, size_t panel, float *const *o);
#endif

#endif
