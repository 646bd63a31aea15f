/*
 * main.c — tern-bench, Tern's load generator: options, the plan of users, groups and
 * connections for a workload, the phases of a run (REST setup, connect + login, warm-up,
 * measured window, drain, stop), /proc sampling of the server, and the report (a human
 * summary, or one JSON object per line with --json). Workloads and figures are defined
 * to be comparable with the peers' measurements in shared/peers (see docs/performance.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/util.h"

#define NS 1000000000ull

static const char *const WORKLOAD_NAMES[] = {"fanout", "c2c", "idle", "floor", "stream", "media"};
#define NWORKLOADS (int)(sizeof WORKLOAD_NAMES / sizeof WORKLOAD_NAMES[0])

static void usage(FILE *f)
{
    fputs("usage: tern-bench [options] WORKLOAD\n"
          "\n"
          "Load generator for ternd. Creates its own users (and groups) through the REST API with\n"
          "a per-run name prefix, mints user tokens locally with the app secret, connects every\n"
          "WebSocket (subprotocol tern.v1), logs in, waits for every `ready`, then runs WORKLOAD.\n"
          "\n"
          "Workloads:\n"
          "  fanout  G groups x M receiving members, S senders; sender i sends to group i % G and\n"
          "          is a member of it, so a group has M receivers + its senders and each message\n"
          "          reaches exactly M sessions when S <= G (the sending session gets no copy; with\n"
          "          S > G the other senders of the group receive it too and are counted). Default\n"
          "          100 x 10, 100 senders, 5000 msg/s = 50k deliveries/s: the peers' workload A.\n"
          "  c2c     P pairs, each side sending one-to-one messages to the other at an aggregate\n"
          "          rate R; reports the durable-ack latency (send -> `send` response) too.\n"
          "  idle    C authenticated connections held idle for T seconds; reports connects/s and,\n"
          "          with --server-pid, the server's RSS growth per connection: the peers' workload B.\n"
          "  floor   the kernel's cost of one write per delivery on loopback, no server: a forked\n"
          "          writer paces R writes/s of B bytes over C TCP_NODELAY sockets that this\n"
          "          process reads; a baseline for server_cpu_us_per_delivery (needs no ternd).\n"
          "  stream  streamed messages (issue 8): a backend relays --streams S concurrent streams over\n"
          "          keep-alive HTTP (POST .../stream_message/chatgroup, app tokens), each to a group\n"
          "          of --members M online WebSocket members, --chunk-size B chunks at a total --rate R\n"
          "          spread over ceil(R / --app-rate) apps created through /admin/apps; a stream\n"
          "          finishes after --chunks K and a new one starts. Before it, in the same run, the\n"
          "          baseline: plain POST .../messages/chatgroups of the same size to the same groups\n"
          "          at the same rate.\n"
          "          Reports latency (request written -> member has it), server CPU per chunk and per\n"
          "          plain message and their ratio, server RSS per open stream. Defaults: 1000\n"
          "          streams, 10 members, 2000 chunks/s, 40 bytes, 20 chunks per stream.\n"
          "  media   media transfers (issue 9), in one run: (1) a --file-size upload (POST\n"
          "          /{org}/{app}/media, raw body) and (2) its download (GET, sendfile), each against\n"
          "          a plain loopback TCP copy of the same bytes that this process makes itself with\n"
          "          the same 256 KiB buffers (upload: into a file in --media-dir with one fsync at\n"
          "          the end; download: from that file, the reader counts), alternated --reps times;\n"
          "          (3) the server's RSS growth during each; (4) the fanout workload for 3 x\n"
          "          --duration: alone, then beside --uploaders clients uploading --upload-size files\n"
          "          back to back (or --upload-rate files/s in all) to a plain sink of this process\n"
          "          (the control: a thread per connection writes the bytes to a file in --media-dir\n"
          "          and fsyncs it), then the same uploading to ternd; p50/p99/max and exact loss of\n"
          "          each part, and of a password grant once a second (scrypt runs on the pool\n"
          "          that writes ternd's uploads); (5) tern_img_probe's ns per image for JPEG (EXIF),\n"
          "          PNG, GIF, WebP and BMP heads.\n"
          "\n"
          "Server and app (all but floor):\n"
          "  --url ws://HOST:PORT[/PATH]  server (REST on the same port; PATH defaults to /ws)\n"
          "  --app ORG/APP                 the app to create users in\n"
          "  --client-id ID --secret SECRET  the app's client credentials (app token + user tokens)\n"
          "  --app-file FILE               read org, app, client_id, client_secret from a JSON file\n"
          "                                such as ternd's DATA/demo-app.json\n"
          "  --admin-token-file FILE       stream: the server's admin token (default: admin.token\n"
          "                                beside --app-file, as in ternd's data directory)\n"
          "  --server-pid PID              sample the server's CPU (/proc/PID/stat) and RSS\n"
          "                                (/proc/PID/status VmRSS) for the per-delivery figures\n"
          "  --prefix STR                  user/group name prefix (default: b<random hex>_)\n"
          "\n"
          "Workload shape (defaults in brackets):\n"
          "  --groups G [100]  --members M [10]  --senders S [100]      fanout\n"
          "  --pairs P [100]                                             c2c\n"
          "  --streams S [1000]  --chunks K [20]  --chunk-size B [40]      stream (and --members)\n"
          "  --http-conns N [4]  keep-alive HTTP connections per app     stream\n"
          "  --app-rate N [90]   requests/s per app at most (ternd's limit is 100)  stream\n"
          "  --connections C [idle 10000, floor 1000]                    idle, floor\n"
          "  --file-size N [104857600]  --reps N [3]  --uploaders N [100]  --upload-size N [1048576]\n"
          "  --upload-rate R [0] media: uploads started per second by the pool at most (0: back to back)\n"
          "  --media-dir DIR    media: where the baseline copy writes (default: --app-file's directory,\n"
          "                     i.e. ternd's data directory and disk)                  media\n"
          "  --rate R           aggregate messages sent per second [fanout 5000, c2c 20000];\n"
          "                     floor: writes (deliveries) per second [50000]\n"
          "  --duration T       measured window (idle: hold time), seconds [10]\n"
          "  --warmup W         seconds of sending before the window, excluded from stats [2]\n"
          "  --drain D          max seconds to wait after the window for acks and deliveries [5]\n"
          "  --settle S         idle: seconds between the last `ready` and the RSS sample [2]\n"
          "  --text-size N      bytes of message text, >= 53 [200]\n"
          "  --frame-size B     floor: bytes per write (delivery), >= 8 [330]\n"
          "  --mix              fanout: sender i sends one type, i %% 5: text, text @ the group's first\n"
          "                     member (atUserList), custom, location, face, each with its --text-size\n"
          "                     string; the result's workload is then fanout_mix\n"
          "  --uring            floor: the writer submits each 1 ms tick's writes together through\n"
          "                     io_uring (as ternd's loops do by default) instead of one write(2)\n"
          "                     each; the result's workload is then floor_uring\n"
          "\n"
          "Generator:\n"
          "  --threads N        client threads, one libuv loop each [1] (the box has 2 cores\n"
          "                     shared with the server: one thread keeps the comparison fair)\n"
          "  --concurrency N    connects + logins in flight, all threads together [200]\n"
          "  --setup-timeout S  max seconds for all connections to become ready [120]\n"
          "  --json             print one JSON object (one line) per result instead of a summary\n"
          "  -q, --quiet        no progress on stderr\n"
          "  -h, --help\n"
          "\n"
          "Figures:\n"
          "  sent_per_s, delivered_per_s   sends / deliveries inside the window, per second\n"
          "  p50/p90/p99/p999/max_ms       delivery latency (receive time - send time embedded in\n"
          "                                the text, monotonic clock) of deliveries received in\n"
          "                                the window; log-linear histogram, < 1 % error\n"
          "  ack_p50/p99/max_ms            send -> durable ack latency, messages sent in the window\n"
          "  lost                          deliveries owed for acked messages (acked x recipients)\n"
          "                                minus distinct deliveries received, after the drain\n"
          "  duplicates                    deliveries received more than once\n"
          "  errors                        error responses + unanswered sends + failed or dropped\n"
          "                                connections + kicked/resync/shutdown events\n"
          "  server_cpu_us_per_delivery    server utime+stime in the window / deliveries in it\n"
          "  server_cpu_pct                the same CPU as % of one core\n"
          "  server_rss_kib                server VmRSS at the end of the window\n"
          "  server_rss_kib_per_conn       idle: (VmRSS after all ready + settle - VmRSS before\n"
          "                                connecting) / connections\n"
          "  bench_cpu_pct                 this generator's CPU in the window, % of one core\n"
          "  send_lag_max_ms               worst pacing lag of the generator (if large, the\n"
          "                                generator or the machine, not the server, was the limit)\n"
          "  machine_busy_pct              all CPUs busy in the window (/proc/stat), % of one core\n"
          "  other_cpu_pct                 machine_busy - server - generator: other jobs (noise)\n"
          "  floor: writes_per_s, dropped  the writer's whole writes in the window per second (also\n"
          "                                as sent_per_s), and the deliveries a socket did not take\n"
          "                                whole (EAGAIN, short); the server figures are null\n"
          "  writer_cpu_us_per_delivery    the writer's utime+stime in the window / deliveries read\n"
          "  media: upload_ratio, download_ratio  ternd's MiB/s over the plain copy's (medians of --reps)\n"
          "  upload_rss_growth_kib         the server's peak RSS during a transfer minus its RSS before\n"
          "                                (VmHWM if it rose, else 2 ms samples; the worst rep)\n"
          "  p99_ms, p99_plain_uploads_ms, p99_uploads_ms  fan-out alone, beside the uploads to the\n"
          "                                sink, beside the uploads to ternd (also p50, max, lost_*)\n"
          "  probe_ns_jpeg ... probe_ns_bmp  ns per tern_img_probe (median of 5 x 200k probes)\n"
          "  writer_cpu_pct, reader_cpu_pct  the writer's and this process's CPU, % of one core\n"
          "\n"
          "Exit status: 0 when the run completed (loss and errors are reported, not fatal);\n"
          "1 on bad options; 2 when setup failed (REST, connect or login).\n",
          f);
}

void plan_group_id(const bench_cfg *cfg, int g, char *out, size_t n)
{
    snprintf(out, n, "%sg%d", cfg->prefix, g);
}

static uint32_t random32(void)
{
    uint32_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
            v = 0;
        close(fd);
    }
    if (!v)
        v = (uint32_t)(tern_mono_ns() ^ ((uint64_t)getpid() << 20));
    return v;
}

static int parse_url(bench_cfg *cfg)
{
    const char *u = cfg->url;
    if (strncmp(u, "ws://", 5) != 0) {
        fprintf(stderr, "tern-bench: --url must start with ws:// (got %s)\n", u);
        return -1;
    }
    u += 5;
    const char *slash = strchr(u, '/');
    size_t hp = slash ? (size_t)(slash - u) : strlen(u);
    if (hp == 0 || hp >= sizeof cfg->hostport)
        return -1;
    memcpy(cfg->hostport, u, hp);
    cfg->hostport[hp] = 0;
    snprintf(cfg->path, sizeof cfg->path, "%s", slash && slash[1] ? slash : "/ws");
    char port[16] = "80";
    const char *h = cfg->hostport, *colon;
    size_t hl;
    if (h[0] == '[') {
        const char *rb = strchr(h, ']');
        if (!rb)
            return -1;
        hl = (size_t)(rb - h - 1);
        memcpy(cfg->host, h + 1, hl);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = strrchr(h, ':');
        hl = colon ? (size_t)(colon - h) : strlen(h);
        memcpy(cfg->host, h, hl);
    }
    cfg->host[hl] = 0;
    if (colon)
        snprintf(port, sizeof port, "%s", colon + 1);
    cfg->port = (int)strtol(port, NULL, 10);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int r = getaddrinfo(cfg->host, port, &hints, &res);
    if (r != 0 || !res) {
        fprintf(stderr, "tern-bench: cannot resolve %s: %s\n", cfg->host, gai_strerror(r));
        return -1;
    }
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* ---- the plan ------------------------------------------------------------------------ */

