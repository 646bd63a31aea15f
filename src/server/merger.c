/*
 * merger.c — merger messages on the server; see merger.h for the rules. Runs on the
 * sender's loop with its store reader (like media_msg.c): resolving the list reads one
 * stored message per entry, which only merger sends pay.
 */
#include "merger.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/json.h"
#include "msgget.h"
#include "tern/errors.h"

/* key[65] = hex SHA-256 of p[0..n); 0 or -1. */
static int content_key(const char *p, size_t n, char *key)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (EVP_Digest(p, n, md, &mdn, EVP_sha256(), NULL) != 1 || mdn * 2 != TERN_MERGER_KEY_LEN)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < mdn; i++) {
        key[2 * i] = hex[md[i] >> 4];
        key[2 * i + 1] = hex[md[i] & 15];
    }
    key[TERN_MERGER_KEY_LEN] = 0;
    return 0;
}

static int is_merger_obj(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) && !strcmp(t->valuestring, "TIMRelayElem");
}

/* The depth of a stored merger payload: over the limit if it says so; a stored list's
 * depth from its row; else 1 + its deepest embedded merger. -1 on a store error. */
static int payload_depth(store_reader *rd, int64_t app, const cJSON *payload, int level)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(payload, "layersOverLimit")) || level > TERN_MERGER_MAX_LAYERS)
        return TERN_MERGER_MAX_LAYERS + 1;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(payload, "downloadKey");
    if (cJSON_IsString(key) && key->valuestring[0]) {
        tern_buf b;
        tern_buf_init(&b, 0);
        int layers = 0, rc = store_merger_get(rd, app, key->valuestring, &b, &layers);
        tern_buf_free(&b);
        return rc == TERN_OK ? layers : rc == TERN_ERR_NOT_FOUND ? 1 : -1;
    }
    int d = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(payload, "messageList"))
    {
        if (!is_merger_obj(e))
            continue;
        int in = payload_depth(rd, app, cJSON_GetObjectItemCaseSensitive(e, "payload"), level + 1);
        if (in < 0)
            return -1;
        if (in + 1 > d)
            d = in + 1;
    }
    return d;
}

/* Appends "name":<the string member of p, or "">. */
static int put_str(tern_buf *out, const cJSON *p, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    return tern_buf_printf(out, "\"%s\":", name) | tern_buf_json_str(out, s, strlen(s));
}

/* The stored payload: list (or "[]"), the client's title, abstracts and text, key. */
static int write_payload(tern_buf *out, const cJSON *p, const char *list, size_t list_n, const char *key, int over)
{
    int rc = tern_buf_puts(out, "{\"messageList\":");
    rc |= list ? tern_buf_append(out, list, list_n) : tern_buf_puts(out, "[]");
    rc |= tern_buf_putc(out, ',') | put_str(out, p, "title") | tern_buf_puts(out, ",\"abstractList\":[");
    const cJSON *e;
    int first = 1;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "abstractList"))
    {
        if (!cJSON_IsString(e))
            continue;
        rc |= (first ? 0 : tern_buf_putc(out, ',')) | tern_buf_json_str(out, e->valuestring, strlen(e->valuestring));
        first = 0;
    }
    rc |= tern_buf_puts(out, "],") | put_str(out, p, "compatibleText") | tern_buf_puts(out, ",\"downloadKey\":\"");
    rc |= tern_buf_puts(out, key) | tern_buf_printf(out, "\",\"layersOverLimit\":%s}", over ? "true" : "false");
    return rc ? TERN_ERR_INTERNAL : TERN_OK;
}

/* Resolves every entry of list for `from` into raw ("[obj,obj]"). TERN_OK, 1030 (one
 * not visible), 1036 (past TERN_MERGER_MAX_LIST), 5002, 5001. */
static int resolve_ids(server *s, store_reader *rd, int64_t app, const char *from, const cJSON *list, tern_buf *raw)
{
    int rc = tern_buf_putc(raw, '[') ? TERN_ERR_INTERNAL : TERN_OK;
    int first = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        if (rc != TERN_OK)
            break;
        const char *id = tern_elem_merger_entry_id(e);
        if (!id)
            return TERN_ERR_BAD_FIELD;
        if (!first && tern_buf_putc(raw, ','))
            return TERN_ERR_INTERNAL;
        first = 0;
        rc = msg_get_visible(s, rd, app, from, strtoull(id, NULL, 10), raw, NULL);
        if (rc == TERN_ERR_NOT_FOUND)
            rc = TERN_ERR_MERGER_MSG_NOT_FOUND;
        else if (rc == TERN_OK && raw->len > TERN_MERGER_MAX_LIST)
            rc = TERN_ERR_MERGER_TOO_LARGE;
    }
    if (rc == TERN_OK && tern_buf_putc(raw, ']'))
        rc = TERN_ERR_INTERNAL;
    return rc;
}

/* An embedded list whose messages the sender cannot see: a copy of a list the app has
 * stored (its content key). TERN_OK with norm/key/layers, or 1030 / 5002. */
static int stored_copy(store_reader *rd, int64_t app, const cJSON *list, tern_buf *norm, char *key, int *layers)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        if (!cJSON_IsObject(e))
            return TERN_ERR_MERGER_MSG_NOT_FOUND;
    }
    char *txt = cJSON_PrintUnformatted(list);
    if (!txt)
        return TERN_ERR_INTERNAL;
    int rc = content_key(txt, strlen(txt), key) ? TERN_ERR_INTERNAL : TERN_OK;
    cJSON_free(txt);
    if (rc == TERN_OK)
        rc = store_merger_get(rd, app, key, norm, layers);
    return rc == TERN_ERR_NOT_FOUND ? TERN_ERR_MERGER_MSG_NOT_FOUND : rc;
}

