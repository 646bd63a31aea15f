/*
 * loop.c — the network layer's loops: one libuv loop per thread with its own
 * SO_REUSEPORT listening socket, its inbox (work queued by other threads, including the
 * store writer's per-batch gather), the once-a-second sweep (idle, deadlines, close
 * grace) and the ordered shutdown. Connections themselves are conn.c's.
 *
 * Accepting: the listening socket is watched with a uv_poll_t and accepted here rather
 * than by uv_listen, so running out of descriptors is ours to handle. libuv's own
 * reserve-descriptor trick is per loop but the descriptor table is per process: with two
 * loops, one loop's freed reserve is taken by the other, the trick fails, and libuv calls
 * accept4 again at once, forever (both loops at 100% CPU, nothing else served, not even
 * the shutdown). Here, on EMFILE/ENFILE a loop gives up its own spare descriptor, accepts
 * and closes one pending connection (shedding it: the client sees a close rather than a
 * hang), takes the spare back, and pauses accepting for ACCEPT_PAUSE_MS; each wake-up
 * accepts at most ACCEPT_BURST connections, so the loop always returns to its other
 * sockets, timers and inbox. Sheds are counted (net_stats.accept_shed) and logged at most
 * once per SHED_LOG_MS per loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "net/net_int.h"

#define ACCEPT_BURST 64
#define ACCEPT_PAUSE_MS 100
#define SHED_LOG_MS 10000

/* ---- inbox -------------------------------------------------------------------------- */

/* Items gathered on one thread (the store writer) during a batch, per loop, handed over
 * at the batch's end with one lock and one wake-up per loop instead of one per delivery
 * (an eventfd write and a thread wake-up cost more than the rest of a delivery). */
typedef struct gather {
    net *n;
    struct {
        net_inbox_item *items;
        size_t len, cap;
    } * per_loop;
} gather;
static __thread gather *tl_gather;

static void inbox_push_many(net_loop *l, const net_inbox_item *items, size_t n)
{
    inbox *in = &l->in;
    pthread_mutex_lock(&in->mu);
    if (in->len + n > in->cap) {
        while (in->len + n > in->cap)
            in->cap = in->cap ? in->cap * 2 : 256;
        in->items = tern_realloc(in->items, in->cap * sizeof *in->items);
    }
    memcpy(in->items + in->len, items, n * sizeof *items);
    in->len += n;
    /* Once the loop has closed its async handle, items wait for net_free. */
    int wake = l->stopping < 2;
    pthread_mutex_unlock(&in->mu);
    if (wake)
        uv_async_send(&in->async);
}

void net_gather_begin(net *n)
{
    gather *g = tern_calloc(1, sizeof *g);
    g->n = n;
    tl_gather = g;
    n->gather = g; /* freed by net_free once the thread is gone */
}

void net_gather_flush(net *n)
{
    gather *g = tl_gather;
    if (!g || g->n != n || !g->per_loop)
        return;
    for (int i = 0; i < n->nloops; i++) {
        if (g->per_loop[i].len) {
            inbox_push_many(&n->loops[i], g->per_loop[i].items, g->per_loop[i].len);
            g->per_loop[i].len = 0;
        }
    }
}

static void gather_free(net *n)
{
    gather *g = n->gather;
    if (!g)
        return;
    for (int i = 0; g->per_loop && i < n->nloops; i++) {
        for (size_t j = 0; j < g->per_loop[i].len; j++)
            frame_unref(g->per_loop[i].items[j].f);
        tern_free(g->per_loop[i].items);
    }
    tern_free(g->per_loop);
    tern_free(g);
    n->gather = NULL;
}

void net_inbox_push(net_loop *l, const net_inbox_item *it)
{
    gather *g = tl_gather;
    if (g && g->n == l->net) {
        if (!g->per_loop)
            g->per_loop = tern_calloc((size_t)l->net->nloops, sizeof *g->per_loop);
        typeof(&g->per_loop[0]) q = &g->per_loop[l->index];
        if (q->len == q->cap) {
            q->cap = q->cap ? q->cap * 2 : 256;
            q->items = tern_realloc(q->items, q->cap * sizeof *q->items);
        }
        q->items[q->len++] = *it;
        return;
    }
    inbox_push_many(l, it, 1);
}

