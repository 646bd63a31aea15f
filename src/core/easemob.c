/*
 * easemob.c — Easemob message bodies to and from Tern's element types (easemob.h).
 * Both directions go through the element table (elem.c), so an Easemob send is held to
 * the same canonical form and limits as a WebSocket send of the same element.
 */
#include "core/easemob.h"

#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "tern/errors.h"

/* A coordinate as Easemob sends it (a decimal string) or exports it (a number), as
 * text for tern_elem_encode_values; NULL if absent or neither. */
static const char *coord_text(const cJSON *body, const char *name, char *buf, size_t bufsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    if (cJSON_IsString(v))
        return v->valuestring;
    if (!cJSON_IsNumber(v))
        return NULL;
    snprintf(buf, bufsz, "%.17g", v->valuedouble);
    return buf;
}

static int event_ok(const char *s)
{
    size_t n = strlen(s);
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/.";
    return n >= 1 && n <= TERN_EM_MAX_CUSTOM_EVENT && strspn(s, ok) == n;
}

/* customExts: an object of at most 16 string values; its JSON text into *out (cJSON's,
 * the caller frees with cJSON_free), or NULL when absent. TERN_OK, 1003 or 5001. */
static int custom_exts(const cJSON *body, char **out)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "customExts");
    *out = NULL;
    if (!e)
        return TERN_OK;
    if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) > TERN_EM_MAX_CUSTOM_EXTS)
        return TERN_ERR_BAD_FIELD;
    const cJSON *it;
    cJSON_ArrayForEach(it, e)
    {
        if (!cJSON_IsString(it))
            return TERN_ERR_BAD_FIELD;
    }
    *out = cJSON_PrintUnformatted(e);
    return *out ? TERN_OK : TERN_ERR_INTERNAL;
}

int tern_em_body_to_msg(const char *type, const cJSON *body, tern_msg *m)
{
    static const char *const txt_keys[] = {"msg"}, *const loc_keys[] = {"lat", "lng", "addr"},
                             *const custom_keys[] = {"customEvent", "customExts"}, *const cmd_keys[] = {"action"};
    static const char *const media[] = {"img", "audio", "video", "file"};
    if (!type)
        return TERN_ERR_BAD_FIELD;
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++)
        if (!strcmp(type, media[i]))
            return TERN_ERR_UNSUPPORTED_TYPE;
    int is_txt = !strcmp(type, "txt"), is_loc = !strcmp(type, "loc"), is_custom = !strcmp(type, "custom"),
        is_cmd = !strcmp(type, "cmd");
    if (!is_txt && !is_loc && !is_custom && !is_cmd)
        return TERN_ERR_UNSUPPORTED_TYPE;
    if (!cJSON_IsObject(body))
        return TERN_ERR_BAD_FIELD;
    if (!(is_txt   ? tern_json_only_keys(body, txt_keys, 1)
          : is_loc ? tern_json_only_keys(body, loc_keys, 3)
          : is_cmd ? tern_json_only_keys(body, cmd_keys, 1)
                   : tern_json_only_keys(body, custom_keys, 2)))
        return TERN_ERR_NOT_SUPPORTED;
    const cJSON *addr = cJSON_GetObjectItemCaseSensitive(body, "addr");
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(body, "customEvent");
    if ((addr && !cJSON_IsString(addr)) || (event && (!cJSON_IsString(event) || !event_ok(event->valuestring))))
        return TERN_ERR_BAD_FIELD;
    if (is_txt) {
        const char *text = tern_json_str(body, "msg");
        m->elem = tern_elem_find("TIMTextElem", 11);
        return text ? tern_elem_encode_values(m->elem, &text, 0, &m->payload) : TERN_ERR_BAD_FIELD;
    }
    if (is_loc) {
        char lat[40], lng[40];
        const char *vals[3] = {addr ? addr->valuestring : NULL, coord_text(body, "lng", lng, sizeof lng),
                               coord_text(body, "lat", lat, sizeof lat)};
        m->elem = tern_elem_find("TIMLocationElem", 15);
        return vals[1] && vals[2] ? tern_elem_encode_values(m->elem, vals, 0, &m->payload) : TERN_ERR_BAD_FIELD;
    }
    m->elem = tern_elem_find("TIMCustomElem", 13);
    if (is_cmd) {
        const char *action = tern_json_str(body, "action");
        const char *vals[3] = {action, "cmd", NULL};
        return action && *action ? tern_elem_encode_values(m->elem, vals, 0, &m->payload) : TERN_ERR_BAD_FIELD;
    }
    char *exts = NULL;
    int rc = custom_exts(body, &exts);
    if (rc == TERN_OK) {
        const char *vals[3] = {event ? event->valuestring : NULL, "custom", exts};
        rc = tern_elem_encode_values(m->elem, vals, 0, &m->payload);
    }
    if (exts)
        cJSON_free(exts);
    return rc;
}

