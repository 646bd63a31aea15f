/*
 * fuzz_kwmatch.c — libFuzzer harness for the keyword matcher (src/core/kwmatch.c) and
 * the keyword rule of moderation (server/hooks/moderation.c, moderation_word_fold).
 *
 * Input: keywords separated by '\n' up to the first NUL byte, then the text. The
 * matcher's answer must equal a naive search (each keyword, ASCII-folded, with memmem
 * over the folded text), and a keyword moderation_word_fold accepts must be 1..64 bytes
 * of UTF-8 with no control character and no upper-case ASCII letter left.
 * Seeds: tests/fuzz/corpus/fuzz_kwmatch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/kwmatch.h"
#include "core/util.h"
#include "hooks/moderation.h"

#define MAXW 64

static void fold(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (char)(p[i] + 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t wl = nul ? (size_t)(nul - data) : size;
    const char *words[MAXW];
    size_t lens[MAXW], nw = 0;
    for (size_t i = 0; i <= wl && nw < MAXW;) {
        const uint8_t *e = memchr(data + i, '\n', wl - i);
        size_t n = e ? (size_t)(e - (data + i)) : wl - i;
        words[nw] = (const char *)data + i;
        lens[nw++] = n;
        i += n + 1;
        if (!e)
            break;
    }
    const char *text = nul ? (const char *)nul + 1 : "";
    size_t tn = nul ? size - wl - 1 : 0;

    tern_kwmatch *k = tern_kwmatch_build(words, lens, nw);
    if (!k)
        return 0;
    char *ft = malloc(tn + 1);
    memcpy(ft, text, tn);
    fold(ft, tn);
    int want = 0;
    for (size_t i = 0; i < nw && !want; i++) {
        if (!lens[i] || lens[i] > tn)
            continue;
        char *fw = malloc(lens[i]);
        memcpy(fw, words[i], lens[i]);
        fold(fw, lens[i]);
        want = memmem(ft, tn, fw, lens[i]) != NULL;
        free(fw);
    }
    if (tern_kwmatch_find(k, text, tn) != want)
        abort();
    tern_kwmatch_free(k);
    free(ft);

    for (size_t i = 0; i < nw; i++) {
        char w[80];
        if (lens[i] > sizeof w)
            continue;
        memcpy(w, words[i], lens[i]);
        if (moderation_word_fold(w, lens[i])) {
            if (lens[i] < 1 || lens[i] > MOD_MAX_WORD || !tern_utf8_valid((const uint8_t *)w, lens[i]))
                abort();
            for (size_t j = 0; j < lens[i]; j++)
                if ((unsigned char)w[j] < 0x20 || w[j] == 0x7f || (w[j] >= 'A' && w[j] <= 'Z'))
                    abort();
        }
    }
    return 0;
}
