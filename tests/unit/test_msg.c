/*
 * test_msg.c — unit tests of the message model's JSON codec and checks (src/server/msg.c
 * msg_prepare, session.c conv_parse) against a real SQLite store in a temp directory:
 * canonical payload encoding, kept fields, the 12 KB limit (80002), the system
 * conversation (2106), unknown users/groups (20003/10010), non-members (10007),
 * unsupported types (1008) and malformed fields (1003).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "apps.h"
#include "core/imgsize.h"
#include "core/util.h"
#include "groups.h"
#include "media/media_url.h"
#include "msg.h"
#include "session.h"

static server srv;
static store_reader *rd;
static int64_t app;
static char dir[64];

static void run(store_op *op)
{
    assert_int_equal(store_run_sync(srv.st, op), TERN_OK);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/tern-test-msg-XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.groups_mu, NULL);
    hmap_init(&srv.groups);
    store_options so = {.data_dir = dir, .max_batch = 64, .queue_max = 1000};
    char err[128];
    srv.st = store_open(&so, err, sizeof err);
    assert_non_null(srv.st);
    store_op op = {.kind = STORE_OP_CREATE_APP};
    op.u.app_create.org = "o";
    op.u.app_create.name = "a";
    op.u.app_create.client_id = "cid";
    op.u.app_create.client_secret = "secret";
    run(&op);
    app = op.u.app_create.out_id;
    const char *users[] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        store_op u = {.kind = STORE_OP_CREATE_USER, .app = app};
        u.u.user.user = users[i];
        run(&u);
    }
    const char *members[] = {"bob"};
    store_op g = {.kind = STORE_OP_CREATE_GROUP, .app = app};
    g.u.group.group_id = "g1";
    g.u.group.owner = "alice";
    g.u.group.members = members;
    g.u.group.nmembers = 1;
    run(&g);
    pthread_rwlock_init(&srv.apps_mu, NULL);
    app_info ai = {.id = app, .org = "o", .name = "a", .client_id = "cid", .secret = "secret", .key = "o/a"};
    apps_add(&srv, &ai);
    rd = store_reader_open(srv.st);
    assert_non_null(rd);
    (void)state;
    return 0;
}

static int teardown(void **state)
{
    store_reader_close(rd);
    store_close(srv.st);
    free(srv.apps);
    pthread_rwlock_destroy(&srv.apps_mu);
    groups_free_all(&srv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    (void)state;
    return 0;
}

/* Prepares a message from JSON text; returns the code, *out set on success. */
static int prep(const char *from, const char *json, send_req **out)
{
    cJSON *m = cJSON_Parse(json);
    assert_non_null(m);
    *out = NULL;
    int rc = msg_prepare(&srv, rd, app, from, m, out);
    cJSON_Delete(m);
    return rc;
}

static cJSON *fields_obj(const send_req *r)
{
    char *buf = malloc(r->fields_len + 3);
    buf[0] = '{';
    memcpy(buf + 1, r->fields, r->fields_len);
    buf[r->fields_len + 1] = '}';
    buf[r->fields_len + 2] = 0;
    cJSON *o = cJSON_Parse(buf);
    free(buf);
    assert_non_null(o);
    return o;
}

static void test_text_c2c_fields(void **state)
{
    send_req *r;
    assert_int_equal(prep("alice",
                          "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
                          "\"payload\":{\"text\":\"hi \\\"you\\\"\\n\\u00e9\"},\"clientMsgId\":\"c-1\","
                          "\"cloudCustomData\":\"ccd\",\"priority\":\"High\",\"needReadReceipt\":true}",
                          &r),
                     TERN_OK);
    assert_string_equal(r->conv_key, "c:alice:bob");
    assert_string_equal(r->cmid, "c-1");
    assert_int_equal(r->is_group, 0);
    cJSON *o = fields_obj(r);
    assert_string_equal(cJSON_GetObjectItem(o, "conversationType")->valuestring, "C2C");
    assert_string_equal(cJSON_GetObjectItem(o, "from")->valuestring, "alice");
    assert_string_equal(cJSON_GetObjectItem(o, "to")->valuestring, "bob");
    assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "TIMTextElem");
    cJSON *p = cJSON_GetObjectItem(o, "payload");
    assert_string_equal(cJSON_GetObjectItem(p, "text")->valuestring, "hi \"you\"\n\xc3\xa9");
    assert_string_equal(cJSON_GetObjectItem(o, "cloudCustomData")->valuestring, "ccd");
    assert_string_equal(cJSON_GetObjectItem(o, "priority")->valuestring, "High");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "needReadReceipt")));
    cJSON_Delete(o);
    send_req_free(r);
    (void)state;
}

