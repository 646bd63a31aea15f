/* it_hooks.c — webhooks against the real ternd (issue 10). The test process runs a small
 * HTTP server on a thread as the app's backend: it records every request (path, the
 * X-Tern-* headers, body) and answers as the test says (allow, deny, a rewrite, slowly,
 * with 500s first). Checked:
 *   - offline push: a push for an offline C2C peer and for the offline members of a
 *     group, with offlinePushInfo's fields, the summary and the recipients; none for an
 *     online peer, with disablePush, for onlineUserOnly, for a custom message without
 *     any description; the signature verifies with the app's client secret;
 *   - before-send: allow, deny (10016), rewrite (the peer gets the rewritten text; a
 *     rewrite past 12 KB is 80002), the backend down with callbackOnFailure allow and
 *     deny, too slow for callbackTimeoutMs; the signature with callbackSecret;
 *   - after-send: arrives after the commit with the stored message, retried after a 500;
 *   - the queue bound: with --webhook-queue 2 and a slow backend, requests are dropped
 *     and tern_webhook_dropped_total counts them;
 *   - string settings: bad URLs and enums are 1003. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- the backend --------------------------------------------------------------------- */

#define MAX_REQS 256

typedef struct rec {
    char path[64], event[32], sig[80], attempt[8];
    long long ts;
    char *body;
    int64_t at_ms;
} rec;

static struct backend {
    int fd, port;
    pthread_t th;
    pthread_mutex_t mu;
    rec reqs[MAX_REQS];
    int n;
    /* how to answer */
    int status;        /* HTTP status */
    char answer[16384]; /* body */
    int delay_ms;
    int fail_first; /* this many requests get 500 first */
    atomic_int stop;
} be = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void header(const char *head, const char *name, char *out, size_t outsz)
{
    out[0] = 0;
    const char *p = strcasestr(head, name);
    if (!p)
        return;
    p += strlen(name);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(out, outsz, "%.*s", (int)n, p);
}

static void serve(int c)
{
    char buf[65536];
    size_t n = 0;
    char *end = NULL;
    while (n < sizeof buf - 1 && !(end = strstr(buf, "\r\n\r\n"))) {
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            return;
        n += (size_t)r;
        buf[n] = 0;
    }
    if (!end)
        return;
    char cl[24];
    *end = 0;
    header(buf, "Content-Length:", cl, sizeof cl);
    size_t want = (size_t)atol(cl), hl = (size_t)(end - buf) + 4;
    while (n < hl + want && n < sizeof buf - 1) {
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            return;
        n += (size_t)r;
    }
    buf[n] = 0;
    pthread_mutex_lock(&be.mu);
    int idx = be.n < MAX_REQS ? be.n++ : -1;
    int delay = be.delay_ms, status = be.status;
    if (be.fail_first > 0) {
        be.fail_first--;
        status = 500;
    }
    char ans[sizeof be.answer];
    snprintf(ans, sizeof ans, "%s", be.answer);
    if (idx >= 0) {
        rec *q = &be.reqs[idx];
        sscanf(buf, "POST %63s", q->path);
        header(buf, "X-Tern-Event:", q->event, sizeof q->event);
        header(buf, "X-Tern-Signature:", q->sig, sizeof q->sig);
        header(buf, "X-Tern-Attempt:", q->attempt, sizeof q->attempt);
        char ts[24];
        header(buf, "X-Tern-Timestamp:", ts, sizeof ts);
        q->ts = atoll(ts);
        q->body = strndup(buf + hl, want);
        q->at_ms = it_now_ms();
    }
    pthread_mutex_unlock(&be.mu);
    if (delay)
        it_sleep_ms(delay);
    char out[sizeof ans + 256];
    int on = snprintf(out, sizeof out,
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n%s",
                      status, strlen(ans), ans);
    if (write(c, out, (size_t)on) < 0) {
    }
}

static void *backend_run(void *arg)
{
    (void)arg;
    while (!atomic_load(&be.stop)) {
        int c = accept(be.fd, NULL, NULL);
        if (c < 0)
            continue;
        if (!atomic_load(&be.stop))
            serve(c);
        close(c);
    }
    return NULL;
}

