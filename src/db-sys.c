/*
 * db-sys.c: whole-database operations of parkctl: loading the sample data
 * and counting what the database holds (with the newest run of each
 * batch job).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "db-int.h"

/* Every table, children before parents, so deleting in this order never
 * trips a foreign key. */
static const enum stmt reset_order[] = {
	STMT_RESET_REMINDERS,
	STMT_RESET_REPORTS,
	STMT_RESET_OUTBOX,
	STMT_RESET_JOB_RUNS,
	STMT_RESET_EXPORTS,
	STMT_RESET_LOGIN_FAILURES,
	STMT_RESET_TOKENS,
	STMT_RESET_RECOVERY,
	STMT_RESET_SESSIONS,
	STMT_RESET_RESERVATIONS,
	STMT_RESET_SPOTS,
	STMT_RESET_LOTS,
	STMT_RESET_USERS,
};

static enum dbrc db_stats_jobs(struct db_stats *);

/*
 * Empties every table and loads the embedded sample data, in one write
 * transaction: readers see either the old data or the sample, never a
 * mixture.  Returns DB_OK or the failure (nothing changed then).
 */
enum dbrc
db_reset_sample(void)
{
	enum dbrc r;
	size_t i;

	if ((r = db_begin()) != DB_OK)
		return r;
	for (i = 0; i < sizeof reset_order / sizeof reset_order[0]; i++) {
		if ((r = db_run(db_stmt(reset_order[i]))) != DB_OK)
			goto fail;
	}
	if ((r = db_exec_script(db_sample(), "sample.sql")) != DB_OK)
		goto fail;
	/* Everything changed: no cached read may survive. */
	if ((r = db_gen_bump("lots")) != DB_OK)
		goto fail;
	return db_commit();

fail:
	db_rollback();
	return r;
}

/* Copies column i of st as text into out (cut to size; "" for NULL). */
static void
col_copy(struct dbstmt *st, int i, char *out, size_t size)
{
	const char *t = db_col_str(st, i);

	snprintf(out, size, "%s", t != NULL ? (const char *)t : "");
}

/* Fills s->jobs with the newest run of each job, by name.  Returns DB_OK
 * or the failure. */
