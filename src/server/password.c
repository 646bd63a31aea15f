/*
 * password.c — scrypt password hashes (password.h) through OpenSSL 3's EVP_KDF "SCRYPT".
 * The parameters travel inside each stored hash; verification re-derives with them
 * and compares with CRYPTO_memcmp, so the time taken does not depend on where the
 * bytes first differ.
 */
#include "password.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define DEFAULT_N 32768u /* 2^15 */
#define DEFAULT_R 8u
#define DEFAULT_P 1u
/* Bounds on what a stored hash may ask for (a corrupt row must not cost a gigabyte). */
#define MAX_N (1u << 20)
#define MAX_R 32u
#define MAX_P 16u

int password_valid(const char *pw, size_t n)
{
    return pw && n >= 1 && n <= PASSWORD_MAX;
}

static int derive(const char *pw, size_t n, const uint8_t *salt, size_t saltlen, uint64_t N, uint32_t r, uint32_t p,
                  uint8_t *out, size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    if (!kdf)
        return -1;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return -1;
    /* scrypt needs 128 * r * N bytes (32 MiB by default), over OpenSSL's default cap. */
    uint64_t maxmem = 128ull * r * (N + 2) * p + (1u << 20);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, n),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &N),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(ctx, out, outlen, params) == 1 ? 0 : -1;
    EVP_KDF_CTX_free(ctx);
    return rc;
}

int password_hash(const char *pw, size_t n, char out[PASSWORD_HASH_MAX])
{
    uint8_t salt[SALT_LEN], h[HASH_LEN];
    char s64[32], h64[64];
    out[0] = 0;
    if (!pw || RAND_bytes(salt, sizeof salt) != 1 ||
        derive(pw, n, salt, sizeof salt, DEFAULT_N, DEFAULT_R, DEFAULT_P, h, sizeof h) < 0)
        return -1;
    if (tern_base64url_encode(salt, sizeof salt, s64, sizeof s64) < 0 ||
        tern_base64url_encode(h, sizeof h, h64, sizeof h64) < 0)
        return -1;
    OPENSSL_cleanse(h, sizeof h);
    int k = snprintf(out, PASSWORD_HASH_MAX, "scrypt$%u$%u$%u$%s$%s", DEFAULT_N, DEFAULT_R, DEFAULT_P, s64, h64);
    if (k < 0 || k >= PASSWORD_HASH_MAX) {
        out[0] = 0;
        return -1;
    }
    return 0;
}

/* Reads a decimal field ended by '$' at *p; advances past the '$'. -1 if malformed. */
static int field_u32(const char **p, uint32_t max, uint32_t *out)
{
    const char *d = strchr(*p, '$');
    uint64_t v;
    if (!d || tern_parse_u64(*p, (size_t)(d - *p), &v) < 0 || v < 1 || v > max)
        return -1;
    *out = (uint32_t)v;
    *p = d + 1;
    return 0;
}

int password_verify(const char *pw, size_t n, const char *enc)
{
    if (!pw || !enc || strncmp(enc, "scrypt$", 7) != 0)
        return 0;
    const char *p = enc + 7;
    uint32_t N, r, par;
    if (field_u32(&p, MAX_N, &N) < 0 || (N & (N - 1)) != 0 || N < 2 || field_u32(&p, MAX_R, &r) < 0 ||
        field_u32(&p, MAX_P, &par) < 0)
        return 0;
    const char *d = strchr(p, '$');
    uint8_t salt[64], want[64], got[64];
    if (!d)
        return 0;
    int sl = tern_base64url_decode(p, (size_t)(d - p), salt, sizeof salt);
    int hl = tern_base64url_decode(d + 1, strlen(d + 1), want, sizeof want);
    if (sl < 4 || hl < 16)
        return 0;
    if (derive(pw, n, salt, (size_t)sl, N, r, par, got, (size_t)hl) < 0)
        return 0;
    int ok = CRYPTO_memcmp(got, want, (size_t)hl) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}
