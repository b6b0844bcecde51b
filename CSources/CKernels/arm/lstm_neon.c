/* The LSTM recurrence of one sequence, vectorised for NEON by the compiler
 * (internal/ck_lstm_cell.h): -ffp-contract=off keeps vmla/vfma out, so the bits equal the
 * scalar table's. */
#if defined(__aarch64__)
#include "ck_isa_symbols.h"
#define CK_LSTM_SUFFIX neon
#include "ck_lstm_cell.h"
#endif
