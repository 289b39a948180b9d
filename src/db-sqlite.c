/*
 * db-sqlite.c: the SQLite driver of the data layer (struct db_driver in
 * db-int.h), and the one file of parkd that includes sqlite3.h: the
 * connection of this process and its policy (open flags, pragmas, busy
 * handler, WAL checkpoints, the writers' queue), statements, columns, and
 * the read-only connections of struct dbfile (the Flask file, a backup
 * copy).
 *
 * The pitfalls of SQLite 3.40 handled here (../shared/docs/reliability.md):
 * a connection inherited through fork is abandoned, never used or closed
 * (howtocorrupt 2.6); a write transaction starts with BEGIN IMMEDIATE
 * after statements left mid-way are reset (F5: a stale snapshot gets
 * SQLITE_BUSY_SNAPSHOT without waiting); the busy handler sleeps in short
 * steps; the WAL is checkpointed by db_wal_hook(), not SQLite's automatic
 * PASSIVE checkpoint, which never catches up under load.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/mman.h>
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "db-int.h"

/* Longest string or blob, and longest SQL text, a statement may carry. */
#define DB_MAX_LENGTH (16 * 1024 * 1024)
#define DB_MAX_SQL_LENGTH (1024 * 1024)
/* Sleeps of the busy handler: the first, and the most it grows to. */
#define DB_BUSY_FIRST_US 100
#define DB_BUSY_MAX_US 2000
/* The longest a commit waits for readers to let the WAL restart. */
#define DB_CHECKPOINT_WAIT_MS 20

/* A statement of this driver: the seam's head, then SQLite's; heap: made
 * by dbfile_prepare() (those of the table live in slots[]). */
struct sq_stmt {
	struct dbstmt h;
	sqlite3_stmt *st;
	int heap;
};

/* A read-only file of its own (db-int.h). */
struct dbfile {
	sqlite3 *c;
};

static sqlite3 *db;
/* The statements of the table, by id: no allocation per statement (the
 * heap of a worker stays as it was before the seam). */
static struct sq_stmt slots[STMT__COUNT];
/* A connection inherited through fork: never used nor closed; kept here
 * so that it stays reachable (and leak checkers quiet). */
static sqlite3 *volatile db_inherited;

/* The busy handler waits at least this long (raised by migrations). */
static int busy_min_ms;
/* ... and at most this long while db_wal_hook() checkpoints (0: no cap). */
static int busy_cap_ms;
static struct timespec busy_start;

/* The writers' queue of db_queue_writers(), and whether this process holds
 * it; busy_origin: when sq_begin() started waiting (the busy handler's
 * budget counts from there). */
static pthread_mutex_t *writer_mx;
static int writer_held;
static struct timespec busy_origin;

static int db_busy(void *, int);
static int db_wal_hook(void *, sqlite3 *, const char *, int);
static enum dbrc db_pragma(enum stmt);
static enum dbrc db_max_pages(int);
static enum dbrc writer_lock(void);
static void writer_unlock(void);

static sqlite3_stmt *
sq(struct dbstmt *st)
{
	return ((struct sq_stmt *)(void *)st)->st;
}

/*
 * The busy handler: short sleeps (100 us, doubling up to 2 ms) bounded in
 * total by conf.db_busy_timeout_ms.  SQLite's own handler sleeps in coarse
 * steps, which made the write path's p99 three times worse (performance.md).
 * Returns 1 to try again, 0 to give up (the caller gets SQLITE_BUSY).
 */
