/*
 * rest.c — the `tern` CLI's REST side: libcurl calls to docs/rest-api.md with the
 * response envelope unwrapped, app/user token acquisition (REST or local HMAC minting
 * via core/token.h), and the administrative verbs users, token, groups and apps.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/token.h"
#include "core/util.h"
#include "tern/errors.h"

#define MAX_RESPONSE (64u << 20)

/* ---- URLs ------------------------------------------------------------------------- */

/* Splits --server into scheme-less "host[:port]" and whether it is TLS (https://,
 * wss://); returns 0, or -1 after printing the error. */
static int server_hostport(const cli_opts *o, char *out, size_t outsz, int *tls)
{
    const char *s = o->server, *p;
    *tls = 0;
    if (!strncmp(s, "http://", 7))
        p = s + 7;
    else if (!strncmp(s, "ws://", 5))
        p = s + 5;
    else if (!strncmp(s, "https://", 8))
        p = s + 8, *tls = 1;
    else if (!strncmp(s, "wss://", 6))
        p = s + 6, *tls = 1;
    else if (!strstr(s, "://"))
        p = s; /* bare host:port */
    else {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "unsupported server URL %s (http://, https://, ws:// or wss://)", s);
        return -1;
    }
    size_t n = strcspn(p, "/?#");
    if (n == 0 || n >= outsz) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "bad server URL %s", s);
        return -1;
    }
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

int cli_rest_base(const cli_opts *o, char *out, size_t outsz)
{
    char hp[300];
    int tls;
    if (server_hostport(o, hp, sizeof hp, &tls) < 0)
        return -1;
    snprintf(out, outsz, "%s://%s", tls ? "https" : "http", hp);
    return 0;
}

int cli_ws_url(const cli_opts *o, char *out, size_t outsz)
{
    if ((!strncmp(o->server, "ws://", 5) && strchr(o->server + 5, '/')) ||
        (!strncmp(o->server, "wss://", 6) && strchr(o->server + 6, '/'))) {
        snprintf(out, outsz, "%s", o->server); /* a ws:// or wss:// URL with its own path */
        return 0;
    }
    char hp[300];
    int tls;
    if (server_hostport(o, hp, sizeof hp, &tls) < 0)
        return -1;
    snprintf(out, outsz, "%s://%s/ws", tls ? "wss" : "ws", hp);
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    tern_buf *b = ud;
    return tern_buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

static void print_rest_error(long status, const cJSON *root, const char *raw)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "error_description");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsNumber(code))
        cli_error((int)code->valuedouble, "%s (HTTP %ld)",
                  cJSON_IsString(desc)  ? desc->valuestring
                  : cJSON_IsString(err) ? err->valuestring
                                        : tern_strerror((int)code->valuedouble),
                  status);
    else
        cli_error(TERN_ERR_SDK_IO, "HTTP %ld: %.200s", status, raw && *raw ? raw : "(no body)");
}

int rest_call(const cli_opts *o, const char *method, const char *path, const char *body, const char *bearer,
              cJSON **out)
{
    char base[400], url[2048], auth[1200];
    *out = NULL;
    if (cli_rest_base(o, base, sizeof base) < 0)
        return -1;
    snprintf(url, sizeof url, "%s%s", base, path);
    CURL *h = curl_easy_init();
    if (!h) {
        cli_error(TERN_ERR_SDK_IO, "curl_easy_init failed");
        return -1;
    }
    tern_buf resp;
    tern_buf_init(&resp, MAX_RESPONSE);
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (o->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (o->verbose)
        fprintf(stderr, "> %s %s%s%s\n", method, url, body ? " " : "", body ? body : "");
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    int rc = -1;
    if (cc != CURLE_OK) {
        cli_error(TERN_ERR_SDK_IO, "%s %s: %s", method, url, curl_easy_strerror(cc));
        goto out;
    }
    cJSON *root = NULL;
    if (resp.len)
        tern_json_parse(resp.data, resp.len, &root);
    if (status < 200 || status > 299) {
        print_rest_error(status, root, resp.data);
        cJSON_Delete(root);
        goto out;
    }
    if (!root) {
        cli_error(TERN_ERR_BAD_JSON, "malformed JSON from the server (HTTP %ld)", status);
        goto out;
    }
    *out = root;
    rc = 0;
out:
    tern_buf_free(&resp);
    return rc;
}

/* Prints root.data compactly (else root.entities, the Easemob users' answers; else
 * root) on stdout. */
static int print_data(cJSON *root)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!data)
        data = cJSON_GetObjectItemCaseSensitive(root, "entities");
    char *s = cJSON_PrintUnformatted(data ? data : root);
    if (s) {
        puts(s);
        cJSON_free(s);
    }
    const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(root, "cursor");
    if (cJSON_IsString(cursor) && *cursor->valuestring)
        fprintf(stderr, "cursor: %s\n", cursor->valuestring);
    cJSON_Delete(root);
    fflush(stdout);
    return 0;
}

