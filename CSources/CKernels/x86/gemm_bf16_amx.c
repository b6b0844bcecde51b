/* Intel AMX bf16 GEMM microkernel: a 32 x 32 fp32 tile of C in four accumulator tiles
 * (tmm0-3), two A tiles of 16 rows x 16 k pairs (tmm4-5) and two B tiles of 16 pairs x 16
 * columns (tmm6-7) per step: four TDPBF16PS per 32 k values. Partial tiles (m or n < 32)
 * go through a scratch tile; bias and act are applied with AVX-512 after the last block. */
#if defined(__x86_64__)
#include "ck_bf16.h"
#include "ck_internal.h"
#include <immintrin.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16"))), \
                             apply_to = function)

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_granted;
static void amx_request(void) { amx_granted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0; }

int ck_amx_usable(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, amx_request);
    return amx_granted;
}

typedef struct __attribute__((packed)) {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Tile configuration is per thread: loaded once by each thread that runs an AMX kernel (bf16
 * and int8 use the same one: 8 tiles of 16 rows x 64 bytes). */
static _Thread_local int configured;

void ck_amx_configure(void) {
    if (configured) return;
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.colsb[t] = 64;
        c.rows[t] = 16;
    }
    _tile_loadconfig(&c);
    configured = 1;
}

void ck_bf16_row32_amx(const float *src, size_t n, uint32_t *dst) {
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512 lo = _mm512_maskz_loadu_ps(m0, src), hi = _mm512_maskz_loadu_ps(m1, src + 16);
    _mm512_storeu_si512(dst, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

#define STEP_A 256   /* uint32 of one A tile step: 16 rows x 16 pairs */

void ck_gemm_bf16_uk_amx(size_t steps, const uint32_t *A, size_t a_next, const uint32_t *B, float *C, size_t ldc,
                         size_t m, size_t n, int first, int last, const float *bias, ck_activation act) {
    ck_amx_configure();
    float scratch[CK_AMX_MR * 32] __attribute__((aligned(64)));
    int full = m == CK_AMX_MR && n == 32;
    int post = last && (bias || act == CK_ACT_RELU);
    float *T = full ? C : scratch;
    size_t ldt = full ? ldc : 32;
    if (first) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        if (!full) {
            memset(scratch, 0, sizeof scratch);
            for (size_t i = 0; i < m; i++) memcpy(scratch + i * 32, C + i * ldc, n * sizeof(float));
        }
        _tile_loadd(0, T, ldt * 4);
        _tile_loadd(1, T + 16, ldt * 4);
        _tile_loadd(2, T + 16 * ldt, ldt * 4);
        _tile_loadd(3, T + 16 * ldt + 16, ldt * 4);
    }
    for (size_t s = 0; s < steps; s++) {
        _tile_loadd(4, A + s * STEP_A, 64);
        _tile_loadd(6, B + s * CK_AMX_PAIRS * CK_BF16_NR, CK_BF16_NR * 4);
        _tile_loadd(7, B + s * CK_AMX_PAIRS * CK_BF16_NR + 16, CK_BF16_NR * 4);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_loadd(5, A + a_next + s * STEP_A, 64);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    if (post && full) {
        T = scratch;
        ldt = 32;
    }
    _tile_stored(0, T, ldt * 4);
    _tile_stored(1, T + 16, ldt * 4);
    _tile_stored(2, T + 16 * ldt, ldt * 4);
    _tile_stored(3, T + 16 * ldt + 16, ldt * 4);
    if (T == C) return;
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), z = _mm512_setzero_ps();
    if (last && bias) {
        b0 = _mm512_maskz_loadu_ps(m0, bias);
        b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
    for (size_t i = 0; i < m; i++) {
        __m512 c0 = _mm512_load_ps(scratch + i * 32), c1 = _mm512_load_ps(scratch + i * 32 + 16);
        if (last && bias) {
            c0 = _mm512_add_ps(c0, b0);
            c1 = _mm512_add_ps(c1, b1);
        }
        if (last && act == CK_ACT_RELU) {
            c0 = _mm512_max_ps(c0, z);
            c1 = _mm512_max_ps(c1, z);
        }
        _mm512_mask_storeu_ps(C + i * ldc, m0, c0);
        _mm512_mask_storeu_ps(C + i * ldc + 16, m1, c1);
    }
}

#pragma clang attribute pop
#endif
