/*
 * client.c — tern_client's life cycle and threading: create/destroy, the two ways of
 * running the loop (the SDK's own thread, or the app's loop), the cross-thread request
 * queue, event dispatch, and the public request functions (which only validate and
 * queue; session.c does the work on the loop thread).
 *
 * The queue: any thread appends under c->mu and calls uv_async_send (also under the
 * mutex, so destroy cannot close the async handle in between); the loop thread takes
 * the whole list in on_async and handles it in order. Because every request goes
 * through the queue — also those made on the loop thread — no callback ever runs
 * inside a request function.
 *
 * Destruction never frees the client on the call stack of one of its callbacks: the
 * handles are closed (libuv calls their close callbacks later) and the memory goes when
 * the last close callback ran (app loop), when the loop has finished (own loop), or
 * when the SDK thread leaves its loop (thread mode).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/message.h"
#include "core/util.h"
#include "sdk/media.h"
#include "sdk/sdk.h"

#define NUM_HANDLES 6 /* async + 5 timers */

/* The client whose SDK thread this is (thread mode), to recognise destroy from inside
 * a callback without reading another thread's data. */
static _Thread_local tern_client *tls_sdk_thread_client;

/* ---- small things ------------------------------------------------------------------- */

void sdk_set_state(tern_client *c, tern_state s)
{
    atomic_store(&c->state, (int)s);
}

void sdk_emit(tern_client *c, tern_event *ev)
{
    if (c->destroyed || !c->on_event)
        return;
    c->in_cb++;
    c->on_event(c, ev, c->event_ud);
    c->in_cb--;
}

TERN_API void tern_client_options_init(tern_client_options *opts)
{
    if (opts)
        memset(opts, 0, sizeof *opts);
}

TERN_API const char *tern_version(void)
{
    return TERN_VERSION;
}

TERN_API tern_state tern_client_get_state(const tern_client *c)
{
    return c ? (tern_state)atomic_load(&((tern_client *)c)->state) : TERN_STATE_DESTROYED;
}

TERN_API const char *tern_client_user(const tern_client *c)
{
    return c ? c->user : NULL;
}

TERN_API struct uv_loop_s *tern_client_get_loop(tern_client *c)
{
    return c ? c->loop : NULL;
}

TERN_API int tern_client_get_cursor(tern_client *c, char *out, size_t outsz)
{
    if (!c || !out || outsz == 0)
        return -TERN_ERR_SDK_INVALID_ARG;
    uv_mutex_lock(&c->mu);
    size_t n = strlen(c->cursor_copy);
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, c->cursor_copy, n);
    out[n] = 0;
    uv_mutex_unlock(&c->mu);
    return (int)n;
}

/* ---- freeing ------------------------------------------------------------------------ */

static void client_free(tern_client *c)
{
    if (c->own_loop)
        uv_loop_close(c->loop);
    sdk_seqset_free(&c->seen);
    sdk_live_clear(c);
    sdk_streams_free(&c->streams);
    sdk_convlist_free(c);
    sdk_media_free(c);
    uv_mutex_destroy(&c->mu);
    tern_free(c->app);
    tern_free(c->user);
    tern_free(c->device);
    tern_free(c->platform);
    tern_free(c->token);
    tern_free(c->tls_ca_file);
    sdk_tls_ctx_free(c->ssl_ctx);
    tern_free(c);
}

void sdk_handle_closed(tern_client *c)
{
    if (--c->handles_open == 0 && !c->own_loop)
        client_free(c); /* app loop: nothing else refers to the client now */
}

static void on_handle_closed(uv_handle_t *h)
{
    sdk_handle_closed(h->data);
}

/* Loop thread: the destroy work. Completes everything pending with CANCELED, closes
 * the connection and the handles. Safe inside a callback (nothing is freed here). */
static void client_shutdown(tern_client *c)
{
    if (c->destroyed)
        return;
    c->destroyed = 1;
    sdk_set_state(c, TERN_STATE_DESTROYED);
    uv_mutex_lock(&c->mu);
    c->qclosed = 1;
    sdk_req *q = c->qhead;
    c->qhead = c->qtail = NULL;
    uv_mutex_unlock(&c->mu);
    while (q) {
        sdk_req *next = q->next;
        if (q->kind == REQ_SEND || q->kind == REQ_HISTORY || q->kind == REQ_CONVS || q->kind == REQ_READ ||
            q->kind == REQ_LOGIN || q->kind == REQ_LOGOUT || q->kind == REQ_MEDIA || q->kind == REQ_MEDIA_CANCEL ||
            q->kind == REQ_RAW || q->kind == REQ_MERGER || q->kind == REQ_GET_MSGS)
            sdk_complete(c, q, TERN_ERR_SDK_CANCELED, NULL, NULL);
        else
            sdk_req_free(q);
        q = next;
    }
    sdk_conn_close(c, 1000);
    sdk_sess_fail_all(c, TERN_ERR_SDK_CANCELED, 0);
    sdk_media_shutdown(c);
    c->session = c->logged_in = c->syncing = 0;
    uv_close((uv_handle_t *)&c->async, on_handle_closed);
    uv_close((uv_handle_t *)&c->req_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->hb_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->conn_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->cl_timer, on_handle_closed);
}

