/*
 * floor.c — tern-bench's `floor` workload: what the kernel alone charges for the pattern
 * ternd's delivery path boils down to, one small write(2) per delivery on a loopback TCP
 * socket, with no server logic at all. A forked "writer" process accepts C connections
 * from this process, sets TCP_NODELAY on each (as ternd does) and paces R writes of B
 * bytes per second over them round-robin on a 1 ms tick; this process (the "reader")
 * drains every socket with one level-triggered epoll loop. The writer's CPU per delivery,
 * measured on the same machine in the same session, is the floor under ternd's
 * server_cpu_us_per_delivery: quote the server as a ratio against it rather than as an
 * absolute that moves with the kernel, the CPU and the noise of a shared box.
 *
 * Each write carries its tick's monotonic time in its first 8 bytes, so the reader also
 * reports the loopback latency floor. No ternd, no REST, no WebSocket framing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/util.h"

#define TICK_NS 1000000ull      /* the writer's pacing tick */
#define READ_BUF (64 * 1024)    /* the reader's one buffer */
#define TS_BYTES 8              /* send time at the start of every delivery */
#define RESULT_TIMEOUT_MS 10000 /* max wait for the writer's figures after the window */

/* The run's schedule (monotonic ns), sent by the reader to the writer once both are set. */
typedef struct floor_sched {
    uint64_t t_start, win_start, win_end;
} floor_sched;

/* What the writer reports over its pipe when the window ends. */
typedef struct floor_wstats {
    uint64_t writes;     /* whole deliveries written, all run */
    uint64_t writes_win; /* of those, on ticks inside [win_start, win_end) */
    uint64_t dropped;    /* deliveries the socket did not take whole (EAGAIN or short write) */
    uint64_t errors;     /* other write errors */
    uint64_t lag_max_ns; /* worst tick lateness inside the window */
} floor_wstats;

/* One writer-side connection. owe > 0: the last delivery went out short and its last
 * `owe` bytes (with send time ts) are still due, so the stream stays frame-aligned. */
typedef struct wconn {
    int fd;
    uint32_t owe;
    uint64_t ts;
    uint64_t tick; /* --uring: the tick whose batch holds a send to it (0: none) */
} wconn;

/* One reader-side connection: where it is in the current delivery, and the send-time
 * bytes gathered so far (a delivery may be split over reads). */
typedef struct rconn {
    int fd;
    uint32_t off;
    uint8_t ts[TS_BYTES];
} rconn;

#define NOTE(...) BENCH_SAY(quiet, __VA_ARGS__)

/* Reads exactly n bytes from fd (blocking, retrying EINTR). 0, or -1 on EOF or error. */
static int read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Writes exactly n bytes to the blocking fd (retrying EINTR). 0 or -1. */
static int write_full(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t r = write(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* 1 when fd becomes readable within timeout_ms, 0 on timeout, -1 on error. */
static int wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 ? -1 : r > 0;
    }
}

/* Sleeps until monotonic time t_ns (absolute, so the tick does not drift). */
static void sleep_abs(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000ull), .tv_nsec = (long)(t_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* ---- the writer (child process) ----------------------------------------------------- */

/* Sends one delivery (the frame, stamped ts) on c with one write, first finishing a short
 * one if any. Returns 1 when the socket took it whole; else 0, counted in st as dropped
 * (EAGAIN, short write, or a remainder still pending) or as an error. scratch holds
 * `size` bytes for rebuilding a remainder. */
static int writer_send(wconn *c, const char *frame, char *scratch, int size, uint64_t ts, floor_wstats *st)
{
    if (c->owe) {
        memcpy(scratch, frame, (size_t)size);
        memcpy(scratch, &c->ts, TS_BYTES);
        ssize_t n = write(c->fd, scratch + size - c->owe, c->owe);
        if (n > 0)
            c->owe -= (uint32_t)n;
        if (c->owe) {
            st->dropped++;
            return 0;
        }
    }
    ssize_t n = write(c->fd, frame, (size_t)size);
    if (n == size)
        return 1;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            st->dropped++;
        else
            st->errors++;
        return 0;
    }
    st->dropped++;
    c->owe = (uint32_t)(size - n);
    c->ts = ts;
    return 0;
}