static void test_custom_and_defaults(void **state)
{
    send_req *r;
    assert_int_equal(prep("bob",
                          "{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMCustomElem\","
                          "\"payload\":{\"data\":\"d\"}}",
                          &r),
                     TERN_OK);
    assert_string_equal(r->conv_key, "g:g1");
    assert_null(r->cmid);
    cJSON *o = fields_obj(r);
    cJSON *p = cJSON_GetObjectItem(o, "payload");
    assert_string_equal(cJSON_GetObjectItem(p, "data")->valuestring, "d");
    assert_string_equal(cJSON_GetObjectItem(p, "description")->valuestring, "");
    assert_string_equal(cJSON_GetObjectItem(o, "priority")->valuestring, "Normal");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "needReadReceipt")));
    cJSON_Delete(o);
    send_req_free(r);
    (void)state;
}

static void test_size_limit(void **state)
{
    /* {"text":"<n x>"} is n + 11 bytes; with cloudCustomData of c bytes the limit is
     * n + 11 + c <= 12288. */
    size_t n = 12288 - 11 - 5;
    static const char head[] = "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
                               "\"cloudCustomData\":\"12345\",\"payload\":{\"text\":\"";
    char *json = malloc(n + sizeof head + 16);
    size_t off = sizeof head - 1;
    memcpy(json, head, off);
    memset(json + off, 'x', n);
    strcpy(json + off + n, "\"}}");
    send_req *r;
    assert_int_equal(prep("alice", json, &r), TERN_OK);
    send_req_free(r);
    memset(json + off, 'x', n + 1);
    strcpy(json + off + n + 1, "\"}}");
    assert_int_equal(prep("alice", json, &r), TERN_ERR_MSG_TOO_LONG);
    assert_null(r);
    free(json);
    (void)state;
}

/* The measure of the 12 KB rule counts cloudCustomData JSON-escaped (issue 7): a payload
 * of 12188 bytes and 100 '"' (escaped: 200 bytes) is over; 100 'x' is exactly at it. */
static void test_size_measure_escaped(void **state)
{
    size_t n = 12188 - 11; /* {"text":"..."} */
    static const char head[] = "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
                               "\"payload\":{\"text\":\"";
    char *json = malloc(n + sizeof head + 300);
    size_t off = sizeof head - 1;
    memcpy(json, head, off);
    memset(json + off, 'x', n);
    char *p = json + off + n;
    p += sprintf(p, "\"},\"cloudCustomData\":\"");
    for (int i = 0; i < 100; i++)
        p += sprintf(p, "\\\"");
    strcpy(p, "\"}");
    send_req *r;
    assert_int_equal(prep("alice", json, &r), TERN_ERR_MSG_TOO_LONG);
    assert_null(r);
    p = json + off + n + strlen("\"},\"cloudCustomData\":\"");
    memset(p, 'x', 100);
    strcpy(p + 100, "\"}");
    assert_int_equal(prep("alice", json, &r), TERN_OK);
    send_req_free(r);
    assert_int_equal(tern_msg_body_size(12188, "\"\"", 2), 12192);
    free(json);
    (void)state;
}

