/*
 * message.c — validation, the 12 KB measure, and the encoders/decoder of the message
 * model; see message.h. This runs once per message on the send path (no allocation but
 * the payload's buffer).
 */
#include "core/message.h"

#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "tern/errors.h"

/* The keys of a client's message object that the server implements. */
static const char *const send_keys[] = {"conversationType",
                                        "to",
                                        "type",
                                        "payload",
                                        "clientMsgId",
                                        "cloudCustomData",
                                        "priority",
                                        "needReadReceipt",
                                        "receiverList",
                                        "isSupportExtension"};

static const char *const prio_names[] = {"", "High", "Normal", "Low", "Lowest"};

void tern_msg_init(tern_msg *m)
{
    memset(m, 0, sizeof *m);
    tern_buf_init(&m->payload, 0);
    m->priority = TERN_MSG_PRIO_NORMAL;
}

void tern_msg_clear(tern_msg *m)
{
    tern_buf_free(&m->payload);
}

const char *tern_msg_priority_name(int priority)
{
    return priority >= TERN_MSG_PRIO_HIGH && priority <= TERN_MSG_PRIO_LOWEST ? prio_names[priority] : "Normal";
}

int tern_msg_priority_parse(const char *s, size_t n)
{
    for (int i = TERN_MSG_PRIO_HIGH; s && i <= TERN_MSG_PRIO_LOWEST; i++)
        if (strlen(prio_names[i]) == n && !memcmp(prio_names[i], s, n))
            return i;
    return 0;
}

size_t tern_msg_body_size(size_t payload_n, const char *ccd, size_t ccd_n)
{
    return payload_n + tern_json_escaped_len(ccd, ccd_n);
}

void tern_msg_sizes(const tern_msg *m, size_t *body, size_t *media)
{
    size_t all = tern_msg_body_size(m->payload.len, m->ccd.p, m->ccd.n);
    *body = *media = all;
    if (!m->elem || !m->elem->media)
        return;
    size_t member_n, b64_n;
    size_t raw = tern_elem_thumb_span(m->payload.data, m->payload.len, &member_n, &b64_n);
    *body = all - member_n;
    *media = all - b64_n + raw;
}

static int is_system_id(tern_str s)
{
    return s.n == sizeof TERN_CONV_SYSTEM_ID - 1 && !memcmp(s.p, TERN_CONV_SYSTEM_ID, s.n);
}

int tern_msg_validate(const tern_msg *m)
{
    /* The system conversation is receive-only (Tencent 2106), however it is named. */
    if (m->kind == TERN_CONV_KIND_SYSTEM || is_system_id(m->to))
        return TERN_ERR_SYSTEM_CONV;
    if (m->kind != TERN_CONV_KIND_C2C && m->kind != TERN_CONV_KIND_GROUP)
        return TERN_ERR_BAD_FIELD;
    if (!tern_ident_valid(m->to.p, m->to.n) || m->cmid.n > TERN_MSG_MAX_CLIENT_ID)
        return TERN_ERR_BAD_FIELD;
    if (!m->elem)
        return TERN_ERR_UNSUPPORTED_TYPE;
    /* An @ message is for groups (issue 10). */
    if (m->kind == TERN_CONV_KIND_C2C && m->elem->sdk_type == 1 /* TERN_MSG_TEXT */ &&
        tern_elem_text_has_at(m->payload.data, m->payload.len))
        return TERN_ERR_GROUP_ONLY;
    size_t body, media;
    tern_msg_sizes(m, &body, &media);
    if (body > TERN_MSG_MAX_BODY || media > TERN_MSG_MAX_MEDIA)
        return TERN_ERR_MSG_TOO_LONG;
    return TERN_OK;
}

static int known_key(const char *k)
{
    for (size_t i = 0; i < sizeof send_keys / sizeof send_keys[0]; i++)
        if (!strcmp(k, send_keys[i]))
            return 1;
    return 0;
}

/* receiverList (seed 001): groups only, 1..50 distinct identifiers; null is absent. */
static int parse_receivers(tern_msg *m, const cJSON *rl)
{
    if (!rl || cJSON_IsNull(rl))
        return TERN_OK;
    if (m->kind != TERN_CONV_KIND_GROUP)
        return TERN_ERR_GROUP_ONLY;
    if (!cJSON_IsArray(rl))
        return TERN_ERR_BAD_FIELD;
    int n = cJSON_GetArraySize(rl);
    if (n > TERN_MSG_MAX_RECEIVERS)
        return TERN_ERR_TOO_MANY;
    if (n == 0)
        return TERN_ERR_BAD_FIELD;
    const cJSON *a, *b;
    cJSON_ArrayForEach(a, rl)
    {
        if (!cJSON_IsString(a) || !tern_ident_valid(a->valuestring, strlen(a->valuestring)))
            return TERN_ERR_BAD_FIELD;
        for (b = rl->child; b != a; b = b->next)
            if (!strcmp(a->valuestring, b->valuestring))
                return TERN_ERR_BAD_FIELD;
    }
    m->receivers = rl;
    return TERN_OK;
}

