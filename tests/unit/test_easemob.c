/* test_easemob.c — unit tests for core/easemob.c: every Easemob type sent over REST
 * (txt, loc, custom, cmd) maps onto its element and back to the same {type, body, ext}
 * (loc coordinates come back as numbers, as Easemob exports them); the refusals of
 * bodies (1003, 1012) and of the media types (1008); a WebSocket client's custom element
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

static void test_refusals(void **state)
{
    static const struct {
        const char *type, *body;
        int code;
    } cases[] = {
        {"img", "{\"url\":\"x\"}", TERN_ERR_UNSUPPORTED_TYPE},
        {"audio", "{}", TERN_ERR_UNSUPPORTED_TYPE},
        {"video", "{}", TERN_ERR_UNSUPPORTED_TYPE},
        {"file", "{}", TERN_ERR_UNSUPPORTED_TYPE},
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
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_foreign_messages),
    };
    return cmocka_run_group_tests_name("easemob", tests, NULL, NULL);
}
