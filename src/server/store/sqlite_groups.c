/*
 * sqlite_groups.c — groups in the SQLite engine: the create, dismiss, add-members and
 * remove-members ops of the writer, and the readers' group lookups and listings.
 *
 * A group's conversation is "g:<group id>"; each member has a user_convs row for it,
 * created on joining (read up to the conversation's last message, so a newcomer's
 * unread count starts at zero) and deleted on leaving. A dismissed group keeps its row
 * (dismissed = 1), so re-creating the id continues its conversation's seqs.
 */
#include <sqlite3.h>
#include <string.h>

#include "core/util.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* ---- writer ------------------------------------------------------------------------ */

/* 1 if the group exists and is not dismissed, 0 if not (*dismissed says whether a
 * dismissed row exists), -1 on failure. */
static int group_live(sq_store *s, int64_t app, const char *group_id, int *dismissed)
{
    sqlite3_stmt *st = s->st[W_GROUP_GET];
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, group_id);
    int r = sq_row(s, st);
    *dismissed = 0;
    if (r > 0) {
        *dismissed = sqlite3_column_int(st, 0) != 0;
        sqlite3_reset(st);
        return *dismissed ? 0 : 1;
    }
    return r;
}

static int join_group(sq_store *s, int64_t app, const char *group_id, const char *conv_key, uint64_t last_seq,
                      const char *user, int64_t now)
{
    sqlite3_stmt *st = s->st[W_GM_INSERT];
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, group_id);
    sq_bind_text(st, 3, user);
    sqlite3_bind_int64(st, 4, now);
    if (sq_run(s, st) < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return 0;
    st = s->st[W_UC_JOIN];
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, user);
    sq_bind_text(st, 3, conv_key);
    sq_bind_text(st, 4, group_id);
    sqlite3_bind_int64(st, 5, (int64_t)last_seq);
    return sq_run(s, st) < 0 ? -1 : 1;
}

/* Checks that every listed user exists: 1 yes, 0 no, -1 failure. */
static int users_exist(sq_store *s, int64_t app, const char *owner, const char **members, size_t n)
{
    if (owner && *owner) {
        int r = sq_w_user_exists(s, app, owner);
        if (r <= 0)
            return r;
    }
    for (size_t i = 0; i < n; i++) {
        int r = members[i] ? sq_w_user_exists(s, app, members[i]) : 0;
        if (r <= 0)
            return r;
    }
    return 1;
}

static int add_members(sq_store *s, store_op *op, const char *owner)
{
    __typeof__(op->u.group) *g = &op->u.group;
    char conv_key[80];
    if (store_conv_key_group(g->group_id, conv_key, sizeof conv_key) < 0) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    hent *c = sq_conv_get(s, op->app, conv_key);
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

int sq_op_create_group(sq_store *s, store_op *op)
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
    sq_bind_text(st, 2, g->group_id);
    sq_bind_text(st, 3, g->name);
    sq_bind_text(st, 4, g->owner && *g->owner ? g->owner : NULL);
    sqlite3_bind_int64(st, 5, tern_now_ms());
    sq_bind_text(st, 6, g->description);
    sqlite3_bind_int(st, 7, g->is_public ? 1 : 0);
    if (g->maxusers > 0)
        sqlite3_bind_int64(st, 8, g->maxusers);
    else
        sqlite3_bind_null(st, 8);
    sq_bind_text(st, 9, g->attrs);
    if (sq_run(s, st) < 0)
        return -1;
    return add_members(s, op, g->owner);
}

/* 1 if the op's members who are not members yet fit under the group's maxusers (or it
 * has none), 0 if not, -1 on failure. A name listed twice counts once. */
static int group_has_room(sq_store *s, store_op *op)
{
    __typeof__(op->u.group) *g = &op->u.group;
    sqlite3_stmt *st = s->st[W_GROUP_ROOM];
    sqlite3_bind_int64(st, 1, op->app);
    sq_bind_text(st, 2, g->group_id);
    int r = sq_row(s, st);
    if (r <= 0)
        return r;
    int64_t max = sqlite3_column_int64(st, 0), count = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (max <= 0)
        return 1;
    for (size_t i = 0; i < g->nmembers && count <= max; i++) {
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !strcmp(g->members[k], g->members[i]);
        if (seen)
            continue;
        st = s->st[W_GM_EXISTS];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, g->group_id);
        sq_bind_text(st, 3, g->members[i]);
        r = sq_row(s, st);
        if (r < 0)
            return -1;
        if (r > 0)
            sqlite3_reset(st);
        else
            count++;
    }
    return count <= max;
}

int sq_op_add_members(sq_store *s, store_op *op)
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
    r = group_has_room(s, op);
    if (r <= 0) {
        op->result = TERN_ERR_GROUP_FULL;
        return r;
    }
    return add_members(s, op, NULL);
}

