/*
 * password.h — user passwords (Easemob's `password` on user creation and the
 * grant_type=password token): a salted scrypt hash through OpenSSL 3's EVP_KDF, never
 * the password itself. The stored form is one printable string,
 *
 *   scrypt$<N>$<r>$<p>$<salt, base64url>$<hash, base64url>
 *
 * with a fresh 16-byte random salt and a 32-byte hash, so the parameters can grow
 * later without invalidating stored hashes (password_verify reads them back).
 *
 * Both calls are slow on purpose (tens of milliseconds, 32 MiB of memory at the
 * default N = 2^15, r = 8, p = 1): never call them on an I/O loop. The REST handlers
 * run them on libuv's thread pool (rest_queue_work in rest.h). Thread-safe.
 */
#ifndef TERN_SERVER_PASSWORD_H
#define TERN_SERVER_PASSWORD_H
#include <stddef.h>

/* Longest password accepted, in bytes (Easemob: 64 characters). */
#define PASSWORD_MAX 64
/* Room for an encoded hash, NUL included. */
#define PASSWORD_HASH_MAX 160

/* 1 if pw (n bytes) is an acceptable password: 1..PASSWORD_MAX bytes. */
int password_valid(const char *pw, size_t n);

/* Hashes pw (n bytes) with a fresh random salt into out (NUL-terminated, at most
 * PASSWORD_HASH_MAX bytes with the NUL). Returns 0, or -1 if the random source or the
 * KDF failed (out is then ""). */
int password_hash(const char *pw, size_t n, char out[PASSWORD_HASH_MAX]);

/* 1 if pw (n bytes) matches the encoded hash `enc` (compared in constant time), 0 if
 * not or if enc is NULL, empty or not a hash this module wrote (unknown parameters
 * outside sane bounds included). */
int password_verify(const char *pw, size_t n, const char *enc);

#endif
