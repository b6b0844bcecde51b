/* Private: the GEMM driver's blocking and jobs, shared by the drivers that run their own
 * A packing through it (convolution, Winograd, the fused LSTM input). */
#ifndef CK_GEMM_DRIVER_H
#define CK_GEMM_DRIVER_H

#include "ck_internal.h"

/* The fp32 GEMM's blocking is the context's (ctx->kc, ctx->mc_panels: from the cache sizes, see
 * ck_gemm_blocking); these bound it. The bf16 and int8 GEMMs keep CK_MC_PANELS. */
#define CK_MAX_KC 512
#define CK_MAX_MC_PANELS 32
#define CK_MC_PANELS 8
#define CK_MAX_MR 16
#define CK_MAX_NR 32

static inline size_t ck_npanels(size_t n, int nr) { return (n + (size_t)nr - 1) / (size_t)nr; }

/* The K block for a K of `len` under the context's kc: the fewest blocks, of equal size
 * (rounded up to 8), so no short last block pays C's reload for a few products. */
static inline size_t ck_kc_for(size_t len, size_t kc) {
    size_t nb = (len + kc - 1) / kc;
    if (nb <= 1) return kc;
    size_t b = ((len + nb - 1) / nb + 7) / 8 * 8;
    return b < kc ? b : kc;
}

/* Panels per N chunk for `tasks` M tiles (times independent problems) over `threads`: N is
 * split only when the M tiles cannot keep the threads busy. */
static inline size_t ck_gemm_panels_per_chunk(size_t tasks, size_t np, int threads) {
    size_t nch = 1;
    if (tasks < (size_t)threads * 2) nch = ck_min(np, ((size_t)threads * 4 + tasks - 1) / tasks);
    if (nch == 0) nch = 1;
    return (np + nch - 1) / nch;
}

/* Pack rows [0, m) x cols [0, kc) of row-major A into MR-row panels
 * (k-major inside a panel, zero-filled beyond m). */
void ck_pack_a(size_t m, size_t kc, const float *A, size_t lda, int mr, float *Ap);

/* A packing callback: rows [m0, m0+m) x columns [k0, k0+kc) of op(A) into MR-row panels
 * (k-major inside a panel, zero rows beyond m). */
typedef void (*ck_pack_fn)(const void *src, size_t m0, size_t m, size_t k0, size_t kc, int mr, float *Ap);

typedef struct {
    const ck_kernel_table *k;
    size_t M, N, K;
    const void *src;
    ck_pack_fn pack;
    const float *A;   /* when set, A is read in place (row pointers, lda) and `pack` is unused */
    size_t lda;
    const float *Bp;
    const float *bias;
    ck_activation act;
    float *C;
    size_t ldc;
    float *workspace;
    size_t kc, mcp;   /* K block, micro-panels per M tile (from the context) */
    size_t mtiles, nchunks, panels_per_chunk;   /* M tiles: whole micro-panels, see ck_gemm_tile */
    int accumulate;   /* C += A B instead of C = A B */
} ck_gemm_job;

/* Rows [*m0, *m0 + *m) of M tile `mt`: the tiles share M's micro-panels as evenly as they can
 * (at most j->mcp each). A row's sums do not depend on its tile, so the split never
 * changes a bit. */
static inline void ck_gemm_tile(const ck_gemm_job *j, size_t mt, size_t *m0, size_t *m) {
    size_t mr = (size_t)j->k->mr, panels = ck_npanels(j->M, (int)mr);
    size_t a = mt * panels / j->mtiles * mr, b = ck_min((mt + 1) * panels / j->mtiles * mr, j->M);
    *m0 = a;
    *m = b - a;
}

/* Rows [m0, m0+m) x panels [p0, p1) of C, all of K; Ap: one thread's A block. */
void ck_gemm_block(const ck_gemm_job *j, size_t m0, size_t m, size_t p0, size_t p1, float *Ap);
/* Sets the blocking, mtiles and the N split for ctx's threads; `outer` independent problems
 * share the pool. */
void ck_gemm_plan(ck_gemm_job *j, const ck_ctx *ctx, size_t outer);
/* A thread's A block in a workspace: (mr * mcp + 1) * kc floats, the last kc zeros. */
static inline float *ck_gemm_thread_block(const ck_gemm_job *j, float *workspace, int thread) {
    return workspace + (size_t)thread * ((size_t)j->k->mr * j->mcp + 1) * j->kc;
}

/* C[M, N] (+)= A B with A produced by `pack` (so A can be computed while it is packed) and
 * B packed by ck_pack_b; bias and act as ck_gemm_packed. workspace: ck_gemm_workspace_size. */
void ck_gemm_custom_a(ck_ctx *ctx, size_t M, size_t N, size_t K, ck_pack_fn pack, const void *src, const float *Bp,
                      const float *bias, ck_activation act, int accumulate, float *C, size_t ldc, float *workspace);

#endif
