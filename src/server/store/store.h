/*
 * store.h — ternd's persistence interface. The server calls these functions only; each
 * dispatches through the table of a storage engine (store_engine.h), chosen by name when
 * the store opens (store_options.engine, the `--store` setting). Engines: "sqlite"
 * (sqlite_*.c, one machine, the default); later e.g. "pg" (a cluster), see below.
 *
 * The contract every engine keeps:
 *
 * Threads. All writes go through the store's writer: callers submit store_op requests
 * from any thread (store_submit never blocks on I/O); the writer runs what is queued in
 * batches, one transaction each, commits, and then calls every op's `done` callback on
 * the writer thread, in submission order. An op is durable when its `done` runs with
 * result TERN_OK — only then may the server acknowledge it. Reads run on the caller's
 * thread through a store_reader, one per thread.
 *
 * Ordering. The store, not the caller, assigns every stored message its message id and
 * its seq, at commit, and returns them in the completion (op->u.msg.msg_id, .seq,
 * .time_ms, and the stored object .json). Ids are strictly increasing in commit order
 * across the store (and across restarts); seqs are per conversation, 1, 2, 3, ... with
 * no gap among committed messages (a rolled-back batch hands its seqs out again). Within
 * a conversation seq and id grow together, and `done` callbacks run in seq order.
 * Clients order a conversation by seq, and find gaps by it (sync); never by time or by
 * arrival order of pushes.
 *
 * Conversations. conv_key is the store's canonical conversation name:
 *   C2C  "c:" + min(a,b) + ":" + max(a,b)    (byte order; the same key for both users)
 *   group "g:" + group id
 * Each user has a user_conv row per conversation (peer = the other user for C2C, the
 * group id for groups) with read_seq. Unread = the conversation's last seq (its newest
 * stored message) - read_seq: sending a
 * message moves the sender's read_seq to that message, so everything after read_seq is
 * from others.
 *
 * Streamed messages. A stream's message is stored at its first chunk (taking its seq, so
 * it counts as unread and is the conversation's last message from then on); while it is
 * open the store keeps its chunks apart and every read (history, messages_after, the
 * conversations' last message, store_message_get) returns it with the text so far and
 * "lastSeq" of the chunks committed; when it finishes or ends the message's stored
 * object is rewritten once with the whole text and the chunks are dropped.
 *
 * Message JSON. The store keeps each message as the JSON object pushed to clients. The
 * server pre-encodes the fields it knows as `fields` (a JSON object body without braces,
 * e.g. "conversationType":"C2C","from":"a",...); the writer adds the fields it assigns
 * with core's tern_wire_stored_msg (core/wire.h), giving
 * {"msgId":"<id>","seq":<seq>,"time":<ms>,<fields>}. Reads return these objects verbatim.
 *
 * Out of memory. An allocation the engine's database library cannot make is an error —
 * store_open returns NULL, a read TERN_ERR_STORE, a batch fails with TERN_ERR_STORE for
 * each of its ops — never a crash (store_test_fail_alloc_after tests it).
 *
 * A networked engine (PostgreSQL). SQLite reads are synchronous on the I/O loops: a
 * local file answers in microseconds. A network round trip must not block a loop, so
 * such an engine needs, beyond a second store_engine table:
 *   - reads that complete later: every read call takes a completion (callback + user
 *     data, run on the calling loop) instead of returning its answer; callers in
 *     src/server keep their request state across the wait;
 *   - the loop's store_reader becomes a small connection pool per loop, each
 *     connection's socket (PQsocket, libpq's non-blocking API) watched by the loop;
 *   - seqs assigned by the database inside the writer's transaction, e.g.
 *     UPDATE convs SET last_seq = last_seq + 1 ... RETURNING last_seq, so several
 *     ternd nodes never hand out the same seq; ids stay node-unique (node id in the id);
 *   - the writer's batches pipelined (libpq pipeline mode), since a commit costs a
 *     round trip rather than a WAL append.
 * The write side (store_submit + `done`) is already asynchronous and needs no change.
 */
#ifndef TERN_STORE_H
#define TERN_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct store store;
typedef struct store_reader store_reader;

