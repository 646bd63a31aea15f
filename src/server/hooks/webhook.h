/*
 * webhook.h — ternd's outgoing HTTP requests to an app's backend: the offline push
 * (pushWebhookUrl), the before-send and after-send callbacks (callbackUrl). One thread of
 * this module's own drives libcurl's multi interface; nothing here ever runs on an I/O
 * loop or the store writer, which only queue requests (webhook_submit: a lock, a list
 * append and a wake-up).
 *
 * Every request is a JSON POST, signed: `X-Tern-Timestamp` (Unix ms of the attempt) and
 * `X-Tern-Signature: sha256=<hex HMAC-SHA256(key, timestamp "." body)>`, the key being
 * the app's `callbackSecret` or else its client secret (docs/rest-api.md "Webhooks"),
 * with `X-Tern-Event` (beforeSend, afterSend, push), `X-Tern-App` (org/app) and
 * `X-Tern-Attempt` (1, 2, ...). A synchronous request (the before-send callback) is tried
 * once and its done callback gets the answer or the failure; an asynchronous one is
 * retried on a transport failure or a non-2xx answer, waiting --webhook-retry-ms and
 * doubling, up to --webhook-attempts tries. At most --webhook-queue requests wait or run
 * at once; past that a request is refused and counted (tern_webhook_dropped_total).
 */
#ifndef TERN_WEBHOOK_H
#define TERN_WEBHOOK_H
#include <stddef.h>
#include <stdint.h>

#include "context.h"

typedef struct webhook webhook;

typedef enum wh_kind { WH_BEFORE_SEND, WH_AFTER_SEND, WH_PUSH } wh_kind;

/* A request ended. status: the HTTP status of the last answer, or 0 when there was none
 * (connection refused, timeout, shutdown); body[0..n) the answer (at most 64 KiB, NUL
 * after it; NULL when none). Runs on the webhook thread (or the thread of webhook_stop).
 * May call webhook_submit. */
typedef void (*wh_done_fn)(void *ud, int status, const char *body, size_t n);
/* Runs once on the webhook thread before the first attempt: may replace *body (owned:
 * free the old one with tern_free) or return 0 to end the request unsent (done is not
 * called; free_ud is). */
typedef int (*wh_prepare_fn)(void *ud, server *s, char **body, size_t *n);

typedef struct wh_request {
    wh_kind kind;
    const char *url;     /* http(s); copied */
    const char *secret;  /* the HMAC key; copied */
    const char *app_key; /* "org/app"; copied */
    char *body;          /* JSON, tern_malloc'd: taken by a successful submit; may be NULL
                            when prepare makes it */
    size_t body_n;
    int timeout_ms; /* per attempt (connect + answer) */
    int sync;       /* 1: one try, done gets the outcome; 0: retried */
    wh_done_fn done;        /* may be NULL */
    wh_prepare_fn prepare;  /* may be NULL */
    void (*free_ud)(void *ud); /* may be NULL; runs last */
    void *ud;
} wh_request;

typedef struct webhook_stats {
    uint64_t queued;  /* waiting or in flight now */
    uint64_t sent;    /* requests answered 2xx */
    uint64_t failed;  /* requests that ended without a 2xx answer (after their tries) */
    uint64_t dropped; /* refused: the queue was full or the module stopping */
    uint64_t retries; /* attempts after a first one */
} webhook_stats;

/* Starts the thread (s->webhook). 0, or -1 (logged). */
int webhook_start(server *s);
/* Stops taking requests and ends the thread: requests still waiting or running end with
 * done(ud, 0, NULL, 0) (a before-send callback then follows callbackOnFailure) and
 * free_ud. Idempotent; s->webhook stays allocated until webhook_free. */
void webhook_stop(server *s);
void webhook_free(server *s);
/* Queues rq. TERN_OK: the module owns rq->body and will call done (unless prepare ends
 * it) and free_ud. TERN_ERR_OVERLOADED (the queue is full: counted as dropped) or
 * TERN_ERR_SHUTTING_DOWN: nothing was taken, the caller still owns body and ud. */
int webhook_submit(server *s, const wh_request *rq);
void webhook_get_stats(server *s, webhook_stats *out);

/* The apps with a hook configured (webhook_refresh counts them): 0 lets a message skip
 * every hook without looking at its app. */
int webhook_apps_hooked(const server *s);
/* Recounts the apps with a hook; call after an app's settings changed. */
void webhook_refresh(server *s);

/* The signature header's value for body at ts_ms with key: "sha256=" + 64 hex digits
 * into out (72 bytes). Exposed for tests and the docs' example. */
void webhook_sign(const char *key, int64_t ts_ms, const char *body, size_t n, char out[72]);

#endif
