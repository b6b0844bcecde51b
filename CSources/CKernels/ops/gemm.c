/* GEMM driver: B packed once into NR-wide panels (k-major), A packed per task into
 * MR-row panels or (ck_kernel_table.a_in_place) read in place, K blocked by the context's kc.
 * Each C element is accumulated by one microkernel sequence in k order, so any split over M
 * and N gives bit-identical results.
 * C [M, N] = op(A) [M, K] x B [K, N], all row-major. */
#include "ck_gemm_driver.h"
#include <string.h>

size_t ck_packed_b_size(const ck_ctx *ctx, size_t K, size_t N) {
    size_t k = K ? K : 1;
    return ck_npanels(N, ctx->k->nr) * k * (size_t)ctx->k->nr;
}

void ck_pack_b(const ck_ctx *ctx, size_t K, size_t N, const float *B, size_t ldb, float *packed) {
    int nr = ctx->k->nr;
    size_t np = ck_npanels(N, nr);
    for (size_t p = 0; p < np; p++) {
        size_t c0 = p * (size_t)nr, cnt = N - c0 < (size_t)nr ? N - c0 : (size_t)nr;
        for (size_t k = 0; k < K; k++) {
            float *dst = packed + (p * K + k) * (size_t)nr;
            memcpy(dst, B + k * ldb + c0, cnt * sizeof(float));
            for (size_t j = cnt; j < (size_t)nr; j++) dst[j] = 0.0f;
        }
    }
}

void ck_pack_a(size_t m, size_t kc, const float *A, size_t lda, int mr, float *Ap) {
    size_t mp = (m + (size_t)mr - 1) / (size_t)mr * (size_t)mr;
    for (size_t r = 0; r < mp; r++) {
        float *dst = Ap + (r / (size_t)mr) * kc * (size_t)mr + r % (size_t)mr;
        if (r < m) {
            const float *src = A + r * lda;
            for (size_t k = 0; k < kc; k++) dst[k * (size_t)mr] = src[k];
        } else {
            for (size_t k = 0; k < kc; k++) dst[k * (size_t)mr] = 0.0f;
        }
    }
}

/* Per thread: an A block of MR * mc_panels rows x kc, then kc zeros. */
size_t ck_gemm_workspace_size(const ck_ctx *ctx) {
    return (size_t)ctx->threads * ((size_t)ctx->k->mr * ctx->mc_panels + 1) * ctx->kc;
}

void ck_gemm_block(const ck_gemm_job *j, size_t m0, size_t m, size_t p0, size_t p1, float *Ap) {
    int mr = j->k->mr, nr = j->k->nr;
    size_t K = j->K, pc = 0, KC = ck_kc_for(K, j->kc), mp = ck_npanels(m, mr) * (size_t)mr;
    const float *rows[CK_MAX_MC_PANELS * CK_MAX_MR];
    if (j->A) {   /* rows past m read the block's zeros */
        float *zeros = Ap + (size_t)mr * j->mcp * j->kc;
        memset(zeros, 0, j->kc * sizeof(float));
        for (size_t i = 0; i < mp; i++) rows[i] = i < m ? j->A + (m0 + i) * j->lda : zeros;
    }
    do {
        size_t kc = ck_min(KC, K - pc);
        if (!j->A) j->pack(j->src, m0, m, pc, kc, mr, Ap);
        int first = pc == 0 && !j->accumulate, last = pc + kc >= K;
        for (size_t p = p0; p < p1; p++) {
            const float *Bpp = j->Bp + p * K * (size_t)nr + pc * (size_t)nr;
            size_t n = ck_min((size_t)nr, j->N - p * (size_t)nr);
            const float *bias = j->bias ? j->bias + p * (size_t)nr : NULL;
            for (size_t r = 0; r < m; r += (size_t)mr) {
                float *C = j->C + (m0 + r) * j->ldc + p * (size_t)nr;
                size_t mm = ck_min((size_t)mr, m - r);
                if (j->A)
                    j->k->gemm_ukernel_indirect(kc, rows + r, Bpp, C, j->ldc, mm, n, first, last, bias, j->act);
                else
                    j->k->gemm_ukernel(kc, Ap + (r / (size_t)mr) * kc * (size_t)mr, Bpp, C, j->ldc, mm, n, first,
                                       last, bias, j->act);
            }
        }
        pc += kc;
        if (j->A && pc < K)
            for (size_t i = 0; i < m; i++) rows[i] += kc;
    } while (pc < K);
}

