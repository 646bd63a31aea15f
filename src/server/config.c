/* config.c — ternd's settings table and its three sources; see config.h. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_STR, T_INT, T_SIZE, T_BOOL };

typedef struct setting {
    const char *name; /* flag and file key; env is TERN_ + upper(name with - -> _) */
    int type;
    size_t off;
    size_t cap; /* for strings */
    const char *def;
    const char *help;
} setting;

#define S(n, field, d, h)                                                                                              \
    {                                                                                                                  \
        n, T_STR, offsetof(config, field), sizeof(((config *)0)->field), d, h                                          \
    }
#define I(n, field, t, d, h)                                                                                           \
    {                                                                                                                  \
        n, t, offsetof(config, field), 0, d, h                                                                         \
    }

static const setting settings[] = {
    S("listen", listen, "127.0.0.1:8080", "address:port for WebSocket + HTTP (port 0: any free port)"),
    S("data", data, "./data", "data directory: SQLite database, media, admin token"),
    I("threads", threads, T_INT, "0", "I/O loops (0: one per core)"),
    I("node-id", node_id, T_INT, "0", "node id 0..511 embedded in message ids"),
    S("log-level", log_level, "info", "debug | info | warn | error | off"),
    S("admin-token", admin_token, "", "bearer token for /admin (empty: generated into <data>/admin.token)"),
    S("demo-app", demo_app, "demo/demo", "org/app created on first start with printed credentials (empty: none)"),
    I("ws-max-message", ws_max_message, T_SIZE, "65536", "largest WebSocket message accepted, bytes"),
    I("max-send-queue", max_send_queue, T_SIZE, "4194304", "per-connection outgoing queue ceiling, bytes"),
    I("max-http-body", max_http_body, T_SIZE, "1048576", "largest HTTP request body, bytes"),
    I("http-head-timeout-ms", http_head_timeout_ms, T_INT, "10000",
      "an HTTP request head must arrive whole within this many milliseconds of its first byte (408)"),
    I("http-body-min-rate", http_body_min_rate, T_INT, "1024",
      "bytes/s an HTTP request body must average once http-head-timeout-ms have passed (408); 0: off"),
    I("http-idle-ms", http_idle_ms, T_INT, "30000",
      "an HTTP connection silent this many milliseconds is closed: between requests, or a body that stalls"),
    I("idle-timeout", idle_timeout, T_INT, "90", "close WebSocket connections silent this many seconds"),
    I("login-timeout", login_timeout, T_INT, "10", "close connections not logged in after this many seconds"),
    S("store", store, "sqlite", "storage engine (sqlite)"),
    I("store-batch", store_batch, T_INT, "8192", "most store operations committed in one transaction"),
    I("store-linger-us", store_linger_us, T_INT, "1000",
      "microseconds the store writer waits for more operations before a commit"),
    I("push-delay-ms", push_delay_ms, T_INT, "0",
      "milliseconds a pushed event may wait to share a write with the next ones (0: none)"),
    I("io-uring", io_uring, T_BOOL, "1",
      "1: the writes of an inbox drain go out in one io_uring submission (writev if the kernel refuses)"),
    I("fsync-full", fsync_full, T_BOOL, "0", "1: fsync every commit (power-loss safe); 0: WAL NORMAL (crash safe)"),
    I("max-sessions-per-user", max_sessions_per_user, T_INT, "32", "concurrent sessions (devices) per user"),
    I("stream-max-bytes", stream_max_bytes, T_INT, "131072",
      "streamed messages: most bytes of text in one stream (seed 002: 128 KB; over: 14032, stream ended)"),
    I("stream-interval-ms", stream_interval_ms, T_INT, "30000",
      "streamed messages: longest wait between two chunks (seed 002: 30 s; over: 14033, stream ended)"),
    I("stream-total-ms", stream_total_ms, T_INT, "1800000",
      "streamed messages: longest time from the first chunk to the last (seed 002: 30 min; over: 14034)"),
    I("stream-rate", stream_rate, T_INT, "100",
      "streamed messages: chunk requests per second per app (seed 002: 100; over: 429)"),
    I("stream-max-members", stream_max_members, T_INT, "200",
      "streamed messages: most members of a group a stream goes to (seed 002: 200; over: 14100)"),
    I("group-msg-rate", group_msg_rate, T_INT, "40",
      "messages a second each group carries, the default of every app's groupMsgRate (seed 001: 40; 0: no limit)"),
    I("rest-group-send-rate", rest_group_send_rate, T_INT, "200",
      "REST group sends a second per app, the default of restGroupSendRate (seed 001: 200; 0: no limit)"),
    S("media-dir", media_dir, "", "media files directory (empty: <data>/media)"),
    I("media-max-bytes", media_max_bytes, T_SIZE, "104857600",
      "largest media upload, bytes, for every app (413 over it; Agora profile: 31457280)"),
    I("media-ttl-days", media_ttl_days, T_INT, "7", "days an uploaded media file is kept (seed 000: 7)"),
    I("media-ttl-seconds", media_ttl_seconds, T_INT, "0", "seconds a media file is kept; > 0 overrides media-ttl-days"),
    I("media-max-pixels", media_max_pixels, T_SIZE, "50000000",
      "images of more pixels (width x height, from the header) upload but get no thumbnail"),
    I("thumb-workers", thumb_workers, T_INT, "2", "threads making thumbnails (libvips), off the I/O loops"),
    I("thumb-queue", thumb_queue, T_INT, "256",
      "thumbnail jobs queued at upload, at most (past it: made on the first download)"),
    I("webhook-queue", webhook_queue, T_INT, "10000",
      "webhook requests (push, callbacks) waiting or in flight, at most; past it they are dropped and counted"),
    I("webhook-attempts", webhook_attempts, T_INT, "5", "tries of an after-send or push request before it is dropped"),
    I("webhook-retry-ms", webhook_retry_ms, T_INT, "500",
      "wait before the first retry of a failed webhook request; doubled at each retry (at most 60 s)"),
    S("public-url", public_url, "",
      "scheme://host[:port] clients reach this server at, put before the media URLs of messages"
      " (empty: URLs are paths, resolved against the server the client talks to)"),
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static FILE *err_stream; /* NULL: stderr */

static FILE *errf(void)
{
    return err_stream ? err_stream : stderr;
}

void config_set_error_stream(FILE *f)
{
    err_stream = f;
}

static int set_value(config *c, const setting *s, const char *v, const char *src)
{
    char *p = (char *)c + s->off;
    char *end;
    switch (s->type) {
    case T_STR:
        if (strlen(v) >= s->cap) {
            fprintf(errf(), "ternd: %s: value for %s too long\n", src, s->name);
            return -1;
        }
        memcpy(p, v, strlen(v) + 1); /* fits: checked above */
        return 0;
    case T_INT: {
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || *end || end == v || n < 0 || n > 1000000000) {
            fprintf(errf(), "ternd: %s: %s wants a non-negative integer, got '%s'\n", src, s->name, v);
            return -1;
        }
        *(int *)p = (int)n;
        return 0;
    }
    case T_SIZE: {
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end || end == v) {
            fprintf(errf(), "ternd: %s: %s wants a byte count, got '%s'\n", src, s->name, v);
            return -1;
        }
        *(size_t *)p = (size_t)n;
        return 0;
    }
    case T_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
            *(int *)p = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
            *(int *)p = 0;
        else {
            fprintf(errf(), "ternd: %s: %s wants 0 or 1, got '%s'\n", src, s->name, v);
            return -1;
        }
        return 0;
    }
    return -1;
}

