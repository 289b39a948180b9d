/*
 * parkd.c: the server's supervisor.  It reads the settings, takes its
 * listening socket from systemd or binds the unix socket itself, applies
 * the database migrations, and pre-forks the workers that serve FastCGI
 * requests (fcgi.c).  Then it only watches:
 *
 *   SIGCHLD          re-fork a worker that died (backing off when workers
 *                    die in a loop)
 *   every 200 ms     kill a worker that has held a hash slot longer than
 *                    PARKD_HASH_HOLD_MAX_S (stopped, stuck)
 *   SIGHUP           reload the settings, start a new generation of
 *                    workers, then let the old one finish and exit
 *   SIGTERM, SIGINT  stop accepting, let workers finish their request,
 *                    exit 0
 *
 * Signals are blocked and taken synchronously with sigtimedwait(), so no
 * handler runs in the supervisor.  Workers open SQLite and Redis only after
 * the fork.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
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

#include "park.h"

#define MAX_WORKERS 128 /* two generations of at most 64 */
#define STOP_GRACE_MS 10000

struct worker {
	pid_t pid;
	unsigned gen;
	int64_t started_ms;
	/* Of an old generation: when it was told to go, when it was last
	 * sent SIGTERM, and whether it has been sent SIGKILL. */
	int64_t retired_ms, signalled_ms;
	int killed;
	int gate_killed; /* sent SIGKILL for holding a hash slot */
};

static struct worker workers[MAX_WORKERS];
static unsigned generation;
static int quick_deaths;
static int64_t respawn_at_ms;
static const char *config_file;

static void PARK_NORETURN
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: parkd [-t] [-c file]\n"
	    "  -c file  settings file (KEY=value; default $PARKD_CONFIG)\n"
	    "  -t       check the settings and exit\n"
	    "  -V       print the version and exit\n"
	    "  -h       print this help and exit\n");
	exit(status);
}

/* Tells systemd (Type=notify) about a state change, when it listens. */
static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, len);
	close(fd);
}

/*
 * Returns the listening socket: fd 3 from systemd socket activation, or a
 * unix socket bound at conf.socket_path with conf.socket_mode and group.
 * *owned tells whether we created the path (and so remove it at exit).
 * Exits on failure: without a socket there is nothing to serve.
 */
static int
listen_socket(int *owned)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	const char *path = conf.socket_path;
	struct sockaddr_un sa;
	struct stat st;
	struct group *gr;
	mode_t old;
	int fd;

	*owned = 0;
	if (fds != NULL && pid != NULL && atol(pid) == (long)getpid() &&
	    atoi(fds) >= 1) {
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		if (fstat(3, &st) != 0 || !S_ISSOCK(st.st_mode)) {
			log_msg(LOG_ERR, "LISTEN_FDS is set but fd 3 is not "
			    "a socket");
			exit(1);
		}
		log_msg(LOG_INFO, "using the socket from systemd");
		return 3;
	}

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_msg(LOG_ERR, "PARKD_SOCKET is too long: %s", path);
		exit(3);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
		log_msg(LOG_ERR, "socket: %s", strerror(errno));
		exit(1);
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_msg(LOG_ERR, "%s exists and is not a socket", path);
			exit(1);
		}
		/* A live server answers; a stale socket file refuses. */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			log_msg(LOG_ERR, "another server is listening on %s",
			    path);
			exit(1);
		}
		close(fd);
		if (unlink(path) != 0 ||
		    (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
			log_msg(LOG_ERR, "cannot replace the stale socket %s:"
			    " %s", path, strerror(errno));
			exit(1);
		}
	}
	/* Created private, then opened up to the configured mode: never
	 * wider than asked, even for an instant. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		log_msg(LOG_ERR, "bind %s: %s", path, strerror(errno));
		exit(1);
	}
	umask(old);
	*owned = 1;
	if (conf.socket_group != NULL && conf.socket_group[0] != '\0') {
		if ((gr = getgrnam(conf.socket_group)) == NULL ||
		    chown(path, (uid_t)-1, gr->gr_gid) != 0) {
			log_msg(LOG_ERR, "cannot give %s to group %s: %s", path,
			    conf.socket_group, gr == NULL ? "no such group" :
			    strerror(errno));
			unlink(path);
			exit(3);
		}
	}
	if (chmod(path, (mode_t)conf.socket_mode) != 0 ||
	    listen(fd, 1024) != 0) {
		log_msg(LOG_ERR, "listen %s: %s", path, strerror(errno));
		unlink(path);
		exit(1);
	}
	log_msg(LOG_INFO, "listening on %s (mode %04o)", path,
	    (unsigned)conf.socket_mode);
	return fd;
}

static void
worker_signal(int sig)
{
	(void)sig;
	fcgi_stop();
}

/* The worker process: never returns. */
static void PARK_NORETURN
worker_main(int fd)
{
	struct sigaction sa;
	sigset_t none;
	long served;

	/* Workers must not outlive a supervisor killed with SIGKILL. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must interrupt accept(). */
	sa.sa_handler = worker_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	metrics_worker_start();
	front_worker_init();
	served = fcgi_serve(fd, conf.worker_max_requests);
	front_worker_done();
	log_msg(LOG_DEBUG, "worker exits after %ld requests", served);
	_exit(0);
}

