/*
 * messages.c — sending as a user over REST (POST /{org}/{app}/messages/users and
 * /messages/chatgroups, Easemob's shape): the types txt, loc, custom and cmd become
 * elements of the core model (core/easemob.h); each recipient (up to 600 users or 3
 * groups) gets its own message through msg_prepare / msg_submit, the same path as a
 * WebSocket send, or msg_send_online for routetype ROUTE_ONLINE; sync_device says
 * whether the sender's own sessions get a C2C message. The answer maps each recipient
 * to its message id or its error once every message committed.
 * docs/rest-api.md, "Messages".
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/easemob.h"
#include "core/json.h"
#include "msg.h"
#include "ratelimit.h"
#include "rest/rest.h"

/* Easemob's limits on `to` (docs/rest-api.md). */
#define MAX_TO_USERS 600
#define MAX_TO_GROUPS 3

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
    if (last)
        rest_op_done(r);
}

static void finish_send(rest_op *r)
{
    /* Some recipient got its message: 200 with the map; none did: the (last) error. */
    if (r->ok_count == 0)
        rest_reply_err(&r->x, r->op.result);
    else
        rest_reply_out_wrapped(r, '{', '}');
}

/* What a send request asks for beyond its recipients. */
typedef struct send_opts {
    const char *from, *cmid;
    int online_only; /* routetype "ROUTE_ONLINE" */
    int sync_device;
} send_opts;

/* Reads `to` (a string or an array) into l. TERN_OK, 1003, or 1203 over max. A
 * recipient that is no identifier fails alone, later (its entry in the answer). */
static int read_to(cJSON *jto, strlist *l, size_t max)
{
    if (!cJSON_IsString(jto))
        return read_string_list(jto, l, max, 0);
    strlist_add(l, jto->valuestring);
    return TERN_OK;
}

/* Checks the request's keys and options: TERN_OK, 1003 or 1012. */
static int read_opts(cJSON *j, send_opts *o)
{
    /* Easemob fields this server does not implement (roam_ignore_users, need_group_ack,
     * env, ...) are refused, never dropped (docs/rest-api.md). */
    static const char *const keys[] = {"from", "to", "type", "body", "ext", "clientMsgId", "routetype", "sync_device"};
    if (!tern_json_only_keys(j, keys, sizeof keys / sizeof keys[0]))
        return TERN_ERR_NOT_SUPPORTED;
    cJSON *rt = cJSON_GetObjectItemCaseSensitive(j, "routetype");
    cJSON *sd = cJSON_GetObjectItemCaseSensitive(j, "sync_device");
    cJSON *ext = cJSON_GetObjectItemCaseSensitive(j, "ext");
    o->from = jstr(j, "from");
    o->cmid = jstr(j, "clientMsgId");
    if (!o->from || !*o->from || (ext && !cJSON_IsObject(ext)) || (o->cmid && strlen(o->cmid) > 64) ||
        (rt && (!cJSON_IsString(rt) || strcmp(rt->valuestring, "ROUTE_ONLINE") != 0)) || (sd && !cJSON_IsBool(sd)))
        return TERN_ERR_BAD_FIELD;
    o->online_only = rt != NULL;
    o->sync_device = cJSON_IsTrue(sd);
    return TERN_OK;
}

