/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * datadir.h - the data dir as the daemon finds it at start: created 0700
 * or made private (0700, its files 0600), and locked, so that one daemon
 * at a time writes it.
 *
 * The lock is a flock() on DATA_DIR/kpulse.lock, which holds the PID of
 * its holder. The kernel drops it when the holder exits, however it
 * exits, so a stale file never blocks a start.
 */
#ifndef KPULSE_DATADIR_H
#define KPULSE_DATADIR_H

#include <stddef.h>
#include <sys/types.h>

#define DATADIR_LOCK_FILENAME "kpulse.lock"

/*
 * Creates path (mode 0700) when missing, or takes the group and other
 * bits off an existing one and off the regular files in it (not following
 * symbolic links), logging a warning for each it changes. Sets the umask
 * to 077 so that every file the daemon creates afterwards is private.
 * Returns 0, or a negative errno with one line in err.
 */
int datadir_prepare(const char *path, char *err, size_t errlen);

/*
 * Takes the lock of the data dir at path and writes this process's PID
 * into it. Returns the lock's fd (O_CLOEXEC; closing it releases the
 * lock); -EBUSY when another process holds it, *ret_holder then being its
 * PID (0 when unknown); or another negative errno. err says which.
 */
int datadir_lock(const char *path, pid_t *ret_holder, char *err, size_t errlen);

#endif /* KPULSE_DATADIR_H */
