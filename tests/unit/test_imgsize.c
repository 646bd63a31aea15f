/* test_imgsize.c — unit tests for core/imgsize.c (image format and dimensions from the
 * header). The images are made here: builders write small, complete files of every
 * format (a grey baseline JPEG with real Huffman tables and scan data, optionally with
 * an Exif APP1; PNG with CRC and a stored zlib stream; GIF87a/89a with LZW data of one or
 * two frames; BMP with core and info headers; and the four 1x1 WebP files that browsers'
 * feature probes use), then hostile variants patch them. Every sample is also probed at
 * every truncated length from an exactly sized heap copy, so ASan catches any read past
 * len. With TERN_IMGSIZE_SEEDS=DIR set, the samples are written there as files (the seeds
 * of tests/fuzz/corpus/fuzz_imgsize). The last test prints the cost of a probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/imgsize.h"

/* ---- a growable sample (fixed ceiling) ---- */

typedef struct img {
    uint8_t *d;
    size_t len, cap;
} img;

static void img_init(img *b)
{
    b->cap = 1 << 20;
    b->d = tern_malloc(b->cap);
    b->len = 0;
}

static void put(img *b, const void *p, size_t n)
{
    assert_true(b->len + n <= b->cap);
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

static void u8(img *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

static void be16(img *b, unsigned v)
{
    u8(b, v >> 8);
    u8(b, v);
}

static void le16(img *b, unsigned v)
{
    u8(b, v);
    u8(b, v >> 8);
}

static void be32(img *b, uint32_t v)
{
    be16(b, v >> 16);
    be16(b, v & 0xFFFF);
}

static void le32(img *b, uint32_t v)
{
    le16(b, v & 0xFFFF);
    le16(b, v >> 16);
}

static void fill(img *b, unsigned v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        u8(b, v);
}

/* ---- JPEG: 8-bit greyscale baseline, every block DC diff 0 and EOB ---- */

/* An Exif APP1 whose IFD0 has Orientation (SHORT) and, with thumb, a JPEGInterchange
 * thumbnail: a small JPEG header with a SOF of 999x777 inside the segment, which the
 * walk must step over by the segment's length. */
static void jpeg_exif(img *b, int orientation, int big_endian, int thumb)
{
    img t;
    img_init(&t);
    void (*w16)(img *, unsigned) = big_endian ? be16 : le16;
    void (*w32)(img *, uint32_t) = big_endian ? be32 : le32;
    put(&t, big_endian ? "MM\0*" : "II*\0", 4);
    w32(&t, 8);
    w16(&t, 2);                                          /* entries */
    w16(&t, 0x011A), w16(&t, 5), w32(&t, 1), w32(&t, 0); /* XResolution, value elsewhere */
    w16(&t, 0x0112), w16(&t, 3), w32(&t, 1), w16(&t, (unsigned)orientation), w16(&t, 0);
    w32(&t, 0); /* no IFD1 */
    if (thumb) {
        static const uint8_t fake[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x03, 0x09,
                                       0x03, 0xE7, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9};
        put(&t, fake, sizeof fake);
    }
    u8(b, 0xFF), u8(b, 0xE1);
    be16(b, (unsigned)(2 + 6 + t.len));
    put(b, "Exif\0\0", 6);
    put(b, t.d, t.len);
    tern_free(t.d);
}

static void jpeg_build(img *b, unsigned w, unsigned h, int orientation, int big_endian, int thumb)
{
    img_init(b);
    u8(b, 0xFF), u8(b, 0xD8);
    u8(b, 0xFF), u8(b, 0xE0), be16(b, 16); /* JFIF 1.01, no thumbnail */
    put(b, "JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 14);
    if (orientation)
        jpeg_exif(b, orientation, big_endian, thumb);
    u8(b, 0xFF), u8(b, 0xDB), be16(b, 67), u8(b, 0); /* DQT 0: all ones */
    fill(b, 1, 64);
    u8(b, 0xFF), u8(b, 0xC0), be16(b, 11), u8(b, 8), be16(b, h), be16(b, w);
    u8(b, 1), u8(b, 1), u8(b, 0x11), u8(b, 0); /* one component, 1x1, table 0 */
    for (unsigned cls = 0; cls < 2; cls++) {   /* DHT DC 0 and AC 0: one 1-bit code, symbol 0 */
        u8(b, 0xFF), u8(b, 0xC4), be16(b, 20), u8(b, cls << 4), u8(b, 1);
        fill(b, 0, 15);
        u8(b, 0);
    }
    u8(b, 0xFF), u8(b, 0xDA), be16(b, 8), u8(b, 1), u8(b, 1), u8(b, 0), u8(b, 0), u8(b, 63), u8(b, 0);
    size_t blocks = (size_t)((w + 7) / 8) * ((h + 7) / 8), bits = 2 * blocks;
    fill(b, 0, bits / 8);
    if (bits % 8)
        u8(b, 0xFFu >> (bits % 8)); /* the rest of the byte padded with ones */
    u8(b, 0xFF), u8(b, 0xD9);
}

/* ---- PNG: 8-bit greyscale, one IDAT of a stored zlib stream ---- */

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void png_chunk(img *b, const char *type, const uint8_t *data, size_t n)
{
    be32(b, (uint32_t)n);
    size_t start = b->len;
    put(b, type, 4);
    if (n)
        put(b, data, n);
    be32(b, crc32_of(b->d + start, 4 + n));
}

/* Only the header is real for big sizes: the pixel data is made for w*h <= 4096. */
static void png_build(img *b, uint32_t w, uint32_t h)
{
    img_init(b);
    put(b, "\x89PNG\r\n\x1A\n", 8);
    uint8_t ihdr[13] = {0};
    for (int i = 0; i < 4; i++)
        ihdr[i] = (uint8_t)(w >> (24 - 8 * i)), ihdr[4 + i] = (uint8_t)(h >> (24 - 8 * i));
    ihdr[8] = 8; /* depth 8, colour type 0 (grey) */
    png_chunk(b, "IHDR", ihdr, sizeof ihdr);
    if ((uint64_t)w * h <= 4096) {
        img z;
        img_init(&z);
        size_t raw = (size_t)h * (w + 1); /* a filter byte per row, then grey 0x80 */
        u8(&z, 0x78), u8(&z, 0x01), u8(&z, 1), le16(&z, (unsigned)raw), le16(&z, (unsigned)~raw & 0xFFFF);
        uint32_t a = 1, s = 0;
        for (size_t i = 0; i < raw; i++) {
            unsigned v = i % (w + 1) == 0 ? 0 : 0x80;
            u8(&z, v);
            a = (a + v) % 65521, s = (s + a) % 65521;
        }
        be32(&z, s << 16 | a);
        png_chunk(b, "IDAT", z.d, z.len);
        tern_free(z.d);
    }
    png_chunk(b, "IEND", NULL, 0);
}

/* ---- GIF: two-colour global table, LZW of colour 0 with a clear code every two pixels
 * so the code size stays 3 bits ---- */

/* Appends a 3-bit LZW code, least significant bit first. */
static void lzw3(uint8_t *data, size_t *nbits, unsigned c)
{
    for (int k = 0; k < 3; k++, (*nbits)++)
        if ((c >> k) & 1)
            data[*nbits / 8] |= (uint8_t)(1u << (*nbits % 8));
}

static void gif_frame(img *b, unsigned w, unsigned h, int gce)
{
    if (gce) { /* graphic control: 10/100 s */
        static const uint8_t g[] = {0x21, 0xF9, 0x04, 0x04, 0x0A, 0x00, 0x00, 0x00};
        put(b, g, sizeof g);
    }
    u8(b, 0x2C), le16(b, 0), le16(b, 0), le16(b, w), le16(b, h), u8(b, 0);
    u8(b, 2); /* LZW minimum code size */
    uint8_t data[4096] = {0};
    size_t nbits = 0;
    size_t pixels = (size_t)w * h;
    assert_true(pixels * 2 < sizeof data); /* 1.5 codes of 3 bits a pixel */
    for (size_t i = 0; i < pixels; i++) {
        if (i % 2 == 0)
            lzw3(data, &nbits, 4); /* clear */
        lzw3(data, &nbits, 0);
    }
    lzw3(data, &nbits, 5); /* end of information */
    size_t n = (nbits + 7) / 8;
    for (size_t off = 0; off < n; off += 255) { /* sub-blocks of at most 255 */
        size_t k = n - off < 255 ? n - off : 255;
        u8(b, (unsigned)k);
        put(b, data + off, k);
    }
    u8(b, 0);
}

static void gif_build(img *b, char version, unsigned w, unsigned h, int frames)
{
    img_init(b);
    put(b, version == '7' ? "GIF87a" : "GIF89a", 6);
    le16(b, w), le16(b, h), u8(b, 0x80), u8(b, 0), u8(b, 0); /* global table of 2 */
    put(b, "\0\0\0\xFF\xFF\xFF", 6);
    int ext = version == '9' && frames > 1; /* GIF87a has frames but no extensions */
    if (ext)                                /* NETSCAPE2.0: loop forever */
        put(b, "\x21\xFF\x0BNETSCAPE2.0\x03\x01\0\0\0", 19);
    for (int i = 0; i < frames; i++)
        gif_frame(b, w, h, ext);
    u8(b, 0x3B);
}

/* ---- BMP: 24-bit, rows padded to 4 bytes ---- */

static void bmp_build(img *b, uint32_t header, int32_t w, int32_t h)
{
    img_init(b);
    size_t aw = (size_t)(w < 0 ? -(int64_t)w : w), ah = (size_t)(h < 0 ? -(int64_t)h : h);
    size_t row = (aw * 3 + 3) / 4 * 4, pix = aw * ah <= 4096 ? row * ah : 0;
    u8(b, 'B'), u8(b, 'M'), le32(b, (uint32_t)(14 + header + pix)), le32(b, 0), le32(b, 14 + header);
    le32(b, header);
    if (header == 12) {
        le16(b, (unsigned)w), le16(b, (unsigned)h), le16(b, 1), le16(b, 24);
    } else {
        le32(b, (uint32_t)w), le32(b, (uint32_t)h), le16(b, 1), le16(b, 24);
        le32(b, 0), le32(b, (uint32_t)pix), le32(b, 2835), le32(b, 2835), le32(b, 0), le32(b, 0);
        fill(b, 0, header - 40);
    }
    fill(b, 0x80, pix);
}

/* ---- WebP: the 1x1 files of browsers' WebP feature probes ---- */

static const uint8_t webp_lossy[] = {0x52, 0x49, 0x46, 0x46, 0x22, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50,
                                     0x38, 0x20, 0x16, 0x00, 0x00, 0x00, 0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x00,
                                     0x01, 0x00, 0x0e, 0xc0, 0xfe, 0x25, 0xa4, 0x00, 0x03, 0x70, 0x00, 0x00, 0x00};
static const uint8_t webp_lossless[] = {0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50,
                                        0x56, 0x50, 0x38, 0x4c, 0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00,
                                        0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00};
static const uint8_t webp_alpha[] = {0x52, 0x49, 0x46, 0x46, 0x4a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50,
                                     0x38, 0x58, 0x0a, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x41, 0x4c, 0x50, 0x48, 0x0c, 0x00, 0x00, 0x00, 0x11, 0x07, 0x10, 0x11,
                                     0xfd, 0x0f, 0x44, 0x44, 0xff, 0x03, 0x00, 0x00, 0x56, 0x50, 0x38, 0x20, 0x18, 0x00,
                                     0x00, 0x00, 0x14, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
                                     0xfe, 0x00, 0x00, 0x0d, 0xc0, 0x00, 0xfe, 0xe6, 0xb5, 0x00, 0x00, 0x00};
static const uint8_t webp_anim[] = {
    0x52, 0x49, 0x46, 0x46, 0x52, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x58, 0x0a, 0x00,
    0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41, 0x4e, 0x49, 0x4d, 0x06, 0x00,
    0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x41, 0x4e, 0x4d, 0x46, 0x26, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x56, 0x50, 0x38, 0x4c,
    0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00};

static void from(img *b, const uint8_t *p, size_t n)
{
    img_init(b);
    put(b, p, n);
}

/* ---- probing ---- */

/* Probes an exactly sized heap copy (so ASan sees a read past len). */
static int probe(const uint8_t *p, size_t len, tern_img_info *out)
{
    uint8_t *copy = tern_malloc(len ? len : 1);
    if (len)
        memcpy(copy, p, len);
    memset(out, 0x5A, sizeof *out); /* stale contents must not leak through */
    int rc = tern_img_probe(len ? copy : NULL, len, out);
    tern_free(copy);
    return rc;
}

/* The sample probes to exactly this; then every shorter prefix gives NEED_MORE with
 * len < need <= the sample's size (a valid beginning is never unknown, and need never
 * asks past a well-formed file), or OK with the same answer (once the size is in). */
static void check(const char *name, const img *b, int format, uint32_t w, uint32_t h, int orientation, int animated)
{
    tern_img_info in;
    int rc = probe(b->d, b->len, &in);
    if (rc != TERN_IMG_OK)
        fail_msg("%s: rc %d need %zu", name, rc, in.need);
    assert_int_equal(in.format, format);
    assert_int_equal(in.width, w);
    assert_int_equal(in.height, h);
    assert_int_equal(in.orientation, orientation);
    assert_int_equal(in.animated, animated);
    assert_int_equal(in.raster, 1);
    assert_int_equal(in.need, 0);
    for (size_t k = 0; k < b->len; k++) {
        tern_img_info t;
        int r = probe(b->d, k, &t);
        if (r == TERN_IMG_NEED_MORE) {
            if (!(t.need > k && t.need <= b->len))
                fail_msg("%s[0..%zu): need %zu of %zu", name, k, t.need, b->len);
            assert_true(t.format == format || t.format == TERN_IMG_NONE);
            assert_int_equal(t.width, 0);
        } else if (r == TERN_IMG_OK) {
            assert_int_equal(t.format, format);
            assert_int_equal(t.width, w);
            assert_int_equal(t.height, h);
            assert_true(t.animated <= animated); /* a GIF's second frame may be past k */
            assert_true(t.need == 0 || (t.need > k && t.need <= b->len));
        } else {
            fail_msg("%s[0..%zu): rc %d", name, k, r);
        }
    }
    const char *dir = getenv("TERN_IMGSIZE_SEEDS");
    if (dir) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, tern_img_format_name(format));
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(b->d, 1, b->len, f), b->len);
        fclose(f);
    }
}

