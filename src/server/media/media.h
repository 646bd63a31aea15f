/*
 * media.h — the media service of ternd (issue 9): the media store the server uses
 * (media_store.h), media ids, the expiry rule and the sweeper that removes expired
 * files and their rows. The REST side (upload and download) is rest/media.c.
 *
 * A media id is 128 random bits (OpenSSL RAND_bytes) as 32 lower-case hex digits,
 * scoped to its app: the metadata row (store.h, store_media) is keyed by (app, id) and
 * every lookup names both. Identical bytes are stored once per upload: no dedup yet
 * (the sha256 is kept, so it can come later).
 *
 * Threads: media_init / media_start_sweeper / media_stop_sweeper / media_free run on
 * the main thread; the sweeper's timer runs on the control loop and its work (disk and
 * store) on libuv's pool; the rest is thread-safe.
 */
#ifndef TERN_MEDIA_H
#define TERN_MEDIA_H
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "media/media_store.h"
#include "media/probe.h"

#define MEDIA_ID_LEN 32

/* Opens the media store (--media-dir, else <data>/media) and removes the temporary
 * files an earlier run left (uploads lost halfway). 0, or -1 (logged). */
int media_init(server *s);
/* Starts the sweeper on the control loop: it deletes expired files, then their rows,
 * working from the rows (so it resumes after a restart). */
void media_start_sweeper(server *s);
/* Stops the timer; a sweep in flight finishes on the pool. Call before the store's
 * readers are closed for good (server_begin_shutdown). */
void media_stop_sweeper(server *s);
/* Frees the store (after the control loop ended). NULL media is a no-op. */
void media_free(server *s);

media_store *media_store_of(server *s);
/* The thumbnailer's pool (media/thumb.h; it refuses requests once stopped), or NULL. */
struct thumb_pool *media_thumb_pool(server *s);
/* The entry point of every upload path (raw body, resumable, Easemob chatfiles) for
 * images: after the file's commit, on libuv's pool, media_image_probe (probe.h) gives the
 * facts and content type to store in the row; once the row is committed, this queues the
 * image's thumbnails (nothing for a file that is no image or gets none). Never blocks:
 * may run on an I/O loop. */
void media_image_committed(server *s, int64_t app, const char *id, const media_image *img);
/* How long a new upload is kept, ms (--media-ttl-seconds if > 0, else days). */
int64_t media_ttl_ms(const server *s);
/* Writes a new id (MEDIA_ID_LEN hex digits and a NUL) into out. 0, or -1 if the
 * random generator failed. */
int media_new_id(char out[MEDIA_ID_LEN + 1]);
/* 1 if s[0..n) has the exact form of a media id (length and alphabet), else 0. */
int media_id_valid(const char *s, size_t n);
/* 1 for the raster image types a browser may show inline (jpeg, png, gif, webp, bmp). */
int media_is_raster(const char *content_type);
/* Copies a client-given file name into out (NUL-terminated, at most outsz - 1 bytes):
 * path components dropped, control characters, quotes, backslashes and bytes >= 0x80
 * turned into '_', empty as "file". Safe inside a quoted header value. */
void media_safe_filename(const char *in, size_t n, char *out, size_t outsz);

/* ---- resumable upload sessions (in memory: a restart drops them with their parts) ---- */

#define MEDIA_MAX_SESSIONS 4096

typedef struct media_session {
    int64_t app;
    char id[MEDIA_ID_LEN + 1];
    uint64_t total; /* declared size */
    char content_type[128], file_name[256];
    int64_t expires_ms; /* the session itself is dropped after this */
    int busy;           /* a PUT is running */
} media_session;

/* Adds a copy of in (with a new id written into in->id). TERN_OK, or
 * TERN_ERR_OVERLOADED past MEDIA_MAX_SESSIONS, TERN_ERR_INTERNAL. Thread-safe. */
int media_session_add(server *s, media_session *in);
/* Copies the session (app, id) into out; with claim, also marks it busy (refused with
 * TERN_ERR_MEDIA_OFFSET if it already is). TERN_OK or TERN_ERR_MEDIA_NOT_FOUND. */
int media_session_get(server *s, int64_t app, const char *id, int claim, media_session *out);
/* Clears busy (done = 0) or removes the session (done = 1). */
void media_session_release(server *s, int64_t app, const char *id, int done);

#endif
