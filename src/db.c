/*
 * db.c: the SQLite connection of this process and its policy (pragmas,
 * busy handler, migrations, transactions), the statement table with its
 * helpers, and the one mapping of data-layer outcomes to HTTP.
 *
 * One connection per process, opened after fork (SQLite's howtocorrupt
 * 2.6): a connection inherited from a parent is abandoned, never used or
 * closed.  Only the db*.c files see SQLite (db-int.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/mman.h>
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db-int.h"

/* Longest string or blob, and longest SQL text, a statement may carry. */
#define DB_MAX_LENGTH (16 * 1024 * 1024)
#define DB_MAX_SQL_LENGTH (1024 * 1024)
/* Sleeps of the busy handler: the first, and the most it grows to. */
#define DB_BUSY_FIRST_US 100
#define DB_BUSY_MAX_US 2000
/* A write transaction holding the lock longer than this is logged. */
#define DB_WRITE_WARN_MS 100
/* The longest a commit waits for readers to let the WAL restart. */
#define DB_CHECKPOINT_WAIT_MS 20
/* How long a migration waits for the write lock, whatever the timeout. */
#define DB_MIGRATE_WAIT_MS 60000

/*
 * THE statement table: every SQL statement of parkd and parkctl, indexed by
 * enum stmt (db-int.h).  Parameters are bound by position; no SQL is ever
 * built from strings.  The only SQL outside it: the embedded migrations and
 * sample data (sqlembed.c), the user_version bump in db_migrate() and the
 * max_page_count of db_max_pages(), whose numbers are ours, not input.
 */
#define USER_COLS "id, username, email, password_hash, phone, is_active," \
    " created_at, updated_at, last_login, email_verified"

#define LOT_COLS "id, name, address, pin_code, price_cents," \
    " number_of_spots, occupied, is_active, description, hours_start," \
    " hours_end, created_at, updated_at"
#define RESV_COLS "r.id, r.spot_id, s.spot_number, r.lot_id, l.name," \
    " r.user_id, u.username, r.vehicle_number, r.parking_ts, r.leaving_ts," \
    " r.hourly_cents, r.cost_cents, r.status, r.remarks, r.created_at," \
    " r.updated_at, r.vehicle_model, r.vehicle_color, r.expected_leaving_ts," \
    " r.start_time, r.end_time"
#define RESV_FROM "FROM reservations r JOIN spots s ON s.id = r.spot_id" \
    " JOIN lots l ON l.id = r.lot_id JOIN users u ON u.id = r.user_id"
/* The body of a sent or failed mail of a link of recovery.c: gone. */
#define OUTBOX_FORGET_LINK "body_text = CASE WHEN idem_key GLOB 'reset:*'" \
    " OR idem_key GLOB 'verify:*' THEN '(sent; the link is not kept)'" \
    " ELSE body_text END, body_html = CASE WHEN idem_key GLOB 'reset:*'" \
    " OR idem_key GLOB 'verify:*' THEN NULL ELSE body_html END"
#define EXPORT_COLS "id, user_id, email, state, progress, filename, error," \
    " attempts, created_at, updated_at, finished_at"

