/*
 * util.c — small helpers shared by every part of Tern; see util.h.
 *
 * tern_utf8_valid runs on every text message the server receives, so it skips ASCII
 * runs sixteen bytes at a time and only decodes sequences byte by byte where a high bit
 * is set. The base64 codecs are table-driven and never read past the given length:
 * their input is usually a token or a header that came from the network.
 */
#include "core/util.h"

#include <string.h>
#include <time.h>

int64_t tern_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t tern_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- UTF-8 ---------------------------------------------------------------------- */

#define HIGH_BITS 0x8080808080808080ull

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v); /* unaligned-safe; compiles to one load */
    return v;
}

/*
 * Well-formed sequences per RFC 3629 §4 (the Unicode table 3-7):
 *   00..7F
 *   C2..DF 80..BF
 *   E0     A0..BF 80..BF        (no overlongs)
 *   E1..EC 80..BF 80..BF
 *   ED     80..9F 80..BF        (no surrogates D800..DFFF)
 *   EE..EF 80..BF 80..BF
 *   F0     90..BF 80..BF 80..BF (no overlongs)
 *   F1..F3 80..BF 80..BF 80..BF
 *   F4     80..8F 80..BF 80..BF (nothing above U+10FFFF)
 * Indexed by the lead byte: the sequence length (0 = never a lead byte) and the bounds
 * of the second byte, which is where every lead-specific rule lives. Later bytes are
 * always 80..BF.
 */
static const uint8_t U8_LEN[256] = {
    [0xC2 ... 0xDF] = 2,
    [0xE0 ... 0xEF] = 3,
    [0xF0 ... 0xF4] = 4,
};
static const uint8_t U8_LO[256] = {
    [0xC2 ... 0xDF] = 0x80, [0xE0] = 0xA0, [0xE1 ... 0xEF] = 0x80, [0xF0] = 0x90, [0xF1 ... 0xF4] = 0x80,
};
static const uint8_t U8_HI[256] = {
    [0xC2 ... 0xEC] = 0xBF,
    [0xED] = 0x9F,
    [0xEE ... 0xF3] = 0xBF,
    [0xF4] = 0x8F,
};

int tern_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            /* ASCII: skip sixteen bytes per step while no byte has its high bit set. */
            i++;
            while (i + 16 <= n && ((load64(p + i) | load64(p + i + 8)) & HIGH_BITS) == 0)
                i += 16;
            continue;
        }
        /* Multi-byte sequences follow each other directly in CJK text: no detour
         * through the ASCII path between them. */
        uint8_t c = p[i];
        size_t len = U8_LEN[c];
        if (len == 0 || n - i < len)
            return 0;
        uint8_t b1 = p[i + 1];
        if (b1 < U8_LO[c] || b1 > U8_HI[c])
            return 0;
        if (len >= 3 && (p[i + 2] & 0xC0) != 0x80)
            return 0;
        if (len == 4 && (p[i + 3] & 0xC0) != 0x80)
            return 0;
        i += len;
    }
    return 1;
}

/* ---- base64 --------------------------------------------------------------------- */

static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_encode(const char *alpha, int pad, const uint8_t *in, size_t n, char *out, size_t outsz)
{
    size_t full = n / 3, rest = n % 3;
    size_t need = full * 4 + (rest ? (pad ? 4 : rest + 1) : 0);
    if (need >= outsz || need > (size_t)INT32_MAX)
        return -1;
    char *o = out;
    for (size_t i = 0; i < full; i++, in += 3) {
        uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        *o++ = alpha[(v >> 6) & 63];
        *o++ = alpha[v & 63];
    }
    if (rest) {
        uint32_t v = (uint32_t)in[0] << 16 | (rest == 2 ? (uint32_t)in[1] << 8 : 0);
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        if (rest == 2)
            *o++ = alpha[(v >> 6) & 63];
        else if (pad)
            *o++ = '=';
        if (pad)
            *o++ = '=';
    }
    *o = 0;
    return (int)need;
}

int tern_base64_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
    return b64_encode(B64_STD, 1, in, n, out, outsz);
}

int tern_base64url_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
    return b64_encode(B64_URL, 0, in, n, out, outsz);
}

/* 0..63 for a base64url character, -1 for anything else. */
static inline int b64url_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int tern_base64url_decode(const char *in, size_t n, uint8_t *out, size_t outsz)
{
    /* Optional padding: only as the last one or two characters of a multiple of 4. */
    if (n > 0 && in[n - 1] == '=') {
        if (n % 4 != 0)
            return -1;
        n--;
        if (in[n - 1] == '=')
            n--;
    }
    size_t rest = n % 4;
    if (rest == 1)
        return -1;
    size_t need = n / 4 * 3 + (rest ? rest - 1 : 0);
    if (need > outsz || need > (size_t)INT32_MAX)
        return -1;
    const uint8_t *s = (const uint8_t *)in;
    uint8_t *o = out;
    size_t full = n / 4;
    for (size_t i = 0; i < full; i++, s += 4) {
        int a = b64url_val(s[0]), b = b64url_val(s[1]), c = b64url_val(s[2]), d = b64url_val(s[3]);
        if ((a | b | c | d) < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        *o++ = (uint8_t)(v >> 16);
        *o++ = (uint8_t)(v >> 8);
        *o++ = (uint8_t)v;
    }
    if (rest) {
        int a = b64url_val(s[0]), b = b64url_val(s[1]), c = rest == 3 ? b64url_val(s[2]) : 0;
        if ((a | b | c) < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        /* Unused low bits must be zero: one encoding per byte string (RFC 4648 §3.5). */
        if (rest == 2 ? (v & 0xFFFF) != 0 : (v & 0xFF) != 0)
            return -1;
        *o++ = (uint8_t)(v >> 16);
        if (rest == 3)
            *o++ = (uint8_t)(v >> 8);
    }
    return (int)need;
}

/* ---- comparisons and identifiers ------------------------------------------------ */

int tern_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

int tern_ident_valid(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        switch (c) {
        case '_':
        case '.':
        case '@':
        case '=':
        case '+':
        case '-': continue;
        default: return 0;
        }
    }
    return 1;
}

int tern_parse_u64(const char *s, size_t n, uint64_t *out)
{
    /* 19 digits always fit in 64 bits (10^19 - 1 < 2^64), so no overflow check. */
    if (n == 0 || n > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
