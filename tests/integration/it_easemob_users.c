/*
 * it_easemob_users.c — Easemob-compatible users and tokens against a real ternd
 * (docs/rest-api.md "App and user tokens", "Users"): POST /users with one object or an
 * array (usernames folded to lower case, optional passwords stored as scrypt hashes),
 * the `entities` shapes of create/get/list/delete, the opaque list cursor, Easemob's
 * error names, and the three token grants (client_credentials, password, inherit with
 * autoCreateUser), each user token logging in over WebSocket.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Asserts o is an Easemob user entity of username (nickname NULL: none). */
static void check_entity(const cJSON *o, const char *username, const char *nickname)
{
    const char *uuid = it_jstr(o, "uuid");
    if (!o || !uuid || strlen(uuid) != 36 || uuid[14] != '4' || !it_jstr(o, "type") ||
        strcmp(it_jstr(o, "type"), "user") || !it_jstr(o, "username") || strcmp(it_jstr(o, "username"), username) ||
        it_jnum(o, "created", 0) < 1.6e12 || it_jnum(o, "modified", 0) < it_jnum(o, "created", 0) ||
        !cJSON_IsTrue(it_jget(o, "activated")) || it_jget(o, "password"))
        fail_msg("entity of %s: %s", username, it_jshow(o));
    if (nickname ? !it_jstr(o, "nickname") || strcmp(it_jstr(o, "nickname"), nickname) : it_jget(o, "nickname") != NULL)
        fail_msg("entity of %s: nickname %s in %s", username, nickname ? nickname : "(none)", it_jshow(o));
}

/* POSTs body to path without any token; returns the status, the JSON in *out. */
static int post_noauth(it_server *s, const char *path, const char *body, cJSON **out)
{
    it_http_resp r;
    int st = it_http(s, "POST", path, NULL, body, &r);
    *out = r.json;
    r.json = NULL;
    it_http_resp_free(&r);
    return st;
}

/* Logs in over WebSocket with tok as user; asserts it worked. */
static void ws_login_with(it_server *s, const char *user, const char *tok)
{
    it_ws *w = it_ws_connect(s);
    cJSON *r =
        it_ws_request(w, "{\"op\":\"login\",\"app\":\"%s/%s\",\"user\":\"%s\",\"token\":\"%s\",\"device\":\"d\"}",
                      s->org, s->app, user, tok);
    it_assert_code(r, 0);
    assert_string_equal(it_jstr(r, "data.user"), user);
    cJSON_Delete(r);
    it_ws_free(w);
}

