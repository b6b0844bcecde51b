/* OpenBLAS's SGEMM, the peer of PainFace's GEMM in the benchmarks. Only painface-bench links
 * OpenBLAS: the shipped library and command line do not need it. */
#ifndef CB_OPENBLAS_H
#define CB_OPENBLAS_H

#include <stddef.h>

/* C[M, N] = A[M, K] B[K, N], row-major with leading dimensions, on `threads` OpenBLAS threads. */
void cb_sgemm(int threads, size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
              float *C, size_t ldc);

#endif
