/*
 * sqlite_friends.c — friends in the SQLite engine (issue 10): the writer's add and
 * delete of a friendship and the removal of a deleted user's rows, and the readers'
 * list and friend check. Table `friends` (sqlite_db.c): friendship is symmetric, as in
 * Easemob's REST add ("双向添加"), and kept as one row per direction, so a user's list is
 * one primary-key range and the check of a C2C send (friendCheck) one primary-key
 * lookup.
 */
#include <sqlite3.h>
#include <string.h>

#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* Runs W_FRIEND_INSERT or W_FRIEND_DEL for (a, b). sqlite3_changes, or -1. */
static int one_row(sq_store *s, int which, int64_t app, const char *a, const char *b, int64_t t)
{
    sqlite3_stmt *st = s->st[which];
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, a);
    sq_bind_text(st, 3, b);
    if (which == W_FRIEND_INSERT)
        sqlite3_bind_int64(st, 4, t);
    if (sq_run(s, st) < 0)
        return -1;
    return sqlite3_changes(s->db);
}

/* The number of friends of user: >= 0, or -1. */
static int64_t count_of(sq_store *s, int64_t app, const char *user)
{
    sqlite3_stmt *st = s->st[W_FRIEND_COUNT];
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, user);
    int row = sq_row(s, st);
    if (row <= 0)
        return row < 0 ? -1 : 0;
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

int sq_op_friend(sq_store *s, store_op *op)
{
    __typeof__(op->u.friends) *f = &op->u.friends;
    f->changed = 0;
    if (!f->user || !f->user[0] || !f->other || !f->other[0]) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    if (!strcmp(f->user, f->other)) {
        op->result = TERN_ERR_FRIEND_SELF;
        return 0;
    }
    if (op->kind == STORE_OP_FRIEND_DELETE) {
        int a = one_row(s, W_FRIEND_DEL, op->app, f->user, f->other, 0);
        int b = a < 0 ? -1 : one_row(s, W_FRIEND_DEL, op->app, f->other, f->user, 0);
        if (b < 0)
            return -1;
        f->changed = a + b > 0;
        op->result = TERN_OK;
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        int r = sq_w_user_exists(s, op->app, i ? f->other : f->user);
        if (r <= 0) {
            op->result = TERN_ERR_USER_NOT_FOUND;
            return r;
        }
    }
    int a = one_row(s, W_FRIEND_INSERT, op->app, f->user, f->other, f->created_ms);
    if (a < 0)
        return -1;
    if (a == 0) { /* already friends: both rows exist (they come and go together) */
        op->result = TERN_OK;
        return 0;
    }
    /* The row just added counts for user: over the limit, the batch must not keep it,
     * so it is removed again (a statement, not a rollback: other ops share the batch). */
    int64_t nu = count_of(s, op->app, f->user), nf = count_of(s, op->app, f->other);
    if (nu < 0 || nf < 0)
        return -1;
    if (nu > STORE_FRIENDS_MAX || nf + 1 > STORE_FRIENDS_MAX) {
        if (one_row(s, W_FRIEND_DEL, op->app, f->user, f->other, 0) < 0)
            return -1;
        op->result = TERN_ERR_FRIENDS_FULL;
        return 0;
    }
    if (one_row(s, W_FRIEND_INSERT, op->app, f->other, f->user, f->created_ms) < 0)
        return -1;
    f->changed = 1;
    op->result = TERN_OK;
    return 0;
}

int sq_friends_del_user(sq_store *s, int64_t app, const char *user)
{
    static const int del[] = {W_FRIEND_DEL_MIRRORS, W_FRIEND_DEL_USER}; /* mirrors first: they are found by user's */
    for (size_t i = 0; i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *st = s->st[del[i]];
        sqlite3_bind_int64(st, 1, app);
        sq_bind_text(st, 2, user);
        if (sq_run(s, st) < 0)
            return -1;
    }
    return 0;
}

int sq_friends(store_reader *rr, int64_t app, const char *user, store_name_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_FRIENDS);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, user);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0));
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_is_friend(store_reader *rr, int64_t app, const char *a, const char *b)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_IS_FRIEND);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, a);
    sq_bind_text(st, 3, b);
    int row = sq_rrow(r, st);
    if (row > 0)
        sqlite3_reset(st);
    return row;
}
