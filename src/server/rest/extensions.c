/*
 * extensions.c — message extensions over REST, for an app's backend (Tencent's
 * openim_msg_ext_http_svc set_key_values / get_key_values, in Tern's REST shapes;
 * docs/rest-api.md "Message extensions"), with the app token:
 *   GET    /{org}/{app}/messages/{msgId}/extensions  {"msgId","extensions":[{key,value,version}]}
 *   PUT    /{org}/{app}/messages/{msgId}/extensions  {"items":[{"key","value","version"?}]}
 *   DELETE /{org}/{app}/messages/{msgId}/extensions  {"keys":[...],"versions":[...]?}
 * PUT and DELETE answer {"msgId","results":[{key,code,value,version}]}, each item with
 * its own code (0, or 23001 when its version was stale: then the key's current value and
 * version). The rules, bounds and codes are the WebSocket ops' (msgext.h, protocol.md
 * extSet): the app sees every message of the app; a message not sent with
 * isSupportExtension is 1035, an unknown one 1009. The changes that won go to the
 * conversation's members online as the `ext` event (a receiverList message's: its sender
 * and receivers only), every session of them.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "msgext.h"
#include "rest/rest.h"
#include "tern/errors.h"

/* The {msgId} segment: 1..20 decimal digits, no leading zero, not 0, at most 2^64-1.
 * 0 after answering 1003. */
static int path_msg_id(rctx *x, uint64_t *id)
{
    const char *p = x->conv;
    size_t n = strlen(p);
    uint64_t v = 0;
    int ok = n >= 1 && n <= 20 && p[0] != '0';
    for (size_t i = 0; ok && i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            ok = 0;
        else
            v = v * 10 + d;
    }
    if (!ok) {
        rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL, "the message id is a decimal msgId");
        return 0;
    }
    *id = v;
    return 1;
}

int extensions_get(rctx *x, const http_msg *m)
{
    (void)m;
    uint64_t id;
    if (!path_msg_id(x, &id))
        return 0;
    int rc = msgext_target(rest_server(x), rest_reader(x), x->app.id, NULL, id, NULL);
    tern_buf d;
    tern_buf_init(&d, 0);
    if (rc == TERN_OK)
        rc = msgext_put_list(rest_reader(x), x->app.id, id, &d);
    rest_reply_buf(x, rc, &d);
    return 0;
}

/* Writer thread: the answer into r->out, the events, then back to the loop. */
static void ext_done(store_op *op)
{
    ext_req *x = op->ud;
    rest_op *r = x->ud;
    r->op.result = op->result;
    if (op->result == TERN_OK) {
        msgext_put_results(&r->out, x);
        msgext_events(x);
    }
    rest_op_done(r); /* r owns x (free_ud) */
}

static void free_ext(void *ud)
{
    msgext_free(ud);
}

static int change(rctx *x, const http_msg *m, int del)
{
    uint64_t id;
    if (!path_msg_id(x, &id))
        return 0;
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    static const char *const set_keys[] = {"items"}, *const del_keys[] = {"keys", "versions"};
    ext_req *e = tern_calloc(1, sizeof *e);
    int rc = !cJSON_IsObject(j) ? TERN_ERR_BAD_FIELD
             : !tern_json_only_keys(j, del ? del_keys : set_keys, del ? 2 : 1) ? TERN_ERR_NOT_SUPPORTED
                                                                              : msgext_parse(j, del, e);
    cJSON_Delete(j);
    server *s = rest_server(x);
    if (rc == TERN_OK)
        rc = msgext_target(s, rest_reader(x), x->app.id, NULL, id, e);
    if (rc != TERN_OK) {
        msgext_free(e);
        rest_reply_err(x, rc);
        return 0;
    }
    rest_op *r = rest_op_new(x, rest_finish_out);
    r->ud = e;
    r->free_ud = free_ext;
    e->ud = r;
    msgext_op(e, s, x->app.id, id, ext_done); /* e->session 0: every session hears */
    rc = rest_store_submit(s, &e->op);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        rest_op_free(r);
        return 0;
    }
    return 1;
}

int extensions_put(rctx *x, const http_msg *m)
{
    return change(x, m, 0);
}

int extensions_delete(rctx *x, const http_msg *m)
{
    return change(x, m, 1);
}
