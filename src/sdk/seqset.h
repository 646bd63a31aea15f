/*
 * seqset.h — the SDK's record of which messages it already holds, per conversation,
 * so that every stored message is delivered once (docs/protocol.md §4 sync, §8).
 *
 * Per conversation it keeps `base` (every seq <= base is held or deliberately skipped)
 * and a small sorted set of held seqs above base (gaps appear when this client's own
 * sends are acknowledged before the peer's earlier messages arrive, or after a
 * reconnect). A conversation is "anchored" once a message *received* in it (live, sync)
 * fixed base; one known only from this client's own acks is not anchored — base is
 * unknown, so it is left out of the sync request (the server then uses the cursor for
 * it) and an earlier peer message is still accepted.
 *
 * Pure logic, loop thread only, no locking.
 */
#ifndef TERN_SDK_SEQSET_H
#define TERN_SDK_SEQSET_H
#include <stddef.h>
#include <stdint.h>

#define SEQSET_MAX_ABOVE 1024 /* past this many out-of-order seqs, the lowest gap is given up */

typedef struct seq_entry {
    struct seq_entry *next; /* hash chain */
    char *conv;
    uint64_t base;
    uint64_t *above; /* sorted ascending, all > base */
    uint32_t n, cap;
    int anchored;
} seq_entry;

typedef struct seqset {
    seq_entry **buckets;
    size_t nbuckets;
    size_t count;
} seqset;

void sdk_seqset_init(seqset *s);
void sdk_seqset_free(seqset *s);

/* A message with (conv, seq > 0) was received (live event or sync page). Returns 1 if
 * it is new (now recorded: deliver it), 0 if already held (drop it). The first received
 * seq of an unanchored conversation anchors it at base = seq - 1. */
int sdk_seqset_receive(seqset *s, const char *conv, uint64_t seq);

/* This client's own send was acknowledged with (conv, seq): records it as held without
 * anchoring, so sync and live echoes of it are dropped. */
void sdk_seqset_own(seqset *s, const char *conv, uint64_t seq);

/* 1 if (conv, seq) is held. */
int sdk_seqset_has(const seqset *s, const char *conv, uint64_t seq);

/* Calls fn(conv, base) for every anchored conversation (for the sync "convs" map). */
void sdk_seqset_foreach_anchored(const seqset *s, void (*fn)(void *ud, const char *conv, uint64_t base), void *ud);

/* The highest seq held for conv (0 if none). */
uint64_t sdk_seqset_max(const seqset *s, const char *conv);

#endif
