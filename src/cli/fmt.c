/*
 * fmt.c — how the `tern` CLI shows things to people: local times (HH:MM today, the date
 * before it otherwise), message lines in the look of `chat` ("[12:05] (GROUPg1) alice:
 * text"), message types as words (text, custom, markdown, stream...), aligned tables for
 * lists, and emphasis (bold/colour) only when stdout is a terminal and NO_COLOR is unset.
 * Text that came from the network is printed with its control characters made visible,
 * so a message can never move the cursor or change the terminal's colours.
 * `--json` output does not come through here except for cli_json_line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"

#define SGR_BOLD "\033[1m"
#define SGR_DIM "\033[2m"
#define SGR_UNREAD "\033[1;33m"
#define SGR_NAME "\033[36m"
#define SGR_OFF "\033[0m"

void cli_out_init(cli_opts *o)
{
    o->tty = isatty(STDOUT_FILENO);
    const char *nc = getenv("NO_COLOR");
    o->color = o->tty && !(nc && *nc) && !o->json;
}

void cli_fmt_time(int64_t ms, char *out, size_t outsz)
{
    if (ms <= 0) {
        snprintf(out, outsz, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000), now = time(NULL);
    struct tm tm, today;
    localtime_r(&t, &tm);
    localtime_r(&now, &today);
    int same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
    if (!strftime(out, outsz, same_day ? "%H:%M" : "%Y-%m-%d %H:%M", &tm))
        snprintf(out, outsz, "-");
}

void cli_fmt_bytes(uint64_t n, char *out, size_t outsz)
{
    if (n < 1024)
        snprintf(out, outsz, "%llu B", (unsigned long long)n);
    else if (n < (1u << 20))
        snprintf(out, outsz, "%.1f KB", n / 1024.0);
    else if (n < (1u << 30))
        snprintf(out, outsz, "%.1f MB", n / 1048576.0);
    else
        snprintf(out, outsz, "%.2f GB", n / 1073741824.0);
}

/* ---- text from the network --------------------------------------------------------- */

/* Length of the UTF-8 sequence starting with lead byte c (1 for a stray byte). */
static size_t seq_len(unsigned char c)
{
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

size_t cli_text_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}

size_t cli_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--; /* s[k] starts a sequence: cutting before it splits nothing */
    return k;
}

void cli_put_text(FILE *f, const char *s, size_t n, int indent)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            fputc('\n', f);
            for (int k = 0; k < indent; k++)
                fputc(' ', f);
            i++;
        } else if (c == '\t') {
            fputc('\t', f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "^%c", c == 0x7f ? '?' : c + '@'); /* ESC shows as ^[ instead of acting */
            i++;
        } else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f) {
            fputc('?', f); /* a C1 control (U+0080-U+009F): CSI and friends in some terminals */
            i += 2;
        } else {
            size_t k = seq_len(c);
            if (i + k > n)
                k = n - i;
            fwrite(s + i, 1, k, f);
            i += k;
        }
    }
}

/* ---- messages ---------------------------------------------------------------------- */

int cli_msg_stream(const tern_message *m, cli_stream_info *si)
{
    memset(si, 0, sizeof *si);
    tern_stream_state st = tern_message_stream_state(m);
    if (st == TERN_STREAM_NONE)
        return 0;
    const char *fmt = tern_message_stream_format(m);
    si->is_stream = 1;
    snprintf(si->format, sizeof si->format, "%s", fmt ? fmt : "text");
    snprintf(si->state, sizeof si->state, "%s",
             st == TERN_STREAM_OPEN       ? "open"
             : st == TERN_STREAM_FINISHED ? "finished"
                                          : "ended");
    si->end_code = tern_message_stream_end_code(m);
    return 1;
}

