/*
 * it_stream.c — streamed messages (Easemob seed 002) against a real ternd:
 * POST /{org}/{app}/stream_message/chatgroup and /users: the seed's two curl examples,
 * every code of its error table with its text and Easemob's error body, the live
 * `stream` events in seq order on two members, the message assembled once in history
 * (and in the conversation list), a reconnect mid-stream with no gap and no duplicate,
 * kill -9 mid-stream and restart, the rate limit, the group limit, a group that does not
 * exist, racing chunks with one seq, invalid UTF-8 and oversize chunks, C2C perspective.
 * Limits are shortened by settings only where a test must wait for them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GROUP_PATH "/demo/demo/stream_message/chatgroup"
#define USER_PATH "/demo/demo/stream_message/users"

static void setup_group(it_server *s)
{
    static const char *const u[] = {"alice", "bob", "carol", "dave", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"bob", "carol", NULL};
    it_create_group(s, "g1", "alice", members);
}

/* POSTs body to path with the app token; returns the status, the answer in *out. */
static int post(it_server *s, const char *path, const char *body, it_http_resp *out)
{
    return it_http(s, "POST", path, it_app_token(s), body, out);
}

/* A chunk that must succeed: returns its msgId in mid (32 bytes). */
static void chunk_ok(it_server *s, const char *path, const char *body, char *mid)
{
    it_http_resp r;
    int st = post(s, path, body, &r);
    if (st != 200 || !it_jstr(r.json, "data.msgId"))
        fail_msg("POST %s %s: wanted 200 with data.msgId, got %d %s", path, body, st, r.body ? r.body : "");
    if (mid)
        snprintf(mid, 32, "%s", it_jstr(r.json, "data.msgId"));
    it_http_resp_free(&r);
}

/* A chunk that must fail with HTTP status and code, with Easemob's error body. */
static void chunk_err(it_server *s, const char *path, const char *body, int status, int code, const char *text)
{
    it_http_resp r;
    int st = post(s, path, body, &r);
    if (st != status || !r.json || (int)it_jnum(r.json, "error_code", -1) != code ||
        (int)it_jnum(r.json, "code", -1) != code)
        fail_msg("POST %s %s: wanted %d error_code %d, got %d %s", path, body, status, code, st, r.body ? r.body : "");
    if (text && (!it_jstr(r.json, "error_description") || strcmp(it_jstr(r.json, "error_description"), text)))
        fail_msg("code %d: wanted error_description '%s', got %s", code, text, r.body);
    if (code >= 14001 && code <= 14100 &&
        (!it_jstr(r.json, "error") || strcmp(it_jstr(r.json, "error"), "message_send_error") ||
         !it_jstr(r.json, "exception") || strcmp(it_jstr(r.json, "exception"), "MessageSendException") ||
         !it_jget(r.json, "timestamp") || !it_jget(r.json, "duration")))
        fail_msg("code %d: wanted Easemob's message_send_error body, got %s", code, r.body);
    it_http_resp_free(&r);
}

static char *fmt_body(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_body(const char *fmt, ...)
{
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ & 3];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof buf[0], fmt, ap);
    va_end(ap);
    return b;
}

/* The one message of conversation conv in user's history (asserts there is exactly one). */
static cJSON *only_message(it_ws *w, const char *conv)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"history\",\"conversationID\":\"%s\",\"limit\":10}", conv);
    it_assert_code(r, 0);
    const cJSON *msgs = it_jget(r, "data.messages");
    if (cJSON_GetArraySize(msgs) != 1)
        fail_msg("history of %s: wanted exactly one message, got %s", conv, it_jshow(r));
    cJSON *m = cJSON_Duplicate(cJSON_GetArrayItem(msgs, 0), 1);
    cJSON_Delete(r);
    return m;
}

/* Checks the next `stream` event of w. */
static void expect_event(it_ws *w, const char *mid, int seq, int prev, const char *text, const char *state)
{
    cJSON *ev = it_ws_wait_event(w, "stream", IT_WAIT_MS);
    const cJSON *d = it_jget(ev, "data");
    if (!d || strcmp(it_jstr(d, "msgId") ? it_jstr(d, "msgId") : "", mid) || (int)it_jnum(d, "seq", -9) != seq ||
        (int)it_jnum(d, "prevSeq", -9) != prev || strcmp(it_jstr(d, "text") ? it_jstr(d, "text") : "-", text) ||
        strcmp(it_jstr(d, "state") ? it_jstr(d, "state") : "", state))
        fail_msg("wanted stream event %s seq %d prev %d '%s' %s, got %s", mid, seq, prev, text, state, it_jshow(ev));
    cJSON_Delete(ev);
}

