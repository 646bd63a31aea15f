/*
 * delivery.h — the domain's one way to push to users: every event a server sends that
 * no request asked for (a message's fan-out, a kick, a group event, a read position)
 * goes through these functions, and they go through the bus (bus/bus.h), so on a
 * cluster they reach every node. Nothing else calls the bus or the registry's pushes.
 *
 * Sessions. A logged-in WebSocket connection is a session with a session id that is
 * unique across the cluster: the node id (0..1023) in bits 53..62 above the process's
 * connection id (unique in the process, never reused, never 0). On node 0 the session
 * id therefore equals the connection id, which is what login's "sessionId" always said.
 * Deliveries exclude by session id ("every session of the user but the one that sent
 * it"), which means the same on every node; the registry maps it back to (loop,
 * connection) on the node that holds it.
 *
 * All functions are thread-safe (loops, the store writer, REST worker completions) and
 * never block on the network. A frame passed in stays the caller's: the bus takes its
 * own references.
 */
#ifndef TERN_DELIVERY_H
#define TERN_DELIVERY_H
#include <stddef.h>
#include <stdint.h>

struct server;
struct frame;

/* The session id of connection conn_id of this node (see above); never 0 for a
 * connection id != 0. */
uint64_t delivery_session_id(const struct server *s, uint64_t conn_id);

/* Registers a session of (app, user) held by connection conn_id on loop `loop`, unless
 * the user already has max sessions on this node (0: no limit), and announces it to the
 * bus (presence). Returns 0 and the session id in *session_id, or -1 at the limit
 * (nothing registered or announced). */
int delivery_session_open(struct server *s, int64_t app, const char *user, int loop, uint64_t conn_id, size_t max,
                          uint64_t *session_id);
/* The session ended (its connection is closing): unregisters it and announces it. */
void delivery_session_close(struct server *s, int64_t app, const char *user, uint64_t session_id);

/* Pushes f to every session of each of users[0..n) but except_session (0: none): one
 * bus call for the whole list (a group's members, or a C2C peer and the sender).
 * Returns the number of local sessions reached. */
int delivery_push_users(struct server *s, int64_t app, const char *const *users, size_t n, uint64_t except_session,
                        struct frame *f);

/* Kicks every session of (app, user): {"ev":"kicked","data":{"code":<code>,"message":
 * "<tern_strerror(code)>"}} and then WebSocket close 4003 (docs/protocol.md). */
void delivery_kick_user(struct server *s, int64_t app, const char *user, int code);

/* Tells users[0..n) (one bus call) that their membership of group gid changed:
 * {"ev":"conv","data":{"conversationID":"GROUP<gid>","reason":"<reason>"}}. gid is an
 * identifier and reason a fixed word ("joined", "left", ...): written unescaped. */
void delivery_group_event(struct server *s, int64_t app, const char *const *users, size_t n, const char *gid,
                          const char *reason);

/* Tells the other sessions of (app, user) (all but except_session) a new read position:
 * {"ev":"read","data":<data[0..n)>}, data being the read op's answer object. */
void delivery_read_sync(struct server *s, int64_t app, const char *user, uint64_t except_session, const char *data,
                        size_t n);

#endif
