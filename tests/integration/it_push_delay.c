/*
 * it_push_delay.c — `--push-delay-ms` (docs/operations.md): pushed events may wait that
 * long on a connection so that several share one write, and nothing else changes. With
 * a long delay: pushes arrive complete and in seq order; an answer to the receiver's own
 * request writes the held pushes first (frame order on a connection never changes); a
 * group's members all get everything; a client that goes away while pushes are held
 * loses nothing (sync after reconnecting) and the server survives it (the sanitizer
 * build checks the freed connection is not touched); SIGTERM writes held pushes before
 * the `shutdown` event.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static int setup_delay(void **state)
{
    it_watchdog(120);
    static const char *const args[] = {"--push-delay-ms", "400", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

/* Reads w's frames in arrival order until the response to request id; returns how many
 * msg events came before it, checking their seqs run first_seq, first_seq + 1, ... */
static int msgs_before_response(it_ws *w, int64_t id, int first_seq)
{
    int n = 0;
    for (;;) {
        cJSON *m = it_ws_next(w, IT_WAIT_MS);
        if (!m)
            fail_msg("no response to request %lld", (long long)id);
        const char *ev = it_jstr(m, "ev");
        if (ev && !strcmp(ev, "msg")) {
            assert_int_equal((int)it_jnum(m, "data.seq", -1), first_seq + n);
            n++;
        } else if (!ev && (int64_t)it_jnum(m, "id", -1) == id) {
            assert_int_equal(it_code(m), 0);
            cJSON_Delete(m);
            return n;
        }
        cJSON_Delete(m);
    }
}

static void test_answer_writes_held_pushes_first(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    it_ws *alice = it_login(s, "alice", "a1");
    it_ws *bob = it_login(s, "bob", "b1");
    for (int i = 1; i <= 5; i++) {
        char t[16];
        snprintf(t, sizeof t, "m%d", i);
        assert_int_equal(it_send_text_ok(alice, "C2C", "bob", t, NULL, 0), i);
    }
    /* Let bob's loop take the pushes from its inbox; they are held (400 ms). */
    it_sleep_ms(50);
    int64_t id = it_ws_send_req(bob, "{\"op\":\"ping\"}");
    assert_true(id > 0);
    assert_int_equal(msgs_before_response(bob, id, 1), 5);

    /* Held pushes also go out by themselves when the delay ends. */
    assert_int_equal(it_send_text_ok(alice, "C2C", "bob", "m6", NULL, 0), 6);
    cJSON *m = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
    assert_non_null(m);
    assert_int_equal((int)it_jnum(m, "data.seq", -1), 6);
    cJSON_Delete(m);
    it_ws_free(alice);
    it_ws_free(bob);
}

static void test_group_members_get_everything_in_order(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"owner", "m1", "m2", "m3", NULL};
    it_create_users(s, u);
    static const char *const members[] = {"m1", "m2", "m3", NULL};
    it_create_group(s, "g1", "owner", members);
    it_ws *owner = it_login(s, "owner", "o1");
    it_ws *ms[3];
    for (int i = 0; i < 3; i++)
        ms[i] = it_login(s, members[i], "d1");
    for (int i = 1; i <= 30; i++) {
        char t[16];
        snprintf(t, sizeof t, "g%d", i);
        assert_int_equal(it_send_text_ok(owner, "GROUP", "g1", t, NULL, 0), i);
    }
    for (int k = 0; k < 3; k++) {
        for (int i = 1; i <= 30; i++) {
            cJSON *m = it_ws_wait_event(ms[k], "msg", IT_WAIT_MS);
            if (!m)
                fail_msg("%s: message %d missing", members[k], i);
            assert_int_equal((int)it_jnum(m, "data.seq", -1), i);
            cJSON_Delete(m);
        }
        it_ws_free(ms[k]);
    }
    it_ws_free(owner);
}

static void test_close_with_held_pushes(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    it_ws *alice = it_login(s, "alice", "a1");
    for (int round = 0; round < 5; round++) {
        it_ws *bob = it_login(s, "bob", "b1");
        for (int i = 0; i < 3; i++)
            assert_true(it_send_text_ok(alice, "C2C", "bob", "x", NULL, 0) > 0);
        it_ws_free(bob); /* gone while the server holds its pushes */
    }
    /* The server is fine, and bob catches up with sync. */
    assert_int_equal(it_send_text_ok(alice, "C2C", "bob", "last", NULL, 0), 16);
    it_ws *bob = it_login(s, "bob", "b2");
    cJSON *out = cJSON_CreateArray();
    char cursor[32];
    assert_true(it_sync_all(bob, "0", "{}", 100, out, cursor, sizeof cursor) >= 1);
    assert_int_equal(cJSON_GetArraySize(out), 16);
    cJSON_Delete(out);
    it_ws_free(bob);
    it_ws_free(alice);
}

static int setup_long_delay(void **state)
{
    it_watchdog(120);
    static const char *const args[] = {"--push-delay-ms", "5000", NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

static void test_shutdown_writes_held_pushes(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    it_ws *alice = it_login(s, "alice", "a1");
    it_ws *bob = it_login(s, "bob", "b1");
    assert_int_equal(it_send_text_ok(alice, "C2C", "bob", "one", NULL, 0), 1);
    assert_int_equal(it_send_text_ok(alice, "C2C", "bob", "two", NULL, 0), 2);
    it_sleep_ms(50);
    it_server_signal(s, SIGTERM);
    int seen = 0;
    for (;;) {
        cJSON *m = it_ws_next(bob, IT_WAIT_MS);
        if (!m)
            fail_msg("bob: no shutdown event (after %d messages)", seen);
        const char *ev = it_jstr(m, "ev");
        if (ev && !strcmp(ev, "msg")) {
            assert_int_equal((int)it_jnum(m, "data.seq", -1), ++seen);
        } else if (ev && !strcmp(ev, "shutdown")) {
            cJSON_Delete(m);
            break;
        }
        cJSON_Delete(m);
    }
    assert_int_equal(seen, 2);
    int code = 0;
    assert_int_equal(it_ws_expect_close(bob, IT_WAIT_MS, &code), 0);
    assert_int_equal(code, 1001);
    int st = 0;
    assert_int_equal(it_server_wait(s, 10000, &st), 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    it_ws_free(alice);
    it_ws_free(bob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answer_writes_held_pushes_first, setup_delay, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_group_members_get_everything_in_order, setup_delay, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_close_with_held_pushes, setup_delay, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_shutdown_writes_held_pushes, setup_long_delay, it_teardown_default),
    };
    return it_run_tests("it_push_delay", tests);
}
