/*
 * rest.c — tern-bench's setup over the REST API (docs/rest-api.md): a small blocking
 * HTTP/1.1 client with keep-alive over a plain socket (the core HTTP parser reads the
 * responses), used before any WebSocket connects to get an app token, create the run's
 * users in batches of 60 and create the fan-out groups. Setup speed does not matter to
 * the figures, so simplicity wins here; the hot path is in client.c.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/json.h"

#define USERS_PER_BATCH 60
#define MEMBERS_PER_CALL 60

typedef struct rest {
    const bench_cfg *cfg;
    int fd;
    http_parser *p;
    char token[1024];
} rest;

static void rest_close(rest *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

int bench_connect(const struct sockaddr_storage *addr, int nodelay)
{
    const struct sockaddr *sa = (const struct sockaddr *)addr;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 60, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    if (nodelay)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, sa, len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int rest_connect(rest *r)
{
    r->fd = bench_connect(&r->cfg->addr, 1);
    return r->fd >= 0 ? 0 : -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One request/response. Returns 0 with *status and the body in resp, or -1 on a
 * transport failure (message printed). A keep-alive connection the server closed in
 * the meantime is reopened once. */
static int rest_call(rest *r, const char *method, const char *path, const char *body, size_t blen, int auth,
                     int *status, tern_buf *resp)
{
    tern_buf req;
    tern_buf_init(&req, 0);
    tern_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n",
                    method, path, r->cfg->hostport, blen);
    if (auth)
        tern_buf_printf(&req, "Authorization: Bearer %s\r\n", r->token);
    tern_buf_puts(&req, "\r\n");
    if (blen)
        tern_buf_append(&req, body, blen);

    int rc = -1;
    char *in = tern_malloc(65536);
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        int reused = r->fd >= 0;
        if (r->fd < 0 && rest_connect(r) < 0) {
            fprintf(stderr, "tern-bench: connect %s: %s\n", r->cfg->hostport, strerror(errno));
            break;
        }
        http_parser_next(r->p);
        if (send_all(r->fd, req.data, req.len) < 0) {
            rest_close(r);
            if (reused)
                continue;
            fprintf(stderr, "tern-bench: send %s %s: %s\n", method, path, strerror(errno));
            break;
        }
        size_t got_total = 0;
        for (;;) {
            ssize_t n = recv(r->fd, in, 65536, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                int e = n < 0 ? errno : 0;
                rest_close(r);
                if (reused && got_total == 0 && e != EAGAIN)
                    break; /* retry on a fresh connection */
                fprintf(stderr, "tern-bench: %s %s: %s\n", method, path,
                        n == 0 ? "connection closed before the response" : strerror(e));
                attempt = 2;
                break;
            }
            got_total += (size_t)n;
            size_t used = 0;
            int st = http_parser_feed(r->p, in, (size_t)n, &used);
            if (st == HTTP_NEED_MORE)
                continue;
            if (st != HTTP_COMPLETE) {
                fprintf(stderr, "tern-bench: %s %s: unparsable HTTP response (%d)\n", method, path, st);
                rest_close(r);
                attempt = 2;
                break;
            }
            const http_msg *m = http_parser_msg(r->p);
            *status = m->status;
            tern_buf_reset(resp);
            tern_buf_append(resp, m->body.data ? m->body.data : "", m->body.len);
            if (!m->keep_alive)
                rest_close(r);
            rc = 0;
            break;
        }
    }
    tern_free(in);
    tern_buf_free(&req);
    return rc;
}

static int rest_open(rest *r, const bench_cfg *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->fd = -1;
    r->p = http_parser_new(0, 64u << 20);
    return r->p ? 0 : -1;
}

static void rest_free(rest *r)
{
    rest_close(r);
    http_parser_free(r->p);
}

