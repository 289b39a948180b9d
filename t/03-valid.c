/*
 * 03-valid: every validator of valid.c, with good values next to bad ones
 * and each boundary tested on both sides.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "park.h"
#include "tap.h"

static struct req req;
static char *out; /* the value after the last run() */

/* Runs validator fn on a copy of s; returns its problem text or NULL. */
static const char *
run(validator_fn fn, const char *s)
{
	size_t len = strlen(s);

	out = pool_strndup(&req.pool, s, len);
	return fn(&req, &out, &len);
}

/* The same with an explicit length (for embedded NUL bytes). */
static const char *
runn(validator_fn fn, const char *s, size_t len)
{
	out = pool_alloc(&req.pool, len + 1);
	memcpy(out, s, len);
	return fn(&req, &out, &len);
}

/* A string of n copies of c, in the pool. */
static char *
rep(char c, size_t n)
{
	char *s = pool_alloc(&req.pool, n + 1);

	memset(s, c, n);
	return s;
}

/* n copies of the UTF-8 sequence u, in the pool. */
static char *
repu(const char *u, size_t n)
{
	size_t l = strlen(u), i;
	char *s = pool_alloc(&req.pool, n * l + 1);

	for (i = 0; i < n; i++)
		memcpy(s + i * l, u, l);
	return s;
}

/* s escaped for a TAP line (no newline may end the test name). */
static const char *
show(const char *s)
{
	struct buf b = { 0 };
	const char *r;

	text_escape_log(&b, s, strlen(s) > 70 ? 70 : strlen(s));
	if (strlen(s) > 70)
		buf_printf(&b, "...(%zu bytes)", strlen(s));
	r = pool_strdup(&req.pool, b.p != NULL ? b.p : "");
	buf_free(&b);
	return r;
}

#define GOOD(fn, s) ok(run(fn, s) == NULL, #fn " accepts \"%s\"", show(s))
#define BAD(fn, s) ok(run(fn, s) != NULL, #fn " refuses \"%s\"", show(s))
#define NORM(fn, s, want) do { \
	ok(run(fn, s) == NULL, #fn " accepts \"%s\"", show(s)); \
	is_str(out, want, #fn " makes \"%s\" into \"%s\"", show(s), \
	    show(want)); \
} while (0)

static void
test_utf8(void)
{
	ok(valid_utf8_text("", 0, 0), "utf8: empty is valid");
	ok(valid_utf8_text("plain", 5, 0), "utf8: ASCII");
	ok(valid_utf8_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x97", 14, 0),
	    "utf8: 2, 3 and 4-byte sequences");
	ok(valid_utf8_text("\xf4\x8f\xbf\xbf", 4, 0), "utf8: U+10FFFF ok");
	ok(!valid_utf8_text("\xf4\x90\x80\x80", 4, 0),
	    "utf8: above U+10FFFF refused");
	ok(!valid_utf8_text("\xc0\xaf", 2, 0), "utf8: overlong 2-byte refused");
	ok(!valid_utf8_text("\xc1\xbf", 2, 0), "utf8: overlong C1 refused");
	ok(!valid_utf8_text("\xe0\x80\xaf", 3, 0),
	    "utf8: overlong 3-byte refused");
	ok(!valid_utf8_text("\xf0\x80\x80\xaf", 4, 0),
	    "utf8: overlong 4-byte refused");
	ok(!valid_utf8_text("\xed\xa0\x80", 3, 0),
	    "utf8: surrogate U+D800 refused");
	ok(!valid_utf8_text("\xed\xbf\xbf", 3, 0),
	    "utf8: surrogate U+DFFF refused");
	ok(valid_utf8_text("\xed\x9f\xbf", 3, 0), "utf8: U+D7FF ok");
	ok(valid_utf8_text("\xee\x80\x80", 3, 0), "utf8: U+E000 ok");
	ok(!valid_utf8_text("\xc3", 1, 0), "utf8: truncated refused");
	ok(!valid_utf8_text("\xe2\x82", 2, 0), "utf8: truncated 3 refused");
	ok(!valid_utf8_text("\x80", 1, 0), "utf8: lone continuation refused");
	ok(!valid_utf8_text("\xff", 1, 0), "utf8: 0xff refused");
	ok(!valid_utf8_text("\xf5\x80\x80\x80", 4, 0), "utf8: F5 refused");
	ok(!valid_utf8_text("a\0b", 3, 1), "utf8: NUL refused");
	ok(!valid_utf8_text("a\x01", 2, 1), "utf8: C0 refused");
	ok(!valid_utf8_text("a\x1f", 2, 1), "utf8: 0x1f refused");
	ok(!valid_utf8_text("a\x7f", 2, 1), "utf8: DEL refused");
	ok(!valid_utf8_text("a\xc2\x9b", 3, 1), "utf8: C1 control refused");
	ok(valid_utf8_text("a\xc2\xa0", 3, 0), "utf8: U+00A0 ok");
	ok(!valid_utf8_text("a\nb", 3, 0), "utf8: LF refused without allow_nl");
	ok(!valid_utf8_text("a\tb", 3, 0),
	    "utf8: TAB refused without allow_nl");
	ok(valid_utf8_text("a\nb\r\n\tc", 7, 1),
	    "utf8: LF CR TAB with allow_nl");
}

