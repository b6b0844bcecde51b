/*
 * CKernels: the compute core of PainFace.
 *
 * Conventions for every op:
 *  - float32, images in NHWC (channels last), matrices row-major;
 *  - outputs are overwritten unless the comment says "accumulates";
 *  - inputs and outputs must not alias unless the comment says so;
 *  - C never allocates behind the caller: ops that need scratch memory take a
 *    workspace whose size a *_workspace_size() function gives;
 *  - a ck_ctx selects the instruction set and owns the thread pool. Results do
 *    not depend on the thread count: every output element is computed by one
 *    fixed sequence of operations, whichever thread runs it.
 */
#ifndef CK_KERNELS_H
#define CK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- instruction sets and context ---------------------------------------- */

typedef enum {
    CK_ISA_SCALAR = 0,
    CK_ISA_AVX2 = 1,    /* AVX2 + FMA */
    CK_ISA_AVX512 = 2,  /* AVX-512 F/BW/DQ/VL */
    CK_ISA_NEON = 3,
    CK_ISA_COUNT = 4
} ck_isa;

/* The best ISA this CPU and OS support, lowered by the environment variable
 * CK_FORCE_ISA=scalar|avx2|avx512|neon (it can only lower the choice). */
ck_isa ck_isa_best(void);
/* 1 if this CPU can run `isa`. */
int ck_isa_supported(ck_isa isa);
const char *ck_isa_name(ck_isa isa);

typedef struct ck_ctx ck_ctx;

/* Creates a context using `isa` (must be supported) and `threads` threads
 * (0 = number of online CPUs). Returns NULL on failure. */
ck_ctx *ck_ctx_create(ck_isa isa, int threads);
void ck_ctx_destroy(ck_ctx *ctx);
ck_isa ck_ctx_isa(const ck_ctx *ctx);
int ck_ctx_threads(const ck_ctx *ctx);
/* Number of CPUs online. */
int ck_cpu_count(void);

/* 1 if the library was built with fast-math (it must not be). */
int ck_built_with_fast_math(void);

/* ---- GEMM ------------------------------------------------------------------ */

/* Register tile of the context's GEMM microkernel: packed B has panels of nr columns. */
int ck_gemm_mr(const ck_ctx *ctx);
int ck_gemm_nr(const ck_ctx *ctx);
/* The fp32 GEMM's K block and M tile (rows), chosen from the cache sizes at creation. */
size_t ck_gemm_kc(const ck_ctx *ctx);
size_t ck_gemm_mc(const ck_ctx *ctx);

/* Packed right-hand matrix B [K, N] for C = A B: floats needed by ck_pack_b. */
size_t ck_packed_b_size(const ck_ctx *ctx, size_t K, size_t N);
/* Packs B (row-major, leading dimension ldb) into the context's panel format.
 * The packed form is only valid for contexts with the same ISA. */
void ck_pack_b(const ck_ctx *ctx, size_t K, size_t N, const float *B, size_t ldb, float *packed);

typedef enum { CK_ACT_NONE = 0, CK_ACT_RELU = 1 } ck_activation;

/* Workspace floats for ck_gemm_packed with this ctx (independent of shapes). */
size_t ck_gemm_workspace_size(const ck_ctx *ctx);

/* C[M, N] = act(A[M, K] Bp + bias). A row-major with leading dimension lda, C with ldc.
 * bias: N values or NULL. Bp from ck_pack_b. */
void ck_gemm_packed(ck_ctx *ctx, size_t M, size_t N, size_t K, const float *A, size_t lda,
                    const float *Bp, const float *bias, ck_activation act, float *C, size_t ldc,
                    float *workspace);

/* Scalar reference: C = act(A B + bias), plain triple loop, B unpacked. */
void ck_gemm_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B,
                 size_t ldb, const float *bias, ck_activation act, float *C, size_t ldc);

/* ---- bf16 GEMM (reduced precision) ------------------------------------------ */

/* C[M, N] = act(bf16(A) bf16(B) + bias): A and B rounded to bfloat16 (nearest, ties to
 * even), products summed in fp32 by VDPBF16PS steps (on AVX512_BF16) or by their exact
 * emulation (every other CPU and ISA): the same bits everywhere, at any thread count. */