static int
db_busy(void *arg, int count)
{
	struct timespec now, ts;
	long long limit_us, waited_us, delay_us;
	int limit_ms;

	(void)arg;
	limit_ms = conf.db_busy_timeout_ms;
	if (limit_ms < busy_min_ms)
		limit_ms = busy_min_ms;
	if (busy_cap_ms > 0 && limit_ms > busy_cap_ms)
		limit_ms = busy_cap_ms;
	if (limit_ms <= 0)
		return 0;
	limit_us = (long long)limit_ms * 1000;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0) {
		busy_start = busy_origin.tv_sec != 0 ? busy_origin : now;
		metrics_inc(MX_DB_BUSY_WAITS);
	}
	waited_us = (long long)(now.tv_sec - busy_start.tv_sec) * 1000000 +
	    (now.tv_nsec - busy_start.tv_nsec) / 1000;
	if (waited_us >= limit_us) {
		metrics_inc(MX_DB_BUSY_TIMEOUTS);
		return 0;
	}

	delay_us = DB_BUSY_MAX_US;
	if (count < 8 && (DB_BUSY_FIRST_US << count) < DB_BUSY_MAX_US)
		delay_us = DB_BUSY_FIRST_US << count;
	if (delay_us > limit_us - waited_us)
		delay_us = limit_us - waited_us;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(delay_us * 1000);
	nanosleep(&ts, NULL); /* EINTR: a shorter sleep, then a retry */
	return 1;
}

/*
 * Runs after every commit of this connection, with the WAL's size in
 * frames; replaces SQLite's automatic checkpoint (a PASSIVE one past 1000
 * frames).  Under a steady load of bookings some reader always holds an
 * old snapshot, so a PASSIVE checkpoint never catches up with the end of
 * the WAL, the WAL is never started again from its beginning, and it grows
 * without bound (1.4 GB in a minute of bench/run's booking case) while
 * every commit past 1000 frames runs a checkpoint of its own, with two
 * fsyncs.  A RESTART checkpoint waits for the readers of the WAL (they are
 * short) and lets the next writer start the WAL again; the wait is capped
 * at DB_CHECKPOINT_WAIT_MS so that a long reader (a backup, an export)
 * delays one commit by that much at most: the checkpoint then did what a
 * PASSIVE one does, and the next commit tries again.  Returns SQLITE_OK:
 * the commit itself has succeeded whatever happens here.
 */
static int
db_wal_hook(void *arg, sqlite3 *conn, const char *name, int frames)
{
	int rc;

	(void)arg;
	if (frames < conf.db_checkpoint_pages)
		return SQLITE_OK;
	busy_cap_ms = DB_CHECKPOINT_WAIT_MS;
	rc = sqlite3_wal_checkpoint_v2(conn, name, SQLITE_CHECKPOINT_RESTART,
	    NULL, NULL);
	busy_cap_ms = 0;
	if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
		log_msg(LOG_WARN, "db: checkpoint: %s", sqlite3_errstr(rc));
	return SQLITE_OK;
}

/*
 * Maps a SQLite result code to the data layer's outcome and logs the
 * failure (the SQLite message goes to the log, never to a client).
 * Constraint failures are logged quietly: a duplicate e-mail is a 409, not
 * an incident.  Returns the mapped code, DB_OK for OK/ROW/DONE.
 */
static enum dbrc
db_rc(int rc, const char *what)
{
	enum log_level lvl;
	enum dbrc r;
	const char *msg;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return DB_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		r = DB_BUSY;
		lvl = LOG_WARN;
		break;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
	case SQLITE_READONLY:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		r = DB_UNAVAILABLE;
		lvl = LOG_ERR;
		break;
	case SQLITE_CONSTRAINT:
		r = DB_CONFLICT;
		lvl = LOG_INFO;
		break;
	default:
		r = DB_ERROR;
		lvl = LOG_ERR;
		break;
	}
	/* The connection's message is more precise, when it is about rc. */
	if (db != NULL && sqlite3_extended_errcode(db) == rc)
		msg = sqlite3_errmsg(db);
	else
		msg = sqlite3_errstr(rc);
	log_msg(lvl, "db: %s (code %d) in: %.120s", msg, rc,
	    what != NULL ? what : "?");
	return r;
}

/*
 * Opens the database at path for this process and sets the connection's
 * policy.  Returns DB_OK, DB_UNAVAILABLE when the file cannot be opened or
 * written, or the failure of a pragma (the connection is then closed).
 */
