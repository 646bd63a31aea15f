/*
 * media.c — libtern's public media transfer functions (include/tern/tern.h "Media"):
 * uploads, the upload-and-build message functions, downloads to a file or to memory,
 * cancels and the transfer counts. Each validates its arguments on the calling thread,
 * builds a transfer (media.h sdk_xfer) with its absolute URL, hands out the request id
 * and queues it to the client's loop like every other request; xfer.c runs it there,
 * calling back here for what it reads: an image's size (core/imgsize) and the server's
 * answers.
 *
 * URLs: the HTTP server is the WebSocket URL's (ws -> http, wss -> https, same host and
 * port). Uploads go to <base>/{org}/{app}/media, downloads of an id to
 * <base>/{org}/{app}/media/{id}; a media URL from a message is taken as it is ("/..."
 * is resolved against <base>). The user token goes only to <base>: a URL on another
 * host (a --public-url CDN, say) is fetched without it, its signature is its key.
 */
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/imgsize.h"
#include "core/json.h"
#include "sdk/media.h"
#include "sdk/sdk.h"
#include "sdk/sdk_util.h"

#define PATH_MAX_BYTES 4096
#define URL_MAX_BYTES 4096

/* ---- small things ---------------------------------------------------------------------- */

const char *sdk_media_content_type(const char *path)
{
    static const char *const table[][2] = {
        {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"}, {"png", "image/png"},         {"gif", "image/gif"},
        {"webp", "image/webp"},     {"bmp", "image/bmp"},   {"heic", "image/heic"},       {"svg", "image/svg+xml"},
        {"mp3", "audio/mpeg"},      {"m4a", "audio/mp4"},   {"aac", "audio/aac"},         {"wav", "audio/wav"},
        {"amr", "audio/amr"},       {"ogg", "audio/ogg"},   {"opus", "audio/opus"},       {"mp4", "video/mp4"},
        {"mov", "video/quicktime"}, {"webm", "video/webm"}, {"3gp", "video/3gpp"},        {"mkv", "video/x-matroska"},
        {"pdf", "application/pdf"}, {"txt", "text/plain"},  {"json", "application/json"}, {"zip", "application/zip"},
        {"html", "text/html"},      {"htm", "text/html"},
    };
    const char *base = sdk_media_basename(path), *dot = strrchr(base, '.');
    if (dot && dot != base)
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
            if (!strcasecmp(dot + 1, table[i][0]))
                return table[i][1];
    return "application/octet-stream";
}

/* "http(s)://host:port" of the client's server. */
static void http_base(const tern_client *c, tern_buf *b)
{
    tern_buf_printf(b, "%s://%s", c->url.tls ? "https" : "http", c->url.host_header);
}

static int ctype_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f)
            return 0;
    return n > 0 && n <= 200;
}

/* 1 if u is printable ASCII without spaces (a URL as a message carries it). */
static int url_chars_ok(const char *u)
{
    size_t n = 0;
    for (; u[n]; n++)
        if ((unsigned char)u[n] <= 0x20 || (unsigned char)u[n] >= 0x7f)
            return 0;
    return n > 0 && n <= URL_MAX_BYTES;
}

static sdk_xfer *xfer_new(int kind, tern_media_progress_cb progress, sdk_media_fn done, void *ud)
{
    sdk_xfer *x = tern_calloc(1, sizeof *x);
    x->kind = kind;
    x->progress = progress;
    x->done = done;
    x->ud = ud;
    x->fd = -1;
    tern_buf_init(&x->mem, TERN_MEDIA_MEMORY_MAX); /* the peer's bytes: ceilings */
    tern_buf_init(&x->resp, 128u << 10);
    return x;
}

/* Gives x its request id and queues it. Returns TERN_OK or TERN_ERR_SDK_CANCELED (x
 * freed). */
static int submit_xfer(tern_client *c, sdk_xfer *x, uint64_t *request_id)
{
    x->id = atomic_fetch_add(&c->media_next_id, 1) + 1;
    sdk_req *r = tern_calloc(1, sizeof *r);
    r->kind = REQ_MEDIA;
    r->xfer = x;
    if (request_id) /* before the loop can run it: callbacks may compare ids */
        *request_id = x->id;
    if (sdk_enqueue(c, r) != 0) {
        sdk_req_free(r);
        if (request_id)
            *request_id = 0;
        return TERN_ERR_SDK_CANCELED;
    }
    return TERN_OK;
}

/* ---- what transfers read (xfer.c calls these) ---- */

#define PROBE_MAX (512u << 10) /* bytes of an image head read for its size */

/* Reads an image's size from the head of the open file (core/imgsize, as the server). */
void sdk_media_probe_image(sdk_xfer *x, int i)
{
    size_t want = 64u << 10, cap = (size_t)(x->sizes[i] < PROBE_MAX ? x->sizes[i] : PROBE_MAX);
    uint8_t *buf = tern_malloc(cap ? cap : 1);
    size_t have = 0;
    for (;;) {
        if (want > cap)
            want = cap;
        while (have < want) {
            ssize_t n = pread(x->fd, buf + have, want - have, (off_t)have);
            if (n <= 0)
                break;
            have += (size_t)n;
        }
        tern_img_info info;
        int rc = tern_img_probe(buf, have, &info);
        if (rc == TERN_IMG_OK) {
            x->res[i].width = info.width;
            x->res[i].height = info.height;
        }
        if (rc != TERN_IMG_NEED_MORE || info.need > cap || have < want)
            break;
        want = info.need;
    }
    tern_free(buf);
}

