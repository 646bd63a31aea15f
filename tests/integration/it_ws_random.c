/*
 * it_ws_random.c — the WebSocket protocol against mutated requests (docs/protocol.md):
 * two logged-in users send a fixed pseudo-random sequence of 3000 requests, each a
 * valid op (send C2C/group text or custom, history, conversations, read, sync, ping)
 * with fields mutated (values of the wrong type, out-of-range numbers, unknown
 * conversations, other users' conversations, huge strings, deep nesting, cut or
 * duplicated JSON, unknown ops, missing ids). The real ternd must answer every request
 * that carries an id with a response of that id and a numeric code (an error code from
 * docs/errors.md, or 0 with data), must not close the connection (none of these is a
 * protocol-level violation), and must stay up; afterwards the users' conversations
 * still add up (unread = lastSeq - readSeq, history pages back without gaps).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define N_REQS 3000

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
    return it_rand(&rng);
}

#define PICK(v) (v[rnd() % (sizeof v / sizeof v[0])])

static const char *const convs[] = {
    "\"C2Cbob\"",      "\"C2Calice\"", "\"GROUPg1\"", "\"GROUPg2\"", "\"C2Cnobody\"", "\"C2C\"", "\"GROUP\"", "\"\"",
    "\"@TIM#SYSTEM\"", "\"C2Ccarol\"", "\"x\"",       "7",           "null",          "[]",
};

static const char *const odd[] = {
    "null",
    "true",
    "-1",
    "0",
    "1e308",
    "18446744073709551616",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "2147483648",
    "-9223372036854775809",
};

/* Writes a request body (without "id") for a random op into out. */
static void request(char *out, size_t n, int mutate)
{
    char v[128];
    const char *conv = PICK(convs);
    snprintf(v, sizeof v, "%s", mutate ? PICK(odd) : "5");
    switch (rnd() % 9) {
    case 0:
    case 1:
        snprintf(out, n,
                 "{\"op\":\"send\",\"msg\":{\"conversationType\":%s,\"to\":%s,\"type\":\"TIMTextElem\","
                 "\"payload\":{\"text\":%s},\"clientMsgId\":\"r%u\",\"priority\":%s,\"cloudCustomData\":%s}",
                 rnd() % 2 ? "\"C2C\"" : (mutate ? PICK(odd) : "\"GROUP\""),
                 rnd() % 2 ? "\"bob\"" : (mutate ? PICK(odd) : "\"g1\""), mutate ? PICK(odd) : "\"hi\"", rnd() % 40,
                 mutate ? PICK(odd) : "\"High\"", mutate ? PICK(odd) : "\"\"");
        break;
    case 2:
        snprintf(out, n,
                 "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":%s,"
                 "\"payload\":{\"data\":%s,\"description\":\"d\",\"extension\":%s}}}",
                 mutate ? PICK(odd) : "\"TIMCustomElem\"", mutate ? PICK(odd) : "\"x\"", mutate ? PICK(odd) : "\"e\"");
        break;
    case 3:
        snprintf(out, n, "{\"op\":\"history\",\"conversationID\":%s,\"beforeSeq\":%s,\"limit\":%s}", conv, v,
                 mutate ? PICK(odd) : "20");
        break;
    case 4: snprintf(out, n, "{\"op\":\"conversations\",\"limit\":%s}", v); break;
    case 5: snprintf(out, n, "{\"op\":\"read\",\"conversationID\":%s,\"seq\":%s}", conv, v); break;
    case 6:
        snprintf(out, n, "{\"op\":\"sync\",\"cursor\":%s,\"convs\":{%s:%s},\"limit\":%s}", mutate ? PICK(odd) : "\"0\"",
                 rnd() % 2 ? "\"C2Cbob\"" : "\"GROUPg1\"", v, mutate ? PICK(odd) : "100");
        break;
    case 7: snprintf(out, n, "{\"op\":%s}", mutate ? PICK(odd) : "\"ping\""); break;
    default: snprintf(out, n, "{\"op\":\"%s\",\"x\":%s}", mutate ? "nosuchop" : "ping", PICK(odd)); break;
    }
    if (mutate && rnd() % 6 == 0) { /* cut the JSON short (still valid UTF-8) */
        size_t len = strlen(out);
        out[len / 2 + rnd() % (len / 2)] = 0;
    }
}

