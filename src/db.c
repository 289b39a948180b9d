/*
 * db.c: the generic part of the data layer: the statement table with its
 * helpers (cache, binds and the memory of their failures, stepping),
 * transactions, migrations, and the one mapping of data-layer outcomes to
 * HTTP.  The engine is behind struct db_driver (db-int.h), chosen by
 * db_open(): db-sqlite.c for an SQLite file, db-pg.c for a postgresql://
 * URI.
 *
 * One connection per process, opened after fork (SQLite's howtocorrupt
 * 2.6): a connection inherited from a parent is abandoned, never used or
 * closed.  Only the db*.c files see the data layer's inside (db-int.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db-int.h"

/* A write transaction holding the lock longer than this is logged. */
#define DB_WRITE_WARN_MS 100
/* How long a migration waits for the write lock, whatever the timeout. */
#define DB_MIGRATE_WAIT_MS 60000

/*
 * THE statement table: every SQL statement of parkd and parkctl, indexed by
 * enum stmt (db-int.h).  Parameters are bound by position; no SQL is ever
 * built from strings.  The only SQL outside it: the embedded migrations and
 * sample data (sqlembed.c), and in db-sqlite.c the user_version bump of a
 * migration and the max_page_count of db_max_pages(), whose numbers are
 * ours, not input.
 *
 * One row per statement, each dialect's text side by side: .sqlite, the
 * text SQLite runs (every row has one), and .pg, PostgreSQL's:
 * - .pg NULL: not ported yet.  The PostgreSQL driver will refuse to start
 *   while a statement it can run has none (naming them), never fall back
 *   to the SQLite text by itself: a silent fallback would hide a dialect
 *   difference until the statement ran.
 * - .pg PG_SAME: the SQLite text is portable as it is (the driver turns
 *   the "?" and "?N" parameters into "$N").  Set only where the text was
 *   checked against PostgreSQL.
 * - otherwise PostgreSQL's own text, with the same parameters, in the same
 *   order and meaning, and the same columns in the same order.
 * Every row has a .pg: a statement that means nothing to PostgreSQL (a
 * pragma, a WAL checkpoint) has PG_NOOP or a harmless text of the same
 * shape, which the PostgreSQL driver never needs to run.  STYLE.md says
 * the same; t/77-pg-statements.t prepares every .pg against sql/pg and
 * runs the subtle ones on both engines.
 *
 * PostgreSQL's texts (sql/pg/README, "Types"): every parameter is cast,
 * $n::bigint or $n::text, so that each prepares with those two types
 * whatever the driver declares; a time parameter (unix seconds) is
 * PG_T(n) and a time column read is PG_S(col), unix seconds again, so the
 * db-*.c code binds and reads the same integers on both engines; a
 * boolean result is (expr)::int and a sum of bigint (numeric in
 * PostgreSQL) is cast back to bigint.  An INSERT into a table with an id
 * column ends with RETURNING id: the driver's last_id() is that column
 * (db_run() ignores the row), which, unlike lastval(), is also right for
 * a row written with its own id (the import).
 */
struct stmt_def {
	const char *sqlite;
	const char *pg;
};
#define PG_SAME ""
/* PostgreSQL: what SQLite alone needs; the driver never runs it */
#define PG_NOOP "SELECT 1"
/* PostgreSQL: time parameter n (unix seconds) as a timestamptz, and a
 * timestamptz expression read back as unix seconds (NULL stays NULL) */
#define PG_T(n) "to_timestamp($" #n "::bigint)"
#define PG_S(col) "extract(epoch FROM " col ")::bigint"
/*
 * PostgreSQL: the id of an imported row, $1, or for NULL a new one as
 * SQLite's rowid gives it, max(id) + 1 (an explicit NULL is no default
 * there); either way the sequence is left at the table's largest id, so
 * that the next row without one (the spots the import adds through
 * SPOTS_ADD, parkd's next booking) takes max(id) + 1 too.  Not nextval():
 * a rolled-back transaction (a dry run, a refused import) spends
 * sequence values, and the import would then give other ids than on
 * SQLite.  setval() may move a sequence back: the import holds the write
 * lock, so no other writer holds an id past it; it starts with
 * STMT_IMPORT_SYNC_IDS (parkd_sync_ids(), sql/pg/README) for the rows it
 * adds without an id before any of the table's kept ones.
 */
#define PG_SEQ(table) "pg_get_serial_sequence('" table "', 'id')::regclass"
#define PG_MAX_ID(table) "(SELECT coalesce(max(id), 0) FROM " table ")"
#define PG_KEEP_ID(table) "CASE WHEN $1::bigint IS NULL THEN setval(" \
    PG_SEQ(table) ", " PG_MAX_ID(table) " + 1) ELSE $1::bigint + 0 *" \
    " setval(" PG_SEQ(table) ", greatest($1::bigint, " PG_MAX_ID(table) \
    ")) END"

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
#define PG_USER_COLS "id, username, email, password_hash, phone, is_active," \
    " " PG_S("created_at") ", " PG_S("updated_at") ", " PG_S("last_login") \
    ", email_verified"
#define PG_LOT_COLS "id, name, address, pin_code, price_cents," \
    " number_of_spots, occupied, is_active, description, hours_start," \
    " hours_end, " PG_S("created_at") ", " PG_S("updated_at")
#define PG_RESV_COLS "r.id, r.spot_id, s.spot_number, r.lot_id, l.name," \
    " r.user_id, u.username, r.vehicle_number, " PG_S("r.parking_ts") "," \
    " " PG_S("r.leaving_ts") ", r.hourly_cents, r.cost_cents, r.status," \
    " r.remarks, " PG_S("r.created_at") ", " PG_S("r.updated_at") "," \
    " r.vehicle_model, r.vehicle_color, " PG_S("r.expected_leaving_ts") "," \
    " " PG_S("r.start_time") ", " PG_S("r.end_time")
/* GLOB 'x*' is LIKE 'x%' on PostgreSQL's "C" columns (case-sensitive) */
#define PG_OUTBOX_FORGET_LINK "body_text = CASE WHEN idem_key LIKE" \
    " 'reset:%' OR idem_key LIKE 'verify:%'" \
    " THEN '(sent; the link is not kept)'" \
    " ELSE body_text END, body_html = CASE WHEN idem_key LIKE 'reset:%'" \
    " OR idem_key LIKE 'verify:%' THEN NULL ELSE body_html END"
#define PG_EXPORT_COLS "id, user_id, email, state, progress, filename," \
    " error, attempts, " PG_S("created_at") ", " PG_S("updated_at") "," \
    " " PG_S("finished_at")
#define EXPORT_COLS "id, user_id, email, state, progress, filename, error," \
    " attempts, created_at, updated_at, finished_at"

