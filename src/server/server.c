/*
 * server.c — ternd's lifecycle: open the store and bus, load apps, bind one
 * SO_REUSEPORT socket per I/O loop, start the loops, run the control loop (signals),
 * and shut down in the order that loses nothing acknowledged:
 *   1. refuse new writes (5003) and new upgrades;
 *   2. wait until everything already queued in the store is committed and its acks are
 *      in the loops' inboxes (a barrier op through the writer);
 *   3. each loop flushes its inbox, sends `shutdown` + close 1001 to every session,
 *      closes its sockets and ends;
 *   4. close the store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps.h"
#include "bus/registry.h"
#include "conn.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "groups.h"
#include "handlers.h"
#include "hooks/moderation.h"
#include "hooks/webhook.h"
#include "media/media.h"
#include "ratelimit.h"
#include "receipts.h"
#include "server.h"
#include "stream.h"

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    char *h = host;
    if (h[0] == '[') { /* [::1]:8080 */
        h++;
        h[strlen(h) - 1] = 0;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (!*h || !strcmp(h, "0.0.0.0") || inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return 0;
    }
    return -1;
}

static int bind_socket(struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)ss, len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The listening sockets use SO_REUSEPORT so every loop has its own; that would also let a
 * second ternd of the same user bind a port this one holds and silently take half its
 * connections. So a fixed port is first probed with a plain socket, which any holder
 * (ours or another program's) refuses with EADDRINUSE. Returns 0, or -1 with errno. */
static int probe_port_free(struct sockaddr_storage *ss, socklen_t len)
{
    in_port_t port =
        ss->ss_family == AF_INET6 ? ((struct sockaddr_in6 *)ss)->sin6_port : ((struct sockaddr_in *)ss)->sin_port;
    if (port == 0)
        return 0;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* TIME_WAIT is not "busy" */
    int r = bind(fd, (struct sockaddr *)ss, len);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    server *s = h->data;
    LOG_INFO("signal %d: shutting down", signum);
    server_begin_shutdown(s);
}

/* The store writer gathers the deliveries of a batch and hands them to the loops in
 * bulk at the batch's end (see inbox_gather_begin). */
static void writer_started(void *ud)
{
    server *s = ud;
    net_gather_begin(s->net);
}

static void writer_batch_end(void *ud)
{
    server *s = ud;
    receipts_flush(s); /* the batch's coalesced receipt events join its deliveries */
    net_gather_flush(s->net);
}

/* Binds one SO_REUSEPORT socket per loop and creates the network layer around them
 * (its threads start later, once the store is open); 0 or -1 (logged). */
static int net_setup(server *s)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_listen(s->cfg.listen, &ss, &sl) != 0) {
        LOG_ERROR("bad listen address '%s' (want ADDR:PORT)", s->cfg.listen);
        return -1;
    }
    s->nloops = s->cfg.threads > 0 ? s->cfg.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s->nloops < 1)
        s->nloops = 1;
    if (s->nloops > 64)
        s->nloops = 64;
    s->loops = tern_calloc((size_t)s->nloops, sizeof *s->loops);
    int *fds = tern_calloc((size_t)s->nloops, sizeof *fds);
    void **uds = tern_calloc((size_t)s->nloops, sizeof *uds);
    for (int i = 0; i < s->nloops; i++) {
        fds[i] = i == 0 && probe_port_free(&ss, sl) != 0 ? -1 : bind_socket(&ss, sl);
        if (fds[i] < 0) {
            int e = errno;
            if (e == EADDRINUSE)
                LOG_ERROR("cannot bind %s: %s; another process holds the port: choose another with "
                          "--listen ADDR:PORT (env TERN_LISTEN; `make run LISTEN=127.0.0.1:8081`)",
                          s->cfg.listen, strerror(e));
            else
                LOG_ERROR("cannot bind %s: %s (setting --listen)", s->cfg.listen, strerror(e));
            tern_free(fds);
            tern_free(uds);
            return -1;
        }
        if (i == 0) { /* port 0: the others bind the port the first one got */
            getsockname(fds[0], (struct sockaddr *)&ss, &sl);
            s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        s->loops[i].srv = s;
        s->loops[i].index = i;
        tern_buf_init(&s->loops[i].scratch, 0);
        uds[i] = &s->loops[i];
    }
    net_config nc = {.ws_max_message = s->cfg.ws_max_message,
                     .max_send_queue = s->cfg.max_send_queue,
                     .max_http_body = s->cfg.max_http_body,
                     .ws_idle_ms = s->cfg.idle_timeout * 1000,
                     .http_head_timeout_ms = s->cfg.http_head_timeout_ms,
                     .http_body_min_rate = s->cfg.http_body_min_rate,
                     .http_idle_ms = s->cfg.http_idle_ms,
                     .io_uring = s->cfg.io_uring,
                     .push_delay_ms = s->cfg.push_delay_ms,
                     .conn_ud_size = sizeof(conn)};
    net_handlers h;
    handlers_fill(&h);
    s->net = net_new(&nc, &h, s->nloops, fds, uds);
    tern_free(fds);
    tern_free(uds);
    if (!s->net)
        return -1;
    for (int i = 0; i < s->nloops; i++)
        s->loops[i].net = net_loop_at(s->net, i);
    return 0;
}

