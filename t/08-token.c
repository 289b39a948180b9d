/*
 * 08-token: token_issue() and token_verify() (reliability.md 1.2, F2 and
 * test plan rows 14 and 16).
 *
 * libjwt 1.10 checks only the signature, so every claim check is ours.
 * Forged tokens are built here by hand: a header and a payload (JSON we
 * write), base64url, and an HS256 signature made with hmac_sha256() from
 * crypto.c.  Each forgery starts from a template that token_verify()
 * accepts (tested first), so a refusal is due to the one change made.
 * HS384/HS512 and other algorithms need digests this test cannot reach
 * without OpenSSL: t/53-auth.t forges them in Python.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "park.h"
#include "tap.h"

static char secret[] =
    "0123456789abcdef0123456789abcdef-test-secret-of-parkd";
static char issuer[] = "parkd-test";
static char other_issuer[] = "someone-else";

#define SID "0123456789abcdef0123456789abcdef"
#define JTI "fedcba9876543210fedcba9876543210"

static struct pool pool;
static int64_t now;

/* Appends base64url (no padding) of n bytes to b. */
static void
b64url(struct buf *b, const void *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *s = p;
	size_t i;
	unsigned long v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned long)s[i] << 16 | (unsigned long)s[i + 1] << 8 |
		    s[i + 2];
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
		buf_putc(b, tab[v >> 6 & 63]);
		buf_putc(b, tab[v & 63]);
	}
	if (n - i == 1) {
		v = (unsigned long)s[i] << 16;
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
	} else if (n - i == 2) {
		v = (unsigned long)s[i] << 16 | (unsigned long)s[i + 1] << 8;
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
		buf_putc(b, tab[v >> 6 & 63]);
	}
}

/*
 * Builds header.payload.signature into out.  sign: 1 to sign with key
 * (keylen bytes, HS256), 0 for an empty signature.
 */
