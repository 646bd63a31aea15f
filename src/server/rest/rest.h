/*
 * rest.h — what a REST resource file (rest/users.c, rest/groups.c, ...) may use: the
 * request context the router hands to a handler, the replies, the server's store
 * reader, the round-trip of an asynchronous store operation, and the shared helpers for
 * bodies, identifiers and query values.
 *
 * A resource file never touches the connection or the I/O loop: everything that does is
 * in rest/router.c, behind the functions below, so a change of the network layer
 * changes router.c only. Handlers run on the connection's I/O loop. A handler returns 0
 * after it answered (exactly one rest_reply_* call), or 1 when an asynchronous operation
 * will answer later (rest_submit / rest_op_done); the connection reads no further
 * request meanwhile.
 */
#ifndef TERN_REST_H
#define TERN_REST_H
#include <cjson/cJSON.h>
#include <pthread.h>

#include "apps.h"
#include "context.h"
#include "core/http.h"

/* One request: filled by the router before the handler runs, copied into async ops. */
typedef struct rctx {
    void *net;      /* router-private: the connection while it is known to be open */
    int keep_alive; /* the connection serves another request after this answer */
    int method;     /* HTTP_M_* */
    int head_only;  /* HEAD: answer with the GET answer's head, no body */
    int64_t start_ms;
    app_info app;   /* for /{org}/{app} routes; zeroed otherwise */
    char rel[512];  /* the envelope's "path": below /{org}/{app}, or the whole path */
    char uri[640];  /* the envelope's "uri" */
    char action[8]; /* "get", "post", "put", "delete" or "other" */
    char allow[64]; /* a 405's Allow value ("GET, HEAD, POST"), else empty */
    /* Path captures, URL-decoded ("" when the route has none). user and group are
     * identifiers (checked by the router); conv is any decoded segment. */
    char user[65], group[65], conv[130];
} rctx;

/* A route's handler: answers (returns 0) or starts an async operation (returns 1). */
typedef int (*rest_handler)(rctx *x, const http_msg *m);
/* A streamed route's head handler (router.h): returns NET_BODY_STREAM after
 * rest_body_attach (setting *limit, the most body bytes read), NET_BODY_WHOLE, or
 * NET_BODY_REFUSED after answering (x->keep_alive is 0 there: the connection closes). */
typedef int (*rest_head_handler)(rctx *x, const http_msg *m, size_t *limit);

/* ---- streamed request bodies ------------------------------------------------------------ */

typedef struct rest_body rest_body;
/* In a head handler: attaches a sink to x's connection. data(ud, p, n) gets each piece
 * of the body (valid during the call) and returns NET_BODY_MORE, or NET_BODY_PAUSE until
 * rest_body_resume. gone(ud) runs (once, on the loop) if the connection closes while
 * the sink is attached; ud then belongs to gone. The returned handle stays valid until
 * then, rest_body_detach or rest_body_take. */
rest_body *rest_body_attach(const rctx *x, int (*data)(void *ud, const char *p, size_t n), void (*gone)(void *ud),
                            void *ud);
/* Reads the body again after data returned NET_BODY_PAUSE. */
void rest_body_resume(rest_body *b);
/* Detaches and frees the sink (gone will not run); the caller keeps ud. */
void rest_body_detach(rest_body *b);
/* In the request handler of a streamed route: detaches the connection's sink and
 * returns its ud (the caller owns it now), or NULL if none was attached. */
void *rest_body_take(const rctx *x);
/* The connection's libuv loop, for file I/O on libuv's pool (uv_queue_work). */
struct uv_loop_s *rest_uv_loop(const rctx *x);
/* Answers with the file fd of size bytes (net_http_serve_file: sendfile, Range, HEAD;
 * fd is owned from now on); extra_headers end with CRLF or are NULL. Returns 1: the
 * handler returns it (the answer completes later). */
int rest_reply_file(const rctx *x, const http_msg *m, int fd, uint64_t size, const char *content_type,
                    const char *extra_headers);
/* rest_reply_ok without extra, plus extra_headers (each ending with CRLF). */
void rest_reply_ok_headers(const rctx *x, const char *data, size_t n, const char *extra_headers);
/* A bodyless answer (304) with extra_headers (ending with CRLF, or NULL). */
void rest_reply_status(const rctx *x, int status, const char *extra_headers);

/* ---- replies: each writes one whole response (and closes if !keep_alive) ------------ */

/* The seed-002 success envelope around data[0..n) (JSON), plus extra (",\"cursor\":..."),
 * which may be NULL. HTTP 200. */
