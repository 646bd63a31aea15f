/*
 * fuzz_multipart.c — libFuzzer harness for the streaming multipart/form-data parser
 * (core/multipart.c) and tern_mp_safe_filename.
 *
 * Input layout: byte 0 picks max_parts (0..7, 0 = the default), byte 1 seeds the piece
 * sizes, byte 2 bounds them (1..256), the rest is a body delimited by the fixed
 * boundary "fuzzB". The body is parsed twice, once fed whole and once in pseudo-random
 * pieces, each piece in its own exactly sized heap copy (ASan catches a read past a
 * piece or a pointer kept after its call). Checked on every run:
 *   - begin/end are balanced (at most one part open, none at done), indexes count up,
 *     no more parts than max_parts, done at most once and only with feed's DONE;
 *   - the data bytes reported never exceed the input, and no part's data contains the
 *     delimiter "\r\n--fuzzB";
 *   - every header string is readable over its length and NUL-terminated there;
 *   - both runs see the same events (hashed, data as one stream) and the same result;
 *   - each file name through tern_mp_safe_filename is valid UTF-8, at most 255 bytes,
 *     with no separator, control byte or leading dot.
 * The whole input is also tried as a Content-Type for tern_mp_boundary.
 * Seeds: tests/fuzz/corpus/fuzz_multipart (written by tests/unit/test_multipart.c when
 * TERN_MP_SEED_DIR is set).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/multipart.h"
#include "core/util.h"

#define BOUNDARY "fuzzB"
#define DELIM "\r\n--" BOUNDARY

typedef struct run_state {
    uint64_t h;
    size_t data_total, input;
    unsigned begins, ends, dones, max_parts;
    char *part; /* the open part's data, for the delimiter check (input-sized) */
    size_t part_len;
} run_state;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix_field(uint64_t h, const char *s, size_t n)
{
    if (!s)
        return mix(h, "-", 1);
    if (s[n] != '\0')
        abort();
    h = mix(h, &n, sizeof n);
    return mix(h, s, n);
}

static void check_safe_name(const char *in, size_t n)
{
    char out[TERN_MP_FILENAME_MAX + 1];
    int len = tern_mp_safe_filename(in, n, out, sizeof out);
    if (len < 1 || len > TERN_MP_FILENAME_MAX || out[len] != '\0' || out[0] == '.' ||
        !tern_utf8_valid((const uint8_t *)out, (size_t)len))
        abort();
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
            abort();
    }
}

static int on_begin(void *ud, const tern_mp_part *part)
{
    run_state *r = ud;
    if (r->begins != r->ends || part->index != r->begins || r->dones)
        abort();
    r->begins++;
    if (r->begins > r->max_parts)
        abort();
    r->h = mix(r->h, "B", 1);
    r->h = mix_field(r->h, part->name, part->name_len);
    r->h = mix_field(r->h, part->filename, part->filename_len);
    r->h = mix_field(r->h, part->content_type, part->content_type_len);
    if (part->filename)
        check_safe_name(part->filename, part->filename_len);
    r->part_len = 0;
    return 0;
}

static int on_data(void *ud, const char *d, size_t n)
{
    run_state *r = ud;
    if (n == 0 || r->begins != r->ends + 1)
        abort();
    r->data_total += n;
    if (r->data_total > r->input || r->part_len + n > r->input)
        abort();
    memcpy(r->part + r->part_len, d, n);
    r->part_len += n;
    r->h = mix(r->h, d, n);
    return 0;
}

static int on_end(void *ud)
{
    run_state *r = ud;
    if (r->begins != r->ends + 1)
        abort();
    r->ends++;
    if (memmem(r->part, r->part_len, DELIM, sizeof DELIM - 1))
        abort();
    r->h = mix(r->h, "E", 1);
    return 0;
}

static int on_done(void *ud)
{
    run_state *r = ud;
    if (r->begins != r->ends || r->dones)
        abort();
    r->dones++;
    r->h = mix(r->h, "Z", 1);
    return 0;
}

static const tern_mp_callbacks CB = {on_begin, on_data, on_end, on_done};

/* Parses body[0..n) in pieces (max_piece 0: whole). Returns the final result; fills r. */
static int parse(tern_mp *p, run_state *r, unsigned max_parts, const uint8_t *body, size_t n, uint32_t seed,
                 size_t max_piece)
{
    memset(r, 0, sizeof *r);
    r->h = 0xcbf29ce484222325ull;
    r->input = n;
    r->max_parts = max_parts ? max_parts : TERN_MP_DEFAULT_MAX_PARTS;
    r->part = tern_malloc(n ? n : 1);
    if (tern_mp_init(p, BOUNDARY, max_parts, &CB, r) != TERN_MP_OK)
        abort();
    int rc = TERN_MP_OK;
    size_t i = 0;
    do {
        size_t take = n - i;
        if (max_piece) {
            seed = seed * 1103515245u + 12345u;
            size_t want = 1 + (seed >> 16) % max_piece;
            if (want < take)
                take = want;
        }
        char *piece = tern_malloc(take ? take : 1);
        memcpy(piece, body + i, take);
        rc = tern_mp_feed(p, piece, take);
        tern_free(piece);
        if ((rc == TERN_MP_DONE) != (r->dones == 1) && rc >= 0)
            abort();
        i += take;
    } while (i < n && rc >= 0);
    int fin = tern_mp_finish(p);
    if (rc >= 0 && (fin == TERN_MP_OK) != (rc == TERN_MP_DONE))
        abort();
    if (fin == TERN_MP_OK && r->begins != r->ends)
        abort();
    tern_free(r->part);
    r->h = mix(r->h, &fin, sizeof fin);
    return fin;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tern_mp p; /* 16 KiB: not on the stack */
    char b[TERN_MP_BOUNDARY_MAX + 1];
    int bl = tern_mp_boundary((const char *)data, size, b, sizeof b);
    if (bl > 0) {
        static tern_mp q;
        if (bl > TERN_MP_BOUNDARY_MAX || strlen(b) != (size_t)bl || tern_mp_init(&q, b, 0, NULL, NULL) != TERN_MP_OK)
            abort();
    } else if (bl != TERN_MP_ETYPE && bl != TERN_MP_EBOUNDARY) {
        abort();
    }
    check_safe_name((const char *)data, size);
    if (size < 3)
        return 0;
    unsigned max_parts = data[0] % 8;
    uint32_t seed = data[1];
    size_t max_piece = (size_t)data[2] + 1;
    run_state whole, cut;
    int a = parse(&p, &whole, max_parts, data + 3, size - 3, seed, 0);
    int c = parse(&p, &cut, max_parts, data + 3, size - 3, seed, max_piece);
    if (a != c || whole.h != cut.h || whole.data_total != cut.data_total)
        abort();
    return 0;
}