uint16_t ck_bf16_round(float x);
/* ck_bf16_round of n values with the context's ISA (vectorised): what the bf16 GEMMs pack A with. */
void ck_bf16_round_row(const ck_ctx *ctx, const float *x, size_t n, uint16_t *out);
/* uint32 values (k pairs of bf16) of packed B; packed B is valid for every context. */
size_t ck_packed_b_bf16_size(size_t K, size_t N);
void ck_pack_b_bf16(size_t K, size_t N, const float *B, size_t ldb, uint32_t *packed);
/* Workspace uint32 values for ck_gemm_bf16_packed with this ctx. */
size_t ck_gemm_bf16_workspace_size(const ck_ctx *ctx);
void ck_gemm_bf16_packed(ck_ctx *ctx, size_t M, size_t N, size_t K, const float *A, size_t lda, const uint32_t *Bp,
                         const float *bias, ck_activation act, float *C, size_t ldc, uint32_t *workspace);
/* 1 when this context runs a bf16 instruction (AVX512_BF16 or AMX), else the emulation. */
int ck_gemm_bf16_native(const ck_ctx *ctx);

/* Two families of bf16 sums, each bit-exact against its own reference:
 *  - VDPBF16PS steps (ck_gemm_bf16_ref): AVX512_BF16, or emulated exactly on every other CPU;
 *  - TDPBF16PS steps (ck_gemm_bf16_amx_ref): Intel AMX, 16 k pairs per step.
 * Both round the same inputs and sum in fp32; they differ in the sums' order (~1e-6). */
typedef enum { CK_BF16_EMULATED = 0, CK_BF16_AVX512BF16 = 1, CK_BF16_AMX = 2 } ck_bf16_kind;
/* The kind a context runs: AMX when its ISA is avx512, the CPU has AMX-BF16 and the OS grants
 * the tile state (unless CK_BF16_AMX=0 in the environment at creation), else AVX512_BF16 on an
 * avx512 context of a CPU that has it, else the emulation. */
ck_bf16_kind ck_gemm_bf16_kind(const ck_ctx *ctx);
/* Sets the kind (to compare kernels); 0 if this CPU and context cannot run it. */
int ck_ctx_set_bf16_kind(ck_ctx *ctx, ck_bf16_kind kind);
/* Scalar reference: the same rounding and VDPBF16PS steps, plain loops, B unpacked. */
void ck_gemm_bf16_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                      const float *bias, ck_activation act, float *C, size_t ldc);

/* Reference of the AMX family: K padded with zeros to whole steps of 32 values, each step
 * summed as TDPBF16PS does (internal/ck_bf16.h), then bias and act. */
void ck_gemm_bf16_amx_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                          const float *bias, ck_activation act, float *C, size_t ldc);

/* ---- int8 GEMM (reduced precision) ------------------------------------------ */

/* C[M, N] = act(A B + bias) in int8: A quantised per tensor to u8 with the scale and zero
 * point given at packing (q = clamp(round_even(x / scale) + zero, 0, 255)), B per column to
 * s8 (symmetric, max|B[:, j]| -> 127), products summed exactly in int32, then
 * fma((float)(sum - zero * colsum_j), scale * s_j, bias_j) and act: the same bits on every
 * kernel, ISA and thread count. K at most CK_INT8_MAX_K (so sums cannot overflow). */
#define CK_INT8_MAX_K 65536
/* uint32 values of packed B (valid for every context). */
size_t ck_packed_b_int8_size(size_t K, size_t N);
void ck_pack_b_int8(size_t K, size_t N, const float *B, size_t ldb, float a_scale, int a_zero, uint32_t *packed);
/* The s8 weights of B [K, N] as ck_pack_b_int8 makes them: codes [K, N] (row stride ldc),
 * round_even(B * 127 / max|B[:, j]|), and step_j = max|B[:, j]| / 127 (0 for a zero column). */
void ck_int8_weights(size_t K, size_t N, const float *B, size_t ldb, int8_t *codes, size_t ldc, float *step);
/* ck_pack_b_int8 from stored codes (each in [-127, 127]) and steps: the same packed bits. */
void ck_pack_b_int8_codes(size_t K, size_t N, const int8_t *codes, size_t ldc, const float *step, float a_scale,
                          int a_zero, uint32_t *packed);
