/*
 * stream.c — streamed messages in libtern (see sdk.h and docs/protocol.md §9): the
 * held copy per open stream, the client rule applied to `stream` events, refetches
 * after a gap or a reconnect, and the live buffer that holds `msg` and `stream`
 * events back while a sync runs (so they are applied in arrival order after it).
 *
 * Events to the app (tern.h): STREAM_STARTED when a stream is first seen, STREAM_CHUNK
 * for more text, STREAM_FINISHED once at the end. ev->chunk is always the text added
 * since the previous event of the stream, so the chunks concatenate to the text.
 *
 * Copy on write: the held message is changed in place only while the SDK holds the
 * only reference; if the app kept the one it was lent (tern_message_ref), the next
 * change goes to a clone, so a message the app holds never changes.
 *
 * Every app callback may destroy the client: after each emit the code checks
 * c->destroyed and stops (memory stays valid until the loop callback returns).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "sdk/sdk.h"

/* A parsed `stream` event (strings borrowed from its JSON). */
typedef struct stream_ev {
    uint64_t msg_id, msg_seq;
    int64_t seq, prev_seq;
    tern_str text;
    const char *conv;
    const char *format;
    int state;
    long long finish_reason, end_code;
    const cJSON *message; /* first chunk only */
} stream_ev;

static int parse_ev(const cJSON *d, stream_ev *e)
{
    memset(e, 0, sizeof *e);
    long long seq = -1, prev = -2;
    if (tern_json_get_u64(d, "msgId", &e->msg_id) != TERN_JSON_OK ||
        tern_json_get_int(d, "seq", 0, 9007199254740991LL, &seq) != TERN_JSON_OK ||
        tern_json_get_int(d, "prevSeq", -1, 9007199254740991LL, &prev) != TERN_JSON_OK ||
        tern_json_get_str(d, "text", &e->text) != TERN_JSON_OK)
        return -1;
    e->seq = seq;
    e->prev_seq = prev;
    e->state = sdk_stream_state_parse(tern_json_str(d, "state"));
    e->conv = tern_json_str(d, "conversationID");
    e->format = tern_json_str(d, "format");
    e->message = cJSON_GetObjectItemCaseSensitive(d, "message");
    if (!cJSON_IsObject(e->message))
        e->message = NULL;
    if (tern_json_get_u64(d, "msgSeq", &e->msg_seq) != TERN_JSON_OK && e->message)
        tern_json_get_u64(e->message, "seq", &e->msg_seq);
    tern_json_get_int(d, "finishReason", INT32_MIN, INT32_MAX, &e->finish_reason);
    tern_json_get_int(d, "endCode", 0, INT32_MAX, &e->end_code);
    if (e->state == TERN_STREAM_NONE || !e->conv || e->msg_seq == 0)
        return -1;
    /* seq moves forward, except in the server's end event (no text, seq == prevSeq). */
    if (e->seq < e->prev_seq || (e->seq == e->prev_seq && (e->state == TERN_STREAM_OPEN || e->text.n)))
        return -1;
    return 0;
}

/* ---- the table ------------------------------------------------------------------------ */

void sdk_streams_init(sdk_streams *s)
{
    memset(s, 0, sizeof *s);
    hmap_init(&s->held);
}

static void held_free(sdk_held *h)
{
    for (size_t i = 0; i < h->npending; i++)
        cJSON_Delete(h->pending[i]);
    tern_free(h->pending);
    tern_message_release(h->msg);
    tern_free(h);
}

void sdk_streams_free(sdk_streams *s)
{
    size_t i = 0;
    hmap_entry *e;
    while (hmap_next(&s->held, &i, &e))
        held_free(e->val);
    hmap_free(&s->held);
}

static void drop(tern_client *c, sdk_held *h)
{
    hmap_del_u64(&c->streams.held, h->msg_id);
    held_free(h);
}

static void touch(tern_client *c, sdk_held *h)
{
    h->touched = ++c->streams.tick;
    h->gen = c->streams.gen;
}