static int get_app_token(rest *r)
{
    const bench_cfg *cfg = r->cfg;
    tern_buf body, resp, path;
    tern_buf_init(&body, 0);
    tern_buf_init(&resp, 0);
    tern_buf_init(&path, 0);
    tern_buf_puts(&body, "{\"grant_type\":\"client_credentials\",\"client_id\":");
    tern_buf_json_str(&body, cfg->client_id, strlen(cfg->client_id));
    tern_buf_puts(&body, ",\"client_secret\":");
    tern_buf_json_str(&body, cfg->secret, strlen(cfg->secret));
    tern_buf_puts(&body, ",\"ttl\":86400}");
    tern_buf_printf(&path, "/%s/%s/token", cfg->org, cfg->app);
    int status = 0, rc = -1;
    if (rest_call(r, "POST", path.data, body.data, body.len, 0, &status, &resp) < 0)
        goto out;
    if (status != 200) {
        fprintf(stderr, "tern-bench: app token: HTTP %d %.*s\n", status, (int)resp.len, resp.data ? resp.data : "");
        goto out;
    }
    cJSON *j = NULL;
    tern_json_parse(resp.data, resp.len, &j);
    tern_str t;
    if (tern_json_get_str(j, "access_token", &t) == TERN_JSON_OK && t.n < sizeof r->token) {
        snprintf(r->token, sizeof r->token, "%s", t.p);
        rc = 0;
    } else {
        fprintf(stderr, "tern-bench: app token: no access_token in %.*s\n", (int)resp.len, resp.data);
    }
    cJSON_Delete(j);
out:
    tern_buf_free(&body);
    tern_buf_free(&resp);
    tern_buf_free(&path);
    return rc;
}

/* POST with an acceptable-status check; "already exists" is fine for creations: 1011,
 * HTTP 400 since issue 8 (Easemob's duplicate_unique_property_exists), 409 before. A 429
 * (an app's request rate limit) is waited out and retried, for a while. */
static int post_ok(rest *r, const char *path, const tern_buf *body, const char *what)
{
    static const char exists[] = "\"code\":1011";
    tern_buf resp;
    tern_buf_init(&resp, 0);
    int status = 0;
    int rc = rest_call(r, "POST", path, body->data, body->len, 1, &status, &resp);
    for (int tries = 0; rc == 0 && status == 429 && tries < 50; tries++) {
        usleep(200000);
        rc = rest_call(r, "POST", path, body->data, body->len, 1, &status, &resp);
    }
    int dup =
        status == 409 || (status == 400 && resp.data && memmem(resp.data, resp.len, exists, sizeof exists - 1) != NULL);
    if (rc == 0 && status != 200 && status != 201 && !dup) {
        fprintf(stderr, "tern-bench: %s: HTTP %d %.*s\n", what, status, (int)(resp.len > 400 ? 400 : resp.len),
                resp.data ? resp.data : "");
        rc = -1;
    }
    tern_buf_free(&resp);
    return rc;
}

static int create_users(rest *r, bench *b)
{
    tern_buf body, path;
    tern_buf_init(&body, 0);
    tern_buf_init(&path, 0);
    tern_buf_printf(&path, "/%s/%s/users", r->cfg->org, r->cfg->app);
    int rc = 0;
    for (int i = 0; i < b->nconns && rc == 0; i += USERS_PER_BATCH) {
        tern_buf_reset(&body);
        tern_buf_putc(&body, '[');
        for (int k = i; k < b->nconns && k < i + USERS_PER_BATCH; k++) {
            if (k > i)
                tern_buf_putc(&body, ',');
            tern_buf_puts(&body, "{\"username\":");
            tern_buf_json_str(&body, b->conns[k].user, strlen(b->conns[k].user));
            tern_buf_putc(&body, '}');
        }
        tern_buf_putc(&body, ']');
        rc = post_ok(r, path.data, &body, "create users");
    }
    tern_buf_free(&body);
    tern_buf_free(&path);
    return rc;
}

/* Creates group gid of app `app` with owner and the users of b->conns[idx[0..n)]: up to
 * 59 members in the creating call, the rest in batches through the members endpoint. */
