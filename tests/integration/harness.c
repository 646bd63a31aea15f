/*
 * harness.c — the integration-test harness (see harness.h): ternd process control, a
 * one-shot HTTP/1.1 client, a blocking WebSocket client with a response/event queue,
 * token minting per docs/protocol.md §3, and JSON lookup helpers.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- small utilities ------------------------------------------------------------ */

uint32_t it_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (uint32_t)(x >> 11);
}

int64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int it_wait_int(pthread_mutex_t *mu, pthread_cond_t *cv, const int *flag, int want, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(mu);
    while (*flag < want)
        if (pthread_cond_timedwait(cv, mu, &ts) != 0)
            break;
    int ok = *flag >= want;
    pthread_mutex_unlock(mu);
    return ok;
}

static int remaining(int64_t deadline)
{
    int64_t r = deadline - it_now_ms();
    return r < 0 ? 0 : (int)r;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return q;
}

static uint64_t rng_state;

static uint32_t rnd32(void)
{
    if (!rng_state)
        rng_state = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9E3779B97F4A7C15ULL;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int tests_failed;

int it_finish(int failed)
{
    tests_failed = failed;
    return failed;
}

/* LeakSanitizer asks this before its exit check (see it_finish). */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return tests_failed > 0;
}

/* ---- process registry and watchdog --------------------------------------------- */

#define MAX_SERVERS 16
static it_server *servers[MAX_SERVERS];
static it_ws *ws_registry;

static void register_server(it_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (!servers[i]) {
            servers[i] = s;
            return;
        }
}

static void unregister_server(it_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (servers[i] == s)
            servers[i] = NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "\nharness: WATCHDOG FIRED — test exceeded its time budget; killing ternd\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    for (int i = 0; i < MAX_SERVERS; i++)
        if (servers[i] && servers[i]->pid > 0)
            kill(servers[i]->pid, SIGKILL);
    _exit(3);
}

int it_run_capture(const char *cmd, char *out, size_t outsz)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t got = fread(out, 1, outsz - 1, p);
    out[got] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void it_watchdog(unsigned seconds)
{
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    alarm(seconds);
}

/* ---- ternd processes ------------------------------------------------------------ */

static int read_file(const char *path, char *out, size_t outsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < outsz) {
        ssize_t r = read(fd, out + n, outsz - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    out[n] = 0;
    return (int)n;
}

static int spawn(it_server *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ternd.port", s->dir);
    unlink(path); /* a restart must not read the previous run's port */
    char logpath[512];
    snprintf(logpath, sizeof logpath, "%s/ternd.log", s->dir);

    char *argv[IT_MAX_ARGS + 16];
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->fixed_port > 0 ? s->fixed_port : 0);
    int a = 0;
    argv[a++] = s->bin;
    argv[a++] = "--listen";
    argv[a++] = listen;
    argv[a++] = "--data";
    argv[a++] = s->dir;
    argv[a++] = "--threads";
    argv[a++] = "2";
    argv[a++] = "--log-level";
    argv[a++] = "warn";
    for (int i = 0; i < s->nargs; i++)
        argv[a++] = s->args[i];
    argv[a] = NULL;

    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("harness: fork");
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2)
                close(fd);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            if (nul > 2)
                close(nul);
        }
        for (int i = 3; i < 1024; i++)
            close(i);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        execv(s->bin, argv);
        _exit(127);
    }
    s->pid = pid;
    s->port = 0;
    s->starts++;
    s->app_token[0] = 0;

    /* Wait for the port file (complete: ends with a newline) and /healthz 200. */
    int64_t deadline = it_now_ms() + 30000;
    int healthy = 0;
    while (!healthy && it_now_ms() < deadline) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            s->pid = 0;
            s->last_status = st;
            fprintf(stderr, "harness: ternd exited during startup (status 0x%x); log:\n", st);
            it_server_dump_log(s);
            return -1;
        }
        char buf[64];
        if (!s->port && read_file(path, buf, sizeof buf) > 0 && strchr(buf, '\n')) {
            int p = atoi(buf);
            if (p > 0 && p < 65536)
                s->port = p;
        }
        if (s->port) {
            it_http_resp hr;
            int stc = it_http(s, "GET", "/healthz", NULL, NULL, &hr);
            it_http_resp_free(&hr);
            healthy = stc == 200;
        }
        if (!healthy)
            it_sleep_ms(20);
    }
    if (!healthy) {
        fprintf(stderr, "harness: ternd did not become healthy within 30 s (port %d); log:\n", s->port);
        it_server_dump_log(s);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
        return -1;
    }

    /* Demo app credentials and the admin token. */
    char json[2048];
    snprintf(path, sizeof path, "%s/demo-app.json", s->dir);
    if (read_file(path, json, sizeof json) <= 0) {
        fprintf(stderr, "harness: cannot read %s\n", path);
        return -1;
    }
    cJSON *j = cJSON_Parse(json);
    const char *org = it_jstr(j, "org"), *app = it_jstr(j, "app");
    const char *cid = it_jstr(j, "client_id"), *sec = it_jstr(j, "client_secret");
    if (!org || !app || !cid || !sec) {
        fprintf(stderr, "harness: demo-app.json lacks fields: %s\n", json);
        cJSON_Delete(j);
        return -1;
    }
    snprintf(s->org, sizeof s->org, "%s", org);
    snprintf(s->app, sizeof s->app, "%s", app);
    snprintf(s->client_id, sizeof s->client_id, "%s", cid);
    snprintf(s->client_secret, sizeof s->client_secret, "%s", sec);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/admin.token", s->dir);
    if (read_file(path, s->admin_token, sizeof s->admin_token) > 0)
        s->admin_token[strcspn(s->admin_token, "\r\n")] = 0;
    return 0;
}

