/*
 * it_cli_out.c — the `tern` CLI as people and scripts see it, run as a real process
 * (TERN_CLI) against a real ternd: the human output of conversations, history, send and
 * users (a table row, a local time, the unread count, in colour only on a terminal and
 * never with NO_COLOR), --json (every line one JSON object), listen --since CURSOR (catch
 * up, then the cursor on stderr so the next run neither misses nor repeats), -v with the
 * secrets redacted, the error texts that name what failed, and chat --to/--group
 * someone who does not exist exiting non-zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "it_cli.h"

static void seed(it_server *s)
{
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    static const char *const m[] = {"bob", NULL};
    it_create_group(s, "team", "alice", m);
}

static void test_human_and_json(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(cli(s, out, "send --user alice --to bob --text 'hello bob'"), 0);
    assert_match(out, "^sent to C2Cbob at [0-9]{2}:[0-9]{2}: seq 1, msgId [0-9]+$");
    assert_int_equal(cli(s, out, "send --user alice --to bob --text 'second line'"), 0);
    assert_int_equal(cli(s, out, "send --user alice --group team --text 'hi team'"), 0);

    /* conversations: a header, aligned rows, today's time as HH:MM, the unread count. */
    assert_int_equal(cli(s, out, "conversations --user bob"), 0);
    assert_match(out, "^CONVERSATION +TYPE +UNREAD +TIME +LAST MESSAGE$");
    assert_match(out, "^C2Calice +c2c +2  [0-9]{2}:[0-9]{2}  alice: second line$");
    assert_match(out, "^GROUPteam +group +1  [0-9]{2}:[0-9]{2}  alice: hi team$");
    assert_null(strchr(out, '\033')); /* not a terminal: no colour */
    assert_null(strchr(out, '{'));
    /* The columns line up: UNREAD ends where every count ends. */
    const char *hdr = strstr(out, "UNREAD"), *row = strstr(out, "\nC2Calice");
    assert_non_null(hdr);
    assert_non_null(row);
    const char *row2 = strstr(out, "\nGROUPteam");
    assert_non_null(row2);
    assert_int_equal(strstr(row + 1, " 2  ") + 1 - (row + 1), (hdr + 5) - out);
    assert_int_equal(strstr(row2 + 1, " 1  ") + 1 - (row2 + 1), (hdr + 5) - out);

    /* history: oldest first, in the look of chat. */
    assert_int_equal(cli(s, out, "history --user bob --conv C2Calice"), 0);
    assert_match(out, "^\\[[0-9]{2}:[0-9]{2}\\] alice: hello bob\n\\[[0-9]{2}:[0-9]{2}\\] alice: second line$");

    /* users: a table with local times. */
    assert_int_equal(cli(s, out, "users list"), 0);
    assert_match(out, "^USERNAME +(NICKNAME +)?CREATED"); /* Easemob's entities carry a nickname */
    assert_match(out, "^alice +[0-9]{2}:[0-9]{2}");
    assert_match(out, "^bob +[0-9]{2}:[0-9]{2}");

    /* --json: every line one object, for every command. */
    assert_int_equal(cli(s, out, "--json conversations --user bob 2>/dev/null"), 0);
    assert_int_equal(json_lines(out), 2);
    assert_non_null(strstr(out, "\"unreadCount\":2"));
    assert_int_equal(cli(s, out, "history --json --user bob --conv C2Calice 2>/dev/null"), 0);
    assert_int_equal(json_lines(out), 2);
    assert_true(strstr(out, "hello bob") < strstr(out, "second line"));
    assert_int_equal(cli(s, out, "users list --json 2>/dev/null"), 0);
    assert_int_equal(json_lines(out), 2);
    assert_int_equal(cli(s, out, "users get bob --json 2>/dev/null"), 0);
    assert_int_equal(json_lines(out), 1);
    assert_int_equal(cli(s, out, "send --json --user bob --to alice --text yo 2>/dev/null"), 0);
    assert_int_equal(json_lines(out), 1);
    assert_non_null(strstr(out, "\"conversationID\":\"C2Calice\""));
    assert_int_equal(cli(s, out, "listen --json --user alice --timeout 2 2>/dev/null"), 0);
    (void)json_lines(out);

    /* Text from the network cannot drive the terminal: ESC shows as ^[. */
    assert_int_equal(cli(s, out, "send --user alice --to bob --text \"$(printf 'x\\033[2Jred\\tz')\" >/dev/null"), 0);
    assert_int_equal(cli(s, out, "history --user bob --conv C2Calice --limit 1"), 0);
    assert_match(out, "alice: x\\^\\[\\[2Jred\tz$");
    assert_null(strchr(out, '\033'));
}

