/*
 * elem_msg.c — libtern's message types of issue 10 (docs/sdk.md "More message types"):
 * the builders tern_create_text_at_message, _face_, _location_, _merger_ and
 * _forward_message, the accessors of their fields, and tern_download_merger_message.
 *
 * A draft's payload is written here as the client form the server takes
 * (docs/protocol.md §4); the fields an accessor returns are read back from the payload
 * JSON the first time one is asked for (sdk_elem_fields, published with a
 * compare-and-swap like the other lazy parts of a message), so a received message, a
 * draft and a forwarded copy all answer the same way and nothing is parsed for a message
 * whose fields nobody reads.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/elem.h"
#include "core/json.h"
#include "core/util.h"
#include "sdk/message.h"
#include "sdk/sdk.h"
#include "sdk/sdk_util.h"

#define MERGER_MAX_MSGS 300 /* messageList entries (server: TERN_MERGER_MAX_MSGS) */
#define MERGER_MAX_TITLE 256
#define MERGER_MAX_ABSTRACTS 10
#define MERGER_MAX_ABSTRACT 256
#define MERGER_MAX_COMPAT 1024

struct sdk_elem_fields {
    int face_index;
    char *face_data;
    char *loc_desc;
    double lon, lat;
    char **at;
    size_t nat;
    char *title, *compat, *key;
    char **abstracts;
    size_t nabs;
    size_t nmsgs;
    int layers;
    char *messages; /* a merger's messageList as compact JSON, or NULL */
};

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tern_free(v[i]);
    tern_free(v);
}

void sdk_elem_fields_free(sdk_elem_fields *f)
{
    if (!f)
        return;
    tern_free(f->face_data);
    tern_free(f->loc_desc);
    free_list(f->at, f->nat);
    tern_free(f->title);
    tern_free(f->compat);
    tern_free(f->key);
    free_list(f->abstracts, f->nabs);
    tern_free(f->messages);
    tern_free(f);
}

static char *dup_str(const cJSON *o, const char *name)
{
    const char *v = tern_json_str(o, name);
    return v ? tern_strdup(v) : NULL;
}

/* The strings of array o[name] (other entries skipped) into *out, their number. */
static size_t dup_strings(const cJSON *o, const char *name, char ***out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name), *e;
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(a);
    *out = NULL;
    if (!cJSON_IsArray(a) || !cap)
        return 0;
    *out = tern_calloc(cap, sizeof **out);
    cJSON_ArrayForEach(e, a)
    {
        if (cJSON_IsString(e) && n < cap)
            (*out)[n++] = tern_strdup(e->valuestring);
    }
    return n;
}

static sdk_elem_fields *parse_fields(const tern_message *m)
{
    sdk_elem_fields *f = tern_calloc(1, sizeof *f);
    const char *pl = tern_message_payload_json(m);
    cJSON *p = NULL;
    if (tern_json_parse(pl, strlen(pl), &p) != TERN_OK || !cJSON_IsObject(p)) {
        cJSON_Delete(p);
        return f;
    }
    const cJSON *v;
    switch ((int)m->type) {
    case TERN_MSG_TEXT: f->nat = dup_strings(p, "atUserList", &f->at); break;
    case TERN_MSG_FACE:
        v = cJSON_GetObjectItemCaseSensitive(p, "index");
        f->face_index = cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
        f->face_data = dup_str(p, "data");
        break;
    case TERN_MSG_LOCATION:
        f->loc_desc = dup_str(p, "description");
        v = cJSON_GetObjectItemCaseSensitive(p, "longitude");
        f->lon = cJSON_IsNumber(v) ? v->valuedouble : 0;
        v = cJSON_GetObjectItemCaseSensitive(p, "latitude");
        f->lat = cJSON_IsNumber(v) ? v->valuedouble : 0;
        break;
    case TERN_MSG_MERGER:
        f->title = dup_str(p, "title");
        f->compat = dup_str(p, "compatibleText");
        f->key = dup_str(p, "downloadKey");
        f->nabs = dup_strings(p, "abstractList", &f->abstracts);
        f->layers = tern_json_true(p, "layersOverLimit");
        v = cJSON_GetObjectItemCaseSensitive(p, "messageList");
        if (cJSON_IsArray(v)) {
            f->nmsgs = (size_t)cJSON_GetArraySize(v);
            char *s = cJSON_PrintUnformatted(v);
            f->messages = s ? tern_strdup(s) : NULL;
            cJSON_free(s);
        }
        break;
    default: break;
    }
    cJSON_Delete(p);
    return f;
}

/* The message's fields, parsed on first use; NULL for NULL. */
static const sdk_elem_fields *fields_of(const tern_message *msg)
{
    tern_message *m = (tern_message *)msg;
    if (!m)
        return NULL;
    sdk_elem_fields *f = atomic_load(&m->elem), *expected = NULL;
    if (f)
        return f;
    f = parse_fields(m);
    if (atomic_compare_exchange_strong(&m->elem, &expected, f))
        return f;
    sdk_elem_fields_free(f);
    return expected;
}

