/*
 * sqlite_internal.h — private to the SQLite engine (sqlite_*.c): its store and reader
 * objects, the writer's and readers' statement numbers, the writer's caches, and the
 * functions the engine's files share. Nothing outside src/server/store/sqlite_*.c
 * includes it; the server sees store.h only.
 *
 * The engine's files, one noun each:
 *   sqlite_db.c        open/close, schema and migrations, pragmas, statements, readers'
 *                      connections, the engine table
 *   sqlite_writer.c    submit, the writer thread and its batches, the checkpointer
 *   sqlite_messages.c  the message op; history and sync reads
 *   sqlite_convs.c     the writer's conversation cache and read positions, the
 *                      mark-read op, the conversation list
 *   sqlite_users.c     apps and users: ops and reads
 *   sqlite_groups.c    groups and members: ops and reads
 *   sqlite_mem.c       SQLite's allocator (out-of-memory is an error), its test hook
 *   store_vfs.c        the VFS that gathers WAL appends
 * Internal non-static names start with sq_.
 */
#ifndef TERN_STORE_SQLITE_INTERNAL_H
#define TERN_STORE_SQLITE_INTERNAL_H
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/hmap.h"
#include "core/id.h"
#include "server/store/store_engine.h"

/* WAL checkpoints run on a thread of their own so the writer never waits for them: past
 * WAL_SOFT_FRAMES pages in the WAL after a commit the checkpointer is woken; past
 * WAL_HARD_FRAMES (it cannot keep up) the writer checkpoints itself, which slows
 * submitters down and bounds the WAL. */
#define WAL_SOFT_FRAMES 16384
#define WAL_HARD_FRAMES 65536
/* The writer lingers (store_options.linger_us) only after batches smaller than this. */
#define LINGER_BELOW 64
#define WAL_SIZE_LIMIT "272629760" /* bytes: (WAL_HARD_FRAMES + slack) frames of 4 KiB + header */
/* When at most this many frames remain after a background checkpoint, the writer
 * copies them itself so the WAL can restart (see sq_wal_hook). */
#define WAL_CATCHUP_FRAMES 512

/* Past this many cached conversations the writer drops its cache at the start of a batch
 * (every entry then matches the database) and reloads conversations as they are touched. */
#define CONV_CACHE_MAX 262144

/* ---- writer statements (SQL in sqlite_db.c) ---------------------------------------- */

enum {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_MSG_INSERT,
    W_MSG_NC_AT,
    W_RCV_INSERT,
    W_UC_AT_SET,
    W_UC_AT_ALL,
    W_MSG_BY_CLIENT,
    W_CONV_GET,
    W_UC_ENSURE,
    W_UC_JOIN,
    W_UC_READ_GET,
    W_UC_READ_SET,
    W_UC_DEL,
    W_UC_DEL_USER,
    W_UC_DEL_GROUP,
    W_APP_INSERT,
    W_USER_INSERT,
    W_USER_EXISTS,
    W_USER_DEL,
    W_GROUP_GET,
    W_GROUP_UPSERT,
    W_GROUP_ROOM,
    W_GM_EXISTS,
    W_GROUP_DISMISS,
    W_GM_INSERT,
    W_GM_DEL,
    W_GM_DEL_USER,
    W_GM_DEL_GROUP,
    W_STREAM_INSERT,
    W_CHUNK_INSERT,
    W_STREAM_GET,
    W_CHUNKS_GET,
    W_STREAM_IS_OPEN,
    W_MSG_SET_BODY,
    W_CHUNKS_DEL,
    W_STREAM_DEL,
    W_MEDIA_INSERT,
    W_MEDIA_DEL,
    W_MEDIA_THUMBS,
    W_SETTING_PUT,
    W_SETTING_DEL,
    W_RCPT_INSERT,
    W_RCPT_MEMBERS,
    W_RCPT_IS_MEMBER,
    W_RCPT_MAX,
    W_RCPT_RANGE,
    W_RCPT_READ,
    W_RCPT_COUNT,
    W_KW_COUNT,
    W_KW_INSERT,
    W_KW_DEL,
    W_KW_CLEAR,
    W_MERGER_PUT,
    W_EXT_GET,
    W_EXT_PUT,
    W_EXT_COUNT,
    W_FRIEND_INSERT,
    W_FRIEND_DEL,
    W_FRIEND_COUNT,
    W_FRIEND_DEL_MIRRORS,
    W_FRIEND_DEL_USER,
    W_COUNT
};

/* ---- writer-side hash tables (sqlite_convs.c) -------------------------------------- */

/* One entry of the conversation cache (key: app + conv_key) or of the batch's pending
 * read positions (key: app + user + NUL + conv_key). */
