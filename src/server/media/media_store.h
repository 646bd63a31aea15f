/*
 * media_store.h — where media files live: a small interface (one table of functions)
 * so the cluster issue can add S3-compatible storage next to the local directory
 * (media_store_local.c, the default: --media-dir, else <data>/media).
 *
 * A file is written under a temporary name (tmp_open), then made durable and visible
 * under its (app, id) by commit; until commit nothing of it is visible, and tmp files
 * left by a crash are removed by clean_tmp at start. Every call may block on the disk:
 * call them on libuv's pool or at start, never on an I/O loop, except open_read (one
 * open(2) of a local file).
 */
#ifndef TERN_MEDIA_STORE_H
#define TERN_MEDIA_STORE_H
#include <stddef.h>
#include <stdint.h>

typedef struct media_store media_store;

typedef struct media_store_ops {
    /* Creates a new temporary file for writing; returns its descriptor (the caller
     * writes, fsyncs and closes it) and its name in tmp[tmpsz], or -errno. */
    int (*tmp_open)(media_store *ms, char *tmp, size_t tmpsz);
    /* Opens (creating) the temporary file named name for appending, for a resumable
     * upload: a descriptor, its path in path[pathsz] and its size now, or -errno. */
    int (*part_open)(media_store *ms, const char *name, char *path, size_t pathsz, uint64_t *size);
    /* Makes the fsynced, closed temporary file tmp the file (app, id): renamed into
     * place and the directory synced. 0 or -errno (tmp is then left for the caller). */
    int (*commit)(media_store *ms, int64_t app, const char *id, const char *tmp);
    /* Opens (app, id) for reading: a descriptor and its size, or -errno (-ENOENT). */
    int (*open_read)(media_store *ms, int64_t app, const char *id, uint64_t *size);
    /* Removes (app, id); 0 also when it is absent, else -errno. */
    int (*remove)(media_store *ms, int64_t app, const char *id);
    /* Removes a temporary file (an upload that failed or was abandoned). */
    void (*tmp_remove)(media_store *ms, const char *tmp);
    /* Removes every temporary file (at start, before any upload). */
    void (*clean_tmp)(media_store *ms);
    void (*free)(media_store *ms);
} media_store_ops;

struct media_store {
    const media_store_ops *ops;
};

/* The local-directory store rooted at dir (created with tmp/ below it). NULL (logged) on
 * failure. */
media_store *media_store_local_new(const char *dir);

#endif
