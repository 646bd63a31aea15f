/*
 * it_group.c — group messaging against a real ternd (docs/protocol.md §4 send/history,
 * §5 `conv` event; docs/rest-api.md Groups): fan-out to every session of every member
 * except the sending session, one seq sequence per group, errors for non-members
 * (10007 send, 1104 history) and unknown groups (10010), membership changes through
 * REST taking effect at once (with `conv` events), and dismissal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void setup_users_and_group(it_server *s)
{
    static const char *const u[] = {"alice", "bob", "carol", "dave", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"bob", "carol", NULL};
    it_create_group(s, "g1", "alice", members);
}

static void check_group_msg(const cJSON *ev, const char *msg_id, int64_t seq, const char *from, const char *group,
                            const char *text)
{
    const cJSON *m = it_jget(ev, "data");
    if (!m)
        fail_msg("no msg event (wanted seq %lld from %s)", (long long)seq, from);
    const char *mid = it_jstr(m, "msgId"), *f = it_jstr(m, "from"), *to = it_jstr(m, "to");
    const char *ct = it_jstr(m, "conversationType"), *t = it_jstr(m, "payload.text");
    if (!mid || (msg_id && strcmp(mid, msg_id)) || (int64_t)it_jnum(m, "seq", -1) != seq || !f || strcmp(f, from) ||
        !to || strcmp(to, group) || !ct || strcmp(ct, "GROUP") || !t || strcmp(t, text))
        fail_msg("group message mismatch: wanted %s seq %lld from %s to %s '%s', got %s", msg_id ? msg_id : "*",
                 (long long)seq, from, group, text, it_jshow(m));
}

/* Round-trips a ping so everything the server sent before is read, then counts msgs. */
static size_t msgs_after_ping(it_ws *w)
{
    cJSON *p = it_ws_request(w, "{\"op\":\"ping\"}");
    it_assert_code(p, 0);
    cJSON_Delete(p);
    it_ws_pump(w, 100);
    return it_ws_count_events(w, "msg");
}