void rest_reply_ok(const rctx *x, const char *data, size_t n, const char *extra);
/* The error body of code, with the HTTP status of rest_status_of(code). */
void rest_reply_err(const rctx *x, int code);
/* An answer without envelope (healthz, metrics, the app token). */
void rest_reply_raw(const rctx *x, int status, const char *content_type, const char *body, size_t n);
/* The Easemob envelope with members[0..n) where rest_reply_ok puts "data":... — e.g.
 * "entities":[...],"count":1 (users) or "entities":[],"data":{...} (groups). HTTP 200. */
void rest_reply_members(const rctx *x, const char *members, size_t n);
/* The error body of code with Easemob's error name and text where they differ from
 * rest_error_name(code) and tern_strerror(code) (name NULL: the usual one), e.g.
 * "params to's size can't exceed limit 600". The HTTP status is rest_status_of(code). */
void rest_reply_err_desc(const rctx *x, int code, const char *name, const char *description);
/* 400 illegal_argument (1003) with Easemob's texts for a refused username:
 * "USERNAME_TOO_LONG" over 64 bytes, else "username [<name>] is not legal". */
void rest_reply_bad_username(const rctx *x, const char *name);
/* rest_reply_err(x, rc) if rc is not TERN_OK, else rest_reply_ok around d; frees d. */
void rest_reply_buf(const rctx *x, int rc, tern_buf *d);

/* reply.c: the bytes, built in one place. */
int rest_status_of(int code);
/* 1 for the codes of streamed messages (14001-14038, 14100): Easemob's
 * "message_send_error" / "MessageSendException" body. */
int rest_is_stream_code(int code);
const char *rest_error_name(int code);
void rest_error_body(tern_buf *b, const rctx *x, int code);
void rest_error_body_desc(tern_buf *b, const rctx *x, int code, const char *name, const char *description);
/* Appends the members every error body starts with, without the closing brace:
 * {"error":"<name>","code":<code>,"error_description":"<description>" (escaped). */
void rest_error_head(tern_buf *b, const char *name, int code, const char *description);
/* Appends a whole response that closes the connection, for errors found before a route
 * is known (malformed HTTP, a refused upgrade): the head and the three-member body. */
void rest_http_error(tern_buf *out, int status, const char *name, int code, const char *description);
void rest_envelope(tern_buf *b, const rctx *x, const char *data, size_t n, const char *extra);
void rest_envelope_members(tern_buf *b, const rctx *x, const char *members, size_t n);

/* ---- the server behind the request ---------------------------------------------------- */

/* The I/O loop's store reader (synchronous reads on the loop). */
store_reader *rest_reader(const rctx *x);
server *rest_server(const rctx *x);
/* Queues op in the store unless the server is shutting down. TERN_OK: op->done will
 * run on the writer; otherwise 5003 (shutting down) or the store's refusal (5004) and
 * op->done will not run. */
int rest_store_submit(server *s, store_op *op);

/* ---- asynchronous operations ---------------------------------------------------------- */

typedef struct rest_op rest_op;
/* Runs on the request's loop when the operation is done and the connection is still
 * open; it answers with rest_reply_* on &r->x. */
typedef void (*rest_finish)(rest_op *r);

struct rest_op {
    store_op op;
    server *s;
    rctx x;
    rest_finish finish;        /* on the loop, with the connection (if still open) */
    void (*after)(rest_op *r); /* on the writer, after commit (cache invalidation, events) */
    char *a, *b;               /* owned strings */
    void *ud;                  /* the resource's own state, freed by free_ud (if set) with r */
    void (*free_ud)(void *ud);
    void (*off_loop)(rest_op *r, size_t i); /* rest_run_off_loop's work */
    char **list;                            /* owned list */
    size_t nlist;
    tern_buf out; /* response data built on the writer, or aggregated */
    int pending;  /* multi-recipient sends */
    int ok_count;
    pthread_mutex_t mu;
    /* router-private: where the answer goes */
    int file_reply; /* finish answered with rest_op_reply_file: the file's end resumes */
    int loop;
    uint64_t conn_id;
};

/* A new operation for the request x that answers with fin. Owns nothing yet. */
rest_op *rest_op_new(const rctx *x, rest_finish fin);
/* Frees r and everything it owns (a, b, list, out). */
void rest_op_free(rest_op *r);
/* Submits r->op (done: rest_op_done after r->after). Returns 1 (the answer comes
 * later), or 0 after answering the refusal and freeing r. */
int rest_submit(rest_op *r);
/* From any thread, once: hands r back to its loop, where r->finish answers (if the
 * connection is still open) and r is freed. */
void rest_op_done(rest_op *r);
/* In r's finish: answers with a file as rest_reply_file does; m needs only method,
 * keep_alive and the Range header. The connection reads on once the file is sent. */
void rest_op_reply_file(rest_op *r, const http_msg *m, int fd, uint64_t size, const char *content_type,
                        const char *extra_headers);