it_server *it_server_new(const char *const *extra_args)
{
    signal(SIGPIPE, SIG_IGN);
    const char *bin = getenv("TERND");
    if (!bin || !*bin) {
        fprintf(stderr, "harness: TERND is not set (ctest sets it to the ternd binary)\n");
        return NULL;
    }
    it_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->bin, sizeof s->bin, "%s", bin);
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/tern-it-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        perror("harness: mkdtemp");
        free(s);
        return NULL;
    }
    for (int i = 0; extra_args && extra_args[i] && s->nargs < IT_MAX_ARGS; i++)
        s->args[s->nargs++] = strdup(extra_args[i]);
    register_server(s);
    if (spawn(s) != 0) {
        it_server_free(s);
        return NULL;
    }
    return s;
}

int it_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0)
            n += S_ISDIR(st.st_mode) ? it_count_files(p) : 1;
    }
    closedir(d);
    return n;
}

int it_server_restart(it_server *s)
{
    if (s->pid > 0) {
        fprintf(stderr, "harness: restart of a running server\n");
        return -1;
    }
    return spawn(s);
}

int it_server_restart_same_port(it_server *s)
{
    if (s->pid > 0 || s->port <= 0) {
        fprintf(stderr, "harness: restart on the same port needs a stopped server that had a port\n");
        return -1;
    }
    s->fixed_port = s->port;
    int rc = spawn(s);
    s->fixed_port = 0;
    return rc;
}

int it_server_stop(it_server *s, int timeout_ms, int *status)
{
    if (s->pid <= 0) {
        if (status)
            *status = s->last_status;
        return 0;
    }
    kill(s->pid, SIGTERM);
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            s->last_status = st;
            if (status)
                *status = st;
            return 0;
        }
        if (it_now_ms() >= deadline)
            break;
        it_sleep_ms(10);
    }
    fprintf(stderr, "harness: ternd did not exit within %d ms of SIGTERM; its threads, then killing it\n",
            timeout_ms);
    /* Where it is stuck, for the log of a rare CI failure: every thread's stack (gdb is in
     * the test dependencies; without it, nothing). */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "timeout 60 gdb -p %d -batch -nx -ex 'thread apply all bt' 1>&2 2>/dev/null", (int)s->pid);
    if (system(cmd) != 0)
        fprintf(stderr, "harness: (no stacks: gdb missing or failed)\n");
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &s->last_status, 0);
    s->pid = 0;
    return -1;
}

void it_server_signal(it_server *s, int sig)
{
    if (s->pid > 0)
        kill(s->pid, sig);
}

int it_server_wait(it_server *s, int timeout_ms, int *status)
{
    if (s->pid <= 0) {
        if (status)
            *status = s->last_status;
        return 0;
    }
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            s->last_status = st;
            if (status)
                *status = st;
            return 0;
        }
        if (it_now_ms() >= deadline)
            return -1;
        it_sleep_ms(10);
    }
}

void it_server_kill9(it_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &s->last_status, 0);
    s->pid = 0;
}

int it_server_alive(it_server *s)
{
    if (s->pid <= 0)
        return 0;
    int st;
    pid_t r = waitpid(s->pid, &st, WNOHANG);
    if (r == s->pid) {
        s->pid = 0;
        s->last_status = st;
        return 0;
    }
    return 1;
}

long it_server_rss_kb(const it_server *s)
{
    if (s->pid <= 0)
        return -1;
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    if (read_file(path, buf, sizeof buf) <= 0)
        return -1;
    const char *p = strstr(buf, "VmRSS:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

void it_server_dump_log(const it_server *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ternd.log", s->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[2048];
    int n = 0;
    fprintf(stderr, "----- ternd log (%s) -----\n", path);
    while (fgets(line, sizeof line, f) && n++ < 400)
        fputs(line, stderr);
    fprintf(stderr, "----- end of ternd log -----\n");
    fclose(f);
}

int it_server_log_has_sanitizer_report(const it_server *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ternd.log", s->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "Sanitizer") != NULL || strstr(line, "runtime error:") != NULL;
    fclose(f);
    return found;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int it_server_free(it_server *s)
{
    if (!s)
        return 0;
    while (ws_registry)
        it_ws_free(ws_registry);
    int rc = 0, st = 0;
    int was_running = s->pid > 0;
    if (was_running) {
        if (!it_server_alive(s)) {
            fprintf(stderr, "harness: ternd had died before teardown (status 0x%x)\n", s->last_status);
            rc = -1;
        } else if (it_server_stop(s, 10000, &st) != 0) {
            rc = -1;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "harness: ternd exited with status 0x%x on SIGTERM\n", st);
            rc = -1;
        }
    }
    if (it_server_log_has_sanitizer_report(s)) {
        fprintf(stderr, "harness: sanitizer report in the ternd log\n");
        rc = -1;
    }
    if (rc != 0)
        it_server_dump_log(s);
    nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    unregister_server(s);
    for (int i = 0; i < s->nargs; i++)
        free(s->args[i]);
    free(s);
    return rc;
}

int it_setup_default(void **state)
{
    it_watchdog(120);
    it_server *s = it_server_new(NULL);
    *state = s;
    return s ? 0 : -1;
}

int it_teardown_default(void **state)
{
    int rc = it_server_free(*state);
    *state = NULL;
    alarm(0);
    return rc;
}

/* ---- sockets -------------------------------------------------------------------- */

static int tcp_connect(int port, int rcvbuf, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return -1;
        }
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, timeout_ms) != 1) {
            close(fd);
            return -1;
        }
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* Writes all of p[0..n) within the deadline. If drain is not NULL, incoming bytes are
 * read into it while waiting for POLLOUT so both sides can't block on full buffers.
 * Returns 0, or -1 on error/timeout. */
