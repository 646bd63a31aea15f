/*
 * sqlite_mem.c — SQLite's allocator in ternd, and the store's out-of-memory test hook.
 *
 * Out-of-memory policy of the store: SQLite reports a failed allocation as SQLITE_NOMEM
 * and stays usable, so the store turns it into an error (a failed open, TERN_ERR_STORE
 * for a read or for every op of the batch, which is rolled back), never a crash. That
 * needs an allocator that returns NULL: tern_malloc aborts (core/alloc.h), so these
 * methods call libc directly — the one place in the server that does, because SQLite's
 * contract requires it. SQLite counts its own memory (sqlite3_memory_used).
 *
 * The methods are installed with sqlite3_config(SQLITE_CONFIG_MALLOC) before SQLite's
 * first use in the process (sq_mem_install, called by the store before it opens
 * anything). They add one relaxed atomic load per allocation to libc's malloc: the test
 * hook below, which makes the Nth allocation from the moment it is armed, and every
 * later one, fail until it is disarmed (like curl's torture mode and SQLite's own
 * sqlite3_test_control(SQLITE_TESTCTRL_FAULT_INSTALL)). When this hook is not armed, the
 * process-wide one of core/alloc.h (tern_alloc_fail_after) is asked instead, so a test
 * that fails the Nth allocation of the whole server reaches SQLite too.
 */
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/log.h"
#include "server/store/sqlite_internal.h"

static atomic_int armed;
static atomic_long left;       /* allocations until the first failure, while armed */
static atomic_ulong nfailures; /* allocations failed on purpose so far */

/* 1 if this allocation must fail. */
static int fail_now(void)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed))
        return tern_alloc_injected(); /* the process-wide hook of core/alloc.h */
    if (atomic_fetch_sub_explicit(&left, 1, memory_order_relaxed) > 1)
        return 0;
    atomic_fetch_add_explicit(&nfailures, 1, memory_order_relaxed);
    return 1;
}

void store_test_fail_alloc_after(unsigned long n)
{
    atomic_store(&armed, 0);
    atomic_store(&left, n > LONG_MAX ? LONG_MAX : (long)n);
    atomic_store(&armed, n != 0);
}

unsigned long store_test_alloc_failures(void)
{
    return atomic_load(&nfailures);
}

static int mem_roundup(int n)
{
    return n > INT_MAX - 7 ? n : (n + 7) & ~7;
}

/* Like SQLite's own default (mem1.c): each block carries its size in an 8-byte header,
 * so xSize costs no call into libc. */
static void *mem_malloc(int n)
{
    if (n <= 0 || n > INT_MAX - 7 || fail_now())
        return NULL;
    n = mem_roundup(n);
    sqlite3_int64 *p = malloc((size_t)n + 8);
    if (!p)
        return NULL;
    p[0] = n;
    return p + 1;
}

static void mem_free(void *p)
{
    if (p)
        free((sqlite3_int64 *)p - 1);
}

static void *mem_realloc(void *p, int n)
{
    if (n <= 0 || n > INT_MAX - 7 || fail_now())
        return NULL;
    n = mem_roundup(n);
    sqlite3_int64 *q = realloc((sqlite3_int64 *)p - 1, (size_t)n + 8);
    if (!q)
        return NULL;
    q[0] = n;
    return q + 1;
}

static int mem_size(void *p)
{
    return p ? (int)((sqlite3_int64 *)p)[-1] : 0;
}

static int mem_init(void *ud)
{
    (void)ud;
    return SQLITE_OK;
}

static void mem_shutdown(void *ud)
{
    (void)ud;
}

static sqlite3_mem_methods methods = {
    mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup, mem_init, mem_shutdown, NULL,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int installed;

static void install(void)
{
    int rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
    installed = rc == SQLITE_OK;
    if (!installed)
        LOG_WARN("store: SQLite was initialised before the store (%s): its allocations cannot be failed in tests",
                 sqlite3_errstr(rc));
}

int sq_mem_install(void)
{
    pthread_once(&once, install);
    return installed ? 0 : -1;
}
