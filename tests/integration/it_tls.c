/*
 * it_tls.c — wss:// and https:// (include/tern/tern.h tern_client_create, docs/sdk.md,
 * docs/operations.md "Behind a reverse proxy (TLS)"): ternd speaks plain ws, so this
 * test puts a TLS-terminating proxy in front of the real ternd, as a deployment would.
 * The proxy runs in this process (OpenSSL, one thread per connection, bytes relayed
 * both ways) with a self-signed certificate made at start for IP 127.0.0.1 only, whose
 * PEM is the CA file given to the clients.
 *
 * Checked: two libtern clients over wss:// log in, exchange a C2C message, survive a
 * ternd restart behind the proxy (reconnect through a new TLS handshake, the missed
 * message delivered); the certificate is really verified — the system's store (no
 * tls_ca_file) rejects it, a host name not in the certificate ("localhost") is
 * rejected, an unreadable CA file fails tern_client_create; and the `tern` CLI does
 * REST over https:// and a send over wss:// with --ca. Media transfers (libcurl) take
 * the same settings: an upload and a download over https with the CA file give the
 * same bytes; without it, or to a name not in the certificate, they fail.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <tern/tern.h>

#include "harness.h"

/* ---- the TLS-terminating proxy ------------------------------------------------------ */

typedef struct proxy {
    int lfd, port, upstream_port;
    SSL_CTX *ctx;
    pthread_t th;
    atomic_int stop, active;
    char ca_path[300]; /* the certificate, PEM: the clients' CA file */
} proxy;

typedef struct pconn {
    proxy *p;
    int fd;
} pconn;

static int write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One client connection: TLS accept, connect upstream, relay until either side ends. */
static void *pconn_main(void *arg)
{
    pconn *pc = arg;
    proxy *p = pc->p;
    SSL *s = SSL_new(p->ctx);
    int up = -1;
    SSL_set_fd(s, pc->fd);
    if (SSL_accept(s) != 1)
        goto out; /* e.g. the client rejected the certificate */
    up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->upstream_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (up < 0 || connect(up, (struct sockaddr *)&a, sizeof a) != 0)
        goto out;
    static __thread char buf[16384];
    while (!atomic_load(&p->stop)) {
        struct pollfd f[2] = {{.fd = pc->fd, .events = POLLIN}, {.fd = up, .events = POLLIN}};
        int pending = SSL_pending(s) > 0;
        if (!pending && poll(f, 2, 200) <= 0)
            continue;
        if (pending || (f[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            int n = SSL_read(s, buf, sizeof buf);
            if (n <= 0 || write_all(up, buf, (size_t)n) < 0)
                break;
        }
        if (f[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(up, buf, sizeof buf);
            if (n <= 0 || SSL_write(s, buf, (int)n) != (int)n)
                break;
        }
    }
out:
    if (up >= 0)
        close(up);
    SSL_free(s);
    close(pc->fd);
    free(pc);
    ERR_clear_error();
    atomic_fetch_sub(&p->active, 1);
    return NULL;
}

static void *proxy_main(void *arg)
{
    proxy *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd f = {.fd = p->lfd, .events = POLLIN};
        if (poll(&f, 1, 100) <= 0)
            continue;
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pconn *pc = malloc(sizeof *pc);
        pc->p = p;
        pc->fd = fd;
        atomic_fetch_add(&p->active, 1);
        pthread_t t;
        if (pthread_create(&t, NULL, pconn_main, pc) != 0) {
            atomic_fetch_sub(&p->active, 1);
            close(fd);
            free(pc);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

/* A self-signed certificate (its own CA) for IP:127.0.0.1, P-256, valid for a day. */
static X509 *make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"tern it_tls", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    static const struct {
        int nid;
        const char *val;
    } ext[] = {{NID_subject_alt_name, "IP:127.0.0.1"}, {NID_basic_constraints, "critical,CA:TRUE"}};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, ext[i].nid, ext[i].val);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static proxy *proxy_start(it_server *s)
{
    proxy *p = calloc(1, sizeof *p);
    p->upstream_port = s->port;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(key);
    X509 *cert = make_cert(key);
    snprintf(p->ca_path, sizeof p->ca_path, "%s/it_tls_ca.pem", s->dir);
    FILE *f = fopen(p->ca_path, "w");
    assert_non_null(f);
    assert_true(PEM_write_X509(f, cert) == 1);
    fclose(f);
    p->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(p->ctx);
    assert_int_equal(SSL_CTX_use_certificate(p->ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(p->ctx, key), 1);
    X509_free(cert);
    EVP_PKEY_free(key);

    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->lfd, 64), 0);
    assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &al), 0);
    p->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&p->th, NULL, proxy_main, p), 0);
    return p;
}

