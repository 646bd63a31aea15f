/*
 * delivery.c — every push to users, on its way to the bus (see delivery.h): session
 * registration with presence, message fan-out, kicks, group events and read sync. The
 * event texts built here are byte for byte those of docs/protocol.md §5.
 */
#include "delivery.h"

#include <stdio.h>
#include <string.h>

#include "bus/registry.h"
#include "context.h"
#include "core/ws.h"

#define SESSION_NODE_SHIFT 53

uint64_t delivery_session_id(const server *s, uint64_t conn_id)
{
    return (uint64_t)(s->cfg.node_id & 1023) << SESSION_NODE_SHIFT | conn_id;
}

int delivery_session_open(server *s, int64_t app, const char *user, int loop, uint64_t conn_id, size_t max,
                          uint64_t *session_id)
{
    uint64_t sid = delivery_session_id(s, conn_id);
    if (registry_add(s->reg, app, user, loop, conn_id, sid, max) != 0)
        return -1;
    bus_session_up(s->bus, app, user, sid);
    *session_id = sid;
    return 0;
}

void delivery_session_close(server *s, int64_t app, const char *user, uint64_t session_id)
{
    registry_remove(s->reg, app, user, session_id);
    bus_session_down(s->bus, app, user, session_id);
}

int delivery_push_users(server *s, int64_t app, const char *const *users, size_t n, uint64_t except_session, frame *f)
{
    return bus_deliver_users(s->bus, app, users, n, except_session, f, 0);
}

void delivery_kick_user(server *s, int64_t app, const char *user, int code)
{
    char ev[128];
    int n = snprintf(ev, sizeof ev, "{\"ev\":\"kicked\",\"data\":{\"code\":%d,\"message\":\"%s\"}}", code,
                     tern_strerror(code));
    if (n < 0 || (size_t)n >= sizeof ev)
        return;
    frame *f = frame_text(ev, (size_t)n);
    bus_deliver_user(s->bus, app, user, 0, f, WS_CLOSE_KICKED);
    frame_unref(f);
}

void delivery_group_event(server *s, int64_t app, const char *const *users, size_t n, const char *gid,
                          const char *reason)
{
    char ev[256];
    int len = snprintf(ev, sizeof ev, "{\"ev\":\"conv\",\"data\":{\"conversationID\":\"GROUP%s\",\"reason\":\"%s\"}}",
                       gid, reason);
    if (!n || len < 0 || (size_t)len >= sizeof ev)
        return;
    frame *f = frame_text(ev, (size_t)len);
    bus_deliver_users(s->bus, app, users, n, 0, f, 0);
    frame_unref(f);
}

void delivery_read_sync(server *s, int64_t app, const char *user, uint64_t except_session, const char *data, size_t n)
{
    static const char pre[] = "{\"ev\":\"read\",\"data\":";
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_append(&b, pre, sizeof pre - 1);
    tern_buf_append(&b, data, n);
    tern_buf_putc(&b, '}');
    frame *f = frame_text(b.data, b.len);
    tern_buf_free(&b);
    bus_deliver_user(s->bus, app, user, except_session, f, 0);
    frame_unref(f);
}
