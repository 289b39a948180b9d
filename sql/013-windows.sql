-- 013-windows.sql: advance reservations (issue #16, api-contract.md
-- section 4).  A reservation gains its window and the interval it holds
-- on its spot, and the statuses 'reserved' (made ahead, not checked in)
-- and 'no_show' (not checked in by the end of the grace).
--
--   start_time, end_time: the window, seconds UTC like every time here;
--     both NULL for a walk-in, which starts at its arrival (parking_ts;
--     the API writes that as its start_time) and has no end.  A
--     'reserved' row's parking_ts is its start_time until check-in writes
--     the arrival.
--   hold_start, hold_end: the held interval [hold_start, hold_end), stored
--     with the row: 'reserved' [start, end); a walk-in [arrival, arrival +
--     the walk-in hold); a checked-in reservation [min(start, arrival),
--     end).  'completed', 'cancelled' and 'no_show' rows hold nothing
--     (NULL), so the index of holds below keeps only what is held now or
--     later: a spot's few neighbours, not its history (a trigger clears
--     the hold of a row that finishes).  An active row
--     written without a hold (by a tool or a test, as before 011) holds
--     nothing either: its car counts as an overstayer (spots.status).
--
-- The invariant "the held intervals on one spot never overlap" is checked
-- by the code inside the BEGIN IMMEDIATE that writes (db-resv.c), and again
-- here by reservations_hold_insert/_update, which refuse an overlapping
-- row (RAISE(ABORT): a constraint failure, 409, never a 500).  Since the
-- stored holds of a spot never overlap, ordered by start they are ordered
-- by end too, so the one row to look at is the neighbour that starts last
-- before the new interval ends: one seek of reservations_hold.  (On
-- PostgreSQL, #12: EXCLUDE USING gist (spot_id WITH =,
-- int8range(hold_start, hold_end) WITH &&).)
--
-- The status CHECK and the leaving_ts CHECK change, and SQLite cannot
-- alter a CHECK, so the table is made again as 006 made it (see there):
-- a new table, a copy of every row with its id, the old one dropped, the
-- new one renamed, then the indexes and the triggers, the copy moving no
-- counter.  Statuses are compared with = and OR, never IN (STYLE.md).
-- Existing rows are walk-ins (no window); an active one holds
-- [arrival, arrival + 4 h) (the default PARKD_WALKIN_HOLD_MINUTES; a
-- migration cannot read settings, and a walk-in's hold only matters for
-- the next few hours).
--
-- 007's counters learn the new statuses: lots.resv_reserved and
-- lots.resv_no_show count a lot's rows in them (so the admin's "completed"
-- count stays count - cancelled - no_show - reserved - occupied), and
-- users.resv_no_show a user's no-shows.  A 'reserved' row is not finished
-- (users.resv_finished counts completed, cancelled and no_show rows); a
-- no-show's charge is money spent.

CREATE TABLE reservations_new (
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
	    CHECK (status = 'active' OR status = 'completed' OR
	    status = 'cancelled' OR status = 'reserved' OR
	    status = 'no_show'),
	remarks TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	vehicle_model TEXT
	    CHECK (vehicle_model IS NULL OR length(vehicle_model) <= 50),
	vehicle_color TEXT
	    CHECK (vehicle_color IS NULL OR length(vehicle_color) <= 20),
	expected_leaving_ts INTEGER
	    CHECK (expected_leaving_ts IS NULL OR expected_leaving_ts >= 0),
	start_time INTEGER,
	end_time INTEGER CHECK (end_time IS NULL OR end_time > start_time),
	hold_start INTEGER,
	hold_end INTEGER,
	CHECK ((status = 'active' OR status = 'reserved') =
	    (leaving_ts IS NULL)),
	CHECK ((status <> 'completed' AND status <> 'no_show') OR
	    cost_cents IS NOT NULL),
	CHECK (leaving_ts IS NULL OR leaving_ts >= parking_ts),
	-- what holds and what does not
	CHECK (status <> 'reserved' OR hold_start IS NOT NULL),
	CHECK ((hold_start IS NULL) = (hold_end IS NULL)),
	CHECK (hold_end IS NULL OR hold_end > hold_start),
	-- a window has both ends; one made ahead and a no-show have one
	CHECK ((start_time IS NULL) = (end_time IS NULL)),
	CHECK ((status <> 'reserved' AND status <> 'no_show') OR
	    start_time IS NOT NULL)
);

INSERT INTO reservations_new (id, spot_id, lot_id, user_id, vehicle_number,
    parking_ts, leaving_ts, hourly_cents, cost_cents, status, remarks,
    created_at, updated_at, vehicle_model, vehicle_color,
    expected_leaving_ts, start_time, end_time, hold_start, hold_end)
