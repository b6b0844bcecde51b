/* The LSTM recurrence of one sequence, vectorised for AVX-512 by the compiler
 * (internal/ck_lstm_cell.h): no FMA contraction (-ffp-contract=off), so the bits equal the
 * scalar table's. */
#if defined(__x86_64__)
#include "ck_isa_symbols.h"
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define CK_LSTM_SUFFIX avx512
#include "ck_lstm_cell.h"
#pragma clang attribute pop
#endif
