/*
 * batch.c: the jobs of parkctl that write to users (remind, report) and
 * that look after the database (cleanup, backup).
 *
 * How the jobs stay safe when systemd starts one twice, when two overlap,
 * or when one is killed at any point (reliability.md rows 5 and 27):
 * - Work is claimed in short BEGIN IMMEDIATE transactions of at most
 *   --chunk users (default 100): the row that says "done"
 *   (reminders_sent, reports_sent) and the outbox row of the e-mail are
 *   written together, after the conditions were checked again inside the
 *   transaction.  A run killed midway loses only its open transaction; a
 *   second run finds the rows of the first and skips those users.  The
 *   outbox's idem_key ("remind:<uid>:<day>", "report:<uid>:<YYYY-MM>")
 *   would refuse a duplicate even then.  No lock file is needed.
 * - The API is never starved: the reads (who is due, the month's data,
 *   rendering) happen outside the write transactions, which only insert.
 * - A chunk that meets SQLITE_BUSY past the busy timeout is tried again a
 *   few times, then the run stops as failed; a rerun picks up the rest.
 *
 * Dates are UTC: a reminder's day is today's date in UTC (only today's
 * reminder is ever sent, so a day missed is never made up later), and a
 * report's month runs from the 1st 00:00:00 UTC to the next month's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "park.h"

#define DAY 86400
/* Users per write transaction unless --chunk says otherwise. */
#define BATCH_CHUNK 100
/* Attempts of one chunk that found the database busy. */
#define BATCH_TRIES 3
/* New lots a reminder names, at most. */
#define REMIND_MAX_LOTS 10
/* Reservations a report lists, at most (its numbers count them all). */
#define REPORT_MAX_ROWS 200
/* Rows cleanup deletes per transaction. */
#define CLEAN_CHUNK 500
/* What cleanup keeps, in days (login failures: PARKD_LOGIN_WINDOW_S). */
#define KEEP_OUTBOX_DAYS 30
#define KEEP_SESSIONS_DAYS 30
#define KEEP_JOB_RUNS_DAYS 90
#define KEEP_REMINDERS_DAYS 90
/* A run still "running" after this long has lost its process. */
#define STALE_RUN_S DAY

/* The colours of the report: a bar, and the text shades. */
#define C_BAR "#2563eb"
#define C_TRACK "#e5e7eb"
#define C_TEXT "#111827"
#define C_MUTED "#4b5563"
#define C_PAGE "#f3f4f6"
#define C_HEAD "#f9fafb"
#define FONT "Arial,Helvetica,sans-serif"

static const char *const weekday_names[7] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Sunday",
};
static const char *const month_names[12] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};

/* ---- pure helpers ---- */

/* Returns the value of n decimal digits at s, or -1. */
static int
digits(const char *s, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

int
batch_month_parse(const char *s, int *y, int *m)
{
	int yy, mm;

	if (s == NULL || strlen(s) != 7 || s[4] != '-' ||
	    (yy = digits(s, 4)) < 1970 || (mm = digits(s + 5, 2)) < 1 ||
	    mm > 12)
		return -1;
	*y = yy;
	*m = mm;
	return 0;
}

void
batch_month_prev(int64_t t, int *y, int *m)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	*y = tm.tm_year + 1900;
	*m = tm.tm_mon; /* tm_mon is 0-based: this is already "minus one" */
	if (*m == 0) {
		*m = 12;
		(*y)--;
	}
}

void
batch_month_range(int y, int m, int64_t *from, int64_t *to)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = 1;
	*from = (int64_t)timegm(&tm);
	if (m == 12) {
		tm.tm_year++;
		tm.tm_mon = 0;
	} else {
		tm.tm_mon++;
	}
	*to = (int64_t)timegm(&tm);
}

int
batch_weekday(int64_t t)
{
	int64_t days = t >= 0 ? t / DAY : (t - DAY + 1) / DAY;

	/* 1970-01-01 was a Thursday (3 when Monday is 0). */
	return (int)(((days % 7) + 7 + 3) % 7);
}

void
batch_html_escape(struct buf *b, const char *s)
{
	const char *run;

	if (s == NULL)
		return;
	for (run = s; *s != '\0'; s++) {
		const char *ent;

		switch (*s) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		buf_add(b, run, (size_t)(s - run));
		buf_puts(b, ent);
		run = s + 1;
	}
	buf_add(b, run, (size_t)(s - run));
}

