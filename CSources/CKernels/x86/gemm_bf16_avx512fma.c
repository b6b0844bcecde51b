/* The bf16 GEMM microkernel by AVX-512 FMAs: VDPBF16PS's steps emulated exactly, 12 x 32 as
 * the native kernel. Each bf16 is widened to fp32 (exact), whose products are exact, so one
 * fused multiply-add per half pair with the MXCSR's DAZ and FTZ set gives the instruction's
 * bits (checked against ref/gemm_bf16_ref.c in the kernel check, denormals, ties and
 * overflows included). Where VDPBF16PS issues at a quarter of the FMA rate (measured on an
 * Intel Xeon with AVX512_BF16: 85.6 against 173.8 GFLOPS per core) this is about twice as
 * fast; ops/gemm_bf16.c chooses by measuring both at start. */
#if defined(__x86_64__)
#include "ck_bf16.h"
#include "ck_internal.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl"))), apply_to = function)

#define MR CK_BF16_MR
#define NR CK_BF16_NR
#define CHUNK 64 /* k pairs of A widened at a time */

void ck_gemm_bf16_uk_avx512fma(size_t kp, const uint32_t *A, const uint32_t *B, float *C, size_t ldc, size_t m,
                               size_t n, int first, int last, const float *bias, ck_activation act) {
    /* no floating-point operation may move across the MXCSR changes */
#pragma STDC FENV_ACCESS ON
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    const __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);
    /* A's pairs widened: hi[q][i], lo[q][i], 16 floats per q so one masked store fills a row */
    float hi[CHUNK][16], lo[CHUNK][16];
    __m512 c0[MR], c1[MR];
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u); /* FTZ | DAZ, as VDPBF16PS */
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if (!first && (size_t)i < m) {
            c0[i] = _mm512_maskz_loadu_ps(m0, C + i * ldc);
            c1[i] = _mm512_maskz_loadu_ps(m1, C + i * ldc + 16);
        } else {
            c0[i] = _mm512_setzero_ps();
            c1[i] = _mm512_setzero_ps();
        }
    }
    for (size_t q0 = 0; q0 < kp; q0 += CHUNK) {
        size_t qn = kp - q0 < CHUNK ? kp - q0 : CHUNK;
        for (size_t q = 0; q < qn; q++) {
            __m512i a = _mm512_maskz_loadu_epi32((__mmask16)((1u << MR) - 1), A + q * MR);
            _mm512_storeu_si512(hi[q], _mm512_and_si512(a, hi_mask));
            _mm512_storeu_si512(lo[q], _mm512_slli_epi32(a, 16));
        }
        for (size_t q = 0; q < qn; q++) {
            __m512i b0 = _mm512_loadu_si512(B), b1 = _mm512_loadu_si512(B + 16);
            __m512 b0h = _mm512_castsi512_ps(_mm512_and_si512(b0, hi_mask));
            __m512 b1h = _mm512_castsi512_ps(_mm512_and_si512(b1, hi_mask));
            __m512 b0l = _mm512_castsi512_ps(_mm512_slli_epi32(b0, 16));
            __m512 b1l = _mm512_castsi512_ps(_mm512_slli_epi32(b1, 16));
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                __m512 ah = _mm512_set1_ps(hi[q][i]);
                c0[i] = _mm512_fmadd_ps(ah, b0h, c0[i]);
                c1[i] = _mm512_fmadd_ps(ah, b1h, c1[i]);
            }
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                __m512 al = _mm512_set1_ps(lo[q][i]);
                c0[i] = _mm512_fmadd_ps(al, b0l, c0[i]);
                c1[i] = _mm512_fmadd_ps(al, b1l, c1[i]);
            }
            B += NR;
        }
        A += qn * MR;
    }
    _mm_setcsr(csr); /* bias and ReLU in the caller's mode, as the native kernel */
    if (last) {
        if (bias) {
            __m512 bb0 = _mm512_maskz_loadu_ps(m0, bias), bb1 = _mm512_maskz_loadu_ps(m1, bias + 16);
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                c0[i] = _mm512_add_ps(c0[i], bb0);
                c1[i] = _mm512_add_ps(c1[i], bb1);
            }
        }
        if (act == CK_ACT_RELU) {
            __m512 z = _mm512_setzero_ps();
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                c0[i] = _mm512_max_ps(c0[i], z);
                c1[i] = _mm512_max_ps(c1[i], z);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if ((size_t)i < m) {
            _mm512_mask_storeu_ps(C + i * ldc, m0, c0[i]);
            _mm512_mask_storeu_ps(C + i * ldc + 16, m1, c1[i]);
        }
    }
}

#pragma clang attribute pop
#endif