static void proxy_stop(proxy *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    close(p->lfd);
    for (int i = 0; i < 100 && atomic_load(&p->active) > 0; i++)
        it_sleep_ms(50); /* relays notice `stop` within 200 ms */
    assert_int_equal(atomic_load(&p->active), 0);
    SSL_CTX_free(p->ctx);
    free(p);
}

/* ---- SDK clients -------------------------------------------------------------------- */

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, reconnecting, nrx, login_done, login_code, sent, send_code;
    char login_msg[300];
    char rx_text[8][64];
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_free(rec *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static int wait_int(rec *r, const int *v, int want)
{
    return it_wait_int(&r->mu, &r->cv, v, want, IT_WAIT_MS);
}

static void on_event(tern_client *c, const tern_event *ev, void *ud)
{
    (void)c;
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    if (ev->type == TERN_EVENT_SDK_READY)
        r->ready++;
    else if (ev->type == TERN_EVENT_RECONNECTING)
        r->reconnecting++;
    else if (ev->type == TERN_EVENT_MESSAGE_RECEIVED && r->nrx < 8)
        snprintf(r->rx_text[r->nrx++], sizeof r->rx_text[0], "%s", tern_message_text(ev->message));
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_login(tern_client *c, int code, const char *message, void *ud)
{
    (void)c;
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    r->login_code = code;
    snprintf(r->login_msg, sizeof r->login_msg, "%s", message ? message : "");
    r->login_done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_sent(tern_client *c, tern_message *m, int code, const char *message, void *ud)
{
    (void)c;
    (void)m;
    (void)message;
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    r->send_code = code;
    r->sent++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Creates a client for url in thread mode and starts its login; NULL if create failed
 * (its code in *rc). */
static tern_client *client_new(it_server *s, const char *url, const char *user, const char *ca, int no_reconnect,
                               rec *r, int *rc)
{
    char tok[1024];
    it_user_token(s, user, tok, sizeof tok);
    tern_client_options o;
    tern_client_options_init(&o);
    o.on_event = on_event;
    o.user_data = r;
    o.device = "tls";
    o.tls_ca_file = ca;
    o.no_reconnect = no_reconnect;
    o.connect_timeout_ms = 5000;
    o.reconnect_min_ms = 300;
    o.reconnect_max_ms = 1000;
    tern_client *c = NULL;
    *rc = tern_client_create(url, "demo/demo", user, tok, &o, &c);
    if (*rc != TERN_OK)
        return NULL;
    assert_int_equal(tern_client_start_thread(c), TERN_OK);
    assert_int_equal(tern_login(c, on_login, r), TERN_OK);
    return c;
}

static void send_text(tern_client *from, rec *r, const char *to, const char *text)
{
    int before = r->sent;
    tern_message *m = tern_create_text_message(from, TERN_CONV_C2C, to, text);
    assert_non_null(m);
    assert_int_equal(tern_send_message(from, m, NULL, on_sent, r), TERN_OK);
    tern_message_release(m);
    if (!wait_int(r, &r->sent, before + 1))
        fail_msg("send '%s' never completed", text);
    assert_int_equal(r->send_code, 0);
}

static void test_wss_sdk(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    proxy *p = proxy_start(s);
    char url[80];
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", p->port);
    static rec ra, rb;
    rec_init(&ra);
    rec_init(&rb);
    int rc;
    tern_client *alice = client_new(s, url, "alice", p->ca_path, 0, &ra, &rc);
    tern_client *bob = client_new(s, url, "bob", p->ca_path, 0, &rb, &rc);
    assert_non_null(alice);
    assert_non_null(bob);
    assert_true(wait_int(&ra, &ra.ready, 1));
    assert_true(wait_int(&rb, &rb.ready, 1));
    assert_int_equal(ra.login_code, 0);

    send_text(alice, &ra, "bob", "over tls");
    assert_true(wait_int(&rb, &rb.nrx, 1));
    assert_string_equal(rb.rx_text[0], "over tls");

    /* ternd restarts behind the proxy: the relays end, both clients reconnect with a
     * new TLS handshake, and what bob missed meanwhile comes through sync. */
    assert_int_equal(it_server_stop(s, 10000, NULL), 0);
    assert_int_equal(it_server_restart_same_port(s), 0); /* the port the proxy relays to */
    assert_true(wait_int(&ra, &ra.ready, 2));
    send_text(alice, &ra, "bob", "after restart");
    assert_true(wait_int(&rb, &rb.nrx, 2));
    assert_string_equal(rb.rx_text[1], "after restart");
    assert_true(rb.reconnecting >= 1);
    assert_true(wait_int(&rb, &rb.ready, 2));

    tern_client_destroy(alice);
    tern_client_destroy(bob);
    rec_free(&ra);
    rec_free(&rb);
    proxy_stop(p);
}

/* Login over wss fails (no reconnect) with a message containing `want`. */
static void expect_tls_refused(it_server *s, const char *url, const char *ca, const char *want)
{
    rec r;
    rec_init(&r);
    int rc;
    tern_client *c = client_new(s, url, "alice", ca, 1, &r, &rc);
    assert_non_null(c);
    if (!wait_int(&r, &r.login_done, 1))
        fail_msg("%s: login never completed", url);
    if (r.login_code == 0 || !strstr(r.login_msg, want))
        fail_msg("%s (ca %s): wanted a failed login mentioning '%s', got %d '%s'", url, ca ? ca : "system", want,
                 r.login_code, r.login_msg);
    assert_int_equal(r.ready, 0);
    tern_client_destroy(c);
    rec_free(&r);
}

static void test_wss_verifies(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", NULL};
    it_create_users(s, u);
    proxy *p = proxy_start(s);
    char url[80];
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", p->port);
    /* Not in the system's store. */
    expect_tls_refused(s, url, NULL, "certificate");
    /* Trusted, but issued for 127.0.0.1, not for "localhost". */
    snprintf(url, sizeof url, "wss://localhost:%d/ws", p->port);
    expect_tls_refused(s, url, p->ca_path, "mismatch");
    /* A CA file that cannot be loaded is refused up front. */
    rec r;
    rec_init(&r);
    int rc;
    assert_null(client_new(s, url, "alice", "/nonexistent/ca.pem", 1, &r, &rc));
    assert_int_equal(rc, TERN_ERR_SDK_INVALID_ARG);
    rec_free(&r);
    proxy_stop(p);
}

/* ---- media over https ---- */

typedef struct mrec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, code;
    char msg[300], id[64];
    unsigned char *data;
    size_t len;
} mrec;

static void m_uploaded(tern_client *c, uint64_t rid, int code, const char *message, const tern_media_info *info,
                       void *ud)
{
    mrec *m = ud;
    pthread_mutex_lock(&m->mu);
    m->code = code;
    snprintf(m->msg, sizeof m->msg, "%s", message);
    if (info)
        snprintf(m->id, sizeof m->id, "%s", info->media_id);
    m->done++;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void m_memory(tern_client *c, uint64_t rid, int code, const char *message, const void *data, size_t len,
                     void *ud)
{
    mrec *m = ud;
    pthread_mutex_lock(&m->mu);
    m->code = code;
    if (data) {
        m->data = malloc(len);
        memcpy(m->data, data, len);
        m->len = len;
    }
    m->done++;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Uploads path through a client of url (ca may be NULL); the result is in *m. */
static void media_upload(it_server *s, const char *url, const char *ca, const char *path, mrec *m)
{
    char tok[1024];
    it_user_token(s, "alice", tok, sizeof tok);
    tern_client_options o;
    tern_client_options_init(&o);
    o.tls_ca_file = ca;
    tern_client *c = NULL;
    assert_int_equal(tern_client_create(url, "demo/demo", "alice", tok, &o, &c), TERN_OK);
    assert_int_equal(tern_client_start_thread(c), TERN_OK);
    int before = m->done;
    assert_int_equal(tern_upload_media(c, path, NULL, NULL, NULL, m_uploaded, m), TERN_OK);
    assert_true(it_wait_int(&m->mu, &m->cv, &m->done, before + 1, IT_WAIT_MS));
    if (m->code == 0) { /* and back, to memory */
        assert_int_equal(tern_download_media_to_memory(c, m->id, NULL, NULL, m_memory, m), TERN_OK);
        assert_true(it_wait_int(&m->mu, &m->cv, &m->done, before + 2, IT_WAIT_MS));
    }
    tern_client_destroy(c);
}

static void test_https_media(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", NULL};
    it_create_users(s, u);
    proxy *p = proxy_start(s);
    char url[80], path[400];
    snprintf(path, sizeof path, "%s/it_tls_media.bin", s->dir);
    static unsigned char bytes[1 << 20];
    uint64_t st = 5;
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)it_rand(&st);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, sizeof bytes, f), sizeof bytes);
    fclose(f);
    static mrec m;
    memset(&m, 0, sizeof m);
    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.cv, NULL);

    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", p->port);
    media_upload(s, url, p->ca_path, path, &m);
    if (m.code)
        fail_msg("https upload/download: %d %s", m.code, m.msg);
    assert_int_equal(m.len, sizeof bytes);
    assert_memory_equal(m.data, bytes, sizeof bytes);
    free(m.data);
    m.data = NULL;

    media_upload(s, url, NULL, path, &m); /* not in the system's store */
    assert_int_equal(m.code, TERN_ERR_SDK_IO);
    snprintf(url, sizeof url, "wss://localhost:%d/ws", p->port); /* not the certificate's name */
    media_upload(s, url, p->ca_path, path, &m);
    assert_int_equal(m.code, TERN_ERR_SDK_IO);
    pthread_mutex_destroy(&m.mu);
    pthread_cond_destroy(&m.cv);
    proxy_stop(p);
}

/* Runs the tern CLI (next to $TERND) with args; returns its exit status, stdout in out. */
static int run_cli(const char *const *args, char *out, size_t outsz)
{
    char bin[1100];
    snprintf(bin, sizeof bin, "%s", getenv("TERND"));
    char *slash = strrchr(bin, '/');
    snprintf(slash ? slash + 1 : bin, sizeof bin - (size_t)(slash ? slash + 1 - bin : 0), "tern");
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        const char *argv[32];
        int n = 0;
        argv[n++] = bin;
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < outsz && (r = read(pfd[0], out + len, outsz - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = 0;
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_cli_https_wss(void **state)
{
    it_server *s = *state;
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    proxy *p = proxy_start(s);
    char server[80];
    snprintf(server, sizeof server, "https://127.0.0.1:%d", p->port);
    static char out[65536];
    /* REST over https. */
    const char *get[] = {
        "--server",        server,           "--ca",   p->ca_path, "--app", "demo/demo", "--client-id", s->client_id,
        "--client-secret", s->client_secret, "--json", "users",    "get",   "bob",       NULL};
    int st = run_cli(get, out, sizeof out);
    if (st != 0 || !strstr(out, "\"bob\""))
        fail_msg("tern users get over https: exit %d, output %s", st, out);
    /* Without --ca the system's store does not trust the proxy. */
    const char *get_noca[] = {"--server",        server,           "--app", "demo/demo", "--client-id", s->client_id,
                              "--client-secret", s->client_secret, "users", "get",       "bob",         NULL};
    assert_int_not_equal(run_cli(get_noca, out, sizeof out), 0);
    /* A send over wss (the CLI logs in with libtern), then bob's history says it arrived. */
    const char *send[] = {"--server",       server,         "--ca",
                          p->ca_path,       "--app",        "demo/demo",
                          "--client-id",    s->client_id,   "--client-secret",
                          s->client_secret, "--user",       "alice",
                          "send",           "--to",         "bob",
                          "--text",         "cli over wss", NULL};
    st = run_cli(send, out, sizeof out);
    if (st != 0)
        fail_msg("tern send over wss: exit %d, output %s", st, out);
    it_ws *b = it_login(s, "bob", "check");
    cJSON *h = it_ws_request(b, "{\"op\":\"history\",\"conversationID\":\"C2Calice\"}");
    it_assert_code(h, 0);
    const char *t = it_jstr(h, "data.messages.0.payload.text");
    if (!t || strcmp(t, "cli over wss"))
        fail_msg("bob's history: %s", it_jshow(h));
    cJSON_Delete(h);
    proxy_stop(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wss_sdk, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_wss_verifies, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_cli_https_wss, it_setup_default, it_teardown_default),
        cmocka_unit_test_setup_teardown(test_https_media, it_setup_default, it_teardown_default),
    };
    it_watchdog(170);
    return it_run_tests("it_tls", tests);
}
