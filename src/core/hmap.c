/* hmap.c — open-addressing (linear probing) hash map; see hmap.h. */
#include "core/hmap.h"

#include <string.h>

#include "core/alloc.h"

uint64_t hmap_hash_bytes(const void *p, size_t n)
{
    /* FNV-1a 64 then a final mix; keys are short (user ids, conn ids). */
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h < 2 ? h + 2 : h;
}

static uint64_t hash_u64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k < 2 ? k + 2 : k;
}

void hmap_init(hmap *m)
{
    memset(m, 0, sizeof *m);
}

void hmap_free(hmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].hash > 1)
            tern_free(m->slots[i].skey);
    tern_free(m->slots);
    memset(m, 0, sizeof *m);
}

static int match(const hmap_entry *e, uint64_t h, int str, uint64_t ik, const void *k, size_t n)
{
    if (e->hash != h)
        return 0;
    if (!str)
        return e->ikey == ik;
    return e->sklen == n && memcmp(e->skey, k, n) == 0;
}

static hmap_entry *find(const hmap *m, uint64_t h, int str, uint64_t ik, const void *k, size_t n)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        hmap_entry *e = &m->slots[i];
        if (e->hash == 0)
            return NULL;
        if (match(e, h, str, ik, k, n))
            return e;
    }
}

static void grow(hmap *m)
{
    size_t ncap = m->cap ? m->cap : 16;
    if ((m->used + 1) * 4 >= ncap * 3)
        ncap *= 2;
    hmap_entry *old = m->slots;
    size_t ocap = m->cap;
    m->slots = tern_calloc(ncap, sizeof *m->slots);
    m->cap = ncap;
    m->dead = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].hash <= 1)
            continue;
        size_t j = old[i].hash & (ncap - 1);
        while (m->slots[j].hash)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = old[i];
    }
    tern_free(old);
}

static void *put(hmap *m, uint64_t h, int str, uint64_t ik, const void *k, size_t n, void *val)
{
    hmap_entry *e = find(m, h, str, ik, k, n);
    if (e) {
        void *prev = e->val;
        e->val = val;
        return prev;
    }
    if ((m->used + m->dead + 1) * 4 >= m->cap * 3)
        grow(m);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].hash > 1)
        i = (i + 1) & mask;
    if (m->slots[i].hash == 1)
        m->dead--;
    e = &m->slots[i];
    e->hash = h;
    e->ikey = ik;
    e->skey = str ? tern_strndup(k, n) : NULL;
    e->sklen = n;
    e->val = val;
    m->used++;
    return NULL;
}

static void *del(hmap *m, hmap_entry *e)
{
    if (!e)
        return NULL;
    void *v = e->val;
    tern_free(e->skey);
    e->skey = NULL;
    e->val = NULL;
    e->hash = 1;
    m->used--;
    m->dead++;
    return v;
}

void *hmap_get_u64(const hmap *m, uint64_t key)
{
    hmap_entry *e = find(m, hash_u64(key), 0, key, NULL, 0);
    return e ? e->val : NULL;
}

void *hmap_put_u64(hmap *m, uint64_t key, void *val)
{
    return put(m, hash_u64(key), 0, key, NULL, 0, val);
}

void *hmap_del_u64(hmap *m, uint64_t key)
{
    return del(m, find(m, hash_u64(key), 0, key, NULL, 0));
}

void *hmap_get(const hmap *m, const void *key, size_t n)
{
    hmap_entry *e = find(m, hmap_hash_bytes(key, n), 1, 0, key, n);
    return e ? e->val : NULL;
}

void *hmap_put(hmap *m, const void *key, size_t n, void *val)
{
    return put(m, hmap_hash_bytes(key, n), 1, 0, key, n, val);
}

void *hmap_del(hmap *m, const void *key, size_t n)
{
    return del(m, find(m, hmap_hash_bytes(key, n), 1, 0, key, n));
}

int hmap_next(const hmap *m, size_t *i, hmap_entry **e)
{
    while (*i < m->cap) {
        hmap_entry *s = &m->slots[(*i)++];
        if (s->hash > 1) {
            *e = s;
            return 1;
        }
    }
    return 0;
}
