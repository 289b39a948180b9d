/*
 * 01-json: the strict reader (every json-c pitfall of reliability.md F3 and
 * 1.3 as a case) and the writer.
 *
 * The depth limit tested here is the one json.c documents: the deepest
 * value, the top one being level 1, may be at level 16.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "park.h"
#include "tap.h"

static struct req req;
static struct resp resp;

/* Parses body (len bytes) against fields, in a fresh request; returns the
 * result of json_parse_body. */
static int
parsen(const struct field *f, size_t n, const char *body, size_t len)
{
	req_reset(&req);
	resp_free(&resp);
	if (body != NULL) {
		req.body = pool_strndup(&req.pool, body, len);
		req.bodylen = len;
	}
	return json_parse_body(&req, f, n, &resp);
}

#define parse(f, body) \
	parsen(f, sizeof(f) / sizeof((f)[0]), body, strlen(body))

/* 1 when resp has a detail for field whose problem contains what. */
static int
has_detail(const char *field, const char *what)
{
	size_t i;

	for (i = 0; i < resp.ndet; i++)
		if (strcmp(resp.det[i].field, field) == 0 &&
		    strstr(resp.det[i].problem, what) != NULL)
			return 1;
	return 0;
}

/* 1 when the last parse failed with a 400 VALIDATION. */
static int
is_400(void)
{
	return resp.status == 400 && resp.code != NULL &&
	    strcmp(resp.code, "VALIDATION") == 0;
}

static int
check(const char *s)
{
	return json_check(s, strlen(s));
}

static const struct field f_any[] = {
	{ "a", FT_INT, FS_BODY, 0, -1000, 1000, NULL, 0 },
};

static void
test_syntax(void)
{
	static const char *const bad[] = {
		"NaN", "-NaN", "Infinity", "-Infinity", "[NaN]",
		"{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}",
		"1e400", "[-1e400]",
		"'abc'", "{'a':1}", "{\"a\":'x'}", "['x']",
		"{} x", "{}{}", "{}]", "1 2", "{\"a\":1}x", "[1]\x01",
		"[1,]", "{\"a\":1,}", "[,1]", "{,}",
		"/* c */ {}", "{} // c", "{\"a\":1 /* c */}", "# c\n{}",
		"01", "[01]", "-01", "1.", "1.e5", ".5", "+1", "1e", "1e+",
		"-", "0x10", "1_000", "-012", "[-01]", "00", "1.5.3", "1e5e5",
		"[1-2]", "[truefalse]", "[true1]", "[null\"a\"]", "[1\"a\"]",
		"TRUE", "True", "nul", "nulll", "tru", "undefined",
		"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"", "\"\xc3\"", "{\"\xc0\xaf\":1}",
		"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
		"\"\\ud800x\"", "\"a\tb\"", "\"a\nb\"", "\"a\x01\"",
		"\"\\x41\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\'\"",
		"\"abc", "{\"a\":\"b}", "{\"a\\u0000b\":1}",
		"", " ", "{", "}", "[", "[[]", "{\"a\"}", "{\"a\":}",
		"{1:2}", "{\"a\" 1}", "\xef\xbb\xbf{}",
	};
	static const char *const good[] = {
		"{}", "[]", " {\"a\" : [1, -2.5e3, true, false, null]}\n\t\r",
		"0", "-0", "1.5", "-0.0e-0", "1E+2", "\"x\"", "null", "true",
		"\"\\u00e9\\ud83d\\ude97 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"",
		"\"caf\xc3\xa9 \xf0\x9f\x9a\x97\"", "{\"a\":\"\\u0000\"}",
		"{\"a\":1,\"a\":2}", "123456789012345678901234567890",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf b = { 0 };

		text_escape_log(&b, bad[i], strlen(bad[i]));
		ok(check(bad[i]) != 0, "json_check refuses \"%s\"",
		    b.p ? b.p : "");
		buf_free(&b);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct buf b = { 0 };

		text_escape_log(&b, good[i], strlen(good[i]));
		ok(check(good[i]) == 0, "json_check accepts \"%s\"", b.p);
		buf_free(&b);
	}
	ok(json_check("{}\0", 3) != 0, "a NUL byte after the value refused");
	ok(json_check("\"a\0b\"", 5) != 0, "a raw NUL in a string refused");
	ok(json_check("[1]", 2) != 0, "length is honoured (\"[1\")");

	/* the same through the body parser */
	ok(parse(f_any, "{\"a\":NaN}") == -1 && is_400(), "body: NaN is 400");
	ok(parse(f_any, "{'a':1}") == -1 && is_400(),
	    "body: single quotes are 400");
	ok(parse(f_any, "{\"a\":1} x") == -1 && is_400(),
	    "body: trailing bytes are 400");
	ok(parse(f_any, "{\"a\":1}\n") == 0, "body: trailing newline is fine");
	ok(parse(f_any, "{\"a\":1,}") == -1 && is_400(),
	    "body: trailing comma is 400");
	ok(parse(f_any, "{\"a\":01}") == -1 && is_400(),
	    "body: leading zero is 400");
	ok(parse(f_any, "{\"a\":\"\xc0\xaf\"}") == -1 && is_400(),
	    "body: invalid UTF-8 is 400");
	ok(parsen(f_any, 1, "{\"a\":1}\0", 8) == -1 && is_400(),
	    "body: an embedded NUL byte is 400");
}

