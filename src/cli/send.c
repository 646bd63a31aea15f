/*
 * send.c — `tern send` (text, @, face, location, forward, merger; media in media.c) with
 * every send option of issue 10, `tern receipts` and `tern friends` (docs/cli.md). One
 * libtern client per run (wscmd.c's cli_run); a forward first fetches the message it
 * copies (`getMessages`).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/util.h"

/* One send: the run first (the login and send callbacks get a cli_run *). */
typedef struct send_ctx {
    cli_run r;
    tern_conv_type type;
    const char *to;
    tern_send_options so;
    const char *at[CLI_MAX_LIST + 1];
    size_t nat;
    const char *ids[CLI_MAX_LIST + CLI_MAX_POS]; /* --merge ids (commas split into idbuf) */
    size_t nids;
    char *idbuf;
} send_ctx;

int cli_send_options(const cli_opts *o, tern_send_options *so)
{
    tern_send_options_init(so);
    so->online_user_only = o->online_only;
    so->receivers = o->receivers.v;
    so->receiver_count = (size_t)o->receivers.n;
    so->excluded_from_unread_count = o->no_unread;
    so->excluded_from_last_message = o->no_last;
    so->need_read_receipt = o->need_receipt;
    if (o->priority) {
        static const char *const names[] = {"High", "Normal", "Low", "Lowest"};
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(o->priority, names[i]))
                so->priority = (tern_priority)(i + 1);
        if (!so->priority) {
            cli_error(TERN_ERR_SDK_INVALID_ARG, "--priority must be High, Normal, Low or Lowest");
            return 2;
        }
    }
    return 0;
}

/* The custom data, client id and options of a built draft, then the send. */
static void send_draft(send_ctx *x, tern_message *m)
{
    cli_run *r = &x->r;
    const cli_opts *o = r->o;
    if ((o->custom_data && tern_message_set_cloud_custom_data(m, o->custom_data) != TERN_OK) ||
        (o->client_msg_id && tern_message_set_client_msg_id(m, o->client_msg_id) != TERN_OK)) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "invalid --custom-data or --client-msg-id (UTF-8, id 1-64 bytes)");
        cli_run_finish(r, 1);
        return;
    }
    int rc = tern_send_message(r->c, m, &x->so, cli_on_sent, r);
    if (rc != TERN_OK) {
        cli_error(rc, "invalid send option (receivers and @ users are 1-64 of [A-Za-z0-9_.@=+-], "
                      "at most 50 and 64, each once)");
        cli_run_finish(r, 1);
    }
}

/* --location LON,LAT[,DESC] */
static tern_message *location_draft(send_ctx *x)
{
    const char *s = x->r.o->location;
    char *end;
    double lon = strtod(s, &end);
    if (end == s || *end != ',')
        return NULL;
    const char *p = end + 1;
    double lat = strtod(p, &end);
    if (end == p || (*end && *end != ','))
        return NULL;
    return tern_create_location_message(x->r.c, x->type, x->to, *end ? end + 1 : NULL, lon, lat);
}

/* --face INDEX[:DATA] */
static tern_message *face_draft(send_ctx *x)
{
    const char *s = x->r.o->face;
    char *end;
    long idx = strtol(s, &end, 10);
    if (end == s || (*end && *end != ':') || idx < -2147483647L - 1 || idx > 2147483647L)
        return NULL;
    return tern_create_face_message(x->r.c, x->type, x->to, (int)idx, *end ? end + 1 : NULL);
}

static tern_message *merger_draft(send_ctx *x)
{
    const cli_opts *o = x->r.o;
    char compat[300];
    snprintf(compat, sizeof compat, "[%s]", o->title ? o->title : "Chat history");
    return tern_create_merger_message(x->r.c, x->type, x->to, x->ids, x->nids, o->title, NULL, 0, compat);
}

static void on_fetched(tern_client *c, int code, const char *message, const tern_message *const *msgs, size_t n,
                       int more, void *ud)
{
    (void)more;
    send_ctx *x = ud;
    if (x->r.finishing)
        return;
    if (code != TERN_OK || n == 0) {
        if (code == TERN_OK)
            cli_error(TERN_ERR_NOT_FOUND, "message %s not found (or not yours to see)", x->r.o->forward);
        else
            cli_error(code, "fetching message %s: %s", x->r.o->forward, message);
        cli_run_finish(&x->r, 1);
        return;
    }
    tern_message *m = tern_create_forward_message(c, msgs[0], x->type, x->to);
    if (!m) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "cannot forward message %s", x->r.o->forward);
        cli_run_finish(&x->r, 1);
        return;
    }
    send_draft(x, m);
    tern_message_release(m);
}

