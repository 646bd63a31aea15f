/*
 * test_sdk_logic.c — unit tests of libtern's pure logic: server URL parsing, reconnect
 * backoff, the per-conversation dedupe record (seqset), and the message JSON codec.
 * The SDK is not part of tern_server, so the modules under test are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sdk/elem_msg.c"
#include "sdk/media_msg.c"
#include "sdk/message.c"
#include "sdk/sdk_util.c"
#include "sdk/send_opts.c"
#include "sdk/seqset.c"

/* message.c's tern_create_*_message ask the client for its user; no client here. */
const char *tern_client_user(const tern_client *c)
{
    (void)c;
    return "alice";
}

static void test_url(void **state)
{
    sdk_url u;
    assert_int_equal(sdk_url_parse("ws://127.0.0.1:8080", &u), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.path, "/ws");
    assert_string_equal(u.host_header, "127.0.0.1:8080");
    assert_int_equal(sdk_url_parse("http://example.org/chat/ws?x=1", &u), 0);
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/chat/ws?x=1");
    assert_int_equal(sdk_url_parse("ws://[::1]:9/", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.host_header, "[::1]:9");
    assert_string_equal(u.path, "/ws");
    assert_int_equal(u.tls, 0);
    assert_int_equal(sdk_url_parse("wss://h:1", &u), 0);
    assert_int_equal(u.tls, 1);
    assert_string_equal(u.port, "1");
    assert_int_equal(sdk_url_parse("https://chat.example.org/t", &u), 0);
    assert_int_equal(u.tls, 1);
    assert_string_equal(u.port, "443");
    assert_string_equal(u.host_header, "chat.example.org:443");
    assert_string_equal(u.path, "/t");
    assert_int_equal(sdk_url_parse("ws://h", &u), 0);
    assert_int_equal(u.tls, 0); /* not left over from the previous parse */
    assert_int_equal(sdk_url_parse("ftp://h", &u), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(sdk_url_parse("wss:/h", &u), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(sdk_url_parse("ws://:80", &u), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(sdk_url_parse("ws://h:0", &u), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(sdk_url_parse("ws://h:70000", &u), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(sdk_url_parse("ws://h:80x", &u), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(sdk_url_parse("ws://h/a b", &u), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(sdk_url_parse("ws://h\r\n:1", &u), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(sdk_url_parse(NULL, &u), TERN_ERR_SDK_INVALID_ARG);
}

static void test_backoff(void **state)
{
    assert_int_equal(sdk_backoff_ms(1, 500, 30000, 0.5), 500);
    assert_int_equal(sdk_backoff_ms(2, 500, 30000, 0.5), 1000);
    assert_int_equal(sdk_backoff_ms(3, 500, 30000, 0.5), 2000);
    assert_int_equal(sdk_backoff_ms(1, 500, 30000, 0.0), 400);
    assert_int_equal(sdk_backoff_ms(40, 500, 30000, 0.5), 30000);
    assert_true(sdk_backoff_ms(40, 500, 30000, 0.999) <= 30000);
    assert_true(sdk_backoff_ms(40, 500, 30000, 0.0) >= 24000);
    for (int i = 0; i < 100; i++) {
        double r = sdk_random_unit();
        assert_true(r >= 0 && r < 1);
    }
    char a[33], b[33];
    sdk_random_hex_id(a);
    sdk_random_hex_id(b);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
}

static void test_seqset_basic(void **state)
{
    seqset s;
    sdk_seqset_init(&s);
    /* First contact anchors: earlier seqs are history, not missed messages. */
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 10), 1);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 10), 0);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 9), 0);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 11), 1);
    /* A gap stays deliverable until filled. */
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 13), 1);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 12), 1);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 12), 0);
    assert_int_equal(sdk_seqset_max(&s, "C2Cbob"), 13);
    /* onlineUserOnly messages (seq 0) are never deduped. */
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 0), 1);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 0), 1);
    /* Many conversations (hash growth). */
    char conv[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(conv, sizeof conv, "GROUPg%d", i);
        assert_int_equal(sdk_seqset_receive(&s, conv, (uint64_t)i + 1), 1);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(conv, sizeof conv, "GROUPg%d", i);
        assert_int_equal(sdk_seqset_receive(&s, conv, (uint64_t)i + 1), 0);
        assert_true(sdk_seqset_has(&s, conv, (uint64_t)i + 1));
    }
    sdk_seqset_free(&s);
}

static void add_base(void *ud, const char *conv, uint64_t base)
{
    if (!strcmp(conv, "C2Cbob"))
        *(uint64_t *)ud = base;
    else if (!strcmp(conv, "C2Ccarol"))
        *((uint64_t *)ud + 1) = base + 1000; /* must not be called: unanchored */
}

