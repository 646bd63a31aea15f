/*
 * router.c — the REST entry point and the only REST file that knows the connection.
 *
 * http_handle (called by the I/O loop for every complete request that is not an
 * upgrade) matches the request against the route table (rest/routes.c), resolves the
 * app, authenticates, checks captures, method and body limit in the order of router.h,
 * and calls the row's handler. The replies (rest_reply_*), the store reader and the
 * round-trip of asynchronous store operations through the loop's inbox
 * (rest_op_new / rest_submit / rest_op_done) are implemented here on top of the
 * connection, so the resource files depend on rest.h alone.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/token.h"
#include "core/util.h"
#include "rest/router.h"

/* ---- matching (pure) ------------------------------------------------------------------ */

enum { SEG_LIT, SEG_ORG, SEG_APP, SEG_USER, SEG_GROUP, SEG_CONV };

typedef struct segs {
    char v[REST_MAX_SEGS][130];
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
        int kind;
    } caps[] = {
        {"{org}", SEG_ORG}, {"{app}", SEG_APP}, {"{user}", SEG_USER}, {"{group}", SEG_GROUP}, {"{conv}", SEG_CONV}};
    *kind = SEG_LIT;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        if (strlen(caps[i].name) == *n && !memcmp(caps[i].name, *s, *n))
            *kind = caps[i].kind;
    return 1;
}

/* The code for a capture of kind that is not valid, or 0 if it is. */
static int capture_error(int kind, const char *v)
{
    if (kind == SEG_CONV || ident(v))
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
            if (strlen(v) != n || memcmp(v, s, n) != 0)
                return 0;
            continue;
        }
        int e = capture_error(kind, v);
        if (e && !*bad)
            *bad = e;
        if (out && !e) {
            /* An identifier has at most 64 bytes; a segment at most 129. */
            char *dst = kind == SEG_USER    ? out->user
                        : kind == SEG_GROUP ? out->group
                        : kind == SEG_CONV  ? out->conv
                                            : NULL;
            if (dst)
                memcpy(dst, v, strlen(v) + 1);
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
    for (size_t i = 0; i < n; i++) {
        has_app_rows |= app_pattern(table[i].pattern);
        if (!out->path_route && !out->root_route && sg.n && first_literal(table[i].pattern, sg.v[0]))
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
    /* The rows of the same pattern: the one for the method, and the Allow list. */
    int want = method == HTTP_M_HEAD ? HTTP_M_GET : method;
    size_t al = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i].pattern, out->path_route->pattern) != 0)
            continue;
        if (table[i].method == want && !out->route)
            out->route = &table[i];
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

/* ---- the connection: replies, reader, async round-trip -------------------------------- */

static void write_response(const rctx *x, int status, const char *ctype, const char *body, size_t n)
{
    conn *c = x->net;
    char allow[96] = "";
    if (x->allow[0])
        snprintf(allow, sizeof allow, "Allow: %s\r\n", x->allow);
    tern_buf b;
    tern_buf_init(&b, 0);
    http_write_head(&b, status, ctype, n, x->keep_alive, allow[0] ? allow : NULL);
    if (!x->head_only)
        tern_buf_append(&b, body, n);
    conn_write_raw(c, b.data, b.len);
    tern_buf_free(&b);
    if (!x->keep_alive)
        conn_close(c, 0, NULL);
}

void rest_reply_raw(const rctx *x, int status, const char *content_type, const char *body, size_t n)
{
    write_response(x, status, content_type, body, n);
}

static void reply_err_status(const rctx *x, int status, int code)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    rest_error_body(&b, x, code);
    write_response(x, status, "application/json", b.data, b.len);
    tern_buf_free(&b);
}

void rest_reply_err(const rctx *x, int code)
{
    reply_err_status(x, rest_status_of(code), code);
}

void rest_reply_ok(const rctx *x, const char *data, size_t n, const char *extra)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    rest_envelope(&b, x, data, n, extra);
    write_response(x, 200, "application/json", b.data, b.len);
    tern_buf_free(&b);
}

void http_send_error(conn *c, int keep_alive, int code, const char *path)
{
    rctx x = {.net = c, .keep_alive = keep_alive, .start_ms = tern_now_ms()};
    snprintf(x.rel, sizeof x.rel, "%s", path ? path : "");
    rest_reply_err(&x, code);
}

store_reader *rest_reader(const rctx *x)
{
    return ((conn *)x->net)->loop->reader;
}

server *rest_server(const rctx *x)
{
    return ((conn *)x->net)->loop->srv;
}

