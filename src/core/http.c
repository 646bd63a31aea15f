/*
 * http.c — HTTP/1.1 message parsing on top of llhttp, plus the small writers and
 * decoders the REST API and the WebSocket handshake need; see http.h for the contract.
 *
 * llhttp hands us the URL and each header name and value in pieces, whenever a read
 * ends mid-token. We append those pieces back to back into one bounded buffer (`head`,
 * at most HTTP_MAX_HEAD bytes) and remember only their lengths; since the buffer may
 * move when it grows, the tern_str slices of http_msg are computed from the lengths
 * once the message is complete. The raw head (request line, whitespace, CRLFs) is
 * counted as it is fed so a peer cannot stream an endless head either.
 *
 * The parser stops at the end of every message (on_message_complete returns
 * HPE_PAUSED), so http_parser_feed can say exactly how many bytes the message took and
 * leave pipelined requests, or the first bytes of an upgraded protocol, to the caller.
 */
#include "core/http.h"

#include <llhttp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

struct http_parser {
    llhttp_t ll;   /* first member: callbacks cast llhttp_t * back to http_parser * */
    tern_buf head; /* url, then every header name and value, back to back */
    size_t max_body;
    uint32_t head_raw;  /* raw bytes of the current head fed so far */
    uint8_t in_field;   /* a header name is being received */
    uint8_t head_done;  /* on_headers_complete has run for the current message */
    uint8_t done;       /* a complete message is in msg */
    uint8_t closed;     /* the last message ended the connection (no keep-alive) */
    uint8_t begun;      /* on_message_begin has run for the current message */
    uint8_t pause_head; /* stop after a head with a body (http_parser_pause_at_head) */
    uint8_t paused;     /* 1: paused after the head, 2: paused by the body sink */
    size_t max_body_default;
    http_body_sink sink;
    void *sink_ud;
    uint64_t body_got; /* body bytes of the current message so far */
    int8_t err;        /* sticky HTTP_ERR_*, 0 if none */
    http_msg msg;      /* while parsing, slices hold lengths only (p == NULL) */
};

static http_parser *P(llhttp_t *ll)
{
    return (http_parser *)ll;
}

static int fail(http_parser *p, int err)
{
    p->err = (int8_t)err;
    return -1; /* llhttp stops with HPE_USER / HPE_CB_* */
}

static void fill_slices(http_parser *p);

static int on_message_begin(llhttp_t *ll)
{
    P(ll)->begun = 1;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    http_parser *p = P(ll);
    if (tern_buf_append(&p->head, at, len) < 0)
        return fail(p, HTTP_ERR_HEAD_TOO_LARGE);
    p->msg.url.n += len;
    return 0;
}

