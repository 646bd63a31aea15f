/*
 * stream.c — tern-bench's `stream` workload (issue 8, docs/performance.md "Streamed
 * messages"): an app backend relays S concurrent streamed messages over keep-alive HTTP
 * (POST /{org}/{app}/stream_message/chatgroup, app tokens), each to a group of M online
 * members (the WebSocket clients of client.c), about 40-byte chunks at a fixed total
 * rate R spread over ceil(R / app_rate) apps (the server's per-app limit is 100
 * requests/s; the apps are created through /admin/apps), each stream finishing after K
 * chunks and a new one starting on its group. In the same run, a baseline: plain
 * POST /messages/chatgroups of the same text size to the same groups at the same rate.
 *
 * Figures: delivery latency from the request's write to each member's receipt (p50,
 * p99), the server's CPU per chunk and per plain message (whole-process /proc figures,
 * sysstat.c) and their ratio, and the server's memory per open stream: (RSS with S
 * streams open - RSS before the first chunk) / S, beside the mean text those streams
 * held at that moment. The plain baseline runs first, so the connections and the store
 * are warm when the RSS before the streams is read.
 *
 * Every request carries a global number g in its text ("~ts~" + 10 digits + "~"), so a
 * member finds it in the `stream` or `msg` frame with one memmem (client.c) and marks
 * bit (g, member) — loss and duplicates are exact, as in fanout. The backend runs on
 * its own thread and libuv loop: one request in flight per connection (no pipelining),
 * requests that find every connection of their app busy wait in the app's queue.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/util.h"

#define NS 1000000000ull
#define HC_READ 65536
#define TXT_HEAD 15 /* "~ts~" + 10 digits + "~" */
#define CINC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

enum { M_IDLE = 0, M_STREAM, M_CLOSE, M_PLAIN, M_STOP };
enum { P_STREAM = 0, P_PLAIN = 1, P_CLOSE = 2 };

typedef struct hconn {
    uv_tcp_t tcp; /* first: handle data points back here */
    uv_connect_t creq;
    uv_write_t wreq;
    struct srun *sr;
    int app;
    int open, connected;
    uint8_t writing;
    http_parser *hp;
    tern_buf out, inflight;
    int64_t cur; /* the request awaiting its response, -1 if idle */
    char *rbuf;
} hconn;

/* A group's stream, as the backend sees it (backend thread only). */
typedef struct sslot {
    char msg_id[24];
    int k;           /* the next chunk's seq; 0: the next request opens a new stream */
    int awaiting;    /* the first chunk's msgId has not come back yet */
    int64_t first_g; /* the request that opened the current stream */
} sslot;

/* Receive counters of one client thread (padded apart). */
typedef struct rstat {
    uint64_t recv, dups, distinct, unexpected, recv_win[2];
    hist lat[2];
    char pad[64];
} rstat;

/* An app's queue of requests waiting for a free connection (ring). */
typedef struct gq {
    int64_t *v;
    size_t head, n, cap;
} gq;

typedef struct srun {
    bench *b;
    int S, M, K, A, H;
    uint64_t cap;
    uint64_t next_g;     /* requests numbered so far (backend thread; read after join) */
    uint64_t *send_ns;   /* [cap] write time, atomic */
    int32_t *grp;        /* [cap] */
    uint8_t *phase;      /* [cap] P_* */
    int32_t *kseq;       /* [cap] stream chunks: body.seq */
    uint8_t *acked;      /* [cap] 0 none, 1 ok, 2 error */
    uint64_t *recv_bits; /* [cap * M / 64] */
    sslot *slots;        /* [S] */
    rstat *rs;           /* [threads] */
    hconn *hc;           /* [A * H] */
    gq *q;               /* [A] */
    uv_loop_t loop;
    uv_timer_t tick;
    uv_async_t wake;
    uv_thread_t tid;
    int mode;         /* atomic, M_* */
    int connected;    /* atomic: HTTP connections up */
    uint64_t mode_t0; /* backend: when the current paced mode started */
    uint64_t paced;
    int rr;
    uint64_t win[2][2]; /* [phase][start, end] of the measured windows (ns), atomic */
    /* backend counters (read by main with relaxed loads) */
    uint64_t sent[3], ok[3], err[3], dropped, lag_max_ns;
    hist ack[2];
    char errmsg[256];
} srun;

/* ---- requests ------------------------------------------------------------------------- */

static void put_dec(char *p, int width, uint64_t v)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static void set_err(srun *sr, const char *what, int status, const char *body, size_t n)
{
    if (!sr->errmsg[0])
        snprintf(sr->errmsg, sizeof sr->errmsg, "%s: HTTP %d %.*s", what, status, (int)(n > 160 ? 160 : n),
                 body ? body : "");
}

