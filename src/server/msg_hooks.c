/*
 * msg_hooks.c — a message's webhooks (issue 10), between msg.c's path and the webhook
 * thread (hooks/webhook.h): the before-send callback that holds a message until the
 * app's backend allows, denies (10016) or rewrites it, and, after commit, the after-send
 * callback and the offline push. Declared in msg.h.
 *
 * Cost: an app without hooks costs one atomic load per message (webhook_apps_hooked).
 * For a hooked app the message reads its settings once at dispatch (msg_hook_cfg, kept
 * with the request), so the writer, which runs msg_hooks_sent after commit, reads
 * nothing and only copies the stored JSON into the request it queues. Presence (who
 * gets a push) is resolved on the webhook thread, never on the writer.
 *
 * Bodies (docs/rest-api.md "Webhooks"):
 *   beforeSend  {"event":"beforeSend","app":"org/app","message":{fields}}
 *               answer {"action":"allow"} | {"action":"deny"} |
 *                      {"action":"rewrite","payload":{...},"cloudCustomData":"..."}
 *   afterSend   {"event":"afterSend","app":"org/app","message":<stored message>}
 *   push        {"event":"push","app":..,"msgId":..,"conversationType":..,"from":..,
 *                "to":..,"recipients":[offline users],"summary":..,"title":..,
 *                "description":..,"extension":..,"ignoreIOSBadge":..,
 *                "androidOPPOChannelID":..}
 */
#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/message.h"
#include "hooks/moderation.h"
#include "hooks/webhook.h"
#include "msg.h"

struct msg_hook_cfg {
    int before, after, push, deny_on_failure;
    int timeout_ms;
    char app_key[131];
    char key[129]; /* the HMAC key: callbackSecret, else the client secret */
    char callback_url[APP_URL_MAX + 1];
    char push_url[APP_URL_MAX + 1];
};

static void read_cfg(const app_info *a, void *arg)
{
    msg_hook_cfg *c = arg;
    const app_settings *st = &a->settings;
    memset(c, 0, sizeof *c);
    c->before = st->callback_url[0] && st->before_send;
    c->after = st->callback_url[0] && st->after_send;
    c->push = st->push_url[0] != 0;
    c->deny_on_failure = !strcmp(st->callback_on_failure, "deny");
    c->timeout_ms = st->callback_timeout_ms ? (int)st->callback_timeout_ms : 2000;
    snprintf(c->app_key, sizeof c->app_key, "%s", a->key);
    snprintf(c->key, sizeof c->key, "%s", st->callback_secret[0] ? st->callback_secret : a->secret);
    snprintf(c->callback_url, sizeof c->callback_url, "%s", st->callback_url);
    snprintf(c->push_url, sizeof c->push_url, "%s", st->push_url);
}

void msg_hook_cfg_free(msg_hook_cfg *c)
{
    tern_free(c);
}

/* ---- before-send ------------------------------------------------------------------- */

static void finish(send_req *r, int code)
{
    r->op.result = code;
    r->complete(r);
}

static void go_on(send_req *r)
{
    int rc = msg_dispatch_continue(r);
    if (rc != TERN_OK)
        finish(r, rc);
}

/* Takes the backend's payload and/or cloudCustomData into r->fields, validated by the
 * core model as a client's message would be. TERN_OK, the model's code (80002, 1003,
 * ...), or -1 when the answer cannot apply (a media message: its stored payload is the
 * server's completion, not a client's). */