static int probe_rc(const img *b)
{
    tern_img_info t;
    return probe(b->d, b->len, &t);
}

/* ---- the formats ---- */

static void test_jpeg(void **state)
{
    (void)state;
    img b;
    jpeg_build(&b, 1, 1, 0, 0, 0);
    check("jpeg_1x1", &b, TERN_IMG_JPEG, 1, 1, 1, 0);
    tern_free(b.d);
    jpeg_build(&b, 30, 20, 6, 0, 0); /* rotate 90 CW to show: 20 wide, 30 high */
    check("jpeg_exif6_ii", &b, TERN_IMG_JPEG, 20, 30, 6, 0);
    tern_free(b.d);
    jpeg_build(&b, 30, 20, 8, 1, 1); /* big-endian TIFF, a thumbnail SOF inside the Exif */
    check("jpeg_exif8_mm_thumb", &b, TERN_IMG_JPEG, 20, 30, 8, 0);
    tern_free(b.d);
    jpeg_build(&b, 30, 20, 3, 1, 0); /* 180 degrees: no swap */
    check("jpeg_exif3", &b, TERN_IMG_JPEG, 30, 20, 3, 0);
    tern_free(b.d);
    jpeg_build(&b, 30, 20, 9, 0, 0); /* not an orientation: as 1 */
    check("jpeg_exif9", &b, TERN_IMG_JPEG, 30, 20, 1, 0);
    tern_free(b.d);
}