static void gemm_task(size_t t, int thread, void *arg) {
    const ck_gemm_job *j = arg;
    size_t mt = t / j->nchunks, nc = t % j->nchunks, m0, m;
    ck_gemm_tile(j, mt, &m0, &m);
    size_t np = ck_npanels(j->N, j->k->nr);
    size_t p0 = nc * j->panels_per_chunk, p1 = ck_min(np, p0 + j->panels_per_chunk);
    if (p0 >= p1) return;
    ck_gemm_block(j, m0, m, p0, p1, ck_gemm_thread_block(j, j->workspace, thread));
}

/* Splits N only when the M tiles (times `outer` images and groups) cannot keep the
 * threads busy. While there are few tasks, their count is rounded up to a multiple of the
 * threads (smaller tiles), so no thread idles through the last one: 1024 rows on 2 threads
 * as 12 tiles of 7-8 panels, not 11 of 8 and one thread's last 8 alone. */
void ck_gemm_plan(ck_gemm_job *j, const ck_ctx *ctx, size_t outer) {
    int threads = ctx->threads;
    j->kc = ctx->kc;
    j->mcp = ctx->mc_panels;
    size_t panels = ck_npanels(j->M, j->k->mr), t = (size_t)threads;
    size_t np = ck_npanels(j->N, j->k->nr);
    j->mtiles = (panels + j->mcp - 1) / j->mcp;
    /* only at the tail: fewer tiles than threads are balanced by splitting N instead, which
     * reads each B panel once (a batch of 32 split in M read B twice: 1.19x slower training) */
    if (j->mtiles * outer >= t && j->mtiles * outer < 8 * t)
        while ((j->mtiles * outer) % t != 0 && j->mtiles < panels) j->mtiles++;
    j->panels_per_chunk = ck_gemm_panels_per_chunk(j->mtiles * outer, np, threads);
    j->nchunks = (np + j->panels_per_chunk - 1) / j->panels_per_chunk;
}

/* On x86 A is read in place (row pointers), not packed: packing cost up to a tenth of the
 * time when N is small or split (Zen 5, 2 threads, kc 512: 1024^3 455 -> 485 GFLOPS,
 * 3136 x 256 x 2304 389 -> 492); see ck_kernel_table.a_in_place. */
typedef struct { const float *A; size_t lda; } plain_src;

static void pack_plain(const void *src, size_t m0, size_t m, size_t k0, size_t kc, int mr, float *Ap) {
    const plain_src *s = src;
    ck_pack_a(m, kc, s->A + m0 * s->lda + k0, s->lda, mr, Ap);
}

void ck_gemm_packed(ck_ctx *ctx, size_t M, size_t N, size_t K, const float *A, size_t lda,
                    const float *Bp, const float *bias, ck_activation act, float *C, size_t ldc,
                    float *workspace) {
    if (M == 0 || N == 0) return;
    plain_src s = {A, lda};
    ck_gemm_job j = {.k = ctx->k, .M = M, .N = N, .K = K, .src = &s, .pack = pack_plain,
                  .A = ctx->k->a_in_place ? A : NULL, .lda = lda, .Bp = Bp, .bias = bias, .act = act, .C = C,
                  .ldc = ldc, .workspace = workspace};
    ck_gemm_plan(&j, ctx, 1);
    ck_pool_run(ctx->pool, j.mtiles * j.nchunks, gemm_task, &j);
}

/* ---- general GEMM for training: transposes, accumulation, B packed per call ---- */

