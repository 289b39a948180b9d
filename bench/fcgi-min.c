/*
 * fcgi-min.c: the benchmark's own trivial libfcgi responder (case B of
 * ../shared/docs/performance.md): the ceiling a FastCGI worker can reach
 * behind the same nginx.  It answers every request with a fixed small
 * JSON and does nothing else.  Two more modes give the baselines of
 * performance.md that add SQLite to it: C10 (one 10-row SELECT of parkd's
 * lots) and E (a booking write of its own), and a third, E_ckpt, is E with
 * parkd's checkpoint policy (informational, not performance.md's).  Built
 * by bench/run with
 *     cc -O2 -o fcgi-min fcgi-min.c -lfcgi -lsqlite3
 * and not part of parkd's build.
 *
 * Usage: fcgi-min SOCKET [WORKERS [DATABASE]]
 *        fcgi-min SOCKET WORKERS --e DBFILE
 *        fcgi-min SOCKET WORKERS --e-ckpt DBFILE
 *   binds the unix socket SOCKET (mode 0660, listen backlog 1024, like
 *   parkd), forks WORKERS (default 4) processes that each run an
 *   FCGX_Accept_r loop on it, and waits.  SIGTERM or SIGINT stops the
 *   workers and removes the socket.
 *
 *   With DATABASE (parkd's, opened read-only), each request runs one
 *   SELECT of the active lots and answers them as JSON (case C10).
 *
 *   With --e DBFILE, a database of fcgi-min's own (created and seeded with
 *   10 lots x 100 spots if missing; never parkd's), and two requests, each
 *   one write transaction (case E):
 *     POST .../book/<lot>  BEGIN IMMEDIATE, the lowest-numbered free spot
 *                          of the lot, INSERT the reservation, UPDATE the
 *                          spot, COMMIT: 200, or 409 when the lot is full
 *     POST .../release     BEGIN IMMEDIATE, the caller's oldest active
 *                          reservation, UPDATE it to completed with a
 *                          cost, UPDATE its spot, COMMIT: 200, or 409 when
 *                          the caller has none
 *   The caller is "Authorization: Bearer <N>", N a user number (bench/run's
 *   token file for E gives them); none or another one: 401.  Any other
 *   path or method: 404.  Any SQLite error: 503.
 *
 *   With --e-ckpt DBFILE, the same as --e (on its own DBFILE, paths under
 *   /_bench/e-ckpt/ instead of /_bench/e/) plus parkd's checkpoint policy
 *   and nothing else (case E_ckpt): a WAL hook that, once the WAL holds
 *   E_CKPT_PAGES frames, runs a RESTART checkpoint with the busy handler's
 *   wait capped at E_CKPT_WAIT_US (see e_wal_hook()).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <sqlite3.h>

static const char answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"success\":true,\"message\":\"ok\",\"data\":{\"bench\":\"fcgi-min\"}}\n";

/*
 * Case B_list: the answer of case B padded to the size of parkd's lots
 * list (4,016 bytes with its envelope), asked for with the same bearer
 * token: what nginx and wrk themselves cost for an exchange of that shape,
 * with nothing done in the worker.  Filled in main().
 */
#define BLIST_BYTES 4016
static char blist[sizeof(answer) + BLIST_BYTES];
static int blist_len;

/*
 * Cases B_close and B_list_close: B and B_list on paths under
 * /_bench/fcgi-close, where the worker closes the connection at once
 * instead of libfcgi's lingering close (shutdown, then wait for nginx to
 * close first), as parkd's workers do on a unix socket: the ceiling for
 * parkd's way of closing.  FCGX_Detach() makes FCGX_Finish_r() skip the
 * shutdown.
 */

/* Case C10: the columns parkd's list reads, of the lots a user sees. */
static const char c10_sql[] =
    "SELECT id, name, address, pin_code, price_cents, number_of_spots,"
    " occupied, is_active, description, hours_start, hours_end,"
    " created_at, updated_at FROM lots WHERE deleted_at IS NULL"
    " AND is_active = 1 ORDER BY id";

