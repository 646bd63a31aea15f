/*
 * msgext.c — message extensions shared by the WebSocket ops and the REST routes; see
 * msgext.h for the rules. Reads and checks run on the caller's loop with its store
 * reader; the write, the answer and the events on the store writer.
 */
#include "msgext.h"

#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/conv.h"
#include "core/json.h"
#include "delivery.h"
#include "msgget.h"
#include "tern/errors.h"

void msgext_free(ext_req *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n; i++) {
        tern_free(x->keys[i]);
        tern_free(x->values[i]);
        tern_free(x->out_values[i]);
    }
    for (size_t i = 0; i < x->nonly; i++)
        tern_free(x->only[i]);
    tern_free(x->only);
    group_snap_unref(x->snap);
    tern_free(x->reply_id);
    tern_free(x);
}

/* Appends "conversationID":"<C2C|GROUP><id>" as `me` sees the message's conversation. */
static void put_conv_id(tern_buf *b, const ext_req *x, const char *me)
{
    tern_buf_puts(b, "\"conversationID\":");
    const char *peer = x->is_group ? x->to : strcmp(me, x->from) ? x->from : x->to;
    tern_buf_putc(b, '"');
    tern_conv_id_append(b, x->is_group ? TERN_CONV_KIND_GROUP : TERN_CONV_KIND_C2C, peer, strlen(peer));
    tern_buf_putc(b, '"');
}

/* Appends the items as [{"key":..,"code":..,"value":..,"version":..}] (all: the answer)
 * or the changes that won as [{"key":..,"value":..|null,"version":..}] (the event).
 * Returns how many were written. */
static size_t put_items(tern_buf *b, const ext_req *x, int answer)
{
    size_t k = 0;
    tern_buf_putc(b, '[');
    for (size_t i = 0; i < x->n; i++) {
        if (!answer && x->codes[i] != TERN_OK)
            continue;
        tern_buf_puts(b, k++ ? ",{\"key\":" : "{\"key\":");
        tern_buf_json_str(b, x->keys[i], strlen(x->keys[i]));
        if (answer)
            tern_buf_printf(b, ",\"code\":%d", x->codes[i]);
        const char *v = x->codes[i] == TERN_OK ? x->values[i] : x->out_values[i];
        tern_buf_puts(b, ",\"value\":");
        if (v)
            tern_buf_json_str(b, v, strlen(v));
        else
            tern_buf_puts(b, "null");
        tern_buf_printf(b, ",\"version\":%lld}", (long long)x->out_versions[i]);
    }
    tern_buf_putc(b, ']');
    return k;
}

void msgext_put_results(tern_buf *b, const ext_req *x)
{
    tern_buf_puts(b, "{\"msgId\":");
    tern_buf_json_u64str(b, x->msg_id);
    tern_buf_puts(b, ",\"results\":");
    put_items(b, x, 1);
    tern_buf_putc(b, '}');
}

/* The `ext` event to one user set (all of them see the same conversation id). */
static void ext_event(ext_req *x, const char *const *users, size_t n, const char *view)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"ev\":\"ext\",\"data\":{");
    put_conv_id(&b, x, view);
    tern_buf_puts(&b, ",\"msgId\":");
    tern_buf_json_u64str(&b, x->msg_id);
    tern_buf_puts(&b, ",\"changes\":");
    size_t k = put_items(&b, x, 0);
    tern_buf_puts(&b, "}}");
    if (k && b.data) {
        frame *f = frame_text(b.data, b.len);
        delivery_push_users(x->s, x->app, users, n, x->session, f);
        frame_unref(f);
    }
    tern_buf_free(&b);
}

void msgext_events(ext_req *x)
{
    if (x->only) {
        ext_event(x, (const char *const *)x->only, x->nonly, x->to);
    } else if (x->is_group) {
        ext_event(x, (const char *const *)x->snap->members, x->snap->n, x->to);
    } else {
        const char *a[1] = {x->from}, *z[1] = {x->to};
        ext_event(x, a, 1, x->from);
        if (strcmp(x->from, x->to) != 0)
            ext_event(x, z, 1, x->to);
    }
}

