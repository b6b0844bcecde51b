/* The only file that includes <cblas.h>. CK_NO_BLAS (the qemu harness, which has no
 * aarch64 OpenBLAS) falls back to the scalar reference. */
#include "ck_internal.h"
#ifndef CK_NO_BLAS
#include <cblas.h>
#endif

void ck_gemm_openblas(ck_ctx *ctx, size_t M, size_t N, size_t K, const float *A, size_t lda,
                      const float *B, size_t ldb, float *C, size_t ldc) {
#ifndef CK_NO_BLAS
    openblas_set_num_threads(ctx->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)N, (blasint)K, 1.0f,
                A, (blasint)lda, B, (blasint)ldb, 0.0f, C, (blasint)ldc);
#else
    ck_gemm_ref(M, N, K, A, lda, B, ldb, NULL, CK_ACT_NONE, C, ldc);
#endif
}
