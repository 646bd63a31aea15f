/*
 * thumb.c — the thumbnailer (thumb.h): the libvips calls, and the bounded pool of worker
 * threads that runs them off the I/O loops and stores the results.
 *
 * One job makes both thumbnails of a file from one decode: libvips opens the original
 * (its header first, checked against the pixel limit), shrinks on load to the 720 box
 * (a JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself), auto-rotates by the
 * EXIF orientation, takes the first frame of an animated GIF or WebP, flattens alpha on
 * white, and the 198 box is resized from that image in memory. Both sizes are forced to
 * tern_img_fit's exact numbers (VIPS_SIZE_FORCE: the aspect ratio then differs from the
 * original's by under a pixel's rounding). An image smaller than a box is re-encoded at
 * its own size, so a thumbnail is always a JPEG. A BMP, which libvips reads only through
 * ImageMagick (blocked), is read here, row by row (bmp_load).
 *
 * The queue holds jobs; a job carries its waiters (downloads waiting for it). Requests go
 * in front of the eager jobs queued at upload, so a viewer never waits behind a burst of
 * uploads. A job checks first whether its files are in the store already (made by an
 * earlier job whose row update had not committed when the request read the row).
 */
#include "media/thumb.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#include "core/alloc.h"
#include "core/imgsize.h"
#include "core/log.h"
#include "store/store.h"

#define THUMB_ID_MAX 65 /* a media id and its NUL (store_media.id) */

/* ---- libvips ------------------------------------------------------------------------------ */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_ok;

static void lib_init_once(void)
{
    if (VIPS_INIT("ternd") != 0) {
        LOG_ERROR("thumbnails: libvips failed to start: %s", vips_error_buffer());
        return;
    }
    /* Only the loaders fit for hostile input: no ImageMagick, PDF, SVG, matlab, ... */
    vips_block_untrusted_set(TRUE);
    vips_concurrency_set(1); /* the pool is the parallelism */
    /* No operation cache: every job reads another file, so a cached operation would only
     * pin its source (the descriptor of a file the sweeper may have removed) and its
     * decoded pixels (test_thumb checks no descriptor stays open). */
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    lib_ok = 1;
}

int thumb_lib_init(void)
{
    pthread_once(&lib_once, lib_init_once);
    return lib_ok ? 0 : -1;
}

void thumb_buf_free(void *p)
{
    g_free(p);
}

static void unref(VipsImage *im)
{
    if (im)
        g_object_unref(im);
}

/* in resized to exactly tw x th as JPEG into *buf, *n. 0 or -1. */
static int save_jpeg(VipsImage *in, void **buf, size_t *n)
{
    return vips_jpegsave_buffer(in, buf, n, "Q", 82, "strip", TRUE, "optimize_coding", FALSE, NULL) == 0 ? 0 : -1;
}

/* libjpeg's own scale for a JPEG of w x h whose large thumbnail is lw x lh: the smallest
 * decode (1/8, 1/4, 1/2, 1) still at least that large, counted with the division rounded
 * down (never a side of 0: libvips 8.14 aborts on the 0-pixel image that shrink 8 makes
 * of a 1x1 JPEG; test_thumb). */
static int jpeg_shrink(int w, int h, int lw, int lh)
{
    int shrink = 8;
    while (shrink > 1 && (w / shrink < lw || h / shrink < lh))
        shrink /= 2;
    return shrink;
}

/* in (any size) resized to exactly tw x th with a triangle filter as wide as the
 * reduction (anti-aliased; half the cost of lanczos3 and no visible difference at
 * thumbnail sizes). 0 or -1. */
static int resize_exact(VipsImage *in, int tw, int th, VipsImage **out)
{
    double hs = (double)tw / vips_image_get_width(in), vs = (double)th / vips_image_get_height(in);
    return vips_resize(in, out, hs, "vscale", vs, "kernel", VIPS_KERNEL_LINEAR, NULL) == 0 ? 0 : -1;
}

/* ---- BMP: libvips reads it only through ImageMagick (blocked), so it is read here ---- */

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
    return le16(p) | le16(p + 2) << 16;
}

