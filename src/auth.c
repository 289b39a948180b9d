/*
 * auth.c: who is calling (the token-and-role step of the front line) and
 * the account routes: register, login, refresh, logout, me.
 *
 * Every access token is checked twice: its signature and claims
 * (token.c), then its login session in the database, on every request, so
 * that logout, a password change or a deactivation stops it at once in
 * every worker, and the role comes from our records, not from the token.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "park.h"

/* The same words for an unknown user and a wrong password. */
#define BAD_LOGIN "Invalid username/email or password"

/* ---- the front-line step ---- */

/* The 403 of an account whose address must be verified first. */
static void
not_verified(struct resp *w)
{
	resp_error(w, 403, "EMAIL_NOT_VERIFIED",
	    "Email address is not verified; open the link e-mailed to "
	    "you, or reset the password by e-mail");
}

/*
 * Whether the access token t is one the session ss still stands behind:
 * its current access token, or the one a refresh replaced less than
 * PARKD_REFRESH_LEEWAY_S ago (a request in flight while another tab
 * refreshed); and younger than the access lifetime of the session's
 * remember_me as configured now (a reload that shortens it applies to
 * tokens already issued).  A refresh repeated within the leeway re-signs
 * the same pair (same jti): it stays the current one.  A session from
 * before migration 012 never rotated has no access_jti: its one token.
 */
enum access_verdict { ACCESS_OK, ACCESS_EXPIRED, ACCESS_RETIRED };

static enum access_verdict
access_current(const struct token *t, const struct session_state *ss)
{
	int64_t now = park_now();
	int64_t life = ss->remember ? conf.jwt_access_remember_ttl_s :
	    conf.jwt_access_ttl_s;

	if (now >= t->iat + life)
		return ACCESS_EXPIRED;
	if (ss->access_jti == NULL)
		return ss->rotated_at == 0 ? ACCESS_OK : ACCESS_RETIRED;
	if (strcmp(ss->access_jti, t->jti) == 0)
		return ACCESS_OK;
	if (ss->prev_access_jti != NULL &&
	    strcmp(ss->prev_access_jti, t->jti) == 0 &&
	    now - ss->rotated_at < conf.refresh_leeway_s)
		return ACCESS_OK;
	return ACCESS_RETIRED;
}

/* Takes the token out of "Authorization: Bearer <token>"; NULL if none. */
static const char *
bearer(const struct req *r, size_t *len)
{
	const char *a = r->authorization;

	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	*len = strlen(a);
	while (*len > 0 && a[*len - 1] == ' ')
		(*len)--;
	return *len > 0 ? a : NULL;
}

/* Fills a 401 with the Bearer challenge. */
static void
unauthorized(struct resp *w, const char *code, const char *text)
{
	resp_error(w, 401, code, text);
	resp_header(w, "WWW-Authenticate", "Bearer");
}

/*
 * AC_LINK without an Authorization header: the signed link token in the
 * query (?token=) for the route's {s}, an export file (exports.c signs and
 * checks them).  The caller becomes the file's owner.  Returns 0, or -1
 * after filling 401 (missing, forged, altered or expired link), 404 (its
 * file is gone) or 403 (the owner's account is inactive).
 */
static int
auth_link(struct req *r, struct resp *w)
{
	const char *lt = http_query_get(r, "token");
	const char *file = r->pstr[0];
	char task[33];
	int64_t owner;
	int active;
	enum tokerr te;
	enum dbrc rc;

	if (lt == NULL || *lt == '\0') {
		unauthorized(w, "UNAUTHENTICATED",
		    "Missing bearer token or download link token");
		return -1;
	}
	te = exports_link_check(lt, file, task);
	if (te == TOK_EXPIRED) {
		unauthorized(w, "TOKEN_EXPIRED", "Download link has expired");
		return -1;
	}
	if (te != TOK_OK) {
		log_msg(LOG_WARN, "security: invalid download link addr=%s",
		    r->remote_addr ? r->remote_addr : "-");
		unauthorized(w, "UNAUTHENTICATED", "Invalid download link");
		return -1;
	}
	rc = db_export_link_owner(task, file, &owner, &active);
	if (rc == DB_NOTFOUND) {
		resp_error(w, 404, "NOT_FOUND", "File not found");
		return -1;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return -1;
	}
	if (!active) {
		resp_error(w, 403, "ACCOUNT_INACTIVE", "Account is inactive");
		return -1;
	}
	r->who.role = ROLE_USER;
	r->who.user_id = owner;
	r->who.by_link = 1;
	return 0;
}

