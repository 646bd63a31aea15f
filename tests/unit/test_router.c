/* test_router.c — unit tests for the REST router alone (rest/router.c, rest_route_match):
 * patterns and captures on a table of its own (literal segments, URL-decoded captures,
 * identifier checks per capture kind, 404 vs 405 and the Allow list, HEAD on GET rows,
 * the app scope), then the real table of rest/routes.c: every row has a handler and a
 * unique (method, pattern), rows of one pattern share their auth kind, and the auth
 * kind and body limit each request finds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rest/router.h"

static int h_a(rctx *x, const http_msg *m)
{
    return 0;
}

static int h_b(rctx *x, const http_msg *m)
{
    return 1;
}

static const rest_route table[] = {
    {HTTP_M_GET, "/healthz", REST_AUTH_NONE, h_a, 10, NULL},
    {HTTP_M_GET, "/admin/apps", REST_AUTH_ADMIN, h_a, 10, NULL},
    {HTTP_M_POST, "/admin/apps", REST_AUTH_ADMIN, h_b, 20, NULL},
    {HTTP_M_POST, "/{org}/{app}/users", REST_AUTH_APP, h_b, 100, NULL},
    {HTTP_M_GET, "/{org}/{app}/users", REST_AUTH_APP, h_a, 0, NULL},
    {HTTP_M_GET, "/{org}/{app}/users/{user}", REST_AUTH_APP, h_a, 0, NULL},
    {HTTP_M_DELETE, "/{org}/{app}/users/{user}", REST_AUTH_APP, h_b, 0, NULL},
    {HTTP_M_GET, "/{org}/{app}/users/{user}/conversations/{conv}/messages", REST_AUTH_APP, h_a, 0, NULL},
    {HTTP_M_POST, "/{org}/{app}/chatgroups/{group}/users/{user}", REST_AUTH_APP, h_b, 0, NULL},
};
#define NT (sizeof table / sizeof table[0])

static int match(int method, const char *path, rest_match *m)
{
    tern_str p = {path, strlen(path)};
    return rest_route_match(table, NT, method, p, m);
}

static void test_literals_and_captures(void **state)
{
    rest_match m;
    assert_int_equal(match(HTTP_M_GET, "/healthz", &m), TERN_OK);
    assert_ptr_equal(m.route, &table[0]);
    assert_false(m.app_scoped);
    /* Empty segments are skipped, as before: "//healthz/" is /healthz. */
    assert_int_equal(match(HTTP_M_GET, "//healthz/", &m), TERN_OK);
    assert_ptr_equal(m.route, &table[0]);

    assert_int_equal(match(HTTP_M_GET, "/acme/chat/users/alice", &m), TERN_OK);
    assert_ptr_equal(m.route, &table[5]);
    assert_true(m.app_scoped);
    assert_string_equal(m.org, "acme");
    assert_string_equal(m.app, "chat");
    assert_string_equal(m.user, "alice");
    assert_string_equal(m.group, "");

    /* Captures and literals are compared URL-decoded. */
    assert_int_equal(match(HTTP_M_GET, "/acme/chat/%75sers/%41lice", &m), TERN_OK);
    assert_string_equal(m.user, "Alice");
    assert_int_equal(match(HTTP_M_GET, "/a/b/users/bob/conversations/%40TIM%23SYSTEM/messages", &m), TERN_OK);
    assert_ptr_equal(m.route, &table[7]);
    assert_string_equal(m.conv, "@TIM#SYSTEM");
    assert_int_equal(match(HTTP_M_POST, "/a/b/chatgroups/g1/users/carol", &m), TERN_OK);
    assert_string_equal(m.group, "g1");
    assert_string_equal(m.user, "carol");
}

