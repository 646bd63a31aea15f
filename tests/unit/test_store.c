/* test_store.c — unit tests for the SQLite store (server/store/sqlite_*.c) through
 * the store.h interface: seq assignment across batches, idempotent resend, C2C and group
 * conversations and unread counts, mark-read, history paging, groups, users, apps,
 * persistence across a reopen, concurrent submitters, draining on close, the queue
 * ceiling, and a failed batch (rolled back, nothing acknowledged, no seq gap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/id.h"
#include "server/store/store.h"
#include "tern/errors.h"

/* ---- completion tracking ----------------------------------------------------------- */

static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static size_t ndone;

/* Every op's ud points at one of these. */
typedef struct track {
    int calls;    /* how many times done ran (must end at 1) */
    size_t order; /* the global completion number of its (last) call */
} track;

static void on_done(store_op *op)
{
    pthread_mutex_lock(&wmu);
    track *t = op->ud;
    if (t) {
        t->calls++;
        t->order = ndone;
    }
    ndone++;
    pthread_cond_broadcast(&wcv);
    pthread_mutex_unlock(&wmu);
}

static size_t done_count(void)
{
    pthread_mutex_lock(&wmu);
    size_t n = ndone;
    pthread_mutex_unlock(&wmu);
    return n;
}

static void wait_done(size_t target)
{
    pthread_mutex_lock(&wmu);
    while (ndone < target)
        pthread_cond_wait(&wcv, &wmu);
    pthread_mutex_unlock(&wmu);
}

/* Submits n ops at once (so they share batches) and waits until all completed. */
static void run_ops(store *s, store_op **ops, size_t n)
{
    size_t base = done_count();
    for (size_t i = 0; i < n; i++) {
        if (!ops[i]->done)
            ops[i]->done = on_done;
        assert_int_equal(store_submit(s, ops[i]), TERN_OK);
    }
    wait_done(base + n);
}

static int run_op(store *s, store_op *op)
{
    run_ops(s, &op, 1);
    return op->result;
}

/* A gate: an op whose callback blocks holds the writer thread, so everything submitted
 * meanwhile is queued and taken as one batch (or counted against the queue ceiling)
 * deterministically. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_entered, gate_open;

static void gate_done(store_op *op)
{
    pthread_mutex_lock(&gate_mu);
    gate_entered = 1;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    on_done(op);
}

/* Submits gate (its done must be gate_done) and waits until the writer is held in it. */
static void gate_close(store *s, store_op *gate)
{
    pthread_mutex_lock(&gate_mu);
    gate_entered = gate_open = 0;
    pthread_mutex_unlock(&gate_mu);
    gate->done = gate_done;
    assert_int_equal(store_submit(s, gate), TERN_OK);
    pthread_mutex_lock(&gate_mu);
    while (!gate_entered)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* Runs n (<= max_batch) ops in ONE batch: the writer is held while they are queued. */
static void run_together(store *s, store_op **ops, size_t n)
{
    store_op gate = {.kind = STORE_OP_MARK_READ, .app = -1}; /* NOT_FOUND, writes nothing */
    gate.u.read.user = "nobody";
    gate.u.read.conv_key = "c:nobody:none";
    size_t base = done_count();
    gate_close(s, &gate);
    int rcs[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        if (!ops[i]->done)
            ops[i]->done = on_done;
        rcs[i] = store_submit(s, ops[i]);
    }
    gate_release();
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += rcs[i] == TERN_OK;
    wait_done(base + 1 + ok);
    assert_int_equal(gate.result, TERN_ERR_NOT_FOUND);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rcs[i], TERN_OK);
}

/* ---- fixture ----------------------------------------------------------------------- */

typedef struct fx {
    char dir[64];
    store *s;
    store_reader *r;
    int64_t app;
} fx;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void fx_open(fx *f, size_t max_batch, size_t queue_max)
{
    char err[256] = "";
    store_options o = {.data_dir = f->dir, .node_id = 7, .max_batch = max_batch, .queue_max = queue_max};
    f->s = store_open(&o, err, sizeof err);
    if (!f->s)
        fail_msg("store_open: %s", err);
    f->r = store_reader_open(f->s);
    assert_non_null(f->r);
}

static void fx_close(fx *f)
{
    store_reader_close(f->r);
    store_close(f->s);
    f->r = NULL;
    f->s = NULL;
}

static int64_t mk_app(fx *f, const char *org, const char *name, const char *cid, int *result)
{
    store_op op = {.kind = STORE_OP_CREATE_APP};
    op.u.app_create.org = org;
    op.u.app_create.name = name;
    op.u.app_create.client_id = cid;
    op.u.app_create.client_secret = "secret";
    *result = run_op(f->s, &op);
    return op.u.app_create.out_id;
}

static int setup_with(void **state, size_t max_batch, size_t queue_max)
{
    fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/tern_store_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    /* A subdirectory that does not exist yet: store_open must create it. */
    strcat(f->dir, "/data");
    fx_open(f, max_batch, queue_max);
    int rc;
    f->app = mk_app(f, "acme", "chat", "cid-acme-chat", &rc);
    assert_int_equal(rc, TERN_OK);
    assert_true(f->app > 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 64, 0); /* small batches: many transactions per test */
}

static int teardown(void **state)
{
    fx *f = *state;
    fx_close(f);
    char *slash = strrchr(f->dir, '/');
    *slash = 0; /* remove the mkdtemp directory, not just data/ */
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- op builders ------------------------------------------------------------------- */

static int user_op(fx *f, store_op_kind kind, const char *user, const char *nick)
{
    store_op op = {.kind = kind, .app = f->app};
    op.u.user.user = user;
    op.u.user.nickname = nick;
    return run_op(f->s, &op);
}

static void mk_users(fx *f, const char *const *users)
{
    for (; *users; users++)
        assert_int_equal(user_op(f, STORE_OP_CREATE_USER, *users, NULL), TERN_OK);
}

/* A message request with storage for every string the op points at. */
typedef struct msgreq {
    store_op op;
    track t;
    char conv_key[160];
    char from[65], to[65], cid[65];
    char fields[512];
} msgreq;

static void msg_init(msgreq *m, int64_t app, const char *from, const char *to, int is_group, const char *cid,
                     const char *text)
{
    memset(m, 0, sizeof *m);
    snprintf(m->from, sizeof m->from, "%s", from);
    snprintf(m->to, sizeof m->to, "%s", to);
    if (is_group)
        assert_true(store_conv_key_group(to, m->conv_key, sizeof m->conv_key) > 0);
    else
        assert_true(store_conv_key_c2c(from, to, m->conv_key, sizeof m->conv_key) > 0);
    snprintf(m->fields, sizeof m->fields, "\"conversationType\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"text\":\"%s\"",
             is_group ? "GROUP" : "C2C", from, to, text);
    m->op.kind = STORE_OP_MESSAGE;
    m->op.app = app;
    m->op.ud = &m->t;
    m->op.done = on_done;
    m->op.u.msg.conv_key = m->conv_key;
    m->op.u.msg.is_group = is_group;
    m->op.u.msg.sender = m->from;
    m->op.u.msg.peer = m->to;
    if (cid) {
        snprintf(m->cid, sizeof m->cid, "%s", cid);
        m->op.u.msg.client_msg_id = m->cid;
    }
    m->op.u.msg.fields = m->fields;
    m->op.u.msg.fields_len = strlen(m->fields);
}

static void msg_release(msgreq *m)
{
    tern_free(m->op.u.msg.json);
    m->op.u.msg.json = NULL;
}

/* Sends one message and waits; returns its seq (asserting TERN_OK). */
static uint64_t send1(fx *f, const char *from, const char *to, int is_group, const char *cid, uint64_t *id)
{
    msgreq m;
    msg_init(&m, f->app, from, to, is_group, cid, "hello");
    assert_int_equal(run_op(f->s, &m.op), TERN_OK);
    if (id)
        *id = m.op.u.msg.msg_id;
    msg_release(&m);
    return m.op.u.msg.seq;
}

static int mark_read(fx *f, const char *user, const char *conv_key, uint64_t seq, uint64_t *read_seq,
                     uint64_t *last_seq)
{
    store_op op = {.kind = STORE_OP_MARK_READ, .app = f->app};
    op.u.read.user = user;
    op.u.read.conv_key = conv_key;
    op.u.read.seq = seq;
    int rc = run_op(f->s, &op);
    if (read_seq)
        *read_seq = op.u.read.read_seq;
    if (last_seq)
        *last_seq = op.u.read.last_seq;
    return rc;
}

static int group_op(fx *f, store_op_kind kind, const char *gid, const char *owner, const char **members, size_t n,
                    size_t *changed)
{
    store_op op = {.kind = kind, .app = f->app};
    op.u.group.group_id = gid;
    op.u.group.name = "The Group";
    op.u.group.owner = owner;
    op.u.group.members = members;
    op.u.group.nmembers = n;
    op.u.group.changed = 12345;
    int rc = run_op(f->s, &op);
    if (changed)
        *changed = op.u.group.changed;
    return rc;
}

/* ---- read helpers ------------------------------------------------------------------ */

typedef struct strlist {
    char items[64][300];
    int n;
} strlist;

static void collect_str(void *ud, const char *s)
{
    strlist *l = ud;
    if (l->n < 64)
        snprintf(l->items[l->n++], sizeof l->items[0], "%s", s);
}

static void collect_user(void *ud, const store_user *u)
{
    assert_true(u->created_ms > 0 && u->modified_ms == u->created_ms);
    assert_int_equal(strlen(u->uuid), 36); /* the store gives every user a uuid */
    assert_null(u->password);
    collect_str(ud, u->user);
}

typedef struct convrow {
    char key[160], peer[80];
    int is_group;
    uint64_t read_seq, last_seq, last_msg_id;
    int64_t last_time_ms;
    char json[1024];
    int has_json;
} convrow;

typedef struct convlist {
    convrow rows[16];
    int n;
} convlist;

static void collect_conv(void *ud, const store_conv *c)
{
    convlist *l = ud;
    if (l->n >= 16)
        return;
    convrow *r = &l->rows[l->n++];
    snprintf(r->key, sizeof r->key, "%s", c->conv_key);
    snprintf(r->peer, sizeof r->peer, "%s", c->peer);
    r->is_group = c->is_group;
    r->read_seq = c->read_seq;
    r->last_seq = c->last_seq;
    r->last_msg_id = c->last_msg_id;
    r->last_time_ms = c->last_time_ms;
    r->has_json = c->last_msg_json != NULL;
    if (c->last_msg_json) {
        assert_true(c->last_msg_len < sizeof r->json);
        memcpy(r->json, c->last_msg_json, c->last_msg_len);
        r->json[c->last_msg_len] = 0;
        assert_int_equal(strlen(r->json), c->last_msg_len);
    }
}

/* One conversation of a user; returns the store's code. */
static int conv_of(fx *f, const char *user, const char *conv_key, convrow *out)
{
    convlist l = {.n = 0};
    int rc = store_conversation_get(f->r, f->app, user, conv_key, collect_conv, &l);
    if (rc == TERN_OK) {
        assert_int_equal(l.n, 1);
        *out = l.rows[0];
    } else {
        assert_int_equal(l.n, 0);
    }
    return rc;
}

static char *c2c(const char *a, const char *b)
{
    static char keys[4][160];
    static int next;
    char *k = keys[next++ & 3];
    assert_true(store_conv_key_c2c(a, b, k, 160) > 0);
    return k;
}

static char *gkey(const char *g)
{
    static char k[100];
    assert_true(store_conv_key_group(g, k, sizeof k) > 0);
    return k;
}

/* Parses a message array; writes each element's seq into seqs; returns the count. */
static int parse_seqs(const char *json, size_t len, uint64_t *seqs, int max)
{
    cJSON *a = cJSON_ParseWithLength(json, len);
    assert_non_null(a);
    assert_true(cJSON_IsArray(a));
    int n = cJSON_GetArraySize(a);
    assert_true(n <= max);
    for (int i = 0; i < n; i++) {
        cJSON *m = cJSON_GetArrayItem(a, i);
        cJSON *seq = cJSON_GetObjectItemCaseSensitive(m, "seq");
        cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "msgId");
        assert_true(cJSON_IsNumber(seq));
        assert_true(cJSON_IsString(id));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(m, "text"));
        seqs[i] = (uint64_t)seq->valuedouble;
    }
    cJSON_Delete(a);
    return n;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_conv_keys(void **state)
{
    (void)state;
    char k[32];
    assert_int_equal(store_conv_key_c2c("bob", "alice", k, sizeof k), 11);
    assert_string_equal(k, "c:alice:bob");
    assert_int_equal(store_conv_key_c2c("alice", "bob", k, sizeof k), 11);
    assert_string_equal(k, "c:alice:bob");
    assert_int_equal(store_conv_key_c2c("B", "a", k, sizeof k), 5); /* byte order: 'B' < 'a' */
    assert_string_equal(k, "c:B:a");
    assert_int_equal(store_conv_key_c2c("alice", "bob", k, 11), -1); /* no room for the NUL */
    assert_int_equal(store_conv_key_c2c("alice", "bob", k, 12), 11);
    assert_int_equal(store_conv_key_group("g1", k, sizeof k), 4);
    assert_string_equal(k, "g:g1");
    assert_int_equal(store_conv_key_group("g1", k, 4), -1);
}

