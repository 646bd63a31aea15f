/*
 * webhook.c — the webhook thread (webhook.h): a queue that any thread appends to, and one
 * thread that takes it, runs up to WH_PARALLEL requests at once on a libcurl multi
 * handle, retries the asynchronous ones with a doubling wait, and calls each request's
 * done callback. The queue's bound counts every request from submit to its end, so a
 * dead backend costs at most --webhook-queue requests of memory, and what does not fit is
 * dropped and counted rather than slowing the sender.
 */
#include "hooks/webhook.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"

#define WH_PARALLEL 64           /* requests in flight at once */
#define WH_MAX_ANSWER (64 << 10) /* bytes of an answer kept */

typedef struct wh_job {
    wh_request rq; /* url, secret, app_key point at the copies below */
    char *url, *secret, *app_key;
    int tries;       /* attempts started */
    uint64_t due_ms; /* the next attempt not before (tern_mono_ns / 1e6) */
    int prepared;
    CURL *easy;
    struct curl_slist *hdrs;
    tern_buf answer;
    struct wh_job *next;
} wh_job;

struct webhook {
    server *s;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    wh_job *in_head, *in_tail; /* submitted, not yet taken by the thread (under mu) */
    size_t count;              /* requests from submit to end (under mu) */
    int stopping;              /* under mu */
    CURLM *multi;
    wh_job *pending; /* the thread's: waiting for their first try or a retry */
    wh_job *running[WH_PARALLEL]; /* the thread's: on the multi handle */
    size_t inflight;
    atomic_int apps_hooked;
    atomic_uint_fast64_t sent, failed, dropped, retries;
};

static uint64_t now_ms(void)
{
    return tern_mono_ns() / 1000000u;
}

void webhook_sign(const char *key, int64_t ts_ms, const char *body, size_t n, char out[72])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[32];
    char ts[24];
    int tn = snprintf(ts, sizeof ts, "%lld.", (long long)ts_ms);
    /* HMAC-SHA256 over timestamp "." body, fed in two pieces (no copy of the body). */
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, (const unsigned char *)key, strlen(key));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t ml = sizeof mac;
    if (!pk || !ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) != 1 ||
        EVP_DigestSignUpdate(ctx, ts, (size_t)tn) != 1 || EVP_DigestSignUpdate(ctx, body, n) != 1 ||
        EVP_DigestSignFinal(ctx, mac, &ml) != 1 || ml != sizeof mac)
        memset(mac, 0, sizeof mac); /* out of memory: a signature that verifies nothing */
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    memcpy(out, "sha256=", 7);
    for (size_t i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[71] = 0;
}

