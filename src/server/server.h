/*
 * server.h — ternd's lifecycle (server.c): open the store and bus, bind, start the I/O
 * loops, run the control loop until a signal, shut down without losing anything
 * acknowledged, free. main.c is its only caller; the structures are in context.h.
 */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H
#include "context.h"

/* Starts s, whose cfg the caller filled (config_load) and whose other fields are zero:
 * creates the data directory, opens the store, bus and network layer, loads the apps
 * (creating the demo app on first start), starts the loops and installs the signal
 * handlers. Returns 0, or -1 after logging why. */
int server_start(server *s);
/* Runs the control loop on the calling thread until shutdown has completed. */
void server_run(server *s);
/* Frees what server_start made, after server_run returned. */
void server_free(server *s);
/* On the control thread (the signal callback), never on an I/O loop or the store writer,
 * which it waits for: refuses new writes and upgrades, waits
 * until every accepted write is committed and acknowledged, then stops the loops
 * (shutdown event and close 1001 to each session). Runs once; later calls return. */
void server_begin_shutdown(server *s);

#endif
