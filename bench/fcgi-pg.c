/*
 * fcgi-pg.c: the benchmark's own booking transaction on PostgreSQL, raw
 * libpq behind a minimal libfcgi responder (bench/pg's case E_pg, the
 * baseline of performance.md's "PostgreSQL: book + release >= 0.7 x a raw
 * libpq booking transaction of the benchmark's own, same run").  Built by
 * bench/pg with
 *     cc -O2 -o fcgi-pg fcgi-pg.c -I$(pg_config --includedir) -lfcgi -lpq
 * and not part of parkd's build.  fcgi-min.c's case E is the same thing
 * on SQLite.
 *
 * Usage: fcgi-pg SOCKET WORKERS CONNINFO [--global-lock]
 *   binds the unix socket SOCKET (mode 0660, backlog 1024, like parkd),
 *   forks WORKERS processes, each with one libpq connection (opened after
 *   the fork) to CONNINFO, a database migrated with parkd's sql/pg and
 *   seeded by bench/pg (users 1..N, lots 1..10 of 100 spots), its
 *   statements prepared once, and answers, each request one READ
 *   COMMITTED transaction:
 *     POST .../book/<lot>  BEGIN; the lot's lowest-numbered free spot,
 *                          SELECT ... FOR UPDATE SKIP LOCKED; INSERT the
 *                          active reservation; COMMIT: 200, or 409 when
 *                          the lot has no free spot
 *     POST .../release     BEGIN; the caller's oldest active reservation,
 *                          SELECT ... FOR UPDATE; UPDATE it to completed
 *                          with its cost; COMMIT: 200, or 409 when none
 *   "UPDATE the spot" (and the lot's occupied count, and on release the
 *   user's counts) is done by the schema's own triggers
 *   (reservations_occupy, reservations_free, reservations_recounted), as
 *   for parkd: the raw transaction runs on exactly parkd's schema, its
 *   constraints and triggers included.  The lot's row, updated by those
 *   triggers, is what serialises two bookings of one lot (a row lock held
 *   to COMMIT); bookings of different lots run side by side and their
 *   commits may share a WAL flush (group commit).
 *
 *   With --global-lock (case E_pg_lock), the paths are under
 *   /_bench/pg-e-lock/ instead of /_bench/pg-e/, and each transaction
 *   first takes parkd's write lock, SELECT pg_advisory_xact_lock(
 *   1885434475, 2) (src/db-pg.c pg_begin()), held to COMMIT: the same
 *   transaction with every writer serialised, as parkd does.
 *
 *   The caller is "Authorization: Bearer <N>" (user id N); none: 401.
 *   Other paths or methods: 404.  Any PostgreSQL error: 503 (the
 *   transaction rolled back; a lost connection is opened again at the next
 *   request).
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
#include <unistd.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

/* The statements, prepared once per connection under these names. */
enum {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_LOCK,
	S_FREE_SPOT, /* $1 lot */
	S_INSERT, /* $1 spot, $2 lot, $3 user */
	S_OLDEST, /* $1 user */
	S_COMPLETE, /* $1 reservation */
	S_N
};

static const char *const sql[S_N] = {
	[S_BEGIN] = "BEGIN ISOLATION LEVEL READ COMMITTED",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* parkd's write lock (src/db.c STMT_PG_WRITE_LOCK) */
	[S_LOCK] = "SELECT pg_advisory_xact_lock(1885434475, 2)",
	[S_FREE_SPOT] =
	    "SELECT id FROM spots WHERE lot_id = $1::bigint AND status = 'A'"
	    " AND removed_at IS NULL ORDER BY spot_number LIMIT 1"
	    " FOR UPDATE SKIP LOCKED",
	[S_INSERT] =
	    "INSERT INTO reservations (spot_id, lot_id, user_id, parking_ts,"
	    " hourly_cents, status, created_at, updated_at)"
	    " VALUES ($1::bigint, $2::bigint, $3::bigint,"
	    " date_trunc('second', now()), 2550, 'active',"
	    " date_trunc('second', now()), date_trunc('second', now()))",
	[S_OLDEST] =
	    "SELECT id FROM reservations WHERE user_id = $1::bigint"
	    " AND status = 'active' ORDER BY id LIMIT 1 FOR UPDATE",
	/* 25.50 an hour, per started hour, at least one (as fcgi-min's E) */
	[S_COMPLETE] =
	    "UPDATE reservations SET status = 'completed',"
	    " leaving_ts = greatest(date_trunc('second', now()), parking_ts),"
	    " cost_cents = 2550 * greatest(1, ceil(extract(epoch FROM"
	    " greatest(date_trunc('second', now()), parking_ts) - parking_ts)"
	    " / 3600.0))::bigint,"
	    " updated_at = date_trunc('second', now()) WHERE id = $1::bigint",
};

static const int nparams[S_N] = {
	[S_FREE_SPOT] = 1, [S_INSERT] = 3, [S_OLDEST] = 1, [S_COMPLETE] = 1,
};

static const char *conninfo;
static const char *prefix = "/_bench/pg-e/";
static int global_lock;
static PGconn *conn;

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Opens the connection and prepares the statements.  Returns 0, or -1
 * after saying why (conn then NULL). */
static int
pg_open(void)
{
	char name[8];
	PGresult *res;
	int i;

	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
		goto fail;
	for (i = 0; i < S_N; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		res = PQprepare(conn, name, sql[i], nparams[i], NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			PQclear(res);
			goto fail;
		}
		PQclear(res);
	}
	return 0;
fail:
	fprintf(stderr, "fcgi-pg: %s", PQerrorMessage(conn));
	PQfinish(conn);
	conn = NULL;
	return -1;
}

