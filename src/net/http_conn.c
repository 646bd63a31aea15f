/*
 * http_conn.c — the HTTP/1.1 phase of a connection: feeding the request parser, handing
 * complete requests and upgrade requests to the server's handlers, holding pipelined
 * bytes while an answer is pending (or while the peer does not read its answers), and
 * the sweep's HTTP rules.
 *
 * Timing rules (checked by the loop's once-a-second sweep):
 *   - between requests, a connection may stay idle http_idle_ms;
 *   - a request head must arrive whole within http_head_timeout_ms of its first byte,
 *     however it trickles (the idle rule alone restarts on every byte, so one byte a
 *     second held a descriptor forever): 408 and close;
 *   - a request body must average http_body_min_rate bytes/s, measured from the end of
 *     the head once http_head_timeout_ms have passed, while the layer is reading it:
 *     408 and close.
 * While the server answers asynchronously no rule applies: the client is waiting for us.
 */
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "net/net_int.h"

void http_conn_free(net_conn *c)
{
    http_parser_free(c->http);
    c->http = NULL;
    tern_buf_free(&c->in);
    if (c->x && c->x->fd >= 0)
        close(c->x->fd);
    tern_free(c->x);
    c->x = NULL;
}

/* After the 101: the connection's memory now holds the WebSocket reader. */
static void http_conn_to_ws(net_conn *c)
{
    http_conn_free(c);
    ws_reader_init(&c->ws, 1, c->loop->net->cfg.ws_max_message);
    c->ws_phase = 1;
}

/* Refuses the request with status and closes (the server writes the body). */
static void http_refuse(net_conn *c, int status)
{
    net *n = c->loop->net;
    if (n->h.http_error) {
        n->h.http_error(c, status);
    } else {
        tern_buf b;
        tern_buf_init(&b, 0);
        http_write_head(&b, status, NULL, 0, 0, NULL);
        net_conn_write(c, b.data, b.len);
        tern_buf_free(&b);
    }
    net_conn_close(c, 0, NULL);
}

static void pause_reading(net_conn *c)
{
    if (!c->reading_paused) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading_paused = 1;
    }
}

static int body_sink(void *ud, const char *data, size_t n)
{
    net_conn *c = ud;
    int r = c->loop->net->h.http_body(c, data, n);
    return r == NET_BODY_PAUSE || c->state != CONN_HTTP;
}

/* The head of a request with a body is complete: the server chooses the body's limit
 * and mode. Returns 0 to read the body, -1 if the request was refused (closing). */
static int http_conn_head(net_conn *c)
{
    net *nt = c->loop->net;
    const http_msg *m = http_parser_msg(c->http);
    size_t limit = nt->cfg.max_http_body;
    int mode = nt->h.http_head ? nt->h.http_head(c, m, &limit) : NET_BODY_WHOLE;
    if (c->state != CONN_HTTP)
        return -1;
    if (mode == NET_BODY_REFUSED) {
        net_conn_close(c, 0, NULL); /* the body is not read: the connection cannot go on */
        return -1;
    }
    uint64_t len;
    if (http_parser_declared_length(c->http, &len) && len > limit) {
        http_refuse(c, 413); /* before any body byte is read */
        return -1;
    }
    if (mode == NET_BODY_STREAM && !nt->h.http_body)
        mode = NET_BODY_WHOLE;
    if (http_header_has_token(http_header_get(m, "Expect"), "100-continue")) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        net_conn_write(c, cont, sizeof cont - 1);
    }
    http_parser_set_body(c->http, limit, mode == NET_BODY_STREAM ? body_sink : NULL, c);
    /* The body's clock starts at the end of the head. */
    c->deadline_ms = (uint64_t)tern_now_ms();
    c->dl.body_base = 0;
    return 0;
}

