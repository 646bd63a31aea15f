/*
 * media_thumb.c — GET|HEAD /{org}/{app}/media/{id}?thumb=198|720 (issue 9, "Images";
 * docs/rest-api.md "Media", docs/media.md "Thumbnails"): the image's thumbnail from the
 * media store, or, when it is not made yet, made first on the thumbnailer's pool
 * (media/thumb.h) while the request waits; the I/O loop never decodes. Apart from
 * rest/media.c, whose download calls media_thumb_get once the row is found and allowed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "media/media.h"
#include "media/thumb.h"
#include "rest/rest.h"

/* What an answer made after the thumbnailer ran needs of the request. */
typedef struct thumb_wait {
    int64_t app;
    char tid[96];
    char etag[96];
    int method, keep_alive;
    char range[128]; /* the Range header ("" none) */
    int has_range;
} thumb_wait;

static void thumb_headers(const char *etag, char *out, size_t outsz)
{
    snprintf(out, outsz, "ETag: %s\r\nX-Content-Type-Options: nosniff\r\nCache-Control: private\r\n", etag);
}

static void thumb_ready(void *ud, int rc)
{
    rest_op *r = ud;
    r->op.result = rc;
    rest_op_done(r);
}

static void finish_thumb(rest_op *r)
{
    thumb_wait *t = r->ud;
    if (r->op.result != TERN_OK) {
        rest_reply_err(&r->x, r->op.result);
        return;
    }
    media_store *ms = media_store_of(r->s);
    uint64_t size = 0;
    int fd = ms->ops->open_read(ms, t->app, t->tid, &size);
    if (fd < 0) {
        rest_reply_err(&r->x, fd == -ENOENT ? TERN_ERR_MEDIA_NO_THUMB : TERN_ERR_INTERNAL);
        return;
    }
    http_msg m = {.method = t->method, .keep_alive = t->keep_alive};
    if (t->has_range) {
        m.headers[0] = (http_header){{"Range", 5}, {t->range, strlen(t->range)}};
        m.nheaders = 1;
    }
    char extra[256];
    thumb_headers(t->etag, extra, sizeof extra);
    rest_op_reply_file(r, &m, fd, size, "image/jpeg", extra);
}

/* The thumbnail of row at box: served from the store, or made first on the
 * thumbnailer's pool (the answer comes when it is done). */
static int thumb_download(rctx *x, const http_msg *m, const store_media *row, int box)
{
    if (!row->img_format || (row->thumbs & STORE_MEDIA_THUMB_NEVER) || row->width < 1 || row->height < 1) {
        rest_reply_err(x, TERN_ERR_MEDIA_NO_THUMB);
        return 0;
    }
    thumb_wait t = {.app = x->app.id, .method = m->method, .keep_alive = x->keep_alive};
    thumb_store_id(row->id, box, t.tid, sizeof t.tid);
    snprintf(t.etag, sizeof t.etag, "\"%s-t%d\"", row->sha256, box);
    if (media_etag_match(m, t.etag)) {
        char h[160];
        snprintf(h, sizeof h, "ETag: %s\r\n", t.etag);
        rest_reply_status(x, 304, h);
        return 0;
    }
    media_store *ms = media_store_of(rest_server(x));
    int bit = box == THUMB_SMALL ? STORE_MEDIA_THUMB_198 : STORE_MEDIA_THUMB_720;
    if (row->thumbs & bit) {
        uint64_t size = 0;
        int fd = ms->ops->open_read(ms, x->app.id, t.tid, &size);
        if (fd >= 0) {
            char extra[256];
            thumb_headers(t.etag, extra, sizeof extra);
            return rest_reply_file(x, m, fd, size, "image/jpeg", extra);
        }
    }
    tern_str rg = http_header_get(m, "Range");
    if (rg.p && rg.n < sizeof t.range) {
        memcpy(t.range, rg.p, rg.n);
        t.range[rg.n] = 0;
        t.has_range = 1;
    }
    rest_op *r = rest_op_new(x, finish_thumb);
    thumb_wait *tw = tern_malloc(sizeof *tw);
    *tw = t;
    r->ud = tw;
    r->free_ud = tern_free;
    int rc = thumb_request(media_thumb_pool(rest_server(x)), x->app.id, row->id, row->width, row->height, thumb_ready, r);
    if (rc != TERN_OK) {
        rest_op_free(r);
        rest_reply_err(x, rc);
        return 0;
    }
    return 1;
}

/* The thumb query: 0 when absent, 198 or 720, or -1 (answered 400). */
static int thumb_query(const rctx *x, const http_msg *m)
{
    char v[8];
    int n = http_query_get(m->query, "thumb", v, sizeof v);
    if (n == -1)
        return 0;
    if (n == 3 && memcmp(v, "198", 3) == 0)
        return THUMB_SMALL;
    if (n == 3 && memcmp(v, "720", 3) == 0)
        return THUMB_LARGE;
    rest_reply_err_desc(x, TERN_ERR_BAD_FIELD, NULL, "thumb must be 198 or 720");
    return -1;
}

int media_thumb_get(rctx *x, const http_msg *m, const store_media *row, int box)
{
    if (!box)
        box = thumb_query(x, m);
    if (box == 0)
        return -1;
    return box < 0 ? 0 : thumb_download(x, m, row, box);
}
