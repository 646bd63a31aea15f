/*
 * harness.h — the integration-test harness: starts real ternd processes and talks real
 * wire bytes to them (HTTP/1.1 and WebSocket), for the tests/integration/it_*.c suites.
 *
 * What it gives a test:
 *   - it_server: ternd forked on a port the OS picks (--listen 127.0.0.1:0, port read
 *     back from <data>/ternd.port), in its own mkdtemp data directory; restart on the
 *     same directory, graceful stop (SIGTERM), crash (SIGKILL), RSS reading, cleanup.
 *   - HTTP: one request per connection (Connection: close), raw or REST with the app
 *     token; helpers that create users/groups and mint user tokens.
 *   - it_ws: a blocking WebSocket client with its own small frame codec (client side
 *     of RFC 6455: masked sends, unmasked receives, ping/pong, close), a queue of
 *     received JSON messages, request/response matching by id, event waits and close
 *     detection with the close code.
 *
 * The client codec and the token minting are written here from the documents
 * (RFC 6455, docs/protocol.md §3) rather than taken from src/core: the tests then check
 * the server against the contract, not against a codec that shares its bugs, and the
 * harness needs nothing but the public include path of tern_static plus libcrypto.
 *
 * Every wait is bounded: socket operations poll with a deadline, the server stop
 * escalates to SIGKILL, and it_watchdog() arms an alarm that kills every ternd this
 * process started and exits, so a hang can never stall CI. ternd children also get
 * PR_SET_PDEATHSIG so they die with the test process.
 *
 * Helpers named it_*_ok / it_login / it_rest assert (cmocka fail_msg) on failure; the
 * others return a status for the test to check. Objects returned as cJSON * are owned
 * by the caller (cJSON_Delete). it_ws clients are tracked so it_server_free() frees any
 * a failed test left behind.
 */
#ifndef TERN_IT_HARNESS_H
#define TERN_IT_HARNESS_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

/* Default bound of one wait for a response/event (the servers run under ASan). */
#define IT_WAIT_MS 10000

/* ---- ternd processes ---------------------------------------------------------- */

#define IT_MAX_ARGS 24

typedef struct it_server {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[256];           /* data directory (mkdtemp) */
    char bin[1024];          /* $TERND */
    char *args[IT_MAX_ARGS]; /* extra arguments (owned) */
    int nargs;
    char org[65], app[65];
    char client_id[128], client_secret[128];
    char admin_token[128];
    char app_token[1024]; /* cached by it_app_token */
    int last_status;      /* waitpid status of the last exit */
    int fixed_port;       /* > 0: listen on this port instead of 0 (restart on the same port) */
    int starts;
} it_server;

/* Arms (seconds > 0) or disarms (0) a watchdog: when it fires, every ternd started by
 * this process is killed and the process exits with status 3 and a message. */
void it_watchdog(unsigned seconds);
/* Runs the shell command cmd with stderr joined to stdout, captures up to outsz - 1 bytes
 * of that output into out (NUL-terminated); returns the exit status, or -1 if it could not
 * run or did not exit normally. */
int it_run_capture(const char *cmd, char *out, size_t outsz);

/* Creates a data directory and starts ternd with the standard arguments plus the
 * NULL-terminated extra arguments (may be NULL). Waits (bounded) until the port file
 * exists and /healthz answers 200, and reads demo-app.json and admin.token.
 * Returns NULL (after printing why) on failure. */
it_server *it_server_new(const char *const *extra_args);
/* Starts ternd again on the same directory with the same arguments (it must not be
 * running). Returns 0 or -1 (printed). */
int it_server_restart(it_server *s);
/* Same, but on the port the server had before, so clients holding its URL (libtern)
 * can reconnect. Returns 0 or -1. */
int it_server_restart_same_port(it_server *s);
/* SIGTERM, then waits up to timeout_ms for the exit; on timeout SIGKILLs it and returns
 * -1. On exit returns 0 and stores the waitpid status in *status (may be NULL). */
