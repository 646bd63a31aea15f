/*
 * stream.c — streamed messages in ternd: the table of open streams, the checks of
 * seed 002, the store ops of a stream's chunks, their live events, the per-app rate and
 * the sweeper. See stream.h for the path of a chunk and docs/protocol.md for the event.
 *
 * Locking: one mutex guards the table and every stream in it. A chunk holds it for its
 * checks, the state change and store_submit (a queue push); the writer takes it when an
 * op completes. The store never calls back while its own queue lock is held, so the
 * order table → store queue is the only one.
 */
#include "stream.h"

#include <string.h>

#include "core/alloc.h"
#include "core/hmap.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "delivery.h"
#include "groups.h"
#include "net/frame.h"

/* One open stream (or a closed one whose last op is still in flight). */
typedef struct sent {
    uint64_t msg_id;
    int64_t app;
    uint64_t msg_seq; /* the message's seq in its conversation (0: stores nothing) */
    int is_group, phantom, format, state, end_code;
    int pending; /* store ops in flight */
    int64_t started_ms, last_ms, last_seq;
    uint64_t total;   /* bytes of text */
    group_snap *snap; /* the group's members at the last chunk (for an end's event) */
    char from[65], to[65];
} sent;

typedef struct stream_table {
    pthread_mutex_t mu;
    hmap open; /* msg_id -> sent* */
    pthread_mutex_t rate_mu;
    hmap rates; /* app id -> tern_rate*: every request of an app looks its bucket up */
    uv_timer_t sweep;
    int sweeping;
    atomic_uint_fast64_t chunks, limited, ended; /* /metrics */
} stream_table;

enum { OP_FIRST, OP_CHUNK, OP_END };

/* A chunk's (or an end's) way through the store. */
typedef struct chunk_op {
    store_op op;
    server *s;
    sent *e; /* NULL for a first chunk until it commits */
    int kind;
    int64_t app;
    frame *f[2];      /* OP_CHUNK/OP_END: the events, built before submit */
    group_snap *snap; /* group members now (NULL: C2C or no group) */
    char *fields, *head, *text, *ext, *conv_key;
    size_t fields_len, head_len, text_len, ext_len;
    char from[65], to[65];
    int is_group, format, finish, has_reason;
    int64_t seq, reason;
    stream_done_fn done;
    void *ud;
} chunk_op;

static stream_table *T(server *s)
{
    return s->streams;
}

/* ---- events ------------------------------------------------------------------------- */

typedef struct ev_args {
    uint64_t msg_id, msg_seq;
    int is_group;
    const char *from, *to;
    const char *conv_peer; /* C2C: the other side from the receiver's point of view */
    int64_t seq, prev_seq;
    const char *text;
    size_t text_len;
    int format, state, has_reason, end_code;
    int64_t reason;
    const char *ext;
    size_t ext_len;
    const char *message; /* the first chunk's message object */
    size_t message_len;
} ev_args;

static frame *event_frame(const ev_args *a)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"ev\":\"stream\",\"data\":{\"msgId\":");
    tern_buf_json_u64str(&b, a->msg_id);
    tern_buf_puts(&b, ",\"conversationID\":\""); /* identifiers: nothing to escape */
    if (a->is_group)
        tern_conv_id_append(&b, TERN_CONV_KIND_GROUP, a->to, strlen(a->to));
    else
        tern_conv_id_append(&b, TERN_CONV_KIND_C2C, a->conv_peer, strlen(a->conv_peer));
    tern_buf_printf(&b, "\",\"conversationType\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"msgSeq\":%llu,\"seq\":%lld",
                    a->is_group ? "GROUP" : "C2C", a->from, a->to, (unsigned long long)a->msg_seq, (long long)a->seq);
    tern_buf_printf(&b, ",\"prevSeq\":%lld,\"text\":", (long long)a->prev_seq);
    tern_buf_json_str(&b, a->text ? a->text : "", a->text ? a->text_len : 0);
    tern_buf_printf(&b, ",\"format\":\"%s\"", tern_stream_format_name(a->format));
    if (a->ext) {
        tern_buf_puts(&b, ",\"ext\":");
        tern_buf_append(&b, a->ext, a->ext_len);
    }
    tern_buf_printf(&b, ",\"state\":\"%s\"", tern_stream_state_name(a->state));
    if (a->state == TERN_STREAM_ST_FINISHED && a->has_reason)
        tern_buf_printf(&b, ",\"finishReason\":%lld", (long long)a->reason);
    if (a->state == TERN_STREAM_ST_ENDED)
        tern_buf_printf(&b, ",\"endCode\":%d", a->end_code);
    if (a->message) {
        tern_buf_puts(&b, ",\"message\":");
        tern_buf_append(&b, a->message, a->message_len);
    }
    tern_buf_puts(&b, "}}");
    frame *f = frame_text(b.data, b.len);
    tern_buf_free(&b);
    return f;
}

