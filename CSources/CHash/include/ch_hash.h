/* A fast 64-bit content hash (not cryptographic) for cache keys, run keys and the
 * checksums of file payloads. */
#ifndef CH_HASH_H
#define CH_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Four multiply-rotate lanes over 32-byte stripes, then a SplitMix64-style finaliser. The
 * same value on every platform (bytes are read little-endian). */
uint64_t cc_hash64(const uint8_t *data, size_t len, uint64_t seed);

#endif
