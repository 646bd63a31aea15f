/*
 * session.c — the WebSocket client protocol (docs/protocol.md): one JSON request per
 * text message, dispatched by "op" to login, send, history, conversations, read, sync,
 * ping and logout. Reads run here on the loop through its store reader; writes go to
 * the store writer and their responses come back through the loop's inbox.
 */
#include "session.h"

#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/conv.h"
#include "core/json.h"
#include "core/log.h"
#include "core/token.h"
#include "core/util.h"
#include "core/ws.h"
#include "delivery.h"
#include "groups.h"
#include "msg.h"
#include "receipts.h"
#include "session_rcpt.h"
#include "session_ops.h"

#define SYNC_MAX_BYTES (1024 * 1024)

/* ---- responses ---------------------------------------------------------------------- */

/* Appends the request id as it is echoed: an integer in [0, 2^53 - 1] in decimal, or a
 * string of at most 64 bytes re-escaped. Returns 0, or -1 if id is present but neither
 * (1e400, 1.5, -1, 2^53, an object, an array, a longer string, null): the request is
 * then refused with 1003 and the response carries no id (docs/protocol.md §2). */
static int append_id_json(tern_buf *out, const cJSON *id)
{
    long long v;
    if (!id)
        return 0;
    if (tern_json_int_value(id, 0, TERN_JSON_MAX_SAFE_INT, &v) == 0)
        return tern_buf_printf(out, "%lld", v);
    if (cJSON_IsString(id) && strlen(id->valuestring) <= 64)
        return tern_buf_json_str(out, id->valuestring, strlen(id->valuestring));
    return -1;
}

/* Appends the response prefix up to and including `"data":` (or closes it on error). */
static void resp_head(tern_buf *b, const char *op, const tern_buf *id, int code)
{
    tern_buf_puts(b, "{\"re\":");
    tern_buf_json_str(b, op, strlen(op));
    if (id->len) {
        tern_buf_puts(b, ",\"id\":");
        tern_buf_append(b, id->data, id->len);
    }
    tern_buf_printf(b, ",\"code\":%d,\"message\":", code);
    const char *m = tern_strerror(code);
    tern_buf_json_str(b, m, strlen(m));
}

static void reply_error(req *q, int code)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    resp_head(&b, q->op, &q->id, code);
    tern_buf_putc(&b, '}');
    conn_send_text(q->c, b.data, b.len);
    tern_buf_free(&b);
}

/* Sends {"re":op,"id":..,"code":0,"message":"OK","data":<data>}. */
static void reply_ok(req *q, const char *data, size_t n)
{
    tern_buf *b = &q->c->loop->scratch;
    tern_buf_reset(b);
    resp_head(b, q->op, &q->id, 0);
    tern_buf_puts(b, ",\"data\":");
    tern_buf_append(b, data, n);
    tern_buf_putc(b, '}');
    conn_send_text(q->c, b->data, b->len);
}

/* ---- conversation ids --------------------------------------------------------------- */

int conv_parse(const char *cid, size_t n, const char *me, char *key, size_t keysz, int *is_group, char *peer,
               size_t peersz)
{
    tern_conv_kind kind;
    int rc = tern_conv_id_to_key(cid, n, me, key, keysz, &kind, peer, peersz);
    *is_group = kind == TERN_CONV_KIND_GROUP;
    return rc;
}

/* Checks the user may read conversation cid; fills key. */
static int conv_access(conn *c, const char *cid, char *key, size_t keysz, int *is_group, char *peer, size_t peersz)
{
    int rc = conv_parse(cid, strlen(cid), c->user, key, keysz, is_group, peer, peersz);
    if (rc != TERN_OK)
        return rc;
    if (*is_group) {
        int err = 0;
        group_snap *g = groups_get(c->loop->srv, c->loop->reader, c->app, peer, &err);
        if (!g)
            return err == TERN_ERR_GROUP_NOT_FOUND ? TERN_ERR_GROUP_NOT_FOUND : err;
        int member = group_snap_has(g, c->user);
        group_snap_unref(g);
        if (!member)
            return TERN_ERR_FORBIDDEN;
    }
    return TERN_OK;
}

static void append_conv_id(tern_buf *b, int is_group, const char *peer)
{
    tern_buf_putc(b, '"');
    tern_buf_puts(b, is_group ? "GROUP" : "C2C");
    tern_buf_puts(b, peer); /* identifiers need no escaping */
    tern_buf_putc(b, '"');
}

