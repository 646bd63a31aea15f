/*
 * tern/tern.h — libtern, the C client SDK of the Tern instant-messaging server.
 *
 * This is the whole public API: an app includes <tern/tern.h> and links -ltern
 * (`pkg-config --cflags --libs libtern`). It reads like Tencent's Web SDK in C idiom:
 *
 *     tern_client_create(url, app, user, token, &opts, &client)   ~ TencentCloudChat.create + login params
 *     tern_login(client, cb, ud)                                   ~ chat.login
 *     opts.on_event = ...  (TERN_EVENT_SDK_READY, _MESSAGE_RECEIVED, ...)  ~ chat.on(EVENT.*)
 *     m = tern_create_text_message(client, TERN_CONV_C2C, "bob", "hi")    ~ chat.createTextMessage
 *     tern_send_message(client, m, NULL, cb, ud)                  ~ chat.sendMessage (the promise is cb)
 *     tern_get_message_list / tern_get_conversation_list / tern_set_message_read / tern_logout
 *     tern_client_destroy(client)                                 ~ chat.destroy
 *
 * The wire protocol underneath is docs/protocol.md (JSON over WebSocket, subprotocol
 * tern.v1); docs/sdk.md is the guide with a complete example.
 *
 * ## Threads (read this first)
 *
 * A client lives on one libuv loop, "the client's loop", and every callback of the
 * client (events and completions) runs on the thread that runs that loop, one at a time.
 * Two ways to run it:
 *
 *   (a) tern_client_start_thread(): the SDK starts its own thread running its own loop.
 *       Callbacks run on that thread. The app calls the API from any thread.
 *   (b) The app drives the loop: either the SDK's own loop through tern_client_run(),
 *       tern_client_run_once() or tern_client_get_loop() (e.g. to add the app's own
 *       handles to it), or the app's existing loop given as tern_client_options.loop.
 *       Callbacks run on the thread that runs that loop.
 *
 * In both modes, every request function (tern_login, tern_send_message, ...) may be
 * called from any thread, including from inside a callback: it only validates its
 * arguments and queues the request to the loop (mutex + uv_async_send). Therefore a
 * request function never calls a callback before it returns; its callback runs later,
 * on the loop thread. Message builders, setters and accessors run on the calling thread
 * and touch only the message. The exceptions are stated per function (create, destroy,
 * start_thread, run*).
 *
 * ## Results
 *
 * Functions returning int return TERN_OK (0) or a tern_code from <tern/errors.h>;
 * tern_strerror() describes it. A request function that returns non-zero will NOT call
 * its callback; one that returns 0 calls it exactly once (with code 0 or an error —
 * including TERN_ERR_SDK_CANCELED if the client is destroyed first). Server errors reach
 * callbacks with the server's code and message (docs/errors.md).
 *
 * ## Strings
 *
 * All strings are NUL-terminated UTF-8. Strings passed in are copied; the caller keeps
 * ownership. Strings returned by accessors are owned by the object they come from and
 * live as long as it does.
 */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include <stddef.h>
#include <stdint.h>

#include "tern/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TERN_API
#if defined(__GNUC__) || defined(__clang__)
#define TERN_API __attribute__((visibility("default")))
#else
#define TERN_API
#endif
#endif

#define TERN_VERSION "0.1.0"

struct uv_loop_s; /* libuv's uv_loop_t; include <uv.h> to use it */

/* ---- opaque objects ----------------------------------------------------------- */

typedef struct tern_client tern_client;             /* one user's connection to ternd */
typedef struct tern_message tern_message;           /* a message: draft, sent or received */
typedef struct tern_conversation tern_conversation; /* a conversation list entry */

/* ---- enums -------------------------------------------------------------------- */

typedef enum tern_conv_type {
    TERN_CONV_C2C = 1,  /* one-to-one ("C2C"); conversation id "C2C<peer>" */
    TERN_CONV_GROUP = 2 /* group ("GROUP"); conversation id "GROUP<groupID>" */
} tern_conv_type;

typedef enum tern_msg_type {
    TERN_MSG_UNKNOWN = 0,  /* a type this SDK version does not know: read tern_message_payload_json */
    TERN_MSG_TEXT = 1,     /* "TIMTextElem", payload {"text"} */
    TERN_MSG_CUSTOM = 2,   /* "TIMCustomElem", payload {"data","description","extension"} */
    TERN_MSG_IMAGE = 3,    /* "TIMImageElem" */
    TERN_MSG_SOUND = 4,    /* "TIMSoundElem" */
    TERN_MSG_VIDEO = 5,    /* "TIMVideoFileElem" */
    TERN_MSG_FILE = 6,     /* "TIMFileElem" */
    TERN_MSG_LOCATION = 7, /* "TIMLocationElem" */
    TERN_MSG_FACE = 8,     /* "TIMFaceElem", payload {"index","data"} */
    TERN_MSG_MERGER = 9    /* "TIMRelayElem" (merger): payload {"messageList","title","abstractList",
                              "compatibleText","downloadKey","layersOverLimit"} */
} tern_msg_type;

/* The @ALL entry of an at-user list (Tencent's spelling, with three s). */
#define TERN_AT_ALL "__kImSDK_MesssageAtALL__"

typedef enum tern_priority {
    TERN_PRIORITY_HIGH = 1,
    TERN_PRIORITY_NORMAL = 2, /* the default */
    TERN_PRIORITY_LOW = 3,
    TERN_PRIORITY_LOWEST = 4
} tern_priority;

typedef enum tern_msg_status {
    TERN_MSG_STATUS_DRAFT = 0,   /* created, not yet given to tern_send_message: settable */
    TERN_MSG_STATUS_SENDING = 1, /* given to tern_send_message, no answer yet */
    TERN_MSG_STATUS_SENT = 2,    /* acknowledged: id, seq and time are set */
    TERN_MSG_STATUS_FAILED = 3,  /* the send failed; may be sent again (same clientMsgId) */
    TERN_MSG_STATUS_RECEIVED = 4 /* came from the server (event, history, sync) */
} tern_msg_status;

/* Connection state, see tern_client_get_state(). */
typedef enum tern_state {
    TERN_STATE_IDLE = 0,         /* not logged in (initially, after logout or a failed login) */
    TERN_STATE_CONNECTING = 1,   /* TCP connect + WebSocket handshake */
    TERN_STATE_LOGGING_IN = 2,   /* login request sent */
    TERN_STATE_SYNCING = 3,      /* logged in, catching up (sync) — requests work */
    TERN_STATE_READY = 4,        /* logged in and caught up (after TERN_EVENT_SDK_READY) */
    TERN_STATE_RECONNECTING = 5, /* connection lost, waiting for the next attempt */
    TERN_STATE_KICKED = 6,       /* the server ended the session; no reconnect */
    TERN_STATE_DESTROYED = 7     /* tern_client_destroy was called */
} tern_state;

