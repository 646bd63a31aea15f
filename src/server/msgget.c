/*
 * msgget.c — msg_get_visible (msgget.h). The stored object is the server's own JSON,
 * with conversationType, from and to written before the payload (core/message.h,
 * tern_msg_encode_fields), all identifiers without escapes: the raw scanners read them
 * without a parse. Group membership comes from the groups cache (no store read when the
 * group is cached); a group message then also passes the receiverList check (one indexed
 * read).
 */
#include "msgget.h"

#include <string.h>

#include "core/conv.h"
#include "core/json.h"
#include "core/util.h"
#include "groups.h"
#include "tern/errors.h"

/* Copies the string value of qkey in d[0..n) into out[outsz]; 0 or -1. */
static int scan_ident(const char *d, size_t n, const char *qkey, char *out, size_t outsz)
{
    const char *v;
    int len = tern_json_scan_str(d, n, qkey, &v);
    if (len <= 0 || (size_t)len >= outsz)
        return -1;
    memcpy(out, v, (size_t)len);
    out[len] = 0;
    return 0;
}

int msg_get_visible(server *s, store_reader *rd, int64_t app, const char *user, uint64_t msg_id, tern_buf *json_out,
                    char *conv_key_out)
{
    size_t start = json_out->len;
    int rc = store_message_get(rd, app, msg_id, json_out);
    if (rc != TERN_OK)
        return rc;
    const char *d = json_out->data + start;
    size_t n = json_out->len - start;
    char kind[16], from[TERN_IDENT_MAX + 1], to[TERN_IDENT_MAX + 1], key[160];
    int visible = 0;
    if (scan_ident(d, n, "\"conversationType\"", kind, sizeof kind) == 0 &&
        scan_ident(d, n, "\"from\"", from, sizeof from) == 0 && scan_ident(d, n, "\"to\"", to, sizeof to) == 0) {
        if (!strcmp(kind, "C2C")) {
            visible = !strcmp(user, from) || !strcmp(user, to);
            tern_conv_key_c2c(from, strlen(from), to, strlen(to), key, sizeof key);
        } else if (!strcmp(kind, "GROUP")) {
            int err = 0;
            group_snap *g = groups_get(s, rd, app, to, &err);
            if (!g && err == TERN_ERR_STORE)
                rc = TERN_ERR_STORE;
            visible = g && group_snap_has(g, user);
            group_snap_unref(g);
            /* A private message (receiverList) is visible to its sender and receivers
             * only (store_msg_receiver_ok: 1 also for an ordinary message). */
            if (visible) {
                int ok = store_msg_receiver_ok(rd, app, msg_id, user);
                if (ok < 0)
                    rc = TERN_ERR_STORE;
                visible = ok > 0;
            }
            tern_conv_key_group(to, strlen(to), key, sizeof key);
        }
    }
    if (!visible) {
        json_out->len = start;
        if (json_out->data)
            json_out->data[start] = 0;
        return rc == TERN_ERR_STORE ? rc : TERN_ERR_NOT_FOUND;
    }
    if (conv_key_out)
        memcpy(conv_key_out, key, strlen(key) + 1);
    return TERN_OK;
}
