/*
 * media.c — the media REST resource (issue 9; docs/rest-api.md, "Media"):
 *   POST /{org}/{app}/media        raw-body upload: the body is the file
 *   GET|HEAD /{org}/{app}/media/{id} download (sendfile, Range, ETag, HEAD); with
 *                                    ?thumb=198|720 the thumbnail (rest/media_thumb.c)
 * Uploads take the app token or a user token of the app; a download, also a signed URL
 * or the share-secret (media_auth.c).
 *
 * An upload is checked at its head (media_upload_head: Content-Length required, the
 * size limit, 413 before any body byte), then streams, double-buffered: bytes gather in
 * one buffer on the loop; every UPLOAD_CHUNK bytes that buffer goes to the temporary
 * file on libuv's pool and the loop reads on into the other one; only when both are
 * full is the body paused until the write ends (the client is held back by TCP). So a
 * file is never whole in memory (two pieces at most), the loop never waits on the disk,
 * and reading overlaps writing. The sha256 is computed on the pool with the writes. When the body is complete the request handler (media_upload) has the
 * pool write the rest, fsync, close and commit the file (media_store.h) and read its
 * head for the image facts and the stored content type (media/probe.h), then the row
 * goes through the store's writer, the answer follows its commit and an image's
 * thumbnails are queued (media_image_committed). A connection lost
 * halfway, a full disk or a failed row leaves no visible file: the temporary one is
 * removed (and at the next start, if the process died).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/util.h"
#include "media/media.h"
#include "net/net.h"
#include "rest/media_upload.h"
#include "rest/rest.h"

#define UPLOAD_CHUNK (256 * 1024)

void upload_free(void *ud)
{
    upload *u = ud;
    if (u->kind && u->kind->free)
        u->kind->free(u->kind_ud);
    if (u->fd >= 0)
        close(u->fd);
    if (u->resumable) /* the part stays for the next PUT unless it became the file */
        media_session_release(u->s, u->x.app.id, u->id, u->committed);
    if (!u->committed && !u->tmp_gone && !u->resumable)
        u->ms->ops->tmp_remove(u->ms, u->tmp);
    else if (u->committed && !u->stored) /* the row failed: the file must not stay without it */
        u->ms->ops->remove(u->ms, u->x.app.id, u->id);
    EVP_MD_CTX_free(u->sha);
    tern_buf_free(&u->buf);
    tern_buf_free(&u->wbuf);
    tern_free(u);
}

static int code_of_errno(int e)
{
    return e == -ENOSPC || e == -EDQUOT ? TERN_ERR_MEDIA_DISK_FULL : TERN_ERR_INTERNAL;
}

/* Writes b whole to the file (pool). */
static int write_all(upload *u, const tern_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(u->fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        off += (size_t)w;
    }
    return 0;
}

/* Hashes b into the upload's sha256 (pool). */
static int hash_piece(upload *u, const tern_buf *b)
{
    return b->len && EVP_DigestUpdate(u->sha, b->data, b->len) != 1 ? -EIO : 0;
}

/* Writes b whole and hashes it, one after the other (pool: the last piece). */
static int write_piece(upload *u, const tern_buf *b)
{
    int rc = write_all(u, b);
    return rc ? rc : hash_piece(u, b);
}

static void start_final(upload *u);

/* A piece is written and hashed by two jobs at once (both only read wbuf; the next
 * piece waits for both, so the hash sees the pieces in order). err is the loop's: it
 * reads on meanwhile, so each job has its own result field. */
static void write_run(uv_work_t *w)
{
    upload *u = w->data;
    u->werr = write_all(u, &u->wbuf);
}

static void hash_run(uv_work_t *w)
{
    upload *u = w->data;
    u->herr = hash_piece(u, &u->wbuf);
}

static void write_after(uv_work_t *w, int status);

/* Hands the filled buf to the pool (a write and a hash) and reads on into the other
 * buffer (the two swap). 0, or -1 (u->err set) if the pool refused the write. */
