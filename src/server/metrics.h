/*
 * metrics.h — /metrics in the Prometheus text format (docs/operations.md lists the
 * series): the server's counters, the network layer's and the store's.
 */
#ifndef TERN_METRICS_H
#define TERN_METRICS_H
#include "context.h"
#include "core/buf.h"

/* Appends every series, with HELP and TYPE lines, to out. Thread-safe (atomic reads and
 * store_get_stats). */
void metrics_write(server *s, tern_buf *out);

#endif
