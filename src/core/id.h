/*
 * id.h — server message ids: 64-bit, time-ordered, carried as decimal strings.
 *
 * Layout (high to low): 41 bits milliseconds since 2024-01-01T00:00:00Z (good until
 * 2093), 10 bits node id (0..1023, the cluster node), 12 bits sequence within the
 * millisecond. Ids from one generator are strictly increasing even if the wall clock
 * steps back (the generator then borrows from the future millisecond until the clock
 * catches up). Like Easemob's msgId they stay below 2^63 so every language can hold them.
 */
#ifndef TERN_CORE_ID_H
#define TERN_CORE_ID_H
#include <pthread.h>
#include <stdint.h>

#define TERN_ID_EPOCH_MS 1704067200000LL

typedef struct tern_idgen {
    pthread_mutex_t mu;
    uint64_t last; /* last id handed out */
    unsigned node;
} tern_idgen;

void tern_idgen_init(tern_idgen *g, unsigned node);
/* Next id; thread-safe. */
uint64_t tern_idgen_next(tern_idgen *g);
/* Milliseconds since the Unix epoch encoded in an id. */
int64_t tern_id_time_ms(uint64_t id);
/* Writes the decimal form (NUL-terminated, <= 20 digits) into out[21]; returns length. */
int tern_id_format(uint64_t id, char out[21]);

#endif