/* ---- login -------------------------------------------------------------------------- */

static void op_login(req *q, cJSON *root)
{
    conn *c = q->c;
    server *s = c->loop->srv;
    if (c->logged_in)
        return reply_error(q, TERN_ERR_ALREADY_LOGGED_IN);
    tern_str japp, juser, jtok, jdev = {0};
    int ju = tern_json_get_str(root, "user", &juser);
    if (tern_json_get_str(root, "app", &japp) != TERN_JSON_OK || ju == TERN_JSON_ABSENT ||
        tern_json_get_str(root, "token", &jtok) != TERN_JSON_OK ||
        tern_json_get_str(root, "device", &jdev) == TERN_JSON_INVALID)
        return reply_error(q, TERN_ERR_BAD_FIELD);
    const char *user = juser.p;
    if (ju != TERN_JSON_OK || !tern_ident_valid(user, juser.n) || jdev.n > 64)
        return reply_error(q, TERN_ERR_BAD_FIELD);
    app_info app;
    if (apps_find_key(s, japp.p, &app) != 0)
        return reply_error(q, TERN_ERR_APP_NOT_FOUND);
    tern_token t;
    const char *tok = jtok.p;
    size_t tokn = jtok.n;
    if (tern_token_parse(tok, tokn, &t) != 0 || t.kind != 'u' || strcmp(t.appkey, app.key) != 0 ||
        strcmp(t.user, user) != 0)
        return reply_error(q, TERN_ERR_TOKEN_INVALID);
    int rc = tern_token_verify(tok, tokn, app.secret, tern_now_ms() / 1000);
    if (rc != 0)
        return reply_error(q, rc);
    int ex = store_user_exists(c->loop->reader, app.id, user);
    if (ex != 1)
        return reply_error(q, ex < 0 ? TERN_ERR_STORE : TERN_ERR_USER_NOT_FOUND);
    uint64_t sid;
    if (delivery_session_open(s, app.id, user, c->loop->index, c->id, (size_t)s->cfg.max_sessions_per_user, &sid) != 0)
        return reply_error(q, TERN_ERR_TOO_MANY);
    c->app = app.id;
    c->user = tern_strdup(user);
    c->device = jdev.p ? tern_strndup(jdev.p, jdev.n) : NULL;
    c->logged_in = 1;
    net_conn_set_deadline(conn_net(c), 0, 0, NULL); /* the login deadline is met */

    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"user\":");
    tern_buf_json_str(&d, user, strlen(user));
    tern_buf_printf(
        &d, ",\"sessionId\":\"%llu\",\"serverTime\":%lld,\"heartbeatSec\":%d,\"cursor\":", (unsigned long long)sid,
        (long long)tern_now_ms(), s->cfg.idle_timeout >= 6 ? s->cfg.idle_timeout / 3 : 2);
    tern_buf_json_u64str(&d, store_last_id(s->st));
    tern_buf_putc(&d, '}');
    reply_ok(q, d.data, d.len);
    tern_buf_reset(&d);
    tern_buf_puts(&d, "{\"ev\":\"ready\",\"data\":{\"user\":");
    tern_buf_json_str(&d, user, strlen(user));
    tern_buf_puts(&d, "}}");
    conn_send_text(c, d.data, d.len);
    tern_buf_free(&d);
    LOG_DEBUG("login %s/%s conn %llu", app.key, user, (unsigned long long)c->id);
}

/* ---- send --------------------------------------------------------------------------- */

/* Carries a response built on the writer thread to the origin connection. */
static void push_reply(server *s, int loop, uint64_t conn_id, tern_buf *b)
{
    inbox_item it = {.conn_id = conn_id, .f = frame_text(b->data, b->len)};
    inbox_push(&s->loops[loop], &it);
}

/* For the ops in other files (session_ops.h). */
void session_reply_error(req *q, int code)
{
    reply_error(q, code);
}
void session_reply_ok(req *q, const char *data, size_t n)
{
    reply_ok(q, data, n);
}
void session_resp_head(tern_buf *b, const char *op, const tern_buf *id, int code)
{
    resp_head(b, op, id, code);
}
void session_push_reply(server *s, int loop, uint64_t conn_id, tern_buf *b)
{
    push_reply(s, loop, conn_id, b);
}

