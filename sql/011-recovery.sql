-- 011-recovery.sql: account recovery and e-mail verification (issue #20,
-- api-contract.md section 6).
--
-- Users from before this migration (and imported ones) count as unverified:
-- nothing proves their address was ever theirs.  Login is unaffected unless
-- REQUIRE_EMAIL_VERIFICATION is on; a password reset by e-mail proves the
-- address too, so with the setting on such a user gets in through "Forgot
-- password?".  ADD COLUMN with a constant default rewrites no row.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0
    CHECK (email_verified = 0 OR email_verified = 1);

-- The single-use tokens of e-mailed links: a password reset or the
-- verification of an address.  Only the SHA-256 of the token (of its
-- base64url text, 64 hex digits) is stored: a copy of the database (a
-- backup) opens no account.  A token is spent by setting used_at, in the
-- transaction that acts on it, under "used_at IS NULL AND expires_at > now":
-- of two requests with one token exactly one changes the row.  email is the
-- address the link was sent to: a verification counts only while it is
-- still the account's.  "parkctl cleanup" deletes spent and expired rows.
CREATE TABLE account_tokens (
	hash TEXT PRIMARY KEY
	    CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),
	purpose TEXT NOT NULL CHECK (purpose = 'reset' OR purpose = 'verify'),
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at INTEGER
);
-- a user's unused tokens of a purpose (a new one spends the older ones)
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);
-- the cleanup
CREATE INDEX account_tokens_expires ON account_tokens (expires_at);

-- Recovery mail asked for, per address asked about (known or not), for the
-- per-address limit: an HMAC of the lower-cased address under SECRET_KEY,
-- never the address itself, so unknown addresses leave no readable trace.
CREATE TABLE recovery_requests (
	addr_hash TEXT NOT NULL CHECK (length(addr_hash) = 64),
	at INTEGER NOT NULL
);
CREATE INDEX recovery_requests_addr_at ON recovery_requests (addr_hash, at);
