/*
 * 16-memo.c: memo.c, the worker's texts by data version: a hit only at the
 * version an entry was made at, a newer version dropping the rest, the
 * slot and byte budgets with least-recently-used eviction, and what it
 * refuses to keep.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "park.h"
#include "tap.h"

/* 1 when key is in the memo at version with exactly text. */
static int
has(const char *key, uint64_t version, const char *text)
{
	const char *p;
	size_t len;

	if (memo_get(key, version, &p, &len) != 0)
		return 0;
	return len == strlen(text) && memcmp(p, text, len) == 0;
}

int
main(void)
{
	char key[64], big[2048];
	const char *p;
	size_t len;
	int64_t now;
	int i, n;

	conf.memo_kb = 1;

	ok(!has("a", 1, "A"), "empty memo: miss");
	memo_put("a", 1, "A", 1);
	ok(has("a", 1, "A"), "hit at the version it was made at");
	ok(!has("a", 2, "A"), "miss at a newer version");
	ok(!has("a", 0, "A"), "version 0 never hits");
	ok(!has("b", 1, "A"), "miss for another key");
	memo_put("a", 1, "AA", 2);
	ok(has("a", 1, "AA"), "a second put of a key replaces its text");

	memo_put("b", 1, "B", 1);
	memo_put("c", 2, "C", 1);
	ok(has("c", 2, "C"), "an entry of a newer version");
	ok(!has("a", 1, "AA") && !has("b", 1, "B"),
	    "a newer version drops every older entry");
	ok(!has("a", 2, "AA"), "and they do not come back at it");

	memo_put("z", 0, "Z", 1);
	ok(!has("z", 0, "Z"), "version 0 is not kept");
	ok(has("c", 2, "C"), "nor does it disturb the memo");

	/* slots: the least recently used goes first */
	memo_clear();
	ok(!has("c", 2, "C"), "memo_clear drops everything");
	for (i = 0; i < MEMO_SLOTS; i++) {
		snprintf(key, sizeof key, "k%d", i);
		memo_put(key, 5, "x", 1);
	}
	ok(has("k0", 5, "x"), "k0 kept while slots last (and now used)");
	memo_put("new", 5, "y", 1);
	ok(has("new", 5, "y"), "a put past the slots is kept");
	ok(has("k0", 5, "x"), "the recently used k0 stays");
	ok(!has("k1", 5, "x"), "the least recently used k1 went");
	for (n = 0, i = 0; i < MEMO_SLOTS; i++) {
		snprintf(key, sizeof key, "k%d", i);
		n += has(key, 5, "x");
	}
	is_int(n, MEMO_SLOTS - 1, "every other entry stays");

	/* bytes: conf.memo_kb in all */
	memo_clear();
	memset(big, 'b', sizeof big);
	memo_put("big", 7, big, 1025);
	ok(memo_get("big", 7, &p, &len) != 0, "a text over the budget is "
	    "not kept");
	memo_put("h1", 7, big, 600);
	memo_put("h2", 7, big, 400);
	ok(memo_get("h1", 7, &p, &len) == 0 && len == 600 &&
	    memo_get("h2", 7, &p, &len) == 0 && len == 400,
	    "two texts within 1 KiB are both kept");
	memo_put("h3", 7, big, 100);
	ok(memo_get("h1", 7, &p, &len) != 0, "the least recently used "
	    "text makes room");
	ok(memo_get("h2", 7, &p, &len) == 0 && memo_get("h3", 7, &p, &len)
	    == 0, "for the new one");

	memset(key, 'k', sizeof key);
	key[sizeof key - 1] = '\0';
	memo_put(key, 7, "x", 1);
	ok(memo_get(key, 7, &p, &len) != 0, "a key too long is not kept");

	conf.memo_kb = 0;
	memo_clear();
	memo_put("off", 8, "x", 1);
	ok(memo_get("off", 8, &p, &len) != 0, "PARKD_MEMO_KB=0 keeps nothing");
	memo_put("empty", 8, "", 0);
	ok(memo_get("empty", 8, &p, &len) != 0, "not even an empty text");
	conf.memo_kb = 1;
	memo_put("empty", 8, "", 0);
	ok(memo_get("empty", 8, &p, &len) == 0 && len == 0,
	    "an empty text is kept");

	/* an answer that moves with the clock: a hit only within the
	 * range it was put with */
	now = park_now();
	memo_put_until("t-now", 9, "T", 1, now - 5, now + 60);
	ok(has("t-now", 9, "T"), "a text within its clock range: hit");
	memo_put_until("t-past", 9, "P", 1, now - 60, now);
	ok(!has("t-past", 9, "P"), "at its until: miss (the clock changed "
	    "the answer)");
	memo_put_until("t-ahead", 9, "A", 1, now + 60, now + 120);
	ok(!has("t-ahead", 9, "A"), "before its from (a clock set back): "
	    "miss");
	ok(!has("t-now", 10, "T"), "a clock range does not outlive the "
	    "version");
	memo_clear();
	return done_testing();
}
