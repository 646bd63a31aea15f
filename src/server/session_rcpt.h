/*
 * session_rcpt.h — the WebSocket ops of read receipts (issue 10, docs/protocol.md):
 * `receipts` (the counts of messages one sent with needReadReceipt) and
 * `receiptMembers` (who has or has not read one, paged). session.c's op table calls
 * them on the connection's loop and answers with what they return.
 */
#ifndef TERN_SESSION_RCPT_H
#define TERN_SESSION_RCPT_H
#include <cjson/cJSON.h>

#include "conn.h"
#include "core/buf.h"

/* {"op":"receipts","msgIds":["<id>",..]} (1..100 ids). Appends the answer's data
 * object to out and returns TERN_OK, or returns 1003 (malformed request) / 1203 (over
 * 100 ids) / 5002. An id that is not a needReadReceipt message the caller sent gets
 * {"msgId":..,"code":1040,...} in the list, never the request's failure. */
int session_rcpt_counts(conn *c, cJSON *root, tern_buf *out);

/* {"op":"receiptMembers","msgId":"<id>","filter":"read"|"unread","cursor":"<user>",
 * "limit":1..100}: appends {"msgId","filter","members":[..],"cursor","more"} and
 * returns TERN_OK, or 1003, 1040 (not a needReadReceipt message the caller sent), 5002. */
int session_rcpt_members(conn *c, cJSON *root, tern_buf *out);

#endif
