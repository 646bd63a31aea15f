/*
 * upload.c — the media workload's concurrent uploaders (media.c, part 4) and their
 * control: a pool of N clients on one epoll thread that each upload a file, wait for the
 * answer and start the next (back to back, or at most --upload-rate files/s for the
 * pool), either to ternd (POST /{org}/{app}/media, raw body, each client with its own
 * user's token) or to a plain sink in this process: a thread per connection that copies
 * the bytes into a file on ternd's disk, fsyncs it and answers one byte. The sink is the
 * same work without ternd (the same bytes over loopback, written and synced by 100
 * concurrent writers), so the fan-out's latency beside it says what the machine's CPU
 * and disk cost messaging, and beside ternd's uploads what ternd adds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/token.h"
#include "core/util.h"

enum { U_CONNECTING = 1, U_SENDING, U_RECEIVING, U_WAITING, U_DONE };

static void up_fail(upool *P, uploader *u, const char *what)
{
    P->st.failed++;
    if (!P->st.err[0])
        snprintf(P->st.err, sizeof P->st.err, "%s: %s", what, errno ? strerror(errno) : "closed");
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    u->state = U_DONE;
}

/* When the next upload is due (rate-limited pools), else 0. */
static uint64_t up_due(const upool *P)
{
    return P->rate > 0 ? P->start_ns + (uint64_t)((double)P->started / P->rate * 1e9) : 0;
}

/* Starts u's next upload (a new connection) when it is due, unless the time is over. */
static void up_start(upool *P, uploader *u, uint64_t now)
{
    u->state = U_DONE;
    if (now >= P->stop_ns)
        return;
    if (now < up_due(P)) {
        u->state = U_WAITING;
        return;
    }
    P->started++;
    const struct sockaddr *sa = (const struct sockaddr *)&P->to;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    u->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    errno = 0;
    if (u->fd < 0 || (connect(u->fd, sa, len) != 0 && errno != EINPROGRESS)) {
        up_fail(P, u, "connect");
        return;
    }
    /* unique bytes per upload: ternd may share the storage of identical files */
    uint64_t v = ++u->count ^ ((uint64_t)(u - P->u) << 40) ^ ((uint64_t)P->cfg->runid << 8);
    memcpy(u->data, &v, P->cfg->upload_size < 8 ? (size_t)P->cfg->upload_size : 8);
    u->off = 0;
    u->t0 = now;
    if (!P->st.first_t0)
        P->st.first_t0 = now;
    http_parser_next(u->p);
    u->state = U_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = u};
    if (epoll_ctl(P->ep, EPOLL_CTL_ADD, u->fd, &ev) != 0)
        up_fail(P, u, "epoll");
}

static void up_done(upool *P, uploader *u)
{
    uint64_t now = tern_mono_ns();
    P->st.ok++;
    P->st.bytes += P->cfg->upload_size;
    P->st.last_t1 = now;
    hist_add(&P->st.lat, now - u->t0);
    close(u->fd);
    u->fd = -1;
    up_start(P, u, now);
}

/* Reads the answer: ternd's HTTP response (200), or the sink's one byte. */
static void up_answer(upool *P, uploader *u)
{
    for (;;) {
        ssize_t n = recv(u->fd, P->buf, UPLOAD_BUF, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            up_fail(P, u, "answer");
            return;
        }
        if (P->plain) {
            if (P->buf[0] == 'k')
                up_done(P, u);
            else
                up_fail(P, u, "sink");
            return;
        }
        size_t used;
        int st = http_parser_feed(u->p, P->buf, (size_t)n, &used);
        if (st == HTTP_NEED_MORE)
            continue;
        const http_msg *m = http_parser_msg(u->p);
        if (st == HTTP_COMPLETE && m->status == 200) {
            up_done(P, u);
            return;
        }
        errno = 0;
        if (!P->st.err[0] && st == HTTP_COMPLETE)
            snprintf(P->st.err, sizeof P->st.err, "upload: HTTP %d %.*s", m->status,
                     (int)(m->body.len < 100 ? m->body.len : 100), m->body.data ? m->body.data : "");
        up_fail(P, u, "upload");
        return;
    }
}

