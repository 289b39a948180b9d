/*
 * fuzz-csv: the CSV writer, round trip (reliability.md plan row 20).  The
 * input is split into cells at 0x1f bytes; the row csv_cell() writes is
 * parsed back by a strict RFC 4180 reader here, and each cell must come
 * back as it went in, with the one "'" that formula escaping puts before
 * = + - @ TAB CR and '.  Cells of invalid UTF-8 are skipped (the writer
 * replaces them, by design).  The export file-name and link-token checks
 * get the same bytes, for crashes only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "park.h"

#define MAXCELLS 64

/* Reads one row of RFC 4180 CSV ending in CRLF; returns the number of
 * cells, or -1 when the text is not well-formed. */
static int
parse_row(const char *p, size_t n, struct buf *cells, int max)
{
	size_t i = 0;
	int nc = 0;

	for (;;) {
		if (nc == max)
			return -1;
		buf_reset(&cells[nc]);
		buf_add(&cells[nc], "", 0);
		if (i < n && p[i] == '"') {
			for (i++;; i++) {
				if (i >= n)
					return -1;
				if (p[i] == '"') {
					if (i + 1 < n && p[i + 1] == '"') {
						buf_putc(&cells[nc], '"');
						i++;
						continue;
					}
					i++;
					break;
				}
				buf_putc(&cells[nc], p[i]);
			}
		} else {
			for (; i < n && p[i] != ',' && p[i] != '\r'; i++) {
				if (p[i] == '"' || p[i] == '\n')
					return -1;
				buf_putc(&cells[nc], p[i]);
			}
		}
		nc++;
		if (i < n && p[i] == ',') {
			i++;
			continue;
		}
		if (i + 2 == n && p[i] == '\r' && p[i + 1] == '\n')
			return nc;
		return -1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct buf row, cells[MAXCELLS], want;
	const char *s = (const char *)data, *start[MAXCELLS];
	size_t len[MAXCELLS], i, k = 0, from = 0;
	char task[33];
	int n;

	for (i = 0; i <= size && k < MAXCELLS; i++) {
		if (i == size || data[i] == 0x1f) {
			start[k] = s + from;
			len[k++] = i - from;
			from = i + 1;
		}
	}
	for (i = 0; i < k; i++)
		if (memchr(start[i], 0, len[i]) != NULL ||
		    !valid_utf8_text(start[i], len[i], 1))
			return 0;
	buf_reset(&row);
	for (i = 0; i < k; i++)
		csv_cell(&row, i == 0, start[i], len[i]);
	csv_row_end(&row);
	if ((n = parse_row(row.p, row.len, cells, MAXCELLS)) < 0 ||
	    (size_t)n != k)
		abort();
	for (i = 0; i < k; i++) {
		buf_reset(&want);
		buf_add(&want, "", 0);
		if (len[i] > 0 && strchr("=+-@\t\r'", start[i][0]) != NULL)
			buf_putc(&want, '\'');
		buf_add(&want, start[i], len[i]);
		if (want.len != cells[i].len ||
		    memcmp(want.p, cells[i].p, want.len) != 0)
			abort();
	}

	/* Crash checks only: names and link tokens from the same bytes. */
	{
		static char secret[] =
		    "fuzz-secret-0123456789abcdef0123456789abcdef";
		char *t = malloc(size + 1);

		conf.jwt_secret_key = secret;
		memcpy(t, data, size);
		t[size] = '\0';
		(void)exports_name_ok(t);
		(void)exports_link_check(t, "parking_1_20261126120000_abcdef.csv",
		    task);
		free(t);
	}
	return 0;
}
