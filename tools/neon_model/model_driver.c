/* A whole model over the C core alone: reads the flat graph of tools/neon_model/export.py, runs
 * it on the golden inputs with this machine's best ISA (NEON under qemu-aarch64) and the rule's
 * algorithms, writes the outputs and compares them with the golden ones (Keras's).
 *
 * usage: model_driver DIR [OUT_PREFIX]    exit 1 when an output is off by more than 1e-5 */
#include "ck_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *read_floats(const char *dir, const char *name, size_t *count) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "model_driver: %s: cannot open\n", path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *p = malloc((size_t)n + 4);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "model_driver: %s: short read\n", path); exit(2); }
    fclose(f);
    *count = (size_t)n / sizeof(float);
    return p;
}

enum { MAX_NODES = 256 };

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: model_driver DIR [OUT_PREFIX]\n"); return 2; }
    const char *dir = argv[1];
    size_t nw, nx, nf, np;
    float *W = read_floats(dir, "weights.bin", &nw), *x = read_floats(dir, "input.bin", &nx);
    float *gold_f = read_floats(dir, "features.bin", &nf), *gold_p = read_floats(dir, "probabilities.bin", &np);
    char path[512];
    snprintf(path, sizeof path, "%s/graph.txt", dir);
    FILE *g = fopen(path, "r");
    if (!g) { fprintf(stderr, "model_driver: %s: cannot open\n", path); return 2; }
    ck_ctx *ctx = ck_ctx_create(ck_isa_best(), 2);
    printf("model_driver: %s, 2 threads\n", ck_isa_name(ck_ctx_isa(ctx)));
    float *val[MAX_NODES] = {0};
    size_t per[MAX_NODES] = {0};   /* floats per image */
    int n = 0, feat = -1, prob = -1;
    char op[32];
    while (fscanf(g, "%31s", op) == 1) {
        if (!strcmp(op, "batch")) { if (fscanf(g, "%d", &n) != 1) return 2; continue; }
        if (!strcmp(op, "output")) { if (fscanf(g, "%d %d", &feat, &prob) != 2) return 2; break; }
        if (!strcmp(op, "input")) {
            int i, h, w, c;
            if (fscanf(g, "%d %d %d %d", &i, &h, &w, &c) != 4 || i != 0) return 2;
            per[0] = (size_t)h * w * c;
            val[0] = x;
            if (per[0] * (size_t)n != nx) { fprintf(stderr, "model_driver: input.bin holds %zu floats\n", nx); return 2; }
            continue;
        }
        int i, a;
        if (fscanf(g, "%d %d", &i, &a) != 2 || i <= 0 || i >= MAX_NODES || a < 0 || a >= i || !val[a]) {
            fprintf(stderr, "model_driver: graph.txt: bad %s line\n", op);
            return 2;
        }
        float *in = val[a];
        if (!strcmp(op, "conv")) {
            ck_conv2d_desc d = {.n = n};
            int act;
            long w_off, b_off;
            if (fscanf(g, "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %ld %ld", &d.h, &d.w, &d.cin, &d.cout, &d.kh,
                       &d.kw, &d.sh, &d.sw, &d.dh, &d.dw, &d.pad_top, &d.pad_left, &d.pad_bottom, &d.pad_right,
                       &d.groups, &act, &w_off, &b_off) != 18)
                return 2;
            d.act = act ? CK_ACT_RELU : CK_ACT_NONE;
            ck_conv_algo algo = ck_conv2d_choose(ctx, &d);
            float *packed = malloc((ck_conv2d_packed_size(ctx, &d, algo) + 1) * sizeof(float));
            float *work = malloc((ck_conv2d_workspace_size(ctx, &d, algo) + 1) * sizeof(float));
            ck_conv2d_pack(ctx, &d, algo, W + w_off, packed);
            per[i] = (size_t)ck_conv2d_out_h(&d) * ck_conv2d_out_w(&d) * d.cout;
            val[i] = malloc(per[i] * n * sizeof(float));
            ck_conv2d(ctx, &d, algo, in, packed, b_off >= 0 ? W + b_off : NULL, val[i], work);
            free(packed);
            free(work);
        } else if (!strcmp(op, "bn")) {
            int c;
            long go, bo, mo, vo;
            float eps;
            if (fscanf(g, "%d %ld %ld %ld %ld %f", &c, &go, &bo, &mo, &vo, &eps) != 6) return 2;
            float *scale = malloc(c * sizeof(float)), *shift = malloc(c * sizeof(float));
            ck_batchnorm_fold((size_t)c, go >= 0 ? W + go : NULL, bo >= 0 ? W + bo : NULL, W + mo, W + vo, eps, scale,
                              shift);
            per[i] = per[a];
            val[i] = malloc(per[i] * n * sizeof(float));
            ck_affine_channels(ctx, per[i] * n / (size_t)c, (size_t)c, in, scale, shift, val[i]);
            free(scale);
            free(shift);
        } else if (!strcmp(op, "relu") || !strcmp(op, "add")) {
            int b = -1;
            size_t count;
            if (!strcmp(op, "add") && fscanf(g, "%d", &b) != 1) return 2;
            if (fscanf(g, "%zu", &count) != 1) return 2;
            per[i] = count;
            val[i] = malloc(count * n * sizeof(float));
            if (b >= 0) ck_add(ctx, count * n, in, val[b], val[i]);
            else ck_relu(ctx, count * n, in, val[i]);
        } else if (!strcmp(op, "maxpool")) {
            ck_pool2d_desc p = {.n = n};
            if (fscanf(g, "%d %d %d %d %d %d %d %d %d %d %d", &p.h, &p.w, &p.c, &p.kh, &p.kw, &p.sh, &p.sw, &p.pad_top,
                       &p.pad_left, &p.pad_bottom, &p.pad_right) != 11)
                return 2;
            per[i] = (size_t)ck_pool2d_out_h(&p) * ck_pool2d_out_w(&p) * p.c;
            val[i] = malloc(per[i] * n * sizeof(float));
            ck_maxpool2d(ctx, &p, in, val[i]);
        } else if (!strcmp(op, "gap")) {
            int hw, c;
            if (fscanf(g, "%d %d", &hw, &c) != 2) return 2;
            per[i] = (size_t)c;
            val[i] = malloc(per[i] * n * sizeof(float));
            ck_global_avgpool(ctx, n, hw, c, in, val[i]);
        } else if (!strcmp(op, "softmax")) {
            int c;
            if (fscanf(g, "%d", &c) != 1) return 2;
            per[i] = (size_t)c;
            val[i] = malloc(per[i] * n * sizeof(float));
            ck_softmax(ctx, (size_t)n, (size_t)c, in, val[i]);
        } else {
            fprintf(stderr, "model_driver: graph.txt: unknown op %s\n", op);
            return 2;
        }
    }
    fclose(g);
    if (feat < 0 || prob < 0 || per[feat] * n != nf || per[prob] * n != np) {
        fprintf(stderr, "model_driver: outputs do not match the golden file's sizes\n");
        return 2;
    }
    /* features: largest difference over the largest golden value; probabilities: largest difference */
    double fd = 0, fm = 0, pd = 0;
    for (size_t k = 0; k < nf; k++) {
        fd = fmax(fd, fabs((double)val[feat][k] - gold_f[k]));
        fm = fmax(fm, fabs((double)gold_f[k]));
    }
    int agree = 0;
    for (int b = 0; b < n; b++) {
        int c = (int)per[prob], best = 0, gbest = 0;
        for (int k = 0; k < c; k++) {
            pd = fmax(pd, fabs((double)val[prob][b * c + k] - gold_p[b * c + k]));
            if (val[prob][b * c + k] > val[prob][b * c + best]) best = k;
            if (gold_p[b * c + k] > gold_p[b * c + gbest]) gbest = k;
        }
        agree += best == gbest;
    }
    printf("model_driver: %d images: features max diff %.2e of max %.3f (relative %.2e), probabilities max diff %.2e, "
           "top-1 agrees on %d of %d\n", n, fd, fm, fd / fm, pd, agree, n);
    if (argc > 2) {
        snprintf(path, sizeof path, "%s.features.bin", argv[2]);
        FILE *o = fopen(path, "wb");
        if (!o || fwrite(val[feat], sizeof(float), nf, o) != nf || fclose(o) != 0) return 2;
        snprintf(path, sizeof path, "%s.probabilities.bin", argv[2]);
        o = fopen(path, "wb");
        if (!o || fwrite(val[prob], sizeof(float), np, o) != np || fclose(o) != 0) return 2;
    }
    int ok = fd / fm < 1e-5 && pd < 1e-5 && agree == n;
    printf("model_driver: %s\n", ok ? "ok (within 1e-5 of the golden outputs)" : "FAIL");
    ck_ctx_destroy(ctx);
    return ok ? 0 : 1;
}