static const struct stmt_def stmt_sql[] = {
	[STMT_PING] = { .sqlite = "SELECT 1", .pg = PG_SAME },
	[STMT_BEGIN] = { .sqlite = "BEGIN IMMEDIATE",
	    .pg = "BEGIN ISOLATION LEVEL READ COMMITTED" },
	[STMT_BEGIN_READ] = { .sqlite = "BEGIN DEFERRED",
	    .pg = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" },
	[STMT_COMMIT] = { .sqlite = "COMMIT", .pg = PG_SAME },
	[STMT_ROLLBACK] = { .sqlite = "ROLLBACK", .pg = PG_SAME },
	/* Only a new, empty file takes it (db_open() explains the size). */
	[STMT_PRAGMA_PAGE_SIZE] = { .sqlite = "PRAGMA page_size = 2048",
	    .pg = PG_NOOP },
	[STMT_PRAGMA_WAL] = { .sqlite = "PRAGMA journal_mode = WAL",
	    .pg = PG_NOOP },
	[STMT_PRAGMA_SYNC_NORMAL] = { .sqlite = "PRAGMA synchronous = NORMAL",
	    .pg = PG_NOOP },
	[STMT_PRAGMA_SYNC_FULL] = { .sqlite = "PRAGMA synchronous = FULL",
	    .pg = "SET synchronous_commit = on" },
	[STMT_PRAGMA_FOREIGN_KEYS] = { .sqlite = "PRAGMA foreign_keys = ON",
	    .pg = PG_NOOP },
	[STMT_PRAGMA_JOURNAL_LIMIT] = { .sqlite =
	    "PRAGMA journal_size_limit = 67108864", .pg = PG_NOOP },
	/* reads the cap back; db_max_pages() sets it (PRAGMA takes no
	 * parameter) */
	[STMT_PRAGMA_MAX_PAGES] = { .sqlite = "PRAGMA max_page_count",
	    .pg = PG_NOOP },
	[STMT_VERSION_GET] = { .sqlite = "PRAGMA user_version",
	    .pg = "SELECT coalesce(max(version), 0) FROM parkd_schema" },
	/* PostgreSQL's driver's own statements (db-pg.c), in place of the
	 * rows above that SQLite alone runs (pg_own[] below lists those).
	 * ?1 statement_timeout, ?2 lock_timeout, in ms ("0": none) */
	[STMT_PG_SESSION] = { .pg =
	    "SELECT set_config('statement_timeout', $1::text, false),"
	    " set_config('lock_timeout', $2::text, false)" },
	[STMT_PG_BEGIN] = { .pg = "BEGIN ISOLATION LEVEL READ COMMITTED" },
	/* THE write lock: one writer at a time across every host, as
	 * SQLite's BEGIN IMMEDIATE (db-pg.c says why); the key is parkd's
	 * ("park", 2), sql/pg/README; waits up to lock_timeout; then the
	 * transaction's id, for a COMMIT whose answer is lost */
	[STMT_PG_WRITE_LOCK] = { .pg =
	    "SELECT pg_current_xact_id()::text"
	    " FROM pg_advisory_xact_lock(1885434475, 2)" },
	/* the migrations' lock ("park", 1), as dev/lib.sh's pg_migrate */
	[STMT_PG_MIGRATE_LOCK] = { .pg =
	    "SELECT pg_advisory_xact_lock(1885434475, 1)" },
	[STMT_PG_BEGIN_READ] = { .pg =
	    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" },
	/* a new database has no version table yet */
	[STMT_PG_SCHEMA_EXISTS] = { .pg =
	    "SELECT to_regclass('parkd_schema') IS NOT NULL" },
	[STMT_PG_VERSION_GET] = { .pg =
	    "SELECT coalesce(max(version), 0) FROM parkd_schema" },
	/* ?1 version, ?2 the migration's file name */
	[STMT_PG_VERSION_SET] = { .pg =
	    "INSERT INTO parkd_schema (version, name, applied_at)"
	    " VALUES ($1::bigint, $2::text, now())" },
	/* db_last_id() after an INSERT without RETURNING id */
	[STMT_PG_LASTVAL] = { .pg = "SELECT lastval()" },
	/* ?1 a transaction's id (the write lock's column): 'committed',
	 * 'aborted', 'in progress', or NULL when too old to tell */
	[STMT_PG_XACT_STATUS] = { .pg =
	    "SELECT pg_xact_status($1::text::xid8)" },
	/* the server's identity, once per connection: its system identifier
	 * and timeline (the first 8 hex digits of its WAL file's name; a
	 * promoted standby starts a new one at once, where its last
	 * checkpoint's may still name the old); NULL on a standby.  A lost
	 * COMMIT's xid is asked of the same identity only (db-pg.c
	 * pg_commit_lost()) */
	[STMT_PG_IDENTITY] = { .pg =
	    "SELECT CASE WHEN pg_is_in_recovery() THEN NULL"
	    " ELSE system_identifier::text || '/' ||"
	    " substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '/' ||"
	    " extract(epoch FROM pg_postmaster_start_time())::text END"
	    " FROM pg_control_system()" },

	[STMT_RESET_REMINDERS] = { .sqlite = "DELETE FROM reminders_sent",
	    .pg = PG_SAME },
	[STMT_RESET_REPORTS] = { .sqlite = "DELETE FROM reports_sent",
	    .pg = PG_SAME },
	[STMT_RESET_OUTBOX] = { .sqlite = "DELETE FROM outbox", .pg = PG_SAME },
	[STMT_RESET_JOB_RUNS] = { .sqlite = "DELETE FROM job_runs",
	    .pg = PG_SAME },
	[STMT_RESET_EXPORTS] = { .sqlite = "DELETE FROM export_jobs",
	    .pg = PG_SAME },
	[STMT_RESET_LOGIN_FAILURES] = { .sqlite = "DELETE FROM login_failures",
	    .pg = PG_SAME },
	[STMT_RESET_SESSIONS] = { .sqlite = "DELETE FROM sessions",
	    .pg = PG_SAME },
	[STMT_RESET_RESERVATIONS] = { .sqlite = "DELETE FROM reservations",
	    .pg = PG_SAME },
	[STMT_RESET_SPOTS] = { .sqlite = "DELETE FROM spots", .pg = PG_SAME },
	[STMT_RESET_LOTS] = { .sqlite = "DELETE FROM lots", .pg = PG_SAME },
	[STMT_RESET_USERS] = { .sqlite = "DELETE FROM users", .pg = PG_SAME },

	[STMT_STATS_USERS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(is_active), 0) FROM users",
	    .pg = PG_SAME },
	[STMT_STATS_LOTS] = { .sqlite =
	    "SELECT count(*) FROM lots WHERE deleted_at IS NULL",
	    .pg = PG_SAME },
	[STMT_STATS_SPOTS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(s.status = 'A'), 0),"
	    " coalesce(sum(s.status = 'O'), 0)"
	    " FROM spots s JOIN lots l ON l.id = s.lot_id"
	    " WHERE s.removed_at IS NULL AND l.deleted_at IS NULL",
	    .pg =
	    "SELECT count(*), coalesce(sum((s.status = 'A')::int), 0),"
	    " coalesce(sum((s.status = 'O')::int), 0)"
	    " FROM spots s JOIN lots l ON l.id = s.lot_id"
	    " WHERE s.removed_at IS NULL AND l.deleted_at IS NULL" },
	[STMT_STATS_RESERVATIONS] = { .sqlite =
	    "SELECT status, count(*) FROM reservations GROUP BY status",
	    .pg =
	    "SELECT status, count(*) FROM reservations GROUP BY status"
	    " ORDER BY status" },
	[STMT_STATS_EXPORTS] = { .sqlite =
	    "SELECT count(*) FROM export_jobs WHERE state = 'PENDING'",
	    .pg = PG_SAME },
	[STMT_STATS_OUTBOX] = { .sqlite =
	    "SELECT count(*) FROM outbox WHERE state = 'queued'",
	    .pg = PG_SAME },

	[STMT_USER_INSERT] = { .sqlite =
	    "INSERT INTO users (username, email, password_hash, phone,"
	    " is_active, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
	    .pg =
	    "INSERT INTO users (username, email, password_hash, phone,"
	    " is_active, created_at, updated_at) VALUES ($1::text, $2::text,"
	    " $3::text, $4::text, 1, " PG_T(5) ", " PG_T(6) ") RETURNING id" },
	[STMT_USER_GET] = { .sqlite =
	    "SELECT " USER_COLS " FROM users WHERE id = ?",
	    .pg = "SELECT " PG_USER_COLS " FROM users WHERE id = $1::bigint" },
	/* ?1 the lower-cased e-mail, ?2 the exact username */
	[STMT_USER_BY_LOGIN] = { .sqlite =
	    "SELECT " USER_COLS " FROM users WHERE email = ?1"
	    " UNION ALL SELECT " USER_COLS " FROM users WHERE username = ?2"
	    " LIMIT 1",
	    .pg =
	    "SELECT " PG_USER_COLS " FROM users WHERE email = $1::text"
	    " UNION ALL SELECT " PG_USER_COLS " FROM users"
	    " WHERE username = $2::text LIMIT 1" },
	[STMT_USER_NAME_TAKEN] = { .sqlite =
	    "SELECT 1 FROM users WHERE username = ? AND id <> ?",
	    .pg =
	    "SELECT 1 FROM users WHERE username = $1::text AND id <> $2::bigint" },
	[STMT_USER_EMAIL_TAKEN] = { .sqlite =
	    "SELECT 1 FROM users WHERE email = ? AND id <> ?",
	    .pg =
	    "SELECT 1 FROM users WHERE email = $1::text AND id <> $2::bigint" },
	/* ?1 now, ?2 id, ?3 the hash the login verified, ?4 1 when
	 * REQUIRE_EMAIL_VERIFICATION is on: no row when the password was
	 * changed or reset, the account deactivated, or its address made
	 * unverified while the login hashed (the login is then refused) */
	[STMT_USER_LAST_LOGIN] = { .sqlite =
	    "UPDATE users SET last_login = ?1 WHERE id = ?2"
	    " AND password_hash = ?3 AND is_active = 1"
	    " AND (?4 = 0 OR email_verified = 1)",
	    .pg =
	    "UPDATE users SET last_login = " PG_T(1) " WHERE id = $2::bigint"
	    " AND password_hash = $3::text AND is_active = 1"
	    " AND ($4::bigint = 0 OR email_verified = 1)" },
	[STMT_USER_SET_HASH] = { .sqlite =
	    "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
	    .pg =
	    "UPDATE users SET password_hash = $1::text, updated_at = " PG_T(2)
	    " WHERE id = $3::bigint" },
	/* a password change: ?1 the new hash, ?2 now, ?3 id, ?4 the hash the
	 * current password was verified against, ?5 the caller's session,
	 * which must still be live (a reset in between revoked it) */
	[STMT_USER_CHANGE_HASH] = { .sqlite =
	    "UPDATE users SET password_hash = ?1, updated_at = ?2"
	    " WHERE id = ?3 AND password_hash = ?4 AND is_active = 1"
	    " AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = ?5"
	    " AND s.user_id = ?3 AND s.revoked_at IS NULL)",
	    .pg =
	    "UPDATE users SET password_hash = $1::text, updated_at = " PG_T(2)
	    " WHERE id = $3::bigint AND password_hash = $4::text AND is_active = 1"
	    " AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = $5::text"
	    " AND s.user_id = $3::bigint AND s.revoked_at IS NULL)" },
	/* ?1 username or NULL, ?2 email or NULL, ?3 1 to set the phone,
	 * ?4 the phone (NULL clears it), ?5 now, ?6 id.  Another address
	 * keeps the one it replaces in prev_email (the notice of a reset
	 * goes there too) */
	[STMT_USER_UPDATE] = { .sqlite =
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
	    .pg =
	    "UPDATE users SET username = coalesce($1::text, username),"
	    " prev_email = CASE WHEN $2::text IS NOT NULL AND $2::text <> email"
	    " THEN email ELSE prev_email END,"
	    " email_changed_at = CASE WHEN $2::text IS NOT NULL"
	    " AND $2::text <> email THEN " PG_T(5) " ELSE email_changed_at END,"
	    " email = coalesce($2::text, email),"
	    " email_verified = CASE WHEN $2::text IS NOT NULL AND $2::text <> email"
	    " THEN 0 ELSE email_verified END,"
	    " phone = CASE WHEN $3::bigint <> 0 THEN $4::text ELSE phone END,"
	    " updated_at = " PG_T(5) " WHERE id = $6::bigint" },
	[STMT_USER_SET_ACTIVE] = { .sqlite =
	    "UPDATE users SET is_active = ?, updated_at = ? WHERE id = ?",
	    .pg =
	    "UPDATE users SET is_active = $1::bigint, updated_at = " PG_T(2)
	    " WHERE id = $3::bigint" },
	/* ?1 a LIKE pattern or NULL for all, ?2 limit, ?3 offset */
	[STMT_USERS_LIST] = { .sqlite =
	    "SELECT " USER_COLS " FROM users"
	    " WHERE ?1 IS NULL OR username LIKE ?1 ESCAPE '\\'"
	    " OR email LIKE ?1 ESCAPE '\\'"
	    " ORDER BY id LIMIT ?2 OFFSET ?3",
	    .pg =
	    "SELECT " PG_USER_COLS " FROM users"
	    " WHERE $1::text IS NULL OR username ILIKE $1::text ESCAPE '\\'"
	    " OR email ILIKE $1::text ESCAPE '\\'"
	    " ORDER BY id LIMIT $2::bigint OFFSET $3::bigint" },
	[STMT_USERS_COUNT] = { .sqlite =
	    "SELECT count(*) FROM users"
	    " WHERE ?1 IS NULL OR username LIKE ?1 ESCAPE '\\'"
	    " OR email LIKE ?1 ESCAPE '\\'",
	    .pg =
	    "SELECT count(*) FROM users"
	    " WHERE $1::text IS NULL OR username ILIKE $1::text ESCAPE '\\'"
	    " OR email ILIKE $1::text ESCAPE '\\'" },
	/* ?10 the access token's jti (the session check accepts no other) */
	[STMT_SESSION_INSERT] = { .sqlite =
	    "INSERT INTO sessions (id, user_id, is_admin, refresh_jti,"
	    " remember, created_at, last_used_at, expires_at, admin_fp,"
	    " access_jti) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    .pg =
	    "INSERT INTO sessions (id, user_id, is_admin, refresh_jti,"
	    " remember, created_at, last_used_at, expires_at, admin_fp,"
	    " access_jti) VALUES ($1::text, $2::bigint, $3::bigint, $4::text,"
	    " $5::bigint, " PG_T(6) ", " PG_T(7) ", " PG_T(8) ", $9::text,"
	    " $10::text)" },
	/* the per-request check: one primary-key lookup and one join; ?3
	 * the admin credential's fingerprint (an admin session made with
	 * another is over) */
	[STMT_SESSION_CHECK] = { .sqlite =
	    "SELECT s.is_admin, s.user_id, s.revoked_at IS NULL"
	    " AND s.expires_at > ?2 AND (s.is_admin = 0 OR s.admin_fp = ?3),"
	    " coalesce(u.is_active, 1),"
	    " u.username, u.email, s.remember, s.access_jti,"
	    " s.prev_access_jti, s.rotated_at, coalesce(u.email_verified, 1)"
	    " FROM sessions s LEFT JOIN users u ON u.id = s.user_id"
	    " WHERE s.id = ?1",
	    .pg =
	    "SELECT s.is_admin, s.user_id, (s.revoked_at IS NULL"
	    " AND s.expires_at > " PG_T(2) " AND (s.is_admin = 0"
	    " OR s.admin_fp = $3::text))::int, coalesce(u.is_active, 1),"
	    " u.username, u.email, s.remember, s.access_jti,"
	    " s.prev_access_jti, " PG_S("s.rotated_at") ","
	    " coalesce(u.email_verified, 1)"
	    " FROM sessions s LEFT JOIN users u ON u.id = s.user_id"
	    " WHERE s.id = $1::text" },
	/* ?2 the admin credential's fingerprint, as in STMT_SESSION_CHECK */
	[STMT_SESSION_GET] = { .sqlite =
	    "SELECT is_admin, user_id, refresh_jti, remember, expires_at,"
	    " revoked_at IS NOT NULL OR (is_admin = 1 AND admin_fp IS NOT ?2),"
	    " prev_jti, access_jti, rotated_at, refresh_exp"
	    " FROM sessions WHERE id = ?1",
	    .pg =
	    "SELECT is_admin, user_id, refresh_jti, remember, " PG_S("expires_at") ","
	    " (revoked_at IS NOT NULL OR (is_admin = 1"
	    " AND admin_fp IS DISTINCT FROM $2::text))::int,"
	    " prev_jti, access_jti, " PG_S("rotated_at") ", " PG_S("refresh_exp")
	    " FROM sessions WHERE id = $1::text" },
	/* ?1 new refresh jti, ?2 its access jti, ?3 now (their iat),
	 * ?4 the new refresh token's exp, ?5 sid, ?6 the current jti */
	[STMT_SESSION_ROTATE] = { .sqlite =
	    "UPDATE sessions SET prev_jti = refresh_jti, refresh_jti = ?1,"
	    " prev_access_jti = access_jti, access_jti = ?2, rotated_at = ?3, refresh_exp = ?4,"
	    " last_used_at = ?3"
	    " WHERE id = ?5 AND refresh_jti = ?6 AND revoked_at IS NULL",
	    .pg =
	    "UPDATE sessions SET prev_jti = refresh_jti, refresh_jti = $1::text,"
	    " prev_access_jti = access_jti, access_jti = $2::text,"
	    " rotated_at = " PG_T(3) ", refresh_exp = " PG_T(4) ","
	    " last_used_at = " PG_T(3)
	    " WHERE id = $5::text AND refresh_jti = $6::text AND revoked_at IS NULL" },
	[STMT_SESSION_REVOKE] = { .sqlite =
	    "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2"
	    " WHERE id = ?3 AND revoked_at IS NULL",
	    .pg =
	    "UPDATE sessions SET revoked_at = " PG_T(1) ", revoked_reason = $2::text"
	    " WHERE id = $3::text AND revoked_at IS NULL" },
	/* every admin session made with another credential than ?3's */
	[STMT_SESSION_REVOKE_ADMIN_FP] = { .sqlite =
	    "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2"
	    " WHERE is_admin = 1 AND revoked_at IS NULL AND admin_fp IS NOT ?3",
	    .pg =
	    "UPDATE sessions SET revoked_at = " PG_T(1) ", revoked_reason = $2::text"
	    " WHERE is_admin = 1 AND revoked_at IS NULL"
	    " AND admin_fp IS DISTINCT FROM $3::text" },
	/* every session of a user but ?4 ("" keeps none) */
	[STMT_SESSION_REVOKE_USER] = { .sqlite =
	    "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2"
	    " WHERE user_id = ?3 AND id <> ?4 AND revoked_at IS NULL",
	    .pg =
	    "UPDATE sessions SET revoked_at = " PG_T(1) ", revoked_reason = $2::text"
	    " WHERE user_id = $3::bigint AND id <> $4::text AND revoked_at IS NULL" },
	/* ?1 the typed name's key, ?2 the account's, ?3 the window's start,
	 * ?4 the client's address group, ?5 the key of ?4's logins at every
	 * name ("addr:..."; NULL: none): the name's attempts from ?4, the
	 * oldest and the latest of them, the account's from everywhere, and
	 * ?5's and its oldest; ranges of login_failures_account_at */
	[STMT_LOGIN_FAIL_COUNT] = { .sqlite =
	    "SELECT coalesce(sum(account = ?1 AND remote_addr = ?4), 0),"
	    " coalesce(min(CASE WHEN account = ?1 AND remote_addr = ?4"
	    " THEN at END), 0),"
	    " coalesce(max(CASE WHEN account = ?1 AND remote_addr = ?4"
	    " THEN at END), 0),"
	    " coalesce(sum(account = ?2), 0),"
	    " coalesce(sum(account = ?5), 0),"
	    " coalesce(min(CASE WHEN account = ?5 THEN at END), 0)"
	    " FROM login_failures WHERE account IN (?1, ?2, ?5) AND at > ?3",
	    .pg =
	    "SELECT coalesce(sum((account = $1::text"
	    " AND remote_addr = $4::text)::int), 0),"
	    " coalesce(" PG_S("min(CASE WHEN account = $1::text"
	    " AND remote_addr = $4::text THEN at END)") ", 0),"
	    " coalesce(" PG_S("max(CASE WHEN account = $1::text"
	    " AND remote_addr = $4::text THEN at END)") ", 0),"
	    " coalesce(sum((account = $2::text)::int), 0),"
	    " coalesce(sum((account = $5::text)::int), 0),"
	    " coalesce(" PG_S("min(CASE WHEN account = $5::text THEN at END)")
	    ", 0) FROM login_failures WHERE account IN ($1::text, $2::text,"
	    " $5::text) AND at > " PG_T(3) },
	[STMT_LOGIN_FAIL_ADD] = { .sqlite =
	    "INSERT INTO login_failures (account, at, remote_addr)"
	    " VALUES (?, ?, ?)",
	    .pg =
	    "INSERT INTO login_failures (account, at, remote_addr)"
	    " VALUES ($1::text, " PG_T(2) ", $3::text) RETURNING id" },
	/* ?1 the typed name's key, ?2 the account's, ?3 the address group */
	[STMT_LOGIN_FAIL_CLEAR] = { .sqlite =
	    "DELETE FROM login_failures WHERE account IN (?1, ?2)"
	    " AND remote_addr = ?3", .pg = PG_SAME },
	/* the latest attempt of ?1: a success is no failure */
	[STMT_LOGIN_FAIL_UNCOUNT] = { .sqlite =
	    "DELETE FROM login_failures WHERE rowid = (SELECT max(rowid)"
	    " FROM login_failures WHERE account = ?1)",
	    .pg =
	    "DELETE FROM login_failures WHERE id = (SELECT max(id)"
	    " FROM login_failures WHERE account = $1::text)" },

	[STMT_GEN_GET] = { .sqlite = "SELECT gen FROM cache_gen WHERE family = ?",
	    .pg = PG_SAME },
	[STMT_GEN_BUMP] = { .sqlite =
	    "UPDATE cache_gen SET gen = gen + 1 WHERE family = ?",
	    .pg = PG_SAME },
	[STMT_LOT_INSERT] = { .sqlite =
	    "INSERT INTO lots (name, address, pin_code, price_cents,"
	    " number_of_spots, is_active, description, hours_start, hours_end,"
	    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    .pg =
	    "INSERT INTO lots (name, address, pin_code, price_cents,"
	    " number_of_spots, is_active, description, hours_start, hours_end,"
	    " created_at, updated_at) VALUES ($1::text, $2::text, $3::text,"
	    " $4::bigint, $5::bigint, $6::bigint, $7::text, $8::text, $9::text, "
	    PG_T(10) ", " PG_T(11) ") RETURNING id" },
	[STMT_LOT_GET] = { .sqlite =
	    "SELECT " LOT_COLS " FROM lots WHERE id = ? AND deleted_at IS NULL",
	    .pg =
	    "SELECT " PG_LOT_COLS " FROM lots WHERE id = $1::bigint"
	    " AND deleted_at IS NULL" },
	/* ?1 1: only active lots */
	[STMT_LOTS_LIST] = { .sqlite =
	    "SELECT " LOT_COLS " FROM lots WHERE deleted_at IS NULL"
	    " AND (?1 = 0 OR is_active = 1) ORDER BY id",
	    .pg =
	    "SELECT " PG_LOT_COLS " FROM lots WHERE deleted_at IS NULL"
	    " AND ($1::bigint = 0 OR is_active = 1) ORDER BY id" },
	/* each ?n NULL keeps the column; ?8 1 sets both hours from ?9, ?10 */
	[STMT_LOT_UPDATE] = { .sqlite =
	    "UPDATE lots SET name = coalesce(?1, name),"
	    " address = coalesce(?2, address),"
	    " pin_code = coalesce(?3, pin_code),"
	    " price_cents = coalesce(?4, price_cents),"
	    " is_active = coalesce(?5, is_active),"
	    " description = CASE WHEN ?6 THEN ?7 ELSE description END,"
	    " hours_start = CASE WHEN ?8 THEN ?9 ELSE hours_start END,"
	    " hours_end = CASE WHEN ?8 THEN ?10 ELSE hours_end END,"
	    " updated_at = ?11 WHERE id = ?12 AND deleted_at IS NULL",
	    .pg =
	    "UPDATE lots SET name = coalesce($1::text, name),"
	    " address = coalesce($2::text, address),"
	    " pin_code = coalesce($3::text, pin_code),"
	    " price_cents = coalesce($4::bigint, price_cents),"
	    " is_active = coalesce($5::bigint, is_active),"
	    " description = CASE WHEN $6::bigint <> 0 THEN $7::text"
	    " ELSE description END,"
	    " hours_start = CASE WHEN $8::bigint <> 0 THEN $9::text"
	    " ELSE hours_start END,"
	    " hours_end = CASE WHEN $8::bigint <> 0 THEN $10::text"
	    " ELSE hours_end END,"
	    " updated_at = " PG_T(11) " WHERE id = $12::bigint"
	    " AND deleted_at IS NULL" },
	[STMT_LOT_RESIZE] = { .sqlite =
	    "UPDATE lots SET number_of_spots = ?, updated_at = ? WHERE id = ?",
	    .pg =
	    "UPDATE lots SET number_of_spots = $1::bigint, updated_at = " PG_T(2)
	    " WHERE id = $3::bigint" },
	[STMT_LOT_HAS_HISTORY] = { .sqlite =
	    "SELECT 1 FROM reservations WHERE lot_id = ? LIMIT 1",
	    .pg = PG_SAME },
	[STMT_LOT_DELETE] = { .sqlite = "DELETE FROM lots WHERE id = ?",
	    .pg = PG_SAME },
	[STMT_LOT_SOFT_DELETE] = { .sqlite =
	    "UPDATE lots SET deleted_at = ?1, is_active = 0, updated_at = ?1"
	    " WHERE id = ?2",
	    .pg =
	    "UPDATE lots SET deleted_at = " PG_T(1) ", is_active = 0,"
	    " updated_at = " PG_T(1) " WHERE id = $2::bigint" },
	/* growing: spots removed by an earlier shrink come back first */
	[STMT_SPOTS_REVIVE] = { .sqlite =
	    "UPDATE spots SET removed_at = NULL WHERE lot_id = ?1"
	    " AND spot_number BETWEEN ?2 AND ?3 AND removed_at IS NOT NULL",
	    .pg = PG_SAME },
	/* spots ?2..?3 of lot ?1 that do not exist yet */
	[STMT_SPOTS_ADD] = { .sqlite =
	    "INSERT INTO spots (lot_id, spot_number)"
	    " WITH RECURSIVE n(x) AS (SELECT ?2 UNION ALL"
	    " SELECT x + 1 FROM n WHERE x < ?3)"
	    " SELECT ?1, x FROM n WHERE true"
	    " ON CONFLICT (lot_id, spot_number) DO NOTHING",
	    .pg =
	    "INSERT INTO spots (lot_id, spot_number)"
	    " SELECT $1::bigint, x FROM generate_series($2::bigint,"
	    " greatest($2::bigint, $3::bigint)) AS n(x)"
	    /* a conflicting row would spend an id of the sequence */
	    " WHERE NOT EXISTS (SELECT 1 FROM spots o WHERE o.lot_id = $1::bigint"
	    " AND o.spot_number = x) ORDER BY x"
	    " ON CONFLICT (lot_id, spot_number) DO NOTHING" },
	[STMT_SPOTS_OCCUPIED_ABOVE] = { .sqlite =
	    "SELECT count(*) FROM spots WHERE lot_id = ? AND spot_number > ?"
	    " AND status = 'O'", .pg = PG_SAME },
	/* shrinking: spots without history go, the others are marked */
	[STMT_SPOTS_DELETE_ABOVE] = { .sqlite =
	    "DELETE FROM spots WHERE lot_id = ?1 AND spot_number > ?2"
	    " AND NOT EXISTS (SELECT 1 FROM reservations r"
	    " WHERE r.spot_id = spots.id)", .pg = PG_SAME },
	[STMT_SPOTS_REMOVE_ABOVE] = { .sqlite =
	    "UPDATE spots SET removed_at = ?3 WHERE lot_id = ?1"
	    " AND spot_number > ?2 AND removed_at IS NULL",
	    .pg =
	    "UPDATE spots SET removed_at = " PG_T(3) " WHERE lot_id = $1::bigint"
	    " AND spot_number > $2::bigint AND removed_at IS NULL" },
	/* ?2 now, ?3 the end of the walk-in hold from now: a free spot that
	 * a hold meets in [?2, ?3) shows as reserved ('R') */
	[STMT_SPOTS_GRID] = { .sqlite =
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
	    .pg =
	    "SELECT s.id, s.spot_number, s.status, r.id, r.user_id,"
	    " u.username, r.vehicle_number, " PG_S("r.parking_ts") ","
	    " (s.status = 'A' AND coalesce((SELECT h.hold_end"
	    " FROM reservations h WHERE h.spot_id = s.id"
	    " AND h.hold_start IS NOT NULL AND h.hold_start < " PG_T(3)
	    " ORDER BY h.hold_start DESC LIMIT 1), to_timestamp(0))"
	    " > " PG_T(2) ")::int"
	    " FROM spots s"
	    " LEFT JOIN reservations r ON r.spot_id = s.id"
	    " AND r.status = 'active'"
	    " LEFT JOIN users u ON u.id = r.user_id"
	    " WHERE s.lot_id = $1::bigint AND s.removed_at IS NULL"
	    " ORDER BY s.spot_number" },
	/* 005: versions of lots, moved on by every booking and release */
	[STMT_LOT_VERSION] = { .sqlite =
	    "SELECT coalesce(max(version), -1) FROM lots WHERE id = ?",
	    .pg = PG_SAME },
	[STMT_LOTS_VERSION] = { .sqlite =
	    "SELECT coalesce(sum(version), 0) FROM lots",
	    .pg = "SELECT coalesce(sum(version), 0)::bigint FROM lots" },
	/* with the count of its reservations not yet checked in: none, and
	 * a walk-in need not look for holds or no-shows */
	[STMT_LOT_FOR_BOOKING] = { .sqlite =
	    "SELECT is_active, price_cents, name, resv_reserved FROM lots"
	    " WHERE id = ? AND deleted_at IS NULL",
	    .pg =
	    "SELECT is_active, price_cents, name, resv_reserved FROM lots"
	    " WHERE id = $1::bigint AND deleted_at IS NULL FOR UPDATE" },
	/* the lowest free spot that nothing holds in [?2, ?3) (the walk-in
	 * hold): spots_lot_status in order, and for each one seek of
	 * reservations_hold, the neighbour that starts last before ?3 (the
	 * stored holds of a spot never overlap: that one decides).  ?4 = 1:
	 * the lot has no reservation not checked in, so a spot not occupied
	 * holds nothing (active rows hold only occupied spots, finished
	 * ones nothing) and the seek is left out */
	[STMT_SPOT_FIRST_FREE] = { .sqlite =
	    "SELECT id, spot_number FROM spots s WHERE lot_id = ?1"
	    " AND status = 'A' AND removed_at IS NULL"
	    " AND (?4 OR coalesce((SELECT r.hold_end FROM reservations r"
	    " WHERE r.spot_id = s.id AND r.hold_start IS NOT NULL"
	    " AND r.hold_start < ?3 ORDER BY r.hold_start DESC LIMIT 1), 0)"
	    " <= ?2) ORDER BY spot_number LIMIT 1",
	    .pg =
	    "SELECT id, spot_number FROM spots s WHERE lot_id = $1::bigint"
	    " AND status = 'A' AND removed_at IS NULL"
	    " AND ($4::bigint <> 0 OR coalesce((SELECT r.hold_end"
	    " FROM reservations r"
	    " WHERE r.spot_id = s.id AND r.hold_start IS NOT NULL"
	    " AND r.hold_start < " PG_T(3) " ORDER BY r.hold_start DESC LIMIT 1),"
	    " to_timestamp(0)) <= " PG_T(2) ") ORDER BY spot_number LIMIT 1" },
	/* with the user's name, for the reservation a booking returns */
	[STMT_USER_ACTIVE_COUNT] = { .sqlite =
	    "SELECT count(*), (SELECT username FROM users WHERE id = ?1)"
	    " FROM reservations WHERE user_id = ?1 AND status = 'active'",
	    .pg = PG_SAME },
	/* a walk-in: it holds [?5, ?7) (sql/013) */
	[STMT_RESV_INSERT] = { .sqlite =
	    "INSERT INTO reservations (spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, hourly_cents, status, created_at,"
	    " updated_at, hold_start, hold_end)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?5, ?5, ?5, ?7)",
	    .pg =
	    "INSERT INTO reservations (spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, hourly_cents, status, created_at,"
	    " updated_at, hold_start, hold_end)"
	    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text, " PG_T(5) ","
	    " $6::bigint, 'active', " PG_T(5) ", " PG_T(5) ", " PG_T(5) ", "
	    PG_T(7) ") RETURNING id" },
	[STMT_RESV_GET] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.id = ?",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE r.id = $1::bigint" },
	/* ?1 the reservation, ?2 its owner */
	[STMT_RESV_TO_RELEASE] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.id = ?1"
	    " AND r.user_id = ?2",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE r.id = $1::bigint"
	    " AND r.user_id = $2::bigint" },
	[STMT_RESV_OLDEST_ACTIVE] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?"
	    " AND r.status = 'active' ORDER BY r.parking_ts, r.id LIMIT 1",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE r.user_id = $1::bigint"
	    " AND r.status = 'active' ORDER BY r.parking_ts, r.id LIMIT 1" },
	/* ?1 now, ?2 id: the cost is computed here, in integer cents: the
	 * hourly price times the started hours, at least one (a clock that
	 * went back counts as no time).  A walk-in pays from its arrival to
	 * its leaving; a checked-in reservation from min(start, arrival) to
	 * max(end, leaving) (sql/013).  The hold ends. */
	[STMT_RESV_COMPLETE] = { .sqlite =
	    "UPDATE reservations SET status = 'completed',"
	    " leaving_ts = max(?1, parking_ts),"
	    " cost_cents = hourly_cents * max(1,"
	    " (max(?1, parking_ts, coalesce(end_time, 0))"
	    " - min(parking_ts, coalesce(start_time, parking_ts)) + 3599)"
	    " / 3600), hold_start = NULL, hold_end = NULL,"
	    " updated_at = ?1 WHERE id = ?2 AND status = 'active'",
	    .pg =
	    "UPDATE reservations SET status = 'completed',"
	    " leaving_ts = greatest(" PG_T(1) ", parking_ts),"
	    " cost_cents = hourly_cents * greatest(1,"
	    " (greatest($1::bigint, " PG_S("parking_ts") ","
	    " coalesce(" PG_S("end_time") ", 0))"
	    " - least(" PG_S("parking_ts") ","
	    " " PG_S("coalesce(start_time, parking_ts)") ") + 3599)"
	    " / 3600), hold_start = NULL, hold_end = NULL,"
	    " updated_at = " PG_T(1) " WHERE id = $2::bigint AND status = 'active'" },
	/* what STMT_RESV_COMPLETE computed (RETURNING would cost an
	 * ephemeral table per statement in SQLite 3.40) */
	[STMT_RESV_CLOSED] = { .sqlite =
	    "SELECT leaving_ts, cost_cents, updated_at FROM reservations"
	    " WHERE id = ?",
	    .pg =
	    "SELECT " PG_S("leaving_ts") ", cost_cents, " PG_S("updated_at")
	    " FROM reservations WHERE id = $1::bigint" },
	/* newest first on reservations_user; ?2 a status or NULL */
	[STMT_RESV_LIST_USER] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?1"
	    " AND (?2 IS NULL OR r.status = ?2)"
	    " ORDER BY r.id DESC LIMIT ?3 OFFSET ?4",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE r.user_id = $1::bigint"
	    " AND ($2::text IS NULL OR r.status = $2::text)"
	    " ORDER BY r.id DESC LIMIT $3::bigint OFFSET $4::bigint" },
	/* from the counts on the user's row (007) and the user's active
	 * reservations, a few at most, on reservations_user_active; one
	 * row, 0 (NULL) for no such user */
	[STMT_RESV_COUNT_USER] = { .sqlite =
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
	    .pg =
	    "SELECT CASE WHEN $2::text IS NULL THEN u.resv_finished + a.n + b.n"
	    " WHEN $2::text = 'cancelled' THEN u.resv_cancelled"
	    " WHEN $2::text = 'no_show' THEN u.resv_no_show"
	    " WHEN $2::text = 'active' THEN a.n"
	    " WHEN $2::text = 'reserved' THEN b.n"
	    " WHEN $2::text = 'completed' THEN u.resv_finished - u.resv_cancelled"
	    " - u.resv_no_show"
	    " ELSE 0 END"
	    " FROM (SELECT count(*) AS n FROM reservations"
	    " WHERE user_id = $1::bigint AND status = 'active') a,"
	    " (SELECT count(*) AS n FROM reservations"
	    " WHERE user_id = $1::bigint AND status = 'reserved') b"
	    " LEFT JOIN users u ON u.id = $1::bigint" },
	/* filters ?1 lot, ?2 user, ?3 status, ?4..?5 parking time; NULL: any.
	 * "?n IS NULL OR" keeps SQLite from any index: these scan newest
	 * first and stop at the page, which is quick while the filter is
	 * met often; the _USER and _LOT variants below serve the filters
	 * that can be rare (t/11-plans). */
	[STMT_RESV_LIST_ADMIN] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE"
	    " (?1 IS NULL OR r.lot_id = ?1) AND (?2 IS NULL OR r.user_id = ?2)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)"
	    " ORDER BY r.id DESC LIMIT ?6 OFFSET ?7",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE"
	    " ($1::bigint IS NULL OR r.lot_id = $1::bigint)"
	    " AND ($2::bigint IS NULL OR r.user_id = $2::bigint)"
	    " AND ($3::text IS NULL OR r.status = $3::text)"
	    " AND ($4::bigint IS NULL OR r.parking_ts >= " PG_T(4) ")"
	    " AND ($5::bigint IS NULL OR r.parking_ts < " PG_T(5) ")"
	    " ORDER BY r.id DESC LIMIT $6::bigint OFFSET $7::bigint" },
	[STMT_RESV_COUNT_ADMIN] = { .sqlite =
	    "SELECT count(*) FROM reservations r WHERE"
	    " (?1 IS NULL OR r.lot_id = ?1) AND (?2 IS NULL OR r.user_id = ?2)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)",
	    .pg =
	    "SELECT count(*) FROM reservations r WHERE"
	    " ($1::bigint IS NULL OR r.lot_id = $1::bigint)"
	    " AND ($2::bigint IS NULL OR r.user_id = $2::bigint)"
	    " AND ($3::text IS NULL OR r.status = $3::text)"
	    " AND ($4::bigint IS NULL OR r.parking_ts >= " PG_T(4) ")"
	    " AND ($5::bigint IS NULL OR r.parking_ts < " PG_T(5) ")" },
	/* the same with a user (?2 set): on reservations_user, newest first */
	[STMT_RESV_LIST_ADMIN_USER] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?2"
	    " AND (?1 IS NULL OR r.lot_id = ?1)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)"
	    " ORDER BY r.id DESC LIMIT ?6 OFFSET ?7",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE r.user_id = $2::bigint"
	    " AND ($1::bigint IS NULL OR r.lot_id = $1::bigint)"
	    " AND ($3::text IS NULL OR r.status = $3::text)"
	    " AND ($4::bigint IS NULL OR r.parking_ts >= " PG_T(4) ")"
	    " AND ($5::bigint IS NULL OR r.parking_ts < " PG_T(5) ")"
	    " ORDER BY r.id DESC LIMIT $6::bigint OFFSET $7::bigint" },
	[STMT_RESV_COUNT_ADMIN_USER] = { .sqlite =
	    "SELECT count(*) FROM reservations r WHERE r.user_id = ?2"
	    " AND (?1 IS NULL OR r.lot_id = ?1)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)",
	    .pg =
	    "SELECT count(*) FROM reservations r WHERE r.user_id = $2::bigint"
	    " AND ($1::bigint IS NULL OR r.lot_id = $1::bigint)"
	    " AND ($3::text IS NULL OR r.status = $3::text)"
	    " AND ($4::bigint IS NULL OR r.parking_ts >= " PG_T(4) ")"
	    " AND ($5::bigint IS NULL OR r.parking_ts < " PG_T(5) ")" },
	/* the count with a lot (?1 set) and no user: the lot's rows only, on
	 * reservations_lot_parking (the list itself stays the scan above,
	 * which finds a page of a busy lot's rows in its first few hundred) */
	[STMT_RESV_COUNT_ADMIN_LOT] = { .sqlite =
	    "SELECT count(*) FROM reservations r WHERE r.lot_id = ?1"
	    " AND (?2 IS NULL OR r.user_id = ?2)"
	    " AND (?3 IS NULL OR r.status = ?3)"
	    " AND (?4 IS NULL OR r.parking_ts >= ?4)"
	    " AND (?5 IS NULL OR r.parking_ts < ?5)",
	    .pg =
	    "SELECT count(*) FROM reservations r WHERE r.lot_id = $1::bigint"
	    " AND ($2::bigint IS NULL OR r.user_id = $2::bigint)"
	    " AND ($3::text IS NULL OR r.status = $3::text)"
	    " AND ($4::bigint IS NULL OR r.parking_ts >= " PG_T(4) ")"
	    " AND ($5::bigint IS NULL OR r.parking_ts < " PG_T(5) ")" },
	/* the admin's count filtered by nothing but a lot (?1) or not even
	 * that, from the counts on the lots' rows (007) */
	[STMT_RESV_COUNT_ADMIN_LOTS] = { .sqlite =
	    "SELECT CASE WHEN ?3 IS NULL THEN sum(resv_count)"
	    " WHEN ?3 = 'cancelled' THEN sum(resv_cancelled)"
	    " WHEN ?3 = 'active' THEN sum(occupied)"
	    " WHEN ?3 = 'reserved' THEN sum(resv_reserved)"
	    " WHEN ?3 = 'no_show' THEN sum(resv_no_show)"
	    " WHEN ?3 = 'completed' THEN"
	    "  sum(resv_count) - sum(resv_cancelled) - sum(occupied)"
	    "  - sum(resv_reserved) - sum(resv_no_show)"
	    " ELSE 0 END FROM lots WHERE ?1 IS NULL OR id = ?1",
	    .pg =
	    "SELECT (CASE WHEN $3::text IS NULL THEN sum(resv_count)"
	    " WHEN $3::text = 'cancelled' THEN sum(resv_cancelled)"
	    " WHEN $3::text = 'active' THEN sum(occupied)"
	    " WHEN $3::text = 'reserved' THEN sum(resv_reserved)"
	    " WHEN $3::text = 'no_show' THEN sum(resv_no_show)"
	    " WHEN $3::text = 'completed' THEN"
	    "  sum(resv_count) - sum(resv_cancelled) - sum(occupied)"
	    "  - sum(resv_reserved) - sum(resv_no_show)"
	    " ELSE 0 END)::bigint FROM lots"
	    " WHERE ($1::bigint IS NULL OR id = $1::bigint)"
	    /* ?2 (the user filter, NULL here) is bound but unused: named so
	     * that PostgreSQL knows its type */
	    " AND ($2::bigint IS NULL OR $2::bigint IS NOT NULL)" },
	[STMT_SUM_COUNTS] = { .sqlite =
	    "SELECT (SELECT count(*) FROM users),"
	    " (SELECT count(*) FROM users WHERE is_active = 1),"
	    " (SELECT count(*) FROM lots WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(number_of_spots), 0) FROM lots"
	    " WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(occupied), 0) FROM lots"
	    " WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(resv_reserved), 0) FROM lots"
	    " WHERE deleted_at IS NULL)",
	    .pg =
	    "SELECT (SELECT count(*) FROM users),"
	    " (SELECT count(*) FROM users WHERE is_active = 1),"
	    " (SELECT count(*) FROM lots WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(number_of_spots), 0)::bigint FROM lots"
	    " WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(occupied), 0)::bigint FROM lots"
	    " WHERE deleted_at IS NULL),"
	    " (SELECT coalesce(sum(resv_reserved), 0)::bigint FROM lots"
	    " WHERE deleted_at IS NULL)" },
	/* revenue of reservations completed since ?1 */
	[STMT_SUM_REVENUE] = { .sqlite =
	    "SELECT coalesce(sum(cost_cents), 0) FROM reservations"
	    " WHERE status = 'completed' AND leaving_ts >= ?",
	    .pg =
	    "SELECT coalesce(sum(cost_cents), 0)::bigint FROM reservations"
	    " WHERE status = 'completed' AND leaving_ts >= " PG_T(1) },
	/* reservations made ahead that started in [?1, ?2]: no-shows, and
	 * those checked in (a window, and a car came); on
	 * reservations_parking, the 30 days the bookings per day read too */
	[STMT_SUM_AHEAD] = { .sqlite =
	    "SELECT coalesce(sum(status = 'no_show'), 0),"
	    " coalesce(sum(start_time IS NOT NULL AND (status = 'active'"
	    " OR status = 'completed')), 0)"
	    " FROM reservations WHERE parking_ts >= ?1 AND parking_ts <= ?2",
	    .pg =
	    "SELECT coalesce(sum((status = 'no_show')::int), 0),"
	    " coalesce(sum((start_time IS NOT NULL AND (status = 'active'"
	    " OR status = 'completed'))::int), 0)"
	    " FROM reservations WHERE parking_ts >= " PG_T(1)
	    " AND parking_ts <= " PG_T(2) },
	/* bookings per UTC day since ?1, on reservations_parking */
	[STMT_SUM_PER_DAY] = { .sqlite =
	    "SELECT parking_ts / 86400, count(*) FROM reservations"
	    " WHERE parking_ts >= ? GROUP BY parking_ts / 86400",
	    .pg =
	    "SELECT " PG_S("parking_ts") " / 86400, count(*) FROM reservations"
	    " WHERE parking_ts >= " PG_T(1) " GROUP BY 1 ORDER BY 1" },
	/* ?1 user, ?2 now: bookings, seconds parked, cents spent */
	/* bookings (not cancelled), seconds parked (the active ones until
	 * ?2, now) and money spent: the totals kept on the user's row (007)
	 * and the user's few active reservations */
	[STMT_SUM_USER] = { .sqlite =
	    "SELECT u.resv_finished - u.resv_cancelled + a.n,"
	    " u.parked_secs + a.secs, u.spent_cents"
	    " FROM (SELECT count(*) AS n, coalesce(sum(?2 - parking_ts), 0)"
	    " AS secs FROM reservations WHERE user_id = ?1"
	    " AND status = 'active') a LEFT JOIN users u ON u.id = ?1",
	    .pg =
	    "SELECT u.resv_finished - u.resv_cancelled + a.n,"
	    " u.parked_secs + a.secs, u.spent_cents"
	    " FROM (SELECT count(*) AS n, coalesce(sum($2::bigint"
	    " - " PG_S("parking_ts") "), 0)::bigint AS secs FROM reservations"
	    " WHERE user_id = $1::bigint AND status = 'active') a"
	    " LEFT JOIN users u ON u.id = $1::bigint" },
	[STMT_SUM_USER_ACTIVE] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?"
	    " AND r.status = 'active' ORDER BY r.parking_ts, r.id",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE r.user_id = $1::bigint"
	    " AND r.status = 'active' ORDER BY r.parking_ts, r.id" },

	/* a second message with the same key is the same message: kept once */
	[STMT_OUTBOX_ADD] = { .sqlite =
	    "INSERT INTO outbox (idem_key, to_addr, subject, body_text,"
	    " body_html, state, attempts, next_attempt_at, created_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, 'queued', 0, ?6, ?6)"
	    " ON CONFLICT (idem_key) DO NOTHING",
	    .pg =
	    "INSERT INTO outbox (idem_key, to_addr, subject, body_text,"
	    " body_html, state, attempts, next_attempt_at, created_at)"
	    " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, 'queued',"
	    " 0, " PG_T(6) ", " PG_T(6) ")"
	    " ON CONFLICT (idem_key) DO NOTHING RETURNING id" },
	/* ?1 the job's lock number (db_job_lock()): PostgreSQL's session
	 * advisory lock ("park", ?1), 1 when taken, 0 when another session
	 * holds it; SQLite has no lock to take (one host) and says 1 */
	[STMT_JOB_LOCK] = { .sqlite = "SELECT ?1 > 0",
	    .pg = "SELECT pg_try_advisory_lock(1885434475,"
	    " $1::bigint::integer)::int" },
	[STMT_JOB_START] = { .sqlite =
	    "INSERT INTO job_runs (job, started_at, status)"
	    " VALUES (?, ?, 'running')",
	    .pg =
	    "INSERT INTO job_runs (job, started_at, status)"
	    " VALUES ($1::text, " PG_T(2) ", 'running') RETURNING id" },
	[STMT_JOB_FINISH] = { .sqlite =
	    "UPDATE job_runs SET finished_at = ?1, items = ?2, errors = ?3,"
	    " status = ?4, message = ?5 WHERE id = ?6",
	    .pg =
	    "UPDATE job_runs SET finished_at = " PG_T(1) ", items = $2::bigint,"
	    " errors = $3::bigint, status = $4::text, message = $5::text"
	    " WHERE id = $6::bigint" },

	/* db-jobs.c: delivery.  A claimed message is 'sending' with
	 * next_attempt_at = the end of its lease, which is also the claim's
	 * stamp: each later change names it, so a run whose claim was taken
	 * over (after the lease ran out) changes nothing. */
	/* ?1 now.  A reservation's reminder ("resv-remind:<id>", parkctl
	 * tick) still queued when the reservation is no longer 'reserved'
	 * (cancelled, by its user or with its lot; checked in; a no-show)
	 * is not sent: failed with the reason, in the claim's transaction. */
	[STMT_OUTBOX_DROP_STALE] = { .sqlite =
	    "UPDATE outbox SET state = 'failed', next_attempt_at = ?1,"
	    " last_error = 'not sent: the reservation is no longer reserved'"
	    " WHERE state = 'queued' AND idem_key GLOB 'resv-remind:*'"
	    " AND NOT EXISTS (SELECT 1 FROM reservations r"
	    " WHERE r.id = CAST(substr(outbox.idem_key, 13) AS INTEGER)"
	    " AND r.status = 'reserved')",
	    .pg =
	    "UPDATE outbox SET state = 'failed', next_attempt_at = " PG_T(1) ","
	    " last_error = 'not sent: the reservation is no longer reserved'"
	    " WHERE state = 'queued' AND idem_key LIKE 'resv-remind:%'"
	    " AND NOT EXISTS (SELECT 1 FROM reservations r"
	    " WHERE r.id = substring(outbox.idem_key"
	    " FROM '^.{12}([0-9]{1,18})')::bigint AND r.status = 'reserved')" },
	/* ?1 now, ?2 at most: queued and due, or left sending by a run that
	 * died (lease over) */
	[STMT_OUTBOX_DUE] = { .sqlite =
	    "SELECT id, state = 'sending', attempts, idem_key, to_addr,"
	    " subject, body_text, body_html FROM outbox"
	    " WHERE state IN ('queued', 'sending') AND next_attempt_at <= ?1"
	    " ORDER BY next_attempt_at, id LIMIT ?2",
	    .pg =
	    "SELECT id, (state = 'sending')::int, attempts, idem_key, to_addr,"
	    " subject, body_text, body_html FROM outbox"
	    " WHERE state IN ('queued', 'sending')"
	    " AND next_attempt_at <= " PG_T(1)
	    " ORDER BY next_attempt_at, id LIMIT $2::bigint FOR UPDATE SKIP LOCKED" },
	/* ?1 id, ?2 the claim (lease end), ?3 now */
	[STMT_OUTBOX_CLAIM] = { .sqlite =
	    "UPDATE outbox SET state = 'sending', attempts = attempts + 1,"
	    " next_attempt_at = ?2 WHERE id = ?1"
	    " AND state IN ('queued', 'sending') AND next_attempt_at <= ?3",
	    .pg =
	    "UPDATE outbox SET state = 'sending', attempts = attempts + 1,"
	    " next_attempt_at = " PG_T(2) " WHERE id = $1::bigint"
	    " AND state IN ('queued', 'sending') AND next_attempt_at <= " PG_T(3) },
	/* ?1 id, ?2 the claim, ?3 now.  A reset or verification link's
	 * token is kept nowhere once its mail is out (or failed for good):
	 * the table account_tokens holds only its hash. */
	[STMT_OUTBOX_SENT] = { .sqlite =
	    "UPDATE outbox SET state = 'sent', sent_at = ?3,"
	    " next_attempt_at = ?3, last_error = NULL,"
	    " " OUTBOX_FORGET_LINK
	    " WHERE id = ?1 AND state = 'sending' AND next_attempt_at = ?2",
	    .pg =
	    "UPDATE outbox SET state = 'sent', sent_at = " PG_T(3) ","
	    " next_attempt_at = " PG_T(3) ", last_error = NULL,"
	    " " PG_OUTBOX_FORGET_LINK
	    " WHERE id = $1::bigint AND state = 'sending'"
	    " AND next_attempt_at = " PG_T(2) },
	/* ?1 id, ?2 the claim, ?3 next attempt, ?4 why */
	[STMT_OUTBOX_RETRY] = { .sqlite =
	    "UPDATE outbox SET state = 'queued', next_attempt_at = ?3,"
	    " last_error = ?4"
	    " WHERE id = ?1 AND state = 'sending' AND next_attempt_at = ?2",
	    .pg =
	    "UPDATE outbox SET state = 'queued', next_attempt_at = " PG_T(3) ","
	    " last_error = $4::text"
	    " WHERE id = $1::bigint AND state = 'sending'"
	    " AND next_attempt_at = " PG_T(2) },
	/* ?1 id, ?2 the claim, ?3 now, ?4 why */
	[STMT_OUTBOX_FAIL] = { .sqlite =
	    "UPDATE outbox SET state = 'failed', next_attempt_at = ?3,"
	    " last_error = ?4, " OUTBOX_FORGET_LINK
	    " WHERE id = ?1 AND state = 'sending' AND next_attempt_at = ?2",
	    .pg =
	    "UPDATE outbox SET state = 'failed', next_attempt_at = " PG_T(3) ","
	    " last_error = $4::text, " PG_OUTBOX_FORGET_LINK
	    " WHERE id = $1::bigint AND state = 'sending'"
	    " AND next_attempt_at = " PG_T(2) },
	/* ?1 id, ?2 the claim, ?3 due again: the attempt was not made */
	[STMT_OUTBOX_RELEASE] = { .sqlite =
	    "UPDATE outbox SET state = 'queued', next_attempt_at = ?3,"
	    " attempts = max(attempts - 1, 0)"
	    " WHERE id = ?1 AND state = 'sending' AND next_attempt_at = ?2",
	    .pg =
	    "UPDATE outbox SET state = 'queued', next_attempt_at = " PG_T(3) ","
	    " attempts = greatest(attempts - 1, 0)"
	    " WHERE id = $1::bigint AND state = 'sending'"
	    " AND next_attempt_at = " PG_T(2) },

	/* db-batch.c */
	/* ?1..?2 created in (since, until], ?3 at most */
	[STMT_BATCH_NEW_LOTS] = { .sqlite =
	    "SELECT id, name, address, number_of_spots, occupied, price_cents"
	    " FROM lots WHERE deleted_at IS NULL AND is_active = 1"
	    " AND created_at > ?1 AND created_at <= ?2 ORDER BY id LIMIT ?3",
	    .pg =
	    "SELECT id, name, address, number_of_spots, occupied, price_cents"
	    " FROM lots WHERE deleted_at IS NULL AND is_active = 1"
	    " AND created_at > " PG_T(1) " AND created_at <= " PG_T(2)
	    " ORDER BY id LIMIT $3::bigint" },
	[STMT_BATCH_FREE_SPOTS] = { .sqlite =
	    "SELECT coalesce(sum(number_of_spots - occupied), 0), count(*)"
	    " FROM lots WHERE deleted_at IS NULL AND is_active = 1",
	    .pg =
	    "SELECT coalesce(sum(number_of_spots - occupied), 0)::bigint, count(*)"
	    " FROM lots WHERE deleted_at IS NULL AND is_active = 1" },
	/* active users after id ?1 without a reminder on day ?2 whose last
	 * booking (else registration) is at or before ?3, or all when ?4;
	 * ?5 at most.  Returns the last booking time (NULL: never). */
	[STMT_BATCH_REMIND_DUE] = { .sqlite =
	    "SELECT u.id, u.username, u.email, (SELECT max(r.parking_ts)"
	    " FROM reservations r WHERE r.user_id = u.id), u.created_at"
	    " FROM users u WHERE u.is_active = 1 AND u.id > ?1"
	    " AND NOT EXISTS (SELECT 1 FROM reminders_sent s"
	    " WHERE s.user_id = u.id AND s.day = ?2)"
	    " AND (?4 OR coalesce((SELECT max(r.parking_ts) FROM reservations r"
	    " WHERE r.user_id = u.id), u.created_at) <= ?3)"
	    " AND (?6 = 0 OR u.email_verified = 1)"
	    " ORDER BY u.id LIMIT ?5",
	    .pg =
	    "SELECT u.id, u.username, u.email, (SELECT " PG_S("max(r.parking_ts)")
	    " FROM reservations r WHERE r.user_id = u.id), " PG_S("u.created_at")
	    " FROM users u WHERE u.is_active = 1 AND u.id > $1::bigint"
	    " AND NOT EXISTS (SELECT 1 FROM reminders_sent s"
	    " WHERE s.user_id = u.id AND s.day = $2::text)"
	    " AND ($4::bigint <> 0 OR coalesce((SELECT max(r.parking_ts)"
	    " FROM reservations r WHERE r.user_id = u.id), u.created_at)"
	    " <= " PG_T(3) ")"
	    " AND ($6::bigint = 0 OR u.email_verified = 1)"
	    " ORDER BY u.id LIMIT $5::bigint" },
	/* the same conditions, checked again inside the write transaction
	 * (?5 as ?6 above: an address changed since the selection is not
	 * mailed): one row (user ?1, day ?2) or none */
	[STMT_BATCH_REMIND_MARK] = { .sqlite =
	    "INSERT INTO reminders_sent (user_id, day)"
	    " SELECT u.id, ?2 FROM users u WHERE u.id = ?1 AND u.is_active = 1"
	    " AND (?4 OR coalesce((SELECT max(r.parking_ts) FROM reservations r"
	    " WHERE r.user_id = u.id), u.created_at) <= ?3)"
	    " AND (?5 = 0 OR u.email_verified = 1)"
	    " ON CONFLICT (user_id, day) DO NOTHING",
	    .pg =
	    "INSERT INTO reminders_sent (user_id, day)"
	    " SELECT u.id, $2::text FROM users u WHERE u.id = $1::bigint"
	    " AND u.is_active = 1"
	    " AND ($4::bigint <> 0 OR coalesce((SELECT max(r.parking_ts)"
	    " FROM reservations r WHERE r.user_id = u.id), u.created_at)"
	    " <= " PG_T(3) ")"
	    " AND ($5::bigint = 0 OR u.email_verified = 1)"
	    " ON CONFLICT (user_id, day) DO NOTHING" },
	/* active users after id ?1 without the report of month ?2 who
	 * parked in [?3, ?4); ?5 at most */
	[STMT_BATCH_REPORT_DUE] = { .sqlite =
	    "SELECT u.id, u.username, u.email FROM users u"
	    " WHERE u.is_active = 1 AND u.id > ?1"
	    " AND NOT EXISTS (SELECT 1 FROM reports_sent s"
	    " WHERE s.user_id = u.id AND s.month = ?2)"
	    " AND EXISTS (SELECT 1 FROM reservations r WHERE r.user_id = u.id"
	    " AND r.parking_ts >= ?3 AND r.parking_ts < ?4"
	    " AND r.status <> 'cancelled' AND r.status <> 'reserved')"
	    " AND (?6 = 0 OR u.email_verified = 1)"
	    " ORDER BY u.id LIMIT ?5",
	    .pg =
	    "SELECT u.id, u.username, u.email FROM users u"
	    " WHERE u.is_active = 1 AND u.id > $1::bigint"
	    " AND NOT EXISTS (SELECT 1 FROM reports_sent s"
	    " WHERE s.user_id = u.id AND s.month = $2::text)"
	    " AND EXISTS (SELECT 1 FROM reservations r WHERE r.user_id = u.id"
	    " AND r.parking_ts >= " PG_T(3) " AND r.parking_ts < " PG_T(4)
	    " AND r.status <> 'cancelled' AND r.status <> 'reserved')"
	    " AND ($6::bigint = 0 OR u.email_verified = 1)"
	    " ORDER BY u.id LIMIT $5::bigint" },
	/* user ?1's reservations parked (or, no-shows, due to start) in
	 * [?2, ?3), oldest first; not those cancelled or still waiting */
	[STMT_BATCH_REPORT_RESV] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?1"
	    " AND r.parking_ts >= ?2 AND r.parking_ts < ?3"
	    " AND r.status <> 'cancelled' AND r.status <> 'reserved'"
	    " ORDER BY r.parking_ts, r.id",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE r.user_id = $1::bigint"
	    " AND r.parking_ts >= " PG_T(2) " AND r.parking_ts < " PG_T(3)
	    " AND r.status <> 'cancelled' AND r.status <> 'reserved'"
	    " ORDER BY r.parking_ts, r.id" },
	/* ?3 1 when REQUIRE_EMAIL_VERIFICATION is on */
	[STMT_BATCH_REPORT_MARK] = { .sqlite =
	    "INSERT INTO reports_sent (user_id, month)"
	    " SELECT id, ?2 FROM users WHERE id = ?1 AND is_active = 1"
	    " AND (?3 = 0 OR email_verified = 1)"
	    " ON CONFLICT (user_id, month) DO NOTHING",
	    .pg =
	    "INSERT INTO reports_sent (user_id, month)"
	    " SELECT id, $2::text FROM users WHERE id = $1::bigint"
	    " AND is_active = 1 AND ($3::bigint = 0 OR email_verified = 1)"
	    " ON CONFLICT (user_id, month) DO NOTHING" },
	/* cleanup: each deletes at most ?2 rows older than ?1 */
	[STMT_BATCH_CLEAN_OUTBOX] = { .sqlite =
	    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
	    " WHERE state IN ('sent', 'failed')"
	    " AND coalesce(sent_at, created_at) < ?1 LIMIT ?2)",
	    .pg =
	    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
	    " WHERE state IN ('sent', 'failed')"
	    " AND coalesce(sent_at, created_at) < " PG_T(1) " LIMIT $2::bigint)" },
	[STMT_BATCH_CLEAN_LOGIN_FAILURES] = { .sqlite =
	    "DELETE FROM login_failures WHERE rowid IN (SELECT rowid"
	    " FROM login_failures WHERE at < ?1 LIMIT ?2)",
	    .pg =
	    "DELETE FROM login_failures WHERE id IN (SELECT id"
	    " FROM login_failures WHERE at < " PG_T(1) " LIMIT $2::bigint)" },
	/* expired, or revoked, before ?1 */
	[STMT_BATCH_CLEAN_SESSIONS] = { .sqlite =
	    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
	    " WHERE expires_at < ?1 OR revoked_at < ?1 LIMIT ?2)",
	    .pg =
	    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
	    " WHERE expires_at < " PG_T(1) " OR revoked_at < " PG_T(1)
	    " LIMIT $2::bigint)" },
	/* the newest run of each job stays, however old */
	[STMT_BATCH_CLEAN_JOB_RUNS] = { .sqlite =
	    "DELETE FROM job_runs WHERE id IN (SELECT id FROM job_runs"
	    " WHERE started_at < ?1 AND status <> 'running'"
	    " AND id NOT IN (SELECT max(id) FROM job_runs GROUP BY job)"
	    " LIMIT ?2)",
	    .pg =
	    "DELETE FROM job_runs WHERE id IN (SELECT id FROM job_runs"
	    " WHERE started_at < " PG_T(1) " AND status <> 'running'"
	    " AND id NOT IN (SELECT max(id) FROM job_runs GROUP BY job)"
	    " LIMIT $2::bigint)" },
	/* ?1 a day YYYY-MM-DD */
	[STMT_BATCH_CLEAN_REMINDERS] = { .sqlite =
	    "DELETE FROM reminders_sent WHERE rowid IN (SELECT rowid"
	    " FROM reminders_sent WHERE day < ?1 LIMIT ?2)",
	    .pg =
	    "DELETE FROM reminders_sent WHERE (user_id, day) IN (SELECT user_id,"
	    " day FROM reminders_sent WHERE day < $1::text LIMIT $2::bigint)" },
	/* runs still "running" since before ?1: their process is gone */
	[STMT_BATCH_STALE_RUNS] = { .sqlite =
	    "UPDATE job_runs SET status = 'failed',"
	    " message = 'did not finish (killed or crashed)'"
	    " WHERE status = 'running' AND started_at < ?1",
	    .pg =
	    "UPDATE job_runs SET status = 'failed',"
	    " message = 'did not finish (killed or crashed)'"
	    " WHERE status = 'running' AND started_at < " PG_T(1) },
	[STMT_BATCH_CHECKPOINT] = { .sqlite = "PRAGMA wal_checkpoint(TRUNCATE)",
	    .pg = "SELECT 0, 0, 0" },
	/* a consistent copy of a live database; ?1 the new file */
	[STMT_BATCH_VACUUM_INTO] = { .sqlite = "VACUUM INTO ?1",
	    .pg = "SELECT $1::text WHERE false" },
	/* run on the copy, through a read-only connection */
	[STMT_BATCH_INTEGRITY] = { .sqlite = "PRAGMA integrity_check",
	    .pg = "SELECT 'ok'" },
	/* db-sys.c: the newest run of each job, ?1 at most */
	[STMT_STATS_JOBS] = { .sqlite =
	    "SELECT job, started_at, finished_at, items, errors, status,"
	    " message FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs"
	    " GROUP BY job) ORDER BY job LIMIT ?1",
	    .pg =
	    "SELECT job, " PG_S("started_at") ", " PG_S("finished_at") ", items,"
	    " errors, status, message FROM job_runs WHERE id IN (SELECT max(id)"
	    " FROM job_runs GROUP BY job) ORDER BY job LIMIT $1::bigint" },

	/* db-sys.c: GET /metrics.  Every lot, deleted ones included (their
	 * totals stay counted), with its spots not occupied now, its active
	 * and upcoming reservations (the counts the triggers keep on the row),
	 * whether it is deleted, and its no-shows and revenue so far (014's
	 * counters): one row read per lot. */
	[STMT_METRICS_LOTS] = { .sqlite =
	    "SELECT id, number_of_spots - occupied, occupied, resv_reserved,"
	    " deleted_at IS NOT NULL, no_shows_total, revenue_cents_total"
	    " FROM lots ORDER BY id",
	    .pg =
	    "SELECT id, number_of_spots - occupied, occupied, resv_reserved,"
	    " (deleted_at IS NOT NULL)::int, no_shows_total,"
	    " revenue_cents_total FROM lots ORDER BY id" },
	/* the outbox by state (queued, sending, sent, failed) and the exports
	 * by state (PENDING, PROGRESS, SUCCESS, FAILURE): the live states are
	 * counted on outbox_due and export_jobs_state (the queue's depth), the
	 * states that keep history are one row each of metrics_counts (014's
	 * triggers), so no count grows with the history kept */
	[STMT_METRICS_QUEUES] = { .sqlite =
	    "SELECT (SELECT count(*) FROM outbox WHERE state = 'queued'),"
	    " (SELECT count(*) FROM outbox WHERE state = 'sending'),"
	    " (SELECT n FROM metrics_counts WHERE name = 'outbox sent'),"
	    " (SELECT n FROM metrics_counts WHERE name = 'outbox failed'),"
	    " (SELECT count(*) FROM export_jobs WHERE state = 'PENDING'),"
	    " (SELECT count(*) FROM export_jobs WHERE state = 'PROGRESS'),"
	    " (SELECT n FROM metrics_counts WHERE name = 'exports SUCCESS'),"
	    " (SELECT n FROM metrics_counts WHERE name = 'exports FAILURE')",
	    .pg = PG_SAME },
	/* when job ?1 last finished well: one seek of job_runs_ok (014), which
	 * holds the good runs only, however many failed since */
	[STMT_METRICS_JOB_OK] = { .sqlite =
	    "SELECT finished_at FROM job_runs WHERE job = ?1 AND status = 'ok'"
	    " ORDER BY id DESC LIMIT 1",
	    .pg =
	    "SELECT " PG_S("finished_at") " FROM job_runs WHERE job = $1::text"
	    " AND status = 'ok' ORDER BY id DESC LIMIT 1" },

	/* db-import.c */
	/* ?1 source, ?2 kind, ?3 old id */
	[STMT_IMPORT_MAP_GET] = { .sqlite =
	    "SELECT new_id FROM import_map"
	    " WHERE source = ?1 AND kind = ?2 AND old_id = ?3", .pg = PG_SAME },
	/* a row imported again (it was deleted in parkd) replaces its entry */
	[STMT_IMPORT_MAP_PUT] = { .sqlite =
	    "INSERT OR REPLACE INTO import_map (source, kind, old_id, new_id)"
	    " VALUES (?1, ?2, ?3, ?4)",
	    .pg =
	    "INSERT INTO import_map (source, kind, old_id, new_id)"
	    " VALUES ($1::text, $2::text, $3::bigint, $4::bigint)"
	    " ON CONFLICT (source, kind, old_id)"
	    " DO UPDATE SET new_id = excluded.new_id" },
	[STMT_IMPORT_OTHER_SOURCES] = { .sqlite =
	    "SELECT count(DISTINCT source) FROM import_map WHERE source <> ?",
	    .pg = PG_SAME },
	/* ?1 kind, ?2 id: does the row exist (deleted lots included)? */
	[STMT_IMPORT_ROW_EXISTS] = { .sqlite =
	    "SELECT CASE ?1"
	    " WHEN 'user' THEN EXISTS (SELECT 1 FROM users WHERE id = ?2)"
	    " WHEN 'lot' THEN EXISTS (SELECT 1 FROM lots WHERE id = ?2)"
	    " WHEN 'spot' THEN EXISTS (SELECT 1 FROM spots WHERE id = ?2)"
	    " WHEN 'reservation' THEN"
	    " EXISTS (SELECT 1 FROM reservations WHERE id = ?2)"
	    " ELSE 0 END",
	    .pg =
	    "SELECT CASE $1::text"
	    " WHEN 'user' THEN EXISTS (SELECT 1 FROM users"
	    " WHERE id = $2::bigint)::int"
	    " WHEN 'lot' THEN EXISTS (SELECT 1 FROM lots"
	    " WHERE id = $2::bigint)::int"
	    " WHEN 'spot' THEN EXISTS (SELECT 1 FROM spots"
	    " WHERE id = $2::bigint)::int"
	    " WHEN 'reservation' THEN EXISTS (SELECT 1 FROM reservations"
	    " WHERE id = $2::bigint)::int"
	    " ELSE 0 END" },
	[STMT_IMPORT_USER_BY_EMAIL] = { .sqlite =
	    "SELECT id FROM users WHERE email = ?", .pg = PG_SAME },
	/* ?1 the old id to keep, or NULL for a new one */
	[STMT_IMPORT_USER_INSERT] = { .sqlite =
	    "INSERT INTO users (id, username, email, password_hash, phone,"
	    " is_active, created_at, updated_at, last_login)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    .pg =
	    "INSERT INTO users (id, username, email, password_hash, phone,"
	    " is_active, created_at, updated_at, last_login)"
	    " VALUES (" PG_KEEP_ID("users") ", $2::text, $3::text, $4::text,"
	    " $5::text, $6::bigint, " PG_T(7) ", " PG_T(8) ", " PG_T(9) ")"
	    " RETURNING id" },
	[STMT_IMPORT_LOT_INSERT] = { .sqlite =
	    "INSERT INTO lots (id, name, address, pin_code, price_cents,"
	    " number_of_spots, is_active, description, hours_start, hours_end,"
	    " created_at, updated_at)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    .pg =
	    "INSERT INTO lots (id, name, address, pin_code, price_cents,"
	    " number_of_spots, is_active, description, hours_start, hours_end,"
	    " created_at, updated_at)"
	    " VALUES (" PG_KEEP_ID("lots") ", $2::text, $3::text, $4::text,"
	    " $5::bigint, $6::bigint, $7::bigint, $8::text, $9::text, $10::text, "
	    PG_T(11) ", " PG_T(12) ") RETURNING id" },
	[STMT_IMPORT_SPOT_INSERT] = { .sqlite =
	    "INSERT INTO spots (id, lot_id, spot_number) VALUES (?, ?, ?)",
	    .pg =
	    "INSERT INTO spots (id, lot_id, spot_number)"
	    " VALUES (" PG_KEEP_ID("spots") ", $2::bigint, $3::bigint) RETURNING id" },
	/* ?1 lot, ?2 spot number: a spot that is not removed */
	[STMT_IMPORT_SPOT_BY_NUMBER] = { .sqlite =
	    "SELECT id FROM spots WHERE lot_id = ?1 AND spot_number = ?2"
	    " AND removed_at IS NULL", .pg = PG_SAME },
	/* can the spot take an active reservation (not removed, lot not
	 * deleted), and since when is it occupied (NULL: free)? */
	[STMT_IMPORT_SPOT_STATE] = { .sqlite =
	    "SELECT s.removed_at IS NULL AND l.deleted_at IS NULL,"
	    " (SELECT r.parking_ts FROM reservations r WHERE r.spot_id = s.id"
	    " AND r.status = 'active')"
	    " FROM spots s JOIN lots l ON l.id = s.lot_id WHERE s.id = ?",
	    .pg =
	    "SELECT (s.removed_at IS NULL AND l.deleted_at IS NULL)::int,"
	    " (SELECT " PG_S("r.parking_ts") " FROM reservations r"
	    " WHERE r.spot_id = s.id AND r.status = 'active')"
	    " FROM spots s JOIN lots l ON l.id = s.lot_id WHERE s.id = $1::bigint" },
	[STMT_IMPORT_RESV_INSERT] = { .sqlite =
	    "INSERT INTO reservations (id, spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, leaving_ts, hourly_cents, cost_cents,"
	    " status, remarks, created_at, updated_at, vehicle_model,"
	    " vehicle_color, expected_leaving_ts)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    .pg =
	    "INSERT INTO reservations (id, spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, leaving_ts, hourly_cents, cost_cents,"
	    " status, remarks, created_at, updated_at, vehicle_model,"
	    " vehicle_color, expected_leaving_ts)"
	    " VALUES (" PG_KEEP_ID("reservations") ", $2::bigint, $3::bigint,"
	    " $4::bigint, $5::text, " PG_T(6) ", " PG_T(7) ", $8::bigint,"
	    " $9::bigint, $10::text, $11::text, " PG_T(12) ", " PG_T(13) ","
	    " $14::text, $15::text, " PG_T(16) ") RETURNING id" },
	/* a reservation imported before sql/010-old-keys.sql: which of the
	 * old keys it lacks, and its remarks */
	[STMT_IMPORT_RESV_OLD_KEYS] = { .sqlite =
	    "SELECT vehicle_model IS NULL, vehicle_color IS NULL,"
	    " expected_leaving_ts IS NULL, remarks FROM reservations"
	    " WHERE id = ?",
	    .pg =
	    "SELECT (vehicle_model IS NULL)::int, (vehicle_color IS NULL)::int,"
	    " (expected_leaving_ts IS NULL)::int, remarks FROM reservations"
	    " WHERE id = $1::bigint" },
	/* ?1 id, ?2 model, ?3 colour, ?4 expected time: each only where
	 * NULL; ?5 the remarks */
	[STMT_IMPORT_RESV_BACKFILL] = { .sqlite =
	    "UPDATE reservations SET"
	    " vehicle_model = coalesce(vehicle_model, ?2),"
	    " vehicle_color = coalesce(vehicle_color, ?3),"
	    " expected_leaving_ts = coalesce(expected_leaving_ts, ?4),"
	    " remarks = ?5 WHERE id = ?1",
	    .pg =
	    "UPDATE reservations SET"
	    " vehicle_model = coalesce(vehicle_model, $2::text),"
	    " vehicle_color = coalesce(vehicle_color, $3::text),"
	    " expected_leaving_ts = coalesce(expected_leaving_ts, " PG_T(4) "),"
	    " remarks = $5::text WHERE id = $1::bigint" },
	/* before the import's rows: each sequence at its table's largest
	 * id + 1, as SQLite's rowid, whatever rolled-back transactions
	 * spent (PG_KEEP_ID; SQLite needs nothing) */
	[STMT_IMPORT_SYNC_IDS] = { .sqlite = "SELECT 1",
	    .pg = "SELECT 1 FROM parkd_sync_ids()" },

	/* db-exports.c: CSV export jobs */
	/* ?1 user, ?2 a day ago: jobs queued or running, jobs of the day */
	[STMT_EXPORT_USER_COUNTS] = { .sqlite =
	    "SELECT coalesce(sum(state IN ('PENDING', 'PROGRESS')), 0),"
	    " coalesce(sum(created_at > ?2), 0)"
	    " FROM export_jobs WHERE user_id = ?1",
	    .pg =
	    "SELECT coalesce(sum((state IN ('PENDING', 'PROGRESS'))::int), 0),"
	    " coalesce(sum((created_at > " PG_T(2) ")::int), 0)"
	    " FROM export_jobs WHERE user_id = $1::bigint" },
	[STMT_EXPORT_INSERT] = { .sqlite =
	    "INSERT INTO export_jobs (id, user_id, email, state, progress,"
	    " attempts, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, 'PENDING', 0, 0, ?4, ?4)",
	    .pg =
	    "INSERT INTO export_jobs (id, user_id, email, state, progress,"
	    " attempts, created_at, updated_at)"
	    " VALUES ($1::text, $2::bigint, $3::text, 'PENDING', 0, 0, " PG_T(4) ","
	    " " PG_T(4) ")" },
	/* every read of a job names its owner: another user's is not found */
	[STMT_EXPORT_GET] = { .sqlite =
	    "SELECT " EXPORT_COLS " FROM export_jobs WHERE id = ?1"
	    " AND user_id = ?2",
	    .pg =
	    "SELECT " PG_EXPORT_COLS " FROM export_jobs WHERE id = $1::text"
	    " AND user_id = $2::bigint" },
	[STMT_EXPORT_BY_FILE] = { .sqlite =
	    "SELECT " EXPORT_COLS " FROM export_jobs WHERE filename = ?1"
	    " AND user_id = ?2 AND state = 'SUCCESS'",
	    .pg =
	    "SELECT " PG_EXPORT_COLS " FROM export_jobs WHERE filename = $1::text"
	    " AND user_id = $2::bigint AND state = 'SUCCESS'" },
	[STMT_EXPORT_LINK_OWNER] = { .sqlite =
	    "SELECT e.user_id, u.is_active FROM export_jobs e"
	    " JOIN users u ON u.id = e.user_id"
	    " WHERE e.id = ?1 AND e.filename = ?2 AND e.state = 'SUCCESS'",
	    .pg = PG_SAME },
	/* ?1 claims older than this are stale: their runner died */
	/* The e-mail goes to the account's address as it is now, whatever
	 * the job stored (#14: jobs queued before took any address). */
	[STMT_EXPORT_NEXT] = { .sqlite =
	    "SELECT e.id, e.user_id, u.username, u.email, e.attempts,"
	    " u.is_active, u.email_verified"
	    " FROM export_jobs e JOIN users u ON u.id = e.user_id"
	    " WHERE e.state = 'PENDING'"
	    " OR (e.state = 'PROGRESS' AND e.claimed_at < ?1)"
	    " ORDER BY e.created_at, e.id LIMIT 1",
	    .pg =
	    "SELECT e.id, e.user_id, u.username, u.email, e.attempts,"
	    " u.is_active, u.email_verified"
	    " FROM export_jobs e JOIN users u ON u.id = e.user_id"
	    " WHERE e.state = 'PENDING'"
	    " OR (e.state = 'PROGRESS' AND e.claimed_at < " PG_T(1) ")"
	    " ORDER BY e.created_at, e.id LIMIT 1 FOR UPDATE OF e SKIP LOCKED" },
	/* ?1 id, ?2 now */
	[STMT_EXPORT_GIVE_UP] = { .sqlite =
	    "UPDATE export_jobs SET state = 'FAILURE',"
	    " error = 'Gave up after ' || attempts || ' attempts: '"
	    " || coalesce(error, 'the export run was interrupted'),"
	    " claimed_by = NULL, finished_at = ?2, updated_at = ?2"
	    " WHERE id = ?1",
	    .pg =
	    "UPDATE export_jobs SET state = 'FAILURE',"
	    " error = 'Gave up after ' || attempts::text || ' attempts: '"
	    " || coalesce(error, 'the export run was interrupted'),"
	    " claimed_by = NULL, finished_at = " PG_T(2) ", updated_at = " PG_T(2)
	    " WHERE id = $1::text" },
	/* ?1 id, ?2 runner, ?3 now */
	[STMT_EXPORT_CLAIM] = { .sqlite =
	    "UPDATE export_jobs SET state = 'PROGRESS', progress = 0,"
	    " attempts = attempts + 1, claimed_by = ?2, claimed_at = ?3,"
	    " updated_at = ?3 WHERE id = ?1",
	    .pg =
	    "UPDATE export_jobs SET state = 'PROGRESS', progress = 0,"
	    " attempts = attempts + 1, claimed_by = $2::text,"
	    " claimed_at = " PG_T(3) ", updated_at = " PG_T(3) " WHERE id = $1::text" },
	/* ?1 id, ?2 runner, ?3 progress, ?4 now (renews the claim) */
	[STMT_EXPORT_PROGRESS] = { .sqlite =
	    "UPDATE export_jobs SET progress = ?3, claimed_at = ?4,"
	    " updated_at = ?4 WHERE id = ?1 AND claimed_by = ?2"
	    " AND state = 'PROGRESS'",
	    .pg =
	    "UPDATE export_jobs SET progress = $3::bigint, claimed_at = " PG_T(4) ","
	    " updated_at = " PG_T(4) " WHERE id = $1::text AND claimed_by = $2::text"
	    " AND state = 'PROGRESS'" },
	[STMT_EXPORT_COUNT] = { .sqlite =
	    "SELECT count(*), coalesce(max(id), 0) FROM reservations"
	    " WHERE user_id = ?1", .pg = PG_SAME },
	/* a page, newest first, on reservations_user (user_id, id) */
	[STMT_EXPORT_ROWS] = { .sqlite =
	    "SELECT r.id, r.spot_id, s.spot_number, l.name, l.address,"
	    " r.parking_ts, r.leaving_ts, r.cost_cents, r.status, r.remarks,"
	    " r.created_at"
	    " FROM reservations r JOIN spots s ON s.id = r.spot_id"
	    " JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.user_id = ?1 AND r.id < ?2 ORDER BY r.id DESC LIMIT ?3",
	    .pg =
	    "SELECT r.id, r.spot_id, s.spot_number, l.name, l.address,"
	    " " PG_S("r.parking_ts") ", " PG_S("r.leaving_ts") ", r.cost_cents,"
	    " r.status, r.remarks, " PG_S("r.created_at")
	    " FROM reservations r JOIN spots s ON s.id = r.spot_id"
	    " JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.user_id = $1::bigint AND r.id < $2::bigint"
	    " ORDER BY r.id DESC LIMIT $3::bigint" },
	/* ?1 id, ?2 runner, ?3 filename, ?4 now */
	[STMT_EXPORT_SUCCESS] = { .sqlite =
	    "UPDATE export_jobs SET state = 'SUCCESS', progress = 100,"
	    " filename = ?3, error = NULL, finished_at = ?4, updated_at = ?4"
	    " WHERE id = ?1 AND claimed_by = ?2 AND state = 'PROGRESS'",
	    .pg =
	    "UPDATE export_jobs SET state = 'SUCCESS', progress = 100,"
	    " filename = $3::text, error = NULL, finished_at = " PG_T(4) ","
	    " updated_at = " PG_T(4)
	    " WHERE id = $1::text AND claimed_by = $2::text AND state = 'PROGRESS'" },
	/* ?1 id, ?2 runner, ?3 why, ?4 now */
	[STMT_EXPORT_FAIL] = { .sqlite =
	    "UPDATE export_jobs SET state = 'FAILURE', error = ?3,"
	    " finished_at = ?4, updated_at = ?4"
	    " WHERE id = ?1 AND claimed_by = ?2 AND state = 'PROGRESS'",
	    .pg =
	    "UPDATE export_jobs SET state = 'FAILURE', error = $3::text,"
	    " finished_at = " PG_T(4) ", updated_at = " PG_T(4)
	    " WHERE id = $1::text AND claimed_by = $2::text AND state = 'PROGRESS'" },
	[STMT_EXPORT_RETRY] = { .sqlite =
	    "UPDATE export_jobs SET state = 'PENDING', progress = 0,"
	    " error = ?3, claimed_by = NULL, claimed_at = NULL,"
	    " updated_at = ?4"
	    " WHERE id = ?1 AND claimed_by = ?2 AND state = 'PROGRESS'",
	    .pg =
	    "UPDATE export_jobs SET state = 'PENDING', progress = 0,"
	    " error = $3::text, claimed_by = NULL, claimed_at = NULL,"
	    " updated_at = " PG_T(4)
	    " WHERE id = $1::text AND claimed_by = $2::text AND state = 'PROGRESS'" },
	/* ?1 finished before, ?2 how many */
	[STMT_EXPORT_OLD] = { .sqlite =
	    "SELECT id, filename FROM export_jobs"
	    " WHERE state IN ('SUCCESS', 'FAILURE') AND finished_at < ?1"
	    " ORDER BY finished_at, id LIMIT ?2",
	    .pg =
	    "SELECT id, filename FROM export_jobs"
	    " WHERE state IN ('SUCCESS', 'FAILURE') AND finished_at < " PG_T(1)
	    " ORDER BY finished_at, id LIMIT $2::bigint" },
	[STMT_EXPORT_DELETE] = { .sqlite = "DELETE FROM export_jobs WHERE id = ?1",
	    .pg = PG_SAME },
	[STMT_EXPORT_CHECKPOINT] = { .sqlite = "PRAGMA wal_checkpoint(PASSIVE)",
	    .pg = "SELECT 0, 0, 0" },
	/* db-recovery.c: ?1 hash, ?2 purpose, ?3 user, ?4 e-mail, ?5 now,
	 * ?6 expires_at */
	[STMT_TOKEN_INSERT] = { .sqlite =
	    "INSERT INTO account_tokens (hash, purpose, user_id, email,"
	    " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
	    .pg =
	    "INSERT INTO account_tokens (hash, purpose, user_id, email,"
	    " created_at, expires_at) VALUES ($1::text, $2::text, $3::bigint,"
	    " $4::text, " PG_T(5) ", " PG_T(6) ")" },
	/* a new link of a purpose spends the user's older unused ones:
	 * ?1 now, ?2 user, ?3 purpose */
	[STMT_TOKEN_SPEND_OLDER] = { .sqlite =
	    "UPDATE account_tokens SET used_at = ?1"
	    " WHERE user_id = ?2 AND purpose = ?3 AND used_at IS NULL",
	    .pg =
	    "UPDATE account_tokens SET used_at = " PG_T(1)
	    " WHERE user_id = $2::bigint AND purpose = $3::text AND used_at IS NULL" },
	/* a deactivation spends every unused link of the user: ?1 now,
	 * ?2 user */
	[STMT_TOKEN_SPEND_USER] = { .sqlite =
	    "UPDATE account_tokens SET used_at = ?1"
	    " WHERE user_id = ?2 AND used_at IS NULL",
	    .pg =
	    "UPDATE account_tokens SET used_at = " PG_T(1)
	    " WHERE user_id = $2::bigint AND used_at IS NULL" },
	/* the address user ?1 had before one changed after ?2, or none */
	[STMT_USER_PREV_EMAIL] = { .sqlite =
	    "SELECT prev_email FROM users WHERE id = ?1"
	    " AND email_changed_at > ?2 AND prev_email IS NOT NULL"
	    " AND prev_email <> email",
	    .pg =
	    "SELECT prev_email FROM users WHERE id = $1::bigint"
	    " AND email_changed_at > " PG_T(2) " AND prev_email IS NOT NULL"
	    " AND prev_email <> email" },
	/* THE single use: ?1 hash, ?2 purpose, ?3 now.  Only a token unused,
	 * unexpired and (for a verification) sent to the account's address
	 * now changes; of two racing requests, one. */
	[STMT_TOKEN_SPEND] = { .sqlite =
	    "UPDATE account_tokens SET used_at = ?3"
	    " WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL"
	    " AND expires_at > ?3 AND email = (SELECT u.email FROM users u"
	    " WHERE u.id = account_tokens.user_id AND u.is_active = 1)"
	    " RETURNING user_id, email",
	    .pg =
	    "UPDATE account_tokens SET used_at = " PG_T(3)
	    " WHERE hash = $1::text AND purpose = $2::text AND used_at IS NULL"
	    " AND expires_at > " PG_T(3) " AND email = (SELECT u.email FROM users u"
	    " WHERE u.id = account_tokens.user_id AND u.is_active = 1)"
	    " RETURNING user_id, email" },
	/* the same conditions, read only: ?1 hash, ?2 purpose, ?3 now */
	[STMT_TOKEN_LIVE] = { .sqlite =
	    "SELECT 1 FROM account_tokens"
	    " WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL"
	    " AND expires_at > ?3 AND email = (SELECT u.email FROM users u"
	    " WHERE u.id = account_tokens.user_id AND u.is_active = 1)",
	    .pg =
	    "SELECT 1 FROM account_tokens"
	    " WHERE hash = $1::text AND purpose = $2::text AND used_at IS NULL"
	    " AND expires_at > " PG_T(3) " AND email = (SELECT u.email FROM users u"
	    " WHERE u.id = account_tokens.user_id AND u.is_active = 1)" },
	/* ?1 now, ?2 user, ?3 the address proven */
	[STMT_USER_SET_VERIFIED] = { .sqlite =
	    "UPDATE users SET email_verified = 1, updated_at = ?1"
	    " WHERE id = ?2 AND email = ?3",
	    .pg =
	    "UPDATE users SET email_verified = 1, updated_at = " PG_T(1)
	    " WHERE id = $2::bigint AND email = $3::text" },
	[STMT_USER_BY_EMAIL_ACTIVE] = { .sqlite =
	    "SELECT id, username FROM users WHERE email = ? AND is_active = 1",
	    .pg = PG_SAME },
	/* ?1 the address's HMAC, ?2 the window's start: the count and the
	 * oldest in it */
	[STMT_RECOVERY_COUNT] = { .sqlite =
	    "SELECT count(*), coalesce(min(at), 0) FROM recovery_requests"
	    " WHERE addr_hash = ?1 AND at > ?2",
	    .pg =
	    "SELECT count(*), coalesce(" PG_S("min(at)") ", 0)"
	    " FROM recovery_requests WHERE addr_hash = $1::text AND at > " PG_T(2) },
	[STMT_RECOVERY_ADD] = { .sqlite =
	    "INSERT INTO recovery_requests (addr_hash, at) VALUES (?, ?)",
	    .pg =
	    "INSERT INTO recovery_requests (addr_hash, at)"
	    " VALUES ($1::text, " PG_T(2) ") RETURNING id" },
	[STMT_RESET_TOKENS] = { .sqlite = "DELETE FROM account_tokens",
	    .pg = PG_SAME },
	[STMT_RESET_RECOVERY] = { .sqlite = "DELETE FROM recovery_requests",
	    .pg = PG_SAME },
	/* cleanup: spent (a spent token serves nothing), or expired by ?1;
	 * at most ?2 */
	[STMT_BATCH_CLEAN_TOKENS] = { .sqlite =
	    "DELETE FROM account_tokens WHERE hash IN (SELECT hash"
	    " FROM account_tokens WHERE used_at IS NOT NULL"
	    " OR expires_at <= ?1 LIMIT ?2)",
	    .pg =
	    "DELETE FROM account_tokens WHERE hash IN (SELECT hash"
	    " FROM account_tokens WHERE used_at IS NOT NULL"
	    " OR expires_at <= " PG_T(1) " LIMIT $2::bigint)" },
	[STMT_BATCH_CLEAN_RECOVERY] = { .sqlite =
	    "DELETE FROM recovery_requests WHERE rowid IN (SELECT rowid"
	    " FROM recovery_requests WHERE at < ?1 LIMIT ?2)",
	    .pg =
	    "DELETE FROM recovery_requests WHERE id IN (SELECT id"
	    " FROM recovery_requests WHERE at < " PG_T(1) " LIMIT $2::bigint)" },

	/* ---- db-resv.c: advance reservations (sql/013) ----
	 * Has lot ?1 a reservation past its grace (?2 now, ?3 the grace)?
	 * A read of one empty range of reservations_reserved_lot, most of
	 * the time: the UPDATE below opens a write cursor on the table and
	 * each of its indexes even when it changes nothing (~30,000
	 * instructions a booking, bench/callgrind), so it runs only when
	 * this finds a row. */
	[STMT_RESV_STALE_LOT] = { .sqlite =
	    "SELECT 1 FROM reservations WHERE lot_id = ?1"
	    " AND status = 'reserved' AND start_time <= ?2 - ?3 LIMIT 1",
	    .pg =
	    "SELECT 1 FROM reservations WHERE lot_id = $1::bigint"
	    " AND status = 'reserved'"
	    " AND start_time <= to_timestamp($2::bigint - $3::bigint) LIMIT 1" },
	/* A 'reserved' row not checked in by start + grace is a no-show:
	 * ?1 the lot, ?2 now, ?3 the grace in seconds, ?4 the charge in
	 * minutes of the price.  Its hold ends with it.  On
	 * reservations_reserved_lot, one empty range most of the time. */
	[STMT_RESV_EXPIRE_LOT] = { .sqlite =
	    "UPDATE reservations SET status = 'no_show',"
	    " leaving_ts = parking_ts,"
	    " cost_cents = (hourly_cents * ?4 + 59) / 60,"
	    " hold_start = NULL, hold_end = NULL, updated_at = ?2"
	    " WHERE lot_id = ?1 AND status = 'reserved'"
	    " AND start_time <= ?2 - ?3",
	    .pg =
	    "UPDATE reservations SET status = 'no_show',"
	    " leaving_ts = parking_ts,"
	    " cost_cents = (hourly_cents * $4::bigint + 59) / 60,"
	    " hold_start = NULL, hold_end = NULL, updated_at = " PG_T(2)
	    " WHERE lot_id = $1::bigint AND status = 'reserved'"
	    " AND start_time <= to_timestamp($2::bigint - $3::bigint)" },
	/* the same for every lot ("parkctl tick"), on
	 * reservations_reserved_start */
	[STMT_RESV_EXPIRE_ALL] = { .sqlite =
	    "UPDATE reservations SET status = 'no_show',"
	    " leaving_ts = parking_ts,"
	    " cost_cents = (hourly_cents * ?4 + 59) / 60,"
	    " hold_start = NULL, hold_end = NULL, updated_at = ?2"
	    " WHERE status = 'reserved' AND start_time <= ?2 - ?3",
	    .pg =
	    "UPDATE reservations SET status = 'no_show',"
	    " leaving_ts = parking_ts,"
	    " cost_cents = (hourly_cents * $4::bigint + 59) / 60,"
	    " hold_start = NULL, hold_end = NULL, updated_at = " PG_T(2)
	    " WHERE status = 'reserved'"
	    " AND start_time <= to_timestamp($2::bigint - $3::bigint)"
	    /* ?1 (a lot in _LOT) unused: named for its type, as above */
	    " AND ($1::bigint IS NULL OR $1::bigint IS NOT NULL)" },
	/* what a reservation needs of its lot, and the user's name */
	[STMT_RESV_LOT] = { .sqlite =
	    "SELECT is_active, price_cents, name, hours_start, hours_end,"
	    " (SELECT username FROM users WHERE id = ?2) FROM lots"
	    " WHERE id = ?1 AND deleted_at IS NULL",
	    .pg =
	    "SELECT is_active, price_cents, name, hours_start, hours_end,"
	    " (SELECT username FROM users WHERE id = $2::bigint) FROM lots"
	    " WHERE id = $1::bigint AND deleted_at IS NULL FOR UPDATE OF lots" },
	/* a window of user ?1 overlapping [?2, ?3) that does not name
	 * another vehicle than ?4 (one without a vehicle names every one);
	 * a reserved one starting at ?5 or before is a no-show already (its
	 * lot's next write marks it) */
	[STMT_RESV_USER_OVERLAP] = { .sqlite =
	    "SELECT 1 FROM reservations WHERE user_id = ?1"
	    " AND status = 'reserved' AND start_time < ?3 AND end_time > ?2"
	    " AND start_time > ?5"
	    " AND (vehicle_number IS NULL OR ?4 IS NULL"
	    " OR vehicle_number = ?4)"
	    " UNION ALL SELECT 1 FROM reservations WHERE user_id = ?1"
	    " AND status = 'active' AND start_time < ?3 AND end_time > ?2"
	    " AND (vehicle_number IS NULL OR ?4 IS NULL"
	    " OR vehicle_number = ?4) LIMIT 1",
	    .pg =
	    "SELECT 1 FROM reservations WHERE user_id = $1::bigint"
	    " AND status = 'reserved' AND start_time < " PG_T(3)
	    " AND end_time > " PG_T(2) " AND start_time > " PG_T(5)
	    " AND (vehicle_number IS NULL OR $4::text IS NULL"
	    " OR vehicle_number = $4::text)"
	    " UNION ALL SELECT 1 FROM reservations WHERE user_id = $1::bigint"
	    " AND status = 'active' AND start_time < " PG_T(3)
	    " AND end_time > " PG_T(2)
	    " AND (vehicle_number IS NULL OR $4::text IS NULL"
	    " OR vehicle_number = $4::text) LIMIT 1" },
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
	[STMT_RESV_BEST_SPOT] = { .sqlite =
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
	    .pg =
	    "SELECT id, spot_number FROM (SELECT s.id, s.spot_number,"
	    " (SELECT " PG_S("r.hold_end") " FROM reservations r"
	    " WHERE r.spot_id = s.id AND r.hold_start IS NOT NULL"
	    " AND r.hold_start < " PG_T(3)
	    " ORDER BY r.hold_start DESC LIMIT 1) AS pe,"
	    " (SELECT " PG_S("r.hold_start") " FROM reservations r"
	    " WHERE r.spot_id = s.id AND r.hold_start IS NOT NULL"
	    " AND r.hold_start >= " PG_T(3)
	    " ORDER BY r.hold_start LIMIT 1) AS ns"
	    " FROM spots s WHERE s.lot_id = $1::bigint AND s.removed_at IS NULL"
	    " AND ($4::bigint = 0 OR s.status = 'A') AND s.id <> $5::bigint) AS c"
	    " WHERE pe IS NULL OR pe <= $2::bigint"
	    " ORDER BY ($2::bigint - coalesce(pe, $2::bigint - 1000000000))"
	    " + (coalesce(ns, $3::bigint + 1000000000) - $3::bigint),"
	    " spot_number LIMIT 1" },
	/* ?1 spot, ?2 lot, ?3 user, ?4 vehicle, ?5 start, ?6 end, ?7 price,
	 * ?8 now */
	[STMT_RESV_RESERVE_INSERT] = { .sqlite =
	    "INSERT INTO reservations (spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, hourly_cents, status, created_at,"
	    " updated_at, start_time, end_time, hold_start, hold_end)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?7, 'reserved', ?8, ?8, ?5, ?6,"
	    " ?5, ?6)",
	    .pg =
	    "INSERT INTO reservations (spot_id, lot_id, user_id,"
	    " vehicle_number, parking_ts, hourly_cents, status, created_at,"
	    " updated_at, start_time, end_time, hold_start, hold_end)"
	    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text, " PG_T(5) ","
	    " $7::bigint, 'reserved', " PG_T(8) ", " PG_T(8) ", " PG_T(5) ", "
	    PG_T(6) ", " PG_T(5) ", " PG_T(6) ") RETURNING id" },
	/* a reservation ?1 of user ?2, with its window */
	[STMT_RESV_OWNED] = { .sqlite =
	    "SELECT " RESV_COLS ", s.status FROM reservations r"
	    " JOIN spots s ON s.id = r.spot_id JOIN lots l ON l.id = r.lot_id"
	    " JOIN users u ON u.id = r.user_id"
	    " WHERE r.id = ?1 AND r.user_id = ?2",
	    .pg =
	    "SELECT " PG_RESV_COLS ", s.status FROM reservations r"
	    " JOIN spots s ON s.id = r.spot_id JOIN lots l ON l.id = r.lot_id"
	    " JOIN users u ON u.id = r.user_id"
	    " WHERE r.id = $1::bigint AND r.user_id = $2::bigint" },
	/* can spot ?1 hold [?2, ?3) for reservation ?4: no other hold
	 * overlaps it (the neighbour before ?3, leaving out ?4 itself) */
	[STMT_RESV_SPOT_CAN_HOLD] = { .sqlite =
	    "SELECT coalesce((SELECT hold_end FROM reservations"
	    " WHERE spot_id = ?1 AND hold_start IS NOT NULL"
	    " AND hold_start < ?3 AND id <> ?4"
	    " ORDER BY hold_start DESC LIMIT 1), 0) <= ?2",
	    .pg =
	    "SELECT (coalesce((SELECT hold_end FROM reservations"
	    " WHERE spot_id = $1::bigint AND hold_start IS NOT NULL"
	    " AND hold_start < " PG_T(3) " AND id <> $4::bigint"
	    " ORDER BY hold_start DESC LIMIT 1), to_timestamp(0))"
	    " <= " PG_T(2) ")::int" },
	/* ?1 id, ?2 spot, ?3 arrival (now), ?4 the hold's start */
	[STMT_RESV_CHECKIN] = { .sqlite =
	    "UPDATE reservations SET status = 'active', spot_id = ?2,"
	    " parking_ts = ?3, hold_start = ?4, hold_end = end_time,"
	    " updated_at = ?3 WHERE id = ?1 AND status = 'reserved'",
	    .pg =
	    "UPDATE reservations SET status = 'active', spot_id = $2::bigint,"
	    " parking_ts = " PG_T(3) ", hold_start = " PG_T(4) ","
	    " hold_end = end_time, updated_at = " PG_T(3)
	    " WHERE id = $1::bigint AND status = 'reserved'" },
	/* free of charge before the start: nothing was parked */
	[STMT_RESV_CANCEL] = { .sqlite =
	    "UPDATE reservations SET status = 'cancelled',"
	    " leaving_ts = parking_ts, cost_cents = 0, hold_start = NULL,"
	    " hold_end = NULL, updated_at = ?2"
	    " WHERE id = ?1 AND status = 'reserved'",
	    .pg =
	    "UPDATE reservations SET status = 'cancelled',"
	    " leaving_ts = parking_ts, cost_cents = 0, hold_start = NULL,"
	    " hold_end = NULL, updated_at = " PG_T(2)
	    " WHERE id = $1::bigint AND status = 'reserved'" },
	/*
	 * Every spot of lot ?1 with the holds that meet [?2, ?3): the
	 * availability of windows, the day's slots and the admin's
	 * timeline.  ?4 now and ?5 the grace: a 'reserved' row past it is a
	 * no-show already (a write marks it on its way).  A hold is at most
	 * ?6 seconds long, so its start is after ?2 - ?6: the range read is
	 * bounded by the day, not by the spot's future.
	 */
	[STMT_RESV_HOLDS] = { .sqlite =
	    "SELECT s.id, s.spot_number, s.status, r.id, r.user_id,"
	    " u.username, r.status, r.hold_start, r.hold_end"
	    " FROM spots s LEFT JOIN reservations r ON r.spot_id = s.id"
	    " AND r.hold_start IS NOT NULL AND r.hold_start < ?3"
	    " AND r.hold_start > ?2 - ?6 AND r.hold_end > ?2"
	    " AND NOT (r.status = 'reserved' AND r.start_time <= ?4 - ?5)"
	    " LEFT JOIN users u ON u.id = r.user_id"
	    " WHERE s.lot_id = ?1 AND s.removed_at IS NULL"
	    " ORDER BY s.spot_number, r.hold_start",
	    .pg =
	    "SELECT s.id, s.spot_number, s.status, r.id, r.user_id,"
	    " u.username, r.status, " PG_S("r.hold_start") ", " PG_S("r.hold_end")
	    " FROM spots s LEFT JOIN reservations r ON r.spot_id = s.id"
	    " AND r.hold_start IS NOT NULL AND r.hold_start < " PG_T(3)
	    " AND r.hold_start > to_timestamp($2::bigint - $6::bigint)"
	    " AND r.hold_end > " PG_T(2)
	    " AND NOT (r.status = 'reserved'"
	    " AND r.start_time <= to_timestamp($4::bigint - $5::bigint))"
	    " LEFT JOIN users u ON u.id = r.user_id"
	    " WHERE s.lot_id = $1::bigint AND s.removed_at IS NULL"
	    " ORDER BY s.spot_number, r.hold_start" },
	/* the same without whose they are: availability and slots read only
	 * the intervals (a user row per hold cost more than the rest) and
	 * whether each is a reservation not checked in (it stops holding at
	 * its start + grace: how long a cached answer holds) */
	[STMT_RESV_HOLDS_BARE] = { .sqlite =
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
	    .pg =
	    "SELECT s.id, s.spot_number, s.status, " PG_S("r.hold_start") ","
	    " " PG_S("r.hold_end") ", (r.status = 'reserved')::int"
	    " FROM spots s LEFT JOIN reservations r ON r.spot_id = s.id"
	    " AND r.hold_start IS NOT NULL AND r.hold_start < " PG_T(3)
	    " AND r.hold_start >= coalesce((SELECT x.hold_start"
	    " FROM reservations x WHERE x.spot_id = s.id"
	    " AND x.hold_start IS NOT NULL AND x.hold_start <= " PG_T(2)
	    " ORDER BY x.hold_start DESC LIMIT 1),"
	    " to_timestamp($2::bigint - $6::bigint))"
	    " AND r.hold_end > " PG_T(2)
	    " AND NOT (r.status = 'reserved'"
	    " AND r.hold_start <= to_timestamp($4::bigint - $5::bigint))"
	    " WHERE s.lot_id = $1::bigint AND s.removed_at IS NULL"
	    " ORDER BY s.spot_number, r.hold_start" },
	/* upcoming reservations of lot ?1 on spots numbered above ?2 */
	[STMT_RESV_LOT_UPCOMING] = { .sqlite =
	    "SELECT count(*) FROM reservations r JOIN spots s"
	    " ON s.id = r.spot_id WHERE r.lot_id = ?1 AND r.status = 'reserved'"
	    " AND s.spot_number > ?2", .pg = PG_SAME },
	[STMT_RESV_LOT_UPCOMING_LIST] = { .sqlite =
	    "SELECT r.id, u.email, l.name, s.spot_number, r.start_time,"
	    " r.end_time FROM reservations r JOIN spots s ON s.id = r.spot_id"
	    " JOIN users u ON u.id = r.user_id JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.lot_id = ?1 AND r.status = 'reserved'"
	    " AND s.spot_number > ?2 ORDER BY r.id",
	    .pg =
	    "SELECT r.id, u.email, l.name, s.spot_number, " PG_S("r.start_time") ","
	    " " PG_S("r.end_time") " FROM reservations r"
	    " JOIN spots s ON s.id = r.spot_id"
	    " JOIN users u ON u.id = r.user_id JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.lot_id = $1::bigint AND r.status = 'reserved'"
	    " AND s.spot_number > $2::bigint ORDER BY r.id" },
	/* reminders due: reserved rows starting in (?1, ?1 + ?2] */
	[STMT_RESV_REMIND_DUE] = { .sqlite =
	    "SELECT r.id, u.email, u.username, l.name, s.spot_number,"
	    " r.start_time, r.end_time FROM reservations r"
	    " JOIN spots s ON s.id = r.spot_id JOIN users u ON u.id = r.user_id"
	    " JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.status = 'reserved' AND r.start_time > ?1"
	    " AND r.start_time <= ?1 + ?2 ORDER BY r.start_time, r.id",
	    .pg =
	    "SELECT r.id, u.email, u.username, l.name, s.spot_number,"
	    " " PG_S("r.start_time") ", " PG_S("r.end_time") " FROM reservations r"
	    " JOIN spots s ON s.id = r.spot_id JOIN users u ON u.id = r.user_id"
	    " JOIN lots l ON l.id = r.lot_id"
	    " WHERE r.status = 'reserved' AND r.start_time > " PG_T(1)
	    " AND r.start_time <= to_timestamp($1::bigint + $2::bigint)"
	    " ORDER BY r.start_time, r.id" },
	/* the caller's upcoming reservations, soonest first; ?2 now, ?3 the
	 * grace */
	[STMT_RESV_LIST_UPCOMING] = { .sqlite =
	    "SELECT " RESV_COLS " " RESV_FROM " WHERE r.user_id = ?1"
	    " AND r.status = 'reserved' AND r.start_time > ?2 - ?3"
	    " ORDER BY r.start_time, r.id LIMIT ?4 OFFSET ?5",
	    .pg =
	    "SELECT " PG_RESV_COLS " " RESV_FROM " WHERE r.user_id = $1::bigint"
	    " AND r.status = 'reserved'"
	    " AND r.start_time > to_timestamp($2::bigint - $3::bigint)"
	    " ORDER BY r.start_time, r.id LIMIT $4::bigint OFFSET $5::bigint" },
	[STMT_RESV_COUNT_UPCOMING] = { .sqlite =
	    "SELECT count(*) FROM reservations WHERE user_id = ?1"
	    " AND status = 'reserved' AND start_time > ?2 - ?3",
	    .pg =
	    "SELECT count(*) FROM reservations WHERE user_id = $1::bigint"
	    " AND status = 'reserved'"
	    " AND start_time > to_timestamp($2::bigint - $3::bigint)" },
	/* the admin's timeline: lot ?1's reservations that started (or
	 * start) in [?2 - ?4, ?3), on reservations_lot_parking (a reserved
	 * row's parking_ts is its start); cancelled ones held nothing; the
	 * interval: the hold, else the window, else arrival to leaving */
	[STMT_RESV_LOT_DAY] = { .sqlite =
	    "SELECT r.id, r.spot_id, r.user_id, u.username, r.status,"
	    " coalesce(r.hold_start, r.start_time, r.parking_ts),"
	    " coalesce(r.hold_end, r.end_time, r.leaving_ts, ?5)"
	    " FROM reservations r JOIN users u ON u.id = r.user_id"
	    " WHERE r.lot_id = ?1 AND r.parking_ts >= ?2 - ?4"
	    " AND r.parking_ts < ?3 AND r.status <> 'cancelled'"
	    " ORDER BY r.parking_ts, r.id",
	    .pg =
	    "SELECT r.id, r.spot_id, r.user_id, u.username, r.status,"
	    " " PG_S("coalesce(r.hold_start, r.start_time, r.parking_ts)") ","
	    " coalesce(" PG_S("coalesce(r.hold_end, r.end_time, r.leaving_ts)")
	    ", $5::bigint)"
	    " FROM reservations r JOIN users u ON u.id = r.user_id"
	    " WHERE r.lot_id = $1::bigint"
	    " AND r.parking_ts >= to_timestamp($2::bigint - $4::bigint)"
	    " AND r.parking_ts < " PG_T(3) " AND r.status <> 'cancelled'"
	    " ORDER BY r.parking_ts, r.id" },
	/*
	 * db-copy.c: "parkctl db copy", an SQLite site into an empty
	 * PostgreSQL database.  Per table: READ (every column but what the
	 * reservations' triggers keep: the counters, a spot's status; times
	 * as unix seconds), WRITE (the same columns, ids kept: ?N the Nth
	 * column of READ) and SUMS (count(*) first, then sums the copy must
	 * give the same on both engines; the counters the triggers rebuilt
	 * among them).  login_failures' and recovery_requests' id is
	 * SQLite's rowid.  The WRITE of cache_gen replaces the row the
	 * migration made.  The writes run on the PostgreSQL target alone:
	 * they have no SQLite text (SQLite's login_failures has no id
	 * column to write).
	 */
	[STMT_COPY_USERS_READ] = { .sqlite =
	    "SELECT id, username, email, password_hash, phone, "
	    "is_active, created_at, updated_at, last_login, "
	    "email_verified, prev_email, email_changed_at FROM users "
	    "ORDER BY id",
	    .pg =
	    "SELECT id, username, email, password_hash, phone, "
	    "is_active, extract(epoch FROM created_at)::bigint, "
	    "extract(epoch FROM updated_at)::bigint, extract(epoch "
	    "FROM last_login)::bigint, email_verified, prev_email, "
	    "extract(epoch FROM email_changed_at)::bigint FROM users "
	    "ORDER BY id" },
	[STMT_COPY_USERS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO users (id, username, email, password_hash, "
	    "phone, is_active, created_at, updated_at, last_login, "
	    "email_verified, prev_email, email_changed_at) VALUES "
	    "($1::bigint, $2::text, $3::text, $4::text, $5::text, "
	    "$6::bigint, to_timestamp($7::bigint), "
	    "to_timestamp($8::bigint), to_timestamp($9::bigint), "
	    "$10::bigint, $11::text, to_timestamp($12::bigint))" },
	[STMT_COPY_USERS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(id), 0), "
	    "coalesce(sum(spent_cents), 0), "
	    "coalesce(sum(parked_secs), 0), "
	    "coalesce(sum(resv_finished), 0), "
	    "coalesce(sum(resv_cancelled + resv_no_show), 0), "
	    "coalesce(sum(length(password_hash)), 0) FROM users",
	    .pg =
	    "SELECT count(*), coalesce(sum(id), 0)::bigint, "
	    "coalesce(sum(spent_cents), 0)::bigint, "
	    "coalesce(sum(parked_secs), 0)::bigint, "
	    "coalesce(sum(resv_finished), 0)::bigint, "
	    "coalesce(sum(resv_cancelled + resv_no_show), 0)::bigint, "
	    "coalesce(sum(length(password_hash)), 0)::bigint FROM "
	    "users" },
	[STMT_COPY_LOTS_READ] = { .sqlite =
	    "SELECT id, name, address, pin_code, price_cents, "
	    "number_of_spots, is_active, description, hours_start, "
	    "hours_end, deleted_at, created_at, updated_at, version "
	    "FROM lots ORDER BY id",
	    .pg =
	    "SELECT id, name, address, pin_code, price_cents, "
	    "number_of_spots, is_active, description, hours_start, "
	    "hours_end, extract(epoch FROM deleted_at)::bigint, "
	    "extract(epoch FROM created_at)::bigint, extract(epoch "
	    "FROM updated_at)::bigint, version FROM lots ORDER BY id" },
	[STMT_COPY_LOTS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO lots (id, name, address, pin_code, "
	    "price_cents, number_of_spots, is_active, description, "
	    "hours_start, hours_end, deleted_at, created_at, "
	    "updated_at, version) VALUES ($1::bigint, $2::text, "
	    "$3::text, $4::text, $5::bigint, $6::bigint, $7::bigint, "
	    "$8::text, $9::text, $10::text, "
	    "to_timestamp($11::bigint), to_timestamp($12::bigint), "
	    "to_timestamp($13::bigint), $14::bigint)" },
	[STMT_COPY_LOTS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(id), 0), "
	    "coalesce(sum(occupied), 0), coalesce(sum(resv_count), "
	    "0), coalesce(sum(resv_cancelled + resv_reserved + "
	    "resv_no_show), 0), coalesce(sum(price_cents), 0), "
	    "coalesce(sum(version), 0) FROM lots",
	    .pg =
	    "SELECT count(*), coalesce(sum(id), 0)::bigint, "
	    "coalesce(sum(occupied), 0)::bigint, "
	    "coalesce(sum(resv_count), 0)::bigint, "
	    "coalesce(sum(resv_cancelled + resv_reserved + "
	    "resv_no_show), 0)::bigint, coalesce(sum(price_cents), "
	    "0)::bigint, coalesce(sum(version), 0)::bigint FROM lots" },
	[STMT_COPY_SPOTS_READ] = { .sqlite =
	    "SELECT id, lot_id, spot_number, removed_at FROM spots "
	    "ORDER BY id",
	    .pg =
	    "SELECT id, lot_id, spot_number, extract(epoch FROM "
	    "removed_at)::bigint FROM spots ORDER BY id" },
	[STMT_COPY_SPOTS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO spots (id, lot_id, spot_number, removed_at) "
	    "VALUES ($1::bigint, $2::bigint, $3::bigint, "
	    "to_timestamp($4::bigint))" },
	[STMT_COPY_SPOTS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(id), 0), "
	    "coalesce(sum(spot_number), 0), coalesce(sum(status = "
	    "'O'), 0), coalesce(sum(removed_at IS NOT NULL), 0) FROM "
	    "spots",
	    .pg =
	    "SELECT count(*), coalesce(sum(id), 0)::bigint, "
	    "coalesce(sum(spot_number), 0)::bigint, "
	    "coalesce(sum((status = 'O')::int), 0)::bigint, "
	    "coalesce(sum((removed_at IS NOT NULL)::int), 0)::bigint "
	    "FROM spots" },
	[STMT_COPY_RESV_READ] = { .sqlite =
	    "SELECT id, spot_id, lot_id, user_id, vehicle_number, "
	    "parking_ts, leaving_ts, hourly_cents, cost_cents, "
	    "status, remarks, created_at, updated_at, vehicle_model, "
	    "vehicle_color, expected_leaving_ts, start_time, "
	    "end_time, hold_start, hold_end FROM reservations ORDER "
	    "BY id",
	    .pg =
	    "SELECT id, spot_id, lot_id, user_id, vehicle_number, "
	    "extract(epoch FROM parking_ts)::bigint, extract(epoch "
	    "FROM leaving_ts)::bigint, hourly_cents, cost_cents, "
	    "status, remarks, extract(epoch FROM created_at)::bigint, "
	    "extract(epoch FROM updated_at)::bigint, vehicle_model, "
	    "vehicle_color, extract(epoch FROM "
	    "expected_leaving_ts)::bigint, extract(epoch FROM "
	    "start_time)::bigint, extract(epoch FROM "
	    "end_time)::bigint, extract(epoch FROM "
	    "hold_start)::bigint, extract(epoch FROM "
	    "hold_end)::bigint FROM reservations ORDER BY id" },
	[STMT_COPY_RESV_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO reservations (id, spot_id, lot_id, user_id, "
	    "vehicle_number, parking_ts, leaving_ts, hourly_cents, "
	    "cost_cents, status, remarks, created_at, updated_at, "
	    "vehicle_model, vehicle_color, expected_leaving_ts, "
	    "start_time, end_time, hold_start, hold_end) VALUES "
	    "($1::bigint, $2::bigint, $3::bigint, $4::bigint, "
	    "$5::text, to_timestamp($6::bigint), "
	    "to_timestamp($7::bigint), $8::bigint, $9::bigint, "
	    "$10::text, $11::text, to_timestamp($12::bigint), "
	    "to_timestamp($13::bigint), $14::text, $15::text, "
	    "to_timestamp($16::bigint), to_timestamp($17::bigint), "
	    "to_timestamp($18::bigint), to_timestamp($19::bigint), "
	    "to_timestamp($20::bigint))" },
	[STMT_COPY_RESV_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(id), 0), "
	    "coalesce(sum(cost_cents), 0), coalesce(sum(parking_ts), "
	    "0), coalesce(sum(status = 'active'), 0), "
	    "coalesce(sum(hold_start), 0) FROM reservations",
	    .pg =
	    "SELECT count(*), coalesce(sum(id), 0)::bigint, "
	    "coalesce(sum(cost_cents), 0)::bigint, "
	    "coalesce(sum(extract(epoch FROM parking_ts)::bigint), "
	    "0)::bigint, coalesce(sum((status = 'active')::int), "
	    "0)::bigint, coalesce(sum(extract(epoch FROM "
	    "hold_start)::bigint), 0)::bigint FROM reservations" },
	[STMT_COPY_SESSIONS_READ] = { .sqlite =
	    "SELECT id, user_id, is_admin, refresh_jti, remember, "
	    "created_at, last_used_at, expires_at, revoked_at, "
	    "revoked_reason, prev_jti, access_jti, rotated_at, "
	    "refresh_exp, admin_fp, prev_access_jti FROM sessions "
	    "ORDER BY id",
	    .pg =
	    "SELECT id, user_id, is_admin, refresh_jti, remember, "
	    "extract(epoch FROM created_at)::bigint, extract(epoch "
	    "FROM last_used_at)::bigint, extract(epoch FROM "
	    "expires_at)::bigint, extract(epoch FROM "
	    "revoked_at)::bigint, revoked_reason, prev_jti, "
	    "access_jti, extract(epoch FROM rotated_at)::bigint, "
	    "extract(epoch FROM refresh_exp)::bigint, admin_fp, "
	    "prev_access_jti FROM sessions ORDER BY id" },
	[STMT_COPY_SESSIONS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO sessions (id, user_id, is_admin, "
	    "refresh_jti, remember, created_at, last_used_at, "
	    "expires_at, revoked_at, revoked_reason, prev_jti, "
	    "access_jti, rotated_at, refresh_exp, admin_fp, "
	    "prev_access_jti) VALUES ($1::text, $2::bigint, "
	    "$3::bigint, $4::text, $5::bigint, "
	    "to_timestamp($6::bigint), to_timestamp($7::bigint), "
	    "to_timestamp($8::bigint), to_timestamp($9::bigint), "
	    "$10::text, $11::text, $12::text, "
	    "to_timestamp($13::bigint), to_timestamp($14::bigint), "
	    "$15::text, $16::text)" },
	[STMT_COPY_SESSIONS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(user_id), 0), "
	    "coalesce(sum(expires_at), 0), coalesce(sum(revoked_at IS "
	    "NULL), 0) FROM sessions",
	    .pg =
	    "SELECT count(*), coalesce(sum(user_id), 0)::bigint, "
	    "coalesce(sum(extract(epoch FROM expires_at)::bigint), "
	    "0)::bigint, coalesce(sum((revoked_at IS NULL)::int), "
	    "0)::bigint FROM sessions" },
	[STMT_COPY_LOGIN_FAILURES_READ] = { .sqlite =
	    "SELECT rowid, account, at, remote_addr FROM "
	    "login_failures ORDER BY rowid",
	    .pg =
	    "SELECT id, account, extract(epoch FROM at)::bigint, "
	    "remote_addr FROM login_failures ORDER BY id" },
	[STMT_COPY_LOGIN_FAILURES_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO login_failures (id, account, at, "
	    "remote_addr) VALUES ($1::bigint, $2::text, "
	    "to_timestamp($3::bigint), $4::text)" },
	[STMT_COPY_LOGIN_FAILURES_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(rowid), 0), "
	    "coalesce(sum(at), 0) FROM login_failures",
	    .pg =
	    "SELECT count(*), coalesce(sum(id), 0)::bigint, "
	    "coalesce(sum(extract(epoch FROM at)::bigint), 0)::bigint "
	    "FROM login_failures" },
	[STMT_COPY_TOKENS_READ] = { .sqlite =
	    "SELECT hash, purpose, user_id, email, created_at, "
	    "expires_at, used_at FROM account_tokens ORDER BY hash",
	    .pg =
	    "SELECT hash, purpose, user_id, email, extract(epoch FROM "
	    "created_at)::bigint, extract(epoch FROM "
	    "expires_at)::bigint, extract(epoch FROM used_at)::bigint "
	    "FROM account_tokens ORDER BY hash" },
	[STMT_COPY_TOKENS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO account_tokens (hash, purpose, user_id, "
	    "email, created_at, expires_at, used_at) VALUES "
	    "($1::text, $2::text, $3::bigint, $4::text, "
	    "to_timestamp($5::bigint), to_timestamp($6::bigint), "
	    "to_timestamp($7::bigint))" },
	[STMT_COPY_TOKENS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(user_id), 0), "
	    "coalesce(sum(expires_at), 0), coalesce(sum(used_at IS "
	    "NULL), 0) FROM account_tokens",
	    .pg =
	    "SELECT count(*), coalesce(sum(user_id), 0)::bigint, "
	    "coalesce(sum(extract(epoch FROM expires_at)::bigint), "
	    "0)::bigint, coalesce(sum((used_at IS NULL)::int), "
	    "0)::bigint FROM account_tokens" },
	[STMT_COPY_RECOVERY_READ] = { .sqlite =
	    "SELECT rowid, addr_hash, at FROM recovery_requests ORDER "
	    "BY rowid",
	    .pg =
	    "SELECT id, addr_hash, extract(epoch FROM at)::bigint "
	    "FROM recovery_requests ORDER BY id" },
	[STMT_COPY_RECOVERY_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO recovery_requests (id, addr_hash, at) VALUES "
	    "($1::bigint, $2::text, to_timestamp($3::bigint))" },
	[STMT_COPY_RECOVERY_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(rowid), 0), "
	    "coalesce(sum(at), 0) FROM recovery_requests",
	    .pg =
	    "SELECT count(*), coalesce(sum(id), 0)::bigint, "
	    "coalesce(sum(extract(epoch FROM at)::bigint), 0)::bigint "
	    "FROM recovery_requests" },
	[STMT_COPY_EXPORTS_READ] = { .sqlite =
	    "SELECT id, user_id, email, state, progress, filename, "
	    "error, attempts, claimed_by, claimed_at, created_at, "
	    "updated_at, finished_at FROM export_jobs ORDER BY id",
	    .pg =
	    "SELECT id, user_id, email, state, progress, filename, "
	    "error, attempts, claimed_by, extract(epoch FROM "
	    "claimed_at)::bigint, extract(epoch FROM "
	    "created_at)::bigint, extract(epoch FROM "
	    "updated_at)::bigint, extract(epoch FROM "
	    "finished_at)::bigint FROM export_jobs ORDER BY id" },
	[STMT_COPY_EXPORTS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO export_jobs (id, user_id, email, state, "
	    "progress, filename, error, attempts, claimed_by, "
	    "claimed_at, created_at, updated_at, finished_at) VALUES "
	    "($1::text, $2::bigint, $3::text, $4::text, $5::bigint, "
	    "$6::text, $7::text, $8::bigint, $9::text, "
	    "to_timestamp($10::bigint), to_timestamp($11::bigint), "
	    "to_timestamp($12::bigint), to_timestamp($13::bigint))" },
	[STMT_COPY_EXPORTS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(user_id), 0), "
	    "coalesce(sum(progress), 0), coalesce(sum(attempts), 0) "
	    "FROM export_jobs",
	    .pg =
	    "SELECT count(*), coalesce(sum(user_id), 0)::bigint, "
	    "coalesce(sum(progress), 0)::bigint, "
	    "coalesce(sum(attempts), 0)::bigint FROM export_jobs" },
	[STMT_COPY_OUTBOX_READ] = { .sqlite =
	    "SELECT id, idem_key, to_addr, subject, body_text, "
	    "body_html, state, attempts, next_attempt_at, last_error, "
	    "created_at, sent_at FROM outbox ORDER BY id",
	    .pg =
	    "SELECT id, idem_key, to_addr, subject, body_text, "
	    "body_html, state, attempts, extract(epoch FROM "
	    "next_attempt_at)::bigint, last_error, extract(epoch FROM "
	    "created_at)::bigint, extract(epoch FROM sent_at)::bigint "
	    "FROM outbox ORDER BY id" },
	[STMT_COPY_OUTBOX_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO outbox (id, idem_key, to_addr, subject, "
	    "body_text, body_html, state, attempts, next_attempt_at, "
	    "last_error, created_at, sent_at) VALUES ($1::bigint, "
	    "$2::text, $3::text, $4::text, $5::text, $6::text, "
	    "$7::text, $8::bigint, to_timestamp($9::bigint), "
	    "$10::text, to_timestamp($11::bigint), "
	    "to_timestamp($12::bigint))" },
	[STMT_COPY_OUTBOX_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(id), 0), "
	    "coalesce(sum(attempts), 0), "
	    "coalesce(sum(length(body_text)), 0) FROM outbox",
	    .pg =
	    "SELECT count(*), coalesce(sum(id), 0)::bigint, "
	    "coalesce(sum(attempts), 0)::bigint, "
	    "coalesce(sum(length(body_text)), 0)::bigint FROM outbox" },
	[STMT_COPY_JOB_RUNS_READ] = { .sqlite =
	    "SELECT id, job, started_at, finished_at, items, errors, "
	    "status, message FROM job_runs ORDER BY id",
	    .pg =
	    "SELECT id, job, extract(epoch FROM started_at)::bigint, "
	    "extract(epoch FROM finished_at)::bigint, items, errors, "
	    "status, message FROM job_runs ORDER BY id" },
	[STMT_COPY_JOB_RUNS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO job_runs (id, job, started_at, finished_at, "
	    "items, errors, status, message) VALUES ($1::bigint, "
	    "$2::text, to_timestamp($3::bigint), "
	    "to_timestamp($4::bigint), $5::bigint, $6::bigint, "
	    "$7::text, $8::text)" },
	[STMT_COPY_JOB_RUNS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(id), 0), "
	    "coalesce(sum(items), 0), coalesce(sum(errors), 0) FROM "
	    "job_runs",
	    .pg =
	    "SELECT count(*), coalesce(sum(id), 0)::bigint, "
	    "coalesce(sum(items), 0)::bigint, coalesce(sum(errors), "
	    "0)::bigint FROM job_runs" },
	[STMT_COPY_REMINDERS_READ] = { .sqlite =
	    "SELECT user_id, day FROM reminders_sent ORDER BY user_id",
	    .pg =
	    "SELECT user_id, day FROM reminders_sent ORDER BY user_id" },
	[STMT_COPY_REMINDERS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO reminders_sent (user_id, day) VALUES "
	    "($1::bigint, $2::text)" },
	[STMT_COPY_REMINDERS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(user_id), 0) FROM "
	    "reminders_sent",
	    .pg =
	    "SELECT count(*), coalesce(sum(user_id), 0)::bigint FROM "
	    "reminders_sent" },
	[STMT_COPY_REPORTS_READ] = { .sqlite =
	    "SELECT user_id, month FROM reports_sent ORDER BY user_id",
	    .pg =
	    "SELECT user_id, month FROM reports_sent ORDER BY user_id" },
	[STMT_COPY_REPORTS_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO reports_sent (user_id, month) VALUES "
	    "($1::bigint, $2::text)" },
	[STMT_COPY_REPORTS_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(user_id), 0) FROM "
	    "reports_sent",
	    .pg =
	    "SELECT count(*), coalesce(sum(user_id), 0)::bigint FROM "
	    "reports_sent" },
	[STMT_COPY_CACHE_GEN_READ] = { .sqlite =
	    "SELECT family, gen FROM cache_gen ORDER BY family",
	    .pg =
	    "SELECT family, gen FROM cache_gen ORDER BY family" },
	[STMT_COPY_CACHE_GEN_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO cache_gen (family, gen) VALUES ($1::text, "
	    "$2::bigint) ON CONFLICT (family) DO UPDATE SET gen = "
	    "excluded.gen" },
	[STMT_COPY_CACHE_GEN_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(gen), 0) FROM cache_gen",
	    .pg =
	    "SELECT count(*), coalesce(sum(gen), 0)::bigint FROM "
	    "cache_gen" },
	[STMT_COPY_IMPORT_MAP_READ] = { .sqlite =
	    "SELECT source, kind, old_id, new_id FROM import_map "
	    "ORDER BY source",
	    .pg =
	    "SELECT source, kind, old_id, new_id FROM import_map "
	    "ORDER BY source" },
	[STMT_COPY_IMPORT_MAP_WRITE] = { .sqlite = NULL,
	    .pg =
	    "INSERT INTO import_map (source, kind, old_id, new_id) "
	    "VALUES ($1::text, $2::text, $3::bigint, $4::bigint)" },
	[STMT_COPY_IMPORT_MAP_SUMS] = { .sqlite =
	    "SELECT count(*), coalesce(sum(old_id), 0), "
	    "coalesce(sum(new_id), 0) FROM import_map",
	    .pg =
	    "SELECT count(*), coalesce(sum(old_id), 0)::bigint, "
	    "coalesce(sum(new_id), 0)::bigint FROM import_map" },
	/* db-copy.c: the lots' versions as the source had them, after the
	 * reservations' triggers moved them (?1 the lot, ?2 its version) */
	[STMT_COPY_LOT_VERSION] = { .sqlite = NULL,
	    .pg = "UPDATE lots SET version = $2::bigint WHERE id = $1::bigint" },
	/* the sequences past the ids written (sql/pg's parkd_sync_ids());
	 * SQLite's next rowid is max + 1 by itself */
	[STMT_COPY_SYNC_IDS] = { .sqlite = NULL,
	    .pg = "SELECT (parkd_sync_ids() IS NULL)::int" },
};
_Static_assert(sizeof(stmt_sql) / sizeof(stmt_sql[0]) == STMT__COUNT,
    "stmt_sql[] must have one row per enum stmt");