int server_start(server *s)
{
    tern_log_set_level(tern_log_parse_level(s->cfg.log_level) >= 0 ? tern_log_parse_level(s->cfg.log_level)
                                                                   : TERN_LOG_INFO);
    raise_nofile();
    if (mkdir(s->cfg.data, 0700) != 0 && errno != EEXIST) {
        LOG_ERROR("cannot create data directory %s: %s", s->cfg.data, strerror(errno));
        return -1;
    }
    pthread_rwlock_init(&s->apps_mu, NULL);
    pthread_mutex_init(&s->groups_mu, NULL);
    hmap_init(&s->groups);
    /* Ids of unstored messages and generated group ids come from node id + 512, so they
     * never collide with the store's message ids (nodes are 0..511 in a cluster). */
    tern_idgen_init(&s->online_ids, (unsigned)(s->cfg.node_id | 512));

    if (net_setup(s) != 0)
        return -1;
    s->reg = registry_new(s->net);
    bus_options bo = {.registry = s->reg, .node_id = (unsigned)s->cfg.node_id};
    s->bus = s->reg ? bus_open(&bo) : NULL;
    if (!s->bus) {
        LOG_ERROR("cannot create the session registry and bus");
        return -1;
    }

    char err[256] = "";
    store_options so = {.engine = s->cfg.store,
                        .data_dir = s->cfg.data,
                        .node_id = (unsigned)s->cfg.node_id,
                        .max_batch = (size_t)s->cfg.store_batch,
                        .queue_max = 200000,
                        .linger_us = (unsigned)s->cfg.store_linger_us,
                        .writer_thread_start = writer_started,
                        .writer_batch_end = writer_batch_end,
                        .hook_ud = s,
                        .fsync_full = s->cfg.fsync_full};
    ratelimit_init(s);
    receipts_init(s); /* before the writer, whose batch ends flush it */
    s->st = store_open(&so, err, sizeof err);
    if (!s->st) {
        LOG_ERROR("cannot open the store in %s: %s", s->cfg.data, err);
        return -1;
    }
    if (apps_load(s) != 0 || apps_bootstrap(s) != 0 || media_init(s) != 0 || webhook_start(s) != 0)
        return -1;
    store_reader *rd = store_reader_open(s->st);
    int sr = rd ? stream_init(s, rd) : -1;
    if (sr == 0)
        sr = moderation_init(s, rd);
    store_reader_close(rd);
    if (sr != 0)
        return -1;

    for (int i = 0; i < s->nloops; i++) {
        s->loops[i].reader = store_reader_open(s->st);
        if (!s->loops[i].reader) {
            LOG_ERROR("cannot open a store reader for I/O loop %d", i);
            return -1;
        }
    }
    if (net_start(s->net) != 0) {
        LOG_ERROR("cannot start the I/O loops");
        return -1;
    }

    uv_loop_init(&s->ctl);
    uv_signal_init(&s->ctl, &s->sigterm);
    uv_signal_init(&s->ctl, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    stream_start_sweeper(s);
    media_start_sweeper(s);

    char host[128];
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(s->cfg.listen, ':') - s->cfg.listen), s->cfg.listen);
    char path[1200];
    snprintf(path, sizeof path, "%s/ternd.port", s->cfg.data);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", s->port);
        fclose(f);
    }
    LOG_INFO("listening on %s:%d (%d I/O loops, data %s)", host, s->port, s->nloops, s->cfg.data);
    fprintf(stderr, "listening on %s:%d\n", host, s->port);
    return 0;
}

/* Runs on the writer when the shutdown barrier completes: hand over what the batch
 * gathered (acks included) before the shutdown goes on. */
static void flush_gathered(void *ud)
{
    server *s = ud;
    receipts_flush(s); /* the batch's coalesced receipt events join its deliveries */
    net_gather_flush(s->net);
}

void server_begin_shutdown(server *s)
{
    if (atomic_exchange(&s->shutting_down, 1))
        return;
    /* Requests held by a before-send callback end now (their answers go through the
     * barrier below); after-send and push requests not yet made are dropped. */
    webhook_stop(s);
    /* Barrier: an op that commits after everything queued before it (the writer is
     * FIFO), so all acks of accepted messages are in the inboxes when it returns. */
    store_op op = {.kind = STORE_OP_MARK_READ, .app = -1};
    op.u.read.user = "";
    op.u.read.conv_key = "";
    store_run_sync_then(s->st, &op, flush_gathered, s);
    net_stop(s->net);
    for (int i = 0; i < s->nloops; i++) { /* before store_close */
        store_reader_close(s->loops[i].reader);
        s->loops[i].reader = NULL;
    }
    stream_stop_sweeper(s);
    media_stop_sweeper(s);
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

void server_run(server *s)
{
    uv_run(&s->ctl, UV_RUN_DEFAULT);
}

void server_free(server *s)
{
    store_close(s->st);
    s->st = NULL;
    stream_free(s);
    media_free(s);
    ratelimit_free(s);
    receipts_free(s);
    webhook_free(s);
    moderation_free(s);
    net_free(s->net); /* runs what was queued for the loops meanwhile */
    s->net = NULL;
    for (int i = 0; s->loops && i < s->nloops; i++)
        tern_buf_free(&s->loops[i].scratch);
    bus_close(s->bus);
    uv_loop_close(&s->ctl);
    registry_free(s->reg); /* after the bus and the loops, which push through it */
    s->reg = NULL;
    groups_free_all(s);
    tern_free(s->apps);
    tern_free(s->loops);
    LOG_INFO("stopped");
}
