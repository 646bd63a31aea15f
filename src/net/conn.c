/*
 * conn.c — one TCP connection of the network layer: its lifetime (accept to the handle's
 * close callback), its writes (try first, queue the rest, send-queue ceiling), the cork
 * that batches a drain's frames into one write, reads, and the WebSocket phase. The HTTP
 * phase is http_conn.c's, io_uring writes uring.c's.
 *
 * Reads use one 64 KiB buffer per loop (every read is consumed before the next), so an
 * idle connection owns no read buffer. Writes: bytes are first tried with uv_try_write;
 * only what the socket did not take is queued with uv_write, holding a reference to the
 * shared frame. Queued bytes per connection are bounded by max_send_queue: past it the
 * server's overflow handler gives a last frame and the connection closes with 4001.
 *
 * While a loop drains its inbox, frames for one connection are corked and written with
 * one writev (or one io_uring send) at the end of the drain: a connection that gets an
 * ack and a delivery (or several deliveries) from one store batch costs one system call,
 * not one per frame. With push_delay_ms > 0, a connection whose corked frames are all
 * pushed events stays corked after the drain, up to that many milliseconds (the loop's
 * push timer), so the pushes of several batches share a write. An answer, a close, or
 * any direct write to the connection writes what is corked first, so the order of frames
 * on a connection never changes. Corked bytes count in queued, so the ceiling bounds
 * them too.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "net/net_int.h"

typedef struct write_req {
    uv_write_t req;
    char *raw;    /* owned raw bytes (HTTP), or NULL */
    uint32_t len; /* bytes counted in conn->queued */
    uint32_t nf;  /* shared frames referenced below */
    frame *f[];
} write_req;

static void write_rest(net_conn *c, uv_buf_t *bufs, unsigned nb, frame **frames, char *owned, int r, size_t total);

/* ---- lifetime ----------------------------------------------------------------------- */

net_conn *conn_new(net_loop *l)
{
    net *n = l->net;
    net_conn *c = tern_calloc(1, sizeof *c + n->cfg.conn_ud_size);
    c->loop = l;
    uv_tcp_init(&l->loop, &c->tcp);
    c->id = atomic_fetch_add(&n->next_conn_id, 1);
    c->last_active_ms = (uint64_t)tern_now_ms();
    c->http = http_parser_new(1, n->cfg.max_http_body);
    http_parser_pause_at_head(c->http, 1); /* the server sees a head before its body */
    tern_buf_init(&c->in, NET_HTTP_PENDING_MAX);
    return c;
}

static void tell_close(net_conn *c)
{
    if (c->close_told)
        return;
    c->close_told = 1;
    if (c->loop->net->h.close)
        c->loop->net->h.close(c);
}

static void on_close(uv_handle_t *h)
{
    net_conn *c = (net_conn *)h;
    net_loop *l = c->loop;
    if (c->cork_listed) { /* held pushes (push_delay_ms): leave the loop's list */
        net_conn **pp = &l->corked;
        while (*pp && *pp != c)
            pp = &(*pp)->cork_next;
        if (*pp)
            *pp = c->cork_next;
    }
    int counted = hmap_del_u64(&l->conns, c->id) != NULL;
    tell_close(c);
    if (c->ws_phase) {
        ws_reader_free(&c->ws);
    } else {
        http_stream_on_close(c);
        http_conn_free(c);
    }
    for (unsigned i = 0; i < c->ncork; i++)
        frame_unref(c->cork[i]);
    tern_free(c->cork);
    tern_free(c);
    if (counted)
        atomic_fetch_sub(&l->net->stats.conns, 1);
}

void conn_hard_close(net_conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    net_conn *c = req->data;
    tern_free(req);
    conn_hard_close(c);
}

static void cork_flush(net_conn *c)
{
    cork_settle(c, NULL);
}

void net_conn_close(net_conn *c, int ws_code, const char *reason)
{
    if (c->state == CONN_CLOSING)
        return;
    cork_flush(c); /* what was corked goes out before the close frame */
    if (c->state == CONN_WS && ws_code && !c->close_sent) {
        frame *f = frame_close(ws_code, reason);
        c->close_sent = 1;
        /* Written now, past the ceiling and any cork: the close frame must go out
         * before the shutdown below, even to a slow consumer. */
        conn_queue_write(c, f, (const char *)f->data, f->len, NULL);
        frame_unref(f);
    }
    tell_close(c);
    if (!c->ws_phase)
        http_stream_on_close(c);
    c->state = CONN_CLOSING;
    c->last_active_ms = (uint64_t)tern_now_ms();
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_shutdown_t *req = tern_malloc(sizeof *req);
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        tern_free(req);
        conn_hard_close(c);
    }
}

