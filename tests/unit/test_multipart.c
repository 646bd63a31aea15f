/*
 * test_multipart.c — unit tests of src/core/multipart.c, the streaming multipart/form-data
 * parser behind Easemob's POST /chatfiles: boundary extraction from Content-Type, bodies
 * shaped like curl's `-F` (built here) fed whole, in two pieces at every split position,
 * one byte at a time and in pseudo-random pieces, delimiter look-alikes inside data, the
 * CRLF rules, preamble and epilogue, header parsing (filename, filename*, quoting,
 * folding), every error code, and tern_mp_safe_filename on hostile names.
 *
 * A recorder turns the callbacks into one log string ("[B name|filename|type]" + data +
 * "[E]" ... "[Z]"), so two ways of feeding the same body must give the same log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/multipart.h"
#include "core/util.h"

#define LOG_MAX (1 << 20)

typedef struct rec {
    char log[LOG_MAX];
    size_t len;
    size_t data_total;
    int begins, ends, dones;
    int stop_data_after; /* part_data returns 1 once this many bytes went by (0: never) */
    tern_mp mp;
} rec;

static rec R1, R2; /* large: kept off the stack */

static void put(rec *r, const char *s, size_t n)
{
    assert_true(r->len + n < LOG_MAX);
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = '\0';
}

static void puts_(rec *r, const char *s)
{
    put(r, s, strlen(s));
}

static int on_begin(void *ud, const tern_mp_part *part)
{
    rec *r = ud;
    assert_int_equal(part->index, (unsigned)r->begins);
    assert_int_equal(r->begins, r->ends); /* balanced */
    r->begins++;
    puts_(r, "[B ");
    if (part->name)
        put(r, part->name, part->name_len);
    puts_(r, "|");
    if (part->filename)
        put(r, part->filename, part->filename_len);
    puts_(r, "|");
    if (part->content_type)
        put(r, part->content_type, part->content_type_len);
    puts_(r, "]");
    return 0;
}

static int on_data(void *ud, const char *d, size_t n)
{
    rec *r = ud;
    assert_true(n > 0);
    assert_int_equal(r->begins, r->ends + 1);
    put(r, d, n);
    r->data_total += n;
    return r->stop_data_after && r->data_total >= (size_t)r->stop_data_after;
}

static int on_end(void *ud)
{
    rec *r = ud;
    r->ends++;
    assert_int_equal(r->begins, r->ends);
    puts_(r, "[E]");
    return 0;
}

static int on_done(void *ud)
{
    rec *r = ud;
    r->dones++;
    puts_(r, "[Z]");
    return 0;
}

static const tern_mp_callbacks CB = {on_begin, on_data, on_end, on_done};

static void rec_init(rec *r, const char *boundary, unsigned max_parts)
{
    r->len = 0;
    r->log[0] = '\0';
    r->data_total = 0;
    r->begins = r->ends = r->dones = 0;
    r->stop_data_after = 0;
    assert_int_equal(tern_mp_init(&r->mp, boundary, max_parts, &CB, r), TERN_MP_OK);
}

/* With TERN_MP_SEED_DIR set, every body run() parses is also written there as a seed
 * of tests/fuzz/fuzz_multipart.c: its 3-byte prefix (default max_parts, piece seed, at
 * most 16-byte pieces), then the body with "--" boundary turned into "--fuzzB". */
static void write_seed(const char *boundary, const char *body, size_t n)
{
    const char *dir = getenv("TERN_MP_SEED_DIR");
    if (!dir)
        return;
    static char out[1 << 18];
    size_t bl = strlen(boundary), o = 3;
    uint64_t h = 0xcbf29ce484222325ull;
    out[0] = 0;
    out[1] = 7;
    out[2] = 15;
    for (size_t i = 0; i < n && o + 8 < sizeof out;) {
        if (n - i >= bl + 2 && body[i] == '-' && body[i + 1] == '-' && memcmp(body + i + 2, boundary, bl) == 0) {
            memcpy(out + o, "--fuzzB", 7);
            o += 7;
            i += bl + 2;
        } else {
            out[o++] = body[i++];
        }
    }
    for (size_t i = 0; i < o; i++)
        h = (h ^ (unsigned char)out[i]) * 0x100000001b3ull;
    char path[4096];
    snprintf(path, sizeof path, "%s/t_%016llx", dir, (unsigned long long)h);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(out, 1, o, f), o);
    fclose(f);
}

/* Feeds body in pieces of `step` bytes (0: whole) and finishes; returns the first error,
 * or finish's result. */