static void test_errors(void **state)
{
    send_req *r;
    struct {
        const char *from, *json;
        int code;
    } cases[] = {
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"@TIM#SYSTEM\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_SYSTEM_CONV},
        {"alice",
         "{\"conversationType\":\"SYSTEM\",\"to\":\"x\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_SYSTEM_CONV},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"nobody\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_USER_NOT_FOUND},
        {"alice",
         "{\"conversationType\":\"GROUP\",\"to\":\"nog\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_GROUP_NOT_FOUND},
        {"carol",
         "{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_GROUP_PERMISSION},
        {"alice", "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMGroupTipElem\",\"payload\":{}}",
         TERN_ERR_UNSUPPORTED_TYPE},
        {"alice", "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":5}}",
         TERN_ERR_BAD_FIELD},
        {"alice", "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\"}", TERN_ERR_BAD_FIELD},
        {"alice", "{\"conversationType\":\"X\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_BAD_FIELD},
        {"alice", "{\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}", TERN_ERR_BAD_FIELD},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"priority\":\"Urgent\"}",
         TERN_ERR_BAD_FIELD},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"needReadReceipt\":1}",
         TERN_ERR_BAD_FIELD},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"clientMsgId\":"
         "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
         TERN_ERR_BAD_FIELD},
        /* A `to` that is no identifier is a bad field (1003), not an unknown user: issue 7. */
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"b/ob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_BAD_FIELD},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"b12345678901234567890123456789012345678901234567890123456789012345\","
         "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_BAD_FIELD},
        {"alice",
         "{\"conversationType\":\"GROUP\",\"to\":\"g/1\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"}}",
         TERN_ERR_BAD_FIELD},
        /* Tencent's CONV_SYSTEM spelling is the system conversation too (was 1003). */
        {"alice",
         "{\"conversationType\":\"@TIM#SYSTEM\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{"
         "\"text\":\"x\"}}",
         TERN_ERR_SYSTEM_CONV},
        /* receiverList: members only (1022), never with @ (1021). */
        {"alice",
         "{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"receiverList\":[\"bob\",\"zed\"]}",
         TERN_ERR_RECEIVER_NOT_MEMBER},
        {"alice",
         "{\"conversationType\":\"GROUP\",\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\","
         "\"atUserList\":[\"bob\"]},\"receiverList\":[\"bob\"]}",
         TERN_ERR_AT_WITH_RECEIVERS},
        /* Fields the server does not implement are refused (1012), never dropped. */
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"messageControlInfo\":{\"excludedFromUnreadCount\":true}}",
         TERN_ERR_NOT_SUPPORTED},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\","
         "\"atUserList\":[\"bob\"]}}",
         TERN_ERR_GROUP_ONLY},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\"},"
         "\"offlinePushInfo\":{\"disablePush\":true}}",
         TERN_ERR_NOT_SUPPORTED},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"x\",\"junk\":1}"
         "}",
         TERN_ERR_NOT_SUPPORTED},
        {"alice",
         "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMCustomElem\",\"payload\":{\"data\":\"x\"},"
         "\"x\":1}",
         TERN_ERR_NOT_SUPPORTED},
        {"alice", "[1,2]", TERN_ERR_BAD_FIELD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = prep(cases[i].from, cases[i].json, &r);
        if (rc != cases[i].code)
            fail_msg("case %zu: got %d, want %d: %s", i, rc, cases[i].code, cases[i].json);
        assert_null(r);
    }
    (void)state;
}

/* ---- media rows (issue 9): the client shapes, their canonical form and the two size
 * rules, in the core model alone (tern_msg_parse_send: the same code as libtern). */

#define MID "0123456789abcdef0123456789abcdef"

/* Parses a `send` msg object; on TERN_OK copies the canonical payload into canon. */
static int parse_code(const char *json, char *canon, size_t cap)
{
    cJSON *j = cJSON_Parse(json);
    if (!j)
        return -1;
    tern_msg m;
    int rc = tern_msg_parse_send(j, &m);
    if (rc == TERN_OK && canon)
        snprintf(canon, cap, "%.*s", (int)m.payload.len, m.payload.data);
    tern_msg_clear(&m);
    cJSON_Delete(j);
    return rc;
}

static int media_code(const char *type, const char *payload, char *canon, size_t cap)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"%s\",\"payload\":%s}", type,
             payload);
    return parse_code(json, canon, cap);
}