/* --uring: the sends queued on ring this tick (n of them, user data = connection index),
 * submitted with one system call. MSG_DONTWAIT sends complete inside the submit, so the
 * shared frame may change after this returns. Accounts each result as writer_send does. */
static void writer_uring_flush(struct io_uring *ring, unsigned n, wconn *conns, int size, uint64_t ts, int in_win,
                               floor_wstats *st)
{
    int r;
    do
        r = io_uring_submit(ring);
    while (r == -EINTR);
    unsigned submitted = r > 0 ? (unsigned)r : 0;
    if (submitted < n)
        _exit(7); /* the refused entries would be submitted later with a stale frame */
    for (unsigned seen = 0; seen < submitted;) {
        struct io_uring_cqe *cqe;
        int w = io_uring_wait_cqe(ring, &cqe);
        if (w == -EINTR)
            continue;
        if (w < 0)
            _exit(7);
        wconn *c = &conns[io_uring_cqe_get_data64(cqe)];
        int res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        seen++;
        c->tick = 0;
        if (res == size) {
            st->writes++;
            st->writes_win += (uint64_t)in_win;
        } else if (res < 0) {
            if (res == -EAGAIN || res == -EINTR)
                st->dropped++;
            else
                st->errors++;
        } else {
            st->dropped++;
            c->owe = (uint32_t)(size - res);
            c->ts = ts;
        }
    }
}

/* The writer: accepts nconns connections on lfd, says 'R' on c2p, reads the schedule from
 * p2c, paces `rate` deliveries/s of `size` bytes until win_end, writes its floor_wstats on
 * c2p, then waits for p2c to close and exits. Never returns. Exit status 0, or 3-6 and 8
 * when setup failed (the reader then sees no 'R'), 7 when io_uring failed mid-run. With
 * uring, each tick's sends go out in one io_uring submission (writer_uring_flush). */
static void writer_main(int lfd, int nconns, int size, double rate, int uring, int p2c, int c2p, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the reader */
    if (getppid() != parent)
        _exit(3);
    signal(SIGPIPE, SIG_IGN);
    wconn *conns = tern_calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0 && errno == EINTR)
            ;
        if (fd < 0)
            _exit(4);
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            _exit(5);
        conns[i].fd = fd;
    }
    close(lfd);
    enum { RING = 1024 };
    struct io_uring ring;
    if (uring && io_uring_queue_init(RING, &ring, 0) != 0)
        _exit(8);
    floor_sched s;
    if (write_full(c2p, "R", 1) < 0 || read_full(p2c, &s, sizeof s) < 0)
        _exit(6);

    unsigned nq = 0;
    uint64_t tickno = 0;
    char *frame = tern_malloc((size_t)size), *scratch = tern_malloc((size_t)size);
    for (int i = 0; i < size; i++)
        frame[i] = (char)('a' + i % 26);
    floor_wstats st;
    memset(&st, 0, sizeof st);
    uint64_t done = 0, next = s.t_start;
    int rr = 0;
    for (;;) {
        sleep_abs(next);
        uint64_t now = tern_mono_ns();
        if (now >= s.win_end)
            break;
        int in_win = now >= s.win_start;
        if (in_win && now > next && now - next > st.lag_max_ns)
            st.lag_max_ns = now - next;
        uint64_t due = (uint64_t)((double)(now - s.t_start) * rate / 1e9);
        memcpy(frame, &now, TS_BYTES);
        tickno++;
        for (; done < due; done++) {
            wconn *c = &conns[rr];
            if (uring && !c->owe) {
                if (nq == RING || c->tick == tickno) { /* one send per connection per batch */
                    writer_uring_flush(&ring, nq, conns, size, now, in_win, &st);
                    nq = 0;
                }
                struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
                io_uring_prep_send(sqe, c->fd, frame, (size_t)size, MSG_DONTWAIT | MSG_NOSIGNAL);
                io_uring_sqe_set_data64(sqe, (uint64_t)rr);
                c->tick = tickno;
                nq++;
            } else if (writer_send(c, frame, scratch, size, now, &st)) {
                st.writes++;
                st.writes_win += (uint64_t)in_win;
            }
            if (++rr == nconns)
                rr = 0;
        }
        if (nq) {
            writer_uring_flush(&ring, nq, conns, size, now, in_win, &st);
            nq = 0;
        }
        next = s.t_start + ((now - s.t_start) / TICK_NS + 1) * TICK_NS; /* skip ticks missed */
    }
    if (write_full(c2p, &st, sizeof st) == 0)
        for (;;) { /* until the reader closes p2c */
            char eof;
            ssize_t r = read(p2c, &eof, 1);
            if (r == 0 || (r < 0 && errno != EINTR))
                break;
        }
    _exit(0);
}