static void
test_username(void)
{
	GOOD(valid_username, "abc");
	GOOD(valid_username, "john_doe");
	GOOD(valid_username, "A_1");
	GOOD(valid_username, rep('a', 80));
	BAD(valid_username, "ab");
	BAD(valid_username, rep('a', 81));
	BAD(valid_username, "");
	BAD(valid_username, "john doe");
	BAD(valid_username, "john-doe");
	BAD(valid_username, "john.doe");
	BAD(valid_username, "j\xc3\xb6rg");
	BAD(valid_username, " abc");
	BAD(valid_username, "abc\n");
	ok(runn(valid_username, "abc\0def", 7) != NULL,
	    "valid_username refuses an embedded NUL");
	is_str(run(valid_username, "a"), "must be 3 to 80 letters, digits or _",
	    "username problem text");
}

static void
test_email(void)
{
	char buf[300];

	NORM(valid_email, "John.Doe@Example.COM", "john.doe@example.com");
	NORM(valid_email, "  a@b.co  ", "a@b.co");
	GOOD(valid_email, "first.last+tag@sub.example.org");
	GOOD(valid_email, "o'brien@example.ie");
	GOOD(valid_email, "x_y-z@a-b.example.com");
	GOOD(valid_email, "user@xn--bcher-kva.example");
	BAD(valid_email, "");
	BAD(valid_email, "plain");
	BAD(valid_email, "@example.com");
	BAD(valid_email, "a@");
	BAD(valid_email, "a@b@example.com");
	BAD(valid_email, "a@localhost");
	BAD(valid_email, "a@example.c");
	BAD(valid_email, "a@example.c0m");
	BAD(valid_email, "a@example.123");
	BAD(valid_email, ".a@example.com");
	BAD(valid_email, "a.@example.com");
	BAD(valid_email, "a..b@example.com");
	BAD(valid_email, "a@-example.com");
	BAD(valid_email, "a@example-.com");
	BAD(valid_email, "a@exa_mple.com");
	BAD(valid_email, "a@example..com");
	BAD(valid_email, "a@.example.com");
	BAD(valid_email, "a@example.com.");
	BAD(valid_email, "a b@example.com");
	BAD(valid_email, "<a@example.com>");
	BAD(valid_email, "\"a\"@example.com");
	BAD(valid_email, "a@example.com\r\nRCPT TO:<evil@x.com>");
	BAD(valid_email, "victim@x.com>\r\nRCPT TO:<evil@y.com");
	BAD(valid_email, "a@exam\nple.com");
	BAD(valid_email, "j\xc3\xb6rg@example.com");
	ok(runn(valid_email, "a\0b@example.com", 15) != NULL,
	    "valid_email refuses an embedded NUL");

	/* local part: 64 ok, 65 refused */
	snprintf(buf, sizeof(buf), "%s@example.com", rep('a', 64));
	GOOD(valid_email, buf);
	snprintf(buf, sizeof(buf), "%s@example.com", rep('a', 65));
	BAD(valid_email, buf);
	/* a label: 63 ok, 64 refused */
	snprintf(buf, sizeof(buf), "a@%s.com", rep('b', 63));
	GOOD(valid_email, buf);
	snprintf(buf, sizeof(buf), "a@%s.com", rep('b', 64));
	BAD(valid_email, buf);
	/* the whole: 254 ok, 255 refused (64 @ 63.63.57.com) */
	snprintf(buf, sizeof(buf), "%s@%s.%s.%s.com", rep('a', 64),
	    rep('b', 63), rep('c', 63), rep('d', 57));
	is_int(strlen(buf), 254, "email of 254 bytes built");
	GOOD(valid_email, buf);
	snprintf(buf, sizeof(buf), "%s@%s.%s.%s.com", rep('a', 64),
	    rep('b', 63), rep('c', 63), rep('d', 58));
	BAD(valid_email, buf);
}

