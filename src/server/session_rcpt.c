/*
 * session_rcpt.c — the WebSocket ops of read receipts (session_rcpt.h). Both read the
 * store on the loop through its reader (store.h store_receipt_*): a message sent with
 * needReadReceipt has a receipt row (conversation, sender, members at send time,
 * readers). Only its sender may ask (Tencent's rule); a message that is absent, was
 * sent without needReadReceipt or by someone else gets the same answer, 1040, so the
 * answer tells nothing of messages one cannot see.
 *
 * Counts: readCount = users who read past the message (each once, whatever their
 * devices); unreadCount = members at send time - the sender - readCount. Members who
 * join later never count (their read position starts past the message); members who
 * leave keep counting as they were (their read, or not).
 */
#include "session_rcpt.h"

#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "store/store.h"

#define RCPT_MAX_IDS 100

/* The receipt row of the message id text j, if the caller sent it: TERN_OK,
 * TERN_ERR_NO_RECEIPT, TERN_ERR_BAD_FIELD (not an id) or TERN_ERR_STORE. */
static int own_receipt(conn *c, const char *id, size_t n, uint64_t *msg_id, store_receipt *out)
{
    if (tern_parse_u64(id, n, msg_id) < 0)
        return TERN_ERR_BAD_FIELD;
    int rc = store_receipt_get(c->loop->reader, c->app, *msg_id, out);
    if (rc == TERN_ERR_NOT_FOUND || (rc == TERN_OK && strcmp(out->sender, c->user) != 0))
        return TERN_ERR_NO_RECEIPT;
    return rc;
}

/* The conversation id (as the sender sees it) and, for C2C, the peer of a receipt's
 * store key: "g:<gid>" or "c:<a>:<b>". */
static void conv_of(const store_receipt *r, const char *me, tern_buf *cid, const char **peer, size_t *peern)
{
    const char *k = r->conv_key;
    *peer = NULL;
    *peern = 0;
    if (k[0] == 'g') {
        tern_buf_puts(cid, "GROUP");
        tern_buf_puts(cid, k + 2);
        return;
    }
    const char *a = k + 2, *colon = strchr(a, ':');
    const char *b = colon ? colon + 1 : "";
    size_t an = colon ? (size_t)(colon - a) : strlen(a);
    if (an == strlen(me) && memcmp(a, me, an) == 0) {
        *peer = b;
        *peern = strlen(b);
    } else {
        *peer = a;
        *peern = an;
    }
    tern_buf_puts(cid, "C2C");
    tern_buf_append(cid, *peer, *peern);
}

static uint32_t unread_of(const store_receipt *r)
{
    uint32_t others = r->nmembers > 0 ? r->nmembers - 1 : 0;
    return others > r->read_count ? others - r->read_count : 0;
}

int session_rcpt_counts(conn *c, cJSON *root, tern_buf *out)
{
    cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "msgIds"), *j;
    int n = cJSON_GetArraySize(ids);
    if (!cJSON_IsArray(ids) || n < 1)
        return TERN_ERR_BAD_FIELD;
    if (n > RCPT_MAX_IDS)
        return TERN_ERR_TOO_MANY;
    cJSON_ArrayForEach(j, ids)
    {
        uint64_t v;
        if (!cJSON_IsString(j) || tern_parse_u64(j->valuestring, strlen(j->valuestring), &v) < 0)
            return TERN_ERR_BAD_FIELD;
    }
    tern_buf_puts(out, "{\"receipts\":[");
    int first = 1;
    cJSON_ArrayForEach(j, ids)
    {
        uint64_t id;
        store_receipt r;
        int rc = own_receipt(c, j->valuestring, strlen(j->valuestring), &id, &r);
        if (rc == TERN_ERR_STORE)
            return rc;
        if (!first)
            tern_buf_putc(out, ',');
        first = 0;
        tern_buf_puts(out, "{\"msgId\":");
        tern_buf_json_u64str(out, id);
        if (rc != TERN_OK) {
            const char *m = tern_strerror(rc);
            tern_buf_printf(out, ",\"code\":%d,\"message\":", rc);
            tern_buf_json_str(out, m, strlen(m));
            tern_buf_putc(out, '}');
            continue;
        }
        const char *peer;
        size_t pn;
        tern_buf_puts(out, ",\"conversationID\":\"");
        conv_of(&r, c->user, out, &peer, &pn);
        tern_buf_printf(out, "\",\"readCount\":%u,\"unreadCount\":%u}", r.read_count, unread_of(&r));
    }
    tern_buf_puts(out, "]}");
    return TERN_OK;
}

