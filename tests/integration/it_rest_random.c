/*
 * it_rest_random.c — the REST API against mutated input (docs/rest-api.md): a fixed
 * pseudo-random sequence of 3000 requests, each one a valid request of some endpoint
 * (users, tokens, groups, members, messages, history, conversations) with its JSON body
 * mutated (bytes flipped, cut, duplicated, types swapped, huge numbers, deep nesting,
 * invalid UTF-8) or its path ids replaced by odd ones. The real ternd must answer every
 * request with an HTTP status and, for /{org}/{app} routes, the JSON envelope of
 * docs/rest-api.md (a 2xx with "data", or a 4xx/5xx with "error" and a numeric
 * "code"); it must never crash, hang or return 500, and afterwards it must still serve
 * a normal send and history read. Valid requests among them succeed as usual, so the
 * server's state changes under the run as it would in production.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define N_REQS 3000

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    return it_rand(&rng);
}

static const char *pick(const char *const *v, size_t n)
{
    return v[rnd() % n];
}

#define PICK(v) pick(v, sizeof v / sizeof v[0])

static const char *const ids[] = {
    "alice",
    "bob",
    "carol",
    "g1",
    "g2",
    "nobody",
    "",
    "..",
    "a%2Fb",
    "%00",
    "x%20y",
    "%ff%fe",
    "C2Cbob",
    "GROUPg1",
    "@TIM%23SYSTEM",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

static const char *const values[] = {
    "\"alice\"",
    "\"bob\"",
    "\"g1\"",
    "[\"bob\",\"carol\"]",
    "[]",
    "{}",
    "null",
    "true",
    "0",
    "-1",
    "18446744073709551616",
    "1e308",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
    "\"x\"",
    "{\"msg\":\"hi\"}",
    "{\"msg\":123}",
    "\"txt\"",
    "\"img\"",
};

/* A valid Easemob-shaped request (issue 8): passwords and token grants (rare: each
 * costs a slow hash), groups with Easemob's fields, loc/custom/cmd sends. */
static void easemob_request(int k, const char *u, const char *g, char *method, char *path, size_t pathsz, char *body,
                            size_t bodysz)
{
    strcpy(method, "POST");
    /* Sends (k >= 5) go to either send path. */
    snprintf(path, pathsz, rnd() % 2 ? "/messages/users" : "/messages/chatgroups");
    switch (k) {
    case 0:
        snprintf(path, pathsz, "/users");
        snprintf(body, bodysz, "{\"username\":\"%s\",\"password\":\"pw%u\",\"nickname\":\"N\"}", u, rnd() % 3);
        break;
    case 1:
        snprintf(path, pathsz, "/token");
        snprintf(body, bodysz, "{\"grant_type\":\"password\",\"username\":\"%s\",\"password\":\"pw%u\",\"ttl\":%u}", u,
                 rnd() % 3, rnd() % 100);
        break;
    case 2:
        snprintf(path, pathsz, "/token");
        snprintf(body, bodysz, "{\"grant_type\":\"inherit\",\"username\":\"%s\",\"autoCreateUser\":%s}", u,
                 rnd() % 2 ? "true" : "false");
        break;
    case 3:
    case 4:
        snprintf(path, pathsz, "/chatgroups");
        snprintf(body, bodysz,
                 "{\"groupname\":\"T\",\"description\":\"d\",\"public\":true,\"maxusers\":%u,\"owner\":\"%s\","
                 "\"members\":[\"%s\"],\"allowinvites\":false,\"membersonly\":true,\"invite_need_confirm\":false,"
                 "\"custom\":\"c\"}",
                 rnd() % 4, u, g);
        break;
    case 5:
        snprintf(body, bodysz,
                 "{\"from\":\"%s\",\"to\":[\"%s\"],\"type\":\"loc\",\"body\":{\"lat\":\"%d.5\",\"lng\":\"%d\","
                 "\"addr\":\"A\"},\"sync_device\":true}",
                 u, g, (int)(rnd() % 200) - 100, (int)(rnd() % 400) - 200);
        break;
    case 6:
        snprintf(body, bodysz,
                 "{\"from\":\"%s\",\"to\":\"%s\",\"type\":\"custom\",\"body\":{\"customEvent\":\"e%u\","
                 "\"customExts\":{\"k\":\"v\"}},\"routetype\":\"ROUTE_ONLINE\"}",
                 u, g, rnd() % 9);
        break;
    default:
        snprintf(body, bodysz, "{\"from\":\"%s\",\"to\":[\"%s\"],\"type\":\"cmd\",\"body\":{\"action\":\"a\"}}", u, g);
        break;
    }
}

