/*
 * stream.c — streamed messages in the core model: the chunk request's parser (seed 002's
 * names, rules and codes), the stored fields of a streamed message, and a token bucket
 * for the per-app request rate. See stream.h.
 */
#include "core/stream.h"

#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "tern/errors.h"

static int only_keys(const cJSON *o, const char *const *keys, size_t n)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        size_t i = 0;
        while (i < n && (!it->string || strcmp(it->string, keys[i]) != 0))
            i++;
        if (i == n)
            return 0;
    }
    return 1;
}

/* from / to: absent, null, not a string or "" is the seed's code; a string that is not
 * an identifier 1003. */
static int ident_param(const cJSON *root, const char *name, int empty_code, tern_str *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return empty_code;
    size_t n = strlen(v->valuestring);
    if (!tern_ident_valid(v->valuestring, n))
        return TERN_ERR_BAD_FIELD;
    out->p = v->valuestring;
    out->n = n;
    return TERN_OK;
}

int tern_stream_req_parse(const cJSON *root, tern_stream_req *r)
{
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(root))
        return TERN_ERR_BAD_FIELD;
    int rc = ident_param(root, "from", TERN_ERR_STREAM_FROM, &r->from);
    if (rc != TERN_OK)
        return rc;
    if ((rc = ident_param(root, "to", TERN_ERR_STREAM_TO, &r->to)) != TERN_OK)
        return rc;
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(root, "body");
    if (!cJSON_IsObject(body) || !body->child)
        return TERN_ERR_STREAM_BODY;
    long long seq;
    if (tern_json_get_int(body, "seq", 0, (1LL << 53) - 1, &seq) != TERN_JSON_OK)
        return TERN_ERR_STREAM_SEQ;
    r->seq = seq;

    tern_str t = {"", 0};
    int g = tern_json_get_str(body, "msg", &t);
    if (g == TERN_JSON_INVALID || (g == TERN_JSON_ABSENT && cJSON_GetObjectItemCaseSensitive(body, "msg")))
        return TERN_ERR_BAD_FIELD; /* null is not a text */
    r->text = t;
    tern_str ty;
    g = tern_json_get_str(body, "type", &ty);
    if (g == TERN_JSON_INVALID)
        return TERN_ERR_BAD_FIELD;
    if (g == TERN_JSON_OK) {
        if (tern_str_eq(ty, "text"))
            r->format = TERN_STREAM_FMT_TEXT;
        else if (tern_str_eq(ty, "markdown"))
            r->format = TERN_STREAM_FMT_MARKDOWN;
        else
            return TERN_ERR_BAD_FIELD;
    }
    if (tern_json_get_bool(body, "finish", &r->finish) == TERN_JSON_INVALID)
        return TERN_ERR_BAD_FIELD;
    long long reason;
    g = tern_json_get_int(body, "finishReason", -2147483648LL, 2147483647LL, &reason);
    if (g == TERN_JSON_INVALID)
        return TERN_ERR_BAD_FIELD;
    if (g == TERN_JSON_OK) {
        r->has_reason = 1;
        r->finish_reason = reason;
    }
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(root, "ext");
    if (ext && !cJSON_IsObject(ext))
        return TERN_ERR_BAD_FIELD; /* never null */
    r->ext = ext;

    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(body, "msgId");
    if (mid && !cJSON_IsNull(mid) && !(cJSON_IsString(mid) && !mid->valuestring[0])) {
        if (tern_json_get_u64(body, "msgId", &r->msg_id) != TERN_JSON_OK || r->msg_id == 0)
            return TERN_ERR_STREAM_NOT_FOUND;
        r->has_msg_id = 1;
    }
    static const char *const top[] = {"from", "to", "body", "ext"};
    static const char *const inner[] = {"msg", "seq", "type", "finish", "finishReason", "msgId"};
    if (!only_keys(root, top, 4) || !only_keys(body, inner, 6))
        return TERN_ERR_NOT_SUPPORTED;
    return TERN_OK;
}

const char *tern_stream_format_name(int format)
{
    return format == TERN_STREAM_FMT_MARKDOWN ? "markdown" : "text";
}

const char *tern_stream_state_name(int state)
{
    switch (state) {
    case TERN_STREAM_ST_FINISHED: return "finished";
    case TERN_STREAM_ST_ENDED: return "ended";
    default: return "open";
    }
}

int tern_stream_head(tern_buf *b, tern_conv_kind kind, const char *from, size_t fn, const char *to, size_t tn,
                     const char *ext_json, size_t en)
{
    int rc =
        tern_buf_printf(b, "\"conversationType\":\"%s\",\"from\":", kind == TERN_CONV_KIND_GROUP ? "GROUP" : "C2C");
    rc |= tern_buf_json_str(b, from, fn);
    rc |= tern_buf_puts(b, ",\"to\":");
    rc |= tern_buf_json_str(b, to, tn);
    rc |= tern_buf_puts(b, ",\"type\":\"TIMTextElem\",\"cloudCustomData\":");
    rc |= tern_buf_json_str(b, ext_json ? ext_json : "", ext_json ? en : 0);
    rc |= tern_buf_puts(b, ",\"priority\":\"Normal\",\"needReadReceipt\":false");
    return rc < 0 ? -1 : 0;
}

int tern_stream_text_open(tern_buf *b)
{
    return tern_buf_puts(b, ",\"payload\":{\"text\":\"");
}

int tern_stream_text_append(tern_buf *b, const char *s, size_t n)
{
    /* tern_buf_json_str's escaping without its quotes: escaping is per character, so
     * the chunks escaped one by one concatenate to the whole text escaped. */
    size_t at = b->len;
    if (tern_buf_json_str(b, s, n) < 0)
        return -1;
    memmove(b->data + at, b->data + at + 1, b->len - at - 2);
    b->len -= 2;
    b->data[b->len] = 0;
    return 0;
}

int tern_stream_text_close(tern_buf *b, const tern_stream_meta *m)
{
    int rc =
        tern_buf_printf(b, "\"},\"stream\":{\"format\":\"%s\",\"state\":\"%s\",\"lastSeq\":%lld",
                        tern_stream_format_name(m->format), tern_stream_state_name(m->state), (long long)m->last_seq);
    if (m->state == TERN_STREAM_ST_FINISHED && m->has_reason)
        rc |= tern_buf_printf(b, ",\"finishReason\":%lld", (long long)m->finish_reason);
    if (m->state == TERN_STREAM_ST_ENDED)
        rc |= tern_buf_printf(b, ",\"endCode\":%d", m->end_code);
    rc |= tern_buf_putc(b, '}');
    return rc < 0 ? -1 : 0;
}

int tern_rate_take(tern_rate *r, double per_sec, double burst, uint64_t now_ns)
{
    if (r->last_ns == 0 || now_ns < r->last_ns) {
        r->tokens = burst;
    } else {
        r->tokens += (double)(now_ns - r->last_ns) * per_sec / 1e9;
        if (r->tokens > burst)
            r->tokens = burst;
    }
    r->last_ns = now_ns;
    if (r->tokens < 1.0)
        return 0;
    r->tokens -= 1.0;
    return 1;
}
