/*
 * groups.c — groups of an app: create (Easemob's fields: groupname, description, public,
 * maxusers, allowinvites, membersonly, invite_need_confirm, owner, members, custom, plus
 * Tern's optional groupid), get, dismiss, list members, add members (a batch or one,
 * never past maxusers), remove one. Every change commits through the store writer and then
 * tells the users whose membership changed with a `conv` event. docs/rest-api.md,
 * "Groups".
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "delivery.h"
#include "groups.h"
#include "rest/rest.h"

#define MAX_BATCH 60
/* Easemob's limits on a created group (docs/rest-api.md). */
#define MAX_GROUPNAME 128
#define MAX_DESCRIPTION 512
#define MAX_CUSTOM 1024
#define MAX_CREATE_MEMBERS 100
#define DEFAULT_MAXUSERS 200
#define MAX_MAXUSERS 100000

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
    if (r->op.kind == STORE_OP_DISMISS_GROUP) {
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

/* Easemob's answer to a create: no entities, data {"groupid"}. */
static void finish_group_created(rest_op *r)
{
    tern_buf_json_str(&r->out, r->a, strlen(r->a));
    rest_finish_members(r, "\"entities\":[],\"data\":{\"groupid\":", "}");
}

/* What a create request says beyond ids and members (docs/rest-api.md, "Groups"). */
typedef struct group_fields {
    const char *description;
    int is_public;
    int64_t maxusers;
    char *attrs; /* cJSON-printed object of the kept flags and custom, or NULL */
} group_fields;

/* Reads and checks Easemob's fields of j (an object) into gf: TERN_OK, 1003 or 1012
 * (a key this server does not know: refused, never dropped). */
static int read_group_fields(cJSON *j, group_fields *gf)
{
    static const char *const known[] = {"groupid",  "groupname",    "description", "public",
                                        "maxusers", "allowinvites", "membersonly", "invite_need_confirm",
                                        "owner",    "members",      "custom"};
    static const char *const flags[] = {"allowinvites", "membersonly", "invite_need_confirm"};
    if (!tern_json_only_keys(j, known, sizeof known / sizeof known[0]))
        return TERN_ERR_NOT_SUPPORTED;
    cJSON *desc = cJSON_GetObjectItemCaseSensitive(j, "description");
    cJSON *pub = cJSON_GetObjectItemCaseSensitive(j, "public");
    cJSON *max = cJSON_GetObjectItemCaseSensitive(j, "maxusers");
    cJSON *custom = cJSON_GetObjectItemCaseSensitive(j, "custom");
    if ((desc && (!cJSON_IsString(desc) || strlen(desc->valuestring) > MAX_DESCRIPTION)) ||
        (pub && !cJSON_IsBool(pub)) ||
        (max && (!cJSON_IsNumber(max) || !(max->valuedouble >= 1 && max->valuedouble <= MAX_MAXUSERS) ||
                 max->valuedouble != (double)(int64_t)max->valuedouble)) || /* the cast after the range */
        (custom && (!cJSON_IsString(custom) || strlen(custom->valuestring) > MAX_CUSTOM)))
        return TERN_ERR_BAD_FIELD;
    gf->description = desc ? desc->valuestring : "";
    gf->is_public = cJSON_IsTrue(pub);
    gf->maxusers = max ? (int64_t)max->valuedouble : DEFAULT_MAXUSERS;
    cJSON *attrs = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        cJSON *f = cJSON_GetObjectItemCaseSensitive(j, flags[i]);
        if (f && !cJSON_IsBool(f)) {
            cJSON_Delete(attrs);
            return TERN_ERR_BAD_FIELD;
        }
        if (f)
            cJSON_AddBoolToObject(attrs, flags[i], cJSON_IsTrue(f));
    }
    if (custom)
        cJSON_AddStringToObject(attrs, "custom", custom->valuestring);
    gf->attrs = cJSON_GetArraySize(attrs) ? cJSON_PrintUnformatted(attrs) : NULL;
    cJSON_Delete(attrs);
    return TERN_OK;
}