static void
test_password(void)
{
	GOOD(valid_password, "12345678");
	GOOD(valid_password, "correct horse battery staple");
	GOOD(valid_password, rep('x', 128));
	BAD(valid_password, "1234567");
	BAD(valid_password, rep('x', 129));
	BAD(valid_password, "");
	/* characters, not bytes: 8 e-acutes are 16 bytes but 8 characters */
	GOOD(valid_password, repu("\xc3\xa9", 8));
	BAD(valid_password, repu("\xc3\xa9", 7));
	GOOD(valid_password, repu("\xe2\x82\xac", 128));
	BAD(valid_password, repu("\xe2\x82\xac", 129));
	GOOD(valid_password, repu("\xf0\x9f\x94\x91", 8));
	BAD(valid_password, "abcdefg\xff");
	BAD(valid_password, "abcdefg\xc0\xaf");
	BAD(valid_password, "abcd\tefgh");
	ok(runn(valid_password, "abcd\0efgh", 9) != NULL,
	    "valid_password refuses an embedded NUL");
	NORM(valid_password, " spaces kept ", " spaces kept ");
}

static void
test_phone(void)
{
	NORM(valid_phone, "+91 (98) 765-43210", "+919876543210");
	NORM(valid_phone, "0123456789", "0123456789");
	NORM(valid_phone, "123456789012345", "123456789012345");
	NORM(valid_phone, "", "");
	NORM(valid_phone, " - ", "");
	BAD(valid_phone, "123456789");
	BAD(valid_phone, "1234567890123456");
	BAD(valid_phone, "+123456789");
	GOOD(valid_phone, "+1234567890");
	BAD(valid_phone, "12345+67890");
	BAD(valid_phone, "++1234567890");
	BAD(valid_phone, "+");
	BAD(valid_phone, "123.456.7890");
	BAD(valid_phone, "12345678901x");
	BAD(valid_phone, "\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6"
	    "\xd9\xa7\xd9\xa8\xd9\xa9\xd9\xa0");
	BAD(valid_phone, "1234567890\n");
}

