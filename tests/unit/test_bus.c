/*
 * test_bus.c — unit tests of the delivery path below the domain: delivery.c → bus_local.c
 * → bus/registry.c → the loops' inboxes. The registry is built over a network layer
 * (net/net_int.h) whose loops have no libuv loop: only their inbox (mutex + vector),
 * marked stopping so a push queues without waking anything, and the test reads what
 * was queued. Checked: one
 * user with many devices on several loops, exclusion by session id (not by connection
 * id), a many-users call reaching each session once (also past the registry's lock
 * chunk), the kick's close code and frame bytes, the group and read events' bytes, the
 * session limit, and the presence hooks firing up and down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/registry.h"
#include "context.h"
#include "core/alloc.h"
#include "core/ws.h"
#include "delivery.h"
#include "net/net_int.h"

#define NLOOPS 3
#define NODE 5 /* session id = NODE << 53 | conn id, so the two ids differ */

static server srv;
static net fake_net; /* only its loops: what registry_new reads */
static net_loop nloops[NLOOPS];

/* The inbox of loop i. */
static inbox *inbox_of(int i)
{
    return &nloops[i].in;
}

static int setup(void **state)
{
    memset(&srv, 0, sizeof srv);
    srv.cfg.node_id = NODE;
    memset(&fake_net, 0, sizeof fake_net);
    for (int i = 0; i < NLOOPS; i++) {
        memset(&nloops[i], 0, sizeof nloops[i]);
        nloops[i].net = &fake_net;
        nloops[i].index = i;
        nloops[i].stopping = 2; /* no async handle: pushes only queue */
        pthread_mutex_init(&nloops[i].in.mu, NULL);
    }
    fake_net.loops = nloops;
    fake_net.nloops = NLOOPS;
    srv.reg = registry_new(&fake_net);
    assert_non_null(srv.reg);
    srv.bus = bus_open(&(bus_options){.registry = srv.reg, .node_id = NODE});
    assert_non_null(srv.bus);
    (void)state;
    return 0;
}

/* Drops every queued item (and its frame reference) of every loop. */
static void clear_inboxes(void)
{
    for (int i = 0; i < NLOOPS; i++) {
        inbox *in = inbox_of(i);
        for (size_t j = 0; j < in->len; j++)
            frame_unref(in->items[j].f);
        in->len = 0;
    }
}

static int teardown(void **state)
{
    clear_inboxes();
    for (int i = 0; i < NLOOPS; i++) {
        tern_free(nloops[i].in.items); /* grown by net_inbox_push (tern_realloc) */
        nloops[i].in.items = NULL;
    }
    bus_close(srv.bus);
    registry_free(srv.reg);
    (void)state;
    return 0;
}

/* Opens a session for conn_id on loop; returns its session id. */
static uint64_t open_session(const char *user, int loop, uint64_t conn_id)
{
    uint64_t sid = 0;
    assert_int_equal(delivery_session_open(&srv, 7, user, loop, conn_id, 0, &sid), 0);
    assert_int_equal(sid, delivery_session_id(&srv, conn_id));
    return sid;
}

/* Number of items queued for conn_id (on any loop); *last gets the last one. */
static int queued_for(uint64_t conn_id, net_inbox_item *last)
{
    int n = 0;
    for (int i = 0; i < NLOOPS; i++) {
        inbox *in = inbox_of(i);
        for (size_t j = 0; j < in->len; j++) {
            if (in->items[j].conn_id == conn_id) {
                n++;
                if (last)
                    *last = in->items[j];
            }
        }
    }
    return n;
}

static size_t queued_total(void)
{
    size_t n = 0;
    for (int i = 0; i < NLOOPS; i++)
        n += inbox_of(i)->len;
    return n;
}

/* The text payload of a server frame (unmasked, FIN, text, length < 126). */
static void assert_frame_text(const frame *f, const char *want)
{
    assert_non_null(f);
    assert_int_equal(f->data[0], 0x81);
    size_t n = f->data[1];
    assert_true(n < 126);
    assert_int_equal(f->len, 2 + n);
    if (n != strlen(want) || memcmp(f->data + 2, want, n) != 0)
        fail_msg("frame text: wanted %s, got %.*s", want, (int)n, (const char *)f->data + 2);
}

