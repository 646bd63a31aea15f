/*
 * it_cli_stream.c — `tern stream` and the live rendering of streams in `tern listen`
 * and `tern chat`, the real binaries against a real ternd: lines piped in become one
 * streamed message whose history has the whole text once; --bytes never splits a UTF-8
 * character; --markdown and --finish-reason reach the message; empty input is one empty
 * finished message; --to streams one-to-one; the app's rate limit (shortened) is waited
 * out with every chunk kept; a stdin silent past the chunk interval (shortened) ends
 * with the server's error and exit 1; listen and chat into a pipe print the message
 * once, whole, and --json one object per stream event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* user's history of conv holds exactly one message with this text (and no other message
 * containing it), a finished stream; returns its message object (caller frees). */
static cJSON *history_has_once(it_server *s, const char *user, const char *conv, const char *text)
{
    it_ws *w = it_login(s, user, "check");
    cJSON *h = it_ws_request(w, "{\"op\":\"history\",\"conversationID\":\"%s\",\"limit\":50}", conv);
    it_assert_code(h, 0);
    cJSON *found = NULL;
    int exact = 0, other = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, it_jget(h, "data.messages"))
    {
        const char *t = it_jstr(it, "payload.text");
        if (t && !strcmp(t, text)) {
            exact++;
            cJSON_Delete(found);
            found = cJSON_Duplicate(it, 1);
        } else if (t && *text && strstr(t, text)) {
            other++;
        }
    }
    if (exact != 1 || other != 0)
        fail_msg("%s: wanted the text once, in one message; got %d + %d: %s", conv, exact, other, it_jshow(h));
    const char *state = it_jstr(found, "stream.state");
    if (!state || strcmp(state, "finished"))
        fail_msg("not a finished stream: %s", it_jshow(found));
    cJSON_Delete(h);
    it_ws_free(w);
    return found;
}

static void test_stream_lines(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(clish(s, out,
                           "{ echo 'first line'; sleep 0.3; echo 'second line'; sleep 0.3; printf 'no newline'; } | "
                           "\"$TERN_CLI_BIN\" -v stream --group team --from bot"),
                     0);
    assert_match(out, "^[0-9]+$"); /* the msgId on stdout */
    /* One request per line, seq 0, 1, 2, the last one finishing; -v shows each answer. */
    assert_non_null(strstr(out, "\"msg\":\"first line\",\"seq\":0}"));
    assert_non_null(strstr(out, "\"msg\":\"\\nsecond line\",\"seq\":1,\"msgId\""));
    assert_non_null(strstr(out, "\"msg\":\"\\nno newline\",\"seq\":2,\"finish\":true"));
    assert_int_equal(matches(out, "^< HTTP 200 .*\"msgId\""), 1);
    cJSON *m = history_has_once(s, "bob", "GROUPteam", "first line\nsecond line\nno newline");
    assert_string_equal(it_jstr(m, "from"), "bot");
    assert_string_equal(it_jstr(m, "stream.format"), "text");
    cJSON_Delete(m);
}

static void test_stream_bytes_utf8(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    /* 2-byte, 3-byte and 4-byte characters: with --bytes 2 or 3 a chunk ending inside
     * one would be invalid UTF-8, refused by the server or turned into U+FFFD. */
    const char *text = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xF0\x9F\x98\x80!";
    static const char *const to[] = {"r1", "r2", "r3", NULL};
    it_create_users(s, to);
    for (int n = 1; n <= 3; n++) { /* one recipient per size: each history holds one copy */
        assert_int_equal(clish(s, out, "printf '%s' | \"$TERN_CLI_BIN\" stream --bytes %d --to %s --from alice --json",
                               text, n, to[n - 1]),
                         0);
        assert_int_equal(json_lines(out), 1);
        assert_non_null(strstr(out, "\"chunks\":"));
        cJSON *m = history_has_once(s, to[n - 1], "C2Calice", text);
        cJSON_Delete(m);
    }
    assert_int_equal(clish(s, out, "printf abc | \"$TERN_CLI_BIN\" stream --bytes 0 --group team --from bot"), 0);
    assert_int_equal(clish(s, out, "printf abc | \"$TERN_CLI_BIN\" stream --bytes 70000 --group team --from bot"), 2);
    assert_non_null(strstr(out, "--bytes"));
}