static int post_group(rest *r, const bench *b, const char *app, const char *gid, const char *owner, const int *idx,
                      int n)
{
    const bench_cfg *cfg = &b->cfg;
    tern_buf body, path;
    tern_buf_init(&body, 0);
    tern_buf_init(&path, 0);
    tern_buf_puts(&body, "{\"groupid\":");
    tern_buf_json_str(&body, gid, strlen(gid));
    tern_buf_puts(&body, ",\"groupname\":");
    tern_buf_json_str(&body, gid, strlen(gid));
    tern_buf_puts(&body, ",\"owner\":");
    tern_buf_json_str(&body, owner, strlen(owner));
    /* Easemob's default maxusers is 200; a bench group may be larger (owner + n). */
    tern_buf_printf(&body, ",\"maxusers\":%d,\"members\":[", n + 1 > 200 ? n + 1 : 200);
    int k = 0;
    for (; k < n && k < MEMBERS_PER_CALL - 1; k++) {
        if (k)
            tern_buf_putc(&body, ',');
        const char *u = b->conns[idx[k]].user;
        tern_buf_json_str(&body, u, strlen(u));
    }
    tern_buf_puts(&body, "]}");
    tern_buf_printf(&path, "/%s/%s/chatgroups", cfg->org, app);
    int rc = post_ok(r, path.data, &body, "create group");
    while (rc == 0 && k < n) {
        tern_buf_reset(&body);
        tern_buf_puts(&body, "{\"usernames\":[");
        for (int first = k; k < n && k < first + MEMBERS_PER_CALL; k++) {
            if (k > first)
                tern_buf_putc(&body, ',');
            const char *u = b->conns[idx[k]].user;
            tern_buf_json_str(&body, u, strlen(u));
        }
        tern_buf_puts(&body, "]}");
        tern_buf_reset(&path);
        tern_buf_printf(&path, "/%s/%s/chatgroups/%s/users", cfg->org, app, gid);
        rc = post_ok(r, path.data, &body, "add group members");
    }
    tern_buf_free(&body);
    tern_buf_free(&path);
    return rc;
}

static int create_groups(rest *r, bench *b)
{
    const bench_cfg *cfg = &b->cfg;
    int G = cfg->groups;
    /* Bucket the connections by group. */
    int *count = tern_calloc((size_t)G, sizeof *count);
    int **members = tern_calloc((size_t)G, sizeof *members);
    for (int i = 0; i < b->nconns; i++)
        if (b->conns[i].group >= 0)
            count[b->conns[i].group]++;
    for (int g = 0; g < G; g++) {
        members[g] = tern_calloc((size_t)count[g] + 1, sizeof **members);
        count[g] = 0;
    }
    for (int i = 0; i < b->nconns; i++) {
        int g = b->conns[i].group;
        if (g >= 0)
            members[g][count[g]++] = i;
    }

    int rc = 0;
    char gid[80];
    for (int g = 0; g < G && rc == 0; g++) {
        if (!count[g])
            continue;
        plan_group_id(cfg, g, gid, sizeof gid);
        rc = post_group(r, b, cfg->app, gid, b->conns[members[g][0]].user, members[g] + 1, count[g] - 1);
    }
    for (int g = 0; g < G; g++)
        tern_free(members[g]);
    tern_free(members);
    tern_free(count);
    return rc;
}

int rest_setup(bench *b)
{
    rest r;
    if (rest_open(&r, &b->cfg) < 0)
        return -1;
    int rc = get_app_token(&r);
    if (rc == 0)
        rc = create_users(&r, b);
    if (rc == 0 && (b->cfg.workload == W_FANOUT || b->cfg.workload == W_MEDIA))
        rc = create_groups(&r, b);
    rest_free(&r);
    return rc;
}

int rest_load_app_file(bench_cfg *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tern-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *j = NULL;
    tern_json_parse(buf, n, &j);
    const char *keys[4] = {"org", "app", "client_id", "client_secret"};
    char *dst[4] = {cfg->org, cfg->app, cfg->client_id, cfg->secret};
    size_t cap[4] = {sizeof cfg->org, sizeof cfg->app, sizeof cfg->client_id, sizeof cfg->secret};
    int rc = j ? 0 : -1;
    for (int i = 0; i < 4 && rc == 0; i++) {
        tern_str v;
        if (tern_json_get_str(j, keys[i], &v) != TERN_JSON_OK || v.n >= cap[i]) {
            rc = -1;
            break;
        }
        snprintf(dst[i], cap[i], "%s", v.p);
    }
    cJSON_Delete(j);
    if (rc < 0)
        fprintf(stderr, "tern-bench: %s: expected {\"org\",\"app\",\"client_id\",\"client_secret\"}\n", path);
    return rc;
}

/* ---- the stream workload's apps --------------------------------------------------------- */