/*
 * Case E's database: parkd's booking write reduced to what performance.md's
 * E names.  Spots keep their status on the row (parkd's triggers do the
 * same), and "the lowest-numbered free spot" is one seek on spots_free.
 * The partial unique index is parkd's last line of defence against double
 * booking, and costs what it costs there.  reservations_user_active makes
 * "the caller's oldest active reservation" a seek, as parkd's index of the
 * same name does.  The seed runs only when spots is empty.
 */
static const char e_schema[] =
    "PRAGMA journal_mode = WAL;"
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS spots ("
    " id INTEGER PRIMARY KEY,"
    " lot_id INTEGER NOT NULL,"
    " spot_number INTEGER NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'A' CHECK (status IN ('A', 'O')));"
    "CREATE INDEX IF NOT EXISTS spots_free"
    " ON spots (lot_id, status, spot_number);"
    "CREATE TABLE IF NOT EXISTS reservations ("
    " id INTEGER PRIMARY KEY,"
    " spot_id INTEGER NOT NULL,"
    " user_id INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('active', 'completed')),"
    " parking_ts INTEGER NOT NULL,"
    " leaving_ts INTEGER,"
    " cost INTEGER);"
    "CREATE UNIQUE INDEX IF NOT EXISTS reservations_spot_active"
    " ON reservations (spot_id) WHERE status = 'active';"
    "CREATE INDEX IF NOT EXISTS reservations_user_active"
    " ON reservations (user_id) WHERE status = 'active';"
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
    " WHERE i < 999)"
    " INSERT INTO spots (lot_id, spot_number)"
    " SELECT i / 100 + 1, i % 100 + 1 FROM n"
    " WHERE NOT EXISTS (SELECT 1 FROM spots);"
    "COMMIT;";

/* Case E's statements, prepared once per worker and kept for its life. */
enum {
	E_BEGIN,
	E_COMMIT,
	E_ROLLBACK,
	E_FREE_SPOT, /* ?1 lot */
	E_INSERT, /* ?1 spot, ?2 user, ?3 now */
	E_OCCUPY, /* ?1 spot */
	E_OLDEST, /* ?1 user */
	E_COMPLETE, /* ?1 now, ?2 reservation */
	E_VACATE, /* ?1 spot */
	E_NSTMT
};

static const char *const e_sql[E_NSTMT] = {
	[E_BEGIN] = "BEGIN IMMEDIATE",
	[E_COMMIT] = "COMMIT",
	[E_ROLLBACK] = "ROLLBACK",
	[E_FREE_SPOT] =
	    "SELECT id FROM spots WHERE lot_id = ?1 AND status = 'A'"
	    " ORDER BY spot_number LIMIT 1",
	[E_INSERT] =
	    "INSERT INTO reservations (spot_id, user_id, status, parking_ts)"
	    " VALUES (?1, ?2, 'active', ?3)",
	[E_OCCUPY] = "UPDATE spots SET status = 'O' WHERE id = ?1",
	[E_OLDEST] =
	    "SELECT id, spot_id FROM reservations WHERE user_id = ?1"
	    " AND status = 'active' ORDER BY id LIMIT 1",
	/* 25.50 an hour, per started hour, at least one (as parkd's seed) */
	[E_COMPLETE] =
	    "UPDATE reservations SET status = 'completed',"
	    " leaving_ts = max(?1, parking_ts),"
	    " cost = 2550 * max(1, (max(?1, parking_ts) - parking_ts + 3599)"
	    " / 3600) WHERE id = ?2",
	[E_VACATE] = "UPDATE spots SET status = 'A' WHERE id = ?1",
};

/* Case E's busy handler: a waiting writer sleeps this long between tries,
 * and gives up (SQLITE_BUSY, a 503) after this much in all. */
#define E_BUSY_SLEEP_US 100
#define E_BUSY_LIMIT_US 5000000LL

/* Case E_ckpt: parkd's checkpoint policy, its defaults (src/db.c:
 * PARKD_DB_CHECKPOINT_PAGES and DB_CHECKPOINT_WAIT_MS). */
#define E_CKPT_PAGES 1000
#define E_CKPT_WAIT_US 20000LL

static const char *dbpath; /* case C10: parkd's database */
static const char *epath; /* case E: fcgi-min's own database */
static const char *eprefix = "/_bench/e/"; /* case E's paths */
static int eckpt; /* case E_ckpt: E with parkd's checkpoint policy */
static long long busy_cap_us; /* e_busy()'s limit during e_wal_hook() */
static sqlite3 *db;
static sqlite3_stmt *c10;
static sqlite3_stmt *e_st[E_NSTMT];
static struct timespec busy_start;

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Column i as text, "" when NULL (the bench's own data has no quotes or
 * control characters, so no escaping: this is a floor, not a writer). */
static const char *
col(int i)
{
	const unsigned char *t = sqlite3_column_text(c10, i);

	return t != NULL ? (const char *)t : "";
}

/* Case C10: the rows as JSON into out; returns the length. */
static int
c10_body(char *out, size_t cap)
{
	size_t n = 0;
	int first = 1, rc;
	long long price;

	n += (size_t)snprintf(out + n, cap - n,
	    "{\"success\":true,\"message\":\"Parking lots\",\"data\":[");
	while ((rc = sqlite3_step(c10)) == SQLITE_ROW && n < cap - 1024) {
		price = sqlite3_column_int64(c10, 4);
		n += (size_t)snprintf(out + n, cap - n,
		    "%s{\"id\":%lld,\"prime_location_name\":\"%s\","
		    "\"address\":\"%s\",\"pin_code\":\"%s\","
		    "\"number_of_spots\":%d,\"price\":%lld.%02lld,"
		    "\"is_active\":%s,\"description\":\"%s\","
		    "\"operating_hours_start\":\"%s\","
		    "\"operating_hours_end\":\"%s\","
		    "\"available_spots\":%d,\"occupied_spots\":%d,"
		    "\"created_at\":%lld,\"updated_at\":%lld}",
		    first ? "" : ",", sqlite3_column_int64(c10, 0), col(1),
		    col(2), col(3), sqlite3_column_int(c10, 5), price / 100,
		    price % 100, sqlite3_column_int(c10, 7) ? "true" : "false",
		    col(8), col(9), col(10), sqlite3_column_int(c10, 5) -
		    sqlite3_column_int(c10, 6), sqlite3_column_int(c10, 6),
		    sqlite3_column_int64(c10, 11),
		    sqlite3_column_int64(c10, 12));
		first = 0;
	}
	sqlite3_reset(c10);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return -1;
	n += (size_t)snprintf(out + n, cap - n, "]}\n");
	return (int)n;
}

/*
 * Case E's busy handler: sleeps of E_BUSY_SLEEP_US, E_BUSY_LIMIT_US in all
 * (busy_cap_us instead while it is set: case E_ckpt's checkpoint).
 * SQLite's own (sqlite3_busy_timeout) sleeps 1, 2, 5, 10 ms..., which made
 * the write path's p99 three times worse (performance.md).  Returns 1 to
 * try again, 0 to give up (the statement fails with SQLITE_BUSY).
 */
static int
e_busy(void *arg, int count)
{
	struct timespec now, ts = { 0, E_BUSY_SLEEP_US * 1000 };
	long long waited, limit;

	(void)arg;
	limit = E_BUSY_LIMIT_US;
	if (busy_cap_us > 0 && limit > busy_cap_us)
		limit = busy_cap_us;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0)
		busy_start = now;
	waited = (long long)(now.tv_sec - busy_start.tv_sec) * 1000000 +
	    (now.tv_nsec - busy_start.tv_nsec) / 1000;
	if (waited >= limit)
		return 0;
	nanosleep(&ts, NULL); /* EINTR: a shorter sleep, then a retry */
	return 1;
}

