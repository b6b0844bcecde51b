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

/* libjpeg-turbo warns (and keeps going, filling the rest grey) on truncated or corrupt
 * data, even when the file still ends with an end-of-image marker: every such warning
 * (level < 0) is an error, so a damaged frame is unreadable, never a grey face. */
static void jpeg_warn(j_common_ptr cinfo, int level) {
    if (level < 0) {
        /* an unknown JFIF revision or Adobe transform says nothing about the pixels */
        int code = cinfo->err->msg_code;
        if (code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM) return;
        jerr_t *e = (jerr_t *)cinfo->err;
        (*cinfo->err->format_message)(cinfo, e->msg);
        longjmp(e->jb, 1);
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

typedef struct {
    const uint8_t *data;
    size_t len, pos;
} mem_reader;

static void png_mem_read(png_structp png, png_bytep out, png_size_t n) {
    mem_reader *r = png_get_io_ptr(png);
    if (n > r->len - r->pos) png_error(png, "file is truncated");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

typedef struct { char msg[200]; } png_err_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_err_ctx *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* libpng's warnings about the image data itself (a bad CRC, too much or too little
 * data) are errors; the others (ancillary chunks, colour profiles) are not. */
static void png_on_warning(png_structp png, png_const_charp msg) {
    int critical = strncmp(msg, "IHDR", 4) == 0 || strncmp(msg, "PLTE", 4) == 0 || strncmp(msg, "IDAT", 4) == 0 ||
                   strncmp(msg, "IEND", 4) == 0;
    if ((critical && strstr(msg, "CRC")) || strstr(msg, "IDAT") || strstr(msg, "image data") ||
        strstr(msg, "compressed data"))
        png_on_error(png, msg);
}

/* Any PNG (1-16 bit; grey, grey+alpha, RGB, RGBA, palette) to RGB8. 16-bit samples are
 * scaled (v * 255 / 65535, rounded), no gamma is applied, and alpha is composited onto
 * black in the stored (sRGB) values. */
static int decode_png(const uint8_t *data, size_t len, size_t max_pixels, uint8_t **pixels,
                      int *width, int *height, char *err, size_t err_len) {
    png_err_ctx ectx = {{0}};
    mem_reader rd = {data, len, 0};
    uint8_t *volatile out = NULL;
    uint8_t *volatile row = NULL;
    png_bytep *volatile rows = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ectx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        snprintf(err, err_len, "PNG: cannot create the reader");
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, err_len, "PNG: %s", ectx.msg[0] ? ectx.msg : "decoding failed");
        png_destroy_read_struct(&png, &info, NULL);
        free(out);
        free(row);
        free(rows);  /* lost before when libpng failed inside png_read_image */
        return 1;
    }
    png_set_read_fn(png, &rd, png_mem_read);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((size_t)w * h > max_pixels) {
        snprintf(err, err_len, "image is %ux%u, more than the limit of %zu pixels", w, h, max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    png_set_expand(png);        /* palette -> RGB, grey < 8 bit -> 8 bit, tRNS -> alpha */
    png_set_scale_16(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels != 3 && channels != 4) png_error(png, "unexpected channel count");
    out = malloc((size_t)w * h * 3);
    row = malloc(rowbytes * h);
    if (!out || !row) png_error(png, "out of memory");
    rows = malloc(sizeof(png_bytep) * h);
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = row + y * rowbytes;
    png_read_image(png, rows);
    free(rows);
    rows = NULL;
    png_read_end(png, NULL);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const uint8_t *p = row + i * (size_t)channels;
        if (channels == 3) {
            out[3 * i] = p[0]; out[3 * i + 1] = p[1]; out[3 * i + 2] = p[2];
        } else {
            unsigned a = p[3];
            out[3 * i] = (uint8_t)((p[0] * a + 127) / 255);
            out[3 * i + 1] = (uint8_t)((p[1] * a + 127) / 255);
            out[3 * i + 2] = (uint8_t)((p[2] * a + 127) / 255);
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(row);
    *pixels = out;
    *width = (int)w;
    *height = (int)h;
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

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int oom;
} mem_writer;

static void png_mem_write(png_structp png, png_bytep data, png_size_t n) {
    mem_writer *w = png_get_io_ptr(png);
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 65536;
        while (cap < w->len + n) cap *= 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) { w->oom = 1; return; }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void png_mem_flush(png_structp png) { (void)png; }

/* Fast settings: zlib level 1 and the Sub filter (crops are written per frame; the
 * simplified API's defaults cost ~25 ms for a 224x224 crop). */
int cc_encode_png_rgb8(const uint8_t *pixels, int width, int height, uint8_t **out, size_t *out_len,
                       char *err, size_t err_len) {
    mem_writer w = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        snprintf(err, err_len, "PNG: cannot create the writer");
        png_destroy_write_struct(&png, &info);
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, err_len, "PNG: encoding failed");
        png_destroy_write_struct(&png, &info);
        free(w.buf);
        return 1;
    }
    png_set_write_fn(png, &w, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 1);
    png_set_filter(png, 0, PNG_FILTER_SUB);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (w.oom) {
        snprintf(err, err_len, "out of memory");
        free(w.buf);
        return 1;
    }
    *out = w.buf;
    *out_len = w.len;
    return 0;
}

