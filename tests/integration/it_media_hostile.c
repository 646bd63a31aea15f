/*
 * it_media_hostile.c — what a hostile client tries on uploads, against the real ternd
 * (issue 9, "Tests"; docs/operations.md "Limits"), with short timing settings
 * (--http-head-timeout-ms 1000, --http-idle-ms 1500, the default --http-body-min-rate):
 *   - a Content-Length that lies: more than is sent, then a stall (cut by the idle rule),
 *     or less than is sent (the file is what was declared, the extra bytes are never a
 *     second request; a multipart form cut short is refused);
 *   - slowloris: a body trickled a byte at a time, raw and multipart (cut with 408 by the
 *     body's minimum rate) while other uploads and messaging go on;
 *   - a chatfiles body that stops halfway, and a kill -9 in the middle of one.
 * None may leave a visible file, a temporary file or a row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_media.h"

static int setup_short(void **state)
{
    static const char *const args[] = {"--http-head-timeout-ms", "1000", "--http-idle-ms", "1500", NULL};
    it_server *s = it_server_new(args);
    *state = s;
    return s ? 0 : -1;
}

/* Waits (bounded) until no temporary file is left. */
static void wait_no_tmp(it_server *s)
{
    int64_t end = it_now_ms() + 5000;
    while (media_tmp_files(s) > 0 && it_now_ms() < end)
        it_sleep_ms(20);
    assert_int_equal(media_tmp_files(s), 0);
}

/* A normal upload succeeds and a message goes from alice to bob (both logged in). */
static void others_proceed(it_server *s, it_ws *alice, it_ws *bob, const char *text)
{
    it_http_resp r;
    upload(s, "/demo/demo", it_app_token(s), "text/plain", "ok.txt", text, strlen(text), &r);
    if (r.status != 200)
        fail_msg("a normal upload meanwhile: %d %s", r.status, r.body ? r.body : "");
    it_http_resp_free(&r);
    it_send_text_ok(alice, "C2C", "bob", text, NULL, 0);
    cJSON *ev = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
    assert_non_null(ev);
    assert_string_equal(it_jstr(ev, "data.payload.text"), text);
    cJSON_Delete(ev);
}

/* The head of an upload to path declaring len bytes (multipart when form). */
static int open_upload(it_server *s, const char *path, int form, size_t len)
{
    char head[2048];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      path, it_app_token(s), form ? "multipart/form-data; boundary=" BOUNDARY : "text/plain", len);
    int fd = connect_port(s->port);
    send_all(fd, head, (size_t)hn);
    return fd;
}

/* Declares 2 MiB, sends 700 KiB, stalls: the idle rule closes it; meanwhile the rest works. */
static void test_stall(void **state)
{
    it_server *s = *state;
    it_create_user(s, "alice");
    it_create_user(s, "bob");
    it_ws *alice = it_login(s, "alice", NULL), *bob = it_login(s, "bob", NULL);
    size_t half = 700 * 1024;
    char *data = malloc(half);
    fill(data, half, 5);
    int fd = open_upload(s, "/demo/demo/media", 0, 2 << 20);
    send_all(fd, data, half);
    size_t fn = 0;
    char *form = add_part(NULL, &fn, "file", "f.bin", NULL, data, half);
    int fd2 = open_upload(s, "/demo/demo/chatfiles", 1, fn + 1000); /* the form never ends */
    send_all(fd2, form, fn);
    free(form);
    it_sleep_ms(200);
    assert_int_equal(media_tmp_files(s), 2);
    others_proceed(s, alice, bob, "while two uploads stall");
    int64_t t0 = it_now_ms();
    char buf[512];
    read_some(fd, buf, sizeof buf, 6000); /* returns when the server closes */
    int64_t waited = it_now_ms() - t0;
    if (waited > 4500)
        fail_msg("a stalled upload held its connection %lld ms", (long long)waited);
    read_some(fd2, buf, sizeof buf, 3000);
    close(fd);
    close(fd2);
    wait_no_tmp(s);
    assert_int_equal(media_files(s), 1); /* the normal upload only */
    free(data);
    it_ws_free(alice);
    it_ws_free(bob);
}

