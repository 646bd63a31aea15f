/*
 * it_errors.c — every error of docs/errors.md that a client or app backend can reach,
 * against a real ternd: WebSocket op errors (80002 with its exact 12288-byte boundary,
 * 2106, 20003, 10007, 10010, 1008, 1001 with the connection staying open, 1002, 1003,
 * 1006, 1007), login errors (1101 in its forms, 1102, 1103, 20003), REST errors (401
 * 1101/1102/1105, 403 1104 with a second app, 404, 405, 400 1011, 400 1001/1008/1203, 413,
 * 431, malformed HTTP 400), protocol-level closes (1009, 1007, 1002, 1003, handshake
 * 400 without tern.v1), the login and idle timeouts (4002, 4004), and the kick of a deleted
 * user's sessions (1106, close 4003). Every test ends by checking that
 * the server still answers /healthz and never crashed; teardown checks a clean exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static void users(it_server *s)
{
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
}

static void assert_server_healthy(it_server *s)
{
    if (!it_server_alive(s))
        fail_msg("ternd died (status 0x%x)", s->last_status);
    it_http_resp r;
    int st = it_http(s, "GET", "/healthz", NULL, NULL, &r);
    int ok = st == 200 && it_jstr(r.json, "status") && strcmp(it_jstr(r.json, "status"), "ok") == 0;
    it_http_resp_free(&r);
    if (!ok)
        fail_msg("/healthz answered %d", st);
}

/* Sends a text message of `len` 'a's with an optional cloudCustomData of ccd_len 'c's. */
static cJSON *send_sized(it_ws *w, size_t len, size_t ccd_len)
{
    char *text = malloc(len + 1), *ccd = malloc(ccd_len + 1);
    memset(text, 'a', len);
    text[len] = 0;
    memset(ccd, 'c', ccd_len);
    ccd[ccd_len] = 0;
    int64_t id =
        it_ws_send_req(w,
                       "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
                       "\"payload\":{\"text\":\"%s\"},\"cloudCustomData\":\"%s\"}}",
                       text, ccd);
    free(text);
    free(ccd);
    return id < 0 ? NULL : it_ws_wait_response(w, id, IT_WAIT_MS);
}

static void expect(it_ws *w, int code, const char *fmt)
{
    cJSON *r = it_ws_request(w, "%s", fmt);
    if (!r || it_code(r) != code)
        fail_msg("%s: wanted code %d, got %s", fmt, code, it_jshow(r));
    if (code != 0 && (!it_jstr(r, "message") || !it_jstr(r, "re")))
        fail_msg("%s: error response without re/message: %s", fmt, it_jshow(r));
    cJSON_Delete(r);
}

