/*
 * json.c: the one file that includes json-c, and our own JSON writer.
 *
 * Reading.  json-c 0.16 in JSON_TOKENER_STRICT mode still lets through
 * NaN, Infinity, 'single quotes', "1.", "-01", overlong or surrogate UTF-8,
 * and saturates big integers without an error (reliability.md F3, 1.3).
 * So the text is first scanned by json_lex() below, a complete JSON lexer
 * that refuses all of those, and only then given to the tokener, which
 * checks the structure and the depth.  Then every member is type-checked
 * against the route's field table; json-c objects never leave this file.
 *
 * The depth limit: json_tokener_new_ex(JSON_DEPTH) counts every value on
 * the path from the top, scalars included, the top value being level 1.
 * So with 16, sixteen nested empty arrays pass and seventeen do not, and
 * fifteen nested objects can hold a scalar but sixteen cannot.
 *
 * Validators (field->valid) run on FT_STR fields of a request body only:
 * json_parse_flat() (token claims) checks types and bounds alone.
 *
 * Writing.  The jw_* functions append to a struct buf; they never fail
 * (buf aborts on exhaustion) and escape every string with json_quote().
 */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "park.h"

#define JSON_DEPTH 16
/* The most tokens that open a value or a member name one text may hold:
 * json-c builds every value before we look at any (some 600 bytes for an
 * empty object: 64 KiB of "[{},{},...]" would take 14 MB).  Our largest
 * body has a dozen members. */
#define JSON_MAX_TOKENS 1024

/* ---- the lexer ---- */

/* Reads the 4 hex digits at s[i]; returns the value or -1. */
static long
hex4(const char *s, size_t len, size_t i)
{
	long v = 0;
	size_t k;
	int d;

	if (len - i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		if ((d = hex_value((unsigned char)s[i + k])) < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/*
 * Scans the string starting at the quote s[*i] and moves *i past its
 * closing quote.  Refuses raw control characters, bad escapes, unpaired
 * surrogate escapes and invalid UTF-8.  *nul is set when the string holds
 * \u0000.  Returns 0 or -1.
 */
static int
lex_string(const char *s, size_t len, size_t *i, int *nul)
{
	size_t p = *i + 1;
	unsigned char c;
	long u, lo;

	*nul = 0;
	while (p < len) {
		c = (unsigned char)s[p];
		if (c == '"') {
			*i = p + 1;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			if (utf8_next(s, len, &p) < 0)
				return -1;
			continue;
		}
		if (c != '\\') {
			p++;
			continue;
		}
		if (p + 1 >= len)
			return -1;
		c = (unsigned char)s[p + 1];
		if (c != 'u') {
			if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
				return -1;
			p += 2;
			continue;
		}
		if ((u = hex4(s, len, p + 2)) < 0)
			return -1;
		p += 6;
		if (u == 0)
			*nul = 1;
		if (u >= 0xdc00 && u <= 0xdfff)
			return -1;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (p + 1 >= len || s[p] != '\\' || s[p + 1] != 'u' ||
			    (lo = hex4(s, len, p + 2)) < 0xdc00 || lo > 0xdfff)
				return -1;
			p += 6;
		}
	}
	return -1;
}

/* Scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at s[*i]. */
static int
lex_number(const char *s, size_t len, size_t *i)
{
	size_t p = *i, start;

#define DIGIT(k) ((k) < len && s[k] >= '0' && s[k] <= '9')
	if (p < len && s[p] == '-')
		p++;
	if (!DIGIT(p))
		return -1;
	if (s[p] == '0')
		p++;
	else
		while (DIGIT(p))
			p++;
	if (p < len && s[p] == '.') {
		start = ++p;
		while (DIGIT(p))
			p++;
		if (p == start)
			return -1;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		start = p;
		while (DIGIT(p))
			p++;
		if (p == start)
			return -1;
	}
#undef DIGIT
	*i = p;
	return 0;
}

/*
 * Checks every token of the text: only RFC 8259 numbers, the three
 * literals in lower case, double-quoted strings per lex_string(), the six
 * structural characters and the four whitespace characters; no member name
 * holding \u0000 (json-c keys are C strings: "a\u0000b" would become "a").
 * At most JSON_MAX_TOKENS values and names.  The structure itself is
 * json-c's job.  Returns 0 or -1.
 */
static int
json_lex(const char *s, size_t len)
{
	size_t i = 0, tokens = 0;
	int nul = 0;

	while (i < len) {
		if (strchr(" \t\n\r:}],", s[i]) == NULL &&
		    ++tokens > JSON_MAX_TOKENS)
			return -1;
		switch (s[i]) {
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			i++;
			continue;
		case ':':
			if (nul)
				return -1;
			i++;
			continue;
		case '{':
		case '}':
		case '[':
		case ']':
		case ',':
			i++;
			nul = 0;
			continue;
		case '"':
			if (lex_string(s, len, &i, &nul) != 0)
				return -1;
			continue;
		case 't':
			if (len - i < 4 || memcmp(s + i, "true", 4) != 0)
				return -1;
			i += 4;
			break;
		case 'f':
			if (len - i < 5 || memcmp(s + i, "false", 5) != 0)
				return -1;
			i += 5;
			break;
		case 'n':
			if (len - i < 4 || memcmp(s + i, "null", 4) != 0)
				return -1;
			i += 4;
			break;
		default:
			if (lex_number(s, len, &i) != 0)
				return -1;
			break;
		}
		/* A number or literal ends at a token boundary: json-c
		 * reads "-01" as -0 then 1, and accepts it. */
		if (i < len && strchr(" \t\n\r,]}", s[i]) == NULL)
			return -1;
		nul = 0;
	}
	return 0;
}

/* 1 when every double in the tree is finite (1e400 parses as inf). */
static int
json_finite(struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!json_finite(json_object_array_get_idx(o, i)))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!json_finite(v))
				return 0;
		}
		return 1;
	}
	case json_type_null:
	case json_type_boolean:
	case json_type_int:
	case json_type_string:
		break;
	}
	return 1;
}