static void test_not_found_vs_method(void **state)
{
    rest_match m;
    /* Unknown paths. */
    assert_int_equal(match(HTTP_M_GET, "/nothing", &m), TERN_ERR_NOT_FOUND);
    assert_null(m.path_route);
    assert_false(m.app_scoped);
    assert_int_equal(match(HTTP_M_GET, "/a/b/nothing", &m), TERN_ERR_NOT_FOUND);
    assert_true(m.app_scoped); /* the router still resolves the app and authenticates */
    assert_int_equal(match(HTTP_M_GET, "/a/b/users/alice/extra", &m), TERN_ERR_NOT_FOUND);
    assert_int_equal(match(HTTP_M_GET, "/a/b", &m), TERN_ERR_NOT_FOUND);
    assert_false(m.app_scoped);
    assert_null(m.root_route);
    /* An unknown path that starts like root rows is theirs (their auth), not an app's. */
    assert_int_equal(match(HTTP_M_GET, "/admin/apps/x", &m), TERN_ERR_NOT_FOUND);
    assert_false(m.app_scoped);
    assert_ptr_equal(m.root_route, &table[1]);
    assert_int_equal(match(HTTP_M_GET, "/admin", &m), TERN_ERR_NOT_FOUND);
    assert_ptr_equal(m.root_route, &table[1]);
    /* ...but a known app path whose org is "admin" is the app's. */
    assert_int_equal(match(HTTP_M_GET, "/admin/chat/users", &m), TERN_OK);
    assert_true(m.app_scoped);
    assert_string_equal(m.org, "admin");
    /* Undecodable: a bad escape, an escaped NUL, too many segments, a segment too long. */
    assert_int_equal(match(HTTP_M_GET, "/a/b/users/al%zzice", &m), TERN_ERR_NOT_FOUND);
    assert_int_equal(match(HTTP_M_GET, "/a/b/users/alice%00x", &m), TERN_ERR_NOT_FOUND);
    assert_null(m.path_route);
    /* A raw NUL (which llhttp refuses before us) does not cut a segment short either. */
    static const char raw[] = "/a/b/users/alice\0x";
    tern_str rp = {raw, sizeof raw - 1};
    assert_int_equal(rest_route_match(table, NT, HTTP_M_GET, rp, &m), TERN_ERR_NOT_FOUND);
    assert_null(m.path_route);
    static const char rawapp[] = "/\0\0/b/users";
    tern_str ra = {rawapp, sizeof rawapp - 1};
    assert_int_equal(rest_route_match(table, NT, HTTP_M_GET, ra, &m), TERN_ERR_NOT_FOUND);
    assert_false(m.app_scoped);
    assert_int_equal(match(HTTP_M_GET, "/1/2/3/4/5/6/7/8/9", &m), TERN_ERR_NOT_FOUND);
    char longp[400];
    snprintf(longp, sizeof longp, "/a/b/users/%0200d", 7);
    assert_int_equal(match(HTTP_M_GET, longp, &m), TERN_ERR_NOT_FOUND);

    /* Known path, other method: 405 and the pattern's methods; GET brings HEAD. */
    assert_int_equal(match(HTTP_M_PUT, "/a/b/users", &m), TERN_ERR_METHOD);
    assert_null(m.route);
    assert_ptr_equal(m.path_route, &table[3]);
    assert_string_equal(m.allow, "POST, GET, HEAD");
    assert_int_equal(match(HTTP_M_POST, "/healthz", &m), TERN_ERR_METHOD);
    assert_string_equal(m.allow, "GET, HEAD");
    assert_int_equal(match(HTTP_M_GET, "/a/b/chatgroups/g/users/u", &m), TERN_ERR_METHOD);
    assert_string_equal(m.allow, "POST");
    /* HEAD finds the GET row. */
    assert_int_equal(match(HTTP_M_HEAD, "/a/b/users/alice", &m), TERN_OK);
    assert_ptr_equal(m.route, &table[5]);
    assert_int_equal(match(HTTP_M_HEAD, "/a/b/chatgroups/g/users/u", &m), TERN_ERR_METHOD);
    assert_int_equal(match(HTTP_M_DELETE, "/a/b/users/alice", &m), TERN_OK);
    assert_ptr_equal(m.route, &table[6]);
}

