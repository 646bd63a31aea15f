/*
 * client.c — tern-bench's WebSocket clients: one libuv loop per thread, each owning a
 * slice of the connections. A connection goes TCP connect → HTTP upgrade (subprotocol
 * tern.v1, checked Sec-WebSocket-Accept) → login with a locally minted token → `ready`,
 * with a bounded number of connects in flight. During the run a 1 ms timer paces the
 * sends (open loop, round-robin over the thread's senders).
 *
 * The hot path is built not to be the bottleneck:
 *   - a send patches fixed-width digits (request id, clientMsgId, sequence, send time)
 *     into the sender's pre-encoded request and masks it straight into the connection's
 *     reusable output buffer, then tries a direct write;
 *   - incoming bytes land in one per-thread read buffer and are parsed in place by the
 *     core codec (ws.h); a delivery is recognised by the marker "~tb1~" that every text
 *     carries, and sender, sequence and send time are read at fixed offsets after it —
 *     no JSON parse, no allocation per message;
 *   - loss and duplicates are exact: one bit per (message, recipient) set with an
 *     atomic OR, since a recipient may live on another thread than the sender.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/token.h"
#include "core/util.h"

#define READBUF_SIZE (256 * 1024)
#define WS_CLIENT_MAX_MSG (4u << 20)
#define KEEPALIVE_NS (25ull * 1000000000ull)
#define MARKER "~tb1~"
#define MARKER_LEN 5
/* ~tb1~ RRRRRRRR ~ SSSSSS ~ QQQQQQQQQQ ~ TTTTTTTTTTTTTTTTTTTT ~ */
#define TXT_RUN_OFF MARKER_LEN
#define TXT_SND_OFF (TXT_RUN_OFF + 9)
#define TXT_SEQ_OFF (TXT_SND_OFF + 7)
#define TXT_TS_OFF (TXT_SEQ_OFF + 11)
#define TXT_HEAD_LEN (TXT_TS_OFF + 21)

#define CINC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)

static void connect_more(bthread *t);

/* ---- small helpers ------------------------------------------------------------------- */

