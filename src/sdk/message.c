/*
 * message.c — tern_message and tern_conversation: drafts (tern_create_*_message and
 * setters), parsing of server message objects, the `send` request body, accessors and
 * reference counting. See message.h and include/tern/tern.h.
 *
 * Thread rules: a draft is touched by one app thread at a time; tern_send_message moves
 * it to SENDING (atomically, so it cannot be sent twice) and from then on only the loop
 * thread writes it (the ack fields). Received messages are immutable, so any thread may
 * read them while it holds a reference. The one exception is a streamed message that
 * the SDK holds alone (reference count 1: nobody else can see it): stream.c appends
 * chunks to it in place, and its payload and whole-object JSON are then rebuilt on
 * their next read, published with a compare-and-swap so that two threads reading a
 * shared copy for the first time agree on one string.
 */
#include "sdk/message.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/message.h"
#include "core/util.h"
#include "sdk/sdk_util.h"

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
    m->stream_last_seq = -1;
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
    sdk_media_fields_free(m->media);
    sdk_elem_fields_free(atomic_load(&m->elem));
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

/* A recipient a draft may name: an identifier, or the system conversation (so that
 * sending it fails with 2106, as on the server). */
static int to_ok(const char *to)
{
    return to && (tern_ident_valid(to, strlen(to)) || !strcmp(to, TERN_CONV_SYSTEM_ID));
}

tern_message *sdk_msg_new_draft(const char *me, tern_conv_type type, const char *to, tern_msg_type mtype,
                                const char *text, const char *c_data, const char *c_desc, const char *c_ext)
{
    if (!me || (type != TERN_CONV_C2C && type != TERN_CONV_GROUP) || !to_ok(to))
        return NULL;
    /* The payload through the core element table (elem.h), in the order of its row. */
    const tern_elem_type *et = tern_elem_by_sdk_type(mtype);
    const char *text_vals[3] = {text, NULL, NULL}, *custom_vals[3] = {c_data, c_desc, c_ext};
    const char *const *vals = mtype == TERN_MSG_TEXT ? text_vals : custom_vals;
    if (!et || et->nfields > 3)
        return NULL;
    for (size_t i = 0; i < et->nfields; i++)
        if (vals[i] && !sdk_str_ok(vals[i], 0, 0))
            return NULL;
    tern_buf pl;
    tern_buf_init(&pl, 0);
    if (tern_elem_encode_values(et, vals, 1, &pl) != TERN_OK) {
        tern_buf_free(&pl);
        return NULL;
    }

    tern_message *m = msg_alloc();
    m->conv_type = type;
    m->type = mtype;
    m->type_name = tern_strdup(et->name);
    m->from = tern_strdup(me);
    m->to = tern_strdup(to);
    char conv[80];
    tern_conv_id_for(conv, sizeof conv, (tern_conv_kind)type, me, to, me);
    m->conv_id = tern_strdup(conv);
    m->text = dup_or_null(mtype == TERN_MSG_TEXT ? text : NULL);
    m->c_data = dup_or_null(c_data);
    m->c_desc = dup_or_null(c_desc);
    m->c_ext = dup_or_null(c_ext);
    atomic_store(&m->payload_json, tern_buf_steal(&pl, NULL));
    m->cloud_custom_data = tern_strdup("");
    char id[33];
    sdk_random_hex_id(id);
    m->client_msg_id = tern_strdup(id);
    return m;
}

tern_message *sdk_msg_new_bare_draft(const char *me, int mtype, const char *type_name)
{
    if (!me || !type_name)
        return NULL;
    tern_message *m = msg_alloc();
    m->type = (tern_msg_type)mtype;
    m->type_name = tern_strdup(type_name);
    m->from = tern_strdup(me);
    m->to = tern_strdup("");
    m->conv_id = tern_strdup("");
    atomic_store(&m->payload_json, tern_strdup("{}"));
    m->cloud_custom_data = tern_strdup("");
    char id[33];
    sdk_random_hex_id(id);
    m->client_msg_id = tern_strdup(id);
    return m;
}

