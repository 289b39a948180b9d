/*
 * db-int.h: the inside of the data layer, shared by the db*.c files only.
 * Nothing else includes it: the rest of parkd sees park.h's db_* functions
 * and enum dbrc, never the engine.
 *
 * Every SQL statement of the project is one row of stmt_sql[] in db.c,
 * named by enum stmt below (keep the two in the same order); the row holds
 * each dialect's text side by side.  Statements are prepared on first use
 * and cached for the life of the connection.
 *
 * How a db-*.c function runs a statement:
 *
 *	struct dbstmt *st;
 *	enum dbrc rc;
 *
 *	if ((st = db_stmt(STMT_LOT_GET)) == NULL)
 *		return db_lasterr();
 *	db_bind_int(st, 1, id);
 *	if ((rc = db_row(st)) != DB_OK)
 *		return rc;		(DB_NOTFOUND: no row)
 *	... db_col_int(st, i), db_col_text(pool, st, i) ...
 *	db_done(st);
 *
 * Bind failures are remembered and reported by the next db_row(), db_run()
 * or db_next(), so binds need no checks.  A statement that returned a row
 * must be given back with db_done() (which resets it) before the function
 * returns: a statement left mid-way keeps a read transaction open.
 * db_begin() resets any statement left busy, as a safety net.
 *
 * The seam: a statement is a struct dbstmt, opaque to the db-*.c files;
 * they read columns with the db_col_*() accessors below and never name
 * the engine.  Below them, struct db_driver (at the end of this file) is
 * the back end: db.c holds what every engine shares (the statement cache,
 * bind-error memory, transactions, migrations' order, db_to_http()) and
 * calls through the driver that db_open() chose; db-sqlite.c is the
 * SQLite driver and the one file that includes sqlite3.h (t/19-libs.t).
 */
#ifndef DB_INT_H
#define DB_INT_H

#include <stddef.h>

#include "park.h"

enum stmt {
	/* connection and transactions */
	STMT_PING,
	STMT_BEGIN,
	STMT_BEGIN_READ,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_PRAGMA_PAGE_SIZE,
	STMT_PRAGMA_WAL,
	STMT_PRAGMA_SYNC_NORMAL,
	STMT_PRAGMA_SYNC_FULL,
	STMT_PRAGMA_FOREIGN_KEYS,
	STMT_PRAGMA_JOURNAL_LIMIT,
	STMT_PRAGMA_MAX_PAGES,
	STMT_VERSION_GET,
	/* PostgreSQL's driver's own (db-pg.c): no SQLite text */
	STMT_PG_SESSION,
	STMT_PG_BEGIN,
	STMT_PG_WRITE_LOCK,
	STMT_PG_MIGRATE_LOCK,
	STMT_PG_BEGIN_READ,
	STMT_PG_SCHEMA_EXISTS,
	STMT_PG_VERSION_GET,
	STMT_PG_VERSION_SET,
	STMT_PG_LASTVAL,
	STMT_PG_XACT_STATUS,
	STMT_PG_IDENTITY,

	/* db-sys.c: reset, in foreign-key-safe order */
	STMT_RESET_REMINDERS,
	STMT_RESET_REPORTS,
	STMT_RESET_OUTBOX,
	STMT_RESET_JOB_RUNS,
	STMT_RESET_EXPORTS,
	STMT_RESET_LOGIN_FAILURES,
	STMT_RESET_SESSIONS,
	STMT_RESET_RESERVATIONS,
	STMT_RESET_SPOTS,
	STMT_RESET_LOTS,
	STMT_RESET_USERS,

	/* db-sys.c: stats */
	STMT_STATS_USERS,
	STMT_STATS_LOTS,
	STMT_STATS_SPOTS,
	STMT_STATS_RESERVATIONS,
	STMT_STATS_EXPORTS,
	STMT_STATS_OUTBOX,

