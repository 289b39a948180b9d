/*
 * users.c: a user's own profile and password, and the admin's view of
 * users (list with search, deactivate, activate).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "park.h"

/*
 * GET /api/user/profile: the caller's user object.
 * Statuses: 200, 401, 403, 503.
 */
void
users_profile(struct req *r, struct resp *w)
{
	struct user u;
	struct jw jw;
	enum dbrc rc;

	if ((rc = db_user_get(&r->pool, r->who.user_id, &u)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resp_ok(w, "Profile", &jw);
	user_json(&jw, NULL, &u);
}

enum { UPD_USERNAME, UPD_EMAIL, UPD_PHONE, UPD_CURRENT };

/*
 * Checks the caller's current password for a sensitive change, counted
 * like a password change's check (a stolen access token cannot guess it
 * either).  Returns 0, or -1 after filling 400 (wrong), 429 or 503.
 */
static int
current_password_ok(struct req *r, struct resp *w, const struct val *pw,
    const char *key)
{
	struct user u;
	enum dbrc rc;

	if ((rc = db_user_get(&r->pool, r->who.user_id, &u)) != DB_OK) {
		db_to_http(rc, w);
		return -1;
	}
	if (auth_hash_gate(w) != 0 ||
	    auth_attempt(r, w, key, key, "password change") != 0)
		return -1;
	if (!pw_verify(pw->s, pw->len, u.password_hash, NULL)) {
		log_msg(LOG_WARN, "security: e-mail change with a wrong "
		    "current password for user %lld", (long long)u.id);
		resp_error(w, 400, "VALIDATION", "Invalid input");
		resp_detail(w, "current_password", "is incorrect");
		return -1;
	}
	return 0;
}

/* The notice of an address change, to the old address (its to is set by
 * the data layer). */
static void
moved_notice(struct req *r, struct mail *m, const char *new_email)
{
	char id[33];

	rand_hex(id, 16);
	memset(m, 0, sizeof(*m));
	m->idem_key = pool_printf(&r->pool, "email-changed:%lld:%s",
	    (long long)r->who.user_id, id);
	m->subject = "The e-mail address of your parkd account was changed";
	m->text = pool_printf(&r->pool,
	    "Hello %s,\r\n\r\nThe e-mail address of your parkd account was "
	    "just changed from this address to %s.  Password reset links now "
	    "go there.\r\n\r\nIf this was not you, your session may be in "
	    "someone else's hands: log in, change the address back and the "
	    "password, and tell the operator.\r\n", r->who.username,
	    new_email);
}

/*
 * POST /api/user/profile/update: any of username, email, phone (null
 * clears the phone).  Another e-mail needs current_password (a stolen
 * access token alone must not move the account's recovery address); the
 * old address is told.  Statuses: 200, 400 (current_password missing or
 * wrong for an e-mail change), 401, 403, 409, 429, 503.
 */
void
users_profile_update(struct req *r, struct resp *w)
{
	const struct val *in = r->in;
	struct acct_token vt;
	struct mail notice;
	struct user u;
	struct jw jw;
	enum dbrc rc;
	int dup_name = 0, dup_email = 0, moved = 0;
	const char *key = pool_printf(&r->pool, "user:%lld",
	    (long long)r->who.user_id);

	/* The e-mail is lower-cased by now; ADMIN_EMAIL may not be. */
	if (in[UPD_EMAIL].set && conf.admin_email != NULL &&
	    strcasecmp(in[UPD_EMAIL].s, conf.admin_email) == 0) {
		resp_error(w, 409, "CONFLICT", "Email already registered");
		resp_detail(w, "email", "is already registered");
		return;
	}
	/* Another address than the session's (the check read it): the
	 * password first.  The same address needs none (an old client
	 * sending the whole form). */
	if (in[UPD_EMAIL].set && strcasecmp(in[UPD_EMAIL].s,
	    r->who.email) != 0) {
		if (!in[UPD_CURRENT].set) {
			resp_error(w, 400, "VALIDATION", "Invalid input");
			resp_detail(w, "current_password",
			    "is required to change the e-mail");
			return;
		}
		if (current_password_ok(r, w, &in[UPD_CURRENT], key) != 0)
			return;
	}
	/* A new address gets a verification link, and the old one a notice
	 * (both sent only if it is another address: the data layer
	 * knows). */
	if (in[UPD_EMAIL].set) {
		recovery_verify_link(&r->pool, in[UPD_EMAIL].s,
		    in[UPD_USERNAME].set ? in[UPD_USERNAME].s :
		    r->who.username, &vt);
		moved_notice(r, &notice, in[UPD_EMAIL].s);
	}
	rc = db_user_update(r->who.user_id,
	    in[UPD_USERNAME].set ? in[UPD_USERNAME].s : NULL,
	    in[UPD_EMAIL].set ? in[UPD_EMAIL].s : NULL,
	    in[UPD_PHONE].set || in[UPD_PHONE].null,
	    in[UPD_PHONE].set && in[UPD_PHONE].len > 0 ? in[UPD_PHONE].s : NULL,
	    &dup_name, &dup_email, in[UPD_EMAIL].set ? &vt : NULL,
	    in[UPD_EMAIL].set ? &notice : NULL, &moved);
	if (rc == DB_CONFLICT) {
		resp_error(w, 409, "CONFLICT", dup_name ?
		    "Username already taken" : "Email already registered");
		if (dup_name)
			resp_detail(w, "username", "is already taken");
		if (dup_email)
			resp_detail(w, "email", "is already registered");
		return;
	}
	if (rc != DB_OK ||
	    (rc = db_user_get(&r->pool, r->who.user_id, &u)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	if (moved)
		log_msg(LOG_INFO, "security: e-mail address of user %lld "
		    "changed; notice queued to the old one; its reset links "
		    "spent", (long long)u.id);
	resp_ok(w, "Profile updated", &jw);
	user_json(&jw, NULL, &u);
}

enum { PW_CURRENT, PW_NEW };

/*
 * POST /api/user/password: checks the current password, stores the new
 * one and revokes every other session of the user.  A wrong current
 * password counts as a failed login of the account, so a stolen access
 * token cannot be used to guess the password either.
 * Statuses: 200, 400 (current password wrong), 401 (also: the session
 * was revoked, or the password reset, while this one hashed; nothing is
 * written), 403, 429, 503 (also: every hash slot taken).
 */
void
users_password(struct req *r, struct resp *w)
{
	struct buf hash = { 0 };
	struct user u;
	enum dbrc rc;
	const char *key = pool_printf(&r->pool, "user:%lld",
	    (long long)r->who.user_id);

	if ((rc = db_user_get(&r->pool, r->who.user_id, &u)) != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	/* One slot for both hashes; the gate before the attempt is
	 * counted. */
	if (auth_hash_gate(w) != 0 ||
	    auth_attempt(r, w, key, key, "password change") != 0)
		return;
	if (!pw_verify(r->in[PW_CURRENT].s, r->in[PW_CURRENT].len,
	    u.password_hash, NULL)) {
		log_msg(LOG_WARN, "security: password change with a wrong "
		    "current password for user %lld", (long long)u.id);
		resp_error(w, 400, "VALIDATION", "Invalid input");
		resp_detail(w, "current_password", "is incorrect");
		return;
	}
	if (pw_hash(r->in[PW_NEW].s, r->in[PW_NEW].len, &hash) != 0) {
		resp_error(w, 500, "INTERNAL", "Could not hash the password");
		return;
	}
	rc = db_user_set_password(u.id, hash.p, u.password_hash, r->who.sid,
	    key, addr_group(&r->pool, r->remote_addr));
	buf_free(&hash);
	if (rc == DB_CONFLICT) {
		/* A reset (or another change) committed while this one
		 * hashed: it revoked this session, and its password stands. */
		log_msg(LOG_WARN, "security: password change for user %lld "
		    "refused: the password or the session changed meanwhile",
		    (long long)u.id);
		resp_error(w, 401, "TOKEN_REVOKED", "Token has been revoked");
		resp_header(w, "WWW-Authenticate", "Bearer");
		return;
	}
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	log_msg(LOG_INFO, "security: password changed for user %lld; other "
	    "sessions revoked", (long long)u.id);
	w->status = 200;
	w->message = "Password changed";
}

enum { LIST_LIMIT, LIST_OFFSET, LIST_Q };

/*
 * GET /api/admin/users?limit&offset&q: a page of users, searched by
 * username or e-mail; the total is in X-Total-Count.
 * Statuses: 200, 400, 401, 403, 503.
 */
void
users_admin_list(struct req *r, struct resp *w)
{
	struct user *us;
	struct jw jw;
	struct buf like = { 0 };
	const char *q;
	enum dbrc rc;
	size_t n, i;
	long long total;
	int limit = r->in[LIST_LIMIT].set ? (int)r->in[LIST_LIMIT].i : 50;
	int offset = r->in[LIST_OFFSET].set ? (int)r->in[LIST_OFFSET].i : 0;

	if (r->in[LIST_Q].set) {
		/* A substring search: LIKE's own characters are escaped. */
		buf_putc(&like, '%');
		for (q = r->in[LIST_Q].s; *q != '\0'; q++) {
			if (*q == '%' || *q == '_' || *q == '\\')
				buf_putc(&like, '\\');
			buf_putc(&like, *q);
		}
		buf_putc(&like, '%');
	}
	rc = db_users_list(&r->pool, like.p, limit, offset, &us, &n, &total);
	buf_free(&like);
	if (rc != DB_OK) {
		db_to_http(rc, w);
		return;
	}
	resp_ok(w, "Users", &jw);
	jw_arr(&jw, NULL);
	for (i = 0; i < n; i++)
		user_json(&jw, NULL, &us[i]);
	jw_arr_end(&jw);
	resp_header(w, "X-Total-Count", pool_printf(&r->pool, "%lld", total));
}

/* Sets a user's active flag and answers with the user object. */
static void
set_active(struct req *r, struct resp *w, int active)
{
	struct user u;
	struct jw jw;
	enum dbrc rc;

	if ((rc = db_user_set_active(r->pid[0], active)) != DB_OK ||
	    (rc = db_user_get(&r->pool, r->pid[0], &u)) != DB_OK) {
		if (rc == DB_NOTFOUND)
			resp_error(w, 404, "NOT_FOUND", "User not found");
		else
			db_to_http(rc, w);
		return;
	}
	log_msg(LOG_INFO, "security: admin %s user %lld", active ?
	    "activated" : "deactivated", (long long)u.id);
	resp_ok(w, active ? "User activated" : "User deactivated", &jw);
	user_json(&jw, NULL, &u);
}

/*
 * POST /api/admin/users/{id}/deactivate: the user can no longer log in and
 * every session ends at once.  Statuses: 200, 401, 403, 404, 503.
 */
void
users_admin_deactivate(struct req *r, struct resp *w)
{
	set_active(r, w, 0);
}

/*
 * POST /api/admin/users/{id}/activate.  Statuses: 200, 401, 403, 404, 503.
 */
void
users_admin_activate(struct req *r, struct resp *w)
{
	set_active(r, w, 1);
}
