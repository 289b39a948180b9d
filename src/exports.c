/*
 * exports.c: CSV exports of a user's reservations.
 *
 * The API queues a job (POST /api/user/export-csv) and answers at once;
 * "parkctl exports" (exports_run) writes the file and queues an e-mail
 * with a signed link; the owner reads the job's state, and downloads the
 * file with an access token or the link.
 *
 * Downloads never read a file: parkd checks the name and the owner, then
 * hands the file to nginx with X-Accel-Redirect to its internal
 * /_exports/ location (nginx/parkd.conf.in: alias EXPORT_FOLDER, symbolic
 * links refused).  Only names of the form parkctl makes
 * (exports_name_ok), found in a finished job of the caller, are ever
 * named: "../", "%2e%2e", NUL, slashes and absolute paths are refused
 * before any lookup (404), and another user's job or file is 404 too.
 *
 * Signed links (the e-mail's): "<task_id>.<exp>.<sig>" in ?token=, with
 * sig = base64url(HMAC-SHA256(key, "export:<task_id>:<filename>:<exp>"))
 * and key = HMAC-SHA256(JWT_SECRET_KEY, "parkd export-link key v1"), so a
 * link can never pass for a JWT nor the reverse.  A forged, altered or
 * expired link is 401; a valid link to a file deleted since is 404.  A
 * link works until it expires (PARKD_EXPORT_LINK_TTL_S), the file is
 * cleaned up (PARKD_EXPORT_RETENTION_DAYS) or the account is deactivated;
 * logging out does not end it.
 *
 * The batch job never holds a write transaction while it writes: it
 * claims a job (a short IMMEDIATE transaction), reads the reservations in
 * pages of autocommit reads (no snapshot is held between pages, so WAL
 * checkpoints go on), writes a temporary file that no download can name
 * (".tmp-..."), syncs it, renames it into place under a new name (never
 * over an existing file), then marks the job SUCCESS and queues the mail
 * in one transaction.  A write error removes the temporary file and puts
 * the job back (after EXPORT_MAX_ATTEMPTS runs it is a FAILURE): a
 * truncated file is never in place.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "park.h"

#define LINK_LABEL "parkd export-link key v1"
#define SIG_B64_LEN 43       /* 32 bytes in base64url without padding */
#define TMP_PREFIX ".tmp-"
#define WRITE_CHUNK (64 * 1024)
#define RENEW_MS 30000        /* a claim is renewed at least this often */

/* ---- names and links ---- */

static int
is_hex_lower(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

/* 1 when s is a task id: 32 lowercase hex digits. */
static int
task_id_ok(const char *s)
{
	return s != NULL && strlen(s) == 32 && is_hex_lower(s, 32);
}

int
exports_name_ok(const char *s)
{
	const char *p, *u;
	size_t n;

	if (s == NULL || strncmp(s, "parking_", 8) != 0)
		return 0;
	p = s + 8;
	if ((u = strchr(p, '_')) == NULL)
		return 0;
	n = (size_t)(u - p);
	if (n < 1 || n > 19 || p[0] == '0' || !is_digits(p, n))
		return 0;
	p = u + 1;
	if (strlen(p) != 14 + 1 + 6 + 4 || !is_digits(p, 14) || p[14] != '_' ||
	    !is_hex_lower(p + 15, 6) || strcmp(p + 21, ".csv") != 0)
		return 0;
	return 1;
}

/* 1 when s is a temporary name of exports_run: .tmp-<32 hex>-<8 hex>.csv */
static int
tmp_name_ok(const char *s)
{
	size_t n = strlen(TMP_PREFIX);

	return strncmp(s, TMP_PREFIX, n) == 0 && strlen(s) == n + 32 + 1 +
	    8 + 4 && is_hex_lower(s + n, 32) && s[n + 32] == '-' &&
	    is_hex_lower(s + n + 33, 8) && strcmp(s + n + 41, ".csv") == 0;
}

/* Appends the base64url form (no padding) of n bytes. */
static void
b64url(struct buf *b, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned long v;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		    p[i + 2];
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
		buf_putc(b, tab[v >> 6 & 63]);
		buf_putc(b, tab[v & 63]);
	}
	if (n - i == 1) {
		v = (unsigned long)p[i] << 16;
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
	} else if (n - i == 2) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8;
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
		buf_putc(b, tab[v >> 6 & 63]);
	}
}

