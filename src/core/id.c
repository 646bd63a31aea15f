/*
 * id.c — snowflake message ids; see id.h for the layout.
 *
 * The generator remembers the last id it handed out and never goes below it: when the
 * wall clock stands still or steps back, it keeps the last id's millisecond and bumps
 * the sequence, and when the 4096 sequence numbers of that millisecond are used up it
 * borrows the next millisecond. Ids stay unique and increasing at the cost of a small
 * drift in their timestamps until the clock catches up.
 */
#include "core/id.h"

#include "core/util.h"

#define SEQ_BITS 12
#define NODE_BITS 10
#define TS_SHIFT (SEQ_BITS + NODE_BITS)
#define SEQ_MASK ((1u << SEQ_BITS) - 1)
#define NODE_MASK ((1u << NODE_BITS) - 1)
#define TS_MAX ((UINT64_C(1) << 41) - 1)

void tern_idgen_init(tern_idgen *g, unsigned node)
{
    pthread_mutex_init(&g->mu, NULL);
    g->last = 0;
    g->node = node & NODE_MASK;
}

uint64_t tern_idgen_next(tern_idgen *g)
{
    int64_t now = tern_now_ms() - TERN_ID_EPOCH_MS;
    uint64_t ts = now < 0 ? 0 : (uint64_t)now;
    if (ts > TS_MAX)
        ts = TS_MAX; /* past 2093: keep ids below 2^63 rather than wrap */

    pthread_mutex_lock(&g->mu);
    uint64_t last_ts = g->last >> TS_SHIFT;
    uint64_t seq = 0;
    if (ts <= last_ts) {
        ts = last_ts;
        seq = (g->last & SEQ_MASK) + 1;
        if (seq > SEQ_MASK) {
            ts++; /* borrow from the future millisecond */
            seq = 0;
        }
    }
    uint64_t id = ts << TS_SHIFT | (uint64_t)g->node << SEQ_BITS | seq;
    g->last = id;
    pthread_mutex_unlock(&g->mu);
    return id;
}

int64_t tern_id_time_ms(uint64_t id)
{
    return (int64_t)(id >> TS_SHIFT) + TERN_ID_EPOCH_MS;
}

int tern_id_format(uint64_t id, char out[21])
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}
