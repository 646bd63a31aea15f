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
#include "core/message.h"
#include "tern/tern.h"

struct tern_message {
    atomic_int refs;
    atomic_int status; /* tern_msg_status */
    tern_conv_type conv_type;
    tern_msg_type type;
    tern_priority priority;
    int need_read_receipt;
    int online_only;
    int no_unread, no_last; /* received: isExcludedFromUnreadCount, isExcludedFromLastMessage */
    char msg_id[24]; /* "" until known */
    uint64_t seq;
    int64_t time;
    char *from, *to, *conv_id;
    char *type_name;
    char *text;                    /* TIMTextElem */
    char *c_data, *c_desc, *c_ext; /* TIMCustomElem */
    _Atomic(char *) payload_json;  /* compact payload object (streamed: built lazily) */
    char *cloud_custom_data;
    char *client_msg_id;
    _Atomic(char *) json; /* whole object; NULL for drafts/sending (streamed: lazily) */
    /* Streamed messages (docs/protocol.md §9, stream.c); stream_state NONE otherwise. */
    int stream_state;        /* tern_stream_state */
    char stream_format[12];  /* "text" or "markdown" */
    int64_t stream_last_seq; /* -1 if not streamed */
    int finish_reason, end_code;
    size_t text_len, text_cap;      /* streamed, once appended to: text's length, allocation */
    struct sdk_media_fields *media; /* image/audio/video/file messages (below), else NULL */
    /* face, location, merger and @ fields, read from the payload on first use
     * (elem_msg.c); NULL until then */
    _Atomic(struct sdk_elem_fields *) elem;
};

struct tern_conversation {
    char *id;
    tern_conv_type type;
    char *peer;
    uint64_t unread, read_seq, last_seq;
    int at_info; /* atInfo (issue 10): 0..3 */
    /* atMeSeq, atAllSeq: the newest pending @ of each kind (0: none) */
    uint64_t at_me_seq, at_all_seq;
    tern_message *last;
};

/* A new draft from `from` (validated arguments: see tern_create_text_message). NULL if
 * invalid. payload_json is the built payload object. */
tern_message *sdk_msg_new_draft(const char *me, tern_conv_type type, const char *to, tern_msg_type mtype,
                                const char *text, const char *c_data, const char *c_desc, const char *c_ext);

/* A draft of type mtype / type_name from `me` with no target (to "", conv_type 0),
 * payload "{}" (the caller writes it), a fresh clientMsgId. NULL if me is NULL. */
tern_message *sdk_msg_new_bare_draft(const char *me, int mtype, const char *type_name);

/* Parses a message object received from the server as seen by `me`. NULL if it lacks
 * the required fields (msgId, conversationType, from, to, type). The result has status
 * RECEIVED, json = the object's compact text, refcount 1. */
tern_message *sdk_msg_from_json(const cJSON *obj, const char *me);

/* ---- send_opts.c: tern_send_options as a request keeps them ---- */
typedef struct sdk_send_extra sdk_send_extra;
/* Checks and copies opts (NULL: *out NULL, the defaults). TERN_OK or
 * TERN_ERR_SDK_INVALID_ARG (see tern_send_message). The at-user list, priority and
 * needReadReceipt are not kept: the caller writes them into the message. */
int sdk_send_extra_new(const tern_send_options *opts, sdk_send_extra **out);
void sdk_send_extra_free(sdk_send_extra *x);
int sdk_send_extra_online_only(const sdk_send_extra *x);
/* 1 if x asks excludedFromLastMessage (NULL: 0). */
int sdk_send_extra_no_last(const sdk_send_extra *x);
/* Points cm's receivers/support_extension and *o at what x holds (x NULL: defaults). */
void sdk_send_extra_apply(const sdk_send_extra *x, tern_msg *cm, const tern_send_opts **o);
/* 1 if v[0..n) are distinct identifiers (or TERN_AT_ALL when all_ok). */
int sdk_id_list_ok(const char *const *v, size_t n, int all_ok);

/* Appends the `send` request fields after the id: ,"msg":{...},"options":{...}, with the
 * options x holds (NULL: the defaults). */
int sdk_msg_encode_send(tern_buf *out, const tern_message *m, const sdk_send_extra *x);