/*
 * Runs prepared statement id with up to 3 int64 parameters.  Returns its
 * first column of its first row as a number (0 when it returns no row or
 * no rows at all), or -1 on an error (said on stderr).
 */
static long long
run(int id, long long a, long long b, long long c)
{
	char name[8], pa[24], pb[24], pc[24];
	const char *vals[3] = { pa, pb, pc };
	PGresult *res;
	ExecStatusType st;
	long long v = 0;

	snprintf(name, sizeof(name), "s%d", id);
	snprintf(pa, sizeof(pa), "%lld", a);
	snprintf(pb, sizeof(pb), "%lld", b);
	snprintf(pc, sizeof(pc), "%lld", c);
	res = PQexecPrepared(conn, name, nparams[id], vals, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK) {
		if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
			v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	} else if (st != PGRES_COMMAND_OK) {
		fprintf(stderr, "fcgi-pg: %s", PQresultErrorMessage(res));
		v = -1;
	}
	PQclear(res);
	return v;
}

/* Ends a request: rolls back whatever is open.  Returns status. */
static int
end(int status)
{
	if (conn != NULL && PQtransactionStatus(conn) != PQTRANS_IDLE)
		run(S_ROLLBACK, 0, 0, 0);
	return status;
}

/* BEGIN, and with --global-lock parkd's write lock.  Returns 0 or -1. */
static int
begin(void)
{
	if (conn != NULL && PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		conn = NULL;
	}
	if (conn == NULL && pg_open() != 0)
		return -1;
	if (run(S_BEGIN, 0, 0, 0) < 0)
		return -1;
	if (global_lock && run(S_LOCK, 0, 0, 0) < 0)
		return -1;
	return 0;
}

/* The booking.  Returns 200, 409 (no free spot) or 503. */
static int
book(long long lot, long long user)
{
	long long spot;

	if (begin() != 0)
		return end(503);
	if ((spot = run(S_FREE_SPOT, lot, 0, 0)) < 0)
		return end(503);
	if (spot == 0)
		return end(409);
	if (run(S_INSERT, spot, lot, user) < 0 || run(S_COMMIT, 0, 0, 0) < 0)
		return end(503);
	return 200;
}

/* The release.  Returns 200, 409 (no active reservation) or 503. */
static int
release(long long user)
{
	long long id;

	if (begin() != 0)
		return end(503);
	if ((id = run(S_OLDEST, user, 0, 0)) < 0)
		return end(503);
	if (id == 0)
		return end(409);
	if (run(S_COMPLETE, id, 0, 0) < 0 || run(S_COMMIT, 0, 0, 0) < 0)
		return end(503);
	return 200;
}

/* The user number of "Bearer <N>", or 0. */
static long long
user_of(const char *auth)
{
	char *e;
	long long n;

	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
		return 0;
	errno = 0;
	n = strtoll(auth + 7, &e, 10);
	return errno == 0 && e != auth + 7 && *e == '\0' && n > 0 ? n : 0;
}

/* Reads one request and runs it.  Returns its status. */
static int
route(FCGX_Request *r)
{
	const char *method, *uri, *num;
	char buf[1024], *e;
	long long user, lot;
	size_t plen = strlen(prefix);

	while (FCGX_GetStr(buf, sizeof(buf), r->in) > 0)
		;
	method = FCGX_GetParam("REQUEST_METHOD", r->envp);
	uri = FCGX_GetParam("DOCUMENT_URI", r->envp);
	if (method == NULL || uri == NULL || strcmp(method, "POST") != 0 ||
	    strncmp(uri, prefix, plen) != 0)
		return 404;
	if ((user = user_of(FCGX_GetParam("HTTP_AUTHORIZATION", r->envp))) == 0)
		return 401;
	uri += plen;
	if (strcmp(uri, "release") == 0)
		return release(user);
	if (strncmp(uri, "book/", 5) != 0)
		return 404;
	num = uri + 5;
	errno = 0;
	lot = strtoll(num, &e, 10);
	if (errno != 0 || e == num || *e != '\0' || lot <= 0)
		return 404;
	return book(lot, user);
}

static void
respond(FCGX_Request *r)
{
	const char *line, *body;

	switch (route(r)) {
	case 200:
		line = "200 OK";
		body = "{\"success\":true,\"message\":\"ok\","
		    "\"data\":{\"bench\":\"pg-e\"}}";
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

static void
serve(int fd)
{
	FCGX_Request r;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, fd, 0) != 0) {
		fprintf(stderr, "fcgi-pg: FCGX_Init failed\n");
		_exit(1);
	}
	if (pg_open() != 0)
		_exit(1);
	while (FCGX_Accept_r(&r) >= 0) {
		respond(&r);
		FCGX_Finish_r(&r);
	}
	_exit(0);
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "fcgi-pg: socket path too long\n");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, 1024) != 0) {
		fprintf(stderr, "fcgi-pg: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	pid_t kids[64];
	int fd, n, i;

	if (argc == 5 && strcmp(argv[4], "--global-lock") == 0) {
		global_lock = 1;
		prefix = "/_bench/pg-e-lock/";
	} else if (argc != 4) {
		fprintf(stderr, "usage: fcgi-pg SOCKET WORKERS CONNINFO "
		    "[--global-lock]\n");
		return 2;
	}
	conninfo = argv[3];
	n = atoi(argv[2]);
	if (n < 1 || n > 64) {
		fprintf(stderr, "fcgi-pg: WORKERS must be 1 to 64\n");
		return 2;
	}
	if ((fd = listen_unix(argv[1])) < 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 0; i < n; i++) {
		if ((kids[i] = fork()) < 0) {
			fprintf(stderr, "fcgi-pg: fork: %s\n", strerror(errno));
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
