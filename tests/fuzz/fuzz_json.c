/*
 * fuzz_json.c — libFuzzer harness for the JSON entry of every frame and body
 * (src/core/json.c) and the core message model behind it (src/core/message.c, elem.c,
 * conv.c).
 *
 * The input is copied to an exactly sized buffer (not NUL-terminated, so ASan catches
 * any read past its length) and run through the strict scanner and tern_json_parse.
 * The harness checks the scanner's promises against cJSON: whatever tern_json_parse
 * accepts, cJSON parses too, and no string in the tree holds a NUL (each string
 * re-encodes to exactly its escaped length). An accepted object is then read as a
 * `send` message (tern_msg_parse_send: validate + canonical encode, whose output must
 * parse back strictly and decode), as a stored message (tern_msg_decode), and through
 * the getters and conversation-id parsing. It is also read as an Easemob REST send
 * ({type, body}, core/easemob.c): a body that maps onto an element must map back to
 * Easemob's shape and from there to the very same payload (the round trip of the
 * export). Seeds: tests/fuzz/corpus/fuzz_json.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/conv.h"
#include "core/easemob.h"
#include "core/json.h"
#include "core/message.h"
#include "core/util.h"
#include "tern/errors.h"

static volatile size_t sink;

/* Every string in the tree: no NUL inside (its strlen is its length), and the escaped
 * length agrees with tern_buf_json_str. */
static void walk(const cJSON *n, int depth)
{
    if (depth > TERN_JSON_MAX_DEPTH + 1)
        abort();
    for (; n; n = n->next) {
        if (cJSON_IsString(n)) {
            size_t len = strlen(n->valuestring);
            tern_buf b;
            tern_buf_init(&b, 0);
            tern_buf_json_str(&b, n->valuestring, len);
            if (b.len != tern_json_escaped_len(n->valuestring, len) + 2)
                abort();
            tern_buf_free(&b);
        }
        walk(n->child, depth + 1);
    }
}

static void as_message(const cJSON *obj)
{
    tern_msg m;
    int rc = tern_msg_parse_send(obj, &m);
    if (rc == TERN_OK) {
        if (tern_msg_validate(&m) != TERN_OK || !m.elem)
            abort();
        tern_buf f;
        tern_buf_init(&f, 0);
        tern_buf_puts(&f, "{\"msgId\":\"1\",\"seq\":1,\"time\":1,");
        if (tern_msg_encode_fields(&f, &m, "me", 2) < 0)
            abort();
        tern_buf_putc(&f, '}');
        cJSON *back;
        if (tern_json_parse(f.data, f.len, &back) != TERN_OK) /* what we store must parse */
            abort();
        tern_msg_view v;
        if (tern_msg_decode(back, &v) < 0 || v.elem != m.elem)
            abort();
        cJSON_Delete(back);
        tern_buf_reset(&f);
        if (tern_msg_encode_send(&f, &m, 1) < 0)
            abort();
        sink += f.len;
        tern_buf_free(&f);
    }
    tern_msg_clear(&m);
    /* The same object as a send's options: a push object read must encode to JSON
     * that parses again. */
    tern_send_opts o;
    if (tern_send_opts_parse(obj, &o) == TERN_OK && o.push.present) {
        tern_buf p;
        tern_buf_init(&p, 0);
        if (tern_push_info_encode(&p, &o.push) < 0)
            abort();
        cJSON *back;
        if (tern_json_parse(p.data, p.len, &back) != TERN_OK)
            abort();
        cJSON_Delete(back);
        tern_buf_free(&p);
    }
    tern_msg_view v;
    if (tern_msg_decode(obj, &v) == 0) {
        char id[160];
        sink += (size_t)tern_conv_id_for(id, sizeof id, v.kind, v.from, v.to, "me");
        if (v.elem && cJSON_IsObject(v.payload)) {
            const char *vals[TERN_ELEM_MAX_FIELDS];
            v.elem->decode(v.elem, v.payload, vals);
        }
    }
}