static void send_done(send_req *r)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf id = {.data = r->reply, .len = r->reply ? strlen(r->reply) : 0};
    int code = r->op.result;
    resp_head(&b, "send", &id, code);
    if (code == TERN_OK) {
        tern_buf_puts(&b, ",\"data\":{\"msgId\":");
        tern_buf_json_u64str(&b, r->op.u.msg.msg_id);
        tern_buf_printf(&b, ",\"seq\":%llu,\"time\":%lld,\"conversationID\":\"", (unsigned long long)r->op.u.msg.seq,
                        (long long)r->op.u.msg.time_ms);
        msg_conv_id(r, &b);
        tern_buf_printf(&b, "\",\"duplicate\":%s}", r->op.u.msg.duplicate ? "true" : "false");
    }
    tern_buf_putc(&b, '}');
    push_reply(r->s, r->loop, r->origin_conn, &b);
    tern_buf_free(&b);
    send_req_free(r);
}

static void op_send(req *q, cJSON *root)
{
    conn *c = q->c;
    server *s = c->loop->srv;
    if (atomic_load(&s->shutting_down))
        return reply_error(q, TERN_ERR_SHUTTING_DOWN);
    tern_send_opts opts;
    int rc = tern_send_opts_parse(cJSON_GetObjectItemCaseSensitive(root, "options"), &opts);
    if (rc != TERN_OK)
        return reply_error(q, rc);
    const cJSON *k;
    cJSON_ArrayForEach(k, root)
    {
        if (strcmp(k->string, "op") != 0 && strcmp(k->string, "id") != 0 && strcmp(k->string, "msg") != 0 &&
            strcmp(k->string, "options") != 0)
            return reply_error(q, TERN_ERR_NOT_SUPPORTED);
    }
    send_req *r;
    rc = msg_prepare(s, c->loop->reader, c->app, c->user, cJSON_GetObjectItemCaseSensitive(root, "msg"), &r);
    if (rc == TERN_OK && (rc = msg_set_options(r, &opts)) != TERN_OK)
        send_req_free(r);
    if (rc != TERN_OK)
        return reply_error(q, rc);
    r->loop = c->loop->index;
    r->origin_conn = c->id;
    r->origin_session = delivery_session_id(s, c->id);
    r->complete = send_done;
    r->reply = q->id.len ? tern_strndup(q->id.data, q->id.len) : NULL;
    rc = msg_dispatch(r);
    if (rc != TERN_OK) {
        send_req_free(r);
        reply_error(q, rc);
    }
}

/* ---- history, conversations --------------------------------------------------------- */

/* An optional integer field in [lo, hi] (def when absent or null); -1 if invalid. */
static int get_int(cJSON *o, const char *name, long long def, long long lo, long long hi, long long *out)
{
    *out = def;
    return tern_json_get_int(o, name, lo, hi, out) == TERN_JSON_INVALID ? -1 : 0;
}

static void op_history(req *q, cJSON *root)
{
    conn *c = q->c;
    tern_str jc;
    long long before, limit;
    if (tern_json_get_str(root, "conversationID", &jc) != TERN_JSON_OK ||
        get_int(root, "beforeSeq", 0, 0, TERN_JSON_MAX_SAFE_INT, &before) < 0 ||
        get_int(root, "limit", 20, 1, 100, &limit) < 0)
        return reply_error(q, TERN_ERR_BAD_FIELD);
    char key[160], peer[80];
    int is_group;
    int rc = conv_access(c, jc.p, key, sizeof key, &is_group, peer, sizeof peer);
    if (rc != TERN_OK)
        return reply_error(q, rc);
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"messages\":");
    int more = 0;
    rc = store_history_for(c->loop->reader, c->app, key, c->user, (uint64_t)before, (int)limit, &d, &more);
    if (rc != TERN_OK) {
        tern_buf_free(&d);
        return reply_error(q, rc);
    }
    tern_buf_printf(&d, ",\"more\":%s}", more ? "true" : "false");
    reply_ok(q, d.data, d.len);
    tern_buf_free(&d);
}

typedef struct conv_list {
    tern_buf *b;
    int n;
} conv_list;

