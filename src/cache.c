/*
 * cache.c: the one file that includes hiredis.  Redis is only a cache:
 * every caller must work the same when it is disabled, stopped or frozen.
 *
 * hiredis 0.14 pitfalls handled here (reliability.md F4):
 * - redisConnectWithTimeout() bounds only connect(): redisSetTimeout() is
 *   set after every (re)connect so a frozen Redis cannot block a worker.
 * - after an error the context is unusable: it is freed, and a circuit
 *   breaker skips Redis for conf.redis_breaker_s seconds before trying a
 *   new connection, which sends AUTH and SELECT again (never
 *   redisReconnect(), which would keep neither them nor the timeout).
 * - replies are type-checked before use and freed exactly once; commands
 *   use constant formats with %b arguments only.
 *
 * Redis is not trusted (reliability.md API10): whoever can write to it
 * could otherwise plant an answer, an admin's grid say.  Every value is
 * stored as tag || text, the tag an HMAC-SHA-256 of the key and the text
 * with a key derived from SECRET_KEY, and is used only when the tag
 * verifies: a value planted, or copied from another key (whose name binds
 * the generation and the versions), is a miss, logged with security:, and
 * the answer is computed and stored over it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "park.h"

#define TAG_LEN 32
/* The derivation label of the tags' key: distinct from every other key
 * derived from the same secret. */
#define TAG_LABEL "parkd cache v1"
/*
 * The prefix of every key.  Bump it whenever the shape of a cached body
 * changes (a key added or renamed, money written differently: json.c's
 * money_text()): an upgrade keeps Redis, the generations and the versions,
 * and would otherwise serve the previous build's bodies under the same
 * keys, validly tagged.  v3: #15's shapes (money with a point, the old
 * reservation keys).
 */
#define KEY_PREFIX "parkd:v3:"
/* A bad tag is logged at most once per this many ms (then with a count). */
#define BAD_TAG_LOG_MS 1000

static struct {
	int enabled;
	struct cache_url url;
	int timeout_ms;
	int breaker_s;
	redisContext *c;
	int64_t skip_until_ms; /* the breaker is open until then */
	struct hmac_key *tag_key;
	int64_t bad_log_ms;     /* no bad-tag line before then */
	unsigned long bad_tags; /* not logged since the last line */
} cache;

/* Decodes the %XX escapes of s[0..n) into out[cap], NUL-ended.  Returns 0,
 * or -1 on a bad escape, a control byte or no room. */
static int
url_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;
	int hi, lo, ch;

	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch == '%') {
			if (i + 2 >= n)
				return -1;
			if ((hi = hex_value(s[i + 1])) < 0 ||
			    (lo = hex_value(s[i + 2])) < 0)
				return -1;
			ch = hi * 16 + lo;
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f || o + 1 >= cap)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* Parses the n decimal digits at s (1 to 5 of them) as 0..max into *v. */
static int
parse_num(const char *s, size_t n, int max, int *v)
{
	size_t i;
	long x = 0;

	if (n < 1 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	if (x > max)
		return -1;
	*v = (int)x;
	return 0;
}

/* 1 when s[0..n) is a host name or IPv4 address: letters, digits, - . _ */
static int
host_chars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.' || s[i] == '_'))
			return 0;
	return n > 0;
}