static void test_capture_identifiers(void **state)
{
    rest_match m;
    /* {user} that is not an identifier: 20003, before the method is looked at. */
    assert_int_equal(match(HTTP_M_GET, "/a/b/users/a%20b", &m), TERN_ERR_USER_NOT_FOUND);
    assert_int_equal(m.bad_capture, TERN_ERR_USER_NOT_FOUND);
    assert_int_equal(match(HTTP_M_PUT, "/a/b/users/a%2Fb", &m), TERN_ERR_USER_NOT_FOUND);
    /* ... and with more path behind it (as the old router did). */
    assert_int_equal(match(HTTP_M_GET, "/a/b/users/a%20b/more", &m), TERN_ERR_USER_NOT_FOUND);
    assert_null(m.path_route);
    /* 65 bytes is no identifier; 64 is. */
    char p[200];
    snprintf(p, sizeof p, "/a/b/users/%065d", 1);
    assert_int_equal(match(HTTP_M_GET, p, &m), TERN_ERR_USER_NOT_FOUND);
    snprintf(p, sizeof p, "/a/b/users/%064d", 1);
    assert_int_equal(match(HTTP_M_GET, p, &m), TERN_OK);
    assert_int_equal((int)strlen(m.user), 64);
    /* {group}: 10010; the first bad capture wins. */
    assert_int_equal(match(HTTP_M_POST, "/a/b/chatgroups/g%21/users/u", &m), TERN_ERR_GROUP_NOT_FOUND);
    assert_int_equal(match(HTTP_M_POST, "/a/b/chatgroups/g/users/u%21", &m), TERN_ERR_USER_NOT_FOUND);
    assert_int_equal(match(HTTP_M_POST, "/a/b/chatgroups/g%21/users/u%21", &m), TERN_ERR_GROUP_NOT_FOUND);
    /* {org}/{app}: 1103. */
    assert_int_equal(match(HTTP_M_GET, "/a%20/b/users", &m), TERN_ERR_APP_NOT_FOUND);
    /* {conv} is any decoded segment. */
    assert_int_equal(match(HTTP_M_GET, "/a/b/users/u/conversations/C2C%20x%2F/messages", &m), TERN_OK);
    assert_string_equal(m.conv, "C2C x/");
}

/* ---- the real table ------------------------------------------------------------------------ */

static rest_auth auth_of(int method, const char *path)
{
    rest_match m;
    tern_str p = {path, strlen(path)};
    int rc = rest_route_match(rest_routes, rest_nroutes, method, p, &m);
    if (rc != TERN_OK)
        fail_msg("%s: %d", path, rc);
    return m.route->auth;
}

static void test_real_table_rows(void **state)
{
    assert_int_equal((int)rest_nroutes, 44); /* 38 + friends (3) + message extensions (3) */
    for (size_t i = 0; i < rest_nroutes; i++) {
        const rest_route *r = &rest_routes[i];
        if (!r->fn || !r->pattern || r->pattern[0] != '/')
            fail_msg("row %zu (%s) lacks a handler or a pattern", i, r->pattern);
        if (r->method == HTTP_M_HEAD)
            fail_msg("row %zu: HEAD comes with GET", i);
        /* Every brace is a known capture. */
        for (const char *q = strchr(r->pattern, '{'); q; q = strchr(q + 1, '{')) {
            static const char *const caps[] = {"{org}/{app}/", "{user}", "{group}", "{conv}", "{app}"};
            int ok = 0;
            for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++)
                ok |= !strncmp(q, caps[k], strlen(caps[k]));
            if (!ok)
                fail_msg("row %zu: unknown capture in %s", i, r->pattern);
        }
        for (size_t j = 0; j < i; j++) {
            const rest_route *o = &rest_routes[j];
            if (strcmp(o->pattern, r->pattern) != 0)
                continue;
            if (o->method == r->method)
                fail_msg("rows %zu and %zu: both %d %s", j, i, r->method, r->pattern);
            if (o->auth != r->auth)
                fail_msg("rows %zu and %zu: %s with two auth kinds", j, i, r->pattern);
        }
        /* Each row is the one its own pattern finds (no earlier row shadows it). */
        char path[256];
        size_t n = 0;
        for (const char *q = r->pattern; *q && n < sizeof path - 8;) {
            if (*q == '{') {
                n += (size_t)snprintf(path + n, sizeof path - n, "x1");
                q = strchr(q, '}') + 1;
            } else {
                path[n++] = *q++;
            }
        }
        path[n] = 0;
        rest_match m;
        tern_str p = {path, n};
        assert_int_equal(rest_route_match(rest_routes, rest_nroutes, r->method, p, &m), TERN_OK);
        assert_ptr_equal(m.route, r);
    }
}