static void hc_flush(hconn *h);

/* Appends request g (chunk of its group's stream, or plain message) to h and writes it. */
static void hc_send(hconn *h, int64_t g)
{
    srun *sr = h->sr;
    bench *b = sr->b;
    const bench_cfg *cfg = &b->cfg;
    int gi = sr->grp[g];
    char gid[80], txt[TXT_HEAD + 1];
    plan_group_id(cfg, gi, gid, sizeof gid);
    memcpy(txt, STREAM_MARKER "0000000000~", TXT_HEAD + 1);
    put_dec(txt + STREAM_MARKER_LEN, 10, (uint64_t)g);
    tern_buf body;
    tern_buf_init(&body, 0);
    if (sr->phase[g] == P_PLAIN) {
        tern_buf_printf(&body, "{\"from\":\"%sbot\",\"to\":[\"%s\"],\"type\":\"txt\",\"body\":{\"msg\":\"%s",
                        cfg->prefix, gid, txt);
        for (int i = TXT_HEAD; i < cfg->chunk_size; i++)
            tern_buf_putc(&body, (char)('a' + i % 26));
        tern_buf_puts(&body, "\"}}");
    } else {
        /* The slot's msgId is known: chunks after the first are submitted only then. */
        int close = sr->phase[g] == P_CLOSE, k = sr->kseq[g];
        tern_buf_printf(&body, "{\"from\":\"%sbot\",\"to\":\"%s\",\"body\":{", cfg->prefix, gid);
        if (k > 0)
            tern_buf_printf(&body, "\"msgId\":\"%s\",", sr->slots[gi].msg_id);
        tern_buf_printf(&body, "\"msg\":\"%s", close ? "" : txt);
        for (int i = TXT_HEAD; !close && i < cfg->chunk_size; i++)
            tern_buf_putc(&body, (char)('a' + i % 26));
        tern_buf_printf(&body, "\",\"seq\":%d", k);
        if (k == 0)
            tern_buf_puts(&body, ",\"type\":\"text\"");
        if (close || k == sr->K - 1)
            tern_buf_puts(&body, ",\"finish\":true,\"finishReason\":0");
        tern_buf_puts(&body, "},\"ext\":{}}");
    }
    bapp *a = &b->apps[h->app];
    tern_buf_printf(&h->out,
                    "POST /%s/%s/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                    cfg->org, a->app, sr->phase[g] == P_PLAIN ? "messages/chatgroups" : "stream_message/chatgroup",
                    cfg->hostport, a->token, body.len);
    tern_buf_append(&h->out, body.data, body.len);
    tern_buf_free(&body);
    h->cur = g;
    CINC(sr->sent[sr->phase[g]]);
    __atomic_store_n(&sr->send_ns[g], tern_mono_ns(), __ATOMIC_RELEASE);
    hc_flush(h);
}

static void gq_push(gq *q, int64_t g)
{
    q->v[(q->head + q->n) % q->cap] = g;
    q->n++;
}

static int64_t gq_pop(gq *q)
{
    int64_t g = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return g;
}

/* Numbers a new request for group gi in phase ph and sends or queues it. */
static void submit(srun *sr, int gi, int ph)
{
    if (sr->next_g >= sr->cap) {
        CINC(sr->dropped);
        return;
    }
    int app = gi % sr->A;
    gq *q = &sr->q[app];
    hconn *idle = NULL;
    for (int i = 0; i < sr->H && !idle; i++) {
        hconn *h = &sr->hc[app * sr->H + i];
        if (h->connected && h->cur < 0)
            idle = h;
    }
    if (!idle && q->n == q->cap) {
        CINC(sr->dropped);
        return;
    }
    int64_t g = (int64_t)sr->next_g++;
    sr->grp[g] = gi;
    sr->phase[g] = (uint8_t)ph;
    if (ph != P_PLAIN) { /* the stream's state moves at submission, in request order */
        sslot *s = &sr->slots[gi];
        sr->kseq[g] = s->k;
        if (s->k == 0) {
            s->awaiting = 1;
            s->first_g = g;
        }
        s->k = (ph == P_CLOSE || s->k == sr->K - 1) ? 0 : s->k + 1;
    }
    if (idle)
        hc_send(idle, g);
    else
        gq_push(q, g);
}

