/*
 * it_relay.c — getMessages, merger messages (TIMRelayElem) with downloadMerger, and
 * forwarding, against the real ternd (issue 10; docs/protocol.md §3 getMessages and
 * downloadMerger, §4 "Merger messages" and "Forwarding").
 *
 * Covered: getMessages returns what the user may see and lists the rest as notFound;
 * a merger embeds the stored objects of the messages it names; a message that was never
 * stored (unknown id, online-only) or that the sender cannot see is 1030, compatibleText
 * missing 1003, an unknown downloadKey 1031, an unknown key 1012; a big merger carries a
 * downloadKey and an empty list, and downloadMerger gives the list to a user who can see
 * the merger message (also after a restart) and 1009 to one who cannot; nesting past
 * 10 layers gives layersOverLimit; an online-only merger not embedded is 80002; forwarding a received text, location,
 * custom, image, inline merger (by someone outside the merged group) and big merger is
 * accepted, a tampered merger list is not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_media.h"

static void setup_world(it_server *s)
{
    static const char *const u[] = {"alice", "bob", "carol", "dave", "erin", NULL};
    it_create_users(s, u);
    static const char *const m[] = {"bob", "carol", NULL};
    it_create_group(s, "g1", "alice", m);
}

/* Sends msg (a message object text) from w; returns the response (caller frees). */
static cJSON *send_msg(it_ws *w, const char *msg)
{
    return it_ws_request(w, "{\"op\":\"send\",\"msg\":%s}", msg);
}

/* Sends and asserts success; copies the msgId. */
static void send_ok(it_ws *w, const char *msg, char *id, size_t idsz)
{
    cJSON *r = send_msg(w, msg);
    it_assert_code(r, 0);
    if (id)
        snprintf(id, idsz, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
}

static void send_err(it_ws *w, const char *msg, int code)
{
    cJSON *r = send_msg(w, msg);
    it_assert_code(r, code);
    cJSON_Delete(r);
}

static void text_to(it_ws *w, const char *kind, const char *to, const char *text, char *id, size_t idsz)
{
    char m[16384];
    snprintf(m, sizeof m,
             "{\"conversationType\":\"%s\",\"to\":\"%s\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"%s\"}}", kind,
             to, text);
    send_ok(w, m, id, idsz);
}

/* A merger message object to `to` (C2C) naming list (a JSON array text). */
static void merger_msg(char *out, size_t n, const char *to, const char *list)
{
    snprintf(out, n,
             "{\"conversationType\":\"C2C\",\"to\":\"%s\",\"type\":\"TIMRelayElem\",\"payload\":{\"messageList\":%s,"
             "\"title\":\"chat of g1\",\"abstractList\":[\"alice: hi\"],\"compatibleText\":\"upgrade to see\"}}",
             to, list);
}

/* Waits for the msg event on w and returns it (caller frees). */
static cJSON *next_msg(it_ws *w)
{
    cJSON *ev = it_ws_wait_event(w, "msg", IT_WAIT_MS);
    if (!ev)
        fail_msg("no msg event for %s", w->user);
    return ev;
}

static void test_get_messages(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL), *d = it_login(s, "dave", NULL);
    char c2c[32], grp[32], other[32];
    text_to(a, "C2C", "bob", "one", c2c, sizeof c2c);
    text_to(a, "GROUP", "g1", "two", grp, sizeof grp);
    text_to(d, "C2C", "erin", "three", other, sizeof other);
    cJSON *r = it_ws_request(b, "{\"op\":\"getMessages\",\"msgIds\":[\"%s\",\"%s\",\"%s\",\"123\"]}", c2c, grp, other);
    it_assert_code(r, 0);
    const cJSON *msgs = it_jget(r, "data.messages"), *nf = it_jget(r, "data.notFound");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    assert_string_equal(it_jstr(cJSON_GetArrayItem(msgs, 0), "payload.text"), "one");
    assert_string_equal(it_jstr(cJSON_GetArrayItem(msgs, 1), "msgId"), grp);
    assert_int_equal(cJSON_GetArraySize(nf), 2);
    assert_string_equal(cJSON_GetArrayItem(nf, 0)->valuestring, other);
    cJSON_Delete(r);
    /* dave is in neither conversation */
    r = it_ws_request(d, "{\"op\":\"getMessages\",\"msgIds\":[\"%s\",\"%s\"]}", c2c, grp);
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.messages")), 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.notFound")), 2);
    cJSON_Delete(r);
    r = it_ws_request(b, "{\"op\":\"getMessages\"}");
    it_assert_code(r, 1003);
    cJSON_Delete(r);
    r = it_ws_request(b, "{\"op\":\"getMessages\",\"msgIds\":[\"x1\"]}");
    it_assert_code(r, 1003);
    cJSON_Delete(r);
    char big[2048] = "[";
    for (int i = 0; i < 101; i++)
        strcat(big, i ? ",\"1\"" : "\"1\"");
    strcat(big, "]");
    r = it_ws_request(b, "{\"op\":\"getMessages\",\"msgIds\":%s}", big);
    it_assert_code(r, 1203);
    cJSON_Delete(r);
    it_ws_free(a);
    it_ws_free(b);
    it_ws_free(d);
}

