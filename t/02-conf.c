/*
 * 02-conf: the settings table, the KEY=value loader, the server's secret
 * checks, the agreement of the table with man/parkd.conf.5, and how
 * PARKD_METRICS_ALLOW matches an address.
 *
 * Files are written to a temporary directory that is removed at the end.
 */
#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "park.h"
#include "tap.h"

static char dir[PATH_MAX];
static char path[PATH_MAX + 32];
static struct buf err;
static struct conf c;

/* Writes text to a new settings file; returns its path. */
static const char *
file(const char *text, size_t len)
{
	static int n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d.env", dir, ++n);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(text, 1, len, f) != len || fclose(f) != 0)
		fatal("cannot write %s", path);
	return path;
}

/* Loads text as the file (without the environment); returns conf_load's
 * result, with err holding the message. */
static int
load(const char *text)
{
	buf_reset(&err);
	conf_free(&c);
	return conf_load(&c, file(text, strlen(text)), 0, &err);
}

/* 1 when the last error mentions every one of the (NULL-ended) words. */
static int
says(const char *w, ...)
{
	va_list ap;
	int rc = 1;

	va_start(ap, w);
	for (; w != NULL; w = va_arg(ap, const char *))
		if (err.p == NULL || strstr(err.p, w) == NULL) {
			diag("\"%s\" not in: %s", w, err.p ? err.p : "");
			rc = 0;
		}
	va_end(ap);
	return rc;
}

/* 1 when the last error does not contain w (a secret, say). */
static int
lacks(const char *w)
{
	return err.p == NULL || strstr(err.p, w) == NULL;
}

static size_t
def_size(const struct conf_def *d)
{
	return d->type == CONF_STR || d->type == CONF_SECRET ?
	    sizeof(char *) : sizeof(int);
}

static void
test_table(void)
{
	unsigned char map[sizeof(struct conf)];
	size_t i, j, k, gap;
	int good = 1, names = 1, bounds = 1, over = 0;

	memset(map, 0, sizeof(map));
	for (i = 0; i < conf_ndefs; i++) {
		const struct conf_def *d = &conf_defs[i];

		for (k = 0; d->name[k] != '\0'; k++)
			if (!((d->name[k] >= 'A' && d->name[k] <= 'Z') ||
			    (d->name[k] >= '0' && d->name[k] <= '9') ||
			    d->name[k] == '_'))
				names = 0;
		for (j = 0; j < i; j++)
			if (strcmp(conf_defs[j].name, d->name) == 0)
				names = 0;
		if (d->min > d->max || d->help == NULL || *d->help == '\0' ||
		    d->def == NULL || d->off + def_size(d) > sizeof(map) ||
		    (d->type != CONF_STR && d->type != CONF_SECRET &&
		    (d->min < INT_MIN || d->max > INT_MAX)))
			bounds = 0;
		for (k = d->off; k < d->off + def_size(d) && k < sizeof(map);
		    k++)
			over |= map[k]++;
	}
	for (k = offsetof(struct conf, db_path);
	    k < offsetof(struct conf, db_path) + sizeof(char *); k++)
		over |= map[k]++;
	ok(names, "every name is unique and [A-Z0-9_]");
	ok(bounds, "every row has min <= max, a default, help, and fits");
	ok(!over, "no two rows share a field");
	/* What no row covers must be padding: less than a pointer, before a
	 * pointer-aligned offset.  A missing pointer field leaves a hole of
	 * 8 bytes; a missing int between ints leaves one not aligned so. */
	for (k = 0; k < sizeof(map); k = j) {
		if (map[k]) {
			j = k + 1;
			continue;
		}
		for (j = k; j < sizeof(map) && !map[j]; j++)
			;
		gap = j - k;
		if (gap >= sizeof(char *) || j % sizeof(char *) != 0) {
			diag("bytes %zu to %zu of struct conf have no row", k,
			    j - 1);
			good = 0;
		}
	}
	ok(good, "every field of struct conf has a row (db_path is derived)");
	ok(conf_ndefs >= 44, "the table has %zu rows", conf_ndefs);
}

