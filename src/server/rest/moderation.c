/*
 * moderation.c — an app's moderation keywords over REST (docs/rest-api.md "Moderation
 * keywords"), with the app token:
 *   GET    /{org}/{app}/moderation/keywords  {"keywords":[...],"count":N,"max":10000}
 *   PUT    /{org}/{app}/moderation/keywords  {"keywords":[...]}: replaces the list
 *   POST   /{org}/{app}/moderation/keywords  {"keywords":[...]}: adds to it
 *   DELETE /{org}/{app}/moderation/keywords  {"keywords":[...]}: removes those
 * A keyword is 1..64 bytes of UTF-8 without control characters, kept with its ASCII
 * letters lower-cased (matching ignores ASCII case); a request names at most 1000
 * (PUT: up to the bound) — else 1003; a list past 10000 keywords is 1050 and nothing
 * changes. After the change commits, the app's matcher is rebuilt (hooks/moderation.h)
 * and the answer is GET's.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "hooks/moderation.h"
#include "rest/rest.h"

typedef struct listing {
    tern_buf *d;
    size_t count;
} listing;

static void add_word(void *ud, const char *w)
{
    listing *l = ud;
    if (l->count++)
        tern_buf_putc(l->d, ',');
    tern_buf_json_str(l->d, w, strlen(w));
}

static void reply_list(const rctx *x)
{
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_puts(&d, "{\"keywords\":[");
    listing l = {&d, 0};
    int rc = store_keywords(rest_reader(x), x->app.id, add_word, &l);
    tern_buf_printf(&d, "],\"count\":%zu,\"max\":%d}", l.count, MOD_MAX_KEYWORDS);
    rest_reply_buf(x, rc, &d);
}

int moderation_get(rctx *x, const http_msg *m)
{
    (void)m;
    reply_list(x);
    return 0;
}

static void change_finish(rest_op *r)
{
    if (r->op.result != TERN_OK) {
        if (r->op.result == TERN_ERR_KEYWORDS_FULL) {
            char d[128];
            snprintf(d, sizeof d, "an app has at most %d moderation keywords", MOD_MAX_KEYWORDS);
            rest_reply_err_desc(&r->x, r->op.result, NULL, d);
        } else {
            rest_reply_err(&r->x, r->op.result);
        }
        return;
    }
    int rc = moderation_reload(r->s, rest_reader(&r->x), r->x.app.id);
    if (rc != TERN_OK) {
        rest_reply_err(&r->x, rc);
        return;
    }
    reply_list(&r->x);
}

static int change(rctx *x, const http_msg *m, int mode)
{
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(j, "keywords");
    size_t lim = mode == STORE_KW_REPLACE ? MOD_MAX_KEYWORDS : MOD_MAX_PER_REQUEST;
    char d[192];
    const char *bad = NULL;
    if (!cJSON_IsObject(j) || !cJSON_IsArray(kw) || cJSON_GetArraySize(kw) < (mode == STORE_KW_REPLACE ? 0 : 1) ||
        (size_t)cJSON_GetArraySize(kw) > lim) {
        snprintf(d, sizeof d, "the body must be {\"keywords\":[...]} with %s to %zu keywords",
                 mode == STORE_KW_REPLACE ? "0" : "1", lim);
        bad = d;
    } else if (cJSON_GetArraySize(j) != 1) {
        bad = "the body has one member, keywords";
    }
    if (bad) {
        cJSON_Delete(j);
        rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL, bad);
        return 0;
    }
    rest_op *r = rest_op_new(x, change_finish);
    r->list = tern_calloc((size_t)cJSON_GetArraySize(kw) + 1, sizeof *r->list);
    const cJSON *e;
    cJSON_ArrayForEach(e, kw)
    {
        size_t n = cJSON_IsString(e) ? strlen(e->valuestring) : 0;
        char *w = n ? tern_strndup(e->valuestring, n) : NULL;
        if (!w || !moderation_word_fold(w, n)) {
            tern_free(w);
            cJSON_Delete(j);
            rest_op_free(r);
            rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL,
                                "a keyword is 1 to 64 bytes of UTF-8 without control characters");
            return 0;
        }
        r->list[r->nlist++] = w;
    }
    cJSON_Delete(j);
    r->op.kind = STORE_OP_KEYWORDS;
    r->op.u.keywords.mode = mode;
    r->op.u.keywords.words = (const char *const *)r->list;
    r->op.u.keywords.n = r->nlist;
    r->op.u.keywords.max = MOD_MAX_KEYWORDS;
    return rest_submit(r);
}

int moderation_put(rctx *x, const http_msg *m)
{
    return change(x, m, STORE_KW_REPLACE);
}

int moderation_post(rctx *x, const http_msg *m)
{
    return change(x, m, STORE_KW_ADD);
}

int moderation_delete(rctx *x, const http_msg *m)
{
    return change(x, m, STORE_KW_REMOVE);
}