/*
 * Case E_ckpt's WAL hook: parkd's checkpoint policy (src/db.c,
 * db_wal_hook()), run after every commit with the WAL's size in frames.
 * Why E_ckpt exists: under bench/run's steady booking load, SQLite's
 * default automatic checkpoint (PASSIVE, past 1000 frames), which case E
 * keeps as performance.md defines it, never reaches the end of the WAL
 * because some reader always holds an older snapshot; so the WAL never
 * starts again from its beginning, grows to about 1 GB in a 5 s case, and
 * every commit past 1000 frames runs a checkpoint of its own, with fsyncs.
 * parkd avoids that with this hook, so book x E alone flatters parkd.
 * Installing a WAL hook replaces SQLite's automatic checkpoint.  Past
 * E_CKPT_PAGES frames, a RESTART checkpoint waits for the WAL's readers,
 * at most E_CKPT_WAIT_US, so that the next writer starts the WAL again.
 * Returns SQLITE_OK: the commit has succeeded whatever happens here.
 */
static int
e_wal_hook(void *arg, sqlite3 *conn, const char *name, int frames)
{
	(void)arg;
	if (frames < E_CKPT_PAGES)
		return SQLITE_OK;
	busy_cap_us = E_CKPT_WAIT_US;
	sqlite3_wal_checkpoint_v2(conn, name, SQLITE_CHECKPOINT_RESTART, NULL,
	    NULL);
	busy_cap_us = 0;
	return SQLITE_OK;
}

