/*
 * tern/errors.h — every result code Tern returns, shared by ternd, libtern and the tools.
 *
 * Codes defined by the seed documents keep their numbers (80002 and 2106 from the
 * Tencent SDK, 20003/10007/10010 from its server, 14001–14038 from Easemob streamed
 * messages). Tern's own codes live in ranges of their own:
 *   1000–1099  protocol: framing, JSON, ops, fields
 *   1100–1199  authentication and authorization
 *   1200–1299  limits and flow control
 *   5000–5099  server side failures
 *   9000–9099  SDK (client-side) conditions that never cross the wire
 * docs/errors.md lists each with its cause. Codes are stable: never renumber one.
 */
#ifndef TERN_ERRORS_H
#define TERN_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tern_code {
    TERN_OK = 0,

    /* protocol */
    TERN_ERR_BAD_JSON = 1001,        /* frame or body is not valid JSON */
    TERN_ERR_UNKNOWN_OP = 1002,      /* "op" names no operation */
    TERN_ERR_BAD_FIELD = 1003,       /* a field is missing, of the wrong type or out of range */
    TERN_ERR_FRAME_TOO_LARGE = 1004, /* WebSocket message over the frame limit (connection closed, 1009) */
    TERN_ERR_BAD_UTF8 = 1005,        /* text is not valid UTF-8 (connection closed, 1007) */
    TERN_ERR_NOT_LOGGED_IN = 1006,   /* an op other than login before login */
    TERN_ERR_ALREADY_LOGGED_IN = 1007,
    TERN_ERR_UNSUPPORTED_TYPE = 1008, /* message type not (yet) supported */
    TERN_ERR_NOT_FOUND = 1009,        /* REST path or resource does not exist */
    TERN_ERR_METHOD = 1010,           /* HTTP method not allowed on this path */
    TERN_ERR_CONFLICT = 1011,         /* resource already exists */
    TERN_ERR_NOT_SUPPORTED = 1012,    /* a field or option this server does not implement yet */
    TERN_ERR_NO_RECEIPT = 1040,       /* receipts asked of a message without needReadReceipt (or unseen) */
    TERN_ERR_OPTIONS_CONFLICT = 1013, /* onlineUserOnly together with messageControlInfo (seed 001) */
    TERN_ERR_GROUP_ONLY = 1020,       /* a group-only field (receiverList, atUserList) in a C2C message */
    /* issue 10, merger and message extensions (server/merger.h, server/msgext.h) */
    TERN_ERR_MERGER_MSG_NOT_FOUND = 1030, /* a merged message never sent, or not visible to the sender */
    TERN_ERR_MERGER_NOT_FOUND = 1031,     /* downloadKey unknown; downloadMerger of a non-merger */
    TERN_ERR_EXT_TOO_MANY_KEYS = 1033,    /* extension: the message would pass extMaxKeys */
    TERN_ERR_EXT_TOO_LONG = 1034,         /* extension: key over 100 bytes or value over 1 KB */
    TERN_ERR_EXT_UNSUPPORTED = 1035,      /* the message was not sent with isSupportExtension */
    TERN_ERR_MERGER_TOO_LARGE = 1036,     /* the merged messages' objects pass 1 MiB */

    /* send options (issue 10, H1) */
    TERN_ERR_AT_WITH_RECEIVERS = 1021,   /* an @ message (atUserList) with receiverList */
    TERN_ERR_RECEIVER_NOT_MEMBER = 1022, /* a receiverList user who is not a member of the group */

    /* auth */
    TERN_ERR_TOKEN_INVALID = 1101, /* token malformed or signature wrong */
    TERN_ERR_TOKEN_EXPIRED = 1102,
    TERN_ERR_APP_NOT_FOUND = 1103,   /* no such org/app */
    TERN_ERR_FORBIDDEN = 1104,       /* another app's or another user's data */
    TERN_ERR_BAD_CREDENTIALS = 1105, /* wrong client id or secret */
    TERN_ERR_KICKED = 1106,          /* session ended by the server (user deleted, admin) */
    TERN_ERR_BAD_PASSWORD = 1107,    /* grant_type=password: unknown user, no or wrong password */

    /* limits */
    TERN_ERR_SLOW_CONSUMER = 1201, /* send queue over its ceiling: resync (connection closed, 4001) */
    TERN_ERR_RATE_LIMITED = 1202,
    TERN_ERR_TOO_MANY = 1203,   /* a list over its limit (members, receivers, page size) */
    TERN_ERR_GROUP_FULL = 1204, /* adding members would pass the group's maxusers */

    /* webhooks and moderation (issue 10; 1050-1059) */
    TERN_ERR_KEYWORDS_FULL = 1050, /* the app's moderation keyword list would pass its bound */
    /* friends (issue 10; Tern's codes) */
    TERN_ERR_FRIENDS_FULL = 1060, /* a friend list would pass its limit (1000 per user) */
    TERN_ERR_FRIEND_SELF = 1061,  /* a user cannot be its own friend */

    /* seed-defined */
    TERN_ERR_SYSTEM_CONV = 2106,        /* sending to the system conversation (Tencent) */
    TERN_ERR_GROUP_PERMISSION = 10007,  /* not a member of the group (Tencent server) */
    TERN_ERR_GROUP_NOT_FOUND = 10010,   /* group does not exist or was dismissed */
    TERN_ERR_USER_NOT_FOUND = 20003,    /* recipient or user not registered */
    TERN_ERR_SEND_RATE = 10023,         /* REST group sends over the app's restGroupSendRate (Tencent) */
    TERN_ERR_NOT_FRIEND = 20009,        /* friend check failed (Tencent) */
    TERN_ERR_EXT_CONFLICT = 23001,      /* message extension: the key's version moved on (Tencent SDK) */
    TERN_ERR_MSG_TOO_LONG = 80002,      /* message body over 12 KB (Tencent) */
    TERN_ERR_CALLBACK_REJECTED = 10016, /* the app's before-send callback refused the message (Tencent) */
    TERN_ERR_MODERATION = 80001,        /* content moderation hit a keyword (Tencent's code, unverified) */

    /* streamed messages (Easemob, seed 002; 14100 is Tern's) */
    TERN_ERR_STREAM_FROM = 14001,       /* param from can't be empty */
    TERN_ERR_STREAM_TO = 14002,         /* param to can't be empty */
    TERN_ERR_STREAM_BODY = 14005,       /* param body can't be empty */
    TERN_ERR_STREAM_SEQ = 14030,        /* param body.seq is illegal */
    TERN_ERR_STREAM_NOT_FOUND = 14031,  /* can not find stream message by msgId */
    TERN_ERR_STREAM_TOO_LONG = 14032,   /* total text over the limit (128 KB): stream ended */
    TERN_ERR_STREAM_INTERVAL = 14033,   /* more than 30 s since the previous chunk: stream ended */
    TERN_ERR_STREAM_TOTAL_TIME = 14034, /* more than 30 min since the first chunk: stream ended */
    TERN_ERR_STREAM_FINISHED = 14035,   /* a chunk after finish */
    TERN_ERR_STREAM_FROM_MISMATCH = 14036,
    TERN_ERR_STREAM_TO_MISMATCH = 14037,
    TERN_ERR_STREAM_SEQ_TOO_SMALL = 14038,
    TERN_ERR_STREAM_GROUP_TOO_LARGE = 14100, /* group over 200 members (Tern's code) */

    /* media (issue 9; Tern's codes) */
    TERN_ERR_MEDIA_EMPTY = 7001,      /* an upload of 0 bytes (seed 000: non-empty files only) */
    TERN_ERR_MEDIA_EXPIRED = 7002,    /* the media id is past its expiry (404) */
    TERN_ERR_MEDIA_TOO_LARGE = 7003,  /* declared size over --media-max-bytes (413) */
    TERN_ERR_MEDIA_NO_LENGTH = 7004,  /* an upload without Content-Length (411) */
    TERN_ERR_MEDIA_DISK_FULL = 7005,  /* no space left for the file (507); nothing kept */
    TERN_ERR_MEDIA_NOT_FOUND = 7006,  /* no such media id in this app (404) */
    TERN_ERR_MEDIA_INCOMPLETE = 7007, /* the body ended before Content-Length bytes (400) */
    TERN_ERR_MEDIA_OFFSET = 7008,     /* resumable PUT not at the offset held, or one already running (409) */
    /* Easemob chatfiles (multipart uploads) 7010-7019, thumbnails 7020-7029, media messages 7030-7039 */
    TERN_ERR_MEDIA_NO_FILE = 7010,    /* a chatfiles body without a part named `file` (400) */
    TERN_ERR_MEDIA_MULTIPART = 7011,  /* not multipart/form-data, or a malformed body (400) */
    TERN_ERR_MEDIA_FORM_FIELD = 7012, /* a form field Easemob does not document, or one too long (400) */
    TERN_ERR_MEDIA_NO_THUMB = 7020,   /* ?thumb= of media that is no image or gets no thumbnail (404) */
    TERN_ERR_MEDIA_NOT_IMAGE = 7030,  /* an image message (or video snapshot) naming media that is not an image */

    /* server */
    TERN_ERR_INTERNAL = 5001,
    TERN_ERR_STORE = 5002,         /* the store failed; nothing was acknowledged */
    TERN_ERR_SHUTTING_DOWN = 5003, /* server is stopping; retry on another node or later */
    TERN_ERR_OVERLOADED = 5004,    /* store queue full; retry */

    /* SDK only */
    TERN_ERR_SDK_NOT_READY = 9001,    /* not logged in / connection not ready */
    TERN_ERR_SDK_TIMEOUT = 9002,      /* no response in time */
    TERN_ERR_SDK_DISCONNECTED = 9003, /* connection lost before the response */
    TERN_ERR_SDK_INVALID_ARG = 9004,
    TERN_ERR_SDK_IO = 9005, /* socket / DNS / HTTP transport failure */
    TERN_ERR_SDK_CANCELED = 9006,
    /* media transfers */
    TERN_ERR_SDK_NO_SUCH_TRANSFER = 9007 /* cancel: the request id names no running or waiting
                                            transfer of that direction (finished or unknown) */
} tern_code;

/* Returns a short English description of `code`; never NULL ("unknown error" if unknown). */
const char *tern_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
