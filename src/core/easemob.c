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

/* ---- img, audio, video, file ------------------------------------------------------- */

enum { EM_IMG, EM_AUDIO, EM_VIDEO, EM_FILE };

/* The media id an Easemob url names, into id[33]: "/{org}/{app}/chatfiles/{uuid}" or
 * "/{org}/{app}/media/{id}", after an optional "http(s)://host[:port]" and before an
 * optional "?query"; or a bare id. A uuid in the dashed 8-4-4-4-12 form loses its dashes.
 * Returns TERN_OK (id may still be malformed: the element's encode answers 7006) or 1003
 * for a url of no such form. */
static int em_url_id(const char *url, char id[TERN_ELEM_MEDIA_ID_LEN + 1])
{
    size_t n = strcspn(url, "?#");
    const char *p = url, *end = url + n;
    if ((n > 8 && !strncmp(p, "https://", 8)) || (n > 7 && !strncmp(p, "http://", 7))) {
        p = memchr(p + 7 + (p[4] == 's'), '/', (size_t)(end - p) - 7 - (p[4] == 's'));
        if (!p)
            return TERN_ERR_BAD_FIELD;
    }
    const char *seg = p;
    if (*p == '/') {
        /* Exactly four segments: org, app, chatfiles|media, id. */
        const char *s[5];
        int k = 0;
        for (const char *q = p; q < end && k < 5; q++)
            if (*q == '/')
                s[k++] = q + 1;
        if (k != 4 || s[1] - s[0] < 2 || s[2] - s[1] < 2)
            return TERN_ERR_BAD_FIELD;
        size_t kind_n = (size_t)(s[3] - s[2]) - 1;
        if (!((kind_n == 9 && !memcmp(s[2], "chatfiles", 9)) || (kind_n == 5 && !memcmp(s[2], "media", 5))))
            return TERN_ERR_BAD_FIELD;
        seg = s[3];
    } else if (memchr(p, '/', (size_t)(end - p)) || p != url) {
        return TERN_ERR_BAD_FIELD;
    }
    size_t sn = (size_t)(end - seg);
    if (sn == 36 && seg[8] == '-' && seg[13] == '-' && seg[18] == '-' && seg[23] == '-') {
        size_t o = 0;
        for (size_t i = 0; i < sn; i++)
            if (seg[i] != '-')
                id[o++] = seg[i];
        id[o] = 0;
        return o == TERN_ELEM_MEDIA_ID_LEN ? TERN_OK : TERN_ERR_BAD_FIELD;
    }
    if (sn == 0)
        return TERN_ERR_BAD_FIELD;
    /* Any other segment is the id as given; one of another length can never be an id:
     * "-" makes the element's encode answer 7006, as for a malformed TIM uuid. */
    if (sn != TERN_ELEM_MEDIA_ID_LEN)
        sn = 0;
    memcpy(id, sn ? seg : "-", sn ? sn : 1);
    id[sn ? sn : 1] = 0;
    return TERN_OK;
}

/* An integer member in [lo, hi]: a JSON number or a string of 1-9 digits (Easemob's
 * clients send both). TERN_JSON_OK / TERN_JSON_ABSENT / TERN_JSON_INVALID. */
static int em_int(const cJSON *o, const char *name, long long lo, long long hi, long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v))
        return TERN_JSON_ABSENT;
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        if (n < 1 || n > 9 || strspn(v->valuestring, "0123456789") != n)
            return TERN_JSON_INVALID;
        long long x = 0;
        for (size_t i = 0; i < n; i++)
            x = x * 10 + (v->valuestring[i] - '0');
        if (x < lo || x > hi)
            return TERN_JSON_INVALID;
        *out = x;
        return TERN_JSON_OK;
    }
    return tern_json_int_value(v, lo, hi, out) == 0 ? TERN_JSON_OK : TERN_JSON_INVALID;
}

/* Adds name: the id of the url member `key` of body. TERN_OK, 1003 (absent when
 * required, not a string, no url form). */