/* sqlite3_exec()'s callback: notes whether PRAGMA journal_mode, the only
 * statement of e_open()'s scripts that returns a row, answered "wal". */
static int
e_is_wal(void *arg, int n, char **val, char **name)
{
	(void)name;
	*(int *)arg = n == 1 && val[0] != NULL && strcmp(val[0], "wal") == 0;
	return 0;
}

/*
 * Opens case E's database into db, with the busy handler, in WAL mode.
 * With create (the parent, before the fork), creates and seeds it first;
 * without (a worker, after the fork: a connection must not cross a fork),
 * sets synchronous=NORMAL, which belongs to the connection, prepares the
 * statements and, for case E_ckpt, installs e_wal_hook().  Returns 0, or
 * -1 after saying why.
 */
static int
e_open(const char *path, int create)
{
	char *err = NULL;
	int wal = 0, i, rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    (create ? SQLITE_OPEN_CREATE : 0), NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_handler(db, e_busy, NULL);
	if (sqlite3_exec(db, create ? e_schema : "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;", e_is_wal, &wal, &err) != SQLITE_OK)
		goto out;
	for (i = 0; !create && i < E_NSTMT; i++)
		if (sqlite3_prepare_v3(db, e_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &e_st[i], NULL) != SQLITE_OK)
			goto out;
	if (!create && eckpt)
		sqlite3_wal_hook(db, e_wal_hook, NULL);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "fcgi-min: %s: %s\n", path, err != NULL ? err :
		    db != NULL ? sqlite3_errmsg(db) : "cannot open");
	else if (!wal) {
		fprintf(stderr, "fcgi-min: %s: not in WAL mode\n", path);
		rc = -1;
	}
	sqlite3_free(err);
	return rc;
}

/* Steps a statement that returns no row, and resets it.  Returns 0 when it
 * ran to its end, -1 otherwise. */
