/*
 * imgsize.c — image format and dimensions from the first bytes of a file (see imgsize.h
 * for the contract and how many bytes to pass).
 *
 * Each reader checks its magic, then reads fixed offsets with an explicit bound before
 * every read: a reader that runs out of bytes says how many it needs (need_more), one that
 * meets an impossible value gives up (unknown). Only the JPEG and GIF readers walk: JPEG
 * skips segments by their lengths from SOI to the first SOFn (reading the first APP1 Exif
 * on the way), GIF skips extension and image-data sub-blocks to find a second frame.
 * Neither allocates or recurses, and each step moves forward by at least one byte, so the
 * cost is bounded by len (and for JPEG by the number of segments, at most len / 4).
 */
#include "core/imgsize.h"

#include <string.h>

/* ---- byte readers (callers have checked the bounds) ---- */

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* ---- results ---- */

static int unknown(tern_img_info *out)
{
    memset(out, 0, sizeof *out);
    return TERN_IMG_UNKNOWN;
}

static int need_more(tern_img_info *out, int format, size_t need)
{
    memset(out, 0, sizeof *out);
    out->format = format;
    out->need = need;
    return TERN_IMG_NEED_MORE;
}

static int found(tern_img_info *out, int format, uint32_t w, uint32_t h)
{
    if (w == 0 || h == 0)
        return unknown(out);
    memset(out, 0, sizeof *out);
    out->format = format;
    out->width = w;
    out->height = h;
    out->orientation = 1;
    out->raster = 1;
    return TERN_IMG_OK;
}

/* ---- JPEG ---- */

/* SOF0-3, 5-7, 9-11, 13-15: every frame header that carries the dimensions. C4 (DHT),
 * C8 (JPG) and CC (DAC) in that range are not frames. */
