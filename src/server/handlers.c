/*
 * handlers.c — the server's side of the network layer (src/net): the handler table it
 * registers, which turns the layer's events into calls to the REST router (rest/)
 * and the WebSocket session layer (session.c), and the HTTP error bodies of requests
 * the layer refuses itself (docs/errors.md, "HTTP errors").
 *
 * The server's per-connection state (struct conn in conn.h) is the layer's user data:
 * allocated and zeroed with the connection, filled here at accept, its strings freed
 * here when the connection closes.
 */
#include "handlers.h"

#include <string.h>

#include "conn.h"
#include "core/alloc.h"
#include "rest/rest.h"
#include "rest/router.h"
#include "session.h"
#include "ws_upgrade.h"

static void on_open(net_conn *nc)
{
    conn *c = conn_of(nc);
    c->loop = ioloop_of(net_conn_loop(nc));
    c->id = net_conn_id(nc);
}

static int on_http_request(net_conn *nc, const http_msg *m)
{
    return http_handle(conn_of(nc), m) ? NET_HTTP_ASYNC : NET_HTTP_DONE;
}

/* A request head with a body: the route's body limit (rest/routes.c) decides, so a body
 * over it gets 413 before a byte of it is read; a streamed route (the media upload)
 * checks auth and its own limit here and takes the body piece by piece. */
static int on_http_head(net_conn *nc, const http_msg *m, size_t *limit)
{
    return rest_http_head(conn_of(nc), m, limit);
}

static int on_http_body(net_conn *nc, const char *data, size_t n)
{
    return rest_http_body(conn_of(nc), data, n);
}

static int on_ws_upgrade(net_conn *nc, const http_msg *m)
{
    conn *c = conn_of(nc);
    if (http_upgrade(c, m) != 0)
        return -1;
    session_on_open(c);
    return 0;
}

static void on_ws_text(net_conn *nc, char *data, size_t n)
{
    session_on_message(conn_of(nc), data, n);
}

static void on_close(net_conn *nc)
{
    conn *c = conn_of(nc);
    rest_http_closed(c);
    if (c->logged_in) {
        session_on_close(c);
        c->logged_in = 0;
    }
    tern_free(c->user);
    tern_free(c->device);
    c->user = c->device = NULL;
}

static frame *on_overflow(net_conn *nc)
{
    return session_on_overflow(conn_of(nc));
}

static void on_shutdown(net_conn *nc)
{
    session_on_shutdown(conn_of(nc));
}

static void on_http_error(net_conn *nc, int status)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    if (status == 431)
        rest_http_error(&b, status, "header_too_large", TERN_ERR_BAD_FIELD, "request head over 16 KiB");
    else if (status == 413)
        rest_http_error(&b, status, "body_too_large", TERN_ERR_BAD_FIELD, "request body over the limit");
    else if (status == 408)
        rest_http_error(&b, status, "request_timeout", TERN_ERR_BAD_FIELD, "request not received in time");
    else
        rest_http_error(&b, status, "bad_request", TERN_ERR_BAD_JSON, "malformed HTTP request");
    net_conn_write(nc, b.data, b.len);
    tern_buf_free(&b);
}

void handlers_fill(net_handlers *h)
{
    *h = (net_handlers){.open = on_open,
                        .http_request = on_http_request,
                        .http_head = on_http_head,
                        .http_body = on_http_body,
                        .ws_upgrade = on_ws_upgrade,
                        .ws_text = on_ws_text,
                        .close = on_close,
                        .overflow = on_overflow,
                        .shutdown = on_shutdown,
                        .http_error = on_http_error};
}
