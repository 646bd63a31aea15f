/*
 * it_config.c — ternd's settings from their three sources (docs/operations.md): a config
 * file (--config), the environment (TERN_<NAME>) and flags, their precedence, `--help`
 * listing every setting, and refusal of unknown or malformed settings with exit 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* Runs ternd with args, after an optional prefix of the command line (environment
 * assignments, or a wrapper such as timeout), captures stdout+stderr, returns the exit
 * status (or -1). */
static int run_ternd(const char *const *args, const char *env, char *out, size_t outsz)
{
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd, "%s %s", env ? env : "", getenv("TERND"));
    for (size_t i = 0; args[i]; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", args[i]);
    return it_run_capture(cmd, out, outsz);
}

static void test_help_lists_every_setting(void **state)
{
    static char out[16384];
    const char *args[] = {"--help", NULL};
    assert_int_equal(run_ternd(args, NULL, out, sizeof out), 0);
    static const char *names[] = {"listen",         "data",
                                  "threads",        "node-id",
                                  "log-level",      "admin-token",
                                  "demo-app",       "ws-max-message",
                                  "max-send-queue", "max-http-body",
                                  "idle-timeout",   "login-timeout",
                                  "store-batch",    "store-linger-us",
                                  "fsync-full",     "max-sessions-per-user"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char flag[64], env[64];
        snprintf(flag, sizeof flag, "--%s", names[i]);
        snprintf(env, sizeof env, "TERN_");
        for (size_t j = 0; names[i][j]; j++)
            env[5 + j] = names[i][j] == '-' ? '_' : (char)(names[i][j] - 32 * (names[i][j] >= 'a'));
        env[5 + strlen(names[i])] = 0;
        if (!strstr(out, flag) || !strstr(out, env))
            fail_msg("--help does not list %s / %s", flag, env);
    }
    (void)state;
}

static void test_bad_settings_exit_2(void **state)
{
    static char out[4096];
    const char *unknown[] = {"--no-such-setting", "1", NULL};
    assert_int_equal(run_ternd(unknown, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown setting"));
    const char *bad_int[] = {"--threads", "many", NULL};
    assert_int_equal(run_ternd(bad_int, NULL, out, sizeof out), 2);
    const char *bad_node[] = {"--node-id", "5000", NULL};
    assert_int_equal(run_ternd(bad_node, NULL, out, sizeof out), 2);
    /* A bad environment value is refused before anything starts (a valid one would get
     * as far as the unusable data directory and exit 1). */
    const char *nodata[] = {"--data", "/dev/null/tern", "--listen", "127.0.0.1:0", NULL};
    assert_int_equal(run_ternd(nodata, "TERN_IDLE_TIMEOUT=soon", out, sizeof out), 2);
    assert_non_null(strstr(out, "TERN_IDLE_TIMEOUT"));
    assert_int_equal(run_ternd(nodata, NULL, out, sizeof out), 1);
    char path[] = "/tmp/tern-it-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char bad_file[] = "# comment\nlisten = 127.0.0.1:0\nbogus = 1\n";
    assert_int_equal(write(fd, bad_file, sizeof bad_file - 1), (ssize_t)(sizeof bad_file - 1));
    close(fd);
    const char *cfg[] = {"--config", path, NULL};
    assert_int_equal(run_ternd(cfg, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "bogus"));
    /* --config=FILE reads the same file. */
    char eqarg[64];
    snprintf(eqarg, sizeof eqarg, "--config=%s", path);
    const char *cfg_eq[] = {eqarg, NULL};
    assert_int_equal(run_ternd(cfg_eq, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "bogus"));
    unlink(path);
    (void)state;
}

/* A config file sets the login timeout to 1 s: an unauthenticated connection is closed
 * with 4002 within a few seconds. The environment overrides the file, a flag overrides
 * both (checked through --idle-timeout vs the same mechanism on a second setting). */
static void test_file_env_flag_precedence(void **state)
{
    char path[] = "/tmp/tern-it-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char file[] = "login-timeout = 1\nidle-timeout = 600\n";
    assert_int_equal(write(fd, file, sizeof file - 1), (ssize_t)(sizeof file - 1));
    close(fd);
    /* The file says idle 600 s; the environment says 2 s; a logged-in idle session must be
     * closed with 4004 quickly, so the environment won over the file. */
    setenv("TERN_IDLE_TIMEOUT", "2", 1);
    const char *args[] = {"--config", path, NULL};
    it_server *s = it_server_new(args);
    unsetenv("TERN_IDLE_TIMEOUT");
    it_ws *anon = it_ws_connect(s);
    int code = 0;
    assert_int_equal(it_ws_expect_close(anon, 6000, &code), 0);
    assert_int_equal(code, 4002); /* login-timeout from the file */
    it_ws_free(anon);
    it_create_user(s, "alice");
    it_ws *a = it_login(s, "alice", NULL);
    code = 0;
    assert_int_equal(it_ws_expect_close(a, 8000, &code), 0);
    assert_int_equal(code, 4004); /* idle-timeout from the environment */
    it_ws_free(a);
    assert_int_equal(it_server_free(s), 0);

    /* A flag beats the environment: env says idle 2 s, the flag 600 s. */
    setenv("TERN_IDLE_TIMEOUT", "2", 1);
    const char *args2[] = {"--config", path, "--idle-timeout", "600", NULL};
    s = it_server_new(args2);
    unsetenv("TERN_IDLE_TIMEOUT");
    it_create_user(s, "bob");
    it_ws *b = it_login(s, "bob", NULL);
    code = 0;
    assert_int_not_equal(it_ws_expect_close(b, 4000, &code), 0); /* still open after 4 s */
    it_ws_free(b);
    assert_int_equal(it_server_free(s), 0);
    unlink(path);
    (void)state;
}

/* A port another ternd holds is refused (SO_REUSEPORT would otherwise let the second one
 * share it), and the message names the setting to change. */
static void test_busy_port_names_the_setting(void **state)
{
    static char out[4096];
    it_server *a = it_server_new(NULL);
    assert_non_null(a);
    char listen[64], dir[] = "/tmp/tern-it-busy-XXXXXX";
    snprintf(listen, sizeof listen, "127.0.0.1:%d", a->port);
    assert_non_null(mkdtemp(dir));
    const char *args[] = {"--listen", listen, "--data", dir, NULL};
    /* Under timeout(1): a ternd that wrongly shares the port would run forever (124). */
    assert_int_equal(run_ternd(args, "timeout -k 2 20", out, sizeof out), 1);
    assert_non_null(strstr(out, "--listen"));
    assert_non_null(strstr(out, "TERN_LISTEN"));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(it_server_free(a), 0);
    (void)state;
}

int main(void)
{
    it_watchdog(90);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_every_setting),
        cmocka_unit_test(test_bad_settings_exit_2),
        cmocka_unit_test(test_file_env_flag_precedence),
        cmocka_unit_test(test_busy_port_names_the_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