/* RFC 9110 §5.6.2 tchar. llhttp 8.1 lets spaces into header names ("Host : x"), which
 * proxies and we could read differently, so names are checked here as well. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    http_parser *p = P(ll);
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i]))
            return fail(p, HTTP_ERR_PARSE);
    if (!p->in_field) {
        if (p->msg.nheaders == HTTP_MAX_HEADERS)
            return fail(p, HTTP_ERR_HEAD_TOO_LARGE);
        http_header *h = &p->msg.headers[p->msg.nheaders++];
        h->name = (tern_str){NULL, 0};
        h->value = (tern_str){NULL, 0};
        p->in_field = 1;
    }
    if (tern_buf_append(&p->head, at, len) < 0)
        return fail(p, HTTP_ERR_HEAD_TOO_LARGE);
    p->msg.headers[p->msg.nheaders - 1].name.n += len;
    return 0;
}

static int on_header_field_complete(llhttp_t *ll)
{
    P(ll)->in_field = 0;
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    http_parser *p = P(ll);
    if (p->msg.nheaders == 0)
        return fail(p, HTTP_ERR_PARSE); /* llhttp never does this; be safe anyway */
    if (tern_buf_append(&p->head, at, len) < 0)
        return fail(p, HTTP_ERR_HEAD_TOO_LARGE);
    p->msg.headers[p->msg.nheaders - 1].value.n += len;
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    http_parser *p = P(ll);
    p->head_done = 1;
    /* An HTTP/0.9 request line ("GET /" without a version) has no headers and no way to
     * say how its answer ends; llhttp takes it, we do not. */
    if (ll->type == HTTP_REQUEST && ll->http_major == 0)
        return fail(p, HTTP_ERR_PARSE);
    /* Refuse a declared body over the limit before any of it arrives. */
    int has_body = ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > 0) || (ll->flags & F_CHUNKED);
    if (p->pause_head && has_body && ll->type == HTTP_REQUEST) {
        /* The caller looks at the head and chooses the body's limit and sink first. */
        http_msg *m = &p->msg;
        m->method = llhttp_get_method(ll);
        m->keep_alive = llhttp_should_keep_alive(ll) ? 1 : 0;
        fill_slices(p);
        p->paused = 1;
        return HPE_PAUSED;
    }
    if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->max_body)
        return fail(p, HTTP_ERR_BODY_TOO_LARGE);
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    http_parser *p = P(ll);
    /* Checked here rather than by body.max, where 0 would mean "no ceiling". */
    if (len > p->max_body - p->body_got)
        return fail(p, HTTP_ERR_BODY_TOO_LARGE);
    p->body_got += len;
    if (p->sink) {
        /* The last piece of a Content-Length body never pauses: nothing would come to
         * resume the parser for the end of the message. */
        int last = (ll->flags & F_CONTENT_LENGTH) && ll->content_length == 0;
        if (p->sink(p->sink_ud, at, len) && !last) {
            p->paused = 2;
            return HPE_PAUSED;
        }
        return 0;
    }
    if (tern_buf_append(&p->msg.body, at, len) < 0)
        return fail(p, HTTP_ERR_BODY_TOO_LARGE);
    return 0;
}

/* Turns the recorded lengths into slices of head. */
static void fill_slices(http_parser *p)
{
    http_msg *m = &p->msg;
    const char *base = p->head.data ? p->head.data : "";
    size_t off = 0;
    m->url.p = base;
    off += m->url.n;
    for (int i = 0; i < m->nheaders; i++) {
        m->headers[i].name.p = base + off;
        off += m->headers[i].name.n;
        m->headers[i].value.p = base + off;
        off += m->headers[i].value.n;
    }
    const char *q = memchr(m->url.p, '?', m->url.n);
    if (q) {
        m->path = (tern_str){m->url.p, (size_t)(q - m->url.p)};
        m->query = (tern_str){q + 1, m->url.n - m->path.n - 1};
    } else {
        m->path = m->url;
        m->query = (tern_str){m->url.p + m->url.n, 0};
    }
}

/* Records what llhttp knows about the finished message and makes the slices. */
static void finish_msg(http_parser *p)
{
    llhttp_t *ll = &p->ll;
    http_msg *m = &p->msg;
    m->method = llhttp_get_method(ll);
    m->status = llhttp_get_status_code(ll);
    m->upgrade = llhttp_get_upgrade(ll) ? 1 : 0;
    m->keep_alive = llhttp_should_keep_alive(ll) ? 1 : 0;
    fill_slices(p);
    p->done = 1;
}

