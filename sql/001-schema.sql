-- 001-schema.sql: the whole parkd schema, version 1.
--
-- Conventions:
-- - Money is INTEGER cents; times are INTEGER unix seconds (UTC).  The code
--   always supplies times (PARKD_FAKE_NOW must win over the clock), so no
--   column defaults to "now".
-- - Booleans are INTEGER 0/1 with a CHECK.
-- - Every invariant the code relies on is also a constraint here, so a bug
--   or the importer cannot store what the API could never produce.
-- - spots.status and lots.occupied are maintained ONLY by the triggers at the
--   end of this file, from the reservation rows; no statement writes them.
--
-- db.c runs this file inside BEGIN IMMEDIATE and sets PRAGMA user_version
-- afterwards: no PRAGMA, BEGIN or COMMIT here.

-- ---- people ----

-- Registered users.  The admin is configured (ADMIN_EMAIL), never a row.
-- E-mail is stored lower-case, so a plain UNIQUE index serves the
-- case-insensitive lookup of login.
CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	username TEXT NOT NULL UNIQUE
	    CHECK (length(username) BETWEEN 3 AND 80),
	email TEXT NOT NULL UNIQUE
	    CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
	password_hash TEXT NOT NULL CHECK (length(password_hash) > 0),
	phone TEXT CHECK (phone IS NULL OR length(phone) <= 20),
	is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	last_login INTEGER
);

-- Login sessions: one row per login, shared by every token of that login.
-- A session belongs either to a user or to the configured admin.
-- refresh_jti is the one refresh token currently valid for the session;
-- presenting another (an older, rotated one) is reuse and revokes the row.
CREATE TABLE sessions (
	id TEXT PRIMARY KEY
	    CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
	user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
	is_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
	refresh_jti TEXT NOT NULL,
	remember INTEGER NOT NULL DEFAULT 0 CHECK (remember IN (0, 1)),
	created_at INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER,
	revoked_reason TEXT,
	CHECK ((is_admin = 1) = (user_id IS NULL)),
	CHECK ((revoked_at IS NULL) OR (revoked_reason IS NOT NULL))
);
CREATE INDEX sessions_user ON sessions (user_id);
-- for the cleanup of expired sessions
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed logins per account (the lower-cased identifier that was typed,
-- known or not), for the brute-force counter: count rows of one account
-- newer than the window.
CREATE TABLE login_failures (
	account TEXT NOT NULL CHECK (account = lower(account)),
	at INTEGER NOT NULL,
	remote_addr TEXT
);
CREATE INDEX login_failures_account_at ON login_failures (account, at);

-- ---- parking ----

-- Parking lots.  number_of_spots is the count of spots not removed;
-- occupied the count of those with an active reservation (kept by the
-- triggers).  A lot with history is soft-deleted (deleted_at) so past
-- reservations still name it.
CREATE TABLE lots (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL CHECK (length(name) BETWEEN 3 AND 100),
	address TEXT NOT NULL CHECK (length(address) <= 500),
	pin_code TEXT NOT NULL CHECK (length(pin_code) <= 10),
	price_cents INTEGER NOT NULL
	    CHECK (price_cents BETWEEN 0 AND 1000000),
	number_of_spots INTEGER NOT NULL
	    CHECK (number_of_spots BETWEEN 0 AND 1000),
	occupied INTEGER NOT NULL DEFAULT 0
	    CHECK (occupied BETWEEN 0 AND number_of_spots),
	is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
	description TEXT,
	hours_start TEXT CHECK (hours_start IS NULL OR
	    hours_start GLOB '[01][0-9]:[0-5][0-9]' OR
	    hours_start GLOB '2[0-3]:[0-5][0-9]'),
	hours_end TEXT CHECK (hours_end IS NULL OR
	    hours_end GLOB '[01][0-9]:[0-5][0-9]' OR
	    hours_end GLOB '2[0-3]:[0-5][0-9]'),
	deleted_at INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	CHECK ((hours_start IS NULL) = (hours_end IS NULL))
);

