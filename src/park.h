/*
 * park.h: the types every part of parkd shares, and the prototypes of each
 * file, grouped by the file that defines them.
 *
 * Ownership rules (see STYLE.md):
 * - struct buf owns its bytes; buf_free() releases them.
 * - struct pool owns every allocation made from it; pool_reset() frees them
 *   all at once.  A request owns one pool: everything a handler allocates for
 *   a request comes from req->pool and dies with the request.
 * - Strings in struct req point into the request's pool (fcgi.c copies the
 *   FastCGI parameters there: libfcgi frees its own before the log line).
 * - x*() allocators never return NULL: they abort on exhaustion.
 *
 * No external library header is included here: each library is wrapped by
 * one file of ours (json.c, db*.c, cache.c, crypto.c, token.c, mail.c,
 * fcgi.c) and only that file includes it.
 */
#ifndef PARK_H
#define PARK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sys/types.h>

#if defined(__GNUC__)
#define PARK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PARK_NORETURN __attribute__((noreturn))
#else
#define PARK_PRINTF(a, b)
#define PARK_NORETURN
#endif

#define PARK_NAME "parkd"

/* Who a caller is. */
enum role { ROLE_NONE, ROLE_USER, ROLE_ADMIN };

/* ---- util.c: memory, buffers, pools, time, text ---- */

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);
void fatal(const char *, ...) PARK_PRINTF(1, 2) PARK_NORETURN;

/* A growable byte string, always NUL-terminated when p != NULL. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};

void buf_add(struct buf *, const void *, size_t);
void buf_puts(struct buf *, const char *);
void buf_putc(struct buf *, char);
void buf_printf(struct buf *, const char *, ...) PARK_PRINTF(2, 3);
void buf_vprintf(struct buf *, const char *, va_list);
/* Appends the decimal digits of v (no printf: it is on hot paths). */
void buf_uint(struct buf *, unsigned long long);
void buf_reset(struct buf *); /* keeps the memory */
void buf_free(struct buf *);

/* An arena: many allocations, one free. */
struct pool_block;
struct pool {
	struct pool_block *head;
	size_t used; /* bytes handed out, for the RSS checks in tests */
};

void *pool_alloc(struct pool *, size_t);  /* zeroed, 16-aligned */
char *pool_strdup(struct pool *, const char *);
char *pool_strndup(struct pool *, const char *, size_t);
char *pool_printf(struct pool *, const char *, ...) PARK_PRINTF(2, 3);
void pool_reset(struct pool *); /* frees everything but one block */
void pool_free(struct pool *);

/* The wall clock, in seconds since the epoch.  Tests may set PARKD_FAKE_NOW. */
int64_t park_now(void);
/* Monotonic milliseconds, for durations. */
int64_t park_ms(void);
/* getpid() without its system call (kept, and set again after fork()). */
pid_t park_pid(void);
/* "2026-11-26T12:45:04Z" into out (at least 21 bytes).  Returns out. */
char *time_iso(int64_t, char *out);
/* t as "2026-11-26 13:45 CET" in the site's zone (TIMEZONE) into out of
 * cap bytes (at least 32).  Returns out. */
char *time_local_text(int64_t, char *out, size_t cap);
/* Parses the ISO form above (or a plain date YYYY-MM-DD); -1 on error. */
int64_t time_parse_iso(const char *);
/* RFC 3339 with Z or an offset, into UTC seconds; -1 when not.  *frac:
 * the time had a non-zero part of a second. */
int64_t time_parse_rfc3339(const char *, int *frac);
/* 1 when name is UTC or a zone of the system's database (TZDIR). */
int time_zone_ok(const char *name);
/* Makes name the zone of localtime_r() and mktime() (once, at start). */
void time_zone_set(const char *name);
/* The instant of minute (of the day) on y-mo-d in the site's zone; days
 * past the month's end roll over (d + 1 is the next day).  A time the
 * autumn change repeats is its first occurrence (summer time); one in
 * the gap of the spring change moves on by the gap. */
int64_t time_local(int y, int mo, int d, int minute);
/* YYYY-MM-DD into its parts; 0, or -1 when not a date. */
int time_parse_date(const char *, int *y, int *mo, int *d);
/* The opening period of lot hours open-close ("HH:MM", NULL: always open)
 * that starts on the local day y-mo-d, as [*from, *to) in UTC. */
void time_hours_of_day(const char *open, const char *close, int y, int mo,
    int d, int64_t *from, int64_t *to);
/* 1 when [s, e) lies inside one opening period of the hours open-close
 * (always, without hours). */
int time_in_hours(const char *open, const char *close, int64_t s, int64_t e);

/* Appends s with control characters and quotes escaped for a log line. */
void text_escape_log(struct buf *, const char *, size_t);
/* The same, and every byte from 0x80 as \xNN too: pure printable ASCII,
 * for text anyone may send (invalid UTF-8, U+2028, C1 controls). */
void text_escape_ascii(struct buf *, const char *, size_t);
/* The value of the hex digit c (either case), or -1. */
int hex_value(int c);
/* The group a client address is counted in by parkd's login limits: an
 * IPv4 address itself (also when IPv4-mapped), an IPv6 address its /64
 * ("2001:db8:1:2::/64"); "-" for none.  In p, or addr itself. */
const char *addr_group(struct pool *, const char *addr);

/* ---- crypto.c: the one file that includes OpenSSL ---- */

/* Fills the buffer with random bytes; aborts if the RNG fails. */
void rand_bytes(void *, size_t);
/* Writes 2n lowercase hex characters plus NUL of n random bytes into out. */
void rand_hex(char *out, size_t n);
/* Constant-time comparison of two equal-length buffers; 0 when equal. */
int ct_memcmp(const void *, const void *, size_t);
/* SHA-256 of the input into out[32]. */
void sha256(const void *, size_t, unsigned char out[32]);
/* HMAC-SHA-256 of the input with key into out[32]. */
void hmac_sha256(const void *key, size_t keylen, const void *, size_t,
    unsigned char out[32]);
/*
 * An HMAC-SHA-256 key prepared once for many messages (the cache's tags).
 * hmac_key_new() returns NULL when OpenSSL refuses; hmac_key_sign2() MACs
 * the concatenation of a and b into out[32] and returns 0, or -1.
 */
struct hmac_key;
struct hmac_key *hmac_key_new(const void *key, size_t keylen);
void hmac_key_free(struct hmac_key *);
int hmac_key_sign2(struct hmac_key *, const void *a, size_t an,
    const void *b, size_t bn, unsigned char out[32]);
/* scrypt and PBKDF2 ("sha256" or "sha512") key derivation; the salt is used
 * as its bytes (werkzeug's way).  Return 0, or -1 when OpenSSL refuses. */
int kdf_scrypt(const char *pw, size_t pwlen, const char *salt, size_t saltlen,
    uint64_t n, uint64_t r, uint64_t p, unsigned char *out, size_t outlen);
int kdf_pbkdf2(const char *digest, const char *pw, size_t pwlen,
    const char *salt, size_t saltlen, int iter, unsigned char *out,
    size_t outlen);

/* ---- pw.c: password hashes in werkzeug's format ---- */

enum pw_kind { PW_SCRYPT = 1, PW_PBKDF2 };

/* A parsed stored hash; pointers point into the stored text. */
struct pw_params {
	enum pw_kind kind;
	uint64_t n, r, p; /* scrypt */
	uint64_t iter;    /* pbkdf2 */
	const char *digest;
	const char *salt, *hex;
	size_t saltlen, hexlen, dklen;
};

/* Parses and caps a stored hash; 0, or -1 when malformed or over the caps
 * (short forms without parameters and legacy "sha256$" are refused). */
int pw_parse(const char *stored, struct pw_params *);
/* 1 when pw matches the stored hash, else 0; a malformed hash costs the
 * time of one policy verification too (pw_dummy()), so that no account
 * answers faster.  *rehash (may be NULL) is set when the hash is below
 * the policy. */
int pw_verify(const char *pw, size_t len, const char *stored, int *rehash);
/* Hashes pw with the policy into out; 0 or -1. */
int pw_hash(const char *pw, size_t len, struct buf *out);
/* Spends the time a verification at the policy costs, for unknown users
 * (a dummy hash of the policy's parameters, made without hashing). */
void pw_dummy(const char *pw, size_t len);

/*
 * The hash gate, bounding concurrent password hashes on the host
 * (PARKD_HASH_CONCURRENCY).  pw_gate_init(): the supervisor, before it
 * forks; 0 or -1.  pw_gate_enter(): a worker, before it hashes; 0 (also
 * without a gate, e.g. parkctl), or -1 at once when every slot is taken
 * (answer 503; a worker never waits for a slot).  pw_gate_leave(): the front line after every
 * handler.  pw_gate_reap(): the supervisor, for each worker it reaps;
 * returns the slots it freed.  pw_gate_overdue(): the supervisor; the pid
 * of a worker holding a slot for more than max_ms (stopped, stuck),
 * looking from slot from on, *next where to look on; 0 when none.
 */
int pw_gate_init(void);
int pw_gate_held(void); /* the slots held now (GET /metrics) */
int pw_gate_enter(void);
void pw_gate_leave(void);
int pw_gate_reap(pid_t);
pid_t pw_gate_overdue(int64_t max_ms, int from, int *next);

/* ---- token.c: HS256 JWTs (libjwt) ---- */

enum { TOK_ACCESS = 1, TOK_REFRESH = 2 };
enum tokerr { TOK_OK, TOK_INVALID, TOK_EXPIRED };

struct token {
	int type;
	enum role role;
	char sub[24];     /* the user id, or "admin" */
	int64_t user_id;  /* 0 for the admin */
	char jti[33];
	char sid[33];
	int64_t iat, nbf, exp;
	char username[81]; /* access tokens */
	char email[255];
};

/* Signs the claims of t (its type picks the key) into out; 0 or -1. */
int token_issue(const struct token *, struct buf *out);
/* Verifies a token of the given type and every claim; fills t on TOK_OK.
 * Scratch memory comes from pool. */
enum tokerr token_verify(const char *, size_t, int type, struct token *,
    struct pool *);
/* Forgets the verifications token_verify() remembers (tests; a key
 * change).  Workers start with none. */
void token_cache_clear(void);
/* How many token_verify() calls this process did in full (cache misses
 * that reached the signature check). */
unsigned long token_full_verifications(void);

/* ---- conf.c: the settings table ---- */

enum conf_type {
	CONF_STR,    /* any text */
	CONF_SECRET, /* text never printed */
	CONF_INT,    /* integer within [min, max] */
	CONF_BOOL,   /* true/false, 1/0, yes/no, on/off */
	CONF_MODE,   /* octal file mode */
};

