/*
 * elem.c — the element type table and the generic string-field codec; see elem.h.
 * Today: TIMTextElem {text}, TIMCustomElem {data, description, extension},
 * TIMLocationElem {description, longitude, latitude}, TIMRelayElem (elem_merger.c) and the four media rows
 * TIMImageElem, TIMSoundElem, TIMVideoFileElem, TIMFileElem, whose codec is the spec
 * table media_spec below (docs/protocol.md §4 send). The
 * canonical form writes every field of the row, in row order; an optional string field
 * that is absent is written as "", a number in its shortest form that reads back equal.
 */
#include "core/elem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "tern/errors.h"

static const tern_elem_field text_fields[] = {{"text", 1, 0, 0}};
static const tern_elem_field custom_fields[] = {{"data", 0, 0, 0}, {"description", 0, 0, 0}, {"extension", 0, 0, 0}};
static const tern_elem_field location_fields[] = {
    {"description", 0, 0, 0}, {"longitude", 1, 0, 1}, {"latitude", 1, 0, 1}};
static const tern_elem_field face_fields[] = {{"index", 1, 0, 1}, {"data", 0, 0, 0}};

/* Media rows: the client's fields, in canonical order (thumbnail last). Numbers are
 * number fields, so libtern's drafts and the table's encode_values agree. */
static const tern_elem_field image_fields[] = {
    {"uuid", 1, 0, 0}, {"width", 0, 0, 1}, {"height", 0, 0, 1}, {"fileName", 0, 0, 0}, {"thumbnail", 0, 0, 0}};
static const tern_elem_field sound_fields[] = {{"uuid", 1, 0, 0}, {"second", 1, 0, 1}, {"fileName", 0, 0, 0}};
static const tern_elem_field video_fields[] = {
    {"videoUUID", 1, 0, 0},      {"videoSecond", 1, 0, 1}, {"snapshotUUID", 0, 0, 0}, {"snapshotWidth", 0, 0, 1},
    {"snapshotHeight", 0, 0, 1}, {"fileName", 0, 0, 0},    {"thumbnail", 0, 0, 0}};
static const tern_elem_field file_fields[] = {{"uuid", 1, 0, 0}, {"fileName", 0, 0, 0}};
/* TIMRelayElem: its own codec (elem_merger.c); the lists are read from the payload JSON. */
static const tern_elem_field merger_fields[] = {{"messageList", 1, 0, 0},  {"title", 0, 0, 0},
                                                {"abstractList", 0, 0, 0}, {"compatibleText", 1, 0, 0},
                                                {"downloadKey", 0, 0, 0},  {"layersOverLimit", 0, 0, 0}};

static int location_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out);
static void location_decode(const tern_elem_type *t, const cJSON *payload, const char **vals);
static int media_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out);
static int face_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out);
static void face_decode(const tern_elem_type *t, const cJSON *payload, const char **vals);
static int text_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out);

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const tern_elem_type table[] = {
    {"TIMTextElem", 1 /* TERN_MSG_TEXT */, text_fields, NFIELDS(text_fields), text_encode, tern_elem_decode_strings, 0,
     0},
    {"TIMCustomElem", 2 /* TERN_MSG_CUSTOM */, custom_fields, NFIELDS(custom_fields), tern_elem_encode_strings,
     tern_elem_decode_strings, 0, 0},
    {"TIMImageElem", 3 /* TERN_MSG_IMAGE */, image_fields, NFIELDS(image_fields), media_encode,
     tern_elem_decode_strings, 1, 0},
    {"TIMSoundElem", 4 /* TERN_MSG_SOUND */, sound_fields, NFIELDS(sound_fields), media_encode,
     tern_elem_decode_strings, 1, 0},
    {"TIMVideoFileElem", 5 /* TERN_MSG_VIDEO */, video_fields, NFIELDS(video_fields), media_encode,
     tern_elem_decode_strings, 1, 0},
    {"TIMFileElem", 6 /* TERN_MSG_FILE */, file_fields, NFIELDS(file_fields), media_encode, tern_elem_decode_strings, 1,
     0},
    {"TIMLocationElem", 7 /* TERN_MSG_LOCATION */, location_fields, NFIELDS(location_fields), location_encode,
     location_decode, 0, 0},
    {"TIMRelayElem", 9 /* TERN_MSG_MERGER */, merger_fields, NFIELDS(merger_fields), tern_elem_merger_encode,
     tern_elem_merger_decode, 0, 1},
    {"TIMFaceElem", 8 /* TERN_MSG_FACE */, face_fields, NFIELDS(face_fields), face_encode, face_decode, 0, 0},
};

