/*
 * apps.h — the apps of this server (org/app, client id and secret, per-app settings),
 * cached in memory from the store at start and on creation, and read by every login
 * and REST request; plus the blocking round-trip through the store writer that startup
 * and the admin calls use (store_run_sync). All functions are thread-safe (apps_mu).
 */
#ifndef TERN_APPS_H
#define TERN_APPS_H
#include <stddef.h>
#include <stdint.h>

#include "context.h"

/* The longest URL setting, in bytes. */
#define APP_URL_MAX 512

/* Per-app settings (docs/rest-api.md "App settings"): the values an app changed from
 * the server's defaults, 0 (an integer) or "" (a string) meaning "the default". Adding a
 * setting is a member here and a row in apps.c's table `setting_defs` (its name, range
 * and default); the store keeps every setting as a (key, text) row, the REST resource
 * lists the table. A string member is a char array: its size bounds the value. */
typedef struct app_settings {
    uint64_t media_max_bytes;      /* mediaMaxBytes: the largest upload; at most --media-max-bytes */
    uint64_t group_msg_rate;       /* groupMsgRate: messages a second per group (40) */
    uint64_t rest_group_send_rate; /* restGroupSendRate: REST group sends a second per app (200) */
    /* issue 10, webhooks (hooks/webhook.h) and moderation (hooks/moderation.h) */
    char push_url[APP_URL_MAX + 1];     /* pushWebhookUrl: http(s) URL; "" none */
    char callback_url[APP_URL_MAX + 1]; /* callbackUrl: http(s) URL; "" none */
    char callback_secret[129];          /* callbackSecret: HMAC key; "" = the app's secret */
    char callback_on_failure[8];        /* callbackOnFailure: allow|deny ("" = allow) */
    char moderation[4];                 /* moderation: on|off ("" = on) */
    uint64_t callback_timeout_ms;       /* callbackTimeoutMs */
    uint64_t before_send, after_send;   /* beforeSendCallback, afterSendCallback: 0/1 */
    uint64_t merger_inline_max;         /* mergerInlineMaxBytes: a merger's list embedded up to this (8192) */
    uint64_t ext_max_keys;              /* extMaxKeys: extension keys per message (300) */
    uint64_t friend_check;              /* friendCheck: 1 refuses C2C between non-friends (20009) */
} app_settings;

typedef struct app_info {
    int64_t id;
    char org[65], name[65], client_id[65], secret[65];
    char key[131]; /* "org/app" */
    app_settings settings;
} app_info;

/* The kinds of setting; an integer row leaves `kind` and the members after it zero. */
enum { APP_SETTING_UINT = 0, APP_SETTING_STR = 1 };

/* One setting: an unsigned integer member of app_settings, 0 being "the default", or
 * (kind APP_SETTING_STR) a char array member, "" being "the default". */
typedef struct app_setting_def {
    const char *key;                   /* the JSON name, "mediaMaxBytes" */
    size_t offset;                     /* of its uint64_t (or char array) in app_settings */
    uint64_t min;                      /* the smallest value an app may set */
    uint64_t (*max)(const server *s);  /* the largest, when a server setting; NULL: max_c */
    uint64_t (*dflt)(const server *s); /* the value of an app that set none, when a server
                                          setting; NULL: dflt_c */
    uint64_t max_c, dflt_c;            /* the same as constants */
    /* string settings only */
    int kind;                              /* APP_SETTING_UINT or APP_SETTING_STR */
    size_t cap;                            /* the member's size: values are 1..cap-1 bytes */
    int (*valid)(const char *v, size_t n); /* 1 if v[0..n) may be set (n >= 1, < cap) */
    const char *sdflt;                     /* the value of an app that set none; NULL: none */
    const char *what;                      /* the accepted values, for the error message */
} app_setting_def;

/* The settings table: *n rows. */
const app_setting_def *apps_setting_defs(size_t *n);
/* The row named key[0..n), or NULL. */
const app_setting_def *apps_setting_find(const char *key, size_t n);
/* The largest value and the default of the integer setting d (its function, else its
 * constant). */
uint64_t apps_setting_max(const server *s, const app_setting_def *d);
uint64_t apps_setting_default(const server *s, const app_setting_def *d);
/* The value of d for the app a: its own, else the default (never over the largest). */
uint64_t apps_setting_get(const server *s, const app_info *a, const app_setting_def *d);
/* The value of the string setting d for the app a: its own, else d->sdflt (NULL when
 * that is NULL: "not set"). Points into a (or the table). */
const char *apps_setting_str(const app_info *a, const app_setting_def *d);
/* Runs fn(a, arg) with the cached app id under the cache's read lock, without copying
 * it (for the hot paths: a message's hooks); 0, or -1 if there is no such app. fn must
 * not call back into apps_*. */
int apps_with_id(server *s, int64_t id, void (*fn)(const app_info *a, void *arg), void *arg);
/* The number of cached apps for which pred(a) is non-zero (under the read lock). */
size_t apps_count_if(server *s, int (*pred)(const app_info *a));
/* The value of d for the app with store id `app` (as apps_setting_get; 0 if there is no
 * such app), without copying the app: a read lock and a scan, for the send path. */
uint64_t apps_setting_of(const server *s, int64_t app, const app_setting_def *d);
/* Sets (value non-NULL: decimal text as stored, or the string) or clears (NULL) the setting key of the
 * cached app id; unknown keys and malformed values are ignored (a row written by a newer
 * server). Call after the store committed the change. */
void apps_setting_cache(server *s, int64_t app, const char *key, const char *value);

/* Loads every app of the store into the cache (startup); 0 or -1 (logged). */
int apps_load(server *s);
/* Copies the app org[0..orgn)/name[0..namen) into out; 0 if found, -1 if not. */
int apps_find(server *s, const char *org, size_t orgn, const char *name, size_t namen, app_info *out);
/* The same by the key "org/app" (NUL-terminated); -1 also when it has no '/'. */
int apps_find_key(server *s, const char *appkey, app_info *out);
/* The same by the app's store id: 0 if found, -1 if not. */
int apps_find_id(server *s, int64_t id, app_info *out);
/* Adds a copy of a to the cache. */
void apps_add(server *s, const app_info *a);
/* Creates the demo app on first start, writes demo-app.json; 0 or -1. */
int apps_bootstrap(server *s);

/* Creates an app with fresh credentials (blocking on the store); TERN_OK or a code. */
int apps_create(server *s, const char *org, const char *name, app_info *out);
/* Writes 2*nbytes random hex digits + NUL into out (nbytes at most 64; out holds
 * 2*nbytes + 1). Aborts if the system has no randomness. */
void random_hex(char *out, size_t nbytes);
/* Submits op and blocks until the writer completed it; returns op->result, or the
 * store's refusal of the submit. Only for threads that are not I/O loops nor the
 * writer (startup, admin, shutdown). */
int store_run_sync(store *st, store_op *op);
/* The same, calling first(arg) on the writer thread when op completes, before waking. */
int store_run_sync_then(store *st, store_op *op, void (*first)(void *arg), void *arg);

#endif
