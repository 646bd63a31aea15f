/*
 * it_sdk_media.c — libtern's media transfers (include/tern/tern.h "Media") against a
 * real ternd: uploads and downloads (to a file and to memory) give back the very bytes
 * uploaded, progress is monotonic and ends at the total in both directions, the 10th
 * transfer of a client waits for one of the first nine to end (proved by order, not by
 * time: its first callback comes after a done), one client runs 9 transfers of 10 MB
 * plus 10 waiting and all complete, a running upload and a running download are
 * cancelled (nothing half left on disk, no temporary file), a finished and an unknown
 * request id answer TERN_ERR_SDK_NO_SUCH_TRANSFER, the builders make the drafts of
 * media-contract.md, and a message made by media id uploads nothing (the server's
 * media files do not change).
 *
 * The SDK runs in thread mode; callbacks record under a mutex and the test thread
 * waits on a condition variable (every wait bounded).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tern/tern.h>

#include "harness.h"

#define MAXX 32
#define WAIT_MS 60000

/* One transfer as its callbacks saw it. */
typedef struct xrec {
    uint64_t id;
    int done, code;
    char message[256];
    char media_id[64];
    uint64_t size;
    unsigned width, height;
    uint64_t last_now, last_total;
    int nprogress, monotonic_broken, progress_after_done;
    int dones_before_first; /* done callbacks of the client before this one's first callback */
    unsigned char *data;    /* memory downloads: a copy */
    size_t len;
    char payload[1024]; /* builders: the draft's payload */
    char type_name[32];
    int cancel_done, cancel_code;
    int cancel_on_progress; /* 1 upload, 2 download: cancel at the first progress */
} xrec;

typedef struct ctx {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tern_client *c;
    xrec x[MAXX];
    int n;
    int dones;
    unsigned max_running, first_running, first_waiting;
    int seen_first;
    int cancels, cancel_code;
} ctx;

/* A client of user; opts may be NULL (the defaults). */
static ctx *ctx_new_opts(it_server *s, const char *user, const tern_client_options *opts)
{
    ctx *t = calloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    char url[64], tok[512];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", s->port);
    it_create_user(s, user);
    it_user_token(s, user, tok, sizeof tok);
    assert_int_equal(tern_client_create(url, "demo/demo", user, tok, opts, &t->c), TERN_OK);
    return t;
}

static ctx *ctx_new(it_server *s, const char *user)
{
    return ctx_new_opts(s, user, NULL);
}

static void ctx_free(ctx *t)
{
    tern_client_destroy(t->c);
    for (int i = 0; i < MAXX; i++)
        free(t->x[i].data);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}

/* The record of request id (under t->mu). */
static xrec *rec_of(ctx *t, uint64_t id)
{
    for (int i = 0; i < t->n; i++)
        if (t->x[i].id == id)
            return &t->x[i];
    return NULL;
}

/* Counts seen in any media callback (under t->mu). */
static void note_counts(ctx *t, xrec *r)
{
    unsigned running, waiting;
    tern_media_transfer_counts(t->c, &running, &waiting);
    if (running > t->max_running)
        t->max_running = running;
    if (!t->seen_first) {
        t->seen_first = 1;
        t->first_running = running;
        t->first_waiting = waiting;
    }
    if (r && !r->nprogress && !r->done)
        r->dones_before_first = t->dones;
}

