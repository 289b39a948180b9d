-- 012-account-guards.sql: what the per-request check and recovery need to
-- close the outside review's findings on #15 and #20 (issue #14).
--
-- The access token a refresh replaced: it keeps working only within
-- PARKD_REFRESH_LEEWAY_S of rotated_at (a request in flight while another
-- tab refreshed), then the session check refuses it.  Sessions made before
-- this migration and never rotated have no access_jti: their one access
-- token stands until it expires (sessions.access_jti is now set at login).
ALTER TABLE sessions ADD COLUMN prev_access_jti TEXT;