int tern_msg_parse_send(const cJSON *obj, tern_msg *m)
{
    tern_msg_init(m);
    if (!cJSON_IsObject(obj))
        return TERN_ERR_BAD_FIELD;
    tern_str ctype, type, prio = {0};
    if (tern_json_get_str(obj, "conversationType", &ctype) != TERN_JSON_OK ||
        tern_json_get_str(obj, "to", &m->to) != TERN_JSON_OK)
        return TERN_ERR_BAD_FIELD;
    m->kind = tern_conv_kind_parse(ctype.p, ctype.n);
    if (m->kind == TERN_CONV_KIND_SYSTEM || is_system_id(m->to))
        return TERN_ERR_SYSTEM_CONV;
    int nrr = 0, ext = 0;
    if (tern_json_get_str(obj, "type", &type) != TERN_JSON_OK ||
        tern_json_get_bool(obj, "isSupportExtension", &ext) == TERN_JSON_INVALID ||
        tern_json_get_str(obj, "cloudCustomData", &m->ccd) == TERN_JSON_INVALID ||
        tern_json_get_str(obj, "clientMsgId", &m->cmid) == TERN_JSON_INVALID ||
        tern_json_get_str(obj, "priority", &prio) == TERN_JSON_INVALID ||
        tern_json_get_bool(obj, "needReadReceipt", &nrr) == TERN_JSON_INVALID)
        return TERN_ERR_BAD_FIELD;
    m->need_read_receipt = nrr;
    m->support_extension = ext;
    if (prio.p && !(m->priority = tern_msg_priority_parse(prio.p, prio.n)))
        return TERN_ERR_BAD_FIELD;
    if ((m->kind != TERN_CONV_KIND_C2C && m->kind != TERN_CONV_KIND_GROUP) || !tern_ident_valid(m->to.p, m->to.n) ||
        m->cmid.n > TERN_MSG_MAX_CLIENT_ID)
        return TERN_ERR_BAD_FIELD;
    const cJSON *k;
    cJSON_ArrayForEach(k, obj)
    {
        if (!known_key(k->string))
            return TERN_ERR_NOT_SUPPORTED;
    }
    int rc = parse_receivers(m, cJSON_GetObjectItemCaseSensitive(obj, "receiverList"));
    if (rc != TERN_OK)
        return rc;
    m->elem = tern_elem_find(type.p, type.n);
    if (!m->elem)
        return TERN_ERR_UNSUPPORTED_TYPE;
    rc = m->elem->encode(m->elem, cJSON_GetObjectItemCaseSensitive(obj, "payload"), &m->payload);
    if (rc == TERN_OK)
        rc = tern_msg_validate(m);
    if (rc != TERN_OK)
        tern_msg_clear(m);
    return rc;
}

int tern_msg_encode_fields(tern_buf *out, const tern_msg *m, const char *from, size_t from_n)
{
    int rc = tern_buf_puts(out, m->kind == TERN_CONV_KIND_GROUP ? "\"conversationType\":\"GROUP\",\"from\":"
                                                                : "\"conversationType\":\"C2C\",\"from\":");
    rc |= tern_buf_json_str(out, from, from_n);
    rc |= tern_buf_puts(out, ",\"to\":");
    rc |= tern_buf_json_str(out, m->to.p, m->to.n);
    if (m->cmid.n) {
        rc |= tern_buf_puts(out, ",\"clientMsgId\":");
        rc |= tern_buf_json_str(out, m->cmid.p, m->cmid.n);
    }
    rc |= tern_buf_puts(out, ",\"type\":");
    rc |= tern_buf_json_str(out, m->elem->name, strlen(m->elem->name));
    rc |= tern_buf_puts(out, ",\"payload\":");
    rc |= tern_buf_append(out, m->payload.data, m->payload.len);
    rc |= tern_buf_puts(out, ",\"cloudCustomData\":");
    rc |= tern_buf_json_str(out, m->ccd.p ? m->ccd.p : "", m->ccd.n);
    rc |= tern_buf_printf(out, ",\"priority\":\"%s\",\"needReadReceipt\":%s", tern_msg_priority_name(m->priority),
                          m->need_read_receipt ? "true" : "false");
    if (m->support_extension) /* only then: other messages keep their bytes */
        rc |= tern_buf_puts(out, ",\"isSupportExtension\":true");
    return rc ? -1 : 0;
}

