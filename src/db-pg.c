/*
 * db-pg.c: the PostgreSQL driver of the data layer (struct db_driver in
 * db-int.h), and the one file of parkd that includes libpq-fe.h
 * (t/19-libs.t): the connection of this process, prepared statements,
 * text parameters and results, transactions, and the mapping of SQLSTATEs
 * to enum dbrc.  PostgreSQL 15, libpq's URIs (DATABASE_URL=postgresql://).
 *
 * - One connection per process, opened after fork like SQLite's: parkd's
 *   supervisor closes its own before forking (parkd.c), each worker opens
 *   its own (front_worker_init()).  A connection inherited through fork is
 *   abandoned, never used nor closed: PQfinish() would send the server a
 *   Terminate message on the parent's socket and end the parent's session.
 * - Statements: each row of the table is prepared once per connection as
 *   "s<id>" (PQprepare), on first use, with the text of its .pg column, or
 *   the SQLite text with "?N" made "$N" (PG_SAME, db.c).  After a
 *   reconnection they are prepared again on their next use.
 * - Parameters are sent as text (an integer in decimal); results are read
 *   as text: db_col_int() parses the digits ("t"/"f" of a boolean read as
 *   1/0).  Times are converted by the statements' texts (sql/pg/README).
 * - Errors: the SQLSTATE decides (pg_rc()).  A lost connection is
 *   DB_UNAVAILABLE (a 503 with Retry-After); the next statement outside a
 *   transaction reconnects, with a back-off between failed attempts, so a
 *   database that is down costs each request one quick failure, never a
 *   crash or a reconnection storm.  A COMMIT whose answer is lost with
 *   the connection is looked up on a new one (pg_commit_lost()), so that
 *   a booking that was made is never answered 503.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db-int.h"

/* The most parameters a statement of the table takes. */
#define PG_MAX_PARAMS 32
/* The back-off between failed reconnections: the first, and the most. */
#define PG_RETRY_FIRST_MS 100
#define PG_RETRY_MAX_MS 5000
/* connect_timeout when DATABASE_URL gives none (seconds, libpq's). */
#define PG_CONNECT_TIMEOUT "5"

/* Type oids (pg_type.dat) of the columns db_col_type() tells apart. */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

/* A statement of the table: the seam's head, then what libpq needs. */
struct pg_stmt {
	struct dbstmt h;
	enum stmt id;
	const char *sql;	/* db.c's text (it outlives the statement) */
	char name[16];		/* "s<id>" */
	unsigned gen;		/* the connection it is prepared on */
	int nparams;		/* the server's count ($N), PQnparams */
	char *val[PG_MAX_PARAMS];	/* each parameter's text; NULL: NULL */
	int len[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][24];	/* the digits of a bound integer */
	PGresult *res;		/* the result being read, NULL: not run */
	int row;		/* the current row of res */
};

static PGconn *conn;
/* Moves on with every (re)connection: a statement prepared on an earlier
 * one is prepared again. */
static unsigned conn_gen;
static struct pg_stmt slots[STMT__COUNT];
/* An inherited connection: kept reachable, never used nor closed. */
static PGconn *volatile conn_inherited;
/* 1 between a BEGIN of ours and its COMMIT or ROLLBACK. */
static int txn;
/* The connection broke (or could not be made): when the next attempt
 * may be made, and the back-off after it. */
static int broken;
static int64_t retry_at_ms;
static int retry_ms;
/* The last INSERT, UPDATE or DELETE: rows changed, and an "id" it
 * returned (INSERT ... RETURNING id; -1: none, ask lastval()). */
static long long changes;
static long long returned_id = -1;
/* The lock wait a migration asks for at least (ms). */
static int wait_min_ms;
/* A migration is running: its write transactions take its lock too. */
static int migrating;
static char lasterr[256];
/* The open write transaction's id (pg_current_xact_id(), as text): when
 * its COMMIT's answer is lost with the connection, the server says what
 * became of it (pg_commit_lost()).  "": none. */
