-- 006-status-check.sql: the reservation status CHECK without IN.
--
-- SQLite 3.40 checks "status IN ('active', 'completed', 'cancelled')" by
-- building an ephemeral b-tree of the three values (an IN list of more
-- than two constants) on every INSERT and every UPDATE of status: ~15,000
-- instructions each, inside the write transaction every other writer
-- waits for, paid by every booking and every release (bench/RESULTS.md).
-- The same rule written with = and OR is three comparisons.
--
-- SQLite cannot alter a CHECK, so the table is made again the way
-- https://sqlite.org/lang_altertable.html ("other kinds of table schema
-- changes") says: a new table, a copy of every row with its id, the old
-- table dropped (with its indexes and triggers; nothing references it),
-- the new one renamed, then its indexes and triggers as 001 to 005 left
-- them.  Foreign keys stay on (a migration is one transaction), so the
-- copy is checked against spots, lots and users as it goes in.  The
-- triggers on the new table are created after the copy, so the copy moves
-- no counter.  t/10-db compares the schema before and after.
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
	    status = 'cancelled'),
	remarks TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	CHECK ((status = 'active') = (leaving_ts IS NULL)),
	CHECK (status <> 'completed' OR cost_cents IS NOT NULL),
	CHECK (leaving_ts IS NULL OR leaving_ts >= parking_ts)
);

INSERT INTO reservations_new (id, spot_id, lot_id, user_id, vehicle_number,
    parking_ts, leaving_ts, hourly_cents, cost_cents, status, remarks,
    created_at, updated_at)
SELECT id, spot_id, lot_id, user_id, vehicle_number, parking_ts,
    leaving_ts, hourly_cents, cost_cents, status, remarks, created_at,
    updated_at
FROM reservations;

DROP TABLE reservations;
ALTER TABLE reservations_new RENAME TO reservations;

-- 001's indexes (see there for what each one serves) and 004's.
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

-- 001's checks, 005's counters and versions, 003's import map.
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
	UPDATE lots SET occupied = occupied + 1, version = version + 1
	    WHERE id = NEW.lot_id;
END;

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