/* A new entry for msg_id (the least recently updated one goes if the table is full). */
static sdk_held *hold(tern_client *c, uint64_t msg_id, uint64_t msg_seq, const char *conv, tern_message *m)
{
    if (c->streams.held.used >= SDK_STREAM_MAX_HELD) {
        sdk_held *old = NULL;
        size_t i = 0;
        hmap_entry *e;
        while (hmap_next(&c->streams.held, &i, &e))
            if (!old || ((sdk_held *)e->val)->touched < old->touched)
                old = e->val;
        if (old) {
            LOG_WARN("libtern: more than %d open streams: forgetting stream %" PRIu64, SDK_STREAM_MAX_HELD,
                     old->msg_id);
            drop(c, old);
        }
    }
    sdk_held *h = tern_calloc(1, sizeof *h);
    h->msg = m;
    h->msg_id = msg_id;
    h->msg_seq = msg_seq;
    snprintf(h->conv, sizeof h->conv, "%s", conv);
    hmap_put_u64(&c->streams.held, msg_id, h);
    touch(c, h);
    return h;
}

/* The held message, made safe to change: cloned if the app holds a reference too. */
static tern_message *own(sdk_held *h)
{
    if (atomic_load(&h->msg->refs) > 1) {
        tern_message *copy = sdk_msg_clone(h->msg);
        tern_message_release(h->msg);
        h->msg = copy;
    }
    return h->msg;
}

static void emit(tern_client *c, tern_event_type type, const tern_message *m, const char *chunk, int64_t chunk_seq)
{
    tern_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.message = m;
    ev.chunk = chunk;
    ev.chunk_seq = chunk ? chunk_seq : -1;
    ev.text = "";
    if (type != TERN_EVENT_STREAM_CHUNK) /* the list shows a stream's start and its end */
        sdk_convlist_on_message(c, (tern_message *)m);
    sdk_emit(c, &ev);
}

static int recently_done(const sdk_streams *s, uint64_t msg_id)
{
    for (unsigned i = 0; i < SDK_STREAM_DONE_RING; i++)
        if (s->done[i] == msg_id)
            return 1;
    return 0;
}

/* Emits the end of a stream and forgets it. */
static void finish(tern_client *c, sdk_held *h, const char *chunk, int64_t chunk_seq)
{
    tern_message *m = tern_message_ref(h->msg);
    c->streams.done[c->streams.ndone++ % SDK_STREAM_DONE_RING] = h->msg_id;
    drop(c, h);
    emit(c, TERN_EVENT_STREAM_FINISHED, m, chunk, chunk_seq);
    tern_message_release(m);
}

/* ---- refetch ---------------------------------------------------------------------------- */

static int fetch_in_flight(tern_client *c, uint64_t msg_id)
{
    for (sdk_req *r = c->inflight.head; r; r = r->next)
        if (r->kind == REQ_STREAM_FETCH && r->msg_id == msg_id)
            return 1;
    return 0;
}

/* Asks for the message again (once at a time; not while logged out: the sync after the
 * next login does it). */
static void fetch(tern_client *c, sdk_held *h)
{
    if (!c->logged_in || fetch_in_flight(c, h->msg_id))
        return;
    sdk_req *r = sdk_req_new(REQ_STREAM_FETCH);
    r->str = tern_strdup(h->conv);
    r->num = h->msg_seq + 1;
    r->limit = 1;
    r->msg_id = h->msg_id;
    sdk_sess_send_req(c, r);
}

/* Holds an event back until the fetch answers (bounded: past the bound the answer
 * is followed by another fetch, which covers what was not kept). */
static void pend(sdk_held *h, const cJSON *data)
{
    if (h->npending >= SDK_STREAM_MAX_PENDING) {
        h->refetch_again = 1;
        return;
    }
    if (!h->pending)
        h->pending = tern_calloc(SDK_STREAM_MAX_PENDING, sizeof *h->pending);
    h->pending[h->npending++] = cJSON_Duplicate(data, 1);
}

/* ---- the client rule ---------------------------------------------------------------------- */

static void set_state(tern_message *m, const stream_ev *e)
{
    m->stream_state = e->state;
    if (e->state == TERN_STREAM_FINISHED)
        m->finish_reason = (int)e->finish_reason;
    else if (e->state == TERN_STREAM_ENDED)
        m->end_code = (int)e->end_code;
}

