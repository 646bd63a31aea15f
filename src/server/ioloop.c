/*
 * ioloop.c — one I/O thread of ternd: its libuv loop, its SO_REUSEPORT listener, the
 * connections it owns (HTTP first, WebSocket after the upgrade), its inbox, and the
 * once-a-second sweep that enforces the login deadline, idle timeout and close timeout.
 *
 * The network layer knows nothing of messages or users: complete HTTP requests go to
 * http_api.c, complete WebSocket text messages to session.c.
 *
 * Reads use one 64 KiB buffer per loop (every read is consumed before the next), so an
 * idle connection owns no read buffer. Writes: a frame is first tried with
 * uv_try_write; only what the socket did not take is queued with uv_write, holding a
 * reference to the shared frame. queued bytes per connection are bounded by
 * max_send_queue: past it the client gets `resync` and close 4001.
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "server.h"

#define READBUF_SIZE (64 * 1024)
#define HTTP_PENDING_MAX (256 * 1024)
#define HTTP_QUEUE_MAX (256 * 1024) /* unwritten response bytes before we stop reading */
#define HTTP_IDLE_MS 30000
#define CLOSE_GRACE_MS 3000

typedef struct write_req {
    uv_write_t req;
    char *raw;    /* owned raw bytes (HTTP), or NULL */
    uint32_t len; /* bytes counted in conn->queued */
    uint32_t nf;  /* shared frames referenced below */
    frame *f[];
} write_req;

/* While a loop drains its inbox, frames for one connection are corked and written with
 * one writev at the end of the drain: a connection that gets an ack and a delivery (or
 * several deliveries) from one store batch costs one system call, not one per frame.
 *
 * With push-delay-ms > 0, a connection whose corked frames are all pushed events (no
 * answer to the client among them) stays corked after the drain, up to that many
 * milliseconds (the loop's push timer), so the pushes of several batches share a write.
 * An answer, a close, or any direct write to the connection writes what is corked first,
 * so the order of frames on a connection never changes. Corked bytes count in
 * conn->queued, so the send-queue ceiling still bounds them. */
#define CORK_MAX 64

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void process_http(conn *c, char *data, size_t n);

/* ---- inbox -------------------------------------------------------------------------- */

static void inbox_drain(uv_async_t *a);
static void on_push_timer(uv_timer_t *t);
static void cork_flush(conn *c);
static void cork_flush_all(ioloop *l);
static void cork_flush_urgent(ioloop *l);
static void queue_write(conn *c, frame *f, const char *p, size_t n, char *owned);
static void http_continue(conn *c);
static void write_rest(conn *c, uv_buf_t *bufs, unsigned nb, frame **frames, char *owned, int r, size_t total);

/* Items gathered on the store writer thread during one batch, per loop, handed over at
 * the batch's end with one lock and one wake-up per loop instead of one per delivery
 * (an eventfd write and a thread wake-up cost more than the rest of a delivery). */
typedef struct gather {
    server *srv;
    struct {
        inbox_item *items;
        size_t len, cap;
    } * per_loop;
} gather;
static __thread gather *tl_gather;

static void inbox_push_many(ioloop *l, const inbox_item *items, size_t n);

void inbox_gather_begin(server *s)
{
    gather *g = tern_calloc(1, sizeof *g);
    g->srv = s;
    tl_gather = g;
    s->gather = g; /* freed by inbox_gather_free once the thread is gone */
}

void inbox_gather_flush(server *s)
{
    gather *g = tl_gather;
    if (!g || !g->per_loop)
        return;
    for (int i = 0; i < s->nloops; i++) {
        if (g->per_loop[i].len) {
            inbox_push_many(&s->loops[i], g->per_loop[i].items, g->per_loop[i].len);
            g->per_loop[i].len = 0;
        }
    }
}

void inbox_gather_free(server *s)
{
    gather *g = s->gather;
    if (!g)
        return;
    for (int i = 0; g->per_loop && i < s->nloops; i++) {
        for (size_t j = 0; j < g->per_loop[i].len; j++)
            frame_unref(g->per_loop[i].items[j].f);
        tern_free(g->per_loop[i].items);
    }
    tern_free(g->per_loop);
    tern_free(g);
    s->gather = NULL;
}

