/* test_store_oom.c — out-of-memory in the store is an error, not a crash.
 *
 * store_test_fail_alloc_after(n) (sqlite_mem.c) makes SQLite's nth allocation from now
 * fail, and every one after it, until disarmed. Each test runs a piece of store work
 * with n = 1, 2, 3, ... until the work no longer reaches the nth allocation, and checks
 * every time that the work failed with its documented error (NULL + a message from
 * store_open, TERN_ERR_STORE from an op or a read) or succeeded, that nothing crashed or
 * leaked (ASan), and that once memory is back the store works and is consistent:
 *   - open: a fresh database is created and migrated, or not; a later open succeeds and
 *     finds a usable store either way (migrations are transactions);
 *   - write + read: a message is stored (TERN_OK) or not (TERN_ERR_STORE), never half:
 *     the next message takes the next gap-free seq, and history holds exactly the
 *     messages acknowledged;
 *   - groups and read positions: a group exists afterwards exactly if its creation was
 *     acknowledged.
 * This is the store's half of the allocation-failure hook of issue 7; core's hook
 * (alloc.h) covers tern_malloc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "server/store/store.h"
#include "tern/errors.h"

/* No test needs this many allocations; reaching it means the hook never stops firing. */
#define MAX_ROUNDS 60000
/* store_open makes about 20000 SQLite allocations (issue 10: 14 migrations) (mostly parsing the schema's
 * migrations), each round creates a fresh database: failing every one of them takes
 * minutes. The open test fails each of the first OPEN_EVERY allocations, then every
 * OPEN_STRIDE-th one up to the end; TERN_OOM_FULL=1 fails every one. */
