/*
 * wscmd.c — the `tern` CLI's one-shot WebSocket commands, written as a libtern app
 * that drives the SDK's own loop on the main thread (tern_client_run): send, listen,
 * history and conversations. Each logs in, does its work from callbacks, logs out and
 * stops the loop; a timer on the same loop (tern_client_get_loop) bounds the run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "tern/tern.h"

typedef struct run {
    cli_opts *o;
    tern_client *c;
    uv_timer_t timer;
    int timer_on;
    int rc;
    int finishing;
    int logged_in;
    long received;
    int ready_said;
} run;

static void on_logout(tern_client *c, int code, const char *message, void *ud)
{
    tern_client_stop(c);
}

/* Ends the run with exit code rc: logs out if logged in, then stops the loop. */
static void finish(run *r, int rc)
{
    if (r->finishing)
        return;
    r->finishing = 1;
    r->rc = rc;
    if (r->timer_on)
        uv_timer_stop(&r->timer);
    if (!r->logged_in || tern_logout(r->c, on_logout, r) != TERN_OK)
        tern_client_stop(r->c);
}

static void on_timeout(uv_timer_t *t)
{
    run *r = t->data;
    if (r->o->count > 0 && r->received < r->o->count) {
        cli_error(TERN_ERR_SDK_TIMEOUT, "timed out after %ld of %ld messages", r->received, r->o->count);
        finish(r, 1);
    } else if (r->o->count > 0 || !strcmp(r->o->pos[0], "listen")) {
        finish(r, 0);
    } else {
        cli_error(TERN_ERR_SDK_TIMEOUT, "timed out");
        finish(r, 1);
    }
}

static void log_event(run *r, const tern_event *ev)
{
    if (!r->o->verbose)
        return;
    if (ev->type == TERN_EVENT_RECONNECTING)
        fprintf(stderr, "* %s attempt %u in %u ms\n", tern_event_name(ev->type), ev->attempt, ev->delay_ms);
    else if (ev->type != TERN_EVENT_MESSAGE_RECEIVED)
        fprintf(stderr, "* %s%s%s\n", tern_event_name(ev->type), ev->text && *ev->text ? ": " : "",
                ev->text ? ev->text : "");
}

/* Events shared by every command: the terminal ones end the run with an error. */
static void common_event(run *r, const tern_event *ev)
{
    log_event(r, ev);
    if (ev->type == TERN_EVENT_KICKED_OUT) {
        cli_error(ev->code, "kicked: %s", ev->text);
        r->logged_in = 0;
        finish(r, 1);
    } else if (ev->type == TERN_EVENT_DISCONNECTED && !r->finishing) {
        cli_error(ev->code ? ev->code : TERN_ERR_SDK_DISCONNECTED, "disconnected: %s", ev->text);
        r->logged_in = 0;
        finish(r, 1);
    }
}

/* Creates the client, starts the login and the run timer. Returns 0 or an exit code. */
static int setup(run *r, cli_opts *o, tern_event_cb on_event, tern_result_cb on_login, double timeout_s)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->rc = 1;
    if (!o->user) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--user (or TERN_USER) is required");
        return 2;
    }
    if (!o->app) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--app ORG/APP (or TERN_APP) is required");
        return 2;
    }
    char url[600];
    if (cli_ws_url(o, url, sizeof url) < 0)
        return 1;
    char *token = cli_user_token(o, o->user);
    if (!token)
        return 1;
    tern_client_options opts;
    tern_client_options_init(&opts);
    opts.on_event = on_event;
    opts.user_data = r;
    opts.device = o->device;
    opts.tls_ca_file = o->ca_file;
    opts.platform = "tern-cli";
    int rc = tern_client_create(url, o->app, o->user, token, &opts, &r->c);
    tern_free(token);
    if (rc != TERN_OK) {
        cli_error(rc, "cannot create the client: check --server, --app, --user, --token");
        return 1;
    }
    if (timeout_s > 0) {
        uv_timer_init(tern_client_get_loop(r->c), &r->timer);
        r->timer.data = r;
        r->timer_on = 1;
        uint64_t ms = (uint64_t)(timeout_s * 1000);
        uv_timer_start(&r->timer, on_timeout, ms ? ms : 1, 0);
    }
    tern_login(r->c, on_login, r);
    return 0;
}