static int write_all(int fd, const void *p, size_t n, int64_t deadline, it_ws *drain);

/* ---- HTTP ----------------------------------------------------------------------- */

void it_http_resp_free(it_http_resp *r)
{
    if (!r)
        return;
    free(r->head);
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
    r->status = -1;
}

static const char *find_header(const char *head, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = strstr(head, "\r\n");
    while (p && p[2]) {
        p += 2;
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = eol;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *vlen = (size_t)(e - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

/* Decodes a chunked body in place; returns the decoded length or -1 if incomplete. */
static long dechunk(char *b, size_t n)
{
    size_t r = 0, w = 0;
    for (;;) {
        char *eol = memmem(b + r, n - r, "\r\n", 2);
        if (!eol)
            return -1;
        unsigned long sz = strtoul(b + r, NULL, 16);
        r = (size_t)(eol - b) + 2;
        if (sz == 0)
            return (long)w;
        if (r + sz + 2 > n)
            return -1;
        memmove(b + w, b + r, sz);
        w += sz;
        r += sz + 2;
    }
}

int it_http_raw(int port, const void *req, size_t n, int timeout_ms, it_http_resp *out)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    int64_t deadline = it_now_ms() + timeout_ms;
    int fd = tcp_connect(port, 0, timeout_ms);
    if (fd < 0)
        return -1;
    (void)write_all(fd, req, n, deadline, NULL); /* an early answer + close is fine */

    char *buf = NULL;
    size_t len = 0, cap = 0;
    long head_end = -1;
    long want = -1; /* total bytes expected when Content-Length is known */
    for (;;) {
        if (want >= 0 && (long)len >= want)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, remaining(deadline));
        if (pr <= 0)
            break; /* timeout */
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 131072;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            break; /* EOF or reset: take what we have */
        len += (size_t)r;
        buf[len] = 0;
        if (head_end < 0) {
            char *e = memmem(buf, len, "\r\n\r\n", 4);
            if (e) {
                head_end = (long)(e - buf) + 4;
                char save = buf[head_end];
                buf[head_end] = 0;
                size_t vl;
                const char *cl = find_header(buf, "Content-Length", &vl);
                if (cl)
                    want = head_end + strtol(cl, NULL, 10);
                buf[head_end] = save;
            }
        }
    }
    close(fd);
    if (!buf || head_end < 0) {
        free(buf);
        return -1;
    }
    buf[len] = 0;
    out->head = malloc((size_t)head_end + 1);
    memcpy(out->head, buf, (size_t)head_end);
    out->head[head_end] = 0;
    if (strncmp(out->head, "HTTP/1.", 7) == 0 && strlen(out->head) > 12)
        out->status = atoi(out->head + 9);
    size_t blen = len - (size_t)head_end;
    if (want >= 0 && blen > (size_t)(want - head_end))
        blen = (size_t)(want - head_end);
    out->body = malloc(blen + 1);
    memcpy(out->body, buf + head_end, blen);
    out->body[blen] = 0;
    out->body_len = blen;
    size_t vl;
    const char *te = find_header(out->head, "Transfer-Encoding", &vl);
    if (te && vl == 7 && strncasecmp(te, "chunked", 7) == 0) {
        long d = dechunk(out->body, out->body_len);
        if (d >= 0) {
            out->body_len = (size_t)d;
            out->body[d] = 0;
        }
    }
    free(buf);
    if (out->body_len)
        out->json = cJSON_ParseWithLength(out->body, out->body_len);
    return out->status;
}

int it_http(it_server *s, const char *method, const char *path, const char *token, const char *body, it_http_resp *out)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = strlen(path) + blen + (token ? strlen(token) : 0) + 512;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method, path, s->port);
    if (token)
        n += snprintf(req + n, cap - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        n += snprintf(req + n, cap - (size_t)n, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (blen)
        memcpy(req + n, body, blen);
    int st = it_http_raw(s->port, req, (size_t)n + blen, IT_WAIT_MS, out);
    free(req);
    return st;
}

const char *it_app_token(it_server *s)
{
    if (s->app_token[0])
        return s->app_token;
    char body[512], path[200];
    snprintf(body, sizeof body, "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
             s->client_id, s->client_secret);
    snprintf(path, sizeof path, "/%s/%s/token", s->org, s->app);
    it_http_resp r;
    int st = it_http(s, "POST", path, NULL, body, &r);
    const char *tok = it_jstr(r.json, "access_token");
    if (st != 200 || !tok) {
        char msg[1024];
        snprintf(msg, sizeof msg, "POST %s -> %d %.400s", path, st, r.body ? r.body : "");
        it_http_resp_free(&r);
        fail_msg("app token: %s", msg);
    }
    snprintf(s->app_token, sizeof s->app_token, "%s", tok);
    it_http_resp_free(&r);
    return s->app_token;
}

cJSON *it_rest(it_server *s, const char *method, const char *body, int expect_status, const char *pathfmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, pathfmt);
    vsnprintf(path, sizeof path, pathfmt, ap);
    va_end(ap);
    const char *tok = it_app_token(s);
    it_http_resp r;
    int st = it_http(s, method, path, tok, body, &r);
    if (st != expect_status) {
        char msg[4096];
        snprintf(msg, sizeof msg, "%s %s body=%.200s -> HTTP %d (wanted %d): %.600s", method, path,
                 body ? body : "(none)", st, expect_status, r.body ? r.body : "");
        it_http_resp_free(&r);
        fail_msg("%s", msg);
    }
    cJSON *j = r.json;
    r.json = NULL;
    it_http_resp_free(&r);
    return j;
}

