/*
 * stream.h — streamed messages (Easemob seed 002) in ternd: the open streams, each
 * chunk's checks with the seed's codes and limits, the per-app request rate, the
 * sweeper that ends idle and overlong streams, and the live `stream` events
 * (docs/protocol.md §5, §6). The REST endpoint (rest/streams.c) parses a request with
 * core/stream.h and hands it here.
 *
 * The path of a chunk: checks against the stream's state, under the table's lock, then
 * the state moves on and the chunk's store op is queued — still under the lock, so the
 * store commits a stream's chunks in the order they were accepted, and two requests
 * racing with one seq cannot both win. After commit, on the store writer, the chunk's
 * event goes to every online recipient (in commit order, so in seq order) and the
 * request is answered: an answered chunk is durable.
 *
 * A stream to a group or user that does not exist (the seed: not an error) gets a
 * message id and is checked like any other, but stores and delivers nothing; it lives in
 * memory only while it is open.
 */
#ifndef TERN_STREAM_H
#define TERN_STREAM_H
#include <stdint.h>

#include "context.h"
#include "core/stream.h"

/* The answer of a chunk: code (TERN_OK or an error) and the stream's message id. Runs
 * once per accepted request on the store writer — or, for a stream that stores nothing,
 * on the calling thread before stream_post returns. */
typedef void (*stream_done_fn)(void *ud, int code, uint64_t msg_id);

/* Creates the table and takes up the streams the store holds open (after a restart);
 * rd is a reader the caller closes afterwards. 0, or -1 (logged). */
int stream_init(server *s, store_reader *rd);
/* Starts the sweeper on the control loop (s->ctl). */
void stream_start_sweeper(server *s);
/* Stops the sweeper (shutdown, on the control loop's thread). */
void stream_stop_sweeper(server *s);
/* Frees the table (after store_close: no op is in flight). */
void stream_free(server *s);

/* One request of app against the per-app rate (--stream-rate a second, 0: none):
 * TERN_OK, or TERN_ERR_RATE_LIMITED and nothing else happens. Thread-safe. */
int stream_rate_take(server *s, int64_t app);

/* One chunk request of app to `stream_message/chatgroup` (is_group) or `/users`, read
 * with the I/O loop's reader rd. Returns TERN_OK when done will run (exactly once), or
 * the refusal, done not running: 14030 (a first chunk's seq not 0), 14031, 14032,
 * 14033, 14034, 14035, 14036, 14037, 14038, 14100, 80002 (ext over 12 KB), 5002, 5003,
 * 5004. A refusal changes nothing, except 14032/14033/14034 which end the stream. */
int stream_post(server *s, store_reader *rd, int64_t app, int is_group, const tern_stream_req *req, stream_done_fn done,
                void *ud);

/* Counters for /metrics. Thread-safe. */
typedef struct stream_stats {
    uint64_t open;         /* streams open now (in memory) */
    uint64_t chunks;       /* chunks committed (first chunks included) */
    uint64_t rate_limited; /* requests refused by the per-app rate */
    uint64_t ended;        /* streams ended by a limit, the sweeper or a store failure */
} stream_stats;
void stream_get_stats(server *s, stream_stats *out);

#endif