/* Nested arrays: n of them, empty inside. */
static char *
nest_arrays(int n)
{
	char *s = pool_alloc(&req.pool, 2 * (size_t)n + 1);

	memset(s, '[', (size_t)n);
	memset(s + n, ']', (size_t)n);
	return s;
}

/* n nested objects {"a":...} around the scalar 1. */
static char *
nest_objects(int n)
{
	char *s = pool_alloc(&req.pool, 6 * (size_t)n + 2), *p = s;
	int i;

	for (i = 0; i < n; i++) {
		memcpy(p, "{\"a\":", 5);
		p += 5;
	}
	*p++ = '1';
	for (i = 0; i < n; i++)
		*p++ = '}';
	return s;
}

static void
test_depth(void)
{
	char big[4096];
	size_t i;

	req_reset(&req);
	ok(check(nest_arrays(16)) == 0, "16 nested arrays accepted");
	ok(check(nest_arrays(17)) != 0, "17 nested arrays refused");
	ok(check(nest_objects(15)) == 0,
	    "15 nested objects with a scalar (level 16) accepted");
	ok(check(nest_objects(16)) != 0,
	    "16 nested objects with a scalar (level 17) refused");
	ok(check("[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]") == 0,
	    "a scalar at level 16 accepted");
	ok(check("[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]") != 0,
	    "a scalar at level 17 refused");
	for (i = 0; i < 1000; i++)
		big[i] = '[';
	for (i = 0; i < 1000; i++)
		big[1000 + i] = ']';
	ok(json_check(big, 2000) != 0, "1000 nested arrays refused");
	ok(parse(f_any, "{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}") == -1 &&
	    is_400(), "body: too deep is 400");
}

static const struct field f_int[] = {
	{ "n", FT_INT, FS_BODY, 1, 1, 1000, NULL, 0 },
};
static const struct field f_wide[] = {
	{ "n", FT_INT, FS_BODY, 1, -9223372036854775807LL - 1,
	    9223372036854775807LL, NULL, 0 },
};