/* Every setting parkd and parkctl read.  See conf.c for the table. */
struct conf {
	/* secrets and the admin */
	char *secret_key;
	char *jwt_secret_key;
	char *admin_email;
	char *admin_password;
	char *admin_password_hash;
	char *admin_name;
	/* storage */
	char *database_url; /* sqlite:///path or postgresql://... */
	char *db_path;      /* derived from database_url (a URI kept) */
	int db_busy_timeout_ms;
	int db_synchronous_full;
	int db_max_pages;   /* PRAGMA max_page_count; 0: SQLite's own */
	int db_checkpoint_pages; /* RESTART checkpoint past it; 0: SQLite's */
	int pg_statement_timeout_ms; /* PostgreSQL's statement_timeout */
	char *redis_cache_url; /* cache_url_parse()'s forms; "" disables */
	int redis_timeout_ms;
	int redis_breaker_s;
	int cache_ttl_s;
	int memo_kb;        /* memo.c's budget per worker; 0: no memo */
	/* the server */
	char *socket_path;
	int socket_mode;
	char *socket_group;
	int workers;
	int worker_max_requests;
	int max_body;
	char *cors_origins;
	char *metrics_allow; /* GET /metrics: addresses, CIDRs; "": off */
	char *backend_url;
	/* tokens and passwords */
	char *jwt_issuer;
	int jwt_access_ttl_s;
	int jwt_access_remember_ttl_s; /* a session with remember_me */
	int jwt_refresh_ttl_s;
	int jwt_refresh_remember_ttl_s;
	int refresh_leeway_s; /* a just-rotated token refreshes again */
	int hash_concurrency; /* 0: half the workers */
	int hash_hold_max_s; /* then the supervisor kills the holder */
	int scrypt_n;
	int scrypt_r;
	int scrypt_p;
	int login_max_failures; /* per account and client address */
	int login_window_s;
	int login_account_max_failures; /* then one attempt per slow_s */
	int login_slow_s;
	int login_addr_max_failures; /* one address, every account */
	/* account recovery (recovery.c) */
	int reset_token_ttl_s;
	int verify_token_ttl_s;
	int recovery_max_requests; /* per address asked about, per window */
	int recovery_window_s;
	int require_email_verification;
	/* mail and exports */
	char *mail_server;
	int mail_port;
	int mail_use_tls;
	int mail_use_ssl;
	int mail_allow_plaintext; /* SMTP in clear to a host not loopback */
	char *mail_username;
	char *mail_password;
	char *mail_default_sender;
	char *mail_dir;
	char *mail_ca_file;  /* "" : the system's CA store */
	int mail_timeout_s;  /* one message, connection included */
	char *export_folder;
	int export_retention_days;
	int export_link_ttl_s;
	int remind_after_days;
	/* parking */
	int max_active_bookings;
	/* advance reservations (minutes unless said) */
	char *timezone;
	int resv_grid_min, resv_min_min, resv_max_min, resv_days_ahead;
	int resv_limit, walkin_hold_min, checkin_early_min, checkin_grace_min;
	int no_show_charge_min, resv_reminder_min, overstay_guard_min;
	/* logging */
	int log_requests;
};

/* One row of the settings table, exported for the man-page test. */
struct conf_def {
	const char *name;
	enum conf_type type;
	size_t off;
	long long min, max;
	const char *def;
	const char *help;
};

extern const struct conf_def conf_defs[];
extern const size_t conf_ndefs;
extern struct conf conf; /* the settings in force in this process */

/*
 * Loads defaults, then the file (if non-NULL), then the environment
 * (if env != 0), then checks every value.  Returns 0, or -1 with a message
 * of what is wrong in err.  On success *out holds the settings; the caller
 * frees them with conf_free().
 */
int conf_load(struct conf *out, const char *file, int env, struct buf *err);
/* Checks what only the server needs (the JWT secret); 0 or -1 with err. */
int conf_check_server(const struct conf *, struct buf *err);
void conf_free(struct conf *);

/* ---- log.c ---- */

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };
void log_init(const char *prog);
/* Formats a message; control characters in it are escaped. */
void log_msg(enum log_level, const char *, ...) PARK_PRINTF(2, 3);
/* Writes a line whose caller already escaped every part it took from input
 * (front.c's request line). */
void log_raw(enum log_level, const char *, size_t);

/* ---- json.c: strict parsing (json-c) and our own writer ---- */

/* Kinds of value a route's input table can ask for. */
enum ftype {
	FT_STR,   /* a string; min/max bound its length in bytes */
	FT_INT,   /* an integer (JSON number without fraction or digit string in
	             a query); min/max bound the value */
	FT_BOOL,  /* true or false */
	FT_MONEY, /* a number with at most 2 decimals, into cents; min/max in
	             cents */
};

/* Where a field comes from. */
enum fsrc {
	FS_BODY,  /* the JSON body */
	FS_QUERY, /* the query string */
};

struct req;

/* A validator refines and checks a value after its type is known.  It may
 * rewrite the string (normalise); it returns NULL or the problem text. */
typedef const char *(*validator_fn)(struct req *, char **s, size_t *len);

struct field {
	const char *name;
	enum ftype type;
	enum fsrc src;
	int required;
	long long min, max;
	validator_fn valid;
	int nullable; /* JSON null is accepted as "not given" */
};

#define MAX_FIELDS 16

/* A typed input value, indexed like the route's field table. */
struct val {
	int set;
	int null;    /* a nullable field was given as null */
	long long i; /* FT_INT, FT_MONEY (cents), FT_BOOL (0/1) */
	char *s;     /* FT_STR, NUL-terminated, no embedded NUL */
	size_t len;
};

/*
 * Parses the request body strictly (depth, UTF-8, no trailing bytes, no NaN,
 * no single quotes) and fills req->in[] from it according to fields.
 * Unknown keys are ignored (never read, so they cannot take effect) and
 * their names logged by front_log_ignored().  Returns 0, or -1 after
 * recording the problems in resp (400 VALIDATION with details).
 */
struct resp;
int json_parse_body(struct req *, const struct field *, size_t nfields,
    struct resp *);

/*
 * Parses a flat JSON object strictly into out[] per fields (their src is
 * ignored; no validators run).  Unknown keys, wrong types, out-of-range
 * values and missing required fields all give -1; 0 on success.  Strings
 * are copied into pool.
 */
int json_parse_flat(const char *, size_t, const struct field *, size_t,
    struct val *out, struct pool *);

/* Strictly parses text into a throw-away validity check: 0 when it is one
 * well-formed JSON value; used by tests and the fuzzers. */
int json_check(const char *, size_t);

/*
 * The writer appends JSON to a buf.  Each call takes the member name when the
 * current container is an object (key != NULL) and NULL inside an array.
 */
struct jw {
	struct buf *b;
	int depth;
	unsigned char first[32];
};

void jw_init(struct jw *, struct buf *);
void jw_obj(struct jw *, const char *key);
void jw_obj_end(struct jw *);
void jw_arr(struct jw *, const char *key);
void jw_arr_end(struct jw *);
void jw_str(struct jw *, const char *key, const char *); /* NULL: null */
void jw_strn(struct jw *, const char *key, const char *, size_t);
void jw_int(struct jw *, const char *key, long long);
void jw_bool(struct jw *, const char *key, int);
void jw_null(struct jw *, const char *key);
/* Always with a decimal point: "30.0", "25.5", "0.05". */
void jw_money(struct jw *, const char *key, long long cents);
void jw_time(struct jw *, const char *key, int64_t); /* 0: null */
/* Appends a ready JSON text (e.g. from the cache) as one value. */
void jw_raw(struct jw *, const char *key, const char *, size_t);
/* Appends s as a JSON string literal (with quotes) to b. */
void json_quote(struct buf *, const char *, size_t);

/* ---- valid.c: pure validators (no I/O, no allocation but the pool) ---- */

const char *valid_username(struct req *, char **, size_t *);
const char *valid_email(struct req *, char **, size_t *);
const char *valid_password(struct req *, char **, size_t *);
const char *valid_phone(struct req *, char **, size_t *);
const char *valid_lot_name(struct req *, char **, size_t *);
const char *valid_address(struct req *, char **, size_t *);
const char *valid_pin_code(struct req *, char **, size_t *);
const char *valid_hhmm(struct req *, char **, size_t *);
const char *valid_vehicle(struct req *, char **, size_t *);
const char *valid_resv_status(struct req *, char **, size_t *);
const char *valid_iso_time(struct req *, char **, size_t *);
const char *valid_window_time(struct req *, char **, size_t *);
const char *valid_date(struct req *, char **, size_t *);
const char *valid_truth(struct req *, char **, size_t *);
const char *valid_token_id(struct req *, char **, size_t *);
/* 1 when s (len bytes) is valid UTF-8 without NUL or C0 controls other than
 * those allowed by allow_nl (LF, CR and TAB). */
int valid_utf8_text(const char *, size_t, int allow_nl);
/* Decodes the strict UTF-8 sequence at s[*i] (of len bytes) and advances *i
 * past it.  Returns the code point, or -1 (overlong, surrogate, > U+10FFFF,
 * truncated) without moving *i. */
long utf8_next(const char *, size_t len, size_t *i);

/* ---- http.c: requests, responses, the one writer ---- */

enum method {
	M_GET = 1 << 0,
	M_POST = 1 << 1,
	M_PUT = 1 << 2,
	M_DELETE = 1 << 3,
	M_PATCH = 1 << 4,
	M_OPTIONS = 1 << 5,
	M_HEAD = 1 << 6,
	M_OTHER = 1 << 7,
};

/* Who may call a route: the role column of the route table. */
enum access {
	AC_ANON,    /* anyone; a token, if sent, is ignored */
	AC_REFRESH, /* a valid refresh token */
	AC_AUTH,    /* any valid access token (user or admin) */
	AC_USER,    /* an access token of role user */
	AC_ADMIN,   /* an access token of role admin */
	AC_LINK,    /* an access token of role user, or, with no
	               Authorization header, a signed link token in the query
	               (?token=) for the route's {s}: an export file (see
	               exports.c); the caller is then the file's owner */
};

/* What the front line learnt about the caller. */
struct caller {
	enum role role;
	int64_t user_id; /* 0 for the admin and anonymous callers */
	char sid[33];    /* login session id, "" when anonymous */
	char jti[33];
	char username[81];
	char email[255];
	int by_link;     /* AC_LINK: a signed link, not a token, named it */
};

struct route;

