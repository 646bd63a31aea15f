/*
 * thumb.h — thumbnails of uploaded images (issue 9, "Images"; the facts read from the
 * header before: probe.h):
 *   - a bounded pool of worker threads of its own makes the 198-px and 720-px JPEG
 *     thumbnails with libvips (shrink-on-load, EXIF auto-rotated, first frame, exactly
 *     the size of tern_img_fit), stores them beside the original under derived ids
 *     (thumb_store_id) with the store's tmp + fsync + rename commit, and records them in
 *     the row (STORE_OP_MEDIA_THUMBS). Thumbnails are queued eagerly when an upload is
 *     committed (thumb_queue, through media.h's media_image_committed); a download of a
 *     thumbnail that does not exist yet joins the job in flight or queues one first in
 *     line (thumb_request).
 *
 * libvips runs with untrusted loaders blocked (ImageMagick, PDF, SVG, ...), one thread
 * per operation, no operation cache, and fail-on-truncated: libvips never runs on
 * an I/O loop. The pixel limit is checked from the header before any decode, and again
 * from libvips' own header read before the pixels are read.
 *
 * Threads: thumb_pool_new / thumb_pool_stop / thumb_pool_free on the main thread (stop
 * before the store closes); the rest is thread-safe.
 */
#ifndef TERN_MEDIA_THUMB_H
#define TERN_MEDIA_THUMB_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "media/media_store.h"
#include "media/probe.h"

/* The two thumbnail sizes (long side, px): Tencent imageInfoArray types 1 and 2. */
#define THUMB_SMALL 198
#define THUMB_LARGE 720

/* The store id of the thumbnail of id at box (198 or 720): "<id>.t<box>", which no
 * client id matches (media_id_valid), into out. 0, or -1 if out is too small. */
int thumb_store_id(const char *id, int box, char *out, size_t outsz);
/* Removes both thumbnails of (app, id) (the sweeper, with the original); absent is fine.
 * Blocks on the disk. */
void thumb_remove(media_store *ms, int64_t app, const char *id);

/* Makes the thumbnails of the file open for reading at fd (not closed) whose displayed
 * size is w x h (the row's): box 198 into *small and 720 into *large (JPEG bytes,
 * g_malloc'd by libvips: release with thumb_buf_free), each exactly tern_img_fit(w, h,
 * box). max_pixels is checked again against libvips' header. Returns 0, or -1 if the
 * file cannot be decoded (truncated, corrupt, not what its header said, over the limit):
 * nothing to free then. Any thread but an I/O loop; thumb_lib_init must have run. */
int thumb_make(int fd, int w, int h, int64_t max_pixels, void **small, size_t *small_n, void **large,
               size_t *large_n);
/* The same, stopped (-1, nothing to free) when *cancel becomes non-zero while it decodes
 * (libvips' eval signal and kill flag): the pool's stop does not wait for a long decode.
 * cancel may be NULL (never). */
int thumb_make_cancellable(int fd, int w, int h, int64_t max_pixels, const atomic_int *cancel, void **small,
                           size_t *small_n, void **large, size_t *large_n);
void thumb_buf_free(void *p);
/* Initialises libvips for the thumbnailer (once per process; the later calls do
 * nothing): untrusted loaders blocked, concurrency 1, no operation cache. 0 or -1. */
int thumb_lib_init(void);

typedef struct thumb_pool thumb_pool;

/* Starts workers threads with a queue of at most queue_max eager jobs (requests may add
 * as many again). NULL (logged) on failure. */
thumb_pool *thumb_pool_new(server *s, media_store *ms, int workers, int queue_max);
/* Stops the workers after their current job, whose decode is cancelled (nothing recorded:
 * the next start queues it again); the jobs still queued are dropped and their
 * waiters called with TERN_ERR_SHUTTING_DOWN. NULL is a no-op; idempotent. */
void thumb_pool_stop(thumb_pool *p);
void thumb_pool_free(thumb_pool *p);

/* Queues the thumbnails of (app, id), an image with the facts img whose row is committed,
 * if it gets some. Never blocks (a mutex): may run on an I/O loop. When the queue is full
 * the job is not queued: the first download of a thumbnail makes it (thumb_request).
 * Callers go through media_image_committed (media.h). */
void thumb_queue(thumb_pool *p, int64_t app, const char *id, const media_image *img);

/* A download wants the thumbnails of (app, id), displayed size w x h: done(ud, rc) is
 * called once, on a worker thread, when they are in the store (rc TERN_OK) or will never
 * be (TERN_ERR_MEDIA_NO_THUMB), or another code (TERN_ERR_SHUTTING_DOWN, a store
 * failure). Joins a job in flight for the same file, else queues one ahead of the eager
 * ones. Returns TERN_OK (done will be called), or TERN_ERR_OVERLOADED when twice
 * queue_max jobs wait, TERN_ERR_SHUTTING_DOWN (done is not called then). */
int thumb_request(thumb_pool *p, int64_t app, const char *id, int w, int h, void (*done)(void *ud, int rc),
                  void *ud);

#endif