static const char *const stmt_sql[] = {
	[STMT_PING] = "SELECT 1",
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_BEGIN_READ] = "BEGIN DEFERRED",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	/* Only a new, empty file takes it (db_open() explains the size). */
	[STMT_PRAGMA_PAGE_SIZE] = "PRAGMA page_size = 2048",
	[STMT_PRAGMA_WAL] = "PRAGMA journal_mode = WAL",
	[STMT_PRAGMA_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	[STMT_PRAGMA_SYNC_FULL] = "PRAGMA synchronous = FULL",
	[STMT_PRAGMA_FOREIGN_KEYS] = "PRAGMA foreign_keys = ON",
	[STMT_PRAGMA_JOURNAL_LIMIT] = "PRAGMA journal_size_limit = 67108864",
	/* reads the cap back; db_max_pages() sets it (PRAGMA takes no
	 * parameter) */
	[STMT_PRAGMA_MAX_PAGES] = "PRAGMA max_page_count",
	[STMT_VERSION_GET] = "PRAGMA user_version",

	[STMT_RESET_REMINDERS] = "DELETE FROM reminders_sent",
	[STMT_RESET_REPORTS] = "DELETE FROM reports_sent",
	[STMT_RESET_OUTBOX] = "DELETE FROM outbox",
	[STMT_RESET_JOB_RUNS] = "DELETE FROM job_runs",
	[STMT_RESET_EXPORTS] = "DELETE FROM export_jobs",
	[STMT_RESET_LOGIN_FAILURES] = "DELETE FROM login_failures",
	[STMT_RESET_SESSIONS] = "DELETE FROM sessions",
	[STMT_RESET_RESERVATIONS] = "DELETE FROM reservations",
	[STMT_RESET_SPOTS] = "DELETE FROM spots",
	[STMT_RESET_LOTS] = "DELETE FROM lots",
	[STMT_RESET_USERS] = "DELETE FROM users",

	[STMT_STATS_USERS] =
	    "SELECT count(*), coalesce(sum(is_active), 0) FROM users",
	[STMT_STATS_LOTS] =
	    "SELECT count(*) FROM lots WHERE deleted_at IS NULL",
	[STMT_STATS_SPOTS] =
	    "SELECT count(*), coalesce(sum(s.status = 'A'), 0),"
	    " coalesce(sum(s.status = 'O'), 0)"
	    " FROM spots s JOIN lots l ON l.id = s.lot_id"
	    " WHERE s.removed_at IS NULL AND l.deleted_at IS NULL",
	[STMT_STATS_RESERVATIONS] =
	    "SELECT status, count(*) FROM reservations GROUP BY status",
	[STMT_STATS_EXPORTS] =
	    "SELECT count(*) FROM export_jobs WHERE state = 'PENDING'",
	[STMT_STATS_OUTBOX] =
	    "SELECT count(*) FROM outbox WHERE state = 'queued'",

	[STMT_USER_INSERT] =
	    "INSERT INTO users (username, email, password_hash, phone,"
	    " is_active, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
	[STMT_USER_GET] =
	    "SELECT " USER_COLS " FROM users WHERE id = ?",
	/* ?1 the lower-cased e-mail, ?2 the exact username */
	[STMT_USER_BY_LOGIN] =
	    "SELECT " USER_COLS " FROM users WHERE email = ?1"
	    " UNION ALL SELECT " USER_COLS " FROM users WHERE username = ?2"
	    " LIMIT 1",
	[STMT_USER_NAME_TAKEN] =
	    "SELECT 1 FROM users WHERE username = ? AND id <> ?",
	[STMT_USER_EMAIL_TAKEN] =
	    "SELECT 1 FROM users WHERE email = ? AND id <> ?",
	/* ?1 now, ?2 id, ?3 the hash the login verified, ?4 1 when
	 * REQUIRE_EMAIL_VERIFICATION is on: no row when the password was
	 * changed or reset, the account deactivated, or its address made
	 * unverified while the login hashed (the login is then refused) */
	[STMT_USER_LAST_LOGIN] =
	    "UPDATE users SET last_login = ?1 WHERE id = ?2"
	    " AND password_hash = ?3 AND is_active = 1"
	    " AND (?4 = 0 OR email_verified = 1)",
	[STMT_USER_SET_HASH] =
	    "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
	/* a password change: ?1 the new hash, ?2 now, ?3 id, ?4 the hash the
	 * current password was verified against, ?5 the caller's session,
	 * which must still be live (a reset in between revoked it) */
	[STMT_USER_CHANGE_HASH] =
	    "UPDATE users SET password_hash = ?1, updated_at = ?2"
	    " WHERE id = ?3 AND password_hash = ?4 AND is_active = 1"
	    " AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = ?5"
	    " AND s.user_id = ?3 AND s.revoked_at IS NULL)",
	/* ?1 username or NULL, ?2 email or NULL, ?3 1 to set the phone,
	 * ?4 the phone (NULL clears it), ?5 now, ?6 id.  Another address
	 * keeps the one it replaces in prev_email (the notice of a reset
	 * goes there too) */
	[STMT_USER_UPDATE] =
	    "UPDATE users SET username = coalesce(?1, username),"
	    " prev_email = CASE WHEN ?2 IS NOT NULL AND ?2 <> email"
	    " THEN email ELSE prev_email END,"
	    " email_changed_at = CASE WHEN ?2 IS NOT NULL AND ?2 <> email"
	    " THEN ?5 ELSE email_changed_at END,"
	    " email = coalesce(?2, email),"
	    " email_verified = CASE WHEN ?2 IS NOT NULL AND ?2 <> email"
	    " THEN 0 ELSE email_verified END,"
	    " phone = CASE WHEN ?3 THEN ?4 ELSE phone END,"
	    " updated_at = ?5 WHERE id = ?6",
	[STMT_USER_SET_ACTIVE] =
	    "UPDATE users SET is_active = ?, updated_at = ? WHERE id = ?",
	/* ?1 a LIKE pattern or NULL for all, ?2 limit, ?3 offset */
	[STMT_USERS_LIST] =
	    "SELECT " USER_COLS " FROM users"
	    " WHERE ?1 IS NULL OR username LIKE ?1 ESCAPE '\\'"
	    " OR email LIKE ?1 ESCAPE '\\'"
	    " ORDER BY id LIMIT ?2 OFFSET ?3",
	[STMT_USERS_COUNT] =
	    "SELECT count(*) FROM users"
	    " WHERE ?1 IS NULL OR username LIKE ?1 ESCAPE '\\'"
	    " OR email LIKE ?1 ESCAPE '\\'",
	/* ?10 the access token's jti (the session check accepts no other) */
	[STMT_SESSION_INSERT] =
	    "INSERT INTO sessions (id, user_id, is_admin, refresh_jti,"
	    " remember, created_at, last_used_at, expires_at, admin_fp,"
	    " access_jti) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	/* the per-request check: one primary-key lookup and one join; ?3
	 * the admin credential's fingerprint (an admin session made with
	 * another is over) */
	[STMT_SESSION_CHECK] =
	    "SELECT s.is_admin, s.user_id, s.revoked_at IS NULL"
	    " AND s.expires_at > ?2 AND (s.is_admin = 0 OR s.admin_fp = ?3),"
	    " coalesce(u.is_active, 1),"
	    " u.username, u.email, s.remember, s.access_jti,"
	    " s.prev_access_jti, s.rotated_at, coalesce(u.email_verified, 1)"
	    " FROM sessions s LEFT JOIN users u ON u.id = s.user_id"
	    " WHERE s.id = ?1",
	/* ?2 the admin credential's fingerprint, as in STMT_SESSION_CHECK */
	[STMT_SESSION_GET] =
	    "SELECT is_admin, user_id, refresh_jti, remember, expires_at,"
	    " revoked_at IS NOT NULL OR (is_admin = 1 AND admin_fp IS NOT ?2),"
	    " prev_jti, access_jti, rotated_at, refresh_exp"
	    " FROM sessions WHERE id = ?1",
	/* ?1 new refresh jti, ?2 its access jti, ?3 now (their iat),
	 * ?4 the new refresh token's exp, ?5 sid, ?6 the current jti */
	[STMT_SESSION_ROTATE] =
	    "UPDATE sessions SET prev_jti = refresh_jti, refresh_jti = ?1,"
	    " prev_access_jti = access_jti, access_jti = ?2, rotated_at = ?3, refresh_exp = ?4,"
	    " last_used_at = ?3"
	    " WHERE id = ?5 AND refresh_jti = ?6 AND revoked_at IS NULL",
	[STMT_SESSION_REVOKE] =
	    "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2"
	    " WHERE id = ?3 AND revoked_at IS NULL",
	/* every admin session made with another credential than ?3's */
	[STMT_SESSION_REVOKE_ADMIN_FP] =
	    "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2"
	    " WHERE is_admin = 1 AND revoked_at IS NULL AND admin_fp IS NOT ?3",
	/* every session of a user but ?4 ("" keeps none) */
	[STMT_SESSION_REVOKE_USER] =
	    "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2"
	    " WHERE user_id = ?3 AND id <> ?4 AND revoked_at IS NULL",
	/* ?1 the typed name's key, ?2 the account's, ?3 the window's start,
	 * ?4 the client's address group, ?5 the key of ?4's logins at every
	 * name ("addr:..."; NULL: none): the name's attempts from ?4, the
	 * oldest and the latest of them, the account's from everywhere, and
	 * ?5's and its oldest; ranges of login_failures_account_at */
	[STMT_LOGIN_FAIL_COUNT] =
	    "SELECT coalesce(sum(account = ?1 AND remote_addr = ?4), 0),"
	    " coalesce(min(CASE WHEN account = ?1 AND remote_addr = ?4"
	    " THEN at END), 0),"
	    " coalesce(max(CASE WHEN account = ?1 AND remote_addr = ?4"
	    " THEN at END), 0),"
	    " coalesce(sum(account = ?2), 0),"
	    " coalesce(sum(account = ?5), 0),"
	    " coalesce(min(CASE WHEN account = ?5 THEN at END), 0)"
	    " FROM login_failures WHERE account IN (?1, ?2, ?5) AND at > ?3",
	[STMT_LOGIN_FAIL_ADD] =
	    "INSERT INTO login_failures (account, at, remote_addr)"
	    " VALUES (?, ?, ?)",
	/* ?1 the typed name's key, ?2 the account's, ?3 the address group */
	[STMT_LOGIN_FAIL_CLEAR] =
	    "DELETE FROM login_failures WHERE account IN (?1, ?2)"
	    " AND remote_addr = ?3",
	/* the latest attempt of ?1: a success is no failure */
	[STMT_LOGIN_FAIL_UNCOUNT] =
	    "DELETE FROM login_failures WHERE rowid = (SELECT max(rowid)"
	    " FROM login_failures WHERE account = ?1)",

	[STMT_GEN_GET] = "SELECT gen FROM cache_gen WHERE family = ?",
	[STMT_GEN_BUMP] =
	    "UPDATE cache_gen SET gen = gen + 1 WHERE family = ?",
	[STMT_LOT_INSERT] =
	    "INSERT INTO lots (name, address, pin_code, price_cents,"
	    " number_of_spots, is_active, description, hours_start, hours_end,"
	    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[STMT_LOT_GET] =
	    "SELECT " LOT_COLS " FROM lots WHERE id = ? AND deleted_at IS NULL",
	/* ?1 1: only active lots */
	[STMT_LOTS_LIST] =
	    "SELECT " LOT_COLS " FROM lots WHERE deleted_at IS NULL"
	    " AND (?1 = 0 OR is_active = 1) ORDER BY id",
	/* each ?n NULL keeps the column; ?8 1 sets both hours from ?9, ?10 */
	[STMT_LOT_UPDATE] =
	    "UPDATE lots SET name = coalesce(?1, name),"
	    " address = coalesce(?2, address),"
	    " pin_code = coalesce(?3, pin_code),"
	    " price_cents = coalesce(?4, price_cents),"
	    " is_active = coalesce(?5, is_active),"
	    " description = CASE WHEN ?6 THEN ?7 ELSE description END,"
	    " hours_start = CASE WHEN ?8 THEN ?9 ELSE hours_start END,"
	    " hours_end = CASE WHEN ?8 THEN ?10 ELSE hours_end END,"
	    " updated_at = ?11 WHERE id = ?12 AND deleted_at IS NULL",
	[STMT_LOT_RESIZE] =
	    "UPDATE lots SET number_of_spots = ?, updated_at = ? WHERE id = ?",
	[STMT_LOT_HAS_HISTORY] =
	    "SELECT 1 FROM reservations WHERE lot_id = ? LIMIT 1",
	[STMT_LOT_DELETE] = "DELETE FROM lots WHERE id = ?",
	[STMT_LOT_SOFT_DELETE] =
	    "UPDATE lots SET deleted_at = ?1, is_active = 0, updated_at = ?1"
	    " WHERE id = ?2",
	/* growing: spots removed by an earlier shrink come back first */
	[STMT_SPOTS_REVIVE] =
	    "UPDATE spots SET removed_at = NULL WHERE lot_id = ?1"
	    " AND spot_number BETWEEN ?2 AND ?3 AND removed_at IS NOT NULL",
	/* spots ?2..?3 of lot ?1 that do not exist yet */
	[STMT_SPOTS_ADD] =
	    "INSERT INTO spots (lot_id, spot_number)"
	    " WITH RECURSIVE n(x) AS (SELECT ?2 UNION ALL"
	    " SELECT x + 1 FROM n WHERE x < ?3)"
	    " SELECT ?1, x FROM n WHERE true"
	    " ON CONFLICT (lot_id, spot_number) DO NOTHING",
	[STMT_SPOTS_OCCUPIED_ABOVE] =
	    "SELECT count(*) FROM spots WHERE lot_id = ? AND spot_number > ?"
	    " AND status = 'O'",
	/* shrinking: spots without history go, the others are marked */
	[STMT_SPOTS_DELETE_ABOVE] =
	    "DELETE FROM spots WHERE lot_id = ?1 AND spot_number > ?2"
	    " AND NOT EXISTS (SELECT 1 FROM reservations r"
	    " WHERE r.spot_id = spots.id)",
	[STMT_SPOTS_REMOVE_ABOVE] =
	    "UPDATE spots SET removed_at = ?3 WHERE lot_id = ?1"
	    " AND spot_number > ?2 AND removed_at IS NULL",
	/* ?2 now, ?3 the end of the walk-in hold from now: a free spot that
	 * a hold meets in [?2, ?3) shows as reserved ('R') */
	[STMT_SPOTS_GRID] =
	    "SELECT s.id, s.spot_number, s.status, r.id, r.user_id,"
	    " u.username, r.vehicle_number, r.parking_ts,"
	    " s.status = 'A' AND coalesce((SELECT h.hold_end"
	    " FROM reservations h WHERE h.spot_id = s.id"
	    " AND h.hold_start IS NOT NULL AND h.hold_start < ?3"
	    " ORDER BY h.hold_start DESC LIMIT 1), 0) > ?2"
	    " FROM spots s"
	    " LEFT JOIN reservations r ON r.spot_id = s.id"
	    " AND r.status = 'active'"
	    " LEFT JOIN users u ON u.id = r.user_id"
	    " WHERE s.lot_id = ?1 AND s.removed_at IS NULL"
	    " ORDER BY s.spot_number",
	/* 005: versions of lots, moved on by every booking and release */
	[STMT_LOT_VERSION] =
	    "SELECT coalesce(max(version), -1) FROM lots WHERE id = ?",
	[STMT_LOTS_VERSION] = "SELECT coalesce(sum(version), 0) FROM lots",
	/* with the count of its reservations not yet checked in: none, and
	 * a walk-in need not look for holds or no-shows */
	[STMT_LOT_FOR_BOOKING] =
	    "SELECT is_active, price_cents, name, resv_reserved FROM lots"
	    " WHERE id = ? AND deleted_at IS NULL",
	/* the lowest free spot that nothing holds in [?2, ?3) (the walk-in
	 * hold): spots_lot_status in order, and for each one seek of
	 * reservations_hold, the neighbour that starts last before ?3 (the
	 * stored holds of a spot never overlap: that one decides).  ?4 = 1:
	 * the lot has no reservation not checked in, so a spot not occupied
	 * holds nothing (active rows hold only occupied spots, finished
	 * ones nothing) and the seek is left out */
	[STMT_SPOT_FIRST_FREE] =
	    "SELECT id, spot_number FROM spots s WHERE lot_id = ?1"
	    " AND status = 'A' AND removed_at IS NULL"
	    " AND (?4 OR coalesce((SELECT r.hold_end FROM reservations r"
	    " WHERE r.spot_id = s.id AND r.hold_start IS NOT NULL"
	    " AND r.hold_start < ?3 ORDER BY r.hold_start DESC LIMIT 1), 0)"
	    " <= ?2) ORDER BY spot_number LIMIT 1",
	/* with the user's name, for the reservation a booking returns */
	[STMT_USER_ACTIVE_COUNT] =
	    "SELECT count(*), (SELECT username FROM users WHERE id = ?1)"
	    " FROM reservations WHERE user_id = ?1 AND status = 'active'",
	/* a walk-in: it holds [?5, ?7) (sql/013) */
	[STMT_RESV_INSERT] =
	    "INSERT INTO reservations (spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, hourly_cents, status, created_at,"
	    " updated_at, hold_start, hold_end)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?5, ?5, ?5, ?7)",
	[STMT_RESV_GET] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.id = ?",
	/* ?1 the reservation, ?2 its owner */
	[STMT_RESV_TO_RELEASE] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.id = ?1"
	    " AND r.user_id = ?2",
	[STMT_RESV_OLDEST_ACTIVE] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?"
	    " AND r.status = 'active' ORDER BY r.parking_ts, r.id LIMIT 1",
	/* ?1 now, ?2 id: the cost is computed here, in integer cents: the
	 * hourly price times the started hours, at least one (a clock that
	 * went back counts as no time).  A walk-in pays from its arrival to
	 * its leaving; a checked-in reservation from min(start, arrival) to
	 * max(end, leaving) (sql/013).  The hold ends. */
	[STMT_RESV_COMPLETE] =
	    "UPDATE reservations SET status = 'completed',"
	    " leaving_ts = max(?1, parking_ts),"
	    " cost_cents = hourly_cents * max(1,"
	    " (max(?1, parking_ts, coalesce(end_time, 0))"
	    " - min(parking_ts, coalesce(start_time, parking_ts)) + 3599)"
	    " / 3600), hold_start = NULL, hold_end = NULL,"
	    " updated_at = ?1 WHERE id = ?2 AND status = 'active'",
	/* what STMT_RESV_COMPLETE computed (RETURNING would cost an
	 * ephemeral table per statement in SQLite 3.40) */
	[STMT_RESV_CLOSED] =
	    "SELECT leaving_ts, cost_cents, updated_at FROM reservations"
	    " WHERE id = ?",
	/* newest first on reservations_user; ?2 a status or NULL */
	[STMT_RESV_LIST_USER] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?1"
	    " AND (?2 IS NULL OR r.status = ?2)"
	    " ORDER BY r.id DESC LIMIT ?3 OFFSET ?4",
	/* from the counts on the user's row (007) and the user's active
	 * reservations, a few at most, on reservations_user_active; one
	 * row, 0 (NULL) for no such user */
	[STMT_RESV_COUNT_USER] =
	    "SELECT CASE WHEN ?2 IS NULL THEN u.resv_finished + a.n + b.n"
	    " WHEN ?2 = 'cancelled' THEN u.resv_cancelled"
	    " WHEN ?2 = 'no_show' THEN u.resv_no_show"
	    " WHEN ?2 = 'active' THEN a.n"
	    " WHEN ?2 = 'reserved' THEN b.n"
	    " WHEN ?2 = 'completed' THEN u.resv_finished - u.resv_cancelled"
	    " - u.resv_no_show"
	    " ELSE 0 END"
	    " FROM (SELECT count(*) AS n FROM reservations"
	    " WHERE user_id = ?1 AND status = 'active') a,"
	    " (SELECT count(*) AS n FROM reservations"
	    " WHERE user_id = ?1 AND status = 'reserved') b"
	    " LEFT JOIN users u ON u.id = ?1",
	/* filters ?1 lot, ?2 user, ?3 status, ?4..?5 parking time; NULL: any.
	 * "?n IS NULL OR" keeps SQLite from any index: these scan newest
	 * first and stop at the page, which is quick while the filter is
	 * met often; the _USER and _LOT variants below serve the filters
	 * that can be rare (t/11-plans). */
	[STMT_RESV_LIST_ADMIN] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE"
	    " (?1 IS NULL OR r.lot_id = ?1) AND (?2 IS NULL OR r.user_id = ?2)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)"
	    " ORDER BY r.id DESC LIMIT ?6 OFFSET ?7",
	[STMT_RESV_COUNT_ADMIN] =
	    "SELECT count(*) FROM reservations r WHERE"
	    " (?1 IS NULL OR r.lot_id = ?1) AND (?2 IS NULL OR r.user_id = ?2)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)",
	/* the same with a user (?2 set): on reservations_user, newest first */
	[STMT_RESV_LIST_ADMIN_USER] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?2"
	    " AND (?1 IS NULL OR r.lot_id = ?1)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)"
	    " ORDER BY r.id DESC LIMIT ?6 OFFSET ?7",
	[STMT_RESV_COUNT_ADMIN_USER] =
	    "SELECT count(*) FROM reservations r WHERE r.user_id = ?2"
	    " AND (?1 IS NULL OR r.lot_id = ?1)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)",
	/* the count with a lot (?1 set) and no user: the lot's rows only, on
	 * reservations_lot_parking (the list itself stays the scan above,
	 * which finds a page of a busy lot's rows in its first few hundred) */
	[STMT_RESV_COUNT_ADMIN_LOT] =
	    "SELECT count(*) FROM reservations r WHERE r.lot_id = ?1"
	    " AND (?2 IS NULL OR r.user_id = ?2)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)",
	/* the admin's count filtered by nothing but a lot (?1) or not even
	 * that, from the counts on the lots' rows (007) */
	[STMT_RESV_COUNT_ADMIN_LOTS] =
	    "SELECT CASE WHEN ?3 IS NULL THEN sum(resv_count)"
	    " WHEN ?3 = 'cancelled' THEN sum(resv_cancelled)"
	    " WHEN ?3 = 'active' THEN sum(occupied)"
	    " WHEN ?3 = 'reserved' THEN sum(resv_reserved)"
	    " WHEN ?3 = 'no_show' THEN sum(resv_no_show)"
	    " WHEN ?3 = 'completed' THEN"
	    "  sum(resv_count) - sum(resv_cancelled) - sum(occupied)"
	    "  - sum(resv_reserved) - sum(resv_no_show)"
	    " ELSE 0 END FROM lots WHERE ?1 IS NULL OR id = ?1",
	[STMT_SUM_COUNTS] =
	    "SELECT (SELECT count(*) FROM users),"
	    " (SELECT count(*) FROM users WHERE is_active = 1),"
	    " (SELECT count(*) FROM lots WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(number_of_spots), 0) FROM lots"
	    " WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(occupied), 0) FROM lots"
	    " WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(resv_reserved), 0) FROM lots"
	    " WHERE deleted_at IS NULL)",
	/* revenue of reservations completed since ?1 */
	[STMT_SUM_REVENUE] =
	    "SELECT coalesce(sum(cost_cents), 0) FROM reservations"
	    " WHERE status = 'completed' AND leaving_ts >= ?",
	/* reservations made ahead that started in [?1, ?2]: no-shows, and
	 * those checked in (a window, and a car came); on
	 * reservations_parking, the 30 days the bookings per day read too */
	[STMT_SUM_AHEAD] =
	    "SELECT coalesce(sum(status = 'no_show'), 0),"
	    " coalesce(sum(start_time IS NOT NULL AND (status = 'active'"
	    " OR status = 'completed')), 0)"
	    " FROM reservations WHERE parking_ts >= ?1 AND parking_ts <= ?2",
	/* bookings per UTC day since ?1, on reservations_parking */
	[STMT_SUM_PER_DAY] =
	    "SELECT parking_ts / 86400, count(*) FROM reservations"
	    " WHERE parking_ts >= ? GROUP BY parking_ts / 86400",
	/* ?1 user, ?2 now: bookings, seconds parked, cents spent */
	/* bookings (not cancelled), seconds parked (the active ones until
	 * ?2, now) and money spent: the totals kept on the user's row (007)
	 * and the user's few active reservations */
	[STMT_SUM_USER] =
	    "SELECT u.resv_finished - u.resv_cancelled + a.n,"
	    " u.parked_secs + a.secs, u.spent_cents"
	    " FROM (SELECT count(*) AS n, coalesce(sum(?2 - parking_ts), 0)"
	    " AS secs FROM reservations WHERE user_id = ?1"
	    " AND status = 'active') a LEFT JOIN users u ON u.id = ?1",
	[STMT_SUM_USER_ACTIVE] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?"
	    " AND r.status = 'active' ORDER BY r.parking_ts, r.id",

	/* a second message with the same key is the same message: kept once */
	[STMT_OUTBOX_ADD] =
	    "INSERT INTO outbox (idem_key, to_addr, subject, body_text,"
	    " body_html, state, attempts, next_attempt_at, created_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, 'queued', 0, ?6, ?6)"
	    " ON CONFLICT (idem_key) DO NOTHING",
	[STMT_JOB_START] =
	    "INSERT INTO job_runs (job, started_at, status)"
	    " VALUES (?, ?, 'running')",
	[STMT_JOB_FINISH] =
	    "UPDATE job_runs SET finished_at = ?1, items = ?2, errors = ?3,"
	    " status = ?4, message = ?5 WHERE id = ?6",

	/* db-jobs.c: delivery.  A claimed message is 'sending' with
	 * next_attempt_at = the end of its lease, which is also the claim's
	 * stamp: each later change names it, so a run whose claim was taken
	 * over (after the lease ran out) changes nothing. */
	/* ?1 now.  A reservation's reminder ("resv-remind:<id>", parkctl
	 * tick) still queued when the reservation is no longer 'reserved'
	 * (cancelled, by its user or with its lot; checked in; a no-show)
	 * is not sent: failed with the reason, in the claim's transaction. */
	[STMT_OUTBOX_DROP_STALE] =
	    "UPDATE outbox SET state = 'failed', next_attempt_at = ?1,"
	    " last_error = 'not sent: the reservation is no longer reserved'"
	    " WHERE state = 'queued' AND idem_key GLOB 'resv-remind:*'"
	    " AND NOT EXISTS (SELECT 1 FROM reservations r"
	    " WHERE r.id = CAST(substr(outbox.idem_key, 13) AS INTEGER)"
	    " AND r.status = 'reserved')",
	/* ?1 now, ?2 at most: queued and due, or left sending by a run that
	 * died (lease over) */
	[STMT_OUTBOX_DUE] =
	    "SELECT id, state = 'sending', attempts, idem_key, to_addr,"
	    " subject, body_text, body_html FROM outbox"
	    " WHERE state IN ('queued', 'sending') AND next_attempt_at <= ?1"
	    " ORDER BY next_attempt_at, id LIMIT ?2",
	/* ?1 id, ?2 the claim (lease end), ?3 now */
	[STMT_OUTBOX_CLAIM] =
	    "UPDATE outbox SET state = 'sending', attempts = attempts + 1,"
	    " next_attempt_at = ?2 WHERE id = ?1"
	    " AND state IN ('queued', 'sending') AND next_attempt_at <= ?3",
	/* ?1 id, ?2 the claim, ?3 now.  A reset or verification link's
	 * token is kept nowhere once its mail is out (or failed for good):
	 * the table account_tokens holds only its hash. */
	[STMT_OUTBOX_SENT] =
	    "UPDATE outbox SET state = 'sent', sent_at = ?3,"
	    " next_attempt_at = ?3, last_error = NULL,"
	    " " OUTBOX_FORGET_LINK
	    " WHERE id = ?1 AND state = 'sending' AND next_attempt_at = ?2",
	/* ?1 id, ?2 the claim, ?3 next attempt, ?4 why */
	[STMT_OUTBOX_RETRY] =
	    "UPDATE outbox SET state = 'queued', next_attempt_at = ?3,"
	    " last_error = ?4"
	    " WHERE id = ?1 AND state = 'sending' AND next_attempt_at = ?2",
	/* ?1 id, ?2 the claim, ?3 now, ?4 why */
	[STMT_OUTBOX_FAIL] =
	    "UPDATE outbox SET state = 'failed', next_attempt_at = ?3,"
	    " last_error = ?4, " OUTBOX_FORGET_LINK
	    " WHERE id = ?1 AND state = 'sending' AND next_attempt_at = ?2",
	/* ?1 id, ?2 the claim, ?3 due again: the attempt was not made */
	[STMT_OUTBOX_RELEASE] =
	    "UPDATE outbox SET state = 'queued', next_attempt_at = ?3,"
	    " attempts = max(attempts - 1, 0)"
	    " WHERE id = ?1 AND state = 'sending' AND next_attempt_at = ?2",

	/* db-batch.c */
	/* ?1..?2 created in (since, until], ?3 at most */
	[STMT_BATCH_NEW_LOTS] =
	    "SELECT id, name, address, number_of_spots, occupied, price_cents"
	    " FROM lots WHERE deleted_at IS NULL AND is_active = 1"
	    " AND created_at > ?1 AND created_at <= ?2 ORDER BY id LIMIT ?3",
	[STMT_BATCH_FREE_SPOTS] =
	    "SELECT coalesce(sum(number_of_spots - occupied), 0), count(*)"
	    " FROM lots WHERE deleted_at IS NULL AND is_active = 1",
	/* active users after id ?1 without a reminder on day ?2 whose last
	 * booking (else registration) is at or before ?3, or all when ?4;
	 * ?5 at most.  Returns the last booking time (NULL: never). */
	[STMT_BATCH_REMIND_DUE] =
	    "SELECT u.id, u.username, u.email, (SELECT max(r.parking_ts)"
	    " FROM reservations r WHERE r.user_id = u.id), u.created_at"
	    " FROM users u WHERE u.is_active = 1 AND u.id > ?1"
	    " AND NOT EXISTS (SELECT 1 FROM reminders_sent s"
	    " WHERE s.user_id = u.id AND s.day = ?2)"
	    " AND (?4 OR coalesce((SELECT max(r.parking_ts) FROM reservations r"
	    " WHERE r.user_id = u.id), u.created_at) <= ?3)"
	    " AND (?6 = 0 OR u.email_verified = 1)"
	    " ORDER BY u.id LIMIT ?5",
	/* the same conditions, checked again inside the write transaction
	 * (?5 as ?6 above: an address changed since the selection is not
	 * mailed): one row (user ?1, day ?2) or none */
	[STMT_BATCH_REMIND_MARK] =
	    "INSERT INTO reminders_sent (user_id, day)"
	    " SELECT u.id, ?2 FROM users u WHERE u.id = ?1 AND u.is_active = 1"
	    " AND (?4 OR coalesce((SELECT max(r.parking_ts) FROM reservations r"
	    " WHERE r.user_id = u.id), u.created_at) <= ?3)"
	    " AND (?5 = 0 OR u.email_verified = 1)"
	    " ON CONFLICT (user_id, day) DO NOTHING",
	/* active users after id ?1 without the report of month ?2 who
	 * parked in [?3, ?4); ?5 at most */
	[STMT_BATCH_REPORT_DUE] =
	    "SELECT u.id, u.username, u.email FROM users u"
	    " WHERE u.is_active = 1 AND u.id > ?1"
	    " AND NOT EXISTS (SELECT 1 FROM reports_sent s"
	    " WHERE s.user_id = u.id AND s.month = ?2)"
	    " AND EXISTS (SELECT 1 FROM reservations r WHERE r.user_id = u.id"
	    " AND r.parking_ts >= ?3 AND r.parking_ts < ?4"
	    " AND r.status <> 'cancelled' AND r.status <> 'reserved')"
	    " AND (?6 = 0 OR u.email_verified = 1)"
	    " ORDER BY u.id LIMIT ?5",
	/* user ?1's reservations parked (or, no-shows, due to start) in
	 * [?2, ?3), oldest first; not those cancelled or still waiting */
	[STMT_BATCH_REPORT_RESV] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?1"
	    " AND r.parking_ts >= ?2 AND r.parking_ts < ?3"
	    " AND r.status <> 'cancelled' AND r.status <> 'reserved'"
	    " ORDER BY r.parking_ts, r.id",
	/* ?3 1 when REQUIRE_EMAIL_VERIFICATION is on */
	[STMT_BATCH_REPORT_MARK] =
	    "INSERT INTO reports_sent (user_id, month)"
	    " SELECT id, ?2 FROM users WHERE id = ?1 AND is_active = 1"
	    " AND (?3 = 0 OR email_verified = 1)"
	    " ON CONFLICT (user_id, month) DO NOTHING",
	/* cleanup: each deletes at most ?2 rows older than ?1 */
	[STMT_BATCH_CLEAN_OUTBOX] =
	    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
	    " WHERE state IN ('sent', 'failed')"
	    " AND coalesce(sent_at, created_at) < ?1 LIMIT ?2)",
	[STMT_BATCH_CLEAN_LOGIN_FAILURES] =
	    "DELETE FROM login_failures WHERE rowid IN (SELECT rowid"
	    " FROM login_failures WHERE at < ?1 LIMIT ?2)",
	/* expired, or revoked, before ?1 */
	[STMT_BATCH_CLEAN_SESSIONS] =
	    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
	    " WHERE expires_at < ?1 OR revoked_at < ?1 LIMIT ?2)",
	/* the newest run of each job stays, however old */
	[STMT_BATCH_CLEAN_JOB_RUNS] =
	    "DELETE FROM job_runs WHERE id IN (SELECT id FROM job_runs"
	    " WHERE started_at < ?1 AND status <> 'running'"
	    " AND id NOT IN (SELECT max(id) FROM job_runs GROUP BY job)"
	    " LIMIT ?2)",
	/* ?1 a day YYYY-MM-DD */
	[STMT_BATCH_CLEAN_REMINDERS] =
	    "DELETE FROM reminders_sent WHERE rowid IN (SELECT rowid"
	    " FROM reminders_sent WHERE day < ?1 LIMIT ?2)",
	/* runs still "running" since before ?1: their process is gone */
	[STMT_BATCH_STALE_RUNS] =
	    "UPDATE job_runs SET status = 'failed',"
	    " message = 'did not finish (killed or crashed)'"
	    " WHERE status = 'running' AND started_at < ?1",
	[STMT_BATCH_CHECKPOINT] = "PRAGMA wal_checkpoint(TRUNCATE)",
	/* a consistent copy of a live database; ?1 the new file */
	[STMT_BATCH_VACUUM_INTO] = "VACUUM INTO ?1",
	/* run on the copy, through a read-only connection */
	[STMT_BATCH_INTEGRITY] = "PRAGMA integrity_check",
	/* db-sys.c: the newest run of each job, ?1 at most */
	[STMT_STATS_JOBS] =
	    "SELECT job, started_at, finished_at, items, errors, status,"
	    " message FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs"
	    " GROUP BY job) ORDER BY job LIMIT ?1",

	/* db-import.c */
	/* ?1 source, ?2 kind, ?3 old id */
	[STMT_IMPORT_MAP_GET] =
	    "SELECT new_id FROM import_map"
	    " WHERE source = ?1 AND kind = ?2 AND old_id = ?3",
	/* a row imported again (it was deleted in parkd) replaces its entry */
	[STMT_IMPORT_MAP_PUT] =
	    "INSERT OR REPLACE INTO import_map (source, kind, old_id, new_id)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[STMT_IMPORT_OTHER_SOURCES] =
	    "SELECT count(DISTINCT source) FROM import_map WHERE source <> ?",
	/* ?1 kind, ?2 id: does the row exist (deleted lots included)? */
	[STMT_IMPORT_ROW_EXISTS] =
	    "SELECT CASE ?1"
	    " WHEN 'user' THEN EXISTS (SELECT 1 FROM users WHERE id = ?2)"
	    " WHEN 'lot' THEN EXISTS (SELECT 1 FROM lots WHERE id = ?2)"
	    " WHEN 'spot' THEN EXISTS (SELECT 1 FROM spots WHERE id = ?2)"
	    " WHEN 'reservation' THEN"
	    " EXISTS (SELECT 1 FROM reservations WHERE id = ?2)"
	    " ELSE 0 END",
	[STMT_IMPORT_USER_BY_EMAIL] = "SELECT id FROM users WHERE email = ?",
	/* ?1 the old id to keep, or NULL for a new one */
	[STMT_IMPORT_USER_INSERT] =
	    "INSERT INTO users (id, username, email, password_hash, phone,"
	    " is_active, created_at, updated_at, last_login)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[STMT_IMPORT_LOT_INSERT] =
	    "INSERT INTO lots (id, name, address, pin_code, price_cents,"
	    " number_of_spots, is_active, description, hours_start, hours_end,"
	    " created_at, updated_at)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[STMT_IMPORT_SPOT_INSERT] =
	    "INSERT INTO spots (id, lot_id, spot_number) VALUES (?, ?, ?)",
	/* ?1 lot, ?2 spot number: a spot that is not removed */
	[STMT_IMPORT_SPOT_BY_NUMBER] =
	    "SELECT id FROM spots WHERE lot_id = ?1 AND spot_number = ?2"
	    " AND removed_at IS NULL",
	/* can the spot take an active reservation (not removed, lot not
	 * deleted), and since when is it occupied (NULL: free)? */
	[STMT_IMPORT_SPOT_STATE] =
	    "SELECT s.removed_at IS NULL AND l.deleted_at IS NULL,"
	    " (SELECT r.parking_ts FROM reservations r WHERE r.spot_id = s.id"
	    " AND r.status = 'active')"
	    " FROM spots s JOIN lots l ON l.id = s.lot_id WHERE s.id = ?",
	[STMT_IMPORT_RESV_INSERT] =
	    "INSERT INTO reservations (id, spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, leaving_ts, hourly_cents, cost_cents,"
	    " status, remarks, created_at, updated_at, vehicle_model,"
	    " vehicle_color, expected_leaving_ts)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	/* a reservation imported before sql/010-old-keys.sql: which of the
	 * old keys it lacks, and its remarks */
	[STMT_IMPORT_RESV_OLD_KEYS] =
	    "SELECT vehicle_model IS NULL, vehicle_color IS NULL,"
	    " expected_leaving_ts IS NULL, remarks FROM reservations"
	    " WHERE id = ?",
	/* ?1 id, ?2 model, ?3 colour, ?4 expected time: each only where
	 * NULL; ?5 the remarks */
	[STMT_IMPORT_RESV_BACKFILL] =
	    "UPDATE reservations SET"
	    " vehicle_model = coalesce(vehicle_model, ?2),"
	    " vehicle_color = coalesce(vehicle_color, ?3),"
	    " expected_leaving_ts = coalesce(expected_leaving_ts, ?4),"
	    " remarks = ?5 WHERE id = ?1",

	/* db-exports.c: CSV export jobs */
	/* ?1 user, ?2 a day ago: jobs queued or running, jobs of the day */
	[STMT_EXPORT_USER_COUNTS] =
	    "SELECT coalesce(sum(state IN ('PENDING', 'PROGRESS')), 0),"
	    " coalesce(sum(created_at > ?2), 0)"
	    " FROM export_jobs WHERE user_id = ?1",
	[STMT_EXPORT_INSERT] =
	    "INSERT INTO export_jobs (id, user_id, email, state, progress,"
	    " attempts, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, 'PENDING', 0, 0, ?4, ?4)",
	/* every read of a job names its owner: another user's is not found */
	[STMT_EXPORT_GET] =
	    "SELECT " EXPORT_COLS " FROM export_jobs WHERE id = ?1"
	    " AND user_id = ?2",
	[STMT_EXPORT_BY_FILE] =
	    "SELECT " EXPORT_COLS " FROM export_jobs WHERE filename = ?1"
	    " AND user_id = ?2 AND state = 'SUCCESS'",
	[STMT_EXPORT_LINK_OWNER] =
	    "SELECT e.user_id, u.is_active FROM export_jobs e"
	    " JOIN users u ON u.id = e.user_id"
	    " WHERE e.id = ?1 AND e.filename = ?2 AND e.state = 'SUCCESS'",
	/* ?1 claims older than this are stale: their runner died */
	/* The e-mail goes to the account's address as it is now, whatever
	 * the job stored (#14: jobs queued before took any address). */
	[STMT_EXPORT_NEXT] =
	    "SELECT e.id, e.user_id, u.username, u.email, e.attempts,"
	    " u.is_active, u.email_verified"
	    " FROM export_jobs e JOIN users u ON u.id = e.user_id"
	    " WHERE e.state = 'PENDING'"
	    " OR (e.state = 'PROGRESS' AND e.claimed_at < ?1)"
	    " ORDER BY e.created_at, e.id LIMIT 1",
	/* ?1 id, ?2 now */
	[STMT_EXPORT_GIVE_UP] =
	    "UPDATE export_jobs SET state = 'FAILURE',"
	    " error = 'Gave up after ' || attempts || ' attempts: '"
	    " || coalesce(error, 'the export run was interrupted'),"
	    " claimed_by = NULL, finished_at = ?2, updated_at = ?2"
	    " WHERE id = ?1",
	/* ?1 id, ?2 runner, ?3 now */
	[STMT_EXPORT_CLAIM] =
	    "UPDATE export_jobs SET state = 'PROGRESS', progress = 0,"
	    " attempts = attempts + 1, claimed_by = ?2, claimed_at = ?3,"
	    " updated_at = ?3 WHERE id = ?1",
	/* ?1 id, ?2 runner, ?3 progress, ?4 now (renews the claim) */
	[STMT_EXPORT_PROGRESS] =
	    "UPDATE export_jobs SET progress = ?3, claimed_at = ?4,"
	    " updated_at = ?4 WHERE id = ?1 AND claimed_by = ?2"
	    " AND state = 'PROGRESS'",
	[STMT_EXPORT_COUNT] =
	    "SELECT count(*), coalesce(max(id), 0) FROM reservations"
	    " WHERE user_id = ?1",
	/* a page, newest first, on reservations_user (user_id, id) */
	[STMT_EXPORT_ROWS] =
	    "SELECT r.id, r.spot_id, s.spot_number, l.name, l.address,"
	    " r.parking_ts, r.leaving_ts, r.cost_cents, r.status, r.remarks,"
	    " r.created_at"
	    " FROM reservations r JOIN spots s ON s.id = r.spot_id"
	    " JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.user_id = ?1 AND r.id < ?2 ORDER BY r.id DESC LIMIT ?3",
	/* ?1 id, ?2 runner, ?3 filename, ?4 now */
	[STMT_EXPORT_SUCCESS] =
	    "UPDATE export_jobs SET state = 'SUCCESS', progress = 100,"
	    " filename = ?3, error = NULL, finished_at = ?4, updated_at = ?4"
	    " WHERE id = ?1 AND claimed_by = ?2 AND state = 'PROGRESS'",
	/* ?1 id, ?2 runner, ?3 why, ?4 now */
	[STMT_EXPORT_FAIL] =
	    "UPDATE export_jobs SET state = 'FAILURE', error = ?3,"
	    " finished_at = ?4, updated_at = ?4"
	    " WHERE id = ?1 AND claimed_by = ?2 AND state = 'PROGRESS'",
	[STMT_EXPORT_RETRY] =
	    "UPDATE export_jobs SET state = 'PENDING', progress = 0,"
	    " error = ?3, claimed_by = NULL, claimed_at = NULL,"
	    " updated_at = ?4"
	    " WHERE id = ?1 AND claimed_by = ?2 AND state = 'PROGRESS'",
	/* ?1 finished before, ?2 how many */
	[STMT_EXPORT_OLD] =
	    "SELECT id, filename FROM export_jobs"
	    " WHERE state IN ('SUCCESS', 'FAILURE') AND finished_at < ?1"
	    " ORDER BY finished_at, id LIMIT ?2",
	[STMT_EXPORT_DELETE] = "DELETE FROM export_jobs WHERE id = ?1",
	[STMT_EXPORT_CHECKPOINT] = "PRAGMA wal_checkpoint(PASSIVE)",
	/* db-recovery.c: ?1 hash, ?2 purpose, ?3 user, ?4 e-mail, ?5 now,
	 * ?6 expires_at */
	[STMT_TOKEN_INSERT] =
	    "INSERT INTO account_tokens (hash, purpose, user_id, email,"
	    " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
	/* a new link of a purpose spends the user's older unused ones:
	 * ?1 now, ?2 user, ?3 purpose */
	[STMT_TOKEN_SPEND_OLDER] =
	    "UPDATE account_tokens SET used_at = ?1"
	    " WHERE user_id = ?2 AND purpose = ?3 AND used_at IS NULL",
	/* a deactivation spends every unused link of the user: ?1 now,
	 * ?2 user */
	[STMT_TOKEN_SPEND_USER] =
	    "UPDATE account_tokens SET used_at = ?1"
	    " WHERE user_id = ?2 AND used_at IS NULL",
	/* the address user ?1 had before one changed after ?2, or none */
	[STMT_USER_PREV_EMAIL] =
	    "SELECT prev_email FROM users WHERE id = ?1"
	    " AND email_changed_at > ?2 AND prev_email IS NOT NULL"
	    " AND prev_email <> email",
	/* THE single use: ?1 hash, ?2 purpose, ?3 now.  Only a token unused,
	 * unexpired and (for a verification) sent to the account's address
	 * now changes; of two racing requests, one. */
	[STMT_TOKEN_SPEND] =
	    "UPDATE account_tokens SET used_at = ?3"
	    " WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL"
	    " AND expires_at > ?3 AND email = (SELECT u.email FROM users u"
	    " WHERE u.id = account_tokens.user_id AND u.is_active = 1)"
	    " RETURNING user_id, email",
	/* the same conditions, read only: ?1 hash, ?2 purpose, ?3 now */
	[STMT_TOKEN_LIVE] =
	    "SELECT 1 FROM account_tokens"
	    " WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL"
	    " AND expires_at > ?3 AND email = (SELECT u.email FROM users u"
	    " WHERE u.id = account_tokens.user_id AND u.is_active = 1)",
	/* ?1 now, ?2 user, ?3 the address proven */
	[STMT_USER_SET_VERIFIED] =
	    "UPDATE users SET email_verified = 1, updated_at = ?1"
	    " WHERE id = ?2 AND email = ?3",
	[STMT_USER_BY_EMAIL_ACTIVE] =
	    "SELECT id, username FROM users WHERE email = ? AND is_active = 1",
	/* ?1 the address's HMAC, ?2 the window's start: the count and the
	 * oldest in it */
	[STMT_RECOVERY_COUNT] =
	    "SELECT count(*), coalesce(min(at), 0) FROM recovery_requests"
	    " WHERE addr_hash = ?1 AND at > ?2",
	[STMT_RECOVERY_ADD] =
	    "INSERT INTO recovery_requests (addr_hash, at) VALUES (?, ?)",
	[STMT_RESET_TOKENS] = "DELETE FROM account_tokens",
	[STMT_RESET_RECOVERY] = "DELETE FROM recovery_requests",
	/* cleanup: spent (a spent token serves nothing), or expired by ?1;
	 * at most ?2 */
	[STMT_BATCH_CLEAN_TOKENS] =
	    "DELETE FROM account_tokens WHERE hash IN (SELECT hash"
	    " FROM account_tokens WHERE used_at IS NOT NULL"
	    " OR expires_at <= ?1 LIMIT ?2)",
	[STMT_BATCH_CLEAN_RECOVERY] =
	    "DELETE FROM recovery_requests WHERE rowid IN (SELECT rowid"
	    " FROM recovery_requests WHERE at < ?1 LIMIT ?2)",

	/* ---- db-resv.c: advance reservations (sql/013) ----
	 * Has lot ?1 a reservation past its grace (?2 now, ?3 the grace)?
	 * A read of one empty range of reservations_reserved_lot, most of
	 * the time: the UPDATE below opens a write cursor on the table and
	 * each of its indexes even when it changes nothing (~30,000
	 * instructions a booking, bench/callgrind), so it runs only when
	 * this finds a row. */
	[STMT_RESV_STALE_LOT] =
	    "SELECT 1 FROM reservations WHERE lot_id = ?1"
	    " AND status = 'reserved' AND start_time <= ?2 - ?3 LIMIT 1",
	/* A 'reserved' row not checked in by start + grace is a no-show:
	 * ?1 the lot, ?2 now, ?3 the grace in seconds, ?4 the charge in
	 * minutes of the price.  Its hold ends with it.  On
	 * reservations_reserved_lot, one empty range most of the time. */
	[STMT_RESV_EXPIRE_LOT] =
	    "UPDATE reservations SET status = 'no_show',"
	    " leaving_ts = parking_ts,"
	    " cost_cents = (hourly_cents * ?4 + 59) / 60,"
	    " hold_start = NULL, hold_end = NULL, updated_at = ?2"
	    " WHERE lot_id = ?1 AND status = 'reserved'"
	    " AND start_time <= ?2 - ?3",
	/* the same for every lot ("parkctl tick"), on
	 * reservations_reserved_start */
	[STMT_RESV_EXPIRE_ALL] =
	    "UPDATE reservations SET status = 'no_show',"
	    " leaving_ts = parking_ts,"
	    " cost_cents = (hourly_cents * ?4 + 59) / 60,"
	    " hold_start = NULL, hold_end = NULL, updated_at = ?2"
	    " WHERE status = 'reserved' AND start_time <= ?2 - ?3",
	/* what a reservation needs of its lot, and the user's name */
	[STMT_RESV_LOT] =
	    "SELECT is_active, price_cents, name, hours_start, hours_end,"
	    " (SELECT username FROM users WHERE id = ?2) FROM lots"
	    " WHERE id = ?1 AND deleted_at IS NULL",
	/* a window of user ?1 overlapping [?2, ?3) that does not name
	 * another vehicle than ?4 (one without a vehicle names every one);
	 * a reserved one starting at ?5 or before is a no-show already (its
	 * lot's next write marks it) */
	[STMT_RESV_USER_OVERLAP] =
	    "SELECT 1 FROM reservations WHERE user_id = ?1"
	    " AND status = 'reserved' AND start_time < ?3 AND end_time > ?2"
	    " AND start_time > ?5"
	    " AND (vehicle_number IS NULL OR ?4 IS NULL"
	    " OR vehicle_number = ?4)"
	    " UNION ALL SELECT 1 FROM reservations WHERE user_id = ?1"
	    " AND status = 'active' AND start_time < ?3 AND end_time > ?2"
	    " AND (vehicle_number IS NULL OR ?4 IS NULL"
	    " OR vehicle_number = ?4) LIMIT 1",
	/*
	 * Best fit in lot ?1 for [?2, ?3): the spots on which the hold that
	 * starts last before ?3 ends by ?2 (the stored holds of a spot never
	 * overlap, so that one neighbour decides), not occupied now when ?4
	 * is 1 (the window starts within the overstay guard); the one whose
	 * free gap around the window, from the end of the hold before to the
	 * start of the hold after, is smallest (an open side counts 10^9 s),
	 * then the lowest number.  Two seeks of reservations_hold per spot.
	 * ?5: a spot to leave out (a check-in moving away from it), or 0.
	 */
	[STMT_RESV_BEST_SPOT] =
	    "SELECT id, spot_number FROM (SELECT s.id, s.spot_number,"
	    " (SELECT r.hold_end FROM reservations r WHERE r.spot_id = s.id"
	    " AND r.hold_start IS NOT NULL AND r.hold_start < ?3"
	    " ORDER BY r.hold_start DESC LIMIT 1) AS pe,"
	    " (SELECT r.hold_start FROM reservations r WHERE r.spot_id = s.id"
	    " AND r.hold_start IS NOT NULL AND r.hold_start >= ?3"
	    " ORDER BY r.hold_start LIMIT 1) AS ns"
	    " FROM spots s WHERE s.lot_id = ?1 AND s.removed_at IS NULL"
	    " AND (?4 = 0 OR s.status = 'A') AND s.id <> ?5)"
	    " WHERE pe IS NULL OR pe <= ?2"
	    " ORDER BY (?2 - coalesce(pe, ?2 - 1000000000))"
	    " + (coalesce(ns, ?3 + 1000000000) - ?3), spot_number LIMIT 1",
	/* ?1 spot, ?2 lot, ?3 user, ?4 vehicle, ?5 start, ?6 end, ?7 price,
	 * ?8 now */
	[STMT_RESV_RESERVE_INSERT] =
	    "INSERT INTO reservations (spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, hourly_cents, status, created_at,"
	    " updated_at, start_time, end_time, hold_start, hold_end)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?7, 'reserved', ?8, ?8, ?5, ?6,"
	    " ?5, ?6)",
	/* a reservation ?1 of user ?2, with its window */
	[STMT_RESV_OWNED] =
	    "SELECT " RESV_COLS ", s.status FROM reservations r"
	    " JOIN spots s ON s.id = r.spot_id JOIN lots l ON l.id = r.lot_id"
	    " JOIN users u ON u.id = r.user_id"
	    " WHERE r.id = ?1 AND r.user_id = ?2",
	/* can spot ?1 hold [?2, ?3) for reservation ?4: no other hold
	 * overlaps it (the neighbour before ?3, leaving out ?4 itself) */
	[STMT_RESV_SPOT_CAN_HOLD] =
	    "SELECT coalesce((SELECT hold_end FROM reservations"
	    " WHERE spot_id = ?1 AND hold_start IS NOT NULL"
	    " AND hold_start < ?3 AND id <> ?4"
	    " ORDER BY hold_start DESC LIMIT 1), 0) <= ?2",
	/* ?1 id, ?2 spot, ?3 arrival (now), ?4 the hold's start */
	[STMT_RESV_CHECKIN] =
	    "UPDATE reservations SET status = 'active', spot_id = ?2,"
	    " parking_ts = ?3, hold_start = ?4, hold_end = end_time,"
	    " updated_at = ?3 WHERE id = ?1 AND status = 'reserved'",
	/* free of charge before the start: nothing was parked */
	[STMT_RESV_CANCEL] =
	    "UPDATE reservations SET status = 'cancelled',"
	    " leaving_ts = parking_ts, cost_cents = 0, hold_start = NULL,"
	    " hold_end = NULL, updated_at = ?2"
	    " WHERE id = ?1 AND status = 'reserved'",
	/*
	 * Every spot of lot ?1 with the holds that meet [?2, ?3): the
	 * availability of windows, the day's slots and the admin's
	 * timeline.  ?4 now and ?5 the grace: a 'reserved' row past it is a
	 * no-show already (a write marks it on its way).  A hold is at most
	 * ?6 seconds long, so its start is after ?2 - ?6: the range read is
	 * bounded by the day, not by the spot's future.
	 */
	[STMT_RESV_HOLDS] =
	    "SELECT s.id, s.spot_number, s.status, r.id, r.user_id,"
	    " u.username, r.status, r.hold_start, r.hold_end"
	    " FROM spots s LEFT JOIN reservations r ON r.spot_id = s.id"
	    " AND r.hold_start IS NOT NULL AND r.hold_start < ?3"
	    " AND r.hold_start > ?2 - ?6 AND r.hold_end > ?2"
	    " AND NOT (r.status = 'reserved' AND r.start_time <= ?4 - ?5)"
	    " LEFT JOIN users u ON u.id = r.user_id"
	    " WHERE s.lot_id = ?1 AND s.removed_at IS NULL"
	    " ORDER BY s.spot_number, r.hold_start",
	/* the same without whose they are: availability and slots read only
	 * the intervals (a user row per hold cost more than the rest) and
	 * whether each is a reservation not checked in (it stops holding at
	 * its start + grace: how long a cached answer holds) */
	[STMT_RESV_HOLDS_BARE] =
	    "SELECT s.id, s.spot_number, s.status, r.hold_start, r.hold_end,"
	    " r.status = 'reserved'"
	    " FROM spots s LEFT JOIN reservations r ON r.spot_id = s.id"
	    " AND r.hold_start IS NOT NULL AND r.hold_start < ?3"
	    /* from the hold that starts last at or before ?2 (holds never
	     * overlap: none before it reaches ?2), so the range read is the
	     * holds that meet [?2, ?3) and one more, whatever ?6 */
	    " AND r.hold_start >= coalesce((SELECT x.hold_start"
	    " FROM reservations x WHERE x.spot_id = s.id"
	    " AND x.hold_start IS NOT NULL AND x.hold_start <= ?2"
	    " ORDER BY x.hold_start DESC LIMIT 1), ?2 - ?6)"
	    " AND r.hold_end > ?2"
	    " AND NOT (r.status = 'reserved' AND r.hold_start <= ?4 - ?5)"
	    " WHERE s.lot_id = ?1 AND s.removed_at IS NULL"
	    " ORDER BY s.spot_number, r.hold_start",
	/* upcoming reservations of lot ?1 on spots numbered above ?2 */
	[STMT_RESV_LOT_UPCOMING] =
	    "SELECT count(*) FROM reservations r JOIN spots s"
	    " ON s.id = r.spot_id WHERE r.lot_id = ?1 AND r.status = 'reserved'"
	    " AND s.spot_number > ?2",
	[STMT_RESV_LOT_UPCOMING_LIST] =
	    "SELECT r.id, u.email, l.name, s.spot_number, r.start_time,"
	    " r.end_time FROM reservations r JOIN spots s ON s.id = r.spot_id"
	    " JOIN users u ON u.id = r.user_id JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.lot_id = ?1 AND r.status = 'reserved'"
	    " AND s.spot_number > ?2 ORDER BY r.id",
	/* reminders due: reserved rows starting in (?1, ?1 + ?2] */
	[STMT_RESV_REMIND_DUE] =
	    "SELECT r.id, u.email, u.username, l.name, s.spot_number,"
	    " r.start_time, r.end_time FROM reservations r"
	    " JOIN spots s ON s.id = r.spot_id JOIN users u ON u.id = r.user_id"
	    " JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.status = 'reserved' AND r.start_time > ?1"
	    " AND r.start_time <= ?1 + ?2 ORDER BY r.start_time, r.id",
	/* the caller's upcoming reservations, soonest first; ?2 now, ?3 the
	 * grace */
	[STMT_RESV_LIST_UPCOMING] =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?1"
	    " AND r.status = 'reserved' AND r.start_time > ?2 - ?3"
	    " ORDER BY r.start_time, r.id LIMIT ?4 OFFSET ?5",
	[STMT_RESV_COUNT_UPCOMING] =
	    "SELECT count(*) FROM reservations WHERE user_id = ?1"
	    " AND status = 'reserved' AND start_time > ?2 - ?3",
	/* the admin's timeline: lot ?1's reservations that started (or
	 * start) in [?2 - ?4, ?3), on reservations_lot_parking (a reserved
	 * row's parking_ts is its start); cancelled ones held nothing; the
	 * interval: the hold, else the window, else arrival to leaving */
	[STMT_RESV_LOT_DAY] =
	    "SELECT r.id, r.spot_id, r.user_id, u.username, r.status,"
	    " coalesce(r.hold_start, r.start_time, r.parking_ts),"
	    " coalesce(r.hold_end, r.end_time, r.leaving_ts, ?5)"
	    " FROM reservations r JOIN users u ON u.id = r.user_id"
	    " WHERE r.lot_id = ?1 AND r.parking_ts >= ?2 - ?4"
	    " AND r.parking_ts < ?3 AND r.status <> 'cancelled'"
	    " ORDER BY r.parking_ts, r.id",
};
_Static_assert(sizeof(stmt_sql) / sizeof(stmt_sql[0]) == STMT__COUNT,
    "stmt_sql[] must have one row per enum stmt");

