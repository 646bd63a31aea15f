/*
 * sqlite_streams.c — streamed messages in the SQLite engine (store.h, "Streamed
 * messages"): the rows a first chunk adds, the chunk and end ops of the writer, and the
 * readers' view of an open stream — its message rebuilt from the stream's HEAD and the
 * chunks committed so far.
 *
 * Tables (migration 5, sqlite_db.c): streams(msg_id, app, conv_key, is_group, sender,
 * peer, format, head) holds the open streams only; stream_chunks(msg_id, seq, time_ms,
 * text) their chunks. A chunk is one appended row. Closing a stream (finish, or an end)
 * rewrites its message row once with the whole text and the final stream state, and
 * deletes its rows in both tables, all in the chunk's transaction.
 */
#include <sqlite3.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/stream.h"
#include "core/util.h"
#include "core/wire.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* ---- writer ------------------------------------------------------------------------ */

static int insert_chunk(sq_store *s, uint64_t id, int64_t seq, int64_t t, const char *text, size_t n)
{
    sqlite3_stmt *st = s->st[W_CHUNK_INSERT];
    sqlite3_bind_int64(st, 1, (int64_t)id);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_int64(st, 3, t);
    sqlite3_bind_text(st, 4, text ? text : "", (int)n, SQLITE_STATIC);
    return sq_run(s, st);
}

int sq_stream_open(sq_store *s, store_op *op, uint64_t id, int64_t t)
{
    __typeof__(op->u.msg) *m = &op->u.msg;
    sqlite3_stmt *st = s->st[W_STREAM_INSERT];
    sqlite3_bind_int64(st, 1, (int64_t)id);
    sqlite3_bind_int64(st, 2, op->app);
    sq_bind_text(st, 3, m->conv_key);
    sqlite3_bind_int(st, 4, m->is_group != 0);
    sq_bind_text(st, 5, m->sender);
    sq_bind_text(st, 6, m->peer);
    sqlite3_bind_int(st, 7, m->stream_format);
    sqlite3_bind_text(st, 8, m->stream_head ? m->stream_head : "", (int)m->stream_head_len, SQLITE_STATIC);
    if (sq_run(s, st) < 0)
        return -1;
    return insert_chunk(s, id, m->chunk_seq, t, m->chunk_text, m->chunk_len);
}

/* Rewrites the message of stream id as closed (meta->state FINISHED or ENDED) with the
 * whole text of its chunks, and drops the stream's rows. 0 (c->json set), 1 if the
 * stream is not open, -1 on failure. */
