/*
 * db-auth.c: the data layer of accounts: users, login sessions (the
 * durable record behind every token) and the login attempts counted per
 * account and client address.  Every check followed by a write is one BEGIN IMMEDIATE
 * transaction.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "db-int.h"

/* Reads a row of USER_COLS into u. */
static void
user_row(struct pool *p, struct dbstmt *st, struct user *u)
{
	u->id = db_col_int(st, 0);
	u->username = db_col_text(p, st, 1);
	u->email = db_col_text(p, st, 2);
	u->password_hash = db_col_text(p, st, 3);
	u->phone = db_col_text(p, st, 4);
	u->is_active = db_col_int(st, 5);
	u->created_at = db_col_int(st, 6);
	u->updated_at = db_col_int(st, 7);
	u->last_login = db_col_int(st, 8);
	u->email_verified = db_col_int(st, 9);
}

/* Runs a one-row lookup of a user; DB_OK, DB_NOTFOUND or a failure. */
static enum dbrc
user_lookup(struct dbstmt *st, struct pool *p, struct user *u)
{
	enum dbrc rc;

	if ((rc = db_row(st)) != DB_OK)
		return rc;
	user_row(p, st, u);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_user_get(struct pool *p, int64_t id, struct user *u)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_USER_GET)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, id);
	return user_lookup(st, p, u);
}

enum dbrc
db_user_by_login(struct pool *p, const char *email_lc, const char *username,
    struct user *u)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_USER_BY_LOGIN)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, email_lc);
	db_bind_text(st, 2, username);
	return user_lookup(st, p, u);
}

