/*
 * messages.c — sending as a user over REST (POST /{org}/{app}/messages/users and
 * /messages/chatgroups, Easemob's shape): each recipient gets its own message through
 * msg_prepare / msg_submit, the same path as a WebSocket send, and the answer maps each
 * recipient to its message id or its error once every message committed.
 * docs/rest-api.md, "Messages".
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "msg.h"
#include "rest/rest.h"

#define MAX_TO 100

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

static int messages_send(rctx *x, const http_msg *m, int is_group)
{
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    server *s = rest_server(x);
    const char *from = jstr(j, "from"), *type = jstr(j, "type"), *cmid = jstr(j, "clientMsgId");
    cJSON *jto = cJSON_GetObjectItemCaseSensitive(j, "to");
    cJSON *body = cJSON_GetObjectItemCaseSensitive(j, "body");
    cJSON *ext = cJSON_GetObjectItemCaseSensitive(j, "ext");
    strlist to = {0};
    int rc = TERN_OK;
    if (!from || !*from || !jto || !cJSON_IsObject(body) || (ext && !cJSON_IsObject(ext)) ||
        (cmid && strlen(cmid) > 64) || (!cJSON_IsString(jto) && !cJSON_IsArray(jto)))
        rc = TERN_ERR_BAD_FIELD;
    else if (cJSON_IsString(jto))
        strlist_add(&to, jto->valuestring);
    else {
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
    }
    /* Easemob fields this server does not implement (routetype, sync_device, ...) are
     * refused, never dropped (docs/rest-api.md). */
    static const char *const keys[] = {"from", "to", "type", "body", "ext", "clientMsgId"};
    cJSON *jk;
    cJSON_ArrayForEach(jk, j)
    {
        size_t i = 0;
        while (jk->string && i < sizeof keys / sizeof keys[0] && strcmp(jk->string, keys[i]) != 0)
            i++;
        if (rc == TERN_OK && (!jk->string || i == sizeof keys / sizeof keys[0]))
            rc = TERN_ERR_NOT_SUPPORTED;
    }
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
        (!type || strcmp(type, "txt") != 0 || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(body, "msg"))))
        rc = type && strcmp(type, "txt") != 0 ? TERN_ERR_UNSUPPORTED_TYPE : TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK && cJSON_GetArraySize(body) != 1)
        rc = TERN_ERR_NOT_SUPPORTED; /* a txt body is {"msg"} */
    if (rc == TERN_OK) {
        int ex = store_user_exists(rest_reader(x), x->app.id, from);
        if (ex != 1)
            rc = ex < 0 ? TERN_ERR_STORE : TERN_ERR_USER_NOT_FOUND;
    }
    if (rc != TERN_OK) {
        strlist_free(&to);
        cJSON_Delete(j);
        rest_reply_err(x, rc);
        return 0;
    }
    char *ccd = ext ? cJSON_PrintUnformatted(ext) : NULL;
    /* The Easemob txt message becomes a TIMTextElem of the core model. */
    tern_msg tm;
    tern_msg_init(&tm);
    tm.kind = is_group ? TERN_CONV_KIND_GROUP : TERN_CONV_KIND_C2C;
    tm.elem = tern_elem_find("TIMTextElem", 11);
    const char *text = cJSON_GetObjectItemCaseSensitive(body, "msg")->valuestring;
    int enc = tern_elem_encode_values(tm.elem, &text, 0, &tm.payload);
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
        codes[i] = enc != TERN_OK ? enc : msg_prepare_msg(s, rest_reader(x), x->app.id, from, &tm, &reqs[i]);
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
    return messages_send(x, m, 1);
}