struct req {
	struct pool pool;
	enum method method;
	const char *method_str;
	const char *path;  /* decoded path, without the query */
	const char *query; /* raw query string, "" when none */
	const char *content_type;
	long long content_length; /* -1 when not given */
	const char *authorization;
	const char *origin;
	const char *remote_addr;
	const char *user_agent;
	char reqid[33];
	int64_t started_ms;

	char *body; /* NUL-terminated; NULL when none */
	size_t bodylen;
	int body_too_large; /* the reader stopped at the cap */

	const struct route *route;
	long long pid[2];   /* integer path parameters, in order */
	const char *pstr[2]; /* string path parameters, in order */
	struct val in[MAX_FIELDS];
	struct caller who;
	/* db_data_version() right after the front line's session check
	 * (0: none ran): the snapshot this request's caller was checked in,
	 * which a handler may answer from with a memo of that version. */
	uint64_t snap;
};

/* An extra response header; name and value are not copied. */
struct header {
	const char *name;
	const char *value;
};

#define MAX_HEADERS 8
#define MAX_DETAILS 32

/* One problem with one input field, for the "details" of an error. */
struct detail {
	const char *field;   /* not copied: static or the request's pool */
	const char *problem; /* idem */
};

struct resp {
	int status;
	const char *code;    /* error code, NULL on success */
	const char *message; /* success message or error text */
	struct buf data;     /* JSON text of "data"; empty: left out */
	struct detail det[MAX_DETAILS];
	size_t ndet;
	struct buf raw;      /* a non-JSON body (with raw_type) */
	const char *raw_type;
	struct header hdr[MAX_HEADERS];
	size_t nhdr;
	int no_body; /* 204, or an X-Accel-Redirect hand-off */
};

void req_init(struct req *);
void req_reset(struct req *); /* frees what the request owned */
void resp_init(struct resp *);
void resp_reset(struct resp *);
void resp_free(struct resp *);
void resp_header(struct resp *, const char *name, const char *value);
/* Sets an error status, stable code and human text. */
void resp_error(struct resp *, int status, const char *code, const char *text);
/* Adds one problem for a field to the details of a 400 (or 409). */
void resp_detail(struct resp *, const char *field, const char *problem);
/* Starts the "data" member: returns a writer on it.  message may be NULL. */
void resp_ok(struct resp *, const char *message, struct jw *);
/* The HTTP status text, e.g. "Not Found". */
const char *http_status_text(int);
/*
 * The one response writer: renders status line (as a CGI "Status:" header),
 * headers (request id, security headers, CORS, content type), and the body
 * envelope into out.  HEAD requests get no body.
 */
void http_render(const struct req *, struct resp *, struct buf *out);
/* Returns the method bit for a method name, M_OTHER when unknown. */
enum method http_method(const char *);
/* Finds name in the query string; returns its decoded value in the pool,
 * NULL when absent. */
char *http_query_get(struct req *, const char *name);
/* Percent-decodes src into the pool; NULL when it holds %00 or bad escapes. */
char *http_pct_decode(struct pool *, const char *, size_t);

/* ---- routes.c: THE route table ---- */

typedef void (*handler_fn)(struct req *, struct resp *);

struct route {
	enum method method;
	const char *pattern; /* "/api/admin/pkl/{id}"; {id}: integer, {s}: text */
	enum access access;
	handler_fn handler;
	const struct field *fields;
	size_t nfields;
	const char *summary; /* one line, for docs/openapi.yaml and GET / */
	/* 1: open to a user whose address is unverified while
	 * REQUIRE_EMAIL_VERIFICATION is on (the routes that get it verified
	 * or fixed, or end the session) */
	int unverified_ok;
};

extern const struct route routes[];
extern const size_t nroutes;

enum match {
	MATCH_OK,
	MATCH_NOT_FOUND,
	MATCH_BAD_METHOD, /* *allow holds the methods the path takes */
};
/* Finds the route of method+path; fills req->pid/pstr. */
enum match route_match(struct req *, enum method, const char *path,
    unsigned *allow);
/* Matches one pattern against a path, filling req->pid/pstr; 1 or 0. */
int route_pattern_match(struct req *, const char *pattern, const char *path);
/* Writes "GET, POST, OPTIONS" for the method bits in out. */
void route_allow_str(unsigned, struct buf *out);

/* ---- front.c: the one front line every request passes ---- */

/* Runs the pipeline (route, content type, size, token and role, input,
 * handler) on a request whose fields and body are read, filling resp. */
void front_handle(struct req *, struct resp *);
/* Called once per worker process after fork (opens the database, cache). */
int front_worker_init(void);
void front_worker_done(void);
/* Writes the request's log line (never a query, header or body). */
void front_log(const struct req *, const struct resp *);
/* The most ignored input names one debug line lists. */
#define FRONT_IGNORED_MAX 8
/* Logs at debug level the names of the n input fields of `where` ("body",
 * "query") that the route does not take and that were ignored, with the
 * request id; more of them were left out.  Names only, never values; each
 * listed once, cut to 64 bytes and escaped to printable ASCII. */
void front_log_ignored(const struct req *, const char *where,
    const char *const *names, size_t n, size_t more);

/* ---- auth.c: who is calling ---- */

/* Checks the token the route's access column asks for (for AC_LINK without
 * an Authorization header: the signed link of ?token=) and fills req->who.
 * Returns 0 to go on, or -1 after filling resp with 401 or 403. */
int auth_front(struct req *, struct resp *);
/* Makes what the admin's login is checked against from the settings (a
 * hash of a clear ADMIN_PASSWORD takes a policy hash's time): called by
 * the supervisor before it forks workers, and after a reload. */
void auth_init(void);
/* The fingerprint of the admin's configured credential (64 hex digits):
 * admin sessions are bound to it, so that changing ADMIN_PASSWORD(_HASH)
 * ends them. */
const char *auth_admin_fp(void);
/* Counts an attempt at the password of an account by the caller's address
 * group before it is checked (db_login_attempt(): ident the typed name's
 * key, account the account's, "user:5"); what names it in the log
 * ("login" also counts against the address's cap at every name, "password
 * change").  Returns 0, or -1 after filling 429 with Retry-After (or
 * 503). */
int auth_attempt(struct req *, struct resp *, const char *ident,
    const char *account, const char *what);
/* Takes a slot of the hash gate for the rest of the request (the front
 * line gives it back).  Returns 0, or -1 after filling 503 with
 * Retry-After. */
int auth_hash_gate(struct resp *);

/* ---- db.c: the data layer (SQLite) ---- */

/* Outcomes of data-layer calls; db_to_http() maps them in one place. */
enum dbrc {
	DB_OK = 0,
	DB_NOTFOUND,
	DB_CONFLICT,   /* a constraint refused the change */
	DB_BUSY,       /* locked past the busy timeout */
	DB_UNAVAILABLE, /* disk full, I/O error, cannot open */
	DB_ERROR,      /* a bug: logged, 500 */
};

/* Opens (creating if needed) the database of conf.db_path for this process,
 * applies pragmas, migrates if migrate != 0, and prepares the statements. */
enum dbrc db_open(const char *path, int migrate);
void db_close(void);
int db_is_open(void);
/* 1 when path is a postgresql:// (or postgres://) URI: PostgreSQL's
 * driver (db-pg.c); anything else is an SQLite file. */
int db_path_is_pg(const char *path);
/* path as a message may show it: a URI's password is "***" (static
 * storage). */
const char *db_path_shown(const char *path);
/* The engine of the open connection (else DATABASE_URL's): "sqlite" or
 * "postgresql"; and the connection's state for GET /api/health ("up",
 * "reconnecting", "closed"). */
const char *db_backend(void);
const char *db_state(void);
/* For a child process that runs PostgreSQL's own tools (pg_dump): sets
 * the environment variables libpq reads (PGHOST, PGDATABASE, PGUSER,
 * PGPASSWORD, PGSSLMODE...) from the URI url, so that no password shows
 * on a command line.  Returns 0, or -1 with the reason in err. */
int db_pg_env(const char *url, struct buf *err);
/* The sample data (parkctl db reset) in the engine's dialect. */
const char *db_sample(void);
/* Makes the processes forked after it queue their write transactions on a
 * shared mutex before SQLite's lock (parkd's workers).  Returns 0 or -1. */
int db_queue_writers(void);
/* BEGIN IMMEDIATE (for every write that reads first), COMMIT, ROLLBACK. */
enum dbrc db_begin(void);
enum dbrc db_commit(void);
void db_rollback(void);
/* Sends the status and envelope that belong to a data-layer failure. */
void db_to_http(enum dbrc, struct resp *);
/* Applies the embedded migrations up to the newest; returns DB_OK. */
enum dbrc db_migrate(void);
/* The schema version in the file (PRAGMA user_version). */
int db_version(void);
/* The newest version the binary knows. */
int db_version_latest(void);
/* A trivial query to prove the database answers. */
enum dbrc db_ping(void);
/*
 * The version of the data this connection read last: SQLite's data
 * version of the main database (SQLITE_FCNTL_DATA_VERSION), which changes
 * with every commit to the file, by this connection or any other in any
 * process, and stays the same while nothing commits; with a count of this
 * process's opens on top, so that a new connection never repeats an old
 * value.  It describes the snapshot of the connection's last transaction:
 * taken right after a statement of this request, it keys what was
 * rendered from that snapshot (memo.c).  Returns 0 when no database is
 * open.
 */
uint64_t db_data_version(void);
/* Empties every table and loads the sample data of the contract. */
enum dbrc db_reset_sample(void);

/* The newest run of one batch job (job_runs), for "parkctl db stats". */
struct db_job_last {
	char job[32];
	int64_t started_at, finished_at; /* finished 0: still running */
	long long items, errors;
	char status[12];   /* running, ok, failed */
	char message[200]; /* cut to fit */
};

#define DB_STATS_JOBS 16

struct db_stats {
	long long users, users_active, lots, spots, spots_free, spots_occupied;
	long long resv_active, resv_completed, resv_cancelled;
	long long exports_pending, outbox_queued;
	struct db_job_last jobs[DB_STATS_JOBS]; /* by job name */
	size_t njobs;
};
enum dbrc db_stats_get(struct db_stats *);

/* What GET /metrics reads from the database (db_metrics_get()): each lot
 * not deleted, the queues by state, when each job named in jobs[] last
 * succeeded (0: never), and the totals of every lot (deleted ones too):
 * no-shows, and cents charged by releases and no-shows.  lots[] lives in
 * the pool given. */
struct db_metrics_lot {
	int64_t id;
	long long free, active, upcoming;
};
#define DB_METRICS_JOBS 8
struct db_metrics {
	struct db_metrics_lot *lots;
	size_t nlots;
	long long outbox_queued, outbox_sending, outbox_sent, outbox_failed;
	long long exports_pending, exports_progress, exports_success,
	    exports_failure;
	long long no_shows, revenue_cents;
	int64_t job_ok[DB_METRICS_JOBS];
};
/* In one read transaction; at most DB_METRICS_JOBS jobs.  Returns DB_OK
 * or the failure. */
