/* test_id.c — unit tests for core/id.c: layout, monotonicity (also when the clock is
 * behind the last id), sequence rollover, threads, and the decimal format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/id.h"
#include "core/util.h"

#define NODE(id) ((unsigned)(((id) >> 12) & 1023))
#define SEQ(id) ((unsigned)((id)&4095))

static void test_layout(void **state)
{
    (void)state;
    tern_idgen g;
    tern_idgen_init(&g, 517);
    int64_t before = tern_now_ms();
    uint64_t id = tern_idgen_next(&g);
    int64_t after = tern_now_ms();
    assert_true(id < (UINT64_C(1) << 63));
    assert_int_equal(NODE(id), 517);
    assert_true(tern_id_time_ms(id) >= before);
    assert_true(tern_id_time_ms(id) <= after);

    tern_idgen g2;
    tern_idgen_init(&g2, 1024 + 3); /* node is masked to 10 bits */
    assert_int_equal(NODE(tern_idgen_next(&g2)), 3);
}

static void test_strictly_increasing(void **state)
{
    (void)state;
    tern_idgen g;
    tern_idgen_init(&g, 1);
    uint64_t prev = tern_idgen_next(&g);
    /* More than 4096 per millisecond is likely here, so rollover is exercised too. */
    for (int i = 0; i < 200000; i++) {
        uint64_t id = tern_idgen_next(&g);
        assert_true(id > prev);
        assert_int_equal(NODE(id), 1);
        prev = id;
    }
}

/* The wall clock is behind the last id (it stepped back, or ids were borrowed from the
 * future): the generator keeps going from the last id instead of repeating. */
static void test_clock_behind(void **state)
{
    (void)state;
    tern_idgen g;
    tern_idgen_init(&g, 9);
    uint64_t ahead_ms = (uint64_t)(tern_now_ms() - TERN_ID_EPOCH_MS) + 60000; /* +1 min */
    g.last = ahead_ms << 22 | (uint64_t)9 << 12 | 100;
    uint64_t id = tern_idgen_next(&g);
    assert_true(id == g.last);
    assert_true(id == (ahead_ms << 22 | (uint64_t)9 << 12 | 101));
    assert_true(tern_id_time_ms(id) == (int64_t)ahead_ms + TERN_ID_EPOCH_MS);

    /* Sequence exhausted in that millisecond: borrow the next one. */
    g.last = ahead_ms << 22 | (uint64_t)9 << 12 | 4095;
    id = tern_idgen_next(&g);
    assert_true(id == ((ahead_ms + 1) << 22 | (uint64_t)9 << 12 | 0));
    uint64_t next = tern_idgen_next(&g);
    assert_true(next == id + 1);
}

struct thr_arg {
    tern_idgen *g;
    uint64_t *out;
    int n;
};

static void *thr_main(void *p)
{
    struct thr_arg *a = p;
    for (int i = 0; i < a->n; i++)
        a->out[i] = tern_idgen_next(a->g);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_threads_unique(void **state)
{
    (void)state;
    enum { T = 4, N = 20000 };
    tern_idgen g;
    tern_idgen_init(&g, 2);
    static uint64_t ids[T * N];
    pthread_t th[T];
    struct thr_arg args[T];
    for (int t = 0; t < T; t++) {
        args[t] = (struct thr_arg){&g, ids + t * N, N};
        assert_int_equal(pthread_create(&th[t], NULL, thr_main, &args[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        for (int i = 1; i < N; i++)
            assert_true(args[t].out[i] > args[t].out[i - 1]); /* increasing per thread */
    }
    qsort(ids, T * N, sizeof ids[0], cmp_u64);
    for (int i = 1; i < T * N; i++)
        assert_true(ids[i] != ids[i - 1]);
}

static void test_format(void **state)
{
    (void)state;
    char out[21];
    assert_int_equal(tern_id_format(0, out), 1);
    assert_string_equal(out, "0");
    assert_int_equal(tern_id_format(1234567890123456789ULL, out), 19);
    assert_string_equal(out, "1234567890123456789");
    assert_int_equal(tern_id_format(UINT64_MAX, out), 20);
    assert_string_equal(out, "18446744073709551615");
    tern_idgen g;
    tern_idgen_init(&g, 0);
    uint64_t id = tern_idgen_next(&g);
    int n = tern_id_format(id, out);
    uint64_t back = 0;
    assert_int_equal(tern_parse_u64(out, (size_t)n, &back), 0);
    assert_true(back == id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),       cmocka_unit_test(test_strictly_increasing),
        cmocka_unit_test(test_clock_behind), cmocka_unit_test(test_threads_unique),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