static void test_create_shapes(void **state)
{
    it_server *s = *state;
    /* One object, upper case folded, with password and nickname. */
    cJSON *j = it_rest(s, "POST", "{\"username\":\"Alice.W\",\"password\":\"pw-1\",\"nickname\":\"Alice\"}", 200,
                       "/demo/demo/users");
    assert_string_equal(it_jstr(j, "path"), "/users");
    assert_string_equal(it_jstr(j, "action"), "post");
    assert_string_equal(it_jstr(j, "organization"), "demo");
    assert_string_equal(it_jstr(j, "applicationName"), "demo");
    assert_null(it_jget(j, "data")); /* Easemob has no data here */
    const cJSON *ents = it_jget(j, "entities");
    assert_int_equal(cJSON_GetArraySize(ents), 1);
    check_entity(cJSON_GetArrayItem(ents, 0), "alice.w", "Alice");
    char uuid[40];
    snprintf(uuid, sizeof uuid, "%s", it_jstr(cJSON_GetArrayItem(ents, 0), "uuid"));
    cJSON_Delete(j);

    /* An array; no password, no nickname. */
    j = it_rest(s, "POST", "[{\"username\":\"bob\"},{\"username\":\"carol_1\",\"password\":\"x\"}]", 200,
                "/demo/demo/users");
    ents = it_jget(j, "entities");
    assert_int_equal(cJSON_GetArraySize(ents), 2);
    check_entity(cJSON_GetArrayItem(ents, 0), "bob", NULL);
    check_entity(cJSON_GetArrayItem(ents, 1), "carol_1", NULL);
    assert_string_not_equal(it_jstr(cJSON_GetArrayItem(ents, 0), "uuid"), it_jstr(cJSON_GetArrayItem(ents, 1), "uuid"));
    cJSON_Delete(j);

    /* GET: the same entity, uuid stable; the folded name finds it too. */
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/alice.w");
    assert_int_equal((int)it_jnum(j, "count", -1), 1);
    check_entity(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "alice.w", "Alice");
    assert_string_equal(it_jstr(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "uuid"), uuid);
    assert_string_equal(it_jstr(j, "action"), "get");
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/ALICE.W");
    assert_string_equal(it_jstr(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "username"), "alice.w");
    cJSON_Delete(j);

    /* Errors, with Easemob's names. */
    const char *tok = it_app_token(s);
    it_expect_error(s, "POST", "/demo/demo/users", tok, "{\"username\":\"ALICE.w\"}", 400, 1011,
                    "duplicate_unique_property_exists", NULL);
    it_expect_error(s, "POST", "/demo/demo/users", tok, "{\"username\":\"a@b\"}", 400, 1003, "illegal_argument",
                    "username [a@b] is not legal");
    it_expect_error(s, "POST", "/demo/demo/users", tok, "{\"username\":\"a+b\"}", 400, 1003, "illegal_argument", NULL);
    it_expect_error(s, "POST", "/demo/demo/users", tok, "{\"username\":\"\"}", 400, 1003, "illegal_argument", NULL);
    char body[300];
    snprintf(body, sizeof body, "{\"username\":\"%065d\"}", 0); /* 65 bytes */
    it_expect_error(s, "POST", "/demo/demo/users", tok, body, 400, 1003, "illegal_argument", "USERNAME_TOO_LONG");
    snprintf(body, sizeof body, "{\"username\":\"dan\",\"password\":\"%065d\"}", 0);
    it_expect_error(s, "POST", "/demo/demo/users", tok, body, 400, 1003, "illegal_argument", NULL);
    it_expect_error(s, "POST", "/demo/demo/users", tok, "{\"username\":\"dan\",\"password\":7}", 400, 1003,
                    "illegal_argument", NULL);
    it_expect_error(s, "POST", "/demo/demo/users", tok, "{\"username\":\"dan\",\"avatar\":\"x\"}", 400, 1012,
                    "not_supported", NULL);
    it_expect_error(s, "POST", "/demo/demo/users", NULL, "{\"username\":\"dan\"}", 401, 1101, "unauthorized", NULL);
    it_expect_error(s, "GET", "/demo/demo/users/nobody", tok, NULL, 404, 20003, "service_resource_not_found",
                    "Service resource not found");
    it_expect_error(s, "DELETE", "/demo/demo/users/nobody", tok, NULL, 404, 20003, "service_resource_not_found", NULL);
    /* A 64-byte name is fine; the refused ones created nothing. */
    snprintf(body, sizeof body, "{\"username\":\"%064d\"}", 0);
    cJSON_Delete(it_rest(s, "POST", body, 200, "/demo/demo/users"));
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users?limit=100");
    assert_int_equal((int)it_jnum(j, "count", -1), 4);
    assert_null(it_jget(j, "cursor"));
    cJSON_Delete(j);
}

