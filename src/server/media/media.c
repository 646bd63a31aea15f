/*
 * media.c — the media service (media.h): the store's setup and the tmp clean-up at
 * start, media ids, file name and type rules, and the expiry sweeper. The sweeper is a
 * timer on the control loop (a quarter of the ttl, 250 ms..60 s); each tick (unless a sweep still runs) queues one
 * sweep on libuv's pool, which lists expired rows through its own store reader, removes each file, then deletes the
 * rows through the store's writer and waits for the commit. A file goes before its row: a crash in between leaves an
 * expired row whose file is gone, which downloads already refuse (7002) and the next sweep finishes. A file is swept
 * once it has been expired for min(ttl, 1 day): until then its download answers 7002 (expired), after that 7006 (not
 * found).
 */
#include "media/media.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "media/thumb.h"

#define SWEEP_BATCH 256
/* How long after its expiry an expired file and row stay (at most the ttl itself). */
#define MEDIA_GRACE_MS (86400 * 1000)

typedef struct media_service {
    media_store *ms;
    thumb_pool *thumbs; /* the thumbnailer's workers (thumb.h) */
    server *s;
    uv_timer_t timer;
    uv_work_t work;
    int timer_on, busy, stopping;
    store_reader *rd; /* the sweeper's own (used on the pool, one sweep at a time) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t waiting;      /* delete ops not yet committed */
    pthread_mutex_t smu; /* resumable sessions */
    media_session *sessions;
    size_t nsessions;
} media_service;

int media_init(server *s)
{
    char dir[1100];
    if (s->cfg.media_dir[0])
        snprintf(dir, sizeof dir, "%s", s->cfg.media_dir);
    else
        snprintf(dir, sizeof dir, "%s/media", s->cfg.data);
    media_service *m = tern_calloc(1, sizeof *m);
    m->s = s;
    m->ms = media_store_local_new(dir);
    if (!m->ms) {
        tern_free(m);
        return -1;
    }
    m->ms->ops->clean_tmp(m->ms);
    m->thumbs = thumb_pool_new(s, m->ms, s->cfg.thumb_workers, s->cfg.thumb_queue);
    if (!m->thumbs) {
        m->ms->ops->free(m->ms);
        tern_free(m);
        return -1;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    pthread_mutex_init(&m->smu, NULL);
    m->sessions = tern_calloc(MEDIA_MAX_SESSIONS, sizeof(media_session));
    s->media = m;
    return 0;
}

media_store *media_store_of(server *s)
{
    return s->media->ms;
}

thumb_pool *media_thumb_pool(server *s)
{
    return s->media ? s->media->thumbs : NULL;
}

void media_image_committed(server *s, int64_t app, const char *id, const media_image *img)
{
    thumb_queue(media_thumb_pool(s), app, id, img);
}

int64_t media_ttl_ms(const server *s)
{
    if (s->cfg.media_ttl_seconds > 0)
        return (int64_t)s->cfg.media_ttl_seconds * 1000;
    return (int64_t)s->cfg.media_ttl_days * 86400 * 1000;
}

int media_new_id(char out[MEDIA_ID_LEN + 1])
{
    unsigned char r[MEDIA_ID_LEN / 2];
    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof r; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[MEDIA_ID_LEN] = 0;
    return 0;
}

int media_id_valid(const char *s, size_t n)
{
    if (n != MEDIA_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int media_is_raster(const char *ct)
{
    static const char *const raster[] = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"};
    for (size_t i = 0; i < sizeof raster / sizeof raster[0]; i++)
        if (strcasecmp(ct, raster[i]) == 0)
            return 1;
    return 0;
}

void media_safe_filename(const char *in, size_t n, char *out, size_t outsz)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) /* the last path component only */
        if (in[i] == '/' || in[i] == '\\')
            start = i + 1;
    size_t k = 0;
    for (size_t i = start; i < n && k + 1 < outsz; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[k++] = (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == ';' || ch == '%') ? '_' : (char)ch;
    }
    out[k] = 0;
    if (k == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, outsz, "file");
}

/* ---- the sweeper ---------------------------------------------------------------------- */

typedef struct sweep_list {
    store_media *v;
    size_t n;
} sweep_list;

static void collect(void *ud, const store_media *m)
{
    sweep_list *l = ud;
    if (l->n < SWEEP_BATCH)
        l->v[l->n++] = *m;
}

static void delete_done(store_op *op)
{
    media_service *m = op->ud;
    pthread_mutex_lock(&m->mu);
    m->waiting--;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void sweep_run(uv_work_t *w)
{
    media_service *m = w->data;
    if (!m->rd)
        m->rd = store_reader_open(m->s->st);
    if (!m->rd)
        return;
    sweep_list l = {.v = tern_calloc(SWEEP_BATCH, sizeof(store_media))};
    store_op *ops = tern_calloc(SWEEP_BATCH, sizeof(store_op));
    /* Rows stay for a grace time after expiry, so a download says 7002 (expired)
     * rather than 7006 (unknown) for a while. */
    int64_t ttl = media_ttl_ms(m->s);
    int64_t grace = ttl < MEDIA_GRACE_MS ? ttl : MEDIA_GRACE_MS;
    if (store_media_expired(m->rd, tern_now_ms() - grace, SWEEP_BATCH, collect, &l) == TERN_OK && l.n) {
        m->waiting = l.n;
        for (size_t i = 0; i < l.n; i++) {
            int rc = m->ms->ops->remove(m->ms, l.v[i].app, l.v[i].id);
            /* Its thumbnails after it: a job that stored them before the original went
             * sees it gone and removes them itself (thumb.c), so none outlive it. */
            thumb_remove(m->ms, l.v[i].app, l.v[i].id);
            ops[i] = (store_op){.kind = STORE_OP_MEDIA_DELETE, .app = l.v[i].app, .done = delete_done, .ud = m};
            ops[i].u.media.id = l.v[i].id;
            /* A file that cannot go keeps its row: the next sweep tries again. */
            if (rc != 0 || store_submit(m->s->st, &ops[i]) != TERN_OK) {
                if (rc != 0)
                    LOG_WARN("media: cannot remove expired %s: %s", l.v[i].id, strerror(-rc));
                pthread_mutex_lock(&m->mu);
                m->waiting--;
                pthread_mutex_unlock(&m->mu);
            }
        }
        pthread_mutex_lock(&m->mu);
        while (m->waiting)
            pthread_cond_wait(&m->cv, &m->mu);
        pthread_mutex_unlock(&m->mu);
        LOG_DEBUG("media: swept %zu expired file(s)", l.n);
    }
    tern_free(ops);
    tern_free(l.v);
}

static void sweep_after(uv_work_t *w, int status)
{
    (void)status;
    media_service *m = w->data;
    m->busy = 0;
    if (m->stopping) { /* the readers close before the store */
        store_reader_close(m->rd);
        m->rd = NULL;
    }
}

static void on_tick(uv_timer_t *t)
{
    media_service *m = t->data;
    if (m->busy || m->stopping)
        return;
    m->busy = 1;
    m->work.data = m;
    if (uv_queue_work(&m->s->ctl, &m->work, sweep_run, sweep_after) != 0)
        m->busy = 0;
}

void media_start_sweeper(server *s)
{
    media_service *m = s->media;
    int64_t period = media_ttl_ms(s) / 4;
    if (period < 250)
        period = 250;
    if (period > 60000)
        period = 60000;
    uv_timer_init(&s->ctl, &m->timer);
    m->timer.data = m;
    uv_timer_start(&m->timer, on_tick, 0, (uint64_t)period);
    m->timer_on = 1;
}

void media_stop_sweeper(server *s)
{
    media_service *m = s->media;
    if (m) /* its jobs write to the store, which closes after this */
        thumb_pool_stop(m->thumbs);
    if (!m || !m->timer_on)
        return;
    m->stopping = 1;
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, NULL);
    m->timer_on = 0;
    if (!m->busy) {
        store_reader_close(m->rd);
        m->rd = NULL;
    }
}

void media_free(server *s)
{
    media_service *m = s->media;
    if (!m)
        return;
    store_reader_close(m->rd);
    thumb_pool_free(m->thumbs);
    m->ms->ops->free(m->ms);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->smu);
    tern_free(m->sessions);
    tern_free(m);
    s->media = NULL;
}

