/*
 * fuzz_sdk_stream.c — libFuzzer harness for libtern's streamed messages (src/sdk/stream.c):
 * what a server sends must never crash a client, whatever the order, the seqs, the
 * states or the history answers. Each input is a sequence of server frames, one per
 * line, fed to a real client (not connected, set up as logged in, as in
 * tests/unit/test_sdk_stream.c) through sdk_sess_on_text; a line "S" starts a sync (so
 * events are held back until a `sync` answer with the next request id ends it). The
 * event callback reads every accessor of the message it is lent and keeps some of them
 * (so later changes go through copy-on-write); everything is released at the end.
 * The conversation-list cache (convlist.c) follows the same frames: a `sync` answer
 * sends its seed request (the next id), whose `conversations` answer a line may give,
 * and the loop runs one non-blocking turn after each line, so its coalesced
 * CONVERSATION_LIST_UPDATED events go out and are read through every accessor.
 * Links libtern whole (tern_static).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdk/sdk.h"

#define KEEP 8

static size_t sink;
static tern_message *kept[KEEP];
static unsigned nkept;

static void touch(const char *s)
{
    if (s)
        sink += strlen(s);
}

static void on_event(tern_client *c, const tern_event *ev, void *ud)
{
    (void)c;
    (void)ud;
    touch(ev->chunk);
    sink += (size_t)ev->chunk_seq;
    for (size_t i = 0; i < ev->conversation_count; i++) {
        const tern_conversation *v = ev->conversations[i];
        touch(tern_conversation_id(v));
        touch(tern_conversation_peer(v));
        sink += (size_t)tern_conversation_type(v) + (size_t)tern_conversation_unread_count(v) +
                (size_t)tern_conversation_read_seq(v) + (size_t)tern_conversation_last_seq(v) +
                (size_t)tern_conversation_at_info(v);
        touch(tern_message_json(tern_conversation_last_message(v)));
    }
    const tern_message *m = ev->message;
    if (!m)
        return;
    touch(tern_message_text(m));
    touch(tern_message_json(m));
    touch(tern_message_payload_json(m));
    touch(tern_message_stream_format(m));
    sink += (size_t)tern_message_stream_state(m) + (size_t)tern_message_stream_last_seq(m) +
            (size_t)tern_message_stream_finish_reason(m) + (size_t)tern_message_stream_end_code(m);
    if ((sink & 3) == 0) { /* keep some: later chunks then go to a copy */
        tern_message_release(kept[nkept % KEEP]);
        kept[nkept++ % KEEP] = tern_message_ref(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tern_client_options o;
    tern_client_options_init(&o);
    o.on_event = on_event;
    tern_client *c = NULL;
    if (tern_client_create("ws://127.0.0.1:1", "demo/demo", "bob", "tok", &o, &c) != TERN_OK)
        return 0;
    c->session = 1;
    c->logged_in = 1;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n == 1 && p[0] == 'S' && !c->syncing) {
            c->streams.gen++;
            c->syncing = 1;
            sdk_sess_send_req(c, sdk_req_new(REQ_SYNC));
        } else {
            char *line = malloc(n ? n : 1); /* exactly sized: ASan sees reads past it */
            memcpy(line, p, n);
            sdk_sess_on_text(c, line, n);
            free(line);
        }
        uv_run(c->loop, UV_RUN_NOWAIT); /* the turn's list event */
        p += n + 1;
    }
    tern_client_destroy(c);
    for (unsigned i = 0; i < KEEP; i++) {
        tern_message_release(kept[i]);
        kept[i] = NULL;
    }
    nkept = 0;
    return 0;
}
