/*
 * elem.h — the table of message element types (Tencent's TIM*Elem), shared by ternd and
 * libtern.
 *
 * A type is a row: its wire name, the SDK's tern_msg_type value, its payload fields with
 * their limits, and the functions that validate+encode a client's payload into its
 * canonical JSON (only known fields, in table order, strings re-escaped) and decode a
 * received payload. Types made only of string fields use the generic functions; a type
 * with numbers, arrays or media references brings its own. Adding a type is one row in
 * elem.c, its tests (tests/unit/test_elem.c) and a fuzz seed (tests/fuzz/corpus/fuzz_json).
 * A payload key that the type does not list is refused with 1012 (never dropped).
 * TIMLocationElem {description, longitude, latitude} (Tencent's Geo, seed 001) has two
 * number fields: longitude in [-180, 180], latitude in [-90, 90] (1003 outside).
 * TIMFaceElem {index, data} (issue 10): index an integer in the int32 range, data an
 * optional string. TIMTextElem may carry atUserList (an @ message, issue 10): 1..64
 * distinct user ids or TERN_ELEM_AT_ALL (1003 otherwise; over 64 is 1203).
 *
 * The four media rows (issue 9, seed 001; docs/protocol.md §4 "Media messages") take what
 * a client sends:
 *   TIMImageElem     {uuid, width?, height?, fileName?, thumbnail?}
 *   TIMSoundElem     {uuid, second, fileName?}
 *   TIMVideoFileElem {videoUUID, videoSecond, snapshotUUID?, snapshotWidth?, snapshotHeight?,
 *                     fileName?, thumbnail?}
 *   TIMFileElem      {uuid, fileName?}
 * Media ids are 32 lower-case hex digits (7006 otherwise, a non-string 1003); seconds are
 * integers in [0, 86400], dimensions in [1, TERN_ELEM_MAX_DIM]; fileName at most 255 bytes;
 * thumbnail standard base64 (RFC 4648 §4, padded; "" allowed). The keys the server
 * computes (url, size, imageInfoArray, imageFormat, animated, videoUrl, videoSize,
 * videoFormat, snapshotUrl, fileUrl, fileSize) are accepted, type-checked and dropped,
 * so that a received payload can be sent again: the server completes the canonical
 * client form from the media rows (server/media/media_msg.h). Their canonical form keeps
 * only the fields present, in row order, with `thumbnail` always last (message.c measures
 * it there: the 12 KB rule leaves it out, the 32 KB rule counts its decoded bytes).
 */
#ifndef TERN_CORE_ELEM_H
#define TERN_CORE_ELEM_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/buf.h"

#define TERN_ELEM_MAX_FIELDS 8

typedef struct tern_elem_field {
    const char *name;
    int required; /* absent (or null) is 1003 */
    size_t max;   /* bytes; 0: bounded only by the 12 KB rule (message.h) */
    int number;   /* a JSON number (TIMLocationElem's coordinates), not a string: decode
                     leaves its value NULL, tern_elem_encode_values reads it as a
                     decimal string */
} tern_elem_field;

typedef struct tern_elem_type tern_elem_type;
struct tern_elem_type {
    const char *name; /* "TIMTextElem" */
    int sdk_type;     /* tern_msg_type (tern/tern.h); 0 (TERN_MSG_UNKNOWN) for a type libtern
                         has no constant for yet: apps read its payload JSON */
    const tern_elem_field *fields;
    size_t nfields;
    /* Validates a client's payload and appends its canonical JSON object. Returns
     * TERN_OK, TERN_ERR_BAD_FIELD (not an object, a field missing or of the wrong type
     * or over its limit), TERN_ERR_MEDIA_NOT_FOUND (a media row's id not of the id form;
     * a wrong type elsewhere in the payload wins with 1003), TERN_ERR_NOT_SUPPORTED (a key
     * the type does not have) or TERN_ERR_INTERNAL (out of memory: out may hold a partial
     * object). */
    int (*encode)(const tern_elem_type *t, const cJSON *payload, tern_buf *out);
    /* Reads a payload received from the server: vals[i] = the string of fields[i]
     * (borrowed from the tree), or NULL if absent. Lenient: never fails. */
    void (*decode)(const tern_elem_type *t, const cJSON *payload, const char **vals);
    int media;  /* 1: a media row (ids completed by the server; the thumbnail rules) */
    int merger; /* 1: the merger (its list resolved by the server: server/merger.h) */
};

