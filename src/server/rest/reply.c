/*
 * reply.c — the bytes of every REST answer, built in one place: the seed-002 success
 * envelope (path, uri, timestamp, organization, application, action, data, duration,
 * applicationName), the error body, and the HTTP status of each error code
 * (docs/rest-api.md). Writing them to the connection is rest/router.c's part.
 */
#include <string.h>

#include "core/util.h"
#include "rest/rest.h"

int rest_status_of(int code)
{
    switch (code) {
    case TERN_OK: return 200;
    case TERN_ERR_BAD_JSON:
    case TERN_ERR_BAD_FIELD:
    case TERN_ERR_UNSUPPORTED_TYPE:
    case TERN_ERR_MSG_TOO_LONG:
    case TERN_ERR_MODERATION:
    case TERN_ERR_KEYWORDS_FULL:
    case TERN_ERR_SYSTEM_CONV:
    case TERN_ERR_NOT_SUPPORTED:
    case TERN_ERR_OPTIONS_CONFLICT:
    case TERN_ERR_GROUP_ONLY:
    case TERN_ERR_CONFLICT:     /* Easemob: 400 duplicate_unique_property_exists */
    case TERN_ERR_BAD_PASSWORD: /* Easemob: 400 invalid_grant */
    case TERN_ERR_TOO_MANY:
    case TERN_ERR_EXT_TOO_MANY_KEYS:
    case TERN_ERR_EXT_TOO_LONG:
    case TERN_ERR_EXT_UNSUPPORTED:
    case TERN_ERR_FRIENDS_FULL:
    case TERN_ERR_FRIEND_SELF:
    case TERN_ERR_STREAM_FROM:
    case TERN_ERR_STREAM_TO:
    case TERN_ERR_STREAM_BODY:
    case TERN_ERR_STREAM_SEQ:
    case TERN_ERR_STREAM_TOO_LONG:
    case TERN_ERR_STREAM_INTERVAL:
    case TERN_ERR_STREAM_TOTAL_TIME:
    case TERN_ERR_STREAM_FINISHED:
    case TERN_ERR_STREAM_FROM_MISMATCH:
    case TERN_ERR_STREAM_TO_MISMATCH:
    case TERN_ERR_STREAM_SEQ_TOO_SMALL:
    case TERN_ERR_STREAM_GROUP_TOO_LARGE:
    case TERN_ERR_MEDIA_EMPTY:
    case TERN_ERR_MEDIA_NO_FILE:
    case TERN_ERR_MEDIA_MULTIPART:
    case TERN_ERR_MEDIA_FORM_FIELD:
    case TERN_ERR_MEDIA_NOT_IMAGE:
    case TERN_ERR_MEDIA_INCOMPLETE: return 400;
    case TERN_ERR_MEDIA_EXPIRED:
    case TERN_ERR_MEDIA_NOT_FOUND:
    case TERN_ERR_MEDIA_NO_THUMB: return 404;
    case TERN_ERR_MEDIA_NO_LENGTH: return 411;
    case TERN_ERR_MEDIA_OFFSET: return 409;
    case TERN_ERR_MEDIA_TOO_LARGE: return 413;
    case TERN_ERR_MEDIA_DISK_FULL: return 507;
    case TERN_ERR_TOKEN_INVALID:
    case TERN_ERR_TOKEN_EXPIRED:
    case TERN_ERR_BAD_CREDENTIALS: return 401;
    case TERN_ERR_FORBIDDEN:
    case TERN_ERR_GROUP_FULL:
    case TERN_ERR_CALLBACK_REJECTED:
    case TERN_ERR_NOT_FRIEND:
    case TERN_ERR_GROUP_PERMISSION: return 403;
    case TERN_ERR_NOT_FOUND:
    case TERN_ERR_APP_NOT_FOUND:
    case TERN_ERR_GROUP_NOT_FOUND:
    case TERN_ERR_USER_NOT_FOUND:
    case TERN_ERR_STREAM_NOT_FOUND: return 404;
    case TERN_ERR_METHOD: return 405;
    case TERN_ERR_RATE_LIMITED:
    case TERN_ERR_SEND_RATE: return 429;
    case TERN_ERR_SHUTTING_DOWN:
    case TERN_ERR_OVERLOADED: return 503;
    default: return 500;
    }
}

