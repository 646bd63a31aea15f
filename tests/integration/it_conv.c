/*
 * it_conv.c — conversations, read marks and history against a real ternd
 * (docs/protocol.md §4 conversations/read/history, §5 `read` event; docs/rest-api.md
 * user conversations and messages): unread counts and last message, most recent first,
 * own messages never unread, `read` (other sessions get the event, clamp to the last
 * seq, never backwards), history paging backwards with beforeSeq/limit/more, and the
 * REST twins of the list and history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void users(it_server *s)
{
    static const char *const u[] = {"alice", "bob", "carol", "dave", NULL};
    it_create_users(s, u);
}

/* Finds a conversation by id in a conversations array; NULL if absent. */
static const cJSON *find_conv(const cJSON *arr, const char *cid)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        const char *id = it_jstr(c, "conversationID");
        if (id && strcmp(id, cid) == 0)
            return c;
    }
    return NULL;
}

static void check_conv(const cJSON *c, const char *cid, const char *type, const char *peer, int unread, int read_seq,
                       int last_seq, const char *last_text)
{
    if (!c)
        fail_msg("conversation %s missing", cid);
    const char *id = it_jstr(c, "conversationID"), *t = it_jstr(c, "type"), *p = it_jstr(c, "peer");
    const char *lt = it_jstr(c, "lastMessage.payload.text");
    if (!id || strcmp(id, cid) || !t || strcmp(t, type) || !p || strcmp(p, peer) ||
        (int)it_jnum(c, "unreadCount", -1) != unread || (int)it_jnum(c, "readSeq", -1) != read_seq ||
        (int)it_jnum(c, "lastSeq", -1) != last_seq || !lt || strcmp(lt, last_text) ||
        (int)it_jnum(c, "lastMessage.seq", -1) != last_seq)
        fail_msg("conversation %s: wanted type %s peer %s unread %d readSeq %d lastSeq %d last '%s', got %s", cid, type,
                 peer, unread, read_seq, last_seq, last_text, it_jshow(c));
}

static cJSON *conversations(it_ws *w)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"conversations\",\"limit\":100}");
    it_assert_code(r, 0);
    if (!cJSON_IsArray(it_jget(r, "data.conversations")))
        fail_msg("conversations: no data.conversations array: %s", it_jshow(r));
    return r;
}

static void send_n(it_ws *w, const char *to, int from_seq, int n)
{
    for (int i = 0; i < n; i++) {
        char t[96];
        snprintf(t, sizeof t, "%s-%d", w->user, from_seq + i);
        assert_int_equal(it_send_text_ok(w, "C2C", to, t, NULL, 0), from_seq + i);
    }
}

