/*
 * 15-iofault.c: I/O errors in the middle of write transactions
 * (reliability.md test plan row 6).
 *
 * A shim VFS over SQLite's "unix" VFS, registered as the default one so
 * that db_open() uses it, counts the xWrite, xSync and xTruncate calls of
 * every file (database, WAL) and makes the Nth of them fail.  For each
 * kind of fault (a write that fails with SQLITE_IOERR_WRITE, one that
 * fails with SQLITE_FULL, a sync that fails with synchronous=FULL) and
 * each operation (a booking, a release, a refresh-token rotation), N runs
 * from 1 until the operation completes without reaching an Nth call:
 *
 *   - an operation that met a fault returns DB_UNAVAILABLE, which
 *     db_to_http() answers 503 with Retry-After (never 500, never a crash);
 *   - an operation that did not returns DB_OK and did its work;
 *   - after each run the connection is closed and opened again (no fault),
 *     and a connection of the test's own, on the plain "unix" VFS, checks
 *     integrity_check, foreign_key_check and the parking invariants, and
 *     that exactly the operations reported done are in the database: a
 *     fault never leaves a partial row nor hides a commit.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "park.h"
#include "dbfix.h"
#include "tap.h"

/* ---- the shim VFS ---- */

enum fault { F_WRITE_IOERR, F_WRITE_FULL, F_SYNC };

static sqlite3_vfs *base;
static sqlite3_vfs shim;
static int armed;     /* count calls and fail the Nth */
static int fail_at;   /* N */
static int calls;     /* calls counted since armed */
static int injected;  /* faults injected since armed */
static enum fault kind;

struct shim_file {
	sqlite3_file f;       /* our methods */
	sqlite3_file *real;   /* the unix VFS's file, right after us */
};

#define REAL(p) (((struct shim_file *)(p))->real)

/* Returns the fault to inject for a call of this kind, or SQLITE_OK. */
static int
shim_fault(int is_sync)
{
	if (!armed || (is_sync != (kind == F_SYNC)))
		return SQLITE_OK;
	if (++calls != fail_at)
		return SQLITE_OK;
	injected++;
	switch (kind) {
	case F_WRITE_IOERR:
		return SQLITE_IOERR_WRITE;
	case F_WRITE_FULL:
		return SQLITE_FULL;
	case F_SYNC:
		return SQLITE_IOERR_FSYNC;
	}
	return SQLITE_IOERR;
}

static int
x_close(sqlite3_file *p)
{
	return REAL(p)->pMethods->xClose(REAL(p));
}

static int
x_read(sqlite3_file *p, void *buf, int n, sqlite3_int64 off)
{
	return REAL(p)->pMethods->xRead(REAL(p), buf, n, off);
}

static int
x_write(sqlite3_file *p, const void *buf, int n, sqlite3_int64 off)
{
	int rc = shim_fault(0);

	return rc != SQLITE_OK ? rc :
	    REAL(p)->pMethods->xWrite(REAL(p), buf, n, off);
}

static int
x_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	int rc = shim_fault(0);

	return rc != SQLITE_OK ? (rc == SQLITE_IOERR_WRITE ?
	    SQLITE_IOERR_TRUNCATE : rc) :
	    REAL(p)->pMethods->xTruncate(REAL(p), size);
}

static int
x_sync(sqlite3_file *p, int flags)
{
	int rc = shim_fault(1);

	return rc != SQLITE_OK ? rc : REAL(p)->pMethods->xSync(REAL(p), flags);
}

static int
x_size(sqlite3_file *p, sqlite3_int64 *size)
{
	return REAL(p)->pMethods->xFileSize(REAL(p), size);
}

static int
x_lock(sqlite3_file *p, int l)
{
	return REAL(p)->pMethods->xLock(REAL(p), l);
}

static int
x_unlock(sqlite3_file *p, int l)
{
	return REAL(p)->pMethods->xUnlock(REAL(p), l);
}

static int
x_check(sqlite3_file *p, int *out)
{
	return REAL(p)->pMethods->xCheckReservedLock(REAL(p), out);
}

static int
x_fcntl(sqlite3_file *p, int op, void *arg)
{
	return REAL(p)->pMethods->xFileControl(REAL(p), op, arg);
}