static void inbox_push_many(ioloop *l, const inbox_item *items, size_t n)
{
    inbox *in = &l->in;
    pthread_mutex_lock(&in->mu);
    if (in->len + n > in->cap) {
        while (in->len + n > in->cap)
            in->cap = in->cap ? in->cap * 2 : 256;
        in->items = tern_realloc(in->items, in->cap * sizeof *in->items);
    }
    memcpy(in->items + in->len, items, n * sizeof *items);
    in->len += n;
    /* Once the loop has closed its async handle, items wait for ioloop_free. */
    int wake = l->stopping < 2;
    pthread_mutex_unlock(&in->mu);
    if (wake)
        uv_async_send(&in->async);
}

void inbox_push(ioloop *l, const inbox_item *it)
{
    gather *g = tl_gather;
    if (g && g->srv == l->srv) {
        if (!g->per_loop)
            g->per_loop = tern_calloc((size_t)l->srv->nloops, sizeof *g->per_loop);
        typeof(&g->per_loop[0]) q = &g->per_loop[l->index];
        if (q->len == q->cap) {
            q->cap = q->cap ? q->cap * 2 : 256;
            q->items = tern_realloc(q->items, q->cap * sizeof *q->items);
        }
        q->items[q->len++] = *it;
        return;
    }
    inbox_push_many(l, it, 1);
}

/* Runs what was queued for the loop when it woke up: one pass, so a writer that keeps
 * pushing cannot starve the loop's sockets and timers; what arrives meanwhile wakes it
 * again (the async handle is re-armed by the pushes). */
static void inbox_drain(uv_async_t *a)
{
    ioloop *l = a->data;
    inbox *in = &l->in;
    {
        pthread_mutex_lock(&in->mu);
        inbox_item *items = in->items;
        size_t n = in->len;
        in->items = NULL;
        in->len = in->cap = 0;
        pthread_mutex_unlock(&in->mu);
        if (!n) {
            tern_free(items);
            return;
        }
        l->corking = 1;
        for (size_t i = 0; i < n; i++) {
            inbox_item *it = &items[i];
            if (it->fn) {
                it->fn(l, it->arg);
                continue;
            }
            conn *c = ioloop_find(l, it->conn_id);
            if (c) {
                if (it->f && conn_send(c, it->f) == 0 && !it->push)
                    c->cork_urgent = 1;
                if (it->close_code)
                    conn_close(c, it->close_code, NULL);
            }
            frame_unref(it->f);
        }
        l->corking = 0;
        if (l->srv->cfg.push_delay_ms > 0) {
            cork_flush_urgent(l);
            if (l->corked && !l->push_timer_on && !l->stopping) {
                l->push_timer_on = 1;
                uv_timer_start(&l->push_timer, on_push_timer, (uint64_t)l->srv->cfg.push_delay_ms, 0);
            }
        } else {
            cork_flush_all(l);
        }
        tern_free(items);
    }
}

/* ---- connection lifetime ------------------------------------------------------------ */

conn *ioloop_find(ioloop *l, uint64_t id)
{
    return hmap_get_u64(&l->conns, id);
}

static void on_close(uv_handle_t *h)
{
    conn *c = (conn *)h;
    ioloop *l = c->loop;
    if (c->cork_listed) { /* held pushes (push-delay-ms): leave the loop's list */
        conn **pp = &l->corked;
        while (*pp && *pp != c)
            pp = &(*pp)->cork_next;
        if (*pp)
            *pp = c->cork_next;
    }
    hmap_del_u64(&l->conns, c->id);
    http_parser_free(c->http);
    ws_reader_free(&c->ws);
    tern_buf_free(&c->in);
    tern_free(c->user);
    tern_free(c->device);
    tern_free(c->cork);
    tern_free(c);
    atomic_fetch_sub(&l->srv->m_conns, 1);
}

static void hard_close(conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;
    tern_free(req);
    hard_close(c);
}

void conn_close(conn *c, int ws_code, const char *reason)
{
    if (c->state == CONN_CLOSING)
        return;
    cork_flush(c); /* what was corked goes out before the close frame */
    if (c->state == CONN_WS && ws_code && !c->close_sent) {
        frame *f = frame_close(ws_code, reason);
        c->close_sent = 1;
        /* Written now, past the ceiling and any cork: the close frame must go out
         * before the shutdown below, even to a slow consumer. */
        queue_write(c, f, (const char *)f->data, f->len, NULL);
        frame_unref(f);
    }
    if (c->logged_in) {
        session_on_close(c);
        c->logged_in = 0;
    }
    c->state = CONN_CLOSING;
    c->last_active_ms = (uint64_t)tern_now_ms();
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_shutdown_t *req = tern_malloc(sizeof *req);
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        tern_free(req);
        hard_close(c);
    }
}

