/*
 * test_json.c — unit tests of src/core/json.c (the strict parse entry and the getters),
 * src/core/elem.c (the element table), src/core/conv.c and src/core/message.c (the
 * message model shared by ternd and libtern), and the allocation-failure hook of
 * alloc.h: the codec is run failing each allocation in turn and must answer with an
 * error, never crash or leak (ASan checks the leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/conv.h"
#include "core/elem.h"
#include "core/json.h"
#include "core/message.h"
#include "tern/errors.h"

static int parse_code(const char *s)
{
    cJSON *j = NULL;
    int rc = tern_json_parse(s, strlen(s), &j);
    if (rc == TERN_OK)
        assert_non_null(j);
    else
        assert_null(j);
    cJSON_Delete(j);
    return rc;
}

static void test_parse_strict(void **state)
{
    static const char *const good[] = {"{}",
                                       " {\"op\":\"ping\",\"id\":1} \r\n\t",
                                       "[1,-0.5e+3,true,false,null,\"\\u00e9\\ud83d\\ude00\\/\"]",
                                       "\"x\"",
                                       "0",
                                       "{\"a\":{\"b\":[{}]}}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (parse_code(good[i]) != TERN_OK)
            fail_msg("refused: %s", good[i]);
    static const char *const bad[] = {"",
                                      " ",
                                      "{\"op\":\"ping\",\"id\":1}xyz",
                                      "{}{}",
                                      "\"\\u12G4\"",
                                      "\"\\x\"",
                                      "\"\\ud800\"",
                                      "\"\\udc00x\"",
                                      "\"a\tb\"",
                                      "01",
                                      "1.",
                                      "-",
                                      "1e",
                                      "{\"a\" 1}",
                                      "{\"a\":1,}",
                                      "[1,]",
                                      "tru",
                                      "nul",
                                      "{a:1}",
                                      "'x'",
                                      "[",
                                      "{\"a\":}",
                                      "\"unterminated"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse_code(bad[i]) != TERN_ERR_BAD_JSON)
            fail_msg("not 1001: %s", bad[i]);
    /* NUL anywhere in a string (value or key) is 1003. */
    static const char *const nul[] = {"{\"clientMsgId\":\"k\\u0000one\"}", "{\"to\":\"bob\\u0000evil\"}",
                                      "{\"a\\u0000\":1}", "[\"\\u0000\"]"};
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++)
        if (parse_code(nul[i]) != TERN_ERR_BAD_FIELD)
            fail_msg("not 1003: %s", nul[i]);
    /* Raw NUL bytes are control characters: not JSON at all. */
    cJSON *j;
    assert_int_equal(tern_json_parse("\"a\0b\"", 5, &j), TERN_ERR_BAD_JSON);
    /* Depth bound. */
    char deep[2 * TERN_JSON_MAX_DEPTH + 8];
    size_t d = TERN_JSON_MAX_DEPTH;
    memset(deep, '[', d);
    memset(deep + d, ']', d);
    deep[2 * d] = 0;
    assert_int_equal(parse_code(deep), TERN_OK);
    memset(deep, '[', d + 1);
    memset(deep + d + 1, ']', d + 1);
    deep[2 * d + 2] = 0;
    assert_int_equal(parse_code(deep), TERN_ERR_BAD_JSON);
    /* A number over 63 characters (cJSON would read a prefix of it). */
    char num[80];
    memset(num, '1', 64);
    num[64] = 0;
    assert_int_equal(parse_code(num), TERN_ERR_BAD_JSON);
    num[63] = 0;
    assert_int_equal(parse_code(num), TERN_OK);
    /* Not NUL-terminated: the scanner stays within n. */
    char *exact = malloc(2);
    memcpy(exact, "{}", 2);
    assert_int_equal(tern_json_parse(exact, 2, &j), TERN_OK);
    cJSON_Delete(j);
    free(exact);
    (void)state;
}

