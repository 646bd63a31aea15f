/*
 * router.c — the REST entry point and the only REST file that knows the connection.
 *
 * http_handle (called by the I/O loop for every complete request that is not an
 * upgrade) matches the request against the route table (rest/routes.c, with
 * rest/match.c), resolves the app, authenticates, checks captures, method and body limit in the order of router.h,
 * and calls the row's handler. The replies (rest_reply_*), the store reader and the
 * round-trip of asynchronous store operations through the loop's inbox
 * (rest_op_new / rest_submit / rest_op_done) are implemented here on top of the
 * connection, so the resource files depend on rest.h alone.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/token.h"
#include "core/util.h"
#include "rest/router.h"

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

void rest_reply_err_desc(const rctx *x, int code, const char *name, const char *description)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    rest_error_body_desc(&b, x, code, name, description);
    write_response(x, rest_status_of(code), "application/json", b.data, b.len);
    tern_buf_free(&b);
}

void rest_reply_members(const rctx *x, const char *members, size_t n)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    rest_envelope_members(&b, x, members, n);
    write_response(x, 200, "application/json", b.data, b.len);
    tern_buf_free(&b);
}

void rest_reply_ok(const rctx *x, const char *data, size_t n, const char *extra)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    rest_envelope(&b, x, data, n, extra);
    write_response(x, 200, "application/json", b.data, b.len);
    tern_buf_free(&b);
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

static void rest_on_loop(net_loop *nl, void *arg)
{
    rest_op *r = arg;
    conn *c = ioloop_find(ioloop_of(nl), r->conn_id);
    if (c && conn_is_http(c)) {
        r->x.net = c;
        r->finish(r);
        if (conn_is_http(c) && !r->file_reply)
            http_resume(c);
    }
    rest_op_free(r);
}

void rest_op_done(rest_op *r)
{
    inbox_item it = {.fn = rest_on_loop, .arg = r};
    inbox_push(&r->s->loops[r->loop], &it);
}

/* Work items queued and not yet finished, across loops: the pool's queue has a ceiling
 * (a flood of password grants must not queue without bound). */
#define OFF_LOOP_MAX 1024
static atomic_size_t off_loop_pending;

/* The work items live apart from r: r may be answered and freed (through rest_op_done)
 * before libuv runs the after-work callbacks on the loop. */
typedef struct off_loop_work {
    uv_work_t req;
    rest_op *r;
    size_t i;
} off_loop_work;

static void off_loop_run(uv_work_t *req)
{
    off_loop_work *w = req->data;
    w->r->off_loop(w->r, w->i);
}

static void off_loop_after(uv_work_t *req, int status)
{
    atomic_fetch_sub(&off_loop_pending, 1);
    tern_free(req->data);
}

int rest_run_off_loop(rest_op *r, void (*fn)(rest_op *r, size_t i), size_t n)
{
    conn *c = r->x.net;
    uv_loop_t *loop = net_loop_uv(c->loop->net);
    r->off_loop = fn;
    if (atomic_fetch_add(&off_loop_pending, n) + n > OFF_LOOP_MAX) {
        atomic_fetch_sub(&off_loop_pending, n);
        rest_reply_err(&r->x, TERN_ERR_OVERLOADED);
        rest_op_free(r);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        off_loop_work *w = tern_calloc(1, sizeof *w);
        w->r = r;
        w->i = i;
        w->req.data = w;
        /* uv_queue_work fails only without a work callback: never past the first item. */
        if (uv_queue_work(loop, &w->req, off_loop_run, off_loop_after) != 0) {
            atomic_fetch_sub(&off_loop_pending, n - i);
            tern_free(w);
            rest_reply_err(&r->x, TERN_ERR_INTERNAL);
            rest_op_free(r);
            return 0;
        }
    }
    return 1;
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
    if (auth != REST_AUTH_APP && auth != REST_AUTH_APP_USER)
        return TERN_OK;
    char tok[TERN_TOKEN_MAX];
    tern_token t;
    if (bearer(m, tok, sizeof tok) < 0 || tern_token_parse(tok, strlen(tok), &t) != 0 ||
        (t.kind != 'a' && !(auth == REST_AUTH_APP_USER && t.kind == 'u')))
        return TERN_ERR_TOKEN_INVALID;
    if (strcmp(t.appkey, x->app.key) != 0)
        return TERN_ERR_FORBIDDEN;
    return tern_token_verify(tok, strlen(tok), x->app.secret, tern_now_ms() / 1000);
}

int rest_check_app_token(const rctx *x, const http_msg *m)
{
    return check_auth(REST_AUTH_APP, m, x, x->net ? ((conn *)x->net)->loop->srv : NULL);
}

int rest_check_app_user_token(const rctx *x, const http_msg *m)
{
    return check_auth(REST_AUTH_APP_USER, m, x, x->net ? ((conn *)x->net)->loop->srv : NULL);
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

/* A new request context for m on c (the caller frees it). */
static rctx *rctx_new(conn *c, const http_msg *m)
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
    return x;
}

