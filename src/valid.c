/*
 * valid.c: the validators of the input tables, pure functions.
 *
 * A validator gets a value whose JSON type is already checked (a string
 * without NUL, in req->pool) and returns NULL, or a short text saying what
 * the value must be ("must be 3 to 80 letters, digits or _"), which lands
 * in the "details" of a 400.  Validators that normalise (trim, lower-case,
 * strip) write the new string into req->pool and update *s and *len: the
 * caller's string is never changed in place.  No I/O, no other allocation.
 *
 * Lengths that the contract states in characters count code points, not
 * bytes.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "park.h"

long
utf8_next(const char *str, size_t len, size_t *i)
{
	const unsigned char *s = (const unsigned char *)str + *i;
	size_t left = len - *i, n, k;
	unsigned long cp, min;

	if (*i >= len)
		return -1;
	if (s[0] < 0x80) {
		(*i)++;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return -1; /* continuation byte, C0/C1 overlong lead, > F4 */
	if (left < n)
		return -1;
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n;
	return (long)cp;
}

int
valid_utf8_text(const char *s, size_t len, int allow_nl)
{
	size_t i = 0;
	long cp;

	while (i < len) {
		if ((cp = utf8_next(s, len, &i)) < 0)
			return 0;
		if (cp == '\t' || cp == '\n' || cp == '\r') {
			if (!allow_nl)
				return 0;
			continue;
		}
		/* C0, DEL and the C1 controls (U+0080 to U+009F, which some
		 * terminals obey as escape sequences). */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0;
	}
	return 1;
}

/* Returns the number of code points of valid UTF-8 text, or -1. */
static long
utf8_count(const char *s, size_t len)
{
	size_t i = 0;
	long n = 0;

	while (i < len) {
		if (utf8_next(s, len, &i) < 0)
			return -1;
		n++;
	}
	return n;
}

/* Trims spaces and tabs at both ends, giving the new start and length;
 * returns 1 when something was trimmed. */
static int
trim(const char **s, size_t *len)
{
	const char *p = *s;
	size_t n = *len;

	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (p == *s && n == *len)
		return 0;
	*s = p;
	*len = n;
	return 1;
}

/* Stores a normalised copy of p (n bytes) in the pool as the new value. */
static void
set_value(struct req *req, char **s, size_t *len, const char *p, size_t n)
{
	*s = pool_strndup(&req->pool, p, n);
	*len = n;
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int
to_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
to_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* ^[A-Za-z0-9_]{3,80}$ */
const char *
valid_username(struct req *req, char **s, size_t *len)
{
	size_t i;

	(void)req;
	if (*len < 3 || *len > 80)
		goto bad;
	for (i = 0; i < *len; i++)
		if (!is_alnum((unsigned char)(*s)[i]) && (*s)[i] != '_')
			goto bad;
	return NULL;
bad:
	return "must be 3 to 80 letters, digits or _";
}

/* The atext of RFC 5322 (dots are checked apart). */
static int
is_atext(int c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~",
	    c) != NULL);
}

/*
 * A dot-atom local part of 1 to 64 characters, '@', and a domain of at
 * least two labels of letters, digits and inner hyphens (1 to 63 each),
 * whose last label is 2 or more letters; at most 254 bytes in all after
 * trimming.  Stored lower-case.  The set excludes CR, LF, NUL, spaces, <, >
 * and double quotes, which would reach SMTP commands and headers.
 */
const char *
valid_email(struct req *req, char **s, size_t *len)
{
	const char *p = *s, *at, *d, *lab;
	size_t n = *len, local, i, lablen;
	int dots = 0, alpha_tld;
	char *out;

	trim(&p, &n);
	if (n == 0)
		return "must be an e-mail address";
	if (n > 254)
		return "must be at most 254 characters";
	if ((at = memchr(p, '@', n)) == NULL ||
	    memchr(at + 1, '@', n - (size_t)(at - p) - 1) != NULL)
		return "must be an e-mail address with one @";
	local = (size_t)(at - p);
	if (local < 1 || local > 64)
		return "must have 1 to 64 characters before the @";
	for (i = 0; i < local; i++) {
		if (p[i] == '.') {
			if (i == 0 || i == local - 1 || p[i - 1] == '.')
				goto bad;
		} else if (!is_atext((unsigned char)p[i]))
			goto bad;
	}
	d = at + 1;
	lab = d;
	alpha_tld = 1;
	for (;;) {
		const char *e = lab;

		while (e < p + n && *e != '.')
			e++;
		lablen = (size_t)(e - lab);
		if (lablen < 1 || lablen > 63 || lab[0] == '-' ||
		    lab[lablen - 1] == '-')
			goto bad;
		alpha_tld = lablen >= 2;
		for (i = 0; i < lablen; i++) {
			if (!is_alnum((unsigned char)lab[i]) && lab[i] != '-')
				goto bad;
			if (!is_alpha((unsigned char)lab[i]))
				alpha_tld = 0;
		}
		if (e == p + n)
			break;
		dots++;
		lab = e + 1;
	}
	if (dots == 0 || !alpha_tld)
		goto bad;
	out = pool_alloc(&req->pool, n + 1);
	for (i = 0; i < n; i++)
		out[i] = (char)to_lower((unsigned char)p[i]);
	out[n] = '\0';
	*s = out;
	*len = n;
	return NULL;
bad:
	return "must be a valid e-mail address";
}