enum dbrc db_metrics_get(struct pool *, const char *const *jobs,
    size_t njobs, struct db_metrics *);

/* ---- db-auth.c: users, sessions, login failures ---- */

struct acct_token; /* db-recovery.c */
struct mail;       /* db-jobs.c */

/* A user row; strings live in the pool given to the call. */
struct user {
	int64_t id;
	const char *username, *email, *phone, *password_hash;
	int is_active;
	int64_t created_at, updated_at, last_login; /* 0: never */
	int email_verified;
};

/* A new login session (user_id 0: the admin). */
struct session {
	const char *id;
	int64_t user_id;      /* 0: the admin */
	const char *admin_fp; /* the admin's: auth_admin_fp() */
	const char *refresh_jti;
	const char *access_jti; /* the only access token of the session */
	const char *pw_hash;    /* the user's hash the password matched */
	int remember;
	int64_t expires_at;
};

/* What the durable record says of a session. */
struct session_state {
	int is_admin;
	int64_t user_id;
	int valid;       /* not revoked, not expired */
	int user_active; /* 1 for the admin */
	int remember;
	int64_t expires_at;
	const char *username, *email;
	int email_verified; /* 1 for the admin */
	/* db_session_check: the session's access token jti (NULL: a login
	 * from before migration 012, never rotated), the one it replaced and
	 * when (0: never rotated) */
	const char *access_jti, *prev_access_jti;
	int64_t rotated_at;
};

/* ROTATE_REPEAT: the token rotated just before, presented again within
 * PARKD_REFRESH_LEEWAY_S: the pair it was rotated to is handed out again. */
enum rotate { ROTATE_OK, ROTATE_REPEAT, ROTATE_REUSED, ROTATE_REVOKED };

/* The claims of a token pair that differ between pairs of one session. */
struct token_pair {
	char access_jti[33], refresh_jti[33];
	int64_t iat;         /* also nbf; the access exp follows from it */
	int64_t refresh_exp;
};

enum dbrc db_user_get(struct pool *, int64_t id, struct user *);
/* By lower-cased e-mail or exact username; DB_NOTFOUND when neither. */
enum dbrc db_user_by_login(struct pool *, const char *email_lc,
    const char *username, struct user *);
/* Inserts a user; DB_CONFLICT with *dup_* set when a name is taken.  vt,
 * when not NULL, is the verification link of the new address: its token
 * row (for the new id) and its mail are written in the same transaction. */
enum dbrc db_user_insert(const struct user *, int64_t *id, int *dup_name,
    int *dup_email, const struct acct_token *vt);
/* Changes the given fields (NULL: unchanged); DB_CONFLICT as above.  A
 * changed e-mail is unverified again, the old one is kept (prev_email,
 * email_changed_at), the user's unused reset links are spent, and, when
 * vt is not NULL, its verification link is queued (older links spent) and
 * the notice (when not NULL) is queued to the old address (the data layer
 * sets its to), all in the same transaction.  *moved: the address
 * changed. */
enum dbrc db_user_update(int64_t id, const char *username, const char *email,
    int set_phone, const char *phone, int *dup_name, int *dup_email,
    const struct acct_token *vt, struct mail *notice, int *moved);
/* New hash, only while the stored hash is still old_hash (the one the
 * current password was verified against) and the session keep_sid is not
 * revoked: DB_CONFLICT, nothing written, otherwise (a reset in between).
 * Revokes every other session of the user, and clears the attempts of
 * account from addr (db_login_attempt()). */
enum dbrc db_user_set_password(int64_t id, const char *hash,
    const char *old_hash, const char *keep_sid, const char *account,
    const char *addr);
/* (De)activates; deactivation revokes every session of the user and
 * spends its unused reset and verification links. */
enum dbrc db_user_set_active(int64_t id, int active);
/* A page of users matching a LIKE pattern (NULL: all) and the total. */
enum dbrc db_users_list(struct pool *, const char *like, int limit, int offset,
    struct user **, size_t *n, long long *total);
/*
 * Counts and records a login attempt (a login, or a password change's
 * check of the current password) from a client address group (see
 * addr_group()) in one write transaction, before the password is checked,
 * so that parallel attempts cannot overshoot.  ident: the key of the name
 * as typed and as the lookup reads it ("id:alice", "id:a@example.com"),
 * the same for a known and an unknown name; account: the key of the
 * account it names ("user:5", "admin:"; ident itself for no account);
 * addr_key: the key of the address's logins at every name ("addr:" and
 * addr), NULL for none (a password change).  An attempt is a failure until
 * the success clears it.  *verdict: ATTEMPT_OK (recorded: go on),
 * ATTEMPT_ADDR_CAP (this address used up PARKD_LOGIN_ADDR_MAX_FAILURES at
 * all names), ATTEMPT_ADDR_LIMIT (this address used up
 * PARKD_LOGIN_MAX_FAILURES at this name) or ATTEMPT_SLOWED (the account
 * is past PARKD_LOGIN_ACCOUNT_MAX_FAILURES from all addresses and this
 * address tried this name less than PARKD_LOGIN_SLOW_S ago); neither is
 * recorded.  *failures: those counted against the verdict; *retry_after:
 * seconds.
 */
enum attempt { ATTEMPT_OK, ATTEMPT_ADDR_CAP, ATTEMPT_ADDR_LIMIT,
	ATTEMPT_SLOWED };
enum dbrc db_login_attempt(const char *ident, const char *account,
    const char *addr, const char *addr_key, enum attempt *verdict,
    int *failures, int64_t *retry_after);
/* One transaction: clear the attempts of the name and of its account from
 * addr, uncount this login from addr_key's (when not NULL), stamp
 * last_login, store a new hash (when not NULL) and create the session.
 * For a user, only while its stored hash is still s->pw_hash, it is
 * active, and (REQUIRE_EMAIL_VERIFICATION) its address verified:
 * DB_CONFLICT, nothing written, when a reset, a password change, a
 * deactivation or an address change committed while the login hashed. */
enum dbrc db_login_success(const char *ident, const char *account,
    const char *addr, const char *addr_key, const struct session *,
    const char *new_hash);
/* The per-request check of an access token's session; DB_NOTFOUND when
 * there is no such session.  An admin session is valid only with the
 * admin_fp it was made with (auth_admin_fp()). */
enum dbrc db_session_check(struct pool *, const char *sid,
    const char *admin_fp, struct session_state *);
/* Rotates the refresh token jti to the pair *tp proposes (its jtis; iat and
 * refresh_exp are set here), or with ROTATE_REPEAT fills *tp with the pair
 * jti was rotated to; an older token is reuse and revokes the session.  An
 * admin session of another admin_fp is ROTATE_REVOKED. */
enum dbrc db_session_rotate(const char *sid, const char *jti,
    const char *admin_fp, struct token_pair *, struct session_state *,
    enum rotate *);
enum dbrc db_session_revoke(const char *sid, const char *reason);
/* Revokes every admin session made with another credential than admin_fp
 * (auth_admin_fp()); *n: how many.  Idempotent: the supervisor runs it at
 * start and after each reload, so that going back to an old
 * ADMIN_PASSWORD(_HASH) does not revive the sessions made with it. */
enum dbrc db_admin_sessions_end(const char *admin_fp, int *n);

/* ---- db-lots.c: lots, spots, reservations, dashboards ---- */

/* A lot row; strings live in the pool given to the call. */
struct lot {
	int64_t id;
	const char *name, *address, *pin_code, *description;
	const char *hours_start, *hours_end; /* both NULL or both set */
	long long price_cents;
	int number_of_spots, occupied, is_active;
	int64_t created_at, updated_at;
};

/* What a create or update asks for.  NULL strings, -1 numbers and 0 spots
 * leave a column as it is (on create every required field is set). */
struct lot_change {
	const char *name, *address, *pin_code;
	long long price_cents;
	int spots;
	int is_active;
	int set_description;
	const char *description;
	int set_hours;
	const char *hours_start, *hours_end;
	int cancel_resv; /* cancel the upcoming reservations in the way */
};

/* One spot of a lot's grid; the reservation fields when occupied. */
struct spot_cell {
	int64_t id;
	int number;
	int occupied;
	int reserved; /* free now, but held within the walk-in hold */
	int64_t resv_id, user_id, since;
	const char *username, *vehicle;
};

/* A reservation with its spot, lot and user names. */
struct resv {
	int64_t id, spot_id, lot_id, user_id;
	int spot_number;
	const char *lot_name, *username, *vehicle, *status, *remarks;
	int64_t parking_ts, leaving_ts; /* leaving 0 while active */
	long long hourly_cents, cost_cents;
	int has_cost;
	int64_t created_at, updated_at;
	/* the old backend's columns (sql/010-old-keys.sql): NULL / 0 when
	 * unknown */
	const char *vehicle_model, *vehicle_color;
	int64_t expected_leaving_ts;
	/* the window (sql/013); 0 for a walk-in */
	int64_t start_time, end_time;
};

/* Filters of the admin's reservation list; 0 or NULL: any. */
struct resv_filter {
	int64_t lot_id, user_id;
	const char *status;
	int64_t from, to; /* parking time in [from, to) */
};

enum book { BOOK_OK, BOOK_NO_LOT, BOOK_INACTIVE, BOOK_FULL, BOOK_LIMIT };
enum release { RELEASE_OK, RELEASE_NONE, RELEASE_NOT_FOUND };

struct admin_summary {
	long long users, users_active, lots, spots, occupied;
	long long revenue_today, revenue_month; /* cents */
	/* reservations made ahead: waiting for their start; of those that
	 * started in the last 30 days, the no-shows and the checked-in */
	long long upcoming, no_shows_30d, checked_in_30d;
	int64_t today;        /* midnight UTC */
	long long per_day[30]; /* bookings, oldest day first, today last */
	struct lot *lot;
	size_t nlots;
};

struct user_summary {
	long long bookings, seconds, spent_cents;
	struct resv *active;
	size_t nactive;
};

/* The generation of a cached family ("lots", "users"). */
enum dbrc db_gen_get(const char *family, long long *gen);
/* Bumps a family's generation (inside the caller's write transaction). */
enum dbrc db_gen_bump(const char *family);
/* The version of lot id (-1: no such lot), moved on by every booking and
 * release of it, or with id 0 the sum of every lot's (cache keys, next to
 * the generation). */
