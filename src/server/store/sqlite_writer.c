/*
 * sqlite_writer.c — the SQLite engine's write side: store_submit's queue, the writer
 * thread that runs queued ops in batches, and the checkpointer thread.
 *
 * store_submit pushes ops onto a mutex-protected list; the writer takes the whole list
 * at once and runs up to max_batch ops in one transaction (group commit: one WAL append,
 * and with fsync_full one fsync, for the whole batch). Only after COMMIT does it call
 * every op's `done`, in submission order, so a TERN_OK result always means durable. If a
 * statement or the COMMIT fails, the batch is rolled back and every op of it completes
 * with TERN_ERR_STORE; business errors (conflict, not found) are found by checks and
 * never abort a batch.
 *
 * The writer keeps a cache of every recently touched conversation (last seq, id, time;
 * in the database they are the conversation's last row in messages_conv), so assigning
 * a seq costs no SELECT after the first touch, and coalesces its read-position writes:
 * each is written once per batch, just before COMMIT (sqlite_convs.c). Idempotent resend
 * rides on the unique index (app, client_msg_id, sender) (sqlite_messages.c).
 *
 * A checkpointer thread with its own connection copies the WAL back into the database
 * beside the writer, so commits do not wait for checkpoints (see WAL_SOFT_FRAMES).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* ---- the checkpointer -------------------------------------------------------------- */

/* Called by SQLite on the writer thread after every commit with the WAL's size in pages
 * (it replaces the default autocheckpoint). */
int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    sq_store *s = arg;
    if (frames >= WAL_HARD_FRAMES) {
        /* FULL waits (busy timeout) for a running background checkpoint, then copies
         * every frame back, so the next transaction can restart the WAL from its start. */
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_FULL, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            LOG_WARN("store: checkpoint: %s", sqlite3_errmsg(db));
    } else if (frames >= WAL_SOFT_FRAMES && s->ckpt_started && atomic_load(&s->ckpt_done) <= frames &&
               frames - atomic_load(&s->ckpt_done) <= WAL_CATCHUP_FRAMES) {
        /* The background checkpointer copied (and synced) nearly all of the WAL, but under
         * steady load it never finishes alone: new frames land while it copies and syncs,
         * so the WAL would never restart, grow to WAL_HARD_FRAMES and end in a long FULL
         * checkpoint inside a commit. Copy the small remainder here (its syncs are small);
         * the WAL is then fully backfilled and the next transaction starts it over. */
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            LOG_WARN("store: checkpoint: %s", sqlite3_errmsg(db));
        atomic_store(&s->ckpt_done, INT_MAX);
    } else if (frames >= WAL_SOFT_FRAMES && s->ckpt_started) {
        pthread_mutex_lock(&s->ckpt_mu);
        if (!s->ckpt_pending) {
            s->ckpt_pending = 1;
            pthread_cond_signal(&s->ckpt_cv);
        }
        pthread_mutex_unlock(&s->ckpt_mu);
    }
    return SQLITE_OK;
}

/* Syncs the checkpointer connection's database file (op SQLITE_FCNTL_FILE_POINTER) or
 * WAL (SQLITE_FCNTL_JOURNAL_POINTER) through its VFS handle: fdatasync flushes every
 * dirty page of the file, whichever descriptor wrote it. Only this thread uses that
 * connection; a failure is logged (the syncs SQLite itself does still follow). */
static void ckpt_flush(sqlite3 *db, int op)
{
    sqlite3_file *f = NULL;
    if (sqlite3_file_control(db, "main", op, &f) != SQLITE_OK || !f || !f->pMethods)
        return;
    int rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK)
        LOG_WARN("store: checkpointer sync (%s): error %d", op == SQLITE_FCNTL_FILE_POINTER ? "database" : "WAL", rc);
}

/* The checkpointer: PASSIVE checkpoints run beside the writer's commits (they take the
 * checkpoint lock, not the write lock), so copying WAL pages into the database and its
 * fsync stay off the commit path. */
