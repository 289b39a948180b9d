"""flaskdb: databases like the earlier Flask backend's parking_app.db, for
the tests of "parkctl import-flask" (t/60-import.t).  Standard library only.

The schema is the one SQLAlchemy created (../shared/docs/flask-database.md,
appendix), in its two variants: "older", whose role CHECK allows only
'user' (the committed file), and "newer", which allows 'user' and 'admin'.
Password hashes are made with werkzeug's algorithms through hashlib, so the
tests know every password:

    db = flaskdb.FlaskDB(path, variant="newer")
    uid = db.user("alice", "alice@example.com",
                  flaskdb.scrypt_hash("alice-secret-1"))
    lot, spots = db.lot("Downtown Central Plaza", spots=5, price=25.5)
    db.reservation(spots[1], uid, "2025-07-10 09:00:00",
                   "2025-07-10 11:30:00", cost=76.5, rate=25.5,
                   status="completed")
    db.close()

Values are stored as the old backend stored them: times as naive text
("2025-07-29 15:24:58.779801"), NUMERIC as whatever Python value is given
(float, int or str: SQLite keeps each as it comes), booleans as 0/1.  Rows
the old CHECKs refuse (the inconsistencies to repair) are written with
check=False, which turns PRAGMA ignore_check_constraints on for that row.
"""

import hashlib
import os
import sqlite3

# The schema as SQLAlchemy created it; {roles} is the variant's role list.
SCHEMA = """
CREATE TABLE users (
	id INTEGER NOT NULL,
	username VARCHAR(80) NOT NULL,
	email VARCHAR(120) NOT NULL,
	password_hash VARCHAR(128) NOT NULL,
	role VARCHAR(20) NOT NULL,
	is_active BOOLEAN NOT NULL,
	phone VARCHAR(15),
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	last_login DATETIME,
	PRIMARY KEY (id),
	CONSTRAINT valid_role CHECK (role IN ({roles}))
);
CREATE INDEX ix_users_role ON users (role);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE INDEX ix_users_created_at ON users (created_at);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE TABLE parking_lots (
	id INTEGER NOT NULL,
	prime_location_name VARCHAR(100) NOT NULL,
	address TEXT NOT NULL,
	pin_code VARCHAR(10) NOT NULL,
	number_of_spots INTEGER NOT NULL,
	price NUMERIC(10, 2) NOT NULL,
	is_active BOOLEAN NOT NULL,
	description TEXT,
	operating_hours_start TIME,
	operating_hours_end TIME,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT positive_spots CHECK (number_of_spots > 0),
	CONSTRAINT non_negative_price CHECK (price >= 0)
);
CREATE INDEX ix_parking_lots_pin_code ON parking_lots (pin_code);
CREATE INDEX ix_parking_lots_created_at ON parking_lots (created_at);
CREATE INDEX ix_parking_lots_prime_location_name ON parking_lots (prime_location_name);
CREATE TABLE parking_spots (
	id INTEGER NOT NULL,
	lot_id INTEGER NOT NULL,
	spot_number INTEGER NOT NULL,
	status VARCHAR(1) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT valid_status CHECK (status IN ('A', 'O')),
	CONSTRAINT positive_spot_number CHECK (spot_number > 0),
	CONSTRAINT unique_spot_per_lot UNIQUE (lot_id, spot_number),
	FOREIGN KEY(lot_id) REFERENCES parking_lots (id)
);
CREATE INDEX ix_parking_spots_lot_id ON parking_spots (lot_id);
CREATE INDEX ix_parking_spots_status ON parking_spots (status);
CREATE INDEX ix_parking_spots_created_at ON parking_spots (created_at);
CREATE TABLE reservations (
	id INTEGER NOT NULL,
	spot_id INTEGER NOT NULL,
	user_id INTEGER NOT NULL,
	parking_timestamp DATETIME NOT NULL,
	leaving_timestamp DATETIME,
	expected_leaving_time DATETIME,
	parking_cost NUMERIC(10, 2),
	hourly_rate NUMERIC(10, 2) NOT NULL,
	vehicle_number VARCHAR(20),
	vehicle_model VARCHAR(50),
	vehicle_color VARCHAR(20),
	status VARCHAR(20) NOT NULL,
	remarks TEXT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT valid_status CHECK (status IN ('active', 'completed', 'cancelled')),
	CONSTRAINT non_negative_cost CHECK (parking_cost >= 0),
	CONSTRAINT positive_hourly_rate CHECK (hourly_rate > 0),
	CONSTRAINT valid_leaving_time CHECK (leaving_timestamp IS NULL OR leaving_timestamp > parking_timestamp),
	FOREIGN KEY(spot_id) REFERENCES parking_spots (id),
	FOREIGN KEY(user_id) REFERENCES users (id)
);
CREATE INDEX ix_reservations_status ON reservations (status);
CREATE INDEX ix_reservations_created_at ON reservations (created_at);
CREATE INDEX ix_reservations_user_id ON reservations (user_id);
CREATE INDEX ix_reservations_parking_timestamp ON reservations (parking_timestamp);
CREATE INDEX ix_reservations_spot_id ON reservations (spot_id);
CREATE INDEX ix_reservations_leaving_timestamp ON reservations (leaving_timestamp);
"""

