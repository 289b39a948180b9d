-- 008-user-totals.sql: each user's time parked and money spent on finished
-- (completed) reservations, kept on the user's row.
--
-- GET /api/user/summary summed them over every reservation of the user:
-- with a million reservations, 25,000 of one user's, that was ~22 ms a
-- request (45 req/s, bench/growth).  The summary now reads these two and
-- adds the user's few active reservations (counted on
-- reservations_user_active); the number of bookings is 007's
-- resv_count - resv_cancelled.
--
-- A completed reservation counts with leaving_ts - parking_ts seconds and
-- cost_cents; any other counts nothing.  The triggers follow every way a
-- row can come to count, stop counting or change what it counts: insert,
-- delete, and an update of its status, times or cost.  A release
-- (active -> completed) is one UPDATE of the user's row more.

ALTER TABLE users ADD COLUMN parked_secs INTEGER NOT NULL DEFAULT 0
    CHECK (parked_secs >= 0);
ALTER TABLE users ADD COLUMN spent_cents INTEGER NOT NULL DEFAULT 0
    CHECK (spent_cents >= 0);

UPDATE users SET
    parked_secs = (SELECT coalesce(sum(leaving_ts - parking_ts), 0)
	FROM reservations r
	WHERE r.user_id = users.id AND r.status = 'completed'),
    spent_cents = (SELECT coalesce(sum(cost_cents), 0)
	FROM reservations r
	WHERE r.user_id = users.id AND r.status = 'completed');

CREATE TRIGGER reservations_totalled AFTER INSERT ON reservations
WHEN NEW.status = 'completed'
BEGIN
	UPDATE users SET
	    parked_secs = parked_secs + NEW.leaving_ts - NEW.parking_ts,
	    spent_cents = spent_cents + NEW.cost_cents
	    WHERE id = NEW.user_id;
END;

CREATE TRIGGER reservations_retotalled AFTER UPDATE
    OF status, parking_ts, leaving_ts, cost_cents ON reservations
WHEN OLD.status = 'completed' OR NEW.status = 'completed'
BEGIN
	UPDATE users SET
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

CREATE TRIGGER reservations_untotalled AFTER DELETE ON reservations
WHEN OLD.status = 'completed'
BEGIN
	UPDATE users SET
	    parked_secs = parked_secs - (OLD.leaving_ts - OLD.parking_ts),
	    spent_cents = spent_cents - OLD.cost_cents
	    WHERE id = OLD.user_id;
END;