void it_expect_error(it_server *s, const char *method, const char *path, const char *token, const char *body,
                     int status, int code, const char *name, const char *description)
{
    it_http_resp r;
    int st = it_http(s, method, path, token, body, &r);
    const char *e = it_jstr(r.json, "error"), *d = it_jstr(r.json, "error_description");
    int ok = st == status && e && d && (!code || (int)it_jnum(r.json, "code", -1) == code) &&
             (!name || !strcmp(e, name)) && (!description || !strcmp(d, description));
    char msg[1400];
    snprintf(msg, sizeof msg, "%s %s %.200s: wanted HTTP %d code %d %s %s, got %d %.800s", method, path,
             body ? body : "", status, code, name ? name : "", description ? description : "", st,
             r.body ? r.body : "");
    it_http_resp_free(&r);
    if (!ok)
        fail_msg("%s", msg);
}

void it_create_user(it_server *s, const char *user)
{
    char body[256];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"nickname\":\"%s\"}", user, user);
    cJSON *j = it_rest(s, "POST", body, 200, "/%s/%s/users", s->org, s->app);
    cJSON_Delete(j);
}

void it_create_users(it_server *s, const char *const *users)
{
    cJSON *arr = cJSON_CreateArray();
    int n = 0;
    for (int i = 0; users[i]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "username", users[i]);
        cJSON_AddItemToArray(arr, o);
        n++;
        if (n == 60 || !users[i + 1]) {
            char *body = cJSON_PrintUnformatted(arr);
            cJSON_Delete(arr);
            arr = cJSON_CreateArray();
            n = 0;
            cJSON *j = NULL;
            /* free the body even if it_rest fails the test: copy to the stack first */
            char stackbody[8192];
            snprintf(stackbody, sizeof stackbody, "%s", body);
            free(body);
            j = it_rest(s, "POST", stackbody, 200, "/%s/%s/users", s->org, s->app);
            cJSON_Delete(j);
        }
    }
    cJSON_Delete(arr);
}

void it_create_group(it_server *s, const char *groupid, const char *owner, const char *const *members)
{
    char body[8192];
    int n = snprintf(body, sizeof body, "{\"groupid\":\"%s\",\"groupname\":\"%s\",\"owner\":\"%s\",\"members\":[",
                     groupid, groupid, owner);
    for (int i = 0; members && members[i]; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s\"%s\"", i ? "," : "", members[i]);
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    cJSON *j = it_rest(s, "POST", body, 200, "/%s/%s/chatgroups", s->org, s->app);
    const char *gid = it_jstr(j, "data.groupid");
    if (!gid || strcmp(gid, groupid) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "create group %s: data.groupid is %s", groupid, it_jshow(j));
        cJSON_Delete(j);
        fail_msg("%s", msg);
    }
    cJSON_Delete(j);
}

/* ---- tokens --------------------------------------------------------------------- */

int it_b64url(const uint8_t *in, size_t n, char *out, size_t outsz)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t need = (n * 4 + 2) / 3 + 1;
    if (outsz < need)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
    }
    out[o] = 0;
    return (int)o;
}

int it_mint_token(char kind, const char *appkey, const char *user, int64_t expiry_s, const char *secret, char *out,
                  size_t outsz)
{
    char payload[512];
    int pn = snprintf(payload, sizeof payload, "%c\n%s\n%s\n%lld", kind, appkey, user ? user : "", (long long)expiry_s);
    if (pn < 0 || (size_t)pn >= sizeof payload)
        return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)payload, (size_t)pn, mac, &maclen))
        return -1;
    int a = it_b64url((const uint8_t *)payload, (size_t)pn, out, outsz);
    if (a < 0 || (size_t)a + 2 >= outsz)
        return -1;
    out[a] = '.';
    int b = it_b64url(mac, maclen, out + a + 1, outsz - (size_t)a - 1);
    if (b < 0)
        return -1;
    return a + 1 + b;
}

void it_user_token(const it_server *s, const char *user, char *out, size_t outsz)
{
    char appkey[140];
    snprintf(appkey, sizeof appkey, "%s/%s", s->org, s->app);
    if (it_mint_token('u', appkey, user, (int64_t)time(NULL) + 3600, s->client_secret, out, outsz) < 0)
        fail_msg("cannot mint a token for %s", user);
}