/* The events of one chunk: f[0] for the group (or the C2C recipient, whose conversation
 * is C2C<from>), f[1] for a C2C sender's sessions (C2C<to>). */
static void build_frames(frame *f[2], ev_args *a)
{
    a->conv_peer = a->from;
    f[0] = event_frame(a);
    f[1] = NULL;
    if (!a->is_group && strcmp(a->from, a->to) != 0) {
        a->conv_peer = a->to;
        f[1] = event_frame(a);
    }
}

static void fan_out(server *s, chunk_op *c)
{
    if (c->is_group) {
        if (c->snap && c->f[0])
            delivery_push_users(s, c->app, (const char *const *)c->snap->members, c->snap->n, 0, c->f[0]);
        return;
    }
    const char *to = c->to, *from = c->from;
    if (c->f[0])
        delivery_push_users(s, c->app, &to, 1, 0, c->f[0]);
    if (c->f[1])
        delivery_push_users(s, c->app, &from, 1, 0, c->f[1]);
}

/* ---- the table ------------------------------------------------------------------------ */

static void chunk_op_free(chunk_op *c)
{
    for (int i = 0; i < 2; i++)
        if (c->f[i])
            frame_unref(c->f[i]);
    group_snap_unref(c->snap);
    tern_free(c->fields);
    tern_free(c->head);
    tern_free(c->text);
    tern_free(c->ext);
    tern_free(c->conv_key);
    if (c->op.kind == STORE_OP_MESSAGE)
        tern_free(c->op.u.msg.json);
    else
        tern_free(c->op.u.chunk.json);
    tern_free(c);
}

/* Drops e from the table once it is closed and nothing of it is in flight. Locked. */
static void maybe_drop(server *s, sent *e)
{
    if (e->state != TERN_STREAM_ST_OPEN && e->pending == 0) {
        hmap_del_u64(&T(s)->open, e->msg_id);
        group_snap_unref(e->snap);
        tern_free(e);
    }
}

static void on_chunk_done(store_op *op);

/* Ends e (locked) with code: state ended, and, for a stored stream, the end op with its
 * event. The end is best effort: if it cannot be queued the stream stays open in the
 * store, and a restart takes it up and the sweeper ends it. */
static void end_stream(server *s, sent *e, int code)
{
    e->state = TERN_STREAM_ST_ENDED;
    e->end_code = code;
    atomic_fetch_add(&T(s)->ended, 1);
    if (e->phantom) {
        maybe_drop(s, e);
        return;
    }
    chunk_op *c = tern_calloc(1, sizeof *c);
    c->s = s;
    c->e = e;
    c->kind = OP_END;
    c->app = e->app;
    c->is_group = e->is_group;
    if (e->snap) {
        atomic_fetch_add(&e->snap->refs, 1);
        c->snap = e->snap;
    }
    memcpy(c->from, e->from, sizeof c->from);
    memcpy(c->to, e->to, sizeof c->to);
    ev_args a = {.msg_id = e->msg_id,
                 .msg_seq = e->msg_seq,
                 .is_group = e->is_group,
                 .from = e->from,
                 .to = e->to,
                 .seq = e->last_seq,
                 .prev_seq = e->last_seq,
                 .format = e->format,
                 .state = TERN_STREAM_ST_ENDED,
                 .end_code = code};
    build_frames(c->f, &a);
    c->op.kind = STORE_OP_STREAM_END;
    c->op.app = e->app;
    c->op.done = on_chunk_done;
    c->op.ud = c;
    c->op.u.chunk.msg_id = e->msg_id;
    c->op.u.chunk.end_code = code;
    e->pending++;
    if (store_submit(s->st, &c->op) != TERN_OK) {
        e->pending--;
        LOG_WARN("stream %llu: its end (%d) could not be queued; it ends after a restart",
                 (unsigned long long)e->msg_id, code);
        chunk_op_free(c);
        maybe_drop(s, e);
    }
}

