/*
 * conn.c — libtern's transport: one WebSocket client connection over libuv TCP.
 *
 * DNS (uv_getaddrinfo) → TCP connect → HTTP upgrade request (ws_client_request with a
 * fresh ws_make_key and subprotocol tern.v1) → the 101 response parsed with
 * core/http.h and checked (status, Upgrade, Sec-WebSocket-Accept, subprotocol) → text
 * frames both ways through the core/ws.h codec (ours masked, the server's unmasked).
 *
 * wss:// (c->url.tls): TLS runs over the same TCP stream through two memory BIOs
 * (net_in: bytes read from the socket for OpenSSL; net_out: what OpenSSL wants written),
 * so libuv still does all the I/O on the client's loop. After the TCP connect, P_TLS
 * runs SSL_do_handshake until done (the server's certificate chain and name verified
 * against the client's SSL_CTX, SNI sent for DNS names), then the WebSocket upgrade and
 * every frame go through SSL_write, and every read through SSL_read before the HTTP
 * and WebSocket parsers. A failed handshake is a lost connection like any other.
 *
 * The session layer (session.c) sees three things: sdk_sess_on_open once the WebSocket is
 * up, sdk_sess_on_text per message, and sdk_sess_on_lost once when the connection ends for any
 * reason it did not ask for (sdk_conn_close, its own way out, reports nothing).
 *
 * A connection is detached from its client (k->c = NULL, c->conn = NULL) as soon as it
 * is closing; from then on its callbacks never touch the client, and it frees itself
 * when libuv is done with it (getaddrinfo finished and the TCP handle closed). So the
 * client may open the next connection, or be freed, while an old one winds down.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/http.h"
#include "core/log.h"
#include "core/ws.h"
#include "sdk/sdk.h"

#define READ_BUF (64 * 1024)
#define SUBPROTOCOL "tern.v1"

#define TLS_CHUNK (16 * 1024) /* plaintext taken out of SSL_read at a time */

enum { P_RESOLVE = 1, P_CONNECT, P_TLS, P_HANDSHAKE, P_OPEN };

typedef struct sdk_conn {
    tern_client *c; /* NULL once detached */
    int phase;
    uv_getaddrinfo_t gai;
    int gai_busy;
    uv_tcp_t tcp;
    int tcp_inited, tcp_closing, tcp_closed;
    uv_connect_t creq;
    http_parser *hp;
    ws_reader wr;
    int wr_inited;
    char key[25];
    SSL *ssl;     /* wss: the TLS session (owns the two BIOs), else NULL */
    BIO *net_in;  /* socket bytes for OpenSSL */
    BIO *net_out; /* OpenSSL's bytes for the socket */
    char *plain;  /* wss: TLS_CHUNK bytes for SSL_read */
    char rbuf[READ_BUF];
} sdk_conn;

typedef struct wreq {
    uv_write_t w;
    sdk_conn *k;
    int close_after;
    char *data;
} wreq;

static void lost(sdk_conn *k, int code, int close_code, const char *why);

static void maybe_free(sdk_conn *k)
{
    if (k->c || k->gai_busy || (k->tcp_inited && !k->tcp_closed))
        return;
    if (k->hp)
        http_parser_free(k->hp);
    if (k->wr_inited)
        ws_reader_free(&k->wr);
    if (k->ssl)
        SSL_free(k->ssl); /* and its BIOs */
    tern_free(k->plain);
    tern_free(k);
}

static void on_tcp_closed(uv_handle_t *h)
{
    sdk_conn *k = h->data;
    k->tcp_closed = 1;
    maybe_free(k);
}

static void close_handle(sdk_conn *k)
{
    if (k->tcp_inited && !k->tcp_closing) {
        k->tcp_closing = 1;
        uv_close((uv_handle_t *)&k->tcp, on_tcp_closed);
    } else if (!k->tcp_inited) {
        maybe_free(k);
    }
}

static void on_write(uv_write_t *w, int status)
{
    wreq *r = (wreq *)w;
    sdk_conn *k = r->k;
    tern_free(r->data);
    int close_after = r->close_after;
    tern_free(r);
    if (close_after) {
        close_handle(k);
        return;
    }
    if (status < 0 && k->c && status != UV_ECANCELED)
        lost(k, TERN_ERR_SDK_IO, 0, uv_strerror(status));
}

