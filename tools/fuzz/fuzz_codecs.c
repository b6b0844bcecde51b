/* libFuzzer harness for the image decoders (JPEG through libjpeg-turbo, PNG through libpng):
 * any input must decode or fail with a message, never crash, leak or read out of bounds. */
#include "cc_codecs.h"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *pixels = NULL;
    int w = 0, h = 0;
    char err[256];
    /* the same pixel limit PainFace decodes with is too large for a fuzzer's memory: 16 M */
    if (cc_decode_rgb8(data, size, (size_t)1 << 24, &pixels, &w, &h, err, sizeof err) == 0) {
        if (w <= 0 || h <= 0 || !pixels) abort();
        cc_free(pixels);
    }
    return 0;
}
