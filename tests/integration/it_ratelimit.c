/*
 * it_ratelimit.c — seed 001's 接口限制 against a real ternd (issue 10; docs/protocol.md
 * §4 "The group rate", docs/rest-api.md): a burst to one group past the app's
 * groupMsgRate gets success for every message, but only about the rate is stored and
 * delivered, the rest (seq 0) are absent from history and counted by
 * tern_group_msgs_shed_total; with mixed priorities High survives over Low; another
 * group and C2C are not affected; the REST group send is limited per app
 * (restGroupSendRate, 429 / 10023) and REST C2C sends are not.
 *
 * The rates are set small (5 and 8 a second) so a slow box stays within a window or
 * two; the counts are bounded by the windows the burst actually spanned (measured),
 * never asserted as times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_setting(it_server *s, const char *key, int v)
{
    char body[96];
    snprintf(body, sizeof body, "{\"%s\":%d}", key, v);
    cJSON *j = it_rest(s, "PUT", body, 200, "/demo/demo/settings");
    cJSON_Delete(j);
}

/* Sends n messages to group gid as fast as the socket takes them (all requests first,
 * then the answers); prio[i % nprio] is each one's priority. Every answer must be a
 * success; stored[i] = 1 when its seq is not 0. Returns the seconds the burst took. */
static double burst(it_ws *w, const char *gid, int n, const char *const *prio, int nprio, int *stored)
{
    int64_t *ids = calloc((size_t)n, sizeof *ids);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        ids[i] = it_ws_send_req(w,
                                "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"%s\",\"type\":"
                                "\"TIMTextElem\",\"payload\":{\"text\":\"m%d\"},\"priority\":\"%s\"}}",
                                gid, i, prio[i % nprio]);
    for (int i = 0; i < n; i++) {
        cJSON *r = it_ws_wait_response(w, ids[i], IT_WAIT_MS);
        it_assert_code(r, 0);
        if (!it_jstr(r, "data.msgId") || !*it_jstr(r, "data.msgId"))
            fail_msg("a send answer without msgId: %s", it_jshow(r));
        stored[i] = it_jnum(r, "data.seq", -1) > 0;
        cJSON_Delete(r);
    }
    double t = now_s() - t0;
    free(ids);
    return t;
}

/* How many one-second windows a burst of t seconds can touch. */
static int windows(double t)
{
    return (int)t + 2;
}

static int history_count(it_ws *w, const char *cid)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"history\",\"conversationID\":\"%s\",\"limit\":100}", cid);
    it_assert_code(r, 0);
    int n = cJSON_GetArraySize(it_jget(r, "data.messages"));
    cJSON_Delete(r);
    return n;
}

static long long metric(it_server *s, const char *name)
{
    it_http_resp r;
    assert_int_equal(it_http(s, "GET", "/metrics", NULL, NULL, &r), 200);
    char want[96];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *p = strstr(r.body, want);
    long long v = p ? strtoll(p + strlen(want), NULL, 10) : -1;
    it_http_resp_free(&r);
    return v;
}

/* alice and bob, and group g1 of both. */
static void setup_group(it_server *s)
{
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"bob", NULL};
    it_create_group(s, "g1", "alice", members);
}

static void test_group_rate(void **state)
{
    it_server *s = *state;
    setup_group(s);
    static const char *const members[] = {"bob", NULL};
    it_create_group(s, "g2", "alice", members);
    set_setting(s, "groupMsgRate", 5);
    it_ws *a = it_login(s, "alice", "a1");
    it_ws *b = it_login(s, "bob", "b1");

    static const char *const normal[] = {"Normal"};
    int stored[40];
    double t = burst(a, "g1", 40, normal, 1, stored);
    int n = 0;
    for (int i = 0; i < 40; i++)
        n += stored[i];
    if (n < 5 || n > 5 * windows(t))
        fail_msg("%d of 40 stored in %.2f s at 5/s", n, t);
    /* Stored is delivered is in history; the shed ones are nowhere. */
    assert_int_equal(history_count(a, "GROUPg1"), n);
    cJSON *p = it_ws_request(b, "{\"op\":\"ping\"}");
    cJSON_Delete(p);
    it_ws_pump(b, 200);
    assert_int_equal((int)it_ws_count_events(b, "msg"), n);
    assert_int_equal((int)metric(s, "tern_group_msgs_shed_total"), 40 - n);

    /* Another group has its own rate, and C2C none. */
    int other[3];
    burst(a, "g2", 3, normal, 1, other);
    assert_int_equal(other[0] + other[1] + other[2], 3);
    for (int i = 0; i < 20; i++)
        assert_true(it_send_text_ok(a, "C2C", "bob", "c2c", NULL, 0) > 0);
}