/* The driver of this process's connection; NULL: none open. */
static const struct db_driver *drv;
static pid_t db_pid;	/* the process that opened the connection */
/* Opens by this process, so that db_data_version() never repeats. */
static uint32_t db_opens;
static struct dbstmt *stmts[STMT__COUNT];
static enum dbrc lasterr = DB_OK;
/* A statement whose bind failed, reported by its next step. */
static struct dbstmt *bind_bad;
static enum dbrc bind_rc;

/* When the open write transaction took the lock (0: none open). */
static int64_t write_since_ms;
static int64_t write_since_us; /* the same, for GET /metrics */

static enum dbrc db_step(struct dbstmt *, int *);
static int db_version_get(enum dbrc *);

/*
 * Rows whose .pg stays NULL because PostgreSQL's driver does their work
 * its own way (the STMT_PG_* rows): they are not "unported".
 */
static const enum stmt pg_own[] = {
	STMT_BEGIN, STMT_BEGIN_READ, STMT_PRAGMA_PAGE_SIZE, STMT_PRAGMA_WAL,
	STMT_PRAGMA_SYNC_NORMAL, STMT_PRAGMA_SYNC_FULL,
	STMT_PRAGMA_FOREIGN_KEYS, STMT_PRAGMA_JOURNAL_LIMIT,
	STMT_PRAGMA_MAX_PAGES, STMT_VERSION_GET,
};

