/* test_token.c — unit tests for core/token.c: known answers computed with
 *   printf 'u\nacme/chat\nalice\n1900000000' | openssl dgst -sha256 -hmac s3cret -binary | basenc --base64url
 * plus tampering, expiry, and payloads that are signed correctly but malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/token.h"
#include "core/util.h"
#include "tern/errors.h"

#define SECRET "s3cret"
/* base64url("u\nacme/chat\nalice\n1900000000") "." base64url(HMAC) */
#define USER_TOK "dQphY21lL2NoYXQKYWxpY2UKMTkwMDAwMDAwMA.z2mOPmqj8BFWXPTVJUil3LfMji6G8Jy17JmUfdypN3M"
/* base64url("a\nacme/chat\n\n1900000000") "." base64url(HMAC) */
#define APP_TOK "YQphY21lL2NoYXQKCjE5MDAwMDAwMDA.r8KoVVlW9QckRl06oR0BkqUfXzrYZkXM5cP0GTAw3QI"
#define NOW 1800000000

/* Signs an arbitrary payload the way tokens are signed, to build malformed-but-signed
 * tokens that only the payload checks can reject. */
static size_t sign_raw(const char *payload, size_t n, const char *secret, char *out, size_t outsz)
{
    uint8_t mac[32];
    unsigned int len = 0;
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)payload, n, mac, &len));
    int a = tern_base64url_encode((const uint8_t *)payload, n, out, outsz);
    assert_true(a >= 0);
    out[a] = '.';
    int b = tern_base64url_encode(mac, 32, out + a + 1, outsz - (size_t)a - 1);
    assert_true(b >= 0);
    return (size_t)a + 1 + (size_t)b;
}

static void test_mint_known_answer(void **state)
{
    (void)state;
    char tok[TERN_TOKEN_MAX];
    int n = tern_token_mint('u', "acme/chat", "alice", 1900000000, SECRET, tok, sizeof tok);
    assert_int_equal(n, (int)strlen(USER_TOK));
    assert_string_equal(tok, USER_TOK);
    n = tern_token_mint('a', "acme/chat", NULL, 1900000000, SECRET, tok, sizeof tok);
    assert_string_equal(tok, APP_TOK);
    n = tern_token_mint('a', "acme/chat", "", 1900000000, SECRET, tok, sizeof tok);
    assert_string_equal(tok, APP_TOK);
}

static void test_verify_and_parse(void **state)
{
    (void)state;
    assert_int_equal(tern_token_verify(USER_TOK, strlen(USER_TOK), SECRET, NOW), 0);
    assert_int_equal(tern_token_verify(APP_TOK, strlen(APP_TOK), SECRET, NOW), 0);
    tern_token t;
    memset(&t, 0x55, sizeof t);
    assert_int_equal(tern_token_parse(USER_TOK, strlen(USER_TOK), &t), 0);
    assert_int_equal(t.kind, 'u');
    assert_string_equal(t.appkey, "acme/chat");
    assert_string_equal(t.user, "alice");
    assert_true(t.expiry == 1900000000);
    assert_int_equal(tern_token_parse(APP_TOK, strlen(APP_TOK), &t), 0);
    assert_int_equal(t.kind, 'a');
    assert_string_equal(t.user, "");
}

static void test_expiry(void **state)
{
    (void)state;
    assert_int_equal(tern_token_verify(USER_TOK, strlen(USER_TOK), SECRET, 1899999999), 0);
    assert_int_equal(tern_token_verify(USER_TOK, strlen(USER_TOK), SECRET, 1900000000), TERN_ERR_TOKEN_EXPIRED);
    assert_int_equal(tern_token_verify(USER_TOK, strlen(USER_TOK), SECRET, 2000000000), TERN_ERR_TOKEN_EXPIRED);
    /* An expired token with a wrong signature is invalid, not merely expired. */
    assert_int_equal(tern_token_verify(USER_TOK, strlen(USER_TOK), "other", 2000000000), TERN_ERR_TOKEN_INVALID);
}

