/*
 * conf.c: THE settings table, and the loader of the KEY=value file.
 *
 * Every field of struct conf has one row in conf_defs[] (db_path excepted:
 * it is derived from DATABASE_URL).  Names are the old Flask backend's
 * where one existed, so an existing .env keeps working, and PARKD_* for
 * what parkd adds.  man/parkd.conf.5 documents every row; t/02-conf.c
 * checks that the two agree.
 *
 * Order: defaults, then the file, then the environment (only names of the
 * table), then every value is checked.  The text of each setting is kept
 * until the end so that an error names where the bad value came from.
 * Secret values (CONF_SECRET) never appear in a message or a log line.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include "park.h"

struct conf conf;

#define OFF(f) offsetof(struct conf, f)
#define DAY 86400

/* Strings: min and max bound the length in bytes. */
#define STRMAX 4096

const struct conf_def conf_defs[] = {
	/* secrets and the admin */
	{ "SECRET_KEY", CONF_SECRET, OFF(secret_key), 0, STRMAX, "",
	    "General-purpose secret (signed download links); when set, at "
	    "least 32 random bytes" },
	{ "JWT_SECRET_KEY", CONF_SECRET, OFF(jwt_secret_key), 0, STRMAX, "",
	    "HMAC key of the HS256 tokens; required by parkd: at least 32 "
	    "random bytes, e.g. openssl rand -hex 32" },
	{ "ADMIN_EMAIL", CONF_STR, OFF(admin_email), 0, 254, "",
	    "E-mail address the administrator logs in with; required by "
	    "parkd" },
	{ "ADMIN_PASSWORD", CONF_SECRET, OFF(admin_password), 0, 1024, "",
	    "The administrator's password in clear (at least 8 characters); "
	    "prefer ADMIN_PASSWORD_HASH" },
	{ "ADMIN_PASSWORD_HASH", CONF_SECRET, OFF(admin_password_hash), 0,
	    1024, "",
	    "The administrator's password as a werkzeug hash (scrypt:N:r:p$ "
	    "or pbkdf2:sha256:iterations$); wins over ADMIN_PASSWORD" },
	{ "ADMIN_NAME", CONF_STR, OFF(admin_name), 1, 80, "Administrator",
	    "Display name of the administrator" },
	/* storage */
	{ "DATABASE_URL", CONF_STR, OFF(database_url), 1, STRMAX,
	    "sqlite:////var/lib/parkd/parkd.db",
	    "The database: SQLite's as sqlite:///relative/path or "
	    "sqlite:////absolute/path, or PostgreSQL's as a libpq "
	    "postgresql:// URI" },
	{ "PARKD_DB_BUSY_TIMEOUT_MS", CONF_INT, OFF(db_busy_timeout_ms), 100,
	    60000, "5000",
	    "How long a write waits for the database lock before 503" },
	{ "PARKD_PG_STATEMENT_TIMEOUT_MS", CONF_INT,
	    OFF(pg_statement_timeout_ms), 0, 3600000, "30000",
	    "PostgreSQL: a statement running longer is cancelled (503); "
	    "0: no limit" },
	{ "PARKD_DB_SYNCHRONOUS", CONF_BOOL, OFF(db_synchronous_full), 0, 1,
	    "off",
	    "on: synchronous=FULL, a commit survives power loss; off: NORMAL" },
	{ "PARKD_DB_MAX_PAGES", CONF_INT, OFF(db_max_pages), 0, 1073741823,
	    "0",
	    "Caps the database at this many pages (SQLite's max_page_count, "
	    "4 KiB each); a write past it is 503; 0: no cap" },
	{ "PARKD_DB_CHECKPOINT_PAGES", CONF_INT, OFF(db_checkpoint_pages), 0,
	    1000000, "1000",
	    "WAL size in pages past which a commit checkpoints and lets the "
	    "WAL start again; 0: SQLite's own PASSIVE checkpoints" },
	{ "REDIS_CACHE_URL", CONF_SECRET, OFF(redis_cache_url), 0, 1024,
	    "redis://127.0.0.1:6379/0",
	    "The Redis cache: redis://[[user]:password@]host[:port][/db] or "
	    "unix:///path.sock[?db=N]; empty disables the cache" },
	{ "PARKD_REDIS_TIMEOUT_MS", CONF_INT, OFF(redis_timeout_ms), 10,
	    10000, "200",
	    "Longest wait for one Redis command" },
	{ "PARKD_REDIS_BREAKER_S", CONF_INT, OFF(redis_breaker_s), 0, 3600,
	    "5",
	    "After a Redis failure, seconds during which Redis is skipped" },
	{ "CACHE_TTL", CONF_INT, OFF(cache_ttl_s), 0, DAY, "300",
	    "Seconds a cached answer lives; 0 caches nothing" },
	{ "PARKD_MEMO_KB", CONF_INT, OFF(memo_kb), 0, 65536, "1024",
	    "KiB of rendered lists and grids each worker keeps, by data "
	    "version; 0 keeps none" },
	/* the server */
	{ "PARKD_SOCKET", CONF_STR, OFF(socket_path), 1,
	    sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
	    "/run/parkd/parkd.sock",
	    "Absolute path of the FastCGI unix socket (when systemd does not "
	    "pass one)" },
	{ "PARKD_SOCKET_MODE", CONF_MODE, OFF(socket_mode), 0, 0777, "0660",
	    "Octal mode of the socket; never writable by others" },
	{ "PARKD_SOCKET_GROUP", CONF_STR, OFF(socket_group), 0, 64,
	    "parkd-web",
	    "Group of the socket (the one nginx's user is in, not www-data, "
	    "which other web apps share); empty keeps the process's group" },
	{ "PARKD_WORKERS", CONF_INT, OFF(workers), 1, 64, "4",
	    "Number of pre-forked worker processes" },
	{ "PARKD_WORKER_MAX_REQUESTS", CONF_INT, OFF(worker_max_requests), 0,
	    INT_MAX, "100000",
	    "A worker is replaced after this many requests; 0: never" },
	{ "PARKD_MAX_BODY", CONF_INT, OFF(max_body), 1024, 16777216, "65536",
	    "Largest request body in bytes; more is 413" },
	{ "PARKD_CORS_ORIGINS", CONF_STR, OFF(cors_origins), 0, STRMAX, "*",
	    "Origins allowed by CORS: * for any, or a list of http(s) "
	    "origins separated by commas or spaces; empty: none" },
	{ "PARKD_METRICS_ALLOW", CONF_STR, OFF(metrics_allow), 0, 1024,
	    "127.0.0.1 ::1",
	    "Addresses and CIDR prefixes that may read GET /metrics, "
	    "separated by commas or spaces (keep nginx's list equal); "
	    "empty: no metrics (404)" },
	{ "BACKEND_URL", CONF_STR, OFF(backend_url), 1, 1024,
	    "http://localhost",
	    "Public base URL of the service, used in the links of e-mails" },
	/* tokens and passwords */
	{ "JWT_ISSUER", CONF_STR, OFF(jwt_issuer), 1, 255, "parkd",
	    "The iss claim of the tokens made and required" },
	/* The old backend's lifetimes: its app never refreshes, so "keep me
	 * signed in" is the access token's life.  Long access tokens cost no
	 * revocability: every request checks the session. */
	{ "JWT_ACCESS_TOKEN_EXPIRES", CONF_INT, OFF(jwt_access_ttl_s), 60,
	    7 * DAY, "3600",
	    "Lifetime of an access token in seconds; at most "
	    "JWT_REFRESH_TOKEN_EXPIRES" },
	{ "PARKD_JWT_ACCESS_REMEMBER_EXPIRES", CONF_INT,
	    OFF(jwt_access_remember_ttl_s), 60, 30 * DAY, "604800",
	    "Lifetime of an access token of a session logged in with "
	    "remember_me; at least JWT_ACCESS_TOKEN_EXPIRES, at most "
	    "PARKD_JWT_REMEMBER_EXPIRES" },
	{ "JWT_REFRESH_TOKEN_EXPIRES", CONF_INT, OFF(jwt_refresh_ttl_s), 300,
	    365 * DAY, "2592000",
	    "Lifetime of a refresh token in seconds" },
	{ "PARKD_JWT_REMEMBER_EXPIRES", CONF_INT,
	    OFF(jwt_refresh_remember_ttl_s), 300, 365 * DAY, "7776000",
	    "Lifetime of a refresh token after a login with remember_me; at "
	    "least JWT_REFRESH_TOKEN_EXPIRES" },
	{ "PARKD_REFRESH_LEEWAY_S", CONF_INT, OFF(refresh_leeway_s), 0, 60,
	    "10",
	    "Seconds during which a refresh token just rotated may be "
	    "presented again and gets the same new tokens (two tabs, a retry "
	    "after a lost answer); later, or older tokens, revoke the "
	    "session; 0: no leeway" },
	{ "PARKD_HASH_CONCURRENCY", CONF_INT, OFF(hash_concurrency), 0, 64,
	    "0",
	    "Password hashes computed at once on the host (login, register, "
	    "password change); past it, 503 with Retry-After; 0: half of "
	    "PARKD_WORKERS, at least 1" },
	{ "PARKD_HASH_HOLD_MAX_S", CONF_INT, OFF(hash_hold_max_s), 1, 3600,
	    "30",
	    "Seconds a worker may hold a hash slot (a hash takes about one); "
	    "past it, the supervisor kills the worker (stopped or stuck), "
	    "which frees the slot" },
	{ "PARKD_SCRYPT_N", CONF_INT, OFF(scrypt_n), 16384, 262144, "131072",
	    "scrypt cost N of new password hashes, a power of two" },
	{ "PARKD_SCRYPT_R", CONF_INT, OFF(scrypt_r), 1, 16, "8",
	    "scrypt block size r of new password hashes" },
	{ "PARKD_SCRYPT_P", CONF_INT, OFF(scrypt_p), 1, 4, "1",
	    "scrypt parallelism p of new password hashes" },
	{ "PARKD_LOGIN_MAX_FAILURES", CONF_INT, OFF(login_max_failures), 1,
	    1000, "10",
	    "Failed logins at one name (as the lookup reads it) from one client "
	    "address (an IPv6 one by its /64) within the window before 429" },
	{ "PARKD_LOGIN_WINDOW_S", CONF_INT, OFF(login_window_s), 60, DAY,
	    "900",
	    "The window of the login failure limits, in seconds" },
	{ "PARKD_LOGIN_ACCOUNT_MAX_FAILURES", CONF_INT,
	    OFF(login_account_max_failures), 1, 100000, "100",
	    "Failed logins of one account from all addresses within the "
	    "window past which each address takes one attempt per "
	    "PARKD_LOGIN_SLOW_S at it" },
	{ "PARKD_LOGIN_SLOW_S", CONF_INT, OFF(login_slow_s), 1, 3600, "10",
	    "Seconds between two login attempts of one client address at an "
	    "account past PARKD_LOGIN_ACCOUNT_MAX_FAILURES (429 with "
	    "Retry-After in between)" },
	{ "PARKD_LOGIN_ADDR_MAX_FAILURES", CONF_INT,
	    OFF(login_addr_max_failures), 1, 1000000, "50",
	    "Failed logins from one client address (an IPv6 one by its /64) "
	    "at all names within the window before 429: cycling names buys "
	    "no more hashes" },
	/* account recovery */
	{ "PARKD_RESET_TOKEN_TTL_S", CONF_INT, OFF(reset_token_ttl_s), 60,
	    DAY, "1800",
	    "Lifetime of a password reset link, in seconds" },
	{ "PARKD_VERIFY_TOKEN_TTL_S", CONF_INT, OFF(verify_token_ttl_s), 300,
	    30 * DAY, "172800",
	    "Lifetime of an e-mail verification link, in seconds" },
	{ "PARKD_RECOVERY_MAX_REQUESTS", CONF_INT, OFF(recovery_max_requests),
	    1, 1000, "3",
	    "Reset or verification e-mails asked for one address (known or "
	    "not) within PARKD_RECOVERY_WINDOW_S; more is 429" },
	{ "PARKD_RECOVERY_WINDOW_S", CONF_INT, OFF(recovery_window_s), 60,
	    DAY, "3600",
	    "The window of PARKD_RECOVERY_MAX_REQUESTS, in seconds" },
	{ "REQUIRE_EMAIL_VERIFICATION", CONF_BOOL,
	    OFF(require_email_verification), 0, 1, "off",
	    "Refuse the login of a user whose e-mail address is not verified "
	    "(403 EMAIL_NOT_VERIFIED), and send exports and reminders only to "
	    "verified addresses" },
	/* mail and exports */
	{ "MAIL_SERVER", CONF_STR, OFF(mail_server), 0, 253, "",
	    "SMTP server host; empty: no SMTP, messages are written as .eml "
	    "files to PARKD_MAIL_DIR" },
	{ "MAIL_PORT", CONF_INT, OFF(mail_port), 1, 65535, "587",
	    "SMTP server port" },
	{ "MAIL_USE_TLS", CONF_BOOL, OFF(mail_use_tls), 0, 1, "on",
	    "Require STARTTLS" },
	{ "MAIL_USE_SSL", CONF_BOOL, OFF(mail_use_ssl), 0, 1, "off",
	    "Implicit TLS (smtps, usually port 465); wins over MAIL_USE_TLS" },
	{ "PARKD_MAIL_ALLOW_PLAINTEXT", CONF_BOOL, OFF(mail_allow_plaintext),
	    0, 1, "off",
	    "Allow SMTP without TLS to a MAIL_SERVER that is not loopback (the "
	    "e-mails carry download links)" },
	{ "MAIL_USERNAME", CONF_STR, OFF(mail_username), 0, 1024, "",
	    "SMTP user name; empty: no authentication" },
	{ "MAIL_PASSWORD", CONF_SECRET, OFF(mail_password), 0, 1024, "",
	    "SMTP password" },
	{ "MAIL_DEFAULT_SENDER", CONF_STR, OFF(mail_default_sender), 3, 320,
	    "parkd@localhost",
	    "From address of the e-mails" },
	{ "PARKD_MAIL_DIR", CONF_STR, OFF(mail_dir), 1, 1024,
	    "/var/lib/parkd/mail",
	    "Folder of the .eml files written when MAIL_SERVER is empty" },
	{ "MAIL_CA_FILE", CONF_STR, OFF(mail_ca_file), 0, 1024, "",
	    "CA certificates (PEM file) that verify the SMTP server; empty: "
	    "the system's" },
	{ "PARKD_MAIL_TIMEOUT_S", CONF_INT, OFF(mail_timeout_s), 1, 60, "30",
	    "Time allowed to send one message, connecting included (the "
	    "connection itself at most 5 s)" },
	{ "EXPORT_FOLDER", CONF_STR, OFF(export_folder), 1, 1024,
	    "/var/lib/parkd/exports",
	    "Folder of the CSV exports" },
	{ "PARKD_EXPORT_RETENTION_DAYS", CONF_INT, OFF(export_retention_days),
	    1, 365, "7",
	    "Days after which export files are deleted" },
	{ "PARKD_EXPORT_LINK_TTL_S", CONF_INT, OFF(export_link_ttl_s), 300,
	    30 * DAY, "604800",
	    "Lifetime of the signed download link of an export, in seconds" },
	{ "PARKD_REMIND_AFTER_DAYS", CONF_INT, OFF(remind_after_days), 1, 365,
	    "3",
	    "Days without a booking after which a user gets a reminder" },
	/* parking */
	{ "PARKD_MAX_ACTIVE_BOOKINGS", CONF_INT, OFF(max_active_bookings), 1,
	    100, "5",
	    "Active reservations one user may hold at once" },
	/* advance reservations (api-contract.md section 4) */
	{ "TIMEZONE", CONF_STR, OFF(timezone), 1, 64, "UTC",
	    "IANA time zone of the site: operating hours and date parameters "
	    "are read in it" },
	{ "PARKD_RESERVATION_GRID_MINUTES", CONF_INT, OFF(resv_grid_min), 1,
	    60, "15",
	    "Windows start and end on this grid, in minutes (dividing 60)" },
	{ "PARKD_RESERVATION_MIN_MINUTES", CONF_INT, OFF(resv_min_min), 1,
	    1440, "30", "Shortest window, in minutes" },
	{ "PARKD_RESERVATION_MAX_MINUTES", CONF_INT, OFF(resv_max_min), 1,
	    10080, "1440", "Longest window, in minutes" },
	{ "PARKD_RESERVATION_MAX_DAYS_AHEAD", CONF_INT, OFF(resv_days_ahead),
	    1, 366, "30", "How many days ahead a window may start" },
	{ "PARKD_RESERVATION_LIMIT", CONF_INT, OFF(resv_limit), 1, 100, "5",
	    "Upcoming reservations one user may hold at once" },
	{ "PARKD_WALKIN_HOLD_MINUTES", CONF_INT, OFF(walkin_hold_min), 15,
	    1440, "240",
	    "How long a walk-in booking holds its spot against reservations, "
	    "in minutes" },
	{ "PARKD_CHECKIN_EARLY_MINUTES", CONF_INT, OFF(checkin_early_min), 0,
	    240, "15",
	    "How early before its start a reservation may check in" },
	{ "PARKD_CHECKIN_GRACE_MINUTES", CONF_INT, OFF(checkin_grace_min), 0,
	    240, "30",
	    "How late after its start a reservation may still check in; "
	    "later it is a no-show" },
	{ "PARKD_NO_SHOW_CHARGE_MINUTES", CONF_INT, OFF(no_show_charge_min),
	    0, 1440, "60",
	    "What a no-show pays, in minutes of the reservation's price" },
	{ "PARKD_RESERVATION_REMINDER_MINUTES", CONF_INT,
	    OFF(resv_reminder_min), 0, 1440, "60",
	    "How long before its start a reservation's reminder e-mail is "
	    "queued; 0: none" },
	{ "PARKD_OVERSTAY_GUARD_MINUTES", CONF_INT, OFF(overstay_guard_min),
	    0, 1440, "30",
	    "A spot occupied now is never given to a window starting within "
	    "this many minutes" },
	/* logging */
	{ "PARKD_LOG_REQUESTS", CONF_BOOL, OFF(log_requests), 0, 1, "on",
	    "Write one log line per request" },
};
const size_t conf_ndefs = sizeof(conf_defs) / sizeof(conf_defs[0]);

