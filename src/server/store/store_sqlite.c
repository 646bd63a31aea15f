/*
 * store_sqlite.c — the SQLite implementation of store.h, ternd's default store on one
 * machine.
 *
 * One database file, <data_dir>/tern.db, in WAL mode. One writer thread owns the only
 * connection that writes rows: store_submit pushes ops onto a mutex-protected list, the
 * writer takes the whole list at once and runs up to max_batch ops in one transaction
 * (group commit: one WAL append, and with fsync_full one fsync, for the whole batch).
 * Only after COMMIT does it call every op's `done`, in submission order, so a TERN_OK
 * result always means durable. If a statement or the COMMIT fails, the batch is rolled
 * back and every op of it completes with TERN_ERR_STORE; business errors (conflict, not
 * found) are found by checks and never abort a batch.
 *
 * The writer keeps a cache of every recently touched conversation (last seq, id, time;
 * in the database they are the conversation's last row in messages_conv), so assigning
 * a seq costs no SELECT after the first touch, and coalesces its read-position writes:
 * each is written once per batch, just before COMMIT. Idempotent resend rides on the unique index (app, client_msg_id,
 * sender): the INSERT of a resent message fails on that index (also for a copy earlier in the same batch, which the
 * transaction already sees), and the existing row is returned instead.
 *
 * A checkpointer thread with its own connection copies the WAL back into the database
 * beside the writer, so commits do not wait for checkpoints (see WAL_SOFT_FRAMES).
 *
 * Readers open their own read-only connections (WAL readers never block the writer) with
 * their own prepared statements; history reads concatenate the stored message objects
 * without re-encoding them.
 *
 * The schema is versioned with PRAGMA user_version: `migrations` is an ordered list,
 * entry i takes the database from version i to i + 1. Add a migration, never edit one.
 */
#include "server/store/store.h"
#include "server/store/store_vfs.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hmap.h"
#include "core/id.h"
#include "core/log.h"
#include "core/util.h"
#include "tern/errors.h"

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
 * copies them itself so the WAL can restart (see wal_hook). */
#define WAL_CATCHUP_FRAMES 512

/* Past this many cached conversations the writer drops its cache at the start of a batch
 * (every entry then matches the database) and reloads conversations as they are touched. */
#define CONV_CACHE_MAX 262144

/* ---- schema ------------------------------------------------------------------------ */

static const char *const migrations[] = {
    /* 1: the initial schema. */
    "CREATE TABLE apps("
    "  id INTEGER PRIMARY KEY, org TEXT NOT NULL, name TEXT NOT NULL,"
    "  client_id TEXT NOT NULL UNIQUE, client_secret TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    "  UNIQUE(org, name));"
    "CREATE TABLE users("
    "  app INTEGER NOT NULL, user TEXT NOT NULL, nickname TEXT, created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(app, user)) WITHOUT ROWID;"
    "CREATE TABLE groups("
    "  app INTEGER NOT NULL, group_id TEXT NOT NULL, name TEXT, owner TEXT,"
    "  created_ms INTEGER NOT NULL, dismissed INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(app, group_id)) WITHOUT ROWID;"
    "CREATE TABLE group_members("
    "  app INTEGER NOT NULL, group_id TEXT NOT NULL, user TEXT NOT NULL, joined_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(app, group_id, user)) WITHOUT ROWID;"
    "CREATE INDEX group_members_user ON group_members(app, user);"
    "CREATE TABLE convs("
    "  app INTEGER NOT NULL, conv_key TEXT NOT NULL, is_group INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL, last_msg_id INTEGER NOT NULL, last_time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(app, conv_key)) WITHOUT ROWID;"
    "CREATE TABLE user_convs("
    "  app INTEGER NOT NULL, user TEXT NOT NULL, conv_key TEXT NOT NULL, peer TEXT NOT NULL,"
    "  read_seq INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(app, user, conv_key)) WITHOUT ROWID;"
    "CREATE TABLE messages("
    "  app INTEGER NOT NULL, conv_key TEXT NOT NULL, seq INTEGER NOT NULL, msg_id INTEGER NOT NULL,"
    "  sender TEXT NOT NULL, client_msg_id TEXT, time_ms INTEGER NOT NULL, body TEXT NOT NULL,"
    "  PRIMARY KEY(app, conv_key, seq)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX messages_client_id ON messages(app, sender, client_msg_id)"
    "  WHERE client_msg_id IS NOT NULL;"
    "CREATE INDEX messages_msg_id ON messages(app, msg_id);"
    /* Store-wide values: 'last_id' = highest committed message id, so ids keep growing
     * across restarts even if the clock stepped back meanwhile (dropped in v4: the last
     * rowid of messages says it, see store_open). */
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;",
    /* 2: the idempotency index leads with the client id (same uniqueness), so that
     * time-ordered client ids append to the index instead of touching one random page
     * per sender in every batch (measured: about +35% messages/s with 1000 active
     * conversations). */
    "DROP INDEX messages_client_id;"
    "CREATE UNIQUE INDEX messages_client_id ON messages(app, client_msg_id, sender)"
    "  WHERE client_msg_id IS NOT NULL;",
    /* 3: messages become a rowid table keyed by msg_id, which the writer assigns in
     * increasing order, so each batch appends its rows (and their bodies) to the end of
     * the table instead of splitting one leaf per conversation in the middle of it; the
     * per-conversation order lives in a narrow index (app, conv_key, seq), about ten
     * times denser than the rows, so it splits ten times less. The (app, msg_id) index
     * is the rowid now. Measured on c2c at 20k msg/s: WAL pages per message 2.6 -> 1.4,
     * store thread 50% -> 33% of a core (docs/performance.md). */
    "CREATE TABLE messages_v3("
    "  msg_id INTEGER PRIMARY KEY, app INTEGER NOT NULL, conv_key TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  sender TEXT NOT NULL, client_msg_id TEXT, time_ms INTEGER NOT NULL, body TEXT NOT NULL);"
    "INSERT INTO messages_v3(msg_id,app,conv_key,seq,sender,client_msg_id,time_ms,body)"
    "  SELECT msg_id,app,conv_key,seq,sender,client_msg_id,time_ms,body FROM messages ORDER BY msg_id;"
    "DROP TABLE messages;"
    "ALTER TABLE messages_v3 RENAME TO messages;"
    "CREATE UNIQUE INDEX messages_conv ON messages(app, conv_key, seq);"
    "CREATE UNIQUE INDEX messages_client_id ON messages(app, client_msg_id, sender)"
    "  WHERE client_msg_id IS NOT NULL;",
    /* 4: a conversation's last seq, id and time are its last row in messages_conv (seq
     * and id grow together), so the convs table that repeated them is gone: the writer
     * no longer upserts a row per conversation per batch. meta('last_id') was always the
     * highest stored msg_id (messages are never deleted): now the table's last rowid. */
    "DROP TABLE IF EXISTS convs; DROP TABLE IF EXISTS meta;",
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

/* ---- writer statements ------------------------------------------------------------- */

enum {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_MSG_INSERT,
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
    W_GROUP_DISMISS,
    W_GM_INSERT,
    W_GM_DEL,
    W_GM_DEL_USER,
    W_GM_DEL_GROUP,
    W_COUNT
};

