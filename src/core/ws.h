/*
 * ws.h — Tern's WebSocket (RFC 6455) codec, used by ternd, libtern and tern-bench.
 *
 * Why our own codec and not wslay: wslay copies every queued message into its own
 * queue and keeps a 4 KiB input buffer per connection. Tern encodes a message pushed
 * to N recipients once and writes the same refcounted bytes to every socket (server
 * frames are unmasked, so the whole frame is shareable), and an idle connection must
 * cost well under 6 KiB. The codec below holds no buffer while a connection is idle.
 *
 * The codec does no I/O. The reader is fed whatever bytes arrived; complete frames are
 * parsed in place (the input buffer must be writable: payloads are unmasked in place),
 * only an incomplete tail is copied into `pend`, and fragmented messages are assembled
 * in `frag`. Both are bounded by max_msg.
 */
#ifndef TERN_CORE_WS_H
#define TERN_CORE_WS_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum { WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2, WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xA };

/* Close status codes (RFC 6455 §7.4 and Tern's 4000 range, see docs/protocol.md). */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_BAD_DATA = 1007, /* invalid UTF-8 in a text message */
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
    WS_CLOSE_SLOW_CONSUMER = 4001, /* send queue over its ceiling: reconnect and sync */
    WS_CLOSE_AUTH = 4002,          /* login failed / token expired */
    WS_CLOSE_KICKED = 4003,        /* session ended by the server */
    WS_CLOSE_IDLE = 4004           /* no traffic within the keep-alive timeout */
};

#define WS_MAX_HEADER 14

typedef struct ws_frame_hdr {
    uint8_t fin;
    uint8_t opcode;
    uint8_t masked;
    uint8_t mask[4];
    uint64_t len;   /* payload length */
    size_t hdr_len; /* bytes of header, 2..14 */
} ws_frame_hdr;

/* Parses the frame header at p[0..n).
 * Returns hdr_len (> 0) when the header is complete, 0 if more bytes are needed, -1 on a
 * protocol error: RSV bits set, unknown opcode, control frame fragmented or over 125
 * bytes, 64-bit length with the top bit set. */
int ws_parse_header(const uint8_t *p, size_t n, ws_frame_hdr *h);

/* Writes a frame header into out (WS_MAX_HEADER bytes suffice); mask NULL for an
 * unmasked (server) frame. Returns the header length. */
size_t ws_encode_header(uint8_t *out, unsigned opcode, int fin, uint64_t len, const uint8_t *mask);

/* XORs p[0..n) with mask, starting at byte `offset` of the payload. */
void ws_apply_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset);

/* Appends one complete, unfragmented frame to out. With mask (client side) the payload
 * is masked while copied. Returns 0, or -1 if out's ceiling is hit. */
int ws_append_frame(tern_buf *out, unsigned opcode, const void *payload, size_t len, const uint8_t *mask);

/* Computes Sec-WebSocket-Accept for the client's key: base64(SHA1(key + GUID)).
 * out receives 28 characters + NUL. Returns 0, or -1 if the key is empty or over 64 bytes. */
int ws_accept_key(const char *key, size_t n, char out[29]);

/* Fills key[25] with a fresh random Sec-WebSocket-Key (base64 of 16 random bytes). */
void ws_make_key(char key[25]);

/* Called by ws_reader_feed for every complete message (TEXT or BINARY, reassembled) and
 * every control frame (CLOSE, PING, PONG). data is writable and valid only during the
 * call. Return 0 to go on, non-zero to stop: feed then returns WS_STOP. */
typedef int (*ws_msg_cb)(void *ud, unsigned opcode, uint8_t *data, size_t len);

typedef struct ws_reader {
    tern_buf pend;       /* an incomplete frame carried to the next feed */
    tern_buf frag;       /* payload of a fragmented message under assembly */
    uint8_t frag_op;     /* TEXT/BINARY while assembling, else 0 */
    uint8_t from_client; /* 1 on the server: frames must be masked; 0 on a client: must not be */
    size_t max_msg;      /* largest message (payload) accepted */
} ws_reader;

#define WS_STOP (-1)

void ws_reader_init(ws_reader *r, int from_client, size_t max_msg);
void ws_reader_free(ws_reader *r);
/* Parses data[0..n) (modified in place). Returns 0 when all bytes were used (an
 * incomplete tail is kept), WS_STOP if the callback stopped, or a close code the caller
 * should send before closing: WS_CLOSE_PROTOCOL (bad framing, wrong masking, unexpected
 * continuation), WS_CLOSE_BAD_DATA (text not UTF-8), WS_CLOSE_TOO_BIG (over max_msg). */
int ws_reader_feed(ws_reader *r, uint8_t *data, size_t n, ws_msg_cb cb, void *ud);

/* Client handshake: appends the HTTP upgrade request for host/path with the key and
 * subprotocol (may be NULL). */
int ws_client_request(tern_buf *out, const char *host, const char *path, const char *key, const char *subprotocol);

#endif
