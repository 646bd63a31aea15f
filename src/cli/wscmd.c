/*
 * wscmd.c — the `tern` CLI's one-shot WebSocket commands, written as a libtern app
 * that drives the SDK's own loop on the main thread (tern_client_run): the run itself
 * (cli_run_*, shared with listen.c), send, history and conversations. Each logs in, does
 * its work from callbacks, logs out and stops the loop; a timer on the same loop
 * (tern_client_get_loop) bounds the run. Output is for people unless --json.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "tern/tern.h"

/* ---- the run ------------------------------------------------------------------------ */

static void on_logout(tern_client *c, int code, const char *message, void *ud)
{
    tern_client_stop(c);
}

void cli_run_finish(cli_run *r, int rc)
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
    cli_error(TERN_ERR_SDK_TIMEOUT, "timed out");
    cli_run_finish(t->data, 1);
}

void cli_error_about(int code, const char *what, const char *message, const char *user, const char *group)
{
    if (code == TERN_ERR_USER_NOT_FOUND && user)
        cli_error(code, "%s: user '%s' not found", what, user);
    else if (code == TERN_ERR_GROUP_NOT_FOUND && group)
        cli_error(code, "%s: group '%s' not found", what, group);
    else if (code == TERN_ERR_GROUP_PERMISSION && group)
        cli_error(code, "%s: %s is not a member of group '%s'", what, user ? user : "the user", group);
    else
        cli_error(code, "%s: %s", what, message);
}

static void log_event(cli_run *r, const tern_event *ev)
{
    if (!r->o->verbose)
        return;
    if (ev->type == TERN_EVENT_RECONNECTING)
        fprintf(stderr, "* %s attempt %u in %u ms\n", tern_event_name(ev->type), ev->attempt, ev->delay_ms);
    else if (ev->type != TERN_EVENT_MESSAGE_RECEIVED)
        fprintf(stderr, "* %s%s%s\n", tern_event_name(ev->type), ev->text && *ev->text ? ": " : "",
                ev->text ? ev->text : "");
}

void cli_run_common_event(cli_run *r, const tern_event *ev)
{
    log_event(r, ev);
    if (ev->type == TERN_EVENT_KICKED_OUT) {
        cli_error(ev->code, "kicked: %s", ev->text);
        r->logged_in = 0;
        cli_run_finish(r, 1);
    } else if (ev->type == TERN_EVENT_DISCONNECTED && !r->finishing && !r->resyncing) {
        cli_error_about(ev->code ? ev->code : TERN_ERR_SDK_DISCONNECTED, "disconnected", ev->text, r->o->user, NULL);
        r->logged_in = 0;
        cli_run_finish(r, 1);
    }
}

int cli_run_setup(cli_run *r, cli_opts *o, tern_event_cb on_event, tern_result_cb on_login, double timeout_s,
                  const char *sync_cursor)
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
    opts.sync_cursor = sync_cursor;
    opts.no_conversation_list = 1; /* the CLI shows no list: spare the server the query */
    int rc = tern_client_create(url, o->app, o->user, token, &opts, &r->c);
    tern_free(token);
    if (rc != TERN_OK) {
        cli_error(rc, "cannot create the client: check --server, --app, --user, --token%s",
                  sync_cursor ? ", --since" : "");
        return 1;
    }
    if (timeout_s > 0) {
        uv_timer_init(tern_client_get_loop(r->c), &r->timer);
        r->timer.data = r;
        r->timer_on = 1;
        uint64_t ms = (uint64_t)(timeout_s * 1000);
        uv_timer_start(&r->timer, on_timeout, ms ? ms : 1, 0);
    }
    if (on_login)
        tern_login(r->c, on_login, r);
    return 0;
}

int cli_run_loop(cli_run *r)
{
    tern_client_run(r->c);
    if (r->timer_on) {
        uv_timer_stop(&r->timer);
        uv_close((uv_handle_t *)&r->timer, NULL);
    }
    for (int i = 0; r->sig_on && i < 2; i++)
        uv_close((uv_handle_t *)&r->sig[i], NULL);
    tern_client_destroy(r->c); /* runs the loop until everything is closed */
    fflush(stdout);
    return r->rc;
}

void cli_run_on_login(tern_client *c, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    if (r->finishing)
        return; /* e.g. CANCELED by the teardown after an earlier error */
    if (code != TERN_OK) {
        cli_error_about(code, "login failed", message, r->o->user, NULL);
        cli_run_finish(r, 1);
        return;
    }
    r->logged_in = 1;
}

/* ---- send -------------------------------------------------------------------------- */

void cli_plain_event(tern_client *c, const tern_event *ev, void *ud)
{
    cli_run_common_event(ud, ev);
}

void cli_on_sent(tern_client *c, tern_message *m, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    if (r->finishing)
        return; /* the login failure was reported already */
    if (code != TERN_OK) {
        cli_error_about(code, "send failed", message, r->o->to ? r->o->to : r->o->user, r->o->group);
        cli_run_finish(r, 1);
        return;
    }
    const char *conv = tern_message_conversation_id(m);
    if (r->o->json) {
        tern_buf b;
        tern_buf_init(&b, 0);
        tern_buf_puts(&b, "{\"msgId\":");
        tern_buf_json_str(&b, tern_message_id(m), strlen(tern_message_id(m)));
        tern_buf_printf(&b, ",\"seq\":%" PRIu64 ",\"time\":%" PRId64 ",\"conversationID\":", tern_message_seq(m),
                        tern_message_time(m));
        tern_buf_json_str(&b, conv, strlen(conv));
        tern_buf_puts(&b, "}");
        cli_json_line(b.data);
        tern_buf_free(&b);
    } else {
        char ts[32];
        cli_fmt_time(tern_message_time(m), ts, sizeof ts);
        if (tern_message_online_only(m))
            printf("sent to %s at %s (online only, not stored), msgId %s\n", conv, ts, tern_message_id(m));
        else
            printf("sent to %s at %s: seq %" PRIu64 ", msgId %s\n", conv, ts, tern_message_seq(m), tern_message_id(m));
        fflush(stdout);
    }
    cli_run_finish(r, 0);
}