/* A private group message (receiverList): x->only = its sender and the members now
 * among its receivers, so that its extension events reach no one else (the group's
 * other members never see the message). An ordinary message: x->only stays NULL.
 * TERN_OK or 5002. */
static int private_audience(store_reader *rd, int64_t app, uint64_t msg_id, ext_req *x)
{
    int pub = store_msg_receiver_ok(rd, app, msg_id, ""); /* "" is nobody: 1 iff not private */
    if (pub != 0)
        return pub < 0 ? TERN_ERR_STORE : TERN_OK;
    x->only = tern_calloc(x->snap->n + 1, sizeof *x->only);
    x->only[x->nonly++] = tern_strdup(x->from);
    for (size_t i = 0; i < x->snap->n; i++) {
        const char *m = x->snap->members[i];
        if (!strcmp(m, x->from))
            continue;
        int ok = store_msg_receiver_ok(rd, app, msg_id, m);
        if (ok < 0)
            return TERN_ERR_STORE;
        if (ok)
            x->only[x->nonly++] = tern_strdup(m);
    }
    return TERN_OK;
}

int msgext_target(server *s, store_reader *rd, int64_t app, const char *user, uint64_t msg_id, ext_req *x)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    int rc = user ? msg_get_visible(s, rd, app, user, msg_id, &b, NULL) : store_message_get(rd, app, msg_id, &b);
    cJSON *o = rc == TERN_OK ? cJSON_ParseWithLength(b.data, b.len) : NULL;
    tern_buf_free(&b);
    if (rc != TERN_OK)
        return rc;
    const char *kind = tern_json_str(o, "conversationType"), *from = tern_json_str(o, "from"),
               *to = tern_json_str(o, "to");
    if (!o || !kind || !from || !to || strlen(from) > TERN_IDENT_MAX || strlen(to) > TERN_IDENT_MAX)
        rc = TERN_ERR_INTERNAL;
    else if (!tern_json_true(o, "isSupportExtension"))
        rc = TERN_ERR_EXT_UNSUPPORTED;
    if (rc == TERN_OK && x) {
        x->is_group = !strcmp(kind, "GROUP");
        snprintf(x->from, sizeof x->from, "%s", from);
        snprintf(x->to, sizeof x->to, "%s", to);
        if (x->is_group) {
            int err = 0;
            x->snap = groups_get(s, rd, app, to, &err);
            if (!x->snap)
                rc = err;
            else
                rc = private_audience(rd, app, msg_id, x);
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* Checks one key (1..MSGEXT_MAX_KEY bytes; 1034 past it; 1003 not a string) and that it
 * is new among x's first n keys (1003). */
static int key_ok(const cJSON *k, const ext_req *x, size_t n)
{
    if (!cJSON_IsString(k) || !k->valuestring[0])
        return TERN_ERR_BAD_FIELD;
    if (strlen(k->valuestring) > MSGEXT_MAX_KEY)
        return TERN_ERR_EXT_TOO_LONG;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(x->keys[i], k->valuestring))
            return TERN_ERR_BAD_FIELD;
    return TERN_OK;
}

/* A version: absent/null → -1, else an integer in [0, 2^53). 0 or -1 (invalid). */
static int version_of(const cJSON *v, int64_t *out)
{
    long long n;
    *out = -1;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (tern_json_int_value(v, 0, TERN_JSON_MAX_SAFE_INT, &n) < 0)
        return -1;
    *out = n;
    return 0;
}

int msgext_parse(const cJSON *root, int del, ext_req *x)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, del ? "keys" : "items");
    const cJSON *vers = del ? cJSON_GetObjectItemCaseSensitive(root, "versions") : NULL;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0 || (vers && !cJSON_IsNull(vers) && !cJSON_IsArray(vers)))
        return TERN_ERR_BAD_FIELD;
    if (cJSON_IsArray(vers) && cJSON_GetArraySize(vers) != cJSON_GetArraySize(list))
        return TERN_ERR_BAD_FIELD;
    if (cJSON_GetArraySize(list) > MSGEXT_MAX_ITEMS)
        return TERN_ERR_TOO_MANY;
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *k = del ? e : cJSON_GetObjectItemCaseSensitive(e, "key");
        const cJSON *v = del ? NULL : cJSON_GetObjectItemCaseSensitive(e, "value");
        const cJSON *ver = del ? cJSON_GetArrayItem(vers, i) : cJSON_GetObjectItemCaseSensitive(e, "version");
        static const char *const item_keys[] = {"key", "value", "version"};
        if (!del && (!cJSON_IsObject(e) || !cJSON_IsString(v)))
            return TERN_ERR_BAD_FIELD;
        int rc = key_ok(k, x, x->n);
        if (rc == TERN_OK && version_of(ver, &x->versions[x->n]) < 0)
            rc = TERN_ERR_BAD_FIELD;
        if (rc == TERN_OK && v && strlen(v->valuestring) > MSGEXT_MAX_VALUE)
            rc = TERN_ERR_EXT_TOO_LONG;
        if (rc == TERN_OK && !del && !tern_json_only_keys(e, item_keys, 3))
            rc = TERN_ERR_NOT_SUPPORTED;
        if (rc != TERN_OK)
            return rc;
        x->keys[x->n] = tern_strdup(k->valuestring);
        x->values[x->n] = v ? tern_strdup(v->valuestring) : NULL;
        x->n++;
        i++;
    }
    return TERN_OK;
}