/* Reads n bytes at off of fd; 0 or -1 (short read included). */
static int read_at(int fd, void *b, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)b + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* A BMP (uncompressed, 8 bits with a palette, 24 or 32 bits) at fd, box-averaged while it
 * is read row by row by the largest whole factor that keeps it at least lw x lh, as an
 * 8-bit sRGB image in memory (under 1440 px on its long side, as for a JPEG). Rows are
 * read one at a time (pread), so a 150 MB BMP costs a row buffer and one row of sums.
 * 0, or -1 for anything else (RLE, bit fields, 1/4/16 bits, truncated). */
static int bmp_load(int fd, int lw, int lh, VipsImage **out)
{
    uint8_t h[54 + 1024];
    if (read_at(fd, h, 54, 0) != 0 || h[0] != 'B' || h[1] != 'M')
        return -1;
    uint32_t off = le32(h + 10), hsize = le32(h + 14);
    if (hsize < 40 || hsize > 124 || le32(h + 30) != 0 || le16(h + 26) != 1)
        return -1; /* core headers, compression and bit fields: not here */
    int64_t w = (int32_t)le32(h + 18), hh = (int32_t)le32(h + 22);
    int bpp = (int)le16(h + 28), topdown = hh < 0;
    if (hh < 0)
        hh = -hh;
    if (w < 1 || hh < 1 || w > 65535 * 4 || hh > 65535 * 4 || (bpp != 8 && bpp != 24 && bpp != 32))
        return -1;
    uint8_t pal[256][4] = {{0}};
    if (bpp == 8) {
        uint32_t n = le32(h + 46);
        n = n == 0 || n > 256 ? 256 : n;
        if (read_at(fd, pal, (size_t)n * 4, 14 + (uint64_t)hsize) != 0)
            return -1;
    }
    size_t stride = (size_t)((w * bpp + 31) / 32) * 4;
    int64_t k = 1;
    while (w / (k + 1) >= lw && hh / (k + 1) >= lh)
        k++;
    int64_t ow = w / k, oh = hh / k;
    uint8_t *row = tern_malloc(stride), *img = tern_malloc((size_t)(ow * oh * 3));
    uint32_t *sum = tern_calloc((size_t)(ow * 3), sizeof(uint32_t));
    int rc = 0;
    int64_t cur = -1; /* the output row being summed */
    for (int64_t fr = 0; rc == 0 && fr < hh; fr++) {
        int64_t y = topdown ? fr : hh - 1 - fr, oy = y / k;
        if (oy >= oh)
            continue;
        if (read_at(fd, row, stride, off + (uint64_t)fr * stride) != 0) {
            rc = -1;
            break;
        }
        if (oy != cur) {
            memset(sum, 0, (size_t)(ow * 3) * sizeof(uint32_t));
            cur = oy;
        }
        for (int64_t x = 0; x < ow * k; x++) {
            const uint8_t *px = bpp == 8 ? pal[row[x]] : row + x * (bpp / 8); /* B, G, R */
            uint32_t *s3 = sum + (x / k) * 3;
            s3[0] += px[2];
            s3[1] += px[1];
            s3[2] += px[0];
        }
        if (topdown ? y % k == k - 1 : y % k == 0) /* the last row of this band */
            for (int64_t i = 0; i < ow * 3; i++)
                img[oy * ow * 3 + i] = (uint8_t)(sum[i] / (uint32_t)(k * k));
    }
    if (rc == 0) {
        *out = vips_image_new_from_memory_copy(img, (size_t)(ow * oh * 3), (int)ow, (int)oh, 3, VIPS_FORMAT_UCHAR);
        if (*out)
            vips_image_set_int(*out, "interpretation", VIPS_INTERPRETATION_sRGB);
        else
            rc = -1;
    }
    tern_free(sum);
    tern_free(img);
    tern_free(row);
    return rc;
}

/* The image of src (displayed size w x h) at exactly lw x lh, auto-rotated, first frame.
 * A JPEG is decoded by libjpeg at the smallest scale that is still at least lw x lh
 * (vips_thumbnail would decode at twice that, for a sharper block shrink it does not need
 * here: libjpeg's scaling is an IDCT of the low frequencies, not a block average; the
 * decode is most of the cost), so the decoded image is under 1440 px on its long side
 * whatever the original. Everything else goes through vips_thumbnail's own
 * shrink-on-load. Both fail on truncated data. 0 or -1. */