static void
test_int(void)
{
	ok(parse(f_int, "{\"n\":1}") == 0 && req.in[0].set &&
	    req.in[0].i == 1, "int: min 1 accepted");
	ok(parse(f_int, "{\"n\":1000}") == 0 && req.in[0].i == 1000,
	    "int: max 1000 accepted");
	ok(parse(f_int, "{\"n\":0}") == -1 && is_400() &&
	    has_detail("n", "between 1 and 1000"), "int: min-1 refused");
	ok(parse(f_int, "{\"n\":1001}") == -1 && has_detail("n", "between"),
	    "int: max+1 refused");
	ok(parse(f_int, "{\"n\":-1}") == -1, "int: -1 refused");
	ok(parse(f_int, "{\"n\":\"123\"}") == -1 &&
	    has_detail("n", "must be an integer"), "int: \"123\" refused");
	ok(parse(f_int, "{\"n\":3.9}") == -1 &&
	    has_detail("n", "must be an integer"), "int: 3.9 refused");
	ok(parse(f_int, "{\"n\":3.0}") == -1, "int: 3.0 refused");
	ok(parse(f_int, "{\"n\":1e2}") == -1 &&
	    has_detail("n", "must be an integer"), "int: 1e2 refused");
	ok(parse(f_int, "{\"n\":true}") == -1, "int: true refused");
	ok(parse(f_int, "{\"n\":[1]}") == -1, "int: [1] refused");
	ok(parse(f_int, "{\"n\":{}}") == -1, "int: {} refused");

	/* json-c saturates: the edges are refused even with the widest
	 * range a field can declare */
	ok(parse(f_wide, "{\"n\":9223372036854775808}") == -1 &&
	    has_detail("n", "between"), "int: 2^63 refused");
	ok(parse(f_wide, "{\"n\":-9223372036854775809}") == -1 &&
	    has_detail("n", "between"), "int: -2^63-1 refused");
	ok(parse(f_wide, "{\"n\":99999999999999999999}") == -1 &&
	    has_detail("n", "between"), "int: 99999999999999999999 refused");
	ok(parse(f_wide, "{\"n\":18446744073709551615}") == -1,
	    "int: 2^64-1 refused");
	ok(parse(f_wide, "{\"n\":9223372036854775807}") == -1,
	    "int: INT64_MAX (indistinguishable from saturation) refused");
	ok(parse(f_wide, "{\"n\":9223372036854775806}") == 0 &&
	    req.in[0].i == 9223372036854775806LL, "int: INT64_MAX-1 accepted");
	ok(parse(f_wide, "{\"n\":-9223372036854775807}") == 0 &&
	    req.in[0].i == -9223372036854775807LL,
	    "int: INT64_MIN+1 accepted");
	ok(parse(f_wide, "{\"n\":-0}") == 0 && req.in[0].i == 0,
	    "int: -0 is 0");
}

static const struct field f_money[] = {
	{ "price", FT_MONEY, FS_BODY, 1, 0, 1000000, NULL, 0 },
};

/* Parses {"price": text}; returns the cents or -1 when refused. */
static long long
money(const char *text)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"price\":%s}", text);
	if (parse(f_money, body) != 0)
		return -1;
	return req.in[0].i;
}

static void
test_money(void)
{
	is_int(money("25.5"), 2550, "money: 25.5 is 2550 cents");
	is_int(money("30"), 3000, "money: 30 is 3000 cents");
	is_int(money("0.05"), 5, "money: 0.05 is 5 cents");
	is_int(money("99.99"), 9999, "money: 99.99 is 9999 cents");
	is_int(money("25.50"), 2550, "money: 25.50 is 2550 cents");
	is_int(money("25.500"), 2550, "money: 25.500 (zeros) is 2550 cents");
	is_int(money("0.1"), 10, "money: 0.1 is 10 cents");
	is_int(money("1e2"), 10000, "money: 1e2 is 10000 cents");
	is_int(money("2.5E1"), 2500, "money: 2.5E1 is 2500 cents");
	is_int(money("1234e-2"), 1234, "money: 1234e-2 is 1234 cents");
	is_int(money("0"), 0, "money: 0 (min) accepted");
	is_int(money("-0"), 0, "money: -0 is 0");
	is_int(money("0.0"), 0, "money: 0.0 is 0");
	is_int(money("10000"), 1000000, "money: 10000 (max) accepted");
	is_int(money("10000.00"), 1000000, "money: 10000.00 accepted");
	ok(money("10000.01") == -1 &&
	    has_detail("price", "between 0 and 10000"),
	    "money: max + 1 cent refused");
	ok(money("-1") == -1 && has_detail("price", "between"),
	    "money: -1 refused when min is 0");
	ok(money("-0.01") == -1, "money: -0.01 refused when min is 0");
	ok(money("1.234") == -1 && has_detail("price", "at most 2 decimals"),
	    "money: 1.234 refused");
	ok(money("0.001") == -1, "money: 0.001 refused");
	ok(money("1e-3") == -1, "money: 1e-3 refused");
	ok(money("\"25\"") == -1 && has_detail("price", "must be a number"),
	    "money: \"25\" refused");
	ok(money("true") == -1, "money: true refused");
	ok(money("1e20") == -1 && has_detail("price", "between"),
	    "money: 1e20 out of range");
	ok(money("99999999999999999999") == -1, "money: huge int refused");
	ok(money("1e400") == -1, "money: 1e400 refused");
	ok(money("NaN") == -1, "money: NaN refused");
}

