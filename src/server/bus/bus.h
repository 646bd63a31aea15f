/*
 * bus.h — how an event reaches the sessions of users, wherever they are connected.
 *
 * The domain (delivery.c) is the bus's only caller: every push — a message's fan-out,
 * a kick, a group event, a read position — is one call here, addressed by (app, user)
 * and excluding at most one session by its session id. A session id is unique across
 * the cluster (delivery.h), so "not the session that sent it" means the same on every
 * node; a loop-local connection id never leaves this node.
 *
 * One node (bus_local.c): the session registry of this process (bus/registry.h); a call
 * takes the registry lock once, however many users it names.
 *
 * A cluster (later, bus_nats.c) keeps that local delivery and adds:
 *   - bus_deliver_user / bus_deliver_users: hand the event to the local registry as
 *     bus_local does, then publish ONE message per node that holds a session of any
 *     named user (found through the presence table below): the frame bytes (server
 *     frames are unmasked, so the same bytes are valid on every node), the close code,
 *     the excluded session id and the subset of users that node holds. A node never
 *     gets one publish per member. The receiving node's bus hands the frame to its own
 *     registry (exactly bus_local's call), never republishing.
 *   - bus_session_up / bus_session_down: publish the presence change on the app's
 *     presence subject and keep a table user -> set of nodes with sessions, built from
 *     every node's announcements (and refreshed from a periodic full announcement so a
 *     node that died is dropped). That table is what lets a delivery skip nodes where
 *     the user has no session.
 * Everything here is non-blocking: a cluster bus queues its publishes for a thread of
 * its own and never waits on the network in these calls.
 */
#ifndef TERN_BUS_H
#define TERN_BUS_H
#include <stddef.h>
#include <stdint.h>

struct frame;
struct registry;

typedef struct bus bus;

/* What a bus is opened with. The bus knows no server: everything it needs is here, and
 * a cluster bus adds its own settings (bus_nats.c: the NATS URL) the same way. */
typedef struct bus_options {
    struct registry *registry; /* this node's sessions, where local deliveries go; must
                                  outlive the bus */
    unsigned node_id;          /* this node (0..1023, the --node-id setting) */
} bus_options;

/* Opens the bus described by o (copied); NULL on failure. bus_close(NULL) is a no-op. */
bus *bus_open(const bus_options *o);
void bus_close(bus *b);

/* Delivers frame f to every session of (app, user) except the session except_session
 * (0: none). close_code 0: a pushed event (it may wait for push-delay-ms); otherwise
 * the WebSocket close code each session is closed with right after f (a kick).
 * The caller keeps its reference to f; the bus takes its own per session.
 * Thread-safe (the store writer and any loop call it); never blocks on the network.
 * Returns the number of local sessions reached. */
int bus_deliver_user(bus *b, int64_t app, const char *user, uint64_t except_session, struct frame *f, int close_code);

/* The same for users[0..n) in one call, so a group's fan-out is one call, not one per
 * member: bus_local takes the registry lock once; a cluster bus publishes once per
 * node. Each named user's sessions get f once per naming, so callers pass distinct
 * users. Returns the number of local sessions reached. */
int bus_deliver_users(bus *b, int64_t app, const char *const *users, size_t n, uint64_t except_session, struct frame *f,
                      int close_code);

/* Presence: a session of (app, user) with id session_id appeared on this node (after
 * login, once it can receive deliveries) or disappeared (its connection closed). The
 * session layer calls them through delivery.c, once each per session, in that order.
 * bus_local only counts them; bus_nats announces them to the other nodes. */
void bus_session_up(bus *b, int64_t app, const char *user, uint64_t session_id);
void bus_session_down(bus *b, int64_t app, const char *user, uint64_t session_id);

/* Sessions announced up and not yet down through this bus (tests, metrics). */
uint64_t bus_sessions_up(bus *b);

#endif
