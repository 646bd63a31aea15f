/*
 * ws.c — the RFC 6455 codec: frame headers, masking, the incremental reader, the
 * handshake key and the client's upgrade request; see ws.h for why it is our own.
 *
 * The reader's hot path is a loop over complete frames in the caller's buffer: parse
 * the header, unmask in place, hand the payload to the callback. Nothing is copied or
 * allocated unless a frame straddles two reads (its bytes so far go to `pend`) or a
 * message is fragmented (its payload is gathered in `frag`). Every length the peer
 * declares is checked against max_msg before a single byte is buffered, and both
 * buffers are released as soon as they empty so an idle connection holds no memory.
 */
#include "core/ws.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- frame headers -------------------------------------------------------------- */

int ws_parse_header(const uint8_t *p, size_t n, ws_frame_hdr *h)
{
    if (n < 2)
        return 0;
    uint8_t b0 = p[0], b1 = p[1];
    if (b0 & 0x70)
        return -1; /* RSV1-3: no extension is ever negotiated */
    unsigned op = b0 & 0x0F;
    switch (op) {
    case WS_OP_CONT:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG: break;
    default: return -1;
    }
    h->fin = (uint8_t)(b0 >> 7);
    h->opcode = (uint8_t)op;
    h->masked = (uint8_t)(b1 >> 7);
    unsigned len7 = b1 & 0x7F;
    if (op & 0x8) {
        /* Control frames: never fragmented, payload at most 125 bytes (§5.5). */
        if (!h->fin || len7 > 125)
            return -1;
    }
    size_t hl = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (h->masked ? 4 : 0);
    if (n < hl)
        return 0;
    const uint8_t *q = p + 2;
    if (len7 == 126) {
        h->len = (uint64_t)q[0] << 8 | q[1];
        q += 2;
    } else if (len7 == 127) {
        if (q[0] & 0x80)
            return -1; /* the most significant bit must be 0 (§5.2) */
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | q[i];
        h->len = v;
        q += 8;
    } else {
        h->len = len7;
    }
    if (h->masked)
        memcpy(h->mask, q, 4);
    else
        memset(h->mask, 0, 4);
    h->hdr_len = hl;
    return (int)hl;
}

size_t ws_encode_header(uint8_t *out, unsigned opcode, int fin, uint64_t len, const uint8_t *mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len <= 0xFFFF) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(len >> (8 * i));
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void ws_apply_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset)
{
    /* Rotate the key so that byte 0 of p lines up with key byte offset % 4, then XOR
     * eight bytes per step: the loop runs over every payload byte received. */
    uint8_t k[8];
    for (int i = 0; i < 8; i++)
        k[i] = mask[(offset + (size_t)i) & 3];
    uint64_t kw;
    memcpy(&kw, k, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= kw;
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++)
        p[i] ^= k[i & 7];
}

int ws_append_frame(tern_buf *out, unsigned opcode, const void *payload, size_t len, const uint8_t *mask)
{
    uint8_t hdr[WS_MAX_HEADER];
    size_t hl = ws_encode_header(hdr, opcode, 1, len, mask);
    if (len > SIZE_MAX - hl || tern_buf_reserve(out, hl + len) < 0)
        return -1;
    uint8_t *o = (uint8_t *)out->data + out->len;
    memcpy(o, hdr, hl);
    if (len)
        memcpy(o + hl, payload, len);
    if (mask)
        ws_apply_mask(o + hl, len, mask, 0);
    out->len += hl + len;
    out->data[out->len] = 0;
    return 0;
}

/* ---- handshake ------------------------------------------------------------------ */

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_accept_key(const char *key, size_t n, char out[29])
{
    if (n == 0 || n > 64)
        return -1;
    char buf[64 + sizeof WS_GUID];
    memcpy(buf, key, n);
    memcpy(buf + n, WS_GUID, sizeof WS_GUID - 1);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(buf, n + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return -1;
    return tern_base64_encode(md, 20, out, 29) == 28 ? 0 : -1;
}

void ws_make_key(char key[25])
{
    uint8_t raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        /* Same policy as out-of-memory (alloc.h): without a working CSPRNG the process
         * cannot mint anything safely either. */
        fprintf(stderr, "tern: RAND_bytes failed\n");
        abort();
    }
    tern_base64_encode(raw, sizeof raw, key, 25);
}

