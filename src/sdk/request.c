/*
 * request.c — libtern's request objects (sdk_req): the doubly linked lists that hold them
 * (inflight, outbox) and their encoding as wire requests (docs/protocol.md §4). The
 * message body of `send` comes from the core model (sdk_msg_encode_send). Loop thread.
 */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "sdk/media.h"
#include "sdk/sdk.h"

#define SYNC_PAGE 500

/* ---- lists ---------------------------------------------------------------------- */

void sdk_req_list_push(req_list *l, sdk_req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

void sdk_req_list_push_front(req_list *l, sdk_req *r)
{
    r->prev = NULL;
    r->next = l->head;
    if (l->head)
        l->head->prev = r;
    else
        l->tail = r;
    l->head = r;
    l->n++;
}

void sdk_req_list_unlink(req_list *l, sdk_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

sdk_req *sdk_req_list_pop(req_list *l)
{
    sdk_req *r = l->head;
    if (r)
        sdk_req_list_unlink(l, r);
    return r;
}

void sdk_req_free(sdk_req *r)
{
    if (!r)
        return;
    tern_message_release(r->msg);
    sdk_send_extra_free(r->sx);
    tern_free(r->str);
    sdk_xfer_free(r->xfer);
    tern_free(r);
}

sdk_req *sdk_req_new(int kind)
{
    sdk_req *r = tern_calloc(1, sizeof *r);
    r->kind = kind;
    return r;
}

static void add_convs(void *ud, const char *conv, uint64_t base)
{
    tern_buf *b = ud;
    if (b->data[b->len - 1] != '{')
        tern_buf_putc(b, ',');
    tern_buf_json_str(b, conv, strlen(conv));
    tern_buf_printf(b, ":%" PRIu64, base);
}

const char *sdk_req_op_name(int kind)
{
    switch (kind) {
    case REQ_LOGIN: return "login";
    case REQ_LOGOUT: return "logout";
    case REQ_SEND: return "send";
    case REQ_HISTORY:
    case REQ_STREAM_FETCH: return "history";
    case REQ_CONVS:
    case REQ_CONV_SEED: return "conversations";
    case REQ_READ: return "read";
    case REQ_SYNC: return "sync";
    case REQ_MERGER: return "downloadMerger";
    case REQ_GET_MSGS: return "getMessages";
    default: return "ping";
    }
}

void sdk_req_encode(tern_client *c, sdk_req *r, tern_buf *b)
{
    tern_buf_printf(b, "{\"op\":\"%s\",\"id\":%" PRIu64, r->kind == REQ_RAW ? r->op : sdk_req_op_name(r->kind), r->id);
    switch (r->kind) {
    case REQ_LOGIN:
        tern_buf_puts(b, ",\"app\":");
        tern_buf_json_str(b, c->app, strlen(c->app));
        tern_buf_puts(b, ",\"user\":");
        tern_buf_json_str(b, c->user, strlen(c->user));
        tern_buf_puts(b, ",\"token\":");
        tern_buf_json_str(b, c->token, strlen(c->token));
        if (c->device) {
            tern_buf_puts(b, ",\"device\":");
            tern_buf_json_str(b, c->device, strlen(c->device));
        }
        tern_buf_puts(b, ",\"platform\":");
        tern_buf_json_str(b, c->platform, strlen(c->platform));
        break;
    case REQ_SEND: sdk_msg_encode_send(b, r->msg, r->sx); break;
    case REQ_GET_MSGS:
    case REQ_RAW: /* the members of a checked JSON object: between its braces */
        if (r->str && r->str[0] == '{' && strcmp(r->str, "{}") != 0) {
            tern_buf_putc(b, ',');
            tern_buf_append(b, r->str + 1, strlen(r->str) - 2);
        }
        break;
    case REQ_MERGER: tern_buf_printf(b, ",\"msgId\":\"%" PRIu64 "\"", r->num); break;
    case REQ_HISTORY:
    case REQ_STREAM_FETCH:
        tern_buf_puts(b, ",\"conversationID\":");
        tern_buf_json_str(b, r->str, strlen(r->str));
        tern_buf_printf(b, ",\"beforeSeq\":%" PRIu64 ",\"limit\":%u", r->num, r->limit);
        break;
    case REQ_CONVS:
    case REQ_CONV_SEED: tern_buf_printf(b, ",\"limit\":%u", r->limit); break;
    case REQ_READ:
        tern_buf_puts(b, ",\"conversationID\":");
        tern_buf_json_str(b, r->str, strlen(r->str));
        tern_buf_printf(b, ",\"seq\":%" PRIu64, r->num);
        break;
    case REQ_SYNC:
        if (c->cursor[0]) {
            tern_buf_puts(b, ",\"cursor\":");
            tern_buf_json_str(b, c->cursor, strlen(c->cursor));
        }
        tern_buf_puts(b, ",\"convs\":{");
        sdk_seqset_foreach_anchored(&c->seen, add_convs, b);
        tern_buf_printf(b, "},\"limit\":%d", SYNC_PAGE);
        break;
    default: break;
    }
    tern_buf_putc(b, '}');
}
