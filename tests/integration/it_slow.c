/*
 * it_slow.c — a slow consumer cannot grow the server (docs/protocol.md §8, §5 `resync`,
 * close 4001): ternd runs with --max-send-queue 65536; a receiver with a 4 KiB receive
 * buffer logs in and stops reading while a sender pushes 5000 messages of ~1 KB to it.
 * The server must drop the receiver (resync event and/or close 4001, or the socket is
 * simply closed), its RSS must stay bounded, and after reconnecting the receiver gets
 * every message (seqs 1..N) through `sync`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define N_MSGS 5000
#define TEXT_LEN 1000
#define WINDOW 100
#define RSS_LIMIT_KB (64 * 1024)

static int setup_slow(void **state)
{
    it_watchdog(170);
    /* Under ASan, freed memory sits in a 256 MiB quarantine and RSS would measure the
     * quarantine, not what the server holds: turn it off for this ternd (inherited). */
    const char *old = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0", old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    static const char *const args[] = {"--max-send-queue", "65536", NULL};
    *state = it_server_new(args);
    if (old)
        setenv("ASAN_OPTIONS", old, 1);
    else
        unsetenv("ASAN_OPTIONS");
    return *state ? 0 : -1;
}

static void test_slow_consumer_bounded(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);

    it_ws *alice = it_login(s, "alice", "a1");
    int st = 0;
    it_ws *bob = it_ws_connect_ex(s->port, NULL, 4096, &st);
    if (!bob)
        fail_msg("bob: handshake failed (%d)", st);
    it_login_on(s, bob, "bob", "slow");
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%s", bob->cursor);
    /* From here on bob's socket is not read until the sender is done. */

    long rss0 = it_server_rss_kb(s), rss_max = rss0;
    assert_true(rss0 > 0);
    static char text[TEXT_LEN + 32];
    memset(text, 'x', TEXT_LEN);
    int sent = 0, acked = 0;
    int64_t deadline = it_now_ms() + 120000, next_rss = 0;
    while (acked < N_MSGS && it_now_ms() < deadline) {
        while (sent < N_MSGS && sent - acked < WINDOW) {
            snprintf(text + TEXT_LEN, 32, "-%d", sent + 1);
            if (it_ws_send_req(
                    alice,
                    "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\",\"type\":\"TIMTextElem\","
                    "\"payload\":{\"text\":\"%s\"},\"clientMsgId\":\"slow-%d\"}}",
                    text, sent + 1) < 0)
                fail_msg("sender: send failed after %d messages", sent);
            sent++;
        }
        it_ws_pump(alice, 50);
        cJSON *r;
        while ((r = it_ws_wait_re(alice, "send", 0)) != NULL) {
            if (it_code(r) != 0)
                fail_msg("sender: message %d refused: %s", acked + 1, it_jshow(r));
            acked++;
            cJSON_Delete(r);
        }
        if (it_now_ms() >= next_rss) {
            long rss = it_server_rss_kb(s);
            if (rss > rss_max)
                rss_max = rss;
            next_rss = it_now_ms() + 100;
        }
        if (alice->eof)
            fail_msg("the sender's connection was closed after %d acks", acked);
    }
    assert_int_equal(acked, N_MSGS);
    long rss_end = it_server_rss_kb(s);
    if (rss_end > rss_max)
        rss_max = rss_end;
    printf("server RSS: %ld KiB at start, %ld KiB max, %ld KiB at end\n", rss0, rss_max, rss_end);
    /* ThreadSanitizer's shadow memory multiplies RSS several times over, so under TSan
     * (make tsan sets TERN_TSAN) only the close below proves the queue is bounded. */
    if (!getenv("TERN_TSAN") && rss_max - rss0 > RSS_LIMIT_KB)
        fail_msg("server RSS grew by %ld KiB (limit %d KiB) while a consumer was stalled", rss_max - rss0,
                 RSS_LIMIT_KB);
    if (!it_server_alive(s))
        fail_msg("ternd died under the slow consumer");

    /* Resume reading: the server must have given up on bob. */
    int code = 0;
    if (it_ws_expect_close(bob, 20000, &code) != 0)
        fail_msg("the stalled receiver was not disconnected (queue ceiling 64 KiB, %d messages of ~1 KB sent)", N_MSGS);
    size_t live = it_ws_count_events(bob, "msg");
    cJSON *rs = it_ws_wait_event(bob, "resync", 0);
    printf("stalled receiver: close code %d, resync event %s, %zu msg events read before the close\n", code,
           rs ? it_jshow(rs) : "absent", live);
    if (rs && (int)it_jnum(rs, "data.code", -1) != 1201)
        fail_msg("resync event without code 1201: %s", it_jshow(rs));
    cJSON_Delete(rs);
    if (code != 4001 && code != 1006)
        fail_msg("stalled receiver closed with %d (wanted 4001, or a dropped socket)", code);
    assert_true(live < N_MSGS);
    /* What arrived live is in order from seq 1. */
    int64_t expect_seq = 1;
    cJSON *ev;
    while ((ev = it_ws_wait_event(bob, "msg", 0)) != NULL) {
        int64_t seq = (int64_t)it_jnum(ev, "data.seq", -1);
        cJSON_Delete(ev);
        if (seq != expect_seq)
            fail_msg("live messages before the drop: seq %lld where %lld was expected", (long long)seq,
                     (long long)expect_seq);
        expect_seq++;
    }
    it_ws_free(bob);

    /* Reconnect and sync from the login cursor: every message, seqs 1..N, once each.
     * First with the default page size (500 messages, ~550 KB); if the server cannot
     * send that page, remember it and catch up with pages that fit the 64 KiB queue, to
     * still check that nothing was lost. */
    bob = it_login(s, "bob", "slow");
    cJSON *got = cJSON_CreateArray();
    int pages = it_sync_all(bob, cursor, "{}", 500, got, NULL, 0);
    int big_page_close = 0;
    if (pages < 0) {
        big_page_close = bob->eof ? (bob->got_close ? bob->close_code : 1006) : -1;
        it_ws_free(bob);
        cJSON_Delete(got);
        got = cJSON_CreateArray();
        bob = it_login(s, "bob", "slow");
        pages = it_sync_all(bob, cursor, "{}", 40, got, NULL, 0);
    }
    assert_true(pages >= 1);
    int n = cJSON_GetArraySize(got);
    if (n != N_MSGS)
        fail_msg("sync after the drop returned %d messages in %d pages, wanted %d", n, pages, N_MSGS);
    for (int i = 0; i < n; i++) {
        const cJSON *m = cJSON_GetArrayItem(got, i);
        char want[32];
        snprintf(want, sizeof want, "-%d", i + 1);
        const char *t = it_jstr(m, "payload.text");
        if ((int)it_jnum(m, "seq", -1) != i + 1 || !t || strlen(t) != TEXT_LEN + strlen(want) ||
            strcmp(t + TEXT_LEN, want) != 0)
            fail_msg("sync item %d: wanted seq %d, got seq %d", i, i + 1, (int)it_jnum(m, "seq", -1));
    }
    cJSON_Delete(got);
    if (big_page_close)
        fail_msg("sync with the default limit (500 messages of ~1 KB, one ~550 KB page) %s (close %d) under "
                 "--max-send-queue 65536: the response to the client's own request trips the slow-consumer "
                 "ceiling, so a client using the default limit can never catch up; with limit 40 all %d "
                 "messages came back",
                 big_page_close > 0 ? "closed the connection" : "timed out", big_page_close, N_MSGS);
    long rss_after = it_server_rss_kb(s);
    printf("server RSS after the sync: %ld KiB\n", rss_after);
    if (!getenv("TERN_TSAN") && rss_after - rss0 > RSS_LIMIT_KB)
        fail_msg("server RSS after the sync grew by %ld KiB", rss_after - rss0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slow_consumer_bounded, setup_slow, it_teardown_default),
    };
    return it_run_tests("it_slow", tests);
}