int
cache_url_parse(const char *url, struct cache_url *u, const char **why)
{
	const char *p, *auth_end, *at, *colon, *h, *h_end, *q;
	size_t n;
	int is_unix, db;

	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (strncmp(url, "redis://", 8) == 0) {
		p = url + 8;
		is_unix = 0;
	} else if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		is_unix = 1;
	} else {
		*why = "must start with redis:// or unix://";
		return -1;
	}
	/* [[user]:password@]: the authority ends at the first /, the user
	 * information at its last @; a / or % in a password is written
	 * %2F, %25. */
	auth_end = p + strcspn(p, "/");
	at = NULL;
	for (h = p; h < auth_end; h++)
		if (*h == '@')
			at = h;
	h = p;
	if (at != NULL) {
		if ((colon = memchr(p, ':', (size_t)(at - p))) == NULL) {
			*why = "a user name needs a password "
			    "(user:password@ or :password@)";
			return -1;
		}
		if (url_decode(p, (size_t)(colon - p), u->user,
		    sizeof(u->user)) != 0 ||
		    url_decode(colon + 1, (size_t)(at - colon - 1),
		    u->password, sizeof(u->password)) != 0) {
			*why = "the user or password is too long, or has a "
			    "bad %XX escape or a control character";
			return -1;
		}
		if (u->password[0] == '\0') {
			*why = "the password is empty";
			return -1;
		}
		h = at + 1;
	}
	if (is_unix) {
		if (*auth_end != '/') {
			*why = "names no socket: write "
			    "unix:///absolute/path.sock";
			return -1;
		}
		if (h != auth_end) {
			*why = "unix:// takes no host: write "
			    "unix:///absolute/path.sock";
			return -1;
		}
		n = strcspn(auth_end, "?#");
		if (n <= 1 || auth_end[n - 1] == '/') {
			*why = "names no socket: write "
			    "unix:///absolute/path.sock";
			return -1;
		}
		if (n >= sizeof(u->path)) {
			*why = "the socket path is longer than 107 bytes";
			return -1;
		}
		memcpy(u->path, auth_end, n);
		q = auth_end + n;
		if (*q != '\0') {
			if (strncmp(q, "?db=", 4) != 0 ||
			    parse_num(q + 4, strlen(q + 4), 15, &db) != 0) {
				*why = "after the path only ?db=N is allowed, "
				    "N from 0 to 15";
				return -1;
			}
			u->db = db;
		}
		return 0;
	}
	/* host: a name, an IPv4 address or [IPv6] */
	if (*h == '[') {
		h_end = memchr(h, ']', (size_t)(auth_end - h));
		n = h_end != NULL ? (size_t)(h_end - h - 1) : 0;
		if (h_end == NULL || n == 0 || n >= sizeof(u->host) ||
		    strspn(h + 1, "0123456789abcdefABCDEF:.") < n) {
			*why = "bad [IPv6] address";
			return -1;
		}
		memcpy(u->host, h + 1, n);
		colon = h_end + 1;
		if (colon != auth_end && *colon != ':') {
			*why = "bad [IPv6] address";
			return -1;
		}
	} else {
		if ((colon = memchr(h, ':', (size_t)(auth_end - h))) == NULL)
			colon = auth_end;
		n = (size_t)(colon - h);
		if (n == 0) {
			*why = "names no host: write "
			    "redis://[:password@]host[:port][/db]";
			return -1;
		}
		if (n >= sizeof(u->host) || !host_chars(h, n)) {
			*why = "the host is not a host name or an address";
			return -1;
		}
		memcpy(u->host, h, n);
	}
	/* colon: at the port's ':', or auth_end without a port */
	if (colon != auth_end &&
	    (parse_num(colon + 1, (size_t)(auth_end - colon - 1), 65535,
	    &u->port) != 0 || u->port == 0)) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	if (*auth_end == '/' && auth_end[1] != '\0' &&
	    parse_num(auth_end + 1, strlen(auth_end + 1), 15, &u->db) != 0) {
		*why = "the database (after the /) must be a number from 0 "
		    "to 15";
		return -1;
	}
	return 0;
}

/* Overwrites n bytes that held a secret (not optimised away). */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

void
cache_init(const char *url, const char *secret, int timeout_ms,
    int breaker_s)
{
	unsigned char k[32];
	const char *why;

	cache_done();
	wipe(&cache, sizeof(cache));
	cache.timeout_ms = timeout_ms > 0 ? timeout_ms : 200;
	cache.breaker_s = breaker_s >= 0 ? breaker_s : 5;
	if (url == NULL || *url == '\0')
		return;
	/* conf_load() has checked it: this is for other callers. */
	if (cache_url_parse(url, &cache.url, &why) != 0) {
		log_msg(LOG_WARN, "REDIS_CACHE_URL %s: cache disabled", why);
		return;
	}
	if (secret == NULL || *secret == '\0') {
		log_msg(LOG_WARN, "no secret to tag cached values with: cache "
		    "disabled");
		return;
	}
	hmac_sha256(secret, strlen(secret), TAG_LABEL, sizeof(TAG_LABEL) - 1,
	    k);
	cache.tag_key = hmac_key_new(k, sizeof(k));
	wipe(k, sizeof(k));
	if (cache.tag_key == NULL) {
		log_msg(LOG_WARN, "cannot make the cache's HMAC key: cache "
		    "disabled");
		return;
	}
	cache.enabled = 1;
}

