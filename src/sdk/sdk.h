/*
 * sdk.h — libtern's private client structure and the interfaces between its parts:
 *
 *   client.c   public lifecycle and request functions, the cross-thread request queue
 *              (mutex + uv_async), threading modes, event dispatch
 *   session.c  the protocol: login, requests and their timeouts and completions, sync
 *              and dedupe, heartbeat, reconnect with backoff, server events
 *   conn.c     the transport: DNS, TCP, WebSocket handshake and framing
 *   stream.c   streamed messages: held copies, the client rule, refetch (below)
 *   xfer.c, media.c, media_msg.c  media transfers and messages (media.h)
 *   convlist.c the conversation-list cache and TERN_EVENT_CONVERSATION_LIST_UPDATED
 *
 * Everything below marked "loop" is touched only on the client's loop thread; fields
 * marked "mu" only under c->mu; the rest is immutable after tern_client_create.
 */
#ifndef TERN_SDK_SDK_H
#define TERN_SDK_SDK_H
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "core/hmap.h"
#include "sdk/message.h"
#include "sdk/sdk_util.h"
#include "sdk/seqset.h"
#include "tern/tern.h"

/* ---- streamed messages (stream.c; its functions are declared below) ----
 *
 * docs/protocol.md §9. stream.c keeps the copy of every open
 * stream the client holds, the "client rule" that applies `stream` events to it with
 * no gap and no duplicate, the refetch of a stream after a gap or a reconnect, and the
 * buffer of live events held back while a sync runs.
 *
 * Per stream the SDK holds one tern_message (text so far, stream.lastSeq, state) keyed
 * by msgId. An event whose prevSeq is the held lastSeq is appended; one at or below it
 * is a duplicate (only a final state is taken from it); anything else is a gap, and the
 * SDK fetches the message again with `history` (beforeSeq = msgSeq + 1, limit 1),
 * holding back the stream's events until the answer, then replaying them through the
 * same rule. A finished or ended stream is forgotten after its STREAM_FINISHED event;
 * at most SDK_STREAM_MAX_HELD open streams are held (the least recently updated one
 * is forgotten first, and reappears as STREAM_STARTED with its whole text if it goes
 * on). So the held texts take at most 256 x 256 KiB, whatever a server sends. A fetch
 * the server refuses for good (not a member any more, no such conversation) forgets
 * the stream without an event. Loop thread only.
 */
#define SDK_STREAM_MAX_HELD 256          /* open streams held per client */
#define SDK_STREAM_MAX_TEXT (256u << 10) /* a held text's ceiling (twice the server's 128 KiB) */
#define SDK_STREAM_MAX_PENDING 64        /* events held back per stream during a refetch */

/* One held stream. msg is NULL while the stream is known only from an event without
 * its message (first seen mid-way) and the fetch has not answered yet. */
typedef struct sdk_held {
    tern_message *msg;
    uint64_t msg_id, msg_seq;
    char conv[80];   /* conversation id, for the refetch */
    cJSON **pending; /* events that arrived while a fetch was in flight, in order */
    size_t npending;
    int refetch_again; /* pending overflowed: fetch once more after the answer */
    uint64_t touched;  /* last update (LRU) */
    unsigned gen;      /* the login whose events or sync last proved it current */
} sdk_held;

#define SDK_STREAM_DONE_RING 64 /* recently finished streams remembered */

typedef struct sdk_streams {
    hmap held;     /* msgId -> sdk_held * */
    uint64_t tick; /* LRU clock */
    unsigned gen;  /* bumped at every login */
    /* The last finished streams: a stray event for one of them is not a new stream. */
    uint64_t done[SDK_STREAM_DONE_RING];
    unsigned ndone;
} sdk_streams;

/* A live event held back while a sync runs: a `msg` event's message or a `stream`
 * event's data (owned). */
typedef struct sdk_live {
    tern_message *m;
    cJSON *ev;
} sdk_live;

/* A request of the app (queued from any thread, then handled on the loop) and, for the
 * kinds that go on the wire, the pending request awaiting its response. */