/* 1 if s is non-empty and holds no CR or LF, so it cannot split the request head. */
static int head_safe(const char *s)
{
    return s && *s && !strpbrk(s, "\r\n");
}

int ws_client_request(tern_buf *out, const char *host, const char *path, const char *key, const char *subprotocol)
{
    if (!head_safe(host) || !head_safe(key) || (path && *path && !head_safe(path)))
        return -1;
    if (subprotocol && !head_safe(subprotocol))
        return -1;
    if (!path || !*path)
        path = "/";
    if (tern_buf_printf(out,
                        "GET %s HTTP/1.1\r\n"
                        "Host: %s\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n",
                        path, host, key) < 0)
        return -1;
    if (subprotocol && tern_buf_printf(out, "Sec-WebSocket-Protocol: %s\r\n", subprotocol) < 0)
        return -1;
    return tern_buf_append(out, "\r\n", 2);
}

/* ---- reader --------------------------------------------------------------------- */

void ws_reader_init(ws_reader *r, int from_client, size_t max_msg)
{
    r->max_msg = max_msg;
    /* pend holds at most one frame: a header and a payload the size checks admitted,
     * which for control frames may be up to 125 bytes whatever max_msg is. */
    size_t biggest = max_msg < 125 ? 125 : max_msg;
    tern_buf_init(&r->pend, biggest > SIZE_MAX - WS_MAX_HEADER ? 0 : biggest + WS_MAX_HEADER);
    tern_buf_init(&r->frag, max_msg);
    r->frag_op = 0;
    r->from_client = from_client ? 1 : 0;
}

void ws_reader_free(ws_reader *r)
{
    tern_buf_free(&r->pend);
    tern_buf_free(&r->frag);
    r->frag_op = 0;
}

