/*
 * http_stream.c — streamed HTTP responses: a head, then body bytes written as the
 * server produces them with backpressure (a write says "wait" over a high-water mark,
 * a drain event comes under the low-water mark), optionally framed as chunks; and on
 * top of it, a file answered with Range (206/416) and HEAD support, sent with
 * sendfile(2) while the socket takes it and in bounded chunks otherwise.
 *
 * sendfile writes around libuv, so it is only used while nothing of the connection is
 * queued in libuv (queued == 0): bytes can never overtake each other. When the socket
 * is full, one 64 KiB chunk is read and queued with uv_write instead; its completion is
 * the writability signal that brings the next drain. A client that stops reading thus
 * costs at most the high-water mark plus one chunk, and is closed by the sweep after
 * http_idle_ms without progress.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "net/net_int.h"

#define FILE_CHUNK (64 * 1024)
#define SENDFILE_MAX (1024 * 1024) /* per call, so one download cannot hog the loop */

http_x *http_x_get(net_conn *c)
{
    if (!c->x) {
        c->x = tern_calloc(1, sizeof *c->x);
        c->x->fd = -1;
    }
    return c->x;
}

void http_stream_on_write(net_conn *c)
{
    http_x *x = c->x;
    if (!x->resp_active)
        return;
    c->last_active_ms = (uint64_t)tern_now_ms(); /* the client takes bytes */
    if (x->want_drain && c->queued <= NET_STREAM_LOW_WATER) {
        x->want_drain = 0;
        x->fn(c, x->arg, NET_STREAM_DRAIN);
    }
}

void http_stream_on_close(net_conn *c)
{
    http_x *x = c->x;
    if (!x || !x->resp_active)
        return;
    x->resp_active = 0;
    x->want_drain = 0;
    if (x->fn)
        x->fn(c, x->arg, NET_STREAM_CLOSED);
}

void net_http_stream_begin(net_conn *c, const char *head, size_t n, int chunked, net_stream_fn fn, void *arg)
{
    http_x *x = http_x_get(c);
    x->resp_active = 1;
    x->chunked = chunked ? 1 : 0;
    x->want_drain = 0;
    x->fn = fn;
    x->arg = arg;
    c->last_active_ms = (uint64_t)tern_now_ms();
    net_conn_write(c, head, n);
}

int net_http_stream_write(net_conn *c, const char *p, size_t n)
{
    if (c->ws_phase || c->state != CONN_HTTP)
        return -1;
    http_x *x = c->x;
    if (!x || !x->resp_active)
        return -1;
    if (n) {
        if (x->chunked) {
            /* One buffer for size line, data and CRLF: one write, one copy. */
            char sz[24];
            int h = snprintf(sz, sizeof sz, "%zx\r\n", n);
            char *buf = tern_malloc((size_t)h + n + 2);
            /* Chunk framing: wire bytes, not strings (hence the NOLINTs). */
            memcpy(buf, sz, (size_t)h); // NOLINT(bugprone-not-null-terminated-result)
            memcpy(buf + h, p, n);
            memcpy(buf + h + n, "\r\n", 2); // NOLINT(bugprone-not-null-terminated-result)
            conn_queue_write(c, NULL, buf, (size_t)h + n + 2, buf);
        } else {
            net_conn_write(c, p, n);
        }
    }
    if (c->state != CONN_HTTP)
        return -1;
    if (c->queued > NET_STREAM_HIGH_WATER) {
        x->want_drain = 1;
        return 1;
    }
    return 0;
}

void net_http_stream_end(net_conn *c)
{
    if (c->ws_phase)
        return;
    http_x *x = c->x;
    if (!x || !x->resp_active)
        return;
    if (x->chunked)
        net_conn_write(c, "0\r\n\r\n", 5);
    x->resp_active = 0;
    x->want_drain = 0;
    x->fn = NULL;
    x->arg = NULL;
    if (c->state != CONN_HTTP)
        return;
    if (!http_parser_msg(c->http)->keep_alive) {
        net_conn_close(c, 0, NULL);
        return;
    }
    net_http_resume(c);
}

/* ---- Range ---------------------------------------------------------------------------- */

/* Parses decimal digits p[*i..) into *v; 0, or -1 without digits or on overflow. */
static int parse_u64(tern_str s, size_t *i, uint64_t *v)
{
    size_t start = *i;
    uint64_t r = 0;
    while (*i < s.n && s.p[*i] >= '0' && s.p[*i] <= '9') {
        unsigned d = (unsigned)(s.p[*i] - '0');
        if (r > (UINT64_MAX - d) / 10)
            return -1;
        r = r * 10 + d;
        (*i)++;
    }
    *v = r;
    return *i > start ? 0 : -1;
}

