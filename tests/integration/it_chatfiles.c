/*
 * it_chatfiles.c — media access and Easemob's file API against the real ternd (issue 9,
 * "The service"; docs/rest-api.md "Media" and "Files (Easemob chatfiles)"):
 *   - the access rule of every media GET/HEAD: a token, a signed URL (computed here
 *     from the document: a browser's <img src> sends no header) that an expiry, an
 *     altered signature, another id or another thumb size voids, and the share-secret
 *     (header or query) of a chatfiles upload; everything else 401, another app 404;
 *   - POST /chatfiles: a multipart body (built here, and sent by the real curl -F) whose
 *     part `file` becomes the media, Easemob's answer, the download by uuid (also as
 *     /media/{id}), and every refusal (no multipart, no file part, an unknown field, an
 *     empty file, a boundary never closed, a part header over its limit, a uuid with a
 *     path in it) leaving no file;
 *   - the per-app size limit (GET/PUT /settings, mediaMaxBytes): an app at 30 MB refuses
 *     31457281 bytes with 413 naming 31457280 (raw, resumable and chatfiles, the last
 *     also when only the file part is over), another app at the default takes them, the
 *     setting survives a restart; unknown names 1012, bad values 1003;
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_media.h"

/* An upload of data to the demo app; its media id into id[33]. */
static void upload_ok(it_server *s, const char *ctype, const char *data, size_t n, char id[33])
{
    it_http_resp r;
    upload(s, "/demo/demo", it_app_token(s), ctype, "f.bin", data, n, &r);
    if (r.status != 200)
        fail_msg("upload: %d %s", r.status, r.body ? r.body : "");
    snprintf(id, 33, "%s", it_jstr(r.json, "data.mediaId"));
    it_http_resp_free(&r);
}

/* A form with the file part data (and Easemob's thumbnail-height), uploaded: its uuid
 * and share-secret. */
static void chatfile_ok(it_server *s, const char *data, size_t n, char uuid[33], char secret[65])
{
    size_t bn = 0;
    char *b = add_part(NULL, &bn, "thumbnail-height", NULL, NULL, "170", 3);
    b = add_part(b, &bn, "file", "../dir/notes \\\"x\\\".txt", "text/plain", data, n);
    b = close_form(b, &bn);
    it_http_resp r;
    post_form(s, "/demo/demo", NULL, "restrict-access: true\r\n", b, bn, &r);
    free(b);
    if (r.status != 200)
        fail_msg("chatfiles: %d %s", r.status, r.body ? r.body : "");
    const cJSON *e = cJSON_GetArrayItem(it_jget(r.json, "entities"), 0);
    assert_non_null(e);
    snprintf(uuid, 33, "%s", it_jstr(e, "uuid"));
    snprintf(secret, 65, "%s", it_jstr(e, "share-secret"));
    assert_string_equal(it_jstr(e, "type"), "chatfile");
    assert_int_equal(strlen(uuid), 32);
    assert_true(strlen(secret) >= 32);
    assert_string_equal(it_jstr(r.json, "action"), "post");
    assert_string_equal(it_jstr(r.json, "path"), "/chatfiles");
    assert_string_equal(it_jstr(r.json, "organization"), "demo");
    assert_string_equal(it_jstr(r.json, "applicationName"), "demo");
    assert_non_null(it_jstr(r.json, "uri"));
    assert_non_null(it_jstr(r.json, "application"));
    assert_true(it_jnum(r.json, "timestamp", 0) > 0);
    assert_true(it_jnum(r.json, "duration", -1) >= 0);
    it_http_resp_free(&r);
}

/* GET or HEAD path without Authorization (a browser's <img src>): the status. */
static int get_bare(it_server *s, const char *method, const char *path, it_http_resp *r)
{
    return it_http(s, method, path, NULL, NULL, r);
}

static void expect_refused(it_server *s, const char *path)
{
    it_http_resp r;
    get_bare(s, "GET", path, &r);
    if (r.status != 401)
        fail_msg("%s: wanted 401, got %d %s", path, r.status, r.body ? r.body : "");
    it_http_resp_free(&r);
}

