/*
 * conn.h — a connection as the server's handlers see it: the server's per-connection
 * state (the network layer's user data, allocated and zeroed with the connection,
 * filled by handlers.c) and the server's names for the layer's connection, loop and
 * inbox calls. Used by the handler side only (handlers.c, session.c, ws_upgrade.c,
 * rest/router.c); the domain addresses a connection by (loop index, connection id).
 *
 * Every conn_* call runs on the connection's loop thread; inbox_push runs anywhere.
 */
#ifndef TERN_CONN_H
#define TERN_CONN_H
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "net/net.h"

typedef struct conn conn;

/* The network layer (src/net) owns loops, sockets, frames and the inbox; this is the
 * server's name for its items. */
typedef net_inbox_item inbox_item;

/* The session fields (app, user, device: owned strings) are set at login and freed by
 * handlers.c when the connection closes. */
struct conn {
    ioloop *loop;
    uint64_t id; /* the layer's connection id, unique in the process */
    int64_t app;
    char *user;
    char *device;
    uint8_t logged_in;
    struct rest_body *body; /* a streamed request body's sink (rest/router.c), or NULL */
};

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
/* On the loop thread: net_conn_send and friends for the server's conn (same contracts,
 * net.h). */
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

#endif
