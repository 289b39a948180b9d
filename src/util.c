/*
 * util.c: allocation that never fails, growable buffers, the per-request
 * pool, clocks, text escaping for logs, and client address groups.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "park.h"

void
fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fatal: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n ? n : 1)) == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void *p;

	if ((p = calloc(n ? n : 1, sz ? sz : 1)) == NULL)
		fatal("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void *p;

	if ((p = realloc(old, n ? n : 1)) == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

/* ---- struct buf ---- */

/* Makes room for n more bytes plus the terminating NUL. */
static void
buf_grow(struct buf *b, size_t n)
{
	size_t want;

	if (n > SIZE_MAX / 2 - b->len)
		fatal("buffer too large");
	want = b->len + n + 1;
	if (want <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < want)
		b->cap *= 2;
	b->p = xrealloc(b->p, b->cap);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_grow(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	buf_grow(b, 64);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	if (n < 0)
		fatal("vsnprintf failed");
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
	}
	va_end(ap2);
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
buf_uint(struct buf *b, unsigned long long v)
{
	char d[24], *p = d + sizeof(d);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- struct pool ---- */

#define POOL_BLOCK 16384

struct pool_block {
	struct pool_block *next;
	size_t size, used;
	/* Followed by the data, 16-aligned. */
	_Alignas(16) unsigned char data[];
};

void *
pool_alloc(struct pool *p, size_t n)
{
	struct pool_block *b = p->head;
	size_t sz;
	void *r;

	n = (n + 15) & ~(size_t)15;
	if (b == NULL || b->size - b->used < n) {
		sz = n > POOL_BLOCK ? n : POOL_BLOCK;
		b = xmalloc(sizeof(*b) + sz);
		b->size = sz;
		b->used = 0;
		/* A large one-off allocation goes behind the current block so
		 * the block with free room stays first. */
		if (n > POOL_BLOCK && p->head != NULL) {
			b->next = p->head->next;
			p->head->next = b;
		} else {
			b->next = p->head;
			p->head = b;
		}
	}
	r = b->data + b->used;
	b->used += n;
	p->used += n;
	memset(r, 0, n);
	return r;
}

char *
pool_strndup(struct pool *p, const char *s, size_t n)
{
	char *r = pool_alloc(p, n + 1);

	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

char *
pool_strdup(struct pool *p, const char *s)
{
	return pool_strndup(p, s, strlen(s));
}

char *
pool_printf(struct pool *p, const char *fmt, ...)
{
	va_list ap;
	char *r;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("vsnprintf failed");
	r = pool_alloc(p, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(r, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return r;
}

void
pool_reset(struct pool *p)
{
	struct pool_block *b, *next;

	if (p->head == NULL)
		return;
	/* Keep the first normal-sized block: most requests fit in it, so a
	 * busy worker does not call malloc per request. */
	for (b = p->head->next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	if (p->head->size > POOL_BLOCK) {
		free(p->head);
		p->head = NULL;
	} else {
		p->head->next = NULL;
		p->head->used = 0;
	}
	p->used = 0;
}

void
pool_free(struct pool *p)
{
	pool_reset(p);
	free(p->head);
	p->head = NULL;
}

/* ---- time ---- */

int64_t
park_now(void)
{
	static int checked;
	static int64_t fake;
	const char *s;

	if (!checked) {
		checked = 1;
		if ((s = getenv("PARKD_FAKE_NOW")) != NULL && *s != '\0')
			fake = strtoll(s, NULL, 10);
	}
	if (fake > 0)
		return fake;
	return (int64_t)time(NULL);
}

/* getpid() is a system call each time: the pid is kept, and set again in
 * every child of fork(). */
static pid_t park_pid_v;

static void
park_pid_forked(void)
{
	park_pid_v = getpid();
}

pid_t
park_pid(void)
{
	if (park_pid_v == 0) {
		pthread_atfork(NULL, NULL, park_pid_forked);
		park_pid_v = getpid();
	}
	return park_pid_v;
}

int64_t
park_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes n digits of v into p, zero-padded. */
static void
put_digits(char *p, long v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

char *
time_local_text(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(out, cap, "%Y-%m-%d %H:%M %Z", &tm) == 0)
		(void)time_iso(t, out); /* cap >= 21: the caller's contract */
	return out;
}

char *
time_iso(int64_t t, char *out)
{
	int64_t days, secs, era, z;
	long doe, yoe, doy, mp, y, m, d;

	/* gmtime_r and strftime cost some 1,350 instructions a time, and a
	 * list writes several times per row: the civil-from-days algorithm
	 * (H. Hinnant) does it in a few dozen.  Years 0000..9999 only. */
	if (t < -62167219200LL || t > 253402300799LL)
		t = 0;
	days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	secs = t - days * 86400;
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (long)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (long)(yoe + era * 400);
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 'T';
	put_digits(out + 11, (long)(secs / 3600), 2);
	out[13] = ':';
	put_digits(out + 14, (long)(secs % 3600 / 60), 2);
	out[16] = ':';
	put_digits(out + 17, (long)(secs % 60), 2);
	out[19] = 'Z';
	out[20] = '\0';
	return out;
}

/* Reads exactly n digits; returns the value or -1. */
static int
digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int64_t
time_parse_iso(const char *s)
{
	struct tm tm;
	size_t n = strlen(s);
	int y, mo, d, h = 0, mi = 0, sec = 0;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (n != 10 && n != 20)
		return -1;
	if ((y = digits(s, 4)) < 1970 || s[4] != '-' ||
	    (mo = digits(s + 5, 2)) < 1 || mo > 12 || s[7] != '-' ||
	    (d = digits(s + 8, 2)) < 1 || d > mdays[mo - 1])
		return -1;
	if (n == 20) {
		if (s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		    s[19] != 'Z' ||
		    (h = digits(s + 11, 2)) < 0 || h > 23 ||
		    (mi = digits(s + 14, 2)) < 0 || mi > 59 ||
		    (sec = digits(s + 17, 2)) < 0 || sec > 59)
			return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	/* February 29th of a common year: timegm normalises it to March. */
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return -1;
	return (int64_t)timegm(&tm);
}

/*
 * RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 'T' and
 * 'Z' in either case (RFC 3339 5.6).  Returns the UTC instant in seconds,
 * or -1.  *frac is set when the fraction is not zero (the caller decides
 * whether a part of a second is allowed).  Leap seconds (:60) are refused:
 * no grid has them.
 */
int64_t
time_parse_rfc3339(const char *s, int *frac)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh, om, sign;
	size_t i;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	*frac = 0;
	if (strlen(s) < 20)
		return -1;
	if ((y = digits(s, 4)) < 1970 || s[4] != '-' ||
	    (mo = digits(s + 5, 2)) < 1 || mo > 12 || s[7] != '-' ||
	    (d = digits(s + 8, 2)) < 1 || d > mdays[mo - 1] ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
	    (h = digits(s + 11, 2)) < 0 || h > 23 ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 ||
	    (sec = digits(s + 17, 2)) < 0 || sec > 59)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return -1;
	i = 19;
	if (s[i] == '.') {
		if (s[++i] < '0' || s[i] > '9')
			return -1;
		for (; s[i] >= '0' && s[i] <= '9'; i++)
			if (s[i] != '0')
				*frac = 1;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0')
		oh = om = sign = 0;
	else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 &&
	    s[i + 3] == ':' && (oh = digits(s + i + 1, 2)) >= 0 && oh <= 23 &&
	    (om = digits(s + i + 4, 2)) >= 0 && om <= 59)
		sign = s[i] == '+' ? 1 : -1;
	else
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	/* local time = UTC + offset */
	return (int64_t)timegm(&tm) - sign * (int64_t)(oh * 3600 + om * 60);
}

int
time_zone_ok(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[512];
	size_t i, n = strlen(name);

	if (strcmp(name, "UTC") == 0)
		return 1;
	/* a relative name of letters, digits, "_+-/" and no ".." component:
	 * never a path out of the database */
	if (n == 0 || n > 64 || name[0] == '/' || strstr(name, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		    name[i] == '+' || name[i] == '-' || name[i] == '/'))
			return 0;
	snprintf(path, sizeof(path), "%s/%s", dir != NULL && *dir != '\0' ?
	    dir : "/usr/share/zoneinfo", name);
	return access(path, R_OK) == 0;
}

void
time_zone_set(const char *name)
{
	/* glibc reads TZ at tzset() and keeps the rules: localtime_r() and
	 * mktime() then need no lock of ours and read no file per call. */
	setenv("TZ", name, 1);
	tzset();
}

int64_t
time_local(int y, int mo, int d, int minute)
{
	struct tm tm, c;
	time_t wall, t[2], back;
	int k, good[2];

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = minute / 60;
	tm.tm_min = minute % 60;
	/* the wall-clock time as a plain count (d past the month's end
	 * normalised), to tell which readings of it are real */
	c = tm;
	wall = timegm(&c);
	/* Read it as standard and as summer time.  glibc's mktime() with
	 * tm_isdst -1 picks either for a time the autumn change repeats,
	 * after the offset of its previous call: an answer that would
	 * depend on what the worker did before. */
	for (k = 0; k < 2; k++) {
		c = tm;
		c.tm_isdst = k;
		t[k] = mktime(&c);
		good[k] = 0;
		if (t[k] != (time_t)-1 && localtime_r(&t[k], &c) != NULL) {
			back = timegm(&c);
			good[k] = back == wall;
		}
	}
	/* a time the autumn change repeats: its first occurrence (the
	 * earlier instant); an ordinary time: its one reading */
	if (good[0] && good[1])
		return (int64_t)(t[0] < t[1] ? t[0] : t[1]);
	if (good[0] || good[1])
		return (int64_t)(good[0] ? t[0] : t[1]);
	/* a time in the gap of the spring change moves on by the gap: read
	 * with the offset before the change, the later instant */
	if (t[0] != (time_t)-1 && t[1] != (time_t)-1)
		return (int64_t)(t[0] > t[1] ? t[0] : t[1]);
	c = tm;
	c.tm_isdst = -1;
	return (int64_t)mktime(&c);
}

int
time_parse_date(const char *s, int *y, int *mo, int *d)
{
	int64_t t;

	if (strlen(s) != 10 || (t = time_parse_iso(s)) < 0)
		return -1;
	*y = digits(s, 4);
	*mo = digits(s + 5, 2);
	*d = digits(s + 8, 2);
	return 0;
}

/* Minutes of "HH:MM"; -1 when not. */
static int
hhmm_minutes(const char *s)
{
	int h, m;

	if (s == NULL || strlen(s) != 5 || s[2] != ':' ||
	    (h = digits(s, 2)) < 0 || h > 23 || (m = digits(s + 3, 2)) < 0 ||
	    m > 59)
		return -1;
	return h * 60 + m;
}

void
time_hours_of_day(const char *open, const char *close, int y, int mo, int d,
    int64_t *from, int64_t *to)
{
	int a = hhmm_minutes(open), b = hhmm_minutes(close);

	if (a < 0 || b < 0 || a == b) {
		/* always open (no hours, or "00:00"-"00:00"): the whole
		 * day, from midnight to midnight */
		*from = time_local(y, mo, d, 0);
		*to = time_local(y, mo, d + 1, 0);
		return;
	}
	*from = time_local(y, mo, d, a);
	/* closing at or before opening: open over midnight */
	*to = b > a ? time_local(y, mo, d, b) : time_local(y, mo, d + 1, b);
}

int
time_in_hours(const char *open, const char *close, int64_t s, int64_t e)
{
	struct tm tm;
	time_t t = (time_t)s;
	int64_t from, to;
	int k;

	if (hhmm_minutes(open) < 0 || hhmm_minutes(close) < 0 ||
	    hhmm_minutes(open) == hhmm_minutes(close))
		return 1;
	localtime_r(&t, &tm);
	/* The period of the local day of s, or of the day before (hours
	 * over midnight); s must be in it and e at most its end. */
	for (k = 0; k >= -1; k--) {
		time_hours_of_day(open, close, tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday + k, &from, &to);
		if (from <= s && s < to)
			return e <= to;
	}
	return 0;
}

/* ---- text ---- */

/* Appends s escaped; with ascii, every byte from 0x80 too. */
static void
text_escape(struct buf *b, const char *s, size_t n, int ascii)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' ||
		    (ascii && c >= 0x80)) {
			buf_putc(b, '\\');
			switch (c) {
			case '"':
			case '\\':
				buf_putc(b, (char)c);
				break;
			case '\n':
				buf_putc(b, 'n');
				break;
			case '\r':
				buf_putc(b, 'r');
				break;
			case '\t':
				buf_putc(b, 't');
				break;
			default:
				buf_putc(b, 'x');
				buf_putc(b, hex[c >> 4]);
				buf_putc(b, hex[c & 15]);
				break;
			}
		} else
			buf_putc(b, (char)c);
	}
}

void
text_escape_log(struct buf *b, const char *s, size_t n)
{
	text_escape(b, s, n, 0);
}

void
text_escape_ascii(struct buf *b, const char *s, size_t n)
{
	text_escape(b, s, n, 1);
}

int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- client addresses ---- */

const char *
addr_group(struct pool *p, const char *addr)
{
	struct in6_addr a6;
	char txt[INET6_ADDRSTRLEN];

	if (addr == NULL || *addr == '\0')
		return "-";
	if (strchr(addr, ':') == NULL || inet_pton(AF_INET6, addr, &a6) != 1)
		return addr;
	/* An IPv4 client seen through an IPv6 socket is that IPv4 client. */
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		if (inet_ntop(AF_INET, &a6.s6_addr[12], txt, sizeof(txt)) ==
		    NULL)
			return addr;
		return pool_strdup(p, txt);
	}
	/* One subscriber gets a whole /64 (RFC 6177): counted per address,
	 * each of its 2^64 addresses would have its own tries. */
	memset(&a6.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &a6, txt, sizeof(txt)) == NULL)
		return addr;
	return pool_printf(p, "%s/64", txt);
}