/*
 * Parses text (len bytes, and text[len] must be NUL) strictly.  Returns 0
 * and the value in *out (NULL for a top-level null), or -1.
 */
static int
json_parse_strict(const char *text, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error e;
	size_t end;

	*out = NULL;
	if (len == 0 || len >= INT_MAX || json_lex(text, len) != 0)
		return -1;
	if ((tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
		fatal("json_tokener_new_ex failed");
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* With the NUL included, a bare number at the end is complete
	 * instead of json_tokener_continue. */
	o = json_tokener_parse_ex(tok, text, (int)(len + 1));
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success || end != len ||
	    (o != NULL && !json_finite(o))) {
		json_object_put(o);
		return -1;
	}
	*out = o;
	return 0;
}

int
json_check(const char *text, size_t len)
{
	struct json_object *o;
	char *copy;
	int rc;

	if (len >= INT_MAX)
		return -1;
	copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	rc = json_parse_strict(copy, len, &o);
	json_object_put(o);
	free(copy);
	return rc;
}

/* ---- from JSON members to typed values ---- */

/*
 * Converts the text of a JSON number into cents when it has at most two
 * significant decimals ("25.5", "30", "0.05", "25.50", "1e2").  Returns 0,
 * -1 when there are more decimals, -2 when it is out of range.
 */
static int
money_parse(const char *s, long long *cents)
{
	char dig[64];
	size_t nd = 0, frac = 0;
	long exp = 0, scale;
	int neg = 0, eneg = 0, infrac = 0;
	unsigned long long v = 0;
	size_t k;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
		if (*s == '.') {
			infrac = 1;
			continue;
		}
		if (infrac)
			frac++;
		if (nd == 0 && *s == '0')
			continue; /* leading zeros carry no value */
		if (nd == sizeof(dig))
			return -2;
		dig[nd++] = *s;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			eneg = *s++ == '-';
		for (; *s >= '0' && *s <= '9'; s++)
			if (exp < 100000)
				exp = exp * 10 + (*s - '0');
		if (eneg)
			exp = -exp;
	}
	if (*s != '\0')
		return -1;
	if (nd == 0) {
		*cents = 0;
		return 0;
	}
	/* The value is dig x 10^scale cents. */
	scale = exp - (long)frac + 2;
	while (scale < 0) {
		if (nd == 0 || dig[nd - 1] != '0')
			return -1;
		nd--;
		scale++;
	}
	if (nd == 0) {
		*cents = 0;
		return 0;
	}
	if ((long)nd + scale > 18)
		return -2;
	for (k = 0; k < nd; k++)
		v = v * 10 + (unsigned long long)(dig[k] - '0');
	for (; scale > 0; scale--)
		v *= 10;
	*cents = neg ? -(long long)v : (long long)v;
	return 0;
}