typedef struct store_options {
    const char *engine;   /* the storage engine's name (store_engines[]); NULL or "": "sqlite" */
    const char *data_dir; /* the database lives in <data_dir>/tern.db */
    unsigned node_id;     /* for message ids */
    size_t max_batch;     /* most ops in one transaction (default 2048) */
    size_t queue_max;     /* store_submit refuses past this many queued ops (default 200000) */
    unsigned linger_us;   /* the writer waits this long after the first queued op before
                             starting a transaction, so more ops share it (0: none) */
    /* Optional hooks, run on the writer thread: once when it starts, and after the done
     * callbacks of every batch (the server flushes the deliveries it gathered). */
    void (*writer_thread_start)(void *ud);
    void (*writer_batch_end)(void *ud);
    void *hook_ud;
    int fsync_full; /* 1: synchronous=FULL, 0: NORMAL (WAL; durable against process
                       crash, not power loss of the last commit) */
} store_options;

/* Opens (creating and migrating if needed) the store of the engine opt->engine and
 * starts its writer. Returns NULL and writes a message into err on failure, also when
 * no engine has that name. */
store *store_open(const store_options *opt, char *err, size_t errsz);
/* Stops accepting ops, commits everything queued (running their callbacks), stops the
 * writer and closes. Readers must be closed first. NULL is a no-op. */
void store_close(store *s);
/* Highest message id committed so far (0 if none). Thread-safe. */
uint64_t store_last_id(store *s);

/* Counters of the writer, for /metrics. Thread-safe. */
typedef struct store_stats {
    uint64_t batches;   /* transactions committed */
    uint64_t ops;       /* operations completed */
    uint64_t commit_ns; /* total time in transactions (BEGIN..COMMIT) */
    uint64_t max_batch; /* largest batch */
    uint64_t queued;    /* operations waiting now */
} store_stats;
void store_get_stats(store *s, store_stats *out);

/* ---- writes ------------------------------------------------------------------------ */

/* A message's flags (issue 10), stored per row. NO_UNREAD and PRIVATE messages do not
 * count as unread for anyone (store_conv.uncounted); NO_LAST and PRIVATE messages are
 * not a conversation's last message (PRIVATE ones still are for their sender and
 * receivers). */
enum { STORE_MSG_NO_UNREAD = 1, STORE_MSG_NO_LAST = 2, STORE_MSG_PRIVATE = 4 };

typedef enum store_op_kind {
    STORE_OP_MESSAGE = 1, /* store one message */
    STORE_OP_MARK_READ,   /* user_conv.read_seq = max(read_seq, min(seq, last_seq)) */
    STORE_OP_CREATE_APP,
    STORE_OP_CREATE_USER,
    STORE_OP_DELETE_USER,  /* removes the user, its group memberships, user_convs and friends */
    STORE_OP_CREATE_GROUP, /* creates the group; owner and initial members join */
    STORE_OP_DISMISS_GROUP,
    STORE_OP_ADD_MEMBERS,
    STORE_OP_REMOVE_MEMBERS,
    STORE_OP_STREAM_CHUNK, /* appends a chunk to an open stream; finish closes it */
    STORE_OP_STREAM_END,   /* closes an open stream as ended (end_code), no chunk */
    STORE_OP_MEDIA_PUT,    /* adds a media row (u.media; TERN_ERR_CONFLICT if the id exists) */
    STORE_OP_MEDIA_DELETE, /* removes the media row (app, u.media.id); absent is not an error */
    STORE_OP_MEDIA_THUMBS, /* ORs u.media.thumbs into the row's thumbs (TERN_ERR_NOT_FOUND if
                              the row is gone) */
    STORE_OP_APP_SETTINGS, /* sets (value) or removes (value NULL) the app's settings
                              u.settings.keys[i] (apps.h: the keys and their values) */
    STORE_OP_KEYWORDS,     /* the app's moderation keywords (u.keywords): replace, add or
                              remove; TERN_ERR_KEYWORDS_FULL (nothing changed) past max */
    STORE_OP_EXT,          /* sets or deletes extension keys of a message, each with
                              compare-and-set on its version (u.ext) */
    STORE_OP_FRIEND_ADD,   /* u.friends: makes user and friend friends of each other (both
                              rows); TERN_ERR_USER_NOT_FOUND if either is not a user,
                              TERN_ERR_FRIENDS_FULL if a list would pass STORE_FRIENDS_MAX;
                              already friends is TERN_OK (changed 0) */
    STORE_OP_FRIEND_DELETE /* u.friends: removes both rows; not friends is TERN_OK (changed 0) */
} store_op_kind;

