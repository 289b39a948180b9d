/*
 * token.c: the one file that includes libjwt.  HS256 tokens only.
 *
 * libjwt 1.10 checks the signature and nothing else (reliability.md F2):
 * an empty key disables verification, any HS* algorithm is accepted, no
 * claim is looked at.  So here:
 * - the key is never empty (the settings refuse a short secret, and
 *   token_keys() aborts on an empty one);
 * - the algorithm is pinned to HS256 after decoding;
 * - every claim is parsed strictly and checked by us: iss, type, sub/role,
 *   jti and sid (32 hex), iat, nbf, exp;
 * - access and refresh tokens are signed with different keys (the access
 *   key is JWT_SECRET_KEY itself, as the old backend did; the refresh key
 *   is derived from it), so one can never pass for the other.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>

#include "park.h"

#define LEEWAY_S 30
#define TOKEN_MAX 4096

static enum tokerr token_verify_full(const char *, size_t, int,
    struct token *, struct pool *);

static unsigned char refresh_key[32];
static const char *keyed_from; /* the secret refresh_key was made from */

/* Returns the key for a token type, deriving the refresh key once. */
static const unsigned char *
token_key(int type, size_t *len)
{
	const char *secret = conf.jwt_secret_key;
	static const char label[] = "parkd refresh-token key v1";

	if (secret == NULL || *secret == '\0')
		fatal("token_key: JWT_SECRET_KEY is empty");
	if (type == TOK_ACCESS) {
		*len = strlen(secret);
		return (const unsigned char *)secret;
	}
	if (keyed_from != secret) {
		hmac_sha256(secret, strlen(secret), label, sizeof(label) - 1,
		    refresh_key);
		keyed_from = secret;
	}
	*len = sizeof(refresh_key);
	return refresh_key;
}

int
token_issue(const struct token *t, struct buf *out)
{
	const unsigned char *key;
	size_t keylen;
	jwt_t *jwt = NULL;
	char *s = NULL;
	int rc = -1;

	key = token_key(t->type, &keylen);
	if (jwt_new(&jwt) != 0)
		return -1;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen) != 0 ||
	    jwt_add_grant(jwt, "sub", t->sub) != 0 ||
	    jwt_add_grant(jwt, "role", t->role == ROLE_ADMIN ? "admin" :
	    "user") != 0 ||
	    jwt_add_grant(jwt, "type", t->type == TOK_ACCESS ? "access" :
	    "refresh") != 0 ||
	    jwt_add_grant(jwt, "jti", t->jti) != 0 ||
	    jwt_add_grant(jwt, "sid", t->sid) != 0 ||
	    jwt_add_grant(jwt, "iss", conf.jwt_issuer) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)t->iat) != 0 ||
	    jwt_add_grant_int(jwt, "nbf", (long)t->nbf) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)t->exp) != 0)
		goto out;
	if (t->type == TOK_ACCESS &&
	    (jwt_add_grant(jwt, "username", t->username) != 0 ||
	    jwt_add_grant(jwt, "email", t->email) != 0))
		goto out;
	if ((s = jwt_encode_str(jwt)) == NULL)
		goto out;
	buf_reset(out);
	buf_puts(out, s);
	rc = 0;
out:
	free(s);
	jwt_free(jwt);
	return rc;
}

/* 1 when s is 32 lowercase hex characters. */
static int
is_id(const char *s, size_t len)
{
	return len == 32 && strspn(s, "0123456789abcdef") == 32;
}

/*
 * Verified tokens, remembered per process.  Verifying costs some 195,000
 * instructions (libjwt parses with jansson, MACs, writes the claims out
 * again; we parse them once more), about a whole booking; a client sends
 * the same access token for its whole life (an hour by default).  A signature and claims that
 * verified stay verified: only the clock matters, so a hit checks exp and
 * nbf again.  Revocation is not the token's business: the caller checks
 * the session on every request, hit or miss.  The entries belong to the
 * key and issuer they were verified with: when either changes (a reload
 * re-forks workers anyway; tests change them in place) the cache starts
 * empty again.
 *
 * Sets of TCACHE_WAYS entries, the least recently used one replaced.  A
 * worker sees every client's token: with one entry per slot, two tokens
 * on one slot pushed each other out at every request, and of 64 users'
 * tokens one in five shares a slot with another (1 - (255/256)^63); in
 * bench/run's booking case that was 2% of the machine's CPU in libcrypto
 * and jansson.  With 8 ways, 64 tokens fill some set past 8 with a chance
 * of about one in 30,000 (simulated).
 */
