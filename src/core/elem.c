/*
 * elem.c — the element type table and the generic string-field codec; see elem.h.
 * Today: TIMTextElem {text}, TIMCustomElem {data, description, extension} and
 * TIMLocationElem {description, longitude, latitude} (docs/protocol.md §4 send). The
 * canonical form writes every field of the row, in row order; an optional string field
 * that is absent is written as "", a number in its shortest form that reads back equal.
 */
#include "core/elem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "tern/errors.h"

static const tern_elem_field text_fields[] = {{"text", 1, 0, 0}};
static const tern_elem_field custom_fields[] = {{"data", 0, 0, 0}, {"description", 0, 0, 0}, {"extension", 0, 0, 0}};
static const tern_elem_field location_fields[] = {
    {"description", 0, 0, 0}, {"longitude", 1, 0, 1}, {"latitude", 1, 0, 1}};

static int location_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out);
static void location_decode(const tern_elem_type *t, const cJSON *payload, const char **vals);

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const tern_elem_type table[] = {
    {"TIMTextElem", 1 /* TERN_MSG_TEXT */, text_fields, NFIELDS(text_fields), tern_elem_encode_strings,
     tern_elem_decode_strings},
    {"TIMCustomElem", 2 /* TERN_MSG_CUSTOM */, custom_fields, NFIELDS(custom_fields), tern_elem_encode_strings,
     tern_elem_decode_strings},
    /* libtern has no constant for it yet: apps read its payload JSON. */
    {"TIMLocationElem", 0, location_fields, NFIELDS(location_fields), location_encode, location_decode},
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
