/*
 * chatfiles.c — Easemob's file API (issue 9; docs/rest-api.md "Files (Easemob
 * chatfiles)"):
 *   POST /{org}/{app}/chatfiles          multipart/form-data, the file in the part `file`
 *   GET|HEAD /{org}/{app}/chatfiles/{uuid} the same file as /media/{id}
 * A chatfiles upload is a media upload (rest/media_upload.h) whose body is parsed on the
 * fly by core/multipart.h: the bytes of the part named `file` go to the temporary file
 * as they arrive, never whole in memory; the fields Easemob documents beside it
 * (`thumbnail-height`, `thumbnail-width`) are read and ignored, any other is refused
 * (7012). The answer is Easemob's: entities [{uuid, type "chatfile", share-secret}],
 * uuid being the media id and share-secret a random secret stored with the row, which
 * opens the file without a token (rest/media_auth.c).
 *
 * Limits: Content-Length is required and may exceed the app's file limit by at most
 * CHATFILES_FORM_SLACK (the form's own bytes), checked at the head before any body byte
 * (413 7003); the file part itself is counted against the limit as it streams (413 7003,
 * the rest of the body dropped).
 */
#include <string.h>
#include <strings.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/multipart.h"
#include "media/thumb.h"
#include "rest/media_upload.h"

/* Bytes of a form beyond its file: part headers, delimiters, the small fields. */
#define CHATFILES_FORM_SLACK (64 * 1024)
/* The longest value of an ignored field (thumbnail-height: a number). */
#define CHATFILES_FIELD_MAX 64
/* At most this many parts: the file and Easemob's two fields, with room for repeats. */
#define CHATFILES_MAX_PARTS 8

typedef struct chatfile {
    tern_mp mp; /* about 16 KiB: the parser holds one part's header block at most */
    upload *u;
    uint64_t limit;
    int in_file;    /* in the part `file` */
    int seen_file;  /* that part began */
    size_t field_n; /* bytes of the ignored field being read */
    int code;       /* why a callback stopped the parse */
} chatfile;

static int fail(chatfile *cf, int code, const char *desc)
{
    cf->code = code;
    snprintf(cf->u->desc, sizeof cf->u->desc, "%s", desc);
    return -1;
}

static int name_is(const tern_mp_part *p, const char *name)
{
    size_t n = strlen(name);
    return p->name && p->name_len == n && memcmp(p->name, name, n) == 0;
}

static int part_begin(void *ud, const tern_mp_part *p)
{
    chatfile *cf = ud;
    upload *u = cf->u;
    cf->field_n = 0;
    if (name_is(p, "thumbnail-height") || name_is(p, "thumbnail-width"))
        return 0; /* Easemob's thumbnail size: Tern's thumbnails have fixed sizes */
    if (!name_is(p, "file")) {
        char d[160];
        snprintf(d, sizeof d, "form field \"%.*s\" is not file, thumbnail-height or thumbnail-width",
                 (int)(p->name_len < 64 ? p->name_len : 64), p->name ? p->name : "");
        for (char *c = d; *c; c++) /* a name is network bytes: keep the text printable */
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                *c = '?';
        return fail(cf, TERN_ERR_MEDIA_FORM_FIELD, d);
    }
    if (cf->seen_file)
        return fail(cf, TERN_ERR_MEDIA_FORM_FIELD, "more than one part named file");
    cf->seen_file = cf->in_file = 1;
    media_safe_value(p->content_type, p->content_type_len, "application/octet-stream", u->ctype, sizeof u->ctype);
    media_safe_filename(p->filename ? p->filename : "", p->filename_len, u->fname, sizeof u->fname);
    return 0;
}

static int part_data(void *ud, const char *data, size_t n)
{
    chatfile *cf = ud;
    if (!cf->in_file) {
        cf->field_n += n;
        return cf->field_n > CHATFILES_FIELD_MAX ? fail(cf, TERN_ERR_MEDIA_FORM_FIELD, "form field over 64 bytes") : 0;
    }
    if (cf->u->file_bytes + n > cf->limit) {
        char d[160];
        snprintf(d, sizeof d, "file over the limit of %llu bytes", (unsigned long long)cf->limit);
        return fail(cf, TERN_ERR_MEDIA_TOO_LARGE, d);
    }
    upload_append(cf->u, data, n);
    return 0;
}

