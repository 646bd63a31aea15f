/*
 * sdk.h — libtern's private client structure and the interfaces between its parts:
 *
 *   client.c   public lifecycle and request functions, the cross-thread request queue
 *              (mutex + uv_async), threading modes, event dispatch
 *   session.c  the protocol: login, requests and their timeouts and completions, sync
 *              and dedupe, heartbeat, reconnect with backoff, server events
 *   conn.c     the transport: DNS, TCP, WebSocket handshake and framing
 *   stream.c   streamed messages: held copies, the client rule, refetch (stream.h)
 *
 * Everything below marked "loop" is touched only on the client's loop thread; fields
 * marked "mu" only under c->mu; the rest is immutable after tern_client_create.
 */
#ifndef TERN_SDK_SDK_H
#define TERN_SDK_SDK_H
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "sdk/message.h"
#include "sdk/sdk_util.h"
#include "sdk/seqset.h"
#include "sdk/stream.h"
#include "tern/tern.h"

/* A request of the app (queued from any thread, then handled on the loop) and, for the
 * kinds that go on the wire, the pending request awaiting its response. */
enum {
    REQ_LOGIN = 1,
    REQ_LOGOUT,
    REQ_SEND,
    REQ_HISTORY,
    REQ_CONVS,
    REQ_READ,
    REQ_SYNC,      /* internal */
    REQ_PING,      /* internal */
    REQ_SET_TOKEN, /* queue only */
    REQ_STOP,        /* queue only */
    REQ_DESTROY,     /* queue only */
    REQ_STREAM_FETCH /* internal: `history` of one streamed message (stream.c) */
};

/* Callbacks of every signature are stored as this type and cast back by kind. */
typedef void (*sdk_fn)(void);

typedef struct sdk_req {
    struct sdk_req *prev, *next;
    int kind;
    uint64_t id;       /* wire id, fresh for every transmission */
    uint64_t deadline; /* uv_now() ms when the response is overdue */
    tern_message *msg; /* REQ_SEND (a reference) */
    int online_only;
    char *str;    /* conversation id (HISTORY, READ), token (SET_TOKEN) */
    uint64_t num; /* before_seq / read seq */
    unsigned limit;
    uint64_t msg_id; /* REQ_STREAM_FETCH: the stream fetched */
    sdk_fn cb;
    void *ud;
} sdk_req;

typedef struct req_list {
    sdk_req *head, *tail;
    size_t n;
} req_list;

struct sdk_conn;

struct tern_client {
    /* immutable */
    sdk_url url;
    char *app, *user, *device, *platform;
    tern_event_cb on_event;
    void *event_ud;
    unsigned req_timeout_ms, connect_timeout_ms, rc_min_ms, rc_max_ms, hb_override_ms;
    int no_reconnect;
    size_t max_msg;
    struct ssl_ctx_st *ssl_ctx; /* wss://: shared by the client's connections, else NULL */
    uv_loop_t *loop;
    uv_loop_t own_loop_storage;
    int own_loop;
    int thread_mode; /* set by start_thread before the thread exists */
    uv_thread_t thread;

    /* cross-thread */
    uv_mutex_t mu;
    sdk_req *qhead, *qtail; /* mu: requests waiting for the loop */
    int qclosed;            /* mu: destroy started, no more requests */
    char cursor_copy[32];   /* mu: for tern_client_get_cursor */
    uv_async_t async;
    atomic_int state; /* tern_state */

    /* loop */
    char *token;
    struct sdk_conn *conn; /* the live connection, or NULL */
    uint64_t next_id;
    req_list inflight; /* sent on the current connection, oldest first */
    req_list outbox;   /* sends waiting for a logged-in connection, in order */
    uv_timer_t req_timer, hb_timer, retry_timer, conn_timer;
    int handles_open;
    tern_result_cb login_cb; /* the app's pending tern_login */
    void *login_ud;
    int login_pending;
    sdk_req *logout_req;     /* the app's pending tern_logout, if any */
    int session;             /* logged in once since tern_login: reconnect on loss */
    int logged_in;           /* the current connection is logged in */
    int ready_emitted;       /* SDK_READY emitted and no NOT_READY since */
    unsigned attempt;        /* reconnect attempts since the last successful login */
    uint64_t last_immediate; /* uv_now() of the last immediate (4001) reconnect */
    char cursor[32];         /* last completed sync cursor ("" = none yet) */
    seqset seen;
    sdk_live *live; /* msg and stream events buffered while a sync runs */
    size_t nlive, caplive;
    sdk_streams streams; /* held streamed messages (stream.c) */
    int syncing;
    unsigned hb_ms;
    int hb_missed, hb_rx;
    int kick_code;
    char kick_text[160];
    int in_cb; /* > 0 while an app callback runs */
    int destroyed;
    int self_free; /* destroy from the SDK thread: the thread frees the client */
    int stop_requested;
};