/* ---- WebSocket client ----------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n, int64_t deadline, it_ws *drain)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        struct pollfd pf = {fd, (short)(POLLOUT | (drain ? POLLIN : 0)), 0};
        int t = remaining(deadline);
        if (t == 0)
            return -1;
        int pr = poll(&pf, 1, t);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        if (drain && (pf.revents & POLLIN) && !(pf.revents & POLLOUT)) {
            if (it_ws_pump(drain, 0) < 0)
                return -1;
        }
        if (pf.revents & (POLLERR | POLLNVAL))
            return -1;
    }
    return 0;
}

static int send_frame(it_ws *w, unsigned opcode, const void *payload, size_t n, int fin, int masked, int drain);

static void q_push(it_ws *w, cJSON *j)
{
    if (w->q_len == w->q_cap) {
        w->q_cap = w->q_cap ? w->q_cap * 2 : 64;
        w->q = xrealloc(w->q, w->q_cap * sizeof *w->q);
    }
    w->q[w->q_len++] = j;
}

static cJSON *q_take(it_ws *w, size_t i)
{
    cJSON *j = w->q[i];
    memmove(&w->q[i], &w->q[i + 1], (w->q_len - i - 1) * sizeof *w->q);
    w->q_len--;
    return j;
}

static void deliver(it_ws *w, int op, const uint8_t *p, size_t n)
{
    if (op == 2) {
        w->binary_msgs++;
        return;
    }
    cJSON *j = cJSON_ParseWithLength((const char *)p, n);
    if (!j || !cJSON_IsObject(j)) {
        w->non_json++;
        fprintf(stderr, "harness: non-JSON text message from the server: %.*s\n", (int)(n > 200 ? 200 : n),
                (const char *)p);
        cJSON_Delete(j);
        return;
    }
    q_push(w, j);
}

/* Parses complete frames out of w->in. */
static void parse_frames(it_ws *w)
{
    size_t off = 0;
    while (w->in_len - off >= 2) {
        const uint8_t *h = w->in + off;
        size_t avail = w->in_len - off;
        int fin = h[0] >> 7, rsv = (h[0] >> 4) & 7, op = h[0] & 15, masked = h[1] >> 7;
        uint64_t len = h[1] & 127;
        size_t hl = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | h[2 + i];
            hl = 10;
        }
        uint8_t mask[4] = {0};
        if (masked) {
            if (avail < hl + 4)
                break;
            memcpy(mask, h + hl, 4);
            hl += 4;
            w->bad_frames++; /* server frames must not be masked (RFC 6455 §5.1) */
        }
        if (rsv || (op > 2 && op < 8) || op > 10 || len > (64u << 20) || (op >= 8 && (len > 125 || !fin))) {
            w->bad_frames++;
            fprintf(stderr, "harness: bad frame from the server (op %d, len %llu, fin %d, rsv %d)\n", op,
                    (unsigned long long)len, fin, rsv);
            w->eof = 1;
            w->in_len = 0;
            return;
        }
        if (avail - hl < len)
            break;
        uint8_t *pl = w->in + off + hl;
        if (masked)
            for (uint64_t i = 0; i < len; i++)
                pl[i] ^= mask[i & 3];
        off += hl + (size_t)len;
        switch (op) {
        case 0: /* continuation */
            if (!w->frag_op) {
                w->bad_frames++;
                break;
            }
            if (w->frag_len + len > w->frag_cap) {
                w->frag_cap = (w->frag_len + (size_t)len) * 2;
                w->frag = xrealloc(w->frag, w->frag_cap);
            }
            memcpy(w->frag + w->frag_len, pl, (size_t)len);
            w->frag_len += (size_t)len;
            if (fin) {
                deliver(w, w->frag_op, w->frag, w->frag_len);
                w->frag_op = 0;
                w->frag_len = 0;
            }
            break;
        case 1:
        case 2:
            if (w->frag_op)
                w->bad_frames++; /* new data frame inside a fragmented message */
            if (fin) {
                deliver(w, op, pl, (size_t)len);
            } else {
                w->frag_op = op;
                w->frag_len = 0;
                if (len > w->frag_cap) {
                    w->frag_cap = (size_t)len * 2;
                    w->frag = xrealloc(w->frag, w->frag_cap);
                }
                memcpy(w->frag, pl, (size_t)len);
                w->frag_len = (size_t)len;
            }
            break;
        case 8: /* close: remember the code and answer once */
            if (!w->got_close) {
                w->got_close = 1;
                w->close_code = len >= 2 ? (pl[0] << 8 | pl[1]) : 1005;
                if (!w->sent_close && !w->writing) {
                    uint8_t cp[2] = {(uint8_t)(w->close_code >> 8), (uint8_t)w->close_code};
                    w->sent_close = 1;
                    send_frame(w, 8, cp, len >= 2 ? 2 : 0, 1, 1, 0);
                }
            }
            break;
        case 9: /* ping: pong with the same payload */
            if (!w->sent_close && !w->writing)
                send_frame(w, 10, pl, (size_t)len, 1, 1, 0);
            break;
        case 10: w->pongs++; break;
        }
    }
    if (off) {
        memmove(w->in, w->in + off, w->in_len - off);
        w->in_len -= off;
    }
}

