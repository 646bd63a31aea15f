/*
 * elem_merger.c — the codec of TIMRelayElem, the merger message (Tencent's
 * createMergerMessage, seed 001 "创建合并消息"; docs/protocol.md §4 "Merger messages").
 *
 * What a client sends (the client form, checked here on both sides):
 *   {"messageList":[<msgId> | {"msgId":"..",...}, ...],   1..TERN_MERGER_MAX_MSGS entries
 *    "title":"..",                  optional, <= TERN_MERGER_MAX_TITLE bytes
 *    "abstractList":["..",..],      optional, <= TERN_MERGER_MAX_ABSTRACTS strings of
 *                                   <= TERN_MERGER_MAX_ABSTRACT bytes
 *    "compatibleText":"..",         required, 1..TERN_MERGER_MAX_COMPAT bytes
 *    "downloadKey":"" | <64 hex>,   optional: a received merger sent again (forward)
 *    "layersOverLimit":bool}        optional, recomputed by the server
 * messageList may be empty only with a downloadKey (a received big merger). Entries are
 * kept as given (a string, or the object compacted): the server resolves them for the
 * sender and stores the message objects they name (server/merger.h). The canonical form
 * writes every member, in the order above. A wrong type or bound is 1003, an unknown key
 * 1012 (type errors first, as the other rows).
 */
#include <stdlib.h>
#include <string.h>

#include "core/elem.h"
#include "core/json.h"
#include "tern/errors.h"

static int msgid_text_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 20 && strspn(s, "0123456789") == n;
}

int tern_elem_merger_key_ok(const char *s, size_t n)
{
    if (n == 0)
        return 1;
    if (n != TERN_MERGER_KEY_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

const char *tern_elem_merger_entry_id(const cJSON *e)
{
    if (cJSON_IsObject(e))
        e = cJSON_GetObjectItemCaseSensitive(e, "msgId");
    return cJSON_IsString(e) && msgid_text_ok(e->valuestring) ? e->valuestring : NULL;
}

static int str_ok(const cJSON *p, const char *name, size_t lo, size_t hi, int required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
    if (!v || cJSON_IsNull(v))
        return !required;
    if (!cJSON_IsString(v))
        return 0;
    size_t n = strlen(v->valuestring);
    return n >= lo && n <= hi;
}

/* Appends "name":<string or "">. */
static int put_str(tern_buf *out, const cJSON *p, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    int rc = tern_buf_putc(out, '"') | tern_buf_puts(out, name) | tern_buf_puts(out, "\":");
    return rc | tern_buf_json_str(out, s, strlen(s));
}

/* Appends a JSON value compacted (cJSON's printer, freed with cJSON_free). */
static int put_value(tern_buf *out, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s)
        return -1;
    int rc = tern_buf_puts(out, s);
    cJSON_free(s);
    return rc;
}

int tern_elem_merger_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out)
{
    if (!cJSON_IsObject(payload))
        return TERN_ERR_BAD_FIELD;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(payload, "messageList");
    const cJSON *abs = cJSON_GetObjectItemCaseSensitive(payload, "abstractList");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(payload, "downloadKey");
    const cJSON *over = cJSON_GetObjectItemCaseSensitive(payload, "layersOverLimit");
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > TERN_MERGER_MAX_MSGS)
        return TERN_ERR_BAD_FIELD;
    const char *kv = key && !cJSON_IsNull(key) ? cJSON_GetStringValue(key) : NULL;
    if (key && !cJSON_IsNull(key) && (!kv || !tern_elem_merger_key_ok(kv, strlen(kv))))
        return TERN_ERR_BAD_FIELD;
    int has_key = kv && kv[0];
    if (!has_key && cJSON_GetArraySize(list) == 0)
        return TERN_ERR_BAD_FIELD;
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        if (!tern_elem_merger_entry_id(e))
            return TERN_ERR_BAD_FIELD;
    }
    if (abs && !cJSON_IsNull(abs)) {
        if (!cJSON_IsArray(abs) || cJSON_GetArraySize(abs) > TERN_MERGER_MAX_ABSTRACTS)
            return TERN_ERR_BAD_FIELD;
        cJSON_ArrayForEach(e, abs)
        {
            if (!cJSON_IsString(e) || strlen(e->valuestring) > TERN_MERGER_MAX_ABSTRACT)
                return TERN_ERR_BAD_FIELD;
        }
    }
    if (!str_ok(payload, "title", 0, TERN_MERGER_MAX_TITLE, 0) ||
        !str_ok(payload, "compatibleText", 1, TERN_MERGER_MAX_COMPAT, 1) ||
        (over && !cJSON_IsNull(over) && !cJSON_IsBool(over)))
        return TERN_ERR_BAD_FIELD;
    const char *names[TERN_ELEM_MAX_FIELDS];
    for (size_t i = 0; i < t->nfields; i++)
        names[i] = t->fields[i].name;
    if (!tern_json_only_keys(payload, names, t->nfields))
        return TERN_ERR_NOT_SUPPORTED;

    int rc = tern_buf_puts(out, "{\"messageList\":[");
    int first = 1;
    cJSON_ArrayForEach(e, list)
    {
        rc |= first ? 0 : tern_buf_putc(out, ',');
        first = 0;
        rc |= put_value(out, e);
    }
    rc |= tern_buf_puts(out, "],");
    rc |= put_str(out, payload, "title");
    rc |= tern_buf_puts(out, ",\"abstractList\":[");
    first = 1;
    const cJSON *abs_list = cJSON_IsArray(abs) ? abs : NULL;
    cJSON_ArrayForEach(e, abs_list)
    {
        rc |= first ? 0 : tern_buf_putc(out, ',');
        first = 0;
        rc |= tern_buf_json_str(out, e->valuestring, strlen(e->valuestring));
    }
    rc |= tern_buf_puts(out, "],");
    rc |= put_str(out, payload, "compatibleText");
    rc |= tern_buf_putc(out, ',');
    rc |= put_str(out, payload, "downloadKey");
    rc |= tern_buf_puts(out, cJSON_IsTrue(over) ? ",\"layersOverLimit\":true}" : ",\"layersOverLimit\":false}");
    return rc ? TERN_ERR_INTERNAL : TERN_OK;
}

void tern_elem_merger_decode(const tern_elem_type *t, const cJSON *payload, const char **vals)
{
    for (size_t i = 0; i < t->nfields; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, t->fields[i].name);
        vals[i] = cJSON_IsString(v) ? v->valuestring : NULL; /* the lists: read the payload JSON */
    }
}

int tern_elem_merger_encode_values(const tern_elem_type *t, const char *const *vals, tern_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    int rc = o ? TERN_OK : TERN_ERR_INTERNAL;
    for (size_t i = 0; rc == TERN_OK && i < t->nfields; i++) {
        if (!vals[i])
            continue;
        const char *name = t->fields[i].name;
        cJSON *v;
        /* messageList, abstractList: JSON array texts; layersOverLimit: "true"/"false" */
        if (!strcmp(name, "messageList") || !strcmp(name, "abstractList") || !strcmp(name, "layersOverLimit")) {
            v = cJSON_Parse(vals[i]);
            if (!v)
                rc = TERN_ERR_BAD_FIELD;
        } else {
            v = cJSON_CreateString(vals[i]);
            if (!v)
                rc = TERN_ERR_INTERNAL;
        }
        if (v && !cJSON_AddItemToObject(o, name, v)) {
            cJSON_Delete(v);
            rc = TERN_ERR_INTERNAL;
        }
    }
    if (rc == TERN_OK)
        rc = t->encode(t, o, out);
    cJSON_Delete(o);
    return rc;
}
