/* conv.c — conversation ids ↔ kinds, peers and store keys; see conv.h. */
#include "core/conv.h"

#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "tern/errors.h"

static int eq(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n == l && memcmp(s, lit, n) == 0;
}

tern_conv_kind tern_conv_kind_parse(const char *s, size_t n)
{
    if (!s)
        return TERN_CONV_KIND_NONE;
    if (eq(s, n, "C2C"))
        return TERN_CONV_KIND_C2C;
    if (eq(s, n, "GROUP"))
        return TERN_CONV_KIND_GROUP;
    if (eq(s, n, "SYSTEM") || eq(s, n, TERN_CONV_SYSTEM_ID))
        return TERN_CONV_KIND_SYSTEM;
    return TERN_CONV_KIND_NONE;
}

const char *tern_conv_kind_name(tern_conv_kind k)
{
    switch (k) {
    case TERN_CONV_KIND_C2C: return "C2C";
    case TERN_CONV_KIND_GROUP: return "GROUP";
    case TERN_CONV_KIND_SYSTEM: return "SYSTEM";
    default: return "";
    }
}

int tern_conv_id_parse(const char *cid, size_t n, tern_conv_kind *kind, tern_str *peer)
{
    size_t pre;
    *kind = TERN_CONV_KIND_NONE;
    if (n > 3 && !memcmp(cid, "C2C", 3)) {
        *kind = TERN_CONV_KIND_C2C;
        pre = 3;
    } else if (n > 5 && !memcmp(cid, "GROUP", 5)) {
        *kind = TERN_CONV_KIND_GROUP;
        pre = 5;
    } else {
        return TERN_ERR_BAD_FIELD;
    }
    if (!tern_ident_valid(cid + pre, n - pre))
        return TERN_ERR_BAD_FIELD;
    peer->p = cid + pre;
    peer->n = n - pre;
    return TERN_OK;
}

int tern_conv_id_append(tern_buf *out, tern_conv_kind kind, const char *peer, size_t peer_n)
{
    int rc = tern_buf_puts(out, kind == TERN_CONV_KIND_GROUP ? "GROUP" : "C2C");
    return rc | tern_buf_append(out, peer, peer_n);
}

int tern_conv_id_for(char *out, size_t outsz, tern_conv_kind kind, const char *from, const char *to, const char *me)
{
    int n;
    if (kind == TERN_CONV_KIND_GROUP)
        n = snprintf(out, outsz, "GROUP%s", to ? to : "");
    else {
        const char *peer = (from && me && strcmp(from, me) != 0) ? from : to;
        n = snprintf(out, outsz, "C2C%s", peer ? peer : "");
    }
    return (n < 0 || (size_t)n >= outsz) ? -1 : n;
}

int tern_conv_key_c2c(const char *a, size_t an, const char *b, size_t bn, char *out, size_t outsz)
{
    size_t m = an < bn ? an : bn;
    int c = memcmp(a, b, m);
    if (c > 0 || (c == 0 && an > bn)) { /* strcmp order */
        const char *t = a;
        size_t tn = an;
        a = b;
        an = bn;
        b = t;
        bn = tn;
    }
    size_t n = 2 + an + 1 + bn;
    if (n + 1 > outsz)
        return -1;
    memcpy(out, "c:", 2);
    memcpy(out + 2, a, an);
    out[2 + an] = ':';
    memcpy(out + 3 + an, b, bn);
    out[n] = 0;
    return (int)n;
}

int tern_conv_key_group(const char *g, size_t gn, char *out, size_t outsz)
{
    size_t n = 2 + gn;
    if (n + 1 > outsz)
        return -1;
    memcpy(out, "g:", 2);
    memcpy(out + 2, g, gn);
    out[n] = 0;
    return (int)n;
}

int tern_conv_id_to_key(const char *cid, size_t n, const char *me, char *key, size_t keysz, tern_conv_kind *kind,
                        char *peer, size_t peersz)
{
    tern_str p;
    int rc = tern_conv_id_parse(cid, n, kind, &p);
    if (rc != TERN_OK || p.n >= peersz)
        return TERN_ERR_BAD_FIELD;
    memcpy(peer, p.p, p.n);
    peer[p.n] = 0;
    int r = *kind == TERN_CONV_KIND_GROUP ? tern_conv_key_group(p.p, p.n, key, keysz)
                                          : tern_conv_key_c2c(me, strlen(me), p.p, p.n, key, keysz);
    return r < 0 ? TERN_ERR_BAD_FIELD : TERN_OK;
}