const tern_elem_type *tern_elem_find(const char *s, size_t n)
{
    for (size_t i = 0; i < NFIELDS(table); i++)
        if (strlen(table[i].name) == n && !memcmp(table[i].name, s, n))
            return &table[i];
    return NULL;
}

const tern_elem_type *tern_elem_by_sdk_type(int sdk_type)
{
    for (size_t i = 0; sdk_type && i < NFIELDS(table); i++)
        if (table[i].sdk_type == sdk_type)
            return &table[i];
    return NULL;
}

const tern_elem_type *tern_elem_at(size_t i)
{
    return i < NFIELDS(table) ? &table[i] : NULL;
}

/* Appends the object from field values (s[i], len[i]); NULL s[i] is "" or, with
 * omit_absent, left out. */
static int write_strings(const tern_elem_type *t, const char *const *s, const size_t *len, int omit_absent,
                         tern_buf *out)
{
    int rc = tern_buf_putc(out, '{'), first = 1;
    for (size_t i = 0; i < t->nfields; i++) {
        if (omit_absent && !s[i])
            continue;
        rc |= tern_buf_puts(out, first ? "\"" : ",\"");
        first = 0;
        rc |= tern_buf_puts(out, t->fields[i].name);
        rc |= tern_buf_puts(out, "\":");
        rc |= tern_buf_json_str(out, s[i] ? s[i] : "", s[i] ? len[i] : 0);
    }
    rc |= tern_buf_putc(out, '}');
    return rc ? TERN_ERR_INTERNAL : TERN_OK;
}

/* Every key must be one of the row's: what the server would drop is refused. */
static int row_keys_only(const tern_elem_type *t, const cJSON *payload)
{
    const char *names[TERN_ELEM_MAX_FIELDS];
    for (size_t i = 0; i < t->nfields; i++)
        names[i] = t->fields[i].name;
    return tern_json_only_keys(payload, names, t->nfields);
}

static int field_ok(const tern_elem_field *f, const char *s, size_t n)
{
    if (!s)
        return !f->required;
    return !f->max || n <= f->max;
}

int tern_elem_encode_strings(const tern_elem_type *t, const cJSON *payload, tern_buf *out)
{
    if (!cJSON_IsObject(payload))
        return TERN_ERR_BAD_FIELD;
    const char *s[TERN_ELEM_MAX_FIELDS] = {0};
    size_t len[TERN_ELEM_MAX_FIELDS] = {0};
    for (size_t i = 0; i < t->nfields; i++) {
        tern_str v;
        int r = tern_json_get_str(payload, t->fields[i].name, &v);
        if (r == TERN_JSON_INVALID)
            return TERN_ERR_BAD_FIELD;
        if (r == TERN_JSON_OK) {
            s[i] = v.p;
            len[i] = v.n;
        }
        if (!field_ok(&t->fields[i], s[i], len[i]))
            return TERN_ERR_BAD_FIELD;
    }
    if (!row_keys_only(t, payload))
        return TERN_ERR_NOT_SUPPORTED;
    return write_strings(t, s, len, 0, out);
}

void tern_elem_decode_strings(const tern_elem_type *t, const cJSON *payload, const char **vals)
{
    for (size_t i = 0; i < t->nfields; i++)
        vals[i] = tern_json_str(payload, t->fields[i].name);
}