static void collect_app(void *ud, const store_app *a)
{
    strlist *l = ud;
    char s[200];
    snprintf(s, sizeof s, "%s/%s", a->org, a->name);
    collect_str(l, s);
}

static void test_apps(void **state)
{
    fx *f = *state;
    int rc;
    int64_t id2 = mk_app(f, "acme", "support", "cid-2", &rc);
    assert_int_equal(rc, TERN_OK);
    assert_true(id2 > f->app);
    mk_app(f, "acme", "chat", "cid-3", &rc); /* org/name taken */
    assert_int_equal(rc, TERN_ERR_CONFLICT);
    mk_app(f, "other", "chat", "cid-2", &rc); /* client id taken */
    assert_int_equal(rc, TERN_ERR_CONFLICT);

    store_app a;
    assert_int_equal(store_app_get(f->r, "acme", "support", &a), TERN_OK);
    assert_int_equal(a.id, id2);
    assert_string_equal(a.client_id, "cid-2");
    assert_string_equal(a.client_secret, "secret");
    assert_true(a.created_ms > 0);
    assert_int_equal(store_app_get(f->r, "acme", "nope", &a), TERN_ERR_APP_NOT_FOUND);

    strlist l = {.n = 0};
    assert_int_equal(store_app_list(f->r, collect_app, &l), TERN_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0], "acme/chat");
    assert_string_equal(l.items[1], "acme/support");
}

static void test_users(void **state)
{
    fx *f = *state;
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "carol", "Carol"), TERN_OK);
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "alice", NULL), TERN_OK);
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "bob", "Bob"), TERN_OK);
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "dave", NULL), TERN_OK);
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "bob", "again"), TERN_ERR_CONFLICT);
    assert_int_equal(store_user_exists(f->r, f->app, "bob"), 1);
    assert_int_equal(store_user_exists(f->r, f->app, "zed"), 0);
    assert_int_equal(store_user_exists(f->r, f->app + 1, "bob"), 0); /* users are per app */

    strlist l = {.n = 0};
    assert_int_equal(store_user_list(f->r, f->app, NULL, 2, collect_user, &l), TERN_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0], "alice");
    assert_string_equal(l.items[1], "bob");
    assert_int_equal(store_user_list(f->r, f->app, l.items[1], 2, collect_user, &l), TERN_OK);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.items[2], "carol");
    assert_string_equal(l.items[3], "dave");
    assert_int_equal(store_user_list(f->r, f->app, "dave", 2, collect_user, &l), TERN_OK);
    assert_int_equal(l.n, 4);

    assert_int_equal(user_op(f, STORE_OP_DELETE_USER, "bob", NULL), TERN_OK);
    assert_int_equal(user_op(f, STORE_OP_DELETE_USER, "bob", NULL), TERN_ERR_USER_NOT_FOUND);
    assert_int_equal(store_user_exists(f->r, f->app, "bob"), 0);
    l.n = 0;
    assert_int_equal(store_user_list(f->r, f->app, NULL, 100, collect_user, &l), TERN_OK);
    assert_int_equal(l.n, 3);
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "bob", NULL), TERN_OK); /* the id is free again */
}

/* Seqs 1..N without gaps, over many batches, in submission order; ids grow with seq; the
 * stored JSON is exactly {"msgId":..,"seq":..,"time":..,<fields>}. */
static void test_seq_assignment(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    enum { N = 3000 };
    msgreq *m = calloc(N, sizeof *m);
    store_op **ops = calloc(N, sizeof *ops);
    for (int i = 0; i < N; i++) {
        msg_init(&m[i], f->app, i % 3 ? "alice" : "bob", i % 3 ? "bob" : "alice", 0, NULL, "x");
        ops[i] = &m[i].op;
    }
    run_ops(f->s, ops, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(m[i].op.result, TERN_OK);
        assert_int_equal(m[i].t.calls, 1);
        assert_int_equal(m[i].op.u.msg.seq, (uint64_t)i + 1);
        assert_int_equal(m[i].op.u.msg.duplicate, 0);
        if (i) {
            assert_true(m[i].op.u.msg.msg_id > m[i - 1].op.u.msg.msg_id);
            assert_true(m[i].t.order > m[i - 1].t.order); /* done runs in submission order */
        }
        assert_int_equal(m[i].op.u.msg.time_ms, tern_id_time_ms(m[i].op.u.msg.msg_id));
        char want[700];
        snprintf(want, sizeof want, "{\"msgId\":\"%" PRIu64 "\",\"seq\":%d,\"time\":%" PRId64 ",%s}",
                 m[i].op.u.msg.msg_id, i + 1, m[i].op.u.msg.time_ms, m[i].fields);
        assert_string_equal(m[i].op.u.msg.json, want);
        assert_int_equal(m[i].op.u.msg.json_len, strlen(want));
    }
    assert_int_equal(store_last_id(f->s), m[N - 1].op.u.msg.msg_id);

    /* Every stored message, in order, verbatim. */
    tern_buf b;
    tern_buf_init(&b, 0);
    int more = -1;
    uint64_t last = 0;
    assert_int_equal(store_messages_after(f->r, f->app, c2c("alice", "bob"), 0, N + 10, &b, &more, &last), TERN_OK);
    assert_int_equal(more, 0);
    assert_int_equal(last, N);
    tern_buf want;
    tern_buf_init(&want, 0);
    tern_buf_putc(&want, '[');
    for (int i = 0; i < N; i++) {
        if (i)
            tern_buf_putc(&want, ',');
        tern_buf_puts(&want, m[i].op.u.msg.json);
    }
    tern_buf_putc(&want, ']');
    assert_int_equal(b.len, want.len);
    assert_memory_equal(b.data, want.data, b.len);
    tern_buf_free(&want);
    tern_buf_free(&b);
    for (int i = 0; i < N; i++)
        msg_release(&m[i]);
    free(m);
    free(ops);

    /* Another conversation has its own seqs. */
    assert_int_equal(send1(f, "bob", "bob", 0, NULL, NULL), 1); /* a note to oneself */
    assert_int_equal(send1(f, "alice", "bob", 0, NULL, NULL), N + 1);
}

static void test_idempotent_resend(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    msgreq a, b;
    msg_init(&a, f->app, "alice", "bob", 0, "cm-1", "first");
    assert_int_equal(run_op(f->s, &a.op), TERN_OK);
    assert_int_equal(a.op.u.msg.duplicate, 0);
    assert_int_equal(a.op.u.msg.seq, 1);

    /* A resend in a later batch, even with a different body, returns the stored message. */
    msg_init(&b, f->app, "alice", "bob", 0, "cm-1", "changed");
    assert_int_equal(run_op(f->s, &b.op), TERN_OK);
    assert_int_equal(b.op.u.msg.duplicate, 1);
    assert_int_equal(b.op.u.msg.msg_id, a.op.u.msg.msg_id);
    assert_int_equal(b.op.u.msg.seq, 1);
    assert_int_equal(b.op.u.msg.time_ms, a.op.u.msg.time_ms);
    assert_string_equal(b.op.u.msg.json, a.op.u.msg.json);
    msg_release(&b);

    /* Two copies within one batch, around other messages. */
    msgreq m[4];
    msg_init(&m[0], f->app, "alice", "bob", 0, "cm-2", "two");
    msg_init(&m[1], f->app, "bob", "alice", 0, "cm-2", "bob's own cm-2"); /* other sender */
    msg_init(&m[2], f->app, "alice", "bob", 0, "cm-2", "two again");
    msg_init(&m[3], f->app, "alice", "bob", 0, "", "no client id"); /* "" = no idempotency */
    store_op *ops[] = {&m[0].op, &m[1].op, &m[2].op, &m[3].op};
    run_together(f->s, ops, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(m[i].op.result, TERN_OK);
    assert_int_equal(m[0].op.u.msg.seq, 2);
    assert_int_equal(m[1].op.u.msg.seq, 3);
    assert_int_equal(m[1].op.u.msg.duplicate, 0);
    assert_int_equal(m[2].op.u.msg.duplicate, 1);
    assert_int_equal(m[2].op.u.msg.seq, 2);
    assert_int_equal(m[2].op.u.msg.msg_id, m[0].op.u.msg.msg_id);
    assert_string_equal(m[2].op.u.msg.json, m[0].op.u.msg.json);
    assert_int_equal(m[3].op.u.msg.seq, 4);
    for (int i = 0; i < 4; i++)
        msg_release(&m[i]);
    msg_init(&m[3], f->app, "alice", "bob", 0, "", "no client id"); /* again: a new message */
    assert_int_equal(run_op(f->s, &m[3].op), TERN_OK);
    assert_int_equal(m[3].op.u.msg.seq, 5);
    msg_release(&m[3]);

    /* One row per distinct message; the duplicate did not move anything. */
    tern_buf buf;
    tern_buf_init(&buf, 0);
    int more;
    assert_int_equal(store_history(f->r, f->app, c2c("alice", "bob"), 0, 100, &buf, &more), TERN_OK);
    uint64_t seqs[16];
    assert_int_equal(parse_seqs(buf.data, buf.len, seqs, 16), 5);
    tern_buf_free(&buf);
    convrow c = {0};
    assert_int_equal(conv_of(f, "bob", c2c("alice", "bob"), &c), TERN_OK);
    assert_int_equal(c.last_seq, 5);
    msg_release(&a);
}

static void test_c2c_unread(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    const char *key = c2c("alice", "bob");
    convrow c = {0};
    assert_int_equal(conv_of(f, "alice", key, &c), TERN_ERR_NOT_FOUND);
    send1(f, "alice", "bob", 0, NULL, NULL);
    send1(f, "alice", "bob", 0, NULL, NULL);
    uint64_t id3;
    assert_int_equal(send1(f, "alice", "bob", 0, "x", &id3), 3);

    assert_int_equal(conv_of(f, "alice", key, &c), TERN_OK);
    assert_string_equal(c.peer, "bob");
    assert_int_equal(c.is_group, 0);
    assert_int_equal(c.read_seq, 3); /* the sender read up to her own message */
    assert_int_equal(c.last_seq, 3);
    assert_int_equal(c.last_msg_id, id3);
    assert_int_equal(c.last_time_ms, tern_id_time_ms(id3));
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_OK);
    assert_string_equal(c.peer, "alice");
    assert_int_equal(c.last_seq - c.read_seq, 3);
    assert_true(c.has_json);
    assert_non_null(strstr(c.json, "\"seq\":3,"));

    /* Bob answers: his read position jumps to his message, Alice has one unread. */
    assert_int_equal(send1(f, "bob", "alice", 0, NULL, NULL), 4);
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 4);
    assert_int_equal(c.last_seq, 4);
    assert_int_equal(conv_of(f, "alice", key, &c), TERN_OK);
    assert_int_equal(c.last_seq - c.read_seq, 1);
}

