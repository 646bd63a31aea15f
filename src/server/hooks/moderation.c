/*
 * moderation.c — the apps' keyword matchers (moderation.h): a table app id -> matcher
 * under one mutex, each matcher refcounted so a search runs without the lock while a
 * rebuild swaps in a new one. `nlists` counts the apps with a non-empty list, so that
 * messages of a server where nobody moderates skip the table altogether.
 */
#include "hooks/moderation.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/kwmatch.h"
#include "core/log.h"
#include "core/util.h"

typedef struct kw_entry {
    atomic_int refs;
    tern_kwmatch *m;
} kw_entry;

struct moderation {
    pthread_mutex_t mu;       /* the table */
    pthread_mutex_t build_mu; /* one rebuild at a time */
    hmap apps;                /* app id -> kw_entry* (only non-empty lists) */
    atomic_int nlists;
};

static void entry_unref(kw_entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
        tern_kwmatch_free(e->m);
        tern_free(e);
    }
}

int moderation_word_fold(char *w, size_t n)
{
    if (n < 1 || n > MOD_MAX_WORD || !tern_utf8_valid((const uint8_t *)w, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c >= 'A' && c <= 'Z')
            w[i] = (char)(c + 32);
    }
    return 1;
}

typedef struct words {
    size_t n, cap;
    char **w;
    size_t *len;
} words;

static void words_add(void *ud, const char *w)
{
    words *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->w = tern_realloc(l->w, l->cap * sizeof *l->w);
        l->len = tern_realloc(l->len, l->cap * sizeof *l->len);
    }
    l->len[l->n] = strlen(w);
    l->w[l->n++] = tern_strdup(w);
}

static void words_free(words *l)
{
    for (size_t i = 0; i < l->n; i++)
        tern_free(l->w[i]);
    tern_free(l->w);
    tern_free(l->len);
}

/* Puts e (NULL: none) as app's matcher. */
static void swap_in(struct moderation *md, int64_t app, kw_entry *e)
{
    pthread_mutex_lock(&md->mu);
    kw_entry *old = e ? hmap_put_u64(&md->apps, (uint64_t)app, e) : hmap_del_u64(&md->apps, (uint64_t)app);
    if (e && !old)
        atomic_fetch_add(&md->nlists, 1);
    else if (!e && old)
        atomic_fetch_sub(&md->nlists, 1);
    pthread_mutex_unlock(&md->mu);
    entry_unref(old);
}

int moderation_reload(server *s, store_reader *rd, int64_t app)
{
    struct moderation *md = s->moderation;
    if (!md)
        return TERN_OK;
    pthread_mutex_lock(&md->build_mu);
    words l = {0};
    int rc = store_keywords(rd, app, words_add, &l);
    kw_entry *e = NULL;
    if (rc == TERN_OK && l.n) {
        e = tern_calloc(1, sizeof *e);
        atomic_init(&e->refs, 1);
        e->m = tern_kwmatch_build((const char *const *)l.w, l.len, l.n);
        if (!e->m) {
            tern_free(e);
            e = NULL;
            rc = TERN_ERR_INTERNAL;
        }
    }
    if (rc == TERN_OK)
        swap_in(md, app, e);
    pthread_mutex_unlock(&md->build_mu);
    words_free(&l);
    return rc;
}

static void app_id_add(void *ud, const store_app *a)
{
    words *l = ud;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)a->id);
    words_add(l, id);
}

int moderation_init(server *s, store_reader *rd)
{
    struct moderation *md = tern_calloc(1, sizeof *md);
    pthread_mutex_init(&md->mu, NULL);
    pthread_mutex_init(&md->build_mu, NULL);
    hmap_init(&md->apps);
    s->moderation = md;
    words ids = {0};
    int rc = store_app_list(rd, app_id_add, &ids);
    for (size_t i = 0; rc == TERN_OK && i < ids.n; i++)
        rc = moderation_reload(s, rd, strtoll(ids.w[i], NULL, 10));
    words_free(&ids);
    if (rc != TERN_OK)
        LOG_ERROR("moderation: cannot load the keyword lists (%d)", rc);
    return rc == TERN_OK ? 0 : -1;
}

void moderation_free(server *s)
{
    struct moderation *md = s->moderation;
    if (!md)
        return;
    size_t i = 0;
    hmap_entry *e;
    while (hmap_next(&md->apps, &i, &e))
        entry_unref(e->val);
    hmap_free(&md->apps);
    pthread_mutex_destroy(&md->mu);
    pthread_mutex_destroy(&md->build_mu);
    tern_free(md);
    s->moderation = NULL;
}

/* Members whose strings are identifiers or links, not text. */
static int skipped_member(const char *k)
{
    if (!k)
        return 0;
    size_t n = strlen(k);
    return !strcmp(k, "uuid") || !strcmp(k, "UUID") || !strcmp(k, "url") || !strcmp(k, "URL") ||
           !strcmp(k, "downloadKey") || !strcmp(k, "thumbnail") || !strcmp(k, "snapshotUUID") ||
           (n > 3 && (!strcmp(k + n - 3, "Url") || !strcmp(k + n - 3, "URL")));
}

static int scan(const tern_kwmatch *m, const cJSON *j)
{
    if (cJSON_IsString(j))
        return !skipped_member(j->string) && tern_kwmatch_find(m, j->valuestring, strlen(j->valuestring));
    if (skipped_member(j->string))
        return 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, j)
    {
        if (scan(m, c))
            return 1;
    }
    return 0;
}

static void moderation_on(const app_info *a, void *arg)
{
    const app_setting_def *d = apps_setting_find("moderation", 10);
    const char *v = d ? apps_setting_str(a, d) : NULL;
    *(int *)arg = !v || strcmp(v, "off") != 0;
}

cJSON *moderation_fields_parse(const char *fields, size_t n)
{
    char *obj = tern_malloc(n + 3);
    if (!obj)
        return NULL;
    obj[0] = '{';
    memcpy(obj + 1, fields, n);
    obj[n + 1] = '}';
    obj[n + 2] = 0;
    cJSON *j = cJSON_ParseWithLength(obj, n + 2);
    tern_free(obj);
    return j;
}

int moderation_hit(server *s, int64_t app, const char *fields, size_t n)
{
    struct moderation *md = s->moderation;
    if (!md || atomic_load(&md->nlists) == 0)
        return 0;
    pthread_mutex_lock(&md->mu);
    kw_entry *e = hmap_get_u64(&md->apps, (uint64_t)app);
    if (e)
        atomic_fetch_add(&e->refs, 1);
    pthread_mutex_unlock(&md->mu);
    if (!e)
        return 0;
    int on = 1, hit = 0;
    apps_with_id(s, app, moderation_on, &on);
    if (on) {
        cJSON *j = moderation_fields_parse(fields, n);
        if (j) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "payload");
            const cJSON *ccd = cJSON_GetObjectItemCaseSensitive(j, "cloudCustomData");
            hit = (p && scan(e->m, p)) || (cJSON_IsString(ccd) && tern_kwmatch_find(e->m, ccd->valuestring,
                                                                                    strlen(ccd->valuestring)));
            cJSON_Delete(j);
        }
    }
    entry_unref(e);
    return hit;
}
