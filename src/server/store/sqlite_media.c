/*
 * sqlite_media.c — media metadata in the SQLite engine (issue 9): the writer's put and
 * delete of a media row, and the readers' lookup by (app, id) and listing of expired
 * rows for the sweeper. Table `media` (migrations 7 and 8, sqlite_db.c); the files themselves
 * are the media store's (server/media/media_store.h), never the database's.
 */
#include <sqlite3.h>
#include <string.h>

#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

int sq_op_media(sq_store *s, store_op *op)
{
    __typeof__(op->u.media) *m = &op->u.media;
    if (!m->id || !m->id[0]) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    sqlite3_stmt *st;
    if (op->kind == STORE_OP_MEDIA_THUMBS) {
        st = s->st[W_MEDIA_THUMBS];
        sqlite3_bind_int(st, 1, m->thumbs);
        sqlite3_bind_int64(st, 2, op->app);
        sq_bind_text(st, 3, m->id);
        if (sq_run(s, st) < 0)
            return -1;
        op->result = sqlite3_changes(s->db) ? TERN_OK : TERN_ERR_NOT_FOUND;
        return 0;
    }
    if (op->kind == STORE_OP_MEDIA_DELETE) {
        st = s->st[W_MEDIA_DEL];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, m->id);
        if (sq_run(s, st) < 0)
            return -1;
        op->result = TERN_OK;
        return 0;
    }
    st = s->st[W_MEDIA_INSERT];
    sqlite3_bind_int64(st, 1, op->app);
    sq_bind_text(st, 2, m->id);
    sqlite3_bind_int64(st, 3, (int64_t)m->size);
    sq_bind_text(st, 4, m->content_type ? m->content_type : "");
    sq_bind_text(st, 5, m->file_name ? m->file_name : "");
    sq_bind_text(st, 6, m->sha256 ? m->sha256 : "");
    sqlite3_bind_int64(st, 7, m->created_ms);
    sqlite3_bind_int64(st, 8, m->expires_ms);
    sqlite3_bind_int(st, 9, m->width);
    sqlite3_bind_int(st, 10, m->height);
    sqlite3_bind_int(st, 11, m->img_format);
    sqlite3_bind_int(st, 12, m->animated);
    sqlite3_bind_int(st, 13, m->thumbs);
    sq_bind_text(st, 14, m->share_secret ? m->share_secret : "");
    if (sq_run(s, st) < 0)
        return -1;
    op->result = sqlite3_changes(s->db) ? TERN_OK : TERN_ERR_CONFLICT;
    return 0;
}

/* Reads the MEDIA_COLS of the current row. */
static void read_row(sqlite3_stmt *st, store_media *out)
{
    out->app = sqlite3_column_int64(st, 0);
    sq_copy_col(out->id, sizeof out->id, st, 1);
    out->size = (uint64_t)sqlite3_column_int64(st, 2);
    sq_copy_col(out->content_type, sizeof out->content_type, st, 3);
    sq_copy_col(out->file_name, sizeof out->file_name, st, 4);
    sq_copy_col(out->sha256, sizeof out->sha256, st, 5);
    out->created_ms = sqlite3_column_int64(st, 6);
    out->expires_ms = sqlite3_column_int64(st, 7);
    out->width = sqlite3_column_int(st, 8);
    out->height = sqlite3_column_int(st, 9);
    out->img_format = sqlite3_column_int(st, 10);
    out->animated = sqlite3_column_int(st, 11);
    out->thumbs = sqlite3_column_int(st, 12);
    sq_copy_col(out->share_secret, sizeof out->share_secret, st, 13);
}

int sq_media_get(store_reader *rr, int64_t app, const char *id, store_media *out)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_MEDIA_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, id);
    int row = sq_rrow(r, st);
    if (row <= 0)
        return row < 0 ? TERN_ERR_STORE : TERN_ERR_NOT_FOUND;
    read_row(st, out);
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_media_expired(store_reader *rr, int64_t now_ms, int limit, void (*cb)(void *ud, const store_media *m), void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_MEDIA_EXPIRED);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_media m;
        read_row(st, &m);
        cb(ud, &m);
    }
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}
