/*
 * ws_upgrade.h — the WebSocket handshake on GET /ws (RFC 6455, subprotocol tern.v1),
 * the entry of the session layer for an HTTP request that asks to upgrade.
 */
#ifndef TERN_WS_UPGRADE_H
#define TERN_WS_UPGRADE_H
#include "conn.h"
#include "core/http.h"

/* Tries the upgrade request m on c (loop thread). Returns 0 after the 101 response (the
 * connection speaks WebSocket from now on), or -1 after answering with an error body
 * and starting to close the connection. */
int http_upgrade(conn *c, const http_msg *m);

#endif