int it_server_stop(it_server *s, int timeout_ms, int *status);
/* Sends a signal to the running server. */
void it_server_signal(it_server *s, int sig);
/* Waits up to timeout_ms for the server to exit (sends nothing). Returns 0 and the
 * waitpid status in *status (may be NULL), or -1 if it is still running. */
int it_server_wait(it_server *s, int timeout_ms, int *status);
/* SIGKILL and reap. */
void it_server_kill9(it_server *s);
/* 1 if the process is running (not exited). */
int it_server_alive(it_server *s);
/* Regular files below dir, recursively (0 if it does not exist). */
int it_count_files(const char *dir);
/* VmRSS of the process in KiB, or -1. */
long it_server_rss_kb(const it_server *s);
/* Prints the server's log (stdout+stderr of every start) to stderr. */
void it_server_dump_log(const it_server *s);
/* 1 if the server's log contains a sanitizer report. */
int it_server_log_has_sanitizer_report(const it_server *s);
/* Frees every it_ws still open, stops the server (SIGTERM, 10 s), reports (and returns
 * -1 for) a crash, a non-zero exit or a sanitizer report, and removes the directory.
 * NULL is a no-op. Meant for cmocka teardowns. */
int it_server_free(it_server *s);

/* cmocka fixtures: start a server with default arguments into *state / free it. */
int it_setup_default(void **state);
int it_teardown_default(void **state);

/* ---- HTTP --------------------------------------------------------------------- */

typedef struct it_http_resp {
    int status; /* -1 on a transport failure or timeout */
    char *head; /* status line + headers (NUL-terminated) */
    char *body; /* NUL-terminated */
    size_t body_len;
    cJSON *json; /* body parsed, or NULL */
} it_http_resp;

void it_http_resp_free(it_http_resp *r);

/* Sends raw bytes to the server on a new connection and reads the response until the
 * server closes or Content-Length is satisfied (bounded by timeout_ms). A send error
 * (the server answered early and closed) is tolerated: the response is still read. */
int it_http_raw(int port, const void *req, size_t n, int timeout_ms, it_http_resp *out);
/* One request with Connection: close. token may be NULL (no Authorization), body may
 * be NULL (no body). Returns the status (also in out->status). */
int it_http(it_server *s, const char *method, const char *path, const char *token, const char *body, it_http_resp *out);

/* The demo app's token (POST /{org}/{app}/token), cached; asserts on failure. */
const char *it_app_token(it_server *s);
/* REST call with the app token; asserts the HTTP status equals expect_status and
 * returns the parsed body (caller frees; may be NULL for an empty body). path is a
 * printf format. */
cJSON *it_rest(it_server *s, const char *method, const char *body, int expect_status, const char *pathfmt, ...)
    __attribute__((format(printf, 5, 6)));
/* One request (token and body may be NULL) that must fail: asserts the HTTP status and
 * the error body — its "code" (0: any), "error" name and "error_description" (NULL:
 * any, but present). */
void it_expect_error(it_server *s, const char *method, const char *path, const char *token, const char *body,
                     int status, int code, const char *name, const char *description);
/* Creates users (asserts 200). */
void it_create_user(it_server *s, const char *user);
void it_create_users(it_server *s, const char *const *users); /* NULL-terminated */
/* Creates a group; members NULL-terminated (may be NULL). Asserts 200. */
void it_create_group(it_server *s, const char *groupid, const char *owner, const char *const *members);

/* Mints a token per docs/protocol.md §3 (kind 'u' or 'a'). Returns its length or -1. */
int it_mint_token(char kind, const char *appkey, const char *user, int64_t expiry_s, const char *secret, char *out,
                  size_t outsz);
/* A user token of the demo app valid for an hour. */
void it_user_token(const it_server *s, const char *user, char *out, size_t outsz);

/* ---- WebSocket client ---------------------------------------------------------- */

