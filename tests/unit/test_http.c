/* test_http.c — unit tests for core/http.c: requests split at every byte, pipelining,
 * upgrades with the next protocol's bytes behind them, head and body limits, chunked
 * bodies, responses, header helpers, response heads, URL and query decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/http.h"

#define S(lit) lit, (sizeof(lit) - 1)

static int streq(tern_str s, const char *lit)
{
    return tern_str_eq(s, lit);
}

static const char GET_REQ[] = "GET /v1/users/alice?limit=10&q=a%20b HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "X-Empty:\r\n"
                              "Authorization: Bearer tok\r\n"
                              "\r\n";

static const char POST_REQ[] = "POST /v1/messages HTTP/1.1\r\n"
                               "Host: example.com\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 13\r\n"
                               "\r\n"
                               "{\"text\":\"hi\"}";

static void check_get(const http_msg *m)
{
    assert_int_equal(m->method, HTTP_M_GET);
    assert_true(streq(m->url, "/v1/users/alice?limit=10&q=a%20b"));
    assert_true(streq(m->path, "/v1/users/alice"));
    assert_true(streq(m->query, "limit=10&q=a%20b"));
    assert_int_equal(m->nheaders, 3);
    assert_true(streq(m->headers[0].name, "Host"));
    assert_true(streq(m->headers[0].value, "example.com"));
    assert_true(streq(m->headers[1].name, "X-Empty"));
    assert_true(streq(m->headers[1].value, ""));
    assert_true(streq(m->headers[2].name, "Authorization"));
    assert_true(streq(m->headers[2].value, "Bearer tok"));
    assert_true(streq(http_header_get(m, "authorization"), "Bearer tok"));
    assert_true(streq(http_header_get(m, "HOST"), "example.com"));
    assert_null(http_header_get(m, "Cookie").p);
    assert_int_equal(m->keep_alive, 1);
    assert_int_equal(m->upgrade, 0);
    assert_int_equal(m->body.len, 0);
}

static void check_post(const http_msg *m)
{
    assert_int_equal(m->method, HTTP_M_POST);
    assert_true(streq(m->path, "/v1/messages"));
    assert_int_equal(m->query.n, 0);
    assert_true(streq(http_header_get(m, "content-type"), "application/json"));
    assert_int_equal(m->body.len, 13);
    assert_memory_equal(m->body.data, "{\"text\":\"hi\"}", 13);
    assert_int_equal(m->keep_alive, 1);
}

static void test_simple_get(void **state)
{
    (void)state;
    http_parser *p = http_parser_new(1, 1024);
    size_t used = 99;
    assert_int_equal(http_parser_feed(p, S(GET_REQ), &used), HTTP_COMPLETE);
    assert_int_equal(used, sizeof GET_REQ - 1);
    check_get(http_parser_msg(p));
    http_parser_free(p);
    http_parser_free(NULL);
}

/* Every split point, with the two halves in separate (exactly sized) heap buffers so
 * ASan sees any read past a feed's end. */
static void split_test(const char *req, size_t n, void (*check)(const http_msg *))
{
    for (size_t i = 0; i <= n; i++) {
        http_parser *p = http_parser_new(1, 1024);
        char *a = tern_malloc(i ? i : 1), *b = tern_malloc(n - i ? n - i : 1);
        memcpy(a, req, i);
        memcpy(b, req + i, n - i);
        size_t used = 0;
        int rc = http_parser_feed(p, a, i, &used);
        if (i < n) {
            assert_int_equal(rc, HTTP_NEED_MORE);
            assert_int_equal(used, i);
            rc = http_parser_feed(p, b, n - i, &used);
            assert_int_equal(rc, HTTP_COMPLETE);
            assert_int_equal(used, n - i);
        } else {
            assert_int_equal(rc, HTTP_COMPLETE);
            assert_int_equal(used, n);
        }
        check(http_parser_msg(p));
        tern_free(a);
        tern_free(b);
        http_parser_free(p);
    }
}

