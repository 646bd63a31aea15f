/*
 * test_sdk_opts.c — libtern's send options and the message types of issue 10, on the
 * exact bytes: the `send` request a draft becomes with every tern_send_options field
 * (receiverList, isSupportExtension, messageControlInfo, offlinePushInfo), the refusals
 * of malformed options, the payloads of the builders (@, face, location, merger,
 * forward), the accessors of received messages, and the requests of tern_request and
 * tern_download_merger_message (getMessages, receipts, downloadMerger). The SDK's files
 * are compiled in (as test_sdk_logic), without a client or a loop.
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
#include "sdk/request.c"
#include "sdk/sdk_util.c"
#include "sdk/send_opts.c"
#include "sdk/seqset.c"

const char *tern_client_user(const tern_client *c)
{
    (void)c;
    return "alice";
}

void sdk_xfer_free(sdk_xfer *x)
{
    (void)x;
}

#define CLIENT ((tern_client *)1) /* the builders only ask it for the user (above) */

/* The send request's body of m with opts, as text (owned by the caller). */
static char *encode(tern_message *m, const tern_send_options *opts)
{
    sdk_send_extra *x = NULL;
    assert_int_equal(sdk_send_extra_new(opts, &x), TERN_OK);
    tern_buf b;
    tern_buf_init(&b, 0);
    assert_int_equal(sdk_msg_encode_send(&b, m, x), 0);
    sdk_send_extra_free(x);
    return tern_buf_steal(&b, NULL);
}

static void expect_send(tern_message *m, const tern_send_options *opts, const char *want)
{
    char *got = encode(m, opts);
    assert_string_equal(got, want);
    tern_free(got);
}

static void test_default_options(void **state)
{
    (void)state;
    tern_message *m = tern_create_text_message(CLIENT, TERN_CONV_C2C, "bob", "hi");
    assert_int_equal(tern_message_set_client_msg_id(m, "c1"), 0);
    const char *want = ",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
                       "\"payload\":{\"text\":\"hi\"},\"clientMsgId\":\"c1\",\"cloudCustomData\":\"\","
                       "\"priority\":\"Normal\",\"needReadReceipt\":false},\"options\":{\"onlineUserOnly\":false}";
    expect_send(m, NULL, want);
    tern_send_options o;
    tern_send_options_init(&o);
    expect_send(m, &o, want); /* all zero: the same bytes */
    o.online_user_only = 1;
    char *got = encode(m, &o);
    assert_non_null(strstr(got, "\"options\":{\"onlineUserOnly\":true}"));
    tern_free(got);
    tern_message_release(m);
}

