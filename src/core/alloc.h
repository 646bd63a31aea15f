/*
 * alloc.h — the one allocator wrapper of Tern (server, SDK, tools).
 *
 * Every heap allocation goes through these functions so memory can be counted
 * (tern_mem_used, exported in /metrics) and, in tests, made to fail on purpose.
 * Out-of-memory policy: like Redis' zmalloc, an allocation that fails aborts the
 * process with a message — a server that cannot allocate a few bytes cannot keep its
 * promises anyway, and bounded buffers (buf.h) keep peers from driving us there.
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
/* Bytes currently allocated through this wrapper (approximate: usable sizes). */
size_t tern_mem_used(void);

#endif