/* Returns 1 when the engine of d never runs statement id. */
static int
stmt_unused(const struct db_driver *d, enum stmt id)
{
	size_t i;

	if (!d->pg)
		return stmt_sql[id].sqlite == NULL;
	for (i = 0; i < sizeof pg_own / sizeof pg_own[0]; i++)
		if (pg_own[i] == id)
			return 1;
	return 0;
}

/* PG_SAME rows turned to "$N" parameters, made once per process. */
static char *pg_same[STMT__COUNT];

/* Returns the text of statement id in the dialect of drv, NULL when it
 * has none (unused by that engine, or not ported yet). */
static const char *
stmt_text(enum stmt id)
{
	const char *pg;

	if (!drv->pg)
		return stmt_sql[id].sqlite;
	if ((pg = stmt_sql[id].pg) == NULL || *pg != '\0')
		return pg;
	if (pg_same[id] == NULL && stmt_sql[id].sqlite != NULL)
		pg_same[id] = db_pg_params(stmt_sql[id].sqlite);
	return pg_same[id];
}

/*
 * Returns sql with SQLite's parameters "?" (one more than the largest
 * number so far, as SQLite numbers them) and "?N" written as
 * PostgreSQL's "$N"; string literals, quoted names and "--" comments are
 * copied as they are.  The result is malloc'd.
 */
