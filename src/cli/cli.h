/*
 * cli.h — shared state of the `tern` command-line client: parsed options, and the
 * helpers its commands use (REST calls with libcurl in rest.c, libtern sessions in
 * chat.c / wscmd.c, usage texts in main.c).
 */
#ifndef TERN_CLI_H
#define TERN_CLI_H
#include <stddef.h>

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include <uv.h>

#include "tern/tern.h"

#define CLI_MAX_POS 64
#define CLI_MAX_LIST 300 /* values of a repeatable option (--at, --receiver, --merge) */

/* A repeatable option's values, in order. */
typedef struct cli_list {
    const char *v[CLI_MAX_LIST];
    int n;
} cli_list;

typedef struct cli_opts {
    /* global */
    const char *server, *app, *user, *token, *client_id, *client_secret, *app_token, *admin_token;
    const char *device;
    const char *ca_file; /* https/wss: CA bundle to trust instead of the system's */
    int verbose;
    int help;
    int json;  /* --json: one JSON object per line instead of the human-readable output */
    int tty;   /* stdout is a terminal (cli_out_init) */
    int color; /* emphasis allowed: a terminal, NO_COLOR unset, not --json */
    /* command options */
    const char *to, *group, *text, *custom_data, *client_msg_id, *priority;
    const char *conv, *nickname, *cursor, *secret, *id, *name, *owner, *members;
    const char *since, *from; /* listen --since CURSOR; stream --from USER */
    long count, limit, ttl;
    long bytes, finish_reason; /* stream --bytes N (0: per line), --finish-reason N (-1: none) */
    int markdown;              /* stream --markdown */
    const char *image, *file, *audio, *video, *snapshot; /* send --image F ... (media.c) */
    long seconds;                                        /* send --audio/--video --seconds N (-1: none) */
    const char *output;                                  /* download -o FILE */
    void *media_ctx;                                     /* media.c's state of a media send */
    double timeout;
    long long before;
    int online_only;
    /* send options of issue 10 (send.c) */
    cli_list at, receivers, merge; /* --at U, --receiver U, --merge ID[,ID...] (repeatable) */
    int at_all, no_unread, no_last, need_receipt;
    const char *location, *face; /* --location LON,LAT[,DESC], --face INDEX[:DATA] */
    const char *forward, *title; /* --forward MSGID, --merge's --title */
    /* positionals: command, subcommand, arguments */
    const char *pos[CLI_MAX_POS];
    int npos;
} cli_opts;

/* Prints "error CODE: message" to stderr. */
void cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Server URLs derived from --server: REST base "http://host:port" (no trailing slash)
 * and WebSocket "ws://host:port/ws". Return 0 or -1 (unsupported scheme). */
int cli_rest_base(const cli_opts *o, char *out, size_t outsz);
int cli_ws_url(const cli_opts *o, char *out, size_t outsz);

/* REST: performs method path (appended to the REST base) with an optional JSON body
 * and bearer token. On HTTP 2xx stores the parsed response in *out and returns 0; else
 * prints the error ("error CODE: description") and returns -1. */
int rest_call(const cli_opts *o, const char *method, const char *path, const char *body, const char *bearer,
              cJSON **out);
/* rest_call, naming what failed: a 20003 answer prints "user 'USER' not found", a 10010
 * "group 'GROUP' not found" (either may be NULL: the server's text). */
int rest_call_about(const cli_opts *o, const char *method, const char *path, const char *body, const char *bearer,
                    cJSON **out, const char *user, const char *group);
/* rest_call, except that an answer with HTTP status quiet_status returns -2 without
 * printing anything (e.g. 429, to retry). */
int rest_call_quiet(const cli_opts *o, const char *method, const char *path, const char *body, const char *bearer,
                    cJSON **out, long quiet_status);
/* Prints a REST answer's items (answer.c): a table (columns `prefer` first when present,
 * then the others in order of appearance, `skip` left out; either may be NULL), or with
 * --json one JSON object per line; a `cursor` beside them goes to stderr. Frees root.
 * Returns 0. */
int cli_print_answer(const cli_opts *o, cJSON *root, const char *const *prefer, const char *const *skip);
/* rest_call keeps one libcurl handle, so successive calls reuse the connection
 * (keep-alive); this frees it (main, before exit). */
void cli_http_cleanup(void);
/* The app token for /{org}/{app} calls: --app-token, or minted from --client-secret
 * (locally) or --client-id + --client-secret (POST /{org}/{app}/token). Returns a heap
 * string (free()) or NULL after printing an error. */
