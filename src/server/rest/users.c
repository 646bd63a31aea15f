/*
 * users.c — the users of an app: create (one or a batch of up to 60, committed
 * together), list with a cursor, get, delete (ending the user's sessions with
 * `kicked`), and the groups a user joined. docs/rest-api.md, "Users".
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "delivery.h"
#include "groups.h"
#include "rest/rest.h"

#define MAX_BATCH 60

/* Creating several users: one op per user, chained so they commit in one batch; the
 * last completion answers. Conflicts are reported per user. */
typedef struct multi {
    rest_op *r;
    store_op op;
    char *user, *nick;
} multi;

static void multi_done(store_op *op)
{
    multi *mu = op->ud;
    rest_op *r = mu->r;
    pthread_mutex_lock(&r->mu);
    if (op->result == TERN_OK) {
        if (r->ok_count++)
            tern_buf_putc(&r->out, ',');
        tern_buf_puts(&r->out, "{\"username\":");
        tern_buf_json_str(&r->out, mu->user, strlen(mu->user));
        if (mu->nick) {
            tern_buf_puts(&r->out, ",\"nickname\":");
            tern_buf_json_str(&r->out, mu->nick, strlen(mu->nick));
        }
        tern_buf_printf(&r->out, ",\"created\":%lld}", (long long)tern_now_ms());
    } else if (!r->op.result || r->op.result == TERN_ERR_CONFLICT) {
        r->op.result = op->result;
    }
    int last = --r->pending == 0;
    pthread_mutex_unlock(&r->mu);
    tern_free(mu->user);
    tern_free(mu->nick);
    tern_free(mu);
    if (last)
        rest_op_done(r);
}

static void finish_users_created(rest_op *r)
{
    /* All created, or partly: answer with those created; all failed: the error. */
    if (r->ok_count == 0 && r->op.result != TERN_OK)
        rest_reply_err(&r->x, r->op.result);
    else
        rest_reply_out_wrapped(r, '[', ']');
}

int users_create(rctx *x, const http_msg *m)
{
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    cJSON *arr = cJSON_IsArray(j) ? j : NULL;
    int n = arr ? cJSON_GetArraySize(arr) : 1;
    int rc = TERN_OK;
    if (n < 1 || n > MAX_BATCH)
        rc = n > MAX_BATCH ? TERN_ERR_TOO_MANY : TERN_ERR_BAD_FIELD;
    for (int i = 0; rc == TERN_OK && i < n; i++) {
        cJSON *u = arr ? cJSON_GetArrayItem(arr, i) : j;
        const char *name = cJSON_IsObject(u) ? jstr(u, "username") : NULL;
        cJSON *nick = cJSON_IsObject(u) ? cJSON_GetObjectItemCaseSensitive(u, "nickname") : NULL;
        if (!ident(name) || (nick && !cJSON_IsString(nick)) ||
            (nick && cJSON_IsString(nick) && strlen(nick->valuestring) > 100))
            rc = TERN_ERR_BAD_FIELD;
    }
    if (rc != TERN_OK) {
        cJSON_Delete(j);
        rest_reply_err(x, rc);
        return 0;
    }
    rest_op *r = rest_op_new(x, finish_users_created);
    r->pending = n;
    r->op.result = TERN_OK;
    multi **ops = tern_calloc((size_t)n, sizeof *ops);
    for (int i = 0; i < n; i++) {
        cJSON *u = arr ? cJSON_GetArrayItem(arr, i) : j;
        const char *nick = jstr(u, "nickname");
        multi *mu = tern_calloc(1, sizeof *mu);
        mu->r = r;
        mu->user = tern_strdup(jstr(u, "username"));
        mu->nick = nick ? tern_strdup(nick) : NULL;
        mu->op.kind = STORE_OP_CREATE_USER;
        mu->op.app = x->app.id;
        mu->op.done = multi_done;
        mu->op.ud = mu;
        mu->op.u.user.user = mu->user;
        mu->op.u.user.nickname = mu->nick;
        ops[i] = mu;
    }
    cJSON_Delete(j);
    for (int i = 0; i < n; i++) {
        int src = rest_store_submit(r->s, &ops[i]->op);
        if (src != TERN_OK) {
            /* Not queued: complete it here as failed (same accounting as the writer). */
            ops[i]->op.result = src;
            multi_done(&ops[i]->op);
        }
    }
    tern_free(ops);
    return 1;
}

