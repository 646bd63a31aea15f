/*
 * http.h — HTTP/1.1 message parsing (llhttp underneath) and response writing, for the
 * server's request path and the clients' handshake responses.
 *
 * Limits are part of the contract: the request line + headers may take at most
 * HTTP_MAX_HEAD bytes and HTTP_MAX_HEADERS headers; the body at most the max_body given
 * to http_parser_init. Over a limit the parser stops with an error the caller maps to
 * 431/413. Strings in http_msg are slices into the parser's own storage, valid until
 * http_parser_next/free.
 */
#ifndef TERN_CORE_HTTP_H
#define TERN_CORE_HTTP_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define HTTP_MAX_HEAD (16 * 1024)
#define HTTP_MAX_HEADERS 48

enum {
    HTTP_NEED_MORE = 0,
    HTTP_COMPLETE = 1,
    HTTP_ERR_PARSE = -1,          /* malformed: answer 400 and close */
    HTTP_ERR_HEAD_TOO_LARGE = -2, /* answer 431 and close */
    HTTP_ERR_BODY_TOO_LARGE = -3, /* answer 413 and close */
    HTTP_HEAD_DONE = 2,           /* (pause_at_head) a head with a body is complete */
    HTTP_BODY_PAUSED = 3          /* the body sink asked to pause */
};

/* Method numbers are llhttp's (HTTP_GET = 1, HTTP_POST = 3, ...), re-exported here. */
enum {
    HTTP_M_DELETE = 0,
    HTTP_M_GET = 1,
    HTTP_M_HEAD = 2,
    HTTP_M_POST = 3,
    HTTP_M_PUT = 4,
    HTTP_M_OPTIONS = 6,
    HTTP_M_PATCH = 28
};

typedef struct http_header {
    tern_str name;
    tern_str value;
} http_header;

typedef struct http_msg {
    int method;     /* requests */
    int status;     /* responses */
    tern_str url;   /* raw request target */
    tern_str path;  /* url up to '?' */
    tern_str query; /* after '?', without it; empty if none */
    http_header headers[HTTP_MAX_HEADERS];
    int nheaders;
    tern_buf body;
    int upgrade;    /* Connection: upgrade with an Upgrade header */
    int keep_alive; /* connection may serve another request */
} http_msg;

typedef struct http_parser http_parser; /* opaque */

/* Creates a parser for requests (is_request = 1) or responses (0). */
http_parser *http_parser_new(int is_request, size_t max_body);
void http_parser_free(http_parser *p);
/* Feeds n bytes. Returns HTTP_NEED_MORE (all consumed), HTTP_COMPLETE (a whole message
 * is ready in http_parser_msg; *consumed says how many bytes belonged to it — the rest
 * is the next request, or the upgraded protocol's first bytes), or an HTTP_ERR_*. */
int http_parser_feed(http_parser *p, const char *data, size_t n, size_t *consumed);
const http_msg *http_parser_msg(const http_parser *p);
/* Readies the parser for the next message on the same connection. */
void http_parser_next(http_parser *p);

/* Makes the parser stop after the head of every request that has a body (declared
 * Content-Length > 0 or chunked): http_parser_feed then returns HTTP_HEAD_DONE with the
 * head's slices, method and flags valid in http_parser_msg, and the caller chooses how
 * the body is taken (http_parser_set_body) before feeding on. Off by default. */
void http_parser_pause_at_head(http_parser *p, int on);
/* Receives a piece of a streamed body (chunked encoding already decoded). Returns 0 to
 * go on, 1 to pause: http_parser_feed then returns HTTP_BODY_PAUSED right after this
 * piece, and the next feed resumes. */
typedef int (*http_body_sink)(void *ud, const char *data, size_t n);
/* How the current message's body is taken: with sink NULL it is collected in msg.body,
 * with a sink each piece goes to it; either way at most max_body bytes (more is
 * HTTP_ERR_BODY_TOO_LARGE). Call it after HTTP_HEAD_DONE; the next message goes back to
 * the max_body given to http_parser_new and no sink. */
void http_parser_set_body(http_parser *p, size_t max_body, http_body_sink sink, void *ud);
/* 1 and the declared length in *len if the message has a Content-Length, else 0. Valid
 * at HTTP_HEAD_DONE (llhttp counts it down as the body arrives). */
int http_parser_declared_length(const http_parser *p, uint64_t *len);

/* Where the parser is in the current message. */
enum { HTTP_PHASE_IDLE = 0, HTTP_PHASE_HEAD, HTTP_PHASE_BODY, HTTP_PHASE_DONE };
/* Returns the HTTP_PHASE_* of the current message: nothing of it yet, in the head, in
 * the body (body bytes received so far in *body_bytes, may be NULL), or complete. */
int http_parser_phase(const http_parser *p, uint64_t *body_bytes);

/* Case-insensitive header lookup; {NULL, 0} if absent. */
tern_str http_header_get(const http_msg *m, const char *name);
/* 1 if the comma-separated header value contains token (case-insensitive). */
int http_header_has_token(tern_str value, const char *token);

/* Appends a response head with Content-Length (and keep-alive handling). extra_headers,
 * if not NULL, is appended verbatim and must end with "\r\n". */
int http_write_head(tern_buf *out, int status, const char *content_type, size_t content_length, int keep_alive,
                    const char *extra_headers);
const char *http_status_text(int status);

/* Percent-decodes in[0..n) ('+' stays '+'). Returns the length written (NUL-terminated),
 * or -1 on a bad escape, an escaped NUL (%00), or if out is too small. */
int http_url_decode(const char *in, size_t n, char *out, size_t outsz);
/* Finds name in an application/x-www-form-urlencoded query and decodes its value into
 * out. Returns the value length (0 for "name" or "name="), -1 if absent, or -2 if
 * present but undecodable (bad escape, %00, longer than out). */
int http_query_get(tern_str query, const char *name, char *out, size_t outsz);

#endif
