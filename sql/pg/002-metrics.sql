-- sql/pg/002-metrics.sql: SQLite's 014-metrics (issue #19): what a scrape
-- of GET /metrics reads stays bounded whatever the history kept, and the
-- no-show and revenue totals count every writer.  See sql/014-metrics.sql
-- for the why; the same index, table, columns and triggers here, the
-- triggers in PL/pgSQL with SQLite's names and WHENs.
--
-- On PostgreSQL the totals matter for more than the scrape's cost: a row
-- shared by every writer would serialise them (each holds its row lock to
-- commit), so the no-show and revenue totals are columns of the lot row the
-- same transactions already lock, and metrics_counts is only moved by the
-- batch jobs (mail, exports, cleanup).

CREATE INDEX job_runs_ok ON job_runs (job, id) WHERE status = 'ok';

CREATE TABLE metrics_counts (
	name text COLLATE "C" PRIMARY KEY,
	n bigint NOT NULL DEFAULT 0
);

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

-- One function per table and event: TG_ARGV[0] is the prefix of the names
-- ('outbox ', 'exports '); a name not in the table updates nothing.
CREATE FUNCTION metrics_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE metrics_counts SET n = n + 1 WHERE name = TG_ARGV[0] || NEW.state;
	RETURN NULL;
END
$$;
CREATE FUNCTION metrics_recounted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE metrics_counts SET n = n - 1 WHERE name = TG_ARGV[0] || OLD.state;
	UPDATE metrics_counts SET n = n + 1 WHERE name = TG_ARGV[0] || NEW.state;
	RETURN NULL;
END
$$;
CREATE FUNCTION metrics_uncounted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE metrics_counts SET n = n - 1 WHERE name = TG_ARGV[0] || OLD.state;
	RETURN NULL;
END
$$;

CREATE TRIGGER outbox_counted AFTER INSERT ON outbox
    FOR EACH ROW WHEN (NEW.state = 'sent' OR NEW.state = 'failed')
    EXECUTE FUNCTION metrics_counted('outbox ');
CREATE TRIGGER outbox_recounted AFTER UPDATE OF state ON outbox
    FOR EACH ROW WHEN (OLD.state <> NEW.state AND (OLD.state = 'sent' OR
    OLD.state = 'failed' OR NEW.state = 'sent' OR NEW.state = 'failed'))
    EXECUTE FUNCTION metrics_recounted('outbox ');
CREATE TRIGGER outbox_uncounted AFTER DELETE ON outbox
    FOR EACH ROW WHEN (OLD.state = 'sent' OR OLD.state = 'failed')
    EXECUTE FUNCTION metrics_uncounted('outbox ');

CREATE TRIGGER export_jobs_counted AFTER INSERT ON export_jobs
    FOR EACH ROW WHEN (NEW.state = 'SUCCESS' OR NEW.state = 'FAILURE')
    EXECUTE FUNCTION metrics_counted('exports ');
CREATE TRIGGER export_jobs_recounted AFTER UPDATE OF state ON export_jobs
    FOR EACH ROW WHEN (OLD.state <> NEW.state AND (OLD.state = 'SUCCESS' OR
    OLD.state = 'FAILURE' OR NEW.state = 'SUCCESS' OR
    NEW.state = 'FAILURE'))
    EXECUTE FUNCTION metrics_recounted('exports ');
-- Also when a user's deletion cascades to the user's exports.
CREATE TRIGGER export_jobs_uncounted AFTER DELETE ON export_jobs
    FOR EACH ROW WHEN (OLD.state = 'SUCCESS' OR OLD.state = 'FAILURE')
    EXECUTE FUNCTION metrics_uncounted('exports ');

ALTER TABLE lots ADD COLUMN no_shows_total bigint NOT NULL DEFAULT 0;
ALTER TABLE lots ADD COLUMN revenue_cents_total bigint NOT NULL DEFAULT 0;

-- A release or a no-show (by any writer): the lot's totals.
CREATE FUNCTION reservations_totals() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE lots SET
	    no_shows_total = no_shows_total + (NEW.status = 'no_show')::int,
	    revenue_cents_total = revenue_cents_total + NEW.cost_cents
	    WHERE id = NEW.lot_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER reservations_totals AFTER UPDATE OF status ON reservations
    FOR EACH ROW WHEN (OLD.status <> NEW.status AND
    (NEW.status = 'completed' OR NEW.status = 'no_show'))
    EXECUTE FUNCTION reservations_totals();