static void test_group_fanout(void **state)
{
    it_server *s = *state;
    setup_users_and_group(s);
    it_ws *a1 = it_login(s, "alice", "a1");
    it_ws *a2 = it_login(s, "alice", "a2");
    it_ws *b1 = it_login(s, "bob", "b1");
    it_ws *b2 = it_login(s, "bob", "b2");
    it_ws *c1 = it_login(s, "carol", "c1");
    it_ws *d1 = it_login(s, "dave", "d1"); /* not a member */

    cJSON *r = it_send_text(a1, "GROUP", "g1", "hello group", "g-cm-1");
    it_assert_code(r, 0);
    assert_int_equal((int)it_jnum(r, "data.seq", -1), 1);
    assert_string_equal(it_jstr(r, "data.conversationID"), "GROUPg1");
    char mid[32];
    snprintf(mid, sizeof mid, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
    it_ws *rx[] = {a2, b1, b2, c1};
    for (int i = 0; i < 4; i++) {
        cJSON *ev = it_ws_wait_event(rx[i], "msg", IT_WAIT_MS);
        check_group_msg(ev, mid, 1, "alice", "g1", "hello group");
        assert_string_equal(it_jstr(ev, "data.clientMsgId"), "g-cm-1");
        cJSON_Delete(ev);
    }
    /* Other members' messages continue the group's seq. */
    assert_int_equal(it_send_text_ok(b2, "GROUP", "g1", "from bob", mid, sizeof mid), 2);
    assert_int_equal(it_send_text_ok(c1, "GROUP", "g1", "from carol", NULL, 0), 3);
    it_ws *rx2[] = {a1, a2, b1};
    for (int i = 0; i < 3; i++) {
        cJSON *ev = it_ws_wait_event(rx2[i], "msg", IT_WAIT_MS);
        check_group_msg(ev, mid, 2, "bob", "g1", "from bob");
        cJSON_Delete(ev);
        ev = it_ws_wait_event(rx2[i], "msg", IT_WAIT_MS);
        check_group_msg(ev, NULL, 3, "carol", "g1", "from carol");
        cJSON_Delete(ev);
    }
    cJSON *ev = it_ws_wait_event(c1, "msg", IT_WAIT_MS); /* carol got bob's, not her own */
    check_group_msg(ev, mid, 2, "bob", "g1", "from bob");
    cJSON_Delete(ev);
    ev = it_ws_wait_event(b2, "msg", IT_WAIT_MS); /* bob's b2 got carol's, not its own */
    check_group_msg(ev, NULL, 3, "carol", "g1", "from carol");
    cJSON_Delete(ev);
    it_ws *all[] = {a1, a2, b1, b2, c1, d1};
    for (int i = 0; i < 6; i++)
        if (msgs_after_ping(all[i]) != 0)
            fail_msg("connection %d holds %zu unexpected msg events", i, it_ws_count_events(all[i], "msg"));

    /* The conversation appears for members with the group's id. */
    r = it_ws_request(b1, "{\"op\":\"conversations\"}");
    it_assert_code(r, 0);
    assert_string_equal(it_jstr(r, "data.conversations.0.conversationID"), "GROUPg1");
    assert_string_equal(it_jstr(r, "data.conversations.0.type"), "GROUP");
    assert_int_equal((int)it_jnum(r, "data.conversations.0.lastSeq", -1), 3);
    /* bob sent seq 2, which moved his readSeq to 2: only carol's seq 3 is unread. */
    assert_int_equal((int)it_jnum(r, "data.conversations.0.readSeq", -1), 2);
    assert_int_equal((int)it_jnum(r, "data.conversations.0.unreadCount", -1), 1);
    cJSON_Delete(r);
    /* Members read the history. */
    r = it_ws_request(c1, "{\"op\":\"history\",\"conversationID\":\"GROUPg1\"}");
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.messages")), 3);
    assert_int_equal((int)it_jnum(r, "data.messages.0.seq", -1), 3);
    cJSON_Delete(r);
}

static void test_group_errors(void **state)
{
    it_server *s = *state;
    setup_users_and_group(s);
    it_ws *d1 = it_login(s, "dave", "d1");
    it_ws *a1 = it_login(s, "alice", "a1");

    cJSON *r = it_send_text(d1, "GROUP", "g1", "let me in", NULL);
    it_assert_code(r, 10007);
    cJSON_Delete(r);
    r = it_send_text(a1, "GROUP", "no-such-group", "anyone?", NULL);
    it_assert_code(r, 10010);
    cJSON_Delete(r);
    r = it_ws_request(d1, "{\"op\":\"history\",\"conversationID\":\"GROUPg1\"}");
    it_assert_code(r, 1104);
    cJSON_Delete(r);
    /* The failures stored nothing: alice's first message is seq 1. */
    assert_int_equal(it_send_text_ok(a1, "GROUP", "g1", "first", NULL, 0), 1);
    /* REST: a non-member `from` is 403/10007, an unknown group 404/10010. */
    it_http_resp hr;
    int st = it_http(s, "POST", "/demo/demo/messages/chatgroups", it_app_token(s),
                     "{\"from\":\"dave\",\"to\":[\"g1\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"}}", &hr);
    /* One recipient that failed: its error is in the map (HTTP status: no recipient succeeded). */
    const cJSON *e = it_jget(hr.json, "data.g1.code");
    if (!((st == 403 && it_jnum(hr.json, "code", 0) == 10007) || (cJSON_IsNumber(e) && e->valuedouble == 10007)))
        fail_msg("REST group send by a non-member: HTTP %d %s", st, hr.body ? hr.body : "");
    it_http_resp_free(&hr);
    cJSON *j = it_rest(s, "GET", NULL, 404, "/demo/demo/chatgroups/no-such-group");
    assert_int_equal((int)it_jnum(j, "code", 0), 10010);
    cJSON_Delete(j);
}