/* Events delivered to tern_client_options.on_event (Tencent's TencentCloudChat.EVENT.*). */
typedef enum tern_event_type {
    /* Logged in and caught up (after login and after every reconnect+sync). */
    TERN_EVENT_SDK_READY = 1,
    /* The client was ready and no longer is (connection lost, logout, kick). Requests
     * other than sends fail with TERN_ERR_SDK_NOT_READY until the next SDK_READY;
     * sends are kept and go out after the reconnect. */
    TERN_EVENT_SDK_NOT_READY = 2,
    /* ev->message: a new message for this user — from others, or sent by this user
     * from another device or the REST API (never one this client sent itself). Each
     * stored message is delivered once, in seq order per conversation, also across
     * reconnects (missed messages are fetched with sync). */
    TERN_EVENT_MESSAGE_RECEIVED = 3,
    /* ev->conversation_id, ev->reason ("joined", "left", "dismissed"): the user joined
     * or left a group, or it was dismissed. */
    TERN_EVENT_CONVERSATION_CHANGED = 4,
    /* ev->conversation_id, ev->read_seq, ev->unread_count: another session of this
     * user marked the conversation read. */
    TERN_EVENT_MESSAGE_READ = 5,
    /* ev->code, ev->text: the server ended this session (e.g. user deleted). The
     * client does not reconnect; TERN_EVENT_DISCONNECTED follows. */
    TERN_EVENT_KICKED_OUT = 6,
    /* ev->attempt (1, 2, ...), ev->delay_ms: the connection was lost unexpectedly
     * and the client will reconnect after delay_ms. */
    TERN_EVENT_RECONNECTING = 7,
    /* ev->code (0 after logout): the client stopped for good — logout, kick, or a
     * login that can never succeed on reconnect (token invalid/expired, app or user
     * gone). Pending sends completed with TERN_ERR_SDK_DISCONNECTED. Call tern_login
     * again (after tern_client_set_token, if the token expired) to come back. */
    TERN_EVENT_DISCONNECTED = 8,
    /* Streamed messages (an app backend relays e.g. an LLM's reply chunk by chunk through
     * REST /stream_message/...; docs/protocol.md §9). Per stream, in this order:
     * STARTED once, CHUNK 0..n times, FINISHED once; never a duplicate, never a gap.
     * ev->message is the stream's message with the text so far (tern_message_text)
     * and its stream fields (tern_message_stream_*); ev->chunk is the text this event
     * adds to what the previous event of the stream showed (so concatenating the
     * chunks of a stream's events gives tern_message_text) and ev->chunk_seq the
     * backend's seq of the last chunk included. */
    /* A new stream: ev->message (text = its first chunk, or the text so far when this
     * client first saw the stream mid-way), ev->chunk, ev->chunk_seq. */
    TERN_EVENT_STREAM_STARTED = 9,
    /* More text: ev->message with the text so far (this chunk included), ev->chunk,
     * ev->chunk_seq. After a gap (chunks this client missed) libtern fetches the
     * message again and this event carries everything missed as one chunk. */
    TERN_EVENT_STREAM_CHUNK = 10,
    /* The stream finished (the backend's finish, tern_message_stream_state FINISHED,
     * tern_message_stream_finish_reason) or the server ended it (ENDED,
     * tern_message_stream_end_code: 14032 too long, 14033 idle, 14034 total time,
     * 5002 store). ev->chunk/chunk_seq: the last chunk when it carried text, else
     * NULL/-1. The message is now the conversation's stored message; libtern forgets
     * it after this event. */
    TERN_EVENT_STREAM_FINISHED = 11,
    /* Read receipts and extensions (issue 10; docs/protocol.md §5 `receipt`, `ext`). */
    /* ev->conversation_id (C2C<peer>), ev->read_seq (the peer's read position),
     * ev->time_ms: the peer read past messages this user sent with need_read_receipt
     * (Tencent's MESSAGE_READ_BY_PEER). Messages without it raise nothing. */
    TERN_EVENT_MESSAGE_READ_BY_PEER = 12,
    /* ev->conversation_id (GROUP<id>), ev->msg_id, ev->read_count, ev->unread_count:
     * members read a group message this user sent with need_read_receipt (at most one
     * event per message per server store batch, with the counts after it). */
    TERN_EVENT_MESSAGE_READ_RECEIPT = 13,
    /* ev->conversation_id, ev->msg_id, ev->json: another session changed the message's
     * extensions; json is the array [{"key","value"|null,"version"}] (value null: the key
     * was deleted). Valid during the callback. */
    TERN_EVENT_MESSAGE_EXTENSIONS_UPDATED = 14,
    /* ev->conversations[0..ev->conversation_count): the conversation list entries that
     * changed since the previous such event, each with its current state (Tencent's
     * CONVERSATION_LIST_UPDATED / onConversationChanged): keep the list on screen
     * without polling. libtern keeps a cache of the user's entries (at most 10000; the
     * least recently updated is forgotten first):
     *   - after every SDK_READY it asks the server for the list (at most 500 entries)
     *     and raises one event with every entry that differs from the cache — all of
     *     them after the first login of the client (also when there are none:
     *     conversation_count 0), none if nothing changed while the client was away or
     *     if that request fails. Between the login and that answer (the catch-up) no
     *     event of this type is raised, so one event reflects the whole catch-up;
     *   - then: messages received (unread_count +1 for a message from another user
     *     above read_seq, last_seq, last message, at-info of an @ naming the user or
     *     @ALL), this client's own sends once acknowledged, reads by this client
     *     (tern_set_message_read) or by another session (MESSAGE_READ), streamed
     *     messages when they start and finish. Online-only messages change nothing;
     *   - the answers to tern_get_conversation_list refresh the cache without an event.
     * Changes are coalesced: at most one event per turn of the client's loop, after the
     * other events of that turn. A conversation the user left or that was dismissed is
     * dropped from the cache without this event: CONVERSATION_CHANGED reports it.
     * A received message the server marks isExcludedFromUnreadCount (excludedFromUnreadCount,
     * or a receiverList) is not counted as unread, and one marked
     * isExcludedFromLastMessage moves last_seq but not the last message, as on the server.
     * Known limit (docs/sdk.md): last_seq does not move for a receiverList message the
     * user is not among the receivers of (the server's lastSeq does) until the next
     * message or SDK_READY.
     * Every pointer (entries, their strings and last messages) is valid during the
     * callback only: copy what you keep, or tern_message_ref a last message. Raised
     * only when the app has an on_event: without one libtern keeps no cache. */
    TERN_EVENT_CONVERSATION_LIST_UPDATED = 15
} tern_event_type;

/* The state of a streamed message (tern_message_stream_state). */
typedef enum tern_stream_state {
    TERN_STREAM_NONE = 0,     /* not a streamed message */
    TERN_STREAM_OPEN = 1,     /* chunks are still coming */
    TERN_STREAM_FINISHED = 2, /* the backend sent its last chunk (finish: true) */
    TERN_STREAM_ENDED = 3     /* the server ended it (see tern_message_stream_end_code) */
} tern_stream_state;

/* An event. Every pointer in it is borrowed for the duration of the callback only
 * (use tern_message_ref to keep the message). Fields not listed for a type are 0/NULL. */
typedef struct tern_event {
    tern_event_type type;
    const tern_message *message; /* MESSAGE_RECEIVED */
    const char *conversation_id; /* CONVERSATION_CHANGED, MESSAGE_READ */
    const char *reason;          /* CONVERSATION_CHANGED */
    uint64_t read_seq;           /* MESSAGE_READ */
    uint64_t unread_count;       /* MESSAGE_READ */
    int code;                    /* KICKED_OUT, DISCONNECTED, SDK_NOT_READY: why */
    const char *text;            /* the same, in words (never NULL when code is set) */
    unsigned attempt;            /* RECONNECTING */
    unsigned delay_ms;           /* RECONNECTING */
    const char *chunk;           /* STREAM_*: the text this event adds (NULL: none) */
    int64_t chunk_seq;           /* STREAM_*: the backend's seq of that text (-1: none) */
    const char *msg_id;          /* MESSAGE_READ_RECEIPT, MESSAGE_EXTENSIONS_UPDATED */
    uint64_t read_count;         /* MESSAGE_READ_RECEIPT (unread_count: the others) */
    int64_t time_ms;             /* MESSAGE_READ_BY_PEER: when the peer read */
    const char *json;            /* MESSAGE_EXTENSIONS_UPDATED: the changes */
    /* CONVERSATION_LIST_UPDATED: the entries that changed, conversation_count of them */
    const tern_conversation *const *conversations;
    size_t conversation_count;
} tern_event;

