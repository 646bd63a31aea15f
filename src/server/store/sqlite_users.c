/*
 * sqlite_users.c — apps and users in the SQLite engine: the create-app, create-user and
 * delete-user ops of the writer, and the readers' app and user lookups and listings;
 * and the apps' settings (table app_settings, migration 9: the settings op, the list
 * read at start).
 *
 * Readers cache the users they have seen exist (a send checks its recipient), and drop
 * that cache when the writer commits a batch that deleted a user (users_gen).
 */
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

#include "core/hmap.h"
#include "core/util.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* ---- writer ------------------------------------------------------------------------ */

int sq_w_user_exists(sq_store *s, int64_t app, const char *user)
{
    sqlite3_stmt *st = s->st[W_USER_EXISTS];
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, user);
    int r = sq_row(s, st);
    if (r > 0)
        sqlite3_reset(st);
    return r;
}

int sq_op_create_app(sq_store *s, store_op *op)
{
    __typeof__(op->u.app_create) *a = &op->u.app_create;
    if (!a->org || !a->name || !a->client_id || !a->client_secret) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    sqlite3_stmt *st = s->st[W_APP_INSERT];
    sq_bind_text(st, 1, a->org);
    sq_bind_text(st, 2, a->name);
    sq_bind_text(st, 3, a->client_id);
    sq_bind_text(st, 4, a->client_secret);
    sqlite3_bind_int64(st, 5, tern_now_ms());
    if (sq_run(s, st) < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0) {
        op->result = TERN_ERR_CONFLICT; /* org/name or client id taken */
        return 0;
    }
    a->out_id = sqlite3_last_insert_rowid(s->db);
    op->result = TERN_OK;
    return 0;
}

int sq_op_create_user(sq_store *s, store_op *op)
{
    if (!op->u.user.user || !*op->u.user.user) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    sqlite3_stmt *st = s->st[W_USER_INSERT];
    sqlite3_bind_int64(st, 1, op->app);
    sq_bind_text(st, 2, op->u.user.user);
    sq_bind_text(st, 3, op->u.user.nickname);
    sqlite3_bind_int64(st, 4, tern_now_ms());
    sq_bind_text(st, 5, op->u.user.password);
    if (sq_run(s, st) < 0)
        return -1;
    op->result = sqlite3_changes(s->db) ? TERN_OK : TERN_ERR_CONFLICT;
    return 0;
}

int sq_op_delete_user(sq_store *s, store_op *op)
{
    const char *user = op->u.user.user;
    if (!user) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    int r = sq_w_user_exists(s, op->app, user);
    if (r <= 0) {
        op->result = TERN_ERR_USER_NOT_FOUND;
        return r;
    }
    if (sq_flush_reads(s) < 0)
        return -1;
    static const int del[] = {W_USER_DEL, W_GM_DEL_USER, W_UC_DEL_USER};
    for (size_t i = 0; i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *st = s->st[del[i]];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, user);
        if (sq_run(s, st) < 0)
            return -1;
    }
    if (sq_friends_del_user(s, op->app, user) < 0)
        return -1;
    s->uc_gen++; /* C2C rows of this user are gone: ensure them again on the next message */
    s->batch_deleted_user = 1;
    op->result = TERN_OK;
    return 0;
}

/* Adds user to the group unless already a member; a newcomer's conversation row starts
 * read up to the conversation's last message. 1 joined, 0 already a member, -1 failure. */
/* ---- readers ----------------------------------------------------------------------- */

void sq_copy_col(char *dst, size_t dstsz, sqlite3_stmt *st, int col)
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
    sq_copy_col(a->org, sizeof a->org, st, 1);
    sq_copy_col(a->name, sizeof a->name, st, 2);
    sq_copy_col(a->client_id, sizeof a->client_id, st, 3);
    sq_copy_col(a->client_secret, sizeof a->client_secret, st, 4);
    a->created_ms = sqlite3_column_int64(st, 5);
}

int sq_app_get(store_reader *rr, const char *org, const char *name, store_app *out)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_APP_GET);
    if (!st)
        return TERN_ERR_STORE;
    sq_bind_text(st, 1, org);
    sq_bind_text(st, 2, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return TERN_ERR_APP_NOT_FOUND;
    }
    if (rc != SQLITE_ROW)
        return sq_rfail(r, st, rc);
    read_app(st, out);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_app_list(store_reader *rr, store_app_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_APP_LIST);
    if (!st)
        return TERN_ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_app a;
        read_app(st, &a);
        cb(ud, &a);
    }
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_op_app_settings(sq_store *s, store_op *op)
{
    for (size_t i = 0; i < op->u.settings.n; i++) {
        const char *v = op->u.settings.values[i];
        sqlite3_stmt *st = s->st[v ? W_SETTING_PUT : W_SETTING_DEL];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, op->u.settings.keys[i]);
        if (v)
            sq_bind_text(st, 3, v);
        if (sq_run(s, st) < 0)
            return -1;
    }
    op->result = TERN_OK;
    return 0;
}

int sq_app_settings(store_reader *rr, void (*cb)(void *ud, int64_t app, const char *key, const char *value), void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_APP_SETTINGS);
    if (!st)
        return TERN_ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
           (const char *)sqlite3_column_text(st, 2));
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_user_exists(store_reader *rr, int64_t app, const char *user)
{
    sq_reader *r = (sq_reader *)rr;
    char key[96];
    size_t ul = strlen(user);
    if (ul > sizeof key - sizeof app)
        ul = sizeof key - sizeof app;
    memcpy(key, &app, sizeof app);
    memcpy(key + sizeof app, user, ul); // NOLINT(bugprone-not-null-terminated-result): a binary key of kl bytes
    size_t kl = sizeof app + ul;
    uint64_t gen = atomic_load(&r->s->users_gen);
    if (gen != r->users_gen || r->users_ok.used > USERS_CACHE_MAX) {
        hmap_free(&r->users_ok);
        hmap_init(&r->users_ok);
        r->users_gen = gen;
    }
    if (hmap_get(&r->users_ok, key, kl))
        return 1;
    sqlite3_stmt *st = sq_rst(r, R_USER_EXISTS);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, user);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sq_rfail(r, st, rc);
        return -1;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        hmap_put(&r->users_ok, key, kl, (void *)1);
    return rc == SQLITE_ROW;
}

/* Steps st (bound), passing each row (USER_COLS of sqlite_db.c) to cb; *n counts them. */
static int user_rows(sq_reader *r, sqlite3_stmt *st, store_user_cb cb, void *ud, int *n)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_user u = {
            .user = (const char *)sqlite3_column_text(st, 0),
            .nickname = (const char *)sqlite3_column_text(st, 1),
            .created_ms = sqlite3_column_int64(st, 2),
            .modified_ms = sqlite3_column_int64(st, 3),
            .uuid = (const char *)sqlite3_column_text(st, 4),
            .password = (const char *)sqlite3_column_text(st, 5),
        };
        cb(ud, &u);
        if (n)
            (*n)++;
    }
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_user_list(store_reader *rr, int64_t app, const char *after, int limit, store_user_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_USER_LIST);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, after ? after : "");
    sqlite3_bind_int(st, 3, limit < 0 ? 0 : limit);
    return user_rows(r, st, cb, ud, NULL);
}

int sq_user_get(store_reader *rr, int64_t app, const char *user, store_user_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_USER_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, user);
    int n = 0;
    int rc = user_rows(r, st, cb, ud, &n);
    return rc != TERN_OK ? rc : n ? TERN_OK : TERN_ERR_USER_NOT_FOUND;
}
