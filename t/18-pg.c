/*
 * 18-pg.c: the PostgreSQL driver (db-pg.c, issue #17) on a real server.
 * It starts nothing: t/18-pg.t starts a private cluster (dev/lib.sh
 * pg_start) and gives its URL, for the owner role, in PARKD_TEST_PG_URL;
 * without it every point is skipped.
 *
 * It reaches the driver through statements of its own, prepared on slots
 * of the table it does not otherwise use.
 *
 * Covered: connect and migrate (twice: the second a no-op), "?N" -> "$N",
 * a statement prepared once and reused, binds and columns of integers,
 * text and NULL, constraint violations as DB_CONFLICT (23505, 23514,
 * 23502), THE write lock between two processes (fork: the second waits,
 * and past lock_timeout gets DB_BUSY; the inherited connection of the
 * parent stays the parent's), and a backend killed from another
 * connection: DB_UNAVAILABLE, then a reconnection (not inside a
 * transaction: there, DB_UNAVAILABLE until the rollback).
 *
 * A COMMIT whose answer is lost (test_other_server(), when t/18-pg.t
 * gives a second cluster, initialised on its own: PARKD_TEST_PG_URL2
 * lists both, the first's first, as a multi-host URI does a primary and
 * its standby): the first cluster stops under an open transaction, the
 * driver reconnects to the second, where the same xid is another
 * transaction's, committed: the outcome is unknown (DB_UNAVAILABLE), not
 * that commit.  Then the first restarted on its timeline under an open
 * transaction: it is asked (t/18-pg.t checks the log says "aborted").
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db-int.h"
#include "tap.h"

static const char *url;
/* test_other_server(): both clusters (the first's first), the second
 * alone, dev/lib.sh and the first's directory */
static const char *url2, *url_b, *dev_lib, *dir_a;

/* A statement of the test's own on slot id (a row it never runs through
 * db_stmt()), prepared by the driver directly. */
static struct dbstmt *
raw(enum stmt id, const char *sql)
{
	enum dbrc rc;
	struct dbstmt *st = db_pg.prepare(id, sql, &rc);

	if (st == NULL)
		diag("prepare failed (%d): %s", rc, sql);
	return st;
}

/* The backend pid of this process's connection, 0 on failure. */
static long long
backend_pid(void)
{
	/* prepared once: the driver prepares it again on a new connection */
	static struct dbstmt *st;
	long long pid = 0;

	if (st == NULL)
		st = raw(STMT_STATS_LOTS, "SELECT pg_backend_pid()");
	if (st != NULL && db_row(st) == DB_OK) {
		pid = db_col_int(st, 0);
		db_done(st);
	}
	return pid;
}

/* In a child: kills backend pid from a connection of its own; exits 0
 * when pg_terminate_backend said true. */
static void
kill_backend(long long pid)
{
	pid_t c = fork();
	int status;

	if (c == 0) {
		struct dbstmt *st;

		if (db_open(url, 0) != DB_OK)
			_exit(2);
		st = raw(STMT_STATS_SPOTS, "SELECT pg_terminate_backend($1)");
		if (st == NULL)
			_exit(3);
		db_bind_int(st, 1, pid);
		if (db_row(st) != DB_OK || db_col_int(st, 0) != 1)
			_exit(4);
		db_done(st);
		db_close();
		_exit(0);
	}
	waitpid(c, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "another connection terminated backend %lld", pid);
}

static void
test_params(void)
{
	char *s;

	s = db_pg_params("SELECT a FROM t WHERE a = ? AND b = ?3 AND c = ?"
	    " AND d = '?' AND \"e?\" = ?1 -- ?\n AND f = ?");
	is_str(s, "SELECT a FROM t WHERE a = $1 AND b = $3 AND c = $4"
	    " AND d = '?' AND \"e?\" = $1 -- ?\n AND f = $5",
	    "?, ?N -> $N as SQLite numbers them; literals, names and "
	    "comments untouched");
	free(s);
}