static int run(rec *r, const char *boundary, const char *body, size_t n, size_t step)
{
    rec_init(r, boundary, 0);
    if (step == 0)
        write_seed(boundary, body, n);
    size_t i = 0;
    do {
        size_t take = step && n - i > step ? step : n - i;
        int rc = tern_mp_feed(&r->mp, body + i, take);
        if (rc < 0)
            return rc;
        i += take;
    } while (i < n);
    return tern_mp_finish(&r->mp);
}

#define B "------------------------d74496d66958873e" /* curl's shape: 24 dashes, 16 hex */

/* A body as `curl -F user=alice -F file=@photo.jpg` sends it, with binary data that
 * holds CRs, LFs, dashes and a cut-off copy of the delimiter. */
static size_t curl_body(char *out, size_t cap, const char *data, size_t dn)
{
    int k = snprintf(out, cap,
                     "--" B "\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n"
                     "--" B "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n"
                     "Content-Type: image/jpeg\r\n\r\n");
    assert_true(k > 0 && (size_t)k + dn + 64 < cap);
    memcpy(out + k, data, dn);
    int t = snprintf(out + k + dn, cap - k - dn, "\r\n--" B "--\r\n");
    return (size_t)k + dn + (size_t)t;
}

static const char TRICKY[] = "\xff\xd8\xff\xe0\r\n\r\n--\r\n--"
                             "------------------------d74496d66958873"
                             "x\r\r\n-\r\n--------------"
                             "\x00\x01\r\n--"
                             "------------------------d74496d6695887"
                             "\r";
#define TRICKY_LEN (sizeof TRICKY - 1)

static const char *EXPECT_CURL_LOG_HEAD = "[B user||]alice[E][B file|photo.jpg|image/jpeg]";

static void check_curl_log(const rec *r, const char *data, size_t dn)
{
    size_t h = strlen(EXPECT_CURL_LOG_HEAD);
    assert_int_equal(r->len, h + dn + strlen("[E][Z]"));
    assert_memory_equal(r->log, EXPECT_CURL_LOG_HEAD, h);
    assert_memory_equal(r->log + h, data, dn);
    assert_memory_equal(r->log + h + dn, "[E][Z]", 6);
}

/* ---- boundary ---------------------------------------------------------------------- */