static void on_push_timer(uv_timer_t *t)
{
    net_loop *l = t->data;
    l->push_timer_on = 0;
    cork_flush_all(l);
}

/* Runs what was queued for the loop when it woke up: one pass, so a writer that keeps
 * pushing cannot starve the loop's sockets and timers; what arrives meanwhile wakes it
 * again (the async handle is re-armed by the pushes). */
static void inbox_drain(uv_async_t *a)
{
    net_loop *l = a->data;
    inbox *in = &l->in;
    pthread_mutex_lock(&in->mu);
    net_inbox_item *items = in->items;
    size_t n = in->len;
    in->items = NULL;
    in->len = in->cap = 0;
    pthread_mutex_unlock(&in->mu);
    if (!n) {
        tern_free(items);
        return;
    }
    l->corking = 1;
    for (size_t i = 0; i < n; i++) {
        net_inbox_item *it = &items[i];
        if (it->fn) {
            it->fn(l, it->arg);
            continue;
        }
        net_conn *c = hmap_get_u64(&l->conns, it->conn_id);
        if (c) {
            if (it->f && net_conn_send(c, it->f) == 0 && !it->push)
                c->cork_urgent = 1;
            if (it->close_code)
                net_conn_close(c, it->close_code, NULL);
        }
        frame_unref(it->f);
    }
    l->corking = 0;
    int delay = l->net->cfg.push_delay_ms;
    if (delay > 0) {
        cork_flush_urgent(l);
        if (l->corked && !l->push_timer_on && !l->stopping) {
            l->push_timer_on = 1;
            uv_timer_start(&l->push_timer, on_push_timer, (uint64_t)delay, 0);
        }
    } else {
        cork_flush_all(l);
    }
    tern_free(items);
}

void *net_loop_ud(const net_loop *l)
{
    return l->ud;
}

struct uv_loop_s *net_loop_uv(net_loop *l)
{
    return &l->loop;
}

int net_loop_index(const net_loop *l)
{
    return l->index;
}

net_conn *net_loop_find(net_loop *l, uint64_t id)
{
    return hmap_get_u64(&l->conns, id);
}

/* ---- accept ------------------------------------------------------------------------- */

static void on_listen_ready(uv_poll_t *p, int status, int events);

static void accept_resume(uv_timer_t *t)
{
    net_loop *l = t->data;
    if (!l->accept_paused || !l->listening)
        return;
    l->accept_paused = 0;
    if (l->reserve_fd < 0)
        l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    uv_poll_start(&l->listener, UV_READABLE, on_listen_ready);
}

/* Out of descriptors: with the spare descriptor given up, accept and close what is
 * pending (up to a burst; another loop may take the freed slot first), take the spare
 * back, count and (rate-limited) log it, and stop accepting for a moment. */
static void accept_shed(net_loop *l, int err)
{
    if (l->reserve_fd >= 0) {
        close(l->reserve_fd);
        l->reserve_fd = -1;
        for (int i = 0; i < ACCEPT_BURST; i++) {
            int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                break;
            close(fd);
            atomic_fetch_add(&l->net->stats.accept_shed, 1);
            l->shed_unlogged++;
        }
        l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* may fail; retried on resume */
    }
    uint64_t now = (uint64_t)tern_now_ms();
    if (now - l->shed_logged_ms >= SHED_LOG_MS) {
        LOG_WARN("loop %d: out of file descriptors (%s): shed %llu new connections, accepting again in %d ms", l->index,
                 strerror(err), (unsigned long long)l->shed_unlogged, ACCEPT_PAUSE_MS);
        l->shed_logged_ms = now;
        l->shed_unlogged = 0;
    }
    l->accept_paused = 1;
    uv_poll_stop(&l->listener);
    uv_timer_start(&l->accept_timer, accept_resume, ACCEPT_PAUSE_MS, 0);
}