static sqlite3 *db;
static pid_t db_pid;	/* the process that opened db */
/* Opens by this process, so that db_data_version() never repeats. */
static uint32_t db_opens;
/* A connection inherited through fork: never used nor closed; kept here
 * so that it stays reachable (and leak checkers quiet). */
static sqlite3 *volatile db_inherited;
static sqlite3_stmt *stmts[STMT__COUNT];
static enum dbrc lasterr = DB_OK;
/* A statement whose bind failed, reported by its next step. */
static sqlite3_stmt *bind_bad;
static int bind_rc;
/* The busy handler waits at least this long (raised by db_migrate()). */
static int busy_min_ms;
/* ... and at most this long while db_wal_hook() checkpoints (0: no cap). */
static int busy_cap_ms;
static struct timespec busy_start;

/* When the open write transaction took the lock (0: none open). */
static int64_t write_since_ms;
/* The writers' queue of db_queue_writers(), and whether this process holds
 * it; busy_origin: when db_begin() started waiting (the busy handler's
 * budget counts from there). */
static pthread_mutex_t *writer_mx;
static int writer_held;
static struct timespec busy_origin;

static int db_busy(void *, int);
static enum dbrc db_step(sqlite3_stmt *, int *);
static int db_version_get(enum dbrc *);
static void db_reset_busy(void);
static enum dbrc db_pragma(enum stmt);
static enum dbrc db_max_pages(int);
static int db_wal_hook(void *, sqlite3 *, const char *, int);
static enum dbrc writer_lock(void);
static void writer_unlock(void);

