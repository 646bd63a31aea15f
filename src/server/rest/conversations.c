/*
 * conversations.c — a user's conversations (the `conversations` list of
 * docs/protocol.md) and the history of one of them (`history`), read on the loop.
 * docs/rest-api.md, "Users".
 */
#include <string.h>

#include "groups.h"
#include "rest/rest.h"
#include "session.h"

int session_conversations_json(store_reader *r, int64_t app, const char *user, int limit, tern_buf *out);

static const rest_query_spec q_conv_limit = {"limit", 15, 1, 1, 500};
static const rest_query_spec q_before = {"beforeSeq", 23, 0, 0, UINT64_MAX};
static const rest_query_spec q_hist_limit = {"limit", 23, 0, 1, 100};

int user_conversations(rctx *x, const http_msg *m)
{
    uint64_t limit = 100;
    if (rest_query_uint(x, m, &q_conv_limit, &limit) < 0)
        return 0;
    if (!require_user(x, x->user))
        return 0;
    tern_buf d;
    tern_buf_init(&d, 0);
    int rc = session_conversations_json(rest_reader(x), x->app.id, x->user, (int)limit, &d);
    rest_reply_buf(x, rc, &d);
    return 0;
}

int user_history(rctx *x, const http_msg *m)
{
    const char *user = x->user, *cid = x->conv;
    uint64_t before = 0, limit = 20;
    if (rest_query_uint(x, m, &q_before, &before) < 0 || rest_query_uint(x, m, &q_hist_limit, &limit) < 0)
        return 0;
    char key[160], peer[80];
    int is_group;
    int rc = conv_parse(cid, strlen(cid), user, key, sizeof key, &is_group, peer, sizeof peer);
    if (rc == TERN_OK && is_group) {
        int err = 0;
        group_snap *g = groups_get(rest_server(x), rest_reader(x), x->app.id, peer, &err);
        if (!g)
            rc = err;
        else {
            rc = group_snap_has(g, user) ? TERN_OK : TERN_ERR_FORBIDDEN;
            group_snap_unref(g);
        }
    }
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"messages\":");
    int more = 0;
    rc = store_history_for(rest_reader(x), x->app.id, key, user, before, (int)limit, &d, &more);
    tern_buf_printf(&d, ",\"more\":%s}", more ? "true" : "false");
    rest_reply_buf(x, rc, &d);
    return 0;
}
