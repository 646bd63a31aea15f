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
#include "core/wire.h"
#include "core/ws.h"
#include "delivery.h"
#include "friends.h"
#include "hooks/moderation.h"
#include "media/media_msg.h"
#include "merger.h"
#include "ratelimit.h"

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
    tern_free(r->merger_body);
    for (size_t i = 0; i < r->nreceivers; i++)
        tern_free(r->receivers[i]);
    tern_free(r->receivers);
    tern_free(r->push_json);
    msg_hook_cfg_free(r->hcfg);
    for (size_t i = 0; i < r->nat; i++)
        tern_free(r->at_users[i]);
    tern_free(r->at_users);
    tern_free(r);
}

/* An @ message's mentions, read back from its canonical payload (only a text payload
 * with atUserList gets here). 0, or -1 out of memory. */
static int take_mentions(send_req *r, const tern_buf *payload)
{
    cJSON *p = cJSON_ParseWithLength(payload->data, payload->len);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "atUserList"), *e;
    int n = cJSON_GetArraySize(list);
    if (!p || n <= 0) {
        cJSON_Delete(p);
        return -1;
    }
    r->at_users = tern_calloc((size_t)n, sizeof *r->at_users);
    cJSON_ArrayForEach(e, list)
    {
        if (!strcmp(e->valuestring, TERN_ELEM_AT_ALL))
            r->at_all = 1;
        else
            r->at_users[r->nat++] = tern_strdup(e->valuestring);
    }
    cJSON_Delete(p);
    return 0;
}

/* receiverList (H1): not with an @ message (1021), every entry a member of the group at
 * send time (1022). The core model checked the rest (message.c: 1020, 1203, 1003). */
static int receivers_ok(const tern_msg *m, const group_snap *snap)
{
    if (m->elem->sdk_type == 1 /* TERN_MSG_TEXT */ && tern_elem_text_has_at(m->payload.data, m->payload.len))
        return TERN_ERR_AT_WITH_RECEIVERS;
    const cJSON *e;
    cJSON_ArrayForEach(e, m->receivers)
    {
        if (!group_snap_has(snap, e->valuestring))
            return TERN_ERR_RECEIVER_NOT_MEMBER;
    }
    return TERN_OK;
}

int msg_store_flags(const send_req *r)
{
    return (r->no_unread ? STORE_MSG_NO_UNREAD : 0) | (r->no_last ? STORE_MSG_NO_LAST : 0) |
           (r->nreceivers ? STORE_MSG_PRIVATE : 0);
}

/* Authorizes and prepares m, which the caller has validated. */
static int prepare(server *s, store_reader *rd, int64_t app, const char *from, const tern_msg *m, send_req **out)
{
    int is_group = m->kind == TERN_CONV_KIND_GROUP;
    char to[TERN_IDENT_MAX + 1]; /* validated: an identifier */
    memcpy(to, m->to.p, m->to.n);
    to[m->to.n] = 0;

    /* Authorize: C2C recipient must exist; GROUP sender must be a member. */
    group_snap *snap = NULL;
    if (is_group) {
        int err = 0;
        snap = groups_get(s, rd, app, to, &err);
        if (!snap)
            return err;
        if (!group_snap_has(snap, from)) {
            group_snap_unref(snap);
            return TERN_ERR_GROUP_PERMISSION;
        }
    } else {
        int ex = store_user_exists(rd, app, to);
        if (ex != 1)
            return ex < 0 ? TERN_ERR_STORE : TERN_ERR_USER_NOT_FOUND;
        /* H5: the app's friendCheck (20009); one indexed read, only when it is on */
        int fc = friends_check(s, rd, app, from, to);
        if (fc != TERN_OK)
            return fc;
    }

    if (m->receivers) {
        int rc = is_group ? receivers_ok(m, snap) : TERN_ERR_GROUP_ONLY;
        if (rc != TERN_OK) {
            group_snap_unref(snap);
            return rc;
        }
    }

    /* A media message is stored as completed from its media rows (media_msg.h), a
     * merger with the messages it names (merger.h). */
    tern_msg done;
    merger_row mrow = {.key = ""};
    if (m->elem->media || m->elem->merger) {
        done = *m;
        tern_buf_init(&done.payload, 0);
        int rc = m->elem->media ? media_msg_complete(s, rd, app, m, tern_now_ms(), &done.payload)
                                : merger_complete(s, rd, app, from, m, &done.payload, &mrow);
        if (rc != TERN_OK) {
            tern_buf_free(&done.payload);
            group_snap_unref(snap);
            return rc;
        }
        m = &done;
    }

    send_req *r = tern_calloc(1, sizeof *r);
    r->s = s;
    r->app = app;
    r->is_group = is_group;
    r->snap = snap;
    r->sender = tern_strdup(from);
    r->to = tern_strdup(to);
    r->cmid = m->cmid.n ? tern_strndup(m->cmid.p, m->cmid.n) : NULL;
    r->priority = m->priority;
    r->need_receipt = m->need_read_receipt;
    r->support_extension = m->support_extension;
    if (m->receivers) {
        r->nreceivers = (size_t)cJSON_GetArraySize(m->receivers);
        r->receivers = tern_calloc(r->nreceivers, sizeof *r->receivers);
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, m->receivers) r->receivers[i++] = tern_strdup(e->valuestring);
    }
    char key[160];
    if (is_group)
        tern_conv_key_group(m->to.p, m->to.n, key, sizeof key);
    else
        tern_conv_key_c2c(from, strlen(from), m->to.p, m->to.n, key, sizeof key);
    r->conv_key = tern_strdup(key);
    memcpy(r->merger_key, mrow.key, sizeof r->merger_key);
    r->merger_body = mrow.body;
    r->merger_len = mrow.len;
    r->merger_layers = mrow.layers;
    r->merger_apart = mrow.apart;

    tern_buf f;
    tern_buf_init(&f, 0);
    tern_msg_encode_fields(&f, m, from, strlen(from));
    r->fields = tern_buf_steal(&f, &r->fields_len);
    if (is_group && m->elem->sdk_type == 1 /* TERN_MSG_TEXT */ &&
        tern_elem_text_has_at(m->payload.data, m->payload.len) && take_mentions(r, &m->payload) < 0) {
        if (m == &done)
            tern_buf_free(&done.payload);
        send_req_free(r);
        return TERN_ERR_INTERNAL;
    }
    if (m == &done)
        tern_buf_free(&done.payload);
    *out = r;
    return TERN_OK;
}

