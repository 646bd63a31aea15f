/*
 * test_sdk_stream.c — unit tests of libtern's streamed messages (src/sdk/stream.c,
 * docs/protocol.md §9): a real tern_client, not connected, is fed server frames
 * exactly as they come off the WebSocket (sdk_sess_on_text), and the events it emits
 * are recorded. Covered: the first chunk, chunks, a duplicate, a gap (the refetch
 * request it puts in flight, the answer, the events held back meanwhile), the end
 * event, finish, a lone whole message, a stream first seen mid-way, a sync during a
 * stream (events held back and replayed), the refetch of held streams after a
 * reconnect, a refetch that fails (again later) or is refused (forgotten), and
 * copy-on-write of a message the app keeps.
 *
 * Links libtern whole (tern_static) and reaches into its private headers to set the
 * client up as logged in; with no connection, requests stay in flight and are
 * inspected in c->inflight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sdk/sdk.h"

#define MAX_EV 32

typedef struct rec_ev {
    tern_event_type type;
    char chunk[256];
    int has_chunk;
    int64_t chunk_seq;
    char text[256];
    char msg_id[24];
    uint64_t seq;
    int state;
    char format[12];
    int64_t last_seq;
    int finish_reason, end_code;
    char conv[80];
} rec_ev;

static rec_ev evs[MAX_EV];
static int nev;
static tern_message *kept; /* a message the "app" keeps a reference to */
static int keep_next;

static void on_event(tern_client *c, const tern_event *ev, void *ud)
{
    (void)c;
    (void)ud;
    if (ev->type == TERN_EVENT_SDK_READY || ev->type == TERN_EVENT_SDK_NOT_READY)
        return;
    assert_true(nev < MAX_EV);
    rec_ev *r = &evs[nev++];
    memset(r, 0, sizeof *r);
    r->type = ev->type;
    r->has_chunk = ev->chunk != NULL;
    snprintf(r->chunk, sizeof r->chunk, "%s", ev->chunk ? ev->chunk : "");
    r->chunk_seq = ev->chunk_seq;
    if (ev->message) {
        snprintf(r->text, sizeof r->text, "%s", tern_message_text(ev->message));
        snprintf(r->msg_id, sizeof r->msg_id, "%s", tern_message_id(ev->message));
        snprintf(r->conv, sizeof r->conv, "%s", tern_message_conversation_id(ev->message));
        r->seq = tern_message_seq(ev->message);
        r->state = tern_message_stream_state(ev->message);
        const char *f = tern_message_stream_format(ev->message);
        snprintf(r->format, sizeof r->format, "%s", f ? f : "");
        r->last_seq = tern_message_stream_last_seq(ev->message);
        r->finish_reason = tern_message_stream_finish_reason(ev->message);
        r->end_code = tern_message_stream_end_code(ev->message);
        if (keep_next) {
            keep_next = 0;
            kept = tern_message_ref(ev->message);
        }
    }
}

static tern_client *new_client(void)
{
    tern_client_options o;
    tern_client_options_init(&o);
    o.on_event = on_event;
    tern_client *c = NULL;
    assert_int_equal(tern_client_create("ws://127.0.0.1:1", "demo/demo", "bob", "tok", &o, &c), TERN_OK);
    /* As after a login: events are applied at once, requests go "on the wire". */
    c->session = 1;
    c->logged_in = 1;
    c->streams.gen = 1;
    nev = 0;
    return c;
}

static void feed(tern_client *c, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    sdk_sess_on_text(c, buf, (size_t)n);
}

/* A message object of stream `id` in GROUPg1 at seq msg_seq (text so far, stream state). */
static void msg_obj(char *out, size_t n, const char *id, int msg_seq, const char *text, const char *state, int last_seq)
{
    snprintf(out, n,
             "{\"msgId\":\"%s\",\"seq\":%d,\"time\":1763779200123,\"conversationType\":\"GROUP\",\"from\":\"222\","
             "\"to\":\"g1\",\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"%s\"},\"cloudCustomData\":\"{}\","
             "\"priority\":\"Normal\",\"needReadReceipt\":false,"
             "\"stream\":{\"format\":\"markdown\",\"state\":\"%s\",\"lastSeq\":%d%s}}",
             id, msg_seq, text, state, last_seq,
             !strcmp(state, "finished") ? ",\"finishReason\":0"
             : !strcmp(state, "ended")  ? ",\"endCode\":14033"
                                        : "");
}

