/* test_ws.c — unit tests for core/ws.c: header codec, masking, the incremental reader
 * (every split point, fragmentation with interleaved control frames, masking rules,
 * size limits, UTF-8), the handshake key (RFC 6455 §1.3 example) and the upgrade
 * request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/ws.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* ---- a recording callback ---- */

#define MAX_MSGS 32

typedef struct rec {
    int n;
    unsigned op[MAX_MSGS];
    size_t len[MAX_MSGS];
    uint8_t *data[MAX_MSGS];
    const uint8_t *ptr[MAX_MSGS]; /* where the codec delivered it from */
    int stop_at;                  /* return non-zero on this message (1-based), 0 = never */
} rec;

static int rec_cb(void *ud, unsigned opcode, uint8_t *data, size_t len)
{
    rec *r = ud;
    assert_true(r->n < MAX_MSGS);
    assert_non_null(data);
    r->op[r->n] = opcode;
    r->len[r->n] = len;
    r->ptr[r->n] = data;
    r->data[r->n] = tern_malloc(len + 1);
    memcpy(r->data[r->n], data, len);
    r->n++;
    return r->stop_at && r->n == r->stop_at;
}

static void rec_free(rec *r)
{
    for (int i = 0; i < r->n; i++)
        tern_free(r->data[i]);
    memset(r, 0, sizeof *r);
}

static void frame(tern_buf *out, unsigned op, int fin, const void *p, size_t n, const uint8_t *mask)
{
    uint8_t h[WS_MAX_HEADER];
    size_t hl = ws_encode_header(h, op, fin, n, mask);
    size_t at = out->len;
    assert_int_equal(tern_buf_append(out, h, hl), 0);
    assert_int_equal(tern_buf_append(out, p, n), 0);
    if (mask)
        ws_apply_mask((uint8_t *)out->data + at + hl, n, mask, 0);
}

/* Feeds a copy of data[0..n) (the reader unmasks in place) and returns the result. */
static int feed_copy(ws_reader *r, const void *data, size_t n, rec *rc)
{
    uint8_t *copy = tern_malloc(n ? n : 1);
    memcpy(copy, data, n);
    int res = ws_reader_feed(r, copy, n, rec_cb, rc);
    tern_free(copy);
    return res;
}

/* ---- header codec and masking ---- */

static void test_header_roundtrip(void **state)
{
    (void)state;
    static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1u << 20, (UINT64_C(1) << 63) - 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int m = 0; m < 2; m++) {
            uint8_t h[WS_MAX_HEADER];
            size_t hl = ws_encode_header(h, WS_OP_BINARY, 1, lens[i], m ? MASK : NULL);
            size_t want = 2 + (lens[i] < 126 ? 0 : lens[i] <= 65535 ? 2 : 8) + (m ? 4 : 0);
            assert_int_equal(hl, want);
            ws_frame_hdr fh;
            /* Incomplete at every shorter length. */
            for (size_t k = 0; k < hl; k++)
                assert_int_equal(ws_parse_header(h, k, &fh), 0);
            assert_int_equal(ws_parse_header(h, hl, &fh), (int)hl);
            assert_int_equal(fh.fin, 1);
            assert_int_equal(fh.opcode, WS_OP_BINARY);
            assert_int_equal(fh.masked, m);
            assert_true(fh.len == lens[i]);
            assert_int_equal(fh.hdr_len, hl);
            if (m)
                assert_memory_equal(fh.mask, MASK, 4);
        }
    }
    uint8_t h[WS_MAX_HEADER];
    ws_frame_hdr fh;
    ws_encode_header(h, WS_OP_TEXT, 0, 5, NULL);
    assert_int_equal(ws_parse_header(h, 2, &fh), 2);
    assert_int_equal(fh.fin, 0);
    assert_int_equal(h[0], 0x01);
    assert_int_equal(h[1], 0x05);
}