int group_create(rctx *x, const http_msg *m)
{
    strlist ml = {0};
    group_fields gf = {0};
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    cJSON *jm = cJSON_GetObjectItemCaseSensitive(j, "members");
    const char *gid = jstr(j, "groupid"), *name = jstr(j, "groupname"), *owner = jstr(j, "owner");
    int rc = cJSON_IsObject(j) ? read_group_fields(j, &gf) : TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK && ((gid && !ident(gid)) || !ident(owner) || !name || strlen(name) > MAX_GROUPNAME))
        rc = TERN_ERR_BAD_FIELD;
    if (rc == TERN_OK && jm)
        rc = read_user_list(jm, &ml, MAX_CREATE_MEMBERS);
    /* The owner is a member (listed again or not); the rest must fit under maxusers. */
    size_t others = 0;
    for (size_t i = 0; rc == TERN_OK && i < ml.n; i++) {
        int dup = !strcmp(ml.v[i], owner);
        for (size_t k = 0; k < i && !dup; k++)
            dup = !strcmp(ml.v[k], ml.v[i]);
        others += !dup;
    }
    if (rc == TERN_OK && (int64_t)others + 1 > gf.maxusers)
        rc = TERN_ERR_GROUP_FULL;
    char gen[24];
    if (rc == TERN_OK && !gid) {
        /* Easemob-style numeric group id, time-ordered. */
        snprintf(gen, sizeof gen, "%llu", (unsigned long long)tern_idgen_next(&rest_server(x)->online_ids));
        gid = gen;
    }
    if (rc != TERN_OK) {
        cJSON_Delete(j);
        strlist_free(&ml);
        if (gf.attrs)
            cJSON_free(gf.attrs);
        rest_reply_err(x, rc);
        return 0;
    }
    /* The list owns every string the op points at, the owner included (appended unless
     * already a member), and group_created_after tells everyone in it once. */
    const char *owner_copy = NULL;
    size_t nmembers = ml.n;
    for (size_t i = 0; i < ml.n && !owner_copy; i++)
        if (!strcmp(ml.v[i], owner))
            owner_copy = ml.v[i];
    if (!owner_copy) {
        strlist_add(&ml, owner);
        owner_copy = ml.v[ml.n - 1];
    }
    rest_op *r = rest_op_new(x, finish_group_created);
    r->a = tern_strdup(gid);
    r->b = tern_strdup(name);
    /* description and attrs in one block, "<description>\0<attrs>\0", freed with r. */
    size_t dl = strlen(gf.description), al = gf.attrs ? strlen(gf.attrs) : 0;
    char *texts = tern_malloc(dl + al + 2);
    memcpy(texts, gf.description, dl + 1);
    memcpy(texts + dl + 1, gf.attrs ? gf.attrs : "", al + 1);
    if (gf.attrs)
        cJSON_free(gf.attrs);
    r->ud = texts;
    r->free_ud = tern_free;
    r->list = ml.v;
    r->nlist = ml.n;
    r->op.kind = STORE_OP_CREATE_GROUP;
    r->op.u.group.group_id = r->a;
    r->op.u.group.name = r->b;
    r->op.u.group.owner = owner_copy;
    r->op.u.group.members = (const char **)r->list;
    r->op.u.group.nmembers = nmembers;
    r->op.u.group.description = texts;
    r->op.u.group.is_public = gf.is_public;
    r->op.u.group.maxusers = gf.maxusers;
    r->op.u.group.attrs = al ? texts + dl + 1 : NULL;
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
        tern_buf_printf(&d, ",\"created\":%lld,\"affiliations_count\":%llu,\"description\":", (long long)g.created_ms,
                        (unsigned long long)g.member_count);
        tern_buf_json_str(&d, g.description, strlen(g.description));
        tern_buf_printf(&d, ",\"public\":%s", g.is_public ? "true" : "false");
        if (g.maxusers > 0)
            tern_buf_printf(&d, ",\"maxusers\":%lld", (long long)g.maxusers);
        /* The other Easemob fields it was created with, as stored (a JSON object). */
        size_t an = strlen(g.attrs);
        if (an > 2 && g.attrs[0] == '{' && g.attrs[an - 1] == '}') {
            tern_buf_putc(&d, ',');
            tern_buf_append(&d, g.attrs + 1, an - 2);
        }
        tern_buf_putc(&d, '}');
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