static void test_split_every_byte(void **state)
{
    (void)state;
    split_test(S(GET_REQ), check_get);
    split_test(S(POST_REQ), check_post);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    http_parser *p = http_parser_new(1, 1024);
    size_t n = sizeof POST_REQ - 1, used;
    for (size_t i = 0; i < n; i++) {
        char c = POST_REQ[i];
        int rc = http_parser_feed(p, &c, 1, &used);
        assert_int_equal(used, 1);
        assert_int_equal(rc, i + 1 == n ? HTTP_COMPLETE : HTTP_NEED_MORE);
    }
    check_post(http_parser_msg(p));
    http_parser_free(p);
}

static void test_pipelining(void **state)
{
    (void)state;
    char buf[1024];
    size_t n = 0;
    memcpy(buf + n, POST_REQ, sizeof POST_REQ - 1);
    n += sizeof POST_REQ - 1;
    memcpy(buf + n, GET_REQ, sizeof GET_REQ - 1);
    n += sizeof GET_REQ - 1;
    memcpy(buf + n, POST_REQ, sizeof POST_REQ - 1);
    n += sizeof POST_REQ - 1;
    memcpy(buf + n, "GET /par", 8); /* a partial fourth request */
    n += 8;

    http_parser *p = http_parser_new(1, 1024);
    size_t off = 0, used;
    assert_int_equal(http_parser_feed(p, buf + off, n - off, &used), HTTP_COMPLETE);
    assert_int_equal(used, sizeof POST_REQ - 1);
    check_post(http_parser_msg(p));
    /* Without http_parser_next the parser holds on to its message. */
    size_t none = 5;
    assert_int_equal(http_parser_feed(p, buf + off + used, n - off - used, &none), HTTP_COMPLETE);
    assert_int_equal(none, 0);
    off += used;
    http_parser_next(p);
    assert_int_equal(http_parser_feed(p, buf + off, n - off, &used), HTTP_COMPLETE);
    assert_int_equal(used, sizeof GET_REQ - 1);
    check_get(http_parser_msg(p));
    off += used;
    http_parser_next(p);
    assert_int_equal(http_parser_feed(p, buf + off, n - off, &used), HTTP_COMPLETE);
    assert_int_equal(used, sizeof POST_REQ - 1);
    check_post(http_parser_msg(p));
    off += used;
    http_parser_next(p);
    assert_int_equal(http_parser_feed(p, buf + off, n - off, &used), HTTP_NEED_MORE);
    assert_int_equal(used, 8);
    assert_int_equal(http_parser_feed(p, S("tial HTTP/1.1\r\n\r\n"), &used), HTTP_COMPLETE);
    assert_true(streq(http_parser_msg(p)->path, "/partial"));
    http_parser_free(p);
}

