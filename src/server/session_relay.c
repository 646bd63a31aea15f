/*
 * session_relay.c — issue 10's WebSocket ops of H2 (docs/protocol.md §3): getMessages
 * (stored messages by id, as the user may see them), downloadMerger (a merger's stored
 * list, merger.h) and message extensions — extSet, extDelete, extGet — on messages sent
 * with isSupportExtension (Tencent's message extensions).
 *
 * Extensions: the rules and the shared parts are msgext.h's; here the WebSocket answer
 * (on the writer, to the requesting connection).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/conv.h"
#include "core/json.h"
#include "core/util.h"
#include "delivery.h"
#include "groups.h"
#include "merger.h"
#include "msgext.h"
#include "msgget.h"
#include "session_ops.h"
#include "tern/errors.h"

#define GETMSG_MAX 100 /* ids per getMessages */

/* A message id member: a decimal string (or number) → *id; 0 or -1. */
static int get_msg_id(const cJSON *root, uint64_t *id)
{
    return tern_json_get_u64(root, "msgId", id) == TERN_JSON_OK && *id ? 0 : -1;
}

/* ---- getMessages -------------------------------------------------------------------- */

void op_get_messages(req *q, cJSON *root)
{
    conn *c = q->c;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "msgIds"), *e;
    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0)
        return session_reply_error(q, TERN_ERR_BAD_FIELD);
    if (cJSON_GetArraySize(ids) > GETMSG_MAX)
        return session_reply_error(q, TERN_ERR_TOO_MANY);
    cJSON_ArrayForEach(e, ids)
    {
        if (!tern_elem_merger_entry_id(e) || cJSON_IsObject(e))
            return session_reply_error(q, TERN_ERR_BAD_FIELD);
    }
    tern_buf d, missing;
    tern_buf_init(&d, 0);
    tern_buf_init(&missing, 0);
    tern_buf_puts(&d, "{\"messages\":[");
    int rc = TERN_OK, n = 0;
    cJSON_ArrayForEach(e, ids)
    {
        size_t at = d.len;
        if (n)
            tern_buf_putc(&d, ',');
        rc = msg_get_visible(c->loop->srv, c->loop->reader, c->app, c->user, strtoull(e->valuestring, NULL, 10), &d,
                             NULL);
        if (rc == TERN_ERR_NOT_FOUND) {
            d.len = at;
            tern_buf_puts(&missing, missing.len ? ",\"" : "\"");
            tern_buf_puts(&missing, e->valuestring); /* digits: no escaping */
            tern_buf_putc(&missing, '"');
            rc = TERN_OK;
            continue;
        }
        if (rc != TERN_OK)
            break;
        n++;
    }
    if (rc == TERN_OK) {
        tern_buf_puts(&d, "],\"notFound\":[");
        tern_buf_append(&d, missing.data, missing.len);
        tern_buf_puts(&d, "]}");
        session_reply_ok(q, d.data, d.len);
    } else {
        session_reply_error(q, rc);
    }
    tern_buf_free(&d);
    tern_buf_free(&missing);
}

/* ---- downloadMerger ----------------------------------------------------------------- */

void op_download_merger(req *q, cJSON *root)
{
    conn *c = q->c;
    uint64_t id;
    if (get_msg_id(root, &id) < 0)
        return session_reply_error(q, TERN_ERR_BAD_FIELD);
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"msgId\":");
    tern_buf_json_u64str(&d, id);
    tern_buf_puts(&d, ",\"messageList\":");
    int rc = merger_download(c->loop->srv, c->loop->reader, c->app, c->user, id, &d);
    if (rc == TERN_OK) {
        tern_buf_putc(&d, '}');
        session_reply_ok(q, d.data, d.len);
    } else {
        session_reply_error(q, rc);
    }
    tern_buf_free(&d);
}

/* ---- extensions (msgext.h) ------------------------------------------------------------ */

/* Writer thread: answer the requester, tell the others. */
static void ext_done(store_op *op)
{
    ext_req *x = op->ud;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf id = {.data = x->reply_id, .len = x->reply_id ? strlen(x->reply_id) : 0};
    session_resp_head(&b, x->re, &id, op->result);
    if (op->result == TERN_OK) {
        tern_buf_puts(&b, ",\"data\":");
        msgext_put_results(&b, x);
    }
    tern_buf_putc(&b, '}');
    session_push_reply(x->s, x->loop, x->conn, &b);
    tern_buf_free(&b);
    if (op->result == TERN_OK)
        msgext_events(x);
    msgext_free(x);
}

static void ext_write(req *q, cJSON *root, int del)
{
    conn *c = q->c;
    server *s = c->loop->srv;
    uint64_t id;
    if (get_msg_id(root, &id) < 0)
        return session_reply_error(q, TERN_ERR_BAD_FIELD);
    ext_req *x = tern_calloc(1, sizeof *x);
    int rc = msgext_parse(root, del, x);
    if (rc == TERN_OK)
        rc = msgext_target(s, c->loop->reader, c->app, c->user, id, x);
    if (rc != TERN_OK) {
        msgext_free(x);
        return session_reply_error(q, rc);
    }
    msgext_op(x, s, c->app, id, ext_done);
    x->loop = c->loop->index;
    x->conn = c->id;
    x->session = delivery_session_id(s, c->id);
    x->re = del ? "extDelete" : "extSet";
    x->reply_id = q->id.len ? tern_strndup(q->id.data, q->id.len) : NULL;
    rc = atomic_load(&s->shutting_down) ? TERN_ERR_SHUTTING_DOWN : store_submit(s->st, &x->op);
    if (rc != TERN_OK) {
        msgext_free(x);
        session_reply_error(q, rc);
    }
}

void op_ext_set(req *q, cJSON *root)
{
    ext_write(q, root, 0);
}

void op_ext_delete(req *q, cJSON *root)
{
    ext_write(q, root, 1);
}

void op_ext_get(req *q, cJSON *root)
{
    conn *c = q->c;
    uint64_t id;
    if (get_msg_id(root, &id) < 0)
        return session_reply_error(q, TERN_ERR_BAD_FIELD);
    int rc = msgext_target(c->loop->srv, c->loop->reader, c->app, c->user, id, NULL);
    if (rc != TERN_OK)
        return session_reply_error(q, rc);
    tern_buf d;
    tern_buf_init(&d, 0);
    rc = msgext_put_list(c->loop->reader, c->app, id, &d);
    if (rc == TERN_OK)
        session_reply_ok(q, d.data, d.len);
    else
        session_reply_error(q, rc);
    tern_buf_free(&d);
}