static enum dbrc
sq_open(const char *path)
{
	enum dbrc r;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_msg(LOG_ERR, "db: cannot open %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		db = NULL;
		return DB_UNAVAILABLE;
	}
	/* SQLite falls back to read-only on a write-protected file; parkd
	 * must write, so say so now rather than at the first booking. */
	if (sqlite3_db_readonly(db, "main") == 1) {
		log_msg(LOG_ERR, "db: %s is not writable by this user", path);
		return DB_UNAVAILABLE;
	}

	sqlite3_extended_result_codes(db, 1);
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1,
	    (int *)NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0,
	    (int *)NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0,
	    (int *)NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0,
	    (int *)NULL) != SQLITE_OK) {
		log_msg(LOG_ERR, "db: cannot configure the connection: %s",
		    sqlite3_errmsg(db));
		return DB_ERROR;
	}
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, DB_MAX_LENGTH);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, DB_MAX_SQL_LENGTH);
	sqlite3_busy_handler(db, db_busy, NULL);

	/*
	 * A new file gets 2 KB pages instead of SQLite's 4 KB.  parkd's
	 * writes are small rows in many b-trees: a booking changes ~13 pages
	 * (the reservation, its indexes, the spot, the lot), and each changed
	 * page is copied whole into the WAL, checksummed, and copied again at
	 * the checkpoint.  Half the page is half that work: a booking or a
	 * release costs ~7-10% fewer instructions (bench/RESULTS.md), and
	 * lists are served from the memo.  A file that has pages keeps its
	 * size (SQLite changes it only by VACUUM outside WAL mode; README).
	 */
	if ((r = db_pragma(STMT_PRAGMA_PAGE_SIZE)) != DB_OK ||
	    (r = db_pragma(STMT_PRAGMA_WAL)) != DB_OK ||
	    (r = db_pragma(conf.db_synchronous_full ? STMT_PRAGMA_SYNC_FULL :
	    STMT_PRAGMA_SYNC_NORMAL)) != DB_OK ||
	    (r = db_pragma(STMT_PRAGMA_FOREIGN_KEYS)) != DB_OK ||
	    (r = db_pragma(STMT_PRAGMA_JOURNAL_LIMIT)) != DB_OK ||
	    (r = db_max_pages(conf.db_max_pages)) != DB_OK)
		return r;
	if (conf.db_checkpoint_pages > 0)
		sqlite3_wal_hook(db, db_wal_hook, NULL);
	return DB_OK;
}

/*
 * Runs a pragma statement to its end.  Turning a new file to WAL needs an
 * exclusive lock, and SQLite returns SQLITE_BUSY at once, without its busy
 * handler, where waiting could deadlock (two processes creating the file
 * together): so BUSY is retried here, within the busy handler's budget.
 * For journal_mode, checks that WAL is what the file got (only a memory
 * database stays without it).  Returns DB_OK or the failure.
 */
static enum dbrc
db_pragma(enum stmt id)
{
	struct dbstmt *dst;
	sqlite3_stmt *st;
	const unsigned char *mode;
	enum dbrc r;
	int rc, count;

	if ((dst = db_stmt(id)) == NULL)
		return db_lasterr();
	st = sq(dst);
	count = 0;
	for (;;) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (id != STMT_PRAGMA_WAL)
				continue;
			mode = sqlite3_column_text(st, 0);
			if (mode == NULL ||
			    strcmp((const char *)mode, "wal") != 0)
				log_msg(LOG_WARN, "db: journal mode is %s, "
				    "not wal", mode != NULL ?
				    (const char *)mode : "unknown");
			continue;
		}
		if ((rc & 0xff) == SQLITE_BUSY && db_busy(NULL, count++)) {
			sqlite3_reset(st);
			continue;
		}
		break;
	}
	r = rc == SQLITE_DONE ? DB_OK : db_rc(rc, sqlite3_sql(st));
	sqlite3_reset(st);
	return r;
}