static void on_login_send(tern_client *c, int code, const char *message, void *ud)
{
    send_ctx *x = ud;
    cli_run_on_login(c, code, message, ud);
    if (code != TERN_OK || x->r.finishing)
        return;
    const cli_opts *o = x->r.o;
    if (o->forward) {
        const char *id = o->forward;
        if (tern_get_messages(c, &id, 1, on_fetched, x) != TERN_OK) {
            cli_error(TERN_ERR_SDK_INVALID_ARG, "--forward needs a message id (decimal digits)");
            cli_run_finish(&x->r, 1);
        }
        return;
    }
    tern_message *m = NULL;
    const char *what = "invalid recipient or text (recipient ids are 1-64 of [A-Za-z0-9_.@=+-]; text must be UTF-8)";
    if (o->location) {
        m = location_draft(x);
        what = "--location needs LON,LAT[,DESCRIPTION] with LON in [-180,180] and LAT in [-90,90]";
    } else if (o->face) {
        m = face_draft(x);
        what = "--face needs INDEX[:DATA] (INDEX an integer)";
    } else if (x->nids) {
        m = merger_draft(x);
        what = "--merge needs 1-300 message ids (decimal digits), --title at most 256 bytes";
    } else if (x->nat) {
        m = tern_create_text_at_message(c, x->type, x->to, o->text, x->at, x->nat);
        what = "--at/--at-all need --group, and 1-64 distinct user ids";
    } else {
        m = tern_create_text_message(c, x->type, x->to, o->text);
    }
    if (!m) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "%s", what);
        cli_run_finish(&x->r, 1);
        return;
    }
    send_draft(x, m);
    tern_message_release(m);
}

/* The ids of --merge (each value split at commas) and of the positionals after `send`. */
static int merge_ids(send_ctx *x, const cli_opts *o)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    for (int i = 0; i < o->merge.n; i++) {
        tern_buf_puts(&b, o->merge.v[i]);
        tern_buf_putc(&b, ',');
    }
    for (int i = 1; o->merge.n && i < o->npos; i++) {
        tern_buf_puts(&b, o->pos[i]);
        tern_buf_putc(&b, ',');
    }
    x->idbuf = tern_buf_steal(&b, NULL);
    for (char *p = x->idbuf, *q; p && *p; p = q + 1) {
        q = strchr(p, ',');
        *q = 0;
        if (!*p)
            continue;
        if (x->nids == sizeof x->ids / sizeof x->ids[0])
            return -1;
        x->ids[x->nids++] = p;
    }
    return 0;
}

int cmd_send(cli_opts *o)
{
    tern_send_options so;
    int rc = cli_send_options(o, &so);
    if (rc)
        return rc;
    if (o->image || o->file || o->audio || o->video)
        return cmd_send_media(o);
    if (!!o->to == !!o->group) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "give exactly one of --to USER or --group GROUP");
        return 2;
    }
    int kinds = !!o->location + !!o->face + !!o->forward + (o->merge.n > 0);
    if (kinds > 1 || (kinds && o->text)) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "give one of --text, --location, --face, --forward or --merge");
        return 2;
    }
    if (!kinds && !o->text) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--text is required (or --location, --face, --forward, --merge)");
        return 2;
    }
    if ((o->at.n || o->at_all) && !o->text) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--at and --at-all go with --text");
        return 2;
    }
    if (o->title && !o->merge.n) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--title goes with --merge");
        return 2;
    }
    send_ctx *x = calloc(1, sizeof *x);
    if (!x)
        return 1;
    x->so = so;
    x->type = o->to ? TERN_CONV_C2C : TERN_CONV_GROUP;
    x->to = o->to ? o->to : o->group;
    for (int i = 0; i < o->at.n; i++)
        x->at[x->nat++] = o->at.v[i];
    if (o->at_all)
        x->at[x->nat++] = TERN_AT_ALL;
    if (merge_ids(x, o) < 0 || (o->merge.n && !x->nids)) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--merge needs 1-300 message ids");
        free(x->idbuf);
        free(x);
        return 2;
    }
    rc = cli_run_setup(&x->r, o, cli_plain_event, on_login_send, o->timeout >= 0 ? o->timeout : 30, NULL);
    if (rc == 0)
        rc = cli_run_loop(&x->r);
    free(x->idbuf);
    free(x);
    return rc;
}

/* ---- tern receipts ------------------------------------------------------------------ */