static int queue_write(upload *u)
{
    tern_buf t = u->wbuf;
    u->wbuf = u->buf;
    u->buf = t;
    u->buf.len = 0;
    u->work.data = u;
    u->hwork.data = u;
    if (uv_queue_work(u->uv, &u->work, write_run, write_after) != 0) {
        u->err = -EIO;
        return -1;
    }
    u->pending = 1;
    if (uv_queue_work(u->uv, &u->hwork, hash_run, write_after) != 0)
        u->herr = -EIO; /* the write still ends in write_after */
    else
        u->pending = 2;
    return 0;
}

static void write_after(uv_work_t *w, int status)
{
    upload *u = w->data;
    if (--u->pending > 0) /* the piece's other job runs on */
        return;
    if (u->werr && !u->err)
        u->err = u->werr;
    if (u->herr && !u->err)
        u->err = u->herr;
    if (status != 0 && !u->err)
        u->err = -EIO;
    if (u->gone) {
        upload_free(u);
        return;
    }
    u->wbuf.len = 0;
    if (u->r) { /* the body ended meanwhile: the request waits; buf holds the rest */
        start_final(u);
        return;
    }
    if (u->err && !u->code) { /* answer now and close; the rest of the body is not read */
        rest_body_detach(u->body);
        int code = code_of_errno(u->err);
        rctx *x = tern_malloc(sizeof *x);
        *x = u->x;
        upload_free(u); /* the tmp file goes before the answer */
        rest_reply_err(x, code);
        tern_free(x);
        return;
    }
    if (u->buf.len >= UPLOAD_CHUNK && !u->err && !u->code && queue_write(u) < 0)
        return; /* reported when the body ends */
    rest_body_resume(u->body); /* if the read paused for this write (a no-op otherwise) */
}

void upload_append(upload *u, const char *p, size_t n)
{
    tern_buf_append(&u->buf, p, n);
    u->file_bytes += n;
}

static int upload_data(void *ud, const char *p, size_t n)
{
    upload *u = ud;
    u->received += n;
    if (u->err || u->code) /* failed already: the rest is dropped, the end of the body answers */
        return NET_BODY_MORE;
    if (!u->kind) {
        upload_append(u, p, n);
    } else if ((u->code = u->kind->data(u, p, n)) != TERN_OK) {
        u->buf.len = 0; /* nothing more goes to the file */
        return NET_BODY_MORE;
    }
    if (u->buf.len < UPLOAD_CHUNK)
        return NET_BODY_MORE;
    if (u->pending) /* both buffers are busy: wait for the write (write_after resumes) */
        return NET_BODY_PAUSE;
    queue_write(u); /* a refusal is reported when the body ends */
    return NET_BODY_MORE;
}

static void upload_gone(void *ud)
{
    upload *u = ud;
    u->body = NULL;
    if (u->pending)
        u->gone = 1; /* write_after frees it */
    else
        upload_free(u);
}

/* ---- the end of the body: the last write, fsync, commit, the row -------------------- */