static void test_getters(void **state)
{
    cJSON *o;
    const char *txt = "{\"s\":\"abc\",\"n\":null,\"i\":42,\"f\":1.5,\"big\":9007199254740992,\"huge\":1e400,"
                      "\"neg\":-3,\"u\":\"18446744073709551615\",\"b\":true,\"id\":\"bob\",\"badid\":\"b/ob\","
                      "\"o\":{},\"a\":[]}";
    assert_int_equal(tern_json_parse(txt, strlen(txt), &o), TERN_OK);
    tern_str s = {0};
    assert_int_equal(tern_json_get_str(o, "s", &s), TERN_JSON_OK);
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.p, "abc", 3);
    assert_int_equal(tern_json_get_str(o, "n", &s), TERN_JSON_ABSENT);
    assert_int_equal(tern_json_get_str(o, "missing", &s), TERN_JSON_ABSENT);
    assert_int_equal(tern_json_get_str(o, "i", &s), TERN_JSON_INVALID);
    assert_int_equal(tern_json_get_str(NULL, "s", &s), TERN_JSON_ABSENT);
    assert_int_equal(tern_json_get_ident(o, "id", &s), TERN_JSON_OK);
    assert_int_equal(tern_json_get_ident(o, "badid", &s), TERN_JSON_INVALID);
    long long v = 7;
    assert_int_equal(tern_json_get_int(o, "i", 0, 100, &v), TERN_JSON_OK);
    assert_int_equal(v, 42);
    assert_int_equal(tern_json_get_int(o, "i", 0, 41, &v), TERN_JSON_INVALID);
    assert_int_equal(tern_json_get_int(o, "f", 0, 100, &v), TERN_JSON_INVALID);
    assert_int_equal(tern_json_get_int(o, "big", 0, TERN_JSON_MAX_SAFE_INT, &v), TERN_JSON_INVALID);
    assert_int_equal(tern_json_get_int(o, "huge", 0, TERN_JSON_MAX_SAFE_INT, &v), TERN_JSON_INVALID);
    assert_int_equal(tern_json_get_int(o, "neg", -5, 5, &v), TERN_JSON_OK);
    assert_int_equal(v, -3);
    assert_int_equal(tern_json_get_int(o, "s", 0, 5, &v), TERN_JSON_INVALID);
    assert_int_equal(tern_json_get_int(o, "n", 0, 5, &v), TERN_JSON_ABSENT);
    uint64_t u = 0;
    assert_int_equal(tern_json_get_u64(o, "u", &u), TERN_JSON_INVALID); /* 20 digits */
    assert_int_equal(tern_json_get_u64(o, "i", &u), TERN_JSON_OK);
    assert_int_equal(u, 42);
    assert_int_equal(tern_json_get_u64(o, "neg", &u), TERN_JSON_INVALID);
    int b = 0;
    assert_int_equal(tern_json_get_bool(o, "b", &b), TERN_JSON_OK);
    assert_true(b);
    assert_int_equal(tern_json_get_bool(o, "i", &b), TERN_JSON_INVALID);
    assert_string_equal(tern_json_str(o, "s"), "abc");
    assert_null(tern_json_str(o, "o"));
    cJSON_Delete(o);
    assert_int_equal(tern_json_escaped_len("a\"\\\n\x01", 5), 1 + 2 + 2 + 2 + 6);
    /* Raw-frame scanners. */
    const char *f = "{\"re\":\"send\",\"id\":\"0000000012\",\"code\":80002,\"message\":\"too long\"}";
    const char *p;
    assert_int_equal(tern_json_scan_str(f, strlen(f), "\"re\"", &p), 4);
    assert_memory_equal(p, "send", 4);
    long code;
    assert_int_equal(tern_json_scan_int(f, strlen(f), "\"code\"", &code), 0);
    assert_int_equal(code, 80002);
    assert_int_equal(tern_json_scan_int(f, strlen(f), "\"nope\"", &code), -1);
    (void)state;
}

