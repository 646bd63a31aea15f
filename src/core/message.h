/*
 * message.h — the one message model of Tern, linked by ternd (WebSocket and REST sends),
 * libtern (drafts, sends, received messages) and tern-bench.
 *
 * A message on its way in is a tern_msg: who it is for (conversation kind + `to`), its
 * element type (elem.h) with the canonical JSON of its payload, and the options the
 * server implements (cloudCustomData, clientMsgId, priority, needReadReceipt). The
 * same rules hold on both sides: tern_msg_parse_send on the server and tern_msg_validate
 * in libtern refuse the same things with the same codes before anything is stored or
 * sent. A field the server does not implement yet is refused with 1012, never accepted
 * and dropped (docs/protocol.md §4 send).
 *
 * The 12 KB rule (Tencent 80002) is one measure, tern_msg_body_size: the bytes of the
 * canonical payload JSON plus the bytes of cloudCustomData's JSON-escaped string
 * between its quotes. Both sides encode with tern_buf_json_str, so both count the same.
 *
 * A media message (elem.h, the media rows) has two measures (docs/protocol.md §4 "Sizes"):
 * the 12 KB rule counts its payload WITHOUT the `thumbnail` member, and seed 000's 32 KB
 * rule counts the whole payload with the thumbnail as its decoded bytes; both add
 * cloudCustomData as above, and both refuse with 80002.
 *
 * A message on its way out is a JSON object (docs/protocol.md §6): the server writes its
 * "fields" once (tern_msg_encode_fields) and the store wraps them with msgId, seq and
 * time; tern_msg_decode reads such an object back (libtern).
 */
#ifndef TERN_CORE_MESSAGE_H
#define TERN_CORE_MESSAGE_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/conv.h"
#include "core/elem.h"

#define TERN_MSG_MAX_BODY 12288   /* payload + cloudCustomData, seed 001: 12 KB → 80002 */
#define TERN_MSG_MAX_MEDIA 32768  /* content + file name + thumbnail, seed 000: 32 KB → 80002 */
#define TERN_MSG_MAX_CLIENT_ID 64 /* clientMsgId bytes */

/* Priorities, with the values of tern_priority (tern/tern.h). */
enum { TERN_MSG_PRIO_HIGH = 1, TERN_MSG_PRIO_NORMAL = 2, TERN_MSG_PRIO_LOW = 3, TERN_MSG_PRIO_LOWEST = 4 };

typedef struct tern_msg {
    tern_conv_kind kind;
    tern_str to;                /* user or group id (borrowed) */
    const tern_elem_type *elem; /* NULL: unknown type (1008) */
    tern_buf payload;           /* canonical payload JSON (owned; tern_msg_clear frees it) */
    tern_str ccd;               /* cloudCustomData (borrowed; empty if none) */
    tern_str cmid;              /* clientMsgId (borrowed; empty if none) */
    int priority;               /* TERN_MSG_PRIO_* */
    int need_read_receipt;
    int support_extension;  /* isSupportExtension (issue 10) */
    const cJSON *receivers; /* receiverList (borrowed from the parsed object; NULL if absent):
                               an array of 1..TERN_MSG_MAX_RECEIVERS distinct identifiers */
} tern_msg;

#define TERN_MSG_MAX_RECEIVERS 50 /* receiverList, seed 001: at most 50 → 1203 */

/* The options of sendMessage(message, options) (seed 001, docs/protocol.md §4 send):
 * the `options` object of a WebSocket send. Strings are borrowed from the parsed
 * object; empty when absent. */
typedef struct tern_push_info {
    int present; /* offlinePushInfo given */
    int disable_push, disable_voip_push, ignore_ios_badge;
    tern_str title, description, extension, oppo_channel;
} tern_push_info;

#define TERN_PUSH_MAX_TITLE 256
#define TERN_PUSH_MAX_DESCRIPTION 1024
#define TERN_PUSH_MAX_EXTENSION 4096
#define TERN_PUSH_MAX_CHANNEL 128

typedef struct tern_send_opts {
    int online_only;                       /* onlineUserOnly */
    int ctl_present;                       /* messageControlInfo given */
    int no_unread, no_last, no_moderation; /* excludedFromUnreadCount, excludedFromLastMessage,
                                              excludedFromContentModeration */
    tern_push_info push;
} tern_send_opts;

/* Reads a send's `options` object (NULL or absent: all defaults) into o (zeroed by the
 * call). Returns TERN_OK, or:
 *   1003 options (or offlinePushInfo, messageControlInfo) not an object, a member of the
 *        wrong type, a string over its TERN_PUSH_MAX_* bytes;
 *   1012 a key other than onlineUserOnly, offlinePushInfo, messageControlInfo, or one
 *        these objects do not have (seed 001's fields only);
 *   1013 onlineUserOnly true together with messageControlInfo (seed 001, note 5). */
int tern_send_opts_parse(const cJSON *options, tern_send_opts *o);
/* Appends o's offlinePushInfo as its canonical JSON object (every field, in the seed's
 * order: disablePush, disableVoipPush, title, description, extension, ignoreIOSBadge,
 * androidOPPOChannelID). Returns 0 or -1 (out of memory). */
int tern_push_info_encode(tern_buf *out, const tern_push_info *p);

/* An empty message: priority Normal, no payload. */
void tern_msg_init(tern_msg *m);
/* Frees the payload; m may then be initialized again. */
void tern_msg_clear(tern_msg *m);

