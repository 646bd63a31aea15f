/*
 * it_sdk_convlist.c — libtern's TERN_EVENT_CONVERSATION_LIST_UPDATED against the real
 * ternd (include/tern/tern.h, src/sdk/convlist.c). alice runs the SDK; bob and carol
 * (and a second session of alice) speak raw WebSocket. The core assertion, after every
 * step: alice's entry as the events last showed it equals the server's `conversations`
 * entry, asked on alice's raw session (which leaves the SDK's cache alone):
 *   1. login: one event after SDK_READY with the conversations made before it;
 *   2. live: bob's three C2C messages → unread 3, last message the third;
 *   3. alice's other session reads → unread 0, read_seq = last_seq; alice sends (from
 *      the SDK, then from the other session): sending reads, her message is the last;
 *   4. group @: @alice → at-info 1, read → 0, @ALL → 2, read by the other session → 0;
 *   5. receiverList without alice changes nothing; an excludedFromUnreadCount message
 *      is not counted and an excludedFromLastMessage one is not the last message, as
 *      on the server (the stored object's isExcludedFrom* flags);
 *   6. ternd restarts, bob sends and alice's other session reads meanwhile → after the
 *      second SDK_READY one event with the caught-up entries (the catch-up's messages
 *      and the seed's read position together), and none while syncing.
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

#define MAX_SEEN 8
#define READ_ALL 9007199254740991ULL

/* An entry as the events last showed it. */
typedef struct seen_conv {
    char id[64], last_id[32], last_text[64];
    uint64_t unread, read_seq, last_seq;
    int at_info, times;
} seen_conv;

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, received, not_ready;
    int lists;          /* CONVERSATION_LIST_UPDATED events */
    int lists_unready;  /* ... raised while the client was not READY */
    int lists_at_ready; /* lists when the last SDK_READY came */
    int last_count;     /* conversation_count of the last one */
    int done, code;     /* the last request's completion */
    seen_conv seen[MAX_SEEN];
    int nseen;
} rec;

static seen_conv *find_seen(rec *r, const char *id)
{
    for (int i = 0; i < r->nseen; i++)
        if (!strcmp(r->seen[i].id, id))
            return &r->seen[i];
    return NULL;
}

static void on_event(tern_client *c, const tern_event *ev, void *ud)
{
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    switch (ev->type) {
    case TERN_EVENT_SDK_READY:
        r->ready++;
        r->lists_at_ready = r->lists;
        break;
    case TERN_EVENT_SDK_NOT_READY: r->not_ready++; break;
    case TERN_EVENT_MESSAGE_RECEIVED: r->received++; break;
    case TERN_EVENT_CONVERSATION_LIST_UPDATED:
        r->lists++;
        if (tern_client_get_state(c) != TERN_STATE_READY)
            r->lists_unready++;
        r->last_count = (int)ev->conversation_count;
        for (size_t i = 0; i < ev->conversation_count; i++) {
            const tern_conversation *v = ev->conversations[i];
            seen_conv *s = find_seen(r, tern_conversation_id(v));
            if (!s && r->nseen < MAX_SEEN) {
                s = &r->seen[r->nseen++];
                snprintf(s->id, sizeof s->id, "%s", tern_conversation_id(v));
            }
            if (!s)
                continue;
            s->times++;
            s->unread = tern_conversation_unread_count(v);
            s->read_seq = tern_conversation_read_seq(v);
            s->last_seq = tern_conversation_last_seq(v);
            s->at_info = tern_conversation_at_info(v);
            const tern_message *m = tern_conversation_last_message(v);
            snprintf(s->last_id, sizeof s->last_id, "%s", m ? tern_message_id(m) : "");
            const char *t = m ? tern_message_text(m) : NULL;
            snprintf(s->last_text, sizeof s->last_text, "%s", t ? t : "");
        }
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

static void on_sent(tern_client *c, tern_message *msg, int code, const char *message, void *ud)
{
    (void)c;
    (void)msg;
    (void)message;
    finish(ud, code);
}

static void on_convs(tern_client *c, int code, const char *message, const tern_conversation *const *convs, size_t n,
                     void *ud)
{
    (void)c;
    (void)message;
    (void)convs;
    (void)n;
    finish(ud, code);
}

/* Waits for one more completion and checks its code. */
static void await(rec *r, int *seen, const char *what)
{
    if (!it_wait_int(&r->mu, &r->cv, &r->done, *seen + 1, IT_WAIT_MS))
        fail_msg("%s: no completion", what);
    *seen = r->done;
    if (r->code != 0)
        fail_msg("%s: code %d", what, r->code);
}

/* Two ping round trips: every frame the server sent before them has been handled and
 * the list event of that loop turn has been raised (it fires one turn later). */
static void settle(tern_client *c, rec *r, int *seen)
{
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tern_request(c, "ping", NULL, on_json, r), TERN_OK);
        await(r, seen, "ping");
    }
}

