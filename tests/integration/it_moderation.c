/* it_moderation.c — keyword moderation against the real ternd (issue 10):
 *   - the keyword list over REST: GET/PUT/POST/DELETE /{org}/{app}/moderation/keywords,
 *     folded to lower case, bad keywords 1003, the 10000 bound 1050 (nothing changes);
 *   - a message whose text, custom description or cloudCustomData holds a keyword is
 *     refused with 80001 (ASCII case ignored, UTF-8 keywords), others pass;
 *   - messageControlInfo.excludedFromContentModeration and the app setting
 *     moderation "off" let it through;
 *   - the list survives a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static cJSON *send_msg(it_ws *w, const char *type, const char *payload, const char *extra)
{
    return it_ws_request(w,
                         "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"%s\","
                         "\"payload\":%s%s}}",
                         type, payload, extra ? extra : "");
}

static void expect_send(it_ws *w, const char *type, const char *payload, const char *extra, int code)
{
    cJSON *r = send_msg(w, type, payload, extra);
    if (it_code(r) != code)
        fail_msg("send %s %s%s: wanted %d, got %s", type, payload, extra ? extra : "", code, it_jshow(r));
    cJSON_Delete(r);
}

static int list_count(it_server *s)
{
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/moderation/keywords");
    int n = (int)it_jnum(j, "data.count", -1);
    assert_int_equal(cJSON_GetArraySize(it_jget(j, "data.keywords")), n);
    assert_int_equal((int)it_jnum(j, "data.max", -1), 10000);
    cJSON_Delete(j);
    return n;
}

static void test_keywords(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", NULL});
    it_ws *a = it_login(s, "alice", "a1");
    /* No list: anything goes, and the list is empty. */
    assert_int_equal(list_count(s), 0);
    expect_send(a, "TIMTextElem", "{\"text\":\"buy spam now\"}", NULL, 0);

    cJSON *j = it_rest(s, "PUT", "{\"keywords\":[\"Spam\",\"违禁\",\"bad word\"]}", 200,
                       "/demo/demo/moderation/keywords");
    assert_int_equal((int)it_jnum(j, "data.count", -1), 3);
    const cJSON *k = it_jget(j, "data.keywords");
    assert_string_equal(cJSON_GetArrayItem(k, 0)->valuestring, "bad word");
    assert_string_equal(cJSON_GetArrayItem(k, 1)->valuestring, "spam"); /* folded */
    cJSON_Delete(j);

    expect_send(a, "TIMTextElem", "{\"text\":\"buy SPAM now\"}", NULL, 80001);
    expect_send(a, "TIMTextElem", "{\"text\":\"这是违禁内容\"}", NULL, 80001);
    expect_send(a, "TIMTextElem", "{\"text\":\"a Bad Word here\"}", NULL, 80001);
    expect_send(a, "TIMTextElem", "{\"text\":\"spa m, bad  word\"}", NULL, 0);
    expect_send(a, "TIMCustomElem", "{\"data\":\"x\",\"description\":\"SPAM offer\",\"extension\":\"\"}", NULL, 80001);
    expect_send(a, "TIMCustomElem", "{\"data\":\"spam\",\"description\":\"\",\"extension\":\"\"}", NULL, 80001);
    expect_send(a, "TIMTextElem", "{\"text\":\"hello\"}", ",\"cloudCustomData\":\"spam inside\"", 80001);
    expect_send(a, "TIMLocationElem", "{\"description\":\"spam street\",\"longitude\":1,\"latitude\":2}", NULL,
                80001);
    expect_send(a, "TIMTextElem", "{\"text\":\"hello\"}", NULL, 0);

    /* excludedFromContentModeration lets it through. */
    cJSON *r = it_ws_request(a, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\","
                                "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"spam but excluded\"}},"
                                "\"options\":{\"messageControlInfo\":{\"excludedFromContentModeration\":true}}}");
    it_assert_code(r, 0);
    cJSON_Delete(r);

    /* REST sends are moderated too. */
    it_expect_error(s, "POST", "/demo/demo/messages/users", it_app_token(s),
                    "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"spam via REST\"}}", 400,
                    80001, "content_moderation", NULL);

    /* POST adds, DELETE removes; bad keywords are 1003. */
    j = it_rest(s, "POST", "{\"keywords\":[\"extra\",\"SPAM\"]}", 200, "/demo/demo/moderation/keywords");
    assert_int_equal((int)it_jnum(j, "data.count", -1), 4);
    cJSON_Delete(j);
    expect_send(a, "TIMTextElem", "{\"text\":\"EXTRA\"}", NULL, 80001);
    j = it_rest(s, "DELETE", "{\"keywords\":[\"Extra\",\"spam\",\"absent\"]}", 200, "/demo/demo/moderation/keywords");
    assert_int_equal((int)it_jnum(j, "data.count", -1), 2);
    cJSON_Delete(j);
    expect_send(a, "TIMTextElem", "{\"text\":\"spam and extra are fine now\"}", NULL, 0);
    const char *bad[] = {"{\"keywords\":[\"\"]}", "{\"keywords\":[1]}", "{\"keywords\":\"x\"}", "{\"words\":[\"x\"]}",
                         "{\"keywords\":[\"x\"],\"more\":1}", "{\"keywords\":[\"a\\u0001b\"]}",
                         "{\"keywords\":[\"01234567890123456789012345678901234567890123456789012345678901234\"]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        it_expect_error(s, "POST", "/demo/demo/moderation/keywords", it_app_token(s), bad[i], 400, 1003, NULL, NULL);
    char utok[1024];
    it_user_token(s, "alice", utok, sizeof utok);
    it_expect_error(s, "GET", "/demo/demo/moderation/keywords", utok, NULL, 401, 0, NULL, NULL);
    assert_int_equal(list_count(s), 2);

    /* The app setting moderation "off" stops it; null puts it back on. */
    cJSON_Delete(it_rest(s, "PUT", "{\"moderation\":\"off\"}", 200, "/demo/demo/settings"));
    expect_send(a, "TIMTextElem", "{\"text\":\"违禁 while off\"}", NULL, 0);
    it_expect_error(s, "PUT", "/demo/demo/settings", it_app_token(s), "{\"moderation\":\"maybe\"}", 400, 1003, NULL,
                    NULL);
    cJSON_Delete(it_rest(s, "PUT", "{\"moderation\":null}", 200, "/demo/demo/settings"));
    expect_send(a, "TIMTextElem", "{\"text\":\"违禁 again\"}", NULL, 80001);
    it_ws_free(a);

    /* The list survives a restart. */
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    assert_int_equal(it_server_restart(s), 0);
    a = it_login(s, "alice", "a2");
    expect_send(a, "TIMTextElem", "{\"text\":\"BAD WORD after restart\"}", NULL, 80001);
    expect_send(a, "TIMTextElem", "{\"text\":\"fine after restart\"}", NULL, 0);
    it_ws_free(a);
}

