/*
 * msg.c — the path of a message, shared by WebSocket `send` and REST sends:
 * validate → authorize → pre-encode → submit to the store → (writer thread, after
 * commit) fan out to every online session of every recipient → complete (ack).
 *
 * Fan-out runs on the store writer thread, in commit order, so live pushes for one
 * conversation reach every loop's inbox in seq order and are never reordered. The
 * pushed frame is built once and shared by all recipients.
 */
#include "msg.h"

#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "delivery.h"

#define MAX_BODY 12288 /* payload + cloudCustomData, seed 001: 12 KB, error 80002 */
#define SYSTEM_CONV "@TIM#SYSTEM"

static const char *str_field(cJSON *o, const char *name, int *bad)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

/* Encodes the payload of the supported types canonically (only known fields, strings
 * re-escaped), so what is stored and pushed never carries a client's odd JSON. */
static int encode_payload(const char *type, cJSON *payload, tern_buf *out)
{
    int bad = 0;
    if (!cJSON_IsObject(payload))
        return TERN_ERR_BAD_FIELD;
    if (!strcmp(type, "TIMTextElem")) {
        const char *text = str_field(payload, "text", &bad);
        if (bad || !text)
            return TERN_ERR_BAD_FIELD;
        tern_buf_puts(out, "{\"text\":");
        tern_buf_json_str(out, text, strlen(text));
        tern_buf_putc(out, '}');
        return TERN_OK;
    }
    if (!strcmp(type, "TIMCustomElem")) {
        static const char *names[] = {"data", "description", "extension"};
        tern_buf_putc(out, '{');
        for (int i = 0; i < 3; i++) {
            const char *v = str_field(payload, names[i], &bad);
            if (bad)
                return TERN_ERR_BAD_FIELD;
            tern_buf_printf(out, "%s\"%s\":", i ? "," : "", names[i]);
            tern_buf_json_str(out, v ? v : "", v ? strlen(v) : 0);
        }
        tern_buf_putc(out, '}');
        return TERN_OK;
    }
    return TERN_ERR_UNSUPPORTED_TYPE;
}

void send_req_free(send_req *r)
{
    if (!r)
        return;
    group_snap_unref(r->snap);
    tern_free(r->sender);
    tern_free(r->to);
    tern_free(r->conv_key);
    tern_free(r->fields);
    tern_free(r->cmid);
    tern_free(r->op.u.msg.json);
    tern_free(r->reply);
    tern_free(r);
}

int msg_prepare(server *s, store_reader *rd, int64_t app, const char *from, cJSON *msg, send_req **out)
{
    int bad = 0;
    *out = NULL;
    if (!cJSON_IsObject(msg))
        return TERN_ERR_BAD_FIELD;
    const char *ctype = str_field(msg, "conversationType", &bad);
    const char *to = str_field(msg, "to", &bad);
    if (bad || !ctype || !to)
        return TERN_ERR_BAD_FIELD;
    /* The system conversation is receive-only (Tencent 2106). */
    if (!strcmp(ctype, "SYSTEM") || !strcmp(to, SYSTEM_CONV))
        return TERN_ERR_SYSTEM_CONV;
    int is_group;
    if (!strcmp(ctype, "C2C"))
        is_group = 0;
    else if (!strcmp(ctype, "GROUP"))
        is_group = 1;
    else
        return TERN_ERR_BAD_FIELD;
    if (!tern_ident_valid(to, strlen(to)))
        return is_group ? TERN_ERR_GROUP_NOT_FOUND : TERN_ERR_USER_NOT_FOUND;
    const char *type = str_field(msg, "type", &bad);
    const char *ccd = str_field(msg, "cloudCustomData", &bad);
    const char *cmid = str_field(msg, "clientMsgId", &bad);
    const char *prio = str_field(msg, "priority", &bad);
    if (bad || !type)
        return TERN_ERR_BAD_FIELD;
    if (cmid && strlen(cmid) > 64)
        return TERN_ERR_BAD_FIELD;
    if (prio && strcmp(prio, "High") && strcmp(prio, "Normal") && strcmp(prio, "Low") && strcmp(prio, "Lowest"))
        return TERN_ERR_BAD_FIELD;
    cJSON *nrr = cJSON_GetObjectItemCaseSensitive(msg, "needReadReceipt");
    if (nrr && !cJSON_IsBool(nrr) && !cJSON_IsNull(nrr))
        return TERN_ERR_BAD_FIELD;

    tern_buf payload;
    tern_buf_init(&payload, 0);
    int rc = encode_payload(type, cJSON_GetObjectItemCaseSensitive(msg, "payload"), &payload);
    if (rc != TERN_OK) {
        tern_buf_free(&payload);
        return rc;
    }
    size_t ccdn = ccd ? strlen(ccd) : 0;
    if (payload.len + ccdn > MAX_BODY) {
        tern_buf_free(&payload);
        return TERN_ERR_MSG_TOO_LONG;
    }

    /* Authorize: C2C recipient must exist; GROUP sender must be a member. */
    group_snap *snap = NULL;
    if (is_group) {
        int err = 0;
        snap = groups_get(s, rd, app, to, &err);
        if (!snap) {
            tern_buf_free(&payload);
            return err;
        }
        if (!group_snap_has(snap, from)) {
            group_snap_unref(snap);
            tern_buf_free(&payload);
            return TERN_ERR_GROUP_PERMISSION;
        }
    } else {
        int ex = store_user_exists(rd, app, to);
        if (ex != 1) {
            tern_buf_free(&payload);
            return ex < 0 ? TERN_ERR_STORE : TERN_ERR_USER_NOT_FOUND;
        }
    }

    send_req *r = tern_calloc(1, sizeof *r);
    r->s = s;
    r->app = app;
    r->is_group = is_group;
    r->snap = snap;
    r->sender = tern_strdup(from);
    r->to = tern_strdup(to);
    r->cmid = cmid && *cmid ? tern_strdup(cmid) : NULL;
    char key[160];
    if (is_group)
        store_conv_key_group(to, key, sizeof key);
    else
        store_conv_key_c2c(from, to, key, sizeof key);
    r->conv_key = tern_strdup(key);

    tern_buf f;
    tern_buf_init(&f, 0);
    tern_buf_printf(&f, "\"conversationType\":\"%s\",\"from\":", is_group ? "GROUP" : "C2C");
    tern_buf_json_str(&f, from, strlen(from));
    tern_buf_puts(&f, ",\"to\":");
    tern_buf_json_str(&f, to, strlen(to));
    if (r->cmid) {
        tern_buf_puts(&f, ",\"clientMsgId\":");
        tern_buf_json_str(&f, r->cmid, strlen(r->cmid));
    }
    tern_buf_puts(&f, ",\"type\":");
    tern_buf_json_str(&f, type, strlen(type));
    tern_buf_puts(&f, ",\"payload\":");
    tern_buf_append(&f, payload.data, payload.len);
    tern_buf_puts(&f, ",\"cloudCustomData\":");
    tern_buf_json_str(&f, ccd ? ccd : "", ccdn);
    tern_buf_printf(&f, ",\"priority\":\"%s\",\"needReadReceipt\":%s", prio ? prio : "Normal",
                    cJSON_IsTrue(nrr) ? "true" : "false");
    tern_buf_free(&payload);
    r->fields = tern_buf_steal(&f, &r->fields_len);
    *out = r;
    return TERN_OK;
}

