/*
 * test_sdk_media.c — libtern's media messages without a server: received payloads of
 * the four media types (media-contract.md "What the server STORES and DELIVERS") read
 * through the tern_message_media_* accessors, drafts by media id and their setters
 * (the payload a client SENDS), and the `tern` CLI's one-line rendering of each type
 * (cli/fmt.c, compiled in) as history and listen print it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/fmt.c"
#include "sdk/media.h"
#include "sdk/message.h"

#define ID "0123456789abcdef0123456789abcdef"
#define SNAP "fedcba9876543210fedcba9876543210"

static tern_message *received(const char *type, const char *payload)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"msgId\":\"77\",\"seq\":3,\"time\":1796665960984,\"conversationType\":\"C2C\",\"from\":\"alice\","
             "\"to\":\"bob\",\"type\":\"%s\",\"payload\":%s}",
             type, payload);
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    tern_message *m = sdk_msg_from_json(j, "bob");
    cJSON_Delete(j);
    assert_non_null(m);
    return m;
}

static const char *line_of(const tern_message *m)
{
    static char out[1024];
    memset(out, 0, sizeof out);
    FILE *f = fmemopen(out, sizeof out - 1, "w");
    cli_opts o;
    memset(&o, 0, sizeof o);
    cli_print_msg(f, &o, m, "C2Calice");
    fclose(f);
    /* drop "[time] " */
    const char *p = strchr(out, ']');
    return p ? p + 2 : out;
}

static void test_image(void **state)
{
    tern_message *m =
        received("TIMImageElem",
                 "{\"uuid\":\"" ID "\",\"imageFormat\":3,\"fileName\":\"pic.png\",\"thumbnail\":\"\",\"animated\":0,"
                 "\"imageInfoArray\":[{\"type\":0,\"width\":640,\"height\":480,\"size\":35000,\"url\":\"/demo/"
                 "demo/media/" ID "?exp=1&sig=x\"},{\"type\":1,\"width\":198,\"height\":149,\"size\":0,\"url\":"
                 "\"/t1\"},{\"type\":2,\"width\":640,\"height\":480,\"size\":900,\"url\":\"/t2\"}]}");
    assert_int_equal(tern_message_type(m), TERN_MSG_IMAGE);
    assert_string_equal(tern_message_media_id(m), ID);
    assert_string_equal(tern_message_media_url(m), "/demo/demo/media/" ID "?exp=1&sig=x");
    assert_int_equal(tern_message_media_size(m), 35000);
    assert_int_equal(tern_message_media_width(m), 640);
    assert_int_equal(tern_message_media_height(m), 480);
    unsigned w = 0, h = 0;
    uint64_t sz = 1;
    const char *url = NULL;
    assert_int_equal(tern_message_image_info(m, 1, &w, &h, &sz, &url), 0);
    assert_int_equal(w, 198);
    assert_int_equal(h, 149);
    assert_int_equal(sz, 0);
    assert_string_equal(url, "/t1");
    assert_int_equal(tern_message_image_info(m, 3, &w, &h, &sz, &url), -1);
    assert_string_equal(line_of(m), "alice: [image] pic.png, 34.2 KB, 640x480, media " ID "\n");
    tern_message_release(m);
}

static void test_audio_video_file(void **state)
{
    tern_message *a = received("TIMSoundElem", "{\"uuid\":\"" ID "\",\"url\":\"/u\",\"size\":2048,\"second\":12,"
                                               "\"fileName\":\"hi.m4a\"}");
    assert_int_equal(tern_message_type(a), TERN_MSG_SOUND);
    assert_int_equal(tern_message_media_seconds(a), 12);
    assert_string_equal(line_of(a), "alice: [audio] hi.m4a, 2.0 KB, 12 s, media " ID "\n");
    tern_message *v = received("TIMVideoFileElem",
                               "{\"videoUUID\":\"" ID "\",\"videoUrl\":\"/v\",\"videoSize\":5242880,\"videoSecond\":30,"
                               "\"videoFormat\":\"mp4\",\"fileName\":\"clip.mp4\",\"thumbnail\":\"\",\"snapshotUUID\":"
                               "\"" SNAP "\",\"snapshotUrl\":\"/s\",\"snapshotWidth\":320,\"snapshotHeight\":240}");
    assert_int_equal(tern_message_type(v), TERN_MSG_VIDEO);
    assert_string_equal(tern_message_video_snapshot_id(v), SNAP);
    assert_string_equal(tern_message_video_snapshot_url(v), "/s");
    assert_string_equal(tern_message_media_url(v), "/v");
    assert_string_equal(line_of(v), "alice: [video] clip.mp4, 5.0 MB, 30 s, snapshot 320x240, media " ID "\n");
    tern_message *f = received(
        "TIMFileElem", "{\"uuid\":\"" ID "\",\"fileName\":\"a\\u001b[31m.pdf\",\"fileUrl\":\"/f\",\"fileSize\":7}");
    assert_int_equal(tern_message_type(f), TERN_MSG_FILE);
    /* a name from the network never reaches the terminal raw */
    assert_string_equal(line_of(f), "alice: [file] a^[[31m.pdf, 7 B, media " ID "\n");
    /* a text message has no media */
    tern_message *t = received("TIMTextElem", "{\"text\":\"hi\"}");
    assert_null(tern_message_media_id(t));
    assert_int_equal(tern_message_media_size(t), 0);
    tern_message_release(a);
    tern_message_release(v);
    tern_message_release(f);
    tern_message_release(t);
}