static void test_group_membership_changes(void **state)
{
    it_server *s = *state;
    setup_users_and_group(s);
    it_ws *a1 = it_login(s, "alice", "a1");
    it_ws *b1 = it_login(s, "bob", "b1");
    it_ws *d1 = it_login(s, "dave", "d1");

    /* Add dave: he gets `conv` joined, can send, and receives. */
    cJSON *j = it_rest(s, "POST", "{\"usernames\":[\"dave\"]}", 200, "/demo/demo/chatgroups/g1/users");
    assert_int_equal((int)it_jnum(j, "data.added", -1), 1);
    cJSON_Delete(j);
    cJSON *ev = it_ws_wait_event(d1, "conv", IT_WAIT_MS);
    if (!ev)
        fail_msg("dave: no conv event after being added to g1");
    assert_string_equal(it_jstr(ev, "data.conversationID"), "GROUPg1");
    assert_string_equal(it_jstr(ev, "data.reason"), "joined");
    cJSON_Delete(ev);
    assert_int_equal(it_send_text_ok(d1, "GROUP", "g1", "hi, dave here", NULL, 0), 1);
    ev = it_ws_wait_event(a1, "msg", IT_WAIT_MS);
    check_group_msg(ev, NULL, 1, "dave", "g1", "hi, dave here");
    cJSON_Delete(ev);
    assert_int_equal(it_send_text_ok(a1, "GROUP", "g1", "welcome", NULL, 0), 2);
    ev = it_ws_wait_event(d1, "msg", IT_WAIT_MS);
    check_group_msg(ev, NULL, 2, "alice", "g1", "welcome");
    cJSON_Delete(ev);
    for (int seq = 1; seq <= 2; seq++) { /* bob, still a member, got both */
        ev = it_ws_wait_event(b1, "msg", IT_WAIT_MS);
        assert_non_null(ev);
        assert_int_equal((int)it_jnum(ev, "data.seq", -1), seq);
        cJSON_Delete(ev);
    }

    /* Members list shows owner and members. */
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/chatgroups/g1/users");
    char *txt = cJSON_PrintUnformatted(j);
    int ok = txt && strstr(txt, "{\"owner\":\"alice\"}") && strstr(txt, "{\"member\":\"dave\"}") &&
             strstr(txt, "{\"member\":\"bob\"}");
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", txt ? txt : "");
    free(txt);
    cJSON_Delete(j);
    if (!ok)
        fail_msg("group members list: %s", copy);

    /* Remove bob: conv left, then he can't send (10007), doesn't receive, can't read history. */
    j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/chatgroups/g1/users/bob"); /* body: test_group_rest_shapes */
    cJSON_Delete(j);
    ev = it_ws_wait_event(b1, "conv", IT_WAIT_MS);
    if (!ev)
        fail_msg("bob: no conv event after being removed from g1");
    assert_string_equal(it_jstr(ev, "data.conversationID"), "GROUPg1");
    assert_string_equal(it_jstr(ev, "data.reason"), "left");
    cJSON_Delete(ev);
    it_ws_clear(b1);
    cJSON *r = it_send_text(b1, "GROUP", "g1", "still here?", NULL);
    it_assert_code(r, 10007);
    cJSON_Delete(r);
    assert_int_equal(it_send_text_ok(a1, "GROUP", "g1", "bob is gone", NULL, 0), 3);
    ev = it_ws_wait_event(d1, "msg", IT_WAIT_MS);
    check_group_msg(ev, NULL, 3, "alice", "g1", "bob is gone");
    cJSON_Delete(ev);
    r = it_ws_request(b1, "{\"op\":\"ping\"}");
    cJSON_Delete(r);
    it_ws_pump(b1, 200);
    assert_int_equal((int)it_ws_count_events(b1, "msg"), 0);
    r = it_ws_request(b1, "{\"op\":\"history\",\"conversationID\":\"GROUPg1\"}");
    it_assert_code(r, 1104);
    cJSON_Delete(r);

    /* Add bob back one by one (POST .../users/{username}): he can send again. */
    j = it_rest(s, "POST", NULL, 200, "/demo/demo/chatgroups/g1/users/bob"); /* body: test_group_rest_shapes */
    cJSON_Delete(j);
    ev = it_ws_wait_event(b1, "conv", IT_WAIT_MS);
    assert_non_null(ev);
    assert_string_equal(it_jstr(ev, "data.reason"), "joined");
    cJSON_Delete(ev);
    assert_int_equal(it_send_text_ok(b1, "GROUP", "g1", "back", NULL, 0), 4);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/bob/joined_chatgroups");
    txt = cJSON_PrintUnformatted(j);
    ok = txt && strstr(txt, "\"groupid\":\"g1\"");
    free(txt);
    cJSON_Delete(j);
    assert_true(ok);
}

