/*
 * it_easemob_messages.c — Easemob-compatible sends against a real ternd
 * (docs/rest-api.md "Messages"): txt, loc, custom and cmd delivered live and kept in
 * history as TIMTextElem / TIMLocationElem / TIMCustomElem; sync_device (the sender's
 * sessions get a C2C message only when true; group messages always); routetype
 * ROUTE_ONLINE (delivered to whoever is online, never stored); the `to` limits with
 * Easemob's texts (600 users, 3 groups); the refusals (an unknown type 1008, media bodies 1003/7006, unknown keys 1012,
 * bad values 1003); and a location sent over WebSocket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void users(it_server *s)
{
    static const char *const u[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, u);
}

/* Round-trips a ping so everything sent before it is read, then counts msg events. */
static size_t msgs_after_ping(it_ws *w)
{
    cJSON *p = it_ws_request(w, "{\"op\":\"ping\"}");
    it_assert_code(p, 0);
    cJSON_Delete(p);
    it_ws_pump(w, 200);
    return it_ws_count_events(w, "msg");
}

/* POSTs a C2C send from alice to bob with this type/body and returns bob's msg event. */
static cJSON *send_and_receive(it_server *s, it_ws *bob, const char *type, const char *body)
{
    char req[1024];
    snprintf(req, sizeof req, "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"%s\",\"body\":%s}", type, body);
    cJSON *j = it_rest(s, "POST", req, 200, "/demo/demo/messages/users");
    const char *mid = it_jstr(j, "data.bob");
    if (!mid)
        fail_msg("%s: no msgId for bob in %s", type, it_jshow(j));
    char want[32];
    snprintf(want, sizeof want, "%s", mid);
    cJSON_Delete(j);
    cJSON *ev = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
    if (!ev || !it_jstr(ev, "data.msgId") || strcmp(it_jstr(ev, "data.msgId"), want))
        fail_msg("%s: bob got %s, wanted msgId %s", type, it_jshow(ev), want);
    return ev;
}