/* Appends the signature of a link to out. */
static void
link_sig(const char *task_id, const char *filename, const char *exp,
    struct buf *out)
{
	static const char label[] = LINK_LABEL;
	const char *secret = conf.jwt_secret_key;
	unsigned char key[32], mac[32];
	struct buf msg = { 0 };

	if (secret == NULL || *secret == '\0')
		fatal("exports: JWT_SECRET_KEY is empty");
	hmac_sha256(secret, strlen(secret), label, sizeof(label) - 1, key);
	buf_printf(&msg, "export:%s:%s:%s", task_id, filename, exp);
	hmac_sha256(key, sizeof(key), msg.p, msg.len, mac);
	b64url(out, mac, sizeof(mac));
	buf_free(&msg);
}

void
exports_link_token(const char *task_id, const char *filename, int64_t exp,
    struct buf *out)
{
	char e[24];

	snprintf(e, sizeof(e), "%lld", (long long)exp);
	buf_printf(out, "%s.%s.", task_id, e);
	link_sig(task_id, filename, e, out);
}

enum tokerr
exports_link_check(const char *tok, const char *filename, char task_id[33])
{
	struct buf want = { 0 };
	const char *dot1, *dot2;
	char exp[24];
	size_t n;
	enum tokerr r = TOK_INVALID;
	long long e;

	task_id[0] = '\0';
	if (tok == NULL || !exports_name_ok(filename) || strlen(tok) > 128)
		return TOK_INVALID;
	dot1 = tok + 32;
	if (strlen(tok) < 34 || *dot1 != '.' || !is_hex_lower(tok, 32))
		return TOK_INVALID;
	if ((dot2 = strchr(dot1 + 1, '.')) == NULL)
		return TOK_INVALID;
	n = (size_t)(dot2 - dot1 - 1);
	if (n < 1 || n > 12 || dot1[1] == '0' || !is_digits(dot1 + 1, n) ||
	    strlen(dot2 + 1) != SIG_B64_LEN)
		return TOK_INVALID;
	memcpy(exp, dot1 + 1, n);
	exp[n] = '\0';
	memcpy(task_id, tok, 32);
	task_id[32] = '\0';
	link_sig(task_id, filename, exp, &want);
	/* The signature first, in constant time; the expiry only then, so a
	 * forged link never learns more than "invalid". */
	if (want.len == SIG_B64_LEN &&
	    ct_memcmp(want.p, dot2 + 1, SIG_B64_LEN) == 0) {
		e = strtoll(exp, NULL, 10);
		r = park_now() < e ? TOK_OK : TOK_EXPIRED;
	}
	buf_free(&want);
	if (r != TOK_OK && r != TOK_EXPIRED)
		task_id[0] = '\0';
	return r;
}

/* The public download URL of a file, with a fresh signed link token. */
static char *
download_url(struct pool *p, const char *task_id, const char *filename)
{
	struct buf b = { 0 };
	char *s;

	buf_printf(&b, "%s/api/user/download-csv/%s?token=", conf.backend_url,
	    filename);
	exports_link_token(task_id, filename, park_now() +
	    conf.export_link_ttl_s, &b);
	s = pool_strdup(p, b.p);
	buf_free(&b);
	return s;
}

/* ---- the API ---- */

enum { EXP_EMAIL };