static void test_send_errors(void **state)
{
    it_server *s = *state;
    users(s);
    static const char *const members[] = {"bob", NULL};
    it_create_group(s, "g1", "bob", members);
    it_ws *alice = it_login(s, "alice", "a1");

    /* 80002: the payload is encoded as {"text":"..."} = text + 11 bytes. */
    cJSON *r = send_sized(alice, 12289, 0);
    it_assert_code(r, 80002);
    assert_string_equal(it_jstr(r, "re"), "send");
    cJSON_Delete(r);
    r = send_sized(alice, 12288 - 11 + 1, 0); /* 12289 bytes encoded */
    it_assert_code(r, 80002);
    cJSON_Delete(r);
    r = send_sized(alice, 12288 - 11, 0); /* exactly 12288 bytes encoded: accepted */
    it_assert_code(r, 0);
    assert_int_equal((int)it_jnum(r, "data.seq", -1), 1);
    cJSON_Delete(r);
    r = send_sized(alice, 10, 12289); /* cloudCustomData counts too */
    it_assert_code(r, 80002);
    cJSON_Delete(r);
    r = send_sized(alice, 6000, 6400); /* together over 12288 */
    it_assert_code(r, 80002);
    cJSON_Delete(r);

    expect(alice, 2106,
           "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"@TIM#SYSTEM\",\"type\":\"TIMTextElem\","
           "\"payload\":{\"text\":\"x\"}}}");
    expect(alice, 2106,
           "{\"op\":\"send\",\"msg\":{\"conversationType\":\"SYSTEM\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
           "\"payload\":{\"text\":\"x\"}}}");
    expect(alice, 20003,
           "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"nobody\",\"type\":\"TIMTextElem\","
           "\"payload\":{\"text\":\"x\"}}}");
    expect(alice, 10007,
           "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\","
           "\"payload\":{\"text\":\"x\"}}}");
    expect(alice, 10010,
           "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"nogroup\",\"type\":\"TIMTextElem\","
           "\"payload\":{\"text\":\"x\"}}}");
    expect(alice, 1104, "{\"op\":\"history\",\"conversationID\":\"GROUPg1\"}");
    expect(alice, 1008,
           "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMGroupTipElem\","
           "\"payload\":{\"text\":\"x\"}}}");

    /* 1003: missing or invalid fields. */
    static const char *const bad[] = {
        "{\"op\":\"send\"}",
        "{\"op\":\"send\",\"msg\":\"hello\"}",
        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}"
        "}",
        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":42,\"type\":\"TIMTextElem\",\"payload\":{"
        "\"text\":\"x\"}}}",
        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"PAIR\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{"
        "\"text\":\"x\"}}}",
        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"payload\":{\"text\":\"x\"}}}",
        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{"
        "\"text\":7}}}",
        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{"
        "\"text\":\"x\"},\"priority\":\"Urgent\"}}",
        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{"
        "\"text\":\"x\"},\"cloudCustomData\":5}}",
        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{"
        "\"text\":\"x\"},"
        "\"clientMsgId\":\"0123456789012345678901234567890123456789012345678901234567890123X\"}}",
        "{\"op\":\"history\",\"conversationID\":\"C2Cbob\",\"limit\":0}",
        "{\"op\":\"conversations\",\"limit\":\"many\"}",
        "{\"op\":\"read\",\"conversationID\":\"C2Cbob\",\"seq\":\"one\"}",
        "{\"op\":\"sync\",\"cursor\":\"0\",\"convs\":{},\"limit\":0}",
        "{\"op\":\"sync\",\"cursor\":\"0\",\"convs\":[1,2]}",
        /* A held seq is an integer in [0, 2^53). */
        "{\"op\":\"sync\",\"cursor\":\"0\",\"convs\":{\"C2Cbob\":1e300}}",
        "{\"op\":\"sync\",\"cursor\":\"0\",\"convs\":{\"C2Cbob\":-1}}",
        "{\"op\":\"sync\",\"cursor\":\"0\",\"convs\":{\"C2Cbob\":1.5}}",
        "{\"op\":\"sync\",\"cursor\":\"0\",\"convs\":{\"C2Cbob\":\"3\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(alice, 1003, bad[i]);

    /* 1002 unknown op, with the id echoed. */
    cJSON *u = it_ws_request(alice, "{\"op\":\"frobnicate\"}");
    it_assert_code(u, 1002);
    assert_string_equal(it_jstr(u, "re"), "frobnicate");
    cJSON_Delete(u);
    /* String ids are echoed verbatim; a request without id gets a response without id. */
    assert_int_equal(it_ws_send_text(alice, "{\"op\":\"ping\",\"id\":\"req-abc\"}"), 0);
    r = it_ws_wait_re(alice, "ping", IT_WAIT_MS);
    it_assert_code(r, 0);
    assert_string_equal(it_jstr(r, "id"), "req-abc");
    cJSON_Delete(r);
    assert_int_equal(it_ws_send_text(alice, "{\"op\":\"ping\"}"), 0);
    r = it_ws_wait_re(alice, "ping", IT_WAIT_MS);
    it_assert_code(r, 0);
    assert_null(it_jget(r, "id"));
    cJSON_Delete(r);

    /* 1001 malformed JSON: answered with re "" and the connection stays open. */
    static const char *const notjson[] = {"{not json", "[1,2,3]", "42", "\"op\"", ""};
    for (size_t i = 0; i < sizeof notjson / sizeof notjson[0]; i++) {
        assert_int_equal(it_ws_send_text(alice, notjson[i]), 0);
        r = it_ws_wait_re(alice, "", IT_WAIT_MS);
        if (!r || it_code(r) != 1001)
            fail_msg("'%s': wanted code 1001 with re \"\", got %s", notjson[i], it_jshow(r));
        cJSON_Delete(r);
        expect(alice, 0, "{\"op\":\"ping\"}");
    }
    assert_false(alice->eof);

    /* None of the failures stored anything: the next message is seq 2. */
    assert_int_equal(it_send_text_ok(alice, "C2C", "bob", "still fine", NULL, 0), 2);
    assert_server_healthy(s);
}

static void login_expect(it_server *s, it_ws *w, int code, const char *app, const char *user, const char *token)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"login\",\"app\":\"%s\",\"user\":\"%s\",\"token\":\"%s\",\"device\":\"d\"}",
                             app, user, token);
    if (!r || it_code(r) != code)
        fail_msg("login app=%s user=%s: wanted %d, got %s", app, user, code, it_jshow(r));
    cJSON_Delete(r);
    (void)s;
}

static void test_login_errors(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *w = it_ws_connect(s);
    char tok[1024], tok2[1024];
    time_t now = time(NULL);

    /* 1006: ops before login; ping is allowed. */
    expect(w, 1006,
           "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
           "\"payload\":{\"text\":\"x\"}}}");
    expect(w, 1006, "{\"op\":\"history\",\"conversationID\":\"C2Cbob\"}");
    expect(w, 1006, "{\"op\":\"conversations\"}");
    expect(w, 1006, "{\"op\":\"read\",\"conversationID\":\"C2Cbob\",\"seq\":1}");
    expect(w, 1006, "{\"op\":\"sync\",\"cursor\":\"0\",\"convs\":{}}");
    expect(w, 0, "{\"op\":\"ping\"}");

    /* 1101: garbage, another user's token, tampered signature, wrong secret, app token. */
    login_expect(s, w, 1101, "demo/demo", "alice", "garbage");
    login_expect(s, w, 1101, "demo/demo", "alice", "Zm9v.YmFy");
    it_user_token(s, "bob", tok, sizeof tok);
    login_expect(s, w, 1101, "demo/demo", "alice", tok);
    it_user_token(s, "alice", tok, sizeof tok);
    snprintf(tok2, sizeof tok2, "%s", tok);
    size_t n = strlen(tok2);
    tok2[n - 2] = tok2[n - 2] == 'A' ? 'B' : 'A';
    login_expect(s, w, 1101, "demo/demo", "alice", tok2);
    snprintf(tok2, sizeof tok2, "%s", tok);
    tok2[3] = tok2[3] == 'A' ? 'B' : 'A'; /* payload changed, signature kept */
    login_expect(s, w, 1101, "demo/demo", "alice", tok2);
    assert_true(it_mint_token('u', "demo/demo", "alice", now + 3600, "not-the-secret", tok2, sizeof tok2) > 0);
    login_expect(s, w, 1101, "demo/demo", "alice", tok2);
    assert_true(it_mint_token('a', "demo/demo", "", now + 3600, s->client_secret, tok2, sizeof tok2) > 0);
    login_expect(s, w, 1101, "demo/demo", "alice", tok2);
    /* 1102: expired. */
    assert_true(it_mint_token('u', "demo/demo", "alice", now - 10, s->client_secret, tok2, sizeof tok2) > 0);
    login_expect(s, w, 1102, "demo/demo", "alice", tok2);
    /* 1103: unknown app. */
    assert_true(it_mint_token('u', "nope/app", "alice", now + 3600, s->client_secret, tok2, sizeof tok2) > 0);
    login_expect(s, w, 1103, "nope/app", "alice", tok2);
    /* 20003: a valid token for a user that was never registered. */
    it_user_token(s, "ghost", tok2, sizeof tok2);
    login_expect(s, w, 20003, "demo/demo", "ghost", tok2);
    /* 1003: bad fields. */
    expect(w, 1003, "{\"op\":\"login\",\"app\":\"demo/demo\",\"user\":\"alice\"}");
    expect(w, 1003, "{\"op\":\"login\",\"user\":\"alice\",\"token\":\"x\"}");
    expect(w, 1003, "{\"op\":\"login\",\"app\":\"demo/demo\",\"user\":\"a b\",\"token\":\"x\"}");
    expect(w, 1003, "{\"op\":\"login\",\"app\":\"demo/demo\",\"user\":42,\"token\":\"x\"}");
    char big[2048];
    snprintf(big, sizeof big,
             "{\"op\":\"login\",\"app\":\"demo/demo\",\"user\":\"alice\",\"token\":\"%s\",\"device\":\"%065d\"}", tok,
             0);
    expect(w, 1003, big);

    /* After all these failures the same connection logs in. */
    cJSON *r = it_ws_request(w, "{\"op\":\"login\",\"app\":\"demo/demo\",\"user\":\"alice\",\"token\":\"%s\"}", tok);
    it_assert_code(r, 0);
    cJSON_Delete(r);
    cJSON *ev = it_ws_wait_event(w, "ready", IT_WAIT_MS);
    assert_non_null(ev);
    cJSON_Delete(ev);
    /* 1007: a second login on the same connection, even as the same user. */
    login_expect(s, w, 1007, "demo/demo", "alice", tok);
    it_user_token(s, "bob", tok2, sizeof tok2);
    login_expect(s, w, 1007, "demo/demo", "bob", tok2);
    expect(w, 0, "{\"op\":\"conversations\"}");
    /* logout: response, then close 1000. */
    expect(w, 0, "{\"op\":\"logout\"}");
    int code = 0;
    assert_int_equal(it_ws_expect_close(w, IT_WAIT_MS, &code), 0);
    assert_int_equal(code, 1000);
    it_ws_free(w);
    assert_server_healthy(s);
}

/* Asserts an HTTP error: status, code and the error envelope. */
static void http_expect(it_server *s, const char *method, const char *path, const char *token, const char *body,
                        int status, int code)
{
    it_http_resp r;
    int st = it_http(s, method, path, token, body, &r);
    int ok = st == status;
    if (ok && code)
        ok = (int)it_jnum(r.json, "code", -1) == code && it_jstr(r.json, "error") &&
             it_jstr(r.json, "error_description");
    char msg[1200];
    snprintf(msg, sizeof msg, "%s %s: wanted HTTP %d code %d, got %d %.800s", method, path, status, code, st,
             r.body ? r.body : "");
    it_http_resp_free(&r);
    if (!ok)
        fail_msg("%s", msg);
}

static void raw_expect(it_server *s, const char *what, const void *req, size_t n, int status)
{
    it_http_resp r;
    int st = it_http_raw(s->port, req, n, IT_WAIT_MS, &r);
    char msg[600];
    snprintf(msg, sizeof msg, "%s: wanted HTTP %d, got %d %.300s", what, status, st, r.body ? r.body : "");
    it_http_resp_free(&r);
    if (st != status)
        fail_msg("%s", msg);
}

static void test_rest_errors(void **state)
{
    it_server *s = *state;
    users(s);
    const char *tok = it_app_token(s);
    char bad[1024];

    /* 401: no token, garbage, expired app token; 1105: wrong client credentials. */
    http_expect(s, "GET", "/demo/demo/users", NULL, NULL, 401, 1101);
    http_expect(s, "GET", "/demo/demo/users", "garbage", NULL, 401, 1101);
    it_user_token(s, "alice", bad, sizeof bad);
    http_expect(s, "GET", "/demo/demo/users", bad, NULL, 401, 1101); /* user token: wrong kind */
    assert_true(it_mint_token('a', "demo/demo", "", (int64_t)time(NULL) - 5, s->client_secret, bad, sizeof bad) > 0);
    http_expect(s, "GET", "/demo/demo/users", bad, NULL, 401, 1102);
    char body[512];
    snprintf(body, sizeof body,
             "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"wrong\"}", s->client_id);
    http_expect(s, "POST", "/demo/demo/token", NULL, body, 401, 1105);

    /* 403 1104: the token of a second app. */
    it_http_resp r;
    int st = it_http(s, "POST", "/admin/apps", s->admin_token, "{\"org\":\"other\",\"app\":\"chat\"}", &r);
    if (st != 200 || !it_jstr(r.json, "data.client_secret"))
        fail_msg("POST /admin/apps: %d %s", st, r.body ? r.body : "");
    snprintf(body, sizeof body, "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
             it_jstr(r.json, "data.client_id"), it_jstr(r.json, "data.client_secret"));
    it_http_resp_free(&r);
    st = it_http(s, "POST", "/other/chat/token", NULL, body, &r);
    if (st != 200 || !it_jstr(r.json, "access_token"))
        fail_msg("POST /other/chat/token: %d %s", st, r.body ? r.body : "");
    char other[1024];
    snprintf(other, sizeof other, "%s", it_jstr(r.json, "access_token"));
    it_http_resp_free(&r);
    http_expect(s, "GET", "/demo/demo/users", other, NULL, 403, 1104);
    http_expect(s, "GET", "/other/chat/users", other, NULL, 200, 0);
    http_expect(s, "POST", "/admin/apps", NULL, "{\"org\":\"x\",\"app\":\"y\"}", 401, 1101);
    http_expect(s, "POST", "/admin/apps", tok, "{\"org\":\"x\",\"app\":\"y\"}", 401, 1101);
    http_expect(s, "POST", "/admin/apps", s->admin_token, "{\"org\":\"other\",\"app\":\"chat\"}", 400, 1011);

    /* 404, 405, 400 (1011 is 400 duplicate_unique_property_exists, as Easemob). */
    http_expect(s, "GET", "/demo/demo/no-such-thing", tok, NULL, 404, 1009);
    http_expect(s, "GET", "/no-such-path", tok, NULL, 404, 1009);
    http_expect(s, "GET", "/demo/demo/users/nobody", tok, NULL, 404, 20003);
    /* An escaped NUL does not alias a path segment ("alice%00junk" is not alice) and is
     * not a query value. */
    http_expect(s, "GET", "/demo/demo/users/alice%00junk", tok, NULL, 404, 1009);
    http_expect(s, "GET", "/demo/demo/users/alice", tok, NULL, 200, 0);
    http_expect(s, "GET", "/demo/demo/users?limit=5%00", tok, NULL, 400, 1003);
    http_expect(s, "GET", "/demo/demo/users?cursor=a%00b", tok, NULL, 400, 1003);
    http_expect(s, "GET", "/demo/demo/users?limit=0000000000000000000000005", tok, NULL, 400, 1003);
    http_expect(s, "GET", "/demo/demo/chatgroups/nogroup", tok, NULL, 404, 10010);
    http_expect(s, "PUT", "/demo/demo/users", tok, "{}", 405, 1010);
    http_expect(s, "DELETE", "/demo/demo/users", tok, NULL, 405, 1010);
    http_expect(s, "POST", "/demo/demo/users", tok, "{\"username\":\"alice\"}", 400, 1011);
    static const char *const m[] = {"alice", NULL};
    it_create_group(s, "g1", "bob", m);
    http_expect(s, "POST", "/demo/demo/chatgroups", tok, "{\"groupid\":\"g1\",\"groupname\":\"x\",\"owner\":\"bob\"}",
                400, 1011);
    http_expect(s, "POST", "/demo/demo/users", tok, "{\"username\":", 400, 1001);
    http_expect(s, "POST", "/demo/demo/users", tok, "{\"username\":\"bad name\"}", 400, 1003);
    http_expect(s, "POST", "/demo/demo/messages/users", tok,
                "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"sticker\",\"body\":{\"msg\":\"x\"}}", 400, 1008);
    http_expect(s, "POST", "/demo/demo/messages/users", tok,
                "{\"from\":\"nobody\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"}}", 404, 20003);
    http_expect(s, "POST", "/demo/demo/messages/users", tok,
                "{\"from\":\"alice\",\"to\":[\"@TIM#SYSTEM\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"}}", 400, 2106);
    /* 1203: 61 users in one create. */
    char many[8192];
    int k = snprintf(many, sizeof many, "[");
    for (int i = 0; i < 61; i++)
        k += snprintf(many + k, sizeof many - (size_t)k, "%s{\"username\":\"u%d\"}", i ? "," : "", i);
    snprintf(many + k, sizeof many - (size_t)k, "]");
    http_expect(s, "POST", "/demo/demo/users", tok, many, 400, 1203);
    /* A recipient that failed next to one that succeeded: HTTP 200 with the error in the map. */
    cJSON *j =
        it_rest(s, "POST", "{\"from\":\"alice\",\"to\":[\"bob\",\"nobody\"],\"type\":\"txt\",\"body\":{\"msg\":\"x\"}}",
                200, "/demo/demo/messages/users");
    assert_non_null(it_jstr(j, "data.bob"));
    assert_int_equal((int)it_jnum(j, "data.nobody.code", -1), 20003);
    cJSON_Delete(j);

    /* 413: a body over 1 MiB. */
    size_t big = (1u << 20) + 1;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = 0;
    st = it_http(s, "POST", "/demo/demo/users", tok, huge, &r);
    free(huge);
    char msg[400];
    snprintf(msg, sizeof msg, "body of 1 MiB + 1: HTTP %d %.200s", st, r.body ? r.body : "");
    it_http_resp_free(&r);
    if (st != 413)
        fail_msg("%s", msg);

    /* 431: request line + headers over 16 KiB. */
    size_t hn = 20000;
    char *req = malloc(hn + 256);
    int p = snprintf(req, 256, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + p, 'h', 17000);
    p += 17000;
    p += snprintf(req + p, 64, "\r\nConnection: close\r\n\r\n");
    raw_expect(s, "17 KB header", req, (size_t)p, 431);
    free(req);
    /* 400: malformed HTTP. */
    static const char junk[] = "\x01\x02 garbage \xff\r\n\r\n";
    raw_expect(s, "binary junk", junk, sizeof junk - 1, 400);
    static const char badver[] = "GET /healthz HTTP/9\r\nHost: x\r\n\r\n";
    raw_expect(s, "bad version", badver, sizeof badver - 1, 400);
    static const char badcl[] = "POST /demo/demo/users HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n";
    raw_expect(s, "bad Content-Length", badcl, sizeof badcl - 1, 400);
    assert_server_healthy(s);
}

