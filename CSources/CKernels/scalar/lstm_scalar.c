/* The LSTM recurrence of one sequence for the scalar table (portable C;
 * internal/ck_lstm_cell.h). */
#include "ck_isa_symbols.h"
#define CK_LSTM_SUFFIX scalar
#include "ck_lstm_cell.h"