/* The start of the ops that take rows out of a live group: its conversation key into
 * conv_key[80], the group checked live, and the batch's pending read positions written
 * (user_convs rows are about to go). 1: go on; 0: op->result says why not; -1: failure. */
static int leaving_group(sq_store *s, store_op *op, char *conv_key)
{
    const char *group_id = op->u.group.group_id;
    if (!group_id || store_conv_key_group(group_id, conv_key, 80) < 0) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    int dismissed;
    int r = group_live(s, op->app, group_id, &dismissed);
    if (r <= 0) {
        op->result = TERN_ERR_GROUP_NOT_FOUND;
        return r;
    }
    return sq_flush_reads(s) < 0 ? -1 : 1;
}

int sq_op_remove_members(sq_store *s, store_op *op)
{
    __typeof__(op->u.group) *g = &op->u.group;
    g->changed = 0;
    char conv_key[80];
    if (g->nmembers && !g->members) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    int r = leaving_group(s, op, conv_key);
    if (r <= 0)
        return r;
    for (size_t i = 0; i < g->nmembers; i++) {
        if (!g->members[i])
            continue;
        sqlite3_stmt *st = s->st[W_GM_DEL];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, g->group_id);
        sq_bind_text(st, 3, g->members[i]);
        if (sq_run(s, st) < 0)
            return -1;
        if (sqlite3_changes(s->db) == 0)
            continue;
        st = s->st[W_UC_DEL];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, g->members[i]);
        sq_bind_text(st, 3, conv_key);
        if (sq_run(s, st) < 0)
            return -1;
        g->changed++;
    }
    op->result = TERN_OK;
    return 0;
}

int sq_op_dismiss_group(sq_store *s, store_op *op)
{
    __typeof__(op->u.group) *g = &op->u.group;
    char conv_key[80];
    int r = leaving_group(s, op, conv_key);
    if (r <= 0)
        return r;
    /* user_convs rows first: the statement finds them through the member list. */
    sqlite3_stmt *st = s->st[W_UC_DEL_GROUP];
    sqlite3_bind_int64(st, 1, op->app);
    sq_bind_text(st, 2, conv_key);
    sq_bind_text(st, 3, g->group_id);
    if (sq_run(s, st) < 0)
        return -1;
    static const int upd[] = {W_GM_DEL_GROUP, W_GROUP_DISMISS};
    for (size_t i = 0; i < sizeof upd / sizeof upd[0]; i++) {
        st = s->st[upd[i]];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, g->group_id);
        if (sq_run(s, st) < 0)
            return -1;
    }
    op->result = TERN_OK;
    return 0;
}

/* ---- readers ----------------------------------------------------------------------- */

int sq_group_get(store_reader *rr, int64_t app, const char *group_id, store_group *out)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_GROUP_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, group_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return TERN_ERR_GROUP_NOT_FOUND;
    }
    if (rc != SQLITE_ROW)
        return sq_rfail(r, st, rc);
    sq_copy_col(out->id, sizeof out->id, st, 0);
    sq_copy_col(out->name, sizeof out->name, st, 1);
    sq_copy_col(out->owner, sizeof out->owner, st, 2);
    out->created_ms = sqlite3_column_int64(st, 3);
    out->member_count = (uint64_t)sqlite3_column_int64(st, 4);
    sq_copy_col(out->description, sizeof out->description, st, 5);
    out->is_public = sqlite3_column_int(st, 6) != 0;
    out->maxusers = sqlite3_column_int64(st, 7);
    sq_copy_col(out->attrs, sizeof out->attrs, st, 8);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_list_strings(sq_reader *r, sqlite3_stmt *st, int64_t app, const char *key, void (*cb)(void *ud, const char *),
                    void *ud)
{
    sqlite3_bind_int64(st, 1, app);
    if (key)
        sq_bind_text(st, 2, key);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0));
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_group_members(store_reader *rr, int64_t app, const char *group_id, store_name_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *ex = sq_rst(r, R_GROUP_EXISTS), *st = sq_rst(r, R_GROUP_MEMBERS);
    if (!ex || !st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(ex, 1, app);
    sq_bind_text(ex, 2, group_id);
    int rc = sqlite3_step(ex);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_rfail(r, ex, rc);
    sqlite3_reset(ex);
    if (rc == SQLITE_DONE)
        return TERN_ERR_GROUP_NOT_FOUND;
    return sq_list_strings(r, st, app, group_id, cb, ud);
}

int sq_user_groups(store_reader *rr, int64_t app, const char *user, store_name_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_USER_GROUPS);
    if (!st)
        return TERN_ERR_STORE;
    return sq_list_strings(r, st, app, user, cb, ud);
}

/* Appends the JSON array of the statement's message bodies (column col) to out, at most
 * limit of them (the statement asks for limit + 1 to learn whether more remain). If out
 * has a ceiling, stops before passing it and reports more = 1. */
