-- sample.sql: the sample data of the contract (parkctl db reset).
--
-- The four lots and three users of the old backend's sample data.  It is
-- loaded into an empty schema (db_reset_sample() deletes every row first,
-- in the same transaction), so ids are given explicitly: the same reset
-- always yields the same ids.
--
-- Every user's password is "password123".  The hashes are werkzeug's
-- pbkdf2:sha256:600000 format (salt used as its ASCII bytes, 32-byte key),
-- made with Python's hashlib and checked with werkzeug's
-- check_password_hash, so the old backend accepts them too.

INSERT INTO lots (id, name, address, pin_code, price_cents,
    number_of_spots, is_active, description, hours_start, hours_end,
    created_at, updated_at)
VALUES
	(1, 'Downtown Central Plaza', '123 Main Street, Downtown', '110001',
	    5000, 50, 1,
	    'Covered parking in the city centre, close to shops and offices.',
	    '06:00', '23:00',
	    CAST(strftime('%s', 'now') AS INTEGER),
	    CAST(strftime('%s', 'now') AS INTEGER)),
	(2, 'Business Park North', '45 Tech Park Road, North District',
	    '560001', 3000, 30, 1,
	    'Open-air parking for the business park, weekday commuters.',
	    '07:00', '21:00',
	    CAST(strftime('%s', 'now') AS INTEGER),
	    CAST(strftime('%s', 'now') AS INTEGER)),
	(3, 'Shopping Mall East', '78 Mall Road, East Side', '400001',
	    2550, 40, 1,
	    'Multi-level parking under the mall.',
	    '09:00', '22:00',
	    CAST(strftime('%s', 'now') AS INTEGER),
	    CAST(strftime('%s', 'now') AS INTEGER)),
	(4, 'Airport Terminal', 'Terminal 1, International Airport Road',
	    '110037', 10000, 100, 1,
	    'Short and long stay parking next to the terminal, open all day.',
	    NULL, NULL,
	    CAST(strftime('%s', 'now') AS INTEGER),
	    CAST(strftime('%s', 'now') AS INTEGER));

-- Spots 1..number_of_spots of every lot, all free.
WITH RECURSIVE n (i) AS (
	SELECT 1
	UNION ALL
	SELECT i + 1 FROM n WHERE i < 1000
)
INSERT INTO spots (lot_id, spot_number, status)
SELECT lots.id, n.i, 'A'
FROM lots JOIN n ON n.i <= lots.number_of_spots
ORDER BY lots.id, n.i;

-- Password of all three: password123
INSERT INTO users (id, username, email, password_hash, phone, is_active,
    created_at, updated_at, last_login)
VALUES
	(1, 'john_doe', 'john@example.com',
	    'pbkdf2:sha256:600000$ktidET1aBlUEeXjY$e9c6a8740ba3a2582f794475f73e70eb7553d833fa74d11a9a472b3434beeb24',
	    '+1234567890', 1,
	    CAST(strftime('%s', 'now') AS INTEGER),
	    CAST(strftime('%s', 'now') AS INTEGER), NULL),
	(2, 'jane_smith', 'jane@example.com',
	    'pbkdf2:sha256:600000$xaryqIZLKGNsa3DS$bae12a4732adb94cbd115a0bcf37ff5e9aed58632fd67528d74e93360d700775',
	    '+1234567891', 1,
	    CAST(strftime('%s', 'now') AS INTEGER),
	    CAST(strftime('%s', 'now') AS INTEGER), NULL),
	(3, 'mike_johnson', 'mike@example.com',
	    'pbkdf2:sha256:600000$OgDLfI2mQJO8B6cV$aa0edb9442d6286392d245d22ecca4a9a4b2950e214ab9d1c6c05f318d0d7abf',
	    '+1234567892', 1,
	    CAST(strftime('%s', 'now') AS INTEGER),
	    CAST(strftime('%s', 'now') AS INTEGER), NULL);