/* Fill bytes, RST/TEM markers, a COM and junk between segments; progressive SOF2. */
static void test_jpeg_markers(void **state)
{
    (void)state;
    img b;
    img_init(&b);
    static const uint8_t head[] = {
        0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x05, 'h',  'i',  '!',  0x00, 0x17, /* junk */ 0xFF,
        0xD3, 0xFF, 0x01, 0xFF, 0xFF, 0xC2, 0x00, 0x11, 0x08, 0x01, 0x2C, 0x02, 0x58, 0x03,
        0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9};
    put(&b, head, sizeof head);
    check("jpeg_markers_sof2", &b, TERN_IMG_JPEG, 600, 300, 1, 0);
    uint8_t m[] = {0xC1, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF};
    for (size_t i = 0; i < sizeof m; i++) {
        b.d[19] = m[i];
        tern_img_info t;
        assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_OK);
        assert_int_equal(t.width, 600);
    }
    b.d[19] = 0xC4; /* DHT is not a frame: skipped, then EOI before any SOF */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
}

/* A SOF 300 KB in (five 64 KB APP2 segments first): a 64 KiB head asks for more, and a
 * caller that reads up to need, rounded up to 64 KiB, gets there in a few rounds. */
static void test_jpeg_far_sof(void **state)
{
    (void)state;
    img b, tail;
    img_init(&b);
    u8(&b, 0xFF), u8(&b, 0xD8);
    for (int i = 0; i < 5; i++) {
        u8(&b, 0xFF), u8(&b, 0xE2), be16(&b, 0xFFFF);
        fill(&b, 0x11 * (unsigned)i, 0xFFFD);
    }
    jpeg_build(&tail, 40, 30, 0, 0, 0);
    put(&b, tail.d + 2, tail.len - 2);
    tern_free(tail.d);
    size_t have = 65536;
    int rounds = 0, rc;
    tern_img_info t;
    while ((rc = probe(b.d, have, &t)) == TERN_IMG_NEED_MORE) {
        assert_int_equal(t.format, TERN_IMG_JPEG);
        assert_true(t.need > have && t.need <= b.len);
        have = (t.need + 65535) / 65536 * 65536;
        if (have > b.len)
            have = b.len;
        rounds++;
    }
    assert_int_equal(rc, TERN_IMG_OK);
    assert_int_equal(t.width, 40);
    assert_int_equal(t.height, 30);
    assert_true(rounds >= 4 && rounds <= 6);
    print_message("SOF after %zu bytes of APP2: found after %d more reads\n", b.len - tail.len + 2, rounds);
    tern_free(b.d);
}