/* ---- writes ------------------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    conn *c = (conn *)req->handle;
    c->queued -= w->len < c->queued ? w->len : c->queued;
    for (uint32_t i = 0; i < w->nf; i++)
        frame_unref(w->f[i]);
    tern_free(w->raw);
    tern_free(w);
    if (status < 0 && status != UV_ECANCELED && c->state != CONN_CLOSING) {
        conn_close(c, 0, NULL);
        return;
    }
    if (c->state == CONN_HTTP && c->reading_paused && c->queued <= HTTP_QUEUE_MAX / 2)
        http_continue(c);
}

/* Writes bufs (frames[i] backs bufs[i] when frames is not NULL; `owned` backs a single
 * raw buffer): first straight to the socket, then whatever it did not take through
 * uv_write, holding references until written. */
static void write_bufs(conn *c, uv_buf_t *bufs, unsigned nb, frame **frames, char *owned)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp)) {
        tern_free(owned);
        return;
    }
    size_t total = 0;
    for (unsigned i = 0; i < nb; i++)
        total += bufs[i].len;
    write_rest(c, bufs, nb, frames, owned, uv_try_write((uv_stream_t *)&c->tcp, bufs, nb), total);
}

/* What follows a first write attempt of bufs (total bytes) that returned r (bytes taken,
 * or a negative errno / UV_ code): done, a closed connection, or the rest queued with
 * uv_write holding references to the frames (or owning `owned`) until written. */
static void write_rest(conn *c, uv_buf_t *bufs, unsigned nb, frame **frames, char *owned, int r, size_t total)
{
    if (r == (int)total) {
        tern_free(owned);
        return;
    }
    if (r < 0 && r != UV_EAGAIN) {
        tern_free(owned);
        if (c->state != CONN_CLOSING)
            conn_close(c, 0, NULL);
        return;
    }
    /* Skip what was written; the first remaining buffer may be partly written. */
    size_t done = r > 0 ? (size_t)r : 0;
    unsigned first = 0;
    while (first < nb && done >= bufs[first].len)
        done -= bufs[first++].len;
    bufs[first].base += done;
    bufs[first].len -= (unsigned)done;
    unsigned left = nb - first;
    write_req *w = tern_malloc(sizeof *w + (frames ? left : 0) * sizeof(frame *));
    w->raw = owned;
    w->nf = frames ? left : 0;
    w->len = 0;
    for (unsigned i = 0; i < left; i++) {
        w->len += bufs[first + i].len;
        if (frames)
            w->f[i] = frame_ref(frames[first + i]);
    }
    c->queued += w->len;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs + first, left, on_write) != 0) {
        c->queued -= w->len;
        for (uint32_t i = 0; i < w->nf; i++)
            frame_unref(w->f[i]);
        tern_free(w->raw);
        tern_free(w);
        if (c->state != CONN_CLOSING)
            conn_close(c, 0, NULL);
    }
}

static void queue_write(conn *c, frame *f, const char *p, size_t n, char *owned)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    write_bufs(c, &b, 1, f ? &f : NULL, owned);
}

/* Settles the frames corked on c: sent is NULL to write them now with one writev, or
 * the result of the send io_uring already made of them (bytes or -errno). Either way
 * what the socket did not take is queued with uv_write (write_rest). */
static void cork_settle(conn *c, const int *sent)
{
    unsigned n = c->ncork;
    if (!n)
        return;
    uv_buf_t bufs[CORK_MAX];
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        bufs[i] = uv_buf_init((char *)c->cork[i]->data, c->cork[i]->len);
        total += c->cork[i]->len;
    }
    c->queued -= total < c->queued ? total : c->queued; /* write_rest counts what stays queued */
    c->ncork = 0;
    if (sent)
        write_rest(c, bufs, n, c->cork, NULL, *sent, total);
    else
        write_bufs(c, bufs, n, c->cork, NULL);
    for (unsigned i = 0; i < n; i++)
        frame_unref(c->cork[i]);
}

/* Writes the frames corked on c with one writev. */
static void cork_flush(conn *c)
{
    cork_settle(c, NULL);
}

