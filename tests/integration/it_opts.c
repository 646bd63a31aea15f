/*
 * it_opts.c — issue 10's message options of H1 against a real ternd (docs/protocol.md §4
 * send, `conversations`, §6): TIMFaceElem; @ messages (atUserList) and the at-info of
 * the mentioned members' conversations, set by the message, cleared by `read`, kept
 * across a restart; messageControlInfo's excludedFromUnreadCount and
 * excludedFromLastMessage; receiverList, whose message reaches only the listed members
 * and the sender — live (also onlineUserOnly), in history, in sync, as last message —
 * and never counts as unread. Every refusal code of these options is checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define AT_ALL "__kImSDK_MesssageAtALL__"

static void setup_group(it_server *s)
{
    static const char *const u[] = {"alice", "bob", "carol", "dave", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"bob", "carol", NULL};
    it_create_group(s, "g1", "alice", members); /* dave is no member */
}

/* Sends `msg` (the msg object's members) with `opts` (the options object's members, or
 * "") and returns the response. */
static cJSON *send_raw(it_ws *w, const char *msg, const char *opts)
{
    return it_ws_request(w, "{\"op\":\"send\",\"msg\":{%s}%s%s%s}", msg, *opts ? ",\"options\":{" : "", opts,
                         *opts ? "}" : "");
}

/* Sends and asserts success; returns the seq. */
static int64_t send_ok(it_ws *w, const char *msg, const char *opts)
{
    cJSON *r = send_raw(w, msg, opts);
    it_assert_code(r, 0);
    int64_t seq = (int64_t)it_jnum(r, "data.seq", -1);
    cJSON_Delete(r);
    return seq;
}

static void send_code(it_ws *w, const char *msg, const char *opts, int code)
{
    cJSON *r = send_raw(w, msg, opts);
    it_assert_code(r, code);
    cJSON_Delete(r);
}

/* The user's conversation cid from `conversations` (a copy the caller frees), or NULL. */
static cJSON *conv_of(it_ws *w, const char *cid)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"conversations\"}");
    it_assert_code(r, 0);
    const cJSON *c, *list = it_jget(r, "data.conversations");
    cJSON *out = NULL;
    cJSON_ArrayForEach(c, list)
    {
        const char *id = it_jstr(c, "conversationID");
        if (id && !strcmp(id, cid))
            out = cJSON_Duplicate(c, 1);
    }
    cJSON_Delete(r);
    return out;
}

/* Checks a conversation's unreadCount, lastMessage text (NULL: no lastMessage) and
 * atInfo (0: absent) with its seqs. */
static void check_conv(it_ws *w, const char *who, int unread, const char *last_text, int at, int at_me, int at_all)
{
    cJSON *c = conv_of(w, "GROUPg1");
    if (!c)
        fail_msg("%s: no conversation GROUPg1", who);
    const char *t = it_jstr(c, "lastMessage.payload.text");
    int got_at = (int)it_jnum(c, "atInfo", 0);
    if ((int)it_jnum(c, "unreadCount", -1) != unread || (last_text ? !t || strcmp(t, last_text) : t != NULL) ||
        got_at != at || (at && ((int)it_jnum(c, "atMeSeq", -1) != at_me || (int)it_jnum(c, "atAllSeq", -1) != at_all)))
        fail_msg("%s: wanted unread %d, last '%s', atInfo %d (%d, %d); got %s", who, unread,
                 last_text ? last_text : "(none)", at, at_me, at_all, it_jshow(c));
    if (!at && it_jget(c, "atInfo"))
        fail_msg("%s: atInfo present while nothing is pending: %s", who, it_jshow(c));
    cJSON_Delete(c);
}

/* Round-trips a ping so everything sent before is read, then counts msg events. */
static size_t msgs_after_ping(it_ws *w)
{
    cJSON *p = it_ws_request(w, "{\"op\":\"ping\"}");
    it_assert_code(p, 0);
    cJSON_Delete(p);
    it_ws_pump(w, 100);
    return it_ws_count_events(w, "msg");
}

static void read_to(it_ws *w, int64_t seq, int want_unread)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"read\",\"conversationID\":\"GROUPg1\",\"seq\":%lld}", (long long)seq);
    it_assert_code(r, 0);
    if ((int)it_jnum(r, "data.unreadCount", -1) != want_unread)
        fail_msg("read to %lld: wanted unreadCount %d, got %s", (long long)seq, want_unread, it_jshow(r));
    cJSON_Delete(r);
}

#define GTEXT(t)                                                                                                       \
    "\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"" t "\"}"
#define GAT(t, list)                                                                                                   \
    "\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"" t                 \
    "\",\"atUserList\":[" list "]}"