static void test_ws_mutations(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"bob", NULL};
    it_create_group(s, "g1", "alice", members);
    it_ws *ws[2] = {it_login(s, "alice", "a1"), it_login(s, "bob", "b1")};
    static char req[8192];
    int ok = 0, errs = 0, bad_json = 0;
    for (int i = 0; i < N_REQS; i++) {
        it_ws *w = ws[rnd() % 2];
        int mutate = rnd() % 3 != 0;
        request(req, sizeof req - 32, mutate);
        cJSON *probe = cJSON_Parse(req);
        int is_json = cJSON_IsObject(probe);
        cJSON_Delete(probe);
        if (!is_json) {
            if (it_ws_send_text(w, req) != 0)
                fail_msg("request %d: send failed (%s)", i, req);
            /* No id the server can read: it answers with an error (id null) or nothing;
             * the connection stays. A ping proves it. */
            bad_json++;
            cJSON *p = it_ws_request(w, "{\"op\":\"ping\"}");
            if (!p || it_code(p) != 0)
                fail_msg("request %d [%s]: connection unusable after malformed JSON", i, req);
            cJSON_Delete(p);
            continue;
        }
        int64_t id = it_ws_send_req(w, "%s", req);
        if (id < 0)
            fail_msg("request %d: send failed (%s)", i, req);
        cJSON *r = it_ws_wait_response(w, id, IT_WAIT_MS);
        if (!r)
            fail_msg("request %d [%s]: no response (closed: %d, code %d)", i, req, w->got_close || w->eof,
                     w->close_code);
        int code = it_code(r);
        if (code < 0)
            fail_msg("request %d [%s]: response without a code: %s", i, req, it_jshow(r));
        if (code == 0)
            ok++;
        else
            errs++;
        if (code >= 5000 && code < 6000)
            fail_msg("request %d [%s]: server error %d: %s", i, req, code, it_jshow(r));
        cJSON_Delete(r);
        if (!it_server_alive(s))
            fail_msg("ternd died at request %d [%s]", i, req);
    }
    printf("ok %d, errors %d, malformed %d\n", ok, errs, bad_json);
    assert_true(ok > 200 && errs > 200);

    /* The state still adds up: bob's conversations are consistent with history. */
    cJSON *cv = it_ws_request(ws[1], "{\"op\":\"conversations\",\"limit\":100}");
    assert_non_null(cv);
    assert_int_equal(it_code(cv), 0);
    const cJSON *list = it_jget(cv, "data.conversations");
    const cJSON *c;
    cJSON_ArrayForEach(c, list)
    {
        double last = it_jnum(c, "lastSeq", -1), readseq = it_jnum(c, "readSeq", -1),
               unread = it_jnum(c, "unreadCount", -1);
        assert_true(last >= 0 && readseq >= 0 && readseq <= last);
        assert_true(unread == last - readseq);
        /* Page back through the whole history: seqs last, last-1, ..., 1. */
        double expect = last, before = 0;
        for (;;) {
            cJSON *h =
                it_ws_request(ws[1], "{\"op\":\"history\",\"conversationID\":\"%s\",\"beforeSeq\":%.0f,\"limit\":100}",
                              it_jstr(c, "conversationID"), before);
            assert_non_null(h);
            assert_int_equal(it_code(h), 0);
            const cJSON *m;
            int got = 0;
            cJSON_ArrayForEach(m, it_jget(h, "data.messages"))
            {
                assert_true(it_jnum(m, "seq", -1) == expect);
                before = expect;
                expect--;
                got++;
            }
            int more = cJSON_IsTrue(it_jget(h, "data.more"));
            cJSON_Delete(h);
            if (!more || !got)
                break;
        }
        assert_true(expect == 0);
    }
    cJSON_Delete(cv);
    it_ws_free(ws[0]);
    it_ws_free(ws[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ws_mutations, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_ws_random", tests);
}
