/*
 * health.c — GET /healthz (200 {"status":"ok"}, 503 {"status":"stopping"} during
 * shutdown) and GET /metrics (Prometheus text, docs/operations.md). No envelope, no
 * authentication; HEAD answers the same heads without a body (the router).
 */
#include <string.h>

#include "metrics.h"
#include "rest/rest.h"

int health_get(rctx *x, const http_msg *m)
{
    int stopping = atomic_load(&rest_server(x)->shutting_down);
    const char *b = stopping ? "{\"status\":\"stopping\"}" : "{\"status\":\"ok\"}";
    rest_reply_raw(x, stopping ? 503 : 200, "application/json", b, strlen(b));
    return 0;
}

int metrics_get(rctx *x, const http_msg *m)
{
    tern_buf body;
    tern_buf_init(&body, 0);
    metrics_write(rest_server(x), &body);
    rest_reply_raw(x, 200, "text/plain; version=0.0.4", body.data, body.len);
    tern_buf_free(&body);
    return 0;
}