/* Called on the client's loop thread for every event. Must not block for long (it
 * holds up the client's I/O). It may call any request function and tern_client_destroy
 * (see there). */
typedef void (*tern_event_cb)(tern_client *client, const tern_event *ev, void *user_data);

/* ---- client ------------------------------------------------------------------- */

typedef struct tern_client_options {
    tern_event_cb on_event;      /* may be NULL: no events */
    void *user_data;             /* passed to on_event */
    struct uv_loop_s *loop;      /* NULL: the SDK creates its own loop; else run on this
                                    (app-owned) loop, see tern_client_create */
    const char *device;          /* login "device" (<= 64 bytes); NULL: none */
    const char *platform;        /* login "platform"; NULL: "c" */
    const char *sync_cursor;     /* cursor saved by an earlier run (tern_client_get_cursor):
                                    the first sync starts there, so messages that arrived
                                    while the app was not running are delivered through
                                    MESSAGE_RECEIVED. NULL: start from login time */
    unsigned request_timeout_ms; /* response timeout of a request on the wire; 0: 10000 */
    unsigned connect_timeout_ms; /* TCP connect + WebSocket handshake; 0: 10000 */
    unsigned reconnect_min_ms;   /* first reconnect delay; 0: 500 */
    unsigned reconnect_max_ms;   /* delay cap (the delay doubles each failed attempt,
                                    with +-20% jitter); 0: 30000 */
    unsigned heartbeat_ms;       /* ping interval; 0: the server's heartbeatSec (login).
                                    Two intervals without any frame from the server mark
                                    the connection dead (then: reconnect) */
    int no_reconnect;            /* 1: do not reconnect after an unexpected close: emit
                                    NOT_READY + DISCONNECTED instead */
    size_t max_message_bytes;    /* largest server message accepted; 0: 4 MiB */
    const char *tls_ca_file;     /* wss://: PEM file of the certificate authorities to
                                    trust instead of the system's (e.g. a private CA or a
                                    self-signed server certificate). NULL: the system's
                                    (OpenSSL's default paths). The server certificate is
                                    always verified, and so is its name (DNS or IP) */
    uint64_t media_max_bytes_per_sec; /* cap on the speed of each media transfer (upload
                                    and download), e.g. to keep a mobile link free for
                                    messages; libcurl paces the transfer from the loop's
                                    timer, so messaging is not held up. 0: no cap */
    int no_conversation_list;    /* 1: keep no conversation-list cache: no
                                    CONVERSATION_LIST_UPDATED and no `conversations`
                                    request after each SDK_READY (for bots and one-shot
                                    tools that show no list; the request costs the
                                    server about 13 us per conversation of the user) */
} tern_client_options;

/* Fills opts with the defaults (all zero/NULL, meaning the defaults above).
 * Any thread. */
TERN_API void tern_client_options_init(tern_client_options *opts);

/* Creates a client for `user` of `app` ("org/app") on the server at server_url.
 *   server_url  "ws://host:port" or "ws://host:port/path" (path defaults to "/ws");
 *               "wss://host[:port][/path]" for TLS (port defaults to 443; ternd itself
 *               speaks plain ws, so wss:// goes through a TLS-terminating proxy, see
 *               docs/operations.md); "http://" and "https://" are synonyms of "ws://" and
 *               "wss://". IPv6 hosts in brackets.
 *   app         "org/app"; user: the user id; token: a user token (docs/protocol.md §3,
 *               or REST POST /{org}/{app}/users/{user}/token).
 *   opts        may be NULL (defaults); copied, including its strings.
 *   out         receives the client.
 * Returns TERN_OK, or TERN_ERR_SDK_INVALID_ARG (NULL or malformed argument, or a
 * tls_ca_file OpenSSL cannot load), or TERN_ERR_SDK_IO (the loop or TLS context could
 * not be set up). A TLS handshake that fails (certificate not trusted, name mismatch)
 * is a connection failure: the client reconnects with backoff, as after any other.
 * Thread: any thread when the SDK creates its own loop. With opts->loop, call it on the
 * thread running that loop (or before the loop runs): it adds handles to the loop.
 * Nothing happens on the network until tern_login. Free with tern_client_destroy.
 * Process-wide side effect: the first call sets SIGPIPE to SIG_IGN if it is still at
 * SIG_DFL (a write to a socket the server closed would otherwise kill the process);
 * a handler or disposition the app set is left alone. */
TERN_API int tern_client_create(const char *server_url, const char *app, const char *user, const char *token,
                                const tern_client_options *opts, tern_client **out);

/* Destroys the client: the connection is closed (no logout is sent: use tern_logout
 * first to end the session cleanly), every pending request completes with
 * TERN_ERR_SDK_CANCELED (on the loop thread, before destroy returns in modes (a) from
 * another thread and (b)), no event is emitted any more, and the client is freed.
 * NULL is a no-op. The client must not be used after this call starts.
 * Thread:
 *   - thread mode (tern_client_start_thread): any thread. From another thread it waits
 *     for the SDK thread to finish. From inside a callback (the SDK thread) it returns
 *     at once and the SDK thread frees the client and exits when the callback returns.
 *   - the SDK's own loop driven by the app: on the thread that runs the loop, and not
 *     from inside a callback (return from tern_client_run first; violating this aborts).
 *     It runs the loop until the client's handles are closed.
 *   - an app loop (opts.loop): on the loop's thread, also from a callback. The memory is
 *     freed by close callbacks: keep running the loop (uv_run(loop, UV_RUN_DEFAULT)
 *     returns once everything is closed) before uv_loop_close(). */
TERN_API void tern_client_destroy(tern_client *client);

/* Starts the SDK's own thread running the client's loop (mode (a)); all callbacks
 * then run on that thread. Call it once, before or after tern_login.
 * Returns TERN_OK, TERN_ERR_SDK_INVALID_ARG (already started, client created with
 * opts.loop, or NULL), or TERN_ERR_SDK_IO (thread creation failed).
 * Thread: any thread, but not concurrently with tern_client_run*. */
TERN_API int tern_client_start_thread(tern_client *client);

/* The loop the client lives on (its own, or opts.loop), e.g. to add app timers or
 * stdin to it in mode (b). Do not close it or the client's handles.
 * Thread: any; using the loop is only allowed on the thread that runs it. */
TERN_API struct uv_loop_s *tern_client_get_loop(tern_client *client);

/* Mode (b) with the SDK's own loop: runs the loop on the calling thread until
 * tern_client_stop() is called (from a callback or any other thread). Callbacks run
 * inside this call. Returns TERN_OK, or TERN_ERR_SDK_INVALID_ARG in thread mode,
 * with opts.loop, or when called from inside a callback. */
TERN_API int tern_client_run(tern_client *client);

/* Mode (b) with the SDK's own loop: runs one loop iteration on the calling thread.
 * block != 0 waits until something happened (uv_run UV_RUN_ONCE), block == 0 only
 * handles what is ready (UV_RUN_NOWAIT). Returns 1 if the loop still has work (it
 * always does while the client exists), 0 if not, or -TERN_ERR_SDK_INVALID_ARG as for
 * tern_client_run. */
TERN_API int tern_client_run_once(tern_client *client, int block);

/* Makes tern_client_run return (after the current iteration). Any thread.
 * Returns TERN_OK, or TERN_ERR_SDK_INVALID_ARG (NULL, thread mode, opts.loop given,
 * destroyed). */
TERN_API int tern_client_stop(tern_client *client);

/* The current state. Any thread (an atomic read; it may change right after). */
TERN_API tern_state tern_client_get_state(const tern_client *client);

/* The user id given to tern_client_create (owned by the client). Any thread. */
TERN_API const char *tern_client_user(const tern_client *client);

