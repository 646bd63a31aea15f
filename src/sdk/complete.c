/*
 * complete.c — libtern's completions of app requests answered by the server (history,
 * conversation list, read) and the one place every request ends (sdk_complete): the
 * response's data turned into the app's objects, the callback called once, the request
 * freed. Loop thread. Login and logout complete in session.c, which owns their state.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "sdk/media.h"
#include "sdk/sdk.h"

/* A list of messages: history's data.messages, or a merger's data.messageList (the
 * inline list, or downloadMerger's answer). */
static void complete_history(tern_client *c, sdk_req *r, int code, const char *message, const cJSON *data)
{
    tern_message_list_cb cb = (tern_message_list_cb)r->cb;
    tern_message **msgs = NULL;
    size_t n = 0;
    int more = 0;
    if (code == 0) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(data, "messages");
        if (r->kind == REQ_MERGER && !arr)
            arr = cJSON_GetObjectItemCaseSensitive(data, "messageList");
        if (!cJSON_IsArray(arr)) {
            code = TERN_ERR_BAD_JSON;
            message = r->kind == REQ_MERGER ? "malformed downloadMerger response" : "malformed history response";
        } else {
            size_t cap = (size_t)cJSON_GetArraySize(arr);
            msgs = tern_calloc(cap ? cap : 1, sizeof *msgs);
            const cJSON *it;
            cJSON_ArrayForEach(it, arr)
            {
                tern_message *m = sdk_msg_from_json(it, c->user);
                if (m && n < cap)
                    msgs[n++] = m;
                else
                    tern_message_release(m);
            }
            more = tern_json_true(data, "more");
        }
    }
    cb(c, code, message, (const tern_message *const *)msgs, n, more, r->ud);
    for (size_t i = 0; i < n; i++)
        tern_message_release(msgs[i]);
    tern_free(msgs);
}

static void complete_convs(tern_client *c, sdk_req *r, int code, const char *message, const cJSON *data)
{
    tern_conversation_list_cb cb = (tern_conversation_list_cb)r->cb;
    tern_conversation **convs = NULL;
    size_t n = 0;
    if (code == 0) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(data, "conversations");
        if (!cJSON_IsArray(arr)) {
            code = TERN_ERR_BAD_JSON;
            message = "malformed conversations response";
        } else {
            size_t cap = (size_t)cJSON_GetArraySize(arr);
            convs = tern_calloc(cap ? cap : 1, sizeof *convs);
            const cJSON *it;
            cJSON_ArrayForEach(it, arr)
            {
                tern_conversation *cv = sdk_conv_from_json(it, c->user);
                if (cv && n < cap)
                    convs[n++] = cv;
                else
                    sdk_conv_free(cv);
            }
        }
    }
    cb(c, code, message, (const tern_conversation *const *)convs, n, r->ud);
    for (size_t i = 0; i < n; i++)
        sdk_conv_free(convs[i]);
    tern_free(convs);
}

static void complete_raw(tern_client *c, sdk_req *r, int code, const char *message, const cJSON *data)
{
    char *d = code == 0 ? (data ? cJSON_PrintUnformatted(data) : NULL) : NULL;
    ((tern_json_cb)r->cb)(c, code, message, code == 0 ? (d ? d : "{}") : NULL, r->ud);
    cJSON_free(d);
}

static void complete_read(tern_client *c, sdk_req *r, int code, const char *message, const cJSON *data)
{
    tern_read_cb cb = (tern_read_cb)r->cb;
    uint64_t rs = 0, unread = 0;
    const char *conv = r->str;
    if (code == 0 && data) {
        tern_json_get_u64(data, "readSeq", &rs);
        tern_json_get_u64(data, "unreadCount", &unread);
        const char *cv = tern_json_str(data, "conversationID");
        if (cv)
            conv = cv;
    }
    cb(c, code, message, conv, rs, unread, r->ud);
}

void sdk_complete(tern_client *c, sdk_req *r, int code, const char *message, const cJSON *data)
{
    if (!message || !*message)
        message = tern_strerror(code);
    if (r->kind == REQ_SEND && code != 0 && r->msg)
        atomic_store(&r->msg->status, TERN_MSG_STATUS_FAILED);
    if (c->convlist && (r->kind == REQ_CONV_SEED || r->kind == REQ_CONVS || r->kind == REQ_READ))
        sdk_convlist_on_complete(c, r, code, data);
    if (r->cb) {
        c->in_cb++;
        switch (r->kind) {
        case REQ_SEND: ((tern_send_cb)r->cb)(c, r->msg, code, message, r->ud); break;
        case REQ_HISTORY:
        case REQ_GET_MSGS:
        case REQ_MERGER: complete_history(c, r, code, message, data); break;
        case REQ_RAW: complete_raw(c, r, code, message, data); break;
        case REQ_CONVS: complete_convs(c, r, code, message, data); break;
        case REQ_READ: complete_read(c, r, code, message, data); break;
        case REQ_LOGIN:
        case REQ_LOGOUT: ((tern_result_cb)r->cb)(c, code, message, r->ud); break;
        default: break;
        }
        c->in_cb--;
    }
    if (r->kind == REQ_MEDIA || r->kind == REQ_MEDIA_CANCEL)
        sdk_media_complete_req(c, r, code); /* their callbacks live in the transfer */
    sdk_req_free(r);
}
