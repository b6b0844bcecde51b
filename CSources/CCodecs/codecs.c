/* JPEG (libjpeg-turbo) and PNG (libpng simplified API) in memory. */
#include "cc_codecs.h"
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

void cc_free(void *p) { free(p); }

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void jpeg_fail(j_common_ptr cinfo) {
    jerr_t *e = (jerr_t *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* libjpeg-turbo warns (and keeps going) on truncated data; treat that as an error. */
static void jpeg_warn(j_common_ptr cinfo, int level) {
    if (level < 0) {
        jerr_t *e = (jerr_t *)cinfo->err;
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            (*cinfo->err->format_message)(cinfo, e->msg);
            longjmp(e->jb, 1);
        }
    }
}

static int decode_jpeg(const uint8_t *data, size_t len, size_t max_pixels, uint8_t **pixels,
                       int *width, int *height, char *err, size_t err_len) {
    struct jpeg_decompress_struct cinfo;
    jerr_t jerr;
    uint8_t *volatile out = NULL;
    uint8_t *volatile row = NULL;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_fail;
    jerr.pub.emit_message = jpeg_warn;
    if (setjmp(jerr.jb)) {
        snprintf(err, err_len, "JPEG: %s", jerr.msg);
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if ((size_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(err, err_len, "image is %ux%u, more than the limit of %zu pixels",
                 cinfo.image_width, cinfo.image_height, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    out = malloc((size_t)w * h * 3);
    if (cmyk) row = malloc((size_t)w * 4);
    if (!out || (cmyk && !row)) {
        snprintf(err, err_len, "out of memory for a %dx%d image", w, h);
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = out + (size_t)cinfo.output_scanline * w * 3;
        if (!cmyk) {
            JSAMPROW r = dst;
            jpeg_read_scanlines(&cinfo, &r, 1);
        } else {
            JSAMPROW r = row;
            jpeg_read_scanlines(&cinfo, &r, 1);
            /* Adobe CMYK JPEGs store inverted values: R = C' * K' / 255. */
            int inverted = cinfo.saw_Adobe_marker;
            for (int x = 0; x < w; x++) {
                int c = row[4 * x], m = row[4 * x + 1], y = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
                dst[3 * x] = (uint8_t)((c * k + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((y * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *pixels = out;
    *width = w;
    *height = h;
    return 0;
}

static int decode_png(const uint8_t *data, size_t len, size_t max_pixels, uint8_t **pixels,
                      int *width, int *height, char *err, size_t err_len) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len)) {
        snprintf(err, err_len, "PNG: %s", img.message);
        return 1;
    }
    if ((size_t)img.width * img.height > max_pixels) {
        snprintf(err, err_len, "image is %ux%u, more than the limit of %zu pixels", img.width,
                 img.height, max_pixels);
        png_image_free(&img);
        return 1;
    }
    img.format = PNG_FORMAT_RGB;
    uint8_t *out = malloc(PNG_IMAGE_SIZE(img));
    if (!out) {
        snprintf(err, err_len, "out of memory for a %ux%u image", img.width, img.height);
        png_image_free(&img);
        return 1;
    }
    /* alpha is composited onto black, as the simplified API does without a background */
    if (!png_image_finish_read(&img, NULL, out, 0, NULL)) {
        snprintf(err, err_len, "PNG: %s", img.message);
        free(out);
        png_image_free(&img);
        return 1;
    }
    *pixels = out;
    *width = (int)img.width;
    *height = (int)img.height;
    return 0;
}

int cc_decode_rgb8(const uint8_t *data, size_t len, size_t max_pixels, uint8_t **pixels,
                   int *width, int *height, char *err, size_t err_len) {
    *pixels = NULL;
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return decode_jpeg(data, len, max_pixels, pixels, width, height, err, err_len);
    if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        return decode_png(data, len, max_pixels, pixels, width, height, err, err_len);
    snprintf(err, err_len, len == 0 ? "empty file" : "not a JPEG or PNG file (unknown signature)");
    return 1;
}

int cc_encode_png_rgb8(const uint8_t *pixels, int width, int height, uint8_t **out, size_t *out_len,
                       char *err, size_t err_len) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&img, NULL, &size, 0, pixels, 0, NULL)) {
        snprintf(err, err_len, "PNG: %s", img.message);
        return 1;
    }
    uint8_t *buf = malloc(size);
    if (!buf) { snprintf(err, err_len, "out of memory"); return 1; }
    if (!png_image_write_to_memory(&img, buf, &size, 0, pixels, 0, NULL)) {
        snprintf(err, err_len, "PNG: %s", img.message);
        free(buf);
        return 1;
    }
    *out = buf;
    *out_len = size;
    return 0;
}
