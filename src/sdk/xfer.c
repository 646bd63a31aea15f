/*
 * xfer.c — libtern's media transfer engine: uploads and downloads over HTTP with
 * libcurl's multi interface, on the client's own libuv loop.
 *
 * Why on the loop and not on a transfer thread: the client already has a loop thread
 * that every callback runs on, and curl's multi interface is made to be driven by one
 * (curl_multi_socket_action from uv_poll readiness and a uv_timer for curl's timeouts,
 * as in curl's own multi-uv example). Sockets are non-blocking, so a transfer never
 * holds up the WebSocket beside it; no thread, lock or hand-over of callbacks is added.
 * What does run on the loop is the file I/O of the transfers: read(2) of the file being
 * uploaded and write(2) of the one being downloaded, in pieces of at most 64 KiB on
 * local files (page cache), which costs microseconds per piece.
 *
 * Rules:
 *   - At most TERN_MEDIA_MAX_RUNNING transfers run; the others wait in a FIFO (c->media
 *     lists) and start, in order, when one ends. A video job (video, then snapshot) is
 *     one transfer: its two files go one after the other in the same slot.
 *   - No app callback ever runs inside a curl callback: curl's callbacks only record
 *     bytes and progress into the transfer; after each curl_multi_socket_action, pump()
 *     ends the finished transfers (done callbacks), reports progress, and starts
 *     waiting transfers. An app callback may destroy the client (client_shutdown ->
 *     sdk_media_shutdown): pump() checks md->closing after each callback.
 *   - A transfer counts as running (c->media_running) until its done callback returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/json.h"
#include "sdk/media.h"
#include "sdk/sdk.h"

#define RESP_MAX (64u << 10)   /* an answer body kept (JSON): more is cut */
#define IO_BUFSZ (64L << 10)   /* curl's upload and receive buffers: 100 of them at most per socket_action */
#define STALL_SECONDS 60       /* nothing moved for this long: TERN_ERR_SDK_TIMEOUT */
#define PROBE_MAX (512u << 10) /* bytes of an image head read for its size */

typedef struct xlist {
    sdk_xfer *head, *tail;
} xlist;

typedef struct sdk_media {
    tern_client *c;
    CURLM *multi;
    uv_timer_t timer;
    xlist run, wait;
    unsigned nrun;
    int closing;
} sdk_media;

/* A socket curl asked us to watch. */
typedef struct xpoll {
    uv_poll_t poll;
    sdk_media *md;
    curl_socket_t fd;
} xpoll;

static void pump(sdk_media *md);

/* ---- lists and counters ---------------------------------------------------------------- */

static void xl_push(xlist *l, sdk_xfer *x)
{
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
}

static void xl_unlink(xlist *l, sdk_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
}

static sdk_xfer *xl_find(xlist *l, uint64_t id)
{
    for (sdk_xfer *x = l->head; x; x = x->next)
        if (x->id == id)
            return x;
    return NULL;
}

/* ---- freeing ---------------------------------------------------------------------------- */

static void res_clear(sdk_upload_res *r)
{
    tern_free(r->media_id);
    tern_free(r->content_type);
    tern_free(r->file_name);
    memset(r, 0, sizeof *r);
}

/* Ends the running step's resources: the curl handle, the open file, and (unless kept)
 * the temporary file of a download. */
