/*
 * store_engine.h — what a storage engine implements to sit behind store.h.
 *
 * store.h's functions are the only ones the server calls; each one is a thin dispatch
 * (store_engine.c) through the store_engine table of the store or reader it is given: one
 * indirect call per store call, nothing per row. An engine's store and reader objects
 * begin with `struct store` / `struct store_reader` (below) as their first member, so a
 * pointer to one is a pointer to the other; the engine casts back to its own type.
 *
 * Engines are listed in store_engines[] (store_engine.c) and chosen by name at start
 * (store_options.engine, the `--store` setting). A second backend is a second table:
 * write its functions with the contracts of store.h, add the table to store_engines[].
 * store_open refuses an engine whose table has a NULL entry (store_engine_missing).
 */
#ifndef TERN_STORE_ENGINE_H
#define TERN_STORE_ENGINE_H
#include "server/store/store.h"

typedef struct store_engine store_engine;

/* The head of every engine's store object. */
struct store {
    const store_engine *engine;
};

/* The head of every engine's reader object. */
struct store_reader {
    const store_engine *engine;
};

typedef void (*store_app_cb)(void *ud, const store_app *a);
typedef void (*store_name_cb)(void *ud, const char *name);
typedef void (*store_conv_cb)(void *ud, const store_conv *c);
typedef void (*store_stream_cb)(void *ud, const store_stream *st);

/* One function per call of store.h, with the same contract (see there). open fills in
 * the returned object's `engine`; reader_open likewise for the reader. */
struct store_engine {
    const char *name; /* what store_options.engine / --store names */
    store *(*open)(const store_options *opt, char *err, size_t errsz);
    void (*close)(store *s);
    uint64_t (*last_id)(store *s);
    void (*get_stats)(store *s, store_stats *out);
    int (*submit)(store *s, store_op *op);
    store_reader *(*reader_open)(store *s);
    void (*reader_close)(store_reader *r);
    int (*app_get)(store_reader *r, const char *org, const char *name, store_app *out);
    int (*app_list)(store_reader *r, store_app_cb cb, void *ud);
    int (*app_settings)(store_reader *r, void (*cb)(void *ud, int64_t app, const char *key, const char *value),
                        void *ud);
    int (*user_exists)(store_reader *r, int64_t app, const char *user);
    int (*user_list)(store_reader *r, int64_t app, const char *after, int limit, store_user_cb cb, void *ud);
    int (*user_get)(store_reader *r, int64_t app, const char *user, store_user_cb cb, void *ud);
    int (*group_get)(store_reader *r, int64_t app, const char *group_id, store_group *out);
    int (*group_members)(store_reader *r, int64_t app, const char *group_id, store_name_cb cb, void *ud);
    int (*user_groups)(store_reader *r, int64_t app, const char *user, store_name_cb cb, void *ud);
    int (*history)(store_reader *r, int64_t app, const char *conv_key, const char *viewer, uint64_t before_seq,
                   int limit, tern_buf *out, int *more);
    int (*messages_after)(store_reader *r, int64_t app, const char *conv_key, const char *viewer, uint64_t after_seq,
                          int limit, tern_buf *out, int *more, uint64_t *last_seq);
    int (*seq_at_id)(store_reader *r, int64_t app, const char *conv_key, uint64_t id, uint64_t *seq);
    int (*conversations)(store_reader *r, int64_t app, const char *user, int limit, store_conv_cb cb, void *ud);
    int (*conversation_get)(store_reader *r, int64_t app, const char *user, const char *conv_key, store_conv_cb cb,
                            void *ud);
    int (*streams_open)(store_reader *r, store_stream_cb cb, void *ud);
    int (*message_get)(store_reader *r, int64_t app, uint64_t msg_id, tern_buf *out);
    int (*msg_receiver_ok)(store_reader *r, int64_t app, uint64_t msg_id, const char *user);
    int (*media_get)(store_reader *r, int64_t app, const char *id, store_media *out);
    int (*friends)(store_reader *r, int64_t app, const char *user, store_name_cb cb, void *ud);
    int (*is_friend)(store_reader *r, int64_t app, const char *a, const char *b);
    int (*media_expired)(store_reader *r, int64_t now_ms, int limit, void (*cb)(void *ud, const store_media *m),
                         void *ud);
    int (*receipt_get)(store_reader *r, int64_t app, uint64_t msg_id, store_receipt *out);
    int (*receipt_members)(store_reader *r, int64_t app, uint64_t msg_id, int unread, const char *after, int limit,
                           store_receipt_member_cb cb, void *ud);
    int (*keywords)(store_reader *r, int64_t app, store_name_cb cb, void *ud);
    int (*merger_get)(store_reader *r, int64_t app, const char *key, tern_buf *body, int *layers);
    int (*ext_list)(store_reader *r, int64_t app, uint64_t msg_id, store_ext_cb cb, void *ud);
};

/* The engines this build has, NULL-terminated; the first one is the default. */
extern const store_engine *const store_engines[];

/* The engine called name (NULL or "" = the default), or NULL if there is none. */
const store_engine *store_engine_find(const char *name);

/* The name of the first member of e that is NULL ("name" included), or NULL if the
 * table is complete. */
const char *store_engine_missing(const store_engine *e);

/* The SQLite engine (sqlite_db.c). */
extern const store_engine store_engine_sqlite;

#endif
