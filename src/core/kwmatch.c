/*
 * kwmatch.c — Aho-Corasick over bytes (kwmatch.h). The trie's edges live in one
 * open-addressing hash table keyed by (node, byte), so a node costs a few words however
 * many children it has; the root's 256 edges are a direct table, since every byte of
 * a text that matches nothing starts there. Build: insert the words, then a breadth-first
 * pass sets each node's failure link and ORs into `out` whether a keyword ends at the
 * node or at any suffix of it, so a search stops at the first node with `out` set.
 */
#include "core/kwmatch.h"

#include <string.h>

#include "core/alloc.h"

struct tern_kwmatch {
    uint32_t nnodes, cap_nodes;
    uint32_t *fail;  /* per node: its failure link */
    uint8_t *out;    /* per node: a keyword ends here or at a suffix */
    uint32_t *first; /* per node: first child (0: none; the root is never a child) */
    uint32_t *next;  /* per node: next sibling */
    uint8_t *byte;   /* per node: the byte of the edge into it */
    uint64_t *keys;  /* edge table: (parent << 8 | byte) + 1; 0 = empty slot */
    uint32_t *vals;  /* edge table: child */
    size_t mask;     /* edge table size - 1 (a power of two) */
    uint32_t root[256];
};

static inline uint8_t fold(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static inline size_t slot_of(const tern_kwmatch *k, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & k->mask;
}

/* The child of node u by byte c, or 0. */
static inline uint32_t go(const tern_kwmatch *k, uint32_t u, uint8_t c)
{
    if (u == 0)
        return k->root[c];
    uint64_t key = ((uint64_t)u << 8 | c) + 1;
    for (size_t i = slot_of(k, key);; i = (i + 1) & k->mask) {
        if (k->keys[i] == key)
            return k->vals[i];
        if (k->keys[i] == 0)
            return 0;
    }
}

static void edge_put(tern_kwmatch *k, uint32_t u, uint8_t c, uint32_t v)
{
    if (u == 0) {
        k->root[c] = v;
        return;
    }
    uint64_t key = ((uint64_t)u << 8 | c) + 1;
    size_t i = slot_of(k, key);
    while (k->keys[i])
        i = (i + 1) & k->mask;
    k->keys[i] = key;
    k->vals[i] = v;
}

void tern_kwmatch_free(tern_kwmatch *k)
{
    if (!k)
        return;
    tern_free(k->fail);
    tern_free(k->out);
    tern_free(k->first);
    tern_free(k->next);
    tern_free(k->byte);
    tern_free(k->keys);
    tern_free(k->vals);
    tern_free(k);
}

tern_kwmatch *tern_kwmatch_build(const char *const *words, const size_t *lens, size_t n)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += lens[i];
    if (total > UINT32_MAX / 2)
        return NULL;
    tern_kwmatch *k = tern_calloc(1, sizeof *k);
    size_t tsize = 16;
    while (tsize < 2 * total)
        tsize <<= 1;
    if (!k)
        return NULL;
    k->cap_nodes = (uint32_t)total;
    k->fail = tern_calloc(total, sizeof *k->fail);
    k->out = tern_calloc(total, 1);
    k->first = tern_calloc(total, sizeof *k->first);
    k->next = tern_calloc(total, sizeof *k->next);
    k->byte = tern_calloc(total, 1);
    k->keys = tern_calloc(tsize, sizeof *k->keys);
    k->vals = tern_calloc(tsize, sizeof *k->vals);
    k->mask = tsize - 1;
    k->nnodes = 1;
    if (!k->fail || !k->out || !k->first || !k->next || !k->byte || !k->keys || !k->vals) {
        tern_kwmatch_free(k);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!lens[i])
            continue;
        uint32_t u = 0;
        for (size_t j = 0; j < lens[i]; j++) {
            uint8_t c = fold((uint8_t)words[i][j]);
            uint32_t v = go(k, u, c);
            if (!v) {
                v = k->nnodes++;
                k->byte[v] = c;
                k->next[v] = k->first[u];
                k->first[u] = v;
                edge_put(k, u, c, v);
            }
            u = v;
        }
        k->out[u] = 1;
    }
    /* Breadth-first: a node's failure link is set before its children's. The queue
     * reuses `fail`'s order: nodes are visited in the order they are enqueued. */
    uint32_t *queue = tern_malloc((size_t)k->nnodes * sizeof *queue);
    if (!queue) {
        tern_kwmatch_free(k);
        return NULL;
    }
    size_t qh = 0, qt = 0;
    for (uint32_t v = k->first[0]; v; v = k->next[v]) {
        k->fail[v] = 0;
        queue[qt++] = v;
    }
    while (qh < qt) {
        uint32_t u = queue[qh++];
        for (uint32_t v = k->first[u]; v; v = k->next[v]) {
            uint8_t c = k->byte[v];
            uint32_t f = k->fail[u], g;
            while (f && !go(k, f, c))
                f = k->fail[f];
            g = go(k, f, c);
            k->fail[v] = g && g != v ? g : 0;
            k->out[v] |= k->out[k->fail[v]];
            queue[qt++] = v;
        }
    }
    tern_free(queue);
    return k;
}

int tern_kwmatch_find(const tern_kwmatch *k, const char *text, size_t n)
{
    if (!k || k->nnodes <= 1)
        return 0;
    uint32_t u = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = fold((uint8_t)text[i]);
        uint32_t v = 0;
        while (u && !(v = go(k, u, c)))
            u = k->fail[u];
        u = u ? v : k->root[c];
        if (k->out[u])
            return 1;
    }
    return 0;
}

size_t tern_kwmatch_nodes(const tern_kwmatch *k)
{
    return k ? k->nnodes : 0;
}