const char *rest_error_name(int code)
{
    switch (code) {
    case TERN_ERR_BAD_JSON: return "invalid_request_body";
    case TERN_ERR_BAD_FIELD: return "illegal_argument";
    case TERN_ERR_TOKEN_INVALID:
    case TERN_ERR_TOKEN_EXPIRED: return "unauthorized";
    case TERN_ERR_BAD_CREDENTIALS:
    case TERN_ERR_BAD_PASSWORD: return "invalid_grant";
    case TERN_ERR_FORBIDDEN: return "forbidden_op";
    case TERN_ERR_NOT_FOUND: return "service_resource_not_found";
    case TERN_ERR_APP_NOT_FOUND: return "application_not_found";
    case TERN_ERR_USER_NOT_FOUND: return "service_resource_not_found"; /* Easemob's name */
    case TERN_ERR_GROUP_NOT_FOUND: return "group_not_found";
    case TERN_ERR_GROUP_PERMISSION:
    case TERN_ERR_NOT_FRIEND:
    case TERN_ERR_GROUP_FULL: return "forbidden_op";
    case TERN_ERR_FRIENDS_FULL: return "exceed_limit";
    case TERN_ERR_FRIEND_SELF: return "illegal_argument";
    case TERN_ERR_CONFLICT: return "duplicate_unique_property_exists";
    case TERN_ERR_METHOD: return "method_not_allowed";
    case TERN_ERR_MSG_TOO_LONG: return "message_too_long";
    case TERN_ERR_SYSTEM_CONV: return "system_conversation";
    case TERN_ERR_TOO_MANY: return "too_many_items";
    case TERN_ERR_NOT_SUPPORTED: return "not_supported";
    case TERN_ERR_MODERATION: return "content_moderation";
    case TERN_ERR_CALLBACK_REJECTED: return "rejected_by_callback";
    case TERN_ERR_KEYWORDS_FULL: return "too_many_keywords";
    case TERN_ERR_RATE_LIMITED:
    case TERN_ERR_SEND_RATE: return "resource_limited";
    case TERN_ERR_MEDIA_EMPTY: return "file_empty";
    case TERN_ERR_MEDIA_EXPIRED: return "media_expired";
    case TERN_ERR_MEDIA_TOO_LARGE: return "file_too_large";
    case TERN_ERR_MEDIA_NO_LENGTH: return "length_required";
    case TERN_ERR_MEDIA_DISK_FULL: return "insufficient_storage";
    case TERN_ERR_MEDIA_NOT_FOUND: return "media_not_found";
    case TERN_ERR_MEDIA_INCOMPLETE: return "upload_incomplete";
    case TERN_ERR_MEDIA_OFFSET: return "upload_offset_mismatch";
    case TERN_ERR_MEDIA_NO_FILE: return "file_part_missing";
    case TERN_ERR_MEDIA_MULTIPART: return "multipart_malformed";
    case TERN_ERR_MEDIA_FORM_FIELD: return "form_field_unknown";
    case TERN_ERR_MEDIA_NOT_IMAGE: return "media_not_image";
    case TERN_ERR_MEDIA_NO_THUMB: return "no_thumbnail";
    default:
        if (rest_is_stream_code(code))
            return "message_send_error";
        return "internal_error";
    }
}

void rest_error_head(tern_buf *b, const char *name, int code, const char *description)
{
    tern_buf_printf(b, "{\"error\":\"%s\",\"code\":%d,\"error_description\":", name, code);
    tern_buf_json_str(b, description, strlen(description));
}

void rest_http_error(tern_buf *out, int status, const char *name, int code, const char *description)
{
    tern_buf body;
    tern_buf_init(&body, 0);
    rest_error_head(&body, name, code, description);
    tern_buf_putc(&body, '}');
    http_write_head(out, status, "application/json", body.len, 0, NULL);
    tern_buf_append(out, body.data, body.len);
    tern_buf_free(&body);
}

int rest_is_stream_code(int code)
{
    return (code >= TERN_ERR_STREAM_FROM && code <= TERN_ERR_STREAM_SEQ_TOO_SMALL) ||
           code == TERN_ERR_STREAM_GROUP_TOO_LARGE;
}

void rest_error_body(tern_buf *b, const rctx *x, int code)
{
    rest_error_body_desc(b, x, code, NULL,
                         code == TERN_ERR_RATE_LIMITED || code == TERN_ERR_SEND_RATE
                             ? "This request has reached api limit"
                             : tern_strerror(code));
}

void rest_error_body_desc(tern_buf *b, const rctx *x, int code, const char *name, const char *description)
{
    /* Easemob's members (error, exception, timestamp, duration, error_code,
     * error_description) and Tern's (code, path). */
    const char *exc = rest_is_stream_code(code)                                     ? "MessageSendException"
                      : code == TERN_ERR_RATE_LIMITED || code == TERN_ERR_SEND_RATE ? "ResourceLimitedException"
                                                                                    : "TernException";
    rest_error_head(b, name ? name : rest_error_name(code), code, description);
    tern_buf_printf(b, ",\"error_code\":%d,\"exception\":\"%s\",\"timestamp\":%lld,\"duration\":%lld,\"path\":", code,
                    exc, (long long)tern_now_ms(), (long long)(tern_now_ms() - x->start_ms));
    tern_buf_json_str(b, x->rel, strlen(x->rel));
    tern_buf_putc(b, '}');
}

/* The envelope up to its body members: {"path":..,"uri":..,..,"action":"..", */
static void envelope_head(tern_buf *b, const rctx *x)
{
    tern_buf_puts(b, "{\"path\":");
    tern_buf_json_str(b, x->rel, strlen(x->rel));
    tern_buf_puts(b, ",\"uri\":");
    tern_buf_json_str(b, x->uri, strlen(x->uri));
    tern_buf_printf(b, ",\"timestamp\":%lld,\"organization\":\"%s\",\"application\":\"%lld\",\"action\":\"%s\",",
                    (long long)tern_now_ms(), x->app.org, (long long)x->app.id, x->action);
}

static void envelope_tail(tern_buf *b, const rctx *x)
{
    tern_buf_printf(b, ",\"duration\":%lld,\"applicationName\":\"%s\"}", (long long)(tern_now_ms() - x->start_ms),
                    x->app.name);
}

void rest_envelope(tern_buf *b, const rctx *x, const char *data, size_t n, const char *extra)
{
    envelope_head(b, x);
    tern_buf_puts(b, "\"data\":");
    tern_buf_append(b, data, n);
    if (extra)
        tern_buf_puts(b, extra);
    envelope_tail(b, x);
}

void rest_envelope_members(tern_buf *b, const rctx *x, const char *members, size_t n)
{
    envelope_head(b, x);
    tern_buf_append(b, members, n);
    envelope_tail(b, x);
}
