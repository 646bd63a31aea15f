/*
 * probe.c — what ternd reads from an uploaded file without decoding it (thumb.h,
 * media_image_probe): the head of the committed file goes through tern_img_probe
 * (core/imgsize.h), read again larger while the probe asks for more (JPEG APPn
 * segments), up to THUMB_PROBE_MAX. The result decides the content type the file is
 * stored and served with, the image facts of its row and whether thumbnails will ever
 * be made.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/imgsize.h"
#include "media/probe.h"
#include "store/store.h"

#define PROBE_FIRST (64 * 1024)

/* Reads up to n bytes at offset 0 of fd into b; the count read, or -1. */
static ssize_t read_head(int fd, uint8_t *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* 1 for a raster type (one of tern_img_format_mime's; media.h media_is_raster says the
 * same). */
static int raster(const char *ct)
{
    for (int f = TERN_IMG_JPEG; f <= TERN_IMG_WEBP; f++)
        if (strcasecmp(ct, tern_img_format_mime(f)) == 0)
            return 1;
    return 0;
}

/* 1 for a declared type the header may replace: none, octet-stream or a raster type. */
static int replaceable(const char *ct)
{
    return !ct || !ct[0] || strcasecmp(ct, "application/octet-stream") == 0 || raster(ct);
}

void media_image_probe(media_store *ms, int64_t app, const char *id, const char *declared, int64_t max_pixels,
                       media_image *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->content_type, sizeof out->content_type, "%s",
             declared && declared[0] ? declared : "application/octet-stream");
    uint64_t size = 0;
    int fd = ms->ops->open_read(ms, app, id, &size);
    if (fd < 0)
        return;
    tern_img_info info;
    size_t want = PROBE_FIRST;
    uint8_t *b = tern_malloc(THUMB_PROBE_MAX);
    int rc = TERN_IMG_UNKNOWN;
    for (;;) {
        if (want > THUMB_PROBE_MAX)
            want = THUMB_PROBE_MAX;
        ssize_t n = read_head(fd, b, want);
        if (n < 0)
            break;
        rc = tern_img_probe(b, (size_t)n, &info);
        /* Read on for a JPEG's SOF beyond the head, or a GIF's second frame; not when
         * need lies beyond the file (truncated or lying) or beyond the cap. */
        int more = rc == TERN_IMG_NEED_MORE || (rc == TERN_IMG_OK && info.need > (size_t)n);
        if (!more || (size_t)n < want || info.need > THUMB_PROBE_MAX || info.need > size)
            break;
        want = (info.need + PROBE_FIRST - 1) / PROBE_FIRST * PROBE_FIRST;
    }
    tern_free(b);
    close(fd);
    if (rc != TERN_IMG_OK) {
        if (raster(out->content_type)) /* an SVG or HTML file claiming to be a PNG */
            snprintf(out->content_type, sizeof out->content_type, "application/octet-stream");
        return;
    }
    out->format = info.format;
    out->width = (int)info.width;
    out->height = (int)info.height;
    out->img_format = tern_img_tim_format(info.format);
    out->animated = info.animated;
    if (replaceable(declared))
        snprintf(out->content_type, sizeof out->content_type, "%s", tern_img_format_mime(info.format));
    if ((int64_t)info.width * (int64_t)info.height > max_pixels)
        out->thumbs = STORE_MEDIA_THUMB_NEVER;
}