/* A resumable upload's sha256: the whole part file, read again (pool). */
static int hash_file(upload *u)
{
    int fd = open(u->tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *b = tern_malloc(UPLOAD_CHUNK);
    int rc = EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
    ssize_t n;
    while (rc == 0 && (n = read(fd, b, UPLOAD_CHUNK)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || EVP_DigestUpdate(u->sha, b, (size_t)n) != 1)
            rc = n < 0 ? -errno : -EIO;
    }
    tern_free(b);
    close(fd);
    return rc;
}

/* The committed file's image facts and the content type to store (pool). */
static void probe_upload(upload *u)
{
    media_image_probe(u->ms, u->x.app.id, u->id, u->ctype, (int64_t)u->s->cfg.media_max_pixels, &u->img);
    snprintf(u->ctype, sizeof u->ctype, "%s", u->img.content_type);
}

static void final_run(uv_work_t *w)
{
    upload *u = w->data;
    if (u->err || u->code) {
        if (!u->resumable) {
            u->ms->ops->tmp_remove(u->ms, u->tmp);
            u->tmp_gone = 1;
        }
        return;
    }
    int rc = write_piece(u, &u->buf);
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (rc == 0 && fsync(u->fd) != 0)
        rc = -errno;
    if (close(u->fd) != 0 && rc == 0)
        rc = -errno;
    u->fd = -1;
    u->size = u->offset0 + u->file_bytes;
    if (u->resumable && (rc != 0 || u->size < u->total)) { /* the part holds what came */
        u->err = rc;
        return;
    }
    if (rc == 0 && u->resumable)
        rc = hash_file(u);
    if (rc == 0 && EVP_DigestFinal_ex(u->sha, md, &mdlen) != 1)
        rc = -EIO;
    if (rc == 0)
        rc = u->ms->ops->commit(u->ms, u->x.app.id, u->id, u->tmp);
    if (rc == 0) {
        u->committed = 1;
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(u->sha_hex + 2 * i, 3, "%02x", md[i]);
        probe_upload(u);
    } else if (!u->resumable) { /* gone before the answer says so */
        u->ms->ops->tmp_remove(u->ms, u->tmp);
        u->tmp_gone = 1;
    }
    u->err = rc;
}

static void put_done(store_op *op)
{
    rest_op *r = op->ud;
    upload *u = r->ud;
    if (op->result == TERN_OK)
        u->stored = 1;
    rest_op_done(r);
}

static void final_after(uv_work_t *w, int status)
{
    upload *u = w->data;
    rest_op *r = u->r;
    if (status != 0 && !u->err)
        u->err = -EIO;
    if (u->err || u->code) {
        r->op.result = u->code ? u->code : code_of_errno(u->err);
        rest_op_done(r);
        return;
    }
    if (u->resumable && !u->committed) { /* more to come: finish_upload says the offset */
        r->op.result = TERN_OK;
        rest_op_done(r);
        return;
    }
    u->created_ms = tern_now_ms();
    u->expires_ms = u->created_ms + media_ttl_ms(u->s);
    r->op.kind = STORE_OP_MEDIA_PUT;
    r->op.app = u->x.app.id;
    r->op.done = put_done;
    r->op.ud = r;
    r->op.u.media.id = u->id;
    r->op.u.media.content_type = u->ctype;
    r->op.u.media.file_name = u->fname;
    r->op.u.media.sha256 = u->sha_hex;
    r->op.u.media.size = u->size;
    r->op.u.media.created_ms = u->created_ms;
    r->op.u.media.expires_ms = u->expires_ms;
    r->op.u.media.share_secret = u->share_secret;
    r->op.u.media.width = u->img.width;
    r->op.u.media.height = u->img.height;
    r->op.u.media.img_format = u->img.img_format;
    r->op.u.media.animated = u->img.animated;
    r->op.u.media.thumbs = u->img.thumbs;
    int rc = rest_store_submit(u->s, &r->op);
    if (rc != TERN_OK) {
        r->op.result = rc;
        rest_op_done(r);
    }
}

static void start_final(upload *u)
{
    u->work.data = u;
    if (uv_queue_work(u->uv, &u->work, final_run, final_after) != 0) {
        u->r->op.result = TERN_ERR_INTERNAL;
        rest_op_done(u->r);
    }
}

static void finish_upload(rest_op *r)
{
    upload *u = r->ud;
    if (r->op.result != TERN_OK) {
        rest_reply_err_desc(&r->x, r->op.result, NULL, u->desc[0] ? u->desc : tern_strerror(r->op.result));
        return;
    }
    if (u->kind) {
        u->kind->answer(r, u);
        return;
    }
    tern_buf d;
    tern_buf_init(&d, 0);
    if (u->resumable && !u->committed) {
        char h[96];
        snprintf(h, sizeof h, "Upload-Offset: %llu\r\n", (unsigned long long)u->size);
        tern_buf_printf(&d, "{\"uploadId\":\"%s\",\"offset\":%llu,\"size\":%llu}", u->id, (unsigned long long)u->size,
                        (unsigned long long)u->total);
        rest_reply_ok_headers(&r->x, d.data, d.len, h);
        tern_buf_free(&d);
        return;
    }
    tern_buf_printf(&d, "{\"mediaId\":\"%s\",\"size\":%llu,\"contentType\":", u->id, (unsigned long long)u->size);
    tern_buf_json_str(&d, u->ctype, strlen(u->ctype));
    tern_buf_puts(&d, ",\"fileName\":");
    tern_buf_json_str(&d, u->fname, strlen(u->fname));
    tern_buf_printf(&d, ",\"sha256\":\"%s\",\"expiresAt\":%lld", u->sha_hex, (long long)u->expires_ms);
    if (u->img.img_format)
        tern_buf_printf(&d, ",\"width\":%d,\"height\":%d,\"imageFormat\":%d,\"animated\":%d", u->img.width,
                        u->img.height, u->img.img_format, u->img.animated);
    tern_buf_putc(&d, '}');
    rest_reply_ok(&r->x, d.data, d.len, NULL);
    tern_buf_free(&d);
    media_image_committed(u->s, u->x.app.id, u->id, &u->img); /* the row is in: thumbnails */
}

/* ---- the head and the request ------------------------------------------------------------ */

uint64_t media_max_bytes(const rctx *x)
{
    static const char key[] = "mediaMaxBytes";
    return apps_setting_get(rest_server(x), &x->app, apps_setting_find(key, sizeof key - 1));
}

void media_reply_too_large(const rctx *x, uint64_t len)
{
    char d[160];
    if (len)
        snprintf(d, sizeof d, "file of %llu bytes over the limit of %llu bytes", (unsigned long long)len,
                 (unsigned long long)media_max_bytes(x));
    else
        snprintf(d, sizeof d, "file over the limit of %llu bytes", (unsigned long long)media_max_bytes(x));
    rest_reply_err_desc(x, TERN_ERR_MEDIA_TOO_LARGE, NULL, d);
}

int media_content_length(const http_msg *m, uint64_t *out)
{
    tern_str v = http_header_get(m, "Content-Length");
    if (!v.p)
        return 0;
    if (v.n == 0 || v.n > 19)
        return -1;
    uint64_t n = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = n;
    return 1;
}

void media_safe_value(const char *v, size_t n, const char *dflt, char *out, size_t outsz)
{
    int ok = v && n > 0 && n < outsz;
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] >= 0x20 && v[i] < 0x7f && v[i] != '"' && v[i] != '\\';
    if (ok)
        snprintf(out, outsz, "%.*s", (int)n, v);
    else
        snprintf(out, outsz, "%s", dflt);
}

