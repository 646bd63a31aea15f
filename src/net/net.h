/*
 * net.h — ternd's network layer: I/O loop threads, their listeners, TCP connections
 * (HTTP/1.1 first, WebSocket after an upgrade), the inbox that carries work from other
 * threads to a loop, and batched writes (cork, writev, io_uring).
 *
 * The layer knows no users, no JSON and no REST: it calls the handlers the server
 * registers (net_handlers) with complete HTTP requests, upgrade requests, WebSocket text
 * messages, closes, send-queue overflows and the shutdown. The server's per-connection
 * state lives in the connection's user data (net_conn_ud, conn_ud_size bytes allocated
 * with the connection, zeroed), its per-loop state in the loop's user data.
 *
 * Threads: each loop owns its connections outright; every net_conn_* call below must run
 * on the connection's loop thread (inside a handler or an inbox callback). Other threads
 * address a connection by (loop, connection id) through net_inbox_push; a connection
 * that closed meanwhile is simply not found.
 *
 * The process must ignore SIGPIPE: a write to a connection the peer closed is then an
 * error the layer handles, not a signal that ends the process.
 */
#ifndef TERN_NET_H
#define TERN_NET_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http.h"
#include "net/frame.h"

typedef struct net net;
typedef struct net_loop net_loop;
typedef struct net_conn net_conn;

/* WebSocket close codes the layer itself sends (the server may send any). */
#define NET_WS_CLOSE_SLOW_CONSUMER 4001

/* ---- settings, handlers, counters -------------------------------------------------- */

typedef struct net_config {
    size_t ws_max_message;    /* largest WebSocket message, bytes */
    size_t max_send_queue;    /* unwritten bytes per connection before `overflow` */
    size_t max_http_body;     /* default (JSON) request body ceiling, bytes */
    int ws_idle_ms;           /* close WebSocket connections silent this long (1001) */
    int http_idle_ms;         /* close HTTP connections idle between requests (0: 30000) */
    int http_head_timeout_ms; /* a request head must arrive whole within this (0: 10000) */
    int http_body_min_rate;   /* bytes/s a request body must average (0: not enforced) */
    int io_uring;             /* 1: a drain's writes share one io_uring submission */
    int push_delay_ms;        /* pushed frames may wait this long to share a write */
    size_t conn_ud_size;      /* bytes of per-connection user data */
} net_config;

/* Return codes of the request handler. */
enum { NET_HTTP_DONE = 0, NET_HTTP_ASYNC = 1 };
/* Body modes the head handler chooses; return codes of the body handler. */
enum { NET_BODY_REFUSED = -1, NET_BODY_WHOLE = 0, NET_BODY_STREAM = 1 };
enum { NET_BODY_MORE = 0, NET_BODY_PAUSE = 1 };
/* Events of a streamed response (net_http_stream_begin). */
enum { NET_STREAM_DRAIN = 0, NET_STREAM_CLOSED = 1 };
/* Unwritten bytes of a streamed response over which net_http_stream_write says "wait",
 * and under which the drain event comes. */
#define NET_STREAM_HIGH_WATER (256 * 1024)
#define NET_STREAM_LOW_WATER (64 * 1024)

typedef struct net_handlers {
    /* A connection was accepted; its user data is zeroed. Optional. */
    void (*open)(net_conn *c);
    /* A complete HTTP request (not an upgrade). Returns NET_HTTP_DONE when the response
     * is written, NET_HTTP_ASYNC when it will be written later: the layer then holds any
     * pipelined bytes until net_http_resume. */
    int (*http_request)(net_conn *c, const http_msg *m);
    /* Optional. The head of a request with a body (Content-Length > 0 or chunked) is
     * complete and no body byte has been read. Returns NET_BODY_WHOLE (the body is
     * collected up to *limit, preset to max_http_body, then http_request gets it),
     * NET_BODY_STREAM (its pieces go to http_body, up to *limit; then http_request runs
     * with an empty body), or NET_BODY_REFUSED after writing a response (the layer
     * closes without reading the body). A declared Content-Length over *limit gets 413
     * before any body byte is read; `Expect: 100-continue` is answered only after this
     * handler wanted the body. Without this handler every body is read whole. */
    int (*http_head)(net_conn *c, const http_msg *m, size_t *limit);
    /* A piece of a streamed body (chunked encoding decoded), valid during the call.
     * Returns NET_BODY_MORE, or NET_BODY_PAUSE: the layer stops reading (the client is
     * held back by TCP) until net_http_body_resume. */
    int (*http_body)(net_conn *c, const char *data, size_t n);
    /* An upgrade request. Returns 0 after net_conn_ws_accept (the connection now speaks
     * WebSocket), or -1 after answering with an error (the handler closes). */
    int (*ws_upgrade)(net_conn *c, const http_msg *m);
    /* One complete, valid UTF-8 WebSocket text message; data is writable scratch valid
     * only during the call. */
    void (*ws_text)(net_conn *c, char *data, size_t n);
    /* The connection starts closing (any phase). Called exactly once per connection that
     * `open` saw; the user data stays valid until the memory goes, after it. Optional. */
    void (*close)(net_conn *c);
    /* The send queue passed max_send_queue. Returns a frame (owned reference) to write
     * past the ceiling as the last one, or NULL; the layer then closes with 4001. */
    frame *(*overflow)(net_conn *c);
    /* The server shuts down: called for each WebSocket connection, which may send a last
     * frame; the layer then closes it with 1001. Optional. */
    void (*shutdown)(net_conn *c);
    /* The layer refuses an HTTP request itself (status 400, 408, 413 or 431): the handler
     * writes the response (the layer closes after). NULL: a bodyless response. */
    void (*http_error)(net_conn *c, int status);
} net_handlers;