/* Queues len bytes for the socket as they are (ownership of data passes here). */
static int write_sock(sdk_conn *k, char *data, size_t len, int close_after)
{
    wreq *r = tern_calloc(1, sizeof *r);
    r->k = k;
    r->data = data;
    r->close_after = close_after;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    int rc = uv_write(&r->w, (uv_stream_t *)&k->tcp, &b, 1, on_write);
    if (rc < 0) {
        tern_free(data);
        tern_free(r);
        return -1;
    }
    return 0;
}

/* wss: writes what OpenSSL has produced (handshake records, encrypted data) to the
 * socket. close_after: close the handle once written (at once if there is nothing). */
static int tls_flush(sdk_conn *k, int close_after)
{
    size_t n = BIO_ctrl_pending(k->net_out);
    if (!n) {
        if (close_after)
            close_handle(k);
        return 0;
    }
    char *data = tern_malloc(n);
    int got = BIO_read(k->net_out, data, (int)n);
    if (got != (int)n) {
        tern_free(data);
        return -1;
    }
    return write_sock(k, data, n, close_after);
}

/* Queues len bytes of the WebSocket stream (ownership of data passes here): as they
 * are, or encrypted with wss. */
static int write_raw(sdk_conn *k, char *data, size_t len, int close_after)
{
    if (!k->ssl)
        return write_sock(k, data, len, close_after);
    /* A memory BIO takes everything: SSL_write succeeds whole or fails. */
    int w = len ? SSL_write(k->ssl, data, (int)len) : 0;
    tern_free(data);
    if (len && w != (int)len)
        return -1;
    return tls_flush(k, close_after);
}

static int write_frame(sdk_conn *k, unsigned op, const void *p, size_t n, int close_after)
{
    uint8_t mask[4];
    if (RAND_bytes(mask, sizeof mask) != 1)
        memset(mask, 0x5a, sizeof mask); /* masking only defeats proxy cache poisoning */
    tern_buf b;
    tern_buf_init(&b, 0);
    if (ws_append_frame(&b, op, p, n, mask) < 0) {
        tern_buf_free(&b);
        return -1;
    }
    size_t len;
    char *data = tern_buf_steal(&b, &len);
    return write_raw(k, data, len, close_after);
}

/* Detaches k from its client and closes it, with a close frame first when open. */
static void detach(sdk_conn *k, int send_close_code)
{
    tern_client *c = k->c;
    if (!c)
        return;
    k->c = NULL;
    if (c->conn == k)
        c->conn = NULL;
    uv_timer_stop(&c->conn_timer);
    if (k->tcp_inited && !k->tcp_closing)
        uv_read_stop((uv_stream_t *)&k->tcp);
    if (k->phase == P_OPEN && send_close_code && !k->tcp_closing) {
        uint8_t pl[2] = {(uint8_t)(send_close_code >> 8), (uint8_t)send_close_code};
        if (write_frame(k, WS_OP_CLOSE, pl, 2, 1) == 0)
            return; /* on_write closes the handle */
    }
    close_handle(k);
}

static void lost(sdk_conn *k, int code, int close_code, const char *why)
{
    tern_client *c = k->c;
    if (!c)
        return;
    detach(k, 0);
    sdk_sess_on_lost(c, code, close_code, why);
}

void sdk_conn_close(tern_client *c, int code)
{
    if (c->conn)
        detach(c->conn, code);
}

int sdk_conn_send_text(tern_client *c, const char *p, size_t n)
{
    sdk_conn *k = c->conn;
    if (!k || k->phase != P_OPEN)
        return -1;
    if (write_frame(k, WS_OP_TEXT, p, n, 0) < 0) {
        lost(k, TERN_ERR_SDK_IO, 0, "write failed");
        return -1;
    }
    return 0;
}

/* ---- reading -------------------------------------------------------------------- */

