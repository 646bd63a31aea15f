/*
 * it_strict.c — the input defects of issue 7 that the core message model and the strict
 * JSON entry fix, against a real ternd, over WebSocket and REST:
 *   - request ids that cannot be echoed exactly (1e400, 1.5, -1, 2^53, 2^53 + 1, an
 *     object, an array, null, a 65-byte string) are refused with 1003 and no id;
 *   - trailing bytes after the object and invalid escapes are 1001;
 *   - a `to` of 65 bytes or with '/' is 1003 (was 20003);
 *   - a \u0000 in any string is 1003: clientMsgId "k\u0000one"/"k\u0000two" no longer
 *     collide, "bob\u0000evil" reaches nobody, text "a\u0000b" is not stored cut,
 *     REST username "eve\u0000x" creates nobody and from "alice\u0000zz" sends nothing;
 *   - conversationType "@TIM#SYSTEM" is 2106 (was 1003);
 *   - fields the server does not implement (receiverList, messageControlInfo,
 *     atUserList, offlinePushInfo, unknown options and keys) are 1012, never dropped;
 *   - the 12 KB rule counts cloudCustomData JSON-escaped: 12188 bytes of payload plus
 *     100 '"' is 80002.
 * Each case fails on the code before the fix (see the commit that added it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void users(it_server *s)
{
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
}

/* Sends text (no id added) and waits for the response with re `re`. */
static cJSON *raw_request(it_ws *w, const char *text, const char *re)
{
    if (it_ws_send_text(w, text) != 0)
        fail_msg("send failed: %s", text);
    return it_ws_wait_re(w, re, IT_WAIT_MS);
}

/* Sends text as is, with an id spliced in after its '{' (the harness's it_ws_request
 * goes through cJSON, which would cut the \u0000 these tests are about). */
static void expect_code(it_ws *w, int code, const char *text)
{
    static int64_t next = 1000000;
    int64_t id = next++;
    char *req = malloc(strlen(text) + 32);
    sprintf(req, "{\"id\":%lld,%s", (long long)id, text + 1);
    if (it_ws_send_text(w, req) != 0)
        fail_msg("send failed: %s", text);
    free(req);
    cJSON *r = it_ws_wait_response(w, id, IT_WAIT_MS);
    if (!r || it_code(r) != code)
        fail_msg("%s: wanted %d, got %s", text, code, it_jshow(r));
    cJSON_Delete(r);
}

static void test_ws_ids_and_syntax(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *alice = it_login(s, "alice", "a1");
    static const char *const bad_ids[] = {"1e400",
                                          "1.5",
                                          "-1",
                                          "{}",
                                          "[]",
                                          "null",
                                          "9007199254740992",
                                          "9007199254740993",
                                          "\"0123456789012345678901234567890123456789012345678901234567890123X\""};
    char req[256];
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        snprintf(req, sizeof req, "{\"op\":\"ping\",\"id\":%s}", bad_ids[i]);
        cJSON *r = raw_request(alice, req, "ping");
        if (!r || it_code(r) != 1003 || it_jget(r, "id"))
            fail_msg("id %s: wanted 1003 without id, got %s", bad_ids[i], it_jshow(r));
        cJSON_Delete(r);
    }
    /* The largest exact integer and a 64-byte string are echoed. */
    cJSON *r = raw_request(alice, "{\"op\":\"ping\",\"id\":9007199254740991}", "ping");
    it_assert_code(r, 0);
    assert_true(it_jnum(r, "id", -1) == 9007199254740991.0);
    cJSON_Delete(r);
    r = raw_request(
        alice, "{\"op\":\"ping\",\"id\":\"0123456789012345678901234567890123456789012345678901234567890123\"}", "ping");
    it_assert_code(r, 0);
    assert_int_equal(strlen(it_jstr(r, "id")), 64);
    cJSON_Delete(r);

    /* Trailing bytes and invalid escapes are malformed JSON (1001), not code 0. */
    static const char *const notjson[] = {"{\"op\":\"ping\",\"id\":1}xyz", "{\"op\":\"ping\",\"id\":\"\\u12G4\"}",
                                          "{\"op\":\"ping\",\"id\":\"\\x\"}", "{\"op\":\"ping\"} {}"};
    for (size_t i = 0; i < sizeof notjson / sizeof notjson[0]; i++) {
        r = raw_request(alice, notjson[i], "");
        if (!r || it_code(r) != 1001)
            fail_msg("%s: wanted 1001, got %s", notjson[i], it_jshow(r));
        cJSON_Delete(r);
    }
    /* Whitespace around the object is fine. */
    r = raw_request(alice, " \r\n{\"op\":\"ping\",\"id\":3}\n\t ", "ping");
    it_assert_code(r, 0);
    cJSON_Delete(r);
    it_ws_free(alice);
}

