/*
 * fuzz_http.c — libFuzzer harness for the HTTP/1.1 parser (core/http.c).
 *
 * Input layout: byte 0 picks max_body, the parser type and the body mode (bit 3: stop
 * after every head with a body, as the network layer does; bit 4: then stream the body
 * to a sink that pauses after every piece), byte 1 a split point, the rest is the
 * stream. The stream is parsed as a sequence of pipelined messages twice,
 * once fed whole and once cut in two, each piece in its own exactly sized heap copy.
 * Every completed message's slices are read in full (ASan checks they point into live
 * storage) and hashed; both runs must see the same messages and end the same way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/http.h"
#include "net/net.h"

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix_str(uint64_t h, tern_str s)
{
    h = mix(h, &s.n, sizeof s.n);
    return mix(h, s.p, s.n);
}

static uint64_t digest_msg(uint64_t h, const http_msg *m)
{
    int ints[5] = {m->method, m->status, m->nheaders, m->upgrade, m->keep_alive};
    h = mix(h, ints, sizeof ints);
    h = mix_str(h, m->url);
    h = mix_str(h, m->path);
    h = mix_str(h, m->query);
    if (m->path.n + m->query.n > m->url.n)
        abort();
    if (m->nheaders < 0 || m->nheaders > HTTP_MAX_HEADERS)
        abort();
    for (int i = 0; i < m->nheaders; i++) {
        h = mix_str(h, m->headers[i].name);
        h = mix_str(h, m->headers[i].value);
    }
    h = mix(h, &m->body.len, sizeof m->body.len);
    if (m->body.len)
        h = mix(h, m->body.data, m->body.len);
    tern_str host = http_header_get(m, "host");
    h = mix_str(h, host);
    h ^= (uint64_t)http_header_has_token(http_header_get(m, "connection"), "upgrade");
    char out[64];
    int q = http_query_get(m->query, "q", out, sizeof out);
    h = mix(h, &q, sizeof q);
    return h;
}

typedef struct run_result {
    uint64_t h;
    int rc;
    int msgs;
    uint64_t body_h; /* streamed body bytes, hashed byte by byte (piece-independent) */
} run_result;

static int sink(void *ud, const char *data, size_t n)
{
    run_result *r = ud;
    r->body_h = mix(r->body_h, data, n);
    return 1; /* pause after every piece */
}

/* Parses s[0..n) delivered in pieces ending at the given cuts. */
static run_result run(int is_request, size_t max_body, int mode, const uint8_t *s, size_t n, const size_t *cuts,
                      int ncuts)
{
    run_result r = {0xcbf29ce484222325ull, HTTP_NEED_MORE, 0, 0};
    http_parser *p = http_parser_new(is_request, max_body);
    http_parser_pause_at_head(p, mode & 1);
    size_t start = 0;
    for (int c = 0; c < ncuts; c++) {
        size_t end = cuts[c];
        if (end <= start)
            continue;
        /* The piece in a heap copy of its exact size. */
        size_t len = end - start;
        char *piece = tern_malloc(len);
        memcpy(piece, s + start, len);
        size_t off = 0;
        while (off < len) {
            size_t used = 0;
            int rc = http_parser_feed(p, piece + off, len - off, &used);
            if (used > len - off)
                abort();
            off += used;
            r.rc = rc;
            if (rc == HTTP_HEAD_DONE) {
                /* The head's slices are readable before the body. */
                r.h = mix_str(r.h, http_parser_msg(p)->url);
                http_parser_set_body(p, max_body, (mode & 2) ? sink : NULL, &r);
                continue;
            }
            if (rc == HTTP_BODY_PAUSED)
                continue;
            if (rc == HTTP_COMPLETE) {
                const http_msg *m = http_parser_msg(p);
                r.h = digest_msg(r.h, m);
                r.msgs++;
                if (m->upgrade || r.msgs > 64) {
                    /* The rest belongs to another protocol. */
                    tern_free(piece);
                    goto out;
                }
                http_parser_next(p);
                continue;
            }
            if (rc != HTTP_NEED_MORE) {
                tern_free(piece);
                goto out;
            }
        }
        tern_free(piece);
        start = end;
    }
out:
    http_parser_free(p);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const size_t bodies[] = {0, 1, 16, 1024};
    size_t max_body = bodies[data[0] & 3];
    int is_request = !(data[0] & 4);
    const uint8_t *s = data + 2;
    size_t n = size - 2;
    size_t cut = n ? data[1] % (n + 1) : 0;

    int mode = (data[0] >> 3) & 3;
    size_t whole_cuts[1] = {n};
    size_t split_cuts[2] = {cut, n};
    run_result a = run(is_request, max_body, mode, s, n, whole_cuts, 1);
    run_result b = run(is_request, max_body, mode, s, n, split_cuts, 2);
    if (a.h != b.h || a.rc != b.rc || a.msgs != b.msgs)
        abort(); /* chunking changed what was parsed */
    /* A streamed body is handed over as it comes, so when it ends over its limit the
     * runs may have seen different amounts of it; otherwise the same bytes. */
    if (a.rc >= 0 && a.body_h != b.body_h)
        abort();

    /* The same bytes as a Range header value against a file size taken from data[1]
     * (0..255, 0 included): a satisfiable answer must lie inside the file. */
    uint64_t fsize = data[1], start = 0, len = 0;
    int rr = net_http_parse_range((tern_str){(const char *)s, n}, fsize, &start, &len);
    if (rr < -1 || rr > 1 || (rr == 1 && (len == 0 || start >= fsize || len > fsize - start)))
        abort();
    return 0;
}
