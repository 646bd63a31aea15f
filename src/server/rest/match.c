/*
 * match.c — how a request finds its row in a route table (router.h): the path is split
 * and URL-decoded into segments, each row's pattern is fitted segment by segment
 * (literals equal, captures checked by kind), and the rows of the fitting pattern give
 * the row for the method and the Allow list. Pure: no server, no connection, so the
 * unit test and the fuzz harness drive it alone.
 */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "rest/router.h"

enum { SEG_LIT, SEG_ORG, SEG_APP, SEG_USER, SEG_GROUP, SEG_CONV };

typedef struct segs {
    char v[REST_MAX_SEGS][130];
    size_t len[REST_MAX_SEGS];
    size_t n;
} segs;

/* Splits and URL-decodes the path; empty segments are skipped. 0, or -1 (404) for a
 * bad escape, an escaped or raw NUL (a segment is a C string from here on: a NUL would
 * cut "alice\0x" to "alice"), too many segments, or one over 129 bytes decoded. */
static int split_path(tern_str path, segs *sg)
{
    size_t i = 0;
    sg->n = 0;
    while (i < path.n) {
        while (i < path.n && path.p[i] == '/')
            i++;
        if (i >= path.n)
            break;
        size_t j = i;
        while (j < path.n && path.p[j] != '/')
            j++;
        int dn = sg->n == REST_MAX_SEGS ? -1 : http_url_decode(path.p + i, j - i, sg->v[sg->n], sizeof sg->v[0]);
        if (dn < 0 || memchr(sg->v[sg->n], 0, (size_t)dn))
            return -1;
        sg->len[sg->n] = (size_t)dn;
        sg->n++;
        i = j;
    }
    return 0;
}

/* The next segment of a pattern at *p: its kind, text and length; 0 at the end. */
static int pat_next(const char **p, const char **s, size_t *n, int *kind)
{
    while (**p == '/')
        (*p)++;
    if (!**p)
        return 0;
    *s = *p;
    while (**p && **p != '/')
        (*p)++;
    *n = (size_t)(*p - *s);
    static const struct {
        const char *name;
        size_t len;
        int kind;
    } caps[] = {{"{org}", 5, SEG_ORG},
                {"{app}", 5, SEG_APP},
                {"{user}", 6, SEG_USER},
                {"{group}", 7, SEG_GROUP},
                {"{conv}", 6, SEG_CONV}};
    *kind = SEG_LIT;
    for (size_t i = 0; **s == '{' && i < sizeof caps / sizeof caps[0]; i++)
        if (caps[i].len == *n && !memcmp(caps[i].name, *s, *n))
            *kind = caps[i].kind;
    return 1;
}

/* The code for a capture of kind that is not valid, or 0 if it is. */
static int capture_error(int kind, const char *v, size_t n)
{
    if (kind == SEG_CONV || tern_ident_valid(v, n))
        return 0;
    return kind == SEG_USER    ? TERN_ERR_USER_NOT_FOUND
           : kind == SEG_GROUP ? TERN_ERR_GROUP_NOT_FOUND
                               : TERN_ERR_APP_NOT_FOUND;
}

/* 1 if pattern fits the segments (literals equal, as many segments). *bad gets the
 * code of the first invalid capture met before a literal differed (0: none). With out,
 * the captures are copied into it. */
static int fit(const char *pattern, const segs *sg, int *bad, rest_match *out)
{
    const char *p = pattern, *s;
    size_t n, i = 0;
    int kind;
    *bad = 0;
    for (; pat_next(&p, &s, &n, &kind); i++) {
        if (i == sg->n)
            return 0;
        const char *v = sg->v[i];
        if (kind == SEG_LIT) {
            if (sg->len[i] != n || memcmp(v, s, n) != 0)
                return 0;
            continue;
        }
        int e = capture_error(kind, v, sg->len[i]);
        if (e && !*bad)
            *bad = e;
        if (out && !e) {
            /* An identifier has at most 64 bytes; a segment at most 129. */
            char *dst = kind == SEG_USER    ? out->user
                        : kind == SEG_GROUP ? out->group
                        : kind == SEG_CONV  ? out->conv
                                            : NULL;
            if (dst)
                memcpy(dst, v, sg->len[i] + 1);
        }
    }
    return i == sg->n;
}

