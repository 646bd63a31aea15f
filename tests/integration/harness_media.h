/*
 * harness_media.h — helpers the media suites share (it_media.c, it_chatfiles.c): a raw
 * socket to the server for requests sent piece by piece (hostile clients), test data and
 * its sha256, a raw-body upload and a download with a token, and the count of files in
 * the server's media directory (committed ones and temporary ones), which is how a test
 * sees that a failed upload left nothing visible. Every helper asserts (cmocka) where it
 * says so; the ones returning a status leave the check to the test.
 */
#ifndef TERN_IT_HARNESS_MEDIA_H
#define TERN_IT_HARNESS_MEDIA_H
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* A connected TCP socket to 127.0.0.1:port (asserts). */
int connect_port(int port);
/* Sends p[0..n) whole; stops quietly when the server closed. */
void send_all(int fd, const void *p, size_t n);
/* Reads what the server sends within timeout_ms (until it closes), NUL-terminated. */
size_t read_some(int fd, char *buf, size_t cap, int timeout_ms);
/* n pseudo-random bytes from seed. */
void fill(char *p, size_t n, uint64_t seed);
/* The sha256 of p[0..n) as 64 lower-case hex digits and a NUL. */
void sha_hex(const char *p, size_t n, char out[65]);
/* POSTs data as an upload to <app_path>/media with token (Content-Type ctype,
 * X-Tern-Filename name); the status, the answer in out. */
int upload(it_server *s, const char *app_path, const char *token, const char *ctype, const char *name, const char *data,
           size_t n, it_http_resp *out);
/* method path with Authorization: Bearer token and extra headers (each ending in CRLF,
 * or NULL); the status, the answer in out. */
int get_media(it_server *s, const char *method, const char *path, const char *token, const char *extra,
              it_http_resp *out);
/* Files in <data>/media/tmp (uploads in flight or lost), and the committed ones. */
int media_tmp_files(it_server *s);
int media_files(it_server *s);
/* Fails the test unless r has HTTP status and the error body's code. */
void expect_err(const it_http_resp *r, int status, int code);
/* Where the response head holds h (case-insensitive), or NULL. */
const char *header_has(const it_http_resp *r, const char *h);
/* The signed URL path of media id of s's demo app (docs/rest-api.md "Media", signed URLs):
 * /{org}/{app}/media/{id}?[thumb=T&]exp=E&sig=S with S = base64url(HMAC-SHA256(client
 * secret, "{org}/{app}\n{id}\n{thumb}\n{exp}")), computed here from the document. */
void media_signed_path(it_server *s, const char *id, int thumb, long long exp, char *out, size_t outsz);

/* A real w x h 8-bit grayscale PNG (a gradient, stored deflate blocks), so a thumbnailer
 * or a browser can decode it; malloc'd, its size in *len. */
uint8_t *make_png(uint32_t w, uint32_t h, size_t *len);

/* Multipart forms (Easemob chatfiles) with the boundary BOUNDARY. */
#define BOUNDARY "----TernTestBoundary7MA4YWxk"
/* Appends a part (filename and ctype may be NULL) to the form b[0..*n) (malloc'd, grown;
 * NULL to start one); returns the new b. */
char *add_part(char *b, size_t *n, const char *name, const char *filename, const char *ctype, const char *data,
               size_t dn);
/* Appends the closing delimiter; returns the new b. */
char *close_form(char *b, size_t *n);
/* POSTs body[0..n) to <app_path>/chatfiles with the app token and Content-Type ctype
 * (NULL: multipart/form-data with BOUNDARY); extra headers end in CRLF. The status. */
int post_form(it_server *s, const char *app_path, const char *ctype, const char *extra, const char *body, size_t n,
              it_http_resp *r);

#endif