/* Workspace uint32 values for ck_gemm_int8_packed with this ctx. */
size_t ck_gemm_int8_workspace_size(const ck_ctx *ctx);
void ck_gemm_int8_packed(ck_ctx *ctx, size_t M, size_t N, size_t K, const float *A, size_t lda, const uint32_t *Bp,
                         const float *bias, ck_activation act, float *C, size_t ldc, uint32_t *workspace);
/* The activation quantisation for values in [lo, hi] (from calibration): the range widened
 * to hold 0, scale = (hi - lo) / 255, zero = round(-lo / scale) in [0, 255]. */
void ck_int8_range(float lo, float hi, float *scale, int *zero);
/* Scalar u8 quantisation of one value with 1 / scale (as the kernels do it). */
uint8_t ck_int8_quantize(float x, float inv_scale, int zero);

typedef enum {
    CK_INT8_SCALAR = 0, CK_INT8_AVX512VNNI = 1, CK_INT8_AMX = 2, CK_INT8_NEON_SDOT = 3, CK_INT8_AVXVNNI = 4
} ck_int8_kind;
#define CK_INT8_KINDS 5
/* The kind a context runs: AMX when its ISA is avx512, the CPU has AMX-INT8 and the OS grants
 * the tile state (unless CK_INT8_AMX=0 in the environment at creation), else AVX512-VNNI on
 * an avx512 context of a CPU that has it, AVX-VNNI on an avx2 context of a CPU that has it,
 * SDOT on a neon context of a CPU with the dot product extension, else portable C. */
ck_int8_kind ck_gemm_int8_kind(const ck_ctx *ctx);
/* Sets the kind (to compare kernels); 0 if this CPU and context cannot run it. */
int ck_ctx_set_int8_kind(ck_ctx *ctx, ck_int8_kind kind);
/* Scalar reference: the same quantisation and sums, plain loops, B unpacked. */
void ck_gemm_int8_ref(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                      float a_scale, int a_zero, const float *bias, ck_activation act, float *C, size_t ldc);

/* ---- convolution ----------------------------------------------------------- */

typedef enum {
    CK_CONV_AUTO = 0,         /* let the driver choose */
    CK_CONV_IM2COL_GEMM = 1,  /* tiled im2col packed straight into GEMM panels */
    CK_CONV_DEPTHWISE = 2,    /* direct, one input channel per group */
    CK_CONV_IMPLICIT_GEMM = 3,/* GEMM reading input rows in place (packing only at borders) */
    CK_CONV_WINOGRAD_2X2 = 4, /* Winograd F(2x2, 3x3): 3x3, stride 1, no dilation, groups 1 */
    CK_CONV_WINOGRAD_4X4 = 5, /* Winograd F(4x4, 3x3): the same shapes, 4x fewer multiplies than direct */
    CK_CONV_WINOGRAD_6X6 = 6, /* Winograd F(6x6, 3x3): 5.06x fewer; fp32 only (bf16 requests get F(2x2)) */
} ck_conv_algo;

typedef struct {
    int n, h, w, cin;           /* input NHWC */
    int cout;                   /* output channels (all groups) */
    int kh, kw;                 /* kernel */
    int sh, sw;                 /* strides */
    int dh, dw;                 /* dilations (1 = none) */
    int pad_top, pad_left, pad_bottom, pad_right;  /* explicit zero padding */
    int groups;                 /* cin and cout divisible by groups */
    ck_activation act;          /* applied after the bias */
    int bf16;                   /* 1: multiply in bfloat16 with fp32 sums: im2col and implicit
                                   GEMM through the bf16 GEMM (the context's kernel family),
                                   Winograd's position GEMMs through the VDPBF16PS family (its
                                   tile transforms stay fp32); depthwise stays fp32 */
    int int8;                   /* 1: int8 by GEMM (im2col or implicit GEMM; Winograd requests
                                   resolve to implicit GEMM), input quantised with in_scale and
                                   in_zero (ck_int8_range), weights per output channel */
    float in_scale;
    int in_zero;
} ck_conv2d_desc;