static void test_real_table_auth_and_limits(void **state)
{
    assert_int_equal(auth_of(HTTP_M_GET, "/healthz"), REST_AUTH_NONE);
    assert_int_equal(auth_of(HTTP_M_HEAD, "/metrics"), REST_AUTH_NONE);
    assert_int_equal(auth_of(HTTP_M_GET, "/admin/apps"), REST_AUTH_ADMIN);
    assert_int_equal(auth_of(HTTP_M_POST, "/admin/apps"), REST_AUTH_ADMIN);
    assert_int_equal(auth_of(HTTP_M_POST, "/o/a/token"), REST_AUTH_APP_CREDS);
    assert_int_equal(auth_of(HTTP_M_POST, "/o/a/users/u/token"), REST_AUTH_APP);
    assert_int_equal(auth_of(HTTP_M_POST, "/o/a/messages/chatgroups"), REST_AUTH_APP);
    assert_int_equal(auth_of(HTTP_M_DELETE, "/o/a/chatgroups/g/users/u"), REST_AUTH_APP);
    /* JSON routes keep the --max-http-body ceiling; unknown requests get it too. */
    tern_str p = {"/o/a/messages/users", 19};
    assert_int_equal(rest_body_limit(HTTP_M_POST, p, 1 << 20), 1 << 20);
    tern_str q = {"/nothing", 8};
    assert_int_equal(rest_body_limit(HTTP_M_POST, q, 1 << 20), 1 << 20);
    for (size_t i = 0; i < rest_nroutes; i++) /* the media upload streams: its head checks the size */
        assert_int_equal((int)rest_routes[i].body_limit, REST_BODY_JSON);
    assert_int_equal(auth_of(HTTP_M_POST, "/o/a/media"), REST_AUTH_APP_USER);
    assert_int_equal(auth_of(HTTP_M_GET, "/o/a/media/0123"), REST_AUTH_MEDIA);
    assert_int_equal(auth_of(HTTP_M_POST, "/o/a/chatfiles"), REST_AUTH_APP_USER);
    assert_int_equal(auth_of(HTTP_M_HEAD, "/o/a/chatfiles/0123"), REST_AUTH_MEDIA);
    assert_int_equal(auth_of(HTTP_M_PUT, "/o/a/settings"), REST_AUTH_APP);
    /* The limit is the row's own (checked on the test table). */
    rest_match m;
    assert_int_equal(match(HTTP_M_POST, "/admin/apps", &m), TERN_OK);
    assert_int_equal((int)m.route->body_limit, 20);
    assert_int_equal(match(HTTP_M_GET, "/admin/apps", &m), TERN_OK);
    assert_int_equal((int)m.route->body_limit, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_and_captures),      cmocka_unit_test(test_not_found_vs_method),
        cmocka_unit_test(test_capture_identifiers),        cmocka_unit_test(test_real_table_rows),
        cmocka_unit_test(test_real_table_auth_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
