/* The Adadelta update vectorised for NEON by the compiler (internal/ck_adadelta_body.h).
 * -ffp-contract=off keeps vmla/vfma out, so the bits equal the scalar table's. */
#if defined(__aarch64__)
#include "ck_isa_symbols.h"
#define CK_ADADELTA_SUFFIX neon
#include "ck_adadelta_body.h"
#endif
