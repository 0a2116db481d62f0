/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_writer.c - store_writer.c under write faults: a lock held by
 * another connection, a full disk and a read-only file system (the last
 * two injected through a SQLite VFS). While the buffer has room nothing
 * may be lost: the writer keeps the batch, retries, and writes it all
 * once the fault clears. At close it gives up after close_timeout_s and
 * reports exactly what it lost.
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include "test_store_fixture.h"
/* the read pool's get and release, to hold a reader across a fault */
#include "store/store_internal.h"

static int wait_for_errors(struct store *s, uint64_t n)
{
	struct store_stats st;

	for (int i = 0; i < 500; i++) {
		store_get_stats(s, &st);
		if (st.write_errors >= n)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

STORE_TEST(locked_database_buffers_then_resumes)
{
	struct metric_series m[20];
	struct store_stats st;

	f->opts.busy_timeout_ms = 20;
	f->opts.flush_interval_s = 0.02;
	f->opts.retry_max_s = 0.05;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 20; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_l%d", i);
		m[i] = gauge_series(name, "k", "v", i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 20), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	/* another process takes the write lock */
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_exec(f->db, "BEGIN EXCLUSIVE"), 0);
	for (int r = 1; r <= 10; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 20), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), -EBUSY);
	CHECK_EQ_INT(wait_for_errors(f->s, 3), 0); /* the writer keeps retrying */
	for (int r = 11; r <= 20; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 20), 0);
	CHECK_EQ_INT(store_append_event(f->s, T0, "exec", 1, "x", NULL), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_buffered, 400);
	CHECK_EQ_INT(st.samples_written, 20);
	CHECK_EQ_INT(st.samples_dropped, 0);
	CHECK_EQ_INT(st.last_error, -EBUSY);
	CHECK(strstr(st.last_error_text, "locked") != NULL);
	CHECK(st.consecutive_failures >= 3);
	/* reads still work while the writer is blocked */
	CHECK_EQ_INT(store_list_series(f->s, NULL, &f->list), 0);
	CHECK_EQ_INT(f->list->n, 20);

	CHECK_EQ_INT(sql_exec(f->db, "COMMIT"), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 420);
	CHECK_EQ_INT(st.samples_buffered, 0);
	CHECK_EQ_INT(st.events_written, 1);
	CHECK_EQ_INT(st.consecutive_failures, 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 420);
}

/*
 * A VFS over the default one that fails on demand: FAULT_FULL makes every
 * write return SQLITE_FULL (disk full); FAULT_ROFS makes writes fail with
 * EROFS and opens with CANTOPEN, as after a read-only remount.
 */
enum { FAULT_NONE, FAULT_FULL, FAULT_ROFS };
static int fault_mode;
static int files_open; /* files of the fault VFS open now */
static sqlite3_vfs fault_vfs;
static sqlite3_vfs *real_vfs;
static sqlite3_io_methods fault_io;

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static int fault_now(void)
{
	return __atomic_load_n(&fault_mode, __ATOMIC_SEQ_CST);
}

static sqlite3_file *real_of(sqlite3_file *f)
{
	return ((struct fault_file *)f)->real;
}

static int ff_close(sqlite3_file *f)
{
	__atomic_sub_fetch(&files_open, 1, __ATOMIC_SEQ_CST);
	return real_of(f)->pMethods->xClose(real_of(f));
}

static int ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}

static int ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	switch (fault_now()) {
	case FAULT_FULL:
		return SQLITE_FULL;
	case FAULT_ROFS:
		errno = EROFS;
		return SQLITE_IOERR_WRITE;
	}
	return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}

static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (fault_now() != FAULT_NONE)
		return SQLITE_IOERR_TRUNCATE;
	return real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int ff_sync(sqlite3_file *f, int flags)
{
	return real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int ff_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int ff_lock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xLock(real_of(f), level);
}

static int ff_unlock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xUnlock(real_of(f), level);
}

static int ff_check_lock(sqlite3_file *f, int *out)
{
	return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int ff_control(sqlite3_file *f, int op, void *arg)
{
	return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int ff_sector(sqlite3_file *f)
{
	return real_of(f)->pMethods->xSectorSize(real_of(f));
}

static int ff_device(sqlite3_file *f)
{
	return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int ff_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return real_of(f)->pMethods->xShmMap(real_of(f), pg, pgsz, extend, pp);
}

static int ff_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}

static void ff_shm_barrier(sqlite3_file *f)
{
	real_of(f)->pMethods->xShmBarrier(real_of(f));
}

static int ff_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}

