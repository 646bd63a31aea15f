/*
 * multipart.c — the streaming multipart/form-data parser of multipart.h.
 *
 * The body is a byte-driven state machine. Part data is scanned for the delimiter
 * "\r\n--boundary" with memchr for its CR; bytes between two candidate matches are
 * passed on in one callback straight from the caller's piece, so a 100 MB file costs
 * few callbacks, not one per CR. A match still open at the end of a piece is held back
 * only as a count k: the held bytes are exactly delim[0..k), so when the match fails in
 * a later piece they are passed on from delim itself. Because CR occurs in the
 * delimiter only at its start (boundaries are bchars), a failed match can never hide
 * the start of another one inside the bytes it matched, and no KMP table is needed.
 *
 * The header block of a part is collected (bounded) and parsed once its blank line
 * has come: validated, unfolded in place, split into fields; Content-Disposition and
 * Content-Type are decoded into p->val, which is never fuller than the block is.
 */
#include "core/multipart.h"

#include <string.h>

#include "core/util.h"

enum {
    S_PREAMBLE, /* before the opening delimiter: scanning, bytes ignored */
    S_DATA,     /* in a part's body: scanning, bytes passed on */
    S_AFTER,    /* a delimiter was matched: "--", padding or CR next */
    S_DASH,     /* "-" seen after the delimiter: the second one closes */
    S_PAD,      /* transport padding after the delimiter */
    S_LF,       /* CR of the delimiter line seen */
    S_HEADERS,  /* collecting a part's header block */
    S_EPILOGUE  /* after the closing delimiter */
};

