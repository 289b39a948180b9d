/*
 * fcgi-min.c: the benchmark's own trivial libfcgi responder (case B of
 * ../shared/docs/performance.md): the ceiling a FastCGI worker can reach
 * behind the same nginx.  It answers every request with a fixed small
 * JSON and does nothing else.  Built by bench/run with
 *     cc -O2 -o fcgi-min fcgi-min.c -lfcgi
 * and not part of parkd's build.
 *
 * Usage: fcgi-min SOCKET [WORKERS]
 *   binds the unix socket SOCKET (mode 0660, listen backlog 1024, like
 *   parkd), forks WORKERS (default 4) processes that each run an
 *   FCGX_Accept_r loop on it, and waits.  SIGTERM or SIGINT stops the
 *   workers and removes the socket.
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
#include <sqlite3.h>

static const char answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"success\":true,\"message\":\"ok\",\"data\":{\"bench\":\"fcgi-min\"}}\n";

/* Case C10: the columns parkd's list reads, of the lots a user sees. */
static const char c10_sql[] =
    "SELECT id, name, address, pin_code, price_cents, number_of_spots,"
    " occupied, is_active, description, hours_start, hours_end,"
    " created_at, updated_at FROM lots WHERE deleted_at IS NULL"
    " AND is_active = 1 ORDER BY id";

static const char *dbpath; /* NULL: case B */
static sqlite3 *db;
static sqlite3_stmt *c10;

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
	int n;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, fd, 0) != 0) {
		fprintf(stderr, "fcgi-min: FCGX_Init failed\n");
		_exit(1);
	}
	if (dbpath != NULL && (sqlite3_open_v2(dbpath, &db,
	    SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, c10_sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &c10, NULL) != SQLITE_OK)) {
		fprintf(stderr, "fcgi-min: %s: %s\n", dbpath,
		    db != NULL ? sqlite3_errmsg(db) : "cannot open");
		_exit(1);
	}
	while (FCGX_Accept_r(&r) >= 0) {
		if (dbpath == NULL)
			FCGX_PutStr(answer, (int)sizeof(answer) - 1, r.out);
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
	int fd, n, i;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: fcgi-min SOCKET [WORKERS [DATABASE]]\n");
		return 2;
	}
	n = argc >= 3 ? atoi(argv[2]) : 4;
	dbpath = argc == 4 ? argv[3] : NULL;
	if (n < 1 || n > 64) {
		fprintf(stderr, "fcgi-min: WORKERS must be 1 to 64\n");
		return 2;
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