VARIANTS = {"older": "'user'", "newer": "'user','admin'"}


def scrypt_hash(password, salt="Xb1qZt9PwLm3Ra7c", n=32768, r=8, p=1):
    """werkzeug's scrypt hash: scrypt:N:r:p$SALT$HEX, dklen 64, the salt
    used as its ASCII bytes."""
    dk = hashlib.scrypt(password.encode("utf-8"), salt=salt.encode("ascii"),
                        n=n, r=r, p=p, dklen=64,
                        maxmem=128 * r * (n + p + 2) + 1024 * 1024)
    return "scrypt:%d:%d:%d$%s$%s" % (n, r, p, salt, dk.hex())


def pbkdf2_hash(password, salt="Hn4kQe8sVw2yJd6u", iterations=260000,
                digest="sha256"):
    """werkzeug's older hash: pbkdf2:DIGEST:ITER$SALT$HEX."""
    dk = hashlib.pbkdf2_hmac(digest, password.encode("utf-8"),
                             salt.encode("ascii"), iterations)
    return "pbkdf2:%s:%d$%s$%s" % (digest, iterations, salt, dk.hex())


class FlaskDB:
    """A new old-backend database at path (an existing file is replaced).
    Each method inserts one row and returns its id; ids count from 1 in
    the order of the calls unless given."""

    def __init__(self, path, variant="newer"):
        if variant not in VARIANTS:
            raise ValueError("variant is 'older' or 'newer'")
        if os.path.exists(path):
            os.unlink(path)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.executescript(SCHEMA.format(roles=VARIANTS[variant]))

    def _insert(self, table, row, check=True):
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        if not check:
            self.db.execute("PRAGMA ignore_check_constraints = ON")
        try:
            cur = self.db.execute("INSERT INTO %s (%s) VALUES (%s)"
                                  % (table, cols, marks), list(row.values()))
        finally:
            if not check:
                self.db.execute("PRAGMA ignore_check_constraints = OFF")
        return cur.lastrowid

    def user(self, username, email, password_hash, role="user",
             is_active=True, phone=None, created_at="2025-07-01 10:00:00",
             updated_at=None, last_login=None, id=None, check=True):
        row = {"username": username, "email": email,
               "password_hash": password_hash, "role": role,
               "is_active": 1 if is_active else 0, "phone": phone,
               "created_at": created_at,
               "updated_at": updated_at or created_at,
               "last_login": last_login}
        if id is not None:
            row["id"] = id
        return self._insert("users", row, check)

    def lot(self, name, spots, price, address="1 Main Road, Test City",
            pin_code="560001", is_active=True, description=None,
            hours=(None, None), created_at="2025-06-01 09:00:00",
            spot_numbers=None, occupied=(), id=None):
        """A lot with number_of_spots = spots and spot rows spot_numbers
        (default 1..spots), those in occupied marked 'O'.  Returns (lot
        id, {spot number: spot id})."""
        row = {"prime_location_name": name, "address": address,
               "pin_code": pin_code, "number_of_spots": spots,
               "price": price, "is_active": 1 if is_active else 0,
               "description": description,
               "operating_hours_start": hours[0],
               "operating_hours_end": hours[1],
               "created_at": created_at, "updated_at": created_at}
        if id is not None:
            row["id"] = id
        lot = self._insert("parking_lots", row)
        ids = {}
        for n in (spot_numbers if spot_numbers is not None
                  else range(1, spots + 1)):
            # spots' times are utcnow in the old backend
            ids[n] = self._insert("parking_spots", {
                "lot_id": lot, "spot_number": n,
                "status": "O" if n in occupied else "A",
                "created_at": created_at, "updated_at": created_at})
        return lot, ids

    def reservation(self, spot_id, user_id, parking, leaving=None, cost=0.0,
                    rate=10.0, status="active", vehicle=None, model=None,
                    color=None, remarks="Reservation created successfully",
                    created_at=None, updated_at=None, id=None, check=True,
                    expected=None):
        row = {"spot_id": spot_id, "user_id": user_id,
               "parking_timestamp": parking, "leaving_timestamp": leaving,
               "expected_leaving_time": expected,
               "parking_cost": cost, "hourly_rate": rate,
               "vehicle_number": vehicle, "vehicle_model": model,
               "vehicle_color": color, "status": status, "remarks": remarks,
               "created_at": created_at or parking,
               "updated_at": updated_at or created_at or parking}
        if id is not None:
            row["id"] = id
        return self._insert("reservations", row, check)

    def execute(self, sql, args=()):
        """Any SQL, for damage the methods cannot make."""
        return self.db.execute(sql, args)

    def close(self):
        self.db.close()