/* Reads a client's message object (WebSocket `send`'s "msg") into m (initialized by the
 * call; strings are borrowed from obj, which must outlive m) and validates it with
 * tern_msg_validate. Returns TERN_OK or the first error found:
 *   1003 not an object; conversationType/to/type missing or not strings; conversationType
 *        not C2C/GROUP; `to` not an identifier; clientMsgId over 64 bytes; priority not
 *        High/Normal/Low/Lowest; needReadReceipt not a boolean; a payload field wrong;
 *   2106 the system conversation (conversationType "SYSTEM" or "@TIM#SYSTEM", or to
 *        "@TIM#SYSTEM");
 *   1012 a key other than conversationType, to, type, payload, clientMsgId,
 *        cloudCustomData, priority, needReadReceipt, receiverList, isSupportExtension,
 *        or a payload key the type lacks;
 *   1020 receiverList in a C2C message (groups only);
 *   1203 receiverList of more than TERN_MSG_MAX_RECEIVERS;
 *   1003 receiverList empty, not an array of identifiers, or naming a user twice;
 *        isSupportExtension not a boolean;
 *   1008 a type not in the element table;
 *   7006 a media id (image, sound, video, file) not of the id form;
 *   1020 an @ message (TIMTextElem with atUserList) in C2C;
 *   1203 atUserList over 64 entries;
 *   80002 tern_msg_body_size over 12288;
 *   5001 out of memory (alloc.h hook).
 * On error m holds nothing to free (tern_msg_clear is still allowed). */
int tern_msg_parse_send(const cJSON *obj, tern_msg *m);

/* The checks every sender applies to a filled-in m (payload already encoded):
 * 2106, 1003 (kind, `to`, clientMsgId length), 1008 (elem NULL), 1020 (an @ message in
 * C2C), 80002 (either measure
 * of tern_msg_sizes over its limit). */
int tern_msg_validate(const tern_msg *m);

/* The 12 KB measure: payload_n + the escaped length of cloudCustomData. */
size_t tern_msg_body_size(size_t payload_n, const char *ccd, size_t ccd_n);
/* Both measures of m (payload encoded): *body is the 12 KB measure (a media row's
 * thumbnail member left out), *media the 32 KB one (the thumbnail counted decoded; equal
 * to *body for a type without thumbnail). */
void tern_msg_sizes(const tern_msg *m, size_t *body, size_t *media);

/* Wire names of priorities. name() of an unknown value is "Normal"; parse() returns 0
 * for an unknown name. */
const char *tern_msg_priority_name(int priority);
int tern_msg_priority_parse(const char *s, size_t n);

/* Appends the message's fields as the server stores and pushes them, without braces:
 * "conversationType":..,"from":..,"to":..[,"clientMsgId":..],"type":..,"payload":..,
 * "cloudCustomData":..,"priority":..,"needReadReceipt":..[,"isSupportExtension":true] (docs/protocol.md §6).
 * Returns 0, or -1 (out of memory). */
int tern_msg_encode_fields(tern_buf *out, const tern_msg *m, const char *from, size_t from_n);

/* Appends what follows the id in libtern's `send` request:
 * ,"msg":{...},"options":{"onlineUserOnly":..}. Returns 0 or -1. The same as
 * tern_msg_encode_send_opts with options {onlineUserOnly: online_only} only. */
int tern_msg_encode_send(tern_buf *out, const tern_msg *m, int online_only);
/* The same with every option of o (NULL: defaults): "msg" ends with
 * ,"receiverList":[..] when m->receivers is an array and ,"isSupportExtension":true when
 * m->support_extension is set; "options" is tern_send_opts_encode(o). Returns 0 or -1. */
int tern_msg_encode_send_opts(tern_buf *out, const tern_msg *m, const tern_send_opts *o);
/* Appends o as a send's `options` object: {"onlineUserOnly":b} then
 * "messageControlInfo":{"excludedFromUnreadCount":b,"excludedFromLastMessage":b,
 * "excludedFromContentModeration":b} when o->ctl_present, then "offlinePushInfo" as
 * tern_push_info_encode when o->push.present. NULL o: {"onlineUserOnly":false}.
 * tern_send_opts_parse reads it back to o. Returns 0 or -1. */
int tern_send_opts_encode(tern_buf *out, const tern_send_opts *o);

/* The `msg` event around a message object: prefix + object + suffix. */
#define TERN_MSG_EVENT_PREFIX "{\"ev\":\"msg\",\"data\":"
#define TERN_MSG_EVENT_SUFFIX "}"

/* A message object received from the server, read without copying (strings borrowed
 * from the tree). */
typedef struct tern_msg_view {
    uint64_t msg_id;
    uint64_t seq; /* 0 if absent: online-only */
    int64_t time; /* 0 if absent */
    tern_conv_kind kind;
    const char *from, *to, *type;
    const tern_elem_type *elem; /* NULL: a type this build does not know */
    const cJSON *payload;       /* may be NULL */
    const char *ccd, *cmid;     /* "" if absent */
    int priority;               /* Normal if absent or unknown */
    int need_read_receipt, online_only;
    /* isExcludedFromUnreadCount / isExcludedFromLastMessage (server/msg.h
     * msg_fields_flags): the message never counts as unread / never shows as the
     * conversation's last message */
    int no_unread, no_last;
} tern_msg_view;

/* Reads a message object. Returns 0, or -1 if msgId (decimal string, or a number up to
 * 2^53), conversationType (C2C/GROUP), from, to or type is missing or malformed. */
int tern_msg_decode(const cJSON *obj, tern_msg_view *v);

#endif
