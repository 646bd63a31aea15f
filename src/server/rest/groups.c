/*
 * groups.c — groups of an app: create, get, dismiss, list members, add members (a
 * batch or one), remove one. Every change commits through the store writer and then
 * tells the users whose membership changed with a `conv` event. docs/rest-api.md,
 * "Groups".
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "delivery.h"
#include "groups.h"
#include "rest/rest.h"

#define MAX_BATCH 60

static void group_changed_after(rest_op *r)
{
    /* r->a = group id; r->list = users whose membership changed; r->b = reason. */
    groups_invalidate(r->s, r->x.app.id, r->a);
    delivery_group_event(r->s, r->x.app.id, (const char *const *)r->list, r->nlist, r->a, r->b);
}

/* The answer of every group change: {"groupid":...} and what changed. */
static void finish_group_op(rest_op *r)
{
    if (r->op.result != TERN_OK) {
        rest_reply_err(&r->x, r->op.result);
        return;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"groupid\":");
    tern_buf_json_str(&d, r->a, strlen(r->a));
    if (r->op.kind == STORE_OP_CREATE_GROUP) {
        tern_buf_putc(&d, '}');
    } else if (r->op.kind == STORE_OP_DISMISS_GROUP) {
        tern_buf_puts(&d, ",\"success\":true}");
    } else if (r->nlist == 1 && r->x.user[0]) {
        /* /chatgroups/{group}/users/{user} */
        tern_buf_puts(&d, ",\"user\":");
        tern_buf_json_str(&d, r->list[0], strlen(r->list[0]));
        tern_buf_puts(&d, ",\"result\":true}");
    } else {
        tern_buf_printf(&d, ",\"%s\":%zu}", r->op.kind == STORE_OP_ADD_MEMBERS ? "added" : "removed",
                        r->op.u.group.changed);
    }
    rest_reply_buf(&r->x, TERN_OK, &d);
}

static void group_created_after(rest_op *r)
{
    /* Owner and initial members learn about their new conversation. */
    groups_invalidate(r->s, r->x.app.id, r->a);
    delivery_group_event(r->s, r->x.app.id, (const char *const *)r->list, r->nlist, r->a, "joined");
}

int group_create(rctx *x, const http_msg *m)
{
    strlist ml = {0};
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    cJSON *jm = cJSON_GetObjectItemCaseSensitive(j, "members");
    const char *gid = jstr(j, "groupid"), *name = jstr(j, "groupname"), *owner = jstr(j, "owner");
    int rc = TERN_OK;
    if (!cJSON_IsObject(j) || (gid && !ident(gid)) || (owner && !ident(owner)) || (name && strlen(name) > 256))
        rc = TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK && jm)
        rc = read_user_list(jm, &ml, 2000);
    char gen[24];
    if (rc == TERN_OK && !gid) {
        /* Easemob-style numeric group id, time-ordered. */
        snprintf(gen, sizeof gen, "%llu", (unsigned long long)tern_idgen_next(&rest_server(x)->online_ids));
        gid = gen;
    }
    if (rc != TERN_OK) {
        cJSON_Delete(j);
        strlist_free(&ml);
        rest_reply_err(x, rc);
        return 0;
    }
    /* The list owns every string the op points at, the owner included (appended unless
     * already a member), and group_created_after tells everyone in it once. */
    const char *owner_copy = NULL;
    size_t nmembers = ml.n;
    for (size_t i = 0; owner && i < ml.n && !owner_copy; i++)
        if (!strcmp(ml.v[i], owner))
            owner_copy = ml.v[i];
    if (owner && !owner_copy) {
        strlist_add(&ml, owner);
        owner_copy = ml.v[ml.n - 1];
    }
    rest_op *r = rest_op_new(x, finish_group_op);
    r->a = tern_strdup(gid);
    r->b = tern_strdup(name ? name : gid);
    r->list = ml.v;
    r->nlist = ml.n;
    r->op.kind = STORE_OP_CREATE_GROUP;
    r->op.u.group.group_id = r->a;
    r->op.u.group.name = r->b;
    r->op.u.group.owner = owner_copy;
    r->op.u.group.members = (const char **)r->list;
    r->op.u.group.nmembers = nmembers;
    cJSON_Delete(j); /* gid, name and owner are copied above */
    r->after = group_created_after;
    return rest_submit(r);
}

