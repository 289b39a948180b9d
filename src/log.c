/*
 * log.c: one line per event on stderr, which journald (or dev/run) keeps.
 * Lines carry the program name, pid and level; request lines are built by
 * front.c with text_escape_log() so no control character reaches the log.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "park.h"

static const char *log_prog = PARK_NAME;

void
log_init(const char *prog)
{
	log_prog = prog;
}

/* Appends "<prio>prog[pid]: " to line. */
static void
log_head(struct buf *line, int prio)
{
	buf_putc(line, '<');
	buf_uint(line, (unsigned)prio);
	buf_putc(line, '>');
	buf_puts(line, log_prog);
	buf_putc(line, '[');
	buf_uint(line, (unsigned long long)park_pid());
	buf_puts(line, "]: ");
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info",
	    "debug" };
	/* journald reads <N> prefixes as syslog priorities. */
	static const int prio[] = { 3, 4, 6, 7 };
	struct buf raw = { 0 }, line = { 0 };
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&raw, fmt, ap);
	va_end(ap);
	log_head(&line, prio[lvl]);
	buf_puts(&line, names[lvl]);
	buf_puts(&line, ": ");
	/* Messages may quote input (a file line, a header): escape it. */
	text_escape_log(&line, raw.p, raw.len);
	buf_putc(&line, '\n');
	(void)fwrite(line.p, 1, line.len, stderr);
	fflush(stderr);
	buf_free(&raw);
	buf_free(&line);
}

void
log_raw(enum log_level lvl, const char *text, size_t len)
{
	static const int prio[] = { 3, 4, 6, 7 };
	struct buf line = { 0 };

	log_head(&line, prio[lvl]);
	buf_add(&line, text, len);
	buf_putc(&line, '\n');
	(void)fwrite(line.p, 1, line.len, stderr);
	fflush(stderr);
	buf_free(&line);
}