/* ---- the queue ---------------------------------------------------------------------- */

static void on_async(uv_async_t *a)
{
    tern_client *c = a->data;
    uv_mutex_lock(&c->mu);
    sdk_req *q = c->qhead;
    c->qhead = c->qtail = NULL;
    uv_mutex_unlock(&c->mu);
    while (q) {
        sdk_req *r = q;
        q = q->next;
        r->next = NULL;
        if (c->destroyed) {
            /* A callback destroyed the client while we were going through the list. */
            if (r->kind == REQ_STOP || r->kind == REQ_DESTROY || r->kind == REQ_SET_TOKEN)
                sdk_req_free(r);
            else
                sdk_complete(c, r, TERN_ERR_SDK_CANCELED, NULL, NULL);
            continue;
        }
        switch (r->kind) {
        case REQ_STOP:
            sdk_req_free(r);
            uv_stop(c->loop);
            break;
        case REQ_DESTROY:
            sdk_req_free(r);
            client_shutdown(c);
            break;
        default: sdk_sess_handle(c, r); break;
        }
    }
}

int sdk_enqueue(tern_client *c, sdk_req *r)
{
    uv_mutex_lock(&c->mu);
    if (c->qclosed) {
        uv_mutex_unlock(&c->mu);
        return TERN_ERR_SDK_CANCELED;
    }
    r->next = NULL;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    uv_async_send(&c->async);
    uv_mutex_unlock(&c->mu);
    return 0;
}

static int submit(tern_client *c, int kind, sdk_fn cb, void *ud, char *str, uint64_t num, unsigned limit,
                  tern_message *msg, int online_only)
{
    sdk_req *r = tern_calloc(1, sizeof *r);
    r->kind = kind;
    r->cb = cb;
    r->ud = ud;
    r->str = str;
    r->num = num;
    r->limit = limit;
    r->msg = msg;
    r->online_only = online_only;
    int rc = sdk_enqueue(c, r);
    if (rc) {
        r->msg = NULL; /* the caller undoes what it did to the message */
        sdk_req_free(r);
    }
    return rc;
}

/* ---- create / destroy ------------------------------------------------------------- */

/* A write to a socket the server already closed raises SIGPIPE, which kills the
 * process by default; libuv writes with write(2), so MSG_NOSIGNAL is not an option.
 * Like nng and most client libraries, ignore SIGPIPE — but only if the app left it at
 * the default (an app's own handler or choice stays). */
static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;

static void ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_SIGINFO)) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

