/* test_easemob.c — unit tests for core/easemob.c: every Easemob type sent over REST
 * (txt, loc, custom, cmd) maps onto its element and back to the same {type, body, ext}
 * (loc coordinates come back as numbers, as Easemob exports them); the refusals of
 * bodies (1003, 1012, and 7006 for a media url whose id is malformed); img, audio, video
 * and file with every url form, both ways; a WebSocket client's custom element
 * and non-JSON cloudCustomData in Easemob's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/easemob.h"
#include "tern/errors.h"

/* Maps type+body (JSON text) and ext (JSON object text or NULL) onto a stored message
 * object and back; returns the Easemob JSON text in out (static). */
static const char *round_trip(const char *type, const char *body, const char *ext, int *rc)
{
    static char res[2048];
    cJSON *b = cJSON_Parse(body);
    tern_msg m;
    tern_msg_init(&m);
    *rc = tern_em_body_to_msg(type, b, &m);
    cJSON_Delete(b);
    res[0] = 0;
    if (*rc != TERN_OK) {
        tern_msg_clear(&m);
        return res;
    }
    cJSON *stored = cJSON_CreateObject();
    cJSON_AddStringToObject(stored, "type", m.elem->name);
    cJSON_AddItemToObject(stored, "payload", cJSON_Parse(m.payload.data));
    cJSON_AddStringToObject(stored, "cloudCustomData", ext ? ext : "");
    tern_buf out;
    tern_buf_init(&out, 0);
    *rc = tern_em_from_msg(stored, &out);
    snprintf(res, sizeof res, "%s", out.data ? out.data : "");
    tern_buf_free(&out);
    cJSON_Delete(stored);
    tern_msg_clear(&m);
    return res;
}