TERN_API int tern_message_set_target(tern_message *m, tern_conv_type type, const char *to)
{
    if (!m || atomic_load(&m->status) != TERN_MSG_STATUS_DRAFT || (type != TERN_CONV_C2C && type != TERN_CONV_GROUP) ||
        !to_ok(to))
        return TERN_ERR_SDK_INVALID_ARG;
    char conv[80];
    tern_conv_id_for(conv, sizeof conv, (tern_conv_kind)type, m->from, to, m->from);
    tern_free(m->to);
    tern_free(m->conv_id);
    m->conv_type = type;
    m->to = tern_strdup(to);
    m->conv_id = tern_strdup(conv);
    return TERN_OK;
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
    if (!is_draft(msg) || !id || !*id || !sdk_str_ok(id, TERN_MSG_MAX_CLIENT_ID, 1))
        return TERN_ERR_SDK_INVALID_ARG;
    tern_free(msg->client_msg_id);
    msg->client_msg_id = tern_strdup(id);
    return TERN_OK;
}

/* ---- wire encoding ------------------------------------------------------------------ */

static const char *payload_of(const tern_message *m);

/* The core model's view of a draft (strings and payload borrowed from m). */
static void as_core(const tern_message *m, tern_msg *cm)
{
    tern_msg_init(cm);
    cm->kind = (tern_conv_kind)m->conv_type;
    cm->to = (tern_str){m->to, strlen(m->to)};
    cm->elem = tern_elem_find(m->type_name, strlen(m->type_name));
    cm->payload.data = (char *)payload_of(m);
    cm->payload.len = strlen(cm->payload.data);
    cm->ccd = (tern_str){m->cloud_custom_data, strlen(m->cloud_custom_data)};
    cm->cmid = (tern_str){m->client_msg_id, strlen(m->client_msg_id)};
    cm->priority = (int)m->priority;
    cm->need_read_receipt = m->need_read_receipt;
}

int sdk_msg_encode_send(tern_buf *out, const tern_message *m, const sdk_send_extra *x)
{
    tern_msg cm;
    const tern_send_opts *o;
    as_core(m, &cm);
    sdk_send_extra_apply(x, &cm, &o);
    return cm.elem ? tern_msg_encode_send_opts(out, &cm, o) : -1;
}

int sdk_msg_check(const tern_message *m)
{
    tern_msg cm;
    as_core(m, &cm);
    if (!cm.elem)
        return TERN_ERR_UNSUPPORTED_TYPE;
    /* The server measures the canonical payload (every field of the type): so do we. */
    const char *vals[TERN_ELEM_MAX_FIELDS] = {0};
    tern_buf canon;
    tern_buf_init(&canon, 0);
    int rc;
    if (cm.elem->sdk_type == TERN_MSG_TEXT || cm.elem->sdk_type == TERN_MSG_CUSTOM) {
        if (cm.elem->sdk_type == TERN_MSG_TEXT)
            vals[0] = m->text;
        else {
            vals[0] = m->c_data;
            vals[1] = m->c_desc;
            vals[2] = m->c_ext;
        }
        rc = tern_elem_encode_values(cm.elem, vals, 0, &canon);
    } else { /* media and other types: the row's own encoder on the payload */
        cJSON *pl = cJSON_Parse(payload_of(m));
        rc = pl ? cm.elem->encode(cm.elem, pl, &canon) : TERN_ERR_BAD_FIELD;
        cJSON_Delete(pl);
    }
    if (rc == TERN_OK) {
        cm.payload = canon;
        rc = tern_msg_validate(&cm);
    }
    tern_buf_free(&canon);
    return rc;
}

