/* AVX-512 peak loop: independent FMA chains for ck_measure_peak_gflops. */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
/* 16 independent zmm FMA chains: 16 x 16 lanes x 2 FLOPs per iteration. */
uint64_t ck_peak_loop_avx512(uint64_t iters) {
    __m512 a[16], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 16; i++) a[i] = _mm512_set1_ps((float)i);
    for (uint64_t it = 0; it < iters; it++)
#pragma clang loop unroll(full)
        for (int i = 0; i < 16; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
    __m512 s = a[0];
    for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, a[i]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return iters * 16 * 16 * 2;
}
#pragma clang attribute pop
#endif
