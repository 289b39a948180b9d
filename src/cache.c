/*
 * cache.c: the one file that includes hiredis.  Redis is only a cache:
 * every caller must work the same when it is disabled, stopped or frozen.
 *
 * hiredis 0.14 pitfalls handled here (reliability.md F4):
 * - redisConnectWithTimeout() bounds only connect(): redisSetTimeout() is
 *   set after every (re)connect so a frozen Redis cannot block a worker.
 * - after an error the context is unusable: it is freed, and a circuit
 *   breaker skips Redis for conf.redis_breaker_s seconds before trying a
 *   new connection.
 * - replies are type-checked before use and freed exactly once; commands
 *   use constant formats with %b arguments only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "park.h"

static struct {
	int enabled;
	char host[256];
	int port;
	char path[256]; /* unix socket, when set */
	int db;
	int timeout_ms;
	int breaker_s;
	redisContext *c;
	int64_t skip_until_ms; /* the breaker is open until then */
} cache;

/*
 * Parses redis://host:port/db or unix:///path?db=N.  Returns 0 or -1.
 */
static int
cache_parse_url(const char *url)
{
	const char *p, *slash, *colon;
	size_t n;

	cache.port = 6379;
	cache.db = 0;
	cache.host[0] = cache.path[0] = '\0';
	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		n = strcspn(p, "?");
		if (n == 0 || n >= sizeof(cache.path))
			return -1;
		memcpy(cache.path, p, n);
		cache.path[n] = '\0';
		if (strncmp(p + n, "?db=", 4) == 0)
			cache.db = atoi(p + n + 4);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	p = url + 8;
	if ((slash = strchr(p, '/')) == NULL)
		slash = p + strlen(p);
	else
		cache.db = atoi(slash + 1);
	colon = memchr(p, ':', (size_t)(slash - p));
	n = (size_t)((colon != NULL ? colon : slash) - p);
	if (n == 0 || n >= sizeof(cache.host))
		return -1;
	memcpy(cache.host, p, n);
	cache.host[n] = '\0';
	if (colon != NULL)
		cache.port = atoi(colon + 1);
	if (cache.port <= 0 || cache.port > 65535 || cache.db < 0 ||
	    cache.db > 15)
		return -1;
	return 0;
}

void
cache_init(const char *url, int timeout_ms, int breaker_s)
{
	memset(&cache, 0, sizeof(cache));
	cache.timeout_ms = timeout_ms > 0 ? timeout_ms : 200;
	cache.breaker_s = breaker_s >= 0 ? breaker_s : 5;
	if (url == NULL || *url == '\0')
		return;
	if (cache_parse_url(url) != 0) {
		log_msg(LOG_WARN, "REDIS_CACHE_URL is not redis://host:port/db"
		    " or unix:///path: cache disabled");
		return;
	}
	cache.enabled = 1;
}

/* Drops the connection and opens the breaker after an error. */
static void
cache_fail(const char *what)
{
	if (cache.c != NULL) {
		log_msg(LOG_WARN, "redis %s failed: %s; skipping the cache "
		    "for %d s", what, cache.c->errstr[0] ? cache.c->errstr :
		    "bad reply", cache.breaker_s);
		redisFree(cache.c);
		cache.c = NULL;
	}
	cache.skip_until_ms = park_ms() + (int64_t)cache.breaker_s * 1000;
}

/* Returns a usable context, or NULL when disabled, failing or skipped. */
static redisContext *
cache_conn(void)
{
	struct timeval tv;
	redisReply *rep;

	if (!cache.enabled)
		return NULL;
	if (cache.c != NULL)
		return cache.c;
	if (park_ms() < cache.skip_until_ms)
		return NULL;
	tv.tv_sec = cache.timeout_ms / 1000;
	tv.tv_usec = (cache.timeout_ms % 1000) * 1000;
	if (cache.path[0] != '\0')
		cache.c = redisConnectUnixWithTimeout(cache.path, tv);
	else
		cache.c = redisConnectWithTimeout(cache.host, cache.port, tv);
	if (cache.c == NULL) {
		cache.skip_until_ms = park_ms() +
		    (int64_t)cache.breaker_s * 1000;
		return NULL;
	}
	if (cache.c->err != 0 || redisSetTimeout(cache.c, tv) != REDIS_OK) {
		cache_fail("connect");
		return NULL;
	}
	if (cache.db != 0) {
		rep = redisCommand(cache.c, "SELECT %d", cache.db);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			if (rep != NULL)
				freeReplyObject(rep);
			cache_fail("SELECT");
			return NULL;
		}
		freeReplyObject(rep);
	}
	return cache.c;
}

void
cache_done(void)
{
	if (cache.c != NULL)
		redisFree(cache.c);
	cache.c = NULL;
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
		cache_fail("PING");
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

int
cache_get(const char *key, struct buf *out)
{
	redisContext *c;
	redisReply *rep;
	int rc = -1;

	if ((c = cache_conn()) == NULL)
		return -1;
	rep = redisCommand(c, "GET %b", key, strlen(key));
	if (rep == NULL) {
		cache_fail("GET");
		return -1;
	}
	if (rep->type == REDIS_REPLY_STRING) {
		buf_reset(out);
		buf_add(out, rep->str, rep->len);
		rc = 0;
	}
	freeReplyObject(rep);
	return rc;
}

void
cache_set(const char *key, const char *val, size_t len, int ttl_s)
{
	redisContext *c;
	redisReply *rep;

	if ((c = cache_conn()) == NULL)
		return;
	rep = redisCommand(c, "SET %b %b EX %d", key, strlen(key), val, len,
	    ttl_s > 0 ? ttl_s : 60);
	if (rep == NULL) {
		cache_fail("SET");
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
		cache_fail("INCR");
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
	*key = pool_printf(p, "parkd:v1:%s:%lld:%s", family, gen, name);
	return cache_get(*key, out);
}

void
cache_put(const char *key, const char *val, size_t len)
{
	/* CACHE_TTL=0: cache nothing. */
	if (key != NULL && conf.cache_ttl_s > 0)
		cache_set(key, val, len, conf.cache_ttl_s);
}