static void test_tampered(void **state)
{
    (void)state;
    char tok[sizeof USER_TOK];
    size_t n = strlen(USER_TOK);
    assert_int_equal(tern_token_verify(USER_TOK, n, "s3creT", NOW), TERN_ERR_TOKEN_INVALID);
    assert_int_equal(tern_token_verify(USER_TOK, n, "", NOW), TERN_ERR_TOKEN_INVALID);
    /* Flip each character in turn: every variant must fail verification. */
    for (size_t i = 0; i < n; i++) {
        memcpy(tok, USER_TOK, sizeof tok);
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        assert_int_not_equal(tern_token_verify(tok, n, SECRET, NOW), 0);
    }
    /* Truncations and extensions. */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(tern_token_verify(USER_TOK, k, SECRET, NOW), TERN_ERR_TOKEN_INVALID);
    char longer[sizeof USER_TOK + 4];
    memcpy(longer, USER_TOK, n);
    memcpy(longer + n, "AAAA", 4);
    assert_int_equal(tern_token_verify(longer, n + 4, SECRET, NOW), TERN_ERR_TOKEN_INVALID);
    memcpy(longer + n, "=", 1);
    assert_int_equal(tern_token_verify(longer, n + 1, SECRET, NOW), TERN_ERR_TOKEN_INVALID);
    /* Swap the signature of the app token onto the user payload. */
    char mix[200];
    const char *dot_u = strchr(USER_TOK, '.'), *dot_a = strchr(APP_TOK, '.');
    size_t pl = (size_t)(dot_u - USER_TOK);
    memcpy(mix, USER_TOK, pl);
    strcpy(mix + pl, dot_a);
    assert_int_equal(tern_token_verify(mix, strlen(mix), SECRET, NOW), TERN_ERR_TOKEN_INVALID);
    /* Only n bytes are read: the valid token followed by junk the length excludes. */
    char padded[sizeof USER_TOK + 8];
    memcpy(padded, USER_TOK, n);
    memcpy(padded + n, ".garbage", 8);
    assert_int_equal(tern_token_verify(padded, n, SECRET, NOW), 0);
}

static void test_malformed_but_signed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "u\nacme/chat\nalice",               /* 3 lines */
        "u\nacme/chat\nalice\n1900000000\n", /* 5 lines (trailing newline) */
        "u\nacme/chat\nalice\n1900000000\nx",
        "x\nacme/chat\nalice\n1900000000", /* unknown kind */
        "uu\nacme/chat\nalice\n1900000000",
        "\nacme/chat\nalice\n1900000000",
        "u\nacmechat\nalice\n1900000000",    /* no slash */
        "u\nacme/\nalice\n1900000000",       /* empty app */
        "u\n/chat\nalice\n1900000000",       /* empty org */
        "u\nacme/chat/x\nalice\n1900000000", /* two slashes */
        "u\nac me/chat\nalice\n1900000000",
        "u\nacme/chat\n\n1900000000", /* user token without user */
        "u\nacme/chat\nal:ice\n1900000000",
        "a\nacme/chat\nalice\n1900000000", /* app token with user */
        "u\nacme/chat\nalice\n",           /* empty expiry */
        "u\nacme/chat\nalice\n-1",
        "u\nacme/chat\nalice\n19e9",
        "u\nacme/chat\nalice\n 1900000000",
        "u\nacme/chat\nalice\n9999999999999999999", /* over INT64_MAX */
        "u\nacme/chat\nalice\n12345678901234567890",
        "u\nacme/chat\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n1", /* 65 */
        "u\r\nacme/chat\r\nalice\r\n1900000000",
        "",
    };
    char tok[TERN_TOKEN_MAX * 2];
    tern_token t;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = sign_raw(bad[i], strlen(bad[i]), SECRET, tok, sizeof tok);
        if (tern_token_parse(tok, n, &t) != TERN_ERR_TOKEN_INVALID)
            fail_msg("parse accepted bad payload #%zu", i);
        if (tern_token_verify(tok, n, SECRET, NOW) != TERN_ERR_TOKEN_INVALID)
            fail_msg("verify accepted bad payload #%zu", i);
    }
    /* The helper itself produces valid tokens from a valid payload. */
    const char good[] = "u\nacme/chat\nalice\n1900000000";
    size_t n = sign_raw(good, sizeof good - 1, SECRET, tok, sizeof tok);
    assert_int_equal(tern_token_verify(tok, n, SECRET, NOW), 0);
    /* Identifiers at their 64-byte maximum fit the struct. */
    char big[300];
    char id64[65];
    memset(id64, 'z', 64);
    id64[64] = 0;
    int bl = snprintf(big, sizeof big, "u\n%s/%s\n%s\n9223372036854775807", id64, id64, id64);
    n = sign_raw(big, (size_t)bl, SECRET, tok, sizeof tok);
    assert_int_equal(tern_token_parse(tok, n, &t), 0);
    assert_int_equal(strlen(t.appkey), 129);
    assert_int_equal(strlen(t.user), 64);
    assert_true(t.expiry == INT64_MAX);
    assert_int_equal(tern_token_verify(tok, n, SECRET, NOW), 0);
}