/* A second app ("other/chat"): its token into tok. */
static void second_app(it_server *s, char *tok, size_t toksz)
{
    it_http_resp r;
    int st = it_http(s, "POST", "/admin/apps", s->admin_token, "{\"org\":\"other\",\"app\":\"chat\"}", &r);
    assert_int_equal(st, 200);
    char body[512];
    snprintf(body, sizeof body, "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
             it_jstr(r.json, "data.client_id"), it_jstr(r.json, "data.client_secret"));
    it_http_resp_free(&r);
    it_http(s, "POST", "/other/chat/token", NULL, body, &r);
    snprintf(tok, toksz, "%s", it_jstr(r.json, "access_token"));
    it_http_resp_free(&r);
}

/* Signed URLs: no header needed while valid; expired, altered, another id or thumb: 401. */
static void test_signed_urls(void **state)
{
    it_server *s = *state;
    static const char png[] = /* a real 1x1 PNG: only what the header says is an image is served inline */
        "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01"
        "\x08\x02\x00\x00\x00\x90\x77\x53\xde\x00\x00\x00\x0c\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\x00"
        "\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";
    char id[33], id2[33], path[512];
    upload_ok(s, "image/png", png, sizeof png - 1, id);
    upload_ok(s, "text/plain", "other", 5, id2);
    long long now = (long long)time(NULL);

    snprintf(path, sizeof path, "/demo/demo/media/%s", id);
    expect_refused(s, path); /* no credential at all */

    it_http_resp r;
    media_signed_path(s, id, 0, now + 60, path, sizeof path);
    get_bare(s, "GET", path, &r);
    if (r.status != 200)
        fail_msg("signed GET: %d %s", r.status, r.body ? r.body : "");
    assert_int_equal(r.body_len, sizeof png - 1);
    assert_memory_equal(r.body, png, sizeof png - 1);
    assert_non_null(header_has(&r, "Content-Type: image/png"));
    assert_null(header_has(&r, "Content-Disposition")); /* a raster image shows inline */
    it_http_resp_free(&r);
    get_bare(s, "HEAD", path, &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);

    /* Altered: one character of the signature, the expiry, the id. */
    char bad[512];
    snprintf(bad, sizeof bad, "%s", path);
    char *last = bad + strlen(bad) - 1;
    *last = *last == 'A' ? 'B' : 'A';
    expect_refused(s, bad);
    snprintf(bad, sizeof bad, "%s", path);
    char *e = strstr(bad, "exp=") + 4;
    *e = *e == '9' ? '8' : (char)(*e + 1);
    expect_refused(s, bad);
    media_signed_path(s, id2, 0, now + 60, bad, sizeof bad); /* id2's signature on id */
    snprintf(path, sizeof path, "/demo/demo/media/%s%s", id, strchr(bad, '?'));
    expect_refused(s, path);
    /* Expired. */
    media_signed_path(s, id, 0, now - 2, path, sizeof path);
    expect_refused(s, path);
    /* The signature covers thumb: a thumbnail's URL does not open the original. */
    media_signed_path(s, id, 198, now + 60, path, sizeof path);
    char *t = strstr(path, "thumb=198&");
    memmove(t, t + 10, strlen(t + 10) + 1);
    expect_refused(s, path);
    /* A wrong token with a valid signature still opens it (any one credential). */
    media_signed_path(s, id, 0, now + 60, path, sizeof path);
    get_media(s, "GET", path, "not-a-token", NULL, &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);
    /* Another app's path: the demo app's signature does not open it (and the id is not
     * there: 404 with that app's token, it_media). */
    char other[1024];
    second_app(s, other, sizeof other);
    media_signed_path(s, id, 0, now + 60, path, sizeof path);
    char moved[600];
    snprintf(moved, sizeof moved, "/other/chat/%s", path + strlen("/demo/demo/"));
    expect_refused(s, moved);
    /* A malformed id with a signature made for it is still 404 once allowed. */
    media_signed_path(s, "..", 0, now + 60, path, sizeof path);
    get_bare(s, "GET", path, &r);
    expect_err(&r, 404, 7006);
    it_http_resp_free(&r);
}