static void test_session_ids(void **state)
{
    /* Node id above the connection id: unique across nodes, never 0. */
    assert_int_equal(delivery_session_id(&srv, 42), ((uint64_t)NODE << 53) | 42);
    srv.cfg.node_id = 0;
    assert_int_equal(delivery_session_id(&srv, 42), 42); /* node 0: the connection id */
    srv.cfg.node_id = NODE;
    (void)state;
}

static void test_one_user_many_devices(void **state)
{
    uint64_t s1 = open_session("alice", 0, 1);
    open_session("alice", 1, 2);
    open_session("alice", 2, 3);
    open_session("bob", 1, 4);
    frame *f = frame_text("{\"ev\":\"x\"}", 10);
    const char *alice = "alice";
    assert_int_equal(delivery_push_users(&srv, 7, &alice, 1, 0, f), 3);
    net_inbox_item it;
    for (uint64_t c = 1; c <= 3; c++) {
        assert_int_equal(queued_for(c, &it), 1);
        assert_ptr_equal(it.f, f);
        assert_int_equal(it.close_code, 0);
        assert_int_equal(it.push, 1);
    }
    assert_int_equal(queued_for(4, NULL), 0);
    /* Each session went to its own loop's inbox. */
    for (int i = 0; i < NLOOPS; i++)
        assert_int_equal(inbox_of(i)->len, 1);
    assert_int_equal(atomic_load(&f->refs), 4); /* ours + one per queued item */
    assert_int_equal(registry_pushes(srv.reg), 3);
    clear_inboxes();
    /* Another app's alice is someone else. */
    assert_int_equal(bus_deliver_user(srv.bus, 8, "alice", 0, f, 0), 0);
    frame_unref(f);
    (void)s1;
    (void)state;
}

static void test_exclusion_by_session_id(void **state)
{
    uint64_t s1 = open_session("alice", 0, 1);
    open_session("alice", 1, 2);
    frame *f = frame_text("{}", 2);
    const char *alice = "alice";
    /* The connection id is not a session id: excluding "1" excludes nobody. */
    assert_int_equal(delivery_push_users(&srv, 7, &alice, 1, 1, f), 2);
    clear_inboxes();
    assert_int_equal(delivery_push_users(&srv, 7, &alice, 1, s1, f), 1);
    assert_int_equal(queued_for(1, NULL), 0);
    assert_int_equal(queued_for(2, NULL), 1);
    clear_inboxes();
    /* A removed session no longer receives; removing by connection id removes nothing. */
    delivery_session_close(&srv, 7, "alice", 2);
    assert_int_equal(delivery_push_users(&srv, 7, &alice, 1, 0, f), 2);
    clear_inboxes();
    delivery_session_close(&srv, 7, "alice", s1);
    assert_int_equal(delivery_push_users(&srv, 7, &alice, 1, 0, f), 1);
    assert_int_equal(queued_for(2, NULL), 1);
    clear_inboxes();
    frame_unref(f);
    (void)state;
}

static void test_many_users_each_once(void **state)
{
    open_session("alice", 0, 1);
    open_session("alice", 2, 2);
    uint64_t sb = open_session("bob", 1, 3);
    open_session("carol", 1, 4);
    open_session("erin", 0, 5); /* not named */
    frame *f = frame_text("{\"ev\":\"msg\"}", 12);
    const char *users[] = {"alice", "bob", "carol", "dave" /* offline */};
    assert_int_equal(delivery_push_users(&srv, 7, users, 4, 0, f), 4);
    for (uint64_t c = 1; c <= 4; c++)
        assert_int_equal(queued_for(c, NULL), 1);
    assert_int_equal(queued_for(5, NULL), 0);
    assert_int_equal(queued_total(), 4);
    clear_inboxes();
    /* The sender's own session is left out, its other devices are not. */
    assert_int_equal(delivery_push_users(&srv, 7, users, 4, sb, f), 3);
    assert_int_equal(queued_for(3, NULL), 0);
    clear_inboxes();
    assert_int_equal(delivery_push_users(&srv, 7, users, 0, 0, f), 0);
    assert_int_equal(queued_total(), 0);
    frame_unref(f);
    (void)state;
}

