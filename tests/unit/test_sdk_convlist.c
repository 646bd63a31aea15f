/*
 * test_sdk_convlist.c — unit tests of libtern's conversation-list cache (src/sdk/convlist.c,
 * TERN_EVENT_CONVERSATION_LIST_UPDATED): a real tern_client, not connected, set up as
 * logged in, is fed server frames as they come off the WebSocket (sdk_sess_on_text);
 * its loop runs one non-blocking turn where the app's loop would, and the list events
 * are recorded. Covered: the hold until the seed answered, the first seed (every
 * entry, also none), later seeds (only what differs; entries a complete list lacks go
 * silently; a list older than the cache does not win), coalescing of one turn's
 * changes, the rules of received and own messages (unread, at-info, read clearing,
 * online-only), an own send with excludedFromLastMessage, a conv `left` dropping a
 * dirty entry, the 10000-entry bound, and no cache without an on_event.
 *
 * Links libtern whole (tern_static) and reaches into its private headers, as
 * test_sdk_stream.c does; with no connection, requests stay in c->inflight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sdk/sdk.h"

typedef struct seen {
    char id[64], last_id[24];
    uint64_t unread, read_seq, last_seq;
    int at_info;
} seen;

#define MAX_SEEN 16

static int nlists;         /* CONVERSATION_LIST_UPDATED events */
static size_t last_n;      /* conversation_count of the last one */
static seen ent[MAX_SEEN]; /* its first entries */

static void on_event(tern_client *c, const tern_event *ev, void *ud)
{
    (void)c;
    (void)ud;
    if (ev->type != TERN_EVENT_CONVERSATION_LIST_UPDATED)
        return;
    nlists++;
    last_n = ev->conversation_count;
    memset(ent, 0, sizeof ent);
    for (size_t i = 0; i < ev->conversation_count && i < MAX_SEEN; i++) {
        const tern_conversation *v = ev->conversations[i];
        seen *s = &ent[i];
        snprintf(s->id, sizeof s->id, "%s", tern_conversation_id(v));
        s->unread = tern_conversation_unread_count(v);
        s->read_seq = tern_conversation_read_seq(v);
        s->last_seq = tern_conversation_last_seq(v);
        s->at_info = tern_conversation_at_info(v);
        const tern_message *m = tern_conversation_last_message(v);
        snprintf(s->last_id, sizeof s->last_id, "%s", m ? tern_message_id(m) : "");
    }
}

static const seen *entry(const char *id)
{
    for (size_t i = 0; i < last_n && i < MAX_SEEN; i++)
        if (!strcmp(ent[i].id, id))
            return &ent[i];
    fail_msg("%s not in the last event", id);
    return NULL;
}

/* with_events: 0 no on_event, 1 on_event, 2 on_event and no_conversation_list. */
static tern_client *new_client(int with_events)
{
    tern_client_options o;
    tern_client_options_init(&o);
    o.on_event = with_events ? on_event : NULL;
    o.no_conversation_list = with_events == 2;
    tern_client *c = NULL;
    assert_int_equal(tern_client_create("ws://127.0.0.1:1", "demo/demo", "bob", "tok", &o, &c), TERN_OK);
    c->session = 1;
    c->logged_in = 1;
    nlists = 0;
    last_n = 0;
    return c;
}

static void feed(tern_client *c, const char *fmt, ...)
{
    static char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    sdk_sess_on_text(c, buf, (size_t)n);
}

/* One turn of the client's loop: the turn's list event goes out. */
static void turn(tern_client *c)
{
    uv_run(c->loop, UV_RUN_NOWAIT);
}

/* A `msg` event: a text message of conversation type t ("C2C"/"GROUP") from `from` to
 * `to` at seq with msgId id; payload_extra is added to the payload (e.g. an atUserList). */
static void msg(tern_client *c, const char *t, const char *from, const char *to, unsigned seq, unsigned id,
                const char *payload_extra)
{
    feed(c,
         "{\"ev\":\"msg\",\"data\":{\"msgId\":\"%u\",\"seq\":%u,\"time\":1763779200123,\"conversationType\":\"%s\","
         "\"from\":\"%s\",\"to\":\"%s\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"t%u\"%s},"
         "\"cloudCustomData\":\"\",\"priority\":\"Normal\",\"needReadReceipt\":false%s}}",
         id, seq, t, from, to, id, payload_extra ? payload_extra : "", seq ? "" : ",\"onlineOnly\":true");
}