/* Connects, optionally logs in, and returns the connection for a protocol violation. */
static it_ws *conn(it_server *s, int login)
{
    return login ? it_login(s, "alice", NULL) : it_ws_connect(s);
}

static void expect_close(it_ws *w, int want, const char *what)
{
    int code = 0;
    if (it_ws_expect_close(w, IT_WAIT_MS, &code) != 0)
        fail_msg("%s: the server did not close the connection within %d ms", what, IT_WAIT_MS);
    if (code != want)
        fail_msg("%s: wanted close %d, got %d", what, want, code);
    it_ws_free(w);
}

static void test_protocol_closes(void **state)
{
    it_server *s = *state;
    users(s);

    /* A message of exactly 64 KiB is accepted... */
    it_ws *w = conn(s, 1);
    size_t max = 65536;
    char *msg = malloc(max + 8192); /* + room for the fragmented case (70000 bytes) */
    memset(msg, 'f', max + 8192);
    int h = snprintf(msg, 64, "{\"op\":\"ping\",\"id\":1,\"pad\":\"");
    memset(msg + h, 'p', max - (size_t)h - 2);
    memcpy(msg + max - 2, "\"}", 3);
    assert_int_equal(strlen(msg), max);
    assert_int_equal(it_ws_send_text(w, msg), 0);
    cJSON *r = it_ws_wait_response(w, 1, IT_WAIT_MS);
    it_assert_code(r, 0);
    cJSON_Delete(r);
    /* ...one byte more closes with 1009. */
    msg[max - 2] = 'p';
    memcpy(msg + max - 1, "\"}", 3);
    it_ws_send_text(w, msg); /* may fail half-way: the server closes early */
    expect_close(w, 1009, "message of 64 KiB + 1");
    /* Over 64 KiB in fragments: 1009 as well. */
    w = conn(s, 0);
    it_ws_send_frame(w, 1, msg, 40000, 0, 1);
    it_ws_send_frame(w, 0, msg + 40000, 30000, 1, 1);
    expect_close(w, 1009, "fragmented message over 64 KiB");
    free(msg);

    /* A fragmented message under the limit is reassembled. */
    w = conn(s, 0);
    static const char part1[] = "{\"op\":\"pi", part2[] = "ng\",\"id\":", part3[] = "7}";
    assert_int_equal(it_ws_send_frame(w, 1, part1, sizeof part1 - 1, 0, 1), 0);
    assert_int_equal(it_ws_send_frame(w, 9, "hi", 2, 1, 1), 0); /* a ping between fragments */
    assert_int_equal(it_ws_send_frame(w, 0, part2, sizeof part2 - 1, 0, 1), 0);
    assert_int_equal(it_ws_send_frame(w, 0, part3, sizeof part3 - 1, 1, 1), 0);
    r = it_ws_wait_response(w, 7, IT_WAIT_MS);
    it_assert_code(r, 0);
    cJSON_Delete(r);
    /* WebSocket pings are answered with pongs (the one between fragments too). */
    assert_int_equal(it_ws_send_frame(w, 9, "abc", 3, 1, 1), 0);
    int64_t deadline = it_now_ms() + IT_WAIT_MS;
    while (w->pongs < 2 && it_now_ms() < deadline)
        it_ws_pump(w, 100);
    if (w->pongs != 2)
        fail_msg("wanted 2 pongs, got %ld", w->pongs);
    it_ws_free(w);

    /* Invalid UTF-8 in a text message: 1007 (also after login). */
    static const char badutf[] = "{\"op\":\"ping\",\"x\":\"\xff\xfe\xc0\xaf\"}";
    w = conn(s, 0);
    it_ws_send_text(w, badutf);
    expect_close(w, 1007, "invalid UTF-8");
    w = conn(s, 1);
    static const char surrogate[] = "{\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}";
    it_ws_send_text(w, surrogate);
    expect_close(w, 1007, "UTF-8 surrogate after login");
    /* An unmasked client frame: 1002. */
    w = conn(s, 0);
    it_ws_send_frame(w, 1, "{\"op\":\"ping\"}", 13, 1, 0);
    expect_close(w, 1002, "unmasked frame");
    /* A binary frame: 1003. */
    w = conn(s, 1);
    it_ws_send_frame(w, 2, "{\"op\":\"ping\"}", 13, 1, 1);
    expect_close(w, 1003, "binary frame");
    /* Reserved opcode and RSV bits: 1002. */
    w = conn(s, 0);
    it_ws_send_frame(w, 3, "x", 1, 1, 1);
    expect_close(w, 1002, "reserved opcode 3");
    w = conn(s, 0);
    static const uint8_t rsv[] = {0xC1, 0x81, 1, 2, 3, 4, 'x' ^ 1};
    it_ws_send_raw(w, rsv, sizeof rsv);
    expect_close(w, 1002, "RSV1 set");
    /* A continuation without a start: 1002. */
    w = conn(s, 0);
    it_ws_send_frame(w, 0, "x", 1, 1, 1);
    expect_close(w, 1002, "continuation without a first frame");
    /* A control frame over 125 bytes: 1002. */
    w = conn(s, 0);
    char ping[200];
    memset(ping, 'q', sizeof ping);
    it_ws_send_frame(w, 9, ping, sizeof ping, 1, 1);
    expect_close(w, 1002, "ping of 200 bytes");

    /* Subprotocols: offered without tern.v1 → 400; with it among others → 101 tern.v1;
     * none offered → accepted. */
    int st = 0;
    w = it_ws_connect_ex(s->port, "chat.v2", 0, &st);
    assert_null(w);
    assert_int_equal(st, 400);
    w = it_ws_connect_ex(s->port, "chat.v2, tern.v1", 0, &st);
    if (!w)
        fail_msg("offering 'chat.v2, tern.v1' was refused (HTTP %d)", st);
    it_ws_free(w);
    w = it_ws_connect_ex(s->port, "", 0, &st);
    if (!w)
        fail_msg("offering no subprotocol was refused (HTTP %d)", st);
    it_ws_free(w);
    /* Upgrade on another path: 404. */
    static const char wrongpath[] = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    raw_expect(s, "upgrade on /chat", wrongpath, sizeof wrongpath - 1, 404);
    static const char nokey[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n";
    raw_expect(s, "upgrade without a key", nokey, sizeof nokey - 1, 400);

    /* The server still works for a fresh client. */
    w = conn(s, 1);
    assert_int_equal(it_send_text_ok(w, "C2C", "bob", "after the abuse", NULL, 0), 1);
    it_ws_free(w);
    assert_server_healthy(s);
}

static int setup_login_timeout(void **state)
{
    it_watchdog(60);
    static const char *const args[] = {"--login-timeout", "1", "--idle-timeout", "2", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

static void test_login_timeout(void **state)
{
    it_server *s = *state;
    users(s);
    it_ws *idle = it_ws_connect(s);
    it_ws *pinging = it_ws_connect(s); /* ping does not count as logging in */
    it_ws *good = it_login(s, "alice", NULL);
    int64_t t0 = it_now_ms();
    cJSON *r = it_ws_request(pinging, "{\"op\":\"ping\"}");
    it_assert_code(r, 0);
    cJSON_Delete(r);
    int code = 0;
    if (it_ws_expect_close(idle, 3000, &code) != 0)
        fail_msg("idle unauthenticated connection still open after 3 s");
    assert_int_equal(code, 4002);
    assert_true(it_now_ms() - t0 <= 3000);
    if (it_ws_expect_close(pinging, 3000, &code) != 0)
        fail_msg("pinging unauthenticated connection still open after 3 s");
    assert_int_equal(code, 4002);
    /* The logged-in connection is not affected by the login deadline; with
     * --idle-timeout 2 it lives as long as it pings, and a silent one gets 4004. */
    it_ws *silent = it_login(s, "bob", NULL);
    int64_t t1 = it_now_ms();
    while (it_now_ms() - t1 < 3500) {
        it_sleep_ms(500);
        r = it_ws_request(good, "{\"op\":\"ping\"}");
        it_assert_code(r, 0);
        cJSON_Delete(r);
    }
    assert_false(good->eof);
    if (it_ws_expect_close(silent, 3000, &code) != 0)
        fail_msg("a logged-in connection silent for 6.5 s is still open with --idle-timeout 2");
    assert_int_equal(code, 4004);
    assert_server_healthy(s);
}

/* REST-issued user tokens log in; deleting a user kicks its sessions (1106, close 4003). */
static void test_rest_token_and_kick(void **state)
{
    it_server *s = *state;
    users(s);
    cJSON *j = it_rest(s, "POST", "{\"ttl\":600}", 200, "/demo/demo/users/alice/token");
    const char *tok = it_jstr(j, "data.access_token");
    if (!tok)
        fail_msg("POST /users/alice/token: no data.access_token in %s", it_jshow(j));
    it_ws *w = it_ws_connect(s);
    cJSON *r = it_ws_request(w, "{\"op\":\"login\",\"app\":\"demo/demo\",\"user\":\"alice\",\"token\":\"%s\"}", tok);
    cJSON_Delete(j);
    it_assert_code(r, 0);
    cJSON_Delete(r);
    it_ws *w2 = it_login(s, "alice", "second");
    http_expect(s, "POST", "/demo/demo/users/nobody/token", it_app_token(s), "{}", 404, 20003);

    j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/alice");
    assert_string_equal(it_jstr(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "username"), "alice");
    cJSON_Delete(j);
    it_ws *both[2] = {w, w2};
    for (int i = 0; i < 2; i++) {
        cJSON *ev = it_ws_wait_event(both[i], "kicked", IT_WAIT_MS);
        if (!ev)
            fail_msg("session %d of a deleted user: no kicked event", i);
        if ((int)it_jnum(ev, "data.code", -1) != 1106 || !it_jstr(ev, "data.message"))
            fail_msg("kicked event: wanted code 1106 and a message, got %s", it_jshow(ev));
        cJSON_Delete(ev);
        int code = 0;
        if (it_ws_expect_close(both[i], IT_WAIT_MS, &code) != 0)
            fail_msg("session %d of a deleted user was not closed", i);
        assert_int_equal(code, 4003);
    }
    /* The user is gone: login 20003, REST 404. */
    it_ws *w3 = it_ws_connect(s);
    char t[1024];
    it_user_token(s, "alice", t, sizeof t);
    login_expect(s, w3, 20003, "demo/demo", "alice", t);
    http_expect(s, "GET", "/demo/demo/users/alice", it_app_token(s), NULL, 404, 20003);
    assert_server_healthy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_errors, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_login_errors, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_rest_errors, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_protocol_closes, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_login_timeout, setup_login_timeout, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_rest_token_and_kick, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_errors", tests);
}