static void test_mark_read(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", NULL});
    const char *key = c2c("alice", "bob");
    for (int i = 0; i < 5; i++)
        send1(f, "alice", "bob", 0, NULL, NULL);
    uint64_t rs, ls;
    assert_int_equal(mark_read(f, "bob", key, 2, &rs, &ls), TERN_OK);
    assert_int_equal(rs, 2);
    assert_int_equal(ls, 5);
    assert_int_equal(mark_read(f, "bob", key, 1, &rs, &ls), TERN_OK); /* never backwards */
    assert_int_equal(rs, 2);
    assert_int_equal(mark_read(f, "bob", key, 999, &rs, &ls), TERN_OK); /* clamped to last_seq */
    assert_int_equal(rs, 5);
    assert_int_equal(ls, 5);
    convrow c = {0};
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 5);
    assert_int_equal(mark_read(f, "carol", key, 1, &rs, &ls), TERN_ERR_NOT_FOUND);
    assert_int_equal(mark_read(f, "bob", c2c("bob", "carol"), 1, &rs, &ls), TERN_ERR_NOT_FOUND);

    /* Within one batch: a message, then a mark-read that sees it, then one that does not
     * exist, then another message. */
    msgreq m1, m2;
    msg_init(&m1, f->app, "alice", "bob", 0, NULL, "six");
    msg_init(&m2, f->app, "bob", "alice", 0, NULL, "eight");
    store_op r1 = {.kind = STORE_OP_MARK_READ, .app = f->app}, r2 = r1, r3 = r1;
    r1.u.read.user = "bob", r1.u.read.conv_key = key, r1.u.read.seq = 6;
    r2.u.read.user = "carol", r2.u.read.conv_key = key, r2.u.read.seq = 6;
    r3.u.read.user = "alice", r3.u.read.conv_key = key, r3.u.read.seq = 3; /* below her 6 */
    store_op *ops[] = {&m1.op, &r1, &r2, &m2.op, &r3};
    run_together(f->s, ops, 5);
    assert_int_equal(m1.op.u.msg.seq, 6);
    assert_int_equal(r1.result, TERN_OK);
    assert_int_equal(r1.u.read.read_seq, 6);
    assert_int_equal(r1.u.read.last_seq, 6);
    assert_int_equal(r2.result, TERN_ERR_NOT_FOUND);
    assert_int_equal(m2.op.result, TERN_OK);
    assert_int_equal(m2.op.u.msg.seq, 7);
    assert_int_equal(r3.result, TERN_OK);
    assert_int_equal(r3.u.read.read_seq, 6);
    assert_int_equal(r3.u.read.last_seq, 7);
    msg_release(&m1);
    msg_release(&m2);
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 7);
    assert_int_equal(conv_of(f, "alice", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 6);
    assert_int_equal(c.last_seq, 7);
}

static void test_history_paging(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    const char *key = c2c("alice", "bob");
    for (int i = 0; i < 25; i++)
        send1(f, i & 1 ? "bob" : "alice", i & 1 ? "alice" : "bob", 0, NULL, NULL);

    tern_buf b;
    tern_buf_init(&b, 0);
    uint64_t seqs[32];
    int more = -1;
    static const struct {
        uint64_t before;
        int limit, n, more;
        uint64_t first;
    } pages[] = {{0, 10, 10, 1, 25}, {16, 10, 10, 1, 15}, {6, 10, 5, 0, 5},
                 {1, 10, 0, 0, 0},   {26, 25, 25, 0, 25}, {0, 0, 0, 1, 0}};
    for (size_t p = 0; p < sizeof pages / sizeof pages[0]; p++) {
        tern_buf_reset(&b);
        assert_int_equal(store_history(f->r, f->app, key, pages[p].before, pages[p].limit, &b, &more), TERN_OK);
        int n = parse_seqs(b.data, b.len, seqs, 32);
        assert_int_equal(n, pages[p].n);
        assert_int_equal(more, pages[p].more);
        for (int i = 0; i < n; i++)
            assert_int_equal(seqs[i], pages[p].first - (uint64_t)i); /* newest first */
    }

    uint64_t last = 0;
    tern_buf_reset(&b);
    assert_int_equal(store_messages_after(f->r, f->app, key, 20, 3, &b, &more, &last), TERN_OK);
    assert_int_equal(parse_seqs(b.data, b.len, seqs, 32), 3);
    assert_int_equal(seqs[0], 21);
    assert_int_equal(seqs[2], 23);
    assert_int_equal(more, 1);
    assert_int_equal(last, 23);
    tern_buf_reset(&b);
    assert_int_equal(store_messages_after(f->r, f->app, key, last, 10, &b, &more, &last), TERN_OK);
    assert_int_equal(parse_seqs(b.data, b.len, seqs, 32), 2);
    assert_int_equal(more, 0);
    assert_int_equal(last, 25);
    tern_buf_reset(&b);
    assert_int_equal(store_messages_after(f->r, f->app, key, 25, 10, &b, &more, &last), TERN_OK);
    assert_string_equal(b.data, "[]");
    assert_int_equal(more, 0);
    assert_int_equal(last, 25);
    tern_buf_reset(&b);
    assert_int_equal(store_messages_after(f->r, f->app, "c:no:body", 0, 10, &b, &more, &last), TERN_OK);
    assert_string_equal(b.data, "[]");
    assert_int_equal(last, 0);

    /* Appends to what the buffer holds. */
    tern_buf_reset(&b);
    tern_buf_puts(&b, "{\"messages\":");
    assert_int_equal(store_history(f->r, f->app, key, 3, 10, &b, &more), TERN_OK);
    assert_int_equal(strncmp(b.data, "{\"messages\":[{", 14), 0);
    tern_buf_free(&b);

    /* A buffer with a ceiling gets what fits and more = 1. */
    tern_buf small;
    tern_buf_init(&small, 400);
    assert_int_equal(store_messages_after(f->r, f->app, key, 0, 10, &small, &more, &last), TERN_OK);
    int n = parse_seqs(small.data, small.len, seqs, 32);
    assert_true(n >= 1 && n < 10);
    assert_int_equal(more, 1);
    assert_int_equal(last, (uint64_t)n);
    assert_true(small.len <= 400);
    tern_buf_free(&small);
}

static void test_seq_at_id(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", NULL});
    const char *key = c2c("alice", "bob");
    uint64_t ids[10];
    for (int i = 0; i < 10; i++) {
        assert_int_equal(send1(f, "alice", "bob", 0, NULL, &ids[i]), (uint64_t)i + 1);
        send1(f, "alice", "carol", 0, NULL, NULL); /* interleaved ids of another conversation */
    }
    uint64_t seq = 99;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(store_seq_at_id(f->r, f->app, key, ids[i], &seq), TERN_OK);
        assert_int_equal(seq, (uint64_t)i + 1);
        assert_int_equal(store_seq_at_id(f->r, f->app, key, ids[i] + 1, &seq), TERN_OK);
        assert_int_equal(seq, (uint64_t)i + 1);
    }
    assert_int_equal(store_seq_at_id(f->r, f->app, key, ids[0] - 1, &seq), TERN_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(store_seq_at_id(f->r, f->app, key, UINT64_MAX, &seq), TERN_OK);
    assert_int_equal(seq, 10);
    assert_int_equal(store_seq_at_id(f->r, f->app, "c:x:y", UINT64_MAX, &seq), TERN_OK);
    assert_int_equal(seq, 0);
}

static void test_conversations(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", "dave", NULL});
    const char *owner = "alice";
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "quiet", owner, NULL, 0, NULL), TERN_OK);
    send1(f, "alice", "bob", 0, NULL, NULL);
    send1(f, "carol", "alice", 0, NULL, NULL);
    send1(f, "alice", "dave", 0, NULL, NULL);
    uint64_t last_id;
    send1(f, "carol", "alice", 0, NULL, &last_id); /* carol's conversation is the newest again */

    convlist l = {.n = 0};
    assert_int_equal(store_conversations(f->r, f->app, "alice", 10, collect_conv, &l), TERN_OK);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.rows[0].key, c2c("alice", "carol"));
    assert_string_equal(l.rows[0].peer, "carol");
    assert_int_equal(l.rows[0].last_seq, 2);
    assert_int_equal(l.rows[0].read_seq, 0);
    assert_int_equal(l.rows[0].last_msg_id, last_id);
    assert_true(l.rows[0].has_json);
    char want[64];
    snprintf(want, sizeof want, "{\"msgId\":\"%" PRIu64 "\",\"seq\":2,", last_id);
    assert_int_equal(strncmp(l.rows[0].json, want, strlen(want)), 0);
    assert_string_equal(l.rows[1].key, c2c("alice", "dave"));
    assert_string_equal(l.rows[2].key, c2c("alice", "bob"));
    assert_string_equal(l.rows[3].key, "g:quiet"); /* no message yet: last */
    assert_int_equal(l.rows[3].is_group, 1);
    assert_string_equal(l.rows[3].peer, "quiet");
    assert_int_equal(l.rows[3].has_json, 0);
    assert_int_equal(l.rows[3].last_seq, 0);

    l.n = 0;
    assert_int_equal(store_conversations(f->r, f->app, "alice", 2, collect_conv, &l), TERN_OK);
    assert_int_equal(l.n, 2);
    l.n = 0;
    assert_int_equal(store_conversations(f->r, f->app, "nobody", 10, collect_conv, &l), TERN_OK);
    assert_int_equal(l.n, 0);
    l.n = 0;
    assert_int_equal(store_conversations(f->r, f->app, "dave", 10, collect_conv, &l), TERN_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.rows[0].last_seq - l.rows[0].read_seq, 1);
}

static void copy_conv(void *ud, const store_conv *c)
{
    store_conv *o = ud;
    *o = *c;
    o->conv_key = o->peer = o->last_msg_json = NULL; /* valid during the callback only */
}

/* Issue 10: a private message (receiverList) and the flags, at the store's level: who
 * sees it (history, sync, store_msg_receiver_ok), the not-counted counter across the
 * writer's cache being dropped (a reopen), at-info of members only. */
static void test_private_and_flags(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", NULL});
    const char *members[] = {"bob", "carol"};
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g", "alice", members, 2, NULL), TERN_OK);
    send1(f, "alice", "g", 1, NULL, NULL);
    msgreq m;
    msg_init(&m, f->app, "alice", "g", 1, NULL, "secret");
    const char *rcv[] = {"bob"};
    m.op.u.msg.flags = STORE_MSG_PRIVATE;
    m.op.u.msg.receivers = rcv;
    m.op.u.msg.nreceivers = 1;
    assert_int_equal(run_op(f->s, &m.op), TERN_OK);
    uint64_t pid = m.op.u.msg.msg_id;
    msg_release(&m);
    msg_init(&m, f->app, "bob", "g", 1, NULL, "at");
    const char *at[] = {"carol", "mallory"}; /* mallory: no member, skipped */
    m.op.u.msg.flags = STORE_MSG_NO_UNREAD;
    m.op.u.msg.at_users = at;
    m.op.u.msg.nat = 2;
    assert_int_equal(run_op(f->s, &m.op), TERN_OK);
    msg_release(&m);
    assert_int_equal(store_msg_receiver_ok(f->r, f->app, pid, "bob"), 1);
    assert_int_equal(store_msg_receiver_ok(f->r, f->app, pid, "alice"), 1);
    assert_int_equal(store_msg_receiver_ok(f->r, f->app, pid, "carol"), 0);
    assert_int_equal(store_msg_receiver_ok(f->r, f->app, pid + 1000, "bob"), 0);
    tern_buf b;
    tern_buf_init(&b, 0);
    int more;
    uint64_t seqs[8], last;
    assert_int_equal(store_history_for(f->r, f->app, gkey("g"), "carol", 0, 10, &b, &more), TERN_OK);
    assert_int_equal(parse_seqs(b.data, b.len, seqs, 8), 2);
    assert_true(seqs[0] == 3 && seqs[1] == 1);
    tern_buf_reset(&b);
    assert_int_equal(store_messages_after_for(f->r, f->app, gkey("g"), "bob", 0, 10, &b, &more, &last), TERN_OK);
    assert_int_equal(parse_seqs(b.data, b.len, seqs, 8), 3);
    tern_buf_reset(&b);
    assert_int_equal(store_messages_after(f->r, f->app, gkey("g"), 0, 10, &b, &more, &last), TERN_OK);
    assert_int_equal(parse_seqs(b.data, b.len, seqs, 8), 3); /* no viewer: all */
    tern_buf_free(&b);
    /* carol: 3 messages, 2 not counted (private, no-unread) → 1; @ from bob at seq 3. */
    for (int pass = 0; pass < 2; pass++) {
        store_conv got = {0};
        assert_int_equal(store_conversation_get(f->r, f->app, "carol", gkey("g"), copy_conv, &got), TERN_OK);
        assert_int_equal(got.last_seq, 3);
        assert_int_equal(got.uncounted, 2); /* seqs 2 and 3, whether seq 1 is read or not */
        assert_int_equal(got.at_seq, 3);
        assert_int_equal(got.at_all_seq, 0);
        assert_int_equal(got.shown_msg_id, got.last_msg_id); /* seq 3: not NO_LAST, not private */
        assert_int_equal(store_conversation_get(f->r, f->app, "bob", gkey("g"), copy_conv, &got), TERN_OK);
        assert_int_equal(got.at_seq, 0);
        fx_close(f);
        fx_open(f, 64, 0); /* the writer's cache starts empty: nc comes from the row */
        store_op op = {.kind = STORE_OP_MARK_READ, .app = f->app};
        op.u.read.user = "carol";
        op.u.read.conv_key = gkey("g");
        op.u.read.seq = 1;
        assert_int_equal(run_op(f->s, &op), TERN_OK);
        assert_int_equal(op.u.read.read_seq, 1);
        assert_int_equal(op.u.read.uncounted, 2); /* seqs 2 and 3 */
    }
    (void)state;
}