/* A needReadReceipt message a read op newly passed (u.read.rcpts): its counts after it. */
typedef struct store_rcpt_hit {
    uint64_t msg_id;
    char sender[65];
    uint32_t nmembers;   /* members at send time, the sender included (C2C: 2) */
    uint32_t read_count; /* readers so far, this one included */
    int targeted;        /* a receiverList message: the reader must be listed */
} store_rcpt_hit;
/* u.keywords.mode */
enum { STORE_KW_REPLACE, STORE_KW_ADD, STORE_KW_REMOVE };

/* The most friends a user may have (Easemob's free tier: 1000). */
#define STORE_FRIENDS_MAX 1000

typedef struct store_op store_op;
typedef void (*store_done_cb)(store_op *op);

struct store_op {
    store_op_kind kind;
    store_op *next;     /* queue link, owned by the store while queued */
    int result;         /* set by the writer: TERN_OK or a tern_code */
    store_done_cb done; /* called on the writer thread after commit (or failure) */
    void *ud;           /* caller's */
    int64_t app;        /* app id (all kinds but CREATE_APP) */

    union {
        struct {
            /* in */
            const char *conv_key;
            int is_group;
            const char *sender;
            const char *peer;          /* C2C: the recipient; group: the group id */
            const char *client_msg_id; /* may be NULL or "" (no idempotency) */
            const char *fields;        /* pre-encoded JSON members, see above */
            size_t fields_len;
            int no_sender_read; /* 1: the sender's read position stays (a stream's `from`,
                                   who need not be a user or a member) */
            /* needReadReceipt (issue 10): the message gets a receipt row; a group's
             * members at send time (sorted, the sender among them) are kept with it. */
            int need_receipt;
            const char *const *rcpt_members;
            size_t rcpt_nmembers;
            /* receiverList: rcpt_members are the receivers (any order; the sender is
             * added), and only they count as readers or non-readers. */
            int rcpt_targeted;
            /* Issue 10. flags: STORE_MSG_* (0 for an ordinary message: nothing more is
             * written). receivers[0..nreceivers): a private message's users (flags has
             * STORE_MSG_PRIVATE; the sender sees it too). at_users[0..nat): the members
             * an @ message mentions (their user_convs get at_seq = seq; a user without
             * a row for the conversation, i.e. not a member, is skipped); at_all: every
             * member's at_all_seq = seq (is_group only). */
            int flags;
            const char *const *receivers;
            size_t nreceivers;
            const char *const *at_users;
            size_t nat;
            int at_all;
            /* A streamed message's first chunk (stream_open = 1): the message is stored
             * from `fields` as usual and the stream stays open — its HEAD (the fields
             * before the text, core/stream.h) and this first chunk are kept, and later
             * chunks (STORE_OP_STREAM_CHUNK) append to it. A stream whose first chunk
             * also finishes is an ordinary message (stream_open = 0). */
            int stream_open;
            int stream_format; /* TERN_STREAM_FMT_* */
            const char *stream_head;
            size_t stream_head_len;
            int64_t chunk_seq;
            const char *chunk_text;
            size_t chunk_len;
            /* A merger's list (server/merger.h), stored under merger_key in the same
             * transaction if the app has no list of that key yet (NULL: none). */
            const char *merger_key;
            const char *merger_body;
            size_t merger_len;
            int merger_layers;
            /* out */
            uint64_t msg_id;
            uint64_t seq;
            int64_t time_ms;
            int duplicate; /* 1: same sender + client_msg_id existed; outputs describe it */
            char *json;    /* the stored message object (tern_malloc'd, caller frees) */
            size_t json_len;
        } msg;
        struct {
            const char *user;
            const char *conv_key;
            uint64_t seq;
            /* out */
            uint64_t read_seq;
            uint64_t last_seq;
            /* out, read receipts: the needReadReceipt messages of others that this read
             * newly passed, in seq order, each counted once for this user (a reader's
             * row). rcpts is tern_malloc'd (NULL when none), the caller frees it, also
             * when result is an error. */
            store_rcpt_hit *rcpts;
            size_t nrcpts;
            uint64_t uncounted; /* messages in (read_seq, last_seq] that do not count as
                                   unread: unread = last_seq - read_seq - uncounted */
        } read;
        struct {
            const char *org, *name, *client_id, *client_secret;
            int64_t out_id; /* out */
        } app_create;
        struct {
            const char *user;
            const char *nickname; /* may be NULL */
            const char *password; /* CREATE_USER: the encoded hash (password.h), or NULL */
        } user;                   /* CREATE_USER (TERN_ERR_CONFLICT if it exists; the store gives
                                     the user a random uuid), DELETE_USER (TERN_ERR_USER_NOT_FOUND) */
        struct {
            const char *group_id;
            const char *name;     /* may be NULL */
            const char *owner;    /* may be NULL */
            const char **members; /* ADD/REMOVE_MEMBERS, CREATE_GROUP initial members */
            size_t nmembers;
            /* CREATE_GROUP, Easemob's fields: description (may be NULL), public (0/1),
             * maxusers (0: no limit; ADD_MEMBERS past it fails with TERN_ERR_GROUP_FULL and
             * adds no one), attrs (a JSON object text of the other fields kept, or NULL). */
            const char *description;
            int is_public;
            int64_t maxusers;
            const char *attrs;
            /* out for ADD/REMOVE: how many changed */
            size_t changed;
        } group; /* CREATE_GROUP (TERN_ERR_CONFLICT), DISMISS/ADD/REMOVE (TERN_ERR_GROUP_NOT_FOUND;
                    ADD also TERN_ERR_USER_NOT_FOUND if a member is not a user) */
        struct {
            uint64_t msg_id; /* the stream's message */
            int64_t seq;     /* STREAM_CHUNK: the chunk's seq (the caller keeps them increasing) */
            const char *text;
            size_t len;
            int finish; /* STREAM_CHUNK: the last chunk: the stream closes as finished */
            int has_reason;
            int64_t finish_reason;
            int end_code; /* STREAM_END: why it ended (14032, 14033, 14034, 5002) */
            /* out: when the stream closed, its message object as now stored (the whole
             * text, the stream member's final state); tern_malloc'd, the caller frees */
            char *json;
            size_t json_len;
        } chunk; /* TERN_ERR_STREAM_NOT_FOUND if the stream is not open */
        struct {
            const char *id; /* the media id (server/media/media.h) */
            const char *content_type, *file_name, *sha256;
            uint64_t size;
            int64_t created_ms, expires_ms;
            /* image facts (0 when not an image) and thumbs (STORE_MEDIA_THUMB_*) */
            int width, height, img_format, animated, thumbs;
            const char *share_secret; /* NULL or "": none */
        } media;
        struct {
            uint64_t msg_id;
            size_t n;                  /* items */
            const char *const *keys;   /* n keys */
            const char *const *values; /* n values; NULL: delete that key (a tombstone keeps
                                          its version growing) */
            const int64_t *versions;   /* n expected versions: -1 none; else it must equal the
                                          key's current one (0: never set) */
            uint64_t max_keys;         /* a set may not make the live keys more than this */
            /* out, the caller's arrays of n: TERN_OK, TERN_ERR_EXT_CONFLICT (the version
             * moved on) or TERN_ERR_EXT_TOO_MANY_KEYS; the key's version after the item
             * (the current one if refused); its value if refused (tern_malloc'd, NULL if
             * none: the caller frees). The op's result is TERN_OK. */
            int *codes;
            int64_t *out_versions;
            char **out_values;
        } ext;
        struct {
            const char *user, *other; /* FRIEND_ADD / FRIEND_DELETE: the two users */
            int64_t created_ms;
            int changed; /* out: 1 if the rows were added / removed now */
        } friends;
        struct {
            const char *const *keys;   /* n setting names */
            const char *const *values; /* their values as text; NULL: back to the default */
            size_t n;
        } settings;
        struct {
            int mode;                 /* STORE_KW_* */
            const char *const *words; /* n keywords (as the server folded them) */
            size_t n;
            size_t max;   /* the list's bound: an op that would pass it fails */
            size_t count; /* out: the list's size after the op */
        } keywords;
    } u;
};