void *net_conn_ud(net_conn *c)
{
    return c->ud;
}

net_conn *net_conn_of_ud(void *ud)
{
    return (net_conn *)((char *)ud - offsetof(net_conn, ud));
}

uint64_t net_conn_id(const net_conn *c)
{
    return c->id;
}

net_loop *net_conn_loop(const net_conn *c)
{
    return c->loop;
}

int net_conn_is_http(const net_conn *c)
{
    return c->state == CONN_HTTP;
}

void net_conn_set_deadline(net_conn *c, int ms, int ws_code, const char *reason)
{
    if (c->state != CONN_WS)
        return;
    c->deadline_ms = ms > 0 ? (uint64_t)tern_now_ms() + (uint64_t)ms : 0;
    c->deadline_code = (uint16_t)ws_code;
    c->dl.reason = reason;
}

/* ---- writes ------------------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    net_conn *c = (net_conn *)req->handle;
    c->queued -= w->len < c->queued ? w->len : c->queued;
    for (uint32_t i = 0; i < w->nf; i++)
        frame_unref(w->f[i]);
    tern_free(w->raw);
    tern_free(w);
    if (status < 0 && status != UV_ECANCELED && c->state != CONN_CLOSING) {
        net_conn_close(c, 0, NULL);
        return;
    }
    if (!c->ws_phase && c->x)
        http_stream_on_write(c);
    if (c->state == CONN_HTTP && c->reading_paused && c->queued <= NET_HTTP_QUEUE_MAX / 2)
        http_conn_continue(c);
}

/* Writes bufs (frames[i] backs bufs[i] when frames is not NULL; `owned` backs a single
 * raw buffer): first straight to the socket, then whatever it did not take through
 * uv_write, holding references until written. */
static void write_bufs(net_conn *c, uv_buf_t *bufs, unsigned nb, frame **frames, char *owned)
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
static void write_rest(net_conn *c, uv_buf_t *bufs, unsigned nb, frame **frames, char *owned, int r, size_t total)
{
    if (r == (int)total) {
        tern_free(owned);
        return;
    }
    if (r < 0 && r != UV_EAGAIN) {
        tern_free(owned);
        if (c->state != CONN_CLOSING)
            net_conn_close(c, 0, NULL);
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
            net_conn_close(c, 0, NULL);
    }
}

void conn_queue_write(net_conn *c, frame *f, const char *p, size_t n, char *owned)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    write_bufs(c, &b, 1, f ? &f : NULL, owned);
}

/* Settles the frames corked on c: sent is NULL to write them now with one writev, or
 * the result of the send io_uring already made of them (bytes or -errno). Either way
 * what the socket did not take is queued with uv_write (write_rest). */
void cork_settle(net_conn *c, const int *sent)
{
    unsigned n = c->ncork;
    if (!n)
        return;
    uv_buf_t bufs[NET_CORK_MAX];
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

static void cork_add(net_conn *c, frame *f)
{
    net_loop *l = c->loop;
    if (!c->cork)
        c->cork = tern_malloc(NET_CORK_MAX * sizeof *c->cork);
    if (c->ncork == NET_CORK_MAX)
        cork_flush(c);
    if (!c->ncork && !c->cork_listed) {
        c->cork_listed = 1;
        c->cork_next = l->corked;
        l->corked = c;
    }
    c->cork[c->ncork++] = frame_ref(f);
    c->queued += f->len;
}

void cork_unlist(net_conn *c)
{
    c->cork_listed = 0;
    c->cork_next = NULL;
    c->cork_urgent = 0;
}

void cork_settle_drop(net_conn *c, const int *sent)
{
    cork_settle(c, sent);
    tern_free(c->cork);
    c->cork = NULL;
}

void cork_release(net_conn *c)
{
    cork_unlist(c);
    cork_settle_drop(c, NULL);
}

/* End of a drain (or of a push delay): one write per connection that got frames, all
 * in one system call when the loop has a ring. */
void cork_flush_all(net_loop *l)
{
    net_conn *c = l->corked;
    l->corked = NULL;
    if (l->ub) {
        uring_flush(l, c);
        return;
    }
    while (c) {
        net_conn *next = c->cork_next;
        cork_release(c);
        c = next;
    }
}

/* End of a drain with push_delay_ms: writes the connections that got an answer (or
 * whose cork was already written); the others keep their pushes for the push timer. */
void cork_flush_urgent(net_loop *l)
{
    net_conn **pp = &l->corked;
    while (*pp) {
        net_conn *c = *pp;
        if (c->cork_urgent || !c->ncork) {
            *pp = c->cork_next;
            cork_release(c);
        } else {
            pp = &c->cork_next;
        }
    }
}

int net_conn_send(net_conn *c, frame *f)
{
    if (c->state == CONN_CLOSING || uv_is_closing((uv_handle_t *)&c->tcp))
        return -1;
    net *n = c->loop->net;
    /* The ceiling is checked before adding, so one frame may overshoot it: a response
     * (a sync page can be ~1 MiB) always fits into a queue that was under the ceiling,
     * and the queue stays bounded by the ceiling plus the largest frame. */
    if (c->queued > n->cfg.max_send_queue && !c->close_sent) {
        /* Slow consumer: the server may give a last frame (it tells the client to
         * resync); then the connection goes. Nothing is lost: messages are stored. */
        atomic_fetch_add(&n->stats.slow_drops, 1);
        frame *last = n->h.overflow ? n->h.overflow(c) : NULL;
        cork_flush(c);
        if (last) {
            conn_queue_write(c, last, (const char *)last->data, last->len, NULL);
            frame_unref(last);
        }
        net_conn_close(c, NET_WS_CLOSE_SLOW_CONSUMER, "slow consumer: resync");
        return -1;
    }
    if (c->loop->corking) {
        cork_add(c, f);
        return 0;
    }
    cork_flush(c); /* pushes held by push_delay_ms go first */
    conn_queue_write(c, f, (const char *)f->data, f->len, NULL);
    return 0;
}

int net_conn_send_text(net_conn *c, const char *p, size_t n)
{
    frame *f = frame_text(p, n);
    int r = net_conn_send(c, f);
    frame_unref(f);
    return r;
}

void net_conn_write(net_conn *c, const char *p, size_t n)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp) || !n)
        return;
    /* The caller's bytes may be freed (or be on its stack) as soon as we return, and the
     * socket may not take them all now: what is queued must own its copy. */
    char *copy = tern_malloc(n);
    memcpy(copy, p, n);
    conn_queue_write(c, NULL, copy, n, copy);
}