/* The message object as the server would send it (docs/protocol.md §6). */
static char *build_json(const tern_message *m)
{
    tern_msg cm;
    as_core(m, &cm);
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"msgId\":");
    tern_buf_json_str(&b, m->msg_id, strlen(m->msg_id));
    tern_buf_printf(&b, ",\"seq\":%" PRIu64 ",\"time\":%" PRId64 ",", m->seq, m->time);
    if (cm.elem)
        tern_msg_encode_fields(&b, &cm, m->from, strlen(m->from));
    if (m->stream_state != TERN_STREAM_NONE) {
        static const char *const states[] = {"", "open", "finished", "ended"};
        tern_buf_puts(&b, ",\"stream\":{\"format\":");
        tern_buf_json_str(&b, m->stream_format, strlen(m->stream_format));
        tern_buf_printf(&b, ",\"state\":\"%s\",\"lastSeq\":%" PRId64, states[m->stream_state], m->stream_last_seq);
        if (m->stream_state == TERN_STREAM_FINISHED)
            tern_buf_printf(&b, ",\"finishReason\":%d", m->finish_reason);
        else if (m->stream_state == TERN_STREAM_ENDED)
            tern_buf_printf(&b, ",\"endCode\":%d", m->end_code);
        tern_buf_putc(&b, '}');
    }
    tern_buf_puts(&b, m->online_only ? ",\"onlineOnly\":true}" : "}");
    return tern_buf_steal(&b, NULL);
}

/* The payload of a text message rebuilt from its text (a streamed message after an
 * append). */
static char *build_payload(const tern_message *m)
{
    const tern_elem_type *et = tern_elem_by_sdk_type(TERN_MSG_TEXT);
    const char *vals[TERN_ELEM_MAX_FIELDS] = {m->text};
    tern_buf b;
    tern_buf_init(&b, 0);
    if (!et || m->type != TERN_MSG_TEXT || tern_elem_encode_values(et, vals, 1, &b) != TERN_OK) {
        tern_buf_free(&b);
        return tern_strdup("{}");
    }
    return tern_buf_steal(&b, NULL);
}

/* *slot, built by build() and published with a compare-and-swap if it is NULL: two
 * threads reading a shared message for the first time both get the winner's string. */
static const char *lazy(_Atomic(char *) *slot, char *(*build)(const tern_message *), const tern_message *m)
{
    char *p = atomic_load(slot);
    if (p)
        return p;
    char *fresh = build(m), *expected = NULL;
    if (atomic_compare_exchange_strong(slot, &expected, fresh))
        return fresh;
    tern_free(fresh);
    return expected;
}

static const char *payload_of(const tern_message *m)
{
    return lazy(&((tern_message *)m)->payload_json, build_payload, m);
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
    tern_free(atomic_exchange(&m->json, build_json(m)));
    atomic_store(&m->status, TERN_MSG_STATUS_SENT);
}

void sdk_msg_apply_echo(tern_message *m, const tern_message *echo)
{
    sdk_msg_apply_ack(m, echo->msg_id, echo->seq, echo->time, NULL, echo->online_only);
}

/* ---- parsing ------------------------------------------------------------------------ */