static void test_conv(void **state)
{
    tern_conv_kind k;
    tern_str peer;
    assert_int_equal(tern_conv_id_parse("C2Cbob", 6, &k, &peer), TERN_OK);
    assert_int_equal(k, TERN_CONV_KIND_C2C);
    assert_int_equal(peer.n, 3);
    assert_int_equal(tern_conv_id_parse("GROUPg1", 7, &k, &peer), TERN_OK);
    assert_int_equal(k, TERN_CONV_KIND_GROUP);
    assert_int_equal(tern_conv_id_parse("@TIM#SYSTEM", 11, &k, &peer), TERN_ERR_BAD_FIELD);
    assert_int_equal(tern_conv_kind_parse("@TIM#SYSTEM", 11), TERN_CONV_KIND_SYSTEM);
    assert_int_equal(tern_conv_kind_parse("SYSTEM", 6), TERN_CONV_KIND_SYSTEM);
    assert_int_equal(tern_conv_kind_parse("c2c", 3), TERN_CONV_KIND_NONE);
    char key[32];
    assert_int_equal(tern_conv_key_c2c("bob", 3, "alice", 5, key, sizeof key), 11);
    assert_string_equal(key, "c:alice:bob");
    assert_int_equal(tern_conv_key_c2c("ab", 2, "a", 1, key, sizeof key), 6);
    assert_string_equal(key, "c:a:ab"); /* a prefix sorts first, as strcmp */
    assert_int_equal(tern_conv_key_c2c("B", 1, "a", 1, key, sizeof key), 5);
    assert_string_equal(key, "c:B:a");
    assert_int_equal(tern_conv_key_c2c("alice", 5, "bob", 3, key, 11), -1);
    assert_int_equal(tern_conv_key_group("g1", 2, key, sizeof key), 4);
    assert_string_equal(key, "g:g1");
    char id[32];
    assert_true(tern_conv_id_for(id, sizeof id, TERN_CONV_KIND_C2C, "bob", "alice", "alice") > 0);
    assert_string_equal(id, "C2Cbob");
    assert_true(tern_conv_id_for(id, sizeof id, TERN_CONV_KIND_C2C, "alice", "bob", "alice") > 0);
    assert_string_equal(id, "C2Cbob");
    assert_true(tern_conv_id_for(id, sizeof id, TERN_CONV_KIND_GROUP, "alice", "g1", "bob") > 0);
    assert_string_equal(id, "GROUPg1");
    (void)state;
}

/* Every row of the element table: found by name and by SDK type, encodes a payload
 * with all its fields canonically, refuses an unknown key (1012) and a wrong type (1003),
 * and decodes what it encoded. */
static void test_elem_table(void **state)
{
    size_t i = 0;
    const tern_elem_type *t;
    while ((t = tern_elem_at(i++))) {
        assert_ptr_equal(tern_elem_find(t->name, strlen(t->name)), t);
        if (t->sdk_type)
            assert_ptr_equal(tern_elem_by_sdk_type(t->sdk_type), t);
        assert_non_null(t->encode);
        assert_non_null(t->decode);
        assert_true(t->nfields <= TERN_ELEM_MAX_FIELDS);
        if (t->media)
            continue; /* media ids and integers: test_msg.c, test_media_elems */
        cJSON *p = cJSON_CreateObject();
        const char *vals[TERN_ELEM_MAX_FIELDS];
        for (size_t f = 0; f < t->nfields; f++) {
            if (t->fields[f].number)
                cJSON_AddNumberToObject(p, t->fields[f].name, 1.5);
            else
                cJSON_AddStringToObject(p, t->fields[f].name, "v\"1");
            vals[f] = t->fields[f].number ? "1.5" : "v\"1";
        }
        tern_buf a, b;
        tern_buf_init(&a, 0);
        tern_buf_init(&b, 0);
        assert_int_equal(t->encode(t, p, &a), TERN_OK);
        assert_int_equal(tern_elem_encode_values(t, vals, 0, &b), TERN_OK);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        cJSON *back = cJSON_Parse(a.data);
        const char *dv[TERN_ELEM_MAX_FIELDS];
        t->decode(t, back, dv);
        for (size_t f = 0; f < t->nfields; f++) {
            if (t->fields[f].number)
                assert_null(dv[f]); /* numbers: read from the payload JSON */
            else
                assert_string_equal(dv[f], "v\"1");
        }
        cJSON_Delete(back);
        tern_buf_reset(&a);
        cJSON_AddNumberToObject(p, "unknownKey", 1);
        assert_int_equal(t->encode(t, p, &a), TERN_ERR_NOT_SUPPORTED);
        cJSON_DeleteItemFromObject(p, "unknownKey");
        if (t->nfields) {
            cJSON_ReplaceItemInObject(p, t->fields[0].name,
                                      t->fields[0].number ? cJSON_CreateString("5") : cJSON_CreateNumber(5));
            tern_buf_reset(&a);
            assert_int_equal(t->encode(t, p, &a), TERN_ERR_BAD_FIELD);
        }
        cJSON *arr = cJSON_CreateArray();
        assert_int_equal(t->encode(t, arr, &a), TERN_ERR_BAD_FIELD);
        cJSON_Delete(arr);
        cJSON_Delete(p);
        tern_buf_free(&a);
        tern_buf_free(&b);
    }
    assert_true(i > 7); /* Text, Custom, Location and the four media rows at least */
    assert_null(tern_elem_find("TIMFaceElem", 11));
    /* TIMLocationElem: numbers in their shortest exact form, coordinates in range. */
    const tern_elem_type *loc = tern_elem_find("TIMLocationElem", 15);
    assert_non_null(loc);
    tern_buf lb;
    tern_buf_init(&lb, 0);
    const char *lv[3] = {"Tian'anmen", "116.397128", "39.916527"};
    assert_int_equal(tern_elem_encode_values(loc, lv, 0, &lb), TERN_OK);
    assert_string_equal(lb.data, "{\"description\":\"Tian'anmen\",\"longitude\":116.397128,\"latitude\":39.916527}");
    static const char *const bad_coords[][2] = {{"180.0001", "0"}, {"-180.5", "0"}, {"0", "90.01"}, {"0", "-91"},
                                                {"1e400", "0"},    {"abc", "0"},    {"0", ""},      {"0x10", "0"}};
    for (size_t k = 0; k < sizeof bad_coords / sizeof bad_coords[0]; k++) {
        const char *bv[3] = {NULL, bad_coords[k][0], bad_coords[k][1]};
        tern_buf_reset(&lb);
        assert_int_equal(tern_elem_encode_values(loc, bv, 0, &lb), TERN_ERR_BAD_FIELD);
    }
    const char *edge[3] = {NULL, "-180", "90"};
    tern_buf_reset(&lb);
    assert_int_equal(tern_elem_encode_values(loc, edge, 0, &lb), TERN_OK);
    assert_string_equal(lb.data, "{\"description\":\"\",\"longitude\":-180,\"latitude\":90}");
    const char *missing[3] = {"x", "1", NULL};
    tern_buf_reset(&lb);
    assert_int_equal(tern_elem_encode_values(loc, missing, 0, &lb), TERN_ERR_BAD_FIELD);
    tern_buf_free(&lb);
    /* Today's canonical bytes (stored messages must not change). */
    const tern_elem_type *custom = tern_elem_find("TIMCustomElem", 13);
    const char *cv[3] = {"d", NULL, NULL};
    tern_buf o;
    tern_buf_init(&o, 0);
    assert_int_equal(tern_elem_encode_values(custom, cv, 0, &o), TERN_OK);
    assert_string_equal(o.data, "{\"data\":\"d\",\"description\":\"\",\"extension\":\"\"}");
    tern_buf_free(&o);
    const tern_elem_type *text = tern_elem_find("TIMTextElem", 11);
    const char *tv[1] = {NULL};
    assert_int_equal(tern_elem_encode_values(text, tv, 0, &o), TERN_ERR_BAD_FIELD);
    tern_buf_free(&o);
    (void)state;
}

