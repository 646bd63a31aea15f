/*
 * ops.c — libtern's requests of issue 10 that keep no state of their own: tern_request
 * (any op of docs/protocol.md by name, for the ops other parts of the server add:
 * friends, receipts, receiptMembers, extensions), tern_get_messages (`getMessages`) and
 * tern_download_merger_message (a merger's list, inline or by `downloadMerger`). Each
 * queues an sdk_req like every request (client.c) and completes in complete.c.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/util.h"
#include "sdk/message.h"
#include "sdk/sdk.h"

static int op_name_ok(const char *op)
{
    size_t n = op ? strlen(op) : 0;
    if (n < 1 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((op[i] >= 'a' && op[i] <= 'z') || (op[i] >= 'A' && op[i] <= 'Z')))
            return 0;
    return 1;
}

static int enqueue(tern_client *c, sdk_req *r)
{
    int rc = sdk_enqueue(c, r);
    if (rc)
        sdk_req_free(r);
    return rc;
}

TERN_API int tern_request(tern_client *client, const char *op, const char *fields_json, tern_json_cb cb,
                          void *user_data)
{
    if (!client || !cb || !op_name_ok(op))
        return TERN_ERR_SDK_INVALID_ARG;
    char *fields = NULL;
    if (fields_json) {
        cJSON *j = NULL;
        int rc = tern_json_parse(fields_json, strlen(fields_json), &j);
        int ok = rc == TERN_OK && cJSON_IsObject(j) && !cJSON_GetObjectItemCaseSensitive(j, "op") &&
                 !cJSON_GetObjectItemCaseSensitive(j, "id");
        char *p = ok ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!p)
            return TERN_ERR_SDK_INVALID_ARG;
        fields = tern_strdup(p);
        cJSON_free(p);
    }
    sdk_req *r = sdk_req_new(REQ_RAW);
    memcpy(r->op, op, strlen(op) + 1);
    r->str = fields;
    r->cb = (sdk_fn)cb;
    r->ud = user_data;
    return enqueue(client, r);
}

TERN_API int tern_get_messages(tern_client *client, const char *const *msg_ids, size_t count, tern_message_list_cb cb,
                               void *user_data)
{
    if (!client || !cb || !msg_ids || count < 1 || count > 100)
        return TERN_ERR_SDK_INVALID_ARG;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"msgIds\":[");
    for (size_t i = 0; i < count; i++) {
        uint64_t v;
        if (!msg_ids[i] || tern_parse_u64(msg_ids[i], strlen(msg_ids[i]), &v) < 0) {
            tern_buf_free(&b);
            return TERN_ERR_SDK_INVALID_ARG;
        }
        tern_buf_printf(&b, "%s\"%" PRIu64 "\"", i ? "," : "", v);
    }
    tern_buf_puts(&b, "]}");
    sdk_req *r = sdk_req_new(REQ_GET_MSGS);
    r->str = tern_buf_steal(&b, NULL);
    r->cb = (sdk_fn)cb;
    r->ud = user_data;
    return enqueue(client, r);
}

/* 1 if a messageList JSON array holds message objects (a received merger's), not the
 * ids a draft names. */
static int list_inline(const char *list)
{
    if (!list || list[0] != '[')
        return 0;
    return list[1] == '{';
}

TERN_API int tern_download_merger_message(tern_client *client, const tern_message *msg, tern_message_list_cb cb,
                                          void *user_data)
{
    int st = msg ? (int)tern_message_status(msg) : 0;
    if (!client || !cb || !msg || tern_message_type(msg) != TERN_MSG_MERGER ||
        (st != TERN_MSG_STATUS_SENT && st != TERN_MSG_STATUS_RECEIVED))
        return TERN_ERR_SDK_INVALID_ARG;
    const char *list = sdk_msg_merger_list_json(msg), *key = tern_message_merger_download_key(msg);
    sdk_req *r = sdk_req_new(REQ_MERGER);
    r->cb = (sdk_fn)cb;
    r->ud = user_data;
    if (list_inline(list) && !(key && *key)) {
        r->str = tern_strdup(list);
    } else {
        const char *id = tern_message_id(msg);
        if (tern_parse_u64(id, strlen(id), &r->num) < 0) {
            sdk_req_free(r);
            return TERN_ERR_SDK_INVALID_ARG;
        }
    }
    return enqueue(client, r);
}

void sdk_merger_complete_inline(tern_client *c, sdk_req *r)
{
    cJSON *list = NULL, *data = cJSON_CreateObject();
    if (data && tern_json_parse(r->str, strlen(r->str), &list) == TERN_OK && cJSON_IsArray(list)) {
        cJSON_AddItemToObject(data, "messageList", list);
        sdk_complete(c, r, TERN_OK, NULL, data);
    } else {
        cJSON_Delete(list);
        sdk_complete(c, r, TERN_ERR_BAD_JSON, "malformed merger list", NULL);
    }
    cJSON_Delete(data);
}