/* Counters, updated by the loops (read with atomic_load). */
typedef struct net_stats {
    atomic_uint_fast64_t conns;         /* open TCP connections (gauge) */
    atomic_uint_fast64_t http_requests; /* requests parsed */
    atomic_uint_fast64_t slow_drops;    /* closed because the send queue overflowed */
    atomic_uint_fast64_t uring_loops;   /* loops writing through io_uring (gauge) */
    atomic_uint_fast64_t uring_sends;   /* writes submitted through io_uring */
    atomic_uint_fast64_t accept_shed;   /* connections shed for lack of descriptors */
    atomic_uint_fast64_t http_timeouts; /* requests cut by the head deadline or body rate */
} net_stats;

/* ---- the layer ---------------------------------------------------------------------- */

/* Creates nloops loops, loop i listening on fds[i] (bound, SO_REUSEPORT; the layer owns
 * it from now on) with user data loop_ud[i]. cfg and h are copied. Returns NULL on
 * failure (fds not yet taken are left open). Starts no thread. */
net *net_new(const net_config *cfg, const net_handlers *h, int nloops, const int *fds, void *const *loop_ud);
/* Starts one thread per loop; 0 or -1. */
int net_start(net *n);
/* From any thread: every loop closes its listener, gives WebSocket connections the
 * shutdown handler and close 1001, closes the rest, and its thread ends. Returns when
 * every thread has ended. */
void net_stop(net *n);
/* After net_stop: runs the inbox items queued since (callbacks find no connection;
 * frames are dropped) and frees everything. NULL is a no-op. */
void net_free(net *n);
int net_nloops(const net *n);
net_loop *net_loop_at(net *n, int i);
net_stats *net_get_stats(net *n);

/* ---- loops and the inbox ------------------------------------------------------------ */

typedef void (*net_task_fn)(net_loop *l, void *arg);

/* One piece of work for a loop, queued from any thread. */
typedef struct net_inbox_item {
    uint64_t conn_id; /* 0 for callbacks */
    frame *f;         /* frame to write to conn_id (owned reference), or NULL */
    int close_code;   /* after writing f, close the connection with this WS code (0: stay) */
    int push;         /* f is a pushed event, not an answer: it may wait push_delay_ms */
    net_task_fn fn;   /* or: a callback to run on the loop */
    void *arg;
} net_inbox_item;

/* Queues an item for loop l from any thread (ownership of it->f moves to the loop). On a
 * thread inside net_gather_begin..., items are held and handed over in bulk by
 * net_gather_flush (one lock and one wake-up per loop per batch). */
void net_inbox_push(net_loop *l, const net_inbox_item *it);
/* Makes the calling thread gather its pushes (the store writer, once at its start). */
void net_gather_begin(net *n);
/* Hands the calling thread's gathered items to their loops. */
void net_gather_flush(net *n);

void *net_loop_ud(const net_loop *l);
int net_loop_index(const net_loop *l);
/* The loop's libuv loop, for work the loop's own thread queues on libuv's thread pool
 * (uv_queue_work). Loop thread only. */
struct uv_loop_s *net_loop_uv(net_loop *l);
/* The loop's connection with this id, or NULL (closed). Loop thread only. */
net_conn *net_loop_find(net_loop *l, uint64_t id);