char *cli_app_token(const cli_opts *o);
/* A user token for WebSocket commands: --token, or minted locally with --secret, or
 * fetched with app credentials. Heap string or NULL after printing an error. */
char *cli_user_token(const cli_opts *o, const char *user);

/* ---- output for people (fmt.c) ---- */

/* Sets o->tty and o->color from stdout, NO_COLOR and --json. */
void cli_out_init(cli_opts *o);
/* Local time of Unix milliseconds ms: "HH:MM" today, "YYYY-MM-DD HH:MM" otherwise, "-"
 * for 0. */
void cli_fmt_time(int64_t ms, char *out, size_t outsz);
/* Characters (code points) in s[0..n): the width used to align table columns. */
size_t cli_text_width(const char *s, size_t n);
/* The largest length <= max that does not split a UTF-8 sequence of s[0..n). */
size_t cli_utf8_cut(const char *s, size_t n, size_t max);
/* Writes s[0..n) with control characters made visible (^[ for ESC; C1 controls as ?);
 * a newline is followed by indent spaces. */
void cli_put_text(FILE *f, const char *s, size_t n, int indent);

/* A streamed message's state (libtern's tern_message_stream_*), in words. */
typedef struct cli_stream_info {
    int is_stream;
    char format[16]; /* "text" / "markdown" */
    char state[16];  /* "open" / "finished" / "ended" */
    int end_code;
} cli_stream_info;
/* Fills si; returns 1 for a streamed message, else 0. */
int cli_msg_stream(const tern_message *m, cli_stream_info *si);
/* The message type as a word: "text", "custom", "markdown", "stream" (a streamed text
 * message), "location"... (TIM<Name>Elem -> name), else the type name as sent. Returns
 * a static string or buf. */
const char *cli_msg_kind(const tern_message *m, char *buf, size_t bufsz);
/* What to show of a message: its text, a custom message's data (or description), an
 * image/audio/video/file message as "NAME, SIZE[, N s][, WxH], media ID" (in a static
 * buffer until the next call), else its payload JSON. Owned by m. */
const char *cli_msg_body(const tern_message *m);
/* Prints "[time] (conv) from: [kind] " — (conv) only when the message's conversation is
 * not `here` (NULL: always), [kind] only when not text, "…" after the colon when cont. */
void cli_msg_prefix(FILE *f, const cli_opts *o, const tern_message *m, const char *here, int cont);
/* One message in the look of `chat`: prefix, body (continuation lines indented), a
 * stream's state when it is not finished, newline; flushes. */
void cli_print_msg(FILE *f, const cli_opts *o, const tern_message *m, const char *here);
/* "from: [kind] text" on one line, at most max characters of text ("…" if cut). */
void cli_msg_summary(const tern_message *m, char *out, size_t outsz, size_t max);
/* Prints json and a newline on stdout and flushes (nothing for NULL). */
void cli_json_line(const char *json);

/* An aligned table: collect rows, then print them under a header with every column as
 * wide as its widest cell. Cells are copied. */
#define CLI_TABLE_MAX_COLS 8
typedef struct cli_table_row {
    char *cell[CLI_TABLE_MAX_COLS];
    unsigned emph; /* bit c: cell c stands out (colour) when o->color */
} cli_table_row;
typedef struct cli_table {
    int ncols;
    const char *heads[CLI_TABLE_MAX_COLS];
    unsigned right; /* bit c: column c is right-aligned (numbers) */
    cli_table_row *rows;
    size_t nrows, caprows;
} cli_table;
void cli_table_init(cli_table *t, int ncols, const char *const *heads, unsigned right_cols);
/* Adds a row of t->ncols cells (NULL cell = ""). Returns 0 or -1 (out of memory). */
int cli_table_add(cli_table *t, const char *const *cells, unsigned emph_cols);
void cli_table_print(const cli_table *t, const cli_opts *o, FILE *f);
void cli_table_free(cli_table *t);

/* ---- one-shot WebSocket runs (wscmd.c) ---- */

/* One command's libtern client driven on the main thread (tern_client_run). */
typedef struct cli_run {
    cli_opts *o;
    tern_client *c;
    uv_timer_t timer;   /* bounds the run (--timeout) */
    uv_signal_t sig[2]; /* listen: SIGINT, SIGTERM stop it cleanly */
    int timer_on, sig_on;
    int rc;
    int finishing;
    int logged_in;
    long received;
    int ready_said;
    /* listen */
    int stopping, resyncing, stop_rc;
    int live_since_sync; /* messages arrived live after the last sync */
    int reconnecting;    /* the connection dropped; SDK_READY means it is back */
    void *live;          /* cli_live (live.c) */
    void *media;         /* send --image..., download: the progress bar (media.c) */
} cli_run;

