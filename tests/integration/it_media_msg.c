/*
 * it_media_msg.c — image, sound, video and file messages against the real ternd (issue 9,
 * "Messages"; docs/protocol.md §4 "Media messages", docs/rest-api.md "Messages").
 *
 * Media is uploaded through the real POST /{org}/{app}/media, then named in messages sent
 * over WebSocket (C2C and group) and over Easemob's REST (img/audio/video/file); the
 * recipient's event, history and sync carry the payload completed from the media rows,
 * and every URL in it is fetched by the recipient (the bytes are the upload's). The
 * refusals: an unknown id, another app's id (7006, the same answer: no leak), an expired
 * one (7002, with --media-ttl-seconds), a non-image as TIMImageElem (7030), wrong field
 * types (1003); the 32 KB rule at its boundary (exactly 32768 passes, one more is 80002)
 * and the 12 KB rule unaffected by the thumbnail; the same media sent twice with one
 * upload, and a received payload sent again (forwarding).
 *
 * Every URL a delivered message carries is fetched by the recipient, with its token and
 * without any (a signed URL needs none); the thumbnail URLs give JPEGs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_media.h"

/* ---- uploads, URLs ------------------------------------------------------------------- */

/* POSTs data to /{app_path}/media with token (harness_media's upload); returns the
 * answer (asserts 200). */
static cJSON *upload_json(it_server *s, const char *app_path, const char *token, const char *ctype, const char *name,
                          const void *data, size_t n)
{
    it_http_resp r;
    int st = upload(s, app_path, token, ctype, name, data, n, &r);
    if (st != 200 || !r.json)
        fail_msg("upload %s: %d %s", name, st, r.body ? r.body : "");
    cJSON *j = r.json;
    r.json = NULL;
    it_http_resp_free(&r);
    return j;
}

/* Uploads and copies the media id into id[33]; returns 1 if the server read it as an
 * image (the answer has imageFormat: the upload probe of the "thumbs" branch). */
static int upload_id(it_server *s, const char *ctype, const char *name, const void *data, size_t n, char id[33])
{
    cJSON *j = upload_json(s, "/demo/demo", it_app_token(s), ctype, name, data, n);
    snprintf(id, 33, "%s", it_jstr(j, "data.mediaId"));
    assert_int_equal(strlen(id), 32);
    int image = it_jget(j, "data.imageFormat") != NULL;
    cJSON_Delete(j);
    return image;
}

/* The recipient fetches url (a path, no --public-url): with its token, and without any
 * (a signed URL needs none); both give the upload's bytes. */
static void fetch_url(it_server *s, const char *url, const char *token, const void *want, size_t want_n)
{
    assert_non_null(url);
    if (url[0] != '/' || !strstr(url, "exp=") || !strstr(url, "&sig="))
        fail_msg("not a signed media path: %s", url);
    it_http_resp r;
    it_http(s, "GET", url, token, NULL, &r);
    if (r.status != 200 || r.body_len != want_n || memcmp(r.body, want, want_n) != 0)
        fail_msg("GET %s with a token: %d, %zu bytes (want %zu)", url, r.status, r.body_len, want_n);
    it_http_resp_free(&r);
    it_http(s, "GET", url, NULL, NULL, &r);
    if (r.status != 200 || r.body_len != want_n || memcmp(r.body, want, want_n) != 0)
        fail_msg("GET %s without a token: %d, %zu bytes (want %zu)", url, r.status, r.body_len, want_n);
    it_http_resp_free(&r);
}

/* ---- fixtures: alice and bob online, media of every kind uploaded once -------------- */

typedef struct fx {
    it_server *s;
    it_ws *alice, *bob;
    char tok_bob[1024];
    uint8_t *png;
    size_t png_n;
    char img[33], pdf[33], amr[33], mp4[33];
} fx;

