/* AVX2 peak loop: independent FMA chains for ck_measure_peak_gflops. */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
/* 12 independent ymm FMA chains: 12 x 8 lanes x 2 FLOPs per iteration. */
uint64_t ck_peak_loop_avx2(uint64_t iters) {
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (uint64_t it = 0; it < iters; it++)
#pragma clang loop unroll(full)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    volatile float sink = lanes[0];
    (void)sink;
    return iters * 12 * 8 * 2;
}
#pragma clang attribute pop
#endif