static int run_and_teardown(run *r)
{
    tern_client_run(r->c);
    if (r->timer_on) {
        uv_timer_stop(&r->timer);
        uv_close((uv_handle_t *)&r->timer, NULL);
    }
    tern_client_destroy(r->c); /* runs the loop until everything is closed */
    fflush(stdout);
    return r->rc;
}

/* The login of commands that need it before anything else. */
static void on_login_generic(tern_client *c, int code, const char *message, void *ud)
{
    run *r = ud;
    if (r->finishing)
        return; /* e.g. CANCELED by the teardown after an earlier error */
    if (code != TERN_OK) {
        cli_error(code, "login failed: %s", message);
        finish(r, 1);
        return;
    }
    r->logged_in = 1;
}

/* ---- send -------------------------------------------------------------------------- */

static void send_event(tern_client *c, const tern_event *ev, void *ud)
{
    common_event(ud, ev);
}

static void on_sent(tern_client *c, tern_message *m, int code, const char *message, void *ud)
{
    run *r = ud;
    if (r->finishing)
        return; /* the login failure was reported already */
    if (code != TERN_OK) {
        cli_error(code, "send failed: %s", message);
        finish(r, 1);
        return;
    }
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"msgId\":");
    tern_buf_json_str(&b, tern_message_id(m), strlen(tern_message_id(m)));
    tern_buf_printf(&b, ",\"seq\":%" PRIu64 ",\"time\":%" PRId64 ",\"conversationID\":", tern_message_seq(m),
                    tern_message_time(m));
    const char *conv = tern_message_conversation_id(m);
    tern_buf_json_str(&b, conv, strlen(conv));
    tern_buf_puts(&b, "}");
    puts(b.data);
    fflush(stdout);
    tern_buf_free(&b);
    finish(r, 0);
}

static int parse_target(cli_opts *o, tern_conv_type *type, const char **to)
{
    if (!!o->to == !!o->group) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "give exactly one of --to USER or --group GROUP");
        return -1;
    }
    *type = o->to ? TERN_CONV_C2C : TERN_CONV_GROUP;
    *to = o->to ? o->to : o->group;
    return 0;
}

int cmd_send(cli_opts *o)
{
    tern_conv_type type;
    const char *to;
    if (parse_target(o, &type, &to) < 0)
        return 2;
    if (!o->text) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--text is required");
        return 2;
    }
    tern_priority prio = TERN_PRIORITY_NORMAL;
    if (o->priority) {
        const char *names[] = {"High", "Normal", "Low", "Lowest"};
        prio = 0;
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(o->priority, names[i]))
                prio = (tern_priority)(i + 1);
        if (!prio) {
            cli_error(TERN_ERR_SDK_INVALID_ARG, "--priority must be High, Normal, Low or Lowest");
            return 2;
        }
    }
    run r;
    int rc = setup(&r, o, send_event, on_login_generic, o->timeout >= 0 ? o->timeout : 30);
    if (rc)
        return rc;
    tern_message *m = tern_create_text_message(r.c, type, to, o->text);
    if (!m) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "invalid recipient or text (recipient ids are 1-64 of "
                                            "[A-Za-z0-9_.@=+-]; text must be UTF-8)");
        tern_client_destroy(r.c);
        return 1;
    }
    if ((o->custom_data && tern_message_set_cloud_custom_data(m, o->custom_data) != TERN_OK) ||
        (o->client_msg_id && tern_message_set_client_msg_id(m, o->client_msg_id) != TERN_OK) ||
        tern_message_set_priority(m, prio) != TERN_OK) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "invalid --custom-data or --client-msg-id (UTF-8, id 1-64 bytes)");
        tern_message_release(m);
        tern_client_destroy(r.c);
        return 1;
    }
    tern_send_options so = {.online_user_only = o->online_only};
    /* Queued behind the login: it goes out as soon as the login succeeds. */
    tern_send_message(r.c, m, &so, on_sent, &r);
    tern_message_release(m);
    return run_and_teardown(&r);
}

/* ---- listen ------------------------------------------------------------------------ */