static int
x_sector(sqlite3_file *p)
{
	return REAL(p)->pMethods->xSectorSize(REAL(p));
}

static int
x_chars(sqlite3_file *p)
{
	return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p));
}

static int
x_shm_map(sqlite3_file *p, int pg, int sz, int extend, void volatile **out)
{
	return REAL(p)->pMethods->xShmMap(REAL(p), pg, sz, extend, out);
}

static int
x_shm_lock(sqlite3_file *p, int off, int n, int flags)
{
	return REAL(p)->pMethods->xShmLock(REAL(p), off, n, flags);
}

static void
x_shm_barrier(sqlite3_file *p)
{
	REAL(p)->pMethods->xShmBarrier(REAL(p));
}

static int
x_shm_unmap(sqlite3_file *p, int del)
{
	return REAL(p)->pMethods->xShmUnmap(REAL(p), del);
}

static int
x_fetch(sqlite3_file *p, sqlite3_int64 off, int n, void **out)
{
	return REAL(p)->pMethods->xFetch(REAL(p), off, n, out);
}

static int
x_unfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr)
{
	return REAL(p)->pMethods->xUnfetch(REAL(p), off, ptr);
}

static const sqlite3_io_methods shim_io = {
	3, x_close, x_read, x_write, x_truncate, x_sync, x_size, x_lock,
	x_unlock, x_check, x_fcntl, x_sector, x_chars, x_shm_map, x_shm_lock,
	x_shm_barrier, x_shm_unmap, x_fetch, x_unfetch
};

static int
x_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags,
    int *out)
{
	struct shim_file *f = (struct shim_file *)p;
	int rc;

	(void)vfs;
	f->real = (sqlite3_file *)(f + 1);
	rc = base->xOpen(base, name, f->real, flags, out);
	/* The unix VFS's methods are version 3; ours forward all of them. */
	p->pMethods = f->real->pMethods != NULL ? &shim_io : NULL;
	return rc;
}

static void
shim_register(void)
{
	base = sqlite3_vfs_find("unix");
	/* The unix VFS's own methods and limits but for xOpen (they use the
	 * VFS they are called on only for its pAppData, copied too). */
	shim = *base;
	shim.pNext = NULL;
	shim.szOsFile = (int)sizeof(struct shim_file) + base->szOsFile;
	shim.zName = "parkd-iofault";
	shim.xOpen = x_open;
	sqlite3_vfs_register(&shim, 1);
}

/* ---- the checks, on a connection of the test's own ---- */

static char dir[256], path[300];

/* The first column of the first row of sql, read on a fresh connection
 * of the plain unix VFS; -1000 on error. */
static long long
q(const char *sql)
{
	sqlite3 *raw;
	sqlite3_stmt *st;
	long long v = -1000;

	if (sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, "unix") !=
	    SQLITE_OK) {
		sqlite3_close(raw);
		return -1000;
	}
	if (sqlite3_prepare_v2(raw, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	} else
		diag("q: %s: %s", sql, sqlite3_errmsg(raw));
	sqlite3_close(raw);
	return v;
}

/* The number of broken invariants (each named in a diag line). */
static int
broken(void)
{
	static const struct {
		const char *what, *sql;
	} checks[] = {
		{ "integrity_check",
		    "SELECT count(*) FROM pragma_integrity_check"
		    " WHERE integrity_check <> 'ok'" },
		{ "foreign_key_check",
		    "SELECT count(*) FROM pragma_foreign_key_check" },
		{ "a spot with two active reservations",
		    "SELECT count(*) FROM (SELECT spot_id FROM reservations"
		    " WHERE status = 'active' GROUP BY spot_id"
		    " HAVING count(*) > 1)" },
		{ "lots.occupied unlike the active reservations",
		    "SELECT count(*) FROM lots l WHERE l.occupied <> (SELECT"
		    " count(*) FROM reservations r WHERE r.lot_id = l.id AND"
		    " r.status = 'active')" },
		{ "spots.status unlike the reservations",
		    "SELECT count(*) FROM spots s WHERE s.status <> CASE WHEN"
		    " EXISTS (SELECT 1 FROM reservations r WHERE r.spot_id ="
		    " s.id AND r.status = 'active') THEN 'O' ELSE 'A' END" },
		{ "a completed reservation without its cost",
		    "SELECT count(*) FROM reservations WHERE status ="
		    " 'completed' AND (cost_cents IS NULL OR leaving_ts IS"
		    " NULL)" },
	};
	size_t i;
	int bad = 0;
	long long n;

	for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		if ((n = q(checks[i].sql)) != 0) {
			diag("broken: %s (%lld)", checks[i].what, n);
			bad++;
		}
	}
	return bad;
}

