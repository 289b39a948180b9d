/*
 * 11-plans.c: the hot statements stay flat as the database grows (issue 4:
 * booking and the lists as fast with 1,000,000 reservations as with
 * 1,000).
 *
 * Two checks on a real database file made by the migrations:
 * - EXPLAIN QUERY PLAN of each hot statement of the table (db_sql()) shows
 *   no SCAN of reservations, spots, sessions, users or login_failures:
 *   only SEARCH on an index or the primary key.  ("SCAN t USING INDEX" is
 *   a full scan too.)  The plans do not depend on the data: nothing runs
 *   ANALYZE.
 * - the work each statement does (SQLite's VM steps, a count that does not
 *   depend on the machine) is the same after 100,000 more reservations,
 *   20,000 sessions and login failures and 5,000 users of others; and the
 *   counts of X-Total-Count and the user's summary do the same work after
 *   20,000 more reservations of the user and lot they count (007 keeps
 *   the counts and totals).
 *
 * The test reads with its own raw connection; the SQL is the table's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db-int.h"
#include "tap.h"

/* Tables that grow without bound: a statement run per request must never
 * read all of one. */
static const char *const big_tables[] = {
	"reservations", "spots", "sessions", "users", "login_failures", NULL,
};

/* The probe: the rows the statements are asked about (made by fill()). */
#define PROBE_LOT 1
#define PROBE_USER 1
#define PROBE_SID "0123456789abcdef0123456789abcdef"
#define PROBE_ACCOUNT "probe@parking.test"

static sqlite3 *raw;
static long long now_s;

/* A parameter: 'i' integer, 't' text, 'n' NULL. */
struct param {
	char type;
	long long i;
	const char *t;
};

struct hot {
	enum stmt id;
	const char *name;
	struct param p[8];
};

#define I(v) { 'i', (v), NULL }
#define TX(v) { 't', 0, (v) }
#define N { 'n', 0, NULL }