static void step_release(sdk_media *md, sdk_xfer *x)
{
    if (x->easy) {
        if (md && md->multi)
            curl_multi_remove_handle(md->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    if (x->fd >= 0) {
        close(x->fd);
        x->fd = -1;
    }
    if (x->tmp[0]) {
        unlink(x->tmp);
        x->tmp[0] = 0;
    }
}

void sdk_xfer_free(sdk_xfer *x)
{
    if (!x)
        return;
    step_release(NULL, x);
    for (int i = 0; i < 2; i++) {
        tern_free(x->path[i]);
        tern_free(x->ctype[i]);
        res_clear(&x->res[i]);
    }
    tern_free(x->url);
    tern_free(x->dest);
    tern_buf_free(&x->mem);
    tern_buf_free(&x->resp);
    tern_free(x);
}

/* ---- curl callbacks: record only ------------------------------------------------------ */

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    sdk_xfer *x = ud;
    ssize_t n;
    do
        n = read(x->fd, buf, size * nitems);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        x->local_err = TERN_ERR_SDK_IO;
        snprintf(x->local_msg, sizeof x->local_msg, "cannot read %.200s: %s", x->path[x->cur], strerror(errno));
        return CURL_READFUNC_ABORT;
    }
    return (size_t)n;
}

static long status_of(sdk_xfer *x)
{
    long st = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

static size_t keep_resp(sdk_xfer *x, const char *p, size_t n)
{
    size_t room = x->resp.len < RESP_MAX ? RESP_MAX - x->resp.len : 0;
    if (room)
        tern_buf_append(&x->resp, p, n < room ? n : room);
    return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    sdk_xfer *x = ud;
    size_t n = size * nmemb;
    if (XK_IS_UPLOAD(x->kind) || status_of(x) != 200)
        return keep_resp(x, p, n); /* an upload's answer, or an error's body */
    if (x->kind == XK_DL_MEM) {
        if (x->mem.len + n > TERN_MEDIA_MEMORY_MAX) {
            x->local_err = TERN_ERR_SDK_IO;
            snprintf(x->local_msg, sizeof x->local_msg, "the file is over the %u bytes a memory download holds",
                     TERN_MEDIA_MEMORY_MAX);
            return 0;
        }
        if (tern_buf_append(&x->mem, p, n) != 0) {
            x->local_err = TERN_ERR_SDK_IO;
            snprintf(x->local_msg, sizeof x->local_msg, "out of memory");
            return 0;
        }
        return n;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(x->fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            x->local_err = TERN_ERR_SDK_IO;
            snprintf(x->local_msg, sizeof x->local_msg, "cannot write %.200s: %s", x->tmp, strerror(errno));
            return 0;
        }
        off += (size_t)w;
    }
    return n;
}

static int on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    sdk_xfer *x = ud;
    if (XK_IS_UPLOAD(x->kind)) {
        uint64_t now = x->base + (uint64_t)ulnow;
        if (now > x->total)
            now = x->total;
        if (now > x->now)
            x->now = now;
    } else if (status_of(x) == 200) {
        if (dltotal > 0 && (uint64_t)dltotal > x->total)
            x->total = (uint64_t)dltotal;
        if ((uint64_t)dlnow > x->now)
            x->now = (uint64_t)dlnow;
    }
    return 0;
}

/* ---- starting a step ------------------------------------------------------------------- */

static int fail_local(sdk_xfer *x, int code, const char *fmt, const char *arg)
{
    x->local_err = code;
    snprintf(x->local_msg, sizeof x->local_msg, fmt, arg, strerror(errno));
    return -1;
}

static void add_header(sdk_xfer *x, const char *name, const char *value)
{
    tern_buf h;
    tern_buf_init(&h, 0);
    tern_buf_printf(&h, "%s: ", name);
    /* A header line must not be broken by what a file name holds. */
    for (const char *p = value; *p; p++)
        tern_buf_putc(&h, (unsigned char)*p < 0x20 || *p == 0x7f ? '_' : *p);
    x->hdrs = curl_slist_append(x->hdrs, h.data);
    tern_buf_free(&h);
}

static CURL *new_easy(tern_client *c, sdk_xfer *x, const char *url)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->tls_ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->tls_ca_file);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)STALL_SECONDS);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, IO_BUFSZ);
    if (c->media_max_bps) {
        curl_easy_setopt(e, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)c->media_max_bps);
        curl_easy_setopt(e, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)c->media_max_bps);
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    return e;
}