/* A list longer than the registry's lock chunk (256 users): still each session once. */
static void test_many_users_past_lock_chunk(void **state)
{
    enum { N = 600 };
    static char names[N][16];
    const char *users[N];
    for (int u = 0; u < N; u++) {
        snprintf(names[u], sizeof names[u], "user%03d", u);
        users[u] = names[u];
        open_session(names[u], u % NLOOPS, (uint64_t)u + 1);
    }
    frame *f = frame_text("{}", 2);
    assert_int_equal(delivery_push_users(&srv, 7, users, N, delivery_session_id(&srv, 300), f), N - 1);
    for (uint64_t c = 1; c <= N; c++)
        assert_int_equal(queued_for(c, NULL), c == 300 ? 0 : 1);
    clear_inboxes();
    frame_unref(f);
    (void)state;
}

static void test_kick_carries_close_code(void **state)
{
    open_session("alice", 0, 1);
    open_session("alice", 1, 2);
    open_session("bob", 1, 3);
    delivery_kick_user(&srv, 7, "alice", TERN_ERR_KICKED);
    net_inbox_item it;
    char want[160];
    snprintf(want, sizeof want, "{\"ev\":\"kicked\",\"data\":{\"code\":1106,\"message\":\"%s\"}}",
             tern_strerror(TERN_ERR_KICKED));
    for (uint64_t c = 1; c <= 2; c++) {
        assert_int_equal(queued_for(c, &it), 1);
        assert_int_equal(it.close_code, WS_CLOSE_KICKED);
        assert_int_equal(it.push, 0); /* a kick is written at once, not held */
        assert_frame_text(it.f, want);
    }
    assert_int_equal(queued_for(3, NULL), 0);
    clear_inboxes();
    (void)state;
}

static void test_group_and_read_events(void **state)
{
    uint64_t s1 = open_session("alice", 0, 1);
    open_session("alice", 1, 2);
    open_session("bob", 2, 3);
    const char *users[] = {"alice", "bob"};
    delivery_group_event(&srv, 7, users, 2, "g1", "joined");
    net_inbox_item it;
    for (uint64_t c = 1; c <= 3; c++) {
        assert_int_equal(queued_for(c, &it), 1);
        assert_int_equal(it.close_code, 0);
        assert_frame_text(it.f, "{\"ev\":\"conv\",\"data\":{\"conversationID\":\"GROUPg1\",\"reason\":\"joined\"}}");
    }
    clear_inboxes();
    static const char data[] = "{\"conversationID\":\"C2Cbob\",\"readSeq\":2,\"unreadCount\":1}";
    delivery_read_sync(&srv, 7, "alice", s1, data, sizeof data - 1);
    assert_int_equal(queued_for(1, NULL), 0);
    assert_int_equal(queued_for(3, NULL), 0);
    assert_int_equal(queued_for(2, &it), 1);
    assert_frame_text(it.f,
                      "{\"ev\":\"read\",\"data\":{\"conversationID\":\"C2Cbob\",\"readSeq\":2,\"unreadCount\":1}}");
    clear_inboxes();
    (void)state;
}

static void test_presence_and_limit(void **state)
{
    assert_int_equal(bus_sessions_up(srv.bus), 0);
    uint64_t a = open_session("alice", 0, 1), b = open_session("alice", 1, 2);
    assert_int_equal(bus_sessions_up(srv.bus), 2);
    assert_int_equal(registry_sessions(srv.reg), 2);
    /* At the per-user limit: refused, neither registered nor announced. */
    uint64_t sid = 0;
    assert_int_equal(delivery_session_open(&srv, 7, "alice", 2, 3, 2, &sid), -1);
    assert_int_equal(sid, 0);
    assert_int_equal(bus_sessions_up(srv.bus), 2);
    frame *f = frame_text("{}", 2);
    const char *alice = "alice";
    assert_int_equal(delivery_push_users(&srv, 7, &alice, 1, 0, f), 2);
    clear_inboxes();
    delivery_session_close(&srv, 7, "alice", a);
    assert_int_equal(bus_sessions_up(srv.bus), 1);
    delivery_session_close(&srv, 7, "alice", b);
    assert_int_equal(bus_sessions_up(srv.bus), 0);
    assert_int_equal(registry_sessions(srv.reg), 0);
    assert_int_equal(delivery_push_users(&srv, 7, &alice, 1, 0, f), 0);
    frame_unref(f);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_user_many_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclusion_by_session_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_users_each_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_users_past_lock_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_carries_close_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_and_read_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_and_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