tern_message *sdk_msg_from_json(const cJSON *obj, const char *me)
{
    tern_msg_view v;
    char conv[160];
    if (tern_msg_decode(obj, &v) < 0 || tern_conv_id_for(conv, sizeof conv, v.kind, v.from, v.to, me) < 0)
        return NULL;
    tern_message *m = msg_alloc();
    snprintf(m->msg_id, sizeof m->msg_id, "%" PRIu64, v.msg_id);
    m->seq = v.seq;
    m->time = v.time;
    m->conv_type = (tern_conv_type)v.kind;
    m->from = tern_strdup(v.from);
    m->to = tern_strdup(v.to);
    m->conv_id = tern_strdup(conv);
    m->type_name = tern_strdup(v.type);
    m->type = v.elem ? (tern_msg_type)v.elem->sdk_type : (tern_msg_type)sdk_elem_type_of(v.type);
    const char *vals[TERN_ELEM_MAX_FIELDS] = {0};
    if (v.elem && cJSON_IsObject(v.payload))
        v.elem->decode(v.elem, v.payload, vals);
    if (m->type == TERN_MSG_TEXT)
        m->text = tern_strdup(vals[0] ? vals[0] : "");
    else if (m->type == TERN_MSG_CUSTOM) {
        m->c_data = dup_or_null(vals[0]);
        m->c_desc = dup_or_null(vals[1]);
        m->c_ext = dup_or_null(vals[2]);
    }
    char *pl = v.payload ? print_json(v.payload) : NULL;
    atomic_store(&m->payload_json, pl ? pl : tern_strdup("{}"));
    m->cloud_custom_data = tern_strdup(v.ccd);
    m->client_msg_id = tern_strdup(v.cmid);
    m->priority = (tern_priority)v.priority;
    m->need_read_receipt = v.need_read_receipt;
    m->online_only = v.online_only;
    m->no_unread = v.no_unread;
    m->no_last = v.no_last;
    int mt = sdk_media_type_of(v.type); /* by name: whatever the element table says */
    if (mt) {
        m->type = (tern_msg_type)mt;
        m->media = sdk_media_fields_parse(mt, v.payload);
    }
    sdk_msg_parse_stream(m, cJSON_GetObjectItemCaseSensitive(obj, "stream"));
    char *js = print_json(obj);
    atomic_store(&m->json, js ? js : build_json(m));
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
    return msg ? payload_of(msg) : "{}";
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
TERN_API int tern_message_excluded_from_unread_count(const tern_message *msg)
{
    return msg ? msg->no_unread : 0;
}
TERN_API int tern_message_excluded_from_last_message(const tern_message *msg)
{
    return msg ? msg->no_last : 0;
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
    if (st != TERN_MSG_STATUS_SENT && st != TERN_MSG_STATUS_RECEIVED)
        return NULL;
    return lazy(&((tern_message *)msg)->json, build_json, msg);
}

/* ---- streamed messages -------------------------------------------------------------- */

int sdk_stream_state_parse(const char *s)
{
    if (!s)
        return TERN_STREAM_NONE;
    if (!strcmp(s, "open"))
        return TERN_STREAM_OPEN;
    if (!strcmp(s, "finished"))
        return TERN_STREAM_FINISHED;
    if (!strcmp(s, "ended"))
        return TERN_STREAM_ENDED;
    return TERN_STREAM_NONE;
}

int sdk_msg_parse_stream(tern_message *m, const cJSON *st)
{
    long long last = -1, v = 0;
    int state = sdk_stream_state_parse(tern_json_str(st, "state"));
    if (!cJSON_IsObject(st) || state == TERN_STREAM_NONE ||
        tern_json_get_int(st, "lastSeq", 0, 9007199254740991LL, &last) != TERN_JSON_OK)
        return -1;
    const char *fmt = tern_json_str(st, "format");
    snprintf(m->stream_format, sizeof m->stream_format, "%s", fmt && !strcmp(fmt, "markdown") ? "markdown" : "text");
    m->stream_state = state;
    m->stream_last_seq = last;
    m->finish_reason = m->end_code = 0;
    if (state == TERN_STREAM_FINISHED && tern_json_get_int(st, "finishReason", INT32_MIN, INT32_MAX, &v) == 0)
        m->finish_reason = (int)v;
    if (state == TERN_STREAM_ENDED && tern_json_get_int(st, "endCode", 0, INT32_MAX, &v) == 0)
        m->end_code = (int)v;
    return 0;
}

tern_message *sdk_msg_clone(const tern_message *m)
{
    tern_message *c = msg_alloc();
    atomic_store(&c->status, atomic_load(&((tern_message *)m)->status));
    c->conv_type = m->conv_type;
    c->type = m->type;
    c->priority = m->priority;
    c->need_read_receipt = m->need_read_receipt;
    c->online_only = m->online_only;
    memcpy(c->msg_id, m->msg_id, sizeof c->msg_id);
    c->seq = m->seq;
    c->time = m->time;
    c->from = dup_or_null(m->from);
    c->to = dup_or_null(m->to);
    c->conv_id = dup_or_null(m->conv_id);
    c->type_name = dup_or_null(m->type_name);
    c->text = dup_or_null(m->text);
    c->c_data = dup_or_null(m->c_data);
    c->c_desc = dup_or_null(m->c_desc);
    c->c_ext = dup_or_null(m->c_ext);
    c->cloud_custom_data = dup_or_null(m->cloud_custom_data);
    c->client_msg_id = dup_or_null(m->client_msg_id);
    atomic_store(&c->payload_json, dup_or_null(atomic_load(&((tern_message *)m)->payload_json)));
    atomic_store(&c->json, dup_or_null(atomic_load(&((tern_message *)m)->json)));
    c->stream_state = m->stream_state;
    memcpy(c->stream_format, m->stream_format, sizeof c->stream_format);
    c->stream_last_seq = m->stream_last_seq;
    c->finish_reason = m->finish_reason;
    c->end_code = m->end_code;
    c->text_len = c->text_cap = 0; /* set on the first append */
    c->media = sdk_media_fields_dup(m->media);
    return c;
}

int sdk_msg_stream_append(tern_message *m, const char *p, size_t n, size_t max)
{
    if (!m->text)
        m->text = tern_strdup("");
    if (!m->text_cap) {
        m->text_len = strlen(m->text);
        m->text_cap = m->text_len + 1;
    }
    if (n > max || m->text_len > max - n)
        return -1;
    if (m->text_len + n + 1 > m->text_cap) {
        size_t cap = m->text_cap * 2;
        if (cap < m->text_len + n + 1)
            cap = m->text_len + n + 1;
        m->text = tern_realloc(m->text, cap);
        m->text_cap = cap;
    }
    memcpy(m->text + m->text_len, p, n);
    m->text_len += n;
    m->text[m->text_len] = 0;
    /* Sole owner: nobody reads these while they are replaced. */
    tern_free(atomic_exchange(&m->payload_json, NULL));
    tern_free(atomic_exchange(&m->json, NULL));
    return 0;
}

TERN_API tern_stream_state tern_message_stream_state(const tern_message *msg)
{
    return msg ? (tern_stream_state)msg->stream_state : TERN_STREAM_NONE;
}
TERN_API const char *tern_message_stream_format(const tern_message *msg)
{
    return msg && msg->stream_state ? msg->stream_format : NULL;
}
TERN_API int64_t tern_message_stream_last_seq(const tern_message *msg)
{
    return msg && msg->stream_state ? msg->stream_last_seq : -1;
}
TERN_API int tern_message_stream_finish_reason(const tern_message *msg)
{
    return msg && msg->stream_state == TERN_STREAM_FINISHED ? msg->finish_reason : 0;
}
TERN_API int tern_message_stream_end_code(const tern_message *msg)
{
    return msg && msg->stream_state == TERN_STREAM_ENDED ? msg->end_code : 0;
}

/* ---- conversations ------------------------------------------------------------------ */

tern_conversation *sdk_conv_from_json(const cJSON *obj, const char *me)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    const char *id = tern_json_str(obj, "conversationID");
    if (!id)
        return NULL;
    tern_conversation *c = tern_calloc(1, sizeof *c);
    c->id = tern_strdup(id);
    const char *ts = tern_json_str(obj, "type");
    c->type = ts ? (tern_conv_type)tern_conv_kind_parse(ts, strlen(ts)) : 0;
    if (c->type != TERN_CONV_C2C && c->type != TERN_CONV_GROUP)
        c->type = 0;
    if (!c->type)
        c->type = !strncmp(id, "GROUP", 5) ? TERN_CONV_GROUP : TERN_CONV_C2C;
    const char *peer = tern_json_str(obj, "peer");
    if (!peer)
        peer = id + (c->type == TERN_CONV_GROUP ? (strlen(id) >= 5 ? 5 : 0) : (strlen(id) >= 3 ? 3 : 0));
    c->peer = tern_strdup(peer);
    tern_json_get_u64(obj, "unreadCount", &c->unread);
    tern_json_get_u64(obj, "readSeq", &c->read_seq);
    tern_json_get_u64(obj, "lastSeq", &c->last_seq);
    uint64_t at = 0;
    if (tern_json_get_u64(obj, "atInfo", &at) == 0 && at <= TERN_CONV_AT_ALL_AT_ME)
        c->at_info = (int)at;
    tern_json_get_u64(obj, "atMeSeq", &c->at_me_seq);
    tern_json_get_u64(obj, "atAllSeq", &c->at_all_seq);
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
TERN_API int tern_conversation_at_info(const tern_conversation *c)
{
    return c ? c->at_info : 0;
}