/* libcurl (media transfers) is initialised once per process and never cleaned up:
 * curl_global_cleanup is not safe while another part of the app may still use it. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int app_ok(const char *app)
{
    const char *slash = app ? strchr(app, '/') : NULL;
    return slash && tern_ident_valid(app, (size_t)(slash - app)) && tern_ident_valid(slash + 1, strlen(slash + 1));
}

static int token_ok(const char *t)
{
    return t && *t && sdk_str_ok(t, 4096, 1);
}

static void init_timer(tern_client *c, uv_timer_t *t)
{
    uv_timer_init(c->loop, t);
    t->data = c;
}

TERN_API int tern_client_create(const char *server_url, const char *app, const char *user, const char *token,
                                const tern_client_options *opts, tern_client **out)
{
    if (!out)
        return TERN_ERR_SDK_INVALID_ARG;
    *out = NULL;
    tern_client_options defaults;
    tern_client_options_init(&defaults);
    if (!opts)
        opts = &defaults;
    sdk_url url;
    if (sdk_url_parse(server_url, &url) != 0 || !app_ok(app) || !user || !tern_ident_valid(user, strlen(user)) ||
        !token_ok(token))
        return TERN_ERR_SDK_INVALID_ARG;
    if ((opts->device && !sdk_str_ok(opts->device, 64, 1)) || (opts->platform && !sdk_str_ok(opts->platform, 64, 1)))
        return TERN_ERR_SDK_INVALID_ARG;
    uint64_t cur;
    if (opts->sync_cursor && *opts->sync_cursor &&
        (strlen(opts->sync_cursor) > 20 || tern_parse_u64(opts->sync_cursor, strlen(opts->sync_cursor), &cur) < 0))
        return TERN_ERR_SDK_INVALID_ARG;

    struct ssl_ctx_st *ssl_ctx = NULL;
    if (url.tls) {
        int rc = sdk_tls_ctx_new(opts->tls_ca_file, &ssl_ctx);
        if (rc != TERN_OK)
            return rc;
    }

    pthread_once(&sigpipe_once, ignore_sigpipe);
    pthread_once(&curl_once, init_curl);
    tern_client *c = tern_calloc(1, sizeof *c);
    c->url = url;
    c->ssl_ctx = ssl_ctx;
    c->app = tern_strdup(app);
    c->user = tern_strdup(user);
    c->token = tern_strdup(token);
    c->device = opts->device ? tern_strdup(opts->device) : NULL;
    c->platform = tern_strdup(opts->platform ? opts->platform : "c");
    c->tls_ca_file = opts->tls_ca_file ? tern_strdup(opts->tls_ca_file) : NULL;
    c->media_max_bps = opts->media_max_bytes_per_sec;
    c->on_event = opts->on_event;
    c->event_ud = opts->user_data;
    c->req_timeout_ms = opts->request_timeout_ms ? opts->request_timeout_ms : 10000;
    c->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
    c->rc_min_ms = opts->reconnect_min_ms ? opts->reconnect_min_ms : 500;
    c->rc_max_ms = opts->reconnect_max_ms ? opts->reconnect_max_ms : 30000;
    c->hb_override_ms = opts->heartbeat_ms;
    c->no_reconnect = opts->no_reconnect;
    c->max_msg = opts->max_message_bytes ? opts->max_message_bytes : 4u << 20;
    if (opts->sync_cursor && *opts->sync_cursor) {
        snprintf(c->cursor, sizeof c->cursor, "%s", opts->sync_cursor);
        memcpy(c->cursor_copy, c->cursor, sizeof c->cursor);
    }
    sdk_seqset_init(&c->seen);
    sdk_streams_init(&c->streams);
    atomic_init(&c->state, TERN_STATE_IDLE);
    atomic_init(&c->media_next_id, 0);
    atomic_init(&c->media_running, 0);
    atomic_init(&c->media_waiting, 0);

    if (opts->loop) {
        c->loop = opts->loop;
    } else {
        if (uv_loop_init(&c->own_loop_storage) != 0)
            goto fail;
        c->loop = &c->own_loop_storage;
        c->own_loop = 1;
    }
    if (uv_mutex_init(&c->mu) != 0)
        goto fail_loop;
    if (uv_async_init(c->loop, &c->async, on_async) != 0) {
        uv_mutex_destroy(&c->mu);
        goto fail_loop;
    }
    c->async.data = c;
    init_timer(c, &c->req_timer);
    init_timer(c, &c->hb_timer);
    init_timer(c, &c->retry_timer);
    init_timer(c, &c->conn_timer);
    init_timer(c, &c->cl_timer);
    if (!opts->no_conversation_list)
        sdk_convlist_init(c);
    c->handles_open = NUM_HANDLES;
    *out = c;
    return TERN_OK;

fail_loop:
    if (c->own_loop)
        uv_loop_close(c->loop);
fail:
    c->own_loop = 0;
    sdk_seqset_free(&c->seen);
    tern_free(c->app);
    tern_free(c->user);
    tern_free(c->token);
    tern_free(c->device);
    tern_free(c->platform);
    tern_free(c->tls_ca_file);
    sdk_tls_ctx_free(c->ssl_ctx);
    tern_free(c);
    return TERN_ERR_SDK_IO;
}

static void thread_main(void *arg)
{
    tern_client *c = arg;
    tls_sdk_thread_client = c;
    uv_run(c->loop, UV_RUN_DEFAULT);
    tls_sdk_thread_client = NULL;
    if (c->self_free) {
        /* Destroyed from one of its own callbacks: nobody will join this thread. */
        pthread_detach(pthread_self());
        client_free(c);
    }
}

TERN_API int tern_client_start_thread(tern_client *c)
{
    if (!c || !c->own_loop || c->thread_mode)
        return TERN_ERR_SDK_INVALID_ARG;
    c->thread_mode = 1;
    if (uv_thread_create(&c->thread, thread_main, c) != 0) {
        c->thread_mode = 0;
        return TERN_ERR_SDK_IO;
    }
    return TERN_OK;
}