/* Replaces the token used by the next login / reconnect (e.g. before the old one
 * expires). Returns TERN_OK or TERN_ERR_SDK_INVALID_ARG. Any thread (queued). */
TERN_API int tern_client_set_token(tern_client *client, const char *token);

/* Copies the sync cursor (the server position up to which this client has all
 * messages; empty before the first login) into out (NUL-terminated, at most outsz
 * bytes; 32 always suffice). Save it when the app exits and pass it as
 * opts.sync_cursor next time. Returns its length, or -TERN_ERR_SDK_INVALID_ARG.
 * Any thread. */
TERN_API int tern_client_get_cursor(tern_client *client, char *out, size_t outsz);

/* ---- login / logout ------------------------------------------------------------- */

/* Completion of tern_login / tern_logout: code 0 or an error; message is the server's
 * or the SDK's text (never NULL). Runs on the loop thread. */
typedef void (*tern_result_cb)(tern_client *client, int code, const char *message, void *user_data);

/* Connects, handshakes and logs in. cb (may be NULL) runs once the login response
 * arrives: code 0, or the server's error (TERN_ERR_TOKEN_INVALID, _TOKEN_EXPIRED,
 * _APP_NOT_FOUND, _USER_NOT_FOUND, ...), TERN_ERR_SDK_IO (connect/handshake failed),
 * TERN_ERR_SDK_TIMEOUT, TERN_ERR_ALREADY_LOGGED_IN (already logged in or logging in).
 * The first login does not retry. After a successful login the client syncs (missed
 * messages arrive as MESSAGE_RECEIVED) and then emits TERN_EVENT_SDK_READY; from then
 * on it reconnects by itself after unexpected closes.
 * Returns TERN_OK (cb will run) or TERN_ERR_SDK_INVALID_ARG / TERN_ERR_SDK_CANCELED
 * (client being destroyed). Any thread. */
TERN_API int tern_login(tern_client *client, tern_result_cb cb, void *user_data);

/* Ends the session: sends logout, closes the connection and stops reconnecting.
 * Pending requests complete with TERN_ERR_SDK_DISCONNECTED (sends too: they are not
 * resent). Emits SDK_NOT_READY (if it was ready) and DISCONNECTED (code 0). cb (may be
 * NULL) runs after the server answered or the connection closed (code 0), or with
 * TERN_ERR_SDK_NOT_READY if not logged in. Returns as tern_login. Any thread. */
TERN_API int tern_logout(tern_client *client, tern_result_cb cb, void *user_data);

/* ---- messages ------------------------------------------------------------------- */

/* Creates a text message ("TIMTextElem") to user or group `to` from the client's user,
 * with a fresh clientMsgId (128 random bits, 32 hex digits), priority Normal, empty
 * cloudCustomData. The message is a draft: set options with the setters below, then
 * tern_send_message. Returns the message (reference count 1: release it with
 * tern_message_release), or NULL if an argument is NULL or invalid (`to` not an
 * identifier of 1-64 [A-Za-z0-9_.@=+-] — "@TIM#SYSTEM" is accepted and fails at send
 * with TERN_ERR_SYSTEM_CONV — or text not valid UTF-8). Any thread. */
TERN_API tern_message *tern_create_text_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                const char *text);

/* Creates a custom message ("TIMCustomElem") with payload data/description/extension
 * (each may be NULL: omitted). Same contract as tern_create_text_message. */
TERN_API tern_message *tern_create_custom_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                  const char *data, const char *description, const char *extension);

/* Setters: only on a draft (TERN_MSG_STATUS_DRAFT), from one thread at a time.
 * Return TERN_OK, or TERN_ERR_SDK_INVALID_ARG (not a draft, NULL, invalid value). */
/* cloudCustomData: any UTF-8 string, stored and delivered as is (NULL = ""). */
TERN_API int tern_message_set_cloud_custom_data(tern_message *msg, const char *data);
TERN_API int tern_message_set_priority(tern_message *msg, tern_priority priority);
TERN_API int tern_message_set_need_read_receipt(tern_message *msg, int need);
/* Replaces the generated clientMsgId (1-64 bytes UTF-8, no control characters): the
 * server stores one message per (sender, clientMsgId), so an app resending after a
 * crash with the same id never creates a duplicate. */
TERN_API int tern_message_set_client_msg_id(tern_message *msg, const char *client_msg_id);

/* Adds a reference (any thread; the count is atomic). Use it to keep a message that
 * a callback lent you. Returns msg. */
TERN_API tern_message *tern_message_ref(const tern_message *msg);
/* Drops a reference; the last one frees the message. NULL is a no-op. Any thread. */
TERN_API void tern_message_release(tern_message *msg);

/* Accessors. Strings are owned by the message; never NULL unless stated. A message
 * is immutable once received; for a sent message, the fields the server fills (id,
 * seq, time, status) change on the loop thread when the ack arrives: read them in or
 * after the send callback. */
TERN_API tern_msg_status tern_message_status(const tern_message *msg);
/* Server message id (decimal string, 64-bit); "" until acknowledged. */
TERN_API const char *tern_message_id(const tern_message *msg);
/* Position in the conversation (1, 2, ...); 0 until acknowledged and for onlineUserOnly. */
TERN_API uint64_t tern_message_seq(const tern_message *msg);
/* Server time, Unix milliseconds; 0 until acknowledged. */
TERN_API int64_t tern_message_time(const tern_message *msg);
TERN_API const char *tern_message_from(const tern_message *msg);
TERN_API const char *tern_message_to(const tern_message *msg);
TERN_API tern_conv_type tern_message_conv_type(const tern_message *msg);
/* The conversation id from this client's user's point of view: "C2C<peer>" or
 * "GROUP<groupID>" (docs/protocol.md §6). */
TERN_API const char *tern_message_conversation_id(const tern_message *msg);
TERN_API tern_msg_type tern_message_type(const tern_message *msg);
/* The wire type name ("TIMTextElem", "TIMCustomElem", or what the server sent). */
TERN_API const char *tern_message_type_name(const tern_message *msg);
/* Text of a text message; NULL for other types. For a streamed message, the text so
 * far (all of it once the stream finished or ended). */
TERN_API const char *tern_message_text(const tern_message *msg);
/* Custom message fields; NULL if absent or another type. */
TERN_API const char *tern_message_custom_data(const tern_message *msg);
TERN_API const char *tern_message_custom_description(const tern_message *msg);
TERN_API const char *tern_message_custom_extension(const tern_message *msg);
/* The payload object as compact JSON text ("{}" if none). */
TERN_API const char *tern_message_payload_json(const tern_message *msg);
TERN_API const char *tern_message_cloud_custom_data(const tern_message *msg);
TERN_API tern_priority tern_message_priority(const tern_message *msg);
TERN_API const char *tern_message_client_msg_id(const tern_message *msg);
TERN_API int tern_message_need_read_receipt(const tern_message *msg);
/* 1 for an onlineUserOnly message (never stored, seq 0). */
TERN_API int tern_message_online_only(const tern_message *msg);
/* Received messages (Tencent's V2TIMMessage.isExcludedFromUnreadCount /
 * isExcludedFromLastMessage): 1 when the message never counts as unread (sent with
 * messageControlInfo.excludedFromUnreadCount, or with a receiverList) / never shows as
 * the conversation's last message (excludedFromLastMessage). 0 for drafts and sends
 * (their options are in tern_send_options). */
TERN_API int tern_message_excluded_from_unread_count(const tern_message *msg);
TERN_API int tern_message_excluded_from_last_message(const tern_message *msg);
/* The whole message object as compact JSON (docs/protocol.md §6): for a received
 * message, exactly the object the server sent (a streamed message the SDK extended
 * with chunks: the same fields with the text so far and its current `stream` object);
 * for a sent one, built at the ack. NULL for a draft or a message still sending. */
