/*
 * main.c — `tern`, the command-line client of Tern: option parsing, help texts and
 * dispatch. Messaging commands (chat, send, listen, history, conversations) go through
 * libtern over WebSocket (wscmd.c, chat.c); administrative verbs (users, token,
 * groups, apps) call the REST API with libcurl (rest.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "tern/tern.h"

void cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    if (code)
        fprintf(stderr, "error %d: ", code);
    else
        fprintf(stderr, "error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- help ------------------------------------------------------------------------ */

static const char OVERVIEW[] =
    "usage: tern [global options] <command> [options] [args]\n"
    "\n"
    "Messaging (WebSocket, through libtern; needs --app, --user and a user token):\n"
    "  chat           interactive chat with a user or group (reads lines from stdin)\n"
    "  send           send one message\n"
    "  listen         print received messages as they come (--since CURSOR: catch up first)\n"
    "  history        print a conversation's messages\n"
    "  conversations  the conversation list with unread counts\n"
    "  receipts       read counts of messages you sent with --need-receipt\n"
    "  friends        the user's friends (an app backend adds them over REST)\n"
    "  download       fetch an image, audio, video or file of a message (-o FILE)\n"
    "\n"
    "Administration and app backends (REST API; need an app token, or the admin token for apps):\n"
    "  stream         send stdin as a streamed message, chunk by chunk (`some-llm | tern stream ...`)\n"
    "  users          create | list | get | delete users\n"
    "  token          issue a user token (REST, or minted locally with --secret)\n"
    "  groups         create | get | dismiss | members | add | remove | of\n"
    "  apps           create | list apps (admin)\n"
    "\n"
    "Output is for people: aligned tables, local times (HH:MM today, else the date too),\n"
    "message lines like `[12:05] (GROUPteam) alice: hi`, message types as words, unread\n"
    "counts in colour on a terminal (never with NO_COLOR set or into a pipe).\n"
    "--json prints one JSON object per line instead, for scripts.\n"
    "\n"
    "Global options (also accepted after the command):\n"
    "  --server URL          server, default http://127.0.0.1:8080 (env TERN_SERVER);\n"
    "                        the WebSocket endpoint is ws://HOST:PORT/ws; https:// or\n"
    "                        wss:// for a server behind a TLS proxy (then wss://.../ws)\n"
    "  --ca FILE             PEM certificate authorities to trust for https/wss instead\n"
    "                        of the system's (env TERN_CA)\n"
    "  --app ORG/APP         the app (env TERN_APP)\n"
    "  --user NAME           the user to log in as (env TERN_USER)\n"
    "  --token TOKEN         the user's token (env TERN_TOKEN); without it the CLI mints\n"
    "                        one with --secret, or asks REST with the app credentials\n"
    "  --client-id ID, --client-secret S\n"
    "                        app credentials (env TERN_CLIENT_ID, TERN_CLIENT_SECRET):\n"
    "                        the CLI gets an app token via POST /{org}/{app}/token\n"
    "  --app-token TOKEN     an app token instead (env TERN_APP_TOKEN)\n"
    "  --admin-token TOKEN   the server's admin token, for `apps` (env TERN_ADMIN_TOKEN)\n"
    "  --device NAME         login device name (WebSocket commands)\n"
    "  --json                one JSON object per line (see each command's help)\n"
    "  -v, --verbose         show REST requests (secrets as ***) and connection events\n"
    "                        on stderr\n"
    "  -h, --help            help; `tern <command> --help` for a command\n"
    "  --version             print the version\n"
    "\n"
    "Exit status: 0 on success; 1 on an error, printed to stderr as \"error CODE: text\";\n"
    "2 on a usage error.\n";

