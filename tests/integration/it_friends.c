/*
 * it_friends.c — friends and the friend check (issue 10) against the real ternd:
 *   - REST add / list / delete in Easemob's contact shapes, symmetric both ways;
 *     errors: unknown users (20003), oneself (1061), a friend id that is no identifier;
 *   - the WebSocket op `friends` shows a client its list;
 *   - with friendCheck on (PUT /settings), C2C between non-friends is refused with 20009
 *     over WebSocket and REST, friends still talk, groups are not affected; with it off
 *     (the default) strangers talk;
 *   - deleting a user removes its friend rows on both sides;
 *   - the friendship and the setting survive a restart.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* The friends of user over REST, as "a,b,c" into out. */
static void rest_list(it_server *s, const char *user, char *out, size_t outsz)
{
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/users/%s/contacts/users", user);
    const cJSON *d = it_jget(j, "data"), *e;
    out[0] = 0;
    if (!cJSON_IsArray(d))
        fail_msg("no data array: %s", it_jshow(j));
    cJSON_ArrayForEach(e, d)
    {
        if (out[0])
            strncat(out, ",", outsz - strlen(out) - 1);
        strncat(out, cJSON_IsString(e) ? e->valuestring : "?", outsz - strlen(out) - 1);
    }
    assert_int_equal((int)it_jnum(j, "count", -1), cJSON_GetArraySize(d));
    assert_non_null(it_jget(j, "entities"));
    cJSON_Delete(j);
}

static void add(it_server *s, const char *a, const char *b)
{
    cJSON *j = it_rest(s, "POST", NULL, 200, "/demo/demo/users/%s/contacts/users/%s", a, b);
    if (strcmp(it_jstr(j, "action") ? it_jstr(j, "action") : "", "post") ||
        strcmp(it_jstr(j, "entities.0.username") ? it_jstr(j, "entities.0.username") : "", b) ||
        strcmp(it_jstr(j, "entities.0.type") ? it_jstr(j, "entities.0.type") : "", "user"))
        fail_msg("add %s -> %s: %s", a, b, it_jshow(j));
    cJSON_Delete(j);
}

static void set_friend_check(it_server *s, int on)
{
    char body[64];
    snprintf(body, sizeof body, "{\"friendCheck\":%d}", on);
    cJSON_Delete(it_rest(s, "PUT", body, 200, "/demo/demo/settings"));
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/settings");
    if ((int)it_jnum(j, "data.friendCheck", -1) != on)
        fail_msg("settings: %s", it_jshow(j));
    cJSON_Delete(j);
}

static void test_rest_and_ws_list(void **state)
{
    it_server *s = *state;
    const char *users[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, users);
    char l[256];
    rest_list(s, "alice", l, sizeof l);
    assert_string_equal(l, "");
    add(s, "alice", "bob");
    add(s, "alice", "bob"); /* again: no change, still 200 */
    add(s, "carol", "alice");
    rest_list(s, "alice", l, sizeof l);
    assert_string_equal(l, "bob,carol");
    rest_list(s, "bob", l, sizeof l); /* symmetric */
    assert_string_equal(l, "alice");

    it_expect_error(s, "POST", "/demo/demo/users/alice/contacts/users/nobody", it_app_token(s), NULL, 404, 20003, NULL,
                    NULL);
    it_expect_error(s, "POST", "/demo/demo/users/nobody/contacts/users/alice", it_app_token(s), NULL, 404, 20003, NULL,
                    NULL);
    it_expect_error(s, "POST", "/demo/demo/users/alice/contacts/users/alice", it_app_token(s), NULL, 400, 1061, NULL,
                    NULL);
    it_expect_error(s, "POST", "/demo/demo/users/alice/contacts/users/a%20b", it_app_token(s), NULL, 400, 1003, NULL,
                    NULL);
    it_expect_error(s, "GET", "/demo/demo/users/alice/contacts/users", NULL, NULL, 401, 0, NULL, NULL);

    it_ws *w = it_login(s, "alice", NULL);
    cJSON *r = it_ws_request(w, "{\"op\":\"friends\"}");
    it_assert_code(r, 0);
    const cJSON *f = it_jget(r, "data.friends");
    if (cJSON_GetArraySize(f) != 2 || strcmp(cJSON_GetArrayItem(f, 0)->valuestring, "bob") ||
        strcmp(cJSON_GetArrayItem(f, 1)->valuestring, "carol"))
        fail_msg("friends op: %s", it_jshow(r));
    cJSON_Delete(r);

    cJSON *j = it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/bob/contacts/users/alice");
    assert_string_equal(it_jstr(j, "entities.0.username"), "alice");
    cJSON_Delete(j);
    cJSON_Delete(it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/bob/contacts/users/alice")); /* not friends: 200 */
    rest_list(s, "alice", l, sizeof l);
    assert_string_equal(l, "carol");
    rest_list(s, "bob", l, sizeof l);
    assert_string_equal(l, "");
    r = it_ws_request(w, "{\"op\":\"friends\"}");
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.friends")), 1);
    cJSON_Delete(r);
}

static int rest_c2c(it_server *s, const char *from, const char *to, it_http_resp *out)
{
    char body[256];
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"to\":[\"%s\"],\"type\":\"txt\",\"body\":{\"msg\":\"hi\"}}", from,
             to);
    return it_http(s, "POST", "/demo/demo/messages/users", it_app_token(s), body, out);
}