/* Forks one worker of the current generation.  Returns 0 or -1. */
static int
spawn(int fd)
{
	size_t i;
	pid_t pid;

	for (i = 0; i < MAX_WORKERS; i++)
		if (workers[i].pid == 0)
			break;
	if (i == MAX_WORKERS)
		return -1;
	fflush(stderr);
	if ((pid = fork()) < 0) {
		log_msg(LOG_ERR, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		worker_main(fd);
	memset(&workers[i], 0, sizeof(workers[i]));
	workers[i].pid = pid;
	workers[i].gen = generation;
	workers[i].started_ms = park_ms();
	return 0;
}

/* Returns how many workers of the current generation run. */
static int
count_current(void)
{
	size_t i;
	int n = 0;

	for (i = 0; i < MAX_WORKERS; i++)
		if (workers[i].pid != 0 && workers[i].gen == generation)
			n++;
	return n;
}

/* Starts the workers the current generation lacks, unless backing off. */
static void
spawn_missing(int fd)
{
	if (park_ms() < respawn_at_ms)
		return;
	while (count_current() < conf.workers)
		if (spawn(fd) != 0)
			break;
}

/* Sends sig to every worker. */
static void
signal_workers(int sig)
{
	size_t i;

	for (i = 0; i < MAX_WORKERS; i++)
		if (workers[i].pid != 0)
			kill(workers[i].pid, sig);
}

/*
 * The workers of old generations that have not gone yet.  SIGTERM again
 * every second: a worker that got the first one between its look at the
 * stop flag and accept() would otherwise wait in accept() until a request
 * came (and serve it with the old settings).  SIGKILL past STOP_GRACE_MS,
 * as at stop: a worker stuck in a request must not stay forever (it holds
 * the old settings, and its slot).
 */
static void
retire_old(void)
{
	int64_t now = park_ms();
	size_t i;
	struct worker *w;

	for (i = 0; i < MAX_WORKERS; i++) {
		w = &workers[i];
		if (w->pid == 0 || w->gen == generation || w->killed)
			continue;
		if (now - w->retired_ms > STOP_GRACE_MS) {
			log_msg(LOG_WARN, "worker %ld of an old generation still "
			    "runs %d s after the reload: killing it",
			    (long)w->pid, STOP_GRACE_MS / 1000);
			kill(w->pid, SIGKILL);
			w->killed = 1;
		} else if (now - w->signalled_ms >= 1000) {
			kill(w->pid, SIGTERM);
			w->signalled_ms = now;
		}
	}
}

/*
 * A worker that holds a hash slot far longer than a hash takes (stopped
 * with SIGSTOP, stuck) closes the gate one slot at a time, and it never
 * dies for reap() to free its slot: kill it, and reap() frees the slot.
 * Only our own workers: a slot's pid is one of them, or stale.
 */
static void
kill_overdue(void)
{
	pid_t pid;
	size_t i;
	int from = 0, next;

	while ((pid = pw_gate_overdue((int64_t)conf.hash_hold_max_s * 1000,
	    from, &next)) > 0) {
		from = next;
		for (i = 0; i < MAX_WORKERS; i++)
			if (workers[i].pid == pid)
				break;
		if (i == MAX_WORKERS || workers[i].gate_killed)
			continue;
		log_msg(LOG_WARN, "worker %ld has held a hash slot for more "
		    "than %d s (stopped or stuck): killing it", (long)pid,
		    conf.hash_hold_max_s);
		kill(pid, SIGKILL);
		workers[i].gate_killed = 1;
	}
}

/* Collects dead workers; plans a respawn with back-off for crashes. */
static void
reap(int stopping)
{
	int64_t now = park_ms(), delay;
	size_t i;
	pid_t pid;
	int st, crashed;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < MAX_WORKERS; i++)
			if (workers[i].pid == pid)
				break;
		if (i == MAX_WORKERS)
			continue;
		workers[i].pid = 0;
		/* A worker killed while it hashed must not keep its slot. */
		if (pw_gate_reap(pid) > 0)
			log_msg(LOG_WARN, "worker %ld died holding a hash slot; "
			    "freed", (long)pid);
		crashed = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		/* Nor stay counted as a worker, busy or not. */
		metrics_worker_gone(pid, crashed);
		if (stopping || workers[i].gen != generation)
			continue;
		if (crashed) {
			if (WIFSIGNALED(st))
				log_msg(LOG_WARN, "worker %ld killed by signal "
				    "%d; starting another", (long)pid,
				    WTERMSIG(st));
			else
				log_msg(LOG_WARN, "worker %ld exited with %d; "
				    "starting another", (long)pid,
				    WEXITSTATUS(st));
		}
		/* Workers that die right after start would fork in a tight
		 * loop: from the third quick death in a row, wait longer each
		 * time, up to 10 s.  A worker killed from outside (SIGKILL,
		 * SIGTERM: an operator, a test) is no loop: it is replaced at
		 * once, however young. */
		if (crashed && now - workers[i].started_ms < 1000 &&
		    !(WIFSIGNALED(st) && (WTERMSIG(st) == SIGKILL ||
		    WTERMSIG(st) == SIGTERM))) {
			if (quick_deaths < 10)
				quick_deaths++;
			if (quick_deaths >= 3) {
				delay = 100LL << (quick_deaths - 2);
				if (delay > 10000)
					delay = 10000;
				respawn_at_ms = now + delay;
				log_msg(LOG_WARN, "workers die at start; next in "
				    "%lld ms", (long long)delay);
			}
		} else
			quick_deaths = 0;
	}
}

