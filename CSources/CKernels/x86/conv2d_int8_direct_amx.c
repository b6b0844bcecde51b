/* The int8 direct convolution's AMX tile (ops/conv2d_int8_direct.c): 32 consecutive grid
 * positions are two A tiles of 16 rows, each one tile load with a stride of cin bytes per
 * 64-byte chunk of a kernel row; four TDPBUSD per step into a 32 x 32 int32 tile. */
#if defined(__x86_64__)
#include "ck_int8_x86.h"
#include "ck_internal.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8"))), \
                             apply_to = function)

void ck_conv2d_int8_direct_amx(const ck_int8_direct *j, size_t p0, size_t panel, float *const *o) {
    ck_amx_configure();
    const ck_conv2d_desc *d = j->d;
    size_t c = (size_t)d->cin, rowb = (size_t)d->kw * c, steps = (size_t)d->kh * rowb / 64;
    const uint32_t *B = j->b.panels + panel * j->kqs * CK_INT8_NR;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t s = 0, ky = 0, chunk = 0; s < steps; s++) {
        const uint8_t *a = j->q + (p0 + ky * j->g.wp) * c + chunk * 64;
        _tile_loadd(4, a, c);
        _tile_loadd(6, B + s * CK_AMX8_QUADS * CK_INT8_NR, CK_INT8_NR * 4);
        _tile_loadd(7, B + s * CK_AMX8_QUADS * CK_INT8_NR + 16, CK_INT8_NR * 4);
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_loadd(5, a + 16 * c, c);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
        if (++chunk * 64 == rowb) { chunk = 0; ky++; }
    }
    int32_t acc[32 * 32] __attribute__((aligned(64)));
    _tile_stored(0, acc, 128);
    _tile_stored(1, acc + 16, 128);
    _tile_stored(2, acc + 16 * 32, 128);
    _tile_stored(3, acc + 16 * 32 + 16, 128);
    size_t col0 = panel * CK_INT8_NR, n = ck_min(CK_INT8_NR, (size_t)d->cout - col0);
    ck_int8_out32 out = ck_int8_out32_init(j->b.zc + col0, j->b.scale + col0, j->bias ? j->bias + col0 : NULL, n,
                                           d->act);
    for (size_t r = 0; r < 32; r++)
        if (o[r]) ck_int8_out32_row(&out, _mm512_load_si512(acc + r * 32), _mm512_load_si512(acc + r * 32 + 16),
                                    o[r] + col0);
}

#pragma clang attribute pop
#endif