static void test_groups(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", "dave", "erin", "frank", NULL});
    size_t changed;
    const char *init[] = {"bob", "carol", "alice"}; /* the owner listed again is harmless */
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g1", "alice", init, 3, &changed), TERN_OK);
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g1", "bob", NULL, 0, NULL), TERN_ERR_CONFLICT);
    const char *ghost[] = {"bob", "ghost"};
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g2", "alice", ghost, 2, NULL), TERN_ERR_USER_NOT_FOUND);
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g3", "ghost", NULL, 0, NULL), TERN_ERR_USER_NOT_FOUND);
    store_group g;
    assert_int_equal(store_group_get(f->r, f->app, "g2", &g), TERN_ERR_GROUP_NOT_FOUND);
    assert_int_equal(store_group_get(f->r, f->app, "g3", &g), TERN_ERR_GROUP_NOT_FOUND);
    strlist l = {.n = 0};
    assert_int_equal(store_user_groups(f->r, f->app, "bob", collect_str, &l), TERN_OK);
    assert_int_equal(l.n, 1); /* only g1: nothing of g2 was written */

    assert_int_equal(store_group_get(f->r, f->app, "g1", &g), TERN_OK);
    assert_string_equal(g.id, "g1");
    assert_string_equal(g.name, "The Group");
    assert_string_equal(g.owner, "alice");
    assert_int_equal(g.member_count, 3);
    assert_true(g.created_ms > 0);
    l.n = 0;
    assert_int_equal(store_group_members(f->r, f->app, "g1", collect_str, &l), TERN_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0], "alice");
    assert_string_equal(l.items[1], "bob");
    assert_string_equal(l.items[2], "carol");
    assert_int_equal(store_group_members(f->r, f->app, "nope", collect_str, &l), TERN_ERR_GROUP_NOT_FOUND);

    /* Messages: the sender reads her own, members see unread. */
    const char *key = gkey("g1");
    assert_int_equal(send1(f, "alice", "g1", 1, NULL, NULL), 1);
    assert_int_equal(send1(f, "bob", "g1", 1, "b1", NULL), 2);
    convrow c = {0};
    assert_int_equal(conv_of(f, "alice", key, &c), TERN_OK);
    assert_int_equal(c.is_group, 1);
    assert_string_equal(c.peer, "g1");
    assert_int_equal(c.read_seq, 1);
    assert_int_equal(c.last_seq, 2);
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 2);
    assert_int_equal(conv_of(f, "carol", key, &c), TERN_OK);
    assert_int_equal(c.last_seq - c.read_seq, 2);

    /* Adding: existing members are skipped, a newcomer starts with nothing unread. */
    const char *add[] = {"dave", "bob", "erin"};
    assert_int_equal(group_op(f, STORE_OP_ADD_MEMBERS, "g1", NULL, add, 3, &changed), TERN_OK);
    assert_int_equal(changed, 2);
    assert_int_equal(conv_of(f, "dave", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 2);
    assert_int_equal(c.last_seq, 2);
    const char *add_ghost[] = {"frank", "ghost"};
    assert_int_equal(group_op(f, STORE_OP_ADD_MEMBERS, "g1", NULL, add_ghost, 2, NULL), TERN_ERR_USER_NOT_FOUND);
    assert_int_equal(store_group_get(f->r, f->app, "g1", &g), TERN_OK);
    assert_int_equal(g.member_count, 5); /* frank was not added either */
    assert_int_equal(group_op(f, STORE_OP_ADD_MEMBERS, "nope", NULL, add, 1, NULL), TERN_ERR_GROUP_NOT_FOUND);
    l.n = 0;
    assert_int_equal(store_user_groups(f->r, f->app, "dave", collect_str, &l), TERN_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0], "g1");

    /* Removing. */
    const char *rm[] = {"bob", "frank"};
    assert_int_equal(group_op(f, STORE_OP_REMOVE_MEMBERS, "g1", NULL, rm, 2, &changed), TERN_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_ERR_NOT_FOUND);
    assert_int_equal(mark_read(f, "bob", key, 2, NULL, NULL), TERN_ERR_NOT_FOUND);
    l.n = 0;
    assert_int_equal(store_user_groups(f->r, f->app, "bob", collect_str, &l), TERN_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(group_op(f, STORE_OP_REMOVE_MEMBERS, "g1", NULL, rm, 2, &changed), TERN_OK);
    assert_int_equal(changed, 0);
    assert_int_equal(group_op(f, STORE_OP_REMOVE_MEMBERS, "nope", NULL, rm, 2, NULL), TERN_ERR_GROUP_NOT_FOUND);
    /* A removed member coming back starts read up to date. */
    assert_int_equal(send1(f, "carol", "g1", 1, NULL, NULL), 3);
    assert_int_equal(group_op(f, STORE_OP_ADD_MEMBERS, "g1", NULL, rm, 1, &changed), TERN_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 3);

    /* Dismissing removes every member and their conversation rows; messages stay. */
    assert_int_equal(group_op(f, STORE_OP_DISMISS_GROUP, "g1", NULL, NULL, 0, NULL), TERN_OK);
    assert_int_equal(group_op(f, STORE_OP_DISMISS_GROUP, "g1", NULL, NULL, 0, NULL), TERN_ERR_GROUP_NOT_FOUND);
    assert_int_equal(group_op(f, STORE_OP_DISMISS_GROUP, "nope", NULL, NULL, 0, NULL), TERN_ERR_GROUP_NOT_FOUND);
    assert_int_equal(store_group_get(f->r, f->app, "g1", &g), TERN_ERR_GROUP_NOT_FOUND);
    assert_int_equal(store_group_members(f->r, f->app, "g1", collect_str, &l), TERN_ERR_GROUP_NOT_FOUND);
    assert_int_equal(group_op(f, STORE_OP_ADD_MEMBERS, "g1", NULL, add, 1, NULL), TERN_ERR_GROUP_NOT_FOUND);
    l.n = 0;
    assert_int_equal(store_user_groups(f->r, f->app, "alice", collect_str, &l), TERN_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(conv_of(f, "alice", key, &c), TERN_ERR_NOT_FOUND);
    assert_int_equal(conv_of(f, "dave", key, &c), TERN_ERR_NOT_FOUND);
    tern_buf b;
    tern_buf_init(&b, 0);
    int more;
    assert_int_equal(store_history(f->r, f->app, key, 0, 10, &b, &more), TERN_OK);
    uint64_t seqs[8];
    assert_int_equal(parse_seqs(b.data, b.len, seqs, 8), 3);
    tern_buf_free(&b);

    /* A dismissed id can be created again; its conversation goes on, newcomers read. */
    const char *again[] = {"erin"};
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g1", "frank", again, 1, &changed), TERN_OK);
    assert_int_equal(store_group_get(f->r, f->app, "g1", &g), TERN_OK);
    assert_string_equal(g.owner, "frank");
    assert_int_equal(g.member_count, 2);
    assert_int_equal(conv_of(f, "frank", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 3);
    assert_int_equal(c.last_seq, 3);
    assert_int_equal(send1(f, "frank", "g1", 1, NULL, NULL), 4);
    assert_int_equal(conv_of(f, "erin", key, &c), TERN_OK);
    assert_int_equal(c.last_seq - c.read_seq, 1);

    /* A group without an owner. */
    const char *solo[] = {"carol"};
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "ownerless", NULL, solo, 1, &changed), TERN_OK);
    assert_int_equal(store_group_get(f->r, f->app, "ownerless", &g), TERN_OK);
    assert_string_equal(g.owner, "");
    assert_int_equal(g.member_count, 1);
}

/* Group changes and read positions within one batch: a pending read position never
 * outlives a membership, and a non-member's message creates no conversation row. */
static void test_group_batches(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", "dave", NULL});
    const char *init[] = {"bob"};
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g", "alice", init, 1, NULL), TERN_OK);
    const char *key = gkey("g");

    msgreq mc, mb;
    msg_init(&mc, f->app, "carol", "g", 1, NULL, "not a member"); /* the server refuses these */
    msg_init(&mb, f->app, "bob", "g", 1, NULL, "last words");
    store_op rc = {.kind = STORE_OP_MARK_READ, .app = f->app}, rb = rc, rd = rc;
    rc.u.read.user = "carol", rc.u.read.conv_key = key, rc.u.read.seq = 1;
    rb.u.read.user = "bob", rb.u.read.conv_key = key, rb.u.read.seq = 2;
    rd.u.read.user = "dave", rd.u.read.conv_key = key, rd.u.read.seq = 99;
    const char *bob[] = {"bob"}, *dave[] = {"dave"};
    store_op rm = {.kind = STORE_OP_REMOVE_MEMBERS, .app = f->app}, add = rm;
    add.kind = STORE_OP_ADD_MEMBERS;
    rm.u.group.group_id = add.u.group.group_id = "g";
    rm.u.group.members = bob, rm.u.group.nmembers = 1;
    add.u.group.members = dave, add.u.group.nmembers = 1;
    store_op rb0 = rb; /* a verified pending position for bob before his removal */
    rb0.u.read.seq = 1;
    store_op *ops[] = {&mc.op, &rc, &mb.op, &rb0, &rm, &rb, &add, &rd};
    run_together(f->s, ops, 8);
    assert_int_equal(rb0.result, TERN_OK);
    assert_int_equal(rb0.u.read.read_seq, 2); /* his own message */
    assert_int_equal(mc.op.result, TERN_OK);
    assert_int_equal(mc.op.u.msg.seq, 1);
    assert_int_equal(rc.result, TERN_ERR_NOT_FOUND);
    assert_int_equal(mb.op.u.msg.seq, 2);
    assert_int_equal(rm.result, TERN_OK);
    assert_int_equal(rm.u.group.changed, 1);
    assert_int_equal(rb.result, TERN_ERR_NOT_FOUND);
    assert_int_equal(add.result, TERN_OK);
    assert_int_equal(add.u.group.changed, 1);
    assert_int_equal(rd.result, TERN_OK);
    assert_int_equal(rd.u.read.read_seq, 2);
    assert_int_equal(rd.u.read.last_seq, 2);
    msg_release(&mc);
    msg_release(&mb);
    convrow c = {0};
    assert_int_equal(conv_of(f, "carol", key, &c), TERN_ERR_NOT_FOUND);
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_ERR_NOT_FOUND);
    assert_int_equal(conv_of(f, "alice", key, &c), TERN_OK);
    assert_int_equal(c.last_seq - c.read_seq, 2);

    /* Dismissing after a message in the same batch. */
    msgreq ma;
    msg_init(&ma, f->app, "alice", "g", 1, NULL, "closing");
    store_op dis = {.kind = STORE_OP_DISMISS_GROUP, .app = f->app}, ra = rc;
    dis.u.group.group_id = "g";
    ra.u.read.user = "alice";
    store_op ra0 = ra;
    store_op *ops2[] = {&ma.op, &ra0, &dis, &ra};
    run_together(f->s, ops2, 4);
    assert_int_equal(ma.op.u.msg.seq, 3);
    assert_int_equal(ra0.result, TERN_OK);
    assert_int_equal(ra0.u.read.read_seq, 3);
    assert_int_equal(dis.result, TERN_OK);
    assert_int_equal(ra.result, TERN_ERR_NOT_FOUND);
    msg_release(&ma);
    assert_int_equal(conv_of(f, "alice", key, &c), TERN_ERR_NOT_FOUND);
}

/* ---- friends (issue 10) ------------------------------------------------------------ */

static int friend_op(fx *f, store_op_kind kind, const char *a, const char *b, int *changed)
{
    store_op op = {.kind = kind, .app = f->app};
    op.u.friends.user = a;
    op.u.friends.other = b;
    op.u.friends.created_ms = 1;
    int rc = run_op(f->s, &op);
    if (changed)
        *changed = op.u.friends.changed;
    return rc;
}