static void
test_defaults(void)
{
	int i;

	buf_reset(&err);
	i = conf_load(&c, NULL, 0, &err);
	ok(i == 0, "defaults load: %s", err.p ? err.p : "");
	is_str(c.database_url, "sqlite:////var/lib/parkd/parkd.db",
	    "default DATABASE_URL");
	is_str(c.db_path, "/var/lib/parkd/parkd.db", "db_path derived");
	is_str(c.redis_cache_url, "redis://127.0.0.1:6379/0",
	    "default REDIS_CACHE_URL");
	is_str(c.socket_path, "/run/parkd/parkd.sock", "default PARKD_SOCKET");
	is_int(c.socket_mode, 0660, "default PARKD_SOCKET_MODE 0660");
	is_str(c.socket_group, "parkd-web", "default PARKD_SOCKET_GROUP");
	is_int(c.workers, 4, "default PARKD_WORKERS");
	is_int(c.worker_max_requests, 100000, "default max requests");
	is_int(c.max_body, 65536, "default PARKD_MAX_BODY");
	is_str(c.cors_origins, "*", "default PARKD_CORS_ORIGINS");
	is_int(c.db_busy_timeout_ms, 5000, "default busy timeout");
	is_int(c.db_synchronous_full, 0, "default synchronous NORMAL");
	is_int(c.redis_timeout_ms, 200, "default Redis timeout");
	is_int(c.redis_breaker_s, 5, "default Redis breaker");
	is_str(c.jwt_issuer, "parkd", "default JWT_ISSUER");
	is_int(c.jwt_access_ttl_s, 3600, "default access ttl: an hour");
	is_int(c.jwt_access_remember_ttl_s, 7 * 86400,
	    "default access ttl with remember_me: 7 days");
	is_int(c.jwt_refresh_ttl_s, 30 * 86400, "default refresh ttl");
	ok(c.jwt_refresh_remember_ttl_s >= c.jwt_refresh_ttl_s,
	    "remember ttl >= refresh ttl");
	is_int(c.scrypt_n, 131072, "default scrypt N");
	is_int(c.scrypt_r, 8, "default scrypt r");
	is_int(c.scrypt_p, 1, "default scrypt p");
	is_int(c.login_max_failures, 10, "default login failures");
	is_int(c.login_window_s, 900, "default login window");
	is_str(c.mail_server, "", "default MAIL_SERVER empty (.eml files)");
	is_int(c.mail_use_ssl, 0, "default MAIL_USE_SSL off");
	is_int(c.mail_allow_plaintext, 0, "default PARKD_MAIL_ALLOW_PLAINTEXT "
	    "off");
	is_int(c.export_retention_days, 7, "default retention");
	is_int(c.export_link_ttl_s, 7 * 86400, "default link ttl");
	is_int(c.remind_after_days, 3, "default reminder");
	is_int(c.log_requests, 1, "default PARKD_LOG_REQUESTS on");
	is_int(c.max_active_bookings, 5, "default active bookings");
	is_str(c.jwt_secret_key, "", "no default JWT secret");
	conf_free(&c);
	ok(c.db_path == NULL && c.jwt_issuer == NULL && c.workers == 0,
	    "conf_free clears the struct");
}

static void
test_format(void)
{
	int rc;

	static const char good[] =
	    "# parkd settings\r\n"
	    "\r\n"
	    "   # indented comment\r\n"
	    "export PARKD_WORKERS=8\r\n"
	    "  JWT_ISSUER  =  spaced-out  \r\n"
	    "ADMIN_NAME=\"Head \\\"Admin\\\" \\\\ \\x\" # trailing comment\r\n"
	    "MAIL_DEFAULT_SENDER='x@y.example' \r\n"
	    "ADMIN_EMAIL=a#b@example.com\r\n"
	    "MAIL_USERNAME=user # a comment\r\n"
	    "PARKD_SOCKET_GROUP=\"a #b\"\r\n"
	    "FLASK_ENV=production\r\n"
	    "FLASK_APP=app.py\r\n"
	    "PARKD_LOG_REQUESTS=False\r\n"
	    "PARKD_DB_SYNCHRONOUS=YES\r\n"
	    "MAIL_USE_TLS=0\r\n"
	    "PARKD_SOCKET_MODE=600\r\n"
	    "CACHE_TTL=10\r\n"
	    "CACHE_TTL=20\r\n"
	    "MAIL_SERVER=\r\n"
	    "PARKD_CORS_ORIGINS=https://a.example, http://b.example:8080\r\n"
	    "BACKEND_URL=https://parking.example.com//\r\n"
	    "DATABASE_URL=sqlite:///relative/park.db\r\n"
	    "REDIS_CACHE_URL=\r\n"
	    "PARKD_MAIL_DIR='C:\\no\\escapes'";

	rc = load(good);
	ok(rc == 0, "a file with comments, quotes, export, CRLF and "
	    "unknown keys loads: %s", err.p ? err.p : "");
	is_int(c.workers, 8, "export prefix");
	is_str(c.jwt_issuer, "spaced-out",
	    "blanks trimmed around key and value");
	is_str(c.admin_name, "Head \"Admin\" \\ \\x",
	    "double-quote escapes; unknown ones kept");
	is_str(c.mail_default_sender, "x@y.example", "single quotes");
	is_str(c.admin_email, "a#b@example.com", "# inside a word is kept");
	is_str(c.mail_username, "user", "\" #\" starts a comment");
	is_str(c.socket_group, "a #b", "# inside quotes is kept");
	is_int(c.log_requests, 0, "bool False");
	is_int(c.db_synchronous_full, 1, "bool YES");
	is_int(c.mail_use_tls, 0, "bool 0");
	is_int(c.socket_mode, 0600, "mode 600 is octal");
	is_int(c.cache_ttl_s, 20, "the last of two lines wins");
	is_str(c.mail_server, "", "empty value");
	is_str(c.backend_url, "https://parking.example.com",
	    "final slashes of BACKEND_URL removed");
	is_str(c.db_path, "relative/park.db", "sqlite:///relative path");
	is_str(c.redis_cache_url, "", "empty REDIS_CACHE_URL disables");
	is_str(c.mail_dir, "C:\\no\\escapes", "single quotes: no escapes");
	is_str(c.database_url, "sqlite:///relative/park.db",
	    "DATABASE_URL kept");

	ok(load("DATABASE_URL=sqlite:////srv/p.db\n") == 0 &&
	    strcmp(c.db_path, "/srv/p.db") == 0, "sqlite:////absolute path");
	ok(load("") == 0 && c.workers == 4, "an empty file gives defaults");
	ok(load("PARKD_WORKERS=5") == 0 && c.workers == 5,
	    "no newline at the end");
	ok(load("REDIS_CACHE_URL=unix:///run/redis/redis.sock?db=2\n") == 0,
	    "unix:// Redis URL accepted");

	ok(load("# ok\nPARKD_WORKERS 8\n") == -1 &&
	    says("line 2", "KEY=value", NULL), "a line without = fails, "
	    "naming the line");
	ok(load("PARKD_WORKERS=\"8\n") == -1 && says("line 1", "quote", NULL),
	    "an unclosed quote fails");
	ok(load("PARKD_WORKERS=\"8\" x\n") == -1 &&
	    says("after the closing quote", NULL), "text after a quote fails");
	ok(load("1WORKERS=2\n") == -1 && says("not a valid setting name",
	    NULL), "a bad key fails");
	ok(load("PARKD-WORKERS=2\n") == -1, "a key with - fails");
	ok(load("=2\n") == -1, "an empty key fails");
	buf_reset(&err);
	conf_free(&c);
	ok(conf_load(&c, file("A=1\n\0B=2\n", 9), 0, &err) == -1 &&
	    says("NUL", NULL), "a NUL byte in the file fails");
	buf_reset(&err);
	ok(conf_load(&c, "/nonexistent/parkd.env", 0, &err) == -1 &&
	    says("/nonexistent/parkd.env", NULL), "a missing file fails, "
	    "naming it");
	ok(load("ADMIN_NAME=\"a\\tb\"\n") == -1 && says("ADMIN_NAME",
	    "control", NULL), "a control character in a value fails");
	ok(load("ADMIN_NAME=\"a\\nb\"\n") == -1 && says("ADMIN_NAME",
	    "control", NULL), "a \\n escape makes a control character: fails");
	ok(load("ADMIN_NAME=\xc3\xa9t\xc3\xa9\n") == 0 &&
	    strcmp(c.admin_name, "\xc3\xa9t\xc3\xa9") == 0, "UTF-8 accepted");
	ok(load("ADMIN_NAME=\xc0\xaf\n") == -1, "invalid UTF-8 fails");
}

