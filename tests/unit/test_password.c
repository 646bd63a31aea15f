/* test_password.c — unit tests for server/password.c: the RFC 7914 scrypt test vector
 * (P "password", S "NaCl", N 1024, r 8, p 16) read back through password_verify, a
 * round trip of password_hash with its stored form, fresh salts, wrong passwords and
 * malformed or out-of-bounds stored hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "password.h"

/* RFC 7914 §12, third vector, in password.c's encoding. */
#define RFC_VECTOR                                                                                                     \
    "scrypt$1024$8$16$TmFDbA$_bq-HJ00cgB4VucZDQHp_nxq18vII3gw53N2Y0s3MWIurzDZLiKjiG_xCSedmDDaxyevuUqD7m2DYMvfoswGQA"

static void test_rfc_vector(void **state)
{
    assert_int_equal(password_verify("password", 8, RFC_VECTOR), 1);
    assert_int_equal(password_verify("passwore", 8, RFC_VECTOR), 0);
    assert_int_equal(password_verify("password", 7, RFC_VECTOR), 0);
}

static void test_round_trip(void **state)
{
    char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("s3cret pass", 11, a), 0);
    assert_int_equal(password_hash("s3cret pass", 11, b), 0);
    assert_true(strncmp(a, "scrypt$32768$8$1$", 17) == 0);
    assert_null(strstr(a, "s3cret"));
    assert_string_not_equal(a, b); /* a fresh salt each time */
    assert_int_equal(password_verify("s3cret pass", 11, a), 1);
    assert_int_equal(password_verify("s3cret pass", 11, b), 1);
    assert_int_equal(password_verify("s3cret pasS", 11, a), 0);
    assert_int_equal(password_verify("", 0, a), 0);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "bcrypt$10$abc",
        "scrypt$",
        "scrypt$1000$8$1$TmFDbA$AAAAAAAAAAAAAAAAAAAAAA",    /* N not a power of two */
        "scrypt$4194304$8$1$TmFDbA$AAAAAAAAAAAAAAAAAAAAAA", /* N over the bound */
        "scrypt$1024$64$1$TmFDbA$AAAAAAAAAAAAAAAAAAAAAA",   /* r over the bound */
        "scrypt$1024$8$1$TmFDbA",                           /* no hash */
        "scrypt$1024$8$1$TmFDbA$AA",                        /* hash too short */
        "scrypt$1024$8$1$Tm!!bA$AAAAAAAAAAAAAAAAAAAAAA",    /* not base64url */
        "scrypt$-1$8$1$TmFDbA$AAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(password_verify("password", 8, bad[i]), 0);
    assert_int_equal(password_verify("password", 8, NULL), 0);
}

static void test_valid(void **state)
{
    char pw[PASSWORD_MAX + 1];
    memset(pw, 'x', sizeof pw);
    assert_int_equal(password_valid(pw, PASSWORD_MAX), 1);
    assert_int_equal(password_valid(pw, PASSWORD_MAX + 1), 0);
    assert_int_equal(password_valid(pw, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_vector),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_valid),
    };
    return cmocka_run_group_tests_name("password", tests, NULL, NULL);
}
