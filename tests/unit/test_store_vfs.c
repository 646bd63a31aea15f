/* test_store_vfs.c — unit tests for the "tern" SQLite VFS (server/store/store_vfs.c),
 * which gathers a connection's WAL appends into one write per commit. Each test checks
 * what a buffer could break: another connection (on SQLite's default VFS, reading the
 * files itself) sees every commit as soon as it returns; a commit bigger than the buffer
 * and bigger than one write of the unix VFS (128 KiB) lands whole; a transaction that
 * spills its cache into the WAL and reads its pages back stays consistent, also across a
 * savepoint rollback; synchronous=FULL syncs what was gathered; and a process killed
 * with SIGKILL right after commits loses none of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/store/store_vfs.h"

static char dir[64];
static char path[128];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tern-vfs-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/t.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : sqlite3_errstr(rc));
}

static sqlite3 *open_tern(void)
{
    const char *vfs = store_vfs_name();
    assert_non_null(vfs);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs),
                     SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0");
    return db;
}

/* A connection on SQLite's own default VFS: it reads the files, not our buffer. */
static sqlite3 *open_plain(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL), SQLITE_OK);
    return db;
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void check_integrity(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

static void insert_rows(sqlite3 *db, int from, int n, int size)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES(?, randomblob(?))", -1, &st, NULL), SQLITE_OK);
    for (int i = from; i < from + n; i++) {
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_int(st, 2, size);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

/* Every small commit is visible at once to a reader that reads the files itself. */
static void test_each_commit_visible(void **state)
{
    (void)state;
    sqlite3 *w = open_tern();
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    sqlite3 *r = open_plain();
    for (int i = 0; i < 300; i++) {
        exec_ok(w, "BEGIN");
        insert_rows(w, i * 3, 3, 100 + i * 13 % 900);
        exec_ok(w, "COMMIT");
        assert_int_equal(scalar(r, "SELECT count(*) FROM t"), (i + 1) * 3);
        if (i == 150)
            exec_ok(w, "PRAGMA wal_checkpoint(RESTART)"); /* the WAL starts over */
    }
    check_integrity(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

/* synchronous=FULL (ternd --fsync-full 1): the WAL is synced at every commit, so the
 * buffer must be written before the sync, and padding frames may follow the commit
 * frame. */
static void test_full_sync(void **state)
{
    (void)state;
    sqlite3 *w = open_tern();
    exec_ok(w, "PRAGMA synchronous=FULL; CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    sqlite3 *r = open_plain();
    for (int i = 0; i < 50; i++) {
        exec_ok(w, "BEGIN");
        insert_rows(w, i * 7, 7, 500);
        exec_ok(w, "COMMIT");
        assert_int_equal(scalar(r, "SELECT count(*) FROM t"), (i + 1) * 7);
    }
    check_integrity(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

/* One commit of ~10 MiB: more than the buffer (4 MiB) and many times the unix VFS's
 * largest single write. */
static void test_big_commit(void **state)
{
    (void)state;
    sqlite3 *w = open_tern();
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    exec_ok(w, "BEGIN");
    insert_rows(w, 0, 5000, 2000);
    exec_ok(w, "COMMIT");
    sqlite3 *r = open_plain();
    assert_int_equal(scalar(r, "SELECT count(*) FROM t"), 5000);
    assert_int_equal(scalar(r, "SELECT sum(length(v)) FROM t"), 5000 * 2000);
    check_integrity(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

/* A tiny cache makes the transaction spill pages into the WAL and read them back before
 * it commits; a rolled-back savepoint in the middle must leave no trace. */
static void test_spill_and_savepoint(void **state)
{
    (void)state;
    sqlite3 *w = open_tern();
    exec_ok(w, "PRAGMA cache_size=10; CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    exec_ok(w, "BEGIN");
    insert_rows(w, 0, 2000, 700);
    exec_ok(w, "SAVEPOINT sp");
    insert_rows(w, 2000, 1000, 700);
    exec_ok(w, "ROLLBACK TO sp");
    exec_ok(w, "RELEASE sp");
    insert_rows(w, 5000, 500, 700);
    assert_int_equal(scalar(w, "SELECT count(*) FROM t"), 2500);
    exec_ok(w, "COMMIT");
    sqlite3 *r = open_plain();
    assert_int_equal(scalar(r, "SELECT count(*) FROM t"), 2500);
    assert_int_equal(scalar(r, "SELECT count(*) FROM t WHERE k >= 2000 AND k < 3000"), 0);
    check_integrity(r);
    sqlite3_close(r);
    check_integrity(w);
    sqlite3_close(w);
}

/* A child commits and reports each commit through a pipe, then dies by SIGKILL without
 * closing anything: every reported commit must be in the database afterwards. */
static void test_kill_after_commit(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        sqlite3 *w = open_tern();
        exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
        for (int i = 0; i < 200; i++) {
            exec_ok(w, "BEGIN");
            insert_rows(w, i * 10, 10, 300);
            exec_ok(w, "COMMIT");
            int done = (i + 1) * 10;
            if (write(fds[1], &done, sizeof done) != (ssize_t)sizeof done)
                _exit(3);
        }
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    close(fds[1]);
    int acked = 0, v;
    while (read(fds[0], &v, sizeof v) == (ssize_t)sizeof v)
        acked = v;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(acked, 2000);
    sqlite3 *r = open_plain(); /* recovers the WAL the child left behind */
    assert_int_equal(scalar(r, "SELECT count(*) FROM t"), acked);
    check_integrity(r);
    sqlite3_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_commit_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spill_and_savepoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_after_commit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
