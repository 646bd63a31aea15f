/*
 * media.h — libtern's media transfers and media messages, private interfaces:
 *
 *   xfer.c       the transfer engine: libcurl's multi interface driven by uv_poll and a
 *                uv_timer on the client's loop; the at-most-9-running rule with its FIFO;
 *                cancel; the end of every transfer (temporary file renamed or removed,
 *                done callback, then the next waiting transfer starts)
 *   media.c      the public transfer functions (validate, build the transfer, queue it
 *                to the loop like every request), URL resolution, content types, and
 *                what a transfer reads: an image's size, the server's answers
 *   media_msg.c  media message drafts (payload a client sends), their setters and the
 *                accessors of received media messages
 *
 * A transfer (sdk_xfer) is built on the calling thread, travels to the loop inside a
 * REQ_MEDIA request and from then on belongs to the loop thread alone.
 */
#ifndef TERN_SDK_MEDIA_H
#define TERN_SDK_MEDIA_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/buf.h"
#include "tern/tern.h"

struct sdk_req;
typedef void (*sdk_media_fn)(void);

/* What a transfer is for: the done callback's signature follows from it. */
enum {
    XK_UPLOAD = 1, /* tern_upload_media: tern_upload_cb */
    XK_IMAGE,      /* the builders: tern_media_message_cb */
    XK_FILE,
    XK_AUDIO,
    XK_VIDEO,
    XK_DL_FILE, /* tern_download_media: tern_download_cb */
    XK_DL_MEM   /* tern_download_media_to_memory: tern_download_memory_cb */
};

#define XK_IS_UPLOAD(k) ((k) <= XK_VIDEO)

/* What the server answered for one uploaded file (strings owned). */
typedef struct sdk_upload_res {
    char *media_id, *content_type, *file_name;
    uint64_t size;
    int64_t expires_at;
    unsigned width, height; /* the server's, else what the SDK read from the header */
} sdk_upload_res;

typedef struct sdk_xfer {
    struct sdk_xfer *prev, *next; /* running or waiting list (loop) */
    uint64_t id;
    int kind; /* XK_* */
    tern_media_progress_cb progress;
    sdk_media_fn done;
    void *ud;

    /* uploads: path[0], and for a video its snapshot path[1] */
    char *path[2], *ctype[2];
    int nfiles, cur;
    unsigned seconds;
    sdk_upload_res res[2];

    /* downloads */
    char *url;      /* absolute */
    int send_token; /* the URL is on the client's own server */
    char *dest;     /* XK_DL_FILE */
    char tmp[4200]; /* its temporary file ("" when none) */
    tern_buf mem;   /* XK_DL_MEM */

    /* the running step (xfer.c) */
    void *easy; /* CURL * */
    void *hdrs; /* struct curl_slist * */
    int fd;
    uint64_t sizes[2];   /* of the files to upload, known at the first step */
    uint64_t base;       /* bytes of the job's files already done */
    uint64_t now, total; /* progress, updated by curl's callbacks */
    uint64_t shown_now;  /* the last progress given to the app */
    int shown_any;
    tern_buf resp; /* an answer's body (capped) */
    int local_err; /* an error found by the SDK during the step */
    char local_msg[320];
    char errbuf[256]; /* CURL_ERROR_SIZE */
} sdk_xfer;

/* ---- xfer.c (loop thread unless said) ---- */
/* Frees a transfer that never ran or has ended (its files closed, tmp removed).
 * NULL is a no-op. Any thread. */
void sdk_xfer_free(sdk_xfer *x);
/* A REQ_MEDIA (r->xfer) or REQ_MEDIA_CANCEL (r->num = request id, r->limit = 1 for
 * uploads, 2 for downloads) reached the loop. Takes r. */
void sdk_media_handle(tern_client *c, struct sdk_req *r);
/* Such a request is completed without reaching the engine (destroy): the transfer's
 * done callback or the cancel callback runs with code. Does not free r. */
void sdk_media_complete_req(tern_client *c, struct sdk_req *r, int code);
/* Destroy: every running and waiting transfer ends with TERN_ERR_SDK_CANCELED, the
 * curl handles go and the engine's uv handles are closed. Safe inside a callback. */
void sdk_media_shutdown(tern_client *c);
/* Frees what is left of the engine once its handles are closed (client_free). */
void sdk_media_free(tern_client *c);

/* ---- media.c ---- */
/* The content type of a file name from its extension; application/octet-stream. */
const char *sdk_media_content_type(const char *path);
/* The last component of path (borrowed). */
const char *sdk_media_basename(const char *path);
/* Reads the size of the image x->path[i] (open as x->fd) from its head with
 * core/imgsize, as the server does, into x->res[i].width/height (left 0 when it is no
 * image). Loop thread. */
void sdk_media_probe_image(sdk_xfer *x, int i);
/* The code of an HTTP error answer in x->resp: its Tern `code`, else one from the
 * status; msg gets its error_description or "HTTP <status> ...". */
int sdk_media_http_error(const sdk_xfer *x, long status, char *msg, size_t msgsz);
/* Reads an upload's answer (x->resp) into x->res[x->cur]. Returns 0, or -1 when it has
 * no mediaId (not Tern's answer). */
int sdk_media_read_answer(sdk_xfer *x);
/* 1 for a media id: 1-128 of [A-Za-z0-9_-]. */
int sdk_media_id_ok(const char *id);

/* ---- media_msg.c ---- */
/* The draft an ended upload job builds (XK_IMAGE..XK_VIDEO), from the client's user.
 * NULL on out of memory. */
tern_message *sdk_media_draft_from_upload(tern_client *c, const sdk_xfer *x);

#endif