static void job_free(webhook *w, wh_job *j)
{
    if (j->easy) {
        curl_multi_remove_handle(w->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    curl_slist_free_all(j->hdrs);
    tern_buf_free(&j->answer);
    if (j->rq.free_ud)
        j->rq.free_ud(j->rq.ud);
    tern_free(j->rq.body);
    tern_free(j->url);
    tern_free(j->secret);
    tern_free(j->app_key);
    tern_free(j);
    pthread_mutex_lock(&w->mu);
    w->count--;
    pthread_mutex_unlock(&w->mu);
}

/* The request ended with status (0: no answer). */
static void job_end(webhook *w, wh_job *j, int status)
{
    if (status >= 200 && status < 300)
        atomic_fetch_add(&w->sent, 1);
    else
        atomic_fetch_add(&w->failed, 1);
    if (j->rq.done)
        j->rq.done(j->rq.ud, status, j->answer.len ? (const char *)j->answer.data : NULL, j->answer.len);
    job_free(w, j);
}

static size_t on_answer(char *p, size_t sz, size_t nm, void *ud)
{
    wh_job *j = ud;
    size_t n = sz * nm;
    if (j->answer.len + n > WH_MAX_ANSWER)
        return 0; /* too long: the transfer fails */
    tern_buf_append(&j->answer, p, n);
    return n;
}

static const char *kind_name(wh_kind k)
{
    return k == WH_BEFORE_SEND ? "beforeSend" : k == WH_AFTER_SEND ? "afterSend" : "push";
}

/* Starts the next attempt of j on the multi handle; 0, or -1 (the job is ended). */
static int job_start(webhook *w, wh_job *j)
{
    if (!j->prepared) {
        j->prepared = 1;
        if (j->rq.prepare && !j->rq.prepare(j->rq.ud, w->s, &j->rq.body, &j->rq.body_n)) {
            job_free(w, j);
            return -1;
        }
    }
    if (j->tries++)
        atomic_fetch_add(&w->retries, 1);
    tern_buf_reset(&j->answer);
    curl_slist_free_all(j->hdrs);
    j->hdrs = NULL;
    if (!j->easy)
        j->easy = curl_easy_init();
    else
        curl_easy_reset(j->easy);
    if (!j->easy) {
        job_end(w, j, 0);
        return -1;
    }
    int64_t ts = tern_now_ms();
    char sig[72], h[160];
    webhook_sign(j->secret, ts, j->rq.body, j->rq.body_n, sig);
    j->hdrs = curl_slist_append(j->hdrs, "Content-Type: application/json");
    j->hdrs = curl_slist_append(j->hdrs, "Expect:");
    snprintf(h, sizeof h, "X-Tern-Event: %s", kind_name(j->rq.kind));
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof h, "X-Tern-App: %s", j->app_key);
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof h, "X-Tern-Timestamp: %lld", (long long)ts);
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof h, "X-Tern-Signature: %s", sig);
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof h, "X-Tern-Attempt: %d", j->tries);
    j->hdrs = curl_slist_append(j->hdrs, h);
    CURL *e = j->easy;
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->rq.body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->rq.body_n);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)j->rq.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)j->rq.timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ternd-webhook");
    if (curl_multi_add_handle(w->multi, e) != CURLM_OK) {
        job_end(w, j, 0);
        return -1;
    }
    w->running[w->inflight++] = j;
    return 0;
}

/* An attempt of j finished with curl's result rc. */
static void job_done(webhook *w, wh_job *j, CURLcode rc)
{
    long st = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &st);
    curl_multi_remove_handle(w->multi, j->easy);
    for (size_t i = 0; i < w->inflight; i++)
        if (w->running[i] == j) {
            w->running[i] = w->running[--w->inflight];
            break;
        }
    int ok = st >= 200 && st < 300;
    if (ok || j->rq.sync || j->tries >= w->s->cfg.webhook_attempts) {
        if (!ok)
            LOG_WARN("webhook %s to %s: %s (attempt %d)", kind_name(j->rq.kind), j->url,
                     rc != CURLE_OK ? curl_easy_strerror(rc) : "non-2xx answer", j->tries);
        job_end(w, j, (int)st);
        return;
    }
    uint64_t wait = (uint64_t)w->s->cfg.webhook_retry_ms << (j->tries - 1 < 16 ? j->tries - 1 : 16);
    if (wait > 60000)
        wait = 60000;
    j->due_ms = now_ms() + wait;
    j->next = w->pending;
    w->pending = j;
}

static void *run(void *arg)
{
    webhook *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int stopping = w->stopping;
        wh_job *in = w->in_head;
        w->in_head = w->in_tail = NULL;
        pthread_mutex_unlock(&w->mu);
        /* New requests go after the waiting ones, oldest first. */
        wh_job **tail = &w->pending;
        while (*tail)
            tail = &(*tail)->next;
        *tail = in;
        if (stopping)
            break;
        uint64_t now = now_ms(), next_due = now + 100;
        for (wh_job **pp = &w->pending; *pp && w->inflight < WH_PARALLEL;) {
            wh_job *j = *pp;
            if (j->due_ms > now) {
                if (j->due_ms < next_due)
                    next_due = j->due_ms;
                pp = &j->next;
                continue;
            }
            *pp = j->next;
            j->next = NULL;
            job_start(w, j);
        }
        int running = 0;
        curl_multi_perform(w->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(w->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            wh_job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            job_done(w, j, m->data.result);
        }
        int wait = (int)(next_due > now ? next_due - now : 0);
        if (w->pending && w->inflight < WH_PARALLEL && wait > 100)
            wait = 100;
        curl_multi_poll(w->multi, NULL, 0, wait, NULL);
    }
    return NULL;
}

