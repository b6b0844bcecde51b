/* The Adadelta update vectorised for AVX2 by the compiler (internal/ck_adadelta_body.h):
 * no FMA is enabled, so the bits equal the scalar table's. */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#define CK_ADADELTA_SUFFIX avx2
#include "ck_adadelta_body.h"
#pragma clang attribute pop
#endif