static const char *const wsql[W_COUNT] = {
    [W_BEGIN] = "BEGIN",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_MSG_INSERT] = "INSERT INTO messages(app,conv_key,seq,msg_id,sender,client_msg_id,time_ms,body)"
                     " VALUES(?,?,?,?,?,?,?,?)",
    [W_MSG_BY_CLIENT] = "SELECT msg_id,seq,time_ms,body FROM messages"
                        " WHERE app=? AND sender=? AND client_msg_id=?",
    [W_CONV_GET] = "SELECT seq,msg_id,time_ms FROM messages WHERE app=? AND conv_key=? ORDER BY seq DESC LIMIT 1",
    [W_UC_ENSURE] = "INSERT OR IGNORE INTO user_convs(app,user,conv_key,peer,read_seq) VALUES(?,?,?,?,0)",
    [W_UC_JOIN] = "INSERT OR REPLACE INTO user_convs(app,user,conv_key,peer,read_seq) VALUES(?,?,?,?,?)",
    [W_UC_READ_GET] = "SELECT read_seq FROM user_convs WHERE app=? AND user=? AND conv_key=?",
    [W_UC_READ_SET] = "UPDATE user_convs SET read_seq=MAX(read_seq,?4) WHERE app=?1 AND user=?2 AND conv_key=?3",
    [W_UC_DEL] = "DELETE FROM user_convs WHERE app=? AND user=? AND conv_key=?",
    [W_UC_DEL_USER] = "DELETE FROM user_convs WHERE app=? AND user=?",
    [W_UC_DEL_GROUP] = "DELETE FROM user_convs WHERE app=?1 AND conv_key=?2 AND user IN"
                       " (SELECT user FROM group_members WHERE app=?1 AND group_id=?3)",
    [W_APP_INSERT] = "INSERT OR IGNORE INTO apps(org,name,client_id,client_secret,created_ms)"
                     " VALUES(?,?,?,?,?)",
    [W_USER_INSERT] = "INSERT OR IGNORE INTO users(app,user,nickname,created_ms) VALUES(?,?,?,?)",
    [W_USER_EXISTS] = "SELECT 1 FROM users WHERE app=? AND user=?",
    [W_USER_DEL] = "DELETE FROM users WHERE app=? AND user=?",
    [W_GROUP_GET] = "SELECT dismissed FROM groups WHERE app=? AND group_id=?",
    [W_GROUP_UPSERT] = "INSERT INTO groups(app,group_id,name,owner,created_ms,dismissed)"
                       " VALUES(?,?,?,?,?,0) ON CONFLICT(app,group_id) DO UPDATE SET"
                       " name=excluded.name,owner=excluded.owner,created_ms=excluded.created_ms,"
                       "dismissed=0",
    [W_GROUP_DISMISS] = "UPDATE groups SET dismissed=1 WHERE app=? AND group_id=?",
    [W_GM_INSERT] = "INSERT OR IGNORE INTO group_members(app,group_id,user,joined_ms) VALUES(?,?,?,?)",
    [W_GM_DEL] = "DELETE FROM group_members WHERE app=? AND group_id=? AND user=?",
    [W_GM_DEL_USER] = "DELETE FROM group_members WHERE app=? AND user=?",
    [W_GM_DEL_GROUP] = "DELETE FROM group_members WHERE app=? AND group_id=?",
};