static const char pdf_bytes[] = "%PDF-1.4 not really a pdf\n";
static const char amr_bytes[] = "#!AMR\n0123456789";
static const char mp4_bytes[] = "\0\0\0\x18"
                                "ftypmp42 video bytes";

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->s = it_server_new(NULL);
    if (!f->s)
        return -1;
    static const char *const u[] = {"alice", "bob", "carol", NULL};
    it_create_users(f->s, u);
    static const char *const m[] = {"bob", NULL};
    it_create_group(f->s, "g1", "alice", m);
    f->alice = it_login(f->s, "alice", "a1");
    f->bob = it_login(f->s, "bob", "b1");
    it_user_token(f->s, "bob", f->tok_bob, sizeof f->tok_bob);
    f->png = make_png(400, 300, &f->png_n);
    assert_true(upload_id(f->s, "image/png", "cat.png", f->png, f->png_n, f->img)); /* its header was read */
    upload_id(f->s, "application/pdf", "report.pdf", pdf_bytes, sizeof pdf_bytes - 1, f->pdf);
    upload_id(f->s, "audio/amr", "voice.amr", amr_bytes, sizeof amr_bytes - 1, f->amr);
    upload_id(f->s, "video/mp4", "clip.mp4", mp4_bytes, sizeof mp4_bytes - 1, f->mp4);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    free(f->png);
    int rc = it_server_free(f->s);
    free(f);
    return rc;
}

/* alice sends msg (JSON text of the send's "msg") over WebSocket; returns the answer. */
static cJSON *ws_send(it_ws *w, const char *msg)
{
    return it_ws_request(w, "{\"op\":\"send\",\"msg\":%s}", msg);
}

/* alice sends type+payload to bob (C2C) or g1 (GROUP) and bob's msg event is returned,
 * checked to be that message. */
static cJSON *send_to_bob(fx *f, const char *conv, const char *type, const char *payload)
{
    char msg[4096];
    snprintf(msg, sizeof msg, "{\"conversationType\":\"%s\",\"to\":\"%s\",\"type\":\"%s\",\"payload\":%s}", conv,
             strcmp(conv, "GROUP") ? "bob" : "g1", type, payload);
    cJSON *r = ws_send(f->alice, msg);
    it_assert_code(r, 0);
    char mid[32];
    snprintf(mid, sizeof mid, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
    cJSON *ev = it_ws_wait_event(f->bob, "msg", IT_WAIT_MS);
    if (!ev || !it_jstr(ev, "data.msgId") || strcmp(it_jstr(ev, "data.msgId"), mid) != 0)
        fail_msg("bob got %s, wanted msgId %s", it_jshow(ev), mid);
    return ev;
}

/* The checks of a delivered payload p of each type (from event, history or sync). */
static void check_file(fx *f, const cJSON *p, const char *name)
{
    assert_string_equal(it_jstr(p, "uuid"), f->pdf);
    assert_string_equal(it_jstr(p, "fileName"), name);
    assert_int_equal((int)it_jnum(p, "fileSize", -1), (int)sizeof pdf_bytes - 1);
    fetch_url(f->s, it_jstr(p, "fileUrl"), f->tok_bob, pdf_bytes, sizeof pdf_bytes - 1);
}

static void check_sound(fx *f, const cJSON *p)
{
    assert_string_equal(it_jstr(p, "uuid"), f->amr);
    assert_string_equal(it_jstr(p, "fileName"), "voice.amr");
    assert_int_equal((int)it_jnum(p, "size", -1), (int)sizeof amr_bytes - 1);
    assert_int_equal((int)it_jnum(p, "second", -1), 7);
    fetch_url(f->s, it_jstr(p, "url"), f->tok_bob, amr_bytes, sizeof amr_bytes - 1);
}

static void check_video(fx *f, const cJSON *p, int with_snapshot)
{
    assert_string_equal(it_jstr(p, "videoUUID"), f->mp4);
    assert_int_equal((int)it_jnum(p, "videoSize", -1), (int)sizeof mp4_bytes - 1);
    assert_int_equal((int)it_jnum(p, "videoSecond", -1), 12);
    assert_string_equal(it_jstr(p, "videoFormat"), "mp4");
    assert_string_equal(it_jstr(p, "fileName"), "clip.mp4");
    fetch_url(f->s, it_jstr(p, "videoUrl"), f->tok_bob, mp4_bytes, sizeof mp4_bytes - 1);
    if (with_snapshot) {
        assert_string_equal(it_jstr(p, "snapshotUUID"), f->img);
        assert_int_equal((int)it_jnum(p, "snapshotWidth", -1), 400);
        assert_int_equal((int)it_jnum(p, "snapshotHeight", -1), 300);
        fetch_url(f->s, it_jstr(p, "snapshotUrl"), f->tok_bob, f->png, f->png_n);
    } else {
        assert_string_equal(it_jstr(p, "snapshotUUID"), "");
        assert_string_equal(it_jstr(p, "snapshotUrl"), "");
    }
}

/* An image of 400x300 (w, h: type 0's, the app's if it set them). */
static void check_image(fx *f, const cJSON *p, int w, int h)
{
    assert_string_equal(it_jstr(p, "uuid"), f->img);
    assert_int_equal((int)it_jnum(p, "imageFormat", -1), 3);
    assert_int_equal((int)it_jnum(p, "animated", -1), 0);
    const cJSON *arr = it_jget(p, "imageInfoArray");
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    static const int want[3][2] = {{0, 0}, {198, 149}, {400, 300}};
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        assert_int_equal((int)it_jnum(e, "type", -1), i);
        assert_int_equal((int)it_jnum(e, "width", -1), i ? want[i][0] : w);
        assert_int_equal((int)it_jnum(e, "height", -1), i ? want[i][1] : h);
        const char *url = it_jstr(e, "url");
        if (i == 0) {
            assert_int_equal((int)it_jnum(e, "size", -1), (int)f->png_n);
            fetch_url(f->s, url, f->tok_bob, f->png, f->png_n);
        } else {
            /* The thumbnail URLs name their box; the recipient gets a JPEG (the 720 box of
             * this smaller image: the image at its own size, re-encoded). */
            char box[16];
            snprintf(box, sizeof box, "thumb=%d&", i == 1 ? 198 : 720);
            assert_non_null(strstr(url, box));
            it_http_resp r;
            it_http(f->s, "GET", url, f->tok_bob, NULL, &r);
            int jpeg = r.body_len > 2 && (uint8_t)r.body[0] == 0xff && (uint8_t)r.body[1] == 0xd8;
            if (r.status != 200 || !jpeg)
                fail_msg("thumbnail %s: %d, %zu bytes, not a JPEG", url, r.status, r.body_len);
            it_http_resp_free(&r);
        }
    }
}