/* On a terminal (script(1) gives the CLI a pty) the unread count stands out; with
 * NO_COLOR set it does not. */
static void test_colour_on_terminal(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    if (system("command -v script >/dev/null 2>&1") != 0)
        skip();
    seed(s);
    assert_int_equal(cli(s, out, "send --user alice --to bob --text hi"), 0);
    char inner[1024];
    snprintf(inner, sizeof inner, "script -qec \"$TERN_CLI_BIN conversations --user bob\" /dev/null");
    assert_int_equal(clish(s, out, "%s", inner), 0);
    assert_non_null(strstr(out, "\033[1;33m1\033[0m"));
    assert_int_equal(clish(s, out, "NO_COLOR=1 %s", inner), 0);
    assert_non_null(strstr(out, "C2Calice"));
    assert_null(strchr(out, '\033'));
}

static void test_listen_since(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    char cur[32], cur2[32];
    seed(s);
    /* A first run ends with the cursor. */
    assert_int_equal(cli(s, out, "listen --user bob --timeout 1"), 0);
    const char *c = strstr(out, "cursor: ");
    assert_non_null(c);
    assert_int_equal(sscanf(c, "cursor: %31[0-9]", cur), 1);
    /* Missed while not listening. */
    assert_int_equal(cli(s, out, "send --user alice --to bob --text 'missed one'"), 0);
    assert_int_equal(cli(s, out, "send --user alice --group team --text 'missed two'"), 0);
    assert_int_equal(cli(s, out, "listen --user bob --since %s --count 2 --timeout 10", cur), 0);
    assert_match(out, "^\\[[0-9]{2}:[0-9]{2}\\] \\(C2Calice\\) alice: missed one$");
    assert_match(out, "^\\[[0-9]{2}:[0-9]{2}\\] \\(GROUPteam\\) alice: missed two$");
    c = strstr(out, "cursor: ");
    assert_non_null(c);
    assert_int_equal(sscanf(c, "cursor: %31[0-9]", cur2), 1);
    assert_true(it_msgid_cmp(cur2, cur) > 0);
    /* A message that comes live, then the next run from the cursor: not repeated. */
    assert_int_equal(cli(s, out,
                         "listen --user bob --since %s --timeout 4 & sleep 1.5; \"$TERN_CLI_BIN\" send --user alice "
                         "--to bob --text 'live one' >/dev/null; wait $!",
                         cur2),
                     0);
    assert_match(out, "^\\[[0-9]{2}:[0-9]{2}\\] \\(C2Calice\\) alice: live one$");
    assert_null(strstr(out, "missed"));
    c = strstr(out, "cursor: ");
    assert_non_null(c);
    assert_int_equal(sscanf(c, "cursor: %31[0-9]", cur), 1);
    assert_int_equal(cli(s, out, "listen --user bob --since %s --timeout 1", cur), 0);
    assert_null(strstr(out, "alice:"));
    /* --help says what --since does; a malformed cursor is a usage error. */
    assert_int_equal(cli(s, out, "listen --help"), 0);
    assert_non_null(strstr(out, "--since CURSOR"));
    assert_non_null(strstr(out, "cursor: <id>"));
    assert_int_equal(cli(s, out, "listen --user bob --since C2Cbob"), 2);
    assert_non_null(strstr(out, "--since"));
}

static void test_verbose_redacts(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(cli(s, out, "-v users get alice"), 0);
    assert_non_null(strstr(out, "POST http://127.0.0.1"));
    assert_non_null(strstr(out, "/token"));
    assert_non_null(strstr(out, "\"client_secret\":\"***\""));
    assert_non_null(strstr(out, "\"access_token\":\"***\""));
    assert_null(strstr(out, s->client_secret));
    assert_non_null(strstr(out, "Bearer ***"));
    /* A user token fetched for a WebSocket command: the same. */
    assert_int_equal(cli(s, out, "-v conversations --user alice"), 0);
    assert_non_null(strstr(out, "/users/alice/token"));
    assert_null(strstr(out, s->client_secret));
    /* A token minted locally says so without the secret. */
    assert_int_equal(cli(s, out, "-v token bob --secret %s", s->client_secret), 0);
    assert_non_null(strstr(out, "secret ***"));
    assert_null(strstr(out, s->client_secret));
}