int http_handle(conn *c, const http_msg *m)
{
    server *s = c->loop->srv;
    rctx *x = rctx_new(c, m);
    const rest_route *route = NULL;
    int async = 0;
    int rc = route_request(x, m, s, &route);
    /* A body over the route's limit never gets here: the network layer refused it with
     * 413 before reading it (handlers.c asks rest_body_limit at the head). */
    if (rc != TERN_OK)
        rest_reply_err(x, rc);
    else
        async = route->fn(x, m);
    tern_free(x);
    /* A streamed body's sink the handler did not take (the request failed a check
     * after its head passed them): its owner hears `gone` now, not at the close. */
    rest_http_closed(c);
    return async;
}

/* ---- streamed request bodies ------------------------------------------------------------ */

struct rest_body {
    conn *c;
    int (*data)(void *ud, const char *p, size_t n);
    void (*gone)(void *ud);
    void *ud;
};

int rest_http_head(conn *c, const http_msg *m, size_t *limit)
{
    rest_match mt;
    if (rest_route_match(rest_routes, rest_nroutes, m->method, m->path, &mt) != TERN_OK || !mt.route->head) {
        *limit = rest_body_limit(m->method, m->path, *limit);
        return NET_BODY_WHOLE;
    }
    server *s = c->loop->srv;
    rctx *x = rctx_new(c, m);
    x->keep_alive = 0; /* a refusal closes: the body is not read */
    const rest_route *route = NULL;
    int rc = route_request(x, m, s, &route);
    int mode;
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        mode = NET_BODY_REFUSED;
    } else {
        mode = route->head(x, m, limit);
    }
    tern_free(x);
    return mode;
}

int rest_http_body(conn *c, const char *p, size_t n)
{
    if (!c->body) /* detached after a failure: the answer is written, drop the rest */
        return NET_BODY_MORE;
    return c->body->data(c->body->ud, p, n);
}

void rest_http_closed(conn *c)
{
    rest_body *b = c->body;
    if (!b)
        return;
    c->body = NULL;
    b->gone(b->ud);
    tern_free(b);
}

rest_body *rest_body_attach(const rctx *x, int (*data)(void *ud, const char *p, size_t n), void (*gone)(void *ud),
                            void *ud)
{
    conn *c = x->net;
    rest_http_closed(c); /* never two sinks on one connection */
    rest_body *b = tern_calloc(1, sizeof *b);
    *b = (rest_body){.c = c, .data = data, .gone = gone, .ud = ud};
    c->body = b;
    return b;
}

void rest_body_resume(rest_body *b)
{
    net_http_body_resume(conn_net(b->c));
}

void rest_body_detach(rest_body *b)
{
    if (b->c->body == b)
        b->c->body = NULL;
    tern_free(b);
}

void *rest_body_take(const rctx *x)
{
    conn *c = x->net;
    rest_body *b = c->body;
    if (!b)
        return NULL;
    void *ud = b->ud;
    rest_body_detach(b);
    return ud;
}

struct uv_loop_s *rest_uv_loop(const rctx *x)
{
    return net_loop_uv(((conn *)x->net)->loop->net);
}

int rest_reply_file(const rctx *x, const http_msg *m, int fd, uint64_t size, const char *content_type,
                    const char *extra_headers)
{
    net_http_serve_file(conn_net(x->net), m, fd, size, content_type, extra_headers);
    return 1;
}

void rest_op_reply_file(rest_op *r, const http_msg *m, int fd, uint64_t size, const char *content_type,
                        const char *extra_headers)
{
    r->file_reply = 1;
    rest_reply_file(&r->x, m, fd, size, content_type, extra_headers);
}

void rest_reply_ok_headers(const rctx *x, const char *data, size_t n, const char *extra_headers)
{
    conn *c = x->net;
    tern_buf env, b;
    tern_buf_init(&env, 0);
    tern_buf_init(&b, 0);
    rest_envelope(&env, x, data, n, NULL);
    http_write_head(&b, 200, "application/json", env.len, x->keep_alive, extra_headers);
    if (!x->head_only)
        tern_buf_append(&b, env.data, env.len);
    conn_write_raw(c, b.data, b.len);
    tern_buf_free(&b);
    tern_buf_free(&env);
    if (!x->keep_alive)
        conn_close(c, 0, NULL);
}

void rest_reply_status(const rctx *x, int status, const char *extra_headers)
{
    conn *c = x->net;
    tern_buf b;
    tern_buf_init(&b, 0);
    http_write_head(&b, status, NULL, 0, x->keep_alive, extra_headers);
    conn_write_raw(c, b.data, b.len);
    tern_buf_free(&b);
    if (!x->keep_alive)
        conn_close(c, 0, NULL);
}