static void test_png(void **state)
{
    (void)state;
    img b;
    png_build(&b, 1, 1);
    check("png_1x1", &b, TERN_IMG_PNG, 1, 1, 1, 0);
    tern_free(b.d);
    png_build(&b, 7, 3);
    check("png_7x3", &b, TERN_IMG_PNG, 7, 3, 1, 0);
    tern_free(b.d);
    png_build(&b, 20000, 20000); /* a bomb's header: only the numbers are read */
    check("png_20000", &b, TERN_IMG_PNG, 20000, 20000, 1, 0);
    tern_free(b.d);
}

static void test_gif(void **state)
{
    (void)state;
    img b;
    gif_build(&b, '7', 1, 1, 1);
    check("gif87a_1x1", &b, TERN_IMG_GIF, 1, 1, 1, 0);
    tern_free(b.d);
    gif_build(&b, '9', 5, 3, 1);
    check("gif89a_5x3", &b, TERN_IMG_GIF, 5, 3, 1, 0);
    tern_free(b.d);
    gif_build(&b, '9', 5, 3, 2);
    check("gif89a_anim", &b, TERN_IMG_GIF, 5, 3, 1, 1);
    tern_free(b.d);
    gif_build(&b, '7', 30, 30, 2);
    check("gif87a_anim", &b, TERN_IMG_GIF, 30, 30, 1, 1);
    /* Only the head of the first frame: one frame as far as these bytes go, and need
     * says how far to read on. */
    tern_img_info t;
    assert_int_equal(probe(b.d, 60, &t), TERN_IMG_OK);
    assert_int_equal(t.animated, 0);
    assert_true(t.need > 60 && t.need <= b.len);
    tern_free(b.d);
}