	/* db-auth.c: users, sessions, login failures */
	STMT_USER_INSERT,
	STMT_USER_GET,
	STMT_USER_BY_LOGIN,
	STMT_USER_NAME_TAKEN,
	STMT_USER_EMAIL_TAKEN,
	STMT_USER_LAST_LOGIN,
	STMT_USER_SET_HASH,
	STMT_USER_CHANGE_HASH,
	STMT_USER_UPDATE,
	STMT_USER_SET_ACTIVE,
	STMT_USERS_LIST,
	STMT_USERS_COUNT,
	STMT_SESSION_INSERT,
	STMT_SESSION_CHECK,
	STMT_SESSION_GET,
	STMT_SESSION_ROTATE,
	STMT_SESSION_REVOKE,
	STMT_SESSION_REVOKE_USER,
	STMT_LOGIN_FAIL_COUNT,
	STMT_LOGIN_FAIL_ADD,
	STMT_LOGIN_FAIL_CLEAR,
	STMT_LOGIN_FAIL_UNCOUNT,
	STMT_SESSION_REVOKE_ADMIN_FP,

	/* db-lots.c: cache generations, lots, spots, reservations */
	STMT_GEN_GET,
	STMT_GEN_BUMP,
	STMT_LOT_INSERT,
	STMT_LOT_GET,
	STMT_LOTS_LIST,
	STMT_LOT_UPDATE,
	STMT_LOT_RESIZE,
	STMT_LOT_HAS_HISTORY,
	STMT_LOT_DELETE,
	STMT_LOT_SOFT_DELETE,
	STMT_SPOTS_REVIVE,
	STMT_SPOTS_ADD,
	STMT_SPOTS_OCCUPIED_ABOVE,
	STMT_SPOTS_DELETE_ABOVE,
	STMT_SPOTS_REMOVE_ABOVE,
	STMT_SPOTS_GRID,
	STMT_LOT_VERSION,
	STMT_LOTS_VERSION,
	STMT_LOT_FOR_BOOKING,
	STMT_SPOT_FIRST_FREE,
	STMT_USER_ACTIVE_COUNT,
	STMT_RESV_INSERT,
	STMT_RESV_GET,
	STMT_RESV_TO_RELEASE,
	STMT_RESV_OLDEST_ACTIVE,
	STMT_RESV_COMPLETE,
	STMT_RESV_CLOSED,
	STMT_RESV_LIST_USER,
	STMT_RESV_COUNT_USER,
	STMT_RESV_LIST_ADMIN,
	STMT_RESV_COUNT_ADMIN,
	STMT_RESV_LIST_ADMIN_USER,
	STMT_RESV_COUNT_ADMIN_USER,
	STMT_RESV_COUNT_ADMIN_LOT,
	STMT_RESV_COUNT_ADMIN_LOTS,
	STMT_SUM_COUNTS,
	STMT_SUM_REVENUE,
	STMT_SUM_AHEAD,
	STMT_SUM_PER_DAY,
	STMT_SUM_USER,
	STMT_SUM_USER_ACTIVE,

	/* db-jobs.c: the mail outbox and job runs */
	STMT_OUTBOX_ADD,
	STMT_JOB_LOCK,
	STMT_JOB_START,
	STMT_JOB_FINISH,

	/* db-jobs.c: delivery */
	STMT_OUTBOX_DROP_STALE,
	STMT_OUTBOX_DUE,
	STMT_OUTBOX_CLAIM,
	STMT_OUTBOX_SENT,
	STMT_OUTBOX_RETRY,
	STMT_OUTBOX_FAIL,
	STMT_OUTBOX_RELEASE,

