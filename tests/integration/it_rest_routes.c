/*
 * it_rest_routes.c — the REST router seen from outside (docs/rest-api.md, "Routing"):
 * a path that exists but not for the method gets 405 (1010) with an Allow header, and
 * that includes /healthz and /metrics, which used to answer any method with 200;
 * HEAD is answered wherever GET is, with the GET answer's head and no body; and the
 * seed-002 success envelope and the error body keep their exact member order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "harness.h"

/* The value of header name in a response head ("" if absent), copied into out. */
static const char *header(const it_http_resp *r, const char *name, char *out, size_t outsz)
{
    out[0] = 0;
    size_t nl = strlen(name);
    for (const char *p = r->head ? strstr(r->head, "\r\n") : NULL; p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= outsz)
                n = outsz - 1;
            memcpy(out, v, n);
            out[n] = 0;
            break;
        }
    }
    return out;
}

static void expect_405(it_server *s, const char *method, const char *path, const char *token, const char *allow)
{
    it_http_resp r;
    int st = it_http(s, method, path, token, NULL, &r);
    char a[128];
    header(&r, "Allow", a, sizeof a);
    if (st != 405 || it_code(r.json) != 1010 || strcmp(a, allow) != 0)
        fail_msg("%s %s: HTTP %d code %d Allow \"%s\" (want 405 1010 \"%s\"): %s", method, path, st, it_code(r.json), a,
                 allow, r.body ? r.body : "");
    /* The error body of every REST error: its path is the one asked for. */
    assert_non_null(it_jstr(r.json, "error"));
    assert_string_equal(it_jstr(r.json, "error"), "method_not_allowed");
    it_http_resp_free(&r);
}

static void head_request(it_server *s, const char *path, const char *token, it_http_resp *r)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "HEAD %s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n", path,
                     token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    /* Connection: close, so the read ends at the server's close even though
     * Content-Length announces the GET body. */
    assert_true(it_http_raw(s->port, req, (size_t)n, IT_WAIT_MS, r) == 0 || r->status > 0);
}