/*
 * Caps the database at pages pages (PARKD_DB_MAX_PAGES; 0 leaves SQLite's
 * own limit): a write that needs more fails with SQLITE_FULL, which is
 * DB_UNAVAILABLE, a 503.  The cap belongs to the connection, so each
 * process sets it after opening.  SQLite never sets it below the pages the
 * file already has.  Returns DB_OK or the failure.
 */
static enum dbrc
db_max_pages(int pages)
{
	struct dbstmt *st;
	enum dbrc r;
	char sql[64];

	if (pages <= 0)
		return DB_OK;
	/* A number of the settings table, not input: PRAGMA takes no
	 * parameter. */
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %d", pages);
	if ((r = db_exec_script(sql, "max_page_count")) != DB_OK)
		return r;
	if ((st = db_stmt(STMT_PRAGMA_MAX_PAGES)) == NULL)
		return db_lasterr();
	if ((r = db_row(st)) != DB_OK)
		return r == DB_NOTFOUND ? DB_ERROR : r;
	if (db_col_int(st, 0) != pages)
		log_msg(LOG_WARN, "db: PARKD_DB_MAX_PAGES is %d but the "
		    "database already has %lld pages: capped there", pages,
		    db_col_int(st, 0));
	db_done(st);
	return DB_OK;
}

/*
 * Closes the connection (db.c has finalized the statements).  A
 * connection inherited through fork is forgotten instead: closing it could
 * checkpoint or delete the WAL under the parent's feet.
 */
static void
sq_close(int inherited)
{
	writer_unlock();
	if (db == NULL)
		return;
	if (inherited) {
		db_inherited = db;
		db = NULL;
		return;
	}
	if (sqlite3_close(db) != SQLITE_OK) {
		log_msg(LOG_ERR, "db: close: %s", sqlite3_errmsg(db));
		sqlite3_close_v2(db);
	}
	db = NULL;
}

/* Returns statement id of the table, sql prepared (persistent: it is
 * cached), or NULL with *rc. */
static struct dbstmt *
sq_prepare(enum stmt id, const char *sql, enum dbrc *rc)
{
	struct sq_stmt *s;
	sqlite3_stmt *st = NULL;
	int src;

	if (db == NULL) {
		*rc = DB_UNAVAILABLE;
		return NULL;
	}
	src = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL);
	if (src != SQLITE_OK) {
		*rc = db_rc(src, sql);
		sqlite3_finalize(st);
		return NULL;
	}
	s = &slots[id];
	s->h.drv = &db_sqlite;
	s->st = st;
	s->heap = 0;
	return &s->h;
}

/* The statement of an inherited connection stays reachable through
 * db_inherited (sqlite3_next_stmt). */
static void
sq_forget(struct dbstmt *st)
{
	struct sq_stmt *s = (struct sq_stmt *)(void *)st;

	if (s->heap)
		free(s);
	else
		s->st = NULL;
}

static void
sq_finalize(struct dbstmt *st)
{
	if (st == NULL)
		return;
	sqlite3_finalize(sq(st));
	sq_forget(st);
}

/* Logs a failed bind; returns its mapped code. */
static enum dbrc
sq_bind_rc(struct dbstmt *st, int idx, int rc)
{
	enum dbrc r;

	if (rc == SQLITE_OK)
		return DB_OK;
	log_msg(LOG_ERR, "db: bind %d: %s in: %.120s", idx, sqlite3_errstr(rc),
	    sqlite3_sql(sq(st)));
	r = db_rc(rc, sqlite3_sql(sq(st)));
	return r == DB_CONFLICT || r == DB_OK ? DB_ERROR : r;
}

static enum dbrc
sq_bind_int(struct dbstmt *st, int idx, long long v)
{
	return sq_bind_rc(st, idx, sqlite3_bind_int64(sq(st), idx, v));
}