static void cork_add(conn *c, frame *f)
{
    ioloop *l = c->loop;
    if (!c->cork) {
        c->cork = tern_malloc(CORK_MAX * sizeof *c->cork);
    }
    if (c->ncork == CORK_MAX)
        cork_flush(c);
    if (!c->ncork && !c->cork_listed) {
        c->cork_listed = 1;
        c->cork_next = l->corked;
        l->corked = c;
    }
    c->cork[c->ncork++] = frame_ref(f);
    c->queued += f->len;
}

/* Takes c off the loop's list (the caller unlinked it): writes what is corked and drops
 * the cork array (idle connections keep none). */
static void cork_release(conn *c)
{
    c->cork_listed = 0;
    c->cork_next = NULL;
    c->cork_urgent = 0;
    cork_flush(c);
    tern_free(c->cork);
    c->cork = NULL;
}

/* ---- io_uring: one system call for a drain's writes --------------------------------- */

/* At the end of a drain, every corked connection's frames go out as one IORING_OP_SENDMSG
 * each, submitted together: one system call for the whole drain instead of one writev per
 * connection (a fan-out drain writes to hundreds of sockets). MSG_DONTWAIT makes every
 * send complete during the submit, so the iovecs and the frames they point into are only
 * needed until io_uring_submit_and_wait returns; what a socket did not take then goes
 * through write_rest (uv_write), exactly as after uv_try_write. A connection that already
 * has a libuv write queued is not sent this way: its frames must follow that queue. */
#define URING_SLOTS 128

typedef struct uring_slot {
    conn *c;
    struct msghdr mh;
    struct iovec iov[CORK_MAX];
} uring_slot;

struct uring_batch {
    struct io_uring ring;
    uring_slot slot[URING_SLOTS];
};

/* Sets up l's ring when cfg.io_uring asks for it; without one (refused by the kernel or
 * a sandbox), drains write with writev per connection. */
static void uring_setup(ioloop *l)
{
    if (!l->srv->cfg.io_uring)
        return;
    uring_batch *ub = tern_calloc(1, sizeof *ub);
    int r = io_uring_queue_init(URING_SLOTS, &ub->ring, 0);
    if (r < 0) {
        if (l->index == 0)
            LOG_WARN("io_uring unavailable (%s): drains write with writev", strerror(-r));
        tern_free(ub);
        return;
    }
    l->ub = ub;
    atomic_fetch_add(&l->srv->m_uring_loops, 1);
}

static void uring_teardown(ioloop *l)
{
    if (!l->ub)
        return;
    io_uring_queue_exit(&l->ub->ring);
    tern_free(l->ub);
    atomic_fetch_sub(&l->srv->m_uring_loops, 1);
    l->ub = NULL;
}

/* Submits slots [0, n) and settles each connection's frames by its send's result. A
 * send the kernel did not take counts as "nothing written" and goes to uv_write whole;
 * if the kernel refuses part of a submission the loop drops its ring (the refused
 * entries go with it) and writes with writev from then on. */
static void uring_run(ioloop *l, unsigned n)
{
    uring_batch *ub = l->ub;
    int res[URING_SLOTS];
    for (unsigned i = 0; i < n; i++)
        res[i] = UV_EAGAIN;
    int r;
    do
        r = io_uring_submit(&ub->ring);
    while (r == -EINTR);
    unsigned submitted = r > 0 ? (unsigned)r : 0;
    atomic_fetch_add_explicit(&l->srv->m_uring_sends, submitted, memory_order_relaxed);
    /* Every submitted send completes: MSG_DONTWAIT never waits for the socket. */
    for (unsigned seen = 0; seen < submitted;) {
        struct io_uring_cqe *cqe;
        int w = io_uring_wait_cqe(&ub->ring, &cqe);
        if (w == -EINTR)
            continue;
        if (w < 0) {
            LOG_ERROR("io_uring wait: %s", strerror(-w));
            abort(); /* sends in flight point into frames we would free */
        }
        uint64_t i = io_uring_cqe_get_data64(cqe);
        if (i < n)
            res[i] = cqe->res == -EINTR ? UV_EAGAIN : cqe->res;
        io_uring_cqe_seen(&ub->ring, cqe);
        seen++;
    }
    if (submitted < n)
        LOG_WARN("io_uring refused %u of %u sends (%s): loop %d writes with writev from now on", n - submitted, n,
                 r < 0 ? strerror(-r) : "short submit", l->index);
    for (unsigned i = 0; i < n; i++) {
        conn *c = ub->slot[i].c;
        cork_settle(c, &res[i]);
        tern_free(c->cork); /* as cork_release: idle connections keep no cork array */
        c->cork = NULL;
    }
    if (submitted < n)
        uring_teardown(l); /* the refused entries go with the ring */
}

