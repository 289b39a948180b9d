/*
 * db-import.c: "parkctl import-flask": the database of the earlier Flask
 * backend (../shared/docs/flask-database.md, both schema variants) into
 * parkd's, in one write transaction.
 *
 * This file is part of the data layer: it includes db-int.h and runs the
 * statements of stmt_sql[] (the STMT_IMPORT_* block) on parkd's connection.
 * The old file is opened on a second connection of its own, read-only (a
 * struct dbfile of db-sqlite.c: the file is SQLite whatever parkd's back
 * end, and only that file sees SQLite); its statements are the constant
 * texts of old_sql[] below rather than rows of stmt_sql[], because they name the old schema's tables and columns
 * (parking_lots, users.role, ...), which parkd's connection does not have:
 * db_prepare_all() would fail on them, and an ATTACH cannot be done inside
 * the write transaction.  Nothing is ever written to the old file.
 *
 * How it goes: check the old file (SQLite, not damaged, the expected tables
 * and columns), read it whole into memory (such a file holds thousands of
 * rows, not millions), then inside BEGIN IMMEDIATE decide each row's fate
 * and repairs, write users, lots, spots and reservations, record each in
 * import_map (sql/003-import.sql) and bump the "lots" cache generation;
 * COMMIT, or ROLLBACK for a dry run or on any error.
 *
 * The decisions (parkctl(8) documents them):
 * - A row keeps its old id when that id is free in parkd (always so on a
 *   new installation, so old ids stay valid), else it gets a new one.
 * - The file is named in import_map by a hash of its oldest user and
 *   oldest lot (id, created_at): a copy of the file, or the same file after
 *   the old backend ran on, is the same source, and only rows not yet
 *   imported are written.  Rows imported before are not updated, except
 *   that a reservation imported before sql/010-old-keys.sql gets the
 *   model, colour and expected leaving time the importer of then left out
 *   (backfill_resv()).  A row imported before but deleted in parkd since
 *   is imported again.
 * - Users: e-mail lower-cased.  Old users whose e-mails differ only in case
 *   become one: the one that logged in last (else the oldest) is kept, the
 *   others' reservations move to it.  An e-mail parkd already has is the
 *   same person: the old user's reservations go to that account, whose
 *   password stays.  Password hashes are kept as they are (pw.c verifies
 *   werkzeug's scrypt and pbkdf2 and re-hashes at the next login); a hash
 *   pw_parse() refuses is kept too and reported: that user needs a new
 *   password.  Rows of role admin are skipped: parkd's admin is configured.
 *   A taken or too short username gets "_<old id>" appended.
 * - Lots: price and costs to cents, rounding half away from zero; hours
 *   "HH:MM"; a lot has spots 1..N with N the larger of number_of_spots and
 *   its highest spot number: every old spot row is kept (it may have
 *   history) and missing numbers are added as free spots.
 * - Reservations: parking and leaving times are the old server's local
 *   time (--timezone), created_at and updated_at its UTC clock.  An active
 *   reservation stays active and occupies its spot, whatever the old spot
 *   status said; of two active ones on a spot the newest stays and the
 *   others are completed when it began, costed like a release (the hourly
 *   rate times the hours begun, at least one).  A leaving time before the
 *   parking time (mixed clocks) is moved to the parking time.  Vehicle
 *   model and colour (cut to 50 and 20 characters) and the expected
 *   leaving time (local time, like parking) go to their own columns
 *   (sql/010-old-keys.sql).
 * Each repair and each skipped row is one line of the report.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "db-int.h"

/* parkd's bounds (sql/001-schema.sql) that old rows must fit. */
#define MAX_SPOTS 1000
#define MAX_PRICE_CENTS 1000000
#define MAX_NAME 100
#define MAX_ADDRESS 500
#define MAX_PIN 10
#define MAX_USERNAME 80
#define MAX_EMAIL 254
#define MAX_PHONE 20
#define MAX_VEHICLE 20
#define MAX_MODEL 50
#define MAX_COLOR 20
/* A reported text is cut to this many bytes. */
#define SHOW 60

/*
 * THE statements of the old file, run on its own read-only connection (see
 * the comment at the top: they cannot be rows of stmt_sql[]).  Constant
 * texts, bound by position like every statement of parkd.
 */
enum old_stmt {
	OLD_QUICK_CHECK,
	OLD_TABLE_SQL,
	OLD_COLUMNS,
	OLD_BEGIN,
	OLD_END,
	OLD_FIRST_ROWS,
	OLD_USERS,
	OLD_LOTS,
	OLD_SPOTS,
	OLD_RESERVATIONS,
	OLD__COUNT
};

static const char *const old_sql[] = {
	/* at most 5 messages of damage */
	[OLD_QUICK_CHECK] = "PRAGMA quick_check(5)",
	[OLD_TABLE_SQL] =
	    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
	[OLD_COLUMNS] = "SELECT name FROM pragma_table_info(?)",
	/* one snapshot for every read, should the old backend still run */
	[OLD_BEGIN] = "BEGIN",
	[OLD_END] = "ROLLBACK",
	/* what names the file: rows the old backend never changes */
	[OLD_FIRST_ROWS] =
	    "SELECT (SELECT id || '|' || coalesce(created_at, '') FROM users"
	    " ORDER BY id LIMIT 1),"
	    " (SELECT id || '|' || coalesce(created_at, '') FROM parking_lots"
	    " ORDER BY id LIMIT 1)",
	[OLD_USERS] =
	    "SELECT id, username, email, password_hash, role, is_active, phone,"
	    " created_at, updated_at, last_login FROM users ORDER BY id",
	[OLD_LOTS] =
	    "SELECT id, prime_location_name, address, pin_code,"
	    " number_of_spots, price, is_active, description,"
	    " operating_hours_start, operating_hours_end, created_at,"
	    " updated_at FROM parking_lots ORDER BY id",
	[OLD_SPOTS] =
	    "SELECT id, lot_id, spot_number, status FROM parking_spots"
	    " ORDER BY id",
	[OLD_RESERVATIONS] =
	    "SELECT id, spot_id, user_id, parking_timestamp,"
	    " leaving_timestamp, parking_cost, hourly_rate, vehicle_number,"
	    " vehicle_model, vehicle_color, status, remarks, created_at,"
	    " updated_at, expected_leaving_time FROM reservations ORDER BY id",
};
_Static_assert(sizeof(old_sql) / sizeof(old_sql[0]) == OLD__COUNT,
    "old_sql[] must have one row per enum old_stmt");

/* The tables and columns a file must have to be the old backend's (both
 * variants have them all; more columns do no harm). */
static const struct {
	const char *table;
	const char *columns[16];
} old_tables[] = {
	{ "users", { "id", "username", "email", "password_hash", "role",
	    "is_active", "phone", "created_at", "updated_at", "last_login",
	    NULL } },
	{ "parking_lots", { "id", "prime_location_name", "address",
	    "pin_code", "number_of_spots", "price", "is_active", "description",
	    "operating_hours_start", "operating_hours_end", "created_at",
	    "updated_at", NULL } },
	{ "parking_spots", { "id", "lot_id", "spot_number", "status", NULL } },
	{ "reservations", { "id", "spot_id", "user_id", "parking_timestamp",
	    "leaving_timestamp", "parking_cost", "hourly_rate",
	    "vehicle_number", "vehicle_model", "vehicle_color", "status",
	    "remarks", "created_at", "updated_at", "expected_leaving_time",
	    NULL } },
};

/* The kinds of row, named as in import_map.kind. */
enum kind { K_USER, K_LOT, K_SPOT, K_RESV, K__COUNT };
static const char *const kind_name[] = { "user", "lot", "spot",
    "reservation" };
static const char *const kind_plural[] = { "users", "lots", "spots",
    "reservations" };

/* What becomes of an old row. */
enum fate {
	FATE_NEW,     /* written now */
	FATE_ALREADY, /* written by an earlier run, still there */
	FATE_MERGED,  /* becomes a row that exists (new_id) */
	FATE_SKIPPED, /* not imported; the report says why */
};

/* What every old row has. */
struct row {
	int64_t id;     /* in the old file */
	int64_t new_id; /* in parkd, once known */
	enum fate fate;
	int repaired;   /* at least one repair was reported */
	int again;      /* imported before, deleted in parkd since */
	int written;    /* inserted by this run */
};

struct o_user {
	struct row r;
	const char *username, *email, *hash, *phone;
	const char *shown; /* the e-mail as the old file has it (report) */
	int is_active, admin;
	int64_t created, updated, last_login; /* last_login 0: never */
	struct o_user *keeper; /* the user a case duplicate merges into */
};

struct o_lot {
	struct row r;
	const char *name, *address, *pin, *description;
	char hstart[6], hend[6]; /* "" when none */
	long long price;
	int old_spots;          /* number_of_spots, -1 when unreadable */
	int nrows, maxnum, nspots;
	int is_active;
	int64_t created, updated;
};

struct o_spot {
	struct row r;
	int64_t lot_id;
	int number;
	int marked; /* the old status was 'O' */
	int active; /* an imported active reservation occupies it */
	struct o_lot *lot;
};

struct o_resv {
	struct row r;
	int64_t spot_id, user_id;
	struct o_spot *spot;
	struct o_user *user;
	const char *vehicle, *status, *remarks;
	/* NULL when none (sql/010-old-keys.sql) */
	const char *model, *color;
	int model_flags, color_flags; /* clean()'s CLEAN_* */
	int64_t park, leave, created, updated; /* leave 0 while active */
	int64_t expected; /* 0: none; -1: unreadable */
	long long hourly, cost;
	int has_cost;
	/* What the importer before sql/010-old-keys.sql appended to the
	 * remarks instead of the model and colour, "[vehicle: Civic Red]";
	 * NULL when it appended nothing. */
	const char *old_tag;
};

struct count {
	long long read, imported, merged, already, skipped, repaired;
};

/* The state of one import. */
struct imp {
	const struct import_opts *o;
	struct buf *out, *err;
	struct pool pool;
	struct dbfile *old;
	struct dbstmt *ost[OLD__COUNT];
	char source[40];
	const char *variant;
	struct o_user *users;
	struct o_lot *lots;
	struct o_spot *spots;
	struct o_resv *resv;
	size_t nusers, nlots, nspots, nresv;
	struct count n[K__COUNT];
	int64_t now;
	long long filled;  /* rows imported before given their old keys */
	long long cleaned; /* ... and the old importer's tag removed */
	int tz_set;      /* TZ was changed: restore saved_tz */
	char *saved_tz;  /* NULL: TZ was unset */
};

static void line(struct imp *, const char *, enum kind, const struct row *,
    const char *, const char *, va_list) PARK_PRINTF(6, 0);
static void repair(struct imp *, enum kind, struct row *, const char *,
    const char *, ...) PARK_PRINTF(5, 6);
static void skip(struct imp *, enum kind, struct row *, const char *,
    const char *, ...) PARK_PRINTF(5, 6);
static void merged(struct imp *, enum kind, struct row *, const char *,
    const char *, ...) PARK_PRINTF(5, 6);