static const struct {
    const char *cmd, *sub, *text;
} USAGES[] = {
    {"chat", NULL,
     "usage: tern chat (--to USER | --group GROUP)\n"
     "Logs in and chats: every line read from stdin is sent as a text message (works in a\n"
     "terminal and with a pipe); incoming messages print as `[HH:MM] sender: text`\n"
     "(messages of other conversations are prefixed with their conversation id; types\n"
     "other than text are named, `[custom]`). A streamed message grows in place on a\n"
     "terminal as its chunks arrive (markdown shown as text); into a pipe it prints once,\n"
     "whole. Notices (reconnecting, reconnected) go to stderr.\n"
     "Commands typed as lines:\n"
     "  /history   the last 20 messages of this conversation\n"
     "  /convs     the conversation list with unread counts\n"
     "  /read      mark this conversation read\n"
     "  /quit      leave (so does end of input, after every sent line is acknowledged)\n"
     "A line starting with // sends the text after the first /.\n"
     "A user or group that does not exist ends the chat at once with the error (exit 1).\n"},
    {"send", NULL,
     "usage: tern send (--to USER | --group GROUP) --text TEXT [--custom-data S]\n"
     "                 [--client-msg-id ID] [--priority High|Normal|Low|Lowest]\n"
     "                 [--online-only] [--timeout SECONDS] [--json]\n"
     "                 [--at USER]... [--at-all] [--receiver USER]... [--need-receipt]\n"
     "                 [--no-unread] [--no-last]\n"
     "       tern send (--to USER | --group GROUP) (--location LON,LAT[,DESC] |\n"
     "                 --face INDEX[:DATA] | --forward MSGID | --merge MSGID... [--title T])\n"
     "       tern send (--to USER | --group GROUP) (--image F | --file F |\n"
     "                 --audio F --seconds N | --video F [--snapshot IMAGE] [--seconds N])\n"
     "Logs in over WebSocket, sends one text message and prints the acknowledgement:\n"
     "  sent to C2Cbob at 12:05: seq 3, msgId 7264...\n"
     "--image/--file/--audio/--video upload the file first (HTTP, beside the WebSocket;\n"
     "a video's --snapshot image too), printing `uploaded F (34.2 KB): media ID`, then\n"
     "send the image/file/audio/video message naming it. A progress bar shows on stderr\n"
     "when it is a terminal, never into a pipe or file. No default --timeout for these.\n"
     "With --json, one line: {\"msgId\":\"...\",\"seq\":N,\"time\":MS,\"conversationID\":\"C2Cbob\"}\n"
     "--custom-data sets cloudCustomData; --client-msg-id makes a retry idempotent (the\n"
     "server stores one message per sender and id); --online-only is not stored (seq 0).\n"
     "--at USER / --at-all mention members of the group (an @ message); --receiver USER\n"
     "(up to 50) sends to those members only; --need-receipt asks for read receipts (see\n"
     "`tern receipts`); --no-unread / --no-last: stored, but not counted unread / not the\n"
     "conversation's last message (not with --online-only). --location, --face: those\n"
     "message types; --forward MSGID sends a copy of a message you sent or received (same\n"
     "type and content); --merge ID[,ID...] (repeatable, or ids after the options) sends\n"
     "one merged message of them, titled --title.\n"
     "Exits 0, or 1 with the error on stderr. --timeout (default 30) bounds the whole run.\n"},
    {"listen", NULL,
     "usage: tern listen [--since CURSOR] [--count N] [--timeout SECONDS] [--json]\n"
     "Logs in and prints every message the user receives, one per line in the look of\n"
     "`chat`: `[12:05] (C2Calice) alice: hi`. A streamed message grows in place on a\n"
     "terminal; into a pipe or file it is printed once, whole, when it finishes.\n"
     "--since CURSOR first catches up: every message that arrived after CURSOR is printed\n"
     "(oldest first in each conversation), then the live ones. Without it, the catch-up\n"
     "starts at login.\n"
     "When it stops (--count N messages, --timeout, Ctrl-C or SIGTERM), it prints the\n"
     "cursor on stderr as `cursor: <id>`: give it to the next `tern listen --since` to go\n"
     "on without missing or repeating a message:\n"
     "  cur=$(tern listen --timeout 60 2>&1 >msgs.txt | sed -n 's/^cursor: //p')\n"
     "  tern listen --since \"$cur\"\n"
     "--json: each message object (docs/protocol.md §6) on its own line; a stream adds one\n"
     "object per event: {\"ev\":\"stream_started\"|\"stream_chunk\"|\"stream_finished\",\"msgId\",\n"
     "\"conversationID\",\"from\",\"seq\",\"chunk\",\"format\",\"state\"[,\"message\"]}.\n"
     "`listening as USER` goes to stderr once the catch-up is done; `* reconnected` after a\n"
     "dropped connection came back (what was missed meanwhile is printed first).\n"
     "Exit: 0 after N messages or the timeout without --count; 1 if fewer than N arrived.\n"},
    {"history", NULL,
     "usage: tern history --conv CONVERSATION_ID [--limit N] [--before SEQ] [--json]\n"
     "Prints a conversation's messages with seq < SEQ (default: the newest), at most N\n"
     "(1-100, default 20), oldest first, in the look of `chat`. Conversation ids look like\n"
     "C2Cbob (with user bob) or GROUPg1 (group g1). When older messages remain, stderr\n"
     "says which --before gets them. --json: one message object per line, oldest first.\n"},
    {"conversations", NULL,
     "usage: tern conversations [--limit N] [--json]\n"
     "The conversation list, most recent first, at most N (1-500, default 100):\n"
     "  CONVERSATION  TYPE   UNREAD  TIME   LAST MESSAGE\n"
     "  GROUPteam     group       2  12:05  alice: hi team\n"
     "--json: one object per line, {\"conversationID\",\"type\",\"peer\",\"unreadCount\",\n"
     "\"readSeq\",\"lastSeq\",\"lastMessage\"}.\n"},
    {"stream", NULL,
     "usage: tern stream (--group GROUP | --to USER) --from USER [--bytes N] [--markdown]\n"
     "                   [--finish-reason N] [--json]\n"
     "Sends standard input as one streamed message through the REST API\n"
     "(POST /{org}/{app}/stream_message/chatgroup or /users, app token): a chunk per line,\n"
     "or per N bytes with --bytes N (a UTF-8 character is never split), so\n"
     "`some-llm | tern stream --group g1 --from bot` shows the reply growing in every\n"
     "member's `tern listen` and `tern chat`. The first chunk is seq 0; at end of input a\n"
     "last chunk carries finish:true (and --finish-reason N), with msg \"\" if nothing is\n"
     "left. Input that waits 10 s in the middle of a line is sent as it is, so a slow writer\n"
     "keeps the stream open; if stdin is silent for more than 30 s the server ends the\n"
     "stream (14033) and tern prints that error and exits 1. Line breaks are kept: each\n"
     "line after the first is sent with the newline before it. --markdown marks the\n"
     "message as markdown. --from is not checked against the users (as Easemob).\n"
     "Prints the message id once the first chunk is accepted (-v: every chunk's answer);\n"
     "--json prints {\"msgId\",\"chunks\",\"bytes\"} at the end instead.\n"},
    {"receipts", NULL,
     "usage: tern receipts MSGID... [--json]\n"
     "For messages the user sent with --need-receipt: how many members read each and how\n"
     "many did not (a C2C message: 1 or 0), as a table MSGID CONVERSATION READ UNREAD;\n"
     "--json: one {\"msgId\",\"conversationID\",\"readCount\",\"unreadCount\"} per line.\n"
     "A message sent without --need-receipt, or by someone else, is an error (1040).\n"},
    {"friends", NULL,
     "usage: tern friends [--json]\n"
     "Logs in and prints the user's friends, one per line (--json: {\"friend\":ID} lines).\n"
     "App backends add and remove friends over REST (POST/DELETE\n"
     "/{org}/{app}/users/{user}/contacts/users/{friend}); friendship goes both ways.\n"},
    {"download", NULL,
     "usage: tern download MEDIA -o FILE [--timeout SECONDS] [--json]\n"
     "Fetches media as the user (--user and a token, no login needed) into FILE: MEDIA is\n"
     "a media id (what `history` and `listen` show as `media ID`), or a media URL from a\n"
     "message (http(s)://... or /{org}/{app}/media/...). The bytes go to a temporary\n"
     "file beside FILE, renamed to FILE once complete: FILE never holds half a file.\n"
     "A progress bar shows on stderr when it is a terminal. Prints\n"
     "  downloaded ID to FILE (5.0 MB)\n"
     "--json: {\"file\",\"bytes\"}. Errors: 7006 media not found, 7002 expired.\n"},
    {"users", NULL,
     "usage: tern users create NAME [--nickname N]\n"
     "       tern users list [--limit N] [--cursor NAME]\n"
     "       tern users get NAME\n"
     "       tern users delete NAME\n"
     "REST user administration of --app. Prints a table (USERNAME NICKNAME CREATED ...);\n"
     "--json: one user object per line. list: at most N users (1-100, default 100); when\n"
     "there are more, stderr says `cursor: NAME` for the next --cursor.\n"},
    {"token", NULL,
     "usage: tern token NAME [--ttl SECONDS] [--secret CLIENT_SECRET]\n"
     "Prints a user token for NAME. With --secret, mints it locally (HMAC-SHA256 with\n"
     "the app's client secret, docs/protocol.md §3; default ttl 86400); otherwise asks\n"
     "the server (POST /{org}/{app}/users/NAME/token) with the app credentials.\n"},
    {"groups", NULL,
     "usage: tern groups create [--id G] --name NAME --owner USER [--members a,b,...]\n"
     "       tern groups get G\n"
     "       tern groups dismiss G\n"
     "       tern groups members G\n"
     "       tern groups add G USER...\n"
     "       tern groups remove G USER\n"
     "       tern groups of USER        (the groups USER belongs to)\n"
     "REST group administration of --app; prints the answer as a table (--json: one JSON\n"
     "object per line).\n"},
    {"apps", NULL,
     "usage: tern apps create ORG/APP\n"
     "       tern apps list\n"
     "Server administration with --admin-token; `create` prints the new app's\n"
     "client_id and client_secret (a table; --json: one object per line).\n"},
};

