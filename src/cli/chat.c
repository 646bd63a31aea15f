/*
 * chat.c — `tern chat`: an interactive chat, written as a libtern app in thread mode
 * (tern_client_start_thread). The main thread reads stdin line by line with blocking
 * fgets — so a terminal, a pipe and a file all work — and calls the thread-safe
 * request functions; the SDK thread runs every callback and prints incoming messages.
 * A mutex + condition variable lets the main thread wait for the login, for the
 * acknowledgement of every sent line before leaving, and for the logout.
 * Messages and streams print through live.c (a stream's line grows in place on a
 * terminal); notices go to stderr: reconnecting, reconnected, errors. A recipient that
 * does not exist ends the chat with the error and exit status 1: a group is checked
 * with its history at start, a user through REST when app credentials are at hand,
 * else by the first send's answer.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/util.h"
#include "tern/tern.h"

typedef struct chat {
    cli_opts *o;
    tern_client *c;
    char conv[200];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int login_done, login_code; /* mu */
    int pending;                /* mu: sends and requests not yet answered */
    int logout_done;            /* mu */
    int dead;                   /* mu: kicked / disconnected for good */
    int failed;                 /* mu: exit status 1 (recipient missing, kicked...) */
    int check_done;             /* mu: the start-up check of the group answered */
    /* SDK thread only: */
    cli_live *live;
    int was_ready, reconnecting;
} chat;

static void signal_locked(chat *ch, int *field, int value)
{
    pthread_mutex_lock(&ch->mu);
    *field = value;
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
}

/* Marks the chat over with exit status 1 and wakes the main thread. */
static void fail_chat(chat *ch)
{
    pthread_mutex_lock(&ch->mu);
    ch->dead = 1;
    ch->failed = 1;
    ch->pending = 0;
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
}

static void on_event(tern_client *c, const tern_event *ev, void *ud)
{
    chat *ch = ud;
    if (ev->type == TERN_EVENT_MESSAGE_RECEIVED) {
        cli_live_message(ch->live, ev->message);
        return;
    }
    if (cli_live_event(ch->live, ev))
        return;
    cli_live_break(ch->live); /* a notice must not land inside a growing stream line */
    switch (ev->type) {
    case TERN_EVENT_SDK_READY:
        if (ch->reconnecting)
            fprintf(stderr, "* reconnected: back in %s (missed messages shown above)\n", ch->conv);
        else if (ch->o->verbose)
            fprintf(stderr, "* ready\n");
        ch->reconnecting = 0;
        ch->was_ready = 1;
        break;
    case TERN_EVENT_SDK_NOT_READY:
        if (ev->code) /* 0: our own logout */
            fprintf(stderr, "* connection lost: %s\n", ev->text);
        break;
    case TERN_EVENT_RECONNECTING:
        ch->reconnecting = 1;
        fprintf(stderr, "* reconnecting (attempt %u) in %.1f s\n", ev->attempt, ev->delay_ms / 1000.0);
        break;
    case TERN_EVENT_MESSAGE_READ:
        if (ch->o->verbose)
            fprintf(stderr, "* %s read up to %llu on another device\n", ev->conversation_id,
                    (unsigned long long)ev->read_seq);
        break;
    case TERN_EVENT_CONVERSATION_CHANGED: fprintf(stderr, "* %s: %s\n", ev->conversation_id, ev->reason); break;
    case TERN_EVENT_KICKED_OUT: cli_error(ev->code, "kicked: %s", ev->text); break;
    case TERN_EVENT_DISCONNECTED:
        if (ev->code) {
            cli_error_about(ev->code, "disconnected", ev->text, ch->o->user, NULL);
            fail_chat(ch);
        } else {
            pthread_mutex_lock(&ch->mu);
            ch->dead = 1;
            ch->pending = 0;
            pthread_cond_broadcast(&ch->cv);
            pthread_mutex_unlock(&ch->mu);
        }
        break;
    default: break;
    }
}

static void on_login(tern_client *c, int code, const char *message, void *ud)
{
    chat *ch = ud;
    if (code != TERN_OK)
        cli_error_about(code, "login failed", message, ch->o->user, NULL);
    pthread_mutex_lock(&ch->mu);
    ch->login_code = code;
    ch->login_done = 1;
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
}

static void done_one(chat *ch)
{
    pthread_mutex_lock(&ch->mu);
    if (ch->pending > 0)
        ch->pending--;
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
}

/* Errors after which no line can ever be sent in this chat. */
static int recipient_gone(int code)
{
    return code == TERN_ERR_USER_NOT_FOUND || code == TERN_ERR_GROUP_NOT_FOUND || code == TERN_ERR_GROUP_PERMISSION;
}

