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

enum { UPD_USERNAME, UPD_EMAIL, UPD_PHONE };

/*
 * POST /api/user/profile/update: any of username, email, phone (null
 * clears the phone).  Statuses: 200, 400, 401, 403, 409, 503.
 */
void
users_profile_update(struct req *r, struct resp *w)
{
	const struct val *in = r->in;
	struct acct_token vt;
	struct user u;
	struct jw jw;
	enum dbrc rc;
	int dup_name = 0, dup_email = 0;

	/* The e-mail is lower-cased by now; ADMIN_EMAIL may not be. */
	if (in[UPD_EMAIL].set && conf.admin_email != NULL &&
	    strcasecmp(in[UPD_EMAIL].s, conf.admin_email) == 0) {
		resp_error(w, 409, "CONFLICT", "Email already registered");
		resp_detail(w, "email", "is already registered");
		return;
	}
	/* A new address gets a verification link (sent only if it is
	 * another address: the data layer knows). */
	if (in[UPD_EMAIL].set)
		recovery_verify_link(&r->pool, in[UPD_EMAIL].s,
		    in[UPD_USERNAME].set ? in[UPD_USERNAME].s :
		    r->who.username, &vt);
	rc = db_user_update(r->who.user_id,
	    in[UPD_USERNAME].set ? in[UPD_USERNAME].s : NULL,
	    in[UPD_EMAIL].set ? in[UPD_EMAIL].s : NULL,
	    in[UPD_PHONE].set || in[UPD_PHONE].null,
	    in[UPD_PHONE].set && in[UPD_PHONE].len > 0 ? in[UPD_PHONE].s : NULL,
	    &dup_name, &dup_email, in[UPD_EMAIL].set ? &vt : NULL);
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