static void test_drafts(void **state)
{
    tern_client *c = NULL;
    assert_int_equal(tern_client_create("ws://127.0.0.1:1", "demo/demo", "alice", "tok", NULL, &c), TERN_OK);
    tern_message *m = tern_create_video_message_by_media_id(c, ID, 30, SNAP);
    assert_non_null(m);
    assert_string_equal(tern_message_payload_json(m),
                        "{\"videoUUID\":\"" ID "\",\"videoSecond\":30,\"snapshotUUID\":\"" SNAP "\"}");
    assert_int_equal(tern_message_set_media_size(m, 320, 240), TERN_OK);
    assert_int_equal(tern_message_set_media_seconds(m, 31), TERN_OK);
    assert_int_equal(tern_message_set_media_thumbnail(m, "\x01\x02", 2), TERN_OK);
    assert_string_equal(tern_message_payload_json(m),
                        "{\"videoUUID\":\"" ID "\",\"videoSecond\":31,\"snapshotUUID\":\"" SNAP
                        "\",\"snapshotWidth\":320,\"snapshotHeight\":240,\"thumbnail\":\"AQI=\"}");
    static char big[40000];
    memset(big, 'x', sizeof big);
    assert_int_equal(tern_message_set_media_thumbnail(m, big, 32769), TERN_ERR_SDK_INVALID_ARG);
    /* seed 000's 32 KB counts the thumbnail's bytes; the 12 KB rule leaves it out */
    assert_int_equal(tern_message_set_target(m, TERN_CONV_C2C, "bob"), TERN_OK);
    assert_int_equal(tern_message_set_media_thumbnail(m, big, 32000), TERN_OK);
    assert_int_equal(sdk_msg_check(m), TERN_OK);
    assert_int_equal(tern_message_set_media_thumbnail(m, big, 32768), TERN_OK);
    assert_int_equal(sdk_msg_check(m), TERN_ERR_MSG_TOO_LONG);
    assert_int_equal(tern_message_set_media_thumbnail(m, "\x01\x02", 2), TERN_OK);
    assert_int_equal(tern_message_set_media_file_name(m, "bad\nname"), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(tern_message_set_media_size(m, 0, 5), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(tern_message_set_target(m, TERN_CONV_GROUP, "g1"), TERN_OK);
    assert_string_equal(tern_message_conversation_id(m), "GROUPg1");
    assert_int_equal(tern_message_set_target(m, TERN_CONV_GROUP, "bad id!"), TERN_ERR_SDK_INVALID_ARG);
    tern_message_release(m);

    m = tern_create_file_message_by_media_id(c, ID);
    assert_string_equal(tern_message_payload_json(m), "{\"uuid\":\"" ID "\"}");
    assert_int_equal(tern_message_set_media_seconds(m, 3), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(tern_message_set_media_size(m, 3, 3), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(tern_message_set_media_file_name(m, "résumé.pdf"), TERN_OK);
    assert_string_equal(tern_message_payload_json(m), "{\"uuid\":\"" ID "\",\"fileName\":\"résumé.pdf\"}");
    tern_message_release(m);

    /* setters of media refuse a text message; ids with paths are refused */
    tern_message *t = tern_create_text_message(c, TERN_CONV_C2C, "bob", "hi");
    assert_int_equal(tern_message_set_media_file_name(t, "x"), TERN_ERR_SDK_INVALID_ARG);
    tern_message_release(t);
    assert_null(tern_create_image_message_by_media_id(c, "a/b"));
    assert_null(tern_create_image_message_by_media_id(c, ""));
    assert_null(tern_create_video_message_by_media_id(c, ID, 1, "../x"));
    assert_string_equal(sdk_media_content_type("/x/Y.JPG"), "image/jpeg");
    assert_string_equal(sdk_media_content_type("/x/.png"), "application/octet-stream");
    assert_string_equal(sdk_media_content_type("noext"), "application/octet-stream");
    tern_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image),
        cmocka_unit_test(test_audio_video_file),
        cmocka_unit_test(test_drafts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