int tern_elem_put_number(tern_buf *out, double v)
{
    char num[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, v);
        if (strtod(num, NULL) == v)
            break;
    }
    return tern_buf_puts(out, num);
}

static int location_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out)
{
    if (!cJSON_IsObject(payload))
        return TERN_ERR_BAD_FIELD;
    tern_str desc = {"", 0};
    if (tern_json_get_str(payload, "description", &desc) == TERN_JSON_INVALID)
        return TERN_ERR_BAD_FIELD;
    const cJSON *lng = cJSON_GetObjectItemCaseSensitive(payload, "longitude");
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(payload, "latitude");
    if (!cJSON_IsNumber(lng) || !cJSON_IsNumber(lat) || !isfinite(lng->valuedouble) || !isfinite(lat->valuedouble) ||
        fabs(lng->valuedouble) > 180 || fabs(lat->valuedouble) > 90)
        return TERN_ERR_BAD_FIELD;
    if (!row_keys_only(t, payload))
        return TERN_ERR_NOT_SUPPORTED;
    int rc = tern_buf_puts(out, "{\"description\":");
    rc |= tern_buf_json_str(out, desc.p, desc.n);
    rc |= tern_buf_puts(out, ",\"longitude\":");
    rc |= tern_elem_put_number(out, lng->valuedouble);
    rc |= tern_buf_puts(out, ",\"latitude\":");
    rc |= tern_elem_put_number(out, lat->valuedouble);
    rc |= tern_buf_putc(out, '}');
    return rc ? TERN_ERR_INTERNAL : TERN_OK;
}

static void location_decode(const tern_elem_type *t, const cJSON *payload, const char **vals)
{
    vals[0] = tern_json_str(payload, "description");
    vals[1] = vals[2] = NULL; /* numbers: read the payload JSON */
}

/* TIMTextElem {text, atUserList?}: atUserList (an @ message, groups only: message.c
 * answers 1020 in C2C) is an array of 1..TERN_ELEM_MAX_AT distinct user ids or
 * TERN_ELEM_AT_ALL. Canonical {"text":".."} without a list (the bytes of every text
 * message before @), {"text":"..","atUserList":[..]} with one. */
static int text_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out)
{
    if (!cJSON_IsObject(payload))
        return TERN_ERR_BAD_FIELD;
    tern_str text;
    if (tern_json_get_str(payload, "text", &text) != TERN_JSON_OK)
        return TERN_ERR_BAD_FIELD;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(payload, "atUserList");
    int n = 0;
    if (at) {
        if (!cJSON_IsArray(at))
            return TERN_ERR_BAD_FIELD;
        const cJSON *e, *f;
        cJSON_ArrayForEach(e, at)
        {
            if (!cJSON_IsString(e))
                return TERN_ERR_BAD_FIELD;
            size_t len = strlen(e->valuestring);
            if (!tern_ident_valid(e->valuestring, len) && strcmp(e->valuestring, TERN_ELEM_AT_ALL) != 0)
                return TERN_ERR_BAD_FIELD;
            for (f = at->child; f != e; f = f->next)
                if (!strcmp(f->valuestring, e->valuestring))
                    return TERN_ERR_BAD_FIELD; /* distinct */
            if (++n > TERN_ELEM_MAX_AT)
                return TERN_ERR_TOO_MANY;
        }
        if (n == 0)
            return TERN_ERR_BAD_FIELD;
    }
    static const char *const keys[] = {"text", "atUserList"};
    if (!tern_json_only_keys(payload, keys, 2))
        return TERN_ERR_NOT_SUPPORTED;
    (void)t;
    int rc = tern_buf_puts(out, "{\"text\":");
    rc |= tern_buf_json_str(out, text.p, text.n);
    if (at) {
        rc |= tern_buf_puts(out, ",\"atUserList\":[");
        const cJSON *e;
        cJSON_ArrayForEach(e, at)
        {
            if (e != at->child)
                rc |= tern_buf_putc(out, ',');
            rc |= tern_buf_json_str(out, e->valuestring, strlen(e->valuestring));
        }
        rc |= tern_buf_putc(out, ']');
    }
    rc |= tern_buf_putc(out, '}');
    return rc ? TERN_ERR_INTERNAL : TERN_OK;
}