/* Queues op. Returns TERN_OK, or TERN_ERR_OVERLOADED (queue full) or
 * TERN_ERR_SHUTTING_DOWN (store closing) — then done is NOT called. The op and every
 * string it points to must stay valid until done runs. An op missing a required input
 * (a NULL or empty id or key) completes with TERN_ERR_BAD_FIELD. The queue counts an op
 * until its done has run. */
int store_submit(store *s, store_op *op);

/* ---- reads (one reader per thread) ------------------------------------------------- */

store_reader *store_reader_open(store *s);
void store_reader_close(store_reader *r);

typedef struct store_app {
    int64_t id;
    char org[65], name[65], client_id[65], client_secret[65];
    int64_t created_ms;
} store_app;

/* Returns TERN_OK, TERN_ERR_APP_NOT_FOUND or TERN_ERR_STORE. */
int store_app_get(store_reader *r, const char *org, const char *name, store_app *out);
/* Calls cb for every app; returns TERN_OK or TERN_ERR_STORE. */
int store_app_list(store_reader *r, void (*cb)(void *ud, const store_app *a), void *ud);
/* Calls cb for every stored app setting (STORE_OP_APP_SETTINGS), ordered by app and key;
 * the strings are valid during the call. TERN_OK or TERN_ERR_STORE. */