int
auth_front(struct req *r, struct resp *w)
{
	const struct route *rt = r->route;
	struct session_state ss;
	struct token t;
	const char *tok;
	size_t len;
	enum tokerr te;
	enum dbrc rc;
	int type = rt->access == AC_REFRESH ? TOK_REFRESH : TOK_ACCESS;

	if (rt->access == AC_LINK && (r->authorization == NULL ||
	    *r->authorization == '\0'))
		return auth_link(r, w);
	if ((tok = bearer(r, &len)) == NULL) {
		unauthorized(w, "UNAUTHENTICATED", "Missing bearer token");
		return -1;
	}
	te = token_verify(tok, len, type, &t, &r->pool);
	if (te == TOK_EXPIRED) {
		unauthorized(w, "TOKEN_EXPIRED", "Token has expired");
		return -1;
	}
	if (te != TOK_OK) {
		unauthorized(w, "UNAUTHENTICATED", "Invalid token");
		return -1;
	}
	r->who.user_id = t.user_id;
	memcpy(r->who.sid, t.sid, sizeof(r->who.sid));
	memcpy(r->who.jti, t.jti, sizeof(r->who.jti));
	if (type == TOK_REFRESH) {
		/* The refresh handler checks the session in its own write
		 * transaction (rotation). */
		r->who.role = t.role;
		return 0;
	}

	rc = db_session_check(&r->pool, t.sid, auth_admin_fp(), &ss);
	if (rc == DB_NOTFOUND || (rc == DB_OK && !ss.valid)) {
		unauthorized(w, "TOKEN_REVOKED", "Token has been revoked");
		return -1;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return -1;
	}
	/* A reload shortened its lifetime: as a token past its exp.  A
	 * refresh retired it: as a revoked one (the client holds a newer
	 * one). */
	switch (access_current(&t, &ss)) {
	case ACCESS_OK:
		break;
	case ACCESS_EXPIRED:
		unauthorized(w, "TOKEN_EXPIRED", "Token has expired");
		return -1;
	case ACCESS_RETIRED:
		unauthorized(w, "TOKEN_REVOKED", "Token has been revoked");
		return -1;
	}
	r->snap = db_data_version();
	/* The session row, not the token, says who this is. */
	if (ss.is_admin != (t.role == ROLE_ADMIN) ||
	    (!ss.is_admin && ss.user_id != t.user_id)) {
		unauthorized(w, "UNAUTHENTICATED", "Invalid token");
		return -1;
	}
	r->who.role = ss.is_admin ? ROLE_ADMIN : ROLE_USER;
	if (!ss.user_active) {
		resp_error(w, 403, "ACCOUNT_INACTIVE", "Account is inactive");
		return -1;
	}
	/* The same rule as the login, for a session made before the address
	 * changed (or the setting was turned on): only the routes that get
	 * the address verified, or fixed, or end the session. */
	if (!ss.is_admin && conf.require_email_verification &&
	    !ss.email_verified && !rt->unverified_ok) {
		not_verified(w);
		return -1;
	}
	if (ss.is_admin)
		snprintf(r->who.email, sizeof(r->who.email), "%s",
		    conf.admin_email);
	else {
		snprintf(r->who.username, sizeof(r->who.username), "%s",
		    ss.username ? ss.username : "");
		snprintf(r->who.email, sizeof(r->who.email), "%s",
		    ss.email ? ss.email : "");
	}
	if (((rt->access == AC_USER || rt->access == AC_LINK) &&
	    r->who.role != ROLE_USER) ||
	    (rt->access == AC_ADMIN && r->who.role != ROLE_ADMIN)) {
		resp_error(w, 403, "FORBIDDEN",
		    rt->access == AC_ADMIN ? "Admin access required" :
		    "This route is for users");
		return -1;
	}
	return 0;
}