enum {
    REQ_LOGIN = 1,
    REQ_LOGOUT,
    REQ_SEND,
    REQ_HISTORY,
    REQ_CONVS,
    REQ_READ,
    REQ_SYNC,         /* internal */
    REQ_PING,         /* internal */
    REQ_SET_TOKEN,    /* queue only */
    REQ_STOP,         /* queue only */
    REQ_DESTROY,      /* queue only */
    REQ_STREAM_FETCH, /* internal: `history` of one streamed message (stream.c) */
    REQ_MEDIA,        /* queue only: a media transfer (r->xfer), media.h */
    REQ_MEDIA_CANCEL, /* queue only: cancel transfer r->num (r->limit 1 upload, 2 download) */
    REQ_RAW,          /* tern_request: op r->op with the members of r->str (a JSON object) */
    REQ_GET_MSGS,     /* tern_get_messages: getMessages with the members of r->str */
    REQ_MERGER,       /* tern_download_merger_message: r->str the inline list (JSON), or
                         downloadMerger of msgId r->num */
    REQ_CONV_SEED     /* internal: `conversations` seeding the list cache (convlist.c) */
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
    struct sdk_send_extra *sx; /* REQ_SEND: the options beyond online_only (owned), or NULL */
    char op[33];               /* REQ_RAW: the op's name */
    char *str;                 /* conversation id (HISTORY, READ), token (SET_TOKEN) */
    uint64_t num;              /* before_seq / read seq */
    unsigned limit;
    uint64_t msg_id;       /* REQ_STREAM_FETCH: the stream fetched */
    struct sdk_xfer *xfer; /* REQ_MEDIA (owned until handed to the engine) */
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
    char *tls_ca_file;          /* opts.tls_ca_file (media transfers give it to libcurl) */
    uint64_t media_max_bps;     /* opts.media_max_bytes_per_sec (0: none) */
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
    atomic_int state;                         /* tern_state */
    atomic_uint_fast64_t media_next_id;       /* the last media request id handed out */
    atomic_uint media_running, media_waiting; /* tern_media_transfer_counts */

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
    sdk_streams streams;     /* held streamed messages (stream.c) */
    struct sdk_media *media; /* the transfer engine (xfer.c), made at the first transfer */
    /* The conversation-list cache (convlist.c; NULL when the app has no on_event) and
     * its timer, which emits a loop turn's changed entries. */
    struct sdk_convlist *convlist;
    uv_timer_t cl_timer;
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
/* A handle of the client was closed (uv_close callbacks of handles other than the
 * client's own six call it once each, after c->handles_open++ at their init): the
 * last one frees the client in app-loop mode. */
void sdk_handle_closed(tern_client *c);
/* Queues r for the loop thread (any thread). Returns 0, or TERN_ERR_SDK_CANCELED
 * (destroy started; r is then still the caller's). */
int sdk_enqueue(tern_client *c, sdk_req *r);
/* Calls the app's event callback (nothing after destroy). */
void sdk_emit(tern_client *c, tern_event *ev);
/* The `receipt` and `ext` events (notify.c): each becomes its tern_event, or nothing when
 * malformed. */
void sdk_notify_on_event(tern_client *c, const char *ev, const cJSON *data);

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
/* ops.c: completes a REQ_MERGER whose list came inline (r->str) without the network. */
void sdk_merger_complete_inline(tern_client *c, sdk_req *r);
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

/* ---- stream.c ---- */
void sdk_streams_init(sdk_streams *s);
/* Frees every held stream. */
void sdk_streams_free(sdk_streams *s);

/* A `stream` event's data (borrowed). While a sync runs it is copied into the live
 * buffer; otherwise the client rule applies and events are emitted. */
void sdk_stream_on_event(tern_client *c, const cJSON *data);

/* A message object with a `stream` field, from sync or a `msg` event (m borrowed).
 * Returns 1 if it was handled as a stream (a held copy replaced, or a new open stream
 * started), 0 if it is to be delivered as an ordinary message (a finished or ended
 * stream this client does not hold). */
int sdk_stream_on_message(tern_client *c, tern_message *m);

/* The answer to a REQ_STREAM_FETCH (data: the history response's data). */
void sdk_stream_on_fetch(tern_client *c, const struct sdk_req *r, int code, const cJSON *data);

/* A sync completed after a (re)login: every held stream that nothing proved current
 * since the login is fetched again (it may have grown or finished meanwhile). */
void sdk_stream_after_sync(tern_client *c);

/* The live buffer (c->live): append (ownership taken), release everything. */
void sdk_live_push(tern_client *c, tern_message *m, cJSON *ev);
void sdk_live_clear(tern_client *c);

/* ---- convlist.c ----
 *
 * The conversation-list cache behind TERN_EVENT_CONVERSATION_LIST_UPDATED: one entry per
 * conversation id (at most SDK_CONVLIST_MAX, the least recently updated goes first),
 * seeded after every SDK_READY by one `conversations` request (REQ_CONV_SEED, limit
 * SDK_CONVLIST_SEED), refreshed by the answers to the app's tern_get_conversation_list,
 * and updated in between by the messages, reads and conv events the session sees.
 * A change only marks its entry dirty; one event per loop turn (c->cl_timer, 0 ms)
 * carries every dirty entry. From the login until the seed answered (the catch-up
 * sync), nothing is emitted. Everything is a no-op when the app has no on_event
 * (c->convlist NULL). Loop thread only. */
#define SDK_CONVLIST_MAX 10000 /* entries kept */
#define SDK_CONVLIST_SEED 500  /* the seed's limit (the server's maximum) */
/* At tern_client_create: the cache when the app has an on_event (c->cl_timer is
 * initialised by client.c in every case). */
void sdk_convlist_init(tern_client *c);
/* At client_free: every entry. */
void sdk_convlist_free(tern_client *c);
/* A login succeeded: hold events until the seed answered. */
void sdk_convlist_hold(tern_client *c);
/* SDK_READY was emitted: send the seed request (logged in). */
void sdk_convlist_seed(tern_client *c);
/* A request completes (sdk_complete, before the app's callback): the seed's answer or
 * failure, the app's conversation list (refresh, no event), the app's read. */
void sdk_convlist_on_complete(tern_client *c, const sdk_req *r, int code, const cJSON *data);
/* A stored message (seq > 0) this user received, from others or from this user's
 * other sessions (MESSAGE_RECEIVED, STREAM_STARTED, STREAM_FINISHED). m borrowed. */
void sdk_convlist_on_message(tern_client *c, tern_message *m);
/* This client's own send was acknowledged with a seq (or its echo came through sync);
 * no_last: it was sent with excludedFromLastMessage. m borrowed. */
void sdk_convlist_on_sent(tern_client *c, tern_message *m, int no_last);
/* Another session's `read` event: the server's read position and unread count. */
void sdk_convlist_on_read(tern_client *c, const char *conv, uint64_t read_seq, uint64_t unread);
/* The user left the group or it was dismissed: the entry goes, without an event
 * (CONVERSATION_CHANGED says it). */
void sdk_convlist_drop(tern_client *c, const char *conv);

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
