/* CPU feature detection and the context (the tables are in core/dispatch.c). */
#include "ck_gemm_driver.h"
#include <stdlib.h>
#include <stdio.h>
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

/* A data or unified cache's size in bytes at `level` (sysfs, then glibc's sysconf), 0 if unknown. */
static size_t cache_bytes(int level) {
    for (int i = 0; i < 8; i++) {
        char path[96], buf[32];
        int lv = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) break;
        if (fscanf(f, "%d", &lv) != 1) lv = 0;
        fclose(f);
        if (lv != level) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!(f = fopen(path, "r"))) continue;
        int ok = fgets(buf, sizeof buf, f) && strncmp(buf, "Instruction", 11) != 0;
        fclose(f);
        if (!ok) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!(f = fopen(path, "r"))) continue;
        unsigned long v = 0;
        char unit = 0;
        int n = fscanf(f, "%lu%c", &v, &unit);
        fclose(f);
        if (n >= 1 && v > 0) return (size_t)v * (unit == 'K' ? 1024u : unit == 'M' ? 1048576u : 1u);
    }
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
    long v = sysconf(level == 1 ? _SC_LEVEL1_DCACHE_SIZE : level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE);
    if (v > 0) return (size_t)v;
#endif
    return 0;
}

/* The sizes once per process: sysfs is read by every context otherwise (the bf16 Winograd
 * packing creates one per layer). */
static size_t cache_l1, cache_l2, cache_l3;
static void read_cache_sizes(void) {
    cache_l1 = cache_bytes(1);
    cache_l2 = cache_bytes(2);
    cache_l3 = cache_bytes(3);
}

static size_t env_size(const char *name, size_t lo, size_t hi, size_t dflt) {
    const char *e = getenv(name);
    if (!e || !*e) return dflt;
    char *end = NULL;
    unsigned long v = strtoul(e, &end, 10);
    if (*end || v < lo || v > hi) return dflt;
    return (size_t)v;
}

/* An A micro-panel (MR x kc) takes half of L1d, B's micro-panel streams from L2, and a
 * thread's M tile of A a third of L2. Measured on Zen 5 (48 KiB, 1 MiB; 2 threads): kc 256 ->
 * 512 took 1024^3 from 445 to 485 GFLOPS; M tiles of 8 to 21 micro-panels were within noise,
 * and smaller tiles balance small M better. */
void ck_gemm_blocking(ck_ctx *ctx) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_cache_sizes);
    size_t l1 = cache_l1, l2 = cache_l2, l3 = cache_l3;
    if (l1 < 16384) l1 = 32768;
    if (l2 < 131072) l2 = 524288;
    if (l3 < l2) l3 = 4 * l2;
    ctx->l2 = l2;
    ctx->l3 = env_size("CK_L3_BYTES", 65536, (size_t)1 << 40, l3);   /* tests: Winograd's chunk schedule */
    size_t mr = (size_t)ctx->k->mr;
    size_t kc = l1 / 2 / (mr * sizeof(float)) / 32 * 32;
    kc = kc < 128 ? 128 : kc > CK_MAX_KC ? CK_MAX_KC : kc;
    ctx->kc = env_size("CK_KC", 16, CK_MAX_KC, kc);
    size_t mcp = l2 / 3 / (mr * ctx->kc * sizeof(float));
    mcp = mcp < 4 ? 4 : mcp > CK_MAX_MC_PANELS ? CK_MAX_MC_PANELS : mcp;
    ctx->mc_panels = env_size("CK_MC_PANELS", 1, CK_MAX_MC_PANELS, mcp);
}

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
    ck_gemm_blocking(ctx);
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
size_t ck_gemm_kc(const ck_ctx *ctx) { return ctx->kc; }
size_t ck_gemm_mc(const ck_ctx *ctx) { return ctx->mc_panels * (size_t)ctx->k->mr; }
