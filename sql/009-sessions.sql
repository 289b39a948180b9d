-- 009-sessions.sql: what a session needs to answer a repeated refresh.
--
-- Two browser tabs, or one retry after a lost answer, refresh with the
-- same refresh token at once.  The first rotates it; the second used to be
-- taken for reuse, which revoked the session and logged the user out
-- (with the first tab's new tokens).  Now the row keeps the token it
-- replaced (prev_jti) and the claims of the pair it issued (access_jti,
-- rotated_at as their iat and nbf, refresh_exp): the predecessor presented
-- again within PARKD_REFRESH_LEEWAY_S of rotated_at gets that same pair,
-- signed again (HS256 of the same claims is the same token).  Past the
-- leeway, or for any older token, reuse ends the session as before.
ALTER TABLE sessions ADD COLUMN prev_jti TEXT;
ALTER TABLE sessions ADD COLUMN access_jti TEXT;
ALTER TABLE sessions ADD COLUMN rotated_at INTEGER;
ALTER TABLE sessions ADD COLUMN refresh_exp INTEGER;

-- The configured admin's credential, as a fingerprint (an HMAC under
-- JWT_SECRET_KEY of ADMIN_PASSWORD_HASH, or of ADMIN_PASSWORD), on each
-- admin session: a session is valid only while the fingerprint is the
-- running configuration's, so changing the admin's password ends every
-- admin session.  Admin sessions from before this migration have none and
-- end with it (the admin logs in again).
ALTER TABLE sessions ADD COLUMN admin_fp TEXT;
