/* NEON peak loop: independent FMA chains for ck_measure_peak_gflops. */
#if defined(__aarch64__)
#include "ck_isa_symbols.h"
#include <arm_neon.h>

/* 16 independent q FMA chains: 16 x 4 lanes x 2 FLOPs per iteration. */
uint64_t ck_peak_loop_neon(uint64_t iters) {
    float32x4_t a[16], m = vdupq_n_f32(0.999999f), c = vdupq_n_f32(1e-7f);
    for (int i = 0; i < 16; i++) a[i] = vdupq_n_f32((float)i);
    for (uint64_t it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) a[i] = vfmaq_f32(c, a[i], m);
    float32x4_t s = a[0];
    for (int i = 1; i < 16; i++) s = vaddq_f32(s, a[i]);
    volatile float sink = vgetq_lane_f32(s, 0);
    (void)sink;
    return iters * 16 * 4 * 2;
}
#endif
