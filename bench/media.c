/*
 * media.c — the `media` workload of tern-bench (issue 9, "Performance"; docs/performance.md,
 * "Media"). One run measures, against the real ternd:
 *   1. upload throughput: a --file-size file POSTed raw to /{org}/{app}/media, against a
 *      plain loopback TCP copy of the same bytes made by this process (a listener thread
 *      reads the socket into a file in --media-dir, ternd's disk, with one fsync at the
 *      end; the same 256 KiB buffers as ternd's upload pieces);
 *   2. download throughput: GET of that media (ternd sends it with sendfile) against the
 *      same copy the other way (the listener reads the baseline file and writes it to the
 *      socket; both readers only count the bytes);
 *   3. the server's RSS growth during each transfer (VmRSS sampled every 2 ms and VmHWM);
 *   4. the fan-out workload for 2 x --duration: the first half alone, the second with
 *      --uploaders clients uploading --upload-size files back to back; p99 and exact loss
 *      of each half, from the fan-out's own histograms and loss bits (client.c files a
 *      delivery by its message's send time against bench.win_split);
 *   5. tern_img_probe's cost per image on JPEG (with EXIF), PNG, GIF, WebP and BMP heads.
 * Baseline and ternd transfers alternate --reps times (the order flips every rep), each
 * after a sync(2) so no transfer pays for the previous one's writeback. The figures are
 * medians over the reps; scripts/bench.sh takes medians over runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/token.h"
#include "core/util.h"

#define XFER_BUF UPLOAD_BUF
#define MIB (1024.0 * 1024.0)
#define MAX_REPS 64
#define NSEG_MAX 3

static int quiet_;
#define SAY(...) BENCH_SAY(quiet_, __VA_ARGS__)

/* ---- sockets and files --------------------------------------------------------------- */