/* ---- writer-side hash tables ------------------------------------------------------- */

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
    int64_t last_time_ms;
    uint64_t c2c_gen; /* == store.uc_gen: both C2C user_conv rows are known to exist */
    int is_group;
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

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static hent *ht_find(htab *t, const char *k, size_t kl, uint64_t h)
{
    if (!t->nb)
        return NULL;
    for (hent *e = t->b[h & (t->nb - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == kl && memcmp(e->key, k, kl) == 0)
            return e;
    return NULL;
}

/* Adds a zeroed entry for a key known to be absent. */
static hent *ht_add(htab *t, const char *k, size_t kl, uint64_t h)
{
    if (t->n >= t->nb) {
        size_t nb = t->nb ? t->nb * 2 : 256;
        hent **b = tern_calloc(nb, sizeof *b);
        for (size_t i = 0; i < t->nb; i++) {
            hent *e = t->b[i];
            while (e) {
                hent *nx = e->next;
                e->next = b[e->hash & (nb - 1)];
                b[e->hash & (nb - 1)] = e;
                e = nx;
            }
        }
        tern_free(t->b);
        t->b = b;
        t->nb = nb;
    }
    hent *e = tern_calloc(1, sizeof *e + kl + 1);
    memcpy(e->key, k, kl);
    e->key[kl] = 0;
    e->klen = kl;
    e->hash = h;
    e->next = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = e;
    t->n++;
    return e;
}

static void ht_clear(htab *t)
{
    for (size_t i = 0; i < t->nb && t->n; i++) {
        hent *e = t->b[i];
        while (e) {
            hent *nx = e->next;
            tern_free(e);
            t->n--;
            e = nx;
        }
        t->b[i] = NULL;
    }
    t->n = 0;
    t->list = NULL;
    if (t->nb > 4096) { /* give a burst's buckets back */
        tern_free(t->b);
        t->b = NULL;
        t->nb = 0;
    }
}

static void ht_free(htab *t)
{
    ht_clear(t);
    tern_free(t->b);
    t->b = NULL;
    t->nb = 0;
}

/* ---- the store --------------------------------------------------------------------- */

struct store {
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
    tern_buf kb; /* key scratch */

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
    R_USER_LIST_FROM,
    R_GROUP_GET,
    R_GROUP_EXISTS,
    R_GROUP_MEMBERS,
    R_USER_GROUPS,
    R_HISTORY,
    R_AFTER,
    R_SEQ_AT_ID,
    R_CONVS,
    R_CONV_GET,
    R_COUNT
};

struct store_reader {
    store *s;
    sqlite3 *db;
    sqlite3_stmt *st[R_COUNT];
    /* Users known to exist, so a send needs no SELECT for its recipient. Dropped when
     * any user is deleted (users_gen moves) or when it grows past USERS_CACHE_MAX. */
    hmap users_ok;
    uint64_t users_gen;
};
#define USERS_CACHE_MAX 100000

static void set_err(char *err, size_t errsz, const char *fmt, const char *a, const char *b)
{
    if (err && errsz)
        snprintf(err, errsz, fmt, a, b);
}

/* mkdir -p, creating missing directories with mode 0700. */
static int mkdirs(const char *dir)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != 0)
            continue;
        char c = tmp[i];
        tmp[i] = 0;
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return -1;
        tmp[i] = c;
    }
    struct stat sb;
    return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errsz)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(err, errsz, "sqlite: %s (%s)", msg ? msg : sqlite3_errmsg(db), sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int migrate(sqlite3 *db, char *err, size_t errsz)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < 0) {
        set_err(err, errsz, "sqlite: reading user_version: %s%s", sqlite3_errmsg(db), "");
        return -1;
    }
    if ((size_t)version > NMIGRATIONS) {
        set_err(err, errsz, "%s%s: database schema is newer than this ternd", "tern.db", "");
        return -1;
    }
    for (size_t v = (size_t)version; v < NMIGRATIONS; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%zu", v + 1);
        if (exec_sql(db, "BEGIN IMMEDIATE", err, errsz) < 0)
            return -1;
        if (exec_sql(db, migrations[v], err, errsz) < 0 || exec_sql(db, pragma, err, errsz) < 0 ||
            exec_sql(db, "COMMIT", err, errsz) < 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

static void *writer_main(void *arg);

/* Called by SQLite on the writer thread after every commit with the WAL's size in pages
 * (it replaces the default autocheckpoint). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    store *s = arg;
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
static void *ckpt_main(void *arg)
{
    store *s = arg;
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

store *store_open(const store_options *opt, char *err, size_t errsz)
{
    if (!opt || !opt->data_dir || !*opt->data_dir) {
        set_err(err, errsz, "%s%s", "store: no data directory", "");
        return NULL;
    }
    if (mkdirs(opt->data_dir) < 0) {
        set_err(err, errsz, "store: cannot create data directory %s: %s", opt->data_dir, strerror(errno));
        return NULL;
    }
    store *s = tern_calloc(1, sizeof *s);
    size_t dl = strlen(opt->data_dir);
    s->path = tern_malloc(dl + sizeof "/tern.db");
    memcpy(s->path, opt->data_dir, dl);
    memcpy(s->path + dl, "/tern.db", sizeof "/tern.db");
    s->max_batch = opt->max_batch ? opt->max_batch : 2048;
    s->linger_us = opt->linger_us;
    s->thread_start = opt->writer_thread_start;
    s->batch_end = opt->writer_batch_end;
    s->hook_ud = opt->hook_ud;
    s->queue_max = opt->queue_max ? opt->queue_max : 200000;
    s->uc_gen = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    tern_buf_init(&s->kb, 0);
    tern_idgen_init(&s->idgen, opt->node_id);

    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        store_vfs_name()) != SQLITE_OK) {
        set_err(err, errsz, "sqlite: cannot open %s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    if (exec_sql(s->db, "PRAGMA journal_mode=WAL", err, errsz) < 0 ||
        exec_sql(s->db, opt->fsync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err, errsz) < 0 ||
        exec_sql(s->db, "PRAGMA foreign_keys=OFF", err, errsz) < 0 ||
        /* Never truncate the WAL below its working size: after a restart SQLite then
         * overwrites blocks it already has, instead of the filesystem allocating new
         * blocks and page-cache folios for every frame (a third of the writer's time
         * when the WAL was cut back to 64 MiB each cycle). It is bounded by
         * WAL_HARD_FRAMES (~260 MiB at most). */
        exec_sql(s->db, "PRAGMA journal_size_limit=" WAL_SIZE_LIMIT, err, errsz) < 0 ||
        /* A bigger page cache keeps the index pages of hot conversations in memory. */
        exec_sql(s->db, "PRAGMA cache_size=4000", err, errsz) < 0 || migrate(s->db, err, errsz) < 0)
        goto fail;
    if (sqlite3_open_v2(s->path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, store_vfs_name()) !=
        SQLITE_OK) {
        set_err(err, errsz, "sqlite: cannot open %s: %s", s->path,
                s->ckpt_db ? sqlite3_errmsg(s->ckpt_db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->ckpt_db, 5000);
    /* A connection that has not read the database is not attached to the WAL yet, and
     * its checkpoints silently do nothing (log and checkpointed frames come back -1).
     * Checkpoints sync as the writer's connection does. */
    if (exec_sql(s->ckpt_db, "PRAGMA journal_mode=WAL", err, errsz) < 0 ||
        exec_sql(s->ckpt_db, opt->fsync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err, errsz) < 0)
        goto fail;
    for (int i = 0; i < W_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
            set_err(err, errsz, "sqlite: %s (%s)", sqlite3_errmsg(s->db), wsql[i]);
            goto fail;
        }
    }
    {
        /* The highest committed message id is the last rowid of messages (keyed by
         * msg_id since v3; messages are never deleted), an O(log n) lookup. */
        sqlite3_stmt *st = NULL;
        uint64_t last = 0;
        if (sqlite3_prepare_v2(s->db, "SELECT IFNULL(max(msg_id),0) FROM messages", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            last = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        atomic_store(&s->last_id, last);
        /* The generator never goes below the last id it handed out: seed it with the
         * last committed one so ids keep increasing across a restart. */
        if (last > s->idgen.last)
            s->idgen.last = last;
    }
    s->batch = tern_malloc(s->max_batch * sizeof *s->batch);
    if (pthread_create(&s->ckpt_thread, NULL, ckpt_main, s) != 0) {
        set_err(err, errsz, "%s%s", "store: cannot start the checkpoint thread", "");
        goto fail;
    }
    s->ckpt_started = 1;
    sqlite3_wal_hook(s->db, wal_hook, s);
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        set_err(err, errsz, "%s%s", "store: cannot start the writer thread", "");
        goto fail;
    }
    s->thread_started = 1;
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->closing = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_stop = 1;
        pthread_cond_signal(&s->ckpt_cv);
        pthread_mutex_unlock(&s->ckpt_mu);
        pthread_join(s->ckpt_thread, NULL);
    }
    sqlite3_close(s->ckpt_db);
    for (int i = 0; i < W_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        LOG_ERROR("store: closing %s: %s (readers left open?)", s->path, sqlite3_errmsg(s->db));
    ht_free(&s->convs);
    ht_free(&s->reads);
    tern_buf_free(&s->kb);
    tern_free(s->batch);
    tern_free(s->path);
    pthread_mutex_destroy(&s->idgen.mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->ckpt_cv);
    pthread_mutex_destroy(&s->ckpt_mu);
    tern_free(s);
}

uint64_t store_last_id(store *s)
{
    return atomic_load(&s->last_id);
}

int store_submit(store *s, store_op *op)
{
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

/* ---- writer: statement helpers ----------------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int fail_stmt(store *s, sqlite3_stmt *st, int rc)
{
    LOG_ERROR("store: %s: %s (%s)", sqlite3_errstr(rc), sqlite3_errmsg(s->db), sqlite3_sql(st));
    sqlite3_reset(st);
    return -1;
}

/* Runs a statement that returns no rows. 0, or -1 on failure (logged). */
static int run(store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        return fail_stmt(s, st, rc);
    sqlite3_reset(st);
    return 0;
}

/* Steps a statement for at most one row: 1 row (the caller resets), 0 none, -1 failure. */
static int row(store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    return fail_stmt(s, st, rc);
}

static const char *key2(store *s, int64_t app, const char *a, const char *b, size_t *kl)
{
    tern_buf_reset(&s->kb);
    tern_buf_append(&s->kb, &app, sizeof app);
    tern_buf_append(&s->kb, a, strlen(a));
    if (b) {
        tern_buf_append(&s->kb, "", 1);
        tern_buf_append(&s->kb, b, strlen(b));
    }
    *kl = s->kb.len;
    return s->kb.data;
}

/* The cached state of a conversation, loaded on a miss from its last message (zeros if
 * it has none yet). NULL on a store failure. */
static hent *conv_get(store *s, int64_t app, const char *conv_key)
{
    size_t kl;
    const char *k = key2(s, app, conv_key, NULL, &kl);
    uint64_t h = hash_bytes(k, kl);
    hent *e = ht_find(&s->convs, k, kl, h);
    if (e)
        return e;
    sqlite3_stmt *st = s->st[W_CONV_GET];
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, conv_key);
    int r = row(s, st);
    if (r < 0)
        return NULL;
    e = ht_add(&s->convs, k, kl, h);
    e->app = app;
    e->s1 = e->key + sizeof app;
    e->is_group = conv_key[0] == 'g';
    if (r) {
        e->last_seq = (uint64_t)sqlite3_column_int64(st, 0);
        e->last_msg_id = (uint64_t)sqlite3_column_int64(st, 1);
        e->last_time_ms = sqlite3_column_int64(st, 2);
        sqlite3_reset(st);
    }
    return e;
}

/* The batch's pending read position of (user, conv_key); created (zeroed) if missing
 * and `create` is set, else NULL if missing. *created says whether it was made now. */
static hent *read_entry(store *s, int64_t app, const char *user, const char *conv_key, int create, int *created)
{
    size_t kl;
    const char *k = key2(s, app, user, conv_key, &kl);
    uint64_t h = hash_bytes(k, kl);
    hent *e = ht_find(&s->reads, k, kl, h);
    *created = !e && create;
    if (!e && create) {
        e = ht_add(&s->reads, k, kl, h);
        e->app = app;
        e->s1 = e->key + sizeof app;
        e->s2 = e->s1 + strlen(e->s1) + 1;
        e->lnext = s->reads.list;
        s->reads.list = e;
    }
    return e;
}

/* Writes the batch's pending read positions now. Ops that delete user_convs rows call it
 * first, so no pending position outlives (or resurrects state for) a deleted row. */
static int flush_reads(store *s)
{
    sqlite3_stmt *st = s->st[W_UC_READ_SET];
    for (hent *e = s->reads.list; e; e = e->lnext) {
        sqlite3_bind_int64(st, 1, e->app);
        bind_text(st, 2, e->s1);
        bind_text(st, 3, e->s2);
        sqlite3_bind_int64(st, 4, (int64_t)e->read_seq);
        if (run(s, st) < 0)
            return -1;
    }
    ht_clear(&s->reads);
    return 0;
}

/* 1 if the user exists, 0 if not, -1 on failure. */
static int user_exists(store *s, int64_t app, const char *user)
{
    sqlite3_stmt *st = s->st[W_USER_EXISTS];
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, user);
    int r = row(s, st);
    if (r > 0)
        sqlite3_reset(st);
    return r;
}

/* 1 if the group exists and is not dismissed, 0 if not (*dismissed says whether a
 * dismissed row exists), -1 on failure. */
static int group_live(store *s, int64_t app, const char *group_id, int *dismissed)
{
    sqlite3_stmt *st = s->st[W_GROUP_GET];
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, group_id);
    int r = row(s, st);
    *dismissed = 0;
    if (r > 0) {
        *dismissed = sqlite3_column_int(st, 0) != 0;
        sqlite3_reset(st);
        return *dismissed ? 0 : 1;
    }
    return r;
}