static void test_webp(void **state)
{
    (void)state;
    img b;
    from(&b, webp_lossy, sizeof webp_lossy);
    check("webp_vp8", &b, TERN_IMG_WEBP, 1, 1, 1, 0);
    b.d[26] = 0x20, b.d[27] = 0x43, b.d[28] = 0xE8, b.d[29] = 0x43; /* 800 x 1000 and scale bits */
    check("webp_vp8_800x1000", &b, TERN_IMG_WEBP, 800, 1000, 1, 0);
    tern_free(b.d);
    from(&b, webp_lossless, sizeof webp_lossless);
    check("webp_vp8l", &b, TERN_IMG_WEBP, 1, 1, 1, 0);
    uint32_t bits = (uint32_t)(640 - 1) | (uint32_t)(480 - 1) << 14 | 1u << 28; /* alpha hint */
    for (int i = 0; i < 4; i++)
        b.d[21 + i] = (uint8_t)(bits >> (8 * i));
    check("webp_vp8l_640x480", &b, TERN_IMG_WEBP, 640, 480, 1, 0);
    b.d[24] |= 0x20; /* version 1: not VP8L */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    from(&b, webp_alpha, sizeof webp_alpha);
    check("webp_vp8x_alpha", &b, TERN_IMG_WEBP, 1, 1, 1, 0);
    tern_free(b.d);
    from(&b, webp_anim, sizeof webp_anim);
    check("webp_vp8x_anim", &b, TERN_IMG_WEBP, 1, 1, 1, 1);
    b.d[24] = 0x3F, b.d[25] = 0x42, b.d[26] = 0x0F; /* 1000000 x 1000001: over 2^32 - 1 pixels */
    b.d[27] = 0x40, b.d[28] = 0x42, b.d[29] = 0x0F;
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    b.d[26] = 0, b.d[29] = 0; /* 16960 x 16961 */
    check("webp_vp8x_big", &b, TERN_IMG_WEBP, 16960, 16961, 1, 1);
    tern_free(b.d);
}