static void
test_lot_name(void)
{
	NORM(valid_lot_name, "  Downtown Central Plaza  ",
	    "Downtown Central Plaza");
	GOOD(valid_lot_name, "abc");
	GOOD(valid_lot_name, "St. Mary's Lot-2, North");
	GOOD(valid_lot_name, "Caf\xc3\xa9 Plaza");
	GOOD(valid_lot_name, rep('a', 100));
	GOOD(valid_lot_name, repu("\xc3\xa9", 100));
	BAD(valid_lot_name, repu("\xc3\xa9", 101));
	BAD(valid_lot_name, rep('a', 101));
	BAD(valid_lot_name, "ab");
	BAD(valid_lot_name, "  ab  ");
	BAD(valid_lot_name, "");
	BAD(valid_lot_name, "Lot <script>");
	BAD(valid_lot_name, "Lot #1");
	BAD(valid_lot_name, "Lot\t1");
	BAD(valid_lot_name, "Lot \"A\"");
	BAD(valid_lot_name, "2\xc3\x97" "3 lot");
	BAD(valid_lot_name, "Lot \xe2\x82\xac");
}

static void
test_address(void)
{
	NORM(valid_address, "  12 Main Street  ", "12 Main Street");
	GOOD(valid_address, rep('a', 10));
	GOOD(valid_address, rep('a', 500));
	GOOD(valid_address, repu("\xe0\xa4\x85", 500));
	BAD(valid_address, repu("\xe0\xa4\x85", 501));
	BAD(valid_address, rep('a', 9));
	BAD(valid_address, rep('a', 501));
	BAD(valid_address, "   short   ");
	BAD(valid_address, "12 Main Street\nCity");
	BAD(valid_address, "12 Main Street\x01");
	BAD(valid_address, "12 Main Street\xff");
}

static void
test_pin_hhmm_token(void)
{
	GOOD(valid_pin_code, "560001");
	GOOD(valid_pin_code, "0123456789");
	BAD(valid_pin_code, "56000");
	BAD(valid_pin_code, "01234567890");
	BAD(valid_pin_code, "56000a");
	BAD(valid_pin_code, " 560001");
	BAD(valid_pin_code, "-56000");
	BAD(valid_pin_code, "");

	GOOD(valid_hhmm, "00:00");
	GOOD(valid_hhmm, "23:59");
	GOOD(valid_hhmm, "09:05");
	BAD(valid_hhmm, "24:00");
	BAD(valid_hhmm, "23:60");
	BAD(valid_hhmm, "9:05");
	BAD(valid_hhmm, "09:5");
	BAD(valid_hhmm, "09-05");
	BAD(valid_hhmm, "09:05:00");
	BAD(valid_hhmm, "");
	BAD(valid_hhmm, "ab:cd");

	GOOD(valid_token_id, "0123456789abcdef0123456789abcdef");
	BAD(valid_token_id, "0123456789ABCDEF0123456789abcdef");
	BAD(valid_token_id, "0123456789abcdef0123456789abcde");
	BAD(valid_token_id, "0123456789abcdef0123456789abcdef0");
	BAD(valid_token_id, "0123456789abcdef0123456789abcdeg");
	BAD(valid_token_id, "../../../../etc/passwd/../../../");
	BAD(valid_token_id, "");
}

static void
test_vehicle(void)
{
	NORM(valid_vehicle, "ka 01-ab 1234", "KA01-AB1234");
	NORM(valid_vehicle, "x", "X");
	NORM(valid_vehicle, "  ab12  ", "AB12");
	GOOD(valid_vehicle, rep('A', 20));
	BAD(valid_vehicle, rep('A', 21));
	BAD(valid_vehicle, "");
	BAD(valid_vehicle, "   ");
	BAD(valid_vehicle, "--");
	BAD(valid_vehicle, "KA.01");
	BAD(valid_vehicle, "KA_01");
	BAD(valid_vehicle, "K\xc3\x84");
	BAD(valid_vehicle, "KA01\n");
}

int
main(void)
{
	req_init(&req);
	test_utf8();
	test_username();
	test_email();
	test_password();
	test_phone();
	test_lot_name();
	test_address();
	test_pin_hhmm_token();
	test_vehicle();
	pool_free(&req.pool);
	return done_testing();
}