static void test_media_rows(void **state)
{
    char c[1024];
    /* Canonical: the fields present, in row order, thumbnail last; computed keys dropped. */
    assert_int_equal(media_code("TIMImageElem",
                                "{\"thumbnail\":\"QUJD\",\"fileName\":\"a.png\",\"height\":20,\"width\":10,\"uuid\":"
                                "\"" MID "\",\"imageFormat\":3,\"animated\":false,\"imageInfoArray\":[]}",
                                c, sizeof c),
                     TERN_OK);
    assert_string_equal(c, "{\"uuid\":\"" MID "\",\"width\":10,\"height\":20,\"fileName\":\"a.png\","
                           "\"thumbnail\":\"QUJD\"}");
    assert_int_equal(media_code("TIMImageElem", "{\"uuid\":\"" MID "\"}", c, sizeof c), TERN_OK);
    assert_string_equal(c, "{\"uuid\":\"" MID "\"}");
    assert_int_equal(
        media_code("TIMSoundElem", "{\"uuid\":\"" MID "\",\"second\":3,\"url\":\"x\",\"size\":5}", c, sizeof c),
        TERN_OK);
    assert_string_equal(c, "{\"uuid\":\"" MID "\",\"second\":3}");
    assert_int_equal(media_code("TIMVideoFileElem",
                                "{\"videoUUID\":\"" MID "\",\"videoSecond\":0,\"snapshotUUID\":\"" MID
                                "\",\"snapshotWidth\":4,\"snapshotHeight\":3,\"videoUrl\":\"u\",\"videoSize\":1,"
                                "\"videoFormat\":\"mp4\",\"snapshotUrl\":\"s\"}",
                                c, sizeof c),
                     TERN_OK);
    assert_string_equal(c, "{\"videoUUID\":\"" MID "\",\"videoSecond\":0,\"snapshotUUID\":\"" MID
                           "\",\"snapshotWidth\":4,\"snapshotHeight\":3}");
    assert_int_equal(media_code("TIMFileElem",
                                "{\"uuid\":\"" MID "\",\"fileName\":\"r.pdf\",\"fileUrl\":\"u\",\"fileSize\":9}", c,
                                sizeof c),
                     TERN_OK);
    assert_string_equal(c, "{\"uuid\":\"" MID "\",\"fileName\":\"r.pdf\"}");
    /* A received, completed payload can be sent again (forwarding). */
    assert_int_equal(media_code("TIMImageElem",
                                "{\"uuid\":\"" MID "\",\"imageFormat\":1,\"fileName\":\"a.jpg\",\"thumbnail\":\"\","
                                "\"animated\":false,\"imageInfoArray\":[{\"type\":0,\"width\":1,\"height\":1,"
                                "\"size\":1,\"url\":\"/o/a/media/x\"}]}",
                                c, sizeof c),
                     TERN_OK);
    static const struct {
        const char *type, *payload;
        int code;
    } bad[] = {
        {"TIMImageElem", "{}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":5}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"0123456789ABCDEF0123456789abcdef\"}", TERN_ERR_MEDIA_NOT_FOUND},
        {"TIMImageElem", "{\"uuid\":\"../../etc/passwd\"}", TERN_ERR_MEDIA_NOT_FOUND},
        {"TIMImageElem", "{\"uuid\":\"" MID "0\"}", TERN_ERR_MEDIA_NOT_FOUND},
        {"TIMImageElem", "{\"uuid\":\"x\",\"width\":\"1\"}", TERN_ERR_BAD_FIELD}, /* type wins over id */
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"width\":1.5}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"width\":0}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"height\":100001}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"thumbnail\":\"QUJ\"}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"thumbnail\":\"QU=D\"}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"thumbnail\":\"QU\\\"D\"}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"thumbnail\":7}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"imageInfoArray\":{}}", TERN_ERR_BAD_FIELD},
        {"TIMImageElem", "{\"uuid\":\"" MID "\",\"url\":\"x\"}", TERN_ERR_NOT_SUPPORTED},
        {"TIMSoundElem", "{\"uuid\":\"" MID "\"}", TERN_ERR_BAD_FIELD},
        {"TIMSoundElem", "{\"uuid\":\"" MID "\",\"second\":-1}", TERN_ERR_BAD_FIELD},
        {"TIMSoundElem", "{\"uuid\":\"" MID "\",\"second\":86401}", TERN_ERR_BAD_FIELD},
        {"TIMSoundElem", "{\"uuid\":\"" MID "\",\"second\":\"3\"}", TERN_ERR_BAD_FIELD},
        {"TIMVideoFileElem", "{\"videoUUID\":\"" MID "\",\"videoSecond\":1,\"snapshotUUID\":\"no\"}",
         TERN_ERR_MEDIA_NOT_FOUND},
        {"TIMVideoFileElem", "{\"videoUUID\":\"" MID "\"}", TERN_ERR_BAD_FIELD},
        {"TIMFileElem", "{\"uuid\":\"" MID "\",\"fileName\":7}", TERN_ERR_BAD_FIELD},
        {"TIMFileElem", "{\"uuid\":\"" MID "\",\"fileSize\":\"7\"}", TERN_ERR_BAD_FIELD},
        {"TIMFileElem", "[]", TERN_ERR_BAD_FIELD},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = media_code(bad[i].type, bad[i].payload, NULL, 0);
        if (rc != bad[i].code)
            fail_msg("bad %zu: got %d, want %d: %s", i, rc, bad[i].code, bad[i].payload);
    }
    /* A file name of 255 bytes is fine, 256 is not. */
    char name[300], pl[400];
    memset(name, 'n', 256);
    name[255] = 0;
    snprintf(pl, sizeof pl, "{\"uuid\":\"" MID "\",\"fileName\":\"%s\"}", name);
    assert_int_equal(media_code("TIMFileElem", pl, NULL, 0), TERN_OK);
    name[255] = 'n';
    name[256] = 0;
    snprintf(pl, sizeof pl, "{\"uuid\":\"" MID "\",\"fileName\":\"%s\"}", name);
    assert_int_equal(media_code("TIMFileElem", pl, NULL, 0), TERN_ERR_BAD_FIELD);
    /* The table's encode_values (libtern's drafts) gives the same bytes. */
    const tern_elem_type *img = tern_elem_find("TIMImageElem", 12);
    assert_non_null(img);
    assert_int_equal(img->sdk_type, 3);
    assert_ptr_equal(tern_elem_by_sdk_type(4), tern_elem_find("TIMSoundElem", 12));
    assert_ptr_equal(tern_elem_by_sdk_type(7), tern_elem_find("TIMLocationElem", 15));
    /* A received media message reads as its type (libtern: tern_message_type). */
    cJSON *rx = cJSON_Parse("{\"msgId\":\"1\",\"seq\":1,\"conversationType\":\"C2C\",\"from\":\"a\",\"to\":"
                            "\"b\",\"type\":\"TIMVideoFileElem\",\"payload\":{\"videoUUID\":\"" MID "\","
                            "\"videoUrl\":\"/u\",\"videoSize\":1,\"videoSecond\":2,\"fileName\":\"m.mp4\"}}");
    tern_msg_view v;
    assert_int_equal(tern_msg_decode(rx, &v), 0);
    assert_int_equal(v.elem->sdk_type, 5 /* TERN_MSG_VIDEO */);
    const char *dv[TERN_ELEM_MAX_FIELDS] = {0};
    v.elem->decode(v.elem, v.payload, dv);
    assert_string_equal(dv[0], MID);     /* videoUUID */
    assert_null(dv[1]);                  /* videoSecond: a number, read from the JSON */
    assert_string_equal(dv[5], "m.mp4"); /* fileName */
    cJSON_Delete(rx);
    const char *iv[5] = {MID, "10", "20", "a.png", "QUJD"};
    tern_buf b;
    tern_buf_init(&b, 0);
    assert_int_equal(tern_elem_encode_values(img, iv, 0, &b), TERN_OK);
    assert_string_equal(b.data, "{\"uuid\":\"" MID "\",\"width\":10,\"height\":20,\"fileName\":\"a.png\","
                                "\"thumbnail\":\"QUJD\"}");
    tern_buf_free(&b);
    (void)state;
}

