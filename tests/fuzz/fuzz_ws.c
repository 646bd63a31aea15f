/*
 * fuzz_ws.c — libFuzzer harness for the WebSocket reader (core/ws.c).
 *
 * Input layout: byte 0 picks max_msg, bytes 1-2 pick two split points, the rest is the
 * wire stream. The stream is fed to a server-side and a client-side reader three ways:
 * all at once (the zero-copy path), and in three pieces (through `pend`). Both ways must
 * deliver the same messages and end with the same result, so any difference between
 * the zero-copy and buffered paths is reported as a crash. Each piece is fed from its
 * own exactly sized heap copy so ASan catches reads past a feed's end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/ws.h"

typedef struct digest {
    uint64_t h; /* FNV-1a over (opcode, length, payload) of every message */
    unsigned count;
    unsigned stop_at; /* the callback stops on this message (1-based), 0 = never */
} digest;

static void mix(digest *d, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        d->h ^= p[i];
        d->h *= 0x100000001b3ull;
    }
}

static int on_msg(void *ud, unsigned opcode, uint8_t *data, size_t len)
{
    digest *d = ud;
    uint8_t hdr[9] = {(uint8_t)opcode};
    for (int i = 0; i < 8; i++)
        hdr[1 + i] = (uint8_t)((uint64_t)len >> (8 * i));
    mix(d, hdr, sizeof hdr);
    mix(d, data, len);
    if (len)
        data[0] ^= 0xFF; /* the payload is writable: prove it */
    d->count++;
    return d->stop_at && d->count == d->stop_at;
}

static int feed_piece(ws_reader *r, const uint8_t *p, size_t n, digest *d)
{
    uint8_t *copy = tern_malloc(n);
    if (n)
        memcpy(copy, p, n);
    int rc = ws_reader_feed(r, copy, n, on_msg, d);
    tern_free(copy);
    return rc;
}

static void check_bounds(const ws_reader *r)
{
    /* pend: one frame, whose payload is at most max_msg, or 125 for a control frame. */
    size_t frame_max = r->max_msg < 125 ? 125 : r->max_msg;
    if (r->frag.len > r->max_msg || r->pend.len > frame_max + WS_MAX_HEADER)
        abort();
}

static void run(int from_client, size_t max_msg, unsigned stop_at, const uint8_t *s, size_t n, size_t cut1, size_t cut2)
{
    digest whole = {0xcbf29ce484222325ull, 0, stop_at};
    digest split = whole;
    ws_reader r;

    ws_reader_init(&r, from_client, max_msg);
    int rc_whole = feed_piece(&r, s, n, &whole);
    check_bounds(&r);
    ws_reader_free(&r);

    ws_reader_init(&r, from_client, max_msg);
    size_t cuts[4] = {0, cut1, cut2, n};
    int rc_split = 0;
    for (int i = 0; i < 3 && rc_split == 0; i++) {
        rc_split = feed_piece(&r, s + cuts[i], cuts[i + 1] - cuts[i], &split);
        check_bounds(&r);
    }
    ws_reader_free(&r);

    if (rc_whole != rc_split || whole.h != split.h || whole.count != split.count)
        abort(); /* the zero-copy and the buffered path disagree */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const size_t maxes[] = {0, 1, 125, 126, 200, 1000, 65536, 1 << 20};
    size_t max_msg = maxes[data[0] & 7];
    unsigned stop_at = data[0] >> 5; /* 0..7 */
    const uint8_t *s = data + 3;
    size_t n = size - 3;
    size_t a = n ? data[1] % (n + 1) : 0, b = n ? data[2] % (n + 1) : 0;
    size_t cut1 = a < b ? a : b, cut2 = a < b ? b : a;
    run(1, max_msg, stop_at, s, n, cut1, cut2);
    run(0, max_msg, stop_at, s, n, cut1, cut2);
    return 0;
}