/*
 * Admin sessions are bound to the credential's fingerprint, so a changed
 * ADMIN_PASSWORD(_HASH) refuses them; but only revoking them keeps them
 * refused when the old password comes back.  With the database open.
 */
static void
end_admin_sessions(void)
{
	int n;

	if (db_admin_sessions_end(auth_admin_fp(), &n) != DB_OK)
		log_msg(LOG_WARN, "could not revoke the admin sessions of "
		    "another admin credential (they stay refused)");
	else if (n > 0)
		log_msg(LOG_INFO, "security: the admin credential changed: %d "
		    "admin sessions revoked", n);
}

/* SIGHUP: new settings, new workers, then the old ones go. */
static void
reload(int fd)
{
	struct conf next;
	struct buf err = { 0 };
	int64_t now;
	size_t i;

	notify("RELOADING=1");
	memset(&next, 0, sizeof(next));
	if (conf_load(&next, config_file, 1, &err) != 0 ||
	    conf_check_server(&next, &err) != 0) {
		log_msg(LOG_ERR, "reload refused, keeping the running "
		    "settings: %s", err.p);
		conf_free(&next);
		buf_free(&err);
		notify("READY=1");
		return;
	}
	if (strcmp(next.socket_path, conf.socket_path) != 0)
		log_msg(LOG_WARN, "PARKD_SOCKET changed: takes effect at the "
		    "next restart");
	conf_free(&conf);
	conf = next;
	time_zone_set(conf.timezone); /* the new workers fork with it */
	auth_init();
	/* Closed again before the fork of the new generation. */
	if (db_open(conf.db_path, 0) == DB_OK) {
		end_admin_sessions();
		db_close();
	} else
		log_msg(LOG_WARN, "could not open the database to revoke the "
		    "admin sessions of another admin credential");
	generation++;
	quick_deaths = 0;
	respawn_at_ms = 0;
	spawn_missing(fd);
	now = park_ms();
	for (i = 0; i < MAX_WORKERS; i++)
		if (workers[i].pid != 0 && workers[i].gen != generation &&
		    workers[i].retired_ms == 0)
			workers[i].retired_ms = now;
	retire_old();
	log_msg(LOG_INFO, "reloaded: %d workers of generation %u",
	    conf.workers, generation);
	notify("READY=1");
}