/* The response to h->cur. */
static void on_response(hconn *h, const http_msg *m)
{
    srun *sr = h->sr;
    int64_t g = h->cur;
    h->cur = -1;
    int ph = sr->phase[g];
    const char *body = m->body.data ? m->body.data : "";
    if (m->status == 200) {
        sr->acked[g] = 1;
        CINC(sr->ok[ph]);
        uint64_t st = __atomic_load_n(&sr->send_ns[g], __ATOMIC_RELAXED);
        if (ph != P_CLOSE && st >= sr->win[ph][0] && st < sr->win[ph][1])
            hist_add(&sr->ack[ph], tern_mono_ns() - st);
    } else {
        sr->acked[g] = 2;
        CINC(sr->err[ph]);
        set_err(sr, ph == P_PLAIN ? "POST messages/chatgroups" : "POST stream_message/chatgroup", m->status, body,
                m->body.len);
    }
    if (ph != P_PLAIN) {
        sslot *s = &sr->slots[sr->grp[g]];
        const char *id;
        int n;
        if (s->awaiting && g == s->first_g) {
            if (m->status == 200 && (n = tern_json_scan_str(body, m->body.len, "\"msgId\"", &id)) > 0 &&
                (size_t)n < sizeof s->msg_id) {
                memcpy(s->msg_id, id, (size_t)n);
                s->msg_id[n] = 0;
            } else {
                s->k = 0; /* the stream never opened: a new one starts on this group */
            }
            s->awaiting = 0;
        }
    }
    gq *q = &sr->q[h->app];
    if (q->n)
        hc_send(h, gq_pop(q));
}

/* ---- HTTP connections ---------------------------------------------------------------------- */

static void hc_end(hconn *h, const char *why)
{
    srun *sr = h->sr;
    if (!h->open)
        return;
    if (h->cur >= 0) {
        sr->acked[h->cur] = 2;
        CINC(sr->err[sr->phase[h->cur]]);
        if (!sr->errmsg[0])
            snprintf(sr->errmsg, sizeof sr->errmsg, "HTTP connection lost with a request in flight: %s", why);
        h->cur = -1;
    }
    if (h->connected && LOAD(sr->mode) != M_STOP)
        fprintf(stderr, "tern-bench: backend connection closed: %s\n", why);
    h->open = h->connected = 0;
    uv_close((uv_handle_t *)&h->tcp, NULL);
}

static void hc_on_write(uv_write_t *req, int status)
{
    hconn *h = req->handle->data;
    h->writing = 0;
    tern_buf_reset(&h->inflight);
    if (status < 0) {
        if (status != UV_ECANCELED)
            hc_end(h, uv_strerror(status));
        return;
    }
    hc_flush(h);
}

static void hc_flush(hconn *h)
{
    if (!h->open)
        return;
    int r = bench_flush((uv_stream_t *)&h->tcp, &h->wreq, &h->out, &h->inflight, &h->writing, hc_on_write);
    if (r < 0)
        hc_end(h, uv_strerror(r));
}

static void hc_alloc(uv_handle_t *hd, size_t sz, uv_buf_t *buf)
{
    (void)sz;
    hconn *h = hd->data;
    buf->base = h->rbuf;
    buf->len = HC_READ;
}

static void hc_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    hconn *h = st->data;
    if (nread < 0) {
        hc_end(h, nread == UV_EOF ? "closed by the server" : uv_strerror((int)nread));
        return;
    }
    const char *p = buf->base;
    size_t n = (size_t)nread;
    while (n && h->open) {
        size_t used = 0;
        int r = http_parser_feed(h->hp, p, n, &used);
        if (r == HTTP_NEED_MORE)
            return;
        if (r != HTTP_COMPLETE || h->cur < 0) {
            hc_end(h, "unexpected HTTP response");
            return;
        }
        const http_msg *m = http_parser_msg(h->hp);
        int keep = m->keep_alive;
        on_response(h, m);
        http_parser_next(h->hp);
        if (!keep) {
            hc_end(h, "the server closed the keep-alive connection");
            return;
        }
        p += used;
        n -= used;
    }
}