static int
e_run(sqlite3_stmt *st)
{
	int rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Rolls back what a failed request left open (a failed COMMIT leaves its
 * transaction open; some errors roll back by themselves).  Returns status. */
static int
e_end(int status)
{
	if (!sqlite3_get_autocommit(db))
		e_run(e_st[E_ROLLBACK]);
	return status;
}

/*
 * Case E's booking: the lowest-numbered free spot of lot for user, the
 * check and both writes in one write transaction (performance.md: only
 * that kept bookings from colliding).  Returns the status: 200, 409 (no
 * free spot) or 503 (a SQLite error, a busy one included).
 */
static int
e_book(long long lot, long long user)
{
	sqlite3_stmt *st = e_st[E_FREE_SPOT];
	long long spot;
	int rc;

	if (e_run(e_st[E_BEGIN]) != 0)
		return e_end(503);
	sqlite3_bind_int64(st, 1, lot);
	rc = sqlite3_step(st);
	spot = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return e_end(rc == SQLITE_DONE ? 409 : 503);
	st = e_st[E_INSERT];
	sqlite3_bind_int64(st, 1, spot);
	sqlite3_bind_int64(st, 2, user);
	sqlite3_bind_int64(st, 3, (long long)time(NULL));
	if (e_run(st) != 0)
		return e_end(503);
	sqlite3_bind_int64(e_st[E_OCCUPY], 1, spot);
	if (e_run(e_st[E_OCCUPY]) != 0 || e_run(e_st[E_COMMIT]) != 0)
		return e_end(503);
	return 200;
}

/*
 * Case E's release: the oldest active reservation of user becomes
 * completed, with its cost, and its spot free again, in one write
 * transaction.  Returns the status: 200, 409 (user has no active
 * reservation) or 503 (a SQLite error).
 */
static int
e_release(long long user)
{
	sqlite3_stmt *st = e_st[E_OLDEST];
	long long id = 0, spot = 0;
	int rc;

	if (e_run(e_st[E_BEGIN]) != 0)
		return e_end(503);
	sqlite3_bind_int64(st, 1, user);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		spot = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return e_end(rc == SQLITE_DONE ? 409 : 503);
	st = e_st[E_COMPLETE];
	sqlite3_bind_int64(st, 1, (long long)time(NULL));
	sqlite3_bind_int64(st, 2, id);
	if (e_run(st) != 0)
		return e_end(503);
	sqlite3_bind_int64(e_st[E_VACATE], 1, spot);
	if (e_run(e_st[E_VACATE]) != 0 || e_run(e_st[E_COMMIT]) != 0)
		return e_end(503);
	return 200;
}

/* The user number of "Bearer <N>"; returns it, or 0 for anything else. */
static long long
e_user(const char *auth)
{
	char *end;
	long long n;

	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
		return 0;
	errno = 0;
	n = strtoll(auth + 7, &end, 10);
	return errno == 0 && end != auth + 7 && *end == '\0' && n > 0 ? n : 0;
}

/* Case E: reads one request and runs it (its paths under eprefix).
 * Returns its status (see the top of the file). */
static int
e_route(FCGX_Request *r)
{
	static const char book[] = "book/";
	const char *method, *uri, *num;
	char buf[1024], *end;
	long long user, lot;
	size_t plen;

	/* The body to its end, as parkd reads it (its content is not
	 * needed): a worker that closes the connection with unread input
	 * may reset it under nginx. */
	while (FCGX_GetStr(buf, sizeof(buf), r->in) > 0)
		;
	method = FCGX_GetParam("REQUEST_METHOD", r->envp);
	uri = FCGX_GetParam("DOCUMENT_URI", r->envp);
	if (method == NULL || uri == NULL || strcmp(method, "POST") != 0)
		return 404;
	if ((user = e_user(FCGX_GetParam("HTTP_AUTHORIZATION", r->envp))) == 0)
		return 401;
	plen = strlen(eprefix);
	if (strncmp(uri, eprefix, plen) != 0)
		return 404;
	uri += plen;
	if (strcmp(uri, "release") == 0)
		return e_release(user);
	if (strncmp(uri, book, sizeof(book) - 1) != 0)
		return 404;
	num = uri + sizeof(book) - 1;
	errno = 0;
	lot = strtoll(num, &end, 10);
	if (errno != 0 || end == num || *end != '\0')
		return 404;
	return e_book(lot, user);
}

/* Case E: one request, answered with its status and a small fixed JSON. */
static void
e_serve(FCGX_Request *r)
{
	const char *line, *body;
	int status;

	status = e_route(r);
	switch (status) {
	case 200:
		line = "200 OK";
		body = "{\"success\":true,\"message\":\"ok\","
		    "\"data\":{\"bench\":\"e\"}}";
		break;
	case 401:
		line = "401 Unauthorized";
		body = "{\"success\":false,\"message\":\"no user\"}";
		break;
	case 404:
		line = "404 Not Found";
		body = "{\"success\":false,\"message\":\"not found\"}";
		break;
	case 409:
		line = "409 Conflict";
		body = "{\"success\":false,\"message\":\"conflict\"}";
		break;
	default:
		line = "503 Service Unavailable";
		body = "{\"success\":false,\"message\":\"busy\"}";
		break;
	}
	FCGX_FPrintF(r->out, "Status: %s\r\nContent-Type: application/json\r\n"
	    "\r\n%s\n", line, body);
}

/* One worker: the accept loop.  Returns when accept fails while stopping. */
static void
serve(int fd)
{
	FCGX_Request r;

	/* Default signals again, and die with the parent whatever kills it. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	static char body[65536];
	const char *uri;
	int n;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, fd, 0) != 0) {
		fprintf(stderr, "fcgi-min: FCGX_Init failed\n");
		_exit(1);
	}
	if (epath != NULL && e_open(epath, 0) != 0)
		_exit(1);
	if (dbpath != NULL && (sqlite3_open_v2(dbpath, &db,
	    SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, c10_sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &c10, NULL) != SQLITE_OK)) {
		fprintf(stderr, "fcgi-min: %s: %s\n", dbpath,
		    db != NULL ? sqlite3_errmsg(db) : "cannot open");
		_exit(1);
	}
	while (FCGX_Accept_r(&r) >= 0) {
		if (epath != NULL)
			e_serve(&r);
		else if (dbpath == NULL) {
			uri = FCGX_GetParam("DOCUMENT_URI", r.envp);
			if (uri == NULL)
				uri = "";
			if (strcmp(uri, "/_bench/fcgi-list") == 0 ||
			    strcmp(uri, "/_bench/fcgi-close-list") == 0)
				FCGX_PutStr(blist, blist_len, r.out);
			else
				FCGX_PutStr(answer, (int)sizeof(answer) - 1,
				    r.out);
			if (strncmp(uri, "/_bench/fcgi-close", 18) == 0)
				FCGX_Detach(&r);
		}
		else if ((n = c10_body(body, sizeof(body))) > 0) {
			FCGX_FPrintF(r.out, "Status: 200 OK\r\n"
			    "Content-Type: application/json\r\n\r\n");
			FCGX_PutStr(body, n, r.out);
		} else
			FCGX_FPrintF(r.out, "Status: 503 Unavailable\r\n"
			    "Content-Type: text/plain\r\n\r\nbusy\n");
		FCGX_Finish_r(&r);
	}
	_exit(0);
}

/* Binds and listens on path; returns the socket or -1. */
static int
listen_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "fcgi-min: socket path too long\n");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, 1024) != 0) {
		fprintf(stderr, "fcgi-min: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	pid_t kids[64];
	int fd, n, i, rc;
	static const char head[] = "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n\r\n"
	    "{\"success\":true,\"message\":\"ok\",\"data\":{\"bench\":"
	    "\"fcgi-min\",\"pad\":\"";
	static const char tail[] = "\"}}\n";
	size_t pad;

	/* B_list's answer: a body of exactly BLIST_BYTES. */
	pad = BLIST_BYTES - strlen(strstr(head, "{")) - (sizeof(tail) - 1);
	memcpy(blist, head, sizeof(head) - 1);
	memset(blist + sizeof(head) - 1, 'x', pad);
	memcpy(blist + sizeof(head) - 1 + pad, tail, sizeof(tail) - 1);
	blist_len = (int)(sizeof(head) - 1 + pad + sizeof(tail) - 1);

	if (argc == 5 && strcmp(argv[3], "--e") == 0)
		epath = argv[4];
	else if (argc == 5 && strcmp(argv[3], "--e-ckpt") == 0) {
		epath = argv[4];
		eprefix = "/_bench/e-ckpt/";
		eckpt = 1;
	} else if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: fcgi-min SOCKET [WORKERS [DATABASE]]\n"
		    "       fcgi-min SOCKET WORKERS --e DBFILE\n"
		    "       fcgi-min SOCKET WORKERS --e-ckpt DBFILE\n");
		return 2;
	} else if (argc == 4)
		dbpath = argv[3];
	n = argc >= 3 ? atoi(argv[2]) : 4;
	if (n < 1 || n > 64) {
		fprintf(stderr, "fcgi-min: WORKERS must be 1 to 64\n");
		return 2;
	}
	/* Case E's (or E_ckpt's) database is made once, here, so that the
	 * workers only open it; the connection is closed before the fork. */
	if (epath != NULL) {
		rc = e_open(epath, 1);
		sqlite3_close(db);
		db = NULL;
		if (rc != 0)
			return 1;
	}
	if ((fd = listen_unix(argv[1])) < 0)
		return 1;
	/* The handler before the fork: a stop that comes early still
	 * reaches the loop below. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 0; i < n; i++) {
		if ((kids[i] = fork()) < 0) {
			fprintf(stderr, "fcgi-min: fork: %s\n", strerror(errno));
			n = i;
			break;
		}
		if (kids[i] == 0)
			serve(fd);
	}
	while (!stopping && n > 0) {
		if (wait(NULL) < 0 && errno == ECHILD)
			break;
	}
	for (i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	unlink(argv[1]);
	return 0;
}