/* 8 to 128 characters of valid UTF-8 without control characters; never
 * trimmed (a space is a character like any other). */
const char *
valid_password(struct req *req, char **s, size_t *len)
{
	long n;

	(void)req;
	if (!valid_utf8_text(*s, *len, 0))
		return "must be text without control characters";
	n = utf8_count(*s, *len);
	if (n < 8 || n > 128)
		return "must be 8 to 128 characters";
	return NULL;
}

/*
 * ^\+?\d{10,15}$ once spaces, '-', '(' and ')' are removed; the value
 * becomes that compact form.  An empty value (or one of separators only)
 * is accepted and becomes "": the phone is optional, so "" means none.
 */
const char *
valid_phone(struct req *req, char **s, size_t *len)
{
	const char *p = *s;
	char *out;
	size_t i, o = 0, digits = 0;

	if (*len > 64)
		goto bad;
	out = pool_alloc(&req->pool, *len + 1);
	for (i = 0; i < *len; i++) {
		if (p[i] == ' ' || p[i] == '-' || p[i] == '(' || p[i] == ')')
			continue;
		if (p[i] == '+' && o == 0)
			out[o++] = '+';
		else if (is_digit((unsigned char)p[i])) {
			out[o++] = p[i];
			digits++;
		} else
			goto bad;
	}
	out[o] = '\0';
	if (o > 0 && (digits < 10 || digits > 15))
		goto bad;
	*s = out;
	*len = o;
	return NULL;
bad:
	return "must be 10 to 15 digits, optionally after a +";
}

/* A letter of the lot-name alphabet: ASCII, or Latin-1 and Latin
 * Extended-A/B letters (U+00C0 to U+024F without the signs x and /). */
static int
is_name_letter(long cp)
{
	if (cp < 0x80)
		return is_alpha((int)cp);
	return cp >= 0xc0 && cp <= 0x24f && cp != 0xd7 && cp != 0xf7;
}

/* Trimmed, 3 to 100 characters of letters, digits, spaces and -.,' */
const char *
valid_lot_name(struct req *req, char **s, size_t *len)
{
	const char *p = *s;
	size_t n = *len, i = 0;
	long cp, count = 0;

	trim(&p, &n);
	while (i < n) {
		if ((cp = utf8_next(p, n, &i)) < 0)
			goto bad;
		if (!is_name_letter(cp) && !(cp >= '0' && cp <= '9') &&
		    cp != ' ' && cp != '-' && cp != '.' && cp != ',' &&
		    cp != '\'')
			goto bad;
		count++;
	}
	if (count < 3 || count > 100)
		goto bad;
	if (p != *s || n != *len)
		set_value(req, s, len, p, n);
	return NULL;
bad:
	return "must be 3 to 100 letters, digits, spaces or -.,'";
}

/* Trimmed, 10 to 500 characters, no control characters. */
const char *
valid_address(struct req *req, char **s, size_t *len)
{
	const char *p = *s;
	size_t n = *len;
	long count;

	trim(&p, &n);
	if (!valid_utf8_text(p, n, 0))
		return "must be text without control characters";
	count = utf8_count(p, n);
	if (count < 10 || count > 500)
		return "must be 10 to 500 characters";
	if (p != *s || n != *len)
		set_value(req, s, len, p, n);
	return NULL;
}

/* A string of 6 to 10 digits (leading zeros kept: it is not a number). */
const char *
valid_pin_code(struct req *req, char **s, size_t *len)
{
	size_t i;

	(void)req;
	if (*len < 6 || *len > 10)
		goto bad;
	for (i = 0; i < *len; i++)
		if (!is_digit((unsigned char)(*s)[i]))
			goto bad;
	return NULL;
bad:
	return "must be 6 to 10 digits";
}