/* The list of the client's payload p, normalized (cJSON's compact print) into norm, its
 * key and depth; *is_new when the app does not have it yet. */
static int build_list(server *s, store_reader *rd, int64_t app, const char *from, const cJSON *p, tern_buf *norm,
                      char *key, int *layers, int *is_new)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "messageList");
    const cJSON *dk = cJSON_GetObjectItemCaseSensitive(p, "downloadKey");
    *is_new = 0;
    if (cJSON_IsString(dk) && dk->valuestring[0]) { /* a received big merger, forwarded */
        memcpy(key, dk->valuestring, TERN_MERGER_KEY_LEN + 1);
        int rc = store_merger_get(rd, app, key, norm, layers);
        return rc == TERN_ERR_NOT_FOUND ? TERN_ERR_MERGER_NOT_FOUND : rc;
    }
    tern_buf raw;
    tern_buf_init(&raw, 0);
    int rc = resolve_ids(s, rd, app, from, list, &raw);
    if (rc == TERN_ERR_MERGER_MSG_NOT_FOUND) {
        tern_buf_free(&raw);
        return stored_copy(rd, app, list, norm, key, layers);
    }
    cJSON *arr = rc == TERN_OK ? cJSON_ParseWithLength(raw.data, raw.len) : NULL;
    tern_buf_free(&raw);
    if (rc != TERN_OK)
        return rc;
    if (!arr)
        return TERN_ERR_INTERNAL;
    *layers = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (!is_merger_obj(e))
            continue;
        int d = payload_depth(rd, app, cJSON_GetObjectItemCaseSensitive(e, "payload"), 1);
        if (d < 0) {
            cJSON_Delete(arr);
            return TERN_ERR_STORE;
        }
        if (d + 1 > *layers)
            *layers = d + 1;
    }
    char *txt = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!txt)
        return TERN_ERR_INTERNAL;
    size_t n = strlen(txt);
    rc = content_key(txt, n, key) || tern_buf_append(norm, txt, n) ? TERN_ERR_INTERNAL : TERN_OK;
    cJSON_free(txt);
    *is_new = 1;
    return rc;
}

static size_t inline_max(server *s, int64_t app)
{
    app_info ai;
    if (apps_find_id(s, app, &ai) != 0)
        return TERN_MERGER_INLINE_DEFAULT;
    size_t n;
    const app_setting_def *defs = apps_setting_defs(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(defs[i].key, "mergerInlineMaxBytes"))
            return (size_t)apps_setting_get(s, &ai, &defs[i]);
    return TERN_MERGER_INLINE_DEFAULT;
}

int merger_complete(server *s, store_reader *rd, int64_t app, const char *from, const tern_msg *m, tern_buf *out,
                    merger_row *row)
{
    memset(row, 0, sizeof *row);
    cJSON *p = cJSON_ParseWithLength(m->payload.data, m->payload.len);
    if (!cJSON_IsObject(p)) {
        cJSON_Delete(p);
        return TERN_ERR_BAD_FIELD;
    }
    tern_buf norm;
    tern_buf_init(&norm, 0);
    char key[TERN_MERGER_KEY_LEN + 1];
    int layers = 1, is_new = 0;
    int rc = build_list(s, rd, app, from, p, &norm, key, &layers, &is_new);
    if (rc == TERN_OK && layers > TERN_MERGER_MAX_LAYERS) {
        rc = write_payload(out, p, NULL, 0, "", 1); /* nothing embedded, nothing stored */
    } else if (rc == TERN_OK) {
        size_t at = out->len;
        rc = write_payload(out, p, norm.data, norm.len, "", 0);
        if (rc == TERN_OK && (norm.len > inline_max(s, app) ||
                              tern_msg_body_size(out->len - at, m->ccd.p, m->ccd.n) > TERN_MSG_MAX_BODY)) {
            out->len = at;
            rc = write_payload(out, p, NULL, 0, key, 0);
            row->apart = 1;
        }
        if (rc == TERN_OK) {
            memcpy(row->key, key, sizeof key);
            row->layers = layers;
            if (is_new)
                row->body = tern_buf_steal(&norm, &row->len);
        }
    }
    tern_buf_free(&norm);
    cJSON_Delete(p);
    return rc;
}

int merger_download(server *s, store_reader *rd, int64_t app, const char *user, uint64_t msg_id, tern_buf *out)
{
    tern_buf b;
    tern_buf_init(&b, 0);
    int rc = msg_get_visible(s, rd, app, user, msg_id, &b, NULL);
    cJSON *o = rc == TERN_OK ? cJSON_ParseWithLength(b.data, b.len) : NULL;
    tern_buf_free(&b);
    if (rc != TERN_OK)
        return rc;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "payload");
    const cJSON *dk = cJSON_GetObjectItemCaseSensitive(p, "downloadKey");
    if (!is_merger_obj(o) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "layersOverLimit"))) {
        rc = TERN_ERR_MERGER_NOT_FOUND;
    } else if (cJSON_IsString(dk) && dk->valuestring[0]) {
        int layers;
        rc = store_merger_get(rd, app, dk->valuestring, out, &layers);
        if (rc == TERN_ERR_NOT_FOUND)
            rc = TERN_ERR_MERGER_NOT_FOUND;
    } else { /* embedded: the same list, for a client that asks anyway */
        char *txt = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(p, "messageList"));
        rc = txt && tern_buf_puts(out, txt) == 0 ? TERN_OK : TERN_ERR_INTERNAL;
        cJSON_free(txt);
    }
    cJSON_Delete(o);
    return rc;
}