static int rewrite(send_req *r, const cJSON *ans)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(ans, "payload");
    const cJSON *ccd = cJSON_GetObjectItemCaseSensitive(ans, "cloudCustomData");
    if ((p && !cJSON_IsObject(p)) || (ccd && !cJSON_IsString(ccd)) || (!p && !ccd))
        return -1;
    cJSON *f = moderation_fields_parse(r->fields, r->fields_len);
    if (!f)
        return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(f, "from");
    cJSON_DeleteItemFromObjectCaseSensitive(f, MSG_FLAG_NO_UNREAD); /* msg_fields_flags adds them again */
    cJSON_DeleteItemFromObjectCaseSensitive(f, MSG_FLAG_NO_LAST);
    if (p)
        cJSON_ReplaceItemInObjectCaseSensitive(f, "payload", cJSON_Duplicate(p, 1));
    if (ccd)
        cJSON_ReplaceItemInObjectCaseSensitive(f, "cloudCustomData", cJSON_CreateString(ccd->valuestring));
    tern_msg m;
    int rc = tern_msg_parse_send(f, &m);
    if (rc == TERN_OK && m.elem->media)
        rc = -1;
    if (rc == TERN_OK) {
        tern_buf b;
        tern_buf_init(&b, 0);
        if (tern_msg_encode_fields(&b, &m, r->sender, strlen(r->sender)) != 0) {
            tern_buf_free(&b);
            rc = TERN_ERR_INTERNAL;
        } else {
            tern_free(r->fields);
            r->fields = tern_buf_steal(&b, &r->fields_len);
            if (msg_fields_flags(r) != 0)
                rc = TERN_ERR_INTERNAL;
        }
    }
    tern_msg_clear(&m);
    cJSON_Delete(f);
    return rc;
}

static void before_done(void *ud, int status, const char *body, size_t n)
{
    send_req *r = ud;
    int deny = r->hcfg->deny_on_failure;
    cJSON *j = status >= 200 && status < 300 && body ? cJSON_ParseWithLength(body, n) : NULL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "action");
    const char *act = cJSON_IsString(a) ? a->valuestring : NULL;
    if (act && !strcmp(act, "allow")) {
        cJSON_Delete(j);
        return go_on(r);
    }
    if (act && !strcmp(act, "deny")) {
        cJSON_Delete(j);
        return finish(r, TERN_ERR_CALLBACK_REJECTED);
    }
    if (act && !strcmp(act, "rewrite")) {
        int rc = rewrite(r, j);
        cJSON_Delete(j);
        if (rc == TERN_OK)
            return go_on(r);
        if (rc > 0) /* the rewritten message breaks a rule of the model */
            return finish(r, rc);
    } else {
        cJSON_Delete(j);
        if (status)
            LOG_WARN("before-send callback of %s: answer %d without a known action", r->hcfg->app_key, status);
    }
    /* Down, slow, or an answer that says nothing: callbackOnFailure. */
    if (deny)
        finish(r, TERN_ERR_CALLBACK_REJECTED);
    else
        go_on(r);
}

static char *wrap(const char *event, const char *app_key, const char *msg, size_t n, int braces, size_t *out_n)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_printf(&b, "{\"event\":\"%s\",\"app\":", event);
    tern_buf_json_str(&b, app_key, strlen(app_key));
    tern_buf_puts(&b, ",\"message\":");
    if (braces)
        tern_buf_putc(&b, '{');
    tern_buf_append(&b, msg, n);
    if (braces)
        tern_buf_putc(&b, '}');
    tern_buf_putc(&b, '}');
    return tern_buf_steal(&b, out_n);
}

int msg_hooks_before_send(send_req *r, int *rc)
{
    server *s = r->s;
    if (!webhook_apps_hooked(s))
        return 0;
    /* Read on the stack: a message of an app without hooks allocates nothing. */
    msg_hook_cfg tmp;
    if (apps_with_id(s, r->app, read_cfg, &tmp) != 0 || (!tmp.before && !tmp.after && !tmp.push))
        return 0;
    msg_hook_cfg *c = tern_malloc(sizeof *c);
    *c = tmp;
    r->hcfg = c;
    if (!c->before)
        return 0;
    wh_request rq = {.kind = WH_BEFORE_SEND,
                     .url = c->callback_url,
                     .secret = c->key,
                     .app_key = c->app_key,
                     .timeout_ms = c->timeout_ms,
                     .sync = 1,
                     .done = before_done,
                     .ud = r};
    rq.body = wrap("beforeSend", c->app_key, r->fields, r->fields_len, 1, &rq.body_n);
    if (webhook_submit(s, &rq) == TERN_OK) {
        *rc = TERN_OK;
        return 1;
    }
    tern_free(rq.body);
    if (!c->deny_on_failure)
        return 0;
    *rc = TERN_ERR_CALLBACK_REJECTED;
    return 1;
}

