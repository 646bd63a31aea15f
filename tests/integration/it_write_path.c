/*
 * it_write_path.c — both ways ternd writes a drain's frames (docs/architecture.md "The
 * path of a message", docs/operations.md `io-uring`): one io_uring submission for every
 * connection of the drain (the default where the kernel allows it) and one writev per
 * connection (`--io-uring 0`, and the fallback). Each runs the same fan-out: a group of
 * MEMBERS, one sender pipelining N_MSGS messages of ~10 KB, every other member receiving
 * all of them in seq order exactly once — including one member whose socket has a 4 KiB
 * receive buffer and is not read until the sender is done, so the server's sends to it
 * come back short (6 MB against a send buffer of at most 4 MiB) and the rest must
 * follow through libuv's queue in order.
 *
 * /metrics says which path ran (tern_io_uring_loops, tern_io_uring_sends_total): the test
 * probes io_uring_setup itself, so on a kernel that allows io_uring a silent fallback to
 * writev fails the default case.
 */
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

#define MEMBERS 8
#define N_MSGS 600
#define TEXT_LEN 10000
#define THREADS "2"

/* 1 if this process may create an io_uring (what ternd's loops will get too). */
static int uring_allowed(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(__NR_io_uring_setup, 8, &p);
    if (fd < 0)
        return 0;
    close((int)fd);
    return 1;
}

/* The value of one metric line "name value" from GET /metrics. */
static long long metric(it_server *s, const char *name)
{
    it_http_resp r;
    assert_int_equal(it_http(s, "GET", "/metrics", NULL, NULL, &r), 200);
    long long v = -1;
    size_t nl = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, name, nl) && p[nl] == ' ') {
            v = atoll(p + nl + 1);
            break;
        }
    }
    it_http_resp_free(&r);
    if (v < 0)
        fail_msg("/metrics has no %s", name);
    return v;
}

static void fanout_all_delivered(it_server *s)
{
    char names[MEMBERS][16];
    const char *users[MEMBERS + 1], *members[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(names[i], sizeof names[i], "m%02d", i);
        users[i] = names[i];
        if (i)
            members[i - 1] = names[i];
    }
    users[MEMBERS] = members[MEMBERS - 1] = NULL;
    it_create_users(s, users);
    it_create_group(s, "wp", names[0], members);

    it_ws *rx[MEMBERS];
    for (int i = 1; i < MEMBERS - 1; i++)
        rx[i] = it_login(s, names[i], "d");
    /* The last member's socket takes 4 KiB at a time and is not read until the end. */
    int st = 0;
    it_ws *slow = it_ws_connect_ex(s->port, NULL, 4096, &st);
    if (!slow)
        fail_msg("slow member: handshake failed (%d)", st);
    it_login_on(s, slow, names[MEMBERS - 1], "slow");
    rx[MEMBERS - 1] = slow;
    it_ws *tx = it_login(s, names[0], "d");

    static char text[TEXT_LEN + 1];
    int64_t ids[N_MSGS];
    for (int i = 0; i < N_MSGS; i++) {
        memset(text, 'a' + i % 26, TEXT_LEN);
        snprintf(text, 12, "%05d:", i); /* the text says its index; the rest pads */
        text[6] = 'x';
        text[TEXT_LEN] = 0;
        ids[i] = it_ws_send_req(tx,
                                "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"wp\","
                                "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"%s\"}}}",
                                text);
        assert_true(ids[i] > 0);
    }
    for (int i = 0; i < N_MSGS; i++) {
        cJSON *r = it_ws_wait_response(tx, ids[i], IT_WAIT_MS);
        it_assert_code(r, 0);
        assert_int_equal((int)it_jnum(r, "data.seq", -1), i + 1);
        cJSON_Delete(r);
    }
    for (int m = 1; m < MEMBERS; m++) {
        for (int i = 0; i < N_MSGS; i++) {
            cJSON *ev = it_ws_wait_event(rx[m], "msg", IT_WAIT_MS);
            if (!ev)
                fail_msg("%s: message %d of %d never came", names[m], i + 1, N_MSGS);
            const char *t = it_jstr(ev, "data.payload.text");
            char want[8];
            snprintf(want, sizeof want, "%05d:", i);
            if ((int)it_jnum(ev, "data.seq", -1) != i + 1 || !t || strlen(t) != TEXT_LEN || strncmp(t, want, 6) ||
                t[TEXT_LEN - 1] != 'a' + i % 26)
                fail_msg("%s: wanted seq %d (text %s...), got seq %d", names[m], i + 1, want,
                         (int)it_jnum(ev, "data.seq", -1));
            cJSON_Delete(ev);
        }
        /* Nothing more: a ping's answer comes after anything else the server sent. */
        cJSON *p = it_ws_request(rx[m], "{\"op\":\"ping\"}");
        it_assert_code(p, 0);
        cJSON_Delete(p);
        if (it_ws_count_events(rx[m], "msg"))
            fail_msg("%s: %zu messages beyond the %d sent", names[m], it_ws_count_events(rx[m], "msg"), N_MSGS);
        assert_int_equal(rx[m]->bad_frames, 0);
    }
}

static int setup_threads(void **state, const char *uring)
{
    it_watchdog(170);
    /* 6 MB per receiver: more than a socket's send buffer can grow to (tcp_wmem max,
     * 4 MiB), under a send-queue ceiling that lets the slow member keep it all. */
    /* 600 pipelined to one group: the seed's 40 msgs/s a group is not the point here. */
    const char *args[] = {"--threads",        THREADS, "--io-uring", uring, "--max-send-queue", "67108864",
                          "--group-msg-rate", "0",     NULL};
    *state = it_server_new(args);
    return *state ? 0 : -1;
}

static int setup_uring(void **state)
{
    return setup_threads(state, "1");
}

static int setup_writev(void **state)
{
    return setup_threads(state, "0");
}

static void test_io_uring(void **state)
{
    it_server *s = *state;
    long long want = uring_allowed() ? atoi(THREADS) : 0;
    if (!want)
        fprintf(stderr, "it_write_path: io_uring is not allowed here; ternd must fall back to writev\n");
    assert_int_equal(metric(s, "tern_io_uring_loops"), want);
    long long sends0 = metric(s, "tern_io_uring_sends_total");
    fanout_all_delivered(s);
    long long sends = metric(s, "tern_io_uring_sends_total") - sends0;
    if (want && sends < MEMBERS - 1) /* every receiver got at least one drain's frames */
        fail_msg("only %lld sends went through io_uring", sends);
    if (!want)
        assert_int_equal(sends, 0);
}

static void test_writev(void **state)
{
    it_server *s = *state;
    assert_int_equal(metric(s, "tern_io_uring_loops"), 0);
    fanout_all_delivered(s);
    assert_int_equal(metric(s, "tern_io_uring_sends_total"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_io_uring, setup_uring, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_writev, setup_writev, it_teardown_default),
    };
    return it_run_tests("it_write_path", tests);
}
