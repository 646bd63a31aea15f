/*
 * sqlite_messages.c — messages in the SQLite engine: the writer's message op (seq and id
 * assignment, idempotent resend) and the readers' history, sync and seq-at-id reads.
 *
 * The writer assigns a message its id (tern_idgen, increasing in commit order) and the
 * next seq of its conversation (from the conversation cache, sqlite_convs.c), builds the
 * stored object with core's tern_wire_stored_msg and inserts one row. Idempotent resend
 * rides on the unique index (app, client_msg_id, sender): the INSERT of a resent message
 * fails on that index (also for a copy earlier in the same batch, which the transaction
 * already sees), and the existing row is returned instead. Reads concatenate the stored
 * objects into a JSON array without re-encoding them.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <string.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/log.h"
#include "core/wire.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* ---- writer ------------------------------------------------------------------------ */

/* Issue 10's rows of a stored message: a private message's receivers, an @ message's
 * at-info. Only messages with those options get here. 0 or -1. */
static int message_extras(sq_store *s, store_op *op, uint64_t id, uint64_t seq)
{
    __typeof__(op->u.msg) *m = &op->u.msg;
    sqlite3_stmt *st = s->st[W_RCV_INSERT];
    for (size_t i = 0; i < m->nreceivers; i++) {
        sqlite3_bind_int64(st, 1, (int64_t)id);
        sq_bind_text(st, 2, m->receivers[i]);
        if (sq_run(s, st) < 0)
            return -1;
    }
    st = s->st[W_UC_AT_SET];
    for (size_t i = 0; i < m->nat; i++) {
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, m->at_users[i]);
        sq_bind_text(st, 3, m->conv_key);
        sqlite3_bind_int64(st, 4, (int64_t)seq);
        if (sq_run(s, st) < 0)
            return -1;
    }
    if (m->at_all && m->is_group) {
        st = s->st[W_UC_AT_ALL];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, m->conv_key);
        sqlite3_bind_int64(st, 3, (int64_t)seq);
        sq_bind_text(st, 4, m->peer);
        if (sq_run(s, st) < 0)
            return -1;
    }
    return 0;
}

int sq_op_message(sq_store *s, store_op *op)
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
    hent *c = sq_conv_get(s, op->app, m->conv_key);
    if (!c)
        return -1;
    int has_cid = m->client_msg_id && *m->client_msg_id;
    uint64_t id = tern_idgen_next(&s->idgen);
    uint64_t seq = c->last_seq + 1;
    int64_t t = tern_id_time_ms(id);
    size_t jl;
    char *json = tern_wire_stored_msg(id, seq, t, m->fields, m->fields_len, &jl);
    if (!json) {
        LOG_ERROR("store: out of memory encoding a message");
        return -1;
    }

    sqlite3_stmt *st = s->st[W_MSG_INSERT];
    sqlite3_bind_int64(st, 1, op->app);
    sq_bind_text(st, 2, m->conv_key);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    sqlite3_bind_int64(st, 4, (int64_t)id);
    sq_bind_text(st, 5, m->sender);
    sq_bind_text(st, 6, has_cid ? m->client_msg_id : NULL);
    sqlite3_bind_int64(st, 7, t);
    sqlite3_bind_text(st, 8, json, (int)jl, SQLITE_STATIC);
    uint64_t nc = c->last_nc + ((m->flags & (STORE_MSG_NO_UNREAD | STORE_MSG_PRIVATE)) != 0);
    sqlite3_bind_int(st, 9, m->flags);
    sqlite3_bind_int64(st, 10, (int64_t)nc);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE && has_cid) {
        /* A resend: the same sender and client id are stored (maybe earlier in this very
         * batch). Describe that message and write nothing. */
        tern_free(json);
        st = s->st[W_MSG_BY_CLIENT];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, m->sender);
        sq_bind_text(st, 3, m->client_msg_id);
        int r = sq_row(s, st);
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
            sq_bind_text(st, 2, side ? m->peer : m->sender);
            sq_bind_text(st, 3, m->conv_key);
            sq_bind_text(st, 4, side ? m->sender : m->peer);
            if (sq_run(s, st) < 0) {
                tern_free(json);
                return -1;
            }
        }
        c->c2c_gen = s->uc_gen;
    }
    if ((m->nreceivers || m->nat || m->at_all) && message_extras(s, op, id, seq) < 0) {
        tern_free(json);
        return -1;
    }
    c->last_seq = seq;
    c->last_nc = nc;
    c->last_msg_id = id;
    c->last_time_ms = t;
    c->is_group = m->is_group != 0;
    if (m->need_receipt && sq_receipt_on_message(s, op, c, id, seq) < 0) {
        tern_free(json);
        return -1;
    }
    if (m->stream_open && sq_stream_open(s, op, id, t) < 0) {
        tern_free(json);
        return -1;
    }
    if (m->merger_key && sq_merger_put(s, op, t) < 0) {
        tern_free(json);
        return -1;
    }
    /* Sending reads everything up to one's own message. */
    if (!m->no_sender_read) {
        int created;
        hent *r = sq_read_entry(s, op->app, m->sender, m->conv_key, 1, &created);
        if (created || seq > r->read_seq)
            r->read_seq = seq;
        if (!m->is_group)
            r->verified = 1; /* the row exists and its read_seq was <= last_seq < seq */
    }
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