static void on_cancel(tern_client *c, uint64_t id, int code, const char *message, void *ud)
{
    ctx *t = ud;
    pthread_mutex_lock(&t->mu);
    xrec *r = rec_of(t, id);
    if (r) {
        r->cancel_done = 1;
        r->cancel_code = code;
    }
    t->cancels++;
    t->cancel_code = code;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_progress(tern_client *c, uint64_t id, uint64_t now, uint64_t total, void *ud)
{
    ctx *t = ud;
    pthread_mutex_lock(&t->mu);
    xrec *r = rec_of(t, id);
    if (r) {
        note_counts(t, r);
        if (r->done)
            r->progress_after_done = 1;
        if ((r->nprogress && now <= r->last_now) || now > total || (r->nprogress && total < r->last_total))
            r->monotonic_broken = 1;
        r->last_now = now;
        r->last_total = total;
        if (r->nprogress++ == 0 && r->cancel_on_progress) {
            if (r->cancel_on_progress == 1)
                tern_cancel_media_upload(c, id, on_cancel, t);
            else
                tern_cancel_media_download(c, id, on_cancel, t);
        }
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static xrec *done_common(ctx *t, uint64_t id, int code, const char *message)
{
    xrec *r = rec_of(t, id);
    if (!r)
        return NULL;
    note_counts(t, r);
    r->done++;
    r->code = code;
    snprintf(r->message, sizeof r->message, "%s", message ? message : "(null)");
    t->dones++;
    return r;
}

static void on_uploaded(tern_client *c, uint64_t id, int code, const char *message, const tern_media_info *info,
                        void *ud)
{
    ctx *t = ud;
    pthread_mutex_lock(&t->mu);
    xrec *r = done_common(t, id, code, message);
    if (r && info) {
        snprintf(r->media_id, sizeof r->media_id, "%s", info->media_id);
        r->size = info->size;
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_downloaded(tern_client *c, uint64_t id, int code, const char *message, void *ud)
{
    ctx *t = ud;
    pthread_mutex_lock(&t->mu);
    done_common(t, id, code, message);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_memory(tern_client *c, uint64_t id, int code, const char *message, const void *data, size_t len,
                      void *ud)
{
    ctx *t = ud;
    pthread_mutex_lock(&t->mu);
    xrec *r = done_common(t, id, code, message);
    if (r && data) {
        r->data = malloc(len ? len : 1);
        memcpy(r->data, data, len);
        r->len = len;
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_built(tern_client *c, uint64_t id, int code, const char *message, tern_message *m, void *ud)
{
    ctx *t = ud;
    pthread_mutex_lock(&t->mu);
    xrec *r = done_common(t, id, code, message);
    if (r && m) {
        snprintf(r->payload, sizeof r->payload, "%s", tern_message_payload_json(m));
        snprintf(r->type_name, sizeof r->type_name, "%s", tern_message_type_name(m));
        snprintf(r->media_id, sizeof r->media_id, "%s", tern_message_media_id(m) ? tern_message_media_id(m) : "");
        r->size = tern_message_media_size(m);
        r->width = tern_message_media_width(m);
        r->height = tern_message_media_height(m);
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* A new record slot, before the call that gets its id (the callbacks look ids up). */
static xrec *slot(ctx *t)
{
    pthread_mutex_lock(&t->mu);
    assert_true(t->n < MAXX);
    xrec *r = &t->x[t->n++];
    pthread_mutex_unlock(&t->mu);
    return r;
}

/* Transfer functions write the id before the loop can see the request, but the record
 * must hold it before a callback looks: take the lock around the call. */
#define START(t, r, call)                                                                                              \
    do {                                                                                                               \
        pthread_mutex_lock(&(t)->mu);                                                                                  \
        int rc__ = (call);                                                                                             \
        pthread_mutex_unlock(&(t)->mu);                                                                                \
        assert_int_equal(rc__, TERN_OK);                                                                               \
        assert_true((r)->id > 0);                                                                                      \
    } while (0)

static int wait_done(ctx *t, xrec *r)
{
    return it_wait_int(&t->mu, &t->cv, &r->done, 1, WAIT_MS);
}

static int wait_dones(ctx *t, int n)
{
    return it_wait_int(&t->mu, &t->cv, &t->dones, n, WAIT_MS * 2);
}

/* ---- files ------------------------------------------------------------------------- */

static char tmpdir[256];

static void make_file(const char *path, size_t n, uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t st = seed ? seed : 1;
    unsigned char buf[65536];
    for (size_t off = 0; off < n;) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        for (size_t i = 0; i < k; i += 4) {
            uint32_t v = it_rand(&st);
            memcpy(buf + i, &v, k - i < 4 ? k - i : 4);
        }
        assert_int_equal(fwrite(buf, 1, k, f), k);
        off += k;
    }
    fclose(f);
}

static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    unsigned char *pa = read_file(a, &na), *pb = read_file(b, &nb);
    int same = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

/* Files in tmpdir whose name contains ".tern-" (a download's temporary file). */
static int temp_files(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tern-"))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void check_progress(const xrec *r, uint64_t total)
{
    if (r->nprogress == 0 || r->monotonic_broken || r->progress_after_done || r->last_now != total ||
        r->last_total != total)
        fail_msg("progress of %llu: %d calls, broken %d, after done %d, last %llu/%llu, want %llu",
                 (unsigned long long)r->id, r->nprogress, r->monotonic_broken, r->progress_after_done,
                 (unsigned long long)r->last_now, (unsigned long long)r->last_total, (unsigned long long)total);
}

/* Uploads path and returns its media id (static buffer). */
static const char *upload_ok(ctx *t, const char *path, size_t size)
{
    xrec *r = slot(t);
    START(t, r, tern_upload_media(t->c, path, NULL, &r->id, on_progress, on_uploaded, t));
    assert_true(wait_done(t, r));
    if (r->code)
        fail_msg("upload %s: %d %s", path, r->code, r->message);
    assert_int_equal(strlen(r->media_id), 32);
    assert_int_equal(r->size, size);
    check_progress(r, size);
    return r->media_id;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    it_server *s = *state;
    ctx *t = ctx_new(s, "alice");
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    char src[300], dst[300];
    snprintf(src, sizeof src, "%s/src.bin", tmpdir);
    snprintf(dst, sizeof dst, "%s/dst.bin", tmpdir);
    size_t size = 3u << 20;
    make_file(src, size, 42);
    const char *id = upload_ok(t, src, size);
    char media_id[64];
    snprintf(media_id, sizeof media_id, "%s", id);

    /* to memory, by id */
    xrec *m = slot(t);
    START(t, m, tern_download_media_to_memory(t->c, media_id, &m->id, on_progress, on_memory, t));
    assert_true(wait_done(t, m));
    assert_int_equal(m->code, 0);
    size_t n = 0;
    unsigned char *orig = read_file(src, &n);
    assert_int_equal(m->len, size);
    assert_memory_equal(m->data, orig, size);
    free(orig);
    check_progress(m, size);

    /* to a file, by the path form of a media URL */
    char url[128];
    snprintf(url, sizeof url, "/demo/demo/media/%s", media_id);
    xrec *f = slot(t);
    START(t, f, tern_download_media(t->c, url, dst, &f->id, on_progress, on_downloaded, t));
    assert_true(wait_done(t, f));
    if (f->code)
        fail_msg("download: %d %s", f->code, f->message);
    assert_true(same_file(src, dst));
    check_progress(f, size);
    assert_int_equal(temp_files(), 0);

    /* an unknown id: the server's code, and nothing left at the path */
    unlink(dst);
    xrec *u = slot(t);
    START(t, u, tern_download_media(t->c, "0123456789abcdef0123456789abcdef", dst, &u->id, NULL, on_downloaded, t));
    assert_true(wait_done(t, u));
    assert_int_equal(u->code, TERN_ERR_MEDIA_NOT_FOUND);
    assert_int_equal(access(dst, F_OK), -1);
    assert_int_equal(temp_files(), 0);

    /* ids that could leave the media path are refused before anything is sent */
    uint64_t rid = 7;
    assert_int_equal(tern_download_media(t->c, "../users", dst, &rid, NULL, on_downloaded, t),
                     TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(rid, 0);
    assert_int_equal(tern_download_media(t->c, "ftp://x/y", dst, &rid, NULL, on_downloaded, t),
                     TERN_ERR_SDK_INVALID_ARG);

    /* an empty file is refused by the SDK with the server's code */
    char empty[300];
    snprintf(empty, sizeof empty, "%s/empty.bin", tmpdir);
    make_file(empty, 0, 1);
    xrec *e = slot(t);
    START(t, e, tern_upload_media(t->c, empty, NULL, &e->id, on_progress, on_uploaded, t));
    assert_true(wait_done(t, e));
    assert_int_equal(e->code, TERN_ERR_MEDIA_EMPTY);
    assert_int_equal(e->nprogress, 0);
    ctx_free(t);
}

/* 19 transfers of 10 MB on one client (10 uploads, 9 downloads), all queued before the
 * loop runs: 9 run, 10 wait, all complete; the 10th starts only after a done. */
static void test_nine_running_ten_waiting(void **state)
{
    it_server *s = *state;
    ctx *t = ctx_new(s, "carol");
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    char src[300];
    snprintf(src, sizeof src, "%s/big.bin", tmpdir);
    size_t size = 10u << 20;
    make_file(src, size, 7);
    char media_id[64];
    snprintf(media_id, sizeof media_id, "%s", upload_ok(t, src, size));
    ctx_free(t);

    t = ctx_new(s, "dave"); /* not started: every request waits in the client's queue */
    char dst[9][300];
    for (int i = 0; i < 19; i++) {
        xrec *r = slot(t);
        if (i % 2 == 0) {
            START(t, r, tern_upload_media(t->c, src, "application/octet-stream", &r->id, on_progress, on_uploaded, t));
        } else {
            snprintf(dst[i / 2], sizeof dst[i / 2], "%s/dl%d.bin", tmpdir, i / 2);
            START(t, r, tern_download_media(t->c, media_id, dst[i / 2], &r->id, on_progress, on_downloaded, t));
        }
    }
    unsigned running = 99, waiting = 99;
    tern_media_transfer_counts(t->c, &running, &waiting);
    assert_int_equal(running, 0);
    assert_int_equal(waiting, 0); /* not yet on the loop */
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    assert_true(wait_dones(t, 19));
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < 19; i++) {
        xrec *r = &t->x[i];
        if (r->code)
            fail_msg("transfer %d: %d %s", i, r->code, r->message);
        check_progress(r, size);
        if (i >= 9 && r->dones_before_first < 1)
            fail_msg("transfer %d started before any of the first nine ended", i);
    }
    assert_int_equal(t->first_running, TERN_MEDIA_MAX_RUNNING);
    assert_int_equal(t->first_waiting, 10);
    assert_int_equal(t->max_running, TERN_MEDIA_MAX_RUNNING);
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < 9; i++)
        assert_true(same_file(src, dst[i]));
    assert_int_equal(temp_files(), 0);
    tern_media_transfer_counts(t->c, &running, &waiting);
    assert_int_equal(running + waiting, 0);
    ctx_free(t);
}

static void test_cancel(void **state)
{
    it_server *s = *state;
    ctx *t = ctx_new(s, "erin");
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    char src[300], dst[300];
    snprintf(src, sizeof src, "%s/cancel.bin", tmpdir);
    snprintf(dst, sizeof dst, "%s/cancel-dl.bin", tmpdir);
    /* Big enough that it cannot end between the first progress and the cancel: curl
     * moves at most 100 buffers of 64 KiB per socket event. */
    size_t size = 90u << 20;
    make_file(src, size, 9);
    char media_id[64];
    snprintf(media_id, sizeof media_id, "%s", upload_ok(t, src, size));
    int files = it_count_files(s->dir);

    /* a running upload, cancelled at its first progress */
    xrec *u = slot(t);
    u->cancel_on_progress = 1;
    START(t, u, tern_upload_media(t->c, src, NULL, &u->id, on_progress, on_uploaded, t));
    assert_true(wait_done(t, u));
    assert_true(it_wait_int(&t->mu, &t->cv, &u->cancel_done, 1, WAIT_MS));
    assert_int_equal(u->code, TERN_ERR_SDK_CANCELED);
    assert_int_equal(u->cancel_code, 0);
    assert_true(u->last_now < size);

    /* a running download, cancelled at its first progress: nothing left on disk */
    xrec *d = slot(t);
    d->cancel_on_progress = 2;
    START(t, d, tern_download_media(t->c, media_id, dst, &d->id, on_progress, on_downloaded, t));
    assert_true(wait_done(t, d));
    assert_true(it_wait_int(&t->mu, &t->cv, &d->cancel_done, 1, WAIT_MS));
    if (d->code != TERN_ERR_SDK_CANCELED)
        fail_msg("download: code %d, cancel %d, %d progress calls, last %llu", d->code, d->cancel_code, d->nprogress,
                 (unsigned long long)d->last_now);
    assert_int_equal(d->cancel_code, 0);
    assert_int_equal(access(dst, F_OK), -1);
    assert_int_equal(temp_files(), 0);

    /* a finished id, an unknown one, and an upload's id given to the download cancel */
    uint64_t done_id = t->x[0].id;
    int before = t->cancels;
    assert_int_equal(tern_cancel_media_upload(t->c, done_id, on_cancel, t), TERN_OK);
    assert_true(it_wait_int(&t->mu, &t->cv, &t->cancels, before + 1, WAIT_MS));
    assert_int_equal(t->cancel_code, TERN_ERR_SDK_NO_SUCH_TRANSFER);
    assert_int_equal(tern_cancel_media_download(t->c, 987654321, on_cancel, t), TERN_OK);
    assert_true(it_wait_int(&t->mu, &t->cv, &t->cancels, before + 2, WAIT_MS));
    assert_int_equal(t->cancel_code, TERN_ERR_SDK_NO_SUCH_TRANSFER);

    /* a running upload's id to the download cancel: not a download; the upload goes on */
    xrec *w = slot(t);
    START(t, w, tern_upload_media(t->c, src, NULL, &w->id, NULL, on_uploaded, t));
    assert_int_equal(tern_cancel_media_download(t->c, w->id, on_cancel, t), TERN_OK);
    assert_true(it_wait_int(&t->mu, &t->cv, &t->cancels, before + 3, WAIT_MS));
    assert_int_equal(t->cancel_code, TERN_ERR_SDK_NO_SUCH_TRANSFER);
    assert_true(wait_done(t, w));
    assert_int_equal(w->code, 0);

    /* the cancelled upload left no media behind: one more file (w's) than before */
    int after = it_count_files(s->dir);
    if (after > files + 1) /* identical bytes may share storage: w may add none */
        fail_msg("media files %d -> %d: the cancelled upload left one", files, after);
    ctx_free(t);
}

static void on_login_done(tern_client *c, int code, const char *message, void *ud)
{
    ctx *t = ud;
    pthread_mutex_lock(&t->mu);
    t->cancel_code = code; /* reused: the login's code */
    t->cancels = 1000;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

typedef struct sent_rec {
    ctx *t;
    int done, code, upload_done_before; /* the watched transfer's done callbacks when the ack came */
    int watch;                          /* its index in t->x (0: 1) */
} sent_rec;

static sent_rec sent;

static void on_sent(tern_client *c, tern_message *m, int code, const char *message, void *ud)
{
    sent_rec *s = ud;
    pthread_mutex_lock(&s->t->mu);
    s->code = code;
    s->upload_done_before = s->t->x[s->watch ? s->watch : 1].done;
    s->done = 1;
    pthread_cond_broadcast(&s->t->cv);
    pthread_mutex_unlock(&s->t->mu);
}

/* While an upload runs, a message sent on the same client is acknowledged before the
 * upload ends: the transfer does not hold up the messaging connection. The transfers
 * are paced at XFER_BPS (media_max_bytes_per_sec), so each lasts about 3 s whatever the
 * machine's speed: a message held up behind the transfer (the loop starved) is
 * acknowledged only after it, while an ack that is merely slow (a sanitizer build on a
 * busy machine) still comes well within the 3 s. Unpaced, a 90 MB download from a
 * sendfile server could end before a TSan ternd acknowledged the message. */
#define XFER_BPS (8u << 20)
#define XFER_SIZE (24u << 20)
static void test_messaging_not_blocked(void **state)
{
    it_server *s = *state;
    it_create_user(s, "bob");
    tern_client_options o;
    tern_client_options_init(&o);
    o.media_max_bytes_per_sec = XFER_BPS;
    ctx *t = ctx_new_opts(s, "gina", &o);
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    assert_int_equal(tern_login(t->c, on_login_done, t), TERN_OK);
    assert_true(it_wait_int(&t->mu, &t->cv, &t->cancels, 1000, WAIT_MS));
    assert_int_equal(t->cancel_code, 0);
    char src[300];
    snprintf(src, sizeof src, "%s/long.bin", tmpdir);
    size_t size = XFER_SIZE;
    make_file(src, size, 3);
    xrec *first = slot(t); /* x[0]: a small upload so that the connection to ternd is warm */
    char small[300];
    snprintf(small, sizeof small, "%s/small.bin", tmpdir);
    make_file(small, 1000, 4);
    START(t, first, tern_upload_media(t->c, small, NULL, &first->id, NULL, on_uploaded, t));
    assert_true(wait_done(t, first));
    xrec *u = slot(t); /* x[1] */
    int64_t t0 = it_now_ms();
    START(t, u, tern_upload_media(t->c, src, NULL, &u->id, on_progress, on_uploaded, t));
    assert_true(it_wait_int(&t->mu, &t->cv, &u->nprogress, 1, WAIT_MS));
    tern_message *m = tern_create_text_message(t->c, TERN_CONV_C2C, "bob", "while uploading");
    memset(&sent, 0, sizeof sent);
    sent.t = t;
    assert_int_equal(tern_send_message(t->c, m, NULL, on_sent, &sent), TERN_OK);
    tern_message_release(m);
    assert_true(it_wait_int(&t->mu, &t->cv, &sent.done, 1, WAIT_MS));
    assert_true(wait_done(t, u));
    /* the pace was kept: a lower bound only (a slow machine takes longer, never less) */
    int64_t took = it_now_ms() - t0;
    if (took < (int64_t)XFER_SIZE * 1000 / XFER_BPS * 3 / 4)
        fail_msg("the upload took %lld ms: media_max_bytes_per_sec not applied", (long long)took);
    assert_int_equal(sent.code, 0);
    assert_int_equal(sent.upload_done_before, 0);
    assert_int_equal(u->code, 0);

    /* the same while the file comes back (curl asks to be called again at once while
     * it reads: that must not starve the loop either) */
    char dst[300];
    snprintf(dst, sizeof dst, "%s/long-back.bin", tmpdir);
    xrec *d = slot(t); /* x[2] */
    t0 = it_now_ms();
    START(t, d, tern_download_media(t->c, u->media_id, dst, &d->id, on_progress, on_downloaded, t));
    assert_true(it_wait_int(&t->mu, &t->cv, &d->nprogress, 1, WAIT_MS));
    m = tern_create_text_message(t->c, TERN_CONV_C2C, "bob", "while downloading");
    memset(&sent, 0, sizeof sent);
    sent.t = t;
    sent.watch = 2;
    assert_int_equal(tern_send_message(t->c, m, NULL, on_sent, &sent), TERN_OK);
    tern_message_release(m);
    assert_true(it_wait_int(&t->mu, &t->cv, &sent.done, 1, WAIT_MS));
    assert_true(wait_done(t, d));
    took = it_now_ms() - t0;
    if (took < (int64_t)XFER_SIZE * 1000 / XFER_BPS * 3 / 4)
        fail_msg("the download took %lld ms: media_max_bytes_per_sec not applied", (long long)took);
    assert_int_equal(sent.code, 0);
    assert_int_equal(d->code, 0);
    if (sent.upload_done_before)
        fail_msg("the message was acknowledged only after the download ended (%d progress calls)", d->nprogress);
    ctx_free(t);
}

typedef struct rx_rec {
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int got;
    int type;
    char media_id[64], url[512], name[64];
    uint64_t size;
} rx_rec;

static rx_rec rx;

static void on_rx_event(tern_client *c, const tern_event *ev, void *ud)
{
    rx_rec *r = ud;
    if (ev->type != TERN_EVENT_MESSAGE_RECEIVED)
        return;
    pthread_mutex_lock(r->mu);
    const tern_message *m = ev->message;
    r->type = (int)tern_message_type(m);
    snprintf(r->media_id, sizeof r->media_id, "%s", tern_message_media_id(m) ? tern_message_media_id(m) : "");
    snprintf(r->url, sizeof r->url, "%s", tern_message_media_url(m) ? tern_message_media_url(m) : "");
    snprintf(r->name, sizeof r->name, "%s", tern_message_media_file_name(m) ? tern_message_media_file_name(m) : "");
    r->size = tern_message_media_size(m);
    r->got++;
    pthread_cond_broadcast(r->cv);
    pthread_mutex_unlock(r->mu);
}

/* A file message end to end: built by uploading, given a target, sent; the peer's
 * client receives it with the server's fields and downloads the bytes by its URL. */
static void test_file_message_end_to_end(void **state)
{
    it_server *s = *state;
    ctx *t = ctx_new(s, "ivan");
    ctx *p = calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    memset(&rx, 0, sizeof rx);
    rx.mu = &p->mu;
    rx.cv = &p->cv;
    char url[64], tok[512];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", s->port);
    it_create_user(s, "judy");
    it_user_token(s, "judy", tok, sizeof tok);
    tern_client_options o;
    tern_client_options_init(&o);
    o.on_event = on_rx_event;
    o.user_data = &rx;
    assert_int_equal(tern_client_create(url, "demo/demo", "judy", tok, &o, &p->c), TERN_OK);
    assert_int_equal(tern_client_start_thread(p->c), TERN_OK);
    assert_int_equal(tern_login(p->c, on_login_done, p), TERN_OK);
    assert_true(it_wait_int(&p->mu, &p->cv, &p->cancels, 1000, WAIT_MS));
    assert_int_equal(p->cancel_code, 0);
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    assert_int_equal(tern_login(t->c, on_login_done, t), TERN_OK);
    assert_true(it_wait_int(&t->mu, &t->cv, &t->cancels, 1000, WAIT_MS));
    assert_int_equal(t->cancel_code, 0);

    char src[300];
    snprintf(src, sizeof src, "%s/report.pdf", tmpdir);
    make_file(src, 300000, 21);
    xrec *b = slot(t);
    START(t, b, tern_create_file_message_by_uploading(t->c, src, &b->id, on_progress, on_built, t));
    assert_true(wait_done(t, b));
    assert_int_equal(b->code, 0);
    /* the draft again by its media id (the builder's draft was lent to the callback) */
    tern_message *m = tern_create_file_message_by_media_id(t->c, b->media_id);
    assert_int_equal(tern_message_set_media_file_name(m, "report.pdf"), TERN_OK);
    assert_int_equal(tern_message_set_target(m, TERN_CONV_C2C, "judy"), TERN_OK);
    memset(&sent, 0, sizeof sent);
    sent.t = t;
    sent.watch = 0;
    assert_int_equal(tern_send_message(t->c, m, NULL, on_sent, &sent), TERN_OK);
    tern_message_release(m);
    assert_true(it_wait_int(&t->mu, &t->cv, &sent.done, 1, WAIT_MS));
    if (sent.code)
        fail_msg("send of the file message: %d", sent.code);
    assert_true(it_wait_int(&p->mu, &p->cv, &rx.got, 1, WAIT_MS));
    pthread_mutex_lock(&p->mu);
    assert_int_equal(rx.type, TERN_MSG_FILE);
    assert_string_equal(rx.media_id, b->media_id);
    assert_string_equal(rx.name, "report.pdf");
    assert_int_equal(rx.size, 300000);
    assert_true(rx.url[0] != 0);
    char got_url[512];
    snprintf(got_url, sizeof got_url, "%s", rx.url);
    pthread_mutex_unlock(&p->mu);

    /* the receiver fetches it by the URL the message carries */
    xrec *d = slot(p);
    START(p, d, tern_download_media_to_memory(p->c, got_url, &d->id, on_progress, on_memory, p));
    assert_true(wait_done(p, d));
    if (d->code)
        fail_msg("download of %s: %d %s", got_url, d->code, d->message);
    size_t n = 0;
    unsigned char *orig = read_file(src, &n);
    assert_int_equal(d->len, n);
    assert_memory_equal(d->data, orig, n);
    free(orig);
    ctx_free(p);
    ctx_free(t);
}

/* An upload over the server's limit fails with the server's 7003 and its message,
 * refused at the head (Expect: 100-continue): the body is never sent. */
static void test_over_limit(void **state)
{
    static const char *const args[] = {"--media-max-bytes", "1000000", NULL};
    it_server *s = it_server_new(args);
    assert_non_null(s);
    ctx *t = ctx_new(s, "kate");
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    char src[300];
    snprintf(src, sizeof src, "%s/over.bin", tmpdir);
    make_file(src, 3u << 20, 13);
    xrec *r = slot(t);
    START(t, r, tern_upload_media(t->c, src, NULL, &r->id, on_progress, on_uploaded, t));
    assert_true(wait_done(t, r));
    assert_int_equal(r->code, TERN_ERR_MEDIA_TOO_LARGE);
    if (!strstr(r->message, "1000000"))
        fail_msg("the message should name the limit: %s", r->message);
    assert_true(r->last_now < (3u << 20));
    ctx_free(t);
    assert_int_equal(it_server_free(s), 0);
}

/* Destroying the client ends every running and waiting transfer with CANCELED, once. */
static void test_destroy_cancels(void **state)
{
    it_server *s = *state;
    ctx *t = ctx_new(s, "hank");
    char src[300], dst[300];
    snprintf(src, sizeof src, "%s/d.bin", tmpdir);
    make_file(src, 2u << 20, 11);
    for (int i = 0; i < 12; i++) {
        xrec *r = slot(t);
        START(t, r, tern_upload_media(t->c, src, NULL, &r->id, on_progress, on_uploaded, t));
    }
    snprintf(dst, sizeof dst, "%s/d-out.bin", tmpdir);
    xrec *d = slot(t);
    START(t, d, tern_download_media(t->c, "0123456789abcdef0123456789abcdef", dst, &d->id, NULL, on_downloaded, t));
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    tern_client_destroy(t->c); /* from another thread: returns once everything completed */
    t->c = NULL;
    for (int i = 0; i < 13; i++) {
        xrec *r = &t->x[i];
        if (r->done != 1 || (r->code != TERN_ERR_SDK_CANCELED && r->code != 0 && r->code != TERN_ERR_MEDIA_NOT_FOUND))
            fail_msg("transfer %d: %d done calls, code %d", i, r->done, r->code);
    }
    assert_int_equal(temp_files(), 0);
    ctx_free(t);
}

static void test_builders_and_media_id(void **state)
{
    it_server *s = *state;
    ctx *t = ctx_new(s, "frank");
    assert_int_equal(tern_client_start_thread(t->c), TERN_OK);
    /* a 3x2 PNG: signature, IHDR (CRC not checked by the probe) */
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0,
                                        0,    0,   3,   0,   0,    0,    2,    8,    2, 0, 0, 0,  0,   0,   0,   0};
    char img[300], vid[300], snap[300];
    snprintf(img, sizeof img, "%s/pic.png", tmpdir);
    snprintf(vid, sizeof vid, "%s/clip.mp4", tmpdir);
    snprintf(snap, sizeof snap, "%s/snap.png", tmpdir);
    FILE *f = fopen(img, "wb");
    fwrite(png, 1, sizeof png, f);
    fclose(f);
    f = fopen(snap, "wb");
    fwrite(png, 1, sizeof png, f);
    fclose(f);
    make_file(vid, 100000, 5);

    xrec *i = slot(t);
    START(t, i, tern_create_image_message_by_uploading(t->c, img, &i->id, on_progress, on_built, t));
    assert_true(wait_done(t, i));
    assert_int_equal(i->code, 0);
    assert_string_equal(i->type_name, "TIMImageElem");
    assert_int_equal(i->width, 3);
    assert_int_equal(i->height, 2);
    char want[512];
    snprintf(want, sizeof want, "{\"uuid\":\"%s\",\"width\":3,\"height\":2,\"fileName\":\"pic.png\"}", i->media_id);
    assert_string_equal(i->payload, want);
    check_progress(i, sizeof png);

    xrec *v = slot(t);
    START(t, v, tern_create_video_message_by_uploading(t->c, vid, 12, snap, &v->id, on_progress, on_built, t));
    assert_true(wait_done(t, v));
    assert_int_equal(v->code, 0);
    assert_string_equal(v->type_name, "TIMVideoFileElem");
    check_progress(v, 100000 + sizeof png); /* both files, one request id */
    assert_non_null(strstr(v->payload, "\"videoSecond\":12"));
    assert_non_null(strstr(v->payload, "\"snapshotUUID\":\""));
    assert_non_null(strstr(v->payload, "\"snapshotWidth\":3,\"snapshotHeight\":2"));

    /* by media id: a draft, no upload (the server's media files stay as they are) */
    int files = it_count_files(s->dir);
    tern_message *m = tern_create_image_message_by_media_id(t->c, i->media_id);
    assert_non_null(m);
    assert_int_equal(tern_message_type(m), TERN_MSG_IMAGE);
    assert_int_equal(tern_message_set_media_size(m, 640, 480), TERN_OK);
    assert_int_equal(tern_message_set_media_file_name(m, "holiday.png"), TERN_OK);
    assert_int_equal(tern_message_set_media_thumbnail(m, "abc", 3), TERN_OK);
    snprintf(want, sizeof want,
             "{\"uuid\":\"%s\",\"width\":640,\"height\":480,\"fileName\":\"holiday.png\",\"thumbnail\":\"YWJj\"}",
             i->media_id);
    assert_string_equal(tern_message_payload_json(m), want);
    /* no target yet: not sendable; with one it is a draft like any */
    assert_int_equal(tern_send_message(t->c, m, NULL, NULL, NULL), TERN_ERR_SDK_INVALID_ARG);
    assert_int_equal(tern_message_set_target(m, TERN_CONV_C2C, "bob"), TERN_OK);
    assert_string_equal(tern_message_conversation_id(m), "C2Cbob");
    tern_message_release(m);
    m = tern_create_audio_message_by_media_id(t->c, i->media_id, 7);
    assert_non_null(m);
    snprintf(want, sizeof want, "{\"uuid\":\"%s\",\"second\":7}", i->media_id);
    assert_string_equal(tern_message_payload_json(m), want);
    assert_int_equal(tern_message_set_media_thumbnail(m, "abc", 3), TERN_ERR_SDK_INVALID_ARG);
    tern_message_release(m);
    assert_null(tern_create_file_message_by_media_id(t->c, "../x"));
    assert_int_equal(it_count_files(s->dir), files);
    ctx_free(t);
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/it_sdk_media.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    return it_setup_default(state);
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return it_teardown_default(state);
}

int main(void)
{
    it_watchdog(280);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nine_running_ten_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builders_and_media_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging_not_blocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_message_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_over_limit, setup, teardown),
    };
    return it_run_tests("it_sdk_media", tests);
}