/*
 * Writes cents as a number with at most 2 decimals ("25.5", "-0.05"); with
 * point, a whole amount keeps ".0" ("30.0"), as the old backend's floats
 * did: clients check for a float (api-contract.md, section 0).
 * Cached bodies hold this text: when it changes, bump the key prefix of
 * the cache (KEY_PREFIX in cache.c) so that no old body is served.
 */
static void
money_text(struct buf *b, long long cents, int point)
{
	unsigned long long m;
	const char *sign = "";

	if (cents < 0) {
		sign = "-";
		m = 0ULL - (unsigned long long)cents;
	} else
		m = (unsigned long long)cents;
	/* By hand: printf costs more than the rest of a lot object. */
	buf_puts(b, sign);
	buf_uint(b, m / 100);
	if (m % 100 != 0) {
		buf_putc(b, '.');
		buf_putc(b, (char)('0' + m % 100 / 10));
		if (m % 10 != 0)
			buf_putc(b, (char)('0' + m % 10));
	} else if (point)
		buf_puts(b, ".0");
}

/* "must be between 0 and 10000" for a money field, in the pool. */
static const char *
money_range_text(struct pool *pool, const struct field *f)
{
	struct buf b = { 0 };
	const char *r;

	buf_puts(&b, "must be between ");
	money_text(&b, f->min, 0);
	buf_puts(&b, " and ");
	money_text(&b, f->max, 0);
	r = pool_strdup(pool, b.p);
	buf_free(&b);
	return r;
}

/*
 * Converts one present, non-null member into *v according to f (its type
 * and bounds; validators are the caller's).  Strings are copied into pool.
 * Returns NULL or the problem (static or in the pool).
 */
static const char *
json_member(struct pool *pool, const struct field *f, struct json_object *o,
    struct val *v)
{
	const char *s;
	size_t len;
	int64_t i64;
	long long cents;
	int rc;

	switch (f->type) {
	case FT_INT:
		if (!json_object_is_type(o, json_type_int))
			return "must be an integer";
		/* json-c saturates what int64 cannot hold and reads values
		 * above INT64_MAX as uint64: both are out of range here. */
		i64 = json_object_get_int64(o);
		if (i64 == INT64_MAX || i64 == INT64_MIN ||
		    (i64 >= 0 && json_object_get_uint64(o) > INT64_MAX) ||
		    i64 < f->min || i64 > f->max)
			return pool_printf(pool,
			    "must be between %lld and %lld", f->min, f->max);
		v->i = i64;
		break;
	case FT_BOOL:
		if (!json_object_is_type(o, json_type_boolean))
			return "must be true or false";
		v->i = json_object_get_boolean(o) ? 1 : 0;
		break;
	case FT_MONEY:
		if (!json_object_is_type(o, json_type_int) &&
		    !json_object_is_type(o, json_type_double))
			return "must be a number with at most 2 decimals";
		/* A parsed double prints as its original text, so "25.50"
		 * and "1e2" are judged as written, never through binary
		 * floating point; an int prints as its (saturated) value. */
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		if (s == NULL)
			fatal("json_object_to_json_string_ext failed");
		rc = money_parse(s, &cents);
		if (rc == -1)
			return "must be a number with at most 2 decimals";
		if (rc == -2 || cents < f->min || cents > f->max)
			return money_range_text(pool, f);
		v->i = cents;
		break;
	case FT_STR:
		if (!json_object_is_type(o, json_type_string))
			return "must be a string";
		s = json_object_get_string(o);
		len = (size_t)json_object_get_string_len(o);
		if (memchr(s, '\0', len) != NULL)
			return "must not contain NUL characters";
		if (!valid_utf8_text(s, len, 1))
			return "must be text without control characters";
		if ((long long)len < f->min || (long long)len > f->max)
			return pool_printf(pool,
			    "must be %lld to %lld bytes long", f->min, f->max);
		v->s = pool_strndup(pool, s, len);
		v->len = len;
		break;
	}
	v->set = 1;
	return NULL;
}

