/*
 * media.c — the `tern` CLI's media commands, as a libtern app: `tern send --image F |
 * --file F | --audio F --seconds N | --video F [--snapshot S] [--seconds N]` uploads
 * the file with libtern's builders and sends the message they make; `tern download
 * MEDIA -o FILE` fetches a media id or URL into a file. Both show a progress bar on
 * stderr when stderr is a terminal, and nothing of it otherwise (a pipe, a file, a
 * script), so scripts read only the result lines.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "tern/tern.h"

/* ---- the progress bar ------------------------------------------------------------------- */

typedef struct bar {
    int on;            /* stderr is a terminal */
    const char *label; /* the file's name */
    int drawn;
    int last_pct;
    double last_t;
} bar;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bar_init(bar *b, const char *label)
{
    memset(b, 0, sizeof *b);
    b->on = isatty(STDERR_FILENO);
    const char *slash = strrchr(label, '/');
    b->label = slash && slash[1] ? slash + 1 : label;
    b->last_pct = -1;
}

/* Redraws the line when the percentage moved, at most ten times a second (and always
 * at 100%). */
static void bar_show(bar *b, uint64_t now, uint64_t total)
{
    if (!b->on)
        return;
    int pct = total ? (int)(now * 100 / total) : 0;
    double t = mono_s();
    if (pct == b->last_pct || (pct < 100 && b->drawn && t - b->last_t < 0.1))
        return;
    b->last_pct = pct;
    b->last_t = t;
    b->drawn = 1;
    char done[32], all[32], cells[31];
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
        cells[i] = i < fill ? '#' : '.';
    cells[30] = 0;
    cli_fmt_bytes(now, done, sizeof done);
    cli_fmt_bytes(total, all, sizeof all);
    fprintf(stderr, "\r%.40s [%s] %3d%% %s / %s\033[K", b->label, cells, pct, done, all);
    fflush(stderr);
}

/* Ends the bar's line (before anything else is printed). */
static void bar_end(bar *b)
{
    if (b->on && b->drawn) {
        fputc('\n', stderr);
        fflush(stderr);
    }
    b->drawn = 0;
}

static void on_progress(tern_client *c, uint64_t id, uint64_t now, uint64_t total, void *ud)
{
    bar_show((bar *)((cli_run *)ud)->media, now, total);
}

/* ---- send --image/--file/--audio/--video ------------------------------------------------ */

typedef struct media_send {
    tern_conv_type type;
    const char *to;
    const char *path;
} media_send;

static void on_built(tern_client *c, uint64_t id, int code, const char *message, tern_message *m, void *ud)
{
    cli_run *r = ud;
    media_send *ms = r->o->media_ctx;
    bar_end(r->media);
    if (r->finishing)
        return;
    if (code != TERN_OK) {
        cli_error(code, "upload of %s failed: %s", ms->path, message);
        cli_run_finish(r, 1);
        return;
    }
    if (!r->o->json) {
        char sz[32];
        cli_fmt_bytes(tern_message_media_size(m), sz, sizeof sz);
        printf("uploaded %s (%s): media %s\n", ms->path, sz, tern_message_media_id(m));
        fflush(stdout);
    }
    if (tern_message_set_target(m, ms->type, ms->to) != TERN_OK) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "invalid recipient %s", ms->to);
        cli_run_finish(r, 1);
        return;
    }
    if (r->o->custom_data)
        tern_message_set_cloud_custom_data(m, r->o->custom_data);
    if (r->o->client_msg_id)
        tern_message_set_client_msg_id(m, r->o->client_msg_id);
    tern_send_options so;
    cli_send_options(r->o, &so); /* --priority was checked before the upload */
    if (tern_send_message(c, m, &so, cli_on_sent, r) != TERN_OK)
        cli_run_finish(r, 1);
}