/* ---- writer: ops ------------------------------------------------------------------- */

static int put_u64(char *o, uint64_t v)
{
    char tmp[21];
    int n = tern_id_format(v, tmp);
    memcpy(o, tmp, (size_t)n);
    return n;
}

/* {"msgId":"<id>","seq":<seq>,"time":<ms>,<fields>} */
static char *message_json(uint64_t id, uint64_t seq, int64_t t, const char *fields, size_t fields_len, size_t *len)
{
    char *j = tern_malloc(fields_len + 96);
    char *o = j;
    memcpy(o, "{\"msgId\":\"", 10);
    o += 10;
    o += put_u64(o, id);
    memcpy(o, "\",\"seq\":", 8);
    o += 8;
    o += put_u64(o, seq);
    memcpy(o, ",\"time\":", 8);
    o += 8;
    o += put_u64(o, t < 0 ? 0 : (uint64_t)t);
    if (fields_len) {
        *o++ = ',';
        memcpy(o, fields, fields_len);
        o += fields_len;
    }
    *o++ = '}';
    *o = 0;
    *len = (size_t)(o - j);
    return j;
}

static int op_message(store *s, store_op *op)
{
    __typeof__(op->u.msg) *m = &op->u.msg;
    m->json = NULL;
    m->json_len = 0;
    m->duplicate = 0;
    if (!m->conv_key || !*m->conv_key || !m->sender || !*m->sender || (!m->is_group && !m->peer) ||
        (m->fields_len && !m->fields)) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    hent *c = conv_get(s, op->app, m->conv_key);
    if (!c)
        return -1;
    int has_cid = m->client_msg_id && *m->client_msg_id;
    uint64_t id = tern_idgen_next(&s->idgen);
    uint64_t seq = c->last_seq + 1;
    int64_t t = tern_id_time_ms(id);
    size_t jl;
    char *json = message_json(id, seq, t, m->fields, m->fields_len, &jl);

    sqlite3_stmt *st = s->st[W_MSG_INSERT];
    sqlite3_bind_int64(st, 1, op->app);
    bind_text(st, 2, m->conv_key);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    sqlite3_bind_int64(st, 4, (int64_t)id);
    bind_text(st, 5, m->sender);
    bind_text(st, 6, has_cid ? m->client_msg_id : NULL);
    sqlite3_bind_int64(st, 7, t);
    sqlite3_bind_text(st, 8, json, (int)jl, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE && has_cid) {
        /* A resend: the same sender and client id are stored (maybe earlier in this very
         * batch). Describe that message and write nothing. */
        tern_free(json);
        st = s->st[W_MSG_BY_CLIENT];
        sqlite3_bind_int64(st, 1, op->app);
        bind_text(st, 2, m->sender);
        bind_text(st, 3, m->client_msg_id);
        int r = row(s, st);
        if (r <= 0) {
            if (r == 0)
                LOG_ERROR("store: client id conflict without a row (%s)", m->client_msg_id);
            return -1;
        }
        m->duplicate = 1;
        m->msg_id = (uint64_t)sqlite3_column_int64(st, 0);
        m->seq = (uint64_t)sqlite3_column_int64(st, 1);
        m->time_ms = sqlite3_column_int64(st, 2);
        const char *body = (const char *)sqlite3_column_text(st, 3);
        size_t bl = (size_t)sqlite3_column_bytes(st, 3);
        m->json = tern_strndup(body ? body : "", bl);
        m->json_len = bl;
        sqlite3_reset(st);
        op->result = TERN_OK;
        return 0;
    }
    if (rc != SQLITE_DONE) {
        tern_free(json);
        LOG_ERROR("store: inserting a message: %s (%s)", sqlite3_errstr(rc), sqlite3_errmsg(s->db));
        return -1;
    }
    if (!m->is_group && c->c2c_gen != s->uc_gen) {
        /* Both sides get a conversation row on the first message. */
        st = s->st[W_UC_ENSURE];
        for (int side = 0; side < 2; side++) {
            sqlite3_bind_int64(st, 1, op->app);
            bind_text(st, 2, side ? m->peer : m->sender);
            bind_text(st, 3, m->conv_key);
            bind_text(st, 4, side ? m->sender : m->peer);
            if (run(s, st) < 0) {
                tern_free(json);
                return -1;
            }
        }
        c->c2c_gen = s->uc_gen;
    }
    c->last_seq = seq;
    c->last_msg_id = id;
    c->last_time_ms = t;
    c->is_group = m->is_group != 0;
    /* Sending reads everything up to one's own message. */
    int created;
    hent *r = read_entry(s, op->app, m->sender, m->conv_key, 1, &created);
    if (created || seq > r->read_seq)
        r->read_seq = seq;
    if (!m->is_group)
        r->verified = 1; /* the row exists and its read_seq was <= last_seq < seq */
    if (id > s->batch_max_id)
        s->batch_max_id = id;
    m->msg_id = id;
    m->seq = seq;
    m->time_ms = t;
    m->json = json;
    m->json_len = jl;
    op->result = TERN_OK;
    return 0;
}