/* Creates the client (login as --user with sync_cursor, NULL for none), arms the
 * --timeout timer (timeout_s <= 0: none) and starts the login (none when on_login is
 * NULL: media downloads need only the token). Returns 0 or an exit code (the error
 * printed). */
int cli_run_setup(cli_run *r, cli_opts *o, tern_event_cb on_event, tern_result_cb on_login, double timeout_s,
                  const char *sync_cursor);
/* Runs the loop until cli_run_finish stops it, then tears down; returns r->rc. */
int cli_run_loop(cli_run *r);
/* Ends the run with exit code rc: logs out if logged in, then stops the loop. */
void cli_run_finish(cli_run *r, int rc);
/* The login callback of commands that wait for it: reports a failure and finishes. */
void cli_run_on_login(tern_client *c, int code, const char *message, void *ud);
/* An event callback that only does cli_run_common_event (ud: the cli_run). */
void cli_plain_event(tern_client *c, const tern_event *ev, void *ud);
/* tern_send_message's completion for one-shot sends (ud: the cli_run): prints the ack
 * (`sent to C2Cbob at 12:05: seq 3, msgId ...`, or a JSON line) and ends the run. */
void cli_on_sent(tern_client *c, tern_message *m, int code, const char *message, void *ud);
/* Kicks and disconnects end the run with an error; -v logs every event. */
void cli_run_common_event(cli_run *r, const tern_event *ev);
/* Prints a libtern/server error naming what failed: 20003 as "user 'NAME' not found"
 * (NAME = user), 10010 as "group 'G' not found" (G = group); others as "what: message". */
void cli_error_about(int code, const char *what, const char *message, const char *user, const char *group);

/* ---- streams shown live (live.c) ---- */

/* Shows messages and stream events on stdout for listen and chat: on a terminal a
 * stream's line grows in place as chunks arrive; otherwise the whole message prints once
 * when it finishes; with --json one object per message or stream event. here: the
 * conversation shown without its id (chat), NULL for none. Single-threaded: call from
 * the client's loop thread only. */
typedef struct cli_live cli_live;
cli_live *cli_live_new(const cli_opts *o, const char *here);
void cli_live_free(cli_live *l);
/* A received message (MESSAGE_RECEIVED, history): printed, or held if it is an open
 * stream and stdout is not a terminal. Returns 1 if it counts as a whole message now. */
int cli_live_message(cli_live *l, const tern_message *m);
/* Any event: handles stream events (returns 1 when a stream finished = one whole
 * message), 0 for the others. */
int cli_live_event(cli_live *l, const tern_event *ev);
/* Ends a line a stream left open, before something else is printed on stdout. */
void cli_live_break(cli_live *l);

/* The conversation list as a table (CONVERSATION TYPE UNREAD TIME LAST MESSAGE), unread
 * counts standing out (wscmd.c; also chat's /convs). */
void cli_print_convs(const cli_opts *o, const tern_conversation *const *convs, size_t n);

/* Commands; each returns the process exit code. */
int cmd_rest(cli_opts *o); /* users, token, groups, apps */
int cmd_send(cli_opts *o);
int cmd_listen(cli_opts *o);
int cmd_history(cli_opts *o);
int cmd_conversations(cli_opts *o);
int cmd_chat(cli_opts *o);
int cmd_stream(cli_opts *o);     /* stream.c */
int cmd_send_media(cli_opts *o); /* media.c: send --image/--file/--audio/--video */
int cmd_download(cli_opts *o);   /* media.c */
int cmd_receipts(cli_opts *o);   /* send.c: tern receipts MSGID... */
int cmd_friends(cli_opts *o);    /* send.c: the user's friends (WebSocket op friends) */
/* The send options of o (--online-only, --receiver, --no-unread, --no-last, --priority,
 * --need-receipt) into so; the strings stay o's. Returns 0, or 2 after printing a bad
 * --priority (send.c). */
int cli_send_options(const cli_opts *o, tern_send_options *so);
/* What to show of a face, location, merger or @ message (its own words, in a static
 * buffer until the next call), or NULL for another message (fmt.c). */
const char *cli_elem_body(const tern_message *m);
/* "512 B", "34.2 KB", "5.0 MB", "1.20 GB" (fmt.c). */
void cli_fmt_bytes(uint64_t n, char *out, size_t outsz);

/* Usage text of a command (NULL: the overview). Returns 0 if known. */
int cli_usage(const char *cmd, const char *sub);

#endif
