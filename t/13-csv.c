/*
 * 13-csv.c: the CSV writer of the exports (csv.c): RFC 4180 quoting, CRLF,
 * the formula prefix (ASVS 5.0 1.2.10), UTF-8, the 13 columns of the
 * contract, and a round trip of 10,000 random rows through a small strict
 * RFC 4180 parser written here (reliability.md, test plan row 20).  Also
 * the pure parts of exports.c: the names a download may ask for, and the
 * signed link tokens.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "park.h"
#include "tap.h"

#define NROWS 10000

static const char *const header =
    "reservation_id,slot_id,spot_id,parking_lot_name,parking_lot_address,"
    "parking_timestamp,leaving_timestamp,duration_hours,parking_cost,"
    "currency,status,remarks,created_at\r\n";

/* One cell on its own, as text (a static buffer). */
static const char *
cell(const char *s)
{
	static struct buf b;

	buf_reset(&b);
	csv_cell_str(&b, 1, s);
	return b.p != NULL ? b.p : "";
}

/* ---- a strict RFC 4180 reader ---- */

struct rec {
	char **f;     /* decoded fields (quotes undone, prefix kept) */
	int *quoted;  /* the field was quoted */
	size_t n, cap;
};

static void
rec_add(struct rec *r, const char *s, size_t n, int quoted)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->f = xrealloc(r->f, r->cap * sizeof(*r->f));
		r->quoted = xrealloc(r->quoted, r->cap * sizeof(*r->quoted));
	}
	r->f[r->n] = xmalloc(n + 1);
	memcpy(r->f[r->n], s, n);
	r->f[r->n][n] = '\0';
	r->quoted[r->n] = quoted;
	r->n++;
}

static void
rec_free(struct rec *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->f[i]);
	r->n = 0;
}

/*
 * Reads one record at *pos of text (len bytes): fields separated by ',',
 * the record ended by CRLF.  A field is either quoted ("..." with ""
 * for a quote, followed by ',' or CRLF) or holds no '"', CR or LF.
 * Returns 1 with r filled, 0 at the end, -1 on malformed input.
 */
static int
rec_read(const char *t, size_t len, size_t *pos, struct rec *r)
{
	size_t i = *pos;
	struct buf f = { 0 };
	int quoted, ret = -1;

	rec_free(r);
	if (i >= len)
		return 0;
	for (;;) {
		buf_reset(&f);
		buf_add(&f, "", 0);
		quoted = 0;
		if (i < len && t[i] == '"') {
			quoted = 1;
			for (i++;; i++) {
				if (i >= len)
					goto out;
				if (t[i] == '"') {
					if (i + 1 < len && t[i + 1] == '"') {
						buf_putc(&f, '"');
						i++;
						continue;
					}
					i++;
					break;
				}
				buf_putc(&f, t[i]);
			}
		} else {
			while (i < len && t[i] != ',' && t[i] != '\r') {
				if (t[i] == '"' || t[i] == '\n')
					goto out;
				buf_putc(&f, t[i++]);
			}
		}
		rec_add(r, f.p, f.len, quoted);
		if (i < len && t[i] == ',') {
			i++;
			continue;
		}
		if (i + 1 < len && t[i] == '\r' && t[i + 1] == '\n') {
			i += 2;
			break;
		}
		goto out;
	}
	*pos = i;
	ret = 1;
out:
	buf_free(&f);
	return ret;
}

/* What a reader does with a cell: drop one leading "'". */
static const char *
unprefix(const char *s)
{
	return s[0] == '\'' ? s + 1 : s;
}

/* ---- random rows ---- */

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* A random UTF-8 string of 0 to 24 pieces, rich in what CSV and
 * spreadsheets care about. */
static char *
rnd_text(void)
{
	static const char *const piece[] = {
		"=", "+", "-", "@", "\t", "\r", "\n", "\r\n", "\"", "'", ",",
		" ", "a", "Z", "0", "9", ".", ";", "é", "₹", "日本", "🚗",
		"=SUM(A1:A9)", "=HYPERLINK(\"http://x\")", "@cmd", "\"\"",
		"'=", "ü", "\xc2\xa0",
	};
	struct buf b = { 0 };
	unsigned i, n = rnd(25);

	buf_add(&b, "", 0);
	for (i = 0; i < n; i++)
		buf_puts(&b, piece[rnd(sizeof(piece) / sizeof(piece[0]))]);
	return b.p;
}