static void test_face(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL);
    send_ok(a,
            "\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMFaceElem\","
            "\"payload\":{\"data\":\"smile\",\"index\":3}",
            "");
    cJSON *ev = it_ws_wait_event(b, "msg", IT_WAIT_MS);
    const char *data = it_jstr(ev, "data.payload.data");
    if (!ev || strcmp(it_jstr(ev, "data.type"), "TIMFaceElem") || (int)it_jnum(ev, "data.payload.index", -1) != 3 ||
        !data || strcmp(data, "smile"))
        fail_msg("face: got %s", it_jshow(ev));
    cJSON_Delete(ev);
    static const char *const bad[] = {"{\"index\":1.5}", "{\"index\":\"3\"}", "{\"data\":\"x\"}",
                                      "{\"index\":4294967296}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char m[256];
        snprintf(m, sizeof m, "\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMFaceElem\",\"payload\":%s",
                 bad[i]);
        send_code(a, m, "", 1003);
    }
    send_code(a,
              "\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMFaceElem\",\"payload\":{\"index\":1,\"x\":1}",
              "", 1012);
}

static void test_at_info(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL), *c = it_login(s, "carol", NULL);
    /* Refusals: C2C (1020), with receivers (1021), bad lists (1003), over 64 (1203). */
    send_code(a,
              "\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\","
              "\"atUserList\":[\"bob\"]}",
              "", 1020);
    send_code(a, GAT("x", "\"bob\"") ",\"receiverList\":[\"bob\"]", "", 1021);
    send_code(a, GAT("x", ""), "", 1003);
    send_code(a, GAT("x", "\"bob\",\"bob\""), "", 1003);
    send_code(a, GAT("x", "7"), "", 1003);
    char big[2048];
    int n = snprintf(big, sizeof big, "%s", GAT("x", "\"u0\""));
    n -= 2; /* before "]}" */
    for (int i = 1; i <= 64; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, ",\"u%d\"", i);
    snprintf(big + n, sizeof big - (size_t)n, "]}");
    send_code(a, big, "", 1203);

    int64_t s1 = send_ok(a, GTEXT("plain"), "");
    check_conv(b, "bob before @", 1, "plain", 0, 0, 0);
    /* @bob (and a non-member, ignored for at-info): bob has AT_ME, carol nothing. */
    int64_t s2 = send_ok(a, GAT("hi bob", "\"bob\",\"dave\",\"nobody\""), "");
    check_conv(b, "bob after @bob", 2, "hi bob", 1, (int)s2, 0);
    check_conv(c, "carol after @bob", 2, "hi bob", 0, 0, 0);
    /* @ALL: bob AT_ALL_AT_ME, carol AT_ALL, the sender nothing. */
    int64_t s3 = send_ok(a, GAT("all", "\"" AT_ALL "\""), "");
    check_conv(b, "bob after @all", 3, "all", 3, (int)s2, (int)s3);
    check_conv(c, "carol after @all", 3, "all", 2, 0, (int)s3);
    check_conv(a, "alice (sender)", 0, "all", 0, 0, 0);
    /* The event carries the list as sent. */
    cJSON *ev = NULL;
    for (int i = 0; i < 3; i++) {
        cJSON_Delete(ev);
        ev = it_ws_wait_event(b, "msg", IT_WAIT_MS);
    }
    const cJSON *list = it_jget(ev, "data.payload.atUserList");
    if (cJSON_GetArraySize(list) != 1 || strcmp(cJSON_GetArrayItem(list, 0)->valuestring, AT_ALL))
        fail_msg("@all event: got %s", it_jshow(ev));
    cJSON_Delete(ev);
    /* bob reads past his @ but not the @all: AT_ALL remains; then all of it. */
    read_to(b, s2, 1);
    check_conv(b, "bob read to s2", 1, "all", 2, 0, (int)s3);
    (void)s1;

    /* A restart keeps at-info (it is stored). */
    it_ws_free(a);
    it_ws_free(b);
    it_ws_free(c);
    int st = 0;
    assert_int_equal(it_server_stop(s, 10000, &st), 0);
    assert_int_equal(it_server_restart(s), 0);
    b = it_login(s, "bob", NULL);
    c = it_login(s, "carol", NULL);
    check_conv(b, "bob after restart", 1, "all", 2, 0, (int)s3);
    check_conv(c, "carol after restart", 3, "all", 2, 0, (int)s3);
    read_to(c, s3, 0);
    check_conv(c, "carol read all", 0, "all", 0, 0, 0);
    read_to(b, s3, 0);
    check_conv(b, "bob read all", 0, "all", 0, 0, 0);
}