void plan_receivers(bench *b, int G, int M)
{
    for (int g = 0; g < G; g++)
        for (int m = 0; m < M; m++) {
            bconn *c = &b->conns[g * M + m];
            snprintf(c->user, sizeof c->user, "%.40sr%d_%d", b->cfg.prefix, g, m);
            c->group = g;
            c->slot = (uint32_t)m;
            c->sender = -1;
        }
}

void bench_plan(bench *b)
{
    bench_cfg *cfg = &b->cfg;
    if (cfg->workload == W_FANOUT || cfg->workload == W_MEDIA) {
        int G = cfg->groups, M = cfg->members, S = cfg->senders;
        b->nconns = G * M + S;
        b->nsenders = S;
        b->conns = tern_calloc((size_t)b->nconns, sizeof *b->conns);
        b->senders = tern_calloc((size_t)S, sizeof *b->senders);
        plan_receivers(b, G, M);
        for (int i = 0; i < S; i++) {
            int g = i % G;
            int sg = S / G + (g < S % G); /* senders in group g */
            bconn *c = &b->conns[G * M + i];
            snprintf(c->user, sizeof c->user, "%.40ss%d", cfg->prefix, i);
            c->group = g;
            c->slot = (uint32_t)(M + i / G);
            c->sender = i;
            sender *s = &b->senders[i];
            s->conn = G * M + i;
            s->group = g;
            s->peer_conn = -1;
            s->nslots = (uint32_t)(M + sg);
            s->self_slot = c->slot;
            s->expect = (uint32_t)(M + sg - 1);
        }
    } else if (cfg->workload == W_C2C) {
        int P = cfg->pairs;
        b->nconns = 2 * P;
        b->nsenders = 2 * P;
        b->conns = tern_calloc((size_t)b->nconns, sizeof *b->conns);
        b->senders = tern_calloc((size_t)b->nsenders, sizeof *b->senders);
        for (int i = 0; i < 2 * P; i++) {
            bconn *c = &b->conns[i];
            snprintf(c->user, sizeof c->user, "%.40s%c%d", cfg->prefix, i % 2 ? 'b' : 'a', i / 2);
            c->group = -1;
            c->slot = 0;
            c->sender = i;
            sender *s = &b->senders[i];
            s->conn = i;
            s->group = -1;
            s->peer_conn = i ^ 1;
            s->nslots = 1;
            s->self_slot = UINT32_MAX;
            s->expect = 1;
        }
    } else {
        b->nconns = cfg->connections;
        b->conns = tern_calloc((size_t)b->nconns, sizeof *b->conns);
        for (int i = 0; i < b->nconns; i++) {
            bconn *c = &b->conns[i];
            snprintf(c->user, sizeof c->user, "%.40si%d", cfg->prefix, i);
            c->group = -1;
            c->sender = -1;
        }
    }
    for (int i = 0; i < b->nconns; i++)
        b->conns[i].idx = i;
}