/* Builds a C2C image send whose payload is {"uuid":MID,"thumbnail":<b64 of raw bytes>}
 * with cloudCustomData of ccd_n 'c's; returns its parse code. */
static int thumb_code(size_t raw, size_t ccd_n)
{
    size_t b64 = (raw + 2) / 3 * 4;
    char *j = malloc(b64 + ccd_n + 512);
    int n = sprintf(j, "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMImageElem\",\"payload\":{\"uuid\":"
                       "\"" MID "\",\"thumbnail\":\"");
    memset(j + n, 'A', b64);
    n += (int)b64;
    /* Padding for a raw length that is not a multiple of 3. */
    if (raw % 3 == 1)
        memcpy(j + n - 2, "==", 2);
    else if (raw % 3 == 2)
        j[n - 1] = '=';
    n += sprintf(j + n, "\"},\"cloudCustomData\":\"");
    memset(j + n, 'c', ccd_n);
    n += (int)ccd_n;
    strcpy(j + n, "\"}");
    int rc = parse_code(j, NULL, 0);
    free(j);
    return rc;
}

/* The 32 KB rule (seed 000): payload with the thumbnail's decoded bytes + cloudCustomData
 * at most 32768; the 12 KB rule leaves the thumbnail out. */
static void test_media_sizes(void **state)
{
    /* The payload without its thumbnail value: {"uuid":"<32>","thumbnail":""} */
    const size_t rest = strlen("{\"uuid\":\"" MID "\",\"thumbnail\":\"\"}");
    /* Exactly 32768 with a 30000-byte thumbnail: passes; one more byte of ccd: 80002. */
    size_t ccd = 32768 - rest - 30000;
    assert_true(ccd < 12288);
    assert_int_equal(thumb_code(30000, ccd), TERN_OK);
    assert_int_equal(thumb_code(30000, ccd + 1), TERN_ERR_MSG_TOO_LONG);
    /* Padding counts as it decodes: 30001 raw bytes with one byte less of ccd. */
    assert_int_equal(thumb_code(30001, ccd - 1), TERN_OK);
    assert_int_equal(thumb_code(30002, ccd - 1), TERN_ERR_MSG_TOO_LONG);
    /* The 12 KB rule is unaffected by the thumbnail: the rest may reach 12288. */
    size_t ccd12 = 12288 - (strlen("{\"uuid\":\"" MID "\"}"));
    assert_int_equal(thumb_code(3, ccd12), TERN_OK);
    assert_int_equal(thumb_code(3, ccd12 + 1), TERN_ERR_MSG_TOO_LONG);
    /* The measures themselves. */
    tern_msg m;
    tern_msg_init(&m);
    m.elem = tern_elem_find("TIMImageElem", 12);
    tern_buf_puts(&m.payload, "{\"uuid\":\"" MID "\",\"thumbnail\":\"QUJDRA==\"}");
    size_t body, media;
    tern_msg_sizes(&m, &body, &media);
    assert_int_equal(body, strlen("{\"uuid\":\"" MID "\"}"));
    assert_int_equal(media, m.payload.len - 8 + 4);
    tern_msg_clear(&m);
    (void)state;
}

