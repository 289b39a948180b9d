/*
 * 17-wal.c: nothing below SQLite's I/O, and the WAL shared between
 * processes stays whole (reliability.md, "Lessons from the outside
 * review": a custom VFS's write buffer kept a rolled-back, spilled
 * transaction's WAL bytes and later wrote them over frames another process
 * had committed; every reader then got "file is not a database").
 *
 *   - every VFS registered in the process after db_open() (what parkd and
 *     parkctl do) is one of SQLite's own unix VFSes: a layer of ours under
 *     the engine's I/O fails here by name;
 *   - the review's probe, run through parkd's own connection and through
 *     every VFS registered that is not SQLite's "unix": with a page cache
 *     of 10 pages, 22 rows of 1,500 bytes in BEGIN IMMEDIATE (frames
 *     spilled to the WAL), ROLLBACK; another process (this program again,
 *     exec'd, on SQLite's "unix" VFS) commits 24 rows; the first
 *     connection runs one SELECT and is closed; then a new connection and
 *     a new process both read 25 rows and integrity_check "ok";
 *   - a transaction larger than the cache, committed, is seen whole by a
 *     plain connection only after COMMIT.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "park.h"
#include "db-int.h"
#include "dbfix.h"
#include "tap.h"

static char dir[256], path[300];
static const char *self;

/* SQLite's own VFSes of a unix build; anything else is a layer of ours. */
static int
sqlite_own_vfs(const char *name)
{
	static const char *const own[] = { "unix", "unix-none",
	    "unix-dotfile", "unix-excl", "memdb" };
	size_t i;

	for (i = 0; i < sizeof own / sizeof own[0]; i++)
		if (strcmp(name, own[i]) == 0)
			return 1;
	return 0;
}

