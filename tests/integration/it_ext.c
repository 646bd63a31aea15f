/*
 * it_ext.c — message extensions (isSupportExtension; extSet, extDelete, extGet and the
 * `ext` event) against the real ternd (issue 10; docs/protocol.md §3 "Message
 * extensions").
 *
 * Covered: set, get, delete with versions; a stale version fails that item with 23001
 * and the current value and version while the others apply; the `ext` event reaches
 * the conversation's other members online (group) and both sides (C2C) and not a
 * non-member; the refusals (not visible 1009, no isSupportExtension 1035, key or value
 * too long 1034, too many items 1203, extMaxKeys 1033, bad shapes 1003); a race of two
 * connections writing one key with the same version: exactly one wins, every round;
 * the extensions survive a restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void setup_world(it_server *s)
{
    static const char *const u[] = {"alice", "bob", "carol", "dave", NULL};
    it_create_users(s, u);
    static const char *const m[] = {"bob", "carol", NULL};
    it_create_group(s, "g1", "alice", m);
}

/* Sends a text with isSupportExtension (ext 1) or without; copies its msgId. */
static void send_text(it_ws *w, const char *kind, const char *to, int ext, char *id, size_t idsz)
{
    cJSON *r = it_ws_request(w,
                             "{\"op\":\"send\",\"msg\":{\"conversationType\":\"%s\",\"to\":\"%s\",\"type\":"
                             "\"TIMTextElem\",\"payload\":{\"text\":\"t\"}%s}}",
                             kind, to, ext ? ",\"isSupportExtension\":true" : "");
    it_assert_code(r, 0);
    snprintf(id, idsz, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
}

/* The result item of key in an extSet/extDelete answer. */
static const cJSON *result_of(const cJSON *r, const char *key)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, it_jget(r, "data.results"))
    {
        if (!strcmp(it_jstr(e, "key"), key))
            return e;
    }
    fail_msg("no result for %s in %s", key, it_jshow(r));
    return NULL;
}