#define TCACHE_SLOTS 512
#define TCACHE_WAYS 8
#define TCACHE_MAXLEN 1024
#define TCACHE_MAXKEY 512

static struct tcache_entry {
	size_t len; /* 0: empty */
	uint64_t used; /* tcache_clock at the last hit or fill */
	char tok[TCACHE_MAXLEN];
	struct token t;
} *tcache;
static uint64_t tcache_clock;
/* The key and issuer every entry was verified with. */
static char tcache_key[TCACHE_MAXKEY], tcache_iss[256];
/* Verifications done in full (not from the cache), for the tests. */
static unsigned long tcache_full;

/* The first entry of the token's set (FNV-1a of its bytes). */
static struct tcache_entry *
tcache_set(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return &tcache[h % (TCACHE_SLOTS / TCACHE_WAYS) * TCACHE_WAYS];
}

/* 1 when the cache may be used with the key and issuer in force; empties
 * it when they are not those of its entries. */
static int
tcache_ready(void)
{
	if (strlen(conf.jwt_secret_key) >= sizeof(tcache_key) ||
	    strlen(conf.jwt_issuer) >= sizeof(tcache_iss))
		return 0;
	if (tcache == NULL)
		tcache = xcalloc(TCACHE_SLOTS, sizeof(*tcache));
	else if (strcmp(tcache_key, conf.jwt_secret_key) == 0 &&
	    strcmp(tcache_iss, conf.jwt_issuer) == 0)
		return 1;
	memset(tcache, 0, TCACHE_SLOTS * sizeof(*tcache));
	strcpy(tcache_key, conf.jwt_secret_key);
	strcpy(tcache_iss, conf.jwt_issuer);
	return 1;
}

/* A remembered verification of exactly these bytes, or NULL. */
static const struct token *
tcache_get(const char *s, size_t len, int type)
{
	struct tcache_entry *e;
	size_t w;

	if (len > TCACHE_MAXLEN || !tcache_ready())
		return NULL;
	e = tcache_set(s, len);
	for (w = 0; w < TCACHE_WAYS; w++, e++)
		if (e->len == len && e->t.type == type &&
		    memcmp(e->tok, s, len) == 0) {
			e->used = ++tcache_clock;
			return &e->t;
		}
	return NULL;
}

/* Remembers a verification, in its set's empty or least recently used
 * entry. */
static void
tcache_put(const char *s, size_t len, const struct token *t)
{
	struct tcache_entry *e, *lru;
	size_t w;

	if (len == 0 || len > TCACHE_MAXLEN || !tcache_ready())
		return;
	e = lru = tcache_set(s, len);
	for (w = 0; w < TCACHE_WAYS; w++, e++)
		if (e->used < lru->used)
			lru = e;
	memcpy(lru->tok, s, len);
	lru->len = len;
	lru->used = ++tcache_clock;
	lru->t = *t;
}

void
token_cache_clear(void)
{
	free(tcache);
	tcache = NULL;
}

unsigned long
token_full_verifications(void)
{
	return tcache_full;
}

enum tokerr
token_verify(const char *s, size_t len, int type, struct token *t,
    struct pool *pool)
{
	const struct token *hit;
	int64_t now;

	if ((hit = tcache_get(s, len, type)) != NULL) {
		now = park_now();
		if (hit->nbf > now + LEEWAY_S) {
			memset(t, 0, sizeof(*t));
			return TOK_INVALID;
		}
		if (now >= hit->exp + LEEWAY_S) {
			memset(t, 0, sizeof(*t));
			return TOK_EXPIRED;
		}
		*t = *hit;
		return TOK_OK;
	}
	return token_verify_full(s, len, type, t, pool);
}