int cmd_send_media(cli_opts *o)
{
    media_send ms;
    const char *given[] = {o->image, o->file, o->audio, o->video};
    int n = 0;
    for (int i = 0; i < 4; i++)
        n += given[i] != NULL;
    if (n != 1 || o->text) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "give one of --text, --image, --file, --audio or --video");
        return 2;
    }
    if (!!o->to == !!o->group) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "give exactly one of --to USER or --group GROUP");
        return 2;
    }
    if (o->audio && o->seconds < 0) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--audio needs --seconds N (its duration)");
        return 2;
    }
    if (o->snapshot && !o->video) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--snapshot goes with --video");
        return 2;
    }
    ms.type = o->to ? TERN_CONV_C2C : TERN_CONV_GROUP;
    ms.to = o->to ? o->to : o->group;
    ms.path = o->image ? o->image : o->file ? o->file : o->audio ? o->audio : o->video;
    o->media_ctx = &ms;
    cli_run r;
    int rc = cli_run_setup(&r, o, cli_plain_event, cli_run_on_login, o->timeout >= 0 ? o->timeout : 0, NULL);
    if (rc)
        return rc;
    bar b;
    bar_init(&b, ms.path);
    r.media = &b;
    unsigned secs = o->seconds > 0 ? (unsigned)o->seconds : 0;
    uint64_t id;
    if (o->image)
        rc = tern_create_image_message_by_uploading(r.c, o->image, &id, on_progress, on_built, &r);
    else if (o->file)
        rc = tern_create_file_message_by_uploading(r.c, o->file, &id, on_progress, on_built, &r);
    else if (o->audio)
        rc = tern_create_audio_message_by_uploading(r.c, o->audio, secs, &id, on_progress, on_built, &r);
    else
        rc = tern_create_video_message_by_uploading(r.c, o->video, secs, o->snapshot, &id, on_progress, on_built, &r);
    if (rc != TERN_OK) {
        cli_error(rc, "cannot upload %s", ms.path);
        cli_run_finish(&r, 1);
    }
    return cli_run_loop(&r);
}

/* ---- download --------------------------------------------------------------------------- */

static void on_downloaded(tern_client *c, uint64_t id, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    bar_end(r->media);
    if (code != TERN_OK) {
        cli_error(code, "download of %s failed: %s", r->o->pos[1], message);
        cli_run_finish(r, 1);
        return;
    }
    FILE *f = fopen(r->o->output, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (f)
        fclose(f);
    if (r->o->json) {
        tern_buf b;
        tern_buf_init(&b, 0);
        tern_buf_puts(&b, "{\"file\":");
        tern_buf_json_str(&b, r->o->output, strlen(r->o->output));
        tern_buf_printf(&b, ",\"bytes\":%ld}", n);
        cli_json_line(b.data);
        tern_buf_free(&b);
    } else {
        char sz[32];
        cli_fmt_bytes(n > 0 ? (uint64_t)n : 0, sz, sizeof sz);
        printf("downloaded %s to %s (%s)\n", r->o->pos[1], r->o->output, sz);
        fflush(stdout);
    }
    cli_run_finish(r, 0);
}

int cmd_download(cli_opts *o)
{
    if (o->npos != 2 || !o->output) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "usage: tern download MEDIA_ID|URL -o FILE");
        return 2;
    }
    cli_run r;
    /* No login: a transfer needs only the token. */
    int rc = cli_run_setup(&r, o, cli_plain_event, NULL, o->timeout >= 0 ? o->timeout : 0, NULL);
    if (rc)
        return rc;
    bar b;
    bar_init(&b, o->output);
    r.media = &b;
    uint64_t id;
    rc = tern_download_media(r.c, o->pos[1], o->output, &id, on_progress, on_downloaded, &r);
    if (rc != TERN_OK) {
        cli_error(rc, "cannot download '%s': give a media id, a media URL or a path starting with /", o->pos[1]);
        cli_run_finish(&r, 2);
    }
    return cli_run_loop(&r);
}
