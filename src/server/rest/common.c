/*
 * common.c — what several REST resources share and that needs no connection: request
 * bodies as JSON, identifiers, query integers, lists of user ids, the existence check
 * of a path's user, and the async operation's lifetime and store submission (the
 * loop round-trip itself is in router.c).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/util.h"
#include "rest/rest.h"

void strlist_add(void *ud, const char *s)
{
    strlist *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = tern_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = tern_strdup(s);
}

void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        tern_free(l->v[i]);
    tern_free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

cJSON *parse_body(const rctx *x, const http_msg *m)
{
    cJSON *j = NULL;
    int rc = TERN_ERR_BAD_JSON;
    if (tern_utf8_valid((const uint8_t *)m->body.data, m->body.len))
        rc = tern_json_parse(m->body.data, m->body.len, &j);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return NULL;
    }
    return j;
}

const char *jstr(cJSON *o, const char *name)
{
    return tern_json_str(o, name);
}

int ident(const char *s)
{
    return s && tern_ident_valid(s, strlen(s));
}

int easemob_username(const char *in, char out[65])
{
    size_t n = in ? strlen(in) : 0;
    out[0] = 0;
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
            out[0] = 0;
            return 0;
        }
        out[i] = c;
    }
    out[n] = 0;
    return 1;
}

void rest_reply_bad_username(const rctx *x, const char *name)
{
    char d[100];
    if (!name || strlen(name) <= 64)
        snprintf(d, sizeof d, "username [%s] is not legal", name ? name : "");
    else
        snprintf(d, sizeof d, "USERNAME_TOO_LONG");
    rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL, d);
}

int rest_find_user(const rctx *x, const char *name, char out[65])
{
    char folded[65];
    size_t n = strlen(name);
    if (n > 64)
        return 0;
    int ex = store_user_exists(rest_reader(x), x->app.id, name);
    if (ex == 1) {
        memcpy(out, name, n + 1);
        return 1;
    }
    if (ex < 0)
        return -1;
    for (size_t i = 0; i <= n; i++)
        folded[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
    if (!strcmp(folded, name))
        return 0;
    ex = store_user_exists(rest_reader(x), x->app.id, folded);
    if (ex == 1)
        memcpy(out, folded, n + 1);
    return ex;
}

void rest_user_entity(tern_buf *b, const store_user *u)
{
    tern_buf_puts(b, "{\"uuid\":");
    tern_buf_json_str(b, u->uuid ? u->uuid : "", u->uuid ? strlen(u->uuid) : 0);
    tern_buf_printf(b, ",\"type\":\"user\",\"created\":%lld,\"modified\":%lld,\"username\":", (long long)u->created_ms,
                    (long long)u->modified_ms);
    tern_buf_json_str(b, u->user, strlen(u->user));
    tern_buf_puts(b, ",\"activated\":true");
    if (u->nickname) {
        tern_buf_puts(b, ",\"nickname\":");
        tern_buf_json_str(b, u->nickname, strlen(u->nickname));
    }
    tern_buf_putc(b, '}');
}

int require_user(const rctx *x, const char *user)
{
    int ex = store_user_exists(rest_reader(x), x->app.id, user);
    if (ex == 1)
        return 1;
    rest_reply_err(x, ex < 0 ? TERN_ERR_STORE : TERN_ERR_USER_NOT_FOUND);
    return 0;
}

int read_string_list(cJSON *arr, strlist *l, size_t max, int idents)
{
    if (!cJSON_IsArray(arr))
        return TERN_ERR_BAD_FIELD;
    if ((size_t)cJSON_GetArraySize(arr) > max)
        return TERN_ERR_TOO_MANY;
    cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || (idents && !ident(it->valuestring)))
            return TERN_ERR_BAD_FIELD;
        strlist_add(l, it->valuestring);
    }
    return TERN_OK;
}

int read_user_list(cJSON *arr, strlist *l, size_t max)
{
    return read_string_list(arr, l, max, 1);
}

int rest_query_uint(const rctx *x, const http_msg *m, const rest_query_spec *q, uint64_t *out)
{
    char v[32];
    uint64_t u;
    size_t cap = q->maxlen + 1 < sizeof v ? q->maxlen + 1 : sizeof v;
    int got = http_query_get(m->query, q->name, v, cap);
    if (got == -1 || (got == 0 && q->empty_is_absent))
        return 0;
    if (got < 0 || tern_parse_u64(v, strlen(v), &u) < 0 || u < q->min || u > q->max) {
        rest_reply_err(x, TERN_ERR_BAD_FIELD);
        return -1;
    }
    *out = u;
    return 1;
}

void rest_reply_buf(const rctx *x, int rc, tern_buf *d)
{
    if (rc != TERN_OK)
        rest_reply_err(x, rc);
    else
        rest_reply_ok(x, d->data ? d->data : "", d->len, NULL);
    tern_buf_free(d);
}

/* ---- async operations ------------------------------------------------------------------ */

void rest_op_free(rest_op *r)
{
    if (r->free_ud)
        r->free_ud(r->ud);
    tern_free(r->a);
    tern_free(r->b);
    for (size_t i = 0; i < r->nlist; i++)
        tern_free(r->list[i]);
    tern_free(r->list);
    tern_buf_free(&r->out);
    pthread_mutex_destroy(&r->mu);
    tern_free(r);
}

int rest_store_submit(server *s, store_op *op)
{
    return atomic_load(&s->shutting_down) ? TERN_ERR_SHUTTING_DOWN : store_submit(s->st, op);
}

static void rest_done(store_op *op)
{
    rest_op *r = op->ud;
    if (op->result == TERN_OK && r->after)
        r->after(r);
    rest_op_done(r);
}

int rest_submit(rest_op *r)
{
    r->op.done = rest_done;
    r->op.ud = r;
    r->op.app = r->x.app.id;
    int rc = rest_store_submit(r->s, &r->op);
    if (rc != TERN_OK) {
        rest_reply_err(&r->x, rc);
        rest_op_free(r);
        return 0;
    }
    return 1;
}

void rest_reply_out_wrapped(rest_op *r, char open, char close)
{
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_putc(&d, open);
    tern_buf_append(&d, r->out.data ? r->out.data : "", r->out.len);
    tern_buf_putc(&d, close);
    rest_reply_buf(&r->x, TERN_OK, &d);
}

rest_op *rest_op_listing(const rctx *x, rest_finish fin, const char *id, rest_list_fn list)
{
    rest_op *r = rest_op_new(x, fin);
    r->a = tern_strdup(id);
    strlist l = {0};
    list(rest_reader(x), x->app.id, id, strlist_add, &l);
    r->list = l.v;
    r->nlist = l.n;
    return r;
}

void rest_finish_members(rest_op *r, const char *prefix, const char *suffix)
{
    if (r->op.result != TERN_OK) {
        rest_reply_err(&r->x, r->op.result);
        return;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, prefix);
    tern_buf_append(&d, r->out.data ? r->out.data : "", r->out.len);
    tern_buf_puts(&d, suffix);
    rest_reply_members(&r->x, d.data, d.len);
    tern_buf_free(&d);
}

void rest_finish_out(rest_op *r)
{
    if (r->op.result != TERN_OK)
        rest_reply_err(&r->x, r->op.result);
    else
        rest_reply_ok(&r->x, r->out.data ? r->out.data : "{}", r->out.data ? r->out.len : 2, NULL);
}
