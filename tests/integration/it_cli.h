/*
 * it_cli.h — helpers of the tests that run the `tern` binary against a real ternd
 * (it_cli_out.c, it_cli_stream.c): run it with the server and the app's credentials in
 * the environment, match its output against a regular expression, check that every line
 * is one JSON object. Static functions: each test program includes it once.
 */
#ifndef TERN_IT_CLI_H
#define TERN_IT_CLI_H

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OUT_MAX 65536

/* Runs a shell command line (`printf ... | "$TERN_CLI_BIN" stream ...`) with the server,
 * app and app credentials exported and the binary in $TERN_CLI_BIN; stdout and stderr
 * into out. Returns the exit status of the last command. */
static int clish(it_server *s, char *out, const char *fmt, ...) __attribute__((format(printf, 3, 4), unused));
static int clish(it_server *s, char *out, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd,
             "{ export TERN_SERVER=http://127.0.0.1:%d TERN_APP=%s/%s TERN_CLIENT_ID=%s TERN_CLIENT_SECRET=%s "
             "TERN_CLI_BIN='%s'; %s\n}",
             s->port, s->org, s->app, s->client_id, s->client_secret, getenv("TERN_CLI"), args);
    return it_run_capture(cmd, out, OUT_MAX);
}

/* `tern ARGS`: the same with the binary first (fmt must be a string literal). */
#define cli(s, out, fmt, ...) clish((s), (out), "\"$TERN_CLI_BIN\" " fmt, ##__VA_ARGS__)

static __attribute__((unused)) int matches(const char *text, const char *pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE) != 0)
        fail_msg("bad regex %s", pattern);
    int ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

#define assert_match(text, pattern)                                                                                    \
    do {                                                                                                               \
        if (!matches((text), (pattern)))                                                                               \
            fail_msg("%s:%d: output does not match /%s/:\n%s", __FILE__, __LINE__, (pattern), (text));                 \
    } while (0)

/* Every non-empty line of out is a JSON object; returns how many there were. */
static __attribute__((unused)) int json_lines(const char *out)
{
    int n = 0;
    const char *p = out;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) {
            char *line = strndup(p, len);
            cJSON *j = cJSON_Parse(line);
            if (!cJSON_IsObject(j))
                fail_msg("not one JSON object per line: %s\n(whole output:\n%s)", line, out);
            cJSON_Delete(j);
            free(line);
            n++;
        }
        p += len + (e ? 1 : 0);
    }
    return n;
}

#endif