/* The checks the server applies to a send, run before sending (core/message.h
 * tern_msg_validate on the canonical payload): TERN_OK, 2106 (system conversation),
 * 1003, 1008, 80002 (the 12 KB measure). */
int sdk_msg_check(const tern_message *m);

/* The ack of `send` arrived: sets id, seq, time, online_only, builds json and sets
 * status SENT (last, so other threads that see SENT see the rest). conv_id is only
 * informative. Loop thread. */
void sdk_msg_apply_ack(tern_message *m, const char *msg_id, uint64_t seq, int64_t time, const char *conv_id,
                       int online_only);

/* Copies id/seq/time of a received copy of the same message (sync echo) into m. */
void sdk_msg_apply_echo(tern_message *m, const tern_message *echo);

/* A deep copy of a received message with reference count 1 (the SDK's own copy of a
 * streamed message, when the app still holds the one it was lent). Loop thread. */
tern_message *sdk_msg_clone(const tern_message *m);

/* Appends n bytes of text to a streamed message the SDK holds alone (reference count
 * 1): the payload and whole-object JSON are rebuilt lazily on their next read.
 * Returns 0, or -1 if the text would exceed max bytes (nothing appended). */
int sdk_msg_stream_append(tern_message *m, const char *p, size_t n, size_t max);

/* Reads a `stream` object (protocol.md §9: format, state, lastSeq, finishReason,
 * endCode) into m's stream fields. Returns 0, or -1 if it is not an object with a
 * known state and a lastSeq (m unchanged). */
int sdk_msg_parse_stream(tern_message *m, const cJSON *st);
/* tern_stream_state for "open", "finished", "ended"; TERN_STREAM_NONE otherwise. */
int sdk_stream_state_parse(const char *s);

/* ---- elem_msg.c: face, location, merger and @ messages ---- */
#define TERN_SDK_MAX_AT 64 /* atUserList entries (server: 1203 past it) */
typedef struct sdk_elem_fields sdk_elem_fields;
void sdk_elem_fields_free(sdk_elem_fields *f);
/* Rewrites a text draft's payload with atUserList at[0..n) (checked: 1..64 distinct ids
 * or TERN_AT_ALL). TERN_OK or TERN_ERR_SDK_INVALID_ARG (not text, a bad list). */
int sdk_msg_set_at_users(tern_message *m, const char *const *at, size_t n);
/* A merger's messageList as compact JSON, or NULL (not a merger, none). */
const char *sdk_msg_merger_list_json(const tern_message *m);
/* The tern_msg_type of the wire names of issue 10 the element table may lack in this
 * build (TIMFaceElem, TIMRelayElem), else 0. */
int sdk_elem_type_of(const char *type_name);

/* ---- media_msg.c: the media fields of image/audio/video/file messages ---- */
/* Media fields of a message (drafts: what the app set; received: from the payload). */
typedef struct sdk_media_fields {
    char *uuid; /* uuid or videoUUID */
    char *url;  /* url, fileUrl, videoUrl or imageInfoArray type 0's url */
    char *file_name;
    char *thumbnail; /* base64 */
    uint64_t size;
    unsigned width, height; /* image: the picture; video: the snapshot; 0 = unset */
    unsigned seconds;
    int has_seconds;
    char *snapshot_uuid, *snapshot_url;
    /* image: imageInfoArray entries 0..2 */
    int info_has[3];
    unsigned info_w[3], info_h[3];
    uint64_t info_size[3];
    char *info_url[3];
} sdk_media_fields;

/* The tern_msg_type of a media wire type name (TIMImageElem...), else 0. */
int sdk_media_type_of(const char *type_name);
/* Fields read from a received payload of media type mtype (lenient: absent or
 * malformed fields stay unset). NULL if payload is not an object. */
sdk_media_fields *sdk_media_fields_parse(int mtype, const cJSON *payload);
sdk_media_fields *sdk_media_fields_dup(const sdk_media_fields *f);
void sdk_media_fields_free(sdk_media_fields *f);
/* Parses a conversation list entry. NULL if malformed. */
tern_conversation *sdk_conv_from_json(const cJSON *obj, const char *me);
void sdk_conv_free(tern_conversation *c);

#endif
