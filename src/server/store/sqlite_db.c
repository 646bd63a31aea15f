/*
 * sqlite_db.c — the SQLite engine of store.h (store_engine_sqlite), ternd's default store
 * on one machine: opening and closing the database, its schema and migrations, its
 * pragmas, the writer's statements and the readers' connections. The write path is in
 * sqlite_writer.c, the ops and reads in one file per noun (see sqlite_internal.h).
 *
 * One database file, <data_dir>/tern.db, in WAL mode. One writer thread owns the only
 * connection that writes rows; a checkpointer thread has its own connection; every
 * reader (one per I/O loop) opens its own read-only connection, prepares its statements
 * on first use, and never blocks the writer (WAL readers do not).
 *
 * The schema is versioned with PRAGMA user_version: `migrations` is an ordered list,
 * entry i takes the database from version i to i + 1. Add a migration, never edit one.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/log.h"
#include "server/store/sqlite_internal.h"
#include "server/store/store_vfs.h"
#include "tern/errors.h"

/* ---- schema ------------------------------------------------------------------------ */

/* A random (version 4 layout) uuid, computed by SQLite per row. */
#define SQ_UUID_EXPR                                                                                                   \
    "lower(hex(randomblob(4)))||'-'||lower(hex(randomblob(2)))||'-4'||substr(lower(hex(randomblob(2))),2)"             \
    "||'-'||substr('89ab',1+(abs(random())%4),1)||substr(lower(hex(randomblob(2))),2)||'-'||lower(hex(randomblob(6)))"

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
    /* 5: streamed messages (issue 8). A stream's message row is stored at its first
     * chunk; while the stream is open, `streams` keeps its HEAD (the message fields
     * before the text, core/stream.h) and `stream_chunks` its chunks, appended one row
     * each; when it closes the message row is rewritten once with the whole text and
     * both are deleted, so `streams` holds the open streams only. */
    "CREATE TABLE streams("
    "  msg_id INTEGER PRIMARY KEY, app INTEGER NOT NULL, conv_key TEXT NOT NULL, is_group INTEGER NOT NULL,"
    "  sender TEXT NOT NULL, peer TEXT NOT NULL, format INTEGER NOT NULL, head TEXT NOT NULL);"
    "CREATE TABLE stream_chunks("
    "  msg_id INTEGER NOT NULL, seq INTEGER NOT NULL, time_ms INTEGER NOT NULL, text TEXT NOT NULL,"
    "  PRIMARY KEY(msg_id, seq)) WITHOUT ROWID;",
    /* 6: Easemob-compatible users and groups (issue 8). A user gets a stable random
     * uuid (existing users get theirs here), a modification time and an optional
     * password hash (server/password.h; never the password). A group keeps Easemob's
     * description, public and maxusers (enforced when members join), and the other
     * fields it was created with as one JSON object text (attrs). */
    "ALTER TABLE users ADD COLUMN uuid TEXT;"
    "ALTER TABLE users ADD COLUMN password TEXT;"
    "ALTER TABLE users ADD COLUMN modified_ms INTEGER;"
    "UPDATE users SET uuid=" SQ_UUID_EXPR ", modified_ms=created_ms;"
    "ALTER TABLE groups ADD COLUMN description TEXT;"
    "ALTER TABLE groups ADD COLUMN public INTEGER;"
    "ALTER TABLE groups ADD COLUMN maxusers INTEGER;"
    "ALTER TABLE groups ADD COLUMN attrs TEXT;",
    /* 7: media files (issue 9). One row per uploaded file, looked up by (app, id)
     * only; the file lives in the media store (server/media/media_store.h) under the
     * same (app, id). The sweeper walks media_expiry, deletes the file, then the row. */
    "CREATE TABLE media("
    "  app INTEGER NOT NULL, id TEXT NOT NULL, size INTEGER NOT NULL, content_type TEXT NOT NULL,"
    "  file_name TEXT NOT NULL, sha256 TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(app, id)) WITHOUT ROWID;"
    "CREATE INDEX media_expiry ON media(expires_ms);",
    /* 8: what the media service learns of a file after the bytes (issue 9): an image's
     * size and Tencent imageFormat read from its header, the thumbnails made (bitmask,
     * store.h), and the share-secret of an Easemob chatfiles upload. */
    "ALTER TABLE media ADD COLUMN width INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE media ADD COLUMN height INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE media ADD COLUMN img_format INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE media ADD COLUMN animated INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE media ADD COLUMN thumbs INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE media ADD COLUMN share_secret TEXT NOT NULL DEFAULT '';",
    /* 9: per-app settings (issue 9's media limit, issue 10's many more): one row per
     * setting an app changed from the server's default; the names and their values'
     * syntax are the server's (apps.h), the store keeps text. */
    "CREATE TABLE app_settings("
    "  app INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY(app, key)) WITHOUT ROWID;",
    /* issue 10 (H3): read receipts. A message sent with needReadReceipt gets a row in
     * receipt_msgs (its conversation, seq, sender, the number of members at send time,
     * the readers so far) and, in a group, one in receipt_members (those members as
     * newline-separated sorted text: apart, so counting a reader rewrites a small row);
     * each user who reads past it gets one row in receipt_reads. The mark-read op looks
     * the range it newly passes up in receipt_msgs_conv; conversations without receipt
     * messages never touch these tables (sqlite_receipts.c). */
    "CREATE TABLE receipt_msgs("
    "  msg_id INTEGER PRIMARY KEY, app INTEGER NOT NULL, conv_key TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  sender TEXT NOT NULL, nmembers INTEGER NOT NULL, read_count INTEGER NOT NULL DEFAULT 0,"
    "  targeted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX receipt_msgs_conv ON receipt_msgs(app, conv_key, seq);"
    "CREATE TABLE receipt_members(msg_id INTEGER PRIMARY KEY, members TEXT NOT NULL);"
    "CREATE TABLE receipt_reads("
    "  msg_id INTEGER NOT NULL, user TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(msg_id, user)) WITHOUT ROWID;",
    /* issue 10 (H4): each app's moderation keywords, ASCII-lower-cased by the server
     * (hooks/moderation.c), so a word and its case variants are one row. */
    "CREATE TABLE moderation_keywords("
    "  app INTEGER NOT NULL, word TEXT NOT NULL,"
    "  PRIMARY KEY(app, word)) WITHOUT ROWID;",
    /* issue 10, H2: merger lists and message extensions (sqlite_relay.c). A merger's
     * list of message objects is kept under its content key (the SHA-256 of the list,
     * server/merger.h), once per app whatever the number of messages carrying it, with
     * its nesting depth. An extension key of a message keeps a version that only grows:
     * a deleted key stays as a row with a NULL value (a tombstone), so a writer holding
     * an old version never wins after a delete and a re-create. */
    "CREATE TABLE IF NOT EXISTS merger("
    "  app INTEGER NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, layers INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, PRIMARY KEY(app, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS msg_ext("
    "  app INTEGER NOT NULL, msg_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT, version INTEGER NOT NULL,"
    "  PRIMARY KEY(app, msg_id, key)) WITHOUT ROWID;",
    /* issue 10 (H1): send options and @ messages. messages.flags: STORE_MSG_* (store.h);
     * messages.nc: how many messages of the conversation up to and including this one do
     * not count as unread (NO_UNREAD or PRIVATE), so unread = last_seq - read_seq -
     * (nc(last) - nc(read_seq)) with one row lookup, and only when nc(last) > 0. Both
     * default to 0, which is exact for every existing row (nothing was excluded), so
     * the migration rewrites no row. msg_receivers: the users of a private message
     * (receiverList). user_convs.at_seq / at_all_seq: the newest @ message naming the
     * user / @ALL (at-info while above read_seq). */
    "ALTER TABLE messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN nc INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE user_convs ADD COLUMN at_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE user_convs ADD COLUMN at_all_seq INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE msg_receivers("
    "  msg_id INTEGER NOT NULL, user TEXT NOT NULL, PRIMARY KEY(msg_id, user)) WITHOUT ROWID;",
    /* friends (issue 10, H5): symmetric, one row per direction, so a user's list and
     * the friend check (friendCheck) are each one primary-key range or lookup. */
    "CREATE TABLE friends("
    "  app INTEGER NOT NULL, user TEXT NOT NULL, friend TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(app, user, friend)) WITHOUT ROWID;",
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

