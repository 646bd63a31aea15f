/* test_net.c — the network layer (src/net) alone, driven over real loopback sockets with
 * a dummy handler table instead of ternd: HTTP request and response, pipelining behind
 * an asynchronous answer, WebSocket upgrade and echo, the close handler, the send-queue
 * overflow handler, the per-connection deadline, the shutdown handler, and the HTTP
 * rules the layer enforces itself (HTTP/0.9, the request-head deadline, the minimum
 * body rate). Links tern_net only: nothing of the server. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/util.h"
#include "core/ws.h"
#include "net/net.h"

/* ---- the dummy server ------------------------------------------------------------- */

typedef struct dummy_ud {
    int opened;
    int upgraded;
    int slow;          /* pause after every body piece, resume from the inbox */
    uint64_t body_got; /* streamed body bytes */
    size_t body_max_piece;
} dummy_ud;

static struct {
    atomic_int opens, closes, overflows, shutdowns, requests, refused_status, ws_msgs;
    atomic_int drains, stream_closed, pauses;
    atomic_uint_fast64_t produced; /* bytes a streamed download handed to the layer */
    atomic_uint_fast64_t max_piece;
} ev;

/* A file served by /file (written at start). */
#define FILE_SIZE (1024 * 1024 + 17)
static char g_file_path[64];
static uint8_t file_byte(uint64_t i)
{
    return (uint8_t)(i * 131 + (i >> 9));
}

static net *g_net;
static int g_port;

static void write_response(net_conn *c, int status, const char *body, size_t n)
{
    char head[256];
    int h = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n", status, n);
    net_conn_write(c, head, (size_t)h);
    if (n)
        net_conn_write(c, body, n);
}

static void d_open(net_conn *c)
{
    dummy_ud *u = net_conn_ud(c);
    assert_int_equal(u->opened, 0); /* zeroed */
    u->opened = 1;
    assert_ptr_equal(net_conn_of_ud(u), c);
    atomic_fetch_add(&ev.opens, 1);
}

/* Answers an /async request later, from the loop's inbox. */
static void answer_later(net_loop *l, void *arg)
{
    net_conn *c = net_loop_find(l, (uint64_t)(uintptr_t)arg);
    if (!c)
        return;
    write_response(c, 200, "late", 4);
    net_http_resume(c);
}

/* /gen: an endless streamed download (until 100 MiB), written while the layer takes it. */
typedef struct gen {
    uint64_t left;
} gen;

static void gen_pump(net_conn *c, void *arg, int event)
{
    gen *g = arg;
    if (event == NET_STREAM_CLOSED) {
        atomic_fetch_add(&ev.stream_closed, 1);
        tern_free(g);
        return;
    }
    atomic_fetch_add(&ev.drains, 1);
    static char chunk[16384];
    for (;;) {
        if (!g->left) {
            net_http_stream_end(c);
            tern_free(g);
            return;
        }
        size_t n = g->left < sizeof chunk ? (size_t)g->left : sizeof chunk;
        memset(chunk, 'g', n);
        g->left -= n;
        atomic_fetch_add(&ev.produced, n);
        int r = net_http_stream_write(c, chunk, n);
        if (r != 0)
            return; /* 1: the drain brings us back; -1: CLOSED follows */
    }
}

static void resume_body(net_loop *l, void *arg)
{
    net_conn *c = net_loop_find(l, (uint64_t)(uintptr_t)arg);
    if (c)
        net_http_body_resume(c);
}

static int d_head(net_conn *c, const http_msg *m, size_t *limit)
{
    dummy_ud *u = net_conn_ud(c);
    u->body_got = 0;
    u->slow = tern_str_eq(m->path, "/upload-slow");
    if (tern_str_eq(m->path, "/upload") || u->slow) {
        *limit = (size_t)200 * 1024 * 1024;
        return NET_BODY_STREAM;
    }
    if (tern_str_eq(m->path, "/small")) {
        *limit = 16;
        return NET_BODY_WHOLE;
    }
    if (tern_str_eq(m->path, "/refuse")) {
        write_response(c, 403, "no", 2);
        return NET_BODY_REFUSED;
    }
    return NET_BODY_WHOLE;
}