-- Spots 1..number_of_spots of a lot.  A shrink deletes free spots without
-- history and marks the others removed (removed_at); growing again clears
-- removed_at.  A removed spot is always free.  Deleting a lot (only one
-- without history: reservations reference its spots) deletes its spots.
CREATE TABLE spots (
	id INTEGER PRIMARY KEY,
	lot_id INTEGER NOT NULL REFERENCES lots (id) ON DELETE CASCADE,
	spot_number INTEGER NOT NULL CHECK (spot_number >= 1),
	status TEXT NOT NULL DEFAULT 'A' CHECK (status IN ('A', 'O')),
	removed_at INTEGER,
	UNIQUE (lot_id, spot_number),
	CHECK (removed_at IS NULL OR status = 'A')
);
-- "the free spot with the lowest number" is one seek on this index
CREATE INDEX spots_lot_status ON spots (lot_id, status, spot_number);

-- Reservations.  lot_id repeats the spot's lot (checked by a trigger) so
-- per-lot history and reports need no join.  hourly_cents is the lot's
-- price at booking time.
CREATE TABLE reservations (
	id INTEGER PRIMARY KEY,
	spot_id INTEGER NOT NULL REFERENCES spots (id),
	lot_id INTEGER NOT NULL REFERENCES lots (id),
	user_id INTEGER NOT NULL REFERENCES users (id),
	vehicle_number TEXT
	    CHECK (vehicle_number IS NULL OR length(vehicle_number) <= 20),
	parking_ts INTEGER NOT NULL,
	leaving_ts INTEGER,
	hourly_cents INTEGER NOT NULL CHECK (hourly_cents >= 0),
	cost_cents INTEGER CHECK (cost_cents IS NULL OR cost_cents >= 0),
	status TEXT NOT NULL DEFAULT 'active'
	    CHECK (status IN ('active', 'completed', 'cancelled')),
	remarks TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	CHECK ((status = 'active') = (leaving_ts IS NULL)),
	CHECK (status <> 'completed' OR cost_cents IS NOT NULL),
	CHECK (leaving_ts IS NULL OR leaving_ts >= parking_ts)
);
-- at most one active reservation per spot: the last line of defence
-- against double booking
CREATE UNIQUE INDEX reservations_spot_active ON reservations (spot_id)
    WHERE status = 'active';
-- a user's history, newest first (and the user_id foreign key)
CREATE INDEX reservations_user ON reservations (user_id, id);
-- per-lot reports (and the lot_id foreign key)
CREATE INDEX reservations_lot_parking ON reservations (lot_id, parking_ts);
-- monthly reports and reminders
CREATE INDEX reservations_parking ON reservations (parking_ts);
-- a user's active reservations (release without an id)
CREATE INDEX reservations_user_active ON reservations (user_id)
    WHERE status = 'active';
-- "has this spot history?" when shrinking a lot (and the spot_id foreign
-- key: deleting a spot must not scan every reservation)
CREATE INDEX reservations_spot ON reservations (spot_id);

-- ---- exports, mail, jobs ----

-- CSV export requests: queued by the API, run by "parkctl exports".
-- claimed_by/claimed_at let a second run take over a job whose runner died.
CREATE TABLE export_jobs (
	id TEXT PRIMARY KEY
	    CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'PENDING'
	    CHECK (state IN ('PENDING', 'PROGRESS', 'SUCCESS', 'FAILURE')),
	progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
	-- a bare file name inside the export folder, never a path
	filename TEXT UNIQUE CHECK (filename IS NULL OR
	    (length(filename) BETWEEN 1 AND 200 AND instr(filename, '/') = 0 AND
	    substr(filename, 1, 1) <> '.')),
	error TEXT,
	attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	claimed_by TEXT,
	claimed_at INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	finished_at INTEGER
);
CREATE INDEX export_jobs_state ON export_jobs (state, created_at);
CREATE INDEX export_jobs_user ON export_jobs (user_id);

