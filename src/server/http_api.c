/*
 * http_api.c — everything ternd answers over plain HTTP: the WebSocket upgrade, the
 * REST API of docs/rest-api.md (Easemob-style paths and envelope, Bearer app tokens),
 * /healthz and /metrics. Reads run on the loop; writes go through the store writer and
 * their responses are written when the result comes back through the loop's inbox
 * (the connection stops parsing pipelined requests meanwhile).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/token.h"
#include "core/util.h"
#include "msg.h"

#define MAX_SEGS 8
#define MAX_BATCH 60
#define MAX_TO 100
#define DEFAULT_TTL (7 * 86400)
#define MAX_TTL (365 * 86400)

int session_conversations_json(store_reader *r, int64_t app, const char *user, int limit, tern_buf *out);

/* Per-request context; copied into async operations. */
typedef struct rctx {
    int keep_alive;
    int method;
    int64_t start_ms;
    app_info app;  /* for /{org}/{app} paths */
    char rel[512]; /* path below /{org}/{app}, e.g. "/users" */
    char uri[640];
    char action[8];
    char seg[MAX_SEGS][130];
    int nseg;
} rctx;

/* ---- response writing --------------------------------------------------------------- */

static void write_response(conn *c, int keep_alive, int status, const char *body, size_t n)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    http_write_head(&b, status, "application/json", n, keep_alive, NULL);
    tern_buf_append(&b, body, n);
    conn_write_raw(c, b.data, b.len);
    tern_buf_free(&b);
    if (!keep_alive)
        conn_close(c, 0, NULL);
}

static int status_of(int code)
{
    switch (code) {
    case TERN_OK: return 200;
    case TERN_ERR_BAD_JSON:
    case TERN_ERR_BAD_FIELD:
    case TERN_ERR_UNSUPPORTED_TYPE:
    case TERN_ERR_MSG_TOO_LONG:
    case TERN_ERR_SYSTEM_CONV:
    case TERN_ERR_TOO_MANY: return 400;
    case TERN_ERR_TOKEN_INVALID:
    case TERN_ERR_TOKEN_EXPIRED:
    case TERN_ERR_BAD_CREDENTIALS: return 401;
    case TERN_ERR_FORBIDDEN:
    case TERN_ERR_GROUP_PERMISSION: return 403;
    case TERN_ERR_NOT_FOUND:
    case TERN_ERR_APP_NOT_FOUND:
    case TERN_ERR_GROUP_NOT_FOUND:
    case TERN_ERR_USER_NOT_FOUND: return 404;
    case TERN_ERR_METHOD: return 405;
    case TERN_ERR_CONFLICT: return 409;
    case TERN_ERR_RATE_LIMITED: return 429;
    case TERN_ERR_SHUTTING_DOWN:
    case TERN_ERR_OVERLOADED: return 503;
    default: return 500;
    }
}

static const char *error_name(int code)
{
    switch (code) {
    case TERN_ERR_BAD_JSON: return "invalid_request_body";
    case TERN_ERR_BAD_FIELD: return "illegal_argument";
    case TERN_ERR_TOKEN_INVALID:
    case TERN_ERR_TOKEN_EXPIRED: return "unauthorized";
    case TERN_ERR_BAD_CREDENTIALS: return "invalid_grant";
    case TERN_ERR_FORBIDDEN: return "forbidden_op";
    case TERN_ERR_NOT_FOUND: return "service_resource_not_found";
    case TERN_ERR_APP_NOT_FOUND: return "application_not_found";
    case TERN_ERR_USER_NOT_FOUND: return "user_not_found";
    case TERN_ERR_GROUP_NOT_FOUND: return "group_not_found";
    case TERN_ERR_GROUP_PERMISSION: return "forbidden_op";
    case TERN_ERR_CONFLICT: return "duplicate_unique_property_exists";
    case TERN_ERR_METHOD: return "method_not_allowed";
    case TERN_ERR_MSG_TOO_LONG: return "message_too_long";
    case TERN_ERR_SYSTEM_CONV: return "system_conversation";
    case TERN_ERR_TOO_MANY: return "too_many_items";
    default: return "internal_error";
    }
}

static void reply_err(conn *c, const rctx *x, int code)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_printf(&b, "{\"error\":\"%s\",\"code\":%d,\"error_description\":", error_name(code), code);
    const char *m = tern_strerror(code);
    tern_buf_json_str(&b, m, strlen(m));
    tern_buf_printf(&b, ",\"exception\":\"TernException\",\"timestamp\":%lld,\"duration\":%lld,\"path\":",
                    (long long)tern_now_ms(), (long long)(tern_now_ms() - x->start_ms));
    tern_buf_json_str(&b, x->rel, strlen(x->rel));
    tern_buf_putc(&b, '}');
    write_response(c, x->keep_alive, status_of(code), b.data, b.len);
    tern_buf_free(&b);
}

void http_send_error(conn *c, int keep_alive, int code, const char *path)
{
    rctx x = {.keep_alive = keep_alive, .start_ms = tern_now_ms()};
    snprintf(x.rel, sizeof x.rel, "%s", path ? path : "");
    reply_err(c, &x, code);
}

/* The seed-002 success envelope around data (and optional extra members). */
static void reply_ok(conn *c, const rctx *x, const char *data, size_t n, const char *extra)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"path\":");
    tern_buf_json_str(&b, x->rel, strlen(x->rel));
    tern_buf_puts(&b, ",\"uri\":");
    tern_buf_json_str(&b, x->uri, strlen(x->uri));
    tern_buf_printf(&b,
                    ",\"timestamp\":%lld,\"organization\":\"%s\",\"application\":\"%lld\",\"action\":\"%s\",\"data\":",
                    (long long)tern_now_ms(), x->app.org, (long long)x->app.id, x->action);
    tern_buf_append(&b, data, n);
    if (extra)
        tern_buf_puts(&b, extra);
    tern_buf_printf(&b, ",\"duration\":%lld,\"applicationName\":\"%s\"}", (long long)(tern_now_ms() - x->start_ms),
                    x->app.name);
    write_response(c, x->keep_alive, 200, b.data, b.len);
    tern_buf_free(&b);
}

/* ---- async store operations from REST ----------------------------------------------- */

typedef struct rest_op rest_op;
typedef void (*rest_finish)(conn *c, rest_op *r);

struct rest_op {
    store_op op;
    server *s;
    int loop;
    uint64_t conn_id;
    rctx x;
    rest_finish finish;        /* on the loop, with the connection (if still open) */
    void (*after)(rest_op *r); /* on the writer, after commit (cache invalidation, events) */
    char *a, *b;               /* owned strings */
    char **list;               /* owned list */
    size_t nlist;
    tern_buf out; /* response data built on the writer, or aggregated */
    int pending;  /* multi-recipient sends */
    int ok_count;
    pthread_mutex_t mu;
};