typedef struct hent hent;
struct hent {
    hent *next;  /* bucket chain */
    hent *lnext; /* reads: every entry, for the flush */
    uint64_t hash;
    int64_t app;
    const char *s1; /* conv cache: conv_key; reads: user */
    const char *s2; /* reads: conv_key */
    /* conversation cache */
    uint64_t last_seq, last_msg_id;
    uint64_t last_nc; /* messages.nc of the last message (issue 10) */
    int64_t last_time_ms;
    uint64_t c2c_gen; /* == store.uc_gen: both C2C user_conv rows are known to exist */
    int is_group;
    /* read receipts (sqlite_receipts.c): the highest seq of a needReadReceipt message in
     * the conversation, once rcpt_known (loaded on the first read op that needs it) */
    uint64_t rcpt_max;
    int rcpt_known;
    /* pending read position */
    uint64_t read_seq;
    int verified; /* read_seq is the row's exact value (the row exists) */
    size_t klen;
    char key[];
};

typedef struct htab {
    hent **b;
    size_t nb, n;
    hent *list;
} htab;

void sq_ht_clear(htab *t);
void sq_ht_free(htab *t);

/* ---- the store --------------------------------------------------------------------- */

typedef struct sq_store sq_store;
typedef struct sq_reader sq_reader;

struct sq_store {
    store base; /* first: a store * is a sq_store * */
    char *path;
    sqlite3 *db; /* the writer's connection; touched by store_open/close and the writer only */
    sqlite3_stmt *st[W_COUNT];
    tern_idgen idgen;
    size_t max_batch, queue_max;
    unsigned linger_us;
    size_t last_batch; /* writer only: size of the previous batch */
    void (*thread_start)(void *ud);
    void (*batch_end)(void *ud);
    void *hook_ud;
    _Atomic uint64_t last_id;

    pthread_t thread;
    int thread_started;

    /* the checkpointer: its own connection, woken by the writer's WAL hook */
    sqlite3 *ckpt_db;
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_mutex_t ckpt_mu; /* guards ckpt_pending, ckpt_stop */
    pthread_cond_t ckpt_cv;
    int ckpt_pending, ckpt_stop;
    _Atomic int ckpt_done; /* frames the last background checkpoint backfilled */

    pthread_mutex_t mu; /* guards head, queued, closing */
    pthread_cond_t cv;
    store_op *head; /* pushed LIFO; the writer reverses it */
    size_t queued;  /* submitted and not yet completed */
    int closing;

    /* writer thread only */
    store_op **batch;
    htab convs;      /* conversation cache */
    htab reads;      /* pending read positions of the batch */
    uint64_t uc_gen; /* bumped whenever user_convs rows may have been deleted */
    uint64_t batch_max_id;
    tern_buf kb;    /* key scratch */
    hmap rcpt_pend; /* receipts: msg_id -> readers counted in this batch, not yet written */

    /* counters for store_get_stats (written by the writer, read by anyone) */
    _Atomic uint64_t n_batches, n_ops, commit_ns, max_batch_seen;
    _Atomic uint64_t users_gen; /* bumped after a batch that deleted a user commits */
    int batch_deleted_user;
};

/* Reader statements, prepared on first use. */
enum {
    R_APP_GET,
    R_APP_LIST,
    R_USER_EXISTS,
    R_USER_LIST,
    R_USER_GET,
    R_GROUP_GET,
    R_GROUP_EXISTS,
    R_GROUP_MEMBERS,
    R_USER_GROUPS,
    R_HISTORY,
    R_AFTER,
    R_SEQ_AT_ID,
    R_CONVS,
    R_CONV_GET,
    R_STREAM_CHUNKS,
    R_STREAMS_OPEN,
    R_MSG_GET,
    R_MSG_RECEIVER_OK,
    R_MEDIA_GET,
    R_MEDIA_EXPIRED,
    R_APP_SETTINGS,
    R_RCPT_GET,
    R_RCPT_READERS,
    R_RCPT_HAS_READ,
    R_KEYWORDS,
    R_MERGER_GET,
    R_EXT_LIST,
    R_FRIENDS,
    R_IS_FRIEND,
    R_COUNT
};

struct sq_reader {
    store_reader base; /* first: a store_reader * is a sq_reader * */
    sq_store *s;
    sqlite3 *db;
    sqlite3_stmt *st[R_COUNT];
    /* Users known to exist, so a send needs no SELECT for its recipient. Dropped when
     * any user is deleted (users_gen moves) or when it grows past USERS_CACHE_MAX. */
    hmap users_ok;
    uint64_t users_gen;
};
#define USERS_CACHE_MAX 100000

/* ---- shared by the engine's files -------------------------------------------------- */

/* Binds a NUL-terminated string, or NULL, without copying it. */
static inline void sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Logs a failed writer statement and resets it. Returns -1. */
int sq_fail_stmt(sq_store *s, sqlite3_stmt *st, int rc);