-- The mail outbox: written in the transaction that causes the mail,
-- delivered by "parkctl mail".  idem_key makes "send once" a constraint.
-- Addresses and subjects never hold CR or LF (header/envelope injection).
CREATE TABLE outbox (
	id INTEGER PRIMARY KEY,
	idem_key TEXT NOT NULL UNIQUE,
	to_addr TEXT NOT NULL CHECK (length(to_addr) BETWEEN 3 AND 254 AND
	    instr(to_addr, char(13)) = 0 AND instr(to_addr, char(10)) = 0),
	subject TEXT NOT NULL CHECK (length(subject) <= 998 AND
	    instr(subject, char(13)) = 0 AND instr(subject, char(10)) = 0),
	body_text TEXT NOT NULL,
	body_html TEXT,
	state TEXT NOT NULL DEFAULT 'queued'
	    CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_attempt_at INTEGER NOT NULL,
	last_error TEXT,
	created_at INTEGER NOT NULL,
	sent_at INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- One row per run of a batch job, for "when did it last run, and how".
CREATE TABLE job_runs (
	id INTEGER PRIMARY KEY,
	job TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	finished_at INTEGER,
	items INTEGER NOT NULL DEFAULT 0,
	errors INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL DEFAULT 'running'
	    CHECK (status IN ('running', 'ok', 'failed')),
	message TEXT
);
CREATE INDEX job_runs_job ON job_runs (job, id);

-- At most one reminder per user per day and one report per user per month,
-- however often the jobs run: the primary keys say so.
CREATE TABLE reminders_sent (
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	day TEXT NOT NULL
	    CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
	PRIMARY KEY (user_id, day)
);
CREATE TABLE reports_sent (
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	month TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
	PRIMARY KEY (user_id, month)
);

-- ---- triggers: the counters follow the reservation rows ----

-- A reservation's spot must belong to its lot; an active one needs a spot
-- that is not removed in a lot that is not deleted.  (The partial unique
-- index above refuses a second active reservation on the spot.)
CREATE TRIGGER reservations_check_insert BEFORE INSERT ON reservations
BEGIN
	SELECT RAISE(ABORT, 'reservation spot is not in the reservation lot')
	WHERE NOT EXISTS (SELECT 1 FROM spots
	    WHERE spots.id = NEW.spot_id AND spots.lot_id = NEW.lot_id);
	SELECT RAISE(ABORT, 'spot is removed or its lot deleted')
	WHERE NEW.status = 'active' AND NOT EXISTS (SELECT 1
	    FROM spots JOIN lots ON lots.id = spots.lot_id
	    WHERE spots.id = NEW.spot_id AND spots.removed_at IS NULL AND
	    lots.deleted_at IS NULL);
END;

-- A reservation never moves to another spot or lot, and a finished one
-- never becomes active again: the counters could not follow.
CREATE TRIGGER reservations_check_update BEFORE UPDATE
    OF spot_id, lot_id, status ON reservations
BEGIN
	SELECT RAISE(ABORT, 'reservation spot and lot cannot change')
	WHERE NEW.spot_id <> OLD.spot_id OR NEW.lot_id <> OLD.lot_id;
	SELECT RAISE(ABORT, 'a finished reservation cannot become active')
	WHERE OLD.status <> 'active' AND NEW.status = 'active';
END;

CREATE TRIGGER reservations_occupy AFTER INSERT ON reservations
WHEN NEW.status = 'active'
BEGIN
	UPDATE spots SET status = 'O' WHERE id = NEW.spot_id;
	UPDATE lots SET occupied = occupied + 1 WHERE id = NEW.lot_id;
END;

CREATE TRIGGER reservations_free AFTER UPDATE OF status ON reservations
WHEN OLD.status = 'active' AND NEW.status <> 'active'
BEGIN
	UPDATE spots SET status = 'A' WHERE id = OLD.spot_id;
	UPDATE lots SET occupied = occupied - 1 WHERE id = OLD.lot_id;
END;

CREATE TRIGGER reservations_free_deleted AFTER DELETE ON reservations
WHEN OLD.status = 'active'
BEGIN
	UPDATE spots SET status = 'A' WHERE id = OLD.spot_id;
	UPDATE lots SET occupied = occupied - 1 WHERE id = OLD.lot_id;
END;