static void note(struct imp *, enum kind, struct row *, const char *,
    const char *, ...) PARK_PRINTF(5, 6);
static void filled(struct imp *, struct row *, const char *, ...)
    PARK_PRINTF(3, 4);

/* ---- the report ---- */

/* Appends "VERB KIND ID (LABEL): message" to the report. */
static void
line(struct imp *imp, const char *verb, enum kind k, const struct row *r,
    const char *label, const char *fmt, va_list ap)
{
	buf_printf(imp->out, "%s %s %lld", verb, kind_name[k],
	    (long long)r->id);
	if (label != NULL && *label != '\0')
		buf_printf(imp->out, " (%.*s)", SHOW, label);
	buf_puts(imp->out, ": ");
	buf_vprintf(imp->out, fmt, ap);
	buf_putc(imp->out, '\n');
}

/* Reports a repair of a row that is imported all the same. */
static void
repair(struct imp *imp, enum kind k, struct row *r, const char *label,
    const char *fmt, ...)
{
	va_list ap;

	r->repaired = 1;
	va_start(ap, fmt);
	line(imp, "repaired", k, r, label, fmt, ap);
	va_end(ap);
}

/* Skips a row, saying why. */
static void
skip(struct imp *imp, enum kind k, struct row *r, const char *label,
    const char *fmt, ...)
{
	va_list ap;

	r->fate = FATE_SKIPPED;
	va_start(ap, fmt);
	line(imp, "skipped", k, r, label, fmt, ap);
	va_end(ap);
}

/* Reports a row that becomes one that exists (r->new_id set by the
 * caller). */
static void
merged(struct imp *imp, enum kind k, struct row *r, const char *label,
    const char *fmt, ...)
{
	va_list ap;

	r->fate = FATE_MERGED;
	r->repaired = 1;
	va_start(ap, fmt);
	line(imp, "merged", k, r, label, fmt, ap);
	va_end(ap);
}

/* Reports what an operator should know that is not a repair. */
static void
note(struct imp *imp, enum kind k, struct row *r, const char *label,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line(imp, "note", k, r, label, fmt, ap);
	va_end(ap);
}

/* Reports old keys filled in for a reservation imported before. */
static void
filled(struct imp *imp, struct row *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line(imp, "filled", K_RESV, r, NULL, fmt, ap);
	va_end(ap);
}

/* ---- reading old values ---- */

/* Flags of clean(). */
enum { CLEAN_FIXED = 1, CLEAN_CUT = 2 };

/*
 * Copies the text s (NULL stays NULL) into the pool as valid UTF-8: an
 * invalid byte becomes '?', a control character a space (tab, CR and LF
 * are kept when multiline), at most max characters (0: any).  With trim,
 * spaces at both ends go.  *flags tells what changed (CLEAN_*); *nchars
 * (may be NULL) is the length in characters.  Returns the copy.
 */
