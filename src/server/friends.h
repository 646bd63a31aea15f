/*
 * friends.h — friends of a user (issue 10): the per-app friend check of C2C sends
 * (friendCheck, Tencent's 20009) and the friend list as JSON, shared by the WebSocket
 * op `friends` (session_friends.c) and REST (rest/friends.c). Friendship is symmetric
 * and lives in the store (store.h: STORE_OP_FRIEND_ADD/DELETE, store_friends,
 * store_is_friend).
 */
#ifndef TERN_FRIENDS_H
#define TERN_FRIENDS_H
#include <stdint.h>

#include "context.h"
#include "core/buf.h"
#include "store/store.h"

/* The check of a C2C message from `from` to `to` in app: TERN_OK when the app's
 * friendCheck is off (no store read then) or the two are friends; TERN_ERR_NOT_FRIEND
 * (20009) when it is on and they are not; TERN_ERR_STORE if the lookup failed.
 * A user writing to itself passes. Any loop thread, with that thread's reader. */
int friends_check(server *s, store_reader *rd, int64_t app, const char *from, const char *to);

/* Appends the user's friends as a JSON array of strings, in id order, and sets *count
 * (may be NULL) to their number. TERN_OK or TERN_ERR_STORE (out then holds a partial
 * array: the caller discards it). */
int friends_list_json(store_reader *rd, int64_t app, const char *user, tern_buf *out, size_t *count);

#endif
