/*
 * fuzz_imgsize.c — libFuzzer harness for the image header readers (src/core/imgsize.c).
 *
 * The input is copied to an exactly sized buffer (so ASan catches any read past its
 * length) and probed whole and as a prefix, checking tern_img_probe's promises: the
 * result is one of its three codes; OK gives a known format with sizes >= 1 and an
 * orientation of 1..8; NEED_MORE gives need > len; UNKNOWN zeroes the answer. A prefix
 * that already decided (OK or UNKNOWN) decides the same on the whole input, since the
 * readers never look back or past what they need (only a GIF's animated flag and need
 * may grow with more bytes). And reading on to out->need makes progress: the answer
 * changes or asks for more. Seeds: tests/fuzz/corpus/fuzz_imgsize (written by
 * test_imgsize with TERN_IMGSIZE_SEEDS=DIR).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/imgsize.h"

/* Probes an exact-size copy of data[0..n) and checks the promises of one answer. */
static int probe(const uint8_t *data, size_t n, tern_img_info *out)
{
    uint8_t *copy = tern_malloc(n ? n : 1);
    if (n)
        memcpy(copy, data, n);
    memset(out, 0xA5, sizeof *out);
    int rc = tern_img_probe(n ? copy : NULL, n, out);
    tern_free(copy);
    switch (rc) {
    case TERN_IMG_OK:
        if (!tern_img_format_name(out->format) || !tern_img_format_mime(out->format) || out->width == 0 ||
            out->height == 0 || out->orientation < 1 || out->orientation > 8 || out->raster != 1 ||
            (out->animated != 0 && out->animated != 1) || (out->need != 0 && out->need <= n))
            abort();
        if (out->format != TERN_IMG_GIF && out->need != 0)
            abort();
        break;
    case TERN_IMG_NEED_MORE:
        if (out->need <= n || out->width || out->height)
            abort();
        break;
    case TERN_IMG_UNKNOWN: {
        static const tern_img_info zero;
        if (memcmp(out, &zero, sizeof zero) != 0)
            abort();
        break;
    }
    default: abort();
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tern_img_info all, part, more;
    int rc = probe(data, size, &all);

    /* A prefix whose answer is decided answers as the whole does. */
    size_t k = size ? (size_t)data[size - 1] * size / 256 : 0;
    int rk = probe(data, k, &part);
    if (rk != TERN_IMG_NEED_MORE) {
        if (rk != rc || part.format != all.format || part.width != all.width || part.height != all.height ||
            part.orientation != all.orientation || part.animated > all.animated)
            abort();
    }

    /* Reading on to need makes progress. */
    if (rk == TERN_IMG_NEED_MORE && part.need <= size) {
        int r2 = probe(data, part.need, &more);
        if (r2 == TERN_IMG_NEED_MORE && more.need <= part.need)
            abort();
    }
    (void)tern_img_tim_format(all.format);
    return 0;
}
