-- 003-import.sql: what "parkctl import-flask" brought in from the earlier
-- Flask backend's database, so that a second run imports nothing twice.
--
-- source names the old file: "flask-" and a hash of its oldest user and
-- oldest lot (id and creation time), rows the old backend never changes,
-- so a copy of the file, or the same file after the old backend ran on,
-- is the same source.  kind is 'user', 'lot', 'spot' or 'reservation';
-- old_id the row's id in the old file, new_id the row of parkd it became
-- (for a user merged into another, that other user), 0 once that row is
-- deleted (a lot or spot deleted by the admin, every row by "db reset"):
-- ids are reused, so a mapping must never outlive its row.  The importer
-- imports such a row again.
CREATE TABLE import_map (
	source TEXT NOT NULL,
	kind TEXT NOT NULL
	    CHECK (kind IN ('user', 'lot', 'spot', 'reservation')),
	old_id INTEGER NOT NULL,
	new_id INTEGER NOT NULL,
	PRIMARY KEY (source, kind, old_id)
) WITHOUT ROWID;
-- for the triggers below
CREATE INDEX import_map_new ON import_map (kind, new_id);

CREATE TRIGGER import_map_user_gone AFTER DELETE ON users
BEGIN
	UPDATE import_map SET new_id = 0
	WHERE kind = 'user' AND new_id = OLD.id;
END;

CREATE TRIGGER import_map_lot_gone AFTER DELETE ON lots
BEGIN
	UPDATE import_map SET new_id = 0
	WHERE kind = 'lot' AND new_id = OLD.id;
END;

CREATE TRIGGER import_map_spot_gone AFTER DELETE ON spots
BEGIN
	UPDATE import_map SET new_id = 0
	WHERE kind = 'spot' AND new_id = OLD.id;
END;

CREATE TRIGGER import_map_reservation_gone AFTER DELETE ON reservations
BEGIN
	UPDATE import_map SET new_id = 0
	WHERE kind = 'reservation' AND new_id = OLD.id;
END;
