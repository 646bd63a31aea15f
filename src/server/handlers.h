/*
 * handlers.h — the server's side of the network layer (handlers.c): the handler table
 * that turns the layer's events into calls to REST (rest/router.h), the WebSocket
 * upgrade (ws_upgrade.h) and the session layer (session.h).
 */
#ifndef TERN_HANDLERS_H
#define TERN_HANDLERS_H
#include "net/net.h"

/* Fills *h with the server's handlers (every member the server implements; the network
 * layer copies the table in net_new). Connections need sizeof(conn) (conn.h) bytes of
 * user data. */
void handlers_fill(net_handlers *h);

#endif
