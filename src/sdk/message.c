/*
 * message.c — tern_message and tern_conversation: drafts (tern_create_*_message and
 * setters), parsing of server message objects, the `send` request body, accessors and
 * reference counting. See message.h and include/tern/tern.h.
 *
 * Thread rules: a draft is touched by one app thread at a time; tern_send_message moves
 * it to SENDING (atomically, so it cannot be sent twice) and from then on only the loop
 * thread writes it (the ack fields). Received messages are immutable, so any thread may
 * read them while it holds a reference.
 */
#include "sdk/message.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "sdk/sdk_util.h"

#define MAX_CLIENT_MSG_ID 64

/* ---- cJSON helpers ----------------------------------------------------------------- */

const char *sdk_json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

int sdk_json_u64(const cJSON *obj, const char *name, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || (double)(uint64_t)d != d) /* no libm: see libtern.pc */
        return -1;
    *out = (uint64_t)d;
    return 0;
}

int sdk_json_bool(const cJSON *obj, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

static char *dup_or_null(const char *s)
{
    return s ? tern_strdup(s) : NULL;
}

static char *print_json(const cJSON *v)
{
    char *p = cJSON_PrintUnformatted(v);
    if (!p)
        return NULL;
    char *r = tern_strdup(p);
    cJSON_free(p);
    return r;
}

/* ---- lifetime ----------------------------------------------------------------------- */

static tern_message *msg_alloc(void)
{
    tern_message *m = tern_calloc(1, sizeof *m);
    atomic_init(&m->refs, 1);
    atomic_init(&m->status, TERN_MSG_STATUS_DRAFT);
    m->priority = TERN_PRIORITY_NORMAL;
    return m;
}

static void msg_free(tern_message *m)
{
    tern_free(m->from);
    tern_free(m->to);
    tern_free(m->conv_id);
    tern_free(m->type_name);
    tern_free(m->text);
    tern_free(m->c_data);
    tern_free(m->c_desc);
    tern_free(m->c_ext);
    tern_free(m->payload_json);
    tern_free(m->cloud_custom_data);
    tern_free(m->client_msg_id);
    tern_free(m->json);
    tern_free(m);
}

TERN_API tern_message *tern_message_ref(const tern_message *msg)
{
    tern_message *m = (tern_message *)msg; /* the count is the one mutable part */
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

TERN_API void tern_message_release(tern_message *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        msg_free(m);
}

/* ---- drafts ------------------------------------------------------------------------- */

static int to_ok(const char *to)
{
    return to && (tern_ident_valid(to, strlen(to)) || !strcmp(to, SDK_SYSTEM_CONV));
}

tern_message *sdk_msg_new_draft(const char *me, tern_conv_type type, const char *to, tern_msg_type mtype,
                                const char *text, const char *c_data, const char *c_desc, const char *c_ext)
{
    if (!me || (type != TERN_CONV_C2C && type != TERN_CONV_GROUP) || !to_ok(to))
        return NULL;
    tern_buf pl;
    tern_buf_init(&pl, 0);
    if (mtype == TERN_MSG_TEXT) {
        if (!sdk_str_ok(text, 0, 0))
            return NULL;
        tern_buf_puts(&pl, "{\"text\":");
        tern_buf_json_str(&pl, text, strlen(text));
        tern_buf_putc(&pl, '}');
    } else {
        const char *names[3] = {"data", "description", "extension"};
        const char *vals[3] = {c_data, c_desc, c_ext};
        int first = 1;
        tern_buf_putc(&pl, '{');
        for (int i = 0; i < 3; i++) {
            if (!vals[i])
                continue;
            if (!sdk_str_ok(vals[i], 0, 0)) {
                tern_buf_free(&pl);
                return NULL;
            }
            if (!first)
                tern_buf_putc(&pl, ',');
            first = 0;
            tern_buf_printf(&pl, "\"%s\":", names[i]);
            tern_buf_json_str(&pl, vals[i], strlen(vals[i]));
        }
        tern_buf_putc(&pl, '}');
    }

    tern_message *m = msg_alloc();
    m->conv_type = type;
    m->type = mtype;
    m->type_name = tern_strdup(mtype == TERN_MSG_TEXT ? "TIMTextElem" : "TIMCustomElem");
    m->from = tern_strdup(me);
    m->to = tern_strdup(to);
    char conv[80];
    sdk_conv_id(conv, sizeof conv, type, me, to, me);
    m->conv_id = tern_strdup(conv);
    m->text = dup_or_null(mtype == TERN_MSG_TEXT ? text : NULL);
    m->c_data = dup_or_null(c_data);
    m->c_desc = dup_or_null(c_desc);
    m->c_ext = dup_or_null(c_ext);
    m->payload_json = tern_buf_steal(&pl, NULL);
    m->cloud_custom_data = tern_strdup("");
    char id[33];
    sdk_random_hex_id(id);
    m->client_msg_id = tern_strdup(id);
    return m;
}

TERN_API tern_message *tern_create_text_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                const char *text)
{
    if (!client)
        return NULL;
    return sdk_msg_new_draft(tern_client_user(client), conv_type, to, TERN_MSG_TEXT, text, NULL, NULL, NULL);
}

TERN_API tern_message *tern_create_custom_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                  const char *data, const char *description, const char *extension)
{
    if (!client)
        return NULL;
    return sdk_msg_new_draft(tern_client_user(client), conv_type, to, TERN_MSG_CUSTOM, NULL, data, description,
                             extension);
}