static const struct field f_str[] = {
	{ "s", FT_STR, FS_BODY, 1, 2, 10, NULL, 0 },
};
static const struct field f_email[] = {
	{ "email", FT_STR, FS_BODY, 1, 1, 254, valid_email, 0 },
};
static const struct field f_bool[] = {
	{ "b", FT_BOOL, FS_BODY, 1, 0, 1, NULL, 0 },
};

static void
test_str_bool(void)
{
	ok(parse(f_str, "{\"s\":\"ab\"}") == 0 && req.in[0].set &&
	    req.in[0].len == 2 && strcmp(req.in[0].s, "ab") == 0,
	    "str: 2 bytes (min) accepted");
	ok(parse(f_str, "{\"s\":\"abcdefghij\"}") == 0, "str: 10 bytes (max)");
	ok(parse(f_str, "{\"s\":\"a\"}") == -1 && has_detail("s", "2 to 10"),
	    "str: 1 byte refused");
	ok(parse(f_str, "{\"s\":\"abcdefghijk\"}") == -1, "str: 11 refused");
	ok(parse(f_str, "{\"s\":\"\\u00e9\\u00e9\"}") == 0 &&
	    req.in[0].len == 4 && strcmp(req.in[0].s, "\xc3\xa9\xc3\xa9") == 0,
	    "str: escapes decoded (4 bytes)");
	ok(parse(f_str, "{\"s\":\"a\\u0000b\"}") == -1 &&
	    has_detail("s", "NUL"), "str: embedded \\u0000 refused");
	ok(parse(f_str, "{\"s\":\"ab\\u0001\"}") == -1 &&
	    has_detail("s", "control"), "str: \\u0001 refused");
	ok(parse(f_str, "{\"s\":\"ab\\u009b\"}") == -1,
	    "str: C1 control \\u009b refused");
	ok(parse(f_str, "{\"s\":\"a\\nb\"}") == 0, "str: \\n accepted");
	ok(parse(f_str, "{\"s\":12}") == -1 &&
	    has_detail("s", "must be a string"), "str: a number refused");
	ok(parse(f_str, "{\"s\":[\"ab\"]}") == -1, "str: an array refused");
	ok(parse(f_email, "{\"email\":\" Bob@Example.COM \"}") == 0 &&
	    strcmp(req.in[0].s, "bob@example.com") == 0 &&
	    req.in[0].len == 15, "str: the validator normalises");
	ok(parse(f_email, "{\"email\":\"bob\"}") == -1 &&
	    has_detail("email", "e-mail"), "str: the validator's problem");

	ok(parse(f_bool, "{\"b\":true}") == 0 && req.in[0].i == 1,
	    "bool: true");
	ok(parse(f_bool, "{\"b\":false}") == 0 && req.in[0].set &&
	    req.in[0].i == 0, "bool: false");
	ok(parse(f_bool, "{\"b\":1}") == -1 && has_detail("b", "true or false"),
	    "bool: 1 refused");
	ok(parse(f_bool, "{\"b\":\"true\"}") == -1, "bool: \"true\" refused");
}