/* Writes n bytes to fd in pieces of at most XFER_BUF (send(2) on a socket). 0 or -1. */
static int put_all(int fd, const char *p, uint64_t n, int sock)
{
    while (n) {
        size_t k = n < XFER_BUF ? (size_t)n : XFER_BUF;
        ssize_t w = sock ? send(fd, p, k, MSG_NOSIGNAL) : write(fd, p, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (uint64_t)w;
    }
    return 0;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* n bytes of pseudo-random data (incompressible, unlike a file of zeros). */
static char *random_bytes(uint64_t n, uint64_t seed)
{
    char *p = tern_malloc(n);
    uint64_t s = seed | 1;
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = xorshift(&s);
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (char)xorshift(&s);
    return p;
}

/* Makes a file's content unique (ternd may share storage of identical bytes). */
static void stamp(char *p, uint64_t n, uint64_t v)
{
    memcpy(p, &v, n < 8 ? (size_t)n : 8);
}

/* ---- the baseline: a plain loopback TCP copy, served by a thread of this process ------- */

typedef struct baseline {
    int lfd;
    struct sockaddr_storage addr;
    char path[1100]; /* the file it writes, then reads */
    uint64_t size;
    int upload; /* 1: socket -> file, fsync, one byte back; 0: file -> socket */
    int rc;
    char *buf;
    uv_thread_t th;
} baseline;

static void baseline_serve(void *arg)
{
    baseline *bl = arg;
    bl->rc = -1;
    int s = accept4(bl->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (s < 0)
        return;
    if (bl->upload) {
        int f = open(bl->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        uint64_t got = 0;
        while (f >= 0 && got < bl->size) {
            ssize_t n = read(s, bl->buf, XFER_BUF);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || put_all(f, bl->buf, (uint64_t)n, 0) < 0)
                break;
            got += (uint64_t)n;
        }
        if (f >= 0 && got == bl->size && fsync(f) == 0 && close(f) == 0) {
            f = -1;
            bl->rc = put_all(s, "k", 1, 1);
        }
        if (f >= 0)
            close(f);
    } else {
        char c;
        int f = recv(s, &c, 1, 0) == 1 ? open(bl->path, O_RDONLY | O_CLOEXEC) : -1;
        uint64_t sent = 0;
        while (f >= 0 && sent < bl->size) {
            ssize_t n = read(f, bl->buf, XFER_BUF);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || put_all(s, bl->buf, (uint64_t)n, 1) < 0)
                break;
            sent += (uint64_t)n;
        }
        if (f >= 0)
            close(f);
        bl->rc = sent == bl->size ? 0 : -1;
    }
    close(s);
}

static int baseline_open(baseline *bl, const bench_cfg *cfg, uint64_t size)
{
    memset(bl, 0, sizeof *bl);
    bl->size = size;
    snprintf(bl->path, sizeof bl->path, "%s/bench-media-baseline.%d", cfg->media_dir, (int)getpid());
    bl->lfd = loopback_listen(&bl->addr, 4);
    if (bl->lfd < 0) {
        fprintf(stderr, "tern-bench: media: baseline listener: %s\n", strerror(errno));
        return -1;
    }
    bl->buf = tern_malloc(XFER_BUF);
    return 0;
}

static void baseline_close(baseline *bl)
{
    if (bl->lfd >= 0)
        close(bl->lfd);
    unlink(bl->path);
    tern_free(bl->buf);
}

/* Reads from fd until n bytes or EOF, counting; the byte count. */
static uint64_t read_count(int fd, char *buf, uint64_t n)
{
    uint64_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf, XFER_BUF, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (uint64_t)r;
    }
    return got;
}

/* One baseline transfer (client side here, server side in the thread): seconds, or -1. */
static double baseline_run(baseline *bl, int upload, const char *data, char *buf)
{
    bl->upload = upload;
    if (uv_thread_create(&bl->th, baseline_serve, bl) != 0)
        return -1;
    uint64_t t0 = tern_mono_ns();
    int fd = bench_connect(&bl->addr, 0);
    int ok = 0;
    if (fd >= 0 && upload) {
        char c;
        ok = put_all(fd, data, bl->size, 1) == 0 && recv(fd, &c, 1, 0) == 1;
    } else if (fd >= 0) {
        ok = put_all(fd, "g", 1, 1) == 0 && read_count(fd, buf, bl->size) == bl->size;
    }
    uint64_t t1 = tern_mono_ns();
    if (fd >= 0)
        close(fd);
    uv_thread_join(&bl->th);
    return ok && bl->rc == 0 ? (double)(t1 - t0) / 1e9 : -1;
}

/* ---- ternd: upload and download -------------------------------------------------------- */

static int body_count(void *ud, const char *p, size_t n)
{
    (void)p;
    *(uint64_t *)ud += n;
    return 0;
}

/* Reads one HTTP response from fd into p (a body sink, if set, sees the body): its
 * status, or -1. */
static int read_response(int fd, http_parser *p, char *buf, size_t bufsz)
{
    for (;;) {
        ssize_t n = recv(fd, buf, bufsz, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        size_t used = 0;
        int st = http_parser_feed(p, buf, (size_t)n, &used);
        if (st == HTTP_COMPLETE)
            return http_parser_msg(p)->status;
        if (st != HTTP_NEED_MORE)
            return -1;
    }
}

/* POSTs size bytes of data: seconds until the answer, the media id in id; or -1. */
static double ternd_upload(const bench_cfg *cfg, const char *tok, const char *data, uint64_t size, char *buf,
                           char id[64])
{
    char head[2048];
    int hl = upload_head(cfg, tok, size, head, sizeof head);
    http_parser *p = http_parser_new(0, 65536);
    uint64_t t0 = tern_mono_ns();
    int fd = hl > 0 && p ? bench_connect(&cfg->addr, 0) : -1;
    int status = -1;
    if (fd >= 0 && put_all(fd, head, (uint64_t)hl, 1) == 0 && put_all(fd, data, size, 1) == 0)
        status = read_response(fd, p, buf, XFER_BUF);
    uint64_t t1 = tern_mono_ns();
    if (fd >= 0)
        close(fd);
    double secs = -1;
    if (status == 200) {
        const http_msg *m = http_parser_msg(p);
        cJSON *j = NULL;
        tern_str s;
        if (tern_json_parse(m->body.data, m->body.len, &j) == TERN_JSON_OK &&
            tern_json_get_str(cJSON_GetObjectItemCaseSensitive(j, "data"), "mediaId", &s) == TERN_JSON_OK && s.n > 0 &&
            s.n < 64) {
            memcpy(id, s.p, s.n);
            id[s.n] = 0;
            secs = (double)(t1 - t0) / 1e9;
        }
        cJSON_Delete(j);
    }
    if (secs < 0)
        fprintf(stderr, "tern-bench: media: upload of %" PRIu64 " bytes failed (HTTP %d)\n", size, status);
    http_parser_free(p);
    return secs;
}

/* GETs media id (size bytes): seconds until its last byte, or -1. */
static double ternd_download(const bench_cfg *cfg, const char *tok, const char *id, uint64_t size, char *buf)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "GET /%s/%s/media/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n",
                     cfg->org, cfg->app, id, cfg->hostport, tok);
    http_parser *p = http_parser_new(0, 65536);
    uint64_t got = 0;
    if (p)
        http_parser_set_body(p, (size_t)size, body_count, &got);
    uint64_t t0 = tern_mono_ns();
    int fd = n > 0 && (size_t)n < sizeof req && p ? bench_connect(&cfg->addr, 0) : -1;
    int status = fd >= 0 && put_all(fd, req, (uint64_t)n, 1) == 0 ? read_response(fd, p, buf, XFER_BUF) : -1;
    uint64_t t1 = tern_mono_ns();
    if (fd >= 0)
        close(fd);
    http_parser_free(p);
    if (status != 200 || got != size) {
        fprintf(stderr, "tern-bench: media: download failed (HTTP %d, %" PRIu64 " of %" PRIu64 " bytes)\n", status, got,
                size);
        return -1;
    }
    return (double)(t1 - t0) / 1e9;
}