	/* db-batch.c: reminders, reports, cleanup, backup, job stats */
	STMT_BATCH_NEW_LOTS,
	STMT_BATCH_FREE_SPOTS,
	STMT_BATCH_REMIND_DUE,
	STMT_BATCH_REMIND_MARK,
	STMT_BATCH_REPORT_DUE,
	STMT_BATCH_REPORT_RESV,
	STMT_BATCH_REPORT_MARK,
	STMT_BATCH_CLEAN_OUTBOX,
	STMT_BATCH_CLEAN_LOGIN_FAILURES,
	STMT_BATCH_CLEAN_SESSIONS,
	STMT_BATCH_CLEAN_JOB_RUNS,
	STMT_BATCH_CLEAN_REMINDERS,
	STMT_BATCH_STALE_RUNS,
	STMT_BATCH_CHECKPOINT,
	STMT_BATCH_VACUUM_INTO,
	STMT_BATCH_INTEGRITY,
	STMT_STATS_JOBS,

	/* db-sys.c: what GET /metrics reads at each scrape */
	STMT_METRICS_LOTS,
	STMT_METRICS_QUEUES,
	STMT_METRICS_JOB_OK,

	/* db-import.c: parkctl import-flask (the old file's own statements run
	 * on a second, read-only connection: see old_sql[] in db-import.c) */
	STMT_IMPORT_MAP_GET,
	STMT_IMPORT_MAP_PUT,
	STMT_IMPORT_OTHER_SOURCES,
	STMT_IMPORT_ROW_EXISTS,
	STMT_IMPORT_USER_BY_EMAIL,
	STMT_IMPORT_USER_INSERT,
	STMT_IMPORT_LOT_INSERT,
	STMT_IMPORT_SPOT_INSERT,
	STMT_IMPORT_SPOT_BY_NUMBER,
	STMT_IMPORT_SPOT_STATE,
	STMT_IMPORT_RESV_INSERT,
	STMT_IMPORT_RESV_OLD_KEYS,
	STMT_IMPORT_RESV_BACKFILL,
	STMT_IMPORT_SYNC_IDS,

	/* db-exports.c: CSV export jobs */
	STMT_EXPORT_USER_COUNTS,
	STMT_EXPORT_INSERT,
	STMT_EXPORT_GET,
	STMT_EXPORT_BY_FILE,
	STMT_EXPORT_LINK_OWNER,
	STMT_EXPORT_NEXT,
	STMT_EXPORT_GIVE_UP,
	STMT_EXPORT_CLAIM,
	STMT_EXPORT_PROGRESS,
	STMT_EXPORT_COUNT,
	STMT_EXPORT_ROWS,
	STMT_EXPORT_SUCCESS,
	STMT_EXPORT_FAIL,
	STMT_EXPORT_RETRY,
	STMT_EXPORT_OLD,
	STMT_EXPORT_DELETE,
	STMT_EXPORT_CHECKPOINT,

