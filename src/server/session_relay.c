/*
 * session_relay.c — issue 10's WebSocket ops of H2 (docs/protocol.md §3): getMessages
 * (stored messages by id, as the user may see them), downloadMerger (a merger's stored
 * list, merger.h) and message extensions — extSet, extDelete, extGet — on messages sent
 * with isSupportExtension (Tencent's message extensions).
 *
 * Extensions. Each key of a message has a version that grows by one at every set or
 * delete; extSet and extDelete may give the version they expect per key, and the store
 * writer compares and sets inside its transaction (STORE_OP_EXT), so of two writers
 * holding one version exactly one wins; the other's item fails with 23001 (Tencent's code) and carries
 * the key's current value and version. Bounds: MSGEXT_MAX_ITEMS items per call, keys of
 * 1..MSGEXT_MAX_KEY bytes, values of at most MSGEXT_MAX_VALUE bytes, at most extMaxKeys
 * live keys per message (apps.h, default 300 as Tencent's). The changes that won go to
 * the conversation's members online as the `ext` event (the requesting session gets the
 * answer instead); reads and the checks run on the loop, the write and the event on the
 * writer thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/conv.h"
#include "core/json.h"
#include "core/util.h"
#include "delivery.h"
#include "groups.h"
#include "merger.h"
#include "msgget.h"
#include "session_ops.h"
#include "tern/errors.h"

#define GETMSG_MAX 100      /* ids per getMessages */
#define MSGEXT_MAX_ITEMS 20 /* items per extSet / keys per extDelete */
#define MSGEXT_MAX_KEY 100  /* bytes */
#define MSGEXT_MAX_VALUE 1024

/* A message id member: a decimal string (or number) → *id; 0 or -1. */
static int get_msg_id(const cJSON *root, uint64_t *id)
{
    return tern_json_get_u64(root, "msgId", id) == TERN_JSON_OK && *id ? 0 : -1;
}

/* ---- getMessages -------------------------------------------------------------------- */

void op_get_messages(req *q, cJSON *root)
{
    conn *c = q->c;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "msgIds"), *e;
    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0)
        return session_reply_error(q, TERN_ERR_BAD_FIELD);
    if (cJSON_GetArraySize(ids) > GETMSG_MAX)
        return session_reply_error(q, TERN_ERR_TOO_MANY);
    cJSON_ArrayForEach(e, ids)
    {
        if (!tern_elem_merger_entry_id(e) || cJSON_IsObject(e))
            return session_reply_error(q, TERN_ERR_BAD_FIELD);
    }
    tern_buf d, missing;
    tern_buf_init(&d, 0);
    tern_buf_init(&missing, 0);
    tern_buf_puts(&d, "{\"messages\":[");
    int rc = TERN_OK, n = 0;
    cJSON_ArrayForEach(e, ids)
    {
        size_t at = d.len;
        if (n)
            tern_buf_putc(&d, ',');
        rc = msg_get_visible(c->loop->srv, c->loop->reader, c->app, c->user, strtoull(e->valuestring, NULL, 10), &d,
                             NULL);
        if (rc == TERN_ERR_NOT_FOUND) {
            d.len = at;
            tern_buf_puts(&missing, missing.len ? ",\"" : "\"");
            tern_buf_puts(&missing, e->valuestring); /* digits: no escaping */
            tern_buf_putc(&missing, '"');
            rc = TERN_OK;
            continue;
        }
        if (rc != TERN_OK)
            break;
        n++;
    }
    if (rc == TERN_OK) {
        tern_buf_puts(&d, "],\"notFound\":[");
        tern_buf_append(&d, missing.data, missing.len);
        tern_buf_puts(&d, "]}");
        session_reply_ok(q, d.data, d.len);
    } else {
        session_reply_error(q, rc);
    }
    tern_buf_free(&d);
    tern_buf_free(&missing);
}

/* ---- downloadMerger ----------------------------------------------------------------- */