static void test_upgrade_with_trailing_bytes(void **state)
{
    (void)state;
    static const char head[] = "GET /ws HTTP/1.1\r\n"
                               "Host: example.com\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: keep-alive, Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n"
                               "\r\n";
    static const char frame[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    char buf[512];
    size_t hn = sizeof head - 1, n = hn + sizeof frame - 1;
    memcpy(buf, head, hn);
    memcpy(buf + hn, frame, sizeof frame - 1);
    for (size_t split = 0; split <= n; split++) {
        http_parser *p = http_parser_new(1, 0);
        size_t used = 0, total = 0;
        int rc = http_parser_feed(p, buf, split, &used);
        total += used;
        if (rc == HTTP_NEED_MORE) {
            assert_int_equal(used, split);
            rc = http_parser_feed(p, buf + split, n - split, &used);
            total += used;
        }
        assert_int_equal(rc, HTTP_COMPLETE);
        assert_int_equal(total, hn); /* the frame is left for the WebSocket reader */
        const http_msg *m = http_parser_msg(p);
        assert_int_equal(m->upgrade, 1);
        assert_int_equal(m->method, HTTP_M_GET);
        assert_true(http_header_has_token(http_header_get(m, "connection"), "upgrade"));
        assert_true(streq(http_header_get(m, "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ=="));
        http_parser_free(p);
    }
}

static void test_response_upgrade(void **state)
{
    (void)state;
    static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                               "\r\n"
                               "\x81\x02hi";
    size_t hn = sizeof resp - 1 - 4;
    http_parser *p = http_parser_new(0, 0);
    size_t used;
    assert_int_equal(http_parser_feed(p, S(resp), &used), HTTP_COMPLETE);
    assert_int_equal(used, hn);
    const http_msg *m = http_parser_msg(p);
    assert_int_equal(m->status, 101);
    assert_int_equal(m->upgrade, 1);
    assert_true(streq(http_header_get(m, "Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    http_parser_free(p);

    /* An ordinary response with a body, then a second one on the same connection. */
    static const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                              "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    p = http_parser_new(0, 100);
    assert_int_equal(http_parser_feed(p, S(two), &used), HTTP_COMPLETE);
    assert_int_equal(http_parser_msg(p)->status, 200);
    assert_memory_equal(http_parser_msg(p)->body.data, "ok", 2);
    size_t first = used;
    http_parser_next(p);
    assert_int_equal(http_parser_feed(p, two + first, sizeof two - 1 - first, &used), HTTP_COMPLETE);
    assert_int_equal(first + used, sizeof two - 1);
    assert_int_equal(http_parser_msg(p)->status, 404);
    http_parser_free(p);
}

static void test_chunked_body(void **state)
{
    (void)state;
    static const char req[] = "POST /upload HTTP/1.1\r\n"
                              "Host: x\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "5\r\nhello\r\n"
                              "6;ext=1\r\n world\r\n"
                              "0\r\n\r\n"
                              "GET / HTTP/1.1\r\n\r\n";
    size_t first = sizeof req - 1 - 18;
    for (size_t split = 0; split <= first; split++) {
        http_parser *p = http_parser_new(1, 64);
        size_t used, total = 0;
        int rc = http_parser_feed(p, req, split, &used);
        total += used;
        if (rc == HTTP_NEED_MORE) {
            rc = http_parser_feed(p, req + split, sizeof req - 1 - split, &used);
            total += used;
        }
        assert_int_equal(rc, HTTP_COMPLETE);
        assert_int_equal(total, first);
        const http_msg *m = http_parser_msg(p);
        assert_int_equal(m->body.len, 11);
        assert_memory_equal(m->body.data, "hello world", 11);
        http_parser_next(p);
        assert_int_equal(http_parser_feed(p, req + first, 18, &used), HTTP_COMPLETE);
        assert_int_equal(http_parser_msg(p)->body.len, 0);
        http_parser_free(p);
    }
}

static void test_body_limits(void **state)
{
    (void)state;
    size_t used;
    /* A declared Content-Length over the limit fails as soon as the head is complete. */
    http_parser *p = http_parser_new(1, 100);
    assert_int_equal(http_parser_feed(p, S("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), &used),
                     HTTP_ERR_BODY_TOO_LARGE);
    /* Errors are sticky. */
    assert_int_equal(http_parser_feed(p, S("x"), &used), HTTP_ERR_BODY_TOO_LARGE);
    http_parser_free(p);

    p = http_parser_new(1, 100);
    assert_int_equal(http_parser_feed(p, S("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n"), &used), HTTP_NEED_MORE);
    char body[100];
    memset(body, 'b', sizeof body);
    assert_int_equal(http_parser_feed(p, body, 100, &used), HTTP_COMPLETE);
    assert_int_equal(http_parser_msg(p)->body.len, 100);
    http_parser_free(p);

    /* Chunked bodies have no declared length: they fail when they cross the limit. */
    p = http_parser_new(1, 10);
    assert_int_equal(http_parser_feed(p,
                                      S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                        "8\r\n12345678\r\n"),
                                      &used),
                     HTTP_NEED_MORE);
    assert_int_equal(http_parser_feed(p, S("3\r\nabc\r\n0\r\n\r\n"), &used), HTTP_ERR_BODY_TOO_LARGE);
    http_parser_free(p);

    /* max_body 0: no body at all. */
    p = http_parser_new(1, 0);
    assert_int_equal(http_parser_feed(p, S("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"), &used),
                     HTTP_ERR_BODY_TOO_LARGE);
    http_parser_free(p);
    p = http_parser_new(1, 0);
    assert_int_equal(http_parser_feed(p, S("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), &used), HTTP_COMPLETE);
    http_parser_free(p);
}

static void test_head_limits(void **state)
{
    (void)state;
    size_t used;
    tern_buf b;
    tern_buf_init(&b, 0);

    /* A URL over the limit. */
    tern_buf_puts(&b, "GET /");
    for (int i = 0; i < HTTP_MAX_HEAD; i++)
        tern_buf_putc(&b, 'a');
    http_parser *p = http_parser_new(1, 0);
    assert_int_equal(http_parser_feed(p, b.data, b.len, &used), HTTP_ERR_HEAD_TOO_LARGE);
    http_parser_free(p);

    /* The same, fed in small pieces. */
    p = http_parser_new(1, 0);
    int rc = HTTP_NEED_MORE;
    for (size_t off = 0; off < b.len && rc == HTTP_NEED_MORE; off += 100)
        rc = http_parser_feed(p, b.data + off, b.len - off < 100 ? b.len - off : 100, &used);
    assert_int_equal(rc, HTTP_ERR_HEAD_TOO_LARGE);
    http_parser_free(p);

    /* Too many headers. */
    tern_buf_reset(&b);
    tern_buf_puts(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        tern_buf_printf(&b, "X-H%d: v\r\n", i);
    size_t at_max = b.len;
    tern_buf_puts(&b, "\r\n");
    p = http_parser_new(1, 0);
    assert_int_equal(http_parser_feed(p, b.data, b.len, &used), HTTP_COMPLETE);
    assert_int_equal(http_parser_msg(p)->nheaders, HTTP_MAX_HEADERS);
    assert_true(streq(http_parser_msg(p)->headers[HTTP_MAX_HEADERS - 1].name, "X-H47"));
    http_parser_free(p);
    b.len = at_max;
    tern_buf_puts(&b, "X-One-Too-Many: v\r\n\r\n");
    p = http_parser_new(1, 0);
    assert_int_equal(http_parser_feed(p, b.data, b.len, &used), HTTP_ERR_HEAD_TOO_LARGE);
    http_parser_free(p);

    /* Bytes llhttp does not hand to callbacks (whitespace) count towards the head too. */
    tern_buf_reset(&b);
    tern_buf_puts(&b, "GET / HTTP/1.1\r\nX-Pad:");
    for (int i = 0; i < HTTP_MAX_HEAD; i++)
        tern_buf_putc(&b, ' ');
    tern_buf_puts(&b, "v\r\n\r\n");
    p = http_parser_new(1, 0);
    assert_int_equal(http_parser_feed(p, b.data, b.len, &used), HTTP_ERR_HEAD_TOO_LARGE);
    http_parser_free(p);

    /* A head just under the limit is fine, and the body after it is not counted. */
    tern_buf_reset(&b);
    tern_buf_puts(&b, "POST / HTTP/1.1\r\nContent-Length: 5000\r\nX-Fill: ");
    while (b.len < HTTP_MAX_HEAD - 4)
        tern_buf_putc(&b, 'f');
    tern_buf_puts(&b, "\r\n\r\n");
    assert_int_equal(b.len, HTTP_MAX_HEAD);
    for (int i = 0; i < 5000; i++)
        tern_buf_putc(&b, 'B');
    p = http_parser_new(1, 5000);
    assert_int_equal(http_parser_feed(p, b.data, b.len, &used), HTTP_COMPLETE);
    assert_int_equal(used, b.len);
    assert_int_equal(http_parser_msg(p)->body.len, 5000);
    http_parser_free(p);
    tern_buf_free(&b);
}

static void test_parse_errors_and_next(void **state)
{
    (void)state;
    size_t used;
    http_parser *p = http_parser_new(1, 100);
    assert_int_equal(http_parser_feed(p, S("GARBAGE\r\n\r\n"), &used), HTTP_ERR_PARSE);
    assert_int_equal(http_parser_feed(p, S(GET_REQ), &used), HTTP_ERR_PARSE); /* sticky */
    http_parser_next(p);                                                      /* starts over */
    assert_int_equal(http_parser_feed(p, S(GET_REQ), &used), HTTP_COMPLETE);
    check_get(http_parser_msg(p));
    http_parser_free(p);

    static const char *bad[] = {
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n", /* space before colon */
        "GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = http_parser_new(1, 100);
        int rc = http_parser_feed(p, bad[i], strlen(bad[i]), &used);
        if (rc != HTTP_ERR_PARSE)
            fail_msg("bad request #%zu gave %d", i, rc);
        http_parser_free(p);
    }
}

static void test_keep_alive(void **state)
{
    (void)state;
    size_t used;
    http_parser *p = http_parser_new(1, 100);
    assert_int_equal(http_parser_feed(p, S("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), &used), HTTP_COMPLETE);
    assert_int_equal(http_parser_msg(p)->keep_alive, 0);
    http_parser_free(p);
    p = http_parser_new(1, 100);
    assert_int_equal(http_parser_feed(p, S("GET / HTTP/1.0\r\n\r\n"), &used), HTTP_COMPLETE);
    assert_int_equal(http_parser_msg(p)->keep_alive, 0);
    http_parser_next(p);
    /* Nothing may follow a message that ended the connection. */
    assert_int_equal(http_parser_feed(p, S("GET / HTTP/1.1\r\n\r\n"), &used), HTTP_ERR_PARSE);
    http_parser_free(p);
    p = http_parser_new(1, 100);
    assert_int_equal(http_parser_feed(p, S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), &used), HTTP_COMPLETE);
    assert_int_equal(http_parser_msg(p)->keep_alive, 1);
    http_parser_next(p);
    assert_int_equal(http_parser_feed(p, S("GET /2 HTTP/1.0\r\n\r\n"), &used), HTTP_COMPLETE);
    assert_true(streq(http_parser_msg(p)->path, "/2"));
    http_parser_free(p);
}

static void test_header_has_token(void **state)
{
    (void)state;
    assert_true(http_header_has_token((tern_str){S("Upgrade")}, "upgrade"));
    assert_true(http_header_has_token((tern_str){S("keep-alive, Upgrade")}, "upgrade"));
    assert_true(http_header_has_token((tern_str){S("  a ,\tUPGRADE\t, b")}, "upgrade"));
    assert_false(http_header_has_token((tern_str){S("upgrades")}, "upgrade"));
    assert_false(http_header_has_token((tern_str){S("keep-alive")}, "upgrade"));
    assert_false(http_header_has_token((tern_str){S("")}, "upgrade"));
    assert_false(http_header_has_token((tern_str){NULL, 0}, "upgrade"));
    assert_true(http_header_has_token((tern_str){S("x,,upgrade,")}, "upgrade"));
    /* Only value.n bytes are looked at. */
    assert_false(http_header_has_token((tern_str){"upgrade", 6}, "upgrade"));
}

static void test_write_head(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 0);
    assert_int_equal(http_write_head(&b, 200, "application/json", 27, 1, NULL), 0);
    assert_string_equal(b.data, "HTTP/1.1 200 OK\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: 27\r\n"
                                "Connection: keep-alive\r\n"
                                "\r\n");
    tern_buf_reset(&b);
    assert_int_equal(http_write_head(&b, 413, "text/plain", 0, 0, "Retry-After: 1\r\n"), 0);
    assert_string_equal(b.data, "HTTP/1.1 413 Payload Too Large\r\n"
                                "Content-Type: text/plain\r\n"
                                "Content-Length: 0\r\n"
                                "Connection: close\r\n"
                                "Retry-After: 1\r\n"
                                "\r\n");
    tern_buf_free(&b);
    assert_string_equal(http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(http_status_text(404), "Not Found");
    assert_string_equal(http_status_text(101), "Switching Protocols");
    tern_buf small;
    tern_buf_init(&small, 20);
    assert_int_equal(http_write_head(&small, 200, "text/plain", 0, 1, NULL), -1);
    tern_buf_free(&small);
}

static void test_url_decode(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(http_url_decode(S("%41%42c"), out, sizeof out), 3);
    assert_string_equal(out, "ABc");
    assert_int_equal(http_url_decode(S("a+b%2Bc%2fd"), out, sizeof out), 7);
    assert_string_equal(out, "a+b+c/d");
    assert_int_equal(http_url_decode(S("%e4%BD%a0"), out, sizeof out), 3);
    assert_string_equal(out, "\xe4\xbd\xa0");
    /* An escaped NUL would cut the value short for every C-string reader. */
    assert_int_equal(http_url_decode(S("a%00b"), out, sizeof out), -1);
    assert_int_equal(http_url_decode(S(""), out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(http_url_decode(S("%"), out, sizeof out), -1);
    assert_int_equal(http_url_decode(S("%4"), out, sizeof out), -1);
    assert_int_equal(http_url_decode(S("%zz"), out, sizeof out), -1);
    assert_int_equal(http_url_decode(S("%g0"), out, sizeof out), -1);
    assert_int_equal(http_url_decode("%41", 2, out, sizeof out), -1); /* escape cut by n */
    assert_int_equal(http_url_decode(S("abcd"), out, 4), -1);         /* no room for NUL */
    assert_int_equal(http_url_decode(S("abcd"), out, 5), 4);
    assert_int_equal(http_url_decode(S("%41%41%41"), out, 4), 3);
    assert_int_equal(http_url_decode(S("x"), out, 0), -1);
}

static void test_query_get(void **state)
{
    (void)state;
    tern_str q = {S("limit=10&q=hello%20world&flag&empty=&ab=1&a=2&bad=%zz")};
    char out[32];
    assert_int_equal(http_query_get(q, "limit", out, sizeof out), 2);
    assert_string_equal(out, "10");
    assert_int_equal(http_query_get(q, "q", out, sizeof out), 11);
    assert_string_equal(out, "hello world");
    assert_int_equal(http_query_get(q, "flag", out, sizeof out), 0);
    assert_int_equal(http_query_get(q, "empty", out, sizeof out), 0);
    assert_int_equal(http_query_get(q, "a", out, sizeof out), 1);
    assert_string_equal(out, "2");
    assert_int_equal(http_query_get(q, "missing", out, sizeof out), -1);
    assert_int_equal(http_query_get(q, "bad", out, sizeof out), -2); /* present, undecodable */
    assert_int_equal(http_query_get(q, "q", out, 5), -2);            /* too small */
    tern_str nul = {S("u=a%00b")};
    assert_int_equal(http_query_get(nul, "u", out, sizeof out), -2);
    assert_int_equal(http_query_get((tern_str){NULL, 0}, "a", out, sizeof out), -1);
    /* The slice ends where n says, not at a NUL. */
    tern_str cut = {"a=12345", 4};
    assert_int_equal(http_query_get(cut, "a", out, sizeof out), 2);
    assert_string_equal(out, "12");
    /* From a parsed request. */
    http_parser *p = http_parser_new(1, 0);
    size_t used;
    assert_int_equal(http_parser_feed(p, S(GET_REQ), &used), HTTP_COMPLETE);
    assert_int_equal(http_query_get(http_parser_msg(p)->query, "q", out, sizeof out), 3);
    assert_string_equal(out, "a b");
    http_parser_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_split_every_byte),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_upgrade_with_trailing_bytes),
        cmocka_unit_test(test_response_upgrade),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_head_limits),
        cmocka_unit_test(test_parse_errors_and_next),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_header_has_token),
        cmocka_unit_test(test_write_head),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_query_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
