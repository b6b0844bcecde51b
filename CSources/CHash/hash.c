/* The content hash (ch_hash.h). */
#include "ch_hash.h"

static uint64_t cc_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t cc_load64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t cc_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t cc_hash64(const uint8_t *data, size_t len, uint64_t seed) {
    const uint64_t m1 = 0x9e3779b97f4a7c15ULL, m2 = 0xc2b2ae3d27d4eb4fULL;
    uint64_t lane[4] = {seed + m1, seed ^ m2, seed - m1, ~seed};
    size_t i = 0;
    for (; i + 32 <= len; i += 32)
        for (int k = 0; k < 4; k++)
            lane[k] = cc_rotl(lane[k] + cc_load64(data + i + 8 * k) * m2, 31) * m1;
    uint64_t h = cc_rotl(lane[0], 1) + cc_rotl(lane[1], 7) + cc_rotl(lane[2], 12) + cc_rotl(lane[3], 18);
    h ^= (uint64_t)len * m1;
    uint8_t tail[32] = {0};
    for (size_t j = i; j < len; j++) tail[j - i] = data[j];
    for (int k = 0; k < 4; k++) h = cc_rotl(h ^ (cc_load64(tail + 8 * k) * m2), 27) * m1 + m2;
    return cc_mix(h);
}
