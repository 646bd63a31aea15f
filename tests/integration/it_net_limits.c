/* it_net_limits.c — the network layer's limits, tried from outside on the real ternd:
 * the descriptor limit (1300 idle connections against 1024 descriptors: existing
 * connections stay served, new ones are shed and counted, SIGTERM still works), the
 * request-head deadline against a slowloris client, HTTP/0.9 refused with 400, 49
 * headers refused with 431, and `Expect: 100-continue` answered on a REST route. Each of these failed on the server
 * before the network layer was rewritten (docs/operations.md, "Limits"). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int tcp_connect(int port, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on a kept-alive connection; reads exactly one response (head and
 * Content-Length body) into buf. Returns the status, or -1 on a timeout or close. */
static int keepalive_get(int fd, const char *path, char *buf, size_t cap, int timeout_ms)
{
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    size_t got = 0;
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        buf[got] = 0;
        char *eoh = strstr(buf, "\r\n\r\n");
        if (eoh) {
            const char *cl = strstr(buf, "Content-Length: ");
            size_t len = cl ? strtoul(cl + 16, NULL, 10) : 0;
            if (got >= (size_t)(eoh + 4 - buf) + len)
                return atoi(buf + 9);
        }
        int left = (int)(end - now_ms());
        if (left <= 0 || got + 1 >= cap)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            return -1;
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
}

static long metric(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

#define IDLE_CONNS 1300

static void test_descriptor_limit(void **state)
{
    /* This process needs more descriptors than the server gets. */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < IDLE_CONNS + 200)
        skip();
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    it_server *s = it_server_new(NULL);
    assert_non_null(s);
    it_create_users(s, (const char *[]){"alice", "bob", NULL});
    it_ws *alice = it_login(s, "alice", NULL);
    int ka = tcp_connect(s->port, 0);
    assert_true(ka >= 0);
    static char buf[65536];
    assert_int_equal(keepalive_get(ka, "/healthz", buf, sizeof buf, IT_WAIT_MS), 200);

    /* prlimit --nofile=1024:1024 on the running server (its start raised the soft limit
     * to the hard one, so this is the ceiling it lives with). */
    struct rlimit lim = {1024, 1024};
    assert_int_equal(prlimit(s->pid, RLIMIT_NOFILE, &lim, NULL), 0);

    int *idle = calloc(IDLE_CONNS, sizeof *idle);
    for (int i = 0; i < IDLE_CONNS; i++) {
        idle[i] = tcp_connect(s->port, 1);
        assert_true(idle[i] >= 0);
    }
    usleep(1500 * 1000);

    /* The server keeps serving what it has: a WebSocket send and a kept-alive HTTP
     * connection, promptly. */
    for (int i = 0; i < 5; i++) {
        int64_t t0 = now_ms();
        it_send_text_ok(alice, "C2C", "bob", "at the limit", NULL, 0);
        assert_int_equal(keepalive_get(ka, "/healthz", buf, sizeof buf, 3000), 200);
        assert_true(now_ms() - t0 < 3000);
    }
    assert_int_equal(keepalive_get(ka, "/metrics", buf, sizeof buf, 3000), 200);
    long shed = metric(buf, "tern_accept_shed_total");
    print_message("shed %ld of %d idle connections\n", shed, IDLE_CONNS);
    assert_true(shed > 0);

    /* Descriptors free up: new connections are served again. */
    for (int i = 0; i < IDLE_CONNS; i++)
        close(idle[i]);
    free(idle);
    int fresh = -1, status = -1;
    for (int i = 0; i < 50 && status != 200; i++) {
        usleep(100 * 1000);
        if (fresh >= 0)
            close(fresh);
        fresh = tcp_connect(s->port, 0);
        status = fresh >= 0 ? keepalive_get(fresh, "/healthz", buf, sizeof buf, 1000) : -1;
    }
    assert_int_equal(status, 200);
    close(fresh);
    close(ka);

    /* And SIGTERM stops it (the sessions get their close 1001). */
    int st = 0;
    assert_int_equal(it_server_stop(s, 10000, &st), 0);
    int code = 0;
    assert_int_equal(it_ws_expect_close(alice, 3000, &code), 0);
    assert_int_equal(code, 1001);
    assert_int_equal(it_server_free(s), 0);
}

