/*
 * config.h — ternd's settings. Each setting has a command-line flag (--name), an
 * environment variable (TERN_NAME) and a config-file key (name = value); precedence:
 * flag > environment > file > built-in default. `ternd --help` prints the table.
 */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H
#include <stddef.h>
#include <stdio.h>

typedef struct config {
    char listen[128]; /* ADDR:PORT; port 0 picks a free port */
    char data[1024];  /* data directory (SQLite + media) */
    int threads;      /* I/O loops; 0 = number of cores */
    int node_id;      /* 0..1023, part of every message id */
    char log_level[16];
    char admin_token[65]; /* empty: generated into <data>/admin.token */
    char demo_app[131];   /* org/app created on first start; empty: none */
    size_t ws_max_message;
    size_t max_send_queue;
    size_t max_http_body;
    int http_head_timeout_ms; /* a request head must arrive whole within this */
    int http_body_min_rate;   /* bytes/s a request body must average (0: not enforced) */
    int http_idle_ms;         /* an HTTP connection silent this long closes (also mid-body) */
    int idle_timeout;         /* seconds */
    int login_timeout;        /* seconds */
    char store[32];           /* storage engine name (store_engines[]) */
    int store_batch;
    int store_linger_us;
    int io_uring;      /* 1: a drain's writes share one io_uring submission */
    int push_delay_ms; /* pushed events may wait this long to share a write (0: never) */
    int fsync_full;
    int max_sessions_per_user;
    /* streamed messages (seed 002's limits as defaults) */
    int stream_max_bytes;
    int stream_interval_ms;
    int stream_total_ms;
    int stream_rate;
    int stream_max_members;
    /* issue 10: the defaults of the apps' groupMsgRate / restGroupSendRate (0: none) */
    int group_msg_rate;
    int rest_group_send_rate;
    /* media (issue 9) */
    char media_dir[1024];   /* empty: <data>/media */
    size_t media_max_bytes; /* largest upload, bytes (413 over it) */
    int media_ttl_days;     /* media kept this long (seed 000: 7 days) */
    int media_ttl_seconds;  /* > 0: overrides media_ttl_days (tests) */
    char public_url[512];   /* before media URLs ("" : URLs are paths) */
    size_t media_max_pixels; /* images over it get no thumbnail (checked from the header) */
    int thumb_workers;       /* thumbnailer threads */
    int thumb_queue;         /* thumbnail jobs queued at upload, at most */
    /* webhooks (issue 10: hooks/webhook.h) */
    int webhook_queue;    /* requests waiting or in flight, at most (past it: dropped, counted) */
    int webhook_attempts; /* tries of an asynchronous request */
    int webhook_retry_ms; /* first retry's wait, doubled at each */
} config;

/* Fills defaults, then the file named by --config / TERN_CONFIG, then the environment,
 * then argv. Returns 0, 1 if --help/--version was printed (exit 0), -1 on a bad setting
 * (message printed to stderr). */
int config_load(config *c, int argc, char **argv);

/* Where config_load writes what is wrong with a setting (NULL: stderr, the default).
 * For tests and the fuzz harness; not thread-safe. */
void config_set_error_stream(FILE *f);

#endif