/* The code of an HTTP error answer: the body's Tern code, else one from the status. */
int sdk_media_http_error(const sdk_xfer *x, long status, char *msg, size_t msgsz)
{
    cJSON *j = x->resp.len ? cJSON_ParseWithLength(x->resp.data, x->resp.len) : NULL;
    long long code = 0;
    const char *desc = tern_json_str(j, "error_description");
    if (tern_json_get_int(j, "code", 1, 99999, &code) != TERN_JSON_OK)
        code = status == 413   ? TERN_ERR_MEDIA_TOO_LARGE
               : status == 401 ? TERN_ERR_TOKEN_INVALID
               : status == 403 ? TERN_ERR_FORBIDDEN
               : status == 404 ? TERN_ERR_MEDIA_NOT_FOUND
                               : TERN_ERR_SDK_IO;
    if (desc)
        snprintf(msg, msgsz, "%s", desc);
    else
        snprintf(msg, msgsz, "HTTP %ld from the media server", status);
    cJSON_Delete(j);
    return (int)code;
}

/* Reads an upload's answer into x->res[x->cur]. Returns 0 or -1 (not Tern's answer). */
int sdk_media_read_answer(sdk_xfer *x)
{
    cJSON *j = cJSON_ParseWithLength(x->resp.data ? x->resp.data : "", x->resp.len);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    const char *id = tern_json_str(d, "mediaId");
    sdk_upload_res *r = &x->res[x->cur];
    long long v;
    int rc = -1;
    if (id && *id) {
        r->media_id = tern_strdup(id);
        const char *ct = tern_json_str(d, "contentType"), *fn = tern_json_str(d, "fileName");
        r->content_type = tern_strdup(ct ? ct : "");
        r->file_name = tern_strdup(fn ? fn : "");
        if (tern_json_get_u64(d, "size", &r->size) != TERN_JSON_OK)
            r->size = x->sizes[x->cur];
        if (tern_json_get_int(d, "expiresAt", 0, 9007199254740991LL, &v) == TERN_JSON_OK)
            r->expires_at = v;
        if (tern_json_get_int(d, "width", 1, 1LL << 31, &v) == TERN_JSON_OK)
            r->width = (unsigned)v;
        if (tern_json_get_int(d, "height", 1, 1LL << 31, &v) == TERN_JSON_OK)
            r->height = (unsigned)v;
        rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}

/* ---- uploads --------------------------------------------------------------------------- */

static int path_ok(const char *p)
{
    return p && *p && sdk_str_ok(p, PATH_MAX_BYTES, 1);
}

static int upload_job(tern_client *c, int kind, const char *path, const char *snapshot, const char *ctype,
                      unsigned seconds, uint64_t *request_id, tern_media_progress_cb progress, sdk_media_fn done,
                      void *ud)
{
    if (request_id)
        *request_id = 0;
    if (!c || !path_ok(path) || (snapshot && !path_ok(snapshot)) || (ctype && !ctype_ok(ctype)))
        return TERN_ERR_SDK_INVALID_ARG;
    sdk_xfer *x = xfer_new(kind, progress, done, ud);
    tern_buf b;
    tern_buf_init(&b, 0);
    http_base(c, &b);
    tern_buf_printf(&b, "/%s/media", c->app);
    x->url = tern_buf_steal(&b, NULL);
    x->send_token = 1;
    x->seconds = seconds;
    x->path[0] = tern_strdup(path);
    x->ctype[0] = tern_strdup(ctype ? ctype : sdk_media_content_type(path));
    x->nfiles = 1;
    if (snapshot) {
        x->path[1] = tern_strdup(snapshot);
        x->ctype[1] = tern_strdup(sdk_media_content_type(snapshot));
        x->nfiles = 2;
    }
    return submit_xfer(c, x, request_id);
}

TERN_API int tern_upload_media(tern_client *c, const char *path, const char *content_type, uint64_t *request_id,
                               tern_media_progress_cb progress, tern_upload_cb done, void *ud)
{
    return upload_job(c, XK_UPLOAD, path, NULL, content_type, 0, request_id, progress, (sdk_media_fn)done, ud);
}

TERN_API int tern_create_image_message_by_uploading(tern_client *c, const char *path, uint64_t *request_id,
                                                    tern_media_progress_cb progress, tern_media_message_cb done,
                                                    void *ud)
{
    return upload_job(c, XK_IMAGE, path, NULL, NULL, 0, request_id, progress, (sdk_media_fn)done, ud);
}

TERN_API int tern_create_file_message_by_uploading(tern_client *c, const char *path, uint64_t *request_id,
                                                   tern_media_progress_cb progress, tern_media_message_cb done,
                                                   void *ud)
{
    return upload_job(c, XK_FILE, path, NULL, NULL, 0, request_id, progress, (sdk_media_fn)done, ud);
}

TERN_API int tern_create_audio_message_by_uploading(tern_client *c, const char *path, unsigned seconds,
                                                    uint64_t *request_id, tern_media_progress_cb progress,
                                                    tern_media_message_cb done, void *ud)
{
    return upload_job(c, XK_AUDIO, path, NULL, NULL, seconds, request_id, progress, (sdk_media_fn)done, ud);
}

TERN_API int tern_create_video_message_by_uploading(tern_client *c, const char *path, unsigned seconds,
                                                    const char *snapshot_path, uint64_t *request_id,
                                                    tern_media_progress_cb progress, tern_media_message_cb done,
                                                    void *ud)
{
    return upload_job(c, XK_VIDEO, path, snapshot_path, NULL, seconds, request_id, progress, (sdk_media_fn)done, ud);
}

/* ---- downloads ------------------------------------------------------------------------- */

/* Sets x->url and x->send_token from what the app gave. Returns 0 or -1. */
static int resolve(tern_client *c, sdk_xfer *x, const char *media)
{
    if (!media || !url_chars_ok(media))
        return -1;
    tern_buf base, u;
    tern_buf_init(&base, 0);
    tern_buf_init(&u, 0);
    http_base(c, &base);
    int rc = 0;
    if (sdk_media_id_ok(media)) {
        tern_buf_printf(&u, "%s/%s/media/%s", base.data, c->app, media);
        x->send_token = 1;
    } else if (media[0] == '/' && media[1] != '/') {
        tern_buf_printf(&u, "%s%s", base.data, media);
        x->send_token = 1;
    } else if (!strncasecmp(media, "http://", 7) || !strncasecmp(media, "https://", 8)) {
        tern_buf_puts(&u, media);
        /* The token only to our own server: "<base>/" exactly, not "<base>.evil.com". */
        x->send_token = !strncmp(media, base.data, base.len) && media[base.len] == '/';
    } else {
        rc = -1;
    }
    tern_buf_free(&base);
    if (rc == 0)
        x->url = tern_buf_steal(&u, NULL);
    else
        tern_buf_free(&u);
    return rc;
}

TERN_API int tern_download_media(tern_client *c, const char *media, const char *path, uint64_t *request_id,
                                 tern_media_progress_cb progress, tern_download_cb done, void *ud)
{
    if (request_id)
        *request_id = 0;
    if (!c || !path_ok(path))
        return TERN_ERR_SDK_INVALID_ARG;
    sdk_xfer *x = xfer_new(XK_DL_FILE, progress, (sdk_media_fn)done, ud);
    if (resolve(c, x, media) != 0) {
        sdk_xfer_free(x);
        return TERN_ERR_SDK_INVALID_ARG;
    }
    x->dest = tern_strdup(path);
    return submit_xfer(c, x, request_id);
}

TERN_API int tern_download_media_to_memory(tern_client *c, const char *media, uint64_t *request_id,
                                           tern_media_progress_cb progress, tern_download_memory_cb done, void *ud)
{
    if (request_id)
        *request_id = 0;
    if (!c)
        return TERN_ERR_SDK_INVALID_ARG;
    sdk_xfer *x = xfer_new(XK_DL_MEM, progress, (sdk_media_fn)done, ud);
    if (resolve(c, x, media) != 0) {
        sdk_xfer_free(x);
        return TERN_ERR_SDK_INVALID_ARG;
    }
    return submit_xfer(c, x, request_id);
}

/* ---- cancel, counts ---------------------------------------------------------------------- */

static int cancel(tern_client *c, uint64_t id, int upload, tern_cancel_cb cb, void *ud)
{
    if (!c)
        return TERN_ERR_SDK_INVALID_ARG;
    sdk_req *r = tern_calloc(1, sizeof *r);
    r->kind = REQ_MEDIA_CANCEL;
    r->num = id;
    r->limit = upload ? 1 : 2;
    r->cb = (sdk_fn)cb;
    r->ud = ud;
    if (sdk_enqueue(c, r) != 0) {
        sdk_req_free(r);
        return TERN_ERR_SDK_CANCELED;
    }
    return TERN_OK;
}

TERN_API int tern_cancel_media_upload(tern_client *c, uint64_t request_id, tern_cancel_cb cb, void *ud)
{
    return cancel(c, request_id, 1, cb, ud);
}

TERN_API int tern_cancel_media_download(tern_client *c, uint64_t request_id, tern_cancel_cb cb, void *ud)
{
    return cancel(c, request_id, 0, cb, ud);
}

TERN_API void tern_media_transfer_counts(const tern_client *c, unsigned *running, unsigned *waiting)
{
    tern_client *m = (tern_client *)c; /* the counters are the mutable part */
    if (running)
        *running = m ? atomic_load(&m->media_running) : 0;
    if (waiting)
        *waiting = m ? atomic_load(&m->media_waiting) : 0;
}
