/* Private: Winograd F(2x2, 3x3), F(4x4, 3x3) and F(6x6, 3x3) convolution
 * (ops/conv2d_winograd.c), driven by ops/conv2d.c. `m` is the output tile side: 2, 4 or 6. */
#ifndef CK_WINOGRAD_H
#define CK_WINOGRAD_H

#include "ck_internal.h"

int ck_winograd_applies(const ck_conv2d_desc *d);
size_t ck_winograd_packed_size(const ck_ctx *ctx, const ck_conv2d_desc *d, int m);
void ck_winograd_pack(const ck_ctx *ctx, const ck_conv2d_desc *d, int m, const float *w, float *packed);
size_t ck_winograd_workspace_size(const ck_ctx *ctx, const ck_conv2d_desc *d, int m);
/* pool: 1 = a 2x2, stride-2 max pool without padding follows in the same pass (out is then
 * [n, oh / 2, ow / 2, cout]); the workspace has room for it either way. */
void ck_winograd_conv(ck_ctx *ctx, const ck_conv2d_desc *d, int m, const float *in, const float *packed,
                      const float *bias, float *out, float *workspace, int pool);

#endif