static char txn_xid[24];
/* The server of the connection: "system identifier/timeline/start"
 * (STMT_PG_IDENTITY, asked once per connection); "": not known (a
 * standby, or the question failed).  txn_ident: the one the open write
 * transaction runs on, for pg_commit_lost(). */
static char conn_ident[80];
static char txn_ident[80];

static enum dbrc pg_session(void);
static enum dbrc pg_identity(void);
static enum dbrc pg_commit_lost(void);

static struct pg_stmt *
ps(struct dbstmt *st)
{
	return (struct pg_stmt *)(void *)st;
}

/*
 * Maps a failed result (res, or the connection's state when res is NULL)
 * to the data layer's outcome and logs it (never to a client).  SQLSTATE
 * class 23 (constraints: 23505 unique, 23P01 exclusion, 23514 check and
 * the schema's triggers, 23503 foreign key, 23502 not null) is
 * DB_CONFLICT, as SQLITE_CONSTRAINT; 40001, 40P01 (serialisation,
 * deadlock), 55P03 (lock_timeout) and 57014 (statement_timeout) are
 * DB_BUSY; a lost connection, 08xxx, 57P0x (the server shutting down)
 * and 53xxx (disk full, out of memory, too many connections) are
 * DB_UNAVAILABLE; anything else DB_ERROR.  A broken connection is marked
 * so that the next statement reconnects.
 */
static enum dbrc
pg_rc(const PGresult *res, const char *what)
{
	const char *state = NULL, *msg;
	enum log_level lvl = LOG_ERR;
	enum dbrc r = DB_ERROR;

	if (res != NULL)
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	msg = res != NULL ? PQresultErrorMessage(res) : "";
	if (msg == NULL || *msg == '\0')
		msg = conn != NULL ? PQerrorMessage(conn) : "no connection";
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		r = DB_UNAVAILABLE;
		broken = 1;
	} else if (state == NULL) {
		r = DB_ERROR;
	} else if (strncmp(state, "23", 2) == 0) {
		r = DB_CONFLICT;
		lvl = LOG_INFO;
	} else if (strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "57014") == 0) {
		r = DB_BUSY;
		lvl = LOG_WARN;
	} else if (strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P0", 4) == 0 || strncmp(state, "53", 2) == 0) {
		r = DB_UNAVAILABLE;
	}
	snprintf(lasterr, sizeof lasterr, "%s", msg);
	lasterr[strcspn(lasterr, "\n")] = '\0';
	log_msg(lvl, "db: %s (SQLSTATE %s) in: %.120s", lasterr,
	    state != NULL ? state : "none", what != NULL ? what : "?");
	return r;
}

/*
 * Connects to url: libpq's URI, with every parameter of its own
 * (several hosts and target_session_attrs=read-write, sslmode,
 * passfile...); connect_timeout is PG_CONNECT_TIMEOUT seconds unless the
 * URI says otherwise (a parameter given before dbname is overridden by
 * the URI's).  Returns DB_OK or DB_UNAVAILABLE (logged without the URI,
 * which may hold a password).
 */
static enum dbrc
pg_connect(const char *url)
{
	const char *keys[] = { "connect_timeout", "application_name",
	    "dbname", NULL };
	const char *vals[] = { PG_CONNECT_TIMEOUT, "parkd", url, NULL };
	enum dbrc r;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		snprintf(lasterr, sizeof lasterr, "%s", conn != NULL ?
		    PQerrorMessage(conn) : "out of memory");
		lasterr[strcspn(lasterr, "\n")] = '\0';
		log_msg(LOG_ERR, "db: cannot connect to PostgreSQL: %s",
		    lasterr);
		PQfinish(conn);
		conn = NULL;
		return DB_UNAVAILABLE;
	}
	conn_gen++;
	txn = 0;
	broken = 0;
	if ((r = pg_session()) != DB_OK || (r = pg_identity()) != DB_OK) {
		PQfinish(conn);
		conn = NULL;
		return r;
	}
	broken = 0;
	retry_ms = 0;
	return DB_OK;
}

/* The URL of the open connection, for reconnecting. */
static char *conn_url;

