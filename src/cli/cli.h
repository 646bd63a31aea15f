/*
 * cli.h — shared state of the `tern` command-line client: parsed options, and the
 * helpers its commands use (REST calls with libcurl in rest.c, libtern sessions in
 * chat.c / wscmd.c, usage texts in main.c).
 */
#ifndef TERN_CLI_H
#define TERN_CLI_H
#include <stddef.h>

#include <cjson/cJSON.h>

#define CLI_MAX_POS 64

typedef struct cli_opts {
    /* global */
    const char *server, *app, *user, *token, *client_id, *client_secret, *app_token, *admin_token;
    const char *device;
    const char *ca_file; /* https/wss: CA bundle to trust instead of the system's */
    int verbose;
    int help;
    /* command options */
    const char *to, *group, *text, *custom_data, *client_msg_id, *priority;
    const char *conv, *nickname, *cursor, *secret, *id, *name, *owner, *members;
    long count, limit, ttl;
    double timeout;
    long long before;
    int online_only;
    /* positionals: command, subcommand, arguments */
    const char *pos[CLI_MAX_POS];
    int npos;
} cli_opts;

/* Prints "error CODE: message" to stderr. */
void cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Server URLs derived from --server: REST base "http://host:port" (no trailing slash)
 * and WebSocket "ws://host:port/ws". Return 0 or -1 (unsupported scheme). */
int cli_rest_base(const cli_opts *o, char *out, size_t outsz);
int cli_ws_url(const cli_opts *o, char *out, size_t outsz);

/* REST: performs method path (appended to the REST base) with an optional JSON body
 * and bearer token. On HTTP 2xx stores the parsed response in *out and returns 0; else
 * prints the error ("error CODE: description") and returns -1. */
int rest_call(const cli_opts *o, const char *method, const char *path, const char *body, const char *bearer,
              cJSON **out);
/* The app token for /{org}/{app} calls: --app-token, or minted from --client-secret
 * (locally) or --client-id + --client-secret (POST /{org}/{app}/token). Returns a heap
 * string (free()) or NULL after printing an error. */
char *cli_app_token(const cli_opts *o);
/* A user token for WebSocket commands: --token, or minted locally with --secret, or
 * fetched with app credentials. Heap string or NULL after printing an error. */
char *cli_user_token(const cli_opts *o, const char *user);

/* Commands; each returns the process exit code. */
int cmd_rest(cli_opts *o); /* users, token, groups, apps */
int cmd_send(cli_opts *o);
int cmd_listen(cli_opts *o);
int cmd_history(cli_opts *o);
int cmd_conversations(cli_opts *o);
int cmd_chat(cli_opts *o);

/* Usage text of a command (NULL: the overview). Returns 0 if known. */
int cli_usage(const char *cmd, const char *sub);

#endif
