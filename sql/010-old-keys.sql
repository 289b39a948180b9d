-- 010-old-keys.sql: the reservation columns of the old Flask backend that
-- parkd had dropped (issue #15 item 3): the model and colour of the
-- vehicle and the expected leaving time.  Old clients read them as the
-- keys vehicle_model, vehicle_color and expected_leaving_time (and
-- is_overdue from the last), so they come back with their old meaning.
--
-- The old API never set them, but its schema had them and a database
-- written by other tools can hold them: "parkctl import-flask" now copies
-- them here (it used to append model and colour to the remarks).  parkd's
-- own bookings leave them NULL, which the API writes as null, as the old
-- backend did.  Lengths are the old VARCHAR(50) and VARCHAR(20), which
-- SQLite never enforced there and does here; the time is in seconds UTC,
-- like parking_ts.
--
-- ADD COLUMN of a nullable column without a default rewrites no row: the
-- reservations table, its indexes and triggers (006, 007) stay as they
-- are.  This migration depends on no other after 007.
ALTER TABLE reservations ADD COLUMN vehicle_model TEXT
    CHECK (vehicle_model IS NULL OR length(vehicle_model) <= 50);
ALTER TABLE reservations ADD COLUMN vehicle_color TEXT
    CHECK (vehicle_color IS NULL OR length(vehicle_color) <= 20);
ALTER TABLE reservations ADD COLUMN expected_leaving_ts INTEGER
    CHECK (expected_leaving_ts IS NULL OR expected_leaving_ts >= 0);