/* HH:MM from 00:00 to 23:59, both digits always written. */
const char *
valid_hhmm(struct req *req, char **s, size_t *len)
{
	const char *p = *s;
	int h, m;

	(void)req;
	if (*len != 5 || !is_digit((unsigned char)p[0]) ||
	    !is_digit((unsigned char)p[1]) || p[2] != ':' ||
	    !is_digit((unsigned char)p[3]) || !is_digit((unsigned char)p[4]))
		goto bad;
	h = (p[0] - '0') * 10 + (p[1] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (h > 23 || m > 59)
		goto bad;
	return NULL;
bad:
	return "must be a time HH:MM from 00:00 to 23:59";
}

/* A reservation status: active, completed, cancelled, reserved or
 * no_show. */
const char *
valid_resv_status(struct req *req, char **s, size_t *len)
{
	(void)req;
	(void)len;
	if (strcmp(*s, "active") == 0 || strcmp(*s, "completed") == 0 ||
	    strcmp(*s, "cancelled") == 0 || strcmp(*s, "reserved") == 0 ||
	    strcmp(*s, "no_show") == 0)
		return NULL;
	return "must be active, completed, cancelled, reserved or no_show";
}

/*
 * One end of a window: RFC 3339 with Z or an offset, on the grid of
 * PARKD_RESERVATION_GRID_MINUTES.  The text is left as it is; the handler
 * reads the instant with time_parse_rfc3339() and checks the window as a
 * whole (length, past, how far ahead).
 */
const char *
valid_window_time(struct req *req, char **s, size_t *len)
{
	int64_t t;
	int frac;

	(void)len;
	if ((t = time_parse_rfc3339(*s, &frac)) < 0)
		return "must be a time like 2026-11-26T09:00:00Z or "
		    "2026-11-26T10:00:00+01:00 (RFC 3339)";
	if (frac || t % ((int64_t)conf.resv_grid_min * 60) != 0)
		return pool_printf(&req->pool, "must be on the %d-minute grid",
		    conf.resv_grid_min);
	return NULL;
}

/* A day YYYY-MM-DD (read in the site's time zone by the handler). */
const char *
valid_date(struct req *req, char **s, size_t *len)
{
	int y, m, d;

	(void)req;
	(void)len;
	if (time_parse_date(*s, &y, &m, &d) != 0)
		return "must be a date YYYY-MM-DD";
	return NULL;
}

/* The word true or false (a query parameter). */
const char *
valid_truth(struct req *req, char **s, size_t *len)
{
	(void)req;
	(void)len;
	if (strcmp(*s, "true") == 0 || strcmp(*s, "false") == 0)
		return NULL;
	return "must be true or false";
}

/* A date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM:SSZ (UTC). */
const char *
valid_iso_time(struct req *req, char **s, size_t *len)
{
	(void)req;
	(void)len;
	if (time_parse_iso(*s) < 0)
		return "must be a date YYYY-MM-DD or a time "
		    "YYYY-MM-DDTHH:MM:SSZ";
	return NULL;
}

/*
 * 1 to 20 letters, digits, spaces or '-', with at least one letter or
 * digit; stored upper-case without spaces ("ka 01-ab 1234" becomes
 * "KA01-AB1234").
 */
const char *
valid_vehicle(struct req *req, char **s, size_t *len)
{
	const char *p = *s;
	char *out;
	size_t i, o = 0;
	int alnum = 0;

	if (*len < 1 || *len > 20)
		goto bad;
	out = pool_alloc(&req->pool, *len + 1);
	for (i = 0; i < *len; i++) {
		if (p[i] == ' ')
			continue;
		if (is_alnum((unsigned char)p[i]))
			alnum = 1;
		else if (p[i] != '-')
			goto bad;
		out[o++] = (char)to_upper((unsigned char)p[i]);
	}
	if (!alnum)
		goto bad;
	out[o] = '\0';
	*s = out;
	*len = o;
	return NULL;
bad:
	return "must be 1 to 20 letters, digits, spaces or -";
}

/* Exactly 32 lowercase hex characters (128 random bits, as we make them). */
const char *
valid_token_id(struct req *req, char **s, size_t *len)
{
	size_t i;
	char c;

	(void)req;
	if (*len != 32)
		goto bad;
	for (i = 0; i < 32; i++) {
		c = (*s)[i];
		if (!is_digit((unsigned char)c) && !(c >= 'a' && c <= 'f'))
			goto bad;
	}
	return NULL;
bad:
	return "must be 32 lowercase hex characters";
}