/* Writes the corked connections of `list` (linked by cork_next, already unlinked from the
 * loop) through l's ring, a batch of up to URING_SLOTS sends per system call. */
static void uring_flush(ioloop *l, conn *list)
{
    unsigned n = 0;
    while (list) {
        conn *c = list;
        list = c->cork_next;
        uring_batch *ub = l->ub;
        if (!ub || !c->ncork || c->state == CONN_CLOSING || uv_is_closing((uv_handle_t *)&c->tcp) ||
            c->tcp.write_queue_size) {
            cork_release(c); /* nothing to send, or it must follow libuv's queue */
            continue;
        }
        uv_os_fd_t fd;
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ub->ring);
        if (!sqe || uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) {
            cork_release(c);
            continue;
        }
        c->cork_listed = 0;
        c->cork_next = NULL;
        c->cork_urgent = 0;
        uring_slot *sl = &ub->slot[n];
        sl->c = c;
        for (unsigned k = 0; k < c->ncork; k++) {
            sl->iov[k].iov_base = c->cork[k]->data;
            sl->iov[k].iov_len = c->cork[k]->len;
        }
        memset(&sl->mh, 0, sizeof sl->mh);
        sl->mh.msg_iov = sl->iov;
        sl->mh.msg_iovlen = c->ncork;
        io_uring_prep_sendmsg(sqe, fd, &sl->mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, n);
        if (++n == URING_SLOTS) {
            uring_run(l, n);
            n = 0;
        }
    }
    if (n)
        uring_run(l, n);
}

/* End of a drain (or of a push delay): one write per connection that got frames, all
 * in one system call when the loop has a ring. */
static void cork_flush_all(ioloop *l)
{
    conn *c = l->corked;
    l->corked = NULL;
    if (l->ub) {
        uring_flush(l, c);
        return;
    }
    while (c) {
        conn *next = c->cork_next;
        cork_release(c);
        c = next;
    }
}

/* End of a drain with push-delay-ms: writes the connections that got an answer (or
 * whose cork was already written); the others keep their pushes for the push timer. */
static void cork_flush_urgent(ioloop *l)
{
    conn **pp = &l->corked;
    while (*pp) {
        conn *c = *pp;
        if (c->cork_urgent || !c->ncork) {
            *pp = c->cork_next;
            cork_release(c);
        } else {
            pp = &c->cork_next;
        }
    }
}

static void on_push_timer(uv_timer_t *t)
{
    ioloop *l = t->data;
    l->push_timer_on = 0;
    cork_flush_all(l);
}

int conn_send(conn *c, frame *f)
{
    if (c->state == CONN_CLOSING || uv_is_closing((uv_handle_t *)&c->tcp))
        return -1;
    server *s = c->loop->srv;
    /* The ceiling is checked before adding, so one frame may overshoot it: a response
     * (a sync page can be ~1 MiB) always fits into a queue that was under the ceiling,
     * and the queue stays bounded by the ceiling plus the largest frame. */
    if (c->queued > s->cfg.max_send_queue && !c->close_sent) {
        /* Slow consumer: tell it to resync and let it go; its messages are stored. */
        static const char ev[] = "{\"ev\":\"resync\",\"data\":{\"code\":1201}}";
        atomic_fetch_add(&s->m_slow_drops, 1);
        LOG_WARN("conn %llu (%s): send queue over %zu bytes, closing 4001", (unsigned long long)c->id,
                 c->user ? c->user : "-", s->cfg.max_send_queue);
        frame *r = frame_text(ev, sizeof ev - 1);
        cork_flush(c);
        queue_write(c, r, (const char *)r->data, r->len, NULL);
        frame_unref(r);
        conn_close(c, WS_CLOSE_SLOW_CONSUMER, "slow consumer: resync");
        return -1;
    }
    if (c->loop->corking) {
        cork_add(c, f);
        return 0;
    }
    cork_flush(c); /* pushes held by push-delay-ms go first */
    queue_write(c, f, (const char *)f->data, f->len, NULL);
    return 0;
}

int conn_send_text(conn *c, const char *p, size_t n)
{
    frame *f = frame_text(p, n);
    int r = conn_send(c, f);
    frame_unref(f);
    return r;
}

