/*
 * stream.c — `tern stream`: standard input sent as one streamed message through the
 * REST API (POST /{org}/{app}/stream_message/chatgroup or /users, app token, the body of
 * stream-spec.md), so that `some-llm | tern stream --group g1 --from bot` shows the
 * reply growing in every member's client.
 *
 * Input is cut into chunks: a line each (the newline that ends a line travels at the
 * start of the next chunk, so the assembled message keeps its line breaks and has no
 * trailing newline), or N bytes each with --bytes N. A chunk never ends inside a UTF-8
 * sequence; bytes that are not UTF-8 are sent as U+FFFD. Input that has waited
 * FLUSH_MS in the middle of a line (or of N bytes) is sent as it is, so a writer that
 * pauses mid-line does not make the server end the stream (30 s between chunks); a
 * writer silent for longer ends it, and the server's error is printed (exit 1). At end
 * of input a last chunk carries finish:true. Chunks go one at a time over one kept-alive
 * connection (rest.c); a 429 (the app's rate limit) is retried after a pause, as a
 * refused request changes nothing on the server.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"

#define FLUSH_MS 10000
#define MAX_CHUNK 65536             /* one chunk's text at most (the whole message: 128 KiB) */
#define MAX_PENDING (4 * MAX_CHUNK) /* stdin read ahead of the chunks */
#define RETRY_429 50                /* attempts, 200 ms apart */

typedef struct streamer {
    cli_opts *o;
    char *app_token;
    char path[400];
    const char *to;
    char msg_id[32];
    int64_t seq;
    long chunks;
    size_t bytes;
    int warned_utf8;
} streamer;

static size_t seq_len(unsigned char c)
{
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* The longest prefix of s[0..n), at most max bytes, that ends on a whole UTF-8
 * sequence; if even the first sequence is longer than max, that sequence (when all of
 * it is there), so a tiny --bytes never stalls. 0 when nothing whole is there yet. */
static size_t whole_prefix(const char *s, size_t n, size_t max)
{
    size_t lim = n < max ? n : max;
    size_t i = 0, last = 0;
    while (i < lim) {
        size_t k = seq_len((unsigned char)s[i]);
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            k = 1; /* a stray continuation byte: one byte, replaced when sent */
        if (i + k > lim)
            break;
        i += k;
        last = i;
    }
    if (last == 0 && n > 0) {
        size_t k = seq_len((unsigned char)s[0]);
        if (k <= n)
            return k;
    }
    return last;
}

/* Appends s[0..n) to b as JSON string content, each invalid UTF-8 byte as U+FFFD. */
static void put_fixed(streamer *st, tern_buf *b, const char *s, size_t n)
{
    if (tern_utf8_valid((const uint8_t *)s, n)) {
        tern_buf_json_str(b, s, n);
        return;
    }
    tern_buf fixed;
    tern_buf_init(&fixed, 0);
    for (size_t i = 0; i < n;) {
        size_t k = seq_len((unsigned char)s[i]);
        if (i + k <= n && tern_utf8_valid((const uint8_t *)s + i, k)) {
            tern_buf_append(&fixed, s + i, k);
            i += k;
        } else {
            tern_buf_puts(&fixed, "\xEF\xBF\xBD");
            i++;
        }
    }
    if (!st->warned_utf8)
        fprintf(stderr, "tern stream: input is not UTF-8; invalid bytes sent as U+FFFD\n");
    st->warned_utf8 = 1;
    tern_buf_json_str(b, fixed.data ? fixed.data : "", fixed.len);
    tern_buf_free(&fixed);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Sends one chunk: pre (may be NULL) then text[0..n). Returns 0, or -1 after printing
 * the server's error. */
static int send_chunk(streamer *st, const char *pre, const char *text, size_t n, int finish)
{
    cli_opts *o = st->o;
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_puts(&b, "{\"from\":");
    tern_buf_json_str(&b, o->from, strlen(o->from));
    tern_buf_puts(&b, ",\"to\":");
    tern_buf_json_str(&b, st->to, strlen(st->to));
    tern_buf_puts(&b, ",\"body\":{\"msg\":");
    if (pre && *pre) {
        tern_buf fullmsg;
        tern_buf_init(&fullmsg, 0);
        tern_buf_puts(&fullmsg, pre);
        tern_buf_append(&fullmsg, text, n);
        put_fixed(st, &b, fullmsg.data, fullmsg.len);
        st->bytes += fullmsg.len;
        tern_buf_free(&fullmsg);
    } else {
        put_fixed(st, &b, n ? text : "", n);
        st->bytes += n;
    }
    tern_buf_printf(&b, ",\"seq\":%" PRId64, st->seq);
    if (st->seq == 0 && o->markdown)
        tern_buf_puts(&b, ",\"type\":\"markdown\"");
    if (finish) {
        tern_buf_puts(&b, ",\"finish\":true");
        if (o->finish_reason >= 0)
            tern_buf_printf(&b, ",\"finishReason\":%ld", o->finish_reason);
    }
    if (st->msg_id[0]) {
        tern_buf_puts(&b, ",\"msgId\":");
        tern_buf_json_str(&b, st->msg_id, strlen(st->msg_id));
    }
    tern_buf_puts(&b, "},\"ext\":{}}");
    cJSON *root = NULL;
    int rc;
    for (int attempt = 0;; attempt++) {
        rc = attempt < RETRY_429 ? rest_call_quiet(o, "POST", st->path, b.data, st->app_token, &root, 429)
                                 : rest_call(o, "POST", st->path, b.data, st->app_token, &root);
        if (rc != -2)
            break;
        if (o->verbose)
            fprintf(stderr, "* rate limited (429): chunk %" PRId64 " again in 200 ms\n", st->seq);
        sleep_ms(200);
    }
    tern_buf_free(&b);
    if (rc < 0) {
        if (st->msg_id[0])
            fprintf(stderr, "tern stream: message %s stopped at chunk %" PRId64 "\n", st->msg_id, st->seq);
        return -1;
    }
    if (!st->msg_id[0]) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(data, "msgId");
        if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) >= sizeof st->msg_id) {
            cli_error(TERN_ERR_BAD_JSON, "the first chunk's answer has no data.msgId");
            cJSON_Delete(root);
            return -1;
        }
        snprintf(st->msg_id, sizeof st->msg_id, "%s", id->valuestring);
        if (!o->json) {
            printf("%s\n", st->msg_id);
            fflush(stdout);
        }
    }
    cJSON_Delete(root);
    st->seq++;
    st->chunks++;
    return 0;
}