/* ---- character classes ------------------------------------------------------------- */

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 7230 tchar. */
static int is_tchar(unsigned char c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bcharsnospace. */
static int is_bchar_nospace(unsigned char c)
{
    return is_alnum(c) || (c && strchr("'()+_,-./:=?", c) != NULL);
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* 1 if s[0..n) equals the lower-case literal lit, ignoring ASCII case. */
static int ieq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* ---- parameters: *( OWS ";" OWS name OWS "=" OWS ( token / quoted-string ) ) OWS ---- */

typedef struct param {
    const char *name;
    size_t name_len;
    const char *val; /* token, or the inside of the quotes with escapes still in */
    size_t val_len;
    int quoted;
} param;

static size_t skip_ows(const char *s, size_t n, size_t i)
{
    while (i < n && is_ows((unsigned char)s[i]))
        i++;
    return i;
}

/* Reads the next parameter at s[*pos]. Returns 1 with *pr filled, 0 at the end, -1 on
 * bad syntax. Empty parameters (";;", a trailing ";") are skipped. */
static int param_next(const char *s, size_t n, size_t *pos, param *pr)
{
    size_t i = skip_ows(s, n, *pos);
    for (;;) {
        if (i == n) {
            *pos = i;
            return 0;
        }
        if (s[i] != ';')
            return -1;
        i = skip_ows(s, n, i + 1);
        if (i < n && s[i] != ';')
            break;
    }
    size_t start = i;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == start)
        return -1;
    pr->name = s + start;
    pr->name_len = i - start;
    i = skip_ows(s, n, i);
    if (i == n || s[i] != '=')
        return -1;
    i = skip_ows(s, n, i + 1);
    if (i < n && s[i] == '"') {
        start = ++i;
        while (i < n && s[i] != '"') {
            if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\'))
                i++;
            i++;
        }
        if (i == n)
            return -1; /* unterminated */
        pr->val = s + start;
        pr->val_len = i - start;
        pr->quoted = 1;
        i++;
    } else {
        start = i;
        while (i < n && is_tchar((unsigned char)s[i]))
            i++;
        if (i == start)
            return -1;
        pr->val = s + start;
        pr->val_len = i - start;
        pr->quoted = 0;
    }
    *pos = i;
    return 1;
}

/* Writes a parameter's value to out[0..cap) undoing quoted-pairs (only \" and \\, see
 * multipart.h), NUL-terminated. Returns its length or -1 if it does not fit. */
static long unquote(const param *pr, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < pr->val_len; i++) {
        char c = pr->val[i];
        if (pr->quoted && c == '\\' && i + 1 < pr->val_len && (pr->val[i + 1] == '"' || pr->val[i + 1] == '\\'))
            c = pr->val[++i];
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (long)o;
}

/* ---- Content-Type's boundary ---------------------------------------------------------- */

static int boundary_valid(const char *b, size_t n)
{
    if (n < 1 || n > TERN_MP_BOUNDARY_MAX || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (b[i] != ' ' && !is_bchar_nospace((unsigned char)b[i]))
            return 0;
    return 1;
}

int tern_mp_boundary(const char *ct, size_t n, char *out, size_t outsz)
{
    size_t i = skip_ows(ct, n, 0), start = i;
    while (i < n && ct[i] != ';' && !is_ows((unsigned char)ct[i]))
        i++;
    if (!ieq(ct + start, i - start, "multipart/form-data"))
        return TERN_MP_ETYPE;
    param pr;
    int r, found = 0;
    long len = 0;
    while ((r = param_next(ct, n, &i, &pr)) == 1) {
        if (!ieq(pr.name, pr.name_len, "boundary"))
            continue;
        if (found)
            return TERN_MP_EBOUNDARY; /* twice: which one would the client mean? */
        found = 1;
        len = unquote(&pr, out, outsz);
        if (len < 0 || !boundary_valid(out, (size_t)len))
            return TERN_MP_EBOUNDARY;
    }
    if (r < 0 || !found)
        return TERN_MP_EBOUNDARY;
    return (int)len;
}

/* ---- set-up, results ---------------------------------------------------------------- */

int tern_mp_init(tern_mp *p, const char *boundary, unsigned max_parts, const tern_mp_callbacks *cb, void *ud)
{
    static const tern_mp_callbacks none;
    size_t blen = boundary ? strnlen(boundary, TERN_MP_BOUNDARY_MAX + 1) : 0;
    memset(p, 0, offsetof(tern_mp, delim)); /* the large buffers need no clearing */
    if (!boundary_valid(boundary ? boundary : "", blen)) {
        p->err = TERN_MP_EBOUNDARY;
        return TERN_MP_EBOUNDARY;
    }
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen);
    p->delim[4 + blen] = '\0';
    p->dlen = 4 + blen;
    p->cb = cb ? cb : &none;
    p->ud = ud;
    p->max_parts = max_parts ? max_parts : TERN_MP_DEFAULT_MAX_PARTS;
    p->state = S_PREAMBLE;
    p->k = 2; /* the opening delimiter may start the body without its CRLF */
    return TERN_MP_OK;
}

const char *tern_mp_strerror(int rc)
{
    switch (rc) {
    case TERN_MP_OK: return "ok";
    case TERN_MP_DONE: return "closing delimiter seen";
    case TERN_MP_ETYPE: return "content type is not multipart/form-data";
    case TERN_MP_EBOUNDARY: return "missing or invalid multipart boundary";
    case TERN_MP_EDELIM: return "malformed multipart delimiter line";
    case TERN_MP_EHEADER: return "malformed part header";
    case TERN_MP_EHEADER_SIZE: return "part header block too large";
    case TERN_MP_ETOO_MANY: return "too many parts";
    case TERN_MP_ENODELIM: return "no multipart delimiter in the body";
    case TERN_MP_ETRUNCATED: return "body ended before the closing delimiter";
    case TERN_MP_ESTOPPED: return "stopped by a callback";
    default: return "unknown multipart result";
    }
}

static int fail(tern_mp *p, int err)
{
    p->err = err;
    return err;
}

/* Passes part data on. Returns 0, or TERN_MP_ESTOPPED. */
static int emit(tern_mp *p, const char *d, size_t n)
{
    if (n == 0 || p->state != S_DATA || !p->cb->part_data)
        return 0;
    return p->cb->part_data(p->ud, d, n) ? fail(p, TERN_MP_ESTOPPED) : 0;
}

/* ---- part headers ---------------------------------------------------------------- */

/* Decodes an RFC 8187 ext-value (charset'lang'pct-encoded) into out. Returns its
 * length, -2 for a charset we do not read (the parameter is then ignored), -1 when
 * malformed or too long. */
static long ext_value(const param *pr, char *out, size_t cap)
{
    const char *v = pr->val, *q1 = memchr(v, '\'', pr->val_len), *q2;
    if (pr->quoted || !q1 || !(q2 = memchr(q1 + 1, '\'', pr->val_len - (size_t)(q1 + 1 - v))))
        return -1;
    int latin1 = ieq(v, (size_t)(q1 - v), "iso-8859-1");
    if (!latin1 && !ieq(v, (size_t)(q1 - v), "utf-8"))
        return -2;
    size_t o = 0;
    for (const char *s = q2 + 1, *end = v + pr->val_len; s < end; s++) {
        unsigned c = (unsigned char)*s;
        if (c == '%') {
            int hi = end - s > 2 ? hexval((unsigned char)s[1]) : -1, lo = hi >= 0 ? hexval((unsigned char)s[2]) : -1;
            if (lo < 0)
                return -1;
            c = (unsigned)(hi * 16 + lo);
            s += 2;
        } else if (c == '\'') {
            return -1;
        }
        if (o + 3 > cap) /* two bytes at most, and the NUL */
            return -1;
        if (latin1 && c >= 0x80) { /* ISO-8859-1 is the first 256 code points */
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (char)c;
        }
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (long)o;
}

/* Where decoded values go: p->val, of which `used` bytes are taken. Values decode to
 * no more bytes than they take in hdr, but for ISO-8859-1 doubling, so room runs out
 * only for such a value, and that is a malformed header. */
typedef struct valbuf {
    tern_mp *p;
    size_t used;
} valbuf;

static int disposition(valbuf *vb, const char *s, size_t n, tern_mp_part *part)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (!ieq(s, i, "form-data"))
        return -1;
    param pr;
    int r, have_star = 0;
    const char *plain = NULL;
    size_t plain_len = 0;
    while ((r = param_next(s, n, &i, &pr)) == 1) {
        char *out = vb->p->val + vb->used;
        size_t cap = sizeof vb->p->val - vb->used;
        long len;
        if (ieq(pr.name, pr.name_len, "name")) {
            if (part->name || (len = unquote(&pr, out, cap)) < 0)
                return -1;
            part->name = out;
            part->name_len = (size_t)len;
        } else if (ieq(pr.name, pr.name_len, "filename")) {
            if (plain || (len = unquote(&pr, out, cap)) < 0)
                return -1;
            plain = out;
            plain_len = (size_t)len;
        } else if (ieq(pr.name, pr.name_len, "filename*")) {
            if (have_star++ || (len = ext_value(&pr, out, cap)) == -1)
                return -1;
            if (len < 0)
                continue; /* another charset: ignored */
            part->filename = out;
            part->filename_len = (size_t)len;
        } else {
            continue;
        }
        vb->used += (size_t)len + 1;
    }
    if (r < 0)
        return -1;
    if (!part->filename && plain) {
        part->filename = plain;
        part->filename_len = plain_len;
    }
    return 0;
}

/* Parses hdr[0..hlen) (header lines, each ending CRLF, the last one empty) into part. */
static int parse_headers(tern_mp *p, tern_mp_part *part)
{
    char *h = p->hdr;
    size_t n = p->hlen;
    /* Every CR starts a CRLF, every LF ends one, no other control byte but tab; folds
     * (CRLF before space/tab) become two spaces. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '\r') {
            if (i + 1 >= n || h[i + 1] != '\n')
                return -1;
            if (i > 0 && i + 2 < n && is_ows((unsigned char)h[i + 2]) && h[i - 1] != '\n') {
                h[i] = h[i + 1] = ' ';
            }
            i++;
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return -1;
        }
    }
    valbuf vb = {p, 0};
    int have_cd = 0, have_ct = 0;
    size_t i = 0;
    while (i < n) {
        const char *line = h + i, *eol = memchr(line, '\r', n - i);
        size_t len = (size_t)(eol - line); /* validated: every CR has its LF */
        i += len + 2;
        if (len == 0)
            break; /* the blank line */
        size_t c = 0;
        while (c < len && is_tchar((unsigned char)line[c]))
            c++;
        if (c == 0 || c == len || line[c] != ':')
            return -1; /* also a fold on the first line, which starts with a space */
        size_t vs = skip_ows(line, len, c + 1), ve = len;
        while (ve > vs && is_ows((unsigned char)line[ve - 1]))
            ve--;
        if (ieq(line, c, "content-disposition")) {
            if (have_cd++ || disposition(&vb, line + vs, ve - vs, part) < 0)
                return -1;
        } else if (ieq(line, c, "content-type")) {
            if (have_ct++ || ve == vs || ve - vs >= sizeof p->val - vb.used)
                return -1;
            char *out = p->val + vb.used;
            memcpy(out, line + vs, ve - vs);
            out[ve - vs] = '\0';
            part->content_type = out;
            part->content_type_len = ve - vs;
            vb.used += ve - vs + 1;
        }
    }
    return 0;
}

