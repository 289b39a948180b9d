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
	{ "api", "routes", cmd_api_routes, "",
	    "print the route table: method, path and who may call it" },
};
static const size_t cmd_count = sizeof cmd_table / sizeof cmd_table[0];

static const char *opt_config; /* -c */
static int opt_quiet;           /* -q */
static int conf_loaded;         /* conf holds settings to free */

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
	if (conf.db_path == NULL || *conf.db_path == '\0') {
		fprintf(stderr, "parkctl: no database: set DATABASE_URL to "
		    "sqlite:///path\n");
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
	if (must_exist && access(conf.db_path, F_OK) == -1) {
		fprintf(stderr, "parkctl: %s: %s (run \"parkctl db init\")\n",
		    conf.db_path, strerror(errno));
		return EXIT_FAIL;
	}
	if (db_open(conf.db_path, migrate) != DB_OK) {
		fprintf(stderr, "parkctl: cannot open or migrate %s (see the "
		    "log above)\n", conf.db_path);
		return EXIT_FAIL;
	}
	return -1;
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
	say("%s: schema version %d\n", conf.db_path, db_version());
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
		    "above)\n", conf.db_path);
		return EXIT_FAIL;
	}
	if (before == db_version())
		say("%s: schema version %d, up to date\n", conf.db_path,
		    before);
	else
		say("%s: schema version %d -> %d\n", conf.db_path, before,
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
		    "above)\n", conf.db_path);
		return EXIT_FAIL;
	}
	say("%s: sample data loaded: %lld lots, %lld spots, %lld users\n",
	    conf.db_path, st.lots, st.spots, st.users);
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
	int rc, v, latest, seen[2] = { 0, 0 };

	if ((rc = cmd_opts(c, argc, argv, "j", lopts, seen)) != -1 ||
	    (rc = ctl_open(0, 1)) != -1)
		return rc;
	v = db_version();
	latest = db_version_latest();
	if (v <= 0) {
		fprintf(stderr, "parkctl: %s is not initialised (run "
		    "\"parkctl db init\")\n", conf.db_path);
		return EXIT_FAIL;
	}
	if (v != latest)
		fprintf(stderr, "parkctl: warning: %s has schema version %d, "
		    "this program %d\n", conf.db_path, v, latest);
	if (db_stats_get(&st) != DB_OK) {
		fprintf(stderr, "parkctl: cannot read %s (see the log above)\n",
		    conf.db_path);
		return EXIT_FAIL;
	}

	if (seen[0]) {
		jw_init(&w, &b);
		jw_obj(&w, NULL);
		jw_str(&w, "database", conf.db_path);
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
		jw_obj_end(&w);
		printf("%s\n", b.p);
		buf_free(&b);
	} else {
		printf("%-14s %s (schema %d of %d)\n", "database",
		    conf.db_path, v, latest);
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
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "parkctl: stdout: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
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