static int d_body(net_conn *c, const char *data, size_t n)
{
    dummy_ud *u = net_conn_ud(c);
    u->body_got += n;
    if (n > atomic_load(&ev.max_piece))
        atomic_store(&ev.max_piece, n);
    if (u->slow) {
        /* A consumer that is behind: stop reading, go on at the next loop turn. */
        atomic_fetch_add(&ev.pauses, 1);
        net_inbox_item it = {.fn = resume_body, .arg = (void *)(uintptr_t)net_conn_id(c)};
        net_inbox_push(net_conn_loop(c), &it);
        return NET_BODY_PAUSE;
    }
    return NET_BODY_MORE;
}

static int d_request(net_conn *c, const http_msg *m)
{
    atomic_fetch_add(&ev.requests, 1);
    dummy_ud *u = net_conn_ud(c);
    if (tern_str_eq(m->path, "/upload") || tern_str_eq(m->path, "/upload-slow")) {
        char body[64];
        int n = snprintf(body, sizeof body, "got %llu", (unsigned long long)u->body_got);
        write_response(c, 200, body, (size_t)n);
        return NET_HTTP_DONE;
    }
    if (tern_str_eq(m->path, "/file")) {
        int fd = open(g_file_path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        net_http_serve_file(c, m, fd, FILE_SIZE, "application/octet-stream", NULL);
        return NET_HTTP_ASYNC;
    }
    if (tern_str_eq(m->path, "/gen") || tern_str_eq(m->path, "/gen-small")) {
        static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        gen *g = tern_calloc(1, sizeof *g);
        g->left = tern_str_eq(m->path, "/gen") ? (uint64_t)100 * 1024 * 1024 : 40000;
        net_http_stream_begin(c, head, sizeof head - 1, 1, gen_pump, g);
        gen_pump(c, g, NET_STREAM_DRAIN);
        return NET_HTTP_ASYNC;
    }
    if (tern_str_eq(m->path, "/async")) {
        net_inbox_item it = {.fn = answer_later, .arg = (void *)(uintptr_t)net_conn_id(c)};
        net_inbox_push(net_conn_loop(c), &it);
        return NET_HTTP_ASYNC;
    }
    /* Echo the path and the body's length. */
    char body[512];
    int n = snprintf(body, sizeof body, "%.*s %zu", (int)m->path.n, m->path.p, m->body.len);
    write_response(c, 200, body, (size_t)n);
    return NET_HTTP_DONE;
}

static int d_upgrade(net_conn *c, const http_msg *m)
{
    tern_str key = http_header_get(m, "Sec-WebSocket-Key");
    char accept[29];
    if (!key.n || ws_accept_key(key.p, key.n, accept) < 0) {
        write_response(c, 400, NULL, 0);
        net_conn_close(c, 0, NULL);
        return -1;
    }
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    net_conn_ws_accept(c, resp, (size_t)n);
    ((dummy_ud *)net_conn_ud(c))->upgraded = 1;
    if (tern_str_eq(m->path, "/deadline"))
        net_conn_set_deadline(c, 200, 4002, "too slow");
    return 0;
}

static void d_text(net_conn *c, char *data, size_t n)
{
    atomic_fetch_add(&ev.ws_msgs, 1);
    if (n == 5 && memcmp(data, "flood", 5) == 0) {
        /* Far more than the send queue and the socket buffers hold. */
        static char big[64 * 1024];
        memset(big, 'x', sizeof big);
        frame *f = frame_text(big, sizeof big);
        for (int i = 0; i < 400; i++)
            if (net_conn_send(c, f) != 0)
                break;
        frame_unref(f);
        return;
    }
    if (n == 5 && memcmp(data, "clear", 5) == 0) {
        net_conn_set_deadline(c, 0, 0, NULL);
        return;
    }
    net_conn_send_text(c, data, n); /* echo */
}

static void d_close(net_conn *c)
{
    dummy_ud *u = net_conn_ud(c);
    assert_int_equal(u->opened, 1);
    atomic_fetch_add(&ev.closes, 1);
}

static frame *d_overflow(net_conn *c)
{
    atomic_fetch_add(&ev.overflows, 1);
    return frame_text("resync", 6);
}

static void d_shutdown(net_conn *c)
{
    atomic_fetch_add(&ev.shutdowns, 1);
    net_conn_send_text(c, "bye", 3);
}

static void d_http_error(net_conn *c, int status)
{
    atomic_store(&ev.refused_status, status);
    write_response(c, status, "refused", 7);
}

static int start_net(void **state)
{
    memset(&ev, 0, sizeof ev);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    g_port = ntohs(a.sin_port);
    snprintf(g_file_path, sizeof g_file_path, "/tmp/test_net_file.XXXXXX");
    int ffd = mkstemp(g_file_path);
    if (ffd < 0)
        return -1;
    static uint8_t fb[FILE_SIZE];
    for (uint64_t i = 0; i < FILE_SIZE; i++)
        fb[i] = file_byte(i);
    if (write(ffd, fb, FILE_SIZE) != FILE_SIZE)
        return -1;
    close(ffd);
    net_config cfg = {.ws_max_message = 65536,
                      .http_idle_ms = 2000,
                      .max_send_queue = 64 * 1024,
                      .max_http_body = 1024,
                      .ws_idle_ms = 60000,
                      .http_head_timeout_ms = 1000,
                      .http_body_min_rate = 1000,
                      .io_uring = 1,
                      .conn_ud_size = sizeof(dummy_ud)};
    net_handlers h = {.open = d_open,
                      .http_request = d_request,
                      .http_head = d_head,
                      .http_body = d_body,
                      .ws_upgrade = d_upgrade,
                      .ws_text = d_text,
                      .close = d_close,
                      .overflow = d_overflow,
                      .shutdown = d_shutdown,
                      .http_error = d_http_error};
    g_net = net_new(&cfg, &h, 1, &fd, NULL);
    if (!g_net || net_start(g_net) != 0)
        return -1;
    return 0;
}

static int stop_net(void **state)
{
    if (g_net) {
        net_stop(g_net);
        net_free(g_net);
        g_net = NULL;
    }
    unlink(g_file_path);
    return 0;
}

/* ---- a small blocking client -------------------------------------------------------- */

static int cli_connect_rcvbuf(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)g_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int cli_connect(void)
{
    return cli_connect_rcvbuf(0);
}

/* Sends all of p[0..n) (a blocking send may still return early, e.g. on a signal). */
static ssize_t cli_send_all(int fd, const void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(fd, (const char *)p + done, n - done, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w;
        done += (size_t)w;
    }
    return (ssize_t)done;
}

static void cli_send(int fd, const void *p, size_t n)
{
    assert_int_equal(cli_send_all(fd, p, n), (ssize_t)n);
}

static void cli_puts(int fd, const char *s)
{
    cli_send(fd, s, strlen(s));
}

/* Reads until `want` bytes arrived, the peer closed, or timeout_ms passed. Returns the
 * bytes read (NUL-terminated in buf). */
static size_t cli_read(int fd, char *buf, size_t cap, size_t want, int timeout_ms)
{
    size_t got = 0;
    int64_t end = tern_now_ms() + timeout_ms;
    while (got < want && got + 1 < cap) {
        int left = (int)(end - tern_now_ms());
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            break;
        size_t room = cap - 1 - got < want - got ? cap - 1 - got : want - got;
        ssize_t r = recv(fd, buf + got, room, 0); /* never past what was asked for */
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = 0;
    return got;
}

/* Reads one complete HTTP response (head + Content-Length body) into buf: the head byte
 * by byte (never past this response), the body in bulk. Returns its length, 0 on a
 * timeout or close. */
static size_t cli_read_response(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t got = 0, total = 0;
    int64_t end = tern_now_ms() + timeout_ms;
    for (;;) {
        buf[got] = 0;
        if (!total) {
            char *eoh = strstr(buf, "\r\n\r\n");
            if (eoh) {
                const char *cl = strstr(buf, "Content-Length: ");
                size_t len = cl ? strtoul(cl + 16, NULL, 10) : 0;
                total = (size_t)(eoh + 4 - buf) + len;
            }
        }
        if (total && got >= total)
            return total;
        int left = (int)(end - tern_now_ms());
        if (left <= 0 || got + 1 >= cap || (total && total + 1 > cap))
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            return 0;
        ssize_t r = recv(fd, buf + got, total ? total - got : 1, 0);
        if (r <= 0)
            return 0;
        got += (size_t)r;
    }
}

/* 1 if the peer closed (EOF or reset) within timeout_ms, discarding what arrives. */
static int cli_wait_closed(int fd, int timeout_ms)
{
    char tmp[4096];
    int64_t end = tern_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - tern_now_ms());
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            return 0;
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0)
            return 1;
    }
}