static void test_types(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *bob = it_login(s, "bob", "b1");
    cJSON *ev = send_and_receive(s, bob, "txt", "{\"msg\":\"hi\"}");
    assert_string_equal(it_jstr(ev, "data.type"), "TIMTextElem");
    assert_string_equal(it_jstr(ev, "data.payload.text"), "hi");
    cJSON_Delete(ev);

    /* loc: Easemob sends strings; stored as numbers with addr as description. */
    ev = send_and_receive(s, bob, "loc", "{\"lat\":\"39.916527\",\"lng\":\"116.397128\",\"addr\":\"Beijing\"}");
    assert_string_equal(it_jstr(ev, "data.type"), "TIMLocationElem");
    assert_string_equal(it_jstr(ev, "data.payload.description"), "Beijing");
    assert_true(it_jnum(ev, "data.payload.latitude", 0) == 39.916527);
    assert_true(it_jnum(ev, "data.payload.longitude", 0) == 116.397128);
    cJSON_Delete(ev);

    ev = send_and_receive(s, bob, "custom", "{\"customEvent\":\"gift\",\"customExts\":{\"n\":\"3\"}}");
    assert_string_equal(it_jstr(ev, "data.type"), "TIMCustomElem");
    assert_string_equal(it_jstr(ev, "data.payload.data"), "gift");
    assert_string_equal(it_jstr(ev, "data.payload.description"), "custom");
    assert_string_equal(it_jstr(ev, "data.payload.extension"), "{\"n\":\"3\"}");
    cJSON_Delete(ev);

    ev = send_and_receive(s, bob, "cmd", "{\"action\":\"typing\"}");
    assert_string_equal(it_jstr(ev, "data.type"), "TIMCustomElem");
    assert_string_equal(it_jstr(ev, "data.payload.data"), "typing");
    assert_string_equal(it_jstr(ev, "data.payload.description"), "cmd");
    assert_string_equal(it_jstr(ev, "data.payload.extension"), "");
    cJSON_Delete(ev);

    /* All four are in history, in order. */
    cJSON *h = it_rest(s, "GET", NULL, 200, "/demo/demo/users/bob/conversations/C2Calice/messages?limit=10");
    const cJSON *msgs = it_jget(h, "data.messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 4);
    assert_string_equal(it_jstr(cJSON_GetArrayItem(msgs, 2), "type"), "TIMLocationElem"); /* newest first */
    cJSON_Delete(h);

    /* A group gets the same types. */
    static const char *const m[] = {"bob", NULL};
    it_create_group(s, "g1", "alice", m);
    cJSON *j =
        it_rest(s, "POST",
                "{\"from\":\"alice\",\"to\":[\"g1\"],\"type\":\"loc\",\"body\":{\"lat\":\"-33.8\",\"lng\":\"151.2\","
                "\"addr\":\"Sydney\"},\"ext\":{\"k\":1}}",
                200, "/demo/demo/messages/chatgroups");
    assert_non_null(it_jstr(j, "data.g1"));
    cJSON_Delete(j);
    ev = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
    assert_string_equal(it_jstr(ev, "data.payload.description"), "Sydney");
    assert_string_equal(it_jstr(ev, "data.cloudCustomData"), "{\"k\":1}");
    cJSON_Delete(ev);

    /* A location sent over WebSocket: the element is the protocol's too. */
    it_ws *alice = it_login(s, "alice", "a1");
    cJSON *r = it_ws_request(alice, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":"
                                    "\"TIMLocationElem\",\"payload\":{\"description\":\"x\",\"longitude\":1.5,"
                                    "\"latitude\":-2}}}");
    it_assert_code(r, 0);
    cJSON_Delete(r);
    ev = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
    assert_true(it_jnum(ev, "data.payload.longitude", 0) == 1.5);
    cJSON_Delete(ev);
    r = it_ws_request(alice, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":"
                             "\"TIMLocationElem\",\"payload\":{\"longitude\":181,\"latitude\":0}}}");
    it_assert_code(r, 1003);
    cJSON_Delete(r);
}

static void test_sync_device_and_route_online(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *alice = it_login(s, "alice", "a1");
    it_ws *bob = it_login(s, "bob", "b1");
    /* Without sync_device (and with false) the sender's sessions do not get it. */
    static const char *const no_sync[] = {
        "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"1\"}}",
        "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"2\"},\"sync_device\":false}",
    };
    for (int i = 0; i < 2; i++) {
        cJSON_Delete(it_rest(s, "POST", no_sync[i], 200, "/demo/demo/messages/users"));
        cJSON *ev = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
        assert_non_null(ev);
        cJSON_Delete(ev);
    }
    if (msgs_after_ping(alice) != 0) {
        cJSON *e = it_ws_wait_event(alice, "msg", 0);
        fail_msg("sync_device false: the sender's session got %s", it_jshow(e));
    }
    /* With true they do. */
    cJSON_Delete(it_rest(s, "POST",
                         "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"3\"},"
                         "\"sync_device\":true}",
                         200, "/demo/demo/messages/users"));
    cJSON *ev = it_ws_wait_event(alice, "msg", IT_WAIT_MS);
    if (!ev || strcmp(it_jstr(ev, "data.payload.text"), "3"))
        fail_msg("sync_device true: sender got %s", it_jshow(ev));
    cJSON_Delete(ev);
    cJSON_Delete(it_ws_wait_event(bob, "msg", IT_WAIT_MS));
    /* Group messages always reach the sender's sessions (Easemob). */
    static const char *const m[] = {"bob", NULL};
    it_create_group(s, "g1", "alice", m);
    it_ws_clear(alice);
    cJSON_Delete(it_rest(s, "POST", "{\"from\":\"alice\",\"to\":\"g1\",\"type\":\"txt\",\"body\":{\"msg\":\"g\"}}", 200,
                         "/demo/demo/messages/chatgroups"));
    ev = it_ws_wait_event(alice, "msg", IT_WAIT_MS);
    assert_non_null(ev);
    cJSON_Delete(ev);
    cJSON_Delete(it_ws_wait_event(bob, "msg", IT_WAIT_MS));

    /* ROUTE_ONLINE: online bob gets it (onlineOnly, seq 0); nothing is stored, so
     * offline carol never sees it and bob's history does not hold it. */
    cJSON *j = it_rest(s, "POST",
                       "{\"from\":\"alice\",\"to\":[\"bob\",\"carol\"],\"type\":\"cmd\",\"body\":{\"action\":\"ring\"},"
                       "\"routetype\":\"ROUTE_ONLINE\"}",
                       200, "/demo/demo/messages/users");
    assert_non_null(it_jstr(j, "data.bob"));
    assert_non_null(it_jstr(j, "data.carol"));
    cJSON_Delete(j);
    ev = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
    if (!ev || !cJSON_IsTrue(it_jget(ev, "data.onlineOnly")) || it_jnum(ev, "data.seq", -1) != 0 ||
        strcmp(it_jstr(ev, "data.payload.data"), "ring"))
        fail_msg("ROUTE_ONLINE: bob got %s", it_jshow(ev));
    cJSON_Delete(ev);
    cJSON *h = it_rest(s, "GET", NULL, 200, "/demo/demo/users/bob/conversations/C2Calice/messages?limit=10");
    assert_int_equal(cJSON_GetArraySize(it_jget(h, "data.messages")), 3);
    cJSON_Delete(h);
    h = it_rest(s, "GET", NULL, 200, "/demo/demo/users/carol/conversations");
    const cJSON *convs = it_jget(h, "data");
    if (cJSON_IsObject(convs))
        convs = it_jget(convs, "conversations");
    if (!cJSON_IsArray(convs) || cJSON_GetArraySize(convs) != 0)
        fail_msg("ROUTE_ONLINE stored something for carol: %s", it_jshow(h));
    cJSON_Delete(h);
}

/* A refused POST with the app token. */
static void expect(it_server *s, const char *path, const char *body, int status, int code, const char *desc)
{
    it_expect_error(s, "POST", path, it_app_token(s), body, status, code, NULL, desc);
}

static void test_limits_and_refusals(void **state)
{
    it_server *s = *state;
    users(s);
    static const char *const u = "/demo/demo/messages/users", *const g = "/demo/demo/messages/chatgroups";
    static const struct {
        const char *body;
        int status, code;
    } cases[] = {
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"sticker\",\"body\":{\"url\":\"x\"}}", 400, 1008},
        /* Media bodies (it_media_msg.c has the rest): no url, a url naming no id. */
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"file\",\"body\":{}}", 400, 1003},
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"img\",\"body\":{\"url\":\"x\"}}", 404, 7006},
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"},\"roam_ignore_users\":[]}",
         400, 1012},
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"},\"routetype\":\"ROUTE_ALL\"}",
         400, 1003},
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"},\"sync_device\":1}", 400,
         1003},
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"loc\",\"body\":{\"lat\":\"95\",\"lng\":\"0\"}}", 400, 1003},
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"custom\",\"body\":{\"customEvent\":\"a b\"}}", 400, 1003},
        {"{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"cmd\",\"body\":{\"action\":\"x\",\"y\":1}}", 400, 1012},
        {"{\"from\":\"\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"}}", 400, 1003},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect(s, u, cases[i].body, cases[i].status, cases[i].code, NULL);
    /* to: at most 600 users (600 is no limit error: they just do not exist) and 3 groups. */
    static char body[16384];
    for (int lim = 600; lim <= 601; lim++) {
        int n = snprintf(body, sizeof body, "{\"from\":\"alice\",\"type\":\"txt\",\"body\":{\"msg\":\"x\"},\"to\":[");
        for (int i = 0; i < lim; i++)
            n += snprintf(body + n, sizeof body - (size_t)n, "%s\"n%d\"", i ? "," : "", i);
        snprintf(body + n, sizeof body - (size_t)n, "]}");
        if (lim == 600)
            expect(s, u, body, 404, 20003, NULL);
        else
            expect(s, u, body, 400, 1203, "params to's size can't exceed limit 600");
    }
    expect(s, g, "{\"from\":\"alice\",\"to\":[\"a\",\"b\",\"c\",\"d\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"}}", 400,
           1203, "params to's size can't exceed limit 3");
    expect(s, g, "{\"from\":\"alice\",\"to\":[\"a\",\"b\",\"c\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"}}", 404,
           10010, NULL);
}

int main(void)
{
    it_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_types, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_sync_device_and_route_online, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_limits_and_refusals, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_easemob_messages", tests);
}
