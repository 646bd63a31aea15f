/*
 * probe.c — the media workload's part 5 (media.c): what tern_img_probe (src/core/imgsize.h)
 * costs per image, on heads as cameras and encoders write them: a JPEG with an EXIF APP1
 * and quantisation tables before its frame header, PNG, GIF89a, WebP VP8X and BMP v3.
 * Each head is first checked to read as its expected size, then probed from memory in
 * timed loops. No server is involved.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "core/imgsize.h"
#include "core/util.h"

/* A JPEG head as a camera writes it: SOI, APP1 Exif (TIFF little-endian, IFD0 with Make,
 * Model and Orientation 6), two DQT tables, SOF0 4000 x 3000, 3 components. The probe
 * reads 3000 x 4000 (orientation 6 turns it). */
static size_t jpeg_sample(uint8_t *p)
{
    size_t n = 0;
    static const uint8_t app1[] = {
        0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x42, 'E',  'x',  'i',  'f',  0,    0,    /* SOI, APP1 (66), Exif */
        'I',  'I',  0x2A, 0x00, 0x08, 0x00, 0x00, 0x00,                         /* TIFF header, IFD0 at 8 */
        0x03, 0x00,                                                             /* 3 entries */
        0x0F, 0x01, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, /* Make: 6 at 50 */
        0x10, 0x01, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 'E',  'O',  'S',  0x00, /* Model: inline */
        0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, /* Orientation 6 */
        0x00, 0x00, 0x00, 0x00,                                                 /* no IFD1 */
        'C',  'a',  'n',  'o',  'n',  0x00, 0x00, 0x00};
    memcpy(p, app1, sizeof app1);
    n = sizeof app1;
    for (int t = 0; t < 2; t++) { /* DQT: length 67, table t, 64 entries */
        static const uint8_t dqt[] = {0xFF, 0xDB, 0x00, 0x43};
        memcpy(p + n, dqt, sizeof dqt);
        n += sizeof dqt;
        p[n++] = (uint8_t)t;
        for (int i = 0; i < 64; i++)
            p[n++] = (uint8_t)(1 + i / 4);
    }
    static const uint8_t sof[] = {0xFF, 0xC0, 0x00, 0x11, 0x08, 0x0B, 0xB8, 0x0F, 0xA0, 0x03, /* 3000 high, 4000 wide */
                                  0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01};
    memcpy(p + n, sof, sizeof sof);
    return n + sizeof sof;
}

static void set_case(probe_case *c, const char *name, const uint8_t *p, size_t n, uint32_t w, uint32_t h)
{
    c->name = name;
    memcpy(c->bytes, p, n);
    c->len = n;
    c->w = w;
    c->h = h;
}

static void probe_cases(probe_case c[PROBE_CASES])
{
    static const uint8_t png[] = {0x89, 'P',  'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0,    0,    0,
                                  0x0D, 'I',  'H', 'D', 'R',  0,    0,    0x0F, 0xA0, 0,    0,
                                  0x0B, 0xB8, 8,   2,   0,    0,    0,    0x5C, 0x6D, 0x7E, 0x8F};
    static const uint8_t gif[] = {'G',  'I',  'F',  '8',  '9',  'a',  0x80, 0x02, 0xE0, 0x01,
                                  0x00, 0,    0,                                              /* 640 x 480 */
                                  0x21, 0xF9, 0x04, 0x00, 0x0A, 0x00, 0x00, 0x00,             /* graphic control */
                                  0x2C, 0,    0,    0,    0,    0x80, 0x02, 0xE0, 0x01, 0x00, /* image descriptor */
                                  0x02, 0x02, 0x44, 0x01, 0x00, 0x3B};                        /* LZW data, trailer */
    static const uint8_t webp[] = {'R', 'I',  'F', 'F', 0x16, 0,    0, 0, 'W', 'E',  'B',  'P',  'V',  'P',  '8',
                                   'X', 0x0A, 0,   0,   0,    0x10, 0, 0, 0,   0x9F, 0x0F, 0x00, 0xB7, 0x0B, 0x00};
    static const uint8_t bmp[] = {
        'B', 'M', 0x36, 0, 0x6E, 0x02, 0, 0, 0,    0,    0x36, 0, 0,    0,           /* file header */
        40,  0,   0,    0, 0xA0, 0x0F, 0, 0, 0xB8, 0x0B, 0,    0, 1,    0,    24, 0, /* 4000 x 3000 */
        0,   0,   0,    0, 0,    0,    0, 0, 0x13, 0x0B, 0,    0, 0x13, 0x0B, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0};
    memset(c, 0, PROBE_CASES * sizeof *c);
    c[0].name = "jpeg";
    c[0].len = jpeg_sample(c[0].bytes);
    c[0].w = 3000, c[0].h = 4000;
    set_case(&c[1], "png", png, sizeof png, 4000, 3000);
    set_case(&c[2], "gif", gif, sizeof gif, 640, 480);
    set_case(&c[3], "webp", webp, sizeof webp, 4000, 3000);
    set_case(&c[4], "bmp", bmp, sizeof bmp, 4000, 3000);
}

int probe_bench(probe_case c[PROBE_CASES])
{
    probe_cases(c);
    volatile uint32_t acc = 0;
    for (int k = 0; k < PROBE_CASES; k++) {
        tern_img_info info;
        if (tern_img_probe(c[k].bytes, c[k].len, &info) != TERN_IMG_OK || info.width != c[k].w ||
            info.height != c[k].h) {
            fprintf(stderr, "tern-bench: media: the %s sample reads %ux%u, not %ux%u\n", c[k].name, info.width,
                    info.height, c[k].w, c[k].h);
            return -1;
        }
        double t[5];
        const int N = 200000;
        for (int r = 0; r < 5; r++) {
            uint64_t t0 = tern_mono_ns();
            for (int i = 0; i < N; i++) {
                tern_img_probe(c[k].bytes, c[k].len, &info);
                acc += info.width;
            }
            t[r] = (double)(tern_mono_ns() - t0) / N;
        }
        for (int i = 1; i < 5; i++) /* insertion sort of 5 */
            for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
                double x = t[j];
                t[j] = t[j - 1];
                t[j - 1] = x;
            }
        c[k].ns = t[2];
    }
    (void)acc;
    return 0;
}