static void
test_values(void)
{
	ok(load("PARKD_WORKERS=64\n") == 0 && c.workers == 64, "max 64 ok");
	ok(load("PARKD_WORKERS=1\n") == 0 && c.workers == 1, "min 1 ok");
	ok(load("PARKD_WORKERS=65\n") == -1 && says("PARKD_WORKERS",
	    "line 1", "\"65\"", "out of range", "1 to 64", NULL),
	    "65 workers refused, with name, line, value and range");
	ok(load("PARKD_WORKERS=0\n") == -1 && says("1 to 64", NULL),
	    "0 workers refused");
	ok(load("PARKD_WORKERS=-1\n") == -1, "-1 workers refused");
	ok(load("PARKD_WORKERS=4x\n") == -1 && says("not an integer", NULL),
	    "trailing garbage refused");
	ok(load("PARKD_WORKERS=4 workers\n") == -1, "trailing word refused");
	ok(load("PARKD_WORKERS=\n") == -1, "empty integer refused");
	ok(load("PARKD_WORKERS=+4\n") == -1, "+4 refused");
	ok(load("PARKD_WORKERS=0x4\n") == -1, "hex refused");
	ok(load("PARKD_WORKERS=4.0\n") == -1, "4.0 refused");
	ok(load("PARKD_WORKERS=99999999999999999999\n") == -1,
	    "overflow refused");
	ok(load("PARKD_WORKER_MAX_REQUESTS=0\n") == 0 &&
	    c.worker_max_requests == 0, "0 = never recycle");
	ok(load("PARKD_WORKER_MAX_REQUESTS=2147483648\n") == -1,
	    "INT_MAX + 1 refused");
	ok(load("JWT_ACCESS_TOKEN_EXPIRES=59\n") == -1 &&
	    says("60 to 604800", NULL), "access ttl 59 refused");
	ok(load("JWT_ACCESS_TOKEN_EXPIRES=604801\n") == -1 &&
	    says("JWT_ACCESS_TOKEN_EXPIRES", "60 to 604800", NULL),
	    "access ttl past 7 days refused");
	ok(load("JWT_ACCESS_TOKEN_EXPIRES=60\n") == 0 &&
	    c.jwt_access_ttl_s == 60, "access 60 ok");
	ok(load("JWT_ACCESS_TOKEN_EXPIRES=604800\n") == 0 &&
	    c.jwt_access_ttl_s == 604800, "access 7 days ok");
	ok(load("PARKD_JWT_ACCESS_REMEMBER_EXPIRES=59\n") == -1 &&
	    says("PARKD_JWT_ACCESS_REMEMBER_EXPIRES", "60 to 2592000", NULL),
	    "remember access ttl 59 refused");
	ok(load("PARKD_JWT_ACCESS_REMEMBER_EXPIRES=2592001\n") == -1 &&
	    says("PARKD_JWT_ACCESS_REMEMBER_EXPIRES", "60 to 2592000", NULL),
	    "remember access ttl past 30 days refused");
	ok(load("PARKD_JWT_ACCESS_REMEMBER_EXPIRES=2592000\n") == 0 &&
	    c.jwt_access_remember_ttl_s == 2592000,
	    "remember access ttl 30 days ok");
	ok(load("JWT_ACCESS_TOKEN_EXPIRES=300\n"
	    "PARKD_JWT_ACCESS_REMEMBER_EXPIRES=300\n") == 0,
	    "remember access ttl equal to the plain one ok (shortened both)");
	ok(load("PARKD_JWT_ACCESS_REMEMBER_EXPIRES=3599\n") == -1 &&
	    says("PARKD_JWT_ACCESS_REMEMBER_EXPIRES", "shorter",
	    "JWT_ACCESS_TOKEN_EXPIRES", NULL),
	    "remember access ttl shorter than the plain one refused");
	/* Files valid before the access lifetimes existed: a default
	 * access lifetime follows the refresh lifetime down. */
	ok(load("JWT_REFRESH_TOKEN_EXPIRES=1800\n") == 0 &&
	    c.jwt_access_ttl_s == 1800 && c.jwt_refresh_ttl_s == 1800 &&
	    c.jwt_access_remember_ttl_s == 604800,
	    "default access ttl capped by a short refresh ttl");
	ok(load("JWT_REFRESH_TOKEN_EXPIRES=3600\n"
	    "PARKD_JWT_REMEMBER_EXPIRES=86400\n") == 0 &&
	    c.jwt_access_remember_ttl_s == 86400 &&
	    c.jwt_refresh_remember_ttl_s == 86400 &&
	    c.jwt_access_ttl_s == 3600,
	    "default remember access ttl capped by a short remember ttl");
	ok(load("JWT_ACCESS_TOKEN_EXPIRES=900\n"
	    "JWT_REFRESH_TOKEN_EXPIRES=3600\n"
	    "PARKD_JWT_REMEMBER_EXPIRES=86400\n") == 0 &&
	    c.jwt_access_ttl_s == 900 && c.jwt_access_remember_ttl_s == 86400,
	    "an old file with all three lifetimes loads");
	ok(load("JWT_ACCESS_TOKEN_EXPIRES=7200\n"
	    "JWT_REFRESH_TOKEN_EXPIRES=7200\n"
	    "PARKD_JWT_REMEMBER_EXPIRES=7200\n") == 0 &&
	    c.jwt_access_ttl_s == 7200 && c.jwt_access_remember_ttl_s == 7200,
	    "default remember access ttl kept at least the plain one");
	ok(load("JWT_ACCESS_TOKEN_EXPIRES=3600\n"
	    "JWT_REFRESH_TOKEN_EXPIRES=1800\n") == -1 &&
	    says("JWT_ACCESS_TOKEN_EXPIRES", "line 1", "outlive",
	    "JWT_REFRESH_TOKEN_EXPIRES", NULL),
	    "an access ttl set longer than the refresh ttl refused");
	setenv("JWT_ACCESS_TOKEN_EXPIRES", "3600", 1);
	buf_reset(&err);
	conf_free(&c);
	ok(conf_load(&c, file("JWT_REFRESH_TOKEN_EXPIRES=1800\n", 31), 1,
	    &err) == -1 &&
	    says("JWT_ACCESS_TOKEN_EXPIRES", "environment", "outlive", NULL),
	    "an access ttl from the environment longer than refresh refused");
	unsetenv("JWT_ACCESS_TOKEN_EXPIRES");
	ok(load("JWT_REFRESH_TOKEN_EXPIRES=1800\n"
	    "JWT_ACCESS_TOKEN_EXPIRES=1800\n") == 0,
	    "access ttl equal to a shortened refresh ttl ok");
	ok(load("PARKD_JWT_REMEMBER_EXPIRES=2592000\n"
	    "PARKD_JWT_ACCESS_REMEMBER_EXPIRES=2592001\n") == -1,
	    "remember access ttl past 30 days refused, even under a long "
	    "remember refresh");
	ok(load("PARKD_JWT_REMEMBER_EXPIRES=2592000\n"
	    "PARKD_JWT_ACCESS_REMEMBER_EXPIRES=2592000\n") == 0,
	    "remember access ttl equal to the remember refresh ttl ok");
	ok(load("JWT_REFRESH_TOKEN_EXPIRES=86400\n"
	    "PARKD_JWT_REMEMBER_EXPIRES=86400\n"
	    "PARKD_JWT_ACCESS_REMEMBER_EXPIRES=604800\n") == -1 &&
	    says("PARKD_JWT_ACCESS_REMEMBER_EXPIRES", "outlive",
	    "PARKD_JWT_REMEMBER_EXPIRES", NULL),
	    "remember access ttl longer than the remember refresh refused");
	ok(load("PARKD_LOG_REQUESTS=maybe\n") == -1 &&
	    says("PARKD_LOG_REQUESTS", "not a boolean", NULL), "bad bool");
	ok(load("PARKD_LOG_REQUESTS=\n") == -1, "empty bool refused");
	ok(load("PARKD_SOCKET_MODE=0999\n") == -1 && says("octal", NULL),
	    "mode 0999 refused");
	ok(load("PARKD_SOCKET_MODE=01777\n") == -1, "mode 01777 refused");
	ok(load("PARKD_SOCKET_MODE=0666\n") == -1 &&
	    says("every local user", NULL), "mode 0666 (o+w) refused");
	ok(load("PARKD_SOCKET_MODE=0664\n") == 0, "mode 0664 ok");
	ok(load("PARKD_SOCKET=relative.sock\n") == -1 &&
	    says("absolute", NULL), "relative socket refused");
	ok(load("PARKD_SOCKET=/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".sock\n") == -1 && says("PARKD_SOCKET", "1 to 107 bytes", NULL),
	    "a socket path too long for sun_path refused");
	ok(load("PARKD_SCRYPT_N=100000\n") == -1 &&
	    says("power of two", NULL), "scrypt N not a power of two refused");
	ok(load("PARKD_SCRYPT_N=65536\n") == 0, "scrypt N 65536 ok");
	ok(load("PARKD_SCRYPT_N=262144\nPARKD_SCRYPT_R=16\n") == -1 &&
	    says("MiB", NULL), "scrypt needing 512 MiB refused");
	ok(load("PARKD_JWT_REMEMBER_EXPIRES=3600\n") == -1 &&
	    says("JWT_REFRESH_TOKEN_EXPIRES", NULL),
	    "remember ttl shorter than refresh refused");
	ok(load("PARKD_CORS_ORIGINS=*.example.com\n") == -1,
	    "a wildcard origin refused");
	ok(load("PARKD_CORS_ORIGINS=https://a.example/\n") == -1,
	    "an origin with a final slash refused");
	ok(load("PARKD_CORS_ORIGINS=\n") == 0, "no origins ok");
	ok(load("BACKEND_URL=ftp://x\n") == -1 && says("BACKEND_URL", NULL),
	    "a non-http BACKEND_URL refused");
	ok(load("REDIS_CACHE_URL=http://user:hunter2@x/\n") == -1 &&
	    says("REDIS_CACHE_URL", NULL) && lacks("hunter2"),
	    "a bad Redis URL refused without printing it");
	ok(load("REDIS_CACHE_URL=redis://:hunter2@127.0.0.1:70000/1\n") ==
	    -1 && says("REDIS_CACHE_URL", "line 1", "port", "1 to 65535",
	    NULL) && lacks("hunter2") && lacks("127.0.0.1"),
	    "a Redis port out of range refused at load, naming the setting "
	    "and the problem, not the URL");
	ok(load("REDIS_CACHE_URL=redis://:hunter2@h/16\n") == -1 &&
	    says("REDIS_CACHE_URL", "database", NULL) && lacks("hunter2"),
	    "a Redis db out of range refused at load");
	ok(load("REDIS_CACHE_URL=unix://:hunter2@\n") == -1 &&
	    says("REDIS_CACHE_URL", "no socket", NULL) && lacks("hunter2"),
	    "a unix:// URL without a path refused at load");
	ok(load("REDIS_CACHE_URL=redis://hunter2@h\n") == -1 &&
	    says("REDIS_CACHE_URL", "password", NULL) && lacks("hunter2"),
	    "a user without a password refused, the user not shown");
	ok(load("REDIS_CACHE_URL='redis://:hun%40ter2@127.0.0.1:6390/1'\n")
	    == 0 && strcmp(c.redis_cache_url,
	    "redis://:hun%40ter2@127.0.0.1:6390/1") == 0,
	    "a Redis URL with a password loads");

	ok(load("DATABASE_URL=postgresql://parkd:hunter2@db/parkd\n") == 0 &&
	    strcmp(c.db_path, "postgresql://parkd:hunter2@db/parkd") == 0,
	    "a postgresql:// URI loads, kept whole for libpq (#17)");
	ok(load("DATABASE_URL='postgres://parkd@db1:5432,db2:5432/parkd"
	    "?target_session_attrs=read-write&connect_timeout=3'\n") == 0 &&
	    strcmp(c.db_path, "postgres://parkd@db1:5432,db2:5432/parkd"
	    "?target_session_attrs=read-write&connect_timeout=3") == 0,
	    "postgres://, several hosts and parameters: kept whole");
	ok(load("DATABASE_URL=mysql://parkd:hunter2@db/parkd\n") == -1 &&
	    says("DATABASE_URL", "\"mysql\"", "not supported", NULL) &&
	    lacks("hunter2"),
	    "another scheme refused, naming it, not the password");
	ok(load("PARKD_PG_STATEMENT_TIMEOUT_MS=-1\n") == -1,
	    "a negative statement timeout refused");
	ok(load("DATABASE_URL=mysql+pymysql://u:p@h/d\n") == -1,
	    "mysql refused");
	ok(load("DATABASE_URL=sqlite://\n") == -1, "sqlite:// refused");
	ok(load("DATABASE_URL=sqlite:///\n") == -1, "sqlite:/// refused");
	ok(load("DATABASE_URL=sqlite:///:memory:\n") == -1 &&
	    says("in-memory", NULL), "in-memory refused");
	ok(load("DATABASE_URL=sqlite:///x.db?mode=ro\n") == -1,
	    "query parameters refused");
	ok(load("DATABASE_URL=/var/lib/parkd/parkd.db\n") == -1 &&
	    says("DATABASE_URL", NULL), "a bare path refused");

	ok(load("PARKD_WORKERS=0\nPARKD_MAX_BODY=1\nMAIL_PORT=x\n") == -1 &&
	    says("PARKD_WORKERS", "PARKD_MAX_BODY", "MAIL_PORT", NULL),
	    "every bad value is reported at once");

	/* secrets: never in a message */
	ok(load("JWT_SECRET_KEY=\"sekrit\\tvalue\"\n") == -1 &&
	    says("JWT_SECRET_KEY", NULL) && lacks("sekrit"),
	    "a bad secret is named, not shown");
	ok(load("MAIL_PASSWORD=\"pw\\nhunter2\"\n") == -1 &&
	    lacks("hunter2"), "MAIL_PASSWORD value not shown");

	/* SMTP in clear only to this machine, or when allowed (#14) */
	ok(load("MAIL_SERVER=smtp.example.com\nMAIL_USE_TLS=off\n") == -1 &&
	    says("MAIL_USE_TLS (", "line 2", "MAIL_SERVER",
	    "not a loopback address", "in clear",
	    "PARKD_MAIL_ALLOW_PLAINTEXT=on", NULL),
	    "SMTP without TLS to smtp.example.com refused, naming the "
	    "settings");
	ok(load("MAIL_SERVER=127.evil.example\nMAIL_USE_TLS=off\n") == -1,
	    "... to 127.evil.example too (a name)");
	ok(load("MAIL_SERVER=10.0.0.25\nMAIL_USE_TLS=off\n") == -1,
	    "... to 10.0.0.25 too");
	ok(load("MAIL_SERVER=smtp.example.com\nMAIL_USE_TLS=off\n"
	    "PARKD_MAIL_ALLOW_PLAINTEXT=on\n") == 0 &&
	    c.mail_allow_plaintext == 1, "... allowed with "
	    "PARKD_MAIL_ALLOW_PLAINTEXT=on");
	ok(load("MAIL_SERVER=smtp.example.com\n") == 0, "STARTTLS (the "
	    "default) to smtp.example.com loads");
	ok(load("MAIL_SERVER=smtp.example.com\nMAIL_USE_TLS=off\n"
	    "MAIL_USE_SSL=on\n") == 0, "smtps to smtp.example.com loads");
	ok(load("MAIL_SERVER=127.0.0.1\nMAIL_USE_TLS=off\n") == 0 &&
	    load("MAIL_SERVER=localhost\nMAIL_USE_TLS=off\n") == 0 &&
	    load("MAIL_SERVER=::1\nMAIL_USE_TLS=off\n") == 0,
	    "SMTP without TLS to 127.0.0.1, localhost or ::1 loads");
	ok(load("MAIL_USE_TLS=off\n") == 0, "no MAIL_SERVER (.eml files): "
	    "TLS does not matter");
}

static void
test_env(void)
{
	static const char text[] = "PARKD_WORKERS=2\nJWT_ISSUER=from-file\n";
	const char *f = file(text, strlen(text));

	setenv("PARKD_WORKERS", "8", 1);
	setenv("FLASK_ENV", "development", 1);
	buf_reset(&err);
	conf_free(&c);
	ok(conf_load(&c, f, 1, &err) == 0 && c.workers == 8 &&
	    strcmp(c.jwt_issuer, "from-file") == 0,
	    "the environment overrides the file");
	conf_free(&c);
	ok(conf_load(&c, f, 0, &err) == 0 && c.workers == 2,
	    "env == 0: the environment is ignored");
	conf_free(&c);
	setenv("PARKD_WORKERS", "99", 1);
	ok(conf_load(&c, f, 1, &err) == -1 && says("PARKD_WORKERS",
	    "environment", "1 to 64", NULL),
	    "a bad environment value names the environment");
	unsetenv("PARKD_WORKERS");
	unsetenv("FLASK_ENV");
	setenv("REDIS_CACHE_URL", "", 1);
	buf_reset(&err);
	ok(conf_load(&c, NULL, 1, &err) == 0 && *c.redis_cache_url == '\0',
	    "an empty environment value overrides too");
	unsetenv("REDIS_CACHE_URL");
}

/* Loads the defaults plus the given admin and secret settings, then runs
 * conf_check_server. */
static int
server(const char *jwt, const char *secret, const char *email,
    const char *pw, const char *hash)
{
	conf_free(&c);
	buf_reset(&err);
	if (conf_load(&c, NULL, 0, &err) != 0)
		fatal("defaults: %s", err.p);
	free(c.jwt_secret_key);
	c.jwt_secret_key = xstrdup(jwt);
	free(c.secret_key);
	c.secret_key = xstrdup(secret);
	free(c.admin_email);
	c.admin_email = xstrdup(email);
	free(c.admin_password);
	c.admin_password = xstrdup(pw);
	free(c.admin_password_hash);
	c.admin_password_hash = xstrdup(hash);
	return conf_check_server(&c, &err);
}

#define HEX64 "3b1f9c0e7a6d4f2b8e5a1c9d0f7b3e6a2d8c4f1e9b7a5d3c0e2f4a6b8d1c3e5f"
/* werkzeug's form, as the old backend stored them */
#define SCRYPT_HASH "scrypt:32768:8:1$Qm9XyZ1aB2cD3eF4$" HEX64 HEX64
#define PBKDF2_HASH "pbkdf2:sha256:600000$salt1234$" HEX64

static void
test_server(void)
{
	static const char *const known[] = {
		"change-me", "CHANGE-ME", "secret", "your-secret-key",
		"jwt-secret-string", "super-secret", "dev-secret-key",
		"your-jwt-secret-key-change-in-production",
		"Your-JWT-Secret-Key-Change-In-Production",
		"your-secret-key-change-in-production",
		"my-app-9f8e7d6c5b4a-change-in-production-please",
		"changeme-changeme-changeme-changeme-x",
		"this-is-an-example-secret-of-enough-length",
	};
	char rep[41];
	size_t i;
	int rc;

	rc = server(HEX64, "", "admin@example.com", "", SCRYPT_HASH);
	ok(rc == 0, "a 64-hex secret and an admin hash pass: %s",
	    err.p ? err.p : "");
	rc = server(HEX64, HEX64 "x", "admin@example.com", "Tr0ub4dor&3x", "");
	ok(rc == 0, "SECRET_KEY set well and ADMIN_PASSWORD pass: %s",
	    err.p ? err.p : "");

	ok(server("", "", "a@example.com", "Tr0ub4dor&3x", "") == -1 &&
	    says("JWT_SECRET_KEY", "not set", "openssl rand -hex 32", NULL),
	    "a missing JWT secret is refused, saying how to make one");
	ok(server("Zq9xK2pLm4Vb7Nc1Rt5", "", "a@example.com", "Tr0ub4dor&3x",
	    "") == -1 && says("JWT_SECRET_KEY", "too short", "32", NULL) &&
	    lacks("Zq9xK2pLm4Vb7Nc1Rt5"),
	    "a short JWT secret is refused without showing it");
	/* 31 and 32 bytes */
	ok(server("Zq9xK2pLm4Vb7Nc1Rt5Wy8Ju3Hg6Fd0", "", "a@example.com",
	    "Tr0ub4dor&3x", "") == -1 && says("31 bytes", NULL),
	    "31 bytes refused");
	ok(server("Zq9xK2pLm4Vb7Nc1Rt5Wy8Ju3Hg6Fd0S", "", "a@example.com",
	    "Tr0ub4dor&3x", "") == 0, "32 bytes accepted");
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok(server(known[i], "", "a@example.com", "Tr0ub4dor&3x", "") ==
		    -1 && says("JWT_SECRET_KEY", NULL) &&
		    lacks(known[i]),
		    "well-known JWT secret \"%s\" refused, not shown",
		    known[i]);
	memset(rep, 'a', 40);
	rep[40] = '\0';
	ok(server(rep, "", "a@example.com", "Tr0ub4dor&3x", "") == -1 &&
	    says("JWT_SECRET_KEY", "random", NULL) && lacks(rep),
	    "a repeated character refused");
	ok(server("abcabcabcabcabcabcabcabcabcabcabcabc", "", "a@example.com",
	    "Tr0ub4dor&3x", "") == -1 && says("random", NULL),
	    "3 distinct characters refused");
	ok(server("0123456701234567012345670123456701", "", "a@example.com",
	    "Tr0ub4dor&3x", "") == 0, "8 distinct characters accepted");

	ok(server(HEX64, "dev-secret-key", "a@example.com", "Tr0ub4dor&3x",
	    "") == -1 && says("SECRET_KEY", NULL) &&
	    lacks("dev-secret-key"), "a well-known SECRET_KEY refused");
	ok(server(HEX64, "shortish", "a@example.com", "Tr0ub4dor&3x", "") ==
	    -1 && says("SECRET_KEY", "too short", NULL) &&
	    lacks("JWT_SECRET_KEY") && lacks("shortish"),
	    "a short SECRET_KEY refused, naming only SECRET_KEY");

	ok(server(HEX64, "", "", "Tr0ub4dor&3x", "") == -1 &&
	    says("ADMIN_EMAIL", NULL), "ADMIN_EMAIL required");
	ok(server(HEX64, "", "admin", "Tr0ub4dor&3x", "") == -1 &&
	    says("ADMIN_EMAIL", NULL), "ADMIN_EMAIL must be an address");
	ok(server(HEX64, "", "a@example.com", "", "") == -1 &&
	    says("ADMIN_PASSWORD_HASH", "ADMIN_PASSWORD", NULL),
	    "an admin password or hash required");
	ok(server(HEX64, "", "a@example.com", "S3cr7!x", "") == -1 &&
	    says("ADMIN_PASSWORD", "8", NULL) && lacks("S3cr7!x"),
	    "an admin password of 7 refused, not shown");
	ok(server(HEX64, "", "a@example.com", "Admin123", "") == -1 &&
	    says("ADMIN_PASSWORD", NULL) && lacks("Admin123"),
	    "a well-known admin password refused");
	ok(server(HEX64, "", "a@example.com", "", "hunter22") == -1 &&
	    says("ADMIN_PASSWORD_HASH", NULL) && lacks("hunter22"),
	    "an admin hash not in werkzeug form refused");
	ok(server(HEX64, "", "a@example.com", "", PBKDF2_HASH) == 0,
	    "a pbkdf2 admin hash accepted");
	ok(server(HEX64, "", "a@example.com", "", "scrypt:1048576:8:1$salt$"
	    HEX64 HEX64) == -1 && says("ADMIN_PASSWORD_HASH", "limits", NULL),
	    "an admin hash over the scrypt caps refused");
	ok(server(HEX64, "", "a@example.com", "", "pbkdf2:sha256:600000$salt$"
	    "0123") == -1, "an admin hash of the wrong length refused");
	ok(server(HEX64, "", "a@example.com", "", "scrypt$salt$" HEX64 HEX64)
	    == -1, "werkzeug's short form refused");

	/* all at once: everything wrong is reported */
	ok(server("", "x", "", "", "") == -1 && says("JWT_SECRET_KEY",
	    "SECRET_KEY", "ADMIN_EMAIL", "ADMIN_PASSWORD", NULL),
	    "every problem of the server's settings is reported");
}

/* Reads the whole man page; NULL when it cannot be found. */
static char *
read_man(void)
{
	static const char *const tries[] = { "man/parkd.conf.5",
	    "../man/parkd.conf.5" };
	const char *top = getenv("abs_top_srcdir");
	char p[PATH_MAX + 32];
	struct buf b = { 0 };
	char chunk[4096];
	FILE *f = NULL;
	size_t i, n;

	if (top != NULL) {
		snprintf(p, sizeof(p), "%s/man/parkd.conf.5", top);
		f = fopen(p, "r");
	}
	for (i = 0; f == NULL && top == NULL && i < 2; i++)
		f = fopen(tries[i], "r");
	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return b.p;
}

/* The line of the man page that documents name, as the table says it
 * should read, up to the default's macro. */
static void
man_line(const struct conf_def *d, struct buf *b)
{
	static const char *const tname[] = { "text", "secret", "integer",
	    "boolean", "mode" };

	buf_printf(b, "\n.It Ev %s Pq %s, ", d->name, tname[d->type]);
	switch (d->type) {
	case CONF_STR:
	case CONF_SECRET:
		buf_printf(b, "%lld to %lld bytes, ", d->min, d->max);
		break;
	case CONF_INT:
		buf_printf(b, "%lld to %lld, ", d->min, d->max);
		break;
	case CONF_BOOL:
	case CONF_MODE:
		break;
	}
	buf_puts(b, "default ");
}

static void
test_man(void)
{
	struct buf want = { 0 };
	char *man = read_man(), *p, *e;
	size_t i, missing = 0, wrong = 0, extra = 0;

	if (man == NULL) {
		/* make check exports abs_top_srcdir: there, it must exist. */
		if (getenv("abs_top_srcdir") != NULL)
			ok(0, "man/parkd.conf.5 under $abs_top_srcdir");
		else
			ok(1, "# SKIP man/parkd.conf.5 not found; run "
			    "through make check");
		return;
	}
	for (i = 0; i < conf_ndefs; i++) {
		const struct conf_def *d = &conf_defs[i];

		buf_reset(&want);
		man_line(d, &want);
		if ((p = strstr(man, want.p)) == NULL) {
			/* is the name there at all? */
			buf_reset(&want);
			buf_printf(&want, "\n.It Ev %s ", d->name);
			if (strstr(man, want.p) == NULL) {
				diag("%s is not documented", d->name);
				missing++;
			} else {
				diag("%s: type or bounds differ from the "
				    "table", d->name);
				wrong++;
			}
			continue;
		}
		/* the default: "empty", or the text (after Ql/Pa) */
		p += want.len;
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if (*d->def == '\0' ? strncmp(p, "empty\n", 6) != 0 :
		    ((size_t)(e - p) < strlen(d->def) || strncmp(e -
		    strlen(d->def), d->def, strlen(d->def)) != 0)) {
			diag("%s: the default differs from the table (%s)",
			    d->name, d->def);
			wrong++;
		}
	}
	ok(missing == 0, "every setting of the table is in parkd.conf.5");
	ok(wrong == 0, "types, bounds and defaults in parkd.conf.5 match");
	/* and nothing documented that the table lacks */
	for (p = man; (p = strstr(p, "\n.It Ev ")) != NULL; p++) {
		char name[64];
		size_t n, j;

		p += 8;
		n = strcspn(p, " \n");
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, p, n);
		name[n] = '\0';
		for (j = 0; j < conf_ndefs; j++)
			if (strcmp(conf_defs[j].name, name) == 0)
				break;
		if (j == conf_ndefs) {
			diag("%s is documented but not in the table", name);
			extra++;
		}
	}
	ok(extra == 0, "every .It Ev of parkd.conf.5 is a setting");
	buf_free(&want);
	free(man);
}

