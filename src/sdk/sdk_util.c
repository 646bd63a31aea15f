/*
 * sdk_util.c — pure helpers of libtern: server URL parsing, random ids, backoff. (Wire names
 * and conversation ids live in the core model: core/message.h, core/conv.h.) See sdk_util.h.
 */
#include "sdk/sdk_util.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"

static int copy_part(char *dst, size_t dstsz, const char *p, size_t n)
{
    if (n >= dstsz)
        return -1;
    memcpy(dst, p, n);
    dst[n] = 0;
    return 0;
}

int sdk_url_parse(const char *url, sdk_url *out)
{
    if (!url || !out)
        return TERN_ERR_SDK_INVALID_ARG;
    memset(out, 0, sizeof *out);
    const char *p;
    if (!strncmp(url, "ws://", 5))
        p = url + 5;
    else if (!strncmp(url, "http://", 7))
        p = url + 7;
    else if (!strncmp(url, "wss://", 6))
        p = url + 6, out->tls = 1;
    else if (!strncmp(url, "https://", 8))
        p = url + 8, out->tls = 1;
    else
        return TERN_ERR_SDK_INVALID_ARG;

    const char *host, *host_end, *rest;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return TERN_ERR_SDK_INVALID_ARG;
        rest = host_end + 1;
    } else {
        host = p;
        host_end = p + strcspn(p, ":/?#");
        rest = host_end;
    }
    if (host_end == host || copy_part(out->host, sizeof out->host, host, (size_t)(host_end - host)))
        return TERN_ERR_SDK_INVALID_ARG;
    for (const char *q = out->host; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == '@' || *q == '[' || *q == ']' || *q == '/')
            return TERN_ERR_SDK_INVALID_ARG;

    unsigned long port = out->tls ? 443 : 80;
    if (*rest == ':') {
        char *end;
        rest++;
        if (*rest < '0' || *rest > '9')
            return TERN_ERR_SDK_INVALID_ARG;
        port = strtoul(rest, &end, 10);
        if (port == 0 || port > 65535)
            return TERN_ERR_SDK_INVALID_ARG;
        rest = end;
    }
    snprintf(out->port, sizeof out->port, "%lu", port);

    if (*rest == 0) {
        strcpy(out->path, "/ws");
    } else if (*rest == '/') {
        if (copy_part(out->path, sizeof out->path, rest, strlen(rest)))
            return TERN_ERR_SDK_INVALID_ARG;
        char *frag = strchr(out->path, '#');
        if (frag)
            *frag = 0;
        for (const char *q = out->path; *q; q++)
            if ((unsigned char)*q <= ' ' || (unsigned char)*q == 0x7f)
                return TERN_ERR_SDK_INVALID_ARG;
        if (!strcmp(out->path, "/"))
            strcpy(out->path, "/ws");
    } else {
        return TERN_ERR_SDK_INVALID_ARG;
    }

    int v6 = strchr(out->host, ':') != NULL;
    int n = snprintf(out->host_header, sizeof out->host_header, v6 ? "[%s]:%s" : "%s:%s", out->host, out->port);
    if (n < 0 || (size_t)n >= sizeof out->host_header)
        return TERN_ERR_SDK_INVALID_ARG;
    return 0;
}

static void random_bytes(unsigned char *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1) {
        /* Same policy as out-of-memory (core/alloc.h): without a CSPRNG we cannot mint
         * ids or masks safely. */
        fprintf(stderr, "libtern: RAND_bytes failed\n");
        abort();
    }
}

void sdk_random_hex_id(char out[33])
{
    /* 12 hex digits of milliseconds, then 20 random: unique like a random id, but
     * time-ordered, so the server's dedup index (app, client id, sender) appends
     * instead of touching a random page per message (+35-100% store throughput). */
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[10];
    random_bytes(raw, sizeof raw);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 11; i >= 0; i--, ms >>= 4)
        out[i] = hex[ms & 15];
    for (int i = 0; i < 10; i++) {
        out[12 + 2 * i] = hex[raw[i] >> 4];
        out[12 + 2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = 0;
}

double sdk_random_unit(void)
{
    uint32_t v;
    random_bytes((unsigned char *)&v, sizeof v);
    return (double)v / 4294967296.0;
}

unsigned sdk_backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms, double r)
{
    if (max_ms < min_ms)
        max_ms = min_ms;
    uint64_t d = min_ms;
    for (unsigned i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    if (r < 0)
        r = 0;
    if (r >= 1)
        r = 0.999999;
    double j = (double)d * (0.8 + 0.4 * r);
    if (j > (double)max_ms)
        j = (double)max_ms;
    return (unsigned)j;
}

int sdk_str_ok(const char *s, size_t max, int no_ctl)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (max && n > max)
        return 0;
    if (no_ctl)
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return 0;
    return tern_utf8_valid((const uint8_t *)s, n);
}