int tern_elem_text_has_at(const char *p, size_t n)
{
    /* The canonical form ends with the text's closing quote and '}' when it has no list
     * and with the list's ']' and '}' when it has one: one look, whatever the text. */
    return p && n >= 2 && p[n - 1] == '}' && p[n - 2] == ']';
}

/* TIMFaceElem {index, data}: index an integer in the int32 range (Tencent's number),
 * data an optional string; canonical {"index":N,"data":"..."}. */
static int face_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out)
{
    if (!cJSON_IsObject(payload))
        return TERN_ERR_BAD_FIELD;
    long long index;
    tern_str data = {"", 0};
    if (tern_json_int_value(cJSON_GetObjectItemCaseSensitive(payload, "index"), INT32_MIN, INT32_MAX, &index) != 0 ||
        tern_json_get_str(payload, "data", &data) == TERN_JSON_INVALID)
        return TERN_ERR_BAD_FIELD;
    if (!row_keys_only(t, payload))
        return TERN_ERR_NOT_SUPPORTED;
    int rc = tern_buf_printf(out, "{\"index\":%lld,\"data\":", index);
    rc |= tern_buf_json_str(out, data.p, data.n);
    rc |= tern_buf_putc(out, '}');
    return rc ? TERN_ERR_INTERNAL : TERN_OK;
}

static void face_decode(const tern_elem_type *t, const cJSON *payload, const char **vals)
{
    (void)t;
    vals[0] = NULL; /* a number: read the payload JSON */
    vals[1] = tern_json_str(payload, "data");
}

/* A decimal number's text (at most 40 bytes of [0-9+-.eE]) into *v; 0 or -1. */
static int parse_number(const char *s, double *v)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40 || strspn(s, "0123456789+-.eE") != n)
        return -1;
    char *end;
    *v = strtod(s, &end);
    return *end == 0 && isfinite(*v) ? 0 : -1;
}

/* encode_values of a row with number fields: the values as a JSON object, then the
 * row's own encode (the same checks and bytes as a client's payload). */
static int encode_values_via_json(const tern_elem_type *t, const char *const *vals, tern_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    int rc = o ? TERN_OK : TERN_ERR_INTERNAL;
    for (size_t i = 0; rc == TERN_OK && i < t->nfields; i++) {
        double v;
        if (!vals[i])
            continue;
        if (t->fields[i].number && parse_number(vals[i], &v) < 0)
            rc = TERN_ERR_BAD_FIELD;
        else if (!(t->fields[i].number ? cJSON_AddNumberToObject(o, t->fields[i].name, v)
                                       : cJSON_AddStringToObject(o, t->fields[i].name, vals[i])))
            rc = TERN_ERR_INTERNAL;
    }
    if (rc == TERN_OK)
        rc = t->encode(t, o, out);
    cJSON_Delete(o);
    return rc;
}

int tern_elem_encode_values(const tern_elem_type *t, const char *const *vals, int omit_absent, tern_buf *out)
{
    if (t->media)
        return encode_values_via_json(t, vals, out);
    if (t->merger)
        return tern_elem_merger_encode_values(t, vals, out);
    for (size_t i = 0; i < t->nfields; i++)
        if (t->fields[i].number)
            return encode_values_via_json(t, vals, out);
    size_t len[TERN_ELEM_MAX_FIELDS] = {0};
    for (size_t i = 0; i < t->nfields; i++) {
        len[i] = vals[i] ? strlen(vals[i]) : 0;
        if (!field_ok(&t->fields[i], vals[i], len[i]))
            return TERN_ERR_BAD_FIELD;
    }
    return write_strings(t, vals, len, omit_absent, out);
}