/* Lets everything already on its way to w arrive (a ping's round trip, then a short
 * pump), then forgets it. */
static void drain(it_ws *w)
{
    cJSON *p = it_ws_request(w, "{\"op\":\"ping\"}");
    it_assert_code(p, 0);
    cJSON_Delete(p);
    it_ws_pump(w, 200);
    it_ws_clear(w);
}

/* ---- the tests ------------------------------------------------------------------------ */

/* Sound, file, video (with and without snapshot) and image over WebSocket, C2C and group:
 * the recipient's event is complete and its URLs fetchable. */
static void test_ws_sends(void **state)
{
    fx *f = *state;
    char pl[512];
    snprintf(pl, sizeof pl, "{\"uuid\":\"%s\",\"second\":7}", f->amr);
    cJSON *ev = send_to_bob(f, "C2C", "TIMSoundElem", pl);
    check_sound(f, it_jget(ev, "data.payload"));
    cJSON_Delete(ev);

    snprintf(pl, sizeof pl, "{\"uuid\":\"%s\"}", f->pdf);
    ev = send_to_bob(f, "GROUP", "TIMFileElem", pl);
    assert_string_equal(it_jstr(ev, "data.conversationType"), "GROUP");
    check_file(f, it_jget(ev, "data.payload"), "report.pdf");
    cJSON_Delete(ev);

    snprintf(pl, sizeof pl, "{\"videoUUID\":\"%s\",\"videoSecond\":12}", f->mp4);
    ev = send_to_bob(f, "C2C", "TIMVideoFileElem", pl);
    check_video(f, it_jget(ev, "data.payload"), 0);
    cJSON_Delete(ev);

    snprintf(pl, sizeof pl, "{\"videoUUID\":\"%s\",\"videoSecond\":12,\"snapshotUUID\":\"%s\"}", f->mp4, f->img);
    ev = send_to_bob(f, "GROUP", "TIMVideoFileElem", pl);
    check_video(f, it_jget(ev, "data.payload"), 1);
    cJSON_Delete(ev);
    snprintf(pl, sizeof pl, "{\"uuid\":\"%s\"}", f->img);
    ev = send_to_bob(f, "C2C", "TIMImageElem", pl);
    check_image(f, it_jget(ev, "data.payload"), 400, 300);
    assert_string_equal(it_jstr(ev, "data.payload.fileName"), "cat.png");
    cJSON_Delete(ev);
}