static void test_header_errors(void **state)
{
    (void)state;
    ws_frame_hdr fh;
    const uint8_t rsv1[] = {0xC1, 0x00}, rsv2[] = {0xA1, 0x00}, rsv3[] = {0x91, 0x00};
    assert_int_equal(ws_parse_header(rsv1, 2, &fh), -1);
    assert_int_equal(ws_parse_header(rsv2, 2, &fh), -1);
    assert_int_equal(ws_parse_header(rsv3, 2, &fh), -1);
    for (unsigned op = 0; op < 16; op++) {
        const uint8_t b[] = {(uint8_t)(0x80 | op), 0x00};
        int known = op <= 2 || (op >= 8 && op <= 10);
        assert_int_equal(ws_parse_header(b, 2, &fh), known ? 2 : -1);
    }
    const uint8_t ping_nofin[] = {0x09, 0x00};
    assert_int_equal(ws_parse_header(ping_nofin, 2, &fh), -1);
    const uint8_t ping_126[] = {0x89, 126, 0x00, 0x7e};
    assert_int_equal(ws_parse_header(ping_126, 4, &fh), -1);
    assert_int_equal(ws_parse_header(ping_126, 2, &fh), -1); /* detectable early */
    const uint8_t close_125[] = {0x88, 125};
    assert_int_equal(ws_parse_header(close_125, 2, &fh), 2);
    const uint8_t top_bit[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(ws_parse_header(top_bit, sizeof top_bit, &fh), -1);
}

static void test_apply_mask(void **state)
{
    (void)state;
    uint8_t buf[100], ref[100];
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n < 40; n++) {
            for (size_t i = 0; i < n; i++)
                buf[i] = ref[i] = (uint8_t)(i * 7 + n);
            ws_apply_mask(buf, n, MASK, off);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(buf[i], (uint8_t)(ref[i] ^ MASK[(off + i) % 4]));
            ws_apply_mask(buf, n, MASK, off);
            assert_memory_equal(buf, ref, n);
        }
    }
    /* Masking in two pieces with the right offset equals masking at once. */
    uint8_t a[37], b[37];
    for (int i = 0; i < 37; i++)
        a[i] = b[i] = (uint8_t)i;
    ws_apply_mask(a, 37, MASK, 0);
    ws_apply_mask(b, 13, MASK, 0);
    ws_apply_mask(b + 13, 24, MASK, 13);
    assert_memory_equal(a, b, 37);
}

static void test_append_frame(void **state)
{
    (void)state;
    tern_buf out;
    tern_buf_init(&out, 0);
    assert_int_equal(ws_append_frame(&out, WS_OP_TEXT, "Hello", 5, NULL), 0);
    /* RFC 6455 §5.7: a single-frame unmasked text message. */
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.data, "\x81\x05\x48\x65\x6c\x6c\x6f", 7);
    tern_buf_reset(&out);
    /* RFC 6455 §5.7: a single-frame masked text message. */
    const uint8_t m[4] = {0x37, 0xfa, 0x21, 0x3d};
    assert_int_equal(ws_append_frame(&out, WS_OP_TEXT, "Hello", 5, m), 0);
    assert_memory_equal(out.data, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    tern_buf_free(&out);

    tern_buf small;
    tern_buf_init(&small, 8);
    assert_int_equal(ws_append_frame(&small, WS_OP_BINARY, "0123456789", 10, NULL), -1);
    assert_int_equal(small.len, 0);
    tern_buf_free(&small);
}

/* ---- handshake ---- */