static void append_conv(tern_buf *b, const store_conv *cv)
{
    uint64_t unread = cv->last_seq > cv->read_seq ? cv->last_seq - cv->read_seq : 0;
    unread = unread > cv->uncounted ? unread - cv->uncounted : 0;
    tern_buf_puts(b, "{\"conversationID\":");
    append_conv_id(b, cv->is_group, cv->peer);
    tern_buf_printf(b, ",\"type\":\"%s\",\"peer\":", cv->is_group ? "GROUP" : "C2C");
    tern_buf_json_str(b, cv->peer, strlen(cv->peer));
    tern_buf_printf(b, ",\"unreadCount\":%llu,\"readSeq\":%llu,\"lastSeq\":%llu,\"lastMessage\":",
                    (unsigned long long)unread, (unsigned long long)cv->read_seq, (unsigned long long)cv->last_seq);
    if (cv->last_msg_json)
        tern_buf_append(b, cv->last_msg_json, cv->last_msg_len);
    else
        tern_buf_puts(b, "null");
    /* at-info (issue 10), only while pending: Tencent's CONV_AT_ME 1, CONV_AT_ALL 2,
     * CONV_AT_ALL_AT_ME 3, with the seqs of the newest @ messages behind it. */
    int at = (cv->at_seq > cv->read_seq ? 1 : 0) | (cv->at_all_seq > cv->read_seq ? 2 : 0);
    if (at)
        tern_buf_printf(b, ",\"atInfo\":%d,\"atMeSeq\":%llu,\"atAllSeq\":%llu", at,
                        (unsigned long long)(at & 1 ? cv->at_seq : 0),
                        (unsigned long long)(at & 2 ? cv->at_all_seq : 0));
    tern_buf_putc(b, '}');
}

static void conv_cb(void *ud, const store_conv *cv)
{
    conv_list *l = ud;
    if (l->n++)
        tern_buf_putc(l->b, ',');
    append_conv(l->b, cv);
}

/* Shared with REST: appends {"conversations":[...]} for the user. */
int session_conversations_json(store_reader *r, int64_t app, const char *user, int limit, tern_buf *out)
{
    conv_list l = {out, 0};
    tern_buf_puts(out, "{\"conversations\":[");
    int rc = store_conversations(r, app, user, limit, conv_cb, &l);
    tern_buf_puts(out, "]}");
    return rc;
}

static void op_conversations(req *q, cJSON *root)
{
    long long limit;
    if (get_int(root, "limit", 100, 1, 500, &limit) < 0)
        return reply_error(q, TERN_ERR_BAD_FIELD);
    tern_buf d;
    tern_buf_init(&d, 0);
    int rc = session_conversations_json(q->c->loop->reader, q->c->app, q->c->user, (int)limit, &d);
    if (rc != TERN_OK)
        reply_error(q, rc);
    else
        reply_ok(q, d.data, d.len);
    tern_buf_free(&d);
}

/* ---- read --------------------------------------------------------------------------- */

typedef struct read_req {
    store_op op;
    server *s;
    int loop;
    uint64_t conn_id;    /* gets the answer */
    uint64_t session_id; /* excluded from the read sync */
    int64_t app;
    char *user;
    char *key;
    char conv_id[96];
    char peer[80];
    int is_group;
    char *reply;
} read_req;

static void read_done(store_op *op)
{
    read_req *r = op->ud;
    int code = op->result == TERN_ERR_NOT_FOUND ? TERN_ERR_NOT_FOUND : op->result;
    tern_buf id = {.data = r->reply, .len = r->reply ? strlen(r->reply) : 0};
    tern_buf b, d;
    tern_buf_init(&b, 0);
    tern_buf_init(&d, 0);
    resp_head(&b, "read", &id, code);
    if (code == TERN_OK) {
        uint64_t unread = op->u.read.last_seq > op->u.read.read_seq ? op->u.read.last_seq - op->u.read.read_seq : 0;
        unread = unread > op->u.read.uncounted ? unread - op->u.read.uncounted : 0;
        tern_buf_printf(&d, "{\"conversationID\":\"%s\",\"readSeq\":%llu,\"unreadCount\":%llu}", r->conv_id,
                        (unsigned long long)op->u.read.read_seq, (unsigned long long)unread);
        tern_buf_puts(&b, ",\"data\":");
        tern_buf_append(&b, d.data, d.len);
    }
    tern_buf_putc(&b, '}');
    push_reply(r->s, r->loop, r->conn_id, &b);
    receipts_on_read(r->s, r->app, r->user, r->is_group, r->peer, op); /* frees op's receipts */
    if (code == TERN_OK) {
        /* The user's other sessions learn the new read position. */
        delivery_read_sync(r->s, r->app, r->user, r->session_id, d.data, d.len);
    }
    tern_buf_free(&b);
    tern_buf_free(&d);
    tern_free(r->user);
    tern_free(r->key);
    tern_free(r->reply);
    tern_free(r);
}