/* ---- after commit: after-send and the offline push ---------------------------------- */

/* A push on its way: the recipients are a group's membership snapshot (a reference, no
 * copy: the writer does nothing per member) or a copied list (the C2C peer, a
 * receiverList of at most 50), the sender being left out on the webhook thread. */
typedef struct push_job {
    int64_t app;
    char *json; /* the stored message */
    size_t json_n;
    char *push_json; /* offlinePushInfo, or NULL */
    char *sender;
    group_snap *snap; /* referenced, or NULL */
    char **users;     /* owned copies when snap is NULL */
    size_t nusers;
    char app_key[131];
} push_job;

static void push_job_free(void *ud)
{
    push_job *p = ud;
    if (p->snap)
        group_snap_unref(p->snap);
    else
        for (size_t i = 0; i < p->nusers; i++)
            tern_free(p->users[i]);
    if (!p->snap)
        tern_free(p->users);
    tern_free(p->json);
    tern_free(p->push_json);
    tern_free(p->sender);
    tern_free(p);
}

static const char *summary_of(const cJSON *msg)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "type");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "payload");
    const char *type = cJSON_IsString(t) ? t->valuestring : "";
    static const struct {
        const char *type, *text;
    } tags[] = {{"TIMImageElem", "[image]"},       {"TIMSoundElem", "[voice]"}, {"TIMVideoFileElem", "[video]"},
                {"TIMFileElem", "[file]"},         {"TIMFaceElem", "[face]"},   {"TIMLocationElem", "[location]"},
                {"TIMRelayElem", "[chat history]"}};
    if (!strcmp(type, "TIMTextElem") || !strcmp(type, "TIMCustomElem")) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, !strcmp(type, "TIMTextElem") ? "text" : "description");
        return cJSON_IsString(v) ? v->valuestring : "";
    }
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (!strcmp(type, tags[i].type))
            return tags[i].text;
    return "[message]";
}

static void put_str_member(tern_buf *b, const char *name, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    tern_buf_printf(b, ",\"%s\":", name);
    if (cJSON_IsString(v))
        tern_buf_json_str(b, v->valuestring, strlen(v->valuestring));
    else
        tern_buf_puts(b, "\"\"");
}

/* On the webhook thread: who of the recipients is offline, and the push body; 0 when
 * nobody is or the message has nothing to show (seed: a custom message without a
 * description). */
