/*
 * token.h — Tern's bearer tokens (user tokens and app tokens), minted and verified
 * with HMAC-SHA256 under the app's secret. Documented in docs/protocol.md so that any
 * backend can mint user tokens without calling Tern:
 *
 *   payload = kind "\n" org "/" app "\n" user "\n" expiry
 *     kind   "u" for a user token, "a" for an app token (user empty)
 *     expiry Unix seconds, decimal
 *   token   = base64url(payload) "." base64url(HMAC-SHA256(app_secret, payload))
 *   (base64url without padding)
 *
 * The secret is the app's client secret as its ASCII bytes.
 */
#ifndef TERN_CORE_TOKEN_H
#define TERN_CORE_TOKEN_H
#include <stddef.h>
#include <stdint.h>

#define TERN_TOKEN_MAX 512

typedef struct tern_token {
    char kind;        /* 'u' or 'a' */
    char appkey[130]; /* "org/app", NUL-terminated */
    char user[65];    /* NUL-terminated; empty for app tokens */
    int64_t expiry;   /* Unix seconds */
} tern_token;

/* Mints a token into out (NUL-terminated). Returns its length, or -1 if an argument is
 * invalid (kind not 'u'/'a', identifiers invalid) or out is too small (TERN_TOKEN_MAX
 * always suffices). */
int tern_token_mint(char kind, const char *appkey, const char *user, int64_t expiry, const char *secret, char *out,
                    size_t outsz);

/* Parses a token's payload without checking the signature (the caller needs the appkey
 * to find the secret). Returns 0, or TERN_ERR_TOKEN_INVALID if malformed. */
int tern_token_parse(const char *tok, size_t n, tern_token *out);

/* Checks the signature of tok under secret and the expiry against now_s.
 * Returns 0, TERN_ERR_TOKEN_INVALID (bad signature/format) or TERN_ERR_TOKEN_EXPIRED. */
int tern_token_verify(const char *tok, size_t n, const char *secret, int64_t now_s);

#endif
