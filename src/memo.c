/*
 * memo.c: answers this worker rendered, kept by data version.
 *
 * The lot lists and grids are read far more often than anything changes.
 * Every request with a token already runs one statement (the session
 * check), after which db_data_version() says which snapshot of the
 * database it saw; SQLite changes that version with every commit by any
 * connection of any process.  A text rendered from a snapshot can
 * therefore be served again, byte for byte, to a request that saw the same
 * version, with no query and no JSON writing, and can never be stale: no
 * writer has to invalidate anything, parkctl and the sqlite3 shell
 * included.
 *
 * An answer that also moves with the clock (availability, a day's slots:
 * a reservation past its grace stops holding, a car on a spot stops
 * blocking a window once the window is beyond the overstay guard) is put
 * with the clock range in which it cannot change (memo_put_until()), and
 * is a miss outside it.
 *
 * The memo holds the texts of one version at a time: versions of a
 * connection only move forward, so a text of an older version can never
 * be used again and is dropped when a newer one is put.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "park.h"

#define MEMO_KEY 48

static struct {
	uint64_t version; /* of every entry; 0: empty */
	size_t bytes;     /* the texts' sizes summed */
	unsigned long tick;
	struct memo_entry {
		char key[MEMO_KEY];
		char *text;        /* NULL: a free slot */
		size_t len;
		unsigned long used; /* tick of the last hit, for eviction */
		/* the clock range [from, until) in which the text holds (an
		 * answer that moves with time); 0, 0: any time */
		int64_t from, until;
	} e[MEMO_SLOTS];
} memo;

static void
memo_drop(struct memo_entry *m)
{
	memo.bytes -= m->len;
	free(m->text);
	m->text = NULL;
	m->len = 0;
}

void
memo_clear(void)
{
	size_t i;

	for (i = 0; i < MEMO_SLOTS; i++)
		if (memo.e[i].text != NULL)
			memo_drop(&memo.e[i]);
	memo.version = 0;
}

/* Returns the slot of key, or NULL. */
static struct memo_entry *
memo_find(const char *key)
{
	size_t i;

	for (i = 0; i < MEMO_SLOTS; i++)
		if (memo.e[i].text != NULL && strcmp(memo.e[i].key, key) == 0)
			return &memo.e[i];
	return NULL;
}

int
memo_get(const char *key, uint64_t version, const char **text, size_t *len)
{
	struct memo_entry *m;

	int64_t now;

	if (version == 0 || version != memo.version ||
	    (m = memo_find(key)) == NULL)
		return -1;
	if (m->until != 0 && ((now = park_now()) < m->from ||
	    now >= m->until))
		return -1;
	m->used = ++memo.tick;
	*text = m->text;
	*len = m->len;
	return 0;
}

void
memo_put(const char *key, uint64_t version, const char *text, size_t len)
{
	memo_put_until(key, version, text, len, 0, 0);
}

void
memo_put_until(const char *key, uint64_t version, const char *text,
    size_t len, int64_t from, int64_t until)
{
	struct memo_entry *m, *lru;
	size_t budget = (size_t)conf.memo_kb * 1024, i;
	char *copy;

	if (version == 0 || budget == 0 || len > budget ||
	    strlen(key) >= MEMO_KEY)
		return;
	if (version != memo.version) {
		memo_clear();
		memo.version = version;
	}
	if ((m = memo_find(key)) != NULL)
		memo_drop(m);
	/* Evict the least recently used texts until the new one fits in a
	 * free slot and the budget. */
	for (;;) {
		lru = m = NULL;
		for (i = 0; i < MEMO_SLOTS; i++) {
			if (memo.e[i].text == NULL)
				m = &memo.e[i];
			else if (lru == NULL || memo.e[i].used < lru->used)
				lru = &memo.e[i];
		}
		if (m != NULL && memo.bytes + len <= budget)
			break;
		memo_drop(lru); /* not NULL: some slot is taken */
	}
	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		return; /* a memo is never needed */
	memcpy(copy, text, len);
	snprintf(m->key, sizeof(m->key), "%s", key);
	m->text = copy;
	m->len = len;
	m->used = ++memo.tick;
	m->from = from;
	m->until = until;
	memo.bytes += len;
}
