/* The Adadelta update, compiled once per ISA file with CK_ADADELTA_SUFFIX set, under that
 * file's target attribute (see x86/adadelta_avx2.c); the compiler vectorises the loop. */
#ifndef CK_ADADELTA_SUFFIX
#error "define CK_ADADELTA_SUFFIX before including ck_adadelta_body.h"
#endif
#include <math.h>
#include <stddef.h>

#define CK_ADADELTA_CAT2(a, b) a##_##b
#define CK_ADADELTA_CAT(a, b) CK_ADADELTA_CAT2(a, b)
#define CK_ADADELTA_FN(name) CK_ADADELTA_CAT(name, CK_ADADELTA_SUFFIX)

/* The Adadelta update of n variables (Keras: rho, epsilon, learning rate). sqrt and division
 * are exact IEEE operations, so the vectorised loop equals the scalar one bit for bit. */
void CK_ADADELTA_FN(ck_adadelta)(size_t n, float *w, const float *g, float *Eg, float *Ed, float lr, float rho, float eps) {
    for (size_t i = 0; i < n; i++) {
        float eg = rho * Eg[i] + (1.0f - rho) * g[i] * g[i];
        float d = -sqrtf(Ed[i] + eps) / sqrtf(eg + eps) * g[i];
        Ed[i] = rho * Ed[i] + (1.0f - rho) * d * d;
        Eg[i] = eg;
        w[i] += lr * d;
    }
}

#undef CK_ADADELTA_FN
#undef CK_ADADELTA_CAT
#undef CK_ADADELTA_CAT2
