/*
 * admin.c — apps and tokens: GET/POST /admin/apps (admin token), POST /{org}/{app}/token
 * (answered without envelope, as Easemob does) with Easemob's three grants —
 * client_credentials (the app token), password (a user token for username + password,
 * checked against the stored scrypt hash off the I/O loop) and inherit (a user token
 * vouched for by the app token, autoCreateUser making a missing user) — and Tern's own
 * user token route (POST /{org}/{app}/users/{user}/token). docs/rest-api.md.
 */
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/token.h"
#include "core/util.h"
#include "password.h"
#include "rest/rest.h"

#define DEFAULT_TTL (7 * 86400)
#define MAX_TTL (365 * 86400)

int admin_apps_list(rctx *x, const http_msg *m)
{
    server *s = rest_server(x);
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_putc(&d, '[');
    pthread_rwlock_rdlock(&s->apps_mu);
    for (size_t i = 0; i < s->napps; i++)
        tern_buf_printf(&d, "%s{\"org\":\"%s\",\"app\":\"%s\",\"client_id\":\"%s\"}", i ? "," : "", s->apps[i].org,
                        s->apps[i].name, s->apps[i].client_id);
    pthread_rwlock_unlock(&s->apps_mu);
    tern_buf_putc(&d, ']');
    rest_reply_buf(x, TERN_OK, &d);
    return 0;
}