static void test_accept_key(void **state)
{
    (void)state;
    char out[29];
    const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    assert_int_equal(ws_accept_key(key, sizeof key - 1, out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_accept_key(key, 0, out), -1);
    char long_key[65];
    memset(long_key, 'a', sizeof long_key);
    assert_int_equal(ws_accept_key(long_key, 64, out), 0);
    assert_int_equal(ws_accept_key(long_key, 65, out), -1);
}

static void test_make_key(void **state)
{
    (void)state;
    char a[25], b[25];
    ws_make_key(a);
    ws_make_key(b);
    assert_int_equal(strlen(a), 24);
    assert_string_not_equal(a, b);
    assert_int_equal(a[22], '=');
    assert_int_equal(a[23], '=');
    for (int i = 0; i < 22; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", a[i]));
    char acc[29];
    assert_int_equal(ws_accept_key(a, 24, acc), 0);
}

static void test_client_request(void **state)
{
    (void)state;
    tern_buf out;
    tern_buf_init(&out, 0);
    assert_int_equal(ws_client_request(&out, "chat.example:8080", "/ws?x=1", "dGhlIHNhbXBsZSBub25jZQ==", NULL), 0);
    assert_string_equal(out.data, "GET /ws?x=1 HTTP/1.1\r\n"
                                  "Host: chat.example:8080\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n");
    tern_buf_reset(&out);
    assert_int_equal(ws_client_request(&out, "h", "/", "k", "tern.v1"), 0);
    assert_non_null(strstr(out.data, "\r\nSec-WebSocket-Protocol: tern.v1\r\n\r\n"));
    assert_int_equal(memcmp(out.data + out.len - 4, "\r\n\r\n", 4), 0);
    tern_buf_reset(&out);
    /* Header injection is refused. */
    assert_int_equal(ws_client_request(&out, "h\r\nX: y", "/", "k", NULL), -1);
    assert_int_equal(ws_client_request(&out, "h", "/\r\n", "k", NULL), -1);
    assert_int_equal(ws_client_request(&out, "h", "/", "k", "p\n"), -1);
    tern_buf_free(&out);
}

/* ---- reader ---- */

/* A client-to-server stream: text, binary, ping, a fragmented text message with a ping
 * between its fragments (and a UTF-8 character split across them), an empty text,
 * a 300-byte binary (16-bit length), and a close. */
static void build_stream(tern_buf *s, const uint8_t *mask)
{
    uint8_t big[300];
    for (int i = 0; i < 300; i++)
        big[i] = (uint8_t)(i * 13);
    frame(s, WS_OP_TEXT, 1, "hello", 5, mask);
    frame(s, WS_OP_BINARY, 1, "\x00\x01\x02", 3, mask);
    frame(s, WS_OP_PING, 1, "p1", 2, mask);
    frame(s, WS_OP_TEXT, 0, "caf\xc3", 4, mask);
    frame(s, WS_OP_PING, 1, "", 0, mask);
    frame(s, WS_OP_CONT, 0, "\xa9 ", 2, mask);
    frame(s, WS_OP_PONG, 1, "pp", 2, mask);
    frame(s, WS_OP_CONT, 1, "ok", 2, mask);
    frame(s, WS_OP_TEXT, 1, "", 0, mask);
    frame(s, WS_OP_BINARY, 1, big, sizeof big, mask);
    frame(s, WS_OP_CLOSE, 1,
          "\x03\xe8"
          "bye",
          5, mask);
}

static void check_stream(const rec *r)
{
    assert_int_equal(r->n, 9);
    assert_int_equal(r->op[0], WS_OP_TEXT);
    assert_int_equal(r->len[0], 5);
    assert_memory_equal(r->data[0], "hello", 5);
    assert_int_equal(r->op[1], WS_OP_BINARY);
    assert_memory_equal(r->data[1], "\x00\x01\x02", 3);
    assert_int_equal(r->op[2], WS_OP_PING);
    assert_memory_equal(r->data[2], "p1", 2);
    assert_int_equal(r->op[3], WS_OP_PING);
    assert_int_equal(r->len[3], 0);
    assert_int_equal(r->op[4], WS_OP_PONG);
    assert_int_equal(r->op[5], WS_OP_TEXT);
    assert_int_equal(r->len[5], 8);
    assert_memory_equal(r->data[5], "caf\xc3\xa9 ok", 8);
    assert_int_equal(r->op[6], WS_OP_TEXT);
    assert_int_equal(r->len[6], 0);
    assert_int_equal(r->op[7], WS_OP_BINARY);
    assert_int_equal(r->len[7], 300);
    for (int i = 0; i < 300; i++)
        assert_int_equal(r->data[7][i], (uint8_t)(i * 13));
    assert_int_equal(r->op[8], WS_OP_CLOSE);
    assert_memory_equal(r->data[8],
                        "\x03\xe8"
                        "bye",
                        5);
}

static void test_reader_whole_stream_zero_copy(void **state)
{
    (void)state;
    tern_buf s;
    tern_buf_init(&s, 0);
    build_stream(&s, MASK);
    ws_reader r;
    ws_reader_init(&r, 1, 1000);
    rec rc = {0};
    assert_int_equal(ws_reader_feed(&r, (uint8_t *)s.data, s.len, rec_cb, &rc), 0);
    check_stream(&rc);
    /* Unfragmented messages are delivered from the input buffer itself. */
    for (int i = 0; i < rc.n; i++) {
        if (i == 5)
            continue; /* the reassembled one */
        assert_true(rc.ptr[i] >= (const uint8_t *)s.data && rc.ptr[i] <= (const uint8_t *)s.data + s.len);
    }
    /* Idle: no buffer held. */
    assert_null(r.pend.data);
    assert_null(r.frag.data);
    assert_int_equal(r.frag_op, 0);
    ws_reader_free(&r);
    rec_free(&rc);
    tern_buf_free(&s);
}

static void test_reader_every_split(void **state)
{
    (void)state;
    tern_buf s;
    tern_buf_init(&s, 0);
    build_stream(&s, MASK);
    for (size_t i = 0; i <= s.len; i++) {
        ws_reader r;
        ws_reader_init(&r, 1, 1000);
        rec rc = {0};
        assert_int_equal(feed_copy(&r, s.data, i, &rc), 0);
        assert_int_equal(feed_copy(&r, s.data + i, s.len - i, &rc), 0);
        check_stream(&rc);
        assert_null(r.pend.data);
        ws_reader_free(&r);
        rec_free(&rc);
    }
    tern_buf_free(&s);
}

static void test_reader_every_two_splits(void **state)
{
    (void)state;
    tern_buf s;
    tern_buf_init(&s, 0);
    build_stream(&s, MASK);
    /* Only the first 60 bytes (the frames before the big one) keep this quadratic loop
     * fast; the three-piece feeds cover pend being completed and re-filled. */
    size_t lim = 60;
    for (size_t i = 0; i <= lim; i++) {
        for (size_t j = i; j <= lim; j++) {
            ws_reader r;
            ws_reader_init(&r, 1, 1000);
            rec rc = {0};
            assert_int_equal(feed_copy(&r, s.data, i, &rc), 0);
            assert_int_equal(feed_copy(&r, s.data + i, j - i, &rc), 0);
            assert_int_equal(feed_copy(&r, s.data + j, s.len - j, &rc), 0);
            check_stream(&rc);
            ws_reader_free(&r);
            rec_free(&rc);
        }
    }
    tern_buf_free(&s);
}

static void test_reader_byte_by_byte_client(void **state)
{
    (void)state;
    tern_buf s;
    tern_buf_init(&s, 0);
    build_stream(&s, NULL); /* server-to-client frames are unmasked */
    ws_reader r;
    ws_reader_init(&r, 0, 1000);
    rec rc = {0};
    for (size_t i = 0; i < s.len; i++)
        assert_int_equal(feed_copy(&r, s.data + i, 1, &rc), 0);
    check_stream(&rc);
    assert_null(r.pend.data);
    ws_reader_free(&r);
    rec_free(&rc);
    tern_buf_free(&s);
}

static void test_reader_pend_holds_only_tail(void **state)
{
    (void)state;
    tern_buf s;
    tern_buf_init(&s, 0);
    frame(&s, WS_OP_TEXT, 1, "first", 5, MASK);
    size_t first = s.len;
    uint8_t payload[200];
    memset(payload, 'x', sizeof payload);
    frame(&s, WS_OP_BINARY, 1, payload, sizeof payload, MASK);
    ws_reader r;
    ws_reader_init(&r, 1, 1000);
    rec rc = {0};
    size_t cut = first + 50;
    assert_int_equal(feed_copy(&r, s.data, cut, &rc), 0);
    assert_int_equal(rc.n, 1);
    assert_int_equal(r.pend.len, 50); /* only the incomplete frame was copied */
    assert_int_equal(feed_copy(&r, s.data + cut, s.len - cut, &rc), 0);
    assert_int_equal(rc.n, 2);
    assert_int_equal(rc.len[1], 200);
    assert_memory_equal(rc.data[1], payload, 200);
    assert_null(r.pend.data);
    ws_reader_free(&r);

    /* Memory follows the bytes received, not the length a peer declares. */
    uint8_t h[WS_MAX_HEADER + 10];
    size_t hl = ws_encode_header(h, WS_OP_BINARY, 1, 50000, MASK);
    memset(h + hl, 'y', 10);
    ws_reader_init(&r, 1, 100000);
    assert_int_equal(feed_copy(&r, h, hl + 10, &rc), 0);
    assert_int_equal(r.pend.len, hl + 10);
    assert_true(r.pend.cap < 1000);
    ws_reader_free(&r);
    rec_free(&rc);
    tern_buf_free(&s);
}

static void test_reader_64bit_length(void **state)
{
    (void)state;
    size_t n = 70000;
    uint8_t *payload = tern_malloc(n);
    for (size_t i = 0; i < n; i++)
        payload[i] = (uint8_t)(i >> 3);
    tern_buf s;
    tern_buf_init(&s, 0);
    frame(&s, WS_OP_BINARY, 1, payload, n, MASK);
    assert_int_equal(s.len, n + 14);
    ws_reader r;
    ws_reader_init(&r, 1, 100000);
    rec rc = {0};
    /* In uneven pieces, so pend is completed across several feeds. */
    size_t off = 0, step = 1;
    while (off < s.len) {
        size_t k = step < s.len - off ? step : s.len - off;
        assert_int_equal(feed_copy(&r, s.data + off, k, &rc), 0);
        off += k;
        step = step * 3 + 1;
    }
    assert_int_equal(rc.n, 1);
    assert_int_equal(rc.len[0], n);
    assert_memory_equal(rc.data[0], payload, n);
    ws_reader_free(&r);
    rec_free(&rc);
    tern_buf_free(&s);
    tern_free(payload);
}

static void test_reader_masking_rules(void **state)
{
    (void)state;
    tern_buf s;
    tern_buf_init(&s, 0);
    rec rc = {0};
    ws_reader r;

    frame(&s, WS_OP_TEXT, 1, "hi", 2, NULL);
    ws_reader_init(&r, 1, 100); /* server: unmasked from a client is an error */
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_PROTOCOL);
    assert_int_equal(rc.n, 0);
    ws_reader_free(&r);
    ws_reader_init(&r, 0, 100); /* client: unmasked is right */
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), 0);
    assert_int_equal(rc.n, 1);
    ws_reader_free(&r);
    rec_free(&rc);

    tern_buf_reset(&s);
    frame(&s, WS_OP_PING, 1, "hi", 2, MASK);
    ws_reader_init(&r, 0, 100); /* client: masked from the server is an error */
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_PROTOCOL);
    ws_reader_free(&r);
    /* Also when the header arrives split. */
    ws_reader_init(&r, 0, 100);
    assert_int_equal(feed_copy(&r, s.data, 1, &rc), 0);
    assert_int_equal(feed_copy(&r, s.data + 1, s.len - 1, &rc), WS_CLOSE_PROTOCOL);
    assert_int_equal(rc.n, 0);
    ws_reader_free(&r);
    tern_buf_free(&s);
}