static void test_every_option(void **state)
{
    (void)state;
    tern_message *m = tern_create_text_message(CLIENT, TERN_CONV_GROUP, "g1", "hi");
    assert_int_equal(tern_message_set_client_msg_id(m, "c2"), 0);
    assert_int_equal(tern_message_set_priority(m, TERN_PRIORITY_HIGH), 0);
    assert_int_equal(tern_message_set_need_read_receipt(m, 1), 0);
    const char *rcv[] = {"bob", "carol"};
    tern_send_options o = {
        .excluded_from_unread_count = 1,
        .excluded_from_content_moderation = 1,
        .offline_push_info = {.disable_voip_push = 1,
                              .ignore_ios_badge = 1,
                              .title = "T",
                              .extension = "{\"k\":1}",
                              .android_oppo_channel_id = "ch"},
        .receivers = rcv,
        .receiver_count = 2,
        .is_support_extension = 1,
    };
    expect_send(m, &o,
                ",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\","
                "\"payload\":{\"text\":\"hi\"},\"clientMsgId\":\"c2\",\"cloudCustomData\":\"\","
                "\"priority\":\"High\",\"needReadReceipt\":true,\"receiverList\":[\"bob\",\"carol\"],"
                "\"isSupportExtension\":true},\"options\":{\"onlineUserOnly\":false,\"messageControlInfo\":"
                "{\"excludedFromUnreadCount\":true,\"excludedFromLastMessage\":false,"
                "\"excludedFromContentModeration\":true},\"offlinePushInfo\":{\"disablePush\":false,"
                "\"disableVoipPush\":true,\"title\":\"T\",\"description\":\"\",\"extension\":\"{\\\"k\\\":1}\","
                "\"ignoreIOSBadge\":true,\"androidOPPOChannelID\":\"ch\"}}");
    /* control_info alone sends the object with three false; present alone the push */
    tern_send_options c = {.control_info = 1, .offline_push_info = {.present = 1}};
    char *got = encode(m, &c);
    assert_non_null(strstr(got, "\"options\":{\"onlineUserOnly\":false,\"messageControlInfo\":{\"excludedFromUnread"
                                "Count\":false,\"excludedFromLastMessage\":false,\"excludedFromContentModeration\":"
                                "false},\"offlinePushInfo\":{\"disablePush\":false,"));
    tern_free(got);
    /* What the server reads back is what was set (core's own parser). */
    got = encode(m, &o);
    char *js = tern_malloc(strlen(got) + 2);
    js[0] = '{';
    strcpy(js + 1, got + 1);
    strcat(js, "}");
    cJSON *root = cJSON_Parse(js);
    tern_send_opts so;
    assert_int_equal(tern_send_opts_parse(cJSON_GetObjectItemCaseSensitive(root, "options"), &so), TERN_OK);
    assert_true(so.ctl_present && so.no_unread && !so.no_last && so.no_moderation);
    assert_true(so.push.present && so.push.disable_voip_push && so.push.ignore_ios_badge);
    assert_int_equal((int)so.push.extension.n, 7);
    tern_msg cm;
    assert_int_equal(tern_msg_parse_send(cJSON_GetObjectItemCaseSensitive(root, "msg"), &cm), TERN_OK);
    assert_true(cm.support_extension);
    assert_int_equal(cJSON_GetArraySize(cm.receivers), 2);
    tern_msg_clear(&cm);
    cJSON_Delete(root);
    tern_free(js);
    tern_free(got);
    tern_message_release(m);
}

static void test_bad_options(void **state)
{
    (void)state;
    sdk_send_extra *x = (sdk_send_extra *)1;
    const char *many[51], *dup[] = {"bob", "bob"}, *bad[] = {"b b"};
    char names[51][8];
    for (int i = 0; i < 51; i++) {
        snprintf(names[i], sizeof names[i], "u%d", i);
        many[i] = names[i];
    }
    tern_send_options o = {.receivers = many, .receiver_count = 51};
    assert_int_equal(sdk_send_extra_new(&o, &x), TERN_ERR_SDK_INVALID_ARG);
    assert_null(x);
    o.receiver_count = 50;
    assert_int_equal(sdk_send_extra_new(&o, &x), TERN_OK);
    sdk_send_extra_free(x);
    o = (tern_send_options){.receivers = dup, .receiver_count = 2};
    assert_int_equal(sdk_send_extra_new(&o, &x), TERN_ERR_SDK_INVALID_ARG);
    o = (tern_send_options){.receivers = bad, .receiver_count = 1};
    assert_int_equal(sdk_send_extra_new(&o, &x), TERN_ERR_SDK_INVALID_ARG);
    char title[258];
    memset(title, 'x', 257);
    title[257] = 0;
    o = (tern_send_options){.offline_push_info = {.title = title}};
    assert_int_equal(sdk_send_extra_new(&o, &x), TERN_ERR_SDK_INVALID_ARG);
    title[256] = 0;
    assert_int_equal(sdk_send_extra_new(&o, &x), TERN_OK);
    sdk_send_extra_free(x);
    o = (tern_send_options){.priority = 7};
    assert_int_equal(sdk_send_extra_new(&o, &x), TERN_ERR_SDK_INVALID_ARG);
}

