/*
 * it_easemob_groups.c — Easemob-compatible group creation against a real ternd
 * (docs/rest-api.md "Groups"): POST /chatgroups with Easemob's fields, answered with
 * entities [] and data.groupid (generated or Tern's groupid); the fields kept and given
 * back by GET; unknown fields refused (1012), bad values 1003; maxusers enforced at
 * creation and when members are added (403 forbidden_op 1204, nobody added).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* A refused request with the app token. */
static void expect_code(it_server *s, const char *method, const char *path, const char *body, int status, int code)
{
    it_expect_error(s, method, path, it_app_token(s), body, status, code, NULL, NULL);
}

static void test_create_fields(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"owner1", "m1", "m2", "m3", "m4", NULL};
    it_create_users(s, u);
    /* Easemob's example body (no groupid): a numeric id is generated. */
    cJSON *j = it_rest(s, "POST",
                       "{\"groupname\":\"testgroup\",\"description\":\"test\",\"public\":true,\"maxusers\":3,"
                       "\"owner\":\"owner1\",\"members\":[\"m1\",\"m2\"],\"allowinvites\":false,"
                       "\"membersonly\":true,\"invite_need_confirm\":false,\"custom\":\"k=v\"}",
                       200, "/demo/demo/chatgroups");
    const char *gid = it_jstr(j, "data.groupid");
    assert_non_null(gid);
    assert_true(strspn(gid, "0123456789") == strlen(gid));
    assert_true(cJSON_IsArray(it_jget(j, "entities")) && cJSON_GetArraySize(it_jget(j, "entities")) == 0);
    assert_string_equal(it_jstr(j, "path"), "/chatgroups");
    char g[32];
    snprintf(g, sizeof g, "%s", gid);
    cJSON_Delete(j);

    /* GET gives back what it was created with. */
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/chatgroups/%s", g);
    assert_string_equal(it_jstr(j, "data.groupname"), "testgroup");
    assert_string_equal(it_jstr(j, "data.description"), "test");
    assert_string_equal(it_jstr(j, "data.owner"), "owner1");
    assert_true(cJSON_IsTrue(it_jget(j, "data.public")));
    assert_int_equal((int)it_jnum(j, "data.maxusers", -1), 3);
    assert_true(cJSON_IsFalse(it_jget(j, "data.allowinvites")));
    assert_true(cJSON_IsTrue(it_jget(j, "data.membersonly")));
    assert_true(cJSON_IsFalse(it_jget(j, "data.invite_need_confirm")));
    assert_string_equal(it_jstr(j, "data.custom"), "k=v");
    assert_int_equal((int)it_jnum(j, "data.affiliations_count", -1), 3);
    cJSON_Delete(j);

    /* maxusers 3 is reached: adding anyone, one or in a batch, is 403 1204 and adds no one. */
    char path[128];
    snprintf(path, sizeof path, "/demo/demo/chatgroups/%s/users/m3", g);
    expect_code(s, "POST", path, NULL, 403, 1204);
    snprintf(path, sizeof path, "/demo/demo/chatgroups/%s/users", g);
    expect_code(s, "POST", path, "{\"usernames\":[\"m3\",\"m4\"]}", 403, 1204);
    /* Re-adding a member is no growth. */
    j = it_rest(s, "POST", "{\"usernames\":[\"m1\"]}", 200, "/demo/demo/chatgroups/%s/users", g);
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/chatgroups/%s", g);
    assert_int_equal((int)it_jnum(j, "data.affiliations_count", -1), 3);
    cJSON_Delete(j);
    /* After one leaves, one fits again. */
    cJSON_Delete(it_rest(s, "DELETE", NULL, 200, "/demo/demo/chatgroups/%s/users/m2", g));
    cJSON_Delete(it_rest(s, "POST", NULL, 200, "/demo/demo/chatgroups/%s/users/m3", g));

    /* Tern's groupid; defaults: description "", public false, maxusers 200. */
    j = it_rest(s, "POST", "{\"groupid\":\"team\",\"groupname\":\"Team\",\"owner\":\"owner1\"}", 200,
                "/demo/demo/chatgroups");
    assert_string_equal(it_jstr(j, "data.groupid"), "team");
    cJSON_Delete(j);
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/chatgroups/team");
    assert_string_equal(it_jstr(j, "data.description"), "");
    assert_true(cJSON_IsFalse(it_jget(j, "data.public")));
    assert_int_equal((int)it_jnum(j, "data.maxusers", -1), 200);
    assert_null(it_jget(j, "data.custom"));
    cJSON_Delete(j);
}

static void test_create_errors(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"o", "a", "b", NULL};
    it_create_users(s, u);
    static const struct {
        const char *body;
        int status, code;
    } cases[] = {
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"color\":\"red\"}", 400, 1012},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"public\":\"yes\"}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"maxusers\":0}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"maxusers\":2.5}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"maxusers\":100001}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"maxusers\":1e300}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"maxusers\":-1e300}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"membersonly\":1}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"custom\":7}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"description\":false}", 400, 1003},
        {"{\"groupname\":\"x\"}", 400, 1003},
        {"{\"owner\":\"o\"}", 400, 1003},
        {"{\"groupname\":\"x\",\"owner\":\"o\",\"members\":[\"a\",\"b\"],\"maxusers\":2}", 403, 1204},
        {"{\"groupname\":\"x\",\"owner\":\"ghost\"}", 404, 20003},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_code(s, "POST", "/demo/demo/chatgroups", cases[i].body, cases[i].status, cases[i].code);
    /* Length limits: groupname 128, description 512, custom 1024, members 100. */
    char body[4096];
    snprintf(body, sizeof body, "{\"groupname\":\"%0129d\",\"owner\":\"o\"}", 0);
    expect_code(s, "POST", "/demo/demo/chatgroups", body, 400, 1003);
    snprintf(body, sizeof body, "{\"groupname\":\"x\",\"owner\":\"o\",\"description\":\"%0513d\"}", 0);
    expect_code(s, "POST", "/demo/demo/chatgroups", body, 400, 1003);
    snprintf(body, sizeof body, "{\"groupname\":\"x\",\"owner\":\"o\",\"custom\":\"%01025d\"}", 0);
    expect_code(s, "POST", "/demo/demo/chatgroups", body, 400, 1003);
    int k = snprintf(body, sizeof body, "{\"groupname\":\"x\",\"owner\":\"o\",\"members\":[");
    for (int i = 0; i < 101; i++)
        k += snprintf(body + k, sizeof body - (size_t)k, "%s\"u%d\"", i ? "," : "", i);
    snprintf(body + k, sizeof body - (size_t)k, "]}");
    expect_code(s, "POST", "/demo/demo/chatgroups", body, 400, 1203);
    /* At the limits it is fine, and the owner listed among members counts once. */
    snprintf(body, sizeof body,
             "{\"groupname\":\"%0128d\",\"owner\":\"o\",\"description\":\"%0512d\",\"members\":[\"o\",\"a\"],"
             "\"maxusers\":2}",
             0, 0);
    cJSON_Delete(it_rest(s, "POST", body, 200, "/demo/demo/chatgroups"));
}

int main(void)
{
    it_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_fields, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_create_errors, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_easemob_groups", tests);
}