int net_http_parse_range(tern_str value, uint64_t size, uint64_t *start, uint64_t *len)
{
    if (!value.p || value.n < 7 || memcmp(value.p, "bytes=", 6) != 0)
        return 0;
    if (memchr(value.p, ',', value.n))
        return 0; /* several ranges: we may serve the whole (RFC 9110 §14.2) */
    size_t i = 6;
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;
    if (i < value.n && value.p[i] != '-') {
        if (parse_u64(value, &i, &a) != 0)
            return 0;
        has_a = 1;
    }
    if (i >= value.n || value.p[i] != '-')
        return 0;
    i++;
    if (i < value.n) {
        if (parse_u64(value, &i, &b) != 0)
            return 0;
        has_b = 1;
    }
    if (i != value.n || (!has_a && !has_b))
        return 0;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return -1;
        *len = b < size ? b : size;
        *start = size - *len;
        return 1;
    }
    if (has_b && b < a)
        return 0; /* invalid: ignored */
    if (a >= size)
        return -1;
    uint64_t last = has_b && b < size - 1 ? b : size - 1;
    *start = a;
    *len = last - a + 1;
    return 1;
}

/* ---- files ---------------------------------------------------------------------------- */

static void file_done(net_conn *c, http_x *x)
{
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
    x->left = 0;
}

/* Sends what the socket takes now; queues one chunk when it takes no more. */
static void file_pump(net_conn *c, void *arg, int event)
{
    http_x *x = arg;
    if (event == NET_STREAM_CLOSED) {
        file_done(c, x);
        return;
    }
    int sock = -1;
    uv_fileno((uv_handle_t *)&c->tcp, &sock);
    while (x->left > 0 && c->state == CONN_HTTP) {
        if (c->queued == 0 && sock >= 0) {
            size_t want = x->left < SENDFILE_MAX ? (size_t)x->left : SENDFILE_MAX;
            off_t off = (off_t)x->off;
            ssize_t r = sendfile(sock, x->fd, &off, want);
            if (r > 0) {
                x->off += (uint64_t)r;
                x->left -= (uint64_t)r;
                c->last_active_ms = (uint64_t)tern_now_ms();
                if ((size_t)r == want)
                    continue;
            } else if (r == 0) {
                LOG_WARN("conn %llu: file shorter than announced", (unsigned long long)c->id);
                file_done(c, x);
                net_conn_close(c, 0, NULL);
                return;
            } else if (errno != EAGAIN && errno != EINTR) {
                file_done(c, x);
                net_conn_close(c, 0, NULL);
                return;
            }
        }
        /* The socket is full (or libuv holds bytes): one chunk through libuv; its
         * completion tells us when to go on. */
        char buf[FILE_CHUNK];
        size_t want = x->left < sizeof buf ? (size_t)x->left : sizeof buf;
        ssize_t r = pread(x->fd, buf, want, (off_t)x->off);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            file_done(c, x);
            net_conn_close(c, 0, NULL);
            return;
        }
        x->off += (uint64_t)r;
        x->left -= (uint64_t)r;
        int w = net_http_stream_write(c, buf, (size_t)r);
        if (w < 0) {
            file_done(c, x);
            return;
        }
        if (x->left > 0 && (w == 1 || c->queued > 0)) {
            x->want_drain = 1; /* the chunk's completion (under low water) brings us back */
            return;
        }
    }
    if (x->left == 0) {
        file_done(c, x);
        net_http_stream_end(c);
    }
}

int net_http_serve_file(net_conn *c, const http_msg *m, int fd, uint64_t size, const char *content_type,
                        const char *extra_headers)
{
    uint64_t start = 0, len = size;
    int status = 200;
    int r = net_http_parse_range(http_header_get(m, "Range"), size, &start, &len);
    char extra[512];
    if (r < 0) {
        status = 416;
        len = 0;
        snprintf(extra, sizeof extra, "%sContent-Range: bytes */%" PRIu64 "\r\n", extra_headers ? extra_headers : "",
                 size);
    } else if (r > 0) {
        status = 206;
        snprintf(extra, sizeof extra,
                 "%sAccept-Ranges: bytes\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
                 extra_headers ? extra_headers : "", start, start + len - 1, size);
    } else {
        snprintf(extra, sizeof extra, "%sAccept-Ranges: bytes\r\n", extra_headers ? extra_headers : "");
    }
    tern_buf head;
    tern_buf_init(&head, 0);
    http_write_head(&head, status, status == 416 ? NULL : content_type, (size_t)len, m->keep_alive, extra);
    http_x *x = http_x_get(c);
    x->fd = fd;
    x->off = start;
    x->left = m->method == HTTP_M_HEAD || status == 416 ? 0 : len;
    net_http_stream_begin(c, head.data, head.len, 0, file_pump, x);
    tern_buf_free(&head);
    file_pump(c, x, NET_STREAM_DRAIN);
    return status;
}
