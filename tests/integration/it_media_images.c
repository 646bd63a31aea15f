/*
 * it_media_images.c — image facts and thumbnails against the real ternd (issue 9,
 * "Images"; docs/media.md, docs/rest-api.md "Media"): JPEG (with an EXIF orientation 6
 * that swaps the sides), PNG with alpha, animated GIF, WebP and BMP uploads report their
 * displayed size, imageFormat and animated flag in the upload answer and in the media
 * row (a BMP's thumbnails are read by ternd itself, never by ImageMagick); the thumbnails (?thumb=198 and 720) are JPEGs of exactly tern_img_fit's size,
 * libvips loads them back, an animated GIF's is its first frame, and HEAD, Range and
 * ETag/304 work on them; with a queue of one the thumbnails are made on the first
 * download; a 20000x20000 PNG bomb and a truncated JPEG upload fine and get no
 * thumbnail (7020) while ternd's RSS stays bounded; an SVG or HTML file labelled
 * image/png is stored as application/octet-stream and served as an attachment; the
 * sweeper removes the thumbnails with the original; SIGTERM while the worker decodes and
 * a download waits stops ternd in time with exit 0.
 *
 * The test images are made here with libvips (BMP and the bomb by hand). With
 * TERN_IMGSIZE_SEEDS=DIR set, the first 16 KiB of every uploaded file are also written to
 * DIR as it_<name> (the seeds of fuzz_imgsize, tests/fuzz/corpus/fuzz_imgsize).
 */
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vips/vips.h>
#include <zlib.h>

#include <cmocka.h>

#include "core/imgsize.h"
#include "harness.h"
#include "harness_media.h"

#define THUMB_BOX_SMALL 198
#define THUMB_BOX_LARGE 720

/* ---- making images ------------------------------------------------------------------------ */

typedef struct blob {
    void *p;
    size_t n;
} blob;

static void seed(const char *name, const blob *b)
{
    const char *dir = getenv("TERN_IMGSIZE_SEEDS");
    if (!dir || !dir[0])
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/it_%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) { /* the head is what the probe reads; a seed stays small */
        fwrite(b->p, 1, b->n < 16384 ? b->n : 16384, f);
        fclose(f);
    }
}

/* A w x h RGB gradient (bands 4: with an alpha gradient). Caller unrefs. */
static VipsImage *gradient(int w, int h, int bands)
{
    VipsImage *xy, *x, *y, *xu, *yu, *out;
    assert_int_equal(vips_xyz(&xy, w, h, NULL), 0);
    assert_int_equal(vips_extract_band(xy, &x, 0, NULL), 0);
    assert_int_equal(vips_extract_band(xy, &y, 1, NULL), 0);
    assert_int_equal(vips_cast_uchar(x, &xu, NULL), 0);
    assert_int_equal(vips_cast_uchar(y, &yu, NULL), 0);
    VipsImage *in[4] = {xu, yu, xu, yu};
    assert_int_equal(vips_bandjoin(in, &out, bands, NULL), 0);
    vips_image_set_int(out, "interpretation", VIPS_INTERPRETATION_sRGB);
    g_object_unref(xy);
    g_object_unref(x);
    g_object_unref(y);
    g_object_unref(xu);
    g_object_unref(yu);
    return out;
}

static blob save(VipsImage *im, const char *suffix)
{
    blob b = {0};
    if (vips_image_write_to_buffer(im, suffix, &b.p, &b.n, NULL) != 0)
        fail_msg("vips save %s: %s", suffix, vips_error_buffer());
    return b;
}

static blob make_jpeg(int w, int h, int orientation)
{
    VipsImage *im = gradient(w, h, 3);
    if (orientation > 1)
        vips_image_set_int(im, "orientation", orientation);
    blob b = save(im, ".jpg");
    g_object_unref(im);
    return b;
}

