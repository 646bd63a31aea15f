/*
 * store_engine.c — the engine-independent half of store.h: the registry of storage
 * engines, the dispatch of every store.h call through the engine table of its store or
 * reader (store_engine.h), and the canonical conversation keys, which every engine
 * shares. (Named after store_engine.h, which it implements together with store.h's
 * dispatch: as store.c it would form an include cycle with store_engine.h.)
 */
#include "server/store/store_engine.h"

#include <stdio.h>
#include <string.h>

#include "core/conv.h"
#include "server/store/store.h"

const store_engine *const store_engines[] = {&store_engine_sqlite, NULL};

const store_engine *store_engine_find(const char *name)
{
    if (!name || !*name)
        return store_engines[0];
    for (size_t i = 0; store_engines[i]; i++)
        if (strcmp(store_engines[i]->name, name) == 0)
            return store_engines[i];
    return NULL;
}

const char *store_engine_missing(const store_engine *e)
{
#define NEED(m)                                                                                                        \
    if (!e->m)                                                                                                         \
        return #m;
    NEED(name)
    NEED(open)
    NEED(close)
    NEED(last_id)
    NEED(get_stats)
    NEED(submit)
    NEED(reader_open)
    NEED(reader_close)
    NEED(app_get)
    NEED(app_list)
    NEED(app_settings)
    NEED(user_exists)
    NEED(user_list)
    NEED(user_get)
    NEED(group_get)
    NEED(group_members)
    NEED(user_groups)
    NEED(history)
    NEED(messages_after)
    NEED(seq_at_id)
    NEED(conversations)
    NEED(conversation_get)
    NEED(streams_open)
    NEED(message_get)
    NEED(merger_get)
    NEED(ext_list)
    NEED(msg_receiver_ok)
    NEED(media_get)
    NEED(media_expired)
    NEED(receipt_get)
    NEED(receipt_members)
    NEED(keywords)
    NEED(friends)
    NEED(is_friend)
#undef NEED
    return NULL;
}

store *store_open(const store_options *opt, char *err, size_t errsz)
{
    const char *name = opt ? opt->engine : NULL;
    const store_engine *e = store_engine_find(name);
    if (!e) {
        if (err && errsz) {
            int n = snprintf(err, errsz, "store: unknown engine '%s' (this ternd has:", name);
            for (size_t i = 0; store_engines[i] && n >= 0 && (size_t)n < errsz; i++)
                n += snprintf(err + n, errsz - (size_t)n, " %s", store_engines[i]->name);
            if (n >= 0 && (size_t)n < errsz)
                snprintf(err + n, errsz - (size_t)n, ")");
        }
        return NULL;
    }
    const char *missing = store_engine_missing(e);
    if (missing) {
        if (err && errsz)
            snprintf(err, errsz, "store: engine '%s' lacks %s", e->name ? e->name : "?", missing);
        return NULL;
    }
    return e->open(opt, err, errsz);
}

void store_close(store *s)
{
    if (s)
        s->engine->close(s);
}

uint64_t store_last_id(store *s)
{
    return s->engine->last_id(s);
}

void store_get_stats(store *s, store_stats *out)
{
    s->engine->get_stats(s, out);
}

int store_submit(store *s, store_op *op)
{
    return s->engine->submit(s, op);
}

store_reader *store_reader_open(store *s)
{
    return s->engine->reader_open(s);
}

void store_reader_close(store_reader *r)
{
    if (r)
        r->engine->reader_close(r);
}

int store_app_get(store_reader *r, const char *org, const char *name, store_app *out)
{
    return r->engine->app_get(r, org, name, out);
}

int store_app_list(store_reader *r, void (*cb)(void *ud, const store_app *a), void *ud)
{
    return r->engine->app_list(r, cb, ud);
}

int store_app_settings(store_reader *r, void (*cb)(void *ud, int64_t app, const char *key, const char *value), void *ud)
{
    return r->engine->app_settings(r, cb, ud);
}

int store_user_exists(store_reader *r, int64_t app, const char *user)
{
    return r->engine->user_exists(r, app, user);
}

int store_user_list(store_reader *r, int64_t app, const char *after, int limit, store_user_cb cb, void *ud)
{
    return r->engine->user_list(r, app, after, limit, cb, ud);
}

int store_user_get(store_reader *r, int64_t app, const char *user, store_user_cb cb, void *ud)
{
    return r->engine->user_get(r, app, user, cb, ud);
}

int store_group_get(store_reader *r, int64_t app, const char *group_id, store_group *out)
{
    return r->engine->group_get(r, app, group_id, out);
}

int store_group_members(store_reader *r, int64_t app, const char *group_id, void (*cb)(void *ud, const char *user),
                        void *ud)
{
    return r->engine->group_members(r, app, group_id, cb, ud);
}

