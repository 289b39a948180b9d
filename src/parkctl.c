/*
 * parkctl.c: the batch command-line tool.  It links the same libpark.a as
 * parkd and reads the same settings, so both agree on the database and its
 * schema.  Commands are rows of cmd_table[]; each parses its own options,
 * then loads the settings and opens the database through the ctl_*
 * helpers.
 *
 * Exit codes (documented in parkctl(8)): 0 success, 1 runtime failure,
 * 2 usage error, 3 configuration error.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>
#include <termios.h>

#include "park.h"

#ifndef PARKCTL_DEFAULT_CONFIG
#define PARKCTL_DEFAULT_CONFIG "/etc/parkd/parkd.env"
#endif

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
};

struct cmd {
	const char *name;
	const char *sub; /* NULL: a single-word command ("parkctl mail") */
	/* argv[0] is the subcommand (the command when sub is NULL); returns
	 * the exit code */
	int (*fn)(const struct cmd *, int, char **);
	const char *args; /* the options of the usage line */
	const char *help; /* one line */
};

static int cmd_db_init(const struct cmd *, int, char **);
static int cmd_db_migrate(const struct cmd *, int, char **);
static int cmd_db_reset(const struct cmd *, int, char **);
static int cmd_db_stats(const struct cmd *, int, char **);
static int cmd_api_routes(const struct cmd *, int, char **);
static int cmd_hash_password(const struct cmd *, int, char **);
static int cmd_mail(const struct cmd *, int, char **);
static int cmd_remind(const struct cmd *, int, char **);
static int cmd_tick(const struct cmd *, int, char **);
static int cmd_report(const struct cmd *, int, char **);
static int cmd_cleanup(const struct cmd *, int, char **);
static int cmd_backup(const struct cmd *, int, char **);
static int cmd_exports(const struct cmd *, int, char **);
static int cmd_import_flask(const struct cmd *, int, char **);
static int cmd_db_copy(const struct cmd *, int, char **);

/* THE command table: later commands (exports, mail, remind, report,
 * cleanup, backup, import-flask) are new rows. */
static const struct cmd cmd_table[] = {
	{ "db", "init", cmd_db_init, "",
	    "create the database if needed and apply every migration" },
	{ "db", "migrate", cmd_db_migrate, "",
	    "apply pending migrations to an existing database" },
	{ "db", "reset", cmd_db_reset, "--yes",
	    "replace ALL data with the sample lots and users" },
	{ "db", "stats", cmd_db_stats, "[--json]",
	    "count users, lots, spots, reservations, exports and mail" },
	{ "db", "copy", cmd_db_copy, "--to postgresql://... [--dry-run]",
	    "copy this SQLite database into an empty PostgreSQL one" },
	{ "api", "routes", cmd_api_routes, "",
	    "print the route table: method, path and who may call it" },
	{ "mail", NULL, cmd_mail, "[--limit N]",
	    "deliver the queued e-mail (SMTP, or .eml files)" },
	{ "remind", NULL, cmd_remind, "[--chunk N]",
	    "queue today's reminders (at most one per user per day)" },
	{ "tick", NULL, cmd_tick, "[--now TIME]",
	    "mark no-shows, queue reservation reminders (every 5 minutes)" },
	{ "report", NULL, cmd_report, "[--month YYYY-MM] [--chunk N]",
	    "queue the monthly reports (default: last month)" },
	{ "cleanup", NULL, cmd_cleanup, "",
	    "delete old exports, mail, sessions, job runs; checkpoint" },
	{ "backup", NULL, cmd_backup, "[--pg-dump] FILE",
	    "copy the live database to a new FILE and check the copy" },
	{ "exports", NULL, cmd_exports, "[--max N] [--stale-after S] "
	    "[--pause-ms MS]",
	    "write the queued CSV exports and queue their e-mails" },
	{ "hash-password", NULL, cmd_hash_password, "",
	    "read a password on stdin, print its hash for ADMIN_PASSWORD_HASH" },
	{ "import-flask", NULL, cmd_import_flask,
	    "[--dry-run] [--timezone TZ] FILE",
	    "import the Flask backend's parking_app.db (once)" },
};
static const size_t cmd_count = sizeof cmd_table / sizeof cmd_table[0];

static const char *opt_config; /* -c */
static int opt_quiet;           /* -q */
static int conf_loaded;         /* conf holds settings to free */
/* The argument of each option cmd_opts() saw, indexed like its seen[]. */
static char *opt_arg[16];

static void usage(FILE *, const char *);
static void cmd_usage(FILE *, const struct cmd *);
static int cmd_opts(const struct cmd *, int, char **, const char *,
    const struct option *, int *);
static int ctl_config(void);
static int ctl_open(int, int);
static void say(const char *, ...) PARK_PRINTF(1, 2);