/* The largest file read: a settings file is a few kilobytes. */
#define CONF_FILE_MAX (1024 * 1024)

/* The text of one setting while loading, and where it came from. */
struct slot {
	char *text;
	const char *file; /* NULL: default or environment */
	int line;         /* 0 with file NULL: the default; -1: environment */
};

static const char *const secret_words[] = {
	/* Well-known values: samples in tutorials and in the old backend's
	 * .env.example, compared case-insensitively. */
	"change-me", "changeme", "change_me", "secret", "secret-key",
	"secret_key", "secretkey", "your-secret-key", "your_secret_key",
	"jwt-secret", "jwt-secret-key", "jwt_secret_key", "jwt-secret-string",
	"super-secret", "super-secret-key", "supersecret", "supersecretkey",
	"dev-secret-key", "dev-jwt-secret-key", "development", "test",
	"testing", "password", "mysecret", "my-secret-key",
	"your-secret-key-change-in-production",
	"your-jwt-secret-key-change-in-production",
	"your-super-secret-key-change-in-production",
	"your-super-secret-jwt-key-change-in-production",
	"jwt-secret-key-change-in-production",
	"secret-key-change-in-production",
	"change-this-secret-key", "change-this-in-production",
	"please-change-me", "replace-me",
};

/* Parts that mark a sample value whatever surrounds them. */
static const char *const secret_parts[] = {
	"change-in-production", "change_in_production", "changeinproduction",
	"change-me", "change_me", "changeme", "change-this", "change_this",
	"changethis", "replace-me", "replace_me", "your-secret", "your_secret",
	"example",
};