static const char *const wsql[W_COUNT] = {
    [W_BEGIN] = "BEGIN",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_MSG_INSERT] = "INSERT INTO messages(app,conv_key,seq,msg_id,sender,client_msg_id,time_ms,body,flags,nc)"
                     " VALUES(?,?,?,?,?,?,?,?,?,?)",
    [W_MSG_NC_AT] = "SELECT nc FROM messages WHERE app=? AND conv_key=? AND seq=?",
    [W_RCV_INSERT] = "INSERT OR IGNORE INTO msg_receivers(msg_id,user) VALUES(?,?)",
    [W_UC_AT_SET] = "UPDATE user_convs SET at_seq=?4 WHERE app=?1 AND user=?2 AND conv_key=?3",
    [W_UC_AT_ALL] = "UPDATE user_convs SET at_all_seq=?3 WHERE app=?1 AND conv_key=?2 AND user IN"
                    " (SELECT user FROM group_members WHERE app=?1 AND group_id=?4)",
    [W_MSG_BY_CLIENT] = "SELECT msg_id,seq,time_ms,body FROM messages"
                        " WHERE app=? AND sender=? AND client_msg_id=?",
    [W_CONV_GET] = "SELECT seq,msg_id,time_ms,nc FROM messages WHERE app=? AND conv_key=? ORDER BY seq DESC LIMIT 1",
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
    [W_USER_INSERT] = "INSERT OR IGNORE INTO users(app,user,nickname,created_ms,modified_ms,password,uuid)"
                      " VALUES(?1,?2,?3,?4,?4,?5," SQ_UUID_EXPR ")",
    [W_USER_EXISTS] = "SELECT 1 FROM users WHERE app=? AND user=?",
    [W_USER_DEL] = "DELETE FROM users WHERE app=? AND user=?",
    [W_GROUP_GET] = "SELECT dismissed FROM groups WHERE app=? AND group_id=?",
    [W_GROUP_UPSERT] =
        "INSERT INTO groups(app,group_id,name,owner,created_ms,dismissed,description,public,maxusers,attrs)"
        " VALUES(?,?,?,?,?,0,?,?,?,?) ON CONFLICT(app,group_id) DO UPDATE SET"
        " name=excluded.name,owner=excluded.owner,created_ms=excluded.created_ms,"
        "dismissed=0,description=excluded.description,public=excluded.public,"
        "maxusers=excluded.maxusers,attrs=excluded.attrs",
    [W_GROUP_ROOM] = "SELECT IFNULL(g.maxusers,0),(SELECT COUNT(*) FROM group_members m WHERE m.app=g.app"
                     " AND m.group_id=g.group_id) FROM groups g WHERE app=? AND group_id=?",
    [W_GROUP_DISMISS] = "UPDATE groups SET dismissed=1 WHERE app=? AND group_id=?",
    [W_GM_INSERT] = "INSERT OR IGNORE INTO group_members(app,group_id,user,joined_ms) VALUES(?,?,?,?)",
    [W_GM_EXISTS] = "SELECT 1 FROM group_members WHERE app=? AND group_id=? AND user=?",
    [W_GM_DEL] = "DELETE FROM group_members WHERE app=? AND group_id=? AND user=?",
    [W_GM_DEL_USER] = "DELETE FROM group_members WHERE app=? AND user=?",
    [W_GM_DEL_GROUP] = "DELETE FROM group_members WHERE app=? AND group_id=?",
    [W_STREAM_INSERT] = "INSERT INTO streams(msg_id,app,conv_key,is_group,sender,peer,format,head)"
                        " VALUES(?,?,?,?,?,?,?,?)",
    [W_CHUNK_INSERT] = "INSERT INTO stream_chunks(msg_id,seq,time_ms,text) VALUES(?,?,?,?)",
    [W_STREAM_GET] = "SELECT s.head,s.format,m.seq,m.time_ms FROM streams s JOIN messages m ON m.msg_id=s.msg_id"
                     " WHERE s.msg_id=?",
    [W_CHUNKS_GET] = "SELECT seq,text FROM stream_chunks WHERE msg_id=? ORDER BY seq",
    [W_STREAM_IS_OPEN] = "SELECT 1 FROM streams WHERE msg_id=?",
    [W_MSG_SET_BODY] = "UPDATE messages SET body=? WHERE msg_id=?",
    [W_CHUNKS_DEL] = "DELETE FROM stream_chunks WHERE msg_id=?",
    [W_STREAM_DEL] = "DELETE FROM streams WHERE msg_id=?",
    [W_MEDIA_INSERT] = "INSERT OR IGNORE INTO media(app,id,size,content_type,file_name,sha256,created_ms,expires_ms,"
                       "width,height,img_format,animated,thumbs,share_secret)"
                       " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [W_MEDIA_DEL] = "DELETE FROM media WHERE app=? AND id=?",
    [W_MEDIA_THUMBS] = "UPDATE media SET thumbs=thumbs|? WHERE app=? AND id=?",
    [W_SETTING_PUT] = "INSERT INTO app_settings(app,key,value) VALUES(?,?,?)"
                      " ON CONFLICT(app,key) DO UPDATE SET value=excluded.value",
    [W_SETTING_DEL] = "DELETE FROM app_settings WHERE app=? AND key=?",
    [W_RCPT_INSERT] = "INSERT OR IGNORE INTO receipt_msgs(msg_id,app,conv_key,seq,sender,nmembers,targeted)"
                      " VALUES(?,?,?,?,?,?,?)",
    [W_RCPT_IS_MEMBER] = "SELECT 1 FROM receipt_members WHERE msg_id=?1"
                         " AND instr(char(10)||members||char(10),char(10)||?2||char(10))>0",
    [W_RCPT_MEMBERS] = "INSERT OR IGNORE INTO receipt_members(msg_id,members) VALUES(?,?)",
    [W_RCPT_MAX] = "SELECT IFNULL(MAX(seq),0) FROM receipt_msgs WHERE app=? AND conv_key=?",
    [W_RCPT_RANGE] = "SELECT msg_id,sender,nmembers,read_count,targeted FROM receipt_msgs"
                     " WHERE app=? AND conv_key=? AND seq>? AND seq<=? AND sender<>? ORDER BY seq",
    [W_RCPT_READ] = "INSERT OR IGNORE INTO receipt_reads(msg_id,user,time_ms) VALUES(?,?,?)",
    [W_RCPT_COUNT] = "UPDATE receipt_msgs SET read_count=read_count+? WHERE msg_id=?",
    [W_KW_COUNT] = "SELECT COUNT(*) FROM moderation_keywords WHERE app=?",
    [W_KW_INSERT] = "INSERT OR IGNORE INTO moderation_keywords(app,word) VALUES(?,?)",
    [W_KW_DEL] = "DELETE FROM moderation_keywords WHERE app=? AND word=?",
    [W_KW_CLEAR] = "DELETE FROM moderation_keywords WHERE app=?",
    [W_MERGER_PUT] = "INSERT OR IGNORE INTO merger(app,key,body,layers,created_ms) VALUES(?,?,?,?,?)",
    [W_EXT_GET] = "SELECT version,value FROM msg_ext WHERE app=? AND msg_id=? AND key=?",
    [W_EXT_PUT] = "INSERT OR REPLACE INTO msg_ext(app,msg_id,key,value,version) VALUES(?,?,?,?,?)",
    [W_EXT_COUNT] = "SELECT COUNT(*) FROM msg_ext WHERE app=? AND msg_id=? AND value IS NOT NULL",
    [W_FRIEND_INSERT] = "INSERT OR IGNORE INTO friends(app,user,friend,created_ms) VALUES(?,?,?,?)",
    [W_FRIEND_DEL] = "DELETE FROM friends WHERE app=? AND user=? AND friend=?",
    [W_FRIEND_COUNT] = "SELECT COUNT(*) FROM friends WHERE app=? AND user=?",
    /* the other direction of each of ?2's rows, each by primary key */
    [W_FRIEND_DEL_MIRRORS] = "DELETE FROM friends WHERE app=?1 AND friend=?2 AND user IN"
                             " (SELECT friend FROM friends WHERE app=?1 AND user=?2)",
    [W_FRIEND_DEL_USER] = "DELETE FROM friends WHERE app=? AND user=?",
};

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