static void backend_answer(int status, const char *body, int delay_ms, int fail_first)
{
    pthread_mutex_lock(&be.mu);
    be.status = status;
    snprintf(be.answer, sizeof be.answer, "%s", body);
    be.delay_ms = delay_ms;
    be.fail_first = fail_first;
    pthread_mutex_unlock(&be.mu);
}

static void backend_start(void)
{
    be.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(be.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(be.fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(be.fd, (struct sockaddr *)&a, &al);
    be.port = ntohs(a.sin_port);
    assert_int_equal(listen(be.fd, 64), 0);
    be.n = 0;
    atomic_store(&be.stop, 0);
    backend_answer(200, "{\"action\":\"allow\"}", 0, 0);
    pthread_create(&be.th, NULL, backend_run, NULL);
}

static void backend_stop(void)
{
    atomic_store(&be.stop, 1);
    shutdown(be.fd, SHUT_RDWR);
    /* wake accept() */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)be.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    connect(c, (struct sockaddr *)&a, sizeof a);
    close(c);
    pthread_join(be.th, NULL);
    close(be.fd);
    for (int i = 0; i < be.n; i++)
        free(be.reqs[i].body);
    be.n = 0;
}

/* Waits until the backend has seen at least n requests (or timeout); returns the count. */
static int backend_wait(int n, int timeout_ms)
{
    int64_t until = it_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&be.mu);
        int got = be.n;
        pthread_mutex_unlock(&be.mu);
        if (got >= n || it_now_ms() >= until)
            return got;
        it_sleep_ms(20);
    }
}

static int backend_count(void)
{
    pthread_mutex_lock(&be.mu);
    int n = be.n;
    pthread_mutex_unlock(&be.mu);
    return n;
}

/* Request i's body parsed (caller frees). */
static cJSON *req_json(int i)
{
    pthread_mutex_lock(&be.mu);
    cJSON *j = i < be.n ? cJSON_Parse(be.reqs[i].body) : NULL;
    pthread_mutex_unlock(&be.mu);
    if (!j)
        fail_msg("request %d: no JSON body", i);
    return j;
}

/* Asserts request i is signed with key. */
static void check_sig(int i, const char *key)
{
    pthread_mutex_lock(&be.mu);
    rec *q = &be.reqs[i];
    char *in = NULL;
    int n = asprintf(&in, "%lld.%s", q->ts, q->body);
    uint8_t mac[32];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const uint8_t *)in, (size_t)n, mac, &ml);
    char want[72] = "sha256=";
    for (int k = 0; k < 32; k++)
        snprintf(want + 7 + 2 * k, 3, "%02x", mac[k]);
    int ok = strcmp(want, q->sig) == 0 && q->ts > 1600000000000LL && llabs(q->ts - (long long)time(NULL) * 1000) < 60000;
    char got[80];
    snprintf(got, sizeof got, "%s", q->sig);
    free(in);
    pthread_mutex_unlock(&be.mu);
    if (!ok)
        fail_msg("signature of request %d: wanted %s, got %s", i, want, got);
}

/* ---- helpers --------------------------------------------------------------------------- */

static void set(it_server *s, const char *fmt, ...)
{
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    cJSON_Delete(it_rest(s, "PUT", body, 200, "/demo/demo/settings"));
}

static cJSON *send_c2c(it_ws *w, const char *to, const char *type, const char *payload, const char *options)
{
    return it_ws_request(w,
                         "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"%s\",\"type\":\"%s\","
                         "\"payload\":%s}%s%s%s}",
                         to, type, payload, options ? ",\"options\":" : "", options ? options : "", "");
}

static void expect_code(cJSON *r, int code)
{
    if (it_code(r) != code)
        fail_msg("wanted %d, got %s", code, it_jshow(r));
    cJSON_Delete(r);
}

static int setup(void **state)
{
    it_watchdog(180);
    static const char *const args[] = {"--webhook-retry-ms", "100", NULL};
    it_server *s = it_server_new(args);
    *state = s;
    backend_start();
    return s ? 0 : -1;
}

