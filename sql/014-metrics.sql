-- 014-metrics.sql: what a scrape of GET /metrics reads stays bounded
-- whatever the history kept (issue #19), and the business totals count
-- what every process does (parkctl tick's no-shows included).
--
-- Before, a scrape read one index entry per row it counted: the outbox's
-- sent and failed mail and the finished exports (kept for days by
-- "parkctl cleanup"), and, for each job's last good run, every failed run
-- newer than it (job_runs_job backwards: 90 days of a minutely job failing
-- were 129,600 rows, ~60 ms a scrape; bench/RESULTS.md).  Now:
--
--   job_runs_ok: the good runs only: a job's last one is one seek and one
--     row read, however many runs failed since.
--   metrics_counts: one row per state that accumulates history ('outbox
--     sent', 'outbox failed', 'exports SUCCESS', 'exports FAILURE'), its n
--     the rows of outbox or export_jobs in that state now, kept by the
--     triggers below on insert, change of state and delete.  The live
--     states (queued, sending, PENDING, PROGRESS) are still counted on
--     their state indexes at the scrape: they are the queue's depth, which
--     the jobs drain, not its history.  Only the batch jobs move rows into
--     or out of these states (mail, exports, cleanup), so the hot paths
--     (a booking, a release) never touch this table.
--   lots.no_shows_total, lots.revenue_cents_total: counters on the lot's
--     row, never decreased: reservations that became no-shows, and the
--     cost_cents charged by rows becoming completed (a release) or no_show
--     (a no-show's charge), whichever process wrote them (a worker, parkctl
--     tick, an admin).  On the lot row, not in metrics_counts, because the
--     transactions that move them already update that row (its occupied
--     count): on PostgreSQL one row per lot for all writers would serialise
--     every release of every lot.  A scrape sums them over every lot,
--     deleted ones included (lots are few).  Counted from this migration
--     on: existing rows were charged before and are not counted again.

CREATE INDEX job_runs_ok ON job_runs (job, id) WHERE status = 'ok';

CREATE TABLE metrics_counts (
	name TEXT PRIMARY KEY,
	n INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO metrics_counts (name, n)
    SELECT 'outbox sent', count(*) FROM outbox WHERE state = 'sent';
INSERT INTO metrics_counts (name, n)
    SELECT 'outbox failed', count(*) FROM outbox WHERE state = 'failed';
INSERT INTO metrics_counts (name, n)
    SELECT 'exports SUCCESS', count(*) FROM export_jobs
    WHERE state = 'SUCCESS';
INSERT INTO metrics_counts (name, n)
    SELECT 'exports FAILURE', count(*) FROM export_jobs
    WHERE state = 'FAILURE';

-- A name not in the table (a live state) updates nothing: one seek.
CREATE TRIGGER outbox_counted AFTER INSERT ON outbox
WHEN NEW.state = 'sent' OR NEW.state = 'failed'
BEGIN
	UPDATE metrics_counts SET n = n + 1 WHERE name = 'outbox ' || NEW.state;
END;

CREATE TRIGGER outbox_recounted AFTER UPDATE OF state ON outbox
WHEN OLD.state <> NEW.state AND (OLD.state = 'sent' OR
    OLD.state = 'failed' OR NEW.state = 'sent' OR NEW.state = 'failed')
BEGIN
	UPDATE metrics_counts SET n = n - 1 WHERE name = 'outbox ' || OLD.state;
	UPDATE metrics_counts SET n = n + 1 WHERE name = 'outbox ' || NEW.state;
END;

CREATE TRIGGER outbox_uncounted AFTER DELETE ON outbox
WHEN OLD.state = 'sent' OR OLD.state = 'failed'
BEGIN
	UPDATE metrics_counts SET n = n - 1 WHERE name = 'outbox ' || OLD.state;
END;

CREATE TRIGGER export_jobs_counted AFTER INSERT ON export_jobs
WHEN NEW.state = 'SUCCESS' OR NEW.state = 'FAILURE'
BEGIN
	UPDATE metrics_counts SET n = n + 1
	    WHERE name = 'exports ' || NEW.state;
END;

CREATE TRIGGER export_jobs_recounted AFTER UPDATE OF state ON export_jobs
WHEN OLD.state <> NEW.state AND (OLD.state = 'SUCCESS' OR
    OLD.state = 'FAILURE' OR NEW.state = 'SUCCESS' OR
    NEW.state = 'FAILURE')
BEGIN
	UPDATE metrics_counts SET n = n - 1
	    WHERE name = 'exports ' || OLD.state;
	UPDATE metrics_counts SET n = n + 1
	    WHERE name = 'exports ' || NEW.state;
END;

-- Also when a user's deletion cascades to the user's exports.
CREATE TRIGGER export_jobs_uncounted AFTER DELETE ON export_jobs
WHEN OLD.state = 'SUCCESS' OR OLD.state = 'FAILURE'
BEGIN
	UPDATE metrics_counts SET n = n - 1
	    WHERE name = 'exports ' || OLD.state;
END;

ALTER TABLE lots ADD COLUMN no_shows_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lots ADD COLUMN revenue_cents_total INTEGER NOT NULL DEFAULT 0;

-- A release or a no-show (by any writer): the lot's totals.  cost_cents is
-- never NULL in these statuses (the table's CHECK).
CREATE TRIGGER reservations_totals AFTER UPDATE OF status ON reservations
WHEN OLD.status <> NEW.status AND (NEW.status = 'completed' OR
    NEW.status = 'no_show')
BEGIN
	UPDATE lots SET
	    no_shows_total = no_shows_total + (NEW.status = 'no_show'),
	    revenue_cents_total = revenue_cents_total + NEW.cost_cents
	    WHERE id = NEW.lot_id;
END;
