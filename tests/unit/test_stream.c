/*
 * test_stream.c — unit tests of src/core/stream.c: the chunk request parser with every
 * code of seed 002's table it decides (and the order in which it decides them), the
 * stored fields of a streamed message (escaped per chunk = escaped whole), and the
 * token bucket of the per-app rate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"
#include "core/stream.h"
#include "tern/errors.h"

static int parse(const char *s, tern_stream_req *q)
{
    cJSON *j = NULL;
    assert_int_equal(tern_json_parse(s, strlen(s), &j), TERN_OK);
    int rc = tern_stream_req_parse(j, q);
    cJSON_Delete(j);
    return rc;
}

static void test_parse_codes(void **state)
{
    (void)state;
    tern_stream_req q;
    static const struct {
        const char *body;
        int code;
    } cases[] = {
        {"{\"to\":\"g\",\"body\":{\"seq\":0}}", TERN_ERR_STREAM_FROM},
        {"{\"from\":\"\",\"to\":\"g\",\"body\":{\"seq\":0}}", TERN_ERR_STREAM_FROM},
        {"{\"from\":null,\"to\":\"g\",\"body\":{\"seq\":0}}", TERN_ERR_STREAM_FROM},
        {"{\"from\":7,\"to\":\"g\",\"body\":{\"seq\":0}}", TERN_ERR_STREAM_FROM},
        {"{\"from\":\"a b\",\"to\":\"g\",\"body\":{\"seq\":0}}", TERN_ERR_BAD_FIELD},
        {"{\"from\":\"a\",\"body\":{\"seq\":0}}", TERN_ERR_STREAM_TO},
        {"{\"from\":\"a\",\"to\":\"\",\"body\":{\"seq\":0}}", TERN_ERR_STREAM_TO},
        {"{\"from\":\"a\",\"to\":[\"g\"],\"body\":{\"seq\":0}}", TERN_ERR_STREAM_TO},
        {"{\"from\":\"a\",\"to\":\"g\"}", TERN_ERR_STREAM_BODY},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":null}", TERN_ERR_STREAM_BODY},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":\"x\"}", TERN_ERR_STREAM_BODY},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{}}", TERN_ERR_STREAM_BODY},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"msg\":\"x\"}}", TERN_ERR_STREAM_SEQ},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":-1}}", TERN_ERR_STREAM_SEQ},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":\"1\"}}", TERN_ERR_STREAM_SEQ},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0.5}}", TERN_ERR_STREAM_SEQ},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":9007199254740992}}", TERN_ERR_STREAM_SEQ},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":1,\"msgId\":\"abc\"}}", TERN_ERR_STREAM_NOT_FOUND},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":1,\"msgId\":\"0\"}}", TERN_ERR_STREAM_NOT_FOUND},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":1,\"msgId\":{}}}", TERN_ERR_STREAM_NOT_FOUND},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0,\"msg\":null}}", TERN_ERR_BAD_FIELD},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0,\"msg\":3}}", TERN_ERR_BAD_FIELD},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0,\"type\":\"html\"}}", TERN_ERR_BAD_FIELD},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0,\"finish\":1}}", TERN_ERR_BAD_FIELD},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0,\"finishReason\":2147483648}}", TERN_ERR_BAD_FIELD},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0},\"ext\":null}", TERN_ERR_BAD_FIELD},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0},\"ext\":[]}", TERN_ERR_BAD_FIELD},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0},\"sync_device\":true}", TERN_ERR_NOT_SUPPORTED},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0,\"receiverList\":[]}}", TERN_ERR_NOT_SUPPORTED},
        {"[1]", TERN_ERR_BAD_FIELD},
        /* The seed's order: from, to, body, seq before anything else. */
        {"{\"from\":\"\",\"to\":\"\",\"body\":{}}", TERN_ERR_STREAM_FROM},
        {"{\"from\":\"a\",\"to\":\"\",\"x\":1}", TERN_ERR_STREAM_TO},
        {"{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":-1,\"x\":1}}", TERN_ERR_STREAM_SEQ},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].body, &q);
        if (rc != cases[i].code)
            fail_msg("%s: wanted %d, got %d", cases[i].body, cases[i].code, rc);
    }
}