static void test_conversation_list(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *alice = it_login(s, "alice", "a1");
    it_ws *carol = it_login(s, "carol", "c1");
    send_n(alice, "bob", 1, 3);
    it_sleep_ms(5); /* distinct message times */
    send_n(carol, "bob", 1, 2);

    it_ws *bob = it_login(s, "bob", "b1");
    cJSON *r = conversations(bob);
    const cJSON *arr = it_jget(r, "data.conversations");
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    /* Most recent first. */
    check_conv(cJSON_GetArrayItem(arr, 0), "C2Ccarol", "C2C", "carol", 2, 0, 2, "carol-2");
    check_conv(cJSON_GetArrayItem(arr, 1), "C2Calice", "C2C", "alice", 3, 0, 3, "alice-3");
    cJSON_Delete(r);

    /* The sender's own messages don't count: alice has C2Cbob with nothing unread. */
    r = conversations(alice);
    arr = it_jget(r, "data.conversations");
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    check_conv(cJSON_GetArrayItem(arr, 0), "C2Cbob", "C2C", "bob", 0, 3, 3, "alice-3");
    cJSON_Delete(r);

    /* bob replies to alice: his own reply moves his readSeq (0 unread), alice has 1, and
     * C2Calice becomes bob's most recent conversation. */
    assert_int_equal(it_send_text_ok(bob, "C2C", "alice", "bob-4", NULL, 0), 4);
    r = conversations(bob);
    arr = it_jget(r, "data.conversations");
    check_conv(cJSON_GetArrayItem(arr, 0), "C2Calice", "C2C", "alice", 0, 4, 4, "bob-4");
    check_conv(cJSON_GetArrayItem(arr, 1), "C2Ccarol", "C2C", "carol", 2, 0, 2, "carol-2");
    cJSON_Delete(r);
    r = conversations(alice);
    check_conv(find_conv(it_jget(r, "data.conversations"), "C2Cbob"), "C2Cbob", "C2C", "bob", 1, 3, 4, "bob-4");
    cJSON_Delete(r);

    /* limit bounds the list; out-of-range limits are 1003. */
    r = it_ws_request(bob, "{\"op\":\"conversations\",\"limit\":1}");
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.conversations")), 1);
    cJSON_Delete(r);
    r = it_ws_request(bob, "{\"op\":\"conversations\",\"limit\":0}");
    it_assert_code(r, 1003);
    cJSON_Delete(r);
    r = it_ws_request(bob, "{\"op\":\"conversations\",\"limit\":501}");
    it_assert_code(r, 1003);
    cJSON_Delete(r);
    /* A user with no conversations gets an empty list. */
    it_ws *dave = it_login(s, "dave", "d1");
    r = conversations(dave);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.conversations")), 0);
    cJSON_Delete(r);
}

static void test_mark_read(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *alice = it_login(s, "alice", "a1");
    send_n(alice, "bob", 1, 3);
    it_ws *b1 = it_login(s, "bob", "b1");
    it_ws *b2 = it_login(s, "bob", "b2");

    cJSON *r = it_ws_request(b1, "{\"op\":\"read\",\"conversationID\":\"C2Calice\",\"seq\":2}");
    it_assert_code(r, 0);
    assert_string_equal(it_jstr(r, "data.conversationID"), "C2Calice");
    assert_int_equal((int)it_jnum(r, "data.readSeq", -1), 2);
    assert_int_equal((int)it_jnum(r, "data.unreadCount", -1), 1);
    cJSON_Delete(r);
    /* The other session gets the same object as an event. */
    cJSON *ev = it_ws_wait_event(b2, "read", IT_WAIT_MS);
    if (!ev)
        fail_msg("b2: no read event");
    assert_string_equal(it_jstr(ev, "data.conversationID"), "C2Calice");
    assert_int_equal((int)it_jnum(ev, "data.readSeq", -1), 2);
    assert_int_equal((int)it_jnum(ev, "data.unreadCount", -1), 1);
    cJSON_Delete(ev);

    r = conversations(b2);
    check_conv(find_conv(it_jget(r, "data.conversations"), "C2Calice"), "C2Calice", "C2C", "alice", 1, 2, 3, "alice-3");
    cJSON_Delete(r);

    /* Past the end: clamped to the last seq. */
    r = it_ws_request(b2, "{\"op\":\"read\",\"conversationID\":\"C2Calice\",\"seq\":1000}");
    it_assert_code(r, 0);
    assert_int_equal((int)it_jnum(r, "data.readSeq", -1), 3);
    assert_int_equal((int)it_jnum(r, "data.unreadCount", -1), 0);
    cJSON_Delete(r);
    ev = it_ws_wait_event(b1, "read", IT_WAIT_MS);
    assert_non_null(ev);
    assert_int_equal((int)it_jnum(ev, "data.readSeq", -1), 3);
    cJSON_Delete(ev);
    /* Never backwards. */
    r = it_ws_request(b1, "{\"op\":\"read\",\"conversationID\":\"C2Calice\",\"seq\":1}");
    it_assert_code(r, 0);
    assert_int_equal((int)it_jnum(r, "data.readSeq", -1), 3);
    assert_int_equal((int)it_jnum(r, "data.unreadCount", -1), 0);
    cJSON_Delete(r);
    r = conversations(b1);
    check_conv(find_conv(it_jget(r, "data.conversations"), "C2Calice"), "C2Calice", "C2C", "alice", 0, 3, 3, "alice-3");
    cJSON_Delete(r);
    /* The reading session itself (b1, last) got no read event of its own reads. */
    cJSON *p = it_ws_request(b1, "{\"op\":\"ping\"}");
    cJSON_Delete(p);
    it_ws_pump(b1, 200);
    assert_int_equal((int)it_ws_count_events(b1, "read"), 0);

    /* A new message makes it unread again. */
    send_n(alice, "bob", 4, 1);
    r = conversations(b1);
    check_conv(find_conv(it_jget(r, "data.conversations"), "C2Calice"), "C2Calice", "C2C", "alice", 1, 3, 4, "alice-4");
    cJSON_Delete(r);

    /* A conversation the user does not have: 1009 (or 1104). */
    r = it_ws_request(b1, "{\"op\":\"read\",\"conversationID\":\"C2Cdave\",\"seq\":1}");
    if (!r || (it_code(r) != 1009 && it_code(r) != 1104))
        fail_msg("read of a conversation bob does not have: %s", it_jshow(r));
    cJSON_Delete(r);
    r = it_ws_request(b1, "{\"op\":\"read\",\"conversationID\":\"C2Calice\"}");
    it_assert_code(r, 1003);
    cJSON_Delete(r);
    r = it_ws_request(b1, "{\"op\":\"read\",\"conversationID\":\"XYZalice\",\"seq\":1}");
    it_assert_code(r, 1003);
    cJSON_Delete(r);
}

