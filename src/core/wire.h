/*
 * wire.h — encoders of Tern's wire JSON that more than one layer produces. Today: the
 * stored-message object, which the store keeps and returns verbatim and the server
 * pushes to clients. The core message model (issue 7) is expected to absorb this file.
 */
#ifndef TERN_CORE_WIRE_H
#define TERN_CORE_WIRE_H
#include <stddef.h>
#include <stdint.h>

/* Upper bound of the bytes tern_wire_stored_msg adds to fields_len (NUL included). */
#define TERN_WIRE_STORED_MSG_OVERHEAD 96

/* Builds the stored-message object
 *   {"msgId":"<id>","seq":<seq>,"time":<time_ms>,<fields>}
 * where fields is a JSON object body without braces (the members the server encoded,
 * e.g. "conversationType":"C2C","from":"a",...; fields_len 0: none, and then no comma).
 * id and seq are written in decimal (the id as a string: it exceeds 2^53); a negative
 * time_ms is written as 0. Returns a NUL-terminated tern_malloc'd string that the
 * caller frees with tern_free, its length (NUL excluded) in *len; NULL (and *len = 0) if
 * the allocation failed. */
char *tern_wire_stored_msg(uint64_t id, uint64_t seq, int64_t time_ms, const char *fields, size_t fields_len,
                           size_t *len);
/* The same with tail[0..tail_len) copied right after the fields (before the closing
 * brace): members the server adds to an object that is not stored, such as
 * `,"onlineOnly":true` (the tail brings its own leading comma). */
char *tern_wire_stored_msg_tail(uint64_t id, uint64_t seq, int64_t time_ms, const char *fields, size_t fields_len,
                                const char *tail, size_t tail_len, size_t *len);

#endif