/* ---- the body ----------------------------------------------------------------------- */

/* Scans d[*ip..n) for the delimiter in S_PREAMBLE or S_DATA, passing data on in S_DATA.
 * On a full match moves to S_AFTER (calling part_end for an open part). Returns 0 or
 * an error. */
static int scan(tern_mp *p, const char *d, size_t n, size_t *ip)
{
    size_t i = *ip, run = i; /* d[run..) is data not yet passed on */
    size_t held = p->k;      /* matched bytes from earlier pieces, d holds k - held more */
    size_t k = p->k;
    const char *delim = p->delim;
    for (;;) {
        if (k == 0) {
            const char *cr = i < n ? memchr(d + i, '\r', n - i) : NULL;
            if (!cr)
                break; /* all of d[run..n) is data (k is 0) */
            i = (size_t)(cr - d) + 1;
            k = 1;
            continue;
        }
        if (i == n)
            break;
        if (d[i] == delim[k]) {
            i++;
            if (++k < p->dlen)
                continue;
            /* The whole delimiter: data ends where its part in this piece starts. */
            int rc = emit(p, d + run, i - (k - held) - run);
            if (rc)
                return rc;
            *ip = i;
            p->k = 0;
            if (p->in_part) {
                p->in_part = 0;
                if (p->cb->part_end && p->cb->part_end(p->ud))
                    return fail(p, TERN_MP_ESTOPPED);
            }
            p->seen_delim = 1;
            p->state = S_AFTER;
            return 0;
        }
        /* No match: the bytes held from earlier pieces are data after all (this
         * piece's matched bytes stay in the run); d[i] is looked at again. */
        if (held) {
            int rc = emit(p, delim, held);
            if (rc)
                return rc;
            held = 0;
        }
        k = 0;
    }
    /* End of the piece: hold back what may start a delimiter. */
    int rc = emit(p, d + run, n - (k - held) - run);
    if (rc)
        return rc;
    p->k = k;
    *ip = n;
    return 0;
}