static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return real_of(f)->pMethods->xFetch(real_of(f), off, amt, pp);
}

static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct fault_file *ff = (struct fault_file *)f;
	int rc;

	ff->real = (sqlite3_file *)(ff + 1);
	ff->real->pMethods = NULL;
	f->pMethods = NULL;
	if (fault_now() == FAULT_ROFS) {
		errno = EROFS;
		return SQLITE_CANTOPEN;
	}
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
	if (ff->real->pMethods) {
		f->pMethods = &fault_io;
		__atomic_add_fetch(&files_open, 1, __ATOMIC_SEQ_CST);
	}
	return rc;
}

static int fv_last_error(sqlite3_vfs *vfs, int n, char *buf)
{
	return fault_now() == FAULT_ROFS ? EROFS : real_vfs->xGetLastError(real_vfs, n, buf);
}

static void fault_vfs_register(void)
{
	if (real_vfs)
		return;
	real_vfs = sqlite3_vfs_find(NULL);
	fault_io = (sqlite3_io_methods){
	    .iVersion = 3,
	    .xClose = ff_close,
	    .xRead = ff_read,
	    .xWrite = ff_write,
	    .xTruncate = ff_truncate,
	    .xSync = ff_sync,
	    .xFileSize = ff_size,
	    .xLock = ff_lock,
	    .xUnlock = ff_unlock,
	    .xCheckReservedLock = ff_check_lock,
	    .xFileControl = ff_control,
	    .xSectorSize = ff_sector,
	    .xDeviceCharacteristics = ff_device,
	    .xShmMap = ff_shm_map,
	    .xShmLock = ff_shm_lock,
	    .xShmBarrier = ff_shm_barrier,
	    .xShmUnmap = ff_shm_unmap,
	    .xFetch = ff_fetch,
	    .xUnfetch = ff_unfetch,
	};
	fault_vfs = *real_vfs;
	fault_vfs.pNext = NULL;
	fault_vfs.zName = "kpulse_fault";
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
	fault_vfs.xOpen = fv_open;
	fault_vfs.xGetLastError = fv_last_error;
	sqlite3_vfs_register(&fault_vfs, 0);
}

static void set_fault(int mode)
{
	__atomic_store_n(&fault_mode, mode, __ATOMIC_SEQ_CST);
}

/*
 * Runs one fault scenario: writes fail while buffered data grows, the
 * first attempt with first_err (or want_err), the retries with want_err;
 * then the fault clears and every sample and event is written.
 */
static void fault_scenario(int *failed, struct fixture *f, int mode, int first_err, int want_err)
{
	int err;

	struct metric_series m[25];
	struct store_stats st;

	fault_vfs_register();
	f->opts.vfs = "kpulse_fault";
	f->opts.flush_interval_s = 0.02;
	f->opts.retry_max_s = 0.05;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 25; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_f%d", i);
		m[i] = gauge_series(name, NULL, NULL, i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 25), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	set_fault(mode);
	for (int r = 1; r <= 8; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 25), 0);
	CHECK_EQ_INT(store_append_event(f->s, T0, "exec", 1, "x", NULL), 0);
	err = store_flush_sync(f->s);
	CHECK(err == first_err || err == want_err);
	CHECK_EQ_INT(wait_for_errors(f->s, 3), 0);
	for (int r = 9; r <= 16; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 25), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.last_error, want_err);
	CHECK(st.last_error_text[0] != '\0');
	CHECK_EQ_INT(st.samples_buffered, 16 * 25);
	CHECK_EQ_INT(st.samples_dropped, 0);
	CHECK_EQ_INT(st.events_buffered, 1);

	set_fault(FAULT_NONE);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 17 * 25);
	CHECK_EQ_INT(st.samples_buffered, 0);
	CHECK_EQ_INT(st.events_written, 1);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 17 * 25);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT integrity_check = 'ok' FROM pragma_integrity_check"),
		     1);
}

STORE_TEST(disk_full_buffers_then_resumes)
{
	fault_scenario(failed, f, FAULT_FULL, -ENOSPC, -ENOSPC);
	set_fault(FAULT_NONE);
}

STORE_TEST(read_only_filesystem_buffers_then_resumes)
{
	/* SQLite reports a failed WAL write as a bare I/O error; reopening the
	 * connection, which the writer then does, names the cause */
	fault_scenario(failed, f, FAULT_ROFS, -EIO, -EROFS);
	set_fault(FAULT_NONE);
}