/* ---- the seed's examples, live order, assembled history ------------------------------ */

static void test_seed_examples_and_live_order(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *b = it_login(s, "bob", "b1");
    it_ws *c = it_login(s, "carol", "c1");
    /* Seed 002's first example, verbatim but for ids and the comma it lacks before ext. */
    const char *first = "{\n"
                        "    \"from\": \"222\",\n"
                        "    \"to\": \"g1\",\n"
                        "    \"body\": {\n"
                        "        \"msg\": \"第一个分片\",\n"
                        "        \"seq\": 0,\n"
                        "        \"type\": \"markdown\"\n"
                        "    },\n"
                        "    \"ext\": {\n"
                        "    }\n"
                        "}";
    it_http_resp r;
    assert_int_equal(post(s, GROUP_PATH, first, &r), 200);
    /* The seed's envelope. */
    const char *mid0 = it_jstr(r.json, "data.msgId");
    assert_non_null(mid0);
    for (const char *p = mid0; *p; p++)
        assert_true(*p >= '0' && *p <= '9');
    assert_string_equal(it_jstr(r.json, "path"), "/stream_message/chatgroup");
    assert_string_equal(it_jstr(r.json, "action"), "post");
    assert_string_equal(it_jstr(r.json, "organization"), "demo");
    assert_string_equal(it_jstr(r.json, "applicationName"), "demo");
    assert_non_null(it_jstr(r.json, "application"));
    assert_non_null(strstr(it_jstr(r.json, "uri"), "/demo/demo/stream_message/chatgroup"));
    assert_true(it_jnum(r.json, "timestamp", 0) > 1.7e12);
    assert_non_null(it_jget(r.json, "duration"));
    char mid[32];
    snprintf(mid, sizeof mid, "%s", mid0);
    it_http_resp_free(&r);

    /* The second example, with that msgId. */
    char *second = fmt_body("{\n"
                            "    \"from\": \"222\",\n"
                            "    \"to\": \"g1\",\n"
                            "    \"body\": {\n"
                            "        \"msgId\": \"%s\",\n"
                            "        \"msg\": \"第二个分片,finish。\",\n"
                            "        \"seq\": 1,\n"
                            "        \"finish\": true,\n"
                            "        \"finishReason\": 0,\n"
                            "        \"type\": \"markdown\"\n"
                            "    }\n"
                            "}",
                            mid);
    char mid2[32];
    chunk_ok(s, GROUP_PATH, second, mid2);
    assert_string_equal(mid, mid2);

    /* Both members saw both chunks, in order, the first with the whole message. */
    it_ws *rx[] = {b, c};
    for (int i = 0; i < 2; i++) {
        cJSON *ev = it_ws_wait_event(rx[i], "stream", IT_WAIT_MS);
        const cJSON *d = it_jget(ev, "data");
        if (!d || strcmp(it_jstr(d, "msgId"), mid) || (int)it_jnum(d, "seq", -9) != 0 ||
            (int)it_jnum(d, "prevSeq", -9) != -1 || strcmp(it_jstr(d, "text"), "第一个分片") ||
            strcmp(it_jstr(d, "format"), "markdown") || strcmp(it_jstr(d, "conversationID"), "GROUPg1") ||
            strcmp(it_jstr(d, "from"), "222") || strcmp(it_jstr(d, "state"), "open") ||
            !cJSON_IsObject(it_jget(d, "ext")) || strcmp(it_jstr(d, "message.msgId"), mid) ||
            (int)it_jnum(d, "message.seq", -1) != 1 || strcmp(it_jstr(d, "message.stream.state"), "open"))
            fail_msg("first chunk event: %s", it_jshow(ev));
        cJSON_Delete(ev);
        ev = it_ws_wait_event(rx[i], "stream", IT_WAIT_MS);
        d = it_jget(ev, "data");
        if (!d || (int)it_jnum(d, "seq", -9) != 1 || (int)it_jnum(d, "prevSeq", -9) != 0 ||
            strcmp(it_jstr(d, "text"), "第二个分片,finish。") || strcmp(it_jstr(d, "state"), "finished") ||
            (int)it_jnum(d, "finishReason", -9) != 0 || it_jget(d, "message"))
            fail_msg("last chunk event: %s", it_jshow(ev));
        cJSON_Delete(ev);
        assert_int_equal((int)it_ws_count_events(rx[i], "msg"), 0);
    }
    /* One message in history with the whole text, stored once. */
    cJSON *m = only_message(b, "GROUPg1");
    if (strcmp(it_jstr(m, "msgId"), mid) || strcmp(it_jstr(m, "payload.text"), "第一个分片第二个分片,finish。") ||
        strcmp(it_jstr(m, "type"), "TIMTextElem") || strcmp(it_jstr(m, "stream.format"), "markdown") ||
        strcmp(it_jstr(m, "stream.state"), "finished") || (int)it_jnum(m, "stream.lastSeq", -1) != 1 ||
        (int)it_jnum(m, "stream.finishReason", -1) != 0 || strcmp(it_jstr(m, "from"), "222"))
        fail_msg("assembled message: %s", it_jshow(m));
    cJSON_Delete(m);
    /* One unread message, and the conversation's last message. */
    cJSON *cv = it_ws_request(c, "{\"op\":\"conversations\"}");
    it_assert_code(cv, 0);
    const cJSON *e0 = cJSON_GetArrayItem(it_jget(cv, "data.conversations"), 0);
    if (!e0 || (int)it_jnum(e0, "unreadCount", -1) != 1 || strcmp(it_jstr(e0, "lastMessage.msgId"), mid) ||
        strcmp(it_jstr(e0, "lastMessage.payload.text"), "第一个分片第二个分片,finish。"))
        fail_msg("conversation list: %s", it_jshow(cv));
    cJSON_Delete(cv);
    /* A chunk after finish. */
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"222\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"x\",\"seq\":2}}", mid),
              400, 14035, "stream message has already finished");
    it_ws_free(b);
    it_ws_free(c);
}