static int teardown(void **state)
{
    backend_stop();
    return it_teardown_default(state);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_settings(void **state)
{
    it_server *s = *state;
    cJSON *j = it_rest(s, "GET", NULL, 200, "/demo/demo/settings");
    assert_true(cJSON_IsNull(it_jget(j, "data.pushWebhookUrl")));
    assert_string_equal(it_jstr(j, "data.callbackOnFailure"), "allow");
    assert_string_equal(it_jstr(j, "data.moderation"), "on");
    assert_int_equal((int)it_jnum(j, "data.callbackTimeoutMs", 0), 2000);
    assert_int_equal((int)it_jnum(j, "data.beforeSendCallback", -1), 0);
    cJSON_Delete(j);
    const char *bad[] = {"{\"pushWebhookUrl\":\"ftp://x/y\"}", "{\"pushWebhookUrl\":\"http://\"}",
                         "{\"callbackUrl\":\"http://a b/\"}", "{\"callbackUrl\":3}",
                         "{\"callbackOnFailure\":\"maybe\"}", "{\"callbackSecret\":\"short\"}",
                         "{\"callbackTimeoutMs\":50}", "{\"beforeSendCallback\":2}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        it_expect_error(s, "PUT", "/demo/demo/settings", it_app_token(s), bad[i], 400, 1003, NULL, NULL);
    set(s, "{\"pushWebhookUrl\":\"https://push.example/p?x=1\",\"callbackOnFailure\":\"deny\"}");
    j = it_rest(s, "GET", NULL, 200, "/demo/demo/settings");
    assert_string_equal(it_jstr(j, "data.pushWebhookUrl"), "https://push.example/p?x=1");
    assert_string_equal(it_jstr(j, "data.callbackOnFailure"), "deny");
    cJSON_Delete(j);
    set(s, "{\"pushWebhookUrl\":null,\"callbackOnFailure\":null}");
}

static void test_push(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", "carol", NULL});
    set(s, "{\"pushWebhookUrl\":\"http://127.0.0.1:%d/push\"}", be.port);
    it_ws *a = it_login(s, "alice", "a1");

    /* bob is offline: one push, with every field. */
    cJSON *r = send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"hi bob\"}",
                        "{\"offlinePushInfo\":{\"title\":\"T\",\"description\":\"D\",\"extension\":\"E\","
                        "\"ignoreIOSBadge\":true,\"androidOPPOChannelID\":\"oppo1\"}}");
    it_assert_code(r, 0);
    char mid[32];
    snprintf(mid, sizeof mid, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
    assert_int_equal(backend_wait(1, IT_WAIT_MS), 1);
    cJSON *p = req_json(0);
    assert_string_equal(be.reqs[0].path, "/push");
    assert_string_equal(be.reqs[0].event, "push");
    assert_string_equal(it_jstr(p, "event"), "push");
    assert_string_equal(it_jstr(p, "app"), "demo/demo");
    assert_string_equal(it_jstr(p, "msgId"), mid);
    assert_string_equal(it_jstr(p, "from"), "alice");
    assert_string_equal(it_jstr(p, "to"), "bob");
    assert_string_equal(it_jstr(p, "conversationType"), "C2C");
    assert_string_equal(it_jstr(p, "summary"), "hi bob");
    assert_string_equal(it_jstr(p, "title"), "T");
    assert_string_equal(it_jstr(p, "description"), "D");
    assert_string_equal(it_jstr(p, "extension"), "E");
    assert_string_equal(it_jstr(p, "androidOPPOChannelID"), "oppo1");
    assert_true(cJSON_IsTrue(it_jget(p, "ignoreIOSBadge")));
    assert_int_equal(cJSON_GetArraySize(it_jget(p, "recipients")), 1);
    assert_string_equal(cJSON_GetArrayItem(it_jget(p, "recipients"), 0)->valuestring, "bob");
    cJSON_Delete(p);
    check_sig(0, s->client_secret);

    /* Without offlinePushInfo an ordinary message still pushes (its text). */
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"plain\"}", NULL), 0);
    assert_int_equal(backend_wait(2, IT_WAIT_MS), 2);
    p = req_json(1);
    assert_string_equal(it_jstr(p, "summary"), "plain");
    assert_string_equal(it_jstr(p, "title"), "");
    cJSON_Delete(p);

    /* No push: disablePush, onlineUserOnly, a custom message with no description. */
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"x\"}", "{\"offlinePushInfo\":{\"disablePush\":true}}"),
                0);
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"x\"}", "{\"onlineUserOnly\":true}"), 0);
    expect_code(send_c2c(a, "bob", "TIMCustomElem", "{\"data\":\"d\",\"description\":\"\",\"extension\":\"\"}", NULL),
                0);
    /* A custom message with a description pushes it: the marker that the ones above
     * were skipped (the queue is FIFO). */
    expect_code(send_c2c(a, "bob", "TIMCustomElem", "{\"data\":\"d\",\"description\":\"custom desc\",\"extension\":\"\"}",
                         NULL),
                0);
    assert_int_equal(backend_wait(3, IT_WAIT_MS), 3);
    it_sleep_ms(300);
    assert_int_equal(backend_count(), 3);
    p = req_json(2);
    assert_string_equal(it_jstr(p, "summary"), "custom desc");
    cJSON_Delete(p);

    /* bob online: no push. */
    it_ws *b = it_login(s, "bob", "b1");
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"you are online\"}", NULL), 0);
    /* A group: bob online, carol offline -> carol only; the sender never. */
    it_create_group(s, "g1", "alice", (const char *const[]){"bob", "carol", NULL});
    expect_code(it_ws_request(a, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"GROUP\",\"to\":\"g1\","
                                 "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"to the group\"}}}"),
                0);
    assert_int_equal(backend_wait(4, IT_WAIT_MS), 4);
    it_sleep_ms(300);
    assert_int_equal(backend_count(), 4);
    p = req_json(3);
    assert_string_equal(it_jstr(p, "conversationType"), "GROUP");
    assert_string_equal(it_jstr(p, "to"), "g1");
    assert_string_equal(it_jstr(p, "summary"), "to the group");
    assert_int_equal(cJSON_GetArraySize(it_jget(p, "recipients")), 1);
    assert_string_equal(cJSON_GetArrayItem(it_jget(p, "recipients"), 0)->valuestring, "carol");
    cJSON_Delete(p);
    it_ws_free(b);
    it_ws_free(a);
}