static void test_at_message(void **state)
{
    (void)state;
    const char *at[] = {"bob", TERN_AT_ALL};
    tern_message *m = tern_create_text_at_message(CLIENT, TERN_CONV_GROUP, "g1", "hi @bob @all", at, 2);
    assert_non_null(m);
    assert_string_equal(tern_message_payload_json(m),
                        "{\"text\":\"hi @bob @all\",\"atUserList\":[\"bob\",\"__kImSDK_MesssageAtALL__\"]}");
    assert_int_equal(tern_message_at_user_count(m), 2);
    assert_string_equal(tern_message_at_user(m, 1), TERN_AT_ALL);
    assert_null(tern_message_at_user(m, 2));
    assert_int_equal(tern_message_set_client_msg_id(m, "c3"), 0);
    expect_send(m, NULL,
                ",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":"
                "{\"text\":\"hi @bob @all\",\"atUserList\":[\"bob\",\"__kImSDK_MesssageAtALL__\"]},\"clientMsgId\":"
                "\"c3\",\"cloudCustomData\":\"\",\"priority\":\"Normal\",\"needReadReceipt\":false},\"options\":"
                "{\"onlineUserOnly\":false}");
    /* the options' list replaces it (what tern_send_message does with at_users) */
    const char *one[] = {"carol"};
    assert_int_equal(sdk_msg_set_at_users(m, one, 1), TERN_OK);
    assert_int_equal(tern_message_at_user_count(m), 1);
    assert_string_equal(tern_message_at_user(m, 0), "carol");
    tern_message_release(m);

    assert_null(tern_create_text_at_message(CLIENT, TERN_CONV_C2C, "bob", "hi", at, 2)); /* groups only */
    const char *dup[] = {"bob", "bob"}, *bad[] = {"@x y"};
    assert_null(tern_create_text_at_message(CLIENT, TERN_CONV_GROUP, "g1", "hi", dup, 2));
    assert_null(tern_create_text_at_message(CLIENT, TERN_CONV_GROUP, "g1", "hi", bad, 1));
    assert_null(tern_create_text_at_message(CLIENT, TERN_CONV_GROUP, "g1", "hi", at, 0));
    const char *many[65];
    char names[65][8];
    for (int i = 0; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "u%d", i);
        many[i] = names[i];
    }
    assert_null(tern_create_text_at_message(CLIENT, TERN_CONV_GROUP, "g1", "hi", many, 65));
    m = tern_create_text_at_message(CLIENT, TERN_CONV_GROUP, "g1", "hi", many, 64);
    assert_non_null(m);
    tern_message_release(m);
    m = tern_create_custom_message(CLIENT, TERN_CONV_GROUP, "g1", "d", NULL, NULL);
    assert_int_equal(sdk_msg_set_at_users(m, one, 1), TERN_ERR_SDK_INVALID_ARG); /* text only */
    tern_message_release(m);
}

