/* The int8 direct convolution's AVX512-VNNI tile (ops/conv2d_int8_direct.c): 12 consecutive
 * grid positions x 32 columns of int32 sums (24 zmm) over all of K; each position's k quads
 * are broadcast straight from the quantised input (rows cin bytes apart), so nothing is
 * packed. One VPDPBUSD per 16 outputs and k quad, as the GEMM microkernel. */
#if defined(__x86_64__)
#include "ck_int8_x86.h"
#include "ck_internal.h"
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

#define MR CK_INT8_MR
#define NR CK_INT8_NR

static inline int quad(const uint8_t *p) {
    int v;
    memcpy(&v, p, 4);
    return v;
}

void ck_conv2d_int8_direct_avx512vnni(const ck_int8_direct *j, size_t p0, size_t panel, float *const *o) {
    const ck_conv2d_desc *d = j->d;
    size_t c = (size_t)d->cin, c2 = 2 * c, rowq = (size_t)d->kw * c / 4;
    const uint32_t *B = j->b.panels + panel * j->kqs * NR;
    __m512i c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_si512();
    for (int ky = 0; ky < d->kh; ky++) {
        /* rows 3t, 3t + 1, 3t + 2 at a[t], a[t] + c, a[t] + 2c: four pointers, not twelve */
        const uint8_t *a0 = j->q + (p0 + (size_t)ky * j->g.wp) * c, *a1 = a0 + 3 * c, *a2 = a0 + 6 * c,
                      *a3 = a0 + 9 * c;
        for (size_t q = 0; q < rowq; q++) {
            __m512i b0 = _mm512_loadu_si512(B), b1 = _mm512_loadu_si512(B + 16);
            const uint8_t *base[4] = {a0, a1, a2, a3};
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                const uint8_t *r = base[i / 3] + (i % 3 == 0 ? 0 : i % 3 == 1 ? c : c2);
                __m512i a = _mm512_set1_epi32(quad(r));
                c0[i] = _mm512_dpbusd_epi32(c0[i], a, b0);
                c1[i] = _mm512_dpbusd_epi32(c1[i], a, b1);
            }
            a0 += 4, a1 += 4, a2 += 4, a3 += 4;
            B += NR;
        }
    }
    size_t col0 = panel * NR, n = ck_min(NR, (size_t)d->cout - col0);
    ck_int8_out32 out = ck_int8_out32_init(j->b.zc + col0, j->b.scale + col0, j->bias ? j->bias + col0 : NULL, n,
                                           d->act);
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++)
        if (o[i]) ck_int8_out32_row(&out, c0[i], c1[i], o[i] + col0);
}

#pragma clang attribute pop
#endif