/* A valid request for a random endpoint: method, path (after /demo/demo), body. */
static void valid_request(char *method, char *path, size_t pathsz, char *body, size_t bodysz)
{
    const char *u = PICK(ids), *g = PICK(ids);
    body[0] = 0;
    unsigned k = rnd() % 48;
    if (k >= 40) {
        easemob_request((int)(k - 40), u, g, method, path, pathsz, body, bodysz);
        return;
    }
    switch (k % 12) {
    case 0:
        strcpy(method, "POST");
        snprintf(path, pathsz, "/users");
        snprintf(body, bodysz, "{\"username\":\"%s\",\"nickname\":\"N\"}", u);
        break;
    case 1:
        strcpy(method, "POST");
        snprintf(path, pathsz, "/users");
        snprintf(body, bodysz, "[{\"username\":\"%s\"},{\"username\":\"%s\"}]", u, g);
        break;
    case 2:
        strcpy(method, "GET");
        snprintf(path, pathsz, "/users?limit=%d&cursor=%s", (int)(rnd() % 300) - 50, u);
        break;
    case 3:
        strcpy(method, rnd() % 2 ? "GET" : "DELETE");
        snprintf(path, pathsz, "/users/%s", u);
        break;
    case 4:
        strcpy(method, "POST");
        snprintf(path, pathsz, "/users/%s/token", u);
        snprintf(body, bodysz, "{\"ttl\":%d}", (int)(rnd() % 100000) - 10);
        break;
    case 5:
        strcpy(method, "POST");
        snprintf(path, pathsz, "/chatgroups");
        snprintf(body, bodysz, "{\"groupid\":\"%s\",\"groupname\":\"T\",\"owner\":\"%s\",\"members\":[\"bob\",\"%s\"]}",
                 g, u, PICK(ids));
        break;
    case 6:
        strcpy(method, rnd() % 2 ? "GET" : "DELETE");
        snprintf(path, pathsz, "/chatgroups/%s", g);
        break;
    case 7:
        strcpy(method, "POST");
        snprintf(path, pathsz, "/chatgroups/%s/users", g);
        snprintf(body, bodysz, "{\"usernames\":[\"%s\",\"carol\"]}", u);
        break;
    case 8:
        strcpy(method, rnd() % 2 ? "POST" : "DELETE");
        snprintf(path, pathsz, "/chatgroups/%s/users/%s", g, u);
        break;
    case 9:
        strcpy(method, "POST");
        snprintf(path, pathsz, rnd() % 2 ? "/messages/users" : "/messages/chatgroups");
        snprintf(body, bodysz,
                 "{\"from\":\"%s\",\"to\":[\"%s\"],\"type\":\"txt\",\"body\":{\"msg\":\"hello\"},\"ext\":{\"k\":1},"
                 "\"clientMsgId\":\"c%u\"}",
                 u, g, rnd() % 50);
        break;
    case 10:
        strcpy(method, "GET");
        snprintf(path, pathsz, "/users/%s/conversations?limit=%d", u, (int)(rnd() % 200));
        break;
    default:
        strcpy(method, "GET");
        snprintf(path, pathsz, "/users/%s/conversations/%s/messages?beforeSeq=%d&limit=%d", u, PICK(ids),
                 (int)(rnd() % 10), (int)(rnd() % 60) - 5);
        break;
    }
}

