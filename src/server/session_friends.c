/*
 * session_friends.c — the WebSocket op `friends` (issue 10, docs/protocol.md §4): a
 * logged-in client reads its own friend list, which app backends manage over REST
 * (rest/friends.c). The list is read on the loop through its store reader.
 */
#include "session.h"

#include "friends.h"
#include "tern/errors.h"

int session_friends(conn *c, const cJSON *root, tern_buf *out)
{
    (void)root; /* no fields: the list is short (STORE_FRIENDS_MAX) and given whole */
    tern_buf_puts(out, "{\"friends\":");
    int rc = friends_list_json(c->loop->reader, c->app, c->user, out, NULL);
    tern_buf_putc(out, '}');
    return rc;
}