/* A new upload of len bytes for x (not yet attached) as media id, writing to fd (owned)
 * at path tmp (a resumable session's part: kept on failure), or NULL after answering
 * the failure. */
static upload *upload_new(rctx *x, uint64_t len, int fd, const char *tmp, const char *id, int resumable)
{
    upload *u = tern_calloc(1, sizeof *u);
    u->resumable = resumable;
    snprintf(u->id, sizeof u->id, "%s", id);
    u->x = *x;
    u->s = rest_server(x);
    u->ms = media_store_of(u->s);
    u->uv = rest_uv_loop(x);
    u->declared = len;
    u->fd = fd;
    snprintf(u->tmp, sizeof u->tmp, "%s", tmp);
    tern_buf_init(&u->buf, 0);
    tern_buf_init(&u->wbuf, 0);
    u->sha = EVP_MD_CTX_new();
    if (!u->sha || EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL) != 1) {
        rest_reply_err(x, TERN_ERR_INTERNAL);
        upload_free(u);
        return NULL;
    }
    return u;
}

upload *media_upload_open(rctx *x, uint64_t len)
{
    media_store *ms = media_store_of(rest_server(x));
    char tmp[1200];
    char id[MEDIA_ID_LEN + 1];
    int fd = media_new_id(id) == 0 ? ms->ops->tmp_open(ms, tmp, sizeof tmp) : -EIO;
    if (fd < 0) {
        rest_reply_err(x, code_of_errno(fd));
        return NULL;
    }
    return upload_new(x, len, fd, tmp, id, 0);
}

