/*
 * it_shutdown.c — stopping and crashing ternd (docs/protocol.md §5 `shutdown`, §7 close
 * 1001, §8 "a send response with code 0 means the message is committed: it survives
 * kill -9 and a restart"): a graceful SIGTERM tells connected clients and exits 0 with
 * acked messages kept; a kill -9 under a pipelined send load loses no acked message,
 * duplicates none, and leaves the conversation's seqs gap-free.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static void test_graceful_shutdown(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    it_ws *alice = it_login(s, "alice", "a1");
    it_ws *bob = it_login(s, "bob", "b1");
    char mids[3][32];
    for (int i = 0; i < 3; i++) {
        char t[16];
        snprintf(t, sizeof t, "before %d", i + 1);
        assert_int_equal(it_send_text_ok(alice, "C2C", "bob", t, mids[i], sizeof mids[i]), i + 1);
    }

    int64_t t0 = it_now_ms();
    it_server_signal(s, SIGTERM);
    it_ws *all[2] = {alice, bob};
    for (int i = 0; i < 2; i++) {
        cJSON *ev = it_ws_wait_event(all[i], "shutdown", IT_WAIT_MS);
        if (!ev)
            fail_msg("connection %d: no shutdown event after SIGTERM", i);
        cJSON_Delete(ev);
        int code = 0;
        if (it_ws_expect_close(all[i], IT_WAIT_MS, &code) != 0)
            fail_msg("connection %d: not closed after SIGTERM", i);
        assert_int_equal(code, 1001);
    }
    int st = 0;
    if (it_server_wait(s, 10000 - (int)(it_now_ms() - t0), &st) != 0)
        fail_msg("ternd still running 10 s after SIGTERM");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("ternd exited with status 0x%x after SIGTERM (wanted exit 0)", st);
    printf("graceful stop took %lld ms\n", (long long)(it_now_ms() - t0));
    it_ws_free(alice);
    it_ws_free(bob);

    /* Restart on the same data: the acked messages are there. */
    assert_int_equal(it_server_restart(s), 0);
    bob = it_login(s, "bob", "b1");
    cJSON *r = it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\"}");
    it_assert_code(r, 0);
    assert_int_equal(cJSON_GetArraySize(it_jget(r, "data.messages")), 3);
    for (int i = 0; i < 3; i++) {
        char key[40];
        snprintf(key, sizeof key, "data.messages.%d.msgId", i);
        assert_string_equal(it_jstr(r, key), mids[2 - i]);
    }
    cJSON_Delete(r);
    /* And the conversation goes on at seq 4. */
    alice = it_login(s, "alice", "a1");
    assert_int_equal(it_send_text_ok(alice, "C2C", "bob", "after restart", NULL, 0), 4);
}

#define NSEND 4
#define WINDOW 50
#define MAX_ACKS 200000

typedef struct ack {
    char msg_id[24];
    int64_t seq;
} ack;

