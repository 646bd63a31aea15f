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
#include "media/media_msg.h"

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
    for (size_t i = 0; i < r->nreceivers; i++)
        tern_free(r->receivers[i]);
    tern_free(r->receivers);
    tern_free(r->push_json);
    tern_free(r);
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

    /* Options this server does not act on yet are refused, never dropped (issue 10's
     * helpers remove these lines as they implement them). */
    if (m->receivers || m->support_extension) { /* H1: receivers; H2: extensions */
        group_snap_unref(snap);
        return TERN_ERR_NOT_SUPPORTED;
    }

    /* A media message is stored as completed from its media rows (media_msg.h). */
    tern_msg done;
    if (m->elem->media) {
        done = *m;
        tern_buf_init(&done.payload, 0);
        int rc = media_msg_complete(s, rd, app, m, tern_now_ms(), &done.payload);
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

    tern_buf f;
    tern_buf_init(&f, 0);
    tern_msg_encode_fields(&f, m, from, strlen(from));
    r->fields = tern_buf_steal(&f, &r->fields_len);
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
    if (r->is_group) {
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
        }
    }
    r->complete(r);
}

int msg_set_options(send_req *r, const tern_send_opts *o)
{
    /* H1: messageControlInfo's unread and last-message flags; H4: moderation, push. */
    if (o->no_unread || o->no_last || o->no_moderation || o->push.present)
        return TERN_ERR_NOT_SUPPORTED;
    r->online_only = o->online_only;
    r->no_unread = o->no_unread;
    r->no_last = o->no_last;
    r->no_moderation = o->no_moderation;
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
    /* 2. The before-send callback (H4): hands r to the webhook thread, which calls
     *    msg_dispatch_continue(r) or completes r with 10016. */
    return msg_dispatch_continue(r);
}

int msg_dispatch_continue(send_req *r)
{
    /* 3. The group rate and priority shedding (H3). */
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
    r->complete(r);
    return TERN_OK;
}
