/*
 * fuzz_token.c — libFuzzer harness for token parsing and verification (core/token.c)
 * and the base64url codec underneath.
 *
 * Any input must be handled without reading past its length. A token that parses must
 * carry fields that satisfy the format (valid identifiers, 'u' or 'a', expiry >= 0),
 * and re-minting those fields under the harness secret must give a token that verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/token.h"
#include "core/util.h"
#include "tern/errors.h"

static const char SECRET[] = "fuzz-secret";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized copy, so ASan sees any read past size. */
    char *tok = tern_malloc(size ? size : 1);
    if (size)
        memcpy(tok, data, size);

    tern_token t;
    int rc = tern_token_parse(tok, size, &t);
    int vrc = tern_token_verify(tok, size, SECRET, 1800000000);
    if (rc != 0 && rc != TERN_ERR_TOKEN_INVALID)
        abort();
    if (vrc != 0 && vrc != TERN_ERR_TOKEN_INVALID && vrc != TERN_ERR_TOKEN_EXPIRED)
        abort();
    if (rc != 0 && vrc != TERN_ERR_TOKEN_INVALID)
        abort(); /* verify accepted what parse refused */

    if (rc == 0) {
        if (t.kind != 'u' && t.kind != 'a')
            abort();
        if (t.expiry < 0)
            abort();
        size_t ul = strlen(t.user);
        if (t.kind == 'u' ? !tern_ident_valid(t.user, ul) : ul != 0)
            abort();
        char again[TERN_TOKEN_MAX];
        int n = tern_token_mint(t.kind, t.appkey, t.user, t.expiry, SECRET, again, sizeof again);
        if (n <= 0)
            abort();
        tern_token t2;
        if (tern_token_parse(again, (size_t)n, &t2) != 0 || t2.kind != t.kind || t2.expiry != t.expiry ||
            strcmp(t2.appkey, t.appkey) != 0 || strcmp(t2.user, t.user) != 0)
            abort();
        if (tern_token_verify(again, (size_t)n, SECRET, t.expiry - 1) != 0)
            abort();
        if (tern_token_verify(again, (size_t)n, SECRET, t.expiry) != TERN_ERR_TOKEN_EXPIRED)
            abort();
    }

    /* base64url: whatever decodes must re-encode to the same text (canonical form). */
    uint8_t dec[256];
    int d = tern_base64url_decode(tok, size < 300 ? size : 300, dec, sizeof dec);
    if (d >= 0) {
        char enc[400];
        int e = tern_base64url_encode(dec, (size_t)d, enc, sizeof enc);
        size_t in_len = size < 300 ? size : 300;
        while (in_len && tok[in_len - 1] == '=')
            in_len--;
        if (e < 0 || (size_t)e != in_len || memcmp(enc, tok, in_len) != 0)
            abort();
    }
    tern_free(tok);
    return 0;
}
