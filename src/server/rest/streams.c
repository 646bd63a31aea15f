/*
 * streams.c — streamed messages over REST (Easemob seed 002):
 * POST /{org}/{app}/stream_message/chatgroup (to a group) and /stream_message/users
 * (to a user; Easemob's single-chat page also writes /stream_message/user, served the
 * same). The app's request rate is taken first; the body is parsed by core/stream.h and
 * the chunk handed to stream.c, which answers once the chunk is durable.
 * docs/rest-api.md, "Streamed messages".
 */
#include <string.h>

#include "core/alloc.h"
#include "core/stream.h"
#include "rest/rest.h"
#include "stream.h"

static void finish_stream(rest_op *r)
{
    if (r->op.result != TERN_OK) {
        rest_reply_err(&r->x, r->op.result);
        return;
    }
    rest_reply_out_wrapped(r, '{', '}');
}

/* stream.c's answer: on the writer (or right away for a stream that stores nothing). */
static void stream_answer(void *ud, int code, uint64_t msg_id)
{
    rest_op *r = ud;
    r->op.result = code;
    if (code == TERN_OK) {
        tern_buf_puts(&r->out, "\"msgId\":");
        tern_buf_json_u64str(&r->out, msg_id);
    }
    rest_op_done(r);
}

static int stream_send(rctx *x, const http_msg *m, int is_group)
{
    server *s = rest_server(x);
    /* Every request counts against the rate, and one past it changes nothing. */
    int rc = stream_rate_take(s, x->app.id);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    if (!is_group) /* Easemob answers both single-chat forms with this path */
        snprintf(x->rel, sizeof x->rel, "/stream_message/users");
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    tern_stream_req q;
    rc = tern_stream_req_parse(j, &q);
    if (rc == TERN_OK) {
        rest_op *r = rest_op_new(x, finish_stream);
        rc = stream_post(s, rest_reader(x), x->app.id, is_group, &q, stream_answer, r);
        if (rc == TERN_OK) {
            cJSON_Delete(j);
            return 1;
        }
        rest_op_free(r);
    }
    cJSON_Delete(j);
    rest_reply_err(x, rc);
    return 0;
}

int stream_send_group(rctx *x, const http_msg *m)
{
    return stream_send(x, m, 1);
}

int stream_send_user(rctx *x, const http_msg *m)
{
    return stream_send(x, m, 0);
}
