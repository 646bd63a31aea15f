/*
 * media_auth.c — who may read a media file (issue 9; docs/rest-api.md "Media", "Files
 * (Easemob chatfiles)"): the one access rule of every media GET/HEAD, used by
 * /{org}/{app}/media/{id} and /{org}/{app}/chatfiles/{uuid} alike (rest.h,
 * media_access). Their routes have auth kind REST_AUTH_MEDIA: the router checks nothing
 * and the handler calls media_access once it knows the row.
 *
 * Three credentials, any one suffices:
 *   (a) Authorization: Bearer with an app or user token of the path's app, as every
 *       other app route checks it;
 *   (b) a signed URL (media_url.h): query `exp` (unix seconds) and `sig`, valid and not
 *       past exp, covering the query's `thumb` (0 when absent), so a browser's
 *       <img src> needs no header; the app's secret keys it;
 *   (c) the media's share-secret (Easemob chatfiles): header `share-secret` or query
 *       `share-secret`, compared in constant time, for media that has one.
 * A refusal is 401 whatever the id (a malformed id, an unknown one, another app's):
 * the answer never says whether a file exists to someone who may not read it.
 */
#include <string.h>

#include "core/util.h"
#include "media/media_url.h"
#include "rest/rest.h"

/* The query's thumb as media_url signs it: 0 absent, 198, 720; -1 anything else. */
static int query_thumb(const http_msg *m)
{
    char v[8];
    int n = http_query_get(m->query, "thumb", v, sizeof v);
    if (n == -1)
        return 0;
    if (n == 3 && memcmp(v, "198", 3) == 0)
        return 198;
    if (n == 3 && memcmp(v, "720", 3) == 0)
        return 720;
    return -1;
}

/* 1 if the query holds a valid, unexpired signature for the path's media. */
static int signed_url_ok(const rctx *x, const http_msg *m)
{
    char exp[24], sig[MEDIA_URL_SIG_LEN + 2];
    int en = http_query_get(m->query, "exp", exp, sizeof exp);
    int sn = http_query_get(m->query, "sig", sig, sizeof sig);
    int thumb = query_thumb(m);
    if (en <= 0 || en > 18 || sn != MEDIA_URL_SIG_LEN || thumb < 0)
        return 0;
    int64_t e = 0;
    for (int i = 0; i < en; i++) {
        if (exp[i] < '0' || exp[i] > '9')
            return 0;
        e = e * 10 + (exp[i] - '0');
    }
    return media_url_check(&x->app, x->conv, thumb, e, sig, (size_t)sn, tern_now_ms() / 1000);
}

/* 1 if the request carries row's share-secret (header first, then query). */
static int share_secret_ok(const http_msg *m, const store_media *row)
{
    size_t want = strlen(row->share_secret);
    if (want == 0)
        return 0;
    char q[80];
    tern_str v = http_header_get(m, "share-secret");
    if (!v.p) {
        int n = http_query_get(m->query, "share-secret", q, sizeof q);
        if (n < 0)
            return 0;
        v.p = q;
        v.n = (size_t)n;
    }
    return v.n == want && tern_ct_equal(v.p, row->share_secret, want);
}

int media_access(const rctx *x, const http_msg *m, const store_media *row)
{
    int has_auth = http_header_get(m, "Authorization").p != NULL;
    int rc = has_auth ? rest_check_app_user_token(x, m) : TERN_ERR_TOKEN_INVALID;
    if (rc == TERN_OK)
        return TERN_OK;
    if (signed_url_ok(x, m))
        return TERN_OK;
    if (row && share_secret_ok(m, row))
        return TERN_OK;
    return rc;
}