TERN_API void tern_client_destroy(tern_client *c)
{
    if (!c)
        return;
    if (c->thread_mode) {
        if (tls_sdk_thread_client == c) {
            /* From a callback on the SDK thread: finish there once the callback returns. */
            c->self_free = 1;
            client_shutdown(c);
            return;
        }
        sdk_req *r = tern_calloc(1, sizeof *r);
        r->kind = REQ_DESTROY;
        if (sdk_enqueue(c, r) != 0)
            sdk_req_free(r);
        uv_thread_join(&c->thread);
        client_free(c);
        return;
    }
    if (c->own_loop) {
        if (c->in_cb) {
            fprintf(stderr, "libtern: tern_client_destroy called from a callback while the app drives "
                            "the SDK's loop; destroy it after tern_client_run returns\n");
            abort();
        }
        client_shutdown(c);
        uv_run(c->loop, UV_RUN_DEFAULT); /* until the handles (and connection) are closed */
        client_free(c);
        return;
    }
    client_shutdown(c); /* app loop: the last close callback frees the client */
}

/* ---- running the loop (mode b) ------------------------------------------------------ */

TERN_API int tern_client_run(tern_client *c)
{
    if (!c || c->thread_mode || !c->own_loop || c->in_cb || c->destroyed)
        return TERN_ERR_SDK_INVALID_ARG;
    uv_run(c->loop, UV_RUN_DEFAULT);
    return TERN_OK;
}

