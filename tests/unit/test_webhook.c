/* test_webhook.c — unit tests for server/hooks/webhook.c's signature (the header a
 * backend checks, docs/rest-api.md "Webhooks"): a known answer computed with
 *   printf '%s' '1700000000000.{"event":"push"}' | openssl dgst -sha256 -hmac 'k3y-0123456789abcdef'
 * and its sensitivity to the key, the timestamp and each body byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hooks/webhook.h"

#define KEY "k3y-0123456789abcdef"
#define BODY "{\"event\":\"push\"}"

static void test_known_answer(void **state)
{
    (void)state;
    char sig[72];
    webhook_sign(KEY, 1700000000000LL, BODY, strlen(BODY), sig);
    assert_string_equal(sig, "sha256=8381f08ba5aae7b2c47ae67c36926c133af2deb1e5dc351ca981d1122080d8c1");
}

static void test_changes(void **state)
{
    (void)state;
    char a[72], b[72];
    webhook_sign(KEY, 1700000000000LL, BODY, strlen(BODY), a);
    webhook_sign(KEY "x", 1700000000000LL, BODY, strlen(BODY), b);
    assert_string_not_equal(a, b);
    webhook_sign(KEY, 1700000000001LL, BODY, strlen(BODY), b);
    assert_string_not_equal(a, b);
    char body[] = BODY;
    for (size_t i = 0; i < sizeof body - 1; i++) {
        body[i] ^= 1;
        webhook_sign(KEY, 1700000000000LL, body, sizeof body - 1, b);
        assert_string_not_equal(a, b);
        body[i] ^= 1;
    }
    webhook_sign(KEY, 1700000000000LL, body, sizeof body - 2, b); /* one byte short */
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