static void op_read(req *q, cJSON *root)
{
    conn *c = q->c;
    tern_str jc;
    long long seq;
    if (tern_json_get_str(root, "conversationID", &jc) != TERN_JSON_OK ||
        get_int(root, "seq", -1, 0, TERN_JSON_MAX_SAFE_INT, &seq) < 0 || seq < 0)
        return reply_error(q, TERN_ERR_BAD_FIELD);
    char key[160], peer[80];
    int is_group;
    int rc = conv_access(c, jc.p, key, sizeof key, &is_group, peer, sizeof peer);
    if (rc != TERN_OK)
        return reply_error(q, rc);
    read_req *r = tern_calloc(1, sizeof *r);
    r->s = c->loop->srv;
    r->loop = c->loop->index;
    r->conn_id = c->id;
    r->session_id = delivery_session_id(r->s, c->id);
    r->app = c->app;
    r->user = tern_strdup(c->user);
    r->key = tern_strdup(key);
    snprintf(r->conv_id, sizeof r->conv_id, "%s%s", is_group ? "GROUP" : "C2C", peer);
    memcpy(r->peer, peer, sizeof r->peer);
    r->is_group = is_group;
    r->reply = q->id.len ? tern_strndup(q->id.data, q->id.len) : NULL;
    r->op.kind = STORE_OP_MARK_READ;
    r->op.app = c->app;
    r->op.done = read_done;
    r->op.ud = r;
    r->op.u.read.user = r->user;
    r->op.u.read.conv_key = r->key;
    r->op.u.read.seq = (uint64_t)seq;
    rc = store_submit(r->s->st, &r->op);
    if (rc != TERN_OK) {
        tern_free(r->user);
        tern_free(r->key);
        tern_free(r->reply);
        tern_free(r);
        reply_error(q, rc);
    }
}

/* ---- sync --------------------------------------------------------------------------- */

typedef struct conv_vec {
    size_t n, cap;
    struct conv_item {
        char *key;
        char *cid;
        uint64_t last_seq, last_id;
    } * v;
} conv_vec;

static void collect_conv(void *ud, const store_conv *cv)
{
    conv_vec *v = ud;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->v = tern_realloc(v->v, v->cap * sizeof *v->v);
    }
    tern_buf id;
    tern_buf_init(&id, 0);
    tern_buf_puts(&id, cv->is_group ? "GROUP" : "C2C");
    tern_buf_puts(&id, cv->peer);
    v->v[v->n].key = tern_strdup(cv->conv_key);
    v->v[v->n].cid = tern_buf_steal(&id, NULL);
    v->v[v->n].last_seq = cv->last_seq;
    v->v[v->n].last_id = cv->last_msg_id;
    v->n++;
}