/* Output height and width of `d`; 0 if the description is invalid. */
int ck_conv2d_out_h(const ck_conv2d_desc *d);
int ck_conv2d_out_w(const ck_conv2d_desc *d);
/* 1 if the description is consistent (positive sizes, divisibility, pads >= 0). */
int ck_conv2d_valid(const ck_conv2d_desc *d);

/* The algorithm the driver uses for `d` when asked for CK_CONV_AUTO. */
ck_conv_algo ck_conv2d_choose(const ck_ctx *ctx, const ck_conv2d_desc *d);
/* The algorithm that actually runs when `requested` is passed to ck_conv2d_pack,
 * ck_conv2d_packed_size, ck_conv2d_workspace_size and ck_conv2d: CK_CONV_AUTO gives
 * ck_conv2d_choose; a request that does not apply to `d` falls back to CK_CONV_IM2COL_GEMM
 * (depthwise without one input channel per group and cout == cin; implicit GEMM with
 * dilation in w or groups > 1; Winograd unless 3x3, stride 1, no dilation, groups 1); an
 * applicable request gives itself. The Swift
 * wrapper reports this value as the layer's algorithm. */
ck_conv_algo ck_conv2d_resolve(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo requested);

/* Weights are given as [kh, kw, cin/groups, cout] (Keras HWIO). Output channel o belongs
 * to group o / (cout/groups). Packing makes the layout the chosen algorithm wants. */
size_t ck_conv2d_packed_size(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo);
void ck_conv2d_pack(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo,
                    const float *w_hwio, float *packed);
/* ck_conv2d_pack from s8 codes [kh, kw, cin/groups, cout] and per-output-channel steps
 * (ck_int8_weights over the HWIO weights as [K, cout]): the bits ck_conv2d_pack makes from the
 * fp32 original. Returns 0 (nothing written) unless `d` runs in int8 with `algo`. */
int ck_conv2d_pack_int8_codes(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo,
                              const int8_t *codes_hwio, const float *step, float *packed);
size_t ck_conv2d_workspace_size(const ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo);
/* out[n, oh, ow, cout] = act(conv(in, w) + bias). bias: cout values or NULL. */
void ck_conv2d(ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo, const float *in,
               const float *packed, const float *bias, float *out, float *workspace);
/* ck_conv2d and then a 2x2, stride-2 max pool without padding (out [n, oh / 2, ow / 2, cout],
 * sizes rounded down) in one pass, when the resolved algorithm is Winograd: each output tile is
 * pooled while it is in cache, so the full-size output is never written. The bits of
 * ck_conv2d followed by ck_maxpool2d. Returns 0, writing nothing, for other algorithms. The
 * workspace is ck_conv2d_workspace_size's. */
int ck_conv2d_maxpool2(ck_ctx *ctx, const ck_conv2d_desc *d, ck_conv_algo algo, const float *in,
                       const float *packed, const float *bias, float *out, float *workspace);

/* Scalar reference: direct convolution from unpacked HWIO weights. */
void ck_conv2d_ref(const ck_conv2d_desc *d, const float *in, const float *w_hwio,
                   const float *bias, float *out);

/* ---- convolution backward (gradients for saliency maps) ------------------------ */

/* The backward pass of `d` with respect to its input is the forward convolution `b`
 * (stride 1, input = dy dilated by d's stride, cin and cout swapped, kernel flipped):
 * dx = ck_conv2d(b, dilate(dy), flipped weights). Returns 0 if `d` has no such form
 * (a window wholly in the padding). dy is the gradient at d's output before activation. */
int ck_conv2d_backward_data_desc(const ck_conv2d_desc *d, ck_conv2d_desc *b);
/* b's HWIO weights [kh, kw, cout/groups, cin] from d's [kh, kw, cin/groups, cout]. */
void ck_conv2d_backward_data_weights(const ck_conv2d_desc *d, const float *w_hwio, float *wt_hwio);
/* Floats of dy dilated by d's stride (b's input); 0 when d has stride 1 (dy is b's input). */
size_t ck_conv2d_backward_data_dilated_size(const ck_conv2d_desc *d);
void ck_conv2d_backward_data_dilate(const ck_conv2d_desc *d, const float *dy, float *dy_dilated);
/* Scalar reference: dx[n, h, w, cin] by the direct scatter of dy through w_hwio. */
void ck_conv2d_backward_data_ref(const ck_conv2d_desc *d, const float *dy, const float *w_hwio, float *dx);