static void test_slowloris_head_deadline(void **state)
{
    /* Through the environment, so that a server without the setting still starts and
     * shows the defect. */
    setenv("TERN_HTTP_HEAD_TIMEOUT_MS", "1500", 1);
    it_server *s = it_server_new(NULL);
    unsetenv("TERN_HTTP_HEAD_TIMEOUT_MS");
    assert_non_null(s);
    int fd = tcp_connect(s->port, 0);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    int64_t t0 = now_ms();
    int closed = 0;
    /* One byte every 250 ms: 22 s for the whole head, if nobody stops it. */
    for (size_t i = 0; req[i] && !closed; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
            closed = 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 250) > 0)
            closed = 1;
    }
    int64_t took = now_ms() - t0;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    print_message("slow head cut after %lld ms: %.30s\n", (long long)took, buf);
    assert_true(closed);
    assert_true(took < 4000);
    assert_non_null(strstr(buf, "HTTP/1.1 408"));
    assert_non_null(strstr(buf, "\"request_timeout\""));
    it_http_resp r;
    assert_int_equal(it_http(s, "GET", "/metrics", NULL, NULL, &r), 200);
    assert_int_equal(metric(r.body, "tern_http_timeouts_total"), 1);
    it_http_resp_free(&r);
    assert_int_equal(it_server_free(s), 0);
}

static void test_http09_refused(void **state)
{
    it_server *s = *state;
    it_http_resp r;
    static const char req[] = "GET /healthz\r\n\r\n";
    it_http_raw(s->port, req, sizeof req - 1, IT_WAIT_MS, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(r.json);
    assert_int_equal(it_code(r.json), 1001);
    it_http_resp_free(&r);
}

static void test_too_many_headers_431(void **state)
{
    it_server *s = *state;
    char req[4096];
    int n = snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 48; i++) /* 49 with Host */
        n += snprintf(req + n, sizeof req - (size_t)n, "X-H%d: v\r\n", i);
    n += snprintf(req + n, sizeof req - (size_t)n, "Connection: close\r\n\r\n");
    it_http_resp r;
    it_http_raw(s->port, req, (size_t)n, IT_WAIT_MS, &r);
    assert_int_equal(r.status, 431);
    assert_int_equal(it_code(r.json), 1003);
    it_http_resp_free(&r);
}

static void test_expect_100_continue_rest(void **state)
{
    /* A deliberate change: the head is accepted first (100 Continue), then the body. */
    it_server *s = *state;
    char body[512], head[512];
    int bn = snprintf(body, sizeof body,
                      "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
                      s->client_id, s->client_secret);
    int hn = snprintf(head, sizeof head,
                      "POST /%s/%s/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n",
                      s->org, s->app, bn);
    int fd = tcp_connect(s->port, 0);
    assert_int_equal(send(fd, head, (size_t)hn, MSG_NOSIGNAL), hn);
    char buf[4096];
    size_t got = 0;
    while (got < 25) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_true(poll(&p, 1, IT_WAIT_MS) > 0);
        ssize_t r = recv(fd, buf + got, 25 - got, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_memory_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    assert_int_equal(send(fd, body, (size_t)bn, MSG_NOSIGNAL), bn);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_true(poll(&p, 1, IT_WAIT_MS) > 0);
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(r > 0);
    buf[r] = 0;
    assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    close(fd);
}

int main(void)
{
    it_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_limit),
        cmocka_unit_test(test_slowloris_head_deadline),
        cmocka_unit_test_setup_teardown(test_http09_refused, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_too_many_headers_431, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_expect_100_continue_rest, it_setup_default, it_teardown_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