/* The client-facing conversation id of a message from the sender's side. */
void msg_conv_id(const send_req *r, tern_buf *out)
{
    tern_buf_puts(out, r->is_group ? "GROUP" : "C2C");
    tern_buf_puts(out, r->to);
}

/* Pushes the message frame to every session that should see it: one delivery call for
 * all the recipients (a group's members; a C2C peer and the sender's other devices). */
static void fan_out(send_req *r, frame *f)
{
    server *s = r->s;
    if (r->is_group) {
        delivery_push_users(s, r->app, (const char *const *)r->snap->members, r->snap->n, r->origin_session, f);
    } else {
        const char *users[2] = {r->to, r->sender};
        delivery_push_users(s, r->app, users, strcmp(r->to, r->sender) ? 2 : 1, r->origin_session, f);
    }
}

/* Builds {"ev":"msg","data":<json>} as a frame in one allocation and one copy: this
 * runs on the store writer for every stored message. */
static frame *event_frame(const char *json, size_t n)
{
    static const char pre[] = "{\"ev\":\"msg\",\"data\":";
    size_t plen = sizeof pre - 1 + n + 1;
    uint8_t hdr[WS_MAX_HEADER];
    size_t h = ws_encode_header(hdr, WS_OP_TEXT, 1, plen, NULL);
    frame *f = tern_malloc(sizeof *f + h + plen);
    atomic_init(&f->refs, 1);
    f->len = (uint32_t)(h + plen);
    uint8_t *o = f->data;
    memcpy(o, hdr, h);
    memcpy(o + h, pre, sizeof pre - 1);
    memcpy(o + h + sizeof pre - 1, json, n);
    o[h + plen - 1] = '}';
    return f;
}

static void on_committed(store_op *op)
{
    send_req *r = op->ud;
    if (op->result == TERN_OK) {
        atomic_fetch_add(&r->s->m_msgs_in, 1);
        if (!op->u.msg.duplicate) {
            frame *f = event_frame(op->u.msg.json, op->u.msg.json_len);
            fan_out(r, f);
            frame_unref(f);
        }
    }
    r->complete(r);
}

int msg_submit(send_req *r)
{
    server *s = r->s;
    if (atomic_load(&s->shutting_down))
        return TERN_ERR_SHUTTING_DOWN;
    store_op *op = &r->op;
    op->kind = STORE_OP_MESSAGE;
    op->app = r->app;
    op->done = on_committed;
    op->ud = r;
    op->u.msg.conv_key = r->conv_key;
    op->u.msg.is_group = r->is_group;
    op->u.msg.sender = r->sender;
    op->u.msg.peer = r->to;
    op->u.msg.client_msg_id = r->cmid;
    op->u.msg.fields = r->fields;
    op->u.msg.fields_len = r->fields_len;
    return store_submit(s->st, op);
}

int msg_send_online(send_req *r)
{
    /* Not stored: an id and a time, seq 0, delivered to whoever is online now. */
    uint64_t id = tern_idgen_next(&r->s->online_ids);
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"msgId\":");
    tern_buf_json_u64str(&b, id);
    tern_buf_printf(&b, ",\"seq\":0,\"time\":%lld,", (long long)tern_id_time_ms(id));
    tern_buf_append(&b, r->fields, r->fields_len);
    tern_buf_puts(&b, ",\"onlineOnly\":true}");
    r->op.result = TERN_OK;
    r->op.u.msg.msg_id = id;
    r->op.u.msg.seq = 0;
    r->op.u.msg.time_ms = tern_id_time_ms(id);
    frame *f = event_frame(b.data, b.len);
    r->op.u.msg.json = tern_buf_steal(&b, &r->op.u.msg.json_len);
    fan_out(r, f);
    frame_unref(f);
    r->complete(r);
    return TERN_OK;
}