TERN_API const char *tern_message_json(const tern_message *msg);

/* Streamed messages (docs/protocol.md §9). A message the app holds (tern_message_ref)
 * never changes: the SDK gives each later event a message of its own when the app
 * still holds the previous one. Any thread. */
/* TERN_STREAM_NONE for a message that is not streamed (and for NULL). */
TERN_API tern_stream_state tern_message_stream_state(const tern_message *msg);
/* "text" or "markdown"; NULL if not a streamed message. */
TERN_API const char *tern_message_stream_format(const tern_message *msg);
/* The backend's seq of the last chunk the text includes; -1 if not a streamed message. */
TERN_API int64_t tern_message_stream_last_seq(const tern_message *msg);
/* The backend's finishReason (FINISHED with a reason); 0 otherwise. */
TERN_API int tern_message_stream_finish_reason(const tern_message *msg);
/* Why the server ended the stream (ENDED): 14032, 14033, 14034 or 5002; 0 otherwise. */
TERN_API int tern_message_stream_end_code(const tern_message *msg);

/* ---- sending ------------------------------------------------------------------- */

/* offlinePushInfo of a send (Tencent's fields): what the app's push webhook gets for a
 * recipient with no online session. Sent when `present` is 1 or any field is set. */
typedef struct tern_offline_push_info {
    int present;
    int disable_push;                    /* disablePush: no push for this message */
    int disable_voip_push;               /* disableVoipPush */
    int ignore_ios_badge;                /* ignoreIOSBadge */
    const char *title;                   /* <= 256 bytes; NULL: "" */
    const char *description;             /* <= 1024 bytes; NULL: "" */
    const char *extension;               /* <= 4096 bytes; NULL: "" */
    const char *android_oppo_channel_id; /* androidOPPOChannelID, <= 128 bytes; NULL: "" */
} tern_offline_push_info;

/* The options of tern_send_message (seed 001's sendMessage(message, options) plus the
 * message fields Tencent sets at send time). All zero (tern_send_options_init) is the
 * default: an ordinary stored message with the draft's own priority and receipt flag.
 * Strings and arrays are copied by tern_send_message; the caller keeps ownership. */
typedef struct tern_send_options {
    int online_user_only; /* 1: deliver to online sessions only; not stored, seq 0, no unread
                             (onlineUserOnly; cannot be combined with the control info: 1013) */
    /* messageControlInfo, sent when any of the three is 1 (or control_info is 1) */
    int control_info;
    int excluded_from_unread_count;       /* stored, but no unread count for it */
    int excluded_from_last_message;       /* stored, but not the conversation's last message */
    int excluded_from_content_moderation; /* skips the app's keyword moderation */
    tern_offline_push_info offline_push_info;
    /* receiverList: a group message only these members (and the sender) receive and see;
     * 1..50 distinct user ids (server: 1020 in C2C, 1203 over 50, 1022 a non-member) */
    const char *const *receivers;
    size_t receiver_count;
    int is_support_extension; /* isSupportExtension: the message takes extensions */
    tern_priority priority;   /* 0: the draft's own (tern_message_set_priority) */
    int need_read_receipt;    /* 1: needReadReceipt (as tern_message_set_need_read_receipt) */
    /* atUserList of a text message to a group (as tern_create_text_at_message; replaces
     * the draft's list): user ids and/or TERN_AT_ALL, 1..64 distinct entries */
    const char *const *at_users;
    size_t at_user_count;
} tern_send_options;

/* Fills opts with the defaults (all zero). Any thread. */
TERN_API void tern_send_options_init(tern_send_options *opts);

/* Completion of tern_send_message, on the loop thread. msg is the message given to
 * tern_send_message (borrowed for the call; the SDK's reference is dropped after cb
 * returns): with code 0 its status is SENT and id, seq, time are set; else FAILED.
 * Codes: 0; the server's (TERN_ERR_MSG_TOO_LONG 80002, TERN_ERR_SYSTEM_CONV 2106,
 * TERN_ERR_USER_NOT_FOUND, TERN_ERR_GROUP_NOT_FOUND, TERN_ERR_GROUP_PERMISSION,
 * TERN_ERR_OVERLOADED, ...; 80002 and 2106 are also detected before sending);
 * TERN_ERR_SDK_TIMEOUT (no answer in request_timeout_ms); TERN_ERR_SDK_NOT_READY (not
 * logged in); TERN_ERR_SDK_DISCONNECTED (logout, kick, or a re-login refused for good);
 * TERN_ERR_SDK_CANCELED (client destroyed). After TIMEOUT, DISCONNECTED or CANCELED the
 * message may or may not be stored: send it again (status FAILED allows it) — its
 * clientMsgId makes that safe. */
typedef void (*tern_send_cb)(tern_client *client, tern_message *msg, int code, const char *message, void *user_data);

/* Sends a draft (or again a FAILED message, with the same clientMsgId). The SDK takes
 * its own reference; the caller keeps its own (release it when done). From this call
 * on the message is no longer a draft and its setters fail.
 * While the connection is down (reconnecting, or the login still running) the send
 * waits and goes out after the (re)login; a send on the wire when the connection drops
 * is resent with the same clientMsgId after the reconnect. The server never stores it
 * twice, and the callback runs once: the app never loses a message it was told is
 * sent, and never sees a duplicate. Its own sent messages are never delivered back as
 * MESSAGE_RECEIVED to this client.
 * opts may be NULL (defaults); its priority, need_read_receipt and at-user list are
 * written into the message (they are message fields), the rest travels with this send
 * only (docs/sdk.md "Send options"). cb may be NULL.
 * Returns TERN_OK (cb will run), TERN_ERR_SDK_INVALID_ARG (NULL, or msg is SENDING,
 * SENT or RECEIVED; an option out of its bounds: a push string too long, a receiver or
 * at-user that is no identifier, a repeated one, more than 50 receivers or 64 at-users,
 * an at-user list on a message that is not text), TERN_ERR_SDK_CANCELED (client being
 * destroyed). Any thread. */
TERN_API int tern_send_message(tern_client *client, tern_message *msg, const tern_send_options *opts, tern_send_cb cb,
                               void *user_data);

/* ---- history, conversations, read ---------------------------------------------- */

/* Completion of tern_get_message_list: msgs[0..count) newest first (borrowed for the
 * call: tern_message_ref to keep one); more = 1 if older messages remain (ask again
 * with before_seq = the smallest seq received). code != 0: count is 0. */
typedef void (*tern_message_list_cb)(tern_client *client, int code, const char *message,
                                     const tern_message *const *msgs, size_t count, int more, void *user_data);

/* History of a conversation ("C2Cbob", "GROUPg1"): messages with seq < before_seq
 * (0 = from the newest), at most limit (1-100; 0 = 20). Errors in cb:
 * TERN_ERR_FORBIDDEN (not a member), TERN_ERR_BAD_FIELD, TERN_ERR_SDK_NOT_READY (not
 * logged in), _TIMEOUT, _DISCONNECTED, _CANCELED.
 * Returns TERN_OK (cb will run), TERN_ERR_SDK_INVALID_ARG (NULL cb or conversation id,
 * limit over 100), TERN_ERR_SDK_CANCELED. Any thread. */
TERN_API int tern_get_message_list(tern_client *client, const char *conversation_id, uint64_t before_seq,
                                   unsigned limit, tern_message_list_cb cb, void *user_data);

/* Completion of tern_get_conversation_list: convs[0..count), most recent first,
 * borrowed for the call. */
typedef void (*tern_conversation_list_cb)(tern_client *client, int code, const char *message,
                                          const tern_conversation *const *convs, size_t count, void *user_data);

