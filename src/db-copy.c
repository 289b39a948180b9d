/*
 * db-copy.c: "parkctl db copy --to postgresql://...": moves a site from
 * SQLite to PostgreSQL (issue #17).  The SQLite database of DATABASE_URL
 * is read on a connection of its own, read-only, in one read transaction
 * (struct dbfile of db-sqlite.c: one snapshot, the site may keep running
 * while it is read); the target is this process's connection, opened
 * with the PostgreSQL driver (db_open()) and migrated.  Every table of
 * the schema is copied with its ids, in one write transaction, through
 * the statement table's STMT_COPY_* rows (READ on the source, WRITE on
 * the target: the same columns, bound as they were read); then
 * parkd_sync_ids() moves the sequences past the ids, and the SUMS of each
 * table (row counts, sums of ids, money, times, and the counters the
 * reservations' triggers rebuilt on the target) must be equal on both
 * engines before the transaction commits.  A target with any row in any
 * table is refused: the copy never merges.
 *
 * What the triggers keep is not copied but rebuilt: the users' and lots'
 * counters, lots.occupied, a spot's status; the SUMS check that the
 * rebuilt values are the source's.  A lot's version (the key of the
 * copies Redis holds) is then set back to the source's, so that a cached
 * answer stays right for the same data.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "db-int.h"

/* The most SUMS columns a table has. */
#define COPY_MAX_SUMS 8
/* How long the source's read waits for a writer of the live site (ms). */
#define COPY_BUSY_MS 10000

/* One table: its statements, the columns of READ (the parameters of
 * WRITE) and of SUMS, and what each SUMS column is, for messages. */
struct copy_table {
	const char *name;
	enum stmt read, write, sums;
	int ncols, nsums;
	const char *what[COPY_MAX_SUMS];
};

/* In foreign-key order: users and lots before what names them. */
static const struct copy_table tables[] = {
	{ "users", STMT_COPY_USERS_READ, STMT_COPY_USERS_WRITE,
	    STMT_COPY_USERS_SUMS, 12, 7, { "rows", "sum of ids",
	    "money spent", "seconds parked", "reservations finished",
	    "cancelled and no-shows", "length of the password hashes" } },
	{ "lots", STMT_COPY_LOTS_READ, STMT_COPY_LOTS_WRITE,
	    STMT_COPY_LOTS_SUMS, 14, 7, { "rows", "sum of ids",
	    "spots occupied", "reservations counted",
	    "cancelled, reserved and no-shows", "prices", "versions" } },
	{ "spots", STMT_COPY_SPOTS_READ, STMT_COPY_SPOTS_WRITE,
	    STMT_COPY_SPOTS_SUMS, 4, 5, { "rows", "sum of ids",
	    "sum of spot numbers", "spots occupied", "spots removed" } },
	{ "reservations", STMT_COPY_RESV_READ, STMT_COPY_RESV_WRITE,
	    STMT_COPY_RESV_SUMS, 20, 6, { "rows", "sum of ids",
	    "sum of cost_cents", "sum of parking times", "active",
	    "sum of hold starts" } },
	{ "sessions", STMT_COPY_SESSIONS_READ, STMT_COPY_SESSIONS_WRITE,
	    STMT_COPY_SESSIONS_SUMS, 16, 4, { "rows", "sum of user ids",
	    "sum of expiry times", "not revoked" } },
	{ "login_failures", STMT_COPY_LOGIN_FAILURES_READ,
	    STMT_COPY_LOGIN_FAILURES_WRITE, STMT_COPY_LOGIN_FAILURES_SUMS, 4,
	    3, { "rows", "sum of ids", "sum of times" } },
	{ "account_tokens", STMT_COPY_TOKENS_READ, STMT_COPY_TOKENS_WRITE,
	    STMT_COPY_TOKENS_SUMS, 7, 4, { "rows", "sum of user ids",
	    "sum of expiry times", "unused" } },
	{ "recovery_requests", STMT_COPY_RECOVERY_READ,
	    STMT_COPY_RECOVERY_WRITE, STMT_COPY_RECOVERY_SUMS, 3, 3,
	    { "rows", "sum of ids", "sum of times" } },
	{ "export_jobs", STMT_COPY_EXPORTS_READ, STMT_COPY_EXPORTS_WRITE,
	    STMT_COPY_EXPORTS_SUMS, 13, 4, { "rows", "sum of user ids",
	    "sum of progress", "sum of attempts" } },
	{ "outbox", STMT_COPY_OUTBOX_READ, STMT_COPY_OUTBOX_WRITE,
	    STMT_COPY_OUTBOX_SUMS, 12, 4, { "rows", "sum of ids",
	    "sum of attempts", "length of the bodies" } },
	{ "job_runs", STMT_COPY_JOB_RUNS_READ, STMT_COPY_JOB_RUNS_WRITE,
	    STMT_COPY_JOB_RUNS_SUMS, 8, 4, { "rows", "sum of ids",
	    "sum of items", "sum of errors" } },
	{ "reminders_sent", STMT_COPY_REMINDERS_READ,
	    STMT_COPY_REMINDERS_WRITE, STMT_COPY_REMINDERS_SUMS, 2, 2,
	    { "rows", "sum of user ids" } },
	{ "reports_sent", STMT_COPY_REPORTS_READ, STMT_COPY_REPORTS_WRITE,
	    STMT_COPY_REPORTS_SUMS, 2, 2, { "rows", "sum of user ids" } },
	{ "cache_gen", STMT_COPY_CACHE_GEN_READ, STMT_COPY_CACHE_GEN_WRITE,
	    STMT_COPY_CACHE_GEN_SUMS, 2, 2, { "rows", "sum of generations" } },
	{ "import_map", STMT_COPY_IMPORT_MAP_READ, STMT_COPY_IMPORT_MAP_WRITE,
	    STMT_COPY_IMPORT_MAP_SUMS, 4, 3, { "rows", "sum of old ids",
	    "sum of new ids" } },
};
#define NTABLES (sizeof tables / sizeof tables[0])

