/*
 * alloc.h — the one allocator wrapper of Tern (server, SDK, tools).
 *
 * Every heap allocation goes through these functions so memory can be counted
 * (tern_mem_used, exported in /metrics) and, in tests, made to fail on purpose.
 *
 * Out-of-memory policy:
 *   - In production, like Redis' zmalloc, an allocation that the system refuses aborts
 *     the process with a message: a server that cannot allocate a few bytes cannot keep
 *     its promises anyway, and bounded buffers (buf.h) keep peers from driving us there.
 *   - In tests, tern_alloc_fail_after(n) arms a fault: the n-th allocation from then on
 *     (tern_malloc, tern_calloc, tern_realloc, tern_strndup/strdup, and cJSON's, see
 *     json.h) returns NULL instead, and so does every later one until the hook is
 *     disarmed (like curl's torture mode). tern_realloc then leaves the old block
 *     untouched. Code that must survive out-of-memory (the JSON and message codecs in
 *     src/core, tern_buf) checks for NULL and turns it into an error (-1 or
 *     TERN_ERR_INTERNAL), never a crash; other code may assume success, as it only runs
 *     unarmed. The hook is always compiled in; unarmed it costs one predictable branch.
 * tern_free(NULL) is a no-op.
 */
#ifndef TERN_CORE_ALLOC_H
#define TERN_CORE_ALLOC_H
#include <stddef.h>

void *tern_malloc(size_t n);
void *tern_calloc(size_t count, size_t size);
void *tern_realloc(void *p, size_t n);
void tern_free(void *p);
/* Copies n bytes of s and adds a NUL. */
char *tern_strndup(const char *s, size_t n);
char *tern_strdup(const char *s);
/* Arms the fault hook: the n-th allocation from now (n >= 1) and all after it return
 * NULL. n = 0 disarms it. Process-wide (an atomic counter), meant for single-threaded
 * unit tests. */
void tern_alloc_fail_after(long n);
/* Allocations refused by the hook since the process started (tests read it to know
 * whether a failure was injected). */
long tern_alloc_failures(void);
/* 1 if the armed hook refuses the allocation being made now (and counts it), else 0.
 * For allocators that do not go through this wrapper but must fail with it: SQLite's
 * (store/sqlite_mem.c), so one tern_alloc_fail_after reaches the store too. */
int tern_alloc_injected(void);

/* Bytes currently allocated through this wrapper (approximate: usable sizes). */
size_t tern_mem_used(void);

#endif
