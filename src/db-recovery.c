/*
 * db-recovery.c: the data layer of account recovery: the single-use
 * tokens of reset and verification links (only their hashes), the count
 * of links asked for per address, and the transactions that spend a
 * token.  A token is spent by one UPDATE ... WHERE used_at IS NULL AND
 * expires_at > now inside BEGIN IMMEDIATE: of two requests with one
 * token, exactly one changes the row.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "db-int.h"

/* How long after an address change the reset notice also goes to the
 * address before it (or the reset link's lifetime, if longer). */
#define RESET_NOTICE_PREV_S (7 * 86400)

enum dbrc
db_token_add(const struct acct_token *t, int64_t user)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now();

	/* The newest link is the one that works: no pile of live ones. */
	if ((st = db_stmt(STMT_TOKEN_SPEND_OLDER)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, user);
	db_bind_text(st, 3, t->purpose);
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	if ((st = db_stmt(STMT_TOKEN_INSERT)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, t->hash);
	db_bind_text(st, 2, t->purpose);
	db_bind_int(st, 3, user);
	db_bind_text(st, 4, t->email);
	db_bind_int(st, 5, now);
	db_bind_int(st, 6, t->expires_at);
	if ((rc = db_run(st)) != DB_OK)
		return rc;
	return db_outbox_add(&t->m);
}

enum dbrc
db_recovery_request(const char *addr_hash, struct acct_token *t,
    enum recovery *out, int64_t *retry_after)
{
	struct dbstmt *st;
	enum dbrc rc;
	int64_t now = park_now(), oldest, user = t->user_id;
	int n;

	*out = RECOVERY_UNKNOWN;
	*retry_after = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	/* The count and the record in one transaction, like the login
	 * failures: parallel requests each see the ones before. */
	if ((st = db_stmt(STMT_RECOVERY_COUNT)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, addr_hash);
	db_bind_int(st, 2, now - conf.recovery_window_s);
	if ((rc = db_row(st)) != DB_OK)
		goto fail;
	n = db_col_int(st, 0);
	oldest = db_col_int(st, 1);
	db_done(st);
	if (n >= conf.recovery_max_requests) {
		*out = RECOVERY_LIMITED;
		*retry_after = oldest + conf.recovery_window_s - now;
		if (*retry_after < 1)
			*retry_after = 1;
		db_rollback();
		return DB_OK;
	}
	if ((st = db_stmt(STMT_RECOVERY_ADD)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, addr_hash);
	db_bind_int(st, 2, now);
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	if (user == 0) {
		if ((st = db_stmt(STMT_USER_BY_EMAIL_ACTIVE)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_text(st, 1, t->email);
		rc = db_row(st);
		if (rc == DB_OK) {
			user = db_col_int(st, 0);
			db_done(st);
		} else if (rc != DB_NOTFOUND)
			goto fail;
	}
	if (user <= 0) {
		/* No account: the statement that spends older tokens runs
		 * all the same (it matches nothing), so that the answer
		 * takes as long as for a known address. */
		if ((st = db_stmt(STMT_TOKEN_SPEND_OLDER)) == NULL) {
			rc = db_lasterr();
			goto fail;
		}
		db_bind_int(st, 1, now);
		db_bind_int(st, 2, -1);
		db_bind_text(st, 3, t->purpose);
		if ((rc = db_run(st)) != DB_OK)
			goto fail;
		return db_commit();
	}
	if ((rc = db_token_add(t, user)) != DB_OK)
		goto fail;
	if ((rc = db_commit()) == DB_OK) {
		t->user_id = user;
		*out = RECOVERY_QUEUED;
	}
	return rc;
fail:
	db_rollback();
	return rc;
}

/* Spends the token hash of purpose; DB_NOTFOUND when it cannot be.  The
 * account and the address the link went to come back in *user, *email. */
static enum dbrc
spend(struct pool *p, const char *hash, const char *purpose, int64_t *user,
    const char **email)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_TOKEN_SPEND)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, hash);
	db_bind_text(st, 2, purpose);
	db_bind_int(st, 3, park_now());
	if ((rc = db_row(st)) != DB_OK)
		return rc;
	*user = db_col_int(st, 0);
	*email = db_col_text(p, st, 1);
	db_done(st);
	return DB_OK;
}

enum dbrc
db_recovery_token_live(const char *hash, const char *purpose)
{
	struct dbstmt *st;
	enum dbrc rc;

	if ((st = db_stmt(STMT_TOKEN_LIVE)) == NULL)
		return db_lasterr();
	db_bind_text(st, 1, hash);
	db_bind_text(st, 2, purpose);
	db_bind_int(st, 3, park_now());
	if ((rc = db_row(st)) == DB_OK)
		db_done(st);
	return rc;
}

/* Marks the address verified (it is still the account's: spend()). */
static enum dbrc
set_verified(int64_t user, const char *email)
{
	struct dbstmt *st;

	if ((st = db_stmt(STMT_USER_SET_VERIFIED)) == NULL)
		return db_lasterr();
	db_bind_int(st, 1, park_now());
	db_bind_int(st, 2, user);
	db_bind_text(st, 3, email);
	return db_run(st);
}

enum dbrc
db_recovery_reset(struct pool *p, const char *hash, const char *pw_hash,
    struct mail *notice, int64_t *user_id)
{
	struct dbstmt *st;
	enum dbrc rc;
	const char *email = NULL;
	int64_t now = park_now();

	*user_id = 0;
	if ((rc = db_begin()) != DB_OK)
		return rc;
	if ((rc = spend(p, hash, "reset", user_id, &email)) != DB_OK)
		goto fail;
	if ((st = db_stmt(STMT_USER_SET_HASH)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_text(st, 1, pw_hash);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, *user_id);
	if ((rc = db_run(st)) != DB_OK || (rc = set_verified(*user_id,
	    email)) != DB_OK)
		goto fail;
	/* Whoever held a session (perhaps the one who took the account)
	 * is out: the password-change path, keeping none. */
	if ((st = db_stmt(STMT_SESSION_REVOKE_USER)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, now);
	db_bind_text(st, 2, "password reset");
	db_bind_int(st, 3, *user_id);
	db_bind_text(st, 4, "");
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	/* Other reset links of the account die with this one. */
	if ((st = db_stmt(STMT_TOKEN_SPEND_OLDER)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, *user_id);
	db_bind_text(st, 3, "reset");
	if ((rc = db_run(st)) != DB_OK)
		goto fail;
	notice->to = email;
	if ((rc = db_outbox_add(notice)) != DB_OK)
		goto fail;
	/* The address the account had before a recent change hears of it
	 * too: whoever changed it (a stolen session) and then reset the
	 * password is seen by the owner. */
	if ((st = db_stmt(STMT_USER_PREV_EMAIL)) == NULL) {
		rc = db_lasterr();
		goto fail;
	}
	db_bind_int(st, 1, *user_id);
	db_bind_int(st, 2, now - (conf.reset_token_ttl_s > RESET_NOTICE_PREV_S ?
	    conf.reset_token_ttl_s : RESET_NOTICE_PREV_S));
	rc = db_row(st);
	if (rc == DB_OK) {
		notice->to = db_col_text(p, st, 0);
		db_done(st);
		notice->idem_key = pool_printf(p, "%s:prev", notice->idem_key);
		if ((rc = db_outbox_add(notice)) != DB_OK)
			goto fail;
	} else if (rc != DB_NOTFOUND)
		goto fail;
	return db_commit();
fail:
	db_rollback();
	return rc;
}

enum dbrc
db_recovery_verify(const char *hash, int64_t *user_id)
{
	struct pool p = { 0 };
	enum dbrc rc;
	const char *email = NULL;

	*user_id = 0;
	if ((rc = db_begin()) != DB_OK)
		goto out;
	if ((rc = spend(&p, hash, "verify", user_id, &email)) != DB_OK ||
	    (rc = set_verified(*user_id, email)) != DB_OK) {
		db_rollback();
		goto out;
	}
	rc = db_commit();
out:
	pool_free(&p);
	return rc;
}