static void test_merger_refusals(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL);
    char g[32], bc[32], m[4096], list[256];
    text_to(a, "GROUP", "g1", "hello group", g, sizeof g);
    text_to(b, "C2C", "carol", "private", bc, sizeof bc);
    /* unknown id */
    merger_msg(m, sizeof m, "dave", "[\"999\"]");
    send_err(a, m, 1030);
    /* bob and carol's C2C message: alice cannot see it */
    snprintf(list, sizeof list, "[\"%s\",\"%s\"]", g, bc);
    merger_msg(m, sizeof m, "dave", list);
    send_err(a, m, 1030);
    /* an online-only message is never stored: as if it failed */
    cJSON *r =
        it_ws_request(a, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":"
                         "\"TIMTextElem\",\"payload\":{\"text\":\"now\"}},\"options\":{\"onlineUserOnly\":true}}");
    it_assert_code(r, 0);
    snprintf(list, sizeof list, "[\"%s\"]", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
    merger_msg(m, sizeof m, "dave", list);
    send_err(a, m, 1030);
    /* shapes */
    send_err(a,
             "{\"conversationType\":\"C2C\",\"to\":\"dave\",\"type\":\"TIMRelayElem\",\"payload\":{\"messageList\":["
             "\"1\"]}}",
             1003);
    send_err(a,
             "{\"conversationType\":\"C2C\",\"to\":\"dave\",\"type\":\"TIMRelayElem\",\"payload\":{\"messageList\":[],"
             "\"compatibleText\":\"x\"}}",
             1003);
    send_err(
        a,
        "{\"conversationType\":\"C2C\",\"to\":\"dave\",\"type\":\"TIMRelayElem\",\"payload\":{\"messageList\":[\"1\"],"
        "\"compatibleText\":\"x\",\"extra\":1}}",
        1012);
    send_err(a,
             "{\"conversationType\":\"C2C\",\"to\":\"dave\",\"type\":\"TIMRelayElem\",\"payload\":{\"messageList\":[],"
             "\"compatibleText\":\"x\",\"downloadKey\":\"nothex\"}}",
             1003);
    send_err(a,
             "{\"conversationType\":\"C2C\",\"to\":\"dave\",\"type\":\"TIMRelayElem\",\"payload\":{\"messageList\":[],"
             "\"compatibleText\":\"x\",\"downloadKey\":"
             "\"00000000000000000000000000000000000000000000000000000000000000aa\"}}",
             1031);
    /* downloadMerger of a message that is no merger */
    r = it_ws_request(b, "{\"op\":\"downloadMerger\",\"msgId\":\"%s\"}", g);
    it_assert_code(r, 1031);
    cJSON_Delete(r);
    it_ws_free(a);
    it_ws_free(b);
}