static void
forge(struct buf *out, const char *header, const char *payload, int sign,
    const void *key, size_t keylen)
{
	unsigned char mac[32];

	buf_reset(out);
	b64url(out, header, strlen(header));
	buf_putc(out, '.');
	b64url(out, payload, strlen(payload));
	if (sign)
		hmac_sha256(key, keylen, out->p, out->len, mac);
	buf_putc(out, '.');
	if (sign)
		b64url(out, mac, sizeof(mac));
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* The claims of an access token of user 5, with each part replaceable. */
static char *
claims(const char *sub, const char *role, const char *type,
    const char *extra, long long iat, long long nbf, const char *exp)
{
	return pool_printf(&pool, "{\"sub\":\"%s\",\"role\":\"%s\","
	    "\"type\":\"%s\",\"jti\":\"" JTI "\",\"sid\":\"" SID "\","
	    "\"iss\":\"%s\",\"iat\":%lld,\"nbf\":%lld%s%s%s}", sub, role, type,
	    issuer, iat, nbf, exp ? ",\"exp\":" : "", exp ? exp : "",
	    extra ? extra : "");
}

static char *
exp_in(long long s)
{
	return pool_printf(&pool, "%lld", (long long)now + s);
}

/* token_verify() of the text of b as the given type. */
static enum tokerr
verify(const struct buf *b, int type, struct token *t)
{
	return token_verify(b->p, b->len, type, t, &pool);
}

/* Forges an access token of the claims (signed with the secret) and
 * returns what token_verify() says of it. */
static enum tokerr
verify_claims(const char *payload, int type)
{
	struct buf b = { 0 };
	struct token t;
	enum tokerr rc;

	forge(&b, HS256, payload, 1, secret, strlen(secret));
	rc = verify(&b, type, &t);
	buf_free(&b);
	return rc;
}

static void
issued(struct token *t, int type, enum role role, const char *sub)
{
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->role = role;
	snprintf(t->sub, sizeof(t->sub), "%s", sub);
	t->user_id = role == ROLE_USER ? strtoll(sub, NULL, 10) : 0;
	memcpy(t->jti, JTI, 33);
	memcpy(t->sid, SID, 33);
	t->iat = t->nbf = now;
	t->exp = now + (type == TOK_ACCESS ? 900 : 86400);
	if (type == TOK_ACCESS) {
		snprintf(t->username, sizeof(t->username), "alice_5");
		snprintf(t->email, sizeof(t->email), "alice@example.com");
	}
}

int
main(void)
{
	struct buf a = { 0 }, r = { 0 }, b = { 0 };
	unsigned long full;
	int good, round, u;
	char sub[16];
	struct token in, t;
	char *s, *p;
	size_t i, dot1, dot2;
	const char *junk[] = { " ", "+", "/", "=", "\n", "\t", "\"", "%",
	    "\xc3\xa9", "\x7f" };
	char big[5000];
	enum tokerr rc;

	conf.jwt_secret_key = secret;
	conf.jwt_issuer = issuer;
	conf.jwt_access_ttl_s = 900;
	conf.jwt_refresh_ttl_s = 30 * 86400;
	conf.jwt_refresh_remember_ttl_s = 90 * 86400;
	now = park_now();

	/* ---- tokens we issue ---- */
	issued(&in, TOK_ACCESS, ROLE_USER, "5");
	ok(token_issue(&in, &a) == 0, "an access token is issued");
	is_int(verify(&a, TOK_ACCESS, &t), TOK_OK, "and verifies as access");
	ok(t.type == TOK_ACCESS && t.role == ROLE_USER && t.user_id == 5 &&
	    strcmp(t.sub, "5") == 0 && strcmp(t.sid, SID) == 0 &&
	    strcmp(t.jti, JTI) == 0 && t.iat == now && t.nbf == now &&
	    t.exp == now + 900, "its claims come back");
	ok(strcmp(t.username, "alice_5") == 0 &&
	    strcmp(t.email, "alice@example.com") == 0,
	    "its username and e-mail come back");
	ok(strncmp(a.p, "eyJ", 3) == 0 && strchr(a.p, '=') == NULL,
	    "it is a compact JWS without padding");

	issued(&in, TOK_REFRESH, ROLE_USER, "5");
	ok(token_issue(&in, &r) == 0, "a refresh token is issued");
	is_int(verify(&r, TOK_REFRESH, &t), TOK_OK, "and verifies as refresh");
	ok(t.type == TOK_REFRESH && t.user_id == 5 && t.username[0] == '\0',
	    "a refresh token carries no username");

	is_int(verify(&r, TOK_ACCESS, &t), TOK_INVALID,
	    "a refresh token used as an access token: refused");
	is_int(verify(&a, TOK_REFRESH, &t), TOK_INVALID,
	    "an access token used as a refresh token: refused");

	issued(&in, TOK_ACCESS, ROLE_ADMIN, "admin");
	ok(token_issue(&in, &b) == 0 && verify(&b, TOK_ACCESS, &t) == TOK_OK &&
	    t.role == ROLE_ADMIN && t.user_id == 0 &&
	    strcmp(t.sub, "admin") == 0, "the admin's access token verifies");

	/* Tampering with a token we issued. */
	buf_reset(&b);
	buf_add(&b, a.p, a.len);
	dot1 = strcspn(b.p, ".");
	b.p[dot1 + 5] = b.p[dot1 + 5] == 'A' ? 'B' : 'A';
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "an issued token with one payload character changed: refused");
	buf_reset(&b);
	buf_add(&b, a.p, a.len);
	dot2 = (size_t)(strrchr(b.p, '.') - b.p);
	b.p[dot2 + 1] = b.p[dot2 + 1] == 'A' ? 'B' : 'A';
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "an issued token with its signature's first character changed: "
	    "refused");
	buf_reset(&b);
	buf_add(&b, a.p, dot2 + 1);
	for (i = 0; i < 43; i++)
		buf_putc(&b, "abcdefghijklmnopqrstuvwxyz"[i % 26]);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "a forged signature of the same length (43 characters): refused "
	    "(CVE-2024-25189 regression)");
	buf_reset(&b);
	buf_add(&b, a.p, dot2 + 1);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "an issued token without its signature: refused");
	buf_reset(&b);
	buf_add(&b, a.p, a.len - 2);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "an issued token with its signature cut short: refused");

	/* ---- hand-made tokens: first the template, which must pass ---- */
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_OK,
	    "a hand-made HS256 token with our claims verifies (the forging "
	    "works)");
	is_int(verify_claims(claims("5", "user", "refresh", NULL, now, now,
	    exp_in(900)), TOK_REFRESH), TOK_INVALID,
	    "refresh claims signed with the access key: refused (separate "
	    "keys)");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    exp_in(900)), TOK_REFRESH), TOK_INVALID,
	    "access claims presented as refresh: refused");

	/* Time claims. */
	is_int(verify_claims(claims("5", "user", "access", NULL, now - 961,
	    now - 961, exp_in(-61)), TOK_ACCESS), TOK_EXPIRED,
	    "exp = now - 61: TOK_EXPIRED");
	is_int(verify_claims(claims("5", "user", "access", NULL, now - 100000,
	    now - 100000, exp_in(-99100)), TOK_ACCESS), TOK_EXPIRED,
	    "expired long ago: TOK_EXPIRED");
	is_int(verify_claims(claims("5", "user", "access", NULL, now - 899,
	    now - 899, exp_in(1)), TOK_ACCESS), TOK_OK,
	    "exp = now + 1: still valid");
	is_int(verify_claims(claims("5", "user", "access", NULL, now,
	    now + 120, exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "nbf = now + 120: refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now + 120,
	    now, exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "iat = now + 120 (issued in the future): refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    exp_in(-1000)), TOK_ACCESS), TOK_INVALID,
	    "exp before iat: refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    exp_in(400 * 86400)), TOK_ACCESS), TOK_INVALID,
	    "a lifetime longer than any token of ours (400 days): refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    NULL), TOK_ACCESS), TOK_INVALID, "no exp: refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    pool_printf(&pool, "\"%lld\"", (long long)now + 900)),
	    TOK_ACCESS), TOK_INVALID, "exp as a string: refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    pool_printf(&pool, "%lld.5", (long long)now + 900)), TOK_ACCESS),
	    TOK_INVALID, "exp as a float: refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    "1.9e9"), TOK_ACCESS), TOK_INVALID,
	    "exp in exponent notation: refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    "null"), TOK_ACCESS), TOK_INVALID, "exp null: refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    "-1"), TOK_ACCESS), TOK_INVALID, "exp negative: refused");
	is_int(verify_claims(claims("5", "user", "access", NULL, now, now,
	    "99999999999999999999999"), TOK_ACCESS), TOK_INVALID,
	    "exp beyond 64 bits: refused");
	is_int(verify_claims(pool_printf(&pool, "{\"sub\":\"5\",\"role\":"
	    "\"user\",\"type\":\"access\",\"jti\":\"" JTI "\",\"sid\":\""
	    SID "\",\"iss\":\"%s\",\"nbf\":%lld,\"exp\":%lld}", issuer,
	    (long long)now, (long long)now + 900), TOK_ACCESS), TOK_INVALID,
	    "no iat: refused");

	/* Issuer, type, identity. */
	p = issuer;
	conf.jwt_issuer = other_issuer;
	issued(&in, TOK_ACCESS, ROLE_USER, "5");
	ok(token_issue(&in, &b) == 0, "a token of another issuer is made");
	conf.jwt_issuer = p;
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "wrong iss: refused");
	s = claims("5", "user", "access", NULL, now, now, exp_in(900));
	p = strstr(s, "\"iss\"");
	memmove(p, p + 6 + strlen(issuer) + 3, strlen(p + 6 +
	    strlen(issuer) + 3) + 1);
	is_int(verify_claims(s, TOK_ACCESS), TOK_INVALID, "no iss: refused");
	is_int(verify_claims(claims("5", "user", "Access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "type \"Access\" (case): refused");
	is_int(verify_claims(claims("5", "user", "id", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID, "type \"id\": refused");
	is_int(verify_claims(claims("5", "admin", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "role admin with sub \"5\": refused");
	is_int(verify_claims(claims("admin", "user", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "role user with sub \"admin\": refused");
	is_int(verify_claims(claims("5", "superuser", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "an unknown role: refused");
	is_int(verify_claims(claims("5", "Admin", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "role \"Admin\" (case): refused");
	is_int(verify_claims(claims("0", "user", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID, "sub \"0\": refused");
	is_int(verify_claims(claims("05", "user", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "sub with a leading zero: refused");
	is_int(verify_claims(claims("-5", "user", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID, "sub \"-5\": refused");
	is_int(verify_claims(claims("5 ", "user", "access", NULL, now, now,
	    exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "sub with a trailing space: refused");
	is_int(verify_claims(claims("1234567890123456", "user", "access", NULL,
	    now, now, exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "sub of 16 digits: refused");
	s = claims("5", "user", "access", NULL, now, now, exp_in(900));
	p = strstr(s, JTI);
	p[0] = 'X';
	is_int(verify_claims(s, TOK_ACCESS), TOK_INVALID,
	    "a jti that is not 32 hex digits: refused");
	s = claims("5", "user", "access", NULL, now, now, exp_in(900));
	p = strstr(s, SID);
	p[31] = 'F';
	is_int(verify_claims(s, TOK_ACCESS), TOK_INVALID,
	    "a sid with an uppercase hex digit: refused");
	is_int(verify_claims(claims("5", "user", "access", ",\"admin\":true",
	    now, now, exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "an extra unknown claim: refused (strict claims)");
	is_int(verify_claims(claims("5", "user", "access", ",\"aud\":\"x\"",
	    now, now, exp_in(900)), TOK_ACCESS), TOK_INVALID,
	    "an aud claim we never issue: refused");
	is_int(verify_claims(claims("5", "user", "access",
	    ",\"username\":\"alice_5\",\"email\":\"alice@example.com\"", now,
	    now, exp_in(900)), TOK_ACCESS), TOK_OK,
	    "username and email claims are accepted");

	/* Headers and algorithms. */
	forge(&b, "{\"alg\":\"none\",\"typ\":\"JWT\"}", claims("5", "user",
	    "access", NULL, now, now, exp_in(900)), 0, NULL, 0);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "alg none, unsigned: refused");
	forge(&b, "{\"alg\":\"NONE\",\"typ\":\"JWT\"}", claims("5", "user",
	    "access", NULL, now, now, exp_in(900)), 0, NULL, 0);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "alg NONE, unsigned: refused");
	forge(&b, "{\"alg\":\"none\",\"typ\":\"JWT\"}", claims("5", "user",
	    "access", NULL, now, now, exp_in(900)), 1, secret, strlen(secret));
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "alg none with a real HMAC as signature: refused");
	forge(&b, "{\"typ\":\"JWT\"}", claims("5", "user", "access", NULL, now,
	    now, exp_in(900)), 1, secret, strlen(secret));
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "no alg in the header: refused");
	forge(&b, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims("5", "user",
	    "access", NULL, now, now, exp_in(900)), 1, secret, strlen(secret));
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "alg RS256 with an HMAC of the secret (key confusion): refused");
	forge(&b, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", claims("5", "user",
	    "access", NULL, now, now, exp_in(900)), 1, secret, strlen(secret));
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "typ other than JWT: refused");
	forge(&b, HS256, claims("5", "user", "access", NULL, now, now,
	    exp_in(900)), 1, "", 0);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "signed with an empty key: refused");
	forge(&b, HS256, claims("5", "user", "access", NULL, now, now,
	    exp_in(900)), 1, secret, strlen(secret) - 1);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "signed with the secret less its last byte: refused");
	forge(&b, HS256, "[1,2,3]", 1, secret, strlen(secret));
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "a payload that is not an object: refused");
	forge(&b, HS256, "{\"sub\":\"5\"", 1, secret, strlen(secret));
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "a payload that is not JSON: refused");

	/* ---- the text itself ---- */
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		buf_reset(&b);
		buf_add(&b, a.p, 20);
		buf_puts(&b, junk[i]);
		buf_add(&b, a.p + 20, a.len - 20);
		is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
		    "a valid token with junk character 0x%02x inserted: "
		    "refused", (unsigned char)junk[i][0]);
	}
	buf_reset(&b);
	buf_add(&b, a.p, a.len);
	buf_putc(&b, '=');
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "a valid token with padding appended: refused");
	buf_reset(&b);
	buf_add(&b, a.p, a.len);
	b.p[10] = '\0';
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "a valid token with an embedded NUL: refused");
	buf_reset(&b);
	buf_add(&b, a.p, a.len);
	buf_puts(&b, ".");
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "a fourth segment: refused");
	buf_reset(&b);
	buf_add(&b, a.p, dot2);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "two segments: refused");
	is_int(token_verify("", 0, TOK_ACCESS, &t, &pool), TOK_INVALID,
	    "the empty token: refused");
	is_int(token_verify("a.b.c", 5, TOK_ACCESS, &t, &pool), TOK_INVALID,
	    "a.b.c: refused");
	memset(big, 'A', sizeof(big));
	big[100] = big[200] = '.';
	is_int(token_verify(big, sizeof(big), TOK_ACCESS, &t, &pool),
	    TOK_INVALID, "a 5000-byte token: refused");
	buf_reset(&b);
	s = claims("5", "user", "access", NULL, now, now, exp_in(900));
	p = pool_printf(&pool, "%.*s,\"pad\":\"%04000d\"}",
	    (int)strlen(s) - 1, s, 0);
	forge(&b, HS256, p, 1, secret, strlen(secret));
	ok(b.len > 4096, "a signed token of %zu bytes is made", b.len);
	is_int(verify(&b, TOK_ACCESS, &t), TOK_INVALID,
	    "a signed over-long token: refused");

	/* After a refusal, nothing of the token is left in t. */
	forge(&b, HS256, claims("5", "admin", "access", NULL, now, now,
	    exp_in(900)), 1, secret, strlen(secret));
	memset(&t, 0x55, sizeof(t));
	rc = verify(&b, TOK_ACCESS, &t);
	ok(rc == TOK_INVALID && t.role == ROLE_NONE && t.user_id == 0,
	    "a refused token leaves no role or user behind");

	/* The per-process cache of verified tokens. */
	token_cache_clear();
	issued(&in, TOK_ACCESS, ROLE_USER, "5");
	ok(token_issue(&in, &a) == 0, "cache: a token to verify");
	ok(verify(&a, TOK_ACCESS, &t) == TOK_OK &&
	    verify(&a, TOK_ACCESS, &in) == TOK_OK &&
	    memcmp(&t, &in, sizeof(t)) == 0,
	    "cache: a second verification gives the same claims");
	ok(verify(&a, TOK_REFRESH, &t) == TOK_INVALID,
	    "cache: a remembered access token is no refresh token");
	conf.jwt_issuer = other_issuer;
	ok(verify(&a, TOK_ACCESS, &t) == TOK_INVALID,
	    "cache: another issuer in force: the entry is not used");
	conf.jwt_issuer = issuer;
	secret[0] ^= 1;
	ok(verify(&a, TOK_ACCESS, &t) == TOK_INVALID,
	    "cache: another key in force: the entry is not used");
	secret[0] ^= 1;
	ok(verify(&a, TOK_ACCESS, &t) == TOK_OK, "cache: and back");

	/* A worker sees every client's token.  64 users, each token sent
	 * three times in turn: each is verified in full once.  (With one
	 * entry per slot, two of 64 tokens shared a slot in all but 1 run in
	 * 5,500 and pushed each other out every time; with 8 ways a set
	 * overflows in about 1 run in 30,000.) */
	token_cache_clear();
	full = token_full_verifications();
	good = 1;
	for (round = 0; round < 3; round++)
		for (u = 1; u <= 64; u++) {
			snprintf(sub, sizeof sub, "%d", u);
			issued(&in, TOK_ACCESS, ROLE_USER, sub);
			if (token_issue(&in, &b) != 0 ||
			    verify(&b, TOK_ACCESS, &t) != TOK_OK ||
			    t.user_id != u)
				good = 0;
		}
	ok(good, "cache: 64 users' tokens, three rounds: every one verified");
	is_int((int)(token_full_verifications() - full), 64,
	    "cache: each verified in full once, then remembered");
	token_cache_clear();

	buf_free(&a);
	buf_free(&r);
	buf_free(&b);
	pool_free(&pool);
	return done_testing();
}