static void test_reader_too_big(void **state)
{
    (void)state;
    ws_reader r;
    rec rc = {0};
    /* A header declaring 1 MiB is refused on sight, before any payload is buffered. */
    uint8_t h[WS_MAX_HEADER];
    size_t hl = ws_encode_header(h, WS_OP_BINARY, 1, 1 << 20, MASK);
    ws_reader_init(&r, 1, 1000);
    size_t before = tern_mem_used();
    assert_int_equal(feed_copy(&r, h, hl, &rc), WS_CLOSE_TOO_BIG);
    assert_int_equal(tern_mem_used(), before);
    ws_reader_free(&r);
    /* Same with the header split: at most the header bytes are held. */
    ws_reader_init(&r, 1, 1000);
    assert_int_equal(feed_copy(&r, h, 3, &rc), 0);
    assert_true(r.pend.len == 3);
    assert_int_equal(feed_copy(&r, h + 3, hl - 3, &rc), WS_CLOSE_TOO_BIG);
    assert_null(r.pend.data); /* dropped on error */
    ws_reader_free(&r);
    /* Huge 64-bit length. */
    hl = ws_encode_header(h, WS_OP_TEXT, 1, (UINT64_C(1) << 63) - 1, MASK);
    ws_reader_init(&r, 1, 1000);
    assert_int_equal(feed_copy(&r, h, hl, &rc), WS_CLOSE_TOO_BIG);
    ws_reader_free(&r);

    /* Exactly max_msg is fine, one more is not. */
    tern_buf s;
    tern_buf_init(&s, 0);
    uint8_t p[101];
    memset(p, 'a', sizeof p);
    frame(&s, WS_OP_TEXT, 1, p, 100, MASK);
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), 0);
    assert_int_equal(rc.n, 1);
    tern_buf_reset(&s);
    frame(&s, WS_OP_TEXT, 1, p, 101, MASK);
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_TOO_BIG);
    ws_reader_free(&r);

    /* Control frames may carry 125 bytes even when max_msg is smaller, split or not
     * (found by fuzz_ws). */
    tern_buf_reset(&s);
    frame(&s, WS_OP_PING, 1, p, 100, MASK);
    for (size_t cut = 0; cut <= s.len; cut++) {
        ws_reader_init(&r, 1, 10);
        rec pr = {0};
        assert_int_equal(feed_copy(&r, s.data, cut, &pr), 0);
        assert_int_equal(feed_copy(&r, s.data + cut, s.len - cut, &pr), 0);
        assert_int_equal(pr.n, 1);
        assert_int_equal(pr.len[0], 100);
        ws_reader_free(&r);
        rec_free(&pr);
    }

    /* Fragments that add up to more than max_msg. */
    tern_buf_reset(&s);
    frame(&s, WS_OP_TEXT, 0, p, 60, MASK);
    frame(&s, WS_OP_CONT, 0, p, 40, MASK);
    size_t ok_len = s.len;
    frame(&s, WS_OP_CONT, 1, p, 1, MASK);
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, s.data, ok_len, &rc), 0);
    assert_int_equal(r.frag.len, 100);
    assert_int_equal(feed_copy(&r, s.data + ok_len, s.len - ok_len, &rc), WS_CLOSE_TOO_BIG);
    assert_null(r.frag.data);
    ws_reader_free(&r);
    tern_buf_free(&s);
    rec_free(&rc);
}

