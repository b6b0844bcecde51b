/* Scalar peak loop: independent multiply-add chains for ck_measure_peak_gflops. */
#include "ck_isa_symbols.h"

/* 8 independent multiply-add chains; 2 FLOPs each. */
uint64_t ck_peak_loop_scalar(uint64_t iters) {
    volatile float seed = 1.0f;
    float a[8], m = 0.999999f, c = 1e-7f;
    for (int i = 0; i < 8; i++) a[i] = seed + (float)i;
    for (uint64_t it = 0; it < iters; it++)
        for (int i = 0; i < 8; i++) a[i] = a[i] * m + c;
    seed = a[0] + a[7];
    return iters * 8 * 2;
}