static char *
clean(struct imp *imp, const char *s, int multiline, int trim, size_t max,
    int *flags, size_t *nchars)
{
	struct buf b = { 0 };
	size_t len, i, start, count = 0;
	long cp;
	char *r;

	if (nchars != NULL)
		*nchars = 0;
	if (s == NULL)
		return NULL;
	len = strlen(s);
	if (trim) {
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		while (len > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
	}
	buf_add(&b, "", 0);
	for (i = 0; i < len;) {
		if (max > 0 && count == max) {
			*flags |= CLEAN_CUT;
			break;
		}
		start = i;
		if ((cp = utf8_next(s, len, &i)) < 0) {
			buf_putc(&b, '?');
			*flags |= CLEAN_FIXED;
			i++;
		} else if (cp < 0x20 || cp == 0x7f) {
			if (multiline && (cp == '\t' || cp == '\n' ||
			    cp == '\r'))
				buf_putc(&b, (char)cp);
			else {
				buf_putc(&b, ' ');
				*flags |= CLEAN_FIXED;
			}
		} else
			buf_add(&b, s + start, i - start);
		count++;
	}
	r = pool_strndup(&imp->pool, b.p, b.len);
	buf_free(&b);
	if (nchars != NULL)
		*nchars = count;
	return r;
}

/* Returns column i of the old row as text copied into the pool, NULL for
 * SQL NULL. */
static const char *
col_text(struct imp *imp, struct dbstmt *st, int i)
{
	const char *s = db_col_str(st, i);

	return s == NULL ? NULL : pool_strndup(&imp->pool, (const char *)s,
	    (size_t)db_col_bytes(st, i));
}

/* Reads exactly n digits at s into *v; 0, or -1 when they are not. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * Reads an old time: "YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]" or a date, as
 * SQLAlchemy writes them, naive; fractions of a second are dropped.  A
 * naive time is the old server's local time when local (converted with
 * mktime() in the zone of --timezone; in a DST gap or overlap mktime's
 * choice), else UTC.  An explicit "Z" or "+HH:MM" wins.  Returns 0 with
 * the Unix time in *out, or -1 when s is not such a time.
 */
static int
old_time(const char *s, int local, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, mo, d, h = 0, mi = 0, sec = 0, oh, om, off = 0, zoned = 0;
	struct tm tm;
	time_t t;

	if (s == NULL)
		return -1;
	while (*s == ' ')
		s++;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d))
		return -1;
	s += 10;
	if (*s == ' ' || *s == 'T') {
		if (digits(s + 1, 2, &h) || s[3] != ':' ||
		    digits(s + 4, 2, &mi))
			return -1;
		s += 6;
		if (*s == ':') {
			if (digits(s + 1, 2, &sec))
				return -1;
			s += 3;
			if (*s == '.' || *s == ',') {
				s++;
				if (*s < '0' || *s > '9')
					return -1;
				while (*s >= '0' && *s <= '9')
					s++;
			}
		}
	}
	if (*s == 'Z') {
		zoned = 1;
		s++;
	} else if ((*s == '+' || *s == '-') && !digits(s + 1, 2, &oh)) {
		zoned = 1;
		off = *s == '-' ? -1 : 1;
		s += 3;
		if (*s == ':')
			s++;
		if (digits(s, 2, &om) || oh > 23 || om > 59)
			return -1;
		s += 2;
		off *= oh * 3600 + om * 60;
	}
	while (*s == ' ')
		s++;
	if (*s != '\0' || y < 1970 || y > 9999 || mo < 1 || mo > 12 ||
	    d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return -1;
	if (sec == 60)
		sec = 59;
	if (zoned || !local) {
		*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
		    sec - off;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1; /* let the zone's rules say */
	tm.tm_wday = -1;  /* stays -1 when mktime fails */
	t = mktime(&tm);
	if (t == (time_t)-1 && tm.tm_wday == -1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

/*
 * Reads a decimal text ("25", "25.5", "-0.125", "1.5e3") as cents,
 * rounding half away from zero: exactly from the digits when there is no
 * exponent.  Returns 0, or -1 when it is not a number or too large.
 */
static int
money_text(const char *s, long long *cents)
{
	const char *p = s, *e;
	long long v = 0;
	int neg = 0, n = 0, frac = 0, third = 0;
	double x;
	char *end;

	while (*p == ' ')
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (e = p; *e != '\0' && *e != 'e' && *e != 'E'; e++)
		;
	if (*e != '\0') {
		/* an exponent (SQLite writes large reals so): a double is
		 * exact enough for a price */
		x = strtod(s, &end);
		while (*end == ' ')
			end++;
		if (end == s || *end != '\0' || !(x > -1e13 && x < 1e13))
			return -1;
		x *= 100;
		*cents = x < 0 ? -(long long)(-x + 0.5) : (long long)(x + 0.5);
		return 0;
	}
	for (; *p >= '0' && *p <= '9'; p++, n++) {
		if (n >= 13)
			return -1;
		v = v * 10 + (*p - '0');
	}
	v *= 100;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, frac++) {
			if (frac == 0)
				v += (*p - '0') * 10;
			else if (frac == 1)
				v += *p - '0';
			else if (frac == 2)
				third = *p - '0';
		}
		n += frac;
	}
	while (*p == ' ')
		p++;
	if (n == 0 || *p != '\0')
		return -1;
	if (third >= 5)
		v++;
	*cents = neg ? -v : v;
	return 0;
}

/* Reads an old NUMERIC column (integer, real or text) as cents into *c.
 * Returns 0, or -1 when it is NULL or not a number. */
static int
old_money(struct dbstmt *st, int i, long long *c)
{
	long long v;
	const char *s;

	switch (db_col_type(st, i)) {
	case DBT_NULL:
		return -1;
	case DBT_INT:
		v = db_col_int(st, i);
		if (v > LLONG_MAX / 100 || v < -(LLONG_MAX / 100))
			return -1;
		*c = v * 100;
		return 0;
	default:
		/* a REAL reads as SQLite's "%!.15g" text: 25.5, 0.285 */
		s = db_col_str(st, i);
		return s == NULL ? -1 : money_text((const char *)s, c);
	}
}

/* Reads an old TIME ("08:00:00", "8:00", "08:00:00.000000") into
 * out[6] as "HH:MM".  Returns 0, or -1 when it is not such a time. */
static int
old_hhmm(const char *s, char out[6])
{
	int h, m;

	if (s == NULL)
		return -1;
	while (*s == ' ')
		s++;
	if (s[0] >= '0' && s[0] <= '9' && s[1] == ':') {
		h = s[0] - '0';
		s += 2;
	} else {
		if (digits(s, 2, &h) || s[2] != ':')
			return -1;
		s += 3;
	}
	if (digits(s, 2, &m) || h > 23 || m > 59)
		return -1;
	s += 2;
	if (*s == ':') {
		if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
			return -1;
		for (s += 3; *s == '.' || (*s >= '0' && *s <= '9'); s++)
			;
	}
	while (*s == ' ')
		s++;
	if (*s != '\0')
		return -1;
	out[0] = (char)('0' + h / 10);
	out[1] = (char)('0' + h % 10);
	out[2] = ':';
	out[3] = (char)('0' + m / 10);
	out[4] = (char)('0' + m % 10);
	out[5] = '\0';
	return 0;
}

/* Reads an integer column; 0, or -1 when it is not an integer. */
static int
old_int(struct dbstmt *st, int i, long long *v)
{
	const char *s;
	char *end;

	if (db_col_type(st, i) == DBT_INT) {
		*v = db_col_int(st, i);
		return 0;
	}
	if (db_col_type(st, i) != DBT_TEXT ||
	    (s = db_col_str(st, i)) == NULL)
		return -1;
	errno = 0;
	*v = strtoll((const char *)s, &end, 10);
	return errno != 0 || end == (const char *)s || *end != '\0' ? -1 : 0;
}

/* Reads a boolean column (0/1, or 'true'/'false' text); dflt for NULL. */
static int
old_bool(struct dbstmt *st, int i, int dflt)
{
	const char *s;

	switch (db_col_type(st, i)) {
	case DBT_NULL:
		return dflt;
	case DBT_INT:
	case DBT_REAL:
		return db_col_int(st, i) != 0;
	default:
		s = db_col_str(st, i);
		return s != NULL && (strcasecmp((const char *)s, "true") == 0 ||
		    strcmp((const char *)s, "1") == 0);
	}
}

/* A release's cost: the hourly rate times the hours begun, at least one
 * (STMT_RESV_COMPLETE's rule). */
static long long
cost_by_rule(long long hourly, int64_t park, int64_t leave)
{
	int64_t h = (leave - park + 3599) / 3600;

	return hourly * (h < 1 ? 1 : h);
}

/* Writes cents as "25.50" into out (at least 24 bytes); returns out. */
static char *
money_str(long long c, char *out)
{
	snprintf(out, 24, "%s%lld.%02lld", c < 0 ? "-" : "",
	    (c < 0 ? -c : c) / 100, (c < 0 ? -c : c) % 100);
	return out;
}

/* ---- the old file ---- */

/* Returns the prepared old statement, reset; NULL when it cannot be
 * prepared (the message is put in err). */
static struct dbstmt *
old_stmt(struct imp *imp, enum old_stmt id)
{
	struct dbstmt *st = imp->ost[id];

	if (st != NULL) {
		dbfile_reset(st);
		return st;
	}
	if ((st = dbfile_prepare(imp->old, old_sql[id])) == NULL) {
		buf_printf(imp->err, "%s: cannot read it: %s", imp->o->path,
		    dbfile_errmsg(imp->old));
		return NULL;
	}
	imp->ost[id] = st;
	return st;
}

/* Puts the reason the last read of the old file failed in err. */
static void
old_fail(struct imp *imp)
{
	switch (dbfile_error(imp->old)) {
	case DBF_NOTADB:
		buf_printf(imp->err, "%s is not an SQLite database",
		    imp->o->path);
		break;
	case DBF_CORRUPT:
		buf_printf(imp->err, "%s is damaged: %s", imp->o->path,
		    dbfile_errmsg(imp->old));
		break;
	case DBF_OK:
	case DBF_OTHER:
	default:
		buf_printf(imp->err, "%s: cannot read it: %s", imp->o->path,
		    dbfile_errmsg(imp->old));
		break;
	}
}

/*
 * Opens the old file read-only, after checking that it is a regular file
 * that starts like an SQLite database.  Returns IMPORT_OK, or
 * IMPORT_REFUSED with the reason in err.
 */
static enum import_rc
old_open(struct imp *imp)
{
	static const char magic[16] = "SQLite format 3";
	const char *path = imp->o->path;
	struct buf why = { 0 };
	char head[16];
	struct stat sb;
	size_t n;
	FILE *f;

	if (stat(path, &sb) == -1) {
		buf_printf(imp->err, "%s: %s", path, strerror(errno));
		return IMPORT_REFUSED;
	}
	if (!S_ISREG(sb.st_mode)) {
		buf_printf(imp->err, "%s is not a regular file", path);
		return IMPORT_REFUSED;
	}
	if ((f = fopen(path, "rb")) == NULL) {
		buf_printf(imp->err, "%s: %s", path, strerror(errno));
		return IMPORT_REFUSED;
	}
	n = fread(head, 1, sizeof head, f);
	fclose(f);
	if (n != sizeof head || memcmp(head, magic, sizeof magic) != 0) {
		buf_printf(imp->err, "%s is not an SQLite database%s", path,
		    n == 0 ? " (the file is empty)" : "");
		return IMPORT_REFUSED;
	}
	/* Read-only and defensive (the file is not ours: its schema may not
	 * run functions of ours or change anything behind the reads); the
	 * old backend may be writing: wait for it a while. */
	if ((imp->old = dbfile_open(path, conf.db_busy_timeout_ms > 0 ?
	    conf.db_busy_timeout_ms : 5000, &why)) == NULL) {
		buf_printf(imp->err, "%s: cannot open it: %s", path,
		    why.p != NULL ? why.p : "out of memory");
		buf_free(&why);
		return IMPORT_REFUSED;
	}
	return IMPORT_OK;
}

/* Finalizes the old statements and closes the old file. */
static void
old_close(struct imp *imp)
{
	size_t i;

	for (i = 0; i < OLD__COUNT; i++) {
		dbfile_finalize(imp->ost[i]);
		imp->ost[i] = NULL;
	}
	dbfile_close(imp->old);
	imp->old = NULL;
}

/*
 * Checks the old file: not damaged (quick_check), and every table and
 * column of old_tables[]; tells the schema variant from the role CHECK of
 * users.  Returns IMPORT_OK, or IMPORT_REFUSED with the reason in err.
 */
static enum import_rc
old_check(struct imp *imp)
{
	const char *path = imp->o->path, *msg, *sql;
	struct dbstmt *st;
	char *p;
	size_t t, c, nmsg = 0;
	int rc, found;

	if ((st = old_stmt(imp, OLD_QUICK_CHECK)) == NULL) {
		buf_reset(imp->err);
		old_fail(imp);
		return IMPORT_REFUSED;
	}
	while ((rc = dbfile_step(st)) == 1) {
		msg = db_col_str(st, 0);
		if (msg == NULL || strcmp(msg, "ok") == 0)
			continue;
		buf_printf(imp->err, "%s%.200s", nmsg++ == 0 ?
		    "" : "; ", msg);
		for (p = imp->err->p; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
	}
	if (rc != 0) {
		buf_reset(imp->err);
		old_fail(imp);
		return IMPORT_REFUSED;
	}
	if (nmsg > 0) {
		msg = pool_strdup(&imp->pool, imp->err->p);
		buf_reset(imp->err);
		buf_printf(imp->err, "%s is damaged (quick_check: %s)", path,
		    msg);
		return IMPORT_REFUSED;
	}

	for (t = 0; t < sizeof old_tables / sizeof old_tables[0]; t++) {
		if ((st = old_stmt(imp, OLD_TABLE_SQL)) == NULL)
			return IMPORT_REFUSED;
		dbfile_bind_text(st, 1, old_tables[t].table);
		if ((rc = dbfile_step(st)) != 1) {
			if (rc != 0) {
				old_fail(imp);
				return IMPORT_REFUSED;
			}
			buf_printf(imp->err, "%s is not a database of the "
			    "Flask backend: it has no table \"%s\"", path,
			    old_tables[t].table);
			return IMPORT_REFUSED;
		}
		if (t == 0) {
			sql = db_col_str(st, 0);
			imp->variant = sql != NULL &&
			    strstr(sql, "'admin'") != NULL ?
			    "newer schema (roles user and admin)" :
			    "older schema (role user only)";
		}
		dbfile_reset(st);
		for (c = 0; old_tables[t].columns[c] != NULL; c++) {
			if ((st = old_stmt(imp, OLD_COLUMNS)) == NULL)
				return IMPORT_REFUSED;
			dbfile_bind_text(st, 1, old_tables[t].table);
			found = 0;
			while ((rc = dbfile_step(st)) == 1) {
				msg = db_col_str(st, 0);
				if (msg != NULL && strcasecmp(msg,
				    old_tables[t].columns[c]) == 0)
					found = 1;
			}
			if (rc != 0) {
				old_fail(imp);
				return IMPORT_REFUSED;
			}
			if (!found) {
				buf_printf(imp->err, "%s is not a database of "
				    "the Flask backend: table \"%s\" has no "
				    "column \"%s\"", path, old_tables[t].table,
				    old_tables[t].columns[c]);
				return IMPORT_REFUSED;
			}
		}
	}
	return IMPORT_OK;
}

/* Makes room for one more element in an array of n of size sz. */
static void *
grow(void *a, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return a;
	*cap = *cap ? 2 * *cap : 64;
	a = xrealloc(a, *cap * sz);
	memset((char *)a + n * sz, 0, (*cap - n) * sz);
	return a;
}

/* Steps a statement of the old file to its next row: 1 with a row, 0 at
 * the end, -1 on failure (err says why). */
static int
old_next(struct imp *imp, struct dbstmt *st)
{
	int rc = dbfile_step(st);

	if (rc == 1)
		return 1;
	if (rc == 0)
		return 0;
	old_fail(imp);
	return -1;
}

/* Reads users; 0 or -1. */
static int
read_users(struct imp *imp)
{
	struct dbstmt *st;
	struct o_user *u;
	const char *role, *email;
	char *e;
	size_t cap = 0;
	long long id;
	int rc, f = 0;

	if ((st = old_stmt(imp, OLD_USERS)) == NULL)
		return -1;
	while ((rc = old_next(imp, st)) == 1) {
		imp->users = grow(imp->users, imp->nusers, &cap,
		    sizeof(*imp->users));
		u = &imp->users[imp->nusers++];
		if (old_int(st, 0, &id) == -1)
			id = 0;
		u->r.id = id;
		u->username = col_text(imp, st, 1);
		email = col_text(imp, st, 2);
		u->email = email;
		u->shown = clean(imp, email, 0, 1, 0, &f, NULL);
		if (email != NULL) {
			/* lower-case as SQLite's lower() does: ASCII only */
			u->email = e = pool_strdup(&imp->pool, email);
			for (; *e != '\0'; e++)
				if (*e >= 'A' && *e <= 'Z')
					*e = (char)(*e - 'A' + 'a');
		}
		u->hash = col_text(imp, st, 3);
		role = db_col_str(st, 4);
		u->admin = role != NULL && strcmp(role, "admin") == 0;
		u->is_active = old_bool(st, 5, 1);
		u->phone = col_text(imp, st, 6);
		if (old_time(db_col_str(st, 7), 1,
		    &u->created) == -1)
			u->created = -1;
		if (old_time(db_col_str(st, 8), 1,
		    &u->updated) == -1)
			u->updated = -1;
		if (old_time(db_col_str(st, 9), 1,
		    &u->last_login) == -1)
			u->last_login = db_col_isnull(st, 9) ? 0 : -1;
	}
	dbfile_reset(st);
	return rc;
}

/* Reads lots; 0 or -1. */
static int
read_lots(struct imp *imp)
{
	struct dbstmt *st;
	struct o_lot *l;
	size_t cap = 0;
	long long v;
	int rc, f = 0;
	char hs[6], he[6];
	int has_s, has_e;

	if ((st = old_stmt(imp, OLD_LOTS)) == NULL)
		return -1;
	while ((rc = old_next(imp, st)) == 1) {
		imp->lots = grow(imp->lots, imp->nlots, &cap,
		    sizeof(*imp->lots));
		l = &imp->lots[imp->nlots++];
		l->r.id = old_int(st, 0, &v) == 0 ? v : 0;
		l->name = clean(imp, db_col_str(st, 1),
		    0, 1, 0, &f, NULL);
		l->address = clean(imp,
		    db_col_str(st, 2), 0, 1, 0, &f,
		    NULL);
		l->pin = clean(imp, db_col_str(st, 3),
		    0, 1, 0, &f, NULL);
		l->old_spots = old_int(st, 4, &v) == 0 && v >= 0 &&
		    v <= INT_MAX ? (int)v : -1;
		if (old_money(st, 5, &l->price) == -1)
			l->price = -1;
		l->is_active = old_bool(st, 6, 1);
		l->description = col_text(imp, st, 7);
		has_s = old_hhmm(db_col_str(st, 8),
		    hs) == 0;
		has_e = old_hhmm(db_col_str(st, 9),
		    he) == 0;
		if (has_s && has_e) {
			memcpy(l->hstart, hs, 6);
			memcpy(l->hend, he, 6);
		} else if (!db_col_isnull(st, 8) ||
		    !db_col_isnull(st, 9))
			memcpy(l->hstart, "bad", 4);
		if (old_time(db_col_str(st, 10), 1,
		    &l->created) == -1)
			l->created = -1;
		if (old_time(db_col_str(st, 11), 1,
		    &l->updated) == -1)
			l->updated = -1;
	}
	dbfile_reset(st);
	return rc;
}

/* Reads spots; 0 or -1. */
static int
read_spots(struct imp *imp)
{
	struct dbstmt *st;
	struct o_spot *s;
	const char *status;
	size_t cap = 0;
	long long v;
	int rc;

	if ((st = old_stmt(imp, OLD_SPOTS)) == NULL)
		return -1;
	while ((rc = old_next(imp, st)) == 1) {
		imp->spots = grow(imp->spots, imp->nspots, &cap,
		    sizeof(*imp->spots));
		s = &imp->spots[imp->nspots++];
		s->r.id = old_int(st, 0, &v) == 0 ? v : 0;
		s->lot_id = old_int(st, 1, &v) == 0 ? v : 0;
		s->number = old_int(st, 2, &v) == 0 && v > 0 && v <= INT_MAX ?
		    (int)v : 0;
		status = db_col_str(st, 3);
		s->marked = status != NULL && strcmp(status, "O") == 0;
	}
	dbfile_reset(st);
	return rc;
}

/*
 * The text the importer before sql/010-old-keys.sql appended to the
 * remarks of a reservation with a model or colour (the row's columns 8 and
 * 9), made as it made it: each trimmed and cleaned but not cut, "[vehicle:"
 * then " model" and " colour" as present, then "]".  NULL when it appended
 * nothing.
 */
static const char *
old_tag(struct imp *imp, struct dbstmt *st)
{
	const char *model, *color;
	int f = 0;

	model = clean(imp, db_col_str(st, 8), 0, 1, 0,
	    &f, NULL);
	color = clean(imp, db_col_str(st, 9), 0, 1, 0,
	    &f, NULL);
	if (model != NULL && *model == '\0')
		model = NULL;
	if (color != NULL && *color == '\0')
		color = NULL;
	if (model == NULL && color == NULL)
		return NULL;
	return pool_printf(&imp->pool, "[vehicle:%s%s%s%s]",
	    model != NULL ? " " : "", model != NULL ? model : "",
	    color != NULL ? " " : "", color != NULL ? color : "");
}

/* Reads reservations; 0 or -1.  Problems found here are kept in the row
 * (-1 times and money) for plan_resv() to report. */
static int
read_resv(struct imp *imp)
{
	struct dbstmt *st;
	struct o_resv *r;
	size_t cap = 0;
	long long v;
	int rc, f = 0;

	if ((st = old_stmt(imp, OLD_RESERVATIONS)) == NULL)
		return -1;
	while ((rc = old_next(imp, st)) == 1) {
		imp->resv = grow(imp->resv, imp->nresv, &cap,
		    sizeof(*imp->resv));
		r = &imp->resv[imp->nresv++];
		r->r.id = old_int(st, 0, &v) == 0 ? v : 0;
		r->spot_id = old_int(st, 1, &v) == 0 ? v : 0;
		r->user_id = old_int(st, 2, &v) == 0 ? v : 0;
		if (old_time(db_col_str(st, 3), 1,
		    &r->park) == -1)
			r->park = -1;
		if (db_col_isnull(st, 4))
			r->leave = 0;
		else if (old_time(db_col_str(st, 4), 1,
		    &r->leave) == -1)
			r->leave = -1;
		r->has_cost = old_money(st, 5, &r->cost) == 0;
		if (!r->has_cost && !db_col_isnull(st, 5))
			r->cost = -1;
		if (old_money(st, 6, &r->hourly) == -1)
			r->hourly = -1;
		r->vehicle = col_text(imp, st, 7);
		/* the old API never set these three, but the old schema
		 * has them: kept in their own columns
		 * (sql/010-old-keys.sql) */
		r->model_flags = r->color_flags = 0;
		r->model = clean(imp, db_col_str(st, 8),
		    0, 1, MAX_MODEL, &r->model_flags, NULL);
		r->color = clean(imp, db_col_str(st, 9),
		    0, 1, MAX_COLOR, &r->color_flags, NULL);
		if (r->model != NULL && *r->model == '\0')
			r->model = NULL;
		if (r->color != NULL && *r->color == '\0')
			r->color = NULL;
		r->old_tag = old_tag(imp, st);
		r->status = col_text(imp, st, 10);
		r->remarks = clean(imp,
		    db_col_str(st, 11), 1, 0, 0, &f,
		    NULL);
		if (old_time(db_col_str(st, 12), 0,
		    &r->created) == -1)
			r->created = -1;
		if (old_time(db_col_str(st, 13), 0,
		    &r->updated) == -1)
			r->updated = -1;
		/* set, if ever, like parking_timestamp: local time */
		if (db_col_isnull(st, 14))
			r->expected = 0;
		else if (old_time(db_col_str(st, 14),
		    1, &r->expected) == -1 || r->expected <= 0)
			r->expected = -1;
	}
	dbfile_reset(st);
	return rc;
}

/*
 * Reads the whole old file in one read transaction and names it (the
 * source).  Returns IMPORT_OK, or IMPORT_REFUSED with the reason in err.
 */
static enum import_rc
old_read(struct imp *imp)
{
	struct dbstmt *st;
	struct buf fp = { 0 };
	unsigned char h[32];
	const char *a, *b;
	enum import_rc rc = IMPORT_REFUSED;
	int i;

	if ((st = old_stmt(imp, OLD_BEGIN)) == NULL)
		return IMPORT_REFUSED;
	if (dbfile_step(st) != 0) {
		old_fail(imp);
		return IMPORT_REFUSED;
	}
	if ((st = old_stmt(imp, OLD_FIRST_ROWS)) == NULL ||
	    old_next(imp, st) != 1)
		goto out;
	a = db_col_str(st, 0);
	b = db_col_str(st, 1);
	buf_printf(&fp, "parkd import-flask\nusers:%s\nlots:%s\n",
	    a != NULL ? a : "-", b != NULL ? b : "-");
	dbfile_reset(st);
	sha256(fp.p, fp.len, h);
	memcpy(imp->source, "flask-", 6);
	for (i = 0; i < 16; i++)
		snprintf(imp->source + 6 + 2 * i, 3, "%02x", h[i]);

	if (read_users(imp) == -1 || read_lots(imp) == -1 ||
	    read_spots(imp) == -1 || read_resv(imp) == -1)
		goto out;
	rc = IMPORT_OK;
out:
	buf_free(&fp);
	if ((st = old_stmt(imp, OLD_END)) != NULL)
		(void)dbfile_step(st);
	return rc;
}

/* ---- lookups in memory (the arrays are sorted by old id) ---- */

#define FIND(name, type, arr, n)					\
static type *								\
name(struct imp *imp, int64_t id)					\
{									\
	size_t lo = 0, hi = imp->n, mid;				\
									\
	while (lo < hi) {						\
		mid = lo + (hi - lo) / 2;				\
		if (imp->arr[mid].r.id == id)				\
			return &imp->arr[mid];				\
		if (imp->arr[mid].r.id < id)				\
			lo = mid + 1;					\
		else							\
			hi = mid;					\
	}								\
	return NULL;							\
}

FIND(find_user, struct o_user, users, nusers)
FIND(find_lot, struct o_lot, lots, nlots)
FIND(find_spot, struct o_spot, spots, nspots)

/* ---- import_map and parkd lookups (inside the transaction) ---- */

/* Does row id of kind exist in parkd?  DB_OK with *yes set. */
static enum dbrc
row_exists(enum kind k, int64_t id, int *yes)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_IMPORT_ROW_EXISTS)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, kind_name[k]);
	db_bind_int(st, 2, id);
	if ((rc = db_row(st)) != DB_OK)
		return rc == DB_NOTFOUND ? DB_ERROR : rc;
	*yes = db_col_int(st, 0);
	db_done(st);
	return DB_OK;
}