static void check_page(const cJSON *r, int first_seq, int n, int more)
{
    if (!r || it_code(r) != 0)
        fail_msg("history page: %s", it_jshow(r));
    const cJSON *msgs = it_jget(r, "data.messages");
    if (cJSON_GetArraySize(msgs) != n)
        fail_msg("history page: wanted %d messages from seq %d, got %s", n, first_seq, it_jshow(r));
    for (int i = 0; i < n; i++) {
        const cJSON *m = cJSON_GetArrayItem(msgs, i);
        char t[32];
        snprintf(t, sizeof t, "alice-%d", first_seq - i);
        const char *mt = it_jstr(m, "payload.text");
        if ((int)it_jnum(m, "seq", -1) != first_seq - i || !mt || strcmp(mt, t))
            fail_msg("history page item %d: wanted seq %d '%s', got %s", i, first_seq - i, t, it_jshow(m));
    }
    const cJSON *mo = it_jget(r, "data.more");
    if (!cJSON_IsBool(mo) || cJSON_IsTrue(mo) != more)
        fail_msg("history page from %d: wanted more=%d, got %s", first_seq, more, it_jshow(mo));
}

static void test_history_paging(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *alice = it_login(s, "alice", "a1");
    send_n(alice, "bob", 1, 25);
    it_ws *bob = it_login(s, "bob", "b1");

    cJSON *r = it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"beforeSeq\":0,\"limit\":10}");
    check_page(r, 25, 10, 1);
    int smallest = (int)it_jnum(r, "data.messages.9.seq", -1);
    cJSON_Delete(r);
    r = it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"beforeSeq\":%d,\"limit\":10}",
                      smallest);
    check_page(r, 15, 10, 1);
    smallest = (int)it_jnum(r, "data.messages.9.seq", -1);
    cJSON_Delete(r);
    r = it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"beforeSeq\":%d,\"limit\":10}",
                      smallest);
    check_page(r, 5, 5, 0);
    cJSON_Delete(r);
    /* Exactly the rest: more is false. */
    r = it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"beforeSeq\":11,\"limit\":10}");
    check_page(r, 10, 10, 0);
    cJSON_Delete(r);
    /* Default limit 20. */
    r = it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\"}");
    check_page(r, 25, 20, 1);
    cJSON_Delete(r);
    /* The sender sees the same conversation as C2Cbob. */
    r = it_ws_request(alice, "{\"op\":\"history\",\"conversationID\":\"C2Cbob\",\"limit\":100}");
    check_page(r, 25, 25, 0);
    cJSON_Delete(r);
    /* beforeSeq 1: nothing older. */
    r = it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"beforeSeq\":1}");
    check_page(r, 0, 0, 0);
    cJSON_Delete(r);
    /* Bad limits and ids: 1003. */
    const char *bad[] = {
        "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"limit\":0}",
        "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"limit\":101}",
        "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"limit\":\"ten\"}",
        "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"beforeSeq\":-1}",
        "{\"op\":\"history\"}",
        "{\"op\":\"history\",\"conversationID\":\"alice\"}",
        "{\"op\":\"history\",\"conversationID\":\"C2C\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = it_ws_request(bob, "%s", bad[i]);
        if (!r || it_code(r) != 1003)
            fail_msg("%s: wanted 1003, got %s", bad[i], it_jshow(r));
        cJSON_Delete(r);
    }
}