void conn_write_raw(conn *c, const char *p, size_t n)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp) || !n)
        return;
    /* The caller's bytes may be freed (or be on its stack) as soon as we return, and the
     * socket may not take them all now: what is queued must own its copy. */
    char *copy = tern_malloc(n);
    memcpy(copy, p, n);
    queue_write(c, NULL, copy, n, copy);
}

/* ---- reads -------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn *c = (conn *)h;
    buf->base = c->loop->readbuf;
    buf->len = READBUF_SIZE;
}

static int on_ws_msg(void *ud, unsigned opcode, uint8_t *data, size_t len)
{
    conn *c = ud;
    switch (opcode) {
    case WS_OP_TEXT: session_on_message(c, (char *)data, len); break;
    case WS_OP_BINARY: conn_close(c, WS_CLOSE_UNSUPPORTED, "binary frames are not supported"); break;
    case WS_OP_PING: {
        frame *f = frame_build(WS_OP_PONG, data, len);
        conn_send(c, f);
        frame_unref(f);
        break;
    }
    case WS_OP_PONG: break;
    case WS_OP_CLOSE: {
        int code = len >= 2 ? (data[0] << 8 | data[1]) : WS_CLOSE_NORMAL;
        if (code < 1000 || code == 1005 || code == 1006 || code >= 5000)
            code = WS_CLOSE_NORMAL;
        conn_close(c, code, NULL);
        break;
    }
    }
    return c->state == CONN_CLOSING;
}

static void process_ws(conn *c, uint8_t *data, size_t n)
{
    int r = ws_reader_feed(&c->ws, data, n, on_ws_msg, c);
    if (r > 0) {
        const char *why = r == WS_CLOSE_TOO_BIG    ? "message too large"
                          : r == WS_CLOSE_BAD_DATA ? "invalid UTF-8"
                                                   : "protocol error";
        LOG_DEBUG("conn %llu: closing %d (%s)", (unsigned long long)c->id, r, why);
        conn_close(c, r, why);
    }
}

static void http_fail(conn *c, int rc)
{
    int status = rc == HTTP_ERR_HEAD_TOO_LARGE ? 431 : rc == HTTP_ERR_BODY_TOO_LARGE ? 413 : 400;
    const char *body =
        status == 431
            ? "{\"error\":\"header_too_large\",\"code\":1003,\"error_description\":\"request head over 16 KiB\"}"
        : status == 413
            ? "{\"error\":\"body_too_large\",\"code\":1003,\"error_description\":\"request body over the limit\"}"
            : "{\"error\":\"bad_request\",\"code\":1001,\"error_description\":\"malformed HTTP request\"}";
    tern_buf b;
    tern_buf_init(&b, 0);
    size_t bl = strlen(body);
    http_write_head(&b, status, "application/json", bl, 0, NULL);
    tern_buf_append(&b, body, bl);
    size_t len;
    char *p = tern_buf_steal(&b, &len);
    queue_write(c, NULL, p, len, p);
    conn_close(c, 0, NULL);
}

static void process_http(conn *c, char *data, size_t n)
{
    while (n > 0 && c->state == CONN_HTTP) {
        if (c->http_busy || c->queued > HTTP_QUEUE_MAX) {
            /* A request is being answered asynchronously, or the peer is not reading its
             * answers: hold pipelined bytes and stop reading (a pipelining client that
             * never reads cannot make us queue responses without bound). */
            if (tern_buf_append(&c->in, data, n) < 0) {
                conn_close(c, 0, NULL);
                return;
            }
            if (!c->reading_paused) {
                uv_read_stop((uv_stream_t *)&c->tcp);
                c->reading_paused = 1;
            }
            return;
        }
        size_t used = 0;
        int rc = http_parser_feed(c->http, data, n, &used);
        if (rc == HTTP_NEED_MORE)
            return;
        if (rc < 0) {
            http_fail(c, rc);
            return;
        }
        data += used;
        n -= used;
        const http_msg *m = http_parser_msg(c->http);
        atomic_fetch_add(&c->loop->srv->m_http_requests, 1);
        if (m->upgrade) {
            if (http_upgrade(c, m) == 0) {
                http_parser_free(c->http);
                c->http = NULL;
                if (n)
                    process_ws(c, (uint8_t *)data, n);
            }
            return;
        }
        if (http_handle(c, m)) {
            c->http_busy = 1;
            continue; /* stashes the rest above */
        }
        if (c->state != CONN_HTTP)
            return;
        http_parser_next(c->http);
    }
}