void *sq_ckpt_main(void *arg)
{
    sq_store *s = arg;
    pthread_setname_np(pthread_self(), "tern-ckpt");
    /* Checkpoints are background work: at a lower priority the writer and the I/O loops
     * preempt it when the cores are busy (it still gets the idle time, and past
     * WAL_HARD_FRAMES the writer checkpoints itself). On Linux nice is per thread. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
        LOG_DEBUG("store: cannot lower the checkpointer's priority: %s", strerror(errno));
    for (;;) {
        pthread_mutex_lock(&s->ckpt_mu);
        while (!s->ckpt_pending && !s->ckpt_stop)
            pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
        int stop = s->ckpt_stop;
        s->ckpt_pending = 0;
        pthread_mutex_unlock(&s->ckpt_mu);
        if (stop)
            break; /* closing the writer's connection checkpoints what is left */
        /* PASSIVE copies the bulk beside the writer's commits. Under steady load it can
         * never finish alone (new frames land while it copies and syncs), so the WAL
         * would never restart and would grow to WAL_HARD_FRAMES and a long FULL
         * checkpoint inside a commit. Once the remainder is small, RESTART copies it
         * holding the write lock for that short while (the writer waits a few ms, not
         * hundreds), and the next transaction starts the WAL over from its beginning. */
        int nlog = 0, nckpt = 0;
        int rc = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        for (int round = 0; rc == SQLITE_OK && nlog - nckpt > WAL_CATCHUP_FRAMES && round < 8; round++)
            rc = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            LOG_WARN("store: background checkpoint: %s", sqlite3_errmsg(s->ckpt_db));
            continue;
        }
        /* Under load the copy above never completes, so SQLite has synced neither the
         * pages it wrote into the database nor the WAL frames that arrived meanwhile:
         * the writer's catch-up checkpoint (wal_hook) would then wait for all of that
         * to reach the disk (30-60 ms on the project VM, the c2c tail). Flush both
         * here, off the commit path; the writer's syncs then cover only what is new. */
        ckpt_flush(s->ckpt_db, SQLITE_FCNTL_FILE_POINTER);
        ckpt_flush(s->ckpt_db, SQLITE_FCNTL_JOURNAL_POINTER);
        atomic_store(&s->ckpt_done, nckpt);
    }
    return NULL;
}

/* ---- the queue and the counters ---------------------------------------------------- */

uint64_t sq_last_id(store *st)
{
    sq_store *s = (sq_store *)st;
    return atomic_load(&s->last_id);
}