static void test_garbage(void **state)
{
    (void)state;
    static const char *bad[] = {"", ".", "..", "abc", "abc.", ".abc", "dQ.", "!!!.!!!", "dQphY21l.x.y"};
    tern_token t;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tern_token_parse(bad[i], strlen(bad[i]), &t), TERN_ERR_TOKEN_INVALID);
        assert_int_equal(tern_token_verify(bad[i], strlen(bad[i]), SECRET, NOW), TERN_ERR_TOKEN_INVALID);
    }
    assert_int_equal(tern_token_parse(NULL, 0, &t), TERN_ERR_TOKEN_INVALID);
    char huge[TERN_TOKEN_MAX + 10];
    memset(huge, 'A', sizeof huge);
    assert_int_equal(tern_token_parse(huge, sizeof huge, &t), TERN_ERR_TOKEN_INVALID);
}

static void test_mint_rejects(void **state)
{
    (void)state;
    char tok[TERN_TOKEN_MAX];
    assert_int_equal(tern_token_mint('x', "acme/chat", "alice", 1, SECRET, tok, sizeof tok), -1);
    assert_int_equal(tern_token_mint('u', "acme", "alice", 1, SECRET, tok, sizeof tok), -1);
    assert_int_equal(tern_token_mint('u', "acme/chat/x", "alice", 1, SECRET, tok, sizeof tok), -1);
    assert_int_equal(tern_token_mint('u', "acme/chat", "", 1, SECRET, tok, sizeof tok), -1);
    assert_int_equal(tern_token_mint('u', "acme/chat", NULL, 1, SECRET, tok, sizeof tok), -1);
    assert_int_equal(tern_token_mint('u', "acme/chat", "a b", 1, SECRET, tok, sizeof tok), -1);
    assert_int_equal(tern_token_mint('a', "acme/chat", "alice", 1, SECRET, tok, sizeof tok), -1);
    assert_int_equal(tern_token_mint('u', "acme/chat", "alice", -5, SECRET, tok, sizeof tok), -1);
    size_t need = strlen(USER_TOK) + 1;
    assert_int_equal(tern_token_mint('u', "acme/chat", "alice", 1900000000, SECRET, tok, need - 1), -1);
    assert_int_equal(tern_token_mint('u', "acme/chat", "alice", 1900000000, SECRET, tok, need), (int)need - 1);
    /* The largest token fits TERN_TOKEN_MAX. */
    char id64[65];
    memset(id64, 'z', 64);
    id64[64] = 0;
    char appkey[130];
    snprintf(appkey, sizeof appkey, "%s/%s", id64, id64);
    int n = tern_token_mint('u', appkey, id64, INT64_MAX, SECRET, tok, sizeof tok);
    assert_true(n > 0 && n < TERN_TOKEN_MAX);
    assert_int_equal(tern_token_verify(tok, (size_t)n, SECRET, NOW), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mint_known_answer),
        cmocka_unit_test(test_verify_and_parse),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_malformed_but_signed),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_mint_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