enum dbrc db_lot_version(int64_t id, long long *version);
enum dbrc db_lot_get(struct pool *, int64_t id, struct lot *);
enum dbrc db_lots_list(struct pool *, int active_only, struct lot **,
    size_t *n);
/* Creates a lot with spots 1..spots. */
enum dbrc db_lot_create(const struct lot_change *, int64_t *id);
/* Changes and resizes; DB_CONFLICT with *busy occupied spots in the way,
 * or *upcoming reservations on the spots that would go (or on the lot
 * made inactive) unless c->cancel_resv, which cancels them and queues an
 * e-mail to each user (strings in the pool). */
enum dbrc db_lot_update(struct pool *, int64_t id, const struct lot_change *,
    int *busy, long long *upcoming);
/* Deletes (soft when the lot has history); DB_CONFLICT when occupied, or
 * with *upcoming reservations unless cancel_resv (as above). */
enum dbrc db_lot_delete(struct pool *, int64_t id, int cancel_resv,
    int *soft, int *busy, long long *upcoming);
/* The lot and its spots in number order (at most cap of them), read in
 * one snapshot, so db_data_version() after it is theirs.  DB_NOTFOUND:
 * no such lot. */
enum dbrc db_lot_grid(struct pool *, int64_t id, struct lot *,
    struct spot_cell **, size_t *n, size_t cap);
/*
 * Books the free spot with the lowest number; *out tells the outcome, and
 * on BOOK_OK *v is the new reservation, read in the same transaction (a
 * read after the commit would start a snapshot of its own, and read every
 * page again whenever another worker has written in between).
 */
enum dbrc db_book(struct pool *, int64_t lot, int64_t user,
    const char *vehicle, struct resv *v, enum book *out);
/* Completes a reservation of user (resv 0: the oldest active one); on
 * RELEASE_OK *v is the completed reservation, read in the transaction. */
enum dbrc db_release(struct pool *, int64_t user, int64_t resv,
    struct resv *v, enum release *out);
enum dbrc db_resv_get(struct pool *, int64_t id, struct resv *);
enum dbrc db_resv_list_user(struct pool *, int64_t user, const char *status,
    int limit, int offset, struct resv **, size_t *n, long long *total);
enum dbrc db_resv_list_admin(struct pool *, const struct resv_filter *,
    int limit, int offset, struct resv **, size_t *n, long long *total);
enum dbrc db_summary_admin(struct pool *, struct admin_summary *);

/* ---- db-resv.c: advance reservations (api-contract.md section 4) ---- */

enum resv_out {
	RESV_OK,
	RESV_NO_LOT,     /* 404 */
	RESV_NOT_FOUND,  /* 404: no such reservation of the caller */
	RESV_INACTIVE,   /* 409 LOT_INACTIVE */
	RESV_HOURS,      /* 400 OUTSIDE_OPERATING_HOURS */
	RESV_FULL,       /* 409 LOT_FULL */
	RESV_LIMIT,      /* 409 RESERVATION_LIMIT */
	RESV_OVERLAP,    /* 409 OVERLAPPING_RESERVATION */
	RESV_STATE,      /* 409 CONFLICT: not (any more) reserved */
	RESV_TOO_EARLY,  /* 409 CHECKIN_TOO_EARLY */
	RESV_EXPIRED,    /* 409 RESERVATION_EXPIRED (a no-show) */
	RESV_OCCUPIED,   /* 409 SPOT_OCCUPIED: no spot to move to */
	RESV_STARTED,    /* 409 RESERVATION_STARTED: too late to cancel */
	RESV_BOOK_LIMIT, /* 409 BOOKING_LIMIT: a walk-in (enum book's) */
	RESV__COUNT
};

/* Reserves the best spot of lot for [s, e) (validated on the grid);
 * on RESV_OK *v is the new reservation. */
enum dbrc db_reserve(struct pool *, int64_t lot, int64_t user,
    const char *vehicle, int64_t s, int64_t e, struct resv *v,
    enum resv_out *out);
/* Checks in the caller's reservation id; *moved when it moved to another
 * spot: CHECKIN_MOVED_CAR when a car (an overstayer) is on its own,
 * CHECKIN_MOVED_HELD when it came early and its own is held by another
 * reservation until then. */
enum { CHECKIN_MOVED_CAR = 1, CHECKIN_MOVED_HELD };
enum dbrc db_checkin(struct pool *, int64_t user, int64_t id,
    struct resv *v, enum resv_out *out, int *moved);
/* Cancels the caller's reservation id before its start. */
enum dbrc db_cancel(struct pool *, int64_t user, int64_t id,
    struct resv *v, enum resv_out *out);

/* A held interval and whose it is. */
struct hold {
	int64_t resv_id, user_id, start, end;
	const char *username, *status;
};
/* A spot, whether a car is on it now, and its holds meeting a range. */
struct spot_holds {
	int64_t id;
	int number, occupied;
	/* the earliest instant at which one of these holds stops holding
	 * by the clock alone (a reservation's start + grace); 0: none */
	int64_t until;
	struct hold *h;
	size_t n, cap;
};
/* Every spot of lot with the holds meeting [from, to), in order of start
 * (reservations past their grace left out), and the lot in *l; names: with
 * whose each hold is (else only the intervals). */
enum dbrc db_lot_holds(struct pool *, int64_t lot, int64_t from, int64_t to,
    int names, struct lot *l, struct spot_holds **, size_t *n);
/* 1 when spot sp can take [s, e): no hold meets it, and no car is on it
 * when the window starts within the overstay guard of now. */
int holds_free(const struct spot_holds *sp, int64_t s, int64_t e,
    int64_t now);
/* "parkctl tick": marks every reservation past its grace a no-show. */
enum dbrc db_resv_expire_all(int64_t now, long long *marked);
/* A reservation whose reminder is due. */
struct resv_reminder {
	int64_t id, start, end;
	int spot_number;
	const char *email, *username, *lot_name;
};
/* The reserved rows starting in (now, now + lead]. */
enum dbrc db_resv_remind_due(struct pool *, int64_t now, int64_t lead,
    struct resv_reminder **, size_t *n);
/* One reservation on the admin's timeline of a day. */
struct day_item {
	int64_t resv_id, spot_id, user_id, start, end;
	const char *username, *status;
};
/* Lot's reservations (not cancelled) whose interval meets [from, to). */
enum dbrc db_lot_day(struct pool *, int64_t lot, int64_t from, int64_t to,
    struct day_item **, size_t *n);
/* The user's upcoming reservations, soonest first. */
enum dbrc db_resv_list_upcoming(struct pool *, int64_t user, int limit,
    int offset, struct resv **, size_t *n, long long *total);
enum dbrc db_summary_user(struct pool *, int64_t user, struct user_summary *);

/* ---- db-exports.c: CSV export jobs ---- */

struct mail; /* db-jobs.c */

/* An export job row; strings live in the pool given to the call. */
struct export_job {
	const char *id;       /* 32 hex: the task id */
	int64_t user_id;
	const char *username; /* db_export_claim only */
	int user_active;      /* db_export_claim only */
	int email_verified;   /* db_export_claim only: of email, now */
	/* email: the account's address when the job was queued; in
	 * db_export_claim the account's address now, the mail's recipient */
	const char *email, *state, *filename, *error;
	int progress, attempts;
	int64_t created_at, updated_at, finished_at; /* finished 0: not yet */
};

/* One reservation as the CSV writes it (csv.c); strings in the pool. */
struct export_row {
	int64_t id, spot_id;
	int spot_number;
	const char *lot_name, *lot_address, *status, *remarks;
	int64_t parking_ts, leaving_ts; /* leaving 0 while active */
	long long cost_cents;
	int has_cost;
	int64_t created_at;
};

enum export_add { EXPORT_ADD_OK, EXPORT_ADD_PENDING, EXPORT_ADD_DAILY };

/* Queues a job (one write transaction): *out EXPORT_ADD_PENDING when the
 * user already has max_pending jobs queued or running, EXPORT_ADD_DAILY
 * when max_day were requested in the last 24 hours (nothing stored). */
enum dbrc db_export_add(const char *id, int64_t user, const char *email,
    int max_pending, int max_day, enum export_add *out);
/* The job id of user; DB_NOTFOUND for another user's or an unknown id. */
enum dbrc db_export_get(struct pool *, const char *id, int64_t user,
    struct export_job *);
/* The finished (SUCCESS) job of user whose file is filename; DB_NOTFOUND
 * otherwise. */
enum dbrc db_export_by_file(struct pool *, const char *filename,
    int64_t user, struct export_job *);
/* Who owns the finished job id whose file is filename, and whether that
 * account is active (for a signed link); DB_NOTFOUND otherwise. */
enum dbrc db_export_link_owner(const char *id, const char *filename,
    int64_t *user, int *active);
/*
 * Claims the oldest job that is PENDING, or PROGRESS with a claim older
 * than stale_before (its runner died), in one BEGIN IMMEDIATE transaction:
 * it becomes PROGRESS, claimed by runner at now, attempts + 1.  A job
 * already tried max_attempts times becomes FAILURE instead (*gave_up = 1,
 * job filled).  *found 0: nothing to do.
 */
enum dbrc db_export_claim(struct pool *, const char *runner,
    int64_t stale_before, int max_attempts, struct export_job *,
    int *found, int *gave_up);
/* Records progress (and renews the claim); DB_NOTFOUND when the job is no
 * longer this runner's. */
enum dbrc db_export_progress(const char *id, const char *runner,
    int progress);
/* How many reservations user has, and the highest id among them. */
enum dbrc db_export_count(int64_t user, long long *n, int64_t *max_id);
/* A page of user's reservations with id < before, newest first. */
enum dbrc db_export_rows(struct pool *, int64_t user, int64_t before,
    int limit, struct export_row **, size_t *n);
/* One transaction: the job becomes SUCCESS with its file and the mail is
 * queued.  DB_NOTFOUND (nothing changed) when it is no longer this
 * runner's. */
enum dbrc db_export_finish(const char *id, const char *runner,
    const char *filename, const struct mail *);
/* The job ends as FAILURE with why (retry 0), or goes back to PENDING
 * with why to be tried again (retry 1); DB_NOTFOUND when it is no longer
 * this runner's. */
enum dbrc db_export_fail(const char *id, const char *runner, const char *why,
    int retry);
/* Up to cap finished (SUCCESS or FAILURE) jobs finished before before,
 * oldest first (id, filename only), and the deletion of one job row. */
enum dbrc db_export_old(struct pool *, int64_t before, int cap,
    struct export_job **, size_t *n);
enum dbrc db_export_delete(const char *id);
/* PRAGMA wal_checkpoint(PASSIVE): never waits. */
enum dbrc db_export_checkpoint(void);

