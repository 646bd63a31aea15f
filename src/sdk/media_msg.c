/*
 * media_msg.c — image, audio, video and file messages in libtern: drafts built from an
 * upload or from a media id, their setters, and the accessors that read a received
 * message's media fields.
 *
 * A draft's payload is what a client SENDS (docs/sdk.md "Media messages"):
 *   TIMImageElem     {uuid, width?, height?, fileName?, thumbnail?}
 *   TIMSoundElem     {uuid, second, fileName?}
 *   TIMVideoFileElem {videoUUID, videoSecond, snapshotUUID?, snapshotWidth?,
 *                     snapshotHeight?, fileName?, thumbnail?}
 *   TIMFileElem      {uuid, fileName?}
 * kept in sdk_media_fields and written again as compact JSON after every setter. The
 * server completes the rest (URLs, sizes, imageInfoArray, formats) from its media row;
 * a received message carries them and the accessors read them from there.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/util.h"
#include "sdk/media.h"
#include "sdk/message.h"
#include "sdk/sdk_util.h"

#define THUMB_MAX_BYTES 32768u /* seed 000: content + name + thumbnail <= 32 KB (checked at send) */
#define NAME_MAX_BYTES 255

static const struct {
    const char *name;
    int type;
} TYPES[] = {
    {"TIMImageElem", TERN_MSG_IMAGE},
    {"TIMSoundElem", TERN_MSG_SOUND},
    {"TIMVideoFileElem", TERN_MSG_VIDEO},
    {"TIMFileElem", TERN_MSG_FILE},
};

int sdk_media_type_of(const char *type_name)
{
    for (size_t i = 0; type_name && i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (!strcmp(type_name, TYPES[i].name))
            return TYPES[i].type;
    return 0;
}

static const char *type_name_of(int type)
{
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (TYPES[i].type == type)
            return TYPES[i].name;
    return NULL;
}

const char *sdk_media_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* 1 for a media id as the server makes them or an Easemob-style uuid. */
int sdk_media_id_ok(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char ch = id[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_'))
            return 0;
    }
    return n > 0 && n <= 128;
}

/* ---- fields ------------------------------------------------------------------------------ */

static char *media_dup(const char *s)
{
    return s ? tern_strdup(s) : NULL;
}

void sdk_media_fields_free(sdk_media_fields *f)
{
    if (!f)
        return;
    tern_free(f->uuid);
    tern_free(f->url);
    tern_free(f->file_name);
    tern_free(f->thumbnail);
    tern_free(f->snapshot_uuid);
    tern_free(f->snapshot_url);
    for (int i = 0; i < 3; i++)
        tern_free(f->info_url[i]);
    tern_free(f);
}

sdk_media_fields *sdk_media_fields_dup(const sdk_media_fields *f)
{
    if (!f)
        return NULL;
    sdk_media_fields *d = tern_malloc(sizeof *d);
    *d = *f;
    d->uuid = media_dup(f->uuid);
    d->url = media_dup(f->url);
    d->file_name = media_dup(f->file_name);
    d->thumbnail = media_dup(f->thumbnail);
    d->snapshot_uuid = media_dup(f->snapshot_uuid);
    d->snapshot_url = media_dup(f->snapshot_url);
    for (int i = 0; i < 3; i++)
        d->info_url[i] = media_dup(f->info_url[i]);
    return d;
}

static char *jstr(const cJSON *o, const char *name)
{
    return media_dup(tern_json_str(o, name));
}

static unsigned juint(const cJSON *o, const char *name)
{
    long long v = 0;
    return tern_json_get_int(o, name, 0, 0xffffffffLL, &v) == TERN_JSON_OK ? (unsigned)v : 0;
}

static uint64_t ju64(const cJSON *o, const char *name)
{
    uint64_t v = 0;
    return tern_json_get_u64(o, name, &v) == TERN_JSON_OK ? v : 0;
}

sdk_media_fields *sdk_media_fields_parse(int mtype, const cJSON *p)
{
    if (!cJSON_IsObject(p))
        return NULL;
    sdk_media_fields *f = tern_calloc(1, sizeof *f);
    f->file_name = jstr(p, "fileName");
    f->thumbnail = jstr(p, "thumbnail");
    switch (mtype) {
    case TERN_MSG_IMAGE: {
        f->uuid = jstr(p, "uuid");
        f->width = juint(p, "width"); /* a draft's own values */
        f->height = juint(p, "height");
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "imageInfoArray"), *e;
        cJSON_ArrayForEach(e, arr)
        {
            long long t;
            if (tern_json_get_int(e, "type", 0, 2, &t) != TERN_JSON_OK || f->info_has[t])
                continue;
            f->info_has[t] = 1;
            f->info_w[t] = juint(e, "width");
            f->info_h[t] = juint(e, "height");
            f->info_size[t] = ju64(e, "size");
            f->info_url[t] = jstr(e, "url");
        }
        if (f->info_has[0]) {
            if (!f->width)
                f->width = f->info_w[0];
            if (!f->height)
                f->height = f->info_h[0];
            f->size = f->info_size[0];
            f->url = media_dup(f->info_url[0]);
        }
        break;
    }
    case TERN_MSG_SOUND:
        f->uuid = jstr(p, "uuid");
        f->url = jstr(p, "url");
        f->size = ju64(p, "size");
        f->seconds = juint(p, "second");
        f->has_seconds = 1;
        break;
    case TERN_MSG_VIDEO:
        f->uuid = jstr(p, "videoUUID");
        f->url = jstr(p, "videoUrl");
        f->size = ju64(p, "videoSize");
        f->seconds = juint(p, "videoSecond");
        f->has_seconds = 1;
        f->snapshot_uuid = jstr(p, "snapshotUUID");
        f->snapshot_url = jstr(p, "snapshotUrl");
        f->width = juint(p, "snapshotWidth");
        f->height = juint(p, "snapshotHeight");
        break;
    default: /* TERN_MSG_FILE */
        f->uuid = jstr(p, "uuid");
        f->url = jstr(p, "fileUrl");
        f->size = ju64(p, "fileSize");
        break;
    }
    return f;
}