static int on_message_complete(llhttp_t *ll)
{
    finish_msg(P(ll));
    return HPE_PAUSED; /* stop right after this message's last byte */
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Clears the message state (keeping head's memory for the next request). */
static void msg_reset(http_parser *p)
{
    tern_buf_reset(&p->head);
    tern_buf_free(&p->msg.body);
    p->msg.method = 0;
    p->msg.status = 0;
    p->msg.url = (tern_str){NULL, 0};
    p->msg.path = (tern_str){NULL, 0};
    p->msg.query = (tern_str){NULL, 0};
    p->msg.nheaders = 0;
    p->msg.upgrade = 0;
    p->msg.keep_alive = 0;
    p->head_raw = 0;
    p->in_field = 0;
    p->head_done = 0;
    p->done = 0;
    p->begun = 0;
    p->body_got = 0;
    p->paused = 0;
    p->max_body = p->max_body_default;
    p->sink = NULL;
    p->sink_ud = NULL;
    tern_buf_init(&p->msg.body, p->max_body);
}

http_parser *http_parser_new(int is_request, size_t max_body)
{
    http_parser *p = tern_calloc(1, sizeof *p);
    llhttp_init(&p->ll, is_request ? HTTP_REQUEST : HTTP_RESPONSE, &settings);
    tern_buf_init(&p->head, HTTP_MAX_HEAD);
    p->max_body = p->max_body_default = max_body;
    tern_buf_init(&p->msg.body, max_body);
    return p;
}

void http_parser_free(http_parser *p)
{
    if (!p)
        return;
    tern_buf_free(&p->head);
    tern_buf_free(&p->msg.body);
    tern_free(p);
}

int http_parser_feed(http_parser *p, const char *data, size_t n, size_t *consumed)
{
    size_t off = 0;
    *consumed = 0;
    if (p->err)
        return p->err;
    if (p->done)
        return HTTP_COMPLETE; /* the caller has not called http_parser_next yet */
    if (p->paused) {          /* after HTTP_HEAD_DONE or HTTP_BODY_PAUSED: go on */
        p->paused = 0;
        llhttp_resume(&p->ll);
    }
    if (p->closed && n) {
        /* llhttp, resumed after a pause, would silently swallow these bytes. */
        p->err = HTTP_ERR_PARSE;
        return p->err;
    }

    while (off < n) {
        size_t chunk = n - off;
        if (!p->head_done) {
            /* Feed at most what the head may still take, so its limit is exact. */
            size_t room = HTTP_MAX_HEAD - p->head_raw;
            if (chunk > room)
                chunk = room;
        }
        llhttp_errno_t e = llhttp_execute(&p->ll, data + off, chunk);
        if (e == HPE_OK) {
            if (!p->head_done) {
                p->head_raw += (uint32_t)chunk;
                if (p->head_raw >= HTTP_MAX_HEAD) {
                    p->err = HTTP_ERR_HEAD_TOO_LARGE;
                    return p->err;
                }
            }
            off += chunk;
            continue;
        }
        if ((e == HPE_PAUSED && p->done) || e == HPE_PAUSED_UPGRADE) {
            /* llhttp calls on_message_complete before pausing for an upgrade, so done
             * is normally set already; finish here should a version not do so. */
            if (!p->done)
                finish_msg(p);
            const char *pos = llhttp_get_error_pos(&p->ll);
            if (!pos || pos < data + off || pos > data + off + chunk)
                pos = data + off + chunk;
            if (e == HPE_PAUSED_UPGRADE)
                p->msg.upgrade = 1;
            *consumed = (size_t)(pos - data);
            return HTTP_COMPLETE;
        }
        if (e == HPE_PAUSED && p->paused) {
            /* Stopped after the head or by the body sink; the bytes up to the pause
             * are consumed. */
            const char *pos = llhttp_get_error_pos(&p->ll);
            if (!pos || pos < data + off || pos > data + off + chunk)
                pos = data + off + chunk;
            if (!p->head_done)
                p->head_raw += (uint32_t)(pos - (data + off));
            *consumed = (size_t)(pos - data);
            return p->paused == 1 ? HTTP_HEAD_DONE : HTTP_BODY_PAUSED;
        }
        p->err = p->err ? p->err : HTTP_ERR_PARSE;
        return p->err;
    }
    *consumed = n;
    return HTTP_NEED_MORE;
}

const http_msg *http_parser_msg(const http_parser *p)
{
    return &p->msg;
}

void http_parser_next(http_parser *p)
{
    int closed = 0;
    if (p->done && !p->err && !p->msg.upgrade && llhttp_get_errno(&p->ll) == HPE_PAUSED) {
        llhttp_resume(&p->ll);
        /* After "Connection: close" (or HTTP/1.0) nothing more may follow. */
        closed = !p->msg.keep_alive;
    } else {
        /* After an error, an upgrade or a half-parsed message, start from scratch. */
        llhttp_init(&p->ll, llhttp_get_type(&p->ll), &settings);
        p->err = 0;
    }
    msg_reset(p);
    p->closed = (uint8_t)closed;
}

void http_parser_pause_at_head(http_parser *p, int on)
{
    p->pause_head = on ? 1 : 0;
}

void http_parser_set_body(http_parser *p, size_t max_body, http_body_sink sink, void *ud)
{
    p->max_body = max_body;
    p->sink = sink;
    p->sink_ud = ud;
    tern_buf_free(&p->msg.body);
    tern_buf_init(&p->msg.body, max_body);
}

int http_parser_declared_length(const http_parser *p, uint64_t *len)
{
    if (!(p->ll.flags & F_CONTENT_LENGTH))
        return 0;
    *len = p->ll.content_length;
    return 1;
}

int http_parser_phase(const http_parser *p, uint64_t *body_bytes)
{
    if (body_bytes)
        *body_bytes = p->body_got;
    if (p->done)
        return HTTP_PHASE_DONE;
    if (p->head_done)
        return HTTP_PHASE_BODY;
    return p->begun || p->head_raw ? HTTP_PHASE_HEAD : HTTP_PHASE_IDLE;
}

/* ---- headers -------------------------------------------------------------------- */

tern_str http_header_get(const http_msg *m, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < m->nheaders; i++) {
        const http_header *h = &m->headers[i];
        if (h->name.n == n && strncasecmp(h->name.p, name, n) == 0)
            return h->value;
    }
    return (tern_str){NULL, 0};
}

int http_header_has_token(tern_str value, const char *token)
{
    size_t tn = strlen(token);
    size_t i = 0;
    while (i < value.n) {
        size_t start = i;
        while (i < value.n && value.p[i] != ',')
            i++;
        size_t end = i;
        while (start < end && (value.p[start] == ' ' || value.p[start] == '\t'))
            start++;
        while (end > start && (value.p[end - 1] == ' ' || value.p[end - 1] == '\t'))
            end--;
        if (end - start == tn && strncasecmp(value.p + start, token, tn) == 0)
            return 1;
        i++; /* skip the comma */
    }
    return 0;
}

/* ---- responses ------------------------------------------------------------------ */

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

int http_write_head(tern_buf *out, int status, const char *content_type, size_t content_length, int keep_alive,
                    const char *extra_headers)
{
    if (status < 100 || status > 999)
        return -1;
    if (tern_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, http_status_text(status)) < 0)
        return -1;
    if (content_type && tern_buf_printf(out, "Content-Type: %s\r\n", content_type) < 0)
        return -1;
    if (tern_buf_printf(out, "Content-Length: %zu\r\nConnection: %s\r\n", content_length,
                        keep_alive ? "keep-alive" : "close") < 0)
        return -1;
    if (extra_headers && tern_buf_puts(out, extra_headers) < 0)
        return -1;
    return tern_buf_append(out, "\r\n", 2);
}

/* ---- URLs ----------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_url_decode(const char *in, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (n - i < 3)
                return -1;
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            if (!c)
                return -1; /* %00 would cut the value short for every C-string reader */
            i += 2;
        }
        if (o + 1 >= outsz)
            return -1; /* keep room for the NUL */
        out[o++] = c;
    }
    if (o >= outsz || o > (size_t)INT32_MAX)
        return -1;
    out[o] = 0;
    return (int)o;
}

int http_query_get(tern_str query, const char *name, char *out, size_t outsz)
{
    size_t nn = strlen(name);
    size_t i = 0;
    while (i < query.n) {
        const char *pair = query.p + i;
        const char *amp = memchr(pair, '&', query.n - i);
        size_t plen = amp ? (size_t)(amp - pair) : query.n - i;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        if (klen == nn && memcmp(pair, name, nn) == 0) {
            int r = eq ? http_url_decode(eq + 1, plen - klen - 1, out, outsz) : http_url_decode("", 0, out, outsz);
            return r < 0 ? -2 : r;
        }
        i += plen + 1;
    }
    return -1;
}
