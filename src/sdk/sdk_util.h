/*
 * sdk_util.h — small pure helpers of libtern (no I/O, no loop): server URL parsing,
 * random client message ids, reconnect backoff. Kept apart so the
 * unit tests (tests/unit/test_sdk_*.c) can exercise them alone.
 */
#ifndef TERN_SDK_UTIL_H
#define TERN_SDK_UTIL_H
#include <stddef.h>
#include <stdint.h>

#include "tern/tern.h"

typedef struct sdk_url {
    int tls;               /* wss:// (or https://): TLS over the TCP connection */
    char host[256];        /* without brackets for IPv6 */
    char port[8];          /* decimal */
    char path[512];        /* starts with '/' */
    char host_header[280]; /* "host:port" ("[v6]:port") for the Host header */
} sdk_url;

/* Parses "ws://host[:port][/path]" or "wss://host[:port][/path]" ("http://" and
 * "https://" accepted as synonyms). The default port is 80 (ws) or 443 (wss) and the
 * default path "/ws". Returns 0, or TERN_ERR_SDK_INVALID_ARG (malformed, too long, or
 * another scheme). */
int sdk_url_parse(const char *url, sdk_url *out);

/* Writes 32 lowercase hex digits of 128 random bits (OpenSSL RAND_bytes) + NUL. */
void sdk_random_hex_id(char out[33]);

/* Delay before reconnect attempt `attempt` (1, 2, ...): min_ms doubled attempt-1 times,
 * capped at max_ms, then scaled by a jitter factor in [0.8, 1.2) given as r in [0, 1)
 * (and capped at max_ms again). */
unsigned sdk_backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms, double r);
/* A random double in [0, 1). */
double sdk_random_unit(void);

/* 1 if s is a valid string for the wire: valid UTF-8 of at most max bytes (0: no limit),
 * and, with no_ctl, no control characters. */
int sdk_str_ok(const char *s, size_t max, int no_ctl);

#endif