/* The app's values win (seed 000): width/height of the original, the display file name,
 * the inline thumbnail (carried as given). */
static void test_overrides(void **state)
{
    fx *f = *state;
    char pl[512];
    snprintf(pl, sizeof pl, "{\"uuid\":\"%s\",\"fileName\":\"shown.pdf\"}", f->pdf);
    cJSON *ev = send_to_bob(f, "C2C", "TIMFileElem", pl);
    check_file(f, it_jget(ev, "data.payload"), "shown.pdf");
    cJSON_Delete(ev);
    snprintf(pl, sizeof pl, "{\"uuid\":\"%s\",\"width\":800,\"height\":600,\"thumbnail\":\"AAEC\"}", f->img);
    ev = send_to_bob(f, "C2C", "TIMImageElem", pl);
    check_image(f, it_jget(ev, "data.payload"), 800, 600);
    assert_string_equal(it_jstr(ev, "data.payload.thumbnail"), "AAEC");
    cJSON_Delete(ev);
}

/* What a sender cannot name: unknown, malformed, another app's (7006 alike), a non-image
 * as an image or snapshot (7030), and fields of the wrong type (1003). */
static void test_refusals(void **state)
{
    fx *f = *state;
    drain(f->bob);
    /* Another app's media, uploaded with that app's token. */
    it_http_resp r;
    assert_int_equal(
        it_http(f->s, "POST", "/admin/apps", f->s->admin_token, "{\"org\":\"other\",\"app\":\"chat\"}", &r), 200);
    char body[512];
    snprintf(body, sizeof body, "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
             it_jstr(r.json, "data.client_id"), it_jstr(r.json, "data.client_secret"));
    it_http_resp_free(&r);
    it_http(f->s, "POST", "/other/chat/token", NULL, body, &r);
    char other_tok[1024];
    snprintf(other_tok, sizeof other_tok, "%s", it_jstr(r.json, "access_token"));
    it_http_resp_free(&r);
    cJSON *j =
        upload_json(f->s, "/other/chat", other_tok, "application/pdf", "theirs.pdf", pdf_bytes, sizeof pdf_bytes - 1);
    char theirs[33];
    snprintf(theirs, sizeof theirs, "%s", it_jstr(j, "data.mediaId"));
    cJSON_Delete(j);

    char unknown[33];
    snprintf(unknown, sizeof unknown, "%s", f->pdf);
    unknown[0] = unknown[0] == 'f' ? '0' : 'f';
    char msgs[12][512];
    int codes[12], n = 0;
#define CASE(code, fmt, ...)                                                                                           \
    do {                                                                                                               \
        snprintf(msgs[n], sizeof msgs[n], "{\"conversationType\":\"C2C\",\"to\":\"bob\"," fmt "}", __VA_ARGS__);       \
        codes[n++] = (code);                                                                                           \
    } while (0)
    CASE(7006, "\"type\":\"TIMFileElem\",\"payload\":{\"uuid\":\"%s\"}", theirs);
    CASE(7006, "\"type\":\"TIMFileElem\",\"payload\":{\"uuid\":\"%s\"}", unknown);
    CASE(7006, "\"type\":\"TIMFileElem\",\"payload\":{\"uuid\":\"%s\"}", "../../../etc/passwd");
    CASE(7006, "\"type\":\"TIMSoundElem\",\"payload\":{\"uuid\":\"%s\",\"second\":1}", theirs);
    CASE(7030, "\"type\":\"TIMImageElem\",\"payload\":{\"uuid\":\"%s\"}", f->pdf);
    CASE(7030,
         "\"type\":\"TIMVideoFileElem\",\"payload\":{\"videoUUID\":\"%s\",\"videoSecond\":1,\"snapshotUUID\":\"%s\"}",
         f->mp4, f->pdf);
    CASE(1003, "\"type\":\"TIMSoundElem\",\"payload\":{\"uuid\":\"%s\",\"second\":\"7\"}", f->amr);
    CASE(1003, "\"type\":\"TIMSoundElem\",\"payload\":{\"uuid\":\"%s\",\"second\":1.5}", f->amr);
    CASE(1003, "\"type\":\"TIMImageElem\",\"payload\":{\"uuid\":\"%s\",\"width\":0}", f->img);
    CASE(1003, "\"type\":\"TIMImageElem\",\"payload\":{\"uuid\":\"%s\",\"thumbnail\":\"not base64!\"}", f->img);
    CASE(1012, "\"type\":\"TIMFileElem\",\"payload\":{\"uuid\":\"%s\",\"md5\":\"x\"}", f->pdf);
#undef CASE
    for (int i = 0; i < n; i++) {
        cJSON *a = ws_send(f->alice, msgs[i]);
        if (it_code(a) != codes[i])
            fail_msg("case %d: wanted %d, got %s for %s", i, codes[i], it_jshow(a), msgs[i]);
        cJSON_Delete(a);
    }
    /* The 7006 of another app's id says nothing more than an unknown id's. */
    snprintf(msgs[0], sizeof msgs[0],
             "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMFileElem\",\"payload\":{\"uuid\":\"%s\"}}",
             theirs);
    snprintf(msgs[1], sizeof msgs[1],
             "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMFileElem\",\"payload\":{\"uuid\":\"%s\"}}",
             unknown);
    cJSON *a0 = ws_send(f->alice, msgs[0]), *a1 = ws_send(f->alice, msgs[1]);
    assert_string_equal(it_jstr(a0, "message"), it_jstr(a1, "message"));
    cJSON_Delete(a0);
    cJSON_Delete(a1);
    /* Nothing of these reached bob. */
    cJSON *p = it_ws_request(f->bob, "{\"op\":\"ping\"}");
    cJSON_Delete(p);
    it_ws_pump(f->bob, 200);
    assert_int_equal(it_ws_count_events(f->bob, "msg"), 0);
}