/* Opens the connection of this process.  Returns DB_OK or the failure. */
static enum dbrc
pg_open(const char *url)
{
	enum dbrc r;

	free(conn_url);
	conn_url = xstrdup(url);
	changes = 0;
	returned_id = -1;
	if ((r = pg_connect(url)) != DB_OK)
		broken = 1;
	return r;
}

/*
 * Reconnects a broken connection, unless a transaction was open on it
 * (its statements are gone: the caller must roll back first, and will
 * get DB_UNAVAILABLE until it does) or the back-off has not passed.
 * Returns DB_OK with a working connection, or DB_UNAVAILABLE.
 */
static enum dbrc
pg_alive(void)
{
	int64_t now;

	if (conn != NULL && !broken && PQstatus(conn) == CONNECTION_OK)
		return DB_OK;
	broken = 1;
	if (txn || conn_url == NULL)
		return DB_UNAVAILABLE;
	now = park_ms();
	if (now < retry_at_ms)
		return DB_UNAVAILABLE;
	if (conn != NULL) {
		PQfinish(conn);
		conn = NULL;
	}
	log_msg(LOG_INFO, "db: reconnecting to PostgreSQL");
	if (pg_connect(conn_url) == DB_OK) {
		log_msg(LOG_INFO, "db: reconnected to PostgreSQL");
		return DB_OK;
	}
	retry_ms = retry_ms == 0 ? PG_RETRY_FIRST_MS : retry_ms * 2;
	if (retry_ms > PG_RETRY_MAX_MS)
		retry_ms = PG_RETRY_MAX_MS;
	retry_at_ms = park_ms() + retry_ms;
	return DB_UNAVAILABLE;
}

static void
pg_close(int inherited)
{
	txn = 0;
	migrating = 0;
	if (conn == NULL)
		return;
	if (inherited)
		conn_inherited = conn;
	else
		PQfinish(conn);
	conn = NULL;
	broken = 0;
	retry_at_ms = 0;
	retry_ms = 0;
}

/* Prepares s on the current connection.  Returns DB_OK or the failure. */
static enum dbrc
pg_prepare_now(struct pg_stmt *s)
{
	PGresult *res;
	enum dbrc r;

	if ((r = pg_alive()) != DB_OK)
		return r;
	res = PQprepare(conn, s->name, s->sql, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = pg_rc(res, s->sql);
		PQclear(res);
		return r;
	}
	PQclear(res);
	res = PQdescribePrepared(conn, s->name);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = pg_rc(res, s->sql);
		PQclear(res);
		return r;
	}
	s->nparams = PQnparams(res);
	PQclear(res);
	if (s->nparams > PG_MAX_PARAMS) {
		log_msg(LOG_ERR, "db: %d parameters, more than %d, in: %.120s",
		    s->nparams, PG_MAX_PARAMS, s->sql);
		return DB_ERROR;
	}
	s->gen = conn_gen;
	return DB_OK;
}

/* Returns statement id, sql prepared (a round trip: a text that does not
 * compile fails here, as SQLite's), or NULL with *rc. */
static struct dbstmt *
pg_prepare(enum stmt id, const char *sql, enum dbrc *rc)
{
	struct pg_stmt *s = &slots[id];

	memset(s, 0, sizeof *s);
	s->h.drv = &db_pg;
	s->id = id;
	s->sql = sql;
	snprintf(s->name, sizeof s->name, "s%u", (unsigned)id);
	if ((*rc = pg_prepare_now(s)) != DB_OK)
		return NULL;
	return &s->h;
}

static void
pg_clear(struct dbstmt *st)
{
	struct pg_stmt *s = ps(st);
	int i;

	for (i = 0; i < PG_MAX_PARAMS; i++) {
		if (s->val[i] != NULL && s->val[i] != s->num[i])
			free(s->val[i]);
		s->val[i] = NULL;
		s->len[i] = 0;
	}
}

static void
pg_reset(struct dbstmt *st)
{
	struct pg_stmt *s = ps(st);

	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
}

/* A statement of an inherited connection: its server copy belongs to the
 * parent's session; only our memory goes. */
static void
pg_forget(struct dbstmt *st)
{
	pg_reset(st);
	pg_clear(st);
	ps(st)->gen = 0;
}

