/*
 * json.c — strict JSON entry (scanner + cJSON), getters and raw-frame scanners; see
 * json.h for the contract and why cJSON is not trusted alone.
 *
 * The scanner is recursive descent over RFC 8259 with the recursion bounded by
 * TERN_JSON_MAX_DEPTH. It allocates nothing and reads every byte once.
 */
#include "core/json.h"

#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "tern/errors.h"

/* ---- cJSON allocation ------------------------------------------------------------------ */

static void *cjson_malloc(size_t n)
{
    return tern_malloc(n);
}

static void cjson_free(void *p)
{
    tern_free(p);
}

void tern_json_use_tern_alloc(void)
{
    /* No realloc hook: cJSON then uses malloc+copy+free, all of them ours. */
    cJSON_Hooks h = {.malloc_fn = cjson_malloc, .free_fn = cjson_free};
    cJSON_InitHooks(&h);
}

/* ---- strict scanner ----------------------------------------------------------------- */

typedef struct scan {
    const char *p, *end;
    int nul;      /* \u0000 seen so far */
    int head_nul; /* ... in a top-level key or in the top-level "op" or "id" */
} scan;

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* At '"'. */
static int scan_string(scan *s)
{
    s->p++;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return -1; /* raw control characters (and NUL) must be escaped */
        if (c != '\\') {
            s->p++;
            continue;
        }
        if (s->end - s->p < 2)
            return -1;
        char e = s->p[1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            s->p += 2;
            continue;
        }
        unsigned u;
        if (e != 'u' || s->end - s->p < 6 || hex4(s->p + 2, &u) < 0)
            return -1;
        s->p += 6;
        if (u == 0)
            s->nul = 1;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return -1; /* a low surrogate alone */
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo;
            if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, &lo) < 0 || lo < 0xDC00 ||
                lo > 0xDFFF)
                return -1;
            s->p += 6;
        }
    }
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int scan_number(scan *s)
{
    const char *start = s->p;
    if (*s->p == '-')
        s->p++;
    if (s->p >= s->end || !is_digit(*s->p))
        return -1;
    if (*s->p == '0')
        s->p++;
    else
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return -1;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return -1;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    return s->p - start > TERN_JSON_MAX_NUMBER ? -1 : 0;
}

static int scan_lit(scan *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

static int scan_value(scan *s, int depth);

/* At '{' or '['. */
static int scan_container(scan *s, int depth)
{
    int obj = *s->p == '{';
    char close = obj ? '}' : ']';
    if (depth >= TERN_JSON_MAX_DEPTH)
        return -1;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        const char *key = s->p;
        int nul_before = s->nul;
        if (obj) {
            if (s->p >= s->end || *s->p != '"' || scan_string(s) < 0)
                return -1;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return -1;
            s->p++;
            skip_ws(s);
        }
        if (scan_value(s, depth + 1) < 0)
            return -1;
        if (depth == 0 && obj && s->nul != nul_before &&
            (!memcmp(key, "\"op\"", 4) || !memcmp(key, "\"id\"", 4) || key[1] == '\\'))
            s->head_nul = 1; /* cJSON's reading of op or id would be cut (or an escaped key) */
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == close) {
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return -1;
        s->p++;
        skip_ws(s);
    }
}

static int scan_value(scan *s, int depth)
{
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{':
    case '[': return scan_container(s, depth);
    case '"': return scan_string(s);
    case 't': return scan_lit(s, "true", 4);
    case 'f': return scan_lit(s, "false", 5);
    case 'n': return scan_lit(s, "null", 4);
    default: return scan_number(s);
    }
}

static int check(const char *p, size_t n, int *head_nul)
{
    scan s = {.p = p, .end = p + n};
    skip_ws(&s);
    if (scan_value(&s, 0) < 0)
        return TERN_ERR_BAD_JSON;
    skip_ws(&s);
    if (s.p != s.end)
        return TERN_ERR_BAD_JSON;
    *head_nul = s.head_nul;
    return s.nul ? TERN_ERR_BAD_FIELD : TERN_OK;
}

int tern_json_check(const char *p, size_t n)
{
    int head;
    return check(p, n, &head);
}

/* cJSON's parse of input the scanner passed. */
static int tree(const char *p, size_t n, cJSON **out)
{
    long failed = tern_alloc_failures();
    cJSON *j = cJSON_ParseWithLength(p, n);
    if (!j)
        /* The scan passed, so cJSON can only have run out of memory (or, were the two
         * to disagree on some input, refused it: then it is malformed for us too). */
        return tern_alloc_failures() != failed ? TERN_ERR_INTERNAL : TERN_ERR_BAD_JSON;
    *out = j;
    return TERN_OK;
}

int tern_json_parse(const char *p, size_t n, cJSON **out)
{
    *out = NULL;
    int head, rc = check(p, n, &head);
    return rc != TERN_OK ? rc : tree(p, n, out);
}

int tern_json_parse_request(const char *p, size_t n, cJSON **out)
{
    *out = NULL;
    int head, rc = check(p, n, &head);
    if (rc == TERN_ERR_BAD_FIELD && !head) {
        int t = tree(p, n, out);
        return t == TERN_OK ? TERN_ERR_BAD_FIELD : t;
    }
    return rc != TERN_OK ? rc : tree(p, n, out);
}