static int load_large(VipsSource *src, int w, int h, int lw, int lh, VipsImage **out)
{
    const char *loader = vips_foreign_find_load_source(src);
    if (loader && strcmp(loader, "VipsForeignLoadJpegSource") == 0) {
        VipsImage *pre = NULL, *rot = NULL, *srgb = NULL;
        int rc = vips_jpegload_source(src, &pre, "shrink", jpeg_shrink(w, h, lw, lh), "fail_on",
                                      VIPS_FAIL_ON_TRUNCATED, NULL);
        if (rc == 0)
            rc = vips_autorot(pre, &rot, NULL);
        if (rc == 0 && vips_image_get_interpretation(rot) == VIPS_INTERPRETATION_CMYK)
            rc = vips_colourspace(rot, &srgb, VIPS_INTERPRETATION_sRGB, NULL);
        if (rc == 0)
            rc = resize_exact(srgb ? srgb : rot, lw, lh, out);
        unref(srgb);
        unref(rot);
        unref(pre);
        return rc == 0 ? 0 : -1;
    }
    /* The loader's fail_on, through option_string: with libvips 8.14 thumbnail's own
     * fail_on let a truncated JPEG through (it_media_images, test_hostile). */
    return vips_thumbnail_source(src, out, lw, "height", lh, "size", VIPS_SIZE_FORCE, "option_string",
                                 "fail_on=truncated", NULL) == 0
               ? 0
               : -1;
}

/* libvips' "eval" signal, emitted as the decode progresses: asks libvips to stop (the
 * computation then fails) once *cancel is set. */
static void on_eval(VipsImage *im, VipsProgress *progress, void *ud)
{
    (void)progress;
    if (atomic_load((const atomic_int *)ud))
        vips_image_set_kill(im, TRUE);
}

int thumb_make(int fd, int w, int h, int64_t max_pixels, void **small, size_t *small_n, void **large,
               size_t *large_n)
{
    return thumb_make_cancellable(fd, w, h, max_pixels, NULL, small, small_n, large, large_n);
}