static void test_stream_markdown_reason_empty(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(clish(s, out,
                           "printf '# Title\\n\\n* item\\n' | \"$TERN_CLI_BIN\" stream --group team --from bot "
                           "--markdown --finish-reason 7"),
                     0);
    cJSON *m = history_has_once(s, "bob", "GROUPteam", "# Title\n\n* item");
    assert_string_equal(it_jstr(m, "stream.format"), "markdown");
    assert_int_equal((int)it_jnum(m, "stream.finishReason", -1), 7);
    cJSON_Delete(m);
    /* Nothing on stdin: one chunk, seq 0, finish, msg "". */
    assert_int_equal(clish(s, out, "\"$TERN_CLI_BIN\" -v stream --group team --from bot </dev/null"), 0);
    assert_non_null(strstr(out, "\"body\":{\"msg\":\"\",\"seq\":0,\"finish\":true}"));
    /* Usage errors. */
    assert_int_equal(cli(s, out, "stream --group team </dev/null"), 2);
    assert_non_null(strstr(out, "--from"));
    assert_int_equal(cli(s, out, "stream --group team --to bob --from x </dev/null"), 2);
}

/* The app's chunk rate shortened to 5/s: 15 lines at once are all sent (the 429s are
 * waited out), and the message holds every line once. */