/* The server's copy goes with the connection (DEALLOCATE is not worth a
 * round trip before PQfinish). */
static void
pg_finalize(struct dbstmt *st)
{
	if (st != NULL)
		pg_forget(st);
}

/* Returns DB_OK when idx names a parameter slot, else DB_ERROR (logged). */
static enum dbrc
pg_bind_slot(struct pg_stmt *s, int idx)
{
	if (idx < 1 || idx > PG_MAX_PARAMS) {
		log_msg(LOG_ERR, "db: bind %d: no such parameter in: %.120s",
		    idx, s->sql);
		return DB_ERROR;
	}
	if (s->val[idx - 1] != NULL && s->val[idx - 1] != s->num[idx - 1])
		free(s->val[idx - 1]);
	s->val[idx - 1] = NULL;
	return DB_OK;
}

static enum dbrc
pg_bind_int(struct dbstmt *st, int idx, long long v)
{
	struct pg_stmt *s = ps(st);

	if (pg_bind_slot(s, idx) != DB_OK)
		return DB_ERROR;
	s->len[idx - 1] = snprintf(s->num[idx - 1], sizeof s->num[0], "%lld",
	    v);
	s->val[idx - 1] = s->num[idx - 1];
	return DB_OK;
}

/* Text is sent as text: a NUL inside it cannot be (SQLite would have kept
 * it); refused as a bad bind (DB_ERROR). */
static enum dbrc
pg_bind_text(struct dbstmt *st, int idx, const char *v, size_t n)
{
	struct pg_stmt *s = ps(st);
	char *copy;

	if (pg_bind_slot(s, idx) != DB_OK)
		return DB_ERROR;
	if (memchr(v, '\0', n) != NULL || n > 0x7fffffff) {
		log_msg(LOG_ERR, "db: bind %d: text with a NUL byte in: %.120s",
		    idx, s->sql);
		return DB_ERROR;
	}
	copy = xmalloc(n + 1);
	memcpy(copy, v, n);
	copy[n] = '\0';
	s->val[idx - 1] = copy;
	s->len[idx - 1] = (int)n;
	return DB_OK;
}

static enum dbrc
pg_bind_null(struct dbstmt *st, int idx)
{
	return pg_bind_slot(ps(st), idx);
}

/* Notes the effect of a finished INSERT, UPDATE or DELETE (db_changes(),
 * db_last_id()). */