static int op_mark_read(store *s, store_op *op)
{
    __typeof__(op->u.read) *m = &op->u.read;
    if (!m->user || !m->conv_key) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    hent *c = conv_get(s, op->app, m->conv_key);
    if (!c)
        return -1;
    uint64_t last_seq = c->last_seq;
    int created;
    hent *e = read_entry(s, op->app, m->user, m->conv_key, 0, &created);
    if (!e || !e->verified) {
        /* Learn whether the row exists and its exact read_seq; a miss writes nothing. */
        sqlite3_stmt *st = s->st[W_UC_READ_GET];
        sqlite3_bind_int64(st, 1, op->app);
        bind_text(st, 2, m->user);
        bind_text(st, 3, m->conv_key);
        int r = row(s, st);
        if (r < 0)
            return -1;
        if (r == 0) {
            op->result = TERN_ERR_NOT_FOUND;
            return 0;
        }
        uint64_t db = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (!e)
            e = read_entry(s, op->app, m->user, m->conv_key, 1, &created);
        if (created || db > e->read_seq)
            e->read_seq = db;
        e->verified = 1;
    }
    uint64_t target = m->seq < last_seq ? m->seq : last_seq;
    if (target > e->read_seq)
        e->read_seq = target;
    m->read_seq = e->read_seq;
    m->last_seq = last_seq;
    op->result = TERN_OK;
    return 0;
}

static int op_create_app(store *s, store_op *op)
{
    __typeof__(op->u.app_create) *a = &op->u.app_create;
    if (!a->org || !a->name || !a->client_id || !a->client_secret) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    sqlite3_stmt *st = s->st[W_APP_INSERT];
    bind_text(st, 1, a->org);
    bind_text(st, 2, a->name);
    bind_text(st, 3, a->client_id);
    bind_text(st, 4, a->client_secret);
    sqlite3_bind_int64(st, 5, tern_now_ms());
    if (run(s, st) < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0) {
        op->result = TERN_ERR_CONFLICT; /* org/name or client id taken */
        return 0;
    }
    a->out_id = sqlite3_last_insert_rowid(s->db);
    op->result = TERN_OK;
    return 0;
}

static int op_create_user(store *s, store_op *op)
{
    if (!op->u.user.user || !*op->u.user.user) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    sqlite3_stmt *st = s->st[W_USER_INSERT];
    sqlite3_bind_int64(st, 1, op->app);
    bind_text(st, 2, op->u.user.user);
    bind_text(st, 3, op->u.user.nickname);
    sqlite3_bind_int64(st, 4, tern_now_ms());
    if (run(s, st) < 0)
        return -1;
    op->result = sqlite3_changes(s->db) ? TERN_OK : TERN_ERR_CONFLICT;
    return 0;
}

static int op_delete_user(store *s, store_op *op)
{
    const char *user = op->u.user.user;
    if (!user) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    int r = user_exists(s, op->app, user);
    if (r <= 0) {
        op->result = TERN_ERR_USER_NOT_FOUND;
        return r;
    }
    if (flush_reads(s) < 0)
        return -1;
    static const int del[] = {W_USER_DEL, W_GM_DEL_USER, W_UC_DEL_USER};
    for (size_t i = 0; i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *st = s->st[del[i]];
        sqlite3_bind_int64(st, 1, op->app);
        bind_text(st, 2, user);
        if (run(s, st) < 0)
            return -1;
    }
    s->uc_gen++; /* C2C rows of this user are gone: ensure them again on the next message */
    s->batch_deleted_user = 1;
    op->result = TERN_OK;
    return 0;
}

/* Adds user to the group unless already a member; a newcomer's conversation row starts
 * read up to the conversation's last message. 1 joined, 0 already a member, -1 failure. */
static int join_group(store *s, int64_t app, const char *group_id, const char *conv_key, uint64_t last_seq,
                      const char *user, int64_t now)
{
    sqlite3_stmt *st = s->st[W_GM_INSERT];
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, group_id);
    bind_text(st, 3, user);
    sqlite3_bind_int64(st, 4, now);
    if (run(s, st) < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return 0;
    st = s->st[W_UC_JOIN];
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, user);
    bind_text(st, 3, conv_key);
    bind_text(st, 4, group_id);
    sqlite3_bind_int64(st, 5, (int64_t)last_seq);
    return run(s, st) < 0 ? -1 : 1;
}

/* Checks that every listed user exists: 1 yes, 0 no, -1 failure. */
static int users_exist(store *s, int64_t app, const char *owner, const char **members, size_t n)
{
    if (owner && *owner) {
        int r = user_exists(s, app, owner);
        if (r <= 0)
            return r;
    }
    for (size_t i = 0; i < n; i++) {
        int r = members[i] ? user_exists(s, app, members[i]) : 0;
        if (r <= 0)
            return r;
    }
    return 1;
}

static int add_members(store *s, store_op *op, const char *owner)
{
    __typeof__(op->u.group) *g = &op->u.group;
    char conv_key[80];
    if (store_conv_key_group(g->group_id, conv_key, sizeof conv_key) < 0) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    hent *c = conv_get(s, op->app, conv_key);
    if (!c)
        return -1;
    int64_t now = tern_now_ms();
    size_t changed = 0;
    if (owner && *owner) {
        int r = join_group(s, op->app, g->group_id, conv_key, c->last_seq, owner, now);
        if (r < 0)
            return -1;
        changed += (size_t)r;
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        int r = join_group(s, op->app, g->group_id, conv_key, c->last_seq, g->members[i], now);
        if (r < 0)
            return -1;
        changed += (size_t)r;
    }
    g->changed = changed;
    op->result = TERN_OK;
    return 0;
}

static int op_create_group(store *s, store_op *op)
{
    __typeof__(op->u.group) *g = &op->u.group;
    g->changed = 0;
    if (!g->group_id || !*g->group_id || (g->nmembers && !g->members) || strlen(g->group_id) > 64) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    int dismissed;
    int r = group_live(s, op->app, g->group_id, &dismissed);
    if (r != 0) {
        op->result = TERN_ERR_CONFLICT;
        return r < 0 ? -1 : 0;
    }
    r = users_exist(s, op->app, g->owner, g->members, g->nmembers);
    if (r <= 0) {
        op->result = TERN_ERR_USER_NOT_FOUND;
        return r;
    }
    /* A dismissed id is revived: same row, new name/owner, the conversation's seqs go on. */
    sqlite3_stmt *st = s->st[W_GROUP_UPSERT];
    sqlite3_bind_int64(st, 1, op->app);
    bind_text(st, 2, g->group_id);
    bind_text(st, 3, g->name);
    bind_text(st, 4, g->owner && *g->owner ? g->owner : NULL);
    sqlite3_bind_int64(st, 5, tern_now_ms());
    if (run(s, st) < 0)
        return -1;
    return add_members(s, op, g->owner);
}

static int op_add_members(store *s, store_op *op)
{
    __typeof__(op->u.group) *g = &op->u.group;
    g->changed = 0;
    if (!g->group_id || (g->nmembers && !g->members) || strlen(g->group_id) > 64) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    int dismissed;
    int r = group_live(s, op->app, g->group_id, &dismissed);
    if (r <= 0) {
        op->result = TERN_ERR_GROUP_NOT_FOUND;
        return r;
    }
    r = users_exist(s, op->app, NULL, g->members, g->nmembers);
    if (r <= 0) {
        op->result = TERN_ERR_USER_NOT_FOUND;
        return r;
    }
    return add_members(s, op, NULL);
}