static void test_stream_rate_limited(void **state)
{
    static const char *const args[] = {"--stream-rate", "5", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    *state = s;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(clish(s, out, "seq 1 15 | \"$TERN_CLI_BIN\" stream --group team --from bot"), 0);
    cJSON *m = history_has_once(s, "bob", "GROUPteam", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15");
    cJSON_Delete(m);
}

/* A writer silent past the chunk interval (shortened to 1 s): the server ends the stream,
 * tern prints the server's error and exits 1; the text so far stays in history. */
static void test_stream_idle_ends(void **state)
{
    static const char *const args[] = {"--stream-interval-ms", "1000", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    *state = s;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(clish(s, out,
                           "{ echo 'before the pause'; sleep 3; echo 'too late'; } | \"$TERN_CLI_BIN\" stream "
                           "--group team --from bot"),
                     1);
    assert_match(out, "^error 1403[0-9]: stream message");
    it_ws *b = it_login(s, "bob", "check");
    cJSON *h = it_ws_request(b, "{\"op\":\"history\",\"conversationID\":\"GROUPteam\"}");
    it_assert_code(h, 0);
    assert_string_equal(it_jstr(h, "data.messages.0.payload.text"), "before the pause");
    assert_string_equal(it_jstr(h, "data.messages.0.stream.state"), "ended");
    cJSON_Delete(h);
    it_ws_free(b);
}

/* listen into a pipe: the stream is one line, printed once when it finishes; with --json
 * one object per event, the chunks adding up to the text. */
static void test_listen_renders_stream(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(
        clish(s, out,
              "T=$(mktemp -d); \"$TERN_CLI_BIN\" listen --user bob --count 1 --timeout 20 > $T/l.txt 2>&1 & "
              "\"$TERN_CLI_BIN\" listen --json --user bob --count 1 --timeout 20 > $T/l.json 2>/dev/null & "
              "sleep 1.5; { echo 'one'; sleep 0.3; echo 'two'; sleep 0.3; echo 'three'; } | "
              "\"$TERN_CLI_BIN\" stream --group team --from bot >/dev/null; wait; cat $T/l.txt; "
              "echo ===; cat $T/l.json; rm -rf $T"),
        0);
    char *json = strstr(out, "===\n");
    assert_non_null(json);
    *json = 0;
    json += 4;
    /* Human: the whole message once, then the cursor. */
    assert_match(out, "^\\[[0-9]{2}:[0-9]{2}\\] \\(GROUPteam\\) bot: \\[stream\\] one\n    two\n    three$");
    assert_null(strstr(strstr(out, "three") + 1, "three"));
    assert_non_null(strstr(out, "cursor: "));
    /* JSON: started, chunks, finished, each a line, in order. */
    assert_true(json_lines(json) >= 2);
    const char *st = strstr(json, "\"ev\":\"stream_started\""), *fin = strstr(json, "\"ev\":\"stream_finished\"");
    assert_non_null(st);
    assert_non_null(fin);
    assert_true(st < fin);
    assert_non_null(strstr(fin, "\"state\":\"finished\""));
}

/* chat into a pipe shows the stream once, whole, in its look. */
static void test_chat_renders_stream(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    seed(s);
    assert_int_equal(
        clish(s, out,
              "T=$(mktemp -d); { sleep 4; echo /quit; } | \"$TERN_CLI_BIN\" chat --user bob --group team "
              "> $T/c.txt 2>&1 & sleep 1.5; { echo 'alpha'; sleep 0.3; echo 'beta'; } | "
              "\"$TERN_CLI_BIN\" stream --group team --from bot --markdown >/dev/null; wait; cat $T/c.txt; "
              "rm -rf $T"),
        0);
    assert_match(out, "^\\[[0-9]{2}:[0-9]{2}\\] bot: \\[markdown\\] alpha\n    beta$");
}

/* On a terminal (script(1) gives listen a pty) the stream's line grows in place: mid-way
 * the screen holds its first chunk with no newline after it. A message that arrives
 * meanwhile ends that line; the stream goes on in a continuation line ("bot: [stream] …"). */
static void test_listen_terminal_grows(void **state)
{
    it_server *s = *state;
    static char out[OUT_MAX];
    if (system("command -v script >/dev/null 2>&1") != 0)
        skip();
    seed(s);
    assert_int_equal(
        clish(
            s, out,
            "T=$(mktemp -d); script -qfec \"$TERN_CLI_BIN listen --user bob --timeout 7\" /dev/null > $T/t.txt 2>&1 & "
            "sleep 1.5; { echo 'one'; sleep 1.5; cp $T/t.txt $T/mid.txt; "
            "\"$TERN_CLI_BIN\" send --user alice --group team --text meanwhile >/dev/null; sleep 0.5; echo 'two'; } | "
            "\"$TERN_CLI_BIN\" stream --group team --from bot >/dev/null; wait; tr -d '\\r' < $T/mid.txt; echo "
            "'<END>'; "
            "tr -d '\\r' < $T/t.txt; rm -rf $T"),
        0);
    char *end = strstr(out, "<END>\n");
    assert_non_null(end);
    *end = 0;
    const char *whole = end + 6;
    /* Mid-way: the prefix and the first chunk, the line still open. */
    assert_non_null(strstr(out, "(GROUPteam) \033[36mbot\033[0m: [stream] one"));
    assert_true(strlen(out) >= 3 && !strcmp(out + strlen(out) - 3, "one"));
    /* At the end: the line was ended for the other message, then continued. */
    assert_match(whole, "\\[stream\\] one$");
    assert_match(whole, "alice.*: meanwhile$");
    assert_match(whole, "bot.*: \\[stream\\] … $");
    assert_match(whole, "^    two$");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_lines, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_stream_bytes_utf8, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_stream_markdown_reason_empty, it_setup_default, it_teardown_default),
        cmocka_unit_test_teardown(test_stream_rate_limited, it_teardown_default),
        cmocka_unit_test_teardown(test_stream_idle_ends, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_listen_renders_stream, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_chat_renders_stream, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_listen_terminal_grows, it_setup_default, it_teardown_default),
    };
    it_watchdog(280);
    return it_run_tests("it_cli_stream", tests);
}