static int is_draft(const tern_message *m)
{
    return m && atomic_load(&((tern_message *)m)->status) == TERN_MSG_STATUS_DRAFT;
}

TERN_API int tern_message_set_cloud_custom_data(tern_message *msg, const char *data)
{
    if (!is_draft(msg) || (data && !sdk_str_ok(data, 0, 0)))
        return TERN_ERR_SDK_INVALID_ARG;
    tern_free(msg->cloud_custom_data);
    msg->cloud_custom_data = tern_strdup(data ? data : "");
    return TERN_OK;
}

TERN_API int tern_message_set_priority(tern_message *msg, tern_priority priority)
{
    if (!is_draft(msg) || priority < TERN_PRIORITY_HIGH || priority > TERN_PRIORITY_LOWEST)
        return TERN_ERR_SDK_INVALID_ARG;
    msg->priority = priority;
    return TERN_OK;
}

TERN_API int tern_message_set_need_read_receipt(tern_message *msg, int need)
{
    if (!is_draft(msg))
        return TERN_ERR_SDK_INVALID_ARG;
    msg->need_read_receipt = need != 0;
    return TERN_OK;
}

TERN_API int tern_message_set_client_msg_id(tern_message *msg, const char *id)
{
    if (!is_draft(msg) || !id || !*id || !sdk_str_ok(id, MAX_CLIENT_MSG_ID, 1))
        return TERN_ERR_SDK_INVALID_ARG;
    tern_free(msg->client_msg_id);
    msg->client_msg_id = tern_strdup(id);
    return TERN_OK;
}

/* ---- wire encoding ------------------------------------------------------------------ */

int sdk_msg_encode_send(tern_buf *out, const tern_message *m, int online_only)
{
    int rc = 0;
    rc |= tern_buf_printf(
        out, ",\"msg\":{\"conversationType\":\"%s\",\"to\":", m->conv_type == TERN_CONV_GROUP ? "GROUP" : "C2C");
    rc |= tern_buf_json_str(out, m->to, strlen(m->to));
    rc |= tern_buf_puts(out, ",\"type\":");
    rc |= tern_buf_json_str(out, m->type_name, strlen(m->type_name));
    rc |= tern_buf_puts(out, ",\"payload\":");
    rc |= tern_buf_puts(out, m->payload_json);
    rc |= tern_buf_puts(out, ",\"clientMsgId\":");
    rc |= tern_buf_json_str(out, m->client_msg_id, strlen(m->client_msg_id));
    rc |= tern_buf_puts(out, ",\"cloudCustomData\":");
    rc |= tern_buf_json_str(out, m->cloud_custom_data, strlen(m->cloud_custom_data));
    rc |= tern_buf_printf(out, ",\"priority\":\"%s\",\"needReadReceipt\":%s},\"options\":{\"onlineUserOnly\":%s}",
                          sdk_priority_wire(m->priority), m->need_read_receipt ? "true" : "false",
                          online_only ? "true" : "false");
    return rc ? -1 : 0;
}