int media_upload_attach(rctx *x, upload *u, size_t *limit)
{
    u->body = rest_body_attach(x, upload_data, upload_gone, u);
    *limit = (size_t)u->declared;
    return NET_BODY_STREAM;
}

int media_upload_head(rctx *x, const http_msg *m, size_t *limit)
{
    uint64_t len = 0;
    int has = media_content_length(m, &len);
    if (has <= 0) { /* chunked, or no usable length: the size must be known first */
        rest_reply_err(x, TERN_ERR_MEDIA_NO_LENGTH);
        return NET_BODY_REFUSED;
    }
    if (len > media_max_bytes(x)) {
        media_reply_too_large(x, len);
        return NET_BODY_REFUSED;
    }
    upload *u = media_upload_open(x, len);
    if (!u)
        return NET_BODY_REFUSED;
    tern_str ct = http_header_get(m, "Content-Type");
    media_safe_value(ct.p, ct.n, "application/octet-stream", u->ctype, sizeof u->ctype);
    tern_str fn = http_header_get(m, "X-Tern-Filename");
    media_safe_filename(fn.p ? fn.p : "", fn.p ? fn.n : 0, u->fname, sizeof u->fname);
    return media_upload_attach(x, u, limit);
}

int media_upload(rctx *x, const http_msg *m)
{
    upload *u = rest_body_take(x);
    if (!u) { /* no body reached the head handler: none, or Content-Length: 0 */
        uint64_t len = 0;
        rest_reply_err(x, media_content_length(m, &len) > 0 ? TERN_ERR_MEDIA_EMPTY : TERN_ERR_MEDIA_NO_LENGTH);
        return 0;
    }
    u->body = NULL;
    rest_op *r = rest_op_new(x, finish_upload);
    r->ud = u;
    r->free_ud = upload_free;
    u->r = r;
    if (u->received != u->declared && !u->err)
        u->err = -EIO;
    if (!u->err && !u->code && u->kind)
        u->code = u->kind->end(u);
    if (!u->pending)
        start_final(u);
    return 1;
}

/* ---- download ------------------------------------------------------------------------------ */

/* 1 if the header value v contains s. */
static int has_sub(tern_str v, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= v.n; i++)
        if (memcmp(v.p + i, s, n) == 0)
            return 1;
    return 0;
}

int media_etag_match(const http_msg *m, const char *etag)
{
    tern_str inm = http_header_get(m, "If-None-Match");
    return inm.p && (has_sub(inm, etag) || (inm.n == 1 && inm.p[0] == '*'));
}

int media_download(rctx *x, const http_msg *m)
{
    return media_download_box(x, m, 0);
}

int media_download_box(rctx *x, const http_msg *m, int box)
{
    store_media row;
    int valid = media_id_valid(x->conv, strlen(x->conv)); /* else never reaches the disk */
    int rc = valid ? store_media_get(rest_reader(x), x->app.id, x->conv, &row) : TERN_ERR_NOT_FOUND;
    int arc = media_access(x, m, rc == TERN_OK ? &row : NULL); /* 401 before any 404 */
    if (arc != TERN_OK) {
        rest_reply_err(x, arc);
        return 0;
    }
    if (rc == TERN_ERR_NOT_FOUND)
        rc = TERN_ERR_MEDIA_NOT_FOUND;
    else if (rc == TERN_OK && row.expires_ms <= tern_now_ms())
        rc = TERN_ERR_MEDIA_EXPIRED;
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    int th = media_thumb_get(x, m, &row, box); /* ?thumb=: media_thumb.c */
    if (th >= 0)
        return th;
    char etag[80];
    snprintf(etag, sizeof etag, "\"%s\"", row.sha256);
    if (media_etag_match(m, etag)) {
        char h[128];
        snprintf(h, sizeof h, "ETag: %s\r\n", etag);
        rest_reply_status(x, 304, h);
        return 0;
    }
    media_store *ms = media_store_of(rest_server(x));
    uint64_t size = 0;
    int fd = ms->ops->open_read(ms, x->app.id, row.id, &size);
    if (fd < 0) {
        rest_reply_err(x, fd == -ENOENT ? TERN_ERR_MEDIA_NOT_FOUND : TERN_ERR_INTERNAL);
        return 0;
    }
    char extra[512];
    int n = snprintf(extra, sizeof extra, "ETag: %s\r\nX-Content-Type-Options: nosniff\r\nCache-Control: private\r\n",
                     etag);
    if (!media_is_raster(row.content_type))
        snprintf(extra + n, sizeof extra - (size_t)n, "Content-Disposition: attachment; filename=\"%s\"\r\n",
                 row.file_name);
    return rest_reply_file(x, m, fd, size, row.content_type, extra);
}