/* Waits until alice has received `want` messages in all. */
static void wait_received(rec *r, int want)
{
    if (!it_wait_int(&r->mu, &r->cv, &r->received, want, IT_WAIT_MS))
        fail_msg("alice received %d messages, not %d", r->received, want);
}

/* The server's entry of conversation id for alice (raw session w); NULL if absent. */
static cJSON *server_entry(it_ws *w, const char *id)
{
    cJSON *resp = it_ws_request(w, "{\"op\":\"conversations\",\"limit\":100}");
    it_assert_code(resp, 0);
    const cJSON *arr = it_jget(resp, "data.conversations"), *it;
    cJSON *out = NULL;
    cJSON_ArrayForEach(it, arr)
    {
        const char *cid = it_jstr(it, "conversationID");
        if (cid && !strcmp(cid, id))
            out = cJSON_Duplicate(it, 1);
    }
    cJSON_Delete(resp);
    return out;
}

enum { CMP_ALL = 0, CMP_NO_LAST_SEQ = 1 };

/* The core assertion: the cache (as the events showed it) equals the server's entry.
 * Returns 1 if equal; with strict, fails the test on a difference. */
static int compare(rec *r, it_ws *w, const char *id, int flags, int strict)
{
    cJSON *sv = server_entry(w, id);
    if (!sv)
        fail_msg("%s: not in the server's list", id);
    pthread_mutex_lock(&r->mu);
    seen_conv s = {0};
    seen_conv *p = find_seen(r, id);
    if (p)
        s = *p;
    pthread_mutex_unlock(&r->mu);
    if (!p)
        fail_msg("%s: never in a CONVERSATION_LIST_UPDATED event", id);
    uint64_t unread = (uint64_t)it_jnum(sv, "unreadCount", -1), rs = (uint64_t)it_jnum(sv, "readSeq", -1),
             ls = (uint64_t)it_jnum(sv, "lastSeq", -1);
    int at = (int)it_jnum(sv, "atInfo", 0);
    const char *lid = it_jstr(sv, "lastMessage.msgId");
    int ok = s.unread == unread && s.read_seq == rs && s.at_info == at && !strcmp(s.last_id, lid ? lid : "") &&
             ((flags & CMP_NO_LAST_SEQ) ? s.last_seq <= ls : s.last_seq == ls);
    if (!ok) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%s: cache unread %llu read %llu last %llu at %d msg %s; server unread %llu read %llu last %llu at %d "
                 "msg %s",
                 id, (unsigned long long)s.unread, (unsigned long long)s.read_seq, (unsigned long long)s.last_seq,
                 s.at_info, s.last_id, (unsigned long long)unread, (unsigned long long)rs, (unsigned long long)ls, at,
                 lid ? lid : "");
        cJSON_Delete(sv);
        if (strict)
            fail_msg("%s", msg);
        fprintf(stderr, "it_sdk_convlist: %s\n", msg);
        return 0;
    }
    cJSON_Delete(sv);
    return 1;
}

static seen_conv get_seen(rec *r, const char *id)
{
    seen_conv s = {0};
    pthread_mutex_lock(&r->mu);
    seen_conv *p = find_seen(r, id);
    if (p)
        s = *p;
    pthread_mutex_unlock(&r->mu);
    return s;
}

/* A raw send that must succeed: msg and options are JSON object texts. */
static void raw_send(it_ws *w, const char *msg, const char *options)
{
    cJSON *resp = options ? it_ws_request(w, "{\"op\":\"send\",\"msg\":%s,\"options\":%s}", msg, options)
                          : it_ws_request(w, "{\"op\":\"send\",\"msg\":%s}", msg);
    it_assert_code(resp, 0);
    cJSON_Delete(resp);
}

#define GROUP_TEXT(text) "{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":" text "}"