/* The user's conversations (at most limit, 1-500; 0 = 100). Errors as
 * tern_get_message_list. Returns as tern_get_message_list. Any thread. */
TERN_API int tern_get_conversation_list(tern_client *client, unsigned limit, tern_conversation_list_cb cb,
                                        void *user_data);

/* Conversation accessors (strings owned by the conversation). */
TERN_API const char *tern_conversation_id(const tern_conversation *conv);
TERN_API tern_conv_type tern_conversation_type(const tern_conversation *conv);
/* The peer's user id (C2C) or the group id (GROUP). */
TERN_API const char *tern_conversation_peer(const tern_conversation *conv);
TERN_API uint64_t tern_conversation_unread_count(const tern_conversation *conv);
TERN_API uint64_t tern_conversation_read_seq(const tern_conversation *conv);
TERN_API uint64_t tern_conversation_last_seq(const tern_conversation *conv);
/* The last message, or NULL (borrowed like the conversation). */
TERN_API const tern_message *tern_conversation_last_message(const tern_conversation *conv);
/* Tencent's group at-info of the conversation while the user has not read past it:
 * 0 none, TERN_CONV_AT_ME 1 (an @ naming the user), TERN_CONV_AT_ALL 2 (an @ALL),
 * TERN_CONV_AT_ALL_AT_ME 3 (both). */
enum { TERN_CONV_AT_ME = 1, TERN_CONV_AT_ALL = 2, TERN_CONV_AT_ALL_AT_ME = 3 };
TERN_API int tern_conversation_at_info(const tern_conversation *conv);

/* Completion of tern_set_message_read: the new read position and unread count. */
typedef void (*tern_read_cb)(tern_client *client, int code, const char *message, const char *conversation_id,
                             uint64_t read_seq, uint64_t unread_count, void *user_data);

/* Marks conversation_id read up to seq (0: everything; the server clamps to the last
 * seq and never moves back). The user's other sessions get TERN_EVENT_MESSAGE_READ.
 * cb may be NULL. Errors in cb: TERN_ERR_FORBIDDEN, TERN_ERR_NOT_FOUND (unknown
 * conversation), the SDK errors of tern_get_message_list. Returns as
 * tern_get_message_list (cb may be NULL here). Any thread. */
TERN_API int tern_set_message_read(tern_client *client, const char *conversation_id, uint64_t seq, tern_read_cb cb,
                                   void *user_data);

/* ---- issue 10: more message types, forward, merger ---------------------------- */

/* A text message to a group that mentions users (Tencent's createTextAtMessage): payload
 * {"text":..,"atUserList":[..]}. at_users: 1..64 distinct user ids and/or TERN_AT_ALL
 * (@ everyone). Each mentioned member's conversation shows the at-info until read.
 * NULL for a C2C target (the server refuses it with 1020) or any invalid argument;
 * otherwise as tern_create_text_message. */
TERN_API tern_message *tern_create_text_at_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                   const char *text, const char *const *at_users, size_t at_user_count);

/* A face (sticker) message ("TIMFaceElem" {index, data}): index any int, data the app's
 * own string (may be NULL: ""). As tern_create_text_message otherwise. */
TERN_API tern_message *tern_create_face_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                int index, const char *data);

/* A location message ("TIMLocationElem" {description, longitude, latitude}): longitude
 * in [-180, 180], latitude in [-90, 90] (NULL outside), description may be NULL. */
TERN_API tern_message *tern_create_location_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                    const char *description, double longitude, double latitude);

/* A merged message ("TIMRelayElem", Tencent's createMergerMessage): the messages
 * msg_ids[0..count) (decimal message ids the user sent or received, 1..300; the server
 * refuses one that was never sent or that the user cannot see), title (may be NULL),
 * abstracts[0..abstract_count) (the lines shown in the bubble; may be NULL/0) and
 * compatible_text (required: what a client that cannot show mergers shows). A large
 * list is stored apart by the server and fetched with tern_download_merger_message. */
TERN_API tern_message *tern_create_merger_message(tern_client *client, tern_conv_type conv_type, const char *to,
                                                  const char *const *msg_ids, size_t count, const char *title,
                                                  const char *const *abstracts, size_t abstract_count,
                                                  const char *compatible_text);

/* A message with the same type and payload as src (one the user received or sent: a
 * media message keeps naming the same media, a merger the same list), to a new target
 * from the client's user (Tencent's createForwardMessage). Its cloudCustomData,
 * priority and options are fresh (the defaults). NULL if src is a draft, still sending,
 * or an argument is invalid. */
TERN_API tern_message *tern_create_forward_message(tern_client *client, const tern_message *src,
                                                   tern_conv_type conv_type, const char *to);

/* Accessors of these types (NULL/0 when the message is another type or lacks it;
 * strings owned by the message). */
TERN_API int tern_message_face_index(const tern_message *msg);
TERN_API const char *tern_message_face_data(const tern_message *msg);
TERN_API const char *tern_message_location_description(const tern_message *msg);
TERN_API double tern_message_location_longitude(const tern_message *msg);
TERN_API double tern_message_location_latitude(const tern_message *msg);
/* An @ message's atUserList: its length, and entry i (TERN_AT_ALL for @ everyone). */
TERN_API size_t tern_message_at_user_count(const tern_message *msg);
TERN_API const char *tern_message_at_user(const tern_message *msg, size_t i);
/* A merger's fields: title, compatibleText, abstractList entries, the number of
 * messages carried inline (0 for a large merger: see tern_message_merger_download_key),
 * downloadKey ("" when the list is inline) and layersOverLimit. */
TERN_API const char *tern_message_merger_title(const tern_message *msg);
TERN_API const char *tern_message_merger_compatible_text(const tern_message *msg);
TERN_API size_t tern_message_merger_abstract_count(const tern_message *msg);
TERN_API const char *tern_message_merger_abstract(const tern_message *msg, size_t i);
TERN_API size_t tern_message_merger_message_count(const tern_message *msg);
TERN_API const char *tern_message_merger_download_key(const tern_message *msg);
TERN_API int tern_message_merger_layers_over_limit(const tern_message *msg);

/* The messages of a merger (Tencent's downloadMergerMessage): the inline list, or the
 * list the server keeps under its downloadKey (WebSocket op `downloadMerger`), as
 * messages (a nested merger is one of them: download it in turn). cb gets them in
 * order, borrowed for the call, or an error: 1031 unknown key, 1009 the user cannot
 * see the merger, the SDK's request errors. Returns TERN_OK (cb will run),
 * TERN_ERR_SDK_INVALID_ARG (NULL, or msg not a merger), TERN_ERR_SDK_CANCELED. An
 * inline list is answered without the network (still on the loop thread); otherwise the
 * SDK asks `downloadMerger` with the merger's msgId. Any thread. */
TERN_API int tern_download_merger_message(tern_client *client, const tern_message *msg, tern_message_list_cb cb,
                                          void *user_data);

/* Messages by id (WebSocket op `getMessages`): msg_ids[0..count) (decimal ids, 1..100)
 * of messages the user sent or received; cb gets those found, in the server's order
 * (one the user cannot see is left out, as one that does not exist). For
 * tern_create_forward_message of a message the app no longer holds. Returns as
 * tern_get_message_list (TERN_ERR_SDK_INVALID_ARG also for a malformed id). Any thread. */
TERN_API int tern_get_messages(tern_client *client, const char *const *msg_ids, size_t count, tern_message_list_cb cb,
                               void *user_data);

/* Completion of tern_request: data is the answer's "data" as compact JSON text ("{}"
 * if none; NULL unless code is 0), borrowed for the call. */
typedef void (*tern_json_cb)(tern_client *client, int code, const char *message, const char *data, void *user_data);

