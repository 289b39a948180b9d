/*
 * db-batch.c: the data layer of parkctl's daily and monthly jobs
 * (reminders, reports), of the cleanup of old rows, and of the backup.
 *
 * "Once per user per day (month)" is a primary key: reminders_sent and
 * reports_sent.  The _mark functions insert that row inside the caller's
 * write transaction, together with the outbox row (db_outbox_add), so a
 * run killed at any point, or two runs at once, can never queue one
 * message twice: either both rows exist or neither does.
 *
 * The backup's check uses a second connection, read-only, to the copy (a
 * struct dbfile); its SQL still comes from the statement table (db_sql()).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "db-int.h"

/* The most problems of integrity_check a backup check reports. */
#define CHECK_MAX_PROBLEMS 5

enum dbrc
db_batch_new_lots(struct pool *p, int64_t since, int64_t until, size_t cap,
    struct lot **out, size_t *n)
{
	struct dbstmt *st;
	struct lot *l;
	enum dbrc rc;

	*n = 0;
	*out = pool_alloc(p, (cap > 0 ? cap : 1) * sizeof(**out));
	if ((st = db_stmt(STMT_BATCH_NEW_LOTS)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, since);
	db_bind_int(st, 2, until);
	db_bind_int(st, 3, (long long)cap);
	while (db_next(st, &rc)) {
		if (*n >= cap) {
			db_done(st);
			break;
		}
		l = &(*out)[(*n)++];
		l->id = db_col_int(st, 0);
		l->name = db_col_text(p, st, 1);
		l->address = db_col_text(p, st, 2);
		l->number_of_spots = db_col_int(st, 3);
		l->occupied = db_col_int(st, 4);
		l->price_cents = db_col_int(st, 5);
		l->is_active = 1;
	}
	return rc;
}

enum dbrc
db_batch_free_spots(long long *spots, long long *lots)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_BATCH_FREE_SPOTS)) == NULL)
		return db_lasterr();
	if ((rc = db_row(st)) != DB_OK)
		return rc == DB_NOTFOUND ? DB_ERROR : rc;
	*spots = db_col_int(st, 0);
	*lots = db_col_int(st, 1);
	db_done(st);
	return DB_OK;
}

/* Reads the rows of a _DUE statement (id, username, email[, last booking,
 * created]) into *out (cap of them at most). */
static enum dbrc
read_users(struct pool *p, struct dbstmt *st, int with_times, size_t cap,
    struct batch_user **out, size_t *n)
{
	struct batch_user *u;
	enum dbrc rc;

	*n = 0;
	*out = pool_alloc(p, (cap > 0 ? cap : 1) * sizeof(**out));
	while (db_next(st, &rc)) {
		if (*n >= cap) {
			db_done(st);
			break;
		}
		u = &(*out)[(*n)++];
		u->id = db_col_int(st, 0);
		u->username = db_col_text(p, st, 1);
		u->email = db_col_text(p, st, 2);
		if (with_times) {
			u->last_booking = db_col_int(st, 3);
			u->created_at = db_col_int(st, 4);
		}
	}
	return rc;
}