/* ---- media rows ------------------------------------------------------------------------
 * One spec per row: each key the client may send, what it must be, and whether it is a
 * field kept in the canonical form or a server-computed key accepted for forwarding and
 * dropped. */

enum { K_ID = 1, K_INT, K_STR, K_B64, X_STR, X_NUM, X_ARR, X_BOOLNUM };

typedef struct media_key {
    const char *name;
    int kind;
    long long lo, hi; /* K_INT */
} media_key;

#define MEDIA_MAX_KEYS 12

static const media_key image_spec[] = {{"uuid", K_ID, 0, 0},
                                       {"width", K_INT, 1, TERN_ELEM_MAX_DIM},
                                       {"height", K_INT, 1, TERN_ELEM_MAX_DIM},
                                       {"fileName", K_STR, 0, 0},
                                       {"thumbnail", K_B64, 0, 0},
                                       {"imageFormat", X_NUM, 0, 0},
                                       {"animated", X_BOOLNUM, 0, 0},
                                       {"imageInfoArray", X_ARR, 0, 0},
                                       {NULL, 0, 0, 0}};
static const media_key sound_spec[] = {{"uuid", K_ID, 0, 0},      {"second", K_INT, 0, TERN_ELEM_MAX_SECONDS},
                                       {"fileName", K_STR, 0, 0}, {"url", X_STR, 0, 0},
                                       {"size", X_NUM, 0, 0},     {NULL, 0, 0, 0}};
static const media_key video_spec[] = {{"videoUUID", K_ID, 0, 0},
                                       {"videoSecond", K_INT, 0, TERN_ELEM_MAX_SECONDS},
                                       {"snapshotUUID", K_ID, 0, 0},
                                       {"snapshotWidth", K_INT, 1, TERN_ELEM_MAX_DIM},
                                       {"snapshotHeight", K_INT, 1, TERN_ELEM_MAX_DIM},
                                       {"fileName", K_STR, 0, 0},
                                       {"thumbnail", K_B64, 0, 0},
                                       {"videoUrl", X_STR, 0, 0},
                                       {"videoSize", X_NUM, 0, 0},
                                       {"videoFormat", X_STR, 0, 0},
                                       {"snapshotUrl", X_STR, 0, 0},
                                       {NULL, 0, 0, 0}};
static const media_key file_spec[] = {{"uuid", K_ID, 0, 0},
                                      {"fileName", K_STR, 0, 0},
                                      {"fileUrl", X_STR, 0, 0},
                                      {"fileSize", X_NUM, 0, 0},
                                      {NULL, 0, 0, 0}};

static const media_key *spec_of(const tern_elem_type *t)
{
    if (t->fields == image_fields)
        return image_spec;
    if (t->fields == sound_fields)
        return sound_spec;
    if (t->fields == video_fields)
        return video_spec;
    return file_spec;
}