int webhook_start(server *s)
{
    webhook *w = tern_calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->s = s;
    pthread_mutex_init(&w->mu, NULL);
    s->webhook = w;
    webhook_refresh(s);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(w->multi = curl_multi_init())) {
        LOG_ERROR("webhook: cannot initialize libcurl");
        return -1;
    }
    if (pthread_create(&w->th, NULL, run, w) != 0) {
        LOG_ERROR("webhook: cannot start the thread");
        return -1;
    }
    w->started = 1;
    return 0;
}

void webhook_stop(server *s)
{
    webhook *w = s->webhook;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    int was = w->stopping;
    w->stopping = 1;
    pthread_mutex_unlock(&w->mu);
    if (was)
        return;
    if (w->started) {
        curl_multi_wakeup(w->multi);
        pthread_join(w->th, NULL);
        w->started = 0;
    }
    /* What is left ends unanswered: in flight first, then the waiting ones (and any the
     * thread did not take: none when it ran, all when it never started). */
    pthread_mutex_lock(&w->mu);
    wh_job *in = w->in_head;
    w->in_head = w->in_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    wh_job **tail = &w->pending;
    while (*tail)
        tail = &(*tail)->next;
    *tail = in;
    for (wh_job *j = w->pending; j;) {
        wh_job *n = j->next;
        j->next = NULL;
        job_end(w, j, 0);
        j = n;
    }
    w->pending = NULL;
    while (w->inflight)
        job_end(w, w->running[--w->inflight], 0);
}

void webhook_free(server *s)
{
    webhook *w = s->webhook;
    if (!w)
        return;
    webhook_stop(s);
    if (w->multi)
        curl_multi_cleanup(w->multi);
    curl_global_cleanup(); /* pairs with webhook_start's curl_global_init */
    pthread_mutex_destroy(&w->mu);
    tern_free(w);
    s->webhook = NULL;
}

int webhook_submit(server *s, const wh_request *rq)
{
    webhook *w = s->webhook;
    if (!w)
        return TERN_ERR_SHUTTING_DOWN;
    /* The check and the append in one critical section: a request counted while the
     * thread still runs is on in_head before webhook_stop can look, so it is ended. */
    wh_job *j = tern_calloc(1, sizeof *j);
    j->rq = *rq;
    j->url = tern_strdup(rq->url);
    j->secret = tern_strdup(rq->secret);
    j->app_key = tern_strdup(rq->app_key);
    tern_buf_init(&j->answer, 0);
    pthread_mutex_lock(&w->mu);
    int rc = w->stopping ? TERN_ERR_SHUTTING_DOWN
             : w->count >= (size_t)s->cfg.webhook_queue ? TERN_ERR_OVERLOADED
                                                          : TERN_OK;
    if (rc == TERN_OK) {
        w->count++;
        if (w->in_tail)
            w->in_tail->next = j;
        else
            w->in_head = j;
        w->in_tail = j;
    }
    pthread_mutex_unlock(&w->mu);
    if (rc != TERN_OK) { /* nothing taken: body and ud stay the caller's */
        atomic_fetch_add(&w->dropped, 1);
        tern_free(j->url);
        tern_free(j->secret);
        tern_free(j->app_key);
        tern_free(j);
        return rc;
    }
    curl_multi_wakeup(w->multi);
    return TERN_OK;
}

void webhook_get_stats(server *s, webhook_stats *out)
{
    webhook *w = s->webhook;
    memset(out, 0, sizeof *out);
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    out->queued = w->count;
    pthread_mutex_unlock(&w->mu);
    out->sent = atomic_load(&w->sent);
    out->failed = atomic_load(&w->failed);
    out->dropped = atomic_load(&w->dropped);
    out->retries = atomic_load(&w->retries);
}

static int app_hooked(const app_info *a)
{
    const app_settings *st = &a->settings;
    return st->push_url[0] || (st->callback_url[0] && (st->before_send || st->after_send));
}

int webhook_apps_hooked(const server *s)
{
    return s->webhook ? atomic_load(&s->webhook->apps_hooked) : 0;
}

void webhook_refresh(server *s)
{
    if (s->webhook)
        atomic_store(&s->webhook->apps_hooked, (int)apps_count_if(s, app_hooked));
}
