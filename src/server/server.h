/*
 * server.h — ternd's internal model: the server, its per-loop and per-connection state,
 * and the entry points its modules share.
 *
 * Threads (docs/architecture.md): the network layer (src/net) runs N I/O loops, each
 * owning its connections outright; the store's writer thread commits and then hands
 * results to loops through their inboxes; the main thread runs the control loop
 * (signals, shutdown). A connection is touched only by its own loop; other threads
 * address it by (loop index, connection id) and the loop looks the id up when the inbox
 * item arrives, so a closed connection is simply not found. The network layer calls the
 * server through the handlers of handlers.c; the server's state hangs off the layer's
 * user data (struct conn per connection, struct ioloop per loop).
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
#include "net/net.h"
#include "store/store.h"
#include "tern/errors.h"

typedef struct server server;
typedef struct ioloop ioloop;
typedef struct conn conn;

/* The network layer (src/net) owns loops, sockets, frames and the inbox; these are the
 * server's names for its items. */
typedef net_inbox_item inbox_item;

/* ---- the server's per-connection and per-loop state --------------------------------- */

/* A connection as the server sees it: the network layer's user data (allocated with the
 * connection, zeroed at accept, filled by handlers.c). The session fields are set at
 * login. */
struct conn {
    ioloop *loop;
    uint64_t id; /* the layer's connection id, unique in the process */
    int64_t app;
    char *user;
    char *device;
    uint8_t logged_in;
};

/* An I/O loop as the server sees it: the network layer's loop user data. */
struct ioloop {
    server *srv;
    int index;
    net_loop *net;
    store_reader *reader;
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
    net *net;      /* the network layer: loops, connections */
    ioloop *loops; /* the server's state per loop */
    int nloops;
    uv_loop_t ctl; /* main thread control loop */
    uv_signal_t sigterm, sigint;
    uv_timer_t ctl_timer;
    atomic_int shutting_down;
    tern_idgen online_ids; /* ids for onlineUserOnly messages (not stored) */
    char admin_token[65];
    int port; /* bound port */

    pthread_rwlock_t apps_mu;
    app_info *apps;
    size_t napps;

    pthread_mutex_t groups_mu;
    hmap groups; /* "appid/gid" -> group_snap* (absent = not loaded) */

    pthread_mutex_t reg_mu;
    hmap reg; /* "appid/user" -> session_list* (registry.c) */

    /* metrics (the network layer counts its own: net_get_stats) */
    atomic_uint_fast64_t m_ws_sessions, m_msgs_in, m_msgs_out, m_batches, m_batch_ops, m_commit_ns, m_errors;
};

/* ---- entry points used across modules ----------------------------------------------- */

/* server.c */
int server_start(server *s); /* opens the store, binds, starts loops; 0 or -1 */
void server_run(server *s);  /* runs the control loop until shutdown completes */
void server_free(server *s);
void server_begin_shutdown(server *s);

/* handlers.c: the server's side of the network layer */
/* Fills the layer's handler table with the server's handlers. */
void handlers_fill(net_handlers *h);
/* The server's conn of a layer connection, and back. */
static inline conn *conn_of(net_conn *nc)
{
    return net_conn_ud(nc);
}
static inline net_conn *conn_net(conn *c)
{
    return net_conn_of_ud(c);
}
/* Queues an item for loop l from any thread (see net_inbox_push). */
static inline void inbox_push(ioloop *l, const inbox_item *it)
{
    net_inbox_push(l->net, it);
}
/* The loop's connection with this id, or NULL. Loop thread only. */
static inline conn *ioloop_find(ioloop *l, uint64_t id)
{
    net_conn *nc = net_loop_find(l->net, id);
    return nc ? conn_of(nc) : NULL;
}
/* The server's loop of a layer loop (inbox callbacks get the latter). */
static inline ioloop *ioloop_of(net_loop *nl)
{
    return net_loop_ud(nl);
}
/* On the loop thread: net_conn_send and friends for the server's conn. */
static inline int conn_send(conn *c, frame *f)
{
    return net_conn_send(conn_net(c), f);
}
static inline int conn_send_text(conn *c, const char *p, size_t n)
{
    return net_conn_send_text(conn_net(c), p, n);
}
static inline void conn_close(conn *c, int ws_code, const char *reason)
{
    net_conn_close(conn_net(c), ws_code, reason);
}
static inline void conn_write_raw(conn *c, const char *p, size_t n)
{
    net_conn_write(conn_net(c), p, n);
}
static inline int conn_is_http(conn *c)
{
    return net_conn_is_http(conn_net(c));
}
/* Continues parsing pipelined HTTP after an asynchronous response. */
static inline void http_resume(conn *c)
{
    net_http_resume(conn_net(c));
}

/* rest/router.c: handles one complete HTTP request (not an upgrade). Returns 1 if the
 * response will be written later (async), 0 if written. */
int http_handle(conn *c, const http_msg *m);
/* ws_upgrade.c: tries the WebSocket upgrade; returns 0 on success (the connection speaks WebSocket). */
int http_upgrade(conn *c, const http_msg *m);
/* Sends an HTTP JSON error envelope. */
void http_send_error(conn *c, int keep_alive, int code, const char *path);

/* session.c: one complete WebSocket text message from a client. */
void session_on_message(conn *c, char *data, size_t n);
/* The WebSocket was accepted: the login deadline starts. */
void session_on_open(conn *c);
/* Session ended (connection closing). */
void session_on_close(conn *c);
/* The send queue overflowed: the last frame to write (resync), owned. */
frame *session_on_overflow(conn *c);
/* The server shuts down: the `shutdown` event. */
void session_on_shutdown(conn *c);

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
