/*
 * it_libtern.c — the C SDK (include/tern/tern.h) against a real ternd: two SDK clients
 * in thread mode exchange a C2C message (send completion carries msgId/seq, the peer's
 * MESSAGE_RECEIVED carries the same message), the conversation list and mark-read work
 * through the SDK (the user's raw-WebSocket session sees the `read` event), and a
 * restart of ternd on the same port while the SDK is connected is survived: the client
 * reconnects by itself, delivers the messages it missed exactly once and in order, and
 * a message sent while it was down goes out after the reconnect.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/tern.h>

#include "harness.h"

#define MAX_RX 64

typedef struct rx_msg {
    char id[32];
    uint64_t seq;
    char from[65];
    char conv[100];
    char text[256];
    char ccd[64];
} rx_msg;

/* Everything one client's callbacks report, under a mutex (callbacks run on the SDK
 * thread, assertions on the test thread). */
typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, not_ready, reconnecting, disconnected, read_events;
    rx_msg rx[MAX_RX];
    int nrx;
    int login_done, login_code;
} rec;

typedef struct send_res {
    rec *r;
    int done, code, status;
    char id[32];
    uint64_t seq;
} send_res;

typedef struct list_res {
    rec *r;
    int done, code;
    size_t count;
    char first_id[100];
    uint64_t unread, last_seq, read_seq;
    char last_text[256];
    size_t nmsgs;
    uint64_t first_seq;
} list_res;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_free(rec *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

/* Waits until *flag (an int under r->mu) reaches at least want, up to ms. */
static int wait_int(rec *r, const int *flag, int want, int ms)
{
    return it_wait_int(&r->mu, &r->cv, flag, want, ms);
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static void on_event(tern_client *c, const tern_event *ev, void *ud)
{
    (void)c;
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    switch (ev->type) {
    case TERN_EVENT_SDK_READY: r->ready++; break;
    case TERN_EVENT_SDK_NOT_READY: r->not_ready++; break;
    case TERN_EVENT_RECONNECTING: r->reconnecting++; break;
    case TERN_EVENT_DISCONNECTED: r->disconnected++; break;
    case TERN_EVENT_MESSAGE_READ: r->read_events++; break;
    case TERN_EVENT_MESSAGE_RECEIVED:
        if (r->nrx < MAX_RX) {
            rx_msg *m = &r->rx[r->nrx++];
            copy_str(m->id, sizeof m->id, tern_message_id(ev->message));
            m->seq = tern_message_seq(ev->message);
            copy_str(m->from, sizeof m->from, tern_message_from(ev->message));
            copy_str(m->conv, sizeof m->conv, tern_message_conversation_id(ev->message));
            copy_str(m->text, sizeof m->text, tern_message_text(ev->message));
            copy_str(m->ccd, sizeof m->ccd, tern_message_cloud_custom_data(ev->message));
        }
        break;
    default: break;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_login(tern_client *c, int code, const char *message, void *ud)
{
    (void)c;
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    r->login_code = code;
    r->login_done = 1;
    if (code)
        fprintf(stderr, "login failed: %d %s\n", code, message);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_sent(tern_client *c, tern_message *msg, int code, const char *message, void *ud)
{
    (void)c;
    send_res *s = ud;
    pthread_mutex_lock(&s->r->mu);
    s->code = code;
    s->status = (int)tern_message_status(msg);
    copy_str(s->id, sizeof s->id, tern_message_id(msg));
    s->seq = tern_message_seq(msg);
    if (code)
        fprintf(stderr, "send failed: %d %s\n", code, message);
    s->done = 1;
    pthread_cond_broadcast(&s->r->cv);
    pthread_mutex_unlock(&s->r->mu);
}

static void on_convs(tern_client *c, int code, const char *message, const tern_conversation *const *convs, size_t count,
                     void *ud)
{
    (void)c;
    (void)message;
    list_res *l = ud;
    pthread_mutex_lock(&l->r->mu);
    l->code = code;
    l->count = count;
    if (count) {
        copy_str(l->first_id, sizeof l->first_id, tern_conversation_id(convs[0]));
        l->unread = tern_conversation_unread_count(convs[0]);
        l->read_seq = tern_conversation_read_seq(convs[0]);
        l->last_seq = tern_conversation_last_seq(convs[0]);
        const tern_message *m = tern_conversation_last_message(convs[0]);
        copy_str(l->last_text, sizeof l->last_text, m ? tern_message_text(m) : NULL);
    }
    l->done = 1;
    pthread_cond_broadcast(&l->r->cv);
    pthread_mutex_unlock(&l->r->mu);
}

static void on_history(tern_client *c, int code, const char *message, const tern_message *const *msgs, size_t count,
                       int more, void *ud)
{
    (void)c;
    (void)message;
    (void)more;
    list_res *l = ud;
    pthread_mutex_lock(&l->r->mu);
    l->code = code;
    l->nmsgs = count;
    l->first_seq = count ? tern_message_seq(msgs[0]) : 0;
    l->done = 1;
    pthread_cond_broadcast(&l->r->cv);
    pthread_mutex_unlock(&l->r->mu);
}

static void on_read(tern_client *c, int code, const char *message, const char *cid, uint64_t read_seq, uint64_t unread,
                    void *ud)
{
    (void)c;
    (void)message;
    list_res *l = ud;
    pthread_mutex_lock(&l->r->mu);
    l->code = code;
    copy_str(l->first_id, sizeof l->first_id, cid);
    l->read_seq = read_seq;
    l->unread = unread;
    l->done = 1;
    pthread_cond_broadcast(&l->r->cv);
    pthread_mutex_unlock(&l->r->mu);
}

static tern_client *sdk_login(it_server *s, const char *user, rec *r)
{
    char url[64], tok[1024];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", s->port);
    it_user_token(s, user, tok, sizeof tok);
    tern_client_options o;
    tern_client_options_init(&o);
    o.on_event = on_event;
    o.user_data = r;
    o.device = "sdk";
    o.request_timeout_ms = 5000;
    o.connect_timeout_ms = 3000;
    o.reconnect_min_ms = 1500; /* long enough for the test to send while it is away */
    o.reconnect_max_ms = 3000;
    tern_client *c = NULL;
    int rc = tern_client_create(url, "demo/demo", user, tok, &o, &c);
    if (rc != TERN_OK || !c)
        fail_msg("tern_client_create(%s): %d", user, rc);
    assert_int_equal(tern_client_start_thread(c), TERN_OK);
    assert_int_equal(tern_login(c, on_login, r), TERN_OK);
    if (!wait_int(r, &r->login_done, 1, IT_WAIT_MS))
        fail_msg("%s: login callback did not run", user);
    if (r->login_code != 0)
        fail_msg("%s: login failed with %d", user, r->login_code);
    if (!wait_int(r, &r->ready, 1, IT_WAIT_MS))
        fail_msg("%s: no SDK_READY", user);
    assert_int_equal(tern_client_get_state(c), TERN_STATE_READY);
    return c;
}

static void test_sdk_c2c_read_reconnect(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    static rec ra, rb;
    rec_init(&ra);
    rec_init(&rb);
    tern_client *alice = sdk_login(s, "alice", &ra);
    tern_client *bob = sdk_login(s, "bob", &rb);

    /* C2C through the SDK: completion with msgId/seq, the peer receives it. */
    tern_message *m = tern_create_text_message(alice, TERN_CONV_C2C, "bob", "hello from the SDK");
    assert_non_null(m);
    assert_int_equal(tern_message_set_cloud_custom_data(m, "ccd-1"), TERN_OK);
    static send_res sr;
    memset(&sr, 0, sizeof sr);
    sr.r = &ra;
    assert_int_equal(tern_send_message(alice, m, NULL, on_sent, &sr), TERN_OK);
    if (!wait_int(&ra, &sr.done, 1, IT_WAIT_MS))
        fail_msg("alice: send callback did not run");
    assert_int_equal(sr.code, 0);
    assert_int_equal(sr.status, TERN_MSG_STATUS_SENT);
    assert_true(sr.id[0] && strspn(sr.id, "0123456789") == strlen(sr.id));
    assert_int_equal(sr.seq, 1);
    tern_message_release(m);
    if (!wait_int(&rb, &rb.nrx, 1, IT_WAIT_MS))
        fail_msg("bob: MESSAGE_RECEIVED did not come");
    pthread_mutex_lock(&rb.mu);
    rx_msg got = rb.rx[0];
    pthread_mutex_unlock(&rb.mu);
    assert_string_equal(got.id, sr.id);
    assert_int_equal(got.seq, 1);
    assert_string_equal(got.from, "alice");
    assert_string_equal(got.conv, "C2Calice");
    assert_string_equal(got.text, "hello from the SDK");
    assert_string_equal(got.ccd, "ccd-1");

    /* Conversation list and history through the SDK. */
    static list_res lr;
    memset(&lr, 0, sizeof lr);
    lr.r = &rb;
    assert_int_equal(tern_get_conversation_list(bob, 0, on_convs, &lr), TERN_OK);
    if (!wait_int(&rb, &lr.done, 1, IT_WAIT_MS))
        fail_msg("bob: conversation list callback did not run");
    assert_int_equal(lr.code, 0);
    assert_int_equal(lr.count, 1);
    assert_string_equal(lr.first_id, "C2Calice");
    assert_int_equal(lr.unread, 1);
    assert_int_equal(lr.last_seq, 1);
    assert_string_equal(lr.last_text, "hello from the SDK");
    memset(&lr, 0, sizeof lr);
    lr.r = &rb;
    assert_int_equal(tern_get_message_list(bob, "C2Calice", 0, 20, on_history, &lr), TERN_OK);
    if (!wait_int(&rb, &lr.done, 1, IT_WAIT_MS))
        fail_msg("bob: message list callback did not run");
    assert_int_equal(lr.code, 0);
    assert_int_equal(lr.nmsgs, 1);
    assert_int_equal(lr.first_seq, 1);

    /* Mark read through the SDK; bob's raw session gets the read event. */
    it_ws *bob_raw = it_login(s, "bob", "raw");
    memset(&lr, 0, sizeof lr);
    lr.r = &rb;
    assert_int_equal(tern_set_message_read(bob, "C2Calice", 0, on_read, &lr), TERN_OK);
    if (!wait_int(&rb, &lr.done, 1, IT_WAIT_MS))
        fail_msg("bob: read callback did not run");
    assert_int_equal(lr.code, 0);
    assert_string_equal(lr.first_id, "C2Calice");
    assert_int_equal(lr.read_seq, 1);
    assert_int_equal(lr.unread, 0);
    cJSON *ev = it_ws_wait_event(bob_raw, "read", IT_WAIT_MS);
    if (!ev)
        fail_msg("bob's raw session: no read event after the SDK marked read");
    assert_int_equal((int)it_jnum(ev, "data.readSeq", -1), 1);
    cJSON_Delete(ev);
    /* And the other way: the raw session marks read, the SDK gets MESSAGE_READ. */
    cJSON *r = it_ws_request(bob_raw, "{\"op\":\"read\",\"conversationID\":\"C2Calice\",\"seq\":1}");
    it_assert_code(r, 0);
    cJSON_Delete(r);
    if (!wait_int(&rb, &rb.read_events, 1, IT_WAIT_MS))
        fail_msg("bob SDK: no MESSAGE_READ event after another session marked read");
    it_ws_free(bob_raw);
    tern_client_destroy(alice);

    /* Restart ternd (same data, same port) while bob's SDK client is connected. */
    int st = 0;
    if (it_server_stop(s, 10000, &st) != 0)
        fail_msg("ternd did not stop on SIGTERM");
    if (!wait_int(&rb, &rb.not_ready, 1, IT_WAIT_MS))
        fail_msg("bob SDK: no SDK_NOT_READY after the server stopped");
    /* A message sent while the server is down waits and goes out after the reconnect. */
    m = tern_create_text_message(bob, TERN_CONV_C2C, "alice", "sent while down");
    assert_non_null(m);
    static send_res sr2;
    memset(&sr2, 0, sizeof sr2);
    sr2.r = &rb;
    assert_int_equal(tern_send_message(bob, m, NULL, on_sent, &sr2), TERN_OK);
    if (it_server_restart_same_port(s) != 0)
        fail_msg("ternd did not restart on port %d", s->port);
    /* alice sends three messages, racing bob's reconnect (1.5-3 s backoff). */
    it_ws *alice_raw = it_login(s, "alice", "raw");
    for (int i = 0; i < 3; i++) {
        char t[32];
        snprintf(t, sizeof t, "missed %d", i + 1);
        int64_t seq = it_send_text_ok(alice_raw, "C2C", "bob", t, NULL, 0);
        if (seq < 2 || seq > 3 + i)
            fail_msg("alice's message %d got seq %lld", i + 1, (long long)seq);
    }
    if (!wait_int(&rb, &rb.ready, 2, 20000))
        fail_msg("bob SDK: not ready again within 20 s after the restart (state %s)",
                 tern_state_name(tern_client_get_state(bob)));
    if (!wait_int(&rb, &rb.nrx, 4, IT_WAIT_MS))
        fail_msg("bob SDK: %d messages received, wanted 4 (1 before + 3 missed)", rb.nrx);
    if (!wait_int(&rb, &sr2.done, 1, IT_WAIT_MS))
        fail_msg("bob SDK: the send queued while down never completed");
    assert_int_equal(sr2.code, 0);
    tern_message_release(m);
    it_sleep_ms(300); /* a duplicate would show up now */
    pthread_mutex_lock(&rb.mu);
    int nrx = rb.nrx;
    rx_msg rx[MAX_RX];
    memcpy(rx, rb.rx, sizeof rx);
    pthread_mutex_unlock(&rb.mu);
    /* bob's own message (sent from the SDK) is not delivered back; alice's are, in order. */
    uint64_t last = 0;
    int from_alice = 0;
    for (int i = 0; i < nrx; i++) {
        if (strcmp(rx[i].from, "alice") != 0)
            fail_msg("bob SDK received a message from %s: '%s'", rx[i].from, rx[i].text);
        if (rx[i].seq <= last)
            fail_msg("bob SDK: seq %llu after %llu (duplicate or reorder)", (unsigned long long)rx[i].seq,
                     (unsigned long long)last);
        last = rx[i].seq;
        from_alice++;
    }
    assert_int_equal(from_alice, 4);
    assert_string_equal(rx[1].text, "missed 1");
    assert_string_equal(rx[3].text, "missed 3");
    /* alice sees bob's queued message live, and stored once. */
    ev = it_ws_wait_event(alice_raw, "msg", IT_WAIT_MS);
    if (!ev)
        fail_msg("alice: bob's queued message did not arrive");
    assert_string_equal(it_jstr(ev, "data.payload.text"), "sent while down");
    assert_string_equal(it_jstr(ev, "data.msgId"), sr2.id);
    cJSON_Delete(ev);
    r = it_ws_request(alice_raw, "{\"op\":\"history\",\"conversationID\":\"C2Cbob\",\"limit\":100}");
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.messages")), 5);
    cJSON_Delete(r);
    it_ws_free(alice_raw);
    tern_client_destroy(bob);
    rec_free(&ra);
    rec_free(&rb);
}

static int setup(void **state)
{
    it_watchdog(120);
    *state = it_server_new(NULL);
    return *state ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sdk_c2c_read_reconnect, setup, it_teardown_default),
    };
    return it_run_tests("it_libtern", tests);
}