static void test_boundary(void **state)
{
    (void)state;
    char out[TERN_MP_BOUNDARY_MAX + 1];
    static const struct {
        const char *ct;
        int rc;
        const char *b;
    } cases[] = {
        {"multipart/form-data; boundary=" B, 40, B},
        {"Multipart/Form-Data;boundary=abc", 3, "abc"},
        {"multipart/form-data ; charset=utf-8 ; BOUNDARY = \"a b:c/d?e=f\" ", 11, "a b:c/d?e=f"},
        {"multipart/form-data; boundary=\"q\\\"\"", TERN_MP_EBOUNDARY, NULL}, /* '"' is no bchar */
        {"multipart/form-data; boundary=\"ends \"", TERN_MP_EBOUNDARY, NULL},
        {"multipart/form-data; boundary=\"\"", TERN_MP_EBOUNDARY, NULL},
        {"multipart/form-data; boundary=", TERN_MP_EBOUNDARY, NULL},
        {"multipart/form-data", TERN_MP_EBOUNDARY, NULL},
        {"multipart/form-data; charset=utf-8", TERN_MP_EBOUNDARY, NULL},
        {"multipart/form-data; boundary=a; boundary=b", TERN_MP_EBOUNDARY, NULL},
        {"multipart/form-data; boundary=\"abc", TERN_MP_EBOUNDARY, NULL},
        {"multipart/form-data; boundary=a*b", TERN_MP_EBOUNDARY, NULL}, /* '*' is a tchar, no bchar */
        {"multipart/form-data; boundary=a:b", TERN_MP_EBOUNDARY, NULL}, /* unquoted must be a token */
        {"multipart/mixed; boundary=abc", TERN_MP_ETYPE, NULL},
        {"application/json", TERN_MP_ETYPE, NULL},
        {"", TERN_MP_ETYPE, NULL},
        {"multipart/form-data; boundary="
         "1234567890123456789012345678901234567890123456789012345678901234567890",
         70, "1234567890123456789012345678901234567890123456789012345678901234567890"},
        {"multipart/form-data; boundary="
         "12345678901234567890123456789012345678901234567890123456789012345678901",
         TERN_MP_EBOUNDARY, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = tern_mp_boundary(cases[i].ct, strlen(cases[i].ct), out, sizeof out);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %d, want %d", i, cases[i].ct, rc, cases[i].rc);
        if (cases[i].b)
            assert_string_equal(out, cases[i].b);
    }
    /* Network bytes: the length bounds the value, not a NUL. */
    const char ct[] = "multipart/form-data; boundary=abcdef";
    assert_int_equal(tern_mp_boundary(ct, sizeof ct - 4, out, sizeof out), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(tern_mp_boundary(ct, sizeof ct - 1, out, 4), TERN_MP_EBOUNDARY); /* no room */

    tern_mp p;
    assert_int_equal(tern_mp_init(&p, "", 0, &CB, NULL), TERN_MP_EBOUNDARY);
    assert_int_equal(tern_mp_init(&p, "a\r\nb", 0, &CB, NULL), TERN_MP_EBOUNDARY);
    assert_int_equal(tern_mp_feed(&p, "x", 1), TERN_MP_EBOUNDARY); /* sticky */
    assert_int_equal(tern_mp_init(&p, NULL, 0, &CB, NULL), TERN_MP_EBOUNDARY);
}

/* ---- feeding --------------------------------------------------------------------------- */

static char body[1 << 18];

static void test_curl_whole_and_bytewise(void **state)
{
    (void)state;
    size_t n = curl_body(body, sizeof body, TRICKY, TRICKY_LEN);
    assert_int_equal(run(&R1, B, body, n, 0), TERN_MP_OK);
    check_curl_log(&R1, TRICKY, TRICKY_LEN);
    assert_int_equal(run(&R1, B, body, n, 1), TERN_MP_OK);
    check_curl_log(&R1, TRICKY, TRICKY_LEN);
    assert_int_equal(R1.begins, 2);
    assert_int_equal(R1.ends, 2);
    assert_int_equal(R1.dones, 1);
}

static void test_every_split(void **state)
{
    (void)state;
    size_t n = curl_body(body, sizeof body, TRICKY, TRICKY_LEN);
    assert_int_equal(run(&R1, B, body, n, 0), TERN_MP_OK);
    for (size_t cut = 0; cut <= n; cut++) {
        rec_init(&R2, B, 0);
        int a = tern_mp_feed(&R2.mp, body, cut);
        assert_true(a == TERN_MP_OK || (a == TERN_MP_DONE && cut >= n - 2));
        assert_int_equal(tern_mp_feed(&R2.mp, body + cut, n - cut), TERN_MP_DONE);
        assert_int_equal(tern_mp_finish(&R2.mp), TERN_MP_OK);
        if (R2.len != R1.len || memcmp(R1.log, R2.log, R1.len) != 0)
            fail_msg("split at %zu differs", cut);
    }
}

static void test_random_pieces_binary(void **state)
{
    (void)state;
    static char data[100000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (char)(x >> 24);
        if (i % 997 == 0 && i + 4 <= sizeof data) { /* a fair share of delimiter starts */
            memcpy(data + i, "\r\n--", 4);
            i += 3;
        }
    }
    size_t n = curl_body(body, sizeof body, data, sizeof data);
    rec_init(&R1, B, 0);
    for (size_t i = 0; i < n;) {
        x = x * 1103515245u + 12345u;
        size_t take = 1 + (x >> 16) % 3000;
        if (take > n - i)
            take = n - i;
        int rc = tern_mp_feed(&R1.mp, body + i, take);
        assert_true(rc == TERN_MP_OK || (rc == TERN_MP_DONE && i + take == n));
        i += take;
    }
    assert_int_equal(tern_mp_finish(&R1.mp), TERN_MP_OK);
    check_curl_log(&R1, data, sizeof data);
}

/* What is held back from part_data is only what may begin the delimiter: at most its
 * length less one (boundary + 3), never a byte that cannot be part of it. */
static void test_hold_back(void **state)
{
    (void)state;
    const char *head = "--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n";
    rec_init(&R1, "xyz", 0);
    assert_int_equal(tern_mp_feed(&R1.mp, head, strlen(head)), TERN_MP_OK);
    assert_int_equal(tern_mp_feed(&R1.mp, "abc", 3), TERN_MP_OK);
    assert_int_equal(R1.data_total, 3); /* nothing held */
    assert_int_equal(tern_mp_feed(&R1.mp, "d\r\n--xy", 7), TERN_MP_OK);
    assert_int_equal(R1.data_total, 4); /* "\r\n--xy" held: 6 = boundary + 3 */
    assert_int_equal(tern_mp_feed(&R1.mp, "Q", 1), TERN_MP_OK);
    assert_int_equal(R1.data_total, 11); /* the held bytes were data after all */
    assert_int_equal(tern_mp_feed(&R1.mp, "\r", 1), TERN_MP_OK);
    assert_int_equal(tern_mp_feed(&R1.mp, "\r", 1), TERN_MP_OK); /* a CR ends the held CR */
    assert_int_equal(R1.data_total, 12);
    assert_int_equal(tern_mp_feed(&R1.mp, "\n--xyz--", 8), TERN_MP_DONE);
    assert_int_equal(R1.data_total, 12);
    assert_int_equal(tern_mp_finish(&R1.mp), TERN_MP_OK);
    assert_string_equal(R1.log, "[B file||]abcd\r\n--xyQ\r[E][Z]");
}

static void test_lookalikes_in_data(void **state)
{
    (void)state;
    static const char *datas[] = {
        "--boundar",     "\r\n--boundar",        "\r\n--boundarx\r\n--boundar", "--boundary", "\r\n-", "\r\n--", "\r",
        "\r\r\r\n\r\n-", "x\r\n--boundar\r\n--", "\n--boundary\n--boundary",    "",
    };
    for (size_t i = 0; i < sizeof datas / sizeof datas[0]; i++) {
        char b[512];
        int n = snprintf(b, sizeof b, "--boundary\r\nContent-Disposition: form-data; name=f\r\n\r\n%s\r\n--boundary--",
                         datas[i]);
        char want[512];
        snprintf(want, sizeof want, "[B f||]%s[E][Z]", datas[i]);
        for (size_t step = 0; step < 4; step++) {
            assert_int_equal(run(&R1, "boundary", b, (size_t)n, step), TERN_MP_OK);
            if (strcmp(R1.log, want) != 0)
                fail_msg("data %zu step %zu: %s", i, step, R1.log);
        }
    }
}

static void test_preamble_epilogue(void **state)
{
    (void)state;
    /* Strict RFC 2046: CRLF "--b" is a delimiter even in the preamble, so "--bb" is junk. */
    const char b[] = "This is the preamble.\r\n--bb\r\n";
    assert_int_equal(run(&R1, "b", b, sizeof b - 1, 0), TERN_MP_EDELIM);

    const char c[] = "preamble with --b inside\r\n"
                     "--b  \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                     "--b\r\n\r\n2\r\n"
                     "--b--  \r\nepilogue\r\n--b\r\nContent-Disposition: form-data; name=z\r\n\r\nno\r\n--b--";
    for (size_t step = 0; step < 3; step++) {
        assert_int_equal(run(&R1, "b", c, sizeof c - 1, step), TERN_MP_OK);
        assert_string_equal(R1.log, "[B a||]1[E][B ||]2[E][Z]");
        assert_true(R1.mp.epilogue > 0);
    }
    /* The close may be the very end, with no CRLF after it; and it may come first. */
    assert_int_equal(run(&R1, "b", "--b--", 5, 0), TERN_MP_OK);
    assert_string_equal(R1.log, "[Z]");
    /* After done, more bytes are epilogue: feed keeps answering DONE. */
    rec_init(&R1, "b", 0);
    assert_int_equal(tern_mp_feed(&R1.mp, "--b--", 5), TERN_MP_DONE);
    assert_int_equal(tern_mp_feed(&R1.mp, "\r\n--b\r\nX: y\r\n\r\n", 15), TERN_MP_DONE);
    assert_int_equal(R1.mp.epilogue, 15);
    assert_int_equal(tern_mp_finish(&R1.mp), TERN_MP_OK);
    assert_string_equal(R1.log, "[Z]");
    /* An empty part, and a part whose data is only CRLF. */
    const char d[] = "--b\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n--b\r\n"
                     "Content-Disposition: form-data; name=c\r\n\r\n\r\n\r\n--b--\r\n";
    assert_int_equal(run(&R1, "b", d, sizeof d - 1, 0), TERN_MP_OK);
    assert_string_equal(R1.log, "[B e||][E][B c||]\r\n[E][Z]");
}

static void test_quoted_boundary_body(void **state)
{
    (void)state;
    char bnd[TERN_MP_BOUNDARY_MAX + 1];
    const char ct[] = "multipart/form-data; boundary=\"simple boundary\"";
    assert_int_equal(tern_mp_boundary(ct, sizeof ct - 1, bnd, sizeof bnd), 15);
    const char b[] = "--simple boundary\r\nContent-Disposition: form-data; name=\"a b\"\r\n\r\n"
                     "x\r\n--simple boundar\r\n--simple boundary--\r\n";
    for (size_t step = 0; step < 3; step++) {
        assert_int_equal(run(&R1, bnd, b, sizeof b - 1, step), TERN_MP_OK);
        assert_string_equal(R1.log, "[B a b||]x\r\n--simple boundar[E][Z]");
    }
}

/* The bytes curl 7.88.1 sent for `curl -F user=alice -F 'file=@weird.txt;type=text/plain;
 * filename="na\"me\\x.txt"'` (captured on a socket): it percent-encodes the quote, sends
 * the backslash raw, and the file holds CRLF "--x", a NUL and no trailing newline. */
static void test_real_curl(void **state)
{
    (void)state;
    static const char ct[] = "multipart/form-data; boundary=------------------------8401bb124b6a155d";
    static const char b[] = "--------------------------8401bb124b6a155d\r\n"
                            "Content-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n"
                            "--------------------------8401bb124b6a155d\r\n"
                            "Content-Disposition: form-data; name=\"file\"; filename=\"na%22me\\x.txt\"\r\n"
                            "Content-Type: text/plain\r\n\r\nhello\r\n--x\0binary\r\n"
                            "--------------------------8401bb124b6a155d--\r\n";
    assert_int_equal(sizeof b - 1, 306); /* its Content-Length */
    char bnd[TERN_MP_BOUNDARY_MAX + 1];
    assert_int_equal(tern_mp_boundary(ct, sizeof ct - 1, bnd, sizeof bnd), 40);
    for (size_t step = 0; step < 3; step++) {
        assert_int_equal(run(&R1, bnd, b, sizeof b - 1, step), TERN_MP_OK);
        static const char want[] = "[B user||]alice[E][B file|na%22me\\x.txt|text/plain]hello\r\n--x\0binary[E][Z]";
        assert_int_equal(R1.len, sizeof want - 1);
        assert_memory_equal(R1.log, want, sizeof want - 1);
    }
}

/* ---- headers -------------------------------------------------------------------------- */

/* Parses one part with the given header lines; returns the result, log in R1. */
static int one_part(const char *hdrs)
{
    char b[TERN_MP_MAX_HEADER * 2];
    int n = snprintf(b, sizeof b, "--b\r\n%s\r\nDATA\r\n--b--\r\n", hdrs);
    assert_true(n > 0 && (size_t)n < sizeof b);
    int rc = run(&R1, "b", b, (size_t)n, 0);
    int rc1 = run(&R2, "b", b, (size_t)n, 1); /* bytewise must agree */
    assert_int_equal(rc, rc1);
    if (rc == TERN_MP_OK)
        assert_string_equal(R1.log, R2.log);
    return rc;
}

static void test_headers_ok(void **state)
{
    (void)state;
    static const struct {
        const char *hdrs, *log;
    } cases[] = {
        {"Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n", "[B file|a.txt|]DATA[E][Z]"},
        {"content-disposition:FORM-DATA;NAME=file;FILENAME=a.txt\r\ncontent-type:text/plain\r\n",
         "[B file|a.txt|text/plain]DATA[E][Z]"},
        {"Content-Type:  image/png ; x=1 \t\r\nContent-Disposition: form-data; name=f\r\n",
         "[B f||image/png ; x=1]DATA[E][Z]"},
        {"Content-Disposition: form-data; name=\"file\"; filename=\"C:\\dir\\f.txt\"\r\n",
         "[B file|C:\\dir\\f.txt|]DATA[E][Z]"},
        {"Content-Disposition: form-data; name=\"q\\\"x\\\\\"; filename=\"na\xc3\xafve.txt\"\r\n",
         "[B q\"x\\|na\xc3\xafve.txt|]DATA[E][Z]"},
        {"Content-Disposition: form-data; name=file; filename=\"plain.txt\"; "
         "filename*=UTF-8''%e2%82%ac%20rates.txt\r\n",
         "[B file|\xe2\x82\xac rates.txt|]DATA[E][Z]"},
        {"Content-Disposition: form-data; filename*=utf-8'en'%2e%2e%2f%2e%2e%2fetc%2fpasswd; name=file\r\n",
         "[B file|../../etc/passwd|]DATA[E][Z]"},
        {"Content-Disposition: form-data; name=f; filename*=iso-8859-1''caf%e9\r\n", "[B f|caf\xc3\xa9|]DATA[E][Z]"},
        {"Content-Disposition: form-data; name=f; filename=x; filename*=koi8-r''%c1\r\n", "[B f|x|]DATA[E][Z]"},
        {"Content-Disposition: form-data;\r\n name=\"folded\";\r\n\tfilename=\"f\"\r\n", "[B folded|f|]DATA[E][Z]"},
        {"Content-Disposition: form-data; name=f;\r\nX-Other: anything goes: here\r\n", "[B f||]DATA[E][Z]"},
        {"Content-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=f; size=3\r\n",
         "[B f||]DATA[E][Z]"},
        {"", "[B ||]DATA[E][Z]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = one_part(cases[i].hdrs);
        if (rc != TERN_MP_OK || strcmp(R1.log, cases[i].log) != 0)
            fail_msg("case %zu: rc %d log %s", i, rc, R1.log);
    }
    /* filename* may hold a NUL: the length says so. */
    assert_int_equal(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''a%00b\r\n"), TERN_MP_OK);
    assert_int_equal(R1.len, strlen("[B f|a") + 1 + strlen("b|]DATA[E][Z]"));
}

static void test_headers_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Content-Disposition: form-data; name=\"f\"\n",         /* bare LF */
        "Content-Disposition: form-data; name=\"f\"\rX: y\r\n", /* bare CR */
        "Content-Disposition: form-data; name=\"f\x01\"\r\n",   /* control byte */
        "Content-Disposition form-data\r\n",                    /* no colon */
        ": form-data\r\n",                                      /* empty name */
        "Bad Name: x\r\n",                                      /* space in the name */
        "Content-Disposition : form-data\r\n",                  /* space before the colon */
        " Content-Disposition: form-data\r\n",                  /* fold on the first line */
        "Content-Disposition: attachment; name=f\r\n",          /* not form-data */
        "Content-Disposition: form-data; name=\"f\r\n",         /* unterminated quote */
        "Content-Disposition: form-data; name=a; name=b\r\n",   /* repeated parameter */
        "Content-Disposition: form-data; filename=a; filename=b\r\n",
        "Content-Disposition: form-data; name\r\n", /* no value */
        "Content-Disposition: form-data; name=\r\n",
        "Content-Disposition: form-data; name=a b\r\n",
        "Content-Disposition: form-data; filename*=UTF-8''%zz\r\n", /* bad percent */
        "Content-Disposition: form-data; filename*=UTF-8''%4\r\n",
        "Content-Disposition: form-data; filename*=nocharset\r\n",
        "Content-Disposition: form-data; filename*=\"UTF-8''x\"\r\n", /* ext-values are tokens */
        "Content-Disposition: form-data\r\nContent-Disposition: form-data\r\n",
        "Content-Type: a/b\r\nContent-Type: c/d\r\n",
        "Content-Type: \r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = one_part(bad[i]);
        if (rc != TERN_MP_EHEADER)
            fail_msg("case %zu (%s): %d", i, bad[i], rc);
    }
}

static void test_header_size(void **state)
{
    (void)state;
    static char h[TERN_MP_MAX_HEADER + 64];
    /* The limit counts every byte of the block, its blank line included. */
    const char *cd = "Content-Disposition: form-data; name=f\r\nX: ";
    size_t fixed = strlen(cd) + 2 /* CRLF */ + 2 /* blank line */;
    memcpy(h, cd, strlen(cd));
    memset(h + strlen(cd), 'a', TERN_MP_MAX_HEADER - fixed);
    memcpy(h + TERN_MP_MAX_HEADER - 4, "\r\n", 3);
    assert_int_equal(one_part(h), TERN_MP_OK);
    assert_string_equal(R1.log, "[B f||]DATA[E][Z]");
    memset(h + strlen(cd), 'a', TERN_MP_MAX_HEADER - fixed + 1);
    memcpy(h + TERN_MP_MAX_HEADER - 3, "\r\n", 3);
    assert_int_equal(one_part(h), TERN_MP_EHEADER_SIZE);
    /* A header block that never ends stops at the limit, not at the end of the body. */
    rec_init(&R1, "b", 0);
    assert_int_equal(tern_mp_feed(&R1.mp, "--b\r\n", 5), TERN_MP_OK);
    int rc = TERN_MP_OK;
    size_t fed = 0;
    while (rc == TERN_MP_OK && fed < 100000) {
        rc = tern_mp_feed(&R1.mp, "X: 1\r\n", 6);
        fed += 6;
    }
    assert_int_equal(rc, TERN_MP_EHEADER_SIZE);
    assert_true(fed <= TERN_MP_MAX_HEADER + 6);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    const char *part = "--b\r\nContent-Disposition: form-data; name=f\r\n\r\nabc";
    /* The body ends early: in data, in headers, in the delimiter line. */
    assert_int_equal(run(&R1, "b", part, strlen(part), 0), TERN_MP_ETRUNCATED);
    assert_int_equal(tern_mp_finish(&R1.mp), TERN_MP_ETRUNCATED); /* sticky */
    assert_int_equal(run(&R1, "b", "--b\r\nX: 1\r\n", 11, 0), TERN_MP_ETRUNCATED);
    assert_int_equal(run(&R1, "b", "--b", 3, 0), TERN_MP_ETRUNCATED);
    assert_int_equal(run(&R1, "b", "--b-", 4, 0), TERN_MP_ETRUNCATED);
    /* No delimiter at all (the wrong boundary, or an empty body). */
    assert_int_equal(run(&R1, "other", part, strlen(part), 0), TERN_MP_ENODELIM);
    assert_int_equal(run(&R1, "b", "", 0, 0), TERN_MP_ENODELIM);
    /* Junk after a delimiter. */
    assert_int_equal(run(&R1, "b", "--bx\r\n", 6, 0), TERN_MP_EDELIM);
    assert_int_equal(run(&R1, "b", "--b -\r\n", 7, 0), TERN_MP_EDELIM);
    assert_int_equal(run(&R1, "b", "--b\rx", 5, 0), TERN_MP_EDELIM);
    assert_int_equal(run(&R1, "b", "--b-x", 5, 0), TERN_MP_EDELIM);
    assert_int_equal(run(&R1, "b", "--b\n\r\n", 6, 0), TERN_MP_EDELIM);
    /* Too many parts: the limit given at init. */
    const char three[] = "--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b\r\n\r\n3\r\n--b--";
    rec_init(&R1, "b", 2);
    assert_int_equal(tern_mp_feed(&R1.mp, three, sizeof three - 1), TERN_MP_ETOO_MANY);
    assert_string_equal(R1.log, "[B ||]1[E][B ||]2[E]");
    assert_int_equal(tern_mp_feed(&R1.mp, "", 0), TERN_MP_ETOO_MANY);
    rec_init(&R1, "b", 3);
    assert_int_equal(tern_mp_feed(&R1.mp, three, sizeof three - 1), TERN_MP_DONE);
    /* The default limit. */
    rec_init(&R1, "b", 0);
    int rc = TERN_MP_OK;
    for (int i = 0; i <= TERN_MP_DEFAULT_MAX_PARTS && rc == TERN_MP_OK; i++)
        rc = tern_mp_feed(&R1.mp, "--b\r\n\r\nx\r\n", 10);
    assert_int_equal(rc, TERN_MP_ETOO_MANY);
    assert_int_equal(R1.begins, TERN_MP_DEFAULT_MAX_PARTS);
    /* A callback stops the parse (a file over the size limit), for good. */
    size_t n = curl_body(body, sizeof body, TRICKY, TRICKY_LEN);
    rec_init(&R1, B, 0);
    R1.stop_data_after = 10;
    assert_int_equal(tern_mp_feed(&R1.mp, body, n), TERN_MP_ESTOPPED);
    size_t seen = R1.len;
    assert_int_equal(tern_mp_feed(&R1.mp, body, n), TERN_MP_ESTOPPED);
    assert_int_equal(tern_mp_finish(&R1.mp), TERN_MP_ESTOPPED);
    assert_int_equal(R1.len, seen); /* no callback after the stop */
    /* Every code has words. */
    for (int c = TERN_MP_ESTOPPED; c <= TERN_MP_DONE; c++)
        assert_string_not_equal(tern_mp_strerror(c), "unknown multipart result");
    assert_string_equal(tern_mp_strerror(42), "unknown multipart result");
}

static int stop_begin(void *ud, const tern_mp_part *part)
{
    (void)ud;
    return part->filename != NULL;
}

static void test_stop_in_begin_and_no_callbacks(void **state)
{
    (void)state;
    tern_mp_callbacks cb = {.part_begin = stop_begin};
    static tern_mp p;
    size_t n = curl_body(body, sizeof body, "x", 1);
    assert_int_equal(tern_mp_init(&p, B, 0, &cb, NULL), TERN_MP_OK);
    assert_int_equal(tern_mp_feed(&p, body, n), TERN_MP_ESTOPPED);
    assert_int_equal(tern_mp_init(&p, B, 0, NULL, NULL), TERN_MP_OK); /* no callbacks at all */
    assert_int_equal(tern_mp_feed(&p, body, n), TERN_MP_DONE);
    assert_int_equal(tern_mp_finish(&p), TERN_MP_OK);
}

/* ---- safe file names ---------------------------------------------------------------------- */

static void test_safe_filename(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n; /* 0: strlen */
        const char *out;
    } cases[] = {
        {"photo.jpg", 0, "photo.jpg"},
        {"../../etc/passwd", 0, "passwd"},
        {"a\\b", 0, "b"},
        {"C:\\Users\\me\\My Doc.txt", 0, "My Doc.txt"},
        {"a\r\nSet-Cookie: x=1", 0, "a__Set-Cookie: x=1"},
        {"%2e%2e%2fetc", 0, "%2e%2e%2fetc"},
        {"..", 0, "file"},
        {"...", 0, "file"},
        {"dir/", 0, "file"},
        {"", 0, "file"},
        {" . .bashrc ", 0, "bashrc"},
        {".htaccess", 0, "htaccess"},
        {"a\0b.txt", 7, "a_b.txt"},
        {"\xff\xfe.txt", 0, "__.txt"},
        {"caf\xc3\xa9\xc3.txt", 0, "caf\xc3\xa9_.txt"}, /* a cut-off sequence */
        {"\xe0\x80\xaf.txt", 0, "___.txt"},             /* overlong '/' */
        {"\xed\xa0\x80x", 0, "___x"},                   /* a surrogate */
        {"x\xc2\x85y\xc2\xa0z", 0, "x_y\xc2\xa0z"},     /* C1 NEL out, NBSP kept */
        {"evil\xe2\x80\xaegpj.exe", 0, "evil_gpj.exe"}, /* right-to-left override */
        {"\xe6\x96\x87\xe4\xbb\xb6.pdf", 0, "\xe6\x96\x87\xe4\xbb\xb6.pdf"},
        {"tab\there\x7f", 0, "tab_here_"},
    };
    char out[TERN_MP_FILENAME_MAX + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].in);
        int len = tern_mp_safe_filename(cases[i].in, n, out, sizeof out);
        if (len != (int)strlen(cases[i].out) || strcmp(out, cases[i].out) != 0)
            fail_msg("case %zu: got \"%s\" (%d)", i, out, len);
    }
    /* Very long: cut to 255 bytes at a character boundary, the extension kept. */
    char longname[2000];
    size_t o = 0;
    for (int i = 0; i < 600; i++) {
        memcpy(longname + o, "\xc3\xa9", 2); /* é */
        o += 2;
    }
    memcpy(longname + o, ".tar.gz", 7);
    o += 7;
    int len = tern_mp_safe_filename(longname, o, out, sizeof out);
    assert_true(len <= TERN_MP_FILENAME_MAX && len >= TERN_MP_FILENAME_MAX - 1);
    assert_int_equal(strlen(out), (size_t)len);
    assert_string_equal(out + len - 3, ".gz");
    assert_true(tern_utf8_valid((const uint8_t *)out, (size_t)len));
    /* A small output buffer bounds the result too; under 5 bytes is refused. */
    char small[8];
    assert_int_equal(tern_mp_safe_filename("abcdefghij.png", 14, small, sizeof small), 7);
    assert_string_equal(small, "abc.png");
    assert_int_equal(tern_mp_safe_filename("abcdefghij.png", 14, small, 5), 4);
    assert_string_equal(small, "abcd");
    assert_int_equal(tern_mp_safe_filename("x", 1, small, 4), -1);
    /* Nothing of a result ever starts with a dot or holds a separator or control byte. */
    const char *junk = "./\\.\x01\x1f";
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 6; b++)
            for (size_t c = 0; c < 6; c++) {
                char in[3] = {junk[a], junk[b], junk[c]};
                len = tern_mp_safe_filename(in, 3, out, sizeof out);
                assert_true(len > 0 && out[0] != '.');
                for (int i = 0; i < len; i++)
                    assert_true(out[i] != '/' && out[i] != '\\' && (unsigned char)out[i] >= 0x20);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_curl_whole_and_bytewise),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_random_pieces_binary),
        cmocka_unit_test(test_hold_back),
        cmocka_unit_test(test_lookalikes_in_data),
        cmocka_unit_test(test_preamble_epilogue),
        cmocka_unit_test(test_quoted_boundary_body),
        cmocka_unit_test(test_real_curl),
        cmocka_unit_test(test_headers_ok),
        cmocka_unit_test(test_headers_bad),
        cmocka_unit_test(test_header_size),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_stop_in_begin_and_no_callbacks),
        cmocka_unit_test(test_safe_filename),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
