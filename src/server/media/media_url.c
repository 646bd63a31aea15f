/*
 * media_url.c — signing and checking media URLs; see media_url.h.
 */
#include "media/media_url.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

int media_url_sign(const app_info *a, const char *id, int thumb, int64_t exp_s, char sig[MEDIA_URL_SIG_LEN + 1])
{
    char text[sizeof a->key + 64 + 48];
    int n = snprintf(text, sizeof text, "%s\n%s\n%d\n%lld", a->key, id, thumb, (long long)exp_s);
    if (n < 0 || (size_t)n >= sizeof text)
        return -1;
    unsigned char mac[32];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), a->secret, (int)strlen(a->secret), (const unsigned char *)text, (size_t)n, mac, &len) ||
        len != sizeof mac)
        return -1;
    return tern_base64url_encode(mac, sizeof mac, sig, MEDIA_URL_SIG_LEN + 1) == MEDIA_URL_SIG_LEN ? 0 : -1;
}

int media_url_append(tern_buf *out, const char *public_base, const app_info *a, const char *id, int thumb,
                     int64_t exp_s)
{
    char sig[MEDIA_URL_SIG_LEN + 1];
    if (media_url_sign(a, id, thumb, exp_s, sig) < 0)
        return -1;
    char tail[96];
    if (thumb)
        snprintf(tail, sizeof tail, "?thumb=%d&exp=%lld&sig=", thumb, (long long)exp_s);
    else
        snprintf(tail, sizeof tail, "?exp=%lld&sig=", (long long)exp_s);
    int rc = 0;
    if (public_base)
        rc |= tern_buf_puts(out, public_base);
    rc |= tern_buf_putc(out, '/');
    rc |= tern_buf_puts(out, a->key);
    rc |= tern_buf_puts(out, "/media/");
    rc |= tern_buf_puts(out, id);
    rc |= tern_buf_puts(out, tail);
    rc |= tern_buf_puts(out, sig);
    return rc ? -1 : 0;
}

int media_url_check(const app_info *a, const char *id, int thumb, int64_t exp_s, const char *sig, size_t sig_n,
                    int64_t now_s)
{
    char want[MEDIA_URL_SIG_LEN + 1];
    if (sig_n != MEDIA_URL_SIG_LEN || now_s > exp_s || media_url_sign(a, id, thumb, exp_s, want) < 0)
        return 0;
    return tern_ct_equal(want, sig, MEDIA_URL_SIG_LEN);
}