/*
 * While the writer is disconnected by a fault, no connection of the store
 * keeps a file open: not the idle readers, and not a reader that was in
 * use when the fault came, once it is released. (One would keep the file
 * system from being unmounted and recovered; SQLite even keeps the files
 * of closed connections open while another holds its lock.)
 */
static void closes_scenario(int *failed, struct fixture *f)
{
	struct metric_series m[5];
	sqlite3 *held = NULL, *idle = NULL;

	fault_vfs_register();
	f->opts.vfs = "kpulse_fault";
	f->opts.flush_interval_s = 0.02;
	f->opts.retry_max_s = 0.05;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_c%d", i);
		m[i] = gauge_series(name, NULL, NULL, i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 5), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	/* one reader idle in the pool, one in use */
	CHECK_EQ_INT(store_reader_get(f->s, &idle), 0);
	CHECK_EQ_INT(store_reader_get(f->s, &held), 0);
	CHECK_EQ_INT(sqlite3_exec(idle, "SELECT count(*) FROM series", NULL, NULL, NULL),
		     SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(held, "SELECT count(*) FROM series", NULL, NULL, NULL),
		     SQLITE_OK);
	store_reader_release(f->s, idle, 0);
	CHECK(__atomic_load_n(&files_open, __ATOMIC_SEQ_CST) > 0);

	set_fault(FAULT_ROFS);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 1, m, 5), 0);
	CHECK(store_flush_sync(f->s) < 0);
	CHECK_EQ_INT(wait_for_errors(f->s, 2), 0);
	store_reader_release(f->s, held, 0);
	CHECK_EQ_INT(__atomic_load_n(&files_open, __ATOMIC_SEQ_CST), 0);

	/* writable again: everything is written and the pool keeps readers */
	set_fault(FAULT_NONE);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(store_list_series(f->s, NULL, &f->list), 0);
	CHECK_EQ_INT(f->list->n, 5);
	pthread_mutex_lock(&f->s->rlock);
	CHECK_EQ_INT(f->s->nridle, 1);
	pthread_mutex_unlock(&f->s->rlock);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 10);
}

STORE_TEST(read_only_filesystem_closes_every_connection_until_writable)
{
	closes_scenario(failed, f);
	set_fault(FAULT_NONE);
}

/* A flush that leaves the WAL past STORE_WAL_TRUNCATE_BYTES checkpoints
 * it and truncates it, so it does not keep its high-water size on disk;
 * what was written reads back. */
STORE_TEST(large_flush_leaves_the_wal_empty)
{
	enum { N = 2000, ROUNDS = 100 };
	struct metric_series *m = calloc(N, sizeof(*m));
	char wal[160];
	struct stat sb;

	CHECK(m != NULL);
	if (!m)
		return;
	f->opts.flush_interval_s = 3600;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_w%d", i);
		m[i] = gauge_series(name, NULL, NULL, i * 1.5);
	}
	for (int r = 0; r < ROUNDS; r++) {
		/* values that do not compress to nothing (whole at no scale) */
		for (int i = 0; i < N; i++)
			m[i].value = (double)((r * 131 + i * 17) % 1000) * 1.37 + 1.0 / 7;
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, N), 0);
		/* in several commits, as the daemon's flushes are */
		if (r % 10 == 9)
			CHECK_EQ_INT(store_flush_sync(f->s), 0);
	}
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	CHECK_EQ_INT(stat(wal, &sb), 0);
	CHECK_EQ_INT(sb.st_size, 0);
	CHECK_EQ_INT(stat(f->path, &sb), 0);
	CHECK(sb.st_size > STORE_WAL_TRUNCATE_BYTES);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), N * ROUNDS);
	free(m);
}

STORE_TEST(close_gives_up_after_its_timeout_and_reports_the_loss)
{
	struct metric_series m[25];
	uint64_t lost_samples = 0, lost_events = 0;

	fault_vfs_register();
	f->opts.vfs = "kpulse_fault";
	f->opts.flush_interval_s = 3600;
	f->opts.close_timeout_s = 0; /* one attempt */
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 25; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_z%d", i);
		m[i] = gauge_series(name, NULL, NULL, i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 25), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 1, m, 25), 0);
	CHECK_EQ_INT(store_append_event(f->s, T0, "exec", 1, "x", NULL), 0);
	set_fault(FAULT_FULL);
	f->s = store_close_report(f->s, &lost_samples, &lost_events);
	set_fault(FAULT_NONE);
	CHECK(f->s == NULL);
	CHECK_EQ_INT(lost_samples, 25);
	CHECK_EQ_INT(lost_events, 1);
	/* what was committed before is intact */
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 25);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 0);
}

TEST_MAIN()