/*
 * Looks the old row up in import_map.  When an earlier run wrote it and it
 * is still there, sets FATE_ALREADY and r->new_id; when it was deleted in
 * parkd since (the triggers of sql/003-import.sql set new_id to 0), sets
 * r->again.  Returns DB_OK or the failure.
 */
static enum dbrc
seen_before(struct imp *imp, enum kind k, struct row *r)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t id;
	int yes;

	if ((st = db_stmt(STMT_IMPORT_MAP_GET)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, imp->source);
	db_bind_text(st, 2, kind_name[k]);
	db_bind_int(st, 3, r->id);
	if ((rc = db_row(st)) == DB_NOTFOUND)
		return DB_OK;
	if (rc != DB_OK)
		return rc;
	id = db_col_int(st, 0);
	db_done(st);
	if ((rc = row_exists(k, id, &yes)) != DB_OK)
		return rc;
	if (yes) {
		r->fate = FATE_ALREADY;
		r->new_id = id;
	} else
		r->again = 1;
	return DB_OK;
}

/* Records old -> new of a row written or merged now. */
static enum dbrc
map_put(struct imp *imp, enum kind k, const struct row *r)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_IMPORT_MAP_PUT)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, imp->source);
	db_bind_text(st, 2, kind_name[k]);
	db_bind_int(st, 3, r->id);
	db_bind_int(st, 4, r->new_id);
	return db_run(st);
}

/* Binds the old id to keep (pass 1) or NULL for a new one (pass 2). */
static void
bind_id(struct dbstmt *st, const struct row *r, int keep)
{
	if (keep)
		db_bind_int(st, 1, r->id);
	else
		db_bind_null(st, 1);
}

/*
 * Should the row be written in this pass?  Pass 1 writes the rows whose
 * old id is free in parkd, with it; pass 2 the others, with new ids.  So
 * an id handed out in pass 2 never takes the old id of a later row.
 * Returns DB_OK with *go set.
 */
static enum dbrc
in_pass(enum kind k, const struct row *r, int pass, int *go)
{
	enum dbrc rc;
	int taken;

	*go = 0;
	if (r->fate != FATE_NEW || r->written)
		return DB_OK;
	if (pass == 2) {
		*go = 1;
		return DB_OK;
	}
	if (r->id <= 0)
		return DB_OK;
	if ((rc = row_exists(k, r->id, &taken)) != DB_OK)
		return rc;
	*go = !taken;
	return DB_OK;
}

/* Marks a row written with the id SQLite gave it; records it. */
static enum dbrc
written(struct imp *imp, enum kind k, struct row *r)
{
	r->written = 1;
	r->new_id = db_last_id();
	imp->n[k].imported++;
	return map_put(imp, k, r);
}

/* ---- users ---- */