struct sums {
	long long v[COPY_MAX_SUMS];
};

/* Reads table t's SUMS on the source f into s.  Returns 0, or -1 with the
 * reason in err. */
static int
src_sums(struct dbfile *f, const struct copy_table *t, struct sums *s,
    struct buf *err)
{
	struct dbstmt *st;
	int i, rc;

	if ((st = dbfile_prepare(f, db_sql(t->sums))) == NULL ||
	    (rc = dbfile_step(st)) != 1) {
		buf_printf(err, "reading %s of the source: %s", t->name,
		    dbfile_errmsg(f));
		dbfile_finalize(st);
		return -1;
	}
	for (i = 0; i < t->nsums; i++)
		s->v[i] = db_col_int(st, i);
	dbfile_finalize(st);
	return 0;
}

/* Reads table t's SUMS on the target into s.  Returns DB_OK or the
 * failure (logged). */
static enum dbrc
dst_sums(const struct copy_table *t, struct sums *s)
{
	struct dbstmt *st;
	enum dbrc r;
	int i;

	if ((st = db_stmt(t->sums)) == NULL)
		return db_lasterr();
	if ((r = db_row(st)) != DB_OK)
		return r == DB_NOTFOUND ? DB_ERROR : r;
	for (i = 0; i < t->nsums; i++)
		s->v[i] = db_col_int(st, i);
	db_done(st);
	return DB_OK;
}

/* Copies table t's rows from f to the target, inside the write
 * transaction; *rows counts them.  Returns 0, or -1 with the reason in
 * err. */
static int
copy_rows(struct dbfile *f, const struct copy_table *t, long long *rows,
    struct buf *err)
{
	struct dbstmt *src, *dst;
	enum dbrc r;
	int i, step;