typedef struct list_ctx {
    tern_buf *b;
    int n;
    char last[65];
} list_ctx;

static void user_row(void *ud, const char *user, const char *nick, int64_t created)
{
    list_ctx *l = ud;
    if (l->n++)
        tern_buf_putc(l->b, ',');
    tern_buf_puts(l->b, "{\"username\":");
    tern_buf_json_str(l->b, user, strlen(user));
    if (nick) {
        tern_buf_puts(l->b, ",\"nickname\":");
        tern_buf_json_str(l->b, nick, strlen(nick));
    }
    tern_buf_printf(l->b, ",\"created\":%lld}", (long long)created);
    snprintf(l->last, sizeof l->last, "%s", user);
}

static const rest_query_spec q_limit = {"limit", 15, 1, 1, 1000};

int users_list(rctx *x, const http_msg *m)
{
    char cur[80];
    uint64_t limit = 100;
    if (rest_query_uint(x, m, &q_limit, &limit) < 0)
        return 0;
    int qc = http_query_get(m->query, "cursor", cur, sizeof cur);
    if (qc == -2) {
        rest_reply_err(x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    int has_cur = qc > 0;
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_putc(&d, '[');
    list_ctx l = {&d, 0, ""};
    int rc = store_user_list(rest_reader(x), x->app.id, has_cur ? cur : NULL, (int)limit, user_row, &l);
    tern_buf_putc(&d, ']');
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
    } else {
        char extra[128] = "";
        if (l.n == (int)limit)
            snprintf(extra, sizeof extra, ",\"cursor\":\"%s\"", l.last);
        rest_reply_ok(x, d.data, d.len, l.n == (int)limit ? extra : NULL);
    }
    tern_buf_free(&d);
    return 0;
}

int user_get(rctx *x, const http_msg *m)
{
    if (!require_user(x, x->user))
        return 0;
    /* The first row of the list at or after `user` is the user itself. */
    tern_buf d;
    tern_buf_init(&d, 0);
    list_ctx l = {&d, 0, ""};
    int rc = store_user_list_from(rest_reader(x), x->app.id, x->user, 1, user_row, &l);
    rest_reply_buf(x, rc != TERN_OK ? rc : l.n != 1 ? TERN_ERR_USER_NOT_FOUND : TERN_OK, &d);
    return 0;
}

static void user_deleted_after(rest_op *r)
{
    for (size_t i = 0; i < r->nlist; i++)
        groups_invalidate(r->s, r->x.app.id, r->list[i]);
    delivery_kick_user(r->s, r->x.app.id, r->a, TERN_ERR_KICKED);
    tern_buf_puts(&r->out, "{\"username\":");
    tern_buf_json_str(&r->out, r->a, strlen(r->a));
    tern_buf_putc(&r->out, '}');
}

int user_delete(rctx *x, const http_msg *m)
{
    /* The user's groups, whose member caches the deletion makes stale. */
    rest_op *r = rest_op_listing(x, rest_finish_out, x->user, store_user_groups);
    r->op.kind = STORE_OP_DELETE_USER;
    r->op.u.user.user = r->a;
    r->after = user_deleted_after;
    return rest_submit(r);
}

static void group_id_row(void *ud, const char *gid)
{
    list_ctx *l = ud;
    if (l->n++)
        tern_buf_putc(l->b, ',');
    tern_buf_puts(l->b, "{\"groupid\":");
    tern_buf_json_str(l->b, gid, strlen(gid));
    tern_buf_putc(l->b, '}');
}

int user_groups(rctx *x, const http_msg *m)
{
    if (!require_user(x, x->user))
        return 0;
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_putc(&d, '[');
    list_ctx l = {&d, 0, ""};
    int rc = store_user_groups(rest_reader(x), x->app.id, x->user, group_id_row, &l);
    tern_buf_putc(&d, ']');
    rest_reply_buf(x, rc, &d);
    return 0;
}
