/* Private: the input of the fused BN + LSTM layer as a row source, and its batch
 * statistics (ops/batchnorm.c), shared with ops/lstm.c. */
#ifndef CK_BATCHNORM_H
#define CK_BATCHNORM_H

#include "ck_internal.h"

/* Rows of b sequences (t x f each) read in place, or one contiguous [rows, f] array.
 * p0, p1: mean and inv_std (training: (x - mean) * inv_std), or scale and shift
 * (inference, moving statistics folded: x * scale + shift). */
typedef struct {
    const float *x;               /* contiguous rows, or NULL */
    const float *const *seqs;     /* else row r is seqs[r / t] + (r % t) f */
    size_t t, f;
    const float *p0, *p1;
    int affine;
} ck_row_src;

static inline const float *ck_src_row(const ck_row_src *s, size_t r) {
    return s->x ? s->x + r * s->f : s->seqs[r / s->t] + (r % s->t) * s->f;
}

/* Floats of scratch ck_bn_statistics needs for `rows` rows of f features (doubles, with
 * room to align them). */
size_t ck_bn_statistics_scratch(size_t rows, size_t f);
/* Batch mean and biased variance of the rows of `src` (f = src->f features): writes mean,
 * inv_std = 1 / sqrt(var + eps) and updates the moving statistics. scratch: as above. */
void ck_bn_statistics(ck_ctx *ctx, const ck_row_src *src, size_t rows, float eps, float momentum,
                      float *moving_mean, float *moving_var, float *mean, float *inv_std, float *scratch);

#endif