static int close_stream(sq_store *s, uint64_t id, tern_stream_meta *meta, __typeof__(((store_op *)0)->u.chunk) *c)
{
    sqlite3_stmt *st = s->st[W_STREAM_GET];
    sqlite3_bind_int64(st, 1, (int64_t)id);
    int r = sq_row(s, st);
    if (r <= 0)
        return r < 0 ? -1 : 1;
    tern_buf f;
    tern_buf_init(&f, 0);
    tern_buf_append(&f, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    meta->format = sqlite3_column_int(st, 1);
    uint64_t seq = (uint64_t)sqlite3_column_int64(st, 2);
    int64_t t = sqlite3_column_int64(st, 3);
    sqlite3_reset(st);

    int fail = tern_stream_text_open(&f);
    st = s->st[W_CHUNKS_GET];
    sqlite3_bind_int64(st, 1, (int64_t)id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        meta->last_seq = sqlite3_column_int64(st, 0);
        fail |=
            tern_stream_text_append(&f, (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    }
    if (rc != SQLITE_DONE) {
        tern_buf_free(&f);
        return sq_fail_stmt(s, st, rc);
    }
    sqlite3_reset(st);
    fail |= tern_stream_text_close(&f, meta);
    size_t jl = 0;
    char *json = fail ? NULL : tern_wire_stored_msg(id, seq, t, f.data, f.len, &jl);
    tern_buf_free(&f);
    if (!json) {
        LOG_ERROR("store: out of memory closing a stream");
        return -1;
    }
    st = s->st[W_MSG_SET_BODY];
    sqlite3_bind_text(st, 1, json, (int)jl, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)id);
    if (sq_run(s, st) < 0) {
        tern_free(json);
        return -1;
    }
    for (int k = W_CHUNKS_DEL; k <= W_STREAM_DEL; k++) {
        st = s->st[k];
        sqlite3_bind_int64(st, 1, (int64_t)id);
        if (sq_run(s, st) < 0) {
            tern_free(json);
            return -1;
        }
    }
    c->json = json;
    c->json_len = jl;
    return 0;
}

int sq_op_stream_chunk(sq_store *s, store_op *op)
{
    __typeof__(op->u.chunk) *c = &op->u.chunk;
    c->json = NULL;
    c->json_len = 0;
    int64_t now = tern_now_ms();
    tern_stream_meta meta = {0};
    if (op->kind == STORE_OP_STREAM_CHUNK) {
        /* The stream must be open: its streams row says so. */
        sqlite3_stmt *st = s->st[W_STREAM_IS_OPEN];
        sqlite3_bind_int64(st, 1, (int64_t)c->msg_id);
        int r = sq_row(s, st);
        if (r < 0)
            return -1;
        sqlite3_reset(st);
        if (r == 0) {
            op->result = TERN_ERR_STREAM_NOT_FOUND;
            return 0;
        }
        if (insert_chunk(s, c->msg_id, c->seq, now, c->text, c->len) < 0)
            return -1;
        if (!c->finish) {
            op->result = TERN_OK;
            return 0;
        }
        meta.state = TERN_STREAM_ST_FINISHED;
        meta.has_reason = c->has_reason;
        meta.finish_reason = c->finish_reason;
    } else {
        meta.state = TERN_STREAM_ST_ENDED;
        meta.end_code = c->end_code;
    }
    int r = close_stream(s, c->msg_id, &meta, c);
    if (r < 0)
        return -1;
    op->result = r ? TERN_ERR_STREAM_NOT_FOUND : TERN_OK;
    return 0;
}

/* ---- readers ----------------------------------------------------------------------- */

int sq_stream_body(sq_reader *r, const char *head, size_t hn, uint64_t id, uint64_t seq, int64_t t, int format,
                   tern_buf *out)
{
    sqlite3_stmt *st = sq_rst(r, R_STREAM_CHUNKS);
    if (!st)
        return TERN_ERR_STORE;
    tern_buf f;
    tern_buf_init(&f, 0);
    tern_stream_meta meta = {.format = format, .state = TERN_STREAM_ST_OPEN};
    int fail = tern_buf_append(&f, head, hn) | tern_stream_text_open(&f);
    sqlite3_bind_int64(st, 1, (int64_t)id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        meta.last_seq = sqlite3_column_int64(st, 0);
        fail |=
            tern_stream_text_append(&f, (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    }
    if (rc != SQLITE_DONE) {
        tern_buf_free(&f);
        return sq_rfail(r, st, rc);
    }
    sqlite3_reset(st);
    fail |= tern_stream_text_close(&f, &meta);
    size_t jl = 0;
    char *json = fail ? NULL : tern_wire_stored_msg(id, seq, t, f.data, f.len, &jl);
    tern_buf_free(&f);
    if (!json)
        return TERN_ERR_STORE;
    rc = tern_buf_append(out, json, jl) < 0 ? TERN_ERR_TOO_MANY : TERN_OK;
    tern_free(json);
    return rc;
}

int sq_row_message(sq_reader *r, sqlite3_stmt *st, int c0, tern_buf *out)
{
    if (sqlite3_column_type(st, c0 + 2) != SQLITE_NULL)
        return sq_stream_body(r, (const char *)sqlite3_column_text(st, c0 + 2),
                              (size_t)sqlite3_column_bytes(st, c0 + 2), (uint64_t)sqlite3_column_int64(st, c0 + 3),
                              (uint64_t)sqlite3_column_int64(st, c0), sqlite3_column_int64(st, c0 + 4),
                              sqlite3_column_int(st, c0 + 5), out);
    const char *body = (const char *)sqlite3_column_text(st, c0 + 1);
    size_t bl = (size_t)sqlite3_column_bytes(st, c0 + 1);
    return tern_buf_append(out, body ? body : "null", body ? bl : 4) < 0 ? TERN_ERR_TOO_MANY : TERN_OK;
}

int sq_streams_open(store_reader *rr, store_stream_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_STREAMS_OPEN);
    if (!st)
        return TERN_ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_stream x = {
            .msg_id = (uint64_t)sqlite3_column_int64(st, 0),
            .app = sqlite3_column_int64(st, 1),
            .conv_key = (const char *)sqlite3_column_text(st, 2),
            .is_group = sqlite3_column_int(st, 3),
            .sender = (const char *)sqlite3_column_text(st, 4),
            .peer = (const char *)sqlite3_column_text(st, 5),
            .format = sqlite3_column_int(st, 6),
            .msg_seq = (uint64_t)sqlite3_column_int64(st, 7),
            .started_ms = sqlite3_column_int64(st, 8),
            .last_seq = sqlite3_column_int64(st, 9),
            .last_ms = sqlite3_column_int64(st, 10),
            .total_len = (uint64_t)sqlite3_column_int64(st, 11),
        };
        cb(ud, &x);
    }
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_message_get(store_reader *rr, int64_t app, uint64_t msg_id, tern_buf *out)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_MSG_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, (int64_t)msg_id);
    sqlite3_bind_int64(st, 2, app);
    int row = sq_rrow(r, st);
    if (row <= 0)
        return row < 0 ? TERN_ERR_STORE : TERN_ERR_NOT_FOUND;
    int mr = sq_row_message(r, st, 0, out);
    sqlite3_reset(st);
    return mr == TERN_ERR_TOO_MANY ? TERN_ERR_STORE : mr;
}
