-- 005-lot-version.sql: a version on each lot, moved on by every booking and
-- release.
--
-- The cached grid and admin summary used to be invalidated by the 'lots'
-- generation (002), which every booking and release bumped: one more row
-- written, one more page in the WAL of every commit, under the lock every
-- other writer waits for.  The triggers below already write the lot's row
-- (its occupied count); the version rides on that same row.  Cache keys
-- carry the lot's version (a grid) or the sum of them (the summary) next to
-- the generation, which the other writes (lots, users, imports) still bump.
ALTER TABLE lots ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER reservations_occupy;
CREATE TRIGGER reservations_occupy AFTER INSERT ON reservations
WHEN NEW.status = 'active'
BEGIN
	UPDATE spots SET status = 'O' WHERE id = NEW.spot_id;
	UPDATE lots SET occupied = occupied + 1, version = version + 1
	    WHERE id = NEW.lot_id;
END;

DROP TRIGGER reservations_free;
CREATE TRIGGER reservations_free AFTER UPDATE OF status ON reservations
WHEN OLD.status = 'active' AND NEW.status <> 'active'
BEGIN
	UPDATE spots SET status = 'A' WHERE id = OLD.spot_id;
	UPDATE lots SET occupied = occupied - 1, version = version + 1
	    WHERE id = OLD.lot_id;
END;

DROP TRIGGER reservations_free_deleted;
CREATE TRIGGER reservations_free_deleted AFTER DELETE ON reservations
WHEN OLD.status = 'active'
BEGIN
	UPDATE spots SET status = 'A' WHERE id = OLD.spot_id;
	UPDATE lots SET occupied = occupied - 1, version = version + 1
	    WHERE id = OLD.lot_id;
END;