static void up_event(upool *P, uploader *u)
{
    size_t hl = P->plain ? 0 : u->headlen; /* the sink takes the bare bytes */
    uint64_t total = hl + P->cfg->upload_size;
    errno = 0;
    if (u->state == U_RECEIVING) {
        up_answer(P, u);
        return;
    }
    u->state = U_SENDING;
    while (u->off < total) {
        const char *p = u->off < hl ? u->head + u->off : u->data + (u->off - hl);
        uint64_t k = u->off < hl ? hl - u->off : total - u->off;
        ssize_t w = send(u->fd, p, k < UPLOAD_BUF ? (size_t)k : UPLOAD_BUF, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        if (w <= 0) {
            up_fail(P, u, "send");
            return;
        }
        u->off += (uint64_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = u};
    epoll_ctl(P->ep, EPOLL_CTL_MOD, u->fd, &ev);
    u->state = U_RECEIVING;
}

static void upool_main(void *arg)
{
    upool *P = arg;
    P->start_ns = tern_mono_ns();
    for (int i = 0; i < P->n; i++)
        up_start(P, &P->u[i], P->start_ns);
    struct epoll_event ev[64];
    uint64_t give_up = P->stop_ns + 60 * 1000000000ull;
    for (;;) {
        int busy = 0, waiting = 0;
        uint64_t now = tern_mono_ns();
        for (int i = 0; i < P->n; i++) {
            if (P->u[i].state == U_WAITING)
                up_start(P, &P->u[i], now);
            busy |= P->u[i].state != U_DONE;
            waiting |= P->u[i].state == U_WAITING;
        }
        if (!busy || now > give_up)
            break;
        uint64_t due = up_due(P);
        int timeout = waiting && due > now ? (int)((due - now) / 1000000 + 1) : waiting ? 0 : 100;
        int k = epoll_wait(P->ep, ev, 64, timeout < 100 ? timeout : 100);
        for (int i = 0; i < k; i++)
            up_event(P, ev[i].data.ptr);
    }
    for (int i = 0; i < P->n; i++)
        if (P->u[i].fd >= 0) {
            errno = 0;
            up_fail(P, &P->u[i], "still running at the end");
        }
}

int upool_init(upool *P, bench *b, int n)
{
    const bench_cfg *cfg = &b->cfg;
    memset(P, 0, sizeof *P);
    P->cfg = cfg;
    P->n = n;
    P->rate = cfg->upload_rate;
    P->u = tern_calloc((size_t)(n ? n : 1), sizeof *P->u);
    P->buf = tern_malloc(UPLOAD_BUF);
    P->ep = epoll_create1(EPOLL_CLOEXEC);
    int64_t exp = (int64_t)time(NULL) + 86400;
    uint64_t seed = cfg->runid * 7919ull;
    for (int i = 0; i < n; i++) {
        uploader *u = &P->u[i];
        char tok[TERN_TOKEN_MAX];
        u->fd = -1;
        u->state = U_DONE;
        u->data = tern_malloc(cfg->upload_size);
        for (uint64_t k = 0; k < cfg->upload_size; k++) { /* incompressible bytes */
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            u->data[k] = (char)(seed >> 24);
        }
        u->p = http_parser_new(0, 65536);
        if (tern_token_mint('u', cfg->appkey, b->conns[i % b->nconns].user, exp, cfg->secret, tok, sizeof tok) < 0)
            return -1;
        int hl = upload_head(cfg, tok, cfg->upload_size, u->head, sizeof u->head);
        if (hl < 0 || !u->p)
            return -1;
        u->headlen = (size_t)hl;
    }
    return P->ep >= 0 ? 0 : -1;
}

int upool_start(upool *P, const struct sockaddr_storage *to, int plain, uint64_t stop_ns)
{
    memset(&P->st, 0, sizeof P->st);
    hist_init(&P->st.lat);
    P->to = *to;
    P->plain = plain;
    P->started = 0;
    P->stop_ns = stop_ns;
    P->running = P->n > 0 && uv_thread_create(&P->th, upool_main, P) == 0;
    return P->n == 0 || P->running ? 0 : -1;
}

void upool_join(upool *P)
{
    if (P->running)
        uv_thread_join(&P->th);
    P->running = 0;
}

void upool_free(upool *P)
{
    for (int i = 0; i < P->n; i++) {
        tern_free(P->u[i].data);
        http_parser_free(P->u[i].p);
    }
    tern_free(P->u);
    tern_free(P->buf);
    if (P->ep >= 0)
        close(P->ep);
}

/* ---- the plain sink ------------------------------------------------------------------- */

typedef struct sink_job {
    sink *k;
    int fd;
    uint64_t n;
} sink_job;

static void *sink_conn(void *arg)
{
    sink_job *j = arg;
    sink *k = j->k;
    char path[600];
    snprintf(path, sizeof path, "%s/bench-sink.%d.%" PRIu64, k->dir, (int)getpid(), j->n);
    char *buf = tern_malloc(UPLOAD_BUF);
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    uint64_t got = 0;
    while (f >= 0 && got < k->size) {
        ssize_t n = read(j->fd, buf, UPLOAD_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        ssize_t w = 0;
        for (ssize_t off = 0; off < n && w >= 0; off += w)
            w = write(f, buf + off, (size_t)(n - off));
        if (w < 0)
            break;
        got += (uint64_t)n;
    }
    if (f >= 0 && got == k->size && fsync(f) == 0 && close(f) == 0) {
        f = -1;
        (void)send(j->fd, "k", 1, MSG_NOSIGNAL); /* the uploader counts a missing answer */
    }
    if (f >= 0)
        close(f);
    close(j->fd);
    tern_free(buf);
    tern_free(j);
    __atomic_sub_fetch(&k->active, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void sink_accept(void *arg)
{
    sink *k = arg;
    while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pf = {.fd = k->lfd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        sink_job *j = tern_malloc(sizeof *j);
        j->k = k;
        j->fd = fd;
        j->n = k->files++;
        __atomic_add_fetch(&k->active, 1, __ATOMIC_ACQUIRE);
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, sink_conn, j) != 0) {
            __atomic_sub_fetch(&k->active, 1, __ATOMIC_RELEASE);
            close(fd);
            tern_free(j);
        }
        pthread_attr_destroy(&at);
    }
}

int loopback_listen(struct sockaddr_storage *addr, int backlog)
{
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *in = (struct sockaddr_in *)addr;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof *in;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && (bind(fd, (struct sockaddr *)in, al) != 0 || listen(fd, backlog) != 0 ||
                    getsockname(fd, (struct sockaddr *)in, &al) != 0)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int upload_head(const bench_cfg *cfg, const char *tok, uint64_t size, char *out, size_t outsz)
{
    int n = snprintf(out, outsz,
                     "POST /%s/%s/media HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/octet-stream\r\nX-Tern-Filename: bench.bin\r\n"
                     "Content-Length: %" PRIu64 "\r\n\r\n",
                     cfg->org, cfg->app, cfg->hostport, tok, size);
    return n > 0 && (size_t)n < outsz ? n : -1;
}

int sink_start(sink *k, const char *dir, uint64_t size)
{
    memset(k, 0, sizeof *k);
    snprintf(k->dir, sizeof k->dir, "%s", dir);
    k->size = size;
    k->lfd = loopback_listen(&k->addr, 256);
    if (k->lfd < 0 || uv_thread_create(&k->th, sink_accept, k) != 0) {
        if (k->lfd >= 0)
            close(k->lfd);
        k->lfd = -1;
        return -1;
    }
    return 0;
}

void sink_stop(sink *k)
{
    if (k->lfd < 0)
        return;
    __atomic_store_n(&k->stop, 1, __ATOMIC_RELEASE);
    uv_thread_join(&k->th);
    for (int i = 0; i < 3000 && __atomic_load_n(&k->active, __ATOMIC_ACQUIRE) > 0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    close(k->lfd);
    k->lfd = -1;
    for (uint64_t i = 0; i < k->files; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/bench-sink.%d.%" PRIu64, k->dir, (int)getpid(), i);
        unlink(path);
    }
}
