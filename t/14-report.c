/*
 * 14-report.c: the pure parts of the batch jobs (batch.c): months
 * (parsing, the previous month across January, the range of a month,
 * leap years), weekdays, HTML escaping, and the monthly report's numbers,
 * HTML and text from a fixed set of reservations.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "park.h"
#include "tap.h"

/* Unix time of an ISO text; aborts the test on a typo. */
static int64_t
at(const char *iso)
{
	int64_t t = time_parse_iso(iso);

	if (t < 0) {
		printf("Bail out! bad time %s\n", iso);
		exit(255);
	}
	return t;
}

static void
test_month_parse(void)
{
	static const char *const bad[] = { "", "2026", "2026-1", "2026-13",
	    "2026-00", "1969-12", "2026/11", "2026-11x", "26-11", "2026-1a",
	    " 2026-11", "+026-11" };
	size_t i;
	int y = 0, m = 0;

	ok(batch_month_parse("2026-11", &y, &m) == 0 && y == 2026 && m == 11,
	    "2026-11 parses");
	ok(batch_month_parse("2027-01", &y, &m) == 0 && y == 2027 && m == 1,
	    "2027-01 parses");
	ok(batch_month_parse("1970-01", &y, &m) == 0, "1970-01 parses");
	ok(batch_month_parse("9999-12", &y, &m) == 0, "9999-12 parses");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(batch_month_parse(bad[i], &y, &m) == -1, "\"%s\" is refused",
		    bad[i]);
	ok(batch_month_parse(NULL, &y, &m) == -1, "NULL is refused");
}

static void
test_month_prev(void)
{
	static const struct {
		const char *now;
		int y, m;
	} cases[] = {
		{ "2027-01-03T09:00:00Z", 2026, 12 },
		{ "2027-01-01T00:00:00Z", 2026, 12 },
		{ "2026-12-31T23:59:59Z", 2026, 11 },
		{ "2026-03-01T00:00:00Z", 2026, 2 },
		{ "2026-02-28T23:59:59Z", 2026, 1 },
		{ "2026-02-01T09:00:00Z", 2026, 1 },
		{ "2000-01-15T12:00:00Z", 1999, 12 },
	};
	size_t i;
	int y, m;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		batch_month_prev(at(cases[i].now), &y, &m);
		ok(y == cases[i].y && m == cases[i].m, "the month before %s is "
		    "%04d-%02d (got %04d-%02d)", cases[i].now, cases[i].y,
		    cases[i].m, y, m);
	}
}

static void
test_month_range(void)
{
	int64_t from, to;

	batch_month_range(2026, 12, &from, &to);
	is_int(from, at("2026-12-01T00:00:00Z"), "December starts on the 1st");
	is_int(to, at("2027-01-01T00:00:00Z"),
	    "December ends at the next year's January");
	batch_month_range(2026, 1, &from, &to);
	is_int(from, at("2026-01-01T00:00:00Z"), "January starts on the 1st");
	is_int(to, at("2026-02-01T00:00:00Z"), "January ends at February");
	batch_month_range(2026, 2, &from, &to);
	is_int(to - from, 28 * 86400, "February 2026 has 28 days");
	batch_month_range(2028, 2, &from, &to);
	is_int(to - from, 29 * 86400, "February 2028 has 29 days");
	batch_month_range(2100, 2, &from, &to);
	is_int(to - from, 28 * 86400, "February 2100 has 28 days");
	batch_month_range(2000, 2, &from, &to);
	is_int(to - from, 29 * 86400, "February 2000 has 29 days");
}

static void
test_weekday(void)
{
	is_int(batch_weekday(0), 3, "1970-01-01 was a Thursday");
	is_int(batch_weekday(at("2026-11-26T12:00:00Z")), 3,
	    "2026-11-26 is a Thursday");
	is_int(batch_weekday(at("2026-11-30T00:00:00Z")), 0,
	    "2026-11-30 is a Monday");
	is_int(batch_weekday(at("2026-11-29T23:59:59Z")), 6,
	    "2026-11-29 23:59:59 is still Sunday");
	is_int(batch_weekday(at("2027-01-01T00:00:00Z")), 4,
	    "2027-01-01 is a Friday");
	is_int(batch_weekday(-1), 2, "the last second of 1969 was a Wednesday");
}

static void
test_escape(void)
{
	struct buf b = { 0 };

	batch_html_escape(&b, "<a href=\"x\">O'Brien & Co</a>");
	is_str(b.p, "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; Co"
	    "&lt;/a&gt;", "& < > \" ' are escaped");
	buf_reset(&b);
	batch_html_escape(&b, "plain text, caf\xc3\xa9");
	is_str(b.p, "plain text, caf\xc3\xa9", "other text is kept as it is");
	buf_reset(&b);
	batch_html_escape(&b, "&amp;");
	is_str(b.p, "&amp;amp;", "an entity in the data is shown, not run");
	buf_reset(&b);
	buf_puts(&b, "x");
	batch_html_escape(&b, NULL);
	is_str(b.p, "x", "NULL appends nothing");
	buf_free(&b);
}

