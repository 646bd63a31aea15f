/* errors.c — descriptions of the codes in include/tern/errors.h (one table, used by
 * ternd's responses and libtern's tern_strerror). */
#include "tern/errors.h"

#ifdef TERN_BUILDING_SDK
#define TERN_API __attribute__((visibility("default")))
#else
#define TERN_API
#endif

TERN_API const char *tern_strerror(int code)
{
    switch (code) {
    case TERN_OK: return "OK";
    case TERN_ERR_BAD_JSON: return "malformed JSON";
    case TERN_ERR_UNKNOWN_OP: return "unknown op";
    case TERN_ERR_BAD_FIELD: return "missing or invalid field";
    case TERN_ERR_FRAME_TOO_LARGE: return "frame too large";
    case TERN_ERR_BAD_UTF8: return "invalid UTF-8";
    case TERN_ERR_NOT_LOGGED_IN: return "not logged in";
    case TERN_ERR_ALREADY_LOGGED_IN: return "already logged in";
    case TERN_ERR_UNSUPPORTED_TYPE: return "unsupported message type";
    case TERN_ERR_NOT_FOUND: return "not found";
    case TERN_ERR_METHOD: return "method not allowed";
    case TERN_ERR_CONFLICT: return "already exists";
    case TERN_ERR_NOT_SUPPORTED: return "field not supported yet";
    case TERN_ERR_NO_RECEIPT: return "no read receipt for this message";
    case TERN_ERR_OPTIONS_CONFLICT: return "onlineUserOnly cannot be combined with messageControlInfo";
    case TERN_ERR_GROUP_ONLY: return "field allowed in group messages only";
    case TERN_ERR_MERGER_MSG_NOT_FOUND: return "merged message not found";
    case TERN_ERR_MERGER_NOT_FOUND: return "merger content not found";
    case TERN_ERR_EXT_CONFLICT: return "extension version conflict";
    case TERN_ERR_EXT_TOO_MANY_KEYS: return "too many extension keys";
    case TERN_ERR_EXT_TOO_LONG: return "extension key or value too long";
    case TERN_ERR_EXT_UNSUPPORTED: return "message does not support extensions";
    case TERN_ERR_MERGER_TOO_LARGE: return "merged messages too large";
    case TERN_ERR_AT_WITH_RECEIVERS: return "an @ message cannot have a receiverList";
    case TERN_ERR_RECEIVER_NOT_MEMBER: return "a receiver is not a member of the group";
    case TERN_ERR_TOKEN_INVALID: return "invalid token";
    case TERN_ERR_TOKEN_EXPIRED: return "token expired";
    case TERN_ERR_APP_NOT_FOUND: return "app not found";
    case TERN_ERR_FORBIDDEN: return "forbidden";
    case TERN_ERR_BAD_CREDENTIALS: return "invalid client credentials";
    case TERN_ERR_KICKED: return "kicked by the server";
    case TERN_ERR_BAD_PASSWORD: return "invalid username or password";
    case TERN_ERR_SLOW_CONSUMER: return "send queue full: resync";
    case TERN_ERR_RATE_LIMITED: return "rate limited";
    case TERN_ERR_SEND_RATE: return "send rate exceeded";
    case TERN_ERR_TOO_MANY: return "too many items";
    case TERN_ERR_KEYWORDS_FULL: return "too many moderation keywords";
    case TERN_ERR_GROUP_FULL: return "group is full (maxusers)";
    case TERN_ERR_FRIENDS_FULL: return "friend list is full";
    case TERN_ERR_FRIEND_SELF: return "cannot add oneself as a friend";
    case TERN_ERR_SYSTEM_CONV: return "cannot send to the system conversation";
    case TERN_ERR_GROUP_PERMISSION: return "not a member of the group";
    case TERN_ERR_GROUP_NOT_FOUND: return "group not found";
    case TERN_ERR_USER_NOT_FOUND: return "user not found";
    case TERN_ERR_NOT_FRIEND: return "not friends";
    case TERN_ERR_MSG_TOO_LONG: return "message body over 12 KB (or over 32 KB with its thumbnail)";
    case TERN_ERR_CALLBACK_REJECTED: return "rejected by callback";
    case TERN_ERR_MODERATION: return "content moderation hit";
    case TERN_ERR_STREAM_FROM: return "param from can't be empty";
    case TERN_ERR_STREAM_TO: return "param to can't be empty";
    case TERN_ERR_STREAM_BODY: return "param body can't be empty";
    case TERN_ERR_STREAM_SEQ: return "param body.seq is illegal";
    case TERN_ERR_STREAM_NOT_FOUND: return "can not find stream message by msgId";
    case TERN_ERR_STREAM_TOO_LONG: return "stream message total length exceeds limit";
    case TERN_ERR_STREAM_INTERVAL: return "stream message chunk interval timeout";
    case TERN_ERR_STREAM_TOTAL_TIME: return "stream message total timeout";
    case TERN_ERR_STREAM_FINISHED: return "stream message has already finished";
    case TERN_ERR_STREAM_FROM_MISMATCH: return "stream message from user mismatch";
    case TERN_ERR_STREAM_TO_MISMATCH: return "stream message to mismatch";
    case TERN_ERR_STREAM_SEQ_TOO_SMALL: return "stream message chunk seq too small";
    case TERN_ERR_STREAM_GROUP_TOO_LARGE: return "stream message group member count exceeds limit";
    case TERN_ERR_INTERNAL: return "internal error";
    case TERN_ERR_STORE: return "store failure";
    case TERN_ERR_SHUTTING_DOWN: return "server shutting down";
    case TERN_ERR_OVERLOADED: return "server overloaded, retry";
    case TERN_ERR_MEDIA_EMPTY: return "file is empty";
    case TERN_ERR_MEDIA_EXPIRED: return "media expired";
    case TERN_ERR_MEDIA_TOO_LARGE: return "file over the size limit";
    case TERN_ERR_MEDIA_NO_LENGTH: return "Content-Length required";
    case TERN_ERR_MEDIA_DISK_FULL: return "no space left for the file";
    case TERN_ERR_MEDIA_NOT_FOUND: return "media not found";
    case TERN_ERR_MEDIA_INCOMPLETE: return "upload body incomplete";
    case TERN_ERR_MEDIA_OFFSET: return "upload offset mismatch";
    case TERN_ERR_MEDIA_NO_FILE: return "no file part";
    case TERN_ERR_MEDIA_MULTIPART: return "malformed multipart body";
    case TERN_ERR_MEDIA_FORM_FIELD: return "unexpected form field";
    case TERN_ERR_MEDIA_NOT_IMAGE: return "media is not an image";
    case TERN_ERR_MEDIA_NO_THUMB: return "no thumbnail";
    case TERN_ERR_SDK_NOT_READY: return "SDK not ready";
    case TERN_ERR_SDK_TIMEOUT: return "request timed out";
    case TERN_ERR_SDK_DISCONNECTED: return "disconnected";
    case TERN_ERR_SDK_INVALID_ARG: return "invalid argument";
    case TERN_ERR_SDK_IO: return "I/O error";
    case TERN_ERR_SDK_CANCELED: return "canceled";
    case TERN_ERR_SDK_NO_SUCH_TRANSFER: return "no such transfer (finished or unknown request id)";
    default: return "unknown error";
    }
}