/* The seed's two curl commands as printed, but for the host, org, app, token and ids
 * (and the comma the first one lacks before "ext"), run by curl itself. */
static void test_seed_curl_verbatim(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *b = it_login(s, "bob", "b1");
    static char cmd[4096], out[4096];
    snprintf(cmd, sizeof cmd,
             "curl -s -L 'http://127.0.0.1:%d/demo/demo/stream_message/chatgroup' \\\n"
             "-H 'Content-Type: application/json' \\\n"
             "-H 'Accept: application/json' \\\n"
             "-H 'Authorization: Bearer %s' \\\n"
             "-d '{\n"
             "    \"from\": \"222\",\n"
             "    \"to\": \"g1\",\n"
             "    \"body\": {\n"
             "        \"msg\": \"第一个分片\",\n"
             "        \"seq\": 0,\n"
             "        \"type\": \"markdown\"\n"
             "    },\n"
             "    \"ext\": {\n"
             "    }\n"
             "}'",
             s->port, it_app_token(s));
    assert_int_equal(it_run_capture(cmd, out, sizeof out), 0);
    cJSON *j = cJSON_Parse(out);
    if (!j || !it_jstr(j, "data.msgId") || strcmp(it_jstr(j, "action"), "post"))
        fail_msg("first curl: %s", out);
    char mid[32];
    snprintf(mid, sizeof mid, "%s", it_jstr(j, "data.msgId"));
    cJSON_Delete(j);
    snprintf(cmd, sizeof cmd,
             "curl -s -L 'http://127.0.0.1:%d/demo/demo/stream_message/chatgroup' \\\n"
             "-H 'Content-Type: application/json' \\\n"
             "-H 'Accept: application/json' \\\n"
             "-H 'Authorization: Bearer %s' \\\n"
             "-d '{\n"
             "    \"from\": \"222\",\n"
             "    \"to\": \"g1\",\n"
             "    \"body\": {\n"
             "        \"msgId\": \"%s\",\n"
             "        \"msg\": \"第二个分片,finish。\",\n"
             "        \"seq\": 1,\n"
             "        \"finish\": true,\n"
             "        \"finishReason\": 0,\n"
             "        \"type\": \"markdown\"\n"
             "    }\n"
             "}'",
             s->port, it_app_token(s), mid);
    assert_int_equal(it_run_capture(cmd, out, sizeof out), 0);
    j = cJSON_Parse(out);
    if (!j || !it_jstr(j, "data.msgId") || strcmp(it_jstr(j, "data.msgId"), mid))
        fail_msg("second curl: %s", out);
    cJSON_Delete(j);
    cJSON *m = only_message(b, "GROUPg1");
    assert_string_equal(it_jstr(m, "payload.text"), "第一个分片第二个分片,finish。");
    assert_string_equal(it_jstr(m, "stream.state"), "finished");
    cJSON_Delete(m);
    it_ws_free(b);
}