/* ---- client.c ---- */
void sdk_set_state(tern_client *c, tern_state s);
/* Calls the app's event callback (nothing after destroy). */
void sdk_emit(tern_client *c, tern_event *ev);

/* ---- request.c ---- */
sdk_req *sdk_req_new(int kind); /* zeroed, kind set */
void sdk_req_free(sdk_req *r);  /* releases msg, frees str; NULL is a no-op */
void sdk_req_list_push(req_list *l, sdk_req *r);
void sdk_req_list_push_front(req_list *l, sdk_req *r);
void sdk_req_list_unlink(req_list *l, sdk_req *r);
sdk_req *sdk_req_list_pop(req_list *l); /* the head, unlinked, or NULL */
const char *sdk_req_op_name(int kind);
/* Appends r as a wire request {"op":..,"id":r->id,...} (the sync request carries the
 * client's cursor and held seqs). */
void sdk_req_encode(tern_client *c, sdk_req *r, tern_buf *b);

/* ---- session.c ---- */
/* Completes req's app callback with code/message and frees req. data (may be NULL) is
 * the response's data object for successful completions. */
void sdk_complete(tern_client *c, sdk_req *req, int code, const char *message, const cJSON *data);
void sdk_sess_handle(tern_client *c, sdk_req *req); /* a dequeued app request */
void sdk_sess_on_open(tern_client *c);              /* WebSocket open: log in */
void sdk_sess_on_text(tern_client *c, const char *p, size_t n);
/* Delivers a received message (live or sync) through the dedupe as MESSAGE_RECEIVED,
 * or to stream.c if it is a streamed message. m is borrowed. */
void sdk_sess_deliver(tern_client *c, tern_message *m);
/* Puts r on the wire with a fresh id and deadline (in flight until answered). */
void sdk_sess_send_req(tern_client *c, sdk_req *r);
/* The connection ended (c->conn already NULL). code: TERN_ERR_SDK_* describing the
 * transport failure; close_code: the WebSocket close code received (0 if none). */
void sdk_sess_on_lost(tern_client *c, int code, int close_code, const char *why);
void sdk_sess_timer_cb(uv_timer_t *t); /* req_timer */
void sdk_sess_hb_cb(uv_timer_t *t);
void sdk_sess_retry_cb(uv_timer_t *t);
/* Fails every pending request with code (destroy, terminal states). */
void sdk_sess_fail_all(tern_client *c, int code, int keep_sends);

/* ---- conn.c ---- */
/* wss://: a TLS client context that verifies the server's certificate chain against
 * ca_file (PEM; NULL: OpenSSL's default paths, i.e. the system's store), TLS 1.2 or
 * later. Returns TERN_OK with *out set, TERN_ERR_SDK_INVALID_ARG when ca_file cannot be
 * loaded, TERN_ERR_SDK_IO when OpenSSL cannot make a context. Any thread. */
int sdk_tls_ctx_new(const char *ca_file, struct ssl_ctx_st **out);
/* Frees a context from sdk_tls_ctx_new; NULL is a no-op. */
void sdk_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Starts connecting c->url; the result arrives as sdk_sess_on_open or sdk_sess_on_lost.
 * Returns 0, or a TERN_ERR_SDK_* code if it could not even start. */
int sdk_conn_open(tern_client *c);
/* Sends one text message on the open connection. 0, or -1 if not open. */
int sdk_conn_send_text(tern_client *c, const char *p, size_t n);
/* Detaches and closes the connection (a close frame with `code` first if open and code
 * != 0). No sdk_sess_on_lost follows. */
void sdk_conn_close(tern_client *c, int code);

#endif