	*rows = 0;
	if ((src = dbfile_prepare(f, db_sql(t->read))) == NULL) {
		buf_printf(err, "reading %s of the source: %s", t->name,
		    dbfile_errmsg(f));
		return -1;
	}
	while ((step = dbfile_step(src)) == 1) {
		if ((dst = db_stmt(t->write)) == NULL) {
			r = db_lasterr();
			goto fail;
		}
		for (i = 0; i < t->ncols; i++) {
			switch (db_col_type(src, i)) {
			case DBT_NULL:
				db_bind_null(dst, i + 1);
				break;
			case DBT_INT:
				db_bind_int(dst, i + 1, db_col_int(src, i));
				break;
			case DBT_TEXT:
				db_bind_textn(dst, i + 1, db_col_str(src, i),
				    db_col_bytes(src, i));
				break;
			default:
				buf_printf(err, "%s: row %lld, column %d: "
				    "neither a number nor text", t->name,
				    *rows + 1, i + 1);
				dbfile_finalize(src);
				return -1;
			}
		}
		if ((r = db_run(dst)) != DB_OK)
			goto fail;
		(*rows)++;
	}
	if (step != 0) {
		buf_printf(err, "reading %s of the source: %s", t->name,
		    dbfile_errmsg(f));
		dbfile_finalize(src);
		return -1;
	}
	dbfile_finalize(src);
	return 0;

fail:
	buf_printf(err, "writing %s, row %lld (its first column %s): %s",
	    t->name, *rows + 1, db_col_str(src, 0) != NULL ?
	    db_col_str(src, 0) : "NULL", r == DB_CONFLICT ?
	    "a constraint of the target refused it" : "failed");
	dbfile_finalize(src);
	return -1;
}

/* Puts back each lot's version as the source has it (the reservations'
 * triggers moved it on the way).  Returns 0, or -1 with err. */
static int
copy_lot_versions(struct dbfile *f, struct buf *err)
{
	const struct copy_table *t = &tables[1];
	struct dbstmt *src, *dst;
	int step;

	if ((src = dbfile_prepare(f, db_sql(t->read))) == NULL) {
		buf_printf(err, "reading lots of the source: %s",
		    dbfile_errmsg(f));
		return -1;
	}
	/* READ of lots: the id first, the version last */
	while ((step = dbfile_step(src)) == 1) {
		if ((dst = db_stmt(STMT_COPY_LOT_VERSION)) == NULL)
			break;
		db_bind_int(dst, 1, db_col_int(src, 0));
		db_bind_int(dst, 2, db_col_int(src, t->ncols - 1));
		if (db_run(dst) != DB_OK)
			break;
	}
	dbfile_finalize(src);
	if (step != 0) {
		buf_puts(err, "setting the lots' versions failed");
		return -1;
	}
	return 0;
}

/* Compares the SUMS of every table: 0 when all are equal, else -1 with
 * each difference in err (read on the target in the open transaction). */
static int
check_sums(const struct sums *src, struct buf *err)
{
	struct sums dst;
	size_t k;
	int i, bad = 0;

	for (k = 0; k < NTABLES; k++) {
		if (dst_sums(&tables[k], &dst) != DB_OK) {
			buf_printf(err, "%sreading %s of the target failed",
			    bad++ ? "; " : "", tables[k].name);
			continue;
		}
		for (i = 0; i < tables[k].nsums; i++) {
			if (dst.v[i] == src[k].v[i])
				continue;
			buf_printf(err, "%s%s: %s %lld on the source, %lld on "
			    "the copy", bad++ ? "; " : "", tables[k].name,
			    tables[k].what[i], src[k].v[i], dst.v[i]);
		}
	}
	return bad ? -1 : 0;
}

