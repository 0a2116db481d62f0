/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * procfs.h - the shared pieces of kpulse's /proc and /sys readers: a file
 * reader that keeps its descriptor and buffer from round to round, number
 * parsing for kernel text, block device names and process names. The
 * parsers take text so tests can feed them fixtures; the readers wrap them.
 */
#ifndef KPULSE_PROCFS_H
#define KPULSE_PROCFS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "registry/registry.h"

/*
 * Finds DEVNAME=<name> in a sysfs uevent text. Names are what
 * /proc/diskstats shows ("vda", "nvme0n1"). Returns 0 or -ENOENT when
 * missing, -EINVAL when the name is empty or has a '/' or control byte.
 */
int procfs_parse_uevent_devname(const char *text, char *buf, size_t len);
/* Name of the block device major:minor from /sys/dev/block; on failure
 * writes "MAJ:MIN" and returns -errno. */
int procfs_block_devname(unsigned major, unsigned minor, char *buf, size_t len);

/* /proc/<pid>/comm without the newline, cut to fit buf; -errno when the
 * process is gone. */
int procfs_read_comm(uint32_t pid, char *buf, size_t len);

/* Reads a whole small file into buf (NUL-terminated). Returns bytes read
 * or -errno; -EFBIG when it does not fit. */
long procfs_read_file(const char *path, char *buf, size_t len);

/*
 * A kernel text file read once per round. The descriptor stays open: a
 * read at offset 0 makes a seq_file (most of /proc) generate fresh text,
 * so a round costs reads and no open. The buffer grows to the largest text
 * seen, up to max bytes.
 */
struct procfs_file {
	char path[256];
	/* "/proc/<name>" whatever the root: the file label of the error
	 * counter names the kernel's file, not where a test keeps a copy. */
	char label[64];
	int fd;	       /* -1 while closed */
	char *buf;     /* the last text read, NUL-terminated */
	size_t cap;    /* bytes allocated for buf */
	size_t max;    /* largest text accepted */
	bool optional; /* absent on some kernels: ENOENT and EOPNOTSUPP are no error */
	bool seen;     /* read successfully at least once */
	/* Failed reads and malformed lines (the parsers add theirs), for
	 * kpulse_procfs_errors_total. */
	uint64_t errors;
};

/* Sets up f for root/name ("/proc" + "stat"); opens nothing yet. Returns 0
 * or -ENAMETOOLONG. */
int procfs_file_init(struct procfs_file *f, const char *root, const char *name, size_t max,
		     bool optional);
/* Reads the whole text into f->buf. Returns its length or -errno (-EFBIG
 * beyond max); a failure closes the file, so the next call opens it again
 * (a file that appears later, say after a module load, is then found). */
long procfs_file_read(struct procfs_file *f);
/* Closes and frees; f can be initialised again. Accepts a zeroed f. */
void procfs_file_close(struct procfs_file *f);
/* Sets kpulse_procfs_errors_total{file} for a file that was read at least
 * once or has errors. Returns 0 or the registry's error. */
int procfs_file_report(const struct procfs_file *f, struct registry *r);

/* Skips blanks (space, tab) and reads an unsigned decimal, moving *pp past
 * it. Returns 0, -EINVAL (no digit) or -ERANGE (beyond 64 bits); *ret only
 * on success. */
int procfs_parse_u64(const char **pp, uint64_t *ret);

#endif /* KPULSE_PROCFS_H */