static const struct field f_mix[] = {
	{ "name", FT_STR, FS_BODY, 1, 1, 100, NULL, 0 },
	{ "page", FT_INT, FS_QUERY, 0, 1, 100, NULL, 0 },
	{ "phone", FT_STR, FS_BODY, 0, 0, 30, valid_phone, 1 },
	{ "spots", FT_INT, FS_BODY, 0, 1, 1000, NULL, 0 },
	{ "note", FT_STR, FS_BODY, 1, 0, 100, NULL, 1 },
};

static void
test_fields(void)
{
	ok(parse(f_mix, "{\"name\":\"x\",\"note\":\"n\"}") == 0 &&
	    req.in[0].set && !req.in[2].set && !req.in[3].set,
	    "optional fields may be left out");
	req_reset(&req);
	req.in[1].set = 1;
	req.in[1].i = 7;
	req.body = pool_strdup(&req.pool, "{\"name\":\"x\",\"note\":\"n\"}");
	req.bodylen = strlen(req.body);
	resp_free(&resp);
	ok(json_parse_body(&req, f_mix, 5, &resp) == 0 && req.in[1].set &&
	    req.in[1].i == 7, "query fields are left alone");
	ok(parse(f_mix, "{\"name\":\"x\",\"note\":\"n\",\"page\":2}") == 0 &&
	    resp.ndet == 0 && !req.in[1].set,
	    "a query field in the body is ignored: it does not set the field");
	ok(parse(f_mix, "{\"note\":\"n\"}") == -1 && is_400() &&
	    has_detail("name", "is required") && resp.message != NULL &&
	    strcmp(resp.message, "Invalid input") == 0,
	    "a required field missing: 400 Invalid input, is required");
	ok(parse(f_mix, "{\"role\":\"admin\",\"name\":\"x\",\"note\":\"n\","
	    "\"user_id\":5}") == 0 && resp.ndet == 0 && req.in[0].set &&
	    strcmp(req.in[0].s, "x") == 0 && !req.in[1].set &&
	    !req.in[2].set && !req.in[3].set && req.in[4].set &&
	    strcmp(req.in[4].s, "n") == 0,
	    "unknown fields (role, user_id) are ignored: only the route's "
	    "fields are set");
	ok(parse(f_mix, "{\"name\":\"x\",\"note\":\"n\",\"role\":\"admin\","
	    "\"spots\":0}") == -1 && is_400() && resp.ndet == 1 &&
	    has_detail("spots", "between"),
	    "a known field with a bad value is still 400 beside an unknown one");
	ok(parse(f_mix, "{\"name\":\"x\",\"note\":\"n\",\"phone\":null}") ==
	    0 && !req.in[2].set && req.in[2].null,
	    "null for a nullable field: not set, null flagged");
	ok(parse(f_mix, "{\"name\":\"x\",\"note\":\"n\"}") == 0 &&
	    !req.in[2].set && !req.in[2].null, "absent: not set, not null");
	ok(parse(f_mix, "{\"name\":\"x\",\"note\":null}") == -1 &&
	    has_detail("note", "is required"),
	    "null for a required nullable field: is required");
	ok(parse(f_mix, "{\"name\":null,\"note\":\"n\"}") == -1 &&
	    has_detail("name", "null"),
	    "null for a non-nullable field refused");
	ok(parse(f_mix, "{\"name\":\"x\",\"note\":\"n\",\"spots\":null}") == -1
	    && has_detail("spots", "null"), "null for an optional int refused");
	ok(parse(f_mix, "{\"name\":\"x\",\"note\":\"n\",\"phone\":"
	    "\"+1 (234) 567-8901\"}") == 0 && req.in[2].set &&
	    strcmp(req.in[2].s, "+12345678901") == 0,
	    "a validator normalises a nullable field");
	ok(parse(f_mix, "{\"name\":1,\"spots\":0,\"x\":1}") == -1 &&
	    has_detail("name", "string") && has_detail("spots", "between") &&
	    has_detail("note", "required") && resp.ndet == 3,
	    "every problem is reported at once (the unknown x is none)");

	/* the top level */
	ok(parse(f_mix, "[]") == -1 && is_400() &&
	    strstr(resp.message, "JSON object") != NULL,
	    "an array body is 400 (body must be a JSON object)");
	ok(parse(f_mix, "\"x\"") == -1 && is_400(), "a string body is 400");
	ok(parse(f_mix, "12") == -1 && is_400(), "a number body is 400");
	ok(parse(f_mix, "null") == -1 && is_400(), "a null body is 400");
	ok(parse(f_mix, "true") == -1 && is_400(), "a boolean body is 400");
	ok(parse(f_mix, "not json") == -1 && is_400(), "garbage is 400");
	ok(parse(f_mix, "") == -1 && is_400() && has_detail("name",
	    "is required"), "an empty body: required fields are missing");
	ok(parsen(f_mix, 5, NULL, 0) == -1 && has_detail("name", "required"),
	    "no body: required fields are missing");
	ok(parse(f_any, "") == 0, "an empty body without required fields");
	ok(parse(f_any, "{}") == 0 && !req.in[0].set, "{} without required");
	ok(parsen(f_any, 0, "{}", 2) == 0, "{} for a route without fields");
	ok(parsen(f_any, 0, "{\"a\":1}", 7) == 0 && resp.ndet == 0,
	    "a member for a route without fields is ignored");
	ok(parsen(f_any, 0, "[1]", 3) == -1 && is_400(),
	    "a body that is not an object, on a route without fields: 400");
}