/* Sends pend's first k bytes as a chunk (after the newline a previous line left, when
 * *nl) and drops them from pend. Returns 0 or -1 (printed). */
static int send_pending(streamer *st, tern_buf *pend, size_t k, int *nl)
{
    if (send_chunk(st, *nl ? "\n" : NULL, pend->data, k, 0) < 0)
        return -1;
    tern_buf_consume(pend, k);
    *nl = 0;
    return 0;
}

/* Reads stdin into pend (at most MAX_PENDING). Returns 1 read, 0 end of input, -1 error. */
static int read_more(tern_buf *pend)
{
    char tmp[16384];
    size_t room = MAX_PENDING - pend->len;
    ssize_t n;
    do
        n = read(STDIN_FILENO, tmp, room < sizeof tmp ? room : sizeof tmp);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        cli_error(TERN_ERR_SDK_IO, "reading stdin: %s", strerror(errno));
        return -1;
    }
    if (n == 0)
        return 0;
    return tern_buf_append(pend, tmp, (size_t)n) < 0 ? -1 : 1;
}

static int check_args(cli_opts *o)
{
    if (!!o->to == !!o->group) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "give exactly one of --group GROUP or --to USER");
        return -1;
    }
    if (!o->from || !*o->from || !tern_utf8_valid((const uint8_t *)o->from, strlen(o->from))) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--from USER is required: the sender shown to the members");
        return -1;
    }
    const char *to = o->to ? o->to : o->group;
    if (!tern_ident_valid(to, strlen(to))) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "%s %s is not a valid id (1-64 of [A-Za-z0-9_.@=+-])",
                  o->to ? "--to" : "--group", to);
        return -1;
    }
    if (o->bytes < 0 || o->bytes > MAX_CHUNK) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--bytes %ld is out of range: 1-%d", o->bytes, MAX_CHUNK);
        return -1;
    }
    return 0;
}

int cmd_stream(cli_opts *o)
{
    if (check_args(o) < 0)
        return 2;
    streamer st;
    memset(&st, 0, sizeof st);
    st.o = o;
    st.to = o->to ? o->to : o->group;
    st.app_token = cli_app_token(o);
    if (!st.app_token)
        return 1;
    snprintf(st.path, sizeof st.path, "/%s/stream_message/%s", o->app, o->to ? "users" : "chatgroup");
    tern_buf pend;
    tern_buf_init(&pend, 0);
    int rc = 1, eof = 0, nl = 0; /* nl: a line ended; its newline opens the next chunk */
    int64_t since = tern_now_ms();
    size_t per = o->bytes > 0 ? (size_t)o->bytes : MAX_CHUNK;
    for (;;) {
        /* Every whole chunk already read goes out first. */
        const char *p = pend.data;
        if (!o->bytes && pend.len) {
            const char *e = memchr(p, '\n', pend.len);
            if (e) {
                size_t k = (size_t)(e - p), kk = k && p[k - 1] == '\r' ? k - 1 : k;
                if (send_chunk(&st, nl ? "\n" : NULL, p, kk, 0) < 0)
                    goto out;
                tern_buf_consume(&pend, k + 1);
                nl = 1;
                since = tern_now_ms();
                continue;
            }
        }
        if (pend.len >= per) {
            if (send_pending(&st, &pend, whole_prefix(pend.data, pend.len, per), &nl) < 0)
                goto out;
            since = tern_now_ms();
            continue;
        }
        if (eof) {
            if (send_chunk(&st, pend.len && nl ? "\n" : NULL, pend.len ? pend.data : "", pend.len, 1) < 0)
                goto out;
            break;
        }
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int wait = -1;
        if (pend.len) {
            int64_t left = since + FLUSH_MS - tern_now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) { /* input waited FLUSH_MS mid-line: send what is whole */
            size_t k = whole_prefix(pend.data, pend.len, pend.len);
            if (k && send_pending(&st, &pend, k, &nl) < 0)
                goto out;
            since = tern_now_ms();
            continue;
        }
        int r = read_more(&pend);
        if (r < 0)
            goto out;
        if (r == 0)
            eof = 1;
    }
    if (o->json)
        printf("{\"msgId\":\"%s\",\"chunks\":%ld,\"bytes\":%zu}\n", st.msg_id, st.chunks, st.bytes);
    else if (o->verbose)
        fprintf(stderr, "* message %s: %ld chunks, %zu bytes, finished\n", st.msg_id, st.chunks, st.bytes);
    fflush(stdout);
    rc = 0;
out:
    tern_buf_free(&pend);
    tern_free(st.app_token);
    return rc;
}