/* "YYYY-MM-DD" of t (UTC) into out[16]. */
static void
day_str(int64_t t, char *out)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	snprintf(out, 16, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000,
	    (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
}

/* "YYYY-MM-DD HH:MM" of t (UTC). */
static void
put_time(struct buf *b, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	buf_printf(b, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/* Cents as "12.50". */
static void
put_money(struct buf *b, long long cents)
{
	buf_printf(b, "%s%lld.%02lld", cents < 0 ? "-" : "",
	    llabs(cents) / 100, llabs(cents) % 100);
}

/* Seconds as "3h 05m". */
static void
put_dur(struct buf *b, long long s)
{
	if (s < 0)
		s = 0;
	buf_printf(b, "%lldh %02lldm", s / 3600, s % 3600 / 60);
}

/* ---- the monthly report ---- */

/* Most bookings first, then most time, then by name. */
static int
lot_cmp(const void *a, const void *b)
{
	const struct report_lot *x = a, *y = b;

	if (x->bookings != y->bookings)
		return x->bookings > y->bookings ? -1 : 1;
	if (x->seconds != y->seconds)
		return x->seconds > y->seconds ? -1 : 1;
	return strcmp(x->name != NULL ? x->name : "",
	    y->name != NULL ? y->name : "");
}

void
batch_report_compute(struct report *r, struct pool *p)
{
	const struct resv *v;
	struct report_lot *l;
	long long d;
	int64_t end;
	size_t i, j;
	int w;

	r->bookings = r->seconds = r->cents = r->avg_seconds = 0;
	r->no_shows = r->no_show_cents = 0;
	memset(r->weekdays, 0, sizeof r->weekdays);
	r->lots = pool_alloc(p, (r->nrows > 0 ? r->nrows : 1) *
	    sizeof(*r->lots));
	r->nlots = 0;
	for (i = 0; i < r->nrows; i++) {
		v = &r->rows[i];
		/* a reservation still active counts up to now */
		end = v->leaving_ts > 0 ? v->leaving_ts : r->now;
		d = end > v->parking_ts ? end - v->parking_ts : 0;
		r->bookings++;
		r->seconds += d;
		if (v->has_cost)
			r->cents += v->cost_cents;
		if (v->status != NULL && strcmp(v->status, "no_show") == 0) {
			r->no_shows++;
			r->no_show_cents += v->cost_cents;
		}
		r->weekdays[batch_weekday(v->parking_ts)]++;
		for (j = 0; j < r->nlots; j++) {
			if (r->lots[j].lot_id == v->lot_id)
				break;
		}
		l = &r->lots[j];
		if (j == r->nlots) {
			r->nlots++;
			l->lot_id = v->lot_id;
			l->name = v->lot_name;
		}
		l->bookings++;
		l->seconds += d;
		if (v->has_cost)
			l->cents += v->cost_cents;
	}
	if (r->bookings > 0)
		r->avg_seconds = r->seconds / r->bookings;
	qsort(r->lots, r->nlots, sizeof(*r->lots), lot_cmp);
	r->busiest = 0;
	for (w = 1; w < 7; w++) {
		if (r->weekdays[w] > r->weekdays[r->busiest])
			r->busiest = w;
	}
}

/* The bar of lot l as a percentage of the longest, at least 1. */
static int
bar_pct(const struct report *r, const struct report_lot *l)
{
	long long max = r->nlots > 0 ? r->lots[0].bookings : 0;
	long long pct;

	if (max <= 0)
		return 1;
	pct = (l->bookings * 100 + max / 2) / max;
	return pct < 1 ? 1 : pct > 100 ? 100 : (int)pct;
}

/* One row of the summary table. */
static void
html_fact(struct buf *b, const char *label, const char *value)
{
	buf_printf(b, "<tr><td style=\"padding:4px 0;color:" C_MUTED ";\">"
	    "%s</td><td align=\"right\" style=\"padding:4px 0;"
	    "font-weight:bold;\">", label);
	batch_html_escape(b, value);
	buf_puts(b, "</td></tr>\n");
}

/* The month's title: "November 2026". */
static void
put_month(struct buf *b, int y, int m)
{
	buf_printf(b, "%s %04d", m >= 1 && m <= 12 ? month_names[m - 1] : "?",
	    y);
}

/*
 * The HTML part.  Mail clients (Outlook's Word engine, Gmail) drop <style>
 * blocks, external CSS, scripts and most modern CSS: everything is a
 * table with inline styles, widths as attributes, and colours both as
 * bgcolor and background-color.  The bars are nested tables whose width
 * is the share of the busiest lot.  Every text from the database is
 * escaped.
 */
void
batch_report_html(const struct report *r, struct buf *b)
{
	struct buf t = { 0 };
	const struct report_lot *l;
	const struct resv *v;
	size_t i, shown;
	int64_t end;
	int pct;

	buf_puts(&t, "Your parking in ");
	put_month(&t, r->year, r->month);

	buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>");
	batch_html_escape(b, t.p);
	buf_puts(b, "</title>\n</head>\n"
	    "<body style=\"margin:0;padding:0;background-color:" C_PAGE ";\">\n"
	    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
	    "cellspacing=\"0\" border=\"0\" bgcolor=\"" C_PAGE "\" "
	    "style=\"background-color:" C_PAGE ";\">\n"
	    "<tr><td align=\"center\" style=\"padding:24px 12px;\">\n"
	    "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" "
	    "cellspacing=\"0\" border=\"0\" bgcolor=\"#ffffff\" "
	    "style=\"width:600px;max-width:600px;background-color:#ffffff;"
	    "border:1px solid " C_TRACK ";font-family:" FONT ";color:" C_TEXT
	    ";\">\n");

	/* title */
	buf_puts(b, "<tr><td style=\"padding:24px 24px 8px 24px;\">\n"
	    "<h1 style=\"margin:0 0 4px 0;font-size:22px;line-height:28px;"
	    "font-family:" FONT ";color:" C_TEXT ";\">");
	batch_html_escape(b, t.p);
	buf_puts(b, "</h1>\n<p style=\"margin:0;font-size:14px;"
	    "line-height:20px;color:" C_MUTED ";\">Hello ");
	batch_html_escape(b, r->username);
	buf_puts(b, ", here is what you parked this month.</p>\n</td></tr>\n");

	/* the numbers */
	buf_puts(b, "<tr><td style=\"padding:16px 24px;\">\n"
	    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
	    "cellspacing=\"0\" border=\"0\" style=\"font-family:" FONT ";"
	    "font-size:14px;line-height:20px;color:" C_TEXT ";\">\n");
	buf_reset(&t);
	buf_printf(&t, "%lld", r->bookings);
	html_fact(b, "Bookings", t.p);
	buf_reset(&t);
	put_dur(&t, r->seconds);
	html_fact(b, "Hours parked", t.p);
	buf_reset(&t);
	put_money(&t, r->cents);
	html_fact(b, "Total spent", t.p);
	if (r->no_shows > 0) {
		buf_reset(&t);
		buf_printf(&t, "%lld, charged ", r->no_shows);
		put_money(&t, r->no_show_cents);
		html_fact(b, "No-shows", t.p);
	}
	buf_reset(&t);
	put_dur(&t, r->avg_seconds);
	html_fact(b, "Average duration", t.p);
	html_fact(b, "Most-used lot", r->nlots > 0 && r->lots[0].name != NULL ?
	    r->lots[0].name : "-");
	html_fact(b, "Busiest weekday", weekday_names[r->busiest]);
	buf_puts(b, "</table>\n</td></tr>\n");

	/* the bar chart */
	buf_puts(b, "<tr><td style=\"padding:8px 24px;\">\n"
	    "<h2 style=\"margin:0 0 8px 0;font-size:16px;line-height:22px;"
	    "font-family:" FONT ";color:" C_TEXT ";\">Usage per lot</h2>\n"
	    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
	    "cellspacing=\"0\" border=\"0\" style=\"font-family:" FONT ";"
	    "font-size:13px;line-height:18px;color:" C_TEXT ";\">\n");
	for (i = 0; i < r->nlots; i++) {
		l = &r->lots[i];
		pct = bar_pct(r, l);
		buf_puts(b, "<tr>\n<td width=\"30%\" valign=\"middle\" "
		    "style=\"width:30%;padding:4px 8px 4px 0;\">");
		batch_html_escape(b, l->name != NULL ? l->name : "-");
		/* the cell, a grey track of its full width, the bar */
		buf_printf(b, "</td>\n<td width=\"45%%\" valign=\"middle\" "
		    "style=\"width:45%%;padding:4px 0;\">"
		    "<table role=\"presentation\" width=\"100%%\" "
		    "cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
		    "bgcolor=\"" C_TRACK "\" style=\"width:100%%;"
		    "background-color:" C_TRACK ";\"><tr><td>"
		    "<table role=\"presentation\" width=\"%d%%\" "
		    "cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
		    "style=\"width:%d%%;\"><tr><td height=\"14\" bgcolor=\""
		    C_BAR "\" style=\"height:14px;background-color:" C_BAR ";"
		    "font-size:1px;line-height:1px;\">&nbsp;</td></tr></table>"
		    "</td></tr></table>"
		    "</td>\n<td width=\"25%%\" align=\"right\" valign=\"middle\" "
		    "style=\"width:25%%;padding:4px 0 4px 8px;"
		    "white-space:nowrap;\">%lld booking%s, ", pct, pct,
		    l->bookings, l->bookings == 1 ? "" : "s");
		put_dur(b, l->seconds);
		buf_puts(b, "</td>\n</tr>\n");
	}
	buf_puts(b, "</table>\n</td></tr>\n");

	/* the reservations */
	buf_puts(b, "<tr><td style=\"padding:16px 24px 8px 24px;\">\n"
	    "<h2 style=\"margin:0 0 8px 0;font-size:16px;line-height:22px;"
	    "font-family:" FONT ";color:" C_TEXT ";\">Your reservations</h2>\n"
	    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
	    "cellspacing=\"0\" border=\"0\" style=\"border-collapse:collapse;"
	    "font-family:" FONT ";font-size:13px;line-height:18px;color:"
	    C_TEXT ";\">\n<tr bgcolor=\"" C_HEAD "\">");
	{
		static const char *const heads[] = { "Start (UTC)", "Lot",
		    "Spot", "Vehicle", "Duration", "Cost" };
		for (i = 0; i < sizeof heads / sizeof heads[0]; i++)
			buf_printf(b, "<th align=\"%s\" style=\"padding:6px 4px;"
			    "border-bottom:1px solid " C_TRACK ";\">%s</th>",
			    i >= 4 ? "right" : "left", heads[i]);
	}
	buf_puts(b, "</tr>\n");
	shown = r->nrows < REPORT_MAX_ROWS ? r->nrows : REPORT_MAX_ROWS;
	for (i = 0; i < shown; i++) {
		v = &r->rows[i];
		end = v->leaving_ts > 0 ? v->leaving_ts : r->now;
		buf_puts(b, "<tr><td style=\"padding:6px 4px;border-bottom:1px "
		    "solid " C_TRACK ";white-space:nowrap;\">");
		put_time(b, v->parking_ts);
		buf_puts(b, "</td><td style=\"padding:6px 4px;border-bottom:1px "
		    "solid " C_TRACK ";\">");
		batch_html_escape(b, v->lot_name != NULL ? v->lot_name : "-");
		buf_printf(b, "</td><td style=\"padding:6px 4px;border-bottom:"
		    "1px solid " C_TRACK ";\">%d</td><td style=\"padding:6px "
		    "4px;border-bottom:1px solid " C_TRACK ";\">",
		    v->spot_number);
		batch_html_escape(b, v->vehicle != NULL ? v->vehicle : "-");
		buf_puts(b, "</td><td align=\"right\" style=\"padding:6px 4px;"
		    "border-bottom:1px solid " C_TRACK ";white-space:nowrap;\">");
		put_dur(b, end > v->parking_ts ? end - v->parking_ts : 0);
		if (v->leaving_ts <= 0)
			buf_puts(b, " (ongoing)");
		else if (v->status != NULL && strcmp(v->status, "no_show") == 0)
			buf_puts(b, " (no-show)");
		buf_puts(b, "</td><td align=\"right\" style=\"padding:6px 4px;"
		    "border-bottom:1px solid " C_TRACK ";\">");
		if (v->has_cost)
			put_money(b, v->cost_cents);
		else
			buf_puts(b, "-");
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</table>\n");
	if (shown < r->nrows)
		buf_printf(b, "<p style=\"margin:8px 0 0 0;font-size:13px;"
		    "color:" C_MUTED ";\">and %zu more, counted above.</p>\n",
		    r->nrows - shown);
	buf_puts(b, "</td></tr>\n");

	/* footer */
	buf_puts(b, "<tr><td style=\"padding:16px 24px 24px 24px;"
	    "font-size:12px;line-height:18px;color:" C_MUTED ";\">"
	    "Times are in UTC. Reservations are counted in the month they "
	    "started. You get this report once a month");
	if (conf.backend_url != NULL && *conf.backend_url != '\0') {
		buf_puts(b, "; book your next spot at <a href=\"");
		batch_html_escape(b, conf.backend_url);
		buf_puts(b, "/\" style=\"color:" C_BAR ";\">");
		batch_html_escape(b, conf.backend_url);
		buf_puts(b, "</a>");
	}
	buf_puts(b, ".</td></tr>\n</table>\n</td></tr>\n</table>\n"
	    "</body>\n</html>\n");
	buf_free(&t);
}

/* The plain-text part: the same facts, with bars of '#'. */
void
batch_report_text(const struct report *r, struct buf *b)
{
	const struct report_lot *l;
	const struct resv *v;
	size_t i, shown;
	int64_t end;
	int k, n;

	buf_puts(b, "Your parking in ");
	put_month(b, r->year, r->month);
	buf_printf(b, "\n\nHello %s,\n\n", r->username != NULL ? r->username :
	    "");
	buf_printf(b, "  Bookings:          %lld\n", r->bookings);
	buf_puts(b, "  Hours parked:      ");
	put_dur(b, r->seconds);
	buf_puts(b, "\n  Total spent:       ");
	put_money(b, r->cents);
	if (r->no_shows > 0) {
		buf_printf(b, "\n  No-shows:          %lld, charged ",
		    r->no_shows);
		put_money(b, r->no_show_cents);
	}
	buf_puts(b, "\n  Average duration:  ");
	put_dur(b, r->avg_seconds);
	buf_printf(b, "\n  Most-used lot:     %s\n",
	    r->nlots > 0 && r->lots[0].name != NULL ? r->lots[0].name : "-");
	buf_printf(b, "  Busiest weekday:   %s\n\nUsage per lot:\n",
	    weekday_names[r->busiest]);
	for (i = 0; i < r->nlots; i++) {
		l = &r->lots[i];
		n = (bar_pct(r, l) * 20 + 50) / 100;
		buf_printf(b, "  %-30.30s ", l->name != NULL ? l->name : "-");
		for (k = 0; k < 20; k++)
			buf_putc(b, k < (n > 0 ? n : 1) ? '#' : ' ');
		buf_printf(b, " %lld booking%s, ", l->bookings,
		    l->bookings == 1 ? "" : "s");
		put_dur(b, l->seconds);
		buf_putc(b, '\n');
	}
	buf_puts(b, "\nYour reservations (times in UTC):\n");
	shown = r->nrows < REPORT_MAX_ROWS ? r->nrows : REPORT_MAX_ROWS;
	for (i = 0; i < shown; i++) {
		v = &r->rows[i];
		end = v->leaving_ts > 0 ? v->leaving_ts : r->now;
		buf_puts(b, "  ");
		put_time(b, v->parking_ts);
		buf_printf(b, "  %s, spot %d, %s  ", v->lot_name != NULL ?
		    v->lot_name : "-", v->spot_number, v->vehicle != NULL ?
		    v->vehicle : "-");
		put_dur(b, end > v->parking_ts ? end - v->parking_ts : 0);
		if (v->leaving_ts <= 0)
			buf_puts(b, " (ongoing)");
		else if (v->status != NULL && strcmp(v->status, "no_show") == 0)
			buf_puts(b, " (no-show)");
		buf_puts(b, "  ");
		if (v->has_cost)
			put_money(b, v->cost_cents);
		else
			buf_puts(b, "-");
		buf_putc(b, '\n');
	}
	if (shown < r->nrows)
		buf_printf(b, "  and %zu more, counted above.\n",
		    r->nrows - shown);
	buf_puts(b, "\nReservations are counted in the month they started. "
	    "You get this report once a month.\n");
	if (conf.backend_url != NULL && *conf.backend_url != '\0')
		buf_printf(b, "Book your next spot at %s/\n", conf.backend_url);
}

/* ---- running jobs ---- */

/* Takes the job's lock and records the start of a run; 0, 1 when
 * another run holds the lock (skipped: nothing recorded, a success), or
 * -1 (res says why). */
static int
job_start(const char *job, int64_t *id, struct batch_result *res)
{
	enum dbrc r;

	memset(res, 0, sizeof *res);
	if ((r = db_job_lock(job)) == DB_BUSY) {
		snprintf(res->message, sizeof res->message, "skipped: another "
		    "run of %s holds its lock (another host's timer?)", job);
		res->skipped = 1;
		return 1;
	}
	if (r != DB_OK || db_job_start(job, id) != DB_OK) {
		snprintf(res->message, sizeof res->message,
		    "cannot record the start of the run (database busy or "
		    "unavailable)");
		res->failed = 1;
		return -1;
	}
	return 0;
}

/* Records the end of a run; returns 0 when it completed without errors,
 * else -1. */
static int
job_end(int64_t id, struct batch_result *res)
{
	int bad = res->failed || res->errors > 0;

	if (db_job_finish(id, res->items, res->errors, res->failed ? "failed" :
	    "ok", res->message) != DB_OK) {
		log_msg(LOG_ERR, "batch: cannot record the end of run %lld",
		    (long long)id);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* Waits a little before a chunk is tried again after DB_BUSY. */
static void
busy_pause(int tries)
{
	struct timespec ts = { 0, 100 * 1000 * 1000L };

	ts.tv_nsec *= tries + 1;
	nanosleep(&ts, NULL);
}

/* ---- remind ---- */

struct remind_ctx {
	const char *day;
	int64_t now, idle_before;
	struct lot *lots; /* lots created in the last day */
	size_t nlots;
	long long free_spots, free_lots;
};

/* Writes the reminder of u into subject and text. */
static void
remind_message(const struct remind_ctx *c, const struct batch_user *u,
    struct buf *subject, struct buf *text)
{
	const struct lot *l;
	size_t i, shown;
	long long days;

	buf_printf(text, "Hello %s,\n\n", u->username);
	if (c->nlots > 0) {
		shown = c->nlots < REMIND_MAX_LOTS ? c->nlots : REMIND_MAX_LOTS;
		if (c->nlots == 1)
			buf_puts(subject, "A new parking lot is open");
		else
			buf_printf(subject, "%s%zu new parking lots are open",
			    c->nlots > shown ? "More than " : "", shown);
		buf_printf(text, "%s in the last day:\n\n", c->nlots == 1 ?
		    "A new parking lot opened" : "New parking lots opened");
		for (i = 0; i < shown; i++) {
			l = &c->lots[i];
			buf_printf(text, "  * %s, %s: %d spots, ", l->name,
			    l->address, l->number_of_spots);
			put_money(text, l->price_cents);
			buf_puts(text, " per hour\n");
		}
		if (c->nlots > shown)
			buf_puts(text, "  * and more\n");
		buf_printf(text, "\nRight now %lld spots are free in %lld "
		    "parking lots.\n", c->free_spots, c->free_lots);
	} else {
		if (c->free_spots > 0)
			buf_printf(subject, "Need a parking spot? %lld are free "
			    "right now", c->free_spots);
		else
			buf_puts(subject, "Book your next parking spot");
		if (u->last_booking > 0) {
			days = (c->now - u->last_booking) / DAY;
			buf_printf(text, "You have not booked a parking spot for "
			    "%lld days.\n", days);
		} else {
			days = (c->now - u->created_at) / DAY;
			buf_printf(text, "You registered %lld days ago and have "
			    "not booked a parking spot yet.\n", days);
		}
		buf_printf(text, "Right now %lld spots are free in %lld "
		    "parking lots.\n", c->free_spots, c->free_lots);
	}
	if (conf.backend_url != NULL && *conf.backend_url != '\0')
		buf_printf(text, "\nBook a spot at %s/\n", conf.backend_url);
	buf_puts(text, "\nYou get at most one reminder a day.\n");
}

/*
 * Queues one message inside the chunk's transaction: *queued counts it, or
 * *refused when the outbox refuses its address (then the user stays marked
 * as done, so the message is not retried every run).  Returns DB_OK, or
 * the failure that ends the chunk.
 */
static enum dbrc
queue_mail(const struct mail *m, const char *job, int64_t user,
    long long *queued, long long *refused)
{
	enum dbrc rc;

	if ((rc = db_outbox_add(m)) == DB_CONFLICT) {
		log_msg(LOG_WARN, "%s: user %lld: the outbox refused the "
		    "message", job, (long long)user);
		(*refused)++;
		return DB_OK;
	}
	if (rc == DB_OK)
		(*queued)++;
	return rc;
}

/*
 * One chunk: in one write transaction, each user still due gets the
 * reminders_sent row and the outbox row.  *queued counts the messages
 * queued, *errors the users whose message the outbox refused.  Returns
 * DB_OK, or the failure (nothing of the chunk is kept).
 */
static enum dbrc
remind_chunk(const struct remind_ctx *c, const struct batch_user *u,
    size_t n, long long *queued, long long *errors)
{
	struct buf subject = { 0 }, text = { 0 }, key = { 0 };
	struct mail m;
	enum dbrc rc;
	size_t i;
	long long q = 0, e = 0;
	int fresh;

	*queued = *errors = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	for (i = 0; i < n; i++) {
		rc = db_batch_remind_mark(u[i].id, c->day, c->idle_before,
		    c->nlots > 0, &fresh);
		if (rc != DB_OK)
			goto fail;
		if (!fresh)
			continue; /* another run did it, or no longer due */
		buf_reset(&subject);
		buf_reset(&text);
		buf_reset(&key);
		remind_message(c, &u[i], &subject, &text);
		buf_printf(&key, "remind:%lld:%s", (long long)u[i].id, c->day);
		memset(&m, 0, sizeof m);
		m.idem_key = key.p;
		m.to = u[i].email;
		m.subject = subject.p;
		m.text = text.p;
		if ((rc = queue_mail(&m, "remind", u[i].id, &q, &e)) != DB_OK)
			goto fail;
	}
	if ((rc = db_commit()) == DB_OK) {
		*queued = q;
		*errors = e;
	}
	goto out;

fail:
	db_rollback();
out:
	buf_free(&subject);
	buf_free(&text);
	buf_free(&key);
	return rc;
}

int
batch_remind(const struct batch_remind_opts *o, struct batch_result *res)
{
	int skip;
	struct pool p = { 0 }, cp = { 0 };
	struct remind_ctx c;
	struct batch_user *u;
	char day[16];
	int64_t id, after = 0;
	long long queued, errs;
	size_t n;
	int chunk, tries;
	enum dbrc rc;

	if ((skip = job_start("remind", &id, res)) != 0)
		return skip == 1 ? 0 : -1;
	chunk = o != NULL && o->chunk > 0 ? o->chunk : BATCH_CHUNK;
	memset(&c, 0, sizeof c);
	c.now = park_now();
	day_str(c.now, day);
	c.day = day;
	c.idle_before = c.now - (int64_t)conf.remind_after_days * DAY;
	if ((rc = db_batch_new_lots(&p, c.now - DAY, c.now,
	    REMIND_MAX_LOTS + 1, &c.lots, &c.nlots)) != DB_OK ||
	    (rc = db_batch_free_spots(&c.free_spots, &c.free_lots)) != DB_OK)
		goto fail;

	for (;;) {
		pool_reset(&cp);
		if ((rc = db_batch_remind_due(&cp, after, day, c.idle_before,
		    c.nlots > 0, (size_t)chunk, &u, &n)) != DB_OK)
			goto fail;
		if (n == 0)
			break;
		after = u[n - 1].id;
		for (tries = 0;; tries++) {
			rc = remind_chunk(&c, u, n, &queued, &errs);
			if (rc != DB_BUSY || tries + 1 >= BATCH_TRIES)
				break;
			busy_pause(tries);
		}
		if (rc != DB_OK)
			goto fail;
		res->items += queued;
		res->errors += errs;
	}
	snprintf(res->message, sizeof res->message, "day %s: %lld reminders "
	    "queued (%s), %lld refused", day, res->items, c.nlots > 0 ?
	    "new lots" : "inactive users", res->errors);
	goto out;

fail:
	res->failed = 1;
	snprintf(res->message, sizeof res->message, "day %s: stopped after "
	    "%lld reminders: database %s", day, res->items,
	    rc == DB_BUSY ? "busy" : "failure");
out:
	pool_free(&cp);
	pool_free(&p);
	return job_end(id, res);
}

/* ---- report ---- */

/* A report ready to be queued. */
struct report_msg {
	int64_t user;
	const char *email, *subject, *text, *html;
};

/* Builds the report of u for [from, to) into *out, strings in pool.
 * Returns DB_OK or the failure. */
static enum dbrc
report_build(struct pool *p, const struct batch_user *u, int y, int m,
    int64_t from, int64_t to, int64_t now, struct report_msg *out)
{
	struct report r;
	struct resv *rows;
	struct buf b = { 0 };
	size_t n;
	enum dbrc rc;

	if ((rc = db_batch_report_resv(p, u->id, from, to, &rows, &n)) !=
	    DB_OK)
		return rc;
	memset(&r, 0, sizeof r);
	r.username = u->username;
	r.year = y;
	r.month = m;
	r.rows = rows;
	r.nrows = n;
	r.now = now;
	batch_report_compute(&r, p);
	out->user = u->id;
	out->email = u->email;
	buf_puts(&b, "Your parking report for ");
	put_month(&b, y, m);
	out->subject = pool_strdup(p, b.p);
	buf_reset(&b);
	batch_report_html(&r, &b);
	out->html = pool_strdup(p, b.p);
	buf_reset(&b);
	batch_report_text(&r, &b);
	out->text = pool_strdup(p, b.p);
	buf_free(&b);
	return DB_OK;
}

/* Queues a chunk of built reports in one write transaction, as
 * remind_chunk() does. */
static enum dbrc
report_chunk(const struct report_msg *msg, size_t n, const char *month,
    long long *queued, long long *errors)
{
	struct buf key = { 0 };
	struct mail m;
	enum dbrc rc;
	size_t i;
	long long q = 0, e = 0;
	int fresh;

	*queued = *errors = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if ((rc = db_batch_report_mark(msg[i].user, month, &fresh)) !=
		    DB_OK)
			goto fail;
		if (!fresh)
			continue;
		buf_reset(&key);
		buf_printf(&key, "report:%lld:%s", (long long)msg[i].user,
		    month);
		memset(&m, 0, sizeof m);
		m.idem_key = key.p;
		m.to = msg[i].email;
		m.subject = msg[i].subject;
		m.text = msg[i].text;
		m.html = msg[i].html;
		if ((rc = queue_mail(&m, "report", msg[i].user, &q, &e)) !=
		    DB_OK)
			goto fail;
	}
	if ((rc = db_commit()) == DB_OK) {
		*queued = q;
		*errors = e;
	}
	goto out;

fail:
	db_rollback();
out:
	buf_free(&key);
	return rc;
}

/* ---- tick: no-shows and reservation reminders ---- */

/* Writes the reminder of reservation g into subject and text. */
static void
tick_message(const struct resv_reminder *g, struct buf *subject,
    struct buf *text)
{
	char a[64], e[64], au[32], eu[32];

	/* the site's wall-clock time (TIMEZONE), as the driver reads it;
	 * the text also gives the UTC instants the API answers with */
	time_local_text(g->start, a, sizeof a);
	time_local_text(g->end, e, sizeof e);
	time_iso(g->start, au);
	time_iso(g->end, eu);
	buf_printf(subject, "Reminder: your reservation at %s starts at %s",
	    g->lot_name != NULL ? g->lot_name : "your lot", a);
	buf_printf(text, "Hello %s,\n\nyour reservation #%lld at %s, spot %d, "
	    "runs from %s to %s (%s to %s).\n\nCheck in from %d minutes "
	    "before the start; a reservation not checked in %d minutes after "
	    "its start is a no-show, charged %d minutes.\nCancel it free of "
	    "charge before the start if you no longer need it.\n",
	    g->username != NULL ? g->username : "", (long long)g->id,
	    g->lot_name != NULL ? g->lot_name : "-", g->spot_number, a, e,
	    au, eu, conf.checkin_early_min, conf.checkin_grace_min,
	    conf.no_show_charge_min);
	if (conf.backend_url != NULL && *conf.backend_url != '\0')
		buf_printf(text, "\n%s/\n", conf.backend_url);
}

/* Queues the reminders of g[0..n) in one write transaction; each has the
 * key "resv-remind:<id>", so a reminder queued by an earlier run (or a
 * run at the same time) is not queued again. */
static enum dbrc
tick_chunk(const struct resv_reminder *g, size_t n, long long *queued,
    long long *errors)
{
	struct buf subject = { 0 }, text = { 0 }, key = { 0 };
	struct mail m;
	enum dbrc rc;
	size_t i;
	long long q = 0, e = 0;

	*queued = *errors = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	for (i = 0; i < n; i++) {
		buf_reset(&subject);
		buf_reset(&text);
		buf_reset(&key);
		tick_message(&g[i], &subject, &text);
		buf_printf(&key, "resv-remind:%lld", (long long)g[i].id);
		memset(&m, 0, sizeof m);
		m.idem_key = key.p;
		m.to = g[i].email;
		m.subject = subject.p;
		m.text = text.p;
		if ((rc = queue_mail(&m, "tick", g[i].id, &q, &e)) != DB_OK)
			goto fail;
	}
	if ((rc = db_commit()) == DB_OK) {
		*queued = q;
		*errors = e;
	}
	goto out;
fail:
	db_rollback();
out:
	buf_free(&subject);
	buf_free(&text);
	buf_free(&key);
	return rc;
}

int
batch_tick(int64_t now, struct batch_result *res)
{
	int skip;
	struct pool p = { 0 };
	struct resv_reminder *g;
	long long marked = 0, queued = 0, q, errs;
	int64_t id;
	size_t n, i, k;
	int tries;
	enum dbrc rc;

	if ((skip = job_start("tick", &id, res)) != 0)
		return skip == 1 ? 0 : -1;
	if (now <= 0)
		now = park_now();
	for (tries = 0;; tries++) {
		rc = db_resv_expire_all(now, &marked);
		if (rc != DB_BUSY || tries + 1 >= BATCH_TRIES)
			break;
		busy_pause(tries);
	}
	if (rc != DB_OK)
		goto fail;
	res->items += marked;
	if (conf.resv_reminder_min > 0) {
		if ((rc = db_resv_remind_due(&p, now,
		    conf.resv_reminder_min * 60LL, &g, &n)) != DB_OK)
			goto fail;
		for (i = 0; i < n; i += k) {
			k = n - i < BATCH_CHUNK ? n - i : BATCH_CHUNK;
			for (tries = 0;; tries++) {
				rc = tick_chunk(g + i, k, &q, &errs);
				if (rc != DB_BUSY || tries + 1 >= BATCH_TRIES)
					break;
				busy_pause(tries);
			}
			if (rc != DB_OK)
				goto fail;
			queued += q;
			res->errors += errs;
		}
	}
	res->items += queued;
	snprintf(res->message, sizeof res->message, "%lld no-show%s marked, "
	    "%lld reminder%s due (each queued once)", marked,
	    marked == 1 ? "" : "s", queued, queued == 1 ? "" : "s");
	pool_free(&p);
	return job_end(id, res);
fail:
	pool_free(&p);
	res->failed = 1;
	snprintf(res->message, sizeof res->message, "stopped: %s",
	    rc == DB_BUSY ? "database busy" : "database error");
	return job_end(id, res);
}

int
batch_report(const struct batch_report_opts *o, struct batch_result *res)
{
	int skip;
	struct pool cp = { 0 };
	struct batch_user *u;
	struct report_msg *msg;
	char month[16];
	int64_t id, after = 0, from, to, now;
	long long queued, errs;
	size_t n, i;
	int y, m, chunk, tries;
	enum dbrc rc;

	if ((skip = job_start("report", &id, res)) != 0)
		return skip == 1 ? 0 : -1;
	now = park_now();
	chunk = o != NULL && o->chunk > 0 ? o->chunk : BATCH_CHUNK;
	if (o != NULL && o->year > 0) {
		y = o->year;
		m = o->month;
	} else {
		batch_month_prev(now, &y, &m);
	}
	snprintf(month, sizeof month, "%04d-%02d", y % 10000, m % 100);
	batch_month_range(y, m, &from, &to);

	for (;;) {
		pool_reset(&cp);
		if ((rc = db_batch_report_due(&cp, after, month, from, to,
		    (size_t)chunk, &u, &n)) != DB_OK)
			goto fail;
		if (n == 0)
			break;
		after = u[n - 1].id;
		/* the reads and the rendering, outside the write lock */
		msg = pool_alloc(&cp, n * sizeof(*msg));
		for (i = 0; i < n; i++) {
			if ((rc = report_build(&cp, &u[i], y, m, from, to, now,
			    &msg[i])) != DB_OK)
				goto fail;
		}
		for (tries = 0;; tries++) {
			rc = report_chunk(msg, n, month, &queued, &errs);
			if (rc != DB_BUSY || tries + 1 >= BATCH_TRIES)
				break;
			busy_pause(tries);
		}
		if (rc != DB_OK)
			goto fail;
		res->items += queued;
		res->errors += errs;
	}
	snprintf(res->message, sizeof res->message, "month %s: %lld reports "
	    "queued, %lld refused", month, res->items, res->errors);
	goto out;

fail:
	res->failed = 1;
	snprintf(res->message, sizeof res->message, "month %s: stopped after "
	    "%lld reports: database %s", month, res->items,
	    rc == DB_BUSY ? "busy" : "failure");
out:
	pool_free(&cp);
	return job_end(id, res);
}

/* ---- cleanup ---- */

/* Deletes every row of a kind older than before, CLEAN_CHUNK rows per
 * transaction.  *n counts them.  Returns DB_OK or the failure. */
static enum dbrc
clean_all(enum batch_clean what, int64_t before, const char *day,
    long long *n)
{
	long long k;
	enum dbrc rc;
	int tries = 0;

	*n = 0;
	for (;;) {
		rc = db_batch_clean(what, before, day, CLEAN_CHUNK, &k);
		if (rc == DB_BUSY && ++tries < BATCH_TRIES) {
			busy_pause(tries);
			continue;
		}
		if (rc != DB_OK)
			return rc;
		tries = 0;
		*n += k;
		if (what == CLEAN_STALE_RUNS || k < CLEAN_CHUNK)
			return DB_OK;
	}
}

int
batch_cleanup(struct batch_result *res)
{
	int skip;
	static const struct {
		enum batch_clean what;
		const char *name;
	} steps[] = {
		{ CLEAN_STALE_RUNS, "stale job runs" },
		{ CLEAN_OUTBOX, "mail" },
		{ CLEAN_LOGIN_FAILURES, "login failures" },
		{ CLEAN_SESSIONS, "sessions" },
		{ CLEAN_JOB_RUNS, "job runs" },
		{ CLEAN_REMINDERS, "reminder marks" },
		{ CLEAN_TOKENS, "account tokens" },
		{ CLEAN_RECOVERY, "recovery requests" },
	};
	struct buf msg = { 0 };
	char day[16];
	int64_t id, now, before = 0;
	long long n, frames, files, rows;
	size_t i;
	int busy;
	enum dbrc rc;

	if ((skip = job_start("cleanup", &id, res)) != 0)
		return skip == 1 ? 0 : -1;
	now = park_now();
	day_str(now - (int64_t)KEEP_REMINDERS_DAYS * DAY, day);
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		switch (steps[i].what) {
		case CLEAN_STALE_RUNS:
			before = now - STALE_RUN_S;
			break;
		case CLEAN_OUTBOX:
			before = now - (int64_t)KEEP_OUTBOX_DAYS * DAY;
			break;
		case CLEAN_LOGIN_FAILURES:
			before = now - conf.login_window_s;
			break;
		case CLEAN_SESSIONS:
			before = now - (int64_t)KEEP_SESSIONS_DAYS * DAY;
			break;
		case CLEAN_JOB_RUNS:
			before = now - (int64_t)KEEP_JOB_RUNS_DAYS * DAY;
			break;
		case CLEAN_REMINDERS:
			before = 0;
			break;
		case CLEAN_TOKENS:
			/* spent or expired: no link can use them again */
			before = now;
			break;
		case CLEAN_RECOVERY:
			before = now - conf.recovery_window_s;
			break;
		}
		if ((rc = clean_all(steps[i].what, before, day, &n)) !=
		    DB_OK) {
			res->failed = 1;
			buf_printf(&msg, "%s%s: database %s", msg.len ? ", " :
			    "", steps[i].name, rc == DB_BUSY ? "busy" :
			    "failure");
			goto out;
		}
		res->items += n;
		buf_printf(&msg, "%s%s %lld", msg.len ? ", " : "",
		    steps[i].name, n);
	}

	/* The export files and job rows past PARKD_EXPORT_RETENTION_DAYS:
	 * exports.c knows its folder. */
	if (exports_cleanup(now - (int64_t)conf.export_retention_days * DAY,
	    &files, &rows) == -1) {
		res->errors++;
		buf_printf(&msg, ", exports failed (see the log; %lld files, "
		    "%lld jobs)", files, rows);
	} else {
		buf_printf(&msg, ", export files %lld, export jobs %lld", files,
		    rows);
	}
	res->items += files + rows;

	/* Long readers let the WAL grow; a TRUNCATE checkpoint gives the
	 * space back (reliability.md 1.5).  Readers or writers still active
	 * make it partial, which is not a failure: the next run retries. */
	if (strcmp(db_backend(), "postgresql") == 0)
		/* the server's WAL: its checkpointer recycles it */
		buf_puts(&msg, "; no checkpoint: PostgreSQL manages its WAL");
	else if ((rc = db_batch_checkpoint(&busy, &frames)) != DB_OK) {
		res->errors++;
		buf_puts(&msg, "; checkpoint failed");
	} else {
		if (busy)
			buf_printf(&msg, "; checkpoint partial: the database "
			    "was busy (%lld WAL frames)", frames);
		else
			buf_puts(&msg, "; checkpoint done, WAL truncated");
	}
out:
	snprintf(res->message, sizeof res->message, "%s",
	    msg.p != NULL ? msg.p : "");
	buf_free(&msg);
	return job_end(id, res);
}

/* ---- backup ---- */

/* fsync()s the file or directory at path; 0 or -1 (errno set). */
static int
sync_path(const char *path, int dir)
{
	int fd, rc, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY :
	    0))) == -1)
		return -1;
	rc = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Removes the temporary copy and the -wal/-shm files a check may have
 * left beside it. */
static void
remove_tmp(const char *tmp)
{
	struct buf b = { 0 };

	(void)unlink(tmp);
	buf_printf(&b, "%s-wal", tmp);
	(void)unlink(b.p);
	buf_reset(&b);
	buf_printf(&b, "%s-shm", tmp);
	(void)unlink(b.p);
	buf_free(&b);
}

/* Checks that path can be made (it does not exist, its directory is
 * writable) and names the hidden temporary file beside it in tmp (dir:
 * the directory, with its "/").  0, or -1 with res->message. */
static int
backup_prepare(const char *path, struct buf *dir, struct buf *tmp,
    struct batch_result *res)
{
	struct stat st;
	const char *slash, *base;
	char rnd[17];

	if (lstat(path, &st) == 0) {
		snprintf(res->message, sizeof res->message, "%s exists: "
		    "refusing to overwrite it", path);
		return -1;
	}
	if (errno != ENOENT) {
		snprintf(res->message, sizeof res->message, "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	/* The copy is written under a hidden temporary name in the same
	 * directory, so that path only ever names a checked, complete
	 * copy. */
	if ((slash = strrchr(path, '/')) != NULL) {
		buf_add(dir, path, (size_t)(slash - path + 1));
		base = slash + 1;
	} else {
		buf_puts(dir, "./");
		base = path;
	}
	if (*base == '\0') {
		snprintf(res->message, sizeof res->message, "%s: not a file "
		    "name", path);
		return -1;
	}
	if (access(dir->p, W_OK) == -1) {
		snprintf(res->message, sizeof res->message, "cannot write in "
		    "%s: %s", dir->p, strerror(errno));
		return -1;
	}
	rand_hex(rnd, 8);
	buf_printf(tmp, "%s.%s.partial-%s", dir->p, base, rnd);
	return 0;
}

/* Syncs the checked copy tmp and links it to path (never over a file);
 * *size: its size.  0, or -1 with res->message. */
static int
backup_place(const char *tmp, const char *path, const char *dir,
    long long *size, struct batch_result *res)
{
	struct stat st;
	int rc;

	if (sync_path(tmp, 0) == -1) {
		snprintf(res->message, sizeof res->message, "fsync %s: %s",
		    tmp, strerror(errno));
		return -1;
	}
	/* link() never replaces an existing file, unlike rename(): a file
	 * made at path since the check above is kept. */
	rc = link(tmp, path);
	if (rc == -1 && (errno == EPERM || errno == ENOTSUP ||
	    errno == EOPNOTSUPP) && lstat(path, &st) == -1 && errno == ENOENT)
		rc = rename(tmp, path); /* a filesystem without links */
	if (rc == -1) {
		snprintf(res->message, sizeof res->message, "%s: %s%s", path,
		    strerror(errno), errno == EEXIST ? ": refusing to "
		    "overwrite it" : "");
		return -1;
	}
	(void)sync_path(dir, 1);
	*size = stat(path, &st) == 0 ? (long long)st.st_size : 0;
	return 0;
}

int
batch_backup(const char *path, struct batch_result *res)
{
	struct buf dir = { 0 }, tmp = { 0 }, problem = { 0 };
	int64_t id;
	long long size;
	mode_t old;
	int version, made = 0, skip;
	enum dbrc r;

	if ((skip = job_start("backup", &id, res)) != 0)
		return skip == 1 ? 0 : -1;
	res->failed = 1;
	if (backup_prepare(path, &dir, &tmp, res) == -1)
		goto out;

	/* The copy holds password hashes: readable by its owner only. */
	old = umask(077);
	r = db_batch_vacuum_into(tmp.p);
	umask(old);
	made = 1;
	if (r != DB_OK) {
		snprintf(res->message, sizeof res->message, "VACUUM INTO %s "
		    "failed: database %s", tmp.p, r == DB_BUSY ? "busy" :
		    "failure (see the log)");
		goto out;
	}
	r = db_batch_check_copy(tmp.p, &problem, &version);
	if (r != DB_OK) {
		snprintf(res->message, sizeof res->message, "the copy fails "
		    "its integrity check: %s", problem.p != NULL ? problem.p :
		    "?");
		goto out;
	}
	if (backup_place(tmp.p, path, dir.p, &size, res) == -1)
		goto out;
	res->items = 1;
	res->failed = 0;
	snprintf(res->message, sizeof res->message, "%s: %lld bytes, schema "
	    "version %d, integrity ok", path, size, version);
out:
	if (made)
		remove_tmp(tmp.p);
	buf_free(&dir);
	buf_free(&tmp);
	buf_free(&problem);
	return job_end(id, res);
}

/*
 * Runs prog (PATH searched) with argv, stdin /dev/null, stdout to
 * /dev/null (or out, a file made 0600), the database's connection in the
 * environment (db_pg_env), and waits.  Returns its exit status, 127 when
 * it could not be run, or -1 (errno) when fork failed; what it said on
 * stderr goes to parkctl's.
 */
static int
run_pg_tool(const char *prog, char *const argv[])
{
	struct buf err = { 0 };
	pid_t pid;
	int status, fd;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			(void)dup2(fd, 0);
			(void)dup2(fd, 1);
		}
		if (db_pg_env(conf.db_path, &err) == -1) {
			fprintf(stderr, "parkctl: %s\n", err.p);
			_exit(127);
		}
		execvp(prog, argv);
		fprintf(stderr, "parkctl: %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The program named by the environment variable env, else name. */
static const char *
pg_tool(const char *env, const char *name)
{
	const char *v = getenv(env);

	return v != NULL && *v != '\0' ? v : name;
}

int
batch_pg_dump(const char *path, struct batch_result *res)
{
	struct buf dir = { 0 }, tmp = { 0 }, arg = { 0 };
	char fmt[] = "--format=custom", nopw[] = "--no-password";
	char list[] = "--list";
	char *dump = NULL, *restore = NULL, *argv[8];
	int64_t id;
	long long size;
	mode_t old;
	int made = 0, skip, st;

	if ((skip = job_start("backup", &id, res)) != 0)
		return skip == 1 ? 0 : -1;
	res->failed = 1;
	if (backup_prepare(path, &dir, &tmp, res) == -1)
		goto out;
	dump = xstrdup(pg_tool("PARKD_PG_DUMP", "pg_dump"));
	restore = xstrdup(pg_tool("PARKD_PG_RESTORE", "pg_restore"));
	/* One snapshot of every table (pg_dump reads in one REPEATABLE READ
	 * transaction); custom format: compressed, for pg_restore.  The
	 * archive holds password hashes: readable by its owner only. */
	buf_printf(&arg, "--file=%s", tmp.p);
	argv[0] = dump;
	argv[1] = fmt;
	argv[2] = nopw;
	argv[3] = arg.p;
	argv[4] = NULL;
	old = umask(077);
	st = run_pg_tool(dump, argv);
	umask(old);
	made = 1;
	if (st != 0) {
		snprintf(res->message, sizeof res->message, "%s failed (%s %d, "
		    "see above)", dump, st == -1 ? "fork" : "exit status", st);
		goto out;
	}
	/* the archive is whole: pg_restore reads its table of contents */
	argv[0] = restore;
	argv[1] = list;
	argv[2] = tmp.p;
	argv[3] = NULL;
	if ((st = run_pg_tool(restore, argv)) != 0) {
		snprintf(res->message, sizeof res->message, "%s --list cannot "
		    "read the archive (exit status %d)", restore, st);
		goto out;
	}
	if (backup_place(tmp.p, path, dir.p, &size, res) == -1)
		goto out;
	res->items = 1;
	res->failed = 0;
	snprintf(res->message, sizeof res->message, "%s: %lld bytes, pg_dump "
	    "custom format (pg_restore), schema version %d, archive readable",
	    path, size, db_version());
out:
	if (made)
		(void)unlink(tmp.p);
	free(dump);
	free(restore);
	buf_free(&dir);
	buf_free(&tmp);
	buf_free(&arg);
	return job_end(id, res);
}