/* A single chunk with seq 0 and finish is a whole message; ext is the message's. */
static void test_single_chunk_and_ext(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *b = it_login(s, "bob", "b1");
    char mid[32];
    chunk_ok(s, GROUP_PATH,
             "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"all at once\",\"seq\":0,\"finish\":true,"
             "\"finishReason\":7},\"ext\":{\"k\":\"v\",\"n\":1}}",
             mid);
    cJSON *ev = it_ws_wait_event(b, "stream", IT_WAIT_MS);
    if (strcmp(it_jstr(ev, "data.state"), "finished") || (int)it_jnum(ev, "data.finishReason", -1) != 7 ||
        strcmp(it_jstr(ev, "data.ext.k"), "v") || strcmp(it_jstr(ev, "data.format"), "text"))
        fail_msg("single chunk event: %s", it_jshow(ev));
    cJSON_Delete(ev);
    cJSON *m = only_message(b, "GROUPg1");
    if (strcmp(it_jstr(m, "payload.text"), "all at once") || strcmp(it_jstr(m, "stream.state"), "finished") ||
        strcmp(it_jstr(m, "cloudCustomData"), "{\"k\":\"v\",\"n\":1}"))
        fail_msg("single chunk message: %s", it_jshow(m));
    cJSON_Delete(m);
    it_ws_free(b);
}

/* ---- the error table --------------------------------------------------------------------- */

static void test_error_table(void **state)
{
    it_server *s = *state;
    setup_group(s);
    chunk_err(s, GROUP_PATH, "{\"from\":\"\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0}}", 400, 14001,
              "param from can't be empty");
    chunk_err(s, GROUP_PATH, "{\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0}}", 400, 14001,
              "param from can't be empty");
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"\",\"body\":{\"msg\":\"a\",\"seq\":0}}", 400, 14002,
              "param to can't be empty");
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"body\":{\"msg\":\"a\",\"seq\":0}}", 400, 14002,
              "param to can't be empty");
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\"}", 400, 14005, "param body can't be empty");
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{}}", 400, 14005, "param body can't be empty");
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"a\"}}", 400, 14030,
              "param body.seq is illegal");
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":-1}}", 400, 14030,
              "param body.seq is illegal");
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":1.5}}", 400, 14030,
              "param body.seq is illegal");
    chunk_err(s, GROUP_PATH,
              "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msgId\":\"123456789\",\"msg\":\"a\",\"seq\":1}}", 404, 14031,
              "can not find stream message by msgId");
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msgId\":\"12x\",\"msg\":\"a\",\"seq\":1}}", 404,
              14031, "can not find stream message by msgId");
    /* Not the seed's, but never accepted and dropped. */
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0},\"ext\":null}", 400,
              1003, NULL);
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0,\"type\":\"html\"}}", 400,
              1003, NULL);
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0},\"routetype\":\"x\"}",
              400, 1012, NULL);
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0,\"color\":1}}", 400, 1012,
              NULL);
    chunk_err(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":3}}", 400, 14030, NULL);

    /* A stream, then each of its refusals. */
    char mid[32];
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0}}", mid);
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"eve\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"b\",\"seq\":1}}", mid),
              400, 14036, "stream message from user mismatch");
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g2\",\"body\":{\"msgId\":\"%s\",\"msg\":\"b\",\"seq\":1}}", mid),
              400, 14037, "stream message to mismatch");
    chunk_err(s, USER_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"b\",\"seq\":1}}", mid),
              400, 14037, "stream message to mismatch");
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"b\",\"seq\":0}}", mid),
              400, 14038, "stream message chunk seq too small");
    chunk_ok(s, GROUP_PATH,
             fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"b\",\"seq\":5}}", mid),
             NULL);
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"b\",\"seq\":5}}", mid),
              400, 14038, "stream message chunk seq too small");
    /* The refusals changed nothing: the text is "ab". */
    chunk_ok(
        s, GROUP_PATH,
        fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"c\",\"seq\":6,\"finish\":true}}",
                 mid),
        NULL);
    it_ws *b = it_login(s, "bob", "b1");
    cJSON *m = only_message(b, "GROUPg1");
    assert_string_equal(it_jstr(m, "payload.text"), "abc");
    assert_int_equal((int)it_jnum(m, "stream.lastSeq", -1), 6);
    cJSON_Delete(m);
    it_ws_free(b);

    /* No token, another app's token: nothing delivered. */
    it_http_resp r;
    assert_int_equal(it_http(s, "POST", GROUP_PATH, NULL, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"seq\":0}}", &r),
                     401);
    it_http_resp_free(&r);
    /* Invalid UTF-8 in a chunk: the body is refused whole. */
    assert_int_equal(
        post(s, GROUP_PATH, "{\"from\":\"a\",\"to\":\"g1\",\"body\":{\"msg\":\"\xc3\x28\",\"seq\":0}}", &r), 400);
    assert_int_equal((int)it_jnum(r.json, "code", -1), 1001);
    it_http_resp_free(&r);
}