/* One reservation of the fixture. */
static struct resv
row(int64_t lot, const char *name, int spot, const char *vehicle,
    const char *from, const char *to, long long cents)
{
	struct resv v;

	memset(&v, 0, sizeof v);
	v.lot_id = lot;
	v.lot_name = name;
	v.spot_number = spot;
	v.vehicle = vehicle;
	v.parking_ts = at(from);
	v.leaving_ts = to != NULL ? at(to) : 0;
	v.has_cost = to != NULL;
	v.cost_cents = cents;
	v.status = to != NULL ? "completed" : "active";
	return v;
}

static void
test_report(void)
{
	static char url[] = "http://parkd.test/a?b=1&c=\"2\"";
	struct resv rows[5];
	struct report r;
	struct pool p = { 0 };
	struct buf html = { 0 }, text = { 0 };

	/* Lot 7 twice (2h30 + 1h), lot 9 twice (2h + an active one of 30m
	 * at "now"), lot 8 once: lots 7 and 9 tie on bookings, 7 has more
	 * time.  Mondays: Nov 2 and Nov 9 (2), Saturday Nov 7 (1), Tuesday
	 * Nov 3 (1), Monday Nov 30 (the active one: 3 Mondays). */
	rows[0] = row(7, "Downtown <Central> & Co", 4, "KA01-AB1234",
	    "2026-11-02T08:00:00Z", "2026-11-02T10:30:00Z", 15000);
	rows[1] = row(9, "O'Brien Park", 1, NULL,
	    "2026-11-03T09:00:00Z", "2026-11-03T11:00:00Z", 6000);
	rows[2] = row(8, "Airport", 2, "X<script>", "2026-11-07T23:00:00Z",
	    "2026-11-08T00:15:00Z", 20000);
	rows[3] = row(7, "Downtown <Central> & Co", 5, "KA01-AB1234",
	    "2026-11-09T12:00:00Z", "2026-11-09T13:00:00Z", 5000);
	rows[4] = row(9, "O'Brien Park", 2, NULL, "2026-11-30T23:30:00Z",
	    NULL, 0);

	memset(&r, 0, sizeof r);
	r.username = "john_doe";
	r.year = 2026;
	r.month = 11;
	r.rows = rows;
	r.nrows = 5;
	r.now = at("2026-12-01T00:00:00Z");
	batch_report_compute(&r, &p);

	is_int(r.bookings, 5, "5 bookings");
	is_int(r.seconds, (150 + 120 + 75 + 60 + 30) * 60,
	    "the time parked adds up, the active one up to now");
	is_int(r.cents, 15000 + 6000 + 20000 + 5000, "total spent");
	is_int(r.avg_seconds, (150 + 120 + 75 + 60 + 30) * 60 / 5,
	    "average duration");
	is_int(r.nlots, 3, "3 lots");
	ok(r.nlots == 3 && r.lots[0].lot_id == 7 && r.lots[1].lot_id == 9 &&
	    r.lots[2].lot_id == 8, "lots by bookings, then time");
	ok(r.nlots == 3 && r.lots[0].bookings == 2 &&
	    r.lots[0].seconds == 210 * 60 && r.lots[0].cents == 20000,
	    "the most-used lot's numbers");
	is_int(r.busiest, 0, "the busiest weekday is Monday");
	is_int(r.weekdays[0], 3, "3 bookings on Mondays");
	is_int(r.weekdays[5], 1, "1 on Saturday (by the start time)");

	conf.backend_url = url;
	batch_report_html(&r, &html);
	batch_report_text(&r, &text);
	ok(strstr(html.p, "<!DOCTYPE html>") == html.p, "a whole document");
	ok(strstr(html.p, "Downtown &lt;Central&gt; &amp; Co") != NULL,
	    "lot names are escaped");
	ok(strstr(html.p, "O&#39;Brien Park") != NULL,
	    "apostrophes are escaped");
	ok(strstr(html.p, "X&lt;script&gt;") != NULL &&
	    strstr(html.p, "<script") == NULL, "no script gets through");
	ok(strstr(html.p, "http://parkd.test/a?b=1&amp;c=&quot;2&quot;/") !=
	    NULL, "the link is escaped");
	ok(strstr(html.p, "<style") == NULL && strstr(html.p, "<img") ==
	    NULL && strstr(html.p, "<link") == NULL && strstr(html.p,
	    "url(") == NULL, "no style block, image, stylesheet or CSS url");
	ok(strstr(html.p, "width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
	    "border=\"0\" style=\"width:100%;\"><tr><td height=\"14\" "
	    "bgcolor=\"#2563eb\"") != NULL,
	    "the busiest lot's bar is a full-width table cell with bgcolor");
	ok(strstr(html.p, "width=\"50%\" cellpadding=\"0\" cellspacing=\"0\" "
	    "border=\"0\" style=\"width:50%;\"><tr><td height=\"14\"") != NULL,
	    "a lot with half the bookings has a bar of half the width");
	ok(strstr(html.p, ">John_doe") == NULL &&
	    strstr(html.p, "Hello john_doe") != NULL, "the user is named");
	ok(strstr(html.p, "Total spent</td><td align=\"right\" "
	    "style=\"padding:4px 0;font-weight:bold;\">460.00</td>") != NULL,
	    "total spent in the HTML");
	ok(strstr(html.p, "Busiest weekday</td><td align=\"right\" "
	    "style=\"padding:4px 0;font-weight:bold;\">Monday</td>") != NULL,
	    "busiest weekday in the HTML");
	ok(strstr(html.p, "0h 30m (ongoing)") != NULL,
	    "the active reservation is marked ongoing");
	ok(strstr(html.p, "Your parking in November 2026") != NULL,
	    "the month is named");

	ok(strstr(text.p, "  Bookings:          5\n") != NULL, "text: bookings");
	ok(strstr(text.p, "  Hours parked:      7h 15m\n") != NULL,
	    "text: hours parked");
	ok(strstr(text.p, "  Total spent:       460.00\n") != NULL,
	    "text: total spent");
	ok(strstr(text.p, "  Average duration:  1h 27m\n") != NULL,
	    "text: average");
	ok(strstr(text.p, "  Most-used lot:     Downtown <Central> & Co\n") !=
	    NULL, "text: most-used lot, not escaped in plain text");
	ok(strstr(text.p, "####################") != NULL,
	    "text: the longest bar has 20 marks");
	ok(strstr(text.p, "2026-11-07 23:00  Airport, spot 2, X<script>  "
	    "1h 15m  200.00\n") != NULL, "text: a reservation line");

	/* an empty month still renders (the job never sends one) */
	memset(&r, 0, sizeof r);
	r.username = "x";
	r.year = 2027;
	r.month = 1;
	batch_report_compute(&r, &p);
	buf_reset(&html);
	batch_report_html(&r, &html);
	ok(r.bookings == 0 && r.nlots == 0 && strstr(html.p,
	    "January 2027") != NULL, "an empty month renders");
	conf.backend_url = NULL;

	buf_free(&html);
	buf_free(&text);
	pool_free(&p);
}