/* A group's members now, for a chunk's fan-out (NULL: the group is gone). */
static group_snap *members_now(server *s, store_reader *rd, int64_t app, const char *gid)
{
    int err = 0;
    return groups_get(s, rd, app, gid, &err);
}

/* Writer: a chunk or an end committed (or failed). */
static void on_chunk_done(store_op *op)
{
    chunk_op *c = op->ud;
    server *s = c->s;
    int rc = op->result;
    sent *e = c->e;
    if (rc == TERN_OK) {
        fan_out(s, c);
        atomic_fetch_add(&T(s)->chunks, c->kind == OP_CHUNK);
    }
    pthread_mutex_lock(&T(s)->mu);
    e->pending--;
    if (rc != TERN_OK && c->kind == OP_CHUNK && e->state != TERN_STREAM_ST_ENDED) {
        /* Not stored: the text now has a hole, so the stream cannot go on. This also
         * holds for a failed finishing chunk, whose stream is still open in the store:
         * the end closes it there. */
        LOG_WARN("stream %llu: chunk %lld not stored (%d): ending the stream", (unsigned long long)e->msg_id,
                 (long long)c->seq, rc);
        end_stream(s, e, TERN_ERR_STORE);
    }
    uint64_t id = e->msg_id;
    maybe_drop(s, e);
    pthread_mutex_unlock(&T(s)->mu);
    if (c->done)
        c->done(c->ud, rc, id);
    chunk_op_free(c);
}

/* Enters the stream a first chunk c opened as message id (its seq msg_seq; phantom: a
 * stream that stores nothing) into the table, open. */
static void open_entry(server *s, const chunk_op *c, uint64_t id, uint64_t msg_seq, int phantom)
{
    sent *e = tern_calloc(1, sizeof *e);
    e->msg_id = id;
    e->app = c->app;
    e->msg_seq = msg_seq;
    e->is_group = c->is_group;
    e->phantom = phantom;
    e->format = c->format;
    e->state = TERN_STREAM_ST_OPEN;
    e->started_ms = e->last_ms = tern_now_ms();
    e->last_seq = c->seq;
    e->total = c->text_len;
    if (c->snap && !phantom) {
        atomic_fetch_add(&c->snap->refs, 1);
        e->snap = c->snap;
    }
    memcpy(e->from, c->from, sizeof e->from);
    memcpy(e->to, c->to, sizeof e->to);
    pthread_mutex_lock(&T(s)->mu);
    hmap_put_u64(&T(s)->open, id, e);
    pthread_mutex_unlock(&T(s)->mu);
}

/* Writer: a first chunk committed: its message has an id and a seq now. */
static void on_first_done(store_op *op)
{
    chunk_op *c = op->ud;
    server *s = c->s;
    int rc = op->result;
    uint64_t id = op->u.msg.msg_id;
    if (rc == TERN_OK) {
        atomic_fetch_add(&T(s)->chunks, 1);
        if (!c->finish) {
            open_entry(s, c, id, op->u.msg.seq, 0);
        }
        ev_args a = {.msg_id = id,
                     .msg_seq = op->u.msg.seq,
                     .is_group = c->is_group,
                     .from = c->from,
                     .to = c->to,
                     .seq = c->seq,
                     .prev_seq = -1,
                     .text = c->text,
                     .text_len = c->text_len,
                     .format = c->format,
                     .state = c->finish ? TERN_STREAM_ST_FINISHED : TERN_STREAM_ST_OPEN,
                     .has_reason = c->has_reason,
                     .reason = c->reason,
                     .ext = c->ext ? c->ext : "{}",
                     .ext_len = c->ext ? c->ext_len : 2,
                     .message = op->u.msg.json,
                     .message_len = op->u.msg.json_len};
        build_frames(c->f, &a);
        fan_out(s, c);
    }
    if (c->done)
        c->done(c->ud, rc, id);
    chunk_op_free(c);
}

/* ---- the first chunk ------------------------------------------------------------------- */