/* A `stream` event. extra: more fields (",\"finishReason\":7"), or "" */
static void chunk(tern_client *c, const char *id, int msg_seq, int seq, int prev, const char *text, const char *state,
                  const char *extra)
{
    feed(c,
         "{\"ev\":\"stream\",\"data\":{\"msgId\":\"%s\",\"conversationID\":\"GROUPg1\",\"conversationType\":\"GROUP\","
         "\"from\":\"222\",\"to\":\"g1\",\"msgSeq\":%d,\"seq\":%d,\"prevSeq\":%d,\"text\":\"%s\","
         "\"format\":\"markdown\",\"state\":\"%s\"%s}}",
         id, msg_seq, seq, prev, text, state, extra);
}

/* The first chunk: the event carries the message. */
static void first(tern_client *c, const char *id, int msg_seq, const char *text, const char *state, const char *extra)
{
    char m[1024], x[1200];
    msg_obj(m, sizeof m, id, msg_seq, text, "open", 0);
    snprintf(x, sizeof x, "%s,\"ext\":{},\"message\":%s", extra, m);
    chunk(c, id, msg_seq, 0, -1, text, state, x);
}

/* The newest request in flight, which must be the refetch of msg_seq; returns its id. */
static uint64_t expect_fetch(tern_client *c, uint64_t msg_seq)
{
    sdk_req *r = c->inflight.tail;
    assert_non_null(r);
    assert_int_equal(r->kind, REQ_STREAM_FETCH);
    assert_string_equal(r->str, "GROUPg1");
    assert_int_equal(r->num, msg_seq + 1);
    assert_int_equal(r->limit, 1);
    return r->id;
}

static void answer_history(tern_client *c, uint64_t id, const char *msg)
{
    feed(c, "{\"re\":\"history\",\"id\":%llu,\"code\":0,\"message\":\"OK\",\"data\":{\"messages\":[%s],\"more\":true}}",
         (unsigned long long)id, msg);
}