static void on_sent(tern_client *c, tern_message *m, int code, const char *message, void *ud)
{
    chat *ch = ud;
    if (recipient_gone(code)) {
        cli_live_break(ch->live);
        cli_error_about(code, "not sent", message, ch->o->to, ch->o->group);
        fail_chat(ch);
        return;
    }
    if (code != TERN_OK) {
        cli_live_break(ch->live);
        fprintf(stderr, "! not sent (error %d: %s): %s\n", code, message, tern_message_text(m));
    }
    done_one(ch);
}

/* The start-up check of --group: its history answers 10010 if it does not exist and
 * 10007/1104 if the user is not a member. */
static void on_check(tern_client *c, int code, const char *message, const tern_message *const *msgs, size_t n, int more,
                     void *ud)
{
    chat *ch = ud;
    if (code != TERN_OK && code != TERN_ERR_SDK_CANCELED) {
        cli_error_about(code == TERN_ERR_FORBIDDEN ? TERN_ERR_GROUP_PERMISSION : code, "cannot chat", message,
                        ch->o->user, ch->o->group);
        fail_chat(ch);
    }
    signal_locked(ch, &ch->check_done, 1);
}

static void on_history(tern_client *c, int code, const char *message, const tern_message *const *msgs, size_t n,
                       int more, void *ud)
{
    chat *ch = ud;
    cli_live_break(ch->live);
    if (code != TERN_OK)
        fprintf(stderr, "! history: error %d: %s\n", code, message);
    for (size_t i = n; i-- > 0;) /* oldest first on screen */
        cli_print_msg(stdout, ch->o, msgs[i], ch->conv);
    if (code == TERN_OK && n == 0)
        fprintf(stderr, "* no messages yet\n");
    done_one(ud);
}

static void on_convs(tern_client *c, int code, const char *message, const tern_conversation *const *convs, size_t n,
                     void *ud)
{
    chat *ch = ud;
    cli_live_break(ch->live);
    if (code != TERN_OK)
        fprintf(stderr, "! conversations: error %d: %s\n", code, message);
    if (n)
        cli_print_convs(ch->o, convs, n);
    if (code == TERN_OK && n == 0)
        fprintf(stderr, "* no conversations\n");
    fflush(stdout);
    done_one(ud);
}

static void on_read(tern_client *c, int code, const char *message, const char *conv, uint64_t read_seq, uint64_t unread,
                    void *ud)
{
    cli_live_break(((chat *)ud)->live);
    if (code != TERN_OK)
        fprintf(stderr, "! read: error %d: %s\n", code, message);
    else
        fprintf(stderr, "* %s read up to %llu\n", conv, (unsigned long long)read_seq);
    done_one(ud);
}

static void on_logout(tern_client *c, int code, const char *message, void *ud)
{
    chat *ch = ud;
    signal_locked(ch, &ch->logout_done, 1);
}

/* Waits on the condition until *field != 0 or `secs` pass. */
static void wait_for(chat *ch, int *field, int want_zero, int secs)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += secs;
    pthread_mutex_lock(&ch->mu);
    while ((want_zero ? *field != 0 : *field == 0) && !(want_zero && ch->dead))
        if (pthread_cond_timedwait(&ch->cv, &ch->mu, &dl) != 0)
            break;
    pthread_mutex_unlock(&ch->mu);
}

