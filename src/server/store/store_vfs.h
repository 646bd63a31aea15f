/*
 * store_vfs.h — the SQLite VFS the SQLite store opens its connections with (see
 * store_vfs.c: the default VFS, with WAL appends gathered into one write per commit).
 */
#ifndef TERN_STORE_VFS_H
#define TERN_STORE_VFS_H

/* Registers the VFS on first call (thread-safe, idempotent) and returns its name for
 * sqlite3_open_v2, or NULL if it cannot be registered (then use the default VFS). */
const char *store_vfs_name(void);

#endif
