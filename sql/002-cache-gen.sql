-- 002-cache-gen.sql: generations of cached families.
--
-- Every write that changes what a cached read shows bumps its family's
-- generation in the same transaction; cache keys carry the generation.  A
-- read after a write therefore never finds a stale entry, whatever Redis
-- missed (it may have been down or frozen during the write): the truth of
-- "what is current" lives here, not in Redis.
CREATE TABLE cache_gen (
	family TEXT PRIMARY KEY,
	gen INTEGER NOT NULL DEFAULT 0
);
-- lots: what the cached reads show: lots, spots, reservations, and the
-- users' names and counts they include (grids, dashboards)
INSERT INTO cache_gen (family, gen) VALUES ('lots', 0);