/* Replaces a draft's payload (owned text) and drops the fields read from the old one. */
static void set_payload(tern_message *m, char *payload)
{
    tern_free(atomic_exchange(&m->payload_json, payload));
    sdk_elem_fields_free(atomic_exchange(&m->elem, NULL));
}

/* ---- builders ---------------------------------------------------------------------- */

/* A draft of type mtype/name from the client's user to (conv_type, to) with the payload
 * in pl (taken), or NULL (pl freed) if the target is invalid. */
static tern_message *draft(tern_client *c, int mtype, const char *name, tern_conv_type conv_type, const char *to,
                           tern_buf *pl)
{
    tern_message *m = c ? sdk_msg_new_bare_draft(tern_client_user(c), mtype, name) : NULL;
    if (!m || tern_message_set_target(m, conv_type, to) != TERN_OK) {
        tern_message_release(m);
        tern_buf_free(pl);
        return NULL;
    }
    set_payload(m, tern_buf_steal(pl, NULL));
    return m;
}

/* Appends ,"atUserList":[...] after checking the list: 1..TERN_SDK_MAX_AT distinct
 * entries, each an identifier or TERN_AT_ALL. Returns 0, or -1 (nothing appended). */
static int put_at_list(tern_buf *b, const char *const *at, size_t n)
{
    if (!at || n < 1 || n > TERN_SDK_MAX_AT || !sdk_id_list_ok(at, n, 1))
        return -1;
    tern_buf_puts(b, ",\"atUserList\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            tern_buf_putc(b, ',');
        tern_buf_json_str(b, at[i], strlen(at[i]));
    }
    tern_buf_putc(b, ']');
    return 0;
}

int sdk_msg_set_at_users(tern_message *m, const char *const *at, size_t n)
{
    if (!m || m->type != TERN_MSG_TEXT || !m->text)
        return TERN_ERR_SDK_INVALID_ARG;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"text\":");
    tern_buf_json_str(&b, m->text, strlen(m->text));
    if (put_at_list(&b, at, n) < 0) {
        tern_buf_free(&b);
        return TERN_ERR_SDK_INVALID_ARG;
    }
    tern_buf_putc(&b, '}');
    set_payload(m, tern_buf_steal(&b, NULL));
    return TERN_OK;
}

TERN_API tern_message *tern_create_text_at_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                   const char *text, const char *const *at_users, size_t at_user_count)
{
    if (!client || conv_type != TERN_CONV_GROUP)
        return NULL;
    tern_message *m = tern_create_text_message(client, conv_type, to, text);
    if (m && sdk_msg_set_at_users(m, at_users, at_user_count) != TERN_OK) {
        tern_message_release(m);
        return NULL;
    }
    return m;
}

TERN_API tern_message *tern_create_face_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                int index, const char *data)
{
    if (data && !sdk_str_ok(data, 0, 0))
        return NULL;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_printf(&b, "{\"index\":%d,\"data\":", index);
    tern_buf_json_str(&b, data ? data : "", data ? strlen(data) : 0);
    tern_buf_putc(&b, '}');
    return draft(client, TERN_MSG_FACE, "TIMFaceElem", conv_type, to, &b);
}

TERN_API tern_message *tern_create_location_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                    const char *description, double longitude, double latitude)
{
    if (!isfinite(longitude) || !isfinite(latitude) || fabs(longitude) > 180 || fabs(latitude) > 90 ||
        (description && !sdk_str_ok(description, 0, 0)))
        return NULL;
    const tern_elem_type *et = tern_elem_by_sdk_type(TERN_MSG_LOCATION);
    char lon[32], lat[32];
    snprintf(lon, sizeof lon, "%.17g", longitude);
    snprintf(lat, sizeof lat, "%.17g", latitude);
    const char *vals[TERN_ELEM_MAX_FIELDS] = {description ? description : "", lon, lat};
    tern_buf b;
    tern_buf_init(&b, 0);
    if (!et || tern_elem_encode_values(et, vals, 0, &b) != TERN_OK) {
        tern_buf_free(&b);
        return NULL;
    }
    return draft(client, TERN_MSG_LOCATION, et->name, conv_type, to, &b);
}

static int msg_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 20 && strspn(s, "0123456789") == n;
}