static void
pg_note_effect(PGresult *res)
{
	const char *cmd = PQcmdStatus(res);
	const char *n;
	int col;

	if (strncmp(cmd, "INSERT ", 7) != 0 &&
	    strncmp(cmd, "UPDATE ", 7) != 0 &&
	    strncmp(cmd, "DELETE ", 7) != 0 && strncmp(cmd, "MERGE ", 6) != 0)
		return;
	n = PQcmdTuples(res);
	changes = *n != '\0' ? strtoll(n, NULL, 10) : 0;
	if (strncmp(cmd, "INSERT ", 7) != 0)
		return;
	returned_id = -1;
	if (PQntuples(res) > 0 && (col = PQfnumber(res, "id")) >= 0 &&
	    !PQgetisnull(res, 0, col))
		returned_id = strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

/*
 * The connection broke while a COMMIT was on its way: the transaction
 * may have committed (the server ends a session it was told to end, or
 * that shuts down, between the commit and its answer) or not.  Answering
 * 503 for a booking that was made would be a wrong answer, so the server
 * is asked, on a new connection, what became of the transaction
 * (pg_xact_status).
 *
 * Only the server the transaction ran on can tell, and only on its
 * timeline: libpq's new connection may reach another host (a multi-host
 * URI takes whichever is read-write now: after a failover, the promoted
 * standby), where the same xid is another transaction's, or none.  So
 * the answer counts only when the connection that gave it has the
 * identity (system identifier, timeline and the postmaster's start time,
 * conn_ident) the transaction's had (txn_ident).  Not even a restart of
 * the same server on its timeline: after a crash, xids whose WAL never
 * reached the disk are handed out again, so "committed" could be another
 * transaction's.  Anything else is unknown.
 *
 * Returns DB_OK when it committed, else DB_UNAVAILABLE: aborted, or no
 * server can tell (logged as unknown: the server down, or another one).
 */
static enum dbrc
pg_commit_lost(void)
{
	struct dbstmt *st;
	char xid[sizeof txn_xid], was[sizeof txn_ident];
	const char *v;
	enum dbrc r;

	snprintf(xid, sizeof xid, "%s", txn_xid);
	snprintf(was, sizeof was, "%s", txn_ident);
	txn_xid[0] = '\0';
	txn_ident[0] = '\0';
	if (xid[0] == '\0')
		return DB_UNAVAILABLE;
	retry_at_ms = 0;	/* ask at once */
	if ((st = db_stmt(STMT_PG_XACT_STATUS)) == NULL) {
		r = db_lasterr();
		goto unknown;
	}
	db_bind_text(st, 1, xid);
	if ((r = db_row(st)) != DB_OK)
		goto unknown;
	/* the answer came on the connection now open: conn_ident's */
	if (was[0] == '\0' || strcmp(was, conn_ident) != 0) {
		db_done(st);
		log_msg(LOG_ERR, "db: the answer to COMMIT was lost with the "
		    "connection, and the new one is to another server (%s, "
		    "the transaction ran on %s), which cannot say what became "
		    "of transaction %s: outcome unknown",
		    conn_ident[0] != '\0' ? conn_ident : "?",
		    was[0] != '\0' ? was : "?", xid);
		return DB_UNAVAILABLE;
	}
	v = db_col_str(st, 0);
	if (v != NULL && strcmp(v, "committed") == 0) {
		db_done(st);
		log_msg(LOG_WARN, "db: the answer to COMMIT was lost with the "
		    "connection; transaction %s committed", xid);
		return DB_OK;
	}
	log_msg(LOG_WARN, "db: the answer to COMMIT was lost with the "
	    "connection; transaction %s: %s", xid, v != NULL ? v : "?");
	db_done(st);
	return DB_UNAVAILABLE;
unknown:
	log_msg(LOG_ERR, "db: the answer to COMMIT was lost with the "
	    "connection and the server cannot say what became of "
	    "transaction %s: outcome unknown", xid);
	return DB_UNAVAILABLE;
}

/*
 * Steps st: the first step runs it (PQexecPrepared: the whole result
 * comes at once; parkd's statements return pages, not tables), the
 * others move along its rows.  Returns DB_OK with *row 1 or 0, or the
 * failure (logged).
 */
static enum dbrc
pg_step(struct dbstmt *st, int *row)
{
	struct pg_stmt *s = ps(st);
	ExecStatusType es;
	enum dbrc r;

	*row = 0;
	if (s->res == NULL) {
		if ((r = pg_alive()) != DB_OK)
			return r;
		if (s->gen != conn_gen && (r = pg_prepare_now(s)) != DB_OK)
			return r;
		s->res = PQexecPrepared(conn, s->name, s->nparams,
		    (const char *const *)s->val, s->len, NULL, 0);
		s->row = -1;
		es = PQresultStatus(s->res);
		if (s->id == STMT_COMMIT || s->id == STMT_ROLLBACK)
			txn = 0;
		if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
			r = pg_rc(s->res, s->sql);
			PQclear(s->res);
			s->res = NULL;
			if (s->id == STMT_COMMIT && r == DB_UNAVAILABLE)
				return pg_commit_lost();
			/* a ROLLBACK on a lost connection: nothing is left
			 * to roll back */
			return s->id == STMT_ROLLBACK && r == DB_UNAVAILABLE ?
			    DB_OK : r;
		}
		pg_note_effect(s->res);
		/* COMMIT of a transaction a failed statement aborted
		 * answers "ROLLBACK", not an error: it committed nothing */
		if (s->id == STMT_COMMIT &&
		    strcmp(PQcmdStatus(s->res), "ROLLBACK") == 0) {
			log_msg(LOG_ERR, "db: COMMIT of a transaction that "
			    "had failed: rolled back");
			PQclear(s->res);
			s->res = NULL;
			return DB_ERROR;
		}
	}
	if (s->row + 1 < PQntuples(s->res)) {
		s->row++;
		*row = 1;
	}
	return DB_OK;
}