	/* db-recovery.c: reset and verification tokens (migration 011) */
	STMT_TOKEN_INSERT,
	STMT_TOKEN_SPEND_OLDER,
	STMT_TOKEN_SPEND,
	STMT_TOKEN_LIVE,
	STMT_TOKEN_SPEND_USER,
	STMT_USER_PREV_EMAIL,
	STMT_USER_SET_VERIFIED,
	STMT_USER_BY_EMAIL_ACTIVE,
	STMT_RECOVERY_COUNT,
	STMT_RECOVERY_ADD,
	STMT_RESET_TOKENS,
	STMT_RESET_RECOVERY,
	STMT_BATCH_CLEAN_TOKENS,
	STMT_BATCH_CLEAN_RECOVERY,
	/* db-resv.c: advance reservations */
	STMT_RESV_STALE_LOT,
	STMT_RESV_EXPIRE_LOT,
	STMT_RESV_EXPIRE_ALL,
	STMT_RESV_LOT,
	STMT_RESV_USER_OVERLAP,
	STMT_RESV_BEST_SPOT,
	STMT_RESV_RESERVE_INSERT,
	STMT_RESV_OWNED,
	STMT_RESV_SPOT_CAN_HOLD,
	STMT_RESV_CHECKIN,
	STMT_RESV_CANCEL,
	STMT_RESV_HOLDS,
	STMT_RESV_HOLDS_BARE,
	STMT_RESV_LOT_UPCOMING,
	STMT_RESV_LOT_UPCOMING_LIST,
	STMT_RESV_REMIND_DUE,
	STMT_RESV_LIST_UPCOMING,
	STMT_RESV_COUNT_UPCOMING,
	STMT_RESV_LOT_DAY,
	/* db-copy.c: parkctl db copy (READ, WRITE, SUMS per table, in the
	 * order of the copy) */
	STMT_COPY_USERS_READ,
	STMT_COPY_USERS_WRITE,
	STMT_COPY_USERS_SUMS,
	STMT_COPY_LOTS_READ,
	STMT_COPY_LOTS_WRITE,
	STMT_COPY_LOTS_SUMS,
	STMT_COPY_SPOTS_READ,
	STMT_COPY_SPOTS_WRITE,
	STMT_COPY_SPOTS_SUMS,
	STMT_COPY_RESV_READ,
	STMT_COPY_RESV_WRITE,
	STMT_COPY_RESV_SUMS,
	STMT_COPY_SESSIONS_READ,
	STMT_COPY_SESSIONS_WRITE,
	STMT_COPY_SESSIONS_SUMS,
	STMT_COPY_LOGIN_FAILURES_READ,
	STMT_COPY_LOGIN_FAILURES_WRITE,
	STMT_COPY_LOGIN_FAILURES_SUMS,
	STMT_COPY_TOKENS_READ,
	STMT_COPY_TOKENS_WRITE,
	STMT_COPY_TOKENS_SUMS,
	STMT_COPY_RECOVERY_READ,
	STMT_COPY_RECOVERY_WRITE,
	STMT_COPY_RECOVERY_SUMS,
	STMT_COPY_EXPORTS_READ,
	STMT_COPY_EXPORTS_WRITE,
	STMT_COPY_EXPORTS_SUMS,
	STMT_COPY_OUTBOX_READ,
	STMT_COPY_OUTBOX_WRITE,
	STMT_COPY_OUTBOX_SUMS,
	STMT_COPY_JOB_RUNS_READ,
	STMT_COPY_JOB_RUNS_WRITE,
	STMT_COPY_JOB_RUNS_SUMS,
	STMT_COPY_REMINDERS_READ,
	STMT_COPY_REMINDERS_WRITE,
	STMT_COPY_REMINDERS_SUMS,
	STMT_COPY_REPORTS_READ,
	STMT_COPY_REPORTS_WRITE,
	STMT_COPY_REPORTS_SUMS,
	STMT_COPY_CACHE_GEN_READ,
	STMT_COPY_CACHE_GEN_WRITE,
	STMT_COPY_CACHE_GEN_SUMS,
	STMT_COPY_IMPORT_MAP_READ,
	STMT_COPY_IMPORT_MAP_WRITE,
	STMT_COPY_IMPORT_MAP_SUMS,
	STMT_COPY_LOT_VERSION,
	STMT_COPY_SYNC_IDS,

	STMT__COUNT
};

/* A prepared statement.  Each driver's own begins with this head, so the
 * accessors below reach the driver that made it in one call (a statement
 * of a second connection, struct dbfile, works with them too). */
struct db_driver;
struct dbstmt {
	const struct db_driver *drv;
};

/* The type of a column's value in the current row. */
enum dbtype {
	DBT_NULL,
	DBT_INT,
	DBT_REAL,
	DBT_TEXT,
	DBT_BLOB
};

/*
 * Returns the cached statement, prepared on first use, reset and with its
 * bindings cleared; NULL when it cannot be prepared (logged; db_lasterr()
 * then tells why).
 */
struct dbstmt *db_stmt(enum stmt);
/* The outcome of the last failed db_stmt() or db_exec_script(). */
enum dbrc db_lasterr(void);

