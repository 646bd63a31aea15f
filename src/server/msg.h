/*
 * msg.h — one message on its way from a sender (WebSocket session or REST call) to the
 * store and the recipients. See msg.c for the path and why fan-out runs on the writer.
 */
#ifndef TERN_MSG_H
#define TERN_MSG_H
#include <cjson/cJSON.h>

#include "context.h"
#include "core/message.h"
#include "groups.h"

typedef struct send_req send_req;
typedef struct msg_hook_cfg msg_hook_cfg;
/* Called once per request after commit (op.result says how it went), or right away for
 * onlineUserOnly messages. Runs on the store writer thread (or the calling loop for
 * online-only); it must hand any socket work to a loop inbox and free the request
 * (send_req_free) when done with it. */
typedef void (*send_complete_fn)(send_req *r);

struct send_req {
    store_op op; /* first: op.u.msg holds the outputs (msg_id, seq, time, json) */
    server *s;
    int64_t app;
    int is_group;
    group_snap *snap; /* group members at send time (referenced) */
    char *sender;
    char *to;       /* recipient user or group id */
    char *conv_key; /* store key */
    char *fields;   /* pre-encoded JSON members */
    size_t fields_len;
    char *cmid;
    /* origin */
    int loop;
    uint64_t origin_conn;    /* sending connection on that loop: gets the answer; 0 = none (REST) */
    uint64_t origin_session; /* sending session (delivery.h): excluded from the fan-out; 0 = none */
    int skip_sender;         /* C2C: the sender's sessions do not get the message (REST
                                sync_device false); group messages always reach them */
    send_complete_fn complete;
    void *ud;
    char *reply; /* scratch for the completion (e.g. the request id JSON) */
    /* The message's options (issue 10; docs/protocol.md §4 send), owned. */
    int priority;          /* TERN_MSG_PRIO_* */
    int need_receipt;      /* needReadReceipt */
    int support_extension; /* isSupportExtension */
    char **receivers;      /* receiverList: nreceivers user ids, or NULL */
    size_t nreceivers;
    int online_only;                       /* onlineUserOnly: delivered now, never stored */
    int no_unread, no_last, no_moderation; /* messageControlInfo */
    char *push_json;                       /* offlinePushInfo's canonical object, or NULL */
    int disable_push;                      /* offlinePushInfo.disablePush: no offline push */
    int shed;                              /* out: dropped by the group rate (reported as sent; nothing stored) */
    struct msg_hook_cfg *hcfg; /* the app's webhooks, read at dispatch (msg_hooks.c); NULL: none */
    /* A merger's list to store with the message (merger.h; key "" when none). */
    char merger_key[TERN_MERGER_KEY_LEN + 1];
    char *merger_body;
    size_t merger_len;
    int merger_layers;
    int merger_apart; /* the list is not embedded (downloadKey): never online-only */
    /* An @ message (H1; filled in by prepare from the payload's atUserList): the
     * mentioned ids (owned; the store skips those who are not members) and @ALL. */
    char **at_users;
    size_t nat;
    int at_all;
};

/* Authorizes a message validated by the core model (tern_msg_validate runs again here)
 * sent by `from`: the C2C recipient exists, the GROUP sender is a member, using the
 * caller's store reader. On success returns TERN_OK and a new request in *out (caller
 * sets origin fields and complete); m is not kept. Otherwise the error code (those of
 * tern_msg_validate, 10007, 10010, 20003, 20009 (friendCheck, friends.h), 5002). A media message (elem.h's media rows) is
 * completed from its media rows first (media/media_msg.h: 7006, 7002, 7030), a merger
 * from the messages it names (merger.h: 1030, 1031, 1036), and the request carries the
 * completed payload. */
int msg_prepare_msg(server *s, store_reader *rd, int64_t app, const char *from, const tern_msg *m, send_req **out);
/* The same from a client's message object: tern_msg_parse_send (1003, 1008, 1012, 2106,
 * 80002, docs/protocol.md §4) then msg_prepare_msg. */
int msg_prepare(server *s, store_reader *rd, int64_t app, const char *from, cJSON *msg, send_req **out);
/* Takes the send options o into r (copies what it keeps). TERN_OK, or 1012 for an
 * option this server does not act on yet (never accepted and dropped). */
int msg_set_options(send_req *r, const tern_send_opts *o);
/* What a receiver cannot tell from the message otherwise (its client keeps the
 * conversation list: libtern's convlist.c): Tencent's V2TIMMessage flags, appended to
 * r->fields (the stored object) only on the messages that have them, so the others
 * keep their bytes. MSG_FLAG_NO_UNREAD for excludedFromUnreadCount and for a
 * receiverList message (never unread, seed 001); MSG_FLAG_NO_LAST for
 * excludedFromLastMessage. Called by msg_set_options and again after a before-send
 * rewrite re-encodes the fields. Returns 0, or -1 out of memory (r->fields unchanged
 * in what fields_len covers). */
#define MSG_FLAG_NO_UNREAD "isExcludedFromUnreadCount"
#define MSG_FLAG_NO_LAST "isExcludedFromLastMessage"
int msg_fields_flags(send_req *r);
/* Sends a prepared request on its way: content moderation, the before-send callback,
 * the group rate (priority shedding), then msg_send_online (r->online_only) or
 * msg_submit. TERN_OK: r->complete will run, perhaps on another thread and perhaps with
 * r->op.result an error code (10016 rejected by the callback, a store failure); any other
 * return: complete will not run and the caller still owns r. */
int msg_dispatch(send_req *r);
/* The steps after the before-send callback (the rate, then store or online delivery),
 * for the webhook thread that ran the callback; the same contract as msg_dispatch. */
int msg_dispatch_continue(send_req *r);
/* The store flags (STORE_MSG_*, store.h) of r's options: no_unread, no_last, and a
 * receiverList (private). */
int msg_store_flags(const send_req *r);
/* Queues the request in the store. TERN_OK: complete will run. Otherwise (5003, 5004)
 * complete will not run and the caller still owns r. */
int msg_submit(send_req *r);
/* onlineUserOnly: delivers now without storing, then runs complete; TERN_OK. If the
 * event cannot be built (allocation failure), TERN_ERR_INTERNAL: complete does not run
 * and the caller still owns r, as after a failed msg_submit. */
int msg_send_online(send_req *r);
/* msg_hooks.c — the app's webhooks (hooks/webhook.h), called by msg.c only.
 * Before-send: 0 if the message goes on now (no callback, or the queue refused it and
 * callbackOnFailure is allow); 1 if it was taken, *rc then being msg_dispatch's answer:
 * TERN_OK (the webhook thread continues or completes r) or 10016 (refused at once).
 * Reads the app's hook settings into r->hcfg (when it has any). */
int msg_hooks_before_send(send_req *r, int *rc);
/* After commit (writer) or online delivery: queues the after-send callback and the
 * offline push of the message object json[0..n), as r->hcfg says. Only enqueues. */
void msg_hooks_sent(send_req *r, const char *json, size_t n);
void msg_hook_cfg_free(msg_hook_cfg *c);
/* Appends the sender-side conversation id (C2C<to> / GROUP<to>). */
void msg_conv_id(const send_req *r, tern_buf *out);
void send_req_free(send_req *r);

#endif