/* ---- resumable uploads ------------------------------------------------------------------------ */

#define SESSION_TTL_MS (24 * 3600 * 1000)

/* POST /{org}/{app}/media/uploads {"size":N,"contentType":"...","fileName":"..."}. */
int media_session_create(rctx *x, const http_msg *m)
{
    server *s = rest_server(x);
    cJSON *j = parse_body(x, m);
    if (!j)
        return 0;
    cJSON *sz = cJSON_GetObjectItemCaseSensitive(j, "size");
    const char *ct = jstr(j, "contentType"), *fn = jstr(j, "fileName");
    int rc = TERN_OK;
    if (!cJSON_IsNumber(sz) || sz->valuedouble < 0 || sz->valuedouble != (double)(uint64_t)sz->valuedouble)
        rc = TERN_ERR_BAD_FIELD;
    else if (sz->valuedouble == 0)
        rc = TERN_ERR_MEDIA_EMPTY;
    if (rc != TERN_OK) {
        cJSON_Delete(j);
        rest_reply_err(x, rc);
        return 0;
    }
    uint64_t total = (uint64_t)sz->valuedouble;
    if (total > media_max_bytes(x)) {
        cJSON_Delete(j);
        media_reply_too_large(x, total);
        return 0;
    }
    media_session ss = {.app = x->app.id, .total = total, .expires_ms = tern_now_ms() + SESSION_TTL_MS};
    media_safe_value(ct, ct ? strlen(ct) : 0, "application/octet-stream", ss.content_type, sizeof ss.content_type);
    media_safe_filename(fn ? fn : "", fn ? strlen(fn) : 0, ss.file_name, sizeof ss.file_name);
    cJSON_Delete(j);
    rc = media_session_add(s, &ss);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    char d[256];
    int n = snprintf(d, sizeof d, "{\"uploadId\":\"%s\",\"offset\":0,\"size\":%llu,\"expiresAt\":%lld}", ss.id,
                     (unsigned long long)total, (long long)ss.expires_ms);
    rest_reply_ok(x, d, (size_t)n, NULL);
    return 0;
}

/* The session of the path and the bytes its part holds; TERN_OK or the code. */
static int session_offset(const rctx *x, int claim, media_session *ss, uint64_t *held, int *fd, char *path,
                          size_t pathsz)
{
    if (!media_id_valid(x->conv, strlen(x->conv)))
        return TERN_ERR_MEDIA_NOT_FOUND;
    server *s = rest_server(x);
    int rc = media_session_get(s, x->app.id, x->conv, claim, ss);
    if (rc != TERN_OK)
        return rc;
    media_store *ms = media_store_of(s);
    *fd = ms->ops->part_open(ms, ss->id, path, pathsz, held);
    if (*fd < 0) {
        if (claim)
            media_session_release(s, x->app.id, ss->id, 0);
        return code_of_errno(*fd);
    }
    return TERN_OK;
}

