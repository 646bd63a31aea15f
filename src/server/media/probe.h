/*
 * probe.h — what ternd reads from an uploaded file without decoding it (issue 9,
 * "Images"): the committed file's head goes through tern_img_probe (core/imgsize.h) and
 * the result is what the media row stores: width, height, Tencent's imageFormat,
 * animated, the content type to serve the file with, and STORE_MEDIA_THUMB_NEVER when no
 * thumbnail will ever be made (over --media-max-pixels). The thumbnails themselves:
 * thumb.h.
 */
#ifndef TERN_MEDIA_PROBE_H
#define TERN_MEDIA_PROBE_H
#include <stdint.h>

#include "media/media_store.h"

/* How much of a file's head media_image_probe reads at most. */
#define THUMB_PROBE_MAX (256 * 1024)

/* What the media row stores about a file (0s when it is not an image). */
typedef struct media_image {
    int format;        /* TERN_IMG_* (core/imgsize.h), TERN_IMG_NONE when not an image */
    int width, height; /* as displayed (EXIF orientation applied) */
    int img_format;    /* Tencent imageFormat (tern_img_tim_format); 0 when not an image */
    int animated;
    int thumbs;             /* STORE_MEDIA_THUMB_NEVER or 0 (none made yet) */
    char content_type[128]; /* the type to store and serve the file with */
} media_image;

/* Reads the head of the committed file (app, id) of ms (up to THUMB_PROBE_MAX bytes,
 * more only as tern_img_probe asks) and fills *out. declared is the content type the
 * client sent ("" or NULL: none). The stored type: a known image gets its format's type
 * when declared is missing, application/octet-stream or another raster type (the header
 * wins); a file that is no image we know but claims a raster type (an SVG or HTML file
 * labelled image/png) gets application/octet-stream, so it is never served inline; any
 * other declared type is kept. An image of more than max_pixels pixels gets thumbs
 * STORE_MEDIA_THUMB_NEVER. Blocks on the disk: libuv's pool, never an I/O loop. A file
 * that cannot be read is "not an image" (the upload itself already succeeded). */
void media_image_probe(media_store *ms, int64_t app, const char *id, const char *declared, int64_t max_pixels,
                       media_image *out);

#endif