/* Returns the value of column i of the current row, NULL for NULL or no
 * row. */
static const char *
pg_val(struct pg_stmt *s, int i)
{
	if (s->res == NULL || s->row < 0 || i < 0 || i >= PQnfields(s->res) ||
	    PQgetisnull(s->res, s->row, i))
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

/* An integer: the digits of the text (a boolean's "t" 1, "f" 0); NULL 0. */
static long long
pg_col_int(struct dbstmt *st, int i)
{
	const char *v = pg_val(ps(st), i);

	if (v == NULL)
		return 0;
	if (v[0] == 't' && v[1] == '\0')
		return 1;
	return strtoll(v, NULL, 10);
}

static const char *
pg_col_str(struct dbstmt *st, int i)
{
	return pg_val(ps(st), i);
}

static size_t
pg_col_bytes(struct dbstmt *st, int i)
{
	struct pg_stmt *s = ps(st);

	return pg_val(s, i) == NULL ? 0 :
	    (size_t)PQgetlength(s->res, s->row, i);
}

static enum dbtype
pg_col_type(struct dbstmt *st, int i)
{
	struct pg_stmt *s = ps(st);

	if (pg_val(s, i) == NULL)
		return DBT_NULL;
	switch (PQftype(s->res, i)) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return DBT_INT;
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC:
		return DBT_REAL;
	case OID_BYTEA:
		return DBT_BLOB;
	default:
		return DBT_TEXT;
	}
}

static const char *
pg_sql(struct dbstmt *st)
{
	return ps(st)->sql;
}

static long long
pg_changes(void)
{
	return changes;
}

/*
 * The id of the row the last INSERT made: the "id" column it returned
 * when its text ends in RETURNING id (exact, and no round trip), else
 * lastval(), the last value a sequence gave this session (right after an
 * INSERT that took its id from its identity column; wrong after one that
 * wrote an id of its own: such an INSERT must return its id).  0 on
 * failure (logged).
 */
static long long
pg_last_id(void)
{
	struct dbstmt *st;
	long long id = 0;

	if (returned_id >= 0)
		return returned_id;
	if ((st = db_stmt(STMT_PG_LASTVAL)) != NULL && db_row(st) == DB_OK) {
		id = db_col_int(st, 0);
		db_done(st);
	}
	return id;
}

/* Runs an embedded script (PQexec: several statements in one message).
 * Returns DB_OK or the failure. */
static enum dbrc
pg_exec_script(const char *sql, const char *what)
{
	PGresult *res;
	enum dbrc r;
	ExecStatusType es;

	if ((r = pg_alive()) != DB_OK)
		return r;
	res = PQexec(conn, sql);
	es = PQresultStatus(res);
	r = es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK ? DB_OK :
	    pg_rc(res, what);
	PQclear(res);
	return r;
}

/*
 * No cheap, correct number that moves with every commit of every host
 * (pg_stat_database's xact_commit is per server, late, and reset by
 * pg_stat_reset; txid_current() writes): "cannot tell", so the memo of
 * memo.c is off on PostgreSQL (correct, slower).
 */
static int
pg_data_version(uint32_t *v)
{
	(void)v;
	return -1;
}

static int
pg_in_txn(void)
{
	return txn;
}

/* Every statement runs to its end at its first step and keeps its rows
 * client side: none holds anything on the server. */
static void
pg_reset_busy(void)
{
}

/* Runs statement id of the driver's own (no parameters, rows ignored).
 * Returns DB_OK or the failure. */
static enum dbrc
pg_run(enum stmt id)
{
	return db_run(db_stmt(id));
}

/* Takes the write lock and notes the transaction's id (txn_xid).
 * Returns DB_OK or the failure. */
