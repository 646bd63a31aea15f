/*
 * stream.h — libtern's streamed messages (docs/protocol.md §9): the copy of every open
 * stream the client holds, the "client rule" that applies `stream` events to it with
 * no gap and no duplicate, the refetch of a stream after a gap or a reconnect, and the
 * buffer of live events held back while a sync runs.
 *
 * Per stream the SDK holds one tern_message (text so far, stream.lastSeq, state) keyed
 * by msgId. An event whose prevSeq is the held lastSeq is appended; one at or below it
 * is a duplicate (only a final state is taken from it); anything else is a gap, and the
 * SDK fetches the message again with `history` (beforeSeq = msgSeq + 1, limit 1),
 * holding back the stream's events until the answer, then replaying them through the
 * same rule. A finished or ended stream is forgotten after its STREAM_FINISHED event;
 * at most SDK_STREAM_MAX_HELD open streams are held (the least recently updated one
 * is forgotten first, and reappears as STREAM_STARTED with its whole text if it goes
 * on). So the held texts take at most 256 x 256 KiB, whatever a server sends. A fetch
 * the server refuses for good (not a member any more, no such conversation) forgets
 * the stream without an event. Loop thread only.
 */
#ifndef TERN_SDK_STREAM_H
#define TERN_SDK_STREAM_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hmap.h"
#include "tern/tern.h"

#define SDK_STREAM_MAX_HELD 256         /* open streams held per client */
#define SDK_STREAM_MAX_TEXT (256u << 10) /* a held text's ceiling (twice the server's 128 KiB) */
#define SDK_STREAM_MAX_PENDING 64       /* events held back per stream during a refetch */

/* One held stream. msg is NULL while the stream is known only from an event without
 * its message (first seen mid-way) and the fetch has not answered yet. */
typedef struct sdk_held {
    tern_message *msg;
    uint64_t msg_id, msg_seq;
    char conv[80];     /* conversation id, for the refetch */
    cJSON **pending;   /* events that arrived while a fetch was in flight, in order */
    size_t npending;
    int refetch_again; /* pending overflowed: fetch once more after the answer */
    uint64_t touched;  /* last update (LRU) */
    unsigned gen;      /* the login whose events or sync last proved it current */
} sdk_held;

#define SDK_STREAM_DONE_RING 64 /* recently finished streams remembered */

typedef struct sdk_streams {
    hmap held;     /* msgId -> sdk_held * */
    uint64_t tick; /* LRU clock */
    unsigned gen;  /* bumped at every login */
    /* The last finished streams: a stray event for one of them is not a new stream. */
    uint64_t done[SDK_STREAM_DONE_RING];
    unsigned ndone;
} sdk_streams;

/* A live event held back while a sync runs: a `msg` event's message or a `stream`
 * event's data (owned). */
typedef struct sdk_live {
    tern_message *m;
    cJSON *ev;
} sdk_live;

void sdk_streams_init(sdk_streams *s);
/* Frees every held stream. */
void sdk_streams_free(sdk_streams *s);

/* A `stream` event's data (borrowed). While a sync runs it is copied into the live
 * buffer; otherwise the client rule applies and events are emitted. */
void sdk_stream_on_event(tern_client *c, const cJSON *data);

/* A message object with a `stream` field, from sync or a `msg` event (m borrowed).
 * Returns 1 if it was handled as a stream (a held copy replaced, or a new open stream
 * started), 0 if it is to be delivered as an ordinary message (a finished or ended
 * stream this client does not hold). */
int sdk_stream_on_message(tern_client *c, tern_message *m);

/* The answer to a REQ_STREAM_FETCH (data: the history response's data). */
struct sdk_req;
void sdk_stream_on_fetch(tern_client *c, const struct sdk_req *r, int code, const cJSON *data);

/* A sync completed after a (re)login: every held stream that nothing proved current
 * since the login is fetched again (it may have grown or finished meanwhile). */
void sdk_stream_after_sync(tern_client *c);

/* The live buffer (c->live): append (ownership taken), release everything. */
void sdk_live_push(tern_client *c, tern_message *m, cJSON *ev);
void sdk_live_clear(tern_client *c);

#endif
