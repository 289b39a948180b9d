-- 007-resv-counts.sql: how many reservations each user and each lot has,
-- kept on their rows.
--
-- A page of a user's history and of the admin's reservations says the
-- total in X-Total-Count, and counting it read every row it counts: with a
-- million reservations a user's first page cost ~5 ms (25,000 rows of
-- theirs) and the admin's ~65 ms (bench/growth, bench/RESULTS.md).  The
-- counts now live next to the counters 001 and 005 keep: resv_count (every
-- reservation) and resv_cancelled; the active ones are lots.occupied, and a
-- user's few active ones are counted on reservations_user_active.
--
-- A booking already updates its lot's row (occupied, version) and reads
-- its user's: the triggers below add the lot's count to that UPDATE and one
-- UPDATE of the user's row.  A release changes no count.  A user's
-- reservations cannot move to another user (reservations_check_update now
-- refuses it, as it refused a change of spot or lot), so the counts follow
-- INSERT, DELETE and a change to or from 'cancelled' only.

ALTER TABLE users ADD COLUMN resv_count INTEGER NOT NULL DEFAULT 0
    CHECK (resv_count >= 0);
ALTER TABLE users ADD COLUMN resv_cancelled INTEGER NOT NULL DEFAULT 0
    CHECK (resv_cancelled BETWEEN 0 AND resv_count);
ALTER TABLE lots ADD COLUMN resv_count INTEGER NOT NULL DEFAULT 0
    CHECK (resv_count >= 0);
ALTER TABLE lots ADD COLUMN resv_cancelled INTEGER NOT NULL DEFAULT 0
    CHECK (resv_cancelled BETWEEN 0 AND resv_count);

UPDATE users SET
    resv_count = (SELECT count(*) FROM reservations r
	WHERE r.user_id = users.id),
    resv_cancelled = (SELECT count(*) FROM reservations r
	WHERE r.user_id = users.id AND r.status = 'cancelled');
UPDATE lots SET
    resv_count = (SELECT count(*) FROM reservations r
	WHERE r.lot_id = lots.id),
    resv_cancelled = (SELECT count(*) FROM reservations r
	WHERE r.lot_id = lots.id AND r.status = 'cancelled');

DROP TRIGGER reservations_check_update;
CREATE TRIGGER reservations_check_update BEFORE UPDATE
    OF spot_id, lot_id, user_id, status ON reservations
BEGIN
	SELECT RAISE(ABORT, 'reservation spot and lot cannot change')
	WHERE NEW.spot_id <> OLD.spot_id OR NEW.lot_id <> OLD.lot_id;
	SELECT RAISE(ABORT, 'a reservation cannot change user')
	WHERE NEW.user_id <> OLD.user_id;
	SELECT RAISE(ABORT, 'a finished reservation cannot become active')
	WHERE OLD.status <> 'active' AND NEW.status = 'active';
END;

-- 006's, with the counts in the lot's UPDATE and the user's row.
DROP TRIGGER reservations_occupy;
CREATE TRIGGER reservations_occupy AFTER INSERT ON reservations
WHEN NEW.status = 'active'
BEGIN
	UPDATE spots SET status = 'O' WHERE id = NEW.spot_id;
	UPDATE lots SET occupied = occupied + 1, version = version + 1,
	    resv_count = resv_count + 1
	    WHERE id = NEW.lot_id;
	UPDATE users SET resv_count = resv_count + 1 WHERE id = NEW.user_id;
END;

-- Finished reservations written as such (the importer, the tests).
CREATE TRIGGER reservations_counted AFTER INSERT ON reservations
WHEN NEW.status <> 'active'
BEGIN
	UPDATE lots SET resv_count = resv_count + 1,
	    resv_cancelled = resv_cancelled + (NEW.status = 'cancelled')
	    WHERE id = NEW.lot_id;
	UPDATE users SET resv_count = resv_count + 1,
	    resv_cancelled = resv_cancelled + (NEW.status = 'cancelled')
	    WHERE id = NEW.user_id;
END;

CREATE TRIGGER reservations_cancel_counted AFTER UPDATE OF status
    ON reservations
WHEN (OLD.status = 'cancelled') <> (NEW.status = 'cancelled')
BEGIN
	UPDATE lots SET resv_cancelled = resv_cancelled +
	    (NEW.status = 'cancelled') - (OLD.status = 'cancelled')
	    WHERE id = NEW.lot_id;
	UPDATE users SET resv_cancelled = resv_cancelled +
	    (NEW.status = 'cancelled') - (OLD.status = 'cancelled')
	    WHERE id = NEW.user_id;
END;

CREATE TRIGGER reservations_uncounted AFTER DELETE ON reservations
BEGIN
	UPDATE lots SET resv_count = resv_count - 1,
	    resv_cancelled = resv_cancelled - (OLD.status = 'cancelled')
	    WHERE id = OLD.lot_id;
	UPDATE users SET resv_count = resv_count - 1,
	    resv_cancelled = resv_cancelled - (OLD.status = 'cancelled')
	    WHERE id = OLD.user_id;
END;