static int cmp_seq_desc(const void *a, const void *b)
{
    const ack *x = a, *y = b;
    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

static void test_kill9_under_load(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    it_ws *snd[NSEND];
    for (int i = 0; i < NSEND; i++) {
        char dev[8];
        snprintf(dev, sizeof dev, "a%d", i);
        snd[i] = it_login(s, "alice", dev);
    }
    ack *acks = calloc(MAX_ACKS, sizeof *acks);
    int nacks = 0, sent[NSEND] = {0}, got[NSEND] = {0};
    int64_t stop_at = it_now_ms() + 1500;
    while (it_now_ms() < stop_at) {
        for (int i = 0; i < NSEND; i++)
            while (sent[i] - got[i] < WINDOW) {
                if (it_ws_send_req(
                        snd[i],
                        "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\","
                        "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"load %d-%d\"},\"clientMsgId\":\"L%d-%d\"}}",
                        i, sent[i], i, sent[i]) < 0)
                    fail_msg("sender %d: send failed", i);
                sent[i]++;
            }
        it_ws_pump_many(snd, NSEND, 10);
        for (int i = 0; i < NSEND; i++) {
            cJSON *r;
            while ((r = it_ws_wait_re(snd[i], "send", 0)) != NULL) {
                if (it_code(r) != 0)
                    fail_msg("sender %d: refused %s", i, it_jshow(r));
                if (nacks < MAX_ACKS) {
                    snprintf(acks[nacks].msg_id, sizeof acks[nacks].msg_id, "%s", it_jstr(r, "data.msgId"));
                    acks[nacks].seq = (int64_t)it_jnum(r, "data.seq", -1);
                    nacks++;
                }
                got[i]++;
                cJSON_Delete(r);
            }
            cJSON *ev;
            while ((ev = it_ws_wait_event(snd[i], "msg", 0)) != NULL)
                cJSON_Delete(ev);
        }
    }
    it_server_kill9(s);
    int total_sent = 0;
    for (int i = 0; i < NSEND; i++) {
        total_sent += sent[i];
        it_ws_free(snd[i]);
    }
    printf("kill -9 after %d sends, %d acked\n", total_sent, nacks);
    assert_true(nacks > 0);

    assert_int_equal(it_server_restart(s), 0);
    it_ws *bob = it_login(s, "bob", "b1");
    /* Page through the whole conversation, newest first. */
    int cap = total_sent + 16, n = 0;
    ack *stored = calloc((size_t)cap, sizeof *stored);
    int64_t before = 0;
    for (;;) {
        cJSON *r =
            it_ws_request(bob, "{\"op\":\"history\",\"conversationID\":\"C2Calice\",\"beforeSeq\":%lld,\"limit\":100}",
                          (long long)before);
        it_assert_code(r, 0);
        const cJSON *m;
        cJSON_ArrayForEach(m, it_jget(r, "data.messages"))
        {
            if (n >= cap)
                fail_msg("history holds more messages than were sent (%d)", total_sent);
            snprintf(stored[n].msg_id, sizeof stored[n].msg_id, "%s", it_jstr(m, "msgId") ? it_jstr(m, "msgId") : "");
            stored[n].seq = (int64_t)it_jnum(m, "seq", -1);
            before = stored[n].seq;
            n++;
        }
        int more = cJSON_IsTrue(it_jget(r, "data.more"));
        int empty = cJSON_GetArraySize(it_jget(r, "data.messages")) == 0;
        cJSON_Delete(r);
        if (!more || empty)
            break;
    }
    printf("history after restart: %d messages\n", n);
    /* Gap-free: newest first, max..1. */
    for (int i = 0; i < n; i++)
        if (stored[i].seq != n - i)
            fail_msg("history after kill -9: item %d has seq %lld, wanted %d (gap or duplicate)", i,
                     (long long)stored[i].seq, n - i);
    if (n < nacks)
        fail_msg("only %d messages stored, %d were acked", n, nacks);
    /* Every acked (msgId, seq) is there, exactly once (seqs are unique, so by seq). */
    qsort(acks, (size_t)nacks, sizeof *acks, cmp_seq_desc);
    for (int i = 0; i < nacks; i++) {
        if (i && acks[i].seq == acks[i - 1].seq)
            fail_msg("two acks carry seq %lld", (long long)acks[i].seq);
        int64_t q = acks[i].seq;
        if (q < 1 || q > n)
            fail_msg("acked seq %lld (msgId %s) is missing after the restart (stored 1..%d)", (long long)q,
                     acks[i].msg_id, n);
        const ack *st = &stored[n - q];
        if (strcmp(st->msg_id, acks[i].msg_id) != 0)
            fail_msg("seq %lld: acked msgId %s, stored msgId %s", (long long)q, acks[i].msg_id, st->msg_id);
    }
    for (int i = 1; i < n; i++)
        if (it_msgid_cmp(stored[i - 1].msg_id, stored[i].msg_id) == 0)
            fail_msg("msgId %s stored twice", stored[i].msg_id);
    free(acks);
    free(stored);
    /* The conversation continues after the last stored seq. */
    it_ws *alice = it_login(s, "alice", "a1");
    assert_int_equal(it_send_text_ok(alice, "C2C", "bob", "after the crash", NULL, 0), n + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_graceful_shutdown, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_kill9_under_load, it_setup_default, it_teardown_default),
    };
    return it_run_tests("it_shutdown", tests);
}