static int group_get_as(rctx *x, int members)
{
    const char *gid = x->group;
    store_group g;
    int rc = store_group_get(rest_reader(x), x->app.id, gid, &g);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    if (!members) {
        tern_buf_puts(&d, "{\"groupid\":");
        tern_buf_json_str(&d, g.id, strlen(g.id));
        tern_buf_puts(&d, ",\"groupname\":");
        tern_buf_json_str(&d, g.name, strlen(g.name));
        tern_buf_puts(&d, ",\"owner\":");
        tern_buf_json_str(&d, g.owner, strlen(g.owner));
        tern_buf_printf(&d, ",\"created\":%lld,\"affiliations_count\":%llu}", (long long)g.created_ms,
                        (unsigned long long)g.member_count);
    } else {
        strlist l = {0};
        rc = store_group_members(rest_reader(x), x->app.id, gid, strlist_add, &l);
        tern_buf_putc(&d, '[');
        for (size_t i = 0; i < l.n; i++) {
            tern_buf_printf(&d, "%s{\"%s\":", i ? "," : "", strcmp(l.v[i], g.owner) ? "member" : "owner");
            tern_buf_json_str(&d, l.v[i], strlen(l.v[i]));
            tern_buf_putc(&d, '}');
        }
        strlist_free(&l);
        tern_buf_putc(&d, ']');
    }
    rest_reply_buf(x, rc, &d);
    return 0;
}

int group_get(rctx *x, const http_msg *m)
{
    return group_get_as(x, 0);
}

int group_members_get(rctx *x, const http_msg *m)
{
    return group_get_as(x, 1);
}

int group_dismiss(rctx *x, const http_msg *m)
{
    /* The members, who learn that the group is gone. */
    rest_op *r = rest_op_listing(x, finish_group_op, x->group, store_group_members);
    r->b = tern_strdup("dismissed");
    r->op.kind = STORE_OP_DISMISS_GROUP;
    r->op.u.group.group_id = r->a;
    r->after = group_changed_after;
    return rest_submit(r);
}

/* Adds (add = 1) or removes the users of l (owned by the operation from here on). */
static int group_members_change(rctx *x, strlist *l, int add)
{
    rest_op *r = rest_op_new(x, finish_group_op);
    r->a = tern_strdup(x->group);
    r->b = tern_strdup(add ? "joined" : "left");
    r->list = l->v;
    r->nlist = l->n;
    r->op.kind = add ? STORE_OP_ADD_MEMBERS : STORE_OP_REMOVE_MEMBERS;
    r->op.u.group.group_id = r->a;
    r->op.u.group.members = (const char **)r->list;
    r->op.u.group.nmembers = r->nlist;
    r->after = group_changed_after;
    return rest_submit(r);
}

int group_members_add(rctx *x, const http_msg *m)
{
    strlist l = {0};
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    int rc = read_user_list(cJSON_GetObjectItemCaseSensitive(j, "usernames"), &l, MAX_BATCH);
    cJSON_Delete(j);
    if (rc == TERN_OK && l.n == 0)
        rc = TERN_ERR_BAD_FIELD;
    if (rc != TERN_OK) {
        strlist_free(&l);
        rest_reply_err(x, rc);
        return 0;
    }
    return group_members_change(x, &l, 1);
}

static int group_member_one(rctx *x, int add)
{
    strlist l = {0};
    strlist_add(&l, x->user);
    return group_members_change(x, &l, add);
}

int group_member_add(rctx *x, const http_msg *m)
{
    return group_member_one(x, 1);
}

int group_member_remove(rctx *x, const http_msg *m)
{
    return group_member_one(x, 0);
}