/* Runs fn(r, 0) ... fn(r, n - 1) on libuv's thread pool, off the I/O loop and in
 * parallel, for slow CPU work (password hashing; n >= 1). The calls must hand r on
 * once all of them are done (the last one to finish, counting with r->pending or its
 * own counter): rest_op_done(r), or store submissions whose completions end in
 * rest_op_done(r). Returns 1 (the answer comes later), or 0 after answering 5001 and
 * freeing r if the pool refused the work (then no call runs): 5004 when more than 1024
 * items wait or run across the server, 5001 if libuv refused. Loop thread only. */
int rest_run_off_loop(rest_op *r, void (*fn)(rest_op *r, size_t i), size_t n);
/* The app token check of an app route (Authorization: Bearer), for a route that takes
 * another authentication but accepts this one too (grant_type=inherit). TERN_OK or
 * 1101/1102/1104. */
int rest_check_app_token(const rctx *x, const http_msg *m);
/* The same accepting a user token of the app too (REST_AUTH_APP_USER). */
int rest_check_app_user_token(const rctx *x, const http_msg *m);
/* Finish with Easemob's members: the error, or the envelope around prefix + r->out +
 * suffix (e.g. "\"entities\":[" ... "]"). */
void rest_finish_members(rest_op *r, const char *prefix, const char *suffix);
/* Generic finish: the error, or the data built in r->out ("{}" if none). */
void rest_finish_out(rest_op *r);
/* The envelope around open, r->out and close (a list "[...]" or a map "{...}"). */
void rest_reply_out_wrapped(rest_op *r, char open, char close);
/* The rows a store listing gives for one id (store_user_groups, store_group_members). */
typedef int (*rest_list_fn)(store_reader *rd, int64_t app, const char *id, void (*cb)(void *ud, const char *row),
                            void *ud);
/* A new operation for x owning a copy of id in r->a and, in r->list, the rows that
 * list gives for id now (read on the loop, before the change commits). */
rest_op *rest_op_listing(const rctx *x, rest_finish fin, const char *id, rest_list_fn list);

/* ---- helpers shared by resources (common.c) --------------------------------------------- */

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

/* Appends a copy of s (usable as a store row callback). */
void strlist_add(void *ud, const char *s);
void strlist_free(strlist *l);

/* The body as JSON (core/json.h: strict, and no string may hold a NUL), or NULL after
 * answering 1001 (empty, not UTF-8, not JSON, trailing bytes) or 1003 (a \u0000). */
cJSON *parse_body(const rctx *x, const http_msg *m);
/* The string member name of o, or NULL. */
const char *jstr(cJSON *o, const char *name);
/* 1 if s is an identifier (docs/protocol.md). */
int ident(const char *s);
/* Easemob's username rule for users created through REST: 1..64 bytes of
 * [a-z0-9_.-], upper case folded to lower. Writes the folded name into out[65] and
 * returns 1, or 0 if in is not such a name (out is then ""). */
int easemob_username(const char *in, char out[65]);
/* The stored id a path or body names: name itself if the app has that user (ids made
 * before the Easemob rule may hold [A-Z@=+] and keep working), else its lower-case
 * fold if the app has that. Copies it into out[65] and returns 1; 0 if neither exists,
 * -1 on a store failure. */
int rest_find_user(const rctx *x, const char *name, char out[65]);
/* Appends a user as an Easemob entity: {"uuid","type":"user","created","modified",
 * "username","activated":true[,"nickname"]} (nickname only when the user has one). */
void rest_user_entity(tern_buf *b, const store_user *u);
/* 1 if the app has the user; otherwise answers 20003 (or 5002) and returns 0. */
int require_user(const rctx *x, const char *user);
/* Reads an array of strings (at most max: 1203; with idents, each an identifier) into
 * l; TERN_OK or 1003/1203. */
int read_string_list(cJSON *arr, strlist *l, size_t max, int idents);
/* Reads an array of identifiers (at most max: 1203) into l; TERN_OK or 1003/1203. */
int read_user_list(cJSON *arr, strlist *l, size_t max);
/* An integer query parameter: its name, the longest value read (longer: 1003), whether
 * an empty value ("limit=") counts as absent, and its range. */
typedef struct rest_query_spec {
    const char *name;
    size_t maxlen;
    int empty_is_absent;
    uint64_t min, max;
} rest_query_spec;
/* Reads the query value q->name into *out (left alone when absent). Returns 1 if
 * present, 0 if absent, or -1 after answering 1003 (undecodable, too long, not an
 * integer, out of range). */
int rest_query_uint(const rctx *x, const http_msg *m, const rest_query_spec *q, uint64_t *out);

/* ---- the resources' handlers (one file each; rows in rest/routes.c) ------------------- */

