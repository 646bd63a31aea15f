/*
 * uring.c — io_uring for the writes at the end of an inbox drain: one system call for a
 * whole drain's sends instead of one writev per connection.
 *
 * Every corked connection's frames go out as one IORING_OP_SENDMSG each, submitted
 * together. MSG_DONTWAIT makes every send complete during the submit, so the iovecs and
 * the frames they point into are only needed until the completions are reaped; what a
 * socket did not take then goes through cork_settle (uv_write), exactly as after
 * uv_try_write. A connection that already has a libuv write queued is not sent this
 * way: its frames must follow that queue.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "core/log.h"
#include "net/net_int.h"

#define URING_SLOTS 128

typedef struct uring_slot {
    net_conn *c;
    struct msghdr mh;
    struct iovec iov[NET_CORK_MAX];
} uring_slot;

struct uring_batch {
    struct io_uring ring;
    uring_slot slot[URING_SLOTS];
};

/* Sets up l's ring when cfg.io_uring asks for it; without one (refused by the kernel or
 * a sandbox), drains write with writev per connection. */
void uring_setup(net_loop *l)
{
    if (!l->net->cfg.io_uring)
        return;
    uring_batch *ub = tern_calloc(1, sizeof *ub);
    int r = io_uring_queue_init(URING_SLOTS, &ub->ring, 0);
    if (r < 0) {
        if (l->index == 0)
            LOG_WARN("io_uring unavailable (%s): drains write with writev", strerror(-r));
        tern_free(ub);
        return;
    }
    l->ub = ub;
    atomic_fetch_add(&l->net->stats.uring_loops, 1);
}

void uring_teardown(net_loop *l)
{
    if (!l->ub)
        return;
    io_uring_queue_exit(&l->ub->ring);
    tern_free(l->ub);
    atomic_fetch_sub(&l->net->stats.uring_loops, 1);
    l->ub = NULL;
}

/* Submits slots [0, n) and settles each connection's frames by its send's result. A
 * send the kernel did not take counts as "nothing written" and goes to uv_write whole;
 * if the kernel refuses part of a submission the loop drops its ring (the refused
 * entries go with it) and writes with writev from then on. */
static void uring_run(net_loop *l, unsigned n)
{
    uring_batch *ub = l->ub;
    int res[URING_SLOTS];
    for (unsigned i = 0; i < n; i++)
        res[i] = UV_EAGAIN;
    int r;
    do
        r = io_uring_submit(&ub->ring);
    while (r == -EINTR);
    unsigned submitted = r > 0 ? (unsigned)r : 0;
    atomic_fetch_add_explicit(&l->net->stats.uring_sends, submitted, memory_order_relaxed);
    /* Every submitted send completes: MSG_DONTWAIT never waits for the socket. */
    for (unsigned seen = 0; seen < submitted;) {
        struct io_uring_cqe *cqe;
        int w = io_uring_wait_cqe(&ub->ring, &cqe);
        if (w == -EINTR)
            continue;
        if (w < 0) {
            LOG_ERROR("io_uring wait: %s", strerror(-w));
            abort(); /* sends in flight point into frames we would free */
        }
        uint64_t i = io_uring_cqe_get_data64(cqe);
        if (i < n)
            res[i] = cqe->res == -EINTR ? UV_EAGAIN : cqe->res;
        io_uring_cqe_seen(&ub->ring, cqe);
        seen++;
    }
    if (submitted < n)
        LOG_WARN("io_uring refused %u of %u sends (%s): loop %d writes with writev from now on", n - submitted, n,
                 r < 0 ? strerror(-r) : "short submit", l->index);
    for (unsigned i = 0; i < n; i++) {
        net_conn *c = ub->slot[i].c;
        cork_settle_drop(c, &res[i]);
    }
    if (submitted < n)
        uring_teardown(l); /* the refused entries go with the ring */
}

/* Writes the corked connections of `list` (linked by cork_next, already unlinked from the
 * loop) through l's ring, a batch of up to URING_SLOTS sends per system call. */
void uring_flush(net_loop *l, net_conn *list)
{
    unsigned n = 0;
    while (list) {
        net_conn *c = list;
        list = c->cork_next;
        uring_batch *ub = l->ub;
        if (!ub || !c->ncork || c->state == CONN_CLOSING || uv_is_closing((uv_handle_t *)&c->tcp) ||
            c->tcp.write_queue_size) {
            cork_release(c); /* nothing to send, or it must follow libuv's queue */
            continue;
        }
        uv_os_fd_t fd;
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ub->ring);
        if (!sqe || uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) {
            cork_release(c);
            continue;
        }
        cork_unlist(c);
        uring_slot *sl = &ub->slot[n];
        sl->c = c;
        for (unsigned k = 0; k < c->ncork; k++) {
            sl->iov[k].iov_base = c->cork[k]->data;
            sl->iov[k].iov_len = c->cork[k]->len;
        }
        memset(&sl->mh, 0, sizeof sl->mh);
        sl->mh.msg_iov = sl->iov;
        sl->mh.msg_iovlen = c->ncork;
        io_uring_prep_sendmsg(sqe, fd, &sl->mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, n);
        if (++n == URING_SLOTS) {
            uring_run(l, n);
            n = 0;
        }
    }
    if (n)
        uring_run(l, n);
}