/* Messages of GROUPg1 in a history answer for w (newest first): their texts joined by
 * ','; with flags, each text followed by ':' and U for isExcludedFromUnreadCount, L for
 * isExcludedFromLastMessage (server/msg.h msg_fields_flags: what a receiver's client
 * keeps its conversation list by). */
static void history_of(it_ws *w, char *out, size_t outsz, int flags)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"history\",\"conversationID\":\"GROUPg1\",\"limit\":100}");
    it_assert_code(r, 0);
    out[0] = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, it_jget(r, "data.messages"))
    {
        const char *t = it_jstr(m, "payload.text");
        size_t l = strlen(out);
        snprintf(out + l, outsz - l, "%s%s", l ? "," : "", t ? t : "?");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "isExcludedFromUnreadCount"),
                    *x = cJSON_GetObjectItemCaseSensitive(m, "isExcludedFromLastMessage");
        if ((u && !cJSON_IsTrue(u)) || (x && !cJSON_IsTrue(x)))
            fail_msg("a flag present but not true: %s", it_jshow(m));
        l = strlen(out);
        if (flags)
            snprintf(out + l, outsz - l, ":%s%s", u ? "U" : "", x ? "L" : "");
    }
    cJSON_Delete(r);
}

static void test_control_info(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL);
    send_ok(a, GTEXT("one"), "");
    check_conv(b, "one", 1, "one", 0, 0, 0);
    /* excludedFromUnreadCount: delivered and shown last, not counted. */
    int64_t s2 = send_ok(a, GTEXT("quiet"), "\"messageControlInfo\":{\"excludedFromUnreadCount\":true}");
    check_conv(b, "quiet", 1, "quiet", 0, 0, 0);
    /* excludedFromLastMessage: counted, not shown last. */
    int64_t s3 = send_ok(a, GTEXT("hidden"), "\"messageControlInfo\":{\"excludedFromLastMessage\":true}");
    check_conv(b, "hidden", 2, "quiet", 0, 0, 0);
    /* Both: neither. */
    int64_t s4 = send_ok(a, GTEXT("both"),
                         "\"messageControlInfo\":{\"excludedFromUnreadCount\":true,\"excludedFromLastMessage\":true}");
    check_conv(b, "both", 2, "quiet", 0, 0, 0);
    cJSON *c = conv_of(b, "GROUPg1");
    assert_int_equal((int)it_jnum(c, "lastSeq", -1), (int)s4); /* lastSeq is the true last */
    cJSON_Delete(c);
    /* All four were delivered. */
    assert_int_equal((int)msgs_after_ping(b), 4);
    /* The read answer counts the same way. */
    read_to(b, s2, 1); /* left: "hidden" */
    read_to(b, s3, 0);
    check_conv(b, "read to hidden", 0, "quiet", 0, 0, 0);
    /* A plain message after them is counted and shown. */
    send_ok(a, GTEXT("loud"), "");
    check_conv(b, "loud", 1, "loud", 0, 0, 0);
    /* The stored objects carry the flags, only where set (the others keep their bytes). */
    char h[256];
    history_of(b, h, sizeof h, 1);
    assert_string_equal(h, "loud:,both:UL,hidden:L,quiet:U,one:");
    /* Seed 001 note 5: never with onlineUserOnly (1013). */
    send_code(a, GTEXT("x"), "\"onlineUserOnly\":true,\"messageControlInfo\":{\"excludedFromUnreadCount\":true}", 1013);
}

static void sync_texts(it_ws *w, char *out, size_t outsz)
{
    cJSON *all = cJSON_CreateArray();
    if (it_sync_all(w, "0", "{}", 100, all, NULL, 0) < 0)
        fail_msg("sync failed");
    out[0] = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, all)
    {
        const char *t = it_jstr(m, "payload.text");
        size_t l = strlen(out);
        snprintf(out + l, outsz - l, "%s%s", l ? "," : "", t ? t : "?");
    }
    cJSON_Delete(all);
}