/*
 * POST /api/user/export-csv {email?}: queues an export of the caller's
 * reservations and answers at once with its task id and the address the
 * e-mail with the link will go to: always the account's own (the run
 * reads it again, so a changed address is followed).  email, still
 * accepted (validated like register's) for the old clients that send
 * their own, is never a recipient: another address is ignored, and the
 * answer says so (email_ignored), as the link opens the caller's history.
 * A user may have EXPORT_MAX_PENDING jobs queued or running and make
 * EXPORT_MAX_PER_DAY requests in 24 hours; past either, 429 EXPORT_LIMIT
 * with Retry-After.  With REQUIRE_EMAIL_VERIFICATION on, an unverified
 * address is 403 EMAIL_NOT_VERIFIED.
 * Statuses: 200, 400, 401, 403, 429, 503.
 */
void
exports_request(struct req *r, struct resp *w)
{
	const struct val *em = &r->in[EXP_EMAIL];
	const char *email = r->who.email;
	enum export_add how;
	enum dbrc rc;
	struct jw jw;
	char id[33];
	int ignored;

	if (*email == '\0') {
		resp_error(w, 400, "VALIDATION", "Invalid input");
		resp_detail(w, "email", "the account has no address to send "
		    "the export to");
		return;
	}
	/* REQUIRE_EMAIL_VERIFICATION: the file's link goes only to an
	 * address proven to be the account's (read only when it is on). */
	if (conf.require_email_verification) {
		struct user u;

		if ((rc = db_user_get(&r->pool, r->who.user_id, &u)) !=
		    DB_OK) {
			db_to_http(rc, w);
			return;
		}
		if (!u.email_verified) {
			resp_error(w, 403, "EMAIL_NOT_VERIFIED",
			    "Verify your e-mail address first: exports are "
			    "sent only to verified addresses");
			return;
		}
	}
	/* Both lower-case: valid_email() folds, the schema stores so. */
	ignored = em->set && !em->null && em->s != NULL &&
	    strcmp(em->s, email) != 0;
	rand_hex(id, 16);
	rc = db_export_add(id, r->who.user_id, email, EXPORT_MAX_PENDING,
	    EXPORT_MAX_PER_DAY, &how);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (how != EXPORT_ADD_OK) {
		resp_error(w, 429, "EXPORT_LIMIT", how == EXPORT_ADD_PENDING ?
		    pool_printf(&r->pool, "You already have %d exports "
		    "waiting; try again when one is done",
		    EXPORT_MAX_PENDING) :
		    pool_printf(&r->pool, "At most %d exports a day; try "
		    "again later", EXPORT_MAX_PER_DAY));
		resp_header(w, "Retry-After",
		    how == EXPORT_ADD_PENDING ? "60" : "3600");
		return;
	}
	/* The user id and the job, never the addresses (personal data). */
	if (ignored)
		log_msg(LOG_INFO, "security: export %s of user %lld: the "
		    "address asked for is ignored; the link goes to the "
		    "account's own", id, (long long)r->who.user_id);
	resp_ok(w, ignored ? pool_printf(&r->pool, "Export queued; the file "
	    "will be e-mailed to your account's address, %s, when ready "
	    "(exports go to no other address)", email) :
	    pool_printf(&r->pool, "Export queued; the file will be e-mailed "
	    "to %s when ready", email), &jw);
	jw_obj(&jw, NULL);
	jw_str(&jw, "task_id", id);
	jw_str(&jw, "state", "PENDING");
	jw_str(&jw, "email", email);
	jw_bool(&jw, "email_ignored", ignored);
	jw_obj_end(&jw);
}

/*
 * GET /api/user/export-status/{s}: the caller's job {task_id, state,
 * progress, filename, download_url, error, created_at, finished_at}.
 * filename and download_url (with a fresh signed link) are set only on
 * SUCCESS; error on FAILURE, or while a failed attempt waits for a retry.
 * A malformed id, an unknown one and another user's are all 404.
 * Statuses: 200, 401, 403, 404, 503.
 */
