/*
 * net_int.h — the network layer's private structures and the calls between its files
 * (loop.c, conn.c, uring.c, http_conn.c). Nothing outside src/net includes it.
 */
#ifndef TERN_NET_INT_H
#define TERN_NET_INT_H
#include <pthread.h>
#include <stddef.h>
#include <uv.h>

#include "core/buf.h"
#include "core/hmap.h"
#include "core/ws.h"
#include "net/net.h"

#define NET_READBUF_SIZE (64 * 1024)
#define NET_HTTP_PENDING_MAX (256 * 1024)
#define NET_HTTP_QUEUE_MAX (256 * 1024) /* unwritten response bytes before we stop reading */
#define NET_CLOSE_GRACE_MS 3000
/* Frames corked per connection during a drain (conn.c). */
#define NET_CORK_MAX 64

typedef struct uring_batch uring_batch; /* uring.c */

enum conn_state { CONN_HTTP = 0, CONN_WS, CONN_CLOSING };

struct net_conn {
    uv_tcp_t tcp; /* first: the handle's data points here too */
    net_loop *loop;
    uint64_t id;
    uint8_t state;
    uint8_t close_sent;
    uint8_t reading_paused; /* HTTP request in progress (async) or peer not reading */
    uint8_t http_busy;
    uint8_t eof_seen;   /* HTTP peer half-closed while an answer was pending */
    uint8_t close_told; /* the close handler ran */
    uint8_t ncork;
    uint8_t cork_listed;
    uint8_t cork_urgent;    /* a corked frame answers the client: write at the drain's end */
    uint8_t in_request;     /* inside the http_request handler */
    uint8_t resume_pending; /* net_http_resume was called inside it */
    uint8_t ws_phase;       /* the union below holds the WebSocket reader */
    uint16_t deadline_code;
    uint64_t last_active_ms;
    /* WebSocket: the deadline (0: none). HTTP: when the current head or body began. */
    uint64_t deadline_ms;
    /* WebSocket: the deadline's close reason. HTTP: body bytes when the window began. */
    union {
        const char *reason;
        uint64_t body_base;
    } dl;
    size_t queued;       /* bytes corked or handed to uv_write and not yet written */
    frame **cork;        /* frames held during an inbox drain, else NULL */
    net_conn *cork_next; /* the loop's list of corked connections */
    /* A connection speaks HTTP, then perhaps WebSocket, never both: the phases share
     * memory (ws_phase says which holds; http_conn_to_ws switches). */
    union {
        struct {
            http_parser *http; /* HTTP phase */
            tern_buf in;       /* bytes held while a request is processed */
            struct http_x *x;  /* streamed request body / response state, or NULL */
        };
        ws_reader ws; /* WebSocket phase */
    };
    uint64_t ud[]; /* the server's user data, conn_ud_size bytes */
};

typedef struct inbox {
    pthread_mutex_t mu;
    net_inbox_item *items;
    size_t len, cap;
    uv_async_t async;
} inbox;

struct net_loop {
    net *net;
    void *ud;
    int index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_poll_t listener; /* readiness of the listening socket; we accept ourselves */
    int listen_fd;
    int listening;
    int accept_paused;
    uv_timer_t accept_timer; /* resumes accepting after a pause for lack of descriptors */
    int reserve_fd;          /* a spare descriptor, given up to shed a connection */
    uint64_t shed_logged_ms; /* last "shedding" log line */
    uint64_t shed_unlogged;  /* sheds since */
    inbox in;
    uv_timer_t sweep; /* idle / deadline checks */
    hmap conns;       /* id -> net_conn* */
    char *readbuf;    /* shared by all connections of the loop: reads are consumed at once */
    int stopping;
    int corking;           /* draining the inbox: net_conn_send corks frames */
    net_conn *corked;      /* connections with corked frames */
    uv_timer_t push_timer; /* writes pushes held by push_delay_ms */
    int push_timer_on;
    uring_batch *ub; /* io_uring for the writes at a drain's end, or NULL (writev) */
};

struct net {
    net_config cfg;
    net_handlers h;
    net_stats stats;
    net_loop *loops;
    int nloops;
    atomic_uint_fast64_t next_conn_id;
    void *gather; /* the gathering thread's state (loop.c) */
};

/* conn.c */
net_conn *conn_new(net_loop *l);
void conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
void conn_hard_close(net_conn *c);
void conn_queue_write(net_conn *c, frame *f, const char *p, size_t n, char *owned);
void conn_process_ws(net_conn *c, uint8_t *data, size_t n);
void cork_flush_all(net_loop *l);
void cork_flush_urgent(net_loop *l);
void cork_settle(net_conn *c, const int *sent);
/* Marks c off the loop's corked list (the caller unlinked it). */
void cork_unlist(net_conn *c);
/* cork_settle, then drops the cork array (idle connections keep none). */
void cork_settle_drop(net_conn *c, const int *sent);
/* cork_unlist + cork_settle_drop(c, NULL): writes what is corked now, with writev. */
void cork_release(net_conn *c);

/* uring.c */
void uring_setup(net_loop *l);
void uring_teardown(net_loop *l);
/* Writes the corked connections of list (linked by cork_next) through l's ring. */
void uring_flush(net_loop *l, net_conn *list);

/* State of a streamed request body or response (http_conn.c, http_stream.c); allocated
 * with the first one on a connection. */
typedef struct http_x {
    uint8_t body_paused; /* the body handler paused reading */
    uint8_t resp_active; /* a streamed response is in progress */
    uint8_t chunked;
    uint8_t want_drain; /* a write said "wait": tell fn when under the low-water mark */
    net_stream_fn fn;
    void *arg;
    /* net_http_serve_file */
    int fd;
    uint64_t off, left;
} http_x;

/* http_stream.c */
http_x *http_x_get(net_conn *c);
/* After a write completed: the drain event, if one is due. */
void http_stream_on_write(net_conn *c);
/* The connection closes: a streamed response's owner hears of it. */
void http_stream_on_close(net_conn *c);

/* http_conn.c */
/* Frees the HTTP phase's state (parser, held bytes, stream state) of c. */
void http_conn_free(net_conn *c);
void http_conn_process(net_conn *c, char *data, size_t n);
/* Processes held pipelined bytes and reads again when nothing holds us back. */
void http_conn_continue(net_conn *c);
/* The sweep's HTTP rules for c at now: idle, head deadline, body rate. */
void http_conn_sweep(net_conn *c, uint64_t now);

#endif
