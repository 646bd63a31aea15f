/*
 * fuzz_proto.c — libFuzzer harness for the protocol JSON a client sends: the bytes are
 * parsed as a request (tern_json_parse, as session.c does) and run through the server's
 * message validation and authorization (msg_prepare, against a real SQLite store holding users a, b and group
 * g1) and conversation-id parsing (conv_parse). Any crash, leak or UB is a bug in code
 * that sees every client message.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps.h"
#include "core/json.h"
#include "core/util.h"
#include "msg.h"
#include "session.h"

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
