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
	sqlite3_stmt *st;

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

enum dbrc
db_job_start(const char *job, int64_t *id)
{
	sqlite3_stmt *st;
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
	sqlite3_stmt *st;

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