/* ---- readers ----------------------------------------------------------------------- */

static int message_array(sq_reader *r, sqlite3_stmt *st, int limit, tern_buf *out, int *more, uint64_t *last_seq)
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
        size_t at = out->len;
        if (n)
            tern_buf_putc(out, ',');
        int mr = sq_row_message(r, st, 0, out);
        /* Room for the closing bracket too. */
        if (mr == TERN_ERR_TOO_MANY || (out->max && out->len + 1 > out->max)) {
            out->len = at;
            if (out->data)
                out->data[at] = 0;
            *more = 1;
            break;
        }
        if (mr != TERN_OK) {
            rc = SQLITE_ERROR;
            break;
        }
        if (last_seq)
            *last_seq = (uint64_t)sqlite3_column_int64(st, 0);
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        out->len = start;
        if (out->data)
            out->data[start] = 0;
        return sq_rfail(r, st, rc);
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

/* A page of messages of conv_key through statement `which` (bound: app, conv_key, seq
 * bound, limit + 1), appended to out by message_array. */
static int page(sq_reader *r, int which, int64_t app, const char *conv_key, const char *viewer, uint64_t seq, int limit,
                tern_buf *out, int *more, uint64_t *last_seq)
{
    sqlite3_stmt *st = sq_rst(r, which);
    if (!st)
        return TERN_ERR_STORE;
    if (limit < 0)
        limit = 0;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, conv_key);
    sqlite3_bind_int64(st, 3, seq > INT64_MAX ? INT64_MAX : (int64_t)seq);
    sqlite3_bind_int64(st, 4, (int64_t)limit + 1);
    sq_bind_text(st, 5, viewer);
    return message_array(r, st, limit, out, more, last_seq);
}

int sq_history(store_reader *rr, int64_t app, const char *conv_key, const char *viewer, uint64_t before_seq, int limit,
               tern_buf *out, int *more)
{
    return page((sq_reader *)rr, R_HISTORY, app, conv_key, viewer, before_seq == 0 ? UINT64_MAX : before_seq, limit,
                out, more, NULL);
}

int sq_messages_after(store_reader *rr, int64_t app, const char *conv_key, const char *viewer, uint64_t after_seq,
                      int limit, tern_buf *out, int *more, uint64_t *last_seq)
{
    *last_seq = after_seq;
    int rc = page((sq_reader *)rr, R_AFTER, app, conv_key, viewer, after_seq, limit, out, more, last_seq);
    if (rc != TERN_OK)
        *last_seq = after_seq;
    return rc;
}

int sq_msg_receiver_ok(store_reader *rr, int64_t app, uint64_t msg_id, const char *user)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_MSG_RECEIVER_OK);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, msg_id > INT64_MAX ? INT64_MAX : (int64_t)msg_id);
    sqlite3_bind_int64(st, 2, app);
    sq_bind_text(st, 3, user);
    int row = sq_rrow(r, st);
    if (row > 0)
        sqlite3_reset(st);
    return row;
}

int sq_seq_at_id(store_reader *rr, int64_t app, const char *conv_key, uint64_t id, uint64_t *seq)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_SEQ_AT_ID);
    *seq = 0;
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, conv_key);
    sqlite3_bind_int64(st, 3, id > INT64_MAX ? INT64_MAX : (int64_t)id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

/* Calls cb for every row of a CONV_SELECT statement; returns the row count or -1. */
