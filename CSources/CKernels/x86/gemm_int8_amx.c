/* Intel AMX int8 GEMM microkernel: a 32 x 32 int32 tile of C in four accumulator tiles
 * (tmm0-3), two u8 A tiles of 16 rows x 16 k quads (tmm4-5) and two s8 B tiles of 16 quads x
 * 16 columns (tmm6-7) per step: four TDPBUSD per 64 k values. Partial tiles go through a
 * scratch tile; the last block's output step runs in AVX-512 as the VNNI kernel's. */
#if defined(__x86_64__)
#include "ck_int8_x86.h"
#include "ck_internal.h"
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))), \
                             apply_to = function)

#define STEP_A 256   /* uint32 of one A tile step: 16 rows x 16 quads */

void ck_gemm_int8_uk_amx(size_t steps, const uint32_t *A, size_t a_next, const uint32_t *B, float *C, size_t ldc,
                         size_t m, size_t n, int first, int last, const int32_t *zc, const float *scale,
                         const float *bias, ck_activation act) {
    ck_amx_configure();
    int32_t scratch[CK_AMX_MR * 32] __attribute__((aligned(64)));
    int full = m == CK_AMX_MR && n == 32;
    int32_t *T = full && !last ? (int32_t *)(void *)C : scratch;
    size_t ldt = full && !last ? ldc : 32;
    if (first) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        const int32_t *S = (const int32_t *)(const void *)C;
        size_t lds = ldc;
        if (!full) {
            memset(scratch, 0, sizeof scratch);
            for (size_t i = 0; i < m; i++) memcpy(scratch + i * 32, C + i * ldc, n * sizeof(int32_t));
            S = scratch;
            lds = 32;
        }
        _tile_loadd(0, S, lds * 4);
        _tile_loadd(1, S + 16, lds * 4);
        _tile_loadd(2, S + 16 * lds, lds * 4);
        _tile_loadd(3, S + 16 * lds + 16, lds * 4);
    }
    for (size_t s = 0; s < steps; s++) {
        _tile_loadd(4, A + s * STEP_A, 64);
        _tile_loadd(6, B + s * CK_AMX8_QUADS * CK_INT8_NR, CK_INT8_NR * 4);
        _tile_loadd(7, B + s * CK_AMX8_QUADS * CK_INT8_NR + 16, CK_INT8_NR * 4);
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_loadd(5, A + a_next + s * STEP_A, 64);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    _tile_stored(0, T, ldt * 4);
    _tile_stored(1, T + 16, ldt * 4);
    _tile_stored(2, T + 16 * ldt, ldt * 4);
    _tile_stored(3, T + 16 * ldt + 16, ldt * 4);
    if (T != scratch) return;
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    if (!last) {
        for (size_t i = 0; i < m; i++) {
            _mm512_mask_storeu_epi32(C + i * ldc, m0, _mm512_load_si512(scratch + i * 32));
            _mm512_mask_storeu_epi32(C + i * ldc + 16, m1, _mm512_load_si512(scratch + i * 32 + 16));
        }
        return;
    }
    ck_int8_out32 o = ck_int8_out32_init(zc, scale, bias, n, act);
    for (size_t i = 0; i < m; i++)
        ck_int8_out32_row(&o, _mm512_load_si512(scratch + i * 32), _mm512_load_si512(scratch + i * 32 + 16),
                          C + i * ldc);
}

#pragma clang attribute pop
#endif