static void test_ws_send_fields(void **state)
{
    it_server *s = *state;
    users(s);
    static const char *const members[] = {"bob", NULL};
    it_create_group(s, "g1", "alice", members);
    it_ws *alice = it_login(s, "alice", "a1");
    it_ws *bob = it_login(s, "bob", "b1");

#define SEND(msg, extra) "{\"op\":\"send\",\"msg\":{" msg "}" extra "}"
#define TXT "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}"
    struct {
        int code;
        const char *req;
    } cases[] = {
        /* to: 65 bytes, or not an identifier: 1003 (was 20003). */
        {1003, SEND("\"conversationType\":\"C2C\",\"to\":"
                    "\"b1234567890123456789012345678901234567890123456789012345678901234\"," TXT,
                    "")},
        {1003, SEND("\"conversationType\":\"C2C\",\"to\":\"b/ob\"," TXT, "")},
        {1003, SEND("\"conversationType\":\"GROUP\",\"to\":\"g 1\"," TXT, "")},
        /* NUL in any string. */
        {1003, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\\u0000evil\"," TXT, "")},
        {1003, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT ",\"clientMsgId\":\"k\\u0000one\"", "")},
        {1003, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT ",\"clientMsgId\":\"k\\u0000two\"", "")},
        {1003, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
                    "\"payload\":{\"text\":\"a\\u0000b\"}",
                    "")},
        {1003, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT ",\"cloudCustomData\":\"\\u0000\"", "")},
        /* The system conversation, however it is named. */
        {2106, SEND("\"conversationType\":\"@TIM#SYSTEM\",\"to\":\"bob\"," TXT, "")},
        /* Not implemented: refused, never dropped. */
        {1012, SEND("\"conversationType\":\"GROUP\",\"to\":\"g1\"," TXT ",\"receiverList\":[\"bob\"]", "")},
        {1012, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT
                    ",\"messageControlInfo\":{\"excludedFromUnreadCount\":true}",
                    "")},
        {1012, SEND("\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\","
                    "\"payload\":{\"text\":\"@bob\",\"atUserList\":[\"bob\"]}",
                    "")},
        {1012, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT, ",\"options\":{\"offlinePushInfo\":{}}")},
        /* Seed 001, note 5: onlineUserOnly and messageControlInfo never together. */
        {1013, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT,
                    ",\"options\":{\"onlineUserOnly\":true,\"messageControlInfo\":{}}")},
        {1012, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT,
                    ",\"options\":{\"messageControlInfo\":{\"excludedFromUnreadCount\":true,\"x\":1}}")},
        {1003,
         SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT, ",\"options\":{\"offlinePushInfo\":{\"title\":1}}")},
        /* Targeted messages exist in groups only. */
        {1020, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT ",\"receiverList\":[\"bob\"]", "")},
        {1003, SEND("\"conversationType\":\"GROUP\",\"to\":\"g1\"," TXT ",\"receiverList\":[\"bob\",\"bob\"]", "")},
        {1012, SEND("\"conversationType\":\"GROUP\",\"to\":\"g1\"," TXT, ",\"receiverList\":[\"bob\"]")},
        {1012, SEND("\"conversationType\":\"C2C\",\"to\":\"bob\"," TXT ",\"isSupportExtension\":true", "")},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_code(alice, cases[i].code, cases[i].req);

    /* The 12 KB measure: 12188 bytes of payload + 100 '"' (200 escaped) is over. */
    size_t n = 12188 - 11;
    char *big = malloc(n + 1024);
    int off = sprintf(big, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\","
                           "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"");
    memset(big + off, 'a', n);
    char *p = big + off + n;
    p += sprintf(p, "\"},\"cloudCustomData\":\"");
    for (int i = 0; i < 100; i++)
        p += sprintf(p, "\\\"");
    strcpy(p, "\"}}");
    expect_code(alice, 80002, big);
    free(big);

    /* Nothing above reached bob or a history; the next message is seq 1 and intact. */
    assert_int_equal(it_send_text_ok(alice, "C2C", "bob", "after", NULL, 0), 1);
    cJSON *ev = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
    assert_non_null(ev);
    assert_string_equal(it_jstr(ev, "data.payload.text"), "after");
    cJSON_Delete(ev);
    assert_int_equal(it_ws_count_events(bob, "msg"), 0);
    /* The group saw nothing either. */
    cJSON *h = it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"GROUPg1\"}");
    it_assert_code(h, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(h, "data.messages")), 0);
    cJSON_Delete(h);
    it_ws_free(alice);
    it_ws_free(bob);
}