static void test_ext_basic(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL), *d = it_login(s, "dave", NULL);
    char id[32], plain[32];
    send_text(a, "GROUP", "g1", 1, id, sizeof id);
    send_text(a, "GROUP", "g1", 0, plain, sizeof plain);
    cJSON *ev = it_ws_wait_event(b, "msg", IT_WAIT_MS);
    assert_true(cJSON_IsTrue(it_jget(ev, "data.isSupportExtension")));
    cJSON_Delete(ev);
    it_ws_clear(a);
    it_ws_clear(b);

    cJSON *r = it_ws_request(b,
                             "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"k1\",\"value\":\"v1\"},"
                             "{\"key\":\"k2\",\"value\":\"v2\",\"version\":0}]}",
                             id);
    it_assert_code(r, 0);
    assert_int_equal(it_jnum(result_of(r, "k1"), "code", -1), 0);
    assert_int_equal(it_jnum(result_of(r, "k1"), "version", -1), 1);
    assert_int_equal(it_jnum(result_of(r, "k2"), "version", -1), 1);
    cJSON_Delete(r);
    ev = it_ws_wait_event(a, "ext", IT_WAIT_MS);
    assert_non_null(ev);
    assert_string_equal(it_jstr(ev, "data.conversationID"), "GROUPg1");
    assert_string_equal(it_jstr(ev, "data.msgId"), id);
    assert_int_equal(cJSON_GetArraySize(it_jget(ev, "data.changes")), 2);
    cJSON_Delete(ev);
    assert_int_equal(it_ws_count_events(b, "ext"), 0); /* the writer got the answer */

    /* a stale version: that item fails with the current value, the other applies */
    r = it_ws_request(a,
                      "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"k1\",\"value\":\"late\","
                      "\"version\":0},{\"key\":\"k3\",\"value\":\"v3\"}]}",
                      id);
    it_assert_code(r, 0);
    const cJSON *k1 = result_of(r, "k1");
    assert_int_equal(it_jnum(k1, "code", -1), 23001);
    assert_string_equal(it_jstr(k1, "value"), "v1");
    assert_int_equal(it_jnum(k1, "version", -1), 1);
    assert_int_equal(it_jnum(result_of(r, "k3"), "code", -1), 0);
    cJSON_Delete(r);
    ev = it_ws_wait_event(b, "ext", IT_WAIT_MS);
    assert_int_equal(cJSON_GetArraySize(it_jget(ev, "data.changes")), 1); /* only k3 */
    cJSON_Delete(ev);

    /* delete with the right version; the key's version keeps growing */
    r = it_ws_request(b, "{\"op\":\"extDelete\",\"msgId\":\"%s\",\"keys\":[\"k1\"],\"versions\":[1]}", id);
    it_assert_code(r, 0);
    assert_int_equal(it_jnum(result_of(r, "k1"), "version", -1), 2);
    cJSON_Delete(r);
    ev = it_ws_wait_event(a, "ext", IT_WAIT_MS);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(it_jget(ev, "data.changes"), 0), "value")));
    cJSON_Delete(ev);
    r = it_ws_request(a, "{\"op\":\"extGet\",\"msgId\":\"%s\"}", id);
    it_assert_code(r, 0);
    const cJSON *x = it_jget(r, "data.extensions");
    assert_int_equal(cJSON_GetArraySize(x), 2);
    assert_string_equal(it_jstr(cJSON_GetArrayItem(x, 0), "key"), "k2");
    assert_string_equal(it_jstr(cJSON_GetArrayItem(x, 1), "value"), "v3");
    cJSON_Delete(r);
    /* re-created after the delete: version 0 is stale now */
    r = it_ws_request(
        a, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"k1\",\"value\":\"a\",\"version\":0}]}", id);
    assert_int_equal(it_jnum(result_of(r, "k1"), "code", -1), 23001);
    cJSON_Delete(r);

    /* refusals */
    r = it_ws_request(d, "{\"op\":\"extGet\",\"msgId\":\"%s\"}", id);
    it_assert_code(r, 1009);
    cJSON_Delete(r);
    r = it_ws_request(d, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"k\",\"value\":\"v\"}]}", id);
    it_assert_code(r, 1009);
    cJSON_Delete(r);
    r = it_ws_request(a, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"k\",\"value\":\"v\"}]}", plain);
    it_assert_code(r, 1035);
    cJSON_Delete(r);
    char longkey[128];
    memset(longkey, 'k', 101);
    longkey[101] = 0;
    r = it_ws_request(a, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"%s\",\"value\":\"v\"}]}", id,
                      longkey);
    it_assert_code(r, 1034);
    cJSON_Delete(r);
    char longval[1100];
    memset(longval, 'v', 1025);
    longval[1025] = 0;
    r = it_ws_request(a, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"k\",\"value\":\"%s\"}]}", id,
                      longval);
    it_assert_code(r, 1034);
    cJSON_Delete(r);
    char items[2048] = "";
    for (int i = 0; i < 21; i++)
        snprintf(items + strlen(items), sizeof items - strlen(items), "%s{\"key\":\"i%d\",\"value\":\"v\"}",
                 i ? "," : "", i);
    r = it_ws_request(a, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[%s]}", id, items);
    it_assert_code(r, 1203);
    cJSON_Delete(r);
    r = it_ws_request(a,
                      "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"k\",\"value\":\"v\"},"
                      "{\"key\":\"k\",\"value\":\"w\"}]}",
                      id);
    it_assert_code(r, 1003);
    cJSON_Delete(r);
    r = it_ws_request(a, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"k\",\"value\":1}]}", id);
    it_assert_code(r, 1003);
    cJSON_Delete(r);
    r = it_ws_request(a, "{\"op\":\"extDelete\",\"msgId\":\"%s\",\"keys\":[\"k2\"],\"versions\":[1,2]}", id);
    it_assert_code(r, 1003);
    cJSON_Delete(r);
    it_ws_free(a);
    it_ws_free(b);
    it_ws_free(d);
}

/* A private (receiverList) group message with extensions: its extension events reach
 * its sender and receivers only; the other members, who never see the message, get no
 * `ext` event, and cannot read or set its extensions (1009). */
