/* CPU feature detection and the context (the tables are in core/dispatch.c). */
#include "ck_internal.h"
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

const char *ck_isa_name(ck_isa isa) {
    switch (isa) {
    case CK_ISA_SCALAR: return "scalar";
    case CK_ISA_AVX2: return "avx2";
    case CK_ISA_AVX512: return "avx512";
    case CK_ISA_NEON: return "neon";
    default: return "unknown";
    }
}

int ck_isa_supported(ck_isa isa) {
    switch (isa) {
    case CK_ISA_SCALAR: return 1;
#if defined(__x86_64__)
    case CK_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CK_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
#if defined(__aarch64__)
    case CK_ISA_NEON: return 1; /* baseline on AArch64 */
#endif
    default: return 0;
    }
}

ck_isa ck_isa_best(void) {
    ck_isa best = CK_ISA_SCALAR;
    for (int i = CK_ISA_COUNT - 1; i > 0; i--)
        if (ck_isa_supported((ck_isa)i)) { best = (ck_isa)i; break; }
    const char *force = getenv("CK_FORCE_ISA");
    if (force && *force) {
        for (int i = 0; i < CK_ISA_COUNT; i++)
            if (strcmp(force, ck_isa_name((ck_isa)i)) == 0 && ck_isa_supported((ck_isa)i) &&
                (i == CK_ISA_SCALAR || i <= (int)best))
                return (ck_isa)i;
    }
    return best;
}

int ck_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int ck_built_with_fast_math(void) {
#if defined(__FAST_MATH__)
    return 1;
#else
    return 0;
#endif
}

#if defined(__GLIBC__)
static void set_malloc_policy(void) { mallopt(M_MMAP_THRESHOLD, 1 << 20); }
#endif

ck_ctx *ck_ctx_create(ck_isa isa, int threads) {
    if (!ck_isa_supported(isa)) return NULL;
#if defined(__GLIBC__)
    /* Tensors of 1 MiB and more always get their own mapping, returned to the system on
     * free; glibc's sliding threshold would otherwise keep freed activations in the heap
     * and inflate the resident size. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, set_malloc_policy);
#endif
    const ck_kernel_table *k = ck_table_for(isa);
    if (!k) return NULL;
    if (threads <= 0) threads = ck_cpu_count();
    if (threads > 256) threads = 256;
    ck_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->k = k;
    ctx->threads = threads;
    ctx->bf16 = CK_BF16_BEST;
    ctx->int8 = ck_int8_kind_best(isa);
    ctx->pool = ck_pool_create(threads);
    if (!ctx->pool) { free(ctx); return NULL; }
    return ctx;
}

void ck_ctx_destroy(ck_ctx *ctx) {
    if (!ctx) return;
    ck_pool_destroy(ctx->pool);
    free(ctx);
}

ck_isa ck_ctx_isa(const ck_ctx *ctx) { return ctx->k->isa; }
int ck_ctx_threads(const ck_ctx *ctx) { return ctx->threads; }
int ck_gemm_mr(const ck_ctx *ctx) { return ctx->k->mr; }
int ck_gemm_nr(const ck_ctx *ctx) { return ctx->k->nr; }
