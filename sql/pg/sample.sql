-- sql/pg/sample.sql: the sample data of the contract (parkctl db reset),
-- for PostgreSQL: sql/sample.sql with the dialect's changes only.
--
-- The four lots and three users of the old backend's sample data, loaded
-- into an empty schema (the reset deletes every row first, in the same
-- transaction).  Ids are given explicitly, the spots' too (1 to 220, as
-- SQLite numbers them in an emptied table), so the same reset always
-- yields the same ids; parkd_sync_ids() then moves every sequence past
-- them (and back to 1 for the emptied tables), as SQLite's max(id) + 1
-- does by itself.
--
-- Every user's password is "password123" (werkzeug's pbkdf2:sha256:600000
-- format: see sql/sample.sql).  Times are the wall clock in whole seconds,
-- as strftime('%s', 'now') there.

INSERT INTO lots (id, name, address, pin_code, price_cents,
    number_of_spots, is_active, description, hours_start, hours_end,
    created_at, updated_at)
VALUES
	(1, 'Downtown Central Plaza', '123 Main Street, Downtown', '110001',
	    5000, 50, 1,
	    'Covered parking in the city centre, close to shops and offices.',
	    '06:00', '23:00',
	    date_trunc('second', now()),
	    date_trunc('second', now())),
	(2, 'Business Park North', '45 Tech Park Road, North District',
	    '560001', 3000, 30, 1,
	    'Open-air parking for the business park, weekday commuters.',
	    '07:00', '21:00',
	    date_trunc('second', now()),
	    date_trunc('second', now())),
	(3, 'Shopping Mall East', '78 Mall Road, East Side', '400001',
	    2550, 40, 1,
	    'Multi-level parking under the mall.',
	    '09:00', '22:00',
	    date_trunc('second', now()),
	    date_trunc('second', now())),
	(4, 'Airport Terminal', 'Terminal 1, International Airport Road',
	    '110037', 10000, 100, 1,
	    'Short and long stay parking next to the terminal, open all day.',
	    NULL, NULL,
	    date_trunc('second', now()),
	    date_trunc('second', now()));

-- Spots 1..number_of_spots of every lot, all free.
INSERT INTO spots (id, lot_id, spot_number, status)
SELECT row_number() OVER (ORDER BY lots.id, n.i), lots.id, n.i, 'A'
FROM lots JOIN generate_series(1, 1000) AS n (i)
    ON n.i <= lots.number_of_spots
ORDER BY lots.id, n.i;

-- Password of all three: password123
INSERT INTO users (id, username, email, password_hash, phone, is_active,
    created_at, updated_at, last_login)
VALUES
	(1, 'john_doe', 'john@example.com',
	    'pbkdf2:sha256:600000$ktidET1aBlUEeXjY$e9c6a8740ba3a2582f794475f73e70eb7553d833fa74d11a9a472b3434beeb24',
	    '+1234567890', 1,
	    date_trunc('second', now()),
	    date_trunc('second', now()), NULL),
	(2, 'jane_smith', 'jane@example.com',
	    'pbkdf2:sha256:600000$xaryqIZLKGNsa3DS$bae12a4732adb94cbd115a0bcf37ff5e9aed58632fd67528d74e93360d700775',
	    '+1234567891', 1,
	    date_trunc('second', now()),
	    date_trunc('second', now()), NULL),
	(3, 'mike_johnson', 'mike@example.com',
	    'pbkdf2:sha256:600000$OgDLfI2mQJO8B6cV$aa0edb9442d6286392d245d22ecca4a9a4b2950e214ab9d1c6c05f318d0d7abf',
	    '+1234567892', 1,
	    date_trunc('second', now()),
	    date_trunc('second', now()), NULL);

SELECT parkd_sync_ids();