int cli_usage(const char *cmd, const char *sub)
{
    (void)sub;
    if (!cmd) {
        fputs(OVERVIEW, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof USAGES / sizeof USAGES[0]; i++)
        if (!strcmp(USAGES[i].cmd, cmd)) {
            fputs(USAGES[i].text, stdout);
            return 0;
        }
    return -1;
}

/* ---- options --------------------------------------------------------------------- */

typedef enum { T_STR, T_LONG, T_DOUBLE, T_LLONG, T_FLAG, T_LIST } opt_type;

static int parse_num(const char *name, const char *v, opt_type t, void *dst)
{
    char *end;
    if (t == T_DOUBLE) {
        double d = strtod(v, &end);
        if (*v == 0 || *end || d < 0) {
            cli_error(0, "--%s needs a non-negative number", name);
            return -1;
        }
        *(double *)dst = d;
        return 0;
    }
    long long n = strtoll(v, &end, 10);
    if (*v == 0 || *end || n < 0) {
        cli_error(0, "--%s needs a non-negative integer", name);
        return -1;
    }
    if (t == T_LONG)
        *(long *)dst = (long)n;
    else
        *(long long *)dst = n;
    return 0;
}

static int parse_args(int argc, char **argv, cli_opts *o)
{
    struct {
        const char *name;
        opt_type type;
        void *dst;
    } table[] = {
        {"server", T_STR, &o->server},
        {"app", T_STR, &o->app},
        {"user", T_STR, &o->user},
        {"token", T_STR, &o->token},
        {"client-id", T_STR, &o->client_id},
        {"client-secret", T_STR, &o->client_secret},
        {"app-token", T_STR, &o->app_token},
        {"admin-token", T_STR, &o->admin_token},
        {"device", T_STR, &o->device},
        {"ca", T_STR, &o->ca_file},
        {"to", T_STR, &o->to},
        {"group", T_STR, &o->group},
        {"text", T_STR, &o->text},
        {"custom-data", T_STR, &o->custom_data},
        {"client-msg-id", T_STR, &o->client_msg_id},
        {"priority", T_STR, &o->priority},
        {"conv", T_STR, &o->conv},
        {"nickname", T_STR, &o->nickname},
        {"cursor", T_STR, &o->cursor},
        {"secret", T_STR, &o->secret},
        {"id", T_STR, &o->id},
        {"name", T_STR, &o->name},
        {"owner", T_STR, &o->owner},
        {"members", T_STR, &o->members},
        {"since", T_STR, &o->since},
        {"from", T_STR, &o->from},
        {"bytes", T_LONG, &o->bytes},
        {"finish-reason", T_LONG, &o->finish_reason},
        {"markdown", T_FLAG, &o->markdown},
        {"image", T_STR, &o->image},
        {"file", T_STR, &o->file},
        {"audio", T_STR, &o->audio},
        {"video", T_STR, &o->video},
        {"snapshot", T_STR, &o->snapshot},
        {"seconds", T_LONG, &o->seconds},
        {"output", T_STR, &o->output},
        {"json", T_FLAG, &o->json},
        {"count", T_LONG, &o->count},
        {"limit", T_LONG, &o->limit},
        {"ttl", T_LONG, &o->ttl},
        {"timeout", T_DOUBLE, &o->timeout},
        {"before", T_LLONG, &o->before},
        {"online-only", T_FLAG, &o->online_only},
        {"at", T_LIST, &o->at},
        {"at-all", T_FLAG, &o->at_all},
        {"receiver", T_LIST, &o->receivers},
        {"no-unread", T_FLAG, &o->no_unread},
        {"no-last", T_FLAG, &o->no_last},
        {"need-receipt", T_FLAG, &o->need_receipt},
        {"location", T_STR, &o->location},
        {"face", T_STR, &o->face},
        {"forward", T_STR, &o->forward},
        {"merge", T_LIST, &o->merge},
        {"title", T_STR, &o->title},
        {"verbose", T_FLAG, &o->verbose},
        {"help", T_FLAG, &o->help},
    };
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            if (o->npos == CLI_MAX_POS) {
                cli_error(0, "too many arguments");
                return -1;
            }
            o->pos[o->npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "-h")) {
            o->help = 1;
            continue;
        }
        if (!strcmp(a, "-v")) {
            o->verbose = 1;
            continue;
        }
        if (!strcmp(a, "-o")) { /* download -o FILE */
            if (i + 1 >= argc) {
                cli_error(0, "-o needs a value");
                return -1;
            }
            o->output = argv[++i];
            continue;
        }
        if (!strcmp(a, "--version") && o->npos < (int)(sizeof o->pos / sizeof o->pos[0])) {
            o->pos[o->npos++] = "version"; /* `tern --version` is `tern version` */
            continue;
        }
        if (a[1] != '-') {
            cli_error(0, "unknown option %s (see tern --help)", a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        size_t k;
        for (k = 0; k < sizeof table / sizeof table[0]; k++)
            if (strlen(table[k].name) == nlen && !strncmp(table[k].name, name, nlen))
                break;
        if (k == sizeof table / sizeof table[0]) {
            cli_error(0, "unknown option --%.*s (see tern --help)", (int)nlen, name);
            return -1;
        }
        if (table[k].type == T_FLAG) {
            if (eq) {
                cli_error(0, "--%s takes no value", table[k].name);
                return -1;
            }
            *(int *)table[k].dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                cli_error(0, "--%s needs a value", table[k].name);
                return -1;
            }
            v = argv[++i];
        }
        if (table[k].type == T_STR) {
            *(const char **)table[k].dst = v;
        } else if (table[k].type == T_LIST) {
            cli_list *l = table[k].dst;
            if (l->n == CLI_MAX_LIST) {
                cli_error(0, "--%s given more than %d times", table[k].name, CLI_MAX_LIST);
                return -1;
            }
            l->v[l->n++] = v;
        } else if (parse_num(table[k].name, v, table[k].type, table[k].dst) < 0) {
            return -1;
        }
    }
    return 0;
}

