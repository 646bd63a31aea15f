/*
 * it_receipts.c — read receipts against a real ternd (issue 10; docs/protocol.md §4
 * `receipts`, `receiptMembers`, §5 `receipt`): a C2C message sent with needReadReceipt
 * gives its sender a `receipt` event when the peer reads past it, and a message
 * without it gives none; a group message counts each member who reads past it once
 * (across devices), its sender gets `receipt` events with the counts, and can ask the
 * counts and the readers / non-readers (paged); others get 1040; everything survives a
 * restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Sends a text message with needReadReceipt (need = 1) or without; returns the seq and
 * the msgId in mid. */
static int64_t send_rcpt(it_ws *w, const char *type, const char *to, const char *text, int need, char *mid,
                         size_t midsz)
{
    cJSON *r = it_ws_request(w,
                             "{\"op\":\"send\",\"msg\":{\"conversationType\":\"%s\",\"to\":\"%s\",\"type\":"
                             "\"TIMTextElem\",\"payload\":{\"text\":\"%s\"},\"needReadReceipt\":%s}}",
                             type, to, text, need ? "true" : "false");
    it_assert_code(r, 0);
    int64_t seq = (int64_t)it_jnum(r, "data.seq", -1);
    if (mid)
        snprintf(mid, midsz, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
    return seq;
}

static void mark_read(it_ws *w, const char *cid, int64_t seq)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"read\",\"conversationID\":\"%s\",\"seq\":%lld}", cid, (long long)seq);
    it_assert_code(r, 0);
    cJSON_Delete(r);
}

/* A ping round trip: everything sent to w before it is in w's queue afterwards. */
static void settle(it_ws *w)
{
    cJSON *p = it_ws_request(w, "{\"op\":\"ping\"}");
    it_assert_code(p, 0);
    cJSON_Delete(p);
}

/* The counts of one message through `receipts`; asserts code 0 for the request. */
static void expect_counts(it_ws *w, const char *mid, int read, int unread)
{
    cJSON *r = it_ws_request(w, "{\"op\":\"receipts\",\"msgIds\":[\"%s\"]}", mid);
    it_assert_code(r, 0);
    const cJSON *e = cJSON_GetArrayItem(it_jget(r, "data.receipts"), 0);
    if (!e || !it_jstr(e, "msgId") || strcmp(it_jstr(e, "msgId"), mid) || it_jnum(e, "code", 0) != 0 ||
        (int)it_jnum(e, "readCount", -1) != read || (int)it_jnum(e, "unreadCount", -1) != unread)
        fail_msg("receipts %s: wanted read %d unread %d, got %s", mid, read, unread, it_jshow(r));
    cJSON_Delete(r);
}

/* Collects the users of a receiptMembers listing, page by page (limit per page), into
 * out (comma-separated); returns the number of pages. */
static int list_members(it_ws *w, const char *mid, const char *filter, int limit, char *out, size_t outsz)
{
    char cursor[80] = "";
    int pages = 0;
    out[0] = 0;
    for (;;) {
        cJSON *r = it_ws_request(
            w, "{\"op\":\"receiptMembers\",\"msgId\":\"%s\",\"filter\":\"%s\",\"cursor\":\"%s\",\"limit\":%d}", mid,
            filter, cursor, limit);
        it_assert_code(r, 0);
        pages++;
        const cJSON *m;
        cJSON_ArrayForEach(m, it_jget(r, "data.members"))
        {
            if (out[0])
                strncat(out, ",", outsz - strlen(out) - 1);
            strncat(out, it_jstr(m, "user"), outsz - strlen(out) - 1);
            if (!strcmp(filter, "read") && it_jnum(m, "readTime", 0) <= 0)
                fail_msg("a reader without readTime: %s", it_jshow(r));
        }
        int more = cJSON_IsTrue(it_jget(r, "data.more"));
        snprintf(cursor, sizeof cursor, "%s", it_jstr(r, "data.cursor") ? it_jstr(r, "data.cursor") : "");
        cJSON_Delete(r);
        if (!more)
            break;
        if (pages > 20)
            fail_msg("receiptMembers does not end");
    }
    return pages;
}

/* A request (printf format) whose answer must carry code. */
static void __attribute__((format(printf, 3, 4))) expect_code(it_ws *w, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int64_t id = it_ws_vsend_req(w, fmt, ap);
    va_end(ap);
    cJSON *r = it_ws_wait_response(w, id, IT_WAIT_MS);
    it_assert_code(r, code);
    cJSON_Delete(r);
}