static enum dbrc
sq_bind_text(struct dbstmt *st, int idx, const char *s, size_t len)
{
	return sq_bind_rc(st, idx, sqlite3_bind_text64(sq(st), idx, s, len,
	    SQLITE_TRANSIENT, SQLITE_UTF8));
}

static enum dbrc
sq_bind_null(struct dbstmt *st, int idx)
{
	return sq_bind_rc(st, idx, sqlite3_bind_null(sq(st), idx));
}

/* Steps st once: DB_OK with *row 1 or 0, or the failure (logged). */
static enum dbrc
sq_step(struct dbstmt *st, int *row)
{
	int rc = sqlite3_step(sq(st));

	if (rc == SQLITE_ROW) {
		*row = 1;
		return DB_OK;
	}
	*row = 0;
	if (rc == SQLITE_DONE)
		return DB_OK;
	return db_rc(rc, sqlite3_sql(sq(st)));
}

static void
sq_reset(struct dbstmt *st)
{
	sqlite3_reset(sq(st));
}

static void
sq_clear(struct dbstmt *st)
{
	sqlite3_clear_bindings(sq(st));
}

static long long
sq_col_int(struct dbstmt *st, int i)
{
	return sqlite3_column_int64(sq(st), i);
}

static const char *
sq_col_str(struct dbstmt *st, int i)
{
	return (const char *)sqlite3_column_text(sq(st), i);
}

static size_t
sq_col_bytes(struct dbstmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(sq(st), i);
}

static enum dbtype
sq_col_type(struct dbstmt *st, int i)
{
	switch (sqlite3_column_type(sq(st), i)) {
	case SQLITE_INTEGER:
		return DBT_INT;
	case SQLITE_FLOAT:
		return DBT_REAL;
	case SQLITE_TEXT:
		return DBT_TEXT;
	case SQLITE_BLOB:
		return DBT_BLOB;
	default:
		return DBT_NULL;
	}
}

static const char *
sq_sql(struct dbstmt *st)
{
	return sqlite3_sql(sq(st));
}

static long long
sq_changes(void)
{
	return db != NULL ? sqlite3_changes(db) : 0;
}

static long long
sq_last_id(void)
{
	return db != NULL ? sqlite3_last_insert_rowid(db) : 0;
}

/* Runs a script of several statements.  Returns DB_OK or the failure. */
static enum dbrc
sq_exec_script(const char *sql, const char *what)
{
	char *err = NULL;
	int rc;

	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	sqlite3_free(err);
	return rc == SQLITE_OK ? DB_OK : db_rc(rc, what);
}

/* SQLite's data version: moves with every commit of another connection
 * (this one's own are told apart by db.c). */
static int
sq_data_version(uint32_t *out)
{
	unsigned int v = 0;

	if (db == NULL || sqlite3_file_control(db, "main",
	    SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK)
		return -1;
	*out = v;
	return 0;
}

static int
sq_in_txn(void)
{
	return db != NULL && !sqlite3_get_autocommit(db);
}

/*
 * Resets statements a caller left mid-way: such a statement holds a read
 * snapshot, and a write transaction started on a stale snapshot fails with
 * SQLITE_BUSY_SNAPSHOT without waiting (reliability.md F5).
 */
static void
sq_reset_busy(void)
{
	sqlite3_stmt *st;

	for (st = sqlite3_next_stmt(db, NULL); st != NULL;
	    st = sqlite3_next_stmt(db, st)) {
		if (sqlite3_stmt_busy(st)) {
			log_msg(LOG_WARN, "db: statement left open: %.120s",
			    sqlite3_sql(st));
			sqlite3_reset(st);
		}
	}
}

/*
 * BEGIN IMMEDIATE takes the write lock now, waiting through the writers'
 * queue and the busy handler, so the reads that follow see the data the
 * write will change.  Returns DB_OK, DB_BUSY past the timeout, or a
 * failure.
 */
static enum dbrc
sq_begin(void)
{
	enum dbrc r;

	clock_gettime(CLOCK_MONOTONIC, &busy_origin);
	if ((r = writer_lock()) != DB_OK ||
	    (r = db_run(db_stmt(STMT_BEGIN))) != DB_OK)
		writer_unlock();
	busy_origin.tv_sec = 0;
	return r;
}

static const char *
sq_errmsg(void)
{
	return db != NULL ? sqlite3_errmsg(db) : "no connection";
}

/* user_version: an integer of ours, not input (PRAGMA takes no
 * parameter). */
static enum dbrc
sq_version_set(int v)
{
	char bump[64];

	snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v);
	return db_exec_script(bump, "user_version");
}