static int op_remove_members(store *s, store_op *op)
{
    __typeof__(op->u.group) *g = &op->u.group;
    g->changed = 0;
    char conv_key[80];
    if (!g->group_id || (g->nmembers && !g->members) ||
        store_conv_key_group(g->group_id, conv_key, sizeof conv_key) < 0) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    int dismissed;
    int r = group_live(s, op->app, g->group_id, &dismissed);
    if (r <= 0) {
        op->result = TERN_ERR_GROUP_NOT_FOUND;
        return r;
    }
    if (flush_reads(s) < 0)
        return -1;
    for (size_t i = 0; i < g->nmembers; i++) {
        if (!g->members[i])
            continue;
        sqlite3_stmt *st = s->st[W_GM_DEL];
        sqlite3_bind_int64(st, 1, op->app);
        bind_text(st, 2, g->group_id);
        bind_text(st, 3, g->members[i]);
        if (run(s, st) < 0)
            return -1;
        if (sqlite3_changes(s->db) == 0)
            continue;
        st = s->st[W_UC_DEL];
        sqlite3_bind_int64(st, 1, op->app);
        bind_text(st, 2, g->members[i]);
        bind_text(st, 3, conv_key);
        if (run(s, st) < 0)
            return -1;
        g->changed++;
    }
    op->result = TERN_OK;
    return 0;
}

static int op_dismiss_group(store *s, store_op *op)
{
    __typeof__(op->u.group) *g = &op->u.group;
    char conv_key[80];
    if (!g->group_id || store_conv_key_group(g->group_id, conv_key, sizeof conv_key) < 0) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    int dismissed;
    int r = group_live(s, op->app, g->group_id, &dismissed);
    if (r <= 0) {
        op->result = TERN_ERR_GROUP_NOT_FOUND;
        return r;
    }
    if (flush_reads(s) < 0)
        return -1;
    /* user_convs rows first: the statement finds them through the member list. */
    sqlite3_stmt *st = s->st[W_UC_DEL_GROUP];
    sqlite3_bind_int64(st, 1, op->app);
    bind_text(st, 2, conv_key);
    bind_text(st, 3, g->group_id);
    if (run(s, st) < 0)
        return -1;
    static const int upd[] = {W_GM_DEL_GROUP, W_GROUP_DISMISS};
    for (size_t i = 0; i < sizeof upd / sizeof upd[0]; i++) {
        st = s->st[upd[i]];
        sqlite3_bind_int64(st, 1, op->app);
        bind_text(st, 2, g->group_id);
        if (run(s, st) < 0)
            return -1;
    }
    op->result = TERN_OK;
    return 0;
}

static int apply(store *s, store_op *op)
{
    switch (op->kind) {
    case STORE_OP_MESSAGE: return op_message(s, op);
    case STORE_OP_MARK_READ: return op_mark_read(s, op);
    case STORE_OP_CREATE_APP: return op_create_app(s, op);
    case STORE_OP_CREATE_USER: return op_create_user(s, op);
    case STORE_OP_DELETE_USER: return op_delete_user(s, op);
    case STORE_OP_CREATE_GROUP: return op_create_group(s, op);
    case STORE_OP_DISMISS_GROUP: return op_dismiss_group(s, op);
    case STORE_OP_ADD_MEMBERS: return op_add_members(s, op);
    case STORE_OP_REMOVE_MEMBERS: return op_remove_members(s, op);
    }
    op->result = TERN_ERR_INTERNAL;
    return 0;
}

/* ---- writer: batches --------------------------------------------------------------- */

