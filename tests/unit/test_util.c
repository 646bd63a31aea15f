/* test_util.c — unit tests for core/util.c: UTF-8 validation (against a slow reference
 * decoder as well as fixed cases), base64/base64url, constant-time compare, identifier
 * validation, tern_parse_u64 and the clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/util.h"

#define U8(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* ---- UTF-8 ---- */

static void test_utf8_valid_cases(void **state)
{
    (void)state;
    assert_int_equal(tern_utf8_valid(NULL, 0), 1);
    assert_int_equal(tern_utf8_valid(U8("hello")), 1);
    assert_int_equal(tern_utf8_valid(U8("\x7f")), 1);             /* U+007F */
    assert_int_equal(tern_utf8_valid(U8("\xc2\x80")), 1);         /* U+0080 */
    assert_int_equal(tern_utf8_valid(U8("\xdf\xbf")), 1);         /* U+07FF */
    assert_int_equal(tern_utf8_valid(U8("\xe0\xa0\x80")), 1);     /* U+0800 */
    assert_int_equal(tern_utf8_valid(U8("\xed\x9f\xbf")), 1);     /* U+D7FF */
    assert_int_equal(tern_utf8_valid(U8("\xee\x80\x80")), 1);     /* U+E000 */
    assert_int_equal(tern_utf8_valid(U8("\xef\xbf\xbf")), 1);     /* U+FFFF */
    assert_int_equal(tern_utf8_valid(U8("\xf0\x90\x80\x80")), 1); /* U+10000 */
    assert_int_equal(tern_utf8_valid(U8("\xf4\x8f\xbf\xbf")), 1); /* U+10FFFF */
    assert_int_equal(tern_utf8_valid(U8("\xe4\xbd\xa0\xe5\xa5\xbd, world \xf0\x9f\x98\x80")), 1);
    assert_int_equal(tern_utf8_valid(U8("\0embedded NUL is valid")), 1);
}

static void test_utf8_invalid_cases(void **state)
{
    (void)state;
    assert_int_equal(tern_utf8_valid(U8("\x80")), 0); /* lone continuation */
    assert_int_equal(tern_utf8_valid(U8("\xbf")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xc0\x80")), 0);                 /* overlong NUL */
    assert_int_equal(tern_utf8_valid(U8("\xc1\xbf")), 0);                 /* overlong U+007F */
    assert_int_equal(tern_utf8_valid(U8("\xe0\x80\x80")), 0);             /* overlong 3-byte */
    assert_int_equal(tern_utf8_valid(U8("\xe0\x9f\xbf")), 0);             /* overlong U+07FF */
    assert_int_equal(tern_utf8_valid(U8("\xf0\x80\x80\x80")), 0);         /* overlong 4-byte */
    assert_int_equal(tern_utf8_valid(U8("\xf0\x8f\xbf\xbf")), 0);         /* overlong U+FFFF */
    assert_int_equal(tern_utf8_valid(U8("\xed\xa0\x80")), 0);             /* U+D800 surrogate */
    assert_int_equal(tern_utf8_valid(U8("\xed\xbf\xbf")), 0);             /* U+DFFF surrogate */
    assert_int_equal(tern_utf8_valid(U8("\xed\xa0\xbd\xed\xb8\x80")), 0); /* CESU pair */
    assert_int_equal(tern_utf8_valid(U8("\xf4\x90\x80\x80")), 0);         /* U+110000 */
    assert_int_equal(tern_utf8_valid(U8("\xf5\x80\x80\x80")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xf8\x88\x80\x80\x80")), 0); /* 5-byte form */
    assert_int_equal(tern_utf8_valid(U8("\xfe")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xff")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xc2")), 0); /* truncated */
    assert_int_equal(tern_utf8_valid(U8("\xe4\xbd")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xf0\x9f\x98")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xc2\x41")), 0); /* bad continuation */
    assert_int_equal(tern_utf8_valid(U8("\xe4\x41\xa0")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xe4\xbd\xc0")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xf0\x9f\x41\x80")), 0);
    assert_int_equal(tern_utf8_valid(U8("\xf0\x9f\x98\x41")), 0);
}

/* The ASCII fast path must hand over to the slow path at every offset. */
static void test_utf8_fast_path_boundaries(void **state)
{
    (void)state;
    uint8_t buf[80];
    for (size_t pos = 0; pos < 70; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = 0xff;
        assert_int_equal(tern_utf8_valid(buf, sizeof buf), 0);
        assert_int_equal(tern_utf8_valid(buf, pos), 1); /* stops before the bad byte */
        buf[pos] = 0xe2;                                /* U+20AC split across the end of the buffer */
        buf[pos + 1] = 0x82;
        buf[pos + 2] = 0xac;
        assert_int_equal(tern_utf8_valid(buf, sizeof buf), 1);
        assert_int_equal(tern_utf8_valid(buf, pos + 2), 0);
        assert_int_equal(tern_utf8_valid(buf, pos + 3), 1);
        buf[pos + 2] = 0x2c; /* broken third byte */
        assert_int_equal(tern_utf8_valid(buf, sizeof buf), 0);
    }
}

/* Slow reference: decodes each code point and checks its range and minimal length. */
static int ref_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = p[i], cp;
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static void test_utf8_against_reference(void **state)
{
    (void)state;
    /* Bytes drawn mostly from the interesting lead/continuation values. */
    static const uint8_t pool[] = {'a',  'z',  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                   0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
    srand(12345);
    uint8_t buf[40];
    int valid = 0;
    for (int iter = 0; iter < 300000; iter++) {
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (rand() & 3) == 0 ? (uint8_t)rand() : pool[rand() % (int)sizeof pool];
        int want = ref_utf8_valid(buf, n);
        valid += want;
        if (tern_utf8_valid(buf, n) != want) {
            fail_msg("mismatch at iteration %d (len %zu), reference says %d", iter, n, want);
        }
    }
    assert_true(valid > 1000); /* the generator does produce valid strings too */
}

/* ---- base64 ---- */

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[32];
    uint8_t dec[32];
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(in[i]);
        assert_int_equal(tern_base64_encode((const uint8_t *)in[i], n, out, sizeof out), (int)strlen(std[i]));
        assert_string_equal(out, std[i]);
        assert_int_equal(tern_base64url_encode((const uint8_t *)in[i], n, out, sizeof out), (int)strlen(url[i]));
        assert_string_equal(out, url[i]);
        assert_int_equal(tern_base64url_decode(url[i], strlen(url[i]), dec, sizeof dec), (int)n);
        assert_memory_equal(dec, in[i], n);
        /* Padding is optional on input. */
        assert_int_equal(tern_base64url_decode(std[i], strlen(std[i]), dec, sizeof dec), (int)n);
        assert_memory_equal(dec, in[i], n);
    }
}

