/*
 * store_vfs.c — the "tern" SQLite VFS: the platform's default VFS, except that the
 * frames SQLite appends to a WAL file are gathered in memory and written with one
 * pwrite per commit instead of two per page.
 *
 * Why. SQLite writes every WAL frame with two calls: its 24-byte header, then the page.
 * With a group commit of a few hundred pages that is a few hundred system calls per
 * commit, and since frames are 4120 bytes long, each call also straddles page-cache
 * folios. Measured on the c2c benchmark, those pwrite calls were a third of the store
 * writer's time (docs/performance.md). Gathering them keeps the bytes, the order and
 * the checksums exactly as SQLite made them; only the number of system calls changes.
 *
 * Rules (a WAL file object only; every other file is passed through untouched):
 *   - A write that continues the pending bytes exactly is appended to the buffer
 *     (up to BUF_MAX); any other write first flushes the buffer.
 *   - A commit frame (a frame header whose "database size after commit" field is not
 *     zero, see the WAL format) is flushed as soon as its page has been appended, from
 *     inside that xWrite, so a failure is reported to SQLite as a failed write and the
 *     commit fails as it would have without the buffer. Hence when SQLite publishes the
 *     commit in the wal-index (which is what other connections read), its frames are in
 *     the file: readers and the checkpointer, who read through their own file objects,
 *     never see a frame that is not written.
 *   - Reads, syncs, truncation, file size and close flush first, so the connection that
 *     owns the buffer always sees its own bytes (e.g. after a cache spill).
 *   - As a safety net, the main database file's xShmBarrier (called just before the
 *     wal-index header is published) flushes the WAL of the same connection if anything
 *     is still pending.
 * A WAL file object belongs to one connection and is used by one thread at a time (the
 * store opens every connection with SQLITE_OPEN_NOMUTEX and uses it from one thread), so
 * the buffer needs no lock.
 */
#include "server/store/store_vfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "server/store/sqlite_internal.h"

#define VFS_NAME "tern"
#define BUF_MAX (4u << 20) /* pending bytes at most; a bigger commit writes in pieces */
#define WRITE_MAX 0x1F000u /* bytes per write of the underlying VFS, see flush */
#define WAL_FRAME_HDR 24   /* bytes of a WAL frame header (SQLite file format) */

typedef struct tfile tfile;
struct tfile {
    sqlite3_file base; /* pMethods: tern_io (or NULL when the real open failed) */
    sqlite3_file *real;
    int is_wal;
    tfile *wal;  /* main database file: its connection's WAL file object, if open */
    tfile *main; /* WAL file: the main database file object of its connection */
    /* WAL only: bytes not yet written, destined for [off, off + len). */
    unsigned char *buf;
    size_t len, cap;
    sqlite3_int64 off;
    int commit_hdr; /* the last append was a commit frame's header: flush after its page */
};

static sqlite3_vfs *base_vfs;
static sqlite3_vfs tern_vfs;
static sqlite3_io_methods tern_io_v1, tern_io_v2, tern_io_v3;

static int flush(tfile *f)
{
    size_t done = 0;
    int rc = SQLITE_OK;
    while (done < f->len) {
        /* The unix VFS loops over short writes but masks each write's size to 17 bits
         * (seekAndWriteFd), so hand it pieces below 128 KiB. */
        int n = f->len - done > WRITE_MAX ? (int)WRITE_MAX : (int)(f->len - done);
        rc = f->real->pMethods->xWrite(f->real, f->buf + done, n, f->off + (sqlite3_int64)done);
        if (rc != SQLITE_OK)
            break;
        done += (size_t)n;
    }
    /* On failure the bytes are dropped: SQLite reports the failed write and rolls the
     * transaction back, so nothing refers to them. */
    f->len = 0;
    f->commit_hdr = 0;
    return rc;
}