static void sq_close(store *st);

static store *sq_open(const store_options *opt, char *err, size_t errsz)
{
    /* Before SQLite's first use in the process: its allocator is ours (sqlite_mem.c). */
    sq_mem_install();
    if (!opt || !opt->data_dir || !*opt->data_dir) {
        set_err(err, errsz, "%s%s", "store: no data directory", "");
        return NULL;
    }
    if (mkdirs(opt->data_dir) < 0) {
        set_err(err, errsz, "store: cannot create data directory %s: %s", opt->data_dir, strerror(errno));
        return NULL;
    }
    sq_store *s = tern_calloc(1, sizeof *s);
    s->base.engine = &store_engine_sqlite;
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
    hmap_init(&s->rcpt_pend);
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
    if (pthread_create(&s->ckpt_thread, NULL, sq_ckpt_main, s) != 0) {
        set_err(err, errsz, "%s%s", "store: cannot start the checkpoint thread", "");
        goto fail;
    }
    s->ckpt_started = 1;
    sqlite3_wal_hook(s->db, sq_wal_hook, s);
    if (pthread_create(&s->thread, NULL, sq_writer_main, s) != 0) {
        set_err(err, errsz, "%s%s", "store: cannot start the writer thread", "");
        goto fail;
    }
    s->thread_started = 1;
    return &s->base;
fail:
    sq_close(&s->base);
    return NULL;
}