/* A video send whose thumbnail decodes to raw bytes and whose cloudCustomData has ccd_n
 * bytes; returns the answer's code. */
static int thumb_send(fx *f, size_t raw, size_t ccd_n)
{
    size_t b64 = (raw + 2) / 3 * 4;
    char *t = malloc(b64 + 1);
    memset(t, 'A', b64);
    if (raw % 3 == 1)
        memcpy(t + b64 - 2, "==", 2);
    else if (raw % 3 == 2)
        t[b64 - 1] = '=';
    t[b64] = 0;
    char *c = malloc(ccd_n + 1);
    memset(c, 'c', ccd_n);
    c[ccd_n] = 0;
    cJSON *a = it_ws_request(f->alice,
                             "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":"
                             "\"TIMVideoFileElem\",\"payload\":{\"videoUUID\":\"%s\",\"videoSecond\":1,"
                             "\"thumbnail\":\"%s\"},\"cloudCustomData\":\"%s\"}}",
                             f->mp4, t, c);
    int code = it_code(a);
    if (code == 80002)
        assert_non_null(strstr(it_jstr(a, "message"), "32 KB"));
    cJSON_Delete(a);
    free(t);
    free(c);
    return code;
}

/* Seed 000's 32 KB (payload with the thumbnail decoded + cloudCustomData) at its boundary,
 * and the 12 KB rule, which leaves the thumbnail out. */
static void test_size_rules(void **state)
{
    fx *f = *state;
    /* The canonical client payload without the thumbnail's value. */
    char rest[256];
    int rest_n = snprintf(rest, sizeof rest, "{\"videoUUID\":\"%s\",\"videoSecond\":1,\"thumbnail\":\"\"}", f->mp4);
    size_t ccd = 32768 - (size_t)rest_n - 30000;
    assert_int_equal(thumb_send(f, 30000, ccd), 0);
    assert_int_equal(thumb_send(f, 30000, ccd + 1), 80002);
    /* A thumbnail of 30000 bytes does not count against 12 KB: 12 KB of the rest does. */
    size_t rest12 = (size_t)rest_n - strlen(",\"thumbnail\":\"\"");
    assert_int_equal(thumb_send(f, 3, 12288 - rest12), 0);
    assert_int_equal(thumb_send(f, 3, 12288 - rest12 + 1), 80002);
    assert_int_equal(thumb_send(f, 20001, 12288 - rest12), 0); /* 20 KB thumbnail + 12 KB of the rest */
    drain(f->bob);
}