/* Starts step x->cur of x. Returns 0, or -1 with x->local_err set. */
static int step_start(sdk_media *md, sdk_xfer *x)
{
    tern_client *c = md->c;
    tern_buf_reset(&x->resp);
    x->errbuf[0] = 0;
    if (XK_IS_UPLOAD(x->kind)) {
        if (x->cur == 0) { /* the job's total: every file's size */
            for (int i = 0; i < x->nfiles; i++) {
                struct stat st;
                if (stat(x->path[i], &st) != 0)
                    return fail_local(x, TERN_ERR_SDK_IO, "cannot open %s: %s", x->path[i]);
                if (!S_ISREG(st.st_mode)) {
                    errno = EISDIR;
                    return fail_local(x, TERN_ERR_SDK_IO, "cannot upload %s: %s", x->path[i]);
                }
                if (st.st_size == 0) {
                    x->local_err = TERN_ERR_MEDIA_EMPTY;
                    snprintf(x->local_msg, sizeof x->local_msg, "%s is empty (only non-empty files upload)",
                             x->path[i]);
                    return -1;
                }
                x->sizes[i] = (uint64_t)st.st_size;
                x->total += x->sizes[i];
            }
        }
        int i = x->cur;
        x->fd = open(x->path[i], O_RDONLY | O_CLOEXEC);
        if (x->fd < 0)
            return fail_local(x, TERN_ERR_SDK_IO, "cannot open %s: %s", x->path[i]);
        struct stat st;
        if (fstat(x->fd, &st) != 0 || (uint64_t)st.st_size != x->sizes[i]) {
            errno = EAGAIN;
            return fail_local(x, TERN_ERR_SDK_IO, "%s changed while waiting to upload: %s", x->path[i]);
        }
        if (x->kind == XK_IMAGE || (x->kind == XK_VIDEO && i == 1))
            sdk_media_probe_image(x, i);
        CURL *e = new_easy(c, x, x->url);
        if (!e) {
            errno = ENOMEM;
            return fail_local(x, TERN_ERR_SDK_IO, "%s: %s", "curl");
        }
        x->easy = e;
        add_header(x, "Content-Type", x->ctype[i]);
        add_header(x, "X-Tern-Filename", sdk_media_basename(x->path[i]));
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, x);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->sizes[i]);
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, IO_BUFSZ);
    } else {
        if (x->kind == XK_DL_FILE) {
            int n = snprintf(x->tmp, sizeof x->tmp, "%s.tern-XXXXXX", x->dest);
            if (n < 0 || (size_t)n >= sizeof x->tmp) {
                x->tmp[0] = 0;
                errno = ENAMETOOLONG;
                return fail_local(x, TERN_ERR_SDK_IO, "cannot write %s: %s", x->dest);
            }
            x->fd = mkostemp(x->tmp, O_CLOEXEC);
            if (x->fd < 0) {
                x->tmp[0] = 0;
                return fail_local(x, TERN_ERR_SDK_IO, "cannot write beside %s: %s", x->dest);
            }
        }
        CURL *e = new_easy(c, x, x->url);
        if (!e) {
            errno = ENOMEM;
            return fail_local(x, TERN_ERR_SDK_IO, "%s: %s", "curl");
        }
        x->easy = e;
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (x->send_token) {
        tern_buf h;
        tern_buf_init(&h, 0);
        tern_buf_printf(&h, "Bearer %s", c->token);
        add_header(x, "Authorization", h.data);
        tern_buf_free(&h);
    }
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
    if (curl_multi_add_handle(md->multi, x->easy) != CURLM_OK) {
        errno = EIO;
        return fail_local(x, TERN_ERR_SDK_IO, "%s: %s", "curl_multi_add_handle");
    }
    return 0;
}

/* ---- ending ---------------------------------------------------------------------------- */