static void rest_op_free(rest_op *r)
{
    tern_free(r->a);
    tern_free(r->b);
    for (size_t i = 0; i < r->nlist; i++)
        tern_free(r->list[i]);
    tern_free(r->list);
    tern_buf_free(&r->out);
    pthread_mutex_destroy(&r->mu);
    tern_free(r);
}

static rest_op *rest_op_new(conn *c, const rctx *x, rest_finish fin)
{
    rest_op *r = tern_calloc(1, sizeof *r);
    r->s = c->loop->srv;
    r->loop = c->loop->index;
    r->conn_id = c->id;
    r->x = *x;
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
        r->finish(c, r);
        if (conn_is_http(c))
            http_resume(c);
    }
    rest_op_free(r);
}

static void rest_done(store_op *op)
{
    rest_op *r = op->ud;
    if (op->result == TERN_OK && r->after)
        r->after(r);
    inbox_item it = {.fn = rest_on_loop, .arg = r};
    inbox_push(&r->s->loops[r->loop], &it);
}

/* Submits r->op; returns 1 (async) or 0 after answering an error. */
static int rest_submit(conn *c, rest_op *r)
{
    r->op.done = rest_done;
    r->op.ud = r;
    r->op.app = r->x.app.id;
    int rc = atomic_load(&r->s->shutting_down) ? TERN_ERR_SHUTTING_DOWN : store_submit(r->s->st, &r->op);
    if (rc != TERN_OK) {
        reply_err(c, &r->x, rc);
        rest_op_free(r);
        return 0;
    }
    return 1;
}

/* Generic finish: error envelope, or the data built in r->out. */
static void finish_out(conn *c, rest_op *r)
{
    if (r->op.result != TERN_OK)
        reply_err(c, &r->x, r->op.result);
    else
        reply_ok(c, &r->x, r->out.data ? r->out.data : "{}", r->out.data ? r->out.len : 2, NULL);
}

/* ---- helpers ------------------------------------------------------------------------ */

static cJSON *parse_body(conn *c, const rctx *x, const http_msg *m)
{
    cJSON *j = m->body.len ? cJSON_ParseWithLength(m->body.data, m->body.len) : NULL;
    if (!j || !tern_utf8_valid((const uint8_t *)m->body.data, m->body.len)) {
        cJSON_Delete(j);
        reply_err(c, x, TERN_ERR_BAD_JSON);
        return NULL;
    }
    return j;
}