void op_download_merger(req *q, cJSON *root)
{
    conn *c = q->c;
    uint64_t id;
    if (get_msg_id(root, &id) < 0)
        return session_reply_error(q, TERN_ERR_BAD_FIELD);
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"msgId\":");
    tern_buf_json_u64str(&d, id);
    tern_buf_puts(&d, ",\"messageList\":");
    int rc = merger_download(c->loop->srv, c->loop->reader, c->app, c->user, id, &d);
    if (rc == TERN_OK) {
        tern_buf_putc(&d, '}');
        session_reply_ok(q, d.data, d.len);
    } else {
        session_reply_error(q, rc);
    }
    tern_buf_free(&d);
}

/* ---- extensions --------------------------------------------------------------------- */

/* One extSet / extDelete on its way through the writer. */
typedef struct ext_req {
    store_op op;
    server *s;
    int loop;
    uint64_t conn, session;
    const char *re; /* "extSet" / "extDelete" */
    char *reply_id; /* the request id JSON, or NULL */
    int is_group;
    char from[TERN_IDENT_MAX + 1], to[TERN_IDENT_MAX + 1]; /* C2C: both users; group: to */
    group_snap *snap;                                      /* group: members now */
    char **only;  /* a private (receiverList) group message: its sender and the members */
    size_t nonly; /* among its receivers, the only ones its events may reach (owned) */
    size_t n;
    char *keys[MSGEXT_MAX_ITEMS], *values[MSGEXT_MAX_ITEMS];
    int64_t versions[MSGEXT_MAX_ITEMS];
    int codes[MSGEXT_MAX_ITEMS];
    int64_t out_versions[MSGEXT_MAX_ITEMS];
    char *out_values[MSGEXT_MAX_ITEMS];
} ext_req;

static void ext_req_free(ext_req *x)
{
    for (size_t i = 0; i < x->n; i++) {
        tern_free(x->keys[i]);
        tern_free(x->values[i]);
        tern_free(x->out_values[i]);
    }
    group_snap_unref(x->snap);
    for (size_t i = 0; i < x->nonly; i++)
        tern_free(x->only[i]);
    tern_free(x->only);
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

/* The `ext` event to one user set (all of them see the same conversation id). */
static void ext_event(ext_req *x, const char *const *users, size_t n, const char *view, uint64_t msg_id)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"ev\":\"ext\",\"data\":{");
    put_conv_id(&b, x, view);
    tern_buf_puts(&b, ",\"msgId\":");
    tern_buf_json_u64str(&b, msg_id);
    tern_buf_puts(&b, ",\"changes\":");
    size_t k = put_items(&b, x, 0);
    tern_buf_puts(&b, "}}");
    if (k && b.data) {
        frame *f = frame_text(b.data, b.len);
        delivery_push_users(x->s, x->op.app, users, n, x->session, f);
        frame_unref(f);
    }
    tern_buf_free(&b);
}

/* Writer thread: answer the requester, tell the others. */
static void ext_done(store_op *op)
{
    ext_req *x = op->ud;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf id = {.data = x->reply_id, .len = x->reply_id ? strlen(x->reply_id) : 0};
    session_resp_head(&b, x->re, &id, op->result);
    if (op->result == TERN_OK) {
        tern_buf_puts(&b, ",\"data\":{\"msgId\":");
        tern_buf_json_u64str(&b, op->u.ext.msg_id);
        tern_buf_puts(&b, ",\"results\":");
        put_items(&b, x, 1);
        tern_buf_putc(&b, '}');
    }
    tern_buf_putc(&b, '}');
    session_push_reply(x->s, x->loop, x->conn, &b);
    tern_buf_free(&b);
    if (op->result == TERN_OK) {
        if (x->only) {
            ext_event(x, (const char *const *)x->only, x->nonly, x->to, op->u.ext.msg_id);
        } else if (x->is_group) {
            ext_event(x, (const char *const *)x->snap->members, x->snap->n, x->to, op->u.ext.msg_id);
        } else {
            const char *a[1] = {x->from}, *z[1] = {x->to};
            ext_event(x, a, 1, x->from, op->u.ext.msg_id);
            if (strcmp(x->from, x->to) != 0)
                ext_event(x, z, 1, x->to, op->u.ext.msg_id);
        }
    }
    ext_req_free(x);
}