/*
 * The busy handler: short sleeps (100 us, doubling up to 2 ms) bounded in
 * total by conf.db_busy_timeout_ms.  SQLite's own handler sleeps in coarse
 * steps, which made the write path's p99 three times worse (performance.md).
 * Returns 1 to try again, 0 to give up (the caller gets SQLITE_BUSY).
 */
static int
db_busy(void *arg, int count)
{
	struct timespec now, ts;
	long long limit_us, waited_us, delay_us;
	int limit_ms;

	(void)arg;
	limit_ms = conf.db_busy_timeout_ms;
	if (limit_ms < busy_min_ms)
		limit_ms = busy_min_ms;
	if (busy_cap_ms > 0 && limit_ms > busy_cap_ms)
		limit_ms = busy_cap_ms;
	if (limit_ms <= 0)
		return 0;
	limit_us = (long long)limit_ms * 1000;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0)
		busy_start = busy_origin.tv_sec != 0 ? busy_origin : now;
	waited_us = (long long)(now.tv_sec - busy_start.tv_sec) * 1000000 +
	    (now.tv_nsec - busy_start.tv_nsec) / 1000;
	if (waited_us >= limit_us)
		return 0;

	delay_us = DB_BUSY_MAX_US;
	if (count < 8 && (DB_BUSY_FIRST_US << count) < DB_BUSY_MAX_US)
		delay_us = DB_BUSY_FIRST_US << count;
	if (delay_us > limit_us - waited_us)
		delay_us = limit_us - waited_us;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(delay_us * 1000);
	nanosleep(&ts, NULL); /* EINTR: a shorter sleep, then a retry */
	return 1;
}

