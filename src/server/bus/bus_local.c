/* bus_local.c — the one-node bus: deliveries go straight to this process's session
 * registry, one registry lock per call whatever the number of users; presence changes
 * are only counted (see bus.h for what the cluster variant does with each call). */
#include "bus/bus.h"

#include <stdatomic.h>

#include "bus/registry.h"
#include "core/alloc.h"

struct bus {
    bus_options o;
    atomic_uint_fast64_t up, down; /* presence announcements seen */
};

bus *bus_open(const bus_options *o)
{
    bus *b = tern_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->o = *o;
    atomic_init(&b->up, 0);
    atomic_init(&b->down, 0);
    return b;
}

void bus_close(bus *b)
{
    tern_free(b);
}

int bus_deliver_user(bus *b, int64_t app, const char *user, uint64_t except_session, struct frame *f, int close_code)
{
    return registry_push_users(b->o.registry, app, &user, 1, except_session, f, close_code);
}

int bus_deliver_users(bus *b, int64_t app, const char *const *users, size_t n, uint64_t except_session, struct frame *f,
                      int close_code)
{
    return registry_push_users(b->o.registry, app, users, n, except_session, f, close_code);
}

void bus_session_up(bus *b, int64_t app, const char *user, uint64_t session_id)
{
    atomic_fetch_add_explicit(&b->up, 1, memory_order_relaxed);
}

void bus_session_down(bus *b, int64_t app, const char *user, uint64_t session_id)
{
    atomic_fetch_add_explicit(&b->down, 1, memory_order_relaxed);
}

uint64_t bus_sessions_up(bus *b)
{
    return atomic_load(&b->up) - atomic_load(&b->down);
}