static void test_before_send(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", NULL});
    set(s, "{\"callbackUrl\":\"http://127.0.0.1:%d/cb\",\"beforeSendCallback\":1,"
           "\"callbackSecret\":\"0123456789abcdef-secret\"}",
        be.port);
    it_ws *a = it_login(s, "alice", "a1");
    it_ws *b = it_login(s, "bob", "b1");

    /* allow */
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"allowed\"}", NULL), 0);
    cJSON *ev = it_ws_wait_event(b, "msg", IT_WAIT_MS);
    assert_string_equal(it_jstr(ev, "data.payload.text"), "allowed");
    cJSON_Delete(ev);
    assert_int_equal(backend_count(), 1);
    cJSON *q = req_json(0);
    assert_string_equal(be.reqs[0].event, "beforeSend");
    assert_string_equal(it_jstr(q, "event"), "beforeSend");
    assert_string_equal(it_jstr(q, "message.from"), "alice");
    assert_string_equal(it_jstr(q, "message.payload.text"), "allowed");
    cJSON_Delete(q);
    check_sig(0, "0123456789abcdef-secret");

    /* deny: 10016, nothing delivered or stored */
    backend_answer(200, "{\"action\":\"deny\"}", 0, 0);
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"denied\"}", NULL), 10016);

    /* rewrite: bob gets the backend's text and cloudCustomData */
    backend_answer(200, "{\"action\":\"rewrite\",\"payload\":{\"text\":\"rewritten\"},\"cloudCustomData\":\"cc\"}", 0,
                   0);
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"original\"}", NULL), 0);
    ev = it_ws_wait_event(b, "msg", IT_WAIT_MS);
    assert_string_equal(it_jstr(ev, "data.payload.text"), "rewritten");
    assert_string_equal(it_jstr(ev, "data.cloudCustomData"), "cc");
    assert_null(cJSON_GetObjectItemCaseSensitive(it_jget(ev, "data"), "isExcludedFromUnreadCount"));
    cJSON_Delete(ev);
    /* a rewrite keeps what the send options put in the stored object */
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"original\"}",
                         "{\"messageControlInfo\":{\"excludedFromUnreadCount\":true}}"),
                0);
    ev = it_ws_wait_event(b, "msg", IT_WAIT_MS);
    assert_string_equal(it_jstr(ev, "data.payload.text"), "rewritten");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it_jget(ev, "data"), "isExcludedFromUnreadCount")));
    cJSON_Delete(ev);
    /* A rewrite is validated like a client's message: over 12 KB is 80002. */
    static char big[14000];
    memcpy(big, "{\"action\":\"rewrite\",\"payload\":{\"text\":\"", 39);
    memset(big + 39, 'x', 13000);
    strcpy(big + 39 + 13000, "\"}}");
    backend_answer(200, big, 0, 0);
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"small\"}", NULL), 80002);

    /* History holds the allowed and the two rewritten messages only. */
    cJSON *h = it_ws_request(a, "{\"op\":\"history\",\"conversationID\":\"C2Cbob\",\"limit\":10}");
    it_assert_code(h, 0);
    const cJSON *msgs = it_jget(h, "data.messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 3);
    cJSON_Delete(h);

    /* A 500 or an answer without an action: callbackOnFailure (allow by default). */
    backend_answer(500, "{}", 0, 0);
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"500 allow\"}", NULL), 0);
    set(s, "{\"callbackOnFailure\":\"deny\"}");
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"500 deny\"}", NULL), 10016);

    /* Too slow for callbackTimeoutMs: deny, and quickly. */
    backend_answer(200, "{\"action\":\"allow\"}", 1500, 0);
    set(s, "{\"callbackTimeoutMs\":300}");
    int64_t t0 = it_now_ms();
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"slow\"}", NULL), 10016);
    if (it_now_ms() - t0 > 1400)
        fail_msg("a 300 ms timeout took %lld ms", (long long)(it_now_ms() - t0));
    backend_answer(200, "{\"action\":\"allow\"}", 0, 0);
    it_sleep_ms(1300); /* the slow answer ends */

    /* Down: nobody listens on the URL's port. */
    int dead = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in da = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(dead, (struct sockaddr *)&da, sizeof da);
    socklen_t dl = sizeof da;
    getsockname(dead, (struct sockaddr *)&da, &dl);
    int dport = ntohs(da.sin_port);
    close(dead);
    set(s, "{\"callbackUrl\":\"http://127.0.0.1:%d/cb\"}", dport);
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"down deny\"}", NULL), 10016);
    set(s, "{\"callbackOnFailure\":\"allow\"}");
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"down allow\"}", NULL), 0);
    for (;;) { /* bob got "500 allow" before */
        ev = it_ws_wait_event(b, "msg", IT_WAIT_MS);
        if (!ev)
            fail_msg("\"down allow\" never arrived");
        int found = it_jstr(ev, "data.payload.text") && !strcmp(it_jstr(ev, "data.payload.text"), "down allow");
        cJSON_Delete(ev);
        if (found)
            break;
    }
    /* REST sends wait for the callback too. */
    set(s, "{\"callbackUrl\":\"http://127.0.0.1:%d/cb\"}", be.port);
    backend_answer(200, "{\"action\":\"deny\"}", 0, 0);
    it_expect_error(s, "POST", "/demo/demo/messages/users", it_app_token(s),
                    "{\"from\":\"alice\",\"to\":[\"bob\"],\"type\":\"txt\",\"body\":{\"msg\":\"via REST\"}}", 403,
                    10016, "rejected_by_callback", NULL);
    backend_answer(200, "{\"action\":\"allow\"}", 0, 0);
    /* Off: no request at all. */
    set(s, "{\"callbackUrl\":\"http://127.0.0.1:%d/cb\",\"beforeSendCallback\":0}", be.port);
    int before = backend_count();
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"no callback\"}", NULL), 0);
    it_sleep_ms(200);
    assert_int_equal(backend_count(), before);
    it_ws_free(b);
    it_ws_free(a);
}