static void sq_close(store *st)
{
    sq_store *s = (sq_store *)st;
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
    sq_ht_free(&s->convs);
    sq_ht_free(&s->reads);
    tern_buf_free(&s->kb);
    hmap_free(&s->rcpt_pend);
    tern_free(s->batch);
    tern_free(s->path);
    pthread_mutex_destroy(&s->idgen.mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->ckpt_cv);
    pthread_mutex_destroy(&s->ckpt_mu);
    tern_free(s);
}

int sq_fail_stmt(sq_store *s, sqlite3_stmt *st, int rc)
{
    LOG_ERROR("store: %s: %s (%s)", sqlite3_errstr(rc), sqlite3_errmsg(s->db), sqlite3_sql(st));
    sqlite3_reset(st);
    return -1;
}

/* ---- readers' connections ---------------------------------------------------------- */

/* Whether the private message l (STORE_MSG_PRIVATE) is visible to user u. */
#define SQ_VISIBLE(l, u)                                                                                               \
    "((" l ".flags&4)=0 OR " l ".sender=" u " OR EXISTS(SELECT 1 FROM msg_receivers v WHERE v.msg_id=" l               \
    ".msg_id AND v.user=" u "))"

/* A conversation's last message t is its last row in messages_conv (a covering lookup
 * that yields the msg_id), then that row by its rowid. The message shown, m, is t when
 * t has no flags (every conversation without issue 10's options: the same row again);
 * otherwise the newest row that is not NO_LAST and is visible to the user. The
 * messages not counted as unread come from nc (see the migration) and cost a lookup
 * only in a conversation that has such messages. */