size_t sdk_msg_body_size(const tern_message *m)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_json_str(&b, m->cloud_custom_data, strlen(m->cloud_custom_data));
    size_t n = strlen(m->payload_json) + (b.len >= 2 ? b.len - 2 : 0);
    tern_buf_free(&b);
    return n;
}

static char *build_json(const tern_message *m)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"msgId\":");
    tern_buf_json_str(&b, m->msg_id, strlen(m->msg_id));
    tern_buf_printf(&b, ",\"seq\":%" PRIu64 ",\"time\":%" PRId64 ",\"conversationType\":\"%s\",\"from\":", m->seq,
                    m->time, m->conv_type == TERN_CONV_GROUP ? "GROUP" : "C2C");
    tern_buf_json_str(&b, m->from, strlen(m->from));
    tern_buf_puts(&b, ",\"to\":");
    tern_buf_json_str(&b, m->to, strlen(m->to));
    tern_buf_puts(&b, ",\"clientMsgId\":");
    tern_buf_json_str(&b, m->client_msg_id, strlen(m->client_msg_id));
    tern_buf_puts(&b, ",\"type\":");
    tern_buf_json_str(&b, m->type_name, strlen(m->type_name));
    tern_buf_puts(&b, ",\"payload\":");
    tern_buf_puts(&b, m->payload_json);
    tern_buf_puts(&b, ",\"cloudCustomData\":");
    tern_buf_json_str(&b, m->cloud_custom_data, strlen(m->cloud_custom_data));
    tern_buf_printf(&b, ",\"priority\":\"%s\",\"needReadReceipt\":%s%s}", sdk_priority_wire(m->priority),
                    m->need_read_receipt ? "true" : "false", m->online_only ? ",\"onlineOnly\":true" : "");
    return tern_buf_steal(&b, NULL);
}

void sdk_msg_apply_ack(tern_message *m, const char *msg_id, uint64_t seq, int64_t time, const char *conv_id,
                       int online_only)
{
    snprintf(m->msg_id, sizeof m->msg_id, "%s", msg_id ? msg_id : "");
    m->seq = seq;
    m->time = time;
    m->online_only = online_only;
    /* conv_id stays the one computed at creation (protocol §6 gives the same): other
     * threads may read it while the message is in flight. */
    (void)conv_id;
    tern_free(m->json);
    m->json = build_json(m);
    atomic_store(&m->status, TERN_MSG_STATUS_SENT);
}

void sdk_msg_apply_echo(tern_message *m, const tern_message *echo)
{
    sdk_msg_apply_ack(m, echo->msg_id, echo->seq, echo->time, NULL, echo->online_only);
}

/* ---- parsing ------------------------------------------------------------------------ */

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    uint64_t v;
    return n > 0 && n <= 20 && tern_parse_u64(s, n, &v) == 0;
}