/* A stream's first event (it carries the message): insert and announce it. */
static void start(tern_client *c, const stream_ev *e)
{
    tern_message *m = sdk_msg_from_json(e->message, c->user);
    if (!m) {
        LOG_WARN("libtern: stream %" PRIu64 ": malformed message dropped", e->msg_id);
        return;
    }
    if (!sdk_seqset_receive(&c->seen, m->conv_id, m->seq)) {
        tern_message_release(m); /* this client has it already (and no longer holds it) */
        return;
    }
    /* The event is the authority on the stream's fields at this chunk. */
    tern_free(atomic_exchange(&m->json, NULL));
    snprintf(m->stream_format, sizeof m->stream_format, "%s",
             e->format && !strcmp(e->format, "markdown") ? "markdown" : "text");
    m->stream_last_seq = e->seq;
    set_state(m, e);
    sdk_held *h = hold(c, e->msg_id, m->seq, m->conv_id, m);
    emit(c, TERN_EVENT_STREAM_STARTED, m, m->text ? m->text : "", e->seq);
    if (!c->destroyed && e->state != TERN_STREAM_OPEN)
        finish(c, h, NULL, -1);
}

/* Applies one event to the stream table (not during a sync). */
static void apply(tern_client *c, const cJSON *data)
{
    stream_ev e;
    if (parse_ev(data, &e) < 0) {
        LOG_WARN("libtern: malformed stream event dropped");
        return;
    }
    sdk_held *h = hmap_get_u64(&c->streams.held, e.msg_id);
    if (h && fetch_in_flight(c, e.msg_id)) {
        pend(h, data);
        return;
    }
    if (!h) {
        if (recently_done(&c->streams, e.msg_id))
            return; /* a late event of a stream already finished here */
        if (e.message) {
            start(c, &e);
            return;
        }
        /* First seen mid-way (this client connected after its first chunk): fetch it. */
        h = hold(c, e.msg_id, e.msg_seq, e.conv, NULL);
        pend(h, data);
        fetch(c, h);
        return;
    }
    if (!h->msg) { /* known only by id, its fetch failed: try again */
        pend(h, data);
        fetch(c, h);
        return;
    }
    tern_message *m = h->msg;
    if (e.prev_seq == m->stream_last_seq) {
        m = own(h);
        if (sdk_msg_stream_append(m, e.text.p, e.text.n, SDK_STREAM_MAX_TEXT) < 0) {
            LOG_WARN("libtern: stream %" PRIu64 " over %u bytes: no longer followed", e.msg_id, SDK_STREAM_MAX_TEXT);
            drop(c, h);
            return;
        }
        m->stream_last_seq = e.seq;
        set_state(m, &e);
        touch(c, h);
        if (e.state == TERN_STREAM_OPEN)
            emit(c, TERN_EVENT_STREAM_CHUNK, m, e.text.p, e.seq);
        else
            finish(c, h, e.text.n ? e.text.p : NULL, e.seq);
    } else if (e.seq <= m->stream_last_seq) {
        /* Already held: only a final state is news. */
        if (e.state != TERN_STREAM_OPEN && m->stream_state == TERN_STREAM_OPEN) {
            m = own(h);
            set_state(m, &e);
            tern_free(atomic_exchange(&m->json, NULL));
            finish(c, h, NULL, -1);
        }
    } else {
        /* A gap: chunks this client never saw. */
        pend(h, data);
        fetch(c, h);
    }
}

void sdk_stream_on_event(tern_client *c, const cJSON *data)
{
    if (c->syncing) {
        sdk_live_push(c, NULL, cJSON_Duplicate(data, 1));
        return;
    }
    apply(c, data);
}

/* A newer copy of a held stream (sync, `msg`, fetch): it replaces the held one, and the
 * app sees what it adds. m: a reference the table takes. */
static void replace(tern_client *c, sdk_held *h, tern_message *m)
{
    touch(c, h);
    if (!h->msg) {
        h->msg = m;
        emit(c, TERN_EVENT_STREAM_STARTED, m, m->text ? m->text : "", m->stream_last_seq);
        if (!c->destroyed && m->stream_state != TERN_STREAM_OPEN)
            finish(c, h, NULL, -1);
        return;
    }
    tern_message *old = h->msg;
    if (m->stream_last_seq < old->stream_last_seq ||
        (m->stream_last_seq == old->stream_last_seq && m->stream_state == old->stream_state)) {
        tern_message_release(m); /* not newer than what the app has seen */
        return;
    }
    /* What the app has not seen: the text after the held text (normally its prefix). */
    const char *nt = m->text ? m->text : "", *ot = old->text ? old->text : "";
    size_t on = strlen(ot);
    const char *chunk = strncmp(nt, ot, on) == 0 ? nt + on : nt;
    h->msg = m;
    tern_message_release(old);
    if (m->stream_state == TERN_STREAM_OPEN)
        emit(c, TERN_EVENT_STREAM_CHUNK, m, chunk, m->stream_last_seq);
    else
        finish(c, h, *chunk ? chunk : NULL, m->stream_last_seq);
}