static int close_code_valid(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/* Checks a parsed header against the reader's rules before any payload is touched:
 * masking direction, continuation state and size. Returns 0 or a close code. */
static int check_header(const ws_reader *r, const ws_frame_hdr *h)
{
    if (h->masked != r->from_client)
        return WS_CLOSE_PROTOCOL; /* §5.1: clients always mask, servers never do */
    if (h->opcode & 0x8)
        return 0; /* control: <= 125 bytes, checked by ws_parse_header */
    if (h->opcode == WS_OP_CONT) {
        if (!r->frag_op)
            return WS_CLOSE_PROTOCOL;
    } else if (r->frag_op) {
        return WS_CLOSE_PROTOCOL; /* a new message while one is still open */
    }
    size_t have = h->opcode == WS_OP_CONT ? r->frag.len : 0;
    if (h->len > (uint64_t)(r->max_msg - have))
        return WS_CLOSE_TOO_BIG;
    return 0;
}

/* Handles one complete frame whose header passed check_header; payload is writable and
 * still masked. Returns 0, WS_STOP or a close code. */
static int on_frame(ws_reader *r, const ws_frame_hdr *h, uint8_t *payload, ws_msg_cb cb, void *ud)
{
    size_t len = (size_t)h->len;
    if (h->masked && len)
        ws_apply_mask(payload, len, h->mask, 0);

    if (h->opcode & 0x8) {
        if (h->opcode == WS_OP_CLOSE && len) {
            /* §5.5.1: a body is a 2-byte status code followed by a UTF-8 reason. */
            if (len < 2 || !close_code_valid((unsigned)payload[0] << 8 | payload[1]))
                return WS_CLOSE_PROTOCOL;
            if (!tern_utf8_valid(payload + 2, len - 2))
                return WS_CLOSE_BAD_DATA;
        }
        return cb(ud, h->opcode, payload, len) ? WS_STOP : 0;
    }

    if (h->opcode != WS_OP_CONT && h->fin) {
        /* The common case: a whole message in one frame, delivered in place. */
        if (h->opcode == WS_OP_TEXT && !tern_utf8_valid(payload, len))
            return WS_CLOSE_BAD_DATA;
        return cb(ud, h->opcode, payload, len) ? WS_STOP : 0;
    }

    if (h->opcode != WS_OP_CONT)
        r->frag_op = h->opcode;
    if (tern_buf_append(&r->frag, payload, len) < 0)
        return WS_CLOSE_TOO_BIG; /* unreachable: check_header bounded the length */
    if (!h->fin)
        return 0;

    unsigned op = r->frag_op;
    uint8_t empty = 0;
    uint8_t *msg = r->frag.data ? (uint8_t *)r->frag.data : &empty;
    size_t mlen = r->frag.len;
    int rc = 0;
    if (op == WS_OP_TEXT && !tern_utf8_valid(msg, mlen))
        rc = WS_CLOSE_BAD_DATA;
    else if (cb(ud, op, msg, mlen))
        rc = WS_STOP;
    r->frag_op = 0;
    tern_buf_free(&r->frag);
    return rc;
}

/* Header length implied by the first two bytes of a frame. */
static size_t header_len(const uint8_t *p)
{
    unsigned len7 = p[1] & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((p[1] & 0x80) ? 4 : 0);
}

/* Moves bytes from data into pend until it holds a whole frame, then handles it.
 * *used receives the bytes taken. Returns 0 with pend emptied, 0 with *used == n when
 * the frame is still incomplete, WS_STOP or a close code. */
static int feed_pending(ws_reader *r, const uint8_t *data, size_t n, size_t *used, ws_msg_cb cb, void *ud)
{
    tern_buf *pb = &r->pend;
    size_t off = 0;
    ws_frame_hdr h;

    /* First the header, as far as it goes: two bytes tell its full length, and
     * ws_parse_header rejects bad bits as soon as those two are in, like the zero-copy
     * path does. */
    int hl;
    while ((hl = ws_parse_header((const uint8_t *)pb->data, pb->len, &h)) == 0) {
        size_t want = pb->len < 2 ? 2 : header_len((const uint8_t *)pb->data);
        size_t take = want - pb->len;
        if (take > n - off)
            take = n - off;
        if (take == 0) {
            *used = off;
            return 0;
        }
        if (tern_buf_append(pb, data + off, take) < 0)
            return WS_CLOSE_TOO_BIG;
        off += take;
    }
    if (hl < 0)
        return WS_CLOSE_PROTOCOL;
    int rc = check_header(r, &h);
    if (rc)
        return rc;

    /* Then the payload. pend grows with the bytes that actually arrived, not with the
     * declared length: fifteen bytes of header must not pin max_msg of memory. */
    size_t total = (size_t)hl + (size_t)h.len;
    size_t take = total - pb->len;
    if (take > n - off)
        take = n - off;
    if (tern_buf_append(pb, data + off, take) < 0)
        return WS_CLOSE_TOO_BIG;
    off += take;
    *used = off;
    if (pb->len < total)
        return 0;

    rc = on_frame(r, &h, (uint8_t *)pb->data + hl, cb, ud);
    tern_buf_free(pb);
    return rc;
}

int ws_reader_feed(ws_reader *r, uint8_t *data, size_t n, ws_msg_cb cb, void *ud)
{
    size_t off = 0;
    int rc;

    if (r->pend.len) {
        size_t used = 0;
        rc = feed_pending(r, data, n, &used, cb, ud);
        if (rc)
            goto fail;
        if (r->pend.len)
            return 0; /* still incomplete: every byte went into pend */
        off = used;
    }

    while (off < n) {
        ws_frame_hdr h;
        uint8_t *p = data + off;
        size_t avail = n - off;
        int hl = ws_parse_header(p, avail, &h);
        if (hl < 0) {
            rc = WS_CLOSE_PROTOCOL;
            goto fail;
        }
        if (hl > 0) {
            rc = check_header(r, &h);
            if (rc)
                goto fail;
            if (h.len <= avail - (size_t)hl) {
                rc = on_frame(r, &h, p + hl, cb, ud);
                if (rc)
                    goto fail;
                off += (size_t)hl + (size_t)h.len;
                continue;
            }
        }
        /* An incomplete frame (header validated if it was whole): keep the tail. */
        size_t used = 0;
        rc = feed_pending(r, p, avail, &used, cb, ud);
        if (rc)
            goto fail;
        return 0;
    }
    return 0;

fail:
    /* The connection is over: drop partial state now so the reader holds nothing. */
    if (rc != WS_STOP)
        ws_reader_free(r);
    return rc;
}
