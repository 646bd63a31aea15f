/*
 * session.h — the WebSocket session layer (session.c, docs/protocol.md): one JSON
 * request per text message, the login deadline, and the texts a session gets when its
 * send queue overflows (resync) or the server shuts down. handlers.c calls the
 * session_on_* functions for the network layer's WebSocket events, on the connection's
 * loop thread.
 */
#ifndef TERN_SESSION_H
#define TERN_SESSION_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "conn.h"
#include "core/buf.h"

/* One complete, valid UTF-8 text message from the client; data is writable scratch
 * valid only during the call. Answers (now or through the inbox later). */
void session_on_message(conn *c, char *data, size_t n);
/* The WebSocket was accepted: the login deadline starts. */
void session_on_open(conn *c);
/* The logged-in session ended (its connection is closing): unregistered, announced. */
void session_on_close(conn *c);
/* The send queue overflowed: returns the last frame to write (the resync event, an
 * owned reference), or NULL. The layer then closes with 4001. */
frame *session_on_overflow(conn *c);
/* The server shuts down: sends the `shutdown` event (the layer closes with 1001). */
void session_on_shutdown(conn *c);

/* Parses a client conversation id cid[0..n) (C2C<user> / GROUP<group>, seen by user
 * me) into the store's key (key[keysz]), whether it is a group, and the peer (the other
 * user or the group id, peer[peersz]). Returns 0 or a tern_code (core/conv.h). Shared
 * with rest/conversations.c. */
int conv_parse(const char *cid, size_t n, const char *me, char *key, size_t keysz, int *is_group, char *peer,
               size_t peersz);

/* session_friends.c, the `friends` op (docs/protocol.md §4): appends its answer's data
 * {"friends":["bob",...]} (the user's friends in id order) to out. TERN_OK, or the code
 * to answer (5002). */
int session_friends(conn *c, const cJSON *root, tern_buf *out);

#endif