#define CONV_SELECT                                                                                                    \
    "SELECT uc.conv_key,uc.peer,uc.read_seq,IFNULL(t.seq,0),IFNULL(m.msg_id,0),IFNULL(m.time_ms,0),m.body,"            \
    "st.head,st.format,"                                                                                               \
    "CASE WHEN IFNULL(t.nc,0)=0 THEN 0 ELSE t.nc-IFNULL((SELECT r.nc FROM messages r WHERE r.app=uc.app"               \
    " AND r.conv_key=uc.conv_key AND r.seq=uc.read_seq),0) END,"                                                       \
    "uc.at_seq,uc.at_all_seq,IFNULL(m.seq,0),IFNULL(t.msg_id,0)"                                                       \
    " FROM user_convs uc LEFT JOIN messages t ON t.msg_id=(SELECT l.msg_id FROM messages l"                            \
    " WHERE l.app=uc.app AND l.conv_key=uc.conv_key ORDER BY l.seq DESC LIMIT 1)"                                      \
    " LEFT JOIN messages m ON m.msg_id=CASE WHEN t.flags=0 THEN t.msg_id ELSE (SELECT l.msg_id FROM messages l"        \
    " WHERE l.app=uc.app AND l.conv_key=uc.conv_key AND (l.flags&2)=0 AND " SQ_VISIBLE(                                \
        "l", "uc.user") " ORDER BY l.seq DESC LIMIT 1) END"                                                            \
                        " LEFT JOIN streams st ON st.msg_id=m.msg_id"

/* A user's columns as store_user wants them (sqlite_users.c reads them in this order). */
#define USER_COLS "user,nickname,created_ms,IFNULL(modified_ms,created_ms),IFNULL(uuid,''),password"

/* A media row's columns as sqlite_media.c reads them. */
#define MEDIA_COLS                                                                                                     \
    "app,id,size,content_type,file_name,sha256,created_ms,expires_ms,width,height,img_format,animated,thumbs,"       \
    "share_secret"