/* ---- the reader (this process) ------------------------------------------------------- */

/* Accounts n bytes received on c at time now: tracks delivery boundaries and, when
 * record is set, adds each completed send time's latency to lat. */
static void reader_parse(rconn *c, const uint8_t *p, size_t n, uint32_t size, uint64_t now, int record, hist *lat)
{
    size_t i = 0;
    while (i < n) {
        uint32_t off = c->off;
        size_t k;
        if (off < TS_BYTES) {
            k = TS_BYTES - off < n - i ? TS_BYTES - off : n - i;
            memcpy(c->ts + off, p + i, k);
            if (off + k == TS_BYTES && record) {
                uint64_t ts;
                memcpy(&ts, c->ts, TS_BYTES);
                hist_add(lat, now > ts ? now - ts : 0);
            }
        } else {
            k = size - off < n - i ? size - off : n - i;
        }
        i += k;
        off += (uint32_t)k;
        c->off = off == size ? 0 : off;
    }
}

/* Kills and reaps the writer after a failed setup. */
static void writer_kill(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* us of CPU as a percentage of one core over win_s seconds. */
static double pct_of(int64_t us, double win_s)
{
    return (double)us / (win_s * 1e6) * 100.0;
}

int floor_run(const bench_cfg *cfg, int quiet)
{
    int C = cfg->connections, B = cfg->frame_size;
    double R = cfg->rate;

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, C) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        fprintf(stderr, "tern-bench: floor: cannot listen on 127.0.0.1: %s\n", strerror(errno));
        return 2;
    }
    int p2c[2], c2p[2];
    if (pipe2(p2c, O_CLOEXEC) != 0 || pipe2(c2p, O_CLOEXEC) != 0) {
        fprintf(stderr, "tern-bench: floor: pipe: %s\n", strerror(errno));
        return 2;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "tern-bench: floor: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        close(p2c[1]);
        close(c2p[0]);
        writer_main(lfd, C, B, R, cfg->floor_uring, p2c[0], c2p[1], parent);
    }
    close(lfd);
    close(p2c[0]);
    close(c2p[1]);

    NOTE("floor: connecting %d loopback sockets to the writer (pid %d)", C, (int)pid);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    rconn *conns = tern_calloc((size_t)C, sizeof *conns);
    int nopen = 0, rc = 2;
    for (int i = 0; i < C; i++)
        conns[i].fd = -1;
    for (; ep >= 0 && nopen < C; nopen++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        conns[nopen].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)nopen};
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            break;
    }
    if (nopen < C) {
        fprintf(stderr, "tern-bench: floor: setup failed at connection %d of %d: %s\n", nopen + 1, C, strerror(errno));
        writer_kill(pid);
        goto out;
    }
    char ready = 0;
    if (wait_readable(c2p[0], (int)(cfg->setup_timeout * 1000)) <= 0 || read_full(c2p[0], &ready, 1) < 0 ||
        ready != 'R') {
        fprintf(stderr, "tern-bench: floor: the writer did not accept every connection\n");
        writer_kill(pid);
        goto out;
    }
    floor_sched s;
    s.t_start = tern_mono_ns() + 20000000ull;
    s.win_start = s.t_start + (uint64_t)(cfg->warmup * 1e9);
    s.win_end = s.win_start + (uint64_t)(cfg->duration * 1e9);
    if (write_full(p2c[1], &s, sizeof s) < 0) {
        fprintf(stderr, "tern-bench: floor: the writer went away\n");
        writer_kill(pid);
        goto out;
    }
    NOTE("floor: running: %.0f writes/s of %d bytes over %d connections, %.1f s warm-up, %.1f s measured", R, B, C,
         cfg->warmup, cfg->duration);

    static uint8_t buf[READ_BUF];
    static hist lat;
    hist_init(&lat);
    struct epoll_event evs[256];
    uint64_t bytes = 0, bytes0 = 0, w0 = 0, w1 = 0, closed = 0;
    int64_t self0 = 0, self_us = 0, wcpu0 = -1, wcpu_us = -1, mb0 = 0, mt0 = 0, mb1 = 0, mt1 = 0, busy_us = -1;
    int mok = 0, in_win = 0;
    for (;;) {
        uint64_t now = tern_mono_ns();
        uint64_t boundary = in_win ? s.win_end : s.win_start;
        if (now >= boundary) {
            if (!in_win) {
                in_win = 1;
                bytes0 = bytes;
                wcpu0 = sys_proc_cpu_us(pid);
                self0 = sys_self_cpu_us();
                mok = sys_machine_cpu_us(&mb0, &mt0) == 0;
                w0 = tern_mono_ns();
                continue;
            }
            w1 = tern_mono_ns();
            int64_t wcpu1 = sys_proc_cpu_us(pid);
            wcpu_us = wcpu0 >= 0 && wcpu1 >= 0 ? wcpu1 - wcpu0 : -1;
            self_us = sys_self_cpu_us() - self0;
            if (mok && sys_machine_cpu_us(&mb1, &mt1) == 0)
                busy_us = mb1 - mb0 > 0 ? mb1 - mb0 : 0; /* wall x CPUs - idle, see sysstat.c */
            break;
        }
        int n = epoll_wait(ep, evs, 256, (int)((boundary - now + TICK_NS - 1) / TICK_NS));
        for (int i = 0; i < n; i++) {
            rconn *c = &conns[evs[i].data.u32];
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r > 0) {
                bytes += (uint64_t)r;
                reader_parse(c, buf, (size_t)r, (uint32_t)B, tern_mono_ns(), in_win, &lat);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                closed++;
            }
        }
    }
    uint64_t bytes_win = bytes - bytes0;

    /* Let the writer go, collect its figures, reap it. */
    close(p2c[1]);
    p2c[1] = -1;
    floor_wstats st;
    memset(&st, 0, sizeof st);
    int got = wait_readable(c2p[0], RESULT_TIMEOUT_MS) > 0 && read_full(c2p[0], &st, sizeof st) == 0;
    if (!got)
        kill(pid, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    int writer_ok = got && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (!writer_ok)
        fprintf(stderr, "tern-bench: floor: the writer failed (%s %d)\n", WIFEXITED(wstatus) ? "exit status" : "signal",
                WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus));

    double win = w1 > w0 ? (double)(w1 - w0) / 1e9 : 1;
    uint64_t delivered = bytes_win / (uint64_t)B;
    double deliv_ps = (double)delivered / win;
    double writes_ps = (double)st.writes_win / win;
    int have_w = wcpu_us >= 0;
    double w_pct = pct_of(wcpu_us, win), r_pct = pct_of(self_us, win);
    double w_per = delivered ? (double)wcpu_us / (double)delivered : NAN;
    double r_per = delivered ? (double)self_us / (double)delivered : NAN;
    double busy_pct = pct_of(busy_us, win);
    double other_pct = busy_pct - (have_w ? w_pct : 0) - r_pct;
    if (other_pct < 0)
        other_pct = 0;
    uint64_t errors = st.errors + closed + (uint64_t)!writer_ok;
    int have_lat = lat.count > 0;
    const double ns_per_ms = 1e6;

    if (cfg->json) {
        FILE *f = stdout;
        fputs(cfg->floor_uring ? "{\"workload\":\"floor_uring\"" : "{\"workload\":\"floor\"", f);
        json_num(f, "connections", C, 1, 0);
        json_num(f, "rate", R, 1, 0);
        json_num(f, "size", B, 1, 0);
        json_num(f, "duration", cfg->duration, 1, 1);
        json_num(f, "warmup", cfg->warmup, 1, 1);
        json_num(f, "delivered", (double)delivered, 1, 0);
        /* The keys every workload reports; no server here, so its figures are null. */
        json_num(f, "sent_per_s", writes_ps, writer_ok, 1);
        json_num(f, "delivered_per_s", deliv_ps, 1, 1);
        json_num(f, "lost", 0, 0, 0);
        json_num(f, "server_cpu_us_per_delivery", 0, 0, 0);
        json_num(f, "server_rss_kib_per_conn", 0, 0, 0);
        json_num(f, "writes_per_s", writes_ps, writer_ok, 1);
        json_num(f, "dropped", (double)st.dropped, writer_ok, 0);
        json_num(f, "errors", (double)errors, 1, 0);
        json_num(f, "writer_cpu_pct", w_pct, have_w, 1);
        json_num(f, "writer_cpu_us_per_delivery", w_per, have_w && delivered, 3);
        json_num(f, "reader_cpu_pct", r_pct, 1, 1);
        json_num(f, "reader_cpu_us_per_delivery", r_per, delivered > 0, 3);
        json_num(f, "p50_ms", (double)hist_quantile(&lat, 0.50) / ns_per_ms, have_lat, 3);
        json_num(f, "p99_ms", (double)hist_quantile(&lat, 0.99) / ns_per_ms, have_lat, 3);
        json_num(f, "max_ms", (double)lat.max / ns_per_ms, have_lat, 3);
        json_num(f, "send_lag_max_ms", (double)st.lag_max_ns / ns_per_ms, writer_ok, 3);
        json_num(f, "machine_busy_pct", busy_pct, busy_us >= 0, 1);
        json_num(f, "other_cpu_pct", other_pct, busy_us >= 0 && have_w, 1);
        fputs("}\n", f);
        fflush(f);
    } else {
        printf("workload floor: %d loopback connections, %.0f writes/s of %d bytes, no server%s\n", C, R, B,
               cfg->floor_uring ? "; each tick's writes in one io_uring submission" : "");
        printf("  window        %.1f s after %.1f s warm-up\n", win, cfg->warmup);
        printf("  writer        %.0f writes/s (%" PRIu64 " in window), %" PRIu64 " dropped, worst pacing lag %.2f ms\n",
               writes_ps, st.writes_win, st.dropped, (double)st.lag_max_ns / ns_per_ms);
        printf("  delivered     %.0f /s (%" PRIu64 " in window)\n", deliv_ps, delivered);
        printf("  latency       p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms\n",
               (double)hist_quantile(&lat, 0.5) / ns_per_ms, (double)hist_quantile(&lat, 0.9) / ns_per_ms,
               (double)hist_quantile(&lat, 0.99) / ns_per_ms, (double)lat.max / ns_per_ms);
        if (have_w)
            printf("  writer CPU    %.1f %%, %.3f us per delivery (the floor under server_cpu_us_per_delivery)\n",
                   w_pct, w_per);
        printf("  reader CPU    %.1f %%, %.3f us per delivery\n", r_pct, r_per);
        if (busy_us >= 0)
            printf("  machine       %.0f %% busy of %ld %%; other processes %.0f %%\n", busy_pct,
                   sysconf(_SC_NPROCESSORS_ONLN) * 100, other_pct);
        printf("  errors        %" PRIu64 "\n", errors);
    }
    rc = 0;
out:
    for (int i = 0; i < C; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    tern_free(conns);
    if (ep >= 0)
        close(ep);
    if (p2c[1] >= 0)
        close(p2c[1]);
    close(c2p[0]);
    return rc;
}
