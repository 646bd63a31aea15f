/*
 * it_http_edge.c — HTTP connection edge cases found in review: pipelined requests whose
 * answers the socket cannot take at once (answers must stay intact; a client that never
 * reads must not grow the server without bound), a client that half-closes while its
 * asynchronous request is answered (it still gets the answer), a WebSocket upgrade
 * pipelined behind an asynchronous request (the session must work), and REST
 * idempotency keys per recipient.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Reads until `count` occurrences of needle were seen, EOF, or the deadline. */
static char *read_until(int fd, const char *needle, int count, int timeout_ms, size_t *len_out)
{
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    int64_t deadline = it_now_ms() + timeout_ms;
    int seen = 0;
    size_t scan = 0;
    while (seen < count && it_now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (cap - len < 65536) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = 0;
        char *q;
        while ((q = memmem(buf + scan, len - scan, needle, strlen(needle))) != NULL) {
            seen++;
            scan = (size_t)(q - buf) + strlen(needle);
        }
    }
    *len_out = len;
    return buf;
}

/* Starts ternd with ASan's quarantine off, so RSS measures what the server holds. */
static int setup_rss(void **state)
{
    const char *old = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0", old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    *state = it_server_new(NULL);
    if (old)
        setenv("ASAN_OPTIONS", old, 1);
    else
        unsetenv("ASAN_OPTIONS");
    return *state ? 0 : -1;
}

