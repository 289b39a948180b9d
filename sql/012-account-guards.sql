-- 012-account-guards.sql: what the per-request check and recovery need to
-- close the outside review's findings on #15 and #20 (issue #14).
--
-- The access token a refresh replaced: it keeps working only within
-- PARKD_REFRESH_LEEWAY_S of rotated_at (a request in flight while another
-- tab refreshed), then the session check refuses it.  Sessions made before
-- this migration and never rotated have no access_jti: their one access
-- token stands until it expires (sessions.access_jti is now set at login).
ALTER TABLE sessions ADD COLUMN prev_access_jti TEXT;

-- The address an account had before its last change, and when it changed:
-- the "password changed" notice of a reset goes there too within
-- the following 7 days, so that whoever changed the
-- address with a stolen session and then reset the password is seen by
-- the owner.
ALTER TABLE users ADD COLUMN prev_email TEXT;
ALTER TABLE users ADD COLUMN email_changed_at INTEGER;