static int part_end(void *ud)
{
    chatfile *cf = ud;
    cf->in_file = 0;
    return 0;
}

static const tern_mp_callbacks mp_cb = {.part_begin = part_begin, .part_data = part_data, .part_end = part_end};

/* The multipart failure rc as the upload's code. */
static int mp_code(chatfile *cf, int rc)
{
    if (rc == TERN_MP_ESTOPPED)
        return cf->code;
    snprintf(cf->u->desc, sizeof cf->u->desc, "multipart body: %s", tern_mp_strerror(rc));
    return TERN_ERR_MEDIA_MULTIPART;
}

static int cf_data(upload *u, const char *p, size_t n)
{
    chatfile *cf = u->kind_ud;
    int rc = tern_mp_feed(&cf->mp, p, n);
    return rc < 0 ? mp_code(cf, rc) : TERN_OK;
}

static int cf_end(upload *u)
{
    chatfile *cf = u->kind_ud;
    int rc = tern_mp_finish(&cf->mp);
    if (rc != TERN_MP_OK)
        return mp_code(cf, rc);
    if (!cf->seen_file)
        return TERN_ERR_MEDIA_NO_FILE;
    return u->file_bytes ? TERN_OK : TERN_ERR_MEDIA_EMPTY;
}

static void cf_answer(rest_op *r, upload *u)
{
    tern_buf d;
    tern_buf_init(&d, 0);
    tern_buf_printf(&d, "\"entities\":[{\"uuid\":\"%s\",\"type\":\"chatfile\",\"share-secret\":\"%s\"}]", u->id,
                    u->share_secret);
    rest_reply_members(&r->x, d.data, d.len);
    tern_buf_free(&d);
}

static const upload_kind chatfile_kind = {.data = cf_data, .end = cf_end, .answer = cf_answer, .free = tern_free};

int chatfiles_upload_head(rctx *x, const http_msg *m, size_t *limit)
{
    uint64_t len = 0, max = media_max_bytes(x);
    if (media_content_length(m, &len) <= 0) { /* chunked, or no usable length */
        rest_reply_err(x, TERN_ERR_MEDIA_NO_LENGTH);
        return NET_BODY_REFUSED;
    }
    if (len > max + CHATFILES_FORM_SLACK) {
        media_reply_too_large(x, 0);
        return NET_BODY_REFUSED;
    }
    char boundary[TERN_MP_BOUNDARY_MAX + 1];
    tern_str ct = http_header_get(m, "Content-Type");
    int bn = tern_mp_boundary(ct.p ? ct.p : "", ct.n, boundary, sizeof boundary);
    if (bn < 0) {
        char d[160];
        snprintf(d, sizeof d, "Content-Type must be multipart/form-data with a boundary: %s", tern_mp_strerror(bn));
        rest_reply_err_desc(x, TERN_ERR_MEDIA_MULTIPART, NULL, d);
        return NET_BODY_REFUSED;
    }
    upload *u = media_upload_open(x, len);
    if (!u)
        return NET_BODY_REFUSED;
    chatfile *cf = tern_calloc(1, sizeof *cf);
    cf->u = u;
    cf->limit = max;
    u->kind = &chatfile_kind;
    u->kind_ud = cf;
    random_hex(u->share_secret, 16);
    snprintf(u->ctype, sizeof u->ctype, "application/octet-stream");
    snprintf(u->fname, sizeof u->fname, "file");
    tern_mp_init(&cf->mp, boundary, CHATFILES_MAX_PARTS, &mp_cb, cf);
    return media_upload_attach(x, u, limit);
}

int chatfiles_download(rctx *x, const http_msg *m)
{
    /* Easemob's `thumbnail: true` asks for the thumbnail: the 198-px one (Tencent's
     * imageInfoArray type 1); 404 7020 when the file has none. */
    tern_str t = http_header_get(m, "thumbnail");
    int thumb = t.n == 4 && strncasecmp(t.p, "true", 4) == 0;
    return media_download_box(x, m, thumb ? THUMB_SMALL : 0);
}
