/*
 * bus.h — how a message reaches the sessions of a user, wherever they are connected.
 *
 * One node (bus_local.c): the session registry of this process. A cluster (later,
 * bus_nats.c): the local registry plus a publish on the user's NATS subject for the
 * sessions other nodes hold, where that node's bus hands it to its own registry. The
 * server calls only these functions, so the cluster drops in without touching the
 * message path.
 */
#ifndef TERN_BUS_H
#define TERN_BUS_H
#include <stdint.h>

struct server;
struct frame;

typedef struct bus bus;

/* Creates the bus for server s; NULL on failure. */
bus *bus_open(struct server *s);
void bus_close(bus *b);
/* Delivers frame f (the caller keeps its reference) to every session of (app, user)
 * except the connection `except` (0: none). Thread-safe; never blocks on the network.
 * Returns the number of local sessions reached. */
int bus_deliver_user(bus *b, int64_t app, const char *user, uint64_t except, struct frame *f);

#endif