static int post_first(server *s, store_reader *rd, int64_t app, int is_group, const tern_stream_req *q,
                      stream_done_fn done, void *ud)
{
    const config *cfg = &s->cfg;
    if (q->seq != 0)
        return TERN_ERR_STREAM_SEQ; /* the first chunk is 0 (seed 002) */
    if (q->text.n > (size_t)cfg->stream_max_bytes)
        return TERN_ERR_STREAM_TOO_LONG;
    char *ext = q->ext && q->ext->child ? cJSON_PrintUnformatted(q->ext) : NULL;
    size_t ext_len = ext ? strlen(ext) : 0;
    if (ext_len > TERN_STREAM_MAX_EXT) {
        cJSON_free(ext);
        return TERN_ERR_MSG_TOO_LONG;
    }
    chunk_op *c = tern_calloc(1, sizeof *c);
    c->s = s;
    c->kind = OP_FIRST;
    c->app = app;
    c->is_group = is_group;
    memcpy(c->from, q->from.p, q->from.n);
    memcpy(c->to, q->to.p, q->to.n);
    c->format = q->format ? q->format : TERN_STREAM_FMT_TEXT;
    c->finish = q->finish;
    c->has_reason = q->has_reason;
    c->reason = q->finish_reason;
    c->seq = q->seq;
    c->text = tern_strndup(q->text.p ? q->text.p : "", q->text.n);
    c->text_len = q->text.n;
    if (ext) {
        c->ext = tern_strndup(ext, ext_len);
        c->ext_len = ext_len;
        cJSON_free(ext);
    }
    c->done = done;
    c->ud = ud;

    /* Who it goes to: a group that does not exist, or a user who does not, is no error
     * (seed 002): the stream gets an id and its checks, and stores nothing. */
    int phantom = 0, rc = TERN_OK;
    if (is_group) {
        c->snap = members_now(s, rd, app, c->to);
        if (!c->snap)
            phantom = 1;
        else if (c->snap->n > (size_t)cfg->stream_max_members)
            rc = TERN_ERR_STREAM_GROUP_TOO_LARGE;
    } else {
        int ex = store_user_exists(rd, app, c->to);
        if (ex < 0)
            rc = TERN_ERR_STORE;
        phantom = ex == 0;
    }
    if (rc != TERN_OK) {
        chunk_op_free(c);
        return rc;
    }
    if (phantom) {
        uint64_t id = tern_idgen_next(&s->online_ids);
        if (!c->finish) {
            open_entry(s, c, id, 0, 1);
        }
        chunk_op_free(c);
        done(ud, TERN_OK, id);
        return TERN_OK;
    }

    /* The message: HEAD + the first chunk's text + the stream member. */
    tern_conv_kind kind = is_group ? TERN_CONV_KIND_GROUP : TERN_CONV_KIND_C2C;
    tern_buf f;
    tern_buf_init(&f, 0);
    tern_stream_head(&f, kind, c->from, q->from.n, c->to, q->to.n, c->ext, c->ext_len);
    c->head = tern_strndup(f.data, f.len);
    c->head_len = f.len;
    tern_stream_meta meta = {.format = c->format,
                             .state = c->finish ? TERN_STREAM_ST_FINISHED : TERN_STREAM_ST_OPEN,
                             .last_seq = c->seq,
                             .has_reason = c->has_reason,
                             .finish_reason = c->reason};
    tern_stream_text_open(&f);
    tern_stream_text_append(&f, c->text, c->text_len);
    tern_stream_text_close(&f, &meta);
    c->fields = tern_buf_steal(&f, &c->fields_len);
    char key[160];
    if (is_group)
        tern_conv_key_group(c->to, q->to.n, key, sizeof key);
    else
        tern_conv_key_c2c(c->from, q->from.n, c->to, q->to.n, key, sizeof key);
    c->conv_key = tern_strdup(key);

    store_op *op = &c->op;
    op->kind = STORE_OP_MESSAGE;
    op->app = app;
    op->done = on_first_done;
    op->ud = c;
    op->u.msg.conv_key = c->conv_key;
    op->u.msg.is_group = is_group;
    op->u.msg.sender = c->from;
    op->u.msg.peer = c->to;
    op->u.msg.fields = c->fields;
    op->u.msg.fields_len = c->fields_len;
    /* `from` need not be a user, nor a member: a group stream moves no read position
     * of a non-member. */
    op->u.msg.no_sender_read = is_group && !group_snap_has(c->snap, c->from);
    op->u.msg.stream_open = !c->finish;
    op->u.msg.stream_format = c->format;
    op->u.msg.stream_head = c->head;
    op->u.msg.stream_head_len = c->head_len;
    op->u.msg.chunk_seq = c->seq;
    op->u.msg.chunk_text = c->text;
    op->u.msg.chunk_len = c->text_len;
    rc = atomic_load(&s->shutting_down) ? TERN_ERR_SHUTTING_DOWN : store_submit(s->st, op);
    if (rc != TERN_OK)
        chunk_op_free(c);
    return rc;
}

