/*
 * server.h — ternd's internal model: the server, its I/O loops, connections, shared
 * frames and the inbox that carries work between threads.
 *
 * Threads (docs/architecture.md): N I/O loops each own their connections outright; the
 * store's writer thread commits and then hands results to loops through their inboxes;
 * the main thread runs the control loop (signals, shutdown). A connection is touched
 * only by its own loop; other threads address it by (loop index, connection id) and the
 * loop looks the id up when the inbox item arrives, so a closed connection is simply
 * not found.
 */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "config.h"
#include "core/buf.h"
#include "core/hmap.h"
#include "core/http.h"
#include "core/id.h"
#include "core/ws.h"
#include "store/store.h"
#include "tern/errors.h"

typedef struct server server;
typedef struct ioloop ioloop;
typedef struct uring_batch uring_batch; /* ioloop.c */
typedef struct conn conn;

/* ---- shared frames: encoded once, written to many sockets --------------------------- */

/* A complete WebSocket frame (header + payload), immutable once built, refcounted. */
typedef struct frame {
    atomic_int refs;
    uint32_t len;
    uint8_t data[];
} frame;

/* Builds an unmasked frame of the opcode around payload[0..n), with one reference. */
frame *frame_build(unsigned opcode, const void *payload, size_t n);
/* Builds an unmasked text frame around payload[0..n) with one reference. */
frame *frame_text(const char *payload, size_t n);
/* Builds a close frame with a status code and reason. */
frame *frame_close(int code, const char *reason);
frame *frame_ref(frame *f);
void frame_unref(frame *f);

/* ---- inbox: MPSC queue of work for a loop ------------------------------------------- */

typedef void (*inbox_fn)(ioloop *l, void *arg);

typedef struct inbox_item {
    uint64_t conn_id; /* 0 for callbacks */
    frame *f;         /* frame to write to conn_id (owned reference) */
    int close_code;   /* after writing f, close the connection with this WS code (0: stay) */
    int push;         /* f is a pushed event, not an answer: it may wait push-delay-ms */
    inbox_fn fn;      /* or: a callback to run on the loop */
    void *arg;
} inbox_item;

typedef struct inbox {
    pthread_mutex_t mu;
    inbox_item *items;
    size_t len, cap;
    uv_async_t async;
} inbox;

/* ---- connections -------------------------------------------------------------------- */

enum conn_state { CONN_HTTP = 0, CONN_WS, CONN_CLOSING };

struct conn {
    uv_tcp_t tcp; /* first: the handle's data points here too */
    ioloop *loop;
    uint64_t id;
    uint8_t state;
    uint8_t logged_in;
    uint8_t close_sent;
    uint8_t reading_paused; /* HTTP request in progress (async) */
    uint8_t http_busy;
    uint8_t eof_seen; /* HTTP peer half-closed while an answer was pending */
    uint32_t login_failures;
    uint64_t last_active_ms;
    uint64_t created_ms;
    size_t queued;   /* bytes corked or handed to uv_write and not yet written */
    frame **cork;    /* frames held during an inbox drain (ioloop.c), else NULL */
    conn *cork_next; /* the loop's list of corked connections */
    uint8_t ncork;
    uint8_t cork_listed;
    uint8_t cork_urgent; /* a corked frame answers the client: write at the drain's end */
    http_parser *http;   /* HTTP phase only */
    ws_reader ws;        /* WS phase */
    tern_buf in;         /* HTTP bytes pending while a request is processed */
    /* session (after login) */
    int64_t app;
    char *user;
    char *device;
};

/* ---- I/O loop ----------------------------------------------------------------------- */

struct ioloop {
    server *srv;
    int index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    int listening;
    inbox in;
    uv_timer_t sweep; /* idle / login deadline checks */
    hmap conns;       /* id -> conn* */
    store_reader *reader;
    char *readbuf; /* shared by all connections of the loop: reads are consumed at once */
    int stopping;
    int corking;           /* draining the inbox: conn_send corks frames */
    conn *corked;          /* connections with corked frames */
    uv_timer_t push_timer; /* writes pushes held by push-delay-ms */
    int push_timer_on;
    uring_batch *ub;  /* io_uring for the writes at a drain's end, or NULL (writev) */
    tern_buf scratch; /* per-loop scratch for building responses */
};

/* ---- apps, groups, registry (thread-safe caches) ------------------------------------ */

typedef struct app_info {
    int64_t id;
    char org[65], name[65], client_id[65], secret[65];
    char key[131]; /* "org/app" */
} app_info;

/* Immutable snapshot of a group's members, refcounted; replaced on change. */
typedef struct group_snap {
    atomic_int refs;
    size_t n;
    char **members; /* sorted */
    char owner[65];
} group_snap;

struct server {
    config cfg;
    store *st;
    bus *bus;
    ioloop *loops;
    int nloops;
    uv_loop_t ctl; /* main thread control loop */
    uv_signal_t sigterm, sigint;
    uv_timer_t ctl_timer;
    atomic_int shutting_down;
    atomic_uint_fast64_t next_conn_id;
    tern_idgen online_ids; /* ids for onlineUserOnly messages (not stored) */
    void *gather;          /* the store writer's delivery gather (ioloop.c) */
    char admin_token[65];
    int port; /* bound port */