int sq_submit(store *st, store_op *op)
{
    sq_store *s = (sq_store *)st;
    int rc = TERN_OK;
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        rc = TERN_ERR_SHUTTING_DOWN;
    } else if (s->queued >= s->queue_max) {
        rc = TERN_ERR_OVERLOADED;
    } else {
        op->result = TERN_OK;
        op->next = s->head;
        s->head = op;
        /* Only the push onto an empty list needs a wake-up: otherwise one is pending. */
        if (!op->next)
            pthread_cond_signal(&s->cv);
        s->queued++;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void sq_get_stats(store *st, store_stats *out)
{
    sq_store *s = (sq_store *)st;
    out->batches = atomic_load(&s->n_batches);
    out->ops = atomic_load(&s->n_ops);
    out->commit_ns = atomic_load(&s->commit_ns);
    out->max_batch = atomic_load(&s->max_batch_seen);
    pthread_mutex_lock(&s->mu);
    out->queued = s->queued;
    pthread_mutex_unlock(&s->mu);
}

/* ---- the writer ------------------------------------------------------------------- */

static int apply(sq_store *s, store_op *op)
{
    switch (op->kind) {
    case STORE_OP_MESSAGE: return sq_op_message(s, op);
    case STORE_OP_MARK_READ: return sq_op_mark_read(s, op);
    case STORE_OP_CREATE_APP: return sq_op_create_app(s, op);
    case STORE_OP_CREATE_USER: return sq_op_create_user(s, op);
    case STORE_OP_DELETE_USER: return sq_op_delete_user(s, op);
    case STORE_OP_CREATE_GROUP: return sq_op_create_group(s, op);
    case STORE_OP_DISMISS_GROUP: return sq_op_dismiss_group(s, op);
    case STORE_OP_ADD_MEMBERS: return sq_op_add_members(s, op);
    case STORE_OP_REMOVE_MEMBERS: return sq_op_remove_members(s, op);
    case STORE_OP_STREAM_CHUNK:
    case STORE_OP_STREAM_END: return sq_op_stream_chunk(s, op);
    case STORE_OP_MEDIA_PUT:
    case STORE_OP_MEDIA_DELETE:
    case STORE_OP_MEDIA_THUMBS: return sq_op_media(s, op);
    case STORE_OP_APP_SETTINGS: return sq_op_app_settings(s, op);
    case STORE_OP_KEYWORDS: return sq_op_keywords(s, op);
    case STORE_OP_EXT: return sq_op_ext(s, op);
    case STORE_OP_FRIEND_ADD:
    case STORE_OP_FRIEND_DELETE: return sq_op_friend(s, op);
    }
    op->result = TERN_ERR_INTERNAL;
    return 0;
}

static void run_batch(sq_store *s, store_op **ops, size_t n)
{
    uint64_t t0 = tern_mono_ns();
    if (s->convs.n > CONV_CACHE_MAX) /* every entry matches the database between batches */
        sq_ht_clear(&s->convs);
    s->batch_max_id = 0;
    s->batch_deleted_user = 0;
    int failed = sq_run(s, s->st[W_BEGIN]) < 0;
    for (size_t i = 0; i < n && !failed; i++)
        failed = apply(s, ops[i]) < 0;
    if (!failed)
        failed = sq_flush_reads(s) < 0;
    uint64_t t1 = tern_mono_ns();
    if (!failed)
        failed = sq_run(s, s->st[W_COMMIT]) < 0;
    uint64_t t2 = tern_mono_ns();
    if (t2 - t0 > 100000000) /* a commit this slow shows as latency: say why */
        LOG_WARN("store: slow batch of %zu ops: apply %.1f ms, commit %.1f ms", n, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    if (failed) {
        if (!sqlite3_get_autocommit(s->db) && sq_run(s, s->st[W_ROLLBACK]) < 0)
            LOG_ERROR("store: ROLLBACK failed");
        /* The caches may hold seqs that never committed: start over from the database. */
        sq_ht_clear(&s->convs);
        sq_ht_clear(&s->reads);
        sq_receipt_drop(s);
        s->uc_gen++;
        for (size_t i = 0; i < n; i++) {
            store_op *op = ops[i];
            op->result = TERN_ERR_STORE;
            if (op->kind == STORE_OP_MESSAGE) {
                tern_free(op->u.msg.json);
                op->u.msg.json = NULL;
                op->u.msg.json_len = 0;
            } else if (op->kind == STORE_OP_MARK_READ) { /* receipts that never committed */
                tern_free(op->u.read.rcpts);
                op->u.read.rcpts = NULL;
                op->u.read.nrcpts = 0;
            } else if (op->kind == STORE_OP_STREAM_CHUNK || op->kind == STORE_OP_STREAM_END) {
                tern_free(op->u.chunk.json);
                op->u.chunk.json = NULL;
                op->u.chunk.json_len = 0;
            }
        }
        LOG_ERROR("store: batch of %zu ops failed and was rolled back", n);
    } else {
        if (s->batch_max_id > atomic_load(&s->last_id))
            atomic_store(&s->last_id, s->batch_max_id);
        if (s->batch_deleted_user) /* readers drop their caches of existing users */
            atomic_fetch_add(&s->users_gen, 1);
    }
    atomic_fetch_add(&s->commit_ns, tern_mono_ns() - t0);
    atomic_fetch_add(&s->n_batches, 1);
    atomic_fetch_add(&s->n_ops, n);
    if (n > atomic_load(&s->max_batch_seen))
        atomic_store(&s->max_batch_seen, n);
    for (size_t i = 0; i < n; i++) {
        store_op *op = ops[i];
        op->next = NULL;
        op->done(op); /* may free or resubmit op */
    }
    if (s->batch_end)
        s->batch_end(s->hook_ud);
    pthread_mutex_lock(&s->mu);
    s->queued -= n;
    pthread_mutex_unlock(&s->mu);
}

void *sq_writer_main(void *arg)
{
    sq_store *s = arg;
    pthread_setname_np(pthread_self(), "tern-store");
    if (s->thread_start)
        s->thread_start(s->hook_ud);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->closing)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->linger_us && s->head && !s->closing && s->last_batch < LINGER_BELOW) {
            /* Group commit with a short linger: let more ops join this transaction.
             * A commit costs about the same for 1 op as for 50, so at light load this
             * trades up to linger_us of latency for far fewer commits. Under heavy load
             * batches fill by themselves while the previous one commits, and lingering
             * would only lengthen every cycle (and so every op's wait): skip it. */
            pthread_mutex_unlock(&s->mu);
            struct timespec ts = {0, (long)s->linger_us * 1000};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&s->mu);
        }
        store_op *lifo = s->head;
        s->head = NULL;
        pthread_mutex_unlock(&s->mu);
        if (!lifo)
            break; /* closing and drained */
        store_op *fifo = NULL;
        while (lifo) {
            store_op *nx = lifo->next;
            lifo->next = fifo;
            fifo = lifo;
            lifo = nx;
        }
        while (fifo) {
            size_t n = 0;
            while (fifo && n < s->max_batch) {
                s->batch[n++] = fifo;
                fifo = fifo->next;
            }
            run_batch(s, s->batch, n);
            s->last_batch = n;
        }
    }
    return NULL;
}