/* Mutates body in place (NUL-terminated, room for bodysz bytes). */
static void mutate(char *body, size_t bodysz)
{
    size_t n = strlen(body);
    switch (rnd() % 8) {
    case 0: /* flip some bytes */
        for (int k = 0; k < 3 && n; k++)
            body[rnd() % n] = (char)(rnd() & 0xff ? rnd() & 0xff : 'x');
        break;
    case 1: /* cut */
        if (n)
            body[rnd() % n] = 0;
        break;
    case 2: { /* replace a value after some ':' */
        char *c = strchr(body, ':');
        if (c) {
            char tail[512];
            char *end = strpbrk(c + 1, ",}");
            snprintf(tail, sizeof tail, "%s", end ? end : "}");
            snprintf(c + 1, bodysz - (size_t)(c + 1 - body), "%s%s", PICK(values), tail);
        }
        break;
    }
    case 3: /* invalid UTF-8 inside a string */
        if (n > 4) {
            size_t at = rnd() % (n - 2);
            body[at] = (char)0xc3;
            body[at + 1] = (char)0x28;
        }
        break;
    case 4: /* a different top-level type */ snprintf(body, bodysz, "%s", PICK(values)); break;
    case 5: /* duplicate it */
        if (n * 2 + 1 < bodysz)
            memmove(body + n, body, n + 1);
        break;
    default: /* leave it valid */ break;
    }
}

static void test_rest_mutations(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"bob", "carol", NULL};
    it_create_group(s, "g1", "alice", members);
    const char *tok = it_app_token(s);
    char method[8], path[600], full[700];
    static char body[4096];
    int counts[6] = {0};
    for (int i = 0; i < N_REQS; i++) {
        valid_request(method, path, sizeof path, body, sizeof body / 2);
        if (body[0] && rnd() % 4)
            mutate(body, sizeof body);
        snprintf(full, sizeof full, "/demo/demo%s", path);
        it_http_resp r;
        int st = it_http(s, method, full, rnd() % 50 ? tok : "bad.token", body[0] ? body : NULL, &r);
        if (st < 100 || st >= 600)
            fail_msg("request %d %s %s: no HTTP answer (%d)", i, method, full, st);
        if (st >= 500)
            fail_msg("request %d %s %s [%s]: HTTP %d %s", i, method, full, body, st, r.body ? r.body : "");
        if (!r.json)
            fail_msg("request %d %s %s: body is not JSON: %.200s", i, method, full, r.body ? r.body : "");
        if (st < 300) {
            /* A token is answered without envelope, as Easemob does. */
            if (!it_jget(r.json, "data") && !it_jget(r.json, "entities") && !it_jget(r.json, "access_token"))
                fail_msg("request %d %s %s: 2xx without data or entities: %.200s", i, method, full, r.body);
        } else if (!it_jstr(r.json, "error") || it_jnum(r.json, "code", -1) <= 0) {
            fail_msg("request %d %s %s: %d without error/code: %.200s", i, method, full, st, r.body);
        }
        counts[st / 100]++;
        it_http_resp_free(&r);
        if (!it_server_alive(s))
            fail_msg("ternd died at request %d (%s %s)", i, method, full);
    }
    printf("statuses: 2xx %d, 4xx %d\n", counts[2], counts[4]);
    assert_true(counts[2] > 100 && counts[4] > 100); /* both paths were exercised */

    /* Still a working server. */
    it_create_users(s, (const char *const[]){"zed", "yan", NULL});
    it_ws *zed = it_login(s, "zed", "z1");
    assert_int_equal(it_send_text_ok(zed, "C2C", "yan", "after the storm", NULL, 0), 1);
    cJSON *h = it_ws_request(zed, "{\"op\":\"history\",\"conversationID\":\"C2Cyan\",\"beforeSeq\":0,\"limit\":5}");
    assert_non_null(h);
    assert_int_equal(it_code(h), 0);
    cJSON_Delete(h);
    it_ws_free(zed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rest_mutations, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_rest_random", tests);
}
