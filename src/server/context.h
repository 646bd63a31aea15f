/*
 * context.h — ternd's shared context: the server (settings, store, bus, network layer,
 * caches, counters) and the server's state per I/O loop. Every server module gets the
 * server through these structures; each module's own calls are in its header (apps.h,
 * groups.h, delivery.h, msg.h, conn.h, session.h, ...), the lifecycle in server.h.
 *
 * Threads (docs/architecture.md): the network layer (src/net) runs N I/O loops, each
 * owning its connections outright; the store's writer thread commits and then hands
 * results to loops through their inboxes; the main thread runs the control loop
 * (signals, shutdown). A connection is touched only by its own loop; other threads
 * address it by (loop index, connection id) and the loop looks the id up when the inbox
 * item arrives, so a closed connection is simply not found. The network layer calls the
 * server through the handlers of handlers.c; the server's state hangs off the layer's
 * user data (struct conn of conn.h per connection, struct ioloop below per loop).
 */
#ifndef TERN_CONTEXT_H
#define TERN_CONTEXT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "bus/registry.h"
#include "config.h"
#include "core/buf.h"
#include "core/hmap.h"
#include "core/id.h"
#include "net/net.h"
#include "store/store.h"
#include "tern/errors.h"

typedef struct server server;
typedef struct ioloop ioloop;
struct app_info; /* apps.h */

/* An I/O loop as the server sees it: the network layer's loop user data. */
struct ioloop {
    server *srv;
    int index;
    net_loop *net;
    store_reader *reader;
    tern_buf scratch; /* per-loop scratch for building responses */
};

struct server {
    config cfg;
    store *st;
    bus *bus;
    registry *reg; /* this node's sessions (bus/registry.h) */
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
    struct app_info *apps; /* apps.c */
    size_t napps;

    struct stream_table *streams;    /* stream.c: open streamed messages */
    struct media_service *media;     /* media/media.c: the media store and its sweeper */
    struct ratelimit *ratelimit;     /* ratelimit.c: group and REST group-send rates */
    struct rcpt_events *rcpt_events; /* receipts.c: group receipt events of a batch */
    struct webhook *webhook;      /* hooks/webhook.c: push and callbacks to app backends */
    struct moderation *moderation; /* hooks/moderation.c: the apps' keyword matchers */
    pthread_mutex_t groups_mu;
    hmap groups; /* "appid/gid" -> group_snap* (absent = not loaded) */

    /* metrics (the network layer and the registry count their own: net_get_stats,
     * registry_sessions, registry_pushes) */
    atomic_uint_fast64_t m_msgs_in, m_batches, m_batch_ops, m_commit_ns, m_errors;
};

#endif
