/*
 * sqlite_convs.c — conversations in the SQLite engine: the writer's cache of every
 * recently touched conversation (its last seq, id and time, so assigning a seq costs no
 * SELECT after the first touch), the batch's pending read positions (each written once
 * per batch, just before COMMIT), the mark-read op, and the conversation-list reads.
 *
 * Both writer-side caches are small chained hash tables (htab) owned by the writer
 * thread; no lock.
 */
#include <sqlite3.h>
#include <string.h>

#include "core/alloc.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* ---- writer-side hash tables ------------------------------------------------------- */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static hent *ht_find(htab *t, const char *k, size_t kl, uint64_t h)
{
    if (!t->nb)
        return NULL;
    for (hent *e = t->b[h & (t->nb - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == kl && memcmp(e->key, k, kl) == 0)
            return e;
    return NULL;
}

/* Adds a zeroed entry for a key known to be absent. */
static hent *ht_add(htab *t, const char *k, size_t kl, uint64_t h)
{
    if (t->n >= t->nb) {
        size_t nb = t->nb ? t->nb * 2 : 256;
        hent **b = tern_calloc(nb, sizeof *b);
        for (size_t i = 0; i < t->nb; i++) {
            hent *e = t->b[i];
            while (e) {
                hent *nx = e->next;
                e->next = b[e->hash & (nb - 1)];
                b[e->hash & (nb - 1)] = e;
                e = nx;
            }
        }
        tern_free(t->b);
        t->b = b;
        t->nb = nb;
    }
    hent *e = tern_calloc(1, sizeof *e + kl + 1);
    memcpy(e->key, k, kl);
    e->key[kl] = 0;
    e->klen = kl;
    e->hash = h;
    e->next = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = e;
    t->n++;
    return e;
}

void sq_ht_clear(htab *t)
{
    for (size_t i = 0; i < t->nb && t->n; i++) {
        hent *e = t->b[i];
        while (e) {
            hent *nx = e->next;
            tern_free(e);
            t->n--;
            e = nx;
        }
        t->b[i] = NULL;
    }
    t->n = 0;
    t->list = NULL;
    if (t->nb > 4096) { /* give a burst's buckets back */
        tern_free(t->b);
        t->b = NULL;
        t->nb = 0;
    }
}

void sq_ht_free(htab *t)
{
    sq_ht_clear(t);
    tern_free(t->b);
    t->b = NULL;
    t->nb = 0;
}

/* ---- the conversation cache and read positions ------------------------------------ */

static const char *key2(sq_store *s, int64_t app, const char *a, const char *b, size_t *kl)
{
    tern_buf_reset(&s->kb);
    tern_buf_append(&s->kb, &app, sizeof app);
    tern_buf_append(&s->kb, a, strlen(a));
    if (b) {
        tern_buf_append(&s->kb, "", 1);
        tern_buf_append(&s->kb, b, strlen(b));
    }
    *kl = s->kb.len;
    return s->kb.data;
}

hent *sq_conv_get(sq_store *s, int64_t app, const char *conv_key)
{
    size_t kl;
    const char *k = key2(s, app, conv_key, NULL, &kl);
    uint64_t h = hash_bytes(k, kl);
    hent *e = ht_find(&s->convs, k, kl, h);
    if (e)
        return e;
    sqlite3_stmt *st = s->st[W_CONV_GET];
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, conv_key);
    int r = sq_row(s, st);
    if (r < 0)
        return NULL;
    e = ht_add(&s->convs, k, kl, h);
    e->app = app;
    e->s1 = e->key + sizeof app;
    e->is_group = conv_key[0] == 'g';
    if (r) {
        e->last_seq = (uint64_t)sqlite3_column_int64(st, 0);
        e->last_msg_id = (uint64_t)sqlite3_column_int64(st, 1);
        e->last_time_ms = sqlite3_column_int64(st, 2);
        e->last_nc = (uint64_t)sqlite3_column_int64(st, 3);
        sqlite3_reset(st);
    }
    return e;
}

hent *sq_read_entry(sq_store *s, int64_t app, const char *user, const char *conv_key, int create, int *created)
{
    size_t kl;
    const char *k = key2(s, app, user, conv_key, &kl);
    uint64_t h = hash_bytes(k, kl);
    hent *e = ht_find(&s->reads, k, kl, h);
    *created = !e && create;
    if (!e && create) {
        e = ht_add(&s->reads, k, kl, h);
        e->app = app;
        e->s1 = e->key + sizeof app;
        e->s2 = e->s1 + strlen(e->s1) + 1;
        e->lnext = s->reads.list;
        s->reads.list = e;
    }
    return e;
}

int sq_flush_reads(sq_store *s)
{
    sqlite3_stmt *st = s->st[W_UC_READ_SET];
    for (hent *e = s->reads.list; e; e = e->lnext) {
        sqlite3_bind_int64(st, 1, e->app);
        sq_bind_text(st, 2, e->s1);
        sq_bind_text(st, 3, e->s2);
        sqlite3_bind_int64(st, 4, (int64_t)e->read_seq);
        if (sq_run(s, st) < 0)
            return -1;
    }
    sq_ht_clear(&s->reads);
    return sq_receipt_flush(s);
}

/* 1 if the user exists, 0 if not, -1 on failure. */
/* ---- mark read --------------------------------------------------------------------- */

int sq_op_mark_read(sq_store *s, store_op *op)
{
    __typeof__(op->u.read) *m = &op->u.read;
    m->rcpts = NULL;
    m->nrcpts = 0;
    if (!m->user || !m->conv_key) {
        op->result = TERN_ERR_BAD_FIELD;
        return 0;
    }
    hent *c = sq_conv_get(s, op->app, m->conv_key);
    if (!c)
        return -1;
    uint64_t last_seq = c->last_seq;
    int created;
    hent *e = sq_read_entry(s, op->app, m->user, m->conv_key, 0, &created);
    if (!e || !e->verified) {
        /* Learn whether the row exists and its exact read_seq; a miss writes nothing. */
        sqlite3_stmt *st = s->st[W_UC_READ_GET];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, m->user);
        sq_bind_text(st, 3, m->conv_key);
        int r = sq_row(s, st);
        if (r < 0)
            return -1;
        if (r == 0) {
            op->result = TERN_ERR_NOT_FOUND;
            return 0;
        }
        uint64_t db = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (!e)
            e = sq_read_entry(s, op->app, m->user, m->conv_key, 1, &created);
        if (created || db > e->read_seq)
            e->read_seq = db;
        e->verified = 1;
    }
    uint64_t target = m->seq < last_seq ? m->seq : last_seq, old_read = e->read_seq;
    if (target > e->read_seq)
        e->read_seq = target;
    if (sq_receipt_on_read(s, op, c, old_read, e->read_seq) < 0)
        return -1;
    m->read_seq = e->read_seq;
    m->last_seq = last_seq;
    m->uncounted = 0;
    if (c->last_nc && e->read_seq < last_seq) {
        /* The conversation has messages that do not count as unread (issue 10). */
        uint64_t at_read = 0;
        if (e->read_seq) {
            sqlite3_stmt *st = s->st[W_MSG_NC_AT];
            sqlite3_bind_int64(st, 1, op->app);
            sq_bind_text(st, 2, m->conv_key);
            sqlite3_bind_int64(st, 3, (int64_t)e->read_seq);
            int r = sq_row(s, st);
            if (r < 0)
                return -1;
            if (r) {
                at_read = (uint64_t)sqlite3_column_int64(st, 0);
                sqlite3_reset(st);
            }
        }
        m->uncounted = c->last_nc > at_read ? c->last_nc - at_read : 0;
    }
    op->result = TERN_OK;
    return 0;
}

