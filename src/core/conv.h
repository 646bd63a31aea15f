/*
 * conv.h — conversations as the protocol names them, shared by ternd and libtern.
 *
 * A client sees `C2C<user>` for a one-to-one conversation, `GROUP<group>` for a group,
 * and `@TIM#SYSTEM` for the system conversation (Tencent's CONV_SYSTEM, receive-only).
 * The store keys the same conversations as `c:<a>:<b>` (the two users in byte order, so
 * both sides name one key) and `g:<group>`. This module maps one to the other; it owns
 * no memory.
 */
#ifndef TERN_CORE_CONV_H
#define TERN_CORE_CONV_H
#include <stddef.h>

#include "core/buf.h"

/* Conversation types; C2C and GROUP have the values of tern_conv_type (tern/tern.h). */
typedef enum tern_conv_kind {
    TERN_CONV_KIND_NONE = 0,
    TERN_CONV_KIND_C2C = 1,
    TERN_CONV_KIND_GROUP = 2,
    TERN_CONV_KIND_SYSTEM = 3 /* receive-only: sending to it is 2106 */
} tern_conv_kind;

/* The system conversation's id, and its conversationType spellings. */
#define TERN_CONV_SYSTEM_ID "@TIM#SYSTEM"

/* A conversationType value: "C2C", "GROUP", or "SYSTEM"/"@TIM#SYSTEM" (SYSTEM);
 * anything else is NONE. */
tern_conv_kind tern_conv_kind_parse(const char *s, size_t n);
/* "C2C", "GROUP" or "SYSTEM" ("" for NONE). */
const char *tern_conv_kind_name(tern_conv_kind k);

/* Splits a client conversation id ("C2Cbob", "GROUPg1") into its kind and peer (borrowed
 * from cid). Returns TERN_OK, or TERN_ERR_BAD_FIELD if the prefix is unknown or the
 * peer is not an identifier (this includes "@TIM#SYSTEM": it holds no messages to read). */
int tern_conv_id_parse(const char *cid, size_t n, tern_conv_kind *kind, tern_str *peer);

/* Appends the client conversation id of kind+peer ("C2C"/"GROUP" + peer, unquoted).
 * Returns 0, or -1 (buffer ceiling or out of memory). */
int tern_conv_id_append(tern_buf *out, tern_conv_kind kind, const char *peer, size_t peer_n);

/* The conversation id of a message as `me` sees it (docs/protocol.md §6): GROUP + to, or
 * C2C + the other user (from if from != me, else to). Writes a NUL-terminated id into
 * out; returns its length, or -1 if it does not fit. */
int tern_conv_id_for(char *out, size_t outsz, tern_conv_kind kind, const char *from, const char *to, const char *me);

/* The store key of the conversation between users a and b ("c:<lower>:<higher>"), or of
 * group g ("g:<g>"), NUL-terminated into out. Returns its length, or -1 if it does not
 * fit. Arguments are identifiers (not checked here). */
int tern_conv_key_c2c(const char *a, size_t an, const char *b, size_t bn, char *out, size_t outsz);
int tern_conv_key_group(const char *g, size_t gn, char *out, size_t outsz);

/* Client conversation id → store key for user `me`, and the peer (NUL-terminated into
 * peer). TERN_OK, or TERN_ERR_BAD_FIELD (malformed id, or a buffer too small). */
int tern_conv_id_to_key(const char *cid, size_t n, const char *me, char *key, size_t keysz, tern_conv_kind *kind,
                        char *peer, size_t peersz);

#endif