static int em_add_id(cJSON *o, const char *name, const cJSON *body, const char *key, int required)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!u || cJSON_IsNull(u))
        return required ? TERN_ERR_BAD_FIELD : TERN_OK;
    char id[TERN_ELEM_MEDIA_ID_LEN + 1];
    if (!cJSON_IsString(u) || em_url_id(u->valuestring, id) != TERN_OK)
        return TERN_ERR_BAD_FIELD;
    return cJSON_AddStringToObject(o, name, id) ? TERN_OK : TERN_ERR_INTERNAL;
}

/* Adds name: the integer member key of src when present (zero_unset: 0 is "not set"). */
static int em_add_int(cJSON *o, const char *name, const cJSON *src, const char *key, long long lo, long long hi,
                      int required, int zero_unset)
{
    long long v = 0;
    int r = em_int(src, key, zero_unset ? 0 : lo, hi, &v);
    if (r == TERN_JSON_INVALID || (r == TERN_JSON_ABSENT && required))
        return TERN_ERR_BAD_FIELD;
    if (r == TERN_JSON_ABSENT || (zero_unset && v == 0))
        return TERN_OK;
    if (v < lo)
        return TERN_ERR_BAD_FIELD;
    return cJSON_AddNumberToObject(o, name, (double)v) ? TERN_OK : TERN_ERR_INTERNAL;
}

static int em_media_to_msg(int kind, const cJSON *body, tern_msg *m)
{
    static const char *const keys[4][7] = {
        {"url", "filename", "secret", "size"},
        {"url", "filename", "length", "secret"},
        {"url", "filename", "thumb", "length", "file_length", "thumb_secret", "secret"},
        {"url", "filename", "secret"}};
    static const size_t nkeys[4] = {4, 4, 7, 3};
    static const char *const elems[4] = {"TIMImageElem", "TIMSoundElem", "TIMVideoFileElem", "TIMFileElem"};
    if (!cJSON_IsObject(body))
        return TERN_ERR_BAD_FIELD;
    /* secret and thumb_secret: informational (docs/rest-api.md): recipients get signed
     * URLs, and the app token that sends already reads every media of the app. */
    static const char *const strs[] = {"filename", "secret", "thumb_secret"};
    for (size_t i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, strs[i]);
        if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
            return TERN_ERR_BAD_FIELD;
    }
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(body, "size");
    if (kind == EM_IMG && size && !cJSON_IsNull(size) && !cJSON_IsObject(size))
        return TERN_ERR_BAD_FIELD;
    long long ignored;
    if (kind == EM_VIDEO && em_int(body, "file_length", 0, TERN_JSON_MAX_SAFE_INT, &ignored) == TERN_JSON_INVALID)
        return TERN_ERR_BAD_FIELD;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return TERN_ERR_INTERNAL;
    int rc = em_add_id(o, kind == EM_VIDEO ? "videoUUID" : "uuid", body, "url", 1);
    if (rc == TERN_OK && kind == EM_IMG) {
        rc = em_add_int(o, "width", size, "width", 1, TERN_ELEM_MAX_DIM, 0, 1);
        if (rc == TERN_OK)
            rc = em_add_int(o, "height", size, "height", 1, TERN_ELEM_MAX_DIM, 0, 1);
    }
    if (rc == TERN_OK && (kind == EM_AUDIO || kind == EM_VIDEO))
        rc = em_add_int(o, kind == EM_AUDIO ? "second" : "videoSecond", body, "length", 0, TERN_ELEM_MAX_SECONDS, 1, 0);
    if (rc == TERN_OK && kind == EM_VIDEO)
        rc = em_add_id(o, "snapshotUUID", body, "thumb", 0);
    const char *fname = tern_json_str(body, "filename");
    if (rc == TERN_OK && fname && !cJSON_AddStringToObject(o, "fileName", fname))
        rc = TERN_ERR_INTERNAL;
    if (rc == TERN_OK && !tern_json_only_keys(body, keys[kind], nkeys[kind]))
        rc = TERN_ERR_NOT_SUPPORTED;
    if (rc == TERN_OK) {
        m->elem = tern_elem_find(elems[kind], strlen(elems[kind]));
        rc = m->elem->encode(m->elem, o, &m->payload);
    }
    cJSON_Delete(o);
    return rc;
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
            return em_media_to_msg((int)i, body, m);
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