static void test_round_trips(void **state)
{
    static const struct {
        const char *type, *body, *ext, *want;
    } cases[] = {
        {"txt", "{\"msg\":\"hello \\u00e9\"}", NULL, "{\"type\":\"txt\",\"body\":{\"msg\":\"hello é\"},\"ext\":{}}"},
        {"txt", "{\"msg\":\"\"}", "{\"k\":\"v\",\"n\":1}",
         "{\"type\":\"txt\",\"body\":{\"msg\":\"\"},\"ext\":{\"k\":\"v\",\"n\":1}}"},
        {"loc", "{\"lat\":\"39.916527\",\"lng\":\"116.397128\",\"addr\":\"Beijing\"}", NULL,
         "{\"type\":\"loc\",\"body\":{\"lat\":39.916527,\"lng\":116.397128,\"addr\":\"Beijing\"},\"ext\":{}}"},
        {"loc", "{\"lat\":-90,\"lng\":180}", NULL,
         "{\"type\":\"loc\",\"body\":{\"lat\":-90,\"lng\":180,\"addr\":\"\"},\"ext\":{}}"},
        {"custom", "{\"customEvent\":\"gift/rose.v2\",\"customExts\":{\"count\":\"3\",\"to\":\"bob\"}}", NULL,
         "{\"type\":\"custom\",\"body\":{\"customEvent\":\"gift/rose.v2\",\"customExts\":{\"count\":\"3\",\"to\":"
         "\"bob\"}},\"ext\":{}}"},
        {"custom", "{\"customEvent\":\"ping\"}", NULL,
         "{\"type\":\"custom\",\"body\":{\"customEvent\":\"ping\"},\"ext\":{}}"},
        {"custom", "{\"customExts\":{\"a\":\"b\"}}", NULL,
         "{\"type\":\"custom\",\"body\":{\"customExts\":{\"a\":\"b\"}},\"ext\":{}}"},
        {"custom", "{}", NULL, "{\"type\":\"custom\",\"body\":{},\"ext\":{}}"},
        {"cmd", "{\"action\":\"typing\"}", "{\"a\":[1,2]}",
         "{\"type\":\"cmd\",\"body\":{\"action\":\"typing\"},\"ext\":{\"a\":[1,2]}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        const char *got = round_trip(cases[i].type, cases[i].body, cases[i].ext, &rc);
        if (rc != TERN_OK || strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: rc %d, got %s, wanted %s", i, rc, got, cases[i].want);
    }
    (void)state;
}

#define MID "0123456789abcdef0123456789abcdef"
#define DASHED "01234567-89ab-cdef-0123-456789abcdef"

/* img, audio, video, file: every url form names the id; back, the body shows the id
 * (a payload not completed) or the stored form's signed URL. */
static void test_media_round_trips(void **state)
{
    static const struct {
        const char *type, *body, *want;
    } cases[] = {
        {"img",
         "{\"url\":\"https://im.example.com/o/a/chatfiles/" DASHED "\",\"filename\":\"c.jpg\","
         "\"secret\":\"s3\",\"size\":{\"width\":480,\"height\":720}}",
         "{\"type\":\"img\",\"body\":{\"url\":\"" MID "\",\"filename\":\"c.jpg\",\"secret\":\"\","
         "\"size\":{\"width\":480,\"height\":720}},\"ext\":{}}"},
        {"img", "{\"url\":\"/o/a/media/" MID "?exp=1&sig=x\",\"size\":{\"width\":0,\"height\":\"0\"}}",
         "{\"type\":\"img\",\"body\":{\"url\":\"" MID "\",\"secret\":\"\"},\"ext\":{}}"},
        {"audio", "{\"url\":\"http://h:8080/o/a/chatfiles/" MID "\",\"filename\":\"v.amr\",\"length\":\"12\"}",
         "{\"type\":\"audio\",\"body\":{\"url\":\"" MID "\",\"filename\":\"v.amr\",\"length\":12,"
         "\"secret\":\"\"},\"ext\":{}}"},
        {"video",
         "{\"url\":\"" MID "\",\"filename\":\"m.mp4\",\"thumb\":\"/o/a/chatfiles/" DASHED "\","
         "\"length\":10,\"file_length\":58103,\"thumb_secret\":\"t\",\"secret\":\"s\"}",
         "{\"type\":\"video\",\"body\":{\"url\":\"" MID "\",\"filename\":\"m.mp4\",\"thumb\":\"" MID "\","
         "\"length\":10,\"thumb_secret\":\"\",\"secret\":\"\"},\"ext\":{}}"},
        {"file", "{\"url\":\"" MID "\"}",
         "{\"type\":\"file\",\"body\":{\"url\":\"" MID "\",\"secret\":\"\"},\"ext\":{}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        const char *got = round_trip(cases[i].type, cases[i].body, NULL, &rc);
        if (rc != TERN_OK || strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: rc %d, got %s, wanted %s", i, rc, got, cases[i].want);
    }
    /* A stored (completed) payload: the signed URLs, file_length = videoSize. */
    static const struct {
        const char *stored, *want;
    } stored[] = {
        {"{\"type\":\"TIMImageElem\",\"payload\":{\"uuid\":\"" MID "\",\"imageFormat\":1,\"fileName\":\"c.jpg\","
         "\"thumbnail\":\"\",\"animated\":0,\"imageInfoArray\":[{\"type\":0,\"width\":40,\"height\":30,"
         "\"size\":9,\"url\":\"/o/a/media/" MID "?exp=9&sig=S\"},{\"type\":1,\"width\":4,\"height\":3,"
         "\"size\":0,\"url\":\"/o/a/media/" MID "?thumb=198&exp=9&sig=T\"}]},\"cloudCustomData\":\"\"}",
         "{\"type\":\"img\",\"body\":{\"url\":\"/o/a/media/" MID "?exp=9&sig=S\",\"filename\":\"c.jpg\","
         "\"secret\":\"\",\"size\":{\"width\":40,\"height\":30}},\"ext\":{}}"},
        {"{\"type\":\"TIMVideoFileElem\",\"payload\":{\"videoUUID\":\"" MID "\",\"videoUrl\":\"/v?sig=V\","
         "\"videoSize\":77,\"videoSecond\":5,\"videoFormat\":\"mp4\",\"fileName\":\"m.mp4\",\"thumbnail\":\"\","
         "\"snapshotUUID\":\"\",\"snapshotUrl\":\"\",\"snapshotWidth\":0,\"snapshotHeight\":0}}",
         "{\"type\":\"video\",\"body\":{\"url\":\"/v?sig=V\",\"filename\":\"m.mp4\",\"length\":5,"
         "\"file_length\":77,\"thumb_secret\":\"\",\"secret\":\"\"},\"ext\":{}}"},
        {"{\"type\":\"TIMSoundElem\",\"payload\":{\"uuid\":\"" MID "\",\"url\":\"/s?sig=A\",\"size\":3,"
         "\"second\":2,\"fileName\":\"v.amr\"}}",
         "{\"type\":\"audio\",\"body\":{\"url\":\"/s?sig=A\",\"filename\":\"v.amr\",\"length\":2,"
         "\"secret\":\"\"},\"ext\":{}}"},
        {"{\"type\":\"TIMFileElem\",\"payload\":{\"uuid\":\"" MID "\",\"fileName\":\"r.pdf\","
         "\"fileUrl\":\"/f?sig=F\",\"fileSize\":3}}",
         "{\"type\":\"file\",\"body\":{\"url\":\"/f?sig=F\",\"filename\":\"r.pdf\",\"secret\":\"\"},"
         "\"ext\":{}}"},
    };
    for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++) {
        cJSON *m = cJSON_Parse(stored[i].stored);
        assert_non_null(m);
        tern_buf out;
        tern_buf_init(&out, 0);
        assert_int_equal(tern_em_from_msg(m, &out), TERN_OK);
        if (strcmp(out.data, stored[i].want) != 0)
            fail_msg("stored %zu: got %s, wanted %s", i, out.data, stored[i].want);
        /* And it maps back onto the element (the url's id). */
        cJSON *em = cJSON_Parse(out.data);
        tern_msg back;
        tern_msg_init(&back);
        const char *url = cJSON_GetObjectItem(cJSON_GetObjectItem(em, "body"), "url")->valuestring;
        int want = url[0] == '/' && url[1] != 'o' ? TERN_ERR_BAD_FIELD : TERN_OK;
        assert_int_equal(
            tern_em_body_to_msg(cJSON_GetObjectItem(em, "type")->valuestring, cJSON_GetObjectItem(em, "body"), &back),
            want);
        tern_msg_clear(&back);
        cJSON_Delete(em);
        tern_buf_free(&out);
        cJSON_Delete(m);
    }
    (void)state;
}

static void test_refusals(void **state)
{
    static const struct {
        const char *type, *body;
        int code;
    } cases[] = {
        {"img", "{\"url\":\"x\"}", TERN_ERR_MEDIA_NOT_FOUND},
        {"img", "{\"url\":\"/o/a/chatfiles/" MID "/x\"}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"/o/a/files/" MID "\"}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"/a/chatfiles/" MID "\"}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"https://h\"}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"https://h/" MID "\"}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"/o/a/media/\"}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"../" MID "\"}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"/o/a/media/../../x\"}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"/o/a/media/" MID "0\"}", TERN_ERR_MEDIA_NOT_FOUND},
        {"img", "{\"url\":5}", TERN_ERR_BAD_FIELD},
        {"img", "{}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"" MID "\",\"size\":{\"width\":-1}}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"" MID "\",\"size\":{\"width\":1.5}}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"" MID "\",\"size\":[1]}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"" MID "\",\"secret\":1}", TERN_ERR_BAD_FIELD},
        {"img", "{\"url\":\"" MID "\",\"thumb\":\"x\"}", TERN_ERR_NOT_SUPPORTED},
        {"audio", "{\"url\":\"" MID "\"}", TERN_ERR_BAD_FIELD},
        {"audio", "{\"url\":\"" MID "\",\"length\":86401}", TERN_ERR_BAD_FIELD},
        {"audio", "{\"url\":\"" MID "\",\"length\":\"3s\"}", TERN_ERR_BAD_FIELD},
        {"video", "{\"url\":\"" MID "\",\"length\":1,\"thumb\":\"a/b\"}", TERN_ERR_BAD_FIELD},
        {"video", "{\"url\":\"" MID "\",\"length\":1,\"file_length\":-5}", TERN_ERR_BAD_FIELD},
        {"file", "{}", TERN_ERR_BAD_FIELD},
        {"file", "{\"url\":\"" MID "\",\"filename\":[]}", TERN_ERR_BAD_FIELD},
        {"file", "{\"url\":\"" MID "\",\"length\":1}", TERN_ERR_NOT_SUPPORTED},
        {"sticker", "{}", TERN_ERR_UNSUPPORTED_TYPE},
        {"txt", "[]", TERN_ERR_BAD_FIELD},
        {"txt", "{}", TERN_ERR_BAD_FIELD},
        {"txt", "{\"msg\":1}", TERN_ERR_BAD_FIELD},
        {"txt", "{\"msg\":\"x\",\"extra\":1}", TERN_ERR_NOT_SUPPORTED},
        {"loc", "{\"lat\":\"91\",\"lng\":\"0\"}", TERN_ERR_BAD_FIELD},
        {"loc", "{\"lat\":\"0\",\"lng\":\"-180.01\"}", TERN_ERR_BAD_FIELD},
        {"loc", "{\"lat\":\"north\",\"lng\":\"0\"}", TERN_ERR_BAD_FIELD},
        {"loc", "{\"lat\":\"1\"}", TERN_ERR_BAD_FIELD},
        {"loc", "{\"lat\":\"1\",\"lng\":\"2\",\"addr\":5}", TERN_ERR_BAD_FIELD},
        {"loc", "{\"lat\":\"1\",\"lng\":\"2\",\"buildingName\":\"x\"}", TERN_ERR_NOT_SUPPORTED},
        {"custom", "{\"customEvent\":\"has space\"}", TERN_ERR_BAD_FIELD},
        {"custom", "{\"customEvent\":\"\"}", TERN_ERR_BAD_FIELD},
        {"custom", "{\"customEvent\":\"abcdefghijklmnopqrstuvwxyz0123456\"}", TERN_ERR_BAD_FIELD}, /* 33 */
        {"custom", "{\"customExts\":{\"n\":1}}", TERN_ERR_BAD_FIELD},
        {"custom", "{\"customExts\":[\"a\"]}", TERN_ERR_BAD_FIELD},
        {"custom", "{\"customEvent\":\"e\",\"other\":1}", TERN_ERR_NOT_SUPPORTED},
        {"cmd", "{}", TERN_ERR_BAD_FIELD},
        {"cmd", "{\"action\":\"\"}", TERN_ERR_BAD_FIELD},
        {"cmd", "{\"action\":\"a\",\"x\":1}", TERN_ERR_NOT_SUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        round_trip(cases[i].type, cases[i].body, NULL, &rc);
        if (rc != cases[i].code)
            fail_msg("case %zu (%s %s): rc %d, wanted %d", i, cases[i].type, cases[i].body, rc, cases[i].code);
    }
    /* 16 customExts are fine, 17 are not. */
    char body[1024];
    int n = snprintf(body, sizeof body, "{\"customExts\":{");
    for (int i = 0; i < 17; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(body + n, sizeof body - (size_t)n, "}}");
    int rc;
    round_trip("custom", body, NULL, &rc);
    assert_int_equal(rc, TERN_ERR_BAD_FIELD);
    char *cut = strstr(body, ",\"k16\"");
    memcpy(cut, "}}", 3);
    round_trip("custom", body, NULL, &rc);
    assert_int_equal(rc, TERN_OK);
    (void)state;
}

static void test_foreign_messages(void **state)
{
    /* A WebSocket client's custom element and plain-text cloudCustomData. */
    cJSON *m = cJSON_Parse("{\"type\":\"TIMCustomElem\",\"payload\":{\"data\":\"d\",\"description\":\"dice\","
                           "\"extension\":\"6\"},\"cloudCustomData\":\"not json\"}");
    tern_buf out;
    tern_buf_init(&out, 0);
    assert_int_equal(tern_em_from_msg(m, &out), TERN_OK);
    assert_string_equal(out.data,
                        "{\"type\":\"custom\",\"body\":{\"customEvent\":\"d\",\"customExts\":{\"description\":"
                        "\"dice\",\"extension\":\"6\"}},\"ext\":{\"cloudCustomData\":\"not json\"}}");
    cJSON_Delete(m);
    tern_buf_reset(&out);
    m = cJSON_Parse("{\"type\":\"TIMFaceElem\",\"payload\":{}}");
    assert_int_equal(tern_em_from_msg(m, &out), TERN_ERR_UNSUPPORTED_TYPE);
    assert_int_equal(out.len, 0);
    cJSON_Delete(m);
    m = cJSON_Parse("{\"payload\":{}}");
    assert_int_equal(tern_em_from_msg(m, &out), TERN_ERR_BAD_FIELD);
    cJSON_Delete(m);
    tern_buf_free(&out);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_media_round_trips),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_foreign_messages),
    };
    return cmocka_run_group_tests_name("easemob", tests, NULL, NULL);
}