static void test_errors_name_the_thing(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(cli(s, out, "users get bobby"), 1);
    assert_non_null(strstr(out, "user 'bobby' not found"));
    assert_int_equal(cli(s, out, "send --user alice --to bobby --text hi"), 1);
    assert_non_null(strstr(out, "user 'bobby' not found"));
    assert_int_equal(cli(s, out, "listen --user bobby --timeout 2"), 1);
    assert_non_null(strstr(out, "user 'bobby' not found"));
    assert_int_equal(cli(s, out, "groups get nogroup"), 1);
    assert_non_null(strstr(out, "group 'nogroup' not found"));
    assert_int_equal(cli(s, out, "history --user bob --conv bob"), 2);
    assert_non_null(strstr(out, "conversation ids look like C2Cbob or GROUPg1"));
    assert_int_equal(cli(s, out, "history --user bob --conv GROUPnogroup"), 1);
    assert_non_null(strstr(out, "group 'nogroup' not found"));
}

static void test_chat_nobody_fails(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    /* With app credentials the user is checked before the chat starts. */
    assert_int_equal(cli(s, out, "chat --user alice --to bobby </dev/null"), 1);
    assert_non_null(strstr(out, "user 'bobby' not found"));
    /* With a user token only, the first line's answer ends the chat. */
    char tok[512];
    it_user_token(s, "alice", tok, sizeof tok);
    assert_int_equal(clish(s, out,
                           "env -u TERN_CLIENT_ID -u TERN_CLIENT_SECRET \"$TERN_CLI_BIN\" chat "
                           "--user alice --token %s --to bobby <<'EOF'\nhi\nstill there?\nEOF",
                           tok),
                     1);
    assert_non_null(strstr(out, "user 'bobby' not found"));
    assert_int_equal(cli(s, out, "chat --user alice --group nogroup </dev/null"), 1);
    assert_non_null(strstr(out, "group 'nogroup' not found"));
    /* And a chat with someone who exists exits 0. */
    assert_int_equal(cli(s, out, "chat --user alice --to bob <<'EOF'\nhello\nEOF"), 0);
}

/* chat (and listen) say when they have reconnected: the server is killed and started
 * again on the same port under them. */
static void test_chat_says_reconnected(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    char dir[] = "/tmp/it_cli_chatXXXXXX";
    seed(s);
    assert_non_null(mkdtemp(dir));
    assert_int_equal(clish(s, out,
                           "( { sleep 12; echo /quit; } | \"$TERN_CLI_BIN\" chat --user bob --to alice ) "
                           ">%s/chat.txt 2>&1 & \"$TERN_CLI_BIN\" listen --user alice --timeout 12 "
                           ">%s/listen.txt 2>&1 &",
                           dir, dir),
                     0);
    it_sleep_ms(2000);
    it_server_kill9(s);
    assert_int_equal(it_server_restart_same_port(s), 0);
    char path[300], cmd[400];
    snprintf(path, sizeof path, "%s/chat.txt", dir);
    int64_t until = it_now_ms() + 20000;
    int done = 0;
    while (!done && it_now_ms() < until) {
        it_sleep_ms(500);
        snprintf(cmd, sizeof cmd, "cat %s", path);
        it_run_capture(cmd, out, OUT_MAX);
        done = strstr(out, "* reconnected") != NULL;
    }
    if (!done)
        fail_msg("no reconnect notice: %s", out);
    assert_non_null(strstr(out, "* reconnecting (attempt 1)"));
    snprintf(cmd, sizeof cmd, "cat %s/listen.txt", dir); /* listen says so too */
    done = 0;
    while (!done && it_now_ms() < until) {
        it_run_capture(cmd, out, OUT_MAX);
        done = strstr(out, "* reconnected") != NULL;
        if (!done)
            it_sleep_ms(500);
    }
    if (!done)
        fail_msg("no reconnect notice from listen: %s", out);
    snprintf(cmd, sizeof cmd, "sleep 12; rm -rf %s", dir); /* chat and listen end by themselves */
    it_run_capture(cmd, out, OUT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_human_and_json, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_colour_on_terminal, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_listen_since, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_verbose_redacts, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_errors_name_the_thing, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_chat_nobody_fails, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_chat_says_reconnected, it_setup_default, it_teardown_default),
    };
    it_watchdog(280);
    return it_run_tests("it_cli_out", tests);
}
