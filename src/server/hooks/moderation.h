/*
 * moderation.h — keyword moderation of messages (issue 10): each app's keyword list
 * (stored: STORE_OP_KEYWORDS, managed over REST in rest/moderation.c) is compiled into
 * one Aho-Corasick matcher (core/kwmatch.h), rebuilt when the list changes and shared
 * read-only by every loop. A message whose text fields contain a keyword is refused with
 * 80001 unless its messageControlInfo sets excludedFromContentModeration, or the app's
 * `moderation` setting is "off".
 *
 * What is searched: every string value inside the message's payload (text, custom
 * data / description / extension, location description, file and merger titles,
 * abstracts, ...), except members that are identifiers or URLs (uuid, url, *Url,
 * downloadKey, thumbnail), and cloudCustomData. Matching folds ASCII case only.
 * A message of an app without keywords costs one atomic load.
 */
#ifndef TERN_MODERATION_H
#define TERN_MODERATION_H
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "context.h"

#define MOD_MAX_KEYWORDS 10000 /* per app */
#define MOD_MAX_WORD 64        /* bytes of one keyword */
#define MOD_MAX_PER_REQUEST 1000

/* Loads every app's list from the store (startup). 0, or -1 (logged). */
int moderation_init(server *s, store_reader *rd);
void moderation_free(server *s);
/* 1 if the message's pre-encoded fields (msg.h's r->fields: JSON members without
 * braces) hold a keyword of app (and the app's moderation is on), else 0. Thread-safe. */
int moderation_hit(server *s, int64_t app, const char *fields, size_t n);
/* Rebuilds app's matcher from the store through rd (after a change committed).
 * Serialized: the last rebuild to run reads the newest list. TERN_OK or 5002/5001. */
int moderation_reload(server *s, store_reader *rd, int64_t app);
/* A message's pre-encoded fields (JSON members without braces, our own encoding) as an
 * object, or NULL (out of memory). Caller frees with cJSON_Delete. Also msg_hooks.c's. */
cJSON *moderation_fields_parse(const char *fields, size_t n);
/* A keyword as stored: 1..MOD_MAX_WORD bytes of valid UTF-8 without control characters;
 * ASCII letters are lower-cased in place. 1 if acceptable, 0 if not. */
int moderation_word_fold(char *w, size_t n);

#endif