static int t_close(sqlite3_file *pf)
{
    tfile *f = (tfile *)pf;
    int rc = SQLITE_OK;
    if (f->is_wal) {
        rc = flush(f);
        if (f->main && f->main->wal == f)
            f->main->wal = NULL;
        free(f->buf);
        f->buf = NULL;
    } else if (f->wal) {
        f->wal->main = NULL;
    }
    int rc2 = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    return rc != SQLITE_OK ? rc : rc2;
}

static int t_read(sqlite3_file *pf, void *p, int n, sqlite3_int64 off)
{
    tfile *f = (tfile *)pf;
    if (f->len) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    return f->real->pMethods->xRead(f->real, p, n, off);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int t_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off)
{
    tfile *f = (tfile *)pf;
    if (!f->is_wal)
        return f->real->pMethods->xWrite(f->real, p, n, off);
    int rc;
    if (f->len && (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)n > BUF_MAX)) {
        if ((rc = flush(f)) != SQLITE_OK)
            return rc;
    }
    if (n <= 0 || (size_t)n > BUF_MAX)
        return f->real->pMethods->xWrite(f->real, p, n, off);
    if (f->len + (size_t)n > f->cap) {
        size_t cap = f->cap ? f->cap : 256 * 1024;
        while (cap < f->len + (size_t)n)
            cap *= 2;
        unsigned char *nb = realloc(f->buf, cap);
        if (!nb) { /* no memory for the buffer: write through */
            if ((rc = flush(f)) != SQLITE_OK)
                return rc;
            return f->real->pMethods->xWrite(f->real, p, n, off);
        }
        f->buf = nb;
        f->cap = cap;
    }
    if (!f->len)
        f->off = off;
    memcpy(f->buf + f->len, p, (size_t)n);
    f->len += (size_t)n;
    if (f->commit_hdr)
        return flush(f); /* the commit frame's page: the commit is complete */
    /* A frame header of a commit frame carries the database size after the commit;
     * SQLite writes it on its own (walWriteOneFrame); page data is never 24 bytes. */
    if (n == WAL_FRAME_HDR && be32((const unsigned char *)p + 4) != 0)
        f->commit_hdr = 1;
    return SQLITE_OK;
}

static int t_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    tfile *f = (tfile *)pf;
    if (f->len) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    return f->real->pMethods->xTruncate(f->real, size);
}

static int t_sync(sqlite3_file *pf, int flags)
{
    tfile *f = (tfile *)pf;
    if (f->len) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    return f->real->pMethods->xSync(f->real, flags);
}

static int t_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    tfile *f = (tfile *)pf;
    if (f->len) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    return f->real->pMethods->xFileSize(f->real, size);
}

static int t_lock(sqlite3_file *pf, int l)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xLock(f->real, l);
}

static int t_unlock(sqlite3_file *pf, int l)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xUnlock(f->real, l);
}

static int t_check_reserved(sqlite3_file *pf, int *out)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int t_file_control(sqlite3_file *pf, int op, void *arg)
{
    tfile *f = (tfile *)pf;
    if (op == SQLITE_FCNTL_VFSNAME) {
        int rc = f->real->pMethods->xFileControl(f->real, op, arg);
        if (rc == SQLITE_OK)
            *(char **)arg = sqlite3_mprintf("%s/%z", VFS_NAME, *(char **)arg);
        return rc;
    }
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int t_sector_size(sqlite3_file *pf)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xSectorSize(f->real);
}

static int t_device_chars(sqlite3_file *pf)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int t_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int t_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void t_shm_barrier(sqlite3_file *pf)
{
    tfile *f = (tfile *)pf;
    if (f->wal && f->wal->len && flush(f->wal) != SQLITE_OK) {
        /* Unreachable while SQLite writes commit frames as t_write expects; if it ever
         * is reached, publishing a header over unwritten frames would be worse. */
        LOG_ERROR("store: WAL write failed at a wal-index barrier; stopping");
        abort();
    }
    f->real->pMethods->xShmBarrier(f->real);
}

static int t_shm_unmap(sqlite3_file *pf, int del)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xShmUnmap(f->real, del);
}

static int t_fetch(sqlite3_file *pf, sqlite3_int64 off, int n, void **pp)
{
    tfile *f = (tfile *)pf;
    if (f->len) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    return f->real->pMethods->xFetch(f->real, off, n, pp);
}

