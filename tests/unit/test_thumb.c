/*
 * test_thumb.c — the pure parts of the media images (server/media/probe.h, thumb.h),
 * without a server: media_image_probe's facts and stored content type for each kind of
 * file (a local media store in a temporary directory), the pixel limit and BMP as
 * "never", thumb_make's exact sizes (tern_img_fit), rotation by EXIF orientation, first
 * frame, refusal of truncated data and of a header over the limit, and the derived store
 * ids. The server paths (the pool, the REST answers) are it_media_images'.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#include <cmocka.h>

#include "core/imgsize.h"
#include "media/probe.h"
#include "media/thumb.h"
#include "store/store.h"

#define ID "0123456789abcdef0123456789abcdef"

static char dir[] = "/tmp/test_thumb_XXXXXX";
static media_store *ms;

/* Commits p[0..n) as (1, ID) in the store. */
static void put(const void *p, size_t n)
{
    char tmp[1200];
    int fd = ms->ops->tmp_open(ms, tmp, sizeof tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
    assert_int_equal(ms->ops->commit(ms, 1, ID, tmp), 0);
}

static void *jpeg(int w, int h, int orientation, size_t *n)
{
    VipsImage *xy, *x, *u, *rgb;
    assert_int_equal(vips_xyz(&xy, w, h, NULL), 0);
    assert_int_equal(vips_extract_band(xy, &x, 0, NULL), 0);
    assert_int_equal(vips_cast_uchar(x, &u, NULL), 0);
    VipsImage *in[3] = {u, u, u};
    assert_int_equal(vips_bandjoin(in, &rgb, 3, NULL), 0);
    vips_image_set_int(rgb, "interpretation", VIPS_INTERPRETATION_sRGB);
    if (orientation > 1)
        vips_image_set_int(rgb, "orientation", orientation);
    void *b;
    assert_int_equal(vips_image_write_to_buffer(rgb, ".jpg", &b, n, NULL), 0);
    g_object_unref(xy);
    g_object_unref(x);
    g_object_unref(u);
    g_object_unref(rgb);
    return b;
}

static void probe(const void *p, size_t n, const char *declared, int64_t max_pixels, media_image *out)
{
    put(p, n);
    media_image_probe(ms, 1, ID, declared, max_pixels, out);
}

static void test_probe_types(void **state)
{
    (void)state;
    size_t n;
    void *j = jpeg(64, 48, 6, &n);
    media_image im;
    static const char *const as_jpeg[] = {"", "application/octet-stream", "image/png", "IMAGE/JPEG"};
    for (size_t i = 0; i < 4; i++) { /* the header wins over these */
        probe(j, n, as_jpeg[i], 50000000, &im);
        assert_int_equal(im.format, TERN_IMG_JPEG);
        assert_int_equal(im.width, 48); /* orientation 6: turned */
        assert_int_equal(im.height, 64);
        assert_int_equal(im.img_format, 1);
        assert_int_equal(im.thumbs, 0);
        assert_string_equal(im.content_type, "image/jpeg");
    }
    probe(j, n, "application/x-kept", 50000000, &im); /* a non-raster type is kept */
    assert_string_equal(im.content_type, "application/x-kept");
    assert_int_equal(im.width, 48);
    probe(j, n, NULL, 64 * 48 - 1, &im); /* one pixel over the limit: never */
    assert_int_equal(im.thumbs, STORE_MEDIA_THUMB_NEVER);
    probe(j, 200, "image/jpeg", 50000000, &im); /* cut in its head: no image */
    assert_int_equal(im.format, TERN_IMG_NONE);
    assert_string_equal(im.content_type, "application/octet-stream");
    g_free(j);

    static const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
    probe(svg, sizeof svg - 1, "image/png", 50000000, &im);
    assert_int_equal(im.format, TERN_IMG_NONE);
    assert_int_equal(im.img_format, 0);
    assert_string_equal(im.content_type, "application/octet-stream");
    probe(svg, sizeof svg - 1, "image/svg+xml", 50000000, &im); /* not a raster type: kept */
    assert_string_equal(im.content_type, "image/svg+xml");

    uint8_t bmp[58] = {'B', 'M', [10] = 54, [14] = 40, [18] = 3, [22] = 2, [26] = 1, [28] = 24};
    probe(bmp, sizeof bmp, "", 50000000, &im);
    assert_int_equal(im.format, TERN_IMG_BMP);
    assert_int_equal(im.width, 3);
    assert_int_equal(im.img_format, 4);
    assert_int_equal(im.thumbs, 0);
    assert_string_equal(im.content_type, "image/bmp");
}

/* Descriptors open in this process. */
static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

/* Makes both thumbnails of p; returns thumb_make's result and checks the sizes. */
static int make(const void *p, size_t n, int w, int h, int64_t max_pixels, double *avg198)
{
    put(p, n);
    uint64_t size;
    int fd = ms->ops->open_read(ms, 1, ID, &size);
    assert_true(fd >= 0);
    void *s, *l;
    size_t sn, ln;
    int fds = open_fds();
    int rc = thumb_make(fd, w, h, max_pixels, &s, &sn, &l, &ln);
    assert_true(fcntl(fd, F_GETFD) >= 0); /* still ours */
    /* libvips keeps no copy of it (a cached operation would pin the file after a sweep) */
    assert_int_equal(open_fds(), fds);
    close(fd);
    if (rc != 0) {
        assert_null(s);
        assert_null(l);
        return rc;
    }
    static const int boxes[2] = {THUMB_SMALL, THUMB_LARGE};
    void *bufs[2] = {s, l};
    size_t lens[2] = {sn, ln};
    for (int i = 0; i < 2; i++) {
        VipsImage *im = vips_image_new_from_buffer(bufs[i], lens[i], "", NULL);
        assert_non_null(im);
        assert_string_equal(vips_foreign_find_load_buffer(bufs[i], lens[i]), "VipsForeignLoadJpegBuffer");
        int tw, th;
        tern_img_fit(w, h, boxes[i], &tw, &th);
        assert_int_equal(vips_image_get_width(im), tw);
        assert_int_equal(vips_image_get_height(im), th);
        if (i == 0 && avg198)
            assert_int_equal(vips_avg(im, avg198, NULL), 0);
        g_object_unref(im);
    }
    thumb_buf_free(s);
    thumb_buf_free(l);
    return 0;
}

static void test_make(void **state)
{
    (void)state;
    /* 1x1, 7x7 and 5000x7 once crashed libvips (a 0-pixel decode at 1/8 scale) */
    static const int sizes[][2] = {{4000, 3000}, {3001, 1999}, {1441, 1441}, {720, 540}, {100, 50},
                                   {1, 1},       {7, 7},       {5000, 7},    {7, 5000}, {15, 9}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n;
        void *j = jpeg(sizes[i][0], sizes[i][1], 1, &n);
        assert_int_equal(make(j, n, sizes[i][0], sizes[i][1], 50000000, NULL), 0);
        g_free(j);
    }
    static const char *const other[] = {".png", ".webp", ".gif"};
    static const int small[][2] = {{1, 1}, {5000, 7}, {7, 5000}, {800, 600}};
    for (size_t f = 0; f < 3; f++)
        for (size_t i = 0; i < 4; i++) {
            VipsImage *im;
            assert_int_equal(vips_black(&im, small[i][0], small[i][1], "bands", 3, NULL), 0);
            VipsImage *u;
            assert_int_equal(vips_cast_uchar(im, &u, NULL), 0);
            vips_image_set_int(u, "interpretation", VIPS_INTERPRETATION_sRGB);
            void *b;
            size_t bn;
            assert_int_equal(vips_image_write_to_buffer(u, other[f], &b, &bn, NULL), 0);
            assert_int_equal(make(b, bn, small[i][0], small[i][1], 50000000, NULL), 0);
            g_free(b);
            g_object_unref(u);
            g_object_unref(im);
        }
    for (int bands = 2; bands <= 4; bands += 2) { /* grey + alpha, RGBA: flattened on white */
        VipsImage *im, *u;
        assert_int_equal(vips_black(&im, 400, 300, "bands", bands, NULL), 0);
        assert_int_equal(vips_cast_uchar(im, &u, NULL), 0);
        vips_image_set_int(u, "interpretation", bands == 2 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB);
        void *b;
        size_t bn;
        assert_int_equal(vips_image_write_to_buffer(u, ".png", &b, &bn, NULL), 0);
        double avg = 0;
        assert_int_equal(make(b, bn, 400, 300, 50000000, &avg), 0);
        assert_true(avg > 235); /* fully transparent: white */
        g_free(b);
        g_object_unref(u);
        g_object_unref(im);
    }
    size_t n;
    void *j = jpeg(1000, 600, 8, &n); /* orientation 8: displayed 600x1000 */
    assert_int_equal(make(j, n, 600, 1000, 50000000, NULL), 0);
    /* Truncated scan data, and a header over the limit as libvips reads it. */
    assert_int_equal(make(j, n / 2, 600, 1000, 50000000, NULL), -1);
    assert_int_equal(make(j, n, 600, 1000, 599999, NULL), -1);
    g_free(j);
    static const char txt[] = "not an image at all";
    assert_int_equal(make(txt, sizeof txt - 1, 10, 10, 50000000, NULL), -1);

    /* An animated GIF: the first (black) frame. */
    VipsImage *black, *white, *both;
    assert_int_equal(vips_black(&black, 300, 200, "bands", 3, NULL), 0);
    assert_int_equal(vips_linear1(black, &white, 1.0, 255.0, "uchar", TRUE, NULL), 0);
    VipsImage *bu;
    assert_int_equal(vips_cast_uchar(black, &bu, NULL), 0);
    assert_int_equal(vips_join(bu, white, &both, VIPS_DIRECTION_VERTICAL, NULL), 0);
    vips_image_set_int(both, "page-height", 200);
    vips_image_set_int(both, "interpretation", VIPS_INTERPRETATION_sRGB);
    void *gif;
    assert_int_equal(vips_image_write_to_buffer(both, ".gif", &gif, &n, NULL), 0);
    double avg = 255;
    assert_int_equal(make(gif, n, 300, 200, 50000000, &avg), 0);
    assert_true(avg < 20);
    g_free(gif);
    g_object_unref(black);
    g_object_unref(white);
    g_object_unref(bu);
    g_object_unref(both);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A w x h BMP (bpp 8 with a palette, 24 or 32; top-down with a negative height): the top
 * half of the picture red, the bottom half blue. malloc'd. */
static uint8_t *make_bmp(int w, int h, int bpp, int topdown, size_t *n)
{
    size_t stride = (size_t)((w * bpp + 31) / 32) * 4, pal = bpp == 8 ? 1024 : 0, off = 54 + pal;
    *n = off + stride * (size_t)h;
    uint8_t *p = calloc(1, *n);
    p[0] = 'B';
    p[1] = 'M';
    put32(p + 2, (uint32_t)*n);
    put32(p + 10, (uint32_t)off);
    put32(p + 14, 40);
    put32(p + 18, (uint32_t)w);
    put32(p + 22, topdown ? (uint32_t)-h : (uint32_t)h);
    p[26] = 1;
    p[28] = (uint8_t)bpp;
    if (bpp == 8) {
        p[54 + 2] = 255; /* 0: red (B, G, R, 0) */
        p[58 + 0] = 255; /* 1: blue */
    }
    for (int fr = 0; fr < h; fr++) {
        int y = topdown ? fr : h - 1 - fr, red = y < h / 2;
        uint8_t *row = p + off + (size_t)fr * stride;
        for (int x = 0; x < w; x++) {
            if (bpp == 8)
                row[x] = red ? 0 : 1;
            else
                row[x * (bpp / 8) + (red ? 2 : 0)] = 255;
        }
    }
    return p;
}

/* BMP is read by thumb.c itself (libvips would need ImageMagick): sizes, orientation of
 * the rows, palettes, and the refusals. */
static void test_bmp(void **state)
{
    (void)state;
    static const int cases[][4] = {{4000, 3000, 24, 0}, {641, 479, 32, 1}, {300, 200, 8, 0}, {1, 1, 24, 1},
                                   {5000, 7, 24, 0},    {7, 5000, 8, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *b = make_bmp(cases[i][0], cases[i][1], cases[i][2], cases[i][3], &n);
        assert_int_equal(make(b, n, cases[i][0], cases[i][1], 50000000, NULL), 0);
        free(b);
    }
    /* The top of the thumbnail is red, the bottom blue, bottom-up or top-down. */
    for (int td = 0; td < 2; td++) {
        size_t n;
        uint8_t *b = make_bmp(800, 600, 24, td, &n);
        put(b, n);
        uint64_t size;
        int fd = ms->ops->open_read(ms, 1, ID, &size);
        void *sm, *l;
        size_t sn, ln;
        assert_int_equal(thumb_make(fd, 800, 600, 50000000, &sm, &sn, &l, &ln), 0);
        close(fd);
        VipsImage *im = vips_image_new_from_buffer(sm, sn, "", NULL);
        double top, bottom, *v;
        int nv;
        assert_int_equal(vips_getpoint(im, &v, &nv, 99, 5, NULL), 0);
        top = v[0] - v[2]; /* red - blue */
        g_free(v);
        assert_int_equal(vips_getpoint(im, &v, &nv, 99, vips_image_get_height(im) - 5, NULL), 0);
        bottom = v[0] - v[2];
        g_free(v);
        if (!(top > 200 && bottom < -200))
            fail_msg("BMP topdown %d: top red-blue %.0f, bottom %.0f", td, top, bottom);
        g_object_unref(im);
        thumb_buf_free(sm);
        thumb_buf_free(l);
        free(b);
    }
    /* Truncated, RLE-compressed, 16 bits: none. */
    size_t n;
    uint8_t *b = make_bmp(100, 100, 24, 0, &n);
    assert_int_equal(make(b, n - 1, 100, 100, 50000000, NULL), -1);
    b[30] = 1; /* BI_RLE8 */
    assert_int_equal(make(b, n, 100, 100, 50000000, NULL), -1);
    b[30] = 0;
    b[28] = 16;
    assert_int_equal(make(b, n, 100, 100, 50000000, NULL), -1);
    free(b);
}

static void test_ids(void **state)
{
    (void)state;
    char out[96];
    assert_int_equal(thumb_store_id(ID, 198, out, sizeof out), 0);
    assert_string_equal(out, ID ".t198");
    assert_int_equal(thumb_store_id(ID, 720, out, sizeof out), 0);
    assert_string_equal(out, ID ".t720");
    assert_int_equal(thumb_store_id(ID, 720, out, 37), -1);
    /* thumb_remove removes both and nothing else */
    static const char b[] = "x";
    char tmp[1200];
    for (int box = 198; box; box = box == 198 ? 720 : 0) {
        int fd = ms->ops->tmp_open(ms, tmp, sizeof tmp);
        assert_int_equal(write(fd, b, 1), 1);
        close(fd);
        thumb_store_id(ID, box, out, sizeof out);
        assert_int_equal(ms->ops->commit(ms, 1, out, tmp), 0);
    }
    put(b, 1);
    thumb_remove(ms, 1, ID);
    uint64_t size;
    assert_true(ms->ops->open_read(ms, 1, out, &size) < 0);
    int fd = ms->ops->open_read(ms, 1, ID, &size);
    assert_true(fd >= 0);
    close(fd);
}

typedef struct cancel_job {
    int fd, w, h;
    atomic_int cancel;
    int rc;
} cancel_job;

static void *cancel_run(void *arg)
{
    cancel_job *j = arg;
    void *sm, *l;
    size_t sn, ln;
    j->rc = thumb_make_cancellable(j->fd, j->w, j->h, 50000000, &j->cancel, &sm, &sn, &l, &ln);
    if (j->rc == 0) {
        thumb_buf_free(sm);
        thumb_buf_free(l);
    }
    vips_thread_shutdown();
    return NULL;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* thumb_make_cancellable stops a decode that is under way (the pool's stop does not wait
 * for a 50 MP image). The same 7000x7000 PNG (no shrink-on-load: the whole image is
 * decoded) first whole, then cancelled a quarter of that time in, which a decode that
 * ignored the flag would finish (0) instead of failing (-1); and cancelled before it
 * starts. */
static void test_cancel(void **state)
{
    (void)state;
    enum { W = 7000, H = 7000 };
    VipsImage *black;
    assert_int_equal(vips_black(&black, W, H, NULL), 0);
    void *png;
    size_t n;
    assert_int_equal(vips_image_write_to_buffer(black, ".png", &png, &n, "compression", 1, NULL), 0);
    g_object_unref(black);
    put(png, n);
    g_free(png);
    uint64_t size;
    cancel_job j = {.w = W, .h = H};
    j.fd = ms->ops->open_read(ms, 1, ID, &size);
    assert_true(j.fd >= 0);
    pthread_t th;
    double t0 = now_s();
    assert_int_equal(pthread_create(&th, NULL, cancel_run, &j), 0);
    pthread_join(th, NULL);
    double whole = now_s() - t0;
    assert_int_equal(j.rc, 0);
    j.rc = 7;
    t0 = now_s();
    assert_int_equal(pthread_create(&th, NULL, cancel_run, &j), 0);
    struct timespec q = {.tv_sec = 0, .tv_nsec = (long)(whole / 4 * 1e9)};
    nanosleep(&q, NULL);
    atomic_store(&j.cancel, 1);
    pthread_join(th, NULL);
    printf("# a %dx%d PNG: decoded in %.0f ms; cancelled at %.0f ms, stopped at %.0f ms\n", W, H, whole * 1e3,
           whole / 4 * 1e3, (now_s() - t0) * 1e3);
    assert_int_equal(j.rc, -1);
    j.rc = 7; /* cancelled before the start */
    assert_int_equal(pthread_create(&th, NULL, cancel_run, &j), 0);
    pthread_join(th, NULL);
    assert_int_equal(j.rc, -1);
    close(j.fd);
}

int main(void)
{
    if (!mkdtemp(dir) || thumb_lib_init() != 0)
        return 1;
    ms = media_store_local_new(dir);
    if (!ms)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_types),
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_bmp),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_cancel),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ms->ops->free(ms);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
