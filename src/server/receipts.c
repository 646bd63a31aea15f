/*
 * receipts.c — the read-receipt events (receipts.h). The pending group events live
 * in a small array with a map msg_id -> index, touched only by the store writer
 * thread (read completions and the batch end), so they need no lock.
 */
#include "receipts.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/hmap.h"
#include "core/util.h"
#include "delivery.h"
#include "net/frame.h"

typedef struct rcpt_ev {
    uint64_t msg_id;
    int64_t app;
    char sender[65], gid[65];
    uint32_t nmembers, read_count;
} rcpt_ev;

struct rcpt_events {
    rcpt_ev *v;
    size_t n, cap;
    hmap idx; /* msg_id -> index + 1 */
};

void receipts_init(server *s)
{
    s->rcpt_events = tern_calloc(1, sizeof *s->rcpt_events);
    hmap_init(&s->rcpt_events->idx);
}

void receipts_free(server *s)
{
    if (!s->rcpt_events)
        return;
    hmap_free(&s->rcpt_events->idx);
    tern_free(s->rcpt_events->v);
    tern_free(s->rcpt_events);
    s->rcpt_events = NULL;
}

static void push_one(server *s, int64_t app, const char *user, const tern_buf *b)
{
    frame *f = frame_text(b->data, b->len);
    const char *users[1] = {user};
    delivery_push_users(s, app, users, 1, 0, f);
    frame_unref(f);
}

static void copy_id(char *dst, size_t dstsz, const char *src)
{
    size_t n = strlen(src);
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

void receipts_on_read(server *s, int64_t app, const char *reader, int is_group, const char *peer, store_op *op)
{
    store_rcpt_hit *h = op->u.read.rcpts;
    size_t n = op->u.read.nrcpts;
    if (op->result == TERN_OK && n && !is_group) {
        /* The peer sent them; its sessions learn how far this reader got. */
        tern_buf b;
        tern_buf_init(&b, 0);
        tern_buf_puts(&b, "{\"ev\":\"receipt\",\"data\":{\"conversationID\":\"C2C");
        tern_buf_puts(&b, reader); /* an identifier: no escaping */
        tern_buf_printf(&b, "\",\"peerReadSeq\":%llu,\"peerReadTime\":%lld}}", (unsigned long long)op->u.read.read_seq,
                        (long long)tern_now_ms());
        push_one(s, app, peer, &b);
        tern_buf_free(&b);
    } else if (op->result == TERN_OK) {
        struct rcpt_events *pe = s->rcpt_events;
        for (size_t i = 0; i < n; i++) {
            uintptr_t at = (uintptr_t)hmap_get_u64(&pe->idx, h[i].msg_id);
            if (!at) {
                if (pe->n == pe->cap) {
                    pe->cap = pe->cap ? pe->cap * 2 : 16;
                    pe->v = tern_realloc(pe->v, pe->cap * sizeof *pe->v);
                }
                rcpt_ev *e = &pe->v[pe->n++];
                memset(e, 0, sizeof *e);
                e->msg_id = h[i].msg_id;
                e->app = app;
                copy_id(e->sender, sizeof e->sender, h[i].sender);
                copy_id(e->gid, sizeof e->gid, peer);
                at = pe->n;
                hmap_put_u64(&pe->idx, h[i].msg_id,
                             (void *)at); // NOLINT(performance-no-int-to-ptr): an index in the pointer slot
            }
            rcpt_ev *e = &pe->v[at - 1];
            e->nmembers = h[i].nmembers;
            if (h[i].read_count > e->read_count) /* later ops of the batch saw more */
                e->read_count = h[i].read_count;
        }
    }
    tern_free(op->u.read.rcpts);
    op->u.read.rcpts = NULL;
    op->u.read.nrcpts = 0;
}

void receipts_flush(server *s)
{
    struct rcpt_events *pe = s->rcpt_events;
    if (!pe || !pe->n)
        return;
    tern_buf b;
    tern_buf_init(&b, 0);
    for (size_t i = 0; i < pe->n; i++) {
        rcpt_ev *e = &pe->v[i];
        uint32_t others = e->nmembers > 0 ? e->nmembers - 1 : 0;
        uint32_t unread = others > e->read_count ? others - e->read_count : 0;
        tern_buf_reset(&b);
        tern_buf_puts(&b, "{\"ev\":\"receipt\",\"data\":{\"conversationID\":\"GROUP");
        tern_buf_puts(&b, e->gid);
        tern_buf_puts(&b, "\",\"msgId\":");
        tern_buf_json_u64str(&b, e->msg_id);
        tern_buf_printf(&b, ",\"readCount\":%u,\"unreadCount\":%u}}", e->read_count, unread);
        push_one(s, e->app, e->sender, &b);
    }
    tern_buf_free(&b);
    pe->n = 0;
    hmap_free(&pe->idx);
    hmap_init(&pe->idx);
}