/* ---- counters ------------------------------------------------------------------------ */

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void sum_counters(bench *b, bcounters *o)
{
    memset(o, 0, sizeof *o);
    for (int k = 0; k < b->cfg.threads; k++) {
        bcounters *c = &b->threads[k].c;
        o->sent += LOAD(c->sent);
        o->sent_win += LOAD(c->sent_win);
        o->acks += LOAD(c->acks);
        o->acks_win += LOAD(c->acks_win);
        o->ack_errors += LOAD(c->ack_errors);
        o->expected += LOAD(c->expected);
        o->recv += LOAD(c->recv);
        o->recv_win += LOAD(c->recv_win);
        o->recv_distinct += LOAD(c->recv_distinct);
        o->dups += LOAD(c->dups);
        o->unexpected += LOAD(c->unexpected);
        o->conn_failed += LOAD(c->conn_failed);
        o->conn_ready += LOAD(c->conn_ready);
        o->closed_unexpected += LOAD(c->closed_unexpected);
        o->server_events += LOAD(c->server_events);
        o->send_dropped += LOAD(c->send_dropped);
        uint64_t lag = LOAD(c->lag_max_ns);
        if (lag > o->lag_max_ns)
            o->lag_max_ns = lag;
    }
}

static const char *first_error(bench *b)
{
    for (int k = 0; k < b->cfg.threads; k++)
        if (b->threads[k].errmsg[0])
            return b->threads[k].errmsg;
    return NULL;
}

void bench_sleep_until(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / NS), .tv_nsec = (long)(t_ns % NS)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void sleep_ms(unsigned ms)
{
    bench_sleep_until(tern_mono_ns() + (uint64_t)ms * 1000000ull);
}

static int quiet;
#define PROGRESS(...) BENCH_SAY(quiet, __VA_ARGS__)

/* ---- results ------------------------------------------------------------------------- */

typedef struct result {
    bcounters c;
    hist lat, ack, connect;
    uint64_t lost, unacked, delivered_owed;
    double window_s;
    double connect_s;
    int64_t srv_cpu_us; /* in the window (idle: hold), -1 if not sampled */
    int64_t srv_connect_cpu_us;
    int64_t srv_rss_kib; /* at the end of the window */
    int64_t srv_rss0_kib, srv_rss1_kib;
    int64_t self_cpu_us;
    int64_t machine_busy_us; /* all CPUs, in the window; -1 if unknown */
} result;

static void merge_hists(bench *b, result *r)
{
    hist_init(&r->lat);
    hist_init(&r->ack);
    hist_init(&r->connect);
    for (int k = 0; k < b->cfg.threads; k++) {
        hist_merge(&r->lat, &b->threads[k].lat);
        hist_merge(&r->ack, &b->threads[k].ack);
        hist_merge(&r->connect, &b->threads[k].connect);
    }
}

/* Exact loss after the threads stopped: every acked message owes `expect` deliveries. */
void bench_count_loss(bench *b, uint64_t from, uint64_t to, uint64_t *owed, uint64_t *lost, uint64_t *unacked)
{
    *owed = *lost = *unacked = 0;
    for (int i = 0; i < b->nsenders; i++) {
        sender *s = &b->senders[i];
        for (uint64_t q = 0; q < s->next_seq; q++) {
            if (s->send_ns[q] < from || s->send_ns[q] >= to)
                continue;
            if (s->acked[q] == 0)
                (*unacked)++;
            if (s->acked[q] != 1)
                continue;
            uint32_t got = 0;
            for (uint32_t k = 0; k < s->nslots; k++) {
                if (k == s->self_slot)
                    continue;
                uint64_t bit = q * s->nslots + k;
                got += (uint32_t)(s->recv_bits[bit >> 6] >> (bit & 63) & 1);
            }
            *owed += s->expect;
            *lost += s->expect - got;
        }
    }
}