/* ---- drafts ------------------------------------------------------------------------------ */

static void put_str(tern_buf *b, const char *key, const char *v)
{
    if (!v)
        return;
    tern_buf_printf(b, "%s\"%s\":", b->len > 1 ? "," : "", key);
    tern_buf_json_str(b, v, strlen(v));
}

static void put_uint(tern_buf *b, const char *key, unsigned v)
{
    tern_buf_printf(b, "%s\"%s\":%u", b->len > 1 ? "," : "", key, v);
}

/* Writes the payload a client sends from m's fields (drafts only). */
static void rebuild_payload(tern_message *m)
{
    const sdk_media_fields *f = m->media;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_putc(&b, '{');
    switch (m->type) {
    case TERN_MSG_IMAGE:
        put_str(&b, "uuid", f->uuid);
        if (f->width && f->height) {
            put_uint(&b, "width", f->width);
            put_uint(&b, "height", f->height);
        }
        put_str(&b, "fileName", f->file_name);
        put_str(&b, "thumbnail", f->thumbnail);
        break;
    case TERN_MSG_SOUND:
        put_str(&b, "uuid", f->uuid);
        put_uint(&b, "second", f->seconds);
        put_str(&b, "fileName", f->file_name);
        break;
    case TERN_MSG_VIDEO:
        put_str(&b, "videoUUID", f->uuid);
        put_uint(&b, "videoSecond", f->seconds);
        put_str(&b, "snapshotUUID", f->snapshot_uuid);
        if (f->width && f->height) {
            put_uint(&b, "snapshotWidth", f->width);
            put_uint(&b, "snapshotHeight", f->height);
        }
        put_str(&b, "fileName", f->file_name);
        put_str(&b, "thumbnail", f->thumbnail);
        break;
    default:
        put_str(&b, "uuid", f->uuid);
        put_str(&b, "fileName", f->file_name);
        break;
    }
    tern_buf_putc(&b, '}');
    tern_free(atomic_exchange(&m->payload_json, tern_buf_steal(&b, NULL)));
}

