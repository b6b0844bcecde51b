/* The LSTM recurrence for the scalar table (portable C; see internal/ck_lstm_cell.h). */
#include "ck_internal.h"
#define CK_LSTM_SUFFIX ref
#include "ck_lstm_cell.h"