static int ws_read_once(it_ws *w)
{
    if (w->in_cap - w->in_len < 65536) {
        w->in_cap = w->in_cap ? w->in_cap * 2 : 262144;
        w->in = xrealloc(w->in, w->in_cap);
    }
    ssize_t r = recv(w->fd, w->in + w->in_len, w->in_cap - w->in_len, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (r <= 0) {
        w->eof = 1;
        return -1;
    }
    w->in_len += (size_t)r;
    parse_frames(w);
    return 1;
}

int it_ws_pump(it_ws *w, int timeout_ms)
{
    if (w->eof)
        return -1;
    struct pollfd p = {w->fd, POLLIN, 0};
    int pr = poll(&p, 1, timeout_ms);
    if (pr < 0 && errno == EINTR)
        return 0;
    if (pr <= 0)
        return 0;
    int r = ws_read_once(w);
    /* Read on while more is immediately available, so one pump drains the socket. */
    int guard = 0;
    while (r > 0 && !w->eof && guard++ < 64) {
        struct pollfd q = {w->fd, POLLIN, 0};
        if (poll(&q, 1, 0) != 1)
            break;
        if (ws_read_once(w) < 0)
            break;
    }
    return w->eof && r <= 0 ? -1 : 1;
}

int it_ws_pump_many(it_ws **ws, int n, int timeout_ms)
{
    struct pollfd pf[64];
    if (n > 64)
        n = 64;
    int m = 0;
    for (int i = 0; i < n; i++) {
        pf[i].fd = ws[i] && !ws[i]->eof ? ws[i]->fd : -1;
        pf[i].events = POLLIN;
        pf[i].revents = 0;
    }
    int pr = poll(pf, (nfds_t)n, timeout_ms);
    if (pr <= 0)
        return 0;
    for (int i = 0; i < n; i++)
        if (pf[i].revents) {
            it_ws_pump(ws[i], 0);
            m++;
        }
    return m;
}

it_ws *it_ws_connect_ex(int port, const char *subprotocol, int rcvbuf, int *http_status)
{
    if (http_status)
        *http_status = -1;
    int64_t deadline = it_now_ms() + IT_WAIT_MS;
    int fd = tcp_connect(port, rcvbuf, IT_WAIT_MS);
    if (fd < 0)
        return NULL;
    uint8_t raw[16];
    for (int i = 0; i < 16; i++)
        raw[i] = (uint8_t)rnd32();
    char key[32];
    EVP_EncodeBlock((unsigned char *)key, raw, 16);
    char req[1024];
    if (!subprotocol)
        subprotocol = "tern.v1";
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                     port, key);
    if (*subprotocol)
        n += snprintf(req + n, sizeof req - (size_t)n, "Sec-WebSocket-Protocol: %s\r\n", subprotocol);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    if (write_all(fd, req, (size_t)n, deadline, NULL) != 0) {
        close(fd);
        return NULL;
    }
    /* Read the response head. */
    char head[16384];
    size_t hl = 0;
    char *end = NULL;
    while (!end && hl < sizeof head - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, remaining(deadline)) <= 0)
            break;
        ssize_t r = recv(fd, head + hl, sizeof head - 1 - hl, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            break;
        hl += (size_t)r;
        head[hl] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    if (!end) {
        close(fd);
        return NULL;
    }
    int status = strncmp(head, "HTTP/1.1 ", 9) == 0 ? atoi(head + 9) : -1;
    if (http_status)
        *http_status = status;
    size_t head_len = (size_t)(end - head) + 4;
    char save = head[head_len];
    head[head_len] = 0;
    int ok = status == 101;
    size_t vl;
    const char *acc = find_header(head, "Sec-WebSocket-Accept", &vl);
    if (ok) {
        /* base64(SHA1(key + GUID)) (RFC 6455 §4.2.2) */
        char cat[128];
        int cn = snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
        unsigned char sha[EVP_MAX_MD_SIZE];
        unsigned int shalen = 0;
        EVP_Digest(cat, (size_t)cn, sha, &shalen, EVP_sha1(), NULL);
        char want[64];
        EVP_EncodeBlock((unsigned char *)want, sha, (int)shalen);
        if (!acc || vl != strlen(want) || strncmp(acc, want, vl) != 0) {
            fprintf(stderr, "harness: bad Sec-WebSocket-Accept in: %s\n", head);
            ok = 0;
        }
        if (*subprotocol) {
            const char *sp = find_header(head, "Sec-WebSocket-Protocol", &vl);
            if (strstr(subprotocol, "tern.v1") && (!sp || vl != 7 || strncmp(sp, "tern.v1", 7) != 0)) {
                fprintf(stderr, "harness: subprotocol tern.v1 not echoed in: %s\n", head);
                ok = 0;
            }
        }
    }
    head[head_len] = save;
    if (!ok) {
        close(fd);
        return NULL;
    }
    it_ws *w = calloc(1, sizeof *w);
    w->fd = fd;
    w->port = port;
    w->next_id = 1;
    if (hl > head_len) {
        w->in_cap = 262144 + (hl - head_len);
        w->in = xrealloc(NULL, w->in_cap);
        memcpy(w->in, head + head_len, hl - head_len);
        w->in_len = hl - head_len;
        parse_frames(w);
    }
    w->reg_next = ws_registry;
    ws_registry = w;
    return w;
}

it_ws *it_ws_connect(it_server *s)
{
    int st;
    it_ws *w = it_ws_connect_ex(s->port, NULL, 0, &st);
    if (!w)
        fail_msg("WebSocket handshake failed (HTTP status %d)", st);
    return w;
}

void it_ws_free(it_ws *w)
{
    if (!w)
        return;
    for (it_ws **pp = &ws_registry; *pp; pp = &(*pp)->reg_next)
        if (*pp == w) {
            *pp = w->reg_next;
            break;
        }
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; i < w->q_len; i++)
        cJSON_Delete(w->q[i]);
    free(w->q);
    free(w->in);
    free(w->frag);
    free(w);
}

/* drain: read incoming bytes while the write waits (never from inside parse_frames). */
static int send_frame(it_ws *w, unsigned opcode, const void *payload, size_t n, int fin, int masked, int drain)
{
    size_t cap = n + 14;
    uint8_t *f = malloc(cap);
    size_t h = 0;
    f[h++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 15));
    uint8_t mbit = masked ? 0x80 : 0;
    if (n < 126) {
        f[h++] = (uint8_t)(mbit | n);
    } else if (n < 65536) {
        f[h++] = mbit | 126;
        f[h++] = (uint8_t)(n >> 8);
        f[h++] = (uint8_t)n;
    } else {
        f[h++] = mbit | 127;
        for (int i = 7; i >= 0; i--)
            f[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint8_t mask[4];
    if (masked) {
        uint32_t r = rnd32();
        memcpy(mask, &r, 4);
        memcpy(f + h, mask, 4);
        h += 4;
    }
    const uint8_t *p = payload;
    for (size_t i = 0; i < n; i++)
        f[h + i] = masked ? p[i] ^ mask[i & 3] : p[i];
    /* Control replies from inside the reader get a short deadline. */
    w->writing++;
    int rc = write_all(w->fd, f, h + n, it_now_ms() + (drain ? IT_WAIT_MS : 1000), drain ? w : NULL);
    w->writing--;
    free(f);
    return rc;
}

int it_ws_send_frame(it_ws *w, unsigned opcode, const void *payload, size_t n, int fin, int masked)
{
    return send_frame(w, opcode, payload, n, fin, masked, 1);
}

int it_ws_send_text(it_ws *w, const char *text)
{
    return it_ws_send_frame(w, 1, text, strlen(text), 1, 1);
}

int it_ws_send_raw(it_ws *w, const void *bytes, size_t n)
{
    w->writing++;
    int rc = write_all(w->fd, bytes, n, it_now_ms() + IT_WAIT_MS, w);
    w->writing--;
    return rc;
}

int64_t it_ws_vsend_req(it_ws *w, const char *fmt, va_list ap)
{
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        return -1;
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        fprintf(stderr, "harness: request is not JSON: %s\n", text);
        free(text);
        return -1;
    }
    free(text);
    int64_t id = w->next_id++;
    cJSON_AddNumberToObject(j, "id", (double)id);
    char *out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    int rc = it_ws_send_text(w, out);
    free(out);
    return rc == 0 ? id : -1;
}

