/*
 * 06-cache.c: REDIS_CACHE_URL's parser (cache_url_parse): every form it
 * takes, every way it refuses, and that what it says never holds the
 * password; and the prepared HMAC key the cache tags its values with.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "park.h"
#include "tap.h"

static struct cache_url u;
static const char *why;

/* Parses url, which must succeed. */
static int
good(const char *url)
{
	why = NULL;
	if (cache_url_parse(url, &u, &why) != 0) {
		diag("%s refused: %s", url, why ? why : "(no reason)");
		return 0;
	}
	return 1;
}

/* Parses url, which must fail with a reason holding want and never
 * "hunter2" (the password of the bad URLs). */
static int
bad(const char *url, const char *want)
{
	why = NULL;
	if (cache_url_parse(url, &u, &why) == 0) {
		diag("%s accepted", url);
		return 0;
	}
	if (why == NULL || strstr(why, want) == NULL ||
	    strstr(why, "hunter2") != NULL) {
		diag("%s: reason \"%s\", want \"%s\"", url, why ? why : "",
		    want);
		return 0;
	}
	return 1;
}

static void
test_good(void)
{
	ok(good("redis://127.0.0.1:6379/0") && strcmp(u.host,
	    "127.0.0.1") == 0 && u.port == 6379 && u.db == 0 &&
	    u.path[0] == '\0' && u.password[0] == '\0' && u.user[0] == '\0',
	    "redis://127.0.0.1:6379/0");
	ok(good("redis://localhost") && strcmp(u.host, "localhost") == 0 &&
	    u.port == 6379 && u.db == 0, "redis://localhost: port 6379, db 0");
	ok(good("redis://cache.example.com/") && u.db == 0,
	    "a / without a number: db 0");
	ok(good("redis://h:6380/15") && u.port == 6380 && u.db == 15,
	    "port 6380, db 15");
	ok(good("redis://h:65535/1") && u.port == 65535, "port 65535");
	ok(good("redis://h:1") && u.port == 1 && u.db == 0, "port 1, no db");
	ok(good("redis://:hunter2@127.0.0.1:6379/1") &&
	    strcmp(u.password, "hunter2") == 0 && u.user[0] == '\0' &&
	    strcmp(u.host, "127.0.0.1") == 0 && u.db == 1,
	    "redis://:password@host:port/db");
	ok(good("redis://alice:s3cret@h/2") && strcmp(u.user, "alice") == 0 &&
	    strcmp(u.password, "s3cret") == 0 && u.db == 2,
	    "redis://user:password@host/db (a Redis 6 ACL user)");
	ok(good("redis://:p%40ss%3Aw%2Frd%25x@h:6379/1") &&
	    strcmp(u.password, "p@ss:w/rd%x") == 0 && strcmp(u.host, "h") == 0,
	    "percent-escapes in the password are decoded");
	ok(good("redis://:a@b:c!$&'()*+,;=~@h:7") &&
	    strcmp(u.password, "a@b:c!$&'()*+,;=~") == 0 &&
	    strcmp(u.host, "h") == 0 && u.port == 7,
	    "a password with @ : and punctuation: the last @ ends it");
	ok(good("redis://:%E2%82%AC@h") && strcmp(u.password,
	    "\xe2\x82\xac") == 0, "a UTF-8 password, escaped");
	ok(good("redis://[::1]:6390/3") && strcmp(u.host, "::1") == 0 &&
	    u.port == 6390 && u.db == 3, "an [IPv6] host");
	ok(good("redis://[::1]") && strcmp(u.host, "::1") == 0 &&
	    u.port == 6379, "an [IPv6] host without a port");
	ok(good("unix:///run/redis/redis-server.sock") &&
	    strcmp(u.path, "/run/redis/redis-server.sock") == 0 &&
	    u.host[0] == '\0' && u.db == 0 && u.password[0] == '\0',
	    "unix:///path");
	ok(good("unix:///tmp/r.sock?db=7") && strcmp(u.path, "/tmp/r.sock")
	    == 0 && u.db == 7, "unix:///path?db=N");
	ok(good("unix://:hunter2@/tmp/r.sock?db=1") &&
	    strcmp(u.path, "/tmp/r.sock") == 0 &&
	    strcmp(u.password, "hunter2") == 0 && u.db == 1,
	    "unix://:password@/path?db=N");
}