/* Filled in main(): some parameters are times. */
static struct hot hot[] = {
	{ STMT_SPOT_FIRST_FREE, "STMT_SPOT_FIRST_FREE",
	    { I(PROBE_LOT), I(0), I(14400), I(0) } },
	{ STMT_LOTS_LIST, "STMT_LOTS_LIST", { I(0) } },
	{ STMT_LOT_GET, "STMT_LOT_GET", { I(PROBE_LOT) } },
	{ STMT_LOT_FOR_BOOKING, "STMT_LOT_FOR_BOOKING", { I(PROBE_LOT) } },
	{ STMT_RESV_LIST_USER, "STMT_RESV_LIST_USER",
	    { I(PROBE_USER), N, I(50), I(0) } },
	{ STMT_RESV_COUNT_USER, "STMT_RESV_COUNT_USER", { I(PROBE_USER), N } },
	{ STMT_USER_ACTIVE_COUNT, "STMT_USER_ACTIVE_COUNT", { I(PROBE_USER) } },
	{ STMT_SESSION_CHECK, "STMT_SESSION_CHECK",
	    { TX(PROBE_SID), I(0), TX("fp") } },
	{ STMT_RESV_OLDEST_ACTIVE, "STMT_RESV_OLDEST_ACTIVE",
	    { I(PROBE_USER) } },
	{ STMT_SPOTS_GRID, "STMT_SPOTS_GRID", { I(PROBE_LOT) } },
	{ STMT_SUM_PER_DAY, "STMT_SUM_PER_DAY", { I(0) } },
	{ STMT_LOGIN_FAIL_COUNT, "STMT_LOGIN_FAIL_COUNT",
	    { TX(PROBE_ACCOUNT), I(0), TX("192.0.2.1") } },
	{ STMT_RESV_GET, "STMT_RESV_GET", { I(1) } },
	{ STMT_RESV_CLOSED, "STMT_RESV_CLOSED", { I(1) } },
	{ STMT_RESV_TO_RELEASE, "STMT_RESV_TO_RELEASE",
	    { I(1), I(PROBE_USER) } },
	{ STMT_SUM_REVENUE, "STMT_SUM_REVENUE", { I(0) } },
	{ STMT_SUM_USER, "STMT_SUM_USER", { I(PROBE_USER), I(0) } },
	{ STMT_SUM_USER_ACTIVE, "STMT_SUM_USER_ACTIVE", { I(PROBE_USER) } },
	{ STMT_GEN_GET, "STMT_GEN_GET", { TX("lots") } },
	{ STMT_LOT_HAS_HISTORY, "STMT_LOT_HAS_HISTORY", { I(PROBE_LOT) } },
	{ STMT_SPOTS_OCCUPIED_ABOVE, "STMT_SPOTS_OCCUPIED_ABOVE",
	    { I(PROBE_LOT), I(5) } },
	/* the admin's list and count of one user's reservations */
	{ STMT_RESV_LIST_ADMIN_USER, "STMT_RESV_LIST_ADMIN_USER",
	    { N, I(PROBE_USER), N, N, N, I(50), I(0) } },
	{ STMT_RESV_COUNT_ADMIN_USER, "STMT_RESV_COUNT_ADMIN_USER",
	    { N, I(PROBE_USER), N, N, N } },
	/* the admin's count of all reservations, or a lot's (007) */
	{ STMT_RESV_COUNT_ADMIN_LOTS, "STMT_RESV_COUNT_ADMIN_LOTS",
	    { N, N, N } },
	/* advance reservations (011): what a reserve, check-in, cancel and
	 * a walk-in read on their way, and the caller's upcoming list */
	{ STMT_RESV_STALE_LOT, "STMT_RESV_STALE_LOT",
	    { I(PROBE_LOT), I(0), I(1800) } },
	{ STMT_RESV_EXPIRE_LOT, "STMT_RESV_EXPIRE_LOT",
	    { I(PROBE_LOT), I(0), I(1800), I(60) } },
	{ STMT_RESV_LOT, "STMT_RESV_LOT", { I(PROBE_LOT), I(PROBE_USER) } },
	{ STMT_RESV_USER_OVERLAP, "STMT_RESV_USER_OVERLAP",
	    { I(PROBE_USER), I(0), I(3600), TX("KA01"), I(0) } },
	{ STMT_RESV_OWNED, "STMT_RESV_OWNED", { I(1), I(PROBE_USER) } },
	{ STMT_RESV_SPOT_CAN_HOLD, "STMT_RESV_SPOT_CAN_HOLD",
	    { I(1), I(0), I(3600), I(1) } },
	{ STMT_RESV_LIST_UPCOMING, "STMT_RESV_LIST_UPCOMING",
	    { I(PROBE_USER), I(0), I(1800), I(50), I(0) } },
	{ STMT_RESV_COUNT_UPCOMING, "STMT_RESV_COUNT_UPCOMING",
	    { I(PROBE_USER), I(0), I(1800) } },
	{ STMT_RESV_EXPIRE_ALL, "STMT_RESV_EXPIRE_ALL",
	    { N, I(0), I(1800), I(60) } },
};
#define NHOT (sizeof(hot) / sizeof(hot[0]))

/* The counts of X-Total-Count and the user's summary (007): the
 * same work however many reservations the user or lot itself has. */
static struct hot own[] = {
	{ STMT_RESV_COUNT_USER, "STMT_RESV_COUNT_USER", { I(PROBE_USER), N } },
	{ STMT_RESV_COUNT_USER, "STMT_RESV_COUNT_USER completed",
	    { I(PROBE_USER), TX("completed") } },
	{ STMT_RESV_COUNT_ADMIN_LOTS, "STMT_RESV_COUNT_ADMIN_LOTS",
	    { N, N, N } },
	{ STMT_RESV_COUNT_ADMIN_LOTS, "STMT_RESV_COUNT_ADMIN_LOTS lot active",
	    { I(PROBE_LOT), N, TX("active") } },
	{ STMT_SUM_USER, "STMT_SUM_USER", { I(PROBE_USER), I(0) } },
};
#define NOWN (sizeof(own) / sizeof(own[0]))

/* Statements that must not scan a growing table, but whose work grows
 * with the rows their filter selects (a lot's reservations). */
static const struct {
	enum stmt id;
	const char *name;
} indexed[] = {
	{ STMT_RESV_COUNT_ADMIN_LOT, "STMT_RESV_COUNT_ADMIN_LOT" },
	/* a lot's spots, each with a seek or two of reservations_hold */
	{ STMT_RESV_BEST_SPOT, "STMT_RESV_BEST_SPOT" },
	{ STMT_RESV_HOLDS, "STMT_RESV_HOLDS" },
	{ STMT_RESV_HOLDS_BARE, "STMT_RESV_HOLDS_BARE" },
	{ STMT_RESV_LOT_UPCOMING, "STMT_RESV_LOT_UPCOMING" },
	{ STMT_RESV_REMIND_DUE, "STMT_RESV_REMIND_DUE" },
};

