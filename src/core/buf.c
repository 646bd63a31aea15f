/* buf.c — bounded growable buffer and JSON writers; see buf.h. */
#include "core/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

void tern_buf_init(tern_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void tern_buf_free(tern_buf *b)
{
    tern_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void tern_buf_reset(tern_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

int tern_buf_reserve(tern_buf *b, size_t extra)
{
    /* Compare by subtraction: extra may come from a peer, and len + extra must not wrap.
     * Even "unbounded" buffers stop at SIZE_MAX / 2 so the doubling below cannot wrap. */
    size_t limit = b->max && b->max < SIZE_MAX / 2 ? b->max : SIZE_MAX / 2;
    if (b->len > limit || extra > limit - b->len)
        return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > limit + 1)
        cap = limit + 1;
    if (cap < need)
        cap = need;
    char *d = tern_realloc(b->data, cap);
    if (!d)
        return -1; /* only with the allocation-failure hook armed (alloc.h) */
    b->data = d;
    b->cap = cap;
    return 0;
}

int tern_buf_append(tern_buf *b, const void *p, size_t n)
{
    if (tern_buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int tern_buf_puts(tern_buf *b, const char *s)
{
    return tern_buf_append(b, s, strlen(s));
}

int tern_buf_putc(tern_buf *b, char c)
{
    return tern_buf_append(b, &c, 1);
}

int tern_buf_vprintf(tern_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, cp);
    va_end(cp);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof tmp)
        return tern_buf_append(b, tmp, (size_t)n);
    if (tern_buf_reserve(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int tern_buf_printf(tern_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = tern_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

void tern_buf_consume(tern_buf *b, size_t n)
{
    if (n >= b->len) {
        tern_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = 0;
}

char *tern_buf_steal(tern_buf *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

int tern_buf_json_str(tern_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX: reserve once, then write without checks. */
    if (n > (SIZE_MAX - 2) / 6 || tern_buf_reserve(b, n * 6 + 2) < 0)
        return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = 0;
    return 0;
}

int tern_buf_json_i64(tern_buf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    return tern_buf_append(b, tmp, (size_t)n);
}

int tern_buf_json_u64str(tern_buf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "\"%" PRIu64 "\"", v);
    return tern_buf_append(b, tmp, (size_t)n);
}

int tern_str_eq(tern_str a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && (n == 0 || memcmp(a.p, lit, n) == 0); /* a.p may be NULL when empty */
}
