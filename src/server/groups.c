/* groups.c — group membership cache: (app, group) -> an immutable, refcounted snapshot
 * of the members. Senders are checked and fan-out lists taken from snapshots, so the
 * hot path never queries the store for membership. A membership change (committed by
 * the store writer) invalidates the entry; a generation counter keeps a loader that
 * read the store before the change from installing a stale snapshot after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "groups.h"

static atomic_uint_fast64_t groups_gen;

static size_t gkey(char *out, size_t outsz, int64_t app, const char *gid)
{
    int n = snprintf(out, outsz, "%lld/%s", (long long)app, gid);
    return n < 0 ? 0 : (size_t)n < outsz ? (size_t)n : outsz - 1;
}

void group_snap_unref(group_snap *g)
{
    if (!g || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < g->n; i++)
        tern_free(g->members[i]);
    tern_free(g->members);
    tern_free(g);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int group_snap_has(const group_snap *g, const char *user)
{
    return bsearch(&user, g->members, g->n, sizeof *g->members, cmp_str) != NULL;
}

typedef struct loader {
    group_snap *g;
    size_t cap;
} loader;

static void add_member(void *ud, const char *user)
{
    loader *ld = ud;
    if (ld->g->n == ld->cap) {
        ld->cap = ld->cap ? ld->cap * 2 : 16;
        ld->g->members = tern_realloc(ld->g->members, ld->cap * sizeof(char *));
    }
    ld->g->members[ld->g->n++] = tern_strdup(user);
}

group_snap *groups_get(server *s, store_reader *r, int64_t app, const char *gid, int *err)
{
    char k[96];
    size_t kn = gkey(k, sizeof k, app, gid);
    pthread_mutex_lock(&s->groups_mu);
    group_snap *g = hmap_get(&s->groups, k, kn);
    if (g)
        atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&s->groups_mu);
    if (g)
        return g;

    uint64_t gen = atomic_load(&groups_gen);
    store_group info;
    int rc = store_group_get(r, app, gid, &info);
    if (rc != TERN_OK) {
        *err = rc;
        return NULL;
    }
    loader ld = {tern_calloc(1, sizeof(group_snap)), 0};
    atomic_init(&ld.g->refs, 1);
    snprintf(ld.g->owner, sizeof ld.g->owner, "%s", info.owner);
    rc = store_group_members(r, app, gid, add_member, &ld);
    if (rc != TERN_OK) {
        group_snap_unref(ld.g);
        *err = rc;
        return NULL;
    }
    qsort(ld.g->members, ld.g->n, sizeof(char *), cmp_str);
    g = ld.g;
    pthread_mutex_lock(&s->groups_mu);
    group_snap *cur = hmap_get(&s->groups, k, kn);
    if (cur) {
        atomic_fetch_add(&cur->refs, 1);
        pthread_mutex_unlock(&s->groups_mu);
        group_snap_unref(g);
        return cur;
    }
    if (atomic_load(&groups_gen) == gen) {
        atomic_fetch_add(&g->refs, 1); /* the cache's reference */
        hmap_put(&s->groups, k, kn, g);
    }
    pthread_mutex_unlock(&s->groups_mu);
    return g;
}

void groups_invalidate(server *s, int64_t app, const char *gid)
{
    char k[96];
    size_t kn = gkey(k, sizeof k, app, gid);
    pthread_mutex_lock(&s->groups_mu);
    atomic_fetch_add(&groups_gen, 1);
    group_snap *g = hmap_del(&s->groups, k, kn);
    pthread_mutex_unlock(&s->groups_mu);
    group_snap_unref(g);
}

void groups_free_all(server *s)
{
    hmap_entry *e;
    for (size_t i = 0; hmap_next(&s->groups, &i, &e);)
        group_snap_unref(e->val);
    hmap_free(&s->groups);
}