/* ---- db-jobs.c: the mail outbox and job runs ---- */

/* One e-mail.  Addresses and subject never hold CR, LF or NUL (checked by
 * db_outbox_add and by the schema). */
struct mail {
	const char *idem_key; /* e.g. "remind:42:2026-11-26": sent once */
	const char *to;
	const char *subject;  /* UTF-8; encoded for the header by mail.c */
	const char *text;     /* the plain-text part */
	const char *html;     /* the HTML part, or NULL */
};

/*
 * Queues a message in the outbox, inside the caller's transaction when
 * one is open, so the mail exists exactly when what caused it does.
 * A message whose idem_key was queued before is not queued again (DB_OK).
 * Returns DB_CONFLICT for an address or subject with CR, LF or NUL.
 */
enum dbrc db_outbox_add(const struct mail *);
/* Takes the job's lock for the rest of the process (PostgreSQL: an
 * advisory lock per job, so that two hosts' timers never run one job at
 * once; SQLite: nothing).  DB_OK, DB_BUSY: another run holds it. */
enum dbrc db_job_lock(const char *job);
/* Records the start of a batch job run; *id names it for db_job_finish. */
enum dbrc db_job_start(const char *job, int64_t *id);
/* Records the end: items done, errors, "ok" or "failed", a message. */
enum dbrc db_job_finish(int64_t id, long long items, long long errors,
    const char *status, const char *message);

/* ---- db-recovery.c: the tokens of reset and verification links ---- */

/*
 * A link's token as stored: only the SHA-256 of its text.  The mail m
 * carries the link; its "to" is email.
 */
struct acct_token {
	const char *hash;    /* 64 hex digits */
	const char *purpose; /* "reset" or "verify" */
	int64_t user_id;     /* 0: look the address up; -1: no account */
	const char *email;   /* the address the link goes to */
	int64_t expires_at;
	struct mail m;
};

/* What became of a request for a link. */
enum recovery {
	RECOVERY_QUEUED,  /* the token row and its mail are written */
	RECOVERY_UNKNOWN, /* no active account has the address: nothing */
	RECOVERY_LIMITED, /* the address had its requests: nothing */
};

/*
 * A link asked for (forgot-password, a verification sent again), in one
 * write transaction: counts the request against the address's HMAC
 * addr_hash (refused past PARKD_RECOVERY_MAX_REQUESTS within
 * PARKD_RECOVERY_WINDOW_S: *out RECOVERY_LIMITED, *retry_after); finds
 * the account (t->user_id 0: the active user of t->email), spends its
 * unused tokens of t->purpose, stores t and queues t->m.  An unknown
 * address runs the same statements, matching no row, so that both take
 * the same time.  Returns DB_OK or a failure.
 */
enum dbrc db_recovery_request(const char *addr_hash, struct acct_token *t,
    enum recovery *out, int64_t *retry_after);
/*
 * A password reset: spends the reset token hash (DB_NOTFOUND when it is
 * unknown, spent, expired, or was sent to an address the account no
 * longer has), stores the new password hash, marks the address verified
 * (the link proved it), revokes every session of the user, spends the
 * user's other reset links and queues notice (its "to" set here, from
 * the pool), all in one transaction.  *user_id is the account.
 */
enum dbrc db_recovery_reset(struct pool *, const char *hash,
    const char *pw_hash, struct mail *notice, int64_t *user_id);
/* DB_OK when the token hash of purpose could be spent now, DB_NOTFOUND
 * when not (a read: the spending transaction decides). */
enum dbrc db_recovery_token_live(const char *hash, const char *purpose);
/* A verification: spends the token hash (DB_NOTFOUND as above) and marks
 * the address verified.  *user_id is the account. */
enum dbrc db_recovery_verify(const char *hash, int64_t *user_id);

/* ---- db-batch.c: the data of parkctl's remind, report, cleanup, backup ---- */

/* A user a batch job writes to; strings live in the pool given. */
struct batch_user {
	int64_t id;
	const char *username, *email;
	int64_t last_booking; /* remind: last parking time, 0: never booked */
	int64_t created_at;
};

/* Active lots created in (since, until], at most cap, by id.  Only id,
 * name, address, number_of_spots, occupied, price_cents are filled. */
enum dbrc db_batch_new_lots(struct pool *, int64_t since, int64_t until,
    size_t cap, struct lot **, size_t *n);
/* Free spots and lots among the active lots. */
enum dbrc db_batch_free_spots(long long *spots, long long *lots);
/*
 * Reminders.  _due lists up to cap active users with id > after who have
 * no reminder on day ("YYYY-MM-DD") and whose last booking (else their
 * registration) is at or before idle_before, or all of them when
 * everyone != 0.  _mark, inside the caller's write transaction, checks the
 * same conditions again and records the reminder: *fresh = 1 when this
 * call recorded it (queue the e-mail), 0 when it is not due (any more).
 */
enum dbrc db_batch_remind_due(struct pool *, int64_t after, const char *day,
    int64_t idle_before, int everyone, size_t cap, struct batch_user **,
    size_t *n);
enum dbrc db_batch_remind_mark(int64_t user, const char *day,
    int64_t idle_before, int everyone, int *fresh);
/*
 * Reports.  _due lists up to cap active users with id > after without the
 * report of month ("YYYY-MM") who parked in [from, to) (cancelled
 * reservations do not count); _resv their reservations of that period,
 * oldest first; _mark records the report as _remind_mark does.
 */
enum dbrc db_batch_report_due(struct pool *, int64_t after, const char *month,
    int64_t from, int64_t to, size_t cap, struct batch_user **, size_t *n);
enum dbrc db_batch_report_resv(struct pool *, int64_t user, int64_t from,
    int64_t to, struct resv **, size_t *n);
enum dbrc db_batch_report_mark(int64_t user, const char *month, int *fresh);

/* What "parkctl cleanup" deletes, oldest first. */
enum batch_clean {
	CLEAN_OUTBOX,         /* sent or failed messages */
	CLEAN_LOGIN_FAILURES, /* failed logins */
	CLEAN_SESSIONS,       /* sessions expired or revoked */
	CLEAN_JOB_RUNS,       /* job runs, but the newest of each job */
	CLEAN_REMINDERS,      /* reminders_sent rows (before is a day) */
	CLEAN_STALE_RUNS,     /* marks runs "running" since before as failed */
	CLEAN_TOKENS,         /* reset and verification tokens spent or
	                       * expired */
	CLEAN_RECOVERY,       /* the per-address counts of recovery mail */
};
/* Deletes (or marks) at most cap rows of a kind older than before (unix
 * time; for CLEAN_REMINDERS the day in day_before) in one short write
 * transaction.  *n is the number of rows changed. */
enum dbrc db_batch_clean(enum batch_clean, int64_t before,
    const char *day_before, int cap, long long *n);
/* PRAGMA wal_checkpoint(TRUNCATE): *busy 1 when readers or writers kept it
 * from finishing, with *frames the frames left in the WAL (0 when done:
 * the WAL is then empty). */
enum dbrc db_batch_checkpoint(int *busy, long long *frames);
/* VACUUM INTO path: a consistent copy of the live database (path must not
 * exist or be empty; the file mode follows the umask). */
enum dbrc db_batch_vacuum_into(const char *path);
/* Opens path read-only with a second connection and runs PRAGMA
 * integrity_check.  DB_OK when it answers "ok"; DB_CONFLICT with the first
 * problems in problem when it does not; DB_UNAVAILABLE when the file
 * cannot be opened or read.  *version is its schema version. */
enum dbrc db_batch_check_copy(const char *path, struct buf *problem,
    int *version);

/* A message claimed for delivery by db_outbox_claim(); its strings live in
 * the pool given to the call. */
struct outbox_msg {
	int64_t id;
	struct mail m;
	int attempts;  /* attempts started, this one included */
	int reclaimed; /* left 'sending' by a run that died: it may have been
	                  sent already */
	int has_nul;   /* a text column holds a NUL byte: never sendable */
	int64_t claim; /* the claim's stamp (the end of its lease) */
};

/*
 * Claims at most max messages that are due at now (queued, or left
 * 'sending' by a run whose lease ended) in one BEGIN IMMEDIATE
 * transaction: each becomes 'sending' with attempts + 1 and the lease
 * lease_end, so no other run takes it before then.  *out (from pool) and
 * *n get the claimed messages, oldest due first; *n 0 when none is due.
 */
enum dbrc db_outbox_claim(struct pool *, int64_t now, int64_t lease_end,
    int max, struct outbox_msg **out, size_t *n);
/*
 * The outcomes of a claimed message: sent; queued again for next (with
 * why); failed for good (with why); released (not tried: due again at
 * due, its attempt not counted).  Each changes the row only while the
 * claim is still this run's, and returns DB_NOTFOUND when it is not
 * (another run took it over after the lease ran out).
 */
enum dbrc db_outbox_sent(const struct outbox_msg *, int64_t now);
enum dbrc db_outbox_retry(const struct outbox_msg *, int64_t next,
    const char *why);
enum dbrc db_outbox_fail(const struct outbox_msg *, int64_t now,
    const char *why);
enum dbrc db_outbox_release(const struct outbox_msg *, int64_t due);

/* ---- mail.c: building and delivering e-mail (the one user of libcurl) ---- */

/* The delivery policy, for the tests and the man page. */
#define MAIL_BATCH 5          /* messages claimed per transaction */
#define MAIL_LEASE_S 600      /* a claim older than this is taken over */
#define MAIL_MAX_ATTEMPTS 10  /* then 'failed' */
#define MAIL_LIMIT_DEFAULT 500 /* messages tried per run */

/*
 * Checks an address for the SMTP envelope and the headers: the rules of
 * valid_email() (a dot-atom local part, a domain of letters, digits and
 * hyphens, at most 254 bytes), unchanged by them (no case or space to
 * fix); the sender may also have a one-label domain ("parkd@localhost").
 * Returns NULL, or why the address is refused.
 */
const char *mail_check_addr(const char *, int sender);
/*
 * Builds the RFC 5322 text of a message from the sender from, dated when,
 * into out (appended): our own headers (Subject RFC 2047-encoded when it
 * is not plain ASCII), a text/plain part and, when m->html is set, a
 * text/html one in multipart/alternative, UTF-8 and quoted-printable;
 * CRLF line ends only, no line over 998 bytes.  Returns NULL, or why the
 * message can never be sent (a bad address, a control character or
 * invalid UTF-8 in a header value, invalid UTF-8 in a body); out is then
 * left as it was.
 */
const char *mail_build(const struct mail *, const char *from, int64_t when,
    struct buf *out);