const char *cli_msg_kind(const tern_message *m, char *buf, size_t bufsz)
{
    cli_stream_info si;
    if (cli_msg_stream(m, &si))
        return !strcmp(si.format, "markdown") ? "markdown" : "stream";
    switch (tern_message_type(m)) { /* Tencent's names are not all words */
    case TERN_MSG_SOUND: return "audio";
    case TERN_MSG_VIDEO: return "video";
    case TERN_MSG_MERGER: return "merger";
    default: break;
    }
    const char *t = tern_message_type_name(m);
    size_t n = strlen(t);
    /* "TIMTextElem" -> "text", "TIMLocationElem" -> "location"; other names as sent. */
    if (n > 7 && !strncmp(t, "TIM", 3) && !strcmp(t + n - 4, "Elem")) {
        size_t k = n - 7 < bufsz - 1 ? n - 7 : bufsz - 1;
        for (size_t i = 0; i < k; i++) {
            char c = t[3 + i];
            buf[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        buf[k] = 0;
        return buf;
    }
    snprintf(buf, bufsz, "%s", n ? t : "unknown");
    return buf;
}

/* An image, audio, video or file message in words: "pic.png, 34.2 KB, 640x480,
 * media ID" (a static buffer: the CLI prints from one thread). */
static const char *media_body(const tern_message *m)
{
    static char line[700];
    tern_buf b;
    tern_buf_init(&b, 0);
    const char *name = tern_message_media_file_name(m);
    tern_buf_printf(&b, "%s", name && *name ? name : "(no name)");
    if (tern_message_media_size(m)) {
        char sz[32];
        cli_fmt_bytes(tern_message_media_size(m), sz, sizeof sz);
        tern_buf_printf(&b, ", %s", sz);
    }
    tern_msg_type t = tern_message_type(m);
    if (t == TERN_MSG_SOUND || t == TERN_MSG_VIDEO)
        tern_buf_printf(&b, ", %u s", tern_message_media_seconds(m));
    if (tern_message_media_width(m) && tern_message_media_height(m))
        tern_buf_printf(&b, ", %s%ux%u", t == TERN_MSG_VIDEO ? "snapshot " : "", tern_message_media_width(m),
                        tern_message_media_height(m));
    tern_buf_printf(&b, ", media %s", tern_message_media_id(m));
    snprintf(line, sizeof line, "%s", b.data ? b.data : "");
    tern_buf_free(&b);
    return line;
}

/* Face, location, merger and @ messages in words (issue 10). */
const char *cli_elem_body(const tern_message *m)
{
    static char line[1024];
    size_t n;
    switch (tern_message_type(m)) {
    case TERN_MSG_TEXT:
        if (!(n = tern_message_at_user_count(m)))
            return NULL;
        snprintf(line, sizeof line, "%s  [@", tern_message_text(m));
        for (size_t i = 0; i < n; i++) {
            const char *u = tern_message_at_user(m, i);
            size_t l = strlen(line);
            snprintf(line + l, sizeof line - l, "%s%s", i ? " @" : "", strcmp(u, TERN_AT_ALL) ? u : "all");
        }
        n = strlen(line);
        snprintf(line + n, sizeof line - n, "]");
        return line;
    case TERN_MSG_FACE: {
        const char *d = tern_message_face_data(m);
        snprintf(line, sizeof line, "face %d%s%s", tern_message_face_index(m), d && *d ? " " : "", d ? d : "");
        return line;
    }
    case TERN_MSG_LOCATION: {
        const char *d = tern_message_location_description(m);
        snprintf(line, sizeof line, "%s%s(%.6f, %.6f)", d ? d : "", d && *d ? " " : "",
                 tern_message_location_longitude(m), tern_message_location_latitude(m));
        return line;
    }
    case TERN_MSG_MERGER: {
        const char *t = tern_message_merger_title(m), *key = tern_message_merger_download_key(m);
        size_t cnt = tern_message_merger_message_count(m);
        if (key && *key)
            snprintf(line, sizeof line, "%s (stored apart: tern history shows the merger only)",
                     t && *t ? t : "merged messages");
        else
            snprintf(line, sizeof line, "%s (%zu message%s)", t && *t ? t : "merged messages", cnt,
                     cnt == 1 ? "" : "s");
        return line;
    }
    default: return NULL;
    }
}

const char *cli_msg_body(const tern_message *m)
{
    const char *body = cli_elem_body(m); /* face, location, merger, @ */
    if (body)
        return body;
    body = tern_message_text(m);
    if (body)
        return body;
    if (tern_message_media_id(m))
        return media_body(m);
    if (tern_message_type(m) == TERN_MSG_CUSTOM) {
        if (tern_message_custom_data(m) && *tern_message_custom_data(m))
            return tern_message_custom_data(m);
        if (tern_message_custom_description(m))
            return tern_message_custom_description(m);
    }
    return tern_message_payload_json(m);
}

void cli_msg_prefix(FILE *f, const cli_opts *o, const tern_message *m, const char *here, int cont)
{
    char ts[32], kb[32];
    cli_fmt_time(tern_message_time(m), ts, sizeof ts);
    const char *conv = tern_message_conversation_id(m);
    const char *kind = cli_msg_kind(m, kb, sizeof kb);
    fprintf(f, "%s[%s]%s ", o->color ? SGR_DIM : "", ts, o->color ? SGR_OFF : "");
    if (!here || strcmp(conv, here) != 0)
        fprintf(f, "(%s) ", conv);
    fprintf(f, "%s%s%s:", o->color ? SGR_NAME : "", tern_message_from(m), o->color ? SGR_OFF : "");
    if (strcmp(kind, "text") != 0)
        fprintf(f, " [%s]", kind);
    if (cont)
        fputs(" …", f);
    fputc(' ', f);
}

void cli_print_msg(FILE *f, const cli_opts *o, const tern_message *m, const char *here)
{
    cli_msg_prefix(f, o, m, here, 0);
    const char *body = cli_msg_body(m);
    cli_put_text(f, body, strlen(body), 4);
    cli_stream_info si;
    if (cli_msg_stream(m, &si) && !strcmp(si.state, "ended"))
        fprintf(f, " [ended: %d]", si.end_code);
    else if (si.is_stream && !strcmp(si.state, "open"))
        fputs(" [streaming…]", f);
    fputc('\n', f);
    fflush(f);
}

void cli_json_line(const char *json)
{
    if (!json)
        return;
    fputs(json, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* ---- tables ------------------------------------------------------------------------ */

void cli_table_init(cli_table *t, int ncols, const char *const *heads, unsigned right_cols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols > CLI_TABLE_MAX_COLS ? CLI_TABLE_MAX_COLS : ncols;
    for (int i = 0; i < t->ncols; i++)
        t->heads[i] = heads[i];
    t->right = right_cols;
}

int cli_table_add(cli_table *t, const char *const *cells, unsigned emph_cols)
{
    if (t->nrows == t->caprows) {
        size_t cap = t->caprows ? t->caprows * 2 : 16;
        cli_table_row *r = tern_realloc(t->rows, cap * sizeof *r);
        if (!r)
            return -1;
        t->rows = r;
        t->caprows = cap;
    }
    cli_table_row *row = &t->rows[t->nrows];
    memset(row, 0, sizeof *row);
    for (int i = 0; i < t->ncols; i++) {
        row->cell[i] = tern_strdup(cells[i] ? cells[i] : "");
        if (!row->cell[i]) {
            while (i-- > 0)
                tern_free(row->cell[i]);
            return -1;
        }
    }
    row->emph = emph_cols;
    t->nrows++;
    return 0;
}

static void pad(FILE *f, size_t n)
{
    while (n--)
        fputc(' ', f);
}

void cli_table_print(const cli_table *t, const cli_opts *o, FILE *f)
{
    size_t w[CLI_TABLE_MAX_COLS];
    for (int c = 0; c < t->ncols; c++) {
        w[c] = strlen(t->heads[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = cli_text_width(t->rows[r].cell[c], strlen(t->rows[r].cell[c]));
            if (cw > w[c])
                w[c] = cw;
        }
    }
    if (o->color)
        fputs(SGR_BOLD, f);
    for (int c = 0; c < t->ncols; c++) {
        int right = (t->right >> c) & 1, last = c == t->ncols - 1;
        size_t hw = strlen(t->heads[c]);
        if (right)
            pad(f, w[c] - hw);
        fputs(t->heads[c], f);
        if (!last)
            pad(f, (right ? 0 : w[c] - hw) + 2);
    }
    fputs(o->color ? SGR_OFF "\n" : "\n", f);
    for (size_t r = 0; r < t->nrows; r++) {
        const cli_table_row *row = &t->rows[r];
        for (int c = 0; c < t->ncols; c++) {
            int right = (t->right >> c) & 1, last = c == t->ncols - 1;
            const char *s = row->cell[c];
            size_t n = strlen(s), cw = cli_text_width(s, n);
            int emph = o->color && ((row->emph >> c) & 1);
            if (right)
                pad(f, w[c] - cw);
            if (emph)
                fputs(SGR_UNREAD, f);
            cli_put_text(f, s, n, 0);
            if (emph)
                fputs(SGR_OFF, f);
            if (!last)
                pad(f, (right ? 0 : w[c] - cw) + 2);
        }
        fputc('\n', f);
    }
    fflush(f);
}

void cli_table_free(cli_table *t)
{
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++)
            tern_free(t->rows[r].cell[c]);
    tern_free(t->rows);
    memset(t, 0, sizeof *t);
}

/* A one-line summary of a message for a table cell: newlines as spaces, at most max
 * characters (cut on a character boundary, "…" appended). */
void cli_msg_summary(const tern_message *m, char *out, size_t outsz, size_t max)
{
    char kb[32];
    const char *kind = cli_msg_kind(m, kb, sizeof kb);
    const char *body = cli_msg_body(m);
    tern_buf b;
    tern_buf_init(&b, 0);
    tern_buf_printf(&b, "%s: ", tern_message_from(m));
    if (strcmp(kind, "text") != 0)
        tern_buf_printf(&b, "[%s] ", kind);
    size_t n = strlen(body), take = cli_utf8_cut(body, n, max * 4), chars = 0, i = 0;
    for (; i < take && chars < max; chars++) {
        size_t k = seq_len((unsigned char)body[i]);
        if (i + k > take)
            break;
        if (body[i] == '\n' || body[i] == '\r')
            tern_buf_putc(&b, ' ');
        else
            tern_buf_append(&b, body + i, k);
        i += k;
    }
    if (i < n)
        tern_buf_puts(&b, "…");
    snprintf(out, outsz, "%s", b.data ? b.data : "");
    if (b.len >= outsz) /* snprintf cut it: do not leave half a character behind */
        out[cli_utf8_cut(out, strlen(out), outsz > 4 ? outsz - 4 : 0)] = 0;
    tern_buf_free(&b);
}