static void test_seqset_own_race(void **state)
{
    seqset s;
    sdk_seqset_init(&s);
    /* Our own ack (seq 2) arrives before the peer's earlier message (seq 1) in a new
     * conversation: the peer's message must still be delivered. */
    sdk_seqset_own(&s, "C2Cbob", 2);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 1), 1);
    /* Our own message echoed by sync is dropped. */
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 2), 0);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 3), 1);
    /* Anchored: own seq 5 before the peer's 4. */
    sdk_seqset_own(&s, "C2Cbob", 5);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 4), 1);
    assert_int_equal(sdk_seqset_receive(&s, "C2Cbob", 5), 0);
    /* Unanchored conversations stay out of the sync map (the cursor covers them). */
    sdk_seqset_own(&s, "C2Ccarol", 7);
    uint64_t bases[2] = {0, 0};
    sdk_seqset_foreach_anchored(&s, add_base, bases);
    assert_int_equal(bases[0], 5);
    assert_int_equal(bases[1], 0);
    sdk_seqset_free(&s);
}

static void test_seqset_bounded(void **state)
{
    seqset s;
    sdk_seqset_init(&s);
    assert_int_equal(sdk_seqset_receive(&s, "c", 1), 1);
    /* A hole at 2 that never fills: the record stays bounded. */
    for (uint64_t q = 3; q < 3 + 3 * SEQSET_MAX_ABOVE; q++)
        assert_int_equal(sdk_seqset_receive(&s, "c", q), 1);
    seq_entry *e = find(&s, "c");
    assert_non_null(e);
    assert_true(e->n <= SEQSET_MAX_ABOVE);
    sdk_seqset_free(&s);
}

static void test_message_codec(void **state)
{
    const char *js = "{\"msgId\":\"7264021817339904001\",\"seq\":5,\"time\":1763779200123,"
                     "\"conversationType\":\"C2C\",\"from\":\"bob\",\"to\":\"alice\","
                     "\"clientMsgId\":\"abc\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"h\\u00e9\"},"
                     "\"cloudCustomData\":\"cd\",\"priority\":\"High\",\"needReadReceipt\":true}";
    cJSON *root = cJSON_Parse(js);
    tern_message *m = sdk_msg_from_json(root, "alice");
    cJSON_Delete(root);
    assert_non_null(m);
    assert_string_equal(tern_message_id(m), "7264021817339904001");
    assert_int_equal(tern_message_seq(m), 5);
    assert_int_equal(tern_message_time(m), 1763779200123LL);
    assert_string_equal(tern_message_conversation_id(m), "C2Cbob");
    assert_string_equal(tern_message_text(m), "h\xc3\xa9");
    assert_string_equal(tern_message_cloud_custom_data(m), "cd");
    assert_int_equal(tern_message_priority(m), TERN_PRIORITY_HIGH);
    assert_int_equal(tern_message_need_read_receipt(m), 1);
    assert_int_equal(tern_message_status(m), TERN_MSG_STATUS_RECEIVED);
    assert_int_equal(tern_message_set_priority(m, TERN_PRIORITY_LOW), TERN_ERR_SDK_INVALID_ARG);
    assert_non_null(tern_message_json(m));
    tern_message_release(m);

    /* Seen from the sender's side the conversation is the recipient's. */
    root = cJSON_Parse("{\"msgId\":\"1\",\"seq\":1,\"conversationType\":\"C2C\",\"from\":\"alice\",\"to\":\"bob\","
                       "\"type\":\"X\"}");
    m = sdk_msg_from_json(root, "alice");
    cJSON_Delete(root);
    assert_string_equal(tern_message_conversation_id(m), "C2Cbob");
    assert_int_equal(tern_message_type(m), TERN_MSG_UNKNOWN);
    assert_string_equal(tern_message_payload_json(m), "{}");
    tern_message_release(m);

    /* Malformed: no msgId, or a msgId that is not a decimal id. */
    root = cJSON_Parse("{\"seq\":1,\"conversationType\":\"GROUP\",\"from\":\"a\",\"to\":\"g\",\"type\":\"X\"}");
    assert_null(sdk_msg_from_json(root, "alice"));
    cJSON_Delete(root);
    root = cJSON_Parse("{\"msgId\":\"x1\",\"conversationType\":\"GROUP\",\"from\":\"a\",\"to\":\"g\",\"type\":\"X\"}");
    assert_null(sdk_msg_from_json(root, "alice"));
    cJSON_Delete(root);
}