static void test_reader_bad_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xc0\xaf",                     /* overlong '/' */
        "\xe0\x80\xaf",                 /* overlong '/' */
        "\xed\xa0\x80",                 /* surrogate U+D800 */
        "\xf4\x90\x80\x80",             /* above U+10FFFF */
        "ok\xff",           "\xe4\xbd", /* truncated at the end of the message */
    };
    ws_reader r;
    rec rc = {0};
    tern_buf s;
    tern_buf_init(&s, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tern_buf_reset(&s);
        frame(&s, WS_OP_TEXT, 1, bad[i], strlen(bad[i]), MASK);
        ws_reader_init(&r, 1, 100);
        assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_BAD_DATA);
        ws_reader_free(&r);
        /* Fragmented: split after the first byte. */
        tern_buf_reset(&s);
        frame(&s, WS_OP_TEXT, 0, bad[i], 1, MASK);
        frame(&s, WS_OP_CONT, 1, bad[i] + 1, strlen(bad[i]) - 1, MASK);
        ws_reader_init(&r, 1, 100);
        assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_BAD_DATA);
        assert_null(r.frag.data);
        ws_reader_free(&r);
        /* The same bytes as BINARY are fine. */
        tern_buf_reset(&s);
        frame(&s, WS_OP_BINARY, 1, bad[i], strlen(bad[i]), MASK);
        ws_reader_init(&r, 1, 100);
        assert_int_equal(feed_copy(&r, s.data, s.len, &rc), 0);
        ws_reader_free(&r);
    }
    assert_int_equal(rc.n, 6); /* only the binary ones */
    /* A close frame's reason must be UTF-8 too, and its code valid. */
    tern_buf_reset(&s);
    frame(&s, WS_OP_CLOSE, 1, "\x03\xe8\xc0\xaf", 4, MASK);
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_BAD_DATA);
    ws_reader_free(&r);
    tern_buf_reset(&s);
    frame(&s, WS_OP_CLOSE, 1, "\x03", 1, MASK);
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_PROTOCOL);
    ws_reader_free(&r);
    tern_buf_reset(&s);
    frame(&s, WS_OP_CLOSE, 1, "\x03\xed", 2, MASK); /* 1005 must not be sent */
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_PROTOCOL);
    ws_reader_free(&r);
    tern_buf_reset(&s);
    frame(&s, WS_OP_CLOSE, 1, "\x0f\xa1", 2, MASK); /* 4001 is an application code */
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), 0);
    ws_reader_free(&r);
    tern_buf_free(&s);
    rec_free(&rc);
}

