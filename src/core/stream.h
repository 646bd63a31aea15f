/*
 * stream.h — the streamed message (Easemob seed 002) in Tern's core model: the chunk
 * request an app backend POSTs to /{org}/{app}/stream_message/..., parsed and checked
 * with the seed's codes, and the stored shape of a streamed message, which the server
 * builds at the first chunk, rebuilds from its chunks when it is read mid-stream, and
 * writes once more when it finishes (docs/protocol.md §6 "Streamed messages").
 *
 * A streamed message is a TIMTextElem whose payload.text is the text so far, plus a
 * "stream" member: {"format":"text"|"markdown","state":"open"|"finished"|"ended",
 * "lastSeq":N[,"finishReason":R][,"endCode":C]}. The backend's ext becomes the message's
 * cloudCustomData (its compact JSON text), as for REST text messages. The fields are
 * laid out as HEAD + payload + stream, so the store can keep HEAD once per stream and
 * append the text of its chunks without re-encoding anything.
 */
#ifndef TERN_CORE_STREAM_H
#define TERN_CORE_STREAM_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/conv.h"

/* Seed 002's limits: the defaults of ternd's settings (docs/operations.md). */
#define TERN_STREAM_MAX_BYTES 131072  /* total text of a stream: 128 KB → 14032 */
#define TERN_STREAM_INTERVAL_MS 30000 /* between two chunks: 30 s → 14033 */
#define TERN_STREAM_TOTAL_MS 1800000  /* first chunk to last: 30 min → 14034 */
#define TERN_STREAM_RATE 100          /* requests per second per app → 429 */
#define TERN_STREAM_MAX_MEMBERS 200   /* group members → 14100 */
#define TERN_STREAM_MAX_EXT 12288     /* the first chunk's ext (its JSON text) → 80002 */

enum { TERN_STREAM_FMT_TEXT = 1, TERN_STREAM_FMT_MARKDOWN = 2 };
/* A stream's state; the same values as libtern's tern_stream_state (tern/tern.h). */
enum { TERN_STREAM_ST_OPEN = 1, TERN_STREAM_ST_FINISHED = 2, TERN_STREAM_ST_ENDED = 3 };

/* One chunk request. Strings and ext are borrowed from the parsed tree. */
typedef struct tern_stream_req {
    tern_str from, to;
    tern_str text;  /* body.msg; empty when absent */
    int64_t seq;    /* body.seq, >= 0 */
    int format;     /* body.type: TERN_STREAM_FMT_*, 0 when absent */
    int finish;     /* body.finish */
    int has_reason; /* body.finishReason given */
    int64_t finish_reason;
    int has_msg_id; /* body.msgId given (and not "") */
    uint64_t msg_id;
    const cJSON *ext; /* the ext object, NULL when absent */
} tern_stream_req;

/* Reads a chunk request (the parsed REST body) into r. Returns TERN_OK or the first
 * fault, in this order:
 *   14001 from missing, null, not a string, or "";
 *   14002 to missing, null, not a string, or "";
 *   14005 body missing, null, not an object, or {};
 *   14030 body.seq missing, not an integer, or < 0;
 *   1003  from/to not identifiers (docs/protocol.md §3), body.msg not a string,
 *         body.type not "text"/"markdown", body.finish not a boolean, body.finishReason
 *         not an integer in [-2^31, 2^31-1], ext null or not an object, root not an object;
 *   14031 body.msgId neither absent/"" nor a message id (a decimal string or number);
 *   1012  a key other than from, to, body, ext, or in body other than msg, seq, type,
 *         finish, finishReason, msgId. */
int tern_stream_req_parse(const cJSON *root, tern_stream_req *r);

/* The stream member of a streamed message. */
typedef struct tern_stream_meta {
    int format;       /* TERN_STREAM_FMT_* */
    int state;        /* TERN_STREAM_ST_OPEN / FINISHED / ENDED */
    int64_t last_seq; /* the last chunk's seq */
    int has_reason;   /* FINISHED: finishReason given */
    int64_t finish_reason;
    int end_code; /* ENDED: why (14032, 14033, 14034, 5002) */
} tern_stream_meta;

/* "text" / "markdown"; "open" / "finished" / "ended". */
const char *tern_stream_format_name(int format);
const char *tern_stream_state_name(int state);

/* Appends the HEAD of a streamed message's fields: conversationType, from, to,
 * "type":"TIMTextElem", cloudCustomData (ext_json escaped, "" when NULL), priority
 * Normal, needReadReceipt false. Returns 0 or -1 (allocation). */
int tern_stream_head(tern_buf *b, tern_conv_kind kind, const char *from, size_t fn, const char *to, size_t tn,
                     const char *ext_json, size_t en);
/* Then the text: ,"payload":{"text":"  — the chunks' text escaped, one call each — and
 * the close "},"stream":{...}. Each returns 0 or -1 (allocation). */
int tern_stream_text_open(tern_buf *b);
int tern_stream_text_append(tern_buf *b, const char *s, size_t n);
int tern_stream_text_close(tern_buf *b, const tern_stream_meta *m);

/* A token bucket: at most `burst` at once, refilled at `per_sec` a second. Not
 * thread-safe (the caller locks). */
typedef struct tern_rate {
    double tokens;
    uint64_t last_ns; /* 0: never used (starts full) */
} tern_rate;
/* Takes one token at monotonic time now_ns: 1 if taken, 0 if the bucket is empty. */
int tern_rate_take(tern_rate *r, double per_sec, double burst, uint64_t now_ns);

#endif