#define TERN_ELEM_MAX_DIM 100000                    /* width/height an app may set */
#define TERN_ELEM_MAX_SECONDS 86400                 /* a sound's or video's duration */
#define TERN_ELEM_MAX_FILE_NAME 255                 /* a display file name, bytes */
#define TERN_ELEM_MEDIA_ID_LEN 32                   /* lower-case hex digits (server/media/media.h) */
#define TERN_ELEM_MAX_AT 64                         /* atUserList entries (over: 1203) */
#define TERN_ELEM_AT_ALL "__kImSDK_MesssageAtALL__" /* @ everyone (Tencent's spelling) */

/* 1 if p[0..n), a canonical TIMTextElem payload (text_encode's bytes, not any JSON),
 * carries atUserList (an @ message). O(1). */
int tern_elem_text_has_at(const char *p, size_t n);

/* TIMRelayElem, the merger (elem_merger.c; docs/protocol.md §4 "Merger messages"). */
#define TERN_MERGER_MAX_MSGS 300     /* messageList entries a client may name */
#define TERN_MERGER_MAX_TITLE 256    /* bytes */
#define TERN_MERGER_MAX_ABSTRACTS 10 /* abstractList strings */
#define TERN_MERGER_MAX_ABSTRACT 256 /* bytes each */
#define TERN_MERGER_MAX_COMPAT 1024  /* compatibleText bytes (required, at least 1) */
#define TERN_MERGER_KEY_LEN 64       /* downloadKey: lower-case hex (a SHA-256) */
/* The merger codec (the row's encode/decode) and its helpers. */
int tern_elem_merger_encode(const tern_elem_type *t, const cJSON *payload, tern_buf *out);
void tern_elem_merger_decode(const tern_elem_type *t, const cJSON *payload, const char **vals);
/* encode_values for the merger: messageList and abstractList are JSON array texts,
 * layersOverLimit "true"/"false", the rest strings; then the row's encode. */
int tern_elem_merger_encode_values(const tern_elem_type *t, const char *const *vals, tern_buf *out);
/* The msgId of a messageList entry (a decimal string of 1-20 digits, or an object whose
 * "msgId" is one), borrowed from e, or NULL. */
const char *tern_elem_merger_entry_id(const cJSON *e);
/* 1 if s[0..n) is "" or TERN_MERGER_KEY_LEN lower-case hex digits. */
int tern_elem_merger_key_ok(const char *s, size_t n);

/* The row of wire name s[0..n), or NULL (the caller answers 1008). */
const tern_elem_type *tern_elem_find(const char *s, size_t n);
/* The row of a tern_msg_type value other than 0, or NULL. */
const tern_elem_type *tern_elem_by_sdk_type(int sdk_type);
/* Rows in table order; i past the end gives NULL. */
const tern_elem_type *tern_elem_at(size_t i);

/* Encoding from C strings (libtern's drafts, REST): vals[i] for fields[i], NULL for
 * absent; a number field's value is its decimal text (1003 if it is not a number). With omit_absent 0 it is the
 * canonical form: the same codes and the same bytes as t->encode on the equivalent object. With omit_absent 1 absent
 * optional fields are left out (libtern's drafts show the payload as the app gave it). */
int tern_elem_encode_values(const tern_elem_type *t, const char *const *vals, int omit_absent, tern_buf *out);

/* Appends a number field's value as the canonical form writes it: the shortest %g
 * text that reads back as the same double. Returns 0 or -1 (out of memory). */
int tern_elem_put_number(tern_buf *out, double v);

/* 1 if s[0..n) has the form of a media id: TERN_ELEM_MEDIA_ID_LEN lower-case hex digits. */
int tern_elem_media_id_ok(const char *s, size_t n);

/* The bytes a standard base64 text s[0..n) decodes to, or -1 if it is not valid padded
 * base64 (length a multiple of 4, at most two '=' at the end). "" is 0. */
long tern_elem_base64_len(const char *s, size_t n);

/* In the canonical payload p[0..n) of a media row: the `thumbnail` member, which that form
 * writes last. Sets *member_n to the bytes of ,"thumbnail":"..." and *b64_n to the bytes of
 * its value, and returns the value's decoded bytes; returns 0 with both set to 0 when there
 * is no thumbnail member. */
size_t tern_elem_thumb_span(const char *p, size_t n, size_t *member_n, size_t *b64_n);

/* The generic functions for types made of string fields (exposed for the table). */
int tern_elem_encode_strings(const tern_elem_type *t, const cJSON *payload, tern_buf *out);
void tern_elem_decode_strings(const tern_elem_type *t, const cJSON *payload, const char **vals);

#endif