int cmd_chat(cli_opts *o)
{
    if (!!o->to == !!o->group) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "give exactly one of --to USER or --group GROUP");
        return 2;
    }
    if (!o->user || !o->app) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--user and --app are required");
        return 2;
    }
    tern_conv_type type = o->to ? TERN_CONV_C2C : TERN_CONV_GROUP;
    const char *to = o->to ? o->to : o->group;
    chat ch;
    memset(&ch, 0, sizeof ch);
    ch.o = o;
    snprintf(ch.conv, sizeof ch.conv, "%s%s", type == TERN_CONV_C2C ? "C2C" : "GROUP", to);
    pthread_mutex_init(&ch.mu, NULL);
    pthread_cond_init(&ch.cv, NULL);

    char url[600];
    if (cli_ws_url(o, url, sizeof url) < 0)
        return 1;
    char *token = cli_user_token(o, o->user);
    if (!token)
        return 1;
    tern_client_options opts;
    tern_client_options_init(&opts);
    opts.on_event = on_event;
    opts.user_data = &ch;
    opts.device = o->device;
    opts.tls_ca_file = o->ca_file;
    opts.platform = "tern-cli";
    opts.no_conversation_list = 1; /* the CLI shows no list: spare the server the query */
    /* A user that does not exist: said before anything else when REST can tell. */
    if (type == TERN_CONV_C2C && (o->app_token || o->client_secret)) {
        char *app_tok = cli_app_token(o), path[400];
        cJSON *root = NULL;
        snprintf(path, sizeof path, "/%s/users/%s", o->app, to);
        int ok = app_tok && tern_ident_valid(to, strlen(to)) &&
                 rest_call_about(o, "GET", path, NULL, app_tok, &root, to, NULL) == 0;
        cJSON_Delete(root);
        tern_free(app_tok);
        if (!ok) {
            if (!tern_ident_valid(to, strlen(to)))
                cli_error(TERN_ERR_SDK_INVALID_ARG, "--to %s is not a user id", to);
            tern_free(token);
            return 1;
        }
    }
    ch.live = cli_live_new(o, ch.conv);
    int rc = tern_client_create(url, o->app, o->user, token, &opts, &ch.c);
    tern_free(token);
    if (rc != TERN_OK || !ch.live) {
        cli_error(rc, "cannot create the client: check --server, --app, --user, --token");
        cli_live_free(ch.live);
        return 1;
    }
    tern_client_start_thread(ch.c);
    tern_login(ch.c, on_login, &ch);
    wait_for(&ch, &ch.login_done, 0, 30);
    pthread_mutex_lock(&ch.mu);
    int ok = ch.login_done && ch.login_code == TERN_OK;
    if (!ch.login_done)
        cli_error(TERN_ERR_SDK_TIMEOUT, "login timed out");
    pthread_mutex_unlock(&ch.mu);
    int exit_code = 0;
    if (!ok) {
        exit_code = 1;
        goto out;
    }
    if (type == TERN_CONV_GROUP) {
        if (tern_get_message_list(ch.c, ch.conv, 0, 1, on_check, &ch) == TERN_OK)
            wait_for(&ch, &ch.check_done, 0, 30);
        pthread_mutex_lock(&ch.mu);
        int failed = ch.failed;
        pthread_mutex_unlock(&ch.mu);
        if (failed) {
            exit_code = 1;
            goto logout;
        }
    }
    fprintf(stderr, "* logged in as %s, chatting in %s — /history /convs /read /quit\n", o->user, ch.conv);

    char line[16384];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        pthread_mutex_lock(&ch.mu);
        int dead = ch.dead;
        pthread_mutex_unlock(&ch.mu);
        if (dead)
            break;
        if (!strcmp(line, "/quit"))
            break;
        pthread_mutex_lock(&ch.mu);
        ch.pending++;
        pthread_mutex_unlock(&ch.mu);
        int qrc;
        if (!strcmp(line, "/history")) {
            qrc = tern_get_message_list(ch.c, ch.conv, 0, 20, on_history, &ch);
        } else if (!strcmp(line, "/convs")) {
            qrc = tern_get_conversation_list(ch.c, 100, on_convs, &ch);
        } else if (!strcmp(line, "/read")) {
            qrc = tern_set_message_read(ch.c, ch.conv, 0, on_read, &ch);
        } else if (line[0] == '/' && line[1] != '/' && line[1] != ' ') {
            fprintf(stderr,
                    "! unknown command %s (/history /convs /read /quit; start a line with // to send a "
                    "leading /)\n",
                    line);
            qrc = -1;
        } else {
            tern_message *m =
                tern_create_text_message(ch.c, type, to, line[0] == '/' && line[1] == '/' ? line + 1 : line);
            if (!m)
                fprintf(stderr, "! not sent: invalid recipient or text not UTF-8\n");
            qrc = m ? tern_send_message(ch.c, m, NULL, on_sent, &ch) : -1;
            tern_message_release(m);
        }
        if (qrc != TERN_OK) /* no callback will come */
            done_one(&ch);
    }
    /* Leave only once every line was acknowledged (or failed) and every request answered. */
    wait_for(&ch, &ch.pending, 1, 30);
    pthread_mutex_lock(&ch.mu);
    if (ch.failed)
        exit_code = 1;
    pthread_mutex_unlock(&ch.mu);
logout:
    if (tern_logout(ch.c, on_logout, &ch) == TERN_OK)
        wait_for(&ch, &ch.logout_done, 0, 10);
out:
    tern_client_destroy(ch.c);
    cli_live_free(ch.live);
    pthread_cond_destroy(&ch.cv);
    pthread_mutex_destroy(&ch.mu);
    return exit_code;
}
