/*
 * 12-mail.c: the mail path without a server: what db_outbox_add() refuses
 * (CR, LF and other controls: reliability.md F6), the address checks, the
 * message builder (headers we write, RFC 2047 subjects, CRLF only,
 * quoted-printable bodies, line lengths), the back-off, and the outbox
 * state machine of db-jobs.c (claim, lease, take-over, outcomes), and
 * the refusal of SMTP in clear to a host that is not loopback.
 *
 * The test reads the outbox with its own raw SQLite connection so that
 * what it checks does not depend on the code under test.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db-int.h"
#include "tap.h"

static char dir[256];
static char dbpath[300];
static sqlite3 *raw;

/* The first column of the first row of sql as an integer; -1000 on error,
 * -1001 without a row. */
static long long
q(const char *sql)
{
	sqlite3_stmt *st;
	long long v;
	int rc;

	if (sqlite3_prepare_v2(raw, sql, -1, &st, NULL) != SQLITE_OK) {
		diag("q: %s: %s", sql, sqlite3_errmsg(raw));
		return -1000;
	}
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) :
	    rc == SQLITE_DONE ? -1001 : -1000;
	sqlite3_finalize(st);
	return v;
}

/* 1 when every CR of s is followed by LF and every LF preceded by CR. */
static int
crlf_only(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
			return 0;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

/* The length of the longest line of s (without its CRLF). */
static size_t
longest_line(const char *s)
{
	size_t best = 0, n;
	const char *e;

	for (; *s != '\0'; s = e + (*e != '\0' ? 1 : 0)) {
		if ((e = strchr(s, '\n')) == NULL)
			e = s + strlen(s);
		n = (size_t)(e - s);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > best)
			best = n;
		if (*e == '\0')
			break;
	}
	return best;
}

/* s with control characters as \xNN, for a test's name (a static
 * buffer). */
static const char *
shown(const char *s)
{
	static char out[256];
	size_t k = 0;

	for (; *s != '\0' && k + 5 < sizeof(out); s++) {
		if ((unsigned char)*s < 0x20)
			k += (size_t)snprintf(out + k, sizeof(out) - k,
			    "\\x%02x", (unsigned char)*s);
		else
			out[k++] = *s;
	}
	out[k] = '\0';
	return out;
}

/* Hides an array from tap.h's NULL check (which -Waddress dislikes). */
static const char *
str(const char *s)
{
	return s;
}

/* Decodes base64 (no checks: test input) into out; returns the length. */
static size_t
unb64(const char *s, size_t n, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned v = 0;
	int bits = 0;
	size_t i, k = 0;
	const char *p;

	for (i = 0; i < n && s[i] != '='; i++) {
		if ((p = strchr(a, s[i])) == NULL)
			continue;
		v = (v << 6) | (unsigned)(p - a);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (char)((v >> bits) & 0xff);
		}
	}
	out[k] = '\0';
	return k;
}

/* Decodes every RFC 2047 B word of a Subject header into out. */
static void
subject_decoded(const char *msg, char *out, size_t cap)
{
	const char *p = strstr(msg, "\r\nSubject:"), *end, *w, *e;
	size_t k = 0;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += 10;
	/* the header runs until a line that does not start with a space */
	for (end = p; (end = strstr(end, "\r\n")) != NULL && end[2] == ' ';
	    end += 2)
		;
	for (w = p; w < end && (w = strstr(w, "=?UTF-8?B?")) != NULL &&
	    w < end; w = e + 2) {
		w += 10;
		e = strstr(w, "?=");
		if (k + (size_t)(e - w) >= cap)
			break;
		k += unb64(w, (size_t)(e - w), out + k);
	}
}