static int t_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
    tfile *f = (tfile *)pf;
    return f->real->pMethods->xUnfetch(f->real, off, p);
}

static int t_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *pf, int flags, int *out_flags)
{
    (void)vfs;
    tfile *f = (tfile *)pf;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || !f->real->pMethods) {
        f->base.pMethods = NULL; /* SQLite calls no method of a file that failed to open */
        return rc;
    }
    int v = f->real->pMethods->iVersion;
    f->base.pMethods = v >= 3 ? &tern_io_v3 : v == 2 ? &tern_io_v2 : &tern_io_v1;
    if ((flags & SQLITE_OPEN_WAL) && name) {
        f->is_wal = 1;
        sqlite3_file *db = sqlite3_database_file_object(name);
        if (db && db->pMethods &&
            (db->pMethods == &tern_io_v1 || db->pMethods == &tern_io_v2 || db->pMethods == &tern_io_v3)) {
            f->main = (tfile *)db;
            f->main->wal = f;
        }
    }
    return SQLITE_OK;
}

static int t_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return base_vfs->xDelete(base_vfs, name, sync);
}

static int t_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int t_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *t_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base_vfs->xDlOpen(base_vfs, name);
}

static void t_dlerror(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    base_vfs->xDlError(base_vfs, n, msg);
}

static void (*t_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return base_vfs->xDlSym(base_vfs, h, sym);
}

static void t_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    base_vfs->xDlClose(base_vfs, h);
}

static int t_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xRandomness(base_vfs, n, out);
}

static int t_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return base_vfs->xSleep(base_vfs, us);
}

static int t_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return base_vfs->xCurrentTime(base_vfs, out);
}

static int t_get_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}

static int t_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_rc = SQLITE_ERROR;

static void init(void)
{
    base_vfs = sqlite3_vfs_find(NULL);
    if (!base_vfs || base_vfs->iVersion < 2 || !base_vfs->xCurrentTimeInt64)
        return;
    sqlite3_io_methods m = {
        .iVersion = 1,
        .xClose = t_close,
        .xRead = t_read,
        .xWrite = t_write,
        .xTruncate = t_truncate,
        .xSync = t_sync,
        .xFileSize = t_file_size,
        .xLock = t_lock,
        .xUnlock = t_unlock,
        .xCheckReservedLock = t_check_reserved,
        .xFileControl = t_file_control,
        .xSectorSize = t_sector_size,
        .xDeviceCharacteristics = t_device_chars,
    };
    tern_io_v1 = m;
    m.iVersion = 2;
    m.xShmMap = t_shm_map;
    m.xShmLock = t_shm_lock;
    m.xShmBarrier = t_shm_barrier;
    m.xShmUnmap = t_shm_unmap;
    tern_io_v2 = m;
    m.iVersion = 3;
    m.xFetch = t_fetch;
    m.xUnfetch = t_unfetch;
    tern_io_v3 = m;

    tern_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(tfile) + base_vfs->szOsFile,
        .mxPathname = base_vfs->mxPathname,
        .zName = VFS_NAME,
        .xOpen = t_open,
        .xDelete = t_delete,
        .xAccess = t_access,
        .xFullPathname = t_full_pathname,
        .xDlOpen = t_dlopen,
        .xDlError = t_dlerror,
        .xDlSym = t_dlsym,
        .xDlClose = t_dlclose,
        .xRandomness = t_randomness,
        .xSleep = t_sleep,
        .xCurrentTime = t_current_time,
        .xGetLastError = t_get_last_error,
        .xCurrentTimeInt64 = t_current_time_int64,
    };
    init_rc = sqlite3_vfs_register(&tern_vfs, 0);
}

const char *store_vfs_name(void)
{
    sq_mem_install(); /* SQLite's allocator first: registering the VFS initialises SQLite */
    pthread_once(&once, init);
    return init_rc == SQLITE_OK ? VFS_NAME : NULL;
}