/*
 * Drops the connection and opens the breaker after an error; detail is
 * what Redis answered (NULL: the context's own error).
 */
static void
cache_fail(const char *what, const char *detail)
{
	struct buf b = { 0 };

	if (cache.c != NULL) {
		if (detail == NULL)
			detail = cache.c->errstr[0] ? cache.c->errstr :
			    "bad reply";
		text_escape_log(&b, detail, strnlen(detail, 120));
		log_msg(LOG_WARN, "redis %s failed: %s; skipping the cache "
		    "for %d s", what, b.p != NULL ? b.p : "", cache.breaker_s);
		buf_free(&b);
		redisFree(cache.c);
		cache.c = NULL;
	}
	cache.skip_until_ms = park_ms() + (int64_t)cache.breaker_s * 1000;
	metrics_inc(MX_CACHE_ERRORS);
	metrics_breaker(cache.skip_until_ms);
}

/*
 * Checks the reply of a set-up command; 0 when it succeeded, else -1 after
 * cache_fail().  Of an AUTH error only the code (WRONGPASS, NOAUTH...) is
 * logged: nothing of what was sent may reach the log.
 */
static int
cache_setup_reply(redisReply *rep, const char *what)
{
	char code[32];
	size_t n;

	if (rep == NULL) {
		cache_fail(what, NULL);
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		if (strcmp(what, "AUTH") == 0) {
			n = strcspn(rep->str, " ");
			if (n >= sizeof(code))
				n = sizeof(code) - 1;
			memcpy(code, rep->str, n);
			code[n] = '\0';
			cache_fail(what, code);
		} else {
			cache_fail(what, rep->str);
		}
		freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

/* Returns a usable context, or NULL when disabled, failing or skipped. */
static redisContext *
cache_conn(void)
{
	struct timeval tv;
	const struct cache_url *u = &cache.url;

	if (!cache.enabled)
		return NULL;
	if (cache.c != NULL)
		return cache.c;
	if (park_ms() < cache.skip_until_ms)
		return NULL;
	tv.tv_sec = cache.timeout_ms / 1000;
	tv.tv_usec = (cache.timeout_ms % 1000) * 1000;
	if (u->path[0] != '\0')
		cache.c = redisConnectUnixWithTimeout(u->path, tv);
	else
		cache.c = redisConnectWithTimeout(u->host, u->port, tv);
	if (cache.c == NULL) {
		cache.skip_until_ms = park_ms() +
		    (int64_t)cache.breaker_s * 1000;
		metrics_inc(MX_CACHE_ERRORS);
		metrics_breaker(cache.skip_until_ms);
		return NULL;
	}
	if (cache.c->err != 0 || redisSetTimeout(cache.c, tv) != REDIS_OK) {
		cache_fail("connect", NULL);
		return NULL;
	}
	if (u->password[0] != '\0' && cache_setup_reply(u->user[0] != '\0' ?
	    redisCommand(cache.c, "AUTH %b %b", u->user, strlen(u->user),
	    u->password, strlen(u->password)) :
	    redisCommand(cache.c, "AUTH %b", u->password,
	    strlen(u->password)), "AUTH") != 0)
		return NULL;
	if (u->db != 0 && cache_setup_reply(redisCommand(cache.c,
	    "SELECT %d", u->db), "SELECT") != 0)
		return NULL;
	return cache.c;
}

void
cache_done(void)
{
	if (cache.c != NULL)
		redisFree(cache.c);
	cache.c = NULL;
	hmac_key_free(cache.tag_key);
	cache.tag_key = NULL;
	cache.enabled = 0;
}

enum cache_state
cache_ping(void)
{
	redisContext *c;
	redisReply *rep;
	int up;

	if (!cache.enabled)
		return CACHE_DISABLED;
	if ((c = cache_conn()) == NULL)
		return CACHE_DOWN;
	rep = redisCommand(c, "PING");
	up = rep != NULL && rep->type == REDIS_REPLY_STATUS;
	if (rep != NULL)
		freeReplyObject(rep);
	if (!up) {
		cache_fail("PING", NULL);
		return CACHE_DOWN;
	}
	return CACHE_UP;
}

const char *
cache_state_str(enum cache_state s)
{
	switch (s) {
	case CACHE_UP:
		return "up";
	case CACHE_DOWN:
		return "down";
	case CACHE_DISABLED:
		break;
	}
	return "disabled";
}

/* Logs a value whose tag did not verify: the first at once, then at most
 * one line per BAD_TAG_LOG_MS, counting the rest. */
static void
cache_bad_tag(const char *key, size_t klen)
{
	struct buf b = { 0 };
	int64_t now = park_ms();

	cache.bad_tags++;
	if (now < cache.bad_log_ms)
		return;
	text_escape_log(&b, key, klen > 120 ? 120 : klen);
	log_msg(LOG_WARN, "security: cached value of %s failed its integrity "
	    "check (written by someone else into Redis, or with another "
	    "SECRET_KEY); not used, replaced (%lu such in this worker since "
	    "the last line)", b.p != NULL ? b.p : "", cache.bad_tags);
	buf_free(&b);
	cache.bad_tags = 0;
	cache.bad_log_ms = now + BAD_TAG_LOG_MS;
}

int
cache_get(const char *key, struct buf *out)
{
	redisContext *c;
	redisReply *rep;
	unsigned char mac[TAG_LEN];
	size_t klen = strlen(key);
	int rc = -1;

	if ((c = cache_conn()) == NULL)
		return -1;
	rep = redisCommand(c, "GET %b", key, klen);
	if (rep == NULL) {
		cache_fail("GET", NULL);
		return -1;
	}
	if (rep->type == REDIS_REPLY_STRING) {
		/* The key's NUL ends it: key || NUL || text is unambiguous. */
		if (rep->len < TAG_LEN ||
		    hmac_key_sign2(cache.tag_key, key, klen + 1,
		    rep->str + TAG_LEN, rep->len - TAG_LEN, mac) != 0 ||
		    ct_memcmp(mac, rep->str, TAG_LEN) != 0) {
			cache_bad_tag(key, klen);
		} else {
			buf_reset(out);
			buf_add(out, rep->str + TAG_LEN, rep->len - TAG_LEN);
			rc = 0;
		}
	} else if (rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "WRONGTYPE", 9) == 0) {
		/* A list or a set under our key: not ours either.  (Other
		 * errors, LOADING or NOAUTH, are plain misses.) */
		cache_bad_tag(key, klen);
	}
	freeReplyObject(rep);
	metrics_inc(rc == 0 ? MX_CACHE_HITS : MX_CACHE_MISSES);
	return rc;
}

void
cache_set(const char *key, const char *val, size_t len, int ttl_s)
{
	redisContext *c;
	redisReply *rep;
	unsigned char tag[TAG_LEN];
	size_t klen = strlen(key);

	if ((c = cache_conn()) == NULL ||
	    hmac_key_sign2(cache.tag_key, key, klen + 1, val, len, tag) != 0)
		return;
	/* hiredis joins %b%b into one argument: tag || text. */
	rep = redisCommand(c, "SET %b %b%b EX %d", key, klen, tag,
	    sizeof(tag), val, len, ttl_s > 0 ? ttl_s : 60);
	if (rep == NULL) {
		cache_fail("SET", NULL);
		return;
	}
	freeReplyObject(rep);
}

long long
cache_incr(const char *key)
{
	redisContext *c;
	redisReply *rep;
	long long v = -1;

	if ((c = cache_conn()) == NULL)
		return -1;
	rep = redisCommand(c, "INCR %b", key, strlen(key));
	if (rep == NULL) {
		cache_fail("INCR", NULL);
		return -1;
	}
	if (rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	freeReplyObject(rep);
	return v;
}

int
cache_fetch(struct pool *p, const char *family, const char *name,
    struct buf *out, char **key)
{
	long long gen;

	*key = NULL;
	if (!cache.enabled || park_ms() < cache.skip_until_ms)
		return -1;
	if (db_gen_get(family, &gen) != DB_OK)
		return -1;
	*key = pool_printf(p, KEY_PREFIX "%s:%lld:%s", family, gen,
	    name);
	return cache_get(*key, out);
}

void
cache_put(const char *key, const char *val, size_t len)
{
	/* CACHE_TTL=0: cache nothing. */
	if (key != NULL && conf.cache_ttl_s > 0)
		cache_set(key, val, len, conf.cache_ttl_s);
}