int msg_prepare_msg(server *s, store_reader *rd, int64_t app, const char *from, const tern_msg *m, send_req **out)
{
    *out = NULL;
    int rc = tern_msg_validate(m);
    return rc != TERN_OK ? rc : prepare(s, rd, app, from, m, out);
}

int msg_prepare(server *s, store_reader *rd, int64_t app, const char *from, cJSON *msg, send_req **out)
{
    tern_msg m;
    *out = NULL;
    int rc = tern_msg_parse_send(msg, &m); /* validates too */
    if (rc == TERN_OK)
        rc = prepare(s, rd, app, from, &m, out);
    tern_msg_clear(&m);
    return rc;
}

/* The client-facing conversation id of a message from the sender's side. */
void msg_conv_id(const send_req *r, tern_buf *out)
{
    tern_conv_id_append(out, r->is_group ? TERN_CONV_KIND_GROUP : TERN_CONV_KIND_C2C, r->to, strlen(r->to));
}

/* Pushes the message frame to every session that should see it: one delivery call for
 * all the recipients (a group's members; a C2C peer and the sender's other devices). */
static void fan_out(send_req *r, frame *f)
{
    server *s = r->s;
    if (r->nreceivers) {
        /* A private message (receiverList): its receivers and the sender only. */
        const char *users[TERN_MSG_MAX_RECEIVERS + 1];
        size_t n = 0;
        for (size_t i = 0; i < r->nreceivers && n < TERN_MSG_MAX_RECEIVERS; i++)
            if (strcmp(r->receivers[i], r->sender) != 0)
                users[n++] = r->receivers[i];
        users[n++] = r->sender;
        delivery_push_users(s, r->app, users, n, r->origin_session, f);
    } else if (r->is_group) {
        delivery_push_users(s, r->app, (const char *const *)r->snap->members, r->snap->n, r->origin_session, f);
    } else {
        const char *users[2] = {r->to, r->sender};
        delivery_push_users(s, r->app, users, strcmp(r->to, r->sender) != 0 && !r->skip_sender ? 2 : 1,
                            r->origin_session, f);
    }
}

/* Builds {"ev":"msg","data":<json>} as a frame in one allocation and one copy: this
 * runs on the store writer for every stored message. */
static frame *event_frame(const char *json, size_t n)
{
    static const char pre[] = TERN_MSG_EVENT_PREFIX;
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
            if (r->hcfg) /* H4: after-send, offline push (enqueued only) */
                msg_hooks_sent(r, op->u.msg.json, op->u.msg.json_len);
        }
    }
    r->complete(r);
}

int msg_fields_flags(send_req *r)
{
    int flag_unread = r->no_unread || r->nreceivers, flag_last = r->no_last;
    if (!flag_unread && !flag_last)
        return 0;
    tern_buf f = {.data = r->fields, .len = r->fields_len, .cap = r->fields_len};
    int rc = (flag_unread && tern_buf_puts(&f, ",\"" MSG_FLAG_NO_UNREAD "\":true")) ||
             (flag_last && tern_buf_puts(&f, ",\"" MSG_FLAG_NO_LAST "\":true"));
    r->fields = f.data; /* grown or not, still r's: fields_len says what is valid */
    if (!rc)
        r->fields_len = f.len;
    return rc ? -1 : 0;
}

