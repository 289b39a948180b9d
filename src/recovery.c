/*
 * recovery.c: account recovery (api-contract.md section 6): a forgotten
 * password reset through a link e-mailed to the account's address, the
 * verification of addresses, and the links' tokens and e-mails.
 *
 * A link carries 32 random bytes (crypto.c's RNG) as 43 characters of
 * base64url.  The database keeps only the SHA-256 of that text
 * (db-recovery.c), so neither a copy of it nor its log opens an account.
 * The token travels in the link's #fragment, which a browser never sends:
 * it reaches no access log, and the web app posts it in a JSON body.
 * Mail is only queued here (the outbox, in the transaction of the token);
 * "parkctl mail" sends it.
 */
#include "config.h"

#include <string.h>

#include "park.h"

#define TOKEN_LEN 43 /* 32 bytes in base64url without padding */

/* The same answer for every address, known or not. */
#define FORGOT_TEXT "If an account has this address, a link to reset its " \
    "password has been sent to it"
#define BAD_TOKEN "Invalid or expired link; ask for a new one"

static const char b64u[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Writes the 64 hex digits of 32 bytes and a NUL into out. */
static void
hex32(const unsigned char v[32], char out[65])
{
	static const char hexd[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hexd[v[i] >> 4];
		out[2 * i + 1] = hexd[v[i] & 15];
	}
	out[64] = '\0';
}

/* The stored form of a token: the SHA-256 of its text, in hex. */
static void
token_hash(const char *tok, size_t len, char hash[65])
{
	unsigned char d[32];

	sha256(tok, len, d);
	hex32(d, hash);
}

/* A new token into tok (43 characters and a NUL) and its hash. */
static void
token_new(char tok[TOKEN_LEN + 1], char hash[65])
{
	unsigned char raw[33];
	size_t i, o = 0;
	uint32_t v;

	rand_bytes(raw, 32);
	raw[32] = 0;
	/* 3 bytes make 4 characters; the last 2 bytes make 3. */
	for (i = 0; i < 32; i += 3) {
		v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    (i + 2 < 32 ? raw[i + 2] : 0);
		tok[o++] = b64u[(v >> 18) & 63];
		tok[o++] = b64u[(v >> 12) & 63];
		tok[o++] = b64u[(v >> 6) & 63];
		if (i + 2 < 32)
			tok[o++] = b64u[v & 63];
	}
	tok[o] = '\0';
	memset(raw, 0, sizeof(raw));
	token_hash(tok, TOKEN_LEN, hash);
}

/* 1 when s has the shape of a token (the length and the alphabet). */
static int
token_shape(const char *s, size_t len)
{
	size_t i;

	if (len != TOKEN_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (strchr(b64u, s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

/* The key of the per-address count: an HMAC of the address under
 * JWT_SECRET_KEY, never the address itself. */
static void
addr_key(const char *email, char out[65])
{
	const char *k = conf.jwt_secret_key ? conf.jwt_secret_key : "";
	struct buf b = { 0 };
	unsigned char mac[32];

	buf_printf(&b, "recovery-address:%s", email);
	hmac_sha256(k, strlen(k), b.p, b.len, mac);
	hex32(mac, out);
	buf_free(&b);
}

/* Appends s with & < > " ' as HTML character references. */
static void
html_put(struct buf *b, const char *s)
{
	batch_html_escape(b, s);
}

/*
 * Fills the e-mail m of a link: text and HTML, the link being BACKEND_URL
 * + page + "#token=" + tok.  intro and after are plain sentences (no
 * markup, escaped for the HTML part).
 */
static void
link_mail(struct pool *p, struct mail *m, const char *to,
    const char *subject, const char *hello, const char *intro,
    const char *action, const char *page, const char *tok, int64_t exp,
    const char *after)
{
	struct buf html = { 0 };
	char until[32];
	const char *link = pool_printf(p, "%s%s#token=%s", conf.backend_url,
	    page, tok);

	time_iso(exp, until);
	m->to = to;
	m->subject = subject;
	m->text = pool_printf(p,
	    "%s\r\n\r\n%s\r\n\r\n%s\r\n\r\n"
	    "The link works once, until %s (UTC).  %s\r\n",
	    hello, intro, link, until, after);
	buf_puts(&html, "<!DOCTYPE html><html><body style=\"font-family: "
	    "sans-serif\"><p>");
	html_put(&html, hello);
	buf_puts(&html, "</p><p>");
	html_put(&html, intro);
	buf_puts(&html, "</p><p><a href=\"");
	html_put(&html, link);
	buf_puts(&html, "\">");
	html_put(&html, action);
	buf_puts(&html, "</a></p><p>The link works once, until ");
	html_put(&html, until);
	buf_puts(&html, " (UTC).  ");
	html_put(&html, after);
	buf_puts(&html, "</p></body></html>\r\n");
	m->html = pool_strdup(p, html.p);
	buf_free(&html);
}

void
recovery_verify_link(struct pool *p, const char *email, const char *username,
    struct acct_token *t)
{
	char tok[TOKEN_LEN + 1], hash[65];

	token_new(tok, hash);
	memset(t, 0, sizeof(*t));
	t->hash = pool_strdup(p, hash);
	t->purpose = "verify";
	t->email = email;
	t->expires_at = park_now() + conf.verify_token_ttl_s;
	t->m.idem_key = pool_printf(p, "verify:%s", hash);
	link_mail(p, &t->m, email, "Confirm your e-mail address for parkd",
	    pool_printf(p, "Hello %s,", username),
	    "Please confirm that this address is yours by opening this link:",
	    "Confirm my e-mail address", "/verify-email", tok, t->expires_at,
	    "If you did not create a parkd account or change its address, "
	    "you can ignore this message.");
	memset(tok, 0, sizeof(tok));
}

/* Fills 429 with Retry-After for an address that had its requests. */
static void
limited(struct req *r, struct resp *w, int64_t wait, const char *key)
{
	resp_error(w, 429, "RATE_LIMITED",
	    "Too many e-mails asked for this address; try again later");
	resp_header(w, "Retry-After", pool_printf(&r->pool, "%lld",
	    (long long)wait));
	log_msg(LOG_WARN, "security: recovery mail limit for address "
	    "%.12s addr=%s", key, r->remote_addr ? r->remote_addr : "-");
}

enum { FG_EMAIL };

/*
 * POST /api/auth/forgot-password {email}: queues a reset link when the
 * address is an active user's.  The answer, and the work done (one write
 * transaction, the same statements, a link and its mail made either
 * way), are the same for an unknown address, the admin's included.
 * Statuses: 200, 400, 429 (the address had PARKD_RECOVERY_MAX_REQUESTS
 * within the window, known or not), 503.
 */
void
recovery_forgot(struct req *r, struct resp *w)
{
	const char *email = r->in[FG_EMAIL].s;
	struct acct_token t;
	enum recovery out;
	enum dbrc rc;
	char tok[TOKEN_LEN + 1], hash[65], key[65];
	int64_t wait;

	token_new(tok, hash);
	memset(&t, 0, sizeof(t));
	t.hash = pool_strdup(&r->pool, hash);
	t.purpose = "reset";
	t.email = email;
	t.user_id = auth_is_admin_email(email) ? -1 : 0;
	t.expires_at = park_now() + conf.reset_token_ttl_s;
	t.m.idem_key = pool_printf(&r->pool, "reset:%s", hash);
	/* No name in the greeting: the mail is made before we know whether
	 * there is an account, so that both cases take the same time. */
	link_mail(&r->pool, &t.m, email, "Reset your parkd password",
	    "Hello,",
	    "Someone, hopefully you, asked to reset the password of the parkd "
	    "account of this address.  Choose a new password here:",
	    "Choose a new password", "/reset-password", tok, t.expires_at,
	    "If you did not ask for it, ignore this message: your password "
	    "stays as it is.");
	memset(tok, 0, sizeof(tok));
	addr_key(email, key);

	rc = db_recovery_request(key, &t, &out, &wait);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (out == RECOVERY_LIMITED) {
		limited(r, w, wait, key);
		return;
	}
	if (out == RECOVERY_QUEUED)
		log_msg(LOG_INFO, "security: password reset link queued for "
		    "user %lld", (long long)t.user_id);
	else
		log_msg(LOG_INFO, "security: password reset asked for an "
		    "address of no active user (%.12s)", key);
	w->status = 200;
	w->message = FORGOT_TEXT;
}

enum { RS_TOKEN, RS_PASSWORD };

/*
 * POST /api/auth/reset-password {token, new_password}: spends the reset
 * token, sets the password, marks the address verified, revokes every
 * session of the user and e-mails a notice, in one transaction.
 * Statuses: 200, 400 (VALIDATION for the password; INVALID_TOKEN for a
 * token unknown, spent or expired), 503 (also: every hash slot taken).
 */
void
recovery_reset(struct req *r, struct resp *w)
{
	const char *tok = r->in[RS_TOKEN].s;
	struct buf pw = { 0 };
	struct mail notice;
	enum dbrc rc;
	char hash[65];
	int64_t uid;
	const char *addr = r->remote_addr ? r->remote_addr : "-";

	if (!token_shape(tok, r->in[RS_TOKEN].len))
		goto bad;
	token_hash(tok, TOKEN_LEN, hash);
	/* A dead link costs no password hash (a hash slot is scarce); a
	 * live one is spent below, in the transaction, which alone
	 * decides between racing resets. */
	rc = db_recovery_token_live(hash, "reset");
	if (rc == DB_NOTFOUND)
		goto bad;
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (auth_hash_gate(w) != 0)
		return;
	if (pw_hash(r->in[RS_PASSWORD].s, r->in[RS_PASSWORD].len, &pw) !=
	    0) {
		buf_free(&pw);
		resp_error(w, 500, "INTERNAL", "Could not hash the password");
		return;
	}
	memset(&notice, 0, sizeof(notice));
	notice.idem_key = pool_printf(&r->pool, "reset-done:%s", hash);
	notice.subject = "Your parkd password was changed";
	notice.text = pool_printf(&r->pool,
	    "Hello,\r\n\r\nThe password of the parkd account of this address "
	    "was just changed with a reset link sent here, and every session "
	    "of the account was logged out.\r\n\r\nIf this was not you, ask "
	    "for a new link at %s/forgot-password and tell the operator.\r\n",
	    conf.backend_url);
	rc = db_recovery_reset(&r->pool, hash, pw.p, &notice, &uid);
	buf_free(&pw);
	if (rc == DB_NOTFOUND)
		goto bad;
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	log_msg(LOG_INFO, "security: password reset for user %lld by e-mail "
	    "link; every session revoked addr=%s", (long long)uid, addr);
	w->status = 200;
	w->message = "Password has been reset; log in with the new one";
	return;
bad:
	log_msg(LOG_WARN, "security: password reset with an invalid link "
	    "addr=%s", addr);
	resp_error(w, 400, "INVALID_TOKEN", BAD_TOKEN);
}

enum { VF_TOKEN };

/*
 * POST /api/auth/verify-email {token}: spends a verification token and
 * marks the address verified; returns the user object.
 * Statuses: 200, 400 (INVALID_TOKEN: unknown, spent, expired, or sent to
 * an address the account no longer has), 503.
 */
void
recovery_verify(struct req *r, struct resp *w)
{
	const char *tok = r->in[VF_TOKEN].s;
	struct user u;
	struct jw jw;
	enum dbrc rc;
	char hash[65];
	int64_t uid;

	if (!token_shape(tok, r->in[VF_TOKEN].len))
		goto bad;
	token_hash(tok, TOKEN_LEN, hash);
	rc = db_recovery_verify(hash, &uid);
	if (rc == DB_NOTFOUND)
		goto bad;
	if (rc != DB_OK || (rc = db_user_get(&r->pool, uid, &u)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	log_msg(LOG_INFO, "security: e-mail address of user %lld verified",
	    (long long)uid);
	resp_ok(w, "Email address verified", &jw);
	user_json(&jw, NULL, &u);
	return;
bad:
	log_msg(LOG_WARN, "security: e-mail verification with an invalid "
	    "link addr=%s", r->remote_addr ? r->remote_addr : "-");
	resp_error(w, 400, "INVALID_TOKEN", BAD_TOKEN);
}

/*
 * POST /api/user/verify-email/resend (user): queues a new verification
 * link for the caller's address (older links are spent), counted like a
 * forgot-password request for that address.  An address verified already
 * gets no mail.  Statuses: 200, 401, 403, 429, 503.
 */
void
recovery_resend(struct req *r, struct resp *w)
{
	struct acct_token t;
	struct user u;
	enum recovery out;
	enum dbrc rc;
	char key[65];
	int64_t wait;

	if ((rc = db_user_get(&r->pool, r->who.user_id, &u)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (u.email_verified) {
		w->status = 200;
		w->message = "Email address is already verified";
		return;
	}
	recovery_verify_link(&r->pool, u.email, u.username, &t);
	t.user_id = u.id;
	addr_key(u.email, key);
	if ((rc = db_recovery_request(key, &t, &out, &wait)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (out == RECOVERY_LIMITED) {
		limited(r, w, wait, key);
		return;
	}
	log_msg(LOG_INFO, "security: verification link queued for user %lld",
	    (long long)u.id);
	w->status = 200;
	w->message = "Verification e-mail sent";
}
