/* Private to CKernels: the context, the dispatch table type and the thread pool. Drivers
 * reach microkernels only through the table; other private headers are per subsystem
 * (ck_gemm_driver.h, ck_winograd.h, ck_batchnorm.h, ck_isa_symbols.h). */
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
/* Depthwise conv (driven by ops/conv2d.c) for output row oh of one image: in_img [h, w, cin],
 * w [kh, kw, cin], out_row [ow_count, cin]; taps summed in (ky, kx) order, vectorised over
 * channels, then bias and act. */
typedef void (*ck_dw_row_fn)(const ck_conv2d_desc *d, const float *in_img, const float *w,
                             const float *bias, int oh, int ow_count, float *out_row);

/* Winograd tile transforms over n channels (internal/ck_winograd_body.h): input px[a * a]
 * pixel pointers -> a * a planes at v + xi * xs; output planes m + xi * xs -> the rows x cols
 * part of a t x t output tile at o[r * t + c], plus bias, then act. */
typedef void (*ck_wino_in_fn)(const float *const *px, float *v, size_t xs, size_t n);
typedef void (*ck_wino_out_fn)(const float *m, size_t xs, float *const *o, int rows, int cols, const float *bias,
                               ck_activation act, size_t n);

/* One sequence of the LSTM recurrence (internal/ck_lstm_cell.h). */
typedef void (*ck_lstm_fwd_seq_fn)(size_t t, size_t u, const float *U, float *gates, float *h, float *c);
typedef void (*ck_lstm_bwd_seq_fn)(size_t t, size_t u, const float *UT, const float *gates, const float *c,
                                   const float *dh, float *dz, float *scratch);

/* n variables of Adadelta (internal/ck_adadelta_body.h). */
typedef void (*ck_adadelta_fn)(size_t n, float *w, const float *g, float *Eg, float *Ed, float lr, float rho,
                               float eps);
/* `iters` iterations of independent FMA chains; returns the FLOPs done. */
typedef uint64_t (*ck_peak_fn)(uint64_t iters);

typedef struct {
    ck_isa isa;
    int mr, nr;
    int a_in_place;   /* plain GEMMs read A through row pointers (the indirect kernel) rather
                       * than packing it: where that kernel costs no more instructions per k */
    ck_gemm_ukernel_fn gemm_ukernel;
    ck_gemm_indirect_fn gemm_ukernel_indirect;
    ck_unary_fn relu;
    ck_binary_fn add;
    ck_rowchan_fn affine;   /* p0 = scale, p1 = shift */
    ck_rowchan_fn prelu;    /* p0 = alpha, p1 unused */
    ck_dw_row_fn dw_row;    /* depthwise conv, channel multiplier 1 */
    ck_wino_in_fn wino_in4, wino_in6, wino_in8;     /* F(2x2), F(4x4), F(6x6) (3x3) input tiles */
    ck_wino_out_fn wino_out2, wino_out4, wino_out6; /* and their output tiles */
    ck_lstm_fwd_seq_fn lstm_fwd_seq;
    ck_lstm_bwd_seq_fn lstm_bwd_seq;
    ck_adadelta_fn adadelta;
    void (*bf16_row)(const float *x, size_t n, uint16_t *out);   /* bf16 rounding (ck_bf16_row_body.h) */
    ck_peak_fn peak_loop;
} ck_kernel_table;

/* The table for an ISA (core/dispatch.c), or NULL if not compiled in for this architecture. */
const ck_kernel_table *ck_table_for(ck_isa isa);

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
    ck_bf16_kind bf16;   /* the bf16 GEMM's kernel family (ops/gemm_bf16.c); read it through
                          * ck_gemm_bf16_kind: CK_BF16_BEST until a bf16 GEMM asks */
    ck_int8_kind int8;   /* the int8 GEMM's kernel (ops/gemm_int8.c) */
    size_t kc, mc_panels;   /* the fp32 GEMM's K block and micro-panels per M tile (ck_gemm_blocking) */
    size_t l2, l3;          /* bytes of L2 per core and of L3 (ck_gemm_blocking; defaults if unknown) */
};

/* Sets ctx->kc and ctx->mc_panels from this CPU's L1d and L2 sizes, and ctx->l2 and ctx->l3
 * (CK_KC, CK_MC_PANELS and CK_L3_BYTES in the environment override them). Neither changes a bit: each C element keeps its k order, and
 * C goes through memory in fp32 between K blocks. */
void ck_gemm_blocking(ck_ctx *ctx);

/* A context's bf16 kind before first use: the best for its ISA, decided then (it may time
 * the CPU, which start-up should not pay for fp32 work). */
#define CK_BF16_BEST ((ck_bf16_kind)-1)
/* The best bf16 kind for an ISA on this CPU (ops/gemm_bf16.c). */
ck_bf16_kind ck_bf16_kind_best(ck_isa isa);
/* This thread's CPU time in seconds (time preempted by other tenants does not count). */
double ck_thread_cpu_seconds(void);
/* The best int8 kind for an ISA on this CPU (ops/gemm_int8.c). */
ck_int8_kind ck_int8_kind_best(ck_isa isa);

static inline size_t ck_min(size_t a, size_t b) { return a < b ? a : b; }

#endif