/* 14032 over the total length, 14033 idle, 14034 overlong: each ends the stream. */
static void test_limits_end_the_stream(void **state)
{
    (void)state;
    static const char *const args[] = {
        "--stream-max-bytes", "10", "--stream-interval-ms", "1000", "--stream-total-ms", "4000", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    setup_group(s);
    it_ws *b = it_login(s, "bob", "b1");
    char mid[32];
    /* 14032: a chunk that would pass 10 bytes; the stream is ended, also for later chunks. */
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"12345678\",\"seq\":0}}", mid);
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"abc\",\"seq\":1}}", mid),
              400, 14032, "stream message total length exceeds limit");
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"a\",\"seq\":2}}", mid),
              400, 14032, "stream message total length exceeds limit");
    expect_event(b, mid, 0, -1, "12345678", "open");
    cJSON *ev = it_ws_wait_event(b, "stream", IT_WAIT_MS);
    if ((int)it_jnum(ev, "data.endCode", -1) != 14032 || strcmp(it_jstr(ev, "data.state"), "ended"))
        fail_msg("end event: %s", it_jshow(ev));
    cJSON_Delete(ev);
    cJSON *m = only_message(b, "GROUPg1");
    if (strcmp(it_jstr(m, "payload.text"), "12345678") || strcmp(it_jstr(m, "stream.state"), "ended") ||
        (int)it_jnum(m, "stream.endCode", -1) != 14032)
        fail_msg("ended message: %s", it_jshow(m));
    cJSON_Delete(m);
    /* A first chunk over the limit creates nothing. */
    chunk_err(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"12345678901\",\"seq\":0}}", 400,
              14032, NULL);

    /* 14033: more than 1 s between chunks; the sweeper ends it even without one. */
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"x\",\"seq\":0}}", mid);
    it_sleep_ms(2000);
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"y\",\"seq\":1}}", mid),
              400, 14033, "stream message chunk interval timeout");
    /* 14034: chunks every 250 ms (well within the interval), past 4 s in total. */
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"\",\"seq\":0}}", mid);
    int got = 0;
    for (int i = 1; i < 40 && !got; i++) {
        it_sleep_ms(250);
        it_http_resp r;
        int st = post(
            s, GROUP_PATH,
            fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"\",\"seq\":%d}}", mid, i),
            &r);
        if (st != 200) {
            if (st != 400 || (int)it_jnum(r.json, "error_code", -1) != 14034 ||
                strcmp(it_jstr(r.json, "error_description"), "stream message total timeout"))
                fail_msg("wanted 14034 after 4 s, got %d %s", st, r.body);
            got = i;
        }
        it_http_resp_free(&r);
    }
    assert_true(got >= 5);
    it_ws_free(b);
    assert_int_equal(it_server_free(s), 0);
}

/* ---- reconnect, kill -9 ------------------------------------------------------------------- */

static void test_reconnect_mid_stream(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *b = it_login(s, "bob", "b1");
    cJSON *lr = it_ws_request(b, "{\"op\":\"ping\"}");
    cJSON_Delete(lr);
    char mid[32];
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"A\",\"seq\":0}}", mid);
    for (int i = 1; i <= 2; i++)
        chunk_ok(s, GROUP_PATH,
                 fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"%c\",\"seq\":%d}}", mid,
                          'A' + i, i),
                 NULL);
    expect_event(b, mid, 0, -1, "A", "open");
    expect_event(b, mid, 1, 0, "B", "open");
    expect_event(b, mid, 2, 1, "C", "open");
    it_ws_free(b); /* bob drops off; a chunk comes meanwhile */
    chunk_ok(s, GROUP_PATH,
             fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"D\",\"seq\":3}}", mid),
             NULL);
    /* Back: sync gives the text so far with its last seq, the live chunks go on from there. */
    b = it_login(s, "bob", "b2");
    cJSON *out = cJSON_CreateArray();
    assert_true(it_sync_all(b, "0", "{\"GROUPg1\":0}", 100, out, NULL, IT_WAIT_MS) >= 1);
    assert_int_equal(cJSON_GetArraySize(out), 1);
    const cJSON *m = cJSON_GetArrayItem(out, 0);
    if (strcmp(it_jstr(m, "payload.text"), "ABCD") || strcmp(it_jstr(m, "stream.state"), "open") ||
        (int)it_jnum(m, "stream.lastSeq", -1) != 3)
        fail_msg("mid-stream sync: %s", it_jshow(m));
    cJSON_Delete(out);
    /* History too, and the conversation list. */
    cJSON *h = only_message(b, "GROUPg1");
    assert_string_equal(it_jstr(h, "payload.text"), "ABCD");
    cJSON_Delete(h);
    chunk_ok(
        s, GROUP_PATH,
        fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"E\",\"seq\":4,\"finish\":true}}",
                 mid),
        NULL);
    expect_event(b, mid, 4, 3, "E", "finished");
    it_ws_pump(b, 100);
    assert_int_equal((int)it_ws_count_events(b, "stream"), 0);
    h = only_message(b, "GROUPg1");
    assert_string_equal(it_jstr(h, "payload.text"), "ABCDE");
    cJSON_Delete(h);
    it_ws_free(b);
}

