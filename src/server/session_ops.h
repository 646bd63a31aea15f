/*
 * session_ops.h — what session.c shares with the files that hold more of its WebSocket
 * ops (session_relay.c, ...): the request being answered and the ways to answer it.
 * Everything here runs on the connection's loop thread except session_push_reply,
 * which any thread may call.
 */
#ifndef TERN_SESSION_OPS_H
#define TERN_SESSION_OPS_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "core/buf.h"

typedef struct req {
    conn *c;
    const char *op;
    tern_buf id; /* the request id as JSON, empty if none */
} req;

/* Answers {"re":op,"id":..,"code":code,"message":..}. */
void session_reply_error(req *q, int code);
/* Answers {"re":op,"id":..,"code":0,"message":"OK","data":<data[0..n)>}. */
void session_reply_ok(req *q, const char *data, size_t n);
/* Appends the response head up to the message (no "data", no closing brace). */
void session_resp_head(tern_buf *b, const char *op, const tern_buf *id, int code);
/* Carries a response built off the loop (the store writer) to connection conn_id of
 * loop `loop`. Thread-safe. */
void session_push_reply(server *s, int loop, uint64_t conn_id, tern_buf *b);

/* session_relay.c (issue 10, H2; docs/protocol.md §3): getMessages, downloadMerger and
 * the message extension ops. */
void op_get_messages(req *q, cJSON *root);
void op_download_merger(req *q, cJSON *root);
void op_ext_set(req *q, cJSON *root);
void op_ext_delete(req *q, cJSON *root);
void op_ext_get(req *q, cJSON *root);

#endif
