/*
 * session.c — libtern's protocol engine (docs/protocol.md), on the client's loop thread.
 *
 * It turns app requests into wire requests with ids and deadlines, matches responses,
 * times requests out, logs in and syncs after every (re)connect, delivers `msg` events
 * exactly once per stored message (seqset.c), keeps the connection alive with `ping`,
 * and reconnects with exponential backoff after unexpected closes.
 *
 * Lists: `inflight` holds what went out on the current connection, in send order —
 * all share one timeout, so the head always has the earliest deadline and one timer
 * serves them all. `outbox` holds sends waiting for a logged-in connection. When a
 * connection is lost, in-flight sends move back to the front of the outbox (they are
 * resent with the same clientMsgId after the next login: the server stores a message
 * once per clientMsgId) and every other request fails with TERN_ERR_SDK_DISCONNECTED.
 *
 * Re-entrancy: app callbacks may call tern_client_destroy. Memory stays valid until
 * the current loop callback returns (see client.c), but after every app callback the
 * code below checks c->destroyed and stops touching I/O if it is set.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "sdk/media.h"
#include "sdk/sdk.h"

#define MAX_JS_SEQ 9007199254740991ULL /* 2^53 - 1: "everything" for read */

static void send_sync(tern_client *c);
static void go_terminal(tern_client *c, int code, const char *text, int kicked);
static void schedule_reconnect(tern_client *c, int immediate);

static void complete_login(tern_client *c, int code, const char *message)
{
    if (!c->login_pending)
        return;
    c->login_pending = 0;
    tern_result_cb cb = c->login_cb;
    c->login_cb = NULL;
    if (cb) {
        c->in_cb++;
        cb(c, code, message && *message ? message : tern_strerror(code), c->login_ud);
        c->in_cb--;
    }
}

static void complete_logout(tern_client *c, int code)
{
    sdk_req *r = c->logout_req;
    c->logout_req = NULL;
    if (r)
        sdk_complete(c, r, code, NULL, NULL);
}

/* Completes every request and queued send with code. */
void sdk_sess_fail_all(tern_client *c, int code, int keep_sends)
{
    sdk_req *r;
    while ((r = sdk_req_list_pop(&c->inflight)))
        sdk_complete(c, r, code, NULL, NULL);
    if (!keep_sends)
        while ((r = sdk_req_list_pop(&c->outbox)))
            sdk_complete(c, r, code, NULL, NULL);
    complete_login(c, code, NULL);
    complete_logout(c, code);
    sdk_live_clear(c);
    uv_timer_stop(&c->req_timer);
}

/* ---- wire requests ------------------------------------------------------------------ */

static void arm_req_timer(tern_client *c)
{
    if (c->destroyed)
        return;
    sdk_req *h = c->inflight.head;
    if (!h) {
        uv_timer_stop(&c->req_timer);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uv_timer_start(&c->req_timer, sdk_sess_timer_cb, h->deadline > now ? h->deadline - now : 0, 0);
}

/* Puts r on the wire with a fresh id and deadline and appends it to inflight. If the
 * write fails the request stays in flight: the loss of the connection handles it. */
void sdk_sess_send_req(tern_client *c, sdk_req *r)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    r->id = ++c->next_id;
    sdk_req_encode(c, r, &b);
    r->deadline = uv_now(c->loop) + c->req_timeout_ms;
    int was_empty = c->inflight.head == NULL;
    sdk_req_list_push(&c->inflight, r);
    if (was_empty)
        arm_req_timer(c);
    if (sdk_conn_send_text(c, b.data, b.len) < 0)
        LOG_DEBUG("libtern: %s request %" PRIu64 " not written (connection closing)", sdk_req_op_name(r->kind), r->id);
    tern_buf_free(&b);
}

static void send_internal(tern_client *c, int kind)
{
    sdk_sess_send_req(c, sdk_req_new(kind));
}