/* Collects header bytes from d[*ip..n); at the blank line parses them and begins the
 * part. Returns 0 or an error. */
static int headers(tern_mp *p, const char *d, size_t n, size_t *ip)
{
    size_t i = *ip;
    while (i < n) {
        const char *lf = memchr(d + i, '\n', n - i);
        size_t take = lf ? (size_t)(lf - (d + i)) + 1 : n - i;
        if (take > sizeof p->hdr - p->hlen)
            return fail(p, TERN_MP_EHEADER_SIZE);
        size_t line_start = p->hlen;
        memcpy(p->hdr + p->hlen, d + i, take);
        p->hlen += take;
        i += take;
        if (!lf)
            break;
        /* A line ended: the blank line is a lone CRLF (or a lone LF, refused below). */
        while (line_start > 0 && p->hdr[line_start - 1] != '\n')
            line_start--;
        if (p->hlen - line_start > 2 || (p->hlen - line_start == 2 && p->hdr[line_start] != '\r'))
            continue;
        tern_mp_part part = {.index = p->nparts};
        if (parse_headers(p, &part) < 0)
            return fail(p, TERN_MP_EHEADER);
        p->nparts++;
        p->in_part = 1;
        p->state = S_DATA;
        p->k = 0;
        *ip = i;
        if (p->cb->part_begin && p->cb->part_begin(p->ud, &part))
            return fail(p, TERN_MP_ESTOPPED);
        return 0;
    }
    *ip = i;
    return 0;
}

/* A delimiter line ended: a part begins unless there are too many. */
static int next_part(tern_mp *p)
{
    if (p->nparts >= p->max_parts)
        return fail(p, TERN_MP_ETOO_MANY);
    p->state = S_HEADERS;
    p->hlen = 0;
    return 0;
}