/* POST /admin/apps for a->app; fills client_id and secret. */
static int create_app(rest *r, const char *admin_token, bapp *a)
{
    const bench_cfg *cfg = r->cfg;
    tern_buf body, resp;
    tern_buf_init(&body, 0);
    tern_buf_init(&resp, 0);
    tern_buf_puts(&body, "{\"org\":");
    tern_buf_json_str(&body, cfg->org, strlen(cfg->org));
    tern_buf_puts(&body, ",\"app\":");
    tern_buf_json_str(&body, a->app, strlen(a->app));
    tern_buf_putc(&body, '}');
    snprintf(r->token, sizeof r->token, "%s", admin_token);
    int status = 0, rc = rest_call(r, "POST", "/admin/apps", body.data, body.len, 1, &status, &resp);
    cJSON *j = NULL;
    if (rc == 0 && status == 200)
        tern_json_parse(resp.data, resp.len, &j);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    tern_str id, sec;
    if (tern_json_get_str(d, "client_id", &id) == TERN_JSON_OK && id.n < sizeof a->client_id &&
        tern_json_get_str(d, "client_secret", &sec) == TERN_JSON_OK && sec.n < sizeof a->secret) {
        snprintf(a->client_id, sizeof a->client_id, "%s", id.p);
        snprintf(a->secret, sizeof a->secret, "%s", sec.p);
        snprintf(a->appkey, sizeof a->appkey, "%s/%s", cfg->org, a->app);
    } else {
        fprintf(stderr, "tern-bench: create app %s: HTTP %d %.*s\n", a->app, status,
                (int)(resp.len > 300 ? 300 : resp.len), resp.data ? resp.data : "");
        rc = -1;
    }
    cJSON_Delete(j);
    tern_buf_free(&body);
    tern_buf_free(&resp);
    return rc;
}

/* Users of app ai (its members and its bot) and its groups (owner: the bot). */
static int setup_app(rest *r, bench *b, int ai)
{
    const bench_cfg *cfg = &b->cfg;
    char bot[80], gid[80];
    snprintf(bot, sizeof bot, "%sbot", cfg->prefix);
    tern_buf body, path;
    tern_buf_init(&body, 0);
    tern_buf_init(&path, 0);
    tern_buf_printf(&path, "/%s/%s/users", cfg->org, b->apps[ai].app);
    int rc = 0, n = 0;
    for (int k = 0; k <= b->nconns && rc == 0; k++) {
        if (k < b->nconns && b->conns[k].app != ai)
            continue;
        if (n == 0)
            tern_buf_puts(&body, "[");
        else
            tern_buf_putc(&body, ',');
        const char *u = k < b->nconns ? b->conns[k].user : bot;
        tern_buf_puts(&body, "{\"username\":");
        tern_buf_json_str(&body, u, strlen(u));
        tern_buf_putc(&body, '}');
        if (++n == USERS_PER_BATCH || k == b->nconns) {
            tern_buf_putc(&body, ']');
            rc = post_ok(r, path.data, &body, "create users");
            tern_buf_reset(&body);
            n = 0;
        }
    }
    tern_buf_free(&body);
    tern_buf_free(&path);
    int M = cfg->members;
    int *idx = tern_calloc((size_t)M, sizeof *idx);
    for (int g = ai; g < cfg->streams && rc == 0; g += b->napps) {
        plan_group_id(cfg, g, gid, sizeof gid);
        for (int m = 0; m < M; m++)
            idx[m] = g * M + m;
        rc = post_group(r, b, b->apps[ai].app, gid, bot, idx, M);
    }
    tern_free(idx);
    return rc;
}

int rest_setup_stream(bench *b)
{
    rest r;
    if (rest_open(&r, &b->cfg) < 0)
        return -1;
    int rc = 0;
    for (int a = 0; a < b->napps && rc == 0; a++) {
        bapp *ap = &b->apps[a];
        rc = create_app(&r, b->cfg.admin_token, ap);
        if (rc < 0)
            break;
        /* The app token, through the same code as the configured app's. */
        bench_cfg one = b->cfg;
        snprintf(one.app, sizeof one.app, "%s", ap->app);
        snprintf(one.client_id, sizeof one.client_id, "%s", ap->client_id);
        snprintf(one.secret, sizeof one.secret, "%s", ap->secret);
        r.cfg = &one;
        rc = get_app_token(&r);
        r.cfg = &b->cfg;
        if (rc == 0) {
            snprintf(ap->token, sizeof ap->token, "%s", r.token);
            rc = setup_app(&r, b, a);
        }
    }
    rest_free(&r);
    return rc;
}
