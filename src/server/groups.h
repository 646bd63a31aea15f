/*
 * groups.h — the group membership cache: (app, group) -> an immutable, refcounted
 * snapshot of the members, loaded from the store on a miss and dropped when a change
 * commits. Senders are checked and fan-out lists taken from snapshots, so the hot path
 * never queries the store for membership. Thread-safe (groups_mu).
 */
#ifndef TERN_GROUPS_H
#define TERN_GROUPS_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"

/* Immutable snapshot of a group's members, refcounted; replaced on change. */
typedef struct group_snap {
    atomic_int refs;
    size_t n;
    char **members; /* sorted */
    char owner[65];
} group_snap;

/* Returns a referenced snapshot of the group's members (loading it with r on a miss),
 * or NULL with *err = TERN_ERR_GROUP_NOT_FOUND / TERN_ERR_STORE. The caller releases it
 * with group_snap_unref. */
group_snap *groups_get(server *s, store_reader *r, int64_t app, const char *gid, int *err);
/* Drops the cached snapshot of the group (after a membership change committed); holders
 * keep theirs. */
void groups_invalidate(server *s, int64_t app, const char *gid);
/* Frees every cached snapshot (server_free). */
void groups_free_all(server *s);
/* Releases a reference; the last one frees the snapshot. NULL is a no-op. */
void group_snap_unref(group_snap *g);
/* 1 if user is a member of the snapshot, else 0. */
int group_snap_has(const group_snap *g, const char *user);

#endif