static void op_sync(req *q, cJSON *root)
{
    conn *c = q->c;
    server *s = c->loop->srv;
    cJSON *jconvs = cJSON_GetObjectItemCaseSensitive(root, "convs");
    long long limit;
    uint64_t cursor = 0;
    tern_str cur;
    int rcur = tern_json_get_str(root, "cursor", &cur);
    if (rcur == TERN_JSON_INVALID || (rcur == TERN_JSON_OK && tern_parse_u64(cur.p, cur.n, &cursor) < 0))
        return reply_error(q, TERN_ERR_BAD_FIELD);
    if ((jconvs && !cJSON_IsObject(jconvs) && !cJSON_IsNull(jconvs)) ||
        get_int(root, "limit", 500, 1, 1000, &limit) < 0)
        return reply_error(q, TERN_ERR_BAD_FIELD);
    /* The new cursor is read before the conversations, so anything committed later is
     * either in this page or newer than the cursor. */
    uint64_t new_cursor = store_last_id(s->st);
    conv_vec cv = {0};
    int rc = store_conversations(c->loop->reader, c->app, c->user, 100000, collect_conv, &cv);
    /* The client's map, hashed once: looking each conversation up in the cJSON object
     * would cost conversations x entries. */
    hmap known_map;
    hmap_init(&known_map);
    cJSON *kv;
    if (cJSON_IsObject(jconvs)) {
        cJSON_ArrayForEach(kv, jconvs)
        {
            /* A seq is an integer in [0, 2^53): anything else (a string, -1, 1.5, 1e300,
             * which would not even convert to uint64_t) is the client's mistake. */
            long long sv;
            if (!kv->string || tern_json_int_value(kv, 0, TERN_JSON_MAX_SAFE_INT, &sv) < 0) {
                hmap_free(&known_map);
                for (size_t i = 0; i < cv.n; i++) {
                    tern_free(cv.v[i].key);
                    tern_free(cv.v[i].cid);
                }
                tern_free(cv.v);
                return reply_error(q, TERN_ERR_BAD_FIELD);
            }
            hmap_put(&known_map, kv->string, strlen(kv->string), kv);
        }
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"messages\":[");
    long long left = limit;
    int more = 0, first = 1;
    tern_buf page;
    tern_buf_init(&page, SYNC_MAX_BYTES);
    for (size_t i = 0; rc == TERN_OK && i < cv.n; i++) {
        struct conv_item *it = &cv.v[i];
        uint64_t after;
        cJSON *known = hmap_get(&known_map, it->cid, strlen(it->cid));
        if (known) {
            after = (uint64_t)known->valuedouble;
            if (it->last_seq <= after)
                continue;
        } else {
            if (it->last_id <= cursor)
                continue;
            rc = store_seq_at_id(c->loop->reader, c->app, it->key, cursor, &after);
            if (rc != TERN_OK)
                break;
        }
        if (left <= 0 || d.len > SYNC_MAX_BYTES) {
            more = 1;
            break;
        }
        tern_buf_reset(&page);
        /* The page may use what is left of the budget (at least one message's worth):
         * the store stops before the ceiling and says more. */
        page.max = d.len + 16384 < SYNC_MAX_BYTES ? SYNC_MAX_BYTES - d.len : 16384;
        int m = 0;
        uint64_t last = 0;
        rc = store_messages_after_for(c->loop->reader, c->app, it->key, c->user, after, (int)left, &page, &m, &last);
        if (rc != TERN_OK)
            break;
        if (page.len > 2) { /* strip the array brackets and splice */
            if (!first)
                tern_buf_putc(&d, ',');
            tern_buf_append(&d, page.data + 1, page.len - 2);
            first = 0;
            left -= (long long)(last - after);
        }
        if (m)
            more = 1;
    }
    tern_buf_free(&page);
    hmap_free(&known_map);
    for (size_t i = 0; i < cv.n; i++) {
        tern_free(cv.v[i].key);
        tern_free(cv.v[i].cid);
    }
    tern_free(cv.v);
    if (rc != TERN_OK) {
        tern_buf_free(&d);
        return reply_error(q, rc);
    }
    tern_buf_printf(&d, "],\"more\":%s,\"cursor\":", more ? "true" : "false");
    tern_buf_json_u64str(&d, more ? cursor : new_cursor);
    tern_buf_putc(&d, '}');
    reply_ok(q, d.data, d.len);
    tern_buf_free(&d);
}

/* ---- ops in files of their own ------------------------------------------------------ */

static void op_friends(req *q, cJSON *root)
{
    tern_buf d;
    tern_buf_init(&d, 0);
    int rc = session_friends(q->c, root, &d);
    if (rc != TERN_OK)
        reply_error(q, rc);
    else
        reply_ok(q, d.data, d.len);
    tern_buf_free(&d);
}

/* ---- dispatch ----------------------------------------------------------------------- */

static void op_ping(req *q, cJSON *root)
{
    char d[48];
    int n = snprintf(d, sizeof d, "{\"time\":%lld}", (long long)tern_now_ms());
    reply_ok(q, d, (size_t)n);
}

static void op_logout(req *q, cJSON *root)
{
    reply_ok(q, "{}", 2);
    conn_close(q->c, WS_CLOSE_NORMAL, "logout");
}