static void test_reader_fragment_state_errors(void **state)
{
    (void)state;
    ws_reader r;
    rec rc = {0};
    tern_buf s;
    tern_buf_init(&s, 0);
    /* A continuation with nothing to continue. */
    frame(&s, WS_OP_CONT, 1, "x", 1, MASK);
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_PROTOCOL);
    ws_reader_free(&r);
    /* A new data message while a fragmented one is open. */
    static const unsigned second[] = {WS_OP_TEXT, WS_OP_BINARY};
    for (int i = 0; i < 2; i++) {
        tern_buf_reset(&s);
        frame(&s, WS_OP_BINARY, 0, "ab", 2, MASK);
        frame(&s, second[i], 1, "cd", 2, MASK);
        ws_reader_init(&r, 1, 100);
        assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_PROTOCOL);
        assert_int_equal(rc.n, 0);
        assert_null(r.frag.data);
        ws_reader_free(&r);
    }
    /* Bad framing in the middle of a stream. */
    tern_buf_reset(&s);
    frame(&s, WS_OP_TEXT, 1, "ok", 2, MASK);
    const uint8_t rsv[] = {0xC1, 0x80, 1, 2, 3, 4};
    tern_buf_append(&s, rsv, sizeof rsv);
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, s.data, s.len, &rc), WS_CLOSE_PROTOCOL);
    assert_int_equal(rc.n, 1);
    ws_reader_free(&r);
    /* Bad bits are caught once two header bytes are in, even if they came in two feeds
     * and the rest of the header has not arrived (found by fuzz_ws). */
    ws_reader_init(&r, 1, 100);
    assert_int_equal(feed_copy(&r, "\x79", 1, &rc), 0);
    assert_int_equal(feed_copy(&r, "\x88\x03", 2, &rc), WS_CLOSE_PROTOCOL);
    ws_reader_free(&r);
    tern_buf_free(&s);
    rec_free(&rc);
}

