/*
 * it_cli.c — the tern command-line client's own checks, run as a real process
 * (TERN_CLI). So far: --limit is checked against each command's documented range before
 * anything is sent (exit 2, the message names the option, the command and the range),
 * and --version prints the version.
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

/* Runs tern with args (shell words), captures stdout+stderr into out; exit status or -1. */
static int run_cli(const char *args, char *out, size_t outsz)
{
    char cmd[1024];
    /* A server nobody listens on: a check that let the command through would fail on
     * the connection, with another message, instead of hanging. */
    snprintf(cmd, sizeof cmd, "TERN_SERVER=http://127.0.0.1:9 TERN_USER=alice TERN_TOKEN=x '%s' %s", getenv("TERN_CLI"),
             args);
    return it_run_capture(cmd, out, outsz);
}

static void test_limit_ranges(void **state)
{
    static char out[4096];
    static const struct {
        const char *args;
        const char *range;
    } bad[] = {{"history --conv C2Cbob --limit 0", "1-100"},
               {"history --conv C2Cbob --limit 101", "1-100"},
               {"conversations --limit 501", "1-500"},
               {"users list --limit 101", "1-100"},
               {"users list --limit=0", "1-100"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(run_cli(bad[i].args, out, sizeof out), 2);
        assert_non_null(strstr(out, "--limit"));
        assert_non_null(strstr(out, bad[i].range));
    }
    /* In range, the command goes on (and fails on the unreachable server instead). */
    assert_int_not_equal(run_cli("history --conv C2Cbob --limit 100", out, sizeof out), 0);
    assert_null(strstr(out, "out of range"));
    (void)state;
}

static void test_version(void **state)
{
    static char out[256];
    assert_int_equal(run_cli("--version", out, sizeof out), 0);
    assert_true(!strncmp(out, "tern ", 5));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_ranges),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