static void test_ext_private(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL), *c = it_login(s, "carol", NULL);
    cJSON *r = it_ws_request(a, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":"
                                "\"TIMTextElem\",\"payload\":{\"text\":\"for bob\"},\"isSupportExtension\":true,"
                                "\"receiverList\":[\"bob\"]}}");
    it_assert_code(r, 0);
    char id[32];
    snprintf(id, sizeof id, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
    cJSON *ev = it_ws_wait_event(b, "msg", IT_WAIT_MS);
    cJSON_Delete(ev);
    r = it_ws_request(b, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"secret\",\"value\":\"v\"}]}",
                      id);
    it_assert_code(r, 0);
    cJSON_Delete(r);
    ev = it_ws_wait_event(a, "ext", IT_WAIT_MS); /* the sender hears of it */
    assert_non_null(ev);
    cJSON_Delete(ev);
    /* carol: answers after the extension's event would have come */
    r = it_ws_request(c, "{\"op\":\"extGet\",\"msgId\":\"%s\"}", id);
    it_assert_code(r, 1009);
    cJSON_Delete(r);
    r = it_ws_request(c, "{\"op\":\"ping\"}");
    cJSON_Delete(r);
    assert_int_equal(it_ws_count_events(c, "ext"), 0);
    assert_int_equal(it_ws_count_events(c, "msg"), 0);
    it_ws_free(a);
    it_ws_free(b);
    it_ws_free(c);
}

/* The same over REST with the app token (rest/extensions.c): set, a stale version,
 * get, delete, the events to every member's session, the refusals, and a private
 * message's audience. */