/* The whole verification (libjwt, then every claim); remembers a success. */
static enum tokerr
token_verify_full(const char *s, size_t len, int type, struct token *t,
    struct pool *pool)
{
	static const struct field claims[] = {
		{ "sub", FT_STR, FS_BODY, 1, 1, 20, NULL, 0 },
		{ "role", FT_STR, FS_BODY, 1, 4, 5, NULL, 0 },
		{ "type", FT_STR, FS_BODY, 1, 6, 7, NULL, 0 },
		{ "jti", FT_STR, FS_BODY, 1, 32, 32, NULL, 0 },
		{ "sid", FT_STR, FS_BODY, 1, 32, 32, NULL, 0 },
		{ "iss", FT_STR, FS_BODY, 1, 1, 200, NULL, 0 },
		{ "iat", FT_INT, FS_BODY, 1, 0, 1LL << 40, NULL, 0 },
		{ "nbf", FT_INT, FS_BODY, 1, 0, 1LL << 40, NULL, 0 },
		{ "exp", FT_INT, FS_BODY, 1, 0, 1LL << 40, NULL, 0 },
		{ "username", FT_STR, FS_BODY, 0, 0, 80, NULL, 0 },
		{ "email", FT_STR, FS_BODY, 0, 0, 254, NULL, 0 },
	};
	enum { C_SUB, C_ROLE, C_TYPE, C_JTI, C_SID, C_ISS, C_IAT, C_NBF,
	    C_EXP, C_USERNAME, C_EMAIL, C_N };
	struct val v[C_N];
	const unsigned char *key;
	size_t keylen, i, dots = 0;
	jwt_t *jwt = NULL;
	char *grants = NULL;
	int64_t now = park_now();
	enum tokerr rc = TOK_INVALID;
	char *tok;

	memset(t, 0, sizeof(*t));
	if (len < 16 || len > TOKEN_MAX)
		return TOK_INVALID;
	for (i = 0; i < len; i++) {
		if (s[i] == '.')
			dots++;
		else if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return TOK_INVALID;
	}
	if (dots != 2)
		return TOK_INVALID;
	tok = pool_strndup(pool, s, len);

	tcache_full++;
	key = token_key(type, &keylen);
	if (jwt_decode(&jwt, tok, key, (int)keylen) != 0 || jwt == NULL)
		goto out;
	/* libjwt accepts HS384/HS512 with the same key, and "none" when
	 * the key is empty: pin the algorithm here. */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	if ((grants = jwt_get_grants_json(jwt, NULL)) == NULL)
		goto out;
	memset(v, 0, sizeof(v));
	if (json_parse_flat(grants, strlen(grants), claims, C_N, v, pool) != 0)
		goto out;

	if (strcmp(v[C_ISS].s, conf.jwt_issuer) != 0 ||
	    strcmp(v[C_TYPE].s, type == TOK_ACCESS ? "access" : "refresh")
	    != 0 || !is_id(v[C_JTI].s, v[C_JTI].len) ||
	    !is_id(v[C_SID].s, v[C_SID].len))
		goto out;
	if (strcmp(v[C_ROLE].s, "admin") == 0) {
		if (strcmp(v[C_SUB].s, "admin") != 0)
			goto out;
		t->role = ROLE_ADMIN;
	} else if (strcmp(v[C_ROLE].s, "user") == 0) {
		/* A user's subject is a positive decimal id. */
		if (v[C_SUB].s[0] < '1' || v[C_SUB].s[0] > '9' ||
		    strspn(v[C_SUB].s, "0123456789") != v[C_SUB].len ||
		    v[C_SUB].len > 15)
			goto out;
		t->role = ROLE_USER;
		t->user_id = strtoll(v[C_SUB].s, NULL, 10);
	} else
		goto out;
	if (v[C_IAT].i > now + LEEWAY_S || v[C_NBF].i > now + LEEWAY_S ||
	    v[C_IAT].i > v[C_EXP].i)
		goto out;
	/* No token of ours lives longer than the longest refresh. */
	if (v[C_EXP].i - v[C_IAT].i > (int64_t)conf.jwt_refresh_remember_ttl_s
	    + 60)
		goto out;
	if (now >= v[C_EXP].i + LEEWAY_S) {
		rc = TOK_EXPIRED;
		goto out;
	}

	t->type = type;
	snprintf(t->sub, sizeof(t->sub), "%s", v[C_SUB].s);
	memcpy(t->jti, v[C_JTI].s, 33);
	memcpy(t->sid, v[C_SID].s, 33);
	t->iat = v[C_IAT].i;
	t->nbf = v[C_NBF].i;
	t->exp = v[C_EXP].i;
	if (v[C_USERNAME].set)
		snprintf(t->username, sizeof(t->username), "%s",
		    v[C_USERNAME].s);
	if (v[C_EMAIL].set)
		snprintf(t->email, sizeof(t->email), "%s", v[C_EMAIL].s);
	rc = TOK_OK;
	tcache_put(s, len, t);
out:
	free(grants);
	jwt_free(jwt);
	return rc;
}