typedef struct it_ws {
    int fd;
    int port;
    uint8_t *in; /* received bytes not yet parsed into frames */
    size_t in_len, in_cap;
    uint8_t *frag; /* fragmented message under assembly */
    size_t frag_len, frag_cap;
    int frag_op;
    cJSON **q; /* received JSON messages, oldest first */
    size_t q_len, q_cap;
    int eof;        /* TCP closed by the peer (or a read error) */
    int got_close;  /* close frame received */
    int close_code; /* from the close frame (1005 if it had none) */
    int sent_close;
    int writing;    /* a frame write is in progress: control replies are skipped */
    int bad_frames; /* server frames violating RFC 6455 (masked, bad opcode, ...) */
    int non_json;   /* text messages that were not JSON */
    int binary_msgs;
    long pongs;
    int64_t next_id;
    char user[65];
    char session_id[128];
    char cursor[32];        /* from the login response */
    struct it_ws *reg_next; /* harness registry */
} it_ws;

/* Connects and upgrades. subprotocol: the Sec-WebSocket-Protocol header to offer
 * ("tern.v1" if NULL, none if ""). rcvbuf > 0 sets SO_RCVBUF before connecting.
 * Returns NULL if the handshake did not yield a valid 101; *http_status (may be NULL)
 * receives the status seen (-1 for a transport failure). */
it_ws *it_ws_connect_ex(int port, const char *subprotocol, int rcvbuf, int *http_status);
it_ws *it_ws_connect(it_server *s); /* asserts */
void it_ws_free(it_ws *w);          /* closes the socket; NULL is a no-op */

/* Sends one frame. masked = 0 sends an unmasked frame (a protocol violation). Returns
 * 0, or -1 if the socket failed or the write did not finish within IT_WAIT_MS. */
int it_ws_send_frame(it_ws *w, unsigned opcode, const void *payload, size_t n, int fin, int masked);
int it_ws_send_text(it_ws *w, const char *text); /* masked text frame */
int it_ws_send_raw(it_ws *w, const void *bytes, size_t n);

/* Reads whatever arrives within timeout_ms (at most one read) and parses it. Returns 1
 * if bytes arrived, 0 on timeout, -1 if the connection is closed. */
int it_ws_pump(it_ws *w, int timeout_ms);
/* Polls several clients at once and reads from each readable one. Returns the number
 * of clients that received bytes (0 on timeout). */
int it_ws_pump_many(it_ws **ws, int n, int timeout_ms);

/* Sends a request: json is the request object text without "id" (printf format); the
 * harness adds a fresh numeric id. Returns the id, or -1 on a send failure. */
