/* test_store_engine.c — unit tests of the store's engine seam (server/store/store_engine.c,
 * store_engine.h): the registry finds engines by name and refuses unknown ones cleanly,
 * every registered table is complete (no NULL entry, checked on the table's bytes so a
 * member added later is covered too), store_engine_missing notices any missing member,
 * and store.h's calls reach the engine that opened the store. Also the stored-message
 * object that core builds for the store (core/wire.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/wire.h"
#include "server/store/store.h"
#include "server/store/store_engine.h"
#include "tern/errors.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* The table holds a name and function pointers only, all of one size here, so its bytes
 * are an array of non-zero words exactly when no entry is NULL. */
#define ENGINE_WORDS (sizeof(store_engine) / sizeof(uintptr_t))

static void test_registry(void **state)
{
    (void)state;
    assert_int_equal(sizeof(store_engine) % sizeof(uintptr_t), 0);
    assert_non_null(store_engines[0]);
    assert_string_equal(store_engines[0]->name, "sqlite"); /* the default */
    assert_ptr_equal(store_engine_find(NULL), store_engines[0]);
    assert_ptr_equal(store_engine_find(""), store_engines[0]);
    assert_ptr_equal(store_engine_find("sqlite"), &store_engine_sqlite);
    assert_null(store_engine_find("SQLite"));
    assert_null(store_engine_find("sqlite "));
    assert_null(store_engine_find("pg"));
    for (size_t i = 0; store_engines[i]; i++) {
        const store_engine *e = store_engines[i];
        assert_null(store_engine_missing(e));
        uintptr_t w[ENGINE_WORDS];
        memcpy(w, e, sizeof w);
        for (size_t k = 0; k < ENGINE_WORDS; k++)
            if (!w[k])
                fail_msg("engine %zu (%s): entry %zu of the table is NULL", i, e->name ? e->name : "?", k);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(store_engines[j]->name, e->name);
    }
}

/* Zeroing any one entry of a complete table makes store_engine_missing name it. */
static void test_missing_entry_detected(void **state)
{
    (void)state;
    for (size_t k = 0; k < ENGINE_WORDS; k++) {
        store_engine e = store_engine_sqlite;
        uintptr_t w[ENGINE_WORDS];
        memcpy(w, &e, sizeof w);
        w[k] = 0;
        memcpy(&e, w, sizeof w);
        const char *m = store_engine_missing(&e);
        if (!m)
            fail_msg("entry %zu of store_engine is not checked by store_engine_missing", k);
    }
    store_engine e = store_engine_sqlite;
    e.conversation_get = NULL;
    assert_string_equal(store_engine_missing(&e), "conversation_get");
    e = store_engine_sqlite;
    e.open = NULL;
    assert_string_equal(store_engine_missing(&e), "open");
}

/* An unknown engine fails store_open before touching the disk, with a message that
 * names it and the engines there are. */
static void test_unknown_engine(void **state)
{
    (void)state;
    char base[] = "/tmp/tern_engine_XXXXXX";
    assert_non_null(mkdtemp(base));
    char dir[128];
    snprintf(dir, sizeof dir, "%s/data", base);
    char err[256] = "";
    store_options o = {.engine = "postgres", .data_dir = dir};
    assert_null(store_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "unknown engine 'postgres'"));
    assert_non_null(strstr(err, "sqlite"));
    struct stat sb;
    assert_int_not_equal(stat(dir, &sb), 0); /* nothing created */

    /* A short error buffer is cut, not overrun. */
    char tiny[12];
    memset(tiny, 'x', sizeof tiny);
    assert_null(store_open(&o, tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_null(store_open(&o, NULL, 0));

    /* The engine named explicitly opens, and its objects carry its table. */
    o.engine = "sqlite";
    store *s = store_open(&o, err, sizeof err);
    if (!s)
        fail_msg("store_open: %s", err);
    assert_ptr_equal(s->engine, &store_engine_sqlite);
    store_reader *r = store_reader_open(s);
    assert_non_null(r);
    assert_ptr_equal(r->engine, &store_engine_sqlite);
    store_app a;
    assert_int_equal(store_app_get(r, "no", "such", &a), TERN_ERR_APP_NOT_FOUND);
    assert_int_equal(store_last_id(s), 0);
    store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.batches, 0);
    store_reader_close(r);
    store_close(s);
    nftw(base, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The stored-message object: decimal numbers, the id as a string, the fields after the
 * assigned members, no comma without fields, a negative time as 0. */
static void test_wire_stored_msg(void **state)
{
    (void)state;
    size_t len;
    const char *fields = "\"from\":\"a\",\"payload\":{}";
    char *j = tern_wire_stored_msg(42, 7, 1700000000123, fields, strlen(fields), &len);
    assert_non_null(j);
    assert_string_equal(j, "{\"msgId\":\"42\",\"seq\":7,\"time\":1700000000123,\"from\":\"a\",\"payload\":{}}");
    assert_int_equal(len, strlen(j));
    tern_free(j);

    j = tern_wire_stored_msg(UINT64_MAX, UINT64_MAX, -5, NULL, 0, &len);
    assert_non_null(j);
    assert_string_equal(j, "{\"msgId\":\"18446744073709551615\",\"seq\":18446744073709551615,\"time\":0}");
    assert_int_equal(len, strlen(j));
    assert_true(len + 1 <= TERN_WIRE_STORED_MSG_OVERHEAD);
    tern_free(j);

    /* fields are copied as bytes (a NUL inside stays, the length says where they end) */
    j = tern_wire_stored_msg(1, 1, 1, "\"a\":1\0x", 7, &len);
    assert_non_null(j);
    assert_int_equal(len, strlen("{\"msgId\":\"1\",\"seq\":1,\"time\":1,") + 7 + 1);
    assert_memory_equal(j + len - 8, "\"a\":1\0x}", 8);
    tern_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_missing_entry_detected),
        cmocka_unit_test(test_unknown_engine),
        cmocka_unit_test(test_wire_stored_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