/* Binding by position (1-based).  Text is copied.  NULL text binds NULL. */
void db_bind_int(struct dbstmt *, int, long long);
void db_bind_text(struct dbstmt *, int, const char *);
void db_bind_textn(struct dbstmt *, int, const char *, size_t);
void db_bind_null(struct dbstmt *, int);

/*
 * Stepping.  On failure each logs the engine's message (never shown to a
 * client), resets the statement and returns the mapped code.
 * db_row():  DB_OK with a row to read (call db_done() after), or
 *            DB_NOTFOUND when there is none.
 * db_run():  for statements without rows; DB_OK when done (the statement is
 *            reset; db_changes() and db_last_id() tell the effect).
 * db_next(): for loops; 1 while there is a row, then 0 with *rc set to
 *            DB_OK at the end or the failure (the statement is then reset).
 */
enum dbrc db_row(struct dbstmt *);
enum dbrc db_run(struct dbstmt *);
int db_next(struct dbstmt *, enum dbrc *);
void db_done(struct dbstmt *);

/* A read transaction: one snapshot for several SELECTs (dashboards). */
enum dbrc db_begin_read(void);
void db_end_read(void);

/* Runs an aggregate statement (prepared and bound; NULL: the failure of
 * db_stmt) and reads its first one to three integer columns (NULL: not
 * wanted).  Returns DB_OK or the failure. */
enum dbrc db_row_ints(struct dbstmt *, long long *, long long *,
    long long *);

/*
 * Columns of the current row (0-based), between a db_row()/db_next() that
 * gave a row and the db_done() or next step.
 * db_col_int():    the value as an integer (NULL: 0; a text: its number).
 * db_col_str():    the value as text, borrowed: valid until the statement
 *                  steps or is reset; NULL for SQL NULL.
 * db_col_bytes():  the length in bytes of db_col_str()'s text.
 * db_col_type():   the type of the value (the old Flask file's columns
 *                  may hold any); db_col_isnull() tells NULL alone.
 */
static inline long long db_col_int(struct dbstmt *, int);
static inline const char *db_col_str(struct dbstmt *, int);
static inline size_t db_col_bytes(struct dbstmt *, int);
static inline enum dbtype db_col_type(struct dbstmt *, int);
static inline int db_col_isnull(struct dbstmt *, int);

/* Column i of the current row as text copied into the pool; NULL stays
 * NULL. */
const char *db_col_text(struct pool *, struct dbstmt *, int i);

/* The current row of a statement selecting RESV_COLS, into v (strings in
 * the pool). */
void db_resv_row(struct pool *, struct dbstmt *, struct resv *v);

/* db-resv.c, inside the caller's write transaction: marks lot's
 * reservations past their grace as no-shows (their holds end). */
enum dbrc db_resv_expire_lot(int64_t lot, int64_t now);
/* Counts lot's upcoming reservations on spots numbered above "above"
 * (0: the whole lot); cancels them, queueing each user's e-mail. */
enum dbrc db_lot_upcoming(int64_t lot, int above, long long *count);
enum dbrc db_lot_cancel_upcoming(struct pool *, int64_t lot, int above);

/* Rows changed by the last INSERT, UPDATE or DELETE. */
long long db_changes(void);
/*
 * The id (rowid) of the row the last INSERT made.  Kept rather than
 * "INSERT ... RETURNING id": SQLite 3.40 runs RETURNING through an
 * ephemeral table per statement, a cost on the booking's INSERT (see
 * STMT_RESV_CLOSED); PostgreSQL's driver can answer it with lastval()
 * after an INSERT into an identity column.
 */
long long db_last_id(void);

/*
 * Runs a script of several statements (a migration, the sample data).
 * Only for the embedded SQL files: never for text built at run time.
 * Returns DB_OK or the mapped failure.
 */