static enum dbrc
pg_write_lock(void)
{
	struct dbstmt *st;
	const char *v;
	enum dbrc r;

	if ((st = db_stmt(STMT_PG_WRITE_LOCK)) == NULL)
		return db_lasterr();
	if ((r = db_row(st)) != DB_OK)
		return r == DB_NOTFOUND ? DB_ERROR : r;
	v = db_col_str(st, 0);
	snprintf(txn_xid, sizeof txn_xid, "%s", v != NULL ? v : "");
	snprintf(txn_ident, sizeof txn_ident, "%s", conn_ident);
	db_done(st);
	return DB_OK;
}

/*
 * A write transaction: BEGIN, then THE write lock, the advisory lock
 * ("park", 2) held to the end of the transaction.  One writer at a time
 * across every host, as SQLite's BEGIN IMMEDIATE: every check-then-write
 * of the db-*.c files (a free spot, then its booking; a count, then the
 * row past it) was written for a serialised writer, and stays correct by
 * construction, because each statement of a READ COMMITTED transaction
 * taken after the lock sees every commit made before it.  The schema's
 * constraints (sql/pg/README) are the last line behind it.  Finer locks
 * (per lot: the lot's row, FOR UPDATE) would let lots' writes run side by
 * side; later work (#17), once each transaction's locks are listed.  A
 * migration takes the migrations' lock too (dev/lib.sh pg_migrate's).
 * Waits up to lock_timeout (PARKD_DB_BUSY_TIMEOUT_MS): DB_BUSY past it.
 */
static enum dbrc
pg_begin(void)
{
	enum dbrc r;

	if ((r = pg_alive()) != DB_OK)
		return r;
	if ((r = pg_run(STMT_PG_BEGIN)) != DB_OK)
		return r;
	txn = 1;
	txn_xid[0] = '\0';
	if ((migrating && (r = pg_run(STMT_PG_MIGRATE_LOCK)) != DB_OK) ||
	    (r = pg_write_lock()) != DB_OK) {
		/* past lock_timeout: parkd_db_busy_timeouts_total{lock=
		 * "postgresql"}, as SQLite's busy handler counts its own */
		if (r == DB_BUSY)
			metrics_inc(MX_DB_BUSY_TIMEOUTS);
		db_rollback();
		return r;
	}
	return DB_OK;
}

/* A read transaction: one snapshot for its statements (REPEATABLE READ),
 * read only (a write inside it is a bug: 25006 is DB_ERROR). */
static enum dbrc
pg_begin_read(void)
{
	enum dbrc r;

	if ((r = pg_alive()) != DB_OK)
		return r;
	if ((r = pg_run(STMT_PG_BEGIN_READ)) == DB_OK)
		txn = 1;
	return r;
}

static void
pg_end(void)
{
	txn = 0;
}

static const char *
pg_errmsg(void)
{
	return conn == NULL ? "no connection" : lasterr;
}

/* The version: 0 before the first migration made parkd_schema.  Returns
 * it, or -1 with *r. */
static int
pg_version_get(enum dbrc *r)
{
	long long have = 0, v = 0;

	if ((*r = db_row_ints(db_stmt(STMT_PG_SCHEMA_EXISTS), &have, NULL,
	    NULL)) != DB_OK)
		return -1;
	if (have && (*r = db_row_ints(db_stmt(STMT_PG_VERSION_GET), &v, NULL,
	    NULL)) != DB_OK)
		return -1;
	return (int)v;
}

/* Records migration v (its file's name) in parkd_schema, inside the
 * migration's transaction. */