/* replace(), then the events held back for the stream, through the same rule. */
static void replace_and_replay(tern_client *c, sdk_held *h, tern_message *m)
{
    uint64_t id = h->msg_id;
    cJSON **pending = h->pending;
    size_t n = h->npending;
    int again = h->refetch_again;
    h->pending = NULL;
    h->npending = 0;
    h->refetch_again = 0;
    replace(c, h, m);
    for (size_t i = 0; i < n; i++) {
        if (!c->destroyed)
            apply(c, pending[i]);
        cJSON_Delete(pending[i]);
    }
    tern_free(pending);
    if (again && !c->destroyed && (h = hmap_get_u64(&c->streams.held, id)))
        fetch(c, h);
}

int sdk_stream_on_message(tern_client *c, tern_message *m)
{
    uint64_t id = strtoull(m->msg_id, NULL, 10); /* our own decimal rendering */
    sdk_held *h = hmap_get_u64(&c->streams.held, id);
    if (h) {
        if (m->seq)
            sdk_seqset_receive(&c->seen, m->conv_id, m->seq);
        if (fetch_in_flight(c, id))
            replace(c, h, tern_message_ref(m)); /* the held-back events wait for the answer */
        else
            replace_and_replay(c, h, tern_message_ref(m));
        return 1;
    }
    if (m->stream_state != TERN_STREAM_OPEN)
        return 0; /* a whole message now: MESSAGE_RECEIVED */
    if (!m->seq || !sdk_seqset_receive(&c->seen, m->conv_id, m->seq))
        return 1; /* already seen (and finished since) */
    hold(c, id, m->seq, m->conv_id, tern_message_ref(m));
    emit(c, TERN_EVENT_STREAM_STARTED, m, m->text ? m->text : "", m->stream_last_seq);
    return 1;
}

void sdk_stream_on_fetch(tern_client *c, const sdk_req *r, int code, const cJSON *data)
{
    sdk_held *h = hmap_get_u64(&c->streams.held, r->msg_id);
    if (!h)
        return; /* finished meanwhile */
    if (code == TERN_ERR_FORBIDDEN || code == TERN_ERR_GROUP_NOT_FOUND || code == TERN_ERR_NOT_FOUND) {
        LOG_WARN("libtern: stream %" PRIu64 ": its conversation is gone (%d): no longer followed", r->msg_id, code);
        drop(c, h); /* e.g. the user left the group mid-stream */
        return;
    }
    if (code != 0) {
        LOG_WARN("libtern: refetch of stream %" PRIu64 " failed: %d", r->msg_id, code);
        return; /* the next event or the next login tries again */
    }
    tern_message *m = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(data, "messages"))
    {
        uint64_t id = 0;
        if (tern_json_get_u64(it, "msgId", &id) == TERN_JSON_OK && id == r->msg_id)
            m = sdk_msg_from_json(it, c->user);
    }
    if (!m || m->stream_state == TERN_STREAM_NONE) {
        LOG_WARN("libtern: stream %" PRIu64 " not found in its conversation", r->msg_id);
        tern_message_release(m);
        drop(c, h);
        return;
    }
    if (m->seq)
        sdk_seqset_receive(&c->seen, m->conv_id, m->seq);
    replace_and_replay(c, h, m);
}

void sdk_stream_after_sync(tern_client *c)
{
    size_t i = 0;
    hmap_entry *e;
    while (hmap_next(&c->streams.held, &i, &e)) {
        sdk_held *h = e->val;
        if (h->gen != c->streams.gen)
            fetch(c, h);
    }
}

/* ---- the live buffer ---------------------------------------------------------------------- */

void sdk_live_push(tern_client *c, tern_message *m, cJSON *ev)
{
    if (c->nlive == c->caplive) {
        c->caplive = c->caplive ? c->caplive * 2 : 16;
        c->live = tern_realloc(c->live, c->caplive * sizeof *c->live);
    }
    c->live[c->nlive++] = (sdk_live){m, ev};
}

void sdk_live_clear(tern_client *c)
{
    for (size_t i = 0; i < c->nlive; i++) {
        tern_message_release(c->live[i].m);
        cJSON_Delete(c->live[i].ev);
    }
    tern_free(c->live);
    c->live = NULL;
    c->nlive = c->caplive = 0;
}