    pthread_rwlock_t apps_mu;
    app_info *apps;
    size_t napps;

    pthread_mutex_t groups_mu;
    hmap groups; /* "appid/gid" -> group_snap* (absent = not loaded) */

    pthread_mutex_t reg_mu;
    hmap reg; /* "appid/user" -> session_list* (registry.c) */

    /* metrics */
    atomic_uint_fast64_t m_conns, m_ws_sessions, m_msgs_in, m_msgs_out, m_http_requests, m_slow_drops, m_batches,
        m_batch_ops, m_commit_ns, m_errors;
    atomic_uint_fast64_t m_uring_loops, m_uring_sends; /* loops with a ring; sends through rings */
};

/* ---- entry points used across modules ----------------------------------------------- */

/* server.c */
int server_start(server *s); /* opens the store, binds, starts loops; 0 or -1 */
void server_run(server *s);  /* runs the control loop until shutdown completes */
void server_free(server *s);
void server_begin_shutdown(server *s);

/* ioloop.c */
/* Sets up loop l around the listening socket fd (SO_REUSEPORT, already bound). */
int ioloop_init(server *s, ioloop *l, int index, int fd);
int ioloop_start(server *s, ioloop *l, int index);
/* From any thread: close the loop's listener and connections; the thread then ends. */
void ioloop_request_shutdown(ioloop *l);
void ioloop_join(ioloop *l);
/* After the store is closed: runs leftover inbox items and frees the loop. */
void ioloop_free(ioloop *l);
/* Queues an item for loop l from any thread (ownership of item.f moves to the loop).
 * On a thread inside inbox_gather_begin/end, items are held and handed over in bulk by
 * inbox_gather_flush (the store writer does this once per batch). */
void inbox_push(ioloop *l, const inbox_item *it);
void inbox_gather_begin(server *s);
void inbox_gather_flush(server *s);
/* Frees the writer's gather state after the writer thread ended (store_close). */
void inbox_gather_free(server *s);
/* On the loop thread: writes f to c (takes a new reference), honoring the send-queue
 * ceiling; returns 0 or -1 if the connection was closed as a slow consumer. */
int conn_send(conn *c, frame *f);
/* Sends a text payload (copied into a new frame). */
int conn_send_text(conn *c, const char *p, size_t n);
/* Starts closing: WebSocket close frame with code (if WS), then socket close. */
void conn_close(conn *c, int ws_code, const char *reason);
/* Writes raw bytes (HTTP responses). */
void conn_write_raw(conn *c, const char *p, size_t n);
conn *ioloop_find(ioloop *l, uint64_t id);
void http_resume(conn *c); /* continue parsing pipelined HTTP after an async response */

/* rest/router.c: handles one complete HTTP request (not an upgrade). Returns 1 if the
 * response will be written later (async), 0 if written. */
int http_handle(conn *c, const http_msg *m);
/* ws_upgrade.c: tries the WebSocket upgrade; returns 0 on success (conn is now CONN_WS). */
int http_upgrade(conn *c, const http_msg *m);
/* Sends an HTTP JSON error envelope. */
void http_send_error(conn *c, int keep_alive, int code, const char *path);

/* session.c: one complete WebSocket text message from a client. */
void session_on_message(conn *c, char *data, size_t n);
/* Session ended (connection closing). */
void session_on_close(conn *c);

/* registry.c: registry.h (only the bus pushes through it; the domain uses delivery.h) */

/* apps.c */
int apps_load(server *s);
/* Copies the app into out; 0 if found, -1 if not. */
int apps_find(server *s, const char *org, size_t orgn, const char *name, size_t namen, app_info *out);
int apps_find_key(server *s, const char *appkey, app_info *out);
void apps_add(server *s, const app_info *a);
/* Creates the demo app on first start, writes demo-app.json; 0 or -1. */
int apps_bootstrap(server *s);

/* Creates an app with fresh credentials (blocking on the store); TERN_OK or a code. */
int apps_create(server *s, const char *org, const char *name, app_info *out);
/* Writes 2*nbytes random hex digits + NUL into out. */
void random_hex(char *out, size_t nbytes);
/* Submits op and blocks until the writer completed it; returns op->result. Only for
 * threads that are not I/O loops (startup, admin). */
int store_run_sync(store *st, store_op *op);
/* The same, calling first(arg) on the writer thread when op completes, before waking. */
int store_run_sync_then(store *st, store_op *op, void (*first)(void *arg), void *arg);

/* groups.c */
void groups_free_all(server *s);
/* Returns a referenced snapshot of the group's members (loading it with r on a miss),
 * or NULL with *err = TERN_ERR_GROUP_NOT_FOUND / TERN_ERR_STORE. */
group_snap *groups_get(server *s, store_reader *r, int64_t app, const char *gid, int *err);
void groups_invalidate(server *s, int64_t app, const char *gid);
void group_snap_unref(group_snap *g);
int group_snap_has(const group_snap *g, const char *user);

/* session.c helpers shared with rest/ */
/* Parses a client conversation id (C2C<user> / GROUP<group>) into the store's key and
 * the peer; returns 0 or a tern_code. */
int conv_parse(const char *cid, size_t n, const char *me, char *key, size_t keysz, int *is_group, char *peer,
               size_t peersz);

/* metrics.c */
void metrics_write(server *s, tern_buf *out);

#endif
