/*
 * it_chatfiles.c — media access and Easemob's file API against the real ternd (issue 9,
 * "The service"; docs/rest-api.md "Media" and "Files (Easemob chatfiles)"):
 *   - the access rule of every media GET/HEAD: a token, a signed URL (computed here
 *     from the document: a browser's <img src> sends no header) that an expiry, an
 *     altered signature, another id or another thumb size voids, and the share-secret
 *     (header or query) of a chatfiles upload; everything else 401, another app 404;
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Signed URLs: no header needed while valid; expired, altered, another id or thumb: 401. */
static void test_signed_urls(void **state)
{
    it_server *s = *state;
    static const char png[] = "\x89PNG\r\n\x1a\n not really a png";
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
    /* A malformed id with a signature made for it is still 404 once allowed. */
    media_signed_path(s, "..", 0, now + 60, path, sizeof path);
    get_bare(s, "GET", path, &r);
    expect_err(&r, 404, 7006);
    it_http_resp_free(&r);
}

int main(void)
{
    it_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signed_urls, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_chatfiles", tests);
}