static void test_priorities(void **state)
{
    it_server *s = *state;
    setup_group(s);
    set_setting(s, "groupMsgRate", 8);
    it_ws *a = it_login(s, "alice", "a1");
    /* High and Low interleaved, 30 each: High gets more of the rate. */
    static const char *const mix[] = {"High", "Low"};
    int stored[60];
    double t = burst(a, "g1", 60, mix, 2, stored);
    int high = 0, low = 0;
    for (int i = 0; i < 60; i++)
        *(i % 2 ? &low : &high) += stored[i];
    if (high <= low || high + low > 8 * windows(t))
        fail_msg("High %d, Low %d stored in %.2f s at 8/s", high, low, t);
    /* A High flood past the rate is shed too. */
    static const char *const hi[] = {"High"};
    t = burst(a, "g1", 40, hi, 1, stored);
    int n = 0;
    for (int i = 0; i < 40; i++)
        n += stored[i];
    if (n == 40 || n > 8 * windows(t))
        fail_msg("a High flood: %d of 40 stored in %.2f s at 8/s", n, t);
}

static void test_rest_group_send_rate(void **state)
{
    it_server *s = *state;
    setup_group(s);
    set_setting(s, "restGroupSendRate", 3);
    const char *tok = it_app_token(s);
    int ok = 0, limited = 0;
    double t0 = now_s();
    for (int i = 0; i < 12; i++) {
        it_http_resp r;
        int st = it_http(s, "POST", "/demo/demo/messages/chatgroups", tok,
                         "{\"from\":\"alice\",\"to\":[\"g1\"],\"type\":\"txt\",\"body\":{\"msg\":\"hi\"}}", &r);
        if (st == 200)
            ok++;
        else if (st == 429 && it_jstr(r.json, "error") && !strcmp(it_jstr(r.json, "error"), "resource_limited") &&
                 (int)it_jnum(r.json, "error_code", -1) == 10023)
            limited++;
        else
            fail_msg("wanted 200 or 429 resource_limited, got %d %s", st, r.body);
        it_http_resp_free(&r);
    }
    double t = now_s() - t0;
    if (ok < 3 || ok > 3 + 3 * (int)(t + 1) || limited < 1)
        fail_msg("REST group sends: %d passed, %d limited in %.2f s at 3/s", ok, limited, t);
    assert_int_equal((int)metric(s, "tern_rest_group_send_limited_total"), limited);

    /* REST group sends count against the group's rate as WebSocket ones do: at 2/s,
     * every request passed answers a message id, but only about the rate is stored.
     * (A new group: g1's window opened at the old rate, which holds until it closes.) */
    static const char *const members[] = {"bob", NULL};
    it_create_group(s, "g2", "alice", members);
    set_setting(s, "groupMsgRate", 2);
    set_setting(s, "restGroupSendRate", 1000);
    it_ws *a = it_login(s, "alice", "a1");
    int before = history_count(a, "GROUPg2");
    t0 = now_s();
    for (int i = 0; i < 10; i++) {
        cJSON *j = it_rest(s, "POST", "{\"from\":\"alice\",\"to\":[\"g2\"],\"type\":\"txt\",\"body\":{\"msg\":\"hi\"}}",
                           200, "/demo/demo/messages/chatgroups");
        if (!it_jstr(j, "data.g2"))
            fail_msg("a REST group send without its message id: %s", it_jshow(j));
        cJSON_Delete(j);
    }
    t = now_s() - t0;
    int stored = history_count(a, "GROUPg2") - before;
    if (stored < 2 || stored > 2 * windows(t))
        fail_msg("REST group sends at 2/s: %d of 10 stored in %.2f s", stored, t);
    /* The C2C REST send is not limited. */
    for (int i = 0; i < 12; i++) {
        cJSON *j =
            it_rest(s, "POST", "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"hi\"}}", 200,
                    "/demo/demo/messages/users");
        cJSON_Delete(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_rate, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_priorities, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_rest_group_send_rate, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_ratelimit", tests);
}