/* Upload through chatfiles, download by uuid (and as media), with a share-secret. */
static void test_chatfiles(void **state)
{
    it_server *s = *state;
    size_t n = 700 * 1024 + 13; /* several of the server's write chunks */
    char *data = malloc(n);
    fill(data, n, 7);
    memcpy(data + 1000, "\r\n--" BOUNDARY, sizeof BOUNDARY - 1); /* almost a delimiter */
    char uuid[33], secret[65], path[512], hdr[160];
    chatfile_ok(s, data, n, uuid, secret);
    assert_int_equal(media_files(s), 1);
    assert_int_equal(media_tmp_files(s), 0);

    it_http_resp r;
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s", uuid);
    get_media(s, "GET", path, it_app_token(s), "Accept: application/octet-stream\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, n);
    assert_memory_equal(r.body, data, n);
    assert_non_null(header_has(&r, "Content-Type: text/plain"));
    assert_non_null(header_has(&r, "filename=\"notes _x_.txt\"")); /* the part's name, made safe */
    it_http_resp_free(&r);
    snprintf(path, sizeof path, "/demo/demo/media/%s", uuid); /* the same file */
    get_media(s, "HEAD", path, it_app_token(s), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(header_has(&r, "Content-Length: 716813"));
    it_http_resp_free(&r);

    /* The share-secret opens it without a token: header, or query. */
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s", uuid);
    snprintf(hdr, sizeof hdr, "share-secret: %s\r\n", secret);
    char req[1024];
    int rn = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n", path, hdr);
    it_http_raw(s->port, req, (size_t)rn, IT_WAIT_MS, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, n);
    it_http_resp_free(&r);
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s?share-secret=%s", uuid, secret);
    get_bare(s, "GET", path, &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);
    snprintf(path, sizeof path, "/demo/demo/media/%s?share-secret=%s", uuid, secret);
    get_bare(s, "HEAD", path, &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);
    /* A wrong or shortened secret, another file's, none on a raw upload: 401. */
    secret[0] = secret[0] == 'a' ? 'b' : 'a';
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s?share-secret=%s", uuid, secret);
    expect_refused(s, path);
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s?share-secret=%.8s", uuid, secret + 1);
    expect_refused(s, path);
    char id2[33];
    upload_ok(s, "text/plain", "raw", 3, id2);
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s?share-secret=", id2);
    expect_refused(s, path);
    secret[0] = secret[0] == 'a' ? 'b' : 'a';
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s?share-secret=%s", id2, secret);
    expect_refused(s, path);

    /* thumbnail: true asks for the 198-px thumbnail, which a text file has not (an
     * image's: it_media_images); never the original. */
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s", uuid);
    get_media(s, "GET", path, it_app_token(s), "thumbnail: true\r\n", &r);
    expect_err(&r, 404, 7020);
    it_http_resp_free(&r);
    get_media(s, "GET", path, it_app_token(s), "thumbnail: false\r\n", &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);

    /* The real curl -F, as Easemob's document shows it. */
    char file[300], cmd[2048], out[4096];
    snprintf(file, sizeof file, "%s/up.bin", s->dir);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    fwrite(data, 1, 5000, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "curl -sS -X POST http://127.0.0.1:%d/demo/demo/chatfiles -H 'Authorization: Bearer %s' "
             "-H 'restrict-access: true' -F file=@%s",
             s->port, it_app_token(s), file);
    assert_int_equal(it_run_capture(cmd, out, sizeof out), 0);
    cJSON *j = cJSON_Parse(out);
    const cJSON *e = cJSON_GetArrayItem(it_jget(j, "entities"), 0);
    if (!e)
        fail_msg("curl: %s", out);
    snprintf(path, sizeof path, "/demo/demo/chatfiles/%s?share-secret=%s", it_jstr(e, "uuid"),
             it_jstr(e, "share-secret"));
    cJSON_Delete(j);
    get_bare(s, "GET", path, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 5000);
    assert_memory_equal(r.body, data, 5000);
    assert_non_null(header_has(&r, "filename=\"up.bin\""));
    it_http_resp_free(&r);
    free(data);
}

/* Each refused form leaves no file, no tmp file and no row. */
static void expect_form_refused(it_server *s, const char *ctype, const char *body, size_t n, int status, int code)
{
    it_http_resp r;
    post_form(s, "/demo/demo", ctype, NULL, body, n, &r);
    expect_err(&r, status, code);
    it_http_resp_free(&r);
    int64_t end = it_now_ms() + 3000;
    while (media_tmp_files(s) > 0 && it_now_ms() < end)
        it_sleep_ms(20);
    assert_int_equal(media_tmp_files(s), 0);
    assert_int_equal(media_files(s), 0);
}

static void test_chatfiles_refusals(void **state)
{
    it_server *s = *state;
    size_t n = 0;
    char *b = add_part(NULL, &n, "file", "a.txt", NULL, "hello", 5);
    b = close_form(b, &n);
    expect_form_refused(s, "text/plain", b, n, 400, 7011);                          /* not multipart */
    expect_form_refused(s, "multipart/form-data", b, n, 400, 7011);                 /* no boundary */
    expect_form_refused(s, "multipart/form-data; boundary=other", b, n, 400, 7011); /* never opened */
    expect_form_refused(s, NULL, b, n - 4, 400, 7011);                              /* never closed */
    free(b);
    n = 0;
    b = add_part(NULL, &n, "thumbnail-width", NULL, NULL, "100", 3);
    b = close_form(b, &n);
    expect_form_refused(s, NULL, b, n, 400, 7010); /* no file part */
    free(b);
    n = 0;
    b = add_part(NULL, &n, "file", "a.txt", NULL, "", 0);
    b = close_form(b, &n);
    expect_form_refused(s, NULL, b, n, 400, 7001); /* an empty file */
    free(b);
    n = 0;
    b = add_part(NULL, &n, "file", "a.txt", NULL, "hello", 5);
    b = add_part(b, &n, "owner", NULL, NULL, "x", 1);
    b = close_form(b, &n);
    expect_form_refused(s, NULL, b, n, 400, 7012); /* a field Easemob does not have */
    free(b);
    n = 0;
    b = add_part(NULL, &n, "file", "a.txt", NULL, "hello", 5);
    b = add_part(b, &n, "file", "b.txt", NULL, "again", 5);
    b = close_form(b, &n);
    expect_form_refused(s, NULL, b, n, 400, 7012); /* two files */
    free(b);
    /* A part header over the parser's 8 KiB. */
    char *big = malloc(9000);
    memset(big, 'a', 8999);
    big[8999] = 0;
    n = 0;
    b = add_part(NULL, &n, "file", big, NULL, "hello", 5);
    b = close_form(b, &n);
    expect_form_refused(s, NULL, b, n, 400, 7011);
    free(b);
    free(big);

    /* A uuid that is a path: never reaches the disk. */
    static const char *const bad[] = {"..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..", "a%2F..%2F..%2Ftern.db"};
    char path[256];
    it_http_resp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/demo/demo/chatfiles/%s", bad[i]);
        get_media(s, "GET", path, it_app_token(s), NULL, &r);
        if (r.status != 404 && r.status != 400)
            fail_msg("%s: %d %s", bad[i], r.status, r.body ? r.body : "");
        it_http_resp_free(&r);
        snprintf(path, sizeof path, "/demo/demo/chatfiles/%s?share-secret=x", bad[i]);
        get_bare(s, "GET", path, &r);
        if (r.status != 401 && r.status != 400 && r.status != 404)
            fail_msg("%s: %d %s", bad[i], r.status, r.body ? r.body : "");
        it_http_resp_free(&r);
    }
}

static void expect_settings(it_server *s, double limit)
{
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/settings");
    assert_int_equal((long long)it_jnum(j, "data.mediaMaxBytes", -1), (long long)limit);
    cJSON_Delete(j);
}

/* Only the head of a raw upload of len bytes: the answer comes before any body byte. */
static void expect_head_refused(it_server *s, const char *path, const char *ctype, size_t len, const char *limit)
{
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     path, it_app_token(s), ctype, len);
    it_http_resp r;
    it_http_raw(s->port, req, (size_t)n, IT_WAIT_MS, &r);
    expect_err(&r, 413, 7003);
    const char *d = it_jstr(r.json, "error_description");
    if (!d || !strstr(d, limit))
        fail_msg("the limit %s is not in: %s", limit, r.body);
    it_http_resp_free(&r);
}