static const char *const rsql[R_COUNT] = {
    [R_APP_GET] = "SELECT id,org,name,client_id,client_secret,created_ms FROM apps WHERE org=? AND name=?",
    [R_APP_LIST] = "SELECT id,org,name,client_id,client_secret,created_ms FROM apps ORDER BY id",
    [R_USER_EXISTS] = "SELECT 1 FROM users WHERE app=? AND user=?",
    [R_USER_LIST] = "SELECT " USER_COLS " FROM users WHERE app=? AND user>? ORDER BY user LIMIT ?",
    [R_USER_GET] = "SELECT " USER_COLS " FROM users WHERE app=? AND user=?",
    [R_GROUP_GET] = "SELECT group_id,IFNULL(name,''),IFNULL(owner,''),created_ms,"
                    "(SELECT COUNT(*) FROM group_members m WHERE m.app=g.app AND m.group_id=g.group_id),"
                    "IFNULL(description,''),IFNULL(public,0),IFNULL(maxusers,0),IFNULL(attrs,'')"
                    " FROM groups g WHERE app=? AND group_id=? AND dismissed=0",
    [R_GROUP_EXISTS] = "SELECT 1 FROM groups WHERE app=? AND group_id=? AND dismissed=0",
    [R_GROUP_MEMBERS] = "SELECT user FROM group_members WHERE app=? AND group_id=? ORDER BY user",
    [R_USER_GROUPS] = "SELECT group_id FROM group_members WHERE app=? AND user=? ORDER BY group_id",
    /* History and sync pages: an open stream's row (st.head not NULL) is rebuilt with
     * its text so far (sqlite_streams.c); the join probes the small streams table. */
    [R_HISTORY] = "SELECT m.seq,m.body,st.head,m.msg_id,m.time_ms,st.format FROM messages m"
                  " LEFT JOIN streams st ON st.msg_id=m.msg_id"
                  " WHERE m.app=?1 AND m.conv_key=?2 AND m.seq<?3 AND (?5 IS NULL OR " SQ_VISIBLE(
                      "m", "?5") ")"
                                 " ORDER BY m.seq DESC LIMIT ?4",
    [R_AFTER] = "SELECT m.seq,m.body,st.head,m.msg_id,m.time_ms,st.format FROM messages m"
                " LEFT JOIN streams st ON st.msg_id=m.msg_id"
                " WHERE m.app=?1 AND m.conv_key=?2 AND m.seq>?3 AND (?5 IS NULL OR " SQ_VISIBLE(
                    "m", "?5") ")"
                               " ORDER BY m.seq LIMIT ?4",
    /* "+msg_id" keeps the planner on the primary key: walk back from the newest seq. */
    [R_SEQ_AT_ID] = "SELECT seq FROM messages WHERE app=? AND conv_key=? AND +msg_id<=?"
                    " ORDER BY seq DESC LIMIT 1",
    [R_CONVS] = CONV_SELECT " WHERE uc.app=? AND uc.user=? ORDER BY 5 DESC, uc.conv_key LIMIT ?",
    [R_CONV_GET] = CONV_SELECT " WHERE uc.app=? AND uc.user=? AND uc.conv_key=?",
    [R_STREAM_CHUNKS] = "SELECT seq,text FROM stream_chunks WHERE msg_id=? ORDER BY seq",
    [R_STREAMS_OPEN] = "SELECT s.msg_id,s.app,s.conv_key,s.is_group,s.sender,s.peer,s.format,m.seq,m.time_ms,"
                       "MAX(c.seq),MAX(c.time_ms),SUM(LENGTH(CAST(c.text AS BLOB)))"
                       " FROM streams s JOIN messages m ON m.msg_id=s.msg_id"
                       " JOIN stream_chunks c ON c.msg_id=s.msg_id GROUP BY s.msg_id",
    [R_MSG_GET] = "SELECT m.seq,m.body,st.head,m.msg_id,m.time_ms,st.format FROM messages m"
                  " LEFT JOIN streams st ON st.msg_id=m.msg_id WHERE m.msg_id=? AND m.app=?",
    [R_MSG_RECEIVER_OK] = "SELECT 1 FROM messages m WHERE m.msg_id=?1 AND m.app=?2 AND " SQ_VISIBLE("m", "?3"),
    [R_MEDIA_GET] = "SELECT " MEDIA_COLS " FROM media WHERE app=? AND id=?",
    [R_MEDIA_EXPIRED] = "SELECT " MEDIA_COLS " FROM media WHERE expires_ms<=? ORDER BY expires_ms LIMIT ?",
    [R_APP_SETTINGS] = "SELECT app,key,value FROM app_settings ORDER BY app,key",
    [R_RCPT_GET] = "SELECT r.conv_key,r.seq,r.sender,r.nmembers,r.read_count,m.members FROM receipt_msgs r"
                   " LEFT JOIN receipt_members m ON m.msg_id=r.msg_id WHERE r.msg_id=? AND r.app=?",
    [R_RCPT_READERS] = "SELECT user,time_ms FROM receipt_reads WHERE msg_id=? AND user>? ORDER BY user LIMIT ?",
    [R_RCPT_HAS_READ] = "SELECT 1 FROM receipt_reads WHERE msg_id=? AND user=?",
    [R_KEYWORDS] = "SELECT word FROM moderation_keywords WHERE app=? ORDER BY word",
    [R_MERGER_GET] = "SELECT body,layers FROM merger WHERE app=? AND key=?",
    [R_EXT_LIST] = "SELECT key,value,version FROM msg_ext WHERE app=? AND msg_id=? AND value IS NOT NULL ORDER BY key",
    [R_FRIENDS] = "SELECT friend FROM friends WHERE app=? AND user=? ORDER BY friend",
    [R_IS_FRIEND] = "SELECT 1 FROM friends WHERE app=? AND user=? AND friend=?",
};