static void test_list_delete(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11", NULL};
    it_create_users(s, u);
    /* Default page: 10, with a cursor; the cursor is opaque and gives the rest. */
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/users");
    assert_int_equal((int)it_jnum(j, "count", -1), 10);
    assert_int_equal(cJSON_GetArraySize(it_jget(j, "entities")), 10);
    check_entity(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "u01", NULL);
    const char *cur = it_jstr(j, "cursor");
    assert_non_null(cur);
    assert_null(strstr(cur, "u10"));
    char c1[100];
    snprintf(c1, sizeof c1, "%s", cur);
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users?limit=10&cursor=%s", c1);
    assert_int_equal((int)it_jnum(j, "count", -1), 1);
    assert_string_equal(it_jstr(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "username"), "u11");
    assert_null(it_jget(j, "cursor"));
    cJSON_Delete(j);
    /* Exactly a full last page: no cursor. */
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users?limit=11");
    assert_int_equal((int)it_jnum(j, "count", -1), 11);
    assert_null(it_jget(j, "cursor"));
    cJSON_Delete(j);
    const char *tok = it_app_token(s);
    it_expect_error(s, "GET", "/demo/demo/users?limit=0", tok, NULL, 400, 1003, "illegal_argument", NULL);
    it_expect_error(s, "GET", "/demo/demo/users?limit=101", tok, NULL, 400, 1003, "illegal_argument", NULL);
    it_expect_error(s, "GET", "/demo/demo/users?cursor=!!", tok, NULL, 400, 1003, "illegal_argument", NULL);

    /* DELETE answers the deleted user as an entity, with action "delete". */
    j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/u05");
    assert_string_equal(it_jstr(j, "action"), "delete");
    assert_int_equal(cJSON_GetArraySize(it_jget(j, "entities")), 1);
    check_entity(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "u05", NULL);
    cJSON_Delete(j);
    it_expect_error(s, "GET", "/demo/demo/users/u05", tok, NULL, 404, 20003, "service_resource_not_found", NULL);
    j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/U06"); /* folded */
    assert_string_equal(it_jstr(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "username"), "u06");
    cJSON_Delete(j);
}