/* Well-known administrator passwords. */
static const char *const admin_words[] = {
	"password", "password1", "password123", "admin123", "admin1234",
	"adminadmin", "administrator", "admin@123", "changeme", "change-me",
	"12345678", "123456789", "1234567890", "qwertyuiop", "letmein1",
	"parkd123", "parking123", "admin12345",
};

/* Appends "; " between problems. */
static void
err_sep(struct buf *err, size_t start)
{
	if (err->len > start)
		buf_puts(err, "; ");
}

/* Appends where a setting's value came from: " (file line N)", ... */
static void
err_where(struct buf *err, const struct slot *sl)
{
	if (sl->file != NULL)
		buf_printf(err, " (%s line %d)", sl->file, sl->line);
	else if (sl->line < 0)
		buf_puts(err, " (environment)");
	else
		buf_puts(err, " (default)");
}

/* Appends the value, quoted and escaped, at most 64 bytes of it; secrets
 * are never shown. */
static void
err_value(struct buf *err, const struct conf_def *d, const char *v)
{
	size_t n = strlen(v);

	if (d->type == CONF_SECRET) {
		buf_puts(err, "the value");
		return;
	}
	buf_putc(err, '"');
	text_escape_log(err, v, n > 64 ? 64 : n);
	if (n > 64)
		buf_puts(err, "...");
	buf_putc(err, '"');
}