TERN_API tern_message *tern_create_merger_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                  const char *const *msg_ids, size_t count, const char *title,
                                                  const char *const *abstracts, size_t abstract_count,
                                                  const char *compatible_text)
{
    if (!msg_ids || count < 1 || count > MERGER_MAX_MSGS || !compatible_text || !*compatible_text ||
        !sdk_str_ok(compatible_text, MERGER_MAX_COMPAT, 0) || (title && !sdk_str_ok(title, MERGER_MAX_TITLE, 0)) ||
        abstract_count > MERGER_MAX_ABSTRACTS || (abstract_count && !abstracts))
        return NULL;
    for (size_t i = 0; i < count; i++)
        if (!msg_id_ok(msg_ids[i]))
            return NULL;
    for (size_t i = 0; i < abstract_count; i++)
        if (!abstracts[i] || !sdk_str_ok(abstracts[i], MERGER_MAX_ABSTRACT, 0))
            return NULL;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"messageList\":[");
    for (size_t i = 0; i < count; i++)
        tern_buf_printf(&b, "%s\"%s\"", i ? "," : "", msg_ids[i]);
    tern_buf_puts(&b, "],\"title\":");
    tern_buf_json_str(&b, title ? title : "", title ? strlen(title) : 0);
    tern_buf_puts(&b, ",\"abstractList\":[");
    for (size_t i = 0; i < abstract_count; i++) {
        if (i)
            tern_buf_putc(&b, ',');
        tern_buf_json_str(&b, abstracts[i], strlen(abstracts[i]));
    }
    tern_buf_puts(&b, "],\"compatibleText\":");
    tern_buf_json_str(&b, compatible_text, strlen(compatible_text));
    tern_buf_putc(&b, '}');
    return draft(client, TERN_MSG_MERGER, "TIMRelayElem", conv_type, to, &b);
}

TERN_API tern_message *tern_create_forward_message(tern_client *client, const tern_message *src,
                                                   tern_conv_type conv_type, const char *to)
{
    int st = src ? (int)tern_message_status(src) : TERN_MSG_STATUS_DRAFT;
    if (!client || (st != TERN_MSG_STATUS_SENT && st != TERN_MSG_STATUS_RECEIVED) || !src->type_name)
        return NULL;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, tern_message_payload_json(src));
    tern_message *m = draft(client, (int)src->type, src->type_name, conv_type, to, &b);
    if (!m)
        return NULL;
    /* The fields the SDK keeps beside the payload (text, custom, media) come along. */
    m->text = src->text ? tern_strdup(src->text) : NULL;
    m->c_data = src->c_data ? tern_strdup(src->c_data) : NULL;
    m->c_desc = src->c_desc ? tern_strdup(src->c_desc) : NULL;
    m->c_ext = src->c_ext ? tern_strdup(src->c_ext) : NULL;
    m->media = sdk_media_fields_dup(src->media);
    return m;
}

/* ---- accessors --------------------------------------------------------------------- */

static const sdk_elem_fields *of_type(const tern_message *m, int type)
{
    return m && (int)m->type == type ? fields_of(m) : NULL;
}

TERN_API int tern_message_face_index(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_FACE);
    return f ? f->face_index : 0;
}

TERN_API const char *tern_message_face_data(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_FACE);
    return f ? f->face_data : NULL;
}

TERN_API const char *tern_message_location_description(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_LOCATION);
    return f ? f->loc_desc : NULL;
}

TERN_API double tern_message_location_longitude(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_LOCATION);
    return f ? f->lon : 0;
}

TERN_API double tern_message_location_latitude(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_LOCATION);
    return f ? f->lat : 0;
}

TERN_API size_t tern_message_at_user_count(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_TEXT);
    return f ? f->nat : 0;
}

TERN_API const char *tern_message_at_user(const tern_message *msg, size_t i)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_TEXT);
    return f && i < f->nat ? f->at[i] : NULL;
}

TERN_API const char *tern_message_merger_title(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_MERGER);
    return f ? f->title : NULL;
}

TERN_API const char *tern_message_merger_compatible_text(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_MERGER);
    return f ? f->compat : NULL;
}

TERN_API size_t tern_message_merger_abstract_count(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_MERGER);
    return f ? f->nabs : 0;
}

TERN_API const char *tern_message_merger_abstract(const tern_message *msg, size_t i)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_MERGER);
    return f && i < f->nabs ? f->abstracts[i] : NULL;
}

TERN_API size_t tern_message_merger_message_count(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_MERGER);
    return f ? f->nmsgs : 0;
}

TERN_API const char *tern_message_merger_download_key(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_MERGER);
    return f ? (f->key ? f->key : "") : NULL;
}

TERN_API int tern_message_merger_layers_over_limit(const tern_message *msg)
{
    const sdk_elem_fields *f = of_type(msg, TERN_MSG_MERGER);
    return f ? f->layers : 0;
}

const char *sdk_msg_merger_list_json(const tern_message *m)
{
    const sdk_elem_fields *f = of_type(m, TERN_MSG_MERGER);
    return f ? f->messages : NULL;
}

int sdk_elem_type_of(const char *type_name)
{
    return !type_name                           ? 0
           : !strcmp(type_name, "TIMFaceElem")  ? TERN_MSG_FACE
           : !strcmp(type_name, "TIMRelayElem") ? TERN_MSG_MERGER
                                                : 0;
}