static void test_friend_check(void **state)
{
    it_server *s = *state;
    const char *users[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, users);
    add(s, "alice", "bob");
    const char *members[] = {"carol", NULL};
    it_create_group(s, "g1", "alice", members);
    it_ws *alice = it_login(s, "alice", NULL);
    it_ws *carol = it_login(s, "carol", NULL);

    /* off (the default): strangers talk */
    it_send_text_ok(alice, "C2C", "carol", "before", NULL, 0);
    set_friend_check(s, 1);
    cJSON *r = it_send_text(alice, "C2C", "carol", "stranger", NULL);
    it_assert_code(r, 20009);
    cJSON_Delete(r);
    r = it_send_text(carol, "C2C", "alice", "stranger back", NULL);
    it_assert_code(r, 20009);
    cJSON_Delete(r);
    it_send_text_ok(alice, "C2C", "bob", "friend", NULL, 0);
    it_send_text_ok(alice, "C2C", "alice", "note to self", NULL, 0);
    it_send_text_ok(carol, "GROUP", "g1", "groups are not checked", NULL, 0);

    it_http_resp h;
    assert_int_equal(rest_c2c(s, "carol", "alice", &h), 403);
    assert_int_equal((int)it_jnum(h.json, "code", -1), 20009);
    it_http_resp_free(&h);
    assert_int_equal(rest_c2c(s, "bob", "alice", &h), 200);
    it_http_resp_free(&h);

    /* befriended: allowed; unfriended: refused again */
    add(s, "carol", "alice");
    it_send_text_ok(alice, "C2C", "carol", "now friends", NULL, 0);
    cJSON_Delete(it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/alice/contacts/users/carol"));
    r = it_send_text(carol, "C2C", "alice", "unfriended", NULL);
    it_assert_code(r, 20009);
    cJSON_Delete(r);

    /* the setting and the friendship survive a restart */
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    assert_int_equal(it_server_restart(s), 0);
    alice = it_login(s, "alice", NULL);
    it_send_text_ok(alice, "C2C", "bob", "after restart", NULL, 0);
    r = it_send_text(alice, "C2C", "carol", "after restart", NULL);
    it_assert_code(r, 20009);
    cJSON_Delete(r);

    set_friend_check(s, 0);
    it_send_text_ok(alice, "C2C", "carol", "off again", NULL, 0);
}

static void test_delete_user_removes_friends(void **state)
{
    it_server *s = *state;
    const char *users[] = {"alice", "bob", "carol", NULL};
    it_create_users(s, users);
    add(s, "alice", "bob");
    add(s, "carol", "bob");
    add(s, "alice", "carol");
    cJSON_Delete(it_rest(s, "DELETE", NULL, 200, "/demo/demo/users/bob"));
    char l[256];
    rest_list(s, "alice", l, sizeof l);
    assert_string_equal(l, "carol");
    rest_list(s, "carol", l, sizeof l);
    assert_string_equal(l, "alice");
    /* a new bob starts with no friends */
    it_create_user(s, "bob");
    rest_list(s, "bob", l, sizeof l);
    assert_string_equal(l, "");
}

int main(void)
{
    it_watchdog(300);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rest_and_ws_list, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_friend_check, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_delete_user_removes_friends, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_friends", tests);
}