static void test_builders(void **state)
{
    (void)state;
    tern_message *m = tern_create_face_message(CLIENT, TERN_CONV_C2C, "bob", 3, "smile");
    assert_int_equal(tern_message_type(m), TERN_MSG_FACE);
    assert_string_equal(tern_message_type_name(m), "TIMFaceElem");
    assert_string_equal(tern_message_payload_json(m), "{\"index\":3,\"data\":\"smile\"}");
    assert_int_equal(tern_message_face_index(m), 3);
    assert_string_equal(tern_message_face_data(m), "smile");
    assert_string_equal(tern_message_conversation_id(m), "C2Cbob");
    tern_message_release(m);
    m = tern_create_face_message(CLIENT, TERN_CONV_GROUP, "g1", -1, NULL);
    assert_string_equal(tern_message_payload_json(m), "{\"index\":-1,\"data\":\"\"}");
    tern_message_release(m);

    m = tern_create_location_message(CLIENT, TERN_CONV_C2C, "bob", "Beijing", 116.397128, 39.916527);
    assert_int_equal(tern_message_type(m), TERN_MSG_LOCATION);
    assert_string_equal(tern_message_payload_json(m),
                        "{\"description\":\"Beijing\",\"longitude\":116.397128,\"latitude\":39.916527}");
    assert_string_equal(tern_message_location_description(m), "Beijing");
    assert_true(tern_message_location_latitude(m) == 39.916527);
    assert_int_equal(sdk_msg_check(m), TERN_OK); /* the core model takes it */
    assert_int_equal(tern_message_set_client_msg_id(m, "c4"), 0);
    expect_send(m, NULL,
                ",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMLocationElem\",\"payload\":"
                "{\"description\":\"Beijing\",\"longitude\":116.397128,\"latitude\":39.916527},\"clientMsgId\":"
                "\"c4\",\"cloudCustomData\":\"\",\"priority\":\"Normal\",\"needReadReceipt\":false},\"options\":"
                "{\"onlineUserOnly\":false}");
    tern_message_release(m);
    assert_null(tern_create_location_message(CLIENT, TERN_CONV_C2C, "bob", NULL, 180.5, 0));
    assert_null(tern_create_location_message(CLIENT, TERN_CONV_C2C, "bob", NULL, 0, -90.01));
    m = tern_create_location_message(CLIENT, TERN_CONV_C2C, "bob", NULL, -180, 90);
    assert_string_equal(tern_message_payload_json(m), "{\"description\":\"\",\"longitude\":-180,\"latitude\":90}");
    tern_message_release(m);

    const char *ids[] = {"7264021817339904001", "7264021817339904002"}, *abs[] = {"alice: hi", "bob: yo"};
    m = tern_create_merger_message(CLIENT, TERN_CONV_GROUP, "g1", ids, 2, "Chat", abs, 2, "[chat history]");
    assert_int_equal(tern_message_type(m), TERN_MSG_MERGER);
    assert_string_equal(tern_message_type_name(m), "TIMRelayElem");
    assert_string_equal(tern_message_payload_json(m),
                        "{\"messageList\":[\"7264021817339904001\",\"7264021817339904002\"],\"title\":\"Chat\","
                        "\"abstractList\":[\"alice: hi\",\"bob: yo\"],\"compatibleText\":\"[chat history]\"}");
    assert_string_equal(tern_message_merger_title(m), "Chat");
    assert_int_equal(tern_message_merger_abstract_count(m), 2);
    assert_string_equal(tern_message_merger_abstract(m, 1), "bob: yo");
    assert_int_equal(tern_message_merger_message_count(m), 2);
    assert_string_equal(tern_message_merger_download_key(m), "");
    tern_message_release(m);
    const char *badid[] = {"12x"};
    assert_null(tern_create_merger_message(CLIENT, TERN_CONV_GROUP, "g1", badid, 1, NULL, NULL, 0, "x"));
    assert_null(tern_create_merger_message(CLIENT, TERN_CONV_GROUP, "g1", ids, 2, NULL, NULL, 0, "")); /* required */
    assert_null(tern_create_merger_message(CLIENT, TERN_CONV_GROUP, "g1", ids, 0, NULL, NULL, 0, "x"));
}

static tern_message *received(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    tern_message *m = sdk_msg_from_json(j, "bob");
    cJSON_Delete(j);
    assert_non_null(m);
    return m;
}