static int on_ws_msg(void *ud, unsigned opcode, uint8_t *data, size_t len)
{
    sdk_conn *k = ud;
    tern_client *c = k->c;
    if (!c)
        return 1;
    switch (opcode) {
    case WS_OP_TEXT: sdk_sess_on_text(c, (const char *)data, len); return k->c ? 0 : 1;
    case WS_OP_PING: write_frame(k, WS_OP_PONG, data, len, 0); return 0;
    case WS_OP_CLOSE: {
        int code = len >= 2 ? (data[0] << 8 | data[1]) : 1005;
        char why[128];
        size_t rl = len > 2 ? len - 2 : 0;
        if (rl > sizeof why - 1)
            rl = sizeof why - 1;
        memcpy(why, data + (len > 2 ? 2 : 0), rl);
        why[rl] = 0;
        /* Echo the close (RFC 6455 §5.5.1) — reserved codes are never sent — and close. */
        int echo = (code < 1000 || code == 1005 || code == 1006 || code == 1015 || code > 4999) ? 1000 : code;
        detach(k, echo);
        sdk_sess_on_lost(c, TERN_ERR_SDK_DISCONNECTED, code, rl ? why : "closed by server");
        return 1;
    }
    default: return 0; /* PONG, BINARY: nothing to do */
    }
}

static int handshake_ok(sdk_conn *k, const http_msg *m, char *why, size_t whysz)
{
    if (m->status != 101) {
        snprintf(why, whysz, "WebSocket handshake refused: HTTP %d", m->status);
        return 0;
    }
    tern_str up = http_header_get(m, "Upgrade");
    if (!up.p || !http_header_has_token(up, "websocket")) {
        snprintf(why, whysz, "WebSocket handshake: no Upgrade: websocket");
        return 0;
    }
    char want[29];
    tern_str acc = http_header_get(m, "Sec-WebSocket-Accept");
    if (ws_accept_key(k->key, strlen(k->key), want) < 0 || !acc.p || acc.n != 28 || memcmp(acc.p, want, 28) != 0) {
        snprintf(why, whysz, "WebSocket handshake: bad Sec-WebSocket-Accept");
        return 0;
    }
    tern_str proto = http_header_get(m, "Sec-WebSocket-Protocol");
    if (!proto.p || !tern_str_eq(proto, SUBPROTOCOL)) {
        snprintf(why, whysz, "WebSocket handshake: server did not accept subprotocol " SUBPROTOCOL);
        return 0;
    }
    return 1;
}