/* Orders users by e-mail, then old id (qsort). */
static int
by_email(const void *a, const void *b)
{
	const struct o_user *x = *(struct o_user *const *)a;
	const struct o_user *y = *(struct o_user *const *)b;
	int c = strcmp(x->email, y->email);

	return c != 0 ? c : (x->r.id > y->r.id) - (x->r.id < y->r.id);
}

/* Is a a better one to keep than b among case duplicates?  One imported
 * before wins (the choice stays the same run after run); then the one
 * that logged in last, who knows its password; then the oldest. */
static int
better(const struct o_user *a, const struct o_user *b)
{
	if ((a->r.fate == FATE_ALREADY) != (b->r.fate == FATE_ALREADY))
		return a->r.fate == FATE_ALREADY;
	if (a->last_login != b->last_login)
		return a->last_login > b->last_login;
	if (a->created != b->created)
		return a->created < b->created;
	return a->r.id < b->r.id;
}

/*
 * Decides each user's fate: skipped (admin, unusable e-mail), already
 * imported, a case duplicate (merged into the kept one), an e-mail parkd
 * has (merged into that account), or new (with its repairs).
 * Returns DB_OK or the failure.
 */
static enum dbrc
plan_users(struct imp *imp)
{
	struct o_user *u, **by;
	struct dbstmt *st;
	enum dbrc rc = DB_OK;
	size_t i, j, k, n, nch;
	int f;

	by = xcalloc(imp->nusers ? imp->nusers : 1, sizeof(*by));
	for (i = n = 0; i < imp->nusers; i++) {
		u = &imp->users[i];
		imp->n[K_USER].read++;
		if (u->admin) {
			skip(imp, K_USER, &u->r, u->shown, "role admin: "
			    "parkd's admin is configured (ADMIN_EMAIL), "
			    "not a user");
			continue;
		}
		f = 0;
		u->email = clean(imp, u->email, 0, 1, 0, &f, &nch);
		if (u->email == NULL || nch < 3 || nch > MAX_EMAIL || f != 0) {
			skip(imp, K_USER, &u->r, u->shown, "e-mail is not one "
			    "parkd stores (3 to %d characters of text)",
			    MAX_EMAIL);
			continue;
		}
		if ((rc = seen_before(imp, K_USER, &u->r)) != DB_OK)
			goto out;
		by[n++] = u;
	}

	/* case duplicates: equal once lower-cased */
	qsort(by, n, sizeof(*by), by_email);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(by[j]->email, by[i]->email) ==
		    0; j++)
			;
		if (j - i < 2)
			continue;
		u = by[i];
		for (k = i + 1; k < j; k++)
			if (better(by[k], u))
				u = by[k];
		for (k = i; k < j; k++)
			if (by[k] != u)
				by[k]->keeper = u;
	}

	for (i = 0; i < imp->nusers; i++) {
		u = &imp->users[i];
		if (u->r.fate != FATE_NEW || u->keeper != NULL)
			continue;
		if (u->r.again)
			repair(imp, K_USER, &u->r, u->shown, "imported before, "
			    "deleted in parkd since: imported again");
		/* an e-mail parkd knows is that person's account */
		if ((st = db_stmt(STMT_IMPORT_USER_BY_EMAIL)) == NULL) {
			rc = db_lasterr();
			goto out;
		}
		db_bind_text(st, 1, u->email);
		if ((rc = db_row(st)) == DB_OK) {
			u->r.new_id = db_col_int(st, 0);
			db_done(st);
			merged(imp, K_USER, &u->r, u->shown, "e-mail already "
			    "registered in parkd (user %lld): its reservations "
			    "go to that account, whose password stays",
			    (long long)u->r.new_id);
			continue;
		}
		if (rc != DB_NOTFOUND)
			goto out;
		rc = DB_OK;
		/* the old backend checked nothing; the username still works */
		if (strchr(u->email, '@') == NULL)
			note(imp, K_USER, &u->r, u->shown, "e-mail is not an "
			    "address: imported; the user logs in with the "
			    "username");
		if (u->hash == NULL || *u->hash == '\0') {
			/* NOT NULL and non-empty in parkd: an unusable mark */
			u->hash = "!";
			repair(imp, K_USER, &u->r, u->shown, "no password "
			    "hash: imported with none that matches; the user "
			    "needs a new password");
		} else {
			struct pw_params pp;

			if (pw_parse(u->hash, &pp) != 0)
				note(imp, K_USER, &u->r, u->shown, "password "
				    "hash \"%.12s...\" is not a werkzeug "
				    "scrypt or pbkdf2 hash parkd verifies: "
				    "imported as it is; the user needs a new "
				    "password", u->hash);
		}
		f = 0;
		u->phone = clean(imp, u->phone, 0, 1, 0, &f, &nch);
		if (u->phone != NULL && (*u->phone == '\0' || nch >
		    MAX_PHONE || f != 0)) {
			if (*u->phone != '\0')
				repair(imp, K_USER, &u->r, u->shown, "phone "
				    "\"%.*s\" is not one parkd stores: "
				    "dropped", SHOW, u->phone);
			u->phone = NULL;
		}
		if (u->created < 0) {
			repair(imp, K_USER, &u->r, u->shown, "no readable "
			    "creation time: the time of the import");
			u->created = imp->now;
		}
		if (u->updated < u->created)
			u->updated = u->created;
		if (u->last_login < 0) {
			repair(imp, K_USER, &u->r, u->shown, "last login "
			    "time unreadable: left empty");
			u->last_login = 0;
		}
	}
out:
	free(by);
	return rc;
}

/*
 * Returns the username to try inserting u with: try 0 its own, NULL when
 * parkd cannot store it (under 3 or over 80 characters, not text); later
 * tries its start with "_<old id>" (and "_<try>") appended.
 */
static const char *
username_try(struct imp *imp, const struct o_user *u, int try)
{
	const char *name;
	size_t nch;
	int f = 0;

	if (try == 0) {
		name = clean(imp, u->username, 0, 1, MAX_USERNAME + 1, &f,
		    &nch);
		return nch >= 3 && f == 0 ? name : NULL;
	}
	name = clean(imp, u->username, 0, 1, MAX_USERNAME - 24, &f, &nch);
	if (name == NULL || *name == '\0')
		name = "user";
	if (try == 1)
		return pool_printf(&imp->pool, "%s_%lld", name,
		    (long long)u->r.id);
	return pool_printf(&imp->pool, "%s_%lld_%d", name, (long long)u->r.id,
	    try);
}

/* Inserts user u (keep: with its old id).  Returns DB_OK or the
 * failure. */
static enum dbrc
insert_user(struct imp *imp, struct o_user *u, int keep)
{
	struct dbstmt *st;
	const char *name = NULL, *was;
	enum dbrc rc;
	int try, f = 0;

	for (try = 0; try < 100; try++) {
		if ((name = username_try(imp, u, try)) == NULL)
			continue;
		if ((st = db_stmt(STMT_USER_NAME_TAKEN)) == NULL)
			return db_lasterr();
		db_bind_text(st, 1, name);
		db_bind_int(st, 2, 0);
		if ((rc = db_row(st)) == DB_NOTFOUND)
			break;
		if (rc != DB_OK)
			return rc;
		db_done(st);
	}
	if (try == 100) {
		skip(imp, K_USER, &u->r, u->shown, "no free username found");
		return DB_OK;
	}
	if (try > 0) {
		was = clean(imp, u->username, 0, 0, 0, &f, NULL);
		repair(imp, K_USER, &u->r, u->shown, "username \"%.*s\" %s: "
		    "now \"%s\"", SHOW, was != NULL ? was : "",
		    username_try(imp, u, 0) == NULL ? "is not one parkd stores "
		    "(3 to 80 characters of text)" : "is taken in parkd", name);
	}
	if ((st = db_stmt(STMT_IMPORT_USER_INSERT)) == NULL)
		return db_lasterr();
	bind_id(st, &u->r, keep);
	db_bind_text(st, 2, name);
	db_bind_text(st, 3, u->email);
	db_bind_text(st, 4, u->hash);
	db_bind_text(st, 5, u->phone);
	db_bind_int(st, 6, u->is_active);
	db_bind_int(st, 7, u->created);
	db_bind_int(st, 8, u->updated);
	if (u->last_login > 0)
		db_bind_int(st, 9, u->last_login);
	else
		db_bind_null(st, 9);
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	return written(imp, K_USER, &u->r);
}

/* Writes the new users in two passes, then maps the merged ones.
 * Returns DB_OK or the failure. */
static enum dbrc
write_users(struct imp *imp)
{
	struct o_user *u;
	enum dbrc rc;
	size_t i;
	int pass, go;

	for (pass = 1; pass <= 2; pass++)
		for (i = 0; i < imp->nusers; i++) {
			u = &imp->users[i];
			if (u->keeper != NULL)
				continue;
			if ((rc = in_pass(K_USER, &u->r, pass, &go)) != DB_OK ||
			    (go && (rc = insert_user(imp, u, pass == 1)) !=
			    DB_OK))
				return rc;
		}
	for (i = 0; i < imp->nusers; i++) {
		u = &imp->users[i];
		if (u->r.fate == FATE_MERGED && u->keeper == NULL &&
		    (rc = map_put(imp, K_USER, &u->r)) != DB_OK)
			return rc;
		if (u->keeper == NULL || u->r.fate != FATE_NEW)
			continue;
		if (u->keeper->r.fate == FATE_SKIPPED) {
			skip(imp, K_USER, &u->r, u->shown, "same e-mail as "
			    "user %lld, which was skipped",
			    (long long)u->keeper->r.id);
			continue;
		}
		u->r.new_id = u->keeper->r.new_id;
		merged(imp, K_USER, &u->r, u->shown, "same e-mail as user "
		    "%lld but for letter case: merged into it (kept: %s); its "
		    "reservations follow", (long long)u->keeper->r.id,
		    u->keeper->r.fate == FATE_ALREADY ? "the one imported "
		    "before" : u->keeper->last_login != u->last_login ?
		    "the one that logged in last" : "the older account");
		if ((rc = map_put(imp, K_USER, &u->r)) != DB_OK)
			return rc;
	}
	return DB_OK;
}

/* ---- lots and spots ---- */

/* Returns a lot's label for the report. */
static const char *
lot_label(const struct o_lot *l)
{
	return l != NULL && l->name != NULL ? l->name : "";
}

/* Returns a spot's label, "LOT #N", in the pool. */
static const char *
spot_label(struct imp *imp, const struct o_spot *s)
{
	return pool_printf(&imp->pool, "%.40s #%d", lot_label(s->lot),
	    s->number);
}

/* Checks and converts the fields of a new lot, reporting each repair;
 * skips the lot when they cannot be made to fit (its price). */