static const char *jstr(cJSON *o, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int ident(const char *s)
{
    return s && tern_ident_valid(s, strlen(s));
}

/* 1 if the app has the user; otherwise answers 20003 (or 5002) and returns 0. */
static int require_user(conn *c, const rctx *x, const char *user)
{
    int ex = store_user_exists(c->loop->reader, x->app.id, user);
    if (ex == 1)
        return 1;
    reply_err(c, x, ex < 0 ? TERN_ERR_STORE : TERN_ERR_USER_NOT_FOUND);
    return 0;
}

static void kick_user(server *s, int64_t app, const char *user, int code)
{
    char ev[128];
    int n = snprintf(ev, sizeof ev, "{\"ev\":\"kicked\",\"data\":{\"code\":%d,\"message\":\"%s\"}}", code,
                     tern_strerror(code));
    frame *f = frame_text(ev, (size_t)n);
    registry_push_user_close(s, app, user, 0, f, WS_CLOSE_KICKED);
    frame_unref(f);
}

static void conv_event(server *s, int64_t app, const char *user, const char *gid, const char *reason)
{
    char ev[256];
    int n = snprintf(ev, sizeof ev, "{\"ev\":\"conv\",\"data\":{\"conversationID\":\"GROUP%s\",\"reason\":\"%s\"}}",
                     gid, reason);
    frame *f = frame_text(ev, (size_t)n);
    registry_push_user(s, app, user, 0, f);
    frame_unref(f);
}

/* ---- /admin ------------------------------------------------------------------------- */

static int admin_apps(conn *c, rctx *x, const http_msg *m)
{
    server *s = c->loop->srv;
    if (x->method == HTTP_M_GET) {
        tern_buf d;
        tern_buf_init(&d, 0);
        tern_buf_putc(&d, '[');
        pthread_rwlock_rdlock(&s->apps_mu);
        for (size_t i = 0; i < s->napps; i++)
            tern_buf_printf(&d, "%s{\"org\":\"%s\",\"app\":\"%s\",\"client_id\":\"%s\"}", i ? "," : "", s->apps[i].org,
                            s->apps[i].name, s->apps[i].client_id);
        pthread_rwlock_unlock(&s->apps_mu);
        tern_buf_putc(&d, ']');
        reply_ok(c, x, d.data, d.len, NULL);
        tern_buf_free(&d);
        return 0;
    }
    if (x->method != HTTP_M_POST) {
        reply_err(c, x, TERN_ERR_METHOD);
        return 0;
    }
    cJSON *j = parse_body(c, x, m);
    if (!j)
        return 0;
    const char *org = jstr(j, "org"), *name = jstr(j, "app");
    if (!ident(org) || !ident(name)) {
        cJSON_Delete(j);
        reply_err(c, x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    /* Rare admin action: blocks this loop for one commit. */
    app_info a;
    int rc =
        apps_find(s, org, strlen(org), name, strlen(name), &a) == 0 ? TERN_ERR_CONFLICT : apps_create(s, org, name, &a);
    cJSON_Delete(j);
    if (rc != TERN_OK) {
        reply_err(c, x, rc);
        return 0;
    }
    char d[512];
    int n = snprintf(d, sizeof d, "{\"org\":\"%s\",\"app\":\"%s\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
                     a.org, a.name, a.client_id, a.secret);
    reply_ok(c, x, d, (size_t)n, NULL);
    return 0;
}

/* ---- token -------------------------------------------------------------------------- */

static int app_token(conn *c, rctx *x, const http_msg *m)
{
    cJSON *j = parse_body(c, x, m);
    if (!j)
        return 0;
    const char *gt = jstr(j, "grant_type"), *cid = jstr(j, "client_id"), *sec = jstr(j, "client_secret");
    cJSON *jttl = cJSON_GetObjectItemCaseSensitive(j, "ttl");
    long long ttl = DEFAULT_TTL;
    if (cJSON_IsNumber(jttl) && jttl->valuedouble >= 1 && jttl->valuedouble <= MAX_TTL)
        ttl = (long long)jttl->valuedouble;
    int rc = TERN_OK;
    if (!gt || strcmp(gt, "client_credentials") || !cid || !sec || (jttl && !cJSON_IsNumber(jttl)))
        rc = TERN_ERR_BAD_FIELD;
    else if (strlen(cid) != strlen(x->app.client_id) || strlen(sec) != strlen(x->app.secret) ||
             !tern_ct_equal(cid, x->app.client_id, strlen(cid)) || !tern_ct_equal(sec, x->app.secret, strlen(sec)))
        rc = TERN_ERR_BAD_CREDENTIALS;
    cJSON_Delete(j);
    if (rc != TERN_OK) {
        reply_err(c, x, rc);
        return 0;
    }
    char tok[TERN_TOKEN_MAX];
    if (tern_token_mint('a', x->app.key, "", tern_now_ms() / 1000 + ttl, x->app.secret, tok, sizeof tok) < 0) {
        reply_err(c, x, TERN_ERR_INTERNAL);
        return 0;
    }
    char body[TERN_TOKEN_MAX + 128];
    int n = snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"expires_in\":%lld,\"application\":\"%lld\"}", tok,
                     ttl, (long long)x->app.id);
    write_response(c, x->keep_alive, 200, body, (size_t)n);
    return 0;
}

static int user_token(conn *c, rctx *x, const http_msg *m, const char *user)
{
    long long ttl = DEFAULT_TTL;
    if (m->body.len) {
        cJSON *j = parse_body(c, x, m);
        if (!j)
            return 0;
        cJSON *jttl = cJSON_GetObjectItemCaseSensitive(j, "ttl");
        if (jttl && (!cJSON_IsNumber(jttl) || jttl->valuedouble < 1 || jttl->valuedouble > MAX_TTL)) {
            cJSON_Delete(j);
            reply_err(c, x, TERN_ERR_BAD_FIELD);
            return 0;
        }
        if (jttl)
            ttl = (long long)jttl->valuedouble;
        cJSON_Delete(j);
    }
    if (!require_user(c, x, user))
        return 0;
    char tok[TERN_TOKEN_MAX];
    if (tern_token_mint('u', x->app.key, user, tern_now_ms() / 1000 + ttl, x->app.secret, tok, sizeof tok) < 0) {
        reply_err(c, x, TERN_ERR_INTERNAL);
        return 0;
    }
    char d[TERN_TOKEN_MAX + 160];
    int n = snprintf(d, sizeof d, "{\"access_token\":\"%s\",\"expires_in\":%lld,\"user\":\"%s\"}", tok, ttl, user);
    reply_ok(c, x, d, (size_t)n, NULL);
    return 0;
}

/* ---- users -------------------------------------------------------------------------- */

/* Creating several users: one op per user, chained so they commit in one batch; the
 * last completion answers. Conflicts are reported per user. */
typedef struct multi {
    rest_op *r;
    store_op op;
    char *user, *nick;
} multi;

static void multi_done(store_op *op)
{
    multi *mu = op->ud;
    rest_op *r = mu->r;
    pthread_mutex_lock(&r->mu);
    if (op->result == TERN_OK) {
        if (r->ok_count++)
            tern_buf_putc(&r->out, ',');
        tern_buf_puts(&r->out, "{\"username\":");
        tern_buf_json_str(&r->out, mu->user, strlen(mu->user));
        if (mu->nick) {
            tern_buf_puts(&r->out, ",\"nickname\":");
            tern_buf_json_str(&r->out, mu->nick, strlen(mu->nick));
        }
        tern_buf_printf(&r->out, ",\"created\":%lld}", (long long)tern_now_ms());
    } else if (!r->op.result || r->op.result == TERN_ERR_CONFLICT) {
        r->op.result = op->result;
    }
    int last = --r->pending == 0;
    pthread_mutex_unlock(&r->mu);
    tern_free(mu->user);
    tern_free(mu->nick);
    tern_free(mu);
    if (last) {
        inbox_item it = {.fn = rest_on_loop, .arg = r};
        inbox_push(&r->s->loops[r->loop], &it);
    }
}

static void finish_users_created(conn *c, rest_op *r)
{
    /* All created, or partly: answer with those created; all failed: the error. */
    if (r->ok_count == 0 && r->op.result != TERN_OK) {
        reply_err(c, &r->x, r->op.result);
        return;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_putc(&d, '[');
    tern_buf_append(&d, r->out.data ? r->out.data : "", r->out.len);
    tern_buf_putc(&d, ']');
    reply_ok(c, &r->x, d.data, d.len, NULL);
    tern_buf_free(&d);
}

static int users_create(conn *c, rctx *x, const http_msg *m)
{
    cJSON *j = parse_body(c, x, m);
    if (!j)
        return 0;
    cJSON *arr = cJSON_IsArray(j) ? j : NULL;
    int n = arr ? cJSON_GetArraySize(arr) : 1;
    int rc = TERN_OK;
    if (n < 1 || n > MAX_BATCH)
        rc = n > MAX_BATCH ? TERN_ERR_TOO_MANY : TERN_ERR_BAD_FIELD;
    for (int i = 0; rc == TERN_OK && i < n; i++) {
        cJSON *u = arr ? cJSON_GetArrayItem(arr, i) : j;
        const char *name = cJSON_IsObject(u) ? jstr(u, "username") : NULL;
        cJSON *nick = cJSON_IsObject(u) ? cJSON_GetObjectItemCaseSensitive(u, "nickname") : NULL;
        if (!ident(name) || (nick && !cJSON_IsString(nick)) ||
            (cJSON_IsString(nick) && strlen(nick->valuestring) > 100))
            rc = TERN_ERR_BAD_FIELD;
    }
    if (rc != TERN_OK) {
        cJSON_Delete(j);
        reply_err(c, x, rc);
        return 0;
    }
    rest_op *r = rest_op_new(c, x, finish_users_created);
    r->pending = n;
    r->op.result = TERN_OK;
    multi **ops = tern_calloc((size_t)n, sizeof *ops);
    for (int i = 0; i < n; i++) {
        cJSON *u = arr ? cJSON_GetArrayItem(arr, i) : j;
        const char *nick = jstr(u, "nickname");
        multi *mu = tern_calloc(1, sizeof *mu);
        mu->r = r;
        mu->user = tern_strdup(jstr(u, "username"));
        mu->nick = nick ? tern_strdup(nick) : NULL;
        mu->op.kind = STORE_OP_CREATE_USER;
        mu->op.app = x->app.id;
        mu->op.done = multi_done;
        mu->op.ud = mu;
        mu->op.u.user.user = mu->user;
        mu->op.u.user.nickname = mu->nick;
        ops[i] = mu;
    }
    cJSON_Delete(j);
    for (int i = 0; i < n; i++) {
        int src = atomic_load(&r->s->shutting_down) ? TERN_ERR_SHUTTING_DOWN : store_submit(r->s->st, &ops[i]->op);
        if (src != TERN_OK) {
            /* Not queued: complete it here as failed (same accounting as the writer). */
            ops[i]->op.result = src;
            multi_done(&ops[i]->op);
        }
    }
    tern_free(ops);
    return 1;
}

typedef struct list_ctx {
    tern_buf *b;
    int n;
    char last[65];
} list_ctx;

static void user_row(void *ud, const char *user, const char *nick, int64_t created)
{
    list_ctx *l = ud;
    if (l->n++)
        tern_buf_putc(l->b, ',');
    tern_buf_puts(l->b, "{\"username\":");
    tern_buf_json_str(l->b, user, strlen(user));
    if (nick) {
        tern_buf_puts(l->b, ",\"nickname\":");
        tern_buf_json_str(l->b, nick, strlen(nick));
    }
    tern_buf_printf(l->b, ",\"created\":%lld}", (long long)created);
    snprintf(l->last, sizeof l->last, "%s", user);
}

static int users_list(conn *c, rctx *x, const http_msg *m)
{
    char lim[16], cur[80];
    int limit = 100;
    int ql = http_query_get(m->query, "limit", lim, sizeof lim);
    if (ql > 0 || ql == -2) {
        uint64_t v;
        if (ql < 0 || tern_parse_u64(lim, strlen(lim), &v) < 0 || v < 1 || v > 1000) {
            reply_err(c, x, TERN_ERR_BAD_FIELD);
            return 0;
        }
        limit = (int)v;
    }
    int qc = http_query_get(m->query, "cursor", cur, sizeof cur);
    if (qc == -2) {
        reply_err(c, x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    int has_cur = qc > 0;
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_putc(&d, '[');
    list_ctx l = {&d, 0, ""};
    int rc = store_user_list(c->loop->reader, x->app.id, has_cur ? cur : NULL, limit, user_row, &l);
    tern_buf_putc(&d, ']');
    if (rc != TERN_OK) {
        reply_err(c, x, rc);
    } else {
        char extra[128] = "";
        if (l.n == limit)
            snprintf(extra, sizeof extra, ",\"cursor\":\"%s\"", l.last);
        reply_ok(c, x, d.data, d.len, l.n == limit ? extra : NULL);
    }
    tern_buf_free(&d);
    return 0;
}

static int user_get(conn *c, rctx *x, const char *user)
{
    if (!require_user(c, x, user))
        return 0;
    int rc;
    /* The first row of the list at or after `user` is the user itself. */
    tern_buf d;
    tern_buf_init(&d, 0);
    list_ctx l = {&d, 0, ""};
    rc = store_user_list_from(c->loop->reader, x->app.id, user, 1, user_row, &l);
    if (rc != TERN_OK || l.n != 1)
        reply_err(c, x, rc != TERN_OK ? rc : TERN_ERR_USER_NOT_FOUND);
    else
        reply_ok(c, x, d.data, d.len, NULL);
    tern_buf_free(&d);
    return 0;
}

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static void strlist_add(void *ud, const char *s)
{
    strlist *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = tern_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = tern_strdup(s);
}

static void user_deleted_after(rest_op *r)
{
    for (size_t i = 0; i < r->nlist; i++)
        groups_invalidate(r->s, r->x.app.id, r->list[i]);
    kick_user(r->s, r->x.app.id, r->a, TERN_ERR_KICKED);
    tern_buf_puts(&r->out, "{\"username\":");
    tern_buf_json_str(&r->out, r->a, strlen(r->a));
    tern_buf_putc(&r->out, '}');
}

static int user_delete(conn *c, rctx *x, const char *user)
{
    rest_op *r = rest_op_new(c, x, finish_out);
    r->a = tern_strdup(user);
    strlist gl = {0};
    store_user_groups(c->loop->reader, x->app.id, user, strlist_add, &gl);
    r->list = gl.v;
    r->nlist = gl.n;
    r->op.kind = STORE_OP_DELETE_USER;
    r->op.u.user.user = r->a;
    r->after = user_deleted_after;
    return rest_submit(c, r);
}

static void group_id_row(void *ud, const char *gid)
{
    list_ctx *l = ud;
    if (l->n++)
        tern_buf_putc(l->b, ',');
    tern_buf_puts(l->b, "{\"groupid\":");
    tern_buf_json_str(l->b, gid, strlen(gid));
    tern_buf_putc(l->b, '}');
}

static int user_groups(conn *c, rctx *x, const char *user)
{
    if (!require_user(c, x, user))
        return 0;
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_putc(&d, '[');
    list_ctx l = {&d, 0, ""};
    int rc = store_user_groups(c->loop->reader, x->app.id, user, group_id_row, &l);
    tern_buf_putc(&d, ']');
    if (rc != TERN_OK)
        reply_err(c, x, rc);
    else
        reply_ok(c, x, d.data, d.len, NULL);
    tern_buf_free(&d);
    return 0;
}

static int user_conversations(conn *c, rctx *x, const http_msg *m, const char *user)
{
    char lim[16];
    int limit = 100;
    int ql = http_query_get(m->query, "limit", lim, sizeof lim);
    if (ql > 0 || ql == -2) {
        uint64_t v;
        if (ql < 0 || tern_parse_u64(lim, strlen(lim), &v) < 0 || v < 1 || v > 500) {
            reply_err(c, x, TERN_ERR_BAD_FIELD);
            return 0;
        }
        limit = (int)v;
    }
    if (!require_user(c, x, user))
        return 0;
    tern_buf d;
    tern_buf_init(&d, 0);
    int rc = session_conversations_json(c->loop->reader, x->app.id, user, limit, &d);
    if (rc != TERN_OK)
        reply_err(c, x, rc);
    else
        reply_ok(c, x, d.data, d.len, NULL);
    tern_buf_free(&d);
    return 0;
}

static int user_history(conn *c, rctx *x, const http_msg *m, const char *user, const char *cid)
{
    char v[24];
    uint64_t before = 0, limit = 20;
    int qb = http_query_get(m->query, "beforeSeq", v, sizeof v);
    if (qb == -2 || (qb >= 0 && tern_parse_u64(v, strlen(v), &before) < 0)) {
        reply_err(c, x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    int ql = http_query_get(m->query, "limit", v, sizeof v);
    if (ql == -2 || (ql >= 0 && (tern_parse_u64(v, strlen(v), &limit) < 0 || limit < 1 || limit > 100))) {
        reply_err(c, x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    char key[160], peer[80];
    int is_group;
    int rc = conv_parse(cid, strlen(cid), user, key, sizeof key, &is_group, peer, sizeof peer);
    if (rc == TERN_OK && is_group) {
        int err = 0;
        group_snap *g = groups_get(c->loop->srv, c->loop->reader, x->app.id, peer, &err);
        if (!g)
            rc = err;
        else {
            rc = group_snap_has(g, user) ? TERN_OK : TERN_ERR_FORBIDDEN;
            group_snap_unref(g);
        }
    }
    if (rc != TERN_OK) {
        reply_err(c, x, rc);
        return 0;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"messages\":");
    int more = 0;
    rc = store_history(c->loop->reader, x->app.id, key, before, (int)limit, &d, &more);
    tern_buf_printf(&d, ",\"more\":%s}", more ? "true" : "false");
    if (rc != TERN_OK)
        reply_err(c, x, rc);
    else
        reply_ok(c, x, d.data, d.len, NULL);
    tern_buf_free(&d);
    return 0;
}

/* ---- groups ------------------------------------------------------------------------- */

static void group_changed_after(rest_op *r)
{
    /* r->a = group id; r->list = users whose membership changed; r->b = reason. */
    groups_invalidate(r->s, r->x.app.id, r->a);
    for (size_t i = 0; i < r->nlist; i++)
        conv_event(r->s, r->x.app.id, r->list[i], r->a, r->b);
}

static void finish_group_created(conn *c, rest_op *r)
{
    if (r->op.result != TERN_OK) {
        reply_err(c, &r->x, r->op.result);
        return;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"groupid\":");
    tern_buf_json_str(&d, r->a, strlen(r->a));
    tern_buf_putc(&d, '}');
    reply_ok(c, &r->x, d.data, d.len, NULL);
    tern_buf_free(&d);
}

static int read_user_list(cJSON *arr, strlist *l, size_t max)
{
    if (!cJSON_IsArray(arr))
        return TERN_ERR_BAD_FIELD;
    if ((size_t)cJSON_GetArraySize(arr) > max)
        return TERN_ERR_TOO_MANY;
    cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || !ident(it->valuestring))
            return TERN_ERR_BAD_FIELD;
        strlist_add(l, it->valuestring);
    }
    return TERN_OK;
}

static void group_created_after(rest_op *r)
{
    /* Owner and initial members learn about their new conversation. */
    groups_invalidate(r->s, r->x.app.id, r->a);
    for (size_t i = 0; i < r->nlist; i++)
        conv_event(r->s, r->x.app.id, r->list[i], r->a, "joined");
}

static int group_create(conn *c, rctx *x, const http_msg *m)
{
    cJSON *j = parse_body(c, x, m);
    if (!j)
        return 0;
    const char *gid = jstr(j, "groupid"), *name = jstr(j, "groupname"), *owner = jstr(j, "owner");
    cJSON *jm = cJSON_GetObjectItemCaseSensitive(j, "members");
    strlist ml = {0};
    int rc = TERN_OK;
    if (!cJSON_IsObject(j) || (gid && !ident(gid)) || (owner && !ident(owner)) || (name && strlen(name) > 256))
        rc = TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK && jm)
        rc = read_user_list(jm, &ml, 2000);
    char gen[24];
    if (rc == TERN_OK && !gid) {
        /* Easemob-style numeric group id, time-ordered. */
        snprintf(gen, sizeof gen, "%llu", (unsigned long long)tern_idgen_next(&c->loop->srv->online_ids));
        gid = gen;
    }
    if (rc != TERN_OK) {
        cJSON_Delete(j);
        for (size_t i = 0; i < ml.n; i++)
            tern_free(ml.v[i]);
        tern_free(ml.v);
        reply_err(c, x, rc);
        return 0;
    }
    /* The list owns every string the op points at, the owner included (appended unless
     * already a member), and group_created_after tells everyone in it once. */
    const char *owner_copy = NULL;
    size_t nmembers = ml.n;
    for (size_t i = 0; owner && i < ml.n && !owner_copy; i++)
        if (!strcmp(ml.v[i], owner))
            owner_copy = ml.v[i];
    if (owner && !owner_copy) {
        strlist_add(&ml, owner);
        owner_copy = ml.v[ml.n - 1];
    }
    rest_op *r = rest_op_new(c, x, finish_group_created);
    r->a = tern_strdup(gid);
    r->b = tern_strdup(name ? name : gid);
    r->list = ml.v;
    r->nlist = ml.n;
    r->op.kind = STORE_OP_CREATE_GROUP;
    r->op.u.group.group_id = r->a;
    r->op.u.group.name = r->b;
    r->op.u.group.owner = owner_copy;
    r->op.u.group.members = (const char **)r->list;
    r->op.u.group.nmembers = nmembers;
    cJSON_Delete(j); /* gid, name and owner are copied above */
    r->after = group_created_after;
    return rest_submit(c, r);
}

static void owner_row(void *ud, const char *user)
{
    strlist_add(ud, user);
}

static int group_get(conn *c, rctx *x, const char *gid, int members)
{
    store_group g;
    int rc = store_group_get(c->loop->reader, x->app.id, gid, &g);
    if (rc != TERN_OK) {
        reply_err(c, x, rc);
        return 0;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    if (!members) {
        tern_buf_puts(&d, "{\"groupid\":");
        tern_buf_json_str(&d, g.id, strlen(g.id));
        tern_buf_puts(&d, ",\"groupname\":");
        tern_buf_json_str(&d, g.name, strlen(g.name));
        tern_buf_puts(&d, ",\"owner\":");
        tern_buf_json_str(&d, g.owner, strlen(g.owner));
        tern_buf_printf(&d, ",\"created\":%lld,\"affiliations_count\":%llu}", (long long)g.created_ms,
                        (unsigned long long)g.member_count);
    } else {
        strlist l = {0};
        rc = store_group_members(c->loop->reader, x->app.id, gid, owner_row, &l);
        tern_buf_putc(&d, '[');
        for (size_t i = 0; i < l.n; i++) {
            tern_buf_printf(&d, "%s{\"%s\":", i ? "," : "", strcmp(l.v[i], g.owner) ? "member" : "owner");
            tern_buf_json_str(&d, l.v[i], strlen(l.v[i]));
            tern_buf_putc(&d, '}');
            tern_free(l.v[i]);
        }
        tern_free(l.v);
        tern_buf_putc(&d, ']');
    }
    if (rc != TERN_OK)
        reply_err(c, x, rc);
    else
        reply_ok(c, x, d.data, d.len, NULL);
    tern_buf_free(&d);
    return 0;
}

static void finish_group_op(conn *c, rest_op *r)
{
    if (r->op.result != TERN_OK) {
        reply_err(c, &r->x, r->op.result);
        return;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"groupid\":");
    tern_buf_json_str(&d, r->a, strlen(r->a));
    if (r->op.kind == STORE_OP_DISMISS_GROUP) {
        tern_buf_puts(&d, ",\"success\":true}");
    } else if (r->nlist == 1 && r->x.nseg == 6) {
        tern_buf_puts(&d, ",\"user\":");
        tern_buf_json_str(&d, r->list[0], strlen(r->list[0]));
        tern_buf_puts(&d, ",\"result\":true}");
    } else {
        tern_buf_printf(&d, ",\"%s\":%zu}", r->op.kind == STORE_OP_ADD_MEMBERS ? "added" : "removed",
                        r->op.u.group.changed);
    }
    reply_ok(c, &r->x, d.data, d.len, NULL);
    tern_buf_free(&d);
}

static int group_dismiss(conn *c, rctx *x, const char *gid)
{
    rest_op *r = rest_op_new(c, x, finish_group_op);
    r->a = tern_strdup(gid);
    r->b = tern_strdup("dismissed");
    strlist l = {0};
    store_group_members(c->loop->reader, x->app.id, gid, owner_row, &l);
    r->list = l.v;
    r->nlist = l.n;
    r->op.kind = STORE_OP_DISMISS_GROUP;
    r->op.u.group.group_id = r->a;
    r->after = group_changed_after;
    return rest_submit(c, r);
}

static int group_members_change(conn *c, rctx *x, const http_msg *m, const char *gid, const char *one, int add)
{
    strlist l = {0};
    int rc = TERN_OK;
    if (one) {
        strlist_add(&l, one);
    } else {
        cJSON *j = parse_body(c, x, m);
        if (!j)
            return 0;
        rc = read_user_list(cJSON_GetObjectItemCaseSensitive(j, "usernames"), &l, MAX_BATCH);
        cJSON_Delete(j);
        if (rc == TERN_OK && l.n == 0)
            rc = TERN_ERR_BAD_FIELD;
    }
    if (rc != TERN_OK) {
        for (size_t i = 0; i < l.n; i++)
            tern_free(l.v[i]);
        tern_free(l.v);
        reply_err(c, x, rc);
        return 0;
    }
    rest_op *r = rest_op_new(c, x, finish_group_op);
    r->a = tern_strdup(gid);
    r->b = tern_strdup(add ? "joined" : "left");
    r->list = l.v;
    r->nlist = l.n;
    r->op.kind = add ? STORE_OP_ADD_MEMBERS : STORE_OP_REMOVE_MEMBERS;
    r->op.u.group.group_id = r->a;
    r->op.u.group.members = (const char **)r->list;
    r->op.u.group.nmembers = r->nlist;
    r->after = group_changed_after;
    return rest_submit(c, r);
}

/* ---- messages ----------------------------------------------------------------------- */

typedef struct rest_send {
    rest_op *r;
    char *target;
} rest_send;

static void rest_send_done(send_req *sr)
{
    rest_send *rs = sr->ud;
    rest_op *r = rs->r;
    pthread_mutex_lock(&r->mu);
    if (r->out.len)
        tern_buf_putc(&r->out, ',');
    tern_buf_json_str(&r->out, rs->target, strlen(rs->target));
    tern_buf_putc(&r->out, ':');
    if (sr->op.result == TERN_OK) {
        tern_buf_json_u64str(&r->out, sr->op.u.msg.msg_id);
        r->ok_count++;
    } else {
        tern_buf_printf(&r->out, "{\"code\":%d,\"message\":\"%s\"}", sr->op.result, tern_strerror(sr->op.result));
        r->op.result = sr->op.result;
    }
    int last = --r->pending == 0;
    pthread_mutex_unlock(&r->mu);
    tern_free(rs->target);
    tern_free(rs);
    send_req_free(sr);
    if (last) {
        inbox_item it = {.fn = rest_on_loop, .arg = r};
        inbox_push(&r->s->loops[r->loop], &it);
    }
}

static void finish_send(conn *c, rest_op *r)
{
    if (r->ok_count == 0 && r->nlist == 1) {
        reply_err(c, &r->x, r->op.result);
        return;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_putc(&d, '{');
    tern_buf_append(&d, r->out.data ? r->out.data : "", r->out.len);
    tern_buf_putc(&d, '}');
    if (r->ok_count == 0)
        reply_err(c, &r->x, r->op.result);
    else
        reply_ok(c, &r->x, d.data, d.len, NULL);
    tern_buf_free(&d);
}

static int messages_send(conn *c, rctx *x, const http_msg *m, int is_group)
{
    cJSON *j = parse_body(c, x, m);
    if (!j)
        return 0;
    server *s = c->loop->srv;
    const char *from = jstr(j, "from"), *type = jstr(j, "type"), *cmid = jstr(j, "clientMsgId");
    cJSON *jto = cJSON_GetObjectItemCaseSensitive(j, "to");
    cJSON *body = cJSON_GetObjectItemCaseSensitive(j, "body");
    cJSON *ext = cJSON_GetObjectItemCaseSensitive(j, "ext");
    strlist to = {0};
    int rc = TERN_OK;
    if (!from || !*from || !jto || !cJSON_IsObject(body) || (ext && !cJSON_IsObject(ext)) ||
        (cmid && strlen(cmid) > 64))
        rc = TERN_ERR_BAD_FIELD;
    else if (cJSON_IsString(jto))
        strlist_add(&to, jto->valuestring);
    else if (cJSON_IsArray(jto)) {
        if (cJSON_GetArraySize(jto) > MAX_TO)
            rc = TERN_ERR_TOO_MANY;
        cJSON *it;
        cJSON_ArrayForEach(it, jto)
        {
            if (!cJSON_IsString(it))
                rc = TERN_ERR_BAD_FIELD;
            else
                strlist_add(&to, it->valuestring);
        }
    } else
        rc = TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK && (!to.n || !ident(from)))
        rc = to.n ? TERN_ERR_USER_NOT_FOUND : TERN_ERR_BAD_FIELD;
    /* Each recipient gets its own message; with a clientMsgId, its idempotency key is
     * "<clientMsgId>:<recipient>", which must fit 64 bytes whole (a cut key would make
     * two recipients one message). A recipient listed twice is a mistake. */
    for (size_t i = 0; rc == TERN_OK && i < to.n; i++) {
        if (cmid && to.n > 1 && strlen(cmid) + 1 + strlen(to.v[i]) > 64)
            rc = TERN_ERR_BAD_FIELD;
        for (size_t k = 0; rc == TERN_OK && k < i; k++)
            if (!strcmp(to.v[i], to.v[k]))
                rc = TERN_ERR_BAD_FIELD;
    }
    if (rc == TERN_OK &&
        (!type || strcmp(type, "txt") || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(body, "msg"))))
        rc = type && strcmp(type, "txt") ? TERN_ERR_UNSUPPORTED_TYPE : TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK) {
        int ex = store_user_exists(c->loop->reader, x->app.id, from);
        if (ex != 1)
            rc = ex < 0 ? TERN_ERR_STORE : TERN_ERR_USER_NOT_FOUND;
    }
    if (rc != TERN_OK) {
        for (size_t i = 0; i < to.n; i++)
            tern_free(to.v[i]);
        tern_free(to.v);
        cJSON_Delete(j);
        reply_err(c, x, rc);
        return 0;
    }
    char *ccd = ext ? cJSON_PrintUnformatted(ext) : NULL;
    rest_op *r = rest_op_new(c, x, finish_send);
    r->list = to.v;
    r->nlist = to.n;
    r->pending = (int)to.n;
    r->op.result = TERN_OK;
    /* Validate and prepare every recipient first, then submit. */
    send_req **reqs = tern_calloc(to.n, sizeof *reqs);
    int *codes = tern_calloc(to.n, sizeof *codes);
    for (size_t i = 0; i < to.n; i++) {
        cJSON *msg = cJSON_CreateObject();
        cJSON_AddStringToObject(msg, "conversationType", is_group ? "GROUP" : "C2C");
        cJSON_AddStringToObject(msg, "to", to.v[i]);
        cJSON_AddStringToObject(msg, "type", "TIMTextElem");
        cJSON *p = cJSON_AddObjectToObject(msg, "payload");
        cJSON_AddStringToObject(p, "text", cJSON_GetObjectItemCaseSensitive(body, "msg")->valuestring);
        if (ccd)
            cJSON_AddStringToObject(msg, "cloudCustomData", ccd);
        if (cmid) {
            char k[160];
            /* One idempotency key per recipient (length checked above). */
            snprintf(k, sizeof k, "%s%s%s", cmid, to.n > 1 ? ":" : "", to.n > 1 ? to.v[i] : "");
            cJSON_AddStringToObject(msg, "clientMsgId", k);
        }
        codes[i] = msg_prepare(s, c->loop->reader, x->app.id, from, msg, &reqs[i]);
        cJSON_Delete(msg);
    }
    if (ccd)
        cJSON_free(ccd);
    cJSON_Delete(j);
    for (size_t i = 0; i < to.n; i++) {
        if (codes[i] == TERN_OK) {
            rest_send *rs = tern_calloc(1, sizeof *rs);
            rs->r = r;
            rs->target = tern_strdup(to.v[i]);
            reqs[i]->complete = rest_send_done;
            reqs[i]->ud = rs;
            codes[i] = msg_submit(reqs[i]);
            if (codes[i] == TERN_OK)
                continue;
            tern_free(rs->target);
            tern_free(rs);
            send_req_free(reqs[i]);
        }
        /* Failed before the store: account for it like a completion. */
        pthread_mutex_lock(&r->mu);
        if (r->out.len)
            tern_buf_putc(&r->out, ',');
        tern_buf_json_str(&r->out, to.v[i], strlen(to.v[i]));
        tern_buf_printf(&r->out, ":{\"code\":%d,\"message\":\"%s\"}", codes[i], tern_strerror(codes[i]));
        r->op.result = codes[i];
        int last = --r->pending == 0;
        pthread_mutex_unlock(&r->mu);
        if (last) {
            inbox_item it = {.fn = rest_on_loop, .arg = r};
            inbox_push(&s->loops[r->loop], &it);
        }
    }
    tern_free(reqs);
    tern_free(codes);
    return 1;
}

/* ---- routing ------------------------------------------------------------------------ */

static int split_path(tern_str path, rctx *x)
{
    size_t i = 0;
    x->nseg = 0;
    while (i < path.n) {
        while (i < path.n && path.p[i] == '/')
            i++;
        if (i >= path.n)
            break;
        size_t j = i;
        while (j < path.n && path.p[j] != '/')
            j++;
        if (x->nseg == MAX_SEGS)
            return -1;
        if (http_url_decode(path.p + i, j - i, x->seg[x->nseg], sizeof x->seg[0]) < 0)
            return -1;
        x->nseg++;
        i = j;
    }
    return 0;
}

static int bearer(const http_msg *m, char *out, size_t outsz)
{
    tern_str a = http_header_get(m, "Authorization");
    if (a.n < 8 || strncasecmp(a.p, "Bearer ", 7) != 0 || a.n - 7 >= outsz)
        return -1;
    memcpy(out, a.p + 7, a.n - 7);
    out[a.n - 7] = 0;
    return 0;
}

static int check_app_token(const http_msg *m, const app_info *app)
{
    char tok[TERN_TOKEN_MAX];
    tern_token t;
    if (bearer(m, tok, sizeof tok) < 0 || tern_token_parse(tok, strlen(tok), &t) != 0 || t.kind != 'a')
        return TERN_ERR_TOKEN_INVALID;
    if (strcmp(t.appkey, app->key) != 0)
        return TERN_ERR_FORBIDDEN;
    return tern_token_verify(tok, strlen(tok), app->secret, tern_now_ms() / 1000);
}

static int m_is(const rctx *x, int method)
{
    return x->method == method;
}

int http_handle(conn *c, const http_msg *m)
{
    server *s = c->loop->srv;
    rctx *x = tern_calloc(1, sizeof *x);
    int async = 0;
    x->keep_alive = m->keep_alive && !atomic_load(&s->shutting_down);
    x->method = m->method;
    x->start_ms = tern_now_ms();
    snprintf(x->action, sizeof x->action, "%s",
             m->method == HTTP_M_GET      ? "get"
             : m->method == HTTP_M_POST   ? "post"
             : m->method == HTTP_M_DELETE ? "delete"
             : m->method == HTTP_M_PUT    ? "put"
                                          : "other");
    snprintf(x->rel, sizeof x->rel, "%.*s", (int)(m->path.n < 500 ? m->path.n : 500), m->path.p);
    if (split_path(m->path, x) < 0) {
        reply_err(c, x, TERN_ERR_NOT_FOUND);
        goto out;
    }
    /* Health and metrics. */
    if (x->nseg == 1 && !strcmp(x->seg[0], "healthz")) {
        const char *b = atomic_load(&s->shutting_down) ? "{\"status\":\"stopping\"}" : "{\"status\":\"ok\"}";
        tern_buf h;
        tern_buf_init(&h, 0);
        http_write_head(&h, atomic_load(&s->shutting_down) ? 503 : 200, "application/json", strlen(b), x->keep_alive,
                        NULL);
        tern_buf_puts(&h, b);
        conn_write_raw(c, h.data, h.len);
        tern_buf_free(&h);
        if (!x->keep_alive)
            conn_close(c, 0, NULL);
        goto out;
    }
    if (x->nseg == 1 && !strcmp(x->seg[0], "metrics")) {
        tern_buf body, h;
        tern_buf_init(&body, 0);
        tern_buf_init(&h, 0);
        metrics_write(s, &body);
        http_write_head(&h, 200, "text/plain; version=0.0.4", body.len, x->keep_alive, NULL);
        tern_buf_append(&h, body.data, body.len);
        conn_write_raw(c, h.data, h.len);
        tern_buf_free(&body);
        tern_buf_free(&h);
        if (!x->keep_alive)
            conn_close(c, 0, NULL);
        goto out;
    }
    tern_str host = http_header_get(m, "Host");
    snprintf(x->uri, sizeof x->uri, "http://%.*s%.*s", (int)(host.n < 100 ? host.n : 100), host.p ? host.p : "",
             (int)(m->path.n < 500 ? m->path.n : 500), m->path.p);
    if (x->nseg >= 1 && !strcmp(x->seg[0], "admin")) {
        char tok[128];
        if (bearer(m, tok, sizeof tok) < 0 || strlen(tok) != strlen(s->admin_token) ||
            !tern_ct_equal(tok, s->admin_token, strlen(tok))) {
            reply_err(c, x, TERN_ERR_TOKEN_INVALID);
        } else if (x->nseg == 2 && !strcmp(x->seg[1], "apps")) {
            async = admin_apps(c, x, m);
        } else {
            reply_err(c, x, TERN_ERR_NOT_FOUND);
        }
        goto out;
    }
    if (x->nseg < 3) {
        reply_err(c, x, TERN_ERR_NOT_FOUND);
        goto out;
    }
    if (apps_find(s, x->seg[0], strlen(x->seg[0]), x->seg[1], strlen(x->seg[1]), &x->app) != 0) {
        reply_err(c, x, TERN_ERR_APP_NOT_FOUND);
        goto out;
    }
    /* Path below /{org}/{app} for the envelope. */
    {
        size_t skip = 0, segs = 0;
        while (skip < m->path.n && segs < 3) {
            if (m->path.p[skip] == '/')
                segs++;
            if (segs < 3)
                skip++;
        }
        snprintf(x->rel, sizeof x->rel, "%.*s", (int)(m->path.n - skip < 500 ? m->path.n - skip : 500),
                 m->path.p + skip);
    }
    const char *r0 = x->seg[2];
    if (x->nseg == 3 && !strcmp(r0, "token")) {
        if (!m_is(x, HTTP_M_POST))
            reply_err(c, x, TERN_ERR_METHOD);
        else
            async = app_token(c, x, m);
        goto out;
    }
    int arc = check_app_token(m, &x->app);
    if (arc != TERN_OK) {
        reply_err(c, x, arc);
        goto out;
    }
    const char *s3 = x->nseg > 3 ? x->seg[3] : NULL, *s4 = x->nseg > 4 ? x->seg[4] : NULL;
    int bad_method = 0;
    if (!strcmp(r0, "users")) {
        if (x->nseg == 3) {
            if (m_is(x, HTTP_M_POST))
                async = users_create(c, x, m);
            else if (m_is(x, HTTP_M_GET))
                async = users_list(c, x, m);
            else
                bad_method = 1;
        } else if (!ident(s3)) {
            reply_err(c, x, TERN_ERR_USER_NOT_FOUND);
        } else if (x->nseg == 4) {
            if (m_is(x, HTTP_M_GET))
                async = user_get(c, x, s3);
            else if (m_is(x, HTTP_M_DELETE))
                async = user_delete(c, x, s3);
            else
                bad_method = 1;
        } else if (x->nseg == 5 && !strcmp(s4, "token")) {
            if (m_is(x, HTTP_M_POST))
                async = user_token(c, x, m, s3);
            else
                bad_method = 1;
        } else if (x->nseg == 5 && !strcmp(s4, "joined_chatgroups")) {
            if (m_is(x, HTTP_M_GET))
                async = user_groups(c, x, s3);
            else
                bad_method = 1;
        } else if (x->nseg == 5 && !strcmp(s4, "conversations")) {
            if (m_is(x, HTTP_M_GET))
                async = user_conversations(c, x, m, s3);
            else
                bad_method = 1;
        } else if (x->nseg == 7 && !strcmp(s4, "conversations") && !strcmp(x->seg[6], "messages")) {
            if (m_is(x, HTTP_M_GET))
                async = user_history(c, x, m, s3, x->seg[5]);
            else
                bad_method = 1;
        } else {
            reply_err(c, x, TERN_ERR_NOT_FOUND);
        }
    } else if (!strcmp(r0, "chatgroups")) {
        if (x->nseg == 3) {
            if (m_is(x, HTTP_M_POST))
                async = group_create(c, x, m);
            else
                bad_method = 1;
        } else if (!ident(s3)) {
            reply_err(c, x, TERN_ERR_GROUP_NOT_FOUND);
        } else if (x->nseg == 4) {
            if (m_is(x, HTTP_M_GET))
                async = group_get(c, x, s3, 0);
            else if (m_is(x, HTTP_M_DELETE))
                async = group_dismiss(c, x, s3);
            else
                bad_method = 1;
        } else if (x->nseg == 5 && !strcmp(s4, "users")) {
            if (m_is(x, HTTP_M_GET))
                async = group_get(c, x, s3, 1);
            else if (m_is(x, HTTP_M_POST))
                async = group_members_change(c, x, m, s3, NULL, 1);
            else
                bad_method = 1;
        } else if (x->nseg == 6 && !strcmp(s4, "users")) {
            if (!ident(x->seg[5]))
                reply_err(c, x, TERN_ERR_USER_NOT_FOUND);
            else if (m_is(x, HTTP_M_POST))
                async = group_members_change(c, x, m, s3, x->seg[5], 1);
            else if (m_is(x, HTTP_M_DELETE))
                async = group_members_change(c, x, m, s3, x->seg[5], 0);
            else
                bad_method = 1;
        } else {
            reply_err(c, x, TERN_ERR_NOT_FOUND);
        }
    } else if (!strcmp(r0, "messages") && x->nseg == 4 && (!strcmp(s3, "users") || !strcmp(s3, "chatgroups"))) {
        if (m_is(x, HTTP_M_POST))
            async = messages_send(c, x, m, !strcmp(s3, "chatgroups"));
        else
            bad_method = 1;
    } else {
        reply_err(c, x, TERN_ERR_NOT_FOUND);
    }
    if (bad_method)
        reply_err(c, x, TERN_ERR_METHOD);
out:
    tern_free(x);
    return async;
}

/* ---- WebSocket upgrade -------------------------------------------------------------- */

static void upgrade_fail(conn *c, int status, const char *why)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":\"bad_upgrade\",\"code\":1003,\"error_description\":\"%s\"}", why);
    http_write_head(&b, status, "application/json", (size_t)n, 0, NULL);
    tern_buf_append(&b, body, (size_t)n);
    conn_write_raw(c, b.data, b.len);
    tern_buf_free(&b);
    conn_close(c, 0, NULL);
}

int http_upgrade(conn *c, const http_msg *m)
{
    if (m->method != HTTP_M_GET || !tern_str_eq(m->path, "/ws")) {
        upgrade_fail(c, 404, "WebSocket endpoint is GET /ws");
        return -1;
    }
    if (atomic_load(&c->loop->srv->shutting_down)) {
        upgrade_fail(c, 503, "server shutting down");
        return -1;
    }
    tern_str up = http_header_get(m, "Upgrade");
    tern_str key = http_header_get(m, "Sec-WebSocket-Key");
    tern_str ver = http_header_get(m, "Sec-WebSocket-Version");
    tern_str proto = http_header_get(m, "Sec-WebSocket-Protocol");
    if (!http_header_has_token(up, "websocket") || !key.n || !tern_str_eq(ver, "13")) {
        upgrade_fail(c, 400, "bad WebSocket handshake");
        return -1;
    }
    int offer = proto.n > 0;
    if (offer && !http_header_has_token(proto, "tern.v1")) {
        upgrade_fail(c, 400, "subprotocol tern.v1 required");
        return -1;
    }
    char accept[29];
    if (ws_accept_key(key.p, key.n, accept) < 0) {
        upgrade_fail(c, 400, "bad Sec-WebSocket-Key");
        return -1;
    }
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                     accept, offer ? "Sec-WebSocket-Protocol: tern.v1\r\n" : "");
    net_conn_ws_accept(conn_net(c), resp, (size_t)n);
    return 0;
}
