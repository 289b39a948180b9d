/*
 * db-exports.c: the data layer of CSV exports: the jobs the API queues,
 * their claims by "parkctl exports" runs, and the pages of reservations
 * the CSV is written from.
 *
 * Two runs never process one job: a claim is taken in a BEGIN IMMEDIATE
 * transaction, and every later change of a job (progress, success,
 * failure) names the runner and changes nothing when the claim has passed
 * to another run (DB_NOTFOUND).  A run that dies leaves its claim to grow
 * stale; the next run takes the job over (attempts counts the runs).
 *
 * Reads of a job always name its owner (ASVS 8.2.2): another user's job is
 * DB_NOTFOUND, exactly like one that does not exist.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "db-int.h"

/* Reads a row of EXPORT_COLS. */
static void
job_row(struct pool *p, struct dbstmt *st, struct export_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = db_col_text(p, st, 0);
	j->user_id = db_col_int(st, 1);
	j->email = db_col_text(p, st, 2);
	j->state = db_col_text(p, st, 3);
	j->progress = db_col_int(st, 4);
	j->filename = db_col_text(p, st, 5);
	j->error = db_col_text(p, st, 6);
	j->attempts = db_col_int(st, 7);
	j->created_at = db_col_int(st, 8);
	j->updated_at = db_col_int(st, 9);
	j->finished_at = db_col_int(st, 10);
}

enum dbrc
db_export_add(const char *id, int64_t user, const char *email,
    int max_pending, int max_day, enum export_add *out)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();
	long long pending, today;

	*out = EXPORT_ADD_OK;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_EXPORT_USER_COUNTS)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, now - 86400);
	if ((rc = db_row(st)) != DB_OK)
		goto fail;
	pending = db_col_int(st, 0);
	today = db_col_int(st, 1);
	db_done(st);
	if (pending >= max_pending || today >= max_day) {
		*out = pending >= max_pending ? EXPORT_ADD_PENDING :
		    EXPORT_ADD_DAILY;
		db_rollback();
		return DB_OK;
	}
	if ((st = db_stmt(STMT_EXPORT_INSERT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, id);
	db_bind_int(st, 2, user);
	db_bind_text(st, 3, email);
	db_bind_int(st, 4, now);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	return db_commit();
fail:
	if (rc == DB_NOTFOUND)
		rc = DB_ERROR;
	db_rollback();
	return rc;
}

/* The job a statement finds by one text key and its owner. */
static enum dbrc
export_one(struct pool *p, enum stmt id, const char *key, int64_t user,
    struct export_job *j)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(id)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, key);
	db_bind_int(st, 2, user);
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	job_row(p, st, j);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_export_get(struct pool *p, const char *id, int64_t user,
    struct export_job *j)
{
	return export_one(p, STMT_EXPORT_GET, id, user, j);
}

enum dbrc
db_export_by_file(struct pool *p, const char *filename, int64_t user,
    struct export_job *j)
{
	return export_one(p, STMT_EXPORT_BY_FILE, filename, user, j);
}

enum dbrc
db_export_link_owner(const char *id, const char *filename, int64_t *user,
    int *active)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_EXPORT_LINK_OWNER)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, filename);
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	*user = db_col_int(st, 0);
	*active = db_col_int(st, 1);
	db_done(st);
	return DB_OK;
}

/* Runs a statement of the claim whose parameters are ?1 id, ?2 the
 * runner or now, ?3 now (when given). */
static enum dbrc
run_job(enum stmt s, const char *id, const char *runner, int64_t now)
{
	struct dbstmt *st;

	if ((st = db_stmt(s)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, id);
	if (runner != NULL) {
		db_bind_text(st, 2, runner);
		db_bind_int(st, 3, now);
	} else
		db_bind_int(st, 2, now);
	return db_run(st);
}

enum dbrc
db_export_claim(struct pool *p, const char *runner, int64_t stale_before,
    int max_attempts, struct export_job *j, int *found, int *gave_up)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();

	*found = *gave_up = 0;
	memset(j, 0, sizeof(*j));
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_EXPORT_NEXT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, stale_before);
	if ((rc = db_row(st)) == DB_NOTFOUND) {
		db_rollback();
		return DB_OK;
	}
	if (rc != DB_OK)
		goto fail;
	j->id = db_col_text(p, st, 0);
	j->user_id = db_col_int(st, 1);
	j->username = db_col_text(p, st, 2);
	j->email = db_col_text(p, st, 3);
	j->attempts = db_col_int(st, 4);
	j->user_active = db_col_int(st, 5);
	j->email_verified = db_col_int(st, 6);
	db_done(st);
	*found = 1;
	if (j->attempts >= max_attempts) {
		*gave_up = 1;
		rc = run_job(STMT_EXPORT_GIVE_UP, j->id, NULL, now);
	} else {
		j->attempts++;
		rc = run_job(STMT_EXPORT_CLAIM, j->id, runner, now);
	}
	if (rc != DB_OK)
		goto fail;
	return db_commit();