/*
 * Runs after every commit of this connection, with the WAL's size in
 * frames; replaces SQLite's automatic checkpoint (a PASSIVE one past 1000
 * frames).  Under a steady load of bookings some reader always holds an
 * old snapshot, so a PASSIVE checkpoint never catches up with the end of
 * the WAL, the WAL is never started again from its beginning, and it grows
 * without bound (1.4 GB in a minute of bench/run's booking case) while
 * every commit past 1000 frames runs a checkpoint of its own, with two
 * fsyncs.  A RESTART checkpoint waits for the readers of the WAL (they are
 * short) and lets the next writer start the WAL again; the wait is capped
 * at DB_CHECKPOINT_WAIT_MS so that a long reader (a backup, an export)
 * delays one commit by that much at most: the checkpoint then did what a
 * PASSIVE one does, and the next commit tries again.  Returns SQLITE_OK:
 * the commit itself has succeeded whatever happens here.
 */
static int
db_wal_hook(void *arg, sqlite3 *conn, const char *name, int frames)
{
	int rc;

	(void)arg;
	if (frames < conf.db_checkpoint_pages)
		return SQLITE_OK;
	busy_cap_ms = DB_CHECKPOINT_WAIT_MS;
	rc = sqlite3_wal_checkpoint_v2(conn, name, SQLITE_CHECKPOINT_RESTART,
	    NULL, NULL);
	busy_cap_ms = 0;
	if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
		log_msg(LOG_WARN, "db: checkpoint: %s", sqlite3_errstr(rc));
	return SQLITE_OK;
}