static void test_base64_alphabets(void **state)
{
    (void)state;
    const uint8_t b[] = {0xfb, 0xff, 0xbf};
    char out[8];
    assert_int_equal(tern_base64_encode(b, 3, out, sizeof out), 4);
    assert_string_equal(out, "+/+/");
    assert_int_equal(tern_base64url_encode(b, 3, out, sizeof out), 4);
    assert_string_equal(out, "-_-_");
    uint8_t dec[4];
    assert_int_equal(tern_base64url_decode("-_-_", 4, dec, sizeof dec), 3);
    assert_memory_equal(dec, b, 3);
    assert_int_equal(tern_base64url_decode("+/+/", 4, dec, sizeof dec), -1); /* not url */
}

static void test_base64_bad_input(void **state)
{
    (void)state;
    uint8_t dec[16];
    char out[16];
    assert_int_equal(tern_base64url_decode("Z", 1, dec, sizeof dec), -1); /* 1 mod 4 */
    assert_int_equal(tern_base64url_decode("Zm9vY", 5, dec, sizeof dec), -1);
    assert_int_equal(tern_base64url_decode("Zh", 2, dec, sizeof dec), -1); /* stray low bits */
    assert_int_equal(tern_base64url_decode("Zm9=", 4, dec, sizeof dec), -1);
    assert_int_equal(tern_base64url_decode("Zm8=", 4, dec, sizeof dec), 2);
    assert_int_equal(tern_base64url_decode("Zm8", 3, dec, sizeof dec), 2);
    assert_int_equal(tern_base64url_decode("Zg=", 3, dec, sizeof dec), -1); /* short pad */
    assert_int_equal(tern_base64url_decode("Z===", 4, dec, sizeof dec), -1);
    assert_int_equal(tern_base64url_decode("====", 4, dec, sizeof dec), -1);
    assert_int_equal(tern_base64url_decode("=", 1, dec, sizeof dec), -1);
    assert_int_equal(tern_base64url_decode("Zm 9v", 5, dec, sizeof dec), -1);
    assert_int_equal(tern_base64url_decode("Zm9v\n", 5, dec, sizeof dec), -1);
    assert_int_equal(tern_base64url_decode("Zm=v", 4, dec, sizeof dec), -1);
    assert_int_equal(tern_base64url_decode("Zm9vYmFy", 8, dec, 5), -1); /* out too small */
    assert_int_equal(tern_base64url_decode("Zm9vYmFy", 8, dec, 6), 6);
    /* Input stops at n even when the bytes after it are valid base64. */
    assert_int_equal(tern_base64url_decode("Zm9vYmFy", 4, dec, sizeof dec), 3);
    /* Encoders need room for the NUL. */
    assert_int_equal(tern_base64_encode((const uint8_t *)"foo", 3, out, 4), -1);
    assert_int_equal(tern_base64_encode((const uint8_t *)"foo", 3, out, 5), 4);
    assert_int_equal(tern_base64url_encode((const uint8_t *)"f", 1, out, 2), -1);
    assert_int_equal(tern_base64url_encode((const uint8_t *)"f", 1, out, 3), 2);
}