static void listen_event(tern_client *c, const tern_event *ev, void *ud)
{
    run *r = ud;
    if (r->finishing)
        return;
    if (ev->type == TERN_EVENT_SDK_READY && !r->ready_said) {
        r->ready_said = 1;
        fprintf(stderr, "listening as %s\n", tern_client_user(c));
    }
    if (ev->type == TERN_EVENT_MESSAGE_RECEIVED) {
        const char *js = tern_message_json(ev->message);
        if (js) {
            fputs(js, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        r->received++;
        if (r->o->count > 0 && r->received >= r->o->count)
            finish(r, 0);
        return;
    }
    common_event(r, ev);
}

int cmd_listen(cli_opts *o)
{
    run r;
    int rc = setup(&r, o, listen_event, on_login_generic, o->timeout > 0 ? o->timeout : 0);
    if (rc)
        return rc;
    return run_and_teardown(&r);
}

/* ---- history ----------------------------------------------------------------------- */

static void on_history(tern_client *c, int code, const char *message, const tern_message *const *msgs, size_t n,
                       int more, void *ud)
{
    run *r = ud;
    if (code != TERN_OK) {
        cli_error(code, "history failed: %s", message);
        finish(r, 1);
        return;
    }
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"messages\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            tern_buf_putc(&b, ',');
        tern_buf_puts(&b, tern_message_json(msgs[i]));
    }
    tern_buf_printf(&b, "],\"more\":%s}", more ? "true" : "false");
    puts(b.data);
    tern_buf_free(&b);
    finish(r, 0);
}

static void on_login_history(tern_client *c, int code, const char *message, void *ud)
{
    run *r = ud;
    on_login_generic(c, code, message, ud);
    if (code != TERN_OK || r->finishing)
        return;
    long limit = r->o->limit > 0 ? r->o->limit : 20;
    if (limit > 100)
        limit = 100;
    if (tern_get_message_list(c, r->o->conv, (uint64_t)r->o->before, (unsigned)limit, on_history, r) != TERN_OK) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "invalid --conv");
        finish(r, 1);
    }
}

int cmd_history(cli_opts *o)
{
    if (!o->conv) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--conv CONVERSATION_ID is required (C2C<user> or GROUP<group>)");
        return 2;
    }
    run r;
    int rc = setup(&r, o, send_event, on_login_history, o->timeout >= 0 ? o->timeout : 30);
    if (rc)
        return rc;
    return run_and_teardown(&r);
}

/* ---- conversations ----------------------------------------------------------------- */

static void on_convs(tern_client *c, int code, const char *message, const tern_conversation *const *convs, size_t n,
                     void *ud)
{
    run *r = ud;
    if (code != TERN_OK) {
        cli_error(code, "conversations failed: %s", message);
        finish(r, 1);
        return;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "conversations");
    for (size_t i = 0; i < n; i++) {
        const tern_conversation *cv = convs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "conversationID", tern_conversation_id(cv));
        cJSON_AddStringToObject(o, "type", tern_conv_type_name(tern_conversation_type(cv)));
        cJSON_AddStringToObject(o, "peer", tern_conversation_peer(cv));
        cJSON_AddNumberToObject(o, "unreadCount", (double)tern_conversation_unread_count(cv));
        cJSON_AddNumberToObject(o, "readSeq", (double)tern_conversation_read_seq(cv));
        cJSON_AddNumberToObject(o, "lastSeq", (double)tern_conversation_last_seq(cv));
        const tern_message *last = tern_conversation_last_message(cv);
        cJSON *lm = last && tern_message_json(last) ? cJSON_Parse(tern_message_json(last)) : NULL;
        cJSON_AddItemToObject(o, "lastMessage", lm ? lm : cJSON_CreateNull());
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_PrintUnformatted(root);
    puts(s);
    cJSON_free(s);
    cJSON_Delete(root);
    finish(r, 0);
}

static void on_login_convs(tern_client *c, int code, const char *message, void *ud)
{
    run *r = ud;
    on_login_generic(c, code, message, ud);
    if (code != TERN_OK || r->finishing)
        return;
    long limit = r->o->limit > 0 ? r->o->limit : 100;
    if (limit > 500)
        limit = 500;
    tern_get_conversation_list(c, (unsigned)limit, on_convs, r);
}

int cmd_conversations(cli_opts *o)
{
    run r;
    int rc = setup(&r, o, send_event, on_login_convs, o->timeout >= 0 ? o->timeout : 30);
    if (rc)
        return rc;
    return run_and_teardown(&r);
}