static void friends_of(fx *f, const char *user, char *out, size_t outsz)
{
    static strlist l;
    l.n = 0;
    assert_int_equal(store_friends(f->r, f->app, user, collect_str, &l), TERN_OK);
    out[0] = 0;
    for (int i = 0; i < l.n; i++)
        snprintf(out + strlen(out), outsz - strlen(out), "%s%s", i ? "," : "", l.items[i]);
}

static void test_friends(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", NULL});
    int changed = -1;
    char l[256];
    assert_int_equal(store_is_friend(f->r, f->app, "alice", "bob"), 0);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "alice", "bob", &changed), TERN_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "bob", "alice", &changed), TERN_OK); /* already */
    assert_int_equal(changed, 0);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "carol", "alice", NULL), TERN_OK);
    assert_int_equal(store_is_friend(f->r, f->app, "alice", "bob"), 1);
    assert_int_equal(store_is_friend(f->r, f->app, "bob", "alice"), 1); /* both ways */
    assert_int_equal(store_is_friend(f->r, f->app, "bob", "carol"), 0);
    friends_of(f, "alice", l, sizeof l);
    assert_string_equal(l, "bob,carol");
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "alice", "alice", NULL), TERN_ERR_FRIEND_SELF);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "alice", "nobody", NULL), TERN_ERR_USER_NOT_FOUND);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "nobody", "alice", NULL), TERN_ERR_USER_NOT_FOUND);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "alice", "", NULL), TERN_ERR_BAD_FIELD);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_DELETE, "bob", "alice", &changed), TERN_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_DELETE, "bob", "alice", &changed), TERN_OK); /* not friends */
    assert_int_equal(changed, 0);
    assert_int_equal(store_is_friend(f->r, f->app, "alice", "bob"), 0);
    friends_of(f, "bob", l, sizeof l);
    assert_string_equal(l, "");

    /* A deleted user's friendships go on both sides. */
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "bob", "carol", NULL), TERN_OK);
    assert_int_equal(user_op(f, STORE_OP_DELETE_USER, "carol", NULL), TERN_OK);
    friends_of(f, "alice", l, sizeof l);
    assert_string_equal(l, "");
    friends_of(f, "bob", l, sizeof l);
    assert_string_equal(l, "");
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "carol", NULL), TERN_OK);
    friends_of(f, "carol", l, sizeof l);
    assert_string_equal(l, "");
}

static void test_friends_limit(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"hub", "late", NULL});
    char name[32];
    for (int i = 0; i < STORE_FRIENDS_MAX; i++) {
        snprintf(name, sizeof name, "u%04d", i);
        assert_int_equal(user_op(f, STORE_OP_CREATE_USER, name, NULL), TERN_OK);
        assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, i % 2 ? "hub" : name, i % 2 ? name : "hub", NULL),
                         TERN_OK);
    }
    /* hub is full, whichever side asks; nothing of the refused adds stays */
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "hub", "late", NULL), TERN_ERR_FRIENDS_FULL);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "late", "hub", NULL), TERN_ERR_FRIENDS_FULL);
    assert_int_equal(store_is_friend(f->r, f->app, "hub", "late"), 0);
    assert_int_equal(store_is_friend(f->r, f->app, "late", "hub"), 0);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_DELETE, "hub", "u0000", NULL), TERN_OK);
    assert_int_equal(friend_op(f, STORE_OP_FRIEND_ADD, "late", "hub", NULL), TERN_OK);
}

static void test_delete_user(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", NULL});
    const char *members[] = {"bob", "carol"};
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g", "alice", members, 2, NULL), TERN_OK);
    send1(f, "alice", "bob", 0, NULL, NULL);
    send1(f, "bob", "g", 1, NULL, NULL);

    /* Delete bob in the same batch as messages around it. */
    msgreq before, after;
    msg_init(&before, f->app, "alice", "bob", 0, NULL, "before");
    msg_init(&after, f->app, "carol", "g", 1, NULL, "after");
    store_op del = {.kind = STORE_OP_DELETE_USER, .app = f->app};
    del.u.user.user = "bob";
    /* bob's own message left a pending read position; after the delete, his
     * conversation must be gone for a mark-read in the same batch too. */
    msgreq own;
    msg_init(&own, f->app, "bob", "alice", 0, NULL, "bye");
    store_op rd = {.kind = STORE_OP_MARK_READ, .app = f->app};
    rd.u.read.user = "bob";
    rd.u.read.conv_key = own.conv_key;
    rd.u.read.seq = 1;
    store_op *ops[] = {&before.op, &own.op, &del, &rd, &after.op};
    run_together(f->s, ops, 5);
    assert_int_equal(before.op.result, TERN_OK);
    assert_int_equal(own.op.result, TERN_OK);
    assert_int_equal(del.result, TERN_OK);
    assert_int_equal(rd.result, TERN_ERR_NOT_FOUND);
    assert_int_equal(after.op.result, TERN_OK);
    msg_release(&own);
    msg_release(&before);
    msg_release(&after);

    assert_int_equal(store_user_exists(f->r, f->app, "bob"), 0);
    convlist cl = {.n = 0};
    assert_int_equal(store_conversations(f->r, f->app, "bob", 10, collect_conv, &cl), TERN_OK);
    assert_int_equal(cl.n, 0);
    strlist l = {.n = 0};
    assert_int_equal(store_user_groups(f->r, f->app, "bob", collect_str, &l), TERN_OK);
    assert_int_equal(l.n, 0);
    store_group g;
    assert_int_equal(store_group_get(f->r, f->app, "g", &g), TERN_OK);
    assert_int_equal(g.member_count, 2);
    convrow c = {0};
    assert_int_equal(conv_of(f, "alice", c2c("alice", "bob"), &c), TERN_OK); /* the peer keeps hers */
    assert_int_equal(c.last_seq, 3);
    tern_buf b;
    tern_buf_init(&b, 0);
    int more;
    assert_int_equal(store_history(f->r, f->app, c2c("alice", "bob"), 0, 10, &b, &more), TERN_OK);
    uint64_t seqs[8];
    assert_int_equal(parse_seqs(b.data, b.len, seqs, 8), 3); /* messages stay */
    tern_buf_free(&b);

    /* A new bob gets a conversation row again on the next message. */
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "bob", NULL), TERN_OK);
    assert_int_equal(send1(f, "alice", "bob", 0, NULL, NULL), 4);
    assert_int_equal(conv_of(f, "bob", c2c("alice", "bob"), &c), TERN_OK);
    assert_int_equal(c.last_seq, 4);
    assert_int_equal(c.read_seq, 0);
}

/* Business errors inside a batch do not disturb the other ops of that batch. */
static void test_mixed_batch(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    msgreq m1, m2;
    msg_init(&m1, f->app, "alice", "bob", 0, "k1", "one");
    msg_init(&m2, f->app, "bob", "alice", 0, "k1", "two");
    store_op dup = {.kind = STORE_OP_CREATE_USER, .app = f->app};
    dup.u.user.user = "alice";
    store_op nog = {.kind = STORE_OP_DISMISS_GROUP, .app = f->app};
    nog.u.group.group_id = "missing";
    store_op bad = {.kind = STORE_OP_MESSAGE, .app = f->app}; /* no conversation key */
    store_op *ops[] = {&m1.op, &dup, &nog, &bad, &m2.op};
    run_together(f->s, ops, 5);
    assert_int_equal(m1.op.result, TERN_OK);
    assert_int_equal(dup.result, TERN_ERR_CONFLICT);
    assert_int_equal(nog.result, TERN_ERR_GROUP_NOT_FOUND);
    assert_int_equal(bad.result, TERN_ERR_BAD_FIELD);
    assert_null(bad.u.msg.json);
    assert_int_equal(m2.op.result, TERN_OK);
    assert_int_equal(m2.op.u.msg.seq, 2);
    msg_release(&m1);
    msg_release(&m2);
}

/* Everything survives a close and reopen; seqs and ids go on from where they were. */
static void test_reopen(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", "carol", NULL});
    const char *members[] = {"bob"};
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "g", "alice", members, 1, NULL), TERN_OK);
    uint64_t id = 0;
    for (int i = 0; i < 7; i++)
        send1(f, "alice", "bob", 0, "same", &id); /* one message, six resends */
    for (int i = 0; i < 4; i++)
        send1(f, "bob", "alice", 0, NULL, &id);
    send1(f, "carol", "g", 1, NULL, NULL); /* not a member: no row of her own is created */
    send1(f, "bob", "g", 1, NULL, &id);
    assert_int_equal(mark_read(f, "alice", c2c("alice", "bob"), 3, NULL, NULL), TERN_OK);
    uint64_t last = store_last_id(f->s);
    assert_int_equal(last, id);

    fx_close(f);
    fx_open(f, 64, 0);

    assert_int_equal(store_last_id(f->s), last);
    store_app a;
    assert_int_equal(store_app_get(f->r, "acme", "chat", &a), TERN_OK);
    assert_int_equal(a.id, f->app);
    assert_int_equal(store_user_exists(f->r, f->app, "carol"), 1);
    store_group g;
    assert_int_equal(store_group_get(f->r, f->app, "g", &g), TERN_OK);
    assert_int_equal(g.member_count, 2);
    convrow c = {0};
    assert_int_equal(conv_of(f, "alice", c2c("alice", "bob"), &c), TERN_OK);
    assert_int_equal(c.read_seq, 3);
    assert_int_equal(c.last_seq, 5);
    assert_int_equal(conv_of(f, "bob", c2c("alice", "bob"), &c), TERN_OK);
    assert_int_equal(c.read_seq, 5);
    assert_int_equal(conv_of(f, "bob", gkey("g"), &c), TERN_OK);
    assert_int_equal(c.read_seq, 2);
    assert_int_equal(c.last_seq, 2);
    assert_int_equal(conv_of(f, "carol", gkey("g"), &c), TERN_ERR_NOT_FOUND);

    /* The resend after a restart is still recognised; new messages continue the seqs. */
    msgreq m;
    msg_init(&m, f->app, "alice", "bob", 0, "same", "again");
    assert_int_equal(run_op(f->s, &m.op), TERN_OK);
    assert_int_equal(m.op.u.msg.duplicate, 1);
    assert_int_equal(m.op.u.msg.seq, 1);
    msg_release(&m);
    uint64_t nid;
    assert_int_equal(send1(f, "alice", "bob", 0, NULL, &nid), 6);
    assert_true(nid > last);
    assert_int_equal(send1(f, "alice", "g", 1, NULL, NULL), 3);
    assert_true(store_last_id(f->s) > nid);
}

/* Four threads submit at once: every op completes exactly once, and every
 * conversation's seqs are 1..n without gaps, in each thread's submission order. */
enum { CT_THREADS = 4, CT_PER = 2500, CT_CONVS = 4 };

typedef struct ctarg {
    fx *f;
    msgreq *reqs;
    int t;
    int submit_errors;
} ctarg;

static const char *ct_users[] = {"u0", "u1", "u2", "u3", "u4"};

static void *ct_main(void *p)
{
    ctarg *a = p;
    for (int i = 0; i < CT_PER; i++) {
        msgreq *m = &a->reqs[i];
        int conv = (i + a->t) % CT_CONVS;
        char cid[32];
        snprintf(cid, sizeof cid, "t%d-%d", a->t, i % 2000); /* the last 500 resend */
        /* conversation c is u_c <-> u_(c+1); the sender alternates */
        const char *x = ct_users[conv], *y = ct_users[conv + 1];
        msg_init(m, a->f->app, i & 1 ? x : y, i & 1 ? y : x, 0, cid, "ct");
        int rc;
        while ((rc = store_submit(a->f->s, &m->op)) == TERN_ERR_OVERLOADED)
            usleep(100);
        if (rc != TERN_OK)
            a->submit_errors++;
    }
    return NULL;
}