static void
plan_lot_fields(struct imp *imp, struct o_lot *l)
{
	char m[24];
	size_t nch;
	int f;

	if (l->r.again)
		repair(imp, K_LOT, &l->r, l->name, "imported before, deleted "
		    "in parkd since: imported again");
	if (l->price < 0 || l->price > MAX_PRICE_CENTS) {
		skip(imp, K_LOT, &l->r, l->name, "price %s is not one parkd "
		    "takes, 0 to 10000.00 (its spots and reservations are "
		    "skipped with it)", l->price < 0 ? "unreadable" :
		    money_str(l->price, m));
		return;
	}
	f = 0;
	l->name = clean(imp, l->name, 0, 1, MAX_NAME, &f, &nch);
	if (l->name == NULL || nch < 3) {
		l->name = pool_printf(&imp->pool, "%s%sLot %lld",
		    l->name != NULL ? l->name : "",
		    l->name != NULL && *l->name != '\0' ? " - " : "",
		    (long long)l->r.id);
		repair(imp, K_LOT, &l->r, l->name, "name too short for parkd: "
		    "now \"%s\"", l->name);
	} else if (f & CLEAN_CUT)
		repair(imp, K_LOT, &l->r, l->name, "name longer than %d "
		    "characters: cut", MAX_NAME);
	f = 0;
	if (l->address == NULL)
		l->address = "";
	l->address = clean(imp, l->address, 0, 1, MAX_ADDRESS, &f, &nch);
	if (f & CLEAN_CUT)
		repair(imp, K_LOT, &l->r, l->name, "address longer than %d "
		    "characters: cut", MAX_ADDRESS);
	f = 0;
	if (l->pin == NULL)
		l->pin = "";
	l->pin = clean(imp, l->pin, 0, 1, MAX_PIN, &f, &nch);
	if (f & CLEAN_CUT)
		repair(imp, K_LOT, &l->r, l->name, "pin code longer than %d "
		    "characters: cut", MAX_PIN);
	f = 0;
	l->description = clean(imp, l->description, 1, 0, 0, &f, &nch);
	if (l->description != NULL && *l->description == '\0')
		l->description = NULL;
	if (strcmp(l->hstart, "bad") == 0) {
		repair(imp, K_LOT, &l->r, l->name, "opening hours unreadable "
		    "or only one of them set: none");
		l->hstart[0] = l->hend[0] = '\0';
	}
	if (l->created < 0) {
		repair(imp, K_LOT, &l->r, l->name, "no readable creation "
		    "time: the time of the import");
		l->created = imp->now;
	}
	if (l->updated < l->created)
		l->updated = l->created;
}

/*
 * Decides the fate of lots and spots: a lot imported before keeps its
 * spots (new old spots match its spots by number); a new lot gets spots
 * 1..N, N the larger of number_of_spots and its highest spot number.
 * Returns DB_OK or the failure.
 */
static enum dbrc
plan_lots(struct imp *imp)
{
	struct o_lot *l;
	struct o_spot *s;
	struct dbstmt *st;
	enum dbrc rc;
	size_t i;

	for (i = 0; i < imp->nlots; i++) {
		l = &imp->lots[i];
		imp->n[K_LOT].read++;
		if ((rc = seen_before(imp, K_LOT, &l->r)) != DB_OK)
			return rc;
		if (l->r.fate == FATE_NEW)
			plan_lot_fields(imp, l);
	}

	for (i = 0; i < imp->nspots; i++) {
		s = &imp->spots[i];
		imp->n[K_SPOT].read++;
		if ((s->lot = find_lot(imp, s->lot_id)) == NULL) {
			skip(imp, K_SPOT, &s->r, NULL, "its lot %lld does not "
			    "exist", (long long)s->lot_id);
			continue;
		}
		if (s->lot->r.fate == FATE_SKIPPED) {
			s->r.fate = FATE_SKIPPED; /* the lot's line says so */
			continue;
		}
		if (s->number < 1) {
			skip(imp, K_SPOT, &s->r, lot_label(s->lot), "spot "
			    "number is not a positive integer");
			continue;
		}
		if (s->lot->r.fate == FATE_NEW) {
			s->lot->nrows++;
			if (s->number > s->lot->maxnum)
				s->lot->maxnum = s->number;
			continue;
		}
		/* a lot imported before: its spots are parkd's now */
		if ((rc = seen_before(imp, K_SPOT, &s->r)) != DB_OK)
			return rc;
		if (s->r.fate == FATE_ALREADY)
			continue;
		if ((st = db_stmt(STMT_IMPORT_SPOT_BY_NUMBER)) == NULL)
			return db_lasterr();
		db_bind_int(st, 1, s->lot->r.new_id);
		db_bind_int(st, 2, s->number);
		if ((rc = db_row(st)) == DB_NOTFOUND) {
			skip(imp, K_SPOT, &s->r, spot_label(imp, s), "its lot "
			    "was imported before and has no spot %d in parkd "
			    "(grow the lot, then import again)", s->number);
			continue;
		}
		if (rc != DB_OK)
			return rc;
		s->r.new_id = db_col_int(st, 0);
		db_done(st);
		merged(imp, K_SPOT, &s->r, spot_label(imp, s), "new in the old "
		    "file, its lot imported before: matched to that lot's "
		    "spot %d", s->number);
	}

	for (i = 0; i < imp->nlots; i++) {
		l = &imp->lots[i];
		if (l->r.fate != FATE_NEW)
			continue;
		l->nspots = l->old_spots > l->maxnum ? l->old_spots :
		    l->maxnum;
		if (l->nspots > MAX_SPOTS) {
			skip(imp, K_LOT, &l->r, l->name, "%d spots: more than "
			    "parkd's %d (its spots and reservations are "
			    "skipped with it)", l->nspots, MAX_SPOTS);
			continue;
		}
		if (l->old_spots != l->nrows || l->maxnum != l->nrows)
			repair(imp, K_LOT, &l->r, l->name, "number_of_spots "
			    "%d but %d spot rows numbered up to %d: %d spots, "
			    "%d of them added as free spots", l->old_spots,
			    l->nrows, l->maxnum, l->nspots,
			    l->nspots - l->nrows);
	}
	for (i = 0; i < imp->nspots; i++) {
		s = &imp->spots[i];
		if (s->lot != NULL && s->lot->r.fate == FATE_SKIPPED &&
		    s->r.fate != FATE_SKIPPED)
			s->r.fate = FATE_SKIPPED;
		if (s->r.fate == FATE_NEW && s->lot != NULL &&
		    s->lot->r.again)
			s->r.again = 1;
	}
	return DB_OK;
}

/* Inserts lot l (keep: with its old id); its spots come later.  Returns
 * DB_OK or the failure. */
static enum dbrc
insert_lot(struct imp *imp, struct o_lot *l, int keep)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_IMPORT_LOT_INSERT)) == NULL)
		return db_lasterr();
	bind_id(st, &l->r, keep);
	db_bind_text(st, 2, l->name);
	db_bind_text(st, 3, l->address);
	db_bind_text(st, 4, l->pin);
	db_bind_int(st, 5, l->price);
	db_bind_int(st, 6, l->nspots);
	db_bind_int(st, 7, l->is_active);
	db_bind_text(st, 8, l->description);
	db_bind_text(st, 9, l->hstart[0] != '\0' ? l->hstart : NULL);
	db_bind_text(st, 10, l->hend[0] != '\0' ? l->hend : NULL);
	db_bind_int(st, 11, l->created);
	db_bind_int(st, 12, l->updated);
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	return written(imp, K_LOT, &l->r);
}

/* Inserts spot s of a new lot (keep: with its old id).  Returns DB_OK or
 * the failure. */
static enum dbrc
insert_spot(struct imp *imp, struct o_spot *s, int keep)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_IMPORT_SPOT_INSERT)) == NULL)
		return db_lasterr();
	bind_id(st, &s->r, keep);
	db_bind_int(st, 2, s->lot->r.new_id);
	db_bind_int(st, 3, s->number);
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	return written(imp, K_SPOT, &s->r);
}

/* Writes the new lots, their spot rows, and the free spots that fill
 * each lot's numbers up to N.  Returns DB_OK or the failure. */
static enum dbrc
write_lots(struct imp *imp)
{
	struct o_lot *l;
	struct o_spot *s;
	struct dbstmt *st;
	enum dbrc rc;
	size_t i;
	int pass, go;

	for (pass = 1; pass <= 2; pass++)
		for (i = 0; i < imp->nlots; i++)
			if ((rc = in_pass(K_LOT, &imp->lots[i].r, pass, &go)) !=
			    DB_OK || (go && (rc = insert_lot(imp,
			    &imp->lots[i], pass == 1)) != DB_OK))
				return rc;
	for (pass = 1; pass <= 2; pass++)
		for (i = 0; i < imp->nspots; i++)
			if ((rc = in_pass(K_SPOT, &imp->spots[i].r, pass,
			    &go)) != DB_OK || (go && (rc = insert_spot(imp,
			    &imp->spots[i], pass == 1)) != DB_OK))
				return rc;
	for (i = 0; i < imp->nspots; i++) {
		s = &imp->spots[i];
		if (s->r.fate == FATE_MERGED &&
		    (rc = map_put(imp, K_SPOT, &s->r)) != DB_OK)
			return rc;
	}
	for (i = 0; i < imp->nlots; i++) {
		l = &imp->lots[i];
		if (l->r.fate != FATE_NEW || l->nspots == l->nrows)
			continue;
		if ((st = db_stmt(STMT_SPOTS_ADD)) == NULL)
			return db_lasterr();
		db_bind_int(st, 1, l->r.new_id);
		db_bind_int(st, 2, 1);
		db_bind_int(st, 3, l->nspots);
		if ((rc = db_run(st)) != DB_OK)
			return rc;
	}
	return DB_OK;
}

/* ---- reservations ---- */

/* Is reservation a newer than b (the one that stays active)? */
static int
newer(const struct o_resv *a, const struct o_resv *b)
{
	if (a->park != b->park)
		return a->park > b->park;
	return a->r.id > b->r.id;
}

/* Orders active reservations by spot, newest first (qsort). */
static int
by_spot(const void *a, const void *b)
{
	const struct o_resv *x = *(struct o_resv *const *)a;
	const struct o_resv *y = *(struct o_resv *const *)b;

	if (x->spot != y->spot)
		return x->spot->r.id < y->spot->r.id ? -1 : 1;
	return newer(x, y) ? -1 : newer(y, x) ? 1 : 0;
}

/* Completes reservation r at time t (not before it began), costed like a
 * release. */
static void
complete_at(struct o_resv *r, int64_t t)
{
	r->status = "completed";
	r->leave = t > r->park ? t : r->park;
	r->cost = cost_by_rule(r->hourly, r->park, r->leave);
	r->has_cost = 1;
}

/* Checks one reservation's links, times, money and status; repairs or
 * skips it.  Returns 0, or -1 when it was skipped. */