/* ---- resumable sessions ----------------------------------------------------------------- */

/* The index of (app, id) or -1; drops expired idle sessions on the way. smu held. */
static long session_find(media_service *m, int64_t app, const char *id)
{
    int64_t now = tern_now_ms();
    for (size_t i = 0; i < m->nsessions; i++) {
        media_session *e = &m->sessions[i];
        if (e->expires_ms <= now && !e->busy) {
            m->sessions[i--] = m->sessions[--m->nsessions];
            continue;
        }
        if (e->app == app && strcmp(e->id, id) == 0)
            return (long)i;
    }
    return -1;
}

int media_session_add(server *s, media_session *in)
{
    media_service *m = s->media;
    if (media_new_id(in->id) != 0)
        return TERN_ERR_INTERNAL;
    in->busy = 0;
    pthread_mutex_lock(&m->smu);
    session_find(m, -1, ""); /* sweeps expired ones */
    int rc = TERN_ERR_OVERLOADED;
    if (m->nsessions < MEDIA_MAX_SESSIONS) {
        m->sessions[m->nsessions++] = *in;
        rc = TERN_OK;
    }
    pthread_mutex_unlock(&m->smu);
    return rc;
}

int media_session_get(server *s, int64_t app, const char *id, int claim, media_session *out)
{
    media_service *m = s->media;
    pthread_mutex_lock(&m->smu);
    long i = session_find(m, app, id);
    int rc = TERN_ERR_MEDIA_NOT_FOUND;
    if (i >= 0) {
        rc = claim && m->sessions[i].busy ? TERN_ERR_MEDIA_OFFSET : TERN_OK;
        if (rc == TERN_OK && claim)
            m->sessions[i].busy = 1;
        *out = m->sessions[i];
    }
    pthread_mutex_unlock(&m->smu);
    return rc;
}

void media_session_release(server *s, int64_t app, const char *id, int done)
{
    media_service *m = s->media;
    pthread_mutex_lock(&m->smu);
    long i = session_find(m, app, id);
    if (i >= 0) {
        if (done)
            m->sessions[i] = m->sessions[--m->nsessions];
        else
            m->sessions[i].busy = 0;
    }
    pthread_mutex_unlock(&m->smu);
}