static const setting *find(const char *name, size_t n)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].name) == n && !strncmp(settings[i].name, name, n))
            return &settings[i];
    return NULL;
}

static void env_name(const char *name, char *out, size_t outsz)
{
    size_t j = snprintf(out, outsz, "TERN_");
    for (size_t i = 0; name[i] && j + 1 < outsz; i++)
        out[j++] = name[i] == '-' ? '_' : (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    out[j] = 0;
}

static void usage(void)
{
    printf("usage: ternd [--config FILE] [--SETTING VALUE]...\n\n"
           "Tern instant-messaging server: WebSocket clients (subprotocol tern.v1) and the REST API\n"
           "on one port. Every setting can also come from the environment (TERN_<NAME>) or a\n"
           "config file (--config FILE or TERN_CONFIG; lines 'name = value', '#' comments).\n"
           "Precedence: flag > environment > file > default.\n\nsettings:\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        char env[64];
        env_name(settings[i].name, env, sizeof env);
        printf("  --%-22s %s\n  %-24s   env %s, default '%s'\n", settings[i].name, settings[i].help, "", env,
               settings[i].def);
    }
    printf("\nSIGTERM/SIGINT: stop accepting, commit what is queued, close sessions (1001), exit.\n");
}

static int load_file(config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(errf(), "ternd: cannot open config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[2048];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            fprintf(errf(), "ternd: %s:%d: expected 'name = value'\n", path, lineno);
            rc = -1;
            break;
        }
        char *ke = eq;
        while (ke > p && (ke[-1] == ' ' || ke[-1] == '\t'))
            ke--;
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == '\n' || v[vl - 1] == '\r' || v[vl - 1] == ' '))
            v[--vl] = 0;
        const setting *s = find(p, (size_t)(ke - p));
        if (!s) {
            fprintf(errf(), "ternd: %s:%d: unknown setting '%.*s'\n", path, lineno, (int)(ke - p), p);
            rc = -1;
            break;
        }
        char src[1100];
        snprintf(src, sizeof src, "%s:%d", path, lineno);
        if (set_value(c, s, v, src) < 0) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int config_load(config *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NSETTINGS; i++)
        set_value(c, &settings[i], settings[i].def, "default");

    const char *file = getenv("TERN_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 1;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("ternd 0.1.0\n");
            return 1;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && load_file(c, file) < 0)
        return -1;
    for (size_t i = 0; i < NSETTINGS; i++) {
        char env[64];
        env_name(settings[i].name, env, sizeof env);
        const char *v = getenv(env);
        if (v && set_value(c, &settings[i], v, env) < 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(errf(), "ternd: unexpected argument '%s' (see --help)\n", a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        const char *v;
        if (n == 6 && !strncmp(a, "config", 6)) {
            i += eq ? 0 : 1;
            continue;
        }
        const setting *s = find(a, n);
        if (!s) {
            fprintf(errf(), "ternd: unknown setting '--%.*s' (see --help)\n", (int)n, a);
            return -1;
        }
        if (eq)
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            fprintf(errf(), "ternd: --%s needs a value\n", s->name);
            return -1;
        }
        if (set_value(c, s, v, "command line") < 0)
            return -1;
    }
    if (c->node_id > 511) {
        /* 512..1023 belong to the same nodes' id generator for unstored messages. */
        fprintf(errf(), "ternd: node-id must be 0..511\n");
        return -1;
    }
    if (c->ws_max_message < 1024 || c->ws_max_message > (64u << 20)) {
        fprintf(errf(), "ternd: ws-max-message must be 1 KiB..64 MiB\n");
        return -1;
    }
    if (c->store_batch < 1)
        c->store_batch = 1;
    if (c->group_msg_rate < 0 || c->rest_group_send_rate < 0) {
        fprintf(errf(), "ternd: group-msg-rate and rest-group-send-rate must be 0 (no limit) or more\n");
        return -1;
    }
    if (c->media_max_bytes < 1 || c->media_ttl_days < 1 || c->media_ttl_seconds < 0) {
        fprintf(errf(), "ternd: media-max-bytes and media-ttl-days must be at least 1, media-ttl-seconds 0 or more\n");
        return -1;
    }
    if (c->media_max_pixels < 1 || c->thumb_workers < 1 || c->thumb_workers > 64 || c->thumb_queue < 1) {
        fprintf(errf(), "ternd: media-max-pixels and thumb-queue must be at least 1, thumb-workers 1..64\n");
        return -1;
    }
    if (c->webhook_queue < 1 || c->webhook_attempts < 1 || c->webhook_attempts > 20 || c->webhook_retry_ms < 1) {
        fprintf(errf(), "ternd: webhook-queue and webhook-retry-ms must be at least 1, webhook-attempts 1..20\n");
        return -1;
    }
    size_t pu = strlen(c->public_url);
    while (pu && c->public_url[pu - 1] == '/')
        c->public_url[--pu] = 0;
    if (pu && strncmp(c->public_url, "http://", 7) != 0 && strncmp(c->public_url, "https://", 8) != 0) {
        fprintf(errf(), "ternd: public-url must start with http:// or https://\n");
        return -1;
    }
    return 0;
}