/* Sets *taken when a statement finds a row for (value, not id). */
static enum dbrc
taken(enum stmt id, const char *value, int64_t self, int *is_taken)
{
	struct dbstmt *st;
	enum dbrc rc;

	*is_taken = 0;
	if (value == NULL)
		return DB_OK;
	if ((st = db_stmt(id)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, value);
	db_bind_int(st, 2, self);
	rc = db_row(st);
	if (rc == DB_OK) {
		*is_taken = 1;
		db_done(st);
	}
	return rc == DB_NOTFOUND ? DB_OK : rc;
}

enum dbrc
db_user_insert(const struct user *u, int64_t *id, int *dup_name,
    int *dup_email, const struct acct_token *vt)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();

	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((rc = taken(STMT_USER_NAME_TAKEN, u->username, 0,
	    dup_name)) != DB_OK ||
	    (rc = taken(STMT_USER_EMAIL_TAKEN, u->email, 0, dup_email)) !=
	    DB_OK)
		goto fail;
	if (*dup_name || *dup_email) {
		rc = DB_CONFLICT;
		goto fail;
	}
	if ((st = db_stmt(STMT_USER_INSERT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, u->username);
	db_bind_text(st, 2, u->email);
	db_bind_text(st, 3, u->password_hash);
	db_bind_text(st, 4, u->phone);
	db_bind_int(st, 5, now);
	db_bind_int(st, 6, now);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	*id = db_last_id();
	/* The verification link exists exactly when the account does. */
	if (vt != NULL && (rc = db_token_add(vt, *id)) != DB_OK)
		goto fail;
	/* Dashboards count users: cached reads must see the new one. */
	if ((rc = db_gen_bump("lots")) != DB_OK)
		goto fail;
	return db_commit();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_user_update(int64_t id, const char *username, const char *email,
    int set_phone, const char *phone, int *dup_name, int *dup_email,
    const struct acct_token *vt, struct mail *notice, int *moved_out)
{
	struct dbstmt *st;
	enum dbrc rc;
	struct pool p = { 0 };
	const char *old_email = NULL;
	int moved = 0;

	*moved_out = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((rc = taken(STMT_USER_NAME_TAKEN, username, id, dup_name)) !=
	    DB_OK ||
	    (rc = taken(STMT_USER_EMAIL_TAKEN, email, id, dup_email)) != DB_OK)
		goto fail;
	if (*dup_name || *dup_email) {
		rc = DB_CONFLICT;
		goto fail;
	}
	/* Is it another address?  (Taken by no one else: checked above.) */
	if (email != NULL) {
		if ((rc = taken(STMT_USER_EMAIL_TAKEN, email, 0, &moved)) !=
		    DB_OK)
			goto fail;
		moved = !moved;
	}
	/* The address it replaces, read in the transaction: the notice
	 * goes there. */
	if (moved) {
		if ((st = db_stmt(STMT_USER_GET)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_int(st, 1, id);
		if ((rc = db_row(st)) != DB_OK)
			goto fail;
		old_email = db_col_text(&p, st, 2);
		db_done(st);
	}
	if ((st = db_stmt(STMT_USER_UPDATE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, username);
	db_bind_text(st, 2, email);
	db_bind_int(st, 3, set_phone);
	db_bind_text(st, 4, phone);
	db_bind_int(st, 5, park_now());
	db_bind_int(st, 6, id);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	if (db_changes() == 0) {
		rc = DB_NOTFOUND;
		goto fail;
	}
	/* A new address is unverified (the statement) and gets its link;
	 * links to the old one stop counting (db_token_add() spends them,
	 * and a verification checks the address it went to). */
	if (moved && vt != NULL && (rc = db_token_add(vt, id)) != DB_OK)
		goto fail;
	if (moved) {
		/* Reset links went to an address the account no longer
		 * has: changing it back must not revive them. */
		if ((st = db_stmt(STMT_TOKEN_SPEND_OLDER)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_int(st, 1, park_now());
		db_bind_int(st, 2, id);
		db_bind_text(st, 3, "reset");
		if ((rc = db_run(st)) != DB_OK)
			goto fail;
		/* The owner hears of it at the address they know. */
		if (notice != NULL && old_email != NULL) {
			notice->to = old_email;
			if ((rc = db_outbox_add(notice)) != DB_OK)
				goto fail;
		}
	}
	/* Spot grids show usernames. */
	if ((rc = db_gen_bump("lots")) != DB_OK)
		goto fail;
	if ((rc = db_commit()) == DB_OK)
		*moved_out = moved;
	if (notice != NULL)
		notice->to = NULL;
	pool_free(&p);
	return rc;
fail:
	db_rollback();
	if (notice != NULL)
		notice->to = NULL;
	pool_free(&p);
	return rc;
}

/* Revokes sessions: of one user but keep_sid (user_id > 0), or one. */
static enum dbrc
revoke(int64_t user_id, const char *sid, const char *reason)
{
	struct dbstmt *st;

	if ((st = db_stmt(user_id > 0 ? STMT_SESSION_REVOKE_USER :
	    STMT_SESSION_REVOKE)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, park_now());
	db_bind_text(st, 2, reason);
	if (user_id > 0) {
		db_bind_int(st, 3, user_id);
		db_bind_text(st, 4, sid != NULL ? sid : "");
	} else
		db_bind_text(st, 3, sid);
	return db_run(st);
}

/* Deletes the attempts of the name and of its account from addr (a
 * success). */
static enum dbrc
attempts_clear(const char *ident, const char *account, const char *addr)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_LOGIN_FAIL_CLEAR)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, ident);
	db_bind_text(st, 2, account);
	db_bind_text(st, 3, addr);
	return db_run(st);
}

enum dbrc
db_user_set_password(int64_t id, const char *hash, const char *old_hash,
    const char *keep_sid, const char *account, const char *addr)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((rc = db_begin()) != DB_OK)
		return rc;
	/* Written only over the hash the current password matched, from a
	 * session still live: a reset committed while this one hashed
	 * revoked the session and changed the hash, and stands. */
	if ((st = db_stmt(STMT_USER_CHANGE_HASH)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, hash);
	db_bind_int(st, 2, park_now());
	db_bind_int(st, 3, id);
	db_bind_text(st, 4, old_hash);
	db_bind_text(st, 5, keep_sid);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	if (db_changes() == 0) {
		rc = DB_CONFLICT;
		goto fail;
	}
	if ((rc = revoke(id, keep_sid, "password changed")) != DB_OK ||
	    (rc = attempts_clear(account, account, addr)) != DB_OK)
		goto fail;
	return db_commit();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_user_set_active(int64_t id, int active)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_USER_SET_ACTIVE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, active);
	db_bind_int(st, 2, park_now());
	db_bind_int(st, 3, id);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	if (db_changes() == 0) {
		rc = DB_NOTFOUND;
		goto fail;
	}
	/* A deactivated user's tokens stop at once (ASVS 7.4.2). */
	if (!active && (rc = revoke(id, NULL, "deactivated")) != DB_OK)
		goto fail;
	/* Its reset and verification links die too: reactivating the
	 * account must not revive a link mailed before. */
	if (!active) {
		if ((st = db_stmt(STMT_TOKEN_SPEND_USER)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_int(st, 1, park_now());
		db_bind_int(st, 2, id);
		if ((rc = db_run(st)) != DB_OK)
			goto fail;
	}
	if ((rc = db_gen_bump("lots")) != DB_OK)
		goto fail;
	return db_commit();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_users_list(struct pool *p, const char *like, int limit, int offset,
    struct user **out, size_t *n, long long *total)
{
	struct dbstmt *st;
	enum dbrc rc;
	size_t cap = (size_t)limit;

	*n = 0;
	*out = pool_alloc(p, sizeof(**out) * (cap ? cap : 1));
	if ((st = db_stmt(STMT_USERS_COUNT)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, like);
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	*total = db_col_int(st, 0);
	db_done(st);
	if ((st = db_stmt(STMT_USERS_LIST)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, like);
	db_bind_int(st, 2, limit);
	db_bind_int(st, 3, offset);
	while (db_next(st, &rc) && *n < cap)
		user_row(p, st, &(*out)[(*n)++]);
	return rc;
}

/* Records one attempt of key from addr at now. */
static enum dbrc
attempt_add(const char *key, const char *addr, int64_t now)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_LOGIN_FAIL_ADD)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, key);
	db_bind_int(st, 2, now);
	db_bind_text(st, 3, addr);
	return db_run(st);
}

enum dbrc
db_login_attempt(const char *ident, const char *account, const char *addr,
    const char *addr_key, enum attempt *verdict, int *failures,
    int64_t *retry_after)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now(), oldest_here, latest_here, oldest_addr;
	int all, here, from_addr;

	*verdict = ATTEMPT_OK;
	*failures = 0;
	*retry_after = 0;
	/* The count and the record in one write transaction: of parallel
	 * attempts, each sees the ones before it. */
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_LOGIN_FAIL_COUNT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, ident);
	db_bind_text(st, 2, account);
	db_bind_int(st, 3, now - conf.login_window_s);
	db_bind_text(st, 4, addr);
	db_bind_text(st, 5, addr_key);
	if ((rc = db_row(st)) != DB_OK)
		goto fail;
	here = db_col_int(st, 0);
	oldest_here = db_col_int(st, 1);
	latest_here = db_col_int(st, 2);
	all = db_col_int(st, 3);
	from_addr = db_col_int(st, 4);
	oldest_addr = db_col_int(st, 5);
	db_done(st);
	if (addr_key != NULL && from_addr >= conf.login_addr_max_failures) {
		/* One address cycling through names (each with its own
		 * count) would buy a hash per name without end. */
		*verdict = ATTEMPT_ADDR_CAP;
		*failures = from_addr;
		*retry_after = oldest_addr + conf.login_window_s - now;
	} else if (here >= conf.login_max_failures) {
		/* This address has had its tries at this name: until the
		 * oldest leaves the window. */
		*verdict = ATTEMPT_ADDR_LIMIT;
		*failures = here;
		*retry_after = oldest_here + conf.login_window_s - now;
	} else if (all >= conf.login_account_max_failures &&
	    now - latest_here < conf.login_slow_s) {
		/* Guesses from many addresses: each address gets one attempt
		 * per PARKD_LOGIN_SLOW_S at the account.  A bucket of the
		 * whole account was taken by whoever polled fastest, and its
		 * owner got 429 forever: a fresh address always gets a try. */
		*verdict = ATTEMPT_SLOWED;
		*failures = all;
		*retry_after = latest_here + conf.login_slow_s - now;
	}
	if (*verdict != ATTEMPT_OK) {
		if (*retry_after < 1)
			*retry_after = 1;
		db_rollback();
		return DB_OK;
	}
	if ((rc = attempt_add(ident, addr, now)) != DB_OK ||
	    (strcmp(account, ident) != 0 &&
	    (rc = attempt_add(account, addr, now)) != DB_OK) ||
	    (addr_key != NULL &&
	    (rc = attempt_add(addr_key, addr, now)) != DB_OK))
		goto fail;
	return db_commit();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_login_success(const char *ident, const char *account, const char *addr,
    const char *addr_key, const struct session *s, const char *new_hash)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();

	if ((rc = db_begin()) != DB_OK)
		return rc;
	/* This address's attempts only: another address's guesses stay
	 * counted when the owner logs in. */
	if ((rc = attempts_clear(ident, account, addr)) != DB_OK)
		goto fail;
	/* Of the address's logins at every name, this one only: the others
	 * may be another client's guesses behind the same address. */
	if (addr_key != NULL) {
		if ((st = db_stmt(STMT_LOGIN_FAIL_UNCOUNT)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_text(st, 1, addr_key);
		if ((rc = db_run(st)) != DB_OK)
			goto fail;
	}
	if (s->user_id > 0) {
		if ((st = db_stmt(STMT_USER_LAST_LOGIN)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_int(st, 1, now);
		db_bind_int(st, 2, s->user_id);
		db_bind_text(st, 3, s->pw_hash);
		db_bind_int(st, 4, conf.require_email_verification);
		if ((rc = db_run(st)) != DB_OK)
			goto fail;
		/* The password was verified against a hash read before the
		 * (slow) verification: a reset, a password change or a
		 * deactivation that committed since wins; no session, and
		 * no rehash of the old password over the new one. */
		if (db_changes() == 0) {
			rc = DB_CONFLICT;
			goto fail;
		}
	}
	if (new_hash != NULL) {
		if ((st = db_stmt(STMT_USER_SET_HASH)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_text(st, 1, new_hash);
		db_bind_int(st, 2, now);
		db_bind_int(st, 3, s->user_id);
		if ((rc = db_run(st)) != DB_OK)
			goto fail;
	}
	if ((st = db_stmt(STMT_SESSION_INSERT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, s->id);
	if (s->user_id > 0)
		db_bind_int(st, 2, s->user_id);
	else
		db_bind_null(st, 2);
	db_bind_int(st, 3, s->user_id == 0);
	db_bind_text(st, 4, s->refresh_jti);
	db_bind_int(st, 5, s->remember);
	db_bind_int(st, 6, now);
	db_bind_int(st, 7, now);
	db_bind_int(st, 8, s->expires_at);
	db_bind_text(st, 9, s->user_id > 0 ? NULL : s->admin_fp);
	db_bind_text(st, 10, s->access_jti);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	return db_commit();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_session_check(struct pool *p, const char *sid, const char *admin_fp,
    struct session_state *ss)
{
	struct dbstmt *st;
	enum dbrc rc;

	memset(ss, 0, sizeof(*ss));
	if ((st = db_stmt(STMT_SESSION_CHECK)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, sid);
	db_bind_int(st, 2, park_now());
	db_bind_text(st, 3, admin_fp);
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	ss->is_admin = db_col_int(st, 0);
	ss->user_id = db_col_int(st, 1);
	ss->valid = db_col_int(st, 2);
	ss->user_active = db_col_int(st, 3);
	ss->username = db_col_text(p, st, 4);
	ss->email = db_col_text(p, st, 5);
	ss->remember = db_col_int(st, 6);
	ss->access_jti = db_col_text(p, st, 7);
	ss->prev_access_jti = db_col_text(p, st, 8);
	ss->rotated_at = db_col_int(st, 9);
	ss->email_verified = db_col_int(st, 10);
	db_done(st);
	return DB_OK;
}

/* Copies a column of 32 hex digits into out; 0, or -1 when it is not. */
static int
col_jti(struct dbstmt *st, int col, char out[33])
{
	const char *t = db_col_str(st, col);

	if (t == NULL || db_col_bytes(st, col) != 32)
		return -1;
	memcpy(out, t, 33);
	return 0;
}

enum dbrc
db_session_rotate(const char *sid, const char *jti, const char *admin_fp,
    struct token_pair *tp, struct session_state *ss, enum rotate *out)
{
	struct dbstmt *st;
	enum dbrc rc;
	struct token_pair prev;
	const char *prev_jti;
	int current, repeat, revoked;
	int64_t expires, now = park_now();

	*out = ROTATE_REVOKED;
	memset(ss, 0, sizeof(*ss));
	/* One transaction: of two refreshes with one token, the second sees
	 * the first's rotation, and gets its pair (within the leeway). */
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_SESSION_GET)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, sid);
	db_bind_text(st, 2, admin_fp);
	if ((rc = db_row(st)) != DB_OK)
		goto fail;
	ss->is_admin = db_col_int(st, 0);
	ss->user_id = db_col_int(st, 1);
	current = strcmp(db_col_str(st, 2), jti) == 0;
	ss->remember = db_col_int(st, 3);
	expires = db_col_int(st, 4);
	revoked = db_col_int(st, 5);
	prev_jti = db_col_str(st, 6);
	/* The successor of jti, rotated less than the leeway ago. */
	repeat = !current && prev_jti != NULL &&
	    strcmp((const char *)prev_jti, jti) == 0 &&
	    db_col_type(st, 8) == DBT_INT &&
	    now - db_col_int(st, 8) < conf.refresh_leeway_s &&
	    col_jti(st, 2, prev.refresh_jti) == 0 &&
	    col_jti(st, 7, prev.access_jti) == 0;
	prev.iat = db_col_int(st, 8);
	prev.refresh_exp = db_col_int(st, 9);
	ss->expires_at = expires;
	db_done(st);
	if (revoked || expires <= now) {
		db_rollback();
		return DB_OK;
	}
	if (repeat) {
		*tp = prev;
		*out = ROTATE_REPEAT;
		db_rollback();
		return DB_OK;
	}
	if (!current) {
		/* A retired refresh token came back: someone holds a copy.
		 * End the whole session (RFC 9700 4.14). */
		if ((rc = revoke(0, sid, "refresh token reuse")) != DB_OK)
			goto fail;
		*out = ROTATE_REUSED;
		return db_commit();
	}
	/* The session ends where its login set it (login + the refresh
	 * lifetime): a refresh never lengthens it, so the new refresh token
	 * ends with it, or sooner when the setting was shortened since. */
	tp->iat = now;
	tp->refresh_exp = now + (ss->remember ?
	    conf.jwt_refresh_remember_ttl_s : conf.jwt_refresh_ttl_s);
	if (tp->refresh_exp > expires)
		tp->refresh_exp = expires;
	if ((st = db_stmt(STMT_SESSION_ROTATE)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, tp->refresh_jti);
	db_bind_text(st, 2, tp->access_jti);
	db_bind_int(st, 3, now);
	db_bind_int(st, 4, tp->refresh_exp);
	db_bind_text(st, 5, sid);
	db_bind_text(st, 6, jti);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	if (db_changes() != 1) {
		rc = DB_ERROR;
		goto fail;
	}
	*out = ROTATE_OK;
	return db_commit();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_session_revoke(const char *sid, const char *reason)
{
	return revoke(0, sid, reason);
}

enum dbrc
db_admin_sessions_end(const char *admin_fp, int *n)
{
	struct dbstmt *st;
	enum dbrc rc;

	*n = 0;
	if ((st = db_stmt(STMT_SESSION_REVOKE_ADMIN_FP)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, park_now());
	db_bind_text(st, 2, "admin credential changed");
	db_bind_text(st, 3, admin_fp);
	if ((rc = db_run(st)) == DB_OK)
		*n = db_changes();
	return rc;
}