/* The bound: 10000 keywords fit (and still match), one more is 1050 and nothing changes. */
static void test_bound(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", NULL});
    size_t cap = 10000 * 16 + 64;
    char *body = malloc(cap);
    size_t n = (size_t)snprintf(body, cap, "{\"keywords\":[");
    for (int i = 0; i < 10000; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s\"kw%05d\"", i ? "," : "", i);
    snprintf(body + n, cap - n, "]}");
    cJSON *j = it_rest(s, "PUT", body, 200, "/demo/demo/moderation/keywords");
    assert_int_equal((int)it_jnum(j, "data.count", -1), 10000);
    cJSON_Delete(j);
    free(body);
    it_expect_error(s, "POST", "/demo/demo/moderation/keywords", it_app_token(s),
                    "{\"keywords\":[\"one-more\",\"kw00001\"]}", 400, 1050, NULL, NULL);
    assert_int_equal(list_count(s), 10000);
    it_ws *a = it_login(s, "alice", "a1");
    expect_send(a, "TIMTextElem", "{\"text\":\"xx KW09999 yy\"}", NULL, 80001);
    expect_send(a, "TIMTextElem", "{\"text\":\"kw1000 kw 00001\"}", NULL, 0);
    it_ws_free(a);
    /* PUT [] empties the list. */
    cJSON_Delete(it_rest(s, "PUT", "{\"keywords\":[]}", 200, "/demo/demo/moderation/keywords"));
    assert_int_equal(list_count(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keywords, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_bound, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_moderation", tests);
}