static void run_batch(store *s, store_op **ops, size_t n)
{
    uint64_t t0 = tern_mono_ns();
    if (s->convs.n > CONV_CACHE_MAX) /* every entry matches the database between batches */
        ht_clear(&s->convs);
    s->batch_max_id = 0;
    s->batch_deleted_user = 0;
    int failed = run(s, s->st[W_BEGIN]) < 0;
    for (size_t i = 0; i < n && !failed; i++)
        failed = apply(s, ops[i]) < 0;
    if (!failed)
        failed = flush_reads(s) < 0;
    uint64_t t1 = tern_mono_ns();
    if (!failed)
        failed = run(s, s->st[W_COMMIT]) < 0;
    uint64_t t2 = tern_mono_ns();
    if (t2 - t0 > 100000000) /* a commit this slow shows as latency: say why */
        LOG_WARN("store: slow batch of %zu ops: apply %.1f ms, commit %.1f ms", n, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    if (failed) {
        if (!sqlite3_get_autocommit(s->db) && run(s, s->st[W_ROLLBACK]) < 0)
            LOG_ERROR("store: ROLLBACK failed");
        /* The caches may hold seqs that never committed: start over from the database. */
        ht_clear(&s->convs);
        ht_clear(&s->reads);
        s->uc_gen++;
        for (size_t i = 0; i < n; i++) {
            store_op *op = ops[i];
            op->result = TERN_ERR_STORE;
            if (op->kind == STORE_OP_MESSAGE) {
                tern_free(op->u.msg.json);
                op->u.msg.json = NULL;
                op->u.msg.json_len = 0;
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

static void *writer_main(void *arg)
{
    store *s = arg;
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

/* ---- readers ----------------------------------------------------------------------- */

/* A conversation's last message is its last row in messages_conv (a covering lookup
 * that yields the msg_id), then that row by its rowid. */
#define CONV_SELECT                                                                                                    \
    "SELECT uc.conv_key,uc.peer,uc.read_seq,IFNULL(m.seq,0),IFNULL(m.msg_id,0),IFNULL(m.time_ms,0),m.body"             \
    " FROM user_convs uc LEFT JOIN messages m ON m.msg_id=(SELECT l.msg_id FROM messages l"                            \
    " WHERE l.app=uc.app AND l.conv_key=uc.conv_key ORDER BY l.seq DESC LIMIT 1)"

static const char *const rsql[R_COUNT] = {
    [R_APP_GET] = "SELECT id,org,name,client_id,client_secret,created_ms FROM apps WHERE org=? AND name=?",
    [R_APP_LIST] = "SELECT id,org,name,client_id,client_secret,created_ms FROM apps ORDER BY id",
    [R_USER_EXISTS] = "SELECT 1 FROM users WHERE app=? AND user=?",
    [R_USER_LIST] = "SELECT user,nickname,created_ms FROM users WHERE app=? AND user>? ORDER BY user LIMIT ?",
    [R_USER_LIST_FROM] = "SELECT user,nickname,created_ms FROM users WHERE app=? AND user>=? ORDER BY user LIMIT ?",
    [R_GROUP_GET] = "SELECT group_id,IFNULL(name,''),IFNULL(owner,''),created_ms,"
                    "(SELECT COUNT(*) FROM group_members m WHERE m.app=g.app AND m.group_id=g.group_id)"
                    " FROM groups g WHERE app=? AND group_id=? AND dismissed=0",
    [R_GROUP_EXISTS] = "SELECT 1 FROM groups WHERE app=? AND group_id=? AND dismissed=0",
    [R_GROUP_MEMBERS] = "SELECT user FROM group_members WHERE app=? AND group_id=? ORDER BY user",
    [R_USER_GROUPS] = "SELECT group_id FROM group_members WHERE app=? AND user=? ORDER BY group_id",
    [R_HISTORY] = "SELECT body FROM messages WHERE app=? AND conv_key=? AND seq<? ORDER BY seq DESC LIMIT ?",
    [R_AFTER] = "SELECT seq,body FROM messages WHERE app=? AND conv_key=? AND seq>? ORDER BY seq LIMIT ?",
    /* "+msg_id" keeps the planner on the primary key: walk back from the newest seq. */
    [R_SEQ_AT_ID] = "SELECT seq FROM messages WHERE app=? AND conv_key=? AND +msg_id<=?"
                    " ORDER BY seq DESC LIMIT 1",
    [R_CONVS] = CONV_SELECT " WHERE uc.app=? AND uc.user=? ORDER BY 5 DESC, uc.conv_key LIMIT ?",
    [R_CONV_GET] = CONV_SELECT " WHERE uc.app=? AND uc.user=? AND uc.conv_key=?",
};

store_reader *store_reader_open(store *s)
{
    store_reader *r = tern_calloc(1, sizeof *r);
    r->s = s;
    if (sqlite3_open_v2(s->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, store_vfs_name()) != SQLITE_OK) {
        LOG_ERROR("store: opening a reader on %s: %s", s->path, r->db ? sqlite3_errmsg(r->db) : "out of memory");
        sqlite3_close(r->db);
        tern_free(r);
        return NULL;
    }
    sqlite3_extended_result_codes(r->db, 1);
    sqlite3_busy_timeout(r->db, 5000);
    return r;
}

void store_reader_close(store_reader *r)
{
    if (!r)
        return;
    for (int i = 0; i < R_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    sqlite3_close(r->db);
    hmap_free(&r->users_ok);
    tern_free(r);
}

/* The reader's cached statement, prepared on first use; NULL on failure (logged). */
static sqlite3_stmt *rst(store_reader *r, int which)
{
    if (!r->st[which] &&
        sqlite3_prepare_v3(r->db, rsql[which], -1, SQLITE_PREPARE_PERSISTENT, &r->st[which], NULL) != SQLITE_OK) {
        LOG_ERROR("store: %s (%s)", sqlite3_errmsg(r->db), rsql[which]);
        return NULL;
    }
    return r->st[which];
}

static int rfail(store_reader *r, sqlite3_stmt *st, int rc)
{
    LOG_ERROR("store: %s: %s (%s)", sqlite3_errstr(rc), sqlite3_errmsg(r->db), sqlite3_sql(st));
    sqlite3_reset(st);
    return TERN_ERR_STORE;
}

static void copy_col(char *dst, size_t dstsz, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    size_t n = v ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (n >= dstsz)
        n = dstsz - 1;
    if (n)
        memcpy(dst, v, n);
    dst[n] = 0;
}

static void read_app(sqlite3_stmt *st, store_app *a)
{
    a->id = sqlite3_column_int64(st, 0);
    copy_col(a->org, sizeof a->org, st, 1);
    copy_col(a->name, sizeof a->name, st, 2);
    copy_col(a->client_id, sizeof a->client_id, st, 3);
    copy_col(a->client_secret, sizeof a->client_secret, st, 4);
    a->created_ms = sqlite3_column_int64(st, 5);
}

int store_app_get(store_reader *r, const char *org, const char *name, store_app *out)
{
    sqlite3_stmt *st = rst(r, R_APP_GET);
    if (!st)
        return TERN_ERR_STORE;
    bind_text(st, 1, org);
    bind_text(st, 2, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return TERN_ERR_APP_NOT_FOUND;
    }
    if (rc != SQLITE_ROW)
        return rfail(r, st, rc);
    read_app(st, out);
    sqlite3_reset(st);
    return TERN_OK;
}

int store_app_list(store_reader *r, void (*cb)(void *ud, const store_app *a), void *ud)
{
    sqlite3_stmt *st = rst(r, R_APP_LIST);
    if (!st)
        return TERN_ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_app a;
        read_app(st, &a);
        cb(ud, &a);
    }
    if (rc != SQLITE_DONE)
        return rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int store_user_exists(store_reader *r, int64_t app, const char *user)
{
    char key[96];
    size_t ul = strlen(user);
    if (ul > sizeof key - sizeof app)
        ul = sizeof key - sizeof app;
    memcpy(key, &app, sizeof app);
    memcpy(key + sizeof app, user, ul);
    size_t kl = sizeof app + ul;
    uint64_t gen = atomic_load(&r->s->users_gen);
    if (gen != r->users_gen || r->users_ok.used > USERS_CACHE_MAX) {
        hmap_free(&r->users_ok);
        hmap_init(&r->users_ok);
        r->users_gen = gen;
    }
    if (hmap_get(&r->users_ok, key, kl))
        return 1;
    sqlite3_stmt *st = rst(r, R_USER_EXISTS);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, user);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rfail(r, st, rc);
        return -1;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        hmap_put(&r->users_ok, key, kl, (void *)1);
    return rc == SQLITE_ROW;
}

static int user_list(store_reader *r, int which, int64_t app, const char *after, int limit,
                     void (*cb)(void *ud, const char *user, const char *nickname, int64_t created_ms), void *ud);

int store_user_list(store_reader *r, int64_t app, const char *after, int limit,
                    void (*cb)(void *ud, const char *user, const char *nickname, int64_t created_ms), void *ud)
{
    return user_list(r, R_USER_LIST, app, after, limit, cb, ud);
}

int store_user_list_from(store_reader *r, int64_t app, const char *from, int limit,
                         void (*cb)(void *ud, const char *user, const char *nickname, int64_t created_ms), void *ud)
{
    return user_list(r, R_USER_LIST_FROM, app, from, limit, cb, ud);
}

void store_get_stats(store *s, store_stats *out)
{
    out->batches = atomic_load(&s->n_batches);
    out->ops = atomic_load(&s->n_ops);
    out->commit_ns = atomic_load(&s->commit_ns);
    out->max_batch = atomic_load(&s->max_batch_seen);
    pthread_mutex_lock(&s->mu);
    out->queued = s->queued;
    pthread_mutex_unlock(&s->mu);
}

static int user_list(store_reader *r, int which, int64_t app, const char *after, int limit,
                     void (*cb)(void *ud, const char *user, const char *nickname, int64_t created_ms), void *ud)
{
    sqlite3_stmt *st = rst(r, which);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, after ? after : "");
    sqlite3_bind_int(st, 3, limit < 0 ? 0 : limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           sqlite3_column_int64(st, 2));
    if (rc != SQLITE_DONE)
        return rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int store_group_get(store_reader *r, int64_t app, const char *group_id, store_group *out)
{
    sqlite3_stmt *st = rst(r, R_GROUP_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, group_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return TERN_ERR_GROUP_NOT_FOUND;
    }
    if (rc != SQLITE_ROW)
        return rfail(r, st, rc);
    copy_col(out->id, sizeof out->id, st, 0);
    copy_col(out->name, sizeof out->name, st, 1);
    copy_col(out->owner, sizeof out->owner, st, 2);
    out->created_ms = sqlite3_column_int64(st, 3);
    out->member_count = (uint64_t)sqlite3_column_int64(st, 4);
    sqlite3_reset(st);
    return TERN_OK;
}

/* Runs a one-text-column listing bound to (app, key), calling cb per row. */
static int list_strings(store_reader *r, sqlite3_stmt *st, int64_t app, const char *key,
                        void (*cb)(void *ud, const char *), void *ud)
{
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, key);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0));
    if (rc != SQLITE_DONE)
        return rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int store_group_members(store_reader *r, int64_t app, const char *group_id, void (*cb)(void *ud, const char *user),
                        void *ud)
{
    sqlite3_stmt *ex = rst(r, R_GROUP_EXISTS), *st = rst(r, R_GROUP_MEMBERS);
    if (!ex || !st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(ex, 1, app);
    bind_text(ex, 2, group_id);
    int rc = sqlite3_step(ex);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rfail(r, ex, rc);
    sqlite3_reset(ex);
    if (rc == SQLITE_DONE)
        return TERN_ERR_GROUP_NOT_FOUND;
    return list_strings(r, st, app, group_id, cb, ud);
}

int store_user_groups(store_reader *r, int64_t app, const char *user, void (*cb)(void *ud, const char *group_id),
                      void *ud)
{
    sqlite3_stmt *st = rst(r, R_USER_GROUPS);
    if (!st)
        return TERN_ERR_STORE;
    return list_strings(r, st, app, user, cb, ud);
}

/* Appends the JSON array of the statement's message bodies (column col) to out, at most
 * limit of them (the statement asks for limit + 1 to learn whether more remain). If out
 * has a ceiling, stops before passing it and reports more = 1. */
static int message_array(store_reader *r, sqlite3_stmt *st, int col, int limit, tern_buf *out, int *more,
                         uint64_t *last_seq)
{
    size_t start = out->len;
    int n = 0, rc;
    *more = 0;
    if (tern_buf_putc(out, '[') < 0)
        goto full;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *more = 1;
            break;
        }
        const char *body = (const char *)sqlite3_column_text(st, col);
        size_t bl = (size_t)sqlite3_column_bytes(st, col);
        /* Room for the separator and the closing bracket too. */
        if (out->max && out->len + bl + 2 > out->max) {
            *more = 1;
            break;
        }
        if (n)
            tern_buf_putc(out, ',');
        tern_buf_append(out, body ? body : "null", body ? bl : 4);
        if (last_seq)
            *last_seq = (uint64_t)sqlite3_column_int64(st, 0);
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        out->len = start;
        if (out->data)
            out->data[start] = 0;
        return rfail(r, st, rc);
    }
    sqlite3_reset(st);
    if (tern_buf_putc(out, ']') < 0)
        goto full;
    return TERN_OK;
full:
    sqlite3_reset(st);
    out->len = start;
    if (out->data)
        out->data[start] = 0;
    return TERN_ERR_TOO_MANY;
}

int store_history(store_reader *r, int64_t app, const char *conv_key, uint64_t before_seq, int limit, tern_buf *out,
                  int *more)
{
    sqlite3_stmt *st = rst(r, R_HISTORY);
    if (!st)
        return TERN_ERR_STORE;
    if (limit < 0)
        limit = 0;
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, conv_key);
    sqlite3_bind_int64(st, 3, before_seq == 0 || before_seq > INT64_MAX ? INT64_MAX : (int64_t)before_seq);
    sqlite3_bind_int64(st, 4, (int64_t)limit + 1);
    return message_array(r, st, 0, limit, out, more, NULL);
}

int store_messages_after(store_reader *r, int64_t app, const char *conv_key, uint64_t after_seq, int limit,
                         tern_buf *out, int *more, uint64_t *last_seq)
{
    sqlite3_stmt *st = rst(r, R_AFTER);
    *last_seq = after_seq;
    if (!st)
        return TERN_ERR_STORE;
    if (limit < 0)
        limit = 0;
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, conv_key);
    sqlite3_bind_int64(st, 3, after_seq > INT64_MAX ? INT64_MAX : (int64_t)after_seq);
    sqlite3_bind_int64(st, 4, (int64_t)limit + 1);
    int rc = message_array(r, st, 1, limit, out, more, last_seq);
    if (rc != TERN_OK)
        *last_seq = after_seq;
    return rc;
}

int store_seq_at_id(store_reader *r, int64_t app, const char *conv_key, uint64_t id, uint64_t *seq)
{
    sqlite3_stmt *st = rst(r, R_SEQ_AT_ID);
    *seq = 0;
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, conv_key);
    sqlite3_bind_int64(st, 3, id > INT64_MAX ? INT64_MAX : (int64_t)id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        return rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

/* Calls cb for every row of a CONV_SELECT statement; returns the row count or -1. */
static int conv_rows(store_reader *r, sqlite3_stmt *st, void (*cb)(void *ud, const store_conv *c), void *ud)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_conv c;
        c.conv_key = (const char *)sqlite3_column_text(st, 0);
        c.is_group = c.conv_key && c.conv_key[0] == 'g';
        c.peer = (const char *)sqlite3_column_text(st, 1);
        c.read_seq = (uint64_t)sqlite3_column_int64(st, 2);
        c.last_seq = (uint64_t)sqlite3_column_int64(st, 3);
        c.last_msg_id = (uint64_t)sqlite3_column_int64(st, 4);
        c.last_time_ms = sqlite3_column_int64(st, 5);
        c.last_msg_json = (const char *)sqlite3_column_text(st, 6);
        c.last_msg_len = c.last_msg_json ? (size_t)sqlite3_column_bytes(st, 6) : 0;
        cb(ud, &c);
        n++;
    }
    if (rc != SQLITE_DONE) {
        rfail(r, st, rc);
        return -1;
    }
    sqlite3_reset(st);
    return n;
}