/* A member's number as an integer, or -1 when it is not a number. */
static long long num_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

/* The url of a media payload: the stored form's signed URL member (url_key) when it is
 * there and not empty, else the bare id (a payload not completed by a server). */
static const char *media_url_of(const cJSON *payload, const char *url_key, const char *id_key)
{
    const char *u = url_key ? tern_json_str(payload, url_key) : NULL;
    return u && *u ? u : tern_json_str(payload, id_key);
}

/* "filename":..., only when the payload has a fileName (a stored one always has). */
static void put_filename(tern_buf *out, const cJSON *payload)
{
    const char *f = tern_json_str(payload, "fileName");
    if (f) {
        tern_buf_putc(out, ',');
        put_str(out, "filename", f);
    }
}

/* "type":"<em_type>","body":{"url":<url>[,"filename":..] of a media payload. */
static void media_head(tern_buf *out, const char *em_type, const char *url, const cJSON *payload)
{
    tern_buf_printf(out, "\"type\":\"%s\",\"body\":{", em_type);
    put_str(out, "url", url);
    put_filename(out, payload);
}

/* Easemob's img/audio/video/file body of a media element (type is its TIM name);
 * 1008 for any other type. */
static int media_body(const char *type, const cJSON *payload, tern_buf *out)
{
    long long v;
    if (!strcmp(type, "TIMImageElem")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(payload, "imageInfoArray");
        const cJSON *orig = NULL, *e;
        cJSON_ArrayForEach(e, arr)
        {
            if (num_of(e, "type") == 0)
                orig = e;
        }
        const char *url = orig ? tern_json_str(orig, "url") : NULL;
        media_head(out, "img", url && *url ? url : tern_json_str(payload, "uuid"), payload);
        tern_buf_puts(out, ",\"secret\":\"\"");
        const cJSON *dims = orig ? orig : payload;
        long long w = num_of(dims, "width"), h = num_of(dims, "height");
        if (w > 0 || h > 0) {
            tern_buf_puts(out, ",\"size\":{");
            if (w > 0)
                tern_buf_printf(out, "\"width\":%lld%s", w, h > 0 ? "," : "");
            if (h > 0)
                tern_buf_printf(out, "\"height\":%lld", h);
            tern_buf_putc(out, '}');
        }
    } else if (!strcmp(type, "TIMSoundElem")) {
        media_head(out, "audio", media_url_of(payload, "url", "uuid"), payload);
        v = num_of(payload, "second");
        tern_buf_printf(out, ",\"length\":%lld,\"secret\":\"\"", v < 0 ? 0 : v);
    } else if (!strcmp(type, "TIMVideoFileElem")) {
        media_head(out, "video", media_url_of(payload, "videoUrl", "videoUUID"), payload);
        const char *thumb = media_url_of(payload, "snapshotUrl", "snapshotUUID");
        if (thumb && *thumb) {
            tern_buf_putc(out, ',');
            put_str(out, "thumb", thumb);
        }
        v = num_of(payload, "videoSecond");
        tern_buf_printf(out, ",\"length\":%lld", v < 0 ? 0 : v);
        if ((v = num_of(payload, "videoSize")) >= 0)
            tern_buf_printf(out, ",\"file_length\":%lld", v);
        tern_buf_puts(out, ",\"thumb_secret\":\"\",\"secret\":\"\"");
    } else if (!strcmp(type, "TIMFileElem")) {
        media_head(out, "file", media_url_of(payload, "fileUrl", "uuid"), payload);
        tern_buf_puts(out, ",\"secret\":\"\"");
    } else {
        return TERN_ERR_UNSUPPORTED_TYPE;
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
        rc = media_body(type, payload, out);
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