static void rest_expect(it_server *s, const char *method, const char *path, const char *body, int status, int code)
{
    it_http_resp r;
    int st = it_http(s, method, path, it_app_token(s), body, &r);
    int ok = st == status && (!code || (int)it_jnum(r.json, "code", -1) == code);
    char msg[1200];
    snprintf(msg, sizeof msg, "%s %s %s: wanted %d/%d, got %d %.600s", method, path, body ? body : "", status, code, st,
             r.body ? r.body : "");
    it_http_resp_free(&r);
    if (!ok)
        fail_msg("%s", msg);
}

static void test_rest_strict(void **state)
{
    it_server *s = *state;
    users(s);
    /* A NUL in a username creates nobody (was: "eve"). */
    rest_expect(s, "POST", "/demo/demo/users", "{\"username\":\"eve\\u0000x\"}", 400, 1003);
    rest_expect(s, "GET", "/demo/demo/users/eve", NULL, 404, 20003);
    /* A NUL in `from` sends nothing (was: sent as alice). */
    rest_expect(s, "POST", "/demo/demo/messages/users",
                "{\"from\":\"alice\\u0000zz\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"hi\"}}", 400, 1003);
    rest_expect(s, "POST", "/demo/demo/messages/users",
                "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"a\\u0000b\"}}", 400, 1003);
    /* Trailing bytes and bad escapes: 1001. */
    rest_expect(s, "POST", "/demo/demo/users", "{\"username\":\"zed\"}xyz", 400, 1001);
    rest_expect(s, "POST", "/demo/demo/users", "{\"username\":\"\\u12G4\"}", 400, 1001);
    /* Easemob fields the server does not implement: 1012. */
    rest_expect(s, "POST", "/demo/demo/messages/users",
                "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"hi\"},"
                "\"roam_ignore_users\":[\"bob\"]}",
                400, 1012); /* (routetype and sync_device are implemented since issue 8) */
    rest_expect(s, "POST", "/demo/demo/messages/users",
                "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"hi\",\"x\":1}}", 400, 1012);
    /* A recipient that is no identifier: 1003 (was 20003). */
    rest_expect(s, "POST", "/demo/demo/messages/users",
                "{\"from\":\"alice\",\"to\":\"b/ob\",\"type\":\"txt\",\"body\":{\"msg\":\"hi\"}}", 400, 1003);
    /* None of it stored a message: bob's conversation with alice is empty. */
    cJSON *h = it_rest(s, "GET", NULL, 200, "/demo/demo/users/bob/conversations/C2Calice/messages");
    assert_int_equal(cJSON_GetArraySize(it_jget(h, "data.messages")), 0);
    cJSON_Delete(h);
    cJSON *ok = it_rest(s, "POST", "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"txt\",\"body\":{\"msg\":\"fine\"}}",
                        200, "/demo/demo/messages/users");
    assert_non_null(it_jstr(ok, "data.bob"));
    cJSON_Delete(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ws_ids_and_syntax, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_ws_send_fields, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_rest_strict, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_strict", tests);
}