/* ---- tokens ----------------------------------------------------------------------- */

static int ident_ok(const char *what, const char *s)
{
    if (s && tern_ident_valid(s, strlen(s)))
        return 1;
    cli_error(TERN_ERR_SDK_INVALID_ARG, "%s %s is not a valid identifier (1-64 of [A-Za-z0-9_.@=+-])", what,
              s ? s : "(missing)");
    return 0;
}

static int app_ok(const cli_opts *o)
{
    if (!o->app) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--app ORG/APP (or TERN_APP) is required");
        return 0;
    }
    const char *slash = strchr(o->app, '/');
    if (!slash || !tern_ident_valid(o->app, (size_t)(slash - o->app)) ||
        !tern_ident_valid(slash + 1, strlen(slash + 1))) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--app must be ORG/APP, got %s", o->app);
        return 0;
    }
    return 1;
}

static char *mint(char kind, const cli_opts *o, const char *user, const char *secret, long ttl)
{
    char tok[TERN_TOKEN_MAX];
    int64_t exp = (int64_t)time(NULL) + (ttl > 0 ? ttl : 86400);
    if (tern_token_mint(kind, o->app, user ? user : "", exp, secret, tok, sizeof tok) < 0) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "cannot mint a token (check --app and the user name)");
        return NULL;
    }
    return tern_strdup(tok);
}

char *cli_app_token(const cli_opts *o)
{
    if (!app_ok(o))
        return NULL;
    if (o->app_token)
        return tern_strdup(o->app_token);
    if (o->client_secret && !o->client_id)
        return mint('a', o, NULL, o->client_secret, 3600);
    if (!o->client_id || !o->client_secret) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "an app token is needed: --app-token, or --client-id and "
                                            "--client-secret (env TERN_APP_TOKEN, TERN_CLIENT_ID, "
                                            "TERN_CLIENT_SECRET)");
        return NULL;
    }
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"grant_type\":\"client_credentials\",\"client_id\":");
    tern_buf_json_str(&b, o->client_id, strlen(o->client_id));
    tern_buf_puts(&b, ",\"client_secret\":");
    tern_buf_json_str(&b, o->client_secret, strlen(o->client_secret));
    tern_buf_puts(&b, ",\"ttl\":3600}");
    char path[300];
    snprintf(path, sizeof path, "/%s/token", o->app);
    cJSON *root = NULL;
    int rc = rest_call(o, "POST", path, b.data, NULL, &root);
    tern_buf_free(&b);
    if (rc < 0)
        return NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "access_token");
    char *tok = cJSON_IsString(t) ? tern_strdup(t->valuestring) : NULL;
    if (!tok)
        cli_error(TERN_ERR_BAD_JSON, "token response without access_token");
    cJSON_Delete(root);
    return tok;
}

static char *rest_user_token(const cli_opts *o, const char *user, long ttl)
{
    char *app_tok = cli_app_token(o);
    if (!app_tok)
        return NULL;
    char path[400], body[64] = "{}";
    snprintf(path, sizeof path, "/%s/users/%s/token", o->app, user);
    if (ttl > 0)
        snprintf(body, sizeof body, "{\"ttl\":%ld}", ttl);
    cJSON *root = NULL;
    int rc = rest_call(o, "POST", path, body, app_tok, &root);
    tern_free(app_tok);
    if (rc < 0)
        return NULL;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(data ? data : root, "access_token");
    char *tok = cJSON_IsString(t) ? tern_strdup(t->valuestring) : NULL;
    if (!tok)
        cli_error(TERN_ERR_BAD_JSON, "token response without access_token");
    cJSON_Delete(root);
    return tok;
}

char *cli_user_token(const cli_opts *o, const char *user)
{
    if (o->token)
        return tern_strdup(o->token);
    if (!app_ok(o) || !ident_ok("user", user))
        return NULL;
    if (o->secret)
        return mint('u', o, user, o->secret, 86400);
    if (o->app_token || o->client_secret)
        return rest_user_token(o, user, 86400);
    cli_error(TERN_ERR_SDK_INVALID_ARG, "a user token is needed: --token (env TERN_TOKEN), --secret to mint "
                                        "one, or app credentials to fetch one");
    return NULL;
}