static void hc_on_connect(uv_connect_t *req, int status)
{
    hconn *h = req->handle->data;
    if (status < 0) {
        hc_end(h, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&h->tcp, 1);
    uv_read_start((uv_stream_t *)&h->tcp, hc_alloc, hc_on_read);
    h->connected = 1;
    __atomic_add_fetch(&h->sr->connected, 1, __ATOMIC_RELEASE);
}

/* ---- the backend's loop -------------------------------------------------------------------- */

static int slot_open(const sslot *s)
{
    return s->k > 0 || s->awaiting;
}

/* M_CLOSE: a finish-only chunk for every open stream (paced like the chunks). Returns
 * the number of streams still open. */
static int close_one(srun *sr)
{
    int open = 0;
    for (int i = 0; i < sr->S; i++) {
        sslot *s = &sr->slots[(sr->rr + i) % sr->S];
        if (!slot_open(s))
            continue;
        open++;
        if (!s->awaiting) {
            int gi = (sr->rr + i) % sr->S;
            sr->rr = (gi + 1) % sr->S;
            submit(sr, gi, P_CLOSE);
            return open;
        }
    }
    return open;
}

static void on_tick(uv_timer_t *t)
{
    srun *sr = t->data;
    int mode = __atomic_load_n(&sr->mode, __ATOMIC_ACQUIRE);
    uint64_t now = tern_mono_ns();
    if (mode == M_IDLE || mode == M_STOP)
        return;
    double rate = sr->b->cfg.rate;
    uint64_t due = (uint64_t)((double)(now - sr->mode_t0) / 1e9 * rate);
    if (due > sr->paced && mode != M_CLOSE) { /* closing stops early on purpose */
        uint64_t sched = sr->mode_t0 + (uint64_t)((double)(sr->paced + 1) / rate * 1e9);
        if (now > sched && now - sched > sr->lag_max_ns)
            __atomic_store_n(&sr->lag_max_ns, now - sched, __ATOMIC_RELAXED);
    }
    while (sr->paced < due) {
        if (mode == M_PLAIN) {
            submit(sr, sr->rr, P_PLAIN);
            sr->rr = (sr->rr + 1) % sr->S;
        } else if (mode == M_CLOSE) {
            if (!close_one(sr))
                break;
        } else {
            int i = 0;
            while (i < sr->S && sr->slots[sr->rr].awaiting) {
                sr->rr = (sr->rr + 1) % sr->S;
                i++;
            }
            if (i == sr->S)
                break; /* every stream waits for its msgId: the lag shows it */
            submit(sr, sr->rr, P_STREAM);
            sr->rr = (sr->rr + 1) % sr->S;
        }
        sr->paced++;
    }
}

/* Main thread -> backend: a new mode (paced from now). */
static void on_wake(uv_async_t *a)
{
    srun *sr = a->data;
    int mode = __atomic_load_n(&sr->mode, __ATOMIC_ACQUIRE);
    sr->mode_t0 = tern_mono_ns();
    sr->paced = 0;
    if (mode != M_STOP)
        return;
    uv_timer_stop(&sr->tick);
    uv_close((uv_handle_t *)&sr->tick, NULL);
    uv_close((uv_handle_t *)&sr->wake, NULL);
    for (int i = 0; i < sr->A * sr->H; i++)
        hc_end(&sr->hc[i], "stopping");
}

static void backend_main(void *arg)
{
    srun *sr = arg;
    const struct sockaddr *sa = (const struct sockaddr *)&sr->b->cfg.addr;
    for (int i = 0; i < sr->A * sr->H; i++) {
        hconn *h = &sr->hc[i];
        uv_tcp_init(&sr->loop, &h->tcp);
        h->tcp.data = h;
        h->open = 1;
        if (uv_tcp_connect(&h->creq, &h->tcp, sa, hc_on_connect) < 0)
            hc_end(h, "connect failed");
    }
    uv_timer_start(&sr->tick, on_tick, 1, 1);
    uv_run(&sr->loop, UV_RUN_DEFAULT);
}

static void set_mode(srun *sr, int mode)
{
    __atomic_store_n(&sr->mode, mode, __ATOMIC_RELEASE);
    uv_async_send(&sr->wake);
}

/* ---- receiving (client threads) ------------------------------------------------------------- */

void stream_on_delivery(bconn *c, const char *m, size_t avail)
{
    srun *sr = c->th->b->sr;
    rstat *rs = &sr->rs[c->th->id];
    uint64_t now = tern_mono_ns(), g = 0;
    int ok = avail >= TXT_HEAD && m[TXT_HEAD - 1] == '~';
    for (int i = 0; ok && i < 10; i++) {
        unsigned d = (unsigned)(m[STREAM_MARKER_LEN + i] - '0');
        ok = d <= 9;
        g = g * 10 + d;
    }
    uint64_t st = ok && g < sr->cap ? __atomic_load_n(&sr->send_ns[g], __ATOMIC_ACQUIRE) : 0;
    if (!st || sr->grp[g] != c->group || c->slot >= (uint32_t)sr->M) {
        CINC(rs->unexpected);
        return;
    }
    uint64_t bit = g * (uint64_t)sr->M + c->slot, mask = 1ull << (bit & 63);
    uint64_t old = __atomic_fetch_or(&sr->recv_bits[bit >> 6], mask, __ATOMIC_RELAXED);
    if (old & mask)
        CINC(rs->dups);
    else
        CINC(rs->distinct);
    CINC(rs->recv);
    int ph = sr->phase[g];
    if (ph == P_CLOSE)
        return;
    if (st >= LOAD(sr->win[ph][0]) && st < LOAD(sr->win[ph][1])) {
        CINC(rs->recv_win[ph]);
        hist_add(&rs->lat[ph], now > st ? now - st : 0);
    }
}

/* ---- the run ---------------------------------------------------------------------------------- */

static void sleep_ns(uint64_t ns)
{
    uint64_t until = tern_mono_ns() + ns;
    struct timespec ts = {.tv_sec = (time_t)(until / NS), .tv_nsec = (long)(until % NS)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static uint64_t sum_distinct(srun *sr, int threads)
{
    uint64_t n = 0;
    for (int k = 0; k < threads; k++)
        n += LOAD(sr->rs[k].distinct);
    return n;
}

/* Waits until every acknowledged request's deliveries arrived (or drain seconds). */
static void drain(srun *sr, const bench_cfg *cfg)
{
    uint64_t deadline = tern_mono_ns() + (uint64_t)(cfg->drain * 1e9);
    while (tern_mono_ns() < deadline) {
        uint64_t ok = LOAD(sr->ok[P_STREAM]) + LOAD(sr->ok[P_PLAIN]), sent = 0, fin = 0;
        for (int p = 0; p < 3; p++) { /* the closing chunks have no text: nothing to count */
            sent += LOAD(sr->sent[p]);
            fin += LOAD(sr->ok[p]) + LOAD(sr->err[p]);
        }
        if (fin >= sent && sum_distinct(sr, cfg->threads) >= ok * (uint64_t)sr->M)
            return;
        sleep_ns(5000000);
    }
}

typedef struct phase_res {
    double window_s;
    int64_t cpu_us, self_us, busy_us;
    uint64_t sent_win, recv_win;
    hist lat;
} phase_res;

/* Runs one paced phase: warm-up, then the measured window. */
static void run_phase(srun *sr, int mode, int ph, phase_res *r, int64_t *rss_at_end)
{
    bench_cfg *cfg = &sr->b->cfg;
    int pid = cfg->server_pid;
    uint64_t t0 = tern_mono_ns();
    __atomic_store_n(&sr->win[ph][0], t0 + (uint64_t)(cfg->warmup * 1e9), __ATOMIC_RELAXED);
    __atomic_store_n(&sr->win[ph][1], t0 + (uint64_t)((cfg->warmup + cfg->duration) * 1e9), __ATOMIC_RELAXED);
    set_mode(sr, mode);
    sleep_ns(sr->win[ph][0] - t0);
    uint64_t sent0 = LOAD(sr->sent[ph]);
    int64_t cpu0 = pid > 0 ? sys_proc_cpu_us(pid) : -1, self0 = sys_self_cpu_us(), mb0 = 0, mt0 = 0;
    int mok = sys_machine_cpu_us(&mb0, &mt0) == 0;
    uint64_t w0 = tern_mono_ns();
    sleep_ns(sr->win[ph][1] > w0 ? sr->win[ph][1] - w0 : 0);
    uint64_t w1 = tern_mono_ns();
    r->cpu_us = pid > 0 && cpu0 >= 0 ? sys_proc_cpu_us(pid) - cpu0 : -1;
    if (rss_at_end)
        *rss_at_end = pid > 0 ? sys_proc_rss_kib(pid) : -1;
    r->self_us = sys_self_cpu_us() - self0;
    int64_t mb1 = 0, mt1 = 0;
    r->busy_us = mok && sys_machine_cpu_us(&mb1, &mt1) == 0 ? mb1 - mb0 : -1;
    r->window_s = (double)(w1 - w0) / 1e9;
    r->sent_win = LOAD(sr->sent[ph]) - sent0;
}

static double msd(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void report(srun *sr, phase_res *st, phase_res *pl, int64_t rss0, int64_t rss1, double text_mean,
                   uint64_t lost[2], uint64_t owed[2], uint64_t dups, uint64_t unexpected)
{
    bench *b = sr->b;
    const bench_cfg *cfg = &b->cfg;
    int sampled = cfg->server_pid > 0 && st->cpu_us >= 0 && pl->cpu_us >= 0;
    double cpu_chunk = st->sent_win ? (double)st->cpu_us / (double)st->sent_win : NAN;
    double cpu_plain = pl->sent_win ? (double)pl->cpu_us / (double)pl->sent_win : NAN;
    double rss_stream = rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) / sr->S : NAN;
    uint64_t errors = LOAD(sr->err[0]) + LOAD(sr->err[1]) + LOAD(sr->err[2]) + LOAD(sr->dropped);
    phase_res *ph[2] = {st, pl};
    if (cfg->json) {
        FILE *f = stdout;
        fprintf(f, "{\"workload\":\"stream\"");
        json_num(f, "streams", sr->S, 1, 0);
        json_num(f, "members", sr->M, 1, 0);
        json_num(f, "chunks_per_stream", sr->K, 1, 0);
        json_num(f, "chunk_size", cfg->chunk_size, 1, 0);
        json_num(f, "rate", cfg->rate, 1, 0);
        json_num(f, "apps", sr->A, 1, 0);
        json_num(f, "http_conns", sr->A * sr->H, 1, 0);
        json_num(f, "duration", cfg->duration, 1, 1);
        json_num(f, "connections", (double)b->nconns, 1, 0);
        static const char *const pre[2] = {"", "plain_"};
        char k[64];
        for (int i = 0; i < 2; i++) {
            double win = ph[i]->window_s > 0 ? ph[i]->window_s : 1;
            int have = ph[i]->lat.count > 0;
#define KEY(s) (snprintf(k, sizeof k, "%s%s", pre[i], s), k)
            json_num(f, KEY("sent_per_s"), (double)ph[i]->sent_win / win, 1, 1);
            json_num(f, KEY("delivered_per_s"), (double)ph[i]->recv_win / win, 1, 1);
            json_num(f, KEY("p50_ms"), msd(hist_quantile(&ph[i]->lat, 0.50)), have, 3);
            json_num(f, KEY("p90_ms"), msd(hist_quantile(&ph[i]->lat, 0.90)), have, 3);
            json_num(f, KEY("p99_ms"), msd(hist_quantile(&ph[i]->lat, 0.99)), have, 3);
            json_num(f, KEY("max_ms"), msd(ph[i]->lat.max), have, 3);
            json_num(f, KEY("ack_p50_ms"), msd(hist_quantile(&sr->ack[i], 0.50)), sr->ack[i].count > 0, 3);
            json_num(f, KEY("ack_p99_ms"), msd(hist_quantile(&sr->ack[i], 0.99)), sr->ack[i].count > 0, 3);
            json_num(f, KEY("lost"), (double)lost[i], 1, 0);
            json_num(f, KEY("server_cpu_pct"), (double)ph[i]->cpu_us / (win * 1e6) * 100, sampled, 1);
            json_num(f, KEY("bench_cpu_pct"), (double)ph[i]->self_us / (win * 1e6) * 100, 1, 1);
            json_num(f, KEY("machine_busy_pct"), (double)ph[i]->busy_us / (win * 1e6) * 100, ph[i]->busy_us >= 0, 1);
#undef KEY
        }
        json_num(f, "owed", (double)(owed[0] + owed[1]), 1, 0);
        json_num(f, "duplicates", (double)dups, 1, 0);
        json_num(f, "unexpected", (double)unexpected, 1, 0);
        json_num(f, "errors", (double)errors, 1, 0);
        json_num(f, "server_cpu_us_per_chunk", cpu_chunk, sampled, 3);
        json_num(f, "server_cpu_us_per_plain_msg", cpu_plain, sampled, 3);
        json_num(f, "cpu_ratio_chunk_vs_plain", cpu_chunk / cpu_plain, sampled, 3);
        json_num(f, "server_rss_kib_per_stream", rss_stream, cfg->server_pid > 0, 3);
        json_num(f, "stream_text_bytes_mean", text_mean, 1, 0);
        json_num(f, "server_rss_kib", (double)rss1, cfg->server_pid > 0, 0);
        json_num(f, "send_lag_max_ms", msd(LOAD(sr->lag_max_ns)), 1, 3);
        fputs("}\n", f);
        fflush(f);
        return;
    }
    printf("workload stream: %d streams x %d members, %.0f chunks/s of %d bytes over %d apps (%d HTTP connections),"
           " %d chunks per stream\n",
           sr->S, sr->M, cfg->rate, cfg->chunk_size, sr->A, sr->A * sr->H, sr->K);
    for (int i = 0; i < 2; i++) {
        double win = ph[i]->window_s > 0 ? ph[i]->window_s : 1;
        printf("  %-12s %.0f req/s, %.0f deliveries/s; latency p50 %.2f p90 %.2f p99 %.2f max %.2f ms; ack p99 %.2f "
               "ms; lost %" PRIu64 " of %" PRIu64 "; server %.0f %% CPU\n",
               i ? "plain POST" : "stream chunk", (double)ph[i]->sent_win / win, (double)ph[i]->recv_win / win,
               msd(hist_quantile(&ph[i]->lat, 0.5)), msd(hist_quantile(&ph[i]->lat, 0.9)),
               msd(hist_quantile(&ph[i]->lat, 0.99)), msd(ph[i]->lat.max), msd(hist_quantile(&sr->ack[i], 0.99)),
               lost[i], owed[i], (double)ph[i]->cpu_us / (win * 1e6) * 100);
    }
    if (sampled)
        printf("  server CPU   %.2f us per chunk, %.2f us per plain message: ratio %.2f\n", cpu_chunk, cpu_plain,
               cpu_chunk / cpu_plain);
    if (cfg->server_pid > 0)
        printf("  server RSS   %" PRId64 " -> %" PRId64 " KiB with %d streams open: %.2f KiB per stream (mean text "
               "%.0f bytes)\n",
               rss0, rss1, sr->S, rss_stream, text_mean);
    printf("  errors       %" PRIu64 "%s%s; %" PRIu64 " duplicates, %" PRIu64 " unexpected frames\n", errors,
           sr->errmsg[0] ? ": first: " : "", sr->errmsg, dups, unexpected);
}

static void plan_stream(bench *b)
{
    bench_cfg *cfg = &b->cfg;
    int S = cfg->streams, M = cfg->members;
    b->napps = (int)ceil(cfg->rate / cfg->app_rate);
    if (b->napps < 1)
        b->napps = 1;
    if (b->napps > S)
        b->napps = S;
    b->apps = tern_calloc((size_t)b->napps, sizeof *b->apps);
    for (int a = 0; a < b->napps; a++)
        snprintf(b->apps[a].app, sizeof b->apps[a].app, "%sa%d", cfg->prefix, a);
    b->nconns = S * M;
    b->conns = tern_calloc((size_t)b->nconns, sizeof *b->conns);
    plan_receivers(b, S, M);
    for (int i = 0; i < b->nconns; i++) {
        b->conns[i].app = b->conns[i].group % b->napps;
        b->conns[i].idx = i;
    }
}

static srun *srun_new(bench *b)
{
    bench_cfg *cfg = &b->cfg;
    srun *sr = tern_calloc(1, sizeof *sr);
    sr->b = b;
    sr->S = cfg->streams;
    sr->M = cfg->members;
    sr->K = cfg->chunks;
    sr->A = b->napps;
    sr->H = cfg->http_conns;
    /* Both paced phases, warm-up included, plus the closing chunks, with room. */
    sr->cap = (uint64_t)(cfg->rate * 2 * (cfg->warmup + cfg->duration) * 1.2) + 2 * (uint64_t)sr->S + 1024;
    sr->send_ns = tern_calloc(sr->cap, sizeof *sr->send_ns);
    sr->grp = tern_calloc(sr->cap, sizeof *sr->grp);
    sr->phase = tern_calloc(sr->cap, 1);
    sr->kseq = tern_calloc(sr->cap, sizeof *sr->kseq);
    sr->acked = tern_calloc(sr->cap, 1);
    sr->recv_bits = tern_calloc((sr->cap * (uint64_t)sr->M + 63) / 64, sizeof *sr->recv_bits);
    sr->slots = tern_calloc((size_t)sr->S, sizeof *sr->slots);
    sr->rs = tern_calloc((size_t)cfg->threads, sizeof *sr->rs);
    for (int k = 0; k < cfg->threads; k++) {
        hist_init(&sr->rs[k].lat[0]);
        hist_init(&sr->rs[k].lat[1]);
    }
    hist_init(&sr->ack[0]);
    hist_init(&sr->ack[1]);
    for (int p = 0; p < 2; p++)
        sr->win[p][0] = sr->win[p][1] = UINT64_MAX;
    sr->hc = tern_calloc((size_t)sr->A * (size_t)sr->H, sizeof *sr->hc);
    for (int i = 0; i < sr->A * sr->H; i++) {
        hconn *h = &sr->hc[i];
        h->sr = sr;
        h->app = i / sr->H;
        h->cur = -1;
        h->hp = http_parser_new(0, 1u << 20);
        h->rbuf = tern_malloc(HC_READ);
        tern_buf_init(&h->out, 0);
        tern_buf_init(&h->inflight, 0);
    }
    sr->q = tern_calloc((size_t)sr->A, sizeof *sr->q);
    for (int a = 0; a < sr->A; a++) {
        sr->q[a].cap = 4096;
        sr->q[a].v = tern_calloc(sr->q[a].cap, sizeof *sr->q[a].v);
    }
    return sr;
}

static void srun_free(srun *sr)
{
    if (!sr)
        return;
    for (int i = 0; i < sr->A * sr->H; i++) {
        http_parser_free(sr->hc[i].hp);
        tern_free(sr->hc[i].rbuf);
        tern_buf_free(&sr->hc[i].out);
        tern_buf_free(&sr->hc[i].inflight);
    }
    for (int a = 0; a < sr->A; a++)
        tern_free(sr->q[a].v);
    tern_free(sr->q);
    tern_free(sr->hc);
    tern_free(sr->rs);
    tern_free(sr->slots);
    tern_free(sr->recv_bits);
    tern_free(sr->acked);
    tern_free(sr->phase);
    tern_free(sr->kseq);
    tern_free(sr->grp);
    tern_free(sr->send_ns);
    tern_free(sr);
}

int stream_run(bench *b, int quiet)
{
    bench_cfg *cfg = &b->cfg;
    if (!cfg->admin_token[0]) {
        fprintf(stderr, "tern-bench: stream needs the server's admin token to create its apps "
                        "(--admin-token-file, or admin.token beside --app-file)\n");
        return 1;
    }
    plan_stream(b);
    BENCH_SAY(quiet, "setup: %d apps, %d users, %d groups (prefix %s)", b->napps, b->nconns, cfg->streams, cfg->prefix);
    if (rest_setup_stream(b) < 0)
        return 2;
    srun *sr = srun_new(b);
    b->sr = sr;
    int rc = 2;
    if (client_prepare(b) < 0 || client_start(b) < 0) {
        fprintf(stderr, "tern-bench: cannot start the client threads\n");
        goto out;
    }
    BENCH_SAY(quiet, "connecting %d WebSockets", b->nconns);
    if (bench_wait_connected(b) < 0) {
        bench_stop(b);
        goto out;
    }
    uv_loop_init(&sr->loop);
    uv_timer_init(&sr->loop, &sr->tick);
    sr->tick.data = sr;
    uv_async_init(&sr->loop, &sr->wake, on_wake);
    sr->wake.data = sr;
    uv_thread_create(&sr->tid, backend_main, sr);
    for (int i = 0; i < 1000 && LOAD(sr->connected) < sr->A * sr->H; i++)
        sleep_ns(10000000);
    if (LOAD(sr->connected) < sr->A * sr->H) {
        fprintf(stderr, "tern-bench: %d of %d backend HTTP connections up\n", LOAD(sr->connected), sr->A * sr->H);
        set_mode(sr, M_STOP);
        uv_thread_join(&sr->tid);
        bench_stop(b);
        goto out;
    }

    /* The baseline first: it also warms what any traffic to these 10k sockets warms
     * (send buffers, the store's caches), so the RSS growth that follows is the streams'. */
    phase_res st, pl;
    memset(&st, 0, sizeof st);
    memset(&pl, 0, sizeof pl);
    BENCH_SAY(quiet, "plain group messages: %.0f /s, %.1f s warm-up, %.1f s measured", cfg->rate, cfg->warmup,
              cfg->duration);
    run_phase(sr, M_PLAIN, P_PLAIN, &pl, NULL);
    set_mode(sr, M_IDLE);
    drain(sr, cfg);
    int64_t rss0 = cfg->server_pid > 0 ? sys_proc_rss_kib(cfg->server_pid) : -1, rss1 = -1;
    BENCH_SAY(quiet, "streams: %.0f chunks/s, %.1f s warm-up, %.1f s measured", cfg->rate, cfg->warmup, cfg->duration);
    run_phase(sr, M_STREAM, P_STREAM, &st, &rss1);
    /* The text the open streams held at the RSS sample: each stream is k chunks in, k
     * uniform over 0..K-1 in the steady state. */
    double text_mean = (double)(sr->K - 1) / 2.0 * cfg->chunk_size;
    BENCH_SAY(quiet, "finishing the open streams");
    set_mode(sr, M_CLOSE);
    sleep_ns((uint64_t)((double)sr->S / cfg->rate * 1e9) + 500000000ull);
    drain(sr, cfg);
    set_mode(sr, M_STOP);
    uv_thread_join(&sr->tid);
    uv_loop_close(&sr->loop);
    bench_stop(b);

    /* Exact loss: every acknowledged request owes M deliveries. */
    uint64_t lost[2] = {0, 0}, owed[2] = {0, 0}, dups = 0, unexpected = 0;
    for (uint64_t g = 0; g < sr->next_g; g++) {
        if (sr->acked[g] != 1 || sr->phase[g] == P_CLOSE)
            continue;
        int ph = sr->phase[g];
        uint64_t got = 0;
        for (int m = 0; m < sr->M; m++) {
            uint64_t bit = g * (uint64_t)sr->M + (uint64_t)m;
            got += sr->recv_bits[bit >> 6] >> (bit & 63) & 1;
        }
        owed[ph] += (uint64_t)sr->M;
        lost[ph] += (uint64_t)sr->M - got;
    }
    hist_init(&st.lat);
    hist_init(&pl.lat);
    for (int k = 0; k < cfg->threads; k++) {
        hist_merge(&st.lat, &sr->rs[k].lat[0]);
        hist_merge(&pl.lat, &sr->rs[k].lat[1]);
        st.recv_win += sr->rs[k].recv_win[0];
        pl.recv_win += sr->rs[k].recv_win[1];
        dups += sr->rs[k].dups;
        unexpected += sr->rs[k].unexpected;
    }
    report(sr, &st, &pl, rss0, rss1, text_mean, lost, owed, dups, unexpected);
    rc = 0;
out:
    b->sr = NULL;
    srun_free(sr);
    tern_free(b->apps);
    b->apps = NULL;
    b->napps = 0;
    return rc;
}
