/*
 * fuzz_stream.c — libFuzzer harness for the streamed-message request parser
 * (src/core/stream.c, tern_stream_req_parse) and the stored shape it feeds.
 *
 * The input goes through the strict JSON entry as a REST body would (tern_json_parse
 * on an exactly sized copy, so ASan catches any read past its end). An accepted tree is
 * parsed as a chunk request; whatever the parser accepts must hold its promises (from
 * and to are identifiers, seq >= 0, a known format, ext an object or absent), and the
 * message a first chunk would store — HEAD, the text escaped, the stream member — must
 * be strict JSON that reads back with the same text. Seeds: tests/fuzz/corpus/fuzz_stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/stream.h"
#include "core/util.h"
#include "tern/errors.h"

static void check_accepted(const tern_stream_req *q)
{
    if (!tern_ident_valid(q->from.p, q->from.n) || !tern_ident_valid(q->to.p, q->to.n) || q->seq < 0 ||
        (q->format != 0 && q->format != TERN_STREAM_FMT_TEXT && q->format != TERN_STREAM_FMT_MARKDOWN) ||
        (q->ext && !cJSON_IsObject(q->ext)) || (q->has_msg_id && q->msg_id == 0))
        abort();
    char *ext = q->ext ? cJSON_PrintUnformatted(q->ext) : NULL;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{");
    tern_stream_head(&b, TERN_CONV_KIND_GROUP, q->from.p, q->from.n, q->to.p, q->to.n, ext, ext ? strlen(ext) : 0);
    tern_stream_text_open(&b);
    /* Two appends of the halves: escaping per piece must equal escaping the whole. */
    size_t half = q->text.n / 2;
    while (half > 0 && half < q->text.n && ((unsigned char)q->text.p[half] & 0xC0) == 0x80)
        half--; /* not inside a UTF-8 sequence */
    tern_stream_text_append(&b, q->text.p, half);
    tern_stream_text_append(&b, q->text.p + half, q->text.n - half);
    tern_stream_meta m = {.format = q->format ? q->format : TERN_STREAM_FMT_TEXT,
                          .state = q->finish ? TERN_STREAM_ST_FINISHED : TERN_STREAM_ST_OPEN,
                          .last_seq = q->seq,
                          .has_reason = q->has_reason,
                          .finish_reason = q->finish_reason};
    tern_stream_text_close(&b, &m);
    tern_buf_puts(&b, "}");
    cJSON *back = NULL;
    if (tern_json_parse(b.data, b.len, &back) != TERN_OK)
        abort();
    const char *t = tern_json_str(cJSON_GetObjectItemCaseSensitive(back, "payload"), "text");
    if (!t || strlen(t) != q->text.n || memcmp(t, q->text.p, q->text.n) != 0)
        abort();
    cJSON_Delete(back);
    tern_buf_free(&b);
    if (ext)
        cJSON_free(ext);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        tern_json_use_tern_alloc();
        init = 1;
    }
    if (!tern_utf8_valid(data, size))
        return 0; /* the REST layer refuses such bodies before any parser (1001) */
    char *copy = tern_malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    cJSON *root = NULL;
    if (tern_json_parse(copy, size, &root) == TERN_OK) {
        tern_stream_req q;
        int rc = tern_stream_req_parse(root, &q);
        if (rc == TERN_OK)
            check_accepted(&q);
        else if (rc != TERN_ERR_STREAM_FROM && rc != TERN_ERR_STREAM_TO && rc != TERN_ERR_STREAM_BODY &&
                 rc != TERN_ERR_STREAM_SEQ && rc != TERN_ERR_STREAM_NOT_FOUND && rc != TERN_ERR_BAD_FIELD &&
                 rc != TERN_ERR_NOT_SUPPORTED)
            abort();
        cJSON_Delete(root);
    }
    tern_free(copy);
    return 0;
}