/* Prints the usage of every command, or of the group name when not NULL. */
static void
usage(FILE *f, const char *name)
{
	size_t i;

	fprintf(f, "usage: parkctl [-hqV] [-c file] command subcommand "
	    "[options]\n\ncommands:\n");
	for (i = 0; i < cmd_count; i++) {
		if (name == NULL || strcmp(name, cmd_table[i].name) == 0)
			cmd_usage(f, &cmd_table[i]);
	}
	if (name == NULL)
		fprintf(f, "\noptions:\n"
		    "  -c, --config FILE  settings file (default: $PARKD_CONFIG,"
		    " else %s if it exists)\n"
		    "  -q, --quiet        print only what was asked for\n"
		    "  -h, --help         print this help\n"
		    "  -V, --version      print the version\n",
		    PARKCTL_DEFAULT_CONFIG);
}

/* Prints one command's usage line and help. */
static void
cmd_usage(FILE *f, const struct cmd *c)
{
	char line[64];

	snprintf(line, sizeof line, "%s%s%s%s%s", c->name,
	    c->sub != NULL ? " " : "", c->sub != NULL ? c->sub : "",
	    *c->args != '\0' ? " " : "", c->args);
	fprintf(f, "  %-22s %s\n", line, c->help);
}

/* Prints an informational line on stdout unless -q. */
static void
say(const char *fmt, ...)
{
	va_list ap;

	if (opt_quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/*
 * Parses a command's options (always also -h/--help).  Flags found are
 * returned in seen[] in the order of lopts.  Returns -1 to go on, else
 * the exit code to leave with (0 after --help, 2 on a usage error).
 */
static int
cmd_opts(const struct cmd *c, int argc, char **argv, const char *sopts,
    const struct option *lopts, int *seen)
{
	char shorts[32];
	int ch, i;

	snprintf(shorts, sizeof shorts, "+h%s", sopts);
	/* 0 re-initialises glibc's getopt fully; others want 1. */
#ifdef __GLIBC__
	optind = 0;
#else
	optind = 1;
#endif
	opterr = 0; /* getopt would name argv[0], the subcommand */
	while ((ch = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		if (ch == 'h') {
			cmd_usage(stdout, c);
			return EXIT_OK;
		}
		for (i = 0; lopts[i].name != NULL; i++) {
			if (lopts[i].val == ch)
				break;
		}
		if (ch == '?' || ch == ':' || lopts[i].name == NULL) {
			fprintf(stderr, "parkctl: %s%s%s: bad option \"%s\"\n"
			    "usage:\n", c->name, c->sub != NULL ? " " : "",
			    c->sub != NULL ? c->sub : "", argv[optind - 1]);
			cmd_usage(stderr, c);
			return EXIT_USAGE;
		}
		seen[i] = 1;
		if (i < (int)(sizeof(opt_arg) / sizeof(opt_arg[0])))
			opt_arg[i] = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "parkctl: %s%s%s: unexpected argument "
		    "\"%s\"\n", c->name, c->sub != NULL ? " " : "",
		    c->sub != NULL ? c->sub : "", argv[optind]);
		return EXIT_USAGE;
	}
	return -1;
}

/*
 * Loads the settings: -c file, else $PARKD_CONFIG, else the default file
 * if it exists, else the environment alone.  Returns -1 to go on, or
 * EXIT_CONFIG after saying what is wrong.
 */
static int
ctl_config(void)
{
	struct buf err = { 0 };
	const char *file;

	file = opt_config;
	if (file == NULL && (file = getenv("PARKD_CONFIG")) != NULL &&
	    *file == '\0')
		file = NULL;
	if (file == NULL && access(PARKCTL_DEFAULT_CONFIG, F_OK) == 0)
		file = PARKCTL_DEFAULT_CONFIG;
	if (conf_load(&conf, file, 1, &err) == -1) {
		/* conf.c's message names the file or variable at fault */
		fprintf(stderr, "parkctl: configuration: %s\n",
		    err.p != NULL ? err.p : "invalid settings");
		buf_free(&err);
		return EXIT_CONFIG;
	}
	buf_free(&err);
	conf_loaded = 1;
	time_zone_set(conf.timezone);
	if (conf.db_path == NULL || *conf.db_path == '\0') {
		fprintf(stderr, "parkctl: no database: set DATABASE_URL to "
		    "sqlite:///path or postgresql://...\n");
		return EXIT_CONFIG;
	}
	return -1;
}

/*
 * Loads the settings and opens the database, migrating if migrate != 0.
 * With must_exist, a missing file is an error rather than created.
 * Returns -1 to go on, else the exit code.
 */
static int
ctl_open(int migrate, int must_exist)
{
	int rc;

	if ((rc = ctl_config()) != -1)
		return rc;
	if (must_exist && !db_path_is_pg(conf.db_path) &&
	    access(conf.db_path, F_OK) == -1) {
		fprintf(stderr, "parkctl: %s: %s (run \"parkctl db init\")\n",
		    db_path_shown(conf.db_path), strerror(errno));
		return EXIT_FAIL;
	}
	if (db_open(conf.db_path, migrate) != DB_OK) {
		fprintf(stderr, "parkctl: cannot open or migrate %s (see the "
		    "log above)\n", db_path_shown(conf.db_path));
		return EXIT_FAIL;
	}
	return -1;
}

/*
 * hash-password: reads a password (one line of standard input, not echoed
 * on a terminal) and prints its hash in werkzeug's scrypt format with the
 * settings' policy, for ADMIN_PASSWORD_HASH.  Returns the exit code: 2 for
 * a password the register rules refuse (8 to 128 characters).
 */
static int
cmd_hash_password(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct termios saved, quiet;
	struct buf hash = { 0 };
	const char *bad;
	char *line = NULL;
	size_t cap = 0, len;
	ssize_t n;
	int rc, tty, seen[1] = { 0 };

	if ((rc = cmd_opts(c, argc, argv, "", lopts, seen)) != -1 ||
	    (rc = ctl_config()) != -1)
		return rc;
	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		fprintf(stderr, "Password: ");
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	n = getline(&line, &cap, stdin);
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (n < 0) {
		fprintf(stderr, "parkctl: hash-password: no password read\n");
		free(line);
		return EXIT_USAGE;
	}
	len = (size_t)n;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	rc = EXIT_OK;
	if ((bad = valid_password(NULL, &line, &len)) != NULL) {
		fprintf(stderr, "parkctl: hash-password: the password %s\n",
		    bad);
		rc = EXIT_USAGE;
	} else if (pw_hash(line, len, &hash) != 0) {
		fprintf(stderr, "parkctl: hash-password: hashing failed\n");
		rc = EXIT_FAIL;
	} else
		printf("%s\n", hash.p);
	/* The password leaves no copy behind in this process. */
	memset(line, 0, cap);
	free(line);
	buf_free(&hash);
	return rc;
}

/*
 * api routes: one line per route, "METHOD<TAB>PATTERN<TAB>ACCESS", for the
 * tests that are generated from the route table (authorisation matrix,
 * docs/openapi.yaml).  Needs no settings.  Returns the exit code.
 */
static int
cmd_api_routes(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const access[] = {
		[AC_ANON] = "anonymous", [AC_REFRESH] = "refresh",
		[AC_AUTH] = "any", [AC_USER] = "user", [AC_ADMIN] = "admin",
		[AC_LINK] = "link",
	};
	struct buf m = { 0 };
	size_t i;
	int rc, seen[1] = { 0 };

	if ((rc = cmd_opts(c, argc, argv, "", lopts, seen)) != -1)
		return rc;
	for (i = 0; i < nroutes; i++) {
		buf_reset(&m);
		route_allow_str(routes[i].method, &m);
		printf("%s\t%s\t%s\n", m.p, routes[i].pattern,
		    access[routes[i].access]);
	}
	buf_free(&m);
	return EXIT_OK;
}

/* db init: creates and migrates.  Returns the exit code. */
static int
cmd_db_init(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int rc, seen[1] = { 0 };

	if ((rc = cmd_opts(c, argc, argv, "", lopts, seen)) != -1 ||
	    (rc = ctl_open(1, 0)) != -1)
		return rc;
	say("%s: schema version %d\n", db_path_shown(conf.db_path), db_version());
	return EXIT_OK;
}

/* db migrate: migrates an existing database.  Returns the exit code. */
static int
cmd_db_migrate(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int rc, before, seen[1] = { 0 };

	if ((rc = cmd_opts(c, argc, argv, "", lopts, seen)) != -1 ||
	    (rc = ctl_open(0, 1)) != -1)
		return rc;
	before = db_version();
	if (db_migrate() != DB_OK) {
		fprintf(stderr, "parkctl: migration of %s failed (see the log "
		    "above)\n", db_path_shown(conf.db_path));
		return EXIT_FAIL;
	}
	if (before == db_version())
		say("%s: schema version %d, up to date\n", db_path_shown(conf.db_path),
		    before);
	else
		say("%s: schema version %d -> %d\n", db_path_shown(conf.db_path), before,
		    db_version());
	return EXIT_OK;
}

/* db reset: migrates, then replaces every row with the sample data.
 * Refuses without --yes.  Returns the exit code. */
static int
cmd_db_reset(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct db_stats st;
	int rc, seen[2] = { 0, 0 };

	if ((rc = cmd_opts(c, argc, argv, "y", lopts, seen)) != -1)
		return rc;
	if (!seen[0]) {
		fprintf(stderr, "parkctl: db reset deletes every user, lot "
		    "and reservation; confirm with --yes\n");
		return EXIT_USAGE;
	}
	if ((rc = ctl_open(1, 0)) != -1)
		return rc;
	if (db_reset_sample() != DB_OK || db_stats_get(&st) != DB_OK) {
		fprintf(stderr, "parkctl: reset of %s failed (see the log "
		    "above)\n", db_path_shown(conf.db_path));
		return EXIT_FAIL;
	}
	say("%s: sample data loaded: %lld lots, %lld spots, %lld users\n",
	    db_path_shown(conf.db_path), st.lots, st.spots, st.users);
	return EXIT_OK;
}

/* db stats: prints the counts as a table or JSON.  Returns the exit code. */
static int
cmd_db_stats(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct db_stats st;
	struct buf b = { 0 };
	struct jw w;
	char t1[24];
	size_t i;
	int rc, v, latest, seen[2] = { 0, 0 };

	if ((rc = cmd_opts(c, argc, argv, "j", lopts, seen)) != -1 ||
	    (rc = ctl_open(0, 1)) != -1)
		return rc;
	v = db_version();
	latest = db_version_latest();
	if (v <= 0) {
		fprintf(stderr, "parkctl: %s is not initialised (run "
		    "\"parkctl db init\")\n", db_path_shown(conf.db_path));
		return EXIT_FAIL;
	}
	if (v != latest)
		fprintf(stderr, "parkctl: warning: %s has schema version %d, "
		    "this program %d\n", db_path_shown(conf.db_path), v, latest);
	if (db_stats_get(&st) != DB_OK) {
		fprintf(stderr, "parkctl: cannot read %s (see the log above)\n",
		    db_path_shown(conf.db_path));
		return EXIT_FAIL;
	}

	if (seen[0]) {
		jw_init(&w, &b);
		jw_obj(&w, NULL);
		jw_str(&w, "database", db_path_shown(conf.db_path));
		jw_int(&w, "schema_version", v);
		jw_int(&w, "schema_latest", latest);
		jw_obj(&w, "users");
		jw_int(&w, "total", st.users);
		jw_int(&w, "active", st.users_active);
		jw_obj_end(&w);
		jw_int(&w, "lots", st.lots);
		jw_obj(&w, "spots");
		jw_int(&w, "total", st.spots);
		jw_int(&w, "free", st.spots_free);
		jw_int(&w, "occupied", st.spots_occupied);
		jw_obj_end(&w);
		jw_obj(&w, "reservations");
		jw_int(&w, "active", st.resv_active);
		jw_int(&w, "completed", st.resv_completed);
		jw_int(&w, "cancelled", st.resv_cancelled);
		jw_obj_end(&w);
		jw_int(&w, "exports_pending", st.exports_pending);
		jw_int(&w, "outbox_queued", st.outbox_queued);
		/* the newest run of each job, by name */
		jw_obj(&w, "jobs");
		for (i = 0; i < st.njobs; i++) {
			jw_obj(&w, st.jobs[i].job);
			jw_time(&w, "started_at", st.jobs[i].started_at);
			jw_time(&w, "finished_at", st.jobs[i].finished_at);
			jw_str(&w, "status", st.jobs[i].status);
			jw_int(&w, "items", st.jobs[i].items);
			jw_int(&w, "errors", st.jobs[i].errors);
			jw_str(&w, "message", st.jobs[i].message);
			jw_obj_end(&w);
		}
		jw_obj_end(&w);
		jw_obj_end(&w);
		printf("%s\n", b.p);
		buf_free(&b);
	} else {
		printf("%-14s %s (schema %d of %d)\n", "database",
		    db_path_shown(conf.db_path), v, latest);
		printf("%-14s %lld (%lld active)\n", "users", st.users,
		    st.users_active);
		printf("%-14s %lld\n", "lots", st.lots);
		printf("%-14s %lld (%lld free, %lld occupied)\n", "spots",
		    st.spots, st.spots_free, st.spots_occupied);
		printf("%-14s %lld active, %lld completed, %lld cancelled\n",
		    "reservations", st.resv_active, st.resv_completed,
		    st.resv_cancelled);
		printf("%-14s %lld pending\n", "exports", st.exports_pending);
		printf("%-14s %lld queued\n", "outbox", st.outbox_queued);
		if (st.njobs == 0)
			printf("%-14s %s\n", "jobs", "none has run yet");
		for (i = 0; i < st.njobs; i++) {
			time_iso(st.jobs[i].started_at, t1);
			printf("%-14s %s %s %s", i == 0 ? "jobs" : "",
			    st.jobs[i].job, st.jobs[i].status, t1);
			if (st.jobs[i].finished_at > 0)
				printf(" (%llds)", (long long)(st.jobs[i]
				    .finished_at - st.jobs[i].started_at));
			printf(", %lld items, %lld errors: %s\n",
			    st.jobs[i].items, st.jobs[i].errors,
			    st.jobs[i].message);
		}
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "parkctl: stdout: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/*
 * mail: delivers the due messages of the outbox (mail.c).  Exit codes: 0
 * every message tried was sent (or none was due), 1 some were not (they
 * stay queued, or failed for good) or the database failed, 3 the mail
 * settings are wrong.
 */
static int
cmd_mail(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mail_stats st;
	long limit = 0;
	char *end;
	int rc, seen[2] = { 0, 0 };

	if ((rc = cmd_opts(c, argc, argv, "n:", lopts, seen)) != -1)
		return rc;
	if (seen[0]) {
		errno = 0;
		limit = strtol(opt_arg[0], &end, 10);
		if (errno != 0 || end == opt_arg[0] || *end != '\0' ||
		    limit < 1 || limit > 1000000) {
			fprintf(stderr, "parkctl: mail: --limit takes a number "
			    "from 1 to 1000000\n");
			return EXIT_USAGE;
		}
	}
	if ((rc = ctl_open(0, 1)) != -1)
		return rc;
	switch (mail_deliver(limit, &st)) {
	case 0:
		rc = EXIT_OK;
		break;
	case 1:
		rc = EXIT_FAIL;
		break;
	case -2:
		fprintf(stderr, "parkctl: mail: the mail settings are wrong "
		    "(see the log above)\n");
		return EXIT_CONFIG;
	default:
		fprintf(stderr, "parkctl: mail: the database failed (see the "
		    "log above)\n");
		return EXIT_FAIL;
	}
	say("mail: %lld sent, %lld queued again, %lld failed%s\n", st.sent,
	    st.retry, st.failed, st.stopped ? " (stopped early: see the log)" :
	    "");
	return rc;
}

/* Parses opt_arg[i] as a number from lo to hi into *v; 0, or -1 after
 * saying what is wrong. */
static int
opt_number(const struct cmd *c, int i, const char *name, long lo, long hi,
    long *v)
{
	char *end;

	errno = 0;
	*v = strtol(opt_arg[i], &end, 10);
	if (errno != 0 || end == opt_arg[i] || *end != '\0' || *v < lo ||
	    *v > hi) {
		fprintf(stderr, "parkctl: %s: %s takes a number from %ld to "
		    "%ld\n", c->name, name, lo, hi);
		return -1;
	}
	return 0;
}

/*
 * exports: writes the queued CSV exports (exports.c), each at most once
 * even when runs overlap; --max bounds the jobs of this run,
 * --stale-after the seconds after which a job whose runner stopped
 * reporting progress is taken over, --pause-ms a pause between pages of
 * reservations on a busy server.  Exit codes: 0 every job claimed was
 * exported (or none was due), 1 some failed or were put back for a later
 * run, or the database or the export folder failed, 2 usage, 3 settings.
 */
static int
cmd_exports(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "max", required_argument, NULL, 'n' },
		{ "stale-after", required_argument, NULL, 's' },
		{ "pause-ms", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exports_run o;
	struct buf err = { 0 };
	long v;
	int rc, seen[4] = { 0, 0, 0, 0 };

	memset(&o, 0, sizeof(o));
	if ((rc = cmd_opts(c, argc, argv, "n:s:p:", lopts, seen)) != -1)
		return rc;
	if (seen[0]) {
		if (opt_number(c, 0, "--max", 1, 1000000, &v) == -1)
			return EXIT_USAGE;
		o.max_jobs = (int)v;
	}
	if (seen[1]) {
		if (opt_number(c, 1, "--stale-after", 1, 86400, &v) == -1)
			return EXIT_USAGE;
		o.stale_after_s = (int)v;
	}
	if (seen[2]) {
		if (opt_number(c, 2, "--pause-ms", 0, 60000, &v) == -1)
			return EXIT_USAGE;
		o.pause_ms = (int)v;
	}
	if ((rc = ctl_open(0, 1)) != -1)
		return rc;
	/* The links of the e-mails are signed with a key derived from
	 * JWT_SECRET_KEY: the server's rules apply. */
	if (conf_check_server(&conf, &err) == -1) {
		fprintf(stderr, "parkctl: configuration: %s\n",
		    err.p != NULL ? err.p : "invalid settings");
		buf_free(&err);
		return EXIT_CONFIG;
	}
	buf_free(&err);
	rc = exports_run(&o);
	if (rc == -1)
		fprintf(stderr, "parkctl: exports: %s (see the log above)\n",
		    o.message);
	else
		say("exports: %s\n", o.message);
	return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

/*
 * Opens the database for a batch job: it must exist and have this
 * program's schema (parkd.service migrates it at start).  Returns -1 to go
 * on, else the exit code.
 */
static int
ctl_open_job(const struct cmd *c)
{
	int rc, v, latest;

	if ((rc = ctl_open(0, 1)) != -1)
		return rc;
	v = db_version();
	latest = db_version_latest();
	if (v != latest) {
		fprintf(stderr, "parkctl: %s: %s has schema version %d, this "
		    "program %d (run \"parkctl db migrate\")\n", c->name,
		    db_path_shown(conf.db_path), v, latest);
		return EXIT_FAIL;
	}
	return -1;
}

/* Reads --chunk N (1 to 10000) into *chunk; -1 to go on, else the exit
 * code. */
static int
opt_chunk(const struct cmd *c, const char *arg, int *chunk)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 1 || v > 10000) {
		fprintf(stderr, "parkctl: %s: --chunk takes a number from 1 to "
		    "10000\n", c->name);
		return EXIT_USAGE;
	}
	*chunk = (int)v;
	return -1;
}

/* Prints what a job did (a failure on stderr, always); returns the exit
 * code of its result rc. */
static int
job_report(const struct cmd *c, int rc, const struct batch_result *res)
{
	if (rc == 0) {
		say("%s: %s\n", c->name, res->message);
		return EXIT_OK;
	}
	fprintf(stderr, "parkctl: %s: %s%s\n", c->name, res->message,
	    res->failed ? "" : " (some items failed: see the log)");
	return EXIT_FAIL;
}

/*
 * remind: queues today's reminders (batch.c).  Exit codes: 0 done, 1 the
 * run failed or some messages were refused.
 */
static int
cmd_remind(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "chunk", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct batch_remind_opts o = { 0 };
	struct batch_result res;
	int rc, seen[2] = { 0, 0 };

	if ((rc = cmd_opts(c, argc, argv, "n:", lopts, seen)) != -1 ||
	    (seen[0] && (rc = opt_chunk(c, opt_arg[0], &o.chunk)) != -1) ||
	    (rc = ctl_open_job(c)) != -1)
		return rc;
	return job_report(c, batch_remind(&o, &res), &res);
}

/*
 * tick: marks reservations past their check-in grace as no-shows and
 * queues the reminders due (batch.c).  --now TIME (RFC 3339, or seconds
 * since the epoch) runs it as of another time: for tests and to catch up
 * by hand; each no-show and reminder still happens once.
 * Exit codes: 0 done, 1 the run failed or some messages were refused,
 * 2 a malformed time.
 */
static int
cmd_tick(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "now", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct batch_result res;
	int64_t now = 0;
	char *end;
	int rc, frac, seen[2] = { 0, 0 };

	if ((rc = cmd_opts(c, argc, argv, "t:", lopts, seen)) != -1)
		return rc;
	if (seen[0]) {
		errno = 0;
		now = strtoll(opt_arg[0], &end, 10);
		if (errno != 0 || *end != '\0' || end == opt_arg[0])
			now = time_parse_rfc3339(opt_arg[0], &frac);
		if (now <= 0) {
			fprintf(stderr, "parkctl: tick: --now takes a time "
			    "like 2026-11-26T09:00:00Z or seconds since the "
			    "epoch, not \"%s\"\n", opt_arg[0]);
			return EXIT_USAGE;
		}
	}
	if ((rc = ctl_open_job(c)) != -1)
		return rc;
	return job_report(c, batch_tick(now, &res), &res);
}

/*
 * report: queues the monthly reports of a month that has ended (batch.c).
 * Exit codes: 0 done, 1 the run failed or some messages were refused,
 * 2 a malformed month or one that has not ended.
 */
static int
cmd_report(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "month", required_argument, NULL, 'm' },
		{ "chunk", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct batch_report_opts o = { 0 };
	struct batch_result res;
	int64_t from, to;
	int rc, seen[3] = { 0, 0, 0 };

	if ((rc = cmd_opts(c, argc, argv, "m:n:", lopts, seen)) != -1 ||
	    (seen[1] && (rc = opt_chunk(c, opt_arg[1], &o.chunk)) != -1))
		return rc;
	if (seen[0]) {
		if (batch_month_parse(opt_arg[0], &o.year, &o.month) == -1) {
			fprintf(stderr, "parkctl: report: --month takes a month "
			    "as YYYY-MM, not \"%s\"\n", opt_arg[0]);
			return EXIT_USAGE;
		}
		/* A report marks its month as sent: one of a month not over
		 * would keep the full report from ever going out. */
		batch_month_range(o.year, o.month, &from, &to);
		if (to > park_now()) {
			fprintf(stderr, "parkctl: report: %s has not ended "
			    "yet (times are UTC)\n", opt_arg[0]);
			return EXIT_USAGE;
		}
	}
	if ((rc = ctl_open_job(c)) != -1)
		return rc;
	return job_report(c, batch_report(&o, &res), &res);
}

/* cleanup: deletes what is past its keeping time (batch.c).  Exit codes:
 * 0 done, 1 the run failed or a part of it did. */
static int
cmd_cleanup(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct batch_result res;
	int rc, seen[1] = { 0 };

	if ((rc = cmd_opts(c, argc, argv, "", lopts, seen)) != -1 ||
	    (rc = ctl_open_job(c)) != -1)
		return rc;
	return job_report(c, batch_cleanup(&res), &res);
}

/*
 * backup FILE: an online copy of the SQLite database (batch.c).  On
 * PostgreSQL the engine's tools are the backup: "backup FILE" says so
 * (pg_dump, pg_basebackup and WAL archiving; docs/postgresql.md), and
 * "backup --pg-dump FILE" runs pg_dump into FILE.  Exit codes: 0 the copy
 * is in FILE and passed its check (or another run holds the job's lock),
 * 1 it failed (FILE exists, cannot be written, or the copy is bad: FILE
 * is then not made), 2 no FILE given, or the form does not fit the back
 * end.
 */
static int
cmd_backup(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "pg-dump", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct batch_result res;
	const char *file = NULL;
	char shown[512];
	int rc, pg, seen[2] = { 0, 0 };

	/* the one operand comes last: "backup [--pg-dump] [--] FILE" */
	if (argc >= 2 && argv[argc - 1][0] != '-') {
		file = argv[argc - 1];
		argc--;
	}
	if ((rc = cmd_opts(c, argc, argv, "", lopts, seen)) != -1)
		return rc;
	if (file == NULL || *file == '\0') {
		fprintf(stderr, "parkctl: backup: the file to write is "
		    "missing\nusage:\n");
		cmd_usage(stderr, c);
		return EXIT_USAGE;
	}
	/* the back end, from the settings alone (ctl_open_job loads them
	 * again) */
	if ((rc = ctl_config()) != -1)
		return rc;
	pg = db_path_is_pg(conf.db_path);
	snprintf(shown, sizeof shown, "%s", db_path_shown(conf.db_path));
	conf_free(&conf);
	conf_loaded = 0;
	if (pg && !seen[0]) {
		fprintf(stderr, "parkctl: backup: %s is a PostgreSQL database: "
		    "its own tools are the backup, not a copy of a file.\n"
		    "  parkctl backup --pg-dump FILE   runs pg_dump: one "
		    "consistent snapshot,\n"
		    "      custom format, restored with pg_restore "
		    "--single-transaction;\n"
		    "  pg_basebackup with WAL archiving (archive_mode) for "
		    "point-in-time\n"
		    "      recovery of a database that matters.\n"
		    "See docs/postgresql.md, \"Backups\".\n",
		    shown);
		return EXIT_USAGE;
	}
	if (!pg && seen[0]) {
		fprintf(stderr, "parkctl: backup: --pg-dump is for a "
		    "PostgreSQL database; %s is SQLite: parkctl backup FILE\n",
		    shown);
		return EXIT_USAGE;
	}
	if ((rc = ctl_open_job(c)) != -1)
		return rc;
	return job_report(c, pg ? batch_pg_dump(file, &res) :
	    batch_backup(file, &res), &res);
}

/*
 * import-flask [--dry-run] [--timezone TZ] FILE: the old backend's database
 * into this one (db-import.c), in one transaction.  Prints the report on
 * stdout.  Exit codes: 0 imported (or a dry run), 1 the file is refused or
 * the import failed (nothing changed), 2 usage (no FILE, unknown time
 * zone), 3 settings.
 */
static int
cmd_import_flask(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "timezone", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct import_opts o = { 0 };
	struct buf out = { 0 }, err = { 0 };
	int rc, seen[3] = { 0, 0, 0 };

	/* the one operand comes last: "import-flask [options] FILE" */
	if (argc >= 2 && argv[argc - 1][0] != '-') {
		o.path = argv[argc - 1];
		argc--;
	}
	if ((rc = cmd_opts(c, argc, argv, "nt:", lopts, seen)) != -1)
		return rc;
	if (o.path == NULL || *o.path == '\0') {
		fprintf(stderr, "parkctl: import-flask: the file to import is "
		    "missing\nusage:\n");
		cmd_usage(stderr, c);
		return EXIT_USAGE;
	}
	o.dry_run = seen[0];
	o.tz = seen[1] ? opt_arg[1] : NULL;
	if ((rc = ctl_open(1, 1)) != -1)
		return rc;
	switch (import_flask(&o, &out, &err)) {
	case IMPORT_OK:
		if (out.p != NULL)
			fputs(out.p, stdout);
		rc = EXIT_OK;
		break;
	case IMPORT_BAD_TZ:
		fprintf(stderr, "parkctl: import-flask: %s\n", err.p);
		rc = EXIT_USAGE;
		break;
	case IMPORT_REFUSED:
		fprintf(stderr, "parkctl: import-flask: %s; nothing was "
		    "imported\n", err.p);
		rc = EXIT_FAIL;
		break;
	case IMPORT_FAILED:
	default:
		fprintf(stderr, "parkctl: import-flask: %s\n",
		    err.p != NULL ? err.p : "failed");
		rc = EXIT_FAIL;
		break;
	}
	buf_free(&out);
	buf_free(&err);
	if (rc == EXIT_OK && (fflush(stdout) == EOF || ferror(stdout))) {
		fprintf(stderr, "parkctl: stdout: %s\n", strerror(errno));
		rc = EXIT_FAIL;
	}
	return rc;
}

/*
 * db copy: copies the SQLite database of the settings into the empty
 * PostgreSQL database --to names (db-copy.c).  Returns the exit code: 2 for
 * usage, 1 when refused or failed (nothing committed).
 */
static int
cmd_db_copy(const struct cmd *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct copy_opts o = { 0 };
	struct buf out = { 0 }, err = { 0 };
	enum copy_rc r;
	int rc, seen[3] = { 0, 0, 0 };

	if ((rc = cmd_opts(c, argc, argv, "t:n", lopts, seen)) != -1)
		return rc;
	if (!seen[0] || opt_arg[0] == NULL || *opt_arg[0] == '\0') {
		fprintf(stderr, "parkctl: db copy: --to is missing\nusage:\n");
		cmd_usage(stderr, c);
		return EXIT_USAGE;
	}
	o.to = opt_arg[0];
	o.dry_run = seen[1];
	if ((rc = ctl_config()) != -1)
		return rc;
	if (!db_path_is_pg(conf.db_path) && access(conf.db_path, F_OK) == -1) {
		fprintf(stderr, "parkctl: db copy: %s: %s\n",
		    db_path_shown(conf.db_path), strerror(errno));
		return EXIT_FAIL;
	}
	r = db_copy(&o, &out, &err);
	if (r == COPY_OK) {
		if (!opt_quiet && out.p != NULL)
			fputs(out.p, stdout);
		rc = EXIT_OK;
	} else {
		fprintf(stderr, "parkctl: db copy: %s%s\n",
		    err.p != NULL ? err.p : "failed",
		    r == COPY_REFUSED ? "; nothing was copied" :
		    "; nothing was committed");
		rc = EXIT_FAIL;
	}
	buf_free(&out);
	buf_free(&err);
	if (rc == EXIT_OK && (fflush(stdout) == EOF || ferror(stdout))) {
		fprintf(stderr, "parkctl: stdout: %s\n", strerror(errno));
		rc = EXIT_FAIL;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *c;
	size_t i;
	int ch, rc, known;

	log_init("parkctl");
	/* Files made here (the database, exports, backups) hold personal
	 * data: never readable by other users. */
	umask(027);
	/* "+": stop at the command, whose options are its own */
	while ((ch = getopt_long(argc, argv, "+c:hqV", lopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt_config = optarg;
			break;
		case 'h':
			usage(stdout, NULL);
			return EXIT_OK;
		case 'q':
			opt_quiet = 1;
			break;
		case 'V':
			printf("parkctl (%s) %s\n", PARK_NAME,
			    PARK_VERSION_STR);
			return EXIT_OK;
		default:
			usage(stderr, NULL);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr, NULL);
		return EXIT_USAGE;
	}

	c = NULL;
	known = 0;
	for (i = 0; i < cmd_count; i++) {
		if (strcmp(argv[0], cmd_table[i].name) != 0)
			continue;
		known = 1;
		if (cmd_table[i].sub == NULL ||
		    (argc >= 2 && strcmp(argv[1], cmd_table[i].sub) == 0)) {
			c = &cmd_table[i];
			break;
		}
	}
	if (c == NULL) {
		if (known)
			fprintf(stderr, "parkctl: %s: %s\n", argv[0],
			    argc >= 2 ? "unknown subcommand" :
			    "subcommand missing");
		else
			fprintf(stderr, "parkctl: unknown command \"%s\"\n",
			    argv[0]);
		usage(stderr, known ? argv[0] : NULL);
		return EXIT_USAGE;
	}

	/* a single-word command sees its own name as argv[0] */
	rc = c->sub == NULL ? c->fn(c, argc, argv) :
	    c->fn(c, argc - 1, argv + 1);
	db_close();
	if (conf_loaded)
		conf_free(&conf);
	return rc;
}