static enum dbrc
db_stats_jobs(struct db_stats *s)
{
	struct db_job_last *j;
	struct dbstmt *st;
	enum dbrc r;

	if ((st = db_stmt(STMT_STATS_JOBS)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, DB_STATS_JOBS);
	while (db_next(st, &r)) {
		if (s->njobs >= DB_STATS_JOBS) {
			db_done(st);
			break;
		}
		j = &s->jobs[s->njobs++];
		col_copy(st, 0, j->job, sizeof j->job);
		j->started_at = db_col_int(st, 1);
		j->finished_at = db_col_int(st, 2);
		j->items = db_col_int(st, 3);
		j->errors = db_col_int(st, 4);
		col_copy(st, 5, j->status, sizeof j->status);
		col_copy(st, 6, j->message, sizeof j->message);
	}
	return r;
}

/*
 * Fills s with the counts "parkctl db stats" shows, read in one read
 * transaction so they agree with each other.  Lots and spots count those
 * not deleted or removed.  Returns DB_OK or the failure.
 */
enum dbrc
db_stats_get(struct db_stats *s)
{
	struct dbstmt *st;
	const char *status;
	long long n;
	enum dbrc r;

	memset(s, 0, sizeof *s);
	if ((r = db_run(db_stmt(STMT_BEGIN_READ))) != DB_OK)
		return r;
	if ((r = db_row_ints(db_stmt(STMT_STATS_USERS), &s->users,
	    &s->users_active, NULL)) != DB_OK ||
	    (r = db_row_ints(db_stmt(STMT_STATS_LOTS), &s->lots, NULL,
	    NULL)) != DB_OK ||
	    (r = db_row_ints(db_stmt(STMT_STATS_SPOTS), &s->spots,
	    &s->spots_free, &s->spots_occupied)) != DB_OK ||
	    (r = db_row_ints(db_stmt(STMT_STATS_EXPORTS),
	    &s->exports_pending, NULL, NULL)) != DB_OK ||
	    (r = db_row_ints(db_stmt(STMT_STATS_OUTBOX), &s->outbox_queued,
	    NULL, NULL)) != DB_OK)
		goto out;

	if ((st = db_stmt(STMT_STATS_RESERVATIONS)) == NULL) {
		r = db_lasterr();
		goto out;
	}
	while (db_next(st, &r)) {
		status = db_col_str(st, 0);
		n = db_col_int(st, 1);
		if (status == NULL)
			continue;
		if (strcmp(status, "active") == 0)
			s->resv_active = n;
		else if (strcmp(status, "completed") == 0)
			s->resv_completed = n;
		else if (strcmp(status, "cancelled") == 0)
			s->resv_cancelled = n;
	}
	if (r != DB_OK)
		goto out;
	r = db_stats_jobs(s);

out:
	/* A read transaction: ending it either way changes nothing. */
	db_rollback();
	return r;
}

/*
 * Reads what a scrape of GET /metrics shows of the database: per lot one
 * row (the counts and totals the triggers keep on it), the queues' live
 * states from their state indexes and the others from metrics_counts,
 * and each job's last good run from job_runs_ok: a few hundred row reads
 * with 100 lots, however much history is kept (bench/RESULTS.md).
 */
enum dbrc
db_metrics_get(struct pool *p, const char *const *jobs, size_t njobs,
    struct db_metrics *m)
{
	struct dbstmt *st;
	struct db_metrics_lot *l;
	size_t cap = 16, i;
	enum dbrc r;

	memset(m, 0, sizeof *m);
	if (njobs > DB_METRICS_JOBS)
		njobs = DB_METRICS_JOBS;
	if ((r = db_begin_read()) != DB_OK)
		return r;
	if ((st = db_stmt(STMT_METRICS_LOTS)) == NULL) {
		r = db_lasterr();
		goto out;
	}
	m->lots = pool_alloc(p, cap * sizeof *m->lots);
	while (db_next(st, &r)) {
		if (m->nlots == cap) {
			l = pool_alloc(p, 2 * cap * sizeof *l);
			memcpy(l, m->lots, cap * sizeof *l);
			m->lots = l;
			cap *= 2;
		}
		m->no_shows += db_col_int(st, 5);
		m->revenue_cents += db_col_int(st, 6);
		if (db_col_int(st, 4) != 0)
			continue; /* deleted: its totals only */
		l = &m->lots[m->nlots++];
		l->id = db_col_int(st, 0);
		l->free = db_col_int(st, 1);
		l->active = db_col_int(st, 2);
		l->upcoming = db_col_int(st, 3);
	}
	if (r != DB_OK)
		goto out;
	if ((st = db_stmt(STMT_METRICS_QUEUES)) == NULL) {
		r = db_lasterr();
		goto out;
	}
	if ((r = db_row(st)) != DB_OK)
		goto out;
	m->outbox_queued = db_col_int(st, 0);
	m->outbox_sending = db_col_int(st, 1);
	m->outbox_sent = db_col_int(st, 2);
	m->outbox_failed = db_col_int(st, 3);
	m->exports_pending = db_col_int(st, 4);
	m->exports_progress = db_col_int(st, 5);
	m->exports_success = db_col_int(st, 6);
	m->exports_failure = db_col_int(st, 7);
	db_done(st);
	for (i = 0; i < njobs; i++) {
		if ((st = db_stmt(STMT_METRICS_JOB_OK)) == NULL) {
			r = db_lasterr();
			goto out;
		}
		db_bind_text(st, 1, jobs[i]);
		if ((r = db_row(st)) == DB_NOTFOUND) {
			r = DB_OK;
			continue;
		}
		if (r != DB_OK)
			goto out;
		m->job_ok[i] = db_col_int(st, 0);
		db_done(st);
	}
out:
	/* A read transaction: ending it either way changes nothing. */
	db_end_read();
	return r;
}
