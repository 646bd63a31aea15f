/*
 * message.h — libtern's message and conversation objects (struct tern_message,
 * struct tern_conversation) and their JSON codec: drafts built by the app, messages
 * parsed from the server (docs/protocol.md §6), the body of a `send` request, and the
 * conversation list entries.
 */
#ifndef TERN_SDK_MESSAGE_H
#define TERN_SDK_MESSAGE_H
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"
#include "tern/tern.h"

#define SDK_MAX_BODY 12288 /* payload + cloudCustomData JSON (protocol §4 send, 80002) */
#define SDK_SYSTEM_CONV "@TIM#SYSTEM"

struct tern_message {
    atomic_int refs;
    atomic_int status; /* tern_msg_status */
    tern_conv_type conv_type;
    tern_msg_type type;
    tern_priority priority;
    int need_read_receipt;
    int online_only;
    char msg_id[24]; /* "" until known */
    uint64_t seq;
    int64_t time;
    char *from, *to, *conv_id;
    char *type_name;
    char *text;                    /* TIMTextElem */
    char *c_data, *c_desc, *c_ext; /* TIMCustomElem */
    char *payload_json;            /* compact payload object */
    char *cloud_custom_data;
    char *client_msg_id;
    char *json; /* whole object; NULL for drafts/sending */
};

struct tern_conversation {
    char *id;
    tern_conv_type type;
    char *peer;
    uint64_t unread, read_seq, last_seq;
    tern_message *last;
};

/* A new draft from `from` (validated arguments: see tern_create_text_message). NULL if
 * invalid. payload_json is the built payload object. */
tern_message *sdk_msg_new_draft(const char *me, tern_conv_type type, const char *to, tern_msg_type mtype,
                                const char *text, const char *c_data, const char *c_desc, const char *c_ext);

/* Parses a message object received from the server as seen by `me`. NULL if it lacks
 * the required fields (msgId, conversationType, from, to, type). The result has status
 * RECEIVED, json = the object's compact text, refcount 1. */
tern_message *sdk_msg_from_json(const cJSON *obj, const char *me);

/* Appends the `send` request fields after the id: ,"msg":{...},"options":{...}. */
int sdk_msg_encode_send(tern_buf *out, const tern_message *m, int online_only);

/* Size that counts for TERN_ERR_MSG_TOO_LONG: payload JSON + escaped cloudCustomData. */
size_t sdk_msg_body_size(const tern_message *m);

/* The ack of `send` arrived: sets id, seq, time, online_only, builds json and sets
 * status SENT (last, so other threads that see SENT see the rest). conv_id is only
 * informative. Loop thread. */
void sdk_msg_apply_ack(tern_message *m, const char *msg_id, uint64_t seq, int64_t time, const char *conv_id,
                       int online_only);

/* Copies id/seq/time of a received copy of the same message (sync echo) into m. */
void sdk_msg_apply_echo(tern_message *m, const tern_message *echo);

/* Parses a conversation list entry. NULL if malformed. */
tern_conversation *sdk_conv_from_json(const cJSON *obj, const char *me);
void sdk_conv_free(tern_conversation *c);

/* cJSON helpers (case-sensitive getters). */
const char *sdk_json_str(const cJSON *obj, const char *name);        /* NULL if absent/not a string */
int sdk_json_u64(const cJSON *obj, const char *name, uint64_t *out); /* 0 ok, -1 absent/bad */
int sdk_json_bool(const cJSON *obj, const char *name);               /* 1 only for true */

#endif