static void feed_ws(sdk_conn *k, uint8_t *p, size_t n)
{
    int rc = ws_reader_feed(&k->wr, p, n, on_ws_msg, k);
    if (rc > 0 && k->c) {
        tern_client *c = k->c;
        char why[64];
        snprintf(why, sizeof why, "WebSocket protocol error (close %d)", rc);
        detach(k, rc);
        sdk_sess_on_lost(c, TERN_ERR_SDK_IO, 0, why);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    sdk_conn *k = h->data;
    buf->base = k->rbuf;
    buf->len = sizeof k->rbuf;
}

/* Bytes of the WebSocket stream (the upgrade response, then frames) as they arrived. */
static void feed_plain(sdk_conn *k, uint8_t *p, size_t n)
{
    if (k->phase == P_HANDSHAKE) {
        size_t used = 0;
        int rc = http_parser_feed(k->hp, (const char *)p, n, &used);
        if (rc == HTTP_NEED_MORE)
            return;
        char why[128];
        if (rc != HTTP_COMPLETE) {
            lost(k, TERN_ERR_SDK_IO, 0, "WebSocket handshake: malformed HTTP response");
            return;
        }
        if (!handshake_ok(k, http_parser_msg(k->hp), why, sizeof why)) {
            lost(k, TERN_ERR_SDK_IO, 0, why);
            return;
        }
        http_parser_free(k->hp);
        k->hp = NULL;
        k->phase = P_OPEN;
        ws_reader_init(&k->wr, 0, k->c->max_msg);
        k->wr_inited = 1;
        uv_timer_stop(&k->c->conn_timer);
        sdk_sess_on_open(k->c);
        if (!k->c || used >= n)
            return;
        p += used;
        n -= used;
    }
    if (k->phase == P_OPEN)
        feed_ws(k, p, n);
}

static void start_upgrade(sdk_conn *k);

/* Why OpenSSL failed, for the lost() message: the certificate verdict when that was
 * it, else the first queued error. */
static void tls_why(sdk_conn *k, const char *what, char *out, size_t outsz)
{
    long v = SSL_get_verify_result(k->ssl);
    unsigned long e = ERR_get_error();
    if (v != X509_V_OK)
        snprintf(out, outsz, "%s: certificate: %s", what, X509_verify_cert_error_string(v));
    else if (e)
        snprintf(out, outsz, "%s: %s", what, ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "TLS error");
    else
        snprintf(out, outsz, "%s: connection closed", what);
    ERR_clear_error();
}

/* wss: socket bytes in; handshake progress or decrypted stream bytes out. */
static void feed_tls(sdk_conn *k, const uint8_t *p, size_t n)
{
    char why[300];
    if (BIO_write(k->net_in, p, (int)n) != (int)n) {
        lost(k, TERN_ERR_SDK_IO, 0, "TLS: out of buffer memory");
        return;
    }
    if (k->phase == P_TLS) {
        int r = SSL_do_handshake(k->ssl);
        if (tls_flush(k, 0) < 0) {
            lost(k, TERN_ERR_SDK_IO, 0, "TLS: socket write failed");
            return;
        }
        if (r != 1) {
            int e = SSL_get_error(k->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            tls_why(k, "TLS handshake", why, sizeof why);
            lost(k, TERN_ERR_SDK_IO, 0, why);
            return;
        }
        start_upgrade(k);
        if (!k->c)
            return;
    }
    for (;;) {
        int r = SSL_read(k->ssl, k->plain, TLS_CHUNK);
        if (r > 0) {
            feed_plain(k, (uint8_t *)k->plain, (size_t)r);
            if (!k->c)
                return;
            continue;
        }
        int e = SSL_get_error(k->ssl, r);
        if (tls_flush(k, 0) < 0) { /* e.g. a reply to a key update */
            lost(k, TERN_ERR_SDK_IO, 0, "TLS: socket write failed");
            return;
        }
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return;
        if (e == SSL_ERROR_ZERO_RETURN) {
            lost(k, k->phase == P_OPEN ? TERN_ERR_SDK_DISCONNECTED : TERN_ERR_SDK_IO, 0, "connection closed by server");
            return;
        }
        tls_why(k, "TLS", why, sizeof why);
        lost(k, TERN_ERR_SDK_IO, 0, why);
        return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    sdk_conn *k = s->data;
    if (!k->c || nread == 0)
        return;
    if (nread < 0) {
        lost(k, k->phase == P_OPEN ? TERN_ERR_SDK_DISCONNECTED : TERN_ERR_SDK_IO, 0,
             nread == UV_EOF ? "connection closed by server" : uv_strerror((int)nread));
        return;
    }
    k->c->hb_rx = 1;
    if (k->ssl)
        feed_tls(k, (uint8_t *)buf->base, (size_t)nread);
    else
        feed_plain(k, (uint8_t *)buf->base, (size_t)nread);
}

/* ---- connecting ----------------------------------------------------------------- */

/* Sends the HTTP upgrade request (P_HANDSHAKE: the response is awaited by feed_plain). */
static void start_upgrade(sdk_conn *k)
{
    tern_client *c = k->c;
    k->phase = P_HANDSHAKE;
    k->hp = http_parser_new(0, 4096);
    ws_make_key(k->key);
    tern_buf b;
    tern_buf_init(&b, 0);
    if (!k->hp || ws_client_request(&b, c->url.host_header, c->url.path, k->key, SUBPROTOCOL) < 0) {
        tern_buf_free(&b);
        lost(k, TERN_ERR_SDK_IO, 0, "cannot build the WebSocket handshake");
        return;
    }
    size_t len;
    char *data = tern_buf_steal(&b, &len);
    if (write_raw(k, data, len, 0) < 0)
        lost(k, TERN_ERR_SDK_IO, 0, "socket write failed");
}

/* wss: sets up the TLS session on the connected socket and sends the ClientHello. The
 * name checked against the certificate is the URL's host: an IP address (SAN IP) or a
 * DNS name (SAN DNS / CN, also sent as SNI). */
static void start_tls(sdk_conn *k)
{
    tern_client *c = k->c;
    k->phase = P_TLS;
    k->ssl = SSL_new(c->ssl_ctx);
    k->net_in = BIO_new(BIO_s_mem());
    k->net_out = BIO_new(BIO_s_mem());
    k->plain = tern_malloc(TLS_CHUNK);
    if (!k->ssl || !k->net_in || !k->net_out) {
        BIO_free(k->net_in);
        BIO_free(k->net_out);
        k->net_in = k->net_out = NULL;
        lost(k, TERN_ERR_SDK_IO, 0, "TLS: cannot create a session");
        return;
    }
    SSL_set_bio(k->ssl, k->net_in, k->net_out); /* the SSL owns them from here */
    SSL_set_connect_state(k->ssl);
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, c->url.host, ip) == 1 || inet_pton(AF_INET6, c->url.host, ip) == 1;
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k->ssl), c->url.host) == 1
                   : SSL_set1_host(k->ssl, c->url.host) == 1 && SSL_set_tlsext_host_name(k->ssl, c->url.host) == 1;
    if (!ok) {
        lost(k, TERN_ERR_SDK_IO, 0, "TLS: cannot set the server name to verify");
        return;
    }
    int r = SSL_do_handshake(k->ssl);
    int e = SSL_get_error(k->ssl, r);
    if ((r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || tls_flush(k, 0) < 0) {
        char why[300];
        tls_why(k, "TLS handshake", why, sizeof why);
        lost(k, TERN_ERR_SDK_IO, 0, why);
    }
}

int sdk_tls_ctx_new(const char *ca_file, struct ssl_ctx_st **out)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return TERN_ERR_SDK_IO;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    int ok =
        ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) == 1 : SSL_CTX_set_default_verify_paths(ctx) == 1;
    ERR_clear_error();
    if (!ok) {
        SSL_CTX_free(ctx);
        return ca_file ? TERN_ERR_SDK_INVALID_ARG : TERN_ERR_SDK_IO;
    }
    *out = ctx;
    return TERN_OK;
}