static void
test_outbox_add(void)
{
	static const struct {
		const char *to, *subject, *key, *name;
	} bad[] = {
		{ "v@example.com\r\nRCPT TO:<evil@example.net>", "s", "k1",
		    "CRLF in the address" },
		{ "v@example.com\n", "s", "k2", "LF in the address" },
		{ "v@example.com\r", "s", "k3", "CR in the address" },
		{ "v@example.com", "hi\r\nBcc: evil@example.net", "k4",
		    "CRLF in the subject" },
		{ "v@example.com", "hi\nthere", "k5", "LF in the subject" },
		{ "v@example.com", "tab\there", "k6", "TAB in the subject" },
		{ "v@example.com", "esc\033[31m", "k7", "ESC in the subject" },
		{ "v@example.com", "del\177", "k8", "DEL in the subject" },
		{ "v\001@example.com", "s", "k9", "SOH in the address" },
		{ "v@example.com", "s", "key\r\nX-Evil: 1", "CRLF in the key" },
	};
	struct mail m = { "ok:1", "user@example.com", "Hello", "text", NULL };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mail b = { bad[i].key, bad[i].to, bad[i].subject, "t",
		    NULL };

		is_int(db_outbox_add(&b), DB_CONFLICT, "db_outbox_add refuses "
		    "%s", bad[i].name);
	}
	is_int(q("SELECT count(*) FROM outbox"), 0, "nothing refused was "
	    "queued");
	is_int(db_outbox_add(&m), DB_OK, "db_outbox_add queues a message");
	is_int(db_outbox_add(&m), DB_OK, "the same key again is fine");
	is_int(q("SELECT count(*) FROM outbox WHERE idem_key = 'ok:1'"), 1,
	    "... and kept once");
	is_int(q("SELECT count(*) FROM outbox WHERE state = 'queued' AND "
	    "attempts = 0"), 1, "a new message is queued with 0 attempts");
	ok(db_exec_for_test("DELETE FROM outbox") == DB_OK, "clean up");
}

static void
test_addresses(void)
{
	static const char *const good[] = { "user@example.com",
	    "first.last+tag@sub.example.org", "x@a-b.example.io",
	    "o'neil@example.com" };
	static const char *const refused[] = { "", "user", "@example.com",
	    "user@", "user@localhost", "user@@example.com",
	    "a b@example.com", " user@example.com", "user@example.com ",
	    "<user@example.com>", "user@example.com>", "\"q\"@example.com",
	    "user@exa mple.com", "user@example.com\r\n", "us\ter@example.com",
	    "user@-example.com", "user@example.c0m", ".user@example.com",
	    "us..er@example.com", "usér@example.com", "user@例え.jp" };
	char longaddr[300];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(mail_check_addr(good[i], 0) == NULL, "address accepted: %s",
		    good[i]);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ok(mail_check_addr(refused[i], 0) != NULL, "address refused: "
		    "\"%s\"", shown(refused[i]));
	ok(mail_check_addr("parkd@localhost", 1) == NULL, "a one-label "
	    "domain is fine for the sender");
	ok(mail_check_addr("parkd@localhost", 0) != NULL, "... not for a "
	    "recipient");
	ok(mail_check_addr("parkd@local host", 1) != NULL, "the sender is "
	    "still checked");
	ok(mail_check_addr(NULL, 0) != NULL, "NULL refused");
	memset(longaddr, 'a', sizeof(longaddr));
	memcpy(longaddr + 250, "@example.com", 13);
	ok(mail_check_addr(longaddr, 0) != NULL, "a 262-byte address is "
	    "refused");
}