static void test_chunks_duplicate_gap_finish(void **state)
{
    (void)state;
    tern_client *c = new_client();
    keep_next = 1;
    first(c, "100", 5, "Hel", "open", "");
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TERN_EVENT_STREAM_STARTED);
    assert_string_equal(evs[0].chunk, "Hel");
    assert_int_equal(evs[0].chunk_seq, 0);
    assert_string_equal(evs[0].text, "Hel");
    assert_string_equal(evs[0].msg_id, "100");
    assert_int_equal(evs[0].seq, 5);
    assert_string_equal(evs[0].conv, "GROUPg1");
    assert_int_equal(evs[0].state, TERN_STREAM_OPEN);
    assert_string_equal(evs[0].format, "markdown");
    assert_int_equal(evs[0].last_seq, 0);

    chunk(c, "100", 5, 1, 0, "lo", "open", "");
    assert_int_equal(nev, 2);
    assert_int_equal(evs[1].type, TERN_EVENT_STREAM_CHUNK);
    assert_string_equal(evs[1].chunk, "lo");
    assert_int_equal(evs[1].chunk_seq, 1);
    assert_string_equal(evs[1].text, "Hello");
    assert_int_equal(evs[1].last_seq, 1);
    /* The message the app kept from STARTED did not change (copy on write). */
    assert_non_null(kept);
    assert_string_equal(tern_message_text(kept), "Hel");
    assert_int_equal(tern_message_stream_last_seq(kept), 0);
    tern_message_release(kept);
    kept = NULL;

    /* A duplicate: nothing. */
    chunk(c, "100", 5, 1, 0, "lo", "open", "");
    assert_int_equal(nev, 2);

    /* A gap (seqs 2 and 3 missed; the backend may skip seqs, the server's prevSeq says
     * what came before): nothing yet, a refetch goes out. */
    chunk(c, "100", 5, 4, 3, "ld", "open", "");
    assert_int_equal(nev, 2);
    uint64_t id = expect_fetch(c, 5);
    /* An event during the refetch is held back. */
    chunk(c, "100", 5, 5, 4, "!", "open", "");
    assert_int_equal(nev, 2);
    /* The answer has the text up to seq 3: the app gets what it missed as one chunk, then
     * the held-back events (4 applies, 5 applies). */
    char m[1024];
    msg_obj(m, sizeof m, "100", 5, "Hello, wor", "open", 3);
    answer_history(c, id, m);
    assert_int_equal(nev, 5);
    assert_int_equal(evs[2].type, TERN_EVENT_STREAM_CHUNK);
    assert_string_equal(evs[2].chunk, ", wor");
    assert_int_equal(evs[2].chunk_seq, 3);
    assert_string_equal(evs[2].text, "Hello, wor");
    assert_string_equal(evs[3].chunk, "ld");
    assert_string_equal(evs[4].chunk, "!");
    assert_string_equal(evs[4].text, "Hello, world!");
    assert_int_equal(evs[4].last_seq, 5);
    assert_null(c->inflight.head);

    /* Finish with a reason and a last chunk. */
    chunk(c, "100", 5, 6, 5, " Bye.", "finished", ",\"finishReason\":7");
    assert_int_equal(nev, 6);
    assert_int_equal(evs[5].type, TERN_EVENT_STREAM_FINISHED);
    assert_string_equal(evs[5].chunk, " Bye.");
    assert_int_equal(evs[5].chunk_seq, 6);
    assert_string_equal(evs[5].text, "Hello, world! Bye.");
    assert_int_equal(evs[5].state, TERN_STREAM_FINISHED);
    assert_int_equal(evs[5].finish_reason, 7);
    assert_int_equal(c->streams.held.used, 0); /* forgotten after FINISHED */
    /* Nothing after the end, not even a late duplicate of the finish. */
    chunk(c, "100", 5, 6, 5, " Bye.", "finished", ",\"finishReason\":7");
    assert_int_equal(nev, 6);
    assert_null(c->inflight.head);
    assert_int_equal(c->streams.held.used, 0);
    tern_client_destroy(c);
}

static void test_end_event_and_whole_message(void **state)
{
    (void)state;
    tern_client *c = new_client();
    first(c, "200", 7, "abc", "open", "");
    chunk(c, "200", 7, 2, 0, "def", "open", "");
    assert_int_equal(nev, 2);
    /* The server ends it: text "", seq == prevSeq == the last accepted seq. */
    keep_next = 0;
    chunk(c, "200", 7, 2, 2, "", "ended", ",\"endCode\":14033");
    assert_int_equal(nev, 3);
    assert_int_equal(evs[2].type, TERN_EVENT_STREAM_FINISHED);
    assert_int_equal(evs[2].has_chunk, 0);
    assert_int_equal(evs[2].chunk_seq, -1);
    assert_int_equal(evs[2].state, TERN_STREAM_ENDED);
    assert_int_equal(evs[2].end_code, 14033);
    assert_string_equal(evs[2].text, "abcdef");

    /* A lone whole message (seq 0 + finish): STARTED then FINISHED, the text once. */
    keep_next = 1;
    first(c, "300", 8, "all at once", "finished", ",\"finishReason\":0");
    assert_int_equal(nev, 5);
    assert_int_equal(evs[3].type, TERN_EVENT_STREAM_STARTED);
    assert_string_equal(evs[3].chunk, "all at once");
    assert_int_equal(evs[4].type, TERN_EVENT_STREAM_FINISHED);
    assert_int_equal(evs[4].has_chunk, 0);
    assert_string_equal(evs[4].text, "all at once");
    assert_int_equal(evs[4].state, TERN_STREAM_FINISHED);
    /* Its whole-object JSON tells the final state and has the text. */
    assert_non_null(kept);
    const char *js = tern_message_json(kept);
    assert_non_null(strstr(js, "\"state\":\"finished\""));
    assert_non_null(strstr(js, "\"text\":\"all at once\""));
    tern_message_release(kept);
    kept = NULL;
    assert_int_equal(c->streams.held.used, 0);
    tern_client_destroy(c);
}

