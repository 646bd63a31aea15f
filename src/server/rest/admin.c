/*
 * admin.c — apps and tokens: GET/POST /admin/apps (admin token), the app token
 * (POST /{org}/{app}/token, client credentials in the body, answered without envelope
 * as Easemob does) and a user's token for WebSocket login
 * (POST /{org}/{app}/users/{user}/token). docs/rest-api.md.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/token.h"
#include "core/util.h"
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
    int rc = TERN_OK;
    if (!gt || strcmp(gt, "client_credentials") != 0 || !cid || !sec || (jttl && !cJSON_IsNumber(jttl)))
        rc = TERN_ERR_BAD_FIELD;
    else if (strlen(cid) != strlen(x->app.client_id) || strlen(sec) != strlen(x->app.secret) ||
             !tern_ct_equal(cid, x->app.client_id, strlen(cid)) || !tern_ct_equal(sec, x->app.secret, strlen(sec)))
        rc = TERN_ERR_BAD_CREDENTIALS;
    cJSON_Delete(j);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    char tok[TERN_TOKEN_MAX];
    if (tern_token_mint('a', x->app.key, "", tern_now_ms() / 1000 + ttl, x->app.secret, tok, sizeof tok) < 0) {
        rest_reply_err(x, TERN_ERR_INTERNAL);
        return 0;
    }
    char body[TERN_TOKEN_MAX + 128];
    int n = snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"expires_in\":%lld,\"application\":\"%lld\"}", tok,
                     ttl, (long long)x->app.id);
    rest_reply_raw(x, 200, "application/json", body, (size_t)n);
    return 0;
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