static void test_tokens(void **state)
{
    it_server *s = *state;
    cJSON_Delete(it_rest(s, "POST", "[{\"username\":\"pat\",\"password\":\"Secret-64\"},{\"username\":\"nopw\"}]", 200,
                         "/demo/demo/users"));
    cJSON *j = NULL;
    /* password: the right one gives a user token that logs in. */
    int st =
        post_noauth(s, "/demo/demo/token",
                    "{\"grant_type\":\"password\",\"username\":\"pat\",\"password\":\"Secret-64\",\"ttl\":600}", &j);
    if (st != 200)
        fail_msg("password grant: %d %s", st, it_jshow(j));
    assert_int_equal((int)it_jnum(j, "expires_in", -1), 600);
    assert_null(it_jget(j, "path")); /* no envelope */
    check_entity(it_jget(j, "user"), "pat", NULL);
    char tok[1024];
    snprintf(tok, sizeof tok, "%s", it_jstr(j, "access_token"));
    cJSON_Delete(j);
    ws_login_with(s, "pat", tok);
    /* The token is a user token: it is no app token. */
    it_expect_error(s, "GET", "/demo/demo/users", tok, NULL, 401, 1101, "unauthorized", NULL);

    /* Wrong password, a user without one, an unknown user: one answer, 400 invalid_grant. */
    static const char *const bad[] = {
        "{\"grant_type\":\"password\",\"username\":\"pat\",\"password\":\"secret-64\"}",
        "{\"grant_type\":\"password\",\"username\":\"nopw\",\"password\":\"x\"}",
        "{\"grant_type\":\"password\",\"username\":\"ghost\",\"password\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        it_expect_error(s, "POST", "/demo/demo/token", NULL, bad[i], 400, 1107, "invalid_grant", NULL);
    it_expect_error(s, "POST", "/demo/demo/token", NULL, "{\"grant_type\":\"password\",\"username\":\"pat\"}", 400,
                    1003, "illegal_argument", NULL);
    it_expect_error(s, "POST", "/demo/demo/token", NULL, "{\"grant_type\":\"magic\"}", 400, 1003, "illegal_argument",
                    NULL);

    /* inherit: only with the app token. */
    static const char inherit_pat[] = "{\"grant_type\":\"inherit\",\"username\":\"pat\",\"autoCreateUser\":false}";
    it_expect_error(s, "POST", "/demo/demo/token", NULL, inherit_pat, 401, 1101, "unauthorized", NULL);
    char utok[1024];
    it_user_token(s, "pat", utok, sizeof utok);
    it_expect_error(s, "POST", "/demo/demo/token", utok, inherit_pat, 401, 1101, "unauthorized", NULL);
    j = it_rest(s, "POST", inherit_pat, 200, "/demo/demo/token");
    check_entity(it_jget(j, "user"), "pat", NULL);
    assert_int_equal((int)it_jnum(j, "expires_in", -1), 7 * 86400);
    ws_login_with(s, "pat", it_jstr(j, "access_token"));
    cJSON_Delete(j);
    const char *app = it_app_token(s);
    it_expect_error(s, "POST", "/demo/demo/token", app,
                    "{\"grant_type\":\"inherit\",\"username\":\"newbie\",\"autoCreateUser\":false}", 404, 20003,
                    "invalid_grant", "user not found"); /* Easemob's name and text here */
    it_expect_error(s, "POST", "/demo/demo/token", app, "{\"grant_type\":\"inherit\",\"username\":\"newbie\"}", 404,
                    20003, "invalid_grant", "user not found");
    it_expect_error(s, "POST", "/demo/demo/token", app,
                    "{\"grant_type\":\"inherit\",\"username\":\"new bie\",\"autoCreateUser\":true}", 400, 1003,
                    "illegal_argument", "username [new bie] is not legal");
    /* autoCreateUser: the user is made (folded), then the token. */
    j = it_rest(s, "POST", "{\"grant_type\":\"inherit\",\"username\":\"NewBie\",\"autoCreateUser\":true,\"ttl\":60}",
                200, "/demo/demo/token");
    check_entity(it_jget(j, "user"), "newbie", NULL);
    assert_int_equal((int)it_jnum(j, "expires_in", -1), 60);
    ws_login_with(s, "newbie", it_jstr(j, "access_token"));
    cJSON_Delete(j);
    cJSON_Delete(it_rest(s, "GET", NULL, 200, "/demo/demo/users/newbie"));
    /* ttl 0 (Easemob: never expires) is the longest Tern gives, 365 days. */
    j = it_rest(s, "POST", "{\"grant_type\":\"inherit\",\"username\":\"newbie\",\"autoCreateUser\":true,\"ttl\":0}",
                200, "/demo/demo/token");
    assert_int_equal((int)it_jnum(j, "expires_in", -1), 365 * 86400);
    cJSON_Delete(j);
}

/* Ids made before issue 8 may hold [A-Z@=+]: GET, DELETE and login still find them by
 * their exact id, and an exact id wins over a lower-case fold. Such rows are written
 * into the stopped server's database (REST no longer makes them). */
static void test_legacy_ids(void **state)
{
    it_server *s = *state;
    it_create_user(s, "bob");
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    char cmd[1024], out[512];
    snprintf(cmd, sizeof cmd,
             "sqlite3 %s/tern.db \"INSERT INTO users(app,user,nickname,created_ms,modified_ms,uuid)"
             " SELECT id,'Old@Id',NULL,1700000000000,1700000000000,'11111111-2222-4333-8444-555555555555'"
             " FROM apps WHERE org='demo' AND name='demo';"
             " INSERT INTO users(app,user,nickname,created_ms,modified_ms,uuid)"
             " SELECT id,'Bob','Big Bob',1700000000000,1700000000000,'11111111-2222-4333-8444-666666666666'"
             " FROM apps WHERE org='demo' AND name='demo';\"",
             s->dir);
    if (it_run_capture(cmd, out, sizeof out) != 0)
        fail_msg("sqlite3: %s", out);
    assert_int_equal(it_server_restart(s), 0);
    s->app_token[0] = 0;
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/Old@Id");
    check_entity(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "Old@Id", NULL);
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/Bob"); /* the exact id wins */
    check_entity(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "Bob", "Big Bob");
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/BOB"); /* no exact id: the fold */
    check_entity(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "bob", "bob");
    cJSON_Delete(j);
    it_ws *w = it_login(s, "Old@Id", "d");
    it_ws_free(w);
    j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/Old@Id");
    check_entity(cJSON_GetArrayItem(it_jget(j, "entities"), 0), "Old@Id", NULL);
    cJSON_Delete(j);
    it_expect_error(s, "GET", "/demo/demo/users/Old@Id", it_app_token(s), NULL, 404, 20003,
                    "service_resource_not_found", NULL);
    /* REST does not make such ids any more. */
    it_expect_error(s, "POST", "/demo/demo/users", it_app_token(s), "{\"username\":\"New@Id\"}", 400, 1003,
                    "illegal_argument", "username [New@Id] is not legal");
}

typedef struct bulk {
    it_server *s;
    char body[8192];
    int status;
    int64_t ms;
    atomic_int done; /* status and ms are read after the join */
} bulk;

static void *bulk_create(void *arg)
{
    bulk *b = arg;
    it_http_resp r;
    char path[160];
    snprintf(path, sizeof path, "/%s/%s/users", b->s->org, b->s->app);
    int64_t t0 = it_now_ms();
    b->status = it_http(b->s, "POST", path, b->s->app_token, b->body, &r);
    b->ms = it_now_ms() - t0;
    it_http_resp_free(&r);
    atomic_store(&b->done, 1);
    return NULL;
}

/* Password hashing never runs on the I/O loop: with one loop, /healthz answers at once
 * while 30 users with passwords are hashed (seconds of CPU; 30, not more, so the create
 * itself answers within the harness's 10 s on a loaded 2-core CI machine). */
static void test_hashing_off_loop(void **state)
{
    static const char *const args[] = {"--threads", "1", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    *state = s;
    it_app_token(s);
    bulk b = {.s = s};
    int n = snprintf(b.body, sizeof b.body, "[");
    for (int i = 0; i < 30; i++)
        n += snprintf(b.body + n, sizeof b.body - (size_t)n, "%s{\"username\":\"h%02d\",\"password\":\"pw-%d\"}",
                      i ? "," : "", i, i);
    snprintf(b.body + n, sizeof b.body - (size_t)n, "]");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bulk_create, &b), 0);
    int64_t worst = 0;
    int probes = 0;
    it_sleep_ms(50); /* the create is in */
    while (!atomic_load(&b.done)) {
        it_http_resp r;
        int64_t t0 = it_now_ms();
        int st = it_http(s, "GET", "/healthz", NULL, NULL, &r);
        int64_t dt = it_now_ms() - t0;
        it_http_resp_free(&r);
        assert_int_equal(st, 200);
        if (!atomic_load(&b.done)) {
            probes++;
            worst = dt > worst ? dt : worst;
        }
        it_sleep_ms(20);
    }
    pthread_join(th, NULL);
    assert_int_equal(b.status, 200);
    if (probes < 3 || worst > 250)
        fail_msg("the create took %lld ms; %d /healthz probes meanwhile, the slowest %lld ms", (long long)b.ms, probes,
                 (long long)worst);
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/users?limit=100");
    assert_int_equal((int)it_jnum(j, "count", -1), 30);
    cJSON_Delete(j);
    /* Each password was hashed and kept. */
    it_http_resp r;
    assert_int_equal(it_http(s, "POST", "/demo/demo/token", NULL,
                             "{\"grant_type\":\"password\",\"username\":\"h29\",\"password\":\"pw-29\"}", &r),
                     200);
    ws_login_with(s, "h29", it_jstr(r.json, "access_token"));
    it_http_resp_free(&r);
}

int main(void)
{
    it_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_shapes, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_list_delete, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_tokens, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_legacy_ids, it_setup_default, it_teardown_default),
        cmocka_unit_test_teardown(test_hashing_off_loop, it_teardown_default),
    };
    return it_run_tests("it_easemob_users", tests);
}
