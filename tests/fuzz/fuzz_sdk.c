/*
 * fuzz_sdk.c — libFuzzer harness for what libtern parses from outside: a server's
 * message and conversation objects (sdk_msg_from_json, sdk_conv_from_json; a client
 * must survive any server) and the server URL an app passes in (sdk_url_parse).
 *
 * The first input byte picks the parser; the rest is its input, copied to an exactly
 * sized buffer (NUL-terminated only where the API takes a C string) so ASan sees any
 * read past it. Parsed objects are read through every public accessor, re-encoded as
 * a send request, and freed; a streamed one is also cloned, appended to and re-encoded
 * as stream.c does with the copy it holds. The SDK modules are compiled in here, as in
 * tests/unit/test_sdk_logic.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sdk/elem_msg.c"
#include "sdk/media_msg.c"
#include "sdk/message.c"
#include "sdk/sdk_util.c"
#include "sdk/send_opts.c"
#include "sdk/seqset.c"

/* message.c's tern_create_*_message ask the client for its user; no client here. */
const char *tern_client_user(const tern_client *c)
{
    (void)c;
    return "me";
}

static size_t sink;

static void touch(const char *s)
{
    if (s)
        sink += strlen(s);
}

static void read_message(const tern_message *m)
{
    sink += (size_t)tern_message_status(m) + tern_message_seq(m) + (size_t)tern_message_time(m) +
            (size_t)tern_message_conv_type(m) + (size_t)tern_message_type(m) + (size_t)tern_message_priority(m) +
            (size_t)tern_message_need_read_receipt(m) + (size_t)tern_message_online_only(m);
    touch(tern_message_id(m));
    touch(tern_message_from(m));
    touch(tern_message_to(m));
    touch(tern_message_conversation_id(m));
    touch(tern_message_type_name(m));
    touch(tern_message_text(m));
    touch(tern_message_custom_data(m));
    touch(tern_message_custom_description(m));
    touch(tern_message_custom_extension(m));
    touch(tern_message_payload_json(m));
    touch(tern_message_cloud_custom_data(m));
    touch(tern_message_client_msg_id(m));
    touch(tern_message_json(m));
    touch(tern_message_stream_format(m));
    sink += (size_t)tern_message_stream_state(m) + (size_t)tern_message_stream_last_seq(m) +
            (size_t)tern_message_stream_finish_reason(m) + (size_t)tern_message_stream_end_code(m);
    if (tern_message_stream_state(m) != TERN_STREAM_NONE && m->type == TERN_MSG_TEXT) {
        /* What stream.c does to a held copy: clone, append, rebuild lazily. */
        tern_message *c = sdk_msg_clone(m);
        sdk_msg_stream_append(c, "+more", 5, 1u << 20);
        touch(tern_message_json(c));
        touch(tern_message_payload_json(c));
        tern_message_release(c);
    }
    /* issue 10's fields, read lazily from the payload (elem_msg.c), and a forward */
    sink += (size_t)tern_message_face_index(m) + tern_message_at_user_count(m) + tern_message_merger_abstract_count(m) +
            tern_message_merger_message_count(m) + (size_t)tern_message_merger_layers_over_limit(m) +
            (size_t)(tern_message_location_latitude(m) != 0);
    touch(tern_message_face_data(m));
    touch(tern_message_location_description(m));
    touch(tern_message_at_user(m, 0));
    touch(tern_message_merger_title(m));
    touch(tern_message_merger_compatible_text(m));
    touch(tern_message_merger_abstract(m, 0));
    touch(tern_message_merger_download_key(m));
    touch(sdk_msg_merger_list_json(m));
    tern_message *f = tern_create_forward_message((tern_client *)1, m, TERN_CONV_GROUP, "g1");
    if (f) {
        touch(tern_message_payload_json(f));
        tern_message_release(f);
    }
    tern_buf b;
    tern_buf_init(&b, 0);
    sdk_msg_encode_send(&b, m, NULL);
    sink += b.len + (size_t)sdk_msg_check(m);
    tern_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 3;
    data++;
    size--;
    if (which == 0) {
        char *s = malloc(size + 1);
        memcpy(s, data, size);
        s[size] = 0;
        sdk_url u;
        if (sdk_url_parse(s, &u) == 0) {
            touch(u.host);
            touch(u.port);
            touch(u.path);
            touch(u.host_header);
        }
        free(s);
        return 0;
    }
    char *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    cJSON *root = cJSON_ParseWithLength(copy, size);
    free(copy);
    if (!root)
        return 0;
    if (which == 1) {
        tern_message *m = sdk_msg_from_json(root, "me");
        if (m) {
            read_message(m);
            tern_message_release(m);
        }
    } else {
        tern_conversation *c = sdk_conv_from_json(root, "me");
        if (c) {
            sink += (size_t)tern_conversation_type(c) + tern_conversation_unread_count(c) +
                    tern_conversation_read_seq(c) + tern_conversation_last_seq(c);
            touch(tern_conversation_id(c));
            touch(tern_conversation_peer(c));
            const tern_message *last = tern_conversation_last_message(c);
            if (last)
                read_message(last);
            sdk_conv_free(c);
        }
    }
    cJSON_Delete(root);
    return 0;
}