/* ---- later chunks ---------------------------------------------------------------------- */

/* The code for a chunk of msg_id that is not open here: the stored message says whether
 * it finished (14035) or ended (its end code); anything else is 14031. */
static int closed_code(store_reader *rd, int64_t app, uint64_t msg_id)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    int rc = store_message_get(rd, app, msg_id, &b);
    int code = TERN_ERR_STREAM_NOT_FOUND;
    cJSON *j = NULL;
    if (rc == TERN_ERR_STORE)
        code = TERN_ERR_STORE;
    else if (rc == TERN_OK && tern_json_parse(b.data, b.len, &j) == TERN_OK) {
        cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "stream");
        const char *state = tern_json_str(st, "state");
        long long ec = 0;
        if (state && !strcmp(state, "finished"))
            code = TERN_ERR_STREAM_FINISHED;
        else if (state && !strcmp(state, "ended"))
            code = tern_json_get_int(st, "endCode", 14032, 14034, &ec) == TERN_JSON_OK ? (int)ec
                                                                                       : TERN_ERR_STREAM_FINISHED;
    }
    cJSON_Delete(j);
    tern_buf_free(&b);
    return code;
}

/* The refusal of a chunk for a closed stream e. */
static int refusal(const sent *e)
{
    if (e->state == TERN_STREAM_ST_ENDED && e->end_code >= TERN_ERR_STREAM_TOO_LONG &&
        e->end_code <= TERN_ERR_STREAM_TOTAL_TIME)
        return e->end_code;
    return TERN_ERR_STREAM_FINISHED;
}

