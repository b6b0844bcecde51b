/* The only file that includes <cblas.h>. */
#include "cb_openblas.h"
#include <cblas.h>

void cb_sgemm(int threads, size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
              float *C, size_t ldc) {
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)N, (blasint)K, 1.0f,
                A, (blasint)lda, B, (blasint)ldb, 0.0f, C, (blasint)ldc);
}
