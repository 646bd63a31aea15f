/*
 * ws_upgrade.c — the WebSocket handshake on GET /ws (RFC 6455, subprotocol tern.v1):
 * the entry of the session layer for an HTTP request that asks to upgrade. A refused
 * handshake is answered with an error body and the connection closes.
 */
#include "ws_upgrade.h"

#include <stdio.h>

#include "core/ws.h"
#include "rest/rest.h"

static void upgrade_fail(conn *c, int status, const char *why)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    rest_http_error(&b, status, "bad_upgrade", TERN_ERR_BAD_FIELD, why);
    conn_write_raw(c, b.data, b.len);
    tern_buf_free(&b);
    conn_close(c, 0, NULL);
}

int http_upgrade(conn *c, const http_msg *m)
{
    if (m->method != HTTP_M_GET || !tern_str_eq(m->path, "/ws")) {
        upgrade_fail(c, 404, "WebSocket endpoint is GET /ws");
        return -1;
    }
    if (atomic_load(&c->loop->srv->shutting_down)) {
        upgrade_fail(c, 503, "server shutting down");
        return -1;
    }
    tern_str up = http_header_get(m, "Upgrade");
    tern_str key = http_header_get(m, "Sec-WebSocket-Key");
    tern_str ver = http_header_get(m, "Sec-WebSocket-Version");
    tern_str proto = http_header_get(m, "Sec-WebSocket-Protocol");
    if (!http_header_has_token(up, "websocket") || !key.n || !tern_str_eq(ver, "13")) {
        upgrade_fail(c, 400, "bad WebSocket handshake");
        return -1;
    }
    int offer = proto.n > 0;
    if (offer && !http_header_has_token(proto, "tern.v1")) {
        upgrade_fail(c, 400, "subprotocol tern.v1 required");
        return -1;
    }
    char accept[29];
    if (ws_accept_key(key.p, key.n, accept) < 0) {
        upgrade_fail(c, 400, "bad Sec-WebSocket-Key");
        return -1;
    }
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                     accept, offer ? "Sec-WebSocket-Protocol: tern.v1\r\n" : "");
    net_conn_ws_accept(conn_net(c), resp, (size_t)n);
    return 0;
}