/* Statements whose plan is only shown (known to scan; see the report). */
static const struct {
	enum stmt id;
	const char *name;
} shown[] = {
	{ STMT_RESV_LIST_ADMIN, "STMT_RESV_LIST_ADMIN" },
	{ STMT_RESV_COUNT_ADMIN, "STMT_RESV_COUNT_ADMIN" },
	{ STMT_SUM_COUNTS, "STMT_SUM_COUNTS" },
};

/* Runs sql on the raw connection; returns 0 or -1 (reported). */
static int
run(const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(raw, sql, NULL, NULL, &err) != SQLITE_OK) {
		diag("exec: %s: %.200s", err ? err : "?", sql);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Finds the table an alias (or table name) of sql stands for: the word
 * after FROM or JOIN, and the word after that when it is not a keyword.
 * Returns the table, or name itself. */
static const char *
table_of(const char *sql, const char *name, char *out, size_t outlen)
{
	static const char *const kw[] = { "WHERE", "JOIN", "LEFT", "ON",
		"ORDER", "GROUP", "LIMIT", "INNER", "CROSS", "USING", "AS",
		"SET", "VALUES", NULL };
	char words[64][64];
	size_t n = 0, k, i;
	const char *p = sql;

	while (*p != '\0' && n < 64) {
		while (*p != '\0' && !isalnum((unsigned char)*p) && *p != '_')
			p++;
		for (k = 0; (isalnum((unsigned char)*p) || *p == '_') &&
		    k < 63; p++)
			words[n][k++] = *p;
		words[n][k] = '\0';
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (k > 0)
			n++;
	}
	snprintf(out, outlen, "%s", name);
	for (i = 0; i + 1 < n; i++) {
		if (strcasecmp(words[i], "FROM") != 0 &&
		    strcasecmp(words[i], "JOIN") != 0)
			continue;
		if (strcmp(words[i + 1], name) == 0)
			return out;
		if (i + 2 < n && strcmp(words[i + 2], name) == 0) {
			for (k = 0; kw[k] != NULL; k++)
				if (strcasecmp(kw[k], name) == 0)
					break;
			if (kw[k] == NULL) {
				snprintf(out, outlen, "%s", words[i + 1]);
				return out;
			}
		}
	}
	return out;
}

/* Appends the plan of sql to plan (one line per step) and returns the
 * number of full scans of a big table, or -1 when it cannot be
 * explained. */
static int
explain(const char *sql, char *plan, size_t planlen)
{
	char q[8192], tname[64], table[64];
	sqlite3_stmt *st;
	const char *d;
	int scans = 0, i;

	snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
	if (sqlite3_prepare_v2(raw, q, -1, &st, NULL) != SQLITE_OK) {
		diag("explain: %s", sqlite3_errmsg(raw));
		return -1;
	}
	plan[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW) {
		d = (const char *)sqlite3_column_text(st, 3);
		if (d == NULL)
			continue;
		snprintf(plan + strlen(plan), planlen - strlen(plan),
		    "\n#     %s", d);
		if (strncmp(d, "SCAN ", 5) != 0)
			continue;
		if (sscanf(d + 5, "%63s", tname) != 1)
			continue;
		table_of(sql, tname, table, sizeof table);
		for (i = 0; big_tables[i] != NULL; i++)
			if (strcmp(big_tables[i], table) == 0)
				scans++;
	}
	sqlite3_finalize(st);
	return scans;
}

/* Runs hot statement h to its end on the raw connection; returns the
 * VM steps it took, -1 on failure. */
static long long
steps(const struct hot *h)
{
	sqlite3_stmt *st;
	int i, n, rc;
	long long v;

	if (sqlite3_prepare_v2(raw, db_sql(h->id), -1, &st, NULL) !=
	    SQLITE_OK) {
		diag("%s: %s", h->name, sqlite3_errmsg(raw));
		return -1;
	}
	n = sqlite3_bind_parameter_count(st);
	for (i = 0; i < n && i < 8; i++) {
		const struct param *p = &h->p[i];

		if (p->type == 'i')
			sqlite3_bind_int64(st, i + 1, p->i);
		else if (p->type == 't')
			sqlite3_bind_text(st, i + 1, p->t, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, i + 1);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	v = rc == SQLITE_DONE ? sqlite3_stmt_status(st,
	    SQLITE_STMTSTATUS_VM_STEP, 0) : -1;
	if (rc != SQLITE_DONE)
		diag("%s: %s", h->name, sqlite3_errmsg(raw));
	sqlite3_finalize(st);
	return v;
}

/* The base data: 10 lots of 100 spots, 200 users, the probe user's 20
 * reservations in the probe lot (2 active), its session and 3 failed
 * logins. */
static int
fill_base(void)
{
	char sql[4096];

	snprintf(sql, sizeof sql,
	    "BEGIN;"
	    "INSERT INTO lots (name, address, pin_code, price_cents,"
	    " number_of_spots, created_at, updated_at)"
	    " WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
	    " WHERE x < 10) SELECT 'Lot ' || x, 'Address ' || x || ' street',"
	    " '560001', 1000, 100, %lld, %lld FROM n;"
	    "INSERT INTO spots (lot_id, spot_number)"
	    " WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n"
	    " WHERE x < 999) SELECT x / 100 + 1, x %% 100 + 1 FROM n;"
	    "INSERT INTO users (username, email, password_hash, created_at,"
	    " updated_at)"
	    " WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
	    " WHERE x < 200) SELECT 'user' || x, 'user' || x || '@p.test',"
	    " 'x', %lld, %lld FROM n;"
	    /* the probe user's history: 18 completed today, 2 active */
	    "INSERT INTO reservations (spot_id, lot_id, user_id, parking_ts,"
	    " leaving_ts, hourly_cents, cost_cents, status, created_at,"
	    " updated_at)"
	    " WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
	    " WHERE x < 18) SELECT 10 + x, 1, 1, %lld - 3600, %lld - 60, 1000,"
	    " 1000, 'completed', %lld, %lld FROM n;"
	    "INSERT INTO reservations (spot_id, lot_id, user_id, parking_ts,"
	    " hourly_cents, status, created_at, updated_at)"
	    " VALUES (1, 1, 1, %lld, 1000, 'active', %lld, %lld),"
	    " (2, 1, 1, %lld, 1000, 'active', %lld, %lld);"
	    "INSERT INTO sessions (id, user_id, refresh_jti, created_at,"
	    " last_used_at, expires_at) VALUES ('" PROBE_SID "', 1, 'j',"
	    " %lld, %lld, %lld);"
	    "INSERT INTO login_failures (account, at) VALUES"
	    " ('" PROBE_ACCOUNT "', %lld), ('" PROBE_ACCOUNT "', %lld),"
	    " ('" PROBE_ACCOUNT "', %lld);"
	    "COMMIT;",
	    now_s, now_s, now_s, now_s, now_s, now_s, now_s, now_s,
	    now_s, now_s, now_s, now_s, now_s, now_s, now_s, now_s,
	    now_s + 86400, now_s - 10, now_s - 20, now_s - 30);
	return run(sql);
}

/* Growth: 100,000 completed reservations of other users (older than 40
 * days, in every lot, the probe lot too), 5,000 more users, 20,000
 * sessions and 20,000 failed logins of others. */
static int
fill_growth(void)
{
	char sql[4096];
	long long old = now_s - 40 * 86400;

	snprintf(sql, sizeof sql,
	    "BEGIN;"
	    "INSERT INTO users (username, email, password_hash, created_at,"
	    " updated_at)"
	    " WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
	    " WHERE x < 5000) SELECT 'more' || x, 'more' || x || '@p.test',"
	    " 'x', %lld, %lld FROM n;"
	    "INSERT INTO reservations (spot_id, lot_id, user_id, parking_ts,"
	    " leaving_ts, hourly_cents, cost_cents, status, created_at,"
	    " updated_at)"
	    " WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n"
	    " WHERE x < 99999) SELECT x %% 1000 + 1, x %% 1000 / 100 + 1,"
	    " 2 + x %% 5199, %lld - x, %lld - x + 600, 1000, 1000,"
	    " 'completed', %lld - x, %lld - x FROM n;"
	    "INSERT INTO sessions (id, user_id, refresh_jti, created_at,"
	    " last_used_at, expires_at)"
	    " WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
	    " WHERE x < 20000) SELECT printf('%%032x', x), 2 + x %% 5199, 'j',"
	    " %lld, %lld, %lld FROM n;"
	    "INSERT INTO login_failures (account, at)"
	    " WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
	    " WHERE x < 20000) SELECT 'other' || (x %% 3000) || '@p.test',"
	    " %lld - x %% 600 FROM n;"
	    "COMMIT;",
	    now_s, now_s, old, old, old, old, now_s, now_s, now_s + 86400,
	    now_s);
	return run(sql);
}

int
main(void)
{
	char dir[256], path[300], plan[4096];
	const char *tmp;
	long long before[NHOT], after;
	struct tm tm;
	time_t t;
	size_t i;
	int scans;

	log_init("11-plans");
	conf.db_busy_timeout_ms = 5000;
	conf.db_synchronous_full = 0;
	now_s = (long long)time(NULL);
	t = (time_t)now_s;
	gmtime_r(&t, &tm);
	for (i = 0; i < NHOT; i++) {
		if (hot[i].id == STMT_SESSION_CHECK)
			hot[i].p[1].i = now_s;
		else if (hot[i].id == STMT_SUM_PER_DAY)
			hot[i].p[0].i = now_s - now_s % 86400 - 29 * 86400;
		else if (hot[i].id == STMT_LOGIN_FAIL_COUNT)
			hot[i].p[1].i = now_s - 900;
		else if (hot[i].id == STMT_SUM_REVENUE)
			hot[i].p[0].i = now_s - now_s % 86400 -
			    (long long)(tm.tm_mday - 1) * 86400;
		else if (hot[i].id == STMT_SUM_USER)
			hot[i].p[1].i = now_s;
	}

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/parkd-11-plans.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/t.db", dir);
	if (db_open(path, 1) != DB_OK ||
	    sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		printf("Bail out! cannot make %s\n", path);
		return 1;
	}

	for (i = 0; i < NHOT; i++) {
		scans = explain(db_sql(hot[i].id), plan, sizeof plan);
		ok(scans == 0, "%s: no full scan of a growing table",
		    hot[i].name);
		if (scans != 0)
			printf("#   plan:%s\n", plan);
	}
	for (i = 0; i < sizeof(indexed) / sizeof(indexed[0]); i++) {
		scans = explain(db_sql(indexed[i].id), plan, sizeof plan);
		ok(scans == 0, "%s: no full scan of a growing table",
		    indexed[i].name);
		if (scans != 0)
			printf("#   plan:%s\n", plan);
	}
	for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		scans = explain(db_sql(shown[i].id), plan, sizeof plan);
		diag("%s (admin only, not checked): %d full scan%s:%s",
		    shown[i].name, scans, scans == 1 ? "" : "s", plan);
	}

	ok(fill_base() == 0, "base data: 10 lots x 100 spots, 200 users, "
	    "the probe user's 20 reservations");
	for (i = 0; i < NHOT; i++)
		before[i] = steps(&hot[i]);
	ok(fill_growth() == 0, "growth: 100,000 reservations, 5,000 users, "
	    "20,000 sessions and failed logins of others");
	for (i = 0; i < NHOT; i++) {
		after = steps(&hot[i]);
		/* Lots do not grow here; every other statement must do the
		 * same work however much others' data there is. */
		ok(before[i] > 0 && after > 0 && after <= before[i] + 8,
		    "%s: %lld VM steps before the growth, %lld after",
		    hot[i].name, before[i], after);
	}

	for (i = 0; i < NOWN; i++)
		before[i] = steps(&own[i]);
	ok(run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
	    "FROM n WHERE i < 20000) INSERT INTO reservations (spot_id, "
	    "lot_id, user_id, vehicle_number, parking_ts, leaving_ts, "
	    "hourly_cents, cost_cents, status, created_at, updated_at) "
	    "SELECT (SELECT id FROM spots WHERE lot_id = 1 AND spot_number "
	    "= 1 + n.i % 100), 1, 1, 'KA01OWN', 1000 + n.i, 2000 + n.i, "
	    "100, 100, 'completed', 1000, 1000 FROM n") == 0,
	    "growth: 20,000 reservations of the probe user on the probe lot");
	for (i = 0; i < NOWN; i++) {
		after = steps(&own[i]);
		ok(before[i] > 0 && after > 0 && after <= before[i] + 8,
		    "%s: %lld VM steps before the user's and lot's own "
		    "growth, %lld after", own[i].name, before[i], after);
	}

	db_close();
	sqlite3_close(raw);
	snprintf(path, sizeof path, "%s/t.db", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/t.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/t.db-shm", dir);
	unlink(path);
	rmdir(dir);
	return done_testing();
}