enum dbrc db_exec_script(const char *sql, const char *what);

/*
 * Prepares every statement of the table; returns DB_OK, or DB_ERROR after
 * logging each that does not compile against the schema.  For tests and
 * for "parkctl db check"-like uses: the server prepares lazily.
 */
enum dbrc db_prepare_all(void);

/*
 * TEST ONLY: runs sql (any statements) on the connection and returns the
 * mapped outcome.  The unit tests use it to insert rows the API would
 * refuse.  Never call it from parkd or parkctl: all their SQL lives in
 * the statement table.
 */
enum dbrc db_exec_for_test(const char *sql);

/*
 * The SQLite text of a statement of the table, for a statement run on a
 * connection other than this process's own (db-batch.c checks a backup
 * copy through a second, read-only connection; t/11-plans explains the
 * plans).  NULL for a bad id.
 */
const char *db_sql(enum stmt);
/* PostgreSQL's text as the table holds it: "" when it is the SQLite text
 * (PG_SAME), NULL when there is none or for a bad id (t/pgsql-dump) */
const char *db_sql_pg(enum stmt);

/* db-recovery.c, inside the caller's transaction: spends user's unused
 * tokens of t->purpose, stores t for user and queues its mail. */
enum dbrc db_token_add(const struct acct_token *t, int64_t user);

/*
 * db-sqlite.c: an SQLite file read on a connection of its own, read-only,
 * whatever the back end of parkd's connection: the Flask backend's file
 * of "parkctl import-flask", a backup copy being checked.  Its statements
 * are struct dbstmt: the db_col_*() accessors read them; the rest of the
 * data layer's helpers (db_row, db_bind_*) are for parkd's connection only.
 */
struct dbfile;
enum dbfile_err {
	DBF_OK,
	DBF_NOTADB,		/* not an SQLite file */
	DBF_CORRUPT,		/* damaged */
	DBF_OTHER
};
/* Opens path read-only, defensive (its schema runs nothing of ours),
 * waiting up to busy_ms for a writer (0: not at all).  Returns the file,
 * or NULL with the reason appended to err. */
struct dbfile *dbfile_open(const char *path, int busy_ms, struct buf *err);
/* Returns sql prepared on f, or NULL (dbfile_errmsg() says why). */
struct dbstmt *dbfile_prepare(struct dbfile *f, const char *sql);
/* Binds text (NULL: NULL) by position; it must outlive the statement's
 * next reset. */
void dbfile_bind_text(struct dbstmt *, int, const char *);
/* Steps: 1 with a row, 0 at the end, -1 on failure (dbfile_errmsg(),
 * dbfile_error()). */
int dbfile_step(struct dbstmt *);
/* Resets and clears the bindings. */
void dbfile_reset(struct dbstmt *);
void dbfile_finalize(struct dbstmt *);
/* The kind and message of f's last failure. */
enum dbfile_err dbfile_error(struct dbfile *f);
const char *dbfile_errmsg(struct dbfile *f);
void dbfile_close(struct dbfile *f);

/*
 * THE back-end interface: what db.c asks of an engine.  Only db.c and the
 * drivers (db-sqlite.c) call it; db_open() chooses the driver from the
 * database named by DATABASE_URL.  One connection per process, held by
 * the driver.  Unless said otherwise a function returning enum dbrc has
 * logged its failure (the engine's message goes to the log only).
 */