typedef struct member_page {
    tern_buf *out;
    int n, limit;
    char last[TERN_IDENT_MAX + 1];
    int more;
} member_page;

static void member_cb(void *ud, const char *user, int64_t read_ms)
{
    member_page *p = ud;
    if (p->n == p->limit) { /* the one past the page: there is more */
        p->more = 1;
        return;
    }
    if (p->n++)
        tern_buf_putc(p->out, ',');
    tern_buf_puts(p->out, "{\"user\":");
    tern_buf_json_str(p->out, user, strlen(user));
    if (read_ms)
        tern_buf_printf(p->out, ",\"readTime\":%lld", (long long)read_ms);
    tern_buf_putc(p->out, '}');
    size_t l = strlen(user);
    if (l >= sizeof p->last)
        l = sizeof p->last - 1;
    memcpy(p->last, user, l);
    p->last[l] = 0;
}

int session_rcpt_members(conn *c, cJSON *root, tern_buf *out)
{
    tern_str jid, jfilter, jcur = {0};
    long long limit = 20;
    if (tern_json_get_str(root, "msgId", &jid) != TERN_JSON_OK ||
        tern_json_get_str(root, "filter", &jfilter) != TERN_JSON_OK ||
        tern_json_get_str(root, "cursor", &jcur) == TERN_JSON_INVALID ||
        tern_json_get_int(root, "limit", 1, 100, &limit) == TERN_JSON_INVALID)
        return TERN_ERR_BAD_FIELD;
    int unread;
    if (jfilter.n == 4 && memcmp(jfilter.p, "read", 4) == 0)
        unread = 0;
    else if (jfilter.n == 6 && memcmp(jfilter.p, "unread", 6) == 0)
        unread = 1;
    else
        return TERN_ERR_BAD_FIELD;
    if (jcur.n && !tern_ident_valid(jcur.p, jcur.n))
        return TERN_ERR_BAD_FIELD;
    uint64_t id;
    store_receipt r;
    int rc = own_receipt(c, jid.p, jid.n, &id, &r);
    if (rc != TERN_OK)
        return rc;
    const char *after = jcur.n ? jcur.p : "";
    tern_buf_puts(out, "{\"msgId\":");
    tern_buf_json_u64str(out, id);
    tern_buf_printf(out, ",\"filter\":\"%s\",\"members\":[", unread ? "unread" : "read");
    member_page pg = {.out = out, .limit = (int)limit};
    if (r.conv_key[0] == 'c' && unread) {
        /* C2C keeps no member list: the one who may not have read is the peer. */
        tern_buf cid;
        tern_buf_init(&cid, 0);
        const char *peer;
        size_t pn;
        conv_of(&r, c->user, &cid, &peer, &pn);
        char p[TERN_IDENT_MAX + 1];
        size_t l = pn < sizeof p - 1 ? pn : sizeof p - 1;
        memcpy(p, peer, l);
        p[l] = 0;
        if (r.read_count == 0 && strcmp(p, after) > 0)
            member_cb(&pg, p, 0);
        tern_buf_free(&cid);
    } else {
        rc = store_receipt_members(c->loop->reader, c->app, id, unread, after, (int)limit + 1, member_cb, &pg);
        if (rc != TERN_OK)
            return rc == TERN_ERR_NOT_FOUND ? TERN_ERR_NO_RECEIPT : rc;
    }
    tern_buf_puts(out, "],\"cursor\":");
    tern_buf_json_str(out, pg.more ? pg.last : "", pg.more ? strlen(pg.last) : 0);
    tern_buf_printf(out, ",\"more\":%s}", pg.more ? "true" : "false");
    return TERN_OK;
}
