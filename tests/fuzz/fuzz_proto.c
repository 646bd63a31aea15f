/*
 * fuzz_proto.c — libFuzzer harness for the protocol JSON a client sends: the bytes are
 * parsed as a request (tern_json_parse, as session.c does) and run through the server's
 * message validation and authorization (msg_prepare, against a real SQLite store holding users a, b and group
 * g1) and conversation-id parsing (conv_parse); and the read-receipt ops (session_rcpt.c,
 * as user a, whose group message with needReadReceipt b has read). Any crash, leak or UB
 * is a bug in code that sees every client message.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/util.h"
#include "msg.h"
#include "session.h"
#include "session_rcpt.h"

static server srv;
static store_reader *rd;
static int64_t app_id;

static void run(store_op *op)
{
    store_run_sync(srv.st, op);
}

static void setup(void)
{
    char dir[] = "/tmp/tern-fuzz-proto-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    pthread_mutex_init(&srv.groups_mu, NULL);
    hmap_init(&srv.groups);
    store_options so = {.data_dir = dir, .max_batch = 64, .queue_max = 1000};
    char err[128];
    srv.st = store_open(&so, err, sizeof err);
    if (!srv.st)
        abort();
    store_op op = {.kind = STORE_OP_CREATE_APP};
    op.u.app_create.org = "o";
    op.u.app_create.name = "a";
    op.u.app_create.client_id = "cid";
    op.u.app_create.client_secret = "secret";
    run(&op);
    app_id = op.u.app_create.out_id;
    const char *users[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        store_op u = {.kind = STORE_OP_CREATE_USER, .app = app_id};
        u.u.user.user = users[i];
        run(&u);
    }
    store_op g = {.kind = STORE_OP_CREATE_GROUP, .app = app_id};
    g.u.group.group_id = "g1";
    g.u.group.owner = "a";
    g.u.group.members = users + 1;
    g.u.group.nmembers = 1;
    run(&g);
    /* A receipt message of a to g1 (members a, b), read by b. */
    store_op m = {.kind = STORE_OP_MESSAGE, .app = app_id};
    m.u.msg.conv_key = "g:g1";
    m.u.msg.is_group = 1;
    m.u.msg.sender = "a";
    m.u.msg.peer = "g1";
    m.u.msg.fields = "\"text\":\"x\"";
    m.u.msg.fields_len = strlen(m.u.msg.fields);
    m.u.msg.need_receipt = 1;
    m.u.msg.rcpt_members = users;
    m.u.msg.rcpt_nmembers = 2;
    run(&m);
    tern_free(m.u.msg.json);
    store_op rdop = {.kind = STORE_OP_MARK_READ, .app = app_id};
    rdop.u.read.user = "b";
    rdop.u.read.conv_key = "g:g1";
    rdop.u.read.seq = 1;
    run(&rdop);
    tern_free(rdop.u.read.rcpts);
    rd = store_reader_open(srv.st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!rd)
        setup();
    char key[160], peer[80];
    int is_group;
    conv_parse((const char *)data, size, "a", key, sizeof key, &is_group, peer, sizeof peer);
    if (!tern_utf8_valid(data, size))
        return 0; /* the WebSocket layer closes such frames before the JSON is parsed */
    cJSON *root;
    if (tern_json_parse((const char *)data, size, &root) != TERN_OK)
        return 0; /* what session.c refuses before msg_prepare */
    if (cJSON_IsObject(root)) {
        static ioloop l;
        static conn c;
        l.reader = rd;
        c.loop = &l;
        c.app = app_id;
        c.user = "a";
        /* An answer they give must be one JSON object. */
        int (*const ops[])(conn *, cJSON *, tern_buf *) = {session_rcpt_counts, session_rcpt_members};
        for (int i = 0; i < 2; i++) {
            tern_buf out;
            tern_buf_init(&out, 0);
            if (ops[i](&c, root, &out) == TERN_OK) {
                cJSON *chk = cJSON_ParseWithLength(out.data, out.len);
                if (!cJSON_IsObject(chk))
                    abort();
                cJSON_Delete(chk);
            }
            tern_buf_free(&out);
        }
    }
    cJSON *msg = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "msg") : NULL;
    send_req *r = NULL;
    if (msg && msg_prepare(&srv, rd, app_id, "a", msg, &r) == TERN_OK) {
        if (!r || !r->fields || !tern_utf8_valid((const uint8_t *)r->fields, r->fields_len))
            abort();
        /* The pre-encoded fields must form a valid JSON object. */
        size_t n = r->fields_len + 2;
        char *obj = malloc(n + 1);
        obj[0] = '{';
        memcpy(obj + 1, r->fields, r->fields_len);
        obj[n - 1] = '}';
        obj[n] = 0;
        cJSON *chk = cJSON_ParseWithLength(obj, n);
        if (!chk)
            abort();
        cJSON_Delete(chk);
        free(obj);
        send_req_free(r);
    }
    cJSON_Delete(root);
    return 0;
}
