-- 007-resv-counts.sql: how many reservations each lot and each user has,
-- and each user's time parked and money spent, kept on their rows.
--
-- A page of a user's history and of the admin's reservations says the
-- total in X-Total-Count, and the user's summary says the bookings, hours
-- parked and money spent: each read every row it counted or summed.  With
-- a million reservations (25,000 of one user's) a history page cost ~5 ms,
-- a summary ~22 ms, an admin page ~65 ms (bench/growth,
-- bench/RESULTS.md).  Now they read one row:
--
--   lots.resv_count, lots.resv_cancelled: every reservation of the lot,
--     and the cancelled ones; the active ones are lots.occupied (001);
--   users.resv_finished, users.resv_cancelled: the user's reservations
--     that are no longer active, and the cancelled ones; the active ones
--     (a few at most) are counted on reservations_user_active;
--   users.parked_secs, users.spent_cents: leaving_ts - parking_ts and
--     cost_cents summed over the user's completed reservations.
--
-- What the hot paths pay: a booking's trigger adds the lot's count to the
-- UPDATE of the lot row it already made, and touches no user row (an
-- active reservation counts on its index); a release updates the user's
-- row once.  A reservation cannot move to another user
-- (reservations_check_update now refuses it, as it refused a change of
-- spot or lot), so the triggers follow INSERT, DELETE, and an UPDATE of
-- status, times or cost.

ALTER TABLE lots ADD COLUMN resv_count INTEGER NOT NULL DEFAULT 0
    CHECK (resv_count >= 0);
ALTER TABLE lots ADD COLUMN resv_cancelled INTEGER NOT NULL DEFAULT 0
    CHECK (resv_cancelled BETWEEN 0 AND resv_count);
ALTER TABLE users ADD COLUMN resv_finished INTEGER NOT NULL DEFAULT 0
    CHECK (resv_finished >= 0);
ALTER TABLE users ADD COLUMN resv_cancelled INTEGER NOT NULL DEFAULT 0
    CHECK (resv_cancelled BETWEEN 0 AND resv_finished);
ALTER TABLE users ADD COLUMN parked_secs INTEGER NOT NULL DEFAULT 0
    CHECK (parked_secs >= 0);
ALTER TABLE users ADD COLUMN spent_cents INTEGER NOT NULL DEFAULT 0
    CHECK (spent_cents >= 0);

UPDATE lots SET
    resv_count = (SELECT count(*) FROM reservations r
	WHERE r.lot_id = lots.id),
    resv_cancelled = (SELECT count(*) FROM reservations r
	WHERE r.lot_id = lots.id AND r.status = 'cancelled');
UPDATE users SET
    resv_finished = (SELECT count(*) FROM reservations r
	WHERE r.user_id = users.id AND r.status <> 'active'),
    resv_cancelled = (SELECT count(*) FROM reservations r
	WHERE r.user_id = users.id AND r.status = 'cancelled'),
    parked_secs = (SELECT coalesce(sum(leaving_ts - parking_ts), 0)
	FROM reservations r
	WHERE r.user_id = users.id AND r.status = 'completed'),
    spent_cents = (SELECT coalesce(sum(cost_cents), 0)
	FROM reservations r
	WHERE r.user_id = users.id AND r.status = 'completed');

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

-- 006's, with the lot's count in the lot's UPDATE.
DROP TRIGGER reservations_occupy;
CREATE TRIGGER reservations_occupy AFTER INSERT ON reservations
WHEN NEW.status = 'active'
BEGIN
	UPDATE spots SET status = 'O' WHERE id = NEW.spot_id;
	UPDATE lots SET occupied = occupied + 1, version = version + 1,
	    resv_count = resv_count + 1
	    WHERE id = NEW.lot_id;
END;

-- Finished reservations written as such (the importer, the tests).
CREATE TRIGGER reservations_counted AFTER INSERT ON reservations
WHEN NEW.status <> 'active'
BEGIN
	UPDATE lots SET resv_count = resv_count + 1,
	    resv_cancelled = resv_cancelled + (NEW.status = 'cancelled')
	    WHERE id = NEW.lot_id;
	UPDATE users SET resv_finished = resv_finished + 1,
	    resv_cancelled = resv_cancelled + (NEW.status = 'cancelled'),
	    parked_secs = parked_secs + CASE WHEN NEW.status = 'completed'
		THEN NEW.leaving_ts - NEW.parking_ts ELSE 0 END,
	    spent_cents = spent_cents + CASE WHEN NEW.status = 'completed'
		THEN NEW.cost_cents ELSE 0 END
	    WHERE id = NEW.user_id;
END;

-- A release (active -> completed), a cancellation, its undoing, and a
-- change of a completed reservation's times or cost.
CREATE TRIGGER reservations_recounted AFTER UPDATE
    OF status, parking_ts, leaving_ts, cost_cents ON reservations
WHEN OLD.status <> NEW.status OR NEW.status = 'completed'
BEGIN
	UPDATE users SET
	    resv_finished = resv_finished + (NEW.status <> 'active')
		- (OLD.status <> 'active'),
	    resv_cancelled = resv_cancelled + (NEW.status = 'cancelled')
		- (OLD.status = 'cancelled'),
	    parked_secs = parked_secs
		+ CASE WHEN NEW.status = 'completed'
		    THEN NEW.leaving_ts - NEW.parking_ts ELSE 0 END
		- CASE WHEN OLD.status = 'completed'
		    THEN OLD.leaving_ts - OLD.parking_ts ELSE 0 END,
	    spent_cents = spent_cents
		+ CASE WHEN NEW.status = 'completed'
		    THEN NEW.cost_cents ELSE 0 END
		- CASE WHEN OLD.status = 'completed'
		    THEN OLD.cost_cents ELSE 0 END
	    WHERE id = NEW.user_id;
END;

CREATE TRIGGER reservations_cancel_counted AFTER UPDATE OF status
    ON reservations
WHEN (OLD.status = 'cancelled') <> (NEW.status = 'cancelled')
BEGIN
	UPDATE lots SET resv_cancelled = resv_cancelled +
	    (NEW.status = 'cancelled') - (OLD.status = 'cancelled')
	    WHERE id = NEW.lot_id;
END;

CREATE TRIGGER reservations_uncounted AFTER DELETE ON reservations
BEGIN
	UPDATE lots SET resv_count = resv_count - 1,
	    resv_cancelled = resv_cancelled - (OLD.status = 'cancelled')
	    WHERE id = OLD.lot_id;
END;

CREATE TRIGGER reservations_finished_uncounted AFTER DELETE ON reservations
WHEN OLD.status <> 'active'
BEGIN
	UPDATE users SET resv_finished = resv_finished - 1,
	    resv_cancelled = resv_cancelled - (OLD.status = 'cancelled'),
	    parked_secs = parked_secs - CASE WHEN OLD.status = 'completed'
		THEN OLD.leaving_ts - OLD.parking_ts ELSE 0 END,
	    spent_cents = spent_cents - CASE WHEN OLD.status = 'completed'
		THEN OLD.cost_cents ELSE 0 END
	    WHERE id = OLD.user_id;
END;