int admin_apps_create(rctx *x, const http_msg *m)
{
    server *s = rest_server(x);
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    const char *org = jstr(j, "org"), *name = jstr(j, "app");
    if (!ident(org) || !ident(name)) {
        cJSON_Delete(j);
        rest_reply_err(x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    /* Rare admin action: blocks this loop for one commit. */
    app_info a;
    int rc =
        apps_find(s, org, strlen(org), name, strlen(name), &a) == 0 ? TERN_ERR_CONFLICT : apps_create(s, org, name, &a);
    cJSON_Delete(j);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    char d[512];
    int n = snprintf(d, sizeof d, "{\"org\":\"%s\",\"app\":\"%s\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
                     a.org, a.name, a.client_id, a.secret);
    rest_reply_ok(x, d, (size_t)n, NULL);
    return 0;
}

/* The token answer without envelope: {"access_token","expires_in",<tail>} (tail is
 * "application":"<id>" or "user":{...}). */
static void reply_token(const rctx *x, char kind, const char *user, long long ttl, const char *tail, size_t tn)
{
    char tok[TERN_TOKEN_MAX];
    if (tern_token_mint(kind, x->app.key, user, tern_now_ms() / 1000 + ttl, x->app.secret, tok, sizeof tok) < 0) {
        rest_reply_err(x, TERN_ERR_INTERNAL);
        return;
    }
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_printf(&b, "{\"access_token\":\"%s\",\"expires_in\":%lld,", tok, ttl);
    tern_buf_append(&b, tail, tn);
    tern_buf_putc(&b, '}');
    rest_reply_raw(x, 200, "application/json", b.data, b.len);
    tern_buf_free(&b);
}

/* Easemob's user in a token answer: the entity without nickname. */
static void token_user_row(void *ud, const store_user *u)
{
    store_user v = *u;
    v.nickname = NULL;
    tern_buf_puts(ud, "\"user\":");
    rest_user_entity(ud, &v);
}

/* A user token for the stored id user: {"access_token","expires_in","user":{...}}. */
static void reply_user_token(const rctx *x, const char *user, long long ttl)
{
    tern_buf t;
    tern_buf_init(&t, 0);
    int rc = store_user_get(rest_reader(x), x->app.id, user, token_user_row, &t);
    if (rc != TERN_OK)
        rest_reply_err(x, rc);
    else
        reply_token(x, 'u', user, ttl, t.data, t.len);
    tern_buf_free(&t);
}

/* grant_type=password and inherit: the operation carries the user (a), the ttl. */
typedef struct grant {
    long long ttl;
    char *pw;   /* password: the password, wiped when freed */
    char *hash; /* password: the stored hash, or NULL (a hash is computed anyway) */
} grant;

static void grant_free(void *ud)
{
    grant *g = ud;
    if (!g)
        return;
    if (g->pw) {
        OPENSSL_cleanse(g->pw, strlen(g->pw));
        tern_free(g->pw);
    }
    tern_free(g->hash);
    tern_free(g);
}

/* On libuv's pool. A user without a password costs one hash too, so the answer's
 * timing does not say which users have one. */
static void grant_verify(rest_op *r, size_t i)
{
    grant *g = r->ud;
    char dummy[PASSWORD_HASH_MAX];
    int ok = g->hash ? password_verify(g->pw, strlen(g->pw), g->hash) : (password_hash(g->pw, strlen(g->pw), dummy), 0);
    r->op.result = ok ? TERN_OK : TERN_ERR_BAD_PASSWORD;
    rest_op_done(r);
}

static void grant_finish(rest_op *r)
{
    /* inherit: a user created meanwhile by another request (conflict) exists too. */
    if (r->op.result != TERN_OK && r->op.result != TERN_ERR_CONFLICT)
        rest_reply_err(&r->x, r->op.result);
    else
        reply_user_token(&r->x, r->a, ((grant *)r->ud)->ttl);
}

static void hash_row(void *ud, const store_user *u)
{
    *(char **)ud = u->password ? tern_strdup(u->password) : NULL;
}

static int token_password(rctx *x, cJSON *j, long long ttl)
{
    const char *name = jstr(j, "username"), *pw = jstr(j, "password");
    char id[65] = ""; /* stays "" for a user that does not exist */
    if (!name || !pw || !*name) {
        rest_reply_err(x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    if (!password_valid(pw, strlen(pw))) {
        rest_reply_err(x, TERN_ERR_BAD_PASSWORD);
        return 0;
    }
    int f = rest_find_user(x, name, id);
    if (f < 0) {
        rest_reply_err(x, TERN_ERR_STORE);
        return 0;
    }
    grant *g = tern_calloc(1, sizeof *g);
    g->ttl = ttl;
    g->pw = tern_strdup(pw);
    if (f == 1 && store_user_get(rest_reader(x), x->app.id, id, hash_row, &g->hash) != TERN_OK)
        g->hash = NULL;
    rest_op *r = rest_op_new(x, grant_finish);
    r->a = tern_strdup(id);
    r->ud = g;
    r->free_ud = grant_free;
    return rest_run_off_loop(r, grant_verify, 1);
}

/* grant_type=inherit: the app token vouches for the user; autoCreateUser makes a
 * missing user (Easemob's username rule) first. */
static int token_inherit(rctx *x, const http_msg *m, cJSON *j, long long ttl)
{
    int rc = rest_check_app_token(x, m);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    const char *name = jstr(j, "username");
    cJSON *ac = cJSON_GetObjectItemCaseSensitive(j, "autoCreateUser");
    char id[65];
    if (!name || !*name || (ac && !cJSON_IsBool(ac))) {
        rest_reply_err(x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    int f = rest_find_user(x, name, id);
    if (f != 0) {
        if (f < 0)
            rest_reply_err(x, TERN_ERR_STORE);
        else
            reply_user_token(x, id, ttl);
        return 0;
    }
    if (!cJSON_IsTrue(ac)) {
        rest_reply_err_desc(x, TERN_ERR_USER_NOT_FOUND, "invalid_grant", "user not found"); /* Easemob's */
        return 0;
    }
    if (!easemob_username(name, id)) {
        rest_reply_bad_username(x, name);
        return 0;
    }
    grant *g = tern_calloc(1, sizeof *g);
    g->ttl = ttl;
    rest_op *r = rest_op_new(x, grant_finish);
    r->a = tern_strdup(id);
    r->ud = g;
    r->free_ud = grant_free;
    r->op.kind = STORE_OP_CREATE_USER;
    r->op.u.user.user = r->a;
    return rest_submit(r);
}

int app_token(rctx *x, const http_msg *m)
{
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    const char *gt = jstr(j, "grant_type"), *cid = jstr(j, "client_id"), *sec = jstr(j, "client_secret");
    cJSON *jttl = cJSON_GetObjectItemCaseSensitive(j, "ttl");
    long long ttl = DEFAULT_TTL;
    if (cJSON_IsNumber(jttl) && jttl->valuedouble >= 1 && jttl->valuedouble <= MAX_TTL)
        ttl = (long long)jttl->valuedouble;
    /* A user token's ttl 0 is Easemob's "never expires": the longest Tern gives. */
    if (cJSON_IsNumber(jttl) && jttl->valuedouble == 0 && gt && strcmp(gt, "client_credentials") != 0)
        ttl = MAX_TTL;
    int rc = TERN_OK, async = 0;
    int good = cJSON_IsObject(j) && gt && (!jttl || cJSON_IsNumber(jttl));
    if (good && !strcmp(gt, "password"))
        async = token_password(x, j, ttl); /* answers, now or later */
    else if (good && !strcmp(gt, "inherit"))
        async = token_inherit(x, m, j, ttl);
    else if (!good || strcmp(gt, "client_credentials") != 0 || !cid || !sec)
        rc = TERN_ERR_BAD_FIELD;
    else if (strlen(cid) != strlen(x->app.client_id) || strlen(sec) != strlen(x->app.secret) ||
             !tern_ct_equal(cid, x->app.client_id, strlen(cid)) || !tern_ct_equal(sec, x->app.secret, strlen(sec)))
        rc = TERN_ERR_BAD_CREDENTIALS;
    int creds = rc == TERN_OK && !strcmp(gt, "client_credentials");
    cJSON_Delete(j);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    if (creds) {
        char tail[64];
        int n = snprintf(tail, sizeof tail, "\"application\":\"%lld\"", (long long)x->app.id);
        reply_token(x, 'a', "", ttl, tail, (size_t)n);
    }
    return async;
}

int user_token(rctx *x, const http_msg *m)
{
    const char *user = x->user;
    long long ttl = DEFAULT_TTL;
    if (m->body.len) {
        cJSON *j = parse_body(x, m);
        if (!j)
            return 0;
        cJSON *jttl = cJSON_GetObjectItemCaseSensitive(j, "ttl");
        if (jttl && (!cJSON_IsNumber(jttl) || jttl->valuedouble < 1 || jttl->valuedouble > MAX_TTL)) {
            cJSON_Delete(j);
            rest_reply_err(x, TERN_ERR_BAD_FIELD);
            return 0;
        }
        if (jttl)
            ttl = (long long)jttl->valuedouble;
        cJSON_Delete(j);
    }
    if (!require_user(x, user))
        return 0;
    char tok[TERN_TOKEN_MAX];
    if (tern_token_mint('u', x->app.key, user, tern_now_ms() / 1000 + ttl, x->app.secret, tok, sizeof tok) < 0) {
        rest_reply_err(x, TERN_ERR_INTERNAL);
        return 0;
    }
    char d[TERN_TOKEN_MAX + 160];
    int n = snprintf(d, sizeof d, "{\"access_token\":\"%s\",\"expires_in\":%lld,\"user\":\"%s\"}", tok, ttl, user);
    rest_reply_ok(x, d, (size_t)n, NULL);
    return 0;
}
