/*
 * sqlite_receipts.c — read receipts in the SQLite engine (issue 10, migration 10).
 *
 * A message stored with need_receipt gets one receipt_msgs row: its conversation and
 * seq, its sender, the number of members at send time (the sender included; 2 for
 * C2C) and the readers so far; a group's message also gets a receipt_members row,
 * those members as sorted newline-separated text, kept apart so that counting a
 * reader rewrites a small row. Who has not read is "members at send time minus the
 * sender minus the readers", even after some left. A user who reads past it gets one
 * receipt_reads row, and its read_count grows by one — once per user, whatever their
 * devices do, since a read position only grows and the row's key is (msg_id, user).
 * The counts of a batch gather in the writer (rcpt_pend) and are written once per
 * message when the batch's read positions are (sq_flush_reads), so 200 readers in a
 * batch cost one UPDATE, not 200; the range query adds what is pending to the row's.
 *
 * Cost. The mark-read op asks receipt_msgs only when the conversation has a receipt
 * message above the reader's old position: the conversation cache (hent) keeps the
 * highest receipt seq, loaded by one indexed MAX() the first time a read op of that
 * conversation needs it and kept current by the message op. Conversations without
 * receipt messages pay that one lookup per cache lifetime and nothing per read.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "server/store/sqlite_internal.h"
#include "tern/errors.h"

/* ---- writer ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sq_receipt_on_message(sq_store *s, store_op *op, hent *c, uint64_t id, uint64_t seq)
{
    __typeof__(op->u.msg) *m = &op->u.msg;
    tern_buf mem;
    tern_buf_init(&mem, 0);
    size_t n = m->is_group ? m->rcpt_nmembers : 2;
    const char *const *list = m->rcpt_members;
    const char **sorted = NULL;
    if (m->is_group && m->rcpt_targeted) {
        /* The receivers and the sender, sorted, each once. */
        sorted = tern_malloc((m->rcpt_nmembers + 1) * sizeof *sorted);
        memcpy(sorted, m->rcpt_members, m->rcpt_nmembers * sizeof *sorted);
        sorted[m->rcpt_nmembers] = m->sender;
        qsort(sorted, m->rcpt_nmembers + 1, sizeof *sorted, cmp_str);
        n = 0;
        for (size_t i = 0; i <= m->rcpt_nmembers; i++)
            if (n == 0 || strcmp(sorted[n - 1], sorted[i]) != 0)
                sorted[n++] = sorted[i];
        list = sorted;
    }
    for (size_t i = 0; m->is_group && i < n; i++) {
        if (i)
            tern_buf_putc(&mem, '\n');
        tern_buf_puts(&mem, list[i]);
    }
    tern_free(sorted);
    sqlite3_stmt *st = s->st[W_RCPT_INSERT];
    sqlite3_bind_int64(st, 1, (int64_t)id);
    sqlite3_bind_int64(st, 2, op->app);
    sq_bind_text(st, 3, m->conv_key);
    sqlite3_bind_int64(st, 4, (int64_t)seq);
    sq_bind_text(st, 5, m->sender);
    sqlite3_bind_int64(st, 6, (int64_t)n);
    sqlite3_bind_int(st, 7, m->is_group && m->rcpt_targeted);
    int rc = sq_run(s, st);
    if (rc == 0 && m->is_group) {
        st = s->st[W_RCPT_MEMBERS];
        sqlite3_bind_int64(st, 1, (int64_t)id);
        sqlite3_bind_text(st, 2, mem.data ? mem.data : "", (int)mem.len, SQLITE_STATIC);
        rc = sq_run(s, st);
    }
    tern_buf_free(&mem);
    if (rc < 0)
        return -1;
    if (c->rcpt_known && seq > c->rcpt_max)
        c->rcpt_max = seq;
    return 0;
}