struct db_driver {
	const char *name;
	/* the dialect: 1 for PostgreSQL's (stmt_sql[].pg), 0 for SQLite's */
	int pg;
	/* the embedded migrations (named 001-..., in order) and sample data
	 * of this engine */
	const struct sql_file *migrations;
	const size_t *nmigrations;
	const char *sample;
	/* opens path and sets the connection's policy; DB_OK or the failure
	 * (the connection is then closed) */
	enum dbrc (*open)(const char *path);
	/* closes; inherited != 0: the connection came through fork and is
	 * abandoned, never used nor closed */
	void (*close)(int inherited);
	/* statement id of the table, sql its text in the driver's dialect;
	 * NULL with *rc set (logged) when it does not prepare */
	struct dbstmt *(*prepare)(enum stmt id, const char *sql,
	    enum dbrc *rc);
	void (*finalize)(struct dbstmt *);
	/* drops a statement of an inherited connection without touching
	 * the engine's (the parent still uses its own copy) */
	void (*forget)(struct dbstmt *);
	/* binds report their failure (logged) for the next step */
	enum dbrc (*bind_int)(struct dbstmt *, int, long long);
	enum dbrc (*bind_text)(struct dbstmt *, int, const char *, size_t);
	enum dbrc (*bind_null)(struct dbstmt *, int);
	/* DB_OK with *row 1 (a row) or 0 (the end), or the failure; it does
	 * not reset */
	enum dbrc (*step)(struct dbstmt *, int *row);
	void (*reset)(struct dbstmt *);
	void (*clear)(struct dbstmt *);
	long long (*col_int)(struct dbstmt *, int);
	const char *(*col_str)(struct dbstmt *, int);
	size_t (*col_bytes)(struct dbstmt *, int);
	enum dbtype (*col_type)(struct dbstmt *, int);
	/* the statement's text, for messages */
	const char *(*sql)(struct dbstmt *);
	long long (*changes)(void);
	long long (*last_id)(void);
	enum dbrc (*exec_script)(const char *sql, const char *what);
	/* into *v a number that moves with every commit any connection
	 * makes to the database (memo.c keys on it); 0, or -1 when it
	 * cannot tell */
	int (*data_version)(uint32_t *v);
	/* 1 inside a transaction */
	int (*in_txn)(void);
	/* resets statements left mid-way (before a write transaction) */
	void (*reset_busy)(void);
	/* takes the write lock and begins (STMT_BEGIN); DB_OK or DB_BUSY
	 * past the timeout, or the failure */
	enum dbrc (*begin)(void);
	/* begins a read transaction (one snapshot); DB_OK or the failure */
	enum dbrc (*begin_read)(void);
	/* the schema version (0: none yet), or -1 with *rc set */
	int (*version_get)(enum dbrc *rc);
	/* after the write transaction's COMMIT or ROLLBACK */
	void (*end)(void);
	/* the engine's last message */
	const char *(*errmsg)(void);
	/* stores the schema version (STMT_VERSION_GET reads it), inside the
	 * migration's transaction */
	enum dbrc (*version_set)(int);
	/* sets how long a wait for a lock lasts at least (migrations wait
	 * for one another; db_migrate() sets it for its run and puts 0 back
	 * after); returns the value it replaces */
	int (*wait_floor)(int ms);
	/* appends the connection's state for GET /api/health (a word:
	 * "up", "reconnecting"...) */
	const char *(*state)(void);
};

extern const struct db_driver db_sqlite;
extern const struct db_driver db_pg;

/* db.c: sql with SQLite's "?" and "?N" parameters as PostgreSQL's "$N"
 * (outside string literals and quoted names), malloc'd; NULL on ENOMEM. */
char *db_pg_params(const char *sql);

static inline long long
db_col_int(struct dbstmt *st, int i)
{
	return st->drv->col_int(st, i);
}

static inline const char *
db_col_str(struct dbstmt *st, int i)
{
	return st->drv->col_str(st, i);
}

static inline size_t
db_col_bytes(struct dbstmt *st, int i)
{
	return st->drv->col_bytes(st, i);
}

static inline enum dbtype
db_col_type(struct dbstmt *st, int i)
{
	return st->drv->col_type(st, i);
}

static inline int
db_col_isnull(struct dbstmt *st, int i)
{
	return st->drv->col_type(st, i) == DBT_NULL;
}

#endif /* DB_INT_H */