static void test_concurrent_submitters(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"u0", "u1", "u2", "u3", "u4", NULL});
    msgreq *reqs = calloc((size_t)CT_THREADS * CT_PER, sizeof *reqs);
    pthread_t th[CT_THREADS];
    ctarg args[CT_THREADS];
    size_t base = done_count();
    for (int t = 0; t < CT_THREADS; t++) {
        args[t] = (ctarg){.f = f, .reqs = reqs + (size_t)t * CT_PER, .t = t};
        assert_int_equal(pthread_create(&th[t], NULL, ct_main, &args[t]), 0);
    }
    for (int t = 0; t < CT_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].submit_errors, 0);
    }
    wait_done(base + (size_t)CT_THREADS * CT_PER);

    uint64_t count[CT_CONVS] = {0};
    unsigned char *seen[CT_CONVS];
    for (int c = 0; c < CT_CONVS; c++)
        seen[c] = calloc((size_t)CT_THREADS * CT_PER + 2, 1);
    for (int t = 0; t < CT_THREADS; t++) {
        uint64_t prev[CT_CONVS] = {0};
        for (int i = 0; i < CT_PER; i++) {
            msgreq *m = &reqs[(size_t)t * CT_PER + (size_t)i];
            int conv = (i + t) % CT_CONVS;
            assert_int_equal(m->t.calls, 1);
            assert_int_equal(m->op.result, TERN_OK);
            uint64_t seq = m->op.u.msg.seq;
            assert_true(seq >= 1 && seq <= (uint64_t)CT_THREADS * CT_PER);
            if (i >= 2000) {
                /* A resend of this thread's message i - 2000 (same sender, same client id). */
                msgreq *orig = m - 2000;
                assert_int_equal(m->op.u.msg.duplicate, 1);
                assert_int_equal(m->op.u.msg.msg_id, orig->op.u.msg.msg_id);
                assert_int_equal(seq, orig->op.u.msg.seq);
            } else {
                assert_int_equal(m->op.u.msg.duplicate, 0);
                assert_int_equal(seen[conv][seq], 0);
                seen[conv][seq] = 1;
                count[conv]++;
                assert_true(seq > prev[conv]); /* FIFO per submitter */
                prev[conv] = seq;
            }
            msg_release(m);
        }
    }
    uint64_t total = 0;
    for (int c = 0; c < CT_CONVS; c++) {
        for (uint64_t s = 1; s <= count[c]; s++)
            assert_int_equal(seen[c][s], 1); /* gap-free */
        total += count[c];
        convrow cr;
        assert_int_equal(conv_of(f, ct_users[c], c2c(ct_users[c], ct_users[c + 1]), &cr), TERN_OK);
        assert_int_equal(cr.last_seq, count[c]);
        free(seen[c]);
    }
    assert_int_equal(total, (uint64_t)CT_THREADS * 2000);
    free(reqs);
}

/* store_close commits everything still queued and runs every callback. */
static void test_close_drains(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    enum { N = 5000 };
    msgreq *m = calloc(N, sizeof *m);
    size_t base = done_count();
    for (int i = 0; i < N; i++) {
        msg_init(&m[i], f->app, "alice", "bob", 0, NULL, "drain");
        assert_int_equal(store_submit(f->s, &m[i].op), TERN_OK);
    }
    fx_close(f); /* no waiting first */
    assert_int_equal(done_count(), base + N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(m[i].t.calls, 1);
        assert_int_equal(m[i].op.result, TERN_OK);
        assert_int_equal(m[i].op.u.msg.seq, (uint64_t)i + 1);
        msg_release(&m[i]);
    }
    free(m);
    fx_open(f, 64, 0);
    convrow c = {0};
    assert_int_equal(conv_of(f, "bob", c2c("alice", "bob"), &c), TERN_OK);
    assert_int_equal(c.last_seq, N);
}

/* The queue ceiling counts ops until they complete. */
static int setup_small_queue(void **state)
{
    return setup_with(state, 64, 5);
}

static void test_queue_ceiling(void **state)
{
    fx *f = *state;
    /* Twice: the count must come back down exactly after every batch. */
    for (int round = 0; round < 2; round++) {
        track tr[6];
        memset(tr, 0, sizeof tr);
        store_op ops[6];
        char names[6][32];
        size_t base = done_count();
        for (int i = 0; i < 6; i++) {
            snprintf(names[i], sizeof names[i], "q%d-%d", round, i);
            ops[i] = (store_op){.kind = STORE_OP_CREATE_USER, .app = f->app, .ud = &tr[i], .done = on_done};
            ops[i].u.user.user = names[i];
        }
        gate_close(f->s, &ops[0]); /* 1 op in flight */
        int rcs[6];
        for (int i = 1; i < 6; i++)
            rcs[i] = store_submit(f->s, &ops[i]);
        gate_release(); /* before asserting, so a failure cannot leave the writer held */
        size_t ok = 1;
        for (int i = 1; i < 6; i++)
            ok += rcs[i] == TERN_OK;
        wait_done(base + ok);
        for (int i = 1; i < 5; i++)
            assert_int_equal(rcs[i], TERN_OK);
        assert_int_equal(rcs[5], TERN_ERR_OVERLOADED);
        assert_int_equal(tr[5].calls, 0); /* refused ops are never called back */
        for (int i = 0; i < 5; i++) {
            assert_int_equal(tr[i].calls, 1);
            assert_int_equal(ops[i].result, TERN_OK);
        }
        /* The count drops right after a batch's callbacks: one more op has room. */
        ops[5].done = on_done;
        assert_int_equal(run_op(f->s, &ops[5]), TERN_OK);
    }
}

/* A batch that fails (here: another connection holds the write lock past the busy
 * timeout) is rolled back whole: every op gets TERN_ERR_STORE, nothing is stored, and the
 * next message takes the seq the failed one would have had. */
static void test_failed_batch(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    assert_int_equal(send1(f, "alice", "bob", 0, NULL, NULL), 1);
    uint64_t last = store_last_id(f->s);

    char path[128];
    snprintf(path, sizeof path, "%s/tern.db", f->dir);
    sqlite3 *blocker;
    assert_int_equal(sqlite3_open(path, &blocker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    msgreq m1, m2;
    msg_init(&m1, f->app, "alice", "bob", 0, "retry-me", "lost");
    msg_init(&m2, f->app, "bob", "alice", 0, NULL, "lost too");
    store_op mk = {.kind = STORE_OP_CREATE_USER, .app = f->app};
    mk.u.user.user = "carol";
    store_op *ops[] = {&m1.op, &mk, &m2.op};
    run_together(f->s, ops, 3); /* takes the writer's busy timeout (5 s) */
    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ops[i]->result, TERN_ERR_STORE);
    assert_null(m1.op.u.msg.json);
    assert_null(m2.op.u.msg.json);
    assert_int_equal(store_last_id(f->s), last);
    assert_int_equal(store_user_exists(f->r, f->app, "carol"), 0);

    /* Nothing was acknowledged: the resend is a new message with the next seq. */
    msgreq again;
    msg_init(&again, f->app, "alice", "bob", 0, "retry-me", "lost");
    assert_int_equal(run_op(f->s, &again.op), TERN_OK);
    assert_int_equal(again.op.u.msg.duplicate, 0);
    assert_int_equal(again.op.u.msg.seq, 2);
    msg_release(&again);
    assert_int_equal(send1(f, "bob", "alice", 0, NULL, NULL), 3);
    convrow c = {0};
    assert_int_equal(conv_of(f, "bob", c2c("alice", "bob"), &c), TERN_OK);
    assert_int_equal(c.read_seq, 3);
    assert_int_equal(c.last_seq, 3);
}

/* Fault injection through triggers added by another connection: a statement failing in
 * the middle of a batch, and one failing while the batch's coalesced writes are flushed
 * before COMMIT. Either way the whole batch is rolled back and reported as TERN_ERR_STORE,
 * and the writer's caches forget the seqs it had handed out. */
static void test_injected_failures(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    const char *key = c2c("alice", "bob");
    assert_int_equal(send1(f, "alice", "bob", 0, NULL, NULL), 1);
    uint64_t last = store_last_id(f->s);

    char path[128];
    snprintf(path, sizeof path, "%s/tern.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER boom BEFORE INSERT ON users WHEN NEW.user='boom'"
                                  " BEGIN SELECT RAISE(ABORT,'injected'); END;"
                                  "CREATE TRIGGER read_upd BEFORE UPDATE ON user_convs WHEN NEW.read_seq>=5"
                                  " BEGIN SELECT RAISE(ABORT,'injected'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);

    /* 1: a statement in the middle of the batch fails, after two messages were written. */
    msgreq m1, m2, m3;
    msg_init(&m1, f->app, "alice", "bob", 0, "c-1", "one");
    msg_init(&m2, f->app, "bob", "alice", 0, NULL, "two");
    msg_init(&m3, f->app, "alice", "bob", 0, NULL, "three");
    store_op boom = {.kind = STORE_OP_CREATE_USER, .app = f->app};
    boom.u.user.user = "boom";
    store_op rd = {.kind = STORE_OP_MARK_READ, .app = f->app};
    rd.u.read.user = "alice", rd.u.read.conv_key = key, rd.u.read.seq = 3;
    store_op *ops[] = {&m1.op, &m2.op, &rd, &boom, &m3.op};
    run_together(f->s, ops, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ops[i]->result, TERN_ERR_STORE);
    assert_null(m1.op.u.msg.json);
    assert_null(m2.op.u.msg.json);
    assert_int_equal(store_last_id(f->s), last);
    convrow c = {0};
    assert_int_equal(conv_of(f, "alice", key, &c), TERN_OK);
    assert_int_equal(c.last_seq, 1);
    assert_int_equal(c.read_seq, 1);
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 0);

    /* The next messages take seqs 2, 3, ...: no gap, and the client id is free. */
    msg_init(&m1, f->app, "alice", "bob", 0, "c-1", "one");
    assert_int_equal(run_op(f->s, &m1.op), TERN_OK);
    assert_int_equal(m1.op.u.msg.duplicate, 0);
    assert_int_equal(m1.op.u.msg.seq, 2);
    msg_release(&m1);
    assert_int_equal(send1(f, "bob", "alice", 0, NULL, NULL), 3);

    /* 2: the flush of the batch's read positions before COMMIT fails (the sender's read
     * position 5 is refused by the trigger). */
    msg_init(&m1, f->app, "alice", "bob", 0, NULL, "four");
    msg_init(&m2, f->app, "bob", "alice", 0, NULL, "five");
    store_op *ops2[] = {&m1.op, &m2.op};
    run_together(f->s, ops2, 2);
    assert_int_equal(m1.op.result, TERN_ERR_STORE);
    assert_int_equal(m2.op.result, TERN_ERR_STORE);
    assert_null(m1.op.u.msg.json);
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER read_upd; DROP TRIGGER boom", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(send1(f, "alice", "bob", 0, NULL, NULL), 4);
    assert_int_equal(send1(f, "bob", "alice", 0, NULL, NULL), 5);
    assert_int_equal(user_op(f, STORE_OP_CREATE_USER, "boom", NULL), TERN_OK);

    tern_buf b;
    tern_buf_init(&b, 0);
    int more;
    uint64_t seqs[16];
    assert_int_equal(store_history(f->r, f->app, key, 0, 16, &b, &more), TERN_OK);
    assert_int_equal(parse_seqs(b.data, b.len, seqs, 16), 5);
    tern_buf_free(&b);
    assert_int_equal(conv_of(f, "bob", key, &c), TERN_OK);
    assert_int_equal(c.read_seq, 5);
    assert_int_equal(c.last_seq, 5);
}

/* Streamed messages in the store: the first chunk stores the message (its seq) and opens
 * the stream; chunks append; reads rebuild the text so far (history, messages_after,
 * the conversation's last message, message_get); the finish rewrites the message once
 * and closes the stream; an end closes with endCode; a chunk of a closed stream is
 * 14031; streams_open lists what is open. */
static void count_open(void *ud, const store_stream *x)
{
    int *n = ud;
    (*n)++;
    assert_true(x->msg_id > 0 && x->conv_key && x->sender && x->peer);
}

static int chunk_op(fx *f, store_op_kind kind, uint64_t id, int64_t seq, const char *text, int finish, int end_code,
                    char **json)
{
    store_op op = {.kind = kind, .app = f->app, .done = on_done};
    op.u.chunk.msg_id = id;
    op.u.chunk.seq = seq;
    op.u.chunk.text = text;
    op.u.chunk.len = text ? strlen(text) : 0;
    op.u.chunk.finish = finish;
    op.u.chunk.end_code = end_code;
    int rc = run_op(f->s, &op);
    if (json)
        *json = op.u.chunk.json;
    else
        tern_free(op.u.chunk.json);
    return rc;
}

static uint64_t open_stream(fx *f, const char *text, uint64_t *seq)
{
    msgreq m;
    msg_init(&m, f->app, "bot", "g1", 1, NULL, "");
    static char head[256], fields[512];
    snprintf(head, sizeof head, "\"conversationType\":\"GROUP\",\"from\":\"bot\",\"to\":\"g1\"");
    snprintf(fields, sizeof fields,
             "%s,\"payload\":{\"text\":\"%s\"},\"stream\":{\"format\":\"text\",\"state\":\"open\",\"lastSeq\":0}", head,
             text);
    m.op.u.msg.fields = fields;
    m.op.u.msg.fields_len = strlen(fields);
    m.op.u.msg.no_sender_read = 1;
    m.op.u.msg.stream_open = 1;
    m.op.u.msg.stream_format = 1;
    m.op.u.msg.stream_head = head;
    m.op.u.msg.stream_head_len = strlen(head);
    m.op.u.msg.chunk_seq = 0;
    m.op.u.msg.chunk_text = text;
    m.op.u.msg.chunk_len = strlen(text);
    assert_int_equal(run_op(f->s, &m.op), TERN_OK);
    uint64_t id = m.op.u.msg.msg_id;
    if (seq)
        *seq = m.op.u.msg.seq;
    msg_release(&m);
    return id;
}

static void test_streams(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", NULL});
    store_op g = {.kind = STORE_OP_CREATE_GROUP, .app = f->app, .done = on_done};
    g.u.group.group_id = "g1";
    g.u.group.owner = "alice";
    assert_int_equal(run_op(f->s, &g), TERN_OK);
    uint64_t seq = 0;
    uint64_t id = open_stream(f, "He", &seq);
    assert_int_equal(seq, 1);
    assert_int_equal(chunk_op(f, STORE_OP_STREAM_CHUNK, id, 1, "llo \"w", 0, 0, NULL), TERN_OK);
    assert_int_equal(chunk_op(f, STORE_OP_STREAM_CHUNK, id, 4, "orld\"", 0, 0, NULL), TERN_OK);
    int n = 0;
    assert_int_equal(store_streams_open(f->r, count_open, &n), TERN_OK);
    assert_int_equal(n, 1);

    /* Every read gives the text so far. */
    tern_buf b;
    tern_buf_init(&b, 0);
    int more;
    assert_int_equal(store_history(f->r, f->app, "g:g1", 0, 10, &b, &more), TERN_OK);
    assert_non_null(strstr(b.data, "\"payload\":{\"text\":\"Hello \\\"world\\\"\"},\"stream\":{\"format\":\"text\","
                                   "\"state\":\"open\",\"lastSeq\":4}"));
    tern_buf_reset(&b);
    uint64_t last = 0;
    assert_int_equal(store_messages_after(f->r, f->app, "g:g1", 0, 10, &b, &more, &last), TERN_OK);
    assert_non_null(strstr(b.data, "Hello \\\"world\\\""));
    assert_int_equal(last, 1);
    tern_buf_reset(&b);
    assert_int_equal(store_message_get(f->r, f->app, id, &b), TERN_OK);
    assert_non_null(strstr(b.data, "\"lastSeq\":4"));
    assert_int_equal(store_message_get(f->r, f->app + 1, id, &b), TERN_ERR_NOT_FOUND);
    tern_buf_reset(&b);

    /* The finish rewrites the message once; the stream is closed. */
    char *json = NULL;
    assert_int_equal(chunk_op(f, STORE_OP_STREAM_CHUNK, id, 5, "!", 1, 0, &json), TERN_OK);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"text\":\"Hello \\\"world\\\"!\"},\"stream\":{\"format\":\"text\",\"state\":"
                                 "\"finished\",\"lastSeq\":5}"));
    tern_free(json);
    assert_int_equal(store_history(f->r, f->app, "g:g1", 0, 10, &b, &more), TERN_OK);
    assert_non_null(strstr(b.data, "\"state\":\"finished\""));
    tern_buf_reset(&b);
    assert_int_equal(chunk_op(f, STORE_OP_STREAM_CHUNK, id, 6, "x", 0, 0, NULL), TERN_ERR_STREAM_NOT_FOUND);
    n = 0;
    assert_int_equal(store_streams_open(f->r, count_open, &n), TERN_OK);
    assert_int_equal(n, 0);

    /* An end closes with its code; the text so far stays. */
    uint64_t id2 = open_stream(f, "partial", &seq);
    assert_int_equal(seq, 2);
    assert_int_equal(chunk_op(f, STORE_OP_STREAM_END, id2, 0, NULL, 0, 14033, &json), TERN_OK);
    assert_non_null(strstr(json, "\"text\":\"partial\"},\"stream\":{\"format\":\"text\",\"state\":\"ended\","
                                 "\"lastSeq\":0,\"endCode\":14033}"));
    tern_free(json);
    assert_int_equal(chunk_op(f, STORE_OP_STREAM_END, id2, 0, NULL, 0, 14033, NULL), TERN_ERR_STREAM_NOT_FOUND);
    /* Survives a reopen, as stored. */
    fx_close(f);
    fx_open(f, 64, 0);
    assert_int_equal(store_history(f->r, f->app, "g:g1", 0, 10, &b, &more), TERN_OK);
    assert_non_null(strstr(b.data, "\"endCode\":14033"));
    assert_non_null(strstr(b.data, "Hello \\\"world\\\"!"));
    tern_buf_free(&b);
}