/* ---- connections (loop thread only) ------------------------------------------------- */

void *net_conn_ud(net_conn *c);
/* The connection of a user-data pointer net_conn_ud returned. */
net_conn *net_conn_of_ud(void *ud);
uint64_t net_conn_id(const net_conn *c);
net_loop *net_conn_loop(const net_conn *c);
/* 1 while the connection speaks HTTP (not upgraded, not closing). */
int net_conn_is_http(const net_conn *c);

/* Writes f to c (takes its own reference), honoring the send-queue ceiling: past it the
 * `overflow` handler runs and the connection closes with 4001. Returns 0, or -1 if the
 * connection is closing or was just closed as a slow consumer. */
int net_conn_send(net_conn *c, frame *f);
/* Sends a text message (copied into a new frame); as net_conn_send. */
int net_conn_send_text(net_conn *c, const char *p, size_t n);
/* Writes raw bytes (an HTTP response); the bytes are copied. */
void net_conn_write(net_conn *c, const char *p, size_t n);
/* Starts closing: a WebSocket close frame with ws_code (if upgraded and non-zero; reason
 * may be NULL), then the socket. Idempotent. */
void net_conn_close(net_conn *c, int ws_code, const char *reason);
/* Writes the 101 response resp[0..n) and switches the connection to WebSocket. Call it
 * from the ws_upgrade handler only. */
void net_conn_ws_accept(net_conn *c, const char *resp, size_t n);
/* Sets (ms > 0) or clears (ms == 0) a WebSocket deadline: ms from now the connection is
 * closed with ws_code and reason (a string that outlives the connection). While set, it
 * replaces the idle rule. The session layer uses it for the login deadline. */
void net_conn_set_deadline(net_conn *c, int ms, int ws_code, const char *reason);
/* After an asynchronous response was written (NET_HTTP_ASYNC): parses held pipelined
 * bytes and reads again. May be called from inside http_request (then the request
 * counts as answered whatever the handler returns). */
void net_http_resume(net_conn *c);
/* Reads a streamed request body again after http_body returned NET_BODY_PAUSE. */
void net_http_body_resume(net_conn *c);

/* ---- streamed responses (loop thread only) ------------------------------------------ */

/* fn(c, arg, NET_STREAM_DRAIN): the unwritten bytes fell under NET_STREAM_LOW_WATER after
 * a write said "wait"; fn(c, arg, NET_STREAM_CLOSED): the connection is closing before
 * net_http_stream_end (free your state; nothing more may be written). */
typedef void (*net_stream_fn)(net_conn *c, void *arg, int event);

/* Starts a streamed response to the current request: writes head[0..n) (status line and
 * headers up to the empty line, as the caller built them). With chunked = 1 (the head
 * says Transfer-Encoding: chunked) every write is framed as a chunk. The request handler
 * returns NET_HTTP_ASYNC (or calls it later); net_http_stream_end finishes the request.
 * While a response streams, the connection is closed if the client takes no byte for
 * http_idle_ms. */
void net_http_stream_begin(net_conn *c, const char *head, size_t n, int chunked, net_stream_fn fn, void *arg);
/* Writes p[0..n) of the body (copied). Returns 0 (go on), 1 (over NET_STREAM_HIGH_WATER:
 * wait for the drain event), or -1 (the connection is closing: stop). */
int net_http_stream_write(net_conn *c, const char *p, size_t n);
/* Ends the response (chunked: the last chunk) and goes on with the next request, or
 * closes the connection if the request did not keep it alive. */
void net_http_stream_end(net_conn *c);

/* Parses a Range header value for a resource of size bytes. Returns 1 with a single
 * satisfiable range [*start, *start + *len), 0 if there is no range to honour (absent,
 * malformed, several ranges: serve it whole, 200), or -1 if unsatisfiable (416). */
int net_http_parse_range(tern_str value, uint64_t size, uint64_t *start, uint64_t *len);
/* Answers the current request with a file: 200, or 206 with Content-Range for a single
 * satisfiable Range, or 416 with `Content-Range: bytes * /size`; HEAD gets the head only.
 * The body goes out with sendfile(2) while the socket takes it and in 64 KiB chunks
 * with backpressure otherwise. Takes ownership of fd (closed when done). extra_headers,
 * if not NULL, end with CRLF. The request handler returns NET_HTTP_ASYNC. Returns the
 * status answered. */
int net_http_serve_file(net_conn *c, const http_msg *m, int fd, uint64_t size, const char *content_type,
                        const char *extra_headers);

#endif
