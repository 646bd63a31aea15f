/* frame.c — refcounted, immutable WebSocket frames: a message fanned out to many
 * sockets is encoded once and every connection writes the same bytes. */
#include <string.h>

#include "core/alloc.h"
#include "core/ws.h"
#include "net/frame.h"

frame *frame_build(unsigned opcode, const void *payload, size_t n)
{
    uint8_t hdr[WS_MAX_HEADER];
    size_t h = ws_encode_header(hdr, opcode, 1, n, NULL);
    frame *f = tern_malloc(sizeof *f + h + n);
    atomic_init(&f->refs, 1);
    f->len = (uint32_t)(h + n);
    memcpy(f->data, hdr, h);
    if (n)
        memcpy(f->data + h, payload, n);
    return f;
}

frame *frame_text(const char *payload, size_t n)
{
    return frame_build(WS_OP_TEXT, payload, n);
}

frame *frame_close(int code, const char *reason)
{
    uint8_t p[125];
    size_t rn = reason ? strlen(reason) : 0;
    if (rn > 123)
        rn = 123;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    if (rn)
        memcpy(p + 2, reason, rn); // NOLINT(bugprone-not-null-terminated-result): a frame payload, not a string
    return frame_build(WS_OP_CLOSE, p, 2 + rn);
}

frame *frame_ref(frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void frame_unref(frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        tern_free(f);
}