/* SIGTERM: every worker finishes its request; stragglers are killed. */
static void
stop(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	sigset_t chld;
	int64_t deadline = park_ms() + STOP_GRACE_MS;
	size_t i;
	int left;

	notify("STOPPING=1");
	signal_workers(SIGTERM);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		reap(1);
		for (left = 0, i = 0; i < MAX_WORKERS; i++)
			left += workers[i].pid != 0;
		if (left == 0)
			break;
		if (park_ms() > deadline) {
			log_msg(LOG_WARN, "%d workers still busy after %d s: "
			    "killing them", left, STOP_GRACE_MS / 1000);
			signal_workers(SIGKILL);
			deadline = park_ms() + STOP_GRACE_MS;
		}
		(void)sigtimedwait(&chld, NULL, &ts);
	}
}

int
main(int argc, char **argv)
{
	struct buf err = { 0 };
	struct timespec ts;
	sigset_t set;
	int ch, test = 0, fd, owned, sig;

	log_init("parkd");
	/* The database, its WAL and the export files hold password hashes
	 * and personal data: never readable by other users. */
	umask(027);
	config_file = getenv("PARKD_CONFIG");
	while ((ch = getopt(argc, argv, "c:thV")) != -1) {
		switch (ch) {
		case 'c':
			config_file = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("parkd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (config_file != NULL && *config_file == '\0')
		config_file = NULL;

	if (conf_load(&conf, config_file, 1, &err) != 0 ||
	    conf_check_server(&conf, &err) != 0) {
		fprintf(stderr, "parkd: %s\n", err.p);
		conf_free(&conf);
		buf_free(&err);
		return 3;
	}
	/* The site's zone, once, before any worker forks (operating hours
	 * and dates; every other time is UTC). */
	time_zone_set(conf.timezone);
	if (test) {
		printf("parkd: the settings are valid\n");
		conf_free(&conf);
		return 0;
	}

	/* Once here, not in every worker (a policy hash of a clear
	 * ADMIN_PASSWORD: half a second and 128 MiB by default). */
	auth_init();

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Migrate once here, so workers start on the current schema; the
	 * connection is closed before any fork. */
	if (db_open(conf.db_path, 1) != DB_OK) {
		log_msg(LOG_ERR, "cannot open or migrate the database %s",
		    db_path_shown(conf.db_path));
		return 1;
	}
	end_admin_sessions();
	db_close();
	/* The workers' writes queue on one mutex (db.c), made before any
	 * fork; without it they still work, on SQLite's busy handler. */
	if (db_queue_writers() != 0)
		log_msg(LOG_WARN, "no writers' queue: %s", strerror(errno));
	/* The hash gate too; without it hashes are not bounded. */
	if (pw_gate_init() != 0)
		log_msg(LOG_WARN, "no hash gate: %s", strerror(errno));
	/* The counters every worker adds to and any of them shows (GET
	 * /metrics); without them a scrape is 503. */
	if (metrics_init() != 0)
		log_msg(LOG_WARN, "no shared metrics: %s", strerror(errno));

	fd = listen_socket(&owned);
	spawn_missing(fd);
	log_msg(LOG_INFO, "parkd %s started %d workers", PACKAGE_VERSION,
	    conf.workers);
	notify("READY=1");

	for (;;) {
		ts.tv_sec = 0;
		ts.tv_nsec = 200 * 1000 * 1000;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			reload(fd);
		kill_overdue();
		reap(0);
		retire_old();
		spawn_missing(fd);
	}

	log_msg(LOG_INFO, "stopping: draining %d workers", count_current());
	stop();
	if (owned)
		unlink(conf.socket_path);
	close(fd);
	log_msg(LOG_INFO, "stopped");
	conf_free(&conf);
	buf_free(&err);
	return 0;
}