/* ---- reads and the WebSocket phase -------------------------------------------------- */

void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    net_conn *c = (net_conn *)h;
    buf->base = c->loop->readbuf;
    buf->len = NET_READBUF_SIZE;
}

static int on_ws_msg(void *ud, unsigned opcode, uint8_t *data, size_t len)
{
    net_conn *c = ud;
    switch (opcode) {
    case WS_OP_TEXT: c->loop->net->h.ws_text(c, (char *)data, len); break;
    case WS_OP_BINARY: net_conn_close(c, WS_CLOSE_UNSUPPORTED, "binary frames are not supported"); break;
    case WS_OP_PING: {
        frame *f = frame_build(WS_OP_PONG, data, len);
        net_conn_send(c, f);
        frame_unref(f);
        break;
    }
    case WS_OP_PONG: break;
    case WS_OP_CLOSE: {
        int code = len >= 2 ? (data[0] << 8 | data[1]) : WS_CLOSE_NORMAL;
        if (code < 1000 || code == 1005 || code == 1006 || code >= 5000)
            code = WS_CLOSE_NORMAL;
        net_conn_close(c, code, NULL);
        break;
    }
    }
    return c->state == CONN_CLOSING;
}

void conn_process_ws(net_conn *c, uint8_t *data, size_t n)
{
    int r = ws_reader_feed(&c->ws, data, n, on_ws_msg, c);
    if (r > 0) {
        const char *why = r == WS_CLOSE_TOO_BIG    ? "message too large"
                          : r == WS_CLOSE_BAD_DATA ? "invalid UTF-8"
                                                   : "protocol error";
        LOG_DEBUG("conn %llu: closing %d (%s)", (unsigned long long)c->id, r, why);
        net_conn_close(c, r, why);
    }
}

void net_conn_ws_accept(net_conn *c, const char *resp, size_t n)
{
    /* The HTTP state goes when the handler returns (http_conn_process). */
    net_conn_write(c, resp, n);
    c->state = CONN_WS;
    c->deadline_ms = 0;
    c->dl.reason = NULL;
}

void conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    net_conn *c = (net_conn *)st;
    if (nread < 0) {
        if (nread == UV_EOF && c->state == CONN_HTTP && (c->http_busy || c->in.len)) {
            /* Half-closed while a request is still being answered: answer it, then close
             * (http_conn_continue). The client must learn whether its message was stored. */
            c->eof_seen = 1;
            uv_read_stop(st);
            c->reading_paused = 1;
            return;
        }
        net_conn_close(c, 0, NULL);
        return;
    }
    if (nread == 0)
        return;
    c->last_active_ms = (uint64_t)tern_now_ms();
    if (c->state == CONN_HTTP)
        http_conn_process(c, buf->base, (size_t)nread);
    else if (c->state == CONN_WS && c->ws_phase)
        conn_process_ws(c, (uint8_t *)buf->base, (size_t)nread);
}