SELECT id, spot_id, lot_id, user_id, vehicle_number, parking_ts,
    leaving_ts, hourly_cents, cost_cents, status, remarks, created_at,
    updated_at, vehicle_model, vehicle_color, expected_leaving_ts,
    NULL, NULL,
    CASE WHEN status = 'active' THEN parking_ts END,
    CASE WHEN status = 'active' THEN parking_ts + 14400 END
FROM reservations;

DROP TABLE reservations;
ALTER TABLE reservations_new RENAME TO reservations;

-- 001's and 004's indexes, as 006 made them again.
CREATE UNIQUE INDEX reservations_spot_active ON reservations (spot_id)
    WHERE status = 'active';
CREATE INDEX reservations_user ON reservations (user_id, id);
CREATE INDEX reservations_lot_parking ON reservations (lot_id, parking_ts);
CREATE INDEX reservations_parking ON reservations (parking_ts);
CREATE INDEX reservations_user_active ON reservations (user_id)
    WHERE status = 'active';
CREATE INDEX reservations_spot ON reservations (spot_id);
CREATE INDEX reservations_completed_leaving
    ON reservations (leaving_ts, cost_cents, status)
    WHERE status = 'completed';

-- The held intervals: the overlap check's neighbour seek and the free
-- spots of a window.  Only rows that hold (see above).  With the status,
-- so that reads of a lot's holds (availability, slots), which leave out
-- reservations past their grace (for those start_time = hold_start), need
-- no row of the table.
CREATE INDEX reservations_hold
    ON reservations (spot_id, hold_start, hold_end, status)
    WHERE hold_start IS NOT NULL;
-- A lot's reservations not yet checked in, by start: the no-shows a write
-- marks on its way, a lot's upcoming count (shrink, delete, deactivate).
CREATE INDEX reservations_reserved_lot ON reservations (lot_id, start_time)
    WHERE status = 'reserved';
-- All lots' by start: "parkctl tick" (no-shows, reminders).
CREATE INDEX reservations_reserved_start ON reservations (start_time)
    WHERE status = 'reserved';
-- A user's upcoming ones: the per-user limit and overlaps.
CREATE INDEX reservations_user_reserved ON reservations (user_id, start_time)
    WHERE status = 'reserved';

-- The new counters.
ALTER TABLE lots ADD COLUMN resv_reserved INTEGER NOT NULL DEFAULT 0
    CHECK (resv_reserved >= 0);
ALTER TABLE lots ADD COLUMN resv_no_show INTEGER NOT NULL DEFAULT 0
    CHECK (resv_no_show >= 0);
ALTER TABLE users ADD COLUMN resv_no_show INTEGER NOT NULL DEFAULT 0
    CHECK (resv_no_show >= 0);

-- 001's checks: a reservation's spot is in its lot; one that holds needs
-- a spot not removed in a lot not deleted.
CREATE TRIGGER reservations_check_insert BEFORE INSERT ON reservations
BEGIN
	SELECT RAISE(ABORT, 'reservation spot is not in the reservation lot')
	WHERE NOT EXISTS (SELECT 1 FROM spots
	    WHERE spots.id = NEW.spot_id AND spots.lot_id = NEW.lot_id);
	SELECT RAISE(ABORT, 'spot is removed or its lot deleted')
	WHERE (NEW.status = 'active' OR NEW.status = 'reserved') AND
	    NOT EXISTS (SELECT 1
	    FROM spots JOIN lots ON lots.id = spots.lot_id
	    WHERE spots.id = NEW.spot_id AND spots.removed_at IS NULL AND
	    lots.deleted_at IS NULL);
END;

-- 007's, plus: a 'reserved' row may move to another spot of its lot (the
-- check-in's move away from an overstaying car) and become active (the
-- check-in); nothing becomes 'reserved' again.
CREATE TRIGGER reservations_check_update BEFORE UPDATE
    OF spot_id, lot_id, user_id, status ON reservations
BEGIN
	SELECT RAISE(ABORT, 'reservation spot and lot cannot change')
	WHERE NEW.lot_id <> OLD.lot_id OR
	    (NEW.spot_id <> OLD.spot_id AND OLD.status <> 'reserved');
	SELECT RAISE(ABORT, 'reservation spot is not in the reservation lot')
	WHERE NEW.spot_id <> OLD.spot_id AND NOT EXISTS (SELECT 1 FROM spots
	    WHERE spots.id = NEW.spot_id AND spots.lot_id = NEW.lot_id AND
	    spots.removed_at IS NULL);
	SELECT RAISE(ABORT, 'a reservation cannot change user')
	WHERE NEW.user_id <> OLD.user_id;
	SELECT RAISE(ABORT, 'a finished reservation cannot become active')
	WHERE OLD.status <> 'active' AND OLD.status <> 'reserved' AND
	    NEW.status = 'active';
	SELECT RAISE(ABORT, 'a reservation cannot become reserved again')
	WHERE OLD.status <> 'reserved' AND NEW.status = 'reserved';