tern_message *sdk_msg_from_json(const cJSON *obj, const char *me)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    const char *from = sdk_json_str(obj, "from"), *to = sdk_json_str(obj, "to");
    const char *ctype = sdk_json_str(obj, "conversationType"), *type = sdk_json_str(obj, "type");
    tern_conv_type ct = sdk_conv_type_parse(ctype);
    if (!from || !to || !ct || !type)
        return NULL;

    char idbuf[24] = "";
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(obj, "msgId");
    if (cJSON_IsString(idv) && idv->valuestring && id_ok(idv->valuestring))
        snprintf(idbuf, sizeof idbuf, "%s", idv->valuestring);
    else if (cJSON_IsNumber(idv) && idv->valuedouble >= 0 && idv->valuedouble < 1.8e19)
        snprintf(idbuf, sizeof idbuf, "%.0f", idv->valuedouble); /* tolerate, though the
                                                                    protocol says string */
    else
        return NULL;

    tern_message *m = msg_alloc();
    memcpy(m->msg_id, idbuf, sizeof idbuf);
    uint64_t u;
    if (sdk_json_u64(obj, "seq", &u) == 0)
        m->seq = u;
    if (sdk_json_u64(obj, "time", &u) == 0)
        m->time = (int64_t)u;
    m->conv_type = ct;
    m->from = tern_strdup(from);
    m->to = tern_strdup(to);
    char conv[160];
    if (sdk_conv_id(conv, sizeof conv, ct, from, to, me) < 0) {
        msg_free(m);
        return NULL;
    }
    m->conv_id = tern_strdup(conv);
    m->type_name = tern_strdup(type);
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(obj, "payload");
    if (!strcmp(type, "TIMTextElem")) {
        m->type = TERN_MSG_TEXT;
        const char *t = cJSON_IsObject(pl) ? sdk_json_str(pl, "text") : NULL;
        m->text = tern_strdup(t ? t : "");
    } else if (!strcmp(type, "TIMCustomElem")) {
        m->type = TERN_MSG_CUSTOM;
        if (cJSON_IsObject(pl)) {
            m->c_data = dup_or_null(sdk_json_str(pl, "data"));
            m->c_desc = dup_or_null(sdk_json_str(pl, "description"));
            m->c_ext = dup_or_null(sdk_json_str(pl, "extension"));
        }
    } else {
        m->type = TERN_MSG_UNKNOWN;
    }
    m->payload_json = pl ? print_json(pl) : NULL;
    if (!m->payload_json)
        m->payload_json = tern_strdup("{}");
    const char *s = sdk_json_str(obj, "cloudCustomData");
    m->cloud_custom_data = tern_strdup(s ? s : "");
    s = sdk_json_str(obj, "clientMsgId");
    m->client_msg_id = tern_strdup(s ? s : "");
    tern_priority p = sdk_priority_parse(sdk_json_str(obj, "priority"));
    m->priority = p ? p : TERN_PRIORITY_NORMAL;
    m->need_read_receipt = sdk_json_bool(obj, "needReadReceipt");
    m->online_only = sdk_json_bool(obj, "onlineOnly") || (m->seq == 0);
    m->json = print_json(obj);
    if (!m->json)
        m->json = build_json(m);
    atomic_store(&m->status, TERN_MSG_STATUS_RECEIVED);
    return m;
}

/* ---- accessors ---------------------------------------------------------------------- */

TERN_API tern_msg_status tern_message_status(const tern_message *msg)
{
    return msg ? (tern_msg_status)atomic_load(&((tern_message *)msg)->status) : TERN_MSG_STATUS_FAILED;
}
TERN_API const char *tern_message_id(const tern_message *msg)
{
    return msg ? msg->msg_id : "";
}
TERN_API uint64_t tern_message_seq(const tern_message *msg)
{
    return msg ? msg->seq : 0;
}
TERN_API int64_t tern_message_time(const tern_message *msg)
{
    return msg ? msg->time : 0;
}
TERN_API const char *tern_message_from(const tern_message *msg)
{
    return msg ? msg->from : "";
}
TERN_API const char *tern_message_to(const tern_message *msg)
{
    return msg ? msg->to : "";
}
TERN_API tern_conv_type tern_message_conv_type(const tern_message *msg)
{
    return msg ? msg->conv_type : 0;
}
TERN_API const char *tern_message_conversation_id(const tern_message *msg)
{
    return msg ? msg->conv_id : "";
}
TERN_API tern_msg_type tern_message_type(const tern_message *msg)
{
    return msg ? msg->type : TERN_MSG_UNKNOWN;
}
TERN_API const char *tern_message_type_name(const tern_message *msg)
{
    return msg ? msg->type_name : "";
}
TERN_API const char *tern_message_text(const tern_message *msg)
{
    return msg ? msg->text : NULL;
}
TERN_API const char *tern_message_custom_data(const tern_message *msg)
{
    return msg ? msg->c_data : NULL;
}
TERN_API const char *tern_message_custom_description(const tern_message *msg)
{
    return msg ? msg->c_desc : NULL;
}
TERN_API const char *tern_message_custom_extension(const tern_message *msg)
{
    return msg ? msg->c_ext : NULL;
}
TERN_API const char *tern_message_payload_json(const tern_message *msg)
{
    return msg ? msg->payload_json : "{}";
}
TERN_API const char *tern_message_cloud_custom_data(const tern_message *msg)
{
    return msg ? msg->cloud_custom_data : "";
}
TERN_API tern_priority tern_message_priority(const tern_message *msg)
{
    return msg ? msg->priority : TERN_PRIORITY_NORMAL;
}
TERN_API const char *tern_message_client_msg_id(const tern_message *msg)
{
    return msg ? msg->client_msg_id : "";
}
TERN_API int tern_message_need_read_receipt(const tern_message *msg)
{
    return msg ? msg->need_read_receipt : 0;
}
TERN_API int tern_message_online_only(const tern_message *msg)
{
    return msg ? msg->online_only : 0;
}