static void on_receipts(tern_client *c, int code, const char *message, const char *data, void *ud)
{
    (void)c;
    cli_run *r = ud;
    if (r->finishing)
        return;
    if (code != TERN_OK) {
        cli_error(code, "receipts failed: %s", message);
        cli_run_finish(r, 1);
        return;
    }
    cJSON *j = cJSON_Parse(data), *e;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "receipts");
    static const char *const heads[] = {"MSGID", "CONVERSATION", "READ", "UNREAD"};
    cli_table t;
    cli_table_init(&t, 4, heads, 0xc);
    int failed = 0;
    cJSON_ArrayForEach(e, arr)
    {
        if (r->o->json) {
            char *line = cJSON_PrintUnformatted(e);
            cli_json_line(line);
            cJSON_free(line);
            continue;
        }
        const cJSON *ec = cJSON_GetObjectItemCaseSensitive(e, "code");
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "msgId"));
        if (cJSON_IsNumber(ec) && ec->valueint) {
            const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
            cli_error(ec->valueint, "message %s: %s", id ? id : "?", msg ? msg : tern_strerror(ec->valueint));
            failed = 1;
            continue;
        }
        char rd[24], un[24];
        snprintf(rd, sizeof rd, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "readCount")));
        snprintf(un, sizeof un, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "unreadCount")));
        const char *cells[] = {id, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "conversationID")), rd, un};
        cli_table_add(&t, cells, 0);
    }
    if (!r->o->json && t.nrows)
        cli_table_print(&t, r->o, stdout);
    cli_table_free(&t);
    cJSON_Delete(j);
    cli_run_finish(r, failed);
}

static void on_login_receipts(tern_client *c, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    cli_run_on_login(c, code, message, ud);
    if (code != TERN_OK || r->finishing)
        return;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"msgIds\":[");
    for (int i = 1; i < r->o->npos; i++) {
        if (i > 1)
            tern_buf_putc(&b, ',');
        tern_buf_json_str(&b, r->o->pos[i], strlen(r->o->pos[i]));
    }
    tern_buf_puts(&b, "]}");
    if (tern_request(c, "receipts", b.data, on_receipts, r) != TERN_OK) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "message ids must be UTF-8");
        cli_run_finish(r, 2);
    }
    tern_buf_free(&b);
}

int cmd_receipts(cli_opts *o)
{
    if (o->npos < 2) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "usage: tern receipts MSGID... (messages you sent with --need-receipt)");
        return 2;
    }
    for (int i = 1; i < o->npos; i++) {
        uint64_t v;
        if (tern_parse_u64(o->pos[i], strlen(o->pos[i]), &v) < 0) {
            cli_error(TERN_ERR_SDK_INVALID_ARG, "'%s' is not a message id (decimal digits)", o->pos[i]);
            return 2;
        }
    }
    cli_run r;
    int rc = cli_run_setup(&r, o, cli_plain_event, on_login_receipts, o->timeout >= 0 ? o->timeout : 30, NULL);
    if (rc)
        return rc;
    return cli_run_loop(&r);
}

/* ---- tern friends --------------------------------------------------------------------- */

static void on_friends(tern_client *c, int code, const char *message, const char *data, void *ud)
{
    (void)c;
    cli_run *r = ud;
    if (r->finishing)
        return;
    if (code != TERN_OK) {
        cli_error(code, "friends failed: %s", message);
        cli_run_finish(r, 1);
        return;
    }
    cJSON *j = cJSON_Parse(data), *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "friends"))
    {
        const char *f = cJSON_GetStringValue(e);
        if (!f)
            continue;
        if (r->o->json) {
            tern_buf b;
            tern_buf_init(&b, 0);
            tern_buf_puts(&b, "{\"friend\":");
            tern_buf_json_str(&b, f, strlen(f));
            tern_buf_putc(&b, '}');
            cli_json_line(b.data);
            tern_buf_free(&b);
        } else {
            printf("%s\n", f);
        }
    }
    fflush(stdout);
    cJSON_Delete(j);
    cli_run_finish(r, 0);
}

static void on_login_friends(tern_client *c, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    cli_run_on_login(c, code, message, ud);
    if (code == TERN_OK && !r->finishing && tern_request(c, "friends", NULL, on_friends, r) != TERN_OK)
        cli_run_finish(r, 1);
}

int cmd_friends(cli_opts *o)
{
    cli_run r;
    int rc = cli_run_setup(&r, o, cli_plain_event, on_login_friends, o->timeout >= 0 ? o->timeout : 30, NULL);
    return rc ? rc : cli_run_loop(&r);
}
