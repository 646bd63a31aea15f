/* test_buf.c — unit tests for core/buf.c: ceilings, growth, printf, consume/steal, the
 * JSON writers and the allocator's accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/buf.h"

static void test_append_and_nul(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 0);
    assert_null(b.data);
    assert_int_equal(tern_buf_append(&b, "abc", 3), 0);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    assert_int_equal(tern_buf_putc(&b, 'd'), 0);
    assert_int_equal(tern_buf_puts(&b, "ef"), 0);
    assert_string_equal(b.data, "abcdef");
    assert_int_equal(tern_buf_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, 6);
    /* Growth keeps the contents. */
    char big[1000];
    memset(big, 'z', sizeof big);
    assert_int_equal(tern_buf_append(&b, big, sizeof big), 0);
    assert_int_equal(b.len, 1006);
    assert_memory_equal(b.data, "abcdef", 6);
    assert_int_equal(b.data[1006], 0);
    assert_true(b.cap >= 1007);
    tern_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    tern_buf_free(&b);
    assert_null(b.data);
    tern_buf_free(&b); /* twice is fine */
}

static void test_ceiling(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 10);
    assert_int_equal(tern_buf_append(&b, "0123456789", 10), 0); /* exactly max */
    assert_int_equal(tern_buf_append(&b, "x", 1), -1);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789"); /* unchanged */
    assert_true(b.cap <= 11);                  /* never allocates past max + NUL */
    assert_int_equal(tern_buf_printf(&b, "%d", 1), -1);
    tern_buf_consume(&b, 4);
    assert_string_equal(b.data, "456789");
    assert_int_equal(tern_buf_append(&b, "abcd", 4), 0);
    assert_int_equal(tern_buf_append(&b, "e", 1), -1);
    tern_buf_free(&b);
    assert_int_equal(b.max, 10); /* free keeps the ceiling */
}

static void test_reserve_overflow(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 100);
    assert_int_equal(tern_buf_append(&b, "abc", 3), 0);
    /* A peer-supplied length near SIZE_MAX must not wrap the ceiling check. */
    assert_int_equal(tern_buf_reserve(&b, SIZE_MAX), -1);
    assert_int_equal(tern_buf_reserve(&b, SIZE_MAX - 2), -1);
    assert_int_equal(tern_buf_reserve(&b, 97), 0);
    assert_int_equal(tern_buf_reserve(&b, 98), -1);
    tern_buf_free(&b);

    tern_buf u;
    tern_buf_init(&u, 0); /* unbounded */
    assert_int_equal(tern_buf_append(&u, "abc", 3), 0);
    assert_int_equal(tern_buf_reserve(&u, SIZE_MAX), -1);
    assert_int_equal(tern_buf_reserve(&u, SIZE_MAX - 3), -1);
    assert_int_equal(tern_buf_json_str(&u, "x", SIZE_MAX / 4), -1);
    assert_int_equal(u.len, 3);
    tern_buf_free(&u);
}

static void test_printf(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 0);
    assert_int_equal(tern_buf_printf(&b, "%s=%d;", "a", 42), 0);
    assert_string_equal(b.data, "a=42;");
    /* Longer than the internal 256-byte scratch. */
    char long_s[600];
    memset(long_s, 'q', sizeof long_s - 1);
    long_s[sizeof long_s - 1] = 0;
    assert_int_equal(tern_buf_printf(&b, "[%s]", long_s), 0);
    assert_int_equal(b.len, 5 + 1 + 599 + 1);
    assert_int_equal(b.data[5], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], 0);
    tern_buf_free(&b);

    tern_buf c;
    tern_buf_init(&c, 300);
    assert_int_equal(tern_buf_printf(&c, "[%s]", long_s), -1);
    assert_int_equal(c.len, 0);
    tern_buf_free(&c);
}

static void test_consume_steal(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_consume(&b, 5); /* empty, never allocated */
    tern_buf_puts(&b, "hello world");
    tern_buf_consume(&b, 6);
    assert_string_equal(b.data, "world");
    assert_int_equal(b.len, 5);
    tern_buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    tern_buf_puts(&b, "mine");
    size_t n = 0;
    char *s = tern_buf_steal(&b, &n);
    assert_int_equal(n, 4);
    assert_string_equal(s, "mine");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    tern_free(s);
}

static void test_json_writers(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 0);
    const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\xe4\xbd\xa0/";
    assert_int_equal(tern_buf_json_str(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\xe4\xbd\xa0/\"");
    tern_buf_reset(&b);
    assert_int_equal(tern_buf_json_str(&b, "", 0), 0);
    assert_string_equal(b.data, "\"\"");
    tern_buf_reset(&b);
    assert_int_equal(tern_buf_json_str(&b, "a\0b", 3), 0); /* NUL is escaped, not a terminator */
    assert_string_equal(b.data, "\"a\\u0000b\"");
    tern_buf_reset(&b);
    assert_int_equal(tern_buf_json_i64(&b, INT64_MIN), 0);
    assert_string_equal(b.data, "-9223372036854775808");
    tern_buf_reset(&b);
    assert_int_equal(tern_buf_json_u64str(&b, UINT64_MAX), 0);
    assert_string_equal(b.data, "\"18446744073709551615\"");
    tern_buf_free(&b);

    tern_buf small;
    tern_buf_init(&small, 8);
    assert_int_equal(tern_buf_json_str(&small, "abcdefgh", 8), -1); /* worst case > max */
    assert_int_equal(small.len, 0);
    tern_buf_free(&small);
}

static void test_str_eq(void **state)
{
    (void)state;
    tern_str s = {"GETX", 3};
    assert_true(tern_str_eq(s, "GET"));
    assert_false(tern_str_eq(s, "GETX"));
    assert_false(tern_str_eq(s, "GE"));
    tern_str e = {NULL, 0};
    assert_true(tern_str_eq(e, ""));
    assert_false(tern_str_eq(e, "a"));
    assert_true(tern_str_eq(TERN_STR_LIT("lit"), "lit"));
}

static void test_alloc_accounting(void **state)
{
    (void)state;
    size_t before = tern_mem_used();
    char *p = tern_malloc(1000);
    assert_true(tern_mem_used() >= before + 1000);
    p = tern_realloc(p, 10);
    char *d = tern_strndup("abcdef", 3);
    assert_string_equal(d, "abc");
    char *z = tern_calloc(4, 8);
    for (int i = 0; i < 32; i++)
        assert_int_equal(z[i], 0);
    tern_free(p);
    tern_free(d);
    tern_free(z);
    tern_free(NULL);
    assert_int_equal(tern_mem_used(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_nul),   cmocka_unit_test(test_ceiling),
        cmocka_unit_test(test_reserve_overflow), cmocka_unit_test(test_printf),
        cmocka_unit_test(test_consume_steal),    cmocka_unit_test(test_json_writers),
        cmocka_unit_test(test_str_eq),           cmocka_unit_test(test_alloc_accounting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
