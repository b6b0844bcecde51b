/* Image decoding through libjpeg-turbo and libpng. setjmp/longjmp stays in C. */
#ifndef CC_CODECS_H
#define CC_CODECS_H
#include <stddef.h>
#include <stdint.h>

/* Decodes a JPEG or PNG in memory to packed RGB8. On success returns 0 and sets
 * *pixels (malloc'd, caller frees with cc_free), *width, *height. On failure returns
 * non-zero and writes a message into err (err_len bytes). Images larger than
 * max_pixels are refused before any pixel memory is allocated. */
int cc_decode_rgb8(const uint8_t *data, size_t len, size_t max_pixels, uint8_t **pixels,
                   int *width, int *height, char *err, size_t err_len);
/* Encodes RGB8 as PNG in memory (for crops and tests). */
int cc_encode_png_rgb8(const uint8_t *pixels, int width, int height, uint8_t **out, size_t *out_len,
                       char *err, size_t err_len);
void cc_free(void *p);
#endif
