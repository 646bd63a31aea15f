/*
 * listen.c — `tern listen`: logs in, prints every message the user receives (the
 * login-time catch-up, then live ones) until --count, --timeout or Ctrl-C, and at the end
 * prints the sync cursor on stderr ("cursor: <id>") so `tern listen --since <id>` can
 * continue where this run stopped: libtern starts its first sync at that cursor
 * (tern_client_options.sync_cursor), which delivers what arrived in between.
 *
 * The cursor libtern holds is where its last sync ended; messages that came live after
 * it are past the cursor too. So that the next run does not print them again, a run that
 * received live messages ends with one more sync (log out and in again on the same
 * client: the sync sends the held seqs, gets anything still missing, and moves the
 * cursor to the server's present) before it prints the cursor. A message that arrives
 * during that last sync is printed, never skipped.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "core/util.h"

static void print_cursor(cli_run *r)
{
    char cur[32];
    if (tern_client_get_cursor(r->c, cur, sizeof cur) > 0)
        fprintf(stderr, "cursor: %s\n", cur);
}

static void on_resync_login(tern_client *c, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    if (r->finishing)
        return;
    if (code != TERN_OK) { /* the old cursor is still a safe place to continue from */
        cli_error(code, "final sync: %s", message);
        print_cursor(r);
        cli_run_finish(r, r->stop_rc);
        return;
    }
    r->logged_in = 1; /* SDK_READY follows once the sync is done */
}

static void on_resync_logout(tern_client *c, int code, const char *message, void *ud)
{
    cli_run *r = ud;
    r->logged_in = 0;
    if (r->finishing)
        return;
    if (tern_login(c, on_resync_login, r) != TERN_OK) {
        print_cursor(r);
        cli_run_finish(r, r->stop_rc);
    }
}

/* Stops the listener with exit code rc: a final sync if live messages came after the
 * last one, then the cursor, then logout. */
static void listen_stop(cli_run *r, int rc)
{
    if (r->stopping)
        return;
    r->stopping = 1;
    r->stop_rc = rc;
    if (r->timer_on)
        uv_timer_stop(&r->timer);
    if (r->logged_in && r->live_since_sync) {
        r->resyncing = 1;
        if (tern_logout(r->c, on_resync_logout, r) == TERN_OK)
            return;
    }
    print_cursor(r);
    cli_run_finish(r, rc);
}

static void on_listen_timeout(uv_timer_t *t)
{
    cli_run *r = t->data;
    if (r->o->count > 0 && r->received < r->o->count) {
        cli_error(TERN_ERR_SDK_TIMEOUT, "timed out after %ld of %ld messages", r->received, r->o->count);
        listen_stop(r, 1);
    } else {
        listen_stop(r, 0);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    cli_run *r = h->data;
    if (r->stopping) { /* a second Ctrl-C: leave now */
        cli_run_finish(r, 128 + signum);
        return;
    }
    cli_live_break(r->live);
    listen_stop(r, 0);
}

static void listen_event(tern_client *c, const tern_event *ev, void *ud)
{
    cli_run *r = ud;
    if (r->finishing)
        return;
    int whole = 0;
    if (ev->type == TERN_EVENT_SDK_READY) {
        r->live_since_sync = 0;
        if (r->resyncing) { /* the final sync is done: the cursor covers everything shown */
            r->resyncing = 0;
            print_cursor(r);
            cli_run_finish(r, r->stop_rc);
            return;
        }
        if (!r->ready_said) {
            r->ready_said = 1;
            fprintf(stderr, "listening as %s\n", tern_client_user(c));
        } else if (r->reconnecting) {
            fprintf(stderr, "* reconnected (missed messages shown above)\n");
        }
        r->reconnecting = 0;
        if (r->o->count > 0 && r->received >= r->o->count)
            listen_stop(r, 0); /* --count was reached inside the catch-up */
        return;
    } else if (ev->type == TERN_EVENT_MESSAGE_RECEIVED) {
        if (tern_client_get_state(c) == TERN_STATE_READY)
            r->live_since_sync = 1;
        whole = cli_live_message(r->live, ev->message);
    } else if (cli_live_event(r->live, ev)) {
        whole = 1;
        r->live_since_sync = 1;
    } else if (ev->type == TERN_EVENT_RECONNECTING) {
        r->reconnecting = 1;
        cli_live_break(r->live);
        fprintf(stderr, "* connection lost: reconnecting (attempt %u) in %.1f s\n", ev->attempt, ev->delay_ms / 1000.0);
    }
    if (whole) {
        r->received++;
        /* Inside a sync the cursor moves only at its end: the catch-up is printed whole
         * (even past --count) and the run stops at SDK_READY, so the cursor is exact. */
        if (r->o->count > 0 && r->received >= r->o->count && tern_client_get_state(c) == TERN_STATE_READY)
            listen_stop(r, 0);
        return;
    }
    if (ev->type == TERN_EVENT_DISCONNECTED && r->resyncing)
        return; /* our own logout before the final sync */
    if (ev->type == TERN_EVENT_KICKED_OUT || ev->type == TERN_EVENT_DISCONNECTED)
        cli_live_break(r->live);
    cli_run_common_event(r, ev);
}

int cmd_listen(cli_opts *o)
{
    if (o->since && (!*o->since || strlen(o->since) > 20 || strspn(o->since, "0123456789") != strlen(o->since))) {
        cli_error(TERN_ERR_SDK_INVALID_ARG, "--since needs a cursor: the number a previous `tern listen` printed "
                                            "as \"cursor: <id>\"");
        return 2;
    }
    cli_run r;
    int rc = cli_run_setup(&r, o, listen_event, cli_run_on_login, 0, o->since);
    if (rc)
        return rc;
    r.live = cli_live_new(o, NULL);
    uv_loop_t *loop = tern_client_get_loop(r.c);
    if (o->timeout > 0) {
        uv_timer_init(loop, &r.timer);
        r.timer.data = &r;
        r.timer_on = 1;
        uint64_t ms = (uint64_t)(o->timeout * 1000);
        uv_timer_start(&r.timer, on_listen_timeout, ms ? ms : 1, 0);
    }
    static const int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        uv_signal_init(loop, &r.sig[i]);
        r.sig[i].data = &r;
        uv_signal_start(&r.sig[i], on_signal, sigs[i]);
    }
    r.sig_on = 1;
    rc = cli_run_loop(&r);
    cli_live_free(r.live);
    return rc;
}