static void
test_cells(void)
{
	struct buf b = { 0 };

	is_str(cell("abc"), "abc", "plain text as it is");
	is_str(cell(""), "", "empty string: empty cell");
	is_str(cell(NULL), "", "NULL: empty cell");
	is_str(cell("a,b"), "\"a,b\"", "comma: quoted");
	is_str(cell("say \"hi\""), "\"say \"\"hi\"\"\"",
	    "quotes: quoted and doubled");
	is_str(cell("a\nb"), "\"a\nb\"", "LF: quoted");
	is_str(cell("a\rb"), "\"a\rb\"", "CR: quoted");
	is_str(cell("a\r\nb"), "\"a\r\nb\"", "CRLF: quoted, kept");
	is_str(cell(" lead and trail "), " lead and trail ",
	    "spaces kept, not quoted");

	is_str(cell("=1+1"), "'=1+1", "= gets the ' prefix");
	is_str(cell("+1"), "'+1", "+ gets the ' prefix");
	is_str(cell("-1"), "'-1", "- gets the ' prefix");
	is_str(cell("@SUM(A1)"), "'@SUM(A1)", "@ gets the ' prefix");
	is_str(cell("\tx"), "'\tx", "TAB gets the ' prefix");
	is_str(cell("\rx"), "\"'\rx\"", "CR first: prefix and quotes");
	is_str(cell("'quoted"), "''quoted",
	    "a leading ' is doubled, so a reader can undo one");
	is_str(cell("=HYPERLINK(\"http://evil\",\"x\")"),
	    "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"",
	    "formula with quotes and commas: prefix inside the quotes");
	is_str(cell("a=b"), "a=b", "= inside a value: nothing to do");
	is_str(cell("1-2"), "1-2", "- inside a value: nothing to do");

	is_str(cell("Café ₹ 日本 🚗"), "Café ₹ 日本 🚗", "UTF-8 as it is");
	is_str(cell("a\xff" "b"), "a\xef\xbf\xbd" "b",
	    "an invalid byte becomes U+FFFD");
	is_str(cell("\xc3"), "\xef\xbf\xbd", "a cut sequence becomes U+FFFD");
	is_str(cell("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	    "a surrogate: each byte becomes U+FFFD");

	csv_cell_str(&b, 1, "a");
	csv_cell_str(&b, 0, "b,c");
	csv_cell_str(&b, 0, NULL);
	csv_cell_str(&b, 0, "-d");
	csv_row_end(&b);
	is_str(b.p, "a,\"b,c\",,'-d\r\n", "a row: commas between, CRLF at the "
	    "end");
	buf_free(&b);
}

static void
test_export_rows(void)
{
	struct buf b = { 0 };
	struct export_row v;

	csv_export_header(&b);
	is_str(b.p, header, "the header: the contract's 13 columns, CRLF");

	memset(&v, 0, sizeof(v));
	v.id = 42;
	v.spot_id = 1007;
	v.spot_number = 7;
	v.lot_name = "-Dash Lot";
	v.lot_address = "=2+3, Main Street";
	v.parking_ts = 1798290000;      /* 2026-12-26T13:00:00Z */
	v.leaving_ts = 1798290000 + 5400;
	v.cost_cents = 5050;
	v.has_cost = 1;
	v.status = "completed";
	v.remarks = "line one\nline \"two\"";
	v.created_at = 1798290000;
	buf_reset(&b);
	csv_export_row(&b, &v);
	is_str(b.p, "42,7,1007,'-Dash Lot,\"'=2+3, Main Street\","
	    "2026-12-26T13:00:00Z,2026-12-26T14:30:00Z,1.50,50.50,INR,"
	    "completed,\"line one\nline \"\"two\"\"\",2026-12-26T13:00:00Z\r\n",
	    "a completed reservation: slot_id the spot number, spot_id the "
	    "spot's id, hours and cost with 2 decimals, INR, quoting, "
	    "prefixes");

	v.leaving_ts = 0;
	v.has_cost = 0;
	v.status = "active";
	v.remarks = NULL;
	v.lot_address = "12 Long Road, Town";
	v.lot_name = "Plain";
	buf_reset(&b);
	csv_export_row(&b, &v);
	is_str(b.p, "42,7,1007,Plain,\"12 Long Road, Town\","
	    "2026-12-26T13:00:00Z,,,,INR,active,,2026-12-26T13:00:00Z\r\n",
	    "an active reservation: no leaving time, duration or cost");

	/* Durations round half up to the hundredth of an hour. */
	v.leaving_ts = v.parking_ts + 3599;
	v.has_cost = 1;
	v.cost_cents = 0;
	buf_reset(&b);
	csv_export_row(&b, &v);
	ok(strstr(b.p, ",1.00,0.00,INR,") != NULL, "3599 s: 1.00 h, cost "
	    "0.00");
	v.leaving_ts = v.parking_ts + 17;
	buf_reset(&b);
	csv_export_row(&b, &v);
	ok(strstr(b.p, ",0.00,0.00,INR,") != NULL, "17 s: 0.00 h");
	v.leaving_ts = v.parking_ts + 18;
	buf_reset(&b);
	csv_export_row(&b, &v);
	ok(strstr(b.p, ",0.01,0.00,INR,") != NULL, "18 s: 0.01 h");
	v.leaving_ts = v.parking_ts + 100 * 3600;
	v.cost_cents = 123456789;
	buf_reset(&b);
	csv_export_row(&b, &v);
	ok(strstr(b.p, ",100.00,1234567.89,INR,") != NULL, "100 h, a large "
	    "cost");
	buf_free(&b);
}

static void
test_round_trip(void)
{
	struct export_row *v;
	char **texts;
	struct buf out = { 0 };
	struct rec r = { 0 };
	char num[32], t[32];
	size_t pos = 0, i, bad_rows = 0, unsafe = 0, bad_len = 0;
	int rc, header_ok;
	static const char *const status[] = { "active", "completed",
	    "cancelled" };

	v = xcalloc(NROWS, sizeof(*v));
	texts = xcalloc(3 * NROWS, sizeof(*texts));
	for (i = 0; i < NROWS; i++) {
		v[i].id = (int64_t)(NROWS - i);
		v[i].spot_id = 1 + rnd(100000);
		v[i].spot_number = 1 + (int)rnd(1000);
		v[i].lot_name = texts[3 * i] = rnd_text();
		v[i].lot_address = texts[3 * i + 1] = rnd_text();
		v[i].remarks = rnd(4) == 0 ? NULL : (texts[3 * i + 2] =
		    rnd_text());
		v[i].status = status[rnd(3)];
		v[i].parking_ts = 1700000000 + (int64_t)rnd(100000000);
		v[i].leaving_ts = rnd(3) == 0 ? 0 : v[i].parking_ts +
		    (int64_t)rnd(1000000);
		v[i].has_cost = v[i].leaving_ts != 0;
		v[i].cost_cents = rnd(10000000);
		v[i].created_at = v[i].parking_ts;
	}
	csv_export_header(&out);
	for (i = 0; i < NROWS; i++)
		csv_export_row(&out, &v[i]);
	ok(valid_utf8_text(out.p, out.len, 1), "%d random rows: the file is "
	    "valid UTF-8 (%zu bytes)", NROWS, out.len);

	rc = rec_read(out.p, out.len, &pos, &r);
	header_ok = rc == 1 && r.n == 13 && pos == strlen(header) &&
	    memcmp(out.p, header, pos) == 0;
	ok(header_ok, "the header reads back as 13 fields");
	for (i = 0; i < NROWS; i++) {
		if ((rc = rec_read(out.p, out.len, &pos, &r)) != 1) {
			diag("row %zu: malformed CSV at byte %zu", i, pos);
			bad_rows = NROWS;
			break;
		}
		if (r.n != 13) {
			bad_len++;
			continue;
		}
		/* What a spreadsheet sees first in each cell. */
		for (size_t k = 0; k < r.n; k++) {
			char c0 = r.f[k][0];

			if (c0 == '=' || c0 == '+' || c0 == '-' || c0 == '@' ||
			    c0 == '\t' || c0 == '\r')
				unsafe++;
		}
		snprintf(num, sizeof(num), "%lld", (long long)v[i].id);
		if (strcmp(r.f[0], num) != 0)
			goto bad;
		snprintf(num, sizeof(num), "%d", v[i].spot_number);
		if (strcmp(r.f[1], num) != 0)
			goto bad;
		snprintf(num, sizeof(num), "%lld", (long long)v[i].spot_id);
		if (strcmp(r.f[2], num) != 0)
			goto bad;
		if (strcmp(unprefix(r.f[3]), v[i].lot_name) != 0 ||
		    strcmp(unprefix(r.f[4]), v[i].lot_address) != 0)
			goto bad;
		if (strcmp(r.f[5], time_iso(v[i].parking_ts, t)) != 0)
			goto bad;
		if (strcmp(r.f[6], v[i].leaving_ts ?
		    time_iso(v[i].leaving_ts, t) : "") != 0)
			goto bad;
		if (v[i].has_cost) {
			snprintf(num, sizeof(num), "%lld.%02lld",
			    v[i].cost_cents / 100, v[i].cost_cents % 100);
			if (strcmp(r.f[8], num) != 0)
				goto bad;
		} else if (r.f[7][0] != '\0' || r.f[8][0] != '\0')
			goto bad;
		if (strcmp(r.f[9], "INR") != 0 ||
		    strcmp(r.f[10], v[i].status) != 0 ||
		    strcmp(unprefix(r.f[11]), v[i].remarks ? v[i].remarks :
		    "") != 0 ||
		    strcmp(r.f[12], time_iso(v[i].created_at, t)) != 0)
			goto bad;
		continue;
bad:
		if (bad_rows++ < 3)
			diag("row %zu does not read back", i);
	}
	is_int(bad_len, 0, "every row has 13 fields");
	is_int(bad_rows, 0, "%d random rows read back to the values written "
	    "(one leading ' dropped from text cells)", NROWS);
	is_int(unsafe, 0, "no cell starts with = + - @ TAB or CR");
	ok(rec_read(out.p, out.len, &pos, &r) == 0, "nothing after the last "
	    "row");
	rec_free(&r);
	free(r.f);
	free(r.quoted);
	for (i = 0; i < 3 * NROWS; i++)
		free(texts[i]);
	free(texts);
	free(v);
	buf_free(&out);
}

static void
test_names_links(void)
{
	static const char *const good[] = {
		"parking_1_20261126142501_897120.csv",
		"parking_9007199254740991_20261126142501_abcdef.csv",
	};
	static const char *const bad[] = {
		"", "parking_.csv", "parking_0_20261126142501_897120.csv",
		"parking_01_20261126142501_897120.csv",
		"parking_1_2026112614250_897120.csv",
		"parking_1_20261126142501_89712.csv",
		"parking_1_20261126142501_89712G.csv",
		"parking_1_20261126142501_ABCDEF.csv",
		"parking_1_20261126142501_897120.csv.exe",
		"parking_1_20261126142501_897120.CSV",
		"parking_1_20261126142501_897120csv",
		"../parking_1_20261126142501_897120.csv",
		"parking_1_20261126142501_897120.csv/..",
		"/etc/passwd", "..", ".", "%2e%2e",
		"parking_1/../20261126142501_897120.csv",
		".tmp-00000000000000000000000000000000-00000000.csv",
		"parking_-1_20261126142501_897120.csv",
		"parking_1_20261126142501_897120.csv ",
		" parking_1_20261126142501_897120.csv",
		"parking_12345678901234567890_20261126142501_897120.csv",
	};
	static char key1[] = "a-test-secret-of-at-least-32-bytes-0123456789";
	static char key2[] = "another-secret-of-at-least-32-bytes-0123456789";
	const char *f = good[0], *task = "0123456789abcdef0123456789abcdef";
	struct buf t = { 0 }, u = { 0 };
	char id[33];
	size_t i;
	int64_t now = park_now();

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(exports_name_ok(good[i]), "name %s: ours", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!exports_name_ok(bad[i]), "name \"%s\": refused", bad[i]);
	ok(!exports_name_ok(NULL), "name NULL: refused");

	conf.jwt_secret_key = key1;
	exports_link_token(task, f, now + 600, &t);
	ok(exports_link_check(t.p, f, id) == TOK_OK && strcmp(id, task) == 0,
	    "a link token checks, and names its task");
	ok(exports_link_check(t.p, good[1], id) == TOK_INVALID && id[0] == 0,
	    "the token of another file: invalid");
	buf_reset(&u);
	buf_puts(&u, t.p);
	u.p[u.len - 1] = u.p[u.len - 1] == 'A' ? 'B' : 'A';
	ok(exports_link_check(u.p, f, id) == TOK_INVALID,
	    "a changed signature: invalid");
	buf_reset(&u);
	buf_printf(&u, "%s.%lld.%s", task, (long long)(now + 601),
	    strrchr(t.p, '.') + 1);
	ok(exports_link_check(u.p, f, id) == TOK_INVALID,
	    "a changed expiry: invalid");
	buf_reset(&u);
	buf_puts(&u, t.p);
	u.p[0] = u.p[0] == '0' ? '1' : '0';
	ok(exports_link_check(u.p, f, id) == TOK_INVALID,
	    "a changed task id: invalid");
	buf_reset(&u);
	exports_link_token(task, f, now - 1, &u);
	ok(exports_link_check(u.p, f, id) == TOK_EXPIRED,
	    "a well-signed token past its expiry: expired");
	ok(exports_link_check("", f, id) == TOK_INVALID &&
	    exports_link_check(task, f, id) == TOK_INVALID &&
	    exports_link_check(NULL, f, id) == TOK_INVALID,
	    "empty, bare task id, NULL: invalid");
	conf.jwt_secret_key = key2;
	ok(exports_link_check(t.p, f, id) == TOK_INVALID,
	    "the token under another JWT_SECRET_KEY: invalid");
	conf.jwt_secret_key = NULL;
	buf_free(&t);
	buf_free(&u);
}

int
main(void)
{
	test_names_links();
	test_cells();
	test_export_rows();
	test_round_trip();
	return done_testing();
}
