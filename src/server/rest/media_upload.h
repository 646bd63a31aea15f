/*
 * media_upload.h — the streaming upload machinery of rest/media.c, shared by every
 * upload route (private to src/server/rest): the raw-body upload and the resumable PUT
 * (media.c) and Easemob's multipart chatfiles (chatfiles.c).
 *
 * An upload owns its temporary file. Body pieces gather in u->buf on the loop and go to
 * the file on libuv's pool every UPLOAD_CHUNK bytes while the body is paused, hashed as
 * they are written; when the body is complete (media_upload, the routes' request
 * handler) the rest is written, fsynced and committed, the row is stored and the answer
 * follows the row's commit. Any failure leaves no visible file and no row.
 *
 * A route whose body is not the file itself gives an upload_kind: its data hook sees
 * the body's pieces and passes the file's bytes on with upload_append; its end hook
 * checks the whole body once it has arrived; its answer hook writes the success answer.
 * A hook fails the upload by returning a TERN code (and may write u->desc): the rest of
 * the body is read and dropped, the file removed, and the end of the body answers.
 */
#ifndef TERN_REST_MEDIA_UPLOAD_H
#define TERN_REST_MEDIA_UPLOAD_H
#include <openssl/evp.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "media/media.h"
#include "media/probe.h"
#include "rest/rest.h"

typedef struct upload upload;

typedef struct upload_kind {
    /* A piece of the body: TERN_OK (the file's bytes passed to upload_append), or a code
     * that fails the upload. */
    int (*data)(upload *u, const char *p, size_t n);
    /* The whole body has arrived: TERN_OK, or the code that fails the upload. */
    int (*end)(upload *u);
    /* The answer once the row is committed (on the loop). */
    void (*answer)(rest_op *r, upload *u);
    /* Frees u->kind_ud (NULL is fine). */
    void (*free)(void *kind_ud);
} upload_kind;

struct upload {
    rctx x; /* the head's request (keep_alive 0): an answer mid-body closes */
    rest_body *body;
    server *s;
    media_store *ms;
    uv_loop_t *uv;
    uv_work_t work, hwork;
    int fd;
    char tmp[1200];
    char id[MEDIA_ID_LEN + 1];
    char ctype[128], fname[256];
    uint64_t declared, received; /* body bytes: Content-Length, and read so far */
    uint64_t file_bytes;         /* the file's bytes passed on (the body itself for a raw upload) */
    EVP_MD_CTX *sha;
    char sha_hex[65];
    tern_buf buf;       /* file bytes not yet written, filled by the loop */
    tern_buf wbuf;      /* the piece a write on the pool holds (double buffering: the loop
                           goes on reading into buf meanwhile) */
    int pending;        /* jobs of a piece running on the pool (its write, its hash) */
    int gone;           /* the connection closed during that write */
    int err;            /* -errno of a failed write or commit (the loop's) */
    int werr, herr;     /* the pool's write and hash of wbuf: -errno, copied into err after */
    int code;           /* a kind's failure (TERN code), answered at the end of the body */
    char desc[192];     /* its description ("" : tern_strerror's) */
    int committed;      /* the file is in place (tmp renamed) */
    int tmp_gone;       /* the tmp file is removed already (a failure, before the answer) */
    _Atomic int stored; /* its row committed */
    int64_t created_ms, expires_ms;
    rest_op *r; /* the request's operation, once the body is complete */
    /* a resumable session's PUT: appends to its part file, kept on failure */
    int resumable;
    uint64_t offset0, total;
    uint64_t size;           /* the stored file's size */
    char share_secret[65];   /* stored with the row ("" none) */
    media_image img;         /* what its head says (image facts, the stored content type) */
    const upload_kind *kind; /* NULL: the body is the file */
    void *kind_ud;
};

/* The largest file x's app may upload, bytes (its mediaMaxBytes, at most
 * --media-max-bytes). */
uint64_t media_max_bytes(const rctx *x);
/* Answers 413 7003 naming the limit for a file of len bytes (len 0: "more than limit"). */
void media_reply_too_large(const rctx *x, uint64_t len);
/* Content-Length of m: 1 with *out, 0 if absent, -1 if malformed. */
int media_content_length(const http_msg *m, uint64_t *out);
/* Copies v[0..n) into out if it is 1..outsz-1 bytes of printable ASCII without quotes
 * or backslashes (safe to store and to send back in a header), else dflt. */
void media_safe_value(const char *v, size_t n, const char *dflt, char *out, size_t outsz);
/* A new upload of a body of len bytes for x into a new temporary file under a new media
 * id, or NULL after answering the failure (507 7005, 5001). */
upload *media_upload_open(rctx *x, uint64_t len);
/* Attaches u to x's connection as the body's sink; returns NET_BODY_STREAM with *limit. */
int media_upload_attach(rctx *x, upload *u, size_t *limit);
/* Passes file bytes on: buffered, written on the pool in chunks. */
void upload_append(upload *u, const char *p, size_t n);
/* Frees u and whatever file of it must not stay (not yet attached, or detached). */
void upload_free(void *u);

#endif