/* Runs a writer statement that returns no rows. 0, or -1 on failure (logged). */
static inline int sq_run(sq_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        return sq_fail_stmt(s, st, rc);
    sqlite3_reset(st);
    return 0;
}

/* Steps a writer statement for at most one row: 1 row (the caller resets), 0 none,
 * -1 failure. */
static inline int sq_row(sq_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    return sq_fail_stmt(s, st, rc);
}

/* Runs a one-text-column listing bound to (app[, key]: key NULL binds app only), calling
 * cb per row: TERN_OK or TERN_ERR_STORE (sqlite_groups.c). */
int sq_list_strings(sq_reader *r, sqlite3_stmt *st, int64_t app, const char *key, void (*cb)(void *ud, const char *),
                    void *ud);
/* The reader's cached statement, prepared on first use; NULL on failure (logged). */
sqlite3_stmt *sq_rst(sq_reader *r, int which);
/* Logs a failed reader statement and resets it. Returns TERN_ERR_STORE. */
int sq_rfail(sq_reader *r, sqlite3_stmt *st, int rc);
/* Steps a reader statement for at most one row: 1 row (the caller reads it, then
 * resets), 0 none (reset), -1 failure (logged, reset). */
static inline int sq_rrow(sq_reader *r, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    sq_rfail(r, st, rc);
    return -1;
}
/* Copies a text column into dst[dstsz], cut to fit, NUL-terminated (sqlite_users.c). */
void sq_copy_col(char *dst, size_t dstsz, sqlite3_stmt *st, int col);

/* sqlite_writer.c: the engine's write side and the checkpointer. */
void *sq_writer_main(void *arg);
void *sq_ckpt_main(void *arg);
int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int frames);
int sq_submit(store *st, store_op *op);
uint64_t sq_last_id(store *st);
void sq_get_stats(store *st, store_stats *out);

/* sqlite_convs.c: the writer's conversation cache and pending read positions. */
/* The cached state of a conversation, loaded on a miss from its last message (zeros if
 * it has none yet). NULL on a store failure. */
hent *sq_conv_get(sq_store *s, int64_t app, const char *conv_key);
/* The batch's pending read position of (user, conv_key); created (zeroed) if missing
 * and `create` is set, else NULL if missing. *created says whether it was made now. */
hent *sq_read_entry(sq_store *s, int64_t app, const char *user, const char *conv_key, int create, int *created);
/* Writes the batch's pending read positions now. Ops that delete user_convs rows call it
 * first, so no pending position outlives (or resurrects state for) a deleted row. */
int sq_flush_reads(sq_store *s);

/* The writer's ops, each in the file of its noun. Each returns 0 with op->result set
 * (TERN_OK or a business error), or -1 if a statement failed (the batch rolls back). */
int sq_op_message(sq_store *s, store_op *op);
int sq_op_mark_read(sq_store *s, store_op *op);
int sq_op_create_app(sq_store *s, store_op *op);
int sq_op_create_user(sq_store *s, store_op *op);
int sq_op_delete_user(sq_store *s, store_op *op);
int sq_op_create_group(sq_store *s, store_op *op);
int sq_op_dismiss_group(sq_store *s, store_op *op);
int sq_op_add_members(sq_store *s, store_op *op);
int sq_op_remove_members(sq_store *s, store_op *op);
/* sqlite_streams.c: a first chunk's stream rows (called by sq_op_message after its row
 * is in: 0 or -1), and the chunk / end ops. */
int sq_stream_open(sq_store *s, store_op *op, uint64_t id, int64_t t);
int sq_op_stream_chunk(sq_store *s, store_op *op);
/* sqlite_media.c: the media rows (migration 7). */
int sq_op_media(sq_store *s, store_op *op);
int sq_media_get(store_reader *rr, int64_t app, const char *id, store_media *out);
int sq_media_expired(store_reader *rr, int64_t now_ms, int limit, void (*cb)(void *ud, const store_media *m), void *ud);
/* sqlite_receipts.c (migration 10): the receipt row of a message just stored with
 * need_receipt (0 or -1), and the receipts a read op newly passed from old_read to
 * new_read (0 or -1; fills op->u.read.rcpt*). */
int sq_receipt_on_message(sq_store *s, store_op *op, hent *c, uint64_t id, uint64_t seq);
int sq_receipt_on_read(sq_store *s, store_op *op, hent *c, uint64_t old_read, uint64_t new_read);
/* Adds the batch's reader counts to their rows (with the read positions, before the
 * commit): 0 or -1. sq_receipt_drop forgets them (a batch rolled back). */
