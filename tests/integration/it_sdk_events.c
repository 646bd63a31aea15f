/*
 * it_sdk_events.c — libtern's events and conversation fields of issue 10 against the
 * real ternd (include/tern/tern.h; docs/protocol.md §5 `receipt`, `ext`, and the
 * `conversations` answer's atInfo): two SDK clients, alice and bob, in a group g1 with
 * carol (never online).
 *   - C2C: bob reads past alice's needReadReceipt message → alice gets
 *     MESSAGE_READ_BY_PEER with bob's read position; a message without it raises none.
 *   - group: bob reads alice's needReadReceipt message → MESSAGE_READ_RECEIPT with the
 *     message id, read 1, unread 1 (carol).
 *   - extensions: bob sets a key on alice's isSupportExtension message → alice gets
 *     MESSAGE_EXTENSIONS_UPDATED with the changes as JSON.
 *   - at-info: alice's @bob + @ALL message shows in bob's conversation list as
 *     TERN_CONV_AT_ALL_AT_ME until bob reads it, then 0.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <tern/tern.h>

#include "harness.h"

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, received, by_peer, receipts, exts;
    int done, code; /* the last request's completion */
    char conv[100], msg_id[32], json[512], sent_id[32];
    uint64_t read_seq, read_count, unread_count, sent_seq;
    int at_info;
} rec;

