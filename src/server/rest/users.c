/*
 * users.c — the users of an app, in Easemob's shapes (docs/rest-api.md, "Users"):
 * create (one object or a batch of up to 60, committed together, with optional
 * passwords hashed off the I/O loop), list with an opaque cursor, get and delete, each
 * answering `entities` of {uuid,type,created,modified,username,activated,nickname};
 * and the groups a user joined.
 *
 * Usernames created here follow Easemob's rule (easemob_username: [a-z0-9_.-], upper
 * case folded to lower). Ids made before that rule may hold [A-Z@=+]: GET and DELETE
 * find them by their exact id first (rest_find_user).
 */
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/util.h"
#include "delivery.h"
#include "groups.h"
#include "password.h"
#include "rest/rest.h"

#define MAX_BATCH 60
#define MAX_NICK 100

/* One user of a create request: its own store op, all of them queued together so
 * they commit in one batch; the last completion answers. */
typedef struct new_user {
    store_op op;
    rest_op *r;
    char user[65];
    char *nick, *pw; /* pw: the password until hashed (then wiped and freed) */
    char hash[PASSWORD_HASH_MAX];
    int result;
} new_user;

typedef struct create_req {
    new_user *u;
    int n;
    atomic_int hashing; /* hashes still running (rest_run_off_loop's calls) */
} create_req;

static void create_req_free(void *ud)
{
    create_req *c = ud;
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        tern_free(c->u[i].nick);
        if (c->u[i].pw) {
            OPENSSL_cleanse(c->u[i].pw, strlen(c->u[i].pw));
            tern_free(c->u[i].pw);
        }
    }
    tern_free(c->u);
    tern_free(c);
}

typedef struct list_ctx {
    tern_buf *b;
    int n;         /* rows seen */
    int max;       /* rows written at most (0: all); a row past it only counts */
    char last[65]; /* the last row written */
} list_ctx;

static void user_row(void *ud, const store_user *u)
{
    list_ctx *l = ud;
    if (l->max && l->n >= l->max) {
        l->n++;
        return;
    }
    if (l->n++)
        tern_buf_putc(l->b, ',');
    rest_user_entity(l->b, u);
    snprintf(l->last, sizeof l->last, "%s", u->user);
}

static void new_user_done(store_op *op)
{
    new_user *nu = op->ud;
    rest_op *r = nu->r;
    pthread_mutex_lock(&r->mu);
    nu->result = op->result;
    if (op->result == TERN_OK)
        r->ok_count++;
    else if (!r->op.result || r->op.result == TERN_ERR_CONFLICT)
        r->op.result = op->result;
    int last = --r->pending == 0;
    pthread_mutex_unlock(&r->mu);
    if (last)
        rest_op_done(r);
}

/* Queues every user's op (from the loop, or from the pool after hashing). Once the
 * last op is queued, r (and c) may be answered and freed at any moment: the loop reads
 * only its own copies of n and u. */
static void submit_users(rest_op *r)
{
    create_req *c = r->ud;
    int n = c->n;
    new_user *u = c->u;
    for (int i = 0; i < n; i++) {
        new_user *nu = &u[i];
        if (nu->pw) {
            OPENSSL_cleanse(nu->pw, strlen(nu->pw));
            tern_free(nu->pw);
            nu->pw = NULL;
        }
        int src = nu->op.u.user.password && !nu->hash[0] ? TERN_ERR_INTERNAL : rest_store_submit(r->s, &nu->op);
        if (src != TERN_OK) {
            /* Not queued: complete it here as failed (same accounting as the writer). */
            nu->op.result = src;
            new_user_done(&nu->op);
        }
    }
}

/* On libuv's pool, one call per user (in parallel): that user's hash; the last hash
 * to finish queues the whole batch in the store. */
static void hash_then_submit(rest_op *r, size_t i)
{
    create_req *c = r->ud;
    new_user *nu = &c->u[i];
    if (nu->pw && password_hash(nu->pw, strlen(nu->pw), nu->hash) < 0)
        nu->hash[0] = 0;
    if (atomic_fetch_sub(&c->hashing, 1) == 1)
        submit_users(r);
}