/* A byte every 100 ms (never idle, far below the minimum rate): 408, raw and multipart. */
static void test_slowloris(void **state)
{
    it_server *s = *state;
    it_create_user(s, "alice");
    it_create_user(s, "bob");
    it_ws *alice = it_login(s, "alice", NULL), *bob = it_login(s, "bob", NULL);
    size_t fn = 0;
    char *form = add_part(NULL, &fn, "file", "f.bin", NULL, "0123456789012345678901234567890123456789", 40);
    form = close_form(form, &fn);
    int fd = open_upload(s, "/demo/demo/media", 0, 1000);
    int fd2 = open_upload(s, "/demo/demo/chatfiles", 1, fn);
    char got[2][512] = {"", ""};
    int64_t t0 = it_now_ms();
    size_t i = 0;
    while (it_now_ms() - t0 < 6000 && (!got[0][0] || !got[1][0])) {
        if (!got[0][0])
            send_all(fd, "x", 1);
        if (!got[1][0] && i < fn)
            send_all(fd2, form + i, 1);
        i++;
        if (i == 10)
            others_proceed(s, alice, bob, "during slowloris");
        if (!got[0][0])
            read_some(fd, got[0], sizeof got[0], 100);
        if (!got[1][0])
            read_some(fd2, got[1], sizeof got[1], 1);
    }
    for (int k = 0; k < 2; k++)
        if (!strstr(got[k], " 408 "))
            fail_msg("slowloris %d: not cut with 408 after %lld ms: %s", k, (long long)(it_now_ms() - t0), got[k]);
    assert_true(i < fn); /* cut long before the form could end */
    close(fd);
    close(fd2);
    free(form);
    wait_no_tmp(s);
    assert_int_equal(media_files(s), 1);
    it_ws_free(alice);
    it_ws_free(bob);
}

/* Fewer bytes declared than sent: the file is the declared bytes; what follows is read as
 * the next request (HTTP/1.1), so the rest of a file is a malformed one: 400 and close. */
static void test_less_declared(void **state)
{
    it_server *s = *state;
    static const char extra[] = "\x01\x02 the rest of the file, never declared\r\n\r\n";
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST /demo/demo/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: text/plain\r\nContent-Length: 10\r\n\r\n0123456789%s",
                     it_app_token(s), extra);
    int fd = connect_port(s->port);
    send_all(fd, req, (size_t)n);
    char buf[8192];
    read_some(fd, buf, sizeof buf, 3000); /* until the server closes */
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "\"size\":10,"));
    const char *second = strstr(strstr(buf, "HTTP/1.1 200") + 1, "HTTP/1.1");
    if (!second || strncmp(second, "HTTP/1.1 400", 12) != 0)
        fail_msg("the undeclared bytes: %s", buf);
    const char *id = strstr(buf, "\"mediaId\":\"");
    assert_non_null(id);
    char path[128];
    snprintf(path, sizeof path, "/demo/demo/media/%.32s", id + 11);
    it_http_resp r;
    get_media(s, "GET", path, it_app_token(s), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 10);
    assert_memory_equal(r.body, "0123456789", 10);
    it_http_resp_free(&r);

    /* A form declared shorter than it is: cut inside, refused, nothing kept. */
    size_t fn = 0;
    char *form = add_part(NULL, &fn, "file", "f.bin", NULL, "hello world, a file", 19);
    form = close_form(form, &fn);
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "POST /demo/demo/chatfiles HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: multipart/form-data; boundary=" BOUNDARY "\r\nContent-Length: %zu\r\n\r\n",
                      it_app_token(s), fn - 20);
    fd = connect_port(s->port);
    send_all(fd, head, (size_t)hn);
    send_all(fd, form, fn);
    read_some(fd, buf, sizeof buf, 3000);
    close(fd);
    free(form);
    if (!strstr(buf, "HTTP/1.1 400") || !strstr(buf, "\"code\":7011"))
        fail_msg("a short form: %s", buf);
    wait_no_tmp(s);
    assert_int_equal(media_files(s), 1);
}

/* A chatfiles body that stops halfway, and a kill -9 during one: nothing visible. */
static void test_chatfiles_lost(void **state)
{
    it_server *s = *state;
    size_t n = 2 << 20;
    char *data = malloc(n);
    fill(data, n, 9);
    size_t fn = 0;
    char *form = add_part(NULL, &fn, "file", "f.bin", NULL, data, n);
    form = close_form(form, &fn);
    for (int kill = 0; kill < 2; kill++) {
        int fd = open_upload(s, "/demo/demo/chatfiles", 1, fn);
        send_all(fd, form, fn / 2);
        it_sleep_ms(300);
        assert_int_equal(media_tmp_files(s), 1);
        if (kill) {
            it_server_kill9(s);
            close(fd);
            assert_int_equal(it_server_restart(s), 0);
        } else {
            close(fd);
        }
        wait_no_tmp(s);
        assert_int_equal(media_files(s), 0);
    }
    free(form);
    free(data);
}

int main(void)
{
    it_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stall, setup_short, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_slowloris, setup_short, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_less_declared, setup_short, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_chatfiles_lost, setup_short, it_teardown_default),
    };
    return it_run_tests("it_media_hostile", tests);
}