static void ws_handshake(int fd, const char *path)
{
    char req[512];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             path);
    cli_puts(fd, req);
    char buf[1024];
    size_t n = cli_read_response(fd, buf, sizeof buf, 3000);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "101 Switching Protocols"));
    assert_non_null(strstr(buf, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

static void ws_send_text(int fd, const char *s)
{
    uint8_t f[256];
    size_t n = strlen(s);
    assert_true(n < 126);
    static const uint8_t mask[4] = {1, 2, 3, 4};
    f[0] = 0x81;
    f[1] = (uint8_t)(0x80 | n);
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = (uint8_t)s[i] ^ mask[i % 4];
    cli_send(fd, f, 6 + n);
}

/* Reads one server frame; returns its opcode (-1 on failure) with the payload in buf. */
static int ws_read_frame(int fd, char *buf, size_t cap, size_t *len, int timeout_ms)
{
    uint8_t h[10];
    if (cli_read(fd, (char *)h, 3, 2, timeout_ms) < 2)
        return -1;
    size_t n = h[1] & 0x7f;
    if (n == 126) {
        if (cli_read(fd, (char *)h + 2, 3, 2, timeout_ms) < 2)
            return -1;
        n = (size_t)h[2] << 8 | h[3];
    } else if (n == 127) {
        return -1; /* not used here */
    }
    assert_true(n + 1 <= cap);
    if (n && cli_read(fd, buf, cap, n, timeout_ms) < n)
        return -1;
    buf[n] = 0;
    *len = n;
    return h[0] & 0x0f;
}

static void wait_int(atomic_int *v, int want, int timeout_ms)
{
    int64_t end = tern_now_ms() + timeout_ms;
    while (atomic_load(v) < want && tern_now_ms() < end)
        usleep(5000);
    assert_int_equal(atomic_load(v), want);
}

/* Reads the next response on fd and asserts that it contains part. */
static void expect_next(int fd, const char *part)
{
    char buf[1024];
    assert_true(cli_read_response(fd, buf, sizeof buf, 3000) > 0);
    if (!strstr(buf, part))
        fail_msg("want %s, got: %s", part, buf);
}

/* Sends req on fd and asserts that the next response contains `status` and `part`. */
static void roundtrip(int fd, const char *req, const char *status, const char *part)
{
    cli_puts(fd, req);
    char buf[1024];
    assert_true(cli_read_response(fd, buf, sizeof buf, 3000) > 0);
    if (!strstr(buf, status) || (part && !strstr(buf, part)))
        fail_msg("want %s / %s, got: %s", status, part ? part : "", buf);
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_http_request_response(void **state)
{
    int fd = cli_connect();
    roundtrip(fd, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 200",
              "\r\n\r\n/hello 3");
    close(fd);
    wait_int(&ev.closes, 1, 3000);
    assert_int_equal(atomic_load(&ev.opens), 1);
}

static void test_http_pipelining_behind_async(void **state)
{
    int fd = cli_connect();
    /* Three requests in one write; the first is answered later, from the inbox: the
     * others must wait for it and come back in order. */
    cli_puts(fd, "GET /async HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /three HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_next(fd, "\r\n\r\nlate");
    expect_next(fd, "\r\n\r\n/two 0");
    expect_next(fd, "\r\n\r\n/three 0");
    assert_int_equal(atomic_load(&ev.requests), 3);
    close(fd);
}

static void test_ws_upgrade_echo_close(void **state)
{
    int fd = cli_connect();
    ws_handshake(fd, "/ws");
    ws_send_text(fd, "hello");
    char buf[256];
    size_t n;
    assert_int_equal(ws_read_frame(fd, buf, sizeof buf, &n, 3000), WS_OP_TEXT);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    /* A client close is echoed, then the close handler runs once. */
    uint8_t cf[8] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
    cli_send(fd, cf, sizeof cf);
    assert_int_equal(ws_read_frame(fd, buf, sizeof buf, &n, 3000), WS_OP_CLOSE);
    assert_int_equal((uint8_t)buf[0] << 8 | (uint8_t)buf[1], 1000);
    wait_int(&ev.closes, 1, 3000);
    close(fd);
}

static void test_ws_send_queue_overflow(void **state)
{
    /* A client that never reads, with a small receive buffer. */
    int fd = cli_connect_rcvbuf(4096);
    ws_handshake(fd, "/ws");
    ws_send_text(fd, "flood");
    wait_int(&ev.overflows, 1, 5000);
    wait_int(&ev.closes, 1, 5000);
    net_stats *st = net_get_stats(g_net);
    assert_int_equal(atomic_load(&st->slow_drops), 1);
    assert_true(cli_wait_closed(fd, 8000)); /* the layer closed the socket */
    close(fd);
}

static void test_ws_deadline(void **state)
{
    int fd = cli_connect();
    ws_handshake(fd, "/deadline"); /* 200 ms, checked by the once-a-second sweep */
    char buf[256];
    size_t n;
    int64_t t0 = tern_now_ms();
    assert_int_equal(ws_read_frame(fd, buf, sizeof buf, &n, 3000), WS_OP_CLOSE);
    assert_int_equal((uint8_t)buf[0] << 8 | (uint8_t)buf[1], 4002);
    assert_memory_equal(buf + 2, "too slow", 8);
    assert_true(tern_now_ms() - t0 < 2500);
    close(fd);

    /* A cleared deadline does not fire. */
    fd = cli_connect();
    ws_handshake(fd, "/deadline");
    ws_send_text(fd, "clear");
    assert_int_equal(ws_read_frame(fd, buf, sizeof buf, &n, 1800), -1);
    ws_send_text(fd, "still");
    assert_int_equal(ws_read_frame(fd, buf, sizeof buf, &n, 3000), WS_OP_TEXT);
    close(fd);
}

static void test_shutdown_handler(void **state)
{
    int fd = cli_connect();
    ws_handshake(fd, "/ws");
    int hfd = cli_connect(); /* an idle HTTP connection is just closed */
    wait_int(&ev.opens, 2, 3000);
    net_stop(g_net);
    net_free(g_net);
    g_net = NULL;
    assert_int_equal(atomic_load(&ev.shutdowns), 1);
    char buf[256];
    size_t n;
    assert_int_equal(ws_read_frame(fd, buf, sizeof buf, &n, 3000), WS_OP_TEXT);
    assert_memory_equal(buf, "bye", 3);
    assert_int_equal(ws_read_frame(fd, buf, sizeof buf, &n, 3000), WS_OP_CLOSE);
    assert_int_equal((uint8_t)buf[0] << 8 | (uint8_t)buf[1], 1001);
    assert_true(cli_wait_closed(hfd, 3000));
    assert_int_equal(atomic_load(&ev.closes), 2);
    close(fd);
    close(hfd);
}

static void test_http09_refused(void **state)
{
    int fd = cli_connect();
    cli_puts(fd, "GET /hello\r\n\r\n"); /* llhttp waits for a byte after the line */
    expect_next(fd, "HTTP/1.1 400");
    assert_int_equal(atomic_load(&ev.refused_status), 400);
    assert_int_equal(atomic_load(&ev.requests), 0);
    assert_true(cli_wait_closed(fd, 3000));
    close(fd);
}

/* Sends p[0..n) `step` bytes every 200 ms until the server answers or closes, then
 * asserts that the answer is a 408 that came within max_ms. */
static void trickle_until_408(int fd, const char *p, size_t n, size_t step, int max_ms)
{
    int64_t t0 = tern_now_ms();
    int answered = 0;
    for (size_t i = 0; i < n && !answered; i += step) {
        size_t k = n - i < step ? n - i : step;
        if (send(fd, p + i, k, MSG_NOSIGNAL) != (ssize_t)k)
            answered = 1;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 200) > 0)
            answered = 1;
    }
    assert_true(answered);
    expect_next(fd, "HTTP/1.1 408");
    assert_true(tern_now_ms() - t0 < max_ms);
}

static void test_head_deadline(void **state)
{
    /* One byte every 200 ms: each byte restarts the idle timer, but the head's deadline
     * (1 s here) runs from its first byte. */
    int fd = cli_connect();
    const char *req = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    trickle_until_408(fd, req, strlen(req), 1, 3500);
    assert_int_equal(atomic_load(&net_get_stats(g_net)->http_timeouts), 1);
    close(fd);
}

static void test_body_min_rate(void **state)
{
    /* The head arrives at once; the body trickles at ~50 B/s, under the 1000 B/s floor. */
    int fd = cli_connect();
    cli_puts(fd, "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    static char body[1000];
    memset(body, '0', sizeof body);
    trickle_until_408(fd, body, sizeof body, 10, 4000);
    close(fd);

    /* A body that keeps the rate passes. */
    fd = cli_connect();
    cli_puts(fd, "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    char chunk[250];
    memset(chunk, 'y', sizeof chunk);
    for (int i = 0; i < 4; i++) {
        cli_send(fd, chunk, sizeof chunk);
        usleep(100 * 1000);
    }
    expect_next(fd, "\r\n\r\n/b 1000");
    close(fd);
}

/* ---- streaming ---------------------------------------------------------------------- */

static void test_body_one_byte_at_a_time(void **state)
{
    /* Streamed (to the body handler) and whole (collected), each byte its own segment. */
    const char *paths[] = {"/upload", "/echo"};
    for (int k = 0; k < 2; k++) {
        int fd = cli_connect();
        char head[128];
        snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n", paths[k]);
        for (const char *p = head; *p; p++)
            cli_send(fd, p, 1);
        for (int i = 0; i < 300; i++) {
            cli_send(fd, "b", 1);
            if (i % 50 == 0)
                usleep(2000);
        }
        char buf[1024];
        assert_true(cli_read_response(fd, buf, sizeof buf, 5000) > 0);
        assert_non_null(strstr(buf, k == 0 ? "\r\n\r\ngot 300" : "\r\n\r\n/echo 300"));
        close(fd);
    }
}

static void test_body_over_limit_before_read(void **state)
{
    /* The head alone: 413 comes without a body byte sent. */
    int fd = cli_connect();
    roundtrip(fd, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "HTTP/1.1 413", NULL);
    assert_int_equal(atomic_load(&ev.refused_status), 413);
    assert_true(cli_wait_closed(fd, 3000));
    close(fd);

    /* A chunked body has no declared length: cut when it passes the limit. */
    fd = cli_connect();
    cli_puts(fd, "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n"
                 "1\r\nX\r\n");
    expect_next(fd, "HTTP/1.1 413");
    close(fd);

    /* A refused head: the handler's answer, and the body is never read. */
    fd = cli_connect();
    cli_puts(fd, "POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
    expect_next(fd, "HTTP/1.1 403");
    assert_true(cli_wait_closed(fd, 3000));
    close(fd);
}

static void test_expect_100_continue(void **state)
{
    int fd = cli_connect();
    cli_puts(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    char buf[1024];
    assert_int_equal(cli_read(fd, buf, sizeof buf, 25, 3000), 25);
    assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    cli_puts(fd, "hello");
    expect_next(fd, "\r\n\r\ngot 5");
    close(fd);

    /* Over the limit: 413, and no 100 first. */
    fd = cli_connect();
    cli_puts(fd, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n");
    assert_true(cli_read_response(fd, buf, sizeof buf, 3000) > 0);
    assert_true(strncmp(buf, "HTTP/1.1 413", 12) == 0);
    close(fd);
}

static void test_chunked_request_body(void **state)
{
    int fd = cli_connect();
    cli_puts(fd, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    expect_next(fd, "\r\n\r\ngot 31");
    expect_next(fd, "\r\n\r\n/echo 3");
    close(fd);
}

static void test_body_backpressure(void **state)
{
    /* 8 MiB to a handler that pauses after every piece: it sees the whole body in pieces
     * of at most one read, never more at once. */
    const size_t total = 8u * 1024 * 1024;
    int fd = cli_connect();
    char head[128];
    snprintf(head, sizeof head, "POST /upload-slow HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", total);
    cli_puts(fd, head);
    static char chunk[256 * 1024];
    memset(chunk, 'u', sizeof chunk);
    char buf[1024];
    for (size_t sent = 0; sent < total; sent += sizeof chunk) {
        ssize_t w = cli_send_all(fd, chunk, sizeof chunk);
        if (w != (ssize_t)sizeof chunk) {
            cli_read(fd, buf, sizeof buf, sizeof buf - 1, 1000);
            fail_msg("send at %zu: %zd (%s): %s", sent, w, strerror(errno), buf);
        }
    }
    assert_true(cli_read_response(fd, buf, sizeof buf, 20000) > 0);
    char want[64];
    snprintf(want, sizeof want, "got %zu", total);
    if (!strstr(buf, want))
        fail_msg("%s", buf);
    assert_true(atomic_load(&ev.pauses) > 8);
    assert_true(atomic_load(&ev.max_piece) <= 64 * 1024);
    close(fd);
}

static void test_download_client_stops_reading(void **state)
{
    /* A small receive window, and the client stops after 64 KiB of a 100 MiB download. */
    int fd = cli_connect_rcvbuf(4096);
    cli_puts(fd, "GET /gen HTTP/1.1\r\nHost: x\r\n\r\n");
    static char buf[65536];
    assert_int_equal(cli_read(fd, buf, sizeof buf, sizeof buf - 1, 3000), sizeof buf - 1);
    usleep(500 * 1000);
    uint64_t produced = atomic_load(&ev.produced);
    int drains = atomic_load(&ev.drains);
    usleep(600 * 1000);
    /* The producer is held back: no more drains, and what it produced stays within the
     * socket buffers plus the high-water mark. */
    assert_int_equal(atomic_load(&ev.drains), drains);
    assert_int_equal(atomic_load(&ev.produced), produced);
    print_message("produced %llu bytes before the client stalled\n", (unsigned long long)produced);
    assert_true(produced < 16u * 1024 * 1024);
    /* No progress for http_idle_ms (2 s here): closed, and the producer hears of it. */
    wait_int(&ev.stream_closed, 1, 5000);
    close(fd);
}

static void test_chunked_response(void **state)
{
    int fd = cli_connect();
    cli_puts(fd, "GET /gen-small HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
    /* Decode the chunked body: 40000 bytes of 'g' in 16 KiB chunks, then the next
     * pipelined answer. */
    static char buf[65536];
    size_t got = 0;
    int64_t end = tern_now_ms() + 5000;
    while (!strstr(buf, "/two 0") && tern_now_ms() < end && got + 1 < sizeof buf)
        got += cli_read(fd, buf + got, sizeof buf - got, 1, 1000);
    char *body = strstr(buf, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked"));
    body += 4;
    size_t total = 0;
    for (;;) {
        char *e;
        unsigned long n = strtoul(body, &e, 16);
        assert_true(e[0] == '\r' && e[1] == '\n');
        body = e + 2;
        if (!n)
            break;
        for (unsigned long i = 0; i < n; i++)
            assert_int_equal(body[i], 'g');
        total += n;
        body += n;
        assert_true(body[0] == '\r' && body[1] == '\n');
        body += 2;
    }
    assert_int_equal(total, 40000);
    assert_true(strncmp(body, "\r\nHTTP/1.1 200", 14) == 0);
    close(fd);
}

static void check_file_bytes(const char *p, uint64_t from, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if ((uint8_t)p[i] != file_byte(from + i))
            fail_msg("byte %llu differs", (unsigned long long)(from + i));
}

static void test_file_range_head(void **state)
{
    static char buf[FILE_SIZE + 4096];
    char req[256];
    int fd = cli_connect();

    /* Whole file (sendfile). */
    cli_puts(fd, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t n = cli_read_response(fd, buf, sizeof buf, 5000);
    assert_true(n > FILE_SIZE);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "Accept-Ranges: bytes"));
    check_file_bytes(buf + n - FILE_SIZE, 0, FILE_SIZE);

    /* One range: 206 with Content-Range. */
    cli_puts(fd, "GET /file HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-1999\r\n\r\n");
    n = cli_read_response(fd, buf, sizeof buf, 3000);
    if (!strstr(buf, "HTTP/1.1 206"))
        fail_msg("%zu: %.300s", n, buf);
    snprintf(req, sizeof req, "Content-Range: bytes 1000-1999/%d\r\n", FILE_SIZE);
    assert_non_null(strstr(buf, req));
    assert_non_null(strstr(buf, "Content-Length: 1000\r\n"));
    check_file_bytes(buf + n - 1000, 1000, 1000);

    /* A suffix range. */
    cli_puts(fd, "GET /file HTTP/1.1\r\nHost: x\r\nRange: bytes=-17\r\n\r\n");
    n = cli_read_response(fd, buf, sizeof buf, 3000);
    assert_non_null(strstr(buf, "HTTP/1.1 206"));
    check_file_bytes(buf + n - 17, FILE_SIZE - 17, 17);

    /* Past the end: 416 with bytes * /size, no body. */
    snprintf(req, sizeof req, "GET /file HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-\r\n\r\n", FILE_SIZE);
    cli_puts(fd, req);
    n = cli_read_response(fd, buf, sizeof buf, 3000);
    assert_non_null(strstr(buf, "HTTP/1.1 416"));
    snprintf(req, sizeof req, "Content-Range: bytes */%d\r\n", FILE_SIZE);
    assert_non_null(strstr(buf, req));
    assert_non_null(strstr(buf, "Content-Length: 0\r\n"));

    /* HEAD: the head of the 200, no body; then the connection goes on. */
    cli_puts(fd, "HEAD /file HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    n = cli_read(fd, buf, sizeof buf, 4096, 1500);
    snprintf(req, sizeof req, "Content-Length: %d\r\n", FILE_SIZE);
    assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(buf, req));
    char *second = strstr(buf, "\r\n\r\n");
    assert_non_null(second);
    assert_true(strncmp(second + 4, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(second, "/after 0"));
    close(fd);
}

static void test_parse_range(void **state)
{
    uint64_t a, n;
#define R(s) ((tern_str){(s), sizeof(s) - 1})
    assert_int_equal(net_http_parse_range(R("bytes=0-0"), 10, &a, &n), 1);
    assert_true(a == 0 && n == 1);
    assert_int_equal(net_http_parse_range(R("bytes=5-"), 10, &a, &n), 1);
    assert_true(a == 5 && n == 5);
    assert_int_equal(net_http_parse_range(R("bytes=5-100"), 10, &a, &n), 1);
    assert_true(a == 5 && n == 5);
    assert_int_equal(net_http_parse_range(R("bytes=-3"), 10, &a, &n), 1);
    assert_true(a == 7 && n == 3);
    assert_int_equal(net_http_parse_range(R("bytes=-30"), 10, &a, &n), 1);
    assert_true(a == 0 && n == 10);
    assert_int_equal(net_http_parse_range(R("bytes=10-"), 10, &a, &n), -1);
    assert_int_equal(net_http_parse_range(R("bytes=-0"), 10, &a, &n), -1);
    assert_int_equal(net_http_parse_range(R("bytes=0-1,3-4"), 10, &a, &n), 0);
    assert_int_equal(net_http_parse_range(R("bytes=4-3"), 10, &a, &n), 0);
    assert_int_equal(net_http_parse_range(R("items=0-1"), 10, &a, &n), 0);
    assert_int_equal(net_http_parse_range(R("bytes=x-1"), 10, &a, &n), 0);
    assert_int_equal(net_http_parse_range(R("bytes=99999999999999999999-"), 10, &a, &n), 0);
    assert_int_equal(net_http_parse_range((tern_str){NULL, 0}, 10, &a, &n), 0);
#undef R
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as in ternd: a peer's close is an error return, not a signal */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http_request_response, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_http_pipelining_behind_async, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_ws_upgrade_echo_close, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_ws_send_queue_overflow, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_ws_deadline, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_shutdown_handler, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_http09_refused, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_head_deadline, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_body_min_rate, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_body_one_byte_at_a_time, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_body_over_limit_before_read, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_expect_100_continue, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_chunked_request_body, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_body_backpressure, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_download_client_stops_reading, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_chunked_response, start_net, stop_net),
        cmocka_unit_test_setup_teardown(test_file_range_head, start_net, stop_net),
        cmocka_unit_test(test_parse_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
