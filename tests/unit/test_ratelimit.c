/*
 * test_ratelimit.c — the group rate's decisions (server/ratelimit.h) on a clock the
 * test drives: a cold burst of one priority gets exactly the rate; a High flood is cut
 * at the rate too; in a cold window High interleaved with Low gets more than Low; in
 * steady state 100 groups each offered 100 msgs/s of mixed priority get exactly the
 * higher-priority share (High 25, Normal 15 of 25, Low and Lowest 0 at 40/s), with the
 * admitted Normal messages spread over the window rather than the first 15; and the
 * cost of a decision is printed (docs/performance.md), not asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/message.h"
#include "core/util.h"
#include "server/ratelimit.h"

static server S;

static int setup(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    pthread_rwlock_init(&S.apps_mu, NULL); /* no apps: every app has the default */
    S.cfg.group_msg_rate = 40;
    ratelimit_init(&S);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ratelimit_free(&S);
    pthread_rwlock_destroy(&S.apps_mu);
    return 0;
}

#define SEC 1000000000ull

static void test_cold_burst(void **state)
{
    (void)state;
    uint64_t t = 5 * SEC;
    int n = 0;
    for (int i = 0; i < 100; i++)
        n += ratelimit_group_admit_at(&S, 1, "g", TERN_MSG_PRIO_NORMAL, t + (uint64_t)i * 1000);
    assert_int_equal(n, 40);
    n = 0;
    for (int i = 0; i < 100; i++)
        n += ratelimit_group_admit_at(&S, 1, "h", TERN_MSG_PRIO_HIGH, t + (uint64_t)i * 1000);
    assert_int_equal(n, 40);
    /* Another app's group of the same name is another group. */
    assert_int_equal(ratelimit_group_admit_at(&S, 2, "g", TERN_MSG_PRIO_LOWEST, t), 1);
    assert_int_equal((int)ratelimit_shed_total(&S), 120);
}

static void test_cold_mix(void **state)
{
    (void)state;
    int high = 0, low = 0;
    for (int i = 0; i < 100; i++) {
        int p = i % 2 ? TERN_MSG_PRIO_LOW : TERN_MSG_PRIO_HIGH;
        int ok = ratelimit_group_admit_at(&S, 1, "mix", p, 7 * SEC + (uint64_t)i);
        *(p == TERN_MSG_PRIO_HIGH ? &high : &low) += ok;
    }
    assert_int_equal(high + low, 40);
    assert_true(high > low);
}

static void test_steady_share(void **state)
{
    (void)state;
    enum { G = 100, SECS = 5 };
    int adm[SECS][4] = {{0}};
    int late_normal = 0; /* admitted Normal messages past the 15th Normal of a window */
    char gid[G][8];
    for (int g = 0; g < G; g++)
        snprintf(gid[g], sizeof gid[g], "s%d", g);
    uint64_t t0 = 100 * SEC, t1 = tern_mono_ns();
    for (int sec = 0; sec < SECS; sec++) {
        int seen_normal[G] = {0};
        for (int i = 0; i < 100; i++) {
            /* every group: one message each 10 ms, priorities in a repeating order */
            int p = 1 + (i * 7 + i / 4) % 4;
            uint64_t t = t0 + (uint64_t)sec * SEC + (uint64_t)i * (SEC / 100);
            for (int g = 0; g < G; g++) {
                int ok = ratelimit_group_admit_at(&S, 1, gid[g], p, t);
                adm[sec][p - 1] += ok;
                if (p == TERN_MSG_PRIO_NORMAL && seen_normal[g]++ >= 15 && ok)
                    late_normal++;
            }
        }
    }
    uint64_t ns = tern_mono_ns() - t1;
    printf("# ratelimit: %.0f ns a decision (100 groups x 100 msgs/s x %d s)\n", (double)ns / (G * 100 * SECS), SECS);
    int per[4] = {0};
    for (int i = 0; i < 100; i++)
        per[(i * 7 + i / 4) % 4]++;
    assert_int_equal(per[0], 25);
    for (int sec = 1; sec < SECS; sec++) { /* the first second is cold */
        assert_int_equal(adm[sec][0], G * 25);
        assert_int_equal(adm[sec][1], G * 15);
        assert_int_equal(adm[sec][2], 0);
        assert_int_equal(adm[sec][3], 0);
    }
    assert_true(late_normal > 0); /* random among equals, not the first 15 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cold_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cold_mix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steady_share, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