/* An op whose handler builds its data object elsewhere (session_rcpt.c, ...). */
static void reply_data_op(req *q, cJSON *root, int (*fn)(conn *c, cJSON *root, tern_buf *out))
{
    tern_buf d;
    tern_buf_init(&d, 0);
    int rc = fn(q->c, root, &d);
    if (rc != TERN_OK)
        reply_error(q, rc);
    else
        reply_ok(q, d.data, d.len);
    tern_buf_free(&d);
}

static void op_receipts(req *q, cJSON *root)
{
    reply_data_op(q, root, session_rcpt_counts);
}

static void op_receipt_members(req *q, cJSON *root)
{
    reply_data_op(q, root, session_rcpt_members);
}

typedef struct op_entry {
    const char *name;
    void (*fn)(req *q, cJSON *root);
    int needs_login;
} op_entry;

static const op_entry ops[] = {
    {"send", op_send, 1},
    {"ping", op_ping, 0},
    {"history", op_history, 1},
    {"conversations", op_conversations, 1},
    {"read", op_read, 1},
    {"sync", op_sync, 1},
    {"login", op_login, 0},
    {"logout", op_logout, 0},
    {"receipts", op_receipts, 1},
    {"receiptMembers", op_receipt_members, 1},
    {"getMessages", op_get_messages, 1},
    {"downloadMerger", op_download_merger, 1},
    {"extSet", op_ext_set, 1},
    {"extDelete", op_ext_delete, 1},
    {"extGet", op_ext_get, 1},
    {"friends", op_friends, 1}, /* session_friends.c */
};

void session_on_message(conn *c, char *data, size_t n)
{
    req q = {.c = c, .op = ""};
    tern_buf_init(&q.id, 0);
    cJSON *root;
    int rc = tern_json_parse_request(data, n, &root);
    if (!cJSON_IsObject(root)) {
        /* Not JSON, trailing bytes, a bad escape or not an object: 1001. A \u0000 in op
         * or id: 1003. There is no op or id to echo. */
        reply_error(&q, rc == TERN_OK ? TERN_ERR_BAD_JSON : rc);
        cJSON_Delete(root);
        return;
    }
    cJSON *jop = cJSON_GetObjectItemCaseSensitive(root, "op");
    if (cJSON_IsString(jop) && strlen(jop->valuestring) <= 32)
        q.op = jop->valuestring;
    if (append_id_json(&q.id, cJSON_GetObjectItemCaseSensitive(root, "id")) < 0) {
        tern_buf_reset(&q.id); /* an invalid id is not echoed */
        reply_error(&q, TERN_ERR_BAD_FIELD);
        goto out;
    }
    if (!cJSON_IsString(jop) || rc != TERN_OK) { /* rc: a \u0000 in some other string */
        reply_error(&q, TERN_ERR_BAD_FIELD);
        goto out;
    }
    q.op = jop->valuestring;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].name, q.op) != 0)
            continue;
        if (ops[i].needs_login && !c->logged_in)
            reply_error(&q, TERN_ERR_NOT_LOGGED_IN);
        else
            ops[i].fn(&q, root);
        goto out;
    }
    if (strlen(q.op) > 32)
        q.op = "";
    reply_error(&q, TERN_ERR_UNKNOWN_OP);
out:
    tern_buf_free(&q.id);
    cJSON_Delete(root);
}

void session_on_open(conn *c)
{
    /* A connection that does not log in in time is closed 4002 (docs/protocol.md). */
    int ms = c->loop->srv->cfg.login_timeout * 1000;
    net_conn_set_deadline(conn_net(c), ms > 0 ? ms : 1, WS_CLOSE_AUTH, "login timeout");
}

frame *session_on_overflow(conn *c)
{
    /* Slow consumer: tell it to resync and let it go; its messages are stored. */
    static const char ev[] = "{\"ev\":\"resync\",\"data\":{\"code\":1201}}";
    LOG_WARN("conn %llu (%s): send queue over %zu bytes, closing 4001", (unsigned long long)c->id,
             c->user ? c->user : "-", c->loop->srv->cfg.max_send_queue);
    return frame_text(ev, sizeof ev - 1);
}

void session_on_shutdown(conn *c)
{
    static const char ev[] = "{\"ev\":\"shutdown\",\"data\":{}}";
    conn_send_text(c, ev, sizeof ev - 1);
}

void session_on_close(conn *c)
{
    server *s = c->loop->srv;
    delivery_session_close(s, c->app, c->user, delivery_session_id(s, c->id));
}