TERN_API int tern_client_run_once(tern_client *c, int block)
{
    if (!c || c->thread_mode || !c->own_loop || c->in_cb || c->destroyed)
        return -TERN_ERR_SDK_INVALID_ARG;
    return uv_run(c->loop, block ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0;
}

TERN_API int tern_client_stop(tern_client *c)
{
    if (!c || c->thread_mode || !c->own_loop)
        return TERN_ERR_SDK_INVALID_ARG;
    return submit(c, REQ_STOP, NULL, NULL, NULL, 0, 0, NULL, 0) ? TERN_ERR_SDK_INVALID_ARG : TERN_OK;
}

/* ---- requests ----------------------------------------------------------------------- */

TERN_API int tern_client_set_token(tern_client *c, const char *token)
{
    if (!c || !token_ok(token))
        return TERN_ERR_SDK_INVALID_ARG;
    char *t = tern_strdup(token);
    int rc = submit(c, REQ_SET_TOKEN, NULL, NULL, t, 0, 0, NULL, 0);
    return rc;
}

TERN_API int tern_login(tern_client *c, tern_result_cb cb, void *ud)
{
    if (!c)
        return TERN_ERR_SDK_INVALID_ARG;
    return submit(c, REQ_LOGIN, (sdk_fn)cb, ud, NULL, 0, 0, NULL, 0);
}

TERN_API int tern_logout(tern_client *c, tern_result_cb cb, void *ud)
{
    if (!c)
        return TERN_ERR_SDK_INVALID_ARG;
    return submit(c, REQ_LOGOUT, (sdk_fn)cb, ud, NULL, 0, 0, NULL, 0);
}

TERN_API int tern_send_message(tern_client *c, tern_message *m, const tern_send_options *opts, tern_send_cb cb,
                               void *ud)
{
    if (!c || !m || !m->to || !*m->to) /* a media draft without tern_message_set_target */
        return TERN_ERR_SDK_INVALID_ARG;
    int prev = TERN_MSG_STATUS_DRAFT;
    if (!atomic_compare_exchange_strong(&m->status, &prev, TERN_MSG_STATUS_SENDING)) {
        prev = TERN_MSG_STATUS_FAILED;
        if (!atomic_compare_exchange_strong(&m->status, &prev, TERN_MSG_STATUS_SENDING))
            return TERN_ERR_SDK_INVALID_ARG;
    }
    /* The options: checked and copied now; the message fields among them written into
     * the message, which is ours alone between the status change and the queue. */
    sdk_send_extra *sx = NULL;
    int rc = sdk_send_extra_new(opts, &sx);
    if (rc == TERN_OK && opts && opts->at_user_count)
        rc = sdk_msg_set_at_users(m, opts->at_users, opts->at_user_count);
    if (rc != TERN_OK) {
        sdk_send_extra_free(sx);
        atomic_store(&m->status, prev);
        return rc;
    }
    if (opts && opts->priority)
        m->priority = opts->priority;
    if (opts && opts->need_read_receipt)
        m->need_read_receipt = 1;
    tern_message_ref(m);
    sdk_req *r = tern_calloc(1, sizeof *r);
    r->kind = REQ_SEND;
    r->cb = (sdk_fn)cb;
    r->ud = ud;
    r->msg = m;
    r->online_only = sdk_send_extra_online_only(sx);
    r->sx = sx;
    rc = sdk_enqueue(c, r);
    if (rc) {
        r->msg = NULL;
        sdk_req_free(r);
        atomic_store(&m->status, prev);
        tern_message_release(m);
    }
    return rc;
}

static int conv_id_ok(const char *id)
{
    return id && *id && sdk_str_ok(id, 200, 1);
}

TERN_API int tern_get_message_list(tern_client *c, const char *conversation_id, uint64_t before_seq, unsigned limit,
                                   tern_message_list_cb cb, void *ud)
{
    if (!c || !cb || !conv_id_ok(conversation_id) || limit > 100)
        return TERN_ERR_SDK_INVALID_ARG;
    return submit(c, REQ_HISTORY, (sdk_fn)cb, ud, tern_strdup(conversation_id), before_seq, limit ? limit : 20, NULL,
                  0);
}

TERN_API int tern_get_conversation_list(tern_client *c, unsigned limit, tern_conversation_list_cb cb, void *ud)
{
    if (!c || !cb || limit > 500)
        return TERN_ERR_SDK_INVALID_ARG;
    return submit(c, REQ_CONVS, (sdk_fn)cb, ud, NULL, 0, limit ? limit : 100, NULL, 0);
}

TERN_API int tern_set_message_read(tern_client *c, const char *conversation_id, uint64_t seq, tern_read_cb cb, void *ud)
{
    if (!c || !conv_id_ok(conversation_id))
        return TERN_ERR_SDK_INVALID_ARG;
    return submit(c, REQ_READ, (sdk_fn)cb, ud, tern_strdup(conversation_id), seq, 0, NULL, 0);
}

/* ---- names -------------------------------------------------------------------------- */

TERN_API const char *tern_event_name(tern_event_type t)
{
    switch (t) {
    case TERN_EVENT_SDK_READY: return "SDK_READY";
    case TERN_EVENT_SDK_NOT_READY: return "SDK_NOT_READY";
    case TERN_EVENT_MESSAGE_RECEIVED: return "MESSAGE_RECEIVED";
    case TERN_EVENT_CONVERSATION_CHANGED: return "CONVERSATION_CHANGED";
    case TERN_EVENT_MESSAGE_READ: return "MESSAGE_READ";
    case TERN_EVENT_KICKED_OUT: return "KICKED_OUT";
    case TERN_EVENT_RECONNECTING: return "RECONNECTING";
    case TERN_EVENT_DISCONNECTED: return "DISCONNECTED";
    case TERN_EVENT_STREAM_STARTED: return "STREAM_STARTED";
    case TERN_EVENT_STREAM_CHUNK: return "STREAM_CHUNK";
    case TERN_EVENT_STREAM_FINISHED: return "STREAM_FINISHED";
    case TERN_EVENT_MESSAGE_READ_BY_PEER: return "MESSAGE_READ_BY_PEER";
    case TERN_EVENT_MESSAGE_READ_RECEIPT: return "MESSAGE_READ_RECEIPT";
    case TERN_EVENT_MESSAGE_EXTENSIONS_UPDATED: return "MESSAGE_EXTENSIONS_UPDATED";
    case TERN_EVENT_CONVERSATION_LIST_UPDATED: return "CONVERSATION_LIST_UPDATED";
    }
    return "UNKNOWN";
}

TERN_API const char *tern_state_name(tern_state s)
{
    switch (s) {
    case TERN_STATE_IDLE: return "IDLE";
    case TERN_STATE_CONNECTING: return "CONNECTING";
    case TERN_STATE_LOGGING_IN: return "LOGGING_IN";
    case TERN_STATE_SYNCING: return "SYNCING";
    case TERN_STATE_READY: return "READY";
    case TERN_STATE_RECONNECTING: return "RECONNECTING";
    case TERN_STATE_KICKED: return "KICKED";
    case TERN_STATE_DESTROYED: return "DESTROYED";
    }
    return "UNKNOWN";
}

TERN_API const char *tern_conv_type_name(tern_conv_type t)
{
    return t == TERN_CONV_GROUP ? "GROUP" : t == TERN_CONV_C2C ? "C2C" : "";
}

TERN_API const char *tern_priority_name(tern_priority p)
{
    return tern_msg_priority_name((int)p);
}