static void test_health_and_metrics_methods(void **state)
{
    it_server *s = *state;
    it_http_resp r;
    assert_int_equal(it_http(s, "GET", "/healthz", NULL, NULL, &r), 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    it_http_resp_free(&r);
    static const char *const bad[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_405(s, bad[i], "/healthz", NULL, "GET, HEAD");
        expect_405(s, bad[i], "/metrics", NULL, "GET, HEAD");
    }
    /* HEAD: the head of GET's answer (its Content-Length) and no body. */
    head_request(s, "/healthz", NULL, &r);
    char cl[32];
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Length", cl, sizeof cl), "15");
    assert_int_equal((int)r.body_len, 0);
    it_http_resp_free(&r);
    head_request(s, "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(atoi(header(&r, "Content-Length", cl, sizeof cl)) > 100);
    assert_int_equal((int)r.body_len, 0);
    it_http_resp_free(&r);
    /* Still healthy after all of that. */
    assert_int_equal(it_http(s, "GET", "/healthz", NULL, NULL, &r), 200);
    it_http_resp_free(&r);
}

static void test_rest_405_allow_and_head(void **state)
{
    it_server *s = *state;
    const char *tok = it_app_token(s);
    it_create_user(s, "alice");
    expect_405(s, "PUT", "/demo/demo/users", tok, "POST, GET, HEAD");
    expect_405(s, "POST", "/demo/demo/users/alice", tok, "GET, HEAD, DELETE");
    expect_405(s, "GET", "/demo/demo/token", NULL, "POST");
    expect_405(s, "GET", "/demo/demo/messages/users", tok, "POST");
    expect_405(s, "PUT", "/admin/apps", s->admin_token, "GET, HEAD, POST");
    /* HEAD on a JSON route: 200, the envelope's length, no body. */
    it_http_resp r;
    head_request(s, "/demo/demo/users/alice", tok, &r);
    char cl[32];
    assert_int_equal(r.status, 200);
    assert_true(atoi(header(&r, "Content-Length", cl, sizeof cl)) > 100);
    assert_int_equal((int)r.body_len, 0);
    it_http_resp_free(&r);
    /* HEAD is authenticated like GET. */
    head_request(s, "/demo/demo/users/alice", NULL, &r);
    assert_int_equal(r.status, 401);
    assert_int_equal((int)r.body_len, 0);
    it_http_resp_free(&r);
}

static void test_envelope_and_error_bytes(void **state)
{
    it_server *s = *state;
    const char *tok = it_app_token(s);
    it_create_user(s, "alice");
    it_http_resp r;
    assert_int_equal(it_http(s, "GET", "/demo/demo/users/alice", tok, NULL, &r), 200);
    /* Member order of the seed-002 envelope (a user's answer has Easemob's entities where
     * others have data). */
    const char *b = r.body;
    const char *keys[] = {"{\"path\":\"/users/alice\",\"uri\":\"http://",
                          "\"timestamp\":",
                          ",\"organization\":\"demo\",\"application\":\"",
                          "\",\"action\":\"get\",\"entities\":[{",
                          "\"username\":\"alice\"",
                          "}],\"count\":1,\"duration\":",
                          ",\"applicationName\":\"demo\"}"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *p = strstr(b, keys[i]);
        if (!p)
            fail_msg("envelope lacks %s in order: %s", keys[i], r.body);
        b = p + strlen(keys[i]);
    }
    assert_int_equal((int)(b - r.body), (int)r.body_len);
    it_http_resp_free(&r);
    /* Error body: member order, and its path below /{org}/{app}. */
    assert_int_equal(it_http(s, "GET", "/demo/demo/users/nobody", tok, NULL, &r), 404);
    b = r.body;
    const char *ekeys[] = {"{\"error\":\"service_resource_not_found\",\"code\":20003,\"error_description\":\"",
                           "\",\"error_code\":20003,\"exception\":\"TernException\",\"timestamp\":", ",\"duration\":",
                           ",\"path\":\"/users/nobody\"}"};
    for (size_t i = 0; i < sizeof ekeys / sizeof ekeys[0]; i++) {
        const char *p = strstr(b, ekeys[i]);
        if (!p)
            fail_msg("error body lacks %s in order: %s", ekeys[i], r.body);
        b = p + strlen(ekeys[i]);
    }
    it_http_resp_free(&r);
    /* Unknown paths: 404 1009, the path below the app when there is one. */
    assert_int_equal(it_http(s, "GET", "/demo/demo/users/alice/nothing", tok, NULL, &r), 404);
    assert_int_equal(it_code(r.json), 1009);
    assert_string_equal(it_jstr(r.json, "path"), "/users/alice/nothing");
    it_http_resp_free(&r);
    assert_int_equal(it_http(s, "GET", "/nothing", NULL, NULL, &r), 404);
    assert_int_equal(it_code(r.json), 1009);
    assert_string_equal(it_jstr(r.json, "path"), "/nothing");
    it_http_resp_free(&r);
    /* Below an app, authentication comes before the path: no token, 401. */
    assert_int_equal(it_http(s, "GET", "/demo/demo/nothing", NULL, NULL, &r), 401);
    it_http_resp_free(&r);
    /* A path user that is no identifier: 20003, even with more path behind it. */
    assert_int_equal(it_http(s, "GET", "/demo/demo/users/a%20b/nothing", tok, NULL, &r), 404);
    assert_int_equal(it_code(r.json), 20003);
    it_http_resp_free(&r);
    /* Unknown app: 404 1103. */
    assert_int_equal(it_http(s, "GET", "/nosuch/app/users", tok, NULL, &r), 404);
    assert_int_equal(it_code(r.json), 1103);
    it_http_resp_free(&r);
}

int main(void)
{
    it_watchdog(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_and_metrics_methods, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_rest_405_allow_and_head, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_envelope_and_error_bytes, it_setup_default, it_teardown_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