static int
plan_one(struct imp *imp, struct o_resv *r)
{
	char t1[24], t2[24];
	const char *why = NULL;
	size_t nch;
	int f;

	if ((r->user = find_user(imp, r->user_id)) == NULL)
		why = "its user does not exist in the old file";
	else if (r->user->r.fate == FATE_SKIPPED)
		why = "its user was skipped";
	else if ((r->spot = find_spot(imp, r->spot_id)) == NULL)
		why = "its spot does not exist in the old file";
	else if (r->spot->r.fate == FATE_SKIPPED)
		why = r->spot->lot != NULL && r->spot->lot->r.fate ==
		    FATE_SKIPPED ? "its lot was skipped" :
		    "its spot was skipped";
	else if (r->park < 0)
		why = "its parking time is unreadable";
	if (why != NULL) {
		skip(imp, K_RESV, &r->r, NULL, "%s (user %lld, spot %lld)",
		    why, (long long)r->user_id, (long long)r->spot_id);
		return -1;
	}
	if (r->status != NULL && strcmp(r->status, "active") != 0 &&
	    strcmp(r->status, "completed") != 0 &&
	    strcmp(r->status, "cancelled") != 0) {
		skip(imp, K_RESV, &r->r, NULL, "status \"%.*s\" is not one "
		    "parkd knows", SHOW, r->status);
		return -1;
	}
	if (r->r.again)
		repair(imp, K_RESV, &r->r, NULL, "imported before, deleted in "
		    "parkd since: imported again");
	if (r->status == NULL) {
		r->status = r->leave != 0 ? "completed" : "active";
		repair(imp, K_RESV, &r->r, NULL, "no status: %s", r->status);
	}
	if (r->hourly < 0) {
		r->hourly = r->spot->lot->price >= 0 ? r->spot->lot->price : 0;
		repair(imp, K_RESV, &r->r, NULL, "hourly rate unreadable: the "
		    "lot's price, %s", money_str(r->hourly, t1));
	}
	if (r->cost < 0 || (r->has_cost && r->cost > LLONG_MAX / 2)) {
		r->has_cost = 0;
		r->cost = 0;
		repair(imp, K_RESV, &r->r, NULL, "cost unreadable: none");
	}
	if (r->leave < 0) {
		r->leave = 0;
		repair(imp, K_RESV, &r->r, NULL, "leaving time unreadable: "
		    "none");
	}
	if (strcmp(r->status, "active") == 0) {
		r->has_cost = 0; /* the old backend kept 0.0 while active */
		if (r->leave != 0) {
			complete_at(r, r->leave);
			repair(imp, K_RESV, &r->r, NULL, "active with a "
			    "leaving time: completed at %s, cost %s",
			    time_iso(r->leave, t1), money_str(r->cost, t2));
		}
	} else if (r->leave == 0) {
		r->leave = r->park;
		repair(imp, K_RESV, &r->r, NULL, "%s without a leaving time: "
		    "leaving time set to its parking time", r->status);
	} else if (r->leave < r->park) {
		repair(imp, K_RESV, &r->r, NULL, "leaving time %s before its "
		    "parking time %s (mixed clocks): set to the parking time",
		    time_iso(r->leave, t1), time_iso(r->park, t2));
		r->leave = r->park;
	}
	if (strcmp(r->status, "completed") == 0 && !r->has_cost) {
		r->cost = cost_by_rule(r->hourly, r->park, r->leave);
		r->has_cost = 1;
		repair(imp, K_RESV, &r->r, NULL, "completed without a cost: "
		    "%s by parkd's rule", money_str(r->cost, t1));
	}
	if (r->created < 0) {
		r->created = r->park;
		repair(imp, K_RESV, &r->r, NULL, "creation time unreadable: "
		    "its parking time");
	}
	if (r->updated < r->created)
		r->updated = r->created;
	/* the vehicle number as the API stores it: upper case, no spaces */
	if (r->vehicle != NULL) {
		char *v, *p;
		const char *q;

		f = 0;
		q = clean(imp, r->vehicle, 0, 1, 0, &f, &nch);
		v = p = pool_strdup(&imp->pool, q);
		for (; *q != '\0'; q++)
			if (*q != ' ')
				*p++ = *q >= 'a' && *q <= 'z' ?
				    (char)(*q - 'a' + 'A') : *q;
		*p = '\0';
		f = 0;
		r->vehicle = *v != '\0' ? clean(imp, v, 0, 0, MAX_VEHICLE, &f,
		    &nch) : NULL;
		if (f & CLEAN_CUT)
			repair(imp, K_RESV, &r->r, NULL, "vehicle number "
			    "longer than %d characters: cut", MAX_VEHICLE);
	}
	if (r->model_flags & CLEAN_CUT)
		repair(imp, K_RESV, &r->r, NULL, "vehicle model longer than "
		    "%d characters: cut", MAX_MODEL);
	if (r->color_flags & CLEAN_CUT)
		repair(imp, K_RESV, &r->r, NULL, "vehicle colour longer than "
		    "%d characters: cut", MAX_COLOR);
	if (r->expected == -1) {
		r->expected = 0;
		repair(imp, K_RESV, &r->r, NULL, "expected leaving time "
		    "unreadable: left out");
	}
	return 0;
}

/*
 * Decides each reservation's fate and repairs: links, times, money,
 * status; then, per spot, one active reservation at most (the newest
 * stays); then reports the spots whose old status disagreed.
 * Returns DB_OK or the failure.
 */
static enum dbrc
plan_resv(struct imp *imp)
{
	struct o_resv *r, **act;
	struct o_spot *s;
	enum dbrc rc = DB_OK;
	char t1[24], t2[24];
	size_t i, j, n;

	act = xcalloc(imp->nresv ? imp->nresv : 1, sizeof(*act));
	for (i = n = 0; i < imp->nresv; i++) {
		r = &imp->resv[i];
		imp->n[K_RESV].read++;
		if ((rc = seen_before(imp, K_RESV, &r->r)) != DB_OK)
			goto out;
		if (r->r.fate != FATE_NEW || plan_one(imp, r) == -1)
			continue;
		if (strcmp(r->status, "active") == 0)
			act[n++] = r;
	}
	qsort(act, n, sizeof(*act), by_spot);
	for (i = 0; i < n; i = j) {
		/* act[i] is the newest of its spot */
		for (j = i + 1; j < n && act[j]->spot == act[i]->spot; j++) {
			complete_at(act[j], act[i]->park);
			repair(imp, K_RESV, &act[j]->r, NULL, "a second active "
			    "reservation on spot %lld (%s), older than "
			    "reservation %lld: completed when that one began, "
			    "%s, cost %s", (long long)act[j]->spot->r.id,
			    spot_label(imp, act[j]->spot),
			    (long long)act[i]->r.id,
			    time_iso(act[j]->leave, t1),
			    money_str(act[j]->cost, t2));
		}
		s = act[i]->spot;
		s->active = 1;
		if (!s->marked && s->r.fate == FATE_NEW)
			repair(imp, K_RESV, &act[i]->r, NULL, "active while "
			    "its spot %lld (%s) was marked free: kept active, "
			    "the spot is occupied", (long long)s->r.id,
			    spot_label(imp, s));
	}
	for (i = 0; i < imp->nspots; i++) {
		s = &imp->spots[i];
		if (s->r.fate == FATE_NEW && s->marked && !s->active)
			repair(imp, K_SPOT, &s->r, spot_label(imp, s), "marked "
			    "occupied without an active reservation: free");
	}
out:
	free(act);
	return rc;
}

/* Inserts reservation r (keep: with its old id).  An active one whose
 * spot parkd cannot occupy (removed, or held by a reservation made in
 * parkd) is completed instead.  Returns DB_OK or the failure. */
static enum dbrc
insert_resv(struct imp *imp, struct o_resv *r, int keep)
{
	struct dbstmt *st;
	enum dbrc rc;
	char t1[24], t2[24];
	int64_t since = 0;
	int usable;

	if (strcmp(r->status, "active") == 0) {
		if ((st = db_stmt(STMT_IMPORT_SPOT_STATE)) == NULL)
			return db_lasterr();
		db_bind_int(st, 1, r->spot->r.new_id);
		if ((rc = db_row(st)) != DB_OK)
			return rc == DB_NOTFOUND ? DB_ERROR : rc;
		usable = db_col_int(st, 0);
		if (!db_col_isnull(st, 1))
			since = db_col_int(st, 1);
		db_done(st);
		if (!usable || since != 0) {
			complete_at(r, usable ? since : r->park);
			repair(imp, K_RESV, &r->r, NULL, "active, but its spot "
			    "in parkd is %s: completed at %s, cost %s",
			    usable ? "occupied by a reservation made in parkd" :
			    "removed", time_iso(r->leave, t1),
			    money_str(r->cost, t2));
		}
	}
	if ((st = db_stmt(STMT_IMPORT_RESV_INSERT)) == NULL)
		return db_lasterr();
	bind_id(st, &r->r, keep);
	db_bind_int(st, 2, r->spot->r.new_id);
	db_bind_int(st, 3, r->spot->lot->r.new_id);
	db_bind_int(st, 4, r->user->r.new_id);
	db_bind_text(st, 5, r->vehicle);
	db_bind_int(st, 6, r->park);
	if (strcmp(r->status, "active") == 0)
		db_bind_null(st, 7);
	else
		db_bind_int(st, 7, r->leave);
	db_bind_int(st, 8, r->hourly);
	if (r->has_cost)
		db_bind_int(st, 9, r->cost);
	else
		db_bind_null(st, 9);
	db_bind_text(st, 10, r->status);
	db_bind_text(st, 11, r->remarks);
	db_bind_int(st, 12, r->created);
	db_bind_int(st, 13, r->updated);
	db_bind_text(st, 14, r->model);
	db_bind_text(st, 15, r->color);
	if (r->expected > 0)
		db_bind_int(st, 16, r->expected);
	else
		db_bind_null(st, 16);
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	return written(imp, K_RESV, &r->r);
}

/* Writes the new reservations in two passes.  Returns DB_OK or the
 * failure. */
static enum dbrc
write_resv(struct imp *imp)
{
	enum dbrc rc;
	size_t i;
	int pass, go;

	for (pass = 1; pass <= 2; pass++)
		for (i = 0; i < imp->nresv; i++)
			if ((rc = in_pass(K_RESV, &imp->resv[i].r, pass,
			    &go)) != DB_OK || (go && (rc = insert_resv(imp,
			    &imp->resv[i], pass == 1)) != DB_OK))
				return rc;
	return DB_OK;
}

/* ---- reservations imported before sql/010-old-keys.sql ---- */

/*
 * The remarks of a reservation imported before, without the tag the old
 * importer appended (r->old_tag): when cur is exactly what it wrote, the
 * old file's remarks; when cur ends with " " and the tag (the text before
 * it changed since), cur without them; else NULL (*same set: keep cur).
 */
static const char *
untagged(struct imp *imp, const struct o_resv *r, const char *cur,
    int *same)
{
	const char *was;
	size_t n, t;

	*same = 1;
	if (r->old_tag == NULL || cur == NULL)
		return NULL;
	was = pool_printf(&imp->pool, "%s%s%s", r->remarks != NULL ?
	    r->remarks : "", r->remarks != NULL && *r->remarks != '\0' ?
	    " " : "", r->old_tag);
	if (strcmp(cur, was) == 0) {
		*same = 0;
		return r->remarks;
	}
	n = strlen(cur);
	t = strlen(r->old_tag);
	if (n > t && cur[n - t - 1] == ' ' &&
	    strcmp(cur + n - t, r->old_tag) == 0) {
		*same = 0;
		return pool_strndup(&imp->pool, cur, n - t - 1);
	}
	return NULL;
}

