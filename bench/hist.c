/*
 * hist.c — the latency histogram of tern-bench: HDR-like log-linear buckets, so a run of
 * any length records every sample in fixed memory (about 30 KiB) with better than 1 %
 * resolution, and per-thread histograms merge by adding counts. See bench.h.
 */
#include <string.h>

#include "bench.h"

#define SUB (1u << HIST_SUB_BITS) /* 128 sub-buckets per power of two */

static uint32_t bucket_of(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (uint32_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return HIST_LINEAR + (shift - 1) * SUB + (uint32_t)((v >> shift) - SUB);
}

/* Midpoint of bucket i's value range. */
static uint64_t bucket_mid(uint32_t i)
{
    if (i < HIST_LINEAR)
        return i;
    uint32_t k = i - HIST_LINEAR;
    unsigned shift = k / SUB + 1;
    uint64_t sub = (uint64_t)(k % SUB) + SUB;
    uint64_t lo = sub << shift;
    return lo + ((1ull << shift) >> 1);
}

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void hist_add(hist *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_merge(hist *into, const hist *from)
{
    if (!from->count)
        return;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t hist_quantile(const hist *h, double q)
{
    if (!h->count)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = bucket_mid(i);
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}
