/*
 * sendopts.c — the options of a send (seed 001's sendMessage(message, options)):
 * onlineUserOnly, offlinePushInfo and messageControlInfo, read from a WebSocket send's
 * `options` object, and offlinePushInfo's canonical JSON (what the push webhook gets).
 * The rules and codes are in message.h; docs/protocol.md §4 send documents them.
 */
#include <string.h>

#include "core/json.h"
#include "core/message.h"
#include "tern/errors.h"

static const char *const opt_keys[] = {"onlineUserOnly", "offlinePushInfo", "messageControlInfo"};
static const char *const push_keys[] = {"disablePush",    "disableVoipPush",     "title", "description", "extension",
                                        "ignoreIOSBadge", "androidOPPOChannelID"};
static const char *const ctl_keys[] = {"excludedFromUnreadCount", "excludedFromLastMessage",
                                       "excludedFromContentModeration"};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* TERN_OK, 1003 (not an object / a member of the wrong type) or 1012 (an unknown key). */
static int keys_ok(const cJSON *o, const char *const *names, size_t n)
{
    if (!cJSON_IsObject(o))
        return TERN_ERR_BAD_FIELD;
    return tern_json_only_keys(o, names, n) ? TERN_OK : TERN_ERR_NOT_SUPPORTED;
}

static int get_bool(const cJSON *o, const char *name, int *out)
{
    return tern_json_get_bool(o, name, out) == TERN_JSON_INVALID ? TERN_ERR_BAD_FIELD : TERN_OK;
}

static int get_str(const cJSON *o, const char *name, size_t max, tern_str *out)
{
    if (tern_json_get_str(o, name, out) == TERN_JSON_INVALID || out->n > max)
        return TERN_ERR_BAD_FIELD;
    return TERN_OK;
}

static int parse_push(const cJSON *j, tern_push_info *p)
{
    int rc = keys_ok(j, push_keys, NKEYS(push_keys));
    if (rc != TERN_OK)
        return rc;
    p->present = 1;
    rc = get_bool(j, "disablePush", &p->disable_push);
    if (rc == TERN_OK)
        rc = get_bool(j, "disableVoipPush", &p->disable_voip_push);
    if (rc == TERN_OK)
        rc = get_bool(j, "ignoreIOSBadge", &p->ignore_ios_badge);
    if (rc == TERN_OK)
        rc = get_str(j, "title", TERN_PUSH_MAX_TITLE, &p->title);
    if (rc == TERN_OK)
        rc = get_str(j, "description", TERN_PUSH_MAX_DESCRIPTION, &p->description);
    if (rc == TERN_OK)
        rc = get_str(j, "extension", TERN_PUSH_MAX_EXTENSION, &p->extension);
    if (rc == TERN_OK)
        rc = get_str(j, "androidOPPOChannelID", TERN_PUSH_MAX_CHANNEL, &p->oppo_channel);
    return rc;
}

static int parse_ctl(const cJSON *j, tern_send_opts *o)
{
    int rc = keys_ok(j, ctl_keys, NKEYS(ctl_keys));
    if (rc != TERN_OK)
        return rc;
    o->ctl_present = 1;
    rc = get_bool(j, "excludedFromUnreadCount", &o->no_unread);
    if (rc == TERN_OK)
        rc = get_bool(j, "excludedFromLastMessage", &o->no_last);
    if (rc == TERN_OK)
        rc = get_bool(j, "excludedFromContentModeration", &o->no_moderation);
    return rc;
}

int tern_send_opts_parse(const cJSON *options, tern_send_opts *o)
{
    memset(o, 0, sizeof *o);
    if (!options || cJSON_IsNull(options))
        return TERN_OK;
    int rc = keys_ok(options, opt_keys, NKEYS(opt_keys));
    if (rc == TERN_OK)
        rc = get_bool(options, "onlineUserOnly", &o->online_only);
    const cJSON *push = cJSON_GetObjectItemCaseSensitive(options, "offlinePushInfo");
    const cJSON *ctl = cJSON_GetObjectItemCaseSensitive(options, "messageControlInfo");
    if (rc == TERN_OK && push && !cJSON_IsNull(push))
        rc = parse_push(push, &o->push);
    if (rc == TERN_OK && ctl && !cJSON_IsNull(ctl))
        rc = parse_ctl(ctl, o);
    /* Seed 001, note 5: onlineUserOnly and messageControlInfo cannot be used together. */
    if (rc == TERN_OK && o->online_only && o->ctl_present)
        rc = TERN_ERR_OPTIONS_CONFLICT;
    return rc;
}

int tern_push_info_encode(tern_buf *out, const tern_push_info *p)
{
    int rc = tern_buf_printf(out, "{\"disablePush\":%s,\"disableVoipPush\":%s,\"title\":",
                             p->disable_push ? "true" : "false", p->disable_voip_push ? "true" : "false");
    rc |= tern_buf_json_str(out, p->title.p ? p->title.p : "", p->title.n);
    rc |= tern_buf_puts(out, ",\"description\":");
    rc |= tern_buf_json_str(out, p->description.p ? p->description.p : "", p->description.n);
    rc |= tern_buf_puts(out, ",\"extension\":");
    rc |= tern_buf_json_str(out, p->extension.p ? p->extension.p : "", p->extension.n);
    rc |= tern_buf_printf(out,
                          ",\"ignoreIOSBadge\":%s,\"androidOPPOChannelID\":", p->ignore_ios_badge ? "true" : "false");
    rc |= tern_buf_json_str(out, p->oppo_channel.p ? p->oppo_channel.p : "", p->oppo_channel.n);
    rc |= tern_buf_putc(out, '}');
    return rc ? -1 : 0;
}

int tern_send_opts_encode(tern_buf *out, const tern_send_opts *o)
{
    int rc = tern_buf_printf(out, "{\"onlineUserOnly\":%s", o && o->online_only ? "true" : "false");
    if (o && o->ctl_present)
        rc |= tern_buf_printf(out,
                              ",\"messageControlInfo\":{\"excludedFromUnreadCount\":%s,\"excludedFromLastMessage\":%s,"
                              "\"excludedFromContentModeration\":%s}",
                              o->no_unread ? "true" : "false", o->no_last ? "true" : "false",
                              o->no_moderation ? "true" : "false");
    if (o && o->push.present) {
        rc |= tern_buf_puts(out, ",\"offlinePushInfo\":");
        rc |= tern_push_info_encode(out, &o->push);
    }
    rc |= tern_buf_putc(out, '}');
    return rc ? -1 : 0;
}