/* ---- pooling ----------------------------------------------------------------- */

typedef struct {
    int n, h, w, c;
    int kh, kw, sh, sw;
    int pad_top, pad_left, pad_bottom, pad_right;
    int ceil_mode;           /* PyTorch ceil_mode: output size rounded up */
    int count_include_pad;   /* average pooling: divide by the full window (PyTorch default) */
} ck_pool2d_desc;

int ck_pool2d_out_h(const ck_pool2d_desc *d);
int ck_pool2d_out_w(const ck_pool2d_desc *d);
int ck_pool2d_valid(const ck_pool2d_desc *d);
/* in [n, h, w, c], out [n, out_h, out_w, c]. Max over the window's positions that lie inside
 * the image (padding never wins; NaN propagates; 0 for a window wholly in the padding). */
void ck_maxpool2d(ck_ctx *ctx, const ck_pool2d_desc *d, const float *in, float *out);
/* The float sum of the in-image positions in (ky, kx) order, divided by the window clipped to
 * the padded extent (count_include_pad) or by the number of in-image positions; 0 when that
 * divisor is 0. */
void ck_avgpool2d(ck_ctx *ctx, const ck_pool2d_desc *d, const float *in, float *out);
/* Scalar references of the two: what the drivers must equal bit for bit. */
void ck_maxpool2d_ref(const ck_pool2d_desc *d, const float *in, float *out);
void ck_avgpool2d_ref(const ck_pool2d_desc *d, const float *in, float *out);
/* Backward passes (dx overwritten, in [n, h, w, c] as the forward input): max pooling
 * sends each window's gradient to the position the forward compare picked; average pooling
 * shares it by the forward divisor. Overlapping windows sum, in a fixed order per image. */
void ck_maxpool2d_backward(ck_ctx *ctx, const ck_pool2d_desc *d, const float *in, const float *dy, float *dx);
void ck_avgpool2d_backward(ck_ctx *ctx, const ck_pool2d_desc *d, const float *dy, float *dx);
/* out[n, c] = mean over hw of in[n, hw, c]. Summed in float64 in index order. */
void ck_global_avgpool(ck_ctx *ctx, int n, int hw, int c, const float *in, float *out);

/* ---- element-wise (in-place allowed: out may equal in / a) --------------------- */

void ck_relu(ck_ctx *ctx, size_t count, const float *in, float *out);
/* out[i, c] = in >= 0 ? in : alpha[c] * in, rows of `c` channels. */
void ck_prelu(ck_ctx *ctx, size_t rows, size_t c, const float *in, const float *alpha, float *out);
/* out = a + b */
void ck_add(ck_ctx *ctx, size_t count, const float *a, const float *b, float *out);
/* out[i, c] = in[i, c] * scale[c] + shift[c]: inference batch normalisation once folded. */
void ck_affine_channels(ck_ctx *ctx, size_t rows, size_t c, const float *in, const float *scale,
                        const float *shift, float *out);
/* Folds batch normalisation: scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
 * gamma or beta may be NULL (1 and 0). */
void ck_batchnorm_fold(size_t c, const float *gamma, const float *beta, const float *mean,
                       const float *var, float eps, float *scale, float *shift);
/* Row-wise softmax of rows x c, max-subtracted; in-place allowed. */
void ck_softmax(ck_ctx *ctx, size_t rows, size_t c, const float *in, float *out);

/* Scalar references of the element-wise ops: what every table's kernels, the scalar
 * table's included, must equal bit for bit. */
void ck_relu_ref(size_t count, const float *in, float *out);
void ck_prelu_ref(size_t rows, size_t c, const float *in, const float *alpha, float *out);
void ck_add_ref(size_t count, const float *a, const float *b, float *out);
void ck_affine_channels_ref(size_t rows, size_t c, const float *in, const float *scale,
                            const float *shift, float *out);

/* ---- training ------------------------------------------------------------------
 * Backward functions ACCUMULATE into parameter gradients (dW, db, ...): callers zero them
 * once per step. Input gradients (dX) are overwritten. Weights are unpacked, row-major. */