static int post_next(server *s, store_reader *rd, int64_t app, int is_group, const tern_stream_req *q,
                     stream_done_fn done, void *ud)
{
    const config *cfg = &s->cfg;
    stream_table *t = T(s);
    /* Members are read before the lock (a store read on a cache miss). */
    group_snap *snap = NULL;
    if (is_group) {
        char gid[65];
        memcpy(gid, q->to.p, q->to.n);
        gid[q->to.n] = 0;
        snap = members_now(s, rd, app, gid);
    }
    int64_t now = tern_now_ms();
    pthread_mutex_lock(&t->mu);
    sent *e = hmap_get_u64(&t->open, q->msg_id);
    int rc = TERN_OK;
    if (!e || e->app != app)
        rc = -1;
    else if (e->state != TERN_STREAM_ST_OPEN)
        rc = refusal(e);
    else if (!tern_str_eq(q->from, e->from))
        rc = TERN_ERR_STREAM_FROM_MISMATCH;
    else if (!tern_str_eq(q->to, e->to) || is_group != e->is_group)
        rc = TERN_ERR_STREAM_TO_MISMATCH;
    else if (now - e->started_ms > cfg->stream_total_ms) {
        rc = TERN_ERR_STREAM_TOTAL_TIME;
        end_stream(s, e, rc);
    } else if (now - e->last_ms > cfg->stream_interval_ms) {
        rc = TERN_ERR_STREAM_INTERVAL;
        end_stream(s, e, rc);
    } else if (q->seq <= e->last_seq)
        rc = TERN_ERR_STREAM_SEQ_TOO_SMALL;
    else if (e->total + q->text.n > (uint64_t)cfg->stream_max_bytes) {
        rc = TERN_ERR_STREAM_TOO_LONG;
        end_stream(s, e, rc);
    }
    if (rc != TERN_OK) {
        pthread_mutex_unlock(&t->mu);
        group_snap_unref(snap);
        return rc < 0 ? closed_code(rd, app, q->msg_id) : rc;
    }
    /* Accepted: the state moves on now, so a racing request with the same seq loses. */
    int64_t prev_seq = e->last_seq, prev_ms = e->last_ms;
    e->last_seq = q->seq;
    e->last_ms = now;
    e->total += q->text.n;
    if (q->finish)
        e->state = TERN_STREAM_ST_FINISHED;
    uint64_t id = e->msg_id;
    if (e->phantom) {
        maybe_drop(s, e);
        pthread_mutex_unlock(&t->mu);
        group_snap_unref(snap);
        done(ud, TERN_OK, id);
        return TERN_OK;
    }
    chunk_op *c = tern_calloc(1, sizeof *c);
    c->s = s;
    c->e = e;
    c->kind = OP_CHUNK;
    c->app = app;
    c->is_group = e->is_group;
    c->snap = snap;
    if (snap && snap != e->snap) { /* the members the stream's end will reach */
        atomic_fetch_add(&snap->refs, 1);
        group_snap_unref(e->snap);
        e->snap = snap;
    }
    c->seq = q->seq;
    memcpy(c->from, e->from, sizeof c->from);
    memcpy(c->to, e->to, sizeof c->to);
    char *ext = q->ext ? cJSON_PrintUnformatted(q->ext) : NULL;
    ev_args a = {.msg_id = id,
                 .msg_seq = e->msg_seq,
                 .is_group = e->is_group,
                 .from = e->from,
                 .to = e->to,
                 .seq = q->seq,
                 .prev_seq = prev_seq,
                 .text = q->text.p,
                 .text_len = q->text.n,
                 .format = e->format,
                 .state = e->state,
                 .has_reason = q->has_reason,
                 .reason = q->finish_reason,
                 .ext = ext,
                 .ext_len = ext ? strlen(ext) : 0};
    build_frames(c->f, &a);
    if (ext)
        cJSON_free(ext);
    c->text = tern_strndup(q->text.p ? q->text.p : "", q->text.n);
    c->text_len = q->text.n;
    c->done = done;
    c->ud = ud;
    store_op *op = &c->op;
    op->kind = STORE_OP_STREAM_CHUNK;
    op->app = app;
    op->done = on_chunk_done;
    op->ud = c;
    op->u.chunk.msg_id = id;
    op->u.chunk.seq = q->seq;
    op->u.chunk.text = c->text;
    op->u.chunk.len = c->text_len;
    op->u.chunk.finish = q->finish;
    op->u.chunk.has_reason = q->has_reason;
    op->u.chunk.finish_reason = q->finish_reason;
    e->pending++;
    rc = atomic_load(&s->shutting_down) ? TERN_ERR_SHUTTING_DOWN : store_submit(s->st, op);
    if (rc != TERN_OK) {
        /* Not queued: as if it never came. */
        e->pending--;
        e->last_seq = prev_seq;
        e->last_ms = prev_ms;
        e->total -= q->text.n;
        e->state = TERN_STREAM_ST_OPEN;
        chunk_op_free(c);
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int stream_post(server *s, store_reader *rd, int64_t app, int is_group, const tern_stream_req *req, stream_done_fn done,
                void *ud)
{
    if (atomic_load(&s->shutting_down))
        return TERN_ERR_SHUTTING_DOWN;
    if (!req->has_msg_id)
        return post_first(s, rd, app, is_group, req, done, ud);
    return post_next(s, rd, app, is_group, req, done, ud);
}

/* ---- rate ------------------------------------------------------------------------------- */

int stream_rate_take(server *s, int64_t app)
{
    int per_sec = s->cfg.stream_rate;
    if (per_sec <= 0)
        return TERN_OK;
    stream_table *t = T(s);
    pthread_mutex_lock(&t->rate_mu);
    tern_rate *r = hmap_get_u64(&t->rates, (uint64_t)app);
    if (!r) {
        r = tern_calloc(1, sizeof *r);
        hmap_put_u64(&t->rates, (uint64_t)app, r);
    }
    int ok = tern_rate_take(r, per_sec, per_sec, tern_mono_ns());
    pthread_mutex_unlock(&t->rate_mu);
    if (!ok)
        atomic_fetch_add(&t->limited, 1);
    return ok ? TERN_OK : TERN_ERR_RATE_LIMITED;
}

/* ---- sweeper, start, stop ------------------------------------------------------------------ */

static void on_sweep(uv_timer_t *tm)
{
    server *s = tm->data;
    stream_table *t = T(s);
    int64_t now = tern_now_ms();
    pthread_mutex_lock(&t->mu);
    /* Collect first: ending may drop an entry, and the map must not change while it is
     * walked. */
    sent **due = NULL;
    int *codes = NULL;
    size_t n = 0, cap = 0;
    hmap_entry *he;
    for (size_t i = 0; hmap_next(&t->open, &i, &he);) {
        sent *e = he->val;
        int code = 0;
        if (e->state != TERN_STREAM_ST_OPEN)
            continue;
        if (now - e->started_ms > s->cfg.stream_total_ms)
            code = TERN_ERR_STREAM_TOTAL_TIME;
        else if (now - e->last_ms > s->cfg.stream_interval_ms)
            code = TERN_ERR_STREAM_INTERVAL;
        if (!code)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            due = tern_realloc(due, cap * sizeof *due);
            codes = tern_realloc(codes, cap * sizeof *codes);
        }
        due[n] = e;
        codes[n++] = code;
    }
    for (size_t i = 0; i < n; i++)
        end_stream(s, due[i], codes[i]);
    pthread_mutex_unlock(&t->mu);
    tern_free(due);
    tern_free(codes);
}

typedef struct take_up_ctx {
    server *s;
    store_reader *rd;
} take_up_ctx;

static void take_up(void *ud, const store_stream *x)
{
    take_up_ctx *tc = ud;
    server *s = tc->s;
    sent *e = tern_calloc(1, sizeof *e);
    e->msg_id = x->msg_id;
    e->app = x->app;
    e->msg_seq = x->msg_seq;
    e->is_group = x->is_group;
    e->format = x->format;
    e->state = TERN_STREAM_ST_OPEN;
    e->started_ms = x->started_ms;
    e->last_ms = x->last_ms;
    e->last_seq = x->last_seq;
    e->total = x->total_len;
    snprintf(e->from, sizeof e->from, "%s", x->sender ? x->sender : "");
    snprintf(e->to, sizeof e->to, "%s", x->peer ? x->peer : "");
    if (e->is_group)
        e->snap = members_now(s, tc->rd, e->app, e->to);
    hmap_put_u64(&T(s)->open, e->msg_id, e);
}

int stream_init(server *s, store_reader *rd)
{
    stream_table *t = tern_calloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->rate_mu, NULL);
    hmap_init(&t->open);
    hmap_init(&t->rates);
    s->streams = t;
    take_up_ctx tc = {s, rd};
    if (store_streams_open(rd, take_up, &tc) != TERN_OK) {
        LOG_ERROR("cannot read the open streams from the store");
        return -1;
    }
    if (t->open.used)
        LOG_INFO("took up %zu open streams", t->open.used);
    return 0;
}

