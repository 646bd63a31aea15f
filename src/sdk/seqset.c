/*
 * seqset.c — per-conversation record of held message seqs, for delivering each stored
 * message exactly once across live events, sync pages and reconnects. See seqset.h.
 */
#include "sdk/seqset.h"

#include <string.h>

#include "core/alloc.h"

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void sdk_seqset_init(seqset *s)
{
    memset(s, 0, sizeof *s);
}

void sdk_seqset_free(seqset *s)
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        seq_entry *e = s->buckets[i];
        while (e) {
            seq_entry *next = e->next;
            tern_free(e->conv);
            tern_free(e->above);
            tern_free(e);
            e = next;
        }
    }
    tern_free(s->buckets);
    memset(s, 0, sizeof *s);
}

static seq_entry *find(const seqset *s, const char *conv)
{
    if (!s->nbuckets)
        return NULL;
    for (seq_entry *e = s->buckets[hash_str(conv) & (s->nbuckets - 1)]; e; e = e->next)
        if (!strcmp(e->conv, conv))
            return e;
    return NULL;
}

static void grow(seqset *s)
{
    size_t nb = s->nbuckets ? s->nbuckets * 2 : 16;
    seq_entry **b = tern_calloc(nb, sizeof *b);
    for (size_t i = 0; i < s->nbuckets; i++) {
        seq_entry *e = s->buckets[i];
        while (e) {
            seq_entry *next = e->next;
            size_t j = hash_str(e->conv) & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    tern_free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static seq_entry *get(seqset *s, const char *conv)
{
    seq_entry *e = find(s, conv);
    if (e)
        return e;
    if (s->count + 1 > s->nbuckets) /* load factor <= 1 */
        grow(s);
    e = tern_calloc(1, sizeof *e);
    e->conv = tern_strdup(conv);
    size_t j = hash_str(conv) & (s->nbuckets - 1);
    e->next = s->buckets[j];
    s->buckets[j] = e;
    s->count++;
    return e;
}

/* Index of the first element >= seq. */
static uint32_t lower_bound(const seq_entry *e, uint64_t seq)
{
    uint32_t lo = 0, hi = e->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e->above[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int held(const seq_entry *e, uint64_t seq)
{
    if (seq <= e->base)
        return 1;
    uint32_t i = lower_bound(e, seq);
    return i < e->n && e->above[i] == seq;
}

/* Drops entries <= base and advances base over a contiguous run. */
static void compact(seq_entry *e)
{
    uint32_t i = 0;
    while (i < e->n && e->above[i] <= e->base)
        i++;
    while (i < e->n && e->above[i] == e->base + 1) {
        e->base++;
        i++;
    }
    if (i) {
        memmove(e->above, e->above + i, (e->n - i) * sizeof *e->above);
        e->n -= i;
    }
}

static void insert(seq_entry *e, uint64_t seq)
{
    uint32_t i = lower_bound(e, seq);
    if (i < e->n && e->above[i] == seq)
        return;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->above = tern_realloc(e->above, e->cap * sizeof *e->above);
    }
    memmove(e->above + i + 1, e->above + i, (e->n - i) * sizeof *e->above);
    e->above[i] = seq;
    e->n++;
    compact(e);
    if (e->n > SEQSET_MAX_ABOVE) {
        /* A gap that never fills (it should not happen: stored seqs have no gaps):
         * give up the lowest one rather than grow without bound. */
        e->base = e->above[0] - 1;
        compact(e);
    }
}

int sdk_seqset_receive(seqset *s, const char *conv, uint64_t seq)
{
    if (seq == 0)
        return 1;
    seq_entry *e = get(s, conv);
    if (!e->anchored) {
        e->anchored = 1;
        /* Everything below the first message received in a conversation is history,
         * not missed: the app reads it with tern_get_message_list. Own acked seqs
         * below it stay held (they are dropped by compact). */
        if (seq - 1 > e->base)
            e->base = seq - 1;
        if (held(e, seq)) {
            compact(e);
            return 0;
        }
        insert(e, seq);
        return 1;
    }
    if (held(e, seq))
        return 0;
    insert(e, seq);
    return 1;
}

void sdk_seqset_own(seqset *s, const char *conv, uint64_t seq)
{
    if (seq == 0)
        return;
    seq_entry *e = get(s, conv);
    if (!held(e, seq))
        insert(e, seq);
}

int sdk_seqset_has(const seqset *s, const char *conv, uint64_t seq)
{
    const seq_entry *e = find(s, conv);
    return e && seq && held(e, seq);
}

void sdk_seqset_foreach_anchored(const seqset *s, void (*fn)(void *ud, const char *conv, uint64_t base), void *ud)
{
    for (size_t i = 0; i < s->nbuckets; i++)
        for (const seq_entry *e = s->buckets[i]; e; e = e->next)
            if (e->anchored)
                fn(ud, e->conv, e->base);
}

uint64_t sdk_seqset_max(const seqset *s, const char *conv)
{
    const seq_entry *e = find(s, conv);
    if (!e)
        return 0;
    return e->n ? e->above[e->n - 1] : e->base;
}