static store_reader *sq_reader_open(store *st)
{
    sq_store *s = (sq_store *)st;
    sq_reader *r = tern_calloc(1, sizeof *r);
    r->base.engine = &store_engine_sqlite;
    r->s = s;
    if (sqlite3_open_v2(s->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, store_vfs_name()) != SQLITE_OK) {
        LOG_ERROR("store: opening a reader on %s: %s", s->path, r->db ? sqlite3_errmsg(r->db) : "out of memory");
        sqlite3_close(r->db);
        tern_free(r);
        return NULL;
    }
    sqlite3_extended_result_codes(r->db, 1);
    sqlite3_busy_timeout(r->db, 5000);
    return &r->base;
}

static void sq_reader_close(store_reader *rr)
{
    sq_reader *r = (sq_reader *)rr;
    if (!r)
        return;
    for (int i = 0; i < R_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    sqlite3_close(r->db);
    hmap_free(&r->users_ok);
    tern_free(r);
}

sqlite3_stmt *sq_rst(sq_reader *r, int which)
{
    if (!r->st[which] &&
        sqlite3_prepare_v3(r->db, rsql[which], -1, SQLITE_PREPARE_PERSISTENT, &r->st[which], NULL) != SQLITE_OK) {
        LOG_ERROR("store: %s (%s)", sqlite3_errmsg(r->db), rsql[which]);
        return NULL;
    }
    return r->st[which];
}

int sq_rfail(sq_reader *r, sqlite3_stmt *st, int rc)
{
    LOG_ERROR("store: %s: %s (%s)", sqlite3_errstr(rc), sqlite3_errmsg(r->db), sqlite3_sql(st));
    sqlite3_reset(st);
    return TERN_ERR_STORE;
}

/* ---- the engine table -------------------------------------------------------------- */

const store_engine store_engine_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .last_id = sq_last_id,
    .get_stats = sq_get_stats,
    .submit = sq_submit,
    .reader_open = sq_reader_open,
    .reader_close = sq_reader_close,
    .app_get = sq_app_get,
    .app_list = sq_app_list,
    .app_settings = sq_app_settings,
    .user_exists = sq_user_exists,
    .user_list = sq_user_list,
    .user_get = sq_user_get,
    .group_get = sq_group_get,
    .group_members = sq_group_members,
    .user_groups = sq_user_groups,
    .history = sq_history,
    .messages_after = sq_messages_after,
    .seq_at_id = sq_seq_at_id,
    .conversations = sq_conversations,
    .conversation_get = sq_conversation_get,
    .streams_open = sq_streams_open,
    .message_get = sq_message_get,
    .msg_receiver_ok = sq_msg_receiver_ok,
    .media_get = sq_media_get,
    .media_expired = sq_media_expired,
    .receipt_get = sq_receipt_get,
    .receipt_members = sq_receipt_members,
    .keywords = sq_keywords,
    .merger_get = sq_merger_get,
    .ext_list = sq_ext_list,
    .friends = sq_friends,
    .is_friend = sq_is_friend,
};
