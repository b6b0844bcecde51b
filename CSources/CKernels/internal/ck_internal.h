/* Private to CKernels: the dispatch table, the thread pool and helpers. */
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include "ck_kernels.h"

#if defined(__FAST_MATH__)
#error "CKernels must not be built with fast-math: results must be reproducible"
#endif

/* GEMM microkernels. B: kc x NR floats (k-major, a packed panel).
 * gemm_ukernel: A packed, kc x MR floats (k-major, MR values per k).
 * gemm_ukernel_indirect: row i of A at rows[i][0..kc) (implicit convolution); all MR
 * pointers must be valid (rows past m point at zeros).
 * C tile: m rows x n cols (m <= MR, n <= NR) at C with leading dimension ldc.
 * first: start from zero (else continue from C); last: add bias[0..n) and apply act. */
typedef void (*ck_gemm_ukernel_fn)(size_t kc, const float *A, const float *B, float *C, size_t ldc,
                                   size_t m, size_t n, int first, int last, const float *bias,
                                   ck_activation act);
typedef void (*ck_gemm_indirect_fn)(size_t kc, const float *const *rows, const float *B, float *C,
                                    size_t ldc, size_t m, size_t n, int first, int last,
                                    const float *bias, ck_activation act);
typedef void (*ck_unary_fn)(size_t count, const float *in, float *out);
typedef void (*ck_binary_fn)(size_t count, const float *a, const float *b, float *out);
typedef void (*ck_rowchan_fn)(size_t rows, size_t c, const float *in, const float *p0,
                              const float *p1, float *out);
/* Depthwise conv for one output row: acc over taps of in * w, vectorised over channels.
 * in_img: one image [h, w, cin]; w: [kh, kw, cin]; out_row: ow_count x cin floats of output row oh. */
typedef void (*ck_dw_row_fn)(const ck_conv2d_desc *d, const float *in_img, const float *w,
                             const float *bias, int oh, int ow_count, float *out_row);

/* One sequence of the LSTM recurrence (internal/ck_lstm_cell.h). */
typedef void (*ck_lstm_fwd_seq_fn)(size_t t, size_t u, const float *U, float *gates, float *h, float *c);
typedef void (*ck_lstm_bwd_seq_fn)(size_t t, size_t u, const float *UT, const float *gates, const float *c,
                                   const float *dh, float *dz, float *scratch);

typedef void (*ck_adadelta_fn)(size_t n, float *w, const float *g, float *Eg, float *Ed, float lr, float rho,
                               float eps);

typedef struct {
    ck_isa isa;
    int mr, nr;
    ck_gemm_ukernel_fn gemm_ukernel;
    ck_gemm_indirect_fn gemm_ukernel_indirect;
    ck_unary_fn relu;
    ck_binary_fn add;
    ck_rowchan_fn affine;   /* p0 = scale, p1 = shift */
    ck_rowchan_fn prelu;    /* p0 = alpha, p1 unused */
    ck_dw_row_fn dw_row;    /* depthwise conv, channel multiplier 1 */
    ck_lstm_fwd_seq_fn lstm_fwd_seq;
    ck_lstm_bwd_seq_fn lstm_bwd_seq;
    ck_adadelta_fn adadelta;
} ck_kernel_table;

#define CK_LSTM_DECLARE(sfx) \
    void ck_lstm_fwd_seq_##sfx(size_t, size_t, const float *, float *, float *, float *); \
    void ck_lstm_bwd_seq_##sfx(size_t, size_t, const float *, const float *, const float *, const float *, float *, float *); \
    void ck_adadelta_seq_##sfx(size_t, float *, const float *, float *, float *, float, float, float);

/* The table for an ISA, or NULL if not compiled in for this architecture. */
const ck_kernel_table *ck_table_for(ck_isa isa);

extern const ck_kernel_table ck_table_scalar;
#if defined(__x86_64__)
extern const ck_kernel_table ck_table_avx2;
extern const ck_kernel_table ck_table_avx512;
#endif
#if defined(__aarch64__)
extern const ck_kernel_table ck_table_neon;
#endif

/* ---- thread pool ---- */
typedef struct ck_pool ck_pool;
/* fn(task, thread, arg): tasks [0, ntasks) spread over the pool, thread in [0, threads). */
typedef void (*ck_task_fn)(size_t task, int thread, void *arg);
ck_pool *ck_pool_create(int threads);
void ck_pool_destroy(ck_pool *p);
void ck_pool_run(ck_pool *p, size_t ntasks, ck_task_fn fn, void *arg);

struct ck_ctx {
    const ck_kernel_table *k;
    int threads;
    ck_pool *pool;
};

/* FMA peak loops: run `iters` iterations of independent FMA chains, return FLOPs. */
uint64_t ck_peak_loop_scalar(uint64_t iters);
#if defined(__x86_64__)
uint64_t ck_peak_loop_avx2(uint64_t iters);
uint64_t ck_peak_loop_avx512(uint64_t iters);
#endif
#if defined(__aarch64__)
uint64_t ck_peak_loop_neon(uint64_t iters);
#endif

static inline size_t ck_min(size_t a, size_t b) { return a < b ? a : b; }

#endif