static const struct field f_claims[] = {
	{ "sub", FT_STR, FS_BODY, 1, 1, 20, NULL, 0 },
	{ "exp", FT_INT, FS_QUERY, 1, 0, 1LL << 40, NULL, 0 },
	{ "email", FT_STR, FS_BODY, 0, 0, 254, valid_email, 0 },
	{ "rm", FT_BOOL, FS_BODY, 0, 0, 1, NULL, 1 },
};

/* json_parse_flat on text; out in v[]. */
static int
flat(const char *text, struct val *v)
{
	memset(v, 0, 4 * sizeof(*v));
	return json_parse_flat(text, strlen(text), f_claims, 4, v, &req.pool);
}

static void
test_flat(void)
{
	struct val v[4];

	req_reset(&req);
	ok(flat("{\"sub\":\"42\",\"exp\":1700000000}", v) == 0 &&
	    v[0].set && strcmp(v[0].s, "42") == 0 && v[1].i == 1700000000 &&
	    !v[2].set, "flat: claims read (src ignored)");
	ok(flat("{\"sub\":\"42\",\"exp\":1,\"email\":\"A@B.example\"}", v)
	    == 0 && strcmp(v[2].s, "A@B.example") == 0,
	    "flat: validators do not run");
	ok(flat("{\"sub\":\"42\",\"exp\":1,\"rm\":null}", v) == 0 &&
	    !v[3].set && v[3].null, "flat: null for a nullable field");
	ok(flat("{\"sub\":\"42\"}", v) == -1, "flat: a required one missing");
	ok(flat("{\"sub\":\"42\",\"exp\":1,\"x\":1}", v) == -1,
	    "flat: an unknown key");
	ok(flat("{\"sub\":42,\"exp\":1}", v) == -1, "flat: a wrong type");
	ok(flat("{\"sub\":\"42\",\"exp\":\"9999999999\"}", v) == -1,
	    "flat: exp as a string refused");
	ok(flat("{\"sub\":\"42\",\"exp\":1.9e9}", v) == -1,
	    "flat: exp as a real refused");
	ok(flat("{\"sub\":\"42\",\"exp\":-1}", v) == -1,
	    "flat: exp out of range");
	ok(flat("{\"sub\":\"42\",\"exp\":1} ", v) == 0,
	    "flat: trailing blank fine");
	ok(flat("{\"sub\":\"42\",\"exp\":1}x", v) == -1,
	    "flat: trailing byte refused");
	ok(flat("[]", v) == -1 && flat("", v) == -1 && flat("null", v) == -1,
	    "flat: not an object");
	ok(json_parse_flat("{\"sub\":\"42\",\"exp\":1}", 10, f_claims, 4, v,
	    &req.pool) == -1, "flat: the length is honoured");
}