static void test_first_seen_midway(void **state)
{
    (void)state;
    tern_client *c = new_client();
    /* A chunk of a stream this client never saw start: fetch it, hold events back. */
    chunk(c, "400", 9, 3, 2, "C", "open", "");
    assert_int_equal(nev, 0);
    uint64_t id = expect_fetch(c, 9);
    chunk(c, "400", 9, 4, 3, "D", "open", "");
    assert_int_equal(nev, 0);
    char m[1024];
    msg_obj(m, sizeof m, "400", 9, "ABC", "open", 3);
    answer_history(c, id, m);
    assert_int_equal(nev, 2);
    assert_int_equal(evs[0].type, TERN_EVENT_STREAM_STARTED);
    assert_string_equal(evs[0].chunk, "ABC");
    assert_int_equal(evs[0].chunk_seq, 3);
    assert_int_equal(evs[0].seq, 9);
    assert_int_equal(evs[1].type, TERN_EVENT_STREAM_CHUNK);
    assert_string_equal(evs[1].text, "ABCD");
    /* The same message as a `msg` event (not newer): nothing, and no MESSAGE_RECEIVED. */
    msg_obj(m, sizeof m, "400", 9, "ABC", "open", 3);
    feed(c, "{\"ev\":\"msg\",\"data\":%s}", m);
    assert_int_equal(nev, 2);
    tern_client_destroy(c);
}

/* Runs a sync request/answer around `during` (frames fed while the sync runs). */
static void sync_with(tern_client *c, const char *messages, void (*during)(tern_client *))
{
    c->streams.gen++; /* as at a login */
    c->syncing = 1;
    sdk_req *r = sdk_req_new(REQ_SYNC);
    sdk_sess_send_req(c, r);
    uint64_t id = r->id;
    if (during)
        during(c);
    feed(c, "{\"re\":\"sync\",\"id\":%llu,\"code\":0,\"data\":{\"messages\":[%s],\"more\":false,\"cursor\":\"1\"}}",
         (unsigned long long)id, messages);
    assert_int_equal(c->syncing, 0);
    /* The conversation-list seed that follows SDK_READY (convlist.c) is not this test's
     * subject: take it off the wire so inflight holds only the streams' requests. */
    sdk_req *seed = c->inflight.tail;
    if (seed && seed->kind == REQ_CONV_SEED) {
        sdk_req_list_unlink(&c->inflight, seed);
        sdk_req_free(seed);
    }
}

static void during_sync(tern_client *c)
{
    /* Live events while the sync runs: one the sync answer already holds, one after it. */
    chunk(c, "500", 3, 2, 1, "b", "open", "");
    chunk(c, "500", 3, 3, 2, "c", "open", "");
    assert_int_equal(nev, 0);
}

