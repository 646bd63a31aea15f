/* alloc.c — counting allocator wrapper; see alloc.h for the out-of-memory policy.
 *
 * The count is sharded: each thread adds to and subtracts from its own cache line (a
 * block freed by another thread is subtracted there; only the sum means anything), so
 * the loops and the store writer, which allocate for every message, never contend on
 * one counter. tern_mem_used sums the shards. */
#include "core/alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 16
static struct {
    _Alignas(64) atomic_long v;
} used[SHARDS];
static atomic_uint next_shard;
static __thread int my_shard = -1;

static inline atomic_long *shard(void)
{
    if (__builtin_expect(my_shard < 0, 0))
        my_shard = (int)(atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % SHARDS);
    return &used[my_shard].v;
}

static inline void mem_count(long delta)
{
    /* A locked add, but on this thread's own cache line (shared only when more than
     * SHARDS threads allocate), so it never contends with the other loops. */
    atomic_fetch_add_explicit(shard(), delta, memory_order_relaxed);
}
/* Fault hook: 0 = disarmed; otherwise allocations left before the failing one. */
static atomic_long fail_countdown;
static atomic_long failures;

void tern_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n > 0 ? n : 0);
}

long tern_alloc_failures(void)
{
    return atomic_load(&failures);
}

/* 1 if the hook says this allocation fails. Once it has fired it keeps failing until
 * disarmed, so a caller that retries does not succeed by accident. */
int tern_alloc_injected(void)
{
    if (__builtin_expect(atomic_load_explicit(&fail_countdown, memory_order_relaxed) == 0, 1))
        return 0;
    long left = atomic_load(&fail_countdown);
    if (left > 1) {
        atomic_store(&fail_countdown, left - 1);
        return 0;
    }
    atomic_fetch_add(&failures, 1);
    return 1;
}

static void *oom(size_t n)
{
    fprintf(stderr, "tern: out of memory allocating %zu bytes\n", n);
    abort();
}

void *tern_malloc(size_t n)
{
    if (tern_alloc_injected())
        return NULL;
    void *p = malloc(n ? n : 1);
    if (!p)
        return oom(n);
    mem_count((long)malloc_usable_size(p));
    return p;
}

void *tern_calloc(size_t count, size_t size)
{
    if (tern_alloc_injected())
        return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        return oom(count * size);
    mem_count((long)malloc_usable_size(p));
    return p;
}

void *tern_realloc(void *p, size_t n)
{
    if (tern_alloc_injected())
        return NULL;
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, n ? n : 1);
    if (!q)
        return oom(n);
    mem_count((long)malloc_usable_size(q) - (long)old);
    return q;
}

void tern_free(void *p)
{
    if (!p)
        return;
    mem_count(-(long)malloc_usable_size(p));
    free(p);
}

char *tern_strndup(const char *s, size_t n)
{
    char *d = tern_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *tern_strdup(const char *s)
{
    return tern_strndup(s, strlen(s));
}

size_t tern_mem_used(void)
{
    long sum = 0;
    for (int i = 0; i < SHARDS; i++)
        sum += atomic_load_explicit(&used[i].v, memory_order_relaxed);
    return sum > 0 ? (size_t)sum : 0;
}