int thumb_make_cancellable(int fd, int w, int h, int64_t max_pixels, const atomic_int *cancel, void **small,
                           size_t *small_n, void **large, size_t *large_n)
{
    *small = *large = NULL;
    *small_n = *large_n = 0;
    if (thumb_lib_init() != 0 || w < 1 || h < 1)
        return -1;
    int lw, lh, sw, sh;
    tern_img_fit(w, h, THUMB_LARGE, &lw, &lh);
    tern_img_fit(w, h, THUMB_SMALL, &sw, &sh);
    VipsImage *head = NULL, *big = NULL, *flat = NULL, *mem = NULL, *sm = NULL;
    VipsArrayDouble *white = NULL;
    int rc = -1;
    VipsSource *src = vips_source_new_from_descriptor(fd); /* a dup of fd */
    if (!src) {
        vips_error_clear();
        return -1;
    }
    uint8_t magic[2];
    if (read_at(fd, magic, 2, 0) == 0 && magic[0] == 'B' && magic[1] == 'M') {
        VipsImage *bmp = NULL;
        if ((int64_t)w * h > max_pixels || bmp_load(fd, lw, lh, &bmp) != 0)
            goto out;
        int resized = resize_exact(bmp, lw, lh, &big);
        unref(bmp);
        if (resized != 0)
            goto out;
    } else {
        /* The header as libvips reads it, before a pixel is decoded. */
        head = vips_image_new_from_source(src, "", "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                          VIPS_FAIL_ON_TRUNCATED, NULL);
        if (!head || (int64_t)vips_image_get_width(head) * vips_image_get_height(head) > max_pixels)
            goto out;
        if (load_large(src, w, h, lw, lh, &big) != 0)
            goto out;
    }
    if (vips_image_hasalpha(big)) {
        white = vips_array_double_newv(1, 255.0); /* one value, for every band */
        if (vips_flatten(big, &flat, "background", white, NULL) != 0)
            goto out;
    } else {
        flat = big;
        g_object_ref(flat);
    }
    if (cancel) { /* the decode below is the long part: stoppable while it runs */
        if (atomic_load(cancel))
            goto out;
        vips_image_set_progress(flat, TRUE);
        g_signal_connect(flat, "eval", G_CALLBACK(on_eval), (void *)cancel);
    }
    mem = vips_image_copy_memory(flat); /* the decode runs here, once */
    if (!mem || vips_image_get_width(mem) != lw || vips_image_get_height(mem) != lh)
        goto out;
    if (resize_exact(mem, sw, sh, &sm) != 0)
        goto out;
    if (save_jpeg(mem, large, large_n) != 0 || save_jpeg(sm, small, small_n) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0) {
        LOG_DEBUG("thumbnails: cannot decode: %s", vips_error_buffer());
        vips_error_clear();
        thumb_buf_free(*small);
        thumb_buf_free(*large);
        *small = *large = NULL;
        *small_n = *large_n = 0;
    }
    unref(sm);
    unref(mem);
    unref(flat);
    unref(big);
    unref(head);
    if (white)
        vips_area_unref(VIPS_AREA(white));
    g_object_unref(src);
    return rc;
}

int thumb_store_id(const char *id, int box, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s.t%d", id, box);
    return n > 0 && (size_t)n < outsz ? 0 : -1;
}

void thumb_remove(media_store *ms, int64_t app, const char *id)
{
    static const int boxes[2] = {THUMB_SMALL, THUMB_LARGE};
    for (int i = 0; i < 2; i++) {
        char tid[96];
        if (thumb_store_id(id, boxes[i], tid, sizeof tid) == 0)
            ms->ops->remove(ms, app, tid);
    }
}

/* ---- the pool ------------------------------------------------------------------------------ */

typedef struct waiter {
    void (*done)(void *ud, int rc);
    void *ud;
    struct waiter *next;
} waiter;

typedef struct job {
    int64_t app;
    char id[THUMB_ID_MAX];
    int w, h;
    int requested; /* a download waits for it: ahead of the eager jobs */
    int queued;    /* in the queue (not yet taken by a worker) */
    waiter *waiters;
    struct job *next;
} job;

typedef struct worker {
    struct thumb_pool *p;
    size_t slot; /* its entry of running[] */
} worker;

struct thumb_pool {
    server *s;
    media_store *ms;
    int64_t max_pixels;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail; /* queued: requests first, then eager jobs in upload order */
    job **running;    /* one slot per worker (NULL when idle) */
    size_t nqueued, queue_max;
    int nworkers, stopping, stopped;
    atomic_int cancel; /* set by thumb_pool_stop: the jobs running stop their decode */
    pthread_t *threads;
    worker *workers;
};

/* The row update after a job: allocated, freed by its completion on the writer. */
typedef struct thumbs_op {
    store_op op;
    char id[THUMB_ID_MAX];
} thumbs_op;

static void thumbs_op_done(store_op *op)
{
    if (op->result != TERN_OK && op->result != TERN_ERR_NOT_FOUND)
        LOG_WARN("thumbnails: cannot record them for %s: %s", ((thumbs_op *)op)->id, tern_strerror(op->result));
    tern_free(op);
}

static void record(thumb_pool *p, const job *j, int bits)
{
    thumbs_op *t = tern_calloc(1, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", j->id);
    t->op = (store_op){.kind = STORE_OP_MEDIA_THUMBS, .app = j->app, .done = thumbs_op_done};
    t->op.u.media.id = t->id;
    t->op.u.media.thumbs = bits;
    if (store_submit(p->s->st, &t->op) != TERN_OK) /* the next download makes them again */
        tern_free(t);
}

/* Writes n bytes of b as the store file (app, tid): tmp, fsync, rename. 0 or -errno. */
static int store_file(media_store *ms, int64_t app, const char *tid, const void *b, size_t n)
{
    char tmp[1200];
    int fd = ms->ops->tmp_open(ms, tmp, sizeof tmp);
    if (fd < 0)
        return fd;
    int rc = 0;
    size_t off = 0;
    while (rc == 0 && off < n) {
        ssize_t w = write(fd, (const char *)b + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = w < 0 ? -errno : -EIO;
        else
            off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0)
        rc = ms->ops->commit(ms, app, tid, tmp);
    if (rc != 0)
        ms->ops->tmp_remove(ms, tmp);
    return rc;
}

/* 1 if both thumbnails of the job are in the store. */
static int have_both(media_store *ms, const job *j)
{
    static const int boxes[2] = {THUMB_SMALL, THUMB_LARGE};
    for (int i = 0; i < 2; i++) {
        char tid[96];
        uint64_t size;
        thumb_store_id(j->id, boxes[i], tid, sizeof tid);
        int fd = ms->ops->open_read(ms, j->app, tid, &size);
        if (fd < 0)
            return 0;
        close(fd);
    }
    return 1;
}

/* Makes and stores the job's thumbnails: TERN_OK, TERN_ERR_MEDIA_NO_THUMB (the file
 * cannot be decoded or is gone: recorded as NEVER when it is there), or the code of a
 * store failure (a full disk: nothing recorded, a later request tries again). */
static int run_job(thumb_pool *p, const job *j)
{
    media_store *ms = p->ms;
    if (have_both(ms, j)) {
        record(p, j, STORE_MEDIA_THUMB_198 | STORE_MEDIA_THUMB_720);
        return TERN_OK;
    }
    uint64_t size;
    int fd = ms->ops->open_read(ms, j->app, j->id, &size);
    if (fd < 0)
        return TERN_ERR_MEDIA_NO_THUMB; /* swept meanwhile */
    void *sb, *lb;
    size_t sn, ln;
    int made = thumb_make_cancellable(fd, j->w, j->h, p->max_pixels, &p->cancel, &sb, &sn, &lb, &ln);
    close(fd);
    if (made != 0 && atomic_load(&p->cancel))
        return TERN_ERR_SHUTTING_DOWN; /* stopped, not undecodable: nothing recorded */
    if (made != 0) {
        LOG_INFO("thumbnails: %s cannot be decoded: none will be made", j->id);
        record(p, j, STORE_MEDIA_THUMB_NEVER);
        return TERN_ERR_MEDIA_NO_THUMB;
    }
    char tid[96];
    thumb_store_id(j->id, THUMB_LARGE, tid, sizeof tid);
    int rc = store_file(ms, j->app, tid, lb, ln);
    if (rc == 0) {
        thumb_store_id(j->id, THUMB_SMALL, tid, sizeof tid);
        rc = store_file(ms, j->app, tid, sb, sn);
    }
    thumb_buf_free(sb);
    thumb_buf_free(lb);
    /* Swept while we worked: the sweeper removes thumbnails after the original, so either
     * it sees ours, or we see the original gone here. */
    if (rc == 0 && (fd = ms->ops->open_read(ms, j->app, j->id, &size)) < 0) {
        thumb_remove(ms, j->app, j->id);
        return TERN_ERR_MEDIA_NO_THUMB;
    }
    if (rc == 0)
        close(fd);
    if (rc != 0) {
        LOG_WARN("thumbnails: cannot store those of %s: %s", j->id, strerror(-rc));
        return rc == -ENOSPC || rc == -EDQUOT ? TERN_ERR_MEDIA_DISK_FULL : TERN_ERR_INTERNAL;
    }
    record(p, j, STORE_MEDIA_THUMB_198 | STORE_MEDIA_THUMB_720);
    return TERN_OK;
}

static void finish_job(job *j, int rc)
{
    waiter *w = j->waiters;
    while (w) {
        waiter *next = w->next;
        w->done(w->ud, rc);
        tern_free(w);
        w = next;
    }
    tern_free(j);
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    thumb_pool *p = wk->p;
    size_t slot = wk->slot;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping)
            break;
        job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->nqueued--;
        j->queued = 0;
        p->running[slot] = j;
        pthread_mutex_unlock(&p->mu);
        int rc = run_job(p, j);
        pthread_mutex_lock(&p->mu);
        p->running[slot] = NULL;
        /* Waiters that joined while it ran are on j too: answered outside the lock. */
        pthread_mutex_unlock(&p->mu);
        finish_job(j, rc);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    vips_thread_shutdown();
    return NULL;
}

thumb_pool *thumb_pool_new(server *s, media_store *ms, int workers, int queue_max)
{
    if (thumb_lib_init() != 0)
        return NULL;
    thumb_pool *p = tern_calloc(1, sizeof *p);
    p->s = s;
    p->ms = ms;
    p->max_pixels = s->cfg.media_max_pixels;
    p->queue_max = (size_t)queue_max;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->running = tern_calloc((size_t)workers, sizeof(job *));
    p->threads = tern_calloc((size_t)workers, sizeof(pthread_t));
    p->workers = tern_calloc((size_t)workers, sizeof(worker));
    for (int i = 0; i < workers; i++) {
        p->workers[i] = (worker){.p = p, .slot = (size_t)i};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
            LOG_ERROR("thumbnails: cannot start worker %d", i);
            break;
        }
        p->nworkers++;
    }
    if (p->nworkers == 0) {
        thumb_pool_free(p);
        return NULL;
    }
    return p;
}

void thumb_pool_stop(thumb_pool *p)
{
    if (!p || p->stopped)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    atomic_store(&p->cancel, 1); /* a running decode stops (a 50 MP one can take seconds) */
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->threads[i], NULL);
    p->stopped = 1;
    job *j = p->head;
    p->head = p->tail = NULL;
    p->nqueued = 0;
    while (j) {
        job *next = j->next;
        finish_job(j, TERN_ERR_SHUTTING_DOWN);
        j = next;
    }
}

