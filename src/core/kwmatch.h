/*
 * kwmatch.h — many keywords found in one pass over a text (Aho-Corasick), for the
 * server's keyword moderation (server/hooks/moderation.h). A matcher is built once per
 * keyword list (when the list changes) and is immutable afterwards, so any number of
 * threads may search it at once without a lock.
 *
 * Matching is by bytes, with ASCII letters folded to lower case: "Spam" matches "sPAM";
 * other UTF-8 bytes must be equal (no Unicode case folding). A search costs O(text
 * length) whatever the number of keywords.
 */
#ifndef TERN_CORE_KWMATCH_H
#define TERN_CORE_KWMATCH_H
#include <stddef.h>
#include <stdint.h>

typedef struct tern_kwmatch tern_kwmatch;

/* Builds a matcher for words[i][0..lens[i]) (i < n; an empty word is skipped).
 * Returns NULL when out of memory (alloc.h); the caller owns the result
 * (tern_kwmatch_free). The words are copied as needed: the caller keeps them. */
tern_kwmatch *tern_kwmatch_build(const char *const *words, const size_t *lens, size_t n);
/* Frees k; NULL is allowed. */
void tern_kwmatch_free(tern_kwmatch *k);
/* 1 if a keyword of k occurs in text[0..n), else 0. k NULL: 0. */
int tern_kwmatch_find(const tern_kwmatch *k, const char *text, size_t n);
/* The number of trie nodes (1 for an empty matcher): a measure of its memory. */
size_t tern_kwmatch_nodes(const tern_kwmatch *k);

#endif