int tern_mp_feed(tern_mp *p, const char *data, size_t n)
{
    if (p->err)
        return p->err;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        unsigned char c = (unsigned char)data[i];
        switch (p->state) {
        case S_PREAMBLE:
        case S_DATA: rc = scan(p, data, n, &i); break;
        case S_HEADERS: rc = headers(p, data, n, &i); break;
        case S_AFTER:
            i++;
            if (c == '-')
                p->state = S_DASH;
            else if (is_ows(c))
                p->state = S_PAD;
            else if (c == '\r')
                p->state = S_LF;
            else
                rc = fail(p, TERN_MP_EDELIM);
            break;
        case S_PAD:
            i++;
            if (c == '\r')
                p->state = S_LF;
            else if (!is_ows(c))
                rc = fail(p, TERN_MP_EDELIM);
            break;
        case S_LF:
            i++;
            rc = c == '\n' ? next_part(p) : fail(p, TERN_MP_EDELIM);
            break;
        case S_DASH:
            i++;
            if (c != '-') {
                rc = fail(p, TERN_MP_EDELIM);
                break;
            }
            p->state = S_EPILOGUE;
            if (p->cb->done && p->cb->done(p->ud))
                rc = fail(p, TERN_MP_ESTOPPED);
            break;
        case S_EPILOGUE:
            p->epilogue += n - i;
            i = n;
            break;
        }
    }
    if (rc)
        return rc;
    return p->state == S_EPILOGUE ? TERN_MP_DONE : TERN_MP_OK;
}

int tern_mp_finish(tern_mp *p)
{
    if (p->err)
        return p->err;
    if (p->state == S_EPILOGUE)
        return TERN_MP_OK;
    return fail(p, p->seen_delim ? TERN_MP_ETRUNCATED : TERN_MP_ENODELIM);
}

/* ---- file names ----------------------------------------------------------------------- */

/* Length of the UTF-8 sequence led by c (1..4), or 0 for a byte that cannot lead one. */
static size_t utf8_seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* 1 if the valid UTF-8 sequence u[0..len) is a character a file name must not show:
 * C0 controls, DEL, C1 controls (U+0080..U+009F) and the bidirectional overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069) that make "gpj.exe" read "exe.jpg". */
static int unwanted(const unsigned char *u, size_t len)
{
    if (len == 1)
        return u[0] < 0x20 || u[0] == 0x7f;
    if (len == 2)
        return u[0] == 0xC2 && u[1] < 0xA0;
    if (len == 3 && u[0] == 0xE2)
        return (u[1] == 0x80 && u[2] >= 0xAA && u[2] <= 0xAE) || (u[1] == 0x81 && u[2] >= 0xA6 && u[2] <= 0xA9);
    return 0;
}

int tern_mp_safe_filename(const char *in, size_t n, char *out, size_t outsz)
{
    if (outsz < 5)
        return -1;
    size_t cap = outsz - 1 < TERN_MP_FILENAME_MAX ? outsz - 1 : TERN_MP_FILENAME_MAX;
    size_t s = n;
    while (s > 0 && in[s - 1] != '/' && in[s - 1] != '\\')
        s--; /* basename */
    while (s < n && (in[s] == '.' || in[s] == ' '))
        s++;
    while (n > s && in[n - 1] == ' ')
        n--;
    /* Where an extension (".xyz", up to 16 bytes, no dot inside) starts, kept on a cut.
     * It never gets longer on the way: a source byte yields at most one output byte. */
    size_t ext = n;
    for (size_t j = n; j > s && n - j < 16; j--)
        if (in[j - 1] == '.') {
            ext = j - 1;
            break;
        }
    size_t o = 0, ext_len = n - ext;
    for (size_t i = s; i < n;) {
        const unsigned char *u = (const unsigned char *)in + i;
        size_t len = utf8_seq_len(u[0]);
        int valid = len && len <= n - i && tern_utf8_valid(u, len);
        int ok = valid && !unwanted(u, len);
        size_t w = ok ? len : 1;
        size_t room = i < ext && ext_len < cap ? cap - ext_len : cap; /* room left for the extension */
        if (o + w > room) {
            if (i >= ext || o == 0)
                break; /* nothing of the stem fits: no extension alone (it would lead with '.') */
            i = ext;   /* cut the stem, go on with the extension */
            continue;
        }
        if (ok)
            memcpy(out + o, u, len);
        else
            out[o] = '_'; /* one for an unwanted character, one per byte of invalid UTF-8 */
        o += w;
        i += valid ? len : 1;
    }
    if (o == 0) {
        memcpy(out, "file", 4);
        o = 4;
    }
    out[o] = '\0';
    return (int)o;
}