static void
test_open(void)
{
	struct dbstmt *a, *b;

	is_int(db_open(url, 1), DB_OK, "connect and migrate");
	ok(db_version_latest() >= 1 && db_version() == db_version_latest(),
	    "at the latest version of sql/pg (%d)", db_version_latest());
	is_str(db_backend(), "postgresql", "the back end is postgresql");
	is_str(db_state(), "up", "state up");
	is_int(db_migrate(), DB_OK, "a second migration: nothing to do");
	db_close();
	is_int(db_open(url, 1), DB_OK, "reopen and migrate: a no-op");
	ok(db_version() == db_version_latest(), "version unchanged");

	a = db_stmt(STMT_PING);
	is_int(db_ping(), DB_OK, "ping (PG_SAME text)");
	b = db_stmt(STMT_PING);
	ok(a != NULL && a == b, "a statement is prepared once and reused");
	is_int(db_ping(), DB_OK, "ping again, the same prepared statement");
}

static void
test_columns(void)
{
	struct dbstmt *st;

	st = raw(STMT_STATS_RESERVATIONS, "SELECT $1::bigint, $2::text,"
	    " $3::text, $4::bigint IS NULL, 2.5::float8, ''::text");
	if (st == NULL) {
		ok(0, "columns: prepare");
		return;
	}
	db_bind_int(st, 1, -9007199254740993LL);
	db_bind_text(st, 2, "gr\xc3\xbc\xc3\x9f 'x'");
	db_bind_null(st, 3);
	db_bind_null(st, 4);
	is_int(db_row(st), DB_OK, "a row");
	is_int(db_col_int(st, 0), -9007199254740993LL, "int64 round trip");
	is_int(db_col_type(st, 0), DBT_INT, "bigint is DBT_INT");
	is_str(db_col_str(st, 1), "gr\xc3\xbc\xc3\x9f 'x'", "text round trip");
	is_int(db_col_bytes(st, 1), 10, "its length in bytes");
	is_int(db_col_type(st, 1), DBT_TEXT, "text is DBT_TEXT");
	ok(db_col_isnull(st, 2) && db_col_str(st, 2) == NULL &&
	    db_col_int(st, 2) == 0, "NULL: isnull, no text, 0");
	is_int(db_col_int(st, 3), 1, "a boolean reads as 1");
	is_int(db_col_type(st, 4), DBT_REAL, "float8 is DBT_REAL");
	ok(!db_col_isnull(st, 5) && db_col_bytes(st, 5) == 0,
	    "an empty text is not NULL");
	db_done(st);
	/* the same statement again, other values (db_stmt() clears the
	 * binds of the table's statements: here, by hand) */
	st->drv->clear(st);
	db_bind_int(st, 1, 7);
	is_int(db_row(st), DB_OK, "the statement again");
	ok(db_col_int(st, 0) == 7 && db_col_isnull(st, 1),
	    "its binds were cleared (unbound: NULL)");
	db_done(st);
}

static void
test_constraints(void)
{
	struct dbstmt *st;

	is_int(db_begin(), DB_OK, "begin (the write lock)");
	ok(db_pg.in_txn(), "in a transaction");
	st = db_stmt(STMT_PG_VERSION_SET);
	db_bind_int(st, 1, 1);
	db_bind_text(st, 2, "again");
	is_int(db_run(st), DB_CONFLICT, "23505 (unique) is DB_CONFLICT");
	db_rollback();
	ok(!db_pg.in_txn(), "rolled back");

	is_int(db_begin(), DB_OK, "begin");
	st = db_stmt(STMT_PG_VERSION_SET);
	db_bind_int(st, 1, 0);
	db_bind_text(st, 2, "zero");
	is_int(db_run(st), DB_CONFLICT, "23514 (check) is DB_CONFLICT");
	db_rollback();

	is_int(db_begin(), DB_OK, "begin");
	st = db_stmt(STMT_PG_VERSION_SET);
	db_bind_int(st, 1, 999);
	db_bind_null(st, 2);
	is_int(db_run(st), DB_CONFLICT, "23502 (not null) is DB_CONFLICT");
	db_rollback();

	is_int(db_begin(), DB_OK, "begin");
	st = db_stmt(STMT_PG_VERSION_SET);
	db_bind_int(st, 1, 999);
	db_bind_text(st, 2, "x");
	is_int(db_run(st), DB_OK, "an insert");
	is_int(db_changes(), 1, "db_changes: 1 row");
	db_rollback();
	ok(db_version() == db_version_latest(), "rolled back: no version 999");
	is_int(db_exec_for_test("SELECT 1/0"), DB_ERROR,
	    "division by zero (22012): DB_ERROR");

	/* SQLite goes on after a failed statement; PostgreSQL aborts the
	 * transaction, and its COMMIT only rolls back: an error, not OK */
	is_int(db_begin(), DB_OK, "begin");
	st = db_stmt(STMT_PG_VERSION_SET);
	db_bind_int(st, 1, 1);
	db_bind_text(st, 2, "again");
	is_int(db_run(st), DB_CONFLICT, "a failed statement");
	is_int(db_commit(), DB_ERROR,
	    "the commit of the aborted transaction is DB_ERROR");
	ok(!db_pg.in_txn(), "and it is over");
	is_int(db_ping(), DB_OK, "the connection goes on");
}