int store_app_settings(store_reader *r, void (*cb)(void *ud, int64_t app, const char *key, const char *value),
                       void *ud);

/* 1 if the user exists, 0 if not, -1 on error. */
int store_user_exists(store_reader *r, int64_t app, const char *user);
/* A user's row, as the listing callbacks get it (pointers valid during the call only). */
typedef struct store_user {
    const char *user;
    const char *nickname; /* may be NULL */
    const char *uuid;     /* stable, random, assigned at creation */
    const char *password; /* the encoded hash (password.h), or NULL: no password */
    int64_t created_ms, modified_ms;
} store_user;
typedef void (*store_user_cb)(void *ud, const store_user *u);
/* Users in id order after `after` (NULL = from the start), at most limit, each passed
 * to cb. Returns TERN_OK / TERN_ERR_STORE. */
int store_user_list(store_reader *r, int64_t app, const char *after, int limit, store_user_cb cb, void *ud);

/* The user `user` exactly, passed to cb: TERN_OK, TERN_ERR_USER_NOT_FOUND or TERN_ERR_STORE. */
int store_user_get(store_reader *r, int64_t app, const char *user, store_user_cb cb, void *ud);

/* Group info: TERN_OK, TERN_ERR_GROUP_NOT_FOUND (missing or dismissed), TERN_ERR_STORE. */
typedef struct store_group {
    char id[65];
    char name[257];
    char owner[65];
    int64_t created_ms;
    uint64_t member_count;
    char description[520];
    int is_public;    /* 0/1 */
    int64_t maxusers; /* 0: no limit */
    char attrs[1600]; /* JSON object text of the other Easemob fields ("" if none) */
} store_group;
int store_group_get(store_reader *r, int64_t app, const char *group_id, store_group *out);
/* Members of a group in user id order. TERN_OK / TERN_ERR_GROUP_NOT_FOUND / TERN_ERR_STORE. */
int store_group_members(store_reader *r, int64_t app, const char *group_id, void (*cb)(void *ud, const char *user),
                        void *ud);
/* Groups the user belongs to. */
int store_user_groups(store_reader *r, int64_t app, const char *user, void (*cb)(void *ud, const char *group_id),
                      void *ud);

/* History: up to `limit` messages of conv_key with seq < before_seq (0 = from the
 * newest), newest first, appended to out as a JSON array; *more = 1 if older messages
 * remain. Returns TERN_OK / TERN_ERR_STORE.
 * For both history calls: if out has a ceiling (out->max), the array stops before
 * passing it and *more = 1; TERN_ERR_TOO_MANY (out unchanged) if not even "[]" fits. */
int store_history(store_reader *r, int64_t app, const char *conv_key, uint64_t before_seq, int limit, tern_buf *out,
                  int *more);
/* Messages with seq > after_seq, oldest first, up to limit, appended to out as a JSON
 * array; *more = 1 if further ones remain; *last_seq = seq of the last one returned
 * (after_seq if none). */
int store_messages_after(store_reader *r, int64_t app, const char *conv_key, uint64_t after_seq, int limit,
                         tern_buf *out, int *more, uint64_t *last_seq);
/* The same as seen by user `viewer` (issue 10): a private message (receiverList,
 * STORE_MSG_PRIVATE) is left out unless viewer sent it or is one of its receivers, so
 * the seqs returned may have gaps; `limit`, *more and *last_seq count the messages
 * returned. viewer NULL: every message (the functions above). */
int store_history_for(store_reader *r, int64_t app, const char *conv_key, const char *viewer, uint64_t before_seq,
                      int limit, tern_buf *out, int *more);