static void test_after_send(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", NULL});
    set(s, "{\"callbackUrl\":\"http://127.0.0.1:%d/after\",\"afterSendCallback\":1}", be.port);
    backend_answer(200, "{}", 0, 1); /* the first attempt gets a 500 */
    it_ws *a = it_login(s, "alice", "a1");
    cJSON *r = send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"after\"}", NULL);
    it_assert_code(r, 0);
    int64_t acked = it_now_ms();
    char mid[32];
    snprintf(mid, sizeof mid, "%s", it_jstr(r, "data.msgId"));
    cJSON_Delete(r);
    assert_int_equal(backend_wait(2, IT_WAIT_MS), 2);
    for (int i = 0; i < 2; i++) {
        cJSON *q = req_json(i);
        assert_string_equal(be.reqs[i].event, "afterSend");
        assert_string_equal(it_jstr(q, "message.msgId"), mid); /* the stored message */
        assert_int_equal((int)it_jnum(q, "message.seq", 0), 1);
        assert_string_equal(it_jstr(q, "message.payload.text"), "after");
        cJSON_Delete(q);
        check_sig(i, s->client_secret);
    }
    assert_string_equal(be.reqs[0].attempt, "1");
    assert_string_equal(be.reqs[1].attempt, "2");
    assert_true(be.reqs[1].at_ms - be.reqs[0].at_ms >= 90); /* --webhook-retry-ms 100 */
    (void)acked;
    /* A refused send fires no after-send. */
    set(s, "{\"beforeSendCallback\":1}");
    backend_answer(200, "{\"action\":\"deny\"}", 0, 0);
    expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"denied\"}", NULL), 10016);
    it_sleep_ms(300);
    assert_int_equal(backend_count(), 3); /* the before-send only */
    assert_string_equal(be.reqs[2].event, "beforeSend");
    it_ws_free(a);
}