/* Appends "name":<the payload's number field, in its shortest exact form>. */
static void put_coord(tern_buf *out, const char *name, const cJSON *payload, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, field);
    tern_buf_printf(out, "\"%s\":", name);
    tern_elem_put_number(out, cJSON_IsNumber(v) ? v->valuedouble : 0.0);
}

static void put_str(tern_buf *out, const char *name, const char *v)
{
    tern_buf_printf(out, "\"%s\":", name);
    tern_buf_json_str(out, v ? v : "", v ? strlen(v) : 0);
}

static int custom_body(const cJSON *payload, tern_buf *out)
{
    const char *data = tern_json_str(payload, "data"), *desc = tern_json_str(payload, "description"),
               *ext = tern_json_str(payload, "extension");
    if (desc && !strcmp(desc, "cmd")) {
        tern_buf_puts(out, "\"type\":\"cmd\",\"body\":{");
        put_str(out, "action", data);
        tern_buf_putc(out, '}');
        return TERN_OK;
    }
    tern_buf_puts(out, "\"type\":\"custom\",\"body\":{");
    /* No customEvent was sent when data is empty (Easemob's pattern needs 1-32). */
    int first = !(data && *data);
    if (!first)
        put_str(out, "customEvent", data);
    if (desc && !strcmp(desc, "custom")) {
        cJSON *e = ext && *ext ? cJSON_Parse(ext) : NULL;
        char *txt = cJSON_IsObject(e) ? cJSON_PrintUnformatted(e) : NULL;
        if (txt) {
            tern_buf_puts(out, first ? "\"customExts\":" : ",\"customExts\":");
            tern_buf_puts(out, txt);
            cJSON_free(txt);
        }
        cJSON_Delete(e);
    } else if ((desc && *desc) || (ext && *ext)) {
        /* A WebSocket client's custom element: its other two fields as customExts. */
        tern_buf_puts(out, first ? "\"customExts\":{" : ",\"customExts\":{");
        first = 1;
        if (desc && *desc) {
            put_str(out, "description", desc);
            first = 0;
        }
        if (ext && *ext) {
            if (!first)
                tern_buf_putc(out, ',');
            put_str(out, "extension", ext);
        }
        tern_buf_putc(out, '}');
    }
    tern_buf_putc(out, '}');
    return TERN_OK;
}

int tern_em_from_msg(const cJSON *msg, tern_buf *out)
{
    const char *type = tern_json_str(msg, "type");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(msg, "payload");
    if (!type || !cJSON_IsObject(payload))
        return TERN_ERR_BAD_FIELD;
    size_t start = out->len;
    tern_buf_putc(out, '{');
    int rc = TERN_OK;
    if (!strcmp(type, "TIMTextElem")) {
        tern_buf_puts(out, "\"type\":\"txt\",\"body\":{");
        put_str(out, "msg", tern_json_str(payload, "text"));
        tern_buf_putc(out, '}');
    } else if (!strcmp(type, "TIMLocationElem")) {
        tern_buf_puts(out, "\"type\":\"loc\",\"body\":{");
        put_coord(out, "lat", payload, "latitude");
        tern_buf_putc(out, ',');
        put_coord(out, "lng", payload, "longitude");
        tern_buf_putc(out, ',');
        put_str(out, "addr", tern_json_str(payload, "description"));
        tern_buf_putc(out, '}');
    } else if (!strcmp(type, "TIMCustomElem")) {
        rc = custom_body(payload, out);
    } else {
        rc = TERN_ERR_UNSUPPORTED_TYPE;
    }
    if (rc != TERN_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = 0;
        return rc;
    }
    const char *ccd = tern_json_str(msg, "cloudCustomData");
    cJSON *e = ccd && *ccd ? cJSON_Parse(ccd) : NULL;
    char *txt = cJSON_IsObject(e) ? cJSON_PrintUnformatted(e) : NULL;
    tern_buf_puts(out, ",\"ext\":");
    if (txt) {
        tern_buf_puts(out, txt);
        cJSON_free(txt);
    } else if (ccd && *ccd) {
        tern_buf_putc(out, '{');
        put_str(out, "cloudCustomData", ccd);
        tern_buf_putc(out, '}');
    } else {
        tern_buf_puts(out, "{}");
    }
    cJSON_Delete(e);
    tern_buf_putc(out, '}');
    return TERN_OK;
}
