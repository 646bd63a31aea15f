/*
 * msgget.h — one stored message as one user may see it (issue 10): the check behind
 * getMessages, merger creation and download, message extensions and read receipts.
 *
 * A user sees a stored message of their app if it is a C2C message they sent or
 * received, or a group message of a group they are a member of now (a member who left
 * sees none of its messages, as history refuses them the conversation). Online-only
 * messages are never stored, so never found. A message the user cannot see and one
 * that does not exist get the same answer. (H1 adds the receiverList check here.)
 */
#ifndef TERN_MSGGET_H
#define TERN_MSGGET_H
#include <stdint.h>

#include "context.h"
#include "core/buf.h"
#include "store/store.h"

/* Appends message msg_id of app to json_out if `user` may see it, and writes its store
 * conversation key into conv_key_out (160 bytes; may be NULL). Uses the caller's reader
 * (one per thread). Returns TERN_OK; TERN_ERR_NOT_FOUND (absent or not visible: json_out
 * unchanged); TERN_ERR_STORE; TERN_ERR_INTERNAL (out of memory). */
int msg_get_visible(server *s, store_reader *rd, int64_t app, const char *user, uint64_t msg_id, tern_buf *json_out,
                    char *conv_key_out);

#endif
