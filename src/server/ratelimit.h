/*
 * ratelimit.h — the message rates of seed 001's "接口限制" (issue 10): each group
 * carries at most the app's groupMsgRate messages a second (default 40), for every
 * sender and path, higher priorities first and equal ones shed at random; and the REST
 * group send is limited to restGroupSendRate requests a second per app (default 200),
 * answered 429 / 10023 past it. The design is in ratelimit.c and docs/protocol.md §4.
 * All functions are thread-safe (striped locks; no I/O, no allocation per call once a
 * group's state exists).
 */
#ifndef TERN_RATELIMIT_H
#define TERN_RATELIMIT_H
#include <stdint.h>

#include "context.h"

/* Creates and frees the limiter's state (server start / server_free). */
void ratelimit_init(server *s);
void ratelimit_free(server *s);

/* The group rate step of a send (msg.c msg_dispatch_continue): 1 if a message of
 * `priority` (TERN_MSG_PRIO_*) to group gid of app may go now, 0 if it is to be shed
 * (counted in ratelimit_shed_total; the caller completes it as a success with seq 0,
 * storing and delivering nothing). */
int ratelimit_group_admit(server *s, int64_t app, const char *gid, int priority);
/* The same at monotonic time now_ns (tests and benchmarks drive the clock). */
int ratelimit_group_admit_at(server *s, int64_t app, const char *gid, int priority, uint64_t now_ns);

/* One REST group-send request of app: TERN_OK, or TERN_ERR_SEND_RATE (10023, Tencent's "send rate exceeded") past the
 * app's restGroupSendRate a second (a request refused still counts nothing). */
int ratelimit_rest_group_send(server *s, int64_t app);

/* Messages shed by the group rate since start (tern_group_msgs_shed_total). */
uint64_t ratelimit_shed_total(server *s);
/* REST group sends refused with 10023 since start (tern_rest_group_send_limited_total). */
uint64_t ratelimit_rest_limited_total(server *s);

#endif