/* The schema version: a fresh store is at the newest version; an older database is
 * migrated on open (version 1 -> 2 rebuilds the idempotency index, 2 -> 3 keys messages
 * by msg_id, 3 -> 4 drops convs and meta, which messages answers for); a newer one is
 * refused rather than misread. */
/* The newest schema version (sqlite_db.c's migrations[]). */
#define SCHEMA_NEWEST 14
#define SCHEMA_NEWEST_S "14"

static int user_version(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static void test_schema_versions(void **state)
{
    fx *f = *state;
    mk_users(f, (const char *[]){"alice", "bob", NULL});
    send1(f, "alice", "bob", 0, "v1", NULL);
    fx_close(f);
    char path[128];
    snprintf(path, sizeof path, "%s/tern.db", f->dir);
    assert_int_equal(user_version(path), SCHEMA_NEWEST);

    /* Put the database back to version 1's layout, as a version-1 ternd left it: a
     * WITHOUT ROWID messages table clustered by conversation, its (app, sender,
     * client_msg_id) index and the (app, msg_id) index, with the stored message; users
     * and groups without the Easemob columns of version 5, no media table (7), no
     * app_settings (9), no receipt tables (10). */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TEMP TABLE keep AS SELECT * FROM messages;"
                     "DROP TABLE messages; DROP TABLE streams; DROP TABLE stream_chunks; DROP TABLE media;"
                     "DROP TABLE app_settings; DROP TABLE msg_receivers;"
                     "DROP TABLE receipt_msgs; DROP TABLE receipt_members; DROP TABLE receipt_reads;"
                     "DROP TABLE moderation_keywords; DROP TABLE merger; DROP TABLE msg_ext; DROP TABLE friends;"
                     "CREATE TEMP TABLE uckeep AS SELECT app,user,conv_key,peer,read_seq FROM user_convs;"
                     "DROP TABLE user_convs;"
                     "CREATE TABLE user_convs("
                     "  app INTEGER NOT NULL, user TEXT NOT NULL, conv_key TEXT NOT NULL, peer TEXT NOT NULL,"
                     "  read_seq INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(app, user, conv_key)) WITHOUT ROWID;"
                     "INSERT INTO user_convs SELECT * FROM uckeep;"
                     "CREATE TABLE messages("
                     "  app INTEGER NOT NULL, conv_key TEXT NOT NULL, seq INTEGER NOT NULL,"
                     "  msg_id INTEGER NOT NULL, sender TEXT NOT NULL, client_msg_id TEXT,"
                     "  time_ms INTEGER NOT NULL, body TEXT NOT NULL,"
                     "  PRIMARY KEY(app, conv_key, seq)) WITHOUT ROWID;"
                     "CREATE UNIQUE INDEX messages_client_id ON messages(app, sender, client_msg_id)"
                     " WHERE client_msg_id IS NOT NULL;"
                     "CREATE INDEX messages_msg_id ON messages(app, msg_id);"
                     "CREATE TABLE convs("
                     "  app INTEGER NOT NULL, conv_key TEXT NOT NULL, is_group INTEGER NOT NULL,"
                     "  last_seq INTEGER NOT NULL, last_msg_id INTEGER NOT NULL,"
                     "  last_time_ms INTEGER NOT NULL, PRIMARY KEY(app, conv_key)) WITHOUT ROWID;"
                     "INSERT INTO messages(app,conv_key,seq,msg_id,sender,client_msg_id,time_ms,body)"
                     " SELECT app,conv_key,seq,msg_id,sender,client_msg_id,time_ms,body FROM keep;"
                     "CREATE TEMP TABLE ukeep AS SELECT app,user,nickname,created_ms FROM users;"
                     "DROP TABLE users;"
                     "CREATE TABLE users(app INTEGER NOT NULL, user TEXT NOT NULL, nickname TEXT,"
                     "  created_ms INTEGER NOT NULL, PRIMARY KEY(app, user)) WITHOUT ROWID;"
                     "INSERT INTO users SELECT * FROM ukeep;"
                     "DROP TABLE groups;"
                     "CREATE TABLE groups(app INTEGER NOT NULL, group_id TEXT NOT NULL, name TEXT,"
                     "  owner TEXT, created_ms INTEGER NOT NULL, dismissed INTEGER NOT NULL DEFAULT 0,"
                     "  PRIMARY KEY(app, group_id)) WITHOUT ROWID;"
                     "PRAGMA user_version=1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    fx_open(f, 64, 0);
    assert_int_equal(user_version(path), SCHEMA_NEWEST);
    /* Users of before version 5 got a uuid and a modification time (collect_user checks). */
    static strlist l; /* 19 KiB: off the stack */
    assert_int_equal(store_user_list(f->r, f->app, NULL, 10, collect_user, &l), TERN_OK);
    assert_int_equal(l.n, 2);
    msgreq m;
    msg_init(&m, f->app, "alice", "bob", 0, "v1", "resend"); /* still recognised */
    assert_int_equal(run_op(f->s, &m.op), TERN_OK);
    assert_int_equal(m.op.u.msg.duplicate, 1);
    assert_int_equal(m.op.u.msg.seq, 1);
    msg_release(&m);
    msg_init(&m, f->app, "alice", "bob", 0, "v3", "after"); /* the next seq follows */
    assert_int_equal(run_op(f->s, &m.op), TERN_OK);
    assert_int_equal(m.op.u.msg.duplicate, 0);
    assert_int_equal(m.op.u.msg.seq, 2);
    msg_release(&m);
    fx_close(f);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name='messages_client_id'", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 0), "(app, client_msg_id, sender)"));
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name='messages'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 0), "msg_id INTEGER PRIMARY KEY"));
    sqlite3_finalize(st);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('convs','meta')", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), min(seq), max(seq) FROM messages", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    assert_int_equal(sqlite3_column_int(st, 2), 2);
    sqlite3_finalize(st);

    /* A database from a newer ternd. */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char err[256] = "";
    store_options o = {.data_dir = f->dir};
    assert_null(store_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(user_version(path), 99);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=" SCHEMA_NEWEST_S, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    fx_open(f, 64, 0); /* for teardown */
}

/* Easemob's fields (schema 5): a user's password hash and uuid come back from
 * store_user_get; a group keeps description, public, maxusers and attrs, and no add
 * passes maxusers (nobody of the op is added). */
static void get_user(void *ud, const store_user *u)
{
    store_user *out = ud;
    static char uuid[40], pw[200];
    snprintf(uuid, sizeof uuid, "%s", u->uuid);
    snprintf(pw, sizeof pw, "%s", u->password ? u->password : "(none)");
    *out = *u;
    out->uuid = uuid;
    out->password = pw;
    out->user = out->nickname = NULL; /* not kept past the call */
}