void
exports_status(struct req *r, struct resp *w)
{
	const char *id = r->pstr[0];
	struct export_job j;
	enum dbrc rc;
	struct jw jw;
	int ok;

	if (!task_id_ok(id)) {
		resp_error(w, 404, "NOT_FOUND", "Export not found");
		return;
	}
	rc = db_export_get(&r->pool, id, r->who.user_id, &j);
	if (rc == DB_NOTFOUND) {
		resp_error(w, 404, "NOT_FOUND", "Export not found");
		return;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	ok = strcmp(j.state, "SUCCESS") == 0 && j.filename != NULL;
	resp_ok(w, "Export status", &jw);
	jw_obj(&jw, NULL);
	jw_str(&jw, "task_id", j.id);
	jw_str(&jw, "state", j.state);
	jw_int(&jw, "progress", j.progress);
	jw_str(&jw, "filename", ok ? j.filename : NULL);
	jw_str(&jw, "download_url", ok ? download_url(&r->pool, j.id,
	    j.filename) : NULL);
	jw_str(&jw, "error", ok ? NULL : j.error);
	jw_time(&jw, "created_at", j.created_at);
	jw_time(&jw, "finished_at", j.finished_at);
	jw_obj_end(&jw);
}

/*
 * GET /api/user/download-csv/{s}: the caller's export file, by the owner's
 * access token or a signed link (the route's access is AC_LINK).  parkd
 * sends no body: X-Accel-Redirect makes nginx serve the file from its
 * internal location, keeping our Content-Type and Content-Disposition.
 * A name parkctl never makes, an unknown file and another user's are 404.
 * Statuses: 200, 401, 403, 404, 503.
 */
void
exports_download(struct req *r, struct resp *w)
{
	const char *name = r->pstr[0];
	struct export_job j;
	enum dbrc rc;
	char *safe;
	size_t i;

	if (!exports_name_ok(name)) {
		resp_error(w, 404, "NOT_FOUND", "File not found");
		return;
	}
	rc = db_export_by_file(&r->pool, name, r->who.user_id, &j);
	if (rc == DB_NOTFOUND) {
		resp_error(w, 404, "NOT_FOUND", "File not found");
		return;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	/* The name is one of ours (letters, digits, '_' and '.'); the
	 * header gets a copy that could hold nothing else anyway. */
	safe = pool_strdup(&r->pool, name);
	for (i = 0; safe[i] != '\0'; i++)
		if (!((safe[i] >= 'a' && safe[i] <= 'z') ||
		    (safe[i] >= 'A' && safe[i] <= 'Z') ||
		    (safe[i] >= '0' && safe[i] <= '9') || safe[i] == '.' ||
		    safe[i] == '_' || safe[i] == '-'))
			safe[i] = '_';
	w->status = 200;
	w->no_body = 1;
	resp_header(w, "X-Accel-Redirect", pool_printf(&r->pool,
	    "/_exports/%s", name));
	resp_header(w, "Content-Type", "text/csv; charset=utf-8");
	resp_header(w, "Content-Disposition", pool_printf(&r->pool,
	    "attachment; filename=\"%s\"", safe));
}

/* ---- the batch job ---- */

/* What became of one job. */
enum outcome {
	OUT_DONE,   /* SUCCESS, mail queued */
	OUT_FAILED, /* FAILURE */
	OUT_RETRY,  /* put back after a file error: stop the run */
	OUT_LOST,   /* another run took it over: nothing recorded */
	OUT_DB,     /* the database failed: stop the run */
};

struct run {
	struct exports_run *o;
	int dirfd;
	char runner[96];  /* host:pid:random, names this run's claims */
	struct pool pool; /* the claimed job's strings */
	struct pool page; /* a page of rows, then the e-mail */
};

static volatile sig_atomic_t stop_asked;

static void
on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

/* Writes all of b to fd; 0, or -1 with errno set. */
static int
write_all(int fd, struct buf *b)
{
	size_t off = 0;
	ssize_t n;

	while (off < b->len) {
		n = write(fd, b->p + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		off += (size_t)n;
	}
	buf_reset(b);
	return 0;
}

static void
pause_ms(int ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* Moves tmp to name in the folder, never replacing a file (or link) that
 * is there; 0, or -1 with errno set. */
static int
move_into_place(int dirfd, const char *tmp, const char *name)
{
#ifdef RENAME_NOREPLACE
	if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	/* Without renameat2: link (fails on an existing name), unlink. */
	if (linkat(dirfd, tmp, dirfd, name, 0) == -1)
		return -1;
	(void)unlinkat(dirfd, tmp, 0);
	return 0;
}

/* Appends s with & < > " ' as HTML character references. */
static void
html_escape(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&#39;"); break;
		default: buf_putc(b, *s); break;
		}
	}
}

/* Fills the e-mail of a finished export (strings in the run's pool). */
static void
make_mail(struct run *c, const struct export_job *j, const char *name,
    long long rows, struct mail *m)
{
	struct buf link = { 0 }, html = { 0 };
	char until[32];
	int64_t exp = park_now() + conf.export_link_ttl_s;
	const char *who = j->username != NULL ? j->username : "there";

	buf_printf(&link, "%s/api/user/download-csv/%s?token=",
	    conf.backend_url, name);
	exports_link_token(j->id, name, exp, &link);
	time_iso(exp, until);

	memset(m, 0, sizeof(*m));
	m->idem_key = pool_printf(&c->page, "export:%s", j->id);
	m->to = j->email;
	m->subject = "Your parking history export is ready";
	m->text = pool_printf(&c->page,
	    "Hello %s,\r\n\r\n"
	    "Your export of %lld reservation%s (CSV) is ready.  Download it "
	    "here:\r\n\r\n%s\r\n\r\n"
	    "The link works until %s; the file is kept for %d days.\r\n"
	    "If you did not ask for this export, you can ignore this "
	    "message.\r\n",
	    who, rows, rows == 1 ? "" : "s", link.p, until,
	    conf.export_retention_days);
	buf_puts(&html, "<!DOCTYPE html><html><body style=\"font-family: "
	    "sans-serif\"><p>Hello ");
	html_escape(&html, who);
	buf_printf(&html, ",</p><p>Your export of %lld reservation%s (CSV) "
	    "is ready.</p><p><a href=\"", rows, rows == 1 ? "" : "s");
	html_escape(&html, link.p);
	buf_puts(&html, "\">Download the CSV file</a></p><p>The link works "
	    "until ");
	html_escape(&html, until);
	buf_printf(&html, "; the file is kept for %d days.  If you did not "
	    "ask for this export, you can ignore this message.</p>"
	    "</body></html>\r\n", conf.export_retention_days);
	m->html = pool_strdup(&c->page, html.p);
	buf_free(&link);
	buf_free(&html);
}

/*
 * Records a failure of job j (why), as FAILURE or put back for a later
 * run (retry).  Returns the outcome to report.
 */
static enum outcome
job_fail(struct run *c, const struct export_job *j, const char *why,
    int retry)
{
	enum dbrc rc;

	log_msg(LOG_ERR, "exports: job %s (user %lld, attempt %d): %s%s",
	    j->id, (long long)j->user_id, j->attempts, why,
	    retry ? "; will retry" : "");
	rc = db_export_fail(j->id, c->runner, why, retry);
	if (rc == DB_NOTFOUND)
		return OUT_LOST;
	if (rc != DB_OK)
		return OUT_DB;
	return retry ? OUT_RETRY : OUT_FAILED;
}

/* Exports one claimed job.  Returns what became of it. */
static enum outcome
job_export(struct run *c, const struct export_job *j)
{
	struct export_row *rows;
	struct buf b = { 0 };
	struct mail m;
	struct tm tm;
	time_t t = (time_t)park_now();
	long long total, written = 0;
	int64_t before, renewed = park_ms();
	size_t i, n;
	enum dbrc rc;
	int fd = -1, created = 0, pct, last_pct = 0, err;
	char tmp[64], name[80], stamp[16], rnd[9], tail[7];
	const char *what = "";

	/* A link to a deactivated account's file would not open. */
	if (!j->user_active)
		return job_fail(c, j, "The account is deactivated", 0);
	/* The mail goes to the account's address as it is now: with
	 * REQUIRE_EMAIL_VERIFICATION on, only once it is proven theirs (it
	 * may have changed since the job was queued).  Failed, not held: a
	 * held job would stay at the head of the queue; the user asks again
	 * once verified. */
	if (conf.require_email_verification && !j->email_verified)
		return job_fail(c, j, "Not sent: the account's e-mail address "
		    "is not verified; verify it, then ask for the export "
		    "again", 0);
	if ((rc = db_export_count(j->user_id, &total, &before)) != DB_OK)
		goto db_fail;
	if (total > EXPORT_MAX_ROWS)
		return job_fail(c, j, pool_printf(&c->pool, "Too many "
		    "reservations to export (%lld; at most %d)", total,
		    EXPORT_MAX_ROWS), 0);
	before++;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	rand_hex(tail, 3);
	rand_hex(rnd, 4);
	snprintf(name, sizeof(name), "parking_%lld_%s_%s.csv",
	    (long long)j->user_id, stamp, tail);
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s-%s.csv", j->id, rnd);

	/* A name no download can ask for (it starts with a dot), created
	 * here and now: never an existing file, never through a link. */
	what = "cannot create the export file";
	fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (fd == -1)
		goto file_fail;
	created = 1;
	/* nginx (group parkd-web, the folder's) reads it; the umask may
	 * not allow that. */
	if (fchmod(fd, 0640) == -1)
		goto file_fail;

	what = "cannot write the export file";
	csv_export_header(&b);
	for (;;) {
		if (stop_asked) {
			err = EINTR;
			what = "the export run was stopped";
			goto file_fail_err;
		}
		pool_reset(&c->page);
		rc = db_export_rows(&c->page, j->user_id, before,
		    EXPORT_PAGE_ROWS, &rows, &n);
		if (rc != DB_OK)
			goto db_fail;
		for (i = 0; i < n; i++)
			csv_export_row(&b, &rows[i]);
		written += (long long)n;
		if (n > 0)
			before = rows[n - 1].id;
		if (b.len >= WRITE_CHUNK && write_all(fd, &b) == -1)
			goto file_fail;
		if (n < EXPORT_PAGE_ROWS)
			break;
		/* Progress, which also renews the claim: when it changes,
		 * and at least every RENEW_MS however slow the pages. */
		pct = total > 0 ? (int)(written * 100 / total) : 0;
		if (pct > 99)
			pct = 99;
		if (pct != last_pct || park_ms() - renewed >= RENEW_MS) {
			rc = db_export_progress(j->id, c->runner, pct);
			if (rc == DB_NOTFOUND)
				goto lost;
			if (rc != DB_OK)
				goto db_fail;
			last_pct = pct;
			renewed = park_ms();
		}
		pause_ms(c->o->pause_ms);
	}
	if (write_all(fd, &b) == -1 || fsync(fd) == -1)
		goto file_fail;
	err = close(fd);
	fd = -1;
	if (err == -1)
		goto file_fail;
	what = "cannot move the export file into place";
	if (move_into_place(c->dirfd, tmp, name) == -1)
		goto file_fail;
	/* The rename itself must reach the disk before the job says
	 * SUCCESS. */
	if (fsync(c->dirfd) == -1 && errno != EINVAL) {
		err = errno;
		(void)unlinkat(c->dirfd, name, 0);
		errno = err;
		goto file_fail;
	}

	pool_reset(&c->page);
	make_mail(c, j, name, written, &m);
	rc = db_export_finish(j->id, c->runner, name, &m);
	if (rc != DB_OK) {
		/* Not SUCCESS: the file would name nothing. */
		(void)unlinkat(c->dirfd, name, 0);
		if (rc == DB_NOTFOUND) {
			log_msg(LOG_WARN, "exports: job %s was taken over by "
			    "another run", j->id);
			buf_free(&b);
			return OUT_LOST;
		}
		goto db_fail;
	}
	log_msg(LOG_INFO, "exports: job %s (user %lld): %lld rows in %s",
	    j->id, (long long)j->user_id, written, name);
	buf_free(&b);
	return OUT_DONE;

db_fail:
	/* Give the job back at once rather than after the claim goes
	 * stale; if even that fails, the next run takes it over later. */
	if (fd != -1)
		close(fd);
	if (created)
		(void)unlinkat(c->dirfd, tmp, 0);
	buf_free(&b);
	(void)db_export_fail(j->id, c->runner,
	    "The database was unavailable", 1);
	return OUT_DB;

file_fail:
	err = errno;
file_fail_err:
	/* Never a partial file in place: the temporary one goes. */
	if (fd != -1)
		close(fd);
	if (created)
		(void)unlinkat(c->dirfd, tmp, 0);
	buf_free(&b);
	return job_fail(c, j, pool_printf(&c->pool, "%s: %s", what,
	    strerror(err)), 1);

lost:
	close(fd);
	(void)unlinkat(c->dirfd, tmp, 0);
	buf_free(&b);
	log_msg(LOG_WARN, "exports: job %s was taken over by another run",
	    j->id);
	return OUT_LOST;
}

/* Opens EXPORT_FOLDER (creating it, mode 0750, when missing); the fd, or
 * -1 (logged). */
static int
folder_open(int create)
{
	int fd;

	fd = open(conf.export_folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create &&
	    mkdir(conf.export_folder, 0750) == 0)
		fd = open(conf.export_folder, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	if (fd == -1 && (errno != ENOENT || create))
		log_msg(LOG_ERR, "exports: EXPORT_FOLDER %s: %s",
		    conf.export_folder, strerror(errno));
	return fd;
}

/*
 * Deletes the regular files of the folder that are export files (when
 * exports != 0) or temporary files, and older than before.  Returns the
 * number deleted, or -1 when the folder cannot be read (logged).
 */
static long long
sweep(int dirfd, int64_t before, int exports)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	long long n = 0;
	int fd;

	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_msg(LOG_ERR, "exports: cannot read %s: %s",
		    conf.export_folder, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (!tmp_name_ok(e->d_name) &&
		    !(exports && exports_name_ok(e->d_name)))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || (int64_t)st.st_mtime >= before)
			continue;
		if (unlinkat(dirfd, e->d_name, 0) == 0)
			n++;
		else if (errno != ENOENT)
			log_msg(LOG_ERR, "exports: cannot delete %s/%s: %s",
			    conf.export_folder, e->d_name, strerror(errno));
	}
	closedir(d);
	return n;
}

int
exports_run(struct exports_run *o)
{
	struct sigaction sa, old_term, old_int;
	struct export_job j;
	struct run c;
	char host[48], rnd[9];
	int64_t run_id = 0;
	long long claimed = 0;
	enum dbrc rc;
	int found, gave_up, ret = 0, stop = 0;

	o->done = o->failed = o->retry = 0;
	o->message[0] = '\0';
	if (o->stale_after_s <= 0)
		o->stale_after_s = EXPORT_STALE_S;
	memset(&c, 0, sizeof(c));
	c.o = o;
	if (db_job_start("exports", &run_id) != DB_OK) {
		snprintf(o->message, sizeof(o->message),
		    "cannot record the run in the database");
		return -1;
	}
	if ((c.dirfd = folder_open(1)) == -1) {
		snprintf(o->message, sizeof(o->message), "cannot open the "
		    "export folder %s", conf.export_folder);
		(void)db_job_finish(run_id, 0, 0, "failed", o->message);
		return -1;
	}
	/* Temporary files of runs that died (their claims are stale by the
	 * same measure: a live run writes at every page). */
	(void)sweep(c.dirfd, park_now() - o->stale_after_s, 0);

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	rand_hex(rnd, 4);
	snprintf(c.runner, sizeof(c.runner), "%s:%ld:%s", host,
	    (long)getpid(), rnd);

	/* SIGTERM (systemd stopping the unit) or SIGINT: finish the page,
	 * remove the temporary file and give the job back. */
	stop_asked = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART; /* only the pause between pages is cut */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGINT, &sa, &old_int);

	while (!stop && !stop_asked &&
	    (o->max_jobs <= 0 || claimed < o->max_jobs)) {
		pool_reset(&c.pool);
		rc = db_export_claim(&c.pool, c.runner, park_now() -
		    o->stale_after_s, EXPORT_MAX_ATTEMPTS, &j, &found,
		    &gave_up);
		if (rc != DB_OK) {
			ret = -1;
			break;
		}
		if (!found)
			break;
		claimed++;
		if (gave_up) {
			log_msg(LOG_ERR, "exports: job %s (user %lld) failed "
			    "%d times: given up", j.id, (long long)j.user_id,
			    j.attempts);
			o->failed++;
			continue;
		}
		switch (job_export(&c, &j)) {
		case OUT_DONE:
			o->done++;
			break;
		case OUT_FAILED:
			o->failed++;
			break;
		case OUT_RETRY:
			o->retry++;
			stop = 1; /* the folder is likely to fail the next too */
			break;
		case OUT_LOST:
			break;
		case OUT_DB:
			o->retry++;
			ret = -1;
			stop = 1;
			break;
		}
	}
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	if (o->done > 0)
		(void)db_export_checkpoint();
	close(c.dirfd);
	pool_free(&c.pool);
	pool_free(&c.page);

	if (ret == 0 && (o->failed > 0 || o->retry > 0 || stop_asked))
		ret = 1;
	snprintf(o->message, sizeof(o->message), "%lld exported, %lld failed, "
	    "%lld to retry%s%s", o->done, o->failed, o->retry,
	    ret == -1 ? "; the database failed" : "",
	    stop_asked ? "; stopped by a signal" : "");
	(void)db_job_finish(run_id, o->done, o->failed + o->retry,
	    ret == 0 ? "ok" : "failed", o->message);
	return ret;
}