/* ---- JSON of accounts ---- */

void
user_json(struct jw *jw, const char *key, const struct user *u)
{
	jw_obj(jw, key);
	jw_int(jw, "id", u->id);
	jw_str(jw, "username", u->username);
	jw_str(jw, "email", u->email);
	jw_str(jw, "role", "user");
	jw_str(jw, "phone", u->phone);
	jw_bool(jw, "is_active", u->is_active);
	jw_time(jw, "created_at", u->created_at);
	jw_time(jw, "updated_at", u->updated_at);
	jw_time(jw, "last_login", u->last_login);
	jw_bool(jw, "email_verified", u->email_verified);
	jw_obj_end(jw);
}

/* The configured admin, shaped like a user. */
static void
admin_json(struct jw *jw, const char *key)
{
	jw_obj(jw, key);
	jw_str(jw, "id", "admin");
	jw_str(jw, "username", "admin");
	jw_str(jw, "email", conf.admin_email);
	jw_str(jw, "role", "admin");
	jw_null(jw, "phone");
	jw_bool(jw, "is_active", 1);
	jw_null(jw, "created_at");
	jw_null(jw, "updated_at");
	jw_null(jw, "last_login");
	jw_bool(jw, "email_verified", 1);
	if (conf.admin_name != NULL && conf.admin_name[0] != '\0')
		jw_str(jw, "name", conf.admin_name);
	jw_obj_end(jw);
}

/* Writes the caller's own account object (user or admin). */
static int
caller_json(struct req *r, struct resp *w, struct jw *jw, const char *key)
{
	struct user u;
	enum dbrc rc;

	if (r->who.role == ROLE_ADMIN) {
		admin_json(jw, key);
		return 0;
	}
	if ((rc = db_user_get(&r->pool, r->who.user_id, &u)) != DB_OK) {
		db_to_http(rc, w);
		return -1;
	}
	user_json(jw, key, &u);
	return 0;
}

/* ---- tokens for a session ---- */

/*
 * Writes {access_token, refresh_token, token_type, expires_in, user} for
 * the pair tp of a session (remember: logged in with remember_me).  Every
 * claim comes from the arguments, the user's row and the settings, none
 * from the clock: the same pair signed again is the same two tokens (a
 * refresh repeated within the leeway).  The access token lives
 * JWT_ACCESS_TOKEN_EXPIRES, or PARKD_JWT_ACCESS_REMEMBER_EXPIRES, from
 * its iat, never past the refresh token; expires_in is its exp - iat.
 * Returns 0, or -1 after filling w.
 */
static int
tokens_json(struct req *r, struct resp *w, const char *message,
    enum role role, int64_t user_id, const char *sid, int remember,
    const struct token_pair *tp)
{
	struct token t;
	struct buf access = { 0 }, refresh = { 0 };
	struct user u;
	struct jw jw;
	enum dbrc rc;
	int64_t access_life;
	int ret = -1;

	memset(&t, 0, sizeof(t));
	if (role == ROLE_USER) {
		if ((rc = db_user_get(&r->pool, user_id, &u)) != DB_OK) {
			db_to_http(rc, w);
			return -1;
		}
		snprintf(t.sub, sizeof(t.sub), "%lld", (long long)user_id);
		snprintf(t.username, sizeof(t.username), "%s", u.username);
		snprintf(t.email, sizeof(t.email), "%s", u.email);
	} else {
		snprintf(t.sub, sizeof(t.sub), "admin");
		snprintf(t.username, sizeof(t.username), "admin");
		snprintf(t.email, sizeof(t.email), "%s", conf.admin_email);
	}
	t.role = role;
	memcpy(t.sid, sid, 33);
	t.iat = t.nbf = tp->iat;

	t.type = TOK_ACCESS;
	memcpy(t.jti, tp->access_jti, 33);
	t.exp = tp->iat + (remember ? conf.jwt_access_remember_ttl_s :
	    conf.jwt_access_ttl_s);
	if (t.exp > tp->refresh_exp)
		t.exp = tp->refresh_exp;
	access_life = t.exp - t.iat;
	if (token_issue(&t, &access) != 0)
		goto out;
	t.type = TOK_REFRESH;
	memcpy(t.jti, tp->refresh_jti, 33);
	t.exp = tp->refresh_exp;
	if (token_issue(&t, &refresh) != 0)
		goto out;

	resp_ok(w, message, &jw);
	jw_obj(&jw, NULL);
	jw_str(&jw, "access_token", access.p);
	jw_str(&jw, "refresh_token", refresh.p);
	jw_str(&jw, "token_type", "Bearer");
	jw_int(&jw, "expires_in", access_life);
	if (role == ROLE_USER)
		user_json(&jw, "user", &u);
	else
		admin_json(&jw, "user");
	jw_obj_end(&jw);
	ret = 0;
out:
	if (ret != 0)
		resp_error(w, 500, "INTERNAL", "Could not issue tokens");
	buf_free(&access);
	buf_free(&refresh);
	return ret;
}

