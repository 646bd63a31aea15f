/*
 * it_delivery.c — every push goes through delivery → bus, checked from outside against
 * a real ternd that runs as cluster node 7 with two I/O loops: the session id carries the
 * node id above the connection id, so excluding "the sending session" only works if the
 * exclusion is by session id end to end. One user's second device must get what the
 * first one caused — its C2C and group messages, its read position — but the first
 * must not get its own; both devices get a group event and a kick (close 4003).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NODE 7

static int setup_node(void **state)
{
    it_watchdog(120);
    static const char *const args[] = {"--node-id", "7", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

/* Sends a ping and reads for a while, so anything already queued for w has arrived. */
static void settle(it_ws *w)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"ping\"}");
    it_assert_code(r, 0);
    cJSON_Delete(r);
    it_ws_pump(w, 200);
}

static void expect_msg(it_ws *w, const char *who, const char *from, const char *text)
{
    cJSON *ev = it_ws_wait_event(w, "msg", IT_WAIT_MS);
    if (!ev)
        fail_msg("%s: no msg event for '%s'", who, text);
    const char *f = it_jstr(ev, "data.from"), *t = it_jstr(ev, "data.payload.text");
    if (!f || strcmp(f, from) || !t || strcmp(t, text))
        fail_msg("%s: wanted '%s' from %s, got %s", who, text, from, it_jshow(ev));
    cJSON_Delete(ev);
}

static void test_session_id_carries_node(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", NULL};
    it_create_users(s, u);
    it_ws *a1 = it_login(s, "alice", "a1");
    it_ws *a2 = it_login(s, "alice", "a2");
    char *end;
    unsigned long long id1 = strtoull(a1->session_id, &end, 10);
    assert_true(*a1->session_id && !*end);
    unsigned long long id2 = strtoull(a2->session_id, &end, 10);
    assert_true(*a2->session_id && !*end);
    if (id1 >> 53 != NODE || id2 >> 53 != NODE || id1 == id2)
        fail_msg("session ids %s and %s: wanted distinct ids with node %d in bits 53..62", a1->session_id,
                 a2->session_id, NODE);
    it_ws_free(a1);
    it_ws_free(a2);
}

static void test_other_device_gets_it(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"carol", NULL};
    it_create_group(s, "g1", "bob", members);
    it_ws *a1 = it_login(s, "alice", "a1");
    it_ws *a2 = it_login(s, "alice", "a2");
    it_ws *b1 = it_login(s, "bob", "b1");
    it_ws *c1 = it_login(s, "carol", "c1");

    /* C2C: the peer and the sender's other device, not the sending session. */
    assert_int_equal(it_send_text_ok(a1, "C2C", "bob", "hello bob", NULL, 0), 1);
    expect_msg(b1, "bob", "alice", "hello bob");
    expect_msg(a2, "alice's other device", "alice", "hello bob");
    settle(a1);
    assert_int_equal((int)it_ws_count_events(a1, "msg"), 0);

    /* Read sync: the other device learns the read position, the reader does not. */
    cJSON *r = it_ws_request(a1, "{\"op\":\"read\",\"conversationID\":\"C2Cbob\",\"seq\":1}");
    it_assert_code(r, 0);
    cJSON_Delete(r);
    cJSON *ev = it_ws_wait_event(a2, "read", IT_WAIT_MS);
    if (!ev)
        fail_msg("a2: no read event");
    assert_string_equal(it_jstr(ev, "data.conversationID"), "C2Cbob");
    assert_int_equal((int)it_jnum(ev, "data.readSeq", -1), 1);
    cJSON_Delete(ev);
    settle(a1);
    assert_int_equal((int)it_ws_count_events(a1, "read"), 0);

    /* Group event (REST add): every device of the added user. */
    cJSON *j = it_rest(s, "POST", "{\"usernames\":[\"alice\"]}", 200, "/demo/demo/chatgroups/g1/users");
    cJSON_Delete(j);
    it_ws *both[2] = {a1, a2};
    for (int i = 0; i < 2; i++) {
        ev = it_ws_wait_event(both[i], "conv", IT_WAIT_MS);
        if (!ev)
            fail_msg("alice's device %d: no conv event after being added to g1", i + 1);
        assert_string_equal(it_jstr(ev, "data.conversationID"), "GROUPg1");
        assert_string_equal(it_jstr(ev, "data.reason"), "joined");
        cJSON_Delete(ev);
    }

    /* Group message: every member's sessions but the sending one. */
    assert_int_equal(it_send_text_ok(a1, "GROUP", "g1", "hi group", NULL, 0), 1);
    expect_msg(b1, "bob", "alice", "hi group");
    expect_msg(c1, "carol", "alice", "hi group");
    expect_msg(a2, "alice's other device", "alice", "hi group");
    settle(a1);
    assert_int_equal((int)it_ws_count_events(a1, "msg"), 0);

    /* Kick (REST delete): both devices get `kicked`, then close 4003; bob stays. */
    j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/alice");
    cJSON_Delete(j);
    for (int i = 0; i < 2; i++) {
        ev = it_ws_wait_event(both[i], "kicked", IT_WAIT_MS);
        if (!ev)
            fail_msg("alice's device %d: no kicked event", i + 1);
        assert_int_equal((int)it_jnum(ev, "data.code", -1), 1106);
        cJSON_Delete(ev);
        int code = 0;
        if (it_ws_expect_close(both[i], IT_WAIT_MS, &code) != 0)
            fail_msg("alice's device %d was not closed", i + 1);
        assert_int_equal(code, 4003);
    }
    settle(b1);
    assert_int_equal((int)it_ws_count_events(b1, "kicked"), 0);
    it_ws_free(a1);
    it_ws_free(a2);
    it_ws_free(b1);
    it_ws_free(c1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_id_carries_node, setup_node, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_other_device_gets_it, setup_node, it_teardown_default),
    };
    return it_run_tests("it_delivery", tests);
}
