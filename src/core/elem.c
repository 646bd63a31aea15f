/*
 * elem.c — the element type table and the generic string-field codec; see elem.h.
 * Today: TIMTextElem {text} and TIMCustomElem {data, description, extension}
 * (docs/protocol.md §4 send). The canonical form writes every field of the row, in row
 * order; an optional field that is absent is written as "".
 */
#include "core/elem.h"

#include <string.h>

#include "core/json.h"
#include "tern/errors.h"

static const tern_elem_field text_fields[] = {{"text", 1, 0}};
static const tern_elem_field custom_fields[] = {{"data", 0, 0}, {"description", 0, 0}, {"extension", 0, 0}};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const tern_elem_type table[] = {
    {"TIMTextElem", 1 /* TERN_MSG_TEXT */, text_fields, NFIELDS(text_fields), tern_elem_encode_strings,
     tern_elem_decode_strings},
    {"TIMCustomElem", 2 /* TERN_MSG_CUSTOM */, custom_fields, NFIELDS(custom_fields), tern_elem_encode_strings,
     tern_elem_decode_strings},
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
    /* Every key must be one of the row's: what the server would drop is refused. */
    const cJSON *k;
    cJSON_ArrayForEach(k, payload)
    {
        size_t i = 0;
        while (i < t->nfields && strcmp(k->string, t->fields[i].name) != 0)
            i++;
        if (i == t->nfields)
            return TERN_ERR_NOT_SUPPORTED;
    }
    return write_strings(t, s, len, 0, out);
}

void tern_elem_decode_strings(const tern_elem_type *t, const cJSON *payload, const char **vals)
{
    for (size_t i = 0; i < t->nfields; i++)
        vals[i] = tern_json_str(payload, t->fields[i].name);
}

int tern_elem_encode_values(const tern_elem_type *t, const char *const *vals, int omit_absent, tern_buf *out)
{
    size_t len[TERN_ELEM_MAX_FIELDS] = {0};
    for (size_t i = 0; i < t->nfields; i++) {
        len[i] = vals[i] ? strlen(vals[i]) : 0;
        if (!field_ok(&t->fields[i], vals[i], len[i]))
            return TERN_ERR_BAD_FIELD;
    }
    return write_strings(t, vals, len, omit_absent, out);
}