/* ---- verbs ------------------------------------------------------------------------ */

static int need_args(const cli_opts *o, int n, const char *usage_cmd)
{
    if (o->npos >= n)
        return 1;
    cli_usage(usage_cmd, NULL);
    return 0;
}

/* Runs one /{org}/{app} call with the app token and prints data. */
static int app_call(const cli_opts *o, const char *method, const char *path_fmt_tail, const char *body)
{
    char *tok = cli_app_token(o);
    if (!tok)
        return 1;
    char path[1024];
    snprintf(path, sizeof path, "/%s%s", o->app, path_fmt_tail);
    cJSON *root = NULL;
    int rc = rest_call(o, method, path, body, tok, &root);
    tern_free(tok);
    if (rc < 0)
        return 1;
    print_data(root);
    return 0;
}

static int cmd_users(cli_opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    char tail[512];
    if (!sub) {
        cli_usage("users", NULL);
        return 2;
    }
    if (!strcmp(sub, "list")) {
        long limit = o->limit > 0 ? o->limit : 100;
        if (o->cursor && !ident_ok("cursor", o->cursor))
            return 1;
        snprintf(tail, sizeof tail, "/users?limit=%ld%s%s", limit, o->cursor ? "&cursor=" : "",
                 o->cursor ? o->cursor : "");
        return app_call(o, "GET", tail, NULL);
    }
    if (!need_args(o, 3, "users"))
        return 2;
    const char *name = o->pos[2];
    if (!ident_ok("user", name))
        return 1;
    if (!strcmp(sub, "create")) {
        tern_buf b;
        tern_buf_init(&b, 0);
        tern_buf_puts(&b, "{\"username\":");
        tern_buf_json_str(&b, name, strlen(name));
        if (o->nickname) {
            if (!tern_utf8_valid((const uint8_t *)o->nickname, strlen(o->nickname))) {
                tern_buf_free(&b);
                cli_error(TERN_ERR_SDK_INVALID_ARG, "--nickname is not valid UTF-8");
                return 1;
            }
            tern_buf_puts(&b, ",\"nickname\":");
            tern_buf_json_str(&b, o->nickname, strlen(o->nickname));
        }
        tern_buf_putc(&b, '}');
        int rc = app_call(o, "POST", "/users", b.data);
        tern_buf_free(&b);
        return rc;
    }
    snprintf(tail, sizeof tail, "/users/%s", name);
    if (!strcmp(sub, "get"))
        return app_call(o, "GET", tail, NULL);
    if (!strcmp(sub, "delete"))
        return app_call(o, "DELETE", tail, NULL);
    cli_usage("users", NULL);
    return 2;
}

static int cmd_token(cli_opts *o)
{
    if (!need_args(o, 2, "token"))
        return 2;
    const char *name = o->pos[1];
    if (!app_ok(o) || !ident_ok("user", name))
        return 1;
    char *tok =
        o->secret ? mint('u', o, name, o->secret, o->ttl > 0 ? o->ttl : 86400) : rest_user_token(o, name, o->ttl);
    if (!tok)
        return 1;
    puts(tok);
    tern_free(tok);
    return 0;
}