/* A media draft of type mtype naming media id uuid, from the client's user. */
static tern_message *media_draft(tern_client *c, int mtype, const char *uuid)
{
    if (!c || !uuid || !sdk_media_id_ok(uuid))
        return NULL;
    tern_message *m = sdk_msg_new_bare_draft(tern_client_user(c), mtype, type_name_of(mtype));
    if (!m)
        return NULL;
    m->media = tern_calloc(1, sizeof *m->media);
    m->media->uuid = tern_strdup(uuid);
    m->media->has_seconds = mtype == TERN_MSG_SOUND || mtype == TERN_MSG_VIDEO;
    rebuild_payload(m);
    return m;
}

TERN_API tern_message *tern_create_image_message_by_media_id(tern_client *c, const char *media_id)
{
    return media_draft(c, TERN_MSG_IMAGE, media_id);
}

TERN_API tern_message *tern_create_file_message_by_media_id(tern_client *c, const char *media_id)
{
    return media_draft(c, TERN_MSG_FILE, media_id);
}

TERN_API tern_message *tern_create_audio_message_by_media_id(tern_client *c, const char *media_id, unsigned seconds)
{
    tern_message *m = media_draft(c, TERN_MSG_SOUND, media_id);
    if (m) {
        m->media->seconds = seconds;
        rebuild_payload(m);
    }
    return m;
}

TERN_API tern_message *tern_create_video_message_by_media_id(tern_client *c, const char *video_id, unsigned seconds,
                                                             const char *snapshot_id)
{
    if (snapshot_id && !sdk_media_id_ok(snapshot_id))
        return NULL;
    tern_message *m = media_draft(c, TERN_MSG_VIDEO, video_id);
    if (m) {
        m->media->seconds = seconds;
        m->media->snapshot_uuid = media_dup(snapshot_id);
        rebuild_payload(m);
    }
    return m;
}

tern_message *sdk_media_draft_from_upload(tern_client *c, const sdk_xfer *x)
{
    static const int types[] = {[XK_IMAGE] = TERN_MSG_IMAGE,
                                [XK_FILE] = TERN_MSG_FILE,
                                [XK_AUDIO] = TERN_MSG_SOUND,
                                [XK_VIDEO] = TERN_MSG_VIDEO};
    tern_message *m = media_draft(c, types[x->kind], x->res[0].media_id);
    if (!m)
        return NULL;
    sdk_media_fields *f = m->media;
    const char *name = sdk_media_basename(x->path[0]);
    if (strlen(name) <= NAME_MAX_BYTES)
        f->file_name = tern_strdup(name);
    f->size = x->res[0].size;
    f->seconds = x->seconds;
    if (x->kind == XK_IMAGE) {
        f->width = x->res[0].width;
        f->height = x->res[0].height;
    } else if (x->kind == XK_VIDEO && x->nfiles == 2) {
        f->snapshot_uuid = media_dup(x->res[1].media_id);
        f->width = x->res[1].width;
        f->height = x->res[1].height;
    }
    rebuild_payload(m);
    return m;
}

/* ---- setters ----------------------------------------------------------------------------- */

/* m is a media draft (of one of the types in mask, a bit per tern_msg_type). */
static int media_draft_of(const tern_message *m, unsigned mask)
{
    return m && m->media && atomic_load(&((tern_message *)m)->status) == TERN_MSG_STATUS_DRAFT &&
           ((mask >> m->type) & 1);
}

#define ANY_MEDIA ((1u << TERN_MSG_IMAGE) | (1u << TERN_MSG_SOUND) | (1u << TERN_MSG_VIDEO) | (1u << TERN_MSG_FILE))