/* History and sync return the completed payload; the same media goes out twice with one
 * upload; a received payload is sent again as it came (forwarding). */
static void test_history_sync_resend(void **state)
{
    fx *f = *state;
    drain(f->bob);
    char pl[512];
    snprintf(pl, sizeof pl, "{\"uuid\":\"%s\",\"second\":7}", f->amr);
    cJSON *e1 = send_to_bob(f, "C2C", "TIMSoundElem", pl);
    cJSON *e2 = send_to_bob(f, "C2C", "TIMSoundElem", pl);
    assert_string_equal(it_jstr(e1, "data.payload.uuid"), it_jstr(e2, "data.payload.uuid"));
    /* Forward bob's received payload back to alice's conversation, unchanged. */
    char *fwd = cJSON_PrintUnformatted(it_jget(e2, "data.payload"));
    cJSON *a = it_ws_request(f->bob,
                             "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"alice\",\"type\":"
                             "\"TIMSoundElem\",\"payload\":%s}}",
                             fwd);
    it_assert_code(a, 0);
    cJSON_Delete(a);
    free(fwd);
    cJSON *h = it_ws_request(f->bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"limit\":100}");
    it_assert_code(h, 0);
    const cJSON *msgs = it_jget(h, "data.messages"), *m;
    int sounds = 0;
    cJSON_ArrayForEach(m, msgs)
    {
        if (!strcmp(it_jstr(m, "type"), "TIMSoundElem")) {
            check_sound(f, it_jget(m, "payload"));
            sounds++;
        }
    }
    assert_true(sounds >= 3);
    cJSON_Delete(h);
    cJSON *got = cJSON_CreateArray();
    char cur[64];
    assert_true(it_sync_all(f->bob, "0", "{}", 100, got, cur, sizeof cur) >= 1);
    int synced = 0;
    cJSON_ArrayForEach(m, got)
    {
        const char *t = it_jstr(m, "type");
        if (!strcmp(t, "TIMSoundElem")) {
            check_sound(f, it_jget(m, "payload"));
            synced++;
        } else if (!strcmp(t, "TIMFileElem")) {
            assert_non_null(it_jstr(m, "payload.fileUrl"));
        }
    }
    assert_int_equal(synced, sounds);
    cJSON_Delete(got);
    cJSON_Delete(e1);
    cJSON_Delete(e2);
    drain(f->bob);
}

/* Easemob REST img/audio/video/file: bodies naming the media by every url form arrive as
 * the completed TIM elements, to a user and to a group. */
