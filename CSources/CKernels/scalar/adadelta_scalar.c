/* The Adadelta update for the scalar table (portable C; internal/ck_adadelta_body.h). */
#include "ck_isa_symbols.h"
#define CK_ADADELTA_SUFFIX scalar
#include "ck_adadelta_body.h"
