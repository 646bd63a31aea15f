/* alloc.c — counting allocator wrapper; see alloc.h for the out-of-memory policy. */
#include "core/alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_size_t used;
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
    atomic_fetch_add_explicit(&used, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *tern_calloc(size_t count, size_t size)
{
    if (tern_alloc_injected())
        return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        return oom(count * size);
    atomic_fetch_add_explicit(&used, malloc_usable_size(p), memory_order_relaxed);
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
    atomic_fetch_sub_explicit(&used, old, memory_order_relaxed);
    atomic_fetch_add_explicit(&used, malloc_usable_size(q), memory_order_relaxed);
    return q;
}

void tern_free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub_explicit(&used, malloc_usable_size(p), memory_order_relaxed);
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
    return atomic_load_explicit(&used, memory_order_relaxed);
}