static void emit_progress(tern_client *c, sdk_xfer *x, uint64_t now, uint64_t total)
{
    if (!x->progress || (x->shown_any && now <= x->shown_now))
        return;
    x->shown_any = 1;
    x->shown_now = now;
    c->in_cb++;
    x->progress(c, x->id, now, total, x->ud);
    c->in_cb--;
}

/* Calls x's done callback (code 0: with its result) and frees x. */
static void finish(tern_client *c, sdk_xfer *x, int code, const char *message)
{
    if (!message || !*message)
        message = tern_strerror(code);
    if (code == 0) /* the last progress equals the total */
        emit_progress(c, x, x->total, x->total);
    c->in_cb++;
    if (x->done) {
        switch (x->kind) {
        case XK_UPLOAD: {
            tern_media_info info = {0};
            if (code == 0) {
                const sdk_upload_res *r = &x->res[0];
                info = (tern_media_info){r->media_id,   r->size,  r->content_type, r->file_name,
                                         r->expires_at, r->width, r->height};
            }
            ((tern_upload_cb)x->done)(c, x->id, code, message, code ? NULL : &info, x->ud);
            break;
        }
        case XK_IMAGE:
        case XK_FILE:
        case XK_AUDIO:
        case XK_VIDEO: {
            tern_message *m = code == 0 ? sdk_media_draft_from_upload(c, x) : NULL;
            if (code == 0 && !m) {
                code = TERN_ERR_SDK_IO;
                message = "out of memory";
            }
            ((tern_media_message_cb)x->done)(c, x->id, code, message, m, x->ud);
            tern_message_release(m);
            break;
        }
        case XK_DL_FILE: ((tern_download_cb)x->done)(c, x->id, code, message, x->ud); break;
        case XK_DL_MEM:
            ((tern_download_memory_cb)x->done)(c, x->id, code, message, code ? NULL : x->mem.data,
                                               code ? 0 : x->mem.len, x->ud);
            break;
        }
    }
    c->in_cb--;
    sdk_xfer_free(x);
}

/* Ends a running transfer: out of the running list, resources released, done called,
 * then counted out. */
static void end_running(sdk_media *md, sdk_xfer *x, int code, const char *message)
{
    tern_client *c = md->c;
    xl_unlink(&md->run, x);
    step_release(md, x);
    finish(c, x, code, message);
    md->nrun--;
    atomic_fetch_sub(&c->media_running, 1);
}

/* curl finished x's step with result. */
static void step_done(sdk_media *md, sdk_xfer *x, CURLcode result)
{
    char msg[400] = "";
    long status = status_of(x);
    int code = 0;
    if (x->local_err) {
        code = x->local_err;
        snprintf(msg, sizeof msg, "%s", x->local_msg);
    } else if (status > 200) {
        code = sdk_media_http_error(x, status, msg, sizeof msg);
    } else if (result != CURLE_OK) {
        code = result == CURLE_OPERATION_TIMEDOUT ? TERN_ERR_SDK_TIMEOUT : TERN_ERR_SDK_IO;
        snprintf(msg, sizeof msg, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(result));
    } else if (status != 200) {
        code = TERN_ERR_SDK_IO;
        snprintf(msg, sizeof msg, "no HTTP answer from the media server");
    }
    if (code == 0 && XK_IS_UPLOAD(x->kind)) {
        if (sdk_media_read_answer(x) != 0) {
            code = TERN_ERR_SDK_IO;
            snprintf(msg, sizeof msg, "the media server's answer has no mediaId");
        } else if (x->cur + 1 < x->nfiles) { /* the video's snapshot next, same slot */
            step_release(md, x);
            x->base += x->sizes[x->cur];
            x->cur++;
            if (step_start(md, x) == 0)
                return;
            code = x->local_err;
            snprintf(msg, sizeof msg, "%s", x->local_msg);
        }
    }
    if (code == 0 && x->kind == XK_DL_FILE) {
        close(x->fd);
        x->fd = -1;
        if (rename(x->tmp, x->dest) != 0) {
            code = TERN_ERR_SDK_IO;
            snprintf(msg, sizeof msg, "cannot rename to %s: %s", x->dest, strerror(errno));
        } else {
            x->tmp[0] = 0; /* in place: nothing to remove */
        }
    }
    if (code == 0 && !XK_IS_UPLOAD(x->kind)) {
        uint64_t got = x->kind == XK_DL_MEM ? x->mem.len : x->now;
        if (x->kind == XK_DL_FILE) {
            curl_off_t n = 0;
            curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &n);
            got = (uint64_t)n;
        }
        x->total = x->now = got;
    }
    end_running(md, x, code, msg);
}