/*
 * Fills *v from the member of root named by f (root may be NULL: no body).
 * A missing member or a null for a nullable field leaves v unset (v->null
 * tells the second); required fields must be present and not null.
 * Returns NULL or the problem.
 */
static const char *
json_lookup(struct pool *pool, struct json_object *root,
    const struct field *f, struct val *v)
{
	struct json_object *o = NULL;

	memset(v, 0, sizeof(*v));
	if (root == NULL || !json_object_object_get_ex(root, f->name, &o))
		return f->required ? "is required" : NULL;
	if (o == NULL) { /* JSON null */
		if (!f->nullable)
			return "must not be null";
		v->null = 1;
		return f->required ? "is required" : NULL;
	}
	return json_member(pool, f, o, v);
}

/* Finds the field called name among those of src (-1: any source);
 * returns its index or -1. */
static long
field_index(const struct field *fields, size_t nfields, int src,
    const char *name)
{
	size_t i;

	for (i = 0; i < nfields; i++)
		if ((src < 0 || (int)fields[i].src == src) &&
		    strcmp(fields[i].name, name) == 0)
			return (long)i;
	return -1;
}

int
json_parse_body(struct req *req, const struct field *fields, size_t nfields,
    struct resp *resp)
{
	struct json_object *root = NULL;
	const struct field *f;
	const char *bad;
	struct val *v;
	const char *ignored[FRONT_IGNORED_MAX];
	size_t i, nignored = 0, nmore = 0;
	int nbad = 0;

	if (nfields > MAX_FIELDS)
		fatal("json_parse_body: %zu fields, at most %d", nfields,
		    MAX_FIELDS);
	if (req->body != NULL && req->bodylen > 0) {
		if (req->body[req->bodylen] != '\0')
			fatal("json_parse_body: body not NUL-terminated");
		if (json_parse_strict(req->body, req->bodylen, &root) != 0) {
			resp_error(resp, 400, "VALIDATION",
			    "Malformed JSON: the body must be a JSON object");
			return -1;
		}
		if (root == NULL ||
		    !json_object_is_type(root, json_type_object)) {
			json_object_put(root);
			resp_error(resp, 400, "VALIDATION",
			    "body must be a JSON object");
			return -1;
		}
		/* A member the route does not take (old clients send
		 * user_id, confirm_password...) is ignored: it is never read
		 * below, so it cannot take effect (mass assignment of role,
		 * is_active... stays impossible).  Its name is logged. */
		json_object_object_foreach(root, key, val) {
			(void)val;
			if (field_index(fields, nfields, FS_BODY, key) >= 0)
				continue;
			if (nignored < FRONT_IGNORED_MAX)
				ignored[nignored++] = key;
			else
				nmore++;
		}
		if (nignored > 0)
			front_log_ignored(req, "body", ignored, nignored,
			    nmore);
	}

	for (i = 0; i < nfields; i++) {
		f = &fields[i];
		if (f->src != FS_BODY)
			continue;
		v = &req->in[i];
		bad = json_lookup(&req->pool, root, f, v);
		/* Validators may normalise: they get the pool copy. */
		if (bad == NULL && v->set && f->type == FT_STR &&
		    f->valid != NULL)
			bad = f->valid(req, &v->s, &v->len);
		if (bad != NULL) {
			memset(v, 0, sizeof(*v));
			resp_detail(resp, f->name, bad);
			nbad++;
		}
	}
	json_object_put(root);
	if (nbad > 0) {
		resp_error(resp, 400, "VALIDATION", "Invalid input");
		return -1;
	}
	return 0;
}

int
json_parse_flat(const char *text, size_t len, const struct field *fields,
    size_t nfields, struct val *out, struct pool *pool)
{
	struct json_object *root;
	char *copy;
	size_t i;
	int rc = -1;

	if (len >= INT_MAX)
		return -1;
	/* The tokener needs the NUL right after the text. */
	copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (json_parse_strict(copy, len, &root) != 0 || root == NULL ||
	    !json_object_is_type(root, json_type_object))
		goto out;
	{
		json_object_object_foreach(root, key, val) {
			(void)val;
			if (field_index(fields, nfields, -1, key) < 0)
				goto out;
		}
	}
	for (i = 0; i < nfields; i++)
		if (json_lookup(pool, root, &fields[i], &out[i]) != NULL)
			goto out;
	rc = 0;
out:
	json_object_put(root);
	free(copy);
	return rc;
}

