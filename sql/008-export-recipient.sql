-- 008-export-recipient.sql: an export's e-mail goes to the account's own
-- address only (issue #14).
--
-- Until now POST /api/user/export-csv took any "email", and the e-mail
-- with the link to the user's history went there.  Jobs still waiting
-- need nothing here: their run mails users.email (STMT_EXPORT_NEXT); their
-- stored address is made the account's for the record.  E-mails already
-- in the outbox, not yet sent, are readdressed to the account; one whose
-- job or account is gone is failed instead (its link would not open).

UPDATE export_jobs SET email = (SELECT u.email FROM users u
    WHERE u.id = export_jobs.user_id)
WHERE state = 'PENDING' OR state = 'PROGRESS';

UPDATE outbox SET to_addr = (SELECT u.email FROM export_jobs e
    JOIN users u ON u.id = e.user_id
    WHERE e.id = substr(outbox.idem_key, 8))
WHERE (state = 'queued' OR state = 'sending')
    AND substr(idem_key, 1, 7) = 'export:'
    AND EXISTS (SELECT 1 FROM export_jobs e WHERE
        e.id = substr(outbox.idem_key, 8));

UPDATE outbox SET state = 'failed',
    last_error = 'not sent: its export or account is gone (migration 008)'
WHERE (state = 'queued' OR state = 'sending')
    AND substr(idem_key, 1, 7) = 'export:'
    AND NOT EXISTS (SELECT 1 FROM export_jobs e WHERE
        e.id = substr(outbox.idem_key, 8));