static void test_ext_rest(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL), *c = it_login(s, "carol", NULL);
    char id[32], plain[32];
    send_text(a, "GROUP", "g1", 1, id, sizeof id);
    send_text(a, "GROUP", "g1", 0, plain, sizeof plain);
    it_ws_clear(a);
    it_ws_clear(b);
    it_ws_clear(c);

    cJSON *r = it_rest(s, "PUT", "{\"items\":[{\"key\":\"votes\",\"value\":\"1\"},{\"key\":\"k2\",\"value\":\"v2\"}]}",
                       200, "/demo/demo/messages/%s/extensions", id);
    assert_string_equal(it_jstr(r, "data.msgId"), id);
    assert_int_equal(it_jnum(result_of(r, "votes"), "code", -1), 0);
    assert_int_equal(it_jnum(result_of(r, "votes"), "version", -1), 1);
    cJSON_Delete(r);
    it_ws *all[3] = {a, b, c};
    for (int i = 0; i < 3; i++) { /* the app is no session: every member hears */
        cJSON *ev = it_ws_wait_event(all[i], "ext", IT_WAIT_MS);
        assert_non_null(ev);
        assert_string_equal(it_jstr(ev, "data.conversationID"), "GROUPg1");
        assert_int_equal(cJSON_GetArraySize(it_jget(ev, "data.changes")), 2);
        cJSON_Delete(ev);
    }
    /* compare-and-set: version 0 is stale; the item carries the current value */
    r = it_rest(s, "PUT", "{\"items\":[{\"key\":\"votes\",\"value\":\"9\",\"version\":0}]}", 200,
                "/demo/demo/messages/%s/extensions", id);
    assert_int_equal(it_jnum(result_of(r, "votes"), "code", -1), 23001);
    assert_string_equal(it_jstr(result_of(r, "votes"), "value"), "1");
    cJSON_Delete(r);
    r = it_rest(s, "PUT", "{\"items\":[{\"key\":\"votes\",\"value\":\"2\",\"version\":1}]}", 200,
                "/demo/demo/messages/%s/extensions", id);
    assert_int_equal(it_jnum(result_of(r, "votes"), "version", -1), 2);
    cJSON_Delete(r);
    /* a user's WebSocket write and the REST read agree */
    r = it_ws_request(b, "{\"op\":\"extDelete\",\"msgId\":\"%s\",\"keys\":[\"k2\"]}", id);
    it_assert_code(r, 0);
    cJSON_Delete(r);
    r = it_rest(s, "GET", NULL, 200, "/demo/demo/messages/%s/extensions", id);
    const cJSON *x = it_jget(r, "data.extensions");
    assert_int_equal(cJSON_GetArraySize(x), 1);
    assert_string_equal(it_jstr(cJSON_GetArrayItem(x, 0), "key"), "votes");
    assert_string_equal(it_jstr(cJSON_GetArrayItem(x, 0), "value"), "2");
    cJSON_Delete(r);
    r = it_rest(s, "DELETE", "{\"keys\":[\"votes\"],\"versions\":[2]}", 200, "/demo/demo/messages/%s/extensions", id);
    assert_int_equal(it_jnum(result_of(r, "votes"), "version", -1), 3);
    cJSON_Delete(r);
    r = it_ws_request(c, "{\"op\":\"extGet\",\"msgId\":\"%s\"}", id);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.extensions")), 0);
    cJSON_Delete(r);

    /* refusals */
    char path[128];
    snprintf(path, sizeof path, "/demo/demo/messages/%s/extensions", plain);
    cJSON_Delete(it_rest(s, "PUT", "{\"items\":[{\"key\":\"k\",\"value\":\"v\"}]}", 400, "%s", path));
    cJSON_Delete(it_rest(s, "GET", NULL, 400, "%s", path)); /* 1035 */
    cJSON_Delete(it_rest(s, "GET", NULL, 404, "/demo/demo/messages/999/extensions"));
    cJSON_Delete(it_rest(s, "GET", NULL, 400, "/demo/demo/messages/abc/extensions"));
    cJSON_Delete(it_rest(s, "GET", NULL, 400, "/demo/demo/messages/0123/extensions"));
    cJSON_Delete(it_rest(s, "GET", NULL, 400, "/demo/demo/messages/99999999999999999999999/extensions"));
    cJSON_Delete(it_rest(s, "PUT", "{\"items\":[{\"key\":\"k\",\"value\":\"v\"}],\"extra\":1}", 400,
                         "/demo/demo/messages/%s/extensions", id));
    cJSON_Delete(it_rest(s, "PUT", "{\"items\":[]}", 400, "/demo/demo/messages/%s/extensions", id));
    cJSON_Delete(it_rest(s, "DELETE", "{\"keys\":[\"a\"],\"versions\":[1,2]}", 400,
                         "/demo/demo/messages/%s/extensions", id));
    it_expect_error(s, "GET", "/demo/demo/messages/1/extensions", "not-a-token", NULL, 401, 0, NULL, NULL);

    /* a private message: only its sender and receivers hear of a REST change */
    r = it_ws_request(a, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":"
                         "\"TIMTextElem\",\"payload\":{\"text\":\"for bob\"},\"isSupportExtension\":true,"
                         "\"receiverList\":[\"bob\"]}}");
    it_assert_code(r, 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
    it_ws_clear(c);
    cJSON_Delete(it_rest(s, "PUT", "{\"items\":[{\"key\":\"k\",\"value\":\"v\"}]}", 200,
                         "/demo/demo/messages/%s/extensions", pid));
    cJSON *ev = it_ws_wait_event(b, "ext", IT_WAIT_MS);
    assert_non_null(ev);
    cJSON_Delete(ev);
    ev = it_ws_wait_event(a, "ext", IT_WAIT_MS);
    assert_non_null(ev);
    cJSON_Delete(ev);
    cJSON_Delete(it_ws_request(c, "{\"op\":\"ping\"}"));
    assert_int_equal(it_ws_count_events(c, "ext"), 0);
    it_ws_free(a);
    it_ws_free(b);
    it_ws_free(c);
}