int tern_elem_media_id_ok(const char *s, size_t n)
{
    if (!s || n != TERN_ELEM_MEDIA_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

long tern_elem_base64_len(const char *s, size_t n)
{
    if (n % 4 || n > (size_t)0x3fffffff)
        return -1;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            if (i < n - 2 || ++pad > 2)
                return -1;
            continue;
        }
        if (pad ||
            !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return -1;
    }
    /* "x=" with a non-pad after '=' is refused above; "==" alone needs i >= n - 2. */
    if (pad == 2 && s[n - 2] != '=')
        return -1;
    return (long)(n / 4 * 3 - pad);
}

size_t tern_elem_thumb_span(const char *p, size_t n, size_t *member_n, size_t *b64_n)
{
    static const char key[] = ",\"thumbnail\":\"";
    const size_t kn = sizeof key - 1;
    *member_n = *b64_n = 0;
    if (n < kn + 2 || p[n - 1] != '}' || p[n - 2] != '"')
        return 0;
    /* The value is base64: no quote and no backslash inside, so the quote before the
     * closing one opens it. */
    size_t q = n - 2;
    while (q > 0 && p[q - 1] != '"')
        q--;
    if (q < kn || memcmp(p + q - kn, key, kn) != 0)
        return 0;
    *b64_n = n - 2 - q;
    *member_n = kn + *b64_n + 1;
    long raw = tern_elem_base64_len(p + q, *b64_n);
    return raw > 0 ? (size_t)raw : 0;
}

/* Checks one present value v of key k: TERN_OK, 1003 or 7006 (a malformed media id). */
static int media_value_ok(const media_key *k, const cJSON *v)
{
    long long iv;
    switch (k->kind) {
    case K_ID:
        if (!cJSON_IsString(v))
            return TERN_ERR_BAD_FIELD;
        return tern_elem_media_id_ok(v->valuestring, strlen(v->valuestring)) ? TERN_OK : TERN_ERR_MEDIA_NOT_FOUND;
    case K_INT: return tern_json_int_value(v, k->lo, k->hi, &iv) == 0 ? TERN_OK : TERN_ERR_BAD_FIELD;
    case K_STR:
        return cJSON_IsString(v) && strlen(v->valuestring) <= TERN_ELEM_MAX_FILE_NAME ? TERN_OK : TERN_ERR_BAD_FIELD;
    case K_B64:
        return cJSON_IsString(v) && tern_elem_base64_len(v->valuestring, strlen(v->valuestring)) >= 0
                   ? TERN_OK
                   : TERN_ERR_BAD_FIELD;
    case X_STR: return cJSON_IsString(v) ? TERN_OK : TERN_ERR_BAD_FIELD;
    case X_NUM: return cJSON_IsNumber(v) ? TERN_OK : TERN_ERR_BAD_FIELD;
    case X_ARR: return cJSON_IsArray(v) ? TERN_OK : TERN_ERR_BAD_FIELD;
    default: /* X_BOOLNUM */ return cJSON_IsBool(v) || cJSON_IsNumber(v) ? TERN_OK : TERN_ERR_BAD_FIELD;
    }
}

static int media_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out)
{
    if (!cJSON_IsObject(payload))
        return TERN_ERR_BAD_FIELD;
    const media_key *spec = spec_of(t);
    const char *names[MEDIA_MAX_KEYS];
    size_t nk = 0;
    int rc = TERN_OK;
    /* Type errors first (1003, 7006), then unknown keys (1012), as the other rows do. */
    for (const media_key *k = spec; k->name; k++) {
        names[nk++] = k->name;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, k->name);
        int r = v && !cJSON_IsNull(v) ? media_value_ok(k, v) : TERN_OK;
        if (r != TERN_OK && (rc == TERN_OK || r == TERN_ERR_BAD_FIELD))
            rc = r; /* a wrong type anywhere wins over a malformed id */
    }
    for (size_t i = 0; rc == TERN_OK && i < t->nfields; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, t->fields[i].name);
        if (t->fields[i].required && (!v || cJSON_IsNull(v)))
            rc = TERN_ERR_BAD_FIELD;
    }
    if (rc != TERN_OK)
        return rc;
    if (!tern_json_only_keys(payload, names, nk))
        return TERN_ERR_NOT_SUPPORTED;
    /* The canonical form: the row's fields that are present, in row order. */
    int w = tern_buf_putc(out, '{'), first = 1;
    for (size_t i = 0; i < t->nfields; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, t->fields[i].name);
        if (!v || cJSON_IsNull(v))
            continue;
        w |= tern_buf_puts(out, first ? "\"" : ",\"");
        first = 0;
        w |= tern_buf_puts(out, t->fields[i].name);
        w |= tern_buf_puts(out, "\":");
        if (t->fields[i].number)
            w |= tern_buf_printf(out, "%lld", (long long)v->valuedouble);
        else
            w |= tern_buf_json_str(out, v->valuestring, strlen(v->valuestring));
    }
    w |= tern_buf_putc(out, '}');
    return w ? TERN_ERR_INTERNAL : TERN_OK;
}