/* Sends any op of docs/protocol.md that has no function of its own (e.g. "friends",
 * "getMessages", "receipts", "receiptMembers", "extGet"): fields_json is a JSON object
 * whose members are added to {"op":op,"id":..} (NULL: none). As tern_get_message_list,
 * it needs the login done (else cb gets TERN_ERR_SDK_NOT_READY). Returns TERN_OK (cb will run),
 * TERN_ERR_SDK_INVALID_ARG (NULL cb or op, op not 1-32 of [A-Za-z], fields_json not a
 * JSON object or with an "op" or "id" member), TERN_ERR_SDK_CANCELED. Any thread. */
TERN_API int tern_request(tern_client *client, const char *op, const char *fields_json, tern_json_cb cb,
                          void *user_data);

/* ---- media: uploads, downloads, image/audio/video/file messages ------------------- */
/*
 * Files travel over HTTP, beside the WebSocket (docs/sdk.md "Media"): an upload POSTs
 * the file's bytes to /{org}/{app}/media, a download GETs /{org}/{app}/media/{id}, both
 * with "Authorization: Bearer <the client's user token>" on the server of the WebSocket
 * URL (ws -> http, wss -> https, same host and port) and with the same TLS settings as
 * the WebSocket (tls_ca_file; the certificate and its name are always verified).
 * Transfers run on the client's loop through libcurl's multi interface: they never
 * block the messaging connection and need no login (only the token).
 *
 * Every transfer has a request id (> 0, unique per client), written to *request_id
 * before the function returns. At most TERN_MEDIA_MAX_RUNNING transfers of a client
 * run at once (uploads and downloads together, seed 000); later ones wait in a FIFO and
 * start when one ends: they are never refused for that.
 *
 * Callbacks run on the loop thread (see "Threads"). A transfer function that returns
 * TERN_OK calls its done callback exactly once: with 0, or an error — the server's code
 * (TERN_ERR_MEDIA_*, TERN_ERR_TOKEN_*, TERN_ERR_FORBIDDEN...), TERN_ERR_SDK_IO (the file
 * could not be read or written, the connection failed, an answer that is not Tern's),
 * TERN_ERR_SDK_TIMEOUT (nothing moved for 60 s), TERN_ERR_SDK_CANCELED (cancelled, or
 * the client destroyed). The progress callback (may be NULL) runs 0..n times before
 * done, never after it: `done` never decreases, `total` is the file's size (a download
 * learns it from the answer's Content-Length: 0 until then), and on success the last
 * progress call has done == total. message texts passed to callbacks are never NULL.
 */

#define TERN_MEDIA_MAX_RUNNING 9 /* transfers running at once per client (seed 000) */

/* Progress of transfer request_id: done of total bytes (see above). */
typedef void (*tern_media_progress_cb)(tern_client *client, uint64_t request_id, uint64_t done, uint64_t total,
                                       void *user_data);

/* What the server said about an uploaded file. Strings are borrowed for the callback. */
typedef struct tern_media_info {
    const char *media_id;     /* 32 hex digits; valid in this app until expires_at */
    uint64_t size;            /* bytes */
    const char *content_type; /* as stored */
    const char *file_name;    /* as stored (the server turns non-ASCII bytes into '_') */
    int64_t expires_at;       /* Unix ms */
    unsigned width, height;   /* an image's size, when the server tells it; else 0 */
} tern_media_info;

/* Completion of tern_upload_media: info is NULL unless code is 0. */
typedef void (*tern_upload_cb)(tern_client *client, uint64_t request_id, int code, const char *message,
                               const tern_media_info *info, void *user_data);

/* Uploads the file at path (UTF-8, as open(2) takes it) as one media object.
 * content_type: NULL picks one from the file name's extension (a small table: jpg,
 * png, gif, webp, bmp, mp3, m4a, aac, wav, amr, ogg, mp4, mov, webm, pdf, txt, zip...;
 * otherwise application/octet-stream). The display name sent is the path's last
 * component. The file is opened when the transfer starts (it may wait in the FIFO);
 * a file that cannot be opened or read fails with TERN_ERR_SDK_IO, an empty one with
 * TERN_ERR_MEDIA_EMPTY (seed 000: non-empty files only), one over the server's limit
 * with TERN_ERR_MEDIA_TOO_LARGE (the server's message names the limit).
 * request_id may be NULL. progress may be NULL, done may be NULL.
 * Returns TERN_OK (done will run), TERN_ERR_SDK_INVALID_ARG (NULL client or path, path
 * not UTF-8 or over 4096 bytes, content_type not printable ASCII), TERN_ERR_SDK_CANCELED
 * (client being destroyed). Any thread. */
TERN_API int tern_upload_media(tern_client *client, const char *path, const char *content_type, uint64_t *request_id,
                               tern_media_progress_cb progress, tern_upload_cb done, void *user_data);

/* Completion of the tern_create_*_message_by_uploading builders: msg (NULL unless code
 * is 0) is a draft of the media message with no target yet, borrowed for the call:
 * tern_message_ref it to keep it, set its target with tern_message_set_target, then
 * tern_send_message it (in the callback or later). */
typedef void (*tern_media_message_cb)(tern_client *client, uint64_t request_id, int code, const char *message,
                                      tern_message *msg, void *user_data);

/* Uploads a file and builds the draft of its message (seed 000's
 * createImageMessageByUploading in C). The draft's payload is what a client sends
 * (docs/sdk.md "Media messages"); the server completes the rest (URLs, sizes,
 * imageInfoArray) from its media row when the message is sent:
 *   image  TIMImageElem {uuid, width, height, fileName}: width and height are read by
 *          the SDK from the file's header (JPEG with EXIF orientation, PNG, GIF, WebP,
 *          BMP; left out for anything else); set your own with
 *          tern_message_set_media_size (they win over the server's, seed 000)
 *   file   TIMFileElem {uuid, fileName}
 *   audio  TIMSoundElem {uuid, second, fileName}
 *   video  TIMVideoFileElem {videoUUID, videoSecond, fileName[, snapshotUUID,
 *          snapshotWidth, snapshotHeight]}: the video and then its snapshot image
 *          (snapshot_path, may be NULL) are uploaded under the one request id, as one
 *          transfer; progress counts both files' bytes together
 * fileName is the path's last component. Arguments, return codes, the error codes in
 * done and the threads are those of tern_upload_media (content type from the
 * extension). seconds: the audio's or video's duration. */
TERN_API int tern_create_image_message_by_uploading(tern_client *client, const char *path, uint64_t *request_id,
                                                    tern_media_progress_cb progress, tern_media_message_cb done,
                                                    void *user_data);
TERN_API int tern_create_file_message_by_uploading(tern_client *client, const char *path, uint64_t *request_id,
                                                   tern_media_progress_cb progress, tern_media_message_cb done,
                                                   void *user_data);
TERN_API int tern_create_audio_message_by_uploading(tern_client *client, const char *path, unsigned seconds,
                                                    uint64_t *request_id, tern_media_progress_cb progress,
                                                    tern_media_message_cb done, void *user_data);
TERN_API int tern_create_video_message_by_uploading(tern_client *client, const char *path, unsigned seconds,
                                                    const char *snapshot_path, uint64_t *request_id,
                                                    tern_media_progress_cb progress, tern_media_message_cb done,
                                                    void *user_data);

/* Drafts of media messages naming media already uploaded (seed 000's
 * createImageMessageByMediaId): nothing is uploaded, nothing goes on the network.
 * media_id: a media id of this app (1-128 of [A-Za-z0-9_-]; the server checks that it
 * exists and has not expired when the message is sent: 7006, 7002). The draft has no
 * target: tern_message_set_target before sending. Returns the draft (reference count
 * 1, release it with tern_message_release), or NULL for a NULL client or a malformed
 * id. Any thread. */
