-- 004-revenue-index.sql: the admin summary's revenue without a full scan.
--
-- "Revenue today / this month" sums the costs of the reservations completed
-- since a time (STMT_SUM_REVENUE).  No index had leaving_ts, so every
-- summary read every reservation; the summary is cached, but each booking
-- and release moves the cache generation on, so under load it is computed
-- again and again.  This partial index holds only completed reservations,
-- by leaving time, with the cost (and status, so that SQLite 3.40 can
-- answer from the index alone): the sum reads the period's rows only.
CREATE INDEX reservations_completed_leaving
    ON reservations (leaving_ts, cost_cents, status)
    WHERE status = 'completed';