/* ---- the runs ---- */

static const char *const fault_name[] = { "write fails (IOERR_WRITE)",
    "write fails (FULL)", "sync fails (IOERR_FSYNC, synchronous=FULL)" };

enum op { OP_BOOK, OP_RELEASE, OP_ROTATE };
static const char *const op_name[] = { "booking", "release",
    "refresh rotation" };

static int64_t lot, user;
/* What db_book() and db_release() read the reservation into. */
static struct pool pool;
static const char *const sid = "5e55105e55105e55105e55105e55105e";
static char jti[33], next_jti[33];
static unsigned jti_seq;

/* Reopens the connection without faults. */
static int
reopen(void)
{
	armed = 0;
	db_close();
	return db_open(path, 0) == DB_OK;
}

/* What an operation changes, read on the test's own connection: the
 * reservations, the active ones, the sessions holding the next jti. */
static long long
measure(enum op o)
{
	char sql[160];

	switch (o) {
	case OP_BOOK:
		return q("SELECT count(*) FROM reservations");
	case OP_RELEASE:
		return q("SELECT count(*) FROM reservations WHERE status ="
		    " 'active'");
	case OP_ROTATE:
		snprintf(sql, sizeof sql, "SELECT count(*) FROM sessions WHERE"
		    " id = '%s' AND refresh_jti = '%s'", sid, next_jti);
		return q(sql);
	}
	return -1;
}

/* Prepares one run without faults.  Returns 0 or -1. */
static int
setup(enum op o, int64_t *id)
{
	struct resv v;
	enum book b;

	switch (o) {
	case OP_BOOK:
		return 0;
	case OP_RELEASE:
		/* A release needs an active reservation. */
		if (db_book(&pool, lot, user, "SETUP", &v, &b) != DB_OK ||
		    b != BOOK_OK)
			return -1;
		*id = v.id;
		return 0;
	case OP_ROTATE:
		snprintf(next_jti, sizeof next_jti, "%032x", ++jti_seq);
		return 0;
	}
	return -1;
}

/* Runs the operation: DB_OK with *done set when it did its work. */
static enum dbrc
operate(enum op o, int64_t *id, int *done)
{
	struct session_state ss;
	struct token_pair tp;
	struct resv v;
	enum release r;
	enum rotate t;
	enum book b;
	enum dbrc rc = DB_ERROR;

	*done = 0;
	switch (o) {
	case OP_BOOK:
		rc = db_book(&pool, lot, user, "IOFAULT", &v, &b);
		*done = rc == DB_OK && b == BOOK_OK;
		if (*done)
			*id = v.id;
		break;
	case OP_RELEASE:
		rc = db_release(&pool, user, *id, &v, &r);
		*done = rc == DB_OK && r == RELEASE_OK;
		break;
	case OP_ROTATE:
		memset(&tp, 0, sizeof(tp));
		memcpy(tp.refresh_jti, next_jti, sizeof(tp.refresh_jti));
		memcpy(tp.access_jti, next_jti, sizeof(tp.access_jti));
		rc = db_session_rotate(sid, jti, NULL, &tp, &ss, &t);
		*done = rc == DB_OK && t == ROTATE_OK;
		break;
	}
	return rc;
}

/* Puts things back after a run: no reservation left active, the
 * session's jti known. */
static void
tidy(enum op o, int done)
{
	struct resv v;
	enum release r;

	if (o == OP_ROTATE && done)
		memcpy(jti, next_jti, sizeof jti);
	while (db_release(&pool, user, 0, &v, &r) == DB_OK &&
	    r == RELEASE_OK)
		pool_reset(&pool);
	pool_reset(&pool);
}