/* A message held by a slow before-send callback when ternd stops: the stop neither
 * hangs nor leaks (the teardown checks the sanitizer report), and the sender hears. */
static void test_stop_while_held(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", NULL});
    set(s, "{\"callbackUrl\":\"http://127.0.0.1:%d/cb\",\"beforeSendCallback\":1,\"callbackTimeoutMs\":20000}",
        be.port);
    backend_answer(200, "{\"action\":\"allow\"}", 4000, 0);
    it_ws *a = it_login(s, "alice", "a1");
    int64_t id = it_ws_send_req(a, "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\","
                                   "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"held\"}}}");
    assert_true(id > 0);
    assert_int_equal(backend_wait(1, IT_WAIT_MS), 1); /* the callback is running */
    int64_t t0 = it_now_ms();
    int status = -1;
    assert_int_equal(it_server_stop(s, 10000, &status), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("ternd's exit status 0x%x", status);
    if (it_now_ms() - t0 > 3500)
        fail_msg("the stop waited for the callback (%lld ms)", (long long)(it_now_ms() - t0));
    cJSON *r = it_ws_wait_response(a, id, 2000);
    if (r && it_code(r) != 5003)
        fail_msg("the held send ended with %s", it_jshow(r));
    cJSON_Delete(r);
    it_ws_free(a);
}

static double metric(it_server *s, const char *name)
{
    it_http_resp r;
    it_http(s, "GET", "/metrics", NULL, NULL, &r);
    const char *p = r.body;
    double v = -1;
    size_t n = strlen(name);
    while (p && (p = strstr(p, name))) {
        if ((p == r.body || p[-1] == '\n') && p[n] == ' ') {
            v = atof(p + n + 1);
            break;
        }
        p += n;
    }
    it_http_resp_free(&r);
    return v;
}

static int setup_small_queue(void **state)
{
    it_watchdog(180);
    static const char *const args[] = {"--webhook-queue", "2", "--webhook-attempts", "1", NULL};
    it_server *s = it_server_new(args);
    *state = s;
    backend_start();
    return s ? 0 : -1;
}

static void test_queue_bound(void **state)
{
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", NULL});
    set(s, "{\"callbackUrl\":\"http://127.0.0.1:%d/after\",\"afterSendCallback\":1}", be.port);
    backend_answer(200, "{}", 400, 0);
    assert_int_equal((int)metric(s, "tern_webhook_dropped_total"), 0);
    it_ws *a = it_login(s, "alice", "a1");
    for (int i = 0; i < 10; i++)
        expect_code(send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"q\"}", NULL), 0);
    double dropped = metric(s, "tern_webhook_dropped_total");
    if (dropped < 5)
        fail_msg("10 after-sends into a queue of 2 with a slow backend: %g dropped", dropped);
    it_sleep_ms(1500);
    int got = backend_count();
    if (got < 2 || got > 10 - (int)dropped)
        fail_msg("the backend got %d of 10 (%g dropped)", got, dropped);
    assert_true(metric(s, "tern_webhook_queue") == 0);
    it_ws_free(a);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Send -> ack round trips (us) of n messages, sorted into lat. */
static long long us_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000000LL + (t1.tv_nsec - t0->tv_nsec) / 1000;
}

