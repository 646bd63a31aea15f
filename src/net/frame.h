/*
 * frame.h — refcounted, immutable WebSocket frames: a message fanned out to many sockets
 * is encoded once and every connection writes the same bytes (frame.c). Part of the
 * network layer; the server builds frames and hands them to net_conn_send / the inbox.
 */
#ifndef TERN_NET_FRAME_H
#define TERN_NET_FRAME_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A complete WebSocket frame (header + payload), immutable once built, refcounted. */
typedef struct frame {
    atomic_int refs;
    uint32_t len;
    uint8_t data[];
} frame;

/* Builds an unmasked frame of the opcode around payload[0..n), with one reference the
 * caller owns. */
frame *frame_build(unsigned opcode, const void *payload, size_t n);
/* Builds an unmasked text frame around payload[0..n) with one reference. */
frame *frame_text(const char *payload, size_t n);
/* Builds a close frame with a status code and reason (NUL-terminated, cut to 123 bytes;
 * NULL for none). */
frame *frame_close(int code, const char *reason);
/* Takes one more reference; returns f. */
frame *frame_ref(frame *f);
/* Drops one reference, freeing f with the last. NULL is a no-op. */
void frame_unref(frame *f);

#endif