/*
 * One kind of fault against one operation, N = 1, 2, ... until the
 * operation completes without reaching the Nth call.  Returns the number
 * of injection points.
 */
static int
run(enum fault f, enum op o)
{
	struct resp w;
	long long before, after, delta;
	enum dbrc rc;
	int64_t id = 0;
	int n, points = 0, wrong = 0, bad = 0, finished = 0, done;

	conf.db_synchronous_full = f == F_SYNC;
	delta = o == OP_RELEASE ? -1 : 1;
	for (n = 1; n <= 500 && !finished; n++) {
		if (!reopen() || setup(o, &id) != 0) {
			ok(0, "%s: setup of run %d", op_name[o], n);
			return points;
		}
		before = measure(o);
		kind = f;
		fail_at = n;
		calls = injected = 0;
		armed = 1;
		rc = operate(o, &id, &done);
		armed = 0;
		if (!reopen()) {
			ok(0, "%s: reopen after run %d", op_name[o], n);
			return points;
		}
		after = measure(o);
		if (injected) {
			points++;
			resp_init(&w);
			db_to_http(rc, &w);
			if (rc != DB_UNAVAILABLE || w.status != 503 ||
			    after != before) {
				diag("%s, %s at call %d: rc %d, status %d, "
				    "count %lld -> %lld", op_name[o],
				    fault_name[f], n, rc, w.status, before,
				    after);
				wrong++;
			}
			resp_free(&w);
		} else {
			finished = 1;
			if (!done || after != before + delta) {
				diag("%s, %s without a fault: rc %d, count "
				    "%lld -> %lld", op_name[o], fault_name[f],
				    rc, before, after);
				wrong++;
			}
		}
		bad += broken();
		tidy(o, done);
	}
	ok(finished, "%s, %s: the operation completes once N passes its %d "
	    "calls", op_name[o], fault_name[f], points);
	ok(points > 0 && wrong == 0, "%s, %s: each of %d faults gives 503 "
	    "(DB_UNAVAILABLE) and changes nothing", op_name[o], fault_name[f],
	    points);
	ok(bad == 0, "%s, %s: integrity and invariants hold after each "
	    "reopen", op_name[o], fault_name[f]);
	return points;
}

static void
cleanup(void)
{
	static const char *const names[] = { "t.db", "t.db-wal", "t.db-shm",
	    "t.db-journal" };
	char p[320];
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

int
main(void)
{
	struct session s;
	const char *tmp;
	int f, o, total = 0;

	log_init("15-iofault");
	conf.db_busy_timeout_ms = 5000;
	conf.max_active_bookings = 1000;
	/* a walk-in holds its spot for this long (sql/013): the defaults */
	conf.walkin_hold_min = 240;
	conf.checkin_grace_min = 30;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/parkd-15-iofault.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/t.db", dir);
	shim_register();
	ok(sqlite3_vfs_find(NULL) == &shim, "the shim VFS is the default");

	if (!ok(db_open(path, 1) == DB_OK, "a database, migrated")) {
		cleanup();
		return done_testing();
	}
	ok(fix_lot_and_user("faulty", &lot, &user) == 0, "a lot and a user");
	snprintf(jti, sizeof jti, "%032x", 0u);
	memset(&s, 0, sizeof s);
	s.id = sid;
	s.user_id = user;
	s.refresh_jti = jti;
	s.expires_at = park_now() + 86400;
	/* The hash the login verified: t/dbfix.h's (db_login_success()
	 * writes only while it is still the stored one). */
	s.pw_hash = "pbkdf2:sha256:1000$salt$00";
	ok(db_login_success("faulty", "faulty", "-", NULL, &s, NULL) == DB_OK,
	    "a login session");
	is_int(broken(), 0, "invariants hold at the start");

	for (f = F_WRITE_IOERR; f <= F_SYNC; f++)
		for (o = OP_BOOK; o <= OP_ROTATE; o++)
			total += run((enum fault)f, (enum op)o);
	diag("%d injection points in all", total);
	db_close();
	pool_free(&pool);
	cleanup();
	return done_testing();
}