/* ---- the pump ------------------------------------------------------------------------- */

static void start_waiting(sdk_media *md)
{
    tern_client *c = md->c;
    while (!md->closing && md->nrun < TERN_MEDIA_MAX_RUNNING && md->wait.head) {
        sdk_xfer *x = md->wait.head;
        xl_unlink(&md->wait, x);
        atomic_fetch_sub(&c->media_waiting, 1);
        xl_push(&md->run, x);
        md->nrun++;
        atomic_fetch_add(&c->media_running, 1);
        if (step_start(md, x) != 0)
            end_running(md, x, x->local_err, x->local_msg);
    }
}

/* After curl ran: ends finished transfers, reports progress, starts waiting ones. */
static void pump(sdk_media *md)
{
    CURLMsg *m;
    int left;
    while (!md->closing && (m = curl_multi_info_read(md->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode result = m->data.result;
        sdk_xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            step_done(md, x, result);
    }
    for (sdk_xfer *x = md->run.head; x && !md->closing;) {
        sdk_xfer *next = x->next; /* a progress callback cannot end x: it only queues */
        if (x->easy && x->now > 0)
            emit_progress(md->c, x, x->now, x->total);
        x = next;
    }
    start_waiting(md);
}

static void on_timer(uv_timer_t *t)
{
    sdk_media *md = t->data;
    int running;
    if (md->closing)
        return;
    curl_multi_socket_action(md->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    pump(md);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *ud)
{
    sdk_media *md = ud;
    if (timeout_ms < 0)
        uv_timer_stop(&md->timer);
    else if (!md->closing) /* 0 ("at once") as 1 ms: libuv 1.44 runs a timer restarted at 0
                              from its own callback again in the same pass, for as long as
                              curl keeps asking, and the loop's I/O (the WebSocket, cancels)
                              starves; curl's multi-uv example does the same */
        uv_timer_start(&md->timer, on_timer, timeout_ms ? (uint64_t)timeout_ms : 1, 0);
    return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    xpoll *p = h->data;
    sdk_media *md = p->md;
    int flags = 0, running;
    if (md->closing)
        return;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(md->multi, p->fd, flags, &running);
    pump(md);
}

static void on_poll_closed(uv_handle_t *h)
{
    xpoll *p = h->data;
    tern_client *c = p->md->c;
    tern_free(p);
    sdk_handle_closed(c);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
    sdk_media *md = ud;
    xpoll *p = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (p) {
            uv_poll_stop(&p->poll);
            uv_close((uv_handle_t *)&p->poll, on_poll_closed);
            curl_multi_assign(md->multi, s, NULL);
        }
        return 0;
    }
    if (!p) {
        p = tern_calloc(1, sizeof *p);
        p->md = md;
        p->fd = s;
        if (uv_poll_init_socket(md->c->loop, &p->poll, s) != 0) {
            tern_free(p);
            return -1;
        }
        p->poll.data = p;
        md->c->handles_open++;
        curl_multi_assign(md->multi, s, p);
    }
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&p->poll, ev, on_poll);
    return 0;
}

/* ---- requests from the queue ----------------------------------------------------------- */

static sdk_media *media_of(tern_client *c)
{
    if (c->media)
        return c->media;
    sdk_media *md = tern_calloc(1, sizeof *md);
    md->c = c;
    md->multi = curl_multi_init();
    if (!md->multi) {
        tern_free(md);
        return NULL;
    }
    curl_multi_setopt(md->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(md->multi, CURLMOPT_SOCKETDATA, md);
    curl_multi_setopt(md->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(md->multi, CURLMOPT_TIMERDATA, md);
    uv_timer_init(c->loop, &md->timer);
    md->timer.data = md;
    c->handles_open++;
    c->media = md;
    return md;
}

static void call_cancel_cb(tern_client *c, struct sdk_req *r, int code)
{
    if (!r->cb)
        return;
    c->in_cb++;
    ((tern_cancel_cb)r->cb)(c, r->num, code, tern_strerror(code), r->ud);
    c->in_cb--;
}

void sdk_media_complete_req(tern_client *c, struct sdk_req *r, int code)
{
    if (r->kind == REQ_MEDIA && r->xfer) {
        sdk_xfer *x = r->xfer;
        r->xfer = NULL;
        finish(c, x, code, NULL);
    } else if (r->kind == REQ_MEDIA_CANCEL) {
        call_cancel_cb(c, r, code);
    }
}

void sdk_media_handle(tern_client *c, struct sdk_req *r)
{
    sdk_media *md = media_of(c);
    if (!md) {
        sdk_media_complete_req(c, r, TERN_ERR_SDK_IO);
        sdk_req_free(r);
        return;
    }
    if (r->kind == REQ_MEDIA) {
        sdk_xfer *x = r->xfer;
        r->xfer = NULL;
        sdk_req_free(r);
        xl_push(&md->wait, x);
        atomic_fetch_add(&c->media_waiting, 1);
        start_waiting(md);
        return;
    }
    /* cancel */
    int upload = r->limit == 1;
    sdk_xfer *x = xl_find(&md->run, r->num);
    int running = x != NULL;
    if (!x)
        x = xl_find(&md->wait, r->num);
    if (!x || (XK_IS_UPLOAD(x->kind) ? 1 : 0) != upload) {
        call_cancel_cb(c, r, TERN_ERR_SDK_NO_SUCH_TRANSFER);
        sdk_req_free(r);
        return;
    }
    if (running) {
        end_running(md, x, TERN_ERR_SDK_CANCELED, NULL);
    } else {
        xl_unlink(&md->wait, x);
        atomic_fetch_sub(&c->media_waiting, 1);
        finish(c, x, TERN_ERR_SDK_CANCELED, NULL);
    }
    if (!c->destroyed)
        call_cancel_cb(c, r, 0);
    else
        call_cancel_cb(c, r, TERN_ERR_SDK_CANCELED);
    sdk_req_free(r);
    if (!md->closing)
        start_waiting(md);
}

static void on_timer_closed(uv_handle_t *h)
{
    sdk_handle_closed(h->data);
}

void sdk_media_shutdown(tern_client *c)
{
    sdk_media *md = c->media;
    if (!md || md->closing)
        return;
    md->closing = 1;
    sdk_xfer *x;
    while ((x = md->run.head))
        end_running(md, x, TERN_ERR_SDK_CANCELED, NULL);
    while ((x = md->wait.head)) {
        xl_unlink(&md->wait, x);
        atomic_fetch_sub(&c->media_waiting, 1);
        finish(c, x, TERN_ERR_SDK_CANCELED, NULL);
    }
    curl_multi_cleanup(md->multi); /* closes cached connections: their polls go too */
    md->multi = NULL;
    uv_timer_stop(&md->timer);
    md->timer.data = c;
    uv_close((uv_handle_t *)&md->timer, on_timer_closed);
}

void sdk_media_free(tern_client *c)
{
    tern_free(c->media);
    c->media = NULL;
}