static sdk_req *find_inflight(tern_client *c, uint64_t id)
{
    for (sdk_req *r = c->inflight.head; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

/* ---- events to the app ------------------------------------------------------------- */

static void emit_simple(tern_client *c, tern_event_type type, int code, const char *text)
{
    tern_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.code = code;
    ev.text = text ? text : (code ? tern_strerror(code) : "");
    sdk_emit(c, &ev);
}

static void not_ready(tern_client *c, int code, const char *why)
{
    if (!c->ready_emitted)
        return;
    c->ready_emitted = 0;
    emit_simple(c, TERN_EVENT_SDK_NOT_READY, code, why);
}

/* If m (from this user) is the echo of one of our own pending sends — its first copy
 * was stored before a disconnect and now comes back through sync — complete that send
 * with it instead of delivering it as received. Returns 1 if so. */
static int match_own_send(tern_client *c, const tern_message *m)
{
    if (!m->client_msg_id[0])
        return 0;
    req_list *lists[2] = {&c->inflight, &c->outbox};
    for (int i = 0; i < 2; i++)
        for (sdk_req *r = lists[i]->head; r; r = r->next)
            if (r->kind == REQ_SEND && !strcmp(r->msg->client_msg_id, m->client_msg_id) &&
                !strcmp(r->msg->conv_id, m->conv_id)) {
                sdk_req_list_unlink(lists[i], r);
                sdk_msg_apply_echo(r->msg, m);
                sdk_convlist_on_sent(c, r->msg, sdk_send_extra_no_last(r->sx));
                sdk_complete(c, r, 0, NULL, NULL);
                return 1;
            }
    return 0;
}

void sdk_sess_deliver(tern_client *c, tern_message *m)
{
    if (m->stream_state != TERN_STREAM_NONE && sdk_stream_on_message(c, m))
        return;
    if (m->seq != 0) {
        if (!sdk_seqset_receive(&c->seen, m->conv_id, m->seq))
            return;
        if (!strcmp(m->from, c->user) && match_own_send(c, m))
            return;
        sdk_convlist_on_message(c, m);
    }
    tern_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = TERN_EVENT_MESSAGE_RECEIVED;
    ev.message = m;
    ev.text = "";
    sdk_emit(c, &ev);
}

/* ---- login, sync, ready ------------------------------------------------------------ */

static void set_cursor(tern_client *c, const char *cur)
{
    if (!cur || strlen(cur) >= sizeof c->cursor)
        return;
    snprintf(c->cursor, sizeof c->cursor, "%s", cur);
    uv_mutex_lock(&c->mu);
    memcpy(c->cursor_copy, c->cursor, sizeof c->cursor_copy);
    uv_mutex_unlock(&c->mu);
}

static void finish_sync(tern_client *c)
{
    c->syncing = 0;
    /* Live events that arrived during the sync, through the same dedupe. */
    while (c->nlive && !c->destroyed) {
        sdk_live *live = c->live;
        size_t n = c->nlive;
        c->live = NULL;
        c->nlive = c->caplive = 0;
        for (size_t i = 0; i < n; i++) {
            if (!c->destroyed && c->logged_in && live[i].m)
                sdk_sess_deliver(c, live[i].m);
            else if (!c->destroyed && c->logged_in)
                sdk_stream_on_event(c, live[i].ev);
            tern_message_release(live[i].m);
            cJSON_Delete(live[i].ev);
        }
        tern_free(live);
    }
    if (!c->destroyed && c->logged_in)
        sdk_stream_after_sync(c);
    if (c->destroyed || !c->logged_in)
        return;
    sdk_set_state(c, TERN_STATE_READY);
    c->ready_emitted = 1;
    emit_simple(c, TERN_EVENT_SDK_READY, 0, "");
    sdk_convlist_seed(c); /* the list cache's truth, after READY (convlist.c) */
}

static void on_sync_resp(tern_client *c, int code, const char *message, const cJSON *data)
{
    if (code != 0) {
        /* Not worth a reconnect loop: carry on live, the next reconnect syncs again. */
        LOG_WARN("libtern: sync failed: %d %s", code, message ? message : "");
        finish_sync(c);
        return;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(data, "messages");
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        tern_message *m = sdk_msg_from_json(it, c->user);
        if (!m)
            continue;
        n++;
        sdk_sess_deliver(c, m);
        tern_message_release(m);
        if (c->destroyed || !c->logged_in)
            return;
    }
    if (tern_json_true(data, "more") && n > 0) {
        send_sync(c); /* same cursor, convs updated from what was received */
        return;
    }
    set_cursor(c, tern_json_str(data, "cursor"));
    finish_sync(c);
}

static void send_sync(tern_client *c)
{
    send_internal(c, REQ_SYNC);
}

static int login_error_is_final(int code)
{
    return code == TERN_ERR_TOKEN_INVALID || code == TERN_ERR_TOKEN_EXPIRED || code == TERN_ERR_APP_NOT_FOUND ||
           code == TERN_ERR_USER_NOT_FOUND || code == TERN_ERR_FORBIDDEN || code == TERN_ERR_BAD_FIELD ||
           code == TERN_ERR_KICKED;
}

static void on_login_resp(tern_client *c, int code, const char *message, const cJSON *data)
{
    if (code != 0) {
        if (!c->session) { /* the app's first login: report, do not retry */
            sdk_conn_close(c, 1000);
            sdk_set_state(c, TERN_STATE_IDLE);
            complete_login(c, code, message);
            if (!c->destroyed)
                sdk_sess_fail_all(c, TERN_ERR_SDK_NOT_READY, 0); /* sends queued behind the login */
            return;
        }
        if (login_error_is_final(code)) {
            go_terminal(c, code, message, 0);
            return;
        }
        sdk_conn_close(c, 1000);
        schedule_reconnect(c, 0);
        return;
    }
    c->logged_in = 1;
    c->attempt = 0;
    c->kick_code = 0;
    uint64_t hb = 0;
    if (c->hb_override_ms)
        c->hb_ms = c->hb_override_ms;
    else
        c->hb_ms =
            (tern_json_get_u64(data, "heartbeatSec", &hb) == 0 && hb > 0 && hb < 3600) ? (unsigned)hb * 1000 : 30000;
    c->hb_missed = 0;
    c->hb_rx = 1;
    uv_timer_start(&c->hb_timer, sdk_sess_hb_cb, c->hb_ms, c->hb_ms);
    if (!c->cursor[0])
        set_cursor(c, tern_json_str(data, "cursor"));
    c->session = 1;
    sdk_set_state(c, TERN_STATE_SYNCING);
    complete_login(c, 0, "OK");
    if (c->destroyed || !c->logged_in)
        return;
    /* Sends that waited for the connection (or were in flight when it dropped). */
    sdk_req *r;
    while (c->logged_in && (r = sdk_req_list_pop(&c->outbox)))
        sdk_sess_send_req(c, r);
    c->syncing = 1;
    /* No list event until the seed after this sync answered. */
    sdk_convlist_hold(c);
    c->streams.gen++; /* held streams are current again once this sync or an event says so */
    send_sync(c);
}

static void on_send_resp(tern_client *c, sdk_req *r, int code, const char *message, const cJSON *data)
{
    if (code == 0) {
        char idbuf[24] = "";
        uint64_t mid;
        if (tern_json_get_u64(data, "msgId", &mid) == TERN_JSON_OK)
            snprintf(idbuf, sizeof idbuf, "%" PRIu64, mid);
        uint64_t seq = 0, t = 0;
        tern_json_get_u64(data, "seq", &seq);
        tern_json_get_u64(data, "time", &t);
        sdk_msg_apply_ack(r->msg, idbuf, seq, (int64_t)t, tern_json_str(data, "conversationID"), r->online_only);
        if (seq) {
            sdk_seqset_own(&c->seen, r->msg->conv_id, seq);
            sdk_convlist_on_sent(c, r->msg, sdk_send_extra_no_last(r->sx));
        }
    }
    sdk_complete(c, r, code, message, data);
}

/* ---- incoming frames -------------------------------------------------------------- */

static void on_response(tern_client *c, const cJSON *root)
{
    uint64_t id;
    if (tern_json_get_u64(root, "id", &id) != TERN_JSON_OK)
        return; /* e.g. {"re":"","code":1001}: nothing of ours */
    sdk_req *r = find_inflight(c, id);
    if (!r)
        return; /* timed out already, or answered through a sync echo */
    sdk_req_list_unlink(&c->inflight, r);
    uint64_t code = 0;
    if (tern_json_get_u64(root, "code", &code) != TERN_JSON_OK)
        code = TERN_ERR_BAD_JSON;
    const char *message = tern_json_str(root, "message");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    switch (r->kind) {
    case REQ_LOGIN:
        sdk_req_free(r);
        on_login_resp(c, (int)code, message, data);
        break;
    case REQ_SYNC:
        sdk_req_free(r);
        if (c->syncing)
            on_sync_resp(c, (int)code, message, data);
        break;
    case REQ_LOGOUT:
        sdk_req_free(r);
        go_terminal(c, 0, "logged out", 0);
        break;
    case REQ_SEND: on_send_resp(c, r, (int)code, message, data); break;
    case REQ_PING: sdk_req_free(r); break;
    case REQ_STREAM_FETCH:
        sdk_stream_on_fetch(c, r, (int)code, data);
        sdk_req_free(r);
        break;
    default: sdk_complete(c, r, (int)code, message, data); break;
    }
}

static void on_server_event(tern_client *c, const char *ev, const cJSON *data)
{
    if (!strcmp(ev, "msg")) {
        tern_message *m = sdk_msg_from_json(data, c->user);
        if (!m) {
            LOG_WARN("libtern: malformed msg event dropped");
            return;
        }
        if (c->syncing) {
            sdk_live_push(c, m, NULL);
            return;
        }
        sdk_sess_deliver(c, m);
        tern_message_release(m);
    } else if (!strcmp(ev, "stream")) {
        sdk_stream_on_event(c, data);
    } else if (!strcmp(ev, "read")) {
        tern_event e;
        memset(&e, 0, sizeof e);
        e.type = TERN_EVENT_MESSAGE_READ;
        e.conversation_id = tern_json_str(data, "conversationID");
        if (!e.conversation_id)
            return;
        tern_json_get_u64(data, "readSeq", &e.read_seq);
        tern_json_get_u64(data, "unreadCount", &e.unread_count);
        e.text = "";
        sdk_convlist_on_read(c, e.conversation_id, e.read_seq, e.unread_count);
        sdk_emit(c, &e);
    } else if (!strcmp(ev, "conv")) {
        tern_event e;
        memset(&e, 0, sizeof e);
        e.type = TERN_EVENT_CONVERSATION_CHANGED;
        e.conversation_id = tern_json_str(data, "conversationID");
        if (!e.conversation_id)
            return;
        e.reason = tern_json_str(data, "reason");
        if (!e.reason)
            e.reason = "";
        e.text = "";
        if (!strcmp(e.reason, "left") || !strcmp(e.reason, "dismissed"))
            sdk_convlist_drop(c, e.conversation_id);
        sdk_emit(c, &e);
    } else if (!strcmp(ev, "receipt") || !strcmp(ev, "ext")) {
        sdk_notify_on_event(c, ev, data);
    } else if (!strcmp(ev, "kicked")) {
        uint64_t code = 0;
        c->kick_code = tern_json_get_u64(data, "code", &code) == 0 && code ? (int)code : TERN_ERR_KICKED;
        const char *t = tern_json_str(data, "message");
        snprintf(c->kick_text, sizeof c->kick_text, "%s", t ? t : tern_strerror(c->kick_code));
    }
    /* "ready" (we announce READY after our sync), "resync" (close 4001 follows) and
     * "shutdown" (close 1001 follows) need nothing here; unknown events are ignored. */
}

void sdk_sess_on_text(tern_client *c, const char *p, size_t n)
{
    cJSON *root = NULL;
    tern_json_parse(p, n, &root);
    if (!cJSON_IsObject(root)) {
        LOG_WARN("libtern: malformed frame from server ignored");
        cJSON_Delete(root);
        return;
    }
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "ev");
    if (cJSON_GetObjectItemCaseSensitive(root, "re"))
        on_response(c, root);
    else if (cJSON_IsString(ev) && ev->valuestring)
        on_server_event(c, ev->valuestring, cJSON_GetObjectItemCaseSensitive(root, "data"));
    cJSON_Delete(root);
}

/* ---- connection life cycle ---------------------------------------------------------- */

void sdk_sess_on_open(tern_client *c)
{
    sdk_set_state(c, TERN_STATE_LOGGING_IN);
    send_internal(c, REQ_LOGIN);
}

/* The session is over for good: logout, kick, or a login that cannot succeed. */
static void go_terminal(tern_client *c, int code, const char *text, int kicked)
{
    int had_session = c->session;
    sdk_conn_close(c, 1000);
    uv_timer_stop(&c->hb_timer);
    uv_timer_stop(&c->retry_timer);
    c->session = 0;
    c->logged_in = 0;
    c->syncing = 0;
    sdk_set_state(c, kicked ? TERN_STATE_KICKED : TERN_STATE_IDLE);
    sdk_req *logout = c->logout_req;
    c->logout_req = NULL;
    sdk_sess_fail_all(c, TERN_ERR_SDK_DISCONNECTED, 0);
    if (c->destroyed)
        goto out;
    not_ready(c, code, text);
    if (c->destroyed)
        goto out;
    if (kicked)
        emit_simple(c, TERN_EVENT_KICKED_OUT, code, text);
    if (c->destroyed)
        goto out;
    if (had_session)
        emit_simple(c, TERN_EVENT_DISCONNECTED, code, text && *text ? text : (code ? NULL : "logged out"));
out:
    if (logout)
        sdk_complete(c, logout, c->destroyed ? TERN_ERR_SDK_CANCELED : 0, NULL, NULL);
}

static void schedule_reconnect(tern_client *c, int immediate)
{
    if (c->destroyed)
        return;
    c->attempt++;
    /* 4001 asks for an immediate reconnect; a server that keeps answering 4001 must not
     * put us in a tight loop, so "immediate" is granted once per 10 s. */
    uint64_t now = uv_now(c->loop);
    if (immediate && c->last_immediate && now - c->last_immediate < 10000)
        immediate = 0;
    if (immediate)
        c->last_immediate = now;
    unsigned delay = immediate ? 0 : sdk_backoff_ms(c->attempt, c->rc_min_ms, c->rc_max_ms, sdk_random_unit());
    sdk_set_state(c, TERN_STATE_RECONNECTING);
    tern_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = TERN_EVENT_RECONNECTING;
    ev.attempt = c->attempt;
    ev.delay_ms = delay;
    ev.text = "";
    sdk_emit(c, &ev);
    if (c->destroyed || !c->session)
        return; /* the app logged out or destroyed from the callback */
    uv_timer_start(&c->retry_timer, sdk_sess_retry_cb, delay, 0);
}

void sdk_sess_retry_cb(uv_timer_t *t)
{
    tern_client *c = t->data;
    if (c->destroyed || !c->session || c->conn)
        return;
    sdk_set_state(c, TERN_STATE_CONNECTING);
    if (sdk_conn_open(c) != 0)
        schedule_reconnect(c, 0);
}

void sdk_sess_on_lost(tern_client *c, int code, int close_code, const char *why)
{
    c->logged_in = 0;
    c->syncing = 0;
    uv_timer_stop(&c->hb_timer);
    if (c->destroyed)
        return;
    if (c->logout_req) {
        go_terminal(c, 0, "logged out", 0);
        return;
    }
    if (close_code == 4003 || c->kick_code) { /* a `kicked` event, even without its close frame */
        go_terminal(c, c->kick_code ? c->kick_code : TERN_ERR_KICKED,
                    c->kick_code ? c->kick_text : "kicked by the server", 1);
        return;
    }
    if (!c->session) {
        /* The first login never completed: report it, no retry. */
        sdk_set_state(c, TERN_STATE_IDLE);
        sdk_req *r;
        while ((r = sdk_req_list_pop(&c->inflight)))
            sdk_req_free(r); /* only the login request can be here */
        uv_timer_stop(&c->req_timer);
        complete_login(c, code, why);
        while (!c->destroyed && (r = sdk_req_list_pop(&c->outbox)))
            sdk_complete(c, r, TERN_ERR_SDK_NOT_READY, NULL, NULL);
        return;
    }
    /* In-flight sends go back to the outbox, ahead of newer ones, in their order. */
    req_list keep = {0};
    sdk_req *r;
    while ((r = sdk_req_list_pop(&c->inflight))) {
        if (r->kind == REQ_SEND)
            sdk_req_list_push(&keep, r);
        else if (r->kind == REQ_SYNC || r->kind == REQ_PING || r->kind == REQ_LOGIN || r->kind == REQ_LOGOUT)
            sdk_req_free(r);
        else {
            sdk_complete(c, r, TERN_ERR_SDK_DISCONNECTED, NULL, NULL);
            if (c->destroyed)
                break;
        }
    }
    while ((r = keep.tail)) {
        sdk_req_list_unlink(&keep, r);
        if (c->destroyed)
            sdk_complete(c, r, TERN_ERR_SDK_CANCELED, NULL, NULL);
        else
            sdk_req_list_push_front(&c->outbox, r);
    }
    uv_timer_stop(&c->req_timer);
    if (c->destroyed)
        return;
    char text[200];
    if (close_code)
        snprintf(text, sizeof text, "%s (close %d)", why ? why : "connection lost", close_code);
    else
        snprintf(text, sizeof text, "%s", why ? why : "connection lost");
    not_ready(c, code, text);
    if (c->destroyed || !c->session)
        return;
    if (c->no_reconnect) {
        go_terminal(c, code, text, 0);
        return;
    }
    schedule_reconnect(c, close_code == 4001);
}

/* ---- timers ------------------------------------------------------------------------- */

void sdk_sess_timer_cb(uv_timer_t *t)
{
    tern_client *c = t->data;
    uint64_t now = uv_now(c->loop);
    sdk_req *r;
    while (!c->destroyed && (r = c->inflight.head) && r->deadline <= now) {
        sdk_req_list_unlink(&c->inflight, r);
        switch (r->kind) {
        case REQ_LOGIN:
        case REQ_SYNC:
            /* The server is not answering: drop this connection and start over. */
            sdk_req_free(r);
            sdk_conn_close(c, 1000);
            sdk_sess_on_lost(c, TERN_ERR_SDK_TIMEOUT, 0, "server did not answer in time");
            return;
        case REQ_LOGOUT:
            sdk_req_free(r);
            go_terminal(c, 0, "logged out", 0);
            return;
        case REQ_PING:
            sdk_req_free(r); /* the heartbeat decides */
            break;
        default: sdk_complete(c, r, TERN_ERR_SDK_TIMEOUT, NULL, NULL); break;
        }
    }
    arm_req_timer(c);
}

void sdk_sess_hb_cb(uv_timer_t *t)
{
    tern_client *c = t->data;
    if (c->destroyed || !c->logged_in)
        return;
    if (c->hb_rx)
        c->hb_missed = 0;
    else
        c->hb_missed++;
    c->hb_rx = 0;
    if (c->hb_missed >= 2) {
        sdk_conn_close(c, 0);
        sdk_sess_on_lost(c, TERN_ERR_SDK_TIMEOUT, 0, "connection dead (no answer to 2 pings)");
        return;
    }
    send_internal(c, REQ_PING);
}

/* ---- app requests --------------------------------------------------------------------- */

void sdk_sess_handle(tern_client *c, sdk_req *r)
{
    switch (r->kind) {
    case REQ_LOGIN:
        if (c->session || c->login_pending || c->conn) {
            sdk_complete(c, r, TERN_ERR_ALREADY_LOGGED_IN, NULL, NULL);
            return;
        }
        c->login_pending = 1;
        c->login_cb = (tern_result_cb)r->cb;
        c->login_ud = r->ud;
        sdk_req_free(r);
        c->kick_code = 0;
        sdk_set_state(c, TERN_STATE_CONNECTING);
        if (sdk_conn_open(c) != 0) {
            sdk_set_state(c, TERN_STATE_IDLE);
            complete_login(c, TERN_ERR_SDK_IO, "cannot start connecting");
        }
        return;

    case REQ_LOGOUT:
        if (!c->session && !c->login_pending) {
            sdk_complete(c, r, TERN_ERR_SDK_NOT_READY, NULL, NULL);
            return;
        }
        if (c->logout_req) { /* a second logout rides on the first */
            sdk_complete(c, r, 0, NULL, NULL);
            return;
        }
        c->logout_req = r;
        if (c->logged_in) {
            send_internal(c, REQ_LOGOUT); /* go_terminal on the answer or the close */
        } else {
            complete_login(c, TERN_ERR_SDK_CANCELED, "logged out before the login completed");
            if (!c->destroyed)
                go_terminal(c, 0, "logged out", 0);
        }
        return;

    case REQ_SEND:
        if (!c->session && !c->login_pending) {
            sdk_complete(c, r, TERN_ERR_SDK_NOT_READY, NULL, NULL);
            return;
        }
        int bad = sdk_msg_check(r->msg); /* the server's own rules (core/message.h) */
        if (bad != TERN_OK) {
            sdk_complete(c, r, bad, NULL, NULL);
            return;
        }
        if (c->logged_in)
            sdk_sess_send_req(c, r);
        else
            sdk_req_list_push(&c->outbox, r);
        return;

    case REQ_MERGER:
        if (r->str) { /* the list came inline: no request */
            sdk_merger_complete_inline(c, r);
            return;
        }
        /* fall through */
    case REQ_HISTORY:
    case REQ_CONVS:
    case REQ_RAW:
    case REQ_GET_MSGS:
    case REQ_READ:
        if (!c->logged_in) {
            sdk_complete(c, r, TERN_ERR_SDK_NOT_READY, NULL, NULL);
            return;
        }
        if (r->kind == REQ_READ && r->num == 0)
            r->num = MAX_JS_SEQ;
        sdk_sess_send_req(c, r);
        return;

    case REQ_SET_TOKEN:
        tern_free(c->token);
        c->token = r->str;
        r->str = NULL;
        sdk_req_free(r);
        return;

    case REQ_MEDIA:
    case REQ_MEDIA_CANCEL: sdk_media_handle(c, r); return;

    default: sdk_req_free(r); return;
    }
}