static void test_easemob(void **state)
{
    fx *f = *state;
    drain(f->bob);
    char dashed[40];
    snprintf(dashed, sizeof dashed, "%.8s-%.4s-%.4s-%.4s-%.12s", f->amr, f->amr + 8, f->amr + 12, f->amr + 16,
             f->amr + 20);
    char req[2048];
    struct {
        const char *path, *type;
        char body[768];
    } sends[4];
    snprintf(sends[0].body, sizeof sends[0].body,
             "{\"url\":\"http://im.example.com/demo/demo/chatfiles/%s\",\"filename\":\"voice.amr\",\"length\":7,"
             "\"secret\":\"s\"}",
             dashed);
    sends[0].type = "audio";
    snprintf(sends[1].body, sizeof sends[1].body, "{\"url\":\"/demo/demo/media/%s\",\"filename\":\"report.pdf\"}",
             f->pdf);
    sends[1].type = "file";
    snprintf(sends[2].body, sizeof sends[2].body,
             "{\"url\":\"%s\",\"filename\":\"clip.mp4\",\"length\":12,\"file_length\":1,\"secret\":\"\","
             "\"thumb_secret\":\"\"}",
             f->mp4);
    sends[2].type = "video";
    snprintf(sends[3].body, sizeof sends[3].body,
             "{\"url\":\"/demo/demo/chatfiles/%s\",\"filename\":\"cat.png\",\"size\":{\"width\":40,\"height\":30}}",
             f->img);
    sends[3].type = "img";
    for (int i = 0; i < 4; i++) {
        for (int g = 0; g < 2; g++) {
            snprintf(req, sizeof req, "{\"from\":\"alice\",\"to\":[\"%s\"],\"type\":\"%s\",\"body\":%s}",
                     g ? "g1" : "bob", sends[i].type, sends[i].body);
            cJSON *j =
                it_rest(f->s, "POST", req, 200, g ? "/demo/demo/messages/chatgroups" : "/demo/demo/messages/users");
            cJSON_Delete(j);
            cJSON *ev = it_ws_wait_event(f->bob, "msg", IT_WAIT_MS);
            assert_non_null(ev);
            const cJSON *p = it_jget(ev, "data.payload");
            const char *t = it_jstr(ev, "data.type");
            if (i == 0) {
                assert_string_equal(t, "TIMSoundElem");
                check_sound(f, p);
            } else if (i == 1) {
                assert_string_equal(t, "TIMFileElem");
                check_file(f, p, "report.pdf");
            } else if (i == 2) {
                assert_string_equal(t, "TIMVideoFileElem");
                check_video(f, p, 0);
            } else {
                assert_string_equal(t, "TIMImageElem");
                check_image(f, p, 40, 30);
            }
            cJSON_Delete(ev);
        }
    }
    /* Refusals: a url of no known form (1003), a url whose id is of another app (7006). */
    snprintf(req, sizeof req,
             "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"file\",\"body\":{\"url\":\"/demo/demo/users/%s\"}}",
             f->pdf);
    cJSON_Delete(it_rest(f->s, "POST", req, 400, "/demo/demo/messages/users"));
    snprintf(req, sizeof req, "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"audio\",\"body\":{\"url\":\"%s\"}}",
             f->amr);
    cJSON_Delete(it_rest(f->s, "POST", req, 400, "/demo/demo/messages/users")); /* no length */
    /* Refusals at completion: an id no media has (404 7006), a pdf as img (400 7030). */
    char unknown[33];
    snprintf(unknown, sizeof unknown, "%s", f->pdf);
    unknown[0] = unknown[0] == 'f' ? '0' : 'f';
    snprintf(req, sizeof req,
             "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"file\",\"body\":{\"url\":\"/demo/demo/chatfiles/%s\"}}",
             unknown);
    cJSON *j = it_rest(f->s, "POST", req, 404, "/demo/demo/messages/users");
    assert_int_equal((int)it_jnum(j, "code", -1), 7006);
    cJSON_Delete(j);
    snprintf(req, sizeof req, "{\"from\":\"alice\",\"to\":[\"g1\"],\"type\":\"img\",\"body\":{\"url\":\"%s\"}}",
             f->pdf);
    j = it_rest(f->s, "POST", req, 400, "/demo/demo/messages/chatgroups");
    assert_int_equal((int)it_jnum(j, "code", -1), 7030);
    cJSON_Delete(j);
}

/* --media-ttl-seconds 3: a media past its expiry is 7002 at send (the sweeper keeps the
 * row for a grace time of min(ttl, 1 day), so the answer is "expired", not "unknown"). */
static void test_expired(void **state)
{
    (void)state;
    static const char *const args[] = {"--media-ttl-seconds", "3", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    it_ws *alice = it_login(s, "alice", "a1");
    char id[33];
    upload_id(s, "application/pdf", "r.pdf", pdf_bytes, sizeof pdf_bytes - 1, id);
    char msg[256];
    snprintf(msg, sizeof msg,
             "{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMFileElem\",\"payload\":{\"uuid\":\"%s\"}}",
             id);
    cJSON *a = ws_send(alice, msg);
    it_assert_code(a, 0);
    cJSON_Delete(a);
    it_sleep_ms(3600);
    a = ws_send(alice, msg);
    it_assert_code(a, 7002);
    cJSON_Delete(a);
    assert_int_equal(it_server_free(s), 0);
}

int main(void)
{
    it_watchdog(300);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_sends),   cmocka_unit_test(test_overrides),           cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_size_rules), cmocka_unit_test(test_history_sync_resend), cmocka_unit_test(test_easemob),
        cmocka_unit_test(test_expired),
    };
    return it_finish(cmocka_run_group_tests_name("it_media_msg", tests, setup, teardown));
}