static void
test_bad(void)
{
	char longpath[200];

	ok(bad("", "redis://"), "empty: refused (the caller skips it)");
	ok(bad("http://:hunter2@h/", "redis://"), "http:// refused");
	ok(bad("redis:/h", "redis://"), "redis:/ refused");
	ok(bad("REDIS://h", "redis://"), "upper-case scheme refused");
	ok(bad("redis://", "no host"), "no host");
	ok(bad("redis://:6379/0", "no host"), "only a port");
	ok(bad("redis://:hunter2@/0", "no host"), "a password, no host");
	ok(bad("redis://:hunter2@h:0/1", "port"), "port 0");
	ok(bad("redis://:hunter2@h:70000/1", "port"), "port 70000");
	ok(bad("redis://h:65536", "port"), "port 65536");
	ok(bad("redis://h:", "port"), "an empty port");
	ok(bad("redis://h:63a9", "port"), "a port with a letter");
	ok(bad("redis://h:-1", "port"), "a negative port");
	ok(bad("redis://h:+80", "port"), "a port with a sign");
	ok(bad("redis://h:0000006379", "port"), "a port of 10 digits");
	ok(bad("redis://h/16", "database"), "db 16");
	ok(bad("redis://h/-1", "database"), "db -1");
	ok(bad("redis://h/1x", "database"), "db 1x");
	ok(bad("redis://h/0?timeout=1", "database"), "a query after the db");
	ok(bad("redis://h/0/1", "database"), "a path after the db");
	ok(bad("redis://hunter2@h/0", "needs a password"),
	    "a user without a password");
	ok(bad("redis://:@h/0", "password is empty"), "an empty password");
	ok(bad("redis://alice:@h/0", "password is empty"),
	    "a user with an empty password");
	ok(bad("redis://:hunter2%zz@h", "escape"), "a bad escape");
	ok(bad("redis://:hunter2%4@h", "escape"), "a cut escape");
	ok(bad("redis://:hunter2%0a@h", "control"),
	    "a control character, escaped");
	ok(bad("redis://:hunter2%00@h", "control"), "a NUL, escaped");
	ok(bad("redis://h h:1", "host"), "a space in the host");
	ok(bad("redis://h\\x", "host"), "a backslash in the host");
	ok(bad("redis://[::1", "IPv6"), "an unclosed [");
	ok(bad("redis://[]:1", "IPv6"), "empty []");
	ok(bad("redis://[::1]x", "IPv6"), "text after ]");
	ok(bad("redis://[::g]", "IPv6"), "not hex in []");
	ok(bad("unix://", "no socket"), "unix:// without a path");
	ok(bad("unix:///", "no socket"), "unix:/// alone");
	ok(bad("unix://?db=1", "no socket"), "unix:// with only a query");
	ok(bad("unix:///tmp/dir/", "no socket"), "a path ending in /");
	ok(bad("unix://tmp/r.sock", "no host"), "a relative path");
	ok(bad("unix://:hunter2@h/r.sock", "no host"), "a host in unix://");
	ok(bad("unix:///tmp/r.sock?db=16", "db=N"), "unix db 16");
	ok(bad("unix:///tmp/r.sock?db=", "db=N"), "unix db empty");
	ok(bad("unix:///tmp/r.sock?password=hunter2", "db=N"),
	    "another query parameter");
	ok(bad("unix:///tmp/r.sock#x", "db=N"), "a fragment");
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:///", 8);
	longpath[8 + 107] = '\0';
	ok(bad(longpath, "107 bytes"), "a socket path of 108 bytes");
	longpath[8 + 106] = '\0';
	ok(good(longpath) && strlen(u.path) == 107,
	    "a socket path of 107 bytes");
}

/* RFC 4231 test case 2, and that a prepared key gives hmac_sha256()'s
 * answer for a message in two parts, again and again. */
static void
test_hmac(void)
{
	static const unsigned char want[32] = {
		0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04,
		0x24, 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08,
		0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec,
		0x38, 0x43 };
	const char *msg = "what do ya want for nothing?";
	unsigned char a[32], b[32];
	struct hmac_key *h = hmac_key_new("Jefe", 4);
	int i, same = 1;

	if (!ok(h != NULL, "hmac_key_new"))
		return;
	ok(hmac_key_sign2(h, msg, 10, msg + 10, strlen(msg) - 10, a) == 0 &&
	    memcmp(a, want, 32) == 0, "RFC 4231 case 2, in two parts");
	for (i = 0; i < 5; i++) {
		hmac_sha256("Jefe", 4, msg, (size_t)i * 5, b);
		if (hmac_key_sign2(h, msg, (size_t)i * 2, msg + i * 2,
		    (size_t)i * 3, a) != 0 || memcmp(a, b, 32) != 0)
			same = 0;
	}
	ok(same, "the prepared key again: as hmac_sha256() each time");
	ok(hmac_key_sign2(h, "", 0, "", 0, a) == 0 &&
	    (hmac_sha256("Jefe", 4, "", 0, b), memcmp(a, b, 32) == 0),
	    "an empty message");
	hmac_key_free(h);
}

int
main(void)
{
	test_good();
	test_bad();
	test_hmac();
	return done_testing();
}