/* ---- the writer ---- */

void
json_quote(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0, at;
	unsigned char c;
	long cp;
	char esc[8];

	buf_putc(b, '"');
	while (i < len) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f &&
		    c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			at = i;
			cp = utf8_next(s, len, &i);
			if (cp >= 0 && cp != 0x2028 && cp != 0x2029)
				continue;
			/* Flush up to the sequence, then escape it: invalid
			 * bytes become U+FFFD so the output is always valid
			 * UTF-8; U+2028/9 are line ends in JavaScript. */
			buf_add(b, s + run, at - run);
			if (cp < 0) {
				buf_puts(b, "\\ufffd");
				i = at + 1;
			} else
				buf_puts(b, cp == 0x2028 ? "\\u2028" :
				    "\\u2029");
			run = i;
			continue;
		}
		buf_add(b, s + run, i - run);
		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		case '\b':
			buf_puts(b, "\\b");
			break;
		case '\f':
			buf_puts(b, "\\f");
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			buf_add(b, esc, 6);
			break;
		}
		run = ++i;
	}
	buf_add(b, s + run, len - run);
	buf_putc(b, '"');
}

void
jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->first[0] = 1;
}

/* Writes the comma before a value (unless it is the first of its
 * container) and the member name when there is one. */
static void
jw_sep(struct jw *w, const char *key)
{
	if (!w->first[w->depth])
		buf_putc(w->b, ',');
	w->first[w->depth] = 0;
	if (key != NULL) {
		json_quote(w->b, key, strlen(key));
		buf_putc(w->b, ':');
	}
}

/* Opens a container; deeper than first[] can track is a bug of ours. */
static void
jw_open(struct jw *w, const char *key, char c)
{
	jw_sep(w, key);
	if (w->depth + 1 >= (int)sizeof(w->first))
		fatal("jw: nesting deeper than %zu", sizeof(w->first) - 1);
	buf_putc(w->b, c);
	w->depth++;
	w->first[w->depth] = 1;
}

static void
jw_close(struct jw *w, char c)
{
	if (w->depth <= 0)
		fatal("jw: closing a container that is not open");
	buf_putc(w->b, c);
	w->depth--;
}

void
jw_obj(struct jw *w, const char *key)
{
	jw_open(w, key, '{');
}

void
jw_obj_end(struct jw *w)
{
	jw_close(w, '}');
}

void
jw_arr(struct jw *w, const char *key)
{
	jw_open(w, key, '[');
}

void
jw_arr_end(struct jw *w)
{
	jw_close(w, ']');
}

void
jw_str(struct jw *w, const char *key, const char *s)
{
	if (s == NULL) {
		jw_null(w, key);
		return;
	}
	jw_strn(w, key, s, strlen(s));
}

void
jw_strn(struct jw *w, const char *key, const char *s, size_t len)
{
	jw_sep(w, key);
	json_quote(w->b, s, len);
}

void
jw_int(struct jw *w, const char *key, long long v)
{
	jw_sep(w, key);
	if (v < 0) {
		buf_putc(w->b, '-');
		buf_uint(w->b, 0ULL - (unsigned long long)v);
	} else
		buf_uint(w->b, (unsigned long long)v);
}

void
jw_bool(struct jw *w, const char *key, int v)
{
	jw_sep(w, key);
	buf_puts(w->b, v ? "true" : "false");
}

void
jw_null(struct jw *w, const char *key)
{
	jw_sep(w, key);
	buf_puts(w->b, "null");
}

void
jw_money(struct jw *w, const char *key, long long cents)
{
	jw_sep(w, key);
	money_text(w->b, cents, 1);
}

void
jw_time(struct jw *w, const char *key, int64_t t)
{
	char iso[32];

	if (t == 0) {
		jw_null(w, key);
		return;
	}
	jw_sep(w, key);
	/* ISO text is plain ASCII: no escaping needed. */
	time_iso(t, iso);
	buf_putc(w->b, '"');
	buf_add(w->b, iso, 20);
	buf_putc(w->b, '"');
}

void
jw_raw(struct jw *w, const char *key, const char *text, size_t len)
{
	jw_sep(w, key);
	buf_add(w->b, text, len);
}