/*
 * Maps a SQLite result code to the data layer's outcome and logs the
 * failure (the SQLite message goes to the log, never to a client).
 * Constraint failures are logged quietly: a duplicate e-mail is a 409, not
 * an incident.  Returns the mapped code, DB_OK for OK/ROW/DONE.
 */
enum dbrc
db_rc(int rc, const char *what)
{
	enum log_level lvl;
	enum dbrc r;
	const char *msg;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return DB_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		r = DB_BUSY;
		lvl = LOG_WARN;
		break;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
	case SQLITE_READONLY:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		r = DB_UNAVAILABLE;
		lvl = LOG_ERR;
		break;
	case SQLITE_CONSTRAINT:
		r = DB_CONFLICT;
		lvl = LOG_INFO;
		break;
	default:
		r = DB_ERROR;
		lvl = LOG_ERR;
		break;
	}
	/* The connection's message is more precise, when it is about rc. */
	if (db != NULL && sqlite3_extended_errcode(db) == rc)
		msg = sqlite3_errmsg(db);
	else
		msg = sqlite3_errstr(rc);
	log_msg(lvl, "db: %s (code %d) in: %.120s", msg, rc,
	    what != NULL ? what : "?");
	return r;
}

/*
 * Opens the database at path (conf.db_path when NULL) for this process and
 * sets the connection's policy; migrates when migrate != 0.  An already
 * open connection is closed first (or abandoned, if inherited through
 * fork).  Returns DB_OK, DB_UNAVAILABLE when the file cannot be opened, or
 * the failure of a pragma or migration (the connection is then closed).
 */
