/*
 * 17-wal.c: db-vfs.c, the VFS that gathers a transaction's WAL writes and
 * hands them to the kernel at its commit frame.
 *
 *   - a booking's commit reaches the kernel in 2 write calls (the
 *     process's write system calls, from /proc/self/io: the frames with
 *     the commit frame's header, then its page), where SQLite alone makes
 *     two per WAL frame;
 *   - what parkd's connection committed, a plain connection (SQLite's
 *     "unix" VFS) reads at once;
 *   - a transaction larger than the page cache spills frames to the WAL
 *     before its commit and rewrites some of them in place (SQLite then
 *     recomputes the checksums of the frames after them), and is larger
 *     than the gathering buffer: no other connection sees any of it before
 *     COMMIT, all of it after, and integrity_check holds;
 *   - the same transaction rolled back leaves nothing, and the next
 *     commits work;
 *   - after the connection is closed and opened again, everything is
 *     there.
 * Faults in the gathered writes: t/15-iofault.c (its shim sits under this
 * VFS and fails the flushes).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "park.h"
#include "db-int.h"
#include "dbfix.h"
#include "tap.h"

static char dir[256], path[300];

/* The write system calls of this process so far (Linux); -1 without. */
static long long
write_calls(void)
{
	char line[128];
	long long n = -1;
	FILE *f;

	if ((f = fopen("/proc/self/io", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "syscw: %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

static long long
wal_size(void)
{
	char p[320];
	struct stat st;

	snprintf(p, sizeof p, "%s-wal", path);
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* One integer from a plain connection's query; -1 on error. */
static long long
plain_int(sqlite3 *plain, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(plain, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *
plain_text(sqlite3 *plain, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st;

	snprintf(out, len, "(error: %s)", sqlite3_errmsg(plain));
	if (sqlite3_prepare_v2(plain, sql, -1, &st, NULL) != SQLITE_OK)
		return out;
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, len, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

static void
cleanup(void)
{
	static const char *const names[] = { "t.db", "t.db-wal", "t.db-shm" };
	char p[320];
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* 2,000 rows of 500 bytes (~1 MB, ~500 pages of 2 KiB), then the first
 * 100 rewritten: with a cache of 20 pages, frames are spilled before the
 * commit and some pages written again in place. */
static const char big_txn[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE big (i INTEGER PRIMARY KEY, b BLOB NOT NULL);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "  WHERE i < 2000) INSERT INTO big SELECT i, randomblob(500) FROM n;"
    "UPDATE big SET b = zeroblob(500) WHERE i <= 100;";

int
main(void)
{
	struct resv v;
	struct pool pool = { 0 };
	enum book b;
	enum dbrc rc;
	sqlite3 *plain = NULL;
	const char *tmp;
	char text[128];
	int64_t lot, user;
	long long w0, w1, s0, s1, frames;

	log_init("17-wal");
	conf.db_busy_timeout_ms = 5000;
	conf.max_active_bookings = 1000;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/parkd-17-wal.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/t.db", dir);
	if (!ok(db_open(path, 1) == DB_OK, "a database, migrated")) {
		cleanup();
		return done_testing();
	}
	ok(fix_lot_and_user("walker", &lot, &user) == 0, "a lot and a user");
	ok(sqlite3_open_v2(path, &plain, SQLITE_OPEN_READWRITE, "unix") ==
	    SQLITE_OK, "a plain connection (SQLite's unix VFS)");

	/* Writes per commit. */
	s0 = wal_size();
	w0 = write_calls();
	rc = db_book(&pool, lot, user, "KA01AB1234", &v, &b);
	w1 = write_calls();
	s1 = wal_size();
	ok(rc == DB_OK && b == BOOK_OK, "a booking");
	frames = (s1 - s0) / (24 + 2048);
	ok(w0 >= 0 && frames >= 5 && w1 - w0 <= 2, "the booking's %lld WAL "
	    "frames reached the kernel in %lld write calls (SQLite alone: "
	    "%lld)", frames, w1 - w0, 2 * frames);
	is_int(plain_int(plain, "SELECT count(*) FROM reservations WHERE "
	    "status = 'active'"), 1, "the plain connection reads the booking");

	/* A transaction bigger than the cache and the buffer. */
	ok(db_exec_for_test("PRAGMA cache_size = 20") == DB_OK,
	    "a page cache of 20 pages");
	s0 = wal_size();
	ok(db_exec_for_test(big_txn) == DB_OK, "a 1 MB transaction, "
	    "uncommitted");
	s1 = wal_size();
	ok(s1 - s0 > 100 * 1024, "frames spilled to the WAL before the "
	    "commit (%lld bytes)", s1 - s0);
	is_int(plain_int(plain, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'big'"), 0, "the plain connection sees none of it");
	ok(db_exec_for_test("COMMIT") == DB_OK, "COMMIT");
	is_int(plain_int(plain, "SELECT count(*) FROM big"), 2000,
	    "then it reads all 2,000 rows");
	is_int(plain_int(plain, "SELECT count(*) FROM big WHERE "
	    "b = zeroblob(500)"), 100, "with the 100 rewritten ones");
	is_int(plain_int(plain, "SELECT sum(length(b)) FROM big"),
	    2000 * 500, "and every byte");
	ok(strcmp(plain_text(plain, "PRAGMA integrity_check", text,
	    sizeof text), "ok") == 0, "integrity_check: %s", text);

	/* The same, rolled back. */
	ok(db_exec_for_test("BEGIN IMMEDIATE; WITH RECURSIVE n(i) AS "
	    "(SELECT 2001 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
	    "INSERT INTO big SELECT i, randomblob(500) FROM n;"
	    "UPDATE big SET b = zeroblob(10) WHERE i <= 100;") == DB_OK &&
	    db_exec_for_test("ROLLBACK") == DB_OK,
	    "another 1 MB, rolled back");
	is_int(plain_int(plain, "SELECT count(*) FROM big"), 2000,
	    "the plain connection still reads 2,000 rows");
	is_int(plain_int(plain, "SELECT count(*) FROM big WHERE "
	    "b = zeroblob(500)"), 100, "unchanged");
	ok(db_exec_for_test("PRAGMA cache_size = -2000") == DB_OK,
	    "the cache back to its size");
	pool_reset(&pool);
	ok(db_book(&pool, lot, user, "KA01AB1235", &v, &b) == DB_OK &&
	    b == BOOK_OK, "a booking after the rollback");
	is_int(plain_int(plain, "SELECT count(*) FROM reservations WHERE "
	    "status = 'active'"), 2, "the plain connection reads it");

	/* Closed and opened again. */
	db_close();
	ok(db_open(path, 0) == DB_OK, "opened again");
	pool_reset(&pool);
	ok(db_book(&pool, lot, user, "KA01AB1236", &v, &b) == DB_OK &&
	    b == BOOK_OK, "a third booking");
	db_close();
	is_int(plain_int(plain, "SELECT count(*) FROM reservations WHERE "
	    "status = 'active'"), 3, "all three bookings are there");
	ok(strcmp(plain_text(plain, "PRAGMA integrity_check", text,
	    sizeof text), "ok") == 0, "integrity_check: %s", text);
	sqlite3_close(plain);
	pool_free(&pool);
	cleanup();
	return done_testing();
}