TERN_API int tern_message_set_media_size(tern_message *m, unsigned width, unsigned height)
{
    if (!media_draft_of(m, (1u << TERN_MSG_IMAGE) | (1u << TERN_MSG_VIDEO)) || !width || !height)
        return TERN_ERR_SDK_INVALID_ARG;
    m->media->width = width;
    m->media->height = height;
    rebuild_payload(m);
    return TERN_OK;
}

TERN_API int tern_message_set_media_file_name(tern_message *m, const char *name)
{
    if (!media_draft_of(m, ANY_MEDIA) || !name || !*name || !sdk_str_ok(name, NAME_MAX_BYTES, 1))
        return TERN_ERR_SDK_INVALID_ARG;
    tern_free(m->media->file_name);
    m->media->file_name = tern_strdup(name);
    rebuild_payload(m);
    return TERN_OK;
}

TERN_API int tern_message_set_media_thumbnail(tern_message *m, const void *data, size_t len)
{
    if (!media_draft_of(m, (1u << TERN_MSG_IMAGE) | (1u << TERN_MSG_VIDEO)) || len > THUMB_MAX_BYTES || (len && !data))
        return TERN_ERR_SDK_INVALID_ARG;
    char *b64 = NULL;
    if (len) {
        size_t n = (len + 2) / 3 * 4 + 1;
        b64 = tern_malloc(n);
        tern_base64_encode(data, len, b64, n);
    }
    tern_free(m->media->thumbnail);
    m->media->thumbnail = b64;
    rebuild_payload(m);
    return TERN_OK;
}

TERN_API int tern_message_set_media_seconds(tern_message *m, unsigned seconds)
{
    if (!media_draft_of(m, (1u << TERN_MSG_SOUND) | (1u << TERN_MSG_VIDEO)))
        return TERN_ERR_SDK_INVALID_ARG;
    m->media->seconds = seconds;
    rebuild_payload(m);
    return TERN_OK;
}

/* ---- accessors --------------------------------------------------------------------------- */

#define FIELD(m, f, dflt) ((m) && (m)->media ? (m)->media->f : (dflt))

TERN_API const char *tern_message_media_id(const tern_message *m)
{
    return FIELD(m, uuid, NULL);
}
TERN_API const char *tern_message_media_url(const tern_message *m)
{
    return FIELD(m, url, NULL);
}
TERN_API uint64_t tern_message_media_size(const tern_message *m)
{
    return FIELD(m, size, 0);
}
TERN_API const char *tern_message_media_file_name(const tern_message *m)
{
    return FIELD(m, file_name, NULL);
}
TERN_API unsigned tern_message_media_width(const tern_message *m)
{
    return FIELD(m, width, 0);
}
TERN_API unsigned tern_message_media_height(const tern_message *m)
{
    return FIELD(m, height, 0);
}
TERN_API unsigned tern_message_media_seconds(const tern_message *m)
{
    return FIELD(m, seconds, 0);
}
TERN_API const char *tern_message_media_thumbnail(const tern_message *m)
{
    return FIELD(m, thumbnail, NULL);
}
TERN_API const char *tern_message_video_snapshot_id(const tern_message *m)
{
    return FIELD(m, snapshot_uuid, NULL);
}
TERN_API const char *tern_message_video_snapshot_url(const tern_message *m)
{
    return FIELD(m, snapshot_url, NULL);
}

TERN_API int tern_message_image_info(const tern_message *m, int type, unsigned *width, unsigned *height, uint64_t *size,
                                     const char **url)
{
    if (!m || !m->media || m->type != TERN_MSG_IMAGE || type < 0 || type > 2 || !m->media->info_has[type])
        return -1;
    const sdk_media_fields *f = m->media;
    if (width)
        *width = f->info_w[type];
    if (height)
        *height = f->info_h[type];
    if (size)
        *size = f->info_size[type];
    if (url)
        *url = f->info_url[type];
    return 0;
}