int64_t it_ws_send_req(it_ws *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t it_ws_vsend_req(it_ws *w, const char *fmt, va_list ap);
/* Waits for the response with this id and removes it from the queue (events and other
 * responses stay queued). NULL on timeout or close. */
cJSON *it_ws_wait_response(it_ws *w, int64_t id, int timeout_ms);
/* send_req + wait_response(IT_WAIT_MS). */
cJSON *it_ws_request(it_ws *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Waits for the first queued/arriving event named ev (any event if ev is NULL) and
 * removes it. NULL on timeout or close. */
cJSON *it_ws_wait_event(it_ws *w, const char *ev, int timeout_ms);
/* Waits for the first response whose "re" equals re (any if NULL), regardless of id. */
cJSON *it_ws_wait_re(it_ws *w, const char *re, int timeout_ms);
/* Removes and returns the oldest queued message, waiting up to timeout_ms. */
cJSON *it_ws_next(it_ws *w, int timeout_ms);
/* Number of queued events named ev (any event if NULL) without waiting. */
size_t it_ws_count_events(const it_ws *w, const char *ev);
/* Waits until the server closes the connection. Returns 0 and the close code (from the
 * close frame, or 1006 if the TCP connection ended without one), or -1 on timeout.
 * Received messages stay queued. */
int it_ws_expect_close(it_ws *w, int timeout_ms, int *code);
/* Drops queued messages. */
void it_ws_clear(it_ws *w);

/* Connects and logs in as user (device may be NULL) with a freshly minted token; asserts
 * the login response (code 0, data fields) and the ready event. */
it_ws *it_login(it_server *s, const char *user, const char *device);
/* Logs in on an existing connection (as it_login, asserting). */
void it_login_on(it_server *s, it_ws *w, const char *user, const char *device);
/* Sends one message. conv_type "C2C"/"GROUP"; text is put into payload {"text":...};
 * client_msg_id may be NULL. Returns the whole response (NULL on timeout). */
cJSON *it_send_text(it_ws *w, const char *conv_type, const char *to, const char *text, const char *client_msg_id);
/* Same, asserting code 0; returns the seq and copies msgId into msg_id (may be NULL). */
int64_t it_send_text_ok(it_ws *w, const char *conv_type, const char *to, const char *text, char *msg_id,
                        size_t msg_id_sz);

/* Computes a message's conversation id as seen by user me (docs/protocol.md §6). */
void it_conv_id(const cJSON *msg, const char *me, char *out, size_t outsz);
/* Runs `sync` to the end: starts from cursor and the convs object text (e.g.
 * "{\"C2Calice\":2}" or "{}"), follows more:true with the same cursor and convs updated
 * from the messages received, and appends (duplicates) every message to out (a cJSON
 * array the caller owns). Copies the final cursor into new_cursor (may be NULL).
 * Returns the number of pages, or -1 after printing an error/timeout. */
int it_sync_all(it_ws *w, const char *cursor, const char *convs_json, int limit, cJSON *out, char *new_cursor,
                size_t new_cursor_sz);
/* Compares two decimal msgId strings numerically (<0, 0, >0). */
int it_msgid_cmp(const char *a, const char *b);

/* ---- JSON helpers -------------------------------------------------------------- */

/* Looks up a dotted path ("data.msgId", "data.messages"); NULL if absent. */
const cJSON *it_jget(const cJSON *o, const char *path);
/* String at path or NULL. */
const char *it_jstr(const cJSON *o, const char *path);
/* Number at path; returns dflt if absent or not a number. */
double it_jnum(const cJSON *o, const char *path, double dflt);
/* The response code ("code"), or -1 if absent. */
int it_code(const cJSON *resp);
/* Prints a JSON value for diagnostics into a static buffer (truncated). */
const char *it_jshow(const cJSON *o);

/* Asserts a response exists and has the code, printing it otherwise. */
#define it_assert_code(resp, want)                                                                                     \
    do {                                                                                                               \
        const cJSON *it__r = (resp);                                                                                   \
        if (!it__r)                                                                                                    \
            fail_msg("%s:%d: no response (timeout), wanted code %d", __FILE__, __LINE__, (int)(want));                 \
        if (it_code(it__r) != (want))                                                                                  \
            fail_msg("%s:%d: wanted code %d, got %s", __FILE__, __LINE__, (int)(want), it_jshow(it__r));               \
    } while (0)

/* Runs a cmocka group and returns its failure count. When a test failed, leak checking
 * of this test process is turned off: a failed assertion longjmps past the frees, and
 * those leaks would only bury the real failure (ternd keeps its own checks). */
int it_finish(int failed);
#define it_run_tests(name, tests) it_finish(cmocka_run_group_tests_name(name, tests, NULL, NULL))

/* Monotonic milliseconds. */
int64_t it_now_ms(void);
void it_sleep_ms(int ms);
/* Waits until *flag (an int that other threads change under mu, signalling cv) is at
 * least want, for up to ms milliseconds. Returns 1 if it is, else 0. For SDK tests whose
 * callbacks run on the SDK's thread. */
int it_wait_int(pthread_mutex_t *mu, pthread_cond_t *cv, const int *flag, int want, int ms);

/* A deterministic pseudo-random number (xorshift64) from *state, which must start
 * non-zero: the randomized tests replay the same sequence on every run. */
uint32_t it_rand(uint64_t *state);
/* base64url without padding of in[0..n) into out (NUL-terminated); its length, or -1 if
 * outsz is too small. (Tokens and signed media URLs.) */
int it_b64url(const uint8_t *in, size_t n, char *out, size_t outsz);

#endif