/* The delay before attempt n + 1 after n failed attempts, in seconds. */
int64_t mail_backoff(int n);
/*
 * 1 when host, as written in MAIL_SERVER, is this machine for certain
 * without asking DNS: "localhost", an IPv4 address 127.x.y.z in dotted
 * quad form, ::1 (bracketed or not) or ::ffff:127.x.y.z.  Any other name
 * or form is 0, even one that resolves to a loopback address.
 */
int mail_host_loopback(const char *host);
/*
 * Why the settings c would send mail in clear to a host that may be
 * another machine (MAIL_SERVER set and not loopback, MAIL_USE_TLS and
 * MAIL_USE_SSL off, PARKD_MAIL_ALLOW_PLAINTEXT off), or NULL when they
 * would not.  conf.c refuses such settings when it loads them, and
 * mail.c again before a run connects.
 */
const char *mail_plaintext_refused(const struct conf *c);

/* What a delivery run did. */
struct mail_stats {
	long long sent;   /* accepted by the server, or written as .eml */
	long long retry;  /* failed for now: queued again with a delay */
	long long failed; /* failed for good: refused or out of attempts */
	long long lost;   /* outcomes not recorded (claim taken over or the
	                     database failed) */
	int stopped;      /* the server (or the folder) failed: the run
	                     stopped early, leaving the rest queued */
};

/*
 * Delivers due messages of the outbox, at most limit of them: by SMTP to
 * MAIL_SERVER, or as .eml files into PARKD_MAIL_DIR when it is empty.
 * Records its run in job_runs (job "mail").  Returns 0 when every message
 * tried was sent (or none was due), 1 when some were not, -1 when the
 * database failed, -2 when the mail settings are wrong (each logged).
 * Needs an open database and the settings in conf.
 */
int mail_deliver(long limit, struct mail_stats *);

/* ---- cache.c: the Redis cache (hiredis), never a source of truth ---- */

/* REDIS_CACHE_URL parsed: redis://[[user]:password@]host[:port][/db] or
 * unix://[[user]:password@]/abs/path[?db=N] (user and password
 * percent-decoded). */
struct cache_url {
	char host[256];     /* "" for a unix socket */
	int port;
	char path[108];     /* the unix socket, "" for TCP */
	int db;             /* 0 to 15 */
	char user[128];     /* "" without a Redis 6 ACL user */
	char password[512]; /* "" without AUTH */
};
/*
 * Parses url into *u.  Returns 0, or -1 with *why set to what is wrong (a
 * constant text that never holds any part of the URL, which may hold a
 * password).
 */
int cache_url_parse(const char *url, struct cache_url *u, const char **why);
enum cache_state { CACHE_DISABLED, CACHE_UP, CACHE_DOWN };
/*
 * Sets up the cache of this process: url as REDIS_CACHE_URL ("" or NULL:
 * disabled); the key of the cached values' tags is derived from secret
 * (front.c passes SECRET_KEY, or JWT_SECRET_KEY when that is empty; NULL or
 * empty disables the cache: no value is ever used untagged).
 */
void cache_init(const char *url, const char *secret, int timeout_ms,
    int breaker_s);
void cache_done(void);
/* Pings Redis (honouring the breaker); returns the state. */
enum cache_state cache_ping(void);
const char *cache_state_str(enum cache_state);
/* Copies the value of key into out; 0 on a hit, -1 on a miss or failure.
 * A value whose tag does not verify (forged, or stored under another key)
 * is a miss, logged with security:. */
int cache_get(const char *key, struct buf *out);
/* Stores a value, tagged, with a time to live; failures are only logged. */
void cache_set(const char *key, const char *, size_t, int ttl_s);
/* Increments a counter; returns the new value, or -1 on failure.  A
 * counter carries no tag: anyone who can write to Redis can set it. */
long long cache_incr(const char *key);
/*
 * A cached JSON text of a family ("lots", "users") at its current
 * generation (read from the database, so a read after a write never sees
 * a stale entry).  Returns 0 with the text in out on a hit, -1 on a miss,
 * with *key set (in the pool) for cache_put(); *key NULL: do not cache.
 */
int cache_fetch(struct pool *, const char *family, const char *name,
    struct buf *out, char **key);
/* Stores a text under a key from cache_fetch() (NULL: nothing). */
void cache_put(const char *key, const char *, size_t);

/* ---- memo.c: answers this worker rendered, by data version ---- */

/*
 * A small per-process memo of rendered JSON texts (the lot lists and
 * grids), each kept with the data version (db_data_version()) of the
 * snapshot it was rendered from.  An entry is used only at that version,
 * and every commit to the database, by any process, changes the version:
 * so the memo is never stale, and it needs no invalidation by writers.
 * It holds the texts of one version at a time (a newer one drops the
 * rest), at most MEMO_SLOTS of them and conf.memo_kb in all.
 */
#define MEMO_SLOTS 16
/* Points *text, *len at the text of key made at version; 0 on a hit, -1
 * on a miss.  The text stays valid until the next memo_put(). */
int memo_get(const char *key, uint64_t version, const char **text,
    size_t *len);
/* Keeps a copy of the text of key made at version (version 0, a text too
 * big or a disabled memo: nothing). */
void memo_put(const char *key, uint64_t version, const char *text,
    size_t len);
/* The same for a text that holds only while from <= park_now() < until
 * (a miss outside: the clock changes the answer there). */
void memo_put_until(const char *key, uint64_t version, const char *text,
    size_t len, int64_t from, int64_t until);
/* Drops every entry (tests; a worker's database reopened). */
void memo_clear(void);

/* ---- auth.c and users.c: accounts ---- */

void auth_register(struct req *, struct resp *);
void auth_login(struct req *, struct resp *);
void auth_refresh(struct req *, struct resp *);
void auth_logout(struct req *, struct resp *);
void auth_me(struct req *, struct resp *);
/* Writes the user object (never the password hash). */
void user_json(struct jw *, const char *key, const struct user *);
void users_profile(struct req *, struct resp *);
void users_profile_update(struct req *, struct resp *);
void users_password(struct req *, struct resp *);
void users_admin_list(struct req *, struct resp *);
void users_admin_deactivate(struct req *, struct resp *);
void users_admin_activate(struct req *, struct resp *);
/* 1 when an e-mail (lower-cased) is ADMIN_EMAIL's, compared in constant
 * time: the admin is no user and gets no recovery mail. */
int auth_is_admin_email(const char *email_lc);

/* ---- recovery.c: account recovery and e-mail verification ---- */

void recovery_forgot(struct req *, struct resp *);
void recovery_reset(struct req *, struct resp *);
void recovery_verify(struct req *, struct resp *);
void recovery_resend(struct req *, struct resp *);
/*
 * Fills t with a new verification link for the account's address email
 * (its greeting names username): the token (only its hash in t), its
 * expiry and its e-mail, all in the pool.  t->user_id is 0: the caller's
 * transaction knows the account (db_user_insert(), db_user_update()).
 */
void recovery_verify_link(struct pool *, const char *email,
    const char *username, struct acct_token *t);

/* ---- lots.c and resv.c: parking ---- */

void lots_admin_create(struct req *, struct resp *);
void lots_admin_update(struct req *, struct resp *);
void lots_admin_delete(struct req *, struct resp *);
void lots_admin_get(struct req *, struct resp *);
void lots_admin_list(struct req *, struct resp *);
void lots_user_list(struct req *, struct resp *);
void lot_json(struct jw *, const char *key, const struct lot *);
/* Answers 200 with message and the memo of key when it was rendered from
 * the snapshot the request's session check saw; returns 1 when it did,
 * 0 when the caller must render. */
int memo_answer(struct req *, struct resp *, const char *message,
    const char *key);
void resv_book(struct req *, struct resp *);
void resv_release(struct req *, struct resp *);
void resv_list(struct req *, struct resp *);
void resv_summary(struct req *, struct resp *);
void resv_admin_list(struct req *, struct resp *);
void resv_admin_summary(struct req *, struct resp *);
void resv_json(struct jw *, const char *key, const struct resv *);
/* Reads the window of inputs is, ie (RFC 3339, on the grid) into *s, *e
 * and checks its length, that it is not past and not too far ahead.
 * Returns 0, or -1 after filling a 400 with details.start/end. */
int resv_window(struct req *, struct resp *, int is, int ie, int64_t *s,
    int64_t *e);
/* Spots of lot free for [s, e), and its spots; DB_NOTFOUND: no lot. */
enum dbrc resv_window_free(struct pool *, int64_t lot, int64_t s,
    int64_t e,
    int *free_spots, int *total);
void resv_availability(struct req *, struct resp *);
void resv_slots(struct req *, struct resp *);
void resv_reserve(struct req *, struct resp *);
void resv_checkin(struct req *, struct resp *);
void resv_cancel(struct req *, struct resp *);
void resv_admin_timeline(struct req *, struct resp *);

/* ---- batch.c: parkctl remind, report, cleanup, backup ---- */

/* What one run of a job did, recorded in job_runs. */
struct batch_result {
	long long items;  /* messages queued, rows deleted, files written */
	long long errors; /* items that failed (the run went on) */
	int failed;       /* the run stopped early (database busy, failure) */
	int skipped;      /* another run of the job held its lock: nothing
			   * done, no run recorded (db_job_lock) */
	char message[200]; /* one line: what happened */
};

/* Each job records its run in job_runs (start, end, items, errors, "ok"
 * or "failed" and res->message) and returns 0 when the run completed
 * without errors, else -1. */
struct batch_remind_opts {
	int chunk; /* users per write transaction; 0: the default */
};
struct batch_report_opts {
	int year, month; /* 0: the month before park_now()'s, in UTC */
	int chunk;
};
int batch_remind(const struct batch_remind_opts *, struct batch_result *);
/* parkctl tick: marks reservations past their grace as no-shows and
 * queues each reservation's reminder PARKD_RESERVATION_REMINDER_MINUTES
 * before its start, each once however often it runs.  now: 0 for the
 * clock (a test gives its own). */
int batch_tick(int64_t now, struct batch_result *);
int batch_report(const struct batch_report_opts *, struct batch_result *);
int batch_cleanup(struct batch_result *);
/* Copies the database to path, which must not exist: written under a
 * temporary name beside it, checked with integrity_check, synced, then
 * linked into place (never over an existing file). */
int batch_backup(const char *path, struct batch_result *);
/* PostgreSQL: pg_dump's archive (custom format, one consistent snapshot)
 * of the database in path, which must not exist: written under a
 * temporary name beside it, checked with pg_restore --list, synced, then
 * linked into place.  The programs: PARKD_PG_DUMP and PARKD_PG_RESTORE
 * from the environment, else pg_dump and pg_restore from PATH. */