static void test_base64url_roundtrip(void **state)
{
    (void)state;
    uint8_t in[64], dec[64];
    char enc[100];
    srand(7);
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = (size_t)(rand() % 64);
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rand();
        int e = tern_base64url_encode(in, n, enc, sizeof enc);
        assert_true(e >= 0);
        assert_int_equal((size_t)e, (n * 4 + 2) / 3);
        assert_int_equal(tern_base64url_decode(enc, (size_t)e, dec, sizeof dec), (int)n);
        assert_memory_equal(dec, in, n);
    }
}

/* ---- misc ---- */

static void test_ct_equal(void **state)
{
    (void)state;
    assert_int_equal(tern_ct_equal("abcd", "abcd", 4), 1);
    assert_int_equal(tern_ct_equal("abcd", "abce", 4), 0);
    assert_int_equal(tern_ct_equal("xbcd", "abcd", 4), 0);
    assert_int_equal(tern_ct_equal("abcd", "abce", 3), 1);
    assert_int_equal(tern_ct_equal("a", "b", 0), 1);
}

static void test_ident_valid(void **state)
{
    (void)state;
    assert_int_equal(tern_ident_valid("alice", 5), 1);
    assert_int_equal(tern_ident_valid("A-z_0.9@x=y+z", 13), 1);
    assert_int_equal(tern_ident_valid("", 0), 0);
    assert_int_equal(tern_ident_valid("a/b", 3), 0);
    assert_int_equal(tern_ident_valid("a:b", 3), 0);
    assert_int_equal(tern_ident_valid("a b", 3), 0);
    assert_int_equal(tern_ident_valid("a\nb", 3), 0);
    assert_int_equal(tern_ident_valid("a\0b", 3), 0);
    assert_int_equal(tern_ident_valid("\xe4\xbd\xa0", 3), 0);
    assert_int_equal(tern_ident_valid("ab/", 2), 1); /* only n bytes are looked at */
    char s[66];
    memset(s, 'x', sizeof s);
    assert_int_equal(tern_ident_valid(s, 64), 1);
    assert_int_equal(tern_ident_valid(s, 65), 0);
}

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 77;
    assert_int_equal(tern_parse_u64("0", 1, &v), 0);
    assert_true(v == 0);
    assert_int_equal(tern_parse_u64("1234567", 3, &v), 0); /* never reads past n */
    assert_true(v == 123);
    assert_int_equal(tern_parse_u64("9999999999999999999", 19, &v), 0);
    assert_true(v == UINT64_C(9999999999999999999));
    assert_int_equal(tern_parse_u64("00042", 5, &v), 0);
    assert_true(v == 42);
    v = 77;
    assert_int_equal(tern_parse_u64("10000000000000000000", 20, &v), -1);
    assert_int_equal(tern_parse_u64("", 0, &v), -1);
    assert_int_equal(tern_parse_u64("-1", 2, &v), -1);
    assert_int_equal(tern_parse_u64("+1", 2, &v), -1);
    assert_int_equal(tern_parse_u64(" 1", 2, &v), -1);
    assert_int_equal(tern_parse_u64("1 ", 2, &v), -1);
    assert_int_equal(tern_parse_u64("12a", 3, &v), -1);
    assert_int_equal(tern_parse_u64("1\0", 2, &v), -1);
    assert_true(v == 77); /* untouched on failure */
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = tern_now_ms();
    assert_true(now > 1704067200000LL); /* after 2024-01-01 */
    assert_true(now < 4102444800000LL); /* before 2100 */
    uint64_t a = tern_mono_ns(), b = tern_mono_ns();
    assert_true(b >= a);
    assert_true(a > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid_cases),
        cmocka_unit_test(test_utf8_invalid_cases),
        cmocka_unit_test(test_utf8_fast_path_boundaries),
        cmocka_unit_test(test_utf8_against_reference),
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_alphabets),
        cmocka_unit_test(test_base64_bad_input),
        cmocka_unit_test(test_base64url_roundtrip),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_ident_valid),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
