/*
 * it_browser.c — a real browser loads media through the URLs ternd puts into messages
 * (issue 9: "Signed, expiring URLs work for a browser <img src>"; docs/rest-api.md
 * "Media", signed URLs).
 *
 * alice uploads a PNG and sends it to bob as a TIMImageElem; the signed URLs of bob's
 * event (the original, the 198 and 720 thumbnails) go into <img src> elements of a page
 * that headless Chromium (Debian's `chromium`, installed by `make test`'s test-deps)
 * loads from a file, with no token and no cookie: a browser sends a plain GET. The page
 * writes each image's natural size, or 0x0 for one that did not load, into its DOM, which
 * Chromium dumps. The same page holds the refusals: the signature altered, a signature
 * past its expiry, the bare path (no signature), and a file that claims to be a PNG but
 * is HTML (stored as application/octet-stream, sent with nosniff: a browser never decodes
 * it as an image). Without Chromium the test is skipped, except under CI=true, where it
 * fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_media.h"

static int have_chromium(void)
{
    return system("command -v chromium >/dev/null 2>&1") == 0;
}

/* Uploads data with the app token and copies the media id into id[33] (asserts 200). */
static void upload_to(it_server *s, const char *ctype, const char *name, const void *data, size_t n, char id[33])
{
    it_http_resp r;
    int st = upload(s, "/demo/demo", it_app_token(s), ctype, name, data, n, &r);
    if (st != 200 || !r.json)
        fail_msg("upload %s: %d %s", name, st, r.body ? r.body : "");
    snprintf(id, 33, "%s", it_jstr(r.json, "data.mediaId"));
    assert_int_equal(strlen(id), 32);
    it_http_resp_free(&r);
}

/* Runs Chromium on the page and returns its dumped DOM (malloc'd), or NULL. */
static char *browse(const char *page)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
             "--no-first-run --user-data-dir=%s.profile --virtual-time-budget=20000 --dump-dom 'file://%s' "
             "2>/dev/null",
             page, page);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    size_t k;
    while ((k = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 == cap)
            out = realloc(out, cap *= 2);
    }
    out[n] = 0;
    pclose(p);
    return out;
}

static void test_img_src(void **state)
{
    (void)state;
    if (!have_chromium()) {
        const char *ci = getenv("CI");
        if (ci && !strcmp(ci, "true"))
            fail_msg("chromium is not installed (make test-deps installs it)");
        print_message("chromium not installed: skipped (make test-deps installs it)\n");
        skip();
    }
    it_server *s = it_server_new(NULL);
    assert_non_null(s);
    static const char *const u[] = {"alice", "bob", NULL};
    it_create_users(s, u);
    it_ws *alice = it_login(s, "alice", "a1");
    it_ws *bob = it_login(s, "bob", "b1");

    size_t png_n;
    uint8_t *png = make_png(400, 300, &png_n);
    char img[33], fake[33];
    upload_to(s, "image/png", "cat.png", png, png_n, img);
    static const char html[] = "<html><body><script>alert(1)</script></body></html>";
    upload_to(s, "image/png", "evil.png", html, sizeof html - 1, fake);
    free(png);

    cJSON *a = it_ws_request(alice,
                             "{\"op\":\"send\",\"msg\":{\"conversationType\":\"C2C\",\"to\":\"bob\","
                             "\"type\":\"TIMImageElem\",\"payload\":{\"uuid\":\"%s\"}}}",
                             img);
    it_assert_code(a, 0);
    cJSON_Delete(a);
    cJSON *ev = it_ws_wait_event(bob, "msg", IT_WAIT_MS);
    assert_non_null(ev);
    const cJSON *arr = it_jget(ev, "data.payload.imageInfoArray");
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    /* The URLs exactly as delivered (paths: no --public-url), behind this server. */
    char urls[7][700];
    for (int i = 0; i < 3; i++) {
        const char *path = it_jstr(cJSON_GetArrayItem(arr, i), "url");
        assert_non_null(path);
        snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d%s", s->port, path);
    }
    /* The original's URL with its signature altered (the last character changed). */
    snprintf(urls[3], sizeof urls[3], "%s", urls[0]);
    char *last = urls[3] + strlen(urls[3]) - 1;
    *last = *last == 'A' ? 'B' : 'A';
    /* A signature that expired two seconds ago; the bare path; the HTML "PNG". */
    char path[512];
    media_signed_path(s, img, 0, (long long)time(NULL) - 2, path, sizeof path);
    snprintf(urls[4], sizeof urls[4], "http://127.0.0.1:%d%s", s->port, path);
    snprintf(urls[5], sizeof urls[5], "http://127.0.0.1:%d/demo/demo/media/%s", s->port, img);
    media_signed_path(s, fake, 0, (long long)time(NULL) + 600, path, sizeof path);
    snprintf(urls[6], sizeof urls[6], "http://127.0.0.1:%d%s", s->port, path);
    cJSON_Delete(ev);

    char page[512];
    snprintf(page, sizeof page, "%s/page.html", s->dir);
    FILE *f = fopen(page, "w");
    assert_non_null(f);
    fputs("<!doctype html><html><body onload=\"var o='';for(var i=0;i<7;i++){var m=document.getElementById('i'+i);"
          "o+=' i'+i+'='+m.naturalWidth+'x'+m.naturalHeight;}document.getElementById('out').textContent="
          "'RESULT'+o+' END';\">",
          f);
    for (int i = 0; i < 7; i++)
        fprintf(f, "<img id=\"i%d\" src=\"%s\">", i, urls[i]);
    fputs("<p id=\"out\">pending</p></body></html>\n", f);
    fclose(f);

    char *dom = browse(page);
    assert_non_null(dom);
    const char *res = strstr(dom, "id=\"out\">");
    if (res)
        res += strlen("id=\"out\">");
    if (!res)
        fail_msg("the page did not finish: %.400s", dom);
    /* The original at its size, the thumbnails at theirs (tern_img_fit: 198x149; the 720
     * box of a 400x300 image is the image's own size); every refusal loads nothing. */
    static const char want[] = "RESULT i0=400x300 i1=198x149 i2=400x300 i3=0x0 i4=0x0 i5=0x0 i6=0x0 END";
    if (strncmp(res, want, sizeof want - 1) != 0)
        fail_msg("browser saw: %.200s\nwanted:      %s", res, want);
    free(dom);
    assert_int_equal(it_server_free(s), 0);
}

int main(void)
{
    it_watchdog(300);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_img_src)};
    return it_finish(cmocka_run_group_tests_name("it_browser", tests, NULL, NULL));
}