static void test_received_and_forward(void **state)
{
    (void)state;
    tern_message *r =
        received("{\"msgId\":\"100\",\"seq\":4,\"time\":1,\"conversationType\":\"GROUP\",\"from\":\"alice\","
                 "\"to\":\"g1\",\"type\":\"TIMRelayElem\",\"payload\":{\"messageList\":[{\"msgId\":\"90\",\"seq\":1,"
                 "\"time\":1,\"conversationType\":\"C2C\",\"from\":\"alice\",\"to\":\"carol\",\"type\":"
                 "\"TIMTextElem\",\"payload\":{\"text\":\"one\"}}],\"title\":\"T\",\"abstractList\":[\"a\"],"
                 "\"compatibleText\":\"ct\",\"downloadKey\":\"\",\"layersOverLimit\":true}}");
    assert_int_equal(tern_message_type(r), TERN_MSG_MERGER);
    assert_string_equal(tern_message_merger_compatible_text(r), "ct");
    assert_int_equal(tern_message_merger_message_count(r), 1);
    assert_int_equal(tern_message_merger_layers_over_limit(r), 1);
    assert_string_equal(sdk_msg_merger_list_json(r), "[{\"msgId\":\"90\",\"seq\":1,\"time\":1,\"conversationType\":"
                                                     "\"C2C\",\"from\":\"alice\",\"to\":\"carol\",\"type\":"
                                                     "\"TIMTextElem\",\"payload\":{\"text\":\"one\"}}]");
    assert_null(tern_message_face_data(r)); /* another type's accessor */

    /* forward: same type and payload, a new target and a fresh draft */
    tern_message *f = tern_create_forward_message(CLIENT, r, TERN_CONV_C2C, "dave");
    assert_non_null(f);
    assert_int_equal(tern_message_status(f), TERN_MSG_STATUS_DRAFT);
    assert_string_equal(tern_message_type_name(f), "TIMRelayElem");
    assert_string_equal(tern_message_payload_json(f), tern_message_payload_json(r));
    assert_string_equal(tern_message_from(f), "alice");
    assert_string_equal(tern_message_conversation_id(f), "C2Cdave");
    assert_string_not_equal(tern_message_client_msg_id(f), "");
    tern_message_release(f);
    tern_message_release(r);

    r = received("{\"msgId\":\"101\",\"seq\":5,\"time\":1,\"conversationType\":\"GROUP\",\"from\":\"alice\","
                 "\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"hey\",\"atUserList\":[\"bob\"]}}");
    assert_int_equal(tern_message_at_user_count(r), 1);
    assert_string_equal(tern_message_at_user(r, 0), "bob");
    f = tern_create_forward_message(CLIENT, r, TERN_CONV_GROUP, "g2");
    assert_string_equal(tern_message_text(f), "hey");
    tern_message_release(f);
    tern_message_release(r);

    r = received("{\"msgId\":\"102\",\"seq\":6,\"time\":1,\"conversationType\":\"C2C\",\"from\":\"alice\","
                 "\"to\":\"bob\",\"type\":\"TIMFaceElem\",\"payload\":{\"index\":12,\"data\":\"d\"}}");
    assert_int_equal(tern_message_type(r), TERN_MSG_FACE);
    assert_int_equal(tern_message_face_index(r), 12);
    tern_message_release(r);

    tern_message *d = tern_create_text_message(CLIENT, TERN_CONV_C2C, "bob", "draft");
    assert_null(tern_create_forward_message(CLIENT, d, TERN_CONV_C2C, "carol")); /* a draft: nothing to forward */
    tern_message_release(d);
}

static void test_requests(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 0);
    sdk_req *r = sdk_req_new(REQ_RAW);
    strcpy(r->op, "getMessages");
    r->str = tern_strdup("{\"msgIds\":[\"1\",\"2\"]}");
    r->id = 5;
    sdk_req_encode(NULL, r, &b);
    assert_string_equal(b.data, "{\"op\":\"getMessages\",\"id\":5,\"msgIds\":[\"1\",\"2\"]}");
    tern_free(r->str);
    r->str = NULL; /* no fields */
    strcpy(r->op, "friends");
    tern_buf_reset(&b);
    sdk_req_encode(NULL, r, &b);
    assert_string_equal(b.data, "{\"op\":\"friends\",\"id\":5}");
    sdk_req_free(r);

    r = sdk_req_new(REQ_GET_MSGS);
    r->id = 7;
    r->str = tern_strdup("{\"msgIds\":[\"42\"]}");
    tern_buf_reset(&b);
    sdk_req_encode(NULL, r, &b);
    assert_string_equal(b.data, "{\"op\":\"getMessages\",\"id\":7,\"msgIds\":[\"42\"]}");
    sdk_req_free(r);

    r = sdk_req_new(REQ_MERGER);
    r->id = 6;
    r->num = 7264021817339904001ull;
    tern_buf_reset(&b);
    sdk_req_encode(NULL, r, &b);
    assert_string_equal(
        b.data, "{\"op\":\"downloadMerger\",\"id\":6,\"msgId\":\"7264021817339904001\"}");
    sdk_req_free(r);
    tern_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_options), cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_bad_options),     cmocka_unit_test(test_at_message),
        cmocka_unit_test(test_builders),        cmocka_unit_test(test_received_and_forward),
        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