static enum dbrc
pg_version_set(int v)
{
	struct dbstmt *st;

	if (v < 1 || (size_t)v > sql_pg_nmigrations)
		return DB_ERROR;
	if ((st = db_stmt(STMT_PG_VERSION_SET)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, v);
	db_bind_text(st, 2, sql_pg_migrations[v - 1].name);
	return db_run(st);
}

/*
 * The session's timeouts: statement_timeout (PARKD_PG_STATEMENT_TIMEOUT_MS)
 * and lock_timeout, how long a lock is waited for (the write lock, a
 * row's), PARKD_DB_BUSY_TIMEOUT_MS or a migration's floor: past either,
 * DB_BUSY (a 503).  Returns DB_OK or the failure.
 */
static enum dbrc
pg_session(void)
{
	struct dbstmt *st;
	char stmt_ms[24], lock_ms[24];
	int lock = conf.db_busy_timeout_ms;

	if (wait_min_ms > lock)
		lock = wait_min_ms;
	snprintf(stmt_ms, sizeof stmt_ms, "%d", conf.pg_statement_timeout_ms);
	snprintf(lock_ms, sizeof lock_ms, "%d", lock);
	if ((st = db_stmt(STMT_PG_SESSION)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, stmt_ms);
	db_bind_text(st, 2, lock_ms);
	return db_run(st);
}

/*
 * Notes the identity of the server just connected to (conn_ident:
 * STMT_PG_IDENTITY), once per connection, for pg_commit_lost().  A
 * question that fails leaves it unknown (a lost COMMIT's outcome is
 * then unknown too) but the connection usable; returns DB_OK, or
 * DB_UNAVAILABLE when the connection went.
 */
static enum dbrc
pg_identity(void)
{
	struct dbstmt *st;
	const char *v;
	enum dbrc r;

	conn_ident[0] = '\0';
	if ((st = db_stmt(STMT_PG_IDENTITY)) == NULL)
		r = db_lasterr();
	else if ((r = db_row(st)) == DB_OK) {
		v = db_col_str(st, 0);
		snprintf(conn_ident, sizeof conn_ident, "%s",
		    v != NULL ? v : "");
		db_done(st);
	}
	if (r == DB_UNAVAILABLE)
		return r;
	if (conn_ident[0] == '\0')
		log_msg(LOG_WARN, "db: the server's identity is unknown: a "
		    "COMMIT whose answer is lost will be reported unknown");
	return DB_OK;
}

/* db_migrate() raises the lock wait for its run (ms > 0), and puts it
 * back (0): its write transactions take the migrations' lock meanwhile. */
static int
pg_wait_floor(int ms)
{
	int old = wait_min_ms;

	wait_min_ms = ms;
	migrating = ms > 0;
	if (conn != NULL && !broken && !txn && pg_session() != DB_OK)
		log_msg(LOG_WARN, "db: could not set lock_timeout");
	return old;
}

static const char *
pg_state(void)
{
	if (conn != NULL && !broken && PQstatus(conn) == CONNECTION_OK)
		return "up";
	return "reconnecting";
}

/* See park.h.  PQconninfoParse() knows each parameter's variable. */
int
db_pg_env(const char *url, struct buf *err)
{
	PQconninfoOption *opts, *o;
	char *msg = NULL;

	if ((opts = PQconninfoParse(url, &msg)) == NULL) {
		buf_printf(err, "DATABASE_URL: %s", msg != NULL ? msg :
		    "out of memory");
		PQfreemem(msg);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && *o->val != '\0' && o->envvar != NULL &&
		    setenv(o->envvar, o->val, 1) == -1) {
			buf_printf(err, "setenv %s: %s", o->envvar,
			    strerror(errno));
			PQconninfoFree(opts);
			return -1;
		}
	PQconninfoFree(opts);
	return 0;
}

const struct db_driver db_pg = {
	.name = "postgresql",
	.pg = 1,
	.migrations = sql_pg_migrations,
	.nmigrations = &sql_pg_nmigrations,
	.sample = sql_pg_sample,
	.open = pg_open,
	.close = pg_close,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.forget = pg_forget,
	.bind_int = pg_bind_int,
	.bind_text = pg_bind_text,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.reset = pg_reset,
	.clear = pg_clear,
	.col_int = pg_col_int,
	.col_str = pg_col_str,
	.col_bytes = pg_col_bytes,
	.col_type = pg_col_type,
	.sql = pg_sql,
	.changes = pg_changes,
	.last_id = pg_last_id,
	.exec_script = pg_exec_script,
	.data_version = pg_data_version,
	.in_txn = pg_in_txn,
	.reset_busy = pg_reset_busy,
	.begin = pg_begin,
	.begin_read = pg_begin_read,
	.version_get = pg_version_get,
	.end = pg_end,
	.errmsg = pg_errmsg,
	.version_set = pg_version_set,
	.wait_floor = pg_wait_floor,
	.state = pg_state,
};
