/*
 * friends.c — friends of a user over REST, in Easemob's contact shapes
 * (docs/rest-api.md "Friends"; easemob-doc user_relationship.md):
 *   POST   /{org}/{app}/users/{user}/contacts/users/{friend}  add (both ways)
 *   DELETE /{org}/{app}/users/{user}/contacts/users/{friend}  remove (both ways)
 *   GET    /{org}/{app}/users/{user}/contacts/users           the list
 * POST and DELETE answer "entities":[<the friend as a user entity>]; GET answers
 * "entities":[],"data":["bob",...],"count":N. Friendship is symmetric, as Easemob's add
 * ("双向添加"): adding makes each the other's friend, removing undoes both. A user has at
 * most STORE_FRIENDS_MAX friends (1060). Clients read their list with the WebSocket op
 * `friends`; the app setting friendCheck makes C2C between non-friends fail with 20009.
 */
#include <string.h>

#include "core/alloc.h"
#include "friends.h"
#include "rest/rest.h"

static void entity_row(void *ud, const store_user *u)
{
    rest_user_entity(ud, u);
}

/* The stored ids of the path's two users into owner and other; 0 after answering
 * (1003 a friend segment that is not an identifier, 20003, 1061 the same user, 5002). */
static int path_pair(rctx *x, char owner[65], char other[65])
{
    int f = rest_find_user(x, x->user, owner);
    int g = f == 1 && ident(x->conv) ? rest_find_user(x, x->conv, other) : f == 1 ? -2 : f;
    if (f < 0 || g == -1)
        rest_reply_err(x, TERN_ERR_STORE);
    else if (g == -2)
        rest_reply_err(x, TERN_ERR_BAD_FIELD);
    else if (f == 0 || g == 0)
        rest_reply_err_desc(x, TERN_ERR_USER_NOT_FOUND, NULL, "Service resource not found");
    else if (!strcmp(owner, other))
        rest_reply_err(x, TERN_ERR_FRIEND_SELF);
    else
        return 1;
    return 0;
}

static void finish_entity(rest_op *r)
{
    rest_finish_members(r, "\"entities\":[", "]");
}

static int change(rctx *x, store_op_kind kind)
{
    char owner[65], other[65];
    if (!path_pair(x, owner, other))
        return 0;
    rest_op *r = rest_op_new(x, finish_entity);
    int rc = store_user_get(rest_reader(x), x->app.id, other, entity_row, &r->out);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        rest_op_free(r);
        return 0;
    }
    r->a = tern_strdup(owner);
    r->b = tern_strdup(other);
    r->op.kind = kind;
    r->op.u.friends.user = r->a;
    r->op.u.friends.other = r->b;
    r->op.u.friends.created_ms = x->start_ms;
    return rest_submit(r);
}

int friend_add(rctx *x, const http_msg *m)
{
    (void)m;
    return change(x, STORE_OP_FRIEND_ADD);
}

int friend_delete(rctx *x, const http_msg *m)
{
    (void)m;
    return change(x, STORE_OP_FRIEND_DELETE);
}

int friends_get(rctx *x, const http_msg *m)
{
    (void)m;
    char owner[65];
    int f = rest_find_user(x, x->user, owner);
    if (f != 1) {
        if (f < 0)
            rest_reply_err(x, TERN_ERR_STORE);
        else
            rest_reply_err_desc(x, TERN_ERR_USER_NOT_FOUND, NULL, "Service resource not found");
        return 0;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "\"entities\":[],\"data\":");
    size_t n = 0;
    int rc = friends_list_json(rest_reader(x), x->app.id, owner, &d, &n);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
    } else {
        tern_buf_printf(&d, ",\"count\":%zu", n);
        rest_reply_members(x, d.data, d.len);
    }
    tern_buf_free(&d);
    return 0;
}