/* A media row in app a: id, content type, file name, size, image facts, expiry. */
static void put_media(int64_t a, const char *id, const char *ctype, const char *name, uint64_t size, int w, int h,
                      int fmt, int thumbs, int64_t expires_ms)
{
    store_op op = {.kind = STORE_OP_MEDIA_PUT, .app = a};
    op.u.media.id = id;
    op.u.media.content_type = ctype;
    op.u.media.file_name = name;
    op.u.media.sha256 = "00";
    op.u.media.size = size;
    op.u.media.created_ms = tern_now_ms();
    op.u.media.expires_ms = expires_ms;
    op.u.media.width = w;
    op.u.media.height = h;
    op.u.media.img_format = fmt;
    op.u.media.thumbs = thumbs;
    run(&op);
}

#define IMG_ID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
#define BIG_ID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"
#define PDF_ID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3"
#define OLD_ID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4"
#define MP4_ID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5"
#define OTHER_ID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa6"

/* Prepares a C2C alice->bob media send; on TERN_OK returns the stored payload (caller
 * deletes the returned root, *payload points into it). */
static int media_prep(const char *type, const char *payload_json, cJSON **root, const cJSON **payload)
{
    char json[2048];
    snprintf(json, sizeof json, "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"%s\",\"payload\":%s}", type,
             payload_json);
    send_req *r;
    int rc = prep("alice", json, &r);
    if (rc != TERN_OK)
        return rc;
    *root = fields_obj(r);
    *payload = cJSON_GetObjectItem(*root, "payload");
    send_req_free(r);
    return rc;
}

/* url is the signed path of (id, thumb) in app o/a, valid until exp_ms / 1000. */
static void check_url(const char *url, const char *id, int thumb, int64_t exp_ms)
{
    char want[256];
    if (thumb)
        snprintf(want, sizeof want, "/o/a/media/%s?thumb=%d&exp=%lld&sig=", id, thumb, (long long)(exp_ms / 1000));
    else
        snprintf(want, sizeof want, "/o/a/media/%s?exp=%lld&sig=", id, (long long)(exp_ms / 1000));
    assert_non_null(url);
    if (strncmp(url, want, strlen(want)) != 0)
        fail_msg("url %s, want %s...", url, want);
    app_info ai = {.id = app, .org = "o", .name = "a", .client_id = "cid", .secret = "secret", .key = "o/a"};
    const char *sig = url + strlen(want);
    assert_int_equal(media_url_check(&ai, id, thumb, exp_ms / 1000, sig, strlen(sig), exp_ms / 1000 - 1), 1);
}

static int jint(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(o, name);
    if (!cJSON_IsNumber(v))
        fail_msg("%s is not a number", name);
    return (int)v->valuedouble;
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(o, name);
    if (!cJSON_IsString(v))
        fail_msg("%s is not a string", name);
    return v->valuestring;
}

/* Completion at send (media_msg.c): each id must be a live media of the sender's app;
 * the stored payload is filled from the row with signed URLs. */