static void test_reconnect_midstream(void **state)
{
    (void)state;
    tern_client *c = new_client();
    /* A client that (re)connects mid-stream: sync has the text so far (lastSeq 2), the
     * live events that came during the sync are replayed after it: the whole text once. */
    char m[1024];
    msg_obj(m, sizeof m, "500", 3, "ab", "open", 2);
    sync_with(c, m, during_sync);
    assert_int_equal(nev, 2);
    assert_int_equal(evs[0].type, TERN_EVENT_STREAM_STARTED);
    assert_string_equal(evs[0].chunk, "ab");
    assert_int_equal(evs[0].chunk_seq, 2);
    assert_int_equal(evs[1].type, TERN_EVENT_STREAM_CHUNK);
    assert_string_equal(evs[1].chunk, "c");
    assert_string_equal(evs[1].text, "abc");
    assert_null(c->inflight.head); /* proven current: no refetch */

    /* The connection drops; the stream finishes meanwhile; the next sync does not have
     * it (its seq is below what the client holds): the SDK refetches it. */
    sync_with(c, "", NULL);
    assert_int_equal(nev, 2);
    uint64_t id = expect_fetch(c, 3);
    msg_obj(m, sizeof m, "500", 3, "abcdef", "finished", 5);
    answer_history(c, id, m);
    assert_int_equal(nev, 3);
    assert_int_equal(evs[2].type, TERN_EVENT_STREAM_FINISHED);
    assert_string_equal(evs[2].chunk, "def");
    assert_int_equal(evs[2].chunk_seq, 5);
    assert_string_equal(evs[2].text, "abcdef");

    /* A finished stream first seen through sync is an ordinary message. */
    msg_obj(m, sizeof m, "600", 4, "done", "finished", 1);
    sync_with(c, m, NULL);
    assert_int_equal(nev, 4);
    assert_int_equal(evs[3].type, TERN_EVENT_MESSAGE_RECEIVED);
    assert_int_equal(evs[3].state, TERN_STREAM_FINISHED);
    assert_string_equal(evs[3].text, "done");
    assert_int_equal(c->streams.held.used, 0);
    tern_client_destroy(c);
}

static void test_fetch_refused(void **state)
{
    (void)state;
    tern_client *c = new_client();
    /* A transient failure keeps the stream; the next event fetches again. */
    chunk(c, "700", 11, 3, 2, "x", "open", "");
    uint64_t id = expect_fetch(c, 11);
    feed(c, "{\"re\":\"history\",\"id\":%llu,\"code\":5004,\"message\":\"overloaded\"}", (unsigned long long)id);
    assert_int_equal(c->streams.held.used, 1);
    chunk(c, "700", 11, 4, 3, "y", "open", "");
    id = expect_fetch(c, 11);
    /* Refused for good (the user left the group): forgotten, no event. */
    feed(c, "{\"re\":\"history\",\"id\":%llu,\"code\":1104,\"message\":\"not a member\"}", (unsigned long long)id);
    assert_int_equal(c->streams.held.used, 0);
    assert_int_equal(nev, 0);
    tern_client_destroy(c);
}

static void test_malformed(void **state)
{
    (void)state;
    tern_client *c = new_client();
    feed(c, "{\"ev\":\"stream\",\"data\":{\"msgId\":\"1\"}}");
    feed(c, "{\"ev\":\"stream\",\"data\":{\"msgId\":\"1\",\"conversationID\":\"GROUPg1\",\"msgSeq\":1,\"seq\":-1,"
            "\"prevSeq\":-1,\"text\":\"x\",\"state\":\"open\"}}");
    feed(c, "{\"ev\":\"stream\",\"data\":{\"msgId\":\"1\",\"conversationID\":\"GROUPg1\",\"msgSeq\":1,\"seq\":0,"
            "\"prevSeq\":-1,\"text\":\"x\",\"state\":\"weird\"}}");
    feed(c, "{\"ev\":\"stream\",\"data\":null}");
    /* seq not after prevSeq (only the end event may repeat it, without text). */
    chunk(c, "1", 1, 2, 2, "x", "open", "");
    chunk(c, "1", 1, 1, 2, "x", "open", "");
    chunk(c, "1", 1, 2, 2, "x", "ended", ",\"endCode\":14033");
    assert_int_equal(nev, 0);
    assert_null(c->inflight.head);
    tern_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunks_duplicate_gap_finish),
        cmocka_unit_test(test_end_event_and_whole_message),
        cmocka_unit_test(test_first_seen_midway),
        cmocka_unit_test(test_reconnect_midstream),
        cmocka_unit_test(test_fetch_refused),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests_name("test_sdk_stream", tests, NULL, NULL);
}