/* n sends alice -> bob, send to ack, appended to lat[*k]. */
static void round_trips(it_ws *a, int n, long long *lat, int *k)
{
    for (int i = 0; i < n; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cJSON *r = send_c2c(a, "bob", "TIMTextElem", "{\"text\":\"latency\"}", NULL);
        long long us = us_since(&t0);
        it_assert_code(r, 0);
        cJSON_Delete(r);
        if (lat)
            lat[(*k)++] = us;
    }
}

/* n callbacks made by hand: what ternd's webhook thread does for one before-send
 * (connect, POST a message-sized body, read the answer to its close), appended to
 * lat[*k]. Their p99 is the callback's own time on this machine. */
static void callback_trips(int n, long long *lat, int *k)
{
    static const char req[] = "POST /cb HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "X-Tern-Event: beforeSend\r\nContent-Length: 120\r\n\r\n"
                              "{\"callbackCommand\":\"C2C.CallbackBeforeSendMsg\",\"from\":\"alice\",\"to\":\"bob\","
                              "\"type\":\"TIMTextElem\",\"payload\":{\"text\":\"latency\"}}   ";
    for (int i = 0; i < n; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)be.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(write(c, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
        char buf[512];
        while (read(c, buf, sizeof buf) > 0)
            ;
        close(c);
        lat[(*k)++] = us_since(&t0);
    }
}

/* Not a check: the cost of a before-send callback (docs/performance.md), when
 * TERN_HOOKS_BENCH is set (run it against a release ternd: TERND=build-rel/ternd).
 * Blocks of sends without the callback, with it, and of the callback alone alternate,
 * so a drift of the shared machine spreads over all three. */
static void test_callback_latency(void **state)
{
    if (!getenv("TERN_HOOKS_BENCH"))
        skip();
    it_server *s = *state;
    it_create_users(s, (const char *const[]){"alice", "bob", NULL});
    it_ws *a = it_login(s, "alice", "a1");
    enum { BLOCK = 250, BLOCKS = 12, N = BLOCK * BLOCKS };
    static long long off[N], on[N], cb[N];
    int noff = 0, non = 0, ncb = 0;
    round_trips(a, 200, NULL, NULL); /* warm */
    for (int b = 0; b < BLOCKS; b++) {
        set(s, "{\"beforeSendCallback\":0}");
        round_trips(a, BLOCK, off, &noff);
        set(s, "{\"callbackUrl\":\"http://127.0.0.1:%d/cb\",\"beforeSendCallback\":1}", be.port);
        round_trips(a, BLOCK, on, &non);
        callback_trips(BLOCK, cb, &ncb);
    }
    qsort(off, N, sizeof *off, cmp_ll);
    qsort(on, N, sizeof *on, cmp_ll);
    qsort(cb, N, sizeof *cb, cmp_ll);
    long long p99 = N * 99 / 100, added = on[p99] - off[p99];
    printf("before-send latency (send -> ack, us, %d messages each, %d alternating blocks): without p50 %lld p99 %lld;"
           " with p50 %lld p99 %lld; the callback alone p50 %lld p99 %lld; p99 added %lld, minus the callback's "
           "%lld\n",
           N, BLOCKS, off[N / 2], off[p99], on[N / 2], on[p99], cb[N / 2], cb[p99], added, added - cb[p99]);
    it_ws_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push, setup, teardown),
        cmocka_unit_test_setup_teardown(test_before_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound, setup_small_queue, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_latency, setup, teardown),
    };
    return it_run_tests("it_hooks", tests);
}