static const char *env_or(const char *v, const char *env)
{
    if (v)
        return v;
    const char *e = getenv(env);
    return e && *e ? e : NULL;
}

static int dispatch(cli_opts *o);

int main(int argc, char **argv)
{
    cli_opts o;
    memset(&o, 0, sizeof o);
    o.count = -1;
    o.limit = -1;
    o.ttl = -1;
    o.timeout = -1;
    o.before = 0;
    o.finish_reason = -1;
    o.seconds = -1;
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    o.server = env_or(o.server, "TERN_SERVER");
    o.ca_file = env_or(o.ca_file, "TERN_CA");
    if (!o.server)
        o.server = "http://127.0.0.1:8080";
    o.app = env_or(o.app, "TERN_APP");
    o.user = env_or(o.user, "TERN_USER");
    o.token = env_or(o.token, "TERN_TOKEN");
    o.client_id = env_or(o.client_id, "TERN_CLIENT_ID");
    o.client_secret = env_or(o.client_secret, "TERN_CLIENT_SECRET");
    o.app_token = env_or(o.app_token, "TERN_APP_TOKEN");
    o.admin_token = env_or(o.admin_token, "TERN_ADMIN_TOKEN");

    cli_out_init(&o);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = dispatch(&o);
    cli_http_cleanup();
    curl_global_cleanup();
    return rc;
}