/* PARKD_METRICS_ALLOW's matching (metrics_allowed()): addresses and
 * prefixes of both families; an IPv4-mapped IPv6 address (what a
 * dual-stack listener reports for an IPv4 client) is its IPv4 address,
 * whichever side names it. */
static void
test_metrics_allow(void)
{
	static const struct {
		const char *list, *addr;
		int want;
	} t[] = {
		{ "127.0.0.1", "127.0.0.1", 1 },
		{ "127.0.0.1", "127.0.0.2", 0 },
		{ "127.0.0.0/8, ::1", "127.9.9.9", 1 },
		{ "10.0.0.0/8 ::1", "::1", 1 },
		{ "10.0.0.0/8 ::1", "::2", 0 },
		{ "127.0.0.1", "::ffff:127.0.0.1", 1 },
		{ "127.0.0.1", "::FFFF:127.0.0.1", 1 },
		{ "127.0.0.0/8", "::ffff:127.1.2.3", 1 },
		{ "127.0.0.1", "::ffff:127.0.0.2", 0 },
		{ "10.0.0.0/8", "::ffff:127.0.0.1", 0 },
		{ "::ffff:127.0.0.1", "127.0.0.1", 1 },
		{ "::ffff:127.0.0.0/104", "127.5.5.5", 1 },
		{ "::ffff:127.0.0.0/104", "128.0.0.1", 0 },
		{ "::1", "::ffff:127.0.0.1", 0 },
		{ "127.0.0.1", "::127.0.0.1", 0 },
		{ "127.0.0.1", "::ffff:7f00:1", 1 },
		{ "127.0.0.1", "not-an-address", 0 },
		{ "", "127.0.0.1", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		is_int(metrics_allowed(t[i].list, t[i].addr), t[i].want,
		    "PARKD_METRICS_ALLOW=\"%s\" %s %s", t[i].list,
		    t[i].want ? "lets in" : "keeps out", t[i].addr);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[PATH_MAX + 16];
	int i;

	log_init("02-conf");
	snprintf(dir, sizeof(dir), "%s/parkd-t02.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp %s failed", dir);
	/* Start from a clean environment of our settings. */
	for (i = 0; (size_t)i < conf_ndefs; i++)
		unsetenv(conf_defs[i].name);

	test_table();
	test_defaults();
	test_format();
	test_values();
	test_env();
	test_server();
	test_man();
	test_metrics_allow();

	conf_free(&c);
	buf_free(&err);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