static void test_kill9_mid_stream(void **state)
{
    (void)state;
    static const char *const args[] = {"--stream-interval-ms", "5000", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    setup_group(s);
    char mid[32], mid2[32];
    chunk_ok(s, GROUP_PATH,
             "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"one \",\"seq\":0,\"type\":\"markdown\"}}", mid);
    chunk_ok(s, GROUP_PATH,
             fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"two \",\"seq\":1}}", mid),
             NULL);
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"left \",\"seq\":0}}", mid2);
    it_server_kill9(s);
    assert_int_equal(it_server_restart(s), 0);
    /* The acknowledged chunks survived, and the stream goes on. */
    chunk_ok(
        s, GROUP_PATH,
        fmt_body(
            "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"three\",\"seq\":2,\"finish\":true}}",
            mid),
        NULL);
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"x\",\"seq\":3}}", mid),
              400, 14035, NULL);
    /* The other one is left alone: 5 s after its last chunk the sweeper ends it, text kept. */
    it_ws *w = it_login(s, "bob", "b0");
    for (int64_t until = it_now_ms() + 15000;;) {
        cJSON *h = it_ws_request(w, "{\"op\":\"history\",\"conversationID\":\"GROUPg1\",\"limit\":1}");
        const char *st = it_jstr(h, "data.messages.0.stream.state");
        int ended = st && !strcmp(st, "ended");
        cJSON_Delete(h);
        if (ended)
            break;
        if (it_now_ms() > until)
            fail_msg("the idle stream was not ended within 15 s of the restart");
        it_sleep_ms(200);
    }
    it_ws_free(w);
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"x\",\"seq\":1}}", mid2),
              400, 14033, NULL);
    it_ws *b = it_login(s, "bob", "b1");
    cJSON *r = it_ws_request(b, "{\"op\":\"history\",\"conversationID\":\"GROUPg1\",\"limit\":10}");
    it_assert_code(r, 0);
    const cJSON *msgs = it_jget(r, "data.messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    const cJSON *newest = cJSON_GetArrayItem(msgs, 0), *oldest = cJSON_GetArrayItem(msgs, 1);
    if (strcmp(it_jstr(oldest, "payload.text"), "one two three") ||
        strcmp(it_jstr(oldest, "stream.state"), "finished") || strcmp(it_jstr(oldest, "stream.format"), "markdown"))
        fail_msg("stream across kill -9: %s", it_jshow(oldest));
    if (strcmp(it_jstr(newest, "payload.text"), "left ") || strcmp(it_jstr(newest, "stream.state"), "ended") ||
        (int)it_jnum(newest, "stream.endCode", -1) != 14033)
        fail_msg("stream ended after the restart: %s", it_jshow(newest));
    cJSON_Delete(r);
    it_ws_free(b);
    assert_int_equal(it_server_free(s), 0);
}

/* ---- rate, group limit, nonexistent targets, C2C ------------------------------------------ */

static void test_rate_limit(void **state)
{
    (void)state;
    static const char *const args[] = {"--stream-rate", "5", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    setup_group(s);
    char mid[32];
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0}}", mid);
    int ok = 0, limited = 0;
    for (int i = 1; i <= 12; i++) {
        it_http_resp r;
        int st = post(s, GROUP_PATH,
                      fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"%d\",\"seq\":%d}}",
                               mid, i % 10, ok + 1),
                      &r);
        if (st == 200)
            ok++;
        else if (st == 429 && !strcmp(it_jstr(r.json, "error"), "resource_limited") &&
                 (int)it_jnum(r.json, "error_code", -1) == 1202)
            limited++;
        else
            fail_msg("wanted 200 or 429 resource_limited, got %d %s", st, r.body);
        it_http_resp_free(&r);
    }
    assert_true(limited >= 5);
    assert_true(ok <= 6);
    it_http_resp mr;
    assert_int_equal(it_http(s, "GET", "/metrics", NULL, NULL, &mr), 200);
    char want[64];
    snprintf(want, sizeof want, "\ntern_stream_rate_limited_total %d\n", limited);
    if (!strstr(mr.body, want) || !strstr(mr.body, "\ntern_streams_open 1\n"))
        fail_msg("/metrics lacks %s or one open stream: %s", want, mr.body);
    it_http_resp_free(&mr);
    /* A refused request changed nothing: the next seq is still ok + 1. */
    it_sleep_ms(1100);
    chunk_ok(
        s, GROUP_PATH,
        fmt_body(
            "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"z\",\"seq\":%d,\"finish\":true}}",
            mid, ok + 1),
        NULL);
    it_ws *b = it_login(s, "bob", "b1");
    cJSON *m = only_message(b, "GROUPg1");
    assert_int_equal((int)it_jnum(m, "stream.lastSeq", -1), ok + 1);
    assert_int_equal((int)strlen(it_jstr(m, "payload.text")), ok + 2);
    cJSON_Delete(m);
    it_ws_free(b);
    assert_int_equal(it_server_free(s), 0);
}

