/*
 * thumb_cost.c — the thumbnailer's cost figure (issue 9, "Performance: Thumbnails";
 * docs/performance.md, "Thumbnails"): the CPU time and the whole process's peak memory
 * of making both thumbnails (198 and 720) of a 4000x3000 JPEG with thumb_make, the very
 * function ternd's workers call.
 *
 *   thumb-cost [RUNS [SIGMA]]      (defaults 7 and 8: a 2.5 MB file)
 *
 * It writes a 4000x3000 photo-like JPEG (waves and gradients under Gaussian noise, Q 90)
 * to a temporary file, then runs RUNS fresh processes of each of two kinds: "base"
 * starts libvips as ternd does and opens the file; "thumb" does the same and then makes
 * the thumbnails. Each reports getrusage's user + system time and ru_maxrss; the figure
 * is the median of thumb minus the median of base (CPU), and the median peak of thumb
 * (memory, whole process: libvips, glib and the program included). Build it without
 * sanitizers (the build/ tree) for figures.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vips/vips.h>

#include "media/thumb.h"

#define W 4000
#define H 3000

/* A photo-like 4000x3000 JPEG: smooth waves and gradients under Gaussian noise of sigma
 * (the noise sets the compressed size, and the entropy decoding that dominates the cost:
 * sigma 4 gives about 1.2 MB, 8 about 2.5 MB, 12 about 4.4 MB, 24 about 9.5 MB). */
static int make(const char *path, double sigma)
{
    if (VIPS_INIT("thumb-cost") != 0)
        return 1;
    VipsImage *xy, *bx, *by, *sx, *wave, *g, *noise, *sum, *gy, *rgb, *u;
    if (vips_xyz(&xy, W, H, NULL) || vips_extract_band(xy, &bx, 0, NULL) || vips_extract_band(xy, &by, 1, NULL) ||
        vips_linear1(bx, &sx, 0.003, 0, NULL) || vips_sin(sx, &wave, NULL) || vips_linear1(wave, &g, 60, 128, NULL) ||
        vips_gaussnoise(&noise, W, H, "sigma", sigma, "mean", 0.0, NULL) || vips_add(g, noise, &sum, NULL) ||
        vips_linear1(by, &gy, 255.0 / H, 0, NULL))
        return 1;
    VipsImage *in[3] = {sum, gy, g};
    if (vips_bandjoin(in, &rgb, 3, NULL) || vips_cast_uchar(rgb, &u, NULL))
        return 1;
    vips_image_set_int(u, "interpretation", VIPS_INTERPRETATION_sRGB);
    return vips_jpegsave(u, path, "Q", 90, NULL) ? 1 : 0;
}

static long cpu_us(struct rusage *ru)
{
    getrusage(RUSAGE_SELF, ru);
    return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000L + ru->ru_utime.tv_usec + ru->ru_stime.tv_usec;
}

static int one_thumb(int fd)
{
    void *s, *l;
    size_t sn, ln;
    if (thumb_make(fd, W, H, 50000000, &s, &sn, &l, &ln) != 0)
        return -1;
    thumb_buf_free(s);
    thumb_buf_free(l);
    return 0;
}

/* One measured process: prints "cpu_us maxrss_kb". thumb 0: libvips started and the
 * file opened (the base); 1: and both thumbnails made; 2 ("warm"): both thumbnails made
 * once, then the CPU of making them a second time only, as a running ternd pays it per
 * image (the first image of a process also pays libvips' one-time set-up of the
 * operations it uses). */
static int run(const char *path, int thumb)
{
    if (thumb_lib_init() != 0)
        return 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    if (thumb && one_thumb(fd) != 0)
        return 1;
    struct rusage ru;
    long before = cpu_us(&ru);
    if (thumb == 2 && one_thumb(fd) != 0)
        return 1;
    close(fd);
    long us = cpu_us(&ru);
    printf("%ld %ld\n", thumb == 2 ? us - before : us, ru.ru_maxrss);
    return 0;
}

/* Runs self with args and reads its two numbers. */
static int child(const char *self, const char *mode, const char *path, long *cpu, long *rss)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execl(self, self, mode, path, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[128] = {0};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    char *end;
    *cpu = strtol(buf, &end, 10);
    *rss = strtol(end, &end, 10);
    return end != buf && (*end == '\n' || *end == 0) ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static long median(long *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "make") == 0)
        return make(argv[2], strtod(argv[3], NULL));
    if (argc == 3 && (strcmp(argv[1], "base") == 0 || strcmp(argv[1], "thumb") == 0 || strcmp(argv[1], "warm") == 0))
        return run(argv[2], strcmp(argv[1], "warm") == 0 ? 2 : strcmp(argv[1], "thumb") == 0);
    /* command-line numbers, not network bytes; anything else is refused, never taken as
     * the driver (which runs this program again: a mode it did not know would recurse) */
    char *end = NULL;
    int runs = argc > 1 ? (int)strtol(argv[1], &end, 10) : 7;
    if (argc > 3 || (argc > 1 && (end == argv[1] || *end))) {
        fprintf(stderr, "usage: thumb-cost [RUNS [SIGMA]]\n");
        return 2;
    }
    const char *sigma = argc > 2 ? argv[2] : "8";
    if (runs < 1 || runs > 100)
        runs = 7;
    char path[] = "/tmp/thumb-cost-XXXXXX.jpg";
    int fd = mkstemps(path, 4);
    if (fd < 0)
        return 1;
    close(fd);
    char self[1024];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        return 1;
    self[sl] = 0;
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "make", path, sigma, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "thumb-cost: cannot make the test JPEG\n");
        unlink(path);
        return 1;
    }
    long bc[100], br[100], tc[100], tr[100], wc[100], wr[100];
    for (int i = 0; i < runs; i++) {
        if (child(self, "base", path, &bc[i], &br[i]) != 0 || child(self, "thumb", path, &tc[i], &tr[i]) != 0 ||
            child(self, "warm", path, &wc[i], &wr[i]) != 0) {
            fprintf(stderr, "thumb-cost: a run failed\n");
            unlink(path);
            return 1;
        }
    }
    long mbc = median(bc, runs), mbr = median(br, runs), mtc = median(tc, runs), mtr = median(tr, runs);
    struct stat st0;
    long long fsize = stat(path, &st0) == 0 ? (long long)st0.st_size : -1;
    printf("4000x3000 JPEG of %lld bytes (noise sigma %s), both thumbnails, %d runs (medians)\n", fsize, sigma, runs);
    printf("  base : cpu %6.1f ms  peak %6.1f MiB\n", mbc / 1000.0, mbr / 1024.0);
    printf("  thumb: cpu %6.1f ms  peak %6.1f MiB\n", mtc / 1000.0, mtr / 1024.0);
    printf("  thumbnails: cpu %.1f ms (budget 80), process peak %.1f MiB (budget 64)\n", (mtc - mbc) / 1000.0,
           mtr / 1024.0);
    printf("  per image in a running process (the second image): cpu %.1f ms, peak %.1f MiB\n",
           median(wc, runs) / 1000.0, median(wr, runs) / 1024.0);
    unlink(path);
    return 0;
}