int
exports_cleanup(int64_t older_than, long long *files, long long *rows)
{
	struct export_job *jobs;
	struct pool pool = { 0 };
	size_t i, n;
	long long swept;
	enum dbrc rc;
	int dirfd, ret = 0;
	const int cap = 200;

	*files = *rows = 0;
	dirfd = folder_open(0);
	if (dirfd == -1 && errno != ENOENT)
		ret = -1;
	do {
		pool_reset(&pool);
		if ((rc = db_export_old(&pool, older_than, cap, &jobs, &n)) !=
		    DB_OK) {
			ret = -1;
			break;
		}
		for (i = 0; i < n; i++) {
			/* The file first: a row without its file is a 404,
			 * a file without its row an orphan swept below. */
			if (dirfd != -1 && jobs[i].filename != NULL &&
			    exports_name_ok(jobs[i].filename)) {
				if (unlinkat(dirfd, jobs[i].filename, 0) == 0)
					(*files)++;
				else if (errno != ENOENT) {
					log_msg(LOG_ERR, "exports: cannot "
					    "delete %s/%s: %s",
					    conf.export_folder,
					    jobs[i].filename, strerror(errno));
					ret = -1;
				}
			}
			if ((rc = db_export_delete(jobs[i].id)) != DB_OK) {
				ret = -1;
				break;
			}
			(*rows)++;
		}
	} while (rc == DB_OK && n == (size_t)cap);
	if (dirfd != -1) {
		/* Files no row names any more: those of killed runs. */
		if ((swept = sweep(dirfd, older_than, 1)) < 0)
			ret = -1;
		else
			*files += swept;
		close(dirfd);
	}
	pool_free(&pool);
	return ret;
}