/* GET / HEAD /{org}/{app}/media/uploads/{uploadId}: the offset held. */
int media_session_status(rctx *x, const http_msg *m)
{
    (void)m;
    media_session ss;
    uint64_t held = 0;
    int fd = -1;
    char path[1200];
    int rc = session_offset(x, 0, &ss, &held, &fd, path, sizeof path);
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return 0;
    }
    close(fd);
    char d[256], h[128];
    int n = snprintf(d, sizeof d, "{\"uploadId\":\"%s\",\"offset\":%llu,\"size\":%llu,\"expiresAt\":%lld}", ss.id,
                     (unsigned long long)held, (unsigned long long)ss.total, (long long)ss.expires_ms);
    snprintf(h, sizeof h, "Upload-Offset: %llu\r\nUpload-Length: %llu\r\n", (unsigned long long)held,
             (unsigned long long)ss.total);
    rest_reply_ok_headers(x, d, (size_t)n, h);
    return 0;
}

/* "bytes a-b/total" into its numbers; 0 or -1. */
static int content_range(tern_str v, uint64_t *a, uint64_t *b, uint64_t *total)
{
    uint64_t *out[3] = {a, b, total};
    static const char seps[3] = {'-', '/', 0};
    size_t i = 6;
    if (v.n < 6 || memcmp(v.p, "bytes ", 6) != 0)
        return -1;
    for (int k = 0; k < 3; k++) {
        uint64_t n = 0;
        size_t digits = 0;
        while (i < v.n && v.p[i] >= '0' && v.p[i] <= '9' && digits < 19) {
            n = n * 10 + (uint64_t)(v.p[i++] - '0');
            digits++;
        }
        if (!digits || (seps[k] ? i >= v.n || v.p[i] != seps[k] : i != v.n))
            return -1;
        i++;
        *out[k] = n;
    }
    return *a <= *b && *b < *total ? 0 : -1;
}

/* PUT /{org}/{app}/media/uploads/{uploadId} with Content-Range: bytes a-b/total, a the
 * offset held: the body is appended (the request handler is media_upload). */
int media_session_put_head(rctx *x, const http_msg *m, size_t *limit)
{
    uint64_t len = 0, a, b, total;
    if (media_content_length(m, &len) <= 0) {
        rest_reply_err(x, TERN_ERR_MEDIA_NO_LENGTH);
        return NET_BODY_REFUSED;
    }
    if (content_range(http_header_get(m, "Content-Range"), &a, &b, &total) != 0 || b - a + 1 != len) {
        rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL, "Content-Range must be bytes a-b/total, b - a + 1 bytes");
        return NET_BODY_REFUSED;
    }
    media_session ss;
    uint64_t held = 0;
    int fd = -1;
    char path[1200];
    int rc = session_offset(x, 1, &ss, &held, &fd, path, sizeof path);
    if (rc == TERN_OK && (total != ss.total || a != held)) {
        close(fd);
        media_session_release(rest_server(x), x->app.id, ss.id, 0);
        char d[160];
        snprintf(d, sizeof d, "the upload holds %llu of %llu bytes: send bytes %llu-", (unsigned long long)held,
                 (unsigned long long)ss.total, (unsigned long long)held);
        rest_reply_err_desc(x, total != ss.total ? TERN_ERR_BAD_FIELD : TERN_ERR_MEDIA_OFFSET, NULL, d);
        return NET_BODY_REFUSED;
    }
    if (rc != TERN_OK) {
        rest_reply_err(x, rc);
        return NET_BODY_REFUSED;
    }
    upload *u = upload_new(x, len, fd, path, ss.id, 1); /* releases the session if it fails */
    if (!u)
        return NET_BODY_REFUSED;
    u->offset0 = held;
    u->total = total;
    snprintf(u->ctype, sizeof u->ctype, "%s", ss.content_type);
    snprintf(u->fname, sizeof u->fname, "%s", ss.file_name);
    u->body = rest_body_attach(x, upload_data, upload_gone, u);
    *limit = (size_t)len;
    return NET_BODY_STREAM;
}