/* A no-show counts as a booking with its charge, and the report says how
 * many there were and what they cost (sql/013). */
static void
test_report_no_show(void)
{
	struct resv rows[2];
	struct report r;
	struct pool p = { 0 };
	struct buf html = { 0 }, text = { 0 };

	rows[0] = row(7, "Downtown", 4, "KA01", "2026-11-02T08:00:00Z",
	    "2026-11-02T10:00:00Z", 4000);
	rows[1] = row(7, "Downtown", 5, "KA01", "2026-11-05T08:00:00Z",
	    "2026-11-05T08:00:00Z", 2000);
	rows[1].status = "no_show";
	memset(&r, 0, sizeof r);
	r.username = "jane";
	r.year = 2026;
	r.month = 11;
	r.rows = rows;
	r.nrows = 2;
	r.now = at("2026-12-01T00:00:00Z");
	batch_report_compute(&r, &p);
	is_int(r.bookings, 2, "no-show: 2 bookings");
	is_int(r.cents, 6000, "no-show: its charge is money spent");
	ok(r.no_shows == 1 && r.no_show_cents == 2000, "one no-show, "
	    "charged 20.00");
	batch_report_text(&r, &text);
	batch_report_html(&r, &html);
	ok(text.p != NULL && strstr(text.p, "No-shows:          1, charged") !=
	    NULL && strstr(text.p, "(no-show)") != NULL, "the text says so "
	    "and marks the row");
	ok(html.p != NULL && strstr(html.p, "No-shows") != NULL &&
	    strstr(html.p, "(no-show)") != NULL, "the HTML too");
	buf_free(&html);
	buf_free(&text);
	pool_free(&p);
}

int
main(void)
{
	test_month_parse();
	test_month_prev();
	test_month_range();
	test_weekday();
	test_escape();
	test_report();
	test_report_no_show();
	return done_testing();
}