typedef struct { const float *A; size_t lda; int trans; } trans_src;

/* A^T rows: element (i, k) of op(A) = A[k * lda + i]. */
static void pack_trans(const void *src, size_t m0, size_t m, size_t k0, size_t kc, int mr, float *Ap) {
    const trans_src *s = src;
    if (!s->trans) { ck_pack_a(m, kc, s->A + m0 * s->lda + k0, s->lda, mr, Ap); return; }
    /* row by row of A (each row's page touched once), MR values into each panel */
    for (size_t k = 0; k < kc; k++) {
        const float *row = s->A + (k0 + k) * s->lda + m0;
        for (size_t p0 = 0; p0 < m; p0 += (size_t)mr) {
            float *dst = Ap + p0 * kc + k * (size_t)mr;
            size_t cnt = m - p0 < (size_t)mr ? m - p0 : (size_t)mr;
            memcpy(dst, row + p0, cnt * sizeof(float));
            for (size_t r = cnt; r < (size_t)mr; r++) dst[r] = 0.0f;
        }
    }
}

size_t ck_gemm_ex_workspace_size(const ck_ctx *ctx, size_t K, size_t N) {
    return ck_packed_b_size(ctx, K, N) + ck_gemm_workspace_size(ctx);
}

void ck_gemm_ex(ck_ctx *ctx, int trans_a, int trans_b, size_t M, size_t N, size_t K, const float *A, size_t lda,
                const float *B, size_t ldb, int accumulate, float *C, size_t ldc, float *workspace) {
    if (M == 0 || N == 0) return;
    int nr = ctx->k->nr;
    float *Bp = workspace;
    size_t np = ck_npanels(N, nr);
    if (!trans_b) {
        ck_pack_b(ctx, K, N, B, ldb, Bp);
    } else {   /* op(B)[k, n] = B[n * ldb + k]: transposed in 16-deep blocks that stay in L1 */
        for (size_t p = 0; p < np; p++)
            for (size_t k0 = 0; k0 < K; k0 += 16) {
                size_t kn = K - k0 < 16 ? K - k0 : 16;
                float *dst = Bp + (p * K + k0) * (size_t)nr;
                for (int jj = 0; jj < nr; jj++) {
                    size_t col = p * (size_t)nr + (size_t)jj;
                    if (col < N) {
                        const float *src = B + col * ldb + k0;
                        for (size_t k = 0; k < kn; k++) dst[k * (size_t)nr + (size_t)jj] = src[k];
                    } else {
                        for (size_t k = 0; k < kn; k++) dst[k * (size_t)nr + (size_t)jj] = 0.0f;
                    }
                }
            }
    }
    trans_src s = {A, lda, trans_a};
    ck_gemm_job j = {.k = ctx->k, .M = M, .N = N, .K = K, .src = &s, .pack = pack_trans, .Bp = Bp,
                  .A = trans_a || !ctx->k->a_in_place ? NULL : A, .lda = lda, .act = CK_ACT_NONE, .C = C,
                  .ldc = ldc, .workspace = workspace + ck_packed_b_size(ctx, K, N), .accumulate = accumulate};
    ck_gemm_plan(&j, ctx, 1);
    ck_pool_run(ctx->pool, j.mtiles * j.nchunks, gemm_task, &j);
}

void ck_gemm_custom_a(ck_ctx *ctx, size_t M, size_t N, size_t K, ck_pack_fn pack, const void *src, const float *Bp,
                      const float *bias, ck_activation act, int accumulate, float *C, size_t ldc, float *workspace) {
    if (M == 0 || N == 0) return;
    ck_gemm_job j = {.k = ctx->k, .M = M, .N = N, .K = K, .src = src, .pack = pack, .Bp = Bp, .bias = bias,
                  .act = act, .C = C, .ldc = ldc, .workspace = workspace, .accumulate = accumulate};
    ck_gemm_plan(&j, ctx, 1);
    ck_pool_run(ctx->pool, j.mtiles * j.nchunks, gemm_task, &j);
}