/* A read transaction: SQLite's snapshot is taken by the first read. */
static enum dbrc
sq_begin_read(void)
{
	return db_run(db_stmt(STMT_BEGIN_READ));
}

/* PRAGMA user_version: 0 for a new file.  Returns it, or -1 with *r. */
static int
sq_version_get(enum dbrc *r)
{
	struct dbstmt *st;
	int v;

	if ((st = db_stmt(STMT_VERSION_GET)) == NULL) {
		*r = db_lasterr();
		return -1;
	}
	if ((*r = db_row(st)) != DB_OK) {
		if (*r == DB_NOTFOUND)
			*r = DB_ERROR;
		return -1;
	}
	v = (int)db_col_int(st, 0);
	db_done(st);
	return v;
}

/* A file is there or not: db_open() said which. */
static const char *
sq_state(void)
{
	return db != NULL ? "up" : "closed";
}

static int
sq_wait_floor(int ms)
{
	int old = busy_min_ms;

	busy_min_ms = ms;
	return old;
}

/*
 * The writers' queue.  Every write transaction of parkd's workers waits
 * here before BEGIN IMMEDIATE: SQLite's own lock cannot be waited for, only
 * polled (db_busy() sleeps and tries again), so under a load of bookings
 * the workers that lost the race slept past the moment the lock came free
 * and the machine sat idle while requests queued.  A mutex shared by the
 * workers hands the turn over at once, in order.  It is only a queue in
 * front of SQLite's lock, which stays the one that counts: parkctl and
 * any other program still meet it through the busy handler.  The mutex
 * is robust: a worker killed while holding it passes it on (its
 * transaction died with it and SQLite rolls it back).
 */
int
db_queue_writers(void)
{
	pthread_mutexattr_t a;
	void *p;

	if (writer_mx != NULL)
		return 0;
	p = mmap(NULL, sizeof(*writer_mx), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(p, &a) != 0) {
		munmap(p, sizeof(*writer_mx));
		return -1;
	}
	pthread_mutexattr_destroy(&a);
	writer_mx = p;
	return 0;
}

/* Waits for the writers' queue, within the busy timeout.  Returns DB_OK
 * (also without a queue), or DB_BUSY after the timeout. */