TERN_API tern_message *tern_create_image_message_by_media_id(tern_client *client, const char *media_id);
TERN_API tern_message *tern_create_file_message_by_media_id(tern_client *client, const char *media_id);
TERN_API tern_message *tern_create_audio_message_by_media_id(tern_client *client, const char *media_id,
                                                             unsigned seconds);
/* snapshot_id may be NULL (no snapshot). */
TERN_API tern_message *tern_create_video_message_by_media_id(tern_client *client, const char *video_id,
                                                             unsigned seconds, const char *snapshot_id);

/* Setters of a draft (any draft for set_target; a media draft for the others), from
 * one thread at a time. Return TERN_OK or TERN_ERR_SDK_INVALID_ARG (not a draft, not
 * that kind of message, NULL, invalid value). */
/* The conversation the draft goes to (the builders above make drafts without one; a
 * text or custom draft may be retargeted too). `to` as in tern_create_text_message. */
TERN_API int tern_message_set_target(tern_message *msg, tern_conv_type conv_type, const char *to);
/* Width and height: of the picture (image) or of the snapshot (video). They override
 * what the SDK and the server read from the file (seed 000); not checked against it. */
TERN_API int tern_message_set_media_size(tern_message *msg, unsigned width, unsigned height);
/* The display file name (UTF-8, 1-255 bytes, no control characters). */
TERN_API int tern_message_set_media_file_name(tern_message *msg, const char *file_name);
/* An inline thumbnail (Agora's binary thumbnail) of an image or video, carried base64
 * in `thumbnail`; at most 32768 bytes. NULL/0 removes it. Seed 000's rule binds at
 * send: content, file name and thumbnail (its bytes, not its base64) over 32 KB
 * together fail with TERN_ERR_MSG_TOO_LONG (80002), as does a payload without the
 * thumbnail, plus cloudCustomData, over 12 KB (docs/protocol.md §4). */
TERN_API int tern_message_set_media_thumbnail(tern_message *msg, const void *data, size_t len);
/* An audio's or video's duration in seconds. */
TERN_API int tern_message_set_media_seconds(tern_message *msg, unsigned seconds);

/* Accessors of media messages (drafts, sent and received ones); NULL/0 when the
 * message is not a media message or the field is absent. Strings are owned by the
 * message. */
/* uuid (image, audio, file) or videoUUID (video): what tern_download_media takes. */
TERN_API const char *tern_message_media_id(const tern_message *msg);
/* The URL to fetch it (received messages: the server's signed URL; an image's
 * original). tern_download_media takes it as well. */
TERN_API const char *tern_message_media_url(const tern_message *msg);
/* Bytes of the file (an image's original). */
TERN_API uint64_t tern_message_media_size(const tern_message *msg);
TERN_API const char *tern_message_media_file_name(const tern_message *msg);
/* Image: the picture's width/height; video: the snapshot's. */
TERN_API unsigned tern_message_media_width(const tern_message *msg);
TERN_API unsigned tern_message_media_height(const tern_message *msg);
/* Audio or video duration. */
TERN_API unsigned tern_message_media_seconds(const tern_message *msg);
/* The inline thumbnail, base64 text as carried. */
TERN_API const char *tern_message_media_thumbnail(const tern_message *msg);
/* Video: the snapshot's media id and URL. */
TERN_API const char *tern_message_video_snapshot_id(const tern_message *msg);
TERN_API const char *tern_message_video_snapshot_url(const tern_message *msg);
/* Image: imageInfoArray entry `type` (0 original, 1 the 198-px thumbnail, 2 the 720-px
 * one). Returns 0 and fills what is non-NULL, or -1 if the message has no such entry. */
TERN_API int tern_message_image_info(const tern_message *msg, int type, unsigned *width, unsigned *height,
                                     uint64_t *size, const char **url);

/* Completion of tern_download_media: the file is in place (code 0) or nothing was left
 * behind. */
typedef void (*tern_download_cb)(tern_client *client, uint64_t request_id, int code, const char *message,
                                 void *user_data);

/* Downloads media to the file at path. media: a media id of this app, a media URL from
 * a received message (tern_message_media_url: "http(s)://..." or a path starting with
 * "/", resolved against the server), as given. The bytes are written to a temporary
 * file beside path ("<path>.tern-XXXXXX"), which is renamed to path on success (an
 * existing file is replaced) and removed on any failure or cancel: path never holds
 * half a file. The token is sent only to the client's own server. Errors in done:
 * TERN_ERR_MEDIA_NOT_FOUND, TERN_ERR_MEDIA_EXPIRED, the SDK errors of uploads.
 * Returns TERN_OK (done will run), TERN_ERR_SDK_INVALID_ARG (NULL client, media or path;
 * media neither an id nor an http(s) URL or path), TERN_ERR_SDK_CANCELED. Any thread. */
TERN_API int tern_download_media(tern_client *client, const char *media, const char *path, uint64_t *request_id,
                                 tern_media_progress_cb progress, tern_download_cb done, void *user_data);

/* Completion of tern_download_media_to_memory: data[0..len) is the file (NULL/0 unless
 * code is 0). The memory is the SDK's and is valid only until this callback returns:
 * copy what you need to keep. */
typedef void (*tern_download_memory_cb)(tern_client *client, uint64_t request_id, int code, const char *message,
                                        const void *data, size_t len, void *user_data);

/* Downloads media into memory (at most TERN_MEDIA_MEMORY_MAX bytes: a larger file fails
 * with TERN_ERR_SDK_IO and a message saying so). As tern_download_media otherwise. */
#define TERN_MEDIA_MEMORY_MAX (256u << 20)
TERN_API int tern_download_media_to_memory(tern_client *client, const char *media, uint64_t *request_id,
                                           tern_media_progress_cb progress, tern_download_memory_cb done,
                                           void *user_data);

/* Completion of a cancel: code 0 (the transfer's done callback ran with
 * TERN_ERR_SDK_CANCELED just before), or TERN_ERR_SDK_NO_SUCH_TRANSFER (the id names no
 * running or waiting transfer of that direction: finished, unknown, or the other
 * direction's; seed 000: only a running task can be cancelled). */
typedef void (*tern_cancel_cb)(tern_client *client, uint64_t request_id, int code, const char *message,
                               void *user_data);

/* Cancels an upload (tern_upload_media and the builders) or a download, running or
 * waiting. Requests are handled in the order they were made, so a cancel right after
 * the transfer's call finds it. cb may be NULL. Returns TERN_OK (cb will run),
 * TERN_ERR_SDK_INVALID_ARG (NULL client), TERN_ERR_SDK_CANCELED. Any thread. */
TERN_API int tern_cancel_media_upload(tern_client *client, uint64_t request_id, tern_cancel_cb cb, void *user_data);
TERN_API int tern_cancel_media_download(tern_client *client, uint64_t request_id, tern_cancel_cb cb, void *user_data);

/* Transfers of the client now: running (at most TERN_MEDIA_MAX_RUNNING) and waiting in
 * the FIFO (either may be NULL). A transfer counts as running until its done callback
 * has returned. Any thread (atomic reads; they may change right after). */
TERN_API void tern_media_transfer_counts(const tern_client *client, unsigned *running, unsigned *waiting);

/* ---- names ---------------------------------------------------------------------- */

/* Static names for logging: "SDK_READY", "READY", "C2C", "TIMTextElem", "Normal"... */
TERN_API const char *tern_event_name(tern_event_type type);
TERN_API const char *tern_state_name(tern_state state);
TERN_API const char *tern_conv_type_name(tern_conv_type type);
TERN_API const char *tern_priority_name(tern_priority priority);
/* The library version ("0.1.0"). */
TERN_API const char *tern_version(void);

#ifdef __cplusplus
}
#endif
#endif