/* ---- history ----------------------------------------------------------------------- */

static void on_history(tern_client *c, int code, const char *message, const tern_message *const *msgs, size_t n,
                       int more, void *ud)
{
    cli_run *r = ud;
    const char *conv = r->o->conv;
    if (code != TERN_OK) {
        int c2c = !strncmp(conv, "C2C", 3);
        cli_error_about(code, "history failed", message, c2c ? conv + 3 : r->o->user, c2c ? NULL : conv + 5);
        cli_run_finish(r, 1);
        return;
    }
    /* Oldest first, as a conversation reads (the server answers newest first). */
    for (size_t i = n; i-- > 0;) {
        if (r->o->json)
            cli_json_line(tern_message_json(msgs[i]));
        else
            cli_print_msg(stdout, r->o, msgs[i], conv);
    }
    if (!r->o->json && n == 0)
        fprintf(stderr, "no messages in %s%s\n", conv, r->o->before ? " before that seq" : "");
    if (more && n)
        fprintf(stderr, "more: older messages with --before %" PRIu64 "\n", tern_message_seq(msgs[n - 1]));
    cli_run_finish(r, 0);
}

static void on_login_history(tern_client *c, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    cli_run_on_login(c, code, message, ud);
    if (code != TERN_OK || r->finishing)
        return;
    long limit = r->o->limit > 0 ? r->o->limit : 20;
    if (tern_get_message_list(c, r->o->conv, (uint64_t)r->o->before, (unsigned)limit, on_history, r) != TERN_OK) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "invalid --conv %s: conversation ids look like C2Cbob or GROUPg1",
                  r->o->conv);
        cli_run_finish(r, 1);
    }
}

/* 1 if id is C2C<user> or GROUP<group> with a valid identifier. */
static int conv_id_ok(const char *id)
{
    const char *rest = !strncmp(id, "C2C", 3) ? id + 3 : !strncmp(id, "GROUP", 5) ? id + 5 : NULL;
    return rest && tern_ident_valid(rest, strlen(rest));
}

int cmd_history(cli_opts *o)
{
    if (!o->conv) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--conv CONVERSATION_ID is required: conversation ids look like "
                                            "C2Cbob or GROUPg1");
        return 2;
    }
    if (!conv_id_ok(o->conv)) {
        cli_error(TERN_ERR_SDK_INVALID_ARG,
                  "bad --conv '%s': conversation ids look like C2Cbob or GROUPg1 "
                  "(C2C or GROUP, then a user or group id)",
                  o->conv);
        return 2;
    }
    cli_run r;
    int rc = cli_run_setup(&r, o, cli_plain_event, on_login_history, o->timeout >= 0 ? o->timeout : 30, NULL);
    if (rc)
        return rc;
    return cli_run_loop(&r);
}

/* ---- conversations ----------------------------------------------------------------- */

static void convs_json(const tern_conversation *const *convs, size_t n)
{
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
        char *s = cJSON_PrintUnformatted(o);
        cli_json_line(s);
        cJSON_free(s);
        cJSON_Delete(o);
    }
}

void cli_print_convs(const cli_opts *o, const tern_conversation *const *convs, size_t n)
{
    static const char *const heads[] = {"CONVERSATION", "TYPE", "UNREAD", "TIME", "LAST MESSAGE"};
    cli_table t;
    cli_table_init(&t, 5, heads, 1u << 2);
    for (size_t i = 0; i < n; i++) {
        const tern_conversation *cv = convs[i];
        const tern_message *last = tern_conversation_last_message(cv);
        char unread[24], ts[32] = "", summary[400] = "";
        uint64_t u = tern_conversation_unread_count(cv);
        snprintf(unread, sizeof unread, "%" PRIu64, u);
        if (last) {
            cli_fmt_time(tern_message_time(last), ts, sizeof ts);
            cli_msg_summary(last, summary, sizeof summary, 60);
        }
        const char *cells[] = {tern_conversation_id(cv), tern_conversation_type(cv) == TERN_CONV_C2C ? "c2c" : "group",
                               unread, ts, summary};
        cli_table_add(&t, cells, u ? 1u << 2 : 0);
    }
    cli_table_print(&t, o, stdout);
    cli_table_free(&t);
}

static void on_convs(tern_client *c, int code, const char *message, const tern_conversation *const *convs, size_t n,
                     void *ud)
{
    cli_run *r = ud;
    if (code != TERN_OK) {
        cli_error(code, "conversations failed: %s", message);
        cli_run_finish(r, 1);
        return;
    }
    if (r->o->json)
        convs_json(convs, n);
    else if (n == 0)
        fprintf(stderr, "no conversations yet\n");
    else
        cli_print_convs(r->o, convs, n);
    cli_run_finish(r, 0);
}

static void on_login_convs(tern_client *c, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    cli_run_on_login(c, code, message, ud);
    if (code != TERN_OK || r->finishing)
        return;
    long limit = r->o->limit > 0 ? r->o->limit : 100;
    tern_get_conversation_list(c, (unsigned)limit, on_convs, r);
}

int cmd_conversations(cli_opts *o)
{
    cli_run r;
    int rc = cli_run_setup(&r, o, cli_plain_event, on_login_convs, o->timeout >= 0 ? o->timeout : 30, NULL);
    if (rc)
        return rc;
    return cli_run_loop(&r);
}
