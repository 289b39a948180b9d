/*
 * csv.c: the CSV writer of the exports, as pure functions (no I/O, no
 * database): RFC 4180 cells and rows, and the export's header and row.
 *
 * - Cells holding '"', ',', CR or LF are quoted, quotes doubled (RFC 4180
 *   2.6, 2.7); rows end with CRLF.
 * - Formula injection (OWASP ASVS 5.0 1.2.10): a cell whose value starts
 *   with '=', '+', '-', '@', TAB or CR would be run by a spreadsheet, so
 *   it is written with a "'" in front.  A value that itself starts with
 *   "'" gets one too, so that the rule reads back without ambiguity: a
 *   reader drops one leading "'" of any cell, and a spreadsheet hides it.
 *   The numbers and times we write never start with any of these (none is
 *   negative), so they never get it.
 * - The output is always UTF-8: the database holds validated UTF-8, and a
 *   byte sequence that is not (a row written by hand) becomes U+FFFD.  No
 *   byte-order mark (the old backend wrote none; a header compared as text
 *   would not match).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "park.h"

/* The currency of every amount (the contract names none; the old backend's
 * lots carry Indian PIN codes and prices in rupees). */
#define CSV_CURRENCY "INR"

/* The contract's columns, in order. */
static const char *const columns[] = {
	"reservation_id", "slot_id", "spot_id", "parking_lot_name",
	"parking_lot_address", "parking_timestamp", "leaving_timestamp",
	"duration_hours", "parking_cost", "currency", "status", "remarks",
	"created_at",
};

#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

/* 1 when a cell starting with byte c needs the "'" prefix. */
static int
needs_prefix(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' ||
	    c == '\r' || c == '\'';
}

/* Appends s as valid UTF-8, doubling quotes when quoted != 0. */
static void
put_text(struct buf *b, const char *s, size_t n, int quoted)
{
	size_t i = 0, start;

	while (i < n) {
		start = i;
		if (utf8_next(s, n, &i) < 0) {
			buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD */
			i = start + 1;
			continue;
		}
		if (quoted && s[start] == '"')
			buf_putc(b, '"');
		buf_add(b, s + start, i - start);
	}
}

void
csv_cell(struct buf *b, int first, const char *s, size_t n)
{
	int prefix, quote;

	if (!first)
		buf_putc(b, ',');
	if (s == NULL || n == 0)
		return;
	prefix = needs_prefix(s[0]);
	quote = memchr(s, '"', n) != NULL || memchr(s, ',', n) != NULL ||
	    memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL;
	if (quote)
		buf_putc(b, '"');
	if (prefix)
		buf_putc(b, '\'');
	put_text(b, s, n, quote);
	if (quote)
		buf_putc(b, '"');
}

void
csv_cell_str(struct buf *b, int first, const char *s)
{
	csv_cell(b, first, s, s != NULL ? strlen(s) : 0);
}

void
csv_row_end(struct buf *b)
{
	buf_puts(b, "\r\n");
}

void
csv_export_header(struct buf *b)
{
	size_t i;

	for (i = 0; i < NCOLUMNS; i++)
		csv_cell_str(b, i == 0, columns[i]);
	csv_row_end(b);
}

/* Writes v/100 with two decimals ("25.50"); v is never negative. */
static void
hundredths(char *out, size_t len, long long v)
{
	if (v < 0)
		v = 0;
	snprintf(out, len, "%lld.%02lld", v / 100, v % 100);
}

void
csv_export_row(struct buf *b, const struct export_row *v)
{
	char num[32], t[32];
	int64_t secs;

	snprintf(num, sizeof(num), "%lld", (long long)v->id);
	csv_cell_str(b, 1, num);
	snprintf(num, sizeof(num), "%d", v->spot_number);
	csv_cell_str(b, 0, num);
	snprintf(num, sizeof(num), "%lld", (long long)v->spot_id);
	csv_cell_str(b, 0, num);
	csv_cell_str(b, 0, v->lot_name);
	csv_cell_str(b, 0, v->lot_address);
	csv_cell_str(b, 0, v->parking_ts > 0 ? time_iso(v->parking_ts, t) :
	    NULL);
	csv_cell_str(b, 0, v->leaving_ts > 0 ? time_iso(v->leaving_ts, t) :
	    NULL);
	/* Hours to 2 decimals, rounded half up; empty while active (the
	 * stay has no end yet). */
	if (v->leaving_ts > 0) {
		secs = v->leaving_ts > v->parking_ts ?
		    v->leaving_ts - v->parking_ts : 0;
		hundredths(num, sizeof(num), (long long)((secs * 100 + 1800) /
		    3600));
		csv_cell_str(b, 0, num);
	} else
		csv_cell_str(b, 0, NULL);
	if (v->has_cost) {
		hundredths(num, sizeof(num), v->cost_cents);
		csv_cell_str(b, 0, num);
	} else
		csv_cell_str(b, 0, NULL);
	csv_cell_str(b, 0, CSV_CURRENCY);
	csv_cell_str(b, 0, v->status);
	csv_cell_str(b, 0, v->remarks);
	csv_cell_str(b, 0, v->created_at > 0 ? time_iso(v->created_at, t) :
	    NULL);
	csv_row_end(b);
}
