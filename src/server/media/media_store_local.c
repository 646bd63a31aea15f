/*
 * media_store_local.c — the media store in a local directory (media_store.h):
 *   <root>/tmp/<random>            files being uploaded (removed at start)
 *   <root>/<app>/<id[0..2]>/<id>   committed files
 * A commit is rename(2) of an fsynced file into its directory, then an fsync of that
 * directory, so a file is either absent or whole after a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "media/media_store.h"

typedef struct local_store {
    media_store base;
    char root[1024];
} local_store;

static int mkdir_ok(const char *p)
{
    return mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

static int sync_dir(const char *p)
{
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static int final_path(local_store *ls, int64_t app, const char *id, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/%lld/%.2s/%s", ls->root, (long long)app, id, id);
    return n > 0 && (size_t)n < outsz ? 0 : -ENAMETOOLONG;
}

static int l_tmp_open(media_store *ms, char *tmp, size_t tmpsz)
{
    local_store *ls = (local_store *)ms;
    unsigned char r[12];
    if (RAND_bytes(r, sizeof r) != 1)
        return -EIO;
    char hex[25];
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    int n = snprintf(tmp, tmpsz, "%s/tmp/%s", ls->root, hex);
    if (n < 0 || (size_t)n >= tmpsz)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return fd >= 0 ? fd : -errno;
}

static int l_part_open(media_store *ms, const char *name, char *path, size_t pathsz, uint64_t *size)
{
    local_store *ls = (local_store *)ms;
    int n = snprintf(path, pathsz, "%s/tmp/up-%s", ls->root, name);
    if (n < 0 || (size_t)n >= pathsz)
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

static int l_commit(media_store *ms, int64_t app, const char *id, const char *tmp)
{
    local_store *ls = (local_store *)ms;
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/%lld", ls->root, (long long)app);
    int rc = mkdir_ok(dir);
    if (rc == 0) {
        snprintf(dir, sizeof dir, "%s/%lld/%.2s", ls->root, (long long)app, id);
        rc = mkdir_ok(dir);
    }
    if (rc == 0)
        rc = final_path(ls, app, id, path, sizeof path);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0)
        rc = sync_dir(dir);
    return rc;
}

static int l_open_read(media_store *ms, int64_t app, const char *id, uint64_t *size)
{
    char path[1300];
    int rc = final_path((local_store *)ms, app, id, path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

static int l_remove(media_store *ms, int64_t app, const char *id)
{
    char path[1300];
    int rc = final_path((local_store *)ms, app, id, path, sizeof path);
    if (rc < 0)
        return rc;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

static void l_tmp_remove(media_store *ms, const char *tmp)
{
    (void)ms;
    if (unlink(tmp) != 0 && errno != ENOENT)
        LOG_WARN("media: cannot remove %s: %s", tmp, strerror(errno));
}

static void l_clean_tmp(media_store *ms)
{
    local_store *ls = (local_store *)ms;
    char dir[1100], path[1400];
    snprintf(dir, sizeof dir, "%s/tmp", ls->root);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0)
            n++;
    }
    closedir(d);
    if (n)
        LOG_INFO("media: removed %d unfinished upload(s) from %s", n, dir);
}

static void l_free(media_store *ms)
{
    tern_free(ms);
}

static const media_store_ops local_ops = {
    .tmp_open = l_tmp_open,
    .part_open = l_part_open,
    .commit = l_commit,
    .open_read = l_open_read,
    .remove = l_remove,
    .tmp_remove = l_tmp_remove,
    .clean_tmp = l_clean_tmp,
    .free = l_free,
};

media_store *media_store_local_new(const char *dir)
{
    local_store *ls = tern_calloc(1, sizeof *ls);
    ls->base.ops = &local_ops;
    char tmp[1100];
    int n = snprintf(ls->root, sizeof ls->root, "%s", dir);
    snprintf(tmp, sizeof tmp, "%s/tmp", ls->root);
    if (n <= 0 || (size_t)n >= sizeof ls->root || mkdir_ok(ls->root) != 0 || mkdir_ok(tmp) != 0) {
        LOG_ERROR("media: cannot create %s: %s", tmp, strerror(errno));
        tern_free(ls);
        return NULL;
    }
    return &ls->base;
}