END;

-- The invariant, second line of defence (the code checks first).
CREATE TRIGGER reservations_hold_insert BEFORE INSERT ON reservations
WHEN NEW.hold_start IS NOT NULL
BEGIN
	SELECT RAISE(ABORT, 'held intervals overlap on the spot')
	WHERE (SELECT hold_end FROM reservations
	    WHERE spot_id = NEW.spot_id AND hold_start IS NOT NULL AND
	    hold_start < NEW.hold_end
	    ORDER BY hold_start DESC LIMIT 1) > NEW.hold_start;
END;

CREATE TRIGGER reservations_hold_update BEFORE UPDATE
    OF spot_id, hold_start, hold_end ON reservations
WHEN NEW.hold_start IS NOT NULL
BEGIN
	SELECT RAISE(ABORT, 'held intervals overlap on the spot')
	WHERE (SELECT hold_end FROM reservations
	    WHERE spot_id = NEW.spot_id AND hold_start IS NOT NULL AND
	    hold_start < NEW.hold_end AND id <> NEW.id
	    ORDER BY hold_start DESC LIMIT 1) > NEW.hold_start;
END;

-- 007's: a walk-in occupies its spot at once.
CREATE TRIGGER reservations_occupy AFTER INSERT ON reservations
WHEN NEW.status = 'active'
BEGIN
	UPDATE spots SET status = 'O' WHERE id = NEW.spot_id;
	UPDATE lots SET occupied = occupied + 1, version = version + 1,
	    resv_count = resv_count + 1
	    WHERE id = NEW.lot_id;
END;

-- A check-in occupies the (possibly new) spot.
CREATE TRIGGER reservations_checkin AFTER UPDATE OF status ON reservations
WHEN OLD.status = 'reserved' AND NEW.status = 'active'
BEGIN
	UPDATE spots SET status = 'O' WHERE id = NEW.spot_id;
	UPDATE lots SET occupied = occupied + 1, version = version + 1,
	    resv_reserved = resv_reserved - 1
	    WHERE id = NEW.lot_id;
END;

-- 006's.
CREATE TRIGGER reservations_free AFTER UPDATE OF status ON reservations
WHEN OLD.status = 'active' AND NEW.status <> 'active'
BEGIN
	UPDATE spots SET status = 'A' WHERE id = OLD.spot_id;
	UPDATE lots SET occupied = occupied - 1, version = version + 1
	    WHERE id = OLD.lot_id;
END;

CREATE TRIGGER reservations_free_deleted AFTER DELETE ON reservations
WHEN OLD.status = 'active'
BEGIN
	UPDATE spots SET status = 'A' WHERE id = OLD.spot_id;
	UPDATE lots SET occupied = occupied - 1, version = version + 1
	    WHERE id = OLD.lot_id;
END;

CREATE TRIGGER import_map_reservation_gone AFTER DELETE ON reservations
BEGIN
	UPDATE import_map SET new_id = 0
	WHERE kind = 'reservation' AND new_id = OLD.id;
END;

-- 007's, with the new statuses: rows written in any status but active.
-- A reservation made ahead touches the lot's row (its count, and its
-- version: the windows' availability changed) and no user row.
CREATE TRIGGER reservations_counted AFTER INSERT ON reservations
WHEN NEW.status <> 'active'
BEGIN
	UPDATE lots SET resv_count = resv_count + 1,
	    resv_cancelled = resv_cancelled + (NEW.status = 'cancelled'),
	    resv_reserved = resv_reserved + (NEW.status = 'reserved'),
	    resv_no_show = resv_no_show + (NEW.status = 'no_show'),
	    version = version + (NEW.status = 'reserved')
	    WHERE id = NEW.lot_id;
	UPDATE users SET resv_finished = resv_finished + 1,
	    resv_cancelled = resv_cancelled + (NEW.status = 'cancelled'),
	    resv_no_show = resv_no_show + (NEW.status = 'no_show'),
	    parked_secs = parked_secs + CASE WHEN NEW.status = 'completed'
		THEN NEW.leaving_ts - NEW.parking_ts ELSE 0 END,
	    spent_cents = spent_cents + CASE WHEN NEW.status = 'completed' OR
		NEW.status = 'no_show' THEN NEW.cost_cents ELSE 0 END
	    WHERE id = NEW.user_id AND NEW.status <> 'reserved';
END;

-- A release, a cancellation, a no-show, a check-in (which changes no user
-- count), and a change of a finished row's times or cost.
CREATE TRIGGER reservations_recounted AFTER UPDATE
    OF status, parking_ts, leaving_ts, cost_cents ON reservations