static int push_prepare(void *ud, server *s, char **body, size_t *n)
{
    push_job *p = ud;
    const char *const *users = p->snap ? (const char *const *)p->snap->members : (const char *const *)p->users;
    uint8_t *online = tern_calloc(p->nusers ? p->nusers : 1, 1);
    registry_presence(s->reg, p->app, users, p->nusers, online);
    cJSON *m = cJSON_ParseWithLength(p->json, p->json_n);
    cJSON *pi = p->push_json ? cJSON_Parse(p->push_json) : NULL;
    int sent = 0;
    const char *summary = m ? summary_of(m) : "";
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(pi, "description");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
    int custom = cJSON_IsString(type) && !strcmp(type->valuestring, "TIMCustomElem");
    int has_desc = cJSON_IsString(desc) && desc->valuestring[0];
    if (m && !(custom && !summary[0] && !has_desc)) {
        tern_buf b;
        tern_buf_init(&b, 0);
        tern_buf_puts(&b, "{\"event\":\"push\",\"app\":");
        tern_buf_json_str(&b, p->app_key, strlen(p->app_key));
        put_str_member(&b, "msgId", m, "msgId");
        put_str_member(&b, "conversationType", m, "conversationType");
        put_str_member(&b, "from", m, "from");
        put_str_member(&b, "to", m, "to");
        tern_buf_puts(&b, ",\"recipients\":[");
        for (size_t i = 0; i < p->nusers; i++) {
            if (online[i] || !strcmp(users[i], p->sender))
                continue;
            if (sent++)
                tern_buf_putc(&b, ',');
            tern_buf_json_str(&b, users[i], strlen(users[i]));
        }
        tern_buf_puts(&b, "],\"summary\":");
        tern_buf_json_str(&b, summary, strlen(summary));
        put_str_member(&b, "title", pi, "title");
        put_str_member(&b, "description", pi, "description");
        put_str_member(&b, "extension", pi, "extension");
        const cJSON *badge = cJSON_GetObjectItemCaseSensitive(pi, "ignoreIOSBadge");
        tern_buf_printf(&b, ",\"ignoreIOSBadge\":%s", cJSON_IsTrue(badge) ? "true" : "false");
        put_str_member(&b, "androidOPPOChannelID", pi, "androidOPPOChannelID");
        tern_buf_putc(&b, '}');
        if (sent) {
            tern_free(*body);
            *body = tern_buf_steal(&b, n);
        } else {
            tern_buf_free(&b);
        }
    }
    cJSON_Delete(m);
    cJSON_Delete(pi);
    tern_free(online);
    return sent > 0;
}

static void queue_push(send_req *r, const msg_hook_cfg *c, const char *json, size_t n)
{
    push_job *p = tern_calloc(1, sizeof *p);
    p->app = r->app;
    p->json = tern_strndup(json, n);
    p->json_n = n;
    p->push_json = r->push_json ? tern_strdup(r->push_json) : NULL;
    p->sender = tern_strdup(r->sender);
    snprintf(p->app_key, sizeof p->app_key, "%s", c->app_key);
    /* The recipients: the C2C peer; a group's listed receivers, else its members. */
    if (r->is_group && !r->nreceivers) {
        p->snap = r->snap;
        atomic_fetch_add(&p->snap->refs, 1);
        p->nusers = p->snap->n;
    } else {
        const char *const *src = r->is_group ? (const char *const *)r->receivers : (const char *const *)&r->to;
        size_t ns = r->is_group ? r->nreceivers : 1;
        p->users = tern_calloc(ns, sizeof *p->users);
        for (size_t i = 0; i < ns; i++)
            p->users[p->nusers++] = tern_strdup(src[i]);
    }
    /* The body is made on the webhook thread (push_prepare), where presence is read. */
    wh_request rq = {.kind = WH_PUSH,
                     .url = c->push_url,
                     .secret = c->key,
                     .app_key = c->app_key,
                     .timeout_ms = c->timeout_ms,
                     .prepare = push_prepare,
                     .free_ud = push_job_free,
                     .ud = p};
    if (webhook_submit(r->s, &rq) != TERN_OK)
        push_job_free(p);
}

void msg_hooks_sent(send_req *r, const char *json, size_t n)
{
    const msg_hook_cfg *c = r->hcfg;
    if (!c)
        return;
    if (c->after) {
        wh_request rq = {.kind = WH_AFTER_SEND,
                         .url = c->callback_url,
                         .secret = c->key,
                         .app_key = c->app_key,
                         .timeout_ms = c->timeout_ms};
        rq.body = wrap("afterSend", c->app_key, json, n, 0, &rq.body_n);
        if (webhook_submit(r->s, &rq) != TERN_OK)
            tern_free(rq.body);
    }
    /* Seed 001: onlineUserOnly is never pushed; disablePush skips the push. */
    if (c->push && !r->online_only && !r->disable_push)
        queue_push(r, c, json, n);
}