static void test_merger_inline_and_forward(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL), *d = it_login(s, "dave", NULL), *e = it_login(s, "erin", NULL);
    char g1[32], g2[32], mid[32], m[16384], list[128];
    text_to(a, "GROUP", "g1", "first", g1, sizeof g1);
    text_to(a, "GROUP", "g1", "second", g2, sizeof g2);
    snprintf(list, sizeof list, "[\"%s\",{\"msgId\":\"%s\"}]", g1, g2);
    merger_msg(m, sizeof m, "dave", list);
    send_ok(a, m, mid, sizeof mid);
    cJSON *ev = next_msg(d);
    const cJSON *p = it_jget(ev, "data.payload");
    assert_string_equal(it_jstr(ev, "data.type"), "TIMRelayElem");
    assert_string_equal(it_jstr(p, "downloadKey"), "");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(p, "layersOverLimit")));
    assert_string_equal(it_jstr(p, "title"), "chat of g1");
    assert_string_equal(it_jstr(p, "compatibleText"), "upgrade to see");
    const cJSON *ml = cJSON_GetObjectItem(p, "messageList");
    assert_int_equal(cJSON_GetArraySize(ml), 2);
    assert_string_equal(it_jstr(cJSON_GetArrayItem(ml, 0), "payload.text"), "first");
    assert_string_equal(it_jstr(cJSON_GetArrayItem(ml, 1), "msgId"), g2);
    /* dave is no member of g1, yet forwards the merger he received to erin */
    char *pj = cJSON_PrintUnformatted(p);
    snprintf(m, sizeof m, "{\"conversationType\":\"C2C\",\"to\":\"erin\",\"type\":\"TIMRelayElem\",\"payload\":%s}",
             pj);
    send_ok(d, m, NULL, 0);
    cJSON *ev2 = next_msg(e);
    char *pj2 = cJSON_PrintUnformatted(it_jget(ev2, "data.payload"));
    assert_string_equal(pj, pj2);
    cJSON_free(pj2);
    cJSON_Delete(ev2);
    /* a tampered copy is not a list anyone stored */
    cJSON *bad = cJSON_Duplicate(p, 1);
    cJSON *first = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(bad, "messageList"), 0), "payload");
    cJSON_ReplaceItemInObject(first, "text", cJSON_CreateString("forged"));
    char *bj = cJSON_PrintUnformatted(bad);
    snprintf(m, sizeof m, "{\"conversationType\":\"C2C\",\"to\":\"erin\",\"type\":\"TIMRelayElem\",\"payload\":%s}",
             bj);
    send_err(d, m, 1030);
    cJSON_free(bj);
    cJSON_Delete(bad);
    cJSON_free(pj);
    /* downloadMerger of an inline merger answers its list too */
    cJSON *r = it_ws_request(d, "{\"op\":\"downloadMerger\",\"msgId\":\"%s\"}", mid);
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.messageList")), 2);
    cJSON_Delete(r);
    cJSON_Delete(ev);

    /* forwarding other types: the received payload sent again */
    char lid[32];
    send_ok(a,
            "{\"conversationType\":\"C2C\",\"to\":\"dave\",\"type\":\"TIMLocationElem\",\"payload\":{\"description\":"
            "\"quay\",\"longitude\":121.5,\"latitude\":31.25}}",
            lid, sizeof lid);
    text_to(a, "C2C", "dave", "plain", NULL, 0);
    send_ok(a,
            "{\"conversationType\":\"C2C\",\"to\":\"dave\",\"type\":\"TIMCustomElem\",\"payload\":{\"data\":\"d\","
            "\"description\":\"x\",\"extension\":\"e\"}}",
            NULL, 0);
    size_t png_n;
    uint8_t *png = make_png(64, 48, &png_n);
    it_http_resp up;
    int st = upload(s, "/demo/demo", it_app_token(s), "image/png", "p.png", (const char *)png, png_n, &up);
    free(png);
    if (st != 200 || !up.json)
        fail_msg("upload: %d", st);
    char img[256];
    snprintf(img, sizeof img,
             "{\"conversationType\":\"C2C\",\"to\":\"dave\",\"type\":\"TIMImageElem\",\"payload\":{\"uuid\":\"%s\"}}",
             it_jstr(up.json, "data.mediaId"));
    it_http_resp_free(&up);
    send_ok(a, img, NULL, 0);
    for (int i = 0; i < 4; i++) {
        cJSON *got = next_msg(d);
        char *payload = cJSON_PrintUnformatted(it_jget(got, "data.payload"));
        snprintf(m, sizeof m, "{\"conversationType\":\"C2C\",\"to\":\"erin\",\"type\":\"%s\",\"payload\":%s}",
                 it_jstr(got, "data.type"), payload);
        send_ok(d, m, NULL, 0);
        cJSON *fw = next_msg(e);
        char *p2 = cJSON_PrintUnformatted(it_jget(fw, "data.payload"));
        if (i == 3) { /* the image: completed again from its media row (the same media) */
            assert_string_equal(it_jstr(fw, "data.payload.uuid"), it_jstr(got, "data.payload.uuid"));
            assert_non_null(it_jget(fw, "data.payload.imageInfoArray"));
        } else {
            assert_string_equal(payload, p2);
        }
        assert_string_equal(it_jstr(fw, "data.from"), "dave");
        cJSON_free(p2);
        cJSON_free(payload);
        cJSON_Delete(fw);
        cJSON_Delete(got);
    }
    it_ws_free(a);
    it_ws_free(d);
    it_ws_free(e);
}