/* One integer from a query on c; -1 on error. */
static long long
one_int(sqlite3 *c, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The first row of integrity_check (or the error) into out. */
static const char *
integrity(sqlite3 *c, char *out, size_t len)
{
	sqlite3_stmt *st;

	snprintf(out, len, "%s", "(no answer)");
	if (sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK) {
		snprintf(out, len, "%s", sqlite3_errmsg(c));
		return out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, len, "%s", sqlite3_column_text(st, 0));
	else
		snprintf(out, len, "%s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	return out;
}

/* The WAL file's size in bytes; -1 without one. */
static long long
wal_size(void)
{
	char p[320];
	struct stat st;

	snprintf(p, sizeof p, "%s-wal", path);
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* A new connection on SQLite's "unix" VFS; NULL on failure. */
static sqlite3 *
plain_open(void)
{
	sqlite3 *c = NULL;

	if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, "unix") !=
	    SQLITE_OK) {
		sqlite3_close(c);
		return NULL;
	}
	sqlite3_busy_timeout(c, 5000);
	return c;
}

/*
 * The other process (this program run with "commit" or "check" and the
 * path): "commit" adds 24 rows of 1,500 bytes in one transaction; "check"
 * exits 0 when integrity_check is "ok" and the table holds want rows.
 */
static int
child(const char *what, const char *file, const char *want)
{
	sqlite3 *c = NULL;
	char text[128];
	int rc;

	snprintf(path, sizeof path, "%s", file);
	if ((c = plain_open()) == NULL)
		return 2;
	if (strcmp(what, "commit") == 0)
		rc = sqlite3_exec(c, "BEGIN IMMEDIATE;"
		    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
		    "FROM n WHERE i < 24) INSERT INTO probe (b) "
		    "SELECT randomblob(1500) FROM n; COMMIT;", NULL, NULL,
		    NULL) == SQLITE_OK ? 0 : 3;
	else
		rc = strcmp(integrity(c, text, sizeof text), "ok") == 0 &&
		    one_int(c, "SELECT count(*) FROM probe") ==
		    strtoll(want, NULL, 10) ? 0 : 4;
	sqlite3_close(c);
	return rc;
}

/* Runs this program as the other process; returns its exit status. */
static int
run_child(const char *what, const char *want)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		execl(self, self, what, path, want, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
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
}

static const char spill_rollback[] =
    "BEGIN IMMEDIATE;"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "  WHERE i < 22) INSERT INTO probe (b) SELECT randomblob(1500) FROM n;";

/*
 * The probe on a fresh database, through parkd's connection (vfs NULL:
 * db_open() as parkd opens it) or a connection of the given VFS.
 */
static void
probe(const char *vfs)
{
	const char *via = vfs != NULL ? vfs : "parkd's connection";
	sqlite3 *a = NULL, *c;
	char text[128];
	int spilled = 0, hi = 0, rc;
	long long wal0;

	cleanup();
	if (vfs == NULL) {
		ok(db_open(path, 1) == DB_OK, "%s: a database, migrated", via);
		ok(db_exec_for_test("CREATE TABLE probe (i INTEGER PRIMARY "
		    "KEY, b BLOB NOT NULL); INSERT INTO probe (b) VALUES "
		    "(randomblob(1500)); PRAGMA wal_checkpoint(TRUNCATE);"
		    "PRAGMA cache_size = 10") == DB_OK, "%s: one row "
		    "committed and checkpointed, a cache of 10 pages", via);
		wal0 = wal_size();
		ok(db_exec_for_test(spill_rollback) == DB_OK, "%s: 22 rows "
		    "of 1,500 bytes in BEGIN IMMEDIATE", via);
	} else {
		rc = sqlite3_open_v2(path, &a, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_CREATE, vfs);
		ok(rc == SQLITE_OK && sqlite3_exec(a, "PRAGMA page_size = 2048;"
		    "PRAGMA journal_mode = WAL; CREATE TABLE probe (i INTEGER "
		    "PRIMARY KEY, b BLOB NOT NULL); INSERT INTO probe (b) "
		    "VALUES (randomblob(1500)); PRAGMA wal_checkpoint(TRUNCATE);"
		    "PRAGMA cache_size = 10", NULL, NULL, NULL) == SQLITE_OK,
		    "%s: one row committed and checkpointed, a cache of 10 "
		    "pages", via);
		ok(sqlite3_exec(a, spill_rollback, NULL, NULL, NULL) ==
		    SQLITE_OK, "%s: 22 rows of 1,500 bytes in BEGIN IMMEDIATE",
		    via);
	}
	/* SQLite's own I/O writes spilled frames to the file at once. */
	if (vfs == NULL)
		spilled = wal_size() > wal0 + 10 * 2048;
	else
		spilled = sqlite3_db_status(a, SQLITE_DBSTATUS_CACHE_SPILL,
		    &rc, &hi, 0) == SQLITE_OK && rc > 0;
	ok(spilled, "%s: frames spilled to the WAL before any commit", via);
	ok((vfs == NULL ? db_exec_for_test("ROLLBACK") == DB_OK :
	    sqlite3_exec(a, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK),
	    "%s: ROLLBACK", via);

	is_int(run_child("commit", ""), 0, "%s: another process commits 24 "
	    "rows on SQLite's unix VFS", via);

	if (vfs == NULL) {
		ok(db_exec_for_test("SELECT count(*) FROM probe") == DB_OK,
		    "%s: then reads", via);
		db_close();
	} else {
		is_int(one_int(a, "SELECT count(*) FROM probe"), 25,
		    "%s: then reads 25 rows", via);
		sqlite3_close(a);
	}

	if ((c = plain_open()) == NULL) {
		ok(0, "%s: a new connection opens", via);
		return;
	}
	is_str(integrity(c, text, sizeof text), "ok", "%s: a new "
	    "connection: integrity_check", via);
	is_int(one_int(c, "SELECT count(*) FROM probe"), 25, "%s: a new "
	    "connection reads 1 + 24 rows", via);
	sqlite3_close(c);
	is_int(run_child("check", "25"), 0, "%s: a new process reads 25 "
	    "rows and integrity_check ok", via);
}

int
main(int argc, char **argv)
{
	sqlite3_vfs *v;
	sqlite3 *plain;
	char text[128];
	const char *tmp;
	int64_t lot, user;
	int ours = 0;

	if (argc == 4)
		return child(argv[1], argv[2], argv[3]);
	self = argv[0];
	log_init("17-wal");
	conf.db_busy_timeout_ms = 5000;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/parkd-17-wal.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/t.db", dir);

	/* The VFSes registered once parkd has opened its database. */
	if (!ok(db_open(path, 1) == DB_OK, "a database, migrated")) {
		cleanup();
		rmdir(dir);
		return done_testing();
	}
	for (v = sqlite3_vfs_find(NULL); v != NULL; v = v->pNext) {
		ok(sqlite_own_vfs(v->zName), "registered VFS %s is SQLite's "
		    "own (no layer of ours below the engine's I/O)", v->zName);
		ours += !sqlite_own_vfs(v->zName);
	}
	is_str(sqlite3_vfs_find(NULL)->zName, "unix", "the default VFS is "
	    "SQLite's unix");
	db_close();

	probe(NULL);
	for (v = sqlite3_vfs_find(NULL); v != NULL; v = v->pNext)
		if (!sqlite_own_vfs(v->zName))
			probe(v->zName);
	diag("%d VFS of parkd's own probed besides parkd's connection",
	    ours);

	/* A transaction larger than the cache: all of it after COMMIT,
	 * none of it before. */
	cleanup();
	ok(db_open(path, 1) == DB_OK && fix_lot_and_user("walker", &lot,
	    &user) == 0, "a new database with a lot and a user");
	plain = plain_open();
	ok(db_exec_for_test("PRAGMA cache_size = 20; BEGIN IMMEDIATE;"
	    "CREATE TABLE big (i INTEGER PRIMARY KEY, b BLOB NOT NULL);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "  WHERE i < 2000) INSERT INTO big SELECT i, randomblob(500) "
	    "FROM n; UPDATE big SET b = zeroblob(500) WHERE i <= 100;") ==
	    DB_OK, "a 1 MB transaction, uncommitted");
	is_int(one_int(plain, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'big'"), 0, "a plain connection sees none of it");
	ok(db_exec_for_test("COMMIT") == DB_OK, "COMMIT");
	is_int(one_int(plain, "SELECT count(*) FROM big WHERE b = "
	    "zeroblob(500)"), 100, "then it reads the 100 rewritten rows");
	is_int(one_int(plain, "SELECT sum(length(b)) FROM big"), 2000 * 500,
	    "and every byte");
	db_close();
	is_str(integrity(plain, text, sizeof text), "ok", "integrity_check");
	sqlite3_close(plain);
	cleanup();
	rmdir(dir);
	return done_testing();
}