/* Two frames: the first black, the second white. */
static blob make_gif(int w, int h)
{
    VipsImage *black, *white, *frames, *joined;
    assert_int_equal(vips_black(&black, w, h, "bands", 3, NULL), 0);
    assert_int_equal(vips_linear1(black, &white, 1.0, 255.0, "uchar", TRUE, NULL), 0);
    assert_int_equal(vips_cast_uchar(black, &frames, NULL), 0);
    assert_int_equal(vips_join(frames, white, &joined, VIPS_DIRECTION_VERTICAL, NULL), 0);
    vips_image_set_int(joined, "page-height", h);
    vips_image_set_int(joined, "interpretation", VIPS_INTERPRETATION_sRGB);
    blob b = save(joined, ".gif");
    g_object_unref(black);
    g_object_unref(white);
    g_object_unref(frames);
    g_object_unref(joined);
    return b;
}

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A 24-bit bottom-up BMP (BITMAPINFOHEADER). */
static blob make_bmp(int w, int h)
{
    size_t row = ((size_t)w * 3 + 3) & ~(size_t)3, n = 54 + row * (size_t)h;
    uint8_t *p = calloc(1, n);
    p[0] = 'B';
    p[1] = 'M';
    put32le(p + 2, (uint32_t)n);
    put32le(p + 10, 54);
    put32le(p + 14, 40);
    put32le(p + 18, (uint32_t)w);
    put32le(p + 22, (uint32_t)h);
    p[26] = 1;  /* planes */
    p[28] = 24; /* bits */
    put32le(p + 34, (uint32_t)(row * (size_t)h));
    for (size_t i = 54; i < n; i++)
        p[i] = (uint8_t)(i * 7);
    return (blob){p, n};
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t png_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n)
{
    put32be(out, n);
    memcpy(out + 4, type, 4);
    if (n)
        memcpy(out + 8, data, n);
    put32be(out + 8 + n, (uint32_t)crc32(0, out + 4, 4 + n));
    return 12 + n;
}

/* A real w x h 1-bit greyscale PNG of zeros: w * h pixels for a few hundred KB. */
static blob make_png_bomb(uint32_t w, uint32_t h)
{
    size_t rowlen = 1 + (w + 7) / 8;
    uint8_t *row = calloc(1, rowlen);
    size_t cap = 4 << 20;
    uint8_t *z = malloc(cap);
    z_stream zs = {0};
    assert_int_equal(deflateInit(&zs, 9), Z_OK);
    zs.next_out = z;
    zs.avail_out = (uInt)cap;
    for (uint32_t y = 0; y < h; y++) {
        zs.next_in = row;
        zs.avail_in = (uInt)rowlen;
        assert_int_equal(deflate(&zs, y + 1 == h ? Z_FINISH : Z_NO_FLUSH), y + 1 == h ? Z_STREAM_END : Z_OK);
    }
    size_t zn = zs.total_out;
    deflateEnd(&zs);
    uint8_t *p = malloc(zn + 128);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(p, sig, 8);
    size_t n = 8;
    uint8_t ihdr[13] = {0};
    put32be(ihdr, w);
    put32be(ihdr + 4, h);
    ihdr[8] = 1; /* bit depth */
    ihdr[9] = 0; /* greyscale */
    n += png_chunk(p + n, "IHDR", ihdr, 13);
    n += png_chunk(p + n, "IDAT", z, (uint32_t)zn);
    n += png_chunk(p + n, "IEND", NULL, 0);
    free(z);
    free(row);
    return (blob){p, n};
}

static void blob_free(blob *b)
{
    g_free(b->p); /* vips' buffers are g_malloc'd; the hand-made ones malloc'd (glib's g_free is free) */
    b->p = NULL;
}

/* ---- talking to ternd ---------------------------------------------------------------------- */

/* Uploads b as the demo app (harness_media's upload; asserts 200). */
static int upload_blob(it_server *s, const char *ctype, const char *name, const blob *b, it_http_resp *out)
{
    seed(name, b);
    int st = upload(s, "/demo/demo", it_app_token(s), ctype, name, (const char *)b->p, b->n, out);
    if (st != 200)
        fail_msg("upload %s: %d %s", name, st, out->body ? out->body : "");
    return st;
}

