/*
 * sqlite_keywords.c — the apps' moderation keywords in the SQLite engine (issue 10):
 * the writer's replace / add / remove of a list (STORE_OP_KEYWORDS), bounded by the op's
 * max, and the readers' listing of one app's list. Table `moderation_keywords`
 * (sqlite_db.c's migrations); the matcher built from it is hooks/moderation.c's.
 */
#include <sqlite3.h>
#include <string.h>

#include "core/alloc.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* The app's keyword count into *n; 0 or -1. */
static int kw_count(sq_store *s, int64_t app, size_t *n)
{
    sqlite3_stmt *st = s->st[W_KW_COUNT];
    sqlite3_bind_int64(st, 1, app);
    int rc = sq_row(s, st);
    if (rc < 0)
        return -1;
    *n = rc ? (size_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return 0;
}

static int kw_one(sq_store *s, int which, int64_t app, const char *w)
{
    sqlite3_stmt *st = s->st[which];
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, w);
    return sq_run(s, st);
}

int sq_op_keywords(sq_store *s, store_op *op)
{
    __typeof__(op->u.keywords) *k = &op->u.keywords;
    size_t before = 0;
    if (k->mode == STORE_KW_REPLACE) {
        if (k->n > k->max) {
            op->result = TERN_ERR_KEYWORDS_FULL;
            return 0;
        }
        sqlite3_stmt *st = s->st[W_KW_CLEAR];
        sqlite3_bind_int64(st, 1, op->app);
        if (sq_run(s, st) < 0)
            return -1;
    } else if (kw_count(s, op->app, &before) < 0) {
        return -1;
    }
    /* An add that would pass the bound undoes its own inserts: the rows it added are
     * known from sqlite3_changes, so the list is left as it was. */
    uint8_t *added = k->mode == STORE_KW_ADD ? tern_calloc(k->n ? k->n : 1, 1) : NULL;
    size_t n = before;
    for (size_t i = 0; i < k->n; i++) {
        int which = k->mode == STORE_KW_REMOVE ? W_KW_DEL : W_KW_INSERT;
        if (kw_one(s, which, op->app, k->words[i]) < 0) {
            tern_free(added);
            return -1;
        }
        int ch = sqlite3_changes(s->db);
        if (k->mode == STORE_KW_REMOVE)
            n -= (size_t)ch;
        else
            n += (size_t)ch;
        if (added)
            added[i] = (uint8_t)ch;
    }
    if (added && n > k->max) {
        for (size_t i = 0; i < k->n; i++)
            if (added[i] && kw_one(s, W_KW_DEL, op->app, k->words[i]) < 0) {
                tern_free(added);
                return -1;
            }
        tern_free(added);
        k->count = before;
        op->result = TERN_ERR_KEYWORDS_FULL;
        return 0;
    }
    tern_free(added);
    k->count = n;
    op->result = TERN_OK;
    return 0;
}

int sq_keywords(store_reader *rr, int64_t app, void (*cb)(void *ud, const char *w), void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_KEYWORDS);
    return st ? sq_list_strings(r, st, app, NULL, cb, ud) : TERN_ERR_STORE;
}