int health_get(rctx *x, const http_msg *m);                            /* health.c */
int metrics_get(rctx *x, const http_msg *m);                           /* health.c */
int admin_apps_list(rctx *x, const http_msg *m);                       /* admin.c */
int admin_apps_create(rctx *x, const http_msg *m);                     /* admin.c */
int app_token(rctx *x, const http_msg *m);                             /* admin.c */
int user_token(rctx *x, const http_msg *m);                            /* admin.c */
int users_create(rctx *x, const http_msg *m);                          /* users.c */
int users_list(rctx *x, const http_msg *m);                            /* users.c */
int user_get(rctx *x, const http_msg *m);                              /* users.c */
int user_delete(rctx *x, const http_msg *m);                           /* users.c */
int user_groups(rctx *x, const http_msg *m);                           /* users.c */
int friends_get(rctx *x, const http_msg *m);                           /* friends.c */
int friend_add(rctx *x, const http_msg *m);                            /* friends.c */
int friend_delete(rctx *x, const http_msg *m);                         /* friends.c */
int user_conversations(rctx *x, const http_msg *m);                    /* conversations.c */
int user_history(rctx *x, const http_msg *m);                          /* conversations.c */
int group_create(rctx *x, const http_msg *m);                          /* groups.c */
int group_get(rctx *x, const http_msg *m);                             /* groups.c */
int group_dismiss(rctx *x, const http_msg *m);                         /* groups.c */
int group_members_get(rctx *x, const http_msg *m);                     /* groups.c */
int group_members_add(rctx *x, const http_msg *m);                     /* groups.c */
int group_member_add(rctx *x, const http_msg *m);                      /* groups.c */
int group_member_remove(rctx *x, const http_msg *m);                   /* groups.c */
int messages_send_users(rctx *x, const http_msg *m);                   /* messages.c */
int messages_send_groups(rctx *x, const http_msg *m);                  /* messages.c */
int stream_send_group(rctx *x, const http_msg *m);                     /* streams.c */
int stream_send_user(rctx *x, const http_msg *m);                      /* streams.c */
int media_upload_head(rctx *x, const http_msg *m, size_t *limit);      /* media.c */
int media_upload(rctx *x, const http_msg *m);                          /* media.c */
int media_download(rctx *x, const http_msg *m);                        /* media.c */
/* 1 if m's If-None-Match names etag (with its quotes) or is "*". media.c */
int media_etag_match(const http_msg *m, const char *etag);
/* The download of row (found, allowed, not expired) with ?thumb=198|720, or of the
 * thumbnail box (198 or 720) when box is not 0: answers and returns the handler's result
 * (0, or 1 when the answer comes later); -1 with box 0 and no thumb query (nothing
 * answered: the file itself is wanted). media_thumb.c */
int media_thumb_get(rctx *x, const http_msg *m, const store_media *row, int box);
/* media_download, of the thumbnail box (198, 720; 0: as the query says). media.c */
int media_download_box(rctx *x, const http_msg *m, int box);
int media_session_create(rctx *x, const http_msg *m);                  /* media.c: resumable */
int media_session_status(rctx *x, const http_msg *m);                  /* media.c */
int media_session_put_head(rctx *x, const http_msg *m, size_t *limit); /* PUT's body: media_upload */
int chatfiles_upload_head(rctx *x, const http_msg *m, size_t *limit);  /* chatfiles.c: body: media_upload */
int chatfiles_download(rctx *x, const http_msg *m);                    /* chatfiles.c */
int settings_get(rctx *x, const http_msg *m);                          /* settings.c */
int settings_put(rctx *x, const http_msg *m);                          /* settings.c */
int extensions_get(rctx *x, const http_msg *m);                        /* extensions.c */
int extensions_put(rctx *x, const http_msg *m);                        /* extensions.c */
int extensions_delete(rctx *x, const http_msg *m);                     /* extensions.c */
int moderation_get(rctx *x, const http_msg *m);                        /* moderation.c */
int moderation_put(rctx *x, const http_msg *m);                        /* moderation.c */
int moderation_post(rctx *x, const http_msg *m);                       /* moderation.c */
int moderation_delete(rctx *x, const http_msg *m);                     /* moderation.c */

/* media_auth.c: the one access rule of every media GET/HEAD (/media/{id} and
 * /chatfiles/{uuid}), for routes of auth kind REST_AUTH_MEDIA. Allowed with (a) an app
 * or user token of x's app (Authorization: Bearer), (b) a valid unexpired signed URL
 * (query exp and sig, media_url_check, covering the query's thumb: 0 when absent), or
 * (c) the share-secret of row (header or query `share-secret`, constant-time compare;
 * only when row is not NULL and has one). row is the media the path names, or NULL
 * when it is unknown or the id is malformed. Returns TERN_OK, or the code to answer:
 * the token's failure (1101/1102/1104) when an Authorization header was sent, else 1101
 * (401). A refusal never says whether the id exists. */
int media_access(const rctx *x, const http_msg *m, const store_media *row);

#endif