int batch_pg_dump(const char *path, struct batch_result *);

/* Pure helpers, for t/14-report.c. */
/* "YYYY-MM" (1970-01 to 9999-12) into *y, *m; 0, or -1 when malformed. */
int batch_month_parse(const char *, int *y, int *m);
/* The calendar month before the one holding t (UTC). */
void batch_month_prev(int64_t t, int *y, int *m);
/* The first second of month m of year y and of the month after (UTC). */
void batch_month_range(int y, int m, int64_t *from, int64_t *to);
/* The weekday of t in UTC: 0 Monday .. 6 Sunday. */
int batch_weekday(int64_t t);
/* Appends s with & < > " ' as HTML character references. */
void batch_html_escape(struct buf *, const char *);

/* A user's month, computed from the reservations by batch_report_compute. */
struct report_lot {
	int64_t lot_id;
	const char *name;
	long long bookings, seconds, cents;
};
struct report {
	/* input */
	const char *username;
	int year, month;
	const struct resv *rows; /* the month's reservations, oldest first */
	size_t nrows;
	int64_t now;             /* the end of reservations still active */
	/* output */
	long long bookings, seconds, cents, avg_seconds;
	long long no_shows, no_show_cents; /* reservations not checked in */
	struct report_lot *lots; /* most bookings first; lots[0] most used */
	size_t nlots;
	long long weekdays[7];   /* bookings per weekday, Monday first */
	int busiest;             /* 0 Monday .. 6 Sunday */
};
/* Fills the output fields; lots come from pool. */
void batch_report_compute(struct report *, struct pool *);
/* Appends the HTML (inline styles and tables only) and plain-text e-mail. */
void batch_report_html(const struct report *, struct buf *);
void batch_report_text(const struct report *, struct buf *);

/* ---- csv.c: RFC 4180 CSV with formula escaping (pure functions) ---- */

/* Appends one cell (a comma first unless first): quoted when it holds '"',
 * ',', CR or LF, quotes doubled; a value starting with = + - @ TAB CR or '
 * gets a ' in front (formula injection); invalid UTF-8 becomes U+FFFD.
 * NULL or "" is an empty cell. */
void csv_cell(struct buf *, int first, const char *, size_t);
void csv_cell_str(struct buf *, int first, const char *);
/* Ends a row: CRLF. */
void csv_row_end(struct buf *);
/* The export's header row, and one reservation row (13 columns). */
void csv_export_header(struct buf *);
void csv_export_row(struct buf *, const struct export_row *);

/* ---- exports.c: CSV export requests, downloads and the batch job ---- */

void exports_request(struct req *, struct resp *);
void exports_status(struct req *, struct resp *);
void exports_download(struct req *, struct resp *);

/* The policy, for the tests and the man pages. */
#define EXPORT_MAX_PENDING 3   /* jobs a user may have queued or running */
#define EXPORT_MAX_PER_DAY 20  /* requests a user may make in 24 hours */
#define EXPORT_MAX_ATTEMPTS 3  /* runs that may try a job; then FAILURE */
#define EXPORT_STALE_S 600     /* a claim without progress this long is
                                  taken over (its runner died) */
#define EXPORT_PAGE_ROWS 500   /* reservations read per query */
#define EXPORT_MAX_ROWS 1000000 /* more: the job fails */

/* 1 when name has the form of an export file parkctl makes:
 * parking_<user id>_<YYYYmmddHHMMSS>_<6 hex>.csv (nothing else is ever
 * looked up or handed to nginx). */
int exports_name_ok(const char *);
/* A signed download link token for the file of job task_id, valid until
 * exp: "<task_id>.<exp>.<base64url HMAC-SHA256>" (the HMAC, keyed with a
 * key derived from JWT_SECRET_KEY, covers "export:<task_id>:<filename>:
 * <exp>").  Appended to out. */
void exports_link_token(const char *task_id, const char *filename,
    int64_t exp, struct buf *out);
/* Checks a link token for filename (constant-time compare, then expiry):
 * TOK_OK with the job's id in task_id, TOK_EXPIRED, or TOK_INVALID. */
enum tokerr exports_link_check(const char *token, const char *filename,
    char task_id[33]);

/* What "parkctl exports" is asked to do and what it did. */
struct exports_run {
	int max_jobs;      /* jobs to claim at most; 0: all that are due */
	int stale_after_s; /* EXPORT_STALE_S unless set */
	int pause_ms;      /* sleep between pages, to yield to the API */
	long long done;    /* jobs exported (SUCCESS, mail queued) */
	long long failed;  /* jobs ended as FAILURE */
	long long retry;   /* jobs put back to be tried by a later run */
	char message[200]; /* one line for job_runs and the operator */
};
/*
 * Runs the export job: claims due jobs one at a time and writes each CSV
 * to a temporary file in EXPORT_FOLDER (0640, never following a link),
 * syncs it and renames it into place under a new name, then marks the job
 * SUCCESS and queues the e-mail with a signed link in one transaction.
 * Records the run in job_runs (job "exports").  Returns 0 when every job
 * claimed was exported (or none was due), 1 when some failed or were put
 * back, -1 when the run could not work (database, export folder; logged).
 * Needs an open database and the settings (JWT_SECRET_KEY included).
 */
int exports_run(struct exports_run *);
/*
 * For "parkctl cleanup": deletes the export files and the job rows of
 * jobs finished (SUCCESS or FAILURE) before older_than (unix time), then
 * export files and temporary files in EXPORT_FOLDER older than that which
 * no job names (left by killed runs).  Symbolic links and other files are
 * left alone.  *files and *rows count what went.  Returns 0, or -1 when
 * the folder or the database failed (logged).
 */
int exports_cleanup(int64_t older_than, long long *files, long long *rows);

/* ---- sys.c: handlers of / and /api/health ---- */

void sys_index(struct req *, struct resp *);
void sys_health(struct req *, struct resp *);

/* ---- metrics.c: GET /metrics, counters shared by all workers ---- */

/* The counters without labels of their own (metrics.c names them). */
enum mx_counter {
	MX_WORKER_STARTS, MX_WORKER_EXITS, MX_WORKER_CRASHES,
	MX_HTTP_5XX, MX_BODY_TOO_LARGE, MX_BODY_MEDIA_TYPE, MX_BODY_INVALID,
	MX_HASH_REFUSED,
	MX_DB_BUSY_WAITS, MX_DB_BUSY_TIMEOUTS, MX_DB_QUEUE_WAITS,
	MX_DB_QUEUE_TIMEOUTS,
	MX_CACHE_HITS, MX_CACHE_MISSES, MX_CACHE_ERRORS,
	MX_BOOKINGS, MX_RELEASES, MX_RESV_MADE, MX_RESV_CHECKED_IN,
	MX_RESV_CANCELLED,
	MX__COUNT
};
/* The supervisor, before its first fork: maps the shared counters.
 * Returns 0 or -1 (errno).  Until then (parkctl, unit tests) every update
 * below is a no-op. */
int metrics_init(void);
void metrics_add(enum mx_counter, uint64_t);
#define metrics_inc(c) metrics_add((c), 1)
int64_t metrics_now_us(void); /* CLOCK_MONOTONIC, microseconds */
/* A worker at its start takes a slot; the supervisor frees it when it
 * reaps the worker (and counts the exit: crashed or not). */
void metrics_worker_start(void);
void metrics_worker_gone(pid_t, int crashed);
/* Around each request of fcgi.c: begin returns its start time. */
int64_t metrics_begin(void);
void metrics_end(const struct req *, const struct resp *, int64_t started_us);
void metrics_tx(int64_t us);           /* a write transaction's hold */
void metrics_breaker(int64_t until_ms); /* a worker skips Redis until */
/* 1 when addr is in list (PARKD_METRICS_ALLOW's form), else 0. */
int metrics_allowed(const char *list, const char *addr);
void metrics_scrape(struct req *, struct resp *);

/* ---- fcgi.c: the libfcgi adapter ---- */

/* Serves requests on the listening fd until told to stop or max requests
 * were served.  Returns the number of requests served. */
long fcgi_serve(int listen_fd, long max_requests);
/* Asks the serving loop to stop after the current request. */
void fcgi_stop(void);

/* ---- db-import.c: parkctl import-flask, the Flask backend's database ---- */

/* What import_flask() is asked to do. */
struct import_opts {
	const char *path; /* the old parking_app.db, opened read-only */
	const char *tz;   /* the old server's time zone; NULL: this machine's */
	int dry_run;      /* do everything and report, then roll back */
};

enum import_rc {
	IMPORT_OK,      /* committed (rolled back for a dry run) */
	IMPORT_REFUSED, /* not a sound database of the old backend */
	IMPORT_FAILED,  /* parkd's database failed: rolled back */
	IMPORT_BAD_TZ,  /* tz is no time zone this machine knows */
};

/*
 * Imports the old file into the open database in one transaction: nothing
 * or everything, and never a row twice (import_map).  Appends the report
 * (a header, one line per repair, skip or merge, the counts per kind, the
 * outcome) to out; on anything but IMPORT_OK nothing changed and err says
 * why.  Sets TZ while it runs when tz is given.
 */
enum import_rc import_flask(const struct import_opts *, struct buf *out,
    struct buf *err);

/* ---- db-copy.c: parkctl db copy ---- */

/* What db_copy() is asked to do. */
struct copy_opts {
	const char *to; /* the target, a postgresql:// URI */
	int dry_run;    /* check and report; write nothing, migrate nothing */
};
enum copy_rc {
	COPY_OK,      /* committed (for a dry run: would be) */
	COPY_REFUSED, /* not an SQLite source, a target not empty... */
	COPY_FAILED,  /* a failure on the way: nothing was committed */
};
/*
 * Copies the SQLite database of conf.db_path, every table with its ids,
 * into the empty PostgreSQL database o->to (migrated first), in one
 * transaction that commits only when every table's counts and sums are
 * the same on both.  Leaves the target as this process's connection.
 * Appends what was done to out, or why not to err.
 */
enum copy_rc db_copy(const struct copy_opts *o, struct buf *out,
    struct buf *err);

/* ---- sqlembed.c (generated from sql/) ---- */

struct sql_file {
	const char *name;
	const char *text;
};
extern const struct sql_file sql_migrations[];
extern const size_t sql_nmigrations;
extern const char sql_sample[];
/* sqlembed-pg.c (generated from sql/pg/): PostgreSQL's own */
extern const struct sql_file sql_pg_migrations[];
extern const size_t sql_pg_nmigrations;
extern const char sql_pg_sample[];

#define PARK_VERSION_STR PACKAGE_VERSION

#endif /* PARK_H */