static void on_event(tern_client *c, const tern_event *ev, void *ud)
{
    (void)c;
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    switch (ev->type) {
    case TERN_EVENT_SDK_READY: r->ready++; break;
    case TERN_EVENT_MESSAGE_RECEIVED: r->received++; break;
    case TERN_EVENT_MESSAGE_READ_BY_PEER:
        r->by_peer++;
        snprintf(r->conv, sizeof r->conv, "%s", ev->conversation_id);
        r->read_seq = ev->read_seq;
        break;
    case TERN_EVENT_MESSAGE_READ_RECEIPT:
        r->receipts++;
        snprintf(r->conv, sizeof r->conv, "%s", ev->conversation_id);
        snprintf(r->msg_id, sizeof r->msg_id, "%s", ev->msg_id);
        r->read_count = ev->read_count;
        r->unread_count = ev->unread_count;
        break;
    case TERN_EVENT_MESSAGE_EXTENSIONS_UPDATED:
        r->exts++;
        snprintf(r->conv, sizeof r->conv, "%s", ev->conversation_id);
        snprintf(r->msg_id, sizeof r->msg_id, "%s", ev->msg_id);
        snprintf(r->json, sizeof r->json, "%s", ev->json);
        break;
    default: break;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void finish(rec *r, int code)
{
    pthread_mutex_lock(&r->mu);
    r->code = code;
    r->done++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_login(tern_client *c, int code, const char *message, void *ud)
{
    (void)c;
    (void)message;
    finish(ud, code);
}

static void on_sent(tern_client *c, tern_message *msg, int code, const char *message, void *ud)
{
    (void)c;
    (void)message;
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    snprintf(r->sent_id, sizeof r->sent_id, "%s", tern_message_id(msg));
    r->sent_seq = tern_message_seq(msg);
    pthread_mutex_unlock(&r->mu);
    finish(r, code);
}

static void on_read(tern_client *c, int code, const char *message, const char *cid, uint64_t seq, uint64_t unread,
                    void *ud)
{
    (void)c;
    (void)message;
    (void)cid;
    (void)seq;
    (void)unread;
    finish(ud, code);
}

static void on_json(tern_client *c, int code, const char *message, const char *data, void *ud)
{
    (void)c;
    (void)message;
    (void)data;
    finish(ud, code);
}

static void on_convs(tern_client *c, int code, const char *message, const tern_conversation *const *convs, size_t n,
                     void *ud)
{
    (void)c;
    (void)message;
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    r->at_info = -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tern_conversation_id(convs[i]), "GROUPg1"))
            r->at_info = tern_conversation_at_info(convs[i]);
    pthread_mutex_unlock(&r->mu);
    finish(r, code);
}

/* Waits for r->done to pass *seen (one more completion) and checks its code. */
static void await(rec *r, int *seen, const char *what)
{
    if (!it_wait_int(&r->mu, &r->cv, &r->done, *seen + 1, IT_WAIT_MS))
        fail_msg("%s: no completion", what);
    *seen = r->done;
    if (r->code != 0)
        fail_msg("%s: code %d", what, r->code);
}

static tern_client *login(it_server *s, const char *user, rec *r, int *seen)
{
    char url[64], tok[1024];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", s->port);
    it_user_token(s, user, tok, sizeof tok);
    tern_client_options o;
    tern_client_options_init(&o);
    o.on_event = on_event;
    o.user_data = r;
    o.request_timeout_ms = 5000;
    tern_client *c = NULL;
    assert_int_equal(tern_client_create(url, "demo/demo", user, tok, &o, &c), TERN_OK);
    assert_int_equal(tern_client_start_thread(c), TERN_OK);
    assert_int_equal(tern_login(c, on_login, r), TERN_OK);
    await(r, seen, "login");
    if (!it_wait_int(&r->mu, &r->cv, &r->ready, 1, IT_WAIT_MS))
        fail_msg("%s: no SDK_READY", user);
    return c;
}

/* alice sends text with opts; waits for the answer and for bob's MESSAGE_RECEIVED. */
static void send_text(tern_client *a, rec *ra, int *sa, rec *rb, tern_conv_type t, const char *to, const char *text,
                      const tern_send_options *o)
{
    int before = rb->received;
    tern_message *m = tern_create_text_message(a, t, to, text);
    assert_non_null(m);
    assert_int_equal(tern_send_message(a, m, o, on_sent, ra), TERN_OK);
    tern_message_release(m);
    await(ra, sa, "send");
    if (!it_wait_int(&rb->mu, &rb->cv, &rb->received, before + 1, IT_WAIT_MS))
        fail_msg("bob did not receive %s", text);
}

static void test_events(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, u);
    static const char *const m[] = {"bob", "carol", NULL};
    it_create_group(s, "g1", "alice", m);
    static rec ra, rb;
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    pthread_mutex_init(&ra.mu, NULL);
    pthread_cond_init(&ra.cv, NULL);
    pthread_mutex_init(&rb.mu, NULL);
    pthread_cond_init(&rb.cv, NULL);
    int sa = 0, sb = 0;
    tern_client *a = login(s, "alice", &ra, &sa);
    tern_client *b = login(s, "bob", &rb, &sb);

    /* C2C: a plain message read raises nothing; a receipt message read raises one. */
    send_text(a, &ra, &sa, &rb, TERN_CONV_C2C, "bob", "plain", NULL);
    assert_int_equal(tern_set_message_read(b, "C2Calice", 0, on_read, &rb), TERN_OK);
    await(&rb, &sb, "read plain");
    tern_send_options o;
    tern_send_options_init(&o);
    o.need_read_receipt = 1;
    send_text(a, &ra, &sa, &rb, TERN_CONV_C2C, "bob", "receipt please", &o);
    uint64_t seq = ra.sent_seq;
    assert_int_equal(tern_set_message_read(b, "C2Calice", 0, on_read, &rb), TERN_OK);
    await(&rb, &sb, "read receipt message");
    if (!it_wait_int(&ra.mu, &ra.cv, &ra.by_peer, 1, IT_WAIT_MS))
        fail_msg("alice got no MESSAGE_READ_BY_PEER");
    assert_int_equal(ra.by_peer, 1); /* the plain message's read raised none */
    assert_string_equal(ra.conv, "C2Cbob");
    assert_true(ra.read_seq >= seq);

    /* Group: bob's read counts once; carol has not read. */
    send_text(a, &ra, &sa, &rb, TERN_CONV_GROUP, "g1", "group receipt", &o);
    char gid[32];
    snprintf(gid, sizeof gid, "%s", ra.sent_id);
    assert_int_equal(tern_set_message_read(b, "GROUPg1", 0, on_read, &rb), TERN_OK);
    await(&rb, &sb, "read group");
    if (!it_wait_int(&ra.mu, &ra.cv, &ra.receipts, 1, IT_WAIT_MS))
        fail_msg("alice got no MESSAGE_READ_RECEIPT");
    assert_string_equal(ra.conv, "GROUPg1");
    assert_string_equal(ra.msg_id, gid);
    assert_int_equal((int)ra.read_count, 1);
    assert_int_equal((int)ra.unread_count, 1);

    /* Extensions: bob sets a key; alice is told. */
    tern_send_options_init(&o);
    o.is_support_extension = 1;
    send_text(a, &ra, &sa, &rb, TERN_CONV_GROUP, "g1", "extend me", &o);
    char fields[256];
    snprintf(fields, sizeof fields, "{\"msgId\":\"%s\",\"items\":[{\"key\":\"vote\",\"value\":\"yes\"}]}", ra.sent_id);
    assert_int_equal(tern_request(b, "extSet", fields, on_json, &rb), TERN_OK);
    await(&rb, &sb, "extSet");
    if (!it_wait_int(&ra.mu, &ra.cv, &ra.exts, 1, IT_WAIT_MS))
        fail_msg("alice got no MESSAGE_EXTENSIONS_UPDATED");
    assert_string_equal(ra.msg_id, ra.sent_id);
    if (!strstr(ra.json, "\"key\":\"vote\"") || !strstr(ra.json, "\"value\":\"yes\""))
        fail_msg("extension changes: %s", ra.json);

    /* At-info: @bob and @ALL until bob reads past it. */
    tern_send_options_init(&o);
    const char *at[2] = {"bob", TERN_AT_ALL};
    o.at_users = at;
    o.at_user_count = 2;
    send_text(a, &ra, &sa, &rb, TERN_CONV_GROUP, "g1", "@bob @all", &o);
    assert_int_equal(tern_get_conversation_list(b, 100, on_convs, &rb), TERN_OK);
    await(&rb, &sb, "conversations");
    assert_int_equal(rb.at_info, TERN_CONV_AT_ALL_AT_ME);
    assert_int_equal(tern_set_message_read(b, "GROUPg1", 0, on_read, &rb), TERN_OK);
    await(&rb, &sb, "read @");
    assert_int_equal(tern_get_conversation_list(b, 100, on_convs, &rb), TERN_OK);
    await(&rb, &sb, "conversations after read");
    assert_int_equal(rb.at_info, 0);

    tern_client_destroy(a);
    tern_client_destroy(b);
}

static int setup(void **state)
{
    it_watchdog(120);
    *state = it_server_new(NULL);
    return *state ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test_setup_teardown(test_events, setup, it_teardown_default)};
    return it_run_tests("it_sdk_events", tests);
}
