/*
 * fuzz_router.c — libFuzzer harness for the REST router's path matching
 * (rest/router.c, rest_route_match) against the real route table.
 *
 * The first byte picks the method, the rest is the raw path (percent-encoded, any
 * bytes). Matching must never read past the path, and what it reports must hold
 * together: a found route has the method asked (GET for HEAD) and a pattern that fits;
 * a 405 names the methods of a known path; the user and group captures are
 * identifiers; a path below an app names its org and app.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "rest/router.h"

static const int methods[] = {HTTP_M_GET, HTTP_M_POST, HTTP_M_PUT, HTTP_M_DELETE, HTTP_M_HEAD, HTTP_M_PATCH};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    size_t n = size - 1;
    /* An exactly sized copy, so ASan sees any read past the path. */
    char *p = tern_malloc(n ? n : 1);
    if (n)
        memcpy(p, data + 1, n);
    tern_str path = {p, n};
    rest_match m;
    int rc = rest_route_match(rest_routes, rest_nroutes, method, path, &m);
    if (rc == TERN_OK) {
        if (!m.route || m.route->method != (method == HTTP_M_HEAD ? HTTP_M_GET : method) || !m.path_route ||
            strcmp(m.route->pattern, m.path_route->pattern) != 0)
            abort();
    } else if (rc == TERN_ERR_METHOD) {
        if (m.route || !m.path_route || !m.allow[0])
            abort();
    } else if (rc != TERN_ERR_NOT_FOUND && rc != TERN_ERR_USER_NOT_FOUND && rc != TERN_ERR_GROUP_NOT_FOUND &&
               rc != TERN_ERR_APP_NOT_FOUND) {
        abort();
    }
    if ((m.user[0] && !tern_ident_valid(m.user, strlen(m.user))) ||
        (m.group[0] && !tern_ident_valid(m.group, strlen(m.group))))
        abort();
    if (m.app_scoped && (!m.org[0] || !m.app[0]))
        abort();
    (void)rest_body_limit(method, path, 1 << 20);
    tern_free(p);
    return 0;
}