int store_messages_after_for(store_reader *r, int64_t app, const char *conv_key, const char *viewer, uint64_t after_seq,
                             int limit, tern_buf *out, int *more, uint64_t *last_seq);
/* Highest seq in conv_key whose message id is <= id (0 if none). Cost is proportional to
 * the number of messages after that point, not to the conversation's length. */
int store_seq_at_id(store_reader *r, int64_t app, const char *conv_key, uint64_t id, uint64_t *seq);

typedef struct store_conv {
    const char *conv_key;
    int is_group;
    const char *peer; /* C2C: the other user; group: the group id */
    uint64_t read_seq;
    uint64_t last_seq;    /* the conversation's last seq (every message counts) */
    uint64_t last_msg_id; /* the id of that last message (sync compares it to a cursor) */
    /* The last message shown (issue 10): the newest one that is neither NO_LAST nor
     * private to others; 0 / NULL if none. */
    uint64_t shown_msg_id;
    int64_t last_time_ms;      /* of the shown message */
    const char *last_msg_json; /* the shown message; NULL if none */
    size_t last_msg_len;
    /* Messages in (read_seq, last_seq] that do not count as unread (NO_UNREAD or
     * PRIVATE): unread = last_seq - read_seq - uncounted. */
    uint64_t uncounted;
    /* at-info (issue 10): the seq of the newest @ message naming the user / @ALL; it is
     * pending while above read_seq. */
    uint64_t at_seq, at_all_seq;
} store_conv;
/* The user's conversations, most recent message first (conversations without messages
 * last), at most limit. Pointers are valid during the callback only. */
int store_conversations(store_reader *r, int64_t app, const char *user, int limit,
                        void (*cb)(void *ud, const store_conv *c), void *ud);
/* One conversation of the user: TERN_OK, TERN_ERR_NOT_FOUND, TERN_ERR_STORE. */
int store_conversation_get(store_reader *r, int64_t app, const char *user, const char *conv_key,
                           void (*cb)(void *ud, const store_conv *c), void *ud);

/* Streams open in the store (their first chunk stored, not yet finished or ended), for
 * the server to take them up again after a restart. Pointers are valid during the
 * callback only. Returns TERN_OK / TERN_ERR_STORE. */
typedef struct store_stream {
    uint64_t msg_id;
    int64_t app;
    const char *conv_key;
    int is_group;
    const char *sender, *peer;
    int format;
    uint64_t msg_seq;   /* the message's seq in its conversation */
    int64_t started_ms; /* the first chunk's time */
    int64_t last_seq;   /* the last chunk's seq */
    int64_t last_ms;    /* when the last chunk was stored */
    uint64_t total_len; /* bytes of text so far */
} store_stream;
int store_streams_open(store_reader *r, void (*cb)(void *ud, const store_stream *st), void *ud);
/* The message object with id msg_id of app, appended to out (an open stream's with its
 * text so far): TERN_OK, TERN_ERR_NOT_FOUND, TERN_ERR_STORE. */
int store_message_get(store_reader *r, int64_t app, uint64_t msg_id, tern_buf *out);
/* Whether the stored message msg_id of app may be shown to `user` as far as receiverList
 * goes (issue 10): 1 if it is not private, or user sent it or is one of its receivers;
 * 0 if it is private to others or does not exist; -1 on a store failure. The conversation check (C2C participant,
 * group member) is the caller's (msgget.c's msg_get_visible). */
int store_msg_receiver_ok(store_reader *r, int64_t app, uint64_t msg_id, const char *user);

/* Calls cb for every moderation keyword of app (STORE_OP_KEYWORDS), in byte order:
 * TERN_OK or TERN_ERR_STORE. */
int store_keywords(store_reader *r, int64_t app, void (*cb)(void *ud, const char *word), void *ud);

/* Friends (issue 10; table friends: one row per direction, both always present). */
/* The user's friends in id order, each passed to cb (valid during the call). TERN_OK or
 * TERN_ERR_STORE. A user who is not a user has none. */
int store_friends(store_reader *r, int64_t app, const char *user, void (*cb)(void *ud, const char *friend_),
                  void *ud);
/* 1 if a and b are friends, 0 if not, -1 on a store failure: one primary-key lookup. */
int store_is_friend(store_reader *r, int64_t app, const char *a, const char *b);

/* A media file's metadata row (issue 9); the file itself lives in the media store
 * (server/media/media_store.h). */