/* ---- getters ------------------------------------------------------------------------ */

static const cJSON *member(const cJSON *o, const char *name)
{
    if (!cJSON_IsObject(o))
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

int tern_json_get_str(const cJSON *o, const char *name, tern_str *out)
{
    const cJSON *v = member(o, name);
    if (!v)
        return TERN_JSON_ABSENT;
    if (!cJSON_IsString(v) || !v->valuestring)
        return TERN_JSON_INVALID;
    out->p = v->valuestring;
    out->n = strlen(v->valuestring); /* exact: tern_json_parse refuses NUL */
    return TERN_JSON_OK;
}

int tern_json_get_ident(const cJSON *o, const char *name, tern_str *out)
{
    tern_str s;
    int rc = tern_json_get_str(o, name, &s);
    if (rc != TERN_JSON_OK)
        return rc;
    if (!tern_ident_valid(s.p, s.n))
        return TERN_JSON_INVALID;
    *out = s;
    return TERN_JSON_OK;
}

int tern_json_int_value(const cJSON *v, long long lo, long long hi, long long *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    /* The range test first (it also fails NaN), so the cast below is defined; the cast
     * back tells an integer from 1.5 without libm (libtern links no libm). */
    if (!(d >= (double)lo && d <= (double)hi) || (double)(long long)d != d)
        return -1;
    *out = (long long)d;
    return 0;
}

int tern_json_get_int(const cJSON *o, const char *name, long long lo, long long hi, long long *out)
{
    const cJSON *v = member(o, name);
    if (!v)
        return TERN_JSON_ABSENT;
    return tern_json_int_value(v, lo, hi, out) == 0 ? TERN_JSON_OK : TERN_JSON_INVALID;
}

int tern_json_get_u64(const cJSON *o, const char *name, uint64_t *out)
{
    const cJSON *v = member(o, name);
    if (!v)
        return TERN_JSON_ABSENT;
    if (cJSON_IsString(v) && v->valuestring) {
        uint64_t u;
        if (tern_parse_u64(v->valuestring, strlen(v->valuestring), &u) < 0)
            return TERN_JSON_INVALID;
        *out = u;
        return TERN_JSON_OK;
    }
    long long i;
    if (tern_json_int_value(v, 0, TERN_JSON_MAX_SAFE_INT, &i) < 0)
        return TERN_JSON_INVALID;
    *out = (uint64_t)i;
    return TERN_JSON_OK;
}

int tern_json_get_bool(const cJSON *o, const char *name, int *out)
{
    const cJSON *v = member(o, name);
    if (!v)
        return TERN_JSON_ABSENT;
    if (!cJSON_IsBool(v))
        return TERN_JSON_INVALID;
    *out = cJSON_IsTrue(v);
    return TERN_JSON_OK;
}

const char *tern_json_str(const cJSON *o, const char *name)
{
    tern_str s;
    return tern_json_get_str(o, name, &s) == TERN_JSON_OK ? s.p : NULL;
}

int tern_json_only_keys(const cJSON *o, const char *const *names, size_t n)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, o)
    {
        size_t i = 0;
        while (k->string && i < n && strcmp(k->string, names[i]) != 0)
            i++;
        if (!k->string || i == n)
            return 0;
    }
    return 1;
}

int tern_json_true(const cJSON *o, const char *name)
{
    int b = 0;
    return tern_json_get_bool(o, name, &b) == TERN_JSON_OK && b;
}

size_t tern_json_escaped_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            len += 1;
        else if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            len += 2;
        else
            len += 6;
    }
    return len;
}

/* ---- raw-frame scanners ------------------------------------------------------------- */

static int raw_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *raw_value(const char *d, size_t n, const char *qkey)
{
    size_t klen = strlen(qkey);
    const char *end = d + n, *p = d;
    while (p < end && (p = memmem(p, (size_t)(end - p), qkey, klen)) != NULL) {
        const char *q = p + klen;
        while (q < end && raw_ws(*q))
            q++;
        if (q < end && *q == ':') {
            q++;
            while (q < end && raw_ws(*q))
                q++;
            return q < end ? q : NULL;
        }
        p += klen;
    }
    return NULL;
}

int tern_json_scan_str(const char *d, size_t n, const char *qkey, const char **out)
{
    const char *v = raw_value(d, n, qkey);
    if (!v || *v != '"')
        return -1;
    v++;
    const char *e = memchr(v, '"', (size_t)(d + n - v));
    if (!e)
        return -1;
    *out = v;
    return (int)(e - v);
}

int tern_json_scan_int(const char *d, size_t n, const char *qkey, long *out)
{
    const char *v = raw_value(d, n, qkey);
    if (!v)
        return -1;
    const char *end = d + n;
    int neg = 0;
    if (v < end && *v == '-') {
        neg = 1;
        v++;
    }
    if (v >= end || *v < '0' || *v > '9')
        return -1;
    long x = 0;
    while (v < end && *v >= '0' && *v <= '9' && x < 1000000000L)
        x = x * 10 + (*v++ - '0');
    *out = neg ? -x : x;
    return 0;
}