int64_t it_ws_send_req(it_ws *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int64_t id = it_ws_vsend_req(w, fmt, ap);
    va_end(ap);
    return id;
}

typedef int (*match_fn)(const cJSON *j, const void *ctx);

static cJSON *wait_match(it_ws *w, match_fn fn, const void *ctx, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    size_t scanned = 0;
    for (;;) {
        for (size_t i = scanned; i < w->q_len; i++)
            if (fn(w->q[i], ctx))
                return q_take(w, i);
        scanned = w->q_len;
        int t = remaining(deadline);
        if (t == 0 || w->eof)
            return NULL;
        if (it_ws_pump(w, t) < 0) {
            /* a final read may have queued the match */
            for (size_t i = scanned; i < w->q_len; i++)
                if (fn(w->q[i], ctx))
                    return q_take(w, i);
            return NULL;
        }
    }
}

static int match_id(const cJSON *j, const void *ctx)
{
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(j, "re");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    return re && cJSON_IsNumber(id) && id->valuedouble == (double)*(const int64_t *)ctx;
}

static int match_ev(const cJSON *j, const void *ctx)
{
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "ev");
    return cJSON_IsString(ev) && (!ctx || strcmp(ev->valuestring, ctx) == 0);
}

static int match_re(const cJSON *j, const void *ctx)
{
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(j, "re");
    return cJSON_IsString(re) && (!ctx || strcmp(re->valuestring, ctx) == 0);
}

static int match_any(const cJSON *j, const void *ctx)
{
    (void)j;
    (void)ctx;
    return 1;
}

cJSON *it_ws_wait_response(it_ws *w, int64_t id, int timeout_ms)
{
    return wait_match(w, match_id, &id, timeout_ms);
}

cJSON *it_ws_request(it_ws *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int64_t id = it_ws_vsend_req(w, fmt, ap);
    va_end(ap);
    if (id < 0)
        return NULL;
    return it_ws_wait_response(w, id, IT_WAIT_MS);
}

cJSON *it_ws_wait_event(it_ws *w, const char *ev, int timeout_ms)
{
    return wait_match(w, match_ev, ev, timeout_ms);
}

cJSON *it_ws_wait_re(it_ws *w, const char *re, int timeout_ms)
{
    return wait_match(w, match_re, re, timeout_ms);
}

cJSON *it_ws_next(it_ws *w, int timeout_ms)
{
    return wait_match(w, match_any, NULL, timeout_ms);
}

size_t it_ws_count_events(const it_ws *w, const char *ev)
{
    size_t n = 0;
    for (size_t i = 0; i < w->q_len; i++)
        n += (size_t)match_ev(w->q[i], ev);
    return n;
}

int it_ws_expect_close(it_ws *w, int timeout_ms, int *code)
{
    int64_t deadline = it_now_ms() + timeout_ms, close_seen = 0;
    while (!w->eof) {
        /* After a close frame the server should end TCP; give it a second, then accept
         * the close frame alone. */
        if (w->got_close && !close_seen)
            close_seen = it_now_ms();
        if (close_seen && it_now_ms() - close_seen > 1000)
            break;
        int t = remaining(deadline);
        if (t == 0)
            return -1;
        it_ws_pump(w, t < 100 ? t : 100);
    }
    if (code)
        *code = w->got_close ? w->close_code : 1006;
    return 0;
}

void it_ws_clear(it_ws *w)
{
    for (size_t i = 0; i < w->q_len; i++)
        cJSON_Delete(w->q[i]);
    w->q_len = 0;
}

void it_login_on(it_server *s, it_ws *w, const char *user, const char *device)
{
    char tok[1024];
    it_user_token(s, user, tok, sizeof tok);
    cJSON *r =
        it_ws_request(w, "{\"op\":\"login\",\"app\":\"%s/%s\",\"user\":\"%s\",\"token\":\"%s\",\"device\":\"%s\"}",
                      s->org, s->app, user, tok, device ? device : "it");
    if (!r)
        fail_msg("login %s: no response", user);
    if (it_code(r) != 0 || !it_jstr(r, "data.sessionId") || !it_jstr(r, "data.cursor") || !it_jstr(r, "data.user") ||
        strcmp(it_jstr(r, "data.user"), user) != 0 || it_jnum(r, "data.serverTime", -1) <= 0 ||
        it_jnum(r, "data.heartbeatSec", -1) <= 0) {
        char msg[800];
        snprintf(msg, sizeof msg, "login %s: bad response %s", user, it_jshow(r));
        cJSON_Delete(r);
        fail_msg("%s", msg);
    }
    snprintf(w->user, sizeof w->user, "%s", user);
    snprintf(w->session_id, sizeof w->session_id, "%s", it_jstr(r, "data.sessionId"));
    snprintf(w->cursor, sizeof w->cursor, "%s", it_jstr(r, "data.cursor"));
    cJSON_Delete(r);
    cJSON *ready = it_ws_wait_event(w, "ready", IT_WAIT_MS);
    if (!ready)
        fail_msg("login %s: no ready event", user);
    const char *ru = it_jstr(ready, "data.user");
    int good = ru && strcmp(ru, user) == 0;
    cJSON_Delete(ready);
    if (!good)
        fail_msg("login %s: ready event without data.user", user);
}

it_ws *it_login(it_server *s, const char *user, const char *device)
{
    it_ws *w = it_ws_connect(s);
    it_login_on(s, w, user, device);
    return w;
}