static void test_c2c_receipt(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    it_ws *a1 = it_login(s, "alice", "a1");
    it_ws *a2 = it_login(s, "alice", "a2");
    it_ws *b = it_login(s, "bob", "b1");

    /* Without needReadReceipt: bob's read produces no receipt event. */
    int64_t s1 = send_rcpt(a1, "C2C", "bob", "plain", 0, NULL, 0);
    mark_read(b, "C2Calice", s1);
    settle(a1);
    settle(a2);
    it_ws_pump(a1, 200);
    assert_int_equal((int)it_ws_count_events(a1, "receipt"), 0);
    assert_int_equal((int)it_ws_count_events(a2, "receipt"), 0);

    /* With it: each of alice's sessions learns bob's read position. */
    char mid[32];
    int64_t s2 = send_rcpt(a1, "C2C", "bob", "needs a receipt", 1, mid, sizeof mid);
    int64_t s3 = send_rcpt(a1, "C2C", "bob", "plain again", 0, NULL, 0);
    expect_counts(a1, mid, 0, 1);
    mark_read(b, "C2Calice", s3);
    it_ws *as[] = {a1, a2};
    for (int i = 0; i < 2; i++) {
        cJSON *ev = it_ws_wait_event(as[i], "receipt", IT_WAIT_MS);
        if (!ev || !it_jstr(ev, "data.conversationID") || strcmp(it_jstr(ev, "data.conversationID"), "C2Cbob") ||
            (int64_t)it_jnum(ev, "data.peerReadSeq", -1) != s3 || it_jnum(ev, "data.peerReadTime", 0) <= 0)
            fail_msg("C2C receipt: wanted {C2Cbob, peerReadSeq %lld, peerReadTime}, got %s", (long long)s3,
                     it_jshow(ev));
        cJSON_Delete(ev);
    }
    assert_true(s2 > s1);
    expect_counts(a1, mid, 1, 0);
    char who[256];
    list_members(a1, mid, "read", 10, who, sizeof who);
    assert_string_equal(who, "bob");
    list_members(a1, mid, "unread", 10, who, sizeof who);
    assert_string_equal(who, "");

    /* Reading again (nothing new) sends nothing. */
    it_ws_clear(a1);
    mark_read(b, "C2Calice", s3);
    settle(a1);
    it_ws_pump(a1, 200);
    assert_int_equal((int)it_ws_count_events(a1, "receipt"), 0);

    /* Bob did not send it: 1040, the same as for a message that does not exist or a
     * message without needReadReceipt. */
    cJSON *r = it_ws_request(b, "{\"op\":\"receipts\",\"msgIds\":[\"%s\",\"12345\"]}", mid);
    it_assert_code(r, 0);
    assert_int_equal((int)it_jnum(cJSON_GetArrayItem(it_jget(r, "data.receipts"), 0), "code", 0), 1040);
    assert_int_equal((int)it_jnum(cJSON_GetArrayItem(it_jget(r, "data.receipts"), 1), "code", 0), 1040);
    cJSON_Delete(r);
    expect_code(b, 1040, "{\"op\":\"receiptMembers\",\"msgId\":\"%s\",\"filter\":\"read\"}", mid);
    /* Malformed requests. */
    expect_code(a1, 1003, "{\"op\":\"receipts\",\"msgIds\":[]}");
    expect_code(a1, 1003, "{\"op\":\"receipts\",\"msgIds\":[12]}");
    expect_code(a1, 1003, "{\"op\":\"receiptMembers\",\"msgId\":\"%s\",\"filter\":\"all\"}", mid);
}

