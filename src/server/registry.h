/*
 * registry.h — this node's session registry: (app, user) -> the live sessions of that
 * user here (loop index, connection id, session id), so a delivery reaches every device
 * on any loop. Only the bus (bus_local.c, and a cluster bus for its local part) pushes
 * through it; the domain goes through delivery.h. One mutex: lookups push into the
 * loops' inboxes under it (inbox locks nest inside it, never the reverse).
 */
#ifndef TERN_REGISTRY_H
#define TERN_REGISTRY_H
#include <stddef.h>
#include <stdint.h>

struct server;
struct frame;

/* Adds session session_id (connection conn_id on loop `loop`) of (app, user) unless the
 * user already has max sessions here (0: no limit). Returns 0, or -1 if at the limit.
 * The check and the add run under one lock, so concurrent logins cannot pass it. */
int registry_add(struct server *s, int64_t app, const char *user, int loop, uint64_t conn_id, uint64_t session_id,
                 size_t max);
/* Removes the session; a session that is not registered is ignored. */
void registry_remove(struct server *s, int64_t app, const char *user, uint64_t session_id);
/* Queues f (a new reference per session; the caller keeps its own) for every session of
 * each of users[0..n) except except_session (0: none), under one lock for the whole
 * list (released briefly every 256 users, so a huge group does not stall logins).
 * close_code != 0: each of those sessions is closed with that WebSocket code after f,
 * and f is not held by push-delay-ms. Returns the number of sessions reached (also
 * added to the msgs_out metric). */
int registry_push_users(struct server *s, int64_t app, const char *const *users, size_t n, uint64_t except_session,
                        struct frame *f, int close_code);
/* Frees every entry (server_free, after the loops are gone). */
void registry_free(struct server *s);

#endif