int tern_msg_encode_send(tern_buf *out, const tern_msg *m, int online_only)
{
    tern_send_opts o;
    memset(&o, 0, sizeof o);
    o.online_only = online_only;
    return tern_msg_encode_send_opts(out, m, &o);
}

int tern_msg_encode_send_opts(tern_buf *out, const tern_msg *m, const tern_send_opts *o)
{
    int rc = tern_buf_puts(out, m->kind == TERN_CONV_KIND_GROUP ? ",\"msg\":{\"conversationType\":\"GROUP\",\"to\":"
                                                                : ",\"msg\":{\"conversationType\":\"C2C\",\"to\":");
    rc |= tern_buf_json_str(out, m->to.p, m->to.n);
    rc |= tern_buf_puts(out, ",\"type\":");
    rc |= tern_buf_json_str(out, m->elem->name, strlen(m->elem->name));
    rc |= tern_buf_puts(out, ",\"payload\":");
    rc |= tern_buf_append(out, m->payload.data, m->payload.len);
    if (m->cmid.n) {
        rc |= tern_buf_puts(out, ",\"clientMsgId\":");
        rc |= tern_buf_json_str(out, m->cmid.p, m->cmid.n);
    }
    rc |= tern_buf_puts(out, ",\"cloudCustomData\":");
    rc |= tern_buf_json_str(out, m->ccd.p ? m->ccd.p : "", m->ccd.n);
    rc |= tern_buf_printf(out, ",\"priority\":\"%s\",\"needReadReceipt\":%s", tern_msg_priority_name(m->priority),
                          m->need_read_receipt ? "true" : "false");
    if (cJSON_IsArray(m->receivers)) {
        const cJSON *r;
        rc |= tern_buf_puts(out, ",\"receiverList\":[");
        cJSON_ArrayForEach(r, m->receivers)
        {
            const char *v = cJSON_IsString(r) ? r->valuestring : "";
            if (r != m->receivers->child)
                rc |= tern_buf_putc(out, ',');
            rc |= tern_buf_json_str(out, v, strlen(v));
        }
        rc |= tern_buf_putc(out, ']');
    }
    if (m->support_extension)
        rc |= tern_buf_puts(out, ",\"isSupportExtension\":true");
    rc |= tern_buf_puts(out, "},\"options\":");
    rc |= tern_send_opts_encode(out, o);
    return rc ? -1 : 0;
}

int tern_msg_decode(const cJSON *obj, tern_msg_view *v)
{
    memset(v, 0, sizeof *v);
    tern_str ctype;
    if (!cJSON_IsObject(obj) || tern_json_get_u64(obj, "msgId", &v->msg_id) != TERN_JSON_OK ||
        tern_json_get_str(obj, "conversationType", &ctype) != TERN_JSON_OK)
        return -1;
    v->kind = tern_conv_kind_parse(ctype.p, ctype.n);
    v->from = tern_json_str(obj, "from");
    v->to = tern_json_str(obj, "to");
    v->type = tern_json_str(obj, "type");
    if ((v->kind != TERN_CONV_KIND_C2C && v->kind != TERN_CONV_KIND_GROUP) || !v->from || !v->to || !v->type)
        return -1;
    v->elem = tern_elem_find(v->type, strlen(v->type));
    v->payload = cJSON_GetObjectItemCaseSensitive(obj, "payload");
    tern_json_get_u64(obj, "seq", &v->seq);
    uint64_t t = 0;
    tern_json_get_u64(obj, "time", &t);
    v->time = (int64_t)t;
    v->ccd = tern_json_str(obj, "cloudCustomData");
    if (!v->ccd)
        v->ccd = "";
    v->cmid = tern_json_str(obj, "clientMsgId");
    if (!v->cmid)
        v->cmid = "";
    const char *p = tern_json_str(obj, "priority");
    v->priority = p ? tern_msg_priority_parse(p, strlen(p)) : 0;
    if (!v->priority)
        v->priority = TERN_MSG_PRIO_NORMAL;
    int b = 0;
    v->need_read_receipt = tern_json_get_bool(obj, "needReadReceipt", &b) == TERN_JSON_OK && b;
    b = 0;
    v->online_only = (tern_json_get_bool(obj, "onlineOnly", &b) == TERN_JSON_OK && b) || v->seq == 0;
    b = 0;
    v->no_unread = tern_json_get_bool(obj, "isExcludedFromUnreadCount", &b) == TERN_JSON_OK && b;
    b = 0;
    v->no_last = tern_json_get_bool(obj, "isExcludedFromLastMessage", &b) == TERN_JSON_OK && b;
    return 0;
}
