/*
 * test_media_url.c — signed media URLs (server/media/media_url.h): the URL's form, that
 * the check accepts exactly what was signed until its expiry, and that any change of
 * app, secret, id, thumbnail or expiry (or a truncated signature) is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "media/media_url.h"

static app_info mk_app(const char *key, const char *secret)
{
    app_info a;
    memset(&a, 0, sizeof a);
    snprintf(a.key, sizeof a.key, "%s", key);
    snprintf(a.secret, sizeof a.secret, "%s", secret);
    return a;
}

#define ID "0123456789abcdef0123456789abcdef"

static void test_form(void **state)
{
    (void)state;
    app_info a = mk_app("acme/chat", "s1");
    tern_buf b;
    tern_buf_init(&b, 0);
    assert_int_equal(media_url_append(&b, "", &a, ID, 0, 1700000000), 0);
    const char *want = "/acme/chat/media/" ID "?exp=1700000000&sig=";
    assert_true(b.len == strlen(want) + MEDIA_URL_SIG_LEN);
    assert_memory_equal(b.data, want, strlen(want));
    tern_buf_reset(&b);
    assert_int_equal(media_url_append(&b, "https://im.example.com", &a, ID, 198, 5), 0);
    want = "https://im.example.com/acme/chat/media/" ID "?thumb=198&exp=5&sig=";
    assert_true(b.len == strlen(want) + MEDIA_URL_SIG_LEN);
    assert_memory_equal(b.data, want, strlen(want));
    tern_buf_free(&b);
}

static void test_check(void **state)
{
    (void)state;
    app_info a = mk_app("acme/chat", "s1");
    char sig[MEDIA_URL_SIG_LEN + 1];
    assert_int_equal(media_url_sign(&a, ID, 720, 1000, sig), 0);
    assert_int_equal(strlen(sig), MEDIA_URL_SIG_LEN);
    assert_true(media_url_check(&a, ID, 720, 1000, sig, MEDIA_URL_SIG_LEN, 999));
    assert_true(media_url_check(&a, ID, 720, 1000, sig, MEDIA_URL_SIG_LEN, 1000));
    assert_false(media_url_check(&a, ID, 720, 1000, sig, MEDIA_URL_SIG_LEN, 1001)); /* expired */
    assert_false(media_url_check(&a, ID, 198, 1000, sig, MEDIA_URL_SIG_LEN, 0));  /* other size */
    assert_false(media_url_check(&a, ID, 0, 1000, sig, MEDIA_URL_SIG_LEN, 0));    /* the original */
    assert_false(media_url_check(&a, ID, 720, 1001, sig, MEDIA_URL_SIG_LEN, 0));  /* longer life */
    assert_false(media_url_check(&a, "1123456789abcdef0123456789abcdef", 720, 1000, sig, MEDIA_URL_SIG_LEN, 0));
    assert_false(media_url_check(&a, ID, 720, 1000, sig, MEDIA_URL_SIG_LEN - 1, 0));
    app_info other = mk_app("acme/chat2", "s1"), rotated = mk_app("acme/chat", "s2");
    assert_false(media_url_check(&other, ID, 720, 1000, sig, MEDIA_URL_SIG_LEN, 0));
    assert_false(media_url_check(&rotated, ID, 720, 1000, sig, MEDIA_URL_SIG_LEN, 0));
    sig[5] ^= 1;
    assert_false(media_url_check(&a, ID, 720, 1000, sig, MEDIA_URL_SIG_LEN, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