static void on_listen_ready(uv_poll_t *p, int status, int events)
{
    net_loop *l = p->data;
    if (status < 0 || l->stopping || !l->listening)
        return;
    for (int i = 0; i < ACCEPT_BURST; i++) {
        int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_shed(l, errno);
            return; /* EAGAIN: all taken; anything else: try at the next readiness */
        }
        net_conn *c = conn_new(l);
        if (uv_tcp_open(&c->tcp, fd) != 0) {
            close(fd);
            c->close_told = 1; /* `open` never saw it */
            conn_hard_close(c);
            continue;
        }
        uv_tcp_nodelay(&c->tcp, 1);
        hmap_put_u64(&l->conns, c->id, c);
        atomic_fetch_add(&l->net->stats.conns, 1);
        if (l->net->h.open)
            l->net->h.open(c);
        uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read);
    }
}

/* ---- sweep -------------------------------------------------------------------------- */

static void on_sweep(uv_timer_t *t)
{
    net_loop *l = t->data;
    const net_config *cfg = &l->net->cfg;
    uint64_t now = (uint64_t)tern_now_ms();
    hmap_entry *e;
    for (size_t i = 0; hmap_next(&l->conns, &i, &e);) {
        net_conn *c = e->val;
        if (c->state == CONN_CLOSING) {
            if (now - c->last_active_ms > NET_CLOSE_GRACE_MS)
                conn_hard_close(c);
        } else if (c->state == CONN_HTTP) {
            http_conn_sweep(c, now);
        } else if (c->deadline_ms) {
            if (now >= c->deadline_ms)
                net_conn_close(c, c->deadline_code, c->dl.reason);
        } else if (now - c->last_active_ms > (uint64_t)cfg->ws_idle_ms) {
            net_conn_close(c, WS_CLOSE_IDLE, "idle timeout");
        }
    }
}

/* ---- shutdown ----------------------------------------------------------------------- */

static void close_all(uv_timer_t *t);

/* Runs on the loop when the layer stops: WebSocket connections get the shutdown handler
 * and close 1001, idle HTTP connections close, then the loop's own handles. */
static void loop_shutdown(net_loop *l, void *arg)
{
    pthread_mutex_lock(&l->in.mu);
    l->stopping = 1;
    pthread_mutex_unlock(&l->in.mu);
    if (l->listening) {
        uv_close((uv_handle_t *)&l->listener, NULL);
        close(l->listen_fd);
        l->listening = 0;
    }
    uv_timer_stop(&l->accept_timer);
    hmap_entry *e;
    for (size_t i = 0; hmap_next(&l->conns, &i, &e);) {
        net_conn *c = e->val;
        if (c->state == CONN_WS) {
            if (l->net->h.shutdown)
                l->net->h.shutdown(c);
            net_conn_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
        } else if (c->state == CONN_HTTP && !c->http_busy) {
            net_conn_close(c, 0, NULL);
        }
    }
    /* Give writes a moment to flush, then close whatever is left and the loop handles. */
    uv_timer_stop(&l->sweep);
    uv_timer_start(&l->sweep, close_all, 200, 100);
}