static void test_ext_c2c_and_max_keys(void **state)
{
    it_server *s = *state;
    setup_world(s);
    cJSON *j = it_rest(s, "PUT", "{\"extMaxKeys\":2}", 200, "/demo/demo/settings");
    cJSON_Delete(j);
    it_ws *a = it_login(s, "alice", NULL), *a2 = it_login(s, "alice", "second"), *b = it_login(s, "bob", NULL),
          *c = it_login(s, "carol", NULL);
    char id[32];
    send_text(a, "C2C", "bob", 1, id, sizeof id);
    cJSON *r = it_ws_request(b,
                             "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"a\",\"value\":\"1\"},"
                             "{\"key\":\"b\",\"value\":\"2\"},{\"key\":\"c\",\"value\":\"3\"}]}",
                             id);
    it_assert_code(r, 0);
    assert_int_equal(it_jnum(result_of(r, "c"), "code", -1), 1033);
    cJSON_Delete(r);
    /* both of alice's sessions get the event, as seen from her side */
    it_ws *as[2] = {a, a2};
    for (int i = 0; i < 2; i++) {
        cJSON *ev = it_ws_wait_event(as[i], "ext", IT_WAIT_MS);
        assert_non_null(ev);
        assert_string_equal(it_jstr(ev, "data.conversationID"), "C2Cbob");
        assert_int_equal(cJSON_GetArraySize(it_jget(ev, "data.changes")), 2);
        cJSON_Delete(ev);
    }
    /* a delete frees room for another key */
    r = it_ws_request(a, "{\"op\":\"extDelete\",\"msgId\":\"%s\",\"keys\":[\"a\"]}", id);
    it_assert_code(r, 0);
    cJSON_Delete(r);
    r = it_ws_request(a, "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"c\",\"value\":\"3\"}]}", id);
    assert_int_equal(it_jnum(result_of(r, "c"), "code", -1), 0);
    cJSON_Delete(r);
    cJSON *ev = it_ws_wait_event(b, "ext", IT_WAIT_MS);
    assert_string_equal(it_jstr(ev, "data.conversationID"), "C2Calice");
    cJSON_Delete(ev);
    it_ws_pump(c, 200);
    assert_int_equal(it_ws_count_events(c, "ext"), 0);
    it_ws_free(a);
    it_ws_free(a2);
    it_ws_free(b);
    it_ws_free(c);
}

static void test_ext_race_and_restart(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL);
    char id[32];
    send_text(a, "GROUP", "g1", 1, id, sizeof id);
    for (int round = 0; round < 30; round++) {
        int64_t ia = it_ws_send_req(a,
                                    "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"n\",\"value\":\"a%d\","
                                    "\"version\":%d}]}",
                                    id, round, round);
        int64_t ib = it_ws_send_req(b,
                                    "{\"op\":\"extSet\",\"msgId\":\"%s\",\"items\":[{\"key\":\"n\",\"value\":\"b%d\","
                                    "\"version\":%d}]}",
                                    id, round, round);
        cJSON *ra = it_ws_wait_response(a, ia, IT_WAIT_MS), *rb = it_ws_wait_response(b, ib, IT_WAIT_MS);
        it_assert_code(ra, 0);
        it_assert_code(rb, 0);
        int ca = (int)it_jnum(result_of(ra, "n"), "code", -1), cb = (int)it_jnum(result_of(rb, "n"), "code", -1);
        if (!((ca == 0 && cb == 23001) || (ca == 23001 && cb == 0)))
            fail_msg("round %d: %s / %s", round, it_jshow(ra), it_jshow(rb));
        /* the loser sees the winner's value and the new version */
        const cJSON *lose = ca ? result_of(ra, "n") : result_of(rb, "n");
        assert_int_equal(it_jnum(lose, "version", -1), round + 1);
        assert_int_equal(it_jstr(lose, "value")[0], ca ? 'b' : 'a');
        cJSON_Delete(ra);
        cJSON_Delete(rb);
    }
    it_ws_free(a);
    it_ws_free(b);
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    assert_int_equal(it_server_restart(s), 0);
    b = it_login(s, "bob", NULL);
    cJSON *r = it_ws_request(b, "{\"op\":\"extGet\",\"msgId\":\"%s\"}", id);
    it_assert_code(r, 0);
    assert_int_equal(it_jnum(cJSON_GetArrayItem(it_jget(r, "data.extensions"), 0), "version", -1), 30);
    cJSON_Delete(r);
    it_ws_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ext_basic, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_ext_private, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_ext_rest, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_ext_c2c_and_max_keys, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_ext_race_and_restart, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_ext", tests);
}
