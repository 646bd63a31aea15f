/*
 * imgsize.h — an image's format and dimensions read from its first bytes, never by
 * decoding pixels (issue 9, "Images").
 *
 * The media service calls tern_img_probe on the head of an uploaded file to fill
 * TIMImageElem's width, height and imageFormat, to decide whether the file is a raster
 * image that may be shown inline, and to check the pixel limit before any thumbnailer
 * sees the file. It knows JPEG (walking markers to the first SOFn, with the EXIF
 * orientation of the first APP1 Exif segment), PNG (IHDR), GIF (logical screen, and a
 * walk of the blocks for a second frame), WebP (VP8, VP8L, VP8X) and BMP (core and info
 * headers). It is a pure function: no allocation, no I/O, no global state, never a read
 * past len; it costs well under a microsecond for every format but a GIF whose first
 * frame is long (docs/performance.md, "Image dimensions").
 *
 * How many bytes to pass: PNG, WebP and BMP need at most 30, GIF 10 for its size. A JPEG
 * needs everything up to its SOF marker, which follows the APPn segments (EXIF with a
 * thumbnail, ICC profile, XMP, Photoshop data: each at most 64 KiB, usually a few hundred
 * KiB together; 512 KiB holds the head of every real-world JPEG we know). Rather than
 * guess, read a first chunk (64 KiB is plenty for everything else) and, on
 * TERN_IMG_NEED_MORE, read up to out->need bytes (rounding up is fine) and probe again,
 * up to a cap of your own. need is never more than the size of a well-formed file, so
 * need > file size means the file is truncated or lies: treat it as not an image.
 */
#ifndef TERN_CORE_IMGSIZE_H
#define TERN_CORE_IMGSIZE_H
#include <stddef.h>
#include <stdint.h>

/* Formats. JPEG, GIF, PNG and BMP have the values of Tencent's TIMImageElem imageFormat
 * (JPG 1, GIF 2, PNG 3, BMP 4); tern_img_tim_format maps the rest to 255 ("other"). */
enum {
    TERN_IMG_NONE = 0,
    TERN_IMG_JPEG = 1,
    TERN_IMG_GIF = 2,
    TERN_IMG_PNG = 3,
    TERN_IMG_BMP = 4,
    TERN_IMG_WEBP = 5,
};

/* Bounds of the JPEG walk before SOFn: markers (segments and standalone), and bytes that
 * belong to no segment (fill bytes and junk). A file past either is TERN_IMG_UNKNOWN. */
#define TERN_IMG_JPEG_MAX_SEGMENTS 1024
#define TERN_IMG_JPEG_MAX_SKIP 4096
/* Bound of the GIF walk: blocks (extensions, image descriptors, data sub-blocks) looked
 * at for a second frame; past it the GIF counts as one frame (need 0). 16384 full
 * sub-blocks are a first frame of 4 MiB. */
#define TERN_IMG_GIF_MAX_BLOCKS 16384

/* tern_img_probe's results. */
#define TERN_IMG_OK 0
#define TERN_IMG_UNKNOWN (-1)   /* not an image we know, or absurd values */
#define TERN_IMG_NEED_MORE (-2) /* a valid beginning that ends too early: see out->need */

typedef struct tern_img_info {
    int format;             /* TERN_IMG_JPEG ... TERN_IMG_WEBP; TERN_IMG_NONE when unknown */
    uint32_t width, height; /* as displayed: a JPEG's EXIF orientation 5..8 swaps them */
    int orientation;        /* JPEG EXIF orientation 1..8; 1 when absent, invalid or not JPEG */
    int animated;           /* 1: a GIF with a second frame in the bytes given, or WebP VP8X
                               with its animation flag; 0 otherwise */
    int raster;             /* 1 for every format above (safe to show inline), 0 when unknown */
    size_t need;            /* TERN_IMG_NEED_MORE: probe again with at least this many bytes
                               (> len). TERN_IMG_OK: 0, except for a GIF whose block walk ran
                               off the end before a second frame: then the byte count that
                               would let it go on (animated is 0 as far as len goes). */
} tern_img_info;

/*
 * Reads the format and dimensions of the image whose first len bytes are at p.
 * p may be NULL when len is 0; out must not be NULL. Reads only p[0..len-1]; allocates
 * nothing; thread-safe (no state). Returns TERN_IMG_OK with *out filled (width and
 * height >= 1);
 * TERN_IMG_NEED_MORE when the bytes are a valid beginning of a known format that ends
 * before the size (or, for a JPEG, inside a segment before SOFn): out->need > len is the
 * byte count to try again with, out->format the format if already known (else 0), the
 * other fields 0;
 * TERN_IMG_UNKNOWN when it is no format we know, or its header is invalid or absurd
 * (a width or height of 0, a negative BMP width, a JPEG that meets SOS, EOI or a second
 * SOI before SOFn, a JPEG past the walk's bounds above, ...): *out is zeroed.
 */
int tern_img_probe(const uint8_t *p, size_t len, tern_img_info *out);

/* Short name of a format, as a file extension: "jpg", "png", "gif", "webp", "bmp";
 * NULL for TERN_IMG_NONE or any other value. Static strings. */
const char *tern_img_format_name(int format);

/* Content type of a format: "image/jpeg", "image/png", "image/gif", "image/webp",
 * "image/bmp"; NULL for anything else. Static strings. */
const char *tern_img_format_mime(int format);

/* TIMImageElem's imageFormat: JPG 1, GIF 2, PNG 3, BMP 4, anything else 255. */
int tern_img_tim_format(int format);

/* The size of a w x h image (both >= 1) scaled to fit box x box, never enlarged: the
 * long side becomes min(box, long side), the short side is scaled by the same factor,
 * rounded to nearest, at least 1. The one rule for a thumbnail's size (198 and 720,
 * Tencent's imageInfoArray types 1 and 2): the server's thumbnailer makes exactly this
 * size and messages announce it. */
void tern_img_fit(int w, int h, int box, int *tw, int *th);

#endif