cJSON *it_send_text(it_ws *w, const char *conv_type, const char *to, const char *text, const char *client_msg_id)
{
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "conversationType", conv_type);
    cJSON_AddStringToObject(msg, "to", to);
    cJSON_AddStringToObject(msg, "type", "TIMTextElem");
    cJSON *pl = cJSON_AddObjectToObject(msg, "payload");
    cJSON_AddStringToObject(pl, "text", text);
    if (client_msg_id)
        cJSON_AddStringToObject(msg, "clientMsgId", client_msg_id);
    char *ms = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    int64_t id = it_ws_send_req(w, "{\"op\":\"send\",\"msg\":%s}", ms);
    free(ms);
    return id < 0 ? NULL : it_ws_wait_response(w, id, IT_WAIT_MS);
}

int64_t it_send_text_ok(it_ws *w, const char *conv_type, const char *to, const char *text, char *msg_id,
                        size_t msg_id_sz)
{
    cJSON *r = it_send_text(w, conv_type, to, text, NULL);
    if (!r)
        fail_msg("send %s->%s: no response", w->user, to);
    const char *mid = it_jstr(r, "data.msgId");
    double seq = it_jnum(r, "data.seq", -1);
    if (it_code(r) != 0 || !mid || seq < 0) {
        char m[600];
        snprintf(m, sizeof m, "send %s->%s: %s", w->user, to, it_jshow(r));
        cJSON_Delete(r);
        fail_msg("%s", m);
    }
    if (msg_id)
        snprintf(msg_id, msg_id_sz, "%s", mid);
    cJSON_Delete(r);
    return (int64_t)seq;
}

void it_conv_id(const cJSON *msg, const char *me, char *out, size_t outsz)
{
    const char *type = it_jstr(msg, "conversationType"), *from = it_jstr(msg, "from"), *to = it_jstr(msg, "to");
    if (!type || !from || !to) {
        snprintf(out, outsz, "?");
        return;
    }
    if (strcmp(type, "GROUP") == 0)
        snprintf(out, outsz, "GROUP%s", to);
    else
        snprintf(out, outsz, "C2C%s", strcmp(from, me) != 0 ? from : to);
}

int it_sync_all(it_ws *w, const char *cursor, const char *convs_json, int limit, cJSON *out, char *new_cursor,
                size_t new_cursor_sz)
{
    cJSON *convs = cJSON_Parse(convs_json);
    if (!cJSON_IsObject(convs)) {
        fprintf(stderr, "harness: it_sync_all: convs is not an object: %s\n", convs_json);
        cJSON_Delete(convs);
        return -1;
    }
    int pages = 0;
    for (;;) {
        char *cs = cJSON_PrintUnformatted(convs);
        cJSON *r = it_ws_request(w, "{\"op\":\"sync\",\"cursor\":\"%s\",\"convs\":%s,\"limit\":%d}", cursor, cs, limit);
        free(cs);
        pages++;
        const cJSON *msgs = it_jget(r, "data.messages");
        const cJSON *more = it_jget(r, "data.more");
        if (!r || it_code(r) != 0 || !cJSON_IsArray(msgs) || !cJSON_IsBool(more) || !it_jstr(r, "data.cursor")) {
            if (r)
                fprintf(stderr, "harness: sync page %d failed: %s\n", pages, it_jshow(r));
            else
                fprintf(stderr, "harness: sync page %d: no response (%s, close code %d)\n", pages,
                        w->eof ? "connection closed" : "timeout", w->got_close ? w->close_code : 1006);
            cJSON_Delete(r);
            cJSON_Delete(convs);
            return -1;
        }
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs)
        {
            char cid[200];
            it_conv_id(m, w->user, cid, sizeof cid);
            double seq = it_jnum(m, "seq", 0);
            cJSON *cur = cJSON_GetObjectItemCaseSensitive(convs, cid);
            if (!cur)
                cJSON_AddNumberToObject(convs, cid, seq);
            else if (seq > cur->valuedouble)
                cJSON_SetNumberValue(cur, seq);
            cJSON_AddItemToArray(out, cJSON_Duplicate(m, 1));
        }
        if (cJSON_IsFalse(more)) {
            if (new_cursor)
                snprintf(new_cursor, new_cursor_sz, "%s", it_jstr(r, "data.cursor"));
            cJSON_Delete(r);
            break;
        }
        cJSON_Delete(r);
        if (pages > 10000) {
            fprintf(stderr, "harness: sync does not end (more:true forever)\n");
            cJSON_Delete(convs);
            return -1;
        }
    }
    cJSON_Delete(convs);
    return pages;
}

int it_msgid_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

/* ---- JSON helpers --------------------------------------------------------------- */

const cJSON *it_jget(const cJSON *o, const char *path)
{
    char key[128];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        if (cJSON_IsArray(o) && key[0] >= '0' && key[0] <= '9')
            o = cJSON_GetArrayItem(o, atoi(key));
        else
            o = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
        path += n;
        if (*path == '.')
            path++;
    }
    return o;
}

const char *it_jstr(const cJSON *o, const char *path)
{
    const cJSON *j = it_jget(o, path);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

double it_jnum(const cJSON *o, const char *path, double dflt)
{
    const cJSON *j = it_jget(o, path);
    return cJSON_IsNumber(j) ? j->valuedouble : dflt;
}

int it_code(const cJSON *resp)
{
    return (int)it_jnum(resp, "code", -1);
}

const char *it_jshow(const cJSON *o)
{
    static char buf[1024];
    if (!o)
        return "(null)";
    char *s = cJSON_PrintUnformatted(o);
    snprintf(buf, sizeof buf, "%s", s ? s : "(unprintable)");
    free(s);
    return buf;
}