enum copy_rc
db_copy(const struct copy_opts *o, struct buf *out, struct buf *err)
{
	struct sums src[NTABLES], dst;
	struct dbfile *f = NULL;
	struct dbstmt *st;
	struct buf why = { 0 };
	enum copy_rc rc = COPY_FAILED;
	long long rows, total = 0;
	size_t k;
	int v, latest, busy = 0;

	if (db_path_is_pg(conf.db_path)) {
		buf_puts(err, "DATABASE_URL is already PostgreSQL: the source "
		    "must be an SQLite database");
		return COPY_REFUSED;
	}
	if (o->to == NULL || !db_path_is_pg(o->to)) {
		buf_puts(err, "--to must be a postgresql:// URI");
		return COPY_REFUSED;
	}

	/* The source: one read transaction, one snapshot for every table. */
	if ((f = dbfile_open(conf.db_path, COPY_BUSY_MS, &why)) == NULL) {
		buf_printf(err, "cannot open %s: %s",
		    db_path_shown(conf.db_path), why.p != NULL ? why.p : "?");
		buf_free(&why);
		return COPY_FAILED;
	}
	if ((st = dbfile_prepare(f, db_sql(STMT_BEGIN_READ))) == NULL ||
	    dbfile_step(st) != 0) {
		buf_printf(err, "reading the source: %s", dbfile_errmsg(f));
		dbfile_finalize(st);
		goto out;
	}
	dbfile_finalize(st);
	if ((st = dbfile_prepare(f, db_sql(STMT_VERSION_GET))) == NULL ||
	    dbfile_step(st) != 1) {
		buf_printf(err, "reading the source: %s", dbfile_errmsg(f));
		dbfile_finalize(st);
		goto out;
	}
	v = (int)db_col_int(st, 0);
	dbfile_finalize(st);
	if (v != (int)sql_nmigrations) {
		buf_printf(err, "the source has schema version %d, not %d: "
		    "run \"parkctl db migrate\" on it first (or use the "
		    "parkctl of its version)", v, (int)sql_nmigrations);
		rc = COPY_REFUSED;
		goto out;
	}
	for (k = 0; k < NTABLES; k++)
		if (src_sums(f, &tables[k], &src[k], err) != 0)
			goto out;

	/* The target: migrated (a dry run changes nothing: it says so). */
	if (db_open(o->to, !o->dry_run) != DB_OK) {
		buf_printf(err, "cannot open %s%s (see the log above)",
		    db_path_shown(o->to), o->dry_run ? "" : " or migrate it");
		goto out;
	}
	latest = db_version_latest();
	v = db_version();
	if (o->dry_run && v < latest)
		buf_printf(out, "the target is at schema version %d: it would "
		    "be migrated to %d first\n", v, latest);
	if (v == latest) {
		for (k = 0; k < NTABLES; k++) {
			/* cache_gen: the migration's own row */
			if (tables[k].read == STMT_COPY_CACHE_GEN_READ)
				continue;
			if (dst_sums(&tables[k], &dst) != DB_OK) {
				buf_printf(err, "reading %s of the target "
				    "failed (see the log above)",
				    tables[k].name);
				goto out;
			}
			if (dst.v[0] == 0)
				continue;
			buf_printf(err, "%s%s %lld rows", busy++ ? ", " :
			    "the target is not empty: ", tables[k].name,
			    dst.v[0]);
		}
		if (busy) {
			buf_puts(err, "; a copy goes into an empty database "
			    "only");
			rc = COPY_REFUSED;
			goto out;
		}
	} else if (v > latest || !o->dry_run) {
		buf_printf(err, "the target has schema version %d, not %d", v,
		    latest);
		rc = COPY_REFUSED;
		goto out;
	}

	if (o->dry_run) {
		for (k = 0; k < NTABLES; k++) {
			buf_printf(out, "%-18s %lld rows would be copied\n",
			    tables[k].name, src[k].v[0]);
			total += src[k].v[0];
		}
		buf_printf(out, "dry run: %lld rows in %zu tables from %s to "
		    "%s; nothing was written\n", total, NTABLES,
		    db_path_shown(conf.db_path), db_path_shown(o->to));
		rc = COPY_OK;
		goto out;
	}

	if (db_begin() != DB_OK) {
		buf_puts(err, "cannot begin the write transaction on the "
		    "target (see the log above)");
		goto out;
	}
	for (k = 0; k < NTABLES; k++) {
		if (copy_rows(f, &tables[k], &rows, err) != 0)
			goto rollback;
		buf_printf(out, "%-18s %lld rows\n", tables[k].name, rows);
		total += rows;
	}
	if (copy_lot_versions(f, err) != 0)
		goto rollback;
	if (db_run(db_stmt(STMT_COPY_SYNC_IDS)) != DB_OK) {
		buf_puts(err, "parkd_sync_ids() failed (see the log above)");
		goto rollback;
	}
	if (check_sums(src, err) != 0) {
		buf_puts(err, ": the copy does not match its source");
		goto rollback;
	}
	if (db_commit() != DB_OK) {
		buf_puts(err, "the commit failed (see the log above)");
		goto out;
	}
	buf_printf(out, "copied %lld rows in %zu tables from %s to %s; the "
	    "counts and sums of every table match\n", total, NTABLES,
	    db_path_shown(conf.db_path), db_path_shown(o->to));
	rc = COPY_OK;
	goto out;

rollback:
	db_rollback();
	out->len = 0;
	if (out->p != NULL)
		out->p[0] = '\0';
out:
	dbfile_close(f);
	return rc;
}