WHEN (OLD.status <> NEW.status AND NOT (OLD.status = 'reserved' AND
    NEW.status = 'active')) OR NEW.status = 'completed' OR
    NEW.status = 'no_show'
BEGIN
	UPDATE users SET
	    resv_finished = resv_finished
		+ (NEW.status <> 'active' AND NEW.status <> 'reserved')
		- (OLD.status <> 'active' AND OLD.status <> 'reserved'),
	    resv_cancelled = resv_cancelled + (NEW.status = 'cancelled')
		- (OLD.status = 'cancelled'),
	    resv_no_show = resv_no_show + (NEW.status = 'no_show')
		- (OLD.status = 'no_show'),
	    parked_secs = parked_secs
		+ CASE WHEN NEW.status = 'completed'
		    THEN NEW.leaving_ts - NEW.parking_ts ELSE 0 END
		- CASE WHEN OLD.status = 'completed'
		    THEN OLD.leaving_ts - OLD.parking_ts ELSE 0 END,
	    spent_cents = spent_cents
		+ CASE WHEN NEW.status = 'completed' OR NEW.status = 'no_show'
		    THEN NEW.cost_cents ELSE 0 END
		- CASE WHEN OLD.status = 'completed' OR OLD.status = 'no_show'
		    THEN OLD.cost_cents ELSE 0 END
	    WHERE id = NEW.user_id;
END;

-- The lot's counts by status (a check-in's is in reservations_checkin; a
-- walk-in's release changes none of these).
CREATE TRIGGER reservations_cancel_counted AFTER UPDATE OF status
    ON reservations
WHEN OLD.status <> NEW.status AND NOT (OLD.status = 'reserved' AND
    NEW.status = 'active') AND (OLD.status = 'cancelled' OR
    NEW.status = 'cancelled' OR OLD.status = 'reserved' OR
    NEW.status = 'reserved' OR OLD.status = 'no_show' OR
    NEW.status = 'no_show')
BEGIN
	UPDATE lots SET resv_cancelled = resv_cancelled +
	    (NEW.status = 'cancelled') - (OLD.status = 'cancelled'),
	    resv_reserved = resv_reserved + (NEW.status = 'reserved') -
	    (OLD.status = 'reserved'),
	    resv_no_show = resv_no_show + (NEW.status = 'no_show') -
	    (OLD.status = 'no_show'),
	    version = version + (OLD.status = 'reserved' OR
	    NEW.status = 'reserved')
	    WHERE id = NEW.lot_id;
END;

-- A row that is finished holds nothing, however it was finished (the
-- API's statements clear the hold themselves, and then this does not
-- fire; a tool, the importer or a test may not).
CREATE TRIGGER reservations_hold_ends AFTER UPDATE OF status ON reservations
WHEN NEW.status <> 'active' AND NEW.status <> 'reserved' AND
    NEW.hold_start IS NOT NULL
BEGIN
	UPDATE reservations SET hold_start = NULL, hold_end = NULL
	    WHERE id = NEW.id;
END;

CREATE TRIGGER reservations_hold_none AFTER INSERT ON reservations
WHEN NEW.status <> 'active' AND NEW.status <> 'reserved' AND
    NEW.hold_start IS NOT NULL
BEGIN
	UPDATE reservations SET hold_start = NULL, hold_end = NULL
	    WHERE id = NEW.id;
END;

CREATE TRIGGER reservations_uncounted AFTER DELETE ON reservations
BEGIN
	UPDATE lots SET resv_count = resv_count - 1,
	    resv_cancelled = resv_cancelled - (OLD.status = 'cancelled'),
	    resv_reserved = resv_reserved - (OLD.status = 'reserved'),
	    resv_no_show = resv_no_show - (OLD.status = 'no_show'),
	    version = version + (OLD.status = 'reserved')
	    WHERE id = OLD.lot_id;
END;

CREATE TRIGGER reservations_finished_uncounted AFTER DELETE ON reservations
WHEN OLD.status <> 'active' AND OLD.status <> 'reserved'
BEGIN
	UPDATE users SET resv_finished = resv_finished - 1,
	    resv_cancelled = resv_cancelled - (OLD.status = 'cancelled'),
	    resv_no_show = resv_no_show - (OLD.status = 'no_show'),
	    parked_secs = parked_secs - CASE WHEN OLD.status = 'completed'
		THEN OLD.leaving_ts - OLD.parking_ts ELSE 0 END,
	    spent_cents = spent_cents - CASE WHEN OLD.status = 'completed' OR
		OLD.status = 'no_show' THEN OLD.cost_cents ELSE 0 END
	    WHERE id = OLD.user_id;
END;