rest_op *rest_op_new(const rctx *x, rest_finish fin)
{
    conn *c = x->net;
    rest_op *r = tern_calloc(1, sizeof *r);
    r->s = c->loop->srv;
    r->loop = c->loop->index;
    r->conn_id = c->id;
    r->x = *x; /* x.net is replaced by the looked-up connection before finish runs */
    r->finish = fin;
    tern_buf_init(&r->out, 0);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void rest_on_loop(ioloop *l, void *arg)
{
    rest_op *r = arg;
    conn *c = ioloop_find(l, r->conn_id);
    if (c && c->state == CONN_HTTP) {
        r->x.net = c;
        r->finish(r);
        if (c->state == CONN_HTTP)
            http_resume(c);
    }
    rest_op_free(r);
}

void rest_op_done(rest_op *r)
{
    inbox_item it = {.fn = rest_on_loop, .arg = r};
    inbox_push(&r->s->loops[r->loop], &it);
}

/* ---- dispatch --------------------------------------------------------------------------- */

static int bearer(const http_msg *m, char *out, size_t outsz)
{
    tern_str a = http_header_get(m, "Authorization");
    if (a.n < 8 || strncasecmp(a.p, "Bearer ", 7) != 0 || a.n - 7 >= outsz)
        return -1;
    memcpy(out, a.p + 7, a.n - 7);
    out[a.n - 7] = 0;
    return 0;
}

static int check_auth(rest_auth auth, const http_msg *m, const rctx *x, server *s)
{
    if (auth == REST_AUTH_ADMIN) {
        char tok[128];
        if (bearer(m, tok, sizeof tok) < 0 || strlen(tok) != strlen(s->admin_token) ||
            !tern_ct_equal(tok, s->admin_token, strlen(tok)))
            return TERN_ERR_TOKEN_INVALID;
        return TERN_OK;
    }
    if (auth != REST_AUTH_APP)
        return TERN_OK;
    char tok[TERN_TOKEN_MAX];
    tern_token t;
    if (bearer(m, tok, sizeof tok) < 0 || tern_token_parse(tok, strlen(tok), &t) != 0 || t.kind != 'a')
        return TERN_ERR_TOKEN_INVALID;
    if (strcmp(t.appkey, x->app.key) != 0)
        return TERN_ERR_FORBIDDEN;
    return tern_token_verify(tok, strlen(tok), x->app.secret, tern_now_ms() / 1000);
}

/* The envelope's path below /{org}/{app}: the raw path after its third '/'. */
static void rel_below_app(rctx *x, tern_str path)
{
    size_t skip = 0, slashes = 0;
    while (skip < path.n && slashes < 3) {
        if (path.p[skip] == '/')
            slashes++;
        if (slashes < 3)
            skip++;
    }
    snprintf(x->rel, sizeof x->rel, "%.*s", (int)(path.n - skip < 500 ? path.n - skip : 500), path.p + skip);
}

/* Fills x for m and finds its route; 0 with *route, or the error to answer. */
static int route_request(rctx *x, const http_msg *m, server *s, const rest_route **route)
{
    rest_match mt;
    int rc = rest_route_match(rest_routes, rest_nroutes, m->method, m->path, &mt);
    tern_str host = http_header_get(m, "Host");
    snprintf(x->uri, sizeof x->uri, "http://%.*s%.*s", (int)(host.n < 100 ? host.n : 100), host.p ? host.p : "",
             (int)(m->path.n < 500 ? m->path.n : 500), m->path.p);
    if (mt.app_scoped) {
        if (apps_find(s, mt.org, strlen(mt.org), mt.app, strlen(mt.app), &x->app) != 0)
            return TERN_ERR_APP_NOT_FOUND;
        rel_below_app(x, m->path);
    } else if (!mt.path_route && !mt.root_route) {
        return TERN_ERR_NOT_FOUND;
    }
    /* Authenticate before saying what the path holds: an unknown path takes the auth
     * of the root rows it starts like (/admin/...), or below an app the app token. */
    rest_auth auth = mt.path_route ? mt.path_route->auth : mt.root_route ? mt.root_route->auth : REST_AUTH_APP;
    int arc = check_auth(auth, m, x, s);
    if (arc != TERN_OK)
        return arc;
    if (rc == TERN_ERR_METHOD)
        snprintf(x->allow, sizeof x->allow, "%s", mt.allow);
    if (rc != TERN_OK)
        return rc;
    memcpy(x->user, mt.user, sizeof x->user);
    memcpy(x->group, mt.group, sizeof x->group);
    memcpy(x->conv, mt.conv, sizeof x->conv);
    *route = mt.route;
    return TERN_OK;
}

int http_handle(conn *c, const http_msg *m)
{
    server *s = c->loop->srv;
    rctx *x = tern_calloc(1, sizeof *x);
    x->net = c;
    x->keep_alive = m->keep_alive && !atomic_load(&s->shutting_down);
    x->method = m->method;
    x->head_only = m->method == HTTP_M_HEAD;
    x->start_ms = tern_now_ms();
    snprintf(x->action, sizeof x->action, "%s",
             m->method == HTTP_M_GET      ? "get"
             : m->method == HTTP_M_POST   ? "post"
             : m->method == HTTP_M_DELETE ? "delete"
             : m->method == HTTP_M_PUT    ? "put"
                                          : "other");
    snprintf(x->rel, sizeof x->rel, "%.*s", (int)(m->path.n < 500 ? m->path.n : 500), m->path.p);
    const rest_route *route = NULL;
    int async = 0;
    int rc = route_request(x, m, s, &route);
    if (rc != TERN_OK)
        rest_reply_err(x, rc);
    else if (m->body.len > (route->body_limit != REST_BODY_JSON ? route->body_limit : s->cfg.max_http_body))
        reply_err_status(x, 413, TERN_ERR_BAD_FIELD);
    else
        async = route->fn(x, m);
    tern_free(x);
    return async;
}
