/*
 * db-jobs.c: the data layer of the batch work: the mail outbox (every
 * e-mail is a row, written in the transaction that causes it, delivered
 * later by "parkctl mail") and the record of job runs.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "db-int.h"

/* 1 when s holds CR, LF or NUL-free text for a header: no C0 control. */
static int
header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

enum dbrc
db_outbox_add(const struct mail *m)
{
	struct dbstmt *st;

	/* libcurl 7.88 passes CR/LF in recipients into the SMTP dialogue
	 * (reliability.md F6): nothing of the kind is ever queued. */
	if (m->to == NULL || m->subject == NULL || m->text == NULL ||
	    m->idem_key == NULL || !header_safe(m->to) ||
	    !header_safe(m->subject) || !header_safe(m->idem_key))
		return DB_CONFLICT;
	if ((st = db_stmt(STMT_OUTBOX_ADD)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, m->idem_key);
	db_bind_text(st, 2, m->to);
	db_bind_text(st, 3, m->subject);
	db_bind_text(st, 4, m->text);
	db_bind_text(st, 5, m->html);
	db_bind_int(st, 6, park_now());
	return db_run(st);
}

/* The second key of each job's advisory lock ("park", n): sql/pg/README
 * keeps 1 (migrations) and 2 (the write lock). */
static const struct {
	const char *job;
	int key;
} job_keys[] = {
	{ "remind", 10 }, { "report", 11 }, { "tick", 12 },
	{ "cleanup", 13 }, { "backup", 14 },
};

/*
 * Several hosts share one PostgreSQL database, each with its timers: a
 * job's lock keeps two runs of one job from running at once (contract
 * section 5).  A session lock, pg_try_advisory_lock: held until this
 * process's connection closes, also when the process is killed (the
 * server ends the session), never waited for.  Were the connection lost
 * and made again mid-run, the lock would go with it: the run's work stays
 * correct by itself (each item is claimed in its own transaction,
 * batch.c), the lock only saves doing it twice at once.  SQLite: one
 * host, no lock (STMT_JOB_LOCK says 1).  Returns DB_OK (held or nothing
 * to hold), DB_BUSY (another run holds it), or the failure.
 */
enum dbrc
db_job_lock(const char *job)
{
	struct dbstmt *st;
	enum dbrc rc;
	size_t i;
	long long held;

	for (i = 0; i < sizeof job_keys / sizeof job_keys[0]; i++)
		if (strcmp(job_keys[i].job, job) == 0)
			break;
	if (i == sizeof job_keys / sizeof job_keys[0])
		return DB_OK;
	if ((st = db_stmt(STMT_JOB_LOCK)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, job_keys[i].key);
	if ((rc = db_row(st)) != DB_OK)
		return rc == DB_NOTFOUND ? DB_ERROR : rc;
	held = db_col_int(st, 0);
	db_done(st);
	return held ? DB_OK : DB_BUSY;
}

enum dbrc
db_job_start(const char *job, int64_t *id)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_JOB_START)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, job);
	db_bind_int(st, 2, park_now());
	if ((rc = db_run(st)) == DB_OK)
		*id = db_last_id();
	return rc;
}

enum dbrc
db_job_finish(int64_t id, long long items, long long errors,
    const char *status, const char *message)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_JOB_FINISH)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, park_now());
	db_bind_int(st, 2, items);
	db_bind_int(st, 3, errors);
	db_bind_text(st, 4, status);
	db_bind_text(st, 5, message);
	db_bind_int(st, 6, id);
	return db_run(st);
}

/* ---- delivery: claims and outcomes (mail.c runs them) ---- */

/* Copies text column i into the pool; sets *nul when it holds a NUL byte
 * (strings handed on are C strings: such a value would be cut short). */
static const char *
col_text(struct pool *pool, struct dbstmt *st, int i, int *nul)
{
	const char *s = db_col_str(st, i);
	int len = db_col_bytes(st, i);

	if (s == NULL)
		return NULL;
	if (memchr(s, '\0', (size_t)len) != NULL)
		*nul = 1;
	return pool_strndup(pool, (const char *)s, (size_t)len);
}

enum dbrc
db_outbox_claim(struct pool *pool, int64_t now, int64_t lease_end, int max,
    struct outbox_msg **out, size_t *n)
{
	struct outbox_msg *v;
	struct dbstmt *st;
	enum dbrc rc;
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	if (max < 1)
		return DB_OK;
	v = pool_alloc(pool, (size_t)max * sizeof(*v));
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_OUTBOX_DROP_STALE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, now);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	/* Read the whole batch first, then change it: updating rows under a
	 * running SELECT of the same index could meet a row twice. */
	if ((st = db_stmt(STMT_OUTBOX_DUE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, max);
	while (k < (size_t)max && db_next(st, &rc)) {
		struct outbox_msg *o = &v[k++];

		o->id = db_col_int(st, 0);
		o->reclaimed = db_col_int(st, 1);
		o->attempts = db_col_int(st, 2) + 1;
		o->m.idem_key = col_text(pool, st, 3, &o->has_nul);
		o->m.to = col_text(pool, st, 4, &o->has_nul);
		o->m.subject = col_text(pool, st, 5, &o->has_nul);
		o->m.text = col_text(pool, st, 6, &o->has_nul);
		o->m.html = col_text(pool, st, 7, &o->has_nul);
		o->claim = lease_end;
	}
	if (k == (size_t)max)
		db_done(st);
	else if (rc != DB_OK)
		goto fail;
	for (i = 0; i < k; i++) {
		if ((st = db_stmt(STMT_OUTBOX_CLAIM)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_int(st, 1, v[i].id);
		db_bind_int(st, 2, lease_end);
		db_bind_int(st, 3, now);
		if ((rc = db_run(st)) != DB_OK)
			goto fail;
		if (db_changes() != 1) {
			/* in our IMMEDIATE transaction nobody else writes */
			log_msg(LOG_ERR, "db: outbox %lld changed under a "
			    "claim", (long long)v[i].id);
			rc = DB_ERROR;
			goto fail;
		}
	}
	if ((rc = db_commit()) != DB_OK)
		return rc;
	*out = v;
	*n = k;
	return DB_OK;
fail:
	db_rollback();
	return rc;
}

/* Runs an outcome statement (?1 id, ?2 claim, ?3 t, ?4 why); DB_NOTFOUND
 * when the claim is no longer ours. */
static enum dbrc
outcome(enum stmt which, const struct outbox_msg *o, int64_t t,
    const char *why)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(which)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, o->id);
	db_bind_int(st, 2, o->claim);
	db_bind_int(st, 3, t);
	if (which == STMT_OUTBOX_RETRY || which == STMT_OUTBOX_FAIL)
		db_bind_text(st, 4, why);
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	return db_changes() == 1 ? DB_OK : DB_NOTFOUND;
}

enum dbrc
db_outbox_sent(const struct outbox_msg *o, int64_t now)
{
	return outcome(STMT_OUTBOX_SENT, o, now, NULL);
}

enum dbrc
db_outbox_retry(const struct outbox_msg *o, int64_t next, const char *why)
{
	return outcome(STMT_OUTBOX_RETRY, o, next, why);
}

enum dbrc
db_outbox_fail(const struct outbox_msg *o, int64_t now, const char *why)
{
	return outcome(STMT_OUTBOX_FAIL, o, now, why);
}

enum dbrc
db_outbox_release(const struct outbox_msg *o, int64_t due)
{
	return outcome(STMT_OUTBOX_RELEASE, o, due, NULL);
}