static void test_group_dismiss(void **state)
{
    it_server *s = *state;
    setup_users_and_group(s);
    it_ws *a1 = it_login(s, "alice", "a1");
    it_ws *c1 = it_login(s, "carol", "c1");
    assert_int_equal(it_send_text_ok(a1, "GROUP", "g1", "last words", NULL, 0), 1);
    cJSON *ev = it_ws_wait_event(c1, "msg", IT_WAIT_MS);
    assert_non_null(ev);
    cJSON_Delete(ev);

    cJSON *j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/chatgroups/g1");
    assert_string_equal(it_jstr(j, "data.groupid"), "g1");
    assert_true(cJSON_IsTrue(it_jget(j, "data.success")));
    cJSON_Delete(j);
    ev = it_ws_wait_event(c1, "conv", IT_WAIT_MS);
    if (!ev)
        fail_msg("carol: no conv event after dismissal");
    assert_string_equal(it_jstr(ev, "data.conversationID"), "GROUPg1");
    assert_string_equal(it_jstr(ev, "data.reason"), "dismissed");
    cJSON_Delete(ev);

    cJSON *r = it_send_text(a1, "GROUP", "g1", "hello?", NULL);
    it_assert_code(r, 10010);
    cJSON_Delete(r);
    r = it_send_text(c1, "GROUP", "g1", "hello?", NULL);
    it_assert_code(r, 10010);
    cJSON_Delete(r);
    j = it_rest(s, "GET", NULL, 404, "/demo/demo/chatgroups/g1");
    assert_int_equal((int)it_jnum(j, "code", 0), 10010);
    cJSON_Delete(j);
}

/* The REST group endpoints answer with the data shapes of docs/rest-api.md. */
static void test_group_rest_shapes(void **state)
{
    it_server *s = *state;
    setup_users_and_group(s);
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/chatgroups/g1");
    if (strcmp(it_jstr(j, "data.groupid") ? it_jstr(j, "data.groupid") : "", "g1") ||
        strcmp(it_jstr(j, "data.owner") ? it_jstr(j, "data.owner") : "", "alice") || !it_jstr(j, "data.groupname") ||
        (int)it_jnum(j, "data.affiliations_count", -1) != 3)
        fail_msg(
            "GET /chatgroups/g1: wanted {groupid g1, groupname, owner alice, created, affiliations_count 3}, got %s",
            it_jshow(j));
    cJSON_Delete(j);
    j = it_rest(s, "POST", "{\"usernames\":[\"dave\"]}", 200, "/demo/demo/chatgroups/g1/users");
    if (strcmp(it_jstr(j, "data.groupid") ? it_jstr(j, "data.groupid") : "", "g1") ||
        (int)it_jnum(j, "data.added", -1) != 1)
        fail_msg("POST /chatgroups/g1/users: wanted data {groupid g1, added 1}, got %s", it_jshow(j));
    cJSON_Delete(j);
    j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/chatgroups/g1/users/bob");
    if (!cJSON_IsTrue(it_jget(j, "data.result")) || !it_jstr(j, "data.user") ||
        strcmp(it_jstr(j, "data.user"), "bob") || !it_jstr(j, "data.groupid"))
        fail_msg("DELETE /chatgroups/g1/users/bob: wanted data {groupid, user:bob, result:true}, got %s", it_jshow(j));
    cJSON_Delete(j);
    j = it_rest(s, "POST", NULL, 200, "/demo/demo/chatgroups/g1/users/bob");
    if (!cJSON_IsTrue(it_jget(j, "data.result")) || !it_jstr(j, "data.user") ||
        strcmp(it_jstr(j, "data.user"), "bob") || !it_jstr(j, "data.groupid"))
        fail_msg("POST /chatgroups/g1/users/bob: wanted data {groupid, user:bob, result:true}, got %s", it_jshow(j));
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_fanout, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_group_errors, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_group_membership_changes, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_group_dismiss, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_group_rest_shapes, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_group", tests);
}