char *
db_pg_params(const char *sql)
{
	struct buf b = { NULL, 0, 0 };
	const char *p = sql;
	long n, max = 0;
	char *end, q;

	buf_puts(&b, "");
	while (*p != '\0') {
		if (*p == '\'' || *p == '"') {
			q = *p;
			buf_putc(&b, *p++);
			while (*p != '\0' && *p != q)
				buf_putc(&b, *p++);
			if (*p != '\0')
				buf_putc(&b, *p++);
			continue;
		}
		if (p[0] == '-' && p[1] == '-') {
			while (*p != '\0' && *p != '\n')
				buf_putc(&b, *p++);
			continue;
		}
		if (*p != '?') {
			buf_putc(&b, *p++);
			continue;
		}
		p++;
		if (*p >= '0' && *p <= '9') {
			n = strtol(p, &end, 10);
			p = end;
		} else
			n = max + 1;
		if (n > max)
			max = n;
		buf_printf(&b, "$%ld", n);
	}
	return b.p;
}

/*
 * Checks that PostgreSQL has the text of every statement it runs (a row
 * added with its SQLite text alone; t/77-pg-statements.t fails on one
 * too).  Returns 0, or -1 after logging each that has none.
 */
static int
pg_check_ported(void)
{
	unsigned i, missing = 0;

	for (i = 0; i < STMT__COUNT; i++) {
		if (stmt_sql[i].pg != NULL || stmt_unused(&db_pg, (enum stmt)i))
			continue;
		missing++;
		log_msg(LOG_ERR, "db: statement %u has no PostgreSQL text: "
		    "%.60s", i, stmt_sql[i].sqlite);
	}
	if (missing == 0)
		return 0;
	log_msg(LOG_ERR, "db: %u statements are not ported to PostgreSQL: "
	    "refusing to start", missing);
	return -1;
}