static int send_code(const char *json)
{
    cJSON *j;
    int rc = tern_json_parse(json, strlen(json), &j);
    if (rc != TERN_OK)
        return rc;
    tern_msg m;
    rc = tern_msg_parse_send(j, &m);
    tern_msg_clear(&m);
    cJSON_Delete(j);
    return rc;
}

static void test_message_model(void **state)
{
    const char *ok = "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":"
                     "\"hi\"},\"clientMsgId\":\"c1\",\"cloudCustomData\":\"x\",\"priority\":\"Low\","
                     "\"needReadReceipt\":true}";
    cJSON *j = cJSON_Parse(ok);
    tern_msg m;
    assert_int_equal(tern_msg_parse_send(j, &m), TERN_OK);
    tern_buf f;
    tern_buf_init(&f, 0);
    assert_int_equal(tern_msg_encode_fields(&f, &m, "alice", 5), 0);
    assert_string_equal(f.data, "\"conversationType\":\"C2C\",\"from\":\"alice\",\"to\":\"bob\",\"clientMsgId\":\"c1\","
                                "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"hi\"},\"cloudCustomData\":\"x\","
                                "\"priority\":\"Low\",\"needReadReceipt\":true");
    /* Read back as libtern does, from the stored shape. */
    tern_buf obj;
    tern_buf_init(&obj, 0);
    tern_buf_printf(&obj, "{\"msgId\":\"7264021817339904001\",\"seq\":5,\"time\":17,%s}", f.data);
    cJSON *back = cJSON_Parse(obj.data);
    tern_msg_view v;
    assert_int_equal(tern_msg_decode(back, &v), 0);
    assert_true(v.msg_id == 7264021817339904001ULL);
    assert_int_equal(v.seq, 5);
    assert_int_equal(v.kind, TERN_CONV_KIND_C2C);
    assert_string_equal(v.from, "alice");
    assert_ptr_equal(v.elem, tern_elem_find("TIMTextElem", 11));
    assert_string_equal(v.cmid, "c1");
    assert_int_equal(v.priority, TERN_MSG_PRIO_LOW);
    assert_true(v.need_read_receipt);
    assert_false(v.online_only);
    cJSON_Delete(back);
    cJSON_DeleteItemFromObject(j, "priority");
    tern_buf_reset(&f);
    tern_msg_clear(&m);
    assert_int_equal(tern_msg_parse_send(j, &m), TERN_OK);
    assert_int_equal(tern_msg_encode_send(&f, &m, 1), 0);
    assert_string_equal(f.data,
                        ",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
                        "\"payload\":{\"text\":\"hi\"},\"clientMsgId\":\"c1\",\"cloudCustomData\":\"x\","
                        "\"priority\":\"Normal\",\"needReadReceipt\":true},\"options\":{\"onlineUserOnly\":true}");
    tern_msg_clear(&m);
    tern_buf_free(&f);
    tern_buf_free(&obj);
    cJSON_Delete(j);

    /* Codes, in the order the protocol documents them. */
    struct {
        const char *json;
        int code;
    } cases[] = {
        {"[]", TERN_ERR_BAD_FIELD},
        {"{\"conversationType\":\"@TIM#SYSTEM\",\"to\":\"x\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_SYSTEM_CONV},
        {"{\"conversationType\":\"C2C\",\"to\":\"@TIM#SYSTEM\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_SYSTEM_CONV},
        {"{\"conversationType\":\"C2C\",\"to\":\"bob\\u0000evil\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":"
         "\"x\"}}",
         TERN_ERR_BAD_FIELD},
        {"{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"a\\u0000b\"}}",
         TERN_ERR_BAD_FIELD},
        {"{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"receiverList\":[\"a\"]}",
         TERN_ERR_GROUP_ONLY},
        {"{\"conversationType\":\"GROUP\",\"to\":\"g\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"receiverList\":[]}",
         TERN_ERR_BAD_FIELD},
        {"{\"conversationType\":\"GROUP\",\"to\":\"g\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"receiverList\":[\"a\",7]}",
         TERN_ERR_BAD_FIELD},
        {"{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"isSupportExtension\":1}",
         TERN_ERR_BAD_FIELD},
        {"{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMFaceElem\",\"payload\":{}}",
         TERN_ERR_UNSUPPORTED_TYPE},
        {"{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{}}", TERN_ERR_BAD_FIELD},
        {"{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"needReadReceipt\":\"yes\"}",
         TERN_ERR_BAD_FIELD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = send_code(cases[i].json);
        if (rc != cases[i].code)
            fail_msg("case %zu: got %d, want %d: %s", i, rc, cases[i].code, cases[i].json);
    }
    assert_string_equal(tern_strerror(TERN_ERR_NOT_SUPPORTED), "field not supported yet");
    (void)state;
}

/* The codec under allocation failure: parse, validate and encode a message failing the
 * 1st, 2nd, ... allocation until a run needs no failure. Every failing run must end in an
 * error code (and ASan sees no leak); the last run must succeed. */
static int codec_run(const char *json)
{
    cJSON *j;
    int rc = tern_json_parse(json, strlen(json), &j);
    if (rc != TERN_OK)
        return rc;
    tern_msg m;
    rc = tern_msg_parse_send(cJSON_GetObjectItemCaseSensitive(j, "msg"), &m);
    if (rc == TERN_OK) {
        tern_buf f;
        tern_buf_init(&f, 0);
        if (tern_msg_encode_fields(&f, &m, "alice", 5) < 0)
            rc = TERN_ERR_INTERNAL;
        else {
            cJSON *back;
            tern_buf obj;
            tern_buf_init(&obj, 0);
            if (tern_buf_printf(&obj, "{\"msgId\":\"1\",\"seq\":1,\"time\":1,%s}", f.data) < 0)
                rc = TERN_ERR_INTERNAL;
            else if ((rc = tern_json_parse(obj.data, obj.len, &back)) == TERN_OK) {
                tern_msg_view v;
                if (tern_msg_decode(back, &v) < 0)
                    rc = TERN_ERR_INTERNAL;
                cJSON_Delete(back);
            }
            tern_buf_free(&obj);
        }
        tern_buf_free(&f);
    }
    tern_msg_clear(&m);
    cJSON_Delete(j);
    return rc;
}

static void test_alloc_failure(void **state)
{
    const char *json = "{\"op\":\"send\",\"id\":1,\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\","
                       "\"type\":\"TIMCustomElem\",\"payload\":{\"data\":\"d\\n\",\"extension\":\"e\"},"
                       "\"cloudCustomData\":\"c\",\"clientMsgId\":\"k\"}}";
    int n;
    for (n = 1; n < 1000; n++) {
        long before = tern_alloc_failures();
        tern_alloc_fail_after(n);
        int rc = codec_run(json);
        tern_alloc_fail_after(0);
        if (tern_alloc_failures() == before) {
            assert_int_equal(rc, TERN_OK); /* nothing failed: the whole run worked */
            break;
        }
        if (rc == TERN_OK)
            fail_msg("allocation %d failed but the codec reported success", n);
        assert_int_equal(rc, TERN_ERR_INTERNAL);
    }
    assert_true(n > 5); /* the hook reached cJSON and the buffers */
    /* Disarmed, allocation works again. */
    void *p = tern_malloc(16);
    assert_non_null(p);
    tern_free(p);
    (void)state;
}

/* The send options (seed 001's sendMessage options): codes and the push object. */
static void test_send_opts(void **state)
{
    static const struct {
        const char *json;
        int code;
    } cases[] = {
        {"null", TERN_OK},
        {"{}", TERN_OK},
        {"[]", TERN_ERR_BAD_FIELD},
        {"{\"onlineUserOnly\":1}", TERN_ERR_BAD_FIELD},
        {"{\"onlineUserOnly\":true}", TERN_OK},
        {"{\"junk\":true}", TERN_ERR_NOT_SUPPORTED},
        {"{\"offlinePushInfo\":{\"title\":\"t\",\"x\":1}}", TERN_ERR_NOT_SUPPORTED},
        {"{\"offlinePushInfo\":[]}", TERN_ERR_BAD_FIELD},
        {"{\"offlinePushInfo\":{\"disablePush\":\"yes\"}}", TERN_ERR_BAD_FIELD},
        {"{\"messageControlInfo\":{\"excludedFromLastMessage\":true}}", TERN_OK},
        {"{\"messageControlInfo\":{\"excludedFromUnreadCount\":0}}", TERN_ERR_BAD_FIELD},
        {"{\"onlineUserOnly\":true,\"messageControlInfo\":{}}", TERN_ERR_OPTIONS_CONFLICT},
        {"{\"onlineUserOnly\":false,\"messageControlInfo\":{}}", TERN_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = cJSON_Parse(cases[i].json);
        tern_send_opts o;
        int rc = tern_send_opts_parse(j, &o);
        if (rc != cases[i].code)
            fail_msg("case %zu: got %d, want %d: %s", i, rc, cases[i].code, cases[i].json);
        cJSON_Delete(j);
    }
    /* A title one byte over its limit; then the canonical push object. */
    char big[TERN_PUSH_MAX_TITLE + 64];
    int n = snprintf(big, sizeof big, "{\"offlinePushInfo\":{\"title\":\"");
    memset(big + n, 'a', TERN_PUSH_MAX_TITLE + 1);
    strcpy(big + n + TERN_PUSH_MAX_TITLE + 1, "\"}}");
    cJSON *j = cJSON_Parse(big);
    tern_send_opts o;
    assert_int_equal(tern_send_opts_parse(j, &o), TERN_ERR_BAD_FIELD);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"offlinePushInfo\":{\"title\":\"T\\\"\",\"disablePush\":true,\"androidOPPOChannelID\":\"c\"}}");
    assert_int_equal(tern_send_opts_parse(j, &o), TERN_OK);
    assert_true(o.push.present && o.push.disable_push);
    tern_buf b;
    tern_buf_init(&b, 0);
    assert_int_equal(tern_push_info_encode(&b, &o.push), 0);
    tern_buf_putc(&b, 0);
    assert_string_equal((char *)b.data, "{\"disablePush\":true,\"disableVoipPush\":false,\"title\":\"T\\\"\","
                                        "\"description\":\"\",\"extension\":\"\",\"ignoreIOSBadge\":false,"
                                        "\"androidOPPOChannelID\":\"c\"}");
    tern_buf_free(&b);
    cJSON_Delete(j);
    (void)state;
}

int main(void)
{
    tern_json_use_tern_alloc();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_strict), cmocka_unit_test(test_getters),       cmocka_unit_test(test_conv),
        cmocka_unit_test(test_elem_table),   cmocka_unit_test(test_message_model), cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_send_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
