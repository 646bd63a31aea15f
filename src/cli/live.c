/*
 * live.c — messages and streamed messages as `tern listen` and `tern chat` show them.
 * A streamed message (stream-spec.md) arrives as a first chunk, more chunks and a
 * finish; on a terminal its line grows in place: the prefix and the text so far are
 * printed without a newline and each chunk's new text is appended as it arrives, and
 * the line is ended when the stream finishes — or when something else must be printed,
 * after which the stream's next chunk starts a continuation line ("alice: …"). When
 * stdout is not a terminal the whole message is printed once, when it finishes, so a
 * pipe or a file gets one line per message. With --json every message and every stream
 * event is one JSON object per line. Markdown is shown as the text it is.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"

#define LIVE_MAX 32 /* streams followed at once; the least recently used is forgotten */

typedef struct live_stream {
    char id[32];
    size_t shown; /* bytes of its text already on the terminal */
    uint64_t used;
} live_stream;

struct cli_live {
    const cli_opts *o;
    char here[200];
    char open_id[32]; /* the stream whose line is open on the terminal, "" if none */
    live_stream s[LIVE_MAX];
    uint64_t tick;
};

cli_live *cli_live_new(const cli_opts *o, const char *here)
{
    cli_live *l = tern_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->o = o;
    if (here)
        snprintf(l->here, sizeof l->here, "%s", here);
    return l;
}

void cli_live_free(cli_live *l)
{
    if (!l)
        return;
    cli_live_break(l);
    tern_free(l);
}

void cli_live_break(cli_live *l)
{
    if (l && l->open_id[0]) {
        fputc('\n', stdout);
        fflush(stdout);
        l->open_id[0] = 0;
    }
}

static const char *here_of(const cli_live *l)
{
    return l->here[0] ? l->here : NULL;
}

/* The entry of stream id, created (evicting the least recently used) if new. */
static live_stream *entry(cli_live *l, const char *id)
{
    live_stream *e = NULL, *old = &l->s[0];
    for (int i = 0; i < LIVE_MAX && !e; i++) {
        if (!strcmp(l->s[i].id, id))
            e = &l->s[i];
        else if (l->s[i].used < old->used)
            old = &l->s[i];
    }
    if (!e) {
        e = old;
        memset(e, 0, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", id);
    }
    e->used = ++l->tick;
    return e;
}

/* Shows the text of stream message m beyond what its line already has (terminal). */
static void grow(cli_live *l, const tern_message *m)
{
    const char *id = tern_message_id(m);
    live_stream *e = entry(l, id);
    if (strcmp(l->open_id, id) != 0) {
        cli_live_break(l);
        cli_msg_prefix(stdout, l->o, m, here_of(l), e->shown > 0);
        snprintf(l->open_id, sizeof l->open_id, "%s", id);
    }
    const char *t = tern_message_text(m);
    size_t n = t ? strlen(t) : 0;
    if (n > e->shown)
        cli_put_text(stdout, t + e->shown, n - e->shown, 4);
    e->shown = n;
    fflush(stdout);
}

int cli_live_message(cli_live *l, const tern_message *m)
{
    cli_stream_info si;
    int open = cli_msg_stream(m, &si) && !strcmp(si.state, "open");
    if (l->o->json) {
        cli_json_line(tern_message_json(m));
        return !open;
    }
    if (open) { /* a stream caught mid-way (sync, history): its chunks follow */
        if (l->o->tty)
            grow(l, m);
        return 0;
    }
    cli_live_break(l);
    cli_print_msg(stdout, l->o, m, here_of(l));
    return 1;
}

static void forget(cli_live *l, const char *id)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (!strcmp(l->s[i].id, id))
            memset(&l->s[i], 0, sizeof l->s[i]);
}

static void event_json(const tern_event *ev)
{
    const tern_message *m = ev->message;
    cli_stream_info si;
    cli_msg_stream(m, &si);
    const char *name = ev->type == TERN_EVENT_STREAM_STARTED ? "stream_started"
                       : ev->type == TERN_EVENT_STREAM_CHUNK ? "stream_chunk"
                                                             : "stream_finished";
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_printf(&b, "{\"ev\":\"%s\",\"msgId\":", name);
    tern_buf_json_str(&b, tern_message_id(m), strlen(tern_message_id(m)));
    tern_buf_puts(&b, ",\"conversationID\":");
    tern_buf_json_str(&b, tern_message_conversation_id(m), strlen(tern_message_conversation_id(m)));
    tern_buf_puts(&b, ",\"from\":");
    tern_buf_json_str(&b, tern_message_from(m), strlen(tern_message_from(m)));
    tern_buf_printf(&b, ",\"seq\":%" PRId64 ",\"chunk\":", ev->chunk_seq);
    const char *chunk = ev->chunk ? ev->chunk : "";
    tern_buf_json_str(&b, chunk, strlen(chunk));
    tern_buf_puts(&b, ",\"format\":");
    tern_buf_json_str(&b, si.format[0] ? si.format : "text", strlen(si.format[0] ? si.format : "text"));
    tern_buf_puts(&b, ",\"state\":");
    tern_buf_json_str(&b, si.state[0] ? si.state : "open", strlen(si.state[0] ? si.state : "open"));
    if (ev->type != TERN_EVENT_STREAM_CHUNK && tern_message_json(m)) {
        tern_buf_puts(&b, ",\"message\":"); /* the message as it stands: first chunk, or whole */
        tern_buf_puts(&b, tern_message_json(m));
    }
    tern_buf_putc(&b, '}');
    cli_json_line(b.data);
    tern_buf_free(&b);
}

int cli_live_event(cli_live *l, const tern_event *ev)
{
    if (ev->type != TERN_EVENT_STREAM_STARTED && ev->type != TERN_EVENT_STREAM_CHUNK &&
        ev->type != TERN_EVENT_STREAM_FINISHED)
        return 0;
    const tern_message *m = ev->message;
    int done = ev->type == TERN_EVENT_STREAM_FINISHED;
    if (!m)
        return 0;
    if (l->o->json) {
        event_json(ev);
        return done;
    }
    if (!l->o->tty) { /* a pipe or a file: the whole message once */
        if (done)
            cli_print_msg(stdout, l->o, m, here_of(l));
        return done;
    }
    grow(l, m);
    if (done) {
        cli_stream_info si;
        if (cli_msg_stream(m, &si) && !strcmp(si.state, "ended"))
            printf(" [ended: %d]", si.end_code);
        l->open_id[0] = 0;
        fputc('\n', stdout);
        fflush(stdout);
        forget(l, tern_message_id(m));
    }
    return done;
}