static void test_group_receipts(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "m1", "m2", "m3", "m4", "m5", "late", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"m1", "m2", "m3", "m4", "m5", NULL};
    it_create_group(s, "g1", "alice", members);
    it_ws *a = it_login(s, "alice", "a1");
    it_ws *m1a = it_login(s, "m1", "d1");
    it_ws *m1b = it_login(s, "m1", "d2");
    it_ws *m2 = it_login(s, "m2", "d1");
    it_ws *m3 = it_login(s, "m3", "d1");

    char plain[32], mid[32], mid2[32];
    send_rcpt(a, "GROUP", "g1", "plain", 0, plain, sizeof plain);
    int64_t seq = send_rcpt(a, "GROUP", "g1", "receipt please", 1, mid, sizeof mid);
    int64_t seq2 = send_rcpt(a, "GROUP", "g1", "and this one", 1, mid2, sizeof mid2);
    expect_counts(a, mid, 0, 5);
    /* A member who joins later never counts. */
    cJSON *j = it_rest(s, "POST", NULL, 200, "/demo/demo/chatgroups/g1/users/late");
    cJSON_Delete(j);

    /* m1 reads past the first one on one device, then past both on the other: counted
     * once for each message. */
    mark_read(m1a, "GROUPg1", seq);
    cJSON *ev = it_ws_wait_event(a, "receipt", IT_WAIT_MS);
    if (!ev || strcmp(it_jstr(ev, "data.conversationID"), "GROUPg1") || strcmp(it_jstr(ev, "data.msgId"), mid) ||
        (int)it_jnum(ev, "data.readCount", -1) != 1 || (int)it_jnum(ev, "data.unreadCount", -1) != 4)
        fail_msg("group receipt: wanted {GROUPg1, %s, 1, 4}, got %s", mid, it_jshow(ev));
    cJSON_Delete(ev);
    mark_read(m1b, "GROUPg1", seq2);
    ev = it_ws_wait_event(a, "receipt", IT_WAIT_MS);
    if (!ev || strcmp(it_jstr(ev, "data.msgId"), mid2) || (int)it_jnum(ev, "data.readCount", -1) != 1)
        fail_msg("group receipt of the second: wanted {%s, 1}, got %s", mid2, it_jshow(ev));
    cJSON_Delete(ev);
    mark_read(m1a, "GROUPg1", seq2); /* again: nothing new */
    mark_read(m2, "GROUPg1", seq2);
    mark_read(m3, "GROUPg1", seq);
    it_ws *late = it_login(s, "late", "d1");
    cJSON *r = it_ws_request(late, "{\"op\":\"conversations\"}");
    cJSON_Delete(r);
    mark_read(late, "GROUPg1", seq2 + 5);
    settle(a);
    expect_counts(a, mid, 3, 2);  /* m1 m2 m3 read; m4 m5 not */
    expect_counts(a, mid2, 2, 3); /* m1 m2 */
    r = it_ws_request(a, "{\"op\":\"receipts\",\"msgIds\":[\"%s\",\"%s\",\"%s\"]}", mid, plain, mid2);
    it_assert_code(r, 0);
    assert_int_equal((int)it_jnum(cJSON_GetArrayItem(it_jget(r, "data.receipts"), 1), "code", 0), 1040);
    assert_int_equal((int)it_jnum(cJSON_GetArrayItem(it_jget(r, "data.receipts"), 2), "readCount", -1), 2);
    cJSON_Delete(r);

    /* Who read and who did not, two per page. */
    char who[256];
    assert_int_equal(list_members(a, mid, "read", 2, who, sizeof who), 2);
    assert_string_equal(who, "m1,m2,m3");
    list_members(a, mid, "unread", 2, who, sizeof who);
    assert_string_equal(who, "m4,m5");
    list_members(a, mid2, "unread", 1, who, sizeof who);
    assert_string_equal(who, "m3,m4,m5");

    /* Every event went to the sender only, and m1's double read made no extra event. */
    settle(m2);
    assert_int_equal((int)it_ws_count_events(m2, "receipt"), 0);

    /* After a restart the counts and lists are the same, and counting goes on. */
    it_ws_free(a);
    it_ws_free(m1a);
    it_ws_free(m1b);
    it_ws_free(m2);
    it_ws_free(m3);
    it_ws_free(late);
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    assert_int_equal(it_server_restart(s), 0);
    a = it_login(s, "alice", "a1");
    expect_counts(a, mid, 3, 2);
    list_members(a, mid, "read", 10, who, sizeof who);
    assert_string_equal(who, "m1,m2,m3");
    it_ws *m4 = it_login(s, "m4", "d1");
    mark_read(m4, "GROUPg1", seq2);
    ev = it_ws_wait_event(a, "receipt", IT_WAIT_MS);
    if (!ev || (int)it_jnum(ev, "data.readCount", -1) < 3)
        fail_msg("receipt after restart: got %s", it_jshow(ev));
    cJSON_Delete(ev);
    settle(a);
    expect_counts(a, mid, 4, 1);
    expect_counts(a, mid2, 3, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_c2c_receipt, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_group_receipts, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_receipts", tests);
}