void sdk_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

static void on_connect(uv_connect_t *req, int status)
{
    sdk_conn *k = req->data;
    if (!k->c)
        return;
    if (status < 0) {
        char why[400];
        snprintf(why, sizeof why, "connect to %s: %s", k->c->url.host_header, uv_strerror(status));
        lost(k, TERN_ERR_SDK_IO, 0, why);
        return;
    }
    uv_tcp_nodelay(&k->tcp, 1);
    if (uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read) < 0) {
        lost(k, TERN_ERR_SDK_IO, 0, "socket read failed");
        return;
    }
    if (k->c->ssl_ctx)
        start_tls(k);
    else
        start_upgrade(k);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sdk_conn *k = req->data;
    k->gai_busy = 0;
    if (!k->c) {
        if (res)
            uv_freeaddrinfo(res);
        maybe_free(k);
        return;
    }
    if (status < 0 || !res) {
        char why[300];
        snprintf(why, sizeof why, "resolve %s: %s", k->c->url.host, uv_strerror(status));
        if (res)
            uv_freeaddrinfo(res);
        lost(k, TERN_ERR_SDK_IO, 0, why);
        return;
    }
    /* One address is tried: IPv4 first, as servers commonly listen on 127.0.0.1/0.0.0.0. */
    const struct addrinfo *ai = res;
    for (const struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            ai = a;
            break;
        }
    tern_client *c = k->c;
    int rc = uv_tcp_init(c->loop, &k->tcp);
    if (rc == 0) {
        k->tcp_inited = 1;
        k->tcp.data = k;
        k->creq.data = k;
        k->phase = P_CONNECT;
        rc = uv_tcp_connect(&k->creq, &k->tcp, ai->ai_addr, on_connect);
    }
    uv_freeaddrinfo(res);
    if (rc < 0)
        lost(k, TERN_ERR_SDK_IO, 0, uv_strerror(rc));
}

static void on_conn_timeout(uv_timer_t *t)
{
    tern_client *c = t->data;
    if (c->conn)
        lost(c->conn, TERN_ERR_SDK_TIMEOUT, 0, "connect/handshake timed out");
}

int sdk_conn_open(tern_client *c)
{
    sdk_conn *k = tern_calloc(1, sizeof *k);
    k->c = c;
    k->phase = P_RESOLVE;
    k->gai.data = k;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    int rc = uv_getaddrinfo(c->loop, &k->gai, on_resolved, c->url.host, c->url.port, &hints);
    if (rc < 0) {
        tern_free(k);
        return TERN_ERR_SDK_IO;
    }
    k->gai_busy = 1;
    c->conn = k;
    c->conn_timer.data = c;
    uv_timer_start(&c->conn_timer, on_conn_timeout, c->connect_timeout_ms, 0);
    return 0;
}