enum dbrc
db_batch_remind_due(struct pool *p, int64_t after, const char *day,
    int64_t idle_before, int everyone, size_t cap, struct batch_user **out,
    size_t *n)
{
	struct dbstmt *st;

	*n = 0;
	if ((st = db_stmt(STMT_BATCH_REMIND_DUE)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, after);
	db_bind_text(st, 2, day);
	db_bind_int(st, 3, idle_before);
	db_bind_int(st, 4, everyone != 0);
	db_bind_int(st, 5, (long long)cap);
	/* REQUIRE_EMAIL_VERIFICATION: verified addresses only */
	db_bind_int(st, 6, conf.require_email_verification);
	return read_users(p, st, 1, cap, out, n);
}

enum dbrc
db_batch_remind_mark(int64_t user, const char *day, int64_t idle_before,
    int everyone, int *fresh)
{
	struct dbstmt *st;
	enum dbrc rc;

	*fresh = 0;
	if ((st = db_stmt(STMT_BATCH_REMIND_MARK)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	db_bind_text(st, 2, day);
	db_bind_int(st, 3, idle_before);
	db_bind_int(st, 4, everyone != 0);
	db_bind_int(st, 5, conf.require_email_verification);
	if ((rc = db_run(st)) == DB_OK)
		*fresh = db_changes() == 1;
	return rc;
}

enum dbrc
db_batch_report_due(struct pool *p, int64_t after, const char *month,
    int64_t from, int64_t to, size_t cap, struct batch_user **out, size_t *n)
{
	struct dbstmt *st;

	*n = 0;
	if ((st = db_stmt(STMT_BATCH_REPORT_DUE)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, after);
	db_bind_text(st, 2, month);
	db_bind_int(st, 3, from);
	db_bind_int(st, 4, to);
	db_bind_int(st, 5, (long long)cap);
	db_bind_int(st, 6, conf.require_email_verification);
	return read_users(p, st, 0, cap, out, n);
}

enum dbrc
db_batch_report_resv(struct pool *p, int64_t user, int64_t from, int64_t to,
    struct resv **out, size_t *n)
{
	struct dbstmt *st;
	struct resv *grown;
	size_t cap = 16;
	enum dbrc rc;

	*n = 0;
	*out = pool_alloc(p, cap * sizeof(**out));
	if ((st = db_stmt(STMT_BATCH_REPORT_RESV)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, from);
	db_bind_int(st, 3, to);
	while (db_next(st, &rc)) {
		if (*n == cap) {
			/* The pool keeps the old array: a report is one
			 * user's month, so the waste stays small. */
			grown = pool_alloc(p, 2 * cap * sizeof(**out));
			memcpy(grown, *out, cap * sizeof(**out));
			*out = grown;
			cap *= 2;
		}
		db_resv_row(p, st, &(*out)[(*n)++]);
	}
	return rc;
}

enum dbrc
db_batch_report_mark(int64_t user, const char *month, int *fresh)
{
	struct dbstmt *st;
	enum dbrc rc;

	*fresh = 0;
	if ((st = db_stmt(STMT_BATCH_REPORT_MARK)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	db_bind_text(st, 2, month);
	db_bind_int(st, 3, conf.require_email_verification);
	if ((rc = db_run(st)) == DB_OK)
		*fresh = db_changes() == 1;
	return rc;
}

enum dbrc
db_batch_clean(enum batch_clean what, int64_t before, const char *day_before,
    int cap, long long *n)
{
	static const enum stmt ids[] = {
		[CLEAN_OUTBOX] = STMT_BATCH_CLEAN_OUTBOX,
		[CLEAN_LOGIN_FAILURES] = STMT_BATCH_CLEAN_LOGIN_FAILURES,
		[CLEAN_SESSIONS] = STMT_BATCH_CLEAN_SESSIONS,
		[CLEAN_JOB_RUNS] = STMT_BATCH_CLEAN_JOB_RUNS,
		[CLEAN_REMINDERS] = STMT_BATCH_CLEAN_REMINDERS,
		[CLEAN_STALE_RUNS] = STMT_BATCH_STALE_RUNS,
		[CLEAN_TOKENS] = STMT_BATCH_CLEAN_TOKENS,
		[CLEAN_RECOVERY] = STMT_BATCH_CLEAN_RECOVERY,
	};
	struct dbstmt *st;
	enum dbrc rc;

	*n = 0;
	if ((unsigned)what >= sizeof ids / sizeof ids[0])
		return DB_ERROR;
	/* One statement, but in BEGIN IMMEDIATE like every write, so the
	 * busy policy is the same everywhere. */
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(ids[what])) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	if (what == CLEAN_REMINDERS)
		db_bind_text(st, 1, day_before);
	else
		db_bind_int(st, 1, before);
	if (what != CLEAN_STALE_RUNS)
		db_bind_int(st, 2, cap);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	*n = db_changes();
	if ((rc = db_commit()) != DB_OK)
		*n = 0;
	return rc;

fail:
	db_rollback();
	return rc;
}

enum dbrc
db_batch_checkpoint(int *busy, long long *frames)
{
	struct dbstmt *st;
	enum dbrc rc;

	*busy = 0;
	*frames = 0;
	if ((st = db_stmt(STMT_BATCH_CHECKPOINT)) == NULL)
		return db_lasterr();
	if ((rc = db_row(st)) != DB_OK)
		return rc == DB_NOTFOUND ? DB_ERROR : rc;
	/* (busy, frames in the WAL, frames checkpointed); -1 when the
	 * database is not in WAL mode */
	*busy = db_col_int(st, 0) != 0;
	*frames = db_col_int(st, 1);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_batch_vacuum_into(const char *path)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_BATCH_VACUUM_INTO)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, path);
	return db_run(st);
}

enum dbrc
db_batch_check_copy(const char *path, struct buf *problem, int *version)
{
	struct dbfile *c = NULL;
	struct dbstmt *st = NULL;
	struct buf why = { 0 };
	const char *t;
	enum dbrc r;
	int rc, rows = 0;

	*version = -1;
	/* A separate read-only connection: the copy is never written, and
	 * this process's connection stays on the live database. */
	if ((c = dbfile_open(path, 0, &why)) == NULL) {
		log_msg(LOG_ERR, "db: cannot open the copy %s: %s", path,
		    why.p != NULL ? why.p : "?");
		buf_free(&why);
		r = DB_UNAVAILABLE;
		goto out;
	}

	if ((st = dbfile_prepare(c, db_sql(STMT_BATCH_INTEGRITY))) == NULL)
		goto sqlfail;
	r = DB_OK;
	while ((rc = dbfile_step(st)) == 1) {
		t = db_col_str(st, 0);
		if (rows == 0 && t != NULL &&
		    strcmp((const char *)t, "ok") == 0)
			continue;
		r = DB_CONFLICT;
		if (rows++ < CHECK_MAX_PROBLEMS) {
			if (problem->len > 0)
				buf_puts(problem, "; ");
			buf_puts(problem, t != NULL ? (const char *)t : "?");
		}
	}
	if (rc != 0)
		goto sqlfail;
	dbfile_finalize(st);
	st = NULL;

	if ((st = dbfile_prepare(c, db_sql(STMT_VERSION_GET))) == NULL)
		goto sqlfail;
	if (dbfile_step(st) != 1)
		goto sqlfail;
	*version = (int)db_col_int(st, 0);
	goto out;

sqlfail:
	log_msg(LOG_ERR, "db: checking the copy %s: %s", path,
	    dbfile_errmsg(c));
	if (problem->len == 0)
		buf_puts(problem, dbfile_errmsg(c));
	r = DB_UNAVAILABLE;
out:
	dbfile_finalize(st);
	dbfile_close(c);
	return r;
}