/* ---- the conversation list --------------------------------------------------------- */

static int conv_rows(sq_reader *r, sqlite3_stmt *st, void (*cb)(void *ud, const store_conv *c), void *ud)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_conv c;
        c.conv_key = (const char *)sqlite3_column_text(st, 0);
        c.is_group = c.conv_key && c.conv_key[0] == 'g';
        c.peer = (const char *)sqlite3_column_text(st, 1);
        c.read_seq = (uint64_t)sqlite3_column_int64(st, 2);
        c.last_seq = (uint64_t)sqlite3_column_int64(st, 3);
        c.shown_msg_id = (uint64_t)sqlite3_column_int64(st, 4);
        c.last_time_ms = sqlite3_column_int64(st, 5);
        c.last_msg_json = (const char *)sqlite3_column_text(st, 6);
        c.last_msg_len = c.last_msg_json ? (size_t)sqlite3_column_bytes(st, 6) : 0;
        c.uncounted = (uint64_t)sqlite3_column_int64(st, 9);
        c.at_seq = (uint64_t)sqlite3_column_int64(st, 10);
        c.at_all_seq = (uint64_t)sqlite3_column_int64(st, 11);
        uint64_t shown_seq = (uint64_t)sqlite3_column_int64(st, 12);
        c.last_msg_id = (uint64_t)sqlite3_column_int64(st, 13);
        tern_buf sb = {0};
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
            /* The shown message is an open stream: its text so far. */
            if (sq_stream_body(r, (const char *)sqlite3_column_text(st, 7), (size_t)sqlite3_column_bytes(st, 7),
                               c.shown_msg_id, shown_seq, c.last_time_ms, sqlite3_column_int(st, 8), &sb) != TERN_OK) {
                tern_buf_free(&sb);
                rc = SQLITE_ERROR;
                break;
            }
            c.last_msg_json = sb.data;
            c.last_msg_len = sb.len;
        }
        cb(ud, &c);
        tern_buf_free(&sb);
        n++;
    }
    if (rc != SQLITE_DONE) {
        sq_rfail(r, st, rc);
        return -1;
    }
    sqlite3_reset(st);
    return n;
}

int sq_conversations(store_reader *rr, int64_t app, const char *user, int limit, store_conv_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_CONVS);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, user);
    sqlite3_bind_int(st, 3, limit < 0 ? 0 : limit);
    return conv_rows(r, st, cb, ud) < 0 ? TERN_ERR_STORE : TERN_OK;
}

int sq_conversation_get(store_reader *rr, int64_t app, const char *user, const char *conv_key, store_conv_cb cb,
                        void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    sqlite3_stmt *st = sq_rst(r, R_CONV_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, app);
    sq_bind_text(st, 2, user);
    sq_bind_text(st, 3, conv_key);
    int n = conv_rows(r, st, cb, ud);
    return n < 0 ? TERN_ERR_STORE : n == 0 ? TERN_ERR_NOT_FOUND : TERN_OK;
}