static void
test_build(void)
{
	struct buf b = { 0 };
	char dec[512];
	const char *e, *p;
	struct mail m = { "remind:42:2026-11-26", "user@example.com",
	    "Your parking reminder", "line one\nline two\r\n.\r\nlast",
	    "<p>Hi &amp; bye</p>\n" };
	struct mail n = m;
	char subj[300];
	size_t i;

	e = mail_build(&m, "parkd@localhost", 1764160000, &b);
	ok(e == NULL, "a good message builds (%s)", e ? e : "ok");
	ok(b.p != NULL && crlf_only(b.p, b.len), "CRLF line ends only, no "
	    "bare LF or CR");
	ok(b.p != NULL && longest_line(b.p) <= 78, "no line over 78 bytes "
	    "(%zu)", b.p ? longest_line(b.p) : 0);
	ok(b.p != NULL && strncmp(b.p, "From: parkd@localhost\r\n"
	    "To: user@example.com\r\nSubject: Your parking reminder\r\n",
	    77) == 0, "From, To and a plain ASCII Subject come first");
	ok(strstr(b.p, "\r\nDate: Wed, 26 Nov 2025 12:26:40 +0000\r\n") !=
	    NULL, "Date in RFC 5322 form, UTC");
	ok(strstr(b.p, "\r\nMessage-ID: <") != NULL &&
	    strstr(b.p, "@localhost>\r\n") != NULL, "a Message-ID");
	ok(strstr(b.p, "\r\nX-Parkd-Idempotency-Key: remind:42:2026-11-26"
	    "\r\n") != NULL, "the idempotency key header");
	ok(strstr(b.p, "\r\nMIME-Version: 1.0\r\n") != NULL, "MIME-Version");
	ok(strstr(b.p, "Content-Type: multipart/alternative; boundary=\""
	    "=_parkd_") != NULL, "multipart/alternative");
	ok((p = strstr(b.p, "Content-Type: text/plain; charset=utf-8")) !=
	    NULL && strstr(p, "Content-Type: text/html; charset=utf-8") !=
	    NULL, "text/plain, then text/html");
	ok(strstr(b.p, "\r\nline one\r\nline two\r\n.\r\nlast\r\n") != NULL,
	    "body lines (a lone \".\" included) with CRLF; dots are left to "
	    "the SMTP layer");
	ok(strstr(b.p, "<p>Hi &amp; bye</p>\r\n") != NULL, "HTML part");
	ok(b.len >= 2 && strcmp(b.p + b.len - 2, "\r\n") == 0 &&
	    strstr(b.p, "--\r\n") != NULL, "closing boundary");

	/* the same key, another time: the same Message-ID */
	{
		struct buf b2 = { 0 };
		const char *m1 = strstr(b.p, "Message-ID:"),
		    *m2;

		mail_build(&m, "parkd@localhost", 1764160999, &b2);
		m2 = strstr(b2.p, "Message-ID:");
		ok(m1 && m2 && strncmp(m1, m2, 50) == 0, "a second copy has "
		    "the same Message-ID (a duplicate is recognisable)");
		buf_free(&b2);
	}

	/* non-ASCII subject */
	buf_reset(&b);
	n.subject = "Réservation confirmée – Place n°12 🚗";
	ok(mail_build(&n, "parkd@localhost", 0, &b) == NULL, "non-ASCII "
	    "subject builds");
	ok(strstr(b.p, "\r\nSubject: =?UTF-8?B?") != NULL, "it is RFC 2047 "
	    "encoded");
	subject_decoded(b.p, dec, sizeof(dec));
	is_str(str(dec), n.subject, "and decodes back");
	for (p = b.p; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			break;
	ok(*p == '\0', "no 8-bit byte anywhere in the message");

	/* a long subject folds into several words, each line <= 78 */
	buf_reset(&b);
	for (i = 0; i < 120; i++)
		memcpy(subj + 2 * i, "é", 2);
	subj[240] = '\0';
	n.subject = subj;
	ok(mail_build(&n, "parkd@localhost", 0, &b) == NULL, "a 240-byte "
	    "subject builds");
	ok(longest_line(b.p) <= 78, "folded: no line over 78 (%zu)",
	    longest_line(b.p));
	subject_decoded(b.p, dec, sizeof(dec));
	is_str(str(dec), subj, "the folded words decode back, no character "
	    "cut");
	ok(crlf_only(b.p, b.len), "CRLF only");

	/* a plain subject that looks like an encoded word is encoded */
	buf_reset(&b);
	n.subject = "=?UTF-8?B?SGk=?=";
	mail_build(&n, "parkd@localhost", 0, &b);
	subject_decoded(b.p, dec, sizeof(dec));
	is_str(str(dec), "=?UTF-8?B?SGk=?=", "\"=?\" in a subject is encoded, "
	    "not passed for a client to decode");

	/* quoted-printable */
	buf_reset(&b);
	n = m;
	n.html = NULL;
	n.text = "a=b trailing \nnaïve\n"
	    "0123456789012345678901234567890123456789012345678901234567890"
	    "123456789012345678901234567890\n";
	ok(mail_build(&n, "parkd@localhost", 0, &b) == NULL, "text only "
	    "builds");
	ok(strstr(b.p, "multipart") == NULL && strstr(b.p,
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n") != NULL,
	    "without HTML: one text/plain part");
	ok(strstr(b.p, "a=3Db trailing=20\r\n") != NULL, "'=' and a trailing "
	    "space are encoded");
	ok(strstr(b.p, "na=C3=AFve\r\n") != NULL, "UTF-8 bytes are encoded");
	ok(strstr(b.p, "=\r\n") != NULL && longest_line(b.p) <= 76,
	    "a long line gets soft breaks (lines <= 76)");

	/* a body line of 5000 bytes */
	{
		char *big = malloc(5001);

		memset(big, 'x', 5000);
		big[5000] = '\0';
		buf_reset(&b);
		n.text = big;
		ok(mail_build(&n, "parkd@localhost", 0, &b) == NULL &&
		    longest_line(b.p) <= 998, "a 5000-byte body line leaves "
		    "no line over 998");
		free(big);
	}
	buf_free(&b);
}

static void
test_build_refused(void)
{
	static const struct {
		const char *key, *to, *subject, *text, *name;
	} bad[] = {
		{ "k", "v@example.com\r\nRCPT TO:<e@example.net>", "s", "t",
		    "CRLF in the recipient (F6)" },
		{ "k", "v@example.com>\r\nRCPT TO:<e@example.net", "s", "t",
		    "'>' CRLF in the recipient (F6)" },
		{ "k", "v@example.com\n", "s", "t", "LF in the recipient" },
		{ "k", "v@example.com,e@example.net", "s", "t",
		    "two recipients" },
		{ "k", "v@example.com", "s\r\nBcc: e@example.net", "t",
		    "CRLF in the subject" },
		{ "k", "v@example.com", "s\rX", "t", "CR in the subject" },
		{ "k", "v@example.com", "s\tX", "t", "TAB in the subject" },
		{ "k", "v@example.com", "s\302\205X", "t",
		    "U+0085 (NEL) in the subject" },
		{ "k", "v@example.com", "s\377", "t",
		    "invalid UTF-8 in the subject" },
		{ "k", "v@example.com", "s\300\257", "t",
		    "overlong UTF-8 in the subject" },
		{ "k y", "v@example.com", "s", "t", "space in the key" },
		{ "k\r\nX-Evil: 1", "v@example.com", "s", "t",
		    "CRLF in the key" },
		{ "k", "v@example.com", "s", "bad \377 body",
		    "invalid UTF-8 in the body" },
		{ "k", "v@example.com", "s", NULL, "no body" },
	};
	struct buf b = { 0 };
	size_t i;
	const char *e;

	buf_puts(&b, "kept");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mail m = { bad[i].key, bad[i].to, bad[i].subject,
		    bad[i].text, NULL };

		e = mail_build(&m, "parkd@localhost", 0, &b);
		ok(e != NULL && b.len == 4, "mail_build refuses %s (%s)",
		    bad[i].name, e ? e : "built!");
	}
	{
		struct mail m = { "k", "v@example.com", "s", "t", NULL };

		ok(mail_build(&m, "bad sender@localhost", 0, &b) != NULL,
		    "a bad sender is refused");
		ok(mail_build(&m, "x@y\r\nRCPT TO:<e@example.net>", 0, &b) !=
		    NULL, "a sender with CRLF is refused");
	}
	is_str(b.p, "kept", "a refused message leaves the buffer as it was");
	buf_free(&b);
}

static void
test_backoff(void)
{
	is_int(mail_backoff(1), 60, "back-off after 1 failure: 1 min");
	is_int(mail_backoff(2), 300, "after 2: 5 min");
	is_int(mail_backoff(3), 900, "after 3: 15 min");
	is_int(mail_backoff(4), 3600, "after 4: 1 h");
	is_int(mail_backoff(MAIL_MAX_ATTEMPTS), 43200, "capped at 12 h");
	is_int(mail_backoff(1000), 43200, "... however many");
	ok(MAIL_BATCH * 60 < MAIL_LEASE_S, "a batch at the longest timeout "
	    "ends inside its lease");
}

static void
add(const char *key)
{
	struct mail m = { key, "user@example.com", "s", "t", NULL };

	if (db_outbox_add(&m) != DB_OK)
		diag("add %s failed", key);
}

static void
test_claims(void)
{
	struct pool pool = { 0 };
	struct outbox_msg *a, *b, *c;
	size_t na, nb, nc, i;
	int64_t now = park_now();
	char key[16];
	long long ids[7];

	for (i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "claim:%zu", i);
		add(key);
	}
	ok(db_exec_for_test("UPDATE outbox SET next_attempt_at = "
	    "next_attempt_at + 100000 WHERE idem_key = 'claim:6'") == DB_OK,
	    "one message is not due yet");
	is_int(db_outbox_claim(&pool, now, now + MAIL_LEASE_S, 5, &a, &na),
	    DB_OK, "claim 5");
	is_int(na, 5, "5 claimed");
	is_int(q("SELECT count(*) FROM outbox WHERE state = 'sending' AND "
	    "attempts = 1"), 5, "... now 'sending', attempt 1");
	is_int(db_outbox_claim(&pool, now, now + MAIL_LEASE_S, 5, &b, &nb),
	    DB_OK, "a second claim at once");
	is_int(nb, 1, "gets only the one left that is due");
	for (i = 0; i < nb; i++)
		ok(b[i].id != a[0].id && b[i].id != a[4].id, "... another "
		    "message");
	is_int(db_outbox_claim(&pool, now, now + MAIL_LEASE_S, 5, &c, &nc),
	    DB_OK, "a third claim");
	is_int(nc, 0, "gets nothing: no message is claimed twice");
	ok(a[0].reclaimed == 0 && a[0].attempts == 1 && a[0].has_nul == 0 &&
	    strcmp(a[0].m.idem_key, "claim:0") == 0 &&
	    strcmp(a[0].m.to, "user@example.com") == 0, "the claim carries "
	    "the message");

	for (i = 0; i < 5; i++)
		ids[i] = a[i].id;
	is_int(db_outbox_sent(&a[0], now), DB_OK, "sent");
	is_int(db_outbox_retry(&a[1], now + 60, "451 later"), DB_OK, "retry");
	is_int(db_outbox_fail(&a[2], now, "554 no"), DB_OK, "fail");
	is_int(db_outbox_release(&a[3], now), DB_OK, "release");
	is_int(q("SELECT count(*) FROM outbox WHERE state = 'sent' AND "
	    "sent_at IS NOT NULL AND last_error IS NULL"), 1, "one sent");
	is_int(q("SELECT count(*) FROM outbox WHERE state = 'queued' AND "
	    "attempts = 1 AND last_error = '451 later'"), 1, "one queued "
	    "again with its error and its attempt counted");
	is_int(q("SELECT count(*) FROM outbox WHERE state = 'failed' AND "
	    "last_error = '554 no'"), 1, "one failed with its reason");
	is_int(q("SELECT attempts FROM outbox WHERE idem_key = 'claim:3'"), 0,
	    "a released message's attempt is not counted");
	is_int(db_outbox_sent(&a[0], now), DB_NOTFOUND, "an outcome twice: "
	    "DB_NOTFOUND, nothing changed");

	/* a[4] and b[0] stay 'sending': their run "died" */
	is_int(db_outbox_claim(&pool, now + MAIL_LEASE_S - 1,
	    now + 2 * MAIL_LEASE_S, 5, &c, &nc), DB_OK, "claim before the "
	    "lease ends");
	for (i = 0; i < nc; i++)
		ok(!c[i].reclaimed, "... takes only queued messages");
	for (i = 0; i < nc; i++)
		db_outbox_release(&c[i], now);
	is_int(db_outbox_claim(&pool, now + MAIL_LEASE_S, now + 3 *
	    MAIL_LEASE_S, 5, &c, &nc), DB_OK, "claim when the lease ended");
	{
		int took4 = 0, n_re = 0;

		for (i = 0; i < nc; i++) {
			if (c[i].id == ids[4]) {
				took4 = 1;
				ok(c[i].attempts == 2, "the taken-over message "
				    "counts its second attempt");
			}
			n_re += c[i].reclaimed;
		}
		ok(took4, "the message of the dead run is taken over");
		is_int(n_re, 2, "both dead-run messages are marked reclaimed");
	}
	is_int(db_outbox_sent(&a[4], now), DB_NOTFOUND, "the dead run's "
	    "claim no longer counts");
	for (i = 0; i < nc; i++)
		if (c[i].id == ids[4])
			is_int(db_outbox_sent(&c[i], now), DB_OK, "the new "
			    "claim's does");

	/* a NUL byte slipped in by hand is seen */
	ok(db_exec_for_test("INSERT INTO outbox (idem_key, to_addr, subject,"
	    " body_text, state, attempts, next_attempt_at, created_at) VALUES"
	    " ('nul:1', 'user@example.com', CAST(X'610062' AS TEXT), 't',"
	    " 'queued', 0, 0, 0)") == DB_OK, "a subject with a NUL byte, "
	    "inserted by hand");
	is_int(db_outbox_claim(&pool, now + 3 * MAIL_LEASE_S, now + 4 *
	    MAIL_LEASE_S, 10, &c, &nc), DB_OK, "claimed");
	for (i = 0; i < nc; i++)
		if (strcmp(c[i].m.idem_key, "nul:1") == 0)
			ok(c[i].has_nul, "the NUL is flagged");
	pool_free(&pool);
}