int store_conversations(store_reader *r, int64_t app, const char *user, int limit,
                        void (*cb)(void *ud, const store_conv *c), void *ud)
{
    sqlite3_stmt *st = rst(r, R_CONVS);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, user);
    sqlite3_bind_int(st, 3, limit < 0 ? 0 : limit);
    return conv_rows(r, st, cb, ud) < 0 ? TERN_ERR_STORE : TERN_OK;
}

int store_conversation_get(store_reader *r, int64_t app, const char *user, const char *conv_key,
                           void (*cb)(void *ud, const store_conv *c), void *ud)
{
    sqlite3_stmt *st = rst(r, R_CONV_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    bind_text(st, 2, user);
    bind_text(st, 3, conv_key);
    int n = conv_rows(r, st, cb, ud);
    return n < 0 ? TERN_ERR_STORE : n == 0 ? TERN_ERR_NOT_FOUND : TERN_OK;
}

/* ---- conversation keys ------------------------------------------------------------- */

int store_conv_key_c2c(const char *a, const char *b, char *out, size_t outsz)
{
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    size_t la = strlen(a), lb = strlen(b), n = 2 + la + 1 + lb;
    if (n + 1 > outsz)
        return -1;
    memcpy(out, "c:", 2);
    memcpy(out + 2, a, la);
    out[2 + la] = ':';
    memcpy(out + 3 + la, b, lb);
    out[n] = 0;
    return (int)n;
}

int store_conv_key_group(const char *group_id, char *out, size_t outsz)
{
    size_t l = strlen(group_id), n = 2 + l;
    if (n + 1 > outsz)
        return -1;
    memcpy(out, "g:", 2);
    memcpy(out + 2, group_id, l);
    out[n] = 0;
    return (int)n;
}