#define OPEN_EVERY 1000
#define OPEN_STRIDE 53

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void on_done(store_op *op)
{
    pthread_mutex_lock(&mu);
    *(int *)op->ud = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Submits op and waits for its completion; returns its result (or store_submit's). */
static int run_op(store *s, store_op *op)
{
    int finished = 0;
    op->done = on_done;
    op->ud = &finished;
    int rc = store_submit(s, op);
    if (rc != TERN_OK)
        return rc;
    pthread_mutex_lock(&mu);
    while (!finished)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return op->result;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

typedef struct fx {
    char base[64];
    char dir[96];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    /* tmpfs if there is one: the rounds create thousands of databases, and fsync there
     * costs nothing. */
    struct stat sb;
    strcpy(f->base,
           stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm/tern_oom_XXXXXX" : "/tmp/tern_oom_XXXXXX");
    if (!mkdtemp(f->base))
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/data", f->base);
    *state = f;
    /* The failures below are expected; their log lines would drown the output. */
    tern_log_set_level(TERN_LOG_OFF);
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_test_fail_alloc_after(0);
    nftw(f->base, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static store *open_store(fx *f, char *err, size_t errsz)
{
    store_options o = {.data_dir = f->dir, .node_id = 3, .linger_us = 0};
    return store_open(&o, err, errsz);
}

static int64_t make_app_and_users(store *s)
{
    store_op op = {.kind = STORE_OP_CREATE_APP};
    op.u.app_create.org = "o";
    op.u.app_create.name = "a";
    op.u.app_create.client_id = "cid";
    op.u.app_create.client_secret = "secret";
    assert_int_equal(run_op(s, &op), TERN_OK);
    int64_t app = op.u.app_create.out_id;
    const char *users[] = {"alice", "bob"};
    for (int i = 0; i < 2; i++) {
        store_op u = {.kind = STORE_OP_CREATE_USER, .app = app};
        u.u.user.user = users[i];
        assert_int_equal(run_op(s, &u), TERN_OK);
    }
    return app;
}

/* Stores one C2C message alice -> bob; returns the op's result, its seq in *seq. */
static int send_msg(store *s, int64_t app, uint64_t *seq)
{
    store_op op = {.kind = STORE_OP_MESSAGE, .app = app};
    op.u.msg.conv_key = "c:alice:bob";
    op.u.msg.sender = "alice";
    op.u.msg.peer = "bob";
    op.u.msg.fields = "\"from\":\"alice\",\"to\":\"bob\",\"payload\":{\"text\":\"hi\"}";
    op.u.msg.fields_len = strlen(op.u.msg.fields);
    int rc = run_op(s, &op);
    *seq = op.u.msg.seq;
    if (rc == TERN_OK)
        assert_non_null(op.u.msg.json);
    else
        assert_null(op.u.msg.json);
    tern_free(op.u.msg.json);
    return rc;
}

static void on_conv(void *ud, const store_conv *c)
{
    *(uint64_t *)ud = c->last_seq;
}

/* Counts the objects of a JSON array of flat message objects ("[{..},{..}]"). */
static int count_objects(const char *p, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] == '{' && (i == 1 || p[i - 1] == ',');
    return c;
}

static void test_open_oom(void **state)
{
    fx *f = *state;
    unsigned long fired = 0;
    const char *full = getenv("TERN_OOM_FULL");
    int every = full && *full == '1' ? MAX_ROUNDS : OPEN_EVERY;
    int n;
    for (n = 1; n < MAX_ROUNDS; n += n < every ? 1 : OPEN_STRIDE) {
        nftw(f->base, rm_entry, 8, FTW_DEPTH | FTW_PHYS); /* a fresh database each round */
        mkdir(f->base, 0700);
        char err[256] = "";
        unsigned long before = store_test_alloc_failures();
        store_test_fail_alloc_after((unsigned long)n);
        store *s = open_store(f, err, sizeof err);
        store_test_fail_alloc_after(0);
        int hit = store_test_alloc_failures() != before;
        fired += hit;
        if (!s) {
            assert_true(hit);
            assert_true(strlen(err) > 0);
        }
        store_close(s);
        /* Memory is back: the store opens on what the failed round left. */
        s = open_store(f, err, sizeof err);
        if (!s)
            fail_msg("round %d: reopen: %s", n, err);
        store_reader *r = store_reader_open(s);
        assert_non_null(r);
        assert_int_equal(store_user_exists(r, 1, "nobody"), 0);
        store_reader_close(r);
        store_close(s);
        if (!hit)
            break; /* the open no longer reaches the nth allocation: every one was failed */
    }
    assert_true(n < MAX_ROUNDS);
    assert_true(fired > 10);
    print_message("store_open: about %d allocations; the first %d failed in turn, then every %dth\n", n - 1, every,
                  OPEN_STRIDE);
}

/* Opens the fixture's store with the app and its users, and a reader. */
static store *open_with_users(void **state, int64_t *app, store_reader **r)
{
    fx *f = *state;
    char err[256] = "";
    store *s = open_store(f, err, sizeof err);
    if (!s)
        fail_msg("store_open: %s", err);
    *app = make_app_and_users(s);
    *r = store_reader_open(s);
    assert_non_null(*r);
    return s;
}

static void test_write_read_oom(void **state)
{
    int64_t app;
    store_reader *r;
    store *s = open_with_users(state, &app, &r);
    uint64_t stored = 0, seq;
    int n;
    for (n = 1; n < MAX_ROUNDS; n++) {
        unsigned long before = store_test_alloc_failures();
        store_test_fail_alloc_after((unsigned long)n);
        int rc = send_msg(s, app, &seq);
        tern_buf b;
        tern_buf_init(&b, 0);
        int more;
        int hrc = store_history(r, app, "c:alice:bob", 0, 1000, &b, &more);
        uint64_t last = 0;
        int crc = store_conversation_get(r, app, "bob", "c:alice:bob", on_conv, &last);
        store_test_fail_alloc_after(0);
        int hit = store_test_alloc_failures() != before;
        assert_true(rc == TERN_OK || rc == TERN_ERR_STORE);
        assert_true(hrc == TERN_OK || hrc == TERN_ERR_STORE);
        assert_true(crc == TERN_OK || crc == TERN_ERR_STORE || crc == TERN_ERR_NOT_FOUND);
        if (!hit) {
            assert_int_equal(rc, TERN_OK);
            assert_int_equal(hrc, TERN_OK);
        }
        if (rc == TERN_OK) {
            assert_int_equal(seq, stored + 1);
            stored++;
        }
        tern_buf_free(&b);

        /* Memory is back: the next message takes the next seq, and history holds exactly
         * the acknowledged ones. */
        assert_int_equal(send_msg(s, app, &seq), TERN_OK);
        assert_int_equal(seq, stored + 1);
        stored++;
        tern_buf_init(&b, 0);
        assert_int_equal(store_history(r, app, "c:alice:bob", 0, 100000, &b, &more), TERN_OK);
        assert_int_equal(count_objects(b.data, b.len), (int)stored);
        tern_buf_free(&b);
        if (!hit)
            break;
    }
    assert_true(n < MAX_ROUNDS);
    assert_true(n > 10); /* the hook reached SQLite's allocations */
    print_message("message + reads: %d allocations, each failed in turn\n", n - 1);
    store_reader_close(r);
    store_close(s);
}

/* Streamed messages under failing allocations: opening a stream, a chunk, a mid-stream
 * read (the text rebuilt from its chunks) and the finish each fail cleanly or work, and
 * with memory back the store holds no half-open stream the server does not know of. */
static int open_stream_op(store *s, int64_t app, uint64_t *id)
{
    store_op op = {.kind = STORE_OP_MESSAGE, .app = app};
    op.u.msg.conv_key = "c:alice:bob";
    op.u.msg.sender = "alice";
    op.u.msg.peer = "bob";
    op.u.msg.fields = "\"from\":\"alice\",\"payload\":{\"text\":\"a\"},\"stream\":{\"state\":\"open\"}";
    op.u.msg.fields_len = strlen(op.u.msg.fields);
    op.u.msg.stream_open = 1;
    op.u.msg.stream_format = 1;
    op.u.msg.stream_head = "\"from\":\"alice\"";
    op.u.msg.stream_head_len = strlen(op.u.msg.stream_head);
    op.u.msg.chunk_text = "a";
    op.u.msg.chunk_len = 1;
    int rc = run_op(s, &op);
    *id = op.u.msg.msg_id;
    tern_free(op.u.msg.json);
    return rc;
}

static int chunk(store *s, int64_t app, store_op_kind kind, uint64_t id, int64_t seq, int finish)
{
    store_op op = {.kind = kind, .app = app};
    op.u.chunk.msg_id = id;
    op.u.chunk.seq = seq;
    op.u.chunk.text = "bc";
    op.u.chunk.len = 2;
    op.u.chunk.finish = finish;
    op.u.chunk.end_code = 14033;
    int rc = run_op(s, &op);
    if (rc != TERN_OK || !(finish || kind == STORE_OP_STREAM_END))
        assert_null(op.u.chunk.json);
    tern_free(op.u.chunk.json);
    return rc;
}

static void count_open(void *ud, const store_stream *x)
{
    (void)x;
    (*(int *)ud)++;
}

static void test_stream_oom(void **state)
{
    int64_t app;
    store_reader *r;
    store *s = open_with_users(state, &app, &r);
    int n;
    for (n = 1; n < MAX_ROUNDS; n++) {
        unsigned long before = store_test_alloc_failures();
        store_test_fail_alloc_after((unsigned long)n);
        uint64_t id = 0;
        int orc = open_stream_op(s, app, &id);
        int crc = orc == TERN_OK ? chunk(s, app, STORE_OP_STREAM_CHUNK, id, 1, 0) : TERN_ERR_STORE;
        tern_buf b;
        tern_buf_init(&b, 0);
        int more;
        int hrc = store_history(r, app, "c:alice:bob", 0, 1000, &b, &more);
        int frc = orc == TERN_OK ? chunk(s, app, STORE_OP_STREAM_CHUNK, id, 2, 1) : TERN_ERR_STORE;
        store_test_fail_alloc_after(0);
        tern_buf_free(&b);
        int hit = store_test_alloc_failures() != before;
        assert_true(orc == TERN_OK || orc == TERN_ERR_STORE);
        assert_true(crc == TERN_OK || crc == TERN_ERR_STORE);
        assert_true(hrc == TERN_OK || hrc == TERN_ERR_STORE);
        assert_true(frc == TERN_OK || frc == TERN_ERR_STORE);
        if (!hit)
            assert_true(orc == TERN_OK && crc == TERN_OK && hrc == TERN_OK && frc == TERN_OK);
        /* Memory is back: an open stream (its finish failed) can still be ended. */
        int open = 0;
        assert_int_equal(store_streams_open(r, count_open, &open), TERN_OK);
        assert_int_equal(open, orc == TERN_OK && frc != TERN_OK);
        if (open)
            assert_int_equal(chunk(s, app, STORE_OP_STREAM_END, id, 0, 0), TERN_OK);
        tern_buf_init(&b, 0);
        assert_int_equal(store_history(r, app, "c:alice:bob", 0, 100000, &b, &more), TERN_OK);
        assert_null(strstr(b.data, "\"state\":\"open\""));
        tern_buf_free(&b);
        if (!hit)
            break;
    }
    assert_true(n < MAX_ROUNDS);
    assert_true(n > 10);
    print_message("stream open + chunk + read + finish: %d allocations, each failed in turn\n", n - 1);
    store_reader_close(r);
    store_close(s);
}

static void on_name(void *ud, const char *name)
{
    (void)name;
    (*(int *)ud)++;
}

/* Groups, members and read positions: every op is TERN_OK or TERN_ERR_STORE, and what it
 * reported is what the store holds once memory is back. */
static void test_groups_reads_oom(void **state)
{
    int64_t app;
    store_reader *r;
    store *s = open_with_users(state, &app, &r);
    uint64_t seq;
    assert_int_equal(send_msg(s, app, &seq), TERN_OK); /* bob gets a conversation row */
    int n;
    for (n = 1; n < MAX_ROUNDS; n++) {
        char gid[32];
        snprintf(gid, sizeof gid, "g%d", n);
        const char *members[] = {"bob"};
        store_op g = {.kind = STORE_OP_CREATE_GROUP, .app = app};
        g.u.group.group_id = gid;
        g.u.group.name = "group";
        g.u.group.owner = "alice";
        g.u.group.members = members;
        g.u.group.nmembers = 1;
        store_op rd = {.kind = STORE_OP_MARK_READ, .app = app};
        rd.u.read.user = "bob";
        rd.u.read.conv_key = "c:alice:bob";
        rd.u.read.seq = 1;
        int nmembers = 0;
        unsigned long before = store_test_alloc_failures();
        store_test_fail_alloc_after((unsigned long)n);
        int grc = run_op(s, &g);
        int rrc = run_op(s, &rd);
        int mrc = store_group_members(r, app, gid, on_name, &nmembers);
        store_test_fail_alloc_after(0);
        int hit = store_test_alloc_failures() != before;
        assert_true(grc == TERN_OK || grc == TERN_ERR_STORE);
        assert_true(rrc == TERN_OK || rrc == TERN_ERR_STORE);
        assert_true(mrc == TERN_OK || mrc == TERN_ERR_STORE || mrc == TERN_ERR_GROUP_NOT_FOUND);
        if (!hit) {
            assert_int_equal(grc, TERN_OK);
            assert_int_equal(rrc, TERN_OK);
            assert_int_equal(mrc, TERN_OK);
            assert_int_equal(nmembers, 2);
        }
        /* Memory is back: the group exists exactly if its creation was acknowledged. */
        store_group info;
        assert_int_equal(store_group_get(r, app, gid, &info), grc == TERN_OK ? TERN_OK : TERN_ERR_GROUP_NOT_FOUND);
        if (grc == TERN_OK)
            assert_int_equal(info.member_count, 2);
        if (!hit)
            break;
    }
    assert_true(n < MAX_ROUNDS);
    assert_true(n > 10); /* the hook reached SQLite's allocations */
    print_message("groups + read positions: %d allocations, each failed in turn\n", n - 1);
    store_reader_close(r);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_oom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_read_oom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_reads_oom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_oom, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