/* Returns 1 when path names a PostgreSQL database (a libpq URI). */
int
db_path_is_pg(const char *path)
{
	return path != NULL && (strncmp(path, "postgresql://", 13) == 0 ||
	    strncmp(path, "postgres://", 11) == 0);
}

/*
 * Returns the driver of the database named by path: a postgresql:// (or
 * postgres://) URI is PostgreSQL's, anything else an SQLite file.
 */
static const struct db_driver *
db_driver_for(const char *path)
{
	return db_path_is_pg(path) ? &db_pg : &db_sqlite;
}

/*
 * Opens the database at path (conf.db_path when NULL) for this process with
 * the driver it calls for, which sets the connection's policy; migrates
 * when migrate != 0.  An already open connection is closed first (or
 * abandoned, if inherited through fork).  Returns DB_OK, DB_UNAVAILABLE
 * when the database cannot be opened, DB_ERROR for PostgreSQL while a
 * statement has no text of its (pg_check_ported()), or the failure of
 * the policy or a migration (the connection is then closed).
 */
enum dbrc
db_open(const char *path, int migrate)
{
	const struct db_driver *d;
	enum dbrc r;

	if (drv != NULL)
		db_close();
	if (path == NULL)
		path = conf.db_path;
	if (path == NULL || *path == '\0') {
		log_msg(LOG_ERR, "db: no database path (DATABASE_URL)");
		return lasterr = DB_ERROR;
	}
	d = db_driver_for(path);
	if (d->pg && pg_check_ported() != 0)
		return lasterr = DB_ERROR;
	drv = d;
	db_pid = park_pid();
	db_opens++;
	if ((r = drv->open(path)) != DB_OK)
		goto fail;
	if (migrate && (r = db_migrate()) != DB_OK)
		goto fail;
	return DB_OK;

fail:
	db_close();
	return lasterr = r;
}

