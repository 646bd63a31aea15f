/*
 * util.h — small helpers shared by every part of Tern: clocks, UTF-8 validation,
 * base64/base64url, hex, constant-time compare, identifier validation.
 */
#ifndef TERN_CORE_UTIL_H
#define TERN_CORE_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch. */
int64_t tern_now_ms(void);
/* Monotonic nanoseconds (CLOCK_MONOTONIC), for latency measurements and timeouts. */
uint64_t tern_mono_ns(void);

/* 1 if p[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF),
 * else 0. */
int tern_utf8_valid(const uint8_t *p, size_t n);

/* Standard base64 with padding (RFC 4648 §4). Writes NUL-terminated output; returns
 * the output length, or -1 if out is too small (needs 4*ceil(n/3)+1). */
int tern_base64_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
/* base64url without padding (RFC 4648 §5). Same contract. */
int tern_base64url_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
/* Decodes base64url (padding optional). Returns the byte count, or -1 on bad input or
 * if out is too small. */
int tern_base64url_decode(const char *in, size_t n, uint8_t *out, size_t outsz);

/* Compares n bytes in constant time; 1 if equal. */
int tern_ct_equal(const void *a, const void *b, size_t n);

/* 1 if s[0..n) is a valid Tern identifier for users, groups, orgs and apps:
 * 1..64 bytes of [A-Za-z0-9_.@=+-]. Identifiers never contain '/', ':' or spaces, so they
 * embed safely in paths, conversation ids and tokens. */
int tern_ident_valid(const char *s, size_t n);
#define TERN_IDENT_MAX 64 /* bytes */

/* Parses a non-negative decimal integer of 1..19 digits filling all of s[0..n).
 * Returns 0 and stores it, or -1. Never reads past n (network bytes are not C strings). */
int tern_parse_u64(const char *s, size_t n, uint64_t *out);

#endif
