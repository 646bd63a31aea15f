/*
 * hmap.h — a small open-addressing hash map from byte-string or 64-bit keys to
 * pointers. Not thread-safe: each user guards its map (a loop owns its connection map;
 * the session registry holds a mutex). Keys are copied for string maps.
 */
#ifndef TERN_CORE_HMAP_H
#define TERN_CORE_HMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct hmap_entry {
    uint64_t hash; /* 0 = empty slot, 1 = tombstone */
    uint64_t ikey; /* integer key (u64 maps) */
    char *skey;    /* owned copy (string maps) */
    size_t sklen;
    void *val;
} hmap_entry;

typedef struct hmap {
    hmap_entry *slots;
    size_t cap;  /* power of two */
    size_t used; /* live entries */
    size_t dead; /* tombstones */
} hmap;

void hmap_init(hmap *m);
/* Frees the table and owned key copies, not the values. */
void hmap_free(hmap *m);

void *hmap_get_u64(const hmap *m, uint64_t key);
/* Inserts or replaces; returns the previous value or NULL. */
void *hmap_put_u64(hmap *m, uint64_t key, void *val);
/* Removes; returns the removed value or NULL. */
void *hmap_del_u64(hmap *m, uint64_t key);

void *hmap_get(const hmap *m, const void *key, size_t n);
void *hmap_put(hmap *m, const void *key, size_t n, void *val);
void *hmap_del(hmap *m, const void *key, size_t n);

/* Iteration: for (size_t i = 0; hmap_next(m, &i, &e);) ... — do not modify while iterating. */
int hmap_next(const hmap *m, size_t *i, hmap_entry **e);

uint64_t hmap_hash_bytes(const void *p, size_t n);

#endif