static void test_merger_big_download_restart(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL), *d = it_login(s, "dave", NULL);
    char text[3001], ids[4][32], list[256], m[4096], mid[32];
    memset(text, 'x', 3000);
    text[3000] = 0;
    for (int i = 0; i < 4; i++)
        text_to(a, "GROUP", "g1", text, ids[i], sizeof ids[i]);
    snprintf(list, sizeof list, "[\"%s\",\"%s\",\"%s\",\"%s\"]", ids[0], ids[1], ids[2], ids[3]);
    merger_msg(m, sizeof m, "dave", list);
    send_ok(a, m, mid, sizeof mid);
    /* not embedded, so never online-only: the list needs a stored message */
    cJSON *r = it_ws_request(a, "{\"op\":\"send\",\"msg\":%s,\"options\":{\"onlineUserOnly\":true}}", m);
    it_assert_code(r, 80002);
    cJSON_Delete(r);
    cJSON *ev = next_msg(d);
    const char *key = it_jstr(ev, "data.payload.downloadKey");
    assert_non_null(key);
    assert_int_equal(strlen(key), 64);
    assert_int_equal(cJSON_GetArraySize(it_jget(ev, "data.payload.messageList")), 0);
    char *pj = cJSON_PrintUnformatted(it_jget(ev, "data.payload"));
    cJSON_Delete(ev);
    r = it_ws_request(d, "{\"op\":\"downloadMerger\",\"msgId\":\"%s\"}", mid);
    it_assert_code(r, 0);
    const cJSON *ml = it_jget(r, "data.messageList");
    assert_int_equal(cJSON_GetArraySize(ml), 4);
    assert_string_equal(it_jstr(cJSON_GetArrayItem(ml, 3), "msgId"), ids[3]);
    assert_int_equal(strlen(it_jstr(cJSON_GetArrayItem(ml, 0), "payload.text")), 3000);
    cJSON_Delete(r);
    /* erin cannot see alice and dave's conversation; bob neither (he is in g1) */
    it_ws *e = it_login(s, "erin", NULL), *b = it_login(s, "bob", NULL);
    r = it_ws_request(e, "{\"op\":\"downloadMerger\",\"msgId\":\"%s\"}", mid);
    it_assert_code(r, 1009);
    cJSON_Delete(r);
    r = it_ws_request(b, "{\"op\":\"downloadMerger\",\"msgId\":\"%s\"}", mid);
    it_assert_code(r, 1009);
    cJSON_Delete(r);
    /* dave forwards the big one (its downloadKey) to erin, who can then download it */
    snprintf(m, sizeof m, "{\"conversationType\":\"C2C\",\"to\":\"erin\",\"type\":\"TIMRelayElem\",\"payload\":%s}",
             pj);
    char fid[32];
    send_ok(d, m, fid, sizeof fid);
    cJSON_free(pj);
    it_ws_free(a);
    it_ws_free(d);
    it_ws_free(e);
    it_ws_free(b);
    /* after a restart */
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    assert_int_equal(it_server_restart(s), 0);
    e = it_login(s, "erin", NULL);
    r = it_ws_request(e, "{\"op\":\"downloadMerger\",\"msgId\":\"%s\"}", fid);
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.messageList")), 4);
    cJSON_Delete(r);
    it_ws_free(e);
}

static void test_merger_nesting(void **state)
{
    it_server *s = *state;
    setup_world(s);
    it_ws *a = it_login(s, "alice", NULL);
    char prev[32], cur[32], m[4096], list[64];
    text_to(a, "C2C", "bob", "leaf", prev, sizeof prev);
    /* depth 1..10 embed; the 11th is over the limit */
    for (int depth = 1; depth <= 11; depth++) {
        snprintf(list, sizeof list, "[\"%s\"]", prev);
        merger_msg(m, sizeof m, "bob", list);
        send_ok(a, m, cur, sizeof cur);
        cJSON *r = it_ws_request(a, "{\"op\":\"getMessages\",\"msgIds\":[\"%s\"]}", cur);
        it_assert_code(r, 0);
        const cJSON *p = it_jget(cJSON_GetArrayItem(it_jget(r, "data.messages"), 0), "payload");
        int over = cJSON_IsTrue(cJSON_GetObjectItem(p, "layersOverLimit"));
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(p, "messageList"));
        if (over != (depth > 10) || n != (depth > 10 ? 0 : 1))
            fail_msg("depth %d: %s", depth, it_jshow(p));
        cJSON_Delete(r);
        snprintf(prev, sizeof prev, "%s", cur);
    }
    cJSON *r = it_ws_request(a, "{\"op\":\"downloadMerger\",\"msgId\":\"%s\"}", cur);
    it_assert_code(r, 1031);
    cJSON_Delete(r);
    it_ws_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_messages, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_merger_refusals, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_merger_inline_and_forward, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_merger_big_download_restart, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_merger_nesting, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_relay", tests);
}
