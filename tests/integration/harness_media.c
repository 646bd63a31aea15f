/*
 * harness_media.c — the media suites' shared helpers (harness_media.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness_media.h"

int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

/* Reads what the server sends within timeout_ms (until it closes), NUL-terminated. */
size_t read_some(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t len = 0;
    int64_t end = it_now_ms() + timeout_ms;
    while (len + 1 < cap && it_now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = 0;
    return len;
}

void fill(char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(it_rand(&seed) & 0xff);
}

void sha_hex(const char *p, size_t n, char out[65])
{
    unsigned char md[32];
    SHA256((const unsigned char *)p, n, md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* POSTs data as an upload to /{org}/{app}/media with token; extra headers end in CRLF. */
int upload(it_server *s, const char *app_path, const char *token, const char *ctype, const char *name, const char *data,
           size_t n, it_http_resp *out)
{
    char head[2048];
    int hn = snprintf(head, sizeof head,
                      "POST %s/media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
                      "X-Tern-Filename: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      app_path, token, ctype, name, n);
    char *req = malloc((size_t)hn + n);
    memcpy(req, head, (size_t)hn);
    memcpy(req + hn, data, n);
    int st = it_http_raw(s->port, req, (size_t)hn + n, IT_WAIT_MS, out);
    free(req);
    return st;
}

int get_media(it_server *s, const char *method, const char *path, const char *token, const char *extra,
              it_http_resp *out)
{
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n%sConnection: close\r\n\r\n", method,
                     path, token, extra ? extra : "");
    return it_http_raw(s->port, req, (size_t)n, IT_WAIT_MS, out);
}

int media_tmp_files(it_server *s)
{
    char p[512];
    snprintf(p, sizeof p, "%s/media/tmp", s->dir);
    return it_count_files(p);
}

int media_files(it_server *s)
{
    char p[512];
    snprintf(p, sizeof p, "%s/media", s->dir);
    return it_count_files(p) - media_tmp_files(s);
}

void expect_err(const it_http_resp *r, int status, int code)
{
    if (r->status != status || it_jnum(r->json, "code", -1) != code)
        fail_msg("wanted %d/%d, got %d %s", status, code, r->status, r->body ? r->body : "");
}

const char *header_has(const it_http_resp *r, const char *h)
{
    return r->head ? strcasestr(r->head, h) : NULL;
}

void media_signed_path(it_server *s, const char *id, int thumb, long long exp, char *out, size_t outsz)
{
    char text[512], sig[64], th[32] = "";
    int n = snprintf(text, sizeof text, "%s/%s\n%s\n%d\n%lld", s->org, s->app, id, thumb, exp);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), s->client_secret, (int)strlen(s->client_secret), (const unsigned char *)text, (size_t)n, mac,
         &maclen);
    assert_int_equal(it_b64url(mac, maclen, sig, sizeof sig), 43);
    if (thumb)
        snprintf(th, sizeof th, "thumb=%d&", thumb);
    snprintf(out, outsz, "/%s/%s/media/%s?%sexp=%lld&sig=%s", s->org, s->app, id, th, exp, sig);
}

/* Appends a form part to b (a growing malloc'd buffer of *n bytes). */
char *add_part(char *b, size_t *n, const char *name, const char *filename, const char *ctype, const char *data,
               size_t dn)
{
    char head[16384];
    int hn =
        snprintf(head, sizeof head, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"%s%s%s\r\n%s%s%s\r\n",
                 name, filename ? "; filename=\"" : "", filename ? filename : "", filename ? "\"" : "",
                 ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "");
    b = realloc(b, *n + (size_t)hn + dn + 2);
    memcpy(b + *n, head, (size_t)hn);
    memcpy(b + *n + hn, data, dn);
    memcpy(b + *n + hn + dn, "\r\n", 2);
    *n += (size_t)hn + dn + 2;
    return b;
}

/* The closing delimiter. */
char *close_form(char *b, size_t *n)
{
    static const char end[] = "--" BOUNDARY "--\r\n";
    b = realloc(b, *n + sizeof end - 1);
    memcpy(b + *n, end, sizeof end - 1);
    *n += sizeof end - 1;
    return b;
}

/* POSTs body[0..n) to /demo/demo/chatfiles with the app token and Content-Type ctype
 * (NULL: the test boundary's); extra headers end in CRLF. The status. */
int post_form(it_server *s, const char *app_path, const char *ctype, const char *extra, const char *body, size_t n,
              it_http_resp *r)
{
    char head[2048];
    int hn = snprintf(head, sizeof head,
                      "POST %s/chatfiles HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
                      app_path, it_app_token(s), ctype ? ctype : "multipart/form-data; boundary=" BOUNDARY, n,
                      extra ? extra : "");
    char *req = malloc((size_t)hn + n);
    memcpy(req, head, (size_t)hn);
    memcpy(req + hn, body, n);
    int st = it_http_raw(s->port, req, (size_t)hn + n, IT_WAIT_MS, r);
    free(req);
    return st;
}

/* ---- a real PNG (grayscale, stored deflate blocks), so a thumbnailer can decode it ---- */

static uint32_t crc32_of(const uint8_t *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a chunk (type, data) at out + *n. */
static void chunk(uint8_t *out, size_t *n, const char *type, const uint8_t *data, size_t len)
{
    be32(out + *n, (uint32_t)len);
    memcpy(out + *n + 4, type, 4);
    if (len)
        memcpy(out + *n + 8, data, len);
    be32(out + *n + 8 + len, crc32_of(out + *n + 4, len + 4, 0));
    *n += 12 + len;
}

/* A w x h 8-bit grayscale PNG (a gradient); malloc'd, its size in *len. */
uint8_t *make_png(uint32_t w, uint32_t h, size_t *len)
{
    size_t raw_n = (size_t)h * (w + 1);
    uint8_t *raw = malloc(raw_n);
    for (uint32_t y = 0; y < h; y++) {
        raw[(size_t)y * (w + 1)] = 0; /* filter: none */
        for (uint32_t x = 0; x < w; x++)
            raw[(size_t)y * (w + 1) + 1 + x] = (uint8_t)((x + y) & 0xff);
    }
    size_t nblocks = (raw_n + 65534) / 65535;
    size_t z_n = 2 + raw_n + 5 * nblocks + 4;
    uint8_t *z = malloc(z_n);
    size_t o = 0;
    z[o++] = 0x78;
    z[o++] = 0x01;
    uint32_t a = 1, b = 0;
    for (size_t off = 0; off < raw_n; off += 65535) {
        size_t bn = raw_n - off < 65535 ? raw_n - off : 65535;
        z[o++] = off + bn == raw_n ? 1 : 0;
        z[o++] = (uint8_t)bn;
        z[o++] = (uint8_t)(bn >> 8);
        z[o++] = (uint8_t)~bn;
        z[o++] = (uint8_t)(~bn >> 8);
        memcpy(z + o, raw + off, bn);
        o += bn;
    }
    for (size_t i = 0; i < raw_n; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    be32(z + o, (b << 16) | a);
    o += 4;
    uint8_t *png = malloc(o + 64);
    size_t n = 0;
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    n = 8;
    uint8_t ihdr[13] = {0};
    be32(ihdr, w);
    be32(ihdr + 4, h);
    ihdr[8] = 8; /* bit depth; color type 0 (gray), deflate, no filter method, no interlace */
    chunk(png, &n, "IHDR", ihdr, sizeof ihdr);
    chunk(png, &n, "IDAT", z, o);
    chunk(png, &n, "IEND", NULL, 0);
    free(raw);
    free(z);
    *len = n;
    return png;
}