static int dispatch(cli_opts *op)
{
    cli_opts o = *op;
    const char *cmd = o.npos ? o.pos[0] : NULL;
    if (!cmd || !strcmp(cmd, "help")) {
        if (cmd && o.npos > 1) {
            if (cli_usage(o.pos[1], NULL) == 0)
                return 0;
        }
        cli_usage(NULL, NULL);
        return cmd || o.help ? 0 : 2;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tern %s\n", tern_version());
        return 0;
    }
    if (o.help) {
        if (cli_usage(cmd, NULL) < 0) {
            cli_error(0, "unknown command %s (see tern --help)", cmd);
            return 2;
        }
        return 0;
    }
    /* --limit against each command's documented range, before anything is sent. */
    static const struct {
        const char *cmd;
        long max;
    } limits[] = {{"history", 100}, {"conversations", 500}, {"convs", 500}, {"users", 100}};
    for (size_t i = 0; o.limit != -1 && i < sizeof limits / sizeof limits[0]; i++) {
        if (!strcmp(cmd, limits[i].cmd) && (o.limit < 1 || o.limit > limits[i].max)) {
            cli_error(0, "--limit %ld is out of range for %s: 1-%ld", o.limit, cmd, limits[i].max);
            return 2;
        }
    }
    if (!strcmp(cmd, "chat"))
        return cmd_chat(&o);
    if (!strcmp(cmd, "send"))
        return cmd_send(&o);
    if (!strcmp(cmd, "listen"))
        return cmd_listen(&o);
    if (!strcmp(cmd, "history"))
        return cmd_history(&o);
    if (!strcmp(cmd, "conversations") || !strcmp(cmd, "convs"))
        return cmd_conversations(&o);
    if (!strcmp(cmd, "stream"))
        return cmd_stream(&o);
    if (!strcmp(cmd, "download"))
        return cmd_download(&o);
    if (!strcmp(cmd, "receipts"))
        return cmd_receipts(&o);
    if (!strcmp(cmd, "friends"))
        return cmd_friends(&o);
    if (!strcmp(cmd, "users") || !strcmp(cmd, "token") || !strcmp(cmd, "groups") || !strcmp(cmd, "apps"))
        return cmd_rest(&o);
    cli_error(0, "unknown command %s (see tern --help)", cmd);
    return 2;
}