static int is_sof(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* Orientation from an APP1 segment's content d[0..n): 0 when it is not Exif (XMP, ...),
 * else IFD0's tag 0x0112 when it is 1..8, and 1 when it is absent or anything else. */
static int exif_orientation(const uint8_t *d, size_t n)
{
    if (n < 6 || memcmp(d, "Exif\0", 5) != 0)
        return 0;
    const uint8_t *t = d + 6; /* the TIFF header; offsets count from here */
    size_t tn = n - 6;
    if (tn < 8)
        return 1;
    int le;
    if (t[0] == 'I' && t[1] == 'I' && t[2] == 42 && t[3] == 0)
        le = 1;
    else if (t[0] == 'M' && t[1] == 'M' && t[2] == 0 && t[3] == 42)
        le = 0;
    else
        return 1;
    uint32_t ifd = le ? le32(t + 4) : be32(t + 4);
    if (ifd < 8 || ifd > tn - 2)
        return 1;
    uint32_t count = le ? le16(t + ifd) : be16(t + ifd);
    size_t e = (size_t)ifd + 2;
    for (uint32_t i = 0; i < count && e + 12 <= tn; i++, e += 12) {
        const uint8_t *f = t + e;
        if ((le ? le16(f) : be16(f)) != 0x0112)
            continue;
        uint32_t type = le ? le16(f + 2) : be16(f + 2), v;
        if (type == 3) /* SHORT, the type the standard gives it */
            v = le ? le16(f + 8) : be16(f + 8);
        else if (type == 4) /* LONG, written by a few tools */
            v = le ? le32(f + 8) : be32(f + 8);
        else
            return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* p[0..3) is FF D8 FF. A JPEG whose SOF is missing before the data ends gets need_more;
 * need then counts the 9 bytes of the next marker and a SOF header, which every
 * well-formed file still holds after that point. The walk gives up (unknown) after
 * TERN_IMG_JPEG_MAX_SEGMENTS markers or TERN_IMG_JPEG_MAX_SKIP bytes that are no
 * segment's (fill and junk): real files have a few dozen and a few, and the bound keeps
 * a hostile file of 4-byte segments, probed again on every NEED_MORE, from costing
 * milliseconds. */
static int probe_jpeg(const uint8_t *p, size_t len, tern_img_info *out)
{
    size_t pos = 2, skipped = 0;
    unsigned segments = 0;
    int orient = 0; /* 0: no Exif segment read yet */
    for (;;) {
        /* Bytes that are not a marker between segments are skipped as libjpeg and Go do
         * (a warning there), then any number of FF fill bytes. */
        size_t from = pos;
        while (pos < len && p[pos] != 0xFF)
            pos++;
        while (pos < len && p[pos] == 0xFF)
            pos++;
        skipped += pos - from - (pos > from); /* the marker's own FF is no skip */
        if (skipped > TERN_IMG_JPEG_MAX_SKIP || ++segments > TERN_IMG_JPEG_MAX_SEGMENTS)
            return unknown(out);
        if (pos >= len)
            return need_more(out, TERN_IMG_JPEG, len + 8);
        uint8_t m = p[pos++];
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7))
            continue; /* a stuffed zero (garbage here), TEM, RSTn: no length */
        if (m == 0xD8 || m == 0xD9 || m == 0xDA)
            return unknown(out); /* SOI again, EOI or SOS before any frame header */
        if (pos + 2 > len)
            return need_more(out, TERN_IMG_JPEG, pos + 9);
        size_t seglen = be16(p + pos); /* counts itself, not the marker */
        if (seglen < 2)
            return unknown(out);
        if (is_sof(m)) {
            /* length, precision, height, width, component count, 3 bytes per component */
            if (pos + 8 > len)
                return need_more(out, TERN_IMG_JPEG, pos + 8);
            uint32_t h = be16(p + pos + 3), w = be16(p + pos + 5), nf = p[pos + 7];
            if (nf == 0 || seglen != 8 + 3 * (size_t)nf)
                return unknown(out);
            if (orient == 0)
                orient = 1;
            int rc = orient >= 5 ? found(out, TERN_IMG_JPEG, h, w) : found(out, TERN_IMG_JPEG, w, h);
            if (rc == TERN_IMG_OK)
                out->orientation = orient;
            return rc; /* a height of 0 (defined later by DNL) counts as absurd */
        }
        size_t end = pos + seglen;
        if (end > len)
            return need_more(out, TERN_IMG_JPEG, end + 9);
        if (m == 0xE1 && orient == 0)
            orient = exif_orientation(p + pos + 2, seglen - 2);
        pos = end;
    }
}

/* ---- PNG, GIF, WebP, BMP ---- */

/* p[0..16) is the signature and IHDR's length and type. */
static int probe_png(const uint8_t *p, size_t len, tern_img_info *out)
{
    if (len < 24)
        return need_more(out, TERN_IMG_PNG, 24);
    uint32_t w = be32(p + 16), h = be32(p + 20);
    if (w > 0x7FFFFFFFu || h > 0x7FFFFFFFu) /* PNG's own limit */
        return unknown(out);
    return found(out, TERN_IMG_PNG, w, h);
}

/* Skips the data sub-blocks at *pos (size byte, data, ..., a 0 size), each taking one of
 * *budget. Returns 1 when the terminator was passed; 0 when the bytes ran out, with *need
 * the byte count that would let it go on; -1 when the budget ran out. */
static int gif_skip_blocks(const uint8_t *p, size_t len, size_t *pos, unsigned *budget, size_t *need)
{
    for (;;) {
        if (*budget == 0)
            return -1;
        --*budget;
        if (*pos >= len) {
            *need = *pos + 1;
            return 0;
        }
        size_t n = p[*pos];
        *pos += 1 + n;
        if (n == 0)
            return 1;
    }
}

/* p[0..6) is GIF87a or GIF89a. The size is the logical screen's; the walk looks for a
 * second image descriptor within len and TERN_IMG_GIF_MAX_BLOCKS blocks. */
static int probe_gif(const uint8_t *p, size_t len, tern_img_info *out)
{
    if (len < 10)
        return need_more(out, TERN_IMG_GIF, 10);
    int rc = found(out, TERN_IMG_GIF, le16(p + 6), le16(p + 8));
    if (rc != TERN_IMG_OK || len < 13) {
        if (rc == TERN_IMG_OK)
            out->need = 13;
        return rc;
    }
    size_t pos = 13, need = 0;
    if (p[10] & 0x80) /* global colour table */
        pos += (size_t)3 << ((p[10] & 7) + 1);
    unsigned budget = TERN_IMG_GIF_MAX_BLOCKS;
    int frames = 0, more = 1;
    while (more == 1) {
        if (budget == 0)
            break;
        budget--;
        if (pos >= len) {
            need = pos + 1;
            break;
        }
        uint8_t b = p[pos];
        if (b == 0x21) { /* extension: introducer, label, sub-blocks */
            pos += 2;
            more = gif_skip_blocks(p, len, &pos, &budget, &need);
        } else if (b == 0x2C) { /* image descriptor */
            if (++frames == 2) {
                out->animated = 1;
                break;
            }
            if (pos + 10 > len) {
                need = pos + 10;
                break;
            }
            uint8_t packed = p[pos + 9];
            pos += 10;
            if (packed & 0x80) /* local colour table */
                pos += (size_t)3 << ((packed & 7) + 1);
            pos += 1; /* LZW minimum code size */
            more = gif_skip_blocks(p, len, &pos, &budget, &need);
        } else {
            break; /* trailer (3B), or bytes no decoder would read on: one frame */
        }
    }
    out->need = need;
    return TERN_IMG_OK;
}

/* p[0..12) is RIFF, a size, WEBP; the first chunk says which kind of WebP it is. */
static int probe_webp(const uint8_t *p, size_t len, tern_img_info *out)
{
    if (len < 20)
        return need_more(out, TERN_IMG_WEBP, 25);
    const uint8_t *fourcc = p + 12, *d = p + 20;
    uint32_t csize = le32(p + 16);
    if (memcmp(fourcc, "VP8 ", 4) == 0) { /* lossy: frame tag, start code, 14-bit sizes */
        if (len < 30)
            return need_more(out, TERN_IMG_WEBP, 30);
        if (csize < 10 || (d[0] & 1) != 0 || d[3] != 0x9D || d[4] != 0x01 || d[5] != 0x2A)
            return unknown(out); /* not a key frame, or no start code */
        return found(out, TERN_IMG_WEBP, le16(d + 6) & 0x3FFF, le16(d + 8) & 0x3FFF);
    }
    if (memcmp(fourcc, "VP8L", 4) == 0) { /* lossless: signature, 14-bit w-1, h-1, version */
        if (len < 25)
            return need_more(out, TERN_IMG_WEBP, 25);
        uint32_t bits = le32(d + 1);
        if (csize < 5 || d[0] != 0x2F || (bits >> 29) != 0)
            return unknown(out);
        return found(out, TERN_IMG_WEBP, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
    }
    if (memcmp(fourcc, "VP8X", 4) == 0) { /* extended: flags, 3 reserved, 24-bit w-1, h-1 */
        if (len < 30)
            return need_more(out, TERN_IMG_WEBP, 30);
        uint32_t w = le24(d + 4) + 1, h = le24(d + 7) + 1;
        if (csize < 10 || (uint64_t)w * h > 0xFFFFFFFFu) /* the format's own limit */
            return unknown(out);
        int rc = found(out, TERN_IMG_WEBP, w, h);
        out->animated = (d[0] & 0x02) != 0;
        return rc;
    }
    return unknown(out);
}

/* p[0..2) is BM. The DIB header's size says which header follows the 14-byte file
 * header: 12 is OS/2's BITMAPCOREHEADER (unsigned 16-bit sizes), the others are
 * BITMAPINFOHEADER and its successors (signed 32-bit; a negative height is top-down). */
static int probe_bmp(const uint8_t *p, size_t len, tern_img_info *out)
{
    if (len < 18)
        return need_more(out, TERN_IMG_BMP, 26);
    uint32_t hs = le32(p + 14);
    if (hs == 12) {
        if (len < 26)
            return need_more(out, TERN_IMG_BMP, 26);
        uint32_t bpp = le16(p + 24);
        if (le16(p + 22) != 1 || (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 24))
            return unknown(out);
        return found(out, TERN_IMG_BMP, le16(p + 18), le16(p + 20));
    }
    if (hs != 40 && hs != 52 && hs != 56 && hs != 64 && hs != 108 && hs != 124)
        return unknown(out);
    if (len < 30)
        return need_more(out, TERN_IMG_BMP, 30);
    uint32_t w = le32(p + 18), h = le32(p + 22), bpp = le16(p + 28);
    if (le16(p + 26) != 1 ||
        (bpp != 0 && bpp != 1 && bpp != 2 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32))
        return unknown(out); /* bpp 0: JPEG or PNG inside */
    if (w == 0 || w > 0x7FFFFFFFu || h == 0x80000000u)
        return unknown(out); /* 0 or negative width; a height with no absolute value */
    if (h > 0x7FFFFFFFu)
        h = 0u - h; /* top-down */
    return found(out, TERN_IMG_BMP, w, h);
}

/* ---- dispatch ---- */

typedef int (*probe_fn)(const uint8_t *, size_t, tern_img_info *);

/* Magic bytes ('.' matches anything), the format, its reader and the fewest bytes any
 * well-formed file of it has past its magic (the need of a bare prefix). */
static const struct {
    const char *magic;
    size_t mlen;
    int format;
    probe_fn probe;
    size_t need;
} magics[] = {
    {"\xFF\xD8\xFF", 3, TERN_IMG_JPEG, probe_jpeg, 11},
    {"\x89PNG\r\n\x1A\n\0\0\0\rIHDR", 16, TERN_IMG_PNG, probe_png, 24},
    {"GIF87a", 6, TERN_IMG_GIF, probe_gif, 10},
    {"GIF89a", 6, TERN_IMG_GIF, probe_gif, 10},
    {"RIFF....WEBP", 12, TERN_IMG_WEBP, probe_webp, 25},
    {"BM", 2, TERN_IMG_BMP, probe_bmp, 26},
};

static int matches(const uint8_t *p, size_t n, const char *magic)
{
    for (size_t i = 0; i < n; i++)
        if (magic[i] != '.' && p[i] != (uint8_t)magic[i])
            return 0;
    return 1;
}

int tern_img_probe(const uint8_t *p, size_t len, tern_img_info *out)
{
    size_t need = 0;
    int format = -1; /* of the prefixes matched: -1 none yet, 0 more than one format */
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        size_t n = len < magics[i].mlen ? len : magics[i].mlen;
        if (!matches(p, n, magics[i].magic))
            continue;
        if (n == magics[i].mlen)
            return magics[i].probe(p, len, out);
        /* a prefix of this magic: the smallest need of those it may still become */
        if (need == 0 || magics[i].need < need)
            need = magics[i].need;
        format = format == -1 || format == magics[i].format ? magics[i].format : TERN_IMG_NONE;
    }
    if (need)
        return need_more(out, format, need);
    return unknown(out);
}

/* ---- names ---- */

const char *tern_img_format_name(int format)
{
    switch (format) {
    case TERN_IMG_JPEG: return "jpg";
    case TERN_IMG_PNG: return "png";
    case TERN_IMG_GIF: return "gif";
    case TERN_IMG_WEBP: return "webp";
    case TERN_IMG_BMP: return "bmp";
    default: return NULL;
    }
}

const char *tern_img_format_mime(int format)
{
    switch (format) {
    case TERN_IMG_JPEG: return "image/jpeg";
    case TERN_IMG_PNG: return "image/png";
    case TERN_IMG_GIF: return "image/gif";
    case TERN_IMG_WEBP: return "image/webp";
    case TERN_IMG_BMP: return "image/bmp";
    default: return NULL;
    }
}

int tern_img_tim_format(int format)
{
    return format >= TERN_IMG_JPEG && format <= TERN_IMG_BMP ? format : 255;
}

void tern_img_fit(int w, int h, int box, int *tw, int *th)
{
    int lw = w >= h; /* the long side is the width */
    long long lng = lw ? w : h, sht = lw ? h : w;
    long long nl = lng < box ? lng : box;
    long long ns = (sht * nl * 2 + lng) / (lng * 2); /* sht * nl / lng, rounded to nearest */
    if (ns < 1)
        ns = 1;
    *tw = (int)(lw ? nl : ns);
    *th = (int)(lw ? ns : nl);
}