/*
 * Finalizes the statements and closes the connection.  A connection
 * inherited through fork is forgotten instead (its driver keeps it
 * reachable): closing it could checkpoint or delete the WAL under the
 * parent's feet.
 */
void
db_close(void)
{
	size_t i;
	int inherited;

	if (drv == NULL)
		return;
	bind_bad = NULL;
	inherited = db_pid != park_pid();
	for (i = 0; i < STMT__COUNT; i++) {
		if (stmts[i] == NULL)
			continue;
		if (inherited)
			drv->forget(stmts[i]);
		else
			drv->finalize(stmts[i]);
		stmts[i] = NULL;
	}
	drv->close(inherited);
	drv = NULL;
}

/* Returns 1 when this process has its own open connection. */
int
db_is_open(void)
{
	return drv != NULL && db_pid == park_pid();
}

/*
 * Returns the cached statement id, prepared on first use, reset and with
 * its bindings cleared; NULL when it cannot be prepared (db_lasterr() says
 * why).
 */
struct dbstmt *
db_stmt(enum stmt id)
{
	struct dbstmt *st;
	const char *sql;

	if (drv == NULL) {
		log_msg(LOG_ERR, "db: statement used with no connection");
		lasterr = DB_UNAVAILABLE;
		return NULL;
	}
	if ((unsigned)id >= STMT__COUNT || (sql = stmt_text(id)) == NULL) {
		if ((unsigned)id < STMT__COUNT && !stmt_unused(drv, id))
			log_msg(LOG_ERR, "db: statement %u has no %s text yet: "
			    "%.60s", (unsigned)id, drv->name,
			    stmt_sql[id].sqlite);
		else
			log_msg(LOG_ERR, "db: no statement %u for %s",
			    (unsigned)id, drv->name);
		lasterr = DB_ERROR;
		return NULL;
	}
	if ((st = stmts[id]) != NULL) {
		drv->reset(st);
		drv->clear(st);
		if (bind_bad == st)
			bind_bad = NULL;
		return st;
	}
	if ((st = drv->prepare(id, sql, &lasterr)) == NULL) {
		if (lasterr == DB_CONFLICT || lasterr == DB_OK)
			lasterr = DB_ERROR;
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

/* Remembers a failed bind (the driver logged it) for the next step of
 * st. */
static void
db_bind_check(struct dbstmt *st, enum dbrc rc)
{
	if (rc == DB_OK)
		return;
	bind_bad = st;
	bind_rc = rc;
}

/* The binders return nothing: a failure is reported by the next step. */
void
db_bind_int(struct dbstmt *st, int idx, long long v)
{
	db_bind_check(st, st->drv->bind_int(st, idx, v));
}

void
db_bind_text(struct dbstmt *st, int idx, const char *s)
{
	if (s == NULL)
		db_bind_null(st, idx);
	else
		db_bind_check(st, st->drv->bind_text(st, idx, s, strlen(s)));
}

void
db_bind_textn(struct dbstmt *st, int idx, const char *s, size_t len)
{
	if (s == NULL)
		db_bind_null(st, idx);
	else
		db_bind_check(st, st->drv->bind_text(st, idx, s, len));
}

void
db_bind_null(struct dbstmt *st, int idx)
{
	db_bind_check(st, st->drv->bind_null(st, idx));
}

/*
 * Steps st once.  Returns DB_OK with *row = 1 when a row is ready, DB_OK
 * with *row = 0 at the end (st reset), or the mapped failure (st reset).
 */
static enum dbrc
db_step(struct dbstmt *st, int *row)
{
	enum dbrc r;

	*row = 0;
	if (st == NULL)
		return db_lasterr();
	if (st == bind_bad) {
		bind_bad = NULL;
		st->drv->reset(st);
		return bind_rc;
	}
	r = st->drv->step(st, row);
	if (r != DB_OK || !*row)
		st->drv->reset(st);
	return r;
}

/* Returns DB_OK with a row to read (then db_done()), DB_NOTFOUND when the
 * statement has none, or the failure. */
enum dbrc
db_row(struct dbstmt *st)
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
db_run(struct dbstmt *st)
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
db_next(struct dbstmt *st, enum dbrc *rc)
{
	int row;

	*rc = db_step(st, &row);
	return *rc == DB_OK && row;
}

/* Gives a statement back after reading its rows. */
void
db_done(struct dbstmt *st)
{
	if (st != NULL)
		st->drv->reset(st);
}

/* Returns DB_OK with the first columns of the aggregate's row, or the
 * failure. */
enum dbrc
db_row_ints(struct dbstmt *st, long long *a, long long *b, long long *c)
{
	enum dbrc r;

	if (st == NULL)
		return db_lasterr();
	/* An aggregate always yields a row: none is a bug. */
	if ((r = db_row(st)) != DB_OK)
		return r == DB_NOTFOUND ? DB_ERROR : r;
	if (a != NULL)
		*a = db_col_int(st, 0);
	if (b != NULL)
		*b = db_col_int(st, 1);
	if (c != NULL)
		*c = db_col_int(st, 2);
	db_done(st);
	return DB_OK;
}

const char *
db_col_text(struct pool *p, struct dbstmt *st, int i)
{
	const char *s = db_col_str(st, i);

	return s == NULL ? NULL : pool_strndup(p, s, db_col_bytes(st, i));
}

/* Returns the rows changed by the last INSERT, UPDATE or DELETE. */
long long
db_changes(void)
{
	return drv != NULL ? drv->changes() : 0;
}

/* Returns the id of the row the last successful INSERT made. */
long long
db_last_id(void)
{
	return drv != NULL ? drv->last_id() : 0;
}

/*
 * Runs an embedded script (migration, sample data) of several statements.
 * Returns DB_OK or the mapped failure.
 */
enum dbrc
db_exec_script(const char *sql, const char *what)
{
	enum dbrc r;

	if (drv == NULL) {
		log_msg(LOG_ERR, "db: %s: no connection", what);
		return lasterr = DB_UNAVAILABLE;
	}
	if ((r = drv->exec_script(sql, what)) != DB_OK)
		return lasterr = r;
	return DB_OK;
}

/* Returns the SQLite text of statement id, NULL for a bad id. */
const char *
db_sql(enum stmt id)
{
	return (unsigned)id < STMT__COUNT ? stmt_sql[id].sqlite : NULL;
}

/* Returns PostgreSQL's text of statement id as the table holds it: ""
 * for PG_SAME, NULL when it has none or for a bad id. */
const char *
db_sql_pg(enum stmt id)
{
	return (unsigned)id < STMT__COUNT ? stmt_sql[id].pg : NULL;
}

/* Test only: see db-int.h.  Returns the mapped outcome. */
enum dbrc
db_exec_for_test(const char *sql)
{
	return db_exec_script(sql, "db_exec_for_test");
}

/* Returns DB_OK when every statement of the table that the engine runs
 * prepares, else DB_ERROR (each failure logged). */
enum dbrc
db_prepare_all(void)
{
	enum dbrc r = DB_OK;
	unsigned i;

	if (drv == NULL)
		return DB_UNAVAILABLE;
	for (i = 0; i < STMT__COUNT; i++) {
		if (stmt_unused(drv, (enum stmt)i))
			continue;
		if (db_stmt((enum stmt)i) == NULL)
			r = DB_ERROR;
	}
	return r;
}

/*
 * Starts a write transaction: the driver takes the write lock now (for
 * SQLite BEGIN IMMEDIATE), so the reads that follow see the data the write
 * will change.  Statements left mid-way are reset first.  Returns DB_OK,
 * DB_BUSY past the timeout, or a failure.
 */
enum dbrc
db_begin(void)
{
	enum dbrc r;

	if (drv == NULL) {
		log_msg(LOG_ERR, "db: begin with no connection");
		return DB_UNAVAILABLE;
	}
	if (drv->in_txn()) {
		log_msg(LOG_ERR, "db: begin inside a transaction");
		return DB_ERROR;
	}
	drv->reset_busy();
	if ((r = drv->begin()) == DB_OK) {
		write_since_ms = park_ms();
		write_since_us = metrics_now_us();
	}
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

	if (drv != NULL)
		drv->end();
	if (write_since_ms == 0)
		return;
	metrics_tx(metrics_now_us() - write_since_us);
	ms = park_ms() - write_since_ms;
	write_since_ms = 0;
	if (ms > DB_WRITE_WARN_MS)
		log_msg(LOG_WARN, "db: a write transaction held the lock for "
		    "%lld ms (over %d)", (long long)ms, DB_WRITE_WARN_MS);
}

/* Returns a number that changes with every commit to the database, also
 * across reopens; 0 when it cannot tell. */
uint64_t
db_data_version(void)
{
	uint32_t v;

	if (drv == NULL || drv->data_version(&v) != 0)
		return 0;
	return (uint64_t)db_opens << 32 | v;
}

/* Starts a read transaction, so several SELECTs see one snapshot.
 * Returns DB_OK or the failure; end it with db_end_read(). */
enum dbrc
db_begin_read(void)
{
	if (drv == NULL)
		return DB_UNAVAILABLE;
	if (drv->in_txn()) {
		log_msg(LOG_ERR, "db: begin inside a transaction");
		return DB_ERROR;
	}
	return drv->begin_read();
}

/* Ends a read transaction (it changed nothing). */
void
db_end_read(void)
{
	db_rollback();
}

/* Commits; on failure rolls back (if the engine has not already).
 * Returns DB_OK or the failure. */
enum dbrc
db_commit(void)
{
	enum dbrc r;

	if (drv == NULL || !drv->in_txn()) {
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
	if (drv != NULL && drv->in_txn()) {
		(void)db_run(db_stmt(STMT_ROLLBACK));
		if (drv->in_txn())
			log_msg(LOG_ERR, "db: rollback failed: %s",
			    drv->errmsg());
	}
	write_done();
}

/* Reads the schema version through the driver.  Returns it, or -1 with
 * *r set. */
static int
db_version_get(enum dbrc *r)
{
	if (drv == NULL) {
		*r = DB_UNAVAILABLE;
		return -1;
	}
	return drv->version_get(r);
}

/* The migrations of the open connection's engine, or of the one
 * DATABASE_URL names when none is open. */
static const struct db_driver *
db_dialect(void)
{
	return drv != NULL ? drv : db_driver_for(conf.db_path != NULL ?
	    conf.db_path : "");
}

/* Returns the sample data of the open connection's engine. */
const char *
db_sample(void)
{
	return db_dialect()->sample;
}

/* Returns the name of the open connection's engine ("sqlite",
 * "postgresql"), or of DATABASE_URL's when none is open. */
const char *
db_backend(void)
{
	return db_dialect()->name;
}

/* Returns the state of this process's connection, a word for GET
 * /api/health: "up", "reconnecting", "closed"... */
const char *
db_state(void)
{
	return db_is_open() ? drv->state() : "closed";
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
	static int latest[2] = { -2, -2 };
	const struct db_driver *d = db_dialect();
	const struct sql_file *m = d->migrations;
	size_t i;

	if (latest[d->pg] != -2)
		return latest[d->pg];
	for (i = 0; i < *d->nmigrations; i++) {
		if (m[i].name == NULL ||
		    strtol(m[i].name, NULL, 10) != (long)i + 1) {
			log_msg(LOG_ERR, "db: embedded migration %zu of %s is "
			    "named \"%s\", not %03zu-...", i + 1, d->name,
			    m[i].name != NULL ? m[i].name : "", i + 1);
			return latest[d->pg] = -1;
		}
	}
	return latest[d->pg] = (int)*d->nmigrations;
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

	if (drv == NULL) {
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
	saved = drv->wait_floor(DB_MIGRATE_WAIT_MS);
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
		    drv->migrations[v].name);
		if ((r = db_exec_script(drv->migrations[v].text,
		    drv->migrations[v].name)) != DB_OK) {
			db_rollback();
			break;
		}
		if ((r = drv->version_set(v + 1)) != DB_OK) {
			db_rollback();
			break;
		}
		if ((r = db_commit()) != DB_OK)
			break;
	}
	(void)drv->wait_floor(saved);
	return r;
}

/* Returns DB_OK when the database answers a trivial query. */
enum dbrc
db_ping(void)
{
	struct dbstmt *st;
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

/*
 * Returns path as messages may show it: an SQLite file as it is; a
 * PostgreSQL URI with the userinfo's ":password" as ":***" and the value
 * of every query parameter but a few harmless ones as "***".  A list of
 * what may be shown, not of what may not: libpq decodes percent-encoded
 * keys ("pass%77ord") and knows other secrets (sslpassword), which a
 * match on "password=" let through (the #17 review).  Static storage,
 * overwritten by the next call.
 */
const char *
db_path_shown(const char *path)
{
	static const char *const shown[] = { "host", "hostaddr", "port",
	    "dbname", "user", "sslmode", "target_session_attrs",
	    "connect_timeout", "application_name" };
	static char out[512];
	struct buf b = { 0 };
	const char *p, *at, *end, *q, *eq, *amp;
	size_t i, k;
	int show;

	if (path == NULL || !db_path_is_pg(path))
		return path != NULL ? path : "";
	p = strstr(path, "://") + 3;
	end = p + strcspn(p, "/?");
	at = NULL; /* the last '@' of the authority ends the userinfo */
	for (q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL && (q = memchr(p, ':', (size_t)(at - p))) != NULL) {
		buf_add(&b, path, (size_t)(q - path));
		buf_puts(&b, ":***");
		buf_add(&b, at, (size_t)(end - at));
	} else
		buf_add(&b, path, (size_t)(end - path));
	q = end + strcspn(end, "?");
	buf_add(&b, end, (size_t)(q - end));
	while (*q != '\0') {
		buf_add(&b, q, 1); /* '?' or '&' */
		q++;
		amp = q + strcspn(q, "&");
		eq = memchr(q, '=', (size_t)(amp - q));
		show = 0;
		for (i = 0; eq != NULL && i < sizeof(shown) / sizeof(*shown);
		    i++) {
			k = strlen(shown[i]);
			if ((size_t)(eq - q) == k && strncmp(q, shown[i], k) == 0)
				show = 1;
		}
		if (show || eq == NULL)
			buf_add(&b, q, (size_t)(amp - q));
		else {
			buf_add(&b, q, (size_t)(eq - q));
			buf_puts(&b, "=***");
		}
		q = amp;
	}
	snprintf(out, sizeof out, "%.*s", (int)b.len, b.p != NULL ? b.p : "");
	buf_free(&b);
	return out;
}
