/*
 * token.c — minting, parsing and verifying Tern bearer tokens; see token.h for the
 * format. Tokens arrive from the network (login frames, Authorization headers), so the
 * parser works on (pointer, length), copies nothing larger than TERN_TOKEN_MAX and
 * checks every field before it is stored. The signature is compared in constant time,
 * and checked before the expiry so an expired forgery reads as invalid.
 */
#include "core/token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "core/util.h"
#include "tern/errors.h"

#define MAC_LEN 32
/* kind \n org(64) / app(64) \n user(64) \n expiry(19) */
#define PAYLOAD_MAX (1 + 1 + 129 + 1 + 64 + 1 + 19)

/* HMAC-SHA256(secret, payload) into mac[32]; 0 or -1. */
static int sign(const char *secret, const uint8_t *payload, size_t n, uint8_t mac[MAC_LEN])
{
    unsigned int len = 0;
    size_t slen = strlen(secret);
    if (!HMAC(EVP_sha256(), secret, (int)slen, payload, n, mac, &len) || len != MAC_LEN)
        return -1;
    return 0;
}

/* Splits "org/app" and checks both identifiers. */
static int appkey_valid(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    if (!slash)
        return 0;
    size_t org = (size_t)(slash - s);
    return tern_ident_valid(s, org) && tern_ident_valid(slash + 1, n - org - 1);
}

int tern_token_mint(char kind, const char *appkey, const char *user, int64_t expiry, const char *secret, char *out,
                    size_t outsz)
{
    if (kind != 'u' && kind != 'a')
        return -1;
    if (!appkey || !secret || expiry < 0)
        return -1;
    size_t alen = strnlen(appkey, 130);
    if (!appkey_valid(appkey, alen))
        return -1;
    size_t ulen = user ? strnlen(user, 65) : 0;
    if (kind == 'u' ? !tern_ident_valid(user, ulen) : ulen != 0)
        return -1;

    char exp[24];
    char *e = exp + sizeof exp;
    uint64_t v = (uint64_t)expiry;
    do {
        *--e = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t elen = (size_t)(exp + sizeof exp - e);

    uint8_t payload[PAYLOAD_MAX];
    size_t n = 0;
    payload[n++] = (uint8_t)kind;
    payload[n++] = '\n';
    memcpy(payload + n, appkey, alen);
    n += alen;
    payload[n++] = '\n';
    if (ulen)
        memcpy(payload + n, user, ulen);
    n += ulen;
    payload[n++] = '\n';
    memcpy(payload + n, e, elen);
    n += elen;

    uint8_t mac[MAC_LEN];
    if (sign(secret, payload, n, mac) < 0)
        return -1;
    int a = tern_base64url_encode(payload, n, out, outsz);
    if (a < 0 || (size_t)a + 1 >= outsz)
        return -1;
    out[a] = '.';
    int b = tern_base64url_encode(mac, MAC_LEN, out + a + 1, outsz - (size_t)a - 1);
    if (b < 0)
        return -1;
    return a + 1 + b;
}

/* Splits tok into payload and signature, decodes both (the payload into buf, the
 * signature into mac) and checks every payload field; fills out if not NULL. */
static int parse_token(const char *tok, size_t n, uint8_t buf[TERN_TOKEN_MAX], size_t *plen, uint8_t mac[MAC_LEN],
                       tern_token *out)
{
    if (!tok || n == 0 || n > TERN_TOKEN_MAX)
        return -1;
    /* Unpadded base64url only: one spelling per token. */
    if (memchr(tok, '=', n))
        return -1;
    const char *d = memchr(tok, '.', n);
    if (!d)
        return -1;
    const char *sig = d + 1;
    uint8_t m[MAC_LEN + 1];
    if (tern_base64url_decode(sig, (size_t)(tok + n - sig), m, sizeof m) != MAC_LEN)
        return -1;
    int len = tern_base64url_decode(tok, (size_t)(d - tok), buf, TERN_TOKEN_MAX);
    if (len <= 0 || len > PAYLOAD_MAX)
        return -1;
    const char *p = (const char *)buf, *end = p + len;

    /* Exactly four lines: kind, appkey, user, expiry. */
    const char *line[4];
    size_t llen[4];
    const char *q = p;
    for (int i = 0; i < 3; i++) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            return -1;
        line[i] = q;
        llen[i] = (size_t)(nl - q);
        q = nl + 1;
    }
    line[3] = q;
    llen[3] = (size_t)(end - q);
    if (llen[0] != 1 || (line[0][0] != 'u' && line[0][0] != 'a'))
        return -1;
    char kind = line[0][0];
    if (!appkey_valid(line[1], llen[1]))
        return -1;
    if (kind == 'u' ? !tern_ident_valid(line[2], llen[2]) : llen[2] != 0)
        return -1;
    uint64_t exp; /* a fourth newline fails here: digits only */
    if (tern_parse_u64(line[3], llen[3], &exp) < 0 || exp > (uint64_t)INT64_MAX)
        return -1;

    if (out) {
        out->kind = kind;
        memcpy(out->appkey, line[1], llen[1]);
        out->appkey[llen[1]] = 0;
        memcpy(out->user, line[2], llen[2]);
        out->user[llen[2]] = 0;
        out->expiry = (int64_t)exp;
    }
    *plen = (size_t)len;
    memcpy(mac, m, MAC_LEN);
    return 0;
}

int tern_token_parse(const char *tok, size_t n, tern_token *out)
{
    uint8_t buf[TERN_TOKEN_MAX], mac[MAC_LEN];
    size_t plen;
    if (parse_token(tok, n, buf, &plen, mac, out) < 0)
        return TERN_ERR_TOKEN_INVALID;
    return 0;
}

int tern_token_verify(const char *tok, size_t n, const char *secret, int64_t now_s)
{
    uint8_t buf[TERN_TOKEN_MAX], got[MAC_LEN], want[MAC_LEN];
    size_t plen;
    tern_token t;
    if (!secret || parse_token(tok, n, buf, &plen, got, &t) < 0)
        return TERN_ERR_TOKEN_INVALID;
    if (sign(secret, buf, plen, want) < 0 || !tern_ct_equal(got, want, MAC_LEN))
        return TERN_ERR_TOKEN_INVALID;
    /* Like JWT "exp": the token is no longer accepted from its expiry second on. */
    if (now_s >= t.expiry)
        return TERN_ERR_TOKEN_EXPIRED;
    return 0;
}