/* Forks a child that tries the write lock with busy_ms; returns its
 * exit status: 0 got it, 1 DB_BUSY, other: failure. */
static int
child_begin(int busy_ms)
{
	pid_t c = fork();
	int status;

	if (c == 0) {
		enum dbrc r;

		conf.db_busy_timeout_ms = busy_ms;
		/* the parent's connection is inherited: abandoned here */
		if (db_open(url, 0) != DB_OK)
			_exit(3);
		r = db_begin();
		if (r == DB_OK)
			db_rollback();
		db_close();
		_exit(r == DB_OK ? 0 : r == DB_BUSY ? 1 : 2);
	}
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
test_writer_lock(void)
{
	is_int(child_begin(200), 0, "no writer: a child takes the lock");
	is_int(db_begin(), DB_OK, "the parent takes the write lock");
	is_int(child_begin(200), 1,
	    "a child process waits for it, DB_BUSY past lock_timeout");
	is_int(db_begin_read(), DB_ERROR, "no read transaction inside one");
	is_int(db_commit(), DB_OK, "the parent commits");
	is_int(child_begin(200), 0, "then the child takes it");
	is_int(db_ping(), DB_OK,
	    "the parent's connection outlived its children's abandoning it");
	is_int(db_begin_read(), DB_OK, "a read transaction");
	is_int(child_begin(200), 0, "does not hold the write lock");
	db_end_read();
	ok(!db_pg.in_txn(), "ended");
}

static void
test_killed(void)
{
	long long pid;
	struct dbstmt *st;

	pid = backend_pid();
	ok(pid > 0, "backend pid %lld", pid);
	kill_backend(pid);
	is_int(db_ping(), DB_UNAVAILABLE, "the next statement: DB_UNAVAILABLE");
	is_str(db_state(), "reconnecting", "state reconnecting");
	is_int(db_ping(), DB_OK, "the one after reconnects");
	is_str(db_state(), "up", "state up");
	ok(backend_pid() != pid, "on a new backend");
	st = db_stmt(STMT_PING);
	is_int(db_row(st), DB_OK, "a statement prepared on the old "
	    "connection is prepared again");
	db_done(st);

	/* inside a transaction: no reconnection until it is rolled back */
	is_int(db_begin(), DB_OK, "begin");
	kill_backend(backend_pid());
	is_int(db_ping(), DB_UNAVAILABLE, "in the transaction: DB_UNAVAILABLE");
	is_int(db_ping(), DB_UNAVAILABLE,
	    "again: its work is gone, no silent reconnection inside it");
	db_rollback();
	ok(!db_pg.in_txn(), "the rollback ends it");
	is_int(db_ping(), DB_OK, "then the connection comes back");
	is_int(db_begin(), DB_OK, "and takes the write lock");
	db_rollback();
}

/* Runs dev/lib.sh's pg_stop or pg_start (fn) on the first cluster;
 * returns 1 when it succeeded. */
static int
cluster_a(const char *fn)
{
	pid_t c = fork();
	int status;

	if (c == 0) {
		/* its messages to stderr: stdout is TAP */
		dup2(2, 1);
		execl("/bin/bash", "bash", "-c",
		    "set -e; . \"$1\"; \"$2\" \"$3\"", "-", dev_lib, fn,
		    dir_a, (char *)NULL);
		_exit(127);
	}
	return waitpid(c, &status, 0) == c && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0;
}

/* The open transaction's id (text), "" on failure. */
static void
current_xid(char *out, size_t n)
{
	struct dbstmt *st = raw(STMT_STATS_USERS,
	    "SELECT pg_current_xact_id()::text");

	out[0] = '\0';
	if (st != NULL && db_row(st) == DB_OK) {
		snprintf(out, n, "%s", db_col_str(st, 0));
		db_done(st);
	}
}

/* In a child, on the second cluster alone: commits transactions until
 * its xids are past xid; exits 0 when xid is then "committed" there. */
static int
commit_past(const char *xid)
{
	pid_t c = fork();
	int status, i;

	if (c == 0) {
		struct dbstmt *next, *st;

		if (db_open(url_b, 0) != DB_OK)
			_exit(2);
		next = raw(STMT_STATS_EXPORTS,
		    "SELECT pg_current_xact_id()::text::bigint");
		st = raw(STMT_STATS_OUTBOX,
		    "SELECT pg_xact_status($1::text::xid8)");
		if (next == NULL || st == NULL)
			_exit(3);
		for (i = 0; i < 1000000; i++) {
			long long v = 0;

			if (db_row(next) == DB_OK)
				v = db_col_int(next, 0);
			db_done(next);
			if (v > strtoll(xid, NULL, 10) + 1)
				break;
		}
		db_bind_text(st, 1, xid);
		if (db_row(st) != DB_OK || db_col_str(st, 0) == NULL ||
		    strcmp(db_col_str(st, 0), "committed") != 0)
			_exit(4);
		db_done(st);
		db_close();
		_exit(0);
	}
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
test_other_server(void)
{
	char xid[32];

	is_int(db_open(url2, 0), DB_OK, "connect to the first of two "
	    "clusters");
	/* COMMIT prepared on this connection: a COMMIT prepared after the
	 * connection went is never sent, and never lost */
	ok(db_begin() == DB_OK && db_commit() == DB_OK, "a first commit");
	is_int(db_begin(), DB_OK, "a write transaction on it");
	current_xid(xid, sizeof xid);
	ok(xid[0] != '\0', "its xid %s", xid);
	is_int(commit_past(xid), 0, "on the second cluster (initialised on "
	    "its own) xid %s is another transaction's, committed", xid);
	ok(cluster_a("pg_stop"), "the first cluster stops: the COMMIT's "
	    "answer is lost with the connection");
	is_int(db_commit(), DB_UNAVAILABLE, "the COMMIT is looked up on the "
	    "second server, which cannot tell: unknown, DB_UNAVAILABLE, not "
	    "the other transaction's commit");
	ok(!db_pg.in_txn(), "the transaction is over");
	is_int(db_ping(), DB_OK, "the driver goes on, on the second cluster");
	ok(cluster_a("pg_start"), "the first cluster starts again");

	/* the same server restarted on its timeline: after a crash its xids
	 * may be handed out again, so its answer does not count either */
	is_int(db_open(url2, 0), DB_OK, "reconnect: the first cluster again");
	ok(db_begin() == DB_OK && db_commit() == DB_OK, "a first commit");
	is_int(db_begin(), DB_OK, "a write transaction on it");
	current_xid(xid, sizeof xid);
	diag("the restarted server's transaction: %s", xid);
	ok(cluster_a("pg_stop") && cluster_a("pg_start"),
	    "the first cluster restarts under it (same timeline)");
	is_int(db_commit(), DB_UNAVAILABLE, "the COMMIT is not looked up on "
	    "a restarted server: unknown, DB_UNAVAILABLE");
	is_int(db_ping(), DB_OK, "the driver goes on");
	db_close();
}

int
main(void)
{
	log_init("18-pg");
	conf.db_busy_timeout_ms = 5000;
	conf.pg_statement_timeout_ms = 30000;
	test_params();
	if ((url = getenv("PARKD_TEST_PG_URL")) == NULL || *url == '\0') {
		printf("ok %d # SKIP no PARKD_TEST_PG_URL (t/18-pg.t gives "
		    "one)\n", ++tap_n);
		return done_testing();
	}
	conf.db_path = xstrdup(url);
	test_open();
	test_columns();
	test_constraints();
	test_writer_lock();
	test_killed();
	db_close();
	url2 = getenv("PARKD_TEST_PG_URL2");
	url_b = getenv("PARKD_TEST_PG_URL_B");
	dev_lib = getenv("PARKD_TEST_DEV_LIB");
	dir_a = getenv("PARKD_TEST_PG_DIR");
	if (url2 != NULL && url_b != NULL && dev_lib != NULL && dir_a != NULL)
		test_other_server();
	else
		printf("ok %d # SKIP no second cluster (t/18-pg.t gives "
		    "one)\n", ++tap_n);
	return done_testing();
}