/* C[M, N] (+)= op(A) op(B), op = transpose when trans_*; op(A) is M x K, op(B) K x N, all
 * row-major with leading dimensions. B is packed into `workspace` on every call
 * (ck_gemm_ex_workspace_size floats). accumulate: C += (else C =). Thread-count independent. */
size_t ck_gemm_ex_workspace_size(const ck_ctx *ctx, size_t K, size_t N);
void ck_gemm_ex(ck_ctx *ctx, int trans_a, int trans_b, size_t M, size_t N, size_t K, const float *A, size_t lda,
                const float *B, size_t ldb, int accumulate, float *C, size_t ldc, float *workspace);

/* Workspace floats for ck_dense_forward / ck_dense_backward with these sizes. */
size_t ck_dense_workspace_size(const ck_ctx *ctx, size_t M, size_t K, size_t N);
/* Y[M, N] = act(X[M, K] W[K, N] + b), through the packed GEMM (W packed per call). */
void ck_dense_forward(ck_ctx *ctx, size_t M, size_t K, size_t N, const float *X, const float *W,
                      const float *b, ck_activation act, float *Y, float *workspace);
/* dX = dY W^T (overwritten; may be NULL), dW += X^T dY, db += column sums of dY (db may be NULL). */
void ck_dense_backward(ck_ctx *ctx, size_t M, size_t K, size_t N, const float *X, const float *W,
                       const float *dY, float *dX, float *dW, float *db, float *workspace);
/* dX = dY where Y > 0, else 0 (Y is the ReLU output); in-place allowed. */
void ck_relu_backward(size_t count, const float *Y, const float *dY, float *dX);
/* Inverted dropout with a given keep mask (1 keep, 0 drop): out = in * mask / (1 - rate). */
void ck_dropout_apply(size_t count, const float *in, const uint8_t *mask, float rate, float *out);
/* Softmax probabilities P[M, C] with one-hot labels (class index per row) and class
 * weights (NULL = 1): returns the Keras loss sum_i w_{y_i} * -log(clip(P[i, y_i])) / M,
 * clip to [eps, 1 - eps]; writes dZ = d loss / d logits = w_{y_i} (P - onehot) / M
 * (zero where the true-class probability was clipped). */
double ck_softmax_xent(size_t M, size_t C, const float *P, const int32_t *labels,
                       const float *class_weights, float eps, float *dZ);
/* Adadelta (Keras): Eg = rho Eg + (1 - rho) g^2; d = -sqrt(Ed + eps) / sqrt(Eg + eps) * g;
 * Ed = rho Ed + (1 - rho) d^2; w += lr d. Fused, one pass. */
void ck_adadelta(ck_ctx *ctx, size_t n, float *w, const float *g, float *Eg, float *Ed, float lr, float rho, float eps);

/* Batch normalisation in training mode over `rows` rows of `c` channels (batch, and time for
 * sequences): batch mean and biased variance; y = gamma (x - mean) / sqrt(var + eps) + beta.
 * Writes mean and inv_std (c each) for the backward pass and updates the moving statistics:
 * moving = momentum * moving + (1 - momentum) * batch. */
void ck_batchnorm_train(size_t rows, size_t c, const float *x, const float *gamma, const float *beta,
                        float eps, float momentum, float *moving_mean, float *moving_var, float *mean,
                        float *inv_std, float *y);
/* dx (overwritten), dgamma += , dbeta += . */
void ck_batchnorm_backward(size_t rows, size_t c, const float *x, const float *gamma, const float *mean,
                           const float *inv_std, const float *dy, float *dx, float *dgamma, float *dbeta);

/* LSTM (Keras gate order i, f, c, o along the 4u axis; sigmoid and tanh; h0 = c0 = 0).
 * x [b, t, f], kernel [f, 4u], recurrent [u, 4u], bias [4u]. Writes h [b, t, u] for every step
 * and the cache: gates [b, t, 4u] (after their activations) and cells [b, t, u]. */
void ck_lstm_forward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                     const float *recurrent, const float *bias, float *h, float *gates, float *cells, float *workspace);
/* The recurrence alone: gates [b, t, 4u] holds x W + bias on entry and the activations on
 * return. Sequences run as independent tasks, so results do not depend on the thread count.
 * sigmoid, tanh and exp are PainFace's own branch-free versions (within 2 ulp of libm's
 * exp), identical on every ISA. */