fail:
	*found = *gave_up = 0;
	db_rollback();
	return rc;
}

enum dbrc
db_export_progress(const char *id, const char *runner, int progress)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_EXPORT_PROGRESS)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, runner);
	db_bind_int(st, 3, progress);
	db_bind_int(st, 4, park_now());
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	return db_changes() == 1 ? DB_OK : DB_NOTFOUND;
}

enum dbrc
db_export_count(int64_t user, long long *n, int64_t *max_id)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_EXPORT_COUNT)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	if ((rc = db_row(st)) != DB_OK)
		return rc == DB_NOTFOUND ? DB_ERROR : rc;
	*n = db_col_int(st, 0);
	*max_id = db_col_int(st, 1);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_export_rows(struct pool *p, int64_t user, int64_t before, int limit,
    struct export_row **out, size_t *n)
{
	struct dbstmt *st;
	struct export_row *v;
	enum dbrc rc;

	*n = 0;
	*out = pool_alloc(p, (size_t)(limit > 0 ? limit : 1) * sizeof(**out));
	if ((st = db_stmt(STMT_EXPORT_ROWS)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, user);
	db_bind_int(st, 2, before);
	db_bind_int(st, 3, limit);
	/* One statement, read to its end: its read transaction ends with
	 * it, so a long export never holds a snapshot between pages (WAL
	 * checkpoints can go on). */
	while (db_next(st, &rc)) {
		if (*n >= (size_t)limit)
			continue;
		v = &(*out)[(*n)++];
		v->id = db_col_int(st, 0);
		v->spot_id = db_col_int(st, 1);
		v->spot_number = db_col_int(st, 2);
		v->lot_name = db_col_text(p, st, 3);
		v->lot_address = db_col_text(p, st, 4);
		v->parking_ts = db_col_int(st, 5);
		v->leaving_ts = db_col_int(st, 6);
		v->has_cost = !db_col_isnull(st, 7);
		v->cost_cents = db_col_int(st, 7);
		v->status = db_col_text(p, st, 8);
		v->remarks = db_col_text(p, st, 9);
		v->created_at = db_col_int(st, 10);
	}
	return rc;
}

enum dbrc
db_export_finish(const char *id, const char *runner, const char *filename,
    const struct mail *m)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_EXPORT_SUCCESS)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, runner);
	db_bind_text(st, 3, filename);
	db_bind_int(st, 4, park_now());
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	if (db_changes() != 1) {
		rc = DB_NOTFOUND; /* the claim went to another run */
		goto fail;
	}
	/* The mail exists exactly when the job succeeded. */
	if ((rc = db_outbox_add(m)) != DB_OK)
		goto fail;
	return db_commit();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_export_fail(const char *id, const char *runner, const char *why,
    int retry)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(retry ? STMT_EXPORT_RETRY : STMT_EXPORT_FAIL)) ==
	    NULL)
		return db_lasterr();
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, runner);
	db_bind_text(st, 3, why);
	db_bind_int(st, 4, park_now());
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	return db_changes() == 1 ? DB_OK : DB_NOTFOUND;
}

enum dbrc
db_export_old(struct pool *p, int64_t before, int cap,
    struct export_job **out, size_t *n)
{
	struct dbstmt *st;
	struct export_job *j;
	enum dbrc rc;

	*n = 0;
	*out = pool_alloc(p, (size_t)(cap > 0 ? cap : 1) * sizeof(**out));
	if ((st = db_stmt(STMT_EXPORT_OLD)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, before);
	db_bind_int(st, 2, cap);
	while (db_next(st, &rc)) {
		if (*n >= (size_t)cap)
			continue;
		j = &(*out)[(*n)++];
		j->id = db_col_text(p, st, 0);
		j->filename = db_col_text(p, st, 1);
	}
	return rc;
}

enum dbrc
db_export_delete(const char *id)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_EXPORT_DELETE)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, id);
	return db_run(st);
}

enum dbrc
db_export_checkpoint(void)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_EXPORT_CHECKPOINT)) == NULL)
		return db_lasterr();
	return db_run(st);
}