int msg_set_options(send_req *r, const tern_send_opts *o)
{
    r->online_only = o->online_only;
    if (r->online_only && r->merger_apart) /* H2: a list stored apart needs its message stored */
        return TERN_ERR_MSG_TOO_LONG;
    r->no_unread = o->no_unread;
    r->no_last = o->no_last;
    r->no_moderation = o->no_moderation;
    r->disable_push = o->push.present && o->push.disable_push;
    if (msg_fields_flags(r) != 0)
        return TERN_ERR_INTERNAL;
    if (o->push.present) {
        tern_buf b;
        tern_buf_init(&b, 0);
        if (tern_push_info_encode(&b, &o->push) != 0) {
            tern_buf_free(&b);
            return TERN_ERR_INTERNAL;
        }
        size_t n;
        r->push_json = tern_buf_steal(&b, &n);
    }
    return TERN_OK;
}

int msg_dispatch(send_req *r)
{
    /* 1. Content moderation (H4): synchronous, unless r->no_moderation. */
    if (!r->no_moderation && moderation_hit(r->s, r->app, r->fields, r->fields_len))
        return TERN_ERR_MODERATION;
    /* 2. The before-send callback (H4): hands r to the webhook thread, which calls
     *    msg_dispatch_continue(r) or completes r with 10016. */
    int rc;
    if (msg_hooks_before_send(r, &rc))
        return rc;
    return msg_dispatch_continue(r);
}

/* A group message past the group rate (seed 001): a success to the sender, an id from
 * the online ids and seq 0, nothing stored or delivered, no after-send callback. */
static int shed(send_req *r)
{
    uint64_t id = tern_idgen_next(&r->s->online_ids);
    r->shed = 1;
    r->op.result = TERN_OK;
    r->op.u.msg.msg_id = id;
    r->op.u.msg.seq = 0;
    r->op.u.msg.time_ms = tern_id_time_ms(id);
    r->op.u.msg.duplicate = 0;
    r->complete(r);
    return TERN_OK;
}

int msg_dispatch_continue(send_req *r)
{
    /* 3. The group rate and priority shedding (H3, ratelimit.h): a shed message has
     *    completed (success, seq 0, nothing stored or delivered). */
    if (r->is_group && !ratelimit_group_admit(r->s, r->app, r->to, r->priority))
        return shed(r);
    return r->online_only ? msg_send_online(r) : msg_submit(r);
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
    if (r->need_receipt) { /* the members at send time count the readers (receipts.h) */
        op->u.msg.need_receipt = 1;
        op->u.msg.rcpt_members = r->is_group ? (const char *const *)r->snap->members : NULL;
        op->u.msg.rcpt_nmembers = r->is_group ? r->snap->n : 0;
        if (r->is_group && r->nreceivers) { /* receiverList: only the listed count */
            op->u.msg.rcpt_members = (const char *const *)r->receivers;
            op->u.msg.rcpt_nmembers = r->nreceivers;
            op->u.msg.rcpt_targeted = 1;
        }
    }
    op->u.msg.merger_key = r->merger_body ? r->merger_key : NULL; /* a list the app has not stored */
    op->u.msg.merger_body = r->merger_body;
    op->u.msg.merger_len = r->merger_len;
    op->u.msg.merger_layers = r->merger_layers;
    op->u.msg.flags = msg_store_flags(r);
    op->u.msg.receivers = (const char *const *)r->receivers;
    op->u.msg.nreceivers = r->nreceivers;
    op->u.msg.at_users = (const char *const *)r->at_users;
    op->u.msg.nat = r->nat;
    op->u.msg.at_all = r->at_all;
    return store_submit(s->st, op);
}

int msg_send_online(send_req *r)
{
    /* Not stored: an id and a time, seq 0, delivered to whoever is online now. */
    uint64_t id = tern_idgen_next(&r->s->online_ids);
    /* The stored-message shape with "onlineOnly":true as its last member. */
    static const char tail[] = ",\"onlineOnly\":true";
    size_t jn = 0;
    char *json =
        tern_wire_stored_msg_tail(id, 0, tern_id_time_ms(id), r->fields, r->fields_len, tail, sizeof tail - 1, &jn);
    if (!json)
        return TERN_ERR_INTERNAL;
    r->op.result = TERN_OK;
    r->op.u.msg.msg_id = id;
    r->op.u.msg.seq = 0;
    r->op.u.msg.time_ms = tern_id_time_ms(id);
    frame *f = event_frame(json, jn);
    r->op.u.msg.json = json;
    r->op.u.msg.json_len = jn;
    fan_out(r, f);
    frame_unref(f);
    if (r->hcfg) /* H4: after-send (online-only messages are never pushed) */
        msg_hooks_sent(r, json, jn);
    r->complete(r);
    return TERN_OK;
}
