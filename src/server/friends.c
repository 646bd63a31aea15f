/*
 * friends.c — the friend check of C2C sends and the friend list as JSON; see friends.h.
 * The check runs on the send path (msg.c) for every C2C message: while no app has
 * friendCheck on it costs one relaxed atomic load (apps_setting_of); with some app on,
 * a read-locked scan of the app table, and for that app one primary-key store read.
 */
#include "friends.h"

#include <string.h>

#include "apps.h"
#include "tern/errors.h"

int friends_check(server *s, store_reader *rd, int64_t app, const char *from, const char *to)
{
    static const app_setting_def *def;
    const app_setting_def *d = __atomic_load_n(&def, __ATOMIC_RELAXED);
    if (!d) {
        d = apps_setting_find("friendCheck", sizeof "friendCheck" - 1);
        __atomic_store_n(&def, d, __ATOMIC_RELAXED);
    }
    if (!d || !apps_setting_of(s, app, d) || !strcmp(from, to))
        return TERN_OK;
    int f = store_is_friend(rd, app, from, to);
    return f > 0 ? TERN_OK : f == 0 ? TERN_ERR_NOT_FRIEND : TERN_ERR_STORE;
}

typedef struct list_ctx {
    tern_buf *out;
    size_t n;
} list_ctx;

static void add_row(void *ud, const char *f)
{
    list_ctx *l = ud;
    if (l->n++)
        tern_buf_putc(l->out, ',');
    tern_buf_json_str(l->out, f, strlen(f));
}

int friends_list_json(store_reader *rd, int64_t app, const char *user, tern_buf *out, size_t *count)
{
    list_ctx l = {out, 0};
    tern_buf_putc(out, '[');
    int rc = store_friends(rd, app, user, add_row, &l);
    tern_buf_putc(out, ']');
    if (count)
        *count = l.n;
    return rc;
}