static int cmd_groups(cli_opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    char tail[512];
    if (!sub) {
        cli_usage("groups", NULL);
        return 2;
    }
    if (!strcmp(sub, "create")) {
        if (!o->name || !o->owner) {
            cli_usage("groups", NULL);
            return 2;
        }
        if (!ident_ok("owner", o->owner) || (o->id && !ident_ok("group", o->id)))
            return 1;
        if (!tern_utf8_valid((const uint8_t *)o->name, strlen(o->name))) {
            cli_error(TERN_ERR_SDK_INVALID_ARG, "--name is not valid UTF-8");
            return 1;
        }
        tern_buf b;
        tern_buf_init(&b, 0);
        tern_buf_putc(&b, '{');
        if (o->id) {
            tern_buf_puts(&b, "\"groupid\":");
            tern_buf_json_str(&b, o->id, strlen(o->id));
            tern_buf_putc(&b, ',');
        }
        tern_buf_puts(&b, "\"groupname\":");
        tern_buf_json_str(&b, o->name, strlen(o->name));
        tern_buf_puts(&b, ",\"owner\":");
        tern_buf_json_str(&b, o->owner, strlen(o->owner));
        tern_buf_puts(&b, ",\"members\":[");
        if (o->members && *o->members) {
            const char *p = o->members;
            int first = 1;
            while (*p) {
                size_t n = strcspn(p, ",");
                if (n) {
                    if (!tern_ident_valid(p, n)) {
                        tern_buf_free(&b);
                        cli_error(TERN_ERR_SDK_INVALID_ARG, "--members: invalid user %.*s", (int)n, p);
                        return 1;
                    }
                    if (!first)
                        tern_buf_putc(&b, ',');
                    first = 0;
                    tern_buf_json_str(&b, p, n);
                }
                p += n;
                if (*p == ',')
                    p++;
            }
        }
        tern_buf_puts(&b, "]}");
        int rc = app_call(o, "POST", "/chatgroups", b.data);
        tern_buf_free(&b);
        return rc;
    }
    if (!need_args(o, 3, "groups"))
        return 2;
    const char *g = o->pos[2];
    if (!strcmp(sub, "of")) {
        if (!ident_ok("user", g))
            return 1;
        snprintf(tail, sizeof tail, "/users/%s/joined_chatgroups", g);
        return app_call(o, "GET", tail, NULL);
    }
    if (!ident_ok("group", g))
        return 1;
    if (!strcmp(sub, "get") || !strcmp(sub, "dismiss")) {
        snprintf(tail, sizeof tail, "/chatgroups/%s", g);
        return app_call(o, !strcmp(sub, "get") ? "GET" : "DELETE", tail, NULL);
    }
    if (!strcmp(sub, "members")) {
        snprintf(tail, sizeof tail, "/chatgroups/%s/users", g);
        return app_call(o, "GET", tail, NULL);
    }
    if (!strcmp(sub, "add")) {
        if (!need_args(o, 4, "groups"))
            return 2;
        tern_buf b;
        tern_buf_init(&b, 0);
        tern_buf_puts(&b, "{\"usernames\":[");
        for (int i = 3; i < o->npos; i++) {
            if (!ident_ok("user", o->pos[i])) {
                tern_buf_free(&b);
                return 1;
            }
            if (i > 3)
                tern_buf_putc(&b, ',');
            tern_buf_json_str(&b, o->pos[i], strlen(o->pos[i]));
        }
        tern_buf_puts(&b, "]}");
        snprintf(tail, sizeof tail, "/chatgroups/%s/users", g);
        int rc = app_call(o, "POST", tail, b.data);
        tern_buf_free(&b);
        return rc;
    }
    if (!strcmp(sub, "remove")) {
        if (!need_args(o, 4, "groups"))
            return 2;
        if (!ident_ok("user", o->pos[3]))
            return 1;
        snprintf(tail, sizeof tail, "/chatgroups/%s/users/%s", g, o->pos[3]);
        return app_call(o, "DELETE", tail, NULL);
    }
    cli_usage("groups", NULL);
    return 2;
}

static int cmd_apps(cli_opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    if (!sub || (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0)) {
        cli_usage("apps", NULL);
        return 2;
    }
    if (!o->admin_token) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--admin-token (or TERN_ADMIN_TOKEN) is required; ternd prints it "
                                            "at start and keeps it in <data>/admin.token");
        return 1;
    }
    cJSON *root = NULL;
    if (!strcmp(sub, "list")) {
        if (rest_call(o, "GET", "/admin/apps", NULL, o->admin_token, &root) < 0)
            return 1;
        return print_data(root);
    }
    if (!need_args(o, 3, "apps"))
        return 2;
    const char *key = o->pos[2], *slash = strchr(key, '/');
    if (!slash || !tern_ident_valid(key, (size_t)(slash - key)) || !tern_ident_valid(slash + 1, strlen(slash + 1))) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "expected ORG/APP, got %s", key);
        return 1;
    }
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"org\":");
    tern_buf_json_str(&b, key, (size_t)(slash - key));
    tern_buf_puts(&b, ",\"app\":");
    tern_buf_json_str(&b, slash + 1, strlen(slash + 1));
    tern_buf_putc(&b, '}');
    int rc = rest_call(o, "POST", "/admin/apps", b.data, o->admin_token, &root);
    tern_buf_free(&b);
    if (rc < 0)
        return 1;
    return print_data(root);
}

int cmd_rest(cli_opts *o)
{
    int rc;
    const char *cmd = o->pos[0];
    if (!strcmp(cmd, "users"))
        rc = cmd_users(o);
    else if (!strcmp(cmd, "token"))
        rc = cmd_token(o);
    else if (!strcmp(cmd, "groups"))
        rc = cmd_groups(o);
    else
        rc = cmd_apps(o);
    return rc;
}
