/*
 * merger.h — merger messages on the server (TIMRelayElem; issue 10; docs/protocol.md §4
 * "Merger messages"): what a sender's list becomes when it is sent, and downloadMerger.
 *
 * A client names the messages to merge (core/elem.h: msgIds, or message objects carrying
 * msgId). Sending resolves every one for the SENDER with msg_get_visible: one that was
 * never stored (a failed send, an online-only message) or that the sender cannot see is
 * 1030 (seed 001: merging a message that failed to send is an error). The stored
 * message embeds the stored objects of those messages, in the client's order.
 *
 * Every list is kept once per app in the store's merger table under its key, the
 * SHA-256 (hex) of the list as cJSON prints it compactly, with its nesting depth. The
 * message embeds the list when it is at most the app's mergerInlineMaxBytes (default
 * 8192) and the payload still keeps the 12 KB rule (80002's measure); otherwise it
 * carries "messageList":[] and "downloadKey":<key>, and downloadMerger returns the list
 * to users who can see the message. So the delivered message always keeps 12 KB, and
 * the merged messages' objects together may reach TERN_MERGER_MAX_LIST (1036 past it).
 *
 * Forwarding a received merger (createForwardMessage): the client sends the payload it
 * got. With a downloadKey the list is the app's list of that key (1031 if unknown: like
 * a media id, the key is the reference). With an embedded list whose messages the
 * forwarder cannot see (say, a group's messages forwarded on by someone outside it), the
 * list is accepted when its content key is one the app stored: it is then a copy of a
 * merger someone could see; otherwise 1030.
 *
 * An onlineUserOnly merger whose list is not embedded is refused with 80002: its list
 * would need a stored message (msg_set_options).
 *
 * Nesting: a merger's depth is 1 + the deepest merger in its list. Past
 * TERN_MERGER_MAX_LAYERS the message is still sent, with "layersOverLimit":true and
 * neither a list nor a key (clients show title, abstracts or compatibleText).
 */
#ifndef TERN_MERGER_H
#define TERN_MERGER_H
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "core/message.h"
#include "store/store.h"

#define TERN_MERGER_MAX_LAYERS 10          /* nesting depth embedded; deeper: layersOverLimit */
#define TERN_MERGER_MAX_LIST (1024 * 1024) /* bytes of the merged messages' objects → 1036 */
#define TERN_MERGER_INLINE_DEFAULT 8192    /* mergerInlineMaxBytes default */

/* What the store keeps for a merger message (STORE_OP_MESSAGE's merger_* fields). */
typedef struct merger_row {
    char key[TERN_MERGER_KEY_LEN + 1]; /* "" when nothing is to be stored */
    char *body;                        /* the list (tern_malloc'd; NULL if the app has it) */
    size_t len;
    int layers;
    int apart; /* the message carries downloadKey, not the list */
} merger_row;

/* Appends to out the stored payload of m (m->elem the merger row, m->payload its
 * canonical client form) sent by `from` in app, and fills row. Returns TERN_OK, or
 * 1030, 1031, 1036 (above), 5002 (store), 5001 (memory), 1003 (a payload not of the
 * canonical form). On error row holds nothing and out may hold a partial payload. */
int merger_complete(server *s, store_reader *rd, int64_t app, const char *from, const tern_msg *m, tern_buf *out,
                    merger_row *row);

/* downloadMerger: appends the list of merger message msg_id (a JSON array) if user can
 * see the message. TERN_OK; TERN_ERR_NOT_FOUND (no such message or not visible);
 * TERN_ERR_MERGER_NOT_FOUND (not a merger, or one with layersOverLimit); 5002. */
int merger_download(server *s, store_reader *rd, int64_t app, const char *user, uint64_t msg_id, tern_buf *out);

#endif
