/*
 * notify.c — the server events of issue 10 that become tern_events in libtern: `receipt`
 * (a C2C peer's read position past this user's needReadReceipt messages, or a group
 * message's read counts) and `ext` (a message's extensions changed). The wire shapes are
 * docs/protocol.md §5; the tern_event fields tern.h documents.
 */
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "sdk/sdk.h"

/* `receipt`: C2C {conversationID, peerReadSeq, peerReadTime}; group {conversationID,
 * msgId, readCount, unreadCount}. */
static void on_receipt(tern_client *c, const cJSON *data)
{
    tern_event e;
    memset(&e, 0, sizeof e);
    e.text = "";
    e.chunk_seq = -1;
    e.conversation_id = tern_json_str(data, "conversationID");
    if (!e.conversation_id)
        return;
    e.msg_id = tern_json_str(data, "msgId");
    if (e.msg_id) {
        e.type = TERN_EVENT_MESSAGE_READ_RECEIPT;
        tern_json_get_u64(data, "readCount", &e.read_count);
        tern_json_get_u64(data, "unreadCount", &e.unread_count);
    } else {
        e.type = TERN_EVENT_MESSAGE_READ_BY_PEER;
        e.msg_id = "";
        uint64_t t = 0;
        if (tern_json_get_u64(data, "peerReadSeq", &e.read_seq) != 0)
            return;
        tern_json_get_u64(data, "peerReadTime", &t);
        e.time_ms = (int64_t)t;
    }
    sdk_emit(c, &e);
}

/* `ext`: {conversationID, msgId, changes:[...]}; the changes reach the app as JSON. */
static void on_ext(tern_client *c, const cJSON *data)
{
    tern_event e;
    memset(&e, 0, sizeof e);
    e.type = TERN_EVENT_MESSAGE_EXTENSIONS_UPDATED;
    e.text = "";
    e.chunk_seq = -1;
    e.conversation_id = tern_json_str(data, "conversationID");
    e.msg_id = tern_json_str(data, "msgId");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(data, "changes");
    if (!e.conversation_id || !e.msg_id || !cJSON_IsArray(ch))
        return;
    char *json = cJSON_PrintUnformatted(ch);
    if (!json)
        return;
    e.json = json;
    sdk_emit(c, &e);
    cJSON_free(json);
}

void sdk_notify_on_event(tern_client *c, const char *ev, const cJSON *data)
{
    if (!cJSON_IsObject(data)) {
        LOG_WARN("libtern: malformed %s event dropped", ev);
        return;
    }
    if (!strcmp(ev, "receipt"))
        on_receipt(c, data);
    else
        on_ext(c, data);
}