/* Uploads and copies the media id into id[33]. */
static void upload_id(it_server *s, const char *ctype, const char *name, const blob *b, char *id)
{
    it_http_resp r;
    upload_blob(s, ctype, name, b, &r);
    snprintf(id, 33, "%s", it_jstr(r.json, "data.mediaId"));
    it_http_resp_free(&r);
}

/* method /demo/demo/media/<id><query> with the app token. */
static int get(it_server *s, const char *method, const char *id, const char *query, const char *extra,
               it_http_resp *out)
{
    char path[256];
    snprintf(path, sizeof path, "/demo/demo/media/%s%s", id, query ? query : "");
    return get_media(s, method, path, it_app_token(s), extra, out);
}

typedef struct row {
    int width, height, img_format, animated, thumbs;
    char content_type[128];
} row;

/* The media row of id, read from the server's database (WAL: readable while it runs). */
static int read_row(it_server *s, const char *id, row *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tern.db", s->dir);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("open %s", path);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT width, height, img_format, animated, thumbs, content_type FROM media "
                                        "WHERE id = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc == 0) {
        out->width = sqlite3_column_int(st, 0);
        out->height = sqlite3_column_int(st, 1);
        out->img_format = sqlite3_column_int(st, 2);
        out->animated = sqlite3_column_int(st, 3);
        out->thumbs = sqlite3_column_int(st, 4);
        snprintf(out->content_type, sizeof out->content_type, "%s", (const char *)sqlite3_column_text(st, 5));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* Waits (bounded) until the row's thumbs has all bits of want; returns the bits seen. */
static int wait_thumbs(it_server *s, const char *id, int want)
{
    row r = {0};
    int64_t end = it_now_ms() + 20000;
    while (it_now_ms() < end) {
        if (read_row(s, id, &r) == 0 && (r.thumbs & want) == want)
            break;
        it_sleep_ms(50);
    }
    return r.thumbs;
}

/* Fetches ?thumb=box of id: a JPEG that libvips loads back, exactly tern_img_fit(w, h,
 * box); returns its average pixel value. */
/* r is the answer of a thumbnail (box) of a w x h image: a JPEG of tern_img_fit's size,
 * inline; returns its average value and frees r. */
static double check_thumb_resp(it_http_resp *r, const char *what, int w, int h, int box)
{
    if (r->status != 200)
        fail_msg("thumb %d of %s: %d %s", box, what, r->status, r->body ? r->body : "");
    assert_non_null(header_has(r, "Content-Type: image/jpeg"));
    assert_non_null(header_has(r, "X-Content-Type-Options: nosniff"));
    assert_null(header_has(r, "Content-Disposition"));
    assert_true(r->body_len > 3 && (uint8_t)r->body[0] == 0xff && (uint8_t)r->body[1] == 0xd8);
    VipsImage *im = vips_image_new_from_buffer(r->body, r->body_len, "", "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    if (!im)
        fail_msg("thumb %d does not load: %s", box, vips_error_buffer());
    int tw, th;
    tern_img_fit(w, h, box, &tw, &th);
    if (vips_image_get_width(im) != tw || vips_image_get_height(im) != th)
        fail_msg("thumb %d of %dx%d: %dx%d, wanted %dx%d", box, w, h, vips_image_get_width(im),
                 vips_image_get_height(im), tw, th);
    double avg = 0;
    assert_int_equal(vips_avg(im, &avg, NULL), 0);
    g_object_unref(im);
    it_http_resp_free(r);
    return avg;
}

static double check_thumb(it_server *s, const char *id, int w, int h, int box)
{
    char q[32];
    snprintf(q, sizeof q, "?thumb=%d", box);
    it_http_resp r;
    get(s, "GET", id, q, NULL, &r);
    return check_thumb_resp(&r, id, w, h, box);
}

/* The red band of ?thumb=box of id: the average of its top and bottom tenth. */
static void thumb_red_rows(it_server *s, const char *id, int box, double *top, double *bottom)
{
    char q[32];
    snprintf(q, sizeof q, "?thumb=%d", box);
    it_http_resp r;
    get(s, "GET", id, q, NULL, &r);
    assert_int_equal(r.status, 200);
    VipsImage *im = vips_image_new_from_buffer(r.body, r.body_len, "", NULL), *red, *t, *b;
    assert_non_null(im);
    int w = vips_image_get_width(im), h = vips_image_get_height(im);
    assert_int_equal(vips_extract_band(im, &red, 0, NULL), 0);
    assert_int_equal(vips_crop(red, &t, 0, 0, w, h / 10, NULL), 0);
    assert_int_equal(vips_crop(red, &b, 0, h - h / 10, w, h / 10, NULL), 0);
    assert_int_equal(vips_avg(t, top, NULL), 0);
    assert_int_equal(vips_avg(b, bottom, NULL), 0);
    g_object_unref(b);
    g_object_unref(t);
    g_object_unref(red);
    g_object_unref(im);
    it_http_resp_free(&r);
}

/* Uploads b, checks the upload answer and the row against the expected facts. */
static void check_upload(it_server *s, const char *ctype, const char *name, const blob *b, int w, int h, int fmt,
                         int animated, const char *want_ct, char *id)
{
    it_http_resp r;
    upload_blob(s, ctype, name, b, &r);
    snprintf(id, 33, "%s", it_jstr(r.json, "data.mediaId"));
    if (it_jnum(r.json, "data.width", -1) != w || it_jnum(r.json, "data.height", -1) != h ||
        it_jnum(r.json, "data.imageFormat", -1) != fmt || it_jnum(r.json, "data.animated", -1) != animated)
        fail_msg("%s: answer %s, wanted %dx%d format %d animated %d", name, r.body, w, h, fmt, animated);
    assert_string_equal(it_jstr(r.json, "data.contentType"), want_ct);
    it_http_resp_free(&r);
    row rw;
    assert_int_equal(read_row(s, id, &rw), 0);
    assert_int_equal(rw.width, w);
    assert_int_equal(rw.height, h);
    assert_int_equal(rw.img_format, fmt);
    assert_int_equal(rw.animated, animated);
    assert_string_equal(rw.content_type, want_ct);
}

/* check_upload, then both thumbnails of the displayed size w x h; frees b. */
static void check_image(it_server *s, const char *ctype, const char *name, blob *b, int w, int h, int fmt,
                        const char *want_ct, char *id)
{
    check_upload(s, ctype, name, b, w, h, fmt, 0, want_ct, id);
    check_thumb(s, id, w, h, 198);
    check_thumb(s, id, w, h, 720); /* an image smaller than the box: its own size, re-encoded */
    blob_free(b);
}

/* ---- the tests ------------------------------------------------------------------------------ */

/* Every format: facts in the answer and the row, thumbnails of the exact size. */
static void test_formats(void **state)
{
    it_server *s = *state;
    char id[33];

    blob b = make_jpeg(1600, 1200, 1);
    check_image(s, "image/jpeg", "a.jpg", &b, 1600, 1200, 1, "image/jpeg", id);
    assert_int_equal(wait_thumbs(s, id, 3), 3);

    /* EXIF orientation 6: stored 400x300, displayed 300x400; no declared type. */
    b = make_jpeg(400, 300, 6);
    check_image(s, "application/octet-stream", "r.JPG", &b, 300, 400, 1, "image/jpeg", id);
    /* Turned, not squeezed: red grows with the stored x, which is the displayed y. */
    for (int box = THUMB_BOX_SMALL; box; box = box == THUMB_BOX_SMALL ? THUMB_BOX_LARGE : 0) {
        double top, bottom;
        thumb_red_rows(s, id, box, &top, &bottom);
        if (!(top + 50 < bottom))
            fail_msg("thumb %d of the EXIF-6 JPEG not rotated: red top %.0f, bottom %.0f", box, top, bottom);
    }

    /* 1x1: once a 0-pixel decode that aborted ternd inside libvips. */
    b = make_jpeg(1, 1, 1);
    check_image(s, "image/jpeg", "dot.jpg", &b, 1, 1, 1, "image/jpeg", id);

    /* A large JPEG: decoded at a reduced scale, still rotated and exact. */
    b = make_jpeg(3000, 2000, 6);
    check_image(s, "image/jpeg", "big6.jpg", &b, 2000, 3000, 1, "image/jpeg", id);

    VipsImage *im = gradient(1000, 250, 4);
    b = save(im, ".png");
    g_object_unref(im);
    check_image(s, "image/png", "alpha.png", &b, 1000, 250, 3, "image/png", id);

    im = gradient(640, 480, 3);
    b = save(im, ".webp");
    g_object_unref(im);
    check_image(s, "", "w.webp", &b, 640, 480, 255, "image/webp", id);

    /* Animated GIF: animated 1, the thumbnail is the first (black) frame. */
    b = make_gif(300, 200);
    check_upload(s, "image/gif", "anim.gif", &b, 300, 200, 2, 1, "image/gif", id);
    assert_true(check_thumb(s, id, 300, 200, 198) < 20.0);
    assert_true(check_thumb(s, id, 300, 200, 720) < 20.0);
    blob_free(&b);

    /* BMP: size from the header, thumbnails read by ternd itself (never ImageMagick). */
    b = make_bmp(1000, 30);
    check_image(s, "image/bmp", "b.bmp", &b, 1000, 30, 4, "image/bmp", id);
    it_http_resp r;
    get(s, "GET", id, NULL, NULL, &r); /* the original is served inline */
    assert_int_equal(r.status, 200);
    assert_null(header_has(&r, "Content-Disposition"));
    it_http_resp_free(&r);

    /* Not an image: 7020; a thumb that is no size: 400. */
    blob t = {g_strdup("just text"), 9};
    upload_id(s, "text/plain", "t.txt", &t, id);
    get(s, "GET", id, "?thumb=198", NULL, &r);
    expect_err(&r, 404, 7020);
    it_http_resp_free(&r);
    get(s, "GET", id, "?thumb=100", NULL, &r);
    expect_err(&r, 400, 1003);
    it_http_resp_free(&r);
    blob_free(&t);
}

/* Easemob's chatfiles: an image uploaded as a form gets its thumbnails too, and the
 * download header `thumbnail: true` gives the 198-px one, never the original. */
static void test_chatfiles_thumbnail(void **state)
{
    it_server *s = *state;
    blob b = make_jpeg(400, 300, 1);
    size_t n = 0;
    char *form = add_part(NULL, &n, "file", "cat.jpg", "image/jpeg", b.p, b.n);
    form = close_form(form, &n);
    it_http_resp r;
    post_form(s, "/demo/demo", NULL, NULL, form, n, &r);
    free(form);
    blob_free(&b);
    if (r.status != 200)
        fail_msg("chatfiles: %d %s", r.status, r.body ? r.body : "");
    char path[128];
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s", it_jstr(cJSON_GetArrayItem(it_jget(r.json, "entities"), 0), "uuid"));
    it_http_resp_free(&r);
    get_media(s, "GET", path, it_app_token(s), "thumbnail: true\r\n", &r);
    check_thumb_resp(&r, path, 400, 300, 198);
    get_media(s, "GET", path, it_app_token(s), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(header_has(&r, "Content-Type: image/jpeg"));
    assert_int_equal(r.body_len, b.n); /* the original */
    it_http_resp_free(&r);
}

static int setup_queue_one(void **state)
{
    static const char *const args[] = {"--thumb-queue", "1", "--thumb-workers", "1", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

/* With a queue of one, a burst of uploads leaves most thumbnails to the first download,
 * which makes them (waiting for the pool); HEAD, Range and ETag/304 on a thumbnail. */
static void test_on_request(void **state)
{
    it_server *s = *state;
    char ids[6][33];
    blob b = make_jpeg(2000, 1000, 1);
    for (int i = 0; i < 6; i++)
        upload_id(s, "image/jpeg", "burst.jpg", &b, ids[i]);
    blob_free(&b);
    for (int i = 5; i >= 0; i--) {
        check_thumb(s, ids[i], 2000, 1000, 720);
        check_thumb(s, ids[i], 2000, 1000, 198);
    }
    for (int i = 0; i < 6; i++)
        assert_int_equal(wait_thumbs(s, ids[i], 3), 3);
    /* 6 originals and 12 thumbnails */
    assert_int_equal(media_files(s), 18);

    it_http_resp r, h;
    get(s, "GET", ids[0], "?thumb=720", NULL, &r);
    assert_int_equal(r.status, 200);
    get(s, "HEAD", ids[0], "?thumb=720", NULL, &h);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.body_len, 0);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu", r.body_len);
    assert_non_null(header_has(&h, cl));
    it_http_resp_free(&h);
    get(s, "GET", ids[0], "?thumb=720", "Range: bytes=10-19\r\n", &h);
    assert_int_equal(h.status, 206);
    assert_int_equal(h.body_len, 10);
    assert_memory_equal(h.body, r.body + 10, 10);
    it_http_resp_free(&h);
    const char *et = header_has(&r, "ETag: ");
    assert_non_null(et);
    char inm[160];
    int n = (int)strcspn(et + 6, "\r\n");
    snprintf(inm, sizeof inm, "If-None-Match: %.*s\r\n", n, et + 6);
    get(s, "GET", ids[0], "?thumb=720", inm, &h);
    assert_int_equal(h.status, 304);
    it_http_resp_free(&h);
    get(s, "GET", ids[0], "?thumb=198", inm, &h); /* the other size has its own tag */
    assert_int_equal(h.status, 200);
    it_http_resp_free(&h);
    get(s, "GET", ids[0], NULL, inm, &h); /* and the original */
    assert_int_equal(h.status, 200);
    it_http_resp_free(&h);
    it_http_resp_free(&r);
}

/* A 20000x20000 PNG bomb and a truncated JPEG: uploaded, no thumbnail, RSS bounded. */
static void test_hostile(void **state)
{
    it_server *s = *state;
    char id[33];
    it_http_resp r;
    long rss0 = it_server_rss_kb(s);

    blob b = make_png_bomb(20000, 20000);
    check_upload(s, "image/png", "bomb.png", &b, 20000, 20000, 3, 0, "image/png", id);
    blob_free(&b);
    row rw;
    assert_int_equal(read_row(s, id, &rw), 0);
    assert_int_equal(rw.thumbs, 4); /* NEVER, from the header, before any decode */
    get(s, "GET", id, "?thumb=198", NULL, &r);
    expect_err(&r, 404, 7020);
    it_http_resp_free(&r);

    /* The head is whole (the size is known), the scan data stops halfway. */
    b = make_jpeg(1200, 900, 1);
    b.n /= 2;
    check_upload(s, "image/jpeg", "cut.jpg", &b, 1200, 900, 1, 0, "image/jpeg", id);
    blob_free(&b);
    get(s, "GET", id, "?thumb=720", NULL, &r);
    expect_err(&r, 404, 7020);
    it_http_resp_free(&r);
    assert_int_equal(wait_thumbs(s, id, 4), 4);
    get(s, "GET", id, "?thumb=198", NULL, &r); /* now from the row */
    expect_err(&r, 404, 7020);
    it_http_resp_free(&r);

    /* A JPEG cut inside its head: no size at all, so no image. */
    b = make_jpeg(64, 64, 1);
    b.n = 100;
    upload_blob(s, "image/jpeg", "head.jpg", &b, &r);
    assert_string_equal(it_jstr(r.json, "data.contentType"), "application/octet-stream");
    assert_null(it_jget(r.json, "data.width"));
    it_http_resp_free(&r);
    blob_free(&b);

    long rss1 = it_server_rss_kb(s);
    if (rss0 > 0 && rss1 > 0 && rss1 - rss0 > 64 * 1024)
        fail_msg("RSS grew from %ld to %ld KiB", rss0, rss1);
    assert_true(it_server_alive(s));
}

/* SVG and HTML labelled image/png are no raster images: octet-stream, attachment. */
static void test_not_raster(void **state)
{
    it_server *s = *state;
    static const char *const fakes[2] = {"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
                                         "<!DOCTYPE html><script>alert(1)</script>"};
    for (int i = 0; i < 2; i++) {
        blob b = {g_strdup(fakes[i]), strlen(fakes[i])};
        char id[33];
        it_http_resp r;
        upload_blob(s, "image/png", i ? "x.html" : "x.svg", &b, &r);
        assert_string_equal(it_jstr(r.json, "data.contentType"), "application/octet-stream");
        assert_null(it_jget(r.json, "data.imageFormat"));
        snprintf(id, sizeof id, "%s", it_jstr(r.json, "data.mediaId"));
        it_http_resp_free(&r);
        get(s, "GET", id, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(header_has(&r, "Content-Type: application/octet-stream"));
        assert_non_null(header_has(&r, "Content-Disposition: attachment"));
        assert_non_null(header_has(&r, "X-Content-Type-Options: nosniff"));
        it_http_resp_free(&r);
        get(s, "GET", id, "?thumb=198", NULL, &r);
        expect_err(&r, 404, 7020);
        it_http_resp_free(&r);
        blob_free(&b);
    }
}

static int setup_short_ttl(void **state)
{
    static const char *const args[] = {"--media-ttl-seconds", "2", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

/* The sweeper removes the thumbnails with the original. */
static void test_sweep(void **state)
{
    it_server *s = *state;
    char id[33];
    blob b = make_jpeg(800, 600, 1);
    upload_id(s, "image/jpeg", "s.jpg", &b, id);
    blob_free(&b);
    assert_int_equal(wait_thumbs(s, id, 3), 3);
    assert_int_equal(media_files(s), 3);
    int64_t end = it_now_ms() + 12000;
    while (media_files(s) > 0 && it_now_ms() < end)
        it_sleep_ms(100);
    assert_int_equal(media_files(s), 0);
}

static int setup_one_worker(void **state)
{
    static const char *const args[] = {"--thumb-workers", "1", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

/* SIGTERM while the one worker decodes a large PNG, another job is queued and a download
 * waits for it: ternd stops in time with exit 0 and the waiting client gets an answer or
 * a close, never a hang. */
static void test_stop_while_busy(void **state)
{
    it_server *s = *state;
    char ids[3][33];
    blob b = make_png_bomb(7000, 7000); /* 49 M pixels: under the limit, slow to thumbnail */
    for (int i = 0; i < 3; i++)
        upload_id(s, "image/png", "big.png", &b, ids[i]);
    blob_free(&b);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /demo/demo/media/%s?thumb=198 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                     "Connection: close\r\n\r\n",
                     ids[2], it_app_token(s));
    it_http_resp r;
    int64_t t0 = it_now_ms();
    pid_t pid = fork();
    if (pid == 0) { /* the waiting download, in a child so the test can signal meanwhile */
        it_http_raw(s->port, req, (size_t)n, 15000, &r);
        _exit(r.status == 200 || r.status == 503 || r.status == -1 || r.status == 0 ? 0 : 1);
    }
    it_sleep_ms(300);
    it_server_signal(s, SIGTERM);
    int st = 0;
    if (it_server_wait(s, 15000, &st) != 0)
        fail_msg("ternd still running 15 s after SIGTERM with thumbnail jobs");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("ternd exited with status 0x%x", st);
    int cst = 0;
    waitpid(pid, &cst, 0);
    assert_true(WIFEXITED(cst) && WEXITSTATUS(cst) == 0);
    printf("stop with thumbnail jobs took %lld ms\n", (long long)(it_now_ms() - t0));
    assert_int_equal(it_server_restart(s), 0); /* the teardown stops it again */
}

int main(void)
{
    if (VIPS_INIT("it_media_images") != 0)
        return 1;
    it_watchdog(600);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_formats, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_on_request, setup_queue_one, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_chatfiles_thumbnail, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_hostile, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_not_raster, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_sweep, setup_short_ttl, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_stop_while_busy, setup_one_worker, it_teardown_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