/* {type, body} as an Easemob send: mapped, shown back in Easemob's shape, mapped again. */
static void as_easemob(const cJSON *obj)
{
    tern_msg m;
    tern_msg_init(&m);
    const char *type = cJSON_IsObject(obj) ? tern_json_str(obj, "type") : NULL;
    int rc = tern_em_body_to_msg(type, cJSON_GetObjectItemCaseSensitive(obj, "body"), &m);
    if (rc == TERN_OK) {
        tern_buf f, e;
        tern_buf_init(&f, 0);
        tern_buf_init(&e, 0);
        tern_buf_puts(&f, "{\"type\":\"");
        tern_buf_puts(&f, m.elem->name);
        tern_buf_puts(&f, "\",\"payload\":");
        tern_buf_append(&f, m.payload.data, m.payload.len);
        tern_buf_puts(&f, ",\"cloudCustomData\":\"\"}");
        cJSON *stored = NULL, *em = NULL;
        if (tern_json_parse(f.data, f.len, &stored) != TERN_OK || tern_em_from_msg(stored, &e) != TERN_OK ||
            tern_json_parse(e.data, e.len, &em) != TERN_OK)
            abort();
        tern_msg again;
        tern_msg_init(&again);
        if (tern_em_body_to_msg(tern_json_str(em, "type"), cJSON_GetObjectItemCaseSensitive(em, "body"), &again) !=
                TERN_OK ||
            again.elem != m.elem || again.payload.len != m.payload.len ||
            memcmp(again.payload.data, m.payload.data, m.payload.len) != 0)
            abort();
        tern_msg_clear(&again);
        cJSON_Delete(stored);
        cJSON_Delete(em);
        tern_buf_free(&f);
        tern_buf_free(&e);
    }
    tern_msg_clear(&m);
    tern_buf x;
    tern_buf_init(&x, 0);
    if (obj && tern_em_from_msg(obj, &x) == TERN_OK) { /* as a stored message */
        cJSON *back = NULL;
        if (tern_json_parse(x.data, x.len, &back) != TERN_OK)
            abort();
        cJSON_Delete(back);
    }
    tern_buf_free(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        tern_json_use_tern_alloc();
        init = 1;
    }
    char *copy = tern_malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    int chk = tern_json_check(copy, size);
    cJSON *root = NULL;
    int rc = tern_json_parse(copy, size, &root);
    if (rc != chk && !(chk == TERN_OK && rc == TERN_ERR_INTERNAL))
        abort(); /* the parse entry is the scanner plus cJSON */
    if (rc == TERN_OK) {
        walk(root, 0);
        as_message(root);
        as_message(cJSON_GetObjectItemCaseSensitive(root, "msg"));
        as_easemob(root);
        tern_str s;
        long long i;
        uint64_t u;
        int b;
        sink += (size_t)tern_json_get_str(root, "to", &s) + (size_t)tern_json_get_ident(root, "user", &s) +
                (size_t)tern_json_get_int(root, "limit", -5, 1000, &i) + (size_t)tern_json_get_u64(root, "cursor", &u) +
                (size_t)tern_json_get_bool(root, "more", &b);
        char *out = cJSON_PrintUnformatted(root);
        if (out) {
            cJSON *again; /* cJSON's own output passes the strict scan */
            if (tern_json_parse(out, strlen(out), &again) != TERN_OK)
                abort();
            cJSON_Delete(again);
            cJSON_free(out);
        }
        cJSON_Delete(root);
    } else if (rc == TERN_ERR_BAD_FIELD) {
        cJSON *req = NULL;
        tern_json_parse_request(copy, size, &req); /* may hand the tree back */
        cJSON_Delete(req);
    }
    tern_str peer;
    tern_conv_kind kind;
    sink += (size_t)tern_conv_id_parse(copy, size, &kind, &peer);
    const char *p;
    long v;
    sink +=
        (size_t)tern_json_scan_str(copy, size, "\"re\"", &p) + (size_t)tern_json_scan_int(copy, size, "\"code\"", &v);
    (void)tern_utf8_valid((const uint8_t *)copy, size);
    tern_free(copy);
    return 0;
}