/* Answers "entities":[...] with the users as stored (uuid and times included). */
static void finish_users_created(rest_op *r)
{
    create_req *c = r->ud;
    if (r->ok_count == 0 && r->op.result != TERN_OK) {
        rest_reply_err(&r->x, r->op.result);
        return;
    }
    /* All created, or partly: answer with those created. */
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "\"entities\":[");
    list_ctx l = {&d, 0, 0, ""};
    int rc = TERN_OK;
    for (int i = 0; i < c->n && rc == TERN_OK; i++)
        if (c->u[i].result == TERN_OK)
            rc = store_user_get(rest_reader(&r->x), r->x.app.id, c->u[i].user, user_row, &l);
    tern_buf_putc(&d, ']');
    if (rc != TERN_OK)
        rest_reply_err(&r->x, rc);
    else
        rest_reply_members(&r->x, d.data, d.len);
    tern_buf_free(&d);
}

/* Reads one element of the body into nu: TERN_OK, 1003 or 1012; *bad_name is the
 * username when it is what was refused. */
static int read_new_user(cJSON *u, new_user *nu, const char **bad_name)
{
    if (!cJSON_IsObject(u))
        return TERN_ERR_BAD_FIELD;
    static const char *const keys[] = {"username", "password", "nickname"};
    if (!tern_json_only_keys(u, keys, 3))
        return TERN_ERR_NOT_SUPPORTED; /* refused, never dropped */
    const char *name = jstr(u, "username");
    cJSON *nick = cJSON_GetObjectItemCaseSensitive(u, "nickname");
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(u, "password");
    if (!easemob_username(name, nu->user)) {
        *bad_name = name ? name : "";
        return TERN_ERR_BAD_FIELD;
    }
    if ((nick && (!cJSON_IsString(nick) || strlen(nick->valuestring) > MAX_NICK)) ||
        (pw && (!cJSON_IsString(pw) || !password_valid(pw->valuestring, strlen(pw->valuestring)))))
        return TERN_ERR_BAD_FIELD;
    nu->nick = nick ? tern_strdup(nick->valuestring) : NULL;
    nu->pw = pw ? tern_strdup(pw->valuestring) : NULL;
    return TERN_OK;
}

int users_create(rctx *x, const http_msg *m)
{
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    cJSON *arr = cJSON_IsArray(j) ? j : NULL;
    int n = arr ? cJSON_GetArraySize(arr) : 1;
    int rc = n < 1 ? TERN_ERR_BAD_FIELD : n > MAX_BATCH ? TERN_ERR_TOO_MANY : TERN_OK;
    create_req *c = tern_calloc(1, sizeof *c);
    int any_pw = 0;
    if (rc == TERN_OK) {
        c->u = tern_calloc((size_t)n, sizeof *c->u);
        c->n = n;
    }
    const char *bad_name = NULL;
    for (int i = 0; rc == TERN_OK && i < n; i++) {
        rc = read_new_user(arr ? cJSON_GetArrayItem(arr, i) : j, &c->u[i], &bad_name);
        any_pw |= c->u[i].pw != NULL;
    }
    if (rc != TERN_OK) {
        if (bad_name)
            rest_reply_bad_username(x, bad_name);
        else
            rest_reply_err(x, rc);
        cJSON_Delete(j);
        create_req_free(c);
        return 0;
    }
    cJSON_Delete(j);
    rest_op *r = rest_op_new(x, finish_users_created);
    r->pending = n;
    r->op.result = TERN_OK;
    r->ud = c;
    r->free_ud = create_req_free;
    for (int i = 0; i < n; i++) {
        new_user *nu = &c->u[i];
        nu->r = r;
        nu->op.kind = STORE_OP_CREATE_USER;
        nu->op.app = x->app.id;
        nu->op.done = new_user_done;
        nu->op.ud = nu;
        nu->op.u.user.user = nu->user;
        nu->op.u.user.nickname = nu->nick;
        nu->op.u.user.password = nu->pw ? nu->hash : NULL;
    }
    /* Hashing takes tens of milliseconds per password: never on the I/O loop. */
    if (any_pw) {
        atomic_init(&c->hashing, n);
        return rest_run_off_loop(r, hash_then_submit, (size_t)n);
    }
    submit_users(r);
    return 1;
}