static uint64_t ext_max_keys(server *s, int64_t app)
{
    app_info ai;
    const app_setting_def *d = apps_setting_find("extMaxKeys", 10);
    return d && apps_find_id(s, app, &ai) == 0 ? apps_setting_get(s, &ai, d) : 300;
}

void msgext_op(ext_req *x, server *s, int64_t app, uint64_t msg_id, void (*done)(store_op *op))
{
    x->s = s;
    x->app = app;
    x->msg_id = msg_id;
    store_op *op = &x->op;
    op->kind = STORE_OP_EXT;
    op->app = app;
    op->done = done;
    op->ud = x;
    op->u.ext.msg_id = msg_id;
    op->u.ext.n = x->n;
    op->u.ext.keys = (const char *const *)x->keys;
    op->u.ext.values = (const char *const *)x->values;
    op->u.ext.versions = x->versions;
    op->u.ext.max_keys = ext_max_keys(s, app);
    op->u.ext.codes = x->codes;
    op->u.ext.out_versions = x->out_versions;
    op->u.ext.out_values = x->out_values;
}

typedef struct ext_list {
    tern_buf *b;
    int n;
} ext_list;

static void ext_list_cb(void *ud, const char *key, const char *value, int64_t version)
{
    ext_list *l = ud;
    tern_buf_puts(l->b, l->n++ ? ",{\"key\":" : "{\"key\":");
    tern_buf_json_str(l->b, key, strlen(key));
    tern_buf_puts(l->b, ",\"value\":");
    tern_buf_json_str(l->b, value, strlen(value));
    tern_buf_printf(l->b, ",\"version\":%lld}", (long long)version);
}

int msgext_put_list(store_reader *rd, int64_t app, uint64_t msg_id, tern_buf *b)
{
    tern_buf_puts(b, "{\"msgId\":");
    tern_buf_json_u64str(b, msg_id);
    tern_buf_puts(b, ",\"extensions\":[");
    ext_list l = {b, 0};
    int rc = store_ext_list(rd, app, msg_id, ext_list_cb, &l);
    tern_buf_puts(b, "]}");
    return rc;
}