/*
 * The importer before sql/010-old-keys.sql put the model and colour into
 * the remarks ("... [vehicle: Civic Red]") and dropped the expected leaving
 * time; running it again said "already imported" and filled nothing.  For
 * each reservation imported before (import_map), fills each of the three
 * that is NULL in parkd from the old file, and when the model or colour is
 * filled takes that tag off the remarks.  A second run finds nothing NULL
 * that the file can fill: it changes nothing.  Returns DB_OK or the
 * failure.
 */
static enum dbrc
backfill_resv(struct imp *imp)
{
	struct dbstmt *st;
	struct o_resv *r;
	enum dbrc rc;
	const char *cur, *rem;
	int fm, fc, fe, same;
	size_t i;
	struct buf what = { 0 };

	for (i = 0; i < imp->nresv; i++) {
		r = &imp->resv[i];
		if (r->r.fate != FATE_ALREADY)
			continue;
		if ((st = db_stmt(STMT_IMPORT_RESV_OLD_KEYS)) == NULL) {
			rc = db_lasterr();
			goto out;
		}
		db_bind_int(st, 1, r->r.new_id);
		if ((rc = db_row(st)) != DB_OK) {
			rc = rc == DB_NOTFOUND ? DB_ERROR : rc;
			goto out;
		}
		fm = db_col_int(st, 0) && r->model != NULL;
		fc = db_col_int(st, 1) && r->color != NULL;
		fe = db_col_int(st, 2) && r->expected > 0;
		cur = db_col_text(&imp->pool, st, 3);
		db_done(st);
		if (!fm && !fc && !fe)
			continue;
		rem = cur;
		same = 1;
		if (fm || fc)
			rem = untagged(imp, r, cur, &same);
		if (same)
			rem = cur;
		if ((st = db_stmt(STMT_IMPORT_RESV_BACKFILL)) == NULL) {
			rc = db_lasterr();
			goto out;
		}
		db_bind_int(st, 1, r->r.new_id);
		db_bind_text(st, 2, fm ? r->model : NULL);
		db_bind_text(st, 3, fc ? r->color : NULL);
		if (fe)
			db_bind_int(st, 4, r->expected);
		else
			db_bind_null(st, 4);
		db_bind_text(st, 5, rem);
		if ((rc = db_run(st)) != DB_OK)
			goto out;
		buf_reset(&what);
		if (fm)
			buf_puts(&what, "vehicle model");
		if (fm && (r->model_flags & CLEAN_CUT))
			buf_printf(&what, " (cut to %d characters)",
			    MAX_MODEL);
		if (fc)
			buf_printf(&what, "%svehicle colour", fm ? ", " : "");
		if (fc && (r->color_flags & CLEAN_CUT))
			buf_printf(&what, " (cut to %d characters)",
			    MAX_COLOR);
		if (fe)
			buf_printf(&what, "%sexpected leaving time",
			    fm || fc ? ", " : "");
		buf_puts(&what, " filled in from the old file");
		if (!same)
			buf_printf(&what, "; \"%.*s\" taken off the remarks",
			    SHOW, r->old_tag);
		else if (r->old_tag != NULL && (fm || fc))
			buf_puts(&what, "; the remarks, changed since, are "
			    "left as they are");
		filled(imp, &r->r, "imported before without its old keys: %s",
		    what.p);
		imp->filled++;
		imp->cleaned += !same;
	}
	rc = DB_OK;
out:
	buf_free(&what);
	return rc;
}

/* ---- the time zone ---- */

/*
 * Makes tz the zone of mktime() for this process.  A name ("Asia/Kolkata",
 * "Etc/GMT+5") must be a file of the time zone database, since glibc
 * silently takes an unknown name for UTC; a POSIX rule ("IST-5:30",
 * "CET-1CEST,M3.5.0,M10.5.0/3") is taken as it is.  Returns 0, or -1 when
 * tz is not a zone this machine knows.
 */
static int
tz_set(struct imp *imp, const char *tz)
{
	const char *name = *tz == ':' ? tz + 1 : tz, *dir, *old;
	const char *slash, *comma;
	char path[4096];
	int posix;

	if (*name == '\0' || strstr(name, "..") != NULL)
		return -1;
	/* a rule has an offset (a digit); a '/' in it comes after the first
	 * ',' (",M10.5.0/3"), in a file name before */
	slash = strchr(name, '/');
	comma = strchr(name, ',');
	posix = strpbrk(name, "0123456789") != NULL && *name != '/' &&
	    (slash == NULL || (comma != NULL && comma < slash));
	if (strcmp(name, "UTC") != 0 && strcmp(name, "GMT") != 0 && !posix) {
		if (*name == '/')
			snprintf(path, sizeof path, "%s", name);
		else {
			if ((dir = getenv("TZDIR")) == NULL || *dir == '\0')
				dir = "/usr/share/zoneinfo";
			snprintf(path, sizeof path, "%s/%s", dir, name);
		}
		if (access(path, R_OK) == -1)
			return -1;
	}
	old = getenv("TZ");
	imp->saved_tz = old != NULL ? xstrdup(old) : NULL;
	imp->tz_set = 1;
	if (setenv("TZ", tz, 1) == -1)
		return -1;
	tzset();
	return 0;
}

/* Gives the process its time zone back. */
static void
tz_restore(struct imp *imp)
{
	if (!imp->tz_set)
		return;
	if (imp->saved_tz != NULL)
		setenv("TZ", imp->saved_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(imp->saved_tz);
	imp->saved_tz = NULL;
	imp->tz_set = 0;
}

/* ---- the whole import ---- */

/* Appends the counts and the outcome to the report. */
static void
summary(struct imp *imp)
{
	struct count *c;
	size_t i;
	struct row *r;
	size_t n[K__COUNT] = { imp->nusers, imp->nlots, imp->nspots,
	    imp->nresv };
	int k;

	for (k = 0; k < K__COUNT; k++) {
		c = &imp->n[k];
		c->merged = c->already = c->skipped = c->repaired = 0;
		for (i = 0; i < n[k]; i++) {
			r = k == K_USER ? &imp->users[i].r : k == K_LOT ?
			    &imp->lots[i].r : k == K_SPOT ? &imp->spots[i].r :
			    &imp->resv[i].r;
			c->merged += r->fate == FATE_MERGED;
			c->already += r->fate == FATE_ALREADY;
			c->skipped += r->fate == FATE_SKIPPED;
			c->repaired += r->repaired &&
			    (r->fate == FATE_NEW || r->fate == FATE_MERGED);
		}
		buf_printf(imp->out, "%s: read %lld, imported %lld, merged "
		    "%lld, already imported %lld, skipped %lld; repaired "
		    "%lld\n", kind_plural[k], c->read, c->imported, c->merged,
		    c->already, c->skipped, c->repaired);
	}
	buf_printf(imp->out, "reservations imported before: old keys filled "
	    "in %lld, \"[vehicle: ...]\" taken off the remarks of %lld\n",
	    imp->filled, imp->cleaned);
}

/* Plans and writes everything inside the open transaction.  Returns
 * DB_OK or the failure. */
static enum dbrc
import_rows(struct imp *imp)
{
	struct dbstmt *st;
	enum dbrc rc;
	long long others;

	/* PostgreSQL: new ids as SQLite gives them (PG_KEEP_ID, db.c) */
	if ((st = db_stmt(STMT_IMPORT_SYNC_IDS)) == NULL)
		return db_lasterr();
	if ((rc = db_row(st)) != DB_OK)
		return rc == DB_NOTFOUND ? DB_ERROR : rc;
	db_done(st);
	if ((st = db_stmt(STMT_IMPORT_OTHER_SOURCES)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, imp->source);
	if ((rc = db_row(st)) != DB_OK)
		return rc == DB_NOTFOUND ? DB_ERROR : rc;
	others = db_col_int(st, 0);
	db_done(st);
	if (others > 0)
		buf_printf(imp->out, "note: this database already holds an "
		    "import of %lld other file(s); users are matched by "
		    "e-mail, lots are not\n", others);

	if ((rc = plan_users(imp)) != DB_OK ||
	    (rc = write_users(imp)) != DB_OK ||
	    (rc = plan_lots(imp)) != DB_OK ||
	    (rc = write_lots(imp)) != DB_OK ||
	    (rc = plan_resv(imp)) != DB_OK ||
	    (rc = write_resv(imp)) != DB_OK ||
	    (rc = backfill_resv(imp)) != DB_OK)
		return rc;
	/* lots, spots and reservations show in cached reads */
	return db_gen_bump("lots");
}

/* See park.h.  Returns the outcome; err says why when not IMPORT_OK. */
enum import_rc
import_flask(const struct import_opts *o, struct buf *out,
    struct buf *err)
{
	struct imp imp;
	enum import_rc rc;
	enum dbrc r;
	const char *tz;

	memset(&imp, 0, sizeof(imp));
	imp.o = o;
	imp.out = out;
	imp.err = err;
	imp.now = park_now();
	if (o->tz != NULL && tz_set(&imp, o->tz) == -1) {
		buf_printf(err, "unknown time zone \"%s\" (a name like "
		    "Asia/Kolkata, or a POSIX rule like IST-5:30)", o->tz);
		rc = IMPORT_BAD_TZ;
		goto out;
	}
	if ((rc = old_open(&imp)) != IMPORT_OK ||
	    (rc = old_check(&imp)) != IMPORT_OK ||
	    (rc = old_read(&imp)) != IMPORT_OK)
		goto out;
	/* the file holds no more reads: let the old backend write */
	old_close(&imp);

	tz = o->tz != NULL ? o->tz : getenv("TZ") != NULL &&
	    *getenv("TZ") != '\0' ? getenv("TZ") : "of this machine";
	buf_printf(out, "import-flask: %s: %s, source %s, local time %s%s\n",
	    o->path, imp.variant, imp.source, tz, o->dry_run ?
	    " (dry run)" : "");
	if ((r = db_begin()) != DB_OK) {
		buf_printf(err, "cannot start the write transaction%s",
		    r == DB_BUSY ? ": the database is busy, try again" : "");
		rc = IMPORT_FAILED;
		goto out;
	}
	if ((r = import_rows(&imp)) != DB_OK) {
		db_rollback();
		buf_printf(err, "the import failed (%s); it was rolled back, "
		    "nothing was imported", r == DB_BUSY ? "the database "
		    "is busy" : r == DB_CONFLICT ? "a row broke a constraint "
		    "of parkd's schema, see the log" : "see the log");
		rc = IMPORT_FAILED;
		goto out;
	}
	summary(&imp);
	if (o->dry_run) {
		db_rollback();
		buf_puts(out, "dry run: rolled back, nothing was changed\n");
	} else if ((r = db_commit()) != DB_OK) {
		buf_printf(err, "the commit failed%s; nothing was imported",
		    r == DB_BUSY ? " (the database is busy)" : "");
		rc = IMPORT_FAILED;
		goto out;
	} else
		buf_puts(out, "committed\n");
	rc = IMPORT_OK;
out:
	old_close(&imp);
	tz_restore(&imp);
	free(imp.users);
	free(imp.lots);
	free(imp.spots);
	free(imp.resv);
	pool_free(&imp.pool);
	return rc;
}