static void test_media_complete(void **state)
{
    int64_t exp = tern_now_ms() + 3600 * 1000;
    put_media(app, IMG_ID, "image/jpeg", "cat.jpg", 123456, 4000, 3000, 1, 0, exp);
    put_media(app, BIG_ID, "image/png", "bomb.png", 999, 20000, 20000, 3, STORE_MEDIA_THUMB_NEVER, exp);
    put_media(app, PDF_ID, "application/pdf", "r.pdf", 777, 0, 0, 0, 0, exp);
    put_media(app, OLD_ID, "image/png", "old.png", 5, 1, 1, 3, 0, tern_now_ms() - 1);
    put_media(app, MP4_ID, "video/mp4", "clip.MP4", 5555, 0, 0, 0, 0, exp);
    /* Another app's media: the same answer as an unknown id. */
    store_op op = {.kind = STORE_OP_CREATE_APP};
    op.u.app_create.org = "o2";
    op.u.app_create.name = "b";
    op.u.app_create.client_id = "cid2";
    op.u.app_create.client_secret = "secret2";
    run(&op);
    put_media(op.u.app_create.out_id, OTHER_ID, "image/png", "x.png", 5, 1, 1, 3, 0, exp);

    cJSON *root;
    const cJSON *p;
    assert_int_equal(media_prep("TIMImageElem", "{\"uuid\":\"" IMG_ID "\"}", &root, &p), TERN_OK);
    assert_string_equal(jstr(p, "uuid"), IMG_ID);
    assert_int_equal(jint(p, "imageFormat"), 1);
    assert_string_equal(jstr(p, "fileName"), "cat.jpg");
    assert_string_equal(jstr(p, "thumbnail"), "");
    assert_int_equal(jint(p, "animated"), 0);
    const cJSON *arr = cJSON_GetObjectItem(p, "imageInfoArray");
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    static const int box[3] = {0, 198, 720};
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        int tw = 4000, th = 3000;
        if (i)
            tern_img_fit(4000, 3000, box[i], &tw, &th);
        assert_int_equal(jint(e, "type"), i);
        assert_int_equal(jint(e, "width"), tw);
        assert_int_equal(jint(e, "height"), th);
        assert_int_equal(jint(e, "size"), i ? 0 : 123456);
        check_url(jstr(e, "url"), IMG_ID, box[i], exp);
    }
    assert_int_equal(jint(cJSON_GetArrayItem(arr, 1), "width"), 198);
    assert_int_equal(jint(cJSON_GetArrayItem(arr, 1), "height"), 149);
    cJSON_Delete(root);

    /* The app's values win (seed 000): dimensions of type 0, the file name, the thumbnail;
     * the thumbnails keep the pixels' sizes. */
    assert_int_equal(media_prep("TIMImageElem",
                                "{\"uuid\":\"" IMG_ID "\",\"width\":800,\"height\":600,\"fileName\":\"mine.jpg\","
                                "\"thumbnail\":\"QUJD\"}",
                                &root, &p),
                     TERN_OK);
    arr = cJSON_GetObjectItem(p, "imageInfoArray");
    assert_int_equal(jint(cJSON_GetArrayItem(arr, 0), "width"), 800);
    assert_int_equal(jint(cJSON_GetArrayItem(arr, 0), "height"), 600);
    assert_int_equal(jint(cJSON_GetArrayItem(arr, 2), "width"), 720);
    assert_string_equal(jstr(p, "fileName"), "mine.jpg");
    assert_string_equal(jstr(p, "thumbnail"), "QUJD");
    cJSON_Delete(root);

    /* Over the pixel limit: no thumbnail will exist, so only type 0 is announced. */
    assert_int_equal(media_prep("TIMImageElem", "{\"uuid\":\"" BIG_ID "\"}", &root, &p), TERN_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "imageInfoArray")), 1);
    cJSON_Delete(root);

    assert_int_equal(media_prep("TIMSoundElem", "{\"uuid\":\"" PDF_ID "\",\"second\":7}", &root, &p), TERN_OK);
    check_url(jstr(p, "url"), PDF_ID, 0, exp);
    assert_int_equal(jint(p, "size"), 777);
    assert_int_equal(jint(p, "second"), 7);
    assert_string_equal(jstr(p, "fileName"), "r.pdf");
    cJSON_Delete(root);

    assert_int_equal(media_prep("TIMFileElem", "{\"uuid\":\"" PDF_ID "\"}", &root, &p), TERN_OK);
    check_url(jstr(p, "fileUrl"), PDF_ID, 0, exp);
    assert_int_equal(jint(p, "fileSize"), 777);
    assert_string_equal(jstr(p, "fileName"), "r.pdf");
    cJSON_Delete(root);

    assert_int_equal(media_prep("TIMVideoFileElem",
                                "{\"videoUUID\":\"" MP4_ID "\",\"videoSecond\":12,\"snapshotUUID\":\"" IMG_ID "\"}",
                                &root, &p),
                     TERN_OK);
    check_url(jstr(p, "videoUrl"), MP4_ID, 0, exp);
    check_url(jstr(p, "snapshotUrl"), IMG_ID, 0, exp);
    assert_int_equal(jint(p, "videoSize"), 5555);
    assert_int_equal(jint(p, "videoSecond"), 12);
    assert_string_equal(jstr(p, "videoFormat"), "mp4");
    assert_string_equal(jstr(p, "fileName"), "clip.MP4");
    assert_int_equal(jint(p, "snapshotWidth"), 4000);
    assert_int_equal(jint(p, "snapshotHeight"), 3000);
    cJSON_Delete(root);
    assert_int_equal(media_prep("TIMVideoFileElem", "{\"videoUUID\":\"" MP4_ID "\",\"videoSecond\":1}", &root, &p),
                     TERN_OK);
    assert_string_equal(jstr(p, "snapshotUrl"), "");
    assert_int_equal(jint(p, "snapshotWidth"), 0);
    cJSON_Delete(root);

    /* A completed payload sent again (forwarding) completes to the same bytes. */
    send_req *r1, *r2;
    assert_int_equal(prep("alice",
                          "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMImageElem\",\"payload\":{"
                          "\"uuid\":\"" IMG_ID "\"}}",
                          &r1),
                     TERN_OK);
    cJSON *o1 = fields_obj(r1);
    cJSON *fwd = cJSON_CreateObject();
    cJSON_AddStringToObject(fwd, "conversationType", "C2C");
    cJSON_AddStringToObject(fwd, "to", "bob");
    cJSON_AddStringToObject(fwd, "type", "TIMImageElem");
    cJSON_AddItemToObject(fwd, "payload", cJSON_Duplicate(cJSON_GetObjectItem(o1, "payload"), 1));
    assert_int_equal(msg_prepare(&srv, rd, app, "alice", fwd, &r2), TERN_OK);
    assert_int_equal(r1->fields_len, r2->fields_len);
    assert_memory_equal(r1->fields, r2->fields, r1->fields_len);
    cJSON_Delete(fwd);
    cJSON_Delete(o1);
    send_req_free(r1);
    send_req_free(r2);

    static const struct {
        const char *type, *payload;
        int code;
    } bad[] = {
        {"TIMImageElem", "{\"uuid\":\"" PDF_ID "\"}", TERN_ERR_MEDIA_NOT_IMAGE},
        {"TIMImageElem", "{\"uuid\":\"" OLD_ID "\"}", TERN_ERR_MEDIA_EXPIRED},
        {"TIMImageElem", "{\"uuid\":\"" OTHER_ID "\"}", TERN_ERR_MEDIA_NOT_FOUND},
        {"TIMFileElem", "{\"uuid\":\"" OTHER_ID "\"}", TERN_ERR_MEDIA_NOT_FOUND},
        {"TIMFileElem", "{\"uuid\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}", TERN_ERR_MEDIA_NOT_FOUND},
        {"TIMSoundElem", "{\"uuid\":\"" OLD_ID "\",\"second\":1}", TERN_ERR_MEDIA_EXPIRED},
        {"TIMVideoFileElem", "{\"videoUUID\":\"" MP4_ID "\",\"videoSecond\":1,\"snapshotUUID\":\"" PDF_ID "\"}",
         TERN_ERR_MEDIA_NOT_IMAGE},
        {"TIMVideoFileElem", "{\"videoUUID\":\"" MP4_ID "\",\"videoSecond\":1,\"snapshotUUID\":\"" OTHER_ID "\"}",
         TERN_ERR_MEDIA_NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = media_prep(bad[i].type, bad[i].payload, &root, &p);
        if (rc != bad[i].code)
            fail_msg("bad %zu: got %d, want %d: %s", i, rc, bad[i].code, bad[i].payload);
    }
    (void)state;
}