static int app_pattern(const char *pattern)
{
    return !strncmp(pattern, "/{org}/{app}/", 13);
}

/* 1 if the pattern's first segment is the literal seg. */
static int first_literal(const char *pattern, const char *seg)
{
    const char *s;
    size_t n;
    int kind;
    return pat_next(&pattern, &s, &n, &kind) && kind == SEG_LIT && strlen(seg) == n && !memcmp(seg, s, n);
}

static const char *method_name(int method)
{
    switch (method) {
    case HTTP_M_GET: return "GET";
    case HTTP_M_POST: return "POST";
    case HTTP_M_PUT: return "PUT";
    case HTTP_M_DELETE: return "DELETE";
    case HTTP_M_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

int rest_route_match(const rest_route *table, size_t n, int method, tern_str path, rest_match *out)
{
    memset(out, 0, sizeof *out);
    segs sg;
    if (split_path(path, &sg) < 0)
        return TERN_ERR_NOT_FOUND;
    int first_bad = 0, bad;
    int has_app_rows = 0;
    for (size_t i = 0; i < n && !out->path_route; i++) {
        if (fit(table[i].pattern, &sg, &bad, NULL))
            out->path_route = &table[i];
        else if (bad && !first_bad)
            first_bad = bad;
    }
    /* An unknown path that starts like root rows (/admin/...) is theirs; otherwise,
     * with three segments or more, it lies below an app. */
    for (size_t i = 0; !out->path_route && i < n; i++) {
        has_app_rows |= app_pattern(table[i].pattern);
        if (!out->root_route && sg.n && first_literal(table[i].pattern, sg.v[0]))
            out->root_route = &table[i];
    }
    if (out->path_route)
        out->app_scoped = app_pattern(out->path_route->pattern);
    else
        out->app_scoped = !out->root_route && has_app_rows && sg.n >= 3;
    if (out->app_scoped) {
        snprintf(out->org, sizeof out->org, "%s", sg.v[0]);
        snprintf(out->app, sizeof out->app, "%s", sg.v[1]);
    }
    if (!out->path_route)
        return first_bad ? first_bad : TERN_ERR_NOT_FOUND;
    fit(out->path_route->pattern, &sg, &out->bad_capture, out);
    /* The rows of the same pattern: the one for the method, else the Allow list. */
    int want = method == HTTP_M_HEAD ? HTTP_M_GET : method;
    for (size_t i = 0; i < n && !out->route; i++)
        if (table[i].method == want && !strcmp(table[i].pattern, out->path_route->pattern))
            out->route = &table[i];
    size_t al = 0;
    for (size_t i = 0; !out->route && i < n; i++) {
        if (strcmp(table[i].pattern, out->path_route->pattern) != 0)
            continue;
        int w = snprintf(out->allow + al, sizeof out->allow - al, "%s%s%s", al ? ", " : "",
                         method_name(table[i].method), table[i].method == HTTP_M_GET ? ", HEAD" : "");
        if (w > 0 && (size_t)w < sizeof out->allow - al)
            al += (size_t)w;
    }
    if (out->bad_capture)
        return out->bad_capture;
    return out->route ? TERN_OK : TERN_ERR_METHOD;
}

size_t rest_body_limit(int method, tern_str path, size_t json_limit)
{
    rest_match mt;
    if (rest_route_match(rest_routes, rest_nroutes, method, path, &mt) == TERN_OK &&
        mt.route->body_limit != REST_BODY_JSON)
        return mt.route->body_limit;
    return json_limit;
}