int sq_receipt_flush(sq_store *s);
void sq_receipt_drop(sq_store *s);
int sq_receipt_get(store_reader *rr, int64_t app, uint64_t msg_id, store_receipt *out);
int sq_receipt_members(store_reader *rr, int64_t app, uint64_t msg_id, int unread, const char *after, int limit,
                       store_receipt_member_cb cb, void *ud);
/* sqlite_relay.c: merger lists and message extensions (issue 10). sq_merger_put stores
 * a message op's merger list (called by sq_op_message after its row is in): 0 or -1. */
int sq_merger_put(sq_store *s, store_op *op, int64_t t);
int sq_op_ext(sq_store *s, store_op *op);
int sq_merger_get(store_reader *rr, int64_t app, const char *key, tern_buf *body, int *layers);
int sq_ext_list(store_reader *rr, int64_t app, uint64_t msg_id, store_ext_cb cb, void *ud);
/* sqlite_friends.c: friends (the friends table). */
int sq_op_friend(sq_store *s, store_op *op);
/* Deletes every friend row of user, both directions (part of DELETE_USER): 0 or -1. */
int sq_friends_del_user(sq_store *s, int64_t app, const char *user);
int sq_friends(store_reader *rr, int64_t app, const char *user, store_name_cb cb, void *ud);
int sq_is_friend(store_reader *rr, int64_t app, const char *a, const char *b);
/* Writer side: 1 if the user exists, 0 if not, -1 on failure. */
int sq_w_user_exists(sq_store *s, int64_t app, const char *user);

/* The engine's reads (the contracts are store.h's). */
int sq_app_get(store_reader *rr, const char *org, const char *name, store_app *out);
int sq_app_list(store_reader *rr, store_app_cb cb, void *ud);
/* sqlite_users.c: per-app settings (migration 9). */
int sq_op_app_settings(sq_store *s, store_op *op);
int sq_op_keywords(sq_store *s, store_op *op);                                       /* sqlite_keywords.c */
int sq_keywords(store_reader *rr, int64_t app, void (*cb)(void *ud, const char *w), void *ud); /* sqlite_keywords.c */
int sq_app_settings(store_reader *rr, void (*cb)(void *ud, int64_t app, const char *key, const char *value), void *ud);
int sq_user_exists(store_reader *rr, int64_t app, const char *user);
int sq_user_list(store_reader *rr, int64_t app, const char *after, int limit, store_user_cb cb, void *ud);
int sq_user_get(store_reader *rr, int64_t app, const char *user, store_user_cb cb, void *ud);
int sq_group_get(store_reader *rr, int64_t app, const char *group_id, store_group *out);
int sq_group_members(store_reader *rr, int64_t app, const char *group_id, store_name_cb cb, void *ud);
int sq_user_groups(store_reader *rr, int64_t app, const char *user, store_name_cb cb, void *ud);
int sq_history(store_reader *rr, int64_t app, const char *conv_key, const char *viewer, uint64_t before_seq, int limit,
               tern_buf *out, int *more);
int sq_messages_after(store_reader *rr, int64_t app, const char *conv_key, const char *viewer, uint64_t after_seq,
                      int limit, tern_buf *out, int *more, uint64_t *last_seq);
int sq_seq_at_id(store_reader *rr, int64_t app, const char *conv_key, uint64_t id, uint64_t *seq);
int sq_conversations(store_reader *rr, int64_t app, const char *user, int limit, store_conv_cb cb, void *ud);
int sq_conversation_get(store_reader *rr, int64_t app, const char *user, const char *conv_key, store_conv_cb cb,
                        void *ud);
int sq_streams_open(store_reader *rr, store_stream_cb cb, void *ud);
int sq_message_get(store_reader *rr, int64_t app, uint64_t msg_id, tern_buf *out);
int sq_msg_receiver_ok(store_reader *rr, int64_t app, uint64_t msg_id, const char *user);
/* Appends the message object of an open stream — its HEAD (head[0..hn)), the text of
 * its chunks committed so far, state open — given its id, seq, time and format; the
 * reader's chunks query. TERN_OK / TERN_ERR_STORE / TERN_ERR_TOO_MANY (out's ceiling). */
int sq_stream_body(sq_reader *r, const char *head, size_t hn, uint64_t id, uint64_t seq, int64_t t, int format,
                   tern_buf *out);
/* Appends row's message object to out: the body column as stored, or for an open stream
 * (its head column not NULL) the object rebuilt by sq_stream_body. Columns: seq, body,
 * head, msg_id, time_ms, format from column `c0` on. */
int sq_row_message(sq_reader *r, sqlite3_stmt *st, int c0, tern_buf *out);

/* sqlite_mem.c: SQLite's allocator. Installs it once, before SQLite's first use
 * (idempotent, thread-safe); 0, or -1 if SQLite was already initialised by someone else
 * (then SQLite keeps its own allocator, which works but is not counted or failable). */
int sq_mem_install(void);

#endif