static void test_bmp(void **state)
{
    (void)state;
    img b;
    bmp_build(&b, 12, 3, 2);
    check("bmp_core", &b, TERN_IMG_BMP, 3, 2, 1, 0);
    tern_free(b.d);
    bmp_build(&b, 40, 1, 1);
    check("bmp_info_1x1", &b, TERN_IMG_BMP, 1, 1, 1, 0);
    tern_free(b.d);
    bmp_build(&b, 124, 5, -4); /* v5 header, top-down */
    check("bmp_v5_topdown", &b, TERN_IMG_BMP, 5, 4, 1, 0);
    tern_free(b.d);
    uint32_t sizes[] = {52, 56, 64, 108};
    for (size_t i = 0; i < 4; i++) {
        bmp_build(&b, sizes[i], 9, 7);
        assert_int_equal(probe_rc(&b), TERN_IMG_OK);
        tern_free(b.d);
    }
    bmp_build(&b, 40, -3, 2); /* negative width */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    bmp_build(&b, 40, 3, INT32_MIN); /* a height with no absolute value */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    bmp_build(&b, 40, 3, 2);
    b.d[26] = 2; /* two planes */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    b.d[26] = 1, b.d[28] = 7; /* 7 bits per pixel */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    b.d[14] = 41; /* no such header */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
}

/* ---- hostile input ---- */

/* A JPEG with n empty COM segments and junk bytes (zeros) before its JFIF segment. */
static void jpeg_walk(img *b, int n, size_t junk)
{
    img tail;
    jpeg_build(&tail, 30, 20, 0, 0, 0);
    img_init(b);
    u8(b, 0xFF), u8(b, 0xD8);
    for (int i = 0; i < n; i++)
        u8(b, 0xFF), u8(b, 0xFE), be16(b, 2);
    fill(b, 0, junk);
    put(b, tail.d + 2, tail.len - 2);
    tern_free(tail.d);
}

/* A 2-frame GIF whose first frame's data is n one-byte sub-blocks. */
static void gif_walk(img *b, int n)
{
    gif_build(b, '9', 40, 40, 1);
    b->len -= 2; /* before the image data's terminator and the trailer */
    for (int i = 0; i < n; i++)
        u8(b, 1), u8(b, 0);
    u8(b, 0);
    gif_frame(b, 40, 40, 1);
    u8(b, 0x3B);
}

/* The walks are bounded: past the bounds a JPEG is unknown and a GIF one frame. */
static void test_walk_bounds(void **state)
{
    (void)state;
    img b;
    tern_img_info t;
    /* JFIF, DQT and SOF take 3 of the markers: exactly at both bounds, then one past */
    jpeg_walk(&b, TERN_IMG_JPEG_MAX_SEGMENTS - 3, TERN_IMG_JPEG_MAX_SKIP);
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_OK);
    assert_int_equal(t.width, 30);
    tern_free(b.d);
    jpeg_walk(&b, TERN_IMG_JPEG_MAX_SEGMENTS - 2, 0);
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    jpeg_walk(&b, 0, TERN_IMG_JPEG_MAX_SKIP + 1);
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    gif_walk(&b, TERN_IMG_GIF_MAX_BLOCKS - 10);
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_OK);
    assert_int_equal(t.animated, 1);
    tern_free(b.d);
    gif_walk(&b, TERN_IMG_GIF_MAX_BLOCKS);
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_OK);
    assert_int_equal(t.animated, 0);
    assert_int_equal(t.need, 0);
    tern_free(b.d);
}

static void test_zero_sizes(void **state)
{
    (void)state;
    img b;
    jpeg_build(&b, 0, 20, 0, 0, 0);
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    jpeg_build(&b, 20, 0, 0, 0, 0); /* height from a DNL marker: not supported */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    png_build(&b, 0, 5);
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    png_build(&b, 0x80000000u, 5); /* over PNG's 2^31 - 1 */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    gif_build(&b, '9', 4, 0, 1);
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    bmp_build(&b, 40, 3, 0);
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    bmp_build(&b, 12, 0, 3);
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
    from(&b, webp_lossy, sizeof webp_lossy);
    b.d[26] = 0, b.d[27] = 0xC0; /* 0 wide, only scale bits */
    assert_int_equal(probe_rc(&b), TERN_IMG_UNKNOWN);
    tern_free(b.d);
}