void http_conn_process(net_conn *c, char *data, size_t n)
{
    net *nt = c->loop->net;
    while (n > 0 && c->state == CONN_HTTP) {
        if (c->http_busy || c->queued > NET_HTTP_QUEUE_MAX) {
            /* A request is being answered asynchronously, or the peer is not reading its
             * answers: hold pipelined bytes and stop reading (a pipelining client that
             * never reads cannot make us queue responses without bound). */
            if (tern_buf_append(&c->in, data, n) < 0) {
                net_conn_close(c, 0, NULL);
                return;
            }
            pause_reading(c);
            return;
        }
        uint64_t now = (uint64_t)tern_now_ms();
        int before = http_parser_phase(c->http, NULL);
        if (before == HTTP_PHASE_IDLE)
            c->deadline_ms = now; /* the head's clock starts with its first byte */
        size_t used = 0;
        int rc = http_parser_feed(c->http, data, n, &used);
        /* A head never turns into a body inside one feed: the parser pauses at every
         * head (conn_new), and http_conn_head starts the body's clock. */
        if (rc == HTTP_NEED_MORE)
            return;
        if (rc == HTTP_HEAD_DONE || rc == HTTP_BODY_PAUSED) {
            data += used;
            n -= used;
            if (rc == HTTP_HEAD_DONE && http_conn_head(c) != 0)
                return;
            if (rc == HTTP_BODY_PAUSED) {
                if (c->state != CONN_HTTP)
                    return;
                /* Hold the rest of this read and stop reading until the handler asks. */
                http_x_get(c)->body_paused = 1;
                if (n && tern_buf_append(&c->in, data, n) < 0) {
                    net_conn_close(c, 0, NULL);
                    return;
                }
                pause_reading(c);
                return;
            }
            continue;
        }
        if (rc < 0) {
            int status = rc == HTTP_ERR_HEAD_TOO_LARGE ? 431 : rc == HTTP_ERR_BODY_TOO_LARGE ? 413 : 400;
            http_refuse(c, status);
            return;
        }
        data += used;
        n -= used;
        const http_msg *m = http_parser_msg(c->http);
        atomic_fetch_add(&nt->stats.http_requests, 1);
        if (m->upgrade) {
            if (nt->h.ws_upgrade(c, m) == 0 && c->state == CONN_WS) {
                /* data is in the loop's read buffer or in the caller's copy of the held
                 * bytes (http_conn_continue), never in c->in: the HTTP state can go. */
                http_conn_to_ws(c);
                if (n)
                    conn_process_ws(c, (uint8_t *)data, n);
            }
            return;
        }
        c->in_request = 1;
        c->resume_pending = 0;
        int r = nt->h.http_request(c, m);
        c->in_request = 0;
        if (r == NET_HTTP_ASYNC && !c->resume_pending) {
            c->http_busy = 1;
            continue; /* stashes the rest above */
        }
        c->resume_pending = 0;
        if (c->state != CONN_HTTP)
            return;
        http_parser_next(c->http);
    }
}

void http_conn_continue(net_conn *c)
{
    if (!c->ws_phase && c->x && c->x->body_paused)
        return; /* the body handler holds the reading */
    if (c->in.len && !c->http_busy && c->queued <= NET_HTTP_QUEUE_MAX) {
        tern_buf pending = c->in;
        tern_buf_init(&c->in, NET_HTTP_PENDING_MAX);
        http_conn_process(c, pending.data, pending.len);
        tern_buf_free(&pending);
    }
    if (c->state == CONN_CLOSING || !c->reading_paused || (!c->ws_phase && c->x && c->x->body_paused))
        return;
    if (c->state == CONN_HTTP && c->eof_seen && !c->http_busy && !c->in.len) {
        net_conn_close(c, 0, NULL); /* the peer half-closed: its last answer is written */
        return;
    }
    /* Also after an upgrade that arrived pipelined behind an async request. */
    if (c->state == CONN_WS || (!c->http_busy && !c->in.len && c->queued <= NET_HTTP_QUEUE_MAX && !c->eof_seen)) {
        c->reading_paused = 0;
        /* Time spent paused by us does not count against the client. */
        uint64_t got;
        if (c->state == CONN_HTTP && http_parser_phase(c->http, &got) != HTTP_PHASE_IDLE) {
            c->deadline_ms = (uint64_t)tern_now_ms();
            c->dl.body_base = got;
        }
        uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read);
    }
}

void net_http_resume(net_conn *c)
{
    if (c->state != CONN_HTTP)
        return;
    if (c->in_request) { /* answered inside the handler: http_conn_process goes on */
        c->resume_pending = 1;
        return;
    }
    c->http_busy = 0;
    http_parser_next(c->http);
    http_conn_continue(c);
}

void net_http_body_resume(net_conn *c)
{
    if (c->state != CONN_HTTP || !c->x || !c->x->body_paused)
        return;
    c->x->body_paused = 0;
    http_conn_continue(c);
}

void http_conn_sweep(net_conn *c, uint64_t now)
{
    const net_config *cfg = &c->loop->net->cfg;
    if (c->x && c->x->resp_active) {
        /* A streamed response: the client must keep taking bytes. */
        if (now - c->last_active_ms > (uint64_t)cfg->http_idle_ms) {
            LOG_DEBUG("conn %llu: response stalled: closing", (unsigned long long)c->id);
            net_conn_close(c, 0, NULL);
        }
        return;
    }
    if (c->http_busy)
        return; /* the client waits for us */
    uint64_t got = 0;
    int phase = c->reading_paused ? HTTP_PHASE_IDLE : http_parser_phase(c->http, &got);
    uint64_t since = now - c->deadline_ms;
    const char *why = NULL;
    if (phase == HTTP_PHASE_HEAD && since > (uint64_t)cfg->http_head_timeout_ms) {
        why = "request head deadline";
    } else if (phase == HTTP_PHASE_BODY && cfg->http_body_min_rate > 0 && since > (uint64_t)cfg->http_head_timeout_ms &&
               (got - c->dl.body_base) * 1000 < (uint64_t)cfg->http_body_min_rate * since) {
        why = "request body below the minimum rate";
    } else if (now - c->last_active_ms > (uint64_t)cfg->http_idle_ms) {
        net_conn_close(c, 0, NULL);
        return;
    }
    if (why) {
        atomic_fetch_add(&c->loop->net->stats.http_timeouts, 1);
        LOG_DEBUG("conn %llu: %s: 408", (unsigned long long)c->id, why);
        http_refuse(c, 408);
    }
}