static void test_reader_stop(void **state)
{
    (void)state;
    tern_buf s;
    tern_buf_init(&s, 0);
    build_stream(&s, MASK);
    for (int stop = 1; stop <= 9; stop++) {
        for (size_t cut = 0; cut < s.len; cut += 7) {
            ws_reader r;
            ws_reader_init(&r, 1, 1000);
            rec rc = {0};
            rc.stop_at = stop;
            int a = feed_copy(&r, s.data, cut, &rc);
            int b = a == WS_STOP ? WS_STOP : feed_copy(&r, s.data + cut, s.len - cut, &rc);
            assert_int_equal(a == WS_STOP || b == WS_STOP, 1);
            assert_int_equal(rc.n, stop);
            ws_reader_free(&r); /* safe after WS_STOP, whatever was pending */
            rec_free(&rc);
        }
    }
    tern_buf_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_apply_mask),
        cmocka_unit_test(test_append_frame),
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_make_key),
        cmocka_unit_test(test_client_request),
        cmocka_unit_test(test_reader_whole_stream_zero_copy),
        cmocka_unit_test(test_reader_every_split),
        cmocka_unit_test(test_reader_every_two_splits),
        cmocka_unit_test(test_reader_byte_by_byte_client),
        cmocka_unit_test(test_reader_pend_holds_only_tail),
        cmocka_unit_test(test_reader_64bit_length),
        cmocka_unit_test(test_reader_masking_rules),
        cmocka_unit_test(test_reader_too_big),
        cmocka_unit_test(test_reader_bad_utf8),
        cmocka_unit_test(test_reader_fragment_state_errors),
        cmocka_unit_test(test_reader_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