enum dbrc
db_open(const char *path, int migrate)
{
	enum dbrc r;
	int rc;

	if (db != NULL)
		db_close();
	if (path == NULL)
		path = conf.db_path;
	if (path == NULL || *path == '\0') {
		log_msg(LOG_ERR, "db: no database path (DATABASE_URL)");
		return lasterr = DB_ERROR;
	}

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_msg(LOG_ERR, "db: cannot open %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		db = NULL;
		return lasterr = DB_UNAVAILABLE;
	}
	db_pid = park_pid();
	db_opens++;
	/* SQLite falls back to read-only on a write-protected file; parkd
	 * must write, so say so now rather than at the first booking. */
	if (sqlite3_db_readonly(db, "main") == 1) {
		log_msg(LOG_ERR, "db: %s is not writable by this user", path);
		r = DB_UNAVAILABLE;
		goto fail;
	}

	sqlite3_extended_result_codes(db, 1);
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1,
	    (int *)NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0,
	    (int *)NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0,
	    (int *)NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0,
	    (int *)NULL) != SQLITE_OK) {
		log_msg(LOG_ERR, "db: cannot configure the connection: %s",
		    sqlite3_errmsg(db));
		r = DB_ERROR;
		goto fail;
	}
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, DB_MAX_LENGTH);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, DB_MAX_SQL_LENGTH);
	sqlite3_busy_handler(db, db_busy, NULL);

	/*
	 * A new file gets 2 KB pages instead of SQLite's 4 KB.  parkd's
	 * writes are small rows in many b-trees: a booking changes ~13 pages
	 * (the reservation, its indexes, the spot, the lot), and each changed
	 * page is copied whole into the WAL, checksummed, and copied again at
	 * the checkpoint.  Half the page is half that work: a booking or a
	 * release costs ~7-10% fewer instructions (bench/RESULTS.md), and
	 * lists are served from the memo.  A file that has pages keeps its
	 * size (SQLite changes it only by VACUUM outside WAL mode; README).
	 */
	if ((r = db_pragma(STMT_PRAGMA_PAGE_SIZE)) != DB_OK ||
	    (r = db_pragma(STMT_PRAGMA_WAL)) != DB_OK ||
	    (r = db_pragma(conf.db_synchronous_full ? STMT_PRAGMA_SYNC_FULL :
	    STMT_PRAGMA_SYNC_NORMAL)) != DB_OK ||
	    (r = db_pragma(STMT_PRAGMA_FOREIGN_KEYS)) != DB_OK ||
	    (r = db_pragma(STMT_PRAGMA_JOURNAL_LIMIT)) != DB_OK ||
	    (r = db_max_pages(conf.db_max_pages)) != DB_OK)
		goto fail;
	if (conf.db_checkpoint_pages > 0)
		sqlite3_wal_hook(db, db_wal_hook, NULL);

	if (migrate && (r = db_migrate()) != DB_OK)
		goto fail;
	return DB_OK;

fail:
	db_close();
	return lasterr = r;
}

/*
 * Runs a pragma statement to its end.  Turning a new file to WAL needs an
 * exclusive lock, and SQLite returns SQLITE_BUSY at once, without its busy
 * handler, where waiting could deadlock (two processes creating the file
 * together): so BUSY is retried here, within the busy handler's budget.
 * For journal_mode, checks that WAL is what the file got (only a memory
 * database stays without it).  Returns DB_OK or the failure.
 */
static enum dbrc
db_pragma(enum stmt id)
{
	sqlite3_stmt *st;
	const unsigned char *mode;
	enum dbrc r;
	int rc, count;

	if ((st = db_stmt(id)) == NULL)
		return db_lasterr();
	count = 0;
	for (;;) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (id != STMT_PRAGMA_WAL)
				continue;
			mode = sqlite3_column_text(st, 0);
			if (mode == NULL ||
			    strcmp((const char *)mode, "wal") != 0)
				log_msg(LOG_WARN, "db: journal mode is %s, "
				    "not wal", mode != NULL ?
				    (const char *)mode : "unknown");
			continue;
		}
		if ((rc & 0xff) == SQLITE_BUSY && db_busy(NULL, count++)) {
			sqlite3_reset(st);
			continue;
		}
		break;
	}
	r = rc == SQLITE_DONE ? DB_OK : db_rc(rc, sqlite3_sql(st));
	sqlite3_reset(st);
	return r;
}

/*
 * Caps the database at pages pages (PARKD_DB_MAX_PAGES; 0 leaves SQLite's
 * own limit): a write that needs more fails with SQLITE_FULL, which is
 * DB_UNAVAILABLE, a 503.  The cap belongs to the connection, so each
 * process sets it after opening.  SQLite never sets it below the pages the
 * file already has.  Returns DB_OK or the failure.
 */
static enum dbrc
db_max_pages(int pages)
{
	sqlite3_stmt *st;
	enum dbrc r;
	char sql[64];

	if (pages <= 0)
		return DB_OK;
	/* A number of the settings table, not input: PRAGMA takes no
	 * parameter. */
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %d", pages);
	if ((r = db_exec_script(sql, "max_page_count")) != DB_OK)
		return r;
	if ((st = db_stmt(STMT_PRAGMA_MAX_PAGES)) == NULL)
		return db_lasterr();
	if ((r = db_row(st)) != DB_OK)
		return r == DB_NOTFOUND ? DB_ERROR : r;
	if (sqlite3_column_int64(st, 0) != pages)
		log_msg(LOG_WARN, "db: PARKD_DB_MAX_PAGES is %d but the "
		    "database already has %lld pages: capped there", pages,
		    (long long)sqlite3_column_int64(st, 0));
	db_done(st);
	return DB_OK;
}

/*
 * Finalizes the statements and closes the connection.  A connection
 * inherited through fork is forgotten instead: closing it could checkpoint
 * or delete the WAL under the parent's feet.
 */
void
db_close(void)
{
	size_t i;

	writer_unlock();
	if (db == NULL)
		return;
	bind_bad = NULL;
	if (db_pid != park_pid()) {
		memset(stmts, 0, sizeof stmts);
		db_inherited = db;
		db = NULL;
		return;
	}
	for (i = 0; i < STMT__COUNT; i++) {
		sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
	if (sqlite3_close(db) != SQLITE_OK) {
		log_msg(LOG_ERR, "db: close: %s", sqlite3_errmsg(db));
		sqlite3_close_v2(db);
	}
	db = NULL;
}

/* Returns 1 when this process has its own open connection. */
int
db_is_open(void)
{
	return db != NULL && db_pid == park_pid();
}

/*
 * Returns the cached statement id, prepared on first use, reset and with
 * its bindings cleared; NULL when it cannot be prepared (db_lasterr() says
 * why).
 */
sqlite3_stmt *
db_stmt(enum stmt id)
{
	sqlite3_stmt *st;
	int rc;

	if (db == NULL) {
		log_msg(LOG_ERR, "db: statement used with no connection");
		lasterr = DB_UNAVAILABLE;
		return NULL;
	}
	if ((unsigned)id >= STMT__COUNT || stmt_sql[id] == NULL) {
		log_msg(LOG_ERR, "db: no statement %u", (unsigned)id);
		lasterr = DB_ERROR;
		return NULL;
	}
	if ((st = stmts[id]) != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (bind_bad == st)
			bind_bad = NULL;
		return st;
	}
	st = NULL;
	rc = sqlite3_prepare_v3(db, stmt_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		lasterr = db_rc(rc, stmt_sql[id]);
		if (lasterr == DB_CONFLICT || lasterr == DB_OK)
			lasterr = DB_ERROR;
		sqlite3_finalize(st);
		return NULL;
	}
	stmts[id] = st;
	return st;
}

/* Returns the outcome of the last failed db_stmt() or db_exec_script(). */
enum dbrc
db_lasterr(void)
{
	return lasterr == DB_OK ? DB_ERROR : lasterr;
}

/* Remembers a failed bind for the next step of st. */
static void
db_bind_check(sqlite3_stmt *st, int idx, int rc)
{
	if (rc == SQLITE_OK)
		return;
	log_msg(LOG_ERR, "db: bind %d: %s in: %.120s", idx, sqlite3_errstr(rc),
	    sqlite3_sql(st));
	bind_bad = st;
	bind_rc = rc;
}

/* The binders return nothing: a failure is reported by the next step. */
void
db_bind_int(sqlite3_stmt *st, int idx, long long v)
{
	db_bind_check(st, idx, sqlite3_bind_int64(st, idx, v));
}

void
db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		db_bind_null(st, idx);
	else
		db_bind_check(st, idx,
		    sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT));
}

void
db_bind_textn(sqlite3_stmt *st, int idx, const char *s, size_t len)
{
	if (s == NULL)
		db_bind_null(st, idx);
	else
		db_bind_check(st, idx, sqlite3_bind_text64(st, idx, s, len,
		    SQLITE_TRANSIENT, SQLITE_UTF8));
}

void
db_bind_null(sqlite3_stmt *st, int idx)
{
	db_bind_check(st, idx, sqlite3_bind_null(st, idx));
}

/*
 * Steps st once.  Returns DB_OK with *row = 1 when a row is ready, DB_OK
 * with *row = 0 at the end (st reset), or the mapped failure (st reset).
 */
static enum dbrc
db_step(sqlite3_stmt *st, int *row)
{
	enum dbrc r;
	int rc;

	*row = 0;
	if (st == NULL)
		return db_lasterr();
	if (st == bind_bad) {
		bind_bad = NULL;
		sqlite3_reset(st);
		r = db_rc(bind_rc, sqlite3_sql(st));
		return r == DB_CONFLICT ? DB_ERROR : r;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*row = 1;
		return DB_OK;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return DB_OK;
	}
	r = db_rc(rc, sqlite3_sql(st));
	sqlite3_reset(st);
	return r;
}

/* Returns DB_OK with a row to read (then db_done()), DB_NOTFOUND when the
 * statement has none, or the failure. */
enum dbrc
db_row(sqlite3_stmt *st)
{
	enum dbrc r;
	int row;

	if ((r = db_step(st, &row)) != DB_OK)
		return r;
	return row ? DB_OK : DB_NOTFOUND;
}

/* Runs st to its end, ignoring rows it may return (pragmas, RETURNING).
 * Returns DB_OK or the failure; st is reset either way. */
enum dbrc
db_run(sqlite3_stmt *st)
{
	enum dbrc r;
	int row;

	do {
		if ((r = db_step(st, &row)) != DB_OK)
			return r;
	} while (row);
	return DB_OK;
}

/* Returns 1 while st has a row; then 0 with *rc = DB_OK at the end or the
 * failure. */
int
db_next(sqlite3_stmt *st, enum dbrc *rc)
{
	int row;

	*rc = db_step(st, &row);
	return *rc == DB_OK && row;
}

/* Gives a statement back after reading its rows. */
void
db_done(sqlite3_stmt *st)
{
	if (st != NULL)
		sqlite3_reset(st);
}

/* Returns the rows changed by the last INSERT, UPDATE or DELETE. */
enum dbrc
db_row_ints(sqlite3_stmt *st, long long *a, long long *b, long long *c)
{
	enum dbrc r;

	if (st == NULL)
		return db_lasterr();
	/* An aggregate always yields a row: none is a bug. */
	if ((r = db_row(st)) != DB_OK)
		return r == DB_NOTFOUND ? DB_ERROR : r;
	if (a != NULL)
		*a = sqlite3_column_int64(st, 0);
	if (b != NULL)
		*b = sqlite3_column_int64(st, 1);
	if (c != NULL)
		*c = sqlite3_column_int64(st, 2);
	db_done(st);
	return DB_OK;
}

const char *
db_col_text(struct pool *p, sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s == NULL ? NULL : pool_strndup(p, (const char *)s,
	    (size_t)sqlite3_column_bytes(st, i));
}

long long
db_changes(void)
{
	return db != NULL ? sqlite3_changes(db) : 0;
}

/* Returns the rowid of the last successful INSERT. */
long long
db_last_id(void)
{
	return db != NULL ? sqlite3_last_insert_rowid(db) : 0;
}

/*
 * Runs an embedded script (migration, sample data) of several statements.
 * Returns DB_OK or the mapped failure.
 */
enum dbrc
db_exec_script(const char *sql, const char *what)
{
	char *err = NULL;
	int rc;

	if (db == NULL) {
		log_msg(LOG_ERR, "db: %s: no connection", what);
		return lasterr = DB_UNAVAILABLE;
	}
	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	sqlite3_free(err);
	if (rc != SQLITE_OK)
		return lasterr = db_rc(rc, what);
	return DB_OK;
}

/* Returns the SQL text of statement id, NULL for a bad id. */
const char *
db_sql(enum stmt id)
{
	return (unsigned)id < STMT__COUNT ? stmt_sql[id] : NULL;
}

/* Test only: see db-int.h.  Returns the mapped outcome. */
enum dbrc
db_exec_for_test(const char *sql)
{
	return db_exec_script(sql, "db_exec_for_test");
}

/* Returns DB_OK when every statement of the table prepares, else
 * DB_ERROR (each failure logged). */