static void test_parse_ok(void **state)
{
    (void)state;
    tern_stream_req q;
    cJSON *j = NULL;
    const char *s = "{\"from\":\"222\",\"to\":\"g1\",\"body\":{\"msgId\":\"1499712384170721280\",\"msg\":\"hi\","
                    "\"seq\":3,\"finish\":true,\"finishReason\":-2,\"type\":\"markdown\"},\"ext\":{\"a\":1}}";
    assert_int_equal(tern_json_parse(s, strlen(s), &j), TERN_OK);
    assert_int_equal(tern_stream_req_parse(j, &q), TERN_OK);
    assert_true(tern_str_eq(q.from, "222") && tern_str_eq(q.to, "g1") && tern_str_eq(q.text, "hi"));
    assert_int_equal(q.seq, 3);
    assert_int_equal(q.format, TERN_STREAM_FMT_MARKDOWN);
    assert_true(q.finish && q.has_reason && q.finish_reason == -2);
    assert_true(q.has_msg_id && q.msg_id == 1499712384170721280ULL);
    assert_non_null(q.ext);
    cJSON_Delete(j);
    /* msgId "" or null is the first chunk's (the seed: empty at first); msg absent is "". */
    assert_int_equal(parse("{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0,\"msgId\":\"\"}}", &q), TERN_OK);
    assert_false(q.has_msg_id);
    assert_int_equal((int)q.text.n, 0);
    assert_int_equal(q.format, 0);
    assert_int_equal(parse("{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":0,\"msgId\":null}}", &q), TERN_OK);
    assert_false(q.has_msg_id);
    assert_int_equal(parse("{\"from\":\"a\",\"to\":\"g\",\"body\":{\"seq\":2,\"msgId\":77}}", &q), TERN_OK);
    assert_true(q.has_msg_id && q.msg_id == 77);
}

static void test_fields(void **state)
{
    (void)state;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_putc(&b, '{');
    assert_int_equal(tern_stream_head(&b, TERN_CONV_KIND_GROUP, "bot", 3, "g1", 2, "{\"k\":\"v\"}", 9), 0);
    assert_int_equal(tern_stream_text_open(&b), 0);
    assert_int_equal(tern_stream_text_append(&b, "a\"b", 3), 0);
    assert_int_equal(tern_stream_text_append(&b, "\n第", 4), 0);
    tern_stream_meta m = {
        .format = TERN_STREAM_FMT_MARKDOWN, .state = TERN_STREAM_ST_ENDED, .last_seq = 4, .end_code = 14033};
    assert_int_equal(tern_stream_text_close(&b, &m), 0);
    tern_buf_putc(&b, '}');
    assert_string_equal(b.data,
                        "{\"conversationType\":\"GROUP\",\"from\":\"bot\",\"to\":\"g1\",\"type\":\"TIMTextElem\","
                        "\"cloudCustomData\":\"{\\\"k\\\":\\\"v\\\"}\",\"priority\":\"Normal\","
                        "\"needReadReceipt\":false,\"payload\":{\"text\":\"a\\\"b\\n第\"},"
                        "\"stream\":{\"format\":\"markdown\",\"state\":\"ended\",\"lastSeq\":4,\"endCode\":14033}}");
    cJSON *j = NULL;
    assert_int_equal(tern_json_parse(b.data, b.len, &j), TERN_OK);
    cJSON_Delete(j);
    tern_buf_reset(&b);
    m = (tern_stream_meta){.format = TERN_STREAM_FMT_TEXT,
                           .state = TERN_STREAM_ST_FINISHED,
                           .last_seq = 1,
                           .has_reason = 1,
                           .finish_reason = 0};
    tern_stream_text_close(&b, &m);
    assert_string_equal(b.data,
                        "\"},\"stream\":{\"format\":\"text\",\"state\":\"finished\",\"lastSeq\":1,\"finishReason\":0}");
    tern_buf_free(&b);
}

static void test_rate(void **state)
{
    (void)state;
    tern_rate r = {0};
    uint64_t t = 1000000000ULL;
    int ok = 0;
    for (int i = 0; i < 150; i++)
        ok += tern_rate_take(&r, 100, 100, t);
    assert_int_equal(ok, 100);                                          /* a full bucket, then nothing */
    assert_int_equal(tern_rate_take(&r, 100, 100, t + 9000000ULL), 0);  /* 0.9 of a token */
    assert_int_equal(tern_rate_take(&r, 100, 100, t + 10000000ULL), 1); /* 10 ms: one */
    assert_int_equal(tern_rate_take(&r, 100, 100, t + 10000000ULL), 0);
    ok = 0;
    for (int i = 0; i < 300; i++)
        ok += tern_rate_take(&r, 100, 100, t + 5000000000ULL);
    assert_int_equal(ok, 100); /* never more than the burst */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_codes),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
