/*
 * media_msg.c — the stored form of a media message, completed from its media rows at
 * send time; see media_msg.h and docs/protocol.md §4 "Media messages".
 *
 * This runs once per media send on the sender's loop (or the REST caller's), with that
 * loop's store reader: one row lookup per media id (two for a video with a snapshot), no
 * file I/O. The delivered payload then travels the ordinary path (one encode, shared by
 * every recipient), so fan-out costs nothing more for a media message.
 */
#include "media/media_msg.h"

#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "core/imgsize.h"
#include "core/json.h"
#include "media/media_url.h"
#include "tern/errors.h"

typedef struct ctx {
    server *s;
    store_reader *rd;
    int64_t app, now_ms;
    app_info ai;
    tern_buf *out;
    tern_buf url; /* scratch for one URL */
} ctx;

/* The row of id (a media id string or NULL/absent): TERN_OK, 7006, 7002 or 5002. */
static int row_of(ctx *c, const char *id, store_media *m)
{
    if (!id || !tern_elem_media_id_ok(id, strlen(id)))
        return TERN_ERR_MEDIA_NOT_FOUND;
    int rc = store_media_get(c->rd, c->app, id, m);
    if (rc == TERN_ERR_NOT_FOUND)
        return TERN_ERR_MEDIA_NOT_FOUND;
    if (rc != TERN_OK)
        return TERN_ERR_STORE;
    return m->expires_ms <= c->now_ms ? TERN_ERR_MEDIA_EXPIRED : TERN_OK;
}

static void put_key(ctx *c, int first, const char *name)
{
    tern_buf_puts(c->out, first ? "\"" : ",\"");
    tern_buf_puts(c->out, name);
    tern_buf_puts(c->out, "\":");
}

static void put_str(ctx *c, const char *name, const char *v)
{
    put_key(c, 0, name);
    tern_buf_json_str(c->out, v, strlen(v));
}

static void put_int(ctx *c, const char *name, long long v)
{
    put_key(c, 0, name);
    tern_buf_printf(c->out, "%lld", v);
}

/* Opens the stored object with the row's id: {"key":"<id>". */
static void put_head(ctx *c, const char *key, const store_media *m)
{
    tern_buf_putc(c->out, '{');
    put_key(c, 1, key);
    tern_buf_json_str(c->out, m->id, strlen(m->id));
}

/* "name":"<signed URL of the media row m (thumb 0/198/720)>" */
static void put_url(ctx *c, const char *name, const store_media *m, int thumb)
{
    tern_buf_reset(&c->url);
    media_url_append(&c->url, c->s->cfg.public_url, &c->ai, m->id, thumb, m->expires_ms / 1000);
    put_key(c, 0, name);
    tern_buf_json_str(c->out, c->url.data ? c->url.data : "", c->url.len);
}

/* The app's value of an integer field, else dflt. */
static long long int_or(const cJSON *p, const char *name, long long dflt)
{
    long long v;
    return tern_json_get_int(p, name, 0, TERN_JSON_MAX_SAFE_INT, &v) == TERN_JSON_OK ? v : dflt;
}

static const char *str_or(const cJSON *p, const char *name, const char *dflt)
{
    const char *v = tern_json_str(p, name);
    return v ? v : dflt;
}

/* One imageInfoArray entry. */
static void put_info(ctx *c, int first, int type, int w, int h, uint64_t size, const store_media *m, int thumb)
{
    tern_buf_printf(c->out, "%s{\"type\":%d,\"width\":%d,\"height\":%d,\"size\":%llu", first ? "" : ",", type, w, h,
                    (unsigned long long)size);
    put_url(c, "url", m, thumb);
    tern_buf_putc(c->out, '}');
}

static int image(ctx *c, const cJSON *p)
{
    store_media m;
    int rc = row_of(c, tern_json_str(p, "uuid"), &m);
    if (rc != TERN_OK)
        return rc;
    if (!m.img_format || m.width < 1 || m.height < 1)
        return TERN_ERR_MEDIA_NOT_IMAGE;
    put_head(c, "uuid", &m);
    put_int(c, "imageFormat", m.img_format);
    put_str(c, "fileName", str_or(p, "fileName", m.file_name));
    put_str(c, "thumbnail", str_or(p, "thumbnail", ""));
    put_int(c, "animated", m.animated ? 1 : 0); /* 0/1, as the upload's answer */
    put_key(c, 0, "imageInfoArray");
    tern_buf_putc(c->out, '[');
    /* Type 0 shows the app's dimensions (seed 000: values the app sets win); the
     * thumbnails are made from the pixels, so their sizes follow the header's. */
    put_info(c, 1, 0, (int)int_or(p, "width", m.width), (int)int_or(p, "height", m.height), m.size, &m, 0);
    if (!(m.thumbs & STORE_MEDIA_THUMB_NEVER)) {
        static const int box[2] = {198, 720};
        for (int i = 0; i < 2; i++) {
            int tw, th;
            tern_img_fit(m.width, m.height, box[i], &tw, &th);
            /* The row keeps no thumbnail's byte count: size 0 (docs/protocol.md). */
            put_info(c, 0, i + 1, tw, th, 0, &m, box[i]);
        }
    }
    tern_buf_puts(c->out, "]}");
    return TERN_OK;
}

