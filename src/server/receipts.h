/*
 * receipts.h — the events of read receipts (issue 10): when a read op newly passes
 * needReadReceipt messages of others (the store counts each reader once,
 * store.h u.read.rcpts), their senders' sessions learn it:
 *   C2C   {"ev":"receipt","data":{"conversationID":"C2C<reader>","peerReadSeq":n,
 *          "peerReadTime":ms}} at once;
 *   group {"ev":"receipt","data":{"conversationID":"GROUP<gid>","msgId":"<id>",
 *          "readCount":n,"unreadCount":m}}, coalesced: at most one per message per
 *          store batch, with the counts at the batch's end.
 * Reads that pass no receipt message cost nothing here. The queries (`receipts`,
 * `receiptMembers`) are session_rcpt.c's.
 */
#ifndef TERN_RECEIPTS_H
#define TERN_RECEIPTS_H
#include <stdint.h>

#include "context.h"

/* Creates / frees the pending group events (before the store opens / after it closed). */
void receipts_init(server *s);
void receipts_free(server *s);

/* A mark-read op of `reader` in the conversation with `peer` (C2C: the other user;
 * group: the group id) completed: sends the C2C event or queues the group ones, then
 * frees op->u.read.rcpts (whatever op->result). Writer thread only. */
void receipts_on_read(server *s, int64_t app, const char *reader, int is_group, const char *peer, store_op *op);

/* Sends the group events queued in this batch (the writer's batch end). */
void receipts_flush(server *s);

#endif
