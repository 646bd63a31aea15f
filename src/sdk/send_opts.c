/*
 * send_opts.c — tern_send_options on their way to the wire (docs/sdk.md "Send
 * options"): checked and copied when the app calls tern_send_message (the app's strings
 * need not outlive the call), kept with the request, and written into the `send`
 * request by the core encoder (core/message.h tern_msg_encode_send_opts): receiverList
 * and isSupportExtension in "msg", onlineUserOnly, messageControlInfo and
 * offlinePushInfo in "options". Priority, needReadReceipt and the at-user list are
 * message fields: tern_send_message writes them into the message itself.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "sdk/message.h"
#include "sdk/sdk_util.h"

#define MAX_RECEIVERS TERN_MSG_MAX_RECEIVERS

struct sdk_send_extra {
    tern_send_opts o; /* the core model's options; its strings point at the copies below */
    char *push[4];    /* title, description, extension, androidOPPOChannelID */
    cJSON *receivers; /* receiverList, or NULL */
    int support_extension;
};

TERN_API void tern_send_options_init(tern_send_options *opts)
{
    if (opts)
        memset(opts, 0, sizeof *opts);
}

void sdk_send_extra_free(sdk_send_extra *x)
{
    if (!x)
        return;
    for (int i = 0; i < 4; i++)
        tern_free(x->push[i]);
    cJSON_Delete(x->receivers);
    tern_free(x);
}

/* Copies s (NULL: "") into *slot and points *str at it, if it is valid UTF-8 of at most
 * max bytes. Returns 0 or -1. */
static int copy_str(const char *s, size_t max, char **slot, tern_str *str)
{
    if (s && !sdk_str_ok(s, max, 0))
        return -1;
    *slot = tern_strdup(s ? s : "");
    *str = (tern_str){*slot, strlen(*slot)};
    return 0;
}

static int push_of(const tern_offline_push_info *p, sdk_send_extra *x)
{
    tern_push_info *q = &x->o.push;
    q->present = p->present || p->disable_push || p->disable_voip_push || p->ignore_ios_badge || p->title ||
                 p->description || p->extension || p->android_oppo_channel_id;
    if (!q->present)
        return 0;
    q->disable_push = p->disable_push != 0;
    q->disable_voip_push = p->disable_voip_push != 0;
    q->ignore_ios_badge = p->ignore_ios_badge != 0;
    if (copy_str(p->title, TERN_PUSH_MAX_TITLE, &x->push[0], &q->title) < 0 ||
        copy_str(p->description, TERN_PUSH_MAX_DESCRIPTION, &x->push[1], &q->description) < 0 ||
        copy_str(p->extension, TERN_PUSH_MAX_EXTENSION, &x->push[2], &q->extension) < 0 ||
        copy_str(p->android_oppo_channel_id, TERN_PUSH_MAX_CHANNEL, &x->push[3], &q->oppo_channel) < 0)
        return -1;
    return 0;
}

/* 1 if v[0..n) are distinct identifiers (or TERN_AT_ALL when all_ok). */
int sdk_id_list_ok(const char *const *v, size_t n, int all_ok)
{
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || (!tern_ident_valid(v[i], strlen(v[i])) && !(all_ok && !strcmp(v[i], TERN_AT_ALL))))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(v[i], v[j]))
                return 0;
    }
    return 1;
}

int sdk_send_extra_new(const tern_send_options *opts, sdk_send_extra **out)
{
    *out = NULL;
    if (!opts)
        return TERN_OK;
    if (opts->receiver_count && (!opts->receivers || opts->receiver_count > MAX_RECEIVERS ||
                                 !sdk_id_list_ok(opts->receivers, opts->receiver_count, 0)))
        return TERN_ERR_SDK_INVALID_ARG;
    if (opts->priority && (opts->priority < TERN_PRIORITY_HIGH || opts->priority > TERN_PRIORITY_LOWEST))
        return TERN_ERR_SDK_INVALID_ARG;
    sdk_send_extra *x = tern_calloc(1, sizeof *x);
    x->o.online_only = opts->online_user_only != 0;
    x->o.no_unread = opts->excluded_from_unread_count != 0;
    x->o.no_last = opts->excluded_from_last_message != 0;
    x->o.no_moderation = opts->excluded_from_content_moderation != 0;
    x->o.ctl_present = opts->control_info || x->o.no_unread || x->o.no_last || x->o.no_moderation;
    x->support_extension = opts->is_support_extension != 0;
    if (opts->receiver_count) {
        x->receivers = cJSON_CreateArray();
        for (size_t i = 0; x->receivers && i < opts->receiver_count; i++)
            cJSON_AddItemToArray(x->receivers, cJSON_CreateString(opts->receivers[i]));
    }
    if (push_of(&opts->offline_push_info, x) < 0 || (opts->receiver_count && !x->receivers)) {
        sdk_send_extra_free(x);
        return TERN_ERR_SDK_INVALID_ARG;
    }
    *out = x;
    return TERN_OK;
}

int sdk_send_extra_online_only(const sdk_send_extra *x)
{
    return x && x->o.online_only;
}

int sdk_send_extra_no_last(const sdk_send_extra *x)
{
    return x && x->o.no_last;
}

void sdk_send_extra_apply(const sdk_send_extra *x, tern_msg *cm, const tern_send_opts **o)
{
    *o = x ? &x->o : NULL;
    if (x) {
        cm->receivers = x->receivers;
        cm->support_extension = x->support_extension;
    }
}
