/*
 * it_media.c — the media service against the real ternd (issue 9, "The service";
 * docs/rest-api.md "Media"): raw-body upload and download with the bytes, sha256,
 * ETag/304, Range, HEAD and the safety headers; the refusals (empty 7001, no
 * Content-Length 411, over --media-max-bytes 413 before any body byte and with the
 * limit in the message, no token); ids that are not ids, and another app's media
 * (404); expiry with --media-ttl-seconds (7002, then the sweeper removes file and row,
 * also across a restart); a client that stops halfway and a kill -9 mid-upload leave
 * nothing visible; a full disk (a 1 MiB tmpfs, when the test may mount one) is 507 and
 * leaves no file.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_media.h"

/* Upload, then the download's bytes and headers, HEAD, Range, ETag/304, a user token. */
static void test_roundtrip(void **state)
{
    it_server *s = *state;
    size_t n = 1536 * 1024 + 7; /* several pool writes and a tail */
    char *data = malloc(n);
    fill(data, n, 42);
    char sha[65];
    sha_hex(data, n, sha);
    it_http_resp r;
    upload(s, "/demo/demo", it_app_token(s), "application/x-thing", "dir/../report 1.html", data, n, &r);
    if (r.status != 200)
        fail_msg("upload: %d %s", r.status, r.body ? r.body : "");
    char id[80];
    snprintf(id, sizeof id, "%s", it_jstr(r.json, "data.mediaId"));
    assert_int_equal(strlen(id), 32);
    assert_true(strspn(id, "0123456789abcdef") == 32);
    assert_int_equal((size_t)it_jnum(r.json, "data.size", 0), n);
    assert_string_equal(it_jstr(r.json, "data.sha256"), sha);
    assert_string_equal(it_jstr(r.json, "data.contentType"), "application/x-thing");
    assert_string_equal(it_jstr(r.json, "data.fileName"), "report 1.html");
    double exp = it_jnum(r.json, "data.expiresAt", 0);
    assert_true(exp > (double)time(NULL) * 1000 + 6.9 * 86400e3 && exp < (double)time(NULL) * 1000 + 7.1 * 86400e3);
    it_http_resp_free(&r);
    assert_int_equal(media_files(s), 1);
    assert_int_equal(media_tmp_files(s), 0);

    char path[256];
    snprintf(path, sizeof path, "/demo/demo/media/%s", id);
    get_media(s, "GET", path, it_app_token(s), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, n);
    assert_memory_equal(r.body, data, n);
    assert_non_null(header_has(&r, "X-Content-Type-Options: nosniff"));
    assert_non_null(header_has(&r, "Content-Type: application/x-thing"));
    assert_non_null(header_has(&r, "Content-Disposition: attachment; filename=\"report 1.html\""));
    char etag[100];
    snprintf(etag, sizeof etag, "ETag: \"%s\"", sha);
    assert_non_null(header_has(&r, etag));
    it_http_resp_free(&r);

    char tok[1024];
    it_create_user(s, "alice");
    it_user_token(s, "alice", tok, sizeof tok);
    get_media(s, "HEAD", path, tok, NULL, &r); /* a user token of the app; HEAD */
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu", n);
    assert_non_null(header_has(&r, cl));
    it_http_resp_free(&r);

    get_media(s, "GET", path, tok, "Range: bytes=100-199\r\n", &r);
    assert_int_equal(r.status, 206);
    assert_int_equal(r.body_len, 100);
    assert_memory_equal(r.body, data + 100, 100);
    it_http_resp_free(&r);

    char inm[120];
    snprintf(inm, sizeof inm, "If-None-Match: \"%s\"\r\n", sha);
    get_media(s, "GET", path, tok, inm, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    it_http_resp_free(&r);

    /* A user token uploads too; bytes that only claim to be a PNG are no raster image
     * (stored as application/octet-stream, served as an attachment), an SVG never is
     * one. Real images shown inline: it_media_images. */
    upload(s, "/demo/demo", tok, "image/png", "p.png", data, 1000, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(it_jstr(r.json, "data.contentType"), "application/octet-stream");
    snprintf(path, sizeof path, "/demo/demo/media/%s", it_jstr(r.json, "data.mediaId"));
    it_http_resp_free(&r);
    get_media(s, "GET", path, tok, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(header_has(&r, "Content-Disposition: attachment"));
    it_http_resp_free(&r);
    upload(s, "/demo/demo", tok, "image/svg+xml", "x.svg", "<svg onload=alert(1)/>", 22, &r);
    snprintf(path, sizeof path, "/demo/demo/media/%s", it_jstr(r.json, "data.mediaId"));
    it_http_resp_free(&r);
    get_media(s, "GET", path, tok, NULL, &r);
    assert_non_null(header_has(&r, "Content-Disposition: attachment; filename=\"x.svg\""));
    assert_non_null(header_has(&r, "X-Content-Type-Options: nosniff"));
    it_http_resp_free(&r);
    free(data);
}

static int setup_small_limit(void **state)
{
    static const char *const args[] = {"--media-max-bytes", "1000", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

/* Refusals: token, empty, no length, over the limit before any body byte. */
static void test_refusals(void **state)
{
    it_server *s = *state;
    it_http_resp r;
    upload(s, "/demo/demo", "nope", "text/plain", "a", "abc", 3, &r);
    expect_err(&r, 401, 1101);
    it_http_resp_free(&r);
    upload(s, "/demo/demo", it_app_token(s), "text/plain", "a", "", 0, &r);
    expect_err(&r, 400, 7001);
    it_http_resp_free(&r);

    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST /demo/demo/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                     it_app_token(s));
    it_http_raw(s->port, req, (size_t)n, IT_WAIT_MS, &r);
    expect_err(&r, 411, 7004);
    it_http_resp_free(&r);
    n = snprintf(req, sizeof req,
                 "POST /demo/demo/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n",
                 it_app_token(s));
    it_http_raw(s->port, req, (size_t)n, IT_WAIT_MS, &r);
    expect_err(&r, 411, 7004);
    it_http_resp_free(&r);

    /* 413 before any body byte: the head alone (Expect: 100-continue) is answered. */
    int fd = connect_port(s->port);
    n = snprintf(req, sizeof req,
                 "POST /demo/demo/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                 "Content-Length: 1001\r\nExpect: 100-continue\r\n\r\n",
                 it_app_token(s));
    send_all(fd, req, (size_t)n);
    char buf[4096];
    read_some(fd, buf, sizeof buf, 3000);
    close(fd);
    if (strncmp(buf, "HTTP/1.1 413", 12) != 0 || !strstr(buf, "\"code\":7003") || !strstr(buf, "limit of 1000 bytes"))
        fail_msg("over the limit: %s", buf);
    assert_null(strstr(buf, "100 Continue"));

    /* Within it, Expect: 100-continue gets its 100 before the body is sent. */
    fd = connect_port(s->port);
    n = snprintf(req, sizeof req,
                 "POST /demo/demo/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                 "Content-Length: 1000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
                 it_app_token(s));
    send_all(fd, req, (size_t)n);
    read_some(fd, buf, 64, 1000);
    if (strncmp(buf, "HTTP/1.1 100 Continue", 21) != 0)
        fail_msg("no 100: %s", buf);
    char body[1000];
    fill(body, sizeof body, 7);
    send_all(fd, body, sizeof body);
    read_some(fd, buf, sizeof buf, 3000);
    close(fd);
    if (!strstr(buf, "HTTP/1.1 200") || !strstr(buf, "\"size\":1000"))
        fail_msg("upload after 100: %s", buf);
    assert_int_equal(media_files(s), 1);
}

/* Ids that are not ids never reach the disk; another app's media is 404. */
static void test_ids_and_apps(void **state)
{
    it_server *s = *state;
    it_http_resp r;
    upload(s, "/demo/demo", it_app_token(s), "text/plain", "a.txt", "hello", 5, &r);
    char id[40];
    snprintf(id, sizeof id, "%s", it_jstr(r.json, "data.mediaId"));
    it_http_resp_free(&r);
    static const char *const bad[] = {"..%2F..%2Fetc%2Fpasswd",
                                      "%2e%2e",
                                      "0123456789abcdef0123456789ABCDEF",
                                      "0123456789abcdef0123456789abcde",
                                      "0123456789abcdef0123456789abcdef0",
                                      "0123456789abcdef0123456789abcdeg",
                                      "tmp"};
    char path[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/demo/demo/media/%s", bad[i]);
        get_media(s, "GET", path, it_app_token(s), NULL, &r);
        if (r.status != 404)
            fail_msg("%s: %d %s", bad[i], r.status, r.body ? r.body : "");
        it_http_resp_free(&r);
    }
    snprintf(path, sizeof path, "/demo/demo/media/%.31s0", id[31] == '0' ? "11111111111111111111111111111111" : id);
    get_media(s, "GET", path, it_app_token(s), NULL, &r);
    expect_err(&r, 404, 7006);
    it_http_resp_free(&r);

    /* A second app: its token cannot read the first app's path (403), and the first
     * app's id under the second app's path is not found. */
    int st = it_http(s, "POST", "/admin/apps", s->admin_token, "{\"org\":\"other\",\"app\":\"chat\"}", &r);
    assert_int_equal(st, 200);
    char body[512];
    snprintf(body, sizeof body, "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
             it_jstr(r.json, "data.client_id"), it_jstr(r.json, "data.client_secret"));
    it_http_resp_free(&r);
    it_http(s, "POST", "/other/chat/token", NULL, body, &r);
    char other[1024];
    snprintf(other, sizeof other, "%s", it_jstr(r.json, "access_token"));
    it_http_resp_free(&r);
    snprintf(path, sizeof path, "/demo/demo/media/%s", id);
    get_media(s, "GET", path, other, NULL, &r);
    expect_err(&r, 403, 1104);
    it_http_resp_free(&r);
    snprintf(path, sizeof path, "/other/chat/media/%s", id);
    get_media(s, "GET", path, other, NULL, &r);
    expect_err(&r, 404, 7006);
    it_http_resp_free(&r);
    /* The path has no other methods. */
    get_media(s, "DELETE", path, other, NULL, &r);
    assert_int_equal(r.status, 405);
    it_http_resp_free(&r);
}

static int setup_short_ttl(void **state)
{
    static const char *const args[] = {"--media-ttl-seconds", "2", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

/* Expiry: 7002 once past expiresAt; the sweeper removes file and row after the grace
 * (min(ttl, 1 day)), also when the server was down meanwhile. */
static void test_expiry(void **state)
{
    it_server *s = *state;
    it_http_resp r;
    int64_t t0 = it_now_ms();
    upload(s, "/demo/demo", it_app_token(s), "text/plain", "a.txt", "hello", 5, &r);
    assert_int_equal(r.status, 200);
    double exp = it_jnum(r.json, "data.expiresAt", 0);
    assert_true(exp >= (double)time(NULL) * 1000 + 1000 && exp <= (double)time(NULL) * 1000 + 3000);
    char path[256];
    snprintf(path, sizeof path, "/demo/demo/media/%s", it_jstr(r.json, "data.mediaId"));
    it_http_resp_free(&r);
    get_media(s, "GET", path, it_app_token(s), NULL, &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);
    (void)t0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    it_sleep_ms((int)((int64_t)exp + 300 - wall)); /* past expiresAt, within the 2 s grace */
    get_media(s, "GET", path, it_app_token(s), NULL, &r);
    expect_err(&r, 404, 7002);
    it_http_resp_free(&r);
    assert_int_equal(media_files(s), 1);
    int64_t end = it_now_ms() + 8000;
    while (media_files(s) > 0 && it_now_ms() < end)
        it_sleep_ms(100);
    assert_int_equal(media_files(s), 0);
    get_media(s, "GET", path, it_app_token(s), NULL, &r);
    expect_err(&r, 404, 7006);
    it_http_resp_free(&r);

    /* Across a restart: uploaded, server down past expiry and grace, then up. */
    upload(s, "/demo/demo", it_app_token(s), "text/plain", "b.txt", "world", 5, &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);
    assert_int_equal(media_files(s), 1);
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    it_sleep_ms(4500);
    assert_int_equal(it_server_restart(s), 0);
    end = it_now_ms() + 5000;
    while (media_files(s) > 0 && it_now_ms() < end)
        it_sleep_ms(100);
    assert_int_equal(media_files(s), 0);
}

/* A client that stops halfway, and a server killed mid-upload, leave nothing visible. */
static void test_lost_uploads(void **state)
{
    it_server *s = *state;
    size_t total = 2 << 20, half = 700 * 1024;
    char *data = malloc(total);
    fill(data, total, 3);
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "POST /demo/demo/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      it_app_token(s), total);
    int fd = connect_port(s->port);
    send_all(fd, head, (size_t)hn);
    send_all(fd, data, half);
    it_sleep_ms(300);
    assert_int_equal(media_tmp_files(s), 1); /* being written, under its tmp name */
    close(fd);
    int64_t end = it_now_ms() + 5000;
    while (media_tmp_files(s) > 0 && it_now_ms() < end)
        it_sleep_ms(50);
    assert_int_equal(media_tmp_files(s), 0);
    assert_int_equal(media_files(s), 0);

    fd = connect_port(s->port);
    send_all(fd, head, (size_t)hn);
    send_all(fd, data, half);
    it_sleep_ms(300);
    it_server_kill9(s);
    close(fd);
    assert_int_equal(media_files(s), 0);
    assert_int_equal(media_tmp_files(s), 1);
    assert_int_equal(it_server_restart(s), 0);
    assert_int_equal(media_tmp_files(s), 0); /* removed at start */
    assert_int_equal(media_files(s), 0);

    /* A graceful stop with an upload halfway: a clean exit (no sanitizer report, which
     * the teardown checks), nothing visible after the restart. */
    fd = connect_port(s->port);
    send_all(fd, head, (size_t)hn);
    send_all(fd, data, half);
    it_sleep_ms(300);
    int status = 0;
    assert_int_equal(it_server_stop(s, 10000, &status), 0);
    close(fd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(it_server_restart(s), 0);
    assert_int_equal(media_tmp_files(s), 0);
    assert_int_equal(media_files(s), 0);
    free(data);
}

/* A full disk: --media-dir on a 1 MiB tmpfs (skipped where mounting is not allowed). */
static char tiny[256];

static int setup_tiny_disk(void **state)
{
    snprintf(tiny, sizeof tiny, "/tmp/it_media_tiny_XXXXXX");
    if (!mkdtemp(tiny))
        return -1;
    if (mount("tmpfs", tiny, "tmpfs", 0, "size=1m") != 0) {
        rmdir(tiny);
        tiny[0] = 0;
        *state = NULL;
        return 0;
    }
    const char *args[] = {"--media-dir", tiny, NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

static int teardown_tiny_disk(void **state)
{
    int rc = *state ? it_server_free(*state) : 0;
    if (tiny[0]) {
        umount(tiny);
        rmdir(tiny);
    }
    return rc;
}

static void test_disk_full(void **state)
{
    it_server *s = *state;
    if (!s)
        skip();
    size_t n = 3 << 20;
    char *data = malloc(n);
    fill(data, n, 5);
    it_http_resp r;
    upload(s, "/demo/demo", it_app_token(s), "text/plain", "big", data, n, &r);
    expect_err(&r, 507, 7005);
    it_http_resp_free(&r);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/tmp", tiny);
    assert_int_equal(it_count_files(tmp), 0);
    assert_int_equal(it_count_files(tiny), 0);
    /* The space is back: a small file goes through. */
    upload(s, "/demo/demo", it_app_token(s), "text/plain", "small", data, 1000, &r);
    assert_int_equal(r.status, 200);
    it_http_resp_free(&r);
    assert_int_equal(it_count_files(tiny), 1);
    free(data);
}

/* PUT bytes [a, a + n) of data to the session's path; send only `send` of them, then
 * close (send < n: a cut), or read the answer. */
static int put_range(it_server *s, const char *path, const char *data, size_t a, size_t n, size_t total, size_t send,
                     it_http_resp *out)
{
    char head[2048];
    int hn = snprintf(head, sizeof head,
                      "PUT %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Length: %zu\r\n"
                      "Content-Range: bytes %zu-%zu/%zu\r\nConnection: close\r\n\r\n",
                      path, it_app_token(s), n, a, a + n - 1, total);
    if (send < n) {
        int fd = connect_port(s->port);
        send_all(fd, head, (size_t)hn);
        send_all(fd, data + a, send);
        it_sleep_ms(500);
        close(fd);
        it_sleep_ms(300);
        return 0;
    }
    char *req = malloc((size_t)hn + n);
    memcpy(req, head, (size_t)hn);
    memcpy(req + hn, data + a, n);
    int st = it_http_raw(s->port, req, (size_t)hn + n, IT_WAIT_MS, out);
    free(req);
    return st;
}

static long held_offset(it_server *s, const char *path)
{
    it_http_resp r;
    get_media(s, "HEAD", path, it_app_token(s), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    const char *h = header_has(&r, "Upload-Offset: ");
    assert_non_null(h);
    long v = strtol(h + 15, NULL, 10);
    it_http_resp_free(&r);
    return v;
}

/* Resumable: a session, a 100 MB upload cut three times, each resumed from the offset the
 * server says it holds; the whole file's sha256 and bytes at the end. */
static void test_resumable(void **state)
{
    it_server *s = *state;
    size_t total = 100 * 1000 * 1000 + 123, cut_at = 30 * 1024 * 1024; /* issue 9: 100 MB cut three times */
    char *data = malloc(total);
    fill(data, total, 11);
    char sha[65];
    sha_hex(data, total, sha);
    char body[200];
    snprintf(body, sizeof body, "{\"size\":%zu,\"contentType\":\"video/mp4\",\"fileName\":\"clip.mp4\"}", total);
    cJSON *j = it_rest(s, "POST", body, 200, "/demo/demo/media/uploads");
    char path[256];
    snprintf(path, sizeof path, "/demo/demo/media/uploads/%s", it_jstr(j, "data.uploadId"));
    assert_int_equal((int)it_jnum(j, "data.offset", -1), 0);
    cJSON_Delete(j);
    assert_int_equal(held_offset(s, path), 0);

    it_http_resp r;
    size_t off = 0;
    for (int cut = 0; cut < 3; cut++) { /* send 30 MiB of the rest, then the line breaks */
        put_range(s, path, data, off, total - off, total, cut_at, NULL);
        long held = held_offset(s, path);
        assert_true(held > (long)off && held <= (long)(off + cut_at));
        /* A PUT that is not at the offset held is refused, with the offset in the text. */
        put_range(s, path, data, held + 1, 10, total, 10, &r);
        expect_err(&r, 409, 7008);
        it_http_resp_free(&r);
        off = (size_t)held;
    }
    assert_true(off > 0);
    put_range(s, path, data, off, total - off, total, total - off, &r);
    if (r.status != 200)
        fail_msg("last PUT: %d %s", r.status, r.body ? r.body : "");
    assert_string_equal(it_jstr(r.json, "data.sha256"), sha);
    assert_int_equal((size_t)it_jnum(r.json, "data.size", 0), total);
    char get[256];
    snprintf(get, sizeof get, "/demo/demo/media/%s", it_jstr(r.json, "data.mediaId"));
    it_http_resp_free(&r);
    get_media(s, "GET", get, it_app_token(s), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, total);
    assert_memory_equal(r.body, data, total);
    assert_non_null(header_has(&r, "Content-Type: video/mp4"));
    it_http_resp_free(&r);
    get_media(s, "GET", path, it_app_token(s), NULL, &r); /* the session is done */
    expect_err(&r, 404, 7006);
    it_http_resp_free(&r);
    assert_int_equal(media_tmp_files(s), 0);
    free(data);
}

int main(void)
{
    it_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_refusals, setup_small_limit, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_ids_and_apps, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_expiry, setup_short_ttl, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_lost_uploads, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_disk_full, setup_tiny_disk, teardown_tiny_disk),
        cmocka_unit_test_setup_teardown(test_resumable, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_media", tests);
}
