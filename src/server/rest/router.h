/*
 * router.h — the REST route table and how a request finds its row.
 *
 * A route is declarative: method, path pattern, auth kind, handler, body limit. A
 * pattern is a list of segments, each a literal or a capture: {org} and {app} (the app,
 * resolved by the router), {user} and {group} (identifiers), {conv} (any decoded
 * segment). Patterns that start with /{org}/{app} are the app's routes; the others
 * (/healthz, /metrics, /admin/apps) sit at the root. GET rows answer HEAD as well.
 *
 * rest_route_match (rest/match.c) is pure (no server, no connection) so test_router.c can
 * drive it; rest/router.c applies the outcome in this order (docs/rest-api.md):
 *  1. an undecodable path, or an unknown one that neither starts like a root row nor
 *     has the three segments of an app path → 404 1009;
 *  2. below /{org}/{app}: an unknown app → 404 1103;
 *  3. authentication, by the auth kind of the path's rows (an unknown path: of the root
 *     rows it starts like, else the app token) → 401/403;
 *  4. a capture that is not an identifier → 404 1103/20003/10010, even with more path
 *     behind it;
 *  5. an unknown path → 404 1009;
 *  6. a method the path does not have → 405 1010 with Allow;
 *  7. a body over the route's limit → 413.
 * This is the order the hand-written router of http_api.c had, except that a root
 * path (/healthz, /metrics) now answers 405 to other methods.
 */
#ifndef TERN_REST_ROUTER_H
#define TERN_REST_ROUTER_H
#include "conn.h"
#include "rest/rest.h"

typedef enum rest_auth {
    REST_AUTH_NONE = 0,
    REST_AUTH_ADMIN,     /* Bearer <admin token> */
    REST_AUTH_APP,       /* Bearer <app token> of the path's app */
    REST_AUTH_APP_CREDS, /* client id and secret in the body (the token endpoint) */
    REST_AUTH_APP_USER,  /* Bearer <app token> or <user token> of the path's app (media) */
    REST_AUTH_MEDIA      /* the handler decides (rest/media_auth.c): a token as APP_USER, a
                          * signed URL, or the media's share-secret; the router checks none */
} rest_auth;

typedef struct rest_route {
    int method;          /* HTTP_M_*; a GET row also answers HEAD */
    const char *pattern; /* "/{org}/{app}/users/{user}" */
    rest_auth auth;
    rest_handler fn;
    size_t body_limit; /* bytes, a larger body gets 413; REST_BODY_JSON: --max-http-body */
    /* Optional: a route whose body streams (media uploads). Called at the head, after
     * the router's checks 1-6 passed, before any body byte is read (rest.h). */
    rest_head_handler head;
} rest_route;

/* The body limit of JSON routes: the server's --max-http-body (1 MiB by default). */
#define REST_BODY_JSON 0

#define REST_MAX_SEGS 8

/* What a path and method found in a table. */
typedef struct rest_match {
    const rest_route *route;      /* the row for method and path, or NULL */
    const rest_route *path_route; /* the first row whose pattern fits the path, or NULL */
    const rest_route *root_route; /* no path_route: the first root row whose first segment the path shares */
    int app_scoped;               /* the path lies below /{org}/{app} (at least 3 segments) */
    int bad_capture;              /* the code of the first invalid capture (1103, 20003, 10010), or 0 */
    char allow[64];               /* the methods of path_route's pattern, "GET, HEAD, POST" */
    char org[130], app[130];      /* the first two segments when app_scoped */
    char user[65], group[65], conv[130];
} rest_match;

/* Matches method and path (raw, percent-encoded, without the query) against table[0..n).
 * Returns TERN_OK (out->route set), TERN_ERR_NOT_FOUND (undecodable path, more than
 * REST_MAX_SEGS segments, or no pattern fits), TERN_ERR_METHOD (out->allow set), or
 * out->bad_capture. out is always filled as far as the path allowed. */
int rest_route_match(const rest_route *table, size_t n, int method, tern_str path, rest_match *out);

/* The table ternd serves (rest/routes.c). */
extern const rest_route rest_routes[];
extern const size_t rest_nroutes;

/* The body limit of the route for method and path; json_limit (--max-http-body) for
 * JSON routes and when no route fits. For the network layer, to refuse a body with 413
 * before reading it. */
size_t rest_body_limit(int method, tern_str path, size_t json_limit);

/* ---- the entry from the network layer (router.c) -------------------------------------- */

/* Handles one complete HTTP request m on c (not an upgrade), on c's loop thread, in the
 * order above. Returns 0 when the response is written, 1 when it will be written later
 * (an asynchronous store operation; the connection reads no further request until then). */
int http_handle(conn *c, const http_msg *m);

/* The head of a request with a body (net.h's http_head): for a route with a head
 * handler, runs the checks 1-6 above (answering a failure, NET_BODY_REFUSED) and then
 * the handler, which picks the mode and *limit; every other request keeps
 * rest_body_limit and NET_BODY_WHOLE. */
int rest_http_head(conn *c, const http_msg *m, size_t *limit);
/* A piece of a streamed body (net.h's http_body): to the sink the head handler
 * attached (rest_body_attach). NET_BODY_MORE or NET_BODY_PAUSE. */
int rest_http_body(conn *c, const char *p, size_t n);
/* The connection closes: a sink still attached hears `gone` and is freed. */
void rest_http_closed(conn *c);

#endif