static void test_rest_history_and_conversations(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *alice = it_login(s, "alice", "a1");
    send_n(alice, "bob", 1, 5);
    it_ws *carol = it_login(s, "carol", "c1");
    send_n(carol, "bob", 1, 1);

    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/bob/conversations?limit=100");
    /* "the conversations list of docs/protocol.md": data holds the list (as an array,
     * or as the WS op's {"conversations":[...]}). */
    const cJSON *arr = it_jget(j, "data");
    if (cJSON_IsObject(arr))
        arr = it_jget(arr, "conversations");
    if (!cJSON_IsArray(arr))
        fail_msg("REST conversations: no list in data: %s", it_jshow(j));
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    check_conv(cJSON_GetArrayItem(arr, 0), "C2Ccarol", "C2C", "carol", 1, 0, 1, "carol-1");
    check_conv(cJSON_GetArrayItem(arr, 1), "C2Calice", "C2C", "alice", 5, 0, 5, "alice-5");
    assert_string_equal(it_jstr(j, "action"), "get");
    assert_string_equal(it_jstr(j, "organization"), "demo");
    assert_string_equal(it_jstr(j, "applicationName"), "demo");
    cJSON_Delete(j);

    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/bob/conversations/C2Calice/messages?beforeSeq=0&limit=2");
    const cJSON *msgs = it_jget(j, "data.messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    assert_int_equal((int)it_jnum(j, "data.messages.0.seq", -1), 5);
    assert_int_equal((int)it_jnum(j, "data.messages.1.seq", -1), 4);
    assert_string_equal(it_jstr(j, "data.messages.0.payload.text"), "alice-5");
    assert_true(cJSON_IsTrue(it_jget(j, "data.more")));
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/bob/conversations/C2Calice/messages?beforeSeq=4&limit=20");
    assert_int_equal(cJSON_GetArraySize(it_jget(j, "data.messages")), 3);
    assert_int_equal((int)it_jnum(j, "data.messages.2.seq", -1), 1);
    assert_true(cJSON_IsFalse(it_jget(j, "data.more")));
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 400, "/demo/demo/users/bob/conversations/C2Calice/messages?limit=1000");
    assert_int_equal((int)it_jnum(j, "code", 0), 1003);
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 404, "/demo/demo/users/nobody/conversations");
    assert_int_equal((int)it_jnum(j, "code", 0), 20003);
    cJSON_Delete(j);

    /* A REST send is a message like any other: seq 6, bob's unread grows. */
    j = it_rest(s, "POST", "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"alice-6\"}}", 200,
                "/demo/demo/messages/users");
    const char *mid = it_jstr(j, "data.bob");
    assert_non_null(mid);
    assert_true(strspn(mid, "0123456789") == strlen(mid));
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/bob/conversations");
    arr = it_jget(j, "data");
    if (cJSON_IsObject(arr))
        arr = it_jget(arr, "conversations");
    check_conv(cJSON_GetArrayItem(arr, 0), "C2Calice", "C2C", "alice", 6, 0, 6, "alice-6");
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conversation_list, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_mark_read, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_history_paging, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_rest_history_and_conversations, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_conv", tests);
}