void thumb_pool_free(thumb_pool *p)
{
    if (!p)
        return;
    thumb_pool_stop(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    tern_free(p->running);
    tern_free(p->threads);
    tern_free(p->workers);
    tern_free(p);
}

/* The job queued or running for (app, id), or NULL. mu held. */
static job *find_job(thumb_pool *p, int64_t app, const char *id)
{
    for (job *j = p->head; j; j = j->next)
        if (j->app == app && strcmp(j->id, id) == 0)
            return j;
    for (int i = 0; i < p->nworkers; i++) {
        job *j = p->running[i];
        if (j && j->app == app && strcmp(j->id, id) == 0)
            return j;
    }
    return NULL;
}

/* Takes the queued job j out of the queue (its count stays). mu held. */
static void unlink_job(thumb_pool *p, job *j)
{
    job **at = &p->head, *prev = NULL;
    while (*at && *at != j) {
        prev = *at;
        at = &(*at)->next;
    }
    if (!*at)
        return;
    *at = j->next;
    if (p->tail == j)
        p->tail = prev;
    j->next = NULL;
}

/* Puts j in front of the eager jobs, behind earlier requests, and wakes a worker. mu
 * held. */
static void enqueue_request(thumb_pool *p, job *j)
{
    j->requested = 1;
    j->queued = 1;
    job **at = &p->head;
    while (*at && (*at)->requested)
        at = &(*at)->next;
    j->next = *at;
    *at = j;
    if (!j->next)
        p->tail = j;
    pthread_cond_signal(&p->cv);
}

static job *new_job(int64_t app, const char *id, int w, int h)
{
    job *j = tern_calloc(1, sizeof *j);
    j->app = app;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->w = w;
    j->h = h;
    return j;
}

void thumb_queue(thumb_pool *p, int64_t app, const char *id, const media_image *img)
{
    if (!p || img->format == TERN_IMG_NONE || (img->thumbs & STORE_MEDIA_THUMB_NEVER))
        return;
    pthread_mutex_lock(&p->mu);
    if (!p->stopping && p->nqueued < p->queue_max && !find_job(p, app, id)) {
        job *j = new_job(app, id, img->width, img->height);
        j->queued = 1;
        if (p->tail)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        p->nqueued++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

int thumb_request(thumb_pool *p, int64_t app, const char *id, int w, int h, void (*done)(void *ud, int rc),
                  void *ud)
{
    if (!p)
        return TERN_ERR_SHUTTING_DOWN;
    int rc = TERN_OK;
    pthread_mutex_lock(&p->mu);
    job *j = find_job(p, app, id);
    if (p->stopping) {
        rc = TERN_ERR_SHUTTING_DOWN;
    } else if (j && j->queued && !j->requested) { /* an eager job still queued: to the front */
        unlink_job(p, j);
        enqueue_request(p, j);
    } else if (!j && p->nqueued >= 2 * p->queue_max) {
        rc = TERN_ERR_OVERLOADED;
    } else if (!j) {
        j = new_job(app, id, w, h);
        p->nqueued++;
        enqueue_request(p, j);
    }
    if (rc == TERN_OK) {
        waiter *wt = tern_malloc(sizeof *wt);
        *wt = (waiter){.done = done, .ud = ud, .next = j->waiters};
        j->waiters = wt;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}