static const rest_query_spec q_limit = {"limit", 15, 1, 1, 100};

int users_list(rctx *x, const http_msg *m)
{
    char cur[100], after[65];
    uint64_t limit = 10;
    if (rest_query_uint(x, m, &q_limit, &limit) < 0)
        return 0;
    /* The cursor is opaque: base64url of the last username of the previous page. */
    int qc = http_query_get(m->query, "cursor", cur, sizeof cur);
    int has_cur = qc > 0, an = 0;
    if (has_cur)
        an = tern_base64url_decode(cur, strlen(cur), (uint8_t *)after, sizeof after - 1);
    if (qc == -2 || (has_cur && (an < 1 || memchr(after, 0, (size_t)an)))) {
        rest_reply_err(x, TERN_ERR_BAD_FIELD);
        return 0;
    }
    if (has_cur)
        after[an] = 0;
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "\"entities\":[");
    /* One row more than a page says whether another page follows. */
    list_ctx l = {&d, 0, (int)limit, ""};
    int rc = store_user_list(rest_reader(x), x->app.id, has_cur ? after : NULL, (int)limit + 1, user_row, &l);
    int more = l.n > (int)limit;
    tern_buf_printf(&d, "],\"count\":%d", more ? (int)limit : l.n);
    if (more) {
        char enc[100];
        tern_base64url_encode((const uint8_t *)l.last, strlen(l.last), enc, sizeof enc);
        tern_buf_printf(&d, ",\"cursor\":\"%s\"", enc);
    }
    if (rc != TERN_OK)
        rest_reply_err(x, rc);
    else
        rest_reply_members(x, d.data, d.len);
    tern_buf_free(&d);
    return 0;
}

/* Answers 404 service_resource_not_found (20003) or 5002 unless the path's user
 * exists; then its stored id is in id. */
static int path_user(rctx *x, char id[65])
{
    int f = rest_find_user(x, x->user, id);
    if (f < 0)
        rest_reply_err(x, TERN_ERR_STORE);
    else if (f == 0) /* Easemob's text for a path user that does not exist */
        rest_reply_err_desc(x, TERN_ERR_USER_NOT_FOUND, NULL, "Service resource not found");
    return f == 1;
}

int user_get(rctx *x, const http_msg *m)
{
    char id[65];
    if (!path_user(x, id))
        return 0;
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "\"entities\":[");
    list_ctx l = {&d, 0, 0, ""};
    int rc = store_user_get(rest_reader(x), x->app.id, id, user_row, &l);
    tern_buf_printf(&d, "],\"count\":%d", l.n);
    if (rc != TERN_OK)
        rest_reply_err(x, rc);
    else
        rest_reply_members(x, d.data, d.len);
    tern_buf_free(&d);
    return 0;
}

static void user_deleted_after(rest_op *r)
{
    for (size_t i = 0; i < r->nlist; i++)
        groups_invalidate(r->s, r->x.app.id, r->list[i]);
    delivery_kick_user(r->s, r->x.app.id, r->a, TERN_ERR_KICKED);
}

/* "entities":[<the user as it was>] (built in r->out before the deletion). */
static void finish_user_deleted(rest_op *r)
{
    rest_finish_members(r, "\"entities\":[", "]");
}

int user_delete(rctx *x, const http_msg *m)
{
    char id[65];
    if (!path_user(x, id))
        return 0;
    /* The user's groups, whose member caches the deletion makes stale. */
    rest_op *r = rest_op_listing(x, finish_user_deleted, id, store_user_groups);
    list_ctx l = {&r->out, 0, 0, ""};
    int rc = store_user_get(rest_reader(x), x->app.id, id, user_row, &l);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        rest_op_free(r);
        return 0;
    }
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
    list_ctx l = {&d, 0, 0, ""};
    int rc = store_user_groups(rest_reader(x), x->app.id, x->user, group_id_row, &l);
    tern_buf_putc(&d, ']');
    rest_reply_buf(x, rc, &d);
    return 0;
}
