/*
 * settings.c — an app's settings over REST (docs/rest-api.md "App settings"), with the
 * app token:
 *   GET /{org}/{app}/settings   {"data":{"mediaMaxBytes":N, ...}}: every setting of the
 *                               table in apps.c with the value that applies to the app
 *   PUT /{org}/{app}/settings   {"mediaMaxBytes":N, ...}: sets the named ones (null: back
 *                               to the server's default); all or nothing
 * An unknown name is 1012, a value that is not an integer in the setting's range 1003
 * (the description gives the range); a string setting (a URL, an enum: the table's
 * `valid`) takes a JSON string and is shown as one, or null when it has no value. The change goes through the store's writer; the
 * app cache follows the commit, and the answer is the settings then in force.
 */
#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "hooks/webhook.h"
#include "rest/rest.h"

/* The app's settings as a JSON object, into d. */
static void settings_json(server *s, const app_info *a, tern_buf *d)
{
    size_t n;
    const app_setting_def *defs = apps_setting_defs(&n);
    tern_buf_putc(d, '{');
    for (size_t i = 0; i < n; i++) {
        tern_buf_printf(d, "%s\"%s\":", i ? "," : "", defs[i].key);
        if (defs[i].kind == APP_SETTING_STR) {
            const char *v = apps_setting_str(a, &defs[i]);
            if (v)
                tern_buf_json_str(d, v, strlen(v));
            else
                tern_buf_puts(d, "null");
        } else {
            tern_buf_printf(d, "%llu", (unsigned long long)apps_setting_get(s, a, &defs[i]));
        }
    }
    tern_buf_putc(d, '}');
}

static void reply_settings(const rctx *x)
{
    server *s = rest_server(x);
    app_info a = x->app;
    apps_find(s, x->app.org, strlen(x->app.org), x->app.name, strlen(x->app.name), &a); /* fresh */
    tern_buf d;
    tern_buf_init(&d, 0);
    settings_json(s, &a, &d);
    rest_reply_buf(x, TERN_OK, &d);
}

int settings_get(rctx *x, const http_msg *m)
{
    (void)m;
    reply_settings(x);
    return 0;
}

/* The change being stored: names and values (decimal text, or NULL). */
typedef struct settings_change {
    size_t n;
    const char *keys[32];
    char *values[32];
} settings_change;

static void change_free(void *ud)
{
    settings_change *c = ud;
    for (size_t i = 0; i < c->n; i++)
        tern_free(c->values[i]);
    tern_free(c);
}

static void change_after(rest_op *r)
{
    settings_change *c = r->ud;
    for (size_t i = 0; i < c->n; i++)
        apps_setting_cache(r->s, r->x.app.id, c->keys[i], c->values[i]);
    webhook_refresh(r->s);
}

static void change_finish(rest_op *r)
{
    if (r->op.result != TERN_OK) {
        rest_reply_err(&r->x, r->op.result);
        return;
    }
    reply_settings(&r->x);
}

/* Reads member v of the body into c; TERN_OK or the code after answering. */
static int read_member(const rctx *x, server *s, const cJSON *v, settings_change *c)
{
    char d[192];
    const app_setting_def *def = apps_setting_find(v->string, strlen(v->string));
    if (!def || c->n >= sizeof c->keys / sizeof c->keys[0]) {
        snprintf(d, sizeof d, "unknown setting \"%.64s\"", v->string);
        rest_reply_err_desc(x, TERN_ERR_NOT_SUPPORTED, NULL, d);
        return TERN_ERR_NOT_SUPPORTED;
    }
    for (size_t i = 0; i < c->n; i++)
        if (c->keys[i] == def->key) { /* cJSON keeps a repeated name: the last wins */
            tern_free(c->values[i]);
            c->values[i] = c->values[--c->n];
            c->keys[i] = c->keys[c->n];
            break;
        }
    uint64_t max = apps_setting_max(s, def);
    if (cJSON_IsNull(v)) {
        c->keys[c->n] = def->key;
        c->values[c->n++] = NULL;
        return TERN_OK;
    }
    if (def->kind == APP_SETTING_STR) {
        size_t n = cJSON_IsString(v) ? strlen(v->valuestring) : 0; /* the strict parse refused \u0000 */
        if (!n || n >= def->cap || !def->valid(v->valuestring, n)) {
            snprintf(d, sizeof d, "%s must be %s, or null for the default", def->key, def->what);
            rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL, d);
            return TERN_ERR_BAD_FIELD;
        }
        c->keys[c->n] = def->key;
        c->values[c->n++] = tern_strndup(v->valuestring, n);
        return TERN_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < (double)def->min || v->valuedouble > (double)max ||
        v->valuedouble != (double)(uint64_t)v->valuedouble) {
        snprintf(d, sizeof d, "%s must be an integer from %llu to %llu, or null for the default (%llu)", def->key,
                 (unsigned long long)def->min, (unsigned long long)max, (unsigned long long)apps_setting_default(s, def));
        rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL, d);
        return TERN_ERR_BAD_FIELD;
    }
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)(uint64_t)v->valuedouble);
    c->keys[c->n] = def->key;
    c->values[c->n++] = tern_strdup(num);
    return TERN_OK;
}

int settings_put(rctx *x, const http_msg *m)
{
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL, "the body must be an object of settings");
        return 0;
    }
    server *s = rest_server(x);
    settings_change *c = tern_calloc(1, sizeof *c);
    for (const cJSON *v = j->child; v; v = v->next) {
        if (read_member(x, s, v, c) != TERN_OK) {
            cJSON_Delete(j);
            change_free(c);
            return 0;
        }
    }
    cJSON_Delete(j);
    if (c->n == 0) { /* nothing to change */
        change_free(c);
        reply_settings(x);
        return 0;
    }
    rest_op *r = rest_op_new(x, change_finish);
    r->ud = c;
    r->free_ud = change_free;
    r->after = change_after;
    r->op.kind = STORE_OP_APP_SETTINGS;
    r->op.u.settings.keys = c->keys;
    r->op.u.settings.values = (const char *const *)c->values;
    r->op.u.settings.n = c->n;
    return rest_submit(r);
}
