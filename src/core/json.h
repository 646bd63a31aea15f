/*
 * json.h — the one set of JSON helpers of Tern, shared by ternd (WebSocket requests,
 * REST bodies), libtern (server frames) and tern-bench.
 *
 * Everything JSON that arrives from the network enters through tern_json_parse: a small
 * strict scanner checks the bytes against RFC 8259 before cJSON builds the tree, because
 * cJSON alone accepts trailing bytes after the value, and ends its strings at the first
 * NUL, so "k\u0000one" and "k\u0000two" would both read as "k". After tern_json_parse no
 * string in the tree contains a NUL, so strlen(valuestring) is its exact length.
 *
 * The getters below read one member of an object and tell "absent" (or null) apart from
 * "present but wrong", so each caller maps them to its own codes. The raw-frame
 * scanners (tern_json_scan_*) find a key's value in a frame without building a tree:
 * tern-bench uses them on the server's small control frames, where speed matters and the
 * shape is known.
 */
#ifndef TERN_CORE_JSON_H
#define TERN_CORE_JSON_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Deepest nesting of arrays and objects tern_json_parse accepts (the protocol needs 3). */
#define TERN_JSON_MAX_DEPTH 64
/* Longest number literal accepted (cJSON reads at most 63 characters of a number). */
#define TERN_JSON_MAX_NUMBER 63
/* 2^53 - 1: the largest integer every JSON implementation reads exactly. */
#define TERN_JSON_MAX_SAFE_INT 9007199254740991LL

/* Routes cJSON's allocations through tern_malloc/tern_free (alloc.h), so they are
 * counted and the allocation-failure hook reaches them. Process-wide (cJSON_InitHooks);
 * the tests and fuzzers that inject allocation failures call it once at start. ternd
 * does not: a request's cJSON tree lives for that request only, and counting its ~20
 * nodes cost about 0.5 µs per message (docs/performance.md, the reshape's A/B); nor does
 * libtern, whose app may use cJSON with hooks of its own. */
void tern_json_use_tern_alloc(void);

/* Checks p[0..n) strictly and parses it. The input must be valid UTF-8 (the WebSocket
 * layer and the REST body reader check that first).
 * Returns:
 *   TERN_OK            *out is the tree (caller frees with cJSON_Delete);
 *   TERN_ERR_BAD_JSON  (1001) not one JSON value: bad syntax, bytes other than
 *                      whitespace after the value, an invalid escape (\x, \u12G4, an
 *                      unpaired surrogate), a raw control character in a string, a
 *                      number over TERN_JSON_MAX_NUMBER characters, nesting deeper than
 *                      TERN_JSON_MAX_DEPTH, or empty input;
 *   TERN_ERR_BAD_FIELD (1003) well-formed, but a string (value or key) contains U+0000
 *                      (\u0000): Tern refuses NUL in every string;
 *   TERN_ERR_INTERNAL  (5001) out of memory (only with the alloc.h hook armed).
 * On any error *out is NULL. */
int tern_json_parse(const char *p, size_t n, cJSON **out);

/* The same for a protocol request, whose "op" and "id" the answer echoes: when the one
 * fault is a \u0000 outside the top-level "op" and "id" members (and outside top-level
 * keys), it returns TERN_ERR_BAD_FIELD WITH *out set, so the caller can echo op and id in
 * its 1003 answer; the caller frees *out in that case too. Otherwise as tern_json_parse. */
int tern_json_parse_request(const char *p, size_t n, cJSON **out);

/* The scanner alone (no tree): the same codes as tern_json_parse, never 5001. */
int tern_json_check(const char *p, size_t n);

/* ---- getters -------------------------------------------------------------------------
 * Each reads member `name` of object `o` (case-sensitive; o may be NULL or a non-object,
 * which reads as "absent"). Results: TERN_JSON_OK (0) found and valid, *out set;
 * TERN_JSON_ABSENT (1) absent or null, *out untouched; TERN_JSON_INVALID (-1) present
 * but of the wrong type or out of range, *out untouched. */
enum { TERN_JSON_INVALID = -1, TERN_JSON_OK = 0, TERN_JSON_ABSENT = 1 };

/* A string; out->p is borrowed from the tree, out->n its length. */
int tern_json_get_str(const cJSON *o, const char *name, tern_str *out);
/* A string that is a Tern identifier (tern_ident_valid: 1-64 bytes of [A-Za-z0-9_.@=+-]). */
int tern_json_get_ident(const cJSON *o, const char *name, tern_str *out);
/* An integer number in [lo, hi] (lo >= -2^53, hi <= 2^53 - 1; 1.5 and 1e400 are invalid). */
int tern_json_get_int(const cJSON *o, const char *name, long long lo, long long hi, long long *out);
/* A non-negative integer: a number up to 2^53 - 1 or a decimal string of 1-19 digits
 * (message ids travel as strings). */
int tern_json_get_u64(const cJSON *o, const char *name, uint64_t *out);
/* true or false. */
int tern_json_get_bool(const cJSON *o, const char *name, int *out);

/* The value of a node as an integer in [lo, hi] (the rule of tern_json_get_int):
 * 0 and *out, or -1. */
int tern_json_int_value(const cJSON *v, long long lo, long long hi, long long *out);

/* Conveniences for frames from a trusted peer (libtern reading the server): the string
 * or NULL; 1 only if the member is true. */
const char *tern_json_str(const cJSON *o, const char *name);
int tern_json_true(const cJSON *o, const char *name);

/* 1 if every member of the object o is named one of names[0..n), else 0: the check
 * behind "a field this server does not implement is refused (1012), never dropped". */
int tern_json_only_keys(const cJSON *o, const char *const *names, size_t n);

/* Bytes tern_buf_json_str(s, n) writes between the quotes: the measure of a string's
 * JSON encoding, without building it. */
size_t tern_json_escaped_len(const char *s, size_t n);

/* ---- raw-frame scanners ----------------------------------------------------------------
 * Find "key" (given with its quotes, e.g. "\"id\"") in d[0..n) — the first occurrence
 * followed by ':' — without parsing. Only for frames of a known shape whose string values
 * never contain a quoted key (the server's control frames); never for untrusted input. */
/* A string value without escapes: its length and *out at its first byte, or -1. */
int tern_json_scan_str(const char *d, size_t n, const char *qkey, const char **out);
/* An integer value (at most 10 digits are read): 0 and *out, or -1. */
int tern_json_scan_int(const char *d, size_t n, const char *qkey, long *out);

#endif