void ck_lstm_recurrence(ck_ctx *ctx, size_t b, size_t t, size_t u, const float *recurrent, float *gates,
                        float *h, float *cells);
/* Backpropagation through time of the recurrence: dz [b, t, 4u] (overwritten) is the loss
 * gradient of the gate pre-activations; drecurrent accumulates. workspace: at least
 * ck_lstm_workspace_size(ctx, b, t, 0, u) - b t 4u floats. */
void ck_lstm_bptt(ck_ctx *ctx, size_t b, size_t t, size_t u, const float *recurrent, const float *h,
                  const float *gates, const float *cells, const float *dh, float *dz, float *drecurrent,
                  float *workspace);
/* BatchNormalization (training) followed by an LSTM, fused. The b input sequences are read
 * in place (x[n] points at sequence n, t x f floats: a batch is never gathered) and must stay
 * unchanged until the backward pass; the normalised input is never stored (both products
 * compute it while packing). Forward keeps mean and inv_std for the backward pass, which
 * gives the gradients of gamma, beta and the LSTM's variables (accumulated), not of x. */
/* The workspace also holds the input statistics' partial sums (no allocation inside). */
size_t ck_bn_lstm_workspace_size(const ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u);
void ck_bn_lstm_forward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *const *x, const float *gamma,
                        const float *beta, float eps, float momentum, float *moving_mean, float *moving_var,
                        const float *kernel, const float *recurrent, const float *bias, float *mean, float *inv_std,
                        float *h, float *gates, float *cells, float *workspace);
void ck_bn_lstm_backward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *const *x, const float *mean,
                         const float *inv_std, const float *gamma, const float *beta, const float *kernel,
                         const float *recurrent, const float *h, const float *gates, const float *cells, const float *dh,
                         float *dgamma, float *dbeta, float *dkernel, float *drecurrent, float *dbias, float *workspace);
/* Inference: an affine map per feature (batch normalisation with moving statistics folded to
 * scale and shift) followed by an LSTM; x [b, t, f] contiguous. The same values as
 * ck_affine_channels then ck_lstm_forward, without writing the normalised input. */
size_t ck_affine_lstm_workspace_size(const ck_ctx *ctx, size_t f, size_t u);
void ck_affine_lstm_forward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *scale,
                            const float *shift, const float *kernel, const float *recurrent, const float *bias, float *h,
                            float *gates, float *cells, float *workspace);
/* Workspace floats for ck_lstm_forward and ck_lstm_backward. */
size_t ck_lstm_workspace_size(const ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u);
/* Backpropagation through time. dh [b, t, u] is the loss gradient of every h output (zeros
 * where an output is not used). dx (overwritten, may be NULL); dkernel, drecurrent, dbias
 * accumulate. */
void ck_lstm_backward(ck_ctx *ctx, size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                      const float *recurrent, const float *h, const float *gates, const float *cells,
                      const float *dh, float *dx, float *dkernel, float *drecurrent, float *dbias, float *workspace);

/* Scalar references of ck_lstm_forward and ck_lstm_backward (the test oracle): plain loops,
 * libm expf and tanhf, independent of the kernels' cell code; same shapes and outputs
 * (gates after their activations). The backward pass also writes dz [b, t, 4u] (overwritten),
 * the gradient of the gate pre-activations, and needs `scratch` of 2u floats; dx is
 * overwritten (may be NULL), dkernel, drecurrent and dbias accumulate. */
void ck_lstm_forward_ref(size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                         const float *recurrent, const float *bias, float *h, float *gates, float *cells);
void ck_lstm_backward_ref(size_t b, size_t t, size_t f, size_t u, const float *x, const float *kernel,
                          const float *recurrent, const float *h, const float *gates, const float *cells,
                          const float *dh, float *dz, float *dx, float *dkernel, float *drecurrent, float *dbias,
                          float *scratch);

/* ---- benchmarking ------------------------------------------------------------- */

/* Measures this machine's FP32 FMA peak for the ctx's ISA on `threads` threads over
 * about `seconds`; returns GFLOPS. */
double ck_measure_peak_gflops(const ck_ctx *ctx, int threads, double seconds);

#ifdef __cplusplus
}
#endif
#endif