static void test_hostile_jpeg(void **state)
{
    (void)state;
    img b;
    tern_img_info t;
    jpeg_build(&b, 8, 8, 0, 0, 0);
    /* The JFIF segment's length points past the end of the file: not enough bytes, and
     * need is beyond the whole file, which the caller reads as truncated. */
    b.d[4] = 0x7F, b.d[5] = 0xF0;
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_NEED_MORE);
    assert_true(t.need > b.len);
    b.d[4] = 0, b.d[5] = 1; /* a length under 2 */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_UNKNOWN);
    tern_free(b.d);

    jpeg_build(&b, 8, 8, 0, 0, 0);
    size_t sof = 2 + 18 + 69;
    assert_int_equal(b.d[sof + 1], 0xC0);
    b.d[sof + 3] = 12; /* SOF length disagrees with its component count */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_UNKNOWN);
    b.d[sof + 3] = 11, b.d[sof + 9] = 0; /* no components */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_UNKNOWN);
    b.d[sof + 9] = 1, b.d[sof + 1] = 0xDA; /* scan data before any frame header */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_UNKNOWN);
    b.d[sof + 1] = 0xD9; /* end of image */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_UNKNOWN);
    b.d[sof + 1] = 0xD8; /* a second SOI */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_UNKNOWN);
    tern_free(b.d);

    /* Exif with a lying IFD offset, entry count and a wrong type: orientation 1. */
    jpeg_build(&b, 30, 20, 6, 0, 0);
    size_t tiff = 2 + 18 + 4 + 6;
    assert_int_equal(b.d[tiff], 'I');
    b.d[tiff + 4] = 0xF0; /* IFD0 offset past the segment */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_OK);
    assert_int_equal(t.orientation, 1);
    assert_int_equal(t.width, 30);
    b.d[tiff + 4] = 8, b.d[tiff + 8] = 0xFF, b.d[tiff + 9] = 0xFF; /* 65535 entries */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_OK);
    assert_int_equal(t.orientation, 6);
    b.d[tiff + 8 + 2 + 12 + 2] = 2; /* Orientation as ASCII */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_OK);
    assert_int_equal(t.orientation, 1);
    b.d[tiff] = 'X'; /* no TIFF header */
    assert_int_equal(probe(b.d, b.len, &t), TERN_IMG_OK);
    assert_int_equal(t.orientation, 1);
    tern_free(b.d);
}

static void test_not_images(void **state)
{
    (void)state;
#define S(x)                                                                                                           \
    {                                                                                                                  \
        x, sizeof x - 1                                                                                                \
    }
    static const struct {
        const char *s;
        size_t n;
    } texts[] = {
        S("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>"),
        S("<!DOCTYPE html><script>alert(1)</script>"),
        S("%PDF-1.7\n"),
        S("RIFF\x24\0\0\0WAVEfmt "),
        S("GIF88a\x01\0\x01\0"),
        S("\x89PNG\r\n\x1A\n\0\0\0\x0DIHDX\0\0\0\x01\0\0\0\x01"),
        S("\xFF\xD8\xFE"),
        S("BMP is a format, and this is text"),
        S("hello"),
        S("\0"),
    };
#undef S
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tern_img_info t;
        assert_int_equal(probe((const uint8_t *)texts[i].s, texts[i].n, &t), TERN_IMG_UNKNOWN);
        assert_int_equal(t.format, TERN_IMG_NONE);
        assert_int_equal(t.raster, 0);
        assert_int_equal(t.need, 0);
    }
    /* The empty prefix and a bare "RIFF" may still become an image. */
    tern_img_info t;
    assert_int_equal(tern_img_probe(NULL, 0, &t), TERN_IMG_NEED_MORE);
    assert_int_equal(t.format, TERN_IMG_NONE);
    assert_true(t.need > 0);
    assert_int_equal(probe((const uint8_t *)"RIFF", 4, &t), TERN_IMG_NEED_MORE);
    assert_int_equal(t.format, TERN_IMG_WEBP);
    assert_int_equal(probe((const uint8_t *)"GIF8", 4, &t), TERN_IMG_NEED_MORE);
    assert_int_equal(t.format, TERN_IMG_GIF);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tern_img_format_name(TERN_IMG_JPEG), "jpg");
    assert_string_equal(tern_img_format_name(TERN_IMG_PNG), "png");
    assert_string_equal(tern_img_format_name(TERN_IMG_GIF), "gif");
    assert_string_equal(tern_img_format_name(TERN_IMG_WEBP), "webp");
    assert_string_equal(tern_img_format_name(TERN_IMG_BMP), "bmp");
    assert_null(tern_img_format_name(TERN_IMG_NONE));
    assert_null(tern_img_format_name(99));
    assert_string_equal(tern_img_format_mime(TERN_IMG_JPEG), "image/jpeg");
    assert_string_equal(tern_img_format_mime(TERN_IMG_WEBP), "image/webp");
    assert_null(tern_img_format_mime(-1));
    assert_int_equal(tern_img_tim_format(TERN_IMG_JPEG), 1);
    assert_int_equal(tern_img_tim_format(TERN_IMG_GIF), 2);
    assert_int_equal(tern_img_tim_format(TERN_IMG_PNG), 3);
    assert_int_equal(tern_img_tim_format(TERN_IMG_BMP), 4);
    assert_int_equal(tern_img_tim_format(TERN_IMG_WEBP), 255);
    assert_int_equal(tern_img_tim_format(TERN_IMG_NONE), 255);
}