static void close_all(uv_timer_t *t)
{
    net_loop *l = t->data;
    uint64_t now = (uint64_t)tern_now_ms();
    size_t open = 0;
    hmap_entry *e;
    for (size_t i = 0; hmap_next(&l->conns, &i, &e);) {
        net_conn *c = e->val;
        if (c->state != CONN_CLOSING)
            net_conn_close(c, 0, NULL);
        if (now - c->last_active_ms > NET_CLOSE_GRACE_MS)
            conn_hard_close(c);
        open++;
    }
    if (open)
        return;
    uv_close((uv_handle_t *)&l->sweep, NULL);
    uv_close((uv_handle_t *)&l->push_timer, NULL);
    uv_close((uv_handle_t *)&l->accept_timer, NULL);
    pthread_mutex_lock(&l->in.mu);
    l->stopping = 2;
    pthread_mutex_unlock(&l->in.mu);
    /* Items that arrive from now on are run by net_free. */
    uv_close((uv_handle_t *)&l->in.async, NULL);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static void loop_main(void *arg)
{
    net_loop *l = arg;
    char name[16];
    snprintf(name, sizeof name, "tern-io-%d", l->index);
    pthread_setname_np(pthread_self(), name);
    uv_run(&l->loop, UV_RUN_DEFAULT);
}

static int loop_init(net *n, net_loop *l, int index, int fd, void *ud)
{
    l->net = n;
    l->ud = ud;
    l->index = index;
    l->listen_fd = -1;
    l->reserve_fd = -1;
    if (uv_loop_init(&l->loop) != 0)
        return -1;
    pthread_mutex_init(&l->in.mu, NULL);
    uv_async_init(&l->loop, &l->in.async, inbox_drain);
    l->in.async.data = l;
    uv_timer_init(&l->loop, &l->sweep);
    l->sweep.data = l;
    uv_timer_start(&l->sweep, on_sweep, 1000, 1000);
    uv_timer_init(&l->loop, &l->push_timer);
    l->push_timer.data = l;
    uv_timer_init(&l->loop, &l->accept_timer);
    l->accept_timer.data = l;
    hmap_init(&l->conns);
    l->readbuf = tern_malloc(NET_READBUF_SIZE);
    uring_setup(l);
    if (listen(fd, 4096) != 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        return -1;
    l->listen_fd = fd;
    if (uv_poll_init_socket(&l->loop, &l->listener, fd) != 0)
        return -1;
    l->listener.data = l;
    if (uv_poll_start(&l->listener, UV_READABLE, on_listen_ready) != 0)
        return -1;
    l->listening = 1;
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
}

net *net_new(const net_config *cfg, const net_handlers *h, int nloops, const int *fds, void *const *loop_ud)
{
    net *n = tern_calloc(1, sizeof *n);
    n->cfg = *cfg;
    if (n->cfg.http_idle_ms <= 0)
        n->cfg.http_idle_ms = 30000;
    if (n->cfg.http_head_timeout_ms <= 0)
        n->cfg.http_head_timeout_ms = 10000;
    n->h = *h;
    atomic_init(&n->next_conn_id, 1);
    n->loops = tern_calloc((size_t)nloops, sizeof *n->loops);
    n->nloops = nloops;
    for (int i = 0; i < nloops; i++) {
        if (loop_init(n, &n->loops[i], i, fds[i], loop_ud ? loop_ud[i] : NULL) != 0) {
            LOG_ERROR("cannot start I/O loop %d", i);
            return NULL; /* the half-built loops stay: the caller exits */
        }
    }
    return n;
}

int net_start(net *n)
{
    for (int i = 0; i < n->nloops; i++)
        if (uv_thread_create(&n->loops[i].thread, loop_main, &n->loops[i]) != 0)
            return -1;
    return 0;
}

void net_stop(net *n)
{
    for (int i = 0; i < n->nloops; i++) {
        net_inbox_item it = {.fn = loop_shutdown};
        inbox_push_many(&n->loops[i], &it, 1);
    }
    for (int i = 0; i < n->nloops; i++) {
        uv_thread_join(&n->loops[i].thread);
        uv_loop_close(&n->loops[i].loop);
    }
}

void net_free(net *n)
{
    if (!n)
        return;
    gather_free(n);
    for (int i = 0; i < n->nloops; i++) {
        net_loop *l = &n->loops[i];
        /* Run what was queued after the loop closed its async handle. Every connection is
         * gone, so frames are dropped and callbacks find no connection. */
        net_inbox_item *items = l->in.items;
        size_t cnt = l->in.len;
        l->in.items = NULL;
        l->in.len = l->in.cap = 0;
        for (size_t j = 0; j < cnt; j++) {
            if (items[j].fn)
                items[j].fn(l, items[j].arg);
            frame_unref(items[j].f);
        }
        tern_free(items);
        hmap_free(&l->conns);
        tern_free(l->readbuf);
        uring_teardown(l);
        if (l->reserve_fd >= 0)
            close(l->reserve_fd);
        pthread_mutex_destroy(&l->in.mu);
    }
    tern_free(n->loops);
    tern_free(n);
}

int net_nloops(const net *n)
{
    return n->nloops;
}

net_loop *net_loop_at(net *n, int i)
{
    return &n->loops[i];
}

net_stats *net_get_stats(net *n)
{
    return &n->stats;
}