static int sound(ctx *c, const cJSON *p)
{
    store_media m;
    int rc = row_of(c, tern_json_str(p, "uuid"), &m);
    if (rc != TERN_OK)
        return rc;
    put_head(c, "uuid", &m);
    put_url(c, "url", &m, 0);
    put_int(c, "size", (long long)m.size);
    put_int(c, "second", int_or(p, "second", 0));
    put_str(c, "fileName", str_or(p, "fileName", m.file_name));
    tern_buf_putc(c->out, '}');
    return TERN_OK;
}

/* videoFormat: the subtype of a video/... content type ("mp4"), else the file name's
 * extension (lower case, 1-8 alphanumerics), else "". */
static void video_format(const store_media *m, char *out, size_t cap)
{
    const char *src = NULL;
    if (!strncmp(m->content_type, "video/", 6))
        src = m->content_type + 6;
    else if ((src = strrchr(m->file_name, '.')) != NULL)
        src++;
    size_t n = 0;
    for (; src && src[n] && n + 1 < cap && n < 8; n++) {
        char ch = src[n];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            break;
        out[n] = ch;
    }
    /* "video/x-matroska", a name like "a.tar.gz~": keep only a clean token. */
    if (src && src[n] && src[n] != ';')
        n = 0;
    out[n] = 0;
}

static int video(ctx *c, const cJSON *p)
{
    store_media v, sn;
    int rc = row_of(c, tern_json_str(p, "videoUUID"), &v);
    const char *sid = tern_json_str(p, "snapshotUUID");
    if (rc == TERN_OK && sid) {
        rc = row_of(c, sid, &sn);
        if (rc == TERN_OK && (!sn.img_format || sn.width < 1 || sn.height < 1))
            rc = TERN_ERR_MEDIA_NOT_IMAGE;
    }
    if (rc != TERN_OK)
        return rc;
    char fmt[16];
    video_format(&v, fmt, sizeof fmt);
    put_head(c, "videoUUID", &v);
    put_url(c, "videoUrl", &v, 0);
    put_int(c, "videoSize", (long long)v.size);
    put_int(c, "videoSecond", int_or(p, "videoSecond", 0));
    put_str(c, "videoFormat", fmt);
    put_str(c, "fileName", str_or(p, "fileName", v.file_name));
    put_str(c, "thumbnail", str_or(p, "thumbnail", ""));
    put_str(c, "snapshotUUID", sid ? sn.id : "");
    if (sid)
        put_url(c, "snapshotUrl", &sn, 0);
    else
        put_str(c, "snapshotUrl", "");
    put_int(c, "snapshotWidth", sid ? int_or(p, "snapshotWidth", sn.width) : 0);
    put_int(c, "snapshotHeight", sid ? int_or(p, "snapshotHeight", sn.height) : 0);
    tern_buf_putc(c->out, '}');
    return TERN_OK;
}

static int file(ctx *c, const cJSON *p)
{
    store_media m;
    int rc = row_of(c, tern_json_str(p, "uuid"), &m);
    if (rc != TERN_OK)
        return rc;
    put_head(c, "uuid", &m);
    put_str(c, "fileName", str_or(p, "fileName", m.file_name));
    put_url(c, "fileUrl", &m, 0);
    put_int(c, "fileSize", (long long)m.size);
    tern_buf_putc(c->out, '}');
    return TERN_OK;
}

int media_msg_complete(server *s, store_reader *rd, int64_t app, const tern_msg *m, int64_t now_ms, tern_buf *out)
{
    ctx c = {.s = s, .rd = rd, .app = app, .now_ms = now_ms, .out = out};
    if (apps_find_id(s, app, &c.ai) != 0)
        return TERN_ERR_MEDIA_NOT_FOUND; /* an app being created: it has no media yet */
    cJSON *p = NULL;
    if (tern_json_parse(m->payload.data, m->payload.len, &p) != TERN_OK || !cJSON_IsObject(p)) {
        cJSON_Delete(p);
        return TERN_ERR_BAD_FIELD;
    }
    tern_buf_init(&c.url, 0);
    const char *t = m->elem->name;
    int rc = !strcmp(t, "TIMImageElem")       ? image(&c, p)
             : !strcmp(t, "TIMSoundElem")     ? sound(&c, p)
             : !strcmp(t, "TIMVideoFileElem") ? video(&c, p)
             : !strcmp(t, "TIMFileElem")      ? file(&c, p)
                                              : TERN_ERR_UNSUPPORTED_TYPE;
    tern_buf_free(&c.url);
    cJSON_Delete(p);
    return rc;
}