/* Processes held pipelined bytes and reads again when nothing holds us back. */
static void http_continue(conn *c)
{
    if (c->in.len && !c->http_busy && c->queued <= HTTP_QUEUE_MAX) {
        tern_buf pending = c->in;
        tern_buf_init(&c->in, HTTP_PENDING_MAX);
        process_http(c, pending.data, pending.len);
        tern_buf_free(&pending);
    }
    if (c->state == CONN_CLOSING || !c->reading_paused)
        return;
    if (c->state == CONN_HTTP && c->eof_seen && !c->http_busy && !c->in.len) {
        conn_close(c, 0, NULL); /* the peer half-closed: its last answer is written */
        return;
    }
    /* Also after an upgrade that arrived pipelined behind an async request. */
    if (c->state == CONN_WS || (!c->http_busy && !c->in.len && c->queued <= HTTP_QUEUE_MAX && !c->eof_seen)) {
        c->reading_paused = 0;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

void http_resume(conn *c)
{
    if (c->state != CONN_HTTP)
        return;
    c->http_busy = 0;
    http_parser_next(c->http);
    http_continue(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = (conn *)st;
    if (nread < 0) {
        if (nread == UV_EOF && c->state == CONN_HTTP && (c->http_busy || c->in.len)) {
            /* Half-closed while a request is still being answered: answer it, then close
             * (http_continue). The client must learn whether its message was stored. */
            c->eof_seen = 1;
            uv_read_stop(st);
            c->reading_paused = 1;
            return;
        }
        conn_close(c, 0, NULL);
        return;
    }
    if (nread == 0)
        return;
    c->last_active_ms = (uint64_t)tern_now_ms();
    if (c->state == CONN_HTTP)
        process_http(c, buf->base, (size_t)nread);
    else if (c->state == CONN_WS)
        process_ws(c, (uint8_t *)buf->base, (size_t)nread);
}

/* ---- accept, sweep ------------------------------------------------------------------ */

static void on_connection(uv_stream_t *srv, int status)
{
    ioloop *l = srv->data;
    if (status < 0 || l->stopping)
        return;
    conn *c = tern_calloc(1, sizeof *c);
    c->loop = l;
    uv_tcp_init(&l->loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)tern_free);
        return;
    }
    c->id = atomic_fetch_add(&l->srv->next_conn_id, 1);
    c->created_ms = c->last_active_ms = (uint64_t)tern_now_ms();
    c->http = http_parser_new(1, l->srv->cfg.max_http_body);
    ws_reader_init(&c->ws, 1, l->srv->cfg.ws_max_message);
    tern_buf_init(&c->in, HTTP_PENDING_MAX);
    uv_tcp_nodelay(&c->tcp, 1);
    hmap_put_u64(&l->conns, c->id, c);
    atomic_fetch_add(&l->srv->m_conns, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_sweep(uv_timer_t *t)
{
    ioloop *l = t->data;
    const config *cfg = &l->srv->cfg;
    uint64_t now = (uint64_t)tern_now_ms();
    hmap_entry *e;
    for (size_t i = 0; hmap_next(&l->conns, &i, &e);) {
        conn *c = e->val;
        uint64_t idle = now - c->last_active_ms;
        if (c->state == CONN_CLOSING) {
            if (idle > CLOSE_GRACE_MS)
                hard_close(c);
        } else if (c->state == CONN_HTTP) {
            if (idle > HTTP_IDLE_MS && !c->http_busy)
                conn_close(c, 0, NULL);
        } else if (!c->logged_in) {
            if (now - c->created_ms > (uint64_t)cfg->login_timeout * 1000)
                conn_close(c, WS_CLOSE_AUTH, "login timeout");
        } else if (idle > (uint64_t)cfg->idle_timeout * 1000) {
            conn_close(c, WS_CLOSE_IDLE, "idle timeout");
        }
    }
}

/* Runs on the loop when the server shuts down: close every connection (WebSocket
 * sessions get a `shutdown` event and close 1001) and then the loop's own handles. */
static void close_all(uv_timer_t *t);

static void loop_shutdown(ioloop *l, void *arg)
{
    static const char ev[] = "{\"ev\":\"shutdown\",\"data\":{}}";
    pthread_mutex_lock(&l->in.mu);
    l->stopping = 1;
    pthread_mutex_unlock(&l->in.mu);
    if (l->listening) {
        uv_close((uv_handle_t *)&l->listener, NULL);
        l->listening = 0;
    }
    hmap_entry *e;
    for (size_t i = 0; hmap_next(&l->conns, &i, &e);) {
        conn *c = e->val;
        if (c->state == CONN_WS) {
            conn_send_text(c, ev, sizeof ev - 1);
            conn_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
        } else if (c->state == CONN_HTTP && !c->http_busy) {
            conn_close(c, 0, NULL);
        }
    }
    /* Give writes a moment to flush, then close whatever is left and the loop handles. */
    uv_timer_stop(&l->sweep);
    uv_timer_start(&l->sweep, close_all, 200, 100);
}

static void close_all(uv_timer_t *t)
{
    ioloop *l = t->data;
    uint64_t now = (uint64_t)tern_now_ms();
    size_t open = 0;
    hmap_entry *e;
    for (size_t i = 0; hmap_next(&l->conns, &i, &e);) {
        conn *c = e->val;
        if (c->state != CONN_CLOSING)
            conn_close(c, 0, NULL);
        if (now - c->last_active_ms > CLOSE_GRACE_MS)
            hard_close(c);
        open++;
    }
    if (open)
        return;
    uv_timer_stop(&l->sweep);
    uv_close((uv_handle_t *)&l->sweep, NULL);
    uv_timer_stop(&l->push_timer);
    uv_close((uv_handle_t *)&l->push_timer, NULL);
    pthread_mutex_lock(&l->in.mu);
    l->stopping = 2;
    pthread_mutex_unlock(&l->in.mu);
    /* Items that arrive from now on are run by ioloop_free. */
    uv_close((uv_handle_t *)&l->in.async, NULL);
}

void ioloop_request_shutdown(ioloop *l)
{
    inbox_item it = {.fn = loop_shutdown, .arg = NULL};
    inbox_push(l, &it);
}

static void loop_main(void *arg)
{
    ioloop *l = arg;
    char name[16];
    snprintf(name, sizeof name, "tern-io-%d", l->index);
    pthread_setname_np(pthread_self(), name);
    uv_run(&l->loop, UV_RUN_DEFAULT);
}

int ioloop_init(server *s, ioloop *l, int index, int fd)
{
    memset(l, 0, sizeof *l);
    l->srv = s;
    l->index = index;
    if (uv_loop_init(&l->loop) != 0)
        return -1;
    pthread_mutex_init(&l->in.mu, NULL);
    uv_async_init(&l->loop, &l->in.async, inbox_drain);
    l->in.async.data = l;
    uv_timer_init(&l->loop, &l->sweep);
    l->sweep.data = l;
    uv_timer_start(&l->sweep, on_sweep, 1000, 1000);
    uv_timer_init(&l->loop, &l->push_timer);
    l->push_timer.data = l;
    hmap_init(&l->conns);
    tern_buf_init(&l->scratch, 0);
    l->readbuf = tern_malloc(READBUF_SIZE);
    uring_setup(l);
    l->reader = store_reader_open(s->st);
    if (!l->reader)
        return -1;
    uv_tcp_init(&l->loop, &l->listener);
    l->listener.data = l;
    if (uv_tcp_open(&l->listener, fd) != 0)
        return -1;
    if (uv_listen((uv_stream_t *)&l->listener, 4096, on_connection) != 0)
        return -1;
    l->listening = 1;
    return 0;
}

int ioloop_start(server *s, ioloop *l, int index)
{
    (void)s;
    (void)index;
    return uv_thread_create(&l->thread, loop_main, l);
}

void ioloop_join(ioloop *l)
{
    uv_thread_join(&l->thread);
    uv_loop_close(&l->loop);
    store_reader_close(l->reader); /* before store_close */
    l->reader = NULL;
}

void ioloop_free(ioloop *l)
{
    /* The store writer has stopped: run what was queued after the loop closed its async
     * handle. Every connection is gone, so frames are dropped and callbacks (REST
     * completions) find no connection and free their state. */
    inbox_item *items = l->in.items;
    size_t n = l->in.len;
    l->in.items = NULL;
    l->in.len = l->in.cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].fn)
            items[i].fn(l, items[i].arg);
        frame_unref(items[i].f);
    }
    tern_free(items);
    hmap_free(&l->conns);
    tern_free(l->readbuf);
    uring_teardown(l);
    tern_buf_free(&l->scratch);
    pthread_mutex_destroy(&l->in.mu);
}