static void test_pipelined_answers_intact_and_bounded(void **state)
{
    it_server *s = *state;
    /* 8000 pipelined GET /metrics (~1.3 KB answers, ~10 MB in all: more than the socket
     * buffers hold) from a client with a tiny receive buffer that reads nothing at first:
     * the server must stop reading instead of queueing every answer, and each answer
     * must arrive intact (queued answers must not point at freed memory). */
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    const char ans[] = "\ntern_memory_bytes ";
    int n = 8000;
    size_t rl = sizeof req - 1, total = rl * (size_t)n;
    char *all = malloc(total);
    for (int i = 0; i < n; i++)
        memcpy(all + rl * (size_t)i, req, rl);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    long rss0 = it_server_rss_kb(s);
    size_t off = 0;
    int64_t phase1 = it_now_ms() + 1500;
    while (off < total && it_now_ms() < phase1) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t w = send(fd, all + off, total - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
    }
    long rss1 = it_server_rss_kb(s);
    printf("sent %zu of %zu request bytes while not reading; server RSS %ld -> %ld KiB\n", off, total, rss0, rss1);
    if (!getenv("TERN_TSAN") && rss1 - rss0 > 32 * 1024)
        fail_msg("server RSS grew by %ld KiB for a client that does not read", rss1 - rss0);
    /* Now read and send the rest until every answer is in. */
    size_t cap = 4 << 20, len = 0;
    char *buf = malloc(cap + 1);
    int bodies = 0;
    size_t scan = 0;
    int64_t deadline = it_now_ms() + 30000;
    while (bodies < n && it_now_ms() < deadline) {
        struct pollfd p = {fd, (short)(POLLIN | (off < total ? POLLOUT : 0)), 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if ((p.revents & POLLOUT) && off < total) {
            ssize_t w = send(fd, all + off, total - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w;
        }
        if (p.revents & (POLLIN | POLLHUP)) {
            if (cap - len < 65536) {
                cap *= 2;
                buf = realloc(buf, cap + 1);
            }
            ssize_t r = recv(fd, buf + len, cap - len, 0);
            if (r <= 0)
                break;
            len += (size_t)r;
            buf[len] = 0;
            char *q;
            while ((q = memmem(buf + scan, len - scan, ans, sizeof ans - 1)) != NULL) {
                bodies++;
                scan = (size_t)(q - buf) + sizeof ans - 1;
            }
        }
    }
    /* Walk the answers by their framing: head, Content-Length bytes of body ending in a
     * newline, next head. Bytes from freed memory would break the walk. */
    int ok = 0;
    size_t pos = 0;
    while (pos < len && !memcmp(buf + pos, "HTTP/1.1 200 OK\r\n", 17)) {
        /* A head is short: search a window, not the rest of the ~20 MB (sanitizers check
         * the whole range a memmem is given, which made this walk quadratic). */
        size_t win = len - pos < 4096 ? len - pos : 4096;
        char *he = memmem(buf + pos, win, "\r\n\r\n", 4);
        char *cl = memmem(buf + pos, win, "Content-Length: ", 16);
        if (!he || !cl || cl > he)
            break;
        size_t body = strtoul(cl + 16, NULL, 10);
        size_t start = (size_t)(he - buf) + 4;
        if (start + body > len || buf[start + body - 1] != '\n' || memcmp(buf + start, "# HELP", 6))
            break;
        ok++;
        pos = start + body;
    }
    if (ok != n)
        fail_msg("answer %d is malformed at byte %zu of %zu", ok + 1, pos, len);
    close(fd);
    free(buf);
    free(all);
    printf("answers: %d status lines, %d bodies\n", ok, bodies);
    assert_int_equal(ok, n);
    assert_int_equal(bodies, n);
    assert_true(it_server_alive(s));
}

static void test_half_close_still_answered(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", NULL});
    char body[256], req[1024];
    snprintf(
        body, sizeof body,
        "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"half\"},\"clientMsgId\":\"hc-1\"}");
    snprintf(req, sizeof req,
             "POST /demo/demo/messages/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             it_app_token(s), strlen(body), body);
    int fd = connect_port(s->port);
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    shutdown(fd, SHUT_WR);
    size_t len;
    char *buf = read_until(fd, "}", 1, 5000, &len);
    close(fd);
    if (!strstr(buf, "HTTP/1.1 200") || !strstr(buf, "\"bob\":\""))
        fail_msg("no answer after a half-close: '%s'", buf);
    free(buf);
}

static void test_upgrade_pipelined_behind_async(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"carol", "dave", NULL});
    char body[256], req[2048];
    snprintf(body, sizeof body, "{\"from\":\"carol\",\"to\":\"dave\",\"type\":\"txt\",\"body\":{\"msg\":\"x\"}}");
    int n = snprintf(req, sizeof req,
                     "POST /demo/demo/messages/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Length: %zu\r\n\r\n%s"
                     "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     it_app_token(s), strlen(body), body);
    int fd = connect_port(s->port);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t len;
    char *buf = read_until(fd, "\r\n\r\n", 2, 5000, &len);
    if (!strstr(buf, "101 Switching Protocols"))
        fail_msg("no 101 after a pipelined upgrade: '%s'", buf);
    free(buf);
    /* A masked ping op; the session must answer (reading was resumed after the upgrade). */
    const char ping[] = "{\"op\":\"ping\",\"id\":1}";
    unsigned char frame[64];
    size_t pl = sizeof ping - 1;
    frame[0] = 0x81;
    frame[1] = (unsigned char)(0x80 | pl);
    unsigned char mask[4] = {1, 2, 3, 4};
    memcpy(frame + 2, mask, 4);
    for (size_t i = 0; i < pl; i++)
        frame[6 + i] = (unsigned char)ping[i] ^ mask[i % 4];
    assert_int_equal(send(fd, frame, 6 + pl, MSG_NOSIGNAL), (ssize_t)(6 + pl));
    buf = read_until(fd, "\"re\":\"ping\"", 1, 3000, &len);
    int answered = strstr(buf, "\"re\":\"ping\"") != NULL;
    free(buf);
    close(fd);
    assert_true(answered);
}

static void test_rest_idempotency_keys_per_recipient(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"eve", "bob_000001", "bob_000002", NULL});
    /* 56-byte key + ":" + recipient is over 64 bytes: refused, nothing stored. */
    char body[512];
    snprintf(body, sizeof body,
             "{\"from\":\"eve\",\"to\":[\"bob_000001\",\"bob_000002\"],\"type\":\"txt\",\"body\":{\"msg\":\"k\"},"
             "\"clientMsgId\":\"%s\"}",
             "01234567890123456789012345678901234567890123456789012345");
    cJSON *r = it_rest(s, "POST", body, 400, "/demo/demo/messages/users");
    assert_int_equal((int)it_jnum(r, "code", 0), 1003);
    cJSON_Delete(r);
    /* A recipient listed twice is refused. */
    r = it_rest(s, "POST",
                "{\"from\":\"eve\",\"to\":[\"bob_000001\",\"bob_000001\"],\"type\":\"txt\",\"body\":{\"msg\":\"k\"}}",
                400, "/demo/demo/messages/users");
    cJSON_Delete(r);
    /* A short key works per recipient: two messages, different ids; resent: the same ids. */
    const char *ok =
        "{\"from\":\"eve\",\"to\":[\"bob_000001\",\"bob_000002\"],\"type\":\"txt\",\"body\":{\"msg\":\"k\"},"
        "\"clientMsgId\":\"short-key\"}";
    cJSON *a = it_rest(s, "POST", ok, 200, "/demo/demo/messages/users");
    cJSON *b = it_rest(s, "POST", ok, 200, "/demo/demo/messages/users");
    const char *a1 = it_jstr(a, "data.bob_000001"), *a2 = it_jstr(a, "data.bob_000002");
    assert_non_null(a1);
    assert_non_null(a2);
    assert_string_not_equal(a1, a2);
    assert_string_equal(a1, it_jstr(b, "data.bob_000001"));
    assert_string_equal(a2, it_jstr(b, "data.bob_000002"));
    cJSON_Delete(a);
    cJSON_Delete(b);
}

int main(void)
{
    it_watchdog(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_answers_intact_and_bounded, setup_rss, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_half_close_still_answered, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_upgrade_pipelined_behind_async, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_rest_idempotency_keys_per_recipient, it_setup_default,
                                        it_teardown_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