typedef struct store_media {
    int64_t app;
    char id[65];
    char content_type[128];
    char file_name[256];
    char sha256[65];
    uint64_t size;
    int64_t created_ms, expires_ms;
    /* Read from an image's header at upload (core/imgsize.h); 0 when not an image. */
    int width, height; /* as displayed: EXIF orientations 5-8 already swapped */
    int img_format;    /* Tencent imageFormat: JPG 1, GIF 2, PNG 3, BMP 4, other 255; 0 none */
    int animated;      /* 1: an animated GIF/WebP (thumbnails show the first frame) */
    int thumbs;        /* STORE_MEDIA_THUMB_* bits */
    char share_secret[65]; /* Easemob chatfiles' share-secret; "" none */
} store_media;

/* store_media.thumbs bits. */
#define STORE_MEDIA_THUMB_198 1  /* the 198-px thumbnail is in the media store */
#define STORE_MEDIA_THUMB_720 2  /* the 720-px one is */
#define STORE_MEDIA_THUMB_NEVER 4 /* none will ever be made (over the pixel limit, undecodable) */
/* The row (app, id): TERN_OK, TERN_ERR_NOT_FOUND or TERN_ERR_STORE. Expired rows are
 * returned as well (the caller compares expires_ms). */
int store_media_get(store_reader *r, int64_t app, const char *id, store_media *out);
/* Up to limit rows with expires_ms <= now_ms, oldest expiry first, each passed to cb
 * (valid during the call). Returns TERN_OK / TERN_ERR_STORE. */
int store_media_expired(store_reader *r, int64_t now_ms, int limit, void (*cb)(void *ud, const store_media *m),
                        void *ud);

/* Read receipts (issue 10): a message stored with need_receipt. */
typedef struct store_receipt {
    char conv_key[160];
    uint64_t seq;
    char sender[65];
    uint32_t nmembers;   /* members at send time, the sender included (C2C: 2) */
    uint32_t read_count; /* users who read past it */
} store_receipt;
/* The receipt row of msg_id in app: TERN_OK, TERN_ERR_NOT_FOUND (no such message, or
 * it was not sent with needReadReceipt), TERN_ERR_STORE. */
int store_receipt_get(store_reader *r, int64_t app, uint64_t msg_id, store_receipt *out);
typedef void (*store_receipt_member_cb)(void *ud, const char *user, int64_t read_ms);
/* The readers (unread = 0; read_ms when they read) or the members at send time who have
 * not read it (unread = 1; the sender excluded; read_ms 0) of receipt message msg_id,
 * in user order after `after` ("" = from the start), at most limit, each passed to cb
 * (valid during the call). A C2C message has no member list: its unread one is the
 * peer, which the caller knows. TERN_OK / TERN_ERR_NOT_FOUND / TERN_ERR_STORE. */
int store_receipt_members(store_reader *r, int64_t app, uint64_t msg_id, int unread, const char *after, int limit,
                          store_receipt_member_cb cb, void *ud);
/* The merger list stored under key (STORE_OP_MESSAGE's merger_key) appended to body,
 * its depth in *layers: TERN_OK, TERN_ERR_NOT_FOUND, TERN_ERR_STORE. */
int store_merger_get(store_reader *r, int64_t app, const char *key, tern_buf *body, int *layers);
/* The live extension keys of a message (STORE_OP_EXT), in key order, each passed to cb
 * (strings valid during the call). TERN_OK / TERN_ERR_STORE. */
typedef void (*store_ext_cb)(void *ud, const char *key, const char *value, int64_t version);
int store_ext_list(store_reader *r, int64_t app, uint64_t msg_id, store_ext_cb cb, void *ud);

/* Builds the canonical conversation key into out (NUL-terminated strings; the mapping itself
 * is core/conv.h, shared with the server and libtern); returns its length or -1 if too small. */
int store_conv_key_c2c(const char *a, const char *b, char *out, size_t outsz);
int store_conv_key_group(const char *group_id, char *out, size_t outsz);

/* ---- tests ------------------------------------------------------------------------- */

/* Out-of-memory injection into the SQLite engine (sqlite_mem.c): with n > 0, SQLite's
 * nth allocation from now fails, and every one after it, until called with n = 0.
 * Process-wide; for tests only. */
void store_test_fail_alloc_after(unsigned long n);
/* How many allocations the hook has failed since the process started. */
unsigned long store_test_alloc_failures(void);

#endif
