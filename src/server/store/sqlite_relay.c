/*
 * sqlite_relay.c — issue 10's merger lists and message extensions in the SQLite engine
 * (tables `merger` and `msg_ext`, the last migration of sqlite_db.c).
 *
 * A merger's list is written by the message op that first carries it (sq_op_message
 * calls sq_merger_put in the same transaction, so a list exists exactly when a committed
 * message names it); INSERT OR IGNORE keeps the first copy of a key (the key is the
 * list's content hash: every copy is the same bytes). Extensions are one row per key
 * with a version that only grows; the op applies each item with compare-and-set inside
 * the writer's transaction, so two writers of one version cannot both win.
 */
#include <sqlite3.h>
#include <string.h>

#include "core/alloc.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

int sq_merger_put(sq_store *s, store_op *op, int64_t t)
{
    __typeof__(op->u.msg) *m = &op->u.msg;
    sqlite3_stmt *st = s->st[W_MERGER_PUT];
    sqlite3_bind_int64(st, 1, op->app);
    sq_bind_text(st, 2, m->merger_key);
    sqlite3_bind_text(st, 3, m->merger_body ? m->merger_body : "[]", m->merger_body ? (int)m->merger_len : 2,
                      SQLITE_STATIC);
    sqlite3_bind_int(st, 4, m->merger_layers);
    sqlite3_bind_int64(st, 5, t);
    return sq_run(s, st);
}

/* One item of an ext op: reads the key's row, checks the version, writes. 0 or -1. */
static int ext_item(sq_store *s, store_op *op, size_t i)
{
    __typeof__(op->u.ext) *x = &op->u.ext;
    sqlite3_stmt *st = s->st[W_EXT_GET];
    sqlite3_bind_int64(st, 1, op->app);
    sqlite3_bind_int64(st, 2, (int64_t)x->msg_id);
    sq_bind_text(st, 3, x->keys[i]);
    int row = sq_row(s, st);
    if (row < 0)
        return -1;
    int64_t cur = 0;
    int live = 0;
    char *cur_val = NULL;
    if (row) {
        cur = sqlite3_column_int64(st, 0);
        live = sqlite3_column_type(st, 1) != SQLITE_NULL;
        if (live)
            cur_val = tern_strndup((const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
        sqlite3_reset(st);
    }
    x->out_versions[i] = cur;
    x->out_values[i] = NULL;
    if (x->versions[i] >= 0 && x->versions[i] != cur) {
        x->codes[i] = TERN_ERR_EXT_CONFLICT;
        x->out_values[i] = cur_val;
        return 0;
    }
    if (x->values[i] && !live) {
        st = s->st[W_EXT_COUNT];
        sqlite3_bind_int64(st, 1, op->app);
        sqlite3_bind_int64(st, 2, (int64_t)x->msg_id);
        if (sq_row(s, st) <= 0) {
            tern_free(cur_val);
            return -1;
        }
        int64_t n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if ((uint64_t)n >= x->max_keys) {
            x->codes[i] = TERN_ERR_EXT_TOO_MANY_KEYS;
            return 0;
        }
    }
    tern_free(cur_val);
    if (!x->values[i] && !row) { /* deleting a key never set: nothing to remember */
        x->codes[i] = TERN_OK;
        return 0;
    }
    st = s->st[W_EXT_PUT];
    sqlite3_bind_int64(st, 1, op->app);
    sqlite3_bind_int64(st, 2, (int64_t)x->msg_id);
    sq_bind_text(st, 3, x->keys[i]);
    sq_bind_text(st, 4, x->values[i]);
    sqlite3_bind_int64(st, 5, cur + 1);
    if (sq_run(s, st) < 0)
        return -1;
    x->codes[i] = TERN_OK;
    x->out_versions[i] = cur + 1;
    return 0;
}

int sq_op_ext(sq_store *s, store_op *op)
{
    __typeof__(op->u.ext) *x = &op->u.ext;
    if (!x->msg_id || !x->keys || !x->values || !x->versions || !x->codes || !x->out_versions || !x->out_values) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    for (size_t i = 0; i < x->n; i++)
        x->out_values[i] = NULL;
    for (size_t i = 0; i < x->n; i++) {
        if (ext_item(s, op, i) < 0) {
            for (size_t j = 0; j <= i; j++) {
                tern_free(x->out_values[j]);
                x->out_values[j] = NULL;
            }
            return -1;
        }
    }
    op->result = TERN_OK;
    return 0;
}

int sq_merger_get(store_reader *rr, int64_t app, const char *key, tern_buf *body, int *layers)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_MERGER_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, key);
    int row = sq_rrow(r, st);
    if (row <= 0)
        return row < 0 ? TERN_ERR_STORE : TERN_ERR_NOT_FOUND;
    int rc = tern_buf_append(body, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    *layers = sqlite3_column_int(st, 1);
    sqlite3_reset(st);
    return rc < 0 ? TERN_ERR_INTERNAL : TERN_OK;
}

int sq_ext_list(store_reader *rr, int64_t app, uint64_t msg_id, store_ext_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_EXT_LIST);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sqlite3_bind_int64(st, 2, (int64_t)msg_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           sqlite3_column_int64(st, 2));
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}