enum dbrc
db_prepare_all(void)
{
	enum dbrc r = DB_OK;
	unsigned i;

	for (i = 0; i < STMT__COUNT; i++) {
		if (db_stmt((enum stmt)i) == NULL)
			r = DB_ERROR;
	}
	return r;
}

/*
 * Resets statements a caller left mid-way: such a statement holds a read
 * snapshot, and a write transaction started on a stale snapshot fails with
 * SQLITE_BUSY_SNAPSHOT without waiting (reliability.md F5).
 */
static void
db_reset_busy(void)
{
	sqlite3_stmt *st;

	for (st = sqlite3_next_stmt(db, NULL); st != NULL;
	    st = sqlite3_next_stmt(db, st)) {
		if (sqlite3_stmt_busy(st)) {
			log_msg(LOG_WARN, "db: statement left open: %.120s",
			    sqlite3_sql(st));
			sqlite3_reset(st);
		}
	}
}

/*
 * Starts a write transaction: BEGIN IMMEDIATE takes the write lock now,
 * waiting through the busy handler, so the reads that follow see the data
 * the write will change.  Returns DB_OK, DB_BUSY past the timeout, or a
 * failure.
 */
enum dbrc
db_begin(void)
{
	enum dbrc r;

	if (db == NULL) {
		log_msg(LOG_ERR, "db: begin with no connection");
		return DB_UNAVAILABLE;
	}
	if (!sqlite3_get_autocommit(db)) {
		log_msg(LOG_ERR, "db: begin inside a transaction");
		return DB_ERROR;
	}
	db_reset_busy();
	clock_gettime(CLOCK_MONOTONIC, &busy_origin);
	if ((r = writer_lock()) == DB_OK &&
	    (r = db_run(db_stmt(STMT_BEGIN))) == DB_OK)
		write_since_ms = park_ms();
	else
		writer_unlock();
	busy_origin.tv_sec = 0;
	return r;
}

/*
 * Ends the timing of a write transaction: one that held the write lock
 * longer than DB_WRITE_WARN_MS is logged, because every other writer
 * (requests and batch jobs) waited for it (reliability.md plan row 3).
 */
static void
write_done(void)
{
	int64_t ms;

	writer_unlock();
	if (write_since_ms == 0)
		return;
	ms = park_ms() - write_since_ms;
	write_since_ms = 0;
	if (ms > DB_WRITE_WARN_MS)
		log_msg(LOG_WARN, "db: a write transaction held the lock for "
		    "%lld ms (over %d)", (long long)ms, DB_WRITE_WARN_MS);
}

uint64_t
db_data_version(void)
{
	unsigned int v = 0;

	if (db == NULL || sqlite3_file_control(db, "main",
	    SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK)
		return 0;
	return (uint64_t)db_opens << 32 | v;
}

/*
 * The writers' queue.  Every write transaction of parkd's workers waits
 * here before BEGIN IMMEDIATE: SQLite's own lock cannot be waited for, only
 * polled (db_busy() sleeps and tries again), so under a load of bookings
 * the workers that lost the race slept past the moment the lock came free
 * and the machine sat idle while requests queued.  A mutex shared by the
 * workers hands the turn over at once, in order.  It is only a queue in
 * front of SQLite's lock, which stays the one that counts: parkctl and
 * any other program still meet it through the busy handler.  The mutex
 * is robust: a worker killed while holding it passes it on (its
 * transaction died with it and SQLite rolls it back).
 */
int
db_queue_writers(void)
{
	pthread_mutexattr_t a;
	void *p;

	if (writer_mx != NULL)
		return 0;
	p = mmap(NULL, sizeof(*writer_mx), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(p, &a) != 0) {
		munmap(p, sizeof(*writer_mx));
		return -1;
	}
	pthread_mutexattr_destroy(&a);
	writer_mx = p;
	return 0;
}

/* Waits for the writers' queue, within the busy timeout.  Returns DB_OK
 * (also without a queue), or DB_BUSY after the timeout. */
static enum dbrc
writer_lock(void)
{
	struct timespec until;
	int rc;

	if (writer_mx == NULL || writer_held)
		return DB_OK;
	until = busy_origin;
	until.tv_sec += conf.db_busy_timeout_ms / 1000;
	until.tv_nsec += (long)(conf.db_busy_timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	rc = pthread_mutex_clocklock(writer_mx, CLOCK_MONOTONIC, &until);
	if (rc == EOWNERDEAD) {
		log_msg(LOG_WARN, "db: a writer died in its transaction; "
		    "the queue goes on");
		pthread_mutex_consistent(writer_mx);
		rc = 0;
	}
	if (rc != 0) {
		log_msg(LOG_WARN, "db: waited %d ms for the writers' queue: %s",
		    conf.db_busy_timeout_ms, strerror(rc));
		return DB_BUSY;
	}
	writer_held = 1;
	return DB_OK;
}

/* Leaves the writers' queue, if this process is in it. */
static void
writer_unlock(void)
{
	if (writer_held) {
		writer_held = 0;
		pthread_mutex_unlock(writer_mx);
	}
}

/* Starts a read transaction, so several SELECTs see one snapshot.
 * Returns DB_OK or the failure; end it with db_end_read(). */
enum dbrc
db_begin_read(void)
{
	if (db == NULL)
		return DB_UNAVAILABLE;
	if (!sqlite3_get_autocommit(db)) {
		log_msg(LOG_ERR, "db: begin inside a transaction");
		return DB_ERROR;
	}
	return db_run(db_stmt(STMT_BEGIN_READ));
}

/* Ends a read transaction (it changed nothing). */
void
db_end_read(void)
{
	db_rollback();
}

/* Commits; on failure rolls back (if SQLite has not already).  Returns
 * DB_OK or the failure. */
enum dbrc
db_commit(void)
{
	enum dbrc r;

	if (db == NULL || sqlite3_get_autocommit(db)) {
		log_msg(LOG_ERR, "db: commit without a transaction");
		return DB_ERROR;
	}
	if ((r = db_run(db_stmt(STMT_COMMIT))) != DB_OK)
		db_rollback();
	write_done();
	return r;
}

/*
 * Rolls back the open transaction, if any: after BUSY, FULL, IOERR or
 * NOMEM SQLite may already have rolled back, so calling this is always
 * safe.
 */
void
db_rollback(void)
{
	if (db != NULL && !sqlite3_get_autocommit(db)) {
		(void)db_run(db_stmt(STMT_ROLLBACK));
		if (!sqlite3_get_autocommit(db))
			log_msg(LOG_ERR, "db: rollback failed: %s",
			    sqlite3_errmsg(db));
	}
	write_done();
}

/* Reads PRAGMA user_version.  Returns it, or -1 with *r set. */
static int
db_version_get(enum dbrc *r)
{
	sqlite3_stmt *st;
	int v;

	if ((st = db_stmt(STMT_VERSION_GET)) == NULL) {
		*r = db_lasterr();
		return -1;
	}
	if ((*r = db_row(st)) != DB_OK) {
		if (*r == DB_NOTFOUND)
			*r = DB_ERROR;
		return -1;
	}
	v = sqlite3_column_int(st, 0);
	db_done(st);
	return v;
}

/* Returns the schema version of the open database, -1 on failure. */
int
db_version(void)
{
	enum dbrc r;

	return db_version_get(&r);
}

/*
 * Returns the newest schema version the binary knows: the number of
 * embedded migrations, which must be named 001-..., 002-..., in order.
 * Returns -1 (logged) when they are not: a build bug.
 */
int
db_version_latest(void)
{
	static int latest = -2;
	size_t i;

	if (latest != -2)
		return latest;
	for (i = 0; i < sql_nmigrations; i++) {
		if (sql_migrations[i].name == NULL ||
		    strtol(sql_migrations[i].name, NULL, 10) != (long)i + 1) {
			log_msg(LOG_ERR, "db: embedded migration %zu is named "
			    "\"%s\", not %03zu-...", i + 1,
			    sql_migrations[i].name != NULL ?
			    sql_migrations[i].name : "", i + 1);
			return latest = -1;
		}
	}
	return latest = (int)sql_nmigrations;
}

/*
 * Applies every embedded migration newer than the file's user_version,
 * each in its own BEGIN IMMEDIATE transaction together with the version
 * bump, so processes migrating at once apply each migration exactly once.
 * Migrations must not hold BEGIN/COMMIT, VACUUM or PRAGMA foreign_keys.
 * Returns DB_OK, DB_ERROR for a database newer than this binary (refused,
 * logged), or the failure.
 */
enum dbrc
db_migrate(void)
{
	enum dbrc r;
	int latest, v, saved;
	char bump[64];

	if (db == NULL) {
		log_msg(LOG_ERR, "db: migrate with no connection");
		return DB_UNAVAILABLE;
	}
	if ((latest = db_version_latest()) < 0)
		return DB_ERROR;
	/* The usual case, up to date, needs no write lock. */
	if ((v = db_version_get(&r)) < 0)
		return r;
	if (v > latest) {
		log_msg(LOG_ERR, "db: the database has schema version %d, "
		    "newer than this program's %d: refusing it", v, latest);
		return DB_ERROR;
	}
	if (v == latest)
		return DB_OK;

	/* Another process may hold the lock while it migrates: wait. */
	saved = busy_min_ms;
	busy_min_ms = DB_MIGRATE_WAIT_MS;
	for (;;) {
		if ((r = db_begin()) != DB_OK)
			break;
		if ((v = db_version_get(&r)) < 0 || v >= latest) {
			db_rollback();
			if (v > latest) {
				log_msg(LOG_ERR, "db: schema version %d is "
				    "newer than %d: refusing it", v, latest);
				r = DB_ERROR;
			}
			break;
		}
		log_msg(LOG_INFO, "db: applying migration %s",
		    sql_migrations[v].name);
		if ((r = db_exec_script(sql_migrations[v].text,
		    sql_migrations[v].name)) != DB_OK) {
			db_rollback();
			break;
		}
		/* An integer of ours, not input: PRAGMA takes no parameter. */
		snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
		if ((r = db_exec_script(bump, "user_version")) != DB_OK) {
			db_rollback();
			break;
		}
		if ((r = db_commit()) != DB_OK)
			break;
	}
	busy_min_ms = saved;
	return r;
}

/* Returns DB_OK when the database answers a trivial query. */
enum dbrc
db_ping(void)
{
	sqlite3_stmt *st;
	enum dbrc r;

	if ((st = db_stmt(STMT_PING)) == NULL)
		return db_lasterr();
	if ((r = db_row(st)) == DB_OK)
		db_done(st);
	return r == DB_NOTFOUND ? DB_ERROR : r;
}

/*
 * THE mapping of data-layer outcomes to HTTP: 404 NOT_FOUND, 409 CONFLICT,
 * 503 UNAVAILABLE with Retry-After (busy or unavailable), 500 INTERNAL.
 * DB_OK is a caller bug and gets the 500.
 */
void
db_to_http(enum dbrc rc, struct resp *resp)
{
	switch (rc) {
	case DB_NOTFOUND:
		resp_error(resp, 404, "NOT_FOUND", "Not found");
		break;
	case DB_CONFLICT:
		resp_error(resp, 409, "CONFLICT",
		    "The request conflicts with the current state");
		break;
	case DB_BUSY:
		resp_error(resp, 503, "UNAVAILABLE",
		    "The service is busy, please retry");
		resp_header(resp, "Retry-After", "1");
		break;
	case DB_UNAVAILABLE:
		resp_error(resp, 503, "UNAVAILABLE",
		    "The service is temporarily unavailable");
		resp_header(resp, "Retry-After", "5");
		break;
	case DB_OK:
		log_msg(LOG_ERR, "db: db_to_http called with DB_OK");
		/* FALLTHROUGH */
	case DB_ERROR:
	default:
		resp_error(resp, 500, "INTERNAL", "Internal error");
		break;
	}
}