/* Writes s as a JSON string and checks that it reads back equal. */
static int
round_trip(const char *s, size_t len)
{
	static const struct field f[] = {
		{ "s", FT_STR, FS_BODY, 1, 0, 65536, NULL, 0 },
	};
	struct buf b = { 0 };
	int rc;

	buf_puts(&b, "{\"s\":");
	json_quote(&b, s, len);
	buf_putc(&b, '}');
	rc = json_check(b.p, b.len) == 0 &&
	    parsen(f, 1, b.p, b.len) == 0 && req.in[0].len == len &&
	    memcmp(req.in[0].s, s, len) == 0;
	buf_free(&b);
	return rc;
}

/* The JSON string literal json_quote() makes of s. */
static int
quotes_as(const char *s, size_t len, const char *want)
{
	struct buf b = { 0 };
	int rc;

	json_quote(&b, s, len);
	rc = b.p != NULL && strcmp(b.p, want) == 0;
	if (!rc)
		diag("got %s", b.p ? b.p : "(null)");
	buf_free(&b);
	return rc;
}

static void
test_writer(void)
{
	struct buf b = { 0 };
	struct jw w;
	char all[128];
	int i;

	ok(quotes_as("a\"b\\c", 5, "\"a\\\"b\\\\c\""), "quote and backslash");
	ok(quotes_as("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""), "short escapes");
	ok(quotes_as("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\""),
	    "controls and DEL as \\u00XX");
	ok(quotes_as("a\0b", 3, "\"a\\u0000b\""), "NUL as \\u0000");
	ok(quotes_as("\xe2\x80\xa8x\xe2\x80\xa9", 7, "\"\\u2028x\\u2029\""),
	    "U+2028 and U+2029 escaped");
	ok(quotes_as("caf\xc3\xa9 \xf0\x9f\x9a\x97", 10,
	    "\"caf\xc3\xa9 \xf0\x9f\x9a\x97\""), "valid UTF-8 kept as is");
	ok(quotes_as("a\xff" "b\xc0\xaf", 5, "\"a\\ufffdb\\ufffd\\ufffd\""),
	    "invalid UTF-8 becomes U+FFFD");
	ok(quotes_as("</script>", 9, "\"</script>\""), "plain text unchanged");
	ok(quotes_as("", 0, "\"\""), "empty string");

	for (i = 0; i < 128; i++)
		all[i] = (char)i;
	ok(round_trip(all, sizeof(all)) == 0,
	    "bytes 0-127: refused as a field value "
	    "(NUL), yet written as valid JSON");
	ok(round_trip(all + 1, sizeof(all) - 1) == 0,
	    "bytes 1-127: refused as field text (C0 controls)");
	ok(round_trip(all + 32, sizeof(all) - 33),
	    "printable ASCII round-trips");
	ok(round_trip("x\xe2\x80\xa8y\xc3\xa9\t\n\"\\", 11),
	    "U+2028, UTF-8, TAB, LF, quote and backslash round-trip");
	buf_puts(&b, "[");
	json_quote(&b, all, sizeof(all));
	buf_puts(&b, "]");
	ok(json_check(b.p, b.len) == 0, "the quoted bytes 0-127 are JSON");
	buf_free(&b);

	jw_init(&w, &b);
	jw_obj(&w, NULL);
	jw_str(&w, "s", "x\"y");
	jw_str(&w, "null", NULL);
	jw_int(&w, "i", -42);
	jw_bool(&w, "t", 1);
	jw_bool(&w, "f", 0);
	jw_null(&w, "n");
	jw_arr(&w, "a");
	jw_money(&w, NULL, 2550);
	jw_money(&w, NULL, 3000);
	jw_money(&w, NULL, 5);
	jw_money(&w, NULL, -5);
	jw_money(&w, NULL, -2550);
	jw_money(&w, NULL, 0);
	jw_money(&w, NULL, 123456789);
	jw_money(&w, NULL, 120);
	jw_money(&w, NULL, -100);
	jw_arr_end(&w);
	jw_time(&w, "t0", 0);
	jw_time(&w, "t1", 1796301904);
	jw_strn(&w, "k\n", "ab", 1);
	jw_obj(&w, "o");
	jw_arr_end(&w); /* a mismatch is not tracked: only the depth */
	jw_arr(&w, "e");
	jw_arr_end(&w);
	jw_raw(&w, "r", "{\"x\":[1]}", 9);
	jw_obj_end(&w);
	is_str(b.p, "{\"s\":\"x\\\"y\",\"null\":null,\"i\":-42,\"t\":true,"
	    "\"f\":false,\"n\":null,\"a\":[25.5,30.0,0.05,-0.05,-25.5,0.0,"
	    "1234567.89,1.2,-1.0],\"t0\":null,\"t1\":\"2026-12-03T12:45:04Z\","
	    "\"k\\n\":\"a\",\"o\":{],\"e\":[],\"r\":{\"x\":[1]}}",
	    "the writer's output (money always with a decimal point)");
	buf_free(&b);

	jw_init(&w, &b);
	jw_obj(&w, NULL);
	jw_arr(&w, "list");
	for (i = 0; i < 3; i++) {
		jw_obj(&w, NULL);
		jw_int(&w, "id", i);
		jw_str(&w, "v", "\xe2\x80\xa8");
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	is_str(b.p, "{\"list\":[{\"id\":0,\"v\":\"\\u2028\"},{\"id\":1,"
	    "\"v\":\"\\u2028\"},{\"id\":2,\"v\":\"\\u2028\"}]}",
	    "commas in nested containers");
	ok(json_check(b.p, b.len) == 0, "json_check accepts the output");
	is_int(w.depth, 0, "depth back to 0");
	buf_free(&b);

	jw_init(&w, &b);
	for (i = 0; i < 31; i++)
		jw_arr(&w, NULL);
	for (i = 0; i < 31; i++)
		jw_arr_end(&w);
	is_int(b.len, 62, "31 levels of nesting are allowed");
	buf_free(&b);
}

/* Runs fn in a child; returns 1 when it died of SIGABRT (fatal()). */
static int
aborts(void (*fn)(void))
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		/* fatal() writes to stderr; keep the TAP output clean. */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(2);
		fn();
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void
too_deep(void)
{
	struct buf b = { 0 };
	struct jw w;
	int i;

	jw_init(&w, &b);
	for (i = 0; i < 32; i++)
		jw_arr(&w, NULL);
}

static void
close_too_many(void)
{
	struct buf b = { 0 };
	struct jw w;

	jw_init(&w, &b);
	jw_obj_end(&w);
}

static void
too_many_fields(void)
{
	static struct field f[MAX_FIELDS + 1];

	(void)parsen(f, MAX_FIELDS + 1, "{}", 2);
}

int
main(void)
{
	req_init(&req);
	resp_init(&resp);
	test_syntax();
	test_depth();
	test_int();
	test_money();
	test_str_bool();
	test_fields();
	test_flat();
	test_writer();
	ok(aborts(too_deep), "jw: a 32nd level aborts (a bug of ours)");
	ok(aborts(close_too_many), "jw: closing at depth 0 aborts");
	ok(aborts(too_many_fields), "more than MAX_FIELDS fields aborts");
	resp_free(&resp);
	pool_free(&req.pool);
	return done_testing();
}