/* A `conversations` entry (lastMessage a text of id last_id from alice, or null). */
static void conv_json(char *out, size_t n, const char *id, unsigned unread, unsigned rs, unsigned ls, unsigned last_id)
{
    const char *group = !strncmp(id, "GROUP", 5) ? "GROUP" : "C2C";
    char lm[512] = "null";
    if (last_id)
        snprintf(lm, sizeof lm,
                 "{\"msgId\":\"%u\",\"seq\":%u,\"time\":1763779200123,\"conversationType\":\"%s\",\"from\":\"alice\","
                 "\"to\":\"%s\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"t%u\"},\"cloudCustomData\":\"\","
                 "\"priority\":\"Normal\",\"needReadReceipt\":false}",
                 last_id, ls, group, !strcmp(group, "C2C") ? "bob" : id + 5, last_id);
    snprintf(out, n,
             "{\"conversationID\":\"%s\",\"type\":\"%s\",\"peer\":\"%s\",\"unreadCount\":%u,\"readSeq\":%u,"
             "\"lastSeq\":%u,\"lastMessage\":%s}",
             id, group, id + (!strcmp(group, "C2C") ? 3 : 5), unread, rs, ls, lm);
}

/* Sends the seed request and answers it with the entries (JSON objects, comma-joined). */
static void seed(tern_client *c, const char *entries)
{
    sdk_convlist_seed(c);
    sdk_req *r = c->inflight.tail;
    assert_non_null(r);
    assert_int_equal(r->kind, REQ_CONV_SEED);
    assert_int_equal(r->limit, SDK_CONVLIST_SEED);
    feed(c, "{\"re\":\"conversations\",\"id\":%llu,\"code\":0,\"data\":{\"conversations\":[%s]}}",
         (unsigned long long)r->id, entries);
    assert_null(c->inflight.head);
}

static void test_seeds(void **state)
{
    (void)state;
    tern_client *c = new_client(1);
    /* A first seed with nothing: one event with no entry. */
    sdk_convlist_hold(c);
    seed(c, "");
    turn(c);
    assert_int_equal(nlists, 1);
    assert_int_equal((int)last_n, 0);
    tern_client_destroy(c);

    c = new_client(1);
    /* Held from the login: the catch-up's message raises nothing until the seed. */
    sdk_convlist_hold(c);
    msg(c, "C2C", "alice", "bob", 3, 203, NULL);
    turn(c);
    assert_int_equal(nlists, 0);
    char a[1024], g[1024], both[2100];
    conv_json(a, sizeof a, "C2Calice", 2, 1, 3, 203);
    conv_json(g, sizeof g, "GROUPg1", 0, 4, 4, 0);
    snprintf(both, sizeof both, "%s,%s", a, g);
    seed(c, both);
    turn(c);
    assert_int_equal(nlists, 1); /* the first seed: every entry, in one event */
    assert_int_equal((int)last_n, 2);
    assert_int_equal((int)entry("C2Calice")->unread, 2);
    assert_string_equal(entry("C2Calice")->last_id, "203");
    assert_int_equal((int)entry("GROUPg1")->read_seq, 4);

    /* The same list again: nothing differs, no event. */
    sdk_convlist_hold(c);
    seed(c, both);
    turn(c);
    assert_int_equal(nlists, 1);

    /* One entry changed: only it. */
    conv_json(g, sizeof g, "GROUPg1", 1, 4, 5, 205);
    snprintf(both, sizeof both, "%s,%s", a, g);
    sdk_convlist_hold(c);
    seed(c, both);
    turn(c);
    assert_int_equal(nlists, 2);
    assert_int_equal((int)last_n, 1);
    assert_int_equal((int)entry("GROUPg1")->unread, 1);

    /* A list older than the cache (a message reached the cache first) does not win. */
    msg(c, "C2C", "alice", "bob", 4, 204, NULL);
    turn(c);
    assert_int_equal(nlists, 3);
    assert_int_equal((int)entry("C2Calice")->unread, 3);
    sdk_convlist_hold(c);
    seed(c, both); /* C2Calice at lastSeq 3 */
    turn(c);
    assert_int_equal(nlists, 3);

    /* A complete list without GROUPg1: it goes, silently; a read for it changes
     * nothing. */
    conv_json(a, sizeof a, "C2Calice", 3, 1, 4, 204);
    sdk_convlist_hold(c);
    seed(c, a);
    turn(c);
    assert_int_equal(nlists, 3);
    feed(c, "{\"ev\":\"read\",\"data\":{\"conversationID\":\"GROUPg1\",\"readSeq\":5,\"unreadCount\":0}}");
    turn(c);
    assert_int_equal(nlists, 3);
    /* A failed seed releases the hold: changes made meanwhile go out. */
    sdk_convlist_hold(c);
    msg(c, "C2C", "alice", "bob", 5, 205, NULL);
    turn(c);
    assert_int_equal(nlists, 3);
    sdk_convlist_seed(c);
    sdk_req *r = c->inflight.tail;
    feed(c, "{\"re\":\"conversations\",\"id\":%llu,\"code\":5000,\"message\":\"no\"}", (unsigned long long)r->id);
    turn(c);
    assert_int_equal(nlists, 4);
    assert_int_equal((int)entry("C2Calice")->unread, 4);
    tern_client_destroy(c);
}