static void test_draft(void **state)
{
    tern_message *m =
        sdk_msg_new_draft("alice", TERN_CONV_GROUP, "g1", TERN_MSG_TEXT, "say \"hi\"\n", NULL, NULL, NULL);
    assert_non_null(m);
    assert_int_equal(strlen(tern_message_client_msg_id(m)), 32);
    assert_string_equal(tern_message_conversation_id(m), "GROUPg1");
    assert_null(tern_message_json(m));
    assert_int_equal(tern_message_set_cloud_custom_data(m, "{\"k\":1}"), 0);
    assert_int_equal(tern_message_set_client_msg_id(m, "id-1"), 0);
    assert_int_equal(tern_message_set_client_msg_id(m, "bad\nid"), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(tern_message_set_priority(m, TERN_PRIORITY_LOWEST), 0);
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_send_options so = {.online_user_only = 1};
    sdk_send_extra *sx;
    assert_int_equal(sdk_send_extra_new(&so, &sx), 0);
    assert_int_equal(sdk_msg_encode_send(&b, m, sx), 0);
    sdk_send_extra_free(sx);
    char *js = tern_malloc(b.len + 2);
    js[0] = '{';
    memcpy(js + 1, b.data + 1, b.len - 1); /* drop the leading comma */
    js[b.len] = '}';
    js[b.len + 1] = 0;
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
    assert_string_equal(tern_json_str(msg, "conversationType"), "GROUP");
    assert_string_equal(tern_json_str(msg, "to"), "g1");
    assert_string_equal(tern_json_str(msg, "clientMsgId"), "id-1");
    assert_string_equal(tern_json_str(msg, "cloudCustomData"), "{\"k\":1}");
    assert_string_equal(tern_json_str(msg, "priority"), "Lowest");
    assert_string_equal(tern_json_str(cJSON_GetObjectItemCaseSensitive(msg, "payload"), "text"), "say \"hi\"\n");
    assert_true(tern_json_true(cJSON_GetObjectItemCaseSensitive(root, "options"), "onlineUserOnly"));
    cJSON_Delete(root);
    tern_free(js);
    tern_buf_free(&b);

    sdk_msg_apply_ack(m, "99", 7, 123, "GROUPg1", 0);
    assert_int_equal(tern_message_status(m), TERN_MSG_STATUS_SENT);
    assert_string_equal(tern_message_id(m), "99");
    root = cJSON_Parse(tern_message_json(m));
    assert_non_null(root);
    assert_string_equal(tern_json_str(root, "msgId"), "99");
    cJSON_Delete(root);
    tern_message_release(m);

    /* Invalid drafts. */
    assert_null(sdk_msg_new_draft("alice", TERN_CONV_C2C, "bad id", TERN_MSG_TEXT, "x", NULL, NULL, NULL));
    assert_null(sdk_msg_new_draft("alice", TERN_CONV_C2C, "bob", TERN_MSG_TEXT, "\xff", NULL, NULL, NULL));
    assert_null(sdk_msg_new_draft("alice", 7, "bob", TERN_MSG_TEXT, "x", NULL, NULL, NULL));
    m = sdk_msg_new_draft("alice", TERN_CONV_C2C, TERN_CONV_SYSTEM_ID, TERN_MSG_CUSTOM, NULL, "d", NULL, "e");
    assert_non_null(m);
    assert_string_equal(tern_message_payload_json(m), "{\"data\":\"d\",\"extension\":\"e\"}");
    tern_message_release(m);
}

/* libtern applies the server's send rules (core/message.h) before sending: the 12 KB
 * measure counts cloudCustomData escaped and the canonical payload, and the system
 * conversation is 2106. */
static void test_send_rules(void **state)
{
    size_t n = 12188 - 11; /* {"text":"..."} is 12188 bytes */
    char *text = tern_malloc(n + 1);
    memset(text, 'a', n);
    text[n] = 0;
    tern_message *m = sdk_msg_new_draft("alice", TERN_CONV_C2C, "bob", TERN_MSG_TEXT, text, NULL, NULL, NULL);
    char ccd[101];
    memset(ccd, '"', 100);
    ccd[100] = 0;
    assert_int_equal(tern_message_set_cloud_custom_data(m, ccd), 0);
    assert_int_equal(sdk_msg_check(m), TERN_ERR_MSG_TOO_LONG); /* 12188 + 200 */
    memset(ccd, 'x', 100);
    assert_int_equal(tern_message_set_cloud_custom_data(m, ccd), 0);
    assert_int_equal(sdk_msg_check(m), TERN_OK); /* 12188 + 100 = 12288 */
    tern_message_release(m);
    tern_free(text);
    /* A custom message is measured with every field, as the server stores it: the
     * absent description and extension add {"description":"","extension":""}. */
    char *data = tern_malloc(12288);
    size_t dn = 12288 - strlen("{\"data\":\"\",\"description\":\"\",\"extension\":\"\"}");
    memset(data, 'd', dn);
    data[dn] = 0;
    m = sdk_msg_new_draft("alice", TERN_CONV_GROUP, "g1", TERN_MSG_CUSTOM, NULL, data, NULL, NULL);
    assert_int_equal(sdk_msg_check(m), TERN_OK);
    tern_message_release(m);
    data[dn] = 'd';
    data[dn + 1] = 0;
    m = sdk_msg_new_draft("alice", TERN_CONV_GROUP, "g1", TERN_MSG_CUSTOM, NULL, data, NULL, NULL);
    assert_int_equal(sdk_msg_check(m), TERN_ERR_MSG_TOO_LONG);
    tern_message_release(m);
    tern_free(data);
    m = sdk_msg_new_draft("alice", TERN_CONV_C2C, TERN_CONV_SYSTEM_ID, TERN_MSG_TEXT, "x", NULL, NULL, NULL);
    assert_int_equal(sdk_msg_check(m), TERN_ERR_SYSTEM_CONV);
    tern_message_release(m);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_seqset_basic),
        cmocka_unit_test(test_seqset_own_race),
        cmocka_unit_test(test_seqset_bounded),
        cmocka_unit_test(test_message_codec),
        cmocka_unit_test(test_draft),
        cmocka_unit_test(test_send_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