static void test_receivers(void **state)
{
    it_server *s = *state;
    setup_group(s);
    it_ws *a = it_login(s, "alice", NULL), *b = it_login(s, "bob", NULL), *c = it_login(s, "carol", NULL);
    /* Refusals: a non-member (1022), C2C (1020), over 50 (1203), empty (1003). */
    send_code(a, GTEXT("x") ",\"receiverList\":[\"bob\",\"dave\"]", "", 1022);
    send_code(a, GTEXT("x") ",\"receiverList\":[\"ghost\"]", "", 1022);
    send_code(a,
              "\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
              "\"receiverList\":[\"bob\"]",
              "", 1020);
    send_code(a, GTEXT("x") ",\"receiverList\":[]", "", 1003);
    char big[1024];
    int n = snprintf(big, sizeof big, "%s,\"receiverList\":[\"bob\"", GTEXT("x"));
    for (int i = 1; i <= 50; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, ",\"r%d\"", i);
    snprintf(big + n, sizeof big - (size_t)n, "]");
    send_code(a, big, "", 1203);
    assert_int_equal((int)msgs_after_ping(b), 0);
    assert_int_equal((int)msgs_after_ping(c), 0);

    send_ok(a, GTEXT("public"), "");
    int64_t sp = send_ok(a, GTEXT("secret") ",\"receiverList\":[\"bob\"]", "");
    send_ok(a, GTEXT("whisper") ",\"receiverList\":[\"bob\"]", "\"onlineUserOnly\":true");
    /* Live: bob gets all three, carol only the public one. */
    assert_int_equal((int)msgs_after_ping(b), 3);
    assert_int_equal((int)msgs_after_ping(c), 1);
    /* History and sync: carol never sees it; bob and alice do. */
    char h[512];
    history_of(c, h, sizeof h, 0);
    assert_string_equal(h, "public");
    history_of(b, h, sizeof h, 0);
    assert_string_equal(h, "secret,public");
    history_of(a, h, sizeof h, 0);
    assert_string_equal(h, "secret,public");
    history_of(b, h, sizeof h, 1); /* a receiverList message never counts as unread */
    assert_string_equal(h, "secret:U,public:");
    sync_texts(c, h, sizeof h);
    assert_string_equal(h, "public");
    sync_texts(b, h, sizeof h);
    assert_string_equal(h, "public,secret");
    /* Conversation list: not unread for anyone; the last message only for its readers. */
    check_conv(c, "carol", 1, "public", 0, 0, 0);
    check_conv(b, "bob", 1, "secret", 0, 0, 0);
    check_conv(a, "alice", 0, "secret", 0, 0, 0);
    /* REST: the same answers for the same users. */
    static const char *const rest_want[][2] = {{"carol", "1:1"}, {"bob", "2:1"}};
    for (int i = 0; i < 2; i++) {
        cJSON *hj = it_rest(s, "GET", NULL, 200, "/demo/demo/users/%s/conversations/GROUPg1/messages", rest_want[i][0]);
        cJSON *cj = it_rest(s, "GET", NULL, 200, "/demo/demo/users/%s/conversations", rest_want[i][0]);
        char got[16];
        snprintf(got, sizeof got, "%d:%d", cJSON_GetArraySize(it_jget(hj, "data.messages")),
                 (int)it_jnum(cJSON_GetArrayItem(it_jget(cj, "data.conversations"), 0), "unreadCount", -1));
        /* The oldest message each sees is the public one; carol sees nothing else. */
        int nm = cJSON_GetArraySize(it_jget(hj, "data.messages"));
        const char *t = it_jstr(cJSON_GetArrayItem(it_jget(hj, "data.messages"), nm - 1), "payload.text");
        if (strcmp(got, rest_want[i][1]) || !t || strcmp(t, "public"))
            fail_msg("REST as %s: wanted messages:unread %s, got %s (%s)", rest_want[i][0], rest_want[i][1], got,
                     it_jshow(hj));
        cJSON_Delete(hj);
        cJSON_Delete(cj);
    }
    cJSON *cv = conv_of(c, "GROUPg1");
    assert_int_equal((int)it_jnum(cv, "lastSeq", -1), (int)sp); /* the gap is named, not hidden */
    cJSON_Delete(cv);
    /* A later message for everyone is everyone's again. */
    send_ok(a, GTEXT("after"), "");
    check_conv(c, "carol after", 2, "after", 0, 0, 0);
    /* Sync from carol's known seqs: nothing loops on the gap. */
    cJSON *all = cJSON_CreateArray();
    char convs[64];
    snprintf(convs, sizeof convs, "{\"GROUPg1\":%lld}", (long long)sp);
    assert_int_equal(it_sync_all(c, "0", convs, 100, all, NULL, 0), 1);
    assert_int_equal(cJSON_GetArraySize(all), 1);
    cJSON_Delete(all);
    /* A new member after the fact does not see the old private message either. */
    cJSON *j = it_rest(s, "POST", NULL, 200, "/demo/demo/chatgroups/g1/users/dave");
    cJSON_Delete(j);
    it_ws *d = it_login(s, "dave", NULL);
    history_of(d, h, sizeof h, 0);
    assert_string_equal(h, "after,public");
    it_ws_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_face, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_at_info, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_control_info, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_receivers, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_opts", tests);
}