static void put_dec(char *p, int width, uint64_t v)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Reads exactly width decimal digits; -1 if one is not a digit. */
static int get_dec(const char *p, int width, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int get_hex32(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char ch = p[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static void next_mask(bthread *t, uint8_t mask[4])
{
    uint64_t x = t->xs;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t->xs = x;
    memcpy(mask, &x, 4);
}

static void set_err(bthread *t, const char *fmt, const char *a, const char *bb)
{
    if (!t->errmsg[0])
        snprintf(t->errmsg, sizeof t->errmsg, fmt, a, bb);
}

/* ---- connection lifecycle ------------------------------------------------------------- */

static void on_close(uv_handle_t *h)
{
    bconn *c = h->data;
    tern_buf_free(&c->out);
    tern_buf_free(&c->inflight);
    ws_reader_free(&c->wr);
    if (c->hp) {
        http_parser_free(c->hp);
        c->hp = NULL;
    }
}

static void conn_close_handle(bconn *c)
{
    if (c->handle_open) {
        c->handle_open = 0;
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

/* Ends a connection: during setup it counts as a failed connect, after `ready` as an
 * unexpected close (unless the run is stopping). */
static void conn_end(bconn *c, const char *why)
{
    bthread *t = c->th;
    if (c->state >= C_FAILED)
        return;
    int stopping = __atomic_load_n(&t->b->phase, __ATOMIC_ACQUIRE) == PH_STOP;
    if (c->state == C_READY) {
        c->state = C_CLOSED;
        if (!stopping) {
            CINC(t->c.closed_unexpected);
            set_err(t, "connection %s closed: %s", c->user, why);
        }
    } else {
        c->state = C_FAILED;
        t->in_flight--;
        if (!stopping) {
            CINC(t->c.conn_failed);
            set_err(t, "connection %s failed: %s", c->user, why);
        }
    }
    conn_close_handle(c);
    if (!stopping)
        connect_more(t);
}

static void on_write(uv_write_t *req, int status);

int bench_flush(uv_stream_t *st, uv_write_t *req, tern_buf *out, tern_buf *inflight, uint8_t *writing, uv_write_cb cb)
{
    if (*writing || out->len == 0)
        return 0;
    uv_buf_t ub = uv_buf_init(out->data, (unsigned)out->len);
    int w = uv_try_write(st, &ub, 1);
    if (w == (int)out->len) {
        tern_buf_reset(out);
        return 0;
    }
    if (w < 0 && w != UV_EAGAIN)
        return w;
    if (w > 0)
        tern_buf_consume(out, (size_t)w);
    tern_buf tmp = *inflight;
    *inflight = *out;
    *out = tmp;
    tern_buf_reset(out);
    ub = uv_buf_init(inflight->data, (unsigned)inflight->len);
    *writing = 1;
    int r = uv_write(req, st, &ub, 1, cb);
    if (r < 0)
        *writing = 0;
    return r < 0 ? r : 0;
}

/* Hands c->out to the kernel: a direct write first, the remainder through uv_write. */
static void conn_flush(bconn *c)
{
    if (!c->handle_open)
        return;
    int r = bench_flush((uv_stream_t *)&c->tcp, &c->wreq, &c->out, &c->inflight, &c->writing, on_write);
    if (r < 0)
        conn_end(c, uv_strerror(r));
}

static void on_write(uv_write_t *req, int status)
{
    bconn *c = req->handle->data;
    c->writing = 0;
    tern_buf_reset(&c->inflight);
    if (status < 0) {
        if (status != UV_ECANCELED)
            conn_end(c, uv_strerror(status));
        return;
    }
    conn_flush(c);
}

static int conn_send_frame(bconn *c, unsigned op, const void *p, size_t n)
{
    uint8_t mask[4];
    next_mask(c->th, mask);
    if (ws_append_frame(&c->out, op, p, n, mask) < 0)
        return -1;
    c->last_tx = tern_mono_ns();
    conn_flush(c);
    return 0;
}

static void send_login(bconn *c)
{
    bthread *t = c->th;
    const bench_cfg *cfg = &t->b->cfg;
    char tok[TERN_TOKEN_MAX];
    int64_t exp = (int64_t)time(NULL) + 86400;
    const char *appkey = t->b->napps ? t->b->apps[c->app].appkey : cfg->appkey;
    const char *secret = t->b->napps ? t->b->apps[c->app].secret : cfg->secret;
    if (tern_token_mint('u', appkey, c->user, exp, secret, tok, sizeof tok) < 0) {
        conn_end(c, "cannot mint a token");
        return;
    }
    char frame[1024];
    int n = snprintf(frame, sizeof frame,
                     "{\"op\":\"login\",\"id\":\"login\",\"app\":\"%s\",\"user\":\"%s\",\"token\":\"%s\","
                     "\"device\":\"bench\",\"platform\":\"tern-bench\"}",
                     appkey, c->user, tok);
    if (n < 0 || (size_t)n >= sizeof frame) {
        conn_end(c, "login frame too long");
        return;
    }
    c->state = C_LOGIN;
    conn_send_frame(c, WS_OP_TEXT, frame, (size_t)n);
}

/* ---- receiving ----------------------------------------------------------------------- */

static void on_delivery(bconn *c, const char *m, size_t avail)
{
    bthread *t = c->th;
    bench *b = t->b;
    uint64_t now = tern_mono_ns();
    uint32_t run;
    uint64_t si, seq, ts;
    if (avail < TXT_HEAD_LEN || get_hex32(m + TXT_RUN_OFF, &run) < 0 || run != b->cfg.runid ||
        get_dec(m + TXT_SND_OFF, 6, &si) < 0 || get_dec(m + TXT_SEQ_OFF, 10, &seq) < 0 ||
        get_dec(m + TXT_TS_OFF, 20, &ts) < 0 || si >= (uint64_t)b->nsenders) {
        CINC(t->c.unexpected);
        return;
    }
    sender *s = &b->senders[si];
    uint32_t slot;
    if (b->cfg.workload == W_C2C) {
        if (s->peer_conn != c->idx) {
            CINC(t->c.unexpected);
            return;
        }
        slot = 0;
    } else {
        if (s->group != c->group || c->slot >= s->nslots || c->slot == s->self_slot) {
            CINC(t->c.unexpected);
            return;
        }
        slot = c->slot;
    }
    if (seq >= s->seq_cap) {
        CINC(t->c.unexpected);
        return;
    }
    uint64_t bit = seq * s->nslots + slot;
    uint64_t mask = 1ull << (bit & 63);
    uint64_t old = __atomic_fetch_or(&s->recv_bits[bit >> 6], mask, __ATOMIC_RELAXED);
    if (old & mask)
        CINC(t->c.dups);
    else
        CINC(t->c.recv_distinct);
    CINC(t->c.recv);
    if (now >= t->win_start && now < t->win_end) {
        CINC(t->c.recv_win);
        hist_add(ts < t->win_split[0] ? &t->lat : &t->lat_seg[ts >= t->win_split[1]], now > ts ? now - ts : 0);
    }
}

static void on_ack(bconn *c, const char *d, size_t n)
{
    bthread *t = c->th;
    const char *idp;
    long code = -1;
    uint64_t seq;
    if (c->sender < 0 || tern_json_scan_str(d, n, "\"id\"", &idp) != 10 || get_dec(idp, 10, &seq) < 0 ||
        tern_json_scan_int(d, n, "\"code\"", &code) < 0) {
        CINC(t->c.unexpected);
        return;
    }
    sender *s = &t->b->senders[c->sender];
    if (seq >= s->next_seq || s->acked[seq]) {
        CINC(t->c.unexpected);
        return;
    }
    uint64_t now = tern_mono_ns();
    if (code == 0) {
        s->acked[seq] = 1;
        CINC(t->c.acks);
        __atomic_store_n(&t->c.expected, t->c.expected + s->expect, __ATOMIC_RELAXED);
        uint64_t st = s->send_ns[seq];
        if (st >= t->win_start && st < t->win_end) {
            CINC(t->c.acks_win);
            hist_add(&t->ack, now - st);
        }
    } else {
        s->acked[seq] = 2;
        CINC(t->c.ack_errors);
        if (!t->errmsg[0]) {
            const char *msg = "";
            int ml = tern_json_scan_str(d, n, "\"message\"", &msg);
            snprintf(t->errmsg, sizeof t->errmsg, "send failed: code %ld %.*s", code, ml > 0 ? ml : 0, msg);
        }
    }
}

static void on_ready(bconn *c)
{
    bthread *t = c->th;
    uint64_t now = tern_mono_ns();
    c->state = C_READY;
    c->t_ready = now;
    t->in_flight--;
    CINC(t->c.conn_ready);
    hist_add(&t->connect, now - c->t_start);
    if (now > t->last_ready)
        t->last_ready = now;
    connect_more(t);
}

/* A text message from the server. Returns non-zero to stop reading (connection ended). */
static int on_text(bconn *c, const char *d, size_t n)
{
    bthread *t = c->th;
    if (c->state == C_READY) {
        const char *m = memmem(d, n, MARKER, MARKER_LEN);
        if (m) {
            on_delivery(c, m, (size_t)(d + n - m));
            return 0;
        }
        if (t->b->sr && (m = memmem(d, n, STREAM_MARKER, STREAM_MARKER_LEN))) {
            stream_on_delivery(c, m, (size_t)(d + n - m));
            return 0;
        }
    }
    const char *v;
    int vn = tern_json_scan_str(d, n, "\"re\"", &v);
    if (vn >= 0) {
        if (vn == 4 && memcmp(v, "send", 4) == 0) {
            on_ack(c, d, n);
        } else if (vn == 5 && memcmp(v, "login", 5) == 0) {
            long code = -1;
            if (tern_json_scan_int(d, n, "\"code\"", &code) < 0 || code != 0) {
                char why[160];
                const char *msg = "";
                int ml = tern_json_scan_str(d, n, "\"message\"", &msg);
                snprintf(why, sizeof why, "login refused: code %ld %.*s", code, ml > 0 ? ml : 0, msg);
                conn_end(c, why);
                return 1;
            }
        }
        return 0;
    }
    vn = tern_json_scan_str(d, n, "\"ev\"", &v);
    if (vn == 5 && memcmp(v, "ready", 5) == 0) {
        if (c->state == C_LOGIN)
            on_ready(c);
    } else if (vn == 3 && memcmp(v, "msg", 3) == 0) {
        CINC(t->c.unexpected); /* a message that is not ours */
    } else if (vn > 0 &&
               (memcmp(v, "kicked", 6) == 0 || memcmp(v, "resync", 6) == 0 || memcmp(v, "shutdown", 8) == 0)) {
        CINC(t->c.server_events);
        set_err(t, "server event on %s: %.40s", c->user, d);
    }
    return 0;
}

static int on_ws_msg(void *ud, unsigned opcode, uint8_t *data, size_t len)
{
    bconn *c = ud;
    switch (opcode) {
    case WS_OP_TEXT: return on_text(c, (const char *)data, len);
    case WS_OP_PING: conn_send_frame(c, WS_OP_PONG, data, len); return c->handle_open ? 0 : 1;
    case WS_OP_CLOSE: {
        char why[64];
        unsigned code = len >= 2 ? (unsigned)data[0] << 8 | data[1] : 1005;
        snprintf(why, sizeof why, "server closed the WebSocket (%u)", code);
        conn_end(c, why);
        return 1;
    }
    default: return 0;
    }
}

/* The HTTP 101 answer to the upgrade; returns the bytes it used, or -1 (conn ended). */
static long on_handshake(bconn *c, const char *p, size_t n)
{
    size_t used = 0;
    int st = http_parser_feed(c->hp, p, n, &used);
    if (st == HTTP_NEED_MORE)
        return (long)n;
    if (st != HTTP_COMPLETE) {
        conn_end(c, "malformed upgrade response");
        return -1;
    }
    const http_msg *m = http_parser_msg(c->hp);
    if (m->status != 101) {
        char why[64];
        snprintf(why, sizeof why, "upgrade refused: HTTP %d", m->status);
        conn_end(c, why);
        return -1;
    }
    char want[29];
    tern_str acc = http_header_get(m, "Sec-WebSocket-Accept");
    if (ws_accept_key(c->wskey, strlen(c->wskey), want) < 0 || acc.n != 28 || memcmp(acc.p, want, 28) != 0) {
        conn_end(c, "bad Sec-WebSocket-Accept");
        return -1;
    }
    tern_str proto = http_header_get(m, "Sec-WebSocket-Protocol");
    if (!(proto.n == 7 && memcmp(proto.p, "tern.v1", 7) == 0)) {
        conn_end(c, "server did not select subprotocol tern.v1");
        return -1;
    }
    http_parser_free(c->hp);
    c->hp = NULL;
    ws_reader_init(&c->wr, 0, WS_CLIENT_MAX_MSG);
    send_login(c);
    return c->handle_open ? (long)used : -1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    bconn *c = h->data;
    /* One buffer per thread: a read is consumed entirely before the next one. */
    buf->base = c->th->readbuf;
    buf->len = READBUF_SIZE;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bconn *c = s->data;
    if (nread < 0) {
        conn_end(c, nread == UV_EOF ? "connection closed by the server" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || c->state >= C_FAILED)
        return;
    uint8_t *p = (uint8_t *)buf->base;
    size_t n = (size_t)nread;
    if (c->state == C_HANDSHAKE) {
        long used = on_handshake(c, (const char *)p, n);
        if (used < 0 || c->state == C_HANDSHAKE)
            return;
        p += used;
        n -= (size_t)used;
        if (!n)
            return;
    }
    int r = ws_reader_feed(&c->wr, p, n, on_ws_msg, c);
    if (r != 0 && r != WS_STOP) {
        char why[64];
        snprintf(why, sizeof why, "WebSocket protocol error (%d)", r);
        conn_end(c, why);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    bconn *c = req->handle->data;
    if (status < 0) {
        conn_end(c, uv_strerror(status));
        return;
    }
    if (c->state != C_CONNECTING)
        return;
    uv_tcp_nodelay(&c->tcp, 1);
    const bench_cfg *cfg = &c->th->b->cfg;
    c->hp = http_parser_new(0, 4096);
    ws_make_key(c->wskey);
    if (!c->hp || ws_client_request(&c->out, cfg->hostport, cfg->path, c->wskey, "tern.v1") < 0) {
        conn_end(c, "cannot build the upgrade request");
        return;
    }
    c->state = C_HANDSHAKE;
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        conn_end(c, uv_strerror(r));
        return;
    }
    conn_flush(c);
}

static void conn_start(bthread *t, bconn *c)
{
    c->th = t;
    c->t_start = tern_mono_ns();
    if (!t->first_connect)
        t->first_connect = c->t_start;
    c->state = C_CONNECTING;
    t->in_flight++;
    tern_buf_init(&c->out, 0);
    tern_buf_init(&c->inflight, 0);
    uv_tcp_init(&t->loop, &c->tcp);
    c->tcp.data = c;
    c->handle_open = 1;
    int r = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&t->b->cfg.addr, on_connect);
    if (r < 0)
        conn_end(c, uv_strerror(r));
}

/* Starts connects up to the in-flight bound. Re-entrant calls (a connect failing at
 * once) only update the counters; the outer call's loop picks the next one up. */
static void connect_more(bthread *t)
{
    if (t->in_connect_more)
        return;
    t->in_connect_more = 1;
    while (t->in_flight < t->max_in_flight && t->next_connect < t->nconns &&
           __atomic_load_n(&t->b->phase, __ATOMIC_ACQUIRE) != PH_STOP)
        conn_start(t, &t->b->conns[t->conns[t->next_connect++]]);
    t->in_connect_more = 0;
    if (t->next_connect == t->nconns && t->in_flight == 0)
        __atomic_store_n(&t->done_connecting, 1, __ATOMIC_RELEASE);
}

/* ---- sending and pacing -------------------------------------------------------------- */

static void send_one(bthread *t, sender *s, uint64_t now)
{
    bconn *c = &t->b->conns[s->conn];
    if (c->state != C_READY || s->next_seq >= s->seq_cap) {
        CINC(t->c.send_dropped);
        return;
    }
    uint64_t seq = s->next_seq++;
    put_dec(s->tmpl + s->off_id, 10, seq);
    put_dec(s->tmpl + s->off_cmid, 10, seq);
    put_dec(s->tmpl + s->off_cmid_ts, 20, now);
    put_dec(s->tmpl + s->off_txt_seq, 10, seq);
    put_dec(s->tmpl + s->off_txt_ts, 20, now);
    s->send_ns[seq] = now;
    CINC(t->c.sent);
    if (now >= t->win_start && now < t->win_end)
        CINC(t->c.sent_win);
    conn_send_frame(c, WS_OP_TEXT, s->tmpl, s->tmpl_len);
}

static void pace(bthread *t, uint64_t now)
{
    if (now < t->t_start || !t->nsenders || t->rate <= 0)
        return;
    if (now >= t->win_end) {
        t->running = 0; /* the sending part of the run is over */
        return;
    }
    double elapsed = (double)(now - t->t_start) / 1e9;
    uint64_t due = (uint64_t)(elapsed * t->rate);
    if (due > t->paced) {
        /* How late the oldest message due now is: pacing lag of the generator itself. */
        uint64_t sched = t->t_start + (uint64_t)((double)(t->paced + 1) / t->rate * 1e9);
        uint64_t lag = now > sched ? now - sched : 0;
        if (lag > t->c.lag_max_ns)
            __atomic_store_n(&t->c.lag_max_ns, lag, __ATOMIC_RELAXED);
    }
    while (t->paced < due) {
        sender *s = &t->b->senders[t->senders[t->rr]];
        if (++t->rr == t->nsenders)
            t->rr = 0;
        send_one(t, s, now);
        t->paced++;
        now = tern_mono_ns();
    }
}

static void keepalive(bthread *t, uint64_t now)
{
    if (now < t->next_keepalive)
        return;
    t->next_keepalive = now + 1000000000ull;
    static const char ping[] = "{\"op\":\"ping\"}";
    for (int i = 0; i < t->nconns; i++) {
        bconn *c = &t->b->conns[t->conns[i]];
        if (c->state == C_READY && now - c->last_tx > KEEPALIVE_NS)
            conn_send_frame(c, WS_OP_TEXT, ping, sizeof ping - 1);
    }
}

static void on_tick(uv_timer_t *tm)
{
    bthread *t = tm->data;
    bench *b = t->b;
    int ph = __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE);
    uint64_t now = tern_mono_ns();
    if (ph == PH_RUN && !t->running && !t->t_start) {
        t->t_start = b->t_start;
        t->win_start = b->win_start;
        t->win_end = b->win_end;
        t->win_split[0] = b->win_split[0];
        t->win_split[1] = b->win_split[1];
        t->running = 1;
    }
    if (t->running)
        pace(t, now);
    keepalive(t, now);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_wake(uv_async_t *a)
{
    bthread *t = a->data;
    if (__atomic_load_n(&t->b->phase, __ATOMIC_ACQUIRE) != PH_STOP)
        return;
    for (int i = 0; i < t->nconns; i++) {
        bconn *c = &t->b->conns[t->conns[i]];
        if (c->state < C_FAILED)
            c->state = C_CLOSED;
        conn_close_handle(c);
    }
    uv_timer_stop(&t->tick);
    uv_close((uv_handle_t *)&t->tick, on_handle_closed);
    uv_close((uv_handle_t *)&t->wake, on_handle_closed);
}

static void thread_main(void *arg)
{
    bthread *t = arg;
    uv_timer_start(&t->tick, on_tick, 1, 1);
    connect_more(t);
    uv_run(&t->loop, UV_RUN_DEFAULT);
}

/* ---- setup and teardown -------------------------------------------------------------- */

/* Builds sender s's request with placeholders and records where the digits go. */
static int build_template(bench *b, int si)
{
    const bench_cfg *cfg = &b->cfg;
    sender *s = &b->senders[si];
    char to[80];
    if (cfg->workload == W_C2C)
        snprintf(to, sizeof to, "%s", b->conns[s->peer_conn].user);
    else
        plan_group_id(cfg, s->group, to, sizeof to);

    tern_buf t;
    tern_buf_init(&t, 0);
    tern_buf_puts(&t, "{\"op\":\"send\",\"id\":\"");
    s->off_id = t.len;
    tern_buf_puts(&t, "0000000000\",\"msg\":{\"conversationType\":");
    tern_buf_puts(&t, cfg->workload == W_C2C ? "\"C2C\"" : "\"GROUP\"");
    tern_buf_puts(&t, ",\"to\":");
    tern_buf_json_str(&t, to, strlen(to));
    /* --mix: the type, and the payload around the marked string (which keeps its
     * --text-size, so only the type's own cost differs from the text-only run) */
    static const char *const heads[5] = {
        ",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"",
        ",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"",
        ",\"type\":\"TIMCustomElem\",\"payload\":{\"description\":\"bench\",\"extension\":\"x\",\"data\":\"",
        ",\"type\":\"TIMLocationElem\",\"payload\":{\"longitude\":116.4,\"latitude\":39.9,\"description\":\"",
        ",\"type\":\"TIMFaceElem\",\"payload\":{\"index\":3,\"data\":\"",
    };
    int kind = cfg->mix && cfg->workload == W_FANOUT ? si % 5 : 0;
    tern_buf_puts(&t, heads[kind]);
    size_t txt = t.len;
    tern_buf_printf(&t, MARKER "%08x~%06d~0000000000~00000000000000000000~", cfg->runid, si);
    if (t.len - txt != TXT_HEAD_LEN) {
        tern_buf_free(&t);
        return -1;
    }
    s->off_txt_seq = txt + TXT_SEQ_OFF;
    s->off_txt_ts = txt + TXT_TS_OFF;
    for (int i = TXT_HEAD_LEN; i < cfg->text_size; i++)
        tern_buf_putc(&t, (char)('a' + i % 26));
    /* clientMsgId = prefix-<send time>-<sender>-<seq>: time first, like libtern's ids,
     * so the server's dedup index sees the append-mostly pattern of real clients. */
    tern_buf_putc(&t, '"');
    if (kind == 1) { /* @ the group's first member (plan_receivers: conns[g * M + m]) */
        const char *at = b->conns[s->group * cfg->members].user;
        tern_buf_puts(&t, ",\"atUserList\":[");
        tern_buf_json_str(&t, at, strlen(at));
        tern_buf_putc(&t, ']');
    }
    tern_buf_printf(&t, "},\"clientMsgId\":\"%s-", cfg->prefix);
    s->off_cmid_ts = t.len;
    tern_buf_printf(&t, "00000000000000000000-%06d-", si);
    s->off_cmid = t.len;
    tern_buf_puts(&t, "0000000000\"}}");
    s->tmpl = tern_buf_steal(&t, &s->tmpl_len);
    return 0;
}

int client_prepare(bench *b)
{
    const bench_cfg *cfg = &b->cfg;
    double per_sender = b->nsenders ? cfg->rate / b->nsenders : 0;
    for (int i = 0; i < b->nsenders; i++) {
        sender *s = &b->senders[i];
        s->seq_cap = (uint64_t)(per_sender * (cfg->warmup + cfg->duration) * 1.1) + 64;
        s->send_ns = tern_calloc(s->seq_cap, sizeof *s->send_ns);
        s->acked = tern_calloc(s->seq_cap, 1);
        s->recv_bits = tern_calloc((s->seq_cap * s->nslots + 63) / 64, sizeof *s->recv_bits);
        if (build_template(b, i) < 0)
            return -1;
    }
    return 0;
}

int client_start(bench *b)
{
    const bench_cfg *cfg = &b->cfg;
    int T = cfg->threads;
    b->threads = tern_calloc((size_t)T, sizeof *b->threads);
    for (int k = 0; k < T; k++) {
        bthread *t = &b->threads[k];
        t->b = b;
        t->id = k;
        t->conns = tern_calloc((size_t)b->nconns / (size_t)T + 1, sizeof *t->conns);
        t->senders = tern_calloc((size_t)b->nsenders / (size_t)T + 1 + (size_t)b->nsenders, sizeof *t->senders);
        t->max_in_flight = cfg->concurrency / T > 0 ? cfg->concurrency / T : 1;
        t->readbuf = tern_malloc(READBUF_SIZE);
        t->xs = 0x9E3779B97F4A7C15ull ^ ((uint64_t)cfg->runid << 16) ^ (uint64_t)(k + 1) * 0xBF58476D1CE4E5B9ull;
        t->win_start = t->win_end = t->win_split[0] = t->win_split[1] = UINT64_MAX;
        hist_init(&t->lat);
        hist_init(&t->lat_seg[0]);
        hist_init(&t->lat_seg[1]);
        hist_init(&t->ack);
        hist_init(&t->connect);
    }
    for (int i = 0; i < b->nconns; i++) {
        bthread *t = &b->threads[i % T];
        b->conns[i].th = t;
        t->conns[t->nconns++] = i;
    }
    for (int i = 0; i < b->nsenders; i++) {
        bthread *t = b->conns[b->senders[i].conn].th;
        t->senders[t->nsenders++] = i;
    }
    for (int k = 0; k < T; k++) {
        bthread *t = &b->threads[k];
        t->rate = b->nsenders ? cfg->rate * t->nsenders / b->nsenders : 0;
        if (uv_loop_init(&t->loop) != 0)
            return -1;
        uv_timer_init(&t->loop, &t->tick);
        t->tick.data = t;
        uv_async_init(&t->loop, &t->wake, on_wake);
        t->wake.data = t;
    }
    for (int k = 0; k < T; k++)
        if (uv_thread_create(&b->threads[k].tid, thread_main, &b->threads[k]) != 0)
            return -1;
    return 0;
}

void client_wake(bench *b)
{
    for (int k = 0; k < b->cfg.threads; k++)
        uv_async_send(&b->threads[k].wake);
}

void client_join(bench *b)
{
    for (int k = 0; k < b->cfg.threads; k++) {
        bthread *t = &b->threads[k];
        uv_thread_join(&t->tid);
        uv_loop_close(&t->loop);
    }
}

void client_free(bench *b)
{
    if (b->threads) {
        for (int k = 0; k < b->cfg.threads; k++) {
            tern_free(b->threads[k].conns);
            tern_free(b->threads[k].senders);
            tern_free(b->threads[k].readbuf);
        }
        tern_free(b->threads);
        b->threads = NULL;
    }
    for (int i = 0; i < b->nsenders; i++) {
        sender *s = &b->senders[i];
        tern_free(s->send_ns);
        tern_free(s->acked);
        tern_free(s->recv_bits);
        tern_free(s->tmpl);
    }
}