/* Starts one problem: "NAME (where): ". */
static void
err_start(struct buf *err, size_t start, const struct conf_def *d,
    const struct slot *sl)
{
	err_sep(err, start);
	buf_puts(err, d->name);
	err_where(err, sl);
	buf_puts(err, ": ");
}

/* The char * field of a CONF_STR or CONF_SECRET row in c. */
static char **
str_field(struct conf *c, const struct conf_def *d)
{
	return (char **)(void *)((char *)c + d->off);
}

/* The int field of a CONF_INT, CONF_BOOL or CONF_MODE row in c. */
static int *
int_field(struct conf *c, const struct conf_def *d)
{
	return (int *)(void *)((char *)c + d->off);
}

/* Finds the row called name; returns it (and its index) or NULL. */
static const struct conf_def *
def_find(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < conf_ndefs; i++)
		if (strcmp(conf_defs[i].name, name) == 0) {
			*idx = i;
			return &conf_defs[i];
		}
	return NULL;
}

/* Parses a whole decimal integer; 0, or -1 on garbage or overflow. */
static int
parse_int(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Parses true/false, yes/no, on/off, 1/0 in any case; returns 0/1, -1. */
static int
parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* Parses 1 to 4 octal digits (0660, 660); returns the mode or -1. */
static int
parse_mode(const char *s)
{
	size_t i, n = strlen(s);
	int v = 0;

	if (n < 1 || n > 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (s[i] - '0');
	}
	return v;
}

/*
 * Converts the text of setting d into c.  Returns 0, or -1 after writing
 * the problem to err.
 */
static int
conf_set(struct conf *c, const struct conf_def *d, const struct slot *sl,
    struct buf *err, size_t start)
{
	const char *v = sl->text;
	size_t n = strlen(v);
	long long i;
	int b;

	switch (d->type) {
	case CONF_STR:
	case CONF_SECRET:
		if (!valid_utf8_text(v, n, 0)) {
			err_start(err, start, d, sl);
			buf_puts(err, "must be UTF-8 text without control "
			    "characters");
			return -1;
		}
		if ((long long)n < d->min || (long long)n > d->max) {
			err_start(err, start, d, sl);
			buf_printf(err, "must be %lld to %lld bytes long, not "
			    "%zu", d->min, d->max, n);
			return -1;
		}
		free(*str_field(c, d));
		*str_field(c, d) = xstrdup(v);
		return 0;
	case CONF_INT:
		if (parse_int(v, &i) != 0) {
			err_start(err, start, d, sl);
			err_value(err, d, v);
			buf_printf(err, " is not an integer; allowed: %lld to "
			    "%lld", d->min, d->max);
			return -1;
		}
		if (i < d->min || i > d->max) {
			err_start(err, start, d, sl);
			err_value(err, d, v);
			buf_printf(err, " is out of range; allowed: %lld to "
			    "%lld", d->min, d->max);
			return -1;
		}
		*int_field(c, d) = (int)i;
		return 0;
	case CONF_BOOL:
		if ((b = parse_bool(v)) < 0) {
			err_start(err, start, d, sl);
			err_value(err, d, v);
			buf_puts(err, " is not a boolean; allowed: true/false, "
			    "yes/no, on/off, 1/0");
			return -1;
		}
		*int_field(c, d) = b;
		return 0;
	case CONF_MODE:
		if ((b = parse_mode(v)) < 0 || b < d->min || b > d->max) {
			err_start(err, start, d, sl);
			err_value(err, d, v);
			buf_printf(err, " is not an octal mode; allowed: "
			    "%04llo to %04llo", (unsigned long long)d->min,
			    (unsigned long long)d->max);
			return -1;
		}
		*int_field(c, d) = b;
		return 0;
	}
	fatal("conf_set: bad type of %s", d->name);
}

/* Writes a problem about the setting called name. */
static void
err_about(struct buf *err, size_t start, const struct slot *slots,
    const char *name)
{
	size_t i;

	if (def_find(name, &i) == NULL)
		fatal("conf: no setting %s", name);
	err_start(err, start, &conf_defs[i], &slots[i]);
}

/* 1 when the setting called name has its default: set neither in the
 * file nor in the environment. */
static int
slot_is_default(const struct slot *slots, const char *name)
{
	size_t i;

	if (def_find(name, &i) == NULL)
		fatal("conf: no setting %s", name);
	return slots[i].file == NULL && slots[i].line == 0;
}

/*
 * Derives db_path from DATABASE_URL as SQLAlchemy reads sqlite URLs:
 * sqlite:///rel/path is relative (to the working directory),
 * sqlite:////abs/path absolute; a postgresql:// (or postgres://) URI is
 * kept whole for libpq.  Only the scheme of another URL is named
 * in a message: the rest may hold a password.  Returns 0 or -1.
 */
static int
conf_db_path(struct conf *c, const struct slot *slots, struct buf *err,
    size_t start)
{
	const char *u = c->database_url, *path;
	size_t n;

	/* A libpq URI is passed on as it is: libpq reads it (db-pg.c). */
	if (db_path_is_pg(u)) {
		free(c->db_path);
		c->db_path = xstrdup(u);
		return 0;
	}
	if (strncmp(u, "sqlite:///", 10) != 0) {
		err_about(err, start, slots, "DATABASE_URL");
		n = strcspn(u, ":");
		if (u[n] != ':' || n == 0 || n > 32) {
			buf_puts(err, "is not a URL; write "
			    "sqlite:////absolute/path.db or postgresql://...");
			return -1;
		}
		buf_puts(err, "scheme \"");
		text_escape_log(err, u, n);
		buf_puts(err, "\" is not supported: write "
		    "sqlite:////absolute/path.db (or sqlite:///relative.db) "
		    "or a postgresql:// URI");
		return -1;
	}
	path = u + 10;
	if (*path == '\0' || strcmp(path, "/") == 0 ||
	    strcmp(path, ":memory:") == 0) {
		err_about(err, start, slots, "DATABASE_URL");
		buf_puts(err, "names no database file (an in-memory database "
		    "is not shared by the workers); write "
		    "sqlite:////absolute/path.db");
		return -1;
	}
	if (strchr(path, '?') != NULL) {
		err_about(err, start, slots, "DATABASE_URL");
		buf_puts(err, "query parameters are not supported");
		return -1;
	}
	free(c->db_path);
	c->db_path = xstrdup(path);
	return 0;
}

/* Overwrites n bytes that held a secret (not optimised away). */
static void
wipe_mem(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* 1 when s starts with http:// or https:// and has a host part. */
/* 1 when every item of a PARKD_METRICS_ALLOW list is an IPv4 or IPv6
 * address, with an optional /prefix length in range. */
static int
metrics_list_ok(const char *list)
{
	unsigned char a[16];
	char one[64], *slash, *end;
	const char *p;
	size_t n;
	long bits;
	int fam;

	for (p = list; *p != '\0'; p += n) {
		p += strspn(p, ", ");
		if ((n = strcspn(p, ", ")) == 0)
			continue;
		if (n >= sizeof one)
			return 0;
		memcpy(one, p, n);
		one[n] = '\0';
		fam = strchr(one, ':') != NULL ? AF_INET6 : AF_INET;
		if ((slash = strchr(one, '/')) != NULL) {
			*slash = '\0';
			if (slash[1] < '0' || slash[1] > '9')
				return 0;
			bits = strtol(slash + 1, &end, 10);
			if (*end != '\0' || bits > (fam == AF_INET6 ? 128 : 32))
				return 0;
		}
		if (inet_pton(fam, one, a) != 1)
			return 0;
	}
	return 1;
}

static int
is_http_url(const char *s, size_t n)
{
	if (n > 7 && strncmp(s, "http://", 7) == 0)
		return 1;
	return n > 8 && strncmp(s, "https://", 8) == 0;
}

/* Checks what one value alone cannot show.  Returns 0 or -1 with err. */
static int
conf_cross(struct conf *c, const struct slot *slots, struct buf *err,
    size_t start)
{
	struct cache_url cu;
	const char *p, *e, *why;
	int rc = 0;
	size_t n;

	if (conf_db_path(c, slots, err, start) != 0)
		rc = -1;
	if ((e = mail_plaintext_refused(c)) != NULL) {
		err_about(err, start, slots, "MAIL_USE_TLS");
		buf_puts(err, e);
		rc = -1;
	}
	/* The message says what is wrong, never echoing the URL: it may
	 * hold a password. */
	if (*c->redis_cache_url != '\0' &&
	    cache_url_parse(c->redis_cache_url, &cu, &why) != 0) {
		err_about(err, start, slots, "REDIS_CACHE_URL");
		buf_printf(err, "%s; write redis://[[user]:password@]host"
		    "[:port][/db] or unix:///path.sock[?db=N] (db 0 to 15), "
		    "or nothing to disable the cache", why);
		rc = -1;
	}
	wipe_mem(&cu, sizeof(cu));
	if (!time_zone_ok(c->timezone)) {
		err_about(err, start, slots, "TIMEZONE");
		buf_puts(err, "must name a zone of the system's time zone "
		    "database, like UTC or Europe/Berlin");
		rc = -1;
	}
	if (60 % c->resv_grid_min != 0 ||
	    c->resv_min_min % c->resv_grid_min != 0 ||
	    c->resv_max_min % c->resv_grid_min != 0 ||
	    c->resv_min_min > c->resv_max_min) {
		err_about(err, start, slots, "PARKD_RESERVATION_GRID_MINUTES");
		buf_puts(err, "must divide 60 and the shortest and longest "
		    "window, and the shortest must not exceed the longest");
		rc = -1;
	}
	if (c->socket_path[0] != '/') {
		err_about(err, start, slots, "PARKD_SOCKET");
		buf_puts(err, "must be an absolute path");
		rc = -1;
	}
	/* Connecting to a unix socket needs write permission: o+w would let
	 * every local user speak FastCGI to the workers (reliability F1). */
	if (c->socket_mode & 0002) {
		err_about(err, start, slots, "PARKD_SOCKET_MODE");
		buf_printf(err, "%04o lets every local user write to the "
		    "socket; use 0660 with PARKD_SOCKET_GROUP", c->socket_mode);
		rc = -1;
	}
	/* The workers: * alone, or http(s) origins. */
	if (strcmp(c->cors_origins, "*") != 0) {
		for (p = c->cors_origins; *p != '\0'; p = e) {
			p += strspn(p, ", ");
			if (*p == '\0')
				break;
			n = strcspn(p, ", ");
			e = p + n;
			if (!is_http_url(p, n) || p[n - 1] == '/') {
				err_about(err, start, slots,
				    "PARKD_CORS_ORIGINS");
				buf_puts(err, "must be * or origins like "
				    "https://app.example.com (no path, no "
				    "trailing /) separated by commas");
				rc = -1;
				break;
			}
		}
	}
	if (!metrics_list_ok(c->metrics_allow)) {
		err_about(err, start, slots, "PARKD_METRICS_ALLOW");
		buf_puts(err, "must be IPv4 or IPv6 addresses or CIDR prefixes "
		    "(127.0.0.1, ::1, 10.0.0.0/8) separated by commas or "
		    "spaces, or empty");
		rc = -1;
	}
	n = strlen(c->backend_url);
	if (!is_http_url(c->backend_url, n) || strchr(c->backend_url, ' ')) {
		err_about(err, start, slots, "BACKEND_URL");
		buf_puts(err, "must be an http:// or https:// URL");
		rc = -1;
	} else {
		/* Links are made as BACKEND_URL + "/api/...". */
		while (n > 0 && c->backend_url[n - 1] == '/')
			c->backend_url[--n] = '\0';
	}
	if (c->scrypt_n & (c->scrypt_n - 1)) {
		err_about(err, start, slots, "PARKD_SCRYPT_N");
		buf_printf(err, "%d is not a power of two; allowed: 16384, "
		    "32768, 65536, 131072 or 262144", c->scrypt_n);
		rc = -1;
	}
	/* scrypt needs 128 x N x r bytes per hash, per concurrent login. */
	if ((long long)c->scrypt_n * c->scrypt_r * 128 > 256LL << 20) {
		err_about(err, start, slots, "PARKD_SCRYPT_R");
		buf_printf(err, "N=%d with r=%d needs %lld MiB per hash; the "
		    "limit is 256 MiB", c->scrypt_n, c->scrypt_r,
		    ((long long)c->scrypt_n * c->scrypt_r * 128) >> 20);
		rc = -1;
	}
	/* The access lifetimes came with #15 (3600 and 604800 s, the old
	 * backend's).  A file written before them may shorten the refresh
	 * lifetimes below those defaults, and was valid: a lifetime left to
	 * its default follows the refresh lifetime down instead of refusing
	 * to start.  Only values set in the file or the environment are
	 * refused below. */
	if (slot_is_default(slots, "JWT_ACCESS_TOKEN_EXPIRES") &&
	    c->jwt_access_ttl_s > c->jwt_refresh_ttl_s)
		c->jwt_access_ttl_s = c->jwt_refresh_ttl_s;
	if (slot_is_default(slots, "PARKD_JWT_ACCESS_REMEMBER_EXPIRES")) {
		if (c->jwt_access_remember_ttl_s >
		    c->jwt_refresh_remember_ttl_s)
			c->jwt_access_remember_ttl_s =
			    c->jwt_refresh_remember_ttl_s;
		if (c->jwt_access_remember_ttl_s < c->jwt_access_ttl_s)
			c->jwt_access_remember_ttl_s = c->jwt_access_ttl_s;
	}
	if (c->jwt_refresh_remember_ttl_s < c->jwt_refresh_ttl_s) {
		err_about(err, start, slots, "PARKD_JWT_REMEMBER_EXPIRES");
		buf_printf(err, "%d is shorter than JWT_REFRESH_TOKEN_EXPIRES "
		    "(%d): remember_me must not shorten a session",
		    c->jwt_refresh_remember_ttl_s, c->jwt_refresh_ttl_s);
		rc = -1;
	}
	if (c->jwt_access_remember_ttl_s < c->jwt_access_ttl_s) {
		err_about(err, start, slots,
		    "PARKD_JWT_ACCESS_REMEMBER_EXPIRES");
		buf_printf(err, "%d is shorter than JWT_ACCESS_TOKEN_EXPIRES "
		    "(%d): remember_me must not shorten a token",
		    c->jwt_access_remember_ttl_s, c->jwt_access_ttl_s);
		rc = -1;
	}
	/* A refresh token outlives the access token it comes with: the
	 * session ends with the refresh token. */
	if (c->jwt_access_ttl_s > c->jwt_refresh_ttl_s) {
		err_about(err, start, slots, "JWT_ACCESS_TOKEN_EXPIRES");
		buf_printf(err, "%d is longer than JWT_REFRESH_TOKEN_EXPIRES "
		    "(%d): an access token would outlive its session",
		    c->jwt_access_ttl_s, c->jwt_refresh_ttl_s);
		rc = -1;
	}
	if (c->jwt_access_remember_ttl_s > c->jwt_refresh_remember_ttl_s) {
		err_about(err, start, slots,
		    "PARKD_JWT_ACCESS_REMEMBER_EXPIRES");
		buf_printf(err, "%d is longer than PARKD_JWT_REMEMBER_EXPIRES "
		    "(%d): an access token would outlive its session",
		    c->jwt_access_remember_ttl_s,
		    c->jwt_refresh_remember_ttl_s);
		rc = -1;
	}
	return rc;
}

/* Removes trailing and leading spaces and tabs of s in place; returns
 * the new start. */
static char *
trim_ws(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* 1 when s is a shell-like name: [A-Za-z_][A-Za-z0-9_]* */
static int
is_key(const char *s)
{
	size_t i;

	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	    *s == '_'))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * Parses the value part of a line (after '=', leading blanks removed) in
 * place into *out.  Double quotes take \" \\ \n \t \r escapes, single
 * quotes nothing; after a closing quote only a comment may follow.  An
 * unquoted value ends at " #" (a comment) and is trimmed.  Returns NULL or
 * the problem.
 */
static const char *
parse_value(char *v, char **out)
{
	char *r, *w, q;

	if (*v != '"' && *v != '\'') {
		for (r = v; *r != '\0'; r++)
			if (*r == '#' && r > v &&
			    (r[-1] == ' ' || r[-1] == '\t')) {
				*r = '\0';
				break;
			}
		*out = trim_ws(v);
		return NULL;
	}
	q = *v;
	for (r = w = v + 1; *r != q; r++) {
		if (*r == '\0')
			return "the quote is not closed";
		if (q == '"' && *r == '\\' && r[1] != '\0') {
			switch (*++r) {
			case 'n':
				*w++ = '\n';
				continue;
			case 't':
				*w++ = '\t';
				continue;
			case 'r':
				*w++ = '\r';
				continue;
			case '"':
			case '\\':
				*w++ = *r;
				continue;
			default:
				/* Unknown escapes stay as written, as in
				 * python-dotenv. */
				*w++ = '\\';
				*w++ = *r;
				continue;
			}
		}
		*w++ = *r;
	}
	*w = '\0';
	r = trim_ws(r + 1);
	if (*r != '\0' && *r != '#')
		return "text after the closing quote";
	*out = v + 1;
	return NULL;
}

/*
 * Reads the KEY=value file into the slots.  Returns 0, or -1 with err.
 * Unknown keys are logged and skipped: an old .env has Flask-only ones.
 */
static int
conf_read_file(const char *file, struct slot *slots, struct buf *err,
    size_t start)
{
	FILE *f;
	struct buf text = { 0 };
	char chunk[4096], *line, *next, *eq, *key, *val;
	const char *bad;
	size_t n, idx;
	int lineno = 0, rc = 0;

	if ((f = fopen(file, "r")) == NULL) {
		err_sep(err, start);
		buf_printf(err, "cannot open %s: %s", file, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_add(&text, chunk, n);
		if (text.len > CONF_FILE_MAX)
			break;
	}
	if (ferror(f) || text.len > CONF_FILE_MAX) {
		err_sep(err, start);
		buf_printf(err, "%s: %s", file, ferror(f) ? strerror(errno) :
		    "larger than 1 MiB, not a settings file");
		fclose(f);
		buf_free(&text);
		return -1;
	}
	fclose(f);
	if (text.p == NULL || memchr(text.p, '\0', text.len) != NULL) {
		if (text.p != NULL) {
			err_sep(err, start);
			buf_printf(err, "%s: holds a NUL byte, not a settings "
			    "file", file);
			rc = -1;
		}
		buf_free(&text);
		return rc;
	}

	for (line = text.p; line != NULL && rc == 0; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\r') /* CRLF */
			line[--n] = '\0';
		line = trim_ws(line);
		if (*line == '\0' || *line == '#')
			continue;
		if (strncmp(line, "export", 6) == 0 &&
		    (line[6] == ' ' || line[6] == '\t'))
			line = trim_ws(line + 7);
		if ((eq = strchr(line, '=')) == NULL) {
			err_sep(err, start);
			buf_printf(err, "%s line %d: expected KEY=value", file,
			    lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim_ws(line);
		if (!is_key(key)) {
			err_sep(err, start);
			buf_printf(err, "%s line %d: \"", file, lineno);
			text_escape_log(err, key, strlen(key) > 64 ? 64 :
			    strlen(key));
			buf_puts(err, "\" is not a valid setting name");
			rc = -1;
			break;
		}
		if ((bad = parse_value(trim_ws(eq + 1), &val)) != NULL) {
			err_sep(err, start);
			buf_printf(err, "%s line %d: %s: %s", file, lineno, key,
			    bad);
			rc = -1;
			break;
		}
		if (def_find(key, &idx) == NULL) {
			log_msg(LOG_WARN, "%s line %d: unknown setting %s "
			    "ignored", file, lineno, key);
			continue;
		}
		free(slots[idx].text);
		slots[idx].text = xstrdup(val);
		slots[idx].file = file;
		slots[idx].line = lineno;
	}
	/* The text may hold secrets: do not leave them in freed memory. */
	if (text.p != NULL)
		memset(text.p, 0, text.cap);
	buf_free(&text);
	return rc;
}

/* Frees a string that may hold a secret, wiping it first. */
static void
free_wiped(char *s)
{
	volatile char *p = s;

	if (s == NULL)
		return;
	while (*p != '\0')
		*p++ = '\0';
	free(s);
}

/* Frees the loading slots, wiping the texts (some are secrets). */
static void
slots_free(struct slot *slots)
{
	size_t i;

	for (i = 0; i < conf_ndefs; i++)
		free_wiped(slots[i].text);
	free(slots);
}

int
conf_load(struct conf *out, const char *file, int env, struct buf *err)
{
	struct slot *slots;
	const char *v;
	size_t i, start = err->len;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	slots = xcalloc(conf_ndefs, sizeof(*slots));
	for (i = 0; i < conf_ndefs; i++)
		slots[i].text = xstrdup(conf_defs[i].def);
	if (file != NULL && conf_read_file(file, slots, err, start) != 0) {
		slots_free(slots);
		return -1;
	}
	if (env) {
		for (i = 0; i < conf_ndefs; i++) {
			if ((v = getenv(conf_defs[i].name)) == NULL)
				continue;
			free_wiped(slots[i].text);
			slots[i].text = xstrdup(v);
			slots[i].file = NULL;
			slots[i].line = -1;
		}
	}
	for (i = 0; i < conf_ndefs; i++)
		if (conf_set(out, &conf_defs[i], &slots[i], err, start) != 0)
			rc = -1;
	if (rc == 0 && conf_cross(out, slots, err, start) != 0)
		rc = -1;
	slots_free(slots);
	if (rc != 0)
		conf_free(out);
	return rc;
}

/* 1 when s is a sample value: in the list, or holding a sample part. */
static int
secret_well_known(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++)
		if (strcasecmp(s, secret_words[i]) == 0)
			return 1;
	for (i = 0; i < sizeof(secret_parts) / sizeof(secret_parts[0]); i++)
		if (strcasestr(s, secret_parts[i]) != NULL)
			return 1;
	return 0;
}

/* The number of distinct bytes of s. */
static int
distinct_bytes(const char *s)
{
	unsigned char seen[256];
	int n = 0;

	memset(seen, 0, sizeof(seen));
	for (; *s != '\0'; s++)
		if (!seen[(unsigned char)*s]++)
			n++;
	return n;
}

/*
 * Checks one HMAC secret (RFC 7518 3.2: at least 256 bits, random).
 * required: whether an empty value is an error.  Returns 0 or -1 with err;
 * the message names the setting, never the value.
 */
static int
check_secret(const char *name, const char *s, int required,
    struct buf *err, size_t start)
{
	static const char how[] = "generate one with: openssl rand -hex 32";
	size_t n = strlen(s);

	if (n == 0) {
		if (!required)
			return 0;
		err_sep(err, start);
		buf_printf(err, "%s is not set: parkd refuses to sign tokens "
		    "without a key; %s", name, how);
		return -1;
	}
	if (secret_well_known(s)) {
		err_sep(err, start);
		buf_printf(err, "%s is a well-known sample value that anyone "
		    "can use to forge tokens; %s", name, how);
		return -1;
	}
	if (n < 32) {
		err_sep(err, start);
		buf_printf(err, "%s is too short (%zu bytes; at least 32 are "
		    "needed); %s", name, n, how);
		return -1;
	}
	if (distinct_bytes(s) < 8) {
		err_sep(err, start);
		buf_printf(err, "%s is not random (fewer than 8 distinct "
		    "characters); %s", name, how);
		return -1;
	}
	return 0;
}

/* The number of characters (code points) of valid UTF-8 text. */
static size_t
chars(const char *s)
{
	size_t i = 0, n = 0, len = strlen(s);

	while (i < len && utf8_next(s, len, &i) >= 0)
		n++;
	return n;
}

/* A rough check of an address in a setting: one @, no blanks or
 * controls, something on both sides. */
static int
plain_address(const char *s)
{
	const char *at = strchr(s, '@');
	size_t i;

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= ' ' || strchr("<>\"(),;:\\[]",
		    s[i]) != NULL)
			return 0;
	return strchr(at + 1, '.') != NULL;
}

int
conf_check_server(const struct conf *c, struct buf *err)
{
	const char *h = c->admin_password_hash, *pw = c->admin_password;
	struct pw_params pp;
	size_t i, start = err->len;
	int rc = 0;

	if (check_secret("JWT_SECRET_KEY", c->jwt_secret_key ?
	    c->jwt_secret_key : "", 1, err, start) != 0)
		rc = -1;
	if (check_secret("SECRET_KEY", c->secret_key ? c->secret_key : "", 0,
	    err, start) != 0)
		rc = -1;
	if (c->admin_email == NULL || *c->admin_email == '\0') {
		err_sep(err, start);
		buf_puts(err, "ADMIN_EMAIL is not set: the administrator logs "
		    "in with it; set it to an address you read");
		rc = -1;
	} else if (!plain_address(c->admin_email)) {
		err_sep(err, start);
		buf_puts(err, "ADMIN_EMAIL is not an e-mail address");
		rc = -1;
	}
	if (h == NULL)
		h = "";
	if (pw == NULL)
		pw = "";
	if (*h != '\0') {
		/* What pw_verify() would refuse at every login: say it now
		 * rather than leave the administrator locked out. */
		if (pw_parse(h, &pp) != 0) {
			err_sep(err, start);
			buf_puts(err, "ADMIN_PASSWORD_HASH is not a werkzeug "
			    "hash within parkd's limits (scrypt:N:r:p$salt$hex "
			    "or pbkdf2:sha256:iterations$salt$hex); make one "
			    "with: parkctl hash-password");
			rc = -1;
		}
	} else if (*pw == '\0') {
		err_sep(err, start);
		buf_puts(err, "neither ADMIN_PASSWORD_HASH nor ADMIN_PASSWORD "
		    "is set: the administrator could not log in; set "
		    "ADMIN_PASSWORD_HASH (made with: parkctl hash-password)");
		rc = -1;
	} else {
		if (!valid_utf8_text(pw, strlen(pw), 0) || chars(pw) < 8) {
			err_sep(err, start);
			buf_puts(err, "ADMIN_PASSWORD is too short (at least 8 "
			    "characters); better, set ADMIN_PASSWORD_HASH");
			rc = -1;
		} else {
			for (i = 0; i < sizeof(admin_words) /
			    sizeof(admin_words[0]); i++)
				if (strcasecmp(pw, admin_words[i]) == 0)
					break;
			if (i < sizeof(admin_words) / sizeof(admin_words[0]) ||
			    distinct_bytes(pw) < 4) {
				err_sep(err, start);
				buf_puts(err, "ADMIN_PASSWORD is a well-known "
				    "or trivial password; choose another");
				rc = -1;
			}
		}
	}
	return rc;
}

void
conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < conf_ndefs; i++)
		if (conf_defs[i].type == CONF_STR ||
		    conf_defs[i].type == CONF_SECRET)
			free_wiped(*str_field(c, &conf_defs[i]));
	free(c->db_path);
	memset(c, 0, sizeof(*c));
}
