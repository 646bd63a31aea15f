/* bus_local.c — the one-node bus: deliveries go straight to this process's session
 * registry (see bus.h for the cluster variant's shape). */
#include "bus/bus.h"

#include "core/alloc.h"
#include "server.h"

struct bus {
    server *s;
};

bus *bus_open(server *s)
{
    bus *b = tern_calloc(1, sizeof *b);
    b->s = s;
    return b;
}

void bus_close(bus *b)
{
    tern_free(b);
}

int bus_deliver_user(bus *b, int64_t app, const char *user, uint64_t except, frame *f)
{
    return registry_push_user(b->s, app, user, except, f);
}
