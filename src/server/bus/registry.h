/*
 * registry.h — this node's session registry: (app, user) -> the live sessions of that
 * user here (loop index, connection id, session id), so a delivery reaches every device
 * on any loop. It sits below the domain, beside the bus: it knows the network layer's
 * loops (it pushes into their inboxes, net_inbox_push) and nothing of the server. Only
 * the bus (bus_local.c, and a cluster bus for its local part) pushes through it; the
 * domain registers sessions through delivery.h and pushes through the bus.
 *
 * One mutex: lookups push into the loops' inboxes under it (inbox locks nest inside it,
 * never the reverse). Every function is thread-safe. The registry keeps its own
 * counters (sessions, frames pushed), which /metrics reads.
 */
#ifndef TERN_REGISTRY_H
#define TERN_REGISTRY_H
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

typedef struct registry registry;

/* Creates an empty registry whose session on loop i is reached through the inbox of
 * net_loop_at(n, i). n must outlive the registry (free the registry after net_free).
 * Returns NULL if out of memory. */
registry *registry_new(net *n);
/* Frees every entry and the registry (after the loops are gone). NULL is a no-op. */
void registry_free(registry *r);

/* Adds session session_id (connection conn_id on loop `loop`, 0 <= loop < the number of
 * loops) of (app, user) unless the user already has max sessions here (0: no limit).
 * Returns 0, or -1 if at the limit. The check and the add run under one lock, so
 * concurrent logins cannot pass it. user is copied. */
int registry_add(registry *r, int64_t app, const char *user, int loop, uint64_t conn_id, uint64_t session_id,
                 size_t max);
/* Removes the session; a session that is not registered is ignored. */
void registry_remove(registry *r, int64_t app, const char *user, uint64_t session_id);
/* Queues f (a new reference per session; the caller keeps its own) for every session of
 * each of users[0..n) except except_session (0: none), under one lock for the whole
 * list (released briefly every 256 users, so a huge group does not stall logins).
 * close_code != 0: each of those sessions is closed with that WebSocket code after f,
 * and f is not held by push-delay-ms. Allocates nothing per session. Returns the number
 * of sessions reached (also added to registry_pushes). */
int registry_push_users(registry *r, int64_t app, const char *const *users, size_t n, uint64_t except_session, frame *f,
                        int close_code);

/* Presence on this node: online[i] = 1 if users[i] (i < n) has a session here, else 0,
 * under the lock (released every 256 users like registry_push_users). For the offline
 * push (hooks/webhook.c), which runs it on its own thread, never on the writer. */
void registry_presence(registry *r, int64_t app, const char *const *users, size_t n, uint8_t *online);

/* Sessions registered now (a gauge). */
uint64_t registry_sessions(registry *r);
/* Frames queued for sessions since the registry was created (a counter). */
uint64_t registry_pushes(registry *r);

#endif
