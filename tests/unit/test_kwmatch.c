/* test_kwmatch.c — unit tests for core/kwmatch.c (Aho-Corasick keyword search): known
 * cases (overlaps, suffixes, case folding of ASCII only, UTF-8 keywords), then random
 * keyword sets and texts over a small alphabet checked against a naive search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/kwmatch.h"

static int find(tern_kwmatch *k, const char *t)
{
    return tern_kwmatch_find(k, t, strlen(t));
}

static tern_kwmatch *build(const char *const *w, size_t n)
{
    size_t lens[64];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(w[i]);
    tern_kwmatch *k = tern_kwmatch_build(w, lens, n);
    assert_non_null(k);
    return k;
}

static void test_known(void **state)
{
    (void)state;
    const char *w[] = {"he", "she", "his", "hers", "Spam", "违禁", "abcd", "bc"};
    tern_kwmatch *k = build(w, sizeof w / sizeof w[0]);
    assert_true(find(k, "ushers"));
    assert_true(find(k, "xhisx"));
    assert_false(find(k, "hi s"));
    assert_true(find(k, "buy SPAM now"));
    assert_true(find(k, "sPaM"));
    assert_false(find(k, "spa m"));
    assert_true(find(k, "这是违禁词"));
    assert_false(find(k, "违 禁"));
    assert_true(find(k, "abxbc")); /* bc inside, after a failed abcd */
    assert_true(find(k, "abcX"));  /* bc is a suffix of abc */
    assert_false(find(k, ""));
    assert_false(find(k, "xyz"));
    tern_kwmatch_free(k);

    /* No keyword folds outside ASCII: É is not é. */
    const char *w2[] = {"\xc3\xa9t\xc3\xa9"};
    k = build(w2, 1);
    assert_true(find(k, "l'\xc3\xa9t\xc3\xa9"));
    assert_false(find(k, "L'\xc3\x89T\xc3\x89"));
    tern_kwmatch_free(k);

    k = tern_kwmatch_build(NULL, NULL, 0);
    assert_non_null(k);
    assert_false(find(k, "anything"));
    assert_int_equal(tern_kwmatch_nodes(k), 1);
    tern_kwmatch_free(k);
    tern_kwmatch_free(NULL);
    assert_false(tern_kwmatch_find(NULL, "x", 1));
}

static int naive(char w[][8], size_t nw, const char *t)
{
    for (size_t i = 0; i < nw; i++)
        if (w[i][0] && strstr(t, w[i]))
            return 1;
    return 0;
}

static void test_random(void **state)
{
    (void)state;
    srand(12345);
    for (int round = 0; round < 2000; round++) {
        char w[16][8];
        const char *wp[16];
        size_t nw = 1 + (size_t)(rand() % 16);
        for (size_t i = 0; i < nw; i++) {
            size_t len = (size_t)(rand() % 6);
            for (size_t j = 0; j < len; j++)
                w[i][j] = (char)('a' + rand() % 3);
            w[i][len] = 0;
            wp[i] = w[i];
        }
        tern_kwmatch *k = build(wp, nw);
        for (int t = 0; t < 20; t++) {
            char text[40];
            size_t len = (size_t)(rand() % 39);
            for (size_t j = 0; j < len; j++)
                text[j] = (char)('a' + rand() % 3);
            text[len] = 0;
            if (find(k, text) != naive(w, nw, text))
                fail_msg("round %d text %s", round, text);
        }
        tern_kwmatch_free(k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