void json_num(FILE *f, const char *key, double v, int have, int decimals)
{
    if (have && isfinite(v))
        fprintf(f, ",\"%s\":%.*f", key, decimals, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static uint64_t errors_of(const result *r)
{
    return r->c.ack_errors + r->unacked + r->c.conn_failed + r->c.closed_unexpected + r->c.server_events +
           r->c.send_dropped;
}

/* Deliveries each message owes, averaged over the senders (M when S <= G). */
static double mean_expect(const bench *b)
{
    double sum = 0;
    for (int i = 0; i < b->nsenders; i++)
        sum += b->senders[i].expect;
    return b->nsenders ? sum / b->nsenders : 0;
}

static void report(bench *b, result *r)
{
    const bench_cfg *cfg = &b->cfg;
    int w = cfg->workload;
    int msgs = w != W_IDLE;
    int sampled = cfg->server_pid > 0 && r->srv_cpu_us >= 0;
    double win = r->window_s > 0 ? r->window_s : 1;
    double sent_ps = (double)r->c.sent_win / win;
    double deliv_ps = (double)r->c.recv_win / win;
    double cpu_per_deliv = r->c.recv_win ? (double)r->srv_cpu_us / (double)r->c.recv_win : NAN;
    double cpu_per_msg = r->c.sent_win ? (double)r->srv_cpu_us / (double)r->c.sent_win : NAN;
    double srv_pct = (double)r->srv_cpu_us / (win * 1e6) * 100.0;
    double self_pct = (double)r->self_cpu_us / (win * 1e6) * 100.0;
    uint64_t nconn = r->c.conn_ready;
    double rss_per_conn = (w == W_IDLE && nconn && r->srv_rss0_kib >= 0 && r->srv_rss1_kib >= 0)
                              ? (double)(r->srv_rss1_kib - r->srv_rss0_kib) / (double)nconn
                              : NAN;
    double connects_ps = r->connect_s > 0 ? (double)nconn / r->connect_s : NAN;
    double conn_cpu_ms =
        nconn && r->srv_connect_cpu_us >= 0 ? (double)r->srv_connect_cpu_us / 1e3 / (double)nconn : NAN;
    int have_lat = msgs && r->lat.count > 0;
    double busy_pct = (double)r->machine_busy_us / (win * 1e6) * 100.0;
    double other_pct = busy_pct - srv_pct - self_pct;
    if (other_pct < 0)
        other_pct = 0;
    int have_ack = msgs && r->ack.count > 0;

    if (cfg->json) {
        FILE *f = stdout;
        fprintf(f, "{\"workload\":\"%s%s\"", WORKLOAD_NAMES[w], w == W_FANOUT && cfg->mix ? "_mix" : "");
        json_num(f, "groups", cfg->groups, w == W_FANOUT, 0);
        json_num(f, "members", cfg->members, w == W_FANOUT, 0);
        json_num(f, "senders", b->nsenders, msgs, 0);
        json_num(f, "pairs", cfg->pairs, w == W_C2C, 0);
        json_num(f, "rate", cfg->rate, msgs, 0);
        json_num(f, "duration", cfg->duration, 1, 1);
        json_num(f, "warmup", cfg->warmup, msgs, 1);
        json_num(f, "connections", (double)b->nconns, 1, 0);
        json_num(f, "text_size", cfg->text_size, msgs, 0);
        json_num(f, "threads", cfg->threads, 1, 0);
        json_num(f, "sent", (double)r->c.sent_win, msgs, 0);
        json_num(f, "sent_per_s", sent_ps, msgs, 1);
        json_num(f, "delivered", (double)r->c.recv_win, msgs, 0);
        json_num(f, "delivered_per_s", deliv_ps, msgs, 1);
        json_num(f, "sent_total", (double)r->c.sent, msgs, 0);
        json_num(f, "acked_total", (double)r->c.acks, msgs, 0);
        json_num(f, "expected_total", (double)r->delivered_owed, msgs, 0);
        json_num(f, "lost", (double)r->lost, msgs, 0);
        json_num(f, "duplicates", (double)r->c.dups, msgs, 0);
        json_num(f, "errors", (double)errors_of(r), 1, 0);
        json_num(f, "ack_errors", (double)r->c.ack_errors, msgs, 0);
        json_num(f, "unacked", (double)r->unacked, msgs, 0);
        json_num(f, "conn_failed", (double)r->c.conn_failed, 1, 0);
        json_num(f, "conn_closed", (double)r->c.closed_unexpected, 1, 0);
        json_num(f, "unexpected", (double)r->c.unexpected, 1, 0);
        json_num(f, "p50_ms", ms(hist_quantile(&r->lat, 0.50)), have_lat, 3);
        json_num(f, "p90_ms", ms(hist_quantile(&r->lat, 0.90)), have_lat, 3);
        json_num(f, "p99_ms", ms(hist_quantile(&r->lat, 0.99)), have_lat, 3);
        json_num(f, "p999_ms", ms(hist_quantile(&r->lat, 0.999)), have_lat, 3);
        json_num(f, "max_ms", ms(r->lat.max), have_lat, 3);
        json_num(f, "ack_p50_ms", ms(hist_quantile(&r->ack, 0.50)), have_ack, 3);
        json_num(f, "ack_p99_ms", ms(hist_quantile(&r->ack, 0.99)), have_ack, 3);
        json_num(f, "ack_max_ms", ms(r->ack.max), have_ack, 3);
        json_num(f, "server_cpu_pct", srv_pct, sampled, 1);
        json_num(f, "server_cpu_us_per_delivery", cpu_per_deliv, sampled && msgs && r->c.recv_win, 3);
        json_num(f, "server_cpu_us_per_msg", cpu_per_msg, sampled && msgs && r->c.sent_win, 3);
        json_num(f, "server_rss_kib", (double)r->srv_rss_kib, cfg->server_pid > 0 && r->srv_rss_kib >= 0, 0);
        json_num(f, "server_rss_kib_per_conn", rss_per_conn, w == W_IDLE && cfg->server_pid > 0, 2);
        json_num(f, "connects_per_s", connects_ps, 1, 0);
        json_num(f, "connect_p50_ms", ms(hist_quantile(&r->connect, 0.50)), r->connect.count > 0, 3);
        json_num(f, "connect_p99_ms", ms(hist_quantile(&r->connect, 0.99)), r->connect.count > 0, 3);
        json_num(f, "server_cpu_ms_per_connect", conn_cpu_ms, cfg->server_pid > 0 && w == W_IDLE, 3);
        json_num(f, "bench_cpu_pct", self_pct, 1, 1);
        json_num(f, "machine_busy_pct", busy_pct, r->machine_busy_us >= 0, 1);
        json_num(f, "other_cpu_pct", other_pct, r->machine_busy_us >= 0 && sampled, 1);
        json_num(f, "send_lag_max_ms", ms(r->c.lag_max_ns), msgs, 3);
        fputs("}\n", f);
        fflush(f);
        return;
    }

    printf("workload %s%s", WORKLOAD_NAMES[w], w == W_FANOUT && cfg->mix ? "_mix" : "");
    if (w == W_FANOUT)
        printf(": %d groups x %d receivers, %d senders, %.0f msg/s (%.0f deliveries/s offered), %d-byte text\n",
               cfg->groups, cfg->members, cfg->senders, cfg->rate, cfg->rate * mean_expect(b), cfg->text_size);
    else if (w == W_C2C)
        printf(": %d pairs, %.0f msg/s, %d-byte text\n", cfg->pairs, cfg->rate, cfg->text_size);
    else
        printf(": %d connections held %.0f s\n", cfg->connections, cfg->duration);
    printf("  connections   %" PRIu64 " ready, %" PRIu64 " failed, %" PRIu64 " closed early; %.0f connects/s"
           " (connect->ready p50 %.2f ms, p99 %.2f ms)\n",
           nconn, r->c.conn_failed, r->c.closed_unexpected, connects_ps, ms(hist_quantile(&r->connect, 0.5)),
           ms(hist_quantile(&r->connect, 0.99)));
    if (msgs) {
        printf("  window        %.1f s after %.1f s warm-up\n", r->window_s, cfg->warmup);
        printf("  sent          %.0f msg/s (%" PRIu64 " in window, %" PRIu64 " total, %" PRIu64 " acked, %" PRIu64
               " error responses, %" PRIu64 " unanswered)\n",
               sent_ps, r->c.sent_win, r->c.sent, r->c.acks, r->c.ack_errors, r->unacked);
        printf("  delivered     %.0f /s (%" PRIu64 " in window)\n", deliv_ps, r->c.recv_win);
        printf("  latency       p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms\n",
               ms(hist_quantile(&r->lat, 0.5)), ms(hist_quantile(&r->lat, 0.9)), ms(hist_quantile(&r->lat, 0.99)),
               ms(hist_quantile(&r->lat, 0.999)), ms(r->lat.max));
        printf("  ack latency   p50 %.2f  p99 %.2f  max %.2f ms\n", ms(hist_quantile(&r->ack, 0.5)),
               ms(hist_quantile(&r->ack, 0.99)), ms(r->ack.max));
        printf("  lost          %" PRIu64 " of %" PRIu64 " owed deliveries; %" PRIu64 " duplicates, %" PRIu64
               " unexpected frames\n",
               r->lost, r->delivered_owed, r->c.dups, r->c.unexpected);
        printf("  generator     %.0f %% CPU, worst pacing lag %.2f ms\n", self_pct, ms(r->c.lag_max_ns));
        if (r->machine_busy_us >= 0)
            printf("  machine       %.0f %% busy of %ld %%; other processes %.0f %%\n", busy_pct,
                   sysconf(_SC_NPROCESSORS_ONLN) * 100, other_pct);
    }
    if (sampled) {
        if (msgs)
            printf("  server        %.1f %% CPU, %.2f us CPU per delivery (%.2f per message), RSS %" PRId64 " KiB\n",
                   srv_pct, cpu_per_deliv, cpu_per_msg, r->srv_rss_kib);
        else
            printf("  server        RSS %" PRId64 " -> %" PRId64 " KiB: %.2f KiB per connection; %.3f ms CPU per"
                   " connect; %.1f %% CPU while idle\n",
                   r->srv_rss0_kib, r->srv_rss1_kib, rss_per_conn, conn_cpu_ms, srv_pct);
    }
    printf("  errors        %" PRIu64 "\n", errors_of(r));
    const char *e = first_error(b);
    if (e)
        printf("  first error   %s\n", e);
}

/* ---- the run ------------------------------------------------------------------------- */

/* Waits until every connection is ready or failed, or the setup deadline. */
static void wait_connected(bench *b)
{
    uint64_t t0 = tern_mono_ns();
    uint64_t deadline = t0 + (uint64_t)(b->cfg.setup_timeout * 1e9);
    uint64_t next_note = t0 + 2 * NS;
    for (;;) {
        int done = 1;
        for (int k = 0; k < b->cfg.threads; k++)
            done &= __atomic_load_n(&b->threads[k].done_connecting, __ATOMIC_ACQUIRE);
        if (done)
            return;
        uint64_t now = tern_mono_ns();
        if (now >= deadline) {
            PROGRESS("setup timeout: not every connection became ready in %.0f s", b->cfg.setup_timeout);
            return;
        }
        if (now >= next_note) {
            bcounters c;
            sum_counters(b, &c);
            PROGRESS("%" PRIu64 "/%d ready, %" PRIu64 " failed", c.conn_ready, b->nconns, c.conn_failed);
            next_note = now + 2 * NS;
        }
        sleep_ms(5);
    }
}

void bench_stop(bench *b)
{
    __atomic_store_n(&b->phase, PH_STOP, __ATOMIC_RELEASE);
    client_wake(b);
    client_join(b);
}

int bench_wait_connected(bench *b)
{
    wait_connected(b);
    bcounters c;
    sum_counters(b, &c);
    if (c.conn_ready < (uint64_t)b->nconns) {
        const char *e = first_error(b);
        fprintf(stderr, "tern-bench: setup failed: %" PRIu64 " of %d connections ready%s%s\n", c.conn_ready, b->nconns,
                e ? ": " : "", e ? e : "");
        return -1;
    }
    PROGRESS("%" PRIu64 "/%d ready", c.conn_ready, b->nconns);
    return 0;
}

void bench_drain(bench *b)
{
    uint64_t deadline = tern_mono_ns() + (uint64_t)(b->cfg.drain * 1e9);
    for (;;) {
        bcounters c;
        sum_counters(b, &c);
        if (c.acks + c.ack_errors >= c.sent && c.recv_distinct >= c.expected)
            break;
        if (tern_mono_ns() >= deadline) {
            PROGRESS("drain ended after %.0f s with deliveries or answers outstanding", b->cfg.drain);
            break;
        }
        sleep_ms(5);
    }
}

static int run(bench *b)
{
    bench_cfg *cfg = &b->cfg;
    int pid = cfg->server_pid;
    result r;
    memset(&r, 0, sizeof r);
    r.srv_cpu_us = r.srv_connect_cpu_us = -1;
    r.srv_rss_kib = r.srv_rss0_kib = r.srv_rss1_kib = -1;
    r.machine_busy_us = -1;

    bench_plan(b);
    PROGRESS("setup: %d users%s (prefix %s)", b->nconns, cfg->workload == W_FANOUT ? " and groups" : "", cfg->prefix);
    if (rest_setup(b) < 0)
        return 2;
    if (client_prepare(b) < 0) {
        fprintf(stderr, "tern-bench: cannot build the send templates\n");
        return 2;
    }

    if (pid > 0) {
        r.srv_rss0_kib = sys_proc_rss_kib(pid);
        r.srv_connect_cpu_us = sys_proc_cpu_us(pid);
    }
    PROGRESS("connecting %d WebSockets (%d in flight, %d thread%s)", b->nconns, cfg->concurrency, cfg->threads,
             cfg->threads > 1 ? "s" : "");
    if (client_start(b) < 0) {
        fprintf(stderr, "tern-bench: cannot start the client threads\n");
        return 2;
    }
    wait_connected(b);
    sum_counters(b, &r.c);
    if (pid > 0 && r.srv_connect_cpu_us >= 0)
        r.srv_connect_cpu_us = sys_proc_cpu_us(pid) - r.srv_connect_cpu_us;
    uint64_t first = UINT64_MAX, last = 0;
    for (int k = 0; k < cfg->threads; k++) {
        bthread *t = &b->threads[k];
        if (t->first_connect && t->first_connect < first)
            first = t->first_connect;
        if (t->last_ready > last)
            last = t->last_ready;
    }
    r.connect_s = last > first ? (double)(last - first) / 1e9 : 0;
    PROGRESS("%" PRIu64 "/%d ready in %.2f s, %" PRIu64 " failed", r.c.conn_ready, b->nconns, r.connect_s,
             r.c.conn_failed);

    if (r.c.conn_ready < (uint64_t)b->nconns && (cfg->workload != W_IDLE || r.c.conn_ready == 0)) {
        const char *e = first_error(b);
        fprintf(stderr, "tern-bench: setup failed: %" PRIu64 " of %d connections ready%s%s\n", r.c.conn_ready,
                b->nconns, e ? ": " : "", e ? e : "");
        bench_stop(b);
        return 2;
    }

    if (cfg->workload == W_IDLE) {
        bench_sleep_until(tern_mono_ns() + (uint64_t)(cfg->settle * 1e9));
        if (pid > 0)
            r.srv_rss1_kib = sys_proc_rss_kib(pid);
        PROGRESS("holding %" PRIu64 " connections idle for %.0f s", r.c.conn_ready, cfg->duration);
        int64_t cpu0 = pid > 0 ? sys_proc_cpu_us(pid) : -1;
        int64_t self0 = sys_self_cpu_us();
        int64_t mb0 = 0, mt0 = 0, mb1 = 0, mt1 = 0;
        int mok = sys_machine_cpu_us(&mb0, &mt0) == 0;
        uint64_t t0 = tern_mono_ns();
        bench_sleep_until(t0 + (uint64_t)(cfg->duration * 1e9));
        r.window_s = (double)(tern_mono_ns() - t0) / 1e9;
        if (pid > 0 && cpu0 >= 0) {
            r.srv_cpu_us = sys_proc_cpu_us(pid) - cpu0;
            r.srv_rss_kib = sys_proc_rss_kib(pid);
        }
        r.self_cpu_us = sys_self_cpu_us() - self0;
        r.machine_busy_us = mok && sys_machine_cpu_us(&mb1, &mt1) == 0 ? mb1 - mb0 : -1;
        bench_stop(b);
        sum_counters(b, &r.c);
        merge_hists(b, &r);
        report(b, &r);
        return 0;
    }

    uint64_t now = tern_mono_ns();
    b->t_start = now + 20000000ull;
    b->win_start = b->t_start + (uint64_t)(cfg->warmup * 1e9);
    b->win_end = b->win_start + (uint64_t)(cfg->duration * 1e9);
    __atomic_store_n(&b->phase, PH_RUN, __ATOMIC_RELEASE);
    PROGRESS("running: %.1f s warm-up, %.1f s measured", cfg->warmup, cfg->duration);

    bench_sleep_until(b->win_start);
    int64_t cpu0 = pid > 0 ? sys_proc_cpu_us(pid) : -1;
    int64_t self0 = sys_self_cpu_us();
    int64_t mb0 = 0, mt0 = 0, mb1 = 0, mt1 = 0;
    int mok = sys_machine_cpu_us(&mb0, &mt0) == 0;
    uint64_t w0 = tern_mono_ns();
    bench_sleep_until(b->win_end);
    uint64_t w1 = tern_mono_ns();
    if (pid > 0 && cpu0 >= 0) {
        r.srv_cpu_us = sys_proc_cpu_us(pid) - cpu0;
        r.srv_rss_kib = sys_proc_rss_kib(pid);
    }
    r.self_cpu_us = sys_self_cpu_us() - self0;
    r.machine_busy_us = mok && sys_machine_cpu_us(&mb1, &mt1) == 0 ? mb1 - mb0 : -1;
    r.window_s = (double)(w1 - w0) / 1e9;

    bench_drain(b);
    bench_stop(b);
    sum_counters(b, &r.c);
    merge_hists(b, &r);
    bench_count_loss(b, 0, UINT64_MAX, &r.delivered_owed, &r.lost, &r.unacked);
    report(b, &r);
    return 0;
}

/* ---- options ------------------------------------------------------------------------- */

enum {
    O_URL = 256,
    O_APP,
    O_CLIENT_ID,
    O_SECRET,
    O_APP_FILE,
    O_SERVER_PID,
    O_PREFIX,
    O_GROUPS,
    O_MEMBERS,
    O_SENDERS,
    O_PAIRS,
    O_CONNECTIONS,
    O_RATE,
    O_DURATION,
    O_WARMUP,
    O_DRAIN,
    O_SETTLE,
    O_TEXT_SIZE,
    O_FRAME_SIZE,
    O_URING,
    O_MIX,
    O_THREADS,
    O_CONCURRENCY,
    O_SETUP_TIMEOUT,
    O_JSON,
    O_WORKLOAD,
    O_STREAMS,
    O_CHUNKS,
    O_CHUNK_SIZE,
    O_HTTP_CONNS,
    O_APP_RATE,
    O_ADMIN_TOKEN_FILE,
    O_FILE_SIZE,
    O_REPS,
    O_UPLOADERS,
    O_UPLOAD_SIZE,
    O_MEDIA_DIR,
    O_UPLOAD_RATE
};

/* stream: the admin token from file (or admin.token beside app_file). 0 or -1. */
static int read_admin_token(bench_cfg *cfg, const char *file, const char *app_file)
{
    char path[1024];
    if (!file && app_file) {
        const char *sl = strrchr(app_file, '/');
        snprintf(path, sizeof path, "%.*sadmin.token", sl ? (int)(sl - app_file + 1) : 0, app_file);
        file = path;
    }
    FILE *f = file ? fopen(file, "r") : NULL;
    size_t n = f ? fread(cfg->admin_token, 1, sizeof cfg->admin_token - 1, f) : 0;
    if (f)
        fclose(f);
    while (n && (cfg->admin_token[n - 1] == '\n' || cfg->admin_token[n - 1] == '\r' || cfg->admin_token[n - 1] == ' '))
        n--;
    cfg->admin_token[n] = 0;
    if (!n) {
        fprintf(stderr, "tern-bench: stream: no admin token in %s (--admin-token-file)\n",
                file ? file : "(none given)");
        return -1;
    }
    return 0;
}

static int num_arg(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "tern-bench: %s: expected a number in [%g, %g], got '%s'\n", name, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

int main(int argc, char **argv)
{
    static bench B;
    bench *b = &B;
    bench_cfg *cfg = &b->cfg;
    cfg->workload = -1;
    cfg->groups = 100;
    cfg->members = 10;
    cfg->senders = 100;
    cfg->pairs = 100;
    cfg->connections = -1;
    cfg->rate = -1;
    cfg->duration = 10;
    cfg->warmup = 2;
    cfg->drain = 5;
    cfg->settle = 2;
    cfg->setup_timeout = 120;
    cfg->text_size = 200;
    cfg->frame_size = 330;
    cfg->threads = 1;
    cfg->concurrency = 200;
    const char *app_file = NULL, *admin_file = NULL;
    cfg->streams = 1000;
    cfg->chunks = 20;
    cfg->chunk_size = 40;
    cfg->http_conns = 4;
    cfg->app_rate = 90;
    cfg->media_size = 104857600;
    cfg->media_reps = 3;
    cfg->uploaders = 100;
    cfg->upload_size = 1048576;
    b->win_split[0] = b->win_split[1] = UINT64_MAX;
    const char *appkey = NULL;

    static const struct option opts[] = {
        {"url", required_argument, NULL, O_URL},
        {"app", required_argument, NULL, O_APP},
        {"client-id", required_argument, NULL, O_CLIENT_ID},
        {"secret", required_argument, NULL, O_SECRET},
        {"app-file", required_argument, NULL, O_APP_FILE},
        {"server-pid", required_argument, NULL, O_SERVER_PID},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"groups", required_argument, NULL, O_GROUPS},
        {"members", required_argument, NULL, O_MEMBERS},
        {"senders", required_argument, NULL, O_SENDERS},
        {"pairs", required_argument, NULL, O_PAIRS},
        {"connections", required_argument, NULL, O_CONNECTIONS},
        {"rate", required_argument, NULL, O_RATE},
        {"duration", required_argument, NULL, O_DURATION},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"drain", required_argument, NULL, O_DRAIN},
        {"settle", required_argument, NULL, O_SETTLE},
        {"text-size", required_argument, NULL, O_TEXT_SIZE},
        {"frame-size", required_argument, NULL, O_FRAME_SIZE},
        {"uring", no_argument, NULL, O_URING},
        {"mix", no_argument, NULL, O_MIX},
        {"threads", required_argument, NULL, O_THREADS},
        {"concurrency", required_argument, NULL, O_CONCURRENCY},
        {"setup-timeout", required_argument, NULL, O_SETUP_TIMEOUT},
        {"workload", required_argument, NULL, O_WORKLOAD},
        {"streams", required_argument, NULL, O_STREAMS},
        {"chunks", required_argument, NULL, O_CHUNKS},
        {"chunk-size", required_argument, NULL, O_CHUNK_SIZE},
        {"http-conns", required_argument, NULL, O_HTTP_CONNS},
        {"app-rate", required_argument, NULL, O_APP_RATE},
        {"admin-token-file", required_argument, NULL, O_ADMIN_TOKEN_FILE},
        {"file-size", required_argument, NULL, O_FILE_SIZE},
        {"reps", required_argument, NULL, O_REPS},
        {"uploaders", required_argument, NULL, O_UPLOADERS},
        {"upload-size", required_argument, NULL, O_UPLOAD_SIZE},
        {"media-dir", required_argument, NULL, O_MEDIA_DIR},
        {"upload-rate", required_argument, NULL, O_UPLOAD_RATE},
        {"json", no_argument, NULL, O_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *wl = NULL;
    int o;
    double d;
    while ((o = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        const char *name = NULL;
        if (o >= O_URL)
            for (const struct option *p = opts; p->name; p++)
                if (p->val == o)
                    name = p->name;
        switch (o) {
        case 'h': usage(stdout); return 0;
        case 'q': quiet = 1; break;
        case O_URL: snprintf(cfg->url, sizeof cfg->url, "%s", optarg); break;
        case O_APP: appkey = optarg; break;
        case O_CLIENT_ID: snprintf(cfg->client_id, sizeof cfg->client_id, "%s", optarg); break;
        case O_SECRET: snprintf(cfg->secret, sizeof cfg->secret, "%s", optarg); break;
        case O_APP_FILE: app_file = optarg; break;
        case O_ADMIN_TOKEN_FILE: admin_file = optarg; break;
        case O_MEDIA_DIR: snprintf(cfg->media_dir, sizeof cfg->media_dir, "%s", optarg); break;
        case O_PREFIX: snprintf(cfg->prefix, sizeof cfg->prefix, "%s", optarg); break;
        case O_JSON: cfg->json = 1; break;
        case O_WORKLOAD:
            wl = optarg;
            break;
/* A numeric option: range-checked into cfg->field (converted by conv); ends the case. */
#define NUM(field, lo, hi, conv)                                                                                       \
    if (num_arg(name, optarg, lo, hi, &d) < 0)                                                                         \
        return 1;                                                                                                      \
    cfg->field = conv d;                                                                                               \
    break;
        case O_SERVER_PID: NUM(server_pid, 1, 4194304, (int))
        case O_GROUPS: NUM(groups, 1, 100000, (int))
        case O_MEMBERS: NUM(members, 1, 100000, (int))
        case O_SENDERS: NUM(senders, 1, 999999, (int))
        case O_PAIRS: NUM(pairs, 1, 499999, (int))
        case O_CONNECTIONS: NUM(connections, 1, 1000000, (int))
        case O_RATE: NUM(rate, 0, 1e7, )
        case O_DURATION: NUM(duration, 0.1, 86400, )
        case O_WARMUP: NUM(warmup, 0, 3600, )
        case O_DRAIN: NUM(drain, 0, 3600, )
        case O_SETTLE: NUM(settle, 0, 3600, )
        case O_TEXT_SIZE: NUM(text_size, 53, 12000, (int))
        case O_FRAME_SIZE: NUM(frame_size, 8, 65536, (int))
        case O_URING: cfg->floor_uring = 1; break;
        case O_MIX: cfg->mix = 1; break;
        case O_THREADS: NUM(threads, 1, 64, (int))
        case O_CONCURRENCY: NUM(concurrency, 1, 100000, (int))
        case O_SETUP_TIMEOUT: NUM(setup_timeout, 1, 86400, )
        case O_STREAMS: NUM(streams, 1, 100000, (int))
        case O_CHUNKS: NUM(chunks, 1, 100000, (int))
        case O_CHUNK_SIZE: NUM(chunk_size, 16, 12000, (int))
        case O_HTTP_CONNS: NUM(http_conns, 1, 64, (int))
        case O_APP_RATE: NUM(app_rate, 1, 1e6, )
        case O_FILE_SIZE: NUM(media_size, 1, 1e12, (uint64_t))
        case O_REPS: NUM(media_reps, 1, 1000, (int))
        case O_UPLOADERS: NUM(uploaders, 0, 10000, (int))
        case O_UPLOAD_SIZE: NUM(upload_size, 1, 1e10, (uint64_t))
        case O_UPLOAD_RATE: NUM(upload_rate, 0, 1e6, )
#undef NUM
        default: usage(stderr); return 1;
        }
    }
    if (!wl && optind < argc)
        wl = argv[optind++];
    if (optind < argc || !wl) {
        fprintf(stderr, "tern-bench: %s\n",
                wl ? "unexpected arguments" : "which workload? fanout, c2c, idle, floor, stream or media");
        usage(stderr);
        return 1;
    }
    for (int i = 0; i < NWORKLOADS; i++)
        if (strcmp(wl, WORKLOAD_NAMES[i]) == 0)
            cfg->workload = i;
    if (cfg->workload < 0) {
        fprintf(stderr, "tern-bench: unknown workload '%s' (fanout, c2c, idle, floor, stream, media)\n", wl);
        return 1;
    }
    if (cfg->rate < 0)
        cfg->rate = cfg->workload == W_C2C      ? 20000
                    : cfg->workload == W_FLOOR  ? 50000
                    : cfg->workload == W_STREAM ? 2000
                                                : 5000;
    if (cfg->connections < 0)
        cfg->connections = cfg->workload == W_FLOOR ? 1000 : 10000;
    if (cfg->workload == W_FLOOR) { /* no server: none of the server and app options apply */
        long lim = sys_raise_nofile();
        if (lim > 0 && cfg->connections + 64 > lim)
            fprintf(stderr, "tern-bench: warning: %d connections but the open-files limit is %ld\n", cfg->connections,
                    lim);
        return floor_run(cfg, quiet);
    }
    if (app_file && rest_load_app_file(cfg, app_file) < 0)
        return 1;
    if (!cfg->media_dir[0]) { /* the baseline writes beside ternd's data: the same disk */
        const char *sl = app_file ? strrchr(app_file, '/') : NULL;
        snprintf(cfg->media_dir, sizeof cfg->media_dir, "%.*s", sl ? (int)(sl - app_file) : 1, sl ? app_file : ".");
    }
    if (cfg->workload == W_STREAM && read_admin_token(cfg, admin_file, app_file) < 0)
        return 1;
    if (appkey) {
        const char *sl = strchr(appkey, '/');
        if (!sl || (size_t)(sl - appkey) >= sizeof cfg->org || strlen(sl + 1) >= sizeof cfg->app) {
            fprintf(stderr, "tern-bench: --app must be ORG/APP\n");
            return 1;
        }
        snprintf(cfg->org, sizeof cfg->org, "%.*s", (int)(sl - appkey), appkey);
        snprintf(cfg->app, sizeof cfg->app, "%s", sl + 1);
    }
    if (!cfg->url[0] || !cfg->org[0] || !cfg->app[0] || !cfg->client_id[0] || !cfg->secret[0]) {
        fprintf(stderr, "tern-bench: --url, --app (or --app-file), --client-id and --secret are required\n");
        return 1;
    }
    snprintf(cfg->appkey, sizeof cfg->appkey, "%s/%s", cfg->org, cfg->app);
    if (parse_url(cfg) < 0)
        return 1;
    cfg->runid = random32();
    if (!cfg->prefix[0])
        snprintf(cfg->prefix, sizeof cfg->prefix, "b%08x_", cfg->runid);
    if (!tern_ident_valid(cfg->prefix, strlen(cfg->prefix)) || strlen(cfg->prefix) > 40) {
        fprintf(stderr, "tern-bench: --prefix must be 1-40 characters of [A-Za-z0-9_.@=+-]\n");
        return 1;
    }
    long nofile = sys_raise_nofile();
    int need = cfg->workload == W_MEDIA    ? cfg->groups * cfg->members + cfg->senders + cfg->uploaders
               : cfg->workload == W_FANOUT ? cfg->groups * cfg->members + cfg->senders
               : cfg->workload == W_C2C    ? 2 * cfg->pairs
               : cfg->workload == W_STREAM ? cfg->streams * cfg->members
                                           : cfg->connections;
    if (nofile > 0 && need + 64 > nofile)
        fprintf(stderr, "tern-bench: warning: %d connections but the open-files limit is %ld\n", need, nofile);
    if (cfg->threads > need)
        cfg->threads = need;
    if ((cfg->workload == W_FANOUT || cfg->workload == W_MEDIA) && cfg->senders > cfg->groups)
        PROGRESS("note: %d senders > %d groups: the other senders of a group receive its messages too", cfg->senders,
                 cfg->groups);

    int rc = cfg->workload == W_STREAM ? stream_run(b, quiet) : cfg->workload == W_MEDIA ? media_run(b, quiet) : run(b);
    client_free(b);
    tern_free(b->conns);
    tern_free(b->senders);
    return rc;
}