static void test_group_limit_and_missing_targets(void **state)
{
    (void)state;
    static const char *const args[] = {"--stream-max-members", "3", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    setup_group(s); /* alice, bob, carol: 3 */
    static const char *const four[] = {"bob", "carol", "dave", NULL};
    it_create_group(s, "g4", "alice", four);
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"ok\",\"seq\":0,\"finish\":true}}",
             NULL);
    chunk_err(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g4\",\"body\":{\"msg\":\"no\",\"seq\":0}}", 400, 14100,
              "stream message group member count exceeds limit");
    /* A group that does not exist: 200 and a msgId, and its chunks are checked... */
    char mid[32];
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"ghost\",\"body\":{\"msg\":\"boo\",\"seq\":0}}", mid);
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"ghost\",\"body\":{\"msgId\":\"%s\",\"msg\":\"x\",\"seq\":0}}", mid),
              400, 14038, NULL);
    chunk_ok(
        s, GROUP_PATH,
        fmt_body(
            "{\"from\":\"bot\",\"to\":\"ghost\",\"body\":{\"msgId\":\"%s\",\"msg\":\"!\",\"seq\":1,\"finish\":true}}",
            mid),
        NULL);
    /* ...but nothing is stored: a group created later under that id inherits nothing. */
    static const char *const m1[] = {"bob", NULL};
    it_create_group(s, "ghost", "alice", m1);
    it_ws *b = it_login(s, "bob", "b1");
    cJSON *r = it_ws_request(b, "{\"op\":\"history\",\"conversationID\":\"GROUPghost\"}");
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.messages")), 0);
    cJSON_Delete(r);
    /* The same for a user who does not exist. */
    chunk_ok(s, USER_PATH, "{\"from\":\"bot\",\"to\":\"nobody\",\"body\":{\"msg\":\"x\",\"seq\":0,\"finish\":true}}",
             NULL);
    it_ws_free(b);
    assert_int_equal(it_server_free(s), 0);
}

static void test_c2c_stream(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *a = it_login(s, "alice", "a1");
    it_ws *b = it_login(s, "bob", "b1");
    char mid[32];
    /* Easemob's single-chat page writes both /users and /user. */
    it_http_resp r;
    assert_int_equal(post(s, "/demo/demo/stream_message/user",
                          "{\"from\":\"alice\",\"to\":\"bob\",\"body\":{\"msg\":\"hi \",\"seq\":0}}", &r),
                     200);
    assert_string_equal(it_jstr(r.json, "path"), "/stream_message/users");
    snprintf(mid, sizeof mid, "%s", it_jstr(r.json, "data.msgId"));
    it_http_resp_free(&r);
    chunk_ok(s, USER_PATH,
             fmt_body("{\"from\":\"alice\",\"to\":\"bob\",\"body\":{\"msgId\":\"%s\",\"msg\":\"bob\",\"seq\":1,"
                      "\"finish\":true},\"ext\":{\"chunk\":1}}",
                      mid),
             NULL);
    cJSON *ev = it_ws_wait_event(b, "stream", IT_WAIT_MS);
    assert_string_equal(it_jstr(ev, "data.conversationID"), "C2Calice");
    cJSON_Delete(ev);
    ev = it_ws_wait_event(b, "stream", IT_WAIT_MS);
    assert_int_equal((int)it_jnum(ev, "data.ext.chunk", -1), 1); /* a later chunk's ext passes through */
    cJSON_Delete(ev);
    ev = it_ws_wait_event(a, "stream", IT_WAIT_MS); /* the sender's sessions see it too */
    assert_string_equal(it_jstr(ev, "data.conversationID"), "C2Cbob");
    cJSON_Delete(ev);
    cJSON *m = only_message(b, "C2Calice");
    assert_string_equal(it_jstr(m, "payload.text"), "hi bob");
    cJSON_Delete(m);
    it_ws_free(a);
    it_ws_free(b);
}