TERN_API const char *tern_message_json(const tern_message *msg)
{
    if (!msg)
        return NULL;
    int st = atomic_load(&((tern_message *)msg)->status);
    return (st == TERN_MSG_STATUS_SENT || st == TERN_MSG_STATUS_RECEIVED) ? msg->json : NULL;
}

/* ---- conversations ------------------------------------------------------------------ */

tern_conversation *sdk_conv_from_json(const cJSON *obj, const char *me)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    const char *id = sdk_json_str(obj, "conversationID");
    if (!id)
        return NULL;
    tern_conversation *c = tern_calloc(1, sizeof *c);
    c->id = tern_strdup(id);
    c->type = sdk_conv_type_parse(sdk_json_str(obj, "type"));
    if (!c->type)
        c->type = !strncmp(id, "GROUP", 5) ? TERN_CONV_GROUP : TERN_CONV_C2C;
    const char *peer = sdk_json_str(obj, "peer");
    if (!peer)
        peer = id + (c->type == TERN_CONV_GROUP ? (strlen(id) >= 5 ? 5 : 0) : (strlen(id) >= 3 ? 3 : 0));
    c->peer = tern_strdup(peer);
    sdk_json_u64(obj, "unreadCount", &c->unread);
    sdk_json_u64(obj, "readSeq", &c->read_seq);
    sdk_json_u64(obj, "lastSeq", &c->last_seq);
    const cJSON *lm = cJSON_GetObjectItemCaseSensitive(obj, "lastMessage");
    if (cJSON_IsObject(lm))
        c->last = sdk_msg_from_json(lm, me);
    return c;
}

void sdk_conv_free(tern_conversation *c)
{
    if (!c)
        return;
    tern_free(c->id);
    tern_free(c->peer);
    tern_message_release(c->last);
    tern_free(c);
}

TERN_API const char *tern_conversation_id(const tern_conversation *c)
{
    return c ? c->id : "";
}
TERN_API tern_conv_type tern_conversation_type(const tern_conversation *c)
{
    return c ? c->type : 0;
}
TERN_API const char *tern_conversation_peer(const tern_conversation *c)
{
    return c ? c->peer : "";
}
TERN_API uint64_t tern_conversation_unread_count(const tern_conversation *c)
{
    return c ? c->unread : 0;
}
TERN_API uint64_t tern_conversation_read_seq(const tern_conversation *c)
{
    return c ? c->read_seq : 0;
}
TERN_API uint64_t tern_conversation_last_seq(const tern_conversation *c)
{
    return c ? c->last_seq : 0;
}
TERN_API const tern_message *tern_conversation_last_message(const tern_conversation *c)
{
    return c ? c->last : NULL;
}