/* ---- handlers ---- */

int
auth_hash_gate(struct resp *w)
{
	if (pw_gate_enter() == 0)
		return 0;
	log_msg(LOG_WARN, "every hash slot is taken: 503");
	metrics_inc(MX_HASH_REFUSED);
	/* The one mapping of "busy, retry": 503 with Retry-After: 1. */
	db_to_http(DB_BUSY, w);
	return -1;
}

enum { REG_USERNAME, REG_EMAIL, REG_PASSWORD, REG_PHONE };

/*
 * POST /api/auth/register: creates a user; returns the user object and no
 * tokens.  Statuses: 200, 400, 409 (details name the taken field), 503
 * (also: every hash slot taken).
 */
void
auth_register(struct req *r, struct resp *w)
{
	struct user u;
	struct acct_token vt;
	struct buf hash = { 0 };
	struct jw jw;
	enum dbrc rc;
	int64_t id;
	int dup_name = 0, dup_email = 0;

	memset(&u, 0, sizeof(u));
	u.username = r->in[REG_USERNAME].s;
	u.email = r->in[REG_EMAIL].s;
	/* A phone of only separators normalises to "": none. */
	u.phone = r->in[REG_PHONE].set && r->in[REG_PHONE].len > 0 ?
	    r->in[REG_PHONE].s : NULL;
	/* The admin's address is not for a second account. */
	if (conf.admin_email != NULL &&
	    strcasecmp(u.email, conf.admin_email) == 0) {
		resp_error(w, 409, "CONFLICT", "Email already registered");
		resp_detail(w, "email", "is already registered");
		return;
	}
	/* Hash outside the transaction: it takes a while. */
	if (auth_hash_gate(w) != 0)
		return;
	if (pw_hash(r->in[REG_PASSWORD].s, r->in[REG_PASSWORD].len,
	    &hash) != 0) {
		resp_error(w, 500, "INTERNAL", "Could not hash the password");
		return;
	}
	u.password_hash = pool_strdup(&r->pool, hash.p);
	buf_free(&hash);
	/* The verification link is queued with the account (recovery.c). */
	recovery_verify_link(&r->pool, u.email, u.username, &vt);
	rc = db_user_insert(&u, &id, &dup_name, &dup_email, &vt);
	if (rc == DB_CONFLICT) {
		resp_error(w, 409, "CONFLICT", dup_name ?
		    "Username already taken" : "Email already registered");
		if (dup_name)
			resp_detail(w, "username", "is already taken");
		if (dup_email)
			resp_detail(w, "email", "is already registered");
		return;
	}
	if (rc != DB_OK || (rc = db_user_get(&r->pool, id, &u)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	log_msg(LOG_INFO, "security: registered user %lld", (long long)id);
	resp_ok(w, "User registered successfully", &jw);
	user_json(&jw, NULL, &u);
}

/* Compares an e-mail with the admin's, case-insensitively and in constant
 * time (HMACs of the lower-cased texts).  Returns 1 when equal. */
static int
is_admin_email(const char *account)
{
	unsigned char a[32], b[32];
	char lc[255];
	size_t i;
	const char *adm = conf.admin_email;

	if (adm == NULL || *adm == '\0')
		return 0;
	for (i = 0; adm[i] != '\0' && i < sizeof(lc) - 1; i++)
		lc[i] = (char)tolower((unsigned char)adm[i]);
	lc[i] = '\0';
	hmac_sha256("parkd-cmp", 9, account, strlen(account), a);
	hmac_sha256("parkd-cmp", 9, lc, strlen(lc), b);
	return ct_memcmp(a, b, 32) == 0;
}

/*
 * The hash the admin's password is checked against: ADMIN_PASSWORD_HASH,
 * or, for a clear ADMIN_PASSWORD, a policy hash of it made once (before
 * the workers fork: auth_init()).  Comparing the clear text cost about a
 * microsecond where any user's wrong password costs a whole hash: the
 * timing named the admin's address.  NULL when neither is set.
 */
static char *admin_made;               /* our hash of ADMIN_PASSWORD */
static unsigned char admin_made_of[32]; /* an HMAC of the password */
static int admin_made_n;               /* the scrypt N it was made with */

static const char *
admin_hash(void)
{
	struct buf h = { 0 };
	unsigned char of[32];

	if (conf.admin_password_hash != NULL &&
	    conf.admin_password_hash[0] != '\0')
		return conf.admin_password_hash;
	if (conf.admin_password == NULL || conf.admin_password[0] == '\0')
		return NULL;
	/* Made again when the password or the policy changed (a reload). */
	hmac_sha256("parkd-admin-made", 16, conf.admin_password,
	    strlen(conf.admin_password), of);
	if (admin_made != NULL && memcmp(admin_made_of, of, 32) == 0 &&
	    admin_made_n == conf.scrypt_n)
		return admin_made;
	free(admin_made);
	admin_made = NULL;
	if (pw_hash(conf.admin_password, strlen(conf.admin_password), &h) !=
	    0) {
		buf_free(&h);
		return NULL;
	}
	admin_made = xstrdup(h.p);
	memcpy(admin_made_of, of, 32);
	admin_made_n = conf.scrypt_n;
	buf_free(&h);
	return admin_made;
}

/*
 * The fingerprint of the admin's credential: an HMAC under JWT_SECRET_KEY
 * of ADMIN_PASSWORD_HASH, or of ADMIN_PASSWORD (never of the hash we make
 * of it, which changes with its salt at every start).  Every request of
 * the admin needs it: made once (auth_init(), by the supervisor after
 * each load of the settings), and again only when a setting's string is
 * another one.
 */
static char admin_fp[65];
static const char *admin_fp_of[3];

static void
admin_fp_make(void)
{
	static const char hexd[] = "0123456789abcdef";
	const char *h = conf.admin_password_hash, *pw = conf.admin_password;
	const char *key = conf.jwt_secret_key ? conf.jwt_secret_key : "";
	struct buf src = { 0 };
	unsigned char mac[32];
	size_t i;

	if (h != NULL && *h != '\0')
		buf_printf(&src, "hash:%s", h);
	else
		buf_printf(&src, "plain:%s", pw != NULL ? pw : "");
	hmac_sha256(key, strlen(key), src.p, src.len, mac);
	for (i = 0; i < 32; i++) {
		admin_fp[2 * i] = hexd[mac[i] >> 4];
		admin_fp[2 * i + 1] = hexd[mac[i] & 15];
	}
	admin_fp[64] = '\0';
	admin_fp_of[0] = h;
	admin_fp_of[1] = pw;
	admin_fp_of[2] = conf.jwt_secret_key;
	memset(src.p, 0, src.len);
	buf_free(&src);
}

const char *
auth_admin_fp(void)
{
	if (admin_fp[0] == '\0' || admin_fp_of[0] != conf.admin_password_hash ||
	    admin_fp_of[1] != conf.admin_password ||
	    admin_fp_of[2] != conf.jwt_secret_key)
		admin_fp_make();
	return admin_fp;
}

void
auth_init(void)
{
	(void)admin_hash();
	admin_fp_make();
}

/* Checks the admin's password: one verification of a hash, like any
 * user's.  Returns 1 when it is right. */
static int
admin_password_ok(const char *pw, size_t len)
{
	const char *h = admin_hash();

	if (h == NULL) {
		pw_dummy(pw, len);
		return 0;
	}
	return pw_verify(pw, len, h, NULL);
}

/* The key of an address group's logins at every name, lower-case like
 * every key of login_failures. */
static const char *
addr_key_of(struct pool *p, const char *addr)
{
	char *k = pool_printf(p, "addr:%s", addr), *c;

	for (c = k; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return k;
}

int
auth_attempt(struct req *r, struct resp *w, const char *ident,
    const char *account, const char *what)
{
	const char *addr = addr_group(&r->pool, r->remote_addr);
	int login = strcmp(what, "login") == 0;
	enum attempt verdict;
	enum dbrc rc;
	int64_t wait;
	int failures;

	rc = db_login_attempt(ident, account, addr, login ?
	    addr_key_of(&r->pool, addr) : NULL, &verdict, &failures, &wait);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return -1;
	}
	if (verdict == ATTEMPT_OK)
		return 0;
	/* The same answer for every account, known or not. */
	resp_error(w, 429, "RATE_LIMITED", login ?
	    "Too many failed logins; try again later" :
	    "Too many failed attempts; try again later");
	resp_header(w, "Retry-After", pool_printf(&r->pool, "%lld",
	    (long long)wait));
	/* log_msg escapes what the client typed. */
	log_msg(LOG_WARN, "security: %s %s after %d failures addr=%s "
	    "account=%s", what, verdict == ATTEMPT_ADDR_CAP ?
	    "capped for the address" : verdict == ATTEMPT_ADDR_LIMIT ?
	    "locked" : "slowed", failures, addr, account);
	return -1;
}

enum { LOGIN_USERNAME, LOGIN_PASSWORD, LOGIN_REMEMBER };

/* "id:" and name, in the lower case login_failures.account holds (its
 * CHECK): a capital as '^' and its small letter, '^' as "^^", so that
 * "Alice" and "alice" stay two keys. */
static const char *
ident_key_of(struct pool *p, const char *name)
{
	char *k = pool_alloc(p, 3 + 2 * strlen(name) + 1), *o = k;

	memcpy(o, "id:", 3);
	for (o += 3; *name != '\0'; name++) {
		if (*name == '^' || (*name >= 'A' && *name <= 'Z')) {
			*o++ = '^';
			*o++ = *name == '^' ? '^' : (char)(*name - 'A' + 'a');
		} else
			*o++ = *name;
	}
	*o = '\0';
	return k;
}

/*
 * POST /api/auth/login: by e-mail (any case) or exact username; the admin
 * by ADMIN_EMAIL.  Returns tokens and the user.
 * Statuses: 200, 400, 401 (same text for unknown user and bad password,
 * and for a password reset or changed while it was checked),
 * 403 (inactive account), 429 (too many failures of this name from this
 * address, or of the account from all addresses and this address tried
 * within PARKD_LOGIN_SLOW_S, or from this address at all names), 503
 * (also: every hash slot taken).
 */
void
auth_login(struct req *r, struct resp *w)
{
	const char *ident = r->in[LOGIN_USERNAME].s;
	const char *pw = r->in[LOGIN_PASSWORD].s;
	size_t pwlen = r->in[LOGIN_PASSWORD].len, i;
	int remember = r->in[LOGIN_REMEMBER].set && r->in[LOGIN_REMEMBER].i;
	struct buf newhash = { 0 };
	struct session s;
	struct token_pair tp;
	struct user u;
	enum dbrc rc;
	char *account, sid[33];
	const char *key, *ident_key;
	int64_t now;
	int admin, found = 0, good, rehash = 0;
	const char *addr = addr_group(&r->pool, r->remote_addr);

	account = pool_strdup(&r->pool, ident);
	for (i = 0; account[i] != '\0'; i++)
		account[i] = (char)tolower((unsigned char)account[i]);

	memset(&u, 0, sizeof(u));
	admin = is_admin_email(account);
	if (!admin) {
		rc = db_user_by_login(&r->pool, account, ident, &u);
		if (rc != DB_OK && rc != DB_NOTFOUND) {
			db_to_http(rc, w);
			return;
		}
		found = rc == DB_OK;
	}
	/*
	 * Two counters.  Per address, the name as the lookup reads it (an
	 * e-mail lower-cased, a username as typed; no username has an '@'),
	 * the same key whether or not it names an account: keyed on the
	 * account, ten tries at "alice" then one at "Alice", or at a
	 * username then at a candidate e-mail, told by 429 against 401 that
	 * the account exists or that the two are one.  The account's
	 * ceiling over all addresses counts under the account ("user:5"),
	 * or the name for no account.  The prefixes keep a typed "user:5"
	 * apart from user 5.
	 */
	ident_key = ident_key_of(&r->pool, strchr(ident, '@') != NULL ?
	    account : ident);
	key = admin ? "admin:" : found ? pool_printf(&r->pool, "user:%lld",
	    (long long)u.id) : ident_key;

	/* The gate first: a 503 must not count as an attempt. */
	if (auth_hash_gate(w) != 0 ||
	    auth_attempt(r, w, ident_key, key, "login") != 0)
		return;

	if (admin)
		good = admin_password_ok(pw, pwlen);
	else if (!found) {
		pw_dummy(pw, pwlen);
		good = 0;
	} else
		good = pw_verify(pw, pwlen, u.password_hash, &rehash);
	if (!good) {
		/* The attempt is already counted (auth_attempt()). */
		log_msg(LOG_WARN, "security: failed login addr=%s account=%s "
		    "name=%s", addr, found || admin ? key : "unknown", ident);
		unauthorized(w, "UNAUTHENTICATED", BAD_LOGIN);
		return;
	}
	if (!admin && !u.is_active) {
		log_msg(LOG_WARN, "security: login of inactive user %lld "
		    "refused addr=%s", (long long)u.id, addr);
		resp_error(w, 403, "ACCOUNT_INACTIVE", "Account is inactive");
		return;
	}
	/* Off by default: old clients never verified anything. */
	if (!admin && conf.require_email_verification && !u.email_verified) {
		log_msg(LOG_WARN, "security: login of user %lld refused: "
		    "e-mail not verified addr=%s", (long long)u.id, addr);
		not_verified(w);
		return;
	}
	if (rehash && pw_hash(pw, pwlen, &newhash) != 0)
		buf_free(&newhash);

	/* The tokens are made now, after the hashes (which can take a
	 * second): their iat, and the session's end counted from it. */
	now = park_now();
	rand_hex(sid, 16);
	rand_hex(tp.refresh_jti, 16);
	rand_hex(tp.access_jti, 16);
	memset(&s, 0, sizeof(s));
	s.id = sid;
	s.user_id = admin ? 0 : u.id;
	s.admin_fp = auth_admin_fp();
	s.refresh_jti = tp.refresh_jti;
	s.access_jti = tp.access_jti;
	s.pw_hash = u.password_hash;
	s.remember = remember;
	s.expires_at = now + (remember ? conf.jwt_refresh_remember_ttl_s :
	    conf.jwt_refresh_ttl_s);
	rc = db_login_success(ident_key, key, addr, addr_key_of(&r->pool,
	    addr), &s, newhash.len ? newhash.p : NULL);
	buf_free(&newhash);
	if (rc == DB_CONFLICT) {
		/* The password it matched was replaced (a reset, a change)
		 * or the account deactivated while it hashed: a failed
		 * login, still counted (auth_attempt()). */
		log_msg(LOG_WARN, "security: login of user %lld refused: the "
		    "account changed while its password was checked addr=%s",
		    (long long)u.id, addr);
		unauthorized(w, "UNAUTHENTICATED", BAD_LOGIN);
		return;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (admin)
		log_msg(LOG_INFO, "security: login admin session %.8s", sid);
	else
		log_msg(LOG_INFO, "security: login user %lld session %.8s",
		    (long long)s.user_id, sid);
	if (admin)
		r->who.role = ROLE_ADMIN;
	else {
		r->who.role = ROLE_USER;
		r->who.user_id = u.id;
	}
	tp.iat = now;
	tp.refresh_exp = s.expires_at;
	(void)tokens_json(r, w, "Login successful", r->who.role, u.id, sid,
	    remember, &tp);
}

/*
 * POST /api/auth/refresh (refresh token): rotates the refresh token and
 * returns new tokens.  The token rotated just before, presented again
 * within PARKD_REFRESH_LEEWAY_S (two tabs, a retry after a lost answer),
 * gets the same new tokens; any other retired refresh token revokes its
 * session.  Statuses: 200, 401, 403 (inactive account; EMAIL_NOT_VERIFIED
 * with REQUIRE_EMAIL_VERIFICATION on), 503.
 */
void
auth_refresh(struct req *r, struct resp *w)
{
	struct session_state ss;
	struct token_pair tp;
	struct user u;
	enum rotate how;
	enum dbrc rc;

	rand_hex(tp.refresh_jti, 16);
	rand_hex(tp.access_jti, 16);
	rc = db_session_rotate(r->who.sid, r->who.jti, auth_admin_fp(), &tp,
	    &ss, &how);
	if (rc == DB_NOTFOUND || (rc == DB_OK && how != ROTATE_OK &&
	    how != ROTATE_REPEAT)) {
		if (how == ROTATE_REUSED)
			log_msg(LOG_WARN, "security: refresh token reuse; "
			    "session %.8s revoked (addr %s)", r->who.sid,
			    r->remote_addr ? r->remote_addr : "-");
		unauthorized(w, "TOKEN_REVOKED", "Token has been revoked");
		return;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (how == ROTATE_REPEAT)
		log_msg(LOG_INFO, "security: refresh repeated within the "
		    "leeway; session %.8s", r->who.sid);
	/* The session row, not the token, says whose session it is. */
	if (ss.is_admin != (r->who.role == ROLE_ADMIN) ||
	    (!ss.is_admin && ss.user_id != r->who.user_id)) {
		unauthorized(w, "UNAUTHENTICATED", "Invalid token");
		return;
	}
	if (!ss.is_admin) {
		if ((rc = db_user_get(&r->pool, ss.user_id, &u)) != DB_OK) {
			db_to_http(rc, w);
			return;
		}
		if (!u.is_active) {
			resp_error(w, 403, "ACCOUNT_INACTIVE",
			    "Account is inactive");
			return;
		}
		/* As the login: no new tokens for an unverified address. */
		if (conf.require_email_verification && !u.email_verified) {
			not_verified(w);
			return;
		}
	}
	/* The session keeps its remember_me for every pair it is given. */
	(void)tokens_json(r, w, "Token refreshed", r->who.role, ss.user_id,
	    r->who.sid, ss.remember, &tp);
}

/*
 * POST /api/auth/logout: revokes the session of the token, so its access
 * and refresh tokens stop working at once.  Statuses: 200, 401, 503.
 */
void
auth_logout(struct req *r, struct resp *w)
{
	enum dbrc rc;

	if ((rc = db_session_revoke(r->who.sid, "logout")) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	log_msg(LOG_INFO, "security: logout session %.8s", r->who.sid);
	w->status = 200;
	w->message = "Logged out successfully";
}

/*
 * GET /api/auth/me: {user}.  Statuses: 200, 401, 403, 503.
 */
void
auth_me(struct req *r, struct resp *w)
{
	struct jw jw;

	resp_ok(w, "Current user", &jw);
	jw_obj(&jw, NULL);
	if (caller_json(r, w, &jw, "user") != 0)
		return;
	jw_obj_end(&jw);
}

int
auth_is_admin_email(const char *email_lc)
{
	return is_admin_email(email_lc);
}