/* ---- password grants during the fan-out ---------------------------------------------- */

/* A password grant runs scrypt on libuv's pool in ternd, the pool that also runs the
 * uploads' writes and fsyncs; one every GRANT_EVERY_MS (a wrong password for an existing
 * user: the same work as a right one, answered 400 1107) times how long a login waits. */
#define GRANT_EVERY_MS 1000

typedef struct granter {
    const bench_cfg *cfg;
    const char *user;
    uint64_t split[NSEG_MAX]; /* part boundaries: a grant counts in the part it started in */
    int nsplit;
    uint64_t stop_ns;
    hist lat[NSEG_MAX];
    uint64_t failed;
    uv_thread_t th;
} granter;

static void grant_loop(void *arg)
{
    granter *g = arg;
    char req[1024], body[256], buf[4096];
    int bl = snprintf(body, sizeof body,
                      "{\"grant_type\":\"password\",\"username\":\"%s\",\"password\":\"bench-wrong\"}", g->user);
    int n = snprintf(req, sizeof req,
                     "POST /%s/%s/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                     g->cfg->org, g->cfg->app, g->cfg->hostport, bl, body);
    for (uint64_t next = tern_mono_ns(); next < g->stop_ns; next += GRANT_EVERY_MS * 1000000ull) {
        bench_sleep_until(next);
        http_parser *p = http_parser_new(0, 65536); /* a new one: each answer closes its connection */
        uint64_t t0 = tern_mono_ns();
        int fd = p ? bench_connect(&g->cfg->addr, 1) : -1;
        int status = fd >= 0 && put_all(fd, req, (uint64_t)n, 1) == 0 ? read_response(fd, p, buf, sizeof buf) : -1;
        uint64_t t1 = tern_mono_ns();
        if (fd >= 0)
            close(fd);
        http_parser_free(p);
        int part = 0;
        while (part + 1 < g->nsplit && t0 >= g->split[part + 1])
            part++;
        if (status == 400 && t0 >= g->split[0])
            hist_add(&g->lat[part], t1 - t0);
        else if (status != 400 && g->failed++ == 0)
            fprintf(stderr, "tern-bench: media: a password grant answered %d (400 expected)\n", status);
    }
}

/* ---- the server's memory during a transfer ------------------------------------------- */

typedef struct rss_watch {
    int pid;
    int stop; /* atomic */
    int64_t rss0, hwm0, max;
    uv_thread_t th;
} rss_watch;

static void rss_sample(void *arg)
{
    rss_watch *w = arg;
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        int64_t v = sys_proc_rss_kib(w->pid);
        if (v > w->max)
            w->max = v;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void rss_start(rss_watch *w, int pid)
{
    memset(w, 0, sizeof *w);
    w->pid = pid;
    w->max = -1;
    if (pid <= 0)
        return;
    w->rss0 = sys_proc_rss_kib(pid);
    w->hwm0 = sys_proc_hwm_kib(pid);
    w->max = w->rss0;
    if (uv_thread_create(&w->th, rss_sample, w) != 0)
        w->pid = 0;
}

/* The growth of the server's RSS since rss_start, KiB: the peak is VmHWM when that rose
 * (exact), else the highest 2 ms sample. -1 if not sampled. */
static int64_t rss_stop(rss_watch *w)
{
    if (w->pid <= 0)
        return -1;
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
    uv_thread_join(&w->th);
    int64_t hwm = sys_proc_hwm_kib(w->pid);
    int64_t peak = hwm > w->hwm0 ? hwm : w->max;
    return w->rss0 >= 0 && peak >= 0 ? peak - w->rss0 : -1;
}

/* ---- the run ---------------------------------------------------------------------------- */

/* One part of the fan-out run: alone, beside uploads to the plain sink, beside uploads
 * to ternd. */
enum { SEG_ALONE = 0, SEG_PLAIN, SEG_TERND, NSEG };
static const char *const SEG_NAME[NSEG] = {"", "_plain_uploads", "_uploads"};

typedef struct segment {
    hist lat;
    hist grant; /* password grants started in the part: connect -> answer */
    uint64_t owed, lost, unacked;
    int64_t cpu_us, busy_us; /* the server's CPU and the whole machine's busy time */
    upstats up;
} segment;

typedef struct mresult {
    double up_s[MAX_REPS], up_base_s[MAX_REPS], down_s[MAX_REPS], down_base_s[MAX_REPS];
    double up_cpu_ms[MAX_REPS], down_cpu_ms[MAX_REPS];
    int reps;
    int64_t up_rss_kib, down_rss_kib; /* worst rep */
    segment seg[NSEG];
    double win_s;
    int64_t rss_end_kib;
    upool pool[NSEG]; /* [SEG_PLAIN] and [SEG_TERND] */
    probe_case probe[PROBE_CASES];
    int probe_ok;
    uint64_t fan_errors, grant_failed;
    uint64_t errors;
} mresult;

static double median(const double *v, int n)
{
    double s[MAX_REPS];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (v[i] >= 0)
            s[k++] = v[i];
    if (!k)
        return NAN;
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            double x = s[j];
            s[j] = s[j - 1];
            s[j - 1] = x;
        }
    return k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

static double cpu_ms_since(int pid, int64_t cpu0)
{
    return pid > 0 && cpu0 >= 0 ? (double)(sys_proc_cpu_us(pid) - cpu0) / 1e3 : -1;
}

/* Parts 1-3: the big upload and download against the baseline, alternated. */
static int throughput(bench *b, mresult *r)
{
    const bench_cfg *cfg = &b->cfg;
    int pid = cfg->server_pid;
    uint64_t size = cfg->media_size;
    char tok[TERN_TOKEN_MAX];
    if (tern_token_mint('u', cfg->appkey, b->conns[0].user, (int64_t)time(NULL) + 86400, cfg->secret, tok, sizeof tok) <
        0)
        return -1;
    baseline bl;
    if (baseline_open(&bl, cfg, size) < 0)
        return -1;
    char *data = random_bytes(size, cfg->runid);
    char *buf = tern_malloc(XFER_BUF);
    int rc = 0;
    r->up_rss_kib = r->down_rss_kib = -1;
    for (int rep = 0; rep < r->reps && rc == 0; rep++) {
        char id[64] = "";
        for (int k = 0; k < 2; k++) {
            int ternd_turn = (k == 0) == (rep % 2 == 1); /* odd reps: ternd first */
            sync();
            if (ternd_turn) {
                stamp(data, size, ((uint64_t)cfg->runid << 16) ^ (uint64_t)rep);
                rss_watch w;
                int64_t cpu0 = pid > 0 ? sys_proc_cpu_us(pid) : -1;
                rss_start(&w, pid);
                r->up_s[rep] = ternd_upload(cfg, tok, data, size, buf, id);
                int64_t g = rss_stop(&w);
                r->up_cpu_ms[rep] = cpu_ms_since(pid, cpu0);
                if (g > r->up_rss_kib)
                    r->up_rss_kib = g;
            } else {
                r->up_base_s[rep] = baseline_run(&bl, 1, data, buf);
            }
        }
        for (int k = 0; k < 2; k++) {
            int ternd_turn = (k == 0) == (rep % 2 == 1);
            sync();
            if (ternd_turn && id[0]) {
                rss_watch w;
                int64_t cpu0 = pid > 0 ? sys_proc_cpu_us(pid) : -1;
                rss_start(&w, pid);
                r->down_s[rep] = ternd_download(cfg, tok, id, size, buf);
                int64_t g = rss_stop(&w);
                r->down_cpu_ms[rep] = cpu_ms_since(pid, cpu0);
                if (g > r->down_rss_kib)
                    r->down_rss_kib = g;
            } else if (!ternd_turn) {
                r->down_base_s[rep] = baseline_run(&bl, 0, NULL, buf);
            } else {
                r->down_s[rep] = -1;
            }
        }
        if (r->up_s[rep] < 0 || r->up_base_s[rep] < 0 || r->down_s[rep] < 0 || r->down_base_s[rep] < 0)
            rc = -1;
        else
            SAY("rep %d: upload %.0f MiB/s (baseline %.0f), download %.0f MiB/s (baseline %.0f)", rep + 1,
                (double)size / MIB / r->up_s[rep], (double)size / MIB / r->up_base_s[rep],
                (double)size / MIB / r->down_s[rep], (double)size / MIB / r->down_base_s[rep]);
    }
    if (rc < 0)
        fprintf(stderr, "tern-bench: media: a transfer failed\n");
    baseline_close(&bl);
    tern_free(data);
    tern_free(buf);
    return rc;
}

/* Part 4: the fan-out for 3 x duration: alone, beside the pool uploading to the plain
 * sink, beside the pool uploading to ternd (the sink goes first so that the writeback it
 * leaves behind weighs on ternd's part, not the other way round). */
static int fanout_with_uploads(bench *b, mresult *r)
{
    bench_cfg *cfg = &b->cfg;
    int pid = cfg->server_pid;
    double D = cfg->duration;
    cfg->duration = NSEG * D; /* the senders' bookkeeping covers every part */
    int prep = client_prepare(b);
    cfg->duration = D;
    sink k;
    if (prep < 0 || upool_init(&r->pool[SEG_PLAIN], b, cfg->uploaders) < 0 ||
        upool_init(&r->pool[SEG_TERND], b, cfg->uploaders) < 0 ||
        sink_start(&k, cfg->media_dir, cfg->upload_size) < 0) {
        fprintf(stderr, "tern-bench: media: cannot prepare the fan-out, the uploaders or the sink\n");
        return -1;
    }
    SAY("fan-out: connecting %d WebSockets", b->nconns);
    if (client_start(b) < 0 || bench_wait_connected(b) < 0) {
        bench_stop(b);
        sink_stop(&k);
        return -1;
    }
    sync();
    uint64_t now = tern_mono_ns(), t[NSEG + 1];
    b->t_start = now + 20000000ull;
    b->win_start = t[0] = b->t_start + (uint64_t)(cfg->warmup * 1e9);
    for (int i = 1; i <= NSEG; i++)
        t[i] = t[i - 1] + (uint64_t)(D * 1e9);
    b->win_split[0] = t[SEG_PLAIN];
    b->win_split[1] = t[SEG_TERND];
    b->win_end = t[NSEG];
    static granter G;
    G.cfg = cfg;
    G.user = b->conns[0].user;
    G.nsplit = NSEG;
    for (int i = 0; i < NSEG; i++) {
        G.split[i] = t[i];
        hist_init(&G.lat[i]);
    }
    G.stop_ns = t[NSEG];
    int granting = uv_thread_create(&G.th, grant_loop, &G) == 0;
    __atomic_store_n(&b->phase, PH_RUN, __ATOMIC_RELEASE);
    SAY("fan-out: %.1f s warm-up, then %.1f s alone, beside %d uploaders of %" PRIu64
        " bytes to a plain sink, beside them uploading to ternd",
        cfg->warmup, D, cfg->uploaders, cfg->upload_size);
    int64_t cpu[NSEG + 1], busy[NSEG + 1], total;
    for (int i = 0; i <= NSEG; i++) {
        bench_sleep_until(t[i]);
        cpu[i] = pid > 0 ? sys_proc_cpu_us(pid) : -1;
        if (sys_machine_cpu_us(&busy[i], &total) != 0)
            busy[i] = -1;
        /* A pool's last uploads end early in the next part. */
        if ((i == SEG_PLAIN || i == SEG_TERND) &&
            upool_start(&r->pool[i], i == SEG_PLAIN ? &k.addr : &cfg->addr, i == SEG_PLAIN, t[i + 1]) < 0)
            fprintf(stderr, "tern-bench: media: cannot start the uploaders\n");
    }
    for (int i = SEG_PLAIN; i < NSEG; i++) {
        upool_join(&r->pool[i]);
        r->seg[i].up = r->pool[i].st;
    }
    r->win_s = D;
    for (int i = 0; i < NSEG; i++) {
        r->seg[i].cpu_us = cpu[i] >= 0 && cpu[i + 1] >= 0 ? cpu[i + 1] - cpu[i] : -1;
        r->seg[i].busy_us = busy[i] >= 0 && busy[i + 1] >= 0 ? busy[i + 1] - busy[i] : -1;
    }
    r->rss_end_kib = pid > 0 ? sys_proc_rss_kib(pid) : -1;
    if (granting)
        uv_thread_join(&G.th);
    for (int i = 0; i < NSEG; i++)
        r->seg[i].grant = G.lat[i];
    r->grant_failed = granting ? G.failed : 1;
    bench_drain(b);
    bench_stop(b);
    sink_stop(&k);
    for (int i = 0; i < NSEG; i++)
        hist_init(&r->seg[i].lat);
    for (int j = 0; j < cfg->threads; j++) {
        const bthread *th = &b->threads[j];
        hist_merge(&r->seg[SEG_ALONE].lat, &th->lat);
        hist_merge(&r->seg[SEG_PLAIN].lat, &th->lat_seg[0]);
        hist_merge(&r->seg[SEG_TERND].lat, &th->lat_seg[1]);
        const bcounters *c = &th->c; /* what the fan-out's errors count, bar unanswered sends */
        r->fan_errors += c->ack_errors + c->conn_failed + c->closed_unexpected + c->server_events + c->send_dropped;
    }
    for (int i = 0; i < NSEG; i++) {
        segment *g = &r->seg[i];
        bench_count_loss(b, i == 0 ? 0 : t[i], i == NSEG - 1 ? UINT64_MAX : t[i + 1], &g->owed, &g->lost, &g->unacked);
    }
    return 0;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* A key of a part: base + the part's suffix + tail ("p99" "_uploads" "_ms"). */
static const char *seg_key(char *out, size_t n, const char *base, int seg, const char *tail)
{
    snprintf(out, n, "%s%s%s", base, SEG_NAME[seg], tail);
    return out;
}

static double upload_mib_s(const upstats *u)
{
    return u->last_t1 > u->first_t0 ? (double)u->bytes / MIB / ((double)(u->last_t1 - u->first_t0) / 1e9) : NAN;
}

static void report(const bench *b, const mresult *r)
{
    const bench_cfg *cfg = &b->cfg;
    double mib = (double)cfg->media_size / MIB;
    double up = mib / median(r->up_s, r->reps), upb = mib / median(r->up_base_s, r->reps);
    double dn = mib / median(r->down_s, r->reps), dnb = mib / median(r->down_base_s, r->reps);
    double win = r->win_s > 0 ? r->win_s : 1;
    int sampled = cfg->server_pid > 0;
    if (cfg->json) {
        FILE *f = stdout;
        char k[64];
        fprintf(f, "{\"workload\":\"media\"");
        json_num(f, "file_size", (double)cfg->media_size, 1, 0);
        json_num(f, "reps", r->reps, 1, 0);
        json_num(f, "upload_mib_s", up, 1, 1);
        json_num(f, "upload_baseline_mib_s", upb, 1, 1);
        json_num(f, "upload_ratio", up / upb, 1, 3);
        json_num(f, "download_mib_s", dn, 1, 1);
        json_num(f, "download_baseline_mib_s", dnb, 1, 1);
        json_num(f, "download_ratio", dn / dnb, 1, 3);
        json_num(f, "upload_server_cpu_ms", median(r->up_cpu_ms, r->reps), sampled, 1);
        json_num(f, "download_server_cpu_ms", median(r->down_cpu_ms, r->reps), sampled, 1);
        json_num(f, "upload_rss_growth_kib", (double)r->up_rss_kib, sampled && r->up_rss_kib >= 0, 0);
        json_num(f, "download_rss_growth_kib", (double)r->down_rss_kib, sampled && r->down_rss_kib >= 0, 0);
        json_num(f, "groups", cfg->groups, 1, 0);
        json_num(f, "members", cfg->members, 1, 0);
        json_num(f, "senders", b->nsenders, 1, 0);
        json_num(f, "rate", cfg->rate, 1, 0);
        json_num(f, "duration", cfg->duration, 1, 1);
        json_num(f, "uploaders", cfg->uploaders, 1, 0);
        json_num(f, "upload_size", (double)cfg->upload_size, 1, 0);
        json_num(f, "upload_rate", cfg->upload_rate, 1, 1);
        for (int i = 0; i < NSEG; i++) {
            const segment *g = &r->seg[i];
            int h = g->lat.count > 0;
            json_num(f, seg_key(k, sizeof k, "delivered_per_s", i, ""), (double)g->lat.count / win, 1, 1);
            json_num(f, seg_key(k, sizeof k, "p50", i, "_ms"), ms(hist_quantile(&g->lat, 0.5)), h, 3);
            json_num(f, seg_key(k, sizeof k, "p99", i, "_ms"), ms(hist_quantile(&g->lat, 0.99)), h, 3);
            json_num(f, seg_key(k, sizeof k, "max", i, "_ms"), ms(g->lat.max), h, 3);
            json_num(f, seg_key(k, sizeof k, "lost", i, ""), (double)g->lost, 1, 0);
            json_num(f, seg_key(k, sizeof k, "unacked", i, ""), (double)g->unacked, 1, 0);
            json_num(f, seg_key(k, sizeof k, "server_cpu_pct", i, ""), (double)g->cpu_us / (win * 1e4),
                     sampled && g->cpu_us >= 0, 1);
            json_num(f, seg_key(k, sizeof k, "machine_busy_pct", i, ""), (double)g->busy_us / (win * 1e4),
                     g->busy_us >= 0, 1);
            json_num(f, seg_key(k, sizeof k, "grant_p50", i, "_ms"), ms(hist_quantile(&g->grant, 0.5)),
                     g->grant.count > 0, 3);
            json_num(f, seg_key(k, sizeof k, "grant_max", i, "_ms"), ms(g->grant.max), g->grant.count > 0, 3);
            if (i == SEG_ALONE)
                continue;
            const char *pre = i == SEG_PLAIN ? "plain_" : "";
            const upstats *u = &g->up;
            snprintf(k, sizeof k, "%suploads_done", pre);
            json_num(f, k, (double)u->ok, 1, 0);
            snprintf(k, sizeof k, "%supload_errors", pre);
            json_num(f, k, (double)u->failed, 1, 0);
            snprintf(k, sizeof k, "%suploads_mib_s", pre);
            json_num(f, k, upload_mib_s(u), u->ok > 0, 1);
            snprintf(k, sizeof k, "%supload_p50_ms", pre);
            json_num(f, k, ms(hist_quantile(&u->lat, 0.5)), u->lat.count > 0, 3);
            snprintf(k, sizeof k, "%supload_p99_ms", pre);
            json_num(f, k, ms(hist_quantile(&u->lat, 0.99)), u->lat.count > 0, 3);
        }
        json_num(f, "server_rss_kib", (double)r->rss_end_kib, sampled && r->rss_end_kib >= 0, 0);
        for (int i = 0; i < PROBE_CASES; i++) {
            snprintf(k, sizeof k, "probe_ns_%s", r->probe[i].name ? r->probe[i].name : "x");
            json_num(f, k, r->probe[i].ns, r->probe_ok, 1);
        }
        json_num(f, "errors", (double)r->errors, 1, 0);
        fputs("}\n", f);
        fflush(f);
        return;
    }
    printf("workload media: %.0f MiB transfers x %d reps; fan-out %d x %d, %.0f msg/s, %.0f s alone, beside %d "
           "uploaders of %" PRIu64 " bytes to a plain sink, to ternd\n",
           mib, r->reps, cfg->groups, cfg->members, cfg->rate, cfg->duration, cfg->uploaders, cfg->upload_size);
    printf("  upload        %.0f MiB/s, baseline %.0f MiB/s: %.0f %% (target >= 70 %%); server RSS +%" PRId64
           " KiB, CPU %.0f ms\n",
           up, upb, 100 * up / upb, r->up_rss_kib, median(r->up_cpu_ms, r->reps));
    printf("  download      %.0f MiB/s, baseline %.0f MiB/s: %.0f %% (target >= 90 %%); server RSS +%" PRId64
           " KiB, CPU %.0f ms\n",
           dn, dnb, 100 * dn / dnb, r->down_rss_kib, median(r->down_cpu_ms, r->reps));
    static const char *const label[NSEG] = {"alone", "plain uploads", "ternd uploads"};
    for (int i = 0; i < NSEG; i++) {
        const segment *g = &r->seg[i];
        printf("  fan-out, %-13s p50 %.2f p99 %.2f max %.2f ms; lost %" PRIu64 " of %" PRIu64
               "; server %.0f %%, machine %.0f %% CPU; password grant p50 %.1f max %.1f ms\n",
               label[i], ms(hist_quantile(&g->lat, 0.5)), ms(hist_quantile(&g->lat, 0.99)), ms(g->lat.max), g->lost,
               g->owed, (double)g->cpu_us / (win * 1e4), (double)g->busy_us / (win * 1e4),
               ms(hist_quantile(&g->grant, 0.5)), ms(g->grant.max));
        if (i != SEG_ALONE)
            printf("    uploads %" PRIu64 " done, %" PRIu64 " failed, %.0f MiB/s; each p50 %.1f p99 %.1f ms%s%s\n",
                   g->up.ok, g->up.failed, upload_mib_s(&g->up), ms(hist_quantile(&g->up.lat, 0.5)),
                   ms(hist_quantile(&g->up.lat, 0.99)), g->up.err[0] ? "; first error: " : "", g->up.err);
    }
    printf("  probe         ");
    for (int i = 0; i < PROBE_CASES; i++)
        printf("%s %.0f ns%s", r->probe[i].name, r->probe[i].ns,
               i < PROBE_CASES - 1 ? ", " : " (target <= 10000 ns)\n");
    printf("  errors        %" PRIu64 " (fan-out %" PRIu64 ", unanswered sends %" PRIu64 ", uploads to ternd %" PRIu64
           ")\n",
           r->errors, r->fan_errors, r->seg[0].unacked + r->seg[1].unacked + r->seg[2].unacked,
           r->seg[SEG_TERND].up.failed);
}

int media_run(bench *b, int quiet)
{
    quiet_ = quiet;
    bench_cfg *cfg = &b->cfg;
    static mresult R;
    mresult *r = &R;
    r->reps = cfg->media_reps < MAX_REPS ? cfg->media_reps : MAX_REPS;

    r->probe_ok = probe_bench(r->probe) == 0;
    SAY("probe: jpeg %.0f, png %.0f, gif %.0f, webp %.0f, bmp %.0f ns", r->probe[0].ns, r->probe[1].ns, r->probe[2].ns,
        r->probe[3].ns, r->probe[4].ns);

    bench_plan(b);
    SAY("setup: %d users and groups (prefix %s)", b->nconns, cfg->prefix);
    if (rest_setup(b) < 0)
        return 2;
    SAY("throughput: %d x (upload, download) of %" PRIu64 " bytes, ternd and baseline (%s)", r->reps, cfg->media_size,
        cfg->media_dir);
    if (throughput(b, r) < 0)
        return 2;
    if (fanout_with_uploads(b, r) < 0)
        return 2;
    r->errors =
        r->fan_errors + r->grant_failed + r->seg[SEG_PLAIN].up.failed + r->seg[SEG_TERND].up.failed + !r->probe_ok;
    for (int i = 0; i < NSEG; i++)
        r->errors += r->seg[i].unacked;
    report(b, r);
    upool_free(&r->pool[SEG_PLAIN]);
    upool_free(&r->pool[SEG_TERND]);
    return 0;
}