int store_user_groups(store_reader *r, int64_t app, const char *user, void (*cb)(void *ud, const char *group_id),
                      void *ud)
{
    return r->engine->user_groups(r, app, user, cb, ud);
}

int store_history(store_reader *r, int64_t app, const char *conv_key, uint64_t before_seq, int limit, tern_buf *out,
                  int *more)
{
    return r->engine->history(r, app, conv_key, NULL, before_seq, limit, out, more);
}

int store_history_for(store_reader *r, int64_t app, const char *conv_key, const char *viewer, uint64_t before_seq,
                      int limit, tern_buf *out, int *more)
{
    return r->engine->history(r, app, conv_key, viewer, before_seq, limit, out, more);
}

int store_messages_after(store_reader *r, int64_t app, const char *conv_key, uint64_t after_seq, int limit,
                         tern_buf *out, int *more, uint64_t *last_seq)
{
    return r->engine->messages_after(r, app, conv_key, NULL, after_seq, limit, out, more, last_seq);
}

int store_messages_after_for(store_reader *r, int64_t app, const char *conv_key, const char *viewer, uint64_t after_seq,
                             int limit, tern_buf *out, int *more, uint64_t *last_seq)
{
    return r->engine->messages_after(r, app, conv_key, viewer, after_seq, limit, out, more, last_seq);
}

int store_seq_at_id(store_reader *r, int64_t app, const char *conv_key, uint64_t id, uint64_t *seq)
{
    return r->engine->seq_at_id(r, app, conv_key, id, seq);
}

int store_conversations(store_reader *r, int64_t app, const char *user, int limit,
                        void (*cb)(void *ud, const store_conv *c), void *ud)
{
    return r->engine->conversations(r, app, user, limit, cb, ud);
}

int store_conversation_get(store_reader *r, int64_t app, const char *user, const char *conv_key,
                           void (*cb)(void *ud, const store_conv *c), void *ud)
{
    return r->engine->conversation_get(r, app, user, conv_key, cb, ud);
}

/* ---- conversation keys ------------------------------------------------------------- */

int store_conv_key_c2c(const char *a, const char *b, char *out, size_t outsz)
{
    return tern_conv_key_c2c(a, strlen(a), b, strlen(b), out, outsz);
}

int store_conv_key_group(const char *group_id, char *out, size_t outsz)
{
    return tern_conv_key_group(group_id, strlen(group_id), out, outsz);
}

int store_streams_open(store_reader *r, void (*cb)(void *ud, const store_stream *st), void *ud)
{
    return r->engine->streams_open(r, cb, ud);
}

int store_message_get(store_reader *r, int64_t app, uint64_t msg_id, tern_buf *out)
{
    return r->engine->message_get(r, app, msg_id, out);
}

int store_msg_receiver_ok(store_reader *r, int64_t app, uint64_t msg_id, const char *user)
{
    return r->engine->msg_receiver_ok(r, app, msg_id, user);
}

int store_media_get(store_reader *r, int64_t app, const char *id, store_media *out)
{
    return r->engine->media_get(r, app, id, out);
}

int store_media_expired(store_reader *r, int64_t now_ms, int limit, void (*cb)(void *ud, const store_media *m),
                        void *ud)
{
    return r->engine->media_expired(r, now_ms, limit, cb, ud);
}

int store_receipt_get(store_reader *r, int64_t app, uint64_t msg_id, store_receipt *out)
{
    return r->engine->receipt_get(r, app, msg_id, out);
}

int store_receipt_members(store_reader *r, int64_t app, uint64_t msg_id, int unread, const char *after, int limit,
                          store_receipt_member_cb cb, void *ud)
{
    return r->engine->receipt_members(r, app, msg_id, unread, after, limit, cb, ud);
}

int store_keywords(store_reader *r, int64_t app, void (*cb)(void *ud, const char *word), void *ud)
{
    return r->engine->keywords(r, app, cb, ud);
}

int store_merger_get(store_reader *r, int64_t app, const char *key, tern_buf *body, int *layers)
{
    return r->engine->merger_get(r, app, key, body, layers);
}

int store_ext_list(store_reader *r, int64_t app, uint64_t msg_id, store_ext_cb cb, void *ud)
{
    return r->engine->ext_list(r, app, msg_id, cb, ud);
}

int store_friends(store_reader *r, int64_t app, const char *user, void (*cb)(void *ud, const char *friend_), void *ud)
{
    return r->engine->friends(r, app, user, cb, ud);
}

int store_is_friend(store_reader *r, int64_t app, const char *a, const char *b)
{
    return r->engine->is_friend(r, app, a, b);
}