static enum dbrc
writer_lock(void)
{
	struct timespec until;
	int rc;

	if (writer_mx == NULL || writer_held)
		return DB_OK;
	until = busy_origin;
	until.tv_sec += conf.db_busy_timeout_ms / 1000;
	until.tv_nsec += (long)(conf.db_busy_timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	/* A turn taken at once is no wait; only the others are counted. */
	if ((rc = pthread_mutex_trylock(writer_mx)) == EBUSY) {
		metrics_inc(MX_DB_QUEUE_WAITS);
		rc = pthread_mutex_clocklock(writer_mx, CLOCK_MONOTONIC,
		    &until);
	}
	if (rc == EOWNERDEAD) {
		log_msg(LOG_WARN, "db: a writer died in its transaction; "
		    "the queue goes on");
		pthread_mutex_consistent(writer_mx);
		rc = 0;
	}
	if (rc != 0) {
		metrics_inc(MX_DB_QUEUE_TIMEOUTS);
		log_msg(LOG_WARN, "db: waited %d ms for the writers' queue: %s",
		    conf.db_busy_timeout_ms, strerror(rc));
		return DB_BUSY;
	}
	writer_held = 1;
	return DB_OK;
}

/* Leaves the writers' queue, if this process is in it. */
static void
writer_unlock(void)
{
	if (writer_held) {
		writer_held = 0;
		pthread_mutex_unlock(writer_mx);
	}
}

const struct db_driver db_sqlite = {
	.name = "sqlite",
	.pg = 0,
	.migrations = sql_migrations,
	.nmigrations = &sql_nmigrations,
	.sample = sql_sample,
	.open = sq_open,
	.close = sq_close,
	.prepare = sq_prepare,
	.finalize = sq_finalize,
	.forget = sq_forget,
	.bind_int = sq_bind_int,
	.bind_text = sq_bind_text,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.reset = sq_reset,
	.clear = sq_clear,
	.col_int = sq_col_int,
	.col_str = sq_col_str,
	.col_bytes = sq_col_bytes,
	.col_type = sq_col_type,
	.sql = sq_sql,
	.changes = sq_changes,
	.last_id = sq_last_id,
	.exec_script = sq_exec_script,
	.data_version = sq_data_version,
	.in_txn = sq_in_txn,
	.reset_busy = sq_reset_busy,
	.begin = sq_begin,
	.begin_read = sq_begin_read,
	.version_get = sq_version_get,
	.end = writer_unlock,
	.errmsg = sq_errmsg,
	.version_set = sq_version_set,
	.wait_floor = sq_wait_floor,
	.state = sq_state,
};

/* ---- struct dbfile: an SQLite file read on a connection of its own ---- */

struct dbfile *
dbfile_open(const char *path, int busy_ms, struct buf *err)
{
	struct dbfile *f;
	sqlite3 *c = NULL;

	if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		buf_puts(err, c != NULL ? sqlite3_errmsg(c) : "out of memory");
		sqlite3_close(c);
		return NULL;
	}
	sqlite3_extended_result_codes(c, 1);
	/* The file is not ours: its schema may not run functions of ours
	 * or change anything behind the reads. */
	(void)sqlite3_db_config(c, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	(void)sqlite3_db_config(c, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0,
	    (int *)NULL);
	if (busy_ms > 0)
		sqlite3_busy_timeout(c, busy_ms);
	f = xmalloc(sizeof *f);
	f->c = c;
	return f;
}

struct dbstmt *
dbfile_prepare(struct dbfile *f, const char *sql)
{
	struct sq_stmt *s;
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(f->c, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	s = xmalloc(sizeof *s);
	s->h.drv = &db_sqlite;
	s->st = st;
	s->heap = 1;
	return &s->h;
}

void
dbfile_bind_text(struct dbstmt *st, int idx, const char *s)
{
	(void)sqlite3_bind_text(sq(st), idx, s, -1, SQLITE_STATIC);
}

int
dbfile_step(struct dbstmt *st)
{
	int rc = sqlite3_step(sq(st));

	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void
dbfile_reset(struct dbstmt *st)
{
	sqlite3_reset(sq(st));
	sqlite3_clear_bindings(sq(st));
}

void
dbfile_finalize(struct dbstmt *st)
{
	sq_finalize(st);
}

enum dbfile_err
dbfile_error(struct dbfile *f)
{
	switch (sqlite3_extended_errcode(f->c) & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return DBF_OK;
	case SQLITE_NOTADB:
		return DBF_NOTADB;
	case SQLITE_CORRUPT:
		return DBF_CORRUPT;
	default:
		return DBF_OTHER;
	}
}

const char *
dbfile_errmsg(struct dbfile *f)
{
	return sqlite3_errmsg(f->c);
}

void
dbfile_close(struct dbfile *f)
{
	if (f == NULL)
		return;
	sqlite3_close_v2(f->c);
	free(f);
}