/* ---- cost ---- */

static double ns_per_probe(const img *b, int runs)
{
    static volatile uint32_t sink;
    struct timespec t0, t1;
    tern_img_info t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < runs; i++) {
        tern_img_probe(b->d, b->len, &t);
        sink += t.width;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / runs;
}

/* Prints ns per probe over 100k runs (no assertion: machines and sanitizers differ). The
 * last three are near the walks' bounds, run 1000 times. */
static void test_speed(void **state)
{
    (void)state;
    enum { N = 9 };
    img s[N];
    const char *names[N] = {"jpeg+exif",
                            "png",
                            "gif 2 frames",
                            "webp vp8x",
                            "bmp",
                            "jpeg, SOF after 5 APP2",
                            "gif, frame 1 of 512 KiB",
                            "jpeg, 1000 COMs, 4000 junk",
                            "gif, 16384 1-byte blocks (hostile)"};
    jpeg_build(&s[0], 4000, 3000, 6, 0, 1);
    png_build(&s[1], 4000, 3000);
    gif_build(&s[2], '9', 40, 40, 2);
    from(&s[3], webp_anim, sizeof webp_anim);
    bmp_build(&s[4], 124, 4000, -3000);
    img_init(&s[5]);
    u8(&s[5], 0xFF), u8(&s[5], 0xD8);
    for (int i = 0; i < 5; i++) {
        u8(&s[5], 0xFF), u8(&s[5], 0xE2), be16(&s[5], 0xFFFF);
        fill(&s[5], 0, 0xFFFD);
    }
    put(&s[5], s[0].d + 2, s[0].len - 2);
    gif_build(&s[6], '9', 40, 40, 1); /* the walk's worst real case: 2056 sub-blocks to skip */
    s[6].len -= 2;                    /* before the image data's terminator and the trailer */
    for (int i = 0; i < 2056; i++) {
        u8(&s[6], 255);
        fill(&s[6], 0x55, 255);
    }
    u8(&s[6], 0);
    gif_frame(&s[6], 40, 40, 1);
    u8(&s[6], 0x3B);
    jpeg_walk(&s[7], 1000, 4000); /* near the JPEG walk's bounds */
    gif_walk(&s[8], TERN_IMG_GIF_MAX_BLOCKS);
    tern_img_info t;
    assert_int_equal(tern_img_probe(s[6].d, s[6].len, &t), TERN_IMG_OK);
    assert_int_equal(t.animated, 1);
    assert_int_equal(tern_img_probe(s[7].d, s[7].len, &t), TERN_IMG_OK);
    assert_int_equal(t.width, 30);
    for (int i = 0; i < N; i++) {
        print_message("tern_img_probe %-32s %8.1f ns\n", names[i], ns_per_probe(&s[i], i < 6 ? 100000 : 1000));
        tern_free(s[i].d);
    }
}

static void test_fit(void **state)
{
    (void)state;
    int w, h;
    tern_img_fit(4000, 3000, 198, &w, &h);
    assert_int_equal(w, 198);
    assert_int_equal(h, 149); /* 148.5 rounds up */
    tern_img_fit(3000, 4000, 720, &w, &h);
    assert_int_equal(w, 540);
    assert_int_equal(h, 720);
    tern_img_fit(100, 50, 198, &w, &h); /* never enlarged */
    assert_int_equal(w, 100);
    assert_int_equal(h, 50);
    tern_img_fit(20000, 1, 198, &w, &h); /* at least 1 */
    assert_int_equal(w, 198);
    assert_int_equal(h, 1);
    tern_img_fit(500, 500, 198, &w, &h);
    assert_int_equal(w, 198);
    assert_int_equal(h, 198);
    tern_img_fit(65535, 65535, 720, &w, &h); /* no overflow */
    assert_int_equal(w, 720);
    assert_int_equal(h, 720);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg),       cmocka_unit_test(test_jpeg_markers), cmocka_unit_test(test_jpeg_far_sof),
        cmocka_unit_test(test_png),        cmocka_unit_test(test_gif),          cmocka_unit_test(test_webp),
        cmocka_unit_test(test_bmp),        cmocka_unit_test(test_zero_sizes),   cmocka_unit_test(test_hostile_jpeg),
        cmocka_unit_test(test_not_images), cmocka_unit_test(test_names),        cmocka_unit_test(test_walk_bounds),
        cmocka_unit_test(test_speed),      cmocka_unit_test(test_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
