/*
 * msgext.h — message extensions (Tencent's message extensions, issue 10): the parts
 * shared by the WebSocket ops (session_relay.c: extSet, extDelete, extGet) and the REST
 * routes (rest/extensions.c). Each key of a message sent with isSupportExtension has a
 * version that grows by one at every set or delete; a set or delete may give the version
 * it expects per key, and the store writer compares and sets inside its transaction
 * (STORE_OP_EXT), so of two writers holding one version exactly one wins; the other's
 * item fails with 23001 (Tencent's code) and carries the key's current value and version.
 * Bounds: MSGEXT_MAX_ITEMS items per call, keys of 1..MSGEXT_MAX_KEY bytes, values of at
 * most MSGEXT_MAX_VALUE bytes, at most extMaxKeys live keys per message (apps.h, default
 * 300 as Tencent's). The changes that won go to the conversation's members online as the
 * `ext` event (docs/protocol.md §5): for a receiverList message, to its sender and the
 * members among its receivers only.
 */
#ifndef TERN_SERVER_MSGEXT_H
#define TERN_SERVER_MSGEXT_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/util.h"
#include "groups.h"
#include "store/store.h"

#define MSGEXT_MAX_ITEMS 20 /* items per set / keys per delete */
#define MSGEXT_MAX_KEY 100  /* bytes */
#define MSGEXT_MAX_VALUE 1024

/* One set or delete on its way through the writer. The caller fills the fields of its
 * own answer path (WebSocket: loop, conn, re, reply_id; REST: ud). */
typedef struct ext_req {
    store_op op;
    server *s;
    int64_t app;
    uint64_t msg_id;
    uint64_t session; /* the requesting session: no event to it (0: none, REST) */
    int loop;
    uint64_t conn;
    const char *re; /* "extSet" / "extDelete" */
    char *reply_id; /* the request id JSON, or NULL */
    void *ud;
    int is_group;
    char from[TERN_IDENT_MAX + 1], to[TERN_IDENT_MAX + 1]; /* C2C: both users; group: to */
    group_snap *snap;                                      /* group: members now */
    char **only;  /* a private (receiverList) group message: its sender and the members */
    size_t nonly; /* among its receivers, the only ones its events may reach (owned) */
    size_t n;
    char *keys[MSGEXT_MAX_ITEMS], *values[MSGEXT_MAX_ITEMS];
    int64_t versions[MSGEXT_MAX_ITEMS];
    int codes[MSGEXT_MAX_ITEMS];
    int64_t out_versions[MSGEXT_MAX_ITEMS];
    char *out_values[MSGEXT_MAX_ITEMS];
} ext_req;

/* Frees x and what it owns. NULL is fine. */
void msgext_free(ext_req *x);

/* Reads a set's items ({"items":[{"key","value","version"?}]}, del 0) or a delete's keys
 * ({"keys":[...],"versions":[...]?}, del 1) of body into x. TERN_OK, 1003 (malformed, a
 * key twice), 1012 (an item member other than key/value/version), 1034 (a key or value
 * too long), 1203 (more than MSGEXT_MAX_ITEMS). */
int msgext_parse(const cJSON *body, int del, ext_req *x);

/* Message msg_id of app as `user` may see it (NULL: the app itself, which sees every
 * message of the app), if it supports extensions. With x: fills x's conversation, its
 * group's members and, for a private message, x->only. Uses the caller's reader.
 * TERN_OK, 1009 (absent or not visible), 1035 (not sent with isSupportExtension), 5002. */
int msgext_target(server *s, store_reader *rd, int64_t app, const char *user, uint64_t msg_id, ext_req *x);

/* Prepares x->op (STORE_OP_EXT for msg_id, x's items, the app's extMaxKeys) with done as
 * its completion and x as its ud, and fills x->s, x->app, x->msg_id. */
void msgext_op(ext_req *x, server *s, int64_t app, uint64_t msg_id, void (*done)(store_op *op));

/* Appends {"msgId":"..","results":[{"key","code","value","version"}...]}: the answer of a
 * committed set or delete. */
void msgext_put_results(tern_buf *b, const ext_req *x);

/* Writer thread, after a committed set or delete: the `ext` event with the changes that
 * won to the audience (see above) but x->session. */
void msgext_events(ext_req *x);

/* Appends {"msgId":"..","extensions":[{"key","value","version"}...]} (the live keys).
 * TERN_OK or 5002. */
int msgext_put_list(store_reader *rd, int64_t app, uint64_t msg_id, tern_buf *b);

#endif