void stream_start_sweeper(server *s)
{
    stream_table *t = T(s);
    int period =
        s->cfg.stream_interval_ms < s->cfg.stream_total_ms ? s->cfg.stream_interval_ms : s->cfg.stream_total_ms;
    period /= 4;
    if (period < 20)
        period = 20;
    if (period > 1000)
        period = 1000;
    uv_timer_init(&s->ctl, &t->sweep);
    t->sweep.data = s;
    uv_timer_start(&t->sweep, on_sweep, (uint64_t)period, (uint64_t)period);
    t->sweeping = 1;
}

void stream_stop_sweeper(server *s)
{
    stream_table *t = T(s);
    if (!t || !t->sweeping)
        return;
    uv_timer_stop(&t->sweep);
    uv_close((uv_handle_t *)&t->sweep, NULL);
    t->sweeping = 0;
}

void stream_free(server *s)
{
    stream_table *t = T(s);
    if (!t)
        return;
    hmap_entry *he;
    for (size_t i = 0; hmap_next(&t->open, &i, &he);) {
        sent *e = he->val;
        group_snap_unref(e->snap);
        tern_free(e);
    }
    hmap_free(&t->open);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->rate_mu);
    for (size_t i = 0; hmap_next(&t->rates, &i, &he);)
        tern_free(he->val);
    hmap_free(&t->rates);
    tern_free(t);
    s->streams = NULL;
}

void stream_get_stats(server *s, stream_stats *out)
{
    stream_table *t = T(s);
    pthread_mutex_lock(&t->mu);
    out->open = t->open.used;
    pthread_mutex_unlock(&t->mu);
    out->chunks = atomic_load(&t->chunks);
    out->rate_limited = atomic_load(&t->limited);
    out->ended = atomic_load(&t->ended);
}