static void test_easemob_fields(void **state)
{
    fx *f = *state;
    store_op op = {.kind = STORE_OP_CREATE_USER, .app = f->app};
    op.u.user.user = "pat";
    op.u.user.password = "scrypt$32768$8$1$c2FsdA$aGFzaA";
    assert_int_equal(run_op(f->s, &op), TERN_OK);
    store_user u = {0};
    assert_int_equal(store_user_get(f->r, f->app, "pat", get_user, &u), TERN_OK);
    assert_string_equal(u.password, "scrypt$32768$8$1$c2FsdA$aGFzaA");
    assert_int_equal(strlen(u.uuid), 36);
    char uuid[40];
    snprintf(uuid, sizeof uuid, "%s", u.uuid);
    assert_int_equal(store_user_get(f->r, f->app, "pat", get_user, &u), TERN_OK);
    assert_string_equal(u.uuid, uuid); /* stable */
    assert_int_equal(store_user_get(f->r, f->app, "nobody", get_user, &u), TERN_ERR_USER_NOT_FOUND);

    mk_users(f, (const char *[]){"o", "a", "b", "c", NULL});
    store_op g = {.kind = STORE_OP_CREATE_GROUP, .app = f->app};
    const char *members[] = {"a"};
    g.u.group.group_id = "g1";
    g.u.group.owner = "o";
    g.u.group.members = members;
    g.u.group.nmembers = 1;
    g.u.group.description = "desc";
    g.u.group.is_public = 1;
    g.u.group.maxusers = 3;
    g.u.group.attrs = "{\"custom\":\"x\"}";
    assert_int_equal(run_op(f->s, &g), TERN_OK);
    store_group sg;
    assert_int_equal(store_group_get(f->r, f->app, "g1", &sg), TERN_OK);
    assert_string_equal(sg.description, "desc");
    assert_int_equal(sg.is_public, 1);
    assert_int_equal(sg.maxusers, 3);
    assert_string_equal(sg.attrs, "{\"custom\":\"x\"}");
    const char *two[] = {"b", "c"}, *again[] = {"a", "a", "b"};
    size_t changed = 0;
    assert_int_equal(group_op(f, STORE_OP_ADD_MEMBERS, "g1", NULL, two, 2, &changed), TERN_ERR_GROUP_FULL);
    assert_int_equal(store_group_get(f->r, f->app, "g1", &sg), TERN_OK);
    assert_int_equal(sg.member_count, 2);
    /* A member already in (listed twice, even) takes no room: o, a + b = 3. */
    assert_int_equal(group_op(f, STORE_OP_ADD_MEMBERS, "g1", NULL, again, 3, &changed), TERN_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(group_op(f, STORE_OP_ADD_MEMBERS, "g1", NULL, two + 1, 1, &changed), TERN_ERR_GROUP_FULL);
}

/* A media row keeps what the service learned of the file (schema 8): the image facts,
 * the share-secret, and the thumbnails ORed in as they are made. */
static void test_media_rows(void **state)
{
    fx *f = *state;
    store_op op = {.kind = STORE_OP_MEDIA_PUT, .app = f->app};
    op.u.media.id = "0123456789abcdef0123456789abcdef";
    op.u.media.content_type = "image/jpeg";
    op.u.media.file_name = "a.jpg";
    op.u.media.sha256 = "ab";
    op.u.media.size = 1234;
    op.u.media.created_ms = 1000;
    op.u.media.expires_ms = 2000;
    op.u.media.width = 3000;
    op.u.media.height = 4000;
    op.u.media.img_format = 1;
    op.u.media.animated = 1;
    op.u.media.share_secret = "s3cr3t";
    assert_int_equal(run_op(f->s, &op), TERN_OK);
    assert_int_equal(run_op(f->s, &op), TERN_ERR_CONFLICT);
    store_media m;
    assert_int_equal(store_media_get(f->r, f->app, op.u.media.id, &m), TERN_OK);
    assert_int_equal(m.size, 1234);
    assert_int_equal(m.width, 3000);
    assert_int_equal(m.height, 4000);
    assert_int_equal(m.img_format, 1);
    assert_int_equal(m.animated, 1);
    assert_int_equal(m.thumbs, 0);
    assert_string_equal(m.share_secret, "s3cr3t");
    assert_int_equal(store_media_get(f->r, f->app + 1, op.u.media.id, &m), TERN_ERR_NOT_FOUND);

    store_op th = {.kind = STORE_OP_MEDIA_THUMBS, .app = f->app};
    th.u.media.id = op.u.media.id;
    th.u.media.thumbs = STORE_MEDIA_THUMB_198;
    assert_int_equal(run_op(f->s, &th), TERN_OK);
    th.u.media.thumbs = STORE_MEDIA_THUMB_720;
    assert_int_equal(run_op(f->s, &th), TERN_OK);
    assert_int_equal(store_media_get(f->r, f->app, op.u.media.id, &m), TERN_OK);
    assert_int_equal(m.thumbs, STORE_MEDIA_THUMB_198 | STORE_MEDIA_THUMB_720);

    store_op del = {.kind = STORE_OP_MEDIA_DELETE, .app = f->app};
    del.u.media.id = op.u.media.id;
    assert_int_equal(run_op(f->s, &del), TERN_OK);
    assert_int_equal(run_op(f->s, &th), TERN_ERR_NOT_FOUND);
    assert_int_equal(store_media_get(f->r, f->app, op.u.media.id, &m), TERN_ERR_NOT_FOUND);
}

static void collect_setting(void *ud, int64_t app, const char *key, const char *value)
{
    char *out = ud;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%lld:%s=%s;", (long long)app, key, value);
}

/* Per-app settings (schema 9): set, overwritten, removed, per app. */
static void test_app_settings(void **state)
{
    fx *f = *state;
    const char *keys[] = {"mediaMaxBytes", "other"};
    const char *vals[] = {"31457280", "x"};
    store_op op = {.kind = STORE_OP_APP_SETTINGS, .app = f->app};
    op.u.settings.keys = keys;
    op.u.settings.values = vals;
    op.u.settings.n = 2;
    assert_int_equal(run_op(f->s, &op), TERN_OK);
    const char *vals2[] = {"1000", NULL};
    op.u.settings.values = vals2;
    op.app = f->app + 1;
    op.u.settings.n = 1;
    assert_int_equal(run_op(f->s, &op), TERN_OK);
    op.app = f->app;
    op.u.settings.n = 2;
    assert_int_equal(run_op(f->s, &op), TERN_OK); /* "other" removed, the limit changed */
    char got[256] = "";
    assert_int_equal(store_app_settings(f->r, collect_setting, got), TERN_OK);
    char want[256];
    snprintf(want, sizeof want, "%lld:mediaMaxBytes=1000;%lld:mediaMaxBytes=1000;", (long long)f->app,
             (long long)f->app + 1);
    assert_string_equal(got, want);
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[256] = "";
    store_options o = {.data_dir = "/proc/no/such/dir"};
    assert_null(store_open(&o, err, sizeof err));
    assert_true(strlen(err) > 0);
    store_options none = {.data_dir = NULL};
    assert_null(store_open(&none, err, sizeof err));
    store_close(NULL);
    store_reader_close(NULL);
}

/* ---- read receipts (issue 10) --------------------------------------------------------- */

#define RC_MEMBERS 200
#define RC_ROUNDS 10

typedef struct rcpt_track {
    track t; /* first: on_done's */
    size_t hits;
} rcpt_track;

static void rcpt_done(store_op *op)
{
    /* The receipts a read op reports (a zero count would be a bug: 10^6), then the
     * store's array freed. */
    rcpt_track *t = op->ud;
    for (size_t i = 0; i < op->u.read.nrcpts; i++)
        t->hits += op->u.read.rcpts[i].read_count == 0 ? 1000000 : 1;
    tern_free(op->u.read.rcpts);
    op->u.read.rcpts = NULL;
    on_done(op);
}

/* Every member but the sender reads group gid up to seq in one submission; returns the
 * writer's transaction time for it and adds the receipts the ops reported to *hits. */
static uint64_t read_all(fx *f, char (*users)[8], const char *key, uint64_t seq, size_t *hits)
{
    static store_op ops[RC_MEMBERS];
    static store_op *p[RC_MEMBERS];
    static rcpt_track t[RC_MEMBERS];
    for (int i = 1; i < RC_MEMBERS; i++) {
        memset(&ops[i], 0, sizeof ops[i]);
        memset(&t[i], 0, sizeof t[i]);
        ops[i].kind = STORE_OP_MARK_READ;
        ops[i].app = f->app;
        ops[i].done = rcpt_done;
        ops[i].ud = &t[i];
        ops[i].u.read.user = users[i];
        ops[i].u.read.conv_key = key;
        ops[i].u.read.seq = seq;
        p[i - 1] = &ops[i];
    }
    store_stats a, b;
    store_get_stats(f->s, &a);
    run_ops(f->s, p, RC_MEMBERS - 1);
    store_get_stats(f->s, &b);
    for (int i = 1; i < RC_MEMBERS; i++)
        *hits += t[i].hits;
    return b.commit_ns - a.commit_ns;
}

/* A 200-member group: a needReadReceipt message counts each member who reads past it
 * once (read again: nothing), the readers and non-readers list right, a message
 * without it reports nothing; and what marking read costs with receipts against plain
 * marks, printed for docs/performance.md. */
static void test_receipts(void **state)
{
    fx *f = *state;
    static char users[RC_MEMBERS][8];
    static const char *names[RC_MEMBERS + 1];
    for (int i = 0; i < RC_MEMBERS; i++) {
        snprintf(users[i], sizeof users[i], "u%03d", i);
        names[i] = users[i];
    }
    mk_users(f, names);
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "rg", "u000", names + 1, RC_MEMBERS - 1, NULL), TERN_OK);
    assert_int_equal(group_op(f, STORE_OP_CREATE_GROUP, "pg", "u000", names + 1, RC_MEMBERS - 1, NULL), TERN_OK);
    uint64_t t_rcpt = 0, t_plain = 0, rid = 0;
    size_t hits = 0, plain_hits = 0;
    for (int r = 0; r < RC_ROUNDS; r++) {
        msgreq m;
        msg_init(&m, f->app, "u000", "rg", 1, NULL, "receipt please");
        m.op.u.msg.need_receipt = 1;
        m.op.u.msg.rcpt_members = names;
        m.op.u.msg.rcpt_nmembers = RC_MEMBERS;
        assert_int_equal(run_op(f->s, &m.op), TERN_OK);
        uint64_t seq = m.op.u.msg.seq;
        rid = m.op.u.msg.msg_id;
        msg_release(&m);
        msg_init(&m, f->app, "u000", "pg", 1, NULL, "plain");
        assert_int_equal(run_op(f->s, &m.op), TERN_OK);
        uint64_t pseq = m.op.u.msg.seq;
        msg_release(&m);
        t_rcpt += read_all(f, users, "g:rg", seq, &hits);
        t_plain += read_all(f, users, "g:pg", pseq, &plain_hits);
    }
    assert_int_equal(hits, (size_t)RC_ROUNDS * (RC_MEMBERS - 1)); /* one each, none zero */
    assert_int_equal(plain_hits, 0);
    printf("# receipts: marking read in a %d-member group, %.2f us an op with a receipt message, %.2f us plain "
           "(ratio %.2f)\n",
           RC_MEMBERS, t_rcpt / 1e3 / (RC_ROUNDS * (RC_MEMBERS - 1)), t_plain / 1e3 / (RC_ROUNDS * (RC_MEMBERS - 1)),
           t_plain ? (double)t_rcpt / (double)t_plain : 0);
    /* Reading again passes nothing new. */
    hits = 0;
    read_all(f, users, "g:rg", 1000, &hits);
    assert_int_equal(hits, 0);
    store_receipt rc;
    assert_int_equal(store_receipt_get(f->r, f->app, rid, &rc), TERN_OK);
    assert_int_equal(rc.read_count, RC_MEMBERS - 1);
    assert_int_equal(rc.nmembers, RC_MEMBERS);
    assert_string_equal(rc.sender, "u000");
    assert_int_equal(store_receipt_get(f->r, f->app, rid + 1, &rc), TERN_ERR_NOT_FOUND);
    assert_int_equal(store_receipt_get(f->r, f->app + 1, rid, &rc), TERN_ERR_NOT_FOUND);

    /* A receiverList message (u002, u001; the sender is added): only they count. */
    static const char *const rcv[] = {"u002", "u001"};
    msgreq m;
    msg_init(&m, f->app, "u000", "rg", 1, NULL, "for two");
    m.op.u.msg.need_receipt = 1;
    m.op.u.msg.rcpt_members = rcv;
    m.op.u.msg.rcpt_nmembers = 2;
    m.op.u.msg.rcpt_targeted = 1;
    assert_int_equal(run_op(f->s, &m.op), TERN_OK);
    uint64_t tseq = m.op.u.msg.seq, tid = m.op.u.msg.msg_id;
    msg_release(&m);
    hits = 0;
    read_all(f, users, "g:rg", tseq, &hits);
    assert_int_equal(hits, 2);
    assert_int_equal(store_receipt_get(f->r, f->app, tid, &rc), TERN_OK);
    assert_int_equal(rc.read_count, 2);
    assert_int_equal(rc.nmembers, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_keys),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_private_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_easemob_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_assignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_resend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c2c_unread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mark_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_at_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_submitters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_ceiling, setup_small_queue, teardown),
        cmocka_unit_test_setup_teardown(test_schema_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_friends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_friends_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injected_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