static tern_client *sdk_login(it_server *s, rec *r, int *seen)
{
    char url[64], tok[1024];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", s->port);
    it_user_token(s, "alice", tok, sizeof tok);
    tern_client_options o;
    tern_client_options_init(&o);
    o.on_event = on_event;
    o.user_data = r;
    o.request_timeout_ms = 5000;
    o.reconnect_min_ms = 6000; /* step 6: bob's messages go out before alice is back */
    o.reconnect_max_ms = 12000;
    tern_client *c = NULL;
    assert_int_equal(tern_client_create(url, "demo/demo", "alice", tok, &o, &c), TERN_OK);
    assert_int_equal(tern_client_start_thread(c), TERN_OK);
    assert_int_equal(tern_login(c, on_login, r), TERN_OK);
    await(r, seen, "login");
    if (!it_wait_int(&r->mu, &r->cv, &r->ready, 1, IT_WAIT_MS))
        fail_msg("alice: no SDK_READY");
    return c;
}

static void test_convlist(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"alice", "carol", NULL};
    it_create_group(s, "g1", "bob", members);
    it_ws *bob = it_login(s, "bob", "raw");
    it_ws *carol = it_login(s, "carol", "raw");

    /* 1. Conversations made before alice logs in: C2Cbob (2 unread), GROUPg1 (1). */
    it_send_text_ok(bob, "C2C", "alice", "before 1", NULL, 0);
    it_send_text_ok(bob, "C2C", "alice", "before 2", NULL, 0);
    it_send_text_ok(carol, "GROUP", "g1", "before g", NULL, 0);
    static rec ra;
    memset(&ra, 0, sizeof ra);
    pthread_mutex_init(&ra.mu, NULL);
    pthread_cond_init(&ra.cv, NULL);
    int sa = 0;
    tern_client *a = sdk_login(s, &ra, &sa);
    if (!it_wait_int(&ra.mu, &ra.cv, &ra.lists, 1, IT_WAIT_MS))
        fail_msg("no CONVERSATION_LIST_UPDATED after the login");
    settle(a, &ra, &sa);
    assert_int_equal(ra.lists, 1); /* one event for the whole list */
    assert_int_equal(ra.lists_unready, 0);
    assert_int_equal(ra.last_count, 2);
    it_ws *aw = it_login(s, "alice", "raw"); /* the server's truth, beside the SDK */
    compare(&ra, aw, "C2Cbob", CMP_ALL, 1);
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);
    assert_int_equal((int)get_seen(&ra, "C2Cbob").unread, 2);
    assert_int_equal((int)get_seen(&ra, "GROUPg1").unread, 1);

    /* 2. Live: alice reads, bob sends three; the last state shows them. */
    assert_int_equal(tern_set_message_read(a, "C2Cbob", 0, on_read, &ra), TERN_OK);
    await(&ra, &sa, "read C2Cbob");
    int got = ra.received;
    for (int i = 1; i <= 3; i++) {
        char t[16];
        snprintf(t, sizeof t, "live %d", i);
        it_send_text_ok(bob, "C2C", "alice", t, NULL, 0);
    }
    wait_received(&ra, got + 3);
    settle(a, &ra, &sa);
    assert_int_equal((int)get_seen(&ra, "C2Cbob").unread, 3);
    assert_string_equal(get_seen(&ra, "C2Cbob").last_text, "live 3");
    compare(&ra, aw, "C2Cbob", CMP_ALL, 1);

    /* 3. alice's other session reads: unread 0, read_seq = last_seq. */
    cJSON *resp =
        it_ws_request(aw, "{\"op\":\"read\",\"conversationID\":\"C2Cbob\",\"seq\":%llu}", (unsigned long long)READ_ALL);
    it_assert_code(resp, 0);
    cJSON_Delete(resp);
    settle(a, &ra, &sa);
    seen_conv sc = get_seen(&ra, "C2Cbob");
    assert_int_equal((int)sc.unread, 0);
    assert_int_equal((int)sc.read_seq, (int)sc.last_seq);
    compare(&ra, aw, "C2Cbob", CMP_ALL, 1);

    /* 3b. Sending reads: bob sends one, alice answers from the SDK (acknowledged send),
     * then from her other session (received as her own): unread 0, her text last. */
    got = ra.received;
    it_send_text_ok(bob, "C2C", "alice", "question", NULL, 0);
    wait_received(&ra, got + 1);
    settle(a, &ra, &sa);
    assert_int_equal((int)get_seen(&ra, "C2Cbob").unread, 1);
    tern_message *mine = tern_create_text_message(a, TERN_CONV_C2C, "bob", "answer");
    assert_non_null(mine);
    assert_int_equal(tern_send_message(a, mine, NULL, on_sent, &ra), TERN_OK);
    tern_message_release(mine);
    await(&ra, &sa, "send");
    settle(a, &ra, &sa);
    sc = get_seen(&ra, "C2Cbob");
    assert_int_equal((int)sc.unread, 0);
    assert_string_equal(sc.last_text, "answer");
    compare(&ra, aw, "C2Cbob", CMP_ALL, 1);
    it_send_text_ok(bob, "C2C", "alice", "again", NULL, 0);
    it_send_text_ok(aw, "C2C", "bob", "from my phone", NULL, 0);
    wait_received(&ra, got + 3);
    settle(a, &ra, &sa);
    sc = get_seen(&ra, "C2Cbob");
    assert_int_equal((int)sc.unread, 0);
    assert_string_equal(sc.last_text, "from my phone");
    compare(&ra, aw, "C2Cbob", CMP_ALL, 1);

    /* 4. Group @: @alice → 1; alice reads → 0; @ALL → 2; the other session reads → 0. */
    got = ra.received;
    raw_send(bob, GROUP_TEXT("{\"text\":\"hi alice\",\"atUserList\":[\"alice\"]}"), NULL);
    wait_received(&ra, got + 1);
    settle(a, &ra, &sa);
    assert_int_equal(get_seen(&ra, "GROUPg1").at_info, TERN_CONV_AT_ME);
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);
    assert_int_equal(tern_set_message_read(a, "GROUPg1", 0, on_read, &ra), TERN_OK);
    await(&ra, &sa, "read GROUPg1");
    settle(a, &ra, &sa);
    assert_int_equal(get_seen(&ra, "GROUPg1").at_info, 0);
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);
    raw_send(bob, GROUP_TEXT("{\"text\":\"hi all\",\"atUserList\":[\"" TERN_AT_ALL "\"]}"), NULL);
    wait_received(&ra, got + 2);
    settle(a, &ra, &sa);
    assert_int_equal(get_seen(&ra, "GROUPg1").at_info, TERN_CONV_AT_ALL);
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);
    resp = it_ws_request(aw, "{\"op\":\"read\",\"conversationID\":\"GROUPg1\",\"seq\":%llu}",
                         (unsigned long long)READ_ALL);
    it_assert_code(resp, 0);
    cJSON_Delete(resp);
    settle(a, &ra, &sa);
    assert_int_equal(get_seen(&ra, "GROUPg1").at_info, 0);
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);

    /* 5a. A receiverList message without alice: she gets nothing and her entry does not
     * move; the server's lastSeq does (a seq she never receives), so last_seq may lag. */
    int lists = ra.lists;
    resp = it_ws_request(bob, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":"
                              "\"TIMTextElem\",\"payload\":{\"text\":\"private\"},\"receiverList\":[\"carol\"]}}");
    it_assert_code(resp, 0);
    cJSON_Delete(resp);
    settle(a, &ra, &sa);
    compare(&ra, aw, "GROUPg1", CMP_NO_LAST_SEQ, 1);
    assert_int_equal(ra.lists, lists);

    /* 5b. excludedFromUnreadCount: the message is marked isExcludedFromUnreadCount, so
     * the cache does not count it, as the server does not; the next message counts. */
    got = ra.received;
    lists = ra.lists;
    raw_send(bob, GROUP_TEXT("{\"text\":\"not unread\"}"),
             "{\"messageControlInfo\":{\"excludedFromUnreadCount\":true}}");
    wait_received(&ra, got + 1);
    settle(a, &ra, &sa);
    assert_int_equal(ra.lists, lists + 1); /* last_seq and the last message moved */
    assert_int_equal((int)get_seen(&ra, "GROUPg1").unread, 0);
    compare(&ra, aw, "GROUPg1", CMP_NO_LAST_SEQ, 1);
    raw_send(carol, GROUP_TEXT("{\"text\":\"counted\"}"), NULL);
    wait_received(&ra, got + 2);
    settle(a, &ra, &sa);
    assert_int_equal(ra.lists, lists + 2);
    assert_int_equal((int)get_seen(&ra, "GROUPg1").unread, 1);
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);

    /* 5c. excludedFromLastMessage: last_seq and unread move, the last message stays. */
    raw_send(bob, GROUP_TEXT("{\"text\":\"not last\"}"), "{\"messageControlInfo\":{\"excludedFromLastMessage\":true}}");
    wait_received(&ra, got + 3);
    settle(a, &ra, &sa);
    assert_string_equal(get_seen(&ra, "GROUPg1").last_text, "counted");
    assert_int_equal((int)get_seen(&ra, "GROUPg1").unread, 2);
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);
    resp = it_ws_request(aw, "{\"op\":\"read\",\"conversationID\":\"GROUPg1\",\"seq\":%llu}",
                         (unsigned long long)READ_ALL);
    it_assert_code(resp, 0);
    cJSON_Delete(resp);
    settle(a, &ra, &sa);
    assert_string_equal(get_seen(&ra, "GROUPg1").last_text, "counted");
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);
    /* the app's own list request agrees and raises no event */
    lists = ra.lists;
    assert_int_equal(tern_get_conversation_list(a, 100, on_convs, &ra), TERN_OK);
    await(&ra, &sa, "conversation list");
    settle(a, &ra, &sa);
    assert_int_equal(ra.lists, lists);

    /* 6. ternd restarts; bob sends two while alice is away: one event after the second
     * SDK_READY with the caught-up entry, none during the catch-up. */
    it_ws_free(bob);
    it_ws_free(carol);
    it_ws_free(aw);
    int st = 0;
    if (it_server_stop(s, 10000, &st) != 0)
        fail_msg("ternd did not stop");
    if (!it_wait_int(&ra.mu, &ra.cv, &ra.not_ready, 1, IT_WAIT_MS))
        fail_msg("alice: no SDK_NOT_READY");
    if (it_server_restart_same_port(s) != 0)
        fail_msg("ternd did not restart on port %d", s->port);
    bob = it_login(s, "bob", "raw");
    carol = it_login(s, "carol", "raw");
    aw = it_login(s, "alice", "raw");
    it_send_text_ok(bob, "C2C", "alice", "away 1", NULL, 0);
    it_send_text_ok(bob, "C2C", "alice", "away 2", NULL, 0);
    /* carol's message comes with the catch-up, but the other session read it: only the
     * seed knows, and the one event shows the seed's count. */
    it_send_text_ok(carol, "GROUP", "g1", "away g", NULL, 0);
    resp = it_ws_request(aw, "{\"op\":\"read\",\"conversationID\":\"GROUPg1\",\"seq\":%llu}",
                         (unsigned long long)READ_ALL);
    it_assert_code(resp, 0);
    cJSON_Delete(resp);
    pthread_mutex_lock(&ra.mu);
    int early = ra.ready > 1;
    pthread_mutex_unlock(&ra.mu);
    if (early)
        fail_msg("alice was back before bob's messages (a slow restart?): raise reconnect_min_ms");
    if (!it_wait_int(&ra.mu, &ra.cv, &ra.ready, 2, 3 * IT_WAIT_MS))
        fail_msg("alice: no second SDK_READY");
    if (!it_wait_int(&ra.mu, &ra.cv, &ra.lists, ra.lists_at_ready + 1, IT_WAIT_MS))
        fail_msg("no CONVERSATION_LIST_UPDATED after the reconnect");
    settle(a, &ra, &sa);
    assert_int_equal(ra.lists, ra.lists_at_ready + 1);
    assert_int_equal(ra.lists_unready, 0);
    sc = get_seen(&ra, "C2Cbob");
    assert_int_equal((int)sc.unread, 2);
    assert_string_equal(sc.last_text, "away 2");
    assert_int_equal((int)get_seen(&ra, "GROUPg1").unread, 0);
    assert_string_equal(get_seen(&ra, "GROUPg1").last_text, "away g");
    compare(&ra, aw, "C2Cbob", CMP_ALL, 1);
    compare(&ra, aw, "GROUPg1", CMP_ALL, 1);

    tern_client_destroy(a);
    it_ws_free(aw);
    it_ws_free(bob);
    it_ws_free(carol);
}

static int setup(void **state)
{
    it_watchdog(180);
    *state = it_server_new(NULL);
    return *state ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test_setup_teardown(test_convlist, setup, it_teardown_default)};
    return it_run_tests("it_sdk_convlist", tests);
}