static int messages_send(rctx *x, const http_msg *m, int is_group)
{
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    server *s = rest_server(x);
    send_opts o = {0};
    const char *type = jstr(j, "type");
    cJSON *jto = cJSON_GetObjectItemCaseSensitive(j, "to");
    cJSON *body = cJSON_GetObjectItemCaseSensitive(j, "body");
    cJSON *ext = cJSON_GetObjectItemCaseSensitive(j, "ext");
    strlist to = {0};
    size_t max_to = is_group ? MAX_TO_GROUPS : MAX_TO_USERS;
    int rc = cJSON_IsObject(j) ? read_opts(j, &o) : TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK)
        rc = jto ? read_to(jto, &to, max_to) : TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK && (!to.n || !ident(o.from)))
        rc = to.n ? TERN_ERR_USER_NOT_FOUND : TERN_ERR_BAD_FIELD;
    /* Each recipient gets its own message; with a clientMsgId, its idempotency key is
     * "<clientMsgId>:<recipient>", which must fit 64 bytes whole (a cut key would make
     * two recipients one message). A recipient listed twice is a mistake. */
    for (size_t i = 0; rc == TERN_OK && i < to.n; i++) {
        if (o.cmid && to.n > 1 && strlen(o.cmid) + 1 + strlen(to.v[i]) > 64)
            rc = TERN_ERR_BAD_FIELD;
        for (size_t k = 0; rc == TERN_OK && k < i; k++)
            if (!strcmp(to.v[i], to.v[k]))
                rc = TERN_ERR_BAD_FIELD;
    }
    /* The Easemob type and body become an element of the core model (core/easemob.h). */
    tern_msg tm;
    tern_msg_init(&tm);
    if (rc == TERN_OK)
        rc = tern_em_body_to_msg(type, body, &tm);
    if (rc == TERN_OK) {
        int ex = store_user_exists(rest_reader(x), x->app.id, o.from);
        if (ex != 1)
            rc = ex < 0 ? TERN_ERR_STORE : TERN_ERR_USER_NOT_FOUND;
    }
    if (rc != TERN_OK) {
        strlist_free(&to);
        tern_msg_clear(&tm);
        cJSON_Delete(j);
        if (rc == TERN_ERR_TOO_MANY) {
            /* Easemob's text for this refusal. */
            char d[64];
            snprintf(d, sizeof d, "params to's size can't exceed limit %zu", max_to);
            rest_reply_err_desc(x, rc, NULL, d);
        } else {
            rest_reply_err(x, rc);
        }
        return 0;
    }
    const char *from = o.from, *cmid = o.cmid;
    char *ccd = ext ? cJSON_PrintUnformatted(ext) : NULL;
    tm.kind = is_group ? TERN_CONV_KIND_GROUP : TERN_CONV_KIND_C2C;
    tm.ccd.p = ccd;
    tm.ccd.n = ccd ? strlen(ccd) : 0;
    rest_op *r = rest_op_new(x, finish_send);
    r->list = to.v;
    r->nlist = to.n;
    r->pending = (int)to.n;
    r->op.result = TERN_OK;
    /* Validate and prepare every recipient first, then submit. */
    send_req **reqs = tern_calloc(to.n, sizeof *reqs);
    int *codes = tern_calloc(to.n, sizeof *codes);
    for (size_t i = 0; i < to.n; i++) {
        char key[160];
        /* One idempotency key per recipient (length checked above). */
        int kn = snprintf(key, sizeof key, "%s%s%s", cmid ? cmid : "", cmid && to.n > 1 ? ":" : "",
                          cmid && to.n > 1 ? to.v[i] : "");
        tm.to.p = to.v[i];
        tm.to.n = strlen(to.v[i]);
        tm.cmid.p = key;
        tm.cmid.n = (size_t)kn;
        codes[i] = msg_prepare_msg(s, rest_reader(x), x->app.id, from, &tm, &reqs[i]);
    }
    tern_msg_clear(&tm);
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
            /* sync_device (C2C): the sender's sessions get it only when asked. */
            reqs[i]->skip_sender = !o.sync_device;
            reqs[i]->online_only = o.online_only;
            codes[i] = msg_dispatch(reqs[i]);
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
        if (last)
            rest_op_done(r);
    }
    tern_free(reqs);
    tern_free(codes);
    return 1;
}

int messages_send_users(rctx *x, const http_msg *m)
{
    return messages_send(x, m, 0);
}

int messages_send_groups(rctx *x, const http_msg *m)
{
    /* restGroupSendRate requests a second per app (seed 001); every request counts and
     * one past it is 429 / 10023 (Tencent's code) with Easemob's body, as the stream rate answers. */
    int rc = ratelimit_rest_group_send(rest_server(x), x->app.id);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    return messages_send(x, m, 1);
}