static void test_rules(void **state)
{
    (void)state;
    tern_client *c = new_client(1);
    /* Three messages in one turn: one event with their sum. */
    msg(c, "C2C", "alice", "bob", 1, 101, NULL);
    msg(c, "C2C", "alice", "bob", 2, 102, NULL);
    msg(c, "C2C", "alice", "bob", 3, 103, NULL);
    assert_int_equal(nlists, 0); /* not inside the turn */
    turn(c);
    assert_int_equal(nlists, 1);
    assert_int_equal((int)last_n, 1);
    assert_int_equal((int)entry("C2Calice")->unread, 3);
    assert_int_equal((int)entry("C2Calice")->last_seq, 3);
    assert_string_equal(entry("C2Calice")->last_id, "103");
    /* Online-only: nothing. */
    msg(c, "C2C", "alice", "bob", 0, 104, NULL);
    turn(c);
    assert_int_equal(nlists, 1);
    /* bob's own message from another session: sending reads. */
    msg(c, "C2C", "bob", "alice", 4, 105, NULL);
    turn(c);
    assert_int_equal(nlists, 2);
    assert_int_equal((int)entry("C2Calice")->unread, 0);
    assert_int_equal((int)entry("C2Calice")->read_seq, 4);
    assert_string_equal(entry("C2Calice")->last_id, "105");

    /* Group at-info: @bob → 1, @ALL → 3, a read past the first → 2, past both → 0; an
     * @ of someone else → nothing. */
    msg(c, "GROUP", "alice", "g1", 1, 201, ",\"atUserList\":[\"bob\"]");
    turn(c);
    assert_int_equal(entry("GROUPg1")->at_info, TERN_CONV_AT_ME);
    msg(c, "GROUP", "alice", "g1", 2, 202, ",\"atUserList\":[\"__kImSDK_MesssageAtALL__\"]");
    msg(c, "GROUP", "alice", "g1", 3, 203, ",\"atUserList\":[\"carol\"]");
    turn(c);
    assert_int_equal(entry("GROUPg1")->at_info, TERN_CONV_AT_ALL_AT_ME);
    assert_int_equal((int)entry("GROUPg1")->unread, 3);
    feed(c, "{\"ev\":\"read\",\"data\":{\"conversationID\":\"GROUPg1\",\"readSeq\":1,\"unreadCount\":2}}");
    turn(c);
    assert_int_equal(entry("GROUPg1")->at_info, TERN_CONV_AT_ALL);
    assert_int_equal((int)entry("GROUPg1")->unread, 2);
    feed(c, "{\"ev\":\"read\",\"data\":{\"conversationID\":\"GROUPg1\",\"readSeq\":3,\"unreadCount\":0}}");
    turn(c);
    assert_int_equal(entry("GROUPg1")->at_info, 0);
    assert_int_equal((int)entry("GROUPg1")->read_seq, 3);
    int n = nlists;
    /* The same read again: nothing changed, no event. */
    feed(c, "{\"ev\":\"read\",\"data\":{\"conversationID\":\"GROUPg1\",\"readSeq\":3,\"unreadCount\":0}}");
    turn(c);
    assert_int_equal(nlists, n);

    /* Left: the entry goes without this event, also when it was about to be raised. */
    msg(c, "GROUP", "alice", "g1", 4, 204, NULL);
    feed(c, "{\"ev\":\"conv\",\"data\":{\"conversationID\":\"GROUPg1\",\"reason\":\"left\"}}");
    turn(c);
    assert_int_equal(nlists, n);
    /* Joined creates nothing. */
    feed(c, "{\"ev\":\"conv\",\"data\":{\"conversationID\":\"GROUPg2\",\"reason\":\"joined\"}}");
    turn(c);
    assert_int_equal(nlists, n);
    tern_client_destroy(c);
}