static void test_conv_parse(void **state)
{
    char key[160], peer[80];
    int g;
    assert_int_equal(conv_parse("C2Cbob", 6, "alice", key, sizeof key, &g, peer, sizeof peer), TERN_OK);
    assert_string_equal(key, "c:alice:bob");
    assert_string_equal(peer, "bob");
    assert_int_equal(g, 0);
    assert_int_equal(conv_parse("C2Calice", 8, "bob", key, sizeof key, &g, peer, sizeof peer), TERN_OK);
    assert_string_equal(key, "c:alice:bob"); /* the same key from both sides */
    assert_int_equal(conv_parse("GROUPg1", 7, "bob", key, sizeof key, &g, peer, sizeof peer), TERN_OK);
    assert_string_equal(key, "g:g1");
    assert_int_equal(g, 1);
    static const char *bad[] = {"", "C2C", "GROUP", "c2cbob", "C2Cb:ob", "GROUPg 1", "X"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(conv_parse(bad[i], strlen(bad[i]), "alice", key, sizeof key, &g, peer, sizeof peer),
                         TERN_ERR_BAD_FIELD);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_c2c_fields), cmocka_unit_test(test_custom_and_defaults),
        cmocka_unit_test(test_size_limit),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_conv_parse),      cmocka_unit_test(test_size_measure_escaped),
        cmocka_unit_test(test_media_rows),      cmocka_unit_test(test_media_sizes),
        cmocka_unit_test(test_media_complete),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
