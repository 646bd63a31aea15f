/*
 * media_url.h — signed, expiring media URLs (issue 9): what a delivered message carries
 * so its recipient (or a browser's <img src>) can fetch the file without a token.
 *
 *   <public-url>/{org}/{app}/media/{id}?[thumb=198&]exp=<unix seconds>&sig=<sig>
 *
 * sig is base64url (no padding) of HMAC-SHA256(app secret, "<org>/<app>\n<id>\n<thumb>\n<exp>")
 * with thumb 0 for the file itself. The app's secret keys it, so rotating the secret
 * revokes every URL of the app; a URL is valid until exp (the media's own expiry when
 * the server writes it into a message). <public-url> is the --public-url setting, empty
 * by default: the URL is then a path that clients resolve against their server.
 * Pure functions: thread-safe.
 */
#ifndef TERN_MEDIA_URL_H
#define TERN_MEDIA_URL_H
#include <stddef.h>
#include <stdint.h>

#include "apps.h"
#include "core/buf.h"

#define MEDIA_URL_SIG_LEN 43 /* base64url of 32 bytes */

/* Appends the URL of media id (thumb 0, 198 or 720) of app a, valid until exp_s (unix
 * seconds), after public_base (NULL or "" for a path). Returns 0, or -1 (out of memory;
 * out may hold a partial URL). */
int media_url_append(tern_buf *out, const char *public_base, const app_info *a, const char *id, int thumb,
                     int64_t exp_s);

/* Writes the signature of (a, id, thumb, exp_s) into sig[MEDIA_URL_SIG_LEN + 1]; 0 or -1. */
int media_url_sign(const app_info *a, const char *id, int thumb, int64_t exp_s, char sig[MEDIA_URL_SIG_LEN + 1]);

/* 1 if sig[0..sig_n) is the signature of (a, id, thumb, exp_s) and now_s <= exp_s,
 * else 0. Compared in constant time. */
int media_url_check(const app_info *a, const char *id, int thumb, int64_t exp_s, const char *sig, size_t sig_n,
                    int64_t now_s);

#endif