int sq_receipt_on_read(sq_store *s, store_op *op, hent *c, uint64_t old_read, uint64_t new_read)
{
    __typeof__(op->u.read) *m = &op->u.read;
    if (new_read <= old_read)
        return 0;
    if (!c->rcpt_known) {
        sqlite3_stmt *st = s->st[W_RCPT_MAX];
        sqlite3_bind_int64(st, 1, op->app);
        sq_bind_text(st, 2, m->conv_key);
        int r = sq_row(s, st);
        if (r < 0)
            return -1;
        c->rcpt_max = r ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
        if (r)
            sqlite3_reset(st);
        c->rcpt_known = 1;
    }
    if (c->rcpt_max <= old_read)
        return 0; /* nothing to count: the common case */
    sqlite3_stmt *st = s->st[W_RCPT_RANGE];
    sqlite3_bind_int64(st, 1, op->app);
    sq_bind_text(st, 2, m->conv_key);
    sqlite3_bind_int64(st, 3, (int64_t)old_read);
    sqlite3_bind_int64(st, 4, (int64_t)new_read);
    sq_bind_text(st, 5, m->user);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (m->nrcpts == cap) {
            cap = cap ? cap * 2 : 4;
            m->rcpts = tern_realloc(m->rcpts, cap * sizeof *m->rcpts);
        }
        store_rcpt_hit *h = &m->rcpts[m->nrcpts++];
        memset(h, 0, sizeof *h);
        h->msg_id = (uint64_t)sqlite3_column_int64(st, 0);
        const char *snd = (const char *)sqlite3_column_text(st, 1);
        if (snd) {
            size_t sl = strlen(snd);
            memcpy(h->sender, snd, sl < sizeof h->sender ? sl : sizeof h->sender - 1);
        }
        h->nmembers = (uint32_t)sqlite3_column_int64(st, 2);
        h->read_count = (uint32_t)sqlite3_column_int64(st, 3);
        h->targeted = sqlite3_column_int(st, 4);
    }
    if (rc != SQLITE_DONE)
        return sq_fail_stmt(s, st, rc);
    sqlite3_reset(st);
    /* One reader row each; a message this user had already counted (it cannot happen
     * through read positions, which only grow, but a row is the rule) is dropped. */
    int64_t now = tern_now_ms();
    size_t k = 0;
    for (size_t i = 0; i < m->nrcpts; i++) {
        store_rcpt_hit *h = &m->rcpts[i];
        if (h->targeted) { /* a receiverList message counts its receivers only */
            st = s->st[W_RCPT_IS_MEMBER];
            sqlite3_bind_int64(st, 1, (int64_t)h->msg_id);
            sq_bind_text(st, 2, m->user);
            int r = sq_row(s, st);
            if (r < 0)
                return -1;
            if (!r)
                continue;
            sqlite3_reset(st);
        }
        st = s->st[W_RCPT_READ];
        sqlite3_bind_int64(st, 1, (int64_t)h->msg_id);
        sq_bind_text(st, 2, m->user);
        sqlite3_bind_int64(st, 3, now);
        if (sq_run(s, st) < 0)
            return -1;
        if (sqlite3_changes(s->db) != 1)
            continue;
        /* The row's count grows once per batch (sq_receipt_flush), not once per reader. */
        uintptr_t pend = (uintptr_t)hmap_get_u64(&s->rcpt_pend, h->msg_id) + 1;
        hmap_put_u64(&s->rcpt_pend, h->msg_id,
                     (void *)pend); // NOLINT(performance-no-int-to-ptr): a count in the pointer slot
        h->read_count += (uint32_t)pend;
        m->rcpts[k++] = *h;
    }
    m->nrcpts = k;
    return 0;
}

int sq_receipt_flush(sq_store *s)
{
    if (!s->rcpt_pend.used)
        return 0;
    hmap_entry *e;
    sqlite3_stmt *st = s->st[W_RCPT_COUNT];
    for (size_t i = 0; hmap_next(&s->rcpt_pend, &i, &e);) {
        sqlite3_bind_int64(st, 1, (int64_t)(uintptr_t)e->val);
        sqlite3_bind_int64(st, 2, (int64_t)e->ikey);
        if (sq_run(s, st) < 0)
            return -1;
    }
    sq_receipt_drop(s);
    return 0;
}

void sq_receipt_drop(sq_store *s)
{
    if (!s->rcpt_pend.used)
        return;
    hmap_free(&s->rcpt_pend);
    hmap_init(&s->rcpt_pend);
}

/* ---- readers ----------------------------------------------------------------------- */

/* The receipt row of msg_id in app into out and, if members is not NULL, a copy of its
 * member list (tern_malloc'd, "" for C2C). TERN_OK, TERN_ERR_NOT_FOUND, TERN_ERR_STORE. */