static void test_app_limit(void **state)
{
    it_server *s = *state;
    expect_settings(s, 104857600);
    it_expect_error(s, "PUT", "/demo/demo/settings", it_app_token(s), "{\"mediaMaxBytez\":1}", 400, 1012, NULL, NULL);
    static const char *const bad[] = {"{\"mediaMaxBytes\":\"31457280\"}",
                                      "{\"mediaMaxBytes\":0}",
                                      "{\"mediaMaxBytes\":1.5}",
                                      "{\"mediaMaxBytes\":-1}",
                                      "{\"mediaMaxBytes\":104857601}",
                                      "{\"mediaMaxBytes\":true}",
                                      "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        it_expect_error(s, "PUT", "/demo/demo/settings", it_app_token(s), bad[i], 400, 1003, NULL, NULL);
    expect_settings(s, 104857600); /* nothing changed */
    char utok[1024];
    it_create_user(s, "alice");
    it_user_token(s, "alice", utok, sizeof utok);
    it_expect_error(s, "PUT", "/demo/demo/settings", NULL, "{\"mediaMaxBytes\":1}", 401, 0, NULL, NULL);
    it_expect_error(s, "PUT", "/demo/demo/settings", utok, "{\"mediaMaxBytes\":1}", 401, 0, NULL, NULL);

    /* The Agora profile: one line. */
    cJSON *j = it_rest(s, "PUT", "{\"mediaMaxBytes\":31457280}", 200, "/demo/demo/settings");
    assert_int_equal((long long)it_jnum(j, "data.mediaMaxBytes", -1), 31457280);
    cJSON_Delete(j);
    expect_head_refused(s, "/demo/demo/media", "application/octet-stream", 31457281, "31457280");
    expect_head_refused(s, "/demo/demo/chatfiles", "multipart/form-data; boundary=" BOUNDARY, 31457281 + 65536,
                        "31457280");
    it_expect_error(s, "POST", "/demo/demo/media/uploads", it_app_token(s), "{\"size\":31457281}", 413, 7003, NULL,
                    NULL);

    /* The file part over the limit although the body is within it and the form's slack. */
    size_t n = 31457281;
    char *data = malloc(n);
    fill(data, n, 11);
    size_t bn = 0;
    char *b = add_part(NULL, &bn, "file", "big.bin", NULL, data, n);
    b = close_form(b, &bn);
    it_http_resp r;
    post_form(s, "/demo/demo", NULL, NULL, b, bn, &r);
    expect_err(&r, 413, 7003);
    assert_non_null(strstr(it_jstr(r.json, "error_description"), "31457280"));
    it_http_resp_free(&r);
    free(b);
    assert_int_equal(media_files(s), 0);

    /* Another app at the default takes the same bytes. */
    char other[1024];
    second_app(s, other, sizeof other);
    upload(s, "/other/chat", other, "application/octet-stream", "big.bin", data, n, &r);
    if (r.status != 200)
        fail_msg("other app: %d %s", r.status, r.body ? r.body : "");
    assert_int_equal((size_t)it_jnum(r.json, "data.size", 0), n);
    it_http_resp_free(&r);
    /* And the demo app takes exactly its limit. */
    upload(s, "/demo/demo", it_app_token(s), "application/octet-stream", "big.bin", data, n - 1, &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);
    free(data);

    /* The setting is stored: a restart keeps it; null goes back to the default. */
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    assert_int_equal(it_server_restart(s), 0);
    expect_settings(s, 31457280);
    expect_head_refused(s, "/demo/demo/media", "application/octet-stream", 31457281, "31457280");
    j = it_rest(s, "PUT", "{\"mediaMaxBytes\":null}", 200, "/demo/demo/settings");
    assert_int_equal((long long)it_jnum(j, "data.mediaMaxBytes", -1), 104857600);
    cJSON_Delete(j);
    expect_settings(s, 104857600);
}

int main(void)
{
    it_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signed_urls, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_chatfiles, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_chatfiles_refusals, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_app_limit, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_chatfiles", tests);
}