/*
 * Mail in clear to a host that may be another machine is refused
 * (issue #14): the loopback test on MAIL_SERVER as written, the decision,
 * and mail_deliver() refusing such settings before it connects or claims
 * anything, although conf_load() (which refuses them too) is bypassed.
 */
static void
test_plaintext(void)
{
	static const char *const loop[] = { "localhost", "LocalHost",
	    "127.0.0.1", "127.255.0.9", "::1", "[::1]", "0:0:0:0:0:0:0:1",
	    "::ffff:127.0.0.1", "[::ffff:127.1.2.3]" };
	static const char *const other[] = { "127.evil.example",
	    "127.0.0.1.nip.io", "localhost.example.com", "my-localhost",
	    "localhost.", "127.1", "0x7f000001", "2130706433", "10.0.0.1",
	    "192.0.2.1", "128.0.0.1", "::", "::2", "[::1", "::1]", "[]", "",
	    "mail.example.com", "::ffff:10.0.0.1", "fe80::1" };
	static const struct {
		const char *server;
		int tls, ssl, allow, refused;
	} dec[] = {
		{ "", 0, 0, 0, 0 },               /* .eml files */
		{ "smtp.example.com", 0, 0, 0, 1 },
		{ "smtp.example.com", 1, 0, 0, 0 },
		{ "smtp.example.com", 0, 1, 0, 0 },
		{ "smtp.example.com", 0, 0, 1, 0 },
		{ "127.0.0.1", 0, 0, 0, 0 },
		{ "[::1]", 0, 0, 0, 0 },
		{ "127.evil.example", 0, 0, 0, 1 },
		{ "192.0.2.1", 0, 0, 0, 1 },
	};
	static char far_v4[] = "192.0.2.1", far_name[] = "127.evil.example",
	    sender[] = "parkd@localhost", empty[] = "";
	struct conf c, saved = conf;
	struct mail_stats st;
	const char *why;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
		ok(mail_host_loopback(loop[i]) == 1, "loopback: %s", loop[i]);
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		ok(mail_host_loopback(other[i]) == 0, "not loopback: \"%s\"",
		    other[i]);
	for (i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.mail_server = (char *)(uintptr_t)dec[i].server;
		c.mail_use_tls = dec[i].tls;
		c.mail_use_ssl = dec[i].ssl;
		c.mail_allow_plaintext = dec[i].allow;
		why = mail_plaintext_refused(&c);
		ok((why != NULL) == dec[i].refused, "%s, tls %d, ssl %d, "
		    "allow %d: %s", *dec[i].server ? dec[i].server : "no server",
		    dec[i].tls, dec[i].ssl, dec[i].allow, dec[i].refused ?
		    "refused" : "allowed");
		if (why != NULL)
			ok(strstr(why, "PARKD_MAIL_ALLOW_PLAINTEXT") != NULL &&
			    strstr(why, "MAIL_USE_SSL") != NULL, "... the "
			    "reason names the settings that would allow it");
	}

	/* The run: settings conf_load() would refuse, set by hand. */
	add("plain:1");
	conf.mail_default_sender = sender;
	conf.mail_port = 587;
	conf.mail_timeout_s = 2;
	conf.mail_use_tls = 0;
	conf.mail_use_ssl = 0;
	conf.mail_allow_plaintext = 0;
	conf.mail_username = empty;
	conf.mail_ca_file = empty;
	conf.mail_server = far_v4;
	rc = mail_deliver(10, &st);
	is_int(rc, -2, "a run to 192.0.2.1 without TLS: a settings error");
	conf.mail_server = far_name;
	rc = mail_deliver(10, &st);
	is_int(rc, -2, "... to 127.evil.example too (a name, not 127/8)");
	is_int(q("SELECT count(*) FROM outbox WHERE idem_key = 'plain:1' AND "
	    "state = 'queued' AND attempts = 0 AND last_error IS NULL"), 1,
	    "the message stays queued, never tried");
	is_int(q("SELECT count(*) FROM job_runs WHERE job = 'mail'"), 0,
	    "no run was started");
	conf = saved;
	ok(db_exec_for_test("DELETE FROM outbox WHERE idem_key = 'plain:1'")
	    == DB_OK, "cleaned up");
}

int
main(void)
{
	const char *tmp;

	log_init("12-mail");
	conf.db_busy_timeout_ms = 5000;
	conf.db_synchronous_full = 0;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/parkd-12-mail.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/t.db", dir);
	if (db_open(dbpath, 1) != DB_OK ||
	    sqlite3_open(dbpath, &raw) != SQLITE_OK) {
		printf("Bail out! cannot open %s\n", dbpath);
		return 1;
	}
	sqlite3_busy_timeout(raw, 5000);

	test_outbox_add();
	test_addresses();
	test_build();
	test_build_refused();
	test_backoff();
	test_claims();
	test_plaintext();

	db_close();
	sqlite3_close(raw);
	unlink(dbpath);
	{
		char p[320];

		snprintf(p, sizeof(p), "%s-wal", dbpath);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", dbpath);
		unlink(p);
	}
	rmdir(dir);
	return done_testing();
}