static int receipt_row(sq_reader *r, int64_t app, uint64_t msg_id, store_receipt *out, char **members)
{
    sqlite3_stmt *st = sq_rst(r, R_RCPT_GET);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, (int64_t)msg_id);
    sqlite3_bind_int64(st, 2, app);
    int rc = sq_rrow(r, st);
    if (rc <= 0)
        return rc < 0 ? TERN_ERR_STORE : TERN_ERR_NOT_FOUND;
    sq_copy_col(out->conv_key, sizeof out->conv_key, st, 0);
    out->seq = (uint64_t)sqlite3_column_int64(st, 1);
    sq_copy_col(out->sender, sizeof out->sender, st, 2);
    out->nmembers = (uint32_t)sqlite3_column_int64(st, 3);
    out->read_count = (uint32_t)sqlite3_column_int64(st, 4);
    if (members) {
        const char *mt = (const char *)sqlite3_column_text(st, 5);
        *members = tern_strndup(mt ? mt : "", mt ? (size_t)sqlite3_column_bytes(st, 5) : 0);
    }
    sqlite3_reset(st);
    return TERN_OK;
}

int sq_receipt_get(store_reader *rr, int64_t app, uint64_t msg_id, store_receipt *out)
{
    return receipt_row((sq_reader *)rr, app, msg_id, out, NULL);
}

/* 1 if user has a reader row of msg_id, 0 if not, -1 on failure. */
static int has_read(sq_reader *r, uint64_t msg_id, const char *user, size_t n)
{
    sqlite3_stmt *st = sq_rst(r, R_RCPT_HAS_READ);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)msg_id);
    sqlite3_bind_text(st, 2, user, (int)n, SQLITE_STATIC);
    int rc = sq_rrow(r, st);
    if (rc == 1)
        sqlite3_reset(st);
    return rc;
}

/* The members at send time (the members column, newline-separated, sorted) after
 * `after` who are not the sender and have not read. */
static int unread_members(sq_reader *r, int64_t app, uint64_t msg_id, const char *after, int limit,
                          store_receipt_member_cb cb, void *ud)
{
    store_receipt row;
    char *members = NULL; /* a copy: the probes below use the same connection */
    int rc = receipt_row(r, app, msg_id, &row, &members);
    if (rc != TERN_OK)
        return rc;
    const char *sender = row.sender;
    int n = 0, out = TERN_OK;
    size_t al = strlen(after);
    for (char *p = members; *p && n < limit;) {
        char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int cmp = memcmp(p, after, len < al ? len : al);
        int later = cmp > 0 || (cmp == 0 && len > al);
        if (later && !(len == strlen(sender) && memcmp(p, sender, len) == 0)) {
            int hr = has_read(r, msg_id, p, len);
            if (hr < 0) {
                out = TERN_ERR_STORE;
                break;
            }
            if (!hr) {
                char u[TERN_IDENT_MAX + 1];
                size_t ul = len < sizeof u - 1 ? len : sizeof u - 1;
                memcpy(u, p, ul);
                u[ul] = 0;
                cb(ud, u, 0);
                n++;
            }
        }
        if (!e)
            break;
        p = e + 1;
    }
    tern_free(members);
    return out;
}

int sq_receipt_members(store_reader *rr, int64_t app, uint64_t msg_id, int unread, const char *after, int limit,
                       store_receipt_member_cb cb, void *ud)
{
    sq_reader *r = (sq_reader *)rr;
    if (unread)
        return unread_members(r, app, msg_id, after ? after : "", limit, cb, ud);
    store_receipt row;
    int rc = receipt_row(r, app, msg_id, &row, NULL);
    if (rc != TERN_OK)
        return rc;
    sqlite3_stmt *st = sq_rst(r, R_RCPT_READERS);
    if (!st)
        return TERN_ERR_STORE;
    sqlite3_bind_int64(st, 1, (int64_t)msg_id);
    sq_bind_text(st, 2, after ? after : "");
    sqlite3_bind_int(st, 3, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        cb(ud, u ? u : "", sqlite3_column_int64(st, 1));
    }
    if (rc != SQLITE_DONE)
        return sq_rfail(r, st, rc);
    sqlite3_reset(st);
    return TERN_OK;
}