static void on_sent(tern_client *c, tern_message *m, int code, const char *message, void *ud)
{
    (void)c;
    (void)m;
    (void)message;
    *(int *)ud = code;
}

static void test_own_send(void **state)
{
    (void)state;
    tern_client *c = new_client(1);
    msg(c, "C2C", "alice", "bob", 1, 101, NULL);
    turn(c);
    /* An acknowledged send with excludedFromLastMessage: read up to it, last stays. */
    tern_message *m = tern_create_text_message(c, TERN_CONV_C2C, "alice", "quiet");
    tern_send_options o;
    tern_send_options_init(&o);
    o.excluded_from_last_message = 1;
    int code = -1;
    assert_int_equal(tern_send_message(c, m, &o, on_sent, &code), TERN_OK);
    turn(c); /* the queue: the send goes in flight */
    sdk_req *r = c->inflight.tail;
    assert_non_null(r);
    assert_int_equal(r->kind, REQ_SEND);
    feed(c,
         "{\"re\":\"send\",\"id\":%llu,\"code\":0,\"data\":{\"msgId\":\"300\",\"seq\":2,\"time\":1763779200200,"
         "\"conversationID\":\"C2Calice\"}}",
         (unsigned long long)r->id);
    assert_int_equal(code, 0);
    turn(c);
    assert_int_equal(nlists, 2);
    assert_int_equal((int)entry("C2Calice")->unread, 0);
    assert_int_equal((int)entry("C2Calice")->read_seq, 2);
    assert_int_equal((int)entry("C2Calice")->last_seq, 2);
    assert_string_equal(entry("C2Calice")->last_id, "101");
    /* Without the option it is the last message. */
    tern_message_release(m);
    m = tern_create_text_message(c, TERN_CONV_C2C, "alice", "loud");
    assert_int_equal(tern_send_message(c, m, NULL, on_sent, &code), TERN_OK);
    turn(c);
    r = c->inflight.tail;
    feed(c,
         "{\"re\":\"send\",\"id\":%llu,\"code\":0,\"data\":{\"msgId\":\"301\",\"seq\":3,\"time\":1763779200300,"
         "\"conversationID\":\"C2Calice\"}}",
         (unsigned long long)r->id);
    turn(c);
    assert_string_equal(entry("C2Calice")->last_id, "301");
    tern_message_release(m);
    tern_client_destroy(c);
}

static void test_bound_and_no_callback(void **state)
{
    (void)state;
    tern_client *c = new_client(1);
    /* One more conversation than the cache holds: the least recently updated goes,
     * and the event carries the others (the evicted one's mark goes with it). */
    char to[16];
    for (unsigned i = 0; i <= SDK_CONVLIST_MAX; i++) {
        snprintf(to, sizeof to, "u%u", i);
        msg(c, "C2C", to, "bob", 1, 1000 + i, NULL);
    }
    turn(c);
    assert_int_equal(nlists, 1);
    assert_int_equal((int)last_n, SDK_CONVLIST_MAX);
    assert_string_equal(ent[0].id, "C2Cu1");
    tern_client_destroy(c);

    /* No on_event, or no_conversation_list: no cache, no seed request, no event. */
    for (int with = 0; with <= 2; with += 2) {
        c = new_client(with);
        assert_null(c->convlist);
        msg(c, "C2C", "alice", "bob", 1, 101, NULL);
        sdk_convlist_hold(c);
        sdk_convlist_seed(c);
        assert_null(c->inflight.head);
        turn(c);
        assert_int_equal(nlists, 0);
        tern_client_destroy(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_own_send),
        cmocka_unit_test(test_bound_and_no_callback),
    };
    return cmocka_run_group_tests_name("test_sdk_convlist", tests, NULL, NULL);
}