/* A private group message (receiverList): x->only = its sender and the members now
 * among its receivers, so that its extension events reach no one else (the group's
 * other members never see the message). An ordinary message: x->only stays NULL.
 * TERN_OK or 5002. */
static int ext_private_audience(store_reader *rd, int64_t app, uint64_t msg_id, ext_req *x)
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

/* The message msg_id as the user sees it, if it supports extensions: fills x's
 * conversation (and snap). TERN_OK, 1009, 1035, 5002. */
static int ext_target(conn *c, uint64_t msg_id, ext_req *x)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    int rc = msg_get_visible(c->loop->srv, c->loop->reader, c->app, c->user, msg_id, &b, NULL);
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
            x->snap = groups_get(c->loop->srv, c->loop->reader, c->app, to, &err);
            if (!x->snap)
                rc = err;
            else
                rc = ext_private_audience(c->loop->reader, c->app, msg_id, x);
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* Checks one key (1..100 bytes; 1034 past it; 1003 not a string) and that it is new
 * among x's first n keys (1003). */
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

/* Reads extSet's items (del 0) or extDelete's keys/versions (del 1) into x. */
static int ext_parse(cJSON *root, int del, ext_req *x)
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

static void ext_write(req *q, cJSON *root, int del)
{
    conn *c = q->c;
    server *s = c->loop->srv;
    uint64_t id;
    if (get_msg_id(root, &id) < 0)
        return session_reply_error(q, TERN_ERR_BAD_FIELD);
    ext_req *x = tern_calloc(1, sizeof *x);
    int rc = ext_parse(root, del, x);
    if (rc == TERN_OK)
        rc = ext_target(c, id, x);
    if (rc != TERN_OK) {
        ext_req_free(x);
        return session_reply_error(q, rc);
    }
    x->s = s;
    x->loop = c->loop->index;
    x->conn = c->id;
    x->session = delivery_session_id(s, c->id);
    x->re = del ? "extDelete" : "extSet";
    x->reply_id = q->id.len ? tern_strndup(q->id.data, q->id.len) : NULL;
    store_op *op = &x->op;
    op->kind = STORE_OP_EXT;
    op->app = c->app;
    op->done = ext_done;
    op->ud = x;
    op->u.ext.msg_id = id;
    op->u.ext.n = x->n;
    op->u.ext.keys = (const char *const *)x->keys;
    op->u.ext.values = (const char *const *)x->values;
    op->u.ext.versions = x->versions;
    op->u.ext.max_keys = ext_max_keys(s, c->app);
    op->u.ext.codes = x->codes;
    op->u.ext.out_versions = x->out_versions;
    op->u.ext.out_values = x->out_values;
    rc = atomic_load(&s->shutting_down) ? TERN_ERR_SHUTTING_DOWN : store_submit(s->st, op);
    if (rc != TERN_OK) {
        ext_req_free(x);
        session_reply_error(q, rc);
    }
}

void op_ext_set(req *q, cJSON *root)
{
    ext_write(q, root, 0);
}

void op_ext_delete(req *q, cJSON *root)
{
    ext_write(q, root, 1);
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

void op_ext_get(req *q, cJSON *root)
{
    conn *c = q->c;
    uint64_t id;
    if (get_msg_id(root, &id) < 0)
        return session_reply_error(q, TERN_ERR_BAD_FIELD);
    int rc = ext_target(c, id, NULL);
    if (rc != TERN_OK)
        return session_reply_error(q, rc);
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"msgId\":");
    tern_buf_json_u64str(&d, id);
    tern_buf_puts(&d, ",\"extensions\":[");
    ext_list l = {&d, 0};
    rc = store_ext_list(c->loop->reader, c->app, id, ext_list_cb, &l);
    tern_buf_puts(&d, "]}");
    if (rc == TERN_OK)
        session_reply_ok(q, d.data, d.len);
    else
        session_reply_error(q, rc);
    tern_buf_free(&d);
}