/* The seed's values are the defaults, and hold as such: 128 KB of text exactly is
 * accepted and one byte more is 14032; 100 requests a second pass and the rest get 429. */
static void test_default_limits(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_app_token(s);
    static char text[65536 + 1];
    memset(text, 'x', 65536);
    static char body[70000];
    char mid[32];
    snprintf(body, sizeof body, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"%s\",\"seq\":0}}", text);
    chunk_ok(s, GROUP_PATH, body, mid);
    snprintf(body, sizeof body, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"%s\",\"seq\":1}}",
             mid, text);
    chunk_ok(s, GROUP_PATH, body, NULL); /* 131072 bytes: at the limit */
    chunk_err(s, GROUP_PATH,
              fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"y\",\"seq\":2}}", mid),
              400, 14032, "stream message total length exceeds limit");
    /* A chunk 2 s after the previous one is well inside 30 s. */
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"a\",\"seq\":0}}", mid);
    it_sleep_ms(2000);
    chunk_ok(s, GROUP_PATH,
             fmt_body("{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"b\",\"seq\":1}}", mid),
             NULL);
    /* 100 a second: a burst of 130. The bucket holds 100 and refills at 100/s, so the
     * burst passes 100 plus what refilled meanwhile. */
    it_sleep_ms(1100);
    int ok = 0, limited = 0;
    int64_t t0 = it_now_ms();
    for (int i = 0; i < 130; i++) {
        it_http_resp r;
        int st = post(s, GROUP_PATH,
                      "{\"from\":\"bot\",\"to\":\"nogroup\",\"body\":{\"msg\":\"\",\"seq\":0,\"finish\":true}}", &r);
        ok += st == 200;
        limited += st == 429;
        it_http_resp_free(&r);
    }
    int64_t ms = it_now_ms() - t0;
    assert_int_equal(ok + limited, 130);
    /* Never more than the bucket allows; at least the burst; and refusals whenever the
     * 130 requests took less than the 300 ms the bucket needs to refill 30. */
    if (ok < 100 || ok > 100 + (int)(ms / 10) + 1 || (ms < 250 && limited == 0))
        fail_msg("default rate: %d accepted, %d limited in %lld ms", ok, limited, (long long)ms);
}

/* ---- races -------------------------------------------------------------------------------- */

typedef struct racer {
    it_server *s;
    const char *body;
    int status;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    it_http_resp resp;
    r->status = post(r->s, GROUP_PATH, r->body, &resp);
    it_http_resp_free(&resp);
    return NULL;
}

static void test_racing_chunks(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_app_token(s); /* cached before the threads */
    char mid[32];
    chunk_ok(s, GROUP_PATH, "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msg\":\"\",\"seq\":0}}", mid);
    enum { N = 8 };
    for (int seq = 1; seq <= 5; seq++) {
        char bodies[N][256];
        racer rs[N];
        pthread_t th[N];
        for (int i = 0; i < N; i++) {
            snprintf(bodies[i], sizeof bodies[i],
                     "{\"from\":\"bot\",\"to\":\"g1\",\"body\":{\"msgId\":\"%s\",\"msg\":\"%d\",\"seq\":%d}}", mid, i,
                     seq);
            rs[i] = (racer){s, bodies[i], 0};
            pthread_create(&th[i], NULL, race, &rs[i]);
        }
        int won = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            if (rs[i].status == 200)
                won++;
            else
                assert_int_equal(rs[i].status, 400);
        }
        assert_int_equal(won, 1); /* exactly one wins each seq */
    }
    it_ws *b = it_login(s, "bob", "b1");
    cJSON *m = only_message(b, "GROUPg1");
    assert_int_equal((int)strlen(it_jstr(m, "payload.text")), 5);
    assert_int_equal((int)it_jnum(m, "stream.lastSeq", -1), 5);
    cJSON_Delete(m);
    it_ws_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seed_examples_and_live_order, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_seed_curl_verbatim, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_single_chunk_and_ext, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_error_table, it_setup_default, it_teardown_default),
        cmocka_unit_test(test_limits_end_the_stream),
        cmocka_unit_test_setup_teardown(test_reconnect_mid_stream, it_setup_default, it_teardown_default),
        cmocka_unit_test(test_kill9_mid_stream),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_group_limit_and_missing_targets),
        cmocka_unit_test_setup_teardown(test_c2c_stream, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_racing_chunks, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_default_limits, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_stream", tests);
}
